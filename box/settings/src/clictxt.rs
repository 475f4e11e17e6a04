//! `clic.txt`: `key=value` lines a volunteer writes on the boot partition.
//! Each key is a setting's `clic_txt`; each value is checked by the
//! setting's own rules, then the layer's rules run over the box's values
//! with the new ones. What passes is applied, what fails is refused and the
//! box keeps its value.

use std::collections::BTreeMap;

use crate::check::{Fault, System};
use crate::schema::{ImageSettings, Kind, SettingDef};
use crate::value::Value;

/// One `key=value` line, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClicTxtLine {
    pub line: usize,
    pub key: String,
    pub value: String,
}

/// Lines of `clic.txt`; blank lines and `#` or `;` comments are skipped,
/// `\r` removed, spaces around keys and values trimmed. Lines without `=`
/// are refused.
pub fn parse_clic_txt(text: &str) -> (Vec<ClicTxtLine>, Vec<Refusal>) {
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, raw) in text.split('\n').enumerate() {
        let l = raw.strip_suffix('\r').unwrap_or(raw).trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        match l.split_once('=') {
            Some((k, v)) => lines.push(ClicTxtLine {
                line: i + 1,
                key: k.trim().to_owned(),
                value: v.trim().to_owned(),
            }),
            None => bad.push(Refusal {
                line: i + 1,
                key: String::new(),
                message: "not a `key=value` line".into(),
                hint: Some("e.g. ssid=Ma boîte".into()),
            }),
        }
    }
    (lines, bad)
}

/// A value as `clic.txt` writes it, typed by its setting.
pub fn parse_text(def: &SettingDef, text: &str) -> Result<Value, Fault> {
    let one = |kind: Kind, t: &str| -> Result<Value, Fault> {
        match kind {
            Kind::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" | "oui" => Ok(Value::Bool(true)),
                "false" | "no" | "off" | "0" | "non" => Ok(Value::Bool(false)),
                _ => Err(Fault {
                    message: format!("`{t}` is not true or false"),
                    hint: Some("true or false (yes/no, on/off, oui/non)".into()),
                }),
            },
            Kind::Integer | Kind::WifiChannel => {
                t.parse::<i64>().map(Value::Integer).map_err(|_| Fault {
                    message: format!("`{t}` is not a whole number"),
                    hint: None,
                })
            }
            _ => Ok(Value::String(t.to_owned())),
        }
    };
    match def.kind {
        Kind::List => {
            let item = def.items.unwrap_or(Kind::String);
            if text.trim().is_empty() {
                return Ok(Value::List(Vec::new()));
            }
            text.split(',')
                .map(|t| one(item, t.trim()))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List)
        }
        k => one(k, text),
    }
}

/// A new value that passed, for the box to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub line: usize,
    /// The `clic.txt` key.
    pub key: String,
    pub layer: String,
    pub setting: String,
    pub value: Value,
    pub secret: bool,
}

/// A line refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub line: usize,
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "clic.txt:{}: ", self.line)?;
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub accepted: Vec<Accepted>,
    pub refused: Vec<Refusal>,
}

impl ImageSettings {
    /// Settings `clic.txt` may change: its key -> (layer, setting, def).
    pub fn clic_txt_keys(&self) -> BTreeMap<&str, (&str, &str, &SettingDef)> {
        let mut m = BTreeMap::new();
        for (layer, schema) in &self.layers {
            for (name, def) in &schema.settings {
                if let Some(k) = &def.clic_txt {
                    m.insert(k.as_str(), (layer.as_str(), name.as_str(), def));
                }
            }
        }
        m
    }

    /// Check a `clic.txt` against the image's schema and the box's values.
    pub fn check_clic_txt(&self, text: &str, sys: &System) -> Outcome {
        let keys = self.clic_txt_keys();
        let (lines, mut refused) = parse_clic_txt(text);
        let mut accepted: Vec<Accepted> = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let refuse = |message: String, hint: Option<String>| Refusal {
                line: l.line,
                key: l.key.clone(),
                message,
                hint,
            };
            let Some((layer, setting, def)) = keys.get(l.key.as_str()) else {
                refused.push(refuse(
                    "this box has no such setting".into(),
                    Some(format!(
                        "settings of this box: {}",
                        keys.keys().copied().collect::<Vec<_>>().join(", ")
                    )),
                ));
                continue;
            };
            if let Some(first) = lines[..i].iter().find(|o| o.key == l.key) {
                refused.push(refuse(
                    format!("set twice (line {} too): neither is applied", first.line),
                    None,
                ));
                accepted.retain(|a| a.key != l.key);
                continue;
            }
            if refused.iter().any(|r| r.key == l.key) {
                continue;
            }
            match parse_text(def, &l.value).and_then(|v| def.check(&v, sys).map(|()| v)) {
                Ok(value) => accepted.push(Accepted {
                    line: l.line,
                    key: l.key.clone(),
                    layer: (*layer).to_owned(),
                    setting: (*setting).to_owned(),
                    value,
                    secret: def.secret,
                }),
                Err(f) => refused.push(refuse(f.message, f.hint)),
            }
        }
        // The layers' rules, over the box's values with the new ones.
        for (layer, schema) in &self.layers {
            let mut values = self.values.get(layer).cloned().unwrap_or_default();
            for a in accepted.iter().filter(|a| &a.layer == layer) {
                values.insert(a.setting.clone(), a.value.clone());
            }
            for rule in &schema.rules {
                let touched: Vec<&Accepted> = accepted
                    .iter()
                    .filter(|a| &a.layer == layer && rule.keys().contains(&a.setting.as_str()))
                    .collect();
                if touched.is_empty() {
                    continue;
                }
                if let Err(f) = rule.check(&values) {
                    let lines: Vec<usize> = touched.iter().map(|a| a.line).collect();
                    for a in &touched {
                        refused.push(Refusal {
                            line: a.line,
                            key: a.key.clone(),
                            message: format!("{} (`{}`)", f.message, f.key),
                            hint: f.hint.clone(),
                        });
                    }
                    accepted.retain(|a| !lines.contains(&a.line));
                }
            }
        }
        refused.sort_by_key(|r| r.line);
        Outcome { accepted, refused }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;
    use crate::schema::{system_schema, LayerSchema, SETTINGS_FORMAT};

    fn image() -> ImageSettings {
        let mut hotspot = LayerSchema::default();
        let mut ssid = SettingDef::new(Kind::String, Value::String("CLIC".into()), "x");
        ssid.min_bytes = Some(1);
        ssid.max_bytes = Some(32);
        ssid.clic_txt = Some("ssid".into());
        hotspot.settings.insert("ssid".into(), ssid);
        let mut ch = SettingDef::new(Kind::WifiChannel, Value::Integer(6), "x");
        ch.clic_txt = Some("channel".into());
        hotspot.settings.insert("channel".into(), ch);
        let mut co = SettingDef::new(Kind::Country, Value::String("FR".into()), "x");
        co.clic_txt = Some("country".into());
        hotspot.settings.insert("country".into(), co);
        hotspot.rules.push(Rule::ChannelCountry {
            channel: "channel".into(),
            country: "country".into(),
        });
        let mut layers = BTreeMap::new();
        layers.insert("hotspot".to_owned(), hotspot);
        layers.insert("system".to_owned(), system_schema());
        let mut values = BTreeMap::new();
        let mut hv = BTreeMap::new();
        hv.insert("channel".to_owned(), Value::Integer(6));
        hv.insert("country".to_owned(), Value::String("FR".into()));
        values.insert("hotspot".to_owned(), hv);
        ImageSettings {
            format: SETTINGS_FORMAT,
            layers,
            values,
        }
    }

    #[test]
    fn good_lines_pass_bad_ones_are_refused_with_their_line() {
        let text = "# my box\r\nssid = Salle des fêtes\r\nchannel=0\nnope=1\njust text\nhostname=salle-2\n";
        let o = image().check_clic_txt(text, &System::default());
        let acc: Vec<(&str, String)> = o
            .accepted
            .iter()
            .map(|a| (a.key.as_str(), a.value.to_string()))
            .collect();
        assert_eq!(
            acc,
            [
                ("ssid", "Salle des fêtes".to_owned()),
                ("hostname", "salle-2".to_owned())
            ]
        );
        let refused: Vec<(usize, &str)> =
            o.refused.iter().map(|r| (r.line, r.key.as_str())).collect();
        assert_eq!(refused, [(3, "channel"), (4, "nope"), (5, "")]);
        assert!(o.refused[1].hint.as_ref().unwrap().contains("ssid"));
        assert_eq!(o.refused[0].to_string(), "clic.txt:3: `channel`: 0 is not a Wi-Fi channel (hint: 1 to 13 (2.4 GHz, 14 in Japan only) or a 5 GHz channel: 36, 40, ... 64, 100 ... 144, 149 ... 177)");
    }

    #[test]
    fn rules_see_the_box_s_values() {
        let sys = System::default();
        // Channel 14 with the box's country FR: refused.
        let o = image().check_clic_txt("channel=14\n", &sys);
        assert!(o.accepted.is_empty());
        assert!(o.refused[0].message.contains("Japan"), "{:?}", o.refused);
        // With the country changed to JP in the same file: both pass.
        let o = image().check_clic_txt("country=JP\nchannel=14\n", &sys);
        assert_eq!(o.accepted.len(), 2, "{:?}", o.refused);
    }

    #[test]
    fn a_key_set_twice_is_refused() {
        let o = image().check_clic_txt("ssid=a\nssid=b\n", &System::default());
        assert!(o.accepted.is_empty());
        assert_eq!(o.refused[0].line, 2);
    }

    #[test]
    fn texts_become_typed_values() {
        let mut b = SettingDef::new(Kind::Bool, Value::Bool(true), "x");
        assert_eq!(parse_text(&b, "Oui").unwrap(), Value::Bool(true));
        assert!(parse_text(&b, "maybe").is_err());
        b.kind = Kind::List;
        b.items = Some(Kind::Integer);
        assert_eq!(
            parse_text(&b, "1, 2").unwrap(),
            Value::List(vec![Value::Integer(1), Value::Integer(2)])
        );
        assert_eq!(parse_text(&b, "").unwrap(), Value::List(vec![]));
    }

    #[test]
    fn the_document_round_trips_through_json() {
        let i = image();
        let j = serde_json::to_string(&i).unwrap();
        let back: ImageSettings = serde_json::from_str(&j).unwrap();
        assert_eq!(back, i);
    }
}
