//! Writing to and reading back from a device.
//!
//! Sync strategy: the device is opened with `O_DIRECT` (and `O_EXCL`, so
//! the kernel itself refuses a device that is mounted or claimed), every
//! write goes from an aligned buffer straight to the device, and
//! `fdatasync` is called after the body of the image and again at the end.
//! Why: with the page cache in the way, a 4 GiB write to a slow SD card
//! "finishes" in seconds and then spends minutes in the kernel's dirty
//! pages (progress bars lie, memory fills with several cards at once, and
//! pulling the card early corrupts it); `O_DIRECT` makes progress the
//! device's real progress and keeps memory flat. `O_DIRECT` alone does not
//! empty the device's own write cache: `fdatasync` sends the flush that
//! does. Read-back verification also uses `O_DIRECT`, so it reads the
//! device, not pages cached while writing.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::plan::{padded, Plan, HEAD, PIECE};

/// Memory aligned for `O_DIRECT` (4096 covers every logical block size).
pub struct AlignedBuf {
    raw: Vec<u8>,
    off: usize,
    cap: usize,
}

const ALIGN: usize = 4096;

impl AlignedBuf {
    pub fn new(cap: usize) -> AlignedBuf {
        let raw = vec![0u8; cap + ALIGN];
        let off = raw.as_ptr().align_offset(ALIGN);
        AlignedBuf { raw, off, cap }
    }

    pub fn get(&mut self, len: usize) -> &mut [u8] {
        let len = len.min(self.cap);
        &mut self.raw[self.off..self.off + len]
    }
}

pub struct Device {
    pub path: PathBuf,
    pub file: File,
    pub lbs: u64,
    pub size: u64,
}

/// Open a whole block device for direct, exclusive I/O.
pub fn open(path: &Path, write: bool, lbs: u64, size: u64) -> io::Result<Device> {
    let file = OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_DIRECT | libc::O_EXCL)
        .open(path)?;
    Ok(Device {
        path: path.to_owned(),
        file,
        lbs: lbs.max(512),
        size,
    })
}

/// One piece of the image, shared by every writer.
pub struct Chunk {
    pub offset: u64,
    pub data: Vec<u8>,
}

pub enum Msg {
    Data(Arc<Chunk>),
    /// Flush what was written so far (before the first MiB goes out).
    Sync,
    /// Everything was sent: flush and finish.
    Done,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("writing at byte {offset}: {source}")]
    Write { offset: u64, source: io::Error },
    #[error("flushing the device: {0}")]
    Sync(io::Error),
    #[error("stopped before the end (the first MiB is left zeroed: the card will not boot)")]
    Aborted,
}

impl Device {
    fn write_at(&self, buf: &mut AlignedBuf, data: &[u8], offset: u64) -> Result<(), WriteError> {
        let len = padded(data.len() as u64, self.lbs) as usize;
        let b = buf.get(len);
        b[..data.len()].copy_from_slice(data);
        b[data.len()..].fill(0);
        self.file
            .write_all_at(b, offset)
            .map_err(|source| WriteError::Write { offset, source })
    }

    pub fn sync(&self) -> Result<(), WriteError> {
        self.file.sync_data().map_err(WriteError::Sync)
    }

    /// Zero the first MiB (or the whole device if smaller) and flush: a
    /// card whose write is interrupted has no partition table.
    pub fn wipe_head(&self) -> Result<(), WriteError> {
        let len = HEAD.min(self.size - self.size % self.lbs) as usize;
        let mut buf = AlignedBuf::new(len);
        let zeros = vec![0u8; len];
        self.write_at(&mut buf, &zeros, 0)?;
        self.sync()
    }
}

/// A writer thread's work: wipe the head, write what comes, flush on
/// `Sync` and `Done`. `done` counts bytes written.
pub fn write_all(dev: &Device, rx: Receiver<Msg>, done: &AtomicU64) -> Result<(), WriteError> {
    dev.wipe_head()?;
    let mut buf = AlignedBuf::new(padded(PIECE, dev.lbs) as usize);
    loop {
        match rx.recv() {
            Ok(Msg::Data(c)) => {
                dev.write_at(&mut buf, &c.data, c.offset)?;
                done.fetch_add(c.data.len() as u64, Ordering::Relaxed);
            }
            Ok(Msg::Sync) => dev.sync()?,
            Ok(Msg::Done) => return dev.sync(),
            Err(_) => {
                let _ = dev.sync();
                return Err(WriteError::Aborted);
            }
        }
    }
}

/// Read every range of `plan` back and compare its sha256 with
/// `expected`; returns the indices of the ranges that differ. `done`
/// counts bytes read; `stop` is polled between pieces.
pub fn verify(
    dev: &Device,
    plan: &Plan,
    expected: &[String],
    done: &AtomicU64,
    stop: &dyn Fn() -> bool,
) -> io::Result<Vec<usize>> {
    let mut buf = AlignedBuf::new(padded(PIECE, dev.lbs) as usize);
    let mut bad = Vec::new();
    for (i, r) in plan.ranges.iter().enumerate() {
        let mut h = Sha256::new();
        let mut off = r.offset;
        let end = r.offset + r.len;
        while off < end {
            if stop() {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
            }
            let n = PIECE.min(end - off);
            let b = buf.get(padded(n, dev.lbs) as usize);
            dev.file.read_exact_at(b, off)?;
            h.update(&b[..n as usize]);
            done.fetch_add(n, Ordering::Relaxed);
            off += n;
        }
        if expected.get(i).map(String::as_str) != Some(hex::encode(h.finalize()).as_str()) {
            bad.push(i);
        }
    }
    Ok(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned() {
        for cap in [512, 4096, 1 << 20] {
            let mut b = AlignedBuf::new(cap);
            let s = b.get(cap);
            assert_eq!(s.len(), cap);
            assert_eq!(s.as_ptr() as usize % ALIGN, 0);
        }
    }
}
