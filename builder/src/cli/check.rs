use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};

use super::Exit;
use crate::data;
use crate::spec::{self, Diagnostics, Resolved};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The image spec (TOML)
    pub spec: PathBuf,
    /// Check for this board instead of the spec's
    #[arg(long)]
    pub board: Option<String>,
    /// Print one JSON document: ok, the problems, what the spec resolves to
    #[arg(long)]
    pub json: bool,
}

/// `clic check --json`: the problems (errors and warnings) and, when the
/// spec is valid, what it resolves to. Field order is fixed.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// No errors (warnings allowed).
    pub ok: bool,
    pub spec: String,
    pub problems: Vec<Problem>,
    /// Only when `ok`.
    pub resolved: Option<Summary>,
}

/// One problem, as `file:line:column: `key`: message` in the text output.
#[derive(Debug, Serialize)]
pub struct Problem {
    pub file: String,
    /// 1-based; null when the problem has no place in a file.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted key path; empty for the file itself.
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
    /// `error` (the spec is refused) or `warning`.
    pub severity: &'static str,
}

/// What a valid spec resolves to.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub name: String,
    pub description: String,
    pub board: String,
    pub arch: String,
    pub suite: String,
    pub mirror: String,
    pub layers: Vec<String>,
    /// The shared tree's packages.
    pub packages: Vec<String>,
    /// The board's and the spec's, on top.
    pub extra_packages: Vec<String>,
    pub hostname: String,
    pub locale: String,
    pub timezone: String,
}

impl CheckReport {
    pub fn new(spec: &Path, r: Result<&Resolved, &Diagnostics>) -> CheckReport {
        let mut problems: Vec<Problem> = match r {
            Ok(_) => Vec::new(),
            Err(d) => {
                d.0.iter()
                    .map(|d| Problem {
                        file: d.file.display().to_string(),
                        line: Some(d.line),
                        column: Some(d.column),
                        key: d.key.clone(),
                        message: d.message.clone(),
                        hint: d.hint.clone(),
                        severity: "error",
                    })
                    .collect()
            }
        };
        if let Ok(r) = r {
            problems.extend(
                crate::spec::apt::unpinned(&r.layers)
                    .into_iter()
                    .map(|w| Problem {
                        file: spec.display().to_string(),
                        line: None,
                        column: None,
                        key: String::new(),
                        message: format!("{w}; `clic build` refuses to use it until then"),
                        hint: None,
                        severity: "warning",
                    }),
            );
        }
        CheckReport {
            ok: r.is_ok(),
            spec: spec.display().to_string(),
            problems,
            resolved: r.ok().map(|r| Summary {
                name: r.name.clone(),
                description: r.description.clone(),
                board: r.board.name.clone(),
                arch: r.board.profile.arch.clone(),
                suite: r.suite.clone(),
                mirror: r.mirror.clone(),
                layers: r.layers.iter().map(|l| l.name.clone()).collect(),
                packages: r.packages.clone(),
                extra_packages: r.extra_packages.clone(),
                hostname: r.hostname.clone(),
                locale: r.locale.clone(),
                timezone: r.timezone.clone(),
            }),
        }
    }
}

fn refused(d: &Diagnostics) -> anyhow::Error {
    Exit {
        code: crate::ui::exit::USAGE,
        message: d.to_string().trim_end().to_owned(),
    }
    .into()
}

/// Resolve a spec or turn its diagnostics into an exit with code 2.
pub fn resolve(
    spec_path: &Path,
    board: Option<&str>,
    data_dir: Option<&Path>,
) -> anyhow::Result<(Resolved, data::DataDir)> {
    let (r, data) = resolve_diag(spec_path, board, data_dir)?;
    r.map(|r| (r, data)).map_err(|d| refused(&d))
}

/// Resolve a spec: its diagnostics as a value; an error only when clic's
/// data cannot be found.
pub(crate) fn resolve_diag(
    spec_path: &Path,
    board: Option<&str>,
    data_dir: Option<&Path>,
) -> anyhow::Result<(Result<Resolved, Diagnostics>, data::DataDir)> {
    let data = data::locate(data_dir)?;
    let opts = spec::Options {
        data: &data,
        board_override: board,
    };
    // Every template of the chosen layers and overlays must render with
    // the spec's settings (in memory, nothing written).
    let resolved = spec::resolve(spec_path, &opts)
        .and_then(|r| crate::layers::templates::check_resolved(r, spec_path));
    Ok((resolved, data))
}

pub fn run(a: CheckArgs, data_dir: Option<&Path>) -> anyhow::Result<()> {
    if a.json {
        let (r, _) = resolve_diag(&a.spec, a.board.as_deref(), data_dir)?;
        let report = CheckReport::new(&a.spec, r.as_ref());
        println!("{}", serde_json::to_string_pretty(&report)?);
        return match r {
            Ok(_) => Ok(()),
            Err(d) => Err(Exit {
                code: crate::ui::exit::USAGE,
                message: format!(
                    "{} problem{} found in {} (listed on stdout)",
                    d.0.len(),
                    if d.0.len() == 1 { "" } else { "s" },
                    a.spec.display()
                ),
            }
            .into()),
        };
    }
    let (r, _) = resolve(&a.spec, a.board.as_deref(), data_dir)?;
    println!("{}: ok", a.spec.display());
    println!("  image    {} ({})", r.name, r.description);
    println!(
        "  board    {} ({}, {})",
        r.board.name, r.board.profile.arch, r.board.profile.description
    );
    println!("  suite    {} from {}", r.suite, r.mirror);
    println!(
        "  layers   {}",
        r.layers
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  packages {}", r.packages.join(" "));
    if !r.extra_packages.is_empty() {
        println!("  extra    {} (board and spec)", r.extra_packages.join(" "));
    }
    println!(
        "  system   hostname={} locale={} timezone={}",
        r.hostname, r.locale, r.timezone
    );
    for p in &r.content {
        println!(
            "  content  {} ({} items, {})",
            p.id,
            p.items.len(),
            crate::spec::size::human(p.size())
        );
    }
    for a in crate::spec::apt::repos(&r.layers) {
        println!(
            "  apt      {} (layer {}): {} key {}",
            a.name,
            a.layer,
            a.source_line(&a.keyring_in_image()),
            a.fingerprint.as_deref().unwrap_or("NOT PINNED")
        );
    }
    for s in crate::layers::steps::steps(&r.layers) {
        println!("  step     {}: {}", s.id, s.title_en);
    }
    // Not an error of the spec: the layer waits for its key. `clic build`
    // refuses it.
    for w in crate::spec::apt::unpinned(&r.layers) {
        crate::warning!("{w}; `clic build` refuses to use it until then");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Diagnostic;

    #[test]
    fn json_problems_have_a_fixed_shape() {
        let d = Diagnostics(vec![Diagnostic {
            file: "spec.toml".into(),
            line: 3,
            column: 9,
            key: "board".into(),
            message: "unknown board `pi9`".into(),
            hint: Some("known boards: rpi3".into()),
        }]);
        let report = CheckReport::new(Path::new("spec.toml"), Err(&d));
        let v = serde_json::to_value(&report).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "ok": false,
                "spec": "spec.toml",
                "problems": [{
                    "file": "spec.toml", "line": 3, "column": 9, "key": "board",
                    "message": "unknown board `pi9`", "hint": "known boards: rpi3",
                    "severity": "error"
                }],
                "resolved": null
            })
        );
        // Fields come in a fixed order.
        let text = serde_json::to_string(&report).unwrap();
        let at = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
        assert!(at("ok") < at("spec") && at("spec") < at("problems"));
        assert!(at("file") < at("line") && at("hint") < at("severity"));
    }

    #[test]
    fn json_of_the_default_spec_says_what_it_resolves_to() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let spec = repo.join("specs/clic-ordinosaure.toml");
        let (r, _) = resolve_diag(&spec, None, Some(&repo)).unwrap();
        let v = serde_json::to_value(CheckReport::new(&spec, r.as_ref())).unwrap();
        assert_eq!(v["ok"], true);
        assert_eq!(v["problems"], serde_json::json!([]));
        assert_eq!(v["resolved"]["board"], "ordinosaure-amd64");
        assert_eq!(v["resolved"]["arch"], "amd64");
        assert!(v["resolved"]["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "linux-image-amd64"));
    }
}
