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

/// Print one line on stderr, above the spinner if one is drawn.
pub fn line(text: &str) {
    let active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
    match active.as_ref() {
        Some(bar) => bar.suspend(|| eprintln!("{text}")),
        None => eprintln!("{text}"),
    }
}

/// Write raw bytes (a child's output, in verbose mode) to stderr.
pub fn raw(bytes: &[u8]) {
    use std::io::Write;
    let _g = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
    let _ = std::io::stderr().write_all(bytes);
}

/// A progress or step line: shown unless `--quiet`.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        if !$crate::ui::quiet() {
            $crate::ui::line(&format!($($arg)*))
        }
    };
}

/// A warning: shown at every level.
#[macro_export]
macro_rules! warning {
    ($($arg:tt)*) => {
        $crate::ui::line(&format!("clic: warning: {}", format_args!($($arg)*)))
    };
}

/// A detail for `--verbose` only (the commands clic runs).
#[macro_export]
macro_rules! detail {
    ($($arg:tt)*) => {
        if $crate::ui::verbose() {
            $crate::ui::line(&format!($($arg)*))
        }
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
    fn no_spinner_when_stderr_is_not_a_terminal_or_twice() {
        // Under `cargo test` stderr is captured, not a terminal.
        let s = Stage::start("bootstrap");
        assert!(s.bar.is_none());
        let inner = Stage::start("inner");
        assert!(inner.bar.is_none());
    }
}
