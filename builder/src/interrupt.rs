//! Ctrl-C, SIGTERM and SIGHUP set a flag instead of killing clic outright, so
//! that every step can stop its children, remove its temporary files and
//! leave no half-written output behind.
//!
//! A second signal, while clic waits for its children to stop (mmdebstrap
//! finishing a package, QEMU), kills every child's process group at once
//! (SIGKILL) so that the cleanup goes on without waiting; a third exits
//! at once, after killing them again. Children run in their own process
//! groups (`cmd`), registered here while they run.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::{Mutex, OnceLock};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
static SIGNALS: AtomicUsize = AtomicUsize::new(0);
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Install the handlers once; later calls do nothing.
pub fn install() {
    if FLAG.get().is_some() {
        return;
    }
    let flag = FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)));
    let sigs = [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ];
    for sig in sigs {
        let _ = signal_hook::flag::register(sig, Arc::clone(flag));
    }
    // Counting and killing happen on a thread, not in the handler.
    if let Ok(mut signals) = signal_hook::iterator::Signals::new(sigs) {
        let _ = std::thread::Builder::new()
            .name("clic-signals".into())
            .spawn(move || {
                for _ in signals.forever() {
                    match SIGNALS.fetch_add(1, Ordering::SeqCst) + 1 {
                        1 => {}
                        2 => {
                            eprintln!(
                                "clic: stopping every child now and cleaning up (once more: quit at once)"
                            );
                            kill_groups();
                        }
                        _ => {
                            kill_groups();
                            std::process::exit(130);
                        }
                    }
                }
            });
    }
}

/// A child's process group, to be killed on a second signal.
pub fn track(pgid: u32) {
    if let (Ok(g), Ok(mut groups)) = (i32::try_from(pgid), GROUPS.lock()) {
        groups.push(g);
    }
}

/// The child is reaped: its group number may be reused.
pub fn untrack(pgid: u32) {
    if let (Ok(g), Ok(mut groups)) = (i32::try_from(pgid), GROUPS.lock()) {
        groups.retain(|x| *x != g);
    }
}

fn kill_groups() {
    let groups = GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
    for g in groups {
        if g > 1 {
            #[allow(unsafe_code)] // one syscall on a process group clic created
            unsafe {
                libc::killpg(g, libc::SIGKILL);
            }
        }
    }
}

pub fn requested() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::SeqCst))
}

#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// For long in-process loops: return early when the user asked to stop.
pub fn check() -> Result<(), Interrupted> {
    if requested() {
        Err(Interrupted)
    } else {
        Ok(())
    }
}
