//! The checks behind each kind of setting that is more than a string:
//! pure functions of the text (the time zone needs the database: see
//! `check::System`).

/// ISO 3166-1 alpha-2 codes that wireless-regdb knows (its country table;
/// `data/make-regdb-countries.sh` regenerates the list).
pub fn countries() -> impl Iterator<Item = &'static str> {
    include_str!("../data/regdb-countries.txt").split_whitespace()
}

/// RFC 1123 host name, one label: letters, digits and `-`, 1 to 63, not
/// starting or ending with `-`, not only digits.
pub fn hostname_ok(s: &str) -> bool {
    label_ok(s, false) && !s.bytes().all(|b| b.is_ascii_digit())
}

fn label_ok(s: &str, lower_only: bool) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes().all(|b| {
            b.is_ascii_digit()
                || b == b'-'
                || b.is_ascii_lowercase()
                || (!lower_only && b.is_ascii_uppercase())
        })
}

/// A DNS name of at least two lower-case labels (`clic.lan`), 253 bytes at most.
pub fn dns_name_ok(s: &str) -> bool {
    s.len() <= 253 && s.split('.').count() >= 2 && s.split('.').all(|l| label_ok(l, true))
}

/// `C.UTF-8`, `fr_FR.UTF-8`, `ca_ES.UTF-8@valencia`.
pub fn valid_locale(s: &str) -> bool {
    if matches!(s, "C.UTF-8" | "C" | "POSIX") {
        return true;
    }
    let (s, modifier) = match s.split_once('@') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    if modifier.is_some_and(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_lowercase())) {
        return false;
    }
    let Some((lang, rest)) = s.split_once('_') else {
        return false;
    };
    let Some((terr, codeset)) = rest.split_once('.') else {
        return false;
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|c| c.is_ascii_lowercase())
        && terr.len() == 2
        && terr.bytes().all(|c| c.is_ascii_uppercase())
        && codeset == "UTF-8"
}

/// Time zone name syntax (the database itself is checked by `System`).
pub fn timezone_syntax_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b))
        })
}

/// `64M`, `1G`, `512K`, `1048576`: bytes, with systemd's binary suffixes.
pub fn parse_size(s: &str) -> Option<u64> {
    let (digits, mult) = match s.as_bytes().last()? {
        b'K' => (&s[..s.len() - 1], 1u64 << 10),
        b'M' => (&s[..s.len() - 1], 1 << 20),
        b'G' => (&s[..s.len() - 1], 1 << 30),
        b'T' => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

/// dnsmasq lease times: `45m`, `12h`, `1d`, `3600`, `infinite`; at least
/// two minutes (dnsmasq raises anything shorter).
pub fn duration_ok(s: &str) -> bool {
    if s == "infinite" {
        return true;
    }
    let (digits, mult) = match s.as_bytes().last() {
        Some(b'm') => (&s[..s.len() - 1], 60u64),
        Some(b'h') => (&s[..s.len() - 1], 3600),
        Some(b'd') => (&s[..s.len() - 1], 86400),
        Some(b'w') => (&s[..s.len() - 1], 7 * 86400),
        _ => (s, 1),
    };
    !digits.is_empty()
        && digits.len() <= 9
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<u64>().is_ok_and(|n| n * mult >= 120)
}

/// An OpenSSH public key line: type, base64 blob, optional comment.
pub fn ssh_key_ok(s: &str) -> bool {
    const TYPES: &[&str] = &[
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ];
    let mut parts = s.splitn(3, ' ');
    let (Some(t), Some(blob)) = (parts.next(), parts.next()) else {
        return false;
    };
    let body = blob.trim_end_matches('=');
    TYPES.contains(&t)
        && blob.len() >= 16
        && blob.len() % 4 == 0
        && blob.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        && parts
            .next()
            .is_none_or(|c| !c.chars().any(|c| c.is_control() || "'\"$`\\".contains(c)))
}

/// 2.4 GHz channels 1-14 and the 5 GHz 20 MHz channels.
pub fn wifi_channel_ok(c: i64) -> bool {
    (1..=14).contains(&c)
        || (36..=64).contains(&c) && c % 4 == 0
        || (100..=144).contains(&c) && c % 4 == 0
        || (149..=177).contains(&c) && (c - 149) % 4 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_and_domains() {
        assert!(hostname_ok("clic"));
        assert!(hostname_ok("Box-2"));
        for bad in ["", "-a", "a-", "a.b", "b_x", "123", &"a".repeat(64)] {
            assert!(!hostname_ok(bad), "{bad}");
        }
        assert!(dns_name_ok("clic.lan"));
        assert!(dns_name_ok("a.b-c.d"));
        for bad in [
            "clic",
            "clic lan",
            "Clic.lan",
            "clic..lan",
            ".clic.lan",
            "-a.lan",
            "a.lan.",
        ] {
            assert!(!dns_name_ok(bad), "{bad}");
        }
    }

    #[test]
    fn countries_are_regdb_s() {
        assert!(countries().any(|c| c == "FR"));
        assert!(countries().any(|c| c == "JP"));
        assert!(!countries().any(|c| c == "00" || c == "XX"));
        assert!(countries().all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())));
        assert!(countries().count() > 150);
    }

    #[test]
    fn locales_zones_sizes_durations() {
        assert!(valid_locale("fr_FR.UTF-8"));
        assert!(valid_locale("ca_ES.UTF-8@valencia"));
        assert!(!valid_locale("fr_FR"));
        assert!(!valid_locale("french"));
        assert!(timezone_syntax_ok("America/Argentina/Buenos_Aires"));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "Europe/../../etc",
            "Europe//Paris",
            "a b",
        ] {
            assert!(!timezone_syntax_ok(bad), "{bad}");
        }
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("1024"), Some(1024));
        for bad in ["", "M", "64MB", "-1M", "1.5G", "99999999999999999G"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        for ok in ["45m", "12h", "1d", "infinite", "3600"] {
            assert!(duration_ok(ok), "{ok}");
        }
        for bad in ["", "12x", "1m", "h", "12 h", "1\n"] {
            assert!(!duration_ok(bad), "{bad}");
        }
    }

    #[test]
    fn ssh_keys_and_channels() {
        assert!(ssh_key_ok("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop"));
        assert!(!ssh_key_ok("ssh-ed25519"));
        assert!(!ssh_key_ok("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl it's me"));
        assert!(!ssh_key_ok("ssh-foo AAAAC3NzaC1lZDI1NTE5AAAA"));
        assert!(!ssh_key_ok("ssh-ed25519 AAAA$$$$zaC1lZDI1NTE5AAAA"));
        for ok in [1, 6, 13, 14, 36, 64, 100, 144, 149, 165, 177] {
            assert!(wifi_channel_ok(ok), "{ok}");
        }
        for bad in [0, 15, 35, 37, 65, 96, 150, 181, -1] {
            assert!(!wifi_channel_ok(bad), "{bad}");
        }
    }
}
