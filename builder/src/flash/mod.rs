//! `clic flash`: write one image to several devices at once, from one read
//! of the image, then read each device back and check it.
//!
//! Order on every device: the first MiB is zeroed and flushed; the mapped
//! blocks after the first MiB are written; flush; the first MiB's mapped
//! blocks (partition table, boot code, bootloader blobs) are written;
//! flush; every mapped range is read back with `O_DIRECT` and its sha256
//! compared. A device that fails verification gets its first MiB zeroed
//! again, so a damaged card never boots half-broken. See `io.rs` for the
//! sync strategy, `plan.rs` for the order, `device.rs` for the refusals.

pub mod device;
pub mod io;
pub mod plan;
pub mod probe;
pub mod progress;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::artifact::{bmap, mapping};
use crate::interrupt;
use device::DeviceFacts;
use io::{Chunk, Msg};
use plan::Plan;
use progress::{Phase, Progress};

/// Test hook: with `CLIC_FLASH_TEST_PAUSE=DIR`, `clic flash` creates
/// `DIR/written` once every device is written and flushed, and waits for
/// `DIR/resume` before verifying (the flash tests damage a device there).
/// When `DIR/pause-before-open` exists, it also creates `DIR/confirmed`
/// after the confirmation and waits for `DIR/open` before opening the
/// devices (the tests swap a device there).
pub const TEST_PAUSE_ENV: &str = "CLIC_FLASH_TEST_PAUSE";

#[derive(Debug, thiserror::Error)]
pub enum FlashError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Image(String),
    #[error("bmap {path}: {source}")]
    Bmap {
        path: PathBuf,
        source: bmap::BmapError,
    },
    #[error("the image does not match its bmap: range at byte {offset} ({len} bytes) has sha256 {found}, the bmap says {expected}; nothing bootable was written (the first MiB of each device is zeroed)")]
    Mismatch {
        offset: u64,
        len: u64,
        found: String,
        expected: String,
    },
    #[error("interrupted before the devices were verified: their first MiB is zeroed, they will not boot; flash them again")]
    Interrupted,
}

fn ioerr(path: &Path) -> impl Fn(std::io::Error) -> FlashError + '_ {
    move |source| FlashError::Io {
        path: path.to_owned(),
        source,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Zstd,
}

/// `.img` or `.img.zst`; other compressions are refused with a hint.
pub fn compression(path: &Path) -> Result<Compression, FlashError> {
    let name = path.to_string_lossy();
    if name.ends_with(".zst") {
        Ok(Compression::Zstd)
    } else if name.ends_with(".xz") || name.ends_with(".gz") || name.ends_with(".zip") {
        Err(FlashError::Image(format!(
            "{name}: clic flash reads .img and .img.zst; decompress it first (xz -dk / gunzip -k / unzip)"
        )))
    } else {
        Ok(Compression::None)
    }
}

/// `NAME.img.bmap` (or `NAME.bmap`) next to `NAME.img` or `NAME.img.zst`.
pub fn bmap_beside(image: &Path) -> Option<PathBuf> {
    let name = image.file_name()?.to_string_lossy().into_owned();
    let img = name.strip_suffix(".zst").unwrap_or(&name);
    let stem = img.strip_suffix(".img").unwrap_or(img);
    [format!("{img}.bmap"), format!("{stem}.bmap")]
        .into_iter()
        .map(|n| image.with_file_name(n))
        .find(|p| p.is_file())
}

/// Where the write plan comes from.
pub enum BmapChoice {
    /// The `.bmap` next to the image if there is one.
    Auto,
    File(PathBuf),
    /// Ignore any bmap: map the image's filesystems (raw image) or write
    /// every byte (compressed image).
    None,
}

pub struct Options {
    pub image: PathBuf,
    pub bmap: BmapChoice,
    pub json: bool,
    /// Only read the devices back and compare (no write).
    pub verify_only: bool,
}

/// The plan and where it came from, for messages.
pub struct Prepared {
    pub plan: Plan,
    pub source: String,
    pub compression: Compression,
}

/// Work out what to write: from the bmap, else from the image's own
/// filesystems (raw image), else every byte (compressed, no bmap).
pub fn prepare(o: &Options) -> Result<Prepared, FlashError> {
    let comp = compression(&o.image)?;
    let meta = std::fs::metadata(&o.image).map_err(ioerr(&o.image))?;
    if !meta.is_file() {
        return Err(FlashError::Image(format!(
            "{} is not an image file",
            o.image.display()
        )));
    }
    let bmap_path = match &o.bmap {
        BmapChoice::Auto => bmap_beside(&o.image),
        BmapChoice::File(p) => Some(p.clone()),
        BmapChoice::None => None,
    };
    if let Some(p) = bmap_path {
        let text = std::fs::read_to_string(&p).map_err(ioerr(&p))?;
        let b = bmap::parse(&text).map_err(|source| FlashError::Bmap {
            path: p.clone(),
            source,
        })?;
        if comp == Compression::None && b.image_size != meta.len() {
            return Err(FlashError::Image(format!(
                "{} is {} bytes but its bmap {} describes {} bytes: not the same image",
                o.image.display(),
                meta.len(),
                p.display(),
                b.image_size
            )));
        }
        return Ok(Prepared {
            plan: Plan::from_bmap(&b),
            source: format!("bmap {}", p.display()),
            compression: comp,
        });
    }
    match comp {
        Compression::None => {
            let m = mapping::map_image(&o.image).map_err(|e| FlashError::Image(e.to_string()))?;
            Ok(Prepared {
                plan: Plan::from_spans(m.image_size, &m.spans, bmap::BLOCK_SIZE),
                source: "the image's filesystems (no .bmap beside it)".into(),
                compression: comp,
            })
        }
        Compression::Zstd => {
            let size = zstd_content_size(&o.image)?;
            Ok(Prepared {
                plan: Plan::whole(size),
                source: "every byte (compressed image without a .bmap)".into(),
                compression: comp,
            })
        }
    }
}

/// The uncompressed size a zstd frame header declares (clic writes it).
fn zstd_content_size(path: &Path) -> Result<u64, FlashError> {
    let mut head = vec![0u8; 18];
    let mut f = File::open(path).map_err(ioerr(path))?;
    let n = f.read(&mut head).map_err(ioerr(path))?;
    match zstd::zstd_safe::get_frame_content_size(&head[..n]) {
        Ok(Some(size)) => Ok(size),
        _ => Err(FlashError::Image(format!(
            "{}: its uncompressed size is not recorded; put its .bmap next to it, or decompress it (zstd -d)",
            path.display()
        ))),
    }
}

/// The image as a stream, with the ability to skip forward.
struct Source {
    inner: Box<dyn Read + Send>,
    file: Option<File>,
    pos: u64,
}

impl Source {
    fn open(path: &Path, comp: Compression) -> Result<Source, FlashError> {
        let f = File::open(path).map_err(ioerr(path))?;
        Ok(match comp {
            Compression::None => Source {
                inner: Box::new(std::io::empty()),
                file: Some(f),
                pos: 0,
            },
            Compression::Zstd => Source {
                inner: Box::new(zstd::stream::read::Decoder::new(f).map_err(ioerr(path))?),
                file: None,
                pos: 0,
            },
        })
    }

    fn reader(&mut self) -> &mut dyn Read {
        match &mut self.file {
            Some(f) => f,
            None => &mut self.inner,
        }
    }

    fn skip_to(&mut self, offset: u64, scratch: &mut [u8]) -> std::io::Result<()> {
        if let Some(f) = &mut self.file {
            f.seek(SeekFrom::Start(offset))?;
            self.pos = offset;
            return Ok(());
        }
        while self.pos < offset {
            let n = (offset - self.pos).min(scratch.len() as u64) as usize;
            self.inner.read_exact(&mut scratch[..n])?;
            self.pos += n as u64;
        }
        Ok(())
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        self.reader().read_exact(buf)?;
        self.pos += buf.len() as u64;
        Ok(())
    }
}

/// Read the image once, along the plan; send each piece to every writer
/// (the first MiB's pieces after a `Sync`, at the end); return the sha256
/// of every range. With no writers this only hashes (`--verify-only`).
fn read_and_send(
    image: &Path,
    comp: Compression,
    plan: &Plan,
    txs: &mut [Option<SyncSender<Msg>>],
) -> Result<Vec<String>, FlashError> {
    let mut src = Source::open(image, comp)?;
    let mut scratch = vec![0u8; 1 << 20];
    let mut hashes = Vec::with_capacity(plan.ranges.len());
    let mut current: Option<(usize, Sha256)> = None;
    let mut held: Vec<Arc<Chunk>> = Vec::new();
    let pieces = plan.pieces();
    for (k, p) in pieces.iter().enumerate() {
        if interrupt::requested() {
            return Err(FlashError::Interrupted);
        }
        src.skip_to(p.offset, &mut scratch).map_err(ioerr(image))?;
        let mut data = vec![0u8; p.len as usize];
        src.read_exact(&mut data).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                FlashError::Image(format!(
                    "{} ends before byte {}: truncated image?",
                    image.display(),
                    p.offset + p.len
                ))
            } else {
                FlashError::Io {
                    path: image.to_owned(),
                    source: e,
                }
            }
        })?;
        if current.as_ref().map(|c| c.0) != Some(p.range) {
            current = Some((p.range, Sha256::new()));
        }
        if let Some((_, h)) = &mut current {
            h.update(&data);
        }
        let last_of_range = pieces.get(k + 1).is_none_or(|n| n.range != p.range);
        if last_of_range {
            if let Some((i, h)) = current.take() {
                let found = hex::encode(h.finalize());
                let r = &plan.ranges[i];
                if let Some(expected) = &r.sha256 {
                    if *expected != found {
                        return Err(FlashError::Mismatch {
                            offset: r.offset,
                            len: r.len,
                            found,
                            expected: expected.clone(),
                        });
                    }
                }
                hashes.push(found);
            }
        }
        let chunk = Arc::new(Chunk {
            offset: p.offset,
            data,
        });
        if p.is_head() {
            held.push(chunk);
        } else {
            send(txs, Msg::Data(chunk));
        }
    }
    send(txs, Msg::Sync);
    for c in held {
        send(txs, Msg::Data(c));
    }
    send(txs, Msg::Done);
    Ok(hashes)
}

/// Send to every writer still alive; a writer that stopped (its error is
/// collected when it is joined) is dropped from the list.
fn send(txs: &mut [Option<SyncSender<Msg>>], msg: Msg) {
    for slot in txs.iter_mut() {
        let Some(tx) = slot else { continue };
        let m = match &msg {
            Msg::Data(c) => Msg::Data(Arc::clone(c)),
            Msg::Sync => Msg::Sync,
            Msg::Done => Msg::Done,
        };
        if tx.send(m).is_err() {
            *slot = None;
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceResult {
    pub device: String,
    pub ok: bool,
    /// What went wrong, in words.
    pub error: Option<String>,
    /// Ranges whose read-back differs: `[offset, length]` in bytes.
    pub bad_ranges: Vec<(u64, u64)>,
    pub write_seconds: f64,
    pub verify_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub image: String,
    pub image_size: u64,
    /// Bytes written to (and read back from) each device.
    pub mapped: u64,
    pub plan: String,
    pub devices: Vec<DeviceResult>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.devices.iter().all(|d| d.ok)
    }
}

/// Ctrl-C after the writes: the cards are written but not verified, so
/// their first MiB is zeroed again (an unverified card must not boot).
fn stop_unverified(open: &[Option<io::Device>], verify_only: bool) -> FlashError {
    if !verify_only {
        for dev in open.iter().flatten() {
            let _ = dev.wipe_head();
        }
    }
    FlashError::Interrupted
}

fn pause_before_open() {
    let Some(dir) = std::env::var_os(TEST_PAUSE_ENV).map(PathBuf::from) else {
        return;
    };
    if !dir.join("pause-before-open").exists() {
        return;
    }
    let _ = std::fs::write(dir.join("confirmed"), "");
    let t = Instant::now();
    while !dir.join("open").exists() && t.elapsed() < Duration::from_secs(300) {
        if interrupt::requested() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_test_hook(results: &[DeviceResult]) {
    let Some(dir) = std::env::var_os(TEST_PAUSE_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let names: Vec<&str> = results.iter().map(|r| r.device.as_str()).collect();
    let _ = std::fs::write(dir.join("written"), names.join("\n"));
    let t = Instant::now();
    while !dir.join("resume").exists() && t.elapsed() < Duration::from_secs(300) {
        if interrupt::requested() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Write (unless `verify_only`) and verify every device. `devices` were
/// checked by the caller (`device::refusals`) and confirmed.
pub fn flash(
    o: &Options,
    prepared: &Prepared,
    devices: &[DeviceFacts],
) -> Result<Report, FlashError> {
    let plan = &prepared.plan;
    let paths: Vec<String> = devices.iter().map(|d| d.path.clone()).collect();
    let mut progress = Progress::start(&paths, plan.bytes(), o.json);
    progress.emit(json!({
        "event": "start", "image": o.image.display().to_string(),
        "image_size": plan.image_size, "mapped": plan.bytes(), "plan": prepared.source,
        "verify_only": o.verify_only, "devices": devices,
    }));
    let mut results: Vec<DeviceResult> = devices
        .iter()
        .map(|d| DeviceResult {
            device: d.path.clone(),
            ok: false,
            error: None,
            bad_ranges: vec![],
            write_seconds: 0.0,
            verify_seconds: 0.0,
        })
        .collect();
    pause_before_open();
    // Open every device first: O_EXCL fails on one mounted in the meantime.
    // Then make sure each is still the device that was checked and shown
    // at the confirmation (a card swapped, a loop device re-attached, a
    // name given to another disk): the open file's own device number, and
    // the path's size, model and serial read again.
    let mut open: Vec<Option<io::Device>> = Vec::new();
    for (d, r) in devices.iter().zip(results.iter_mut()) {
        let opened = io::open(
            Path::new(&d.path),
            !o.verify_only,
            d.logical_block_size,
            d.size,
        )
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::EBUSY) {
                "is busy (mounted or in use by another program)".to_owned()
            } else {
                format!("cannot be opened: {e}")
            }
        })
        .and_then(|dev| {
            // What the path is now, with the device number of the file
            // actually opened (the one that will be written).
            let mut now = probe::probe(Path::new(&d.path));
            let m = dev
                .file
                .metadata()
                .map_err(|e| format!("cannot be read: {e}"))?;
            now.devnum = {
                use std::os::unix::fs::MetadataExt;
                format!("{}:{}", libc::major(m.rdev()), libc::minor(m.rdev()))
            };
            match device::changed(d, &now) {
                Some(why) => Err(why),
                None => Ok(dev),
            }
        });
        match opened {
            Ok(dev) => open.push(Some(dev)),
            Err(e) => {
                r.error = Some(e);
                progress.devices[open.len()].set(Phase::Failed);
                open.push(None);
            }
        }
    }

    let started = Instant::now();
    let hashes = std::thread::scope(|s| -> Result<Vec<String>, FlashError> {
        let mut txs: Vec<Option<SyncSender<Msg>>> = Vec::new();
        let mut handles = Vec::new();
        for (i, dev) in open.iter().enumerate() {
            let Some(dev) = dev.as_ref().filter(|_| !o.verify_only) else {
                txs.push(None);
                handles.push(None);
                continue;
            };
            let (tx, rx) = sync_channel::<Msg>(8);
            txs.push(Some(tx));
            let p = Arc::clone(&progress.devices[i]);
            p.set(Phase::Writing);
            handles.push(Some(s.spawn(move || io::write_all(dev, rx, &p.done))));
        }
        let read = read_and_send(&o.image, prepared.compression, plan, &mut txs);
        drop(txs);
        for (i, h) in handles.into_iter().enumerate() {
            let Some(h) = h else { continue };
            let r = h.join().unwrap_or(Err(io::WriteError::Aborted));
            results[i].write_seconds = started.elapsed().as_secs_f64();
            if let Err(e) = r {
                if read.is_ok() {
                    results[i].error = Some(format!("write failed: {e}"));
                    progress.devices[i].set(Phase::Failed);
                }
            }
        }
        read
    })?;

    if !o.verify_only {
        wait_for_test_hook(&results);
    }
    if interrupt::requested() {
        return Err(stop_unverified(&open, o.verify_only));
    }

    let verify_started = Instant::now();
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for (i, dev) in open.iter().enumerate() {
            let Some(dev) = dev.as_ref().filter(|_| results[i].error.is_none()) else {
                handles.push(None);
                continue;
            };
            let p = Arc::clone(&progress.devices[i]);
            p.set(Phase::Verifying);
            let hashes = &hashes;
            handles.push(Some(s.spawn(move || {
                io::verify(dev, plan, hashes, &p.done, &interrupt::requested)
            })));
        }
        for (i, h) in handles.into_iter().enumerate() {
            let Some(h) = h else { continue };
            let joined = h.join();
            let r = &mut results[i];
            r.verify_seconds = verify_started.elapsed().as_secs_f64();
            match joined {
                Ok(Ok(bad)) if bad.is_empty() => r.ok = true,
                Ok(Ok(bad)) => {
                    r.bad_ranges = bad
                        .iter()
                        .map(|&k| (plan.ranges[k].offset, plan.ranges[k].len))
                        .collect();
                    r.error = Some(format!(
                        "verification failed: {} range(s) read back differ from the image, first at byte {}",
                        bad.len(),
                        r.bad_ranges[0].0
                    ));
                }
                Ok(Err(e)) => r.error = Some(format!("reading back: {e}")),
                Err(_) => r.error = Some("reading back: the verifier crashed".into()),
            }
        }
    });
    if interrupt::requested() {
        return Err(stop_unverified(&open, o.verify_only));
    }
    for (i, dev) in open.iter().enumerate() {
        let r = &mut results[i];
        let p = &progress.devices[i];
        p.set(if r.ok { Phase::Ok } else { Phase::Failed });
        if let (false, false, Some(dev)) = (r.ok, o.verify_only, dev) {
            // A card that failed must not boot half-broken.
            if dev.wipe_head().is_ok() {
                if let Some(e) = &mut r.error {
                    e.push_str("; its first MiB was zeroed so it will not boot");
                }
            }
        }
    }
    drop(open);
    if !o.verify_only {
        for r in &results {
            // Let the kernel see the new partition table (best effort:
            // loop devices without partition scanning refuse, harmlessly).
            let _ = crate::cmd::Cmd::new("blockdev")
                .args(["--rereadpt", &r.device])
                .run();
        }
    }
    for r in &results {
        progress.emit(json!({"event": "device", "device": r.device, "ok": r.ok,
            "error": r.error, "bad_ranges": r.bad_ranges,
            "write_seconds": r.write_seconds, "verify_seconds": r.verify_seconds}));
    }
    progress.finish();
    Ok(Report {
        image: o.image.display().to_string(),
        image_size: plan.image_size,
        mapped: plan.bytes(),
        plan: prepared.source.clone(),
        devices: results,
    })
}
