//! `clic check` renders every template of the chosen layers and overlays
//! with the spec's settings, in memory: an unknown variable or filter, or a
//! syntax error, is reported with the template's file and line before any
//! work starts.

use std::path::{Path, PathBuf};

use super::render::{render, TemplateContext};
use crate::spec::Diagnostic;

/// Render the templates of a resolved spec's layers and overlays with its
/// settings; the spec back, or what failed.
pub fn check_resolved(
    r: crate::spec::Resolved,
    spec_path: &Path,
) -> Result<crate::spec::Resolved, crate::spec::Diagnostics> {
    let mut trees: Vec<PathBuf> = r.layers.iter().filter_map(|l| l.root()).collect();
    trees.extend(r.overlays.iter().cloned());
    let ctx = crate::build::template_context(&r, crate::build::source_date_epoch(spec_path));
    crate::spec::Diagnostics(check_trees(&trees, &ctx)).into_result(r)
}

/// Render each `.tera` file under `trees`; one diagnostic per failure.
pub fn check_trees(trees: &[PathBuf], ctx: &TemplateContext) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for t in trees {
        let mut files = Vec::new();
        collect(t, &mut files);
        files.sort();
        for f in files {
            let rel = f
                .strip_prefix(t)
                .unwrap_or(&f)
                .to_string_lossy()
                .into_owned();
            let text = match std::fs::read_to_string(&f) {
                Ok(t) => t,
                Err(e) => {
                    out.push(diag(&f, 1, 1, format!("cannot read this template: {e}")));
                    continue;
                }
            };
            if let Err(e) = render(&rel, &text, ctx) {
                let (line, col) = locate(&e.detail, &text);
                out.push(diag(&f, line, col, tidy(&e.detail)));
            }
        }
    }
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => collect(&p, out),
            Ok(t) if t.is_file() && p.extension().is_some_and(|x| x == "tera") => out.push(p),
            _ => {}
        }
    }
}

fn diag(file: &Path, line: usize, column: usize, message: String) -> Diagnostic {
    Diagnostic {
        file: file.to_owned(),
        line,
        column,
        key: "template".into(),
        message,
        hint: Some("templates see: name, board, arch, suite, hostname, locale, timezone, layers, settings.<layer>.<key>, portal, firstboot_steps, firewall (README: layers)".into()),
    }
}

/// tera's chain, on one line: without its name for one-off templates, and
/// of a syntax error's drawing only what the parser expected.
fn tidy(detail: &str) -> String {
    let detail = match (detail.find("--> "), detail.find("= expected")) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &detail[..a], &detail[b + 2..]),
        _ => detail.to_owned(),
    };
    detail
        .replace("Failed to render '__tera_one_off'", "does not render")
        .replace(" while rendering '__tera_one_off'", "")
        .replace("Failed to parse '__tera_one_off'", "does not parse")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where the problem is: tera gives `--> line:col` for syntax errors; for
/// an unknown variable or filter, the first line that names it.
pub fn locate(detail: &str, text: &str) -> (usize, usize) {
    if let Some(pos) = detail.find("--> ") {
        let rest = &detail[pos + 4..];
        let mut it = rest
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        if let (Some(l), Some(c)) = (it.next(), it.next()) {
            if let (Ok(l), Ok(c)) = (l.parse(), c.parse()) {
                return (l, c);
            }
        }
    }
    for (open, close) in [
        ("Variable `", '`'),
        ("Filter '", '\''),
        ("filter `", '`'),
        ("Function '", '\''),
        ("Test '", '\''),
    ] {
        if let Some(i) = detail.find(open) {
            let name = &detail[i + open.len()..];
            if let Some(end) = name.find(close) {
                let name = &name[..end];
                for (n, line) in text.lines().enumerate() {
                    if let Some(c) = line.find(name) {
                        return (n + 1, c + 1);
                    }
                }
            }
        }
    }
    (1, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::render::sample_context;

    fn check(files: &[(&str, &str)]) -> Vec<Diagnostic> {
        let t = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = t.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        check_trees(&[t.path().to_owned()], &sample_context())
    }

    #[test]
    fn good_templates_pass_and_plain_files_are_not_read() {
        let d = check(&[
            (
                "etc/a.conf.tera",
                "h={{ hostname }}\n{{ settings.base.greeting }}\n",
            ),
            ("etc/plain.conf", "{{ not a template }}"),
        ]);
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn unknown_variables_filters_and_syntax_are_found_with_their_line() {
        let d = check(&[
            ("etc/a.conf.tera", "a\nb\nc={{ settings.base.nokey }}\n"),
            ("etc/b.conf.tera", "a\n{{ hostname | nofilter }}\n"),
            ("etc/c.conf.tera", "a\nb\n{% if x %}\n"),
        ]);
        assert_eq!(d.len(), 3, "{d:?}");
        let lines: Vec<(String, usize)> = d
            .iter()
            .map(|x| {
                (
                    x.file.file_name().unwrap().to_string_lossy().into_owned(),
                    x.line,
                )
            })
            .collect();
        assert_eq!(lines[0], ("a.conf.tera".into(), 3), "{d:?}");
        assert_eq!(lines[1], ("b.conf.tera".into(), 2), "{d:?}");
        assert_eq!(lines[2].0, "c.conf.tera");
        assert!(lines[2].1 >= 3, "{d:?}");
        assert!(d[0].message.contains("nokey"), "{}", d[0].message);
    }
}
