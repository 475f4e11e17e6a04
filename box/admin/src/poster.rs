//! The Wi-Fi poster from the box's live settings (clic-poster draws it).

use crate::config::Config;
use crate::wifi::Wifi;

pub fn html(cfg: &Config, w: &Wifi, paper: &str) -> Result<String, clic_poster::PosterError> {
    let paper = paper.parse().unwrap_or(clic_poster::Paper::A4);
    clic_poster::poster_html(&clic_poster::Poster {
        box_name: cfg.box_name.clone(),
        ssid: w.ssid.clone(),
        passphrase: w.passphrase.clone(),
        portal_url: cfg.portal_url.clone(),
        paper,
    })
}
