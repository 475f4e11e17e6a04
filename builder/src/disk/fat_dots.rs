//! fatfs 0.3 writes a long-file-name entry in front of the "." and ".."
//! entries of every directory it creates; fsck.fat (and strict firmware)
//! expect "." and ".." in the first two slots. [`DotWatch`] wraps the
//! volume while fatfs creates directories and remembers where each "."
//! entry went; [`fix_dot_entries`] then rewrites the first four slots of
//! those directories as ".", "..", deleted, deleted. fatfs also points ".."
//! of a top-level directory at the FAT32 root cluster, where FAT wants 0.

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::rc::Rc;

const DOT_NAME: &[u8; 11] = b".          ";
const DOTDOT_NAME: &[u8; 11] = b"..         ";
const ENTRY: usize = 32;
const ATTR_OFFSET: usize = 11;
const ATTR_LFN: u8 = 0x0F;
const ATTR_DIRECTORY: u8 = 0x10;
const DELETED: u8 = 0xE5;

/// Shared between the wrapper (owned by fatfs) and the builder.
#[derive(Clone, Default)]
pub(crate) struct DotLog {
    /// Set while a directory is being created: is its parent the root?
    armed: Rc<Cell<Option<bool>>>,
    found: Rc<RefCell<Vec<DotEntry>>>,
}

/// Where a new directory's "." short name was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DotEntry {
    pub offset: u64,
    pub parent_is_root: bool,
}

impl DotLog {
    /// Watch writes only while `f` runs (a directory being created).
    pub(crate) fn watch<T>(&self, parent_is_root: bool, f: impl FnOnce() -> T) -> T {
        self.armed.set(Some(parent_is_root));
        let r = f();
        self.armed.set(None);
        r
    }

    /// The "." short names written so far.
    pub(crate) fn entries(&self) -> Vec<DotEntry> {
        self.found.borrow().clone()
    }
}

pub(crate) struct DotWatch<D> {
    inner: D,
    log: DotLog,
}

impl<D> DotWatch<D> {
    pub(crate) fn new(inner: D, log: DotLog) -> Self {
        DotWatch { inner, log }
    }
}

impl<D: Read> Read for DotWatch<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<D: Write + Seek> Write for DotWatch<D> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(parent_is_root) = self.log.armed.get() {
            if buf == DOT_NAME {
                let offset = self.inner.stream_position()?;
                self.log.found.borrow_mut().push(DotEntry {
                    offset,
                    parent_is_root,
                });
            }
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<D: Seek> Seek for DotWatch<D> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// Rewrite the directories whose "." short names were recorded by
/// [`DotWatch`] so that "." and ".." come first.
pub(crate) fn fix_dot_entries<D: Read + Write + Seek>(
    dev: &mut D,
    entries: &[DotEntry],
) -> io::Result<()> {
    for e in entries {
        let dot = e.offset;
        let base = dot
            .checked_sub(ENTRY as u64)
            .ok_or_else(|| layout_error(dot))?;
        let mut slots = [0u8; 4 * ENTRY];
        dev.seek(SeekFrom::Start(base))?;
        dev.read_exact(&mut slots)?;
        let is_lfn = |i: usize| slots[i * ENTRY + ATTR_OFFSET] == ATTR_LFN;
        let is_dir_named = |i: usize, name: &[u8; 11]| {
            &slots[i * ENTRY..i * ENTRY + 11] == name
                && slots[i * ENTRY + ATTR_OFFSET] & ATTR_DIRECTORY != 0
        };
        if !(is_lfn(0) && is_dir_named(1, DOT_NAME) && is_lfn(2) && is_dir_named(3, DOTDOT_NAME)) {
            return Err(layout_error(dot));
        }
        let mut fixed = [0u8; 4 * ENTRY];
        fixed[..ENTRY].copy_from_slice(&slots[ENTRY..2 * ENTRY]);
        fixed[ENTRY..2 * ENTRY].copy_from_slice(&slots[3 * ENTRY..]);
        if e.parent_is_root {
            // First cluster, high and low words.
            fixed[ENTRY + 20..ENTRY + 22].fill(0);
            fixed[ENTRY + 26..ENTRY + 28].fill(0);
        }
        fixed[2 * ENTRY] = DELETED;
        fixed[3 * ENTRY] = DELETED;
        dev.seek(SeekFrom::Start(base))?;
        dev.write_all(&fixed)?;
    }
    Ok(())
}

fn layout_error(at: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unexpected directory entries around byte {at} of the FAT volume"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn entry(name: &[u8; 11], attr: u8) -> [u8; ENTRY] {
        let mut e = [0u8; ENTRY];
        e[..11].copy_from_slice(name);
        e[ATTR_OFFSET] = attr;
        e[26] = 7; // first cluster, kept
        e
    }

    #[test]
    fn dots_move_to_the_front() {
        let mut v = vec![0u8; 64];
        v.extend_from_slice(&entry(b"A          ", ATTR_LFN));
        v.extend_from_slice(&entry(DOT_NAME, ATTR_DIRECTORY));
        v.extend_from_slice(&entry(b"A          ", ATTR_LFN));
        v.extend_from_slice(&entry(DOTDOT_NAME, ATTR_DIRECTORY));
        let mut c = Cursor::new(v);
        let at = |parent_is_root| DotEntry {
            offset: 96,
            parent_is_root,
        };
        fix_dot_entries(&mut c.clone(), &[at(false)]).unwrap();
        fix_dot_entries(&mut c, &[at(true)]).unwrap();
        let v = c.into_inner();
        assert_eq!(&v[64..96], &entry(DOT_NAME, ATTR_DIRECTORY));
        let mut dotdot = entry(DOTDOT_NAME, ATTR_DIRECTORY);
        dotdot[26] = 0; // parent is the root: cluster 0
        assert_eq!(&v[96..128], &dotdot);
        assert_eq!(v[128], DELETED);
        assert_eq!(v[160], DELETED);
        // Anything else is refused rather than damaged.
        assert!(fix_dot_entries(&mut Cursor::new(v), &[at(false)]).is_err());
    }

    #[test]
    fn only_armed_writes_are_recorded() {
        let log = DotLog::default();
        let mut w = DotWatch::new(Cursor::new(vec![0u8; 64]), log.clone());
        w.write_all(DOT_NAME).unwrap();
        log.watch(true, || {
            w.seek(SeekFrom::Start(32)).unwrap();
            w.write_all(DOT_NAME).unwrap();
        });
        let want = DotEntry {
            offset: 32,
            parent_is_root: true,
        };
        assert_eq!(log.entries(), vec![want]);
    }
}
