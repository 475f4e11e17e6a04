//! What was imported from USB sticks, on the library's pages: the
//! catalogue (`/bibliotheque/`, `/en/library/`) is made at build time; it
//! includes `/var/lib/clic/text/imported-LANG.html` through nginx SSI,
//! which the console writes again after every import or removal (and when
//! it starts). Each item links to where it is served (`/files/`, kiwix for
//! a ZIM) and carries a QR code of its own address, as the catalogue's
//! items do. [`fragment`] is pure.

use crate::text::Lang;
use std::path::Path;

/// One thing imported: "zim" (in kiwix's directory) or "library" (at
/// /files/), its name there, its size, whether it is a folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub zim: bool,
    pub name: String,
    pub size: u64,
    pub folder: bool,
}

fn esc(s: &str) -> String {
    clic_poster::html_escape(s)
}

/// A path segment, percent-encoded (RFC 3986 unreserved kept).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn human(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.1} GB", b as f64 / f64::from(1u32 << 30))
    } else if b >= 1 << 20 {
        format!("{:.1} MB", b as f64 / f64::from(1u32 << 20))
    } else {
        format!("{} kB", b.div_ceil(1024))
    }
}

/// The kind shown (the catalogue's words), from the name.
fn kind(it: &Imported) -> &'static str {
    if it.zim {
        return "zim";
    }
    if it.folder {
        return "folder";
    }
    let ext = it
        .name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "pdf",
        "epub" => "epub",
        "webm" | "mp4" | "ogv" | "mkv" => "video",
        "ogg" | "oga" | "opus" | "mp3" | "flac" | "wav" => "audio",
        _ => "file",
    }
}

/// The section the library page includes (empty: nothing imported).
/// `portal` is the box's address (`http://clic.lan/`), for the QR codes.
pub fn fragment(items: &[Imported], l: Lang, portal: &str) -> String {
    if items.is_empty() {
        return String::new();
    }
    let fr = l == Lang::Fr;
    let root = portal.trim_end_matches('/');
    let mut out = format!(
        "<section aria-labelledby=\"imported\" id=\"imported-items\">\n<h2 id=\"imported\">{}</h2>\n<p>{}</p>\n<ul class=\"items\">\n",
        if fr { "Ajouts depuis une clé USB" } else { "Added from a USB stick" },
        if fr {
            "Ajoutés sur la boîte par ses bénévoles, sans fiche ni licence vérifiée par le projet."
        } else {
            "Added to the box by its volunteers, with no record or licence checked by the project."
        }
    );
    for it in items {
        let k = kind(it);
        let (read, download) = if it.zim {
            let book = it.name.strip_suffix(".zim").unwrap_or(&it.name);
            (format!("/kiwix/{}/", segment(book)), None)
        } else if it.folder {
            (format!("/files/{}/", segment(&it.name)), None)
        } else {
            let f = format!("/files/{}", segment(&it.name));
            (f.clone(), Some(f))
        };
        out.push_str(&format!(
            "<li class=\"item\" data-name=\"{}\">\n<h3><a href=\"{read}\">{}</a></h3>\n",
            esc(&it.name),
            esc(&it.name)
        ));
        match k {
            "video" => out.push_str(&format!(
                "<video controls preload=\"none\" src=\"{read}\" width=\"320\"></video>\n"
            )),
            "audio" => out.push_str(&format!(
                "<audio controls preload=\"none\" src=\"{read}\"></audio>\n"
            )),
            _ => {}
        }
        out.push_str(&format!("<p class=\"meta\">{k} · {}", human(it.size)));
        if let Some(d) = download {
            out.push_str(&format!(
                "<br>\n<a href=\"{d}\" download>{} ({})</a>",
                if fr { "Télécharger" } else { "Download" },
                human(it.size)
            ));
        }
        out.push_str("</p>\n");
        if let Ok(svg) = clic_poster::qr_svg(&format!("{root}{read}")) {
            out.push_str(&format!(
                "<details class=\"qr\"><summary>{}</summary>{svg}</details>\n",
                if fr {
                    "QR code pour l'ouvrir sur un téléphone"
                } else {
                    "QR code to open it on a phone"
                }
            ));
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ul>\n</section>\n");
    out
}

/// Bytes of the files under `dir` (links not followed).
pub fn tree_size(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// Both languages' fragments into `text_dir`, each by an atomic rename
/// (none when the folder is missing: no portal).
pub fn write(text_dir: &Path, items: &[Imported], portal: &str) {
    if !text_dir.is_dir() {
        return;
    }
    for l in [Lang::Fr, Lang::En] {
        let path = text_dir.join(format!("imported-{}.html", l.code()));
        let html = fragment(items, l, portal);
        let r = crate::sys::write_atomic(&path, html.as_bytes(), 0o644);
        if let Err(e) = r {
            eprintln!("clic-admin: writing {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn it(zim: bool, name: &str, folder: bool) -> Imported {
        Imported {
            zim,
            name: name.into(),
            size: 3 << 20,
            folder,
        }
    }

    #[test]
    fn links_kinds_and_qr_codes() {
        let items = [
            it(true, "poele-fusee.zim", false),
            it(false, "Vidéo <1>.webm", false),
            it(false, "guides", true),
        ];
        let f = fragment(&items, Lang::Fr, "http://clic.lan/");
        assert!(f.contains("href=\"/kiwix/poele-fusee/\""), "{f}");
        assert!(
            f.contains("href=\"/files/Vid%C3%A9o%20%3C1%3E.webm\""),
            "{f}"
        );
        assert!(f.contains("Vidéo &lt;1&gt;.webm"), "{f}");
        assert!(!f.contains("<1>"), "{f}");
        assert!(f.contains("<video controls"), "{f}");
        assert!(f.contains("href=\"/files/guides/\""), "{f}");
        assert!(f.contains("Ajouts depuis une clé USB"));
        assert_eq!(f.matches("<svg").count(), 3);
        assert_eq!(f.matches(" download>").count(), 1);
        // Each code is labelled with what it holds (clic-poster's tests
        // decode them).
        assert!(
            f.contains("aria-label=\"QR code: http://clic.lan/files/Vid%C3%A9o%20%3C1%3E.webm\""),
            "{f}"
        );
        assert!(
            f.contains("aria-label=\"QR code: http://clic.lan/kiwix/poele-fusee/\""),
            "{f}"
        );
        assert!(fragment(&items, Lang::En, "http://clic.lan/").contains("Added from a USB stick"));
        assert_eq!(fragment(&[], Lang::Fr, "http://clic.lan/"), "");
    }
}
