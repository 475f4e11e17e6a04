//! Integration tests with real parts: mmdebstrap from the Debian mirror,
//! rootless assembly, QEMU (TCG) booting with SeaBIOS and OVMF, HTTP over a
//! forwarded port. They need root and the mirror, and take minutes, so they
//! are `#[ignore]`d for a plain `cargo test`; `make test` runs them
//! (`--include-ignored`).
//!
//! The default image is built once per test run and shared; serial logs
//! are kept in target/tmp/clic-image-tests/ as test artifacts.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::{assert_wifi_firmware, clic, inspect_report, repo, tail};

fn work() -> PathBuf {
    common::work_dir("clic-image-tests")
}

const SPEC: &str = "specs/clic-ordinosaure.toml";
const NAME: &str = "clic-ordinosaure";

fn build(out: &Path, extra: &[&str]) -> Output {
    common::build(clic(), SPEC, out, extra)
}

/// The default image, built once (online: this fills the package cache).
fn image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| common::default_image(&work().join("a")))
}

fn boot_and_fetch(firmware: &str) {
    common::boot_and_serve(image(), firmware, "amd64", &work());
}

/// The i386 image (old 32-bit PCs) boots with SeaBIOS from its MBR disk:
/// a Debian tree of its own (minutes on a fresh machine), so `make
/// test-boards`, not `make test`; the pipeline test (`make test-release`)
/// builds and boots it too.
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test-boards"]
fn extra_boot_i386_with_seabios_from_an_mbr_disk_and_serves_http() {
    common::board_inspects_and_boots("ordinosaure-i386", "bios", &[], &work());
}

/// `clic inspect` passes on the image as built and fails once GRUB's
/// pointer to core.img in the MBR is wrong.
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn inspect_passes_on_the_default_image_and_catches_a_broken_mbr() {
    let img = image();
    let report = inspect_report(img);
    // One file of each firmware package.
    assert_wifi_firmware(
        &report,
        &[
            "iwlwifi-6000-4.ucode",
            "rtlwifi/rtl8188eufw.bin",
            "htc_9271.fw",
        ],
    );
    let bad = work().join("bad-mbr.img");
    let _tidy = common::Tidy::new(&bad);
    std::fs::copy(img, &bad).unwrap();
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(&bad).unwrap();
    f.seek(SeekFrom::Start(0x5c)).unwrap();
    f.write_all(&7u64.to_le_bytes()).unwrap();
    drop(f);
    let out = clic()
        .arg("inspect")
        .arg(&bad)
        .args(["--board", "ordinosaure-amd64"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "inspect accepted a broken MBR:\n{text}"
    );
    assert!(text.contains("FAIL grub-bios"), "{text}");
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn boots_with_seabios_and_serves_http() {
    boot_and_fetch("bios");
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn boots_with_ovmf_and_serves_http() {
    boot_and_fetch("uefi");
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn manifest_lists_board_spec_and_packages() {
    let img = image();
    let m = common::manifest(img);
    assert_eq!(m["board"], "ordinosaure-amd64");
    assert_eq!(m["suite"], "bookworm");
    let spec = std::fs::read(repo().join(SPEC)).unwrap();
    assert_eq!(m["spec_sha256"], common::sha256_hex(&spec));
    let pkgs = m["packages"].as_array().unwrap();
    for want in ["nginx", "linux-image-amd64", "systemd", "grub-pc-bin"] {
        let p = pkgs
            .iter()
            .find(|p| p["name"] == want)
            .unwrap_or_else(|| panic!("{want} not in manifest"));
        assert!(!p["version"].as_str().unwrap().is_empty());
    }
    let meta = std::fs::metadata(img).unwrap();
    assert_eq!(m["image"]["size"], meta.len());
    // Sparse: most of the image is holes.
    use std::os::unix::fs::MetadataExt;
    assert!(meta.blocks() * 512 < meta.len(), "image is not sparse");
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn image_holds_no_secrets_or_host_state() {
    let img = image();
    let m = common::manifest(img);
    let root = common::partition(&m, "root");
    let (start, size) = common::partition_extent(&m, "root");
    let ext4 = work().join("root-extract.ext4");
    let _tidy = common::Tidy::new(&ext4);
    let status = Command::new("dd")
        .arg(format!("if={}", img.display()))
        .arg(format!("of={}", ext4.display()))
        .args(["bs=1M", "conv=sparse", "status=none"])
        .arg(format!("skip={}", start / 1048576))
        .arg(format!("count={}", size / 1048576))
        .status()
        .unwrap();
    assert!(status.success());
    let fsck = Command::new("e2fsck")
        .args(["-fn"])
        .arg(&ext4)
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "e2fsck: {}",
        String::from_utf8_lossy(&fsck.stdout)
    );
    let debugfs = |request: String| {
        let o = Command::new("debugfs")
            .args(["-R", &request])
            .arg(&ext4)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let cat = |p: &str| debugfs(format!("cat {p}"));
    let ls = |dir: &str| debugfs(format!("ls {dir}"));
    assert_eq!(
        cat("/etc/machine-id"),
        "",
        "machine-id must be made at first boot"
    );
    assert_eq!(cat("/etc/hostname"), "clic\n");
    assert!(cat("/etc/fstab").contains(&format!("UUID={}", root["fs_uuid"].as_str().unwrap())));
    assert!(!ls("/etc/ssh").contains("ssh_host_"), "host keys baked in");
    // Frugal: what the board's firmware_exclude leaves out is not there
    // (Intel Bluetooth, Wi-Fi 6 radios), what it keeps is; the exclusions
    // stay in dpkg's configuration for upgrades on the box.
    let names = |dir: &str| debugfs(format!("ls -p {dir}"));
    let firmware = names("/usr/lib/firmware");
    assert!(firmware.contains("/iwlwifi-6000-4.ucode/"), "{firmware}");
    assert!(!firmware.contains("/iwlwifi-cc-a0-"), "{firmware}");
    assert!(!names("/usr/lib/firmware/intel").contains("/ibt-"));
    assert!(!names("/usr/lib/firmware/ath11k").contains("/QCN9074/"));
    assert!(names("/usr/lib/firmware/ath10k").contains("/QCA6174/"));
    assert!(cat("/etc/dpkg/dpkg.cfg.d/clic-firmware-exclude")
        .lines()
        .any(|l| l == "path-exclude=/lib/firmware/ath11k/*"));
    // Build-time settings are gone: dpkg syncs on the device, daemons start,
    // the real update-initramfs is back.
    assert!(
        !ls("/etc/dpkg/dpkg.cfg.d").contains("00clic-unsafe-io"),
        "dpkg left without fsync"
    );
    assert!(!ls("/usr/sbin").contains("policy-rc.d"), "policy-rc.d left");
    assert!(
        cat("/usr/sbin/update-initramfs").len() > 1000,
        "update-initramfs still diverted"
    );
    let shadow = cat("/etc/shadow");
    for line in shadow.lines() {
        let hash = line.split(':').nth(1).unwrap_or("");
        assert!(
            hash.starts_with('*') || hash.starts_with('!'),
            "account with a usable password: {line}"
        );
    }
}

fn assert_same_image(first: &Path, out: &Path) {
    let second = out.join(format!("{NAME}.img"));
    let (a, b) = (
        std::fs::read(first).unwrap(),
        std::fs::read(&second).unwrap(),
    );
    assert_eq!(a.len(), b.len());
    if a != b {
        let first_diff = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(0);
        panic!(
            "images differ, first at byte {first_diff} (keep {} to compare)",
            second.display()
        );
    }
    let ma =
        std::fs::read_to_string(first.with_file_name(format!("{NAME}.manifest.json"))).unwrap();
    let mb = std::fs::read_to_string(out.join(format!("{NAME}.manifest.json"))).unwrap();
    assert_eq!(ma, mb);
}

/// Same spec, same package cache: byte-identical image. The second build
/// bootstraps again (--fresh) and offline, which also proves it needs no
/// download at all. With `--json`: however much the bootstrap and the
/// board stage print, stdout is one JSON document whose files exist and
/// match their sha256 (without `--json`, every build of the suite checks
/// that stdout is the image's path alone: `common::build`; on a fresh
/// machine such as CI's, the shared default image's build is the cold
/// first build a newcomer's `make image` runs).
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn rebuild_from_the_cache_is_byte_identical() {
    let first = image();
    let out = work().join("b");
    let _tidy = common::Tidy::new(&out);
    let o = build(&out, &["--offline", "--fresh", "--json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("Debian tree from the cache"),
        "--fresh used the tree cache"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&o.stdout)
        )
    });
    let image = v["image"].as_str().expect("image");
    assert_eq!(repo().join(image), out.join(format!("{NAME}.img")));
    let arts = v["artifacts"].as_array().expect("artifacts");
    let kinds: Vec<&str> = arts.iter().filter_map(|a| a["kind"].as_str()).collect();
    for k in ["image", "zstd", "bmap", "manifest", "sha256sums"] {
        assert!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    for a in arts {
        let path = repo().join(a["path"].as_str().expect("path"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(Some(bytes.len() as u64), a["size"].as_u64(), "{a}");
        assert_eq!(a["sha256"], common::sha256_hex(&bytes).as_str(), "{a}");
    }
    assert_eq!(
        arts.iter().find(|a| a["kind"] == "image").unwrap()["path"],
        image
    );
    assert_same_image(first, &out);
}

/// A warm build takes the Debian tree from the tree cache: same bytes.
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn warm_build_from_the_tree_cache_is_byte_identical() {
    let first = image();
    let out = work().join("c");
    let _tidy = common::Tidy::new(&out);
    let o = build(&out, &["--offline"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Debian tree from the cache"),
        "{}",
        tail(&err, 30)
    );
    assert_same_image(first, &out);
}

/// An offline build that needs a package the cache lacks fails at once and
/// says which, instead of reaching the network.
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn offline_build_missing_a_package_fails_and_names_it() {
    let _ = image(); // the package lists are in the cache
    let dir = work().join("offline-missing");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let spec = std::fs::read_to_string(repo().join(SPEC))
        .unwrap()
        .replace("packages = []", "packages = [\"cowsay\"]");
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let mut c = clic();
    c.arg("build")
        .arg(dir.join("spec.toml"))
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--offline");
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "offline build without cowsay in the cache succeeded"
    );
    assert!(err.contains("cowsay"), "{}", tail(&err, 30));
    assert!(!dir.join("out").join(format!("{NAME}.img")).exists());
}

/// Ctrl-C in the middle of the bootstrap: no mount, no temporary directory,
/// no partial output left behind. Then again with Ctrl-C twice (the second
/// kills the children at once instead of waiting for them): the same.
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn interrupted_build_leaves_nothing_behind() {
    for signals in [1, 2] {
        interrupt_build(signals);
    }
}

fn interrupt_build(signals: usize) {
    let base = work().join(format!("interrupt-{signals}"));
    let _ = std::fs::remove_dir_all(&base);
    let (tmp, out) = (base.join("tmp"), base.join("out"));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut c = clic();
    c.args(["build", SPEC, "--out"])
        .arg(&out)
        .args(["--fresh", "--offline"])
        .arg("--workdir")
        .arg(&tmp);
    c.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    // Wait until mmdebstrap has mounted /proc in the tree, then interrupt.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let installing = std::fs::read_dir(&tmp)
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.path().join("root/var/lib/dpkg/status").exists());
        if installing || std::time::Instant::now() > deadline {
            assert!(
                !mounts.contains(tmp.to_str().unwrap()),
                "mmdebstrap's mounts leak into our namespace"
            );
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    ctrl_c(child.id(), signals);
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    if signals == 2 {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("stopping every child now"), "{err}");
    }
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    assert!(
        left.is_empty(),
        "{signals} Ctrl-C: work directory left behind: {left:?}"
    );
    let outputs: Vec<_> = std::fs::read_dir(&out)
        .map(|r| r.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(outputs.is_empty(), "partial output left: {outputs:?}");
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(
        !mounts.contains(base.to_str().unwrap()),
        "mount left behind"
    );
    // No process is left working in the tree either.
    let ps = Command::new("pgrep")
        .args(["-f", base.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        ps.stdout.is_empty(),
        "{signals} Ctrl-C: processes left: {}",
        String::from_utf8_lossy(&ps.stdout)
    );
}

/// Ctrl-C once, then twice, while `clic boot` runs QEMU (on a blank disk
/// its firmware finds nothing to boot on, so QEMU runs until stopped):
/// exit code 130 and no QEMU left running.
#[test]
#[ignore = "needs QEMU: make test"]
fn interrupted_boot_leaves_no_qemu_behind() {
    let dir = common::fresh_dir("clic-image-tests/interrupt-boot");
    for signals in [1, 2] {
        let img = dir.join(format!("blank-{signals}.img"));
        std::fs::File::create(&img)
            .unwrap()
            .set_len(4 << 20)
            .unwrap();
        let mut c = clic();
        c.arg("boot")
            .arg(&img)
            .args(["--board", "ordinosaure-amd64", "--until", "never printed"])
            .args(["--timeout", "300", "--quiet"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let child = c.spawn().unwrap();
        let pid = child.id().to_string();
        let qemu = || {
            let o = Command::new("pgrep")
                .args(["-f", img.to_str().unwrap()])
                .output()
                .unwrap();
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|p| *p != pid)
                .count()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while qemu() == 0 {
            assert!(std::time::Instant::now() < deadline, "QEMU did not start");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        // QEMU's firmware running.
        std::thread::sleep(std::time::Duration::from_secs(1));
        ctrl_c(child.id(), signals);
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(130), "{signals} Ctrl-C: {err}");
        assert_eq!(qemu(), 0, "{signals} Ctrl-C: QEMU left running");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGINT `times` times, 10 ms apart (the next while the first is still
/// being handled).
fn ctrl_c(pid: u32, times: usize) {
    for i in 0..times {
        if i > 0 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        send_signal(pid, 2);
    }
}

fn send_signal(pid: u32, sig: i32) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}
