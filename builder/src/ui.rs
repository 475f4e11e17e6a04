//! What clic tells the user, and how much: one verbosity level for the
//! whole process (`--quiet`, default, `--verbose`), the step lines, and
//! spinners on long stages.
//!
//! The rule of every command: standard output carries its result and
//! nothing else (an image path, a JSON document, a report); everything
//! else goes to standard error, child processes' output included.
//!
//! - quiet: errors and warnings only;
//! - normal: step and progress lines; on a terminal, a spinner with the
//!   stage's name and elapsed time while a long stage runs;
//! - verbose: also every command clic runs and its whole output.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Quiet = 0,
    Normal = 1,
    Verbose = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Normal as u8);

/// The spinner of the stage running now, if one is drawn: messages go
/// above it instead of through it.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Set the level once, from the command line (the last of `--quiet` and
/// `--verbose` given wins in clap; both are refused together).
pub fn set_level(l: Level) {
    LEVEL.store(l as u8, Ordering::Relaxed);
}

pub fn level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        0 => Level::Quiet,
        2 => Level::Verbose,
        _ => Level::Normal,
    }
}

pub fn quiet() -> bool {
    level() == Level::Quiet
}

pub fn verbose() -> bool {
    level() == Level::Verbose
}

/// The level from the two global flags.
pub fn level_from(quiet: bool, verbose: bool) -> Level {
    match (quiet, verbose) {
        (true, _) => Level::Quiet,
        (false, true) => Level::Verbose,
        _ => Level::Normal,
    }
}

/// Print one line on stderr, above the spinner if one is drawn (and in
/// the build log, if one is open).
pub fn line(text: &str) {
    log(format!("{text}\n").as_bytes());
    let active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
    match active.as_ref() {
        Some(bar) => bar.suspend(|| eprintln!("{text}")),
        None => eprintln!("{text}"),
    }
}

/// A line shown at `level` and above; always in the build log.
pub fn line_at(level: Level, text: &str) {
    if self::level() >= level {
        line(text)
    } else {
        log(format!("{text}\n").as_bytes());
    }
}

/// A child's output: in the build log, and on stderr when `echo`
/// (`--verbose`).
pub fn child_output(bytes: &[u8], echo: bool) {
    log(bytes);
    if echo {
        use std::io::Write;
        let _g = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
        let _ = std::io::stderr().write_all(bytes);
    }
}

/// The build log being written, if any.
static LOG: Mutex<Option<std::fs::File>> = Mutex::new(None);

fn log(bytes: &[u8]) {
    use std::io::Write;
    if let Some(f) = LOG.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        let _ = f.write_all(bytes);
    }
}

/// Where the full log of a build of `name` for `board` is kept: in the
/// cache, not the output directory (whose files appear only when
/// complete); the latest build's, whatever its end.
pub fn build_log_path(cache: &std::path::Path, name: &str, board: &str) -> std::path::PathBuf {
    cache.join("logs").join(format!("{name}.{board}.log"))
}

/// A build's full log: every line clic says and every child's whole
/// output, whatever the level. Written under a name of its own while the
/// build runs (two builds of one image may run at once), renamed to its
/// place when dropped: at the end of the build, failed or not.
pub struct BuildLog {
    partial: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl BuildLog {
    /// Start logging to `path`; `None` (and a warning) if it cannot be
    /// written: a build does not fail for its log.
    pub fn start(path: std::path::PathBuf) -> Option<BuildLog> {
        let partial = path.with_extension(format!("log.{}", std::process::id()));
        let opened = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::File::create(&partial));
        match opened {
            Ok(f) => {
                *LOG.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
                Some(BuildLog { partial, path })
            }
            Err(e) => {
                line(&format!(
                    "clic: warning: no build log at {}: {e}",
                    path.display()
                ));
                None
            }
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for BuildLog {
    fn drop(&mut self) {
        LOG.lock().unwrap_or_else(|e| e.into_inner()).take();
        let _ = std::fs::rename(&self.partial, &self.path);
    }
}

/// A progress or step line: shown unless `--quiet`; always in the build log.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::ui::line_at($crate::ui::Level::Normal, &format!($($arg)*))
    };
}

/// A warning: shown at every level.
#[macro_export]
macro_rules! warning {
    ($($arg:tt)*) => {
        $crate::ui::line(&format!("clic: warning: {}", format_args!($($arg)*)))
    };
}

/// A detail for `--verbose` only (the commands clic runs), and the build
/// log.
#[macro_export]
macro_rules! detail {
    ($($arg:tt)*) => {
        $crate::ui::line_at($crate::ui::Level::Verbose, &format!($($arg)*))
    };
}

/// Whether spinners are drawn: stderr is a terminal and the level is
/// normal (quiet wants nothing, verbose streams the commands' output,
/// which a spinner would cut through).
fn spinners() -> bool {
    use std::io::IsTerminal;
    level() == Level::Normal && std::io::stderr().is_terminal()
}

/// A long stage: a spinner with its name and elapsed time while it runs,
/// on a terminal; nothing otherwise (the caller's step line says it).
/// The spinner is cleared when the stage is dropped.
pub struct Stage {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Stage {
    pub fn start(name: &str) -> Stage {
        let mut active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
        // One spinner at a time: an inner stage leaves the outer one's.
        let bar = (spinners() && active.is_none()).then(|| {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.set_message(name.to_owned());
            b.enable_steady_tick(Duration::from_millis(250));
            *active = Some(b.clone());
            b
        });
        Stage {
            bar,
            started: Instant::now(),
        }
    }

    /// Change the spinner's text (the item being downloaded).
    pub fn set_message(&self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_message(msg.to_owned());
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
            let mut active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
            *active = None;
        }
    }
}

/// Exit codes, the same for every command (README: "Command-line
/// conventions").
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// The command failed (a build, a boot, a check of an image).
    pub const FAILURE: i32 = 1;
    /// Bad input or usage: an invalid spec, an unknown option (clap's
    /// own usage errors exit 2 too).
    pub const USAGE: i32 = 2;
    /// `clic flash`: some devices written, others failed.
    pub const PARTIAL: i32 = 3;
    /// Stopped by Ctrl-C, SIGTERM or SIGHUP (128 + SIGINT).
    pub const INTERRUPTED: i32 = 130;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_wins_over_verbose() {
        assert_eq!(level_from(true, true), Level::Quiet);
        assert_eq!(level_from(false, true), Level::Verbose);
        assert_eq!(level_from(false, false), Level::Normal);
    }

    #[test]
    fn the_build_log_has_every_line_and_child_output_whatever_the_level() {
        let t = tempfile::tempdir().unwrap();
        let path = build_log_path(t.path(), "clic-x", "rpi3");
        assert!(path.ends_with("logs/clic-x.rpi3.log"));
        {
            let log = BuildLog::start(path.clone()).unwrap();
            assert_eq!(log.path(), path);
            line_at(Level::Verbose, "a detail only --verbose shows");
            child_output(b"Unpacking nginx ...\n", false);
            // Written under a name of its own until the build ends.
            assert!(!path.exists());
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("a detail only --verbose shows\n"), "{text}");
        assert!(text.contains("Unpacking nginx ...\n"), "{text}");
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the log is left");
        // Closed: later lines go nowhere.
        line_at(Level::Verbose, "after");
        assert!(!std::fs::read_to_string(&path).unwrap().contains("after"));
    }

    #[test]
    fn no_spinner_when_stderr_is_not_a_terminal_or_twice() {
        // Under `cargo test` stderr is captured, not a terminal.
        let s = Stage::start("bootstrap");
        assert!(s.bar.is_none());
        let inner = Stage::start("inner");
        assert!(inner.bar.is_none());
    }
}
