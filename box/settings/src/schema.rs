//! The schema: what a layer declares for each setting in `layer.toml`, and
//! what an image carries to the box (`/usr/share/clic/settings.json`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::rules::Rule;
use crate::value::Value;

/// Version of the `settings.json` document on the box.
pub const SETTINGS_FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Text on one line (or several with `multiline`): never control
    /// characters; `min_bytes`, `max_bytes`, `min_chars`, `max_chars`,
    /// `pattern`, `forbid`.
    String,
    /// Whole number; `min`, `max`.
    Integer,
    Bool,
    /// One of `values`.
    Enum,
    /// Bytes with systemd's suffixes: `64M`; `min`, `max` as sizes in text.
    Size,
    /// `10.42.0.1`.
    Ipv4,
    /// `10.42.0.1/24`; `min`, `max` bound the prefix length (default 8-30).
    Ipv4Prefix,
    /// `clic.lan`: two or more lower-case labels.
    DnsName,
    /// RFC 1123 host name, one label.
    Hostname,
    /// ISO 3166-1 alpha-2, one wireless-regdb knows.
    Country,
    /// A name of the tz database: `Europe/Paris`.
    Timezone,
    /// `fr_FR.UTF-8`.
    Locale,
    /// A Wi-Fi channel: 1-14, or a 5 GHz channel.
    WifiChannel,
    /// dnsmasq lease time: `45m`, `12h`, `1d`, `infinite`.
    Duration,
    /// An OpenSSH public key line.
    SshKey,
    /// A list of `items`; `min_items`, `max_items`; the other constraints
    /// apply to each item.
    List,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Bool => "bool",
            Kind::Enum => "enum",
            Kind::Size => "size",
            Kind::Ipv4 => "ipv4",
            Kind::Ipv4Prefix => "ipv4_prefix",
            Kind::DnsName => "dns_name",
            Kind::Hostname => "hostname",
            Kind::Country => "country",
            Kind::Timezone => "timezone",
            Kind::Locale => "locale",
            Kind::WifiChannel => "wifi_channel",
            Kind::Duration => "duration",
            Kind::SshKey => "ssh_key",
            Kind::List => "list",
        }
    }

    /// Kinds whose values are written as TOML strings.
    pub fn is_textual(self) -> bool {
        !matches!(
            self,
            Kind::Integer | Kind::Bool | Kind::WifiChannel | Kind::List
        )
    }
}

/// One setting of a layer, as `[settings.<key>]` in `layer.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingDef {
    #[serde(rename = "type")]
    pub kind: Kind,
    pub default: Value,
    pub description: String,
    /// `list`: the kind of each item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Kind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_items: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_chars: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<u64>,
    /// A regular expression the whole value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// `integer`: bounds; `size`: bounds as sizes (`16M`); `ipv4_prefix`:
    /// bounds of the prefix length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Value>,
    /// `enum`: the choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// Values refused although they fit (reserved names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forbid: Vec<String>,
    /// The empty string is accepted too (meaning "none", "open", "auto").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_empty: bool,
    /// Line breaks allowed (never in `clic.txt`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multiline: bool,
    /// Not repeated in logs or in `clic.txt.applied`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    /// Said when a value is refused: what a good one looks like.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The key of `clic.txt` on the boot partition that changes this
    /// setting on the box; none: only at build time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clic_txt: Option<String>,
}

impl SettingDef {
    /// A setting of `kind` with its default and description, no constraint.
    pub fn new(kind: Kind, default: Value, description: &str) -> SettingDef {
        SettingDef {
            kind,
            default,
            description: description.to_owned(),
            items: None,
            min_items: None,
            max_items: None,
            min_bytes: None,
            max_bytes: None,
            min_chars: None,
            max_chars: None,
            pattern: None,
            min: None,
            max: None,
            values: None,
            forbid: Vec::new(),
            allow_empty: false,
            multiline: false,
            secret: false,
            hint: None,
            clic_txt: None,
        }
    }

    /// One line for `clic settings` and README: `string, 1-32 bytes`.
    pub fn type_summary(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let k = match (self.kind, self.items) {
            (Kind::List, Some(i)) => format!("list of {}", i.name()),
            (k, _) => k.name().to_owned(),
        };
        parts.push(k);
        let range = |lo: Option<String>, hi: Option<String>, unit: &str| match (lo, hi) {
            (Some(a), Some(b)) => Some(format!("{a}-{b}{unit}")),
            (Some(a), None) => Some(format!("at least {a}{unit}")),
            (None, Some(b)) => Some(format!("at most {b}{unit}")),
            (None, None) => None,
        };
        let num = |v: &Option<u64>| v.map(|n| n.to_string());
        parts.extend(range(num(&self.min_items), num(&self.max_items), " items"));
        parts.extend(range(num(&self.min_bytes), num(&self.max_bytes), " bytes"));
        parts.extend(range(
            num(&self.min_chars),
            num(&self.max_chars),
            " characters",
        ));
        let val = |v: &Option<Value>| v.as_ref().map(|v| v.to_string());
        let unit = if self.kind == Kind::Ipv4Prefix {
            " prefix"
        } else {
            ""
        };
        parts.extend(range(val(&self.min), val(&self.max), unit));
        if let Some(v) = &self.values {
            parts.push(format!("one of {}", v.join(", ")));
        }
        if let Some(p) = &self.pattern {
            parts.push(format!("matching {p}"));
        }
        if !self.forbid.is_empty() {
            parts.push(format!("not {}", self.forbid.join(", ")));
        }
        if self.allow_empty {
            parts.push("or empty".into());
        }
        if self.multiline {
            parts.push("several lines".into());
        }
        parts.join(", ")
    }
}

/// The settings of one layer and the rules that tie them together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSchema {
    #[serde(default)]
    pub settings: BTreeMap<String, SettingDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
}

/// What an image carries to the box: every layer's schema (and `system`'s)
/// and the values it was built with. The box's tools (`clic-box settings`,
/// the admin console) check new values against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSettings {
    pub format: u32,
    pub layers: BTreeMap<String, LayerSchema>,
    pub values: BTreeMap<String, BTreeMap<String, Value>>,
}

/// The `[system]` table of a spec, as a schema: host name, locale, time
/// zone; each may be changed from `clic.txt` under its own name.
pub fn system_schema() -> LayerSchema {
    let settings = [
        (
            "hostname",
            Kind::Hostname,
            "clic",
            "Name of the box on the network (one label: letters, digits, -)",
        ),
        (
            "locale",
            Kind::Locale,
            "C.UTF-8",
            "System locale; another than C.UTF-8 adds the `locales` package",
        ),
        (
            "timezone",
            Kind::Timezone,
            "Etc/UTC",
            "Time zone, a name of the tz database",
        ),
    ]
    .into_iter()
    .map(|(key, kind, default, description)| {
        let mut d = SettingDef::new(kind, Value::String(default.into()), description);
        d.clic_txt = Some(key.into());
        (key.to_owned(), d)
    })
    .collect();
    LayerSchema {
        settings,
        rules: Vec::new(),
    }
}
