//! The checks themselves, each turning what was read from the image into
//! one or more [`Check`]s.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::cmdline::{self, RootSpec};
use super::files::{part_name, EntryKind, PartFs};
use super::rules::{BlobRule, CmdlineSource, FileRef, InspectRules, Location};
use super::table::{Role, Table, TableKind};
use super::{Check, InspectError, Partition, Report};
use crate::artifact::manifest::Manifest;
use crate::disk::grub::{BLOCKLIST, CORE_SEGMENT, KERNEL_SECTOR};

/// Configuration files larger than this are not configuration files.
const CONFIG_MAX: u64 = 1024 * 1024;
const GPT_TABLE_SECTORS: u64 = 33;
/// Largest bootloader blob read from the image to compare with the disk.
const BLOB_MAX: u64 = 64 * 1024 * 1024;

struct Ctx<'a> {
    image: &'a Path,
    table: &'a Table,
    parts: &'a [Partition],
    root: Option<usize>,
}

pub(super) fn run(
    report: &mut Report,
    file: &mut File,
    image: &Path,
    table: &Table,
    rules: &InspectRules,
) -> Result<(), InspectError> {
    let parts = report.partitions.clone();
    let root = root_index(&parts);
    let cx = Ctx {
        image,
        table,
        parts: &parts,
        root,
    };
    report.push(table_check(table));
    report.push(layout_check(table));
    report.push(root_check(&cx));
    for f in &rules.required_files {
        report.push(file_check(&cx, f, None));
    }
    if let Some(cfg) = &rules.rpi_config {
        for c in rpi_config_checks(&cx, cfg) {
            report.push(c);
        }
    }
    if let Some(cfg) = &rules.extlinux {
        for c in extlinux_checks(&cx, cfg) {
            report.push(c);
        }
    }
    for c in cmdline_checks(&cx, &rules.cmdline) {
        report.push(c);
    }
    for b in &rules.blobs {
        let c = blob_check(&cx, file, b).map_err(|source| InspectError::Read {
            path: image.to_owned(),
            what: format!("the bytes of '{}'", b.name),
            source,
        })?;
        report.push(c);
    }
    if rules.grub_bios {
        let c = grub_bios_check(&cx, file).map_err(|source| InspectError::Read {
            path: image.to_owned(),
            what: "the BIOS boot partition".into(),
            source,
        })?;
        report.push(c);
    }
    Ok(())
}

/// The root filesystem: on a partition of a GPT root type, else on the
/// first partition of a Linux type, else on the first ext partition.
fn root_index(parts: &[Partition]) -> Option<usize> {
    let ext = |p: &&Partition| p.filesystem.as_ref().is_some_and(|f| f.is_ext());
    let with = |role: Option<Role>| {
        parts
            .iter()
            .position(|p| ext(&p) && role.is_none_or(|r| p.entry.role == r))
    };
    with(Some(Role::LinuxRoot))
        .or_else(|| with(Some(Role::Linux)))
        .or_else(|| with(None))
}

fn describe(p: &Partition) -> String {
    match &p.filesystem {
        Some(f) => format!("{} ({} {})", part_name(&p.entry), f.kind, f.uuid),
        None => format!("{} (no filesystem found)", part_name(&p.entry)),
    }
}

fn table_check(t: &Table) -> Check {
    let what = match t.kind {
        TableKind::Gpt => format!("GPT, disk {}", t.id),
        TableKind::Mbr => format!("MBR, signature {}", t.id),
    };
    if t.problems.is_empty() {
        Check::new(
            "table",
            true,
            format!("{what}, {} partitions", t.partitions.len()),
        )
    } else {
        Check::new("table", false, format!("{what}: {}", t.problems.join("; ")))
    }
}

fn layout_check(t: &Table) -> Check {
    let (first, end) = match t.kind {
        TableKind::Gpt => (
            (2 + 32) * 512,
            t.disk_size
                .saturating_sub(GPT_TABLE_SECTORS * t.sector_size),
        ),
        TableKind::Mbr => (t.sector_size, t.disk_size),
    };
    let mut problems = Vec::new();
    for (i, p) in t.partitions.iter().enumerate() {
        if p.start < first || p.end() > end {
            problems.push(format!(
                "{} (bytes {}..{}) lies outside the usable bytes {first}..{end}",
                part_name(p),
                p.start,
                p.end()
            ));
        }
        for q in &t.partitions[i + 1..] {
            if p.start < q.end() && q.start < p.end() {
                problems.push(format!("{} overlaps {}", part_name(p), part_name(q)));
            }
        }
    }
    if problems.is_empty() {
        Check::new(
            "layout",
            true,
            "every partition lies inside the disk, none overlap",
        )
    } else {
        Check::new("layout", false, problems.join("; "))
    }
}

fn root_check(cx: &Ctx) -> Check {
    match cx.root {
        Some(i) => Check::new("root-fs", true, describe(&cx.parts[i])),
        None => Check::new(
            "root-fs",
            false,
            "no partition holds an ext2/3/4 filesystem",
        ),
    }
}

fn locate<'a>(cx: &Ctx<'a>, loc: Location) -> Option<&'a Partition> {
    let by_role = |r: Role| cx.parts.iter().find(|p| p.entry.role == r);
    match loc {
        Location::Disk => None,
        Location::BiosBoot => by_role(Role::BiosBoot),
        Location::Esp => by_role(Role::Esp),
        Location::Boot => by_role(Role::Boot).or_else(|| by_role(Role::Esp)),
        Location::Root => cx.root.map(|i| &cx.parts[i]),
    }
}

fn part_fs<'a>(cx: &Ctx<'a>, loc: Location) -> Result<PartFs<'a>, String> {
    let p = locate(cx, loc).ok_or_else(|| format!("the image has no {} partition", loc.name()))?;
    Ok(PartFs {
        image: cx.image,
        part: &p.entry,
        fs: p.filesystem.as_ref(),
    })
}

/// A file that must exist (and not be empty), links followed.
fn file_check(cx: &Ctx, f: &FileRef, why: Option<String>) -> Check {
    let name = format!("file {f}");
    let why = why.map(|w| format!(" ({w})")).unwrap_or_default();
    let pfs = match part_fs(cx, f.location) {
        Ok(p) => p,
        Err(e) => return Check::new(name, false, format!("{e}{why}")),
    };
    let r = match pfs.resolve(&f.path) {
        Ok(r) => r,
        Err(e) => return Check::new(name, false, format!("{e}{why}")),
    };
    let via = if r.links.is_empty() {
        String::new()
    } else {
        format!(", via {}", r.links.join(", "))
    };
    match r.entry.map(|e| (e.kind, e.size)) {
        None if r.links.is_empty() => Check::new(name, false, format!("missing{why}")),
        None => Check::new(
            name,
            false,
            format!("missing: {} does not exist{via}{why}", r.path),
        ),
        Some((EntryKind::File, 0)) => Check::new(name, false, format!("is empty{via}{why}")),
        Some((EntryKind::File, size)) => Check::new(name, true, format!("{size} bytes{via}{why}")),
        Some((EntryKind::Dir, _)) => Check::new(name, true, format!("a directory{via}{why}")),
        Some((_, _)) => Check::new(
            name,
            false,
            format!(
                "{} is not a file (link loop or special file){via}{why}",
                r.path
            ),
        ),
    }
}

fn read_config(cx: &Ctx, f: &FileRef) -> Result<String, String> {
    let pfs = part_fs(cx, f.location)?;
    let bytes = pfs
        .read(&f.path, CONFIG_MAX)
        .map_err(|e| format!("cannot read {f}: {e}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn rpi_config_checks(cx: &Ctx, cfg: &FileRef) -> Vec<Check> {
    let text = match read_config(cx, cfg) {
        Ok(t) => t,
        Err(e) => return vec![Check::new("rpi-config", false, e)],
    };
    let files = cmdline::rpi_config_files(&text);
    if files.is_empty() {
        return vec![Check::new(
            "rpi-config",
            true,
            format!(
                "{} names no kernel, initramfs or device tree (firmware defaults)",
                file_name(&cfg.path)
            ),
        )];
    }
    let dir = cfg.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    files
        .iter()
        .map(|c| {
            let path = if dir.is_empty() {
                c.path.clone()
            } else {
                format!("{dir}/{}", c.path)
            };
            let why = format!("{}:{} {}", file_name(&cfg.path), c.line, c.key);
            file_check(cx, &FileRef::new(cfg.location, &path), Some(why))
        })
        .collect()
}

fn extlinux_checks(cx: &Ctx, cfg: &FileRef) -> Vec<Check> {
    let text = match read_config(cx, cfg) {
        Ok(t) => t,
        Err(e) => return vec![Check::new("extlinux", false, e)],
    };
    let files = cmdline::extlinux_files(&text);
    if !files.iter().any(|f| f.key == "kernel") {
        return vec![Check::new(
            "extlinux",
            false,
            format!("{cfg} names no kernel"),
        )];
    }
    files
        .iter()
        .map(|c| {
            let why = format!("{}:{} {}", file_name(&cfg.path), c.line, c.key);
            file_check(cx, &FileRef::new(cfg.location, &c.path), Some(why))
        })
        .collect()
}

/// Finds the numbered command lines in a configuration file's text.
type CmdlineParser = fn(&str) -> Vec<(usize, String)>;

fn cmdline_checks(cx: &Ctx, source: &CmdlineSource) -> Vec<Check> {
    let (loc, path, parse): (_, _, CmdlineParser) = match source {
        CmdlineSource::None => return Vec::new(),
        CmdlineSource::Grub { location, path } => (location, path, cmdline::grub_cmdlines),
        CmdlineSource::Text { location, path } => (location, path, cmdline::text_cmdline),
        CmdlineSource::Extlinux { location, path } => (location, path, cmdline::extlinux_cmdlines),
    };
    let f = FileRef::new(*loc, path);
    let text = match read_config(cx, &f) {
        Ok(t) => t,
        Err(e) => return vec![Check::new("cmdline", false, e)],
    };
    let short = file_name(path);
    let lines = parse(&text);
    if lines.is_empty() {
        return vec![Check::new(
            "cmdline",
            false,
            format!("{f} holds no kernel command line"),
        )];
    }
    let mut out: Vec<Check> = lines
        .iter()
        .map(|(n, line)| root_arg_check(cx, &format!("{short}:{n}"), line))
        .collect();
    if matches!(source, CmdlineSource::Grub { .. }) {
        for (n, uuid) in cmdline::grub_search_uuids(&text) {
            out.push(grub_search_check(cx, &format!("{short}:{n}"), &uuid));
        }
    }
    out
}

fn root_arg_check(cx: &Ctx, at: &str, line: &str) -> Check {
    let fail = |d: String| Check::new("cmdline", false, format!("{at}: {d}"));
    let Some(spec) = cmdline::root_arg(line) else {
        return fail("no root= on the kernel command line".into());
    };
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let found = match &spec {
        RootSpec::PartUuid(v) => cx.parts.iter().position(|p| eq(&p.entry.part_uuid, v)),
        RootSpec::Uuid(v) => cx
            .parts
            .iter()
            .position(|p| p.filesystem.as_ref().is_some_and(|f| eq(&f.uuid, v))),
        RootSpec::Label(v) => cx.parts.iter().position(|p| {
            p.filesystem.as_ref().and_then(|f| f.label.as_deref()) == Some(v.as_str())
        }),
        RootSpec::PartLabel(v) => cx
            .parts
            .iter()
            .position(|p| p.entry.name.as_deref() == Some(v.as_str())),
        RootSpec::Device {
            number: Some(n), ..
        } => cx.parts.iter().position(|p| p.entry.number == *n),
        RootSpec::Device { number: None, .. } | RootSpec::Other(_) => {
            return fail(format!("root={spec} cannot be checked against the image"));
        }
    };
    let Some(i) = found else {
        return fail(format!("root={spec} names no partition of this image"));
    };
    let assuming = match spec {
        RootSpec::Device { .. } => " if the image is that disk",
        _ => "",
    };
    match cx.root {
        Some(r) if r == i => Check::new(
            "cmdline",
            true,
            format!("{at}: root={spec} is {}{assuming}", describe(&cx.parts[i])),
        ),
        Some(r) => fail(format!(
            "root={spec} is {}, but the root filesystem is on {}",
            describe(&cx.parts[i]),
            part_name(&cx.parts[r].entry)
        )),
        None => fail(format!(
            "root={spec} is {}, which holds no ext filesystem",
            describe(&cx.parts[i])
        )),
    }
}

fn grub_search_check(cx: &Ctx, at: &str, uuid: &str) -> Check {
    let root_fs = cx
        .root
        .and_then(|r| cx.parts[r].filesystem.as_ref().map(|f| (r, f)));
    match root_fs {
        Some((r, f)) if f.uuid.eq_ignore_ascii_case(uuid) => Check::new(
            "grub-search",
            true,
            format!(
                "{at}: --fs-uuid {uuid} finds the root filesystem on {}",
                part_name(&cx.parts[r].entry)
            ),
        ),
        Some((_, f)) => {
            let other = cx
                .parts
                .iter()
                .find(|p| {
                    p.filesystem
                        .as_ref()
                        .is_some_and(|g| g.uuid.eq_ignore_ascii_case(uuid))
                })
                .map(|p| format!(" ({} has it)", part_name(&p.entry)))
                .unwrap_or_else(|| " (no filesystem of the image has it)".into());
            Check::new(
                "grub-search",
                false,
                format!(
                    "{at}: --fs-uuid {uuid}, but the root filesystem is {}{other}",
                    f.uuid
                ),
            )
        }
        None => Check::new(
            "grub-search",
            false,
            format!("{at}: --fs-uuid {uuid}, but the image has no root filesystem"),
        ),
    }
}

fn blob_check(cx: &Ctx, file: &mut File, b: &BlobRule) -> io::Result<Check> {
    let name = format!("blob {}", b.name);
    // Against a file of the image: its hash and size are the expectation.
    let expected;
    let b = match &b.same_as {
        None => b,
        Some(f) => {
            let bytes = match part_fs(cx, f.location)
                .and_then(|pfs| pfs.read(&f.path, BLOB_MAX).map_err(|e| e.to_string()))
            {
                Ok(v) => v,
                Err(e) => {
                    return Ok(Check::new(
                        name,
                        false,
                        format!("cannot read {f} to compare with: {e}"),
                    ))
                }
            };
            expected = BlobRule {
                len: bytes.len() as u64,
                sha256: Some(hex::encode(Sha256::digest(&bytes))),
                same_as: None,
                ..b.clone()
            };
            &expected
        }
    };
    let (base, room, what) = if b.location == Location::Disk {
        (0, cx.table.disk_size, "the disk".to_owned())
    } else {
        match locate(cx, b.location) {
            Some(p) => (
                p.entry.start,
                p.entry
                    .size
                    .min(cx.table.disk_size.saturating_sub(p.entry.start)),
                part_name(&p.entry),
            ),
            None => {
                return Ok(Check::new(
                    name,
                    false,
                    format!("the image has no {} partition", b.location.name()),
                ))
            }
        }
    };
    let fits = b.offset.checked_add(b.len).is_some_and(|end| end <= room);
    if !fits {
        return Ok(Check::new(
            name,
            false,
            format!(
                "bytes {}..+{} lie beyond the {room} bytes of {what}",
                b.offset, b.len
            ),
        ));
    }
    file.seek(SeekFrom::Start(base + b.offset))?;
    let mut hasher = Sha256::new();
    let mut nonzero = false;
    let mut left = b.len;
    let mut buf = vec![0u8; 1024 * 1024];
    while left > 0 {
        let n = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        file.read_exact(&mut buf[..n])?;
        nonzero |= buf[..n].iter().any(|&x| x != 0);
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    let got = hex::encode(hasher.finalize());
    let at = format!("{} bytes at {} of {what}", b.len, b.offset);
    Ok(match &b.sha256 {
        Some(want) if want.eq_ignore_ascii_case(&got) => {
            Check::new(name, true, format!("{at}: sha256 matches"))
        }
        Some(want) => Check::new(name, false, format!("{at}: sha256 {got}, expected {want}")),
        None if nonzero => Check::new(name, true, format!("{at}: present (not all zeros)")),
        None => Check::new(name, false, format!("{at}: all zeros")),
    })
}

/// Where GRUB's core.img should be: the BIOS boot partition on GPT, the
/// gap between the MBR and the first partition on MBR disks.
fn core_place(cx: &Ctx) -> Result<(u64, u64, String), String> {
    let sector = cx.table.sector_size;
    if let Some(bios) = locate(cx, Location::BiosBoot) {
        let room = bios
            .entry
            .size
            .min(cx.table.disk_size.saturating_sub(bios.entry.start));
        return Ok((
            bios.entry.start / sector,
            room / sector,
            part_name(&bios.entry),
        ));
    }
    if cx.table.kind == TableKind::Gpt {
        return Err("the GPT disk has no BIOS boot partition for GRUB's core.img".into());
    }
    let first = cx
        .parts
        .iter()
        .map(|p| p.entry.start)
        .min()
        .unwrap_or(cx.table.disk_size)
        .min(cx.table.disk_size);
    Ok((
        1,
        (first / sector).saturating_sub(1),
        "the gap after the MBR".into(),
    ))
}

fn grub_bios_check(cx: &Ctx, file: &mut File) -> io::Result<Check> {
    let fail = |d: String| Ok(Check::new("grub-bios", false, d));
    let (lba, sectors, what) = match core_place(cx) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if cx.table.kind == TableKind::Mbr && !cx.parts.iter().any(|p| p.entry.bootable) {
        return fail(
            "no MBR partition is marked active; some BIOSes boot nothing without one".into(),
        );
    }
    let pointer = cx
        .table
        .boot_code
        .get(KERNEL_SECTOR..KERNEL_SECTOR + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0);
    if pointer != lba {
        return fail(format!(
            "the MBR boot code loads core.img from LBA {pointer}, but {what} starts at LBA {lba}"
        ));
    }
    if sectors < 2 {
        return fail(format!("{what} is too small to hold GRUB's core.img"));
    }
    let mut first = [0u8; 512];
    file.seek(SeekFrom::Start(lba * cx.table.sector_size))?;
    file.read_exact(&mut first)?;
    let list = &first[BLOCKLIST..BLOCKLIST + 12];
    let mut start = [0u8; 8];
    start.copy_from_slice(&list[..8]);
    let start = u64::from_le_bytes(start);
    let count = u64::from(u16::from_le_bytes([list[8], list[9]]));
    let segment = u16::from_le_bytes([list[10], list[11]]);
    if segment != CORE_SEGMENT {
        return fail(format!(
            "the first sector of {what} is not GRUB's diskboot.img (block list segment {segment:#06x}, not {CORE_SEGMENT:#06x})"
        ));
    }
    if start != lba + 1 || count == 0 || count + 1 > sectors {
        return fail(format!(
            "core.img's block list loads {count} sectors from LBA {start}; expected them from LBA {} within the {sectors} sectors of {what}",
            lba + 1
        ));
    }
    Ok(Check::new(
        "grub-bios",
        true,
        format!("MBR boot code loads core.img from LBA {lba} ({what}), which loads {count} more sectors"),
    ))
}

/// Compare the image with the manifest written next to it.
pub fn check_manifest(report: &mut Report, m: &Manifest, manifest_path: &Path) {
    let mut problems = Vec::new();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    if let Some(t) = &report.table {
        if t.disk_size != m.image.size {
            problems.push(format!(
                "the image is {} bytes, the manifest says {}",
                t.disk_size, m.image.size
            ));
        }
    }
    for mp in &m.partitions {
        let Some(p) = report
            .partitions
            .iter()
            .find(|p| p.entry.number == mp.number)
        else {
            problems.push(format!(
                "partition {} ('{}') is missing",
                mp.number, mp.label
            ));
            continue;
        };
        let mut diff = Vec::new();
        if (p.entry.start, p.entry.size) != (mp.start, mp.size) {
            diff.push(format!(
                "bytes {}+{} instead of {}+{}",
                p.entry.start, p.entry.size, mp.start, mp.size
            ));
        }
        if !eq(&p.entry.part_uuid, &mp.part_uuid) {
            diff.push(format!(
                "PARTUUID {} instead of {}",
                p.entry.part_uuid, mp.part_uuid
            ));
        }
        let fs = p.filesystem.as_ref();
        if let Some(kind) = &mp.filesystem {
            if fs.map(|f| f.kind.as_str()) != Some(kind.as_str()) {
                diff.push(format!(
                    "filesystem {} instead of {kind}",
                    fs.map(|f| f.kind.as_str()).unwrap_or("none")
                ));
            }
        }
        if let (Some(want), Some(f)) = (&mp.fs_uuid, fs) {
            if !eq(&f.uuid, want) {
                diff.push(format!("UUID {} instead of {want}", f.uuid));
            }
        }
        if !diff.is_empty() {
            problems.push(format!(
                "partition {} ('{}'): {}",
                mp.number,
                mp.label,
                diff.join(", ")
            ));
        }
    }
    let name = manifest_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    report.push(if problems.is_empty() {
        Check::new(
            "manifest",
            true,
            format!("partitions match {name} (board {})", m.board),
        )
    } else {
        Check::new(
            "manifest",
            false,
            format!("differs from {name}: {}", problems.join("; ")),
        )
    });
}
