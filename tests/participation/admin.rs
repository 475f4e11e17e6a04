//! The admin console (/admin/, layer admin, box/admin) on the booted
//! default image, in Chromium at 360 px: refused without login, slowed
//! down after wrong passwords, in with the password read from the image's
//! boot partition; a Wi-Fi change applied and confirmed, an invalid one
//! refused with the rule, an unconfirmed one rolled back by the box after a
//! minute; the clock set from the phone; the diagnostics without the Wi-Fi
//! secret; the poster's QR codes decoded by zbar; the password changed
//! (the console and agora's moderation take the new one); then "shut down
//! safely" powers the guest off.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;

use super::common::webdriver::Browser;
use super::common::{self, tail, RunningBox};

/// The admin password the first boot wrote on the image's FAT partition
/// (`clic-admin-password.txt`), read with mtools as someone holding the
/// card would.
pub fn password_from_card(img: &Path) -> String {
    let manifest = common::manifest(img);
    let fat = manifest["partitions"]
        .as_array()
        .and_then(|ps| {
            ps.iter()
                .find(|p| p["role"] == "esp" || p["role"] == "boot")
        })
        .unwrap_or_else(|| panic!("no FAT partition in {}'s manifest", img.display()));
    let start = fat["start"].as_u64().unwrap();
    let o = Command::new("mtype")
        .arg("-i")
        .arg(format!("{}@@{start}", img.display()))
        .arg("::/clic-admin-password.txt")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "mtype: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    Regex::new(r"password: (\S+)")
        .unwrap()
        .captures(&text)
        .unwrap_or_else(|| panic!("no password in the card's file:\n{text}"))[1]
        .to_owned()
}

fn login_attempt(b: &Browser, url: &str, password: &str) -> String {
    b.goto(&format!("{url}/admin/"));
    b.find("#login-form #password").fill(password);
    b.find("#login").click();
    b.wait_until("the login's answer", Duration::from_secs(30), || {
        if !b.find_all("#status").is_empty() {
            return Some(String::new());
        }
        b.find_all("#message").first().map(|m| m.text())
    })
}

/// Seconds to wait in a "wait N s" message.
fn wait_in(message: &str) -> Option<u64> {
    Regex::new(r"(\d+) s")
        .unwrap()
        .captures(message)
        .and_then(|c| c[1].parse().ok())
}

/// Not logged in: refused; ten wrong passwords: slowed down; the card's
/// password: in.
pub fn login(eve: &Browser, url: &str, password: &str) {
    eve.goto(&format!("{url}/admin/diagnostics"));
    let refused = eve.text("#message");
    assert!(refused.contains("Connectez-vous"), "{refused}");
    assert!(
        !eve.source().contains("journal"),
        "diagnostics shown without login"
    );
    eve.goto(&format!("{url}/admin/"));
    eve.find("#login-form");
    assert!(
        eve.find_all("#status").is_empty(),
        "status shown without login"
    );
    eve.screenshot("admin-login");
    let started = Instant::now();
    let mut slowed = 0;
    let mut last = String::new();
    for i in 0..10 {
        last = login_attempt(eve, url, &format!("pas-le-bon-{i}"));
        assert!(!last.is_empty(), "a wrong password got in");
        if last.contains("attendez") {
            slowed += 1;
        }
    }
    eve.screenshot("admin-slowed-down");
    println!(
        "admin: 10 wrong passwords in {} s, {slowed} answered with a wait; last: {last}",
        started.elapsed().as_secs()
    );
    assert!(
        slowed >= 5,
        "ten wrong passwords were not slowed down: {last}"
    );
    // The right one, once the wait has passed.
    if let Some(s) = wait_in(&last) {
        std::thread::sleep(Duration::from_secs(s + 1));
    }
    let answer = login_attempt(eve, url, password);
    assert!(
        answer.is_empty(),
        "the card's password did not log in: {answer}"
    );
    eve.find("#services");
    eve.screenshot("admin-status");
}

/// The status page: services listed and up, figures there.
pub fn status(eve: &Browser, url: &str) {
    eve.goto(&format!("{url}/admin/"));
    let rows = eve.find_all("#services tr[data-unit]");
    let units: Vec<String> = rows.iter().filter_map(|r| r.attr("data-unit")).collect();
    for u in [
        "nginx.service",
        "agora.service",
        "clic-admin.service",
        "prosody.service",
    ] {
        assert!(
            units.iter().any(|x| x == u),
            "{u} not among the services: {units:?}"
        );
    }
    let nginx = eve.text("#services tr[data-unit=\"nginx.service\"]");
    assert!(nginx.contains("en marche"), "{nginx}");
    let disk = eve.text("#disk");
    assert!(disk.contains("libres sur"), "{disk}");
    let mem = eve.text("#memory");
    assert!(mem.ends_with("MB"), "{mem}");
    let image = eve.text("#image");
    assert!(image.contains("clic-ordinosaure"), "{image}");
}

fn settings_submit(eve: &Browser, url: &str, fields: &[(&str, &str)], open: bool) -> String {
    eve.goto(&format!("{url}/admin/"));
    for (id, value) in fields {
        // Set by script: the test types past the field's maxlength, as a
        // crafted request would.
        eve.exec(
            "document.getElementById(arguments[0]).value = arguments[1];",
            vec![Value::String((*id).into()), Value::String((*value).into())],
        );
    }
    let checked = eve.exec("return document.getElementById('open').checked;", vec![]);
    if (checked == true) != open {
        eve.find("#open").click();
    }
    eve.scroll_to("#settings-save");
    eve.find("#settings-save").click();
    eve.wait_until("the settings' answer", Duration::from_secs(60), || {
        eve.find_all("#message").first().map(|m| m.text())
    })
}

fn current(eve: &Browser, url: &str, id: &str) -> String {
    eve.goto(&format!("{url}/admin/"));
    let v = eve.exec(
        "return document.getElementById(arguments[0]).value;",
        vec![Value::String(id.into())],
    );
    v.as_str().unwrap_or("").to_owned()
}

pub const SSID: &str = "Café des voisins";
pub const PASSPHRASE: &str = "pain-au-levain-42";

/// A new network name and passphrase, confirmed; an invalid name refused
/// with the rule and nothing changed.
pub fn wifi_change(eve: &Browser, url: &str) {
    let m = settings_submit(
        eve,
        url,
        &[("ssid", SSID), ("passphrase", PASSPHRASE)],
        false,
    );
    assert!(m.contains("appliqués"), "{m}");
    let help = eve.text("#confirm-help");
    assert!(help.contains(SSID), "{help}");
    eve.screenshot("admin-wifi-changed");
    eve.find("#confirm").click();
    let m = eve.text("#message");
    assert!(m.contains("confirmé"), "{m}");
    assert_eq!(current(eve, url, "ssid"), SSID);
    assert!(
        eve.find_all("#pending").is_empty(),
        "still waiting for a confirmation"
    );
    // 29 characters, 35 bytes: past hostapd's 32 bytes.
    let m = settings_submit(
        eve,
        url,
        &[("ssid", "Éléphants électriques énervés")],
        false,
    );
    let refusals = eve.text("#refusals");
    assert!(m.contains("refusé"), "{m}");
    assert!(
        refusals.contains("ssid") && refusals.contains("32"),
        "the refusal does not give the rule: {refusals}"
    );
    eve.screenshot("admin-wifi-refused");
    assert_eq!(
        current(eve, url, "ssid"),
        SSID,
        "a refused change changed something"
    );
}

/// A change not confirmed: the box goes back to the old one by itself.
/// Returns when the change is made; [`rollback_check`] checks, a minute on.
pub fn unconfirmed_change(eve: &Browser, url: &str) -> Instant {
    let m = settings_submit(eve, url, &[("channel", "11")], false);
    assert!(m.contains("appliqués"), "{m}");
    assert_eq!(current(eve, url, "channel"), "11");
    eve.find("#pending");
    Instant::now()
}

pub fn rollback_check(eve: &Browser, url: &str, since: Instant) {
    let left = Duration::from_secs(75).saturating_sub(since.elapsed());
    std::thread::sleep(left);
    assert_eq!(
        current(eve, url, "channel"),
        "6",
        "the unconfirmed channel change was not rolled back"
    );
    assert!(eve.find_all("#pending").is_empty());
    assert_eq!(
        current(eve, url, "ssid"),
        SSID,
        "the rollback undid a confirmed change"
    );
}

/// The clock: set to a date typed in, then back to the phone's own time
/// (the page's script fills it in).
pub fn clock(eve: &Browser, url: &str) {
    eve.goto(&format!("{url}/admin/"));
    eve.find("#clock-local").fill("2031-05-17T10:20");
    eve.find("#clock-set").click();
    let m = eve.text("#message");
    assert!(m.contains("2031-05-17 10:2"), "{m}");
    eve.goto(&format!("{url}/admin/"));
    eve.find("#clock-set").click();
    let m = eve.text("#message");
    let year = String::from_utf8(Command::new("date").arg("+%Y").output().unwrap().stdout).unwrap();
    let year = year.trim();
    assert!(
        m.contains(&format!("{year}-")),
        "the phone's time was not taken: {m}"
    );
}

/// The diagnostics: logs and settings, the new SSID there, the passphrase not.
pub fn diagnostics(b: &RunningBox, eve: &Browser, url: &str) {
    eve.goto(&format!("{url}/admin/diagnostics"));
    let text = eve.text("body");
    assert!(text.contains("===== journal"), "{}", tail(&text, 20));
    assert!(
        text.contains(&format!("ssid={SSID}")),
        "{}",
        tail(&text, 20)
    );
    assert!(
        !text.contains(PASSPHRASE),
        "the diagnostics hold the Wi-Fi passphrase"
    );
    assert!(text.contains("wpa_passphrase= [removed]"));
    let _ = b;
}

/// The poster (A4, from the box's live settings): both QR codes, as the
/// browser draws them, decoded by zbar (zbarimg) to the Wi-Fi's and the
/// portal's addresses.
pub fn poster(eve: &Browser, url: &str) {
    eve.goto(&format!("{url}/admin/poster?paper=a4"));
    let page = eve.source();
    assert!(page.contains(SSID), "the poster does not name the network");
    eve.screenshot("admin-poster");
    for (css, expected) in [
        (
            "figure.qr.wifi svg",
            format!("WIFI:T:WPA;S:{SSID};P:{PASSPHRASE};;"),
        ),
        ("figure.qr.portal svg", "http://clic.lan/".to_owned()),
    ] {
        let png = eve.find(css).screenshot(&format!(
            "poster-{}",
            css.split('.')
                .nth(2)
                .unwrap_or("qr")
                .trim_end_matches(" svg")
        ));
        let o = Command::new("zbarimg")
            .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
            .arg(&png)
            .output()
            .unwrap_or_else(|e| panic!("zbarimg (make deps): {e}"));
        let got = String::from_utf8_lossy(&o.stdout).trim().to_owned();
        assert_eq!(got, expected, "QR code {css} read by zbar");
    }
}

/// A new admin password: the old one stops working, the new one works here
/// and in agora's moderation.
pub fn password_change(eve: &Browser, url: &str, old: &str) -> String {
    let new = "une-nouvelle-phrase-de-passe";
    eve.goto(&format!("{url}/admin/"));
    eve.find("#current").fill(old);
    eve.find("#new").fill(new);
    eve.find("#again").fill(new);
    eve.scroll_to("#password-save");
    eve.find("#password-save").click();
    let m = eve.text("#message");
    assert!(m.contains("Mot de passe changé"), "{m}");
    eve.goto(&format!("{url}/admin/"));
    eve.find("#logout").click();
    eve.find("#login-form");
    let a = login_attempt(eve, url, old);
    assert!(a.contains("incorrect"), "the old password still works: {a}");
    let a = login_attempt(eve, url, new);
    assert!(a.is_empty(), "the new password does not log in: {a}");
    // agora reads the new hash after its restart.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        eve.goto(&format!("{url}/agora/admin"));
        if !eve.find_all("#admin-login").is_empty() {
            eve.find("#admin-login #password").fill(new);
            eve.find("#admin-submit").click();
            if !eve.find_all("#admin-logout").is_empty() {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "agora's moderation does not take the new password"
        );
        std::thread::sleep(Duration::from_secs(3));
    }
    new.to_owned()
}

/// "Shut down safely": the guest powers off by itself.
pub fn power_off(b: RunningBox, eve: &Browser, url: &str) {
    eve.goto(&format!("{url}/admin/"));
    eve.scroll_to("#poweroff");
    eve.find("#poweroff").click();
    let m = eve.text("#message");
    assert!(m.contains("s'éteint"), "{m}");
    eve.screenshot("admin-power-off");
    let started = Instant::now();
    let (ended, serial) = b.wait_for_end(Duration::from_secs(180));
    assert!(
        ended,
        "the box did not power off within 180 s:\n{}",
        tail(&serial, 30)
    );
    assert!(
        serial.contains("reboot: Power down"),
        "no clean power-down on the console:\n{}",
        tail(&serial, 30)
    );
    println!("admin: powered off after {} s", started.elapsed().as_secs());
}
