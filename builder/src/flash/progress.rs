//! Progress of each device: counters the workers bump, and a thread that
//! shows them, as one indicatif bar per device on a terminal, or as JSON
//! lines (`--json`) for scripts and a future GUI.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Waiting = 0,
    Writing = 1,
    Verifying = 2,
    Ok = 3,
    Failed = 4,
}

impl Phase {
    fn from_u8(v: u8) -> Phase {
        match v {
            1 => Phase::Writing,
            2 => Phase::Verifying,
            3 => Phase::Ok,
            4 => Phase::Failed,
            _ => Phase::Waiting,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Phase::Waiting => "waiting",
            Phase::Writing => "write",
            Phase::Verifying => "verify",
            Phase::Ok => "ok",
            Phase::Failed => "failed",
        }
    }
}

pub struct DeviceProgress {
    pub path: String,
    phase: AtomicU8,
    /// Bytes of the current phase.
    pub done: AtomicU64,
}

impl DeviceProgress {
    pub fn set(&self, p: Phase) {
        // A new phase counts from zero; the end keeps the last count.
        if matches!(p, Phase::Writing | Phase::Verifying) {
            self.done.store(0, Ordering::Relaxed);
        }
        self.phase.store(p as u8, Ordering::Relaxed);
    }
    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Relaxed))
    }
}

pub struct Progress {
    pub devices: Vec<Arc<DeviceProgress>>,
    pub total: u64,
    json: bool,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// JSON lines go through one lock so they never interleave.
    out: Arc<Mutex<()>>,
}

/// One JSON event on stdout.
pub fn emit(lock: &Mutex<()>, v: serde_json::Value) {
    let _g = lock.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

impl Progress {
    pub fn start(paths: &[String], total: u64, json: bool) -> Progress {
        let devices: Vec<Arc<DeviceProgress>> = paths
            .iter()
            .map(|p| {
                Arc::new(DeviceProgress {
                    path: p.clone(),
                    phase: AtomicU8::new(0),
                    done: AtomicU64::new(0),
                })
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let out = Arc::new(Mutex::new(()));
        let thread = {
            let devices = devices.clone();
            let stop = Arc::clone(&stop);
            let out = Arc::clone(&out);
            std::thread::spawn(move || {
                if json {
                    json_loop(&devices, total, &stop, &out)
                } else {
                    bars_loop(&devices, total, &stop)
                }
            })
        };
        Progress {
            devices,
            total,
            json,
            stop,
            thread: Some(thread),
            out,
        }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    pub fn emit(&self, v: serde_json::Value) {
        if self.json {
            emit(&self.out, v);
        }
    }

    /// Stop the display thread (after a last update).
    pub fn finish(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn json_loop(devices: &[Arc<DeviceProgress>], total: u64, stop: &AtomicBool, out: &Mutex<()>) {
    let started = Instant::now();
    let mut last: Vec<(Phase, u64, Instant)> = devices
        .iter()
        .map(|_| (Phase::Waiting, 0, Instant::now()))
        .collect();
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        for (d, l) in devices.iter().zip(last.iter_mut()) {
            let phase = d.phase();
            let done = d.done.load(Ordering::Relaxed);
            if !matches!(phase, Phase::Writing | Phase::Verifying) {
                continue;
            }
            if (phase, done) == (l.0, l.1) {
                continue;
            }
            let secs = l.2.elapsed().as_secs_f64().max(1e-3);
            let rate = if phase == l.0 {
                ((done.saturating_sub(l.1)) as f64 / secs) as u64
            } else {
                0
            };
            emit(
                out,
                json!({"event": "progress", "device": d.path, "phase": phase.name(),
                       "done": done, "total": total, "rate": rate,
                       "elapsed": started.elapsed().as_secs_f64()}),
            );
            *l = (phase, done, Instant::now());
        }
        if stopping {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn bars_loop(devices: &[Arc<DeviceProgress>], total: u64, stop: &AtomicBool) {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4));
    let style = ProgressStyle::with_template(
        "{prefix:<14} {msg:<7} [{bar:28}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let bars: Vec<ProgressBar> = devices
        .iter()
        .map(|d| {
            let b = multi.add(ProgressBar::new(total));
            b.set_style(style.clone());
            b.set_prefix(d.path.clone());
            b.set_message("waiting");
            b
        })
        .collect();
    let terminal = !multi.is_hidden();
    let mut seen: Vec<Phase> = devices.iter().map(|_| Phase::Waiting).collect();
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        for ((d, b), s) in devices.iter().zip(&bars).zip(seen.iter_mut()) {
            let phase = d.phase();
            if phase != *s {
                if matches!(phase, Phase::Writing | Phase::Verifying) {
                    b.reset();
                }
                b.set_message(phase.name());
                if !terminal {
                    eprintln!("clic: {}: {}", d.path, phase.name());
                }
                *s = phase;
            }
            b.set_position(d.done.load(Ordering::Relaxed).min(total));
        }
        if stopping {
            for b in &bars {
                b.abandon();
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
