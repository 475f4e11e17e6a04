//! `clic build`: spec -> rootfs -> layers -> bootloader -> filesystems ->
//! disk image + manifest. Each step is announced; outputs appear in the
//! output directory only when complete (written under a temporary name,
//! then renamed), and the work directory is removed on every exit path.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::artifact::manifest::{self, ImageInfo, Manifest, Package, PartitionInfo};
use crate::boxbin::{self, BoxBinError};
use crate::cmd::Cmd;
use crate::content::{self, ContentCache};
use crate::data::DataDir;
use crate::disk::ext4;
use crate::disk::image::{assemble, PartContent};
use crate::firmware::{Firmware, FirmwareError};
use crate::interrupt;
use crate::layers::{apply, portal, render::TemplateContext, steps, system, units};
use crate::loader::{self, LoaderContext};
use crate::plan::layout::{self, compute_layout, LayoutOptions, PartRole, PartitionRequest};
use crate::rootfs::{self, normalise, Cache, RootfsRequest};
use crate::spec::size::{human, MIB};
use crate::spec::Resolved;

pub struct BuildOptions {
    pub out_dir: PathBuf,
    pub cache: Cache,
    /// Build from the cache alone: no package index refresh, no download.
    pub offline: bool,
    /// Bootstrap the Debian tree again even if the cache has it.
    pub fresh: bool,
    /// Parent of the temporary work directory (default: $TMPDIR).
    pub workdir: Option<PathBuf>,
    pub source_date_epoch: i64,
    /// Where the release files will be published (`os_list.json` URLs).
    pub url_base: Option<String>,
}

pub struct BuildOutput {
    pub image: PathBuf,
    pub manifest: PathBuf,
    pub manifest_data: Manifest,
    pub steps: Vec<(String, Duration)>,
    /// `.img.bmap`, `.img.zst`, `os_list.json`, `SHA256SUMS`.
    pub release: crate::artifact::release::Published,
    /// `NAME.poster.html`, for an image with the hotspot layer.
    pub poster: Option<PathBuf>,
}

/// Free space left in the root filesystem when the profile names none.
const DEFAULT_ROOT_FREE: u64 = 256 * MIB;

/// Identifiers are derived from this, so the same spec gives the same bytes
/// and different specs different UUIDs.
pub fn seed(r: &Resolved) -> Vec<u8> {
    let mut h = Sha256::new();
    for part in [
        "clic-image-v1",
        &r.name,
        &r.board.name,
        &r.suite,
        &r.spec_sha256,
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().to_vec()
}

/// `SOURCE_DATE_EPOCH` from the environment, else the last commit that
/// touched the spec, else the spec file's modification time.
pub fn source_date_epoch(spec: &Path) -> i64 {
    if let Some(v) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return v;
    }
    let dir = spec
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(out) = Cmd::new("git")
        .args(["log", "-1", "--format=%ct", "--"])
        .arg(spec.file_name().unwrap_or_default())
        .current_dir(dir)
        .output_string()
    {
        if let Ok(v) = out.parse() {
            return v;
        }
    }
    fs::metadata(spec)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Rootfs(Box<rootfs::RootfsError>),
    #[error(transparent)]
    Apply(#[from] apply::ApplyError),
    #[error(transparent)]
    Units(#[from] units::UnitError),
    #[error(transparent)]
    System(#[from] system::SystemError),
    #[error(transparent)]
    Loader(#[from] loader::LoaderError),
    #[error(transparent)]
    Firmware(Box<FirmwareError>),
    #[error(transparent)]
    Layout(#[from] layout::LayoutError),
    #[error(transparent)]
    Disk(#[from] crate::disk::DiskError),
    #[error("{context}")]
    Cmd {
        context: String,
        #[source]
        source: crate::cmd::CmdError,
    },
    #[error("the build was interrupted; nothing was written to the output directory")]
    Interrupted,
    #[error("the built image fails its static boot check (nothing was written):\n  {0}")]
    SelfCheck(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("refusing to build: {}", .0.join("; "))]
    Unpinned(Vec<String>),
    #[error(transparent)]
    Release(Box<crate::artifact::release::ReleaseError>),
    #[error(transparent)]
    Content(Box<content::ContentError>),
    #[error(transparent)]
    BoxBin(Box<BoxBinError>),
    #[error(transparent)]
    Download(Box<crate::downloads::DownloadError>),
}

impl From<BoxBinError> for BuildError {
    fn from(e: BoxBinError) -> BuildError {
        if e.is_interrupted() {
            BuildError::Interrupted
        } else {
            BuildError::BoxBin(Box::new(e))
        }
    }
}

impl From<content::ContentError> for BuildError {
    fn from(e: content::ContentError) -> BuildError {
        match e {
            content::ContentError::Interrupted => BuildError::Interrupted,
            e => BuildError::Content(Box::new(e)),
        }
    }
}

impl From<crate::artifact::release::ReleaseError> for BuildError {
    fn from(e: crate::artifact::release::ReleaseError) -> BuildError {
        match e {
            crate::artifact::release::ReleaseError::Interrupted => BuildError::Interrupted,
            e => BuildError::Release(Box::new(e)),
        }
    }
}

impl From<rootfs::RootfsError> for BuildError {
    fn from(e: rootfs::RootfsError) -> BuildError {
        BuildError::Rootfs(Box::new(e))
    }
}

impl From<FirmwareError> for BuildError {
    fn from(e: FirmwareError) -> BuildError {
        BuildError::Firmware(Box::new(e))
    }
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
    let context = context.into();
    move |source| BuildError::Io { context, source }
}

fn check_interrupt() -> Result<(), BuildError> {
    interrupt::check().map_err(|_| BuildError::Interrupted)
}

struct Steps {
    total: usize,
    n: usize,
    started: Instant,
    current: Option<(String, Instant)>,
    done: Vec<(String, Duration)>,
    /// The running step's spinner (on a terminal).
    spinner: Option<crate::ui::Stage>,
}

impl Steps {
    fn new(total: usize) -> Steps {
        Steps {
            total,
            n: 0,
            started: Instant::now(),
            current: None,
            done: Vec::new(),
            spinner: None,
        }
    }
    fn start(&mut self, name: &str, detail: &str) {
        self.finish();
        self.n += 1;
        crate::say!("==> [{}/{}] {name}: {detail}", self.n, self.total);
        self.current = Some((name.to_owned(), Instant::now()));
        self.spinner = Some(crate::ui::Stage::start(&format!(
            "[{}/{}] {name}",
            self.n, self.total
        )));
    }
    fn finish(&mut self) {
        self.spinner = None;
        if let Some((name, t)) = self.current.take() {
            self.done.push((name, t.elapsed()));
        }
    }
}

/// What the Debian tree of a resolved spec is made of (pure).
pub fn rootfs_request(r: &Resolved, epoch: i64) -> RootfsRequest {
    let profile = &r.board.profile;
    RootfsRequest {
        arch: profile.arch.clone(),
        suite: r.suite.clone(),
        mirror: r.mirror.clone(),
        components: profile.components.clone(),
        packages: r.packages.clone(),
        extra_packages: r.extra_packages.clone(),
        source_date_epoch: epoch,
        initramfs_modules: profile.initramfs_modules.clone(),
        extra: crate::spec::apt::repos(&r.layers),
        firmware_exclude: profile.firmware_exclude.clone(),
    }
}

/// Extra apt repositories are used only with a pinned key.
fn refuse_unpinned(r: &Resolved) -> Result<(), BuildError> {
    let unpinned = crate::spec::apt::unpinned(&r.layers);
    if unpinned.is_empty() {
        Ok(())
    } else {
        Err(BuildError::Unpinned(unpinned))
    }
}

/// A new work directory (removed when dropped) in `--workdir` or $TMPDIR.
fn work_dir(opts: &BuildOptions, prefix: &str) -> Result<tempfile::TempDir, BuildError> {
    let parent = opts.workdir.clone().unwrap_or_else(std::env::temp_dir);
    fs::create_dir_all(&parent).map_err(io(format!("creating {}", parent.display())))?;
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&parent)
        .map_err(io(format!(
            "creating a work directory in {}",
            parent.display()
        )))
}

/// `clic build --tree-only`: the shared Debian tree of the spec's
/// architecture made (or found) in the tree cache, nothing else: a release
/// pipeline's tree job, before the board jobs that start from it. Returns
/// the kept tree's path.
pub fn shared_tree(r: &Resolved, opts: &BuildOptions) -> Result<PathBuf, BuildError> {
    refuse_unpinned(r)?;
    let work = work_dir(opts, "clic-tree-")?;
    let req = rootfs_request(r, opts.source_date_epoch);
    let origin = rootfs::bootstrap(
        &req,
        &opts.cache,
        opts.offline,
        opts.fresh,
        &work.path().join("root"),
        rootfs::Until::SharedTree,
    )?;
    let key = match &origin {
        rootfs::Origin::Cached { key } | rootfs::Origin::Bootstrapped { key } => key,
    };
    let file = rootfs::shared_tree_file(&req, &opts.cache, key);
    if !file.is_file() {
        return Err(BuildError::Internal(format!(
            "the shared tree could not be kept in the cache ({})",
            file.display()
        )));
    }
    Ok(file)
}

pub fn build(r: &Resolved, data: &DataDir, opts: &BuildOptions) -> Result<BuildOutput, BuildError> {
    let profile = &r.board.profile;
    let seed = seed(r);
    let epoch = opts.source_date_epoch;
    let bootloader = loader::by_name(&profile.boot.loader)?;
    refuse_unpinned(r)?;
    // Firmware the board needs, checked (and fetched) before any work.
    let fetching = crate::ui::Stage::start("firmware and content");
    let firmware = load_firmware(&profile.boot, &data.root, &opts.cache.dir, opts.offline)?;
    // Content: everything in the cache and verified before any work
    // (offline, a missing item stops here, listed with its size).
    let content_cache = ContentCache::locate(&opts.cache.dir);
    content_cache.ensure(&r.content, opts.offline)?;
    // The layers' pinned downloads, the same way.
    let download_cache = crate::downloads::DownloadCache::locate(&opts.cache.dir);
    download_cache
        .ensure(&r.layers, opts.offline)
        .map_err(|e| BuildError::Download(Box::new(e)))?;
    check_interrupt()?;
    drop(fetching);
    let on_data = content::catalogue::on_data(
        &r.content,
        data_partition(r).and_then(|p| p.large_pack).map(|s| s.0),
    );
    let data_probe = on_data.iter().any(|d| *d).then_some(MIB);
    // Box binaries: cargo, the target and its linker are there before any
    // work; they are built alongside the Debian tree.
    let box_plan = boxbin::preflight(&r.layers, &profile.arch, &opts.cache.dir, opts.offline)?;
    fs::create_dir_all(&opts.out_dir).map_err(io(format!(
        "creating output directory {}",
        opts.out_dir.display()
    )))?;
    // From here on, everything said and every command's whole output also
    // goes to the build log (in the cache), whatever the verbosity.
    let log = crate::ui::BuildLog::start(crate::ui::build_log_path(
        &opts.cache.dir,
        &r.name,
        &r.board.name,
    ));
    if let Some(l) = &log {
        crate::say!("clic: full log of this build: {}", l.path().display());
    }
    let work = work_dir(opts, "clic-build-")?;
    let root = work.path().join("root");
    let mut steps = Steps::new(6);

    // Identifiers, known before the layout is final.
    let root_fs_uuid = layout::seeded_uuid(&seed, "root-fs");
    let root_hash_seed = layout::seeded_uuid(&seed, "root-fs-hash-seed");
    let requests_probe = partition_requests(r, 0, data_probe);
    let probe = compute_layout(
        profile.disk.table,
        &profile.arch,
        &requests_probe,
        &layout_options(r),
        &seed,
    )?;
    let root_partuuid = probe
        .by_role(PartRole::Root)
        .map(|p| p.part_uuid.clone())
        .ok_or_else(|| BuildError::Internal("layout has no root partition".into()))?;

    // 1. Debian tree.
    steps.start(
        "rootfs",
        &format!(
            "mmdebstrap {} {} ({} packages requested{})",
            r.suite,
            profile.arch,
            r.packages.len() + r.extra_packages.len(),
            if opts.offline { ", offline" } else { "" }
        ),
    );
    let req = rootfs_request(r, epoch);
    if let Some(p) = &box_plan {
        let bins: Vec<&str> = p.binaries.iter().map(|b| b.bin.as_str()).collect();
        crate::say!(
            "clic: box binaries: building {} for {} ({}{}) alongside",
            bins.join(", "),
            p.arch,
            p.target.target,
            match p.std {
                boxbin::Std::Prebuilt => "",
                boxbin::Std::FromSource => ", std from rust-src",
            }
        );
    }
    // The tree (cached without the binaries) and the binaries, at once.
    let (origin, box_built) = std::thread::scope(|s| {
        let cargo = box_plan.as_ref().map(|p| s.spawn(|| boxbin::build(p)));
        let origin = rootfs::bootstrap(
            &req,
            &opts.cache,
            opts.offline,
            opts.fresh,
            &root,
            rootfs::Until::BoardTree,
        );
        let built = cargo.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        (origin, built)
    });
    let origin = origin?;
    let box_built = box_built.transpose()?.unwrap_or_default();
    for b in &box_built {
        crate::say!(
            "clic: box binary {} for {} built in {:.1} s",
            b.binary.bin,
            b.target,
            b.took.as_secs_f64()
        );
    }
    if let rootfs::Origin::Bootstrapped { key } = &origin {
        crate::say!("clic: Debian tree bootstrapped and kept for later builds ({key})");
    }
    check_interrupt()?;

    // 2. Layers, overlays, system files, units.
    steps.start(
        "layers",
        &r.layers
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    );
    let ctx = template_context(r, epoch);
    if !ctx.portal.tiles.is_empty() {
        let tiles: Vec<String> = portal::tile_layers(&ctx.portal)
            .iter()
            .map(|(l, link)| format!("{l} {link}"))
            .collect();
        crate::say!("clic: portal tiles: {}", tiles.join(", "));
    }
    let mut downloads = Vec::new();
    for l in &r.layers {
        if let Some(tree) = l.root() {
            apply::apply_tree(&tree, &root, &ctx)?;
        }
        // A layer's downloads right after its tree.
        let scratch = work.path().join("downloads");
        downloads.extend(
            crate::downloads::install(&download_cache, l, &root, &scratch, epoch)
                .map_err(|e| BuildError::Download(Box::new(e)))?,
        );
    }
    // Layers' binaries after their trees, before the spec's overlays.
    let binaries = boxbin::install(&box_built, &root, epoch)?;
    for o in &r.overlays {
        apply::apply_tree(o, &root, &ctx)?;
    }
    write_settings_json(r, &root)?;
    let data_tree = work.path().join("data");
    let stage_started = Instant::now();
    let staged = content::stage::stage(
        &r.content,
        &on_data,
        &content_cache,
        &content::stage::Target {
            root: &root,
            data_tree: &data_tree,
            templates: &data.overlays().join("portal/library"),
            epoch,
        },
        &ctx,
    )?;
    if staged.files > 0 {
        let secs = stage_started.elapsed().as_secs_f64();
        crate::say!(
            "clic: content: {} files, {} ({} on the data partition), verified and linked from the cache in {secs:.1} s ({:.0} MB/s)",
            staged.files,
            human(staged.bytes),
            human(staged.data_bytes),
            staged.bytes as f64 / 1e6 / secs.max(1e-3)
        );
    }
    let data_fs_uuid = layout::seeded_uuid(&seed, "data-fs");
    for l in &r.layers {
        for u in &l.def.enable {
            units::enable(&root, u)?;
        }
        for u in &l.def.mask {
            units::mask(&root, u)?;
        }
    }
    steps::install(&root, &ctx.firstboot_steps)?;
    let fat_volume_ids = fat_volume_ids(r, &seed);
    system::apply(
        &root,
        &r.hostname,
        &r.locale,
        &r.timezone,
        &fstab_entries(
            r,
            &root_fs_uuid.to_string(),
            &fat_volume_ids,
            data_probe.map(|_| data_fs_uuid.to_string()),
        ),
    )?;
    if root.join("etc/locale.gen").is_file() {
        Cmd::new("chroot")
            .arg(&root)
            .arg("locale-gen")
            .run()
            .map_err(|source| BuildError::Cmd {
                context: format!("generating locale {}", r.locale),
                source,
            })?;
    }
    check_interrupt()?;

    // 3. Bootloader.
    steps.start("bootloader", &profile.boot.loader);
    let lctx = LoaderContext {
        name: &r.name,
        arch: profile.arch.clone(),
        boot: &profile.boot,
        root_partuuid: &root_partuuid,
        root_fs_uuid: &root_fs_uuid.to_string(),
        templates: data
            .root
            .join("profiles/loaders")
            .join(&profile.boot.loader),
        firmware: &firmware,
        scratch: work.path().to_owned(),
    };
    let prepared = bootloader.prepare(&root, &lctx)?;
    let packages: Vec<Package> = rootfs::installed_packages(&root)?
        .iter()
        .map(Package::from)
        .collect();
    normalise::normalise(&root).map_err(io("cleaning the image tree"))?;
    // Nothing the layers or the bootloader ran in the tree may still run.
    rootfs::procs::check(&root).map_err(rootfs::RootfsError::from)?;
    check_interrupt()?;

    // 4. Root filesystem.
    let root_free = profile
        .disk
        .partitions
        .iter()
        .find(|p| p.role == PartRole::Root)
        .and_then(|p| p.free)
        .map_or(DEFAULT_ROOT_FREE, |s| s.0);
    let root_size =
        ext4::estimate_ext4_size(&root, root_free).map_err(io("measuring the image tree"))?;
    steps.start(
        "filesystems",
        &format!("ext4 root of {} from the tree", human(root_size)),
    );
    let tar = work.path().join("root.tar");
    ext4::tar_tree(&root, &tar, epoch)?;
    // The tree is no longer needed: free its space before making the image.
    fs::remove_dir_all(&root).map_err(io("removing the image tree"))?;
    let root_img = work.path().join("root.ext4");
    ext4::mkfs_ext4(
        &tar,
        &root_img,
        root_size,
        root_fs_uuid,
        root_hash_seed,
        "clic-root",
        epoch,
    )?;
    let _ = fs::remove_file(&tar);
    check_interrupt()?;
    // The data partition's size; its filesystem is written straight into
    // the disk image once that is assembled.
    let data_size = match data_probe {
        None => None,
        Some(_) => {
            let free = data_partition(r)
                .and_then(|p| p.free)
                .map_or(16 * MIB, |s| s.0);
            Some(
                ext4::estimate_ext4_size_no_journal(&data_tree, free)
                    .map_err(io("measuring the content for the data partition"))?,
            )
        }
    };
    let requests = partition_requests(r, root_size, data_size);
    let layout = compute_layout(
        profile.disk.table,
        &profile.arch,
        &requests,
        &layout_options(r),
        &seed,
    )?;
    let final_partuuid = layout.by_role(PartRole::Root).map(|p| p.part_uuid.as_str());
    if final_partuuid != Some(root_partuuid.as_str()) {
        return Err(BuildError::Internal(
            "root PARTUUID changed with the partition size".into(),
        ));
    }
    steps.start(
        "assemble",
        &format!("{:?} disk of {}", layout.table, human(layout.disk_size)),
    );
    let boot = bootloader.place(&prepared, &layout)?;
    let mut parts: Vec<(u32, PartContent)> = Vec::new();
    for p in &layout.partitions {
        let content = match p.role {
            PartRole::Root => PartContent::File(root_img.clone()),
            PartRole::BiosBoot => match &boot.bios_boot {
                Some(b) => PartContent::Bytes(b.clone()),
                None => continue,
            },
            PartRole::Esp | PartRole::Boot => PartContent::Fat {
                volume_id: fat_volume_ids.get(&p.label).copied().unwrap_or(0),
                label: fat_label(&p.label),
                files: prepared.fat_files.clone(),
            },
            // Written below, in place.
            PartRole::Data => continue,
        };
        parts.push((p.number, content));
    }
    let image_name = format!("{}.img", r.name);
    let image_tmp = tempfile::Builder::new()
        .prefix(&format!(".{image_name}."))
        .tempfile_in(&opts.out_dir)
        .map_err(io(format!(
            "creating a temporary image in {}",
            opts.out_dir.display()
        )))?;
    assemble(
        image_tmp.path(),
        &layout,
        &parts,
        boot.mbr_boot_code,
        &boot.raw_blobs,
        epoch,
    )?;
    check_interrupt()?;
    // The data partition, from its tree of links to the cache, straight
    // into its place in the image (no intermediate filesystem to copy).
    if let (Some(size), Some(part)) = (data_size, layout.by_role(PartRole::Data)) {
        let t = Instant::now();
        ext4::mkfs_ext4_into(
            &data_tree,
            image_tmp.path(),
            part.start,
            size,
            data_fs_uuid,
            layout::seeded_uuid(&seed, "data-fs-hash-seed"),
            "clic-data",
            epoch,
            work.path(),
        )?;
        let secs = t.elapsed().as_secs_f64();
        crate::say!(
            "clic: data partition: ext4 of {} holding {} of content in {secs:.1} s ({:.0} MB/s)",
            human(size),
            human(staged.data_bytes),
            staged.data_bytes as f64 / 1e6 / secs.max(1e-3)
        );
        fs::remove_dir_all(&data_tree).map_err(io("removing the data tree"))?;
        check_interrupt()?;
    }
    self_check(
        image_tmp.path(),
        profile,
        &crate::inspect::rules::pins_of(&firmware),
    )?;

    // 6. Release files (bmap, zstd), manifest, os_list.json, SHA256SUMS,
    // all under temporary names, then moved into place together.
    steps.start("artifacts", "bmap, zstd, checksums and manifest");
    let (size, sha256) = hash_file(image_tmp.path())?;
    let mut release = crate::artifact::release::prepare(
        image_tmp.path(),
        &image_name,
        &opts.out_dir,
        Some((size, sha256.clone())),
    )?;
    check_interrupt()?;
    let manifest_data = Manifest {
        format: manifest::FORMAT.into(),
        version: manifest::VERSION,
        name: r.name.clone(),
        description: r.description.clone(),
        board: r.board.name.clone(),
        arch: profile.arch.clone(),
        suite: r.suite.clone(),
        mirror: r.mirror.clone(),
        spec_sha256: r.spec_sha256.clone(),
        clic_version: env!("CARGO_PKG_VERSION").into(),
        source_date_epoch: epoch,
        layers: r.layers.iter().map(|l| l.name.clone()).collect(),
        image: ImageInfo {
            file: image_name.clone(),
            size,
            sha256,
        },
        partitions: layout
            .partitions
            .iter()
            .map(|p| PartitionInfo {
                number: p.number,
                role: p.role.name().to_owned(),
                label: p.label.clone(),
                start: p.start,
                size: p.size,
                part_uuid: p.part_uuid.clone(),
                filesystem: match p.role {
                    PartRole::Root | PartRole::Data => Some("ext4".into()),
                    PartRole::Esp | PartRole::Boot => Some("vfat".into()),
                    _ => None,
                },
                fs_uuid: match p.role {
                    PartRole::Root => Some(root_fs_uuid.to_string()),
                    PartRole::Data => Some(data_fs_uuid.to_string()),
                    PartRole::Esp | PartRole::Boot => {
                        fat_volume_ids.get(&p.label).map(|v| fat_uuid(*v))
                    }
                    _ => None,
                },
            })
            .collect(),
        qemu: profile.qemu.clone(),
        packages,
        artifacts: release.artifacts(),
        content: content_manifest(staged.catalogue.as_ref()),
        binaries,
        downloads,
    };
    let manifest_name = format!("{}.manifest.json", r.name);
    let manifest_path = opts.out_dir.join(&manifest_name);
    let mut manifest_tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.manifest.", r.name))
        .tempfile_in(&opts.out_dir)
        .map_err(io("creating the manifest"))?;
    std::io::Write::write_all(
        &mut manifest_tmp,
        manifest::to_json(&manifest_data).as_bytes(),
    )
    .map_err(io("writing the manifest"))?;
    let poster = crate::artifact::poster::render(&r.settings, &r.hostname)
        .map_err(|e| BuildError::Internal(format!("making the Wi-Fi poster: {e}")))?;
    let poster = match poster {
        Some(html) => {
            let name = crate::artifact::poster::file_name(&r.name);
            release.add_file(&name, html.as_bytes())?;
            Some(opts.out_dir.join(name))
        }
        None => None,
    };
    let image_path = opts.out_dir.join(&image_name);
    let os_list =
        (!profile.imager_devices.is_empty()).then(|| crate::artifact::release::OsListSource {
            description: r.description.clone(),
            board_description: profile.description.clone(),
            devices: profile.imager_devices.clone(),
            source_date_epoch: epoch,
            url_base: opts.url_base.clone(),
        });
    let release = release.publish(
        Some(image_tmp),
        Some((manifest_tmp, manifest_name)),
        os_list.as_ref(),
    )?;
    steps.finish();
    let total = steps.started.elapsed();
    crate::say!(
        "==> built {} ({}, {} packages) in {:.0} s",
        image_path.display(),
        human(size),
        manifest_data.packages.len(),
        total.as_secs_f64()
    );
    let times: Vec<String> = steps
        .done
        .iter()
        .map(|(n, d)| format!("{n} {:.1} s", d.as_secs_f64()))
        .collect();
    crate::say!("==> steps: {}", times.join(", "));
    Ok(BuildOutput {
        image: image_path,
        manifest: manifest_path,
        manifest_data,
        steps: steps.done,
        release,
        poster,
    })
}

/// Load and verify every firmware manifest the board's blobs name, and
/// run the `[build]` recipes whose outputs are not cached yet.
pub fn load_firmware(
    boot: &crate::spec::profile::BootConfig,
    data_root: &Path,
    cache: &Path,
    offline: bool,
) -> Result<BTreeMap<String, Firmware>, BuildError> {
    let firmware = crate::firmware::load_for_board(boot, data_root, cache)?;
    for fw in firmware.values() {
        fw.ensure(offline)?;
    }
    // Only once every pinned file is there: a missing one is refused
    // before minutes of compiling.
    for fw in firmware.values() {
        fw.build()?;
    }
    Ok(firmware)
}

/// The static boot check (`clic inspect`) on the finished image, before it
/// is moved into place: an image that could not boot is never published.
fn self_check(
    image: &Path,
    profile: &crate::spec::profile::Profile,
    pins: &BTreeMap<String, crate::firmware::Manifest>,
) -> Result<(), BuildError> {
    let Some(rules) = crate::inspect::InspectRules::for_profile(profile, pins) else {
        crate::warning!("no static boot check for loader `{}`", profile.boot.loader);
        return Ok(());
    };
    let report = crate::inspect::inspect(image, &rules)
        .map_err(|e| BuildError::Internal(format!("inspecting the built image: {e}")))?;
    let failures: Vec<String> = report
        .failures()
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    if failures.is_empty() {
        crate::say!(
            "clic: static boot check passed ({} checks)",
            report.checks.len()
        );
        Ok(())
    } else {
        Err(BuildError::SelfCheck(failures.join("\n  ")))
    }
}

fn layout_options(r: &Resolved) -> LayoutOptions {
    LayoutOptions {
        round_disk_to: r.board.profile.disk.round,
        reserved_before: r.board.profile.disk.reserved.map(|s| s.0),
        ..LayoutOptions::default()
    }
}

/// The partitions to make: the profile's, the data partition only when
/// content goes there (`data_size`).
fn partition_requests(
    r: &Resolved,
    root_size: u64,
    data_size: Option<u64>,
) -> Vec<PartitionRequest> {
    r.board
        .profile
        .disk
        .partitions
        .iter()
        .filter(|p| p.role != PartRole::Data || data_size.is_some())
        .map(|p| PartitionRequest {
            role: p.role,
            label: p.label.clone(),
            size: match p.role {
                PartRole::Root => root_size.max(MIB),
                PartRole::Data => data_size.unwrap_or(MIB).max(MIB),
                _ => p.size.map_or(MIB, |s| s.0),
            },
            bootable: p.bootable,
        })
        .collect()
}

/// The board's data partition, if it has one.
fn data_partition(r: &Resolved) -> Option<&crate::spec::profile::PartitionConfig> {
    r.board
        .profile
        .disk
        .partitions
        .iter()
        .find(|p| p.role == PartRole::Data)
}

fn content_manifest(cat: Option<&content::catalogue::Catalogue>) -> Vec<manifest::ContentInfo> {
    cat.map(|c| {
        c.packs
            .iter()
            .flat_map(|p| {
                p.items.iter().map(move |i| manifest::ContentInfo {
                    pack: p.id.clone(),
                    id: i.id.clone(),
                    title: i.title.clone(),
                    kind: i.kind.clone(),
                    language: i.language.clone(),
                    licence: i.licence.clone(),
                    attribution: i.attribution.clone(),
                    size: i.size,
                    sha256: i.sha256.clone(),
                    link: i.link.clone(),
                    partition: if p.on_data { "data" } else { "root" }.into(),
                })
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Seeded volume ids of the FAT partitions, by label.
fn fat_volume_ids(r: &Resolved, seed: &[u8]) -> std::collections::BTreeMap<String, u32> {
    r.board
        .profile
        .disk
        .partitions
        .iter()
        .filter(|p| matches!(p.role, PartRole::Esp | PartRole::Boot))
        .map(|p| {
            (
                p.label.clone(),
                layout::seeded_u32(seed, &format!("fat-volume-id-{}", p.label)),
            )
        })
        .collect()
}

/// How Linux shows a FAT volume id: `ABCD-1234`.
pub fn fat_uuid(id: u32) -> String {
    format!("{:04X}-{:04X}", id >> 16, id & 0xffff)
}

/// FAT labels are at most 11 upper-case characters.
fn fat_label(label: &str) -> String {
    label
        .to_uppercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(11)
        .collect()
}

/// Mount options of the partitions besides the root. `nofail`: a box with
/// a damaged data or boot partition still boots. The device timeout: udev
/// names the partitions late on a slow or busy machine (a Pi Zero, QEMU
/// under load: 25 s after systemd starts, measured on an idle TCG guest),
/// and systemd's default of 90 s would fail the mount even though the
/// disk is there, leaving first boot without the boot partition for the
/// admin password and clic.txt. Only units ordered after the mount wait.
const WAIT_OR_GO_ON: &str = "nofail,x-systemd.device-timeout=5min";

fn fstab_entries(
    r: &Resolved,
    root_uuid: &str,
    fat_ids: &std::collections::BTreeMap<String, u32>,
    data_uuid: Option<String>,
) -> Vec<system::FstabEntry> {
    let mut v = vec![system::FstabEntry {
        spec: format!("UUID={root_uuid}"),
        mountpoint: "/".into(),
        fstype: "ext4".into(),
        options: "noatime,errors=remount-ro".into(),
        pass: 1,
    }];
    if let Some(uuid) = data_uuid {
        // Read-only: the box never writes its content (no wear on the
        // card).
        v.push(system::FstabEntry {
            spec: format!("UUID={uuid}"),
            mountpoint: content::catalogue::DATA_MOUNT.into(),
            fstype: "ext4".into(),
            options: format!("ro,noatime,{WAIT_OR_GO_ON}"),
            pass: 2,
        });
    }
    for p in &r.board.profile.disk.partitions {
        if let (Some(mount), Some(id)) = (&p.mount, fat_ids.get(&p.label)) {
            v.push(system::FstabEntry {
                spec: format!("UUID={}", fat_uuid(*id)),
                mountpoint: mount.clone(),
                fstype: "vfat".into(),
                options: format!("umask=0077,noatime,{WAIT_OR_GO_ON}"),
                pass: 2,
            });
        }
    }
    v
}

/// The image's settings schema and values for the box's own tools
/// (`clic-box settings` checks `clic.txt` with it; the admin console will
/// too); no secret values in it.
pub const SETTINGS_JSON: &str = "usr/share/clic/settings.json";

fn write_settings_json(r: &Resolved, root: &Path) -> Result<(), BuildError> {
    let s = crate::spec::settings::image_settings(r);
    let path = root.join(SETTINGS_JSON);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    }
    let mut text = serde_json::to_string_pretty(&s)
        .map_err(|e| BuildError::Internal(format!("writing the settings schema: {e}")))?;
    text.push('\n');
    std::fs::write(&path, text).map_err(io(format!("writing {}", path.display())))
}

/// What the templates of an image see (public for tests that render layers).
pub fn template_context(r: &Resolved, epoch: i64) -> TemplateContext {
    TemplateContext {
        name: r.name.clone(),
        description: r.description.clone(),
        board: r.board.name.clone(),
        arch: r.board.profile.arch.clone(),
        suite: r.suite.clone(),
        hostname: r.hostname.clone(),
        locale: r.locale.clone(),
        timezone: r.timezone.clone(),
        layers: r.layers.iter().map(|l| l.name.clone()).collect(),
        settings: r.settings.clone(),
        clic_version: env!("CARGO_PKG_VERSION").into(),
        source_date_epoch: epoch,
        build_date: portal::date(epoch),
        portal: portal::Portal {
            content: portal::content_items(&r.content),
            ..portal::portal(&r.layers)
        },
        firstboot_steps: steps::steps(&r.layers),
        firewall: crate::spec::ports::open_ports(
            r.layers
                .iter()
                .map(|l| (l.name.as_str(), l.def.ports.as_slice())),
            &r.settings,
        ),
    }
}

/// Size and sha256 of a file, reading it once.
pub fn hash_file(path: &Path) -> Result<(u64, String), BuildError> {
    crate::artifact::sums::sha256_file(path).map_err(io(format!("reading {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fat_uuid_format() {
        assert_eq!(fat_uuid(0x1234abcd), "1234-ABCD");
        assert_eq!(fat_uuid(0xf), "0000-000F");
    }

    #[test]
    fn the_image_settings_carry_every_value_but_secrets() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let data = crate::data::DataDir { root: repo.clone() };
        let opts = crate::spec::resolve::Options {
            data: &data,
            board_override: None,
        };
        let mut r = crate::spec::resolve::resolve(&repo.join("specs/clic-ordinosaure.toml"), &opts)
            .expect("the default spec resolves");
        if let Some(h) = r.settings.get_mut("hotspot") {
            h.insert("passphrase".into(), "pain-au-levain-42".into());
        }
        let s = crate::spec::settings::image_settings(&r);
        let hotspot = &s.values["hotspot"];
        assert!(!hotspot.contains_key("passphrase"), "{hotspot:?}");
        assert_eq!(hotspot["ssid"], clic_settings::Value::String("CLIC".into()));
        assert!(s.layers["hotspot"].settings["passphrase"].secret);
        assert_eq!(
            s.values["system"]["timezone"],
            clic_settings::Value::String("Europe/Paris".into())
        );
    }

    #[test]
    fn partitions_besides_the_root_wait_for_their_device_then_go_on() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let data = crate::data::DataDir { root: repo.clone() };
        let opts = crate::spec::resolve::Options {
            data: &data,
            board_override: None,
        };
        let r = crate::spec::resolve::resolve(&repo.join("specs/clic-ordinosaure.toml"), &opts)
            .expect("the default spec resolves");
        let fat = std::collections::BTreeMap::from([("esp".to_string(), 0x12ab_34cd)]);
        let v = fstab_entries(&r, "root-uuid", &fat, Some("data-uuid".into()));
        let lines: Vec<String> = v
            .iter()
            .map(|e| format!("{} {} {} {}", e.spec, e.mountpoint, e.fstype, e.options))
            .collect();
        assert_eq!(
            lines,
            [
                "UUID=root-uuid / ext4 noatime,errors=remount-ro",
                "UUID=data-uuid /srv/clic/data ext4 ro,noatime,nofail,x-systemd.device-timeout=5min",
                "UUID=12AB-34CD /boot/efi vfat umask=0077,noatime,nofail,x-systemd.device-timeout=5min",
            ]
        );
    }

    #[test]
    fn fat_labels() {
        assert_eq!(fat_label("esp"), "ESP");
        assert_eq!(fat_label("clic boot partition"), "CLICBOOTPAR");
    }
}
