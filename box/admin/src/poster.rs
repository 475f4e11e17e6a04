//! The Wi-Fi poster from the box's live settings (clic-poster draws it).

use crate::config::Config;
use crate::wifi::Wifi;

pub fn html(
    cfg: &Config,
    box_name: &str,
    w: &Wifi,
    paper: &str,
) -> Result<String, clic_poster::PosterError> {
    let paper = paper.parse().unwrap_or(clic_poster::Paper::A4);
    clic_poster::poster_html(&clic_poster::Poster {
        box_name: box_name.to_string(),
        ssid: w.ssid.clone(),
        passphrase: w.passphrase.clone(),
        portal_url: cfg.portal_url.clone(),
        paper,
    })
}
