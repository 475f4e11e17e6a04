//! The Wi-Fi poster of a CLIC! box: one printable page with the box's name,
//! a QR code that joins its Wi-Fi (a `WIFI:` URI, with the passphrase when
//! the network has one) and a QR code of the portal's address, in French
//! then English, for A4 or A5 paper.
//!
//! Pure functions, no I/O: `clic build` writes the page next to the image
//! from the spec's settings, and the box's admin console serves it from the
//! box's live settings.
//!
//! ```
//! let page = clic_poster::poster_html(&clic_poster::Poster {
//!     box_name: "CLIC!".into(),
//!     ssid: "CLIC".into(),
//!     passphrase: Some("pain-au-levain-42".into()),
//!     portal_url: "http://clic.lan/".into(),
//!     paper: "a5".parse().unwrap(),
//! })
//! .unwrap();
//! assert!(page.contains("@page { size: A5;"));
//! ```

#![forbid(unsafe_code)]

mod page;
mod qr;
mod wifi;
#[cfg(test)]
mod zbar;

pub use page::{poster_html, Paper, Poster};
pub use qr::{qr_svg, qr_svg_labelled, QUIET_ZONE};
pub use wifi::wifi_uri;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PosterError {
    /// More than a QR code holds at error correction level M (2,331 bytes
    /// of arbitrary data, at version 40).
    #[error("{len} bytes are too long for a QR code at error correction level M (at most 2331)")]
    TooLong { len: usize },
    #[error("making the QR code: {0}")]
    Qr(String),
    #[error("unknown paper size `{0}`: a4 or a5")]
    Paper(String),
}

/// `text` with `& < > " '` replaced by entities: safe inside an element
/// and inside a quoted attribute value.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escape_covers_markup_and_both_quotes() {
        assert_eq!(
            html_escape(r#"<a href="x">Tom & Jerry's</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
        assert_eq!(html_escape("Café été"), "Café été");
    }
}
