//! Box-side binaries cross-built for every architecture of box/targets.toml:
//! the `firstboot` layer's `clic-box` is built the way `clic build` builds
//! it (`clic::boxbin`), each result is an ELF of the right machine, class
//! and float ABI, and each foreign one runs under qemu-user (with Debian's
//! cross C library as its root) and exits with a usage error when given
//! no arguments.
//!
//! Needs the Rust targets, Debian's cross compilers and qemu-user-static
//! (`make deps`) and a few minutes the first time (std for armel is built
//! from rust-src where rustup has no prebuilt one); the target directory
//! is kept in target/tmp/clic-boxbin-tests/, so later runs take seconds.
//! `#[ignore]`d for a plain `cargo test`; `make test` runs it.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use clic::boxbin;

/// ELF machine numbers (`e_machine`).
const EM_386: u16 = 3;
const EM_ARM: u16 = 40;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
/// ARM `e_flags`: EABI version 5, hard- or soft-float calls.
const EF_ARM_EABI_VER5: u32 = 0x0500_0000;
const EF_ARM_ABI_FLOAT_SOFT: u32 = 0x200;
const EF_ARM_ABI_FLOAT_HARD: u32 = 0x400;

struct Elf {
    class64: bool,
    little_endian: bool,
    machine: u16,
    flags: u32,
}

fn elf(path: &Path) -> Elf {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], b"\x7fELF", "{} is not an ELF file", path.display());
    let class64 = b[4] == 2;
    let u16le = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u32le = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    Elf {
        class64,
        little_endian: b[5] == 1,
        machine: u16le(18),
        // e_flags follows e_entry, e_phoff and e_shoff (4 or 8 bytes each).
        flags: u32le(if class64 { 48 } else { 36 }),
    }
}

/// `Tag_CPU_arch` of an ARM binary's build attributes (`readelf -A`).
fn arm_cpu_arch(path: &Path) -> String {
    let out = Command::new("readelf")
        .arg("-A")
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Tag_CPU_arch: "))
        .unwrap_or_default()
        .to_owned()
}

#[test]
#[ignore = "needs make deps (Rust targets, cross gcc, qemu-user) and minutes the first time: make test"]
fn clic_box_is_cross_built_for_every_architecture_and_runs() {
    let repo = common::repo();
    let layer = clic::spec::layer::load("firstboot", &repo.join("overlays/firstboot"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        layer
            .binaries
            .iter()
            .any(|b| b.package == "clic-box" && b.install == "/usr/lib/clic/clic-box"),
        "{:?}",
        layer.binaries
    );
    let cache = common::work_dir("clic-boxbin-tests");
    let text = std::fs::read_to_string(repo.join(boxbin::TARGETS_FILE)).unwrap();
    let targets = boxbin::parse_targets(Path::new(boxbin::TARGETS_FILE), &text).unwrap();
    let mut report = Vec::new();
    for (arch, t) in &targets {
        let plan = boxbin::preflight(std::slice::from_ref(&layer), arch, &cache, false)
            .unwrap_or_else(|e| panic!("{arch}: {e}"))
            .expect("firstboot installs binaries");
        let first = Instant::now();
        let built = boxbin::build(&plan).unwrap_or_else(|e| panic!("{arch}: {e:?}"));
        let first = first.elapsed();
        // Again: nothing to do, the target directory is warm.
        let again = Instant::now();
        let rebuilt = boxbin::build(&plan).unwrap_or_else(|e| panic!("{arch}: {e:?}"));
        let again = again.elapsed();
        let bin = built
            .iter()
            .find(|b| b.binary.bin == "clic-box")
            .expect("clic-box built");
        assert_eq!(bin.path, rebuilt[0].path);
        let e = elf(&bin.path);
        assert!(e.little_endian, "{arch}");
        let (machine, class64) = match arch.as_str() {
            "amd64" => (EM_X86_64, true),
            "i386" => (EM_386, false),
            "arm64" => (EM_AARCH64, true),
            "armhf" | "armel" => (EM_ARM, false),
            other => panic!("no expectation for architecture {other}"),
        };
        assert_eq!((e.machine, e.class64), (machine, class64), "{arch}");
        match arch.as_str() {
            "armhf" => {
                assert_eq!(e.flags & 0xff00_0000, EF_ARM_EABI_VER5, "{arch}");
                assert_ne!(e.flags & EF_ARM_ABI_FLOAT_HARD, 0, "{arch}: hard-float");
                assert_eq!(arm_cpu_arch(&bin.path), "v7", "{arch}");
            }
            "armel" => {
                assert_eq!(e.flags & 0xff00_0000, EF_ARM_EABI_VER5, "{arch}");
                assert_ne!(e.flags & EF_ARM_ABI_FLOAT_SOFT, 0, "{arch}: soft-float");
                // Runs on the ARMv6 Pi Zero and Pi 1 (Debian's armel baseline).
                assert_eq!(arm_cpu_arch(&bin.path), "v5TE", "{arch}");
            }
            _ => {}
        }
        // Stripped: no symbol table left.
        let syms = Command::new("readelf")
            .args(["-S", "-W"])
            .arg(&bin.path)
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&syms.stdout).contains(".symtab"),
            "{arch}: not stripped"
        );
        // Runs, with no arguments: a usage error (exit 2) and a message.
        let mut run = match &t.runner {
            None => Command::new(&bin.path),
            Some(runner) => {
                // Debian's cross C library (libc6-<arch>-cross) is the
                // root the dynamic loader is found in.
                let sysroot = format!("/usr/{}", t.linker.trim_end_matches("-gcc"));
                let mut c = Command::new(runner);
                c.arg("-L").arg(sysroot).arg(&bin.path);
                c
            }
        };
        let out = run.output().unwrap_or_else(|e| panic!("{arch}: {e}"));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{arch}: {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty(), "{arch}: no usage message");
        let size = std::fs::metadata(&bin.path).unwrap().len();
        report.push(format!(
            "{arch:6} {:32} {:>8} bytes  first {:6.1} s  again {:5.2} s",
            t.target,
            size,
            first.as_secs_f64(),
            again.as_secs_f64()
        ));
    }
    assert_eq!(report.len(), 5, "every architecture of box/targets.toml");
    eprintln!("clic-box per architecture:\n  {}", report.join("\n  "));
}

/// Architectures whose `agora` and `admin` are built a second time, from
/// scratch at another path, and compared byte for byte: amd64, the
/// cheapest (native). The path remapping that makes the bytes the same is
/// one piece of code for every architecture; armel's std, compiled from
/// rust-src (`build-std`), is remapped on its own, and was found the same
/// twice when that was added, but a second from-scratch armel build costs
/// about ten minutes on 2 cores, more than `make test` can give (it must
/// stay well inside CI's time).
const BUILT_TWICE: [&str; 1] = ["amd64"];

/// The `agora` and `admin` layers' services, built for every architecture
/// where `clic build` builds them (the cache's `box-target/`, which the
/// image tests fill; built now if they did not), and for BUILT_TWICE
/// again, from scratch in a new target directory at a different path: the
/// same source gives the same bytes. Each binary runs (`--version`, under
/// qemu-user for the foreign ones).
#[test]
#[ignore = "needs make deps (Rust targets, cross gcc, qemu-user) and minutes: make test"]
fn agora_builds_for_every_architecture_and_to_the_same_bytes_twice() {
    let repo = common::repo();
    let layers: Vec<_> = ["agora", "admin"]
        .iter()
        .map(|n| {
            clic::spec::layer::load(n, &repo.join("overlays").join(n))
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let text = std::fs::read_to_string(repo.join(boxbin::TARGETS_FILE)).unwrap();
    let targets = boxbin::parse_targets(Path::new(boxbin::TARGETS_FILE), &text).unwrap();
    let shared = clic::rootfs::Cache::locate(None).dir;
    let mut report = Vec::new();
    for (arch, t) in &targets {
        let mut built = Vec::new();
        let fresh = common::fresh_dir(&format!("clic-agora-again/deeper-{arch}"));
        let caches = if BUILT_TWICE.contains(&arch.as_str()) {
            vec![&shared, &fresh]
        } else {
            vec![&shared]
        };
        for cache in caches {
            let plan = boxbin::preflight(&layers, arch, cache, false)
                .unwrap_or_else(|e| panic!("{arch}: {e}"))
                .expect("the layers install binaries");
            let started = Instant::now();
            let out = boxbin::build(&plan).unwrap_or_else(|e| panic!("{arch}: {e:?}"));
            let mut bins = Vec::new();
            for name in ["agora", "clic-admin"] {
                let bin = out
                    .iter()
                    .find(|b| b.binary.bin == name)
                    .unwrap_or_else(|| panic!("{name} built"))
                    .path
                    .clone();
                let bytes = std::fs::read(&bin).unwrap();
                bins.push((name, bin, bytes));
            }
            built.push((bins, started.elapsed()));
        }
        let a = &built[0];
        for (i, (name, pa, ba)) in a.0.iter().enumerate() {
            let again = built.get(1).map(|b| {
                let (_, pb, bb) = &b.0[i];
                assert!(
                    ba == bb,
                    "{arch}: two builds of {name} differ: {} and {} (cmp -l them)",
                    pa.display(),
                    pb.display()
                );
                format!(", {:.0} s from scratch, same bytes", b.1.as_secs_f64())
            });
            let mut run = match &t.runner {
                None => Command::new(pa),
                Some(runner) => {
                    let sysroot = format!("/usr/{}", t.linker.trim_end_matches("-gcc"));
                    let mut c = Command::new(runner);
                    c.arg("-L").arg(sysroot).arg(pa);
                    c
                }
            };
            let out = run
                .arg("--version")
                .output()
                .unwrap_or_else(|e| panic!("{arch}: {e}"));
            assert!(
                out.status.success() && String::from_utf8_lossy(&out.stdout).contains(name),
                "{arch}: {name} --version: {:?} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            report.push(format!(
                "{arch:6} {name:10} {:>8} bytes  sha256 {}  built {:.0} s (clic's cache){}",
                ba.len(),
                &common::sha256_hex(ba)[..16],
                a.1.as_secs_f64(),
                again.unwrap_or_default()
            ));
        }
        // The second tree was only for the comparison.
        let _ = std::fs::remove_dir_all(&fresh);
    }
    assert_eq!(
        report.len(),
        10,
        "every architecture of box/targets.toml, two binaries"
    );
    eprintln!(
        "agora and clic-admin per architecture:\n  {}",
        report.join("\n  ")
    );
}
