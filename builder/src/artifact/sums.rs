//! `SHA256SUMS`: one `HASH  FILE` line per artifact, the format
//! `sha256sum -c` checks. A directory holding several images keeps one
//! file: entries of other images are kept, ours replaced.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const FILE: &str = "SHA256SUMS";

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Size and sha256 of a file, read once.
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<(u64, String)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(h.finalize())))
}

/// Parse `HASH  FILE` lines (binary-mode `HASH *FILE` too); lines that are
/// not of that shape are dropped.
pub fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (hash, rest) = l.split_once(' ')?;
            let name = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*'))?;
            let ok = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
            (ok && !name.is_empty() && !name.contains('\n'))
                .then(|| (name.to_owned(), hash.to_ascii_lowercase()))
        })
        .collect()
}

/// The file's text: `existing` entries (from an older `SHA256SUMS`) updated
/// with `ours`, sorted by file name.
pub fn render(existing: &str, ours: &[(String, String)]) -> String {
    let mut all = parse(existing);
    for (name, hash) in ours {
        all.insert(name.clone(), hash.clone());
    }
    all.iter().map(|(n, h)| format!("{h}  {n}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_merged_and_sorted() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let c = "c".repeat(64);
        let old = format!("{a}  other.img\n{b}  x.img\nnot a line\n");
        let text = render(
            &old,
            &[
                ("x.img".into(), c.clone()),
                ("x.img.bmap".into(), a.clone()),
            ],
        );
        assert_eq!(
            text,
            format!("{a}  other.img\n{c}  x.img\n{a}  x.img.bmap\n")
        );
        assert_eq!(parse(&text).len(), 3);
    }

    #[test]
    fn sha256_of_nothing() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
