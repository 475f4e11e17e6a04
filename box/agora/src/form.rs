//! Request bodies and field checks. Pure: bytes in, values or errors out.

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("invalid encoding")]
    Encoding,
    #[error("empty field")]
    Empty,
    #[error("field too long")]
    TooLong,
    #[error("invalid value")]
    Invalid,
    #[error("bad options")]
    Options,
    #[error("bad date")]
    Date,
}

/// An `application/x-www-form-urlencoded` body, every value valid UTF-8.
#[derive(Debug, Default)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn parse(body: &[u8]) -> Result<Form, FieldError> {
        let mut pairs = Vec::new();
        for part in body.split(|&b| b == b'&') {
            if part.is_empty() {
                continue;
            }
            let mut kv = part.splitn(2, |&b| b == b'=');
            let k = decode(kv.next().unwrap_or_default())?;
            let v = decode(kv.next().unwrap_or_default())?;
            pairs.push((k, v));
        }
        Ok(Form { pairs })
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes (and `+` to space), then insists on UTF-8.
pub fn decode(s: &[u8]) -> Result<String, FieldError> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let h = s.get(i + 1).copied().and_then(hex);
                let l = s.get(i + 2).copied().and_then(hex);
                match (h, l) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 2;
                    }
                    _ => return Err(FieldError::Encoding),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FieldError::Encoding)
}

/// Caps, in characters.
pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 4000;
pub const OPTION_MAX: usize = 200;
pub const OPTIONS_MAX: usize = 50;
pub const NAME_MAX: usize = 80;
pub const NOTE_MAX: usize = 2000;
pub const COLUMN_MAX: usize = 80;
pub const COLUMNS_MAX: usize = 12;

/// Normalises line ends, trims, refuses control characters other than newlines
/// and tabs, and checks the length.
pub fn text(value: Option<&str>, max: usize, required: bool) -> Result<String, FieldError> {
    let v = value
        .unwrap_or("")
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    let v = v.trim().to_string();
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(FieldError::Invalid);
    }
    if v.is_empty() && required {
        return Err(FieldError::Empty);
    }
    if v.chars().count() > max {
        return Err(FieldError::TooLong);
    }
    Ok(v)
}

/// A one-line text (titles, names): newlines refused.
pub fn line(value: Option<&str>, max: usize, required: bool) -> Result<String, FieldError> {
    let v = text(value, max, required)?;
    if v.contains('\n') {
        return Err(FieldError::Invalid);
    }
    Ok(v)
}

/// Non-empty distinct lines of a textarea, each capped; between `min` and `max` of them.
pub fn lines(
    value: Option<&str>,
    each_max: usize,
    min: usize,
    max: usize,
) -> Result<Vec<String>, FieldError> {
    let v = text(value, each_max * max + max, false)?;
    let mut out: Vec<String> = Vec::new();
    for l in v.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if l.chars().count() > each_max {
            return Err(FieldError::TooLong);
        }
        if out.iter().any(|o| o == l) {
            return Err(FieldError::Options);
        }
        out.push(l.to_string());
    }
    if out.len() < min || out.len() > max {
        return Err(FieldError::Options);
    }
    Ok(out)
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM` or `YYYY-MM-DDTHH:MM` (the form of a
/// `datetime-local` input); returns it normalised with a `T`.
pub fn date_time(s: &str) -> Result<String, FieldError> {
    let s = s.trim();
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let mut d = date.split('-');
    let (y, m, day) = (
        d.next().and_then(|x| digits(x, 4)),
        d.next().and_then(|x| digits(x, 2)),
        d.next().and_then(|x| digits(x, 2)),
    );
    let (Some(y), Some(m), Some(day), None) = (y, m, day, d.next()) else {
        return Err(FieldError::Date);
    };
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let dim = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || day == 0 || day > dim[(m - 1) as usize] {
        return Err(FieldError::Date);
    }
    match time {
        None => Ok(format!("{y:04}-{m:02}-{day:02}")),
        Some(t) => {
            let mut p = t.split(':');
            let (h, mi) = (
                p.next().and_then(|x| digits(x, 2)),
                p.next().and_then(|x| digits(x, 2)),
            );
            match (h, mi, p.next()) {
                (Some(h), Some(mi), None) if h < 24 && mi < 60 => {
                    Ok(format!("{y:04}-{m:02}-{day:02}T{h:02}:{mi:02}"))
                }
                _ => Err(FieldError::Date),
            }
        }
    }
}

/// `64M`, `512K`, `1G`, or bytes.
pub fn size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 'K' | 'k') => (&s[..i], 1u64 << 10),
        (i, 'M' | 'm') => (&s[..i], 1 << 20),
        (i, 'G' | 'g') => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// One part of a `multipart/form-data` body.
pub struct Part<'a> {
    pub name: String,
    pub is_file: bool,
    pub data: &'a [u8],
}

/// The parts of a `multipart/form-data` body (None when it is not one).
pub fn multipart<'a>(content_type: &str, body: &'a [u8]) -> Option<Vec<Part<'a>>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let end_delim = [&b"\r\n"[..], delim].concat();
    let mut parts = Vec::new();
    let mut rest = &body[find(body, delim)? + delim.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let content = &rest[head_end + 4..];
        let end = find(content, &end_delim)?;
        let name = head
            .split(';')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("name="))
            .map(|n| n.trim_matches('"').to_string())
            .unwrap_or_default();
        parts.push(Part {
            name,
            is_file: head.to_ascii_lowercase().contains("filename="),
            data: &content[..end],
        });
        rest = &content[end + end_delim.len()..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let f = Form::parse(b"a=1&b=x+y%21&choice=0&choice=2&empty=&flag").unwrap();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), Some("x y!"));
        assert_eq!(f.all("choice"), vec!["0", "2"]);
        assert_eq!(f.get("empty"), Some(""));
        assert_eq!(f.get("flag"), Some(""));
        assert_eq!(f.get("none"), None);
        assert_eq!(Form::parse(b"a=%C3%A9").unwrap().get("a"), Some("é"));
        assert_eq!(Form::parse(b"a=%ff%fe").unwrap_err(), FieldError::Encoding);
        assert_eq!(Form::parse(b"a=%4").unwrap_err(), FieldError::Encoding);
        assert_eq!(Form::parse(b"a=\xff").unwrap_err(), FieldError::Encoding);
    }

    #[test]
    fn text_checks() {
        assert_eq!(
            text(Some("  hi \r\n there "), 20, true).unwrap(),
            "hi \n there"
        );
        assert_eq!(text(Some("   "), 20, true), Err(FieldError::Empty));
        assert_eq!(text(None, 20, false).unwrap(), "");
        assert_eq!(text(Some("ééé"), 2, true), Err(FieldError::TooLong));
        assert_eq!(text(Some("a\u{0}b"), 20, true), Err(FieldError::Invalid));
        assert_eq!(line(Some("a\nb"), 20, true), Err(FieldError::Invalid));
        assert_eq!(text(Some("<script>"), 20, true).unwrap(), "<script>");
    }

    #[test]
    fn option_lines() {
        assert_eq!(lines(Some("a\n\n b \n"), 10, 2, 3).unwrap(), vec!["a", "b"]);
        assert_eq!(lines(Some("a\na"), 10, 2, 3), Err(FieldError::Options));
        assert_eq!(lines(Some("a"), 10, 2, 3), Err(FieldError::Options));
        assert_eq!(
            lines(Some("a\nb\nc\nd"), 10, 2, 3),
            Err(FieldError::Options)
        );
        assert_eq!(
            lines(Some("a\nbbbbbbbbbbbb"), 10, 2, 3),
            Err(FieldError::TooLong)
        );
    }

    #[test]
    fn dates() {
        assert_eq!(date_time("2026-12-10").unwrap(), "2026-12-10");
        assert_eq!(date_time("2026-12-10 18:30").unwrap(), "2026-12-10T18:30");
        assert_eq!(date_time("2026-12-10T08:05").unwrap(), "2026-12-10T08:05");
        assert_eq!(date_time("2028-02-29").unwrap(), "2028-02-29");
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-1-01",
            "26-01-01",
            "2026-01-01 24:00",
            "2026-01-01 12:60",
            "tomorrow",
            "2026-01-01-02",
            "",
        ] {
            assert_eq!(date_time(bad), Err(FieldError::Date), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(size("64M"), Some(64 << 20));
        assert_eq!(size("8k"), Some(8 << 10));
        assert_eq!(size("1G"), Some(1 << 30));
        assert_eq!(size("123"), Some(123));
        assert_eq!(size("M"), None);
        assert_eq!(size("x"), None);
        assert_eq!(size("99999999999999G"), None);
    }

    #[test]
    fn multipart_parts() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.db\"\r\nContent-Type: application/octet-stream\r\n\r\nDATA\r\n--with\r\n--XyZ--\r\n";
        let ct = "multipart/form-data; boundary=XyZ";
        let parts = multipart(ct, body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].name.as_str(), parts[0].is_file), ("csrf", false));
        assert_eq!(parts[0].data, b"abc");
        assert_eq!((parts[1].name.as_str(), parts[1].is_file), ("file", true));
        assert_eq!(parts[1].data, b"DATA\r\n--with");
        assert!(multipart("multipart/form-data", body).is_none());
        assert_eq!(multipart(ct, b"--XyZ--\r\n").unwrap().len(), 0);
        assert!(multipart(ct, b"garbage").is_none());
    }
}
