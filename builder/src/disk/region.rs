//! A window `[offset, offset + len)` of a larger stream, seen as a stream of
//! its own: how a filesystem library writes into one partition of an image.

use std::io::{self, Read, Seek, SeekFrom, Write};

pub struct Region<'a, F> {
    inner: &'a mut F,
    offset: u64,
    len: u64,
    pos: u64,
}

impl<'a, F: Seek> Region<'a, F> {
    /// A region of `inner` starting at byte `offset`, `len` bytes long,
    /// positioned at its start.
    pub fn new(inner: &'a mut F, offset: u64, len: u64) -> io::Result<Self> {
        offset
            .checked_add(len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "region end overflows"))?;
        Ok(Region {
            inner,
            offset,
            len,
            pos: 0,
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn seek_inner(&mut self) -> io::Result<()> {
        self.inner.seek(SeekFrom::Start(self.offset + self.pos))?;
        Ok(())
    }
}

impl<F: Read + Seek> Read for Region<'_, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = clamp(buf.len(), self.remaining());
        if n == 0 {
            return Ok(0);
        }
        self.seek_inner()?;
        let got = self.inner.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl<F: Write + Seek> Write for Region<'_, F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = clamp(buf.len(), self.remaining());
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!(
                    "write beyond the end of a {}-byte region at offset {}",
                    self.len, self.offset
                ),
            ));
        }
        self.seek_inner()?;
        let put = self.inner.write(&buf[..n])?;
        self.pos += put as u64;
        Ok(put)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<F: Seek> Seek for Region<'_, F> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            // Like a file, allow positions past the end; reads there return
            // 0 bytes and writes fail.
            Some(p) if p.checked_add(self.offset).is_some() => {
                self.pos = p;
                Ok(p)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of a region",
            )),
        }
    }
}

fn clamp(want: usize, remaining: u64) -> usize {
    usize::try_from(remaining).map_or(want, |r| want.min(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn reads_and_writes_stay_inside() {
        let mut c = Cursor::new(vec![0u8; 32]);
        {
            let mut r = Region::new(&mut c, 8, 8).unwrap();
            assert_eq!(r.seek(SeekFrom::End(0)).unwrap(), 8);
            r.seek(SeekFrom::Start(0)).unwrap();
            r.write_all(b"abcdefgh").unwrap();
            let err = r.write(b"x").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::WriteZero);
            r.seek(SeekFrom::Current(-3)).unwrap();
            let mut buf = [0u8; 10];
            assert_eq!(r.read(&mut buf).unwrap(), 3);
            assert_eq!(&buf[..3], b"fgh");
            assert_eq!(r.read(&mut buf).unwrap(), 0);
            assert!(r.seek(SeekFrom::Current(-100)).is_err());
        }
        let v = c.into_inner();
        assert_eq!(&v[8..16], b"abcdefgh");
        assert!(v[..8].iter().chain(&v[16..]).all(|&b| b == 0));
    }
}
