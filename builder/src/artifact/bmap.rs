//! `NAME.img.bmap`: the block map bmaptool reads (format version 2.0): the
//! image size, the block size, and the mapped block ranges, each with the
//! sha256 of its bytes, plus the sha256 of the bmap file itself (computed
//! with that field set to zeros). Everything here is pure: byte ranges in,
//! XML out, and back.

use std::fmt::Write as _;

pub const VERSION: &str = "2.0";
/// bmaptool's block size, and ours.
pub const BLOCK_SIZE: u64 = 4096;

/// A half-open byte or block range, `start..end`.
pub type Span = (u64, u64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bmap {
    pub image_size: u64,
    pub block_size: u64,
    pub ranges: Vec<MappedRange>,
}

/// Blocks `first..=last` (inclusive, as the file writes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedRange {
    pub first: u64,
    pub last: u64,
    pub sha256: String,
}

impl Bmap {
    pub fn blocks_count(&self) -> u64 {
        self.image_size.div_ceil(self.block_size)
    }

    pub fn mapped_blocks(&self) -> u64 {
        self.ranges.iter().map(|r| r.last - r.first + 1).sum()
    }

    /// Bytes the mapped ranges cover (the last block cut at the image end).
    pub fn mapped_bytes(&self) -> u64 {
        self.ranges.iter().map(|r| self.byte_span(r).1).sum()
    }

    /// `(offset, length)` in bytes of a range.
    pub fn byte_span(&self, r: &MappedRange) -> (u64, u64) {
        let start = r.first * self.block_size;
        let end = ((r.last + 1) * self.block_size).min(self.image_size);
        (start, end.saturating_sub(start))
    }
}

/// Sort, drop empty spans and merge the ones that overlap or touch.
pub fn normalise(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|(s, e)| e > s);
    spans.sort_unstable();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// The parts of `within` that no span of `spans` (normalised) covers.
pub fn complement(spans: &[Span], within: Span) -> Vec<Span> {
    let mut out = Vec::new();
    let mut pos = within.0;
    for &(s, e) in spans {
        if e <= pos || s >= within.1 {
            continue;
        }
        if s > pos {
            out.push((pos, s));
        }
        pos = pos.max(e);
    }
    if pos < within.1 {
        out.push((pos, within.1));
    }
    out
}

/// Byte spans -> the block spans that cover them (rounded outwards: a block
/// that holds one mapped byte is mapped), normalised.
pub fn bytes_to_blocks(spans: &[Span], block_size: u64) -> Vec<Span> {
    normalise(
        spans
            .iter()
            .map(|&(s, e)| (s / block_size, e.div_ceil(block_size)))
            .collect(),
    )
}

/// The sha256 placeholder the file checksum is computed over.
const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The XML text, with its own checksum filled in.
pub fn to_xml(b: &Bmap) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<?xml version=\"1.0\" ?>\n\
         <!-- Written by clic {}. Block map of a disk image: the blocks that\n     \
         hold data (free space inside its ext4 and FAT filesystems is\n     \
         not mapped). Read by bmaptool and `clic flash`. -->\n\
         <bmap version=\"{VERSION}\">\n    \
         <ImageSize> {} </ImageSize>\n    \
         <BlockSize> {} </BlockSize>\n    \
         <BlocksCount> {} </BlocksCount>\n    \
         <MappedBlocksCount> {} </MappedBlocksCount>\n    \
         <ChecksumType> sha256 </ChecksumType>\n    \
         <BmapFileChecksum> {ZEROS} </BmapFileChecksum>\n    \
         <BlockMap>\n",
        env!("CARGO_PKG_VERSION"),
        b.image_size,
        b.block_size,
        b.blocks_count(),
        b.mapped_blocks(),
    );
    for r in &b.ranges {
        let blocks = if r.first == r.last {
            r.first.to_string()
        } else {
            format!("{}-{}", r.first, r.last)
        };
        let _ = writeln!(
            s,
            "        <Range chksum=\"{}\"> {blocks} </Range>",
            r.sha256
        );
    }
    s.push_str("    </BlockMap>\n</bmap>\n");
    let sum = crate::artifact::sums::sha256_hex(s.as_bytes());
    s.replacen(ZEROS, &sum, 1)
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BmapError {
    #[error("not a bmap file: {0}")]
    Format(String),
    #[error("bmap format version {0} is not supported (clic reads 2.x)")]
    Version(String),
    #[error("the bmap's own checksum does not match its content (damaged or edited)")]
    FileChecksum,
}

fn tag<'a>(text: &'a str, name: &str) -> Result<&'a str, BmapError> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = text
        .find(&open)
        .ok_or_else(|| BmapError::Format(format!("no <{name}>")))?
        + open.len();
    let len = text[start..]
        .find(&close)
        .ok_or_else(|| BmapError::Format(format!("<{name}> is not closed")))?;
    Ok(text[start..start + len].trim())
}

fn number(text: &str, name: &str) -> Result<u64, BmapError> {
    let v = tag(text, name)?;
    v.parse()
        .map_err(|_| BmapError::Format(format!("<{name}> is not a number: {v:?}")))
}

/// The text without its `<!-- -->` comments (which may quote tags).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("<!--") {
        out.push_str(&rest[..i]);
        match rest[i..].find("-->") {
            Some(j) => rest = &rest[i + j + 3..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// Parse a version 2.x bmap and check its own checksum.
pub fn parse(original: &str) -> Result<Bmap, BmapError> {
    let stripped = strip_comments(original);
    let text = stripped.as_str();
    let version = regex::Regex::new(r#"<bmap\s+version="([^"]*)""#)
        .ok()
        .and_then(|re| re.captures(text))
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
        .ok_or_else(|| BmapError::Format("no <bmap version=\"...\">".into()))?;
    if version.split('.').next() != Some("2") {
        return Err(BmapError::Version(version));
    }
    let image_size = number(text, "ImageSize")?;
    let block_size = number(text, "BlockSize")?;
    if block_size == 0 || block_size % 512 != 0 {
        return Err(BmapError::Format(format!(
            "block size {block_size} is not a multiple of 512"
        )));
    }
    let kind = tag(text, "ChecksumType")?;
    if kind != "sha256" {
        return Err(BmapError::Format(format!(
            "checksum type {kind:?} (clic reads sha256)"
        )));
    }
    let file_sum = tag(text, "BmapFileChecksum")?;
    if file_sum.len() != 64 {
        return Err(BmapError::Format("BmapFileChecksum is not a sha256".into()));
    }
    let zeroed = original.replacen(file_sum, ZEROS, 1);
    if crate::artifact::sums::sha256_hex(zeroed.as_bytes()) != file_sum {
        return Err(BmapError::FileChecksum);
    }
    let re = regex::Regex::new(
        r#"<Range\s+chksum="([0-9a-fA-F]{64})"\s*>\s*(\d+)(?:\s*-\s*(\d+))?\s*</Range>"#,
    )
    .map_err(|e| BmapError::Format(e.to_string()))?;
    let map = tag(text, "BlockMap")?;
    let blocks = image_size.div_ceil(block_size);
    let mut ranges = Vec::new();
    for c in re.captures_iter(map) {
        let num = |i: usize| -> Result<Option<u64>, BmapError> {
            c.get(i)
                .map(|m| {
                    m.as_str().parse().map_err(|_| {
                        BmapError::Format(format!("bad block number {:?}", m.as_str()))
                    })
                })
                .transpose()
        };
        let first = num(2)?.unwrap_or(0);
        let last = num(3)?.unwrap_or(first);
        if last < first || last >= blocks {
            return Err(BmapError::Format(format!(
                "range {first}-{last} outside the image's {blocks} blocks"
            )));
        }
        if let Some(prev) = ranges.last().map(|r: &MappedRange| r.last) {
            if first <= prev {
                return Err(BmapError::Format(format!(
                    "range {first}-{last} overlaps or precedes the one before"
                )));
            }
        }
        ranges.push(MappedRange {
            first,
            last,
            sha256: c[1].to_ascii_lowercase(),
        });
    }
    let declared = number(text, "MappedBlocksCount")?;
    let b = Bmap {
        image_size,
        block_size,
        ranges,
    };
    if declared != b.mapped_blocks() {
        return Err(BmapError::Format(format!(
            "MappedBlocksCount is {declared} but the ranges hold {} blocks",
            b.mapped_blocks()
        )));
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_merge_and_complement() {
        assert_eq!(
            normalise(vec![(5, 7), (0, 2), (2, 3), (6, 9), (10, 10)]),
            vec![(0, 3), (5, 9)]
        );
        assert_eq!(
            complement(&[(0, 3), (5, 9)], (1, 12)),
            vec![(3, 5), (9, 12)]
        );
        assert_eq!(complement(&[], (4, 8)), vec![(4, 8)]);
        assert_eq!(complement(&[(0, 100)], (4, 8)), vec![]);
    }

    #[test]
    fn bytes_round_outwards_to_blocks() {
        // One byte in block 1, a span over blocks 3..5, touching ones merged.
        assert_eq!(
            bytes_to_blocks(
                &[(4096, 4097), (3 * 4096 + 10, 5 * 4096), (8192, 12288)],
                4096
            ),
            vec![(1, 5)]
        );
    }

    fn sample() -> Bmap {
        Bmap {
            image_size: 10 * 4096 + 512,
            block_size: 4096,
            ranges: vec![
                MappedRange {
                    first: 0,
                    last: 1,
                    sha256: "a".repeat(64),
                },
                MappedRange {
                    first: 4,
                    last: 4,
                    sha256: "b".repeat(64),
                },
                MappedRange {
                    first: 9,
                    last: 10,
                    sha256: "c".repeat(64),
                },
            ],
        }
    }

    #[test]
    fn xml_round_trips_with_its_own_checksum() {
        let b = sample();
        let xml = to_xml(&b);
        assert!(xml.contains("<Range chksum=\"bbbb"), "{xml}");
        assert!(xml.contains("> 4 </Range>"), "{xml}");
        assert!(xml.contains("> 9-10 </Range>"), "{xml}");
        assert!(xml.contains("<BlocksCount> 11 </BlocksCount>"), "{xml}");
        assert!(
            xml.contains("<MappedBlocksCount> 5 </MappedBlocksCount>"),
            "{xml}"
        );
        assert!(!xml.contains(ZEROS), "{xml}");
        assert_eq!(parse(&xml), Ok(b.clone()));
        // The last block is cut at the image end.
        assert_eq!(b.byte_span(&b.ranges[2]), (9 * 4096, 4096 + 512));
        assert_eq!(b.mapped_bytes(), 2 * 4096 + 4096 + 4096 + 512);
    }

    #[test]
    fn damaged_bmaps_are_refused() {
        let xml = to_xml(&sample());
        assert_eq!(
            parse(&xml.replace("> 4 </Range>", "> 5 </Range>")),
            Err(BmapError::FileChecksum)
        );
        assert!(matches!(
            parse(&xml.replace("version=\"2.0\"", "version=\"1.4\"")),
            Err(BmapError::Version(_))
        ));
        assert!(matches!(parse("hello"), Err(BmapError::Format(_))));
    }

    /// A bmap as bmaptool 3.6 writes it (`bmaptool create`), from
    /// tests/fixtures/bmaptool-3.6.bmap: clic reads the other tool's files.
    #[test]
    fn bmaptool_fixture_parses() {
        let text = include_str!("../../../tests/fixtures/bmaptool-3.6.bmap");
        let b = parse(text).expect("bmaptool's bmap parses");
        assert_eq!(b.block_size, 4096);
        assert!(!b.ranges.is_empty());
        assert!(b.mapped_blocks() < b.blocks_count());
    }
}
