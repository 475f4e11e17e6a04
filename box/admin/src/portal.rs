//! The portal's texts the box may change after the build: its title, the
//! home page's first sentence in French and English, and the home page's
//! language. They are files in `/var/lib/clic/text/` (layers base and
//! portal) that the static pages include through nginx's SSI; the console
//! reads them here and changes them through `clic-firstboot apply` (the
//! keys `title`, `welcome`, `welcome_en` and `lang` of clic.txt). Pure
//! but for [`read`].

use crate::text::Lang;
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Texts {
    pub title: String,
    pub welcome: String,
    pub welcome_en: String,
    /// What `/` answers with.
    pub lang: Lang,
}

/// The texts as the pages show them now; None on a box without a portal.
/// `image_lang`: the home page's language the image was built with, which
/// holds until a `lang-fr` or `lang-en` marker says otherwise.
pub fn read(dir: &Path, image_lang: Lang) -> Option<Texts> {
    let text = |name: &str| {
        std::fs::read_to_string(dir.join(format!("{name}.html")))
            .ok()
            .map(|s| unescape(s.trim()))
    };
    let title = text("title")?;
    let lang = if dir.join("lang-en").exists() {
        Lang::En
    } else if dir.join("lang-fr").exists() {
        Lang::Fr
    } else {
        image_lang
    };
    Some(Texts {
        title,
        welcome: text("welcome").unwrap_or_default(),
        welcome_en: text("welcome_en").unwrap_or_default(),
        lang,
    })
}

/// The text of an HTML-escaped file (as tera and clic-firstboot write
/// them: `&amp;` `&lt;` `&gt;` `&quot;` and the apostrophe and slash as
/// numeric references).
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 8) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_what_tera_and_firstboot_write() {
        assert_eq!(
            unescape("Salle &lt;b&gt;&quot;d&#39;été&quot;&lt;&#x2F;b&gt; &amp; co"),
            "Salle <b>\"d'été\"</b> & co"
        );
        assert_eq!(
            unescape("a & b &unknown; &#xZZ; &"),
            "a & b &unknown; &#xZZ; &"
        );
        assert_eq!(unescape("CLIC!"), "CLIC!");
    }

    #[test]
    fn reads_the_texts_and_the_language() {
        let d = std::env::temp_dir().join(format!("clic-admin-portal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        assert_eq!(read(&d, Lang::Fr), None, "no portal");
        std::fs::write(d.join("title.html"), "Caf&#xE9; &amp; co").unwrap();
        std::fs::write(d.join("welcome.html"), "Bonjour\n").unwrap();
        let t = read(&d, Lang::Fr).unwrap();
        assert_eq!(
            (t.title.as_str(), t.welcome.as_str()),
            ("Café & co", "Bonjour")
        );
        assert_eq!((t.welcome_en.as_str(), t.lang), ("", Lang::Fr));
        std::fs::write(d.join("lang-en"), "").unwrap();
        assert_eq!(read(&d, Lang::Fr).unwrap().lang, Lang::En);
        std::fs::remove_file(d.join("lang-en")).unwrap();
        std::fs::write(d.join("lang-fr"), "").unwrap();
        assert_eq!(read(&d, Lang::En).unwrap().lang, Lang::Fr);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
