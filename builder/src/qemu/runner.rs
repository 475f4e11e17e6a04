//! Run QEMU, watch its serial console, decide, and stop it (the `Qemu` guard
//! stops it on every path, panics included).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::process::{ChildStdout, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use regex::Regex;

use super::process::{Qemu, GRACE};
use super::{
    locate_uefi, qemu_command, BootOptions, Console, DriveKind, Firmware, QemuError, QemuProfile,
    Seen,
};
use crate::cmd::Cmd;
use crate::interrupt;

/// Serial console lines carried by boot errors.
pub const LAST_LINES: usize = 30;
/// After "Kernel panic", wait this long for the rest of the report.
const PANIC_GRACE: Duration = Duration::from_secs(3);
const TICK: Duration = Duration::from_millis(100);

/// The error a check run while the guest is up may return.
pub type CheckError = Box<dyn std::error::Error + Send + Sync>;

/// What to wait for on the serial console, and for how long.
#[derive(Clone, Debug)]
pub struct Watch {
    /// Searched in recent console output (escapes and CRs removed), not
    /// only in whole lines. None: run until QEMU ends by itself.
    pub until: Option<Regex>,
    /// From QEMU's start until `until` matches.
    pub timeout: Duration,
    /// Copy the console to our stdout as it arrives, escapes removed (the
    /// firmware's `ESC c` and `ESC [?7l` would reset the user's terminal).
    pub echo: bool,
    /// Save the console text (escapes removed) to this file.
    pub log: Option<std::path::PathBuf>,
    /// After a match (and the check), keep QEMU running this long, or until
    /// Ctrl-C or the guest shuts down; `Duration::MAX`: until Ctrl-C. For
    /// `make image`, where the user browses the portal. A Ctrl-C in this
    /// phase returns `Ok` and leaves the interrupt flag set.
    pub keep_running: Option<Duration>,
}

impl Watch {
    pub fn until(pattern: Regex, timeout: Duration) -> Watch {
        Watch {
            until: Some(pattern),
            timeout,
            echo: false,
            log: None,
            keep_running: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// `until` matched this long after QEMU started.
    Matched { after: Duration },
    /// No `until`: QEMU ended by itself with success (the guest powered off;
    /// with `-no-reboot` a reboot ends it too).
    Ended { after: Duration },
}

/// Boot and wait for `watch.until`; QEMU is stopped before this returns.
pub fn boot(
    profile: &QemuProfile,
    opts: &BootOptions,
    watch: &Watch,
) -> Result<Verdict, QemuError> {
    boot_with(profile, opts, watch, || Ok(()))
}

/// Like `boot`, and run `on_match` as soon as `until` matches, while the guest
/// is still up (e.g. `wait_http` through a forwarded port); its error fails
/// the boot. The console keeps being read meanwhile.
pub fn boot_with<F>(
    profile: &QemuProfile,
    opts: &BootOptions,
    watch: &Watch,
    on_match: F,
) -> Result<Verdict, QemuError>
where
    F: FnOnce() -> Result<(), CheckError>,
{
    check_image(profile, &opts.image)?;
    let mut opts = opts.clone();
    let mut _vars_dir = None; // the UEFI vars copy lives until QEMU is gone
    if opts.firmware == Firmware::Uefi && opts.uefi.is_none() {
        let dir = tempfile::Builder::new()
            .prefix("clic-uefi-")
            .tempdir()
            .map_err(|source| io_err("creating a directory for UEFI variables", source))?;
        opts.uefi = Some(locate_uefi(&profile.system, dir.path())?);
        _vars_dir = Some(dir);
    }
    let (program, args) = qemu_command(profile, &opts)?;
    let console = Arc::new(Mutex::new(Console::new(watch.until.as_ref())?));
    let log = match &watch.log {
        Some(p) => Some(BufWriter::new(File::create(p).map_err(|e| {
            io_err(&format!("creating serial log {}", p.display()), e)
        })?)),
        None => None,
    };

    let (mut child, _cmdline) = Cmd::new(&program)
        .args(&args)
        .spawn_with(Stdio::piped(), Stdio::piped())
        .map_err(|source| QemuError::Start {
            package: profile.package(),
            source,
        })?;
    let start = Instant::now();
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let mut qemu = Qemu::new(child);
    let (tx, rx) = mpsc::channel();
    let reader = stdout.map(|out| spawn_reader(out, Arc::clone(&console), watch.echo, log, tx));
    let err_reader = stderr.map(|mut e| {
        thread::spawn(move || {
            let mut all = Vec::new();
            let _ = e.read_to_end(&mut all);
            let from = all.len().saturating_sub(2048);
            String::from_utf8_lossy(&all[from..]).into_owned()
        })
    });

    let outcome = watch_console(&mut qemu, &rx, watch, start, on_match);
    let status = qemu.stop();
    let log_result = reader.and_then(|r| r.join().ok()).unwrap_or(Ok(()));
    let stderr = err_reader.and_then(|h| h.join().ok()).unwrap_or_default();
    let last_lines = console
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .last_lines(LAST_LINES);

    let verdict = match outcome {
        Outcome::Matched(after) => Verdict::Matched { after },
        Outcome::Exited(after) if watch.until.is_none() && status.is_some_and(|s| s.success()) => {
            Verdict::Ended { after }
        }
        Outcome::Exited(_) => {
            return Err(QemuError::QemuExited {
                status: status.unwrap_or_default(),
                stderr,
                last_lines,
            })
        }
        Outcome::Timeout(waited) => return Err(QemuError::Timeout { waited, last_lines }),
        Outcome::Panic(line) => return Err(QemuError::KernelPanic { line, last_lines }),
        Outcome::Interrupted => return Err(QemuError::Interrupted { last_lines }),
        Outcome::Check(source) => return Err(QemuError::Check { source, last_lines }),
    };
    if let (Err(e), Some(p)) = (log_result, &watch.log) {
        return Err(io_err(&format!("writing serial log {}", p.display()), e));
    }
    Ok(verdict)
}

enum Outcome {
    Matched(Duration),
    Exited(Duration),
    Timeout(Duration),
    Panic(String),
    Interrupted,
    Check(CheckError),
}

enum Event {
    Matched(Instant),
    Panic(String),
    PanicEnd,
    Eof,
}

fn watch_console<F>(
    qemu: &mut Qemu,
    rx: &Receiver<Event>,
    watch: &Watch,
    start: Instant,
    on_match: F,
) -> Outcome
where
    F: FnOnce() -> Result<(), CheckError>,
{
    let deadline = start.checked_add(watch.timeout);
    let mut on_match = Some(on_match);
    // Set once matched, in the keep-running phase: (after, stop at).
    let mut kept: Option<(Duration, Option<Instant>)> = None;
    let mut panic: Option<(String, Instant)> = None;
    loop {
        if interrupt::requested() {
            return match kept {
                Some((after, _)) => Outcome::Matched(after),
                None => Outcome::Interrupted,
            };
        }
        let now = Instant::now();
        if let Some((line, at)) = &panic {
            if now.duration_since(*at) >= PANIC_GRACE {
                return Outcome::Panic(line.clone());
            }
        }
        match kept {
            Some((after, Some(stop))) if now >= stop => return Outcome::Matched(after),
            None if deadline.is_some_and(|d| now >= d) && panic.is_none() => {
                return Outcome::Timeout(start.elapsed())
            }
            _ => {}
        }
        match rx.recv_timeout(TICK) {
            Ok(Event::Matched(at)) if kept.is_none() && panic.is_none() => {
                let after = at.duration_since(start);
                if let Some(check) = on_match.take() {
                    if let Err(e) = check() {
                        return Outcome::Check(e);
                    }
                }
                match watch.keep_running {
                    None => return Outcome::Matched(after),
                    Some(d) => kept = Some((after, Instant::now().checked_add(d))),
                }
            }
            Ok(Event::Matched(_)) | Err(RecvTimeoutError::Timeout) => {}
            Ok(Event::Panic(line)) => {
                if panic.is_none() {
                    panic = Some((line, Instant::now()));
                }
            }
            Ok(Event::PanicEnd) => {
                if let Some((line, _)) = panic.take() {
                    return Outcome::Panic(line);
                }
            }
            Ok(Event::Eof) | Err(RecvTimeoutError::Disconnected) => {
                // The console closed: QEMU is ending; let it finish by itself.
                qemu.wait_for(GRACE);
                return match (panic, kept) {
                    (Some((line, _)), _) => Outcome::Panic(line),
                    (None, Some((after, _))) => Outcome::Matched(after),
                    (None, None) => Outcome::Exited(start.elapsed()),
                };
            }
        }
    }
}

fn spawn_reader(
    mut out: ChildStdout,
    console: Arc<Mutex<Console>>,
    echo: bool,
    mut log: Option<BufWriter<File>>,
    tx: Sender<Event>,
) -> JoinHandle<io::Result<()>> {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut clean = Vec::new();
        let mut log_result = Ok(());
        let send = |seen: Seen| {
            if seen.matched {
                let _ = tx.send(Event::Matched(Instant::now()));
            }
            if let Some(line) = seen.panic {
                let _ = tx.send(Event::Panic(line));
            }
            if seen.panic_end {
                let _ = tx.send(Event::PanicEnd);
            }
        };
        loop {
            let n = match out.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            clean.clear();
            let seen = console
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .feed(&buf[..n], &mut clean);
            if echo && !clean.is_empty() {
                let mut o = io::stdout().lock();
                let _ = o.write_all(&clean).and_then(|()| o.flush());
            }
            // Flushed at once: the log can be followed while the guest
            // runs (`tail -f`, a test waiting for a line).
            if let (Some(w), true) = (&mut log, log_result.is_ok()) {
                log_result = w.write_all(&clean).and_then(|()| w.flush());
            }
            send(seen);
        }
        send(
            console
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .finish(),
        );
        if let (Some(w), true) = (&mut log, log_result.is_ok()) {
            log_result = w.flush();
        }
        let _ = tx.send(Event::Eof);
        log_result
    })
}

fn check_image(profile: &QemuProfile, image: &Path) -> Result<(), QemuError> {
    let meta = std::fs::metadata(image)
        .map_err(|e| io_err(&format!("reading disk image {}", image.display()), e))?;
    if profile.drive == DriveKind::Sd && !meta.len().is_power_of_two() {
        return Err(QemuError::SdSize {
            path: image.to_owned(),
            size: meta.len(),
        });
    }
    Ok(())
}

fn io_err(what: &str, source: io::Error) -> QemuError {
    QemuError::Io {
        what: what.to_owned(),
        source,
    }
}
