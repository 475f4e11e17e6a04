//! `[[firstboot]]` in layer.toml: a step that needs the running system (or
//! the network) and so runs on the box, at boot, until it succeeds once.
//! The `firstboot` layer's runner (`/usr/lib/clic/clic-step`) runs it from
//! a unit clic writes (`layers::steps`).

use serde::Deserialize;
use toml::Spanned;

use super::diag::{Diagnostic, Source};
use super::layer::{Localized, PORTAL_LANGS};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    /// Short name; the step's id is `<layer>-<name>`, its unit
    /// `clic-step-<layer>-<name>.service`.
    pub name: Spanned<String>,
    /// What it does, shown on the portal's "about" page:
    /// `{ fr = "...", en = "..." }` (en falls back to fr).
    pub title: Localized,
    /// The command, run by `sh -c` as root: an absolute path and arguments.
    pub run: Spanned<String>,
    /// Wait (up to two minutes) for a default route first; without one
    /// the attempt fails and is retried at the next boot.
    #[serde(default)]
    pub network: bool,
    /// Longest one attempt may take.
    #[serde(default = "default_timeout")]
    pub timeout_minutes: u32,
}

fn default_timeout() -> u32 {
    30
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Check the `[[firstboot]]` steps of layer `layer`.
pub fn check(src: &Source, layer: &str, needs: &[String], steps: &[StepDef]) -> Vec<Diagnostic> {
    let mut d = Vec::new();
    if !steps.is_empty() && layer != "firstboot" && !needs.iter().any(|n| n == "firstboot") {
        d.push(
            src.diag(
                None,
                "needs",
                "a layer with [[firstboot]] steps needs the `firstboot` layer (it runs them)",
            )
            .with_hint("needs = [\"firstboot\", ...]"),
        );
    }
    for (i, s) in steps.iter().enumerate() {
        let k = |f: &str| format!("firstboot[{i}].{f}");
        let name = s.name.get_ref();
        if !valid_name(name) {
            d.push(
                src.diag(
                    Some(s.name.span()),
                    &k("name"),
                    format!("`{name}` is not a valid step name"),
                )
                .with_hint("lower-case letters, digits and `-`, starting with a letter"),
            );
        } else if steps[..i].iter().any(|o| o.name.get_ref() == name) {
            d.push(src.diag(
                Some(s.name.span()),
                &k("name"),
                format!("step `{name}` is declared twice"),
            ));
        }
        match s.title.get(PORTAL_LANGS[0]) {
            Some(t) if !t.trim().is_empty() && !t.contains(['\t', '\n']) => {}
            _ => d.push(src.diag(
                None,
                &k("title"),
                format!("needs a one-line `{}` text", PORTAL_LANGS[0]),
            )),
        }
        for lang in s
            .title
            .keys()
            .filter(|l| !PORTAL_LANGS.contains(&l.as_str()))
        {
            d.push(
                src.diag(
                    None,
                    &format!("{}.{lang}", k("title")),
                    "the portal has no such language",
                )
                .with_hint(format!("languages: {}", PORTAL_LANGS.join(", "))),
            );
        }
        let run = s.run.get_ref();
        if !run.starts_with('/') || run.contains(['\t', '\n', '\r']) {
            d.push(
                src.diag(
                    Some(s.run.span()),
                    &k("run"),
                    "must be one line starting with the command's absolute path",
                )
                .with_hint("e.g. run = \"/usr/lib/clic/yunohost-firstboot postinstall\""),
            );
        }
        if s.timeout_minutes == 0 || s.timeout_minutes > 24 * 60 {
            d.push(src.diag(None, &k("timeout_minutes"), "must be 1 to 1440 minutes"));
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(text: &str) -> (Source, Vec<StepDef>) {
        #[derive(Deserialize)]
        struct T {
            firstboot: Vec<StepDef>,
        }
        let src = Source {
            path: "layer.toml".into(),
            text: text.into(),
        };
        let t: T = src.parse().unwrap();
        (src, t.firstboot)
    }

    #[test]
    fn good_steps_pass() {
        let (src, s) = steps("[[firstboot]]\nname = \"postinstall\"\ntitle = { fr = \"Installation\", en = \"Install\" }\nrun = \"/usr/bin/x --y\"\nnetwork = true\n");
        assert!(check(&src, "yunohost", &["firstboot".into()], &s).is_empty());
        assert_eq!(s[0].timeout_minutes, 30);
    }

    #[test]
    fn bad_steps_are_named() {
        let (src, s) = steps("[[firstboot]]\nname = \"Post install\"\ntitle = { en = \"x\" }\nrun = \"x\"\n\n[[firstboot]]\nname = \"a\"\ntitle = { fr = \"a\", de = \"b\" }\nrun = \"/a\"\ntimeout_minutes = 0\n");
        let d = check(&src, "svc", &[], &s);
        let keys: Vec<&str> = d.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "needs",
                "firstboot[0].name",
                "firstboot[0].title",
                "firstboot[0].run",
                "firstboot[1].title.de",
                "firstboot[1].timeout_minutes"
            ]
        );
        assert_eq!(d[1].line, 2);
    }
}
