//! Just enough OpenPGP to pin an apt repository's signing key: read an
//! armored public key file and compute the fingerprints of its primary keys
//! (RFC 4880 v4, RFC 9580 v6), with no gpg on the host. Signature checks
//! are apt's job (gpgv, with the key given by `signed-by=`).

use base64::Engine;
use sha1::Sha1;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not an armored OpenPGP public key (no `-----BEGIN PGP PUBLIC KEY BLOCK-----` line)")]
    NotArmored,
    #[error("the armored block is not valid base64: {0}")]
    Base64(String),
    #[error("a secret key, not a public one: only the public key goes into the image")]
    Secret,
    #[error("malformed OpenPGP packet at byte {0}")]
    Packet(usize),
    #[error("key version {0} is not supported (v4 and v6 are)")]
    Version(u8),
    #[error("no public key in the file")]
    NoKey,
}

/// A normalised fingerprint: upper-case hex, no spaces (40 digits for v4
/// keys, 64 for v6).
pub fn normalise_fingerprint(s: &str) -> Option<String> {
    let f: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    ((f.len() == 40 || f.len() == 64) && f.chars().all(|c| c.is_ascii_hexdigit())).then_some(f)
}

/// The fingerprints of the primary keys in an armored public key file, in
/// file order (subkeys are not listed: apt trusts a key through its
/// primary key).
pub fn primary_fingerprints(armored: &str) -> Result<Vec<String>, KeyError> {
    let data = dearmor(armored)?;
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let (tag, body, next) = packet(&data, pos)?;
        match tag {
            5 | 7 => return Err(KeyError::Secret),
            6 => out.push(fingerprint(body)?),
            _ => {}
        }
        pos = next;
    }
    if out.is_empty() {
        return Err(KeyError::NoKey);
    }
    Ok(out)
}

/// The packets of every public key block of the file, in order: a second
/// block (or base64 after a block's checksum line) is read too, as gpg
/// would read it, so that no key hides from the pin.
fn dearmor(text: &str) -> Result<Vec<u8>, KeyError> {
    if text.contains("-----BEGIN PGP PRIVATE KEY BLOCK-----") {
        return Err(KeyError::Secret);
    }
    let mut lines = text.lines().map(str::trim_end);
    let mut out = Vec::new();
    let mut blocks = 0;
    while lines
        .by_ref()
        .any(|l| l == "-----BEGIN PGP PUBLIC KEY BLOCK-----")
    {
        blocks += 1;
        // Armor headers (`Comment: ...`) end at the first empty line; some
        // exports have none, and the data starts at once.
        let mut b64 = String::new();
        let mut in_headers = true;
        let mut after_crc = false;
        let mut ended = false;
        for l in lines.by_ref() {
            if l.starts_with("-----END PGP PUBLIC KEY BLOCK-----") {
                ended = true;
                break;
            }
            if in_headers {
                if l.is_empty() {
                    in_headers = false;
                    continue;
                }
                if l.contains(": ") {
                    continue;
                }
                in_headers = false;
            }
            if l.trim().is_empty() {
                continue;
            }
            // The CRC24 line (`=abcd`) is optional and not checked (the
            // fingerprint pin is what is trusted); nothing may follow it.
            if after_crc {
                return Err(KeyError::Base64(
                    "data after the checksum line of an armored block".into(),
                ));
            }
            if l.starts_with('=') {
                after_crc = true;
                continue;
            }
            b64.push_str(l.trim());
        }
        if !ended {
            return Err(KeyError::Base64(
                "an armored block without its END line".into(),
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| KeyError::Base64(e.to_string()))?;
        out.extend(bytes);
    }
    if blocks == 0 {
        return Err(KeyError::NotArmored);
    }
    Ok(out)
}

/// One packet at `pos`: (tag, body, position of the next packet).
fn packet(data: &[u8], pos: usize) -> Result<(u8, &[u8], usize), KeyError> {
    let bad = || KeyError::Packet(pos);
    let h = *data.get(pos).ok_or_else(bad)?;
    if h & 0x80 == 0 {
        return Err(bad());
    }
    let byte = |i: usize| data.get(i).copied().map(usize::from).ok_or_else(bad);
    let (tag, len, start) = if h & 0x40 != 0 {
        let tag = h & 0x3f;
        let o = byte(pos + 1)?;
        match o {
            0..=191 => (tag, o, pos + 2),
            192..=223 => (tag, ((o - 192) << 8) + byte(pos + 2)? + 192, pos + 3),
            255 => {
                let l = (byte(pos + 2)? << 24)
                    | (byte(pos + 3)? << 16)
                    | (byte(pos + 4)? << 8)
                    | byte(pos + 5)?;
                (tag, l, pos + 6)
            }
            // Partial lengths are for data packets, never keys.
            _ => return Err(bad()),
        }
    } else {
        let tag = (h >> 2) & 0x0f;
        match h & 3 {
            0 => (tag, byte(pos + 1)?, pos + 2),
            1 => (tag, (byte(pos + 1)? << 8) | byte(pos + 2)?, pos + 3),
            2 => {
                let l = (byte(pos + 1)? << 24)
                    | (byte(pos + 2)? << 16)
                    | (byte(pos + 3)? << 8)
                    | byte(pos + 4)?;
                (tag, l, pos + 5)
            }
            _ => return Err(bad()),
        }
    };
    let end = start.checked_add(len).ok_or_else(bad)?;
    let body = data.get(start..end).ok_or_else(bad)?;
    Ok((tag, body, end))
}

fn fingerprint(body: &[u8]) -> Result<String, KeyError> {
    let version = *body.first().ok_or(KeyError::Packet(0))?;
    let digest = match version {
        4 => {
            let len = u16::try_from(body.len()).map_err(|_| KeyError::Packet(0))?;
            let mut h = Sha1::new();
            h.update([0x99]);
            h.update(len.to_be_bytes());
            h.update(body);
            h.finalize().to_vec()
        }
        6 => {
            let len = u32::try_from(body.len()).map_err(|_| KeyError::Packet(0))?;
            let mut h = Sha256::new();
            h.update([0x9b]);
            h.update(len.to_be_bytes());
            h.update(body);
            h.finalize().to_vec()
        }
        v => return Err(KeyError::Version(v)),
    };
    Ok(hex::encode_upper(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A throwaway ed25519 key made with `gpg --quick-generate-key "clic
    // fixture <fixture@clic.invalid>" ed25519 sign never`, exported with
    // `gpg --armor --export`; KEY_FPR is what `gpg --with-colons
    // --list-keys` printed for it.
    const KEY: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEawIWfhYJKwYBBAHaRw8BAQdAMa+NnFGMHLoVlZ4ufiYsDsSw1DQnG3dtoVMw
GK9khq20I2NsaWMgZml4dHVyZSA8Zml4dHVyZUBjbGljLmludmFsaWQ+iJAEExYI
ADgWIQQU5PJRyTAsP44PrJOWsebFBk3FbQUCawIWfgIbAwULCQgHAgYVCgkICwIE
FgIDAQIeAQIXgAAKCRCWsebFBk3FbaF6AP9h7aTYCPM+HC/XBpZhpKx2XCgsRIm+
/xsJ6vagWEWtNgD+NRxBlw6C/7t86s4966+a6DLKiHh/PZZbKUgjlKlmjwQ=
=rrZU
-----END PGP PUBLIC KEY BLOCK-----
";
    const KEY_FPR: &str = "14E4F251C9302C3F8E0FAC9396B1E6C5064DC56D";

    #[test]
    fn fingerprints_of_normalised_pins() {
        assert_eq!(
            normalise_fingerprint("14e4 f251 c930 2c3f 8e0f  ac93 96b1 e6c5 064d c56d").as_deref(),
            Some(KEY_FPR)
        );
        assert_eq!(
            normalise_fingerprint("96B1E6C5064DC56D"),
            None,
            "a key id is not a fingerprint"
        );
        assert_eq!(normalise_fingerprint("Z".repeat(40).as_str()), None);
    }

    #[test]
    fn garbage_and_secrets_are_refused() {
        assert_eq!(primary_fingerprints("hello"), Err(KeyError::NotArmored));
        assert_eq!(
            primary_fingerprints(
                "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAAAA\n-----END PGP PRIVATE KEY BLOCK-----\n"
            ),
            Err(KeyError::Secret)
        );
        assert!(matches!(
            primary_fingerprints(
                "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!\n-----END PGP PUBLIC KEY BLOCK-----\n"
            ),
            Err(KeyError::Base64(_))
        ));
        // A truncated packet.
        assert!(matches!(
            primary_fingerprints(
                "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDME\n-----END PGP PUBLIC KEY BLOCK-----\n"
            ),
            Err(KeyError::Packet(0))
        ));
    }

    #[test]
    fn packet_lengths_old_and_new_format() {
        // Old format, one-byte length: tag 6, 3 bytes.
        let (tag, body, next) = packet(&[0x98, 3, 4, 1, 2, 0xff], 0).unwrap();
        assert_eq!((tag, body, next), (6, &[4u8, 1, 2][..], 5));
        // New format, two-byte length (192 + 0): tag 6.
        let mut v = vec![0xc6, 192, 0];
        v.extend(std::iter::repeat_n(7u8, 192));
        let (tag, body, next) = packet(&v, 0).unwrap();
        assert_eq!((tag, body.len(), next), (6, 192, 195));
        assert!(packet(&[0x06], 0).is_err(), "bit 7 must be set");
    }

    #[test]
    fn v4_fingerprint_is_sha1_of_the_key_packet() {
        // The key packet framed as RFC 4880 section 12.2 says.
        let body = [4u8, 0, 0, 0, 1, 22, 0];
        let mut h = Sha1::new();
        h.update([0x99, 0, 7]);
        h.update(body);
        assert_eq!(fingerprint(&body).unwrap(), hex::encode_upper(h.finalize()));
        assert_eq!(fingerprint(&[3u8, 0]), Err(KeyError::Version(3)));
    }

    #[test]
    fn a_real_key_file() {
        assert_eq!(primary_fingerprints(KEY).unwrap(), [KEY_FPR]);
        // Without the armor headers' empty line, and with CRLF line ends.
        let crlf = KEY.replace("-----\n\n", "-----\n").replace('\n', "\r\n");
        assert_eq!(primary_fingerprints(&crlf).unwrap(), [KEY_FPR]);
    }

    /// A second key hidden in the file: in a second armored block, or as
    /// base64 after the first block's checksum line. Both are seen (the
    /// layer check then refuses a file with two keys).
    #[test]
    fn a_hidden_second_key_is_seen() {
        let twice = format!("{KEY}\nSome text between blocks.\n{KEY}");
        assert_eq!(primary_fingerprints(&twice).unwrap(), [KEY_FPR, KEY_FPR]);
        let body: String = KEY
            .lines()
            .skip_while(|l| !l.is_empty())
            .skip(1)
            .take_while(|l| !l.starts_with('='))
            .collect::<Vec<_>>()
            .join("\n");
        let after_crc = KEY.replace("=rrZU\n", &format!("=rrZU\n{body}\n"));
        assert!(matches!(
            primary_fingerprints(&after_crc),
            Err(KeyError::Base64(m)) if m.contains("after the checksum")
        ));
        let unended = KEY.replace("-----END PGP PUBLIC KEY BLOCK-----", "");
        assert!(matches!(
            primary_fingerprints(&unended),
            Err(KeyError::Base64(_))
        ));
    }
}
