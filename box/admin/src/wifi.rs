//! The hotspot's settings as the console shows and changes them. Pure:
//! hostapd's file in, values out; a form in, `key=value` lines out (the
//! form of clic.txt, checked on the box by `clic-firstboot apply` with the
//! same rules as `clic check`).

use crate::portal::Texts;

/// What hostapd's configuration says now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wifi {
    pub ssid: String,
    pub passphrase: Option<String>,
    pub channel: String,
    pub country: String,
}

pub fn parse_hostapd(text: &str) -> Wifi {
    let mut w = Wifi::default();
    for l in text.lines() {
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        match k.trim() {
            "ssid" => w.ssid = v.to_string(),
            "wpa_passphrase" => w.passphrase = Some(v.to_string()),
            "channel" => w.channel = v.trim().to_string(),
            "country_code" => w.country = v.trim().to_string(),
            _ => {}
        }
    }
    w
}

/// The settings form: each field as typed.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub ssid: String,
    /// Empty: keep the current one.
    #[serde(default)]
    pub passphrase: String,
    /// "on": an open network (no passphrase).
    #[serde(default)]
    pub open: Option<String>,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub timezone: String,
    /// The portal's texts and language (absent on a box without a portal).
    pub title: Option<String>,
    pub welcome: Option<String>,
    pub welcome_en: Option<String>,
    pub lang: Option<String>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("`{0}` holds a line break")]
    LineBreak(&'static str),
}

/// The clic.txt lines for what changed; whether the hotspot is touched.
/// `texts`: the portal's texts now (None: no portal, its fields ignored).
/// The welcome sentences are paragraphs: a line break typed in them is a
/// space (HTML shows it as one); elsewhere it is refused.
pub fn changes(
    now: &Wifi,
    timezone_now: &str,
    texts: Option<&Texts>,
    f: &SettingsForm,
) -> Result<(Vec<String>, bool), LineError> {
    let mut lines = Vec::new();
    let mut hotspot = false;
    let mut put = |key: &'static str, value: &str, wifi: bool| -> Result<(), LineError> {
        if value.contains(['\n', '\r']) {
            return Err(LineError::LineBreak(key));
        }
        lines.push(format!("{key}={value}"));
        hotspot |= wifi;
        Ok(())
    };
    if f.ssid != now.ssid {
        put("ssid", &f.ssid, true)?;
    }
    if f.open.is_some() {
        if now.passphrase.is_some() {
            put("passphrase", "", true)?;
        }
    } else if !f.passphrase.is_empty() && Some(&f.passphrase) != now.passphrase.as_ref() {
        put("passphrase", &f.passphrase, true)?;
    }
    if f.channel.trim() != now.channel {
        put("channel", f.channel.trim(), true)?;
    }
    if f.country.trim() != now.country {
        put("country", f.country.trim(), true)?;
    }
    if f.timezone.trim() != timezone_now {
        put("timezone", f.timezone.trim(), false)?;
    }
    if let Some(t) = texts {
        if let Some(v) = &f.title {
            if v.trim() != t.title {
                put("title", v.trim(), false)?;
            }
        }
        let paragraph = |v: &str| v.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(v) = f.welcome.as_deref().map(paragraph) {
            if v != t.welcome {
                put("welcome", &v, false)?;
            }
        }
        if let Some(v) = f.welcome_en.as_deref().map(paragraph) {
            if v != t.welcome_en {
                put("welcome_en", &v, false)?;
            }
        }
        if let Some(v) = &f.lang {
            if v.trim() != t.lang.code() {
                put("lang", v.trim(), false)?;
            }
        }
    }
    Ok((lines, hotspot))
}

/// A refusal of `clic-box settings check` (`FILE:LINE: `key`: why`), for
/// the page: from the key on.
pub fn refusal(line: &str) -> String {
    match line.find(": `") {
        Some(i) => line[i + 2..].to_string(),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "driver=nl80211\nssid=CLIC\nutf8_ssid=1\ncountry_code=FR\nhw_mode=g\nchannel=6\nwpa=2\nwpa_passphrase=pain au levain\n";

    #[test]
    fn reads_hostapd() {
        let w = parse_hostapd(CONF);
        assert_eq!(w.ssid, "CLIC");
        assert_eq!(w.passphrase.as_deref(), Some("pain au levain"));
        assert_eq!((w.channel.as_str(), w.country.as_str()), ("6", "FR"));
        assert_eq!(parse_hostapd("ssid=a=b\n").ssid, "a=b");
    }

    fn form(ssid: &str) -> SettingsForm {
        SettingsForm {
            ssid: ssid.into(),
            channel: "6".into(),
            country: "FR".into(),
            timezone: "Europe/Paris".into(),
            ..Default::default()
        }
    }

    #[test]
    fn only_what_changed() {
        let w = parse_hostapd(CONF);
        assert_eq!(
            changes(&w, "Europe/Paris", None, &form("CLIC")).unwrap(),
            (vec![], false)
        );
        let (l, hs) = changes(&w, "Europe/Paris", None, &form("Café des voisins")).unwrap();
        assert_eq!(l, vec!["ssid=Café des voisins"]);
        assert!(hs);
        let mut f = form("CLIC");
        f.timezone = "Africa/Dakar".into();
        assert_eq!(
            changes(&w, "Europe/Paris", None, &f).unwrap(),
            (vec!["timezone=Africa/Dakar".to_string()], false)
        );
        let mut f = form("CLIC");
        f.open = Some("on".into());
        assert_eq!(
            changes(&w, "Europe/Paris", None, &f).unwrap().0,
            vec!["passphrase="]
        );
        let mut f = form("CLIC");
        f.passphrase = "nouveau mot".into();
        assert_eq!(
            changes(&w, "Europe/Paris", None, &f).unwrap().0,
            vec!["passphrase=nouveau mot"]
        );
    }

    #[test]
    fn a_line_break_never_reaches_a_file() {
        let w = parse_hostapd(CONF);
        assert_eq!(
            changes(&w, "Europe/Paris", None, &form("CLIC\nwpa=0")),
            Err(LineError::LineBreak("ssid"))
        );
        let mut f = form("CLIC");
        f.passphrase = "a\rb".into();
        assert!(changes(&w, "Europe/Paris", None, &f).is_err());
    }

    #[test]
    fn portal_texts_only_when_changed_and_on_one_line() {
        let w = parse_hostapd(CONF);
        let t = Texts {
            title: "CLIC!".into(),
            welcome: "Bonjour.".into(),
            welcome_en: "Hello.".into(),
            lang: crate::text::Lang::Fr,
        };
        let mut f = form("CLIC");
        f.title = Some(" CLIC! ".into());
        f.welcome = Some("Bonjour.".into());
        f.welcome_en = Some("Hello.".into());
        f.lang = Some("fr".into());
        assert_eq!(
            changes(&w, "Europe/Paris", Some(&t), &f).unwrap(),
            (vec![], false)
        );
        f.title = Some("Salle des fêtes".into());
        f.welcome = Some("Bienvenue\r\nà tous.".into());
        f.lang = Some("en".into());
        assert_eq!(
            changes(&w, "Europe/Paris", Some(&t), &f).unwrap(),
            (
                vec![
                    "title=Salle des fêtes".to_string(),
                    "welcome=Bienvenue à tous.".to_string(),
                    "lang=en".to_string()
                ],
                false
            )
        );
        f.title = Some("a\nlang=fr".into());
        assert_eq!(
            changes(&w, "Europe/Paris", Some(&t), &f),
            Err(LineError::LineBreak("title"))
        );
        // No portal: its fields are ignored.
        assert_eq!(
            changes(&w, "Europe/Paris", None, &f).unwrap(),
            (vec![], false)
        );
    }

    #[test]
    fn refusals_lose_the_file_name() {
        assert_eq!(
            refusal("/run/clic-admin/settings.txt:1: `ssid`: 40 bytes, at most 32 (hint: 1 to 32 bytes)"),
            "`ssid`: 40 bytes, at most 32 (hint: 1 to 32 bytes)"
        );
    }
}
