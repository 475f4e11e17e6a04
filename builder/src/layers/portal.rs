//! What the portal's templates see of the image: one tile per layer that has
//! a `[portal]` table, in every portal language (a missing translation falls
//! back to the default language), and the content listed on the portal
//! (the spec's content packs). Pure: layers in, values out.

use serde::Serialize;
use std::collections::BTreeMap;

use crate::spec::layer::{LoadedLayer, Localized, PORTAL_LANGS};

/// `portal` in the template context.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Portal {
    /// Languages the pages are written in, the default first.
    pub langs: Vec<String>,
    /// Services, sorted by `order` then layer name. Templates pick the
    /// participation corner with `tile.participation`.
    pub tiles: Vec<Tile>,
    /// Works in the library (content packs), in catalogue order.
    pub content: Vec<ContentItem>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Tile {
    pub layer: String,
    /// Every portal language is present.
    pub title: Localized,
    pub description: Localized,
    pub link: String,
    pub icon: Option<String>,
    pub participation: bool,
    pub licence: Option<String>,
    /// What the layer downloads (`[[downloads]]`), each with its licence,
    /// for the "about" page.
    pub downloads: Vec<SoftwareLicence>,
}

/// A piece of software a layer brings from outside Debian.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SoftwareLicence {
    /// e.g. `converse.js-14.0.0`.
    pub name: String,
    /// SPDX.
    pub licence: String,
}

/// One work of the library as the portal lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ContentItem {
    pub title: String,
    /// BCP 47 language of the work, e.g. `fr`.
    pub language: String,
    /// e.g. `zim`, `pdf`, `video`.
    pub kind: String,
    /// SPDX identifier.
    pub licence: String,
    /// Where it is on the box.
    pub link: String,
    pub size: u64,
}

/// The library's items as the home page lists them, in pack order.
pub fn content_items(packs: &[crate::content::Pack]) -> Vec<ContentItem> {
    let flags = vec![false; packs.len()];
    crate::content::catalogue::catalogue(packs, &flags)
        .packs
        .into_iter()
        .flat_map(|p| p.items)
        .map(|i| ContentItem {
            // A site is read in place; anything else opens or downloads
            // the file (kiwix's own link answers with a redirect).
            link: if i.kind == "html" {
                i.read.unwrap_or(i.link)
            } else {
                i.link
            },
            title: i.title,
            language: i.language,
            kind: i.kind,
            licence: i.licence,
            size: i.size,
        })
        .collect()
}

/// Fill every portal language, falling back to the default one.
fn complete(text: &Localized) -> Localized {
    let fallback = text.get(PORTAL_LANGS[0]).cloned().unwrap_or_default();
    PORTAL_LANGS
        .iter()
        .map(|l| {
            let t = text.get(*l).filter(|t| !t.trim().is_empty());
            (
                l.to_string(),
                t.cloned().unwrap_or_else(|| fallback.clone()),
            )
        })
        .collect()
}

pub fn portal(layers: &[LoadedLayer]) -> Portal {
    let mut tiles: Vec<(i64, Tile)> = layers
        .iter()
        .filter_map(|l| {
            let p = l.def.portal.as_ref()?;
            Some((
                p.order,
                Tile {
                    layer: l.name.clone(),
                    title: complete(&p.title),
                    description: complete(&p.description),
                    link: p.link.get_ref().clone(),
                    icon: p.icon.as_ref().map(|i| i.get_ref().clone()),
                    participation: p.participation,
                    licence: p.licence.clone(),
                    downloads: l
                        .def
                        .downloads
                        .iter()
                        .map(|d| SoftwareLicence {
                            name: d.name(),
                            licence: d.licence.get_ref().clone(),
                        })
                        .collect(),
                },
            ))
        })
        .collect();
    tiles.sort_by(|a, b| (a.0, &a.1.layer).cmp(&(b.0, &b.1.layer)));
    Portal {
        langs: PORTAL_LANGS.iter().map(|l| l.to_string()).collect(),
        tiles: tiles.into_iter().map(|(_, t)| t).collect(),
        content: Vec::new(),
    }
}

/// `YYYY-MM-DD` (UTC) of a Unix time: the build date the pages show.
pub fn date(epoch: i64) -> String {
    // Howard Hinnant's days-to-civil algorithm.
    let z = epoch.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Sorted layer names with a tile, for logs.
pub fn tile_layers(p: &Portal) -> BTreeMap<&str, &str> {
    p.tiles
        .iter()
        .map(|t| (t.layer.as_str(), t.link.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::layer;

    fn layer(dir: &std::path::Path, name: &str, toml: &str) -> LoadedLayer {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("layer.toml"), toml).unwrap();
        layer::load(name, &d).unwrap()
    }

    #[test]
    fn tiles_come_from_layers_in_order_with_every_language() {
        let t = tempfile::tempdir().unwrap();
        let layers = vec![
            layer(t.path(), "base", "description = \"b\"\n"),
            layer(
                t.path(),
                "zim",
                "description = \"z\"\n[portal]\ntitle = { fr = \"Encyclopédie\", en = \"Encyclopedia\" }\ndescription = { fr = \"Lire\" }\nlink = \"/kiwix/\"\nlicence = \"GPL-3.0-or-later\"\n",
            ),
            layer(
                t.path(),
                "poll",
                "description = \"p\"\n[portal]\ntitle = { fr = \"Sondages\" }\ndescription = { fr = \"Voter\", en = \"Vote\" }\nlink = \"/poll/\"\nparticipation = true\norder = 10\n",
            ),
        ];
        let p = portal(&layers);
        assert_eq!(p.langs, ["fr", "en"]);
        let names: Vec<&str> = p.tiles.iter().map(|t| t.layer.as_str()).collect();
        assert_eq!(names, ["poll", "zim"], "sorted by order");
        let zim = &p.tiles[1];
        assert_eq!(zim.title["en"], "Encyclopedia");
        assert_eq!(zim.description["en"], "Lire", "falls back to French");
        assert_eq!(p.tiles[0].title["en"], "Sondages");
        assert!(p.tiles[0].participation && !zim.participation);
        assert_eq!(zim.licence.as_deref(), Some("GPL-3.0-or-later"));
        assert!(p.content.is_empty());
        assert_eq!(tile_layers(&p).get("zim"), Some(&"/kiwix/"));
    }

    #[test]
    fn tiles_render_through_the_template_context() {
        let t = tempfile::tempdir().unwrap();
        let layers = vec![layer(
            t.path(),
            "files",
            "description = \"f\"\n[portal]\ntitle = { fr = \"Fichiers <libres>\", en = \"Files\" }\ndescription = { fr = \"Télécharger\" }\nlink = \"/files/\"\n",
        )];
        let mut ctx = crate::layers::render::sample_context();
        ctx.portal = portal(&layers);
        let tpl = "{% set lang = \"fr\" %}{% for t in portal.tiles %}<a href=\"{{ t.link }}\">{{ t.title[lang] }}</a>{% endfor %}{% if portal.content %}lib{% endif %}";
        let html = crate::layers::render::render("index.html.tera", tpl, &ctx).unwrap();
        assert_eq!(
            html,
            "<a href=\"&#x2F;files&#x2F;\">Fichiers &lt;libres&gt;</a>"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_735_689_600), "2025-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(-86_400), "1969-12-31");
    }
}
