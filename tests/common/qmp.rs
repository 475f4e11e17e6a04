//! QEMU's machine protocol (QMP), for a box booted with `clic boot --qmp
//! SOCKET`: pictures of its screen, its disk's counters, a power cut.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// QEMU's machine protocol on a Unix socket: one command, its answer.
pub struct Qmp {
    out: UnixStream,
    lines: BufReader<UnixStream>,
}

impl Qmp {
    pub fn connect(sock: &Path) -> Qmp {
        let out = UnixStream::connect(sock)
            .unwrap_or_else(|e| panic!("QMP socket {}: {e}", sock.display()));
        out.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut q = Qmp {
            lines: BufReader::new(out.try_clone().unwrap()),
            out,
        };
        let mut greeting = String::new();
        q.lines.read_line(&mut greeting).unwrap();
        assert!(greeting.contains("QMP"), "{greeting}");
        q.cmd(serde_json::json!({ "execute": "qmp_capabilities" }));
        q
    }

    pub fn cmd(&mut self, c: serde_json::Value) -> serde_json::Value {
        writeln!(self.out, "{c}").unwrap();
        loop {
            let mut line = String::new();
            self.lines.read_line(&mut line).unwrap();
            let v: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("QMP answered {line:?}: {e}"));
            // Events come in between; the answer has `return` or `error`.
            if v.get("return").is_some() {
                return v;
            }
            assert!(v.get("error").is_none(), "QMP {c}: {v}");
        }
    }

    /// The screen as a PPM file.
    pub fn screen(&mut self, file: &Path) {
        self.cmd(serde_json::json!({
            "execute": "screendump",
            "arguments": { "filename": file.to_str().unwrap() }
        }));
    }
}

/// Connect to `sock` once QEMU made it (up to `wait`).
pub fn connect_when_ready(sock: &Path, wait: Duration) -> Qmp {
    let deadline = Instant::now() + wait;
    while !sock.exists() || UnixStream::connect(sock).is_err() {
        assert!(
            Instant::now() < deadline,
            "no QMP socket at {} after {wait:?}",
            sock.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Qmp::connect(sock)
}

impl Qmp {
    /// Pull the plug: the guest stops where it is (nothing more reaches
    /// its disk), then QEMU quits.
    pub fn power_cut(&mut self) {
        self.cmd(serde_json::json!({ "execute": "stop" }));
        // QEMU may close the socket before it answers `quit`.
        let _ = writeln!(self.out, "{}", serde_json::json!({ "execute": "quit" }));
    }

    /// Bytes the guest wrote to its disks so far (all drives).
    pub fn bytes_written(&mut self) -> u64 {
        let v = self.cmd(serde_json::json!({ "execute": "query-blockstats" }));
        v["return"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d["stats"]["wr_bytes"].as_u64())
                    .sum()
            })
            .unwrap_or(0)
    }
}
