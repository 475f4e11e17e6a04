//! Odroid boards (u-boot): build (the default spec; the XU4 a small one,
//! see `spec`), pass the static
//! boot check (extlinux.conf, kernel, initrd, device tree, and every
//! bootloader blob at its sector), catch a damaged blob, and boot the
//! image's own kernel and root filesystem under QEMU's virt machine.
//!
//! The vendor blobs (Samsung BL1/BL2/TrustZone, Amlogic FIP) come from
//! GitHub, which CI cannot reach. When they are not in the cache, the test
//! builds with stand-ins: a copy of the board profiles whose blobs name a
//! test manifest pinning locally made files of the same sizes (and, for
//! the Amlogic FIP, a `[combine]` that prefixes Debian's u-boot with a
//! header instead of running Amlogic's signing tool). Everything else —
//! Debian's u-boot from the image (N2) or compiled from Debian's source
//! (C4, from deb.debian.org, which CI reaches), sector placement, the
//! check — is real. The test says which it used.
//!
//! Run by `make test-boards` (about 40 minutes of a `make test` lane on 2
//! cores: the Amlogic u-boot from source, the armhf tree; more than `make
//! test` can give); the layouts' rules are unit tests of the builder
//! (builder/src/disk/image_tests.rs).

mod common;

use std::path::{Path, PathBuf};

use common::{clic_data as clic, repo};

fn work() -> PathBuf {
    common::work_dir("clic-odroid-tests")
}

fn cache() -> PathBuf {
    clic::rootfs::Cache::locate(None).dir
}

/// Deterministic filler bytes standing in for a vendor blob.
fn filler(seed: &str, len: u64) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::with_capacity(len as usize);
    let mut block = Sha256::digest(seed.as_bytes()).to_vec();
    while (out.len() as u64) < len {
        out.extend_from_slice(&block);
        block = Sha256::digest(&block).to_vec();
    }
    out.truncate(len as usize);
    out
}

/// The data directory to build `board` with: the repository when the
/// board's real firmware is in the cache, else a copy whose profile names
/// stand-in firmware (see the module comment). Returns it and whether the
/// firmware is real.
fn data_for(board: &str, manifest: &str) -> (PathBuf, bool) {
    let repo = repo();
    let real = clic::firmware::load(&repo, manifest, &cache())
        .and_then(|fw| fw.ensure(true))
        .is_ok();
    if real {
        eprintln!("{board}: real vendor firmware from the cache");
        return (repo, true);
    }
    eprintln!("{board}: vendor firmware not in the cache (CI cannot fetch it): stand-ins");
    let data = work().join(format!("data-{board}"));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(data.join("firmware")).unwrap();
    std::fs::create_dir_all(data.join("profiles")).unwrap();
    std::os::unix::fs::symlink(repo.join("overlays"), data.join("overlays")).unwrap();
    // The default spec's content packs.
    std::os::unix::fs::symlink(repo.join("content"), data.join("content")).unwrap();
    std::os::unix::fs::symlink(repo.join("profiles/loaders"), data.join("profiles/loaders"))
        .unwrap();
    // The other manifests (the C4's u-boot recipe) stay the real ones.
    for e in std::fs::read_dir(repo.join("firmware")).unwrap() {
        let name = e.unwrap().file_name();
        if name != std::ffi::OsStr::new(&format!("{manifest}.toml")) {
            std::os::unix::fs::symlink(
                repo.join("firmware").join(&name),
                data.join("firmware").join(&name),
            )
            .unwrap();
        }
    }
    let standin = format!("{manifest}-standin");
    let profile = std::fs::read_to_string(repo.join(format!("profiles/{board}.toml")))
        .unwrap()
        .replace(
            &format!("firmware = \"{manifest}\""),
            &format!("firmware = \"{standin}\""),
        );
    std::fs::write(data.join(format!("profiles/{board}.toml")), profile).unwrap();
    let real_manifest: clic::firmware::Manifest = toml::from_str(
        &std::fs::read_to_string(repo.join(format!("firmware/{manifest}.toml"))).unwrap(),
    )
    .unwrap();
    let dir = cache().join("firmware").join(&standin);
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::from(
        "description = \"stand-ins for the tests\"\nlicence = \"test data\"\n\
         base_url = \"http://127.0.0.1:9/none\"\n",
    );
    let mut add = |path: &str, bytes: &[u8]| {
        use sha2::{Digest, Sha256};
        std::fs::write(dir.join(path), bytes).unwrap();
        text += &format!(
            "\n[[files]]\npath = \"{path}\"\nsize = {}\nsha256 = \"{}\"\n",
            bytes.len(),
            hex::encode(Sha256::digest(bytes))
        );
    };
    if real_manifest.combine.is_some() {
        // Amlogic: a 512-byte header before the (unsigned) u-boot.
        add("header.bin", &filler("header", 512));
        text += "\n[combine]\ncommand = [\"sh\", \"-c\", \
                 \"cat header.bin {bl33} > {out}/u-boot.bin.sd.bin\"]\n\
                 inputs = [\"bl33\"]\noutputs = [\"u-boot.bin.sd.bin\"]\n";
    } else {
        for f in &real_manifest.files {
            add(&f.path, &filler(&f.path, f.size));
        }
    }
    std::fs::write(data.join(format!("firmware/{standin}.toml")), text).unwrap();
    (data, false)
}

/// The spec `board` is built from: the default one, except for the XU4,
/// the only armhf board, whose Debian tree no other test shares: the
/// small spec (base system and first boot) keeps its emulated bootstrap
/// to what the board check needs (tests/fixtures/clic-small.toml). The
/// arm64 boards share the default spec's tree with the Pi images.
fn spec(board: &str) -> (&'static str, &'static str) {
    match board {
        "odroid-xu4" => ("tests/fixtures/clic-small.toml", "clic-small"),
        _ => ("specs/clic-ordinosaure.toml", "clic-ordinosaure"),
    }
}

fn build(board: &str, manifest: &str) -> (PathBuf, PathBuf) {
    let (data, _real) = data_for(board, manifest);
    let out = work().join(board);
    let (spec, name) = spec(board);
    common::build(clic(&data), repo().join(spec), &out, &["--board", board]);
    (out.join(format!("{name}.img")), data)
}

fn inspect(img: &Path, data: &Path, board: &str) -> (bool, serde_json::Value) {
    let mut c = clic(data);
    // --board: the damaged copy has no manifest next to it.
    c.arg("inspect").arg(img).args(["--json", "--board", board]);
    let out = c.output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "inspect output: {e}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

fn checks_named<'a>(report: &'a serde_json::Value, prefix: &str) -> Vec<&'a serde_json::Value> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"].as_str().unwrap_or("").starts_with(prefix))
        .collect()
}

/// Static check passes with every blob and extlinux file found; a damaged
/// copy of the image fails on the damaged blob by name.
fn static_check(img: &Path, data: &Path, board: &str, blobs: usize, damage: (&str, u64)) {
    let (ok, report) = inspect(img, data, board);
    assert!(ok, "{report:#}");
    assert_eq!(report["ok"], true, "{report:#}");
    let b = checks_named(&report, "blob ");
    assert_eq!(b.len(), blobs, "{report:#}");
    assert!(b.iter().all(|c| c["ok"] == true), "{report:#}");
    let ext = checks_named(&report, "file");
    assert!(
        ext.iter()
            .any(|c| c["detail"].as_str().unwrap_or("").contains("extlinux.conf")),
        "{report:#}"
    );
    assert!(
        checks_named(&report, "cmdline")
            .iter()
            .all(|c| c["ok"] == true),
        "{report:#}"
    );

    let (name, sector) = damage;
    let broken = img.with_extension("damaged.img");
    std::fs::copy(img, &broken).unwrap();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&broken)
            .unwrap();
        f.seek(SeekFrom::Start(sector * 512 + 100)).unwrap();
        f.write_all(b"\xde\xad\xbe\xef").unwrap();
    }
    let (ok, report) = inspect(&broken, data, board);
    assert!(!ok, "damaged image passed:\n{report:#}");
    let bad: Vec<_> = checks_named(&report, "blob ")
        .into_iter()
        .filter(|c| c["ok"] == false)
        .collect();
    assert_eq!(bad.len(), 1, "{report:#}");
    assert!(
        bad[0]["name"].as_str().unwrap().contains(name),
        "{report:#}"
    );
    std::fs::remove_file(&broken).unwrap();
}

/// The board's image boots its own kernel and root filesystem under QEMU
/// and serves the box's page.
fn boots(board: &'static str) {
    let (img, data) = image(board);
    let log = work().join(format!("serial-{board}.log"));
    let serial = common::boot_to_login(clic(data), img, &log, &[]);
    assert!(serial.contains("root=PARTUUID="), "{serial}");
}

/// Each board built once per test run, shared by its static and boot tests.
fn image(board: &'static str) -> &'static (PathBuf, PathBuf) {
    static IMAGES: common::Made<(PathBuf, PathBuf)> = common::Made::new();
    IMAGES.get(board, || build(board, board))
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test-boards"]
fn extra_odroid_xu4_places_its_blobs_at_their_sectors() {
    let (img, data) = image("odroid-xu4");
    // BL1, BL2, u-boot, TrustZone, cleared environment.
    static_check(img, data, "odroid-xu4", 5, ("BL2", 31));
}

/// The Amlogic layout: the header in the MBR boot code area, the rest from
/// sector 1, the partition table and disk signature intact. Returns the
/// image's bytes.
fn amlogic_check(img: &Path, data: &Path, board: &str) -> Vec<u8> {
    static_check(img, data, board, 2, ("FIP", 1));
    let bytes = std::fs::read(img).unwrap();
    assert_eq!(&bytes[510..512], b"\x55\xaa");
    let (_, report) = inspect(img, data, board);
    assert!(
        checks_named(&report, "cmdline").iter().all(|c| c["detail"]
            .as_str()
            .unwrap_or("")
            .contains("is partition 1")),
        "{report:#}"
    );
    bytes
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test-boards"]
fn extra_odroid_n2_places_the_fip_around_the_mbr() {
    let (img, data) = image("odroid-n2");
    amlogic_check(img, data, "odroid-n2");
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test-boards"]
fn extra_odroid_c4_signs_u_boot_built_from_debian_source() {
    let (img, data) = image("odroid-c4");
    let bytes = amlogic_check(img, data, "odroid-c4");
    // The BL33 in the FIP (Amlogic signs it, does not encrypt it) is, byte
    // for byte, the u-boot the recipe compiled for the C4 from Debian's
    // source: Debian's version, the C4's defconfig.
    let fw = clic::firmware::load(&repo(), "u-boot-odroid-c4", &cache()).unwrap();
    let uboot = std::fs::read(fw.built_output("u-boot.bin").unwrap()).unwrap();
    let fip = &bytes[512..4 << 20];
    assert!(
        fip.windows(uboot.len()).any(|w| w == uboot.as_slice()),
        "the built u-boot.bin is not in the disk's FIP"
    );
    let banner = b"U-Boot 2023.01+dfsg-2+deb12u3 (";
    let at = uboot
        .windows(banner.len())
        .position(|w| w == banner)
        .expect("Debian's version in u-boot.bin");
    let line = String::from_utf8_lossy(&uboot[at..at + 80]);
    assert!(line.contains(") odroid-c4"), "{line}");
}

// Boots beyond what `make test` must prove: `make test-boards` runs the
// `extra_boot_` tests.

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test-boards"]
fn extra_boot_odroid_xu4_rootfs_on_virt() {
    boots("odroid-xu4");
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test-boards"]
fn extra_boot_odroid_n2_rootfs_on_virt() {
    boots("odroid-n2");
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test-boards"]
fn extra_boot_odroid_c4_rootfs_on_virt() {
    boots("odroid-c4");
}
