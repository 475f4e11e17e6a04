//! PURE: what the serial console said. Bytes arrive in arbitrary chunks (often
//! one byte at a time under TCG); terminal escapes and carriage returns are
//! removed, the recent text is kept in a rolling buffer, and the `until`
//! pattern is searched in that buffer, so a prompt without a newline
//! (`clic login: `) matches as soon as it is printed.

use regex::bytes::Regex;

/// Text kept for matching and for error messages.
const KEEP: usize = 48 * 1024;
/// Trim the buffer back to `KEEP` when it grows past this.
const MAX: usize = 64 * 1024;
/// A match must lie within the last this-many bytes (from a line start).
const WINDOW: usize = 4096;
/// A runaway escape sequence is abandoned after this many bytes.
const MAX_ESCAPE: usize = 64;

const PANIC: &[u8] = b"Kernel panic - not syncing";
const PANIC_END: &[u8] = b"end Kernel panic";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Esc {
    Text,
    /// After ESC.
    Start,
    /// `ESC [` ... final byte 0x40-0x7e.
    Csi(usize),
    /// `ESC ]` ... BEL or `ESC \`.
    Osc(usize),
    /// `ESC (` and friends take one more byte.
    Charset,
}

/// What one chunk of output changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// The pattern matched (reported once).
    pub matched: bool,
    /// The line announcing a kernel panic (reported once).
    pub panic: Option<String>,
    /// The kernel finished printing its panic report.
    pub panic_end: bool,
}

pub struct Console {
    text: Vec<u8>,
    esc: Esc,
    until: Option<Regex>,
    matched: bool,
    panicked: bool,
    /// Where the line being received starts in `text`.
    line_start: usize,
}

impl Console {
    pub fn new(until: Option<&regex::Regex>) -> Result<Console, regex::Error> {
        Ok(Console {
            text: Vec::new(),
            esc: Esc::Text,
            until: until.map(|r| Regex::new(r.as_str())).transpose()?,
            matched: false,
            panicked: false,
            line_start: 0,
        })
    }

    /// Take a chunk of raw output; `clean` receives the text kept (for the log).
    pub fn feed(&mut self, chunk: &[u8], clean: &mut Vec<u8>) -> Seen {
        let mut seen = Seen::default();
        let before = self.text.len();
        for &b in chunk {
            if let Some(b) = self.unescape(b) {
                self.text.push(b);
                clean.push(b);
                if b == b'\n' {
                    let line_end = self.text.len() - 1;
                    self.end_line(line_end, &mut seen);
                    self.line_start = self.text.len();
                }
            }
        }
        if self.text.len() > before && !self.matched {
            if let Some(re) = &self.until {
                if re.is_match(&self.text[window_start(&self.text)..]) {
                    self.matched = true;
                    seen.matched = true;
                }
            }
        }
        self.trim();
        seen
    }

    /// Output ended: a last line without newline still counts.
    pub fn finish(&mut self) -> Seen {
        let mut seen = Seen::default();
        if self.line_start < self.text.len() {
            let end = self.text.len();
            self.end_line(end, &mut seen);
            self.line_start = end;
        }
        seen
    }

    /// The last `n` lines received (the unfinished one included).
    pub fn last_lines(&self, n: usize) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.text);
        let text = text.trim_end_matches('\n');
        if text.is_empty() {
            return Vec::new();
        }
        let lines: Vec<&str> = text.split('\n').collect();
        lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(|l| l.to_string())
            .collect()
    }

    fn end_line(&mut self, end: usize, seen: &mut Seen) {
        let line = &self.text[self.line_start..end];
        if contains(line, PANIC_END) {
            seen.panic_end = true;
        }
        if !self.panicked && contains(line, PANIC) {
            self.panicked = true;
            seen.panic = Some(String::from_utf8_lossy(line).trim().to_owned());
        }
    }

    /// Terminal escapes and control characters are dropped; returns the byte
    /// to keep, if any.
    fn unescape(&mut self, b: u8) -> Option<u8> {
        const ESC: u8 = 0x1b;
        let (next, keep) = match self.esc {
            Esc::Text => match b {
                ESC => (Esc::Start, None),
                b'\n' | b'\t' => (Esc::Text, Some(b)),
                0..=0x1f | 0x7f => (Esc::Text, None),
                _ => (Esc::Text, Some(b)),
            },
            Esc::Start => match b {
                b'[' => (Esc::Csi(0), None),
                b']' => (Esc::Osc(0), None),
                b'(' | b')' | b'*' | b'+' => (Esc::Charset, None),
                _ => (Esc::Text, None),
            },
            Esc::Csi(n) if (0x40..=0x7e).contains(&b) || n > MAX_ESCAPE => (Esc::Text, None),
            Esc::Csi(n) => (Esc::Csi(n + 1), None),
            Esc::Osc(_) if b == 0x07 => (Esc::Text, None),
            Esc::Osc(_) if b == ESC => (Esc::Start, None),
            Esc::Osc(n) if n > MAX_ESCAPE => (Esc::Text, None),
            Esc::Osc(n) => (Esc::Osc(n + 1), None),
            Esc::Charset => (Esc::Text, None),
        };
        self.esc = next;
        keep
    }

    fn trim(&mut self) {
        if self.text.len() <= MAX {
            return;
        }
        let mut cut = self.text.len() - KEEP;
        if let Some(nl) = self.text[cut..].iter().position(|&b| b == b'\n') {
            cut += nl + 1;
        }
        self.text.drain(..cut);
        self.line_start = self.line_start.saturating_sub(cut);
    }
}

/// Start of the searched window: the first line start within `WINDOW` bytes
/// of the end, so that `(?m)^` still means the start of a line.
fn window_start(text: &[u8]) -> usize {
    let from = text.len().saturating_sub(WINDOW);
    if from == 0 {
        return 0;
    }
    match text[from - 1..].iter().position(|&b| b == b'\n') {
        Some(i) if from + i < text.len() => from + i,
        _ => from,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console(re: &str) -> Console {
        Console::new(Some(&regex::Regex::new(re).unwrap())).unwrap()
    }

    fn feed_all(c: &mut Console, chunks: &[&[u8]]) -> Vec<Seen> {
        chunks
            .iter()
            .map(|ch| c.feed(ch, &mut Vec::new()))
            .collect()
    }

    #[test]
    fn prompt_without_newline_matches_across_chunks() {
        let mut c = console(r"clic login: $");
        let seen = feed_all(
            &mut c,
            &[
                b"Debian GNU/Linux 12 clic ttyS0\r\n\r\ncl",
                b"ic log",
                b"in: ",
            ],
        );
        assert_eq!(
            seen.iter().map(|s| s.matched).collect::<Vec<_>>(),
            [false, false, true]
        );
        // Reported once only.
        assert!(!c.feed(b"\r\nclic login: ", &mut Vec::new()).matched);
    }

    #[test]
    fn one_byte_at_a_time_through_escapes() {
        // OVMF's shell prompt as it arrives: colours around it, no newline.
        let raw = b"\x1b[10;01H\x1b[1m\x1b[33m\x1b[40mShell> \x1b[0m\x1b[37m\x1b[40m";
        let mut c = console(r"Shell> $");
        let mut clean = Vec::new();
        let hits: Vec<usize> = (0..raw.len())
            .filter(|&i| c.feed(&raw[i..=i], &mut clean).matched)
            .collect();
        assert_eq!(hits.len(), 1);
        assert_eq!(clean, b"Shell> ");
    }

    #[test]
    fn systemd_colours_do_not_split_words() {
        let mut c = console(r"Started nginx\.service");
        let mut clean = Vec::new();
        let s = c.feed(
            b"[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mnginx.service\x1b[0m - A high\r\n",
            &mut clean,
        );
        assert!(s.matched);
        assert_eq!(clean, b"[  OK  ] Started nginx.service - A high\n");
    }

    #[test]
    fn escape_split_between_chunks_is_still_removed() {
        let mut c = console("x");
        feed_all(&mut c, &[b"a\x1b", b"[0", b";3", b"2mb\x1b(", b"Bc"]);
        assert_eq!(c.last_lines(1), ["abc"]);
    }

    #[test]
    fn kernel_panic_line_is_reported_once_with_its_end() {
        let mut c = console("login:");
        let seen = feed_all(&mut c, &[
            b"[    2.1] VFS: Cannot open root device \"sda2\"\r\n[    2.2] Kernel panic - not sy",
            b"ncing: VFS: Unable to mount root fs on unknown-block(0,0)\r\n[    2.3] CPU: 0\r\n",
            b"[    2.4] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs ]---\r\n",
        ]);
        assert_eq!(seen[0], Seen::default(), "no verdict on half a line");
        assert_eq!(
            seen[1].panic.as_deref(),
            Some("[    2.2] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)")
        );
        assert!(!seen[1].panic_end);
        assert!(seen[2].panic.is_none(), "only the first panic line");
        assert!(seen[2].panic_end);
    }

    #[test]
    fn panic_in_last_unfinished_line_is_seen_at_the_end() {
        let mut c = Console::new(None).unwrap();
        assert!(c
            .feed(
                b"Kernel panic - not syncing: Attempted to kill init!",
                &mut Vec::new()
            )
            .panic
            .is_none());
        assert!(c.finish().panic.is_some());
    }

    #[test]
    fn buffer_stays_bounded_and_keeps_recent_lines() {
        let mut c = console(r"(?m)^needle$");
        for i in 0..5000 {
            assert!(
                !c.feed(
                    format!("line {i} of boot noise\n").as_bytes(),
                    &mut Vec::new()
                )
                .matched
            );
        }
        assert!(c.text.len() <= MAX);
        assert_eq!(
            c.last_lines(2),
            ["line 4998 of boot noise", "line 4999 of boot noise"]
        );
        assert!(c.feed(b"needle\n", &mut Vec::new()).matched);
    }

    #[test]
    fn window_starts_at_a_line() {
        let mut text = vec![b'a'; WINDOW];
        text.extend_from_slice(b"\nnext line");
        let start = window_start(&text);
        assert_eq!(&text[start..], b"next line");
        assert_eq!(window_start(b"short"), 0);
    }

    #[test]
    fn last_lines_of_nothing_is_empty() {
        assert!(Console::new(None).unwrap().last_lines(30).is_empty());
    }
}
