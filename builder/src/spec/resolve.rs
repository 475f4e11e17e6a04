//! Resolve: read the spec, its board profile and its layers, check all of
//! it, and report every problem at once before any work starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::diag::{Diagnostic, Diagnostics, Source};
use super::layer::{self, LoadedLayer};
use super::model::*;
use super::profile::{self, LoadedProfile};
use crate::data::DataDir;

/// Everything a build needs, checked.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub spec_path: PathBuf,
    pub spec_sha256: String,
    pub name: String,
    pub description: String,
    pub suite: String,
    pub mirror: String,
    pub board: LoadedProfile,
    /// Layers in application order (dependencies first).
    pub layers: Vec<LoadedLayer>,
    /// The shared tree's packages: the board's kernel set, the layers'.
    pub packages: Vec<String>,
    /// Installed on top: the board's own packages and the spec's (none of
    /// them in `packages`).
    pub extra_packages: Vec<String>,
    /// Extra file trees from the spec, in order.
    pub overlays: Vec<PathBuf>,
    pub hostname: String,
    pub locale: String,
    pub timezone: String,
    /// `settings.<layer>.<key>`: layer defaults overridden by the spec.
    pub settings: BTreeMap<String, toml::Table>,
    /// Content packs, checked (files are not looked at: see `clic content`).
    pub content: Vec<crate::content::Pack>,
}

pub struct Options<'a> {
    pub data: &'a DataDir,
    /// Build for this board instead of the spec's.
    pub board_override: Option<&'a str>,
}

pub fn resolve(spec_path: &Path, opts: &Options) -> Result<Resolved, Diagnostics> {
    let src = Source::read(spec_path)?;
    let spec: SpecFile = src.parse()?;
    let spec_dir = spec_path
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut d = Diagnostics::default();
    let diag = |span: std::ops::Range<usize>, key: &str, msg: String| -> Diagnostic {
        src.diag(Some(span), key, msg)
    };

    if !valid_image_name(spec.name.get_ref()) {
        d.0.push(diag(
            spec.name.span(),
            "name",
            format!(
                "`{}` is not a valid image name: use lowercase letters, digits, `-`, `_`, `.`",
                spec.name.get_ref()
            ),
        ));
    }
    if !SUITES.contains(&spec.suite.get_ref().as_str()) {
        d.0.push(
            diag(
                spec.suite.span(),
                "suite",
                format!("unsupported Debian suite `{}`", spec.suite.get_ref()),
            )
            .with_hint(format!("supported: {}", SUITES.join(", "))),
        );
    }

    // Board.
    let board_name = opts
        .board_override
        .map(str::to_owned)
        .unwrap_or_else(|| spec.board.get_ref().clone());
    let board_path = opts.data.profile_path(&board_name);
    let board = if valid_name(&board_name) && board_path.is_file() {
        match profile::load(&board_path) {
            Ok(p) => Some(p),
            Err(e) => {
                d.extend(e);
                None
            }
        }
    } else {
        let known: Vec<String> = profile::list(&opts.data.profiles())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        d.0.push(
            diag(
                spec.board.span(),
                "board",
                format!("unknown board `{board_name}`"),
            )
            .with_hint(format!("known boards: {}", known.join(", "))),
        );
        None
    };
    if let Some(b) = &board {
        let suites = &b.profile.suites;
        if SUITES.contains(&spec.suite.get_ref().as_str())
            && !suites.is_empty()
            && !suites.contains(spec.suite.get_ref())
        {
            d.0.push(diag(
                spec.suite.span(),
                "suite",
                format!(
                    "board `{}` does not support suite `{}` (it supports: {})",
                    b.name,
                    spec.suite.get_ref(),
                    suites.join(", ")
                ),
            ));
        }
    }

    // Layers, with what they need, dependencies first.
    let available = layer::list(&opts.data.overlays());
    let mut layers: Vec<LoadedLayer> = Vec::new();
    for (i, l) in spec.layers.iter().enumerate() {
        let key = format!("layers[{i}]");
        if spec.layers[..i].iter().any(|o| o.get_ref() == l.get_ref()) {
            d.0.push(diag(
                l.span(),
                &key,
                format!("layer `{}` is listed twice", l.get_ref()),
            ));
            continue;
        }
        let mut stack = Vec::new();
        if let Err(msg) = add_layer(
            l.get_ref(),
            opts.data,
            &available,
            &mut layers,
            &mut stack,
            &mut d,
        ) {
            d.0.push(
                diag(l.span(), &key, msg)
                    .with_hint(format!("available layers: {}", available.join(", "))),
            );
        }
    }

    // Extra apt repositories: for this suite, one name each.
    let repos = super::apt::repos(&layers);
    for (i, r) in repos.iter().enumerate() {
        if !r.debian_suites.is_empty() && !r.debian_suites.contains(spec.suite.get_ref()) {
            d.0.push(diag(
                spec.suite.span(),
                "suite",
                format!(
                    "layer `{}` needs apt repository `{}`, made for Debian {} only, not `{}`",
                    r.layer,
                    r.name,
                    r.debian_suites.join(", "),
                    spec.suite.get_ref()
                ),
            ));
        }
        if let Some(o) = repos[..i].iter().find(|o| o.name == r.name) {
            d.0.push(diag(
                spec.layers.first().map_or(0..0, |l| l.span()),
                "layers",
                format!(
                    "layers `{}` and `{}` both declare an apt repository named `{}`",
                    o.layer, r.layer, r.name
                ),
            ));
        }
    }

    // Packages.
    let mut packages: Vec<String> = Vec::new();
    for (i, p) in spec.packages.iter().enumerate() {
        if !valid_package(p.get_ref()) {
            d.0.push(diag(
                p.span(),
                &format!("packages[{i}]"),
                format!("`{}` is not a Debian package name", p.get_ref()),
            ));
        }
    }
    if let Some(b) = &board {
        packages.extend(b.profile.packages.iter().cloned());
    }
    for l in &layers {
        packages.extend(l.def.packages.iter().cloned());
    }
    let mut extra_packages: Vec<String> =
        spec.packages.iter().map(|p| p.get_ref().clone()).collect();
    if let Some(b) = &board {
        extra_packages.extend(b.profile.board_packages.iter().cloned());
    }

    // Overlays: directories relative to the spec.
    let mut overlays = Vec::new();
    for (i, o) in spec.overlays.iter().enumerate() {
        let p = spec_dir.join(o.get_ref());
        if p.is_dir() {
            overlays.push(p);
        } else {
            d.0.push(diag(
                o.span(),
                &format!("overlays[{i}]"),
                format!("overlay directory `{}` does not exist", p.display()),
            ));
        }
    }

    // System: the same rules and defaults as on the box (`clic.txt`).
    let hostname = super::settings::check_system(&src, &spec.system.hostname, "hostname", &mut d.0);
    let locale = super::settings::check_system(&src, &spec.system.locale, "locale", &mut d.0);
    let timezone = super::settings::check_system(&src, &spec.system.timezone, "timezone", &mut d.0);
    if locale != "C.UTF-8" && locale != "C" && locale != "POSIX" {
        extra_packages.push("locales".into());
    }

    // Settings: declared keys of included layers, each value checked by
    // its setting's rules, then the layers' rules across settings.
    let settings = super::settings::check_spec(&src, &layers, &spec.settings, &mut d.0);
    super::settings::check_clic_txt_keys(&src, &layers, &mut d.0);

    let mirror = spec
        .mirror
        .as_ref()
        .map(|m| m.get_ref().clone())
        .unwrap_or_else(|| DEFAULT_MIRROR.to_owned());
    if let Some(m) = &spec.mirror {
        if let Some(problem) = mirror_problem(m.get_ref()) {
            d.0.push(diag(m.span(), "mirror", problem));
        }
    }

    // Content packs, and the layers they need.
    let (content, problems) = crate::content::load_packs(
        spec.content.as_ref().map_or(&[][..], |c| c.get_ref()),
        &src,
        &spec_dir,
        &opts.data.root,
    );
    d.extend(problems);
    let layer_names: Vec<String> = layers.iter().map(|l| l.name.clone()).collect();
    d.0.extend(crate::content::check_layers(
        &content,
        &layer_names,
        &src,
        spec.content.as_ref().map(|c| c.span()),
    ));

    packages.sort();
    packages.dedup();
    extra_packages.sort();
    extra_packages.dedup();
    extra_packages.retain(|p| packages.binary_search(p).is_err());
    // Report in the order of the files' lines.
    d.0.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    // A broken layer that several layers need is read, and reported, once each.
    d.0.dedup();
    let Some(board) = board else {
        return Err(d);
    };
    let spec_sha256 = hex::encode(Sha256::digest(src.text.as_bytes()));
    d.into_result(Resolved {
        spec_path: spec_path.to_owned(),
        spec_sha256,
        name: spec.name.into_inner(),
        description: spec.description.unwrap_or_default(),
        suite: spec.suite.into_inner(),
        mirror,
        board,
        layers,
        packages,
        extra_packages,
        overlays,
        hostname,
        locale,
        timezone,
        settings,
        content,
    })
}

/// Depth-first: a layer's needs come before it; cycles are errors.
fn add_layer(
    name: &str,
    data: &DataDir,
    available: &[String],
    out: &mut Vec<LoadedLayer>,
    stack: &mut Vec<String>,
    d: &mut Diagnostics,
) -> Result<(), String> {
    if out.iter().any(|l| l.name == name) {
        return Ok(());
    }
    if stack.iter().any(|s| s == name) {
        return Err(format!(
            "layers need each other in a cycle: {} -> {name}",
            stack.join(" -> ")
        ));
    }
    if !valid_name(name) || !available.iter().any(|a| a == name) {
        return Err(match stack.last() {
            Some(parent) => format!("layer `{parent}` needs layer `{name}`, which does not exist"),
            None => format!("unknown layer `{name}`"),
        });
    }
    let loaded = match layer::load(name, &data.overlays().join(name)) {
        Ok(l) => l,
        Err(e) => {
            d.extend(e);
            return Ok(());
        }
    };
    stack.push(name.to_owned());
    for need in loaded.def.needs.clone() {
        add_layer(&need, data, available, out, stack, d)?;
    }
    stack.pop();
    out.push(loaded);
    Ok(())
}

/// Board and layer names are names, never paths: `rpi3`, `captive-portal`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// What is wrong with a Debian mirror's URL, if anything: it is parsed as
/// a URL (it ends up in apt's sources and mmdebstrap's command line), with
/// no control character or space anywhere (the URL parser would drop a
/// newline silently), a host for http(s), and no query or fragment.
pub fn mirror_problem(m: &str) -> Option<String> {
    if let Some(c) = m.chars().find(|c| c.is_control() || c.is_whitespace()) {
        return Some(format!(
            "the mirror's URL holds {:?}: no spaces, tabs or line breaks",
            c
        ));
    }
    let u = match url::Url::parse(m) {
        Ok(u) => u,
        Err(e) => return Some(format!("the mirror is not a URL ({e})")),
    };
    match u.scheme() {
        "http" | "https" => {
            if u.host_str().is_none_or(str::is_empty) {
                return Some("the mirror's URL has no host".into());
            }
        }
        "file" => {}
        s => {
            return Some(format!(
                "a mirror is an http://, https:// or file:// URL, not {s}://"
            ))
        }
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Some("the mirror's URL may not have a query (?) or fragment (#)".into());
    }
    None
}

#[cfg(test)]
mod mirror_tests {
    use super::mirror_problem;

    #[test]
    fn mirrors_are_parsed_as_urls() {
        for ok in [
            "http://deb.debian.org/debian",
            "https://deb.debian.org/debian/",
            "http://127.0.0.1:3142/debian",
            "file:///srv/mirror/debian",
        ] {
            assert_eq!(mirror_problem(ok), None, "{ok}");
        }
        for (bad, word) in [
            (
                "http://deb.debian.org/debian\ndeb http://evil/ x",
                "line breaks",
            ),
            ("http://deb.debian.org/debian x", "spaces"),
            ("http://deb.debian.org/\tdebian", "tabs"),
            ("ftp://deb.debian.org/debian", "not ftp://"),
            ("deb.debian.org/debian", "not a URL"),
            ("http://", "not a URL"),
            ("https://deb.debian.org/debian?x=1", "query"),
        ] {
            let p = mirror_problem(bad).unwrap_or_default();
            assert!(p.contains(word), "{bad:?}: {p}");
        }
    }
}
