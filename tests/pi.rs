//! The default spec on the Raspberry Pis of arm64 (the Pi 3, 4 and Zero
//! 2 W, which share one Debian tree with the Amlogic Odroids of
//! tests/odroid.rs): in `make test`, the Pi 3 image passes `clic inspect`
//! with its Wi-Fi firmware and the Pi 4 boots its own kernel on QEMU's
//! virt machine with every service up; `make test-boards` also boots the
//! Pi 3 on QEMU's raspi3b and checks the Zero 2 W (extra_*). Split from
//! tests/image.rs (the x86 images) so that `make test`'s two lanes share
//! the work.
//!
//! Needs root, the Debian mirror and minutes: `#[ignore]`d for a plain
//! `cargo test`, run by `make test`. Serial logs are kept in
//! target/tmp/clic-pi-tests/.

mod common;

use std::path::PathBuf;

use common::{clic, inspect_report, run, tail};

fn work() -> PathBuf {
    common::work_dir("clic-pi-tests")
}

/// firmware-brcm80211's files for the Pi 3 B (43430) and 3 B+ (43455).
const RPI3_WIFI: &[&str] = &[
    "brcm/brcmfmac43430-sdio.bin",
    "brcm/brcmfmac43430-sdio.raspberrypi,3-model-b.txt",
    "brcm/brcmfmac43455-sdio.bin",
    "brcm/brcmfmac43455-sdio.raspberrypi,3-model-b-plus.txt",
];

/// The Pi 3 image passes `clic inspect` (kernel, initrd, device tree,
/// cmdline.txt on its FAT boot partition) with its Wi-Fi firmware.
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn rpi3_passes_inspect_with_its_wifi_firmware() {
    let _tidy = common::Tidy::new(work().join("rpi3"));
    let img = common::default_spec_image("rpi3", &work());
    common::assert_wifi_firmware(&inspect_report(img), RPI3_WIFI);
}

/// The Pi 3 image on QEMU's raspi3b: kernel, initrd, device tree and
/// cmdline.txt come from the image's own FAT boot partition, the root is
/// found by PARTUUID on the SD card, nginx answers through usb-net. The
/// slowest boot of the suite (four emulated cores): `make test-boards`.
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test-boards"]
fn extra_boot_rpi3_on_qemu_raspi3b_from_its_own_boot_partition() {
    common::board_inspects_and_boots("rpi3", "none", RPI3_WIFI, &work());
}

/// The Pi 4 image: its own kernel, initramfs and cmdline.txt on QEMU's virt
/// machine (raspi4b cannot boot Debian's bcm2711 device tree), root by
/// PARTUUID on the virtio disk. Booted with 512 MB until the box says it
/// has settled: every service of the default box runs (none failed), and
/// agora, the participation service, uses at most 15 MiB (its main
/// process's RSS, arm64) at rest.
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn rpi4_boots_its_own_kernel_on_qemu_virt() {
    let _tidy = common::Tidy::new(work().join("rpi4"));
    let img = common::default_spec_image("rpi4", &work());
    inspect_report(img);
    let log = work().join("serial-rpi4-ready.log");
    let port = common::free_port();
    let out = run({
        let mut c = clic();
        c.arg("boot")
            .arg(img)
            .args(["--firmware", "none", "--memory", "512M"])
            .args([
                "--until",
                "clic-ready:.*memory",
                "--timeout",
                "1200",
                "--quiet",
            ])
            .args(["--forward", &format!("127.0.0.1:{port}:80")])
            .args(["--http-check", "/agora/"])
            .arg("--log")
            .arg(&log);
        c
    });
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTP 200 from"), "{err}");
    let serial = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    assert!(serial.contains("root=PARTUUID="), "{}", tail(&serial, 40));
    assert!(
        !serial.contains("clic-ready: FAILED"),
        "a service failed:\n{}",
        tail(&serial, 60)
    );
    let agora = regex::Regex::new(
        r"clic-ready: agora\.service uses (\d+) MiB of its \d+ MiB \(main process RSS (\d+) MiB\)",
    )
    .unwrap();
    let c = agora
        .captures(&serial)
        .unwrap_or_else(|| panic!("agora's use at rest not said:\n{}", tail(&serial, 60)));
    let rss: u64 = c[2].parse().unwrap();
    assert!(
        rss <= 15,
        "agora uses {rss} MiB at rest on arm64 (at most 15)"
    );
    let ready: Vec<&str> = serial
        .lines()
        .filter(|l| l.contains("clic-ready:"))
        .collect();
    eprintln!("rpi4 (arm64) on 512 MB, at rest:\n  {}", ready.join("\n  "));
}

/// The Zero 2 W image is the Pi 3 layout with its own device tree; QEMU has
/// no model of it, so it is checked statically, as `make test-boards`
/// checks every board (a board stage of its own, minutes under emulation:
/// not in `make test`).
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test-boards"]
fn extra_pi_zero2w_passes_the_static_boot_check() {
    let _tidy = common::Tidy::new(work().join("rpi-zero2w"));
    let img = common::default_spec_image("rpi-zero2w", &work());
    inspect_report(img);
    let out = run({
        let mut c = clic();
        c.arg("inspect").arg(img);
        c
    });
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok   file boot:/bcm2837-rpi-zero-2-w.dtb")
    );
}
