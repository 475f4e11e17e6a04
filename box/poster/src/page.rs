//! The poster: one self-contained HTML page (inline CSS and SVG, no
//! script, no external font or image), French first then English.

use std::fmt;
use std::str::FromStr;

use crate::{html_escape, qr_svg_labelled, wifi_uri, PosterError};

/// The sheet the poster is laid out for (`@page { size }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Paper {
    #[default]
    A4,
    A5,
}

impl Paper {
    /// The CSS name: `A4`, `A5`.
    pub fn as_str(self) -> &'static str {
        match self {
            Paper::A4 => "A4",
            Paper::A5 => "A5",
        }
    }
}

impl FromStr for Paper {
    type Err = PosterError;

    /// `a4` or `a5`, in either case.
    fn from_str(s: &str) -> Result<Paper, PosterError> {
        match s.to_ascii_lowercase().as_str() {
            "a4" => Ok(Paper::A4),
            "a5" => Ok(Paper::A5),
            _ => Err(PosterError::Paper(s.to_owned())),
        }
    }
}

impl fmt::Display for Paper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the poster shows. Values are taken as they are (the settings are
/// checked where they are set) and escaped when the page is made.
#[derive(Clone, PartialEq, Eq)]
pub struct Poster {
    /// The heading: the portal's title, or the box's host name.
    pub box_name: String,
    pub ssid: String,
    /// `None` or empty: an open network.
    pub passphrase: Option<String>,
    /// The address the portal answers on, e.g. `http://clic.lan/`.
    pub portal_url: String,
    pub paper: Paper,
}

/// Leaves the passphrase out, so that a logged `Poster` does not leak it.
impl fmt::Debug for Poster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poster")
            .field("box_name", &self.box_name)
            .field("ssid", &self.ssid)
            .field("passphrase", &self.passphrase().map(|_| "<hidden>"))
            .field("portal_url", &self.portal_url)
            .field("paper", &self.paper)
            .finish()
    }
}

impl Poster {
    fn passphrase(&self) -> Option<&str> {
        self.passphrase.as_deref().filter(|p| !p.is_empty())
    }
}

/// The whole page. Errors only when a QR code cannot hold its data (an
/// SSID, passphrase or address of thousands of bytes).
pub fn poster_html(p: &Poster) -> Result<String, PosterError> {
    let name = html_escape(&p.box_name);
    let ssid = html_escape(&p.ssid);
    let url = html_escape(&p.portal_url);
    let wifi_qr = qr_svg_labelled(
        &wifi_uri(&p.ssid, p.passphrase()),
        &format!("Code QR du Wi-Fi {} (Wi-Fi QR code)", p.ssid),
    )?;
    let portal_qr = qr_svg_labelled(
        &p.portal_url,
        &format!("Code QR de {} (QR code)", p.portal_url),
    )?;
    // An open network says so under its name; a passphrase gets a line
    // of its own, the whole width of the sheet.
    let (open, secret) = match p.passphrase() {
        Some(pass) => (
            String::new(),
            format!(
                r#"<div class="secret">
<p class="label">Mot de passe <span class="en" lang="en">Password</span></p>
<p class="value mono {size}">{pass}</p>
</div>
"#,
                size = pass_size(pass),
                pass = html_escape(pass),
            ),
        ),
        None => (
            r#"<p class="label open">Réseau ouvert : pas de mot de passe <span class="en" lang="en">Open network: no password</span></p>
"#
            .to_owned(),
            String::new(),
        ),
    };
    // Every length of the page is in `rem`: the printed root font size
    // scales the whole poster (A5 is A4 shrunk by √2).
    let paper = p.paper.as_str();
    let (margin, font) = match p.paper {
        Paper::A4 => ("12mm", "12pt"),
        Paper::A5 => ("8.5mm", "8.5pt"),
    };
    Ok(format!(
        r#"<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name} · Wi-Fi</title>
<style>
@page {{ size: {paper}; margin: {margin}; }}
{STYLE}@media print {{ html {{ font-size: {font}; }} }}
</style>
</head>
<body>
<main class="sheet">
<h1>{name}</h1>
<section class="step">
<h2><span class="n">1</span><span>Connectez-vous au Wi-Fi <span class="en" lang="en">Join the Wi-Fi</span></span></h2>
<div class="qr wifi">{wifi_qr}</div>
<div class="facts">
<p class="label">Scannez ce code avec l’appareil photo, ou choisissez le réseau <span class="en" lang="en">Scan this code with your camera, or choose the network</span></p>
<p class="value">{ssid}</p>
{open}</div>
{secret}</section>
<section class="step">
<h2><span class="n">2</span><span>Puis ouvrez dans le navigateur <span class="en" lang="en">Then open in your web browser</span></span></h2>
<div class="qr portal">{portal_qr}</div>
<div class="facts">
<p class="value mono url">{url}</p>
</div>
</section>
</main>
</body>
</html>
"#
    ))
}

/// The passphrase's size class: the shorter, the larger. Up to 32
/// characters fit on one printed line; 63 (WPA2's limit) take two.
fn pass_size(pass: &str) -> &'static str {
    match pass.chars().count() {
        0..=20 => "l",
        21..=32 => "m",
        _ => "s",
    }
}

/// The page's style, but for the paper size.
const STYLE: &str = include_str!("poster.css");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qr::read::{decode_svg, svgs};

    fn poster(ssid: &str, passphrase: Option<&str>) -> Poster {
        Poster {
            box_name: "CLIC!".into(),
            ssid: ssid.into(),
            passphrase: passphrase.map(str::to_owned),
            portal_url: "http://clic.lan/".into(),
            paper: Paper::A4,
        }
    }

    /// The page's QR codes decode to the `WIFI:` URI and the portal's address.
    fn assert_codes(p: &Poster) -> String {
        let html = poster_html(p).unwrap();
        let codes: Vec<Vec<String>> = svgs(&html).into_iter().map(decode_svg).collect();
        assert_eq!(
            codes,
            [
                vec![wifi_uri(&p.ssid, p.passphrase.as_deref())],
                vec![p.portal_url.clone()]
            ]
        );
        html
    }

    #[test]
    fn open_network_codes_decode() {
        let html = assert_codes(&poster("CLIC", None));
        assert!(html.contains("Réseau ouvert"));
        assert!(!html.contains("Mot de passe"));
        assert_eq!(
            poster_html(&poster("CLIC", Some(""))).unwrap(),
            html,
            "an empty passphrase is an open network"
        );
    }

    #[test]
    fn special_characters_codes_decode() {
        let html = assert_codes(&poster(r#"Café "a;b\c",d:e"#, Some(r#"p;a:s,s\w"o'rd"#)));
        assert!(html.contains("<p class=\"value mono l\">p;a:s,s\\w&quot;o&#39;rd</p>"));
    }

    #[test]
    fn longest_values_codes_decode() {
        // 32 bytes of UTF-8 (the SSID's limit) and 63 characters (WPA2's).
        let ssid = "Médiathèque à Fréjus ✓ é!"; // 25 characters, 32 bytes
        assert_eq!(ssid.len(), 32);
        let pass: String = (b' '..=b'~').map(char::from).take(63).collect();
        assert_eq!(pass.len(), 63);
        assert_codes(&poster(ssid, Some(&pass)));
    }

    #[test]
    fn every_text_is_escaped() {
        let p = Poster {
            box_name: "<b>Boîte</b> & \"co\"".into(),
            ssid: "<script>alert(1)</script>".into(),
            passphrase: Some("a<b>&c'd\"e".into()),
            portal_url: "http://x/?a=1&b=\"2\"".into(),
            paper: Paper::A4,
        };
        let html = poster_html(&p).unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>"));
        assert!(html.contains("<h1>&lt;b&gt;Boîte&lt;/b&gt; &amp; &quot;co&quot;</h1>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("a&lt;b&gt;&amp;c&#39;d&quot;e"));
        assert!(html.contains("http://x/?a=1&amp;b=&quot;2&quot;"));
        assert_codes(&p);
    }

    #[test]
    fn page_is_self_contained_and_sized_for_its_paper() {
        let a4 = poster_html(&poster("CLIC", Some("pain-au-levain-42"))).unwrap();
        assert!(a4.starts_with("<!DOCTYPE html>\n<html lang=\"fr\">"));
        assert!(a4.contains("@page { size: A4;"));
        for absent in ["<script", "<link", "@import", "url(", "<img", "src="] {
            assert!(!a4.contains(absent), "{absent}");
        }
        let a5 = poster_html(&Poster {
            paper: "A5".parse().unwrap(),
            ..poster("CLIC", None)
        })
        .unwrap();
        assert!(a5.contains("@page { size: A5;"));
        // French first, then English.
        let fr = a4.find("Connectez-vous au Wi-Fi").unwrap();
        let en = a4.find("Join the Wi-Fi").unwrap();
        assert!(fr < en);
    }

    #[test]
    fn paper_names() {
        assert_eq!("a4".parse(), Ok(Paper::A4));
        assert_eq!("A5".parse(), Ok(Paper::A5));
        assert_eq!(
            "letter".parse::<Paper>(),
            Err(PosterError::Paper("letter".into()))
        );
        assert_eq!(
            PosterError::Paper("letter".into()).to_string(),
            "unknown paper size `letter`: a4 or a5"
        );
    }

    #[test]
    fn debug_hides_the_passphrase() {
        let text = format!("{:?}", poster("CLIC", Some("pain-au-levain-42")));
        assert!(!text.contains("levain"), "{text}");
        assert!(text.contains("passphrase: Some(\"<hidden>\")"), "{text}");
    }
}
