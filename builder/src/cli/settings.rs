//! `clic settings [LAYER]`: the settings each layer declares (and the
//! spec's `[system]` table), from the same schema `clic check` and the box
//! use; `--markdown` prints the README's settings reference.

use clap::Args;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

use super::Exit;
use crate::data::{self, DataDir};
use crate::spec::{layer, settings, Diagnostics};
use clic_settings::{Rule, SettingDef};

/// The name `clic settings` gives the spec's `[system]` table.
pub const SYSTEM: &str = "system";

pub const README_START: &str = "<!-- settings-reference:start -->";
pub const README_END: &str = "<!-- settings-reference:end -->";

#[derive(Args, Debug)]
pub struct SettingsArgs {
    /// Only this layer (`system`: the spec's [system] table)
    pub layer: Option<String>,
    /// Print one JSON document: {layer: {description, settings, rules}}
    #[arg(long)]
    pub json: bool,
    /// The README's settings reference, as markdown (`make readme`)
    #[arg(long, hide = true, conflicts_with = "json")]
    pub markdown: bool,
}

/// One layer's settings, as `clic settings --json` prints them. Field order
/// is fixed; settings are sorted by key.
#[derive(Debug, Clone, Serialize)]
pub struct LayerSettings {
    pub description: String,
    pub settings: BTreeMap<String, SettingDef>,
    pub rules: Vec<Rule>,
}

/// Every layer's settings: `system` first, then the layers by name.
#[derive(Debug, Clone, Default)]
pub struct Reference(pub Vec<(String, LayerSettings)>);

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// `system` and every layer of the data directory; a broken layer.toml
/// is reported like `clic check` does.
pub fn reference(data: &DataDir) -> Result<Reference, Diagnostics> {
    let system = clic_settings::system_schema();
    let mut out = vec![(
        SYSTEM.to_owned(),
        LayerSettings {
            description: "The spec's [system] table".into(),
            settings: system.settings,
            rules: system.rules,
        },
    )];
    let mut problems = Diagnostics::default();
    let overlays = data.overlays();
    for name in layer::list(&overlays) {
        match layer::load(&name, &overlays.join(&name)) {
            Ok(l) => {
                let schema = settings::schema(&l.def);
                out.push((
                    name,
                    LayerSettings {
                        description: l.def.description.clone(),
                        settings: schema.settings,
                        rules: schema.rules,
                    },
                ))
            }
            Err(d) => problems.extend(d),
        }
    }
    problems.into_result(Reference(out))
}

/// A default as a spec writes it (TOML): `"CLIC"`, `6`, `true`, `[]`.
fn default_toml(d: &SettingDef) -> String {
    settings::to_toml(&d.default).to_string()
}

/// What a rule ties together, in a sentence.
fn rule_text(r: &Rule) -> String {
    match r {
        Rule::DhcpRange {
            address,
            first,
            last,
        } => format!(
            "`{first}`..`{last}` lie in the network of `{address}` and do not hold its address"
        ),
        Rule::ChannelCountry { channel, country } => {
            format!("`{channel}` is allowed in `{country}` (14: Japan only)")
        }
    }
}

fn clic_txt_text(d: &SettingDef) -> String {
    match &d.clic_txt {
        Some(k) => format!("clic.txt key `{k}`"),
        None => "build time only".into(),
    }
}

/// The text output: per layer a heading, then each setting.
pub fn text(r: &Reference) -> String {
    let mut s = String::new();
    for (i, (name, l)) in r.0.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s += &format!("{name}: {}\n", l.description);
        if l.settings.is_empty() {
            s += "  (no settings)\n";
        }
        for (key, d) in &l.settings {
            s += &format!("  {key}  {}\n", d.type_summary());
            s += &format!(
                "      default {}; {}{}\n",
                default_toml(d),
                clic_txt_text(d),
                if d.secret { "; secret" } else { "" }
            );
            s += &format!("      {}\n", one_line(&d.description));
        }
        for rule in &l.rules {
            s += &format!("  rule: {}\n", rule_text(rule));
        }
    }
    s
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text in a table cell: one line, `|` escaped, `<...>` shown, not taken
/// for HTML.
fn cell(s: &str) -> String {
    one_line(s)
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A code span in a table cell.
fn code(s: &str) -> String {
    let s = one_line(s).replace('|', "\\|");
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

/// The README's settings reference: per layer, a table of its settings
/// (setting, type, default, clic.txt key, description) and its rules.
/// Starts and ends with a blank line (it sits between two markers).
pub fn settings_reference_markdown(r: &Reference) -> String {
    let mut s = String::from("\n");
    for (name, l) in &r.0 {
        let table = if name == SYSTEM {
            "[system]".to_owned()
        } else {
            format!("[settings.{name}]")
        };
        s += &format!("#### `{table}`\n\n");
        if l.settings.is_empty() {
            s += "No settings.\n\n";
            continue;
        }
        s += "| Setting | Type | Default | clic.txt key | Description |\n";
        s += "|---|---|---|---|---|\n";
        for (key, d) in &l.settings {
            s += &format!(
                "| `{key}` | {} | {} | {} | {} |\n",
                code(&d.type_summary()),
                code(&default_toml(d)),
                d.clic_txt.as_deref().map_or("-".to_owned(), code),
                cell(&d.description),
            );
        }
        s.push('\n');
        for rule in &l.rules {
            s += &format!("Rule: {}.\n", cell(&rule_text(rule)));
        }
        if !l.rules.is_empty() {
            s.push('\n');
        }
    }
    s
}

/// `text` with the part between the settings-reference markers replaced by
/// `generated`; none if the markers are missing.
pub fn replace_reference(text: &str, generated: &str) -> Option<String> {
    let start = text.find(README_START)? + README_START.len();
    let end = start + text[start..].find(README_END)?;
    Some(format!("{}\n{generated}{}", &text[..start], &text[end..]))
}

fn refused(message: String) -> anyhow::Error {
    Exit {
        code: crate::ui::exit::USAGE,
        message,
    }
    .into()
}

pub fn run(a: SettingsArgs, data_dir: Option<&Path>) -> anyhow::Result<()> {
    let data = data::locate(data_dir)?;
    let mut r = reference(&data).map_err(|d| refused(d.to_string().trim_end().to_owned()))?;
    if let Some(want) = &a.layer {
        if !r.0.iter().any(|(n, _)| n == want) {
            let names: Vec<&str> = r.0.iter().map(|(n, _)| n.as_str()).collect();
            return Err(refused(format!(
                "unknown layer `{want}`; layers: {}",
                names.join(", ")
            )));
        }
        r.0.retain(|(n, _)| n == want);
    }
    let out = if a.json {
        serde_json::to_string_pretty(&r)? + "\n"
    } else if a.markdown {
        settings_reference_markdown(&r)
    } else {
        text(&r)
    };
    print!("{out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> DataDir {
        DataDir {
            root: Path::new(env!("CARGO_MANIFEST_DIR")).join(".."),
        }
    }

    #[test]
    fn every_layer_and_system_with_types_and_clic_txt_keys() {
        let r = reference(&repo()).unwrap();
        assert_eq!(r.0[0].0, "system");
        assert!(r.0.iter().any(|(n, _)| n == "hotspot"));
        let t = text(&r);
        assert!(t.contains("hostname  hostname\n"), "{t}");
        assert!(t.contains("  ssid  string, 1-32 bytes\n"), "{t}");
        assert!(t.contains("default \"CLIC\"; clic.txt key `ssid`"), "{t}");
        assert!(t.contains("default 2; build time only"), "{t}");
    }

    #[test]
    fn json_in_a_stable_order() {
        let r = reference(&repo()).unwrap();
        let j = serde_json::to_string(&r).unwrap();
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        let ssid = &v["hotspot"]["settings"]["ssid"];
        assert_eq!(ssid["type"], "string");
        assert_eq!(ssid["default"], "CLIC");
        assert_eq!(ssid["max_bytes"], 32);
        assert_eq!(ssid["clic_txt"], "ssid");
        assert_eq!(v["hotspot"]["rules"][0]["rule"], "dhcp_range");
        assert_eq!(v["files"]["rules"], serde_json::json!([]));
        assert_eq!(v["yunohost"]["settings"]["apps"]["items"], "string");
        // system first, then the layers by name; fields in a fixed order.
        assert!(j.starts_with("{\"system\":{\"description\":"), "{j}");
        assert!(j.find("\"base\"").unwrap() < j.find("\"yunohost\"").unwrap());
        assert_eq!(
            j,
            serde_json::to_string(&reference(&repo()).unwrap()).unwrap()
        );
    }

    #[test]
    fn markdown_cells_stay_in_their_column() {
        let mut d = SettingDef::new(
            clic_settings::Kind::String,
            clic_settings::Value::String("a|b".into()),
            "x | <room>@y",
        );
        d.pattern = Some("(a|b)`c".into());
        let r = Reference(vec![(
            "l".into(),
            LayerSettings {
                description: String::new(),
                settings: [("k".to_owned(), d)].into(),
                rules: Vec::new(),
            },
        )]);
        let md = settings_reference_markdown(&r);
        let row = md.lines().find(|l| l.starts_with("| `k`")).unwrap();
        assert_eq!(row.replace("\\|", "").matches('|').count(), 6, "{row}");
        assert!(row.contains("&lt;room&gt;"), "{row}");
        assert!(row.contains("`` string, matching (a\\|b)`c ``"), "{row}");
    }

    #[test]
    fn markers_are_replaced_in_place() {
        let t = format!("a\n{README_START}\nold\n{README_END}\nb\n");
        assert_eq!(
            replace_reference(&t, "\nnew\n\n").unwrap(),
            format!("a\n{README_START}\n\nnew\n\n{README_END}\nb\n")
        );
        assert_eq!(replace_reference("no markers", "x"), None);
    }

    #[test]
    fn readme_settings_reference_is_up_to_date() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let generated = settings_reference_markdown(&reference(&repo()).unwrap());
        let want = replace_reference(&readme, &generated)
            .unwrap_or_else(|| panic!("README.md has no {README_START} ... {README_END} section"));
        assert!(
            readme == want,
            "README.md's settings reference differs from the layers' schemas: run `make readme`"
        );
    }
}
