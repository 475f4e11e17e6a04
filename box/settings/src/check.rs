//! Checking values against their setting, and settings against themselves.

use std::path::PathBuf;

use crate::kinds;
use crate::net::{parse_ipv4, Ipv4Net};
use crate::schema::{Kind, SettingDef};
use crate::value::Value;

/// What a value breaks: the message, and a hint of what would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub message: String,
    pub hint: Option<String>,
}

impl Fault {
    fn new(message: impl Into<String>) -> Fault {
        Fault {
            message: message.into(),
            hint: None,
        }
    }
    fn hint(mut self, h: impl Into<String>) -> Fault {
        self.hint = Some(h.into());
        self
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

/// The parts of the system a check reads: the tz database.
#[derive(Debug, Clone)]
pub struct System {
    pub zoneinfo: PathBuf,
}

impl Default for System {
    fn default() -> System {
        System {
            zoneinfo: PathBuf::from("/usr/share/zoneinfo"),
        }
    }
}

impl System {
    /// A zone of the database: its file exists and is a TZif file.
    pub fn timezone_exists(&self, name: &str) -> Result<bool, String> {
        if !self.zoneinfo.is_dir() {
            return Err(format!(
                "no tz database at {} to check it against (install tzdata)",
                self.zoneinfo.display()
            ));
        }
        let mut head = [0u8; 4];
        let ok = std::fs::File::open(self.zoneinfo.join(name))
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok();
        Ok(ok && &head == b"TZif")
    }
}

fn example(kind: Kind) -> &'static str {
    match kind {
        Kind::Size => "a size such as 64M (K, M, G, T)",
        Kind::Ipv4 => "an IPv4 address such as 10.42.0.10",
        Kind::Ipv4Prefix => "an IPv4 address and prefix length such as 10.42.0.1/24",
        Kind::DnsName => "a lower-case domain name with a dot, such as clic.lan",
        Kind::Hostname => "letters, digits and -, such as clic-salle2 (no dots)",
        Kind::Country => "two capital letters, such as FR, BE, CH, CA",
        Kind::Timezone => "a tz database name such as Europe/Paris",
        Kind::Locale => "such as fr_FR.UTF-8 or C.UTF-8",
        Kind::WifiChannel => "1 to 13 (2.4 GHz, 14 in Japan only) or a 5 GHz channel: 36, 40, ... 64, 100 ... 144, 149 ... 177",
        Kind::Duration => "45m, 12h, 1d or infinite (at least 2 minutes)",
        Kind::SshKey => "one line of an OpenSSH public key: ssh-ed25519 AAAA... name",
        _ => "",
    }
}

impl SettingDef {
    fn item_kind(&self) -> Kind {
        match self.kind {
            Kind::List => self.items.unwrap_or(Kind::String),
            k => k,
        }
    }

    /// Check one value. Lists check their length, then each item. A
    /// secret's value is never repeated in the fault.
    pub fn check(&self, v: &Value, sys: &System) -> Result<(), Fault> {
        let r = self.check_value(v, sys);
        match (self.secret, v.as_str()) {
            (true, Some(s)) if !s.is_empty() => r.map_err(|f| Fault {
                message: f.message.replace(s, "(hidden)"),
                ..f
            }),
            _ => r,
        }
    }

    fn check_value(&self, v: &Value, sys: &System) -> Result<(), Fault> {
        if self.kind != Kind::List {
            return self.check_item(self.kind, v, sys);
        }
        let Value::List(items) = v else {
            return Err(
                Fault::new(format!("expected a list, found a {}", v.type_name()))
                    .hint("a list is written [\"a\", \"b\"] in TOML, a, b in clic.txt"),
            );
        };
        let n = items.len() as u64;
        if self.min_items.is_some_and(|m| n < m) || self.max_items.is_some_and(|m| n > m) {
            return Err(Fault::new(format!(
                "{n} items; expected {}",
                self.type_summary()
            )));
        }
        for (i, item) in items.iter().enumerate() {
            self.check_item(self.item_kind(), item, sys)
                .map_err(|f| Fault {
                    message: format!("item {} (`{item}`): {}", i + 1, f.message),
                    ..f
                })?;
        }
        Ok(())
    }

    fn check_item(&self, kind: Kind, v: &Value, sys: &System) -> Result<(), Fault> {
        // The setting's own hint, when it has one, says it best.
        let with_hint = |f: Fault| match &self.hint {
            Some(h) => f.hint(h.clone()),
            None => f,
        };
        match kind {
            Kind::Integer | Kind::WifiChannel => {
                let Some(n) = v.as_i64() else {
                    return Err(Fault::new(format!(
                        "expected an integer, found a {}",
                        v.type_name()
                    )));
                };
                if kind == Kind::WifiChannel && !kinds::wifi_channel_ok(n) {
                    return Err(with_hint(
                        Fault::new(format!("{n} is not a Wi-Fi channel")).hint(example(kind)),
                    ));
                }
                let lo = self.min.as_ref().and_then(Value::as_i64);
                let hi = self.max.as_ref().and_then(Value::as_i64);
                if lo.is_some_and(|m| n < m) || hi.is_some_and(|m| n > m) {
                    return Err(with_hint(Fault::new(format!(
                        "{n} is out of range: expected {}",
                        self.type_summary()
                    ))));
                }
                Ok(())
            }
            Kind::Bool => match v {
                Value::Bool(_) => Ok(()),
                _ => Err(Fault::new(format!(
                    "expected true or false, found a {}",
                    v.type_name()
                ))),
            },
            Kind::List => Err(Fault::new("lists of lists are not settings")),
            _ => {
                let Some(s) = v.as_str() else {
                    return Err(Fault::new(format!(
                        "expected a {} (a string), found a {}",
                        kind.name(),
                        v.type_name()
                    )));
                };
                if s.is_empty() && self.allow_empty {
                    return Ok(());
                }
                self.check_text(kind, s, sys).map_err(with_hint)
            }
        }
    }

    fn check_text(&self, kind: Kind, s: &str, sys: &System) -> Result<(), Fault> {
        if let Some(c) = s
            .chars()
            .find(|c| c.is_control() && !(self.multiline && (*c == '\n' || *c == '\t')))
        {
            return Err(
                Fault::new(format!("holds a control character ({:?})", c)).hint(
                    if self.multiline {
                        "only line breaks and tabs"
                    } else {
                        "one line, no tabs or line breaks"
                    },
                ),
            );
        }
        let bad = |what: String| Err(Fault::new(what).hint(example(kind)));
        match kind {
            Kind::String | Kind::Enum => {}
            Kind::Size => match kinds::parse_size(s) {
                None => return bad(format!("`{s}` is not a size")),
                Some(n) => {
                    let b = |v: &Option<Value>| {
                        v.as_ref()
                            .and_then(|v| v.as_str())
                            .and_then(kinds::parse_size)
                    };
                    if b(&self.min).is_some_and(|m| n < m) || b(&self.max).is_some_and(|m| n > m) {
                        return Err(Fault::new(format!(
                            "{s} is out of range: expected {}",
                            self.type_summary()
                        )));
                    }
                }
            },
            Kind::Ipv4 => {
                if parse_ipv4(s).is_none() {
                    return bad(format!("`{s}` is not an IPv4 address"));
                }
            }
            Kind::Ipv4Prefix => {
                let Some(net) = Ipv4Net::parse(s) else {
                    return bad(format!("`{s}` is not an IPv4 address with a prefix length"));
                };
                let lo = self.min.as_ref().and_then(Value::as_i64).unwrap_or(8);
                let hi = self.max.as_ref().and_then(Value::as_i64).unwrap_or(30);
                if i64::from(net.prefix) < lo || i64::from(net.prefix) > hi {
                    return Err(Fault::new(format!(
                        "prefix /{} is out of range: expected /{lo} to /{hi}",
                        net.prefix
                    )));
                }
                if net.prefix <= 30 && (net.addr == net.network() || net.addr == net.broadcast()) {
                    return Err(Fault::new(format!(
                        "{} is the network's own {} address, not one a host can have",
                        net.addr,
                        if net.addr == net.network() {
                            "network"
                        } else {
                            "broadcast"
                        }
                    ))
                    .hint("e.g. 10.42.0.1/24"));
                }
            }
            Kind::DnsName => {
                if !kinds::dns_name_ok(s) {
                    return bad(format!("`{s}` is not a domain name"));
                }
            }
            Kind::Hostname => {
                if !kinds::hostname_ok(s) {
                    return bad(format!("`{s}` is not a host name"));
                }
            }
            Kind::Country => {
                if !kinds::countries().any(|c| c == s) {
                    let up = s.to_ascii_uppercase();
                    let f = Fault::new(format!("`{s}` is not a country code wireless-regdb knows"));
                    return Err(if kinds::countries().any(|c| c == up) {
                        f.hint(format!("write it in capitals: {up}"))
                    } else {
                        f.hint(example(kind))
                    });
                }
            }
            Kind::Timezone => {
                if !kinds::timezone_syntax_ok(s) {
                    return bad(format!("`{s}` is not a time zone name"));
                }
                match sys.timezone_exists(s) {
                    Ok(true) => {}
                    Ok(false) => return bad(format!("`{s}` is not in the tz database")),
                    Err(e) => return Err(Fault::new(e)),
                }
            }
            Kind::Locale => {
                if !kinds::valid_locale(s) {
                    return bad(format!("`{s}` is not a locale"));
                }
            }
            Kind::Duration => {
                if !kinds::duration_ok(s) {
                    return bad(format!("`{s}` is not a lease time"));
                }
            }
            Kind::SshKey => {
                if !kinds::ssh_key_ok(s) {
                    return bad("not an OpenSSH public key line".to_owned());
                }
            }
            Kind::Integer | Kind::Bool | Kind::WifiChannel | Kind::List => {}
        }
        let (bytes, chars) = (s.len() as u64, s.chars().count() as u64);
        let out = |n: u64, lo: Option<u64>, hi: Option<u64>| {
            lo.is_some_and(|m| n < m) || hi.is_some_and(|m| n > m)
        };
        if out(bytes, self.min_bytes, self.max_bytes) || out(chars, self.min_chars, self.max_chars)
        {
            let many = if chars != bytes {
                format!("{chars} characters, {bytes} bytes")
            } else {
                format!("{bytes} characters")
            };
            return Err(Fault::new(format!(
                "{many}: expected {}",
                self.type_summary()
            )));
        }
        if let Some(values) = &self.values {
            if !values.iter().any(|v| v == s) {
                return Err(Fault::new(format!("`{s}` is not one of the choices"))
                    .hint(format!("one of {}", values.join(", "))));
            }
        }
        if let Some(p) = &self.pattern {
            let re = regex_lite::Regex::new(&format!("^(?:{p})$"))
                .map_err(|e| Fault::new(format!("the setting's pattern is broken: {e}")))?;
            if !re.is_match(s) {
                return Err(
                    Fault::new(format!("`{s}` does not have the expected form")).hint(
                        self.hint
                            .clone()
                            .unwrap_or_else(|| format!("it must match {p}")),
                    ),
                );
            }
        }
        if self.forbid.iter().any(|f| f == s) {
            return Err(Fault::new(format!("`{s}` is reserved"))
                .hint(format!("not {}", self.forbid.join(", "))));
        }
        Ok(())
    }

    /// What is wrong with the declaration itself (constraints that do not
    /// apply to its type, a broken pattern, a default its own rules refuse),
    /// as `(key, message)`: key `default`, `pattern`, `min`...
    pub fn problems(&self, sys: &System) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = Vec::new();
        let k = self.item_kind();
        let ty = self.kind.name();
        let mut not_for = |key: &str, set: bool, allowed: bool, what: &str| {
            if set && !allowed {
                p.push((
                    key.into(),
                    format!("`{key}` applies to {what}, not to a {ty} setting"),
                ));
            }
        };
        let list = self.kind == Kind::List;
        not_for("items", self.items.is_some(), list, "lists");
        not_for("min_items", self.min_items.is_some(), list, "lists");
        not_for("max_items", self.max_items.is_some(), list, "lists");
        let string = k == Kind::String;
        for (key, set) in [
            ("min_bytes", self.min_bytes.is_some()),
            ("max_bytes", self.max_bytes.is_some()),
            ("min_chars", self.min_chars.is_some()),
            ("max_chars", self.max_chars.is_some()),
            ("pattern", self.pattern.is_some()),
            ("multiline", self.multiline),
        ] {
            not_for(key, set, string, "string settings");
        }
        let ranged = matches!(
            k,
            Kind::Integer | Kind::Size | Kind::Ipv4Prefix | Kind::WifiChannel
        );
        not_for(
            "min",
            self.min.is_some(),
            ranged,
            "integer, size and ipv4_prefix settings",
        );
        not_for(
            "max",
            self.max.is_some(),
            ranged,
            "integer, size and ipv4_prefix settings",
        );
        not_for(
            "values",
            self.values.is_some(),
            k == Kind::Enum,
            "enum settings",
        );
        not_for(
            "forbid",
            !self.forbid.is_empty(),
            k.is_textual(),
            "text settings",
        );
        not_for(
            "allow_empty",
            self.allow_empty,
            k.is_textual(),
            "text settings",
        );
        if list && self.items.is_none() {
            p.push((
                "items".into(),
                "a list setting says the type of its items: items = \"string\"".into(),
            ));
        }
        if list && self.items == Some(Kind::List) {
            p.push(("items".into(), "lists of lists are not settings".into()));
        }
        if k == Kind::Enum && self.values.as_ref().is_none_or(|v| v.is_empty()) {
            p.push((
                "values".into(),
                "an enum setting lists its choices: values = [\"a\", \"b\"]".into(),
            ));
        }
        for (key, v) in [("min", &self.min), ("max", &self.max)] {
            if let Some(v) = v {
                let ok = match k {
                    Kind::Size => v.as_str().and_then(kinds::parse_size).is_some(),
                    Kind::Ipv4Prefix => v.as_i64().is_some_and(|n| (0..=32).contains(&n)),
                    _ => v.as_i64().is_some(),
                };
                if !ok && ranged {
                    p.push((
                        key.into(),
                        format!("`{v}` is not a bound for a {} setting", k.name()),
                    ));
                }
            }
        }
        if let Some(pat) = &self.pattern {
            if let Err(e) = regex_lite::Regex::new(pat) {
                p.push(("pattern".into(), format!("not a regular expression: {e}")));
            }
        }
        if let Some(key) = &self.clic_txt {
            if key.is_empty()
                || !key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                p.push((
                    "clic_txt".into(),
                    format!("`{key}` is not a clic.txt key (lower-case letters, digits, _)"),
                ));
            }
            if self.multiline {
                p.push((
                    "clic_txt".into(),
                    "clic.txt holds one line per setting: a multiline setting cannot be in it"
                        .into(),
                ));
            }
        }
        if self.description.trim().is_empty() {
            p.push(("description".into(), "says what the setting is for".into()));
        }
        if p.is_empty() {
            if let Err(f) = self.check(&self.default, sys) {
                p.push((
                    "default".into(),
                    format!("the default breaks the setting's own rules: {f}"),
                ));
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    fn def(kind: Kind) -> SettingDef {
        SettingDef::new(kind, Value::Bool(false), "x")
    }

    fn zones() -> (tempfile_free::Dir, System) {
        let d = tempfile_free::Dir::new();
        std::fs::create_dir_all(d.0.join("Europe")).unwrap();
        std::fs::write(d.0.join("Europe/Paris"), b"TZif2...").unwrap();
        std::fs::write(d.0.join("Europe/Notazone"), b"hello").unwrap();
        let sys = System {
            zoneinfo: d.0.clone(),
        };
        (d, sys)
    }

    /// A temporary directory without a dependency (this crate is small on
    /// purpose: it is built for every board).
    mod tempfile_free {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "clic-settings-test-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn ssid_counts_bytes_not_letters() {
        let mut d = def(Kind::String);
        d.min_bytes = Some(1);
        d.max_bytes = Some(32);
        let sys = System::default();
        assert!(d.check(&s("CLIC"), &sys).is_ok());
        assert!(d.check(&s(&"a".repeat(32)), &sys).is_ok());
        let e = d.check(&s(&"a".repeat(33)), &sys).unwrap_err();
        assert!(e.message.contains("33 characters"), "{e}");
        let e = d.check(&s(&"é".repeat(20)), &sys).unwrap_err();
        assert!(e.message.contains("20 characters, 40 bytes"), "{e}");
        assert!(d.check(&s("a\nb"), &sys).is_err());
        assert!(d.check(&s(""), &sys).is_err());
        assert!(d.check(&Value::Integer(3), &sys).is_err());
    }

    #[test]
    fn passphrase_empty_or_ascii_8_to_63() {
        let mut d = def(Kind::String);
        d.allow_empty = true;
        d.min_chars = Some(8);
        d.max_chars = Some(63);
        d.pattern = Some("[ -~]*".into());
        let sys = System::default();
        assert!(d.check(&s(""), &sys).is_ok());
        assert!(d.check(&s("12345678"), &sys).is_ok());
        assert!(d.check(&s("12345"), &sys).is_err());
        assert!(d.check(&s("motdepasseé"), &sys).is_err());
        assert!(d.check(&s(&"x".repeat(64)), &sys).is_err());
        d.secret = true;
        let e = d.check(&s("motdepasseé"), &sys).unwrap_err();
        assert!(!e.message.contains("motdepasse"), "{e}");
    }

    #[test]
    fn kinds_refuse_what_the_issue_lists() {
        let sys = System::default();
        assert!(def(Kind::WifiChannel)
            .check(&Value::Integer(0), &sys)
            .is_err());
        assert!(def(Kind::WifiChannel)
            .check(&Value::Integer(6), &sys)
            .is_ok());
        let e = def(Kind::Country).check(&s("France"), &sys).unwrap_err();
        assert!(e.hint.unwrap().contains("FR"));
        let e = def(Kind::Country).check(&s("fr"), &sys).unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("write it in capitals: FR"));
        assert!(def(Kind::Ipv4Prefix).check(&s("10.42.0.1"), &sys).is_err());
        assert!(def(Kind::Ipv4Prefix)
            .check(&s("300.1.1.1/24"), &sys)
            .is_err());
        assert!(def(Kind::Ipv4Prefix)
            .check(&s("10.42.0.0/24"), &sys)
            .is_err());
        assert!(def(Kind::Ipv4Prefix)
            .check(&s("10.42.0.1/24"), &sys)
            .is_ok());
        assert!(def(Kind::DnsName).check(&s("clic lan"), &sys).is_err());
        assert!(def(Kind::Ipv4).check(&s("10.42.0.10\n"), &sys).is_err());
        let mut size = def(Kind::Size);
        size.min = Some(s("16M"));
        assert!(size.check(&s("64M"), &sys).is_ok());
        assert!(size.check(&s("8M"), &sys).is_err());
        assert!(size.check(&s("lots"), &sys).is_err());
    }

    #[test]
    fn time_zones_come_from_the_database() {
        let (_d, sys) = zones();
        let tz = def(Kind::Timezone);
        assert!(tz.check(&s("Europe/Paris"), &sys).is_ok());
        assert!(tz.check(&s("Mars/Olympus"), &sys).is_err());
        assert!(tz.check(&s("Europe/Notazone"), &sys).is_err());
        assert!(
            tz.check(&s("Europe"), &sys).is_err(),
            "a directory is not a zone"
        );
        assert!(tz.check(&s("../../etc/passwd"), &sys).is_err());
        let none = System {
            zoneinfo: "/nonexistent".into(),
        };
        assert!(tz
            .check(&s("Europe/Paris"), &none)
            .unwrap_err()
            .message
            .contains("tzdata"));
    }

    #[test]
    fn lists_check_each_item_and_their_length() {
        let mut d = def(Kind::List);
        d.items = Some(Kind::String);
        d.pattern = Some("[a-z_]+".into());
        d.max_items = Some(2);
        let sys = System::default();
        assert!(d.check(&Value::List(vec![s("nextcloud")]), &sys).is_ok());
        let e = d
            .check(&Value::List(vec![s("ok"), s("Bad!")]), &sys)
            .unwrap_err();
        assert!(e.message.starts_with("item 2 (`Bad!`)"), "{e}");
        assert!(d
            .check(&Value::List(vec![s("a"), s("b"), s("c")]), &sys)
            .is_err());
        assert!(d.check(&s("a"), &sys).is_err());
    }

    #[test]
    fn declarations_are_checked() {
        let sys = System::default();
        let mut d = SettingDef::new(Kind::Integer, s("six"), "x");
        d.max_bytes = Some(3);
        let keys: Vec<String> = d.problems(&sys).into_iter().map(|p| p.0).collect();
        assert_eq!(keys, ["max_bytes"]);
        d.max_bytes = None;
        let keys: Vec<String> = d.problems(&sys).into_iter().map(|p| p.0).collect();
        assert_eq!(keys, ["default"]);
        let mut e = SettingDef::new(Kind::Enum, s("a"), "x");
        assert_eq!(e.problems(&sys)[0].0, "values");
        e.values = Some(vec!["a".into(), "b".into()]);
        assert!(e.problems(&sys).is_empty());
        let mut l = SettingDef::new(Kind::List, Value::List(vec![]), "x");
        assert_eq!(l.problems(&sys)[0].0, "items");
        l.items = Some(Kind::Hostname);
        assert!(l.problems(&sys).is_empty());
        let mut p = SettingDef::new(Kind::String, s("a"), "x");
        p.pattern = Some("(".into());
        assert_eq!(p.problems(&sys)[0].0, "pattern");
        p.pattern = None;
        p.clic_txt = Some("Bad Key".into());
        assert_eq!(p.problems(&sys)[0].0, "clic_txt");
    }
}
