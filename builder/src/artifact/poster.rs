//! `NAME.poster.html`: the Wi-Fi poster (clic-poster) of an image with the
//! hotspot layer, made from the spec's settings, for the maintainer to
//! print and pin up next to the box (A4; the admin console serves the A4
//! and A5 posters from the box's live settings).
//!
//! The poster holds the Wi-Fi passphrase, printed and in its QR code, when
//! the spec sets one, just as the spec does (and the image's hostapd
//! configuration): whoever gets the spec or the image gets the passphrase
//! anyway. A spec with no passphrase is an open network, and so is its
//! poster. It is listed in `SHA256SUMS` like the other files of a build.

use std::collections::BTreeMap;

use clic_poster::{Paper, Poster, PosterError};

/// `NAME.poster.html`, next to `NAME.img` and `NAME.manifest.json`.
pub fn file_name(name: &str) -> String {
    format!("{name}.poster.html")
}

/// The poster of an image whose layers' settings are `settings` (the
/// spec's values over the layers' defaults): `None` without the hotspot
/// layer. The box's name is the portal's title (the name at the top of its
/// pages), else the host name; the address is the hotspot's domain, the
/// one the portal answers on (captive-portal's nginx, dnsmasq).
pub fn poster(settings: &BTreeMap<String, toml::Table>, hostname: &str) -> Option<Poster> {
    let hotspot = settings.get("hotspot")?;
    let text = |t: &toml::Table, key: &str| t.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let box_name = settings
        .get("portal")
        .and_then(|p| text(p, "title"))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| hostname.to_owned());
    Some(Poster {
        box_name,
        ssid: text(hotspot, "ssid")?,
        passphrase: text(hotspot, "passphrase").filter(|p| !p.is_empty()),
        portal_url: format!("http://{}/", text(hotspot, "domain")?),
        paper: Paper::A4,
    })
}

/// The file's contents: [`poster`] as one HTML page.
pub fn render(
    settings: &BTreeMap<String, toml::Table>,
    hostname: &str,
) -> Result<Option<String>, PosterError> {
    poster(settings, hostname)
        .map(|p| clic_poster::poster_html(&p))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn default_spec() -> crate::spec::Resolved {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let data = crate::data::DataDir { root: repo.clone() };
        let opts = crate::spec::resolve::Options {
            data: &data,
            board_override: None,
        };
        crate::spec::resolve::resolve(&repo.join("specs/clic-ordinosaure.toml"), &opts)
            .expect("the default spec resolves")
    }

    #[test]
    fn the_default_spec_has_an_open_network_poster() {
        let r = default_spec();
        let p = poster(&r.settings, &r.hostname).expect("the hotspot layer is in");
        assert_eq!(p.box_name, "CLIC!");
        assert_eq!(p.ssid, "CLIC");
        assert_eq!(p.passphrase, None);
        assert_eq!(p.portal_url, "http://clic.lan/");
        assert_eq!(p.paper, Paper::A4);
        let html = render(&r.settings, &r.hostname).unwrap().unwrap();
        assert_eq!(
            html.matches("<svg ").count(),
            2,
            "the Wi-Fi's and the portal's"
        );
        assert!(html.contains("Réseau ouvert"));
        assert!(html.contains("@page { size: A4;"));
        assert_eq!(file_name(&r.name), "clic-ordinosaure.poster.html");
    }

    fn settings(toml_text: &str) -> BTreeMap<String, toml::Table> {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn passphrase_title_and_domain_come_from_the_settings() {
        let s = settings(
            r#"
            [hotspot]
            ssid = "Médiathèque"
            passphrase = "pain-au-levain-42"
            domain = "bibli.lan"
            [portal]
            title = "Bibliothèque <Nord>"
            "#,
        );
        let p = poster(&s, "clic").unwrap();
        assert_eq!(p.box_name, "Bibliothèque <Nord>");
        assert_eq!(p.passphrase.as_deref(), Some("pain-au-levain-42"));
        assert_eq!(p.portal_url, "http://bibli.lan/");
        let html = render(&s, "clic").unwrap().unwrap();
        assert!(html.contains("pain-au-levain-42"));
        assert!(html.contains("<h1>Bibliothèque &lt;Nord&gt;</h1>"));
    }

    #[test]
    fn without_the_portal_the_host_name_names_the_box() {
        let s = settings("[hotspot]\nssid = \"CLIC\"\npassphrase = \"\"\ndomain = \"clic.lan\"\n");
        let p = poster(&s, "salle-des-fetes").unwrap();
        assert_eq!(p.box_name, "salle-des-fetes");
        assert_eq!(p.passphrase, None, "empty: an open network");
    }

    #[test]
    fn no_hotspot_no_poster() {
        let s = settings("[portal]\ntitle = \"CLIC!\"\n");
        assert_eq!(poster(&s, "clic"), None);
        assert_eq!(render(&s, "clic").unwrap(), None);
    }
}
