//! QR codes as SVG, drawn from qrcode's module matrix.

use std::fmt::Write;

use qrcode::{Color, EcLevel, QrCode};

use crate::{html_escape, PosterError};

/// Light modules around the code, as the QR standard asks.
pub const QUIET_ZONE: usize = 4;

/// [`qr_svg_labelled`] with the label `QR code: <data>`.
pub fn qr_svg(data: &str) -> Result<String, PosterError> {
    qr_svg_labelled(data, &format!("QR code: {data}"))
}

/// `data` as a QR code (error correction level M: 15 % of the code can be
/// lost, to a fold or a stain) in a standalone SVG element that is also
/// valid inline in HTML: one unit per module, a quiet zone of
/// [`QUIET_ZONE`] modules, dark modules black on white, a `viewBox` and no
/// size, so it takes the width its container gives it. `label` is its
/// accessible name (`role="img"`, `aria-label` and `<title>`), escaped here.
pub fn qr_svg_labelled(data: &str, label: &str) -> Result<String, PosterError> {
    let code =
        QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).map_err(|e| match e {
            qrcode::types::QrError::DataTooLong => PosterError::TooLong { len: data.len() },
            e => PosterError::Qr(e.to_string()),
        })?;
    let width = code.width();
    let dark: Vec<bool> = code
        .to_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
    let size = width + 2 * QUIET_ZONE;
    // One subpath per horizontal run of dark modules.
    let mut d = String::with_capacity(width * width);
    for (y, row) in dark.chunks(width).enumerate() {
        let mut x = 0;
        while x < width {
            if !row[x] {
                x += 1;
                continue;
            }
            let start = x;
            while x < width && row[x] {
                x += 1;
            }
            let run = x - start;
            let _ = write!(
                d,
                "M{} {}h{run}v1h-{run}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE
            );
        }
    }
    let label = html_escape(label);
    Ok(format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}""#,
            r#" role="img" aria-label="{label}" shape-rendering="crispEdges">"#,
            r#"<title>{label}</title>"#,
            r##"<rect width="{size}" height="{size}" fill="#fff"/>"##,
            r##"<path fill="#000" d="{d}"/></svg>"##,
        ),
        size = size,
        label = label,
        d = d,
    ))
}

/// Reading back the SVG this module writes, for the tests.
#[cfg(test)]
pub(crate) mod read {
    /// The inline SVG elements of a page, in order.
    pub fn svgs(html: &str) -> Vec<&str> {
        html.match_indices("<svg ")
            .map(|(i, _)| {
                let end = html[i..].find("</svg>").unwrap() + i + "</svg>".len();
                &html[i..end]
            })
            .collect()
    }

    /// Every QR code `rqrr` finds in the SVG, drawn at 4 pixels a module.
    pub fn decode_svg(svg: &str) -> Vec<String> {
        let size: usize = svg
            .split("viewBox=\"0 0 ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .expect("a square viewBox");
        let d = svg
            .split(" d=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a path");
        let mut dark = vec![false; size * size];
        for sub in d.split('M').filter(|s| !s.is_empty()) {
            // `X Yh<run>v1h-<run>z`
            let (xy, rest) = sub.split_once('h').unwrap();
            let (x, y) = xy.split_once(' ').unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            let run: usize = rest.split_once('v').unwrap().0.parse().unwrap();
            assert_eq!(rest, format!("{run}v1h-{run}z"), "{sub}");
            for i in x..x + run {
                dark[y * size + i] = true;
            }
        }
        const PX: usize = 4;
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(size * PX, size * PX, |x, y| {
            if dark[(y / PX) * size + x / PX] {
                0
            } else {
                255
            }
        });
        img.detect_grids()
            .iter()
            .map(|g| g.decode().expect("the code decodes").1)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::read::decode_svg;
    use super::*;

    #[test]
    fn round_trip_through_another_reader() {
        for data in [
            "http://clic.lan/",
            "WIFI:T:nopass;S:CLIC;;",
            "Ça marche, même en UTF-8 : œ, 日本",
        ] {
            let svg = qr_svg(data).unwrap();
            assert_eq!(decode_svg(&svg), [data]);
        }
    }

    #[test]
    fn svg_shape() {
        let svg = qr_svg_labelled("http://clic.lan/", "Portail <CLIC!> & \"co\"").unwrap();
        // 16 bytes at level M: version 2, 25 modules, and 4 around.
        assert!(
            svg.starts_with(
                r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 33 33" role="img""#
            ),
            "{svg}"
        );
        assert!(svg.contains(r#"aria-label="Portail &lt;CLIC!&gt; &amp; &quot;co&quot;""#));
        assert!(svg.contains("<title>Portail &lt;CLIC!&gt; &amp; &quot;co&quot;</title>"));
        assert!(svg.contains(r##"fill="#000""##) && svg.ends_with("</svg>"));
        assert!(
            !svg.contains("width=\"33\" height=\"33\" viewBox"),
            "no fixed size"
        );
        // The quiet zone: nothing dark starts before module 4.
        assert!(svg.contains("d=\"M4 4h7v1h-7z"), "{svg}");
        assert_eq!(
            qr_svg("x").unwrap(),
            qr_svg_labelled("x", "QR code: x").unwrap()
        );
    }

    #[test]
    fn too_long_is_an_error() {
        let data = "é".repeat(1200); // 2400 bytes
        assert_eq!(
            qr_svg(&data).unwrap_err(),
            PosterError::TooLong { len: 2400 }
        );
        assert!(qr_svg(&"x".repeat(2331)).is_ok());
    }
}
