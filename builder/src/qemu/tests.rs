//! These tests boot a real `qemu-system-x86_64` (TCG). The disks are either
//! empty (the firmware's own messages are the markers) or carry a tiny MBR
//! boot program, assembled below, that writes a message to COM1 and then
//! halts or resets: real guests whose console output the runner must read.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use regex::Regex;

use super::*;

fn require_qemu() {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("qemu-system-x86_64").is_file()))
        .unwrap_or(false);
    assert!(found, "qemu-system-x86_64 is not installed (`apt-get install qemu-system-x86`): these tests boot real QEMU");
}

fn pc(nic: Option<&str>) -> QemuProfile {
    QemuProfile {
        system: "x86_64".into(),
        machine: "pc".into(),
        cpu: None,
        memory: "256M".into(),
        smp: None,
        firmware: vec![Firmware::Bios, Firmware::Uefi],
        drive: DriveKind::Ide,
        nic: nic.map(str::to_owned),
        kernel_from_image: None,
        append: None,
        extra_args: Vec::new(),
        serial: None,
    }
}

fn empty_disk(dir: &Path) -> PathBuf {
    let path = dir.join("empty.img");
    std::fs::write(&path, vec![0u8; 1 << 20]).unwrap();
    path
}

/// A 1 MiB disk whose boot sector writes `msg` to COM1 (port 0x3f8), then
/// halts, or with `reset` triple-faults (which ends QEMU under -no-reboot).
fn boot_disk(dir: &Path, msg: &str, reset: bool) -> PathBuf {
    const MSG_AT: usize = 0x40;
    #[rustfmt::skip]
    let mut code: Vec<u8> = vec![
        0xFA,             // cli
        0xFC,             // cld
        0x31, 0xC0,       // xor ax, ax
        0x8E, 0xD8,       // mov ds, ax
        0xBE, 0x40, 0x7C, // mov si, 0x7c00 + MSG_AT
        0xBA, 0xF8, 0x03, // mov dx, 0x3f8
        0xAC,             // next: lodsb
        0x84, 0xC0,       // test al, al
        0x74, 0x03,       // jz done
        0xEE,             // out dx, al
        0xEB, 0xF8,       // jmp next
    ];
    if reset {
        // done: lidt [0x7c30] (six zero bytes: limit 0); int3 -> triple fault
        code.extend([0x0F, 0x01, 0x1E, 0x30, 0x7C, 0xCC]);
    }
    code.extend([0xF4, 0xEB, 0xFD]); // hlt; jmp back to hlt
    let mut disk = vec![0u8; 1 << 20];
    disk[..code.len()].copy_from_slice(&code);
    assert!(
        MSG_AT + msg.len() < 0x1FE,
        "message too long for a boot sector"
    );
    disk[MSG_AT..MSG_AT + msg.len()].copy_from_slice(msg.as_bytes());
    disk[0x1FE..0x200].copy_from_slice(&[0x55, 0xAA]);
    let path = dir.join("boot.img");
    std::fs::write(&path, disk).unwrap();
    path
}

/// Pids of processes whose command line mentions `image` (our QEMU).
fn processes_using(image: &Path) -> Vec<String> {
    let needle = image.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                .unwrap_or(false)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn watch(pattern: &str, secs: u64) -> Watch {
    Watch::until(Regex::new(pattern).unwrap(), Duration::from_secs(secs))
}

const PROMPT: &str = "\r\nDebian GNU/Linux 12 clic ttyS0\r\n\r\nclic login: ";

#[test]
fn seabios_marker_matches_and_qemu_is_gone() {
    require_qemu();
    let dir = tempfile::tempdir().unwrap();
    let image = empty_disk(dir.path());
    let opts = BootOptions::new(&image, Firmware::Bios);
    let verdict = boot(&pc(Some("none")), &opts, &watch("No bootable device", 60)).unwrap();
    let Verdict::Matched { after } = verdict else {
        panic!("{verdict:?}")
    };
    eprintln!("SeaBIOS printed `No bootable device` {after:?} after QEMU started");
    assert!(
        processes_using(&image).is_empty(),
        "QEMU left running: {:?}",
        processes_using(&image)
    );
}

#[test]
fn prompt_without_newline_matches_while_guest_runs_check() {
    require_qemu();
    let dir = tempfile::tempdir().unwrap();
    let image = boot_disk(dir.path(), PROMPT, false);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut opts = BootOptions::new(&image, Firmware::Bios);
    opts.forwards = vec![Forward::parse(&format!("{port}:80")).unwrap()];
    let mut w = watch(r"clic login: $", 60);
    w.log = Some(dir.path().join("serial.log"));
    let verdict = boot_with(&pc(None), &opts, &w, || {
        if processes_using(&image).len() != 1 {
            return Err("QEMU is not running during the check".into());
        }
        // QEMU's user network listens on the forwarded host port.
        TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| format!("forwarded port {port}: {e}"))?;
        Ok(())
    })
    .unwrap();
    assert!(matches!(verdict, Verdict::Matched { .. }), "{verdict:?}");
    assert!(processes_using(&image).is_empty());
    let log = std::fs::read_to_string(dir.path().join("serial.log")).unwrap();
    assert!(log.starts_with("SeaBIOS (version"), "{log:?}");
    assert!(log.ends_with("\nclic login: "), "{log:?}");
    assert!(!log.contains('\x1b') && !log.contains('\r'), "{log:?}");
}

#[test]
fn silence_times_out_and_qemu_is_killed() {
    require_qemu();
    let dir = tempfile::tempdir().unwrap();
    let image = boot_disk(dir.path(), "\r\nbooted, now silent\r\n", false);
    let t = Instant::now();
    let opts = BootOptions::new(&image, Firmware::Bios);
    let err = boot(&pc(Some("none")), &opts, &watch("never printed", 3)).unwrap_err();
    let QemuError::Timeout { waited, last_lines } = &err else {
        panic!("{err}")
    };
    assert!(
        // Not a speed check: only that it waited the timeout and then
        // stopped, with room for a loaded machine.
        *waited >= Duration::from_secs(3) && *waited < Duration::from_secs(30),
        "{waited:?}"
    );
    assert_eq!(
        last_lines.last().map(String::as_str),
        Some("booted, now silent")
    );
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "stopping took too long: {:?}",
        t.elapsed()
    );
    assert!(
        processes_using(&image).is_empty(),
        "QEMU left running after a timeout"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("within 3.") && msg.contains("  | booted, now silent"),
        "{msg}"
    );
}

#[test]
fn kernel_panic_on_console_is_reported() {
    require_qemu();
    let dir = tempfile::tempdir().unwrap();
    let text = "\r\n[    2.2] Kernel panic - not syncing: VFS: Unable to mount root fs\r\n\
                [    2.3] ---[ end Kernel panic - not syncing: VFS ]---\r\n";
    let image = boot_disk(dir.path(), text, false);
    let t = Instant::now();
    let opts = BootOptions::new(&image, Firmware::Bios);
    let err = boot(&pc(Some("none")), &opts, &watch("login:", 60)).unwrap_err();
    let QemuError::KernelPanic { line, last_lines } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        line,
        "[    2.2] Kernel panic - not syncing: VFS: Unable to mount root fs"
    );
    assert!(
        last_lines
            .last()
            .is_some_and(|l| l.contains("end Kernel panic")),
        "{last_lines:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(30));
    assert!(processes_using(&image).is_empty());
}

#[test]
fn guest_reset_ends_qemu_before_match() {
    require_qemu();
    let dir = tempfile::tempdir().unwrap();
    let image = boot_disk(dir.path(), "\r\nrebooting\r\n", true);
    let opts = BootOptions::new(&image, Firmware::Bios);
    let err = boot(&pc(Some("none")), &opts, &watch("login:", 60)).unwrap_err();
    let QemuError::QemuExited { last_lines, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(last_lines.last().map(String::as_str), Some("rebooting"));
    assert!(err.to_string().contains("QEMU ended"), "{err}");

    // Without a pattern, ending by itself is the success signal.
    let mut w = watch("x", 60);
    w.until = None;
    let verdict = boot(&pc(Some("none")), &opts, &w).unwrap();
    assert!(matches!(verdict, Verdict::Ended { .. }), "{verdict:?}");
}

#[test]
fn failing_check_stops_qemu_and_keep_running_holds_it() {
    require_qemu();
    let dir = tempfile::tempdir().unwrap();
    let image = boot_disk(dir.path(), PROMPT, false);
    let opts = BootOptions::new(&image, Firmware::Bios);
    let err = boot_with(&pc(Some("none")), &opts, &watch("login: ", 60), || {
        Err("portal answered 500".into())
    })
    .unwrap_err();
    assert!(matches!(err, QemuError::Check { .. }), "{err}");
    assert!(err.to_string().contains("portal answered 500"), "{err}");
    assert!(processes_using(&image).is_empty());

    let mut w = watch("login: ", 60);
    w.keep_running = Some(Duration::from_secs(2));
    let t = Instant::now();
    let verdict = boot(&pc(Some("none")), &opts, &w).unwrap();
    let Verdict::Matched { after } = verdict else {
        panic!("{verdict:?}")
    };
    assert!(
        t.elapsed() >= after + Duration::from_secs(2),
        "{:?} {after:?}",
        t.elapsed()
    );
    assert!(processes_using(&image).is_empty());
}

#[test]
fn uefi_shell_prompt_matches_through_escapes() {
    require_qemu();
    let dir = tempfile::tempdir().unwrap();
    let image = empty_disk(dir.path());
    // With no bootable disk OVMF starts its shell; the prompt has colour
    // escapes around it and no newline.
    let opts = BootOptions::new(&image, Firmware::Uefi);
    let verdict = boot(&pc(Some("none")), &opts, &watch(r"Shell> $", 120)).unwrap();
    let Verdict::Matched { after } = verdict else {
        panic!("{verdict:?}")
    };
    eprintln!("OVMF showed its shell prompt {after:?} after QEMU started");
    assert!(processes_using(&image).is_empty());
}

#[test]
fn setup_errors_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let image = empty_disk(dir.path());
    let mut p = pc(None);
    p.system = "clic-nonexistent".into();
    p.firmware = vec![Firmware::None];
    let mut opts = BootOptions::new(&image, Firmware::None);
    opts.kernel = Some(image.clone());
    let err = boot(&p, &opts, &watch("x", 1)).unwrap_err();
    assert!(matches!(err, QemuError::Start { .. }), "{err}");
    assert!(err.to_string().contains("apt-get install"), "{err}");

    let missing = dir.path().join("nope.img");
    let err = boot(
        &pc(None),
        &BootOptions::new(&missing, Firmware::Bios),
        &watch("x", 1),
    )
    .unwrap_err();
    assert!(err.to_string().contains("nope.img"), "{err}");

    let mut sd = pc(None);
    sd.drive = DriveKind::Sd;
    let odd = dir.path().join("odd.img");
    std::fs::write(&odd, [0u8; 1000]).unwrap();
    let err = boot(&sd, &BootOptions::new(&odd, Firmware::Bios), &watch("x", 1)).unwrap_err();
    assert!(matches!(err, QemuError::SdSize { size: 1000, .. }), "{err}");
}
