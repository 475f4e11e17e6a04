//! What `clic flash` writes, in which order, and what it verifies: pure.
//!
//! - Verification units are the bmap's ranges (each with its sha256), or
//!   64 MiB pieces of the whole image when there is no bmap.
//! - Writes are pieces of at most 4 MiB, never straddling the end of the
//!   first MiB: pieces in the first MiB (partition table, boot code,
//!   bootloader blobs) are written last, after everything else is on the
//!   card and synced, so an interrupted write never leaves a card that
//!   looks bootable. Before anything else, the first MiB is zeroed.

use crate::artifact::bmap::{Bmap, Span};

/// Bytes at the start of the device written last.
pub const HEAD: u64 = 1 << 20;
/// Largest single write.
pub const PIECE: u64 = 4 << 20;
/// Verification unit without a bmap.
pub const WHOLE_UNIT: u64 = 64 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub offset: u64,
    pub len: u64,
    /// Expected sha256 (hex), from the bmap.
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub image_size: u64,
    pub ranges: Vec<Range>,
    /// True when the ranges come from a bmap (or the image's own
    /// filesystems), false when every byte is written.
    pub sparse: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub offset: u64,
    pub len: u64,
    /// Index of the range it belongs to.
    pub range: usize,
}

impl Piece {
    pub fn is_head(&self) -> bool {
        self.offset < HEAD
    }
}

impl Plan {
    pub fn from_bmap(b: &Bmap) -> Plan {
        Plan {
            image_size: b.image_size,
            ranges: b
                .ranges
                .iter()
                .map(|r| {
                    let (offset, len) = b.byte_span(r);
                    Range {
                        offset,
                        len,
                        sha256: Some(r.sha256.clone()),
                    }
                })
                .filter(|r| r.len > 0)
                .collect(),
            sparse: true,
        }
    }

    /// Mapped byte spans without checksums (the image's own filesystems
    /// read by `artifact::mapping`), rounded to `block` on the image grid.
    pub fn from_spans(image_size: u64, spans: &[Span], block: u64) -> Plan {
        let ranges = crate::artifact::bmap::bytes_to_blocks(spans, block)
            .into_iter()
            .map(|(s, e)| {
                let offset = s * block;
                Range {
                    offset,
                    len: (e * block).min(image_size) - offset,
                    sha256: None,
                }
            })
            .filter(|r| r.len > 0)
            .collect();
        Plan {
            image_size,
            ranges,
            sparse: true,
        }
    }

    /// Every byte of the image.
    pub fn whole(image_size: u64) -> Plan {
        let mut ranges = Vec::new();
        let mut off = 0;
        while off < image_size {
            let len = WHOLE_UNIT.min(image_size - off);
            ranges.push(Range {
                offset: off,
                len,
                sha256: None,
            });
            off += len;
        }
        Plan {
            image_size,
            ranges,
            sparse: false,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.ranges.iter().map(|r| r.len).sum()
    }

    /// The writes in image order (the order the image is read in).
    pub fn pieces(&self) -> Vec<Piece> {
        let mut out = Vec::new();
        for (i, r) in self.ranges.iter().enumerate() {
            let mut off = r.offset;
            let end = r.offset + r.len;
            while off < end {
                let mut stop = (off + PIECE).min(end);
                if off < HEAD && stop > HEAD {
                    stop = HEAD;
                }
                out.push(Piece {
                    offset: off,
                    len: stop - off,
                    range: i,
                });
                off = stop;
            }
        }
        out
    }
}

/// A write's length rounded up to the device's logical block size (the
/// tail of an image whose size is not a multiple of it is padded with
/// zeros past the image's end).
pub fn padded(len: u64, lbs: u64) -> u64 {
    len.div_ceil(lbs) * lbs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::bmap::MappedRange;

    #[test]
    fn pieces_split_at_the_head_and_at_4_mib() {
        let plan = Plan {
            image_size: 100 << 20,
            ranges: vec![
                Range {
                    offset: 0,
                    len: 3 << 20,
                    sha256: None,
                },
                Range {
                    offset: 10 << 20,
                    len: 9 << 20,
                    sha256: None,
                },
            ],
            sparse: true,
        };
        let p = plan.pieces();
        let spans: Vec<(u64, u64, bool)> = p
            .iter()
            .map(|p| (p.offset >> 20, p.len >> 20, p.is_head()))
            .collect();
        assert_eq!(
            spans,
            vec![
                (0, 1, true),
                (1, 2, false),
                (10, 4, false),
                (14, 4, false),
                (18, 1, false)
            ]
        );
        assert_eq!(p[2].range, 1);
        assert_eq!(p.iter().map(|p| p.len).sum::<u64>(), plan.bytes());
    }

    #[test]
    fn from_bmap_cuts_the_last_block_at_the_image_end() {
        let b = Bmap {
            image_size: 3 * 4096 + 512,
            block_size: 4096,
            ranges: vec![MappedRange {
                first: 2,
                last: 3,
                sha256: "ab".into(),
            }],
        };
        let p = Plan::from_bmap(&b);
        assert_eq!(
            p.ranges,
            vec![Range {
                offset: 8192,
                len: 4096 + 512,
                sha256: Some("ab".into())
            }]
        );
        assert_eq!(padded(4096 + 512, 4096), 8192);
        assert_eq!(padded(4096, 512), 4096);
    }

    #[test]
    fn whole_and_spans() {
        let w = Plan::whole((130 << 20) + 7);
        assert_eq!(w.ranges.len(), 3);
        assert_eq!(w.bytes(), (130 << 20) + 7);
        assert!(!w.sparse);
        let s = Plan::from_spans(10 * 4096, &[(100, 200), (4096 * 9, 4096 * 10)], 4096);
        assert_eq!(
            s.ranges
                .iter()
                .map(|r| (r.offset, r.len))
                .collect::<Vec<_>>(),
            vec![(0, 4096), (9 * 4096, 4096)]
        );
    }
}
