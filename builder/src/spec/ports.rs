//! `[[ports]]` in layer.toml: what a layer's services listen on, and from
//! which zones of the box's network the firewall lets it be reached. The
//! base layer's nftables ruleset is made from every layer's `[[ports]]`
//! (templates see them as `firewall`), so a service a layer adds cannot
//! be forgotten: a port no layer declares is closed.
//!
//! ```toml
//! [[ports]]
//! port = 22
//! proto = "tcp"
//! zones = ["hotspot", "lan"]
//! uplink_if = "admin_ssh_key"   # also on the uplink when this setting is set
//! what = "SSH, for the administrator"
//! ```
//!
//! Zones: `hotspot` (the box's Wi-Fi), `lan` (a wired network with private
//! addresses: 10/8, 172.16/12, 192.168/16, fc00::/7, link-local), `uplink`
//! (anything else: the internet side of a wired uplink).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use toml::Spanned;

use super::diag::{Diagnostic, Source};

pub const ZONES: &[&str] = &["hotspot", "lan", "uplink"];
pub const PROTOS: &[&str] = &["tcp", "udp"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortDef {
    pub port: Spanned<i64>,
    pub proto: Spanned<String>,
    pub zones: Spanned<Vec<String>>,
    /// A setting of this layer: when it is set (true, or a non-empty
    /// text), the port is open on the uplink too.
    #[serde(default)]
    pub uplink_if: Option<Spanned<String>>,
    /// What listens there, for people reading the ruleset.
    pub what: String,
}

/// One open port as the templates see it (`firewall`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpenPort {
    pub port: u16,
    pub proto: String,
    pub zones: Vec<String>,
    pub layer: String,
    pub what: String,
}

pub fn check(
    src: &Source,
    defs: &[PortDef],
    settings: &BTreeMap<String, Spanned<clic_settings::SettingDef>>,
) -> Vec<Diagnostic> {
    let mut d = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, p) in defs.iter().enumerate() {
        let k = |f: &str| format!("ports[{i}].{f}");
        let port = *p.port.get_ref();
        if !(1..=65535).contains(&port) {
            d.push(src.diag(Some(p.port.span()), &k("port"), "must be 1 to 65535"));
        }
        let proto = p.proto.get_ref();
        if !PROTOS.contains(&proto.as_str()) {
            d.push(
                src.diag(
                    Some(p.proto.span()),
                    &k("proto"),
                    format!("`{proto}` is not a protocol"),
                )
                .with_hint("tcp or udp"),
            );
        }
        if !seen.insert((port, proto.clone())) {
            d.push(src.diag(
                Some(p.port.span()),
                &k("port"),
                format!("{port}/{proto} is declared twice"),
            ));
        }
        let zones = p.zones.get_ref();
        if zones.is_empty() && p.uplink_if.is_none() {
            d.push(src.diag(
                Some(p.zones.span()),
                &k("zones"),
                "at least one zone (or uplink_if)",
            ));
        }
        for z in zones {
            if !ZONES.contains(&z.as_str()) {
                d.push(
                    src.diag(
                        Some(p.zones.span()),
                        &k("zones"),
                        format!("`{z}` is not a zone"),
                    )
                    .with_hint("hotspot, lan or uplink"),
                );
            }
        }
        if let Some(u) = &p.uplink_if {
            if !settings.contains_key(u.get_ref()) {
                d.push(
                    src.diag(
                        Some(u.span()),
                        &k("uplink_if"),
                        format!("`{}` is not a setting of this layer", u.get_ref()),
                    )
                    .with_hint(format!(
                        "one of: {}",
                        settings.keys().cloned().collect::<Vec<_>>().join(", ")
                    )),
                );
            }
        }
    }
    d
}

/// Whether a setting's value opens a port (`uplink_if`).
fn set(v: Option<&toml::Value>) -> bool {
    match v {
        Some(toml::Value::Boolean(b)) => *b,
        Some(toml::Value::String(s)) => !s.trim().is_empty(),
        Some(toml::Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
        None => false,
    }
}

/// Every layer's open ports with the image's settings: sorted by port,
/// protocol and layer.
pub fn open_ports<'a>(
    layers: impl IntoIterator<Item = (&'a str, &'a [PortDef])>,
    settings: &BTreeMap<String, toml::Table>,
) -> Vec<OpenPort> {
    let mut out = Vec::new();
    for (layer, defs) in layers {
        for p in defs {
            let mut zones: Vec<String> = p.zones.get_ref().clone();
            if let Some(u) = &p.uplink_if {
                let v = settings.get(layer).and_then(|t| t.get(u.get_ref()));
                if set(v) && !zones.iter().any(|z| z == "uplink") {
                    zones.push("uplink".into());
                }
            }
            zones.sort_by_key(|z| ZONES.iter().position(|x| x == z));
            zones.dedup();
            if zones.is_empty() {
                continue;
            }
            out.push(OpenPort {
                port: u16::try_from(*p.port.get_ref()).unwrap_or(0),
                proto: p.proto.get_ref().clone(),
                zones,
                layer: layer.to_string(),
                what: p.what.clone(),
            });
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct F {
        #[serde(default)]
        ports: Vec<PortDef>,
        #[serde(default)]
        settings: BTreeMap<String, Spanned<clic_settings::SettingDef>>,
    }

    fn load(text: &str) -> (Vec<PortDef>, Vec<Diagnostic>) {
        let src = Source {
            path: "overlays/x/layer.toml".into(),
            text: text.to_string(),
        };
        let f: F = src.parse().unwrap();
        let d = check(&src, &f.ports, &f.settings);
        (f.ports, d)
    }

    const SETTINGS: &str =
        "[settings.key]\ntype = \"string\"\ndefault = \"\"\ndescription = \"k\"\n";

    #[test]
    fn bad_declarations_name_their_line_and_key() {
        let (_, d) = load(&format!(
            "{SETTINGS}[[ports]]\nport = 0\nproto = \"sctp\"\nzones = [\"wifi\"]\nwhat = \"x\"\n\
             [[ports]]\nport = 22\nproto = \"tcp\"\nzones = []\nuplink_if = \"nope\"\nwhat = \"x\"\n\
             [[ports]]\nport = 22\nproto = \"tcp\"\nzones = [\"lan\"]\nwhat = \"y\"\n"
        ));
        let text: Vec<String> = d
            .iter()
            .map(|x| {
                format!(
                    "{}:{} {} {}",
                    x.line,
                    x.key,
                    x.message,
                    x.hint.clone().unwrap_or_default()
                )
            })
            .collect();
        let all = text.join("\n");
        assert!(all.contains("6:ports[0].port must be 1 to 65535"), "{all}");
        assert!(
            all.contains("ports[0].proto `sctp` is not a protocol tcp or udp"),
            "{all}"
        );
        assert!(all.contains("ports[0].zones `wifi` is not a zone"), "{all}");
        assert!(
            all.contains("ports[1].uplink_if `nope` is not a setting of this layer one of: key"),
            "{all}"
        );
        assert!(
            all.contains("ports[2].port 22/tcp is declared twice"),
            "{all}"
        );
        assert_eq!(d.len(), 5, "{all}");
    }

    #[test]
    fn uplink_only_when_the_setting_is_set() {
        let (ports, d) = load(&format!(
            "{SETTINGS}[[ports]]\nport = 22\nproto = \"tcp\"\nzones = [\"lan\", \"hotspot\"]\nuplink_if = \"key\"\nwhat = \"ssh\"\n\
             [[ports]]\nport = 53\nproto = \"udp\"\nzones = [\"hotspot\"]\nwhat = \"dns\"\n"
        ));
        assert!(d.is_empty());
        let mut settings = BTreeMap::new();
        let open = open_ports([("x", ports.as_slice())], &settings);
        assert_eq!(open[0].port, 22);
        assert_eq!(open[0].zones, ["hotspot", "lan"]);
        assert_eq!(open[1].port, 53);
        let mut t = toml::Table::new();
        t.insert("key".into(), "ssh-ed25519 AAAA".into());
        settings.insert("x".to_string(), t);
        let open = open_ports([("x", ports.as_slice())], &settings);
        assert_eq!(open[0].zones, ["hotspot", "lan", "uplink"]);
    }
}
