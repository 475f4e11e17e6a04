use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::artifact::manifest;
use crate::data;
use crate::qemu::{self, BootOptions, Firmware, Forward, QemuProfile, Watch};
use crate::spec::profile;

#[derive(Args, Debug)]
pub struct BootArgs {
    /// The disk image (NAME.img; its NAME.manifest.json names the board)
    pub image: PathBuf,
    /// Board profile to boot with, when the image has no manifest
    #[arg(long)]
    pub board: Option<String>,
    /// bios or uefi (default: the board's first)
    #[arg(long, value_parser = parse_firmware)]
    pub firmware: Option<Firmware>,
    /// Forward a host port to the guest: [ADDR:]HOSTPORT:GUESTPORT
    #[arg(long = "forward", value_name = "HOST:GUEST")]
    pub forwards: Vec<String>,
    /// Succeed when the serial console shows this regular expression
    #[arg(long, default_value = "login:")]
    pub until: String,
    /// Give up after this many seconds
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Once booted, GET this path through the forward to the guest's port
    /// 80 (else the first forward) and
    /// require HTTP 200 (retried for what is left of --timeout, at least
    /// 120 s: a loaded machine may take long to get the guest its address)
    #[arg(long, value_name = "PATH")]
    pub http_check: Option<String>,
    /// With --http-check: the page must contain this text
    #[arg(long, value_name = "TEXT")]
    pub http_expect: Option<String>,
    /// After success, keep the guest running until Ctrl-C
    #[arg(long)]
    pub keep_running: bool,
    /// Guest memory (e.g. 256M), instead of the board's
    #[arg(long)]
    pub memory: Option<String>,
    /// Save the serial console to this file
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Write guest changes to the image instead of discarding them
    #[arg(long)]
    pub persist: bool,
    /// Plug this raw disk image in as a USB stick (read-only), e.g. to try
    /// the admin console's import (repeatable)
    #[arg(long = "usb", value_name = "FILE")]
    pub usb: Vec<PathBuf>,
    /// Answer QEMU's machine protocol (QMP) on this Unix socket, e.g. to
    /// take a picture of the box's screen (`screendump`) from a script
    #[arg(long, value_name = "SOCKET")]
    pub qmp: Option<PathBuf>,
}

/// How long the HTTP check may retry once the boot has been seen: what is
/// left of the whole `--timeout`, and never less than `HTTP_WAIT_MIN`.
/// (A fixed two minutes failed a CI boot whose guest got its DHCP lease
/// late: the guest's DHCP client backs off up to 64 s between tries.)
pub fn http_wait(timeout: Duration, elapsed: Duration) -> Duration {
    timeout.saturating_sub(elapsed).max(HTTP_WAIT_MIN)
}

const HTTP_WAIT_MIN: Duration = Duration::from_secs(120);

/// The image's command line without its `console=` settings, then the
/// board's QEMU additions (the console QEMU shows on its serial port).
pub fn boot_cmdline(image_cmdline: &str, extra: Option<&str>) -> String {
    let mut words: Vec<&str> = image_cmdline
        .split_whitespace()
        .filter(|w| !w.starts_with("console="))
        .collect();
    if let Some(e) = extra {
        words.extend(e.split_whitespace());
    }
    words.join(" ")
}

fn parse_firmware(s: &str) -> Result<Firmware, String> {
    match s {
        "bios" => Ok(Firmware::Bios),
        "uefi" => Ok(Firmware::Uefi),
        "none" => Ok(Firmware::None),
        _ => Err(format!("`{s}` is not bios, uefi or none")),
    }
}

/// The board's QEMU settings: `--board`, else the manifest next to the image.
fn qemu_profile(
    image: &Path,
    board: Option<&str>,
    data_dir: Option<&Path>,
) -> anyhow::Result<QemuProfile> {
    if let Some(b) = board {
        let data = data::locate(data_dir)?;
        let path = data.profile_path(b);
        if !path.is_file() {
            anyhow::bail!("unknown board `{b}` (see `clic boards`)");
        }
        return profile::load(&path)
            .map(|p| p.profile.qemu)
            .map_err(|d| anyhow::anyhow!("{d}"));
    }
    let m = manifest::path_for_image(image);
    if !m.is_file() {
        anyhow::bail!(
            "{} has no manifest next to it ({}): pass --board to say which board it is for",
            image.display(),
            m.display()
        );
    }
    Ok(manifest::read(&m)?.qemu)
}

/// Bad input: exit code 2, before QEMU starts.
fn usage(message: String) -> anyhow::Error {
    super::Exit {
        code: crate::ui::exit::USAGE,
        message,
    }
    .into()
}

/// `clic boot`'s result is the serial console, on stdout as it comes
/// (none with `--quiet`); its verdict and the HTTP check's answer go to
/// stderr, `--quiet` or not, as the outcome of the command.
pub fn run(a: BootArgs, data_dir: Option<&Path>) -> anyhow::Result<()> {
    if !a.image.is_file() {
        return Err(usage(format!("image {} does not exist", a.image.display())));
    }
    let profile = qemu_profile(&a.image, a.board.as_deref(), data_dir)
        .map_err(|e| usage(format!("{e:#}")))?;
    let forwards = a
        .forwards
        .iter()
        .map(|f| Forward::parse(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| usage(e.to_string()))?;
    let firmware = a.firmware.unwrap_or_else(|| profile.default_firmware());
    let mut opts = BootOptions::new(&a.image, firmware);
    // Machines booted with -kernel (QEMU's raspi models) get the kernel,
    // initrd, DTB and command line from the image's own boot partition.
    let extracted = tempfile::Builder::new().prefix("clic-boot-").tempdir()?;
    if let Some(k) = &profile.kernel_from_image {
        let boot_files = crate::inspect::FatFiles::open(&a.image)?;
        let take = |name: &str| -> anyhow::Result<PathBuf> {
            let bytes = boot_files.read(name, 1 << 30)?;
            let path = extracted
                .path()
                .join(name.rsplit('/').next().unwrap_or(name));
            std::fs::write(&path, bytes)?;
            Ok(path)
        };
        let (mut kernel, mut initrd) = (k.kernel.clone(), k.initrd.clone());
        if let Some(c) = &k.config_txt {
            let text = boot_files.read(c, 64 * 1024)?;
            for f in crate::inspect::cmdline::rpi_config_files(&String::from_utf8_lossy(&text)) {
                match f.key {
                    "kernel" => kernel = Some(f.path),
                    "initramfs" => initrd = Some(f.path),
                    _ => {}
                }
            }
        }
        if let Some(c) = &k.extlinux {
            let text = String::from_utf8_lossy(&boot_files.read(c, 64 * 1024)?).into_owned();
            let files = crate::inspect::cmdline::extlinux_files(&text);
            // The first entry: its kernel, the initrd that follows it.
            if let Some(i) = files.iter().position(|f| f.key == "kernel") {
                kernel = Some(files[i].path.clone());
                initrd = files[i + 1..]
                    .iter()
                    .take_while(|f| f.key != "kernel")
                    .find(|f| f.key == "initrd")
                    .map(|f| f.path.clone());
            }
            if let Some((_, line)) = crate::inspect::cmdline::extlinux_cmdlines(&text).first() {
                opts.append = Some(boot_cmdline(line, profile.append.as_deref()));
            }
        }
        let kernel =
            kernel.ok_or_else(|| anyhow::anyhow!("the board profile names no kernel to boot"))?;
        opts.kernel = Some(take(&kernel)?);
        opts.initrd = initrd.as_deref().map(take).transpose()?;
        opts.dtb = k.dtb.as_deref().map(take).transpose()?;
        if let Some(c) = &k.cmdline {
            let text = String::from_utf8_lossy(&boot_files.read(c, 64 * 1024)?).into_owned();
            opts.append = Some(boot_cmdline(&text, profile.append.as_deref()));
        }
    }
    opts.forwards = forwards.clone();
    opts.snapshot = !a.persist;
    for u in &a.usb {
        if !u.is_file() {
            return Err(anyhow::anyhow!(
                "--usb {}: no such file (a raw disk image, e.g. made with mkfs.vfat -C)",
                u.display()
            ));
        }
    }
    opts.usb = a.usb.clone();
    opts.qmp = a.qmp.clone();
    opts.memory = a.memory.clone();
    let until = regex::Regex::new(&a.until).map_err(|e| usage(format!("--until: {e}")))?;
    let watch = Watch {
        until: Some(until),
        timeout: Duration::from_secs(a.timeout),
        echo: !crate::ui::quiet(),
        log: a.log.clone(),
        keep_running: a.keep_running.then_some(Duration::MAX),
    };
    // The forward to the guest's port 80, else the first one.
    let web = forwards
        .iter()
        .find(|f| f.guest_port == 80)
        .or(forwards.first());
    let check_target = match (&a.http_check, web) {
        (Some(path), Some(f)) => Some((f.host_addr.to_string(), f.host_port, path.clone())),
        (Some(_), None) => return Err(usage("--http-check needs a --forward HOSTPORT:80".into())),
        _ => None,
    };
    let expect = a.http_expect.clone();
    let watch_timeout = watch.timeout;
    let keep = a.keep_running;
    let started = std::time::Instant::now();
    // The console on a terminal shows the boot; else a spinner on stderr
    // (a terminal) says how long it has been waiting.
    let stage = {
        use std::io::IsTerminal;
        (!std::io::stdout().is_terminal() || !watch.echo)
            .then(|| crate::ui::Stage::start(&format!("booting {}", a.image.display())))
    };
    let verdict = qemu::boot_with(&profile, &opts, &watch, move || {
        drop(stage);
        if let Some((host, port, path)) = &check_target {
            let wait = http_wait(watch_timeout, started.elapsed());
            let r = qemu::wait_http(host, *port, path, wait)?;
            if r.status != 200 {
                return Err(
                    format!("http://{host}:{port}{path} answered HTTP {}", r.status).into(),
                );
            }
            if let Some(text) = &expect {
                if !String::from_utf8_lossy(&r.body).contains(text.as_str()) {
                    return Err(
                        format!("http://{host}:{port}{path} does not contain `{text}`").into(),
                    );
                }
            }
            eprintln!(
                "\nclic: HTTP 200 from http://{host}:{port}{path} ({} bytes)",
                r.body.len()
            );
            if keep {
                eprintln!("clic: the box is up: open http://{host}:{port}/ ; Ctrl-C stops it");
            }
        }
        Ok(())
    })?;
    if let qemu::Verdict::Matched { after } = verdict {
        eprintln!(
            "clic: booted: `{}` seen after {:.1} s ({firmware})",
            a.until,
            after.as_secs_f64()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{boot_cmdline, http_wait};
    use std::time::Duration;

    #[test]
    fn http_check_waits_for_what_is_left_of_the_timeout_but_at_least_two_minutes() {
        let s = Duration::from_secs;
        assert_eq!(http_wait(s(900), s(150)), s(750));
        assert_eq!(http_wait(s(900), s(850)), s(120));
        assert_eq!(http_wait(s(300), s(400)), s(120));
        assert_eq!(http_wait(s(60), s(0)), s(120));
    }

    #[test]
    fn image_cmdline_keeps_root_and_takes_qemus_console() {
        let c = boot_cmdline(
            "console=serial0,115200 console=tty1 root=PARTUUID=1234abcd-02 rw rootwait\n",
            Some("console=ttyAMA0,115200"),
        );
        assert_eq!(
            c,
            "root=PARTUUID=1234abcd-02 rw rootwait console=ttyAMA0,115200"
        );
    }
}
