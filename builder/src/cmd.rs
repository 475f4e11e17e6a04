//! Every external command clic runs goes through here: the error names the
//! command line and carries the tail of its standard error, and a Ctrl-C or
//! SIGTERM received by clic stops the child and returns `Interrupted`.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::Duration;

use crate::interrupt;

/// How much of a failed command's stderr is kept in the error.
const STDERR_TAIL: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    #[error("could not start `{cmdline}`: {source} (is the package that provides it installed? `make deps` installs everything)")]
    Spawn {
        cmdline: String,
        source: std::io::Error,
    },
    #[error("`{cmdline}` failed ({status}){}", tail_suffix(.stderr_tail))]
    Failed {
        cmdline: String,
        status: ExitStatus,
        stderr_tail: String,
    },
    #[error("interrupted while running `{cmdline}`")]
    Interrupted { cmdline: String },
    #[error("i/o error while running `{cmdline}`: {source}")]
    Io {
        cmdline: String,
        source: std::io::Error,
    },
}

fn tail_suffix(tail: &str) -> String {
    if tail.trim().is_empty() {
        String::new()
    } else {
        format!("; its last output:\n{}", tail.trim_end())
    }
}

/// A command about to be run, with a description used in progress output.
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    cwd: Option<std::path::PathBuf>,
    /// Its output is progress (see [`Cmd::live`]).
    live: bool,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            live: false,
        }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.env
            .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_owned());
        self
    }

    /// A long step whose output is progress, not a result: its stdout and
    /// stderr are kept as the tail of an error and shown on clic's stderr
    /// with `--verbose` (never on clic's stdout).
    pub fn live(mut self, live: bool) -> Self {
        self.live = live;
        self
    }

    /// The command line for messages: a script given as one argument
    /// (`sh -c SCRIPT`) shows as its first line and the number of lines.
    pub fn cmdline(&self) -> String {
        let mut s = shell_quote(&self.program.to_string_lossy());
        for a in &self.args {
            s.push(' ');
            let a = a.to_string_lossy();
            match a.trim_end().split_once('\n') {
                Some((first, _)) => {
                    let lines = a.trim_end().lines().count();
                    s.push_str(&shell_quote(&format!("{first} … ({lines}-line script)")));
                }
                None => s.push_str(&shell_quote(&a)),
            }
        }
        s
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        if let Some(d) = &self.cwd {
            c.current_dir(d);
        }
        c.stdin(Stdio::null());
        // Its own process group: on Ctrl-C or SIGTERM clic stops the whole
        // tree (mmdebstrap -> apt -> dpkg -> maintainer scripts), not only
        // the first process, so nothing keeps running in a deleted tree.
        c.process_group(0);
        c
    }

    /// Run to completion; returns captured stdout. Nothing the child
    /// writes reaches clic's stdout, which carries only clic's result: a
    /// `live` command's stdout and stderr go through one pipe to the
    /// stderr tail (and to clic's stderr with `--verbose`), another
    /// command's stdout is captured and returned.
    pub fn run(&self) -> Result<Vec<u8>, CmdError> {
        let cmdline = self.cmdline();
        crate::detail!("clic: $ {cmdline}");
        let mut c = self.command();
        let io_err = |source| CmdError::Io {
            cmdline: cmdline.clone(),
            source,
        };
        if self.live {
            // One pipe for both: the tail of an error shows them in the
            // order the child wrote them.
            let (reader, writer) = std::io::pipe().map_err(io_err)?;
            c.stdout(writer.try_clone().map_err(io_err)?);
            c.stderr(writer);
            let spawned = c.spawn();
            // The parent's copies of the write end go with the Command, so
            // the reader sees the end of the output when the child exits.
            drop(c);
            let mut child = spawned.map_err(|source| CmdError::Spawn {
                cmdline: cmdline.clone(),
                source,
            })?;
            interrupt::track(child.id());
            let tail = thread::spawn(move || read_tail(reader, crate::ui::verbose()));
            let status = wait_interruptible(&mut child, &cmdline)?;
            let tail = tail.join().unwrap_or_default();
            return finish(cmdline, status, tail, Vec::new());
        }
        c.stderr(Stdio::piped());
        c.stdout(Stdio::piped());
        let mut child = c.spawn().map_err(|source| CmdError::Spawn {
            cmdline: cmdline.clone(),
            source,
        })?;
        interrupt::track(child.id());
        // Read both pipes on threads so neither can fill up and block the child.
        let out_reader = child.stdout.take().map(|mut o| {
            thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = o.read_to_end(&mut buf);
                buf
            })
        });
        let echo = crate::ui::verbose();
        let err_reader = child
            .stderr
            .take()
            .map(|e| thread::spawn(move || read_tail(e, echo)));
        let status = wait_interruptible(&mut child, &cmdline)?;
        let stdout = out_reader
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let stderr = err_reader
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        finish(cmdline, status, stderr, stdout)
    }

    /// Run and return stdout as a trimmed string.
    pub fn output_string(&self) -> Result<String, CmdError> {
        let out = self.run()?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    }

    /// Spawn with the given stdio set up by the caller (for QEMU and pipes).
    pub fn spawn_with(&self, stdout: Stdio, stderr: Stdio) -> Result<(Child, String), CmdError> {
        let cmdline = self.cmdline();
        let mut c = self.command();
        c.stdout(stdout).stderr(stderr);
        let child = c.spawn().map_err(|source| CmdError::Spawn {
            cmdline: cmdline.clone(),
            source,
        })?;
        // Tracked until `wait_interruptible` reaps it; a caller that waits
        // by itself leaves it tracked (killing a finished group is a no-op
        // unless its number was reused, which needs the pid reaped and
        // recycled first).
        interrupt::track(child.id());
        Ok((child, cmdline))
    }
}

/// Read a child's output to its end, keeping its last `STDERR_TAIL`
/// bytes (at most four times that in memory); with `echo`, copy it to
/// clic's stderr as it comes.
fn read_tail(mut from: impl Read, echo: bool) -> Vec<u8> {
    let mut tail: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match from.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                crate::ui::child_output(&chunk[..n], echo);
                tail.extend_from_slice(&chunk[..n]);
                if tail.len() > 4 * STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
        }
    }
    tail
}

/// The result of a finished command: its stdout, or the error with the
/// tail of what it wrote.
fn finish(
    cmdline: String,
    status: ExitStatus,
    tail: Vec<u8>,
    stdout: Vec<u8>,
) -> Result<Vec<u8>, CmdError> {
    if interrupt::requested() {
        return Err(CmdError::Interrupted { cmdline });
    }
    if !status.success() {
        let start = tail.len().saturating_sub(STDERR_TAIL);
        return Err(CmdError::Failed {
            cmdline,
            status,
            stderr_tail: String::from_utf8_lossy(&tail[start..]).into_owned(),
        });
    }
    Ok(stdout)
}

/// Wait for a child; on Ctrl-C/SIGTERM forward SIGTERM, then SIGKILL after a
/// grace period, and report `Interrupted`.
pub fn wait_interruptible(child: &mut Child, cmdline: &str) -> Result<ExitStatus, CmdError> {
    let mut signalled_at: Option<std::time::Instant> = None;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                interrupt::untrack(child.id());
                return Ok(status);
            }
            Ok(None) => {}
            Err(source) => {
                return Err(CmdError::Io {
                    cmdline: cmdline.to_owned(),
                    source,
                })
            }
        }
        if interrupt::requested() {
            match signalled_at {
                None => {
                    terminate(child);
                    signalled_at = Some(std::time::Instant::now());
                }
                Some(t) if t.elapsed() > Duration::from_secs(20) => {
                    signal_group(child, libc::SIGKILL);
                    let _ = child.kill();
                }
                Some(_) => {}
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Ask a child and every process it started to stop (SIGTERM).
pub fn terminate(child: &Child) {
    signal_group(child, libc::SIGTERM);
}

/// Send `sig` to the child's process group (children run in their own, see
/// `Cmd::command`); a group already gone is fine.
fn signal_group(child: &Child, sig: libc::c_int) {
    if let Ok(pid) = i32::try_from(child.id()) {
        #[allow(unsafe_code)] // one syscall on a process group we created; no memory involved
        unsafe {
            libc::kill(-pid, sig);
        }
    }
}

pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_shell_safe() {
        assert_eq!(shell_quote("abc-1.0/x"), "abc-1.0/x");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn failure_carries_command_and_stderr_tail() {
        let err = Cmd::new("sh")
            .args(["-c", "echo boom >&2; exit 3"])
            .run()
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("sh -c"), "{msg}");
        assert!(msg.contains("boom"), "{msg}");
        assert!(msg.contains("exit status: 3"), "{msg}");
    }

    #[test]
    fn a_script_argument_shows_as_its_first_line() {
        let c = Cmd::new("sh").args(["-c", "set -eu\necho a\necho b\n", "name", "x y"]);
        assert_eq!(c.cmdline(), "sh -c 'set -eu … (3-line script)' name 'x y'");
    }

    #[test]
    fn missing_program_says_so() {
        let err = Cmd::new("clic-no-such-program").run().unwrap_err();
        assert!(matches!(err, CmdError::Spawn { .. }));
    }

    #[test]
    fn interrupt_stops_grandchildren_too() {
        // A shell whose child would outlive it: the group is signalled.
        let (mut child, _) = Cmd::new("sh")
            .args(["-c", "sleep 300 & echo $!; wait"])
            .spawn_with(Stdio::piped(), Stdio::null())
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut buf = [0u8; 32];
        let n = out.read(&mut buf).unwrap();
        let grandchild: i32 = String::from_utf8_lossy(&buf[..n]).trim().parse().unwrap();
        terminate(&child);
        let _ = child.wait();
        std::thread::sleep(Duration::from_millis(200));
        let alive = std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false);
        assert!(!alive, "grandchild {grandchild} survived");
    }

    #[test]
    fn live_output_of_both_streams_is_in_the_error_tail() {
        let err = Cmd::new("sh")
            .args(["-c", "echo to-stdout; echo to-stderr >&2; exit 1"])
            .live(true)
            .run()
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("to-stdout\nto-stderr"), "{msg}");
    }

    #[test]
    fn live_command_returns_when_it_ends() {
        let out = Cmd::new("sh")
            .args(["-c", "echo progress"])
            .live(true)
            .run()
            .unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn stdout_is_captured() {
        let out = Cmd::new("printf").arg("x y").output_string().unwrap();
        assert_eq!(out, "x y");
    }
}
