//! Settings: each layer's schema (`[settings.<key>]` with `type` and
//! constraints, `[[rules]]`) is checked when the layer is read; a spec's
//! values are checked against it before any work. The rules themselves
//! live in the `clic-settings` crate, which the box uses too.

use std::collections::BTreeMap;

use clic_settings::{ImageSettings, Kind, LayerSchema, Rule, System, Value};
use toml::Spanned;

use super::diag::{Diagnostic, Source};
use super::layer::{LayerDef, LoadedLayer};

/// A diagnostic at `span` for `key`, with the fault's hint if it has one.
fn fault_diag(
    src: &Source,
    span: Option<std::ops::Range<usize>>,
    key: &str,
    message: String,
    hint: Option<String>,
) -> Diagnostic {
    let d = src.diag(span, key, message);
    match hint {
        Some(h) => d.with_hint(h),
        None => d,
    }
}

/// A `[system]` value of a spec (`hostname`, `locale`, `timezone`),
/// checked by `system_schema()`'s rules; its default when the spec has
/// none.
pub fn check_system(
    src: &Source,
    v: &Option<Spanned<String>>,
    key: &str,
    d: &mut Vec<Diagnostic>,
) -> String {
    let schema = clic_settings::system_schema();
    let Some(def) = schema.settings.get(key) else {
        return v.as_ref().map(|v| v.get_ref().clone()).unwrap_or_default();
    };
    let Some(v) = v else {
        return def.default.to_string();
    };
    if let Err(f) = def.check(&Value::String(v.get_ref().clone()), &System::default()) {
        d.push(fault_diag(
            src,
            Some(v.span()),
            &format!("system.{key}"),
            f.message,
            f.hint,
        ));
    }
    v.get_ref().clone()
}

/// Setting names: what templates and `clic.txt` can spell.
fn valid_setting_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// What is wrong with a layer's settings and rules.
pub fn check_layer(src: &Source, def: &LayerDef) -> Vec<Diagnostic> {
    let sys = System::default();
    let mut d = Vec::new();
    for (name, s) in &def.settings {
        if !valid_setting_name(name) {
            d.push(
                src.diag(
                    Some(s.span()),
                    &format!("settings.{name}"),
                    format!("`{name}` is not a setting name"),
                )
                .with_hint("lower-case letters, digits and _, starting with a letter"),
            );
        }
        for (key, msg) in s.get_ref().problems(&sys) {
            d.push(src.diag(Some(s.span()), &format!("settings.{name}.{key}"), msg));
        }
    }
    let defaults = defaults(def);
    for (i, r) in def.rules.iter().enumerate() {
        let key = format!("rules[{i}]");
        let want: Vec<(&str, &[Kind])> = match r.get_ref() {
            Rule::DhcpRange {
                address,
                first,
                last,
            } => vec![
                (address, &[Kind::Ipv4Prefix]),
                (first, &[Kind::Ipv4]),
                (last, &[Kind::Ipv4]),
            ],
            Rule::ChannelCountry { channel, country } => {
                vec![(channel, &[Kind::WifiChannel]), (country, &[Kind::Country])]
            }
        };
        let mut ok = true;
        for (setting, kinds) in want {
            match def.settings.get(setting) {
                Some(s) if kinds.contains(&s.get_ref().kind) => {}
                Some(s) => {
                    ok = false;
                    d.push(src.diag(
                        Some(r.span()),
                        &key,
                        format!(
                            "setting `{setting}` is a {}; this rule needs a {}",
                            s.get_ref().kind.name(),
                            kinds[0].name()
                        ),
                    ))
                }
                None => {
                    ok = false;
                    d.push(src.diag(
                        Some(r.span()),
                        &key,
                        format!("the layer has no setting `{setting}`"),
                    ))
                }
            }
        }
        if ok {
            if let Err(f) = r.get_ref().check(&defaults) {
                d.push(src.diag(
                    Some(r.span()),
                    &key,
                    format!("the defaults break this rule: `{}`: {}", f.key, f.message),
                ));
            }
        }
    }
    d
}

fn defaults(def: &LayerDef) -> BTreeMap<String, Value> {
    def.settings
        .iter()
        .map(|(k, s)| (k.clone(), s.get_ref().default.clone()))
        .collect()
}

/// A layer's schema, without the spans.
pub fn schema(def: &LayerDef) -> LayerSchema {
    LayerSchema {
        settings: def
            .settings
            .iter()
            .map(|(k, s)| (k.clone(), s.get_ref().clone()))
            .collect(),
        rules: def.rules.iter().map(|r| r.get_ref().clone()).collect(),
    }
}

/// A TOML value as a setting value; floats, dates and tables are none.
pub fn to_value(v: &toml::Value) -> Result<Value, String> {
    Ok(match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::Integer(*i),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Array(a) => Value::List(a.iter().map(to_value).collect::<Result<_, _>>()?),
        other => return Err(format!("a {} is not a setting value", other.type_str())),
    })
}

/// A setting value as TOML, for the templates.
pub fn to_toml(v: &Value) -> toml::Value {
    match v {
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Integer(i) => toml::Value::Integer(*i),
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::List(l) => toml::Value::Array(l.iter().map(to_toml).collect()),
    }
}

/// The `[settings.<layer>]` tables of a spec, as written.
pub type SpecSettings = BTreeMap<String, Spanned<BTreeMap<String, Spanned<toml::Value>>>>;

/// Check a spec's settings against its layers' schemas: unknown layers and
/// keys, each value, then each layer's rules over its values. Returns the
/// values templates see (defaults overridden by the spec).
pub fn check_spec(
    src: &Source,
    layers: &[LoadedLayer],
    spec: &SpecSettings,
    d: &mut Vec<Diagnostic>,
) -> BTreeMap<String, toml::Table> {
    let sys = System::default();
    let mut values: BTreeMap<String, BTreeMap<String, Value>> = layers
        .iter()
        .map(|l| (l.name.clone(), defaults(&l.def)))
        .collect();
    // Where each value came from, to point rule faults at the spec's line.
    let mut spans: BTreeMap<(String, String), std::ops::Range<usize>> = BTreeMap::new();
    for (lname, table) in spec {
        let Some(layer) = layers.iter().find(|l| &l.name == lname) else {
            d.push(
                src.diag(
                    Some(table.span()),
                    &format!("settings.{lname}"),
                    format!("settings for layer `{lname}`, which this spec does not include"),
                )
                .with_hint(format!(
                    "layers of this spec: {}",
                    layers
                        .iter()
                        .map(|l| l.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
            continue;
        };
        for (k, v) in table.get_ref() {
            let key = format!("settings.{lname}.{k}");
            let Some(def) = layer.def.settings.get(k) else {
                d.push(
                    src.diag(
                        Some(v.span()),
                        &key,
                        format!("layer `{lname}` has no setting `{k}`"),
                    )
                    .with_hint(format!(
                        "its settings: {}",
                        layer
                            .def
                            .settings
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
                continue;
            };
            let def = def.get_ref();
            let val = match to_value(v.get_ref()) {
                Ok(val) => val,
                Err(m) => {
                    d.push(src.diag(
                        Some(v.span()),
                        &key,
                        format!("{m}; expected {}", def.type_summary()),
                    ));
                    continue;
                }
            };
            match def.check(&val, &sys) {
                Ok(()) => {
                    spans.insert((lname.clone(), k.clone()), v.span());
                    if let Some(t) = values.get_mut(lname) {
                        t.insert(k.clone(), val);
                    }
                }
                Err(f) => {
                    let message = if f.message.contains("expected") {
                        f.message
                    } else {
                        format!("{}; expected {}", f.message, def.type_summary())
                    };
                    d.push(fault_diag(src, Some(v.span()), &key, message, f.hint));
                }
            }
        }
    }
    // Rules, over the values that passed.
    for l in layers {
        let Some(vals) = values.get(&l.name) else {
            continue;
        };
        for r in &l.def.rules {
            if let Err(f) = r.get_ref().check(vals) {
                let span = spans
                    .get(&(l.name.clone(), f.key.clone()))
                    .or_else(|| {
                        r.get_ref()
                            .keys()
                            .iter()
                            .find_map(|k| spans.get(&(l.name.clone(), (*k).to_owned())))
                    })
                    .cloned();
                d.push(fault_diag(
                    src,
                    span,
                    &format!("settings.{}.{}", l.name, f.key),
                    f.message,
                    f.hint,
                ));
            }
        }
    }
    values
        .into_iter()
        .map(|(l, t)| (l, t.iter().map(|(k, v)| (k.clone(), to_toml(v))).collect()))
        .collect()
}

/// What the image carries to the box (`/usr/share/clic/settings.json`):
/// every layer's schema and `system`'s, with the image's values. The file
/// is world-readable: secret values (the Wi-Fi passphrase) are left out.
pub fn image_settings(r: &super::Resolved) -> ImageSettings {
    let mut layers: BTreeMap<String, LayerSchema> = r
        .layers
        .iter()
        .map(|l| (l.name.clone(), schema(&l.def)))
        .collect();
    layers.insert("system".into(), clic_settings::system_schema());
    let mut values: BTreeMap<String, BTreeMap<String, Value>> = r
        .settings
        .iter()
        .map(|(l, t)| {
            (
                l.clone(),
                t.iter()
                    .filter(|(k, _)| {
                        !layers
                            .get(l)
                            .and_then(|s| s.settings.get(*k))
                            .is_some_and(|d| d.secret)
                    })
                    .filter_map(|(k, v)| to_value(v).ok().map(|v| (k.clone(), v)))
                    .collect(),
            )
        })
        .collect();
    values.insert(
        "system".into(),
        [
            ("hostname", &r.hostname),
            ("locale", &r.locale),
            ("timezone", &r.timezone),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v.clone())))
        .collect(),
    );
    ImageSettings {
        format: clic_settings::SETTINGS_FORMAT,
        layers,
        values,
    }
}

/// Two layers (or a layer and `[system]`) must not claim one `clic.txt` key.
pub fn check_clic_txt_keys(src: &Source, layers: &[LoadedLayer], d: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<String, String> = clic_settings::system_schema()
        .settings
        .iter()
        .filter_map(|(k, s)| s.clic_txt.clone().map(|c| (c, format!("system.{k}"))))
        .collect();
    for l in layers {
        for (k, s) in &l.def.settings {
            if let Some(c) = &s.get_ref().clic_txt {
                let here = format!("{}.{k}", l.name);
                if let Some(other) = seen.insert(c.clone(), here.clone()) {
                    // At the second claim, in its layer.toml when it can be read.
                    let (at, span) = match Source::read(&l.dir.join("layer.toml")) {
                        Ok(layer_src) => (layer_src, Some(s.span())),
                        Err(_) => (src.clone(), None),
                    };
                    d.push(at.diag(
                        span,
                        &format!("settings.{k}.clic_txt"),
                        format!("settings `{other}` and `{here}` both take clic.txt key `{c}`"),
                    ));
                }
            }
        }
    }
}
