//! `.tera` files are rendered with the image's settings. Pure: text in,
//! text out.

use serde::Serialize;
use std::collections::BTreeMap;

/// What templates see.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateContext {
    pub name: String,
    pub description: String,
    pub board: String,
    pub arch: String,
    pub suite: String,
    pub hostname: String,
    pub locale: String,
    pub timezone: String,
    pub layers: Vec<String>,
    pub settings: BTreeMap<String, toml::Table>,
    pub clic_version: String,
    pub source_date_epoch: i64,
    /// `SOURCE_DATE_EPOCH` as `YYYY-MM-DD` (UTC).
    pub build_date: String,
    /// Tiles and content for the portal pages.
    pub portal: super::portal::Portal,
    /// The image's first-boot steps, in order (the "about" page shows their
    /// live status).
    pub firstboot_steps: Vec<super::steps::Step>,
    /// Every layer's open ports (`[[ports]]`) with the image's settings:
    /// the firewall's ruleset is made from them.
    pub firewall: Vec<crate::spec::ports::OpenPort>,
}

#[derive(Debug, thiserror::Error)]
#[error("rendering template {name}: {detail}")]
pub struct RenderError {
    pub name: String,
    pub detail: String,
}

/// Render `text`; HTML and XML targets are auto-escaped.
pub fn render(name: &str, text: &str, ctx: &TemplateContext) -> Result<String, RenderError> {
    let target = name.strip_suffix(".tera").unwrap_or(name);
    let escape = [".html", ".htm", ".xml", ".svg"]
        .iter()
        .any(|e| target.ends_with(e));
    let context = tera::Context::from_serialize(ctx).map_err(|e| RenderError {
        name: name.to_owned(),
        detail: chain(&e),
    })?;
    render_context(name, text, &context, escape)
}

/// Render `text` with an already built context.
pub fn render_context(
    name: &str,
    text: &str,
    context: &tera::Context,
    escape: bool,
) -> Result<String, RenderError> {
    tera::Tera::one_off(text, context, escape).map_err(|e| RenderError {
        name: name.to_owned(),
        detail: chain(&e),
    })
}

/// tera keeps the useful part ("Variable `x` not found") in the source chain.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
pub(crate) fn sample_context() -> TemplateContext {
    let mut settings = BTreeMap::new();
    let mut base = toml::Table::new();
    base.insert("greeting".into(), toml::Value::String("Bonjour <3".into()));
    settings.insert("base".into(), base);
    TemplateContext {
        name: "clic-test".into(),
        description: "test".into(),
        board: "ordinosaure-amd64".into(),
        arch: "amd64".into(),
        suite: "bookworm".into(),
        hostname: "clic".into(),
        locale: "C.UTF-8".into(),
        timezone: "Etc/UTC".into(),
        layers: vec!["base".into()],
        settings,
        clic_version: "0.1.0".into(),
        source_date_epoch: 0,
        build_date: "1970-01-01".into(),
        portal: Default::default(),
        firstboot_steps: Vec::new(),
        firewall: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_settings_and_escapes_html_only() {
        let ctx = sample_context();
        let html = render(
            "index.html.tera",
            "<p>{{ settings.base.greeting }} {{ hostname }}</p>",
            &ctx,
        )
        .unwrap();
        assert_eq!(html, "<p>Bonjour &lt;3 clic</p>");
        let conf = render("x.conf.tera", "g={{ settings.base.greeting }}", &ctx).unwrap();
        assert_eq!(conf, "g=Bonjour <3");
    }

    #[test]
    fn unknown_variable_is_an_error_naming_the_file() {
        let err = render("etc/x.tera", "{{ nope }}", &sample_context()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("etc/x.tera"), "{msg}");
        assert!(msg.contains("nope"), "{msg}");
    }
}
