//! The Wi-Fi network as the `WIFI:` URI that phone cameras read (ZXing's
//! "Wi-Fi Network config" format, read by Android 10+ and iOS 11+).

/// `WIFI:T:WPA;S:<ssid>;P:<passphrase>;;`, or `WIFI:T:nopass;S:<ssid>;;`
/// for an open network (`None`, or an empty passphrase as the hotspot
/// layer's setting has it).
///
/// In the SSID and the passphrase, `\ ; , : "` are escaped with a
/// backslash: ZXing's list (`\ ; , :`, as in MECARD) plus the double quote,
/// which its own example escapes and which Android's reader would otherwise
/// take for quotes around the value.
///
/// No quotes are added around an SSID made of hex digits (`CAFE`). ZXing's
/// wiki suggests them because its old Barcode Scanner app handed such an
/// SSID to Android as raw bytes; but Android's own reader (Settings,
/// Android 10 and later) always takes the SSID as text and iOS keeps the
/// quotes as part of the value (QRCoder issue 440, qifi issue 4), so quotes
/// would break the phones people use. The passphrase is at most 63
/// characters, so no reader takes it for a 64-hex-digit raw key.
pub fn wifi_uri(ssid: &str, passphrase: Option<&str>) -> String {
    let mut uri = String::with_capacity(ssid.len() + 64);
    match passphrase.filter(|p| !p.is_empty()) {
        Some(pass) => {
            uri.push_str("WIFI:T:WPA;S:");
            escape_into(&mut uri, ssid);
            uri.push_str(";P:");
            escape_into(&mut uri, pass);
        }
        None => {
            uri.push_str("WIFI:T:nopass;S:");
            escape_into(&mut uri, ssid);
        }
    }
    uri.push_str(";;");
    uri
}

fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        if matches!(c, '\\' | ';' | ',' | ':' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_network() {
        assert_eq!(wifi_uri("CLIC", None), "WIFI:T:nopass;S:CLIC;;");
        assert_eq!(wifi_uri("CLIC", Some("")), "WIFI:T:nopass;S:CLIC;;");
    }

    #[test]
    fn wpa_network() {
        assert_eq!(
            wifi_uri("CLIC", Some("pain-au-levain-42")),
            "WIFI:T:WPA;S:CLIC;P:pain-au-levain-42;;"
        );
    }

    #[test]
    fn the_five_special_characters_are_escaped_in_both_fields() {
        assert_eq!(
            wifi_uri(r#""foo;bar\baz""#, Some(r#"a:b,c;d\e"f"#)),
            r#"WIFI:T:WPA;S:\"foo\;bar\\baz\";P:a\:b\,c\;d\\e\"f;;"#
        );
    }

    #[test]
    fn other_characters_pass_through() {
        // Spaces, accents, `'`, `<`, `&`, `=` and `$` mean nothing in the format.
        assert_eq!(
            wifi_uri("Café de l'été <&>", Some("  $=x y ")),
            "WIFI:T:WPA;S:Café de l'été <&>;P:  $=x y ;;"
        );
    }

    #[test]
    fn hex_looking_ssid_is_not_quoted() {
        assert_eq!(wifi_uri("CAFE", None), "WIFI:T:nopass;S:CAFE;;");
    }
}
