//! The kiosk layer on a booted image with a screen: the default spec plus
//! `kiosk`, booted under QEMU with its standard VGA as the screen and
//! QEMU's machine protocol (`clic boot --qmp`) to take pictures of it
//! (`screendump`). What the screen shows is read back by zbar (zbarimg):
//! both QR codes of the kiosk page, the Wi-Fi's and the portal's. Then the
//! browser is killed (over SSH, as root with the admin password from the
//! card): the X server ends with it and the kiosk comes back by itself. Then the box's clock is set to
//! the night: the kiosk stops and the screen goes dark; to the morning:
//! it comes back. Needs root, the Debian mirror and 5 to 10 minutes (its
//! own image, Chromium under emulation): an `extra_boot_` test, which
//! `make test` skips while its run is close to CI's limit; `make
//! test-kiosk` (and `make test-boards`) run it.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::qmp::Qmp;
use common::{repo, tail, RunningBox};

const NAME: &str = "clic-kiosk";

fn work() -> PathBuf {
    common::work_dir("clic-kiosk-tests")
}

/// The default spec, named `clic-kiosk`, with the kiosk layer and an SSH
/// key for the test.
fn spec(dir: &Path, ssh_key: &str) -> PathBuf {
    let default = repo().join("specs/clic-ordinosaure.toml");
    let mut spec: toml::Table = std::fs::read_to_string(default).unwrap().parse().unwrap();
    spec.insert("name".into(), NAME.into());
    spec.get_mut("layers")
        .and_then(|l| l.as_array_mut())
        .unwrap()
        .push("kiosk".into());
    let settings = spec
        .entry("settings")
        .or_insert(toml::Value::Table(Default::default()))
        .as_table_mut()
        .unwrap();
    let mut fb = toml::Table::new();
    fb.insert("admin_ssh_key".into(), ssh_key.trim().into());
    settings.insert("firstboot".into(), fb.into());
    let path = dir.join("spec.toml");
    std::fs::write(&path, toml::to_string(&spec).unwrap()).unwrap();
    path
}

/// The QR codes zbar reads on `picture`, sorted. (Not `--raw`: it puts
/// no separator between two codes.)
fn codes(picture: &Path) -> Vec<String> {
    let o = Command::new("zbarimg")
        .args(["--quiet", "-Sdisable", "-Sqrcode.enable"])
        .arg(picture)
        .output()
        .unwrap_or_else(|e| panic!("zbarimg (make deps): {e}"));
    let mut c: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("QR-Code:"))
        .map(|l| l.trim().to_owned())
        .collect();
    c.sort();
    c
}

/// The share of a binary PPM's pixels that are not dark.
fn lit_share(picture: &Path) -> f64 {
    let bytes = std::fs::read(picture).unwrap();
    // `P6 <width> <height> <max>`, each ended by one whitespace, then RGB.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
    }
    assert_eq!(fields[0], "P6", "not a binary PPM: {}", picture.display());
    let pixels = &bytes[i + 1..];
    let lit = pixels
        .chunks_exact(3)
        .filter(|p| p.iter().map(|&c| u32::from(c)).sum::<u32>() > 3 * 40)
        .count();
    lit as f64 / (pixels.len() / 3).max(1) as f64
}

/// Take pictures of the screen until `ok` says yes; the last picture.
fn wait_for_screen(
    qmp: &mut Qmp,
    what: &str,
    timeout: Duration,
    tag: &str,
    ok: impl Fn(&Path) -> bool,
) -> PathBuf {
    let deadline = Instant::now() + timeout;
    let mut n = 0;
    loop {
        let file = work().join(format!("screen-{tag}-{n}.ppm"));
        qmp.screen(&file);
        if ok(&file) {
            println!("{what}: seen after {} pictures", n + 1);
            return file;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not on the screen after {timeout:?} (last picture {}, codes {:?})",
            file.display(),
            codes(&file)
        );
        if n > 0 {
            let _ = std::fs::remove_file(work().join(format!("screen-{tag}-{}.ppm", n - 1)));
        }
        n += 1;
        std::thread::sleep(Duration::from_secs(10));
    }
}

/// `command` on the box as root: SSH as the admin account, sudo with the
/// password from the card.
fn root(b: &RunningBox, key: &Path, password: &str, command: &str) -> String {
    let o = Command::new("ssh")
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
        .args([
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=60",
        ])
        .arg("-i")
        .arg(key)
        .args(["-p", &b.host_port(22).to_string(), "admin@127.0.0.1"])
        .arg(format!("sudo -S -p '' sh -c '{command}'"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin
                .take()
                .unwrap()
                .write_all(format!("{password}\n").as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(
        o.status.success(),
        "{command} on the box: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn kiosk_codes_seen(file: &Path) -> bool {
    let c = codes(file);
    c.iter().any(|l| l == "http://clic.lan/") && c.iter().any(|l| l == "WIFI:T:nopass;S:CLIC;;")
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test-kiosk"]
fn extra_boot_kiosk_shows_the_portal_and_both_codes_comes_back_and_sleeps_at_night() {
    let dir = common::fresh_dir("clic-kiosk-tests");
    let key = dir.join("id_ed25519");
    common::run({
        let mut c = Command::new("ssh-keygen");
        c.args(["-q", "-t", "ed25519", "-N", "", "-C", "kiosk-test", "-f"])
            .arg(&key);
        c
    });
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let spec = spec(&dir, &public);
    let out = dir.join("out");
    common::build(common::clic(), &spec, &out, &[]);
    let img = out.join(format!("{NAME}.img"));
    let sock = dir.join("qmp.sock");
    let b = RunningBox::start(
        common::clic(),
        &img,
        &dir,
        "kiosk",
        &[22],
        &[
            "--memory",
            "1536M",
            "--persist",
            "--timeout",
            "1500",
            "--qmp",
            sock.to_str().unwrap(),
        ],
    );
    let password = common::admin_password_from_card(&img);
    let mut qmp = Qmp::connect(&sock);

    // 1. The kiosk page on the screen: both codes read by zbar.
    let first = wait_for_screen(
        &mut qmp,
        "the kiosk page",
        Duration::from_secs(600),
        "up",
        kiosk_codes_seen,
    );
    std::fs::copy(&first, work().join("kiosk.ppm")).unwrap();
    let state = root(
        &b,
        &key,
        &password,
        "systemctl show -p MainPID -p NRestarts clic-kiosk.service",
    );
    println!("kiosk: {state}");

    // 2. The browser dies: the X server ends with it, systemd starts both
    // again.
    root(
        &b,
        &key,
        &password,
        "pkill -KILL -x chromium || pkill -KILL chromium",
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let restarts = root(
            &b,
            &key,
            &password,
            "systemctl show -p NRestarts --value clic-kiosk.service",
        );
        if restarts.parse::<u32>().unwrap_or(0) >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the kiosk was not started again:\n{}",
            tail(&b.serial(), 30)
        );
        std::thread::sleep(Duration::from_secs(3));
    }
    wait_for_screen(
        &mut qmp,
        "the kiosk page after the browser died",
        Duration::from_secs(600),
        "again",
        kiosk_codes_seen,
    );

    // 3. Night (22:00 to 07:00 by default): the kiosk stops, the screen is dark.
    root(&b, &key, &password, "date -s 23:30 >/dev/null");
    let dark = wait_for_screen(
        &mut qmp,
        "a dark screen at night",
        Duration::from_secs(180),
        "night",
        |f| lit_share(f) < 0.01,
    );
    assert!(codes(&dark).is_empty());
    assert_eq!(
        root(
            &b,
            &key,
            &password,
            "systemctl is-active clic-kiosk.service || true"
        ),
        "inactive"
    );

    // 4. Morning: it comes back.
    root(&b, &key, &password, "date -s 07:30 >/dev/null");
    wait_for_screen(
        &mut qmp,
        "the kiosk page in the morning",
        Duration::from_secs(600),
        "morning",
        kiosk_codes_seen,
    );
    let memory = root(
        &b,
        &key,
        &password,
        "systemctl show -p MemoryCurrent --value clic-kiosk.service",
    );
    println!(
        "kiosk: {} MiB in use (Xorg and Chromium)",
        memory.parse::<u64>().unwrap_or(0) / (1 << 20)
    );
    b.stop();
}
