//! The poster's QR codes read by zbar, the reader of Debian's zbar-tools:
//! each inline SVG of the page is rendered to PNG by `rsvg-convert`
//! (librsvg2-bin) and decoded by `zbarimg`. Both come with `make deps`;
//! without them the test is skipped with a message, unless
//! `CLIC_REQUIRE_TOOLS` is set (then it fails).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::qr::read::svgs;
use crate::{poster_html, wifi_uri, Paper, Poster};

fn tools_present() -> bool {
    let missing: Vec<&str> = ["zbarimg", "rsvg-convert"]
        .into_iter()
        .filter(|t| {
            Command::new(t)
                .arg("--version")
                .output()
                .map(|o| !o.status.success())
                .unwrap_or(true)
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "{} not found: install zbar-tools and librsvg2-bin (make deps)",
        missing.join(" and ")
    );
    if std::env::var_os("CLIC_REQUIRE_TOOLS").is_some() {
        panic!("{msg} (CLIC_REQUIRE_TOOLS is set)");
    }
    eprintln!("SKIPPED: {msg}");
    false
}

/// What zbar reads in one SVG, rendered `px` pixels wide in `dir`.
fn zbar(dir: &Path, svg: &str, name: &str, px: u32) -> Vec<u8> {
    let (svg_path, png) = (
        dir.join(format!("{name}.svg")),
        dir.join(format!("{name}.png")),
    );
    std::fs::write(&svg_path, svg).unwrap();
    let o = Command::new("rsvg-convert")
        .args(["-w", &px.to_string(), "-h", &px.to_string(), "-o"])
        .arg(&png)
        .arg(&svg_path)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "rsvg-convert {}: {}",
        svg_path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    // --raw: the data alone; -Sbinary: its bytes as they are (no newline
    // after them), not run through zbar's guess at the character set.
    let o = Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sbinary"])
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "zbarimg {}: {}",
        png.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// The page's two codes read as the `WIFI:` URI and the portal's address.
fn check(dir: &Path, name: &str, p: &Poster) {
    let html = poster_html(p).unwrap();
    let svgs = svgs(&html);
    let want = [
        wifi_uri(&p.ssid, p.passphrase.as_deref()),
        p.portal_url.clone(),
    ];
    assert_eq!(svgs.len(), want.len(), "{name}: QR codes on the page");
    for (i, (svg, want)) in svgs.iter().zip(&want).enumerate() {
        let got = zbar(dir, svg, &format!("{name}-{i}"), 400);
        assert_eq!(String::from_utf8_lossy(&got), *want, "{name}: code {i}");
    }
}

#[test]
fn zbar_reads_the_posters_codes() {
    if !tools_present() {
        return;
    }
    // The files stay there when a check fails, to look at.
    let dir: PathBuf =
        std::env::temp_dir().join(format!("clic-poster-zbar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // What `clic build specs/clic-ordinosaure.toml` writes: an open network.
    check(
        &dir,
        "default",
        &Poster {
            box_name: "CLIC!".into(),
            ssid: "CLIC".into(),
            passphrase: None,
            portal_url: "http://clic.lan/".into(),
            paper: Paper::A4,
        },
    );
    check(
        &dir,
        "special",
        &Poster {
            box_name: "Bibliothèque <Nord>".into(),
            ssid: r#"Café "a;b\c",d:e"#.into(),
            passphrase: Some(r#"p;a:s,s\w"o'rd"#.into()),
            portal_url: "http://bibli.lan/".into(),
            paper: Paper::A5,
        },
    );
    // The longest values: 32 bytes of UTF-8, 63 printable ASCII characters.
    let pass: String = (b' '..=b'~').map(char::from).rev().take(63).collect();
    check(
        &dir,
        "longest",
        &Poster {
            box_name: "CLIC!".into(),
            ssid: "Médiathèque à Fréjus ✓ é!".into(),
            passphrase: Some(pass),
            portal_url: "http://clic.lan/".into(),
            paper: Paper::A4,
        },
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
