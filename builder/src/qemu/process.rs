//! The QEMU child process, owned by a guard: whatever happens (an error, a
//! Ctrl-C, a panicking check), dropping it sends SIGTERM, then SIGKILL after
//! `GRACE`, and reaps the process, so no QEMU is ever left behind.

use std::process::{Child, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

use crate::cmd;

/// Between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);

/// Owns the QEMU process; dropping it stops QEMU.
pub struct Qemu {
    child: Option<Child>,
    status: Option<ExitStatus>,
}

impl Qemu {
    pub fn new(child: Child) -> Qemu {
        Qemu {
            child: Some(child),
            status: None,
        }
    }

    /// The exit status if QEMU has ended (reaped at most once).
    pub fn poll(&mut self) -> Option<ExitStatus> {
        if let Some(c) = &mut self.child {
            match c.try_wait() {
                Ok(Some(s)) => {
                    self.status = Some(s);
                    self.child = None;
                }
                Ok(None) => {}
                Err(_) => self.child = None, // not our child any more
            }
        }
        self.status
    }

    pub fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while self.poll().is_none() && self.child.is_some() && start.elapsed() < limit {
            thread::sleep(Duration::from_millis(20));
        }
        self.status
    }

    /// SIGTERM, then SIGKILL after `GRACE`; reaps the process.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if self.poll().is_some() {
            return self.status;
        }
        if let Some(c) = &self.child {
            cmd::terminate(c);
        }
        if self.wait_for(GRACE).is_none() {
            if let Some(mut c) = self.child.take() {
                let _ = c.kill();
                self.status = c.wait().ok();
            }
        }
        self.status
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::Cmd;
    use std::path::Path;
    use std::process::Stdio;

    #[test]
    fn guard_kills_a_child_that_ignores_sigterm_even_in_a_panic() {
        // `exec` keeps the ignored SIGTERM: this child only dies by SIGKILL.
        let (child, _) = Cmd::new("sh")
            .args(["-c", "trap '' TERM; exec sleep 60"])
            .spawn_with(Stdio::null(), Stdio::null())
            .unwrap();
        let pid = child.id();
        thread::sleep(Duration::from_millis(300)); // let the trap be set
        let t = Instant::now();
        let unwound = std::panic::catch_unwind(move || {
            let _guard = Qemu::new(child);
            panic!("a check panicked");
        });
        assert!(unwound.is_err());
        assert!(t.elapsed() >= GRACE, "SIGKILL came before the grace period");
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "child {pid} survived"
        );
    }

    #[test]
    fn stop_keeps_the_status_of_a_child_that_ended() {
        let (child, _) = Cmd::new("sh")
            .args(["-c", "exit 3"])
            .spawn_with(Stdio::null(), Stdio::null())
            .unwrap();
        let mut q = Qemu::new(child);
        let status = q.wait_for(Duration::from_secs(5)).unwrap();
        assert_eq!(status.code(), Some(3));
        assert_eq!(q.stop().and_then(|s| s.code()), Some(3));
    }
}
