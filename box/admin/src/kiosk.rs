//! The kiosk's page (layer kiosk): what the box's own screen shows, the
//! portal beside the box's name, its Wi-Fi network and two QR codes (join
//! the Wi-Fi, open the portal), drawn from the live settings. Served at
//! `/admin/kiosk` to the box itself only (loopback), without login: the
//! Wi-Fi passphrase is on it, as on the printed poster. Pure.

use clic_poster::{html_escape, qr_svg_labelled, wifi_uri, PosterError};

pub struct Kiosk<'a> {
    pub box_name: &'a str,
    /// None: no hotspot on this box (only the portal's code is shown).
    pub ssid: Option<&'a str>,
    pub passphrase: Option<&'a str>,
    pub portal_url: &'a str,
}

/// The whole page. It reloads itself every 10 minutes (a new network name
/// or title reaches the screen), the portal in a frame that fills the rest.
pub fn html(k: &Kiosk) -> Result<String, PosterError> {
    let name = html_escape(k.box_name);
    let portal = html_escape(k.portal_url);
    let mut aside = format!("<h1>{name}</h1>");
    if let Some(ssid) = k.ssid {
        let wifi = qr_svg_labelled(
            &wifi_uri(ssid, k.passphrase),
            &format!("QR code : Wi-Fi {ssid}"),
        )?;
        let pass = match k.passphrase {
            Some(p) => format!(
                "<p class=\"pass\"><span lang=\"fr\">Mot de passe</span> / <span lang=\"en\">password</span>&nbsp;: <strong>{}</strong></p>",
                html_escape(p)
            ),
            None => String::new(),
        };
        aside.push_str(&format!(
            "<section id=\"wifi\"><h2>1. Wi-Fi</h2><div class=\"qr\">{wifi}</div>\
             <p class=\"ssid\">{}</p>{pass}</section>",
            html_escape(ssid)
        ));
    }
    let portal_qr = qr_svg_labelled(k.portal_url, &format!("QR code : {}", k.portal_url))?;
    aside.push_str(&format!(
        "<section id=\"portal\"><h2>{}</h2><div class=\"qr\">{portal_qr}</div><p class=\"url\">{portal}</p></section>",
        if k.ssid.is_some() {
            "2. <span lang=\"fr\">Le portail</span> / <span lang=\"en\">the portal</span>"
        } else {
            "<span lang=\"fr\">Le portail</span> / <span lang=\"en\">the portal</span>"
        }
    ));
    Ok(format!(
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"600\"><title>{name}</title><style>{CSS}</style></head>\
         <body><iframe src=\"/\" title=\"{name}\"></iframe><aside>{aside}</aside></body></html>"
    ))
}

const CSS: &str = "html,body{margin:0;height:100%;overflow:hidden;font-family:system-ui,sans-serif;background:#f6f6f2;color:#1b1b1b}\
body{display:flex}iframe{flex:1;border:0;height:100%;background:#fff}\
aside{width:30vw;max-width:26rem;min-width:15rem;box-sizing:border-box;padding:1.2rem;overflow:auto;background:#1d5c3f;color:#fff;text-align:center}\
h1{font-size:1.6rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:.6rem 0}\
.qr{background:#fff;padding:.4rem;border-radius:.4rem;margin:0 auto;max-width:15rem}.qr svg{display:block;width:100%;height:auto}\
.ssid{font-size:1.3rem;font-weight:700;margin:.5rem 0}.pass,.url{font-size:1.1rem;margin:.3rem 0;overflow-wrap:anywhere}\
@media (max-aspect-ratio:1/1){body{flex-direction:column-reverse}aside{width:100%;max-width:none;display:flex;gap:1rem;justify-content:center}aside h1{display:none}.qr{max-width:10rem}}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_network_and_escapes() {
        let h = html(&Kiosk {
            box_name: "Salle <du> lavoir",
            ssid: Some("Café & co"),
            passphrase: Some("pain-au-levain"),
            portal_url: "http://clic.lan/",
        })
        .unwrap();
        assert!(h.contains("<h1>Salle &lt;du&gt; lavoir</h1>"), "{h}");
        assert!(h.contains("Café &amp; co"));
        assert!(h.contains("pain-au-levain"));
        assert!(h.contains("<iframe src=\"/\""));
        assert_eq!(h.matches("<svg").count(), 2);
        let open = html(&Kiosk {
            box_name: "CLIC!",
            ssid: None,
            passphrase: None,
            portal_url: "http://clic.lan/",
        })
        .unwrap();
        assert_eq!(open.matches("<svg").count(), 1);
        assert!(!open.contains("id=\"wifi\""));
    }
}
