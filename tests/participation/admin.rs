//! The admin console (/admin/, layer admin, box/admin) on the booted
//! default image, in Chromium at 360 px: refused without login, slowed
//! down after wrong passwords, in with the password read from the image's
//! boot partition; a Wi-Fi change applied and confirmed, an invalid one
//! refused with the rule, an unconfirmed one rolled back by the box after a
//! minute; the clock set from the phone; the diagnostics without the Wi-Fi
//! secret; the poster's QR codes decoded by zbar; the password changed
//! (the console and agora's moderation take the new one); a USB stick's
//! content imported; the whole participation backup downloaded, a damaged
//! copy refused, the backup restored; then "shut down safely" powers the
//! guest off.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;

use super::common::webdriver::Browser;
use super::common::{self, tail, RunningBox};

/// The admin password the first boot wrote on the image's FAT partition.
pub fn password_from_card(img: &Path) -> String {
    common::admin_password_from_card(img)
}

fn login_attempt(b: &Browser, url: &str, password: &str) -> String {
    b.goto(&format!("{url}/admin/"));
    b.find("#login-form #password").fill(password);
    click_and_wait(b, "#login");
    b.wait_until("the login's answer", Duration::from_secs(30), || {
        if !b.find_all("#status").is_empty() {
            return Some(String::new());
        }
        b.find_all("#message").first().map(|m| m.text())
    })
}

/// Click `css` (a submit button) and wait for the page it brings: its
/// `#message`. The page before is marked, so that its own `#message` is
/// not taken for the answer.
fn click_for_message(b: &Browser, css: &str) -> String {
    b.exec("document.documentElement.dataset.stale = '1';", vec![]);
    b.find(css).click();
    b.wait_until(
        &format!("the answer to `{css}`"),
        Duration::from_secs(60),
        || {
            let v = b.exec(
                "const m = document.getElementById('message'); \
             return document.documentElement.dataset.stale || !m ? null : m.textContent;",
                vec![],
            );
            v.as_str().map(str::to_owned)
        },
    )
}

/// Click `css` and wait for the next page to be there (the page before is
/// marked; the mark is gone once another document is loaded).
fn click_and_wait(b: &Browser, css: &str) {
    b.exec("document.documentElement.dataset.stale = '1';", vec![]);
    b.find(css).click();
    b.wait_until(
        &format!("the page after `{css}`"),
        Duration::from_secs(60),
        || {
            let v = b.exec(
            "return document.readyState === 'complete' && !document.documentElement.dataset.stale;",
            vec![],
        );
            (v == true).then_some(())
        },
    );
}

/// GET `path` from the box with the browser's session cookie `cookie`
/// (a download, which the browser would save rather than show).
fn fetch_text(b: &RunningBox, eve: &Browser, cookie: &str, path: &str) -> String {
    let session = eve
        .cookie(cookie)
        .unwrap_or_else(|| panic!("no {cookie} cookie in the browser"));
    let r = super::common::http::request(
        b.port,
        "GET",
        path,
        &[("Cookie", &format!("{cookie}={session}"))],
        b"",
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{path}: {}", tail(&r.text(), 5));
    r.text()
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
    let units: Vec<String> = eve
        .exec(
            "return [...document.querySelectorAll('#services tr[data-unit]')].map(r => r.dataset.unit);",
            vec![],
        )
        .as_array()
        .map(|a| a.iter().filter_map(|u| u.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
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
    // Nothing wider than the phone (a wider page is zoomed out: small
    // text, and taps land beside what the eye aims at).
    let widths = eve.exec(
        "return [document.documentElement.scrollWidth, window.innerWidth];",
        vec![],
    );
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "the status page is wider than the phone: {widths}"
    );
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
    click_for_message(eve, "#settings-save")
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
    let m = click_for_message(eve, "#confirm");
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

pub const PORTAL_TITLE: &str = "Salle des fêtes <du lavoir> & co";
const WELCOME: &str = "Bienvenue au lavoir : « tout est ici ».";

/// The portal's title, French welcome sentence and home language, changed
/// from the console: the pages follow at once (escaped: the title's `<` is
/// text, not markup), `/` answers in English, the French page stays at
/// /index.html; a title past 60 characters is refused with the rule. Made
/// while a Wi-Fi change waits for its confirmation: [`portal_texts_kept`]
/// checks, after the rollback, that they stayed.
pub fn portal_texts(eve: &Browser, url: &str) {
    let m = settings_submit(
        eve,
        url,
        &[
            ("portal-title", PORTAL_TITLE),
            ("welcome", &format!("{WELCOME}\n")),
            ("home-lang", "en"),
        ],
        false,
    );
    assert!(m.contains("appliqués"), "{m}");
    assert!(
        eve.find_all("#confirm-help").is_empty(),
        "a portal text asked for a Wi-Fi confirmation"
    );
    eve.goto(&format!("{url}/"));
    assert!(
        eve.url().ends_with("/en/"),
        "/ does not answer in English: {}",
        eve.url()
    );
    assert_eq!(eve.title(), format!("{PORTAL_TITLE} · home"));
    assert_eq!(eve.text("h1"), PORTAL_TITLE);
    assert!(eve.text(".lead").starts_with("This CLIC! box works."));
    eve.screenshot("portal-retitled-en");
    eve.find("a[hreflang=fr]").click();
    eve.wait_until("the French home page", Duration::from_secs(20), || {
        eve.url().ends_with("/index.html").then_some(())
    });
    assert_eq!(eve.text("h1"), PORTAL_TITLE);
    let lead = eve.text(".lead");
    assert!(lead.starts_with(WELCOME), "{lead}");
    // Every page that shows the title: the library's too.
    eve.goto(&format!("{url}/bibliotheque/"));
    assert!(eve.title().starts_with(PORTAL_TITLE), "{}", eve.title());
    // The console names the box by it.
    eve.goto(&format!("{url}/admin/"));
    assert_eq!(eve.text("h1"), PORTAL_TITLE);
    let m = settings_submit(eve, url, &[("portal-title", &"a".repeat(61))], false);
    assert!(m.contains("refusé"), "{m}");
    let refusals = eve.text("#refusals");
    assert!(
        refusals.contains("title") && refusals.contains("60"),
        "the refusal does not give the rule: {refusals}"
    );
    assert_eq!(current(eve, url, "portal-title"), PORTAL_TITLE);
    // Back to French at /.
    let m = settings_submit(eve, url, &[("home-lang", "fr")], false);
    assert!(m.contains("appliqués"), "{m}");
    eve.goto(&format!("{url}/"));
    assert!(!eve.url().ends_with("/en/"), "{}", eve.url());
    assert_eq!(eve.text("h1"), PORTAL_TITLE);
}

/// After the rollback of another (Wi-Fi) change: the portal's texts stay.
pub fn portal_texts_kept(eve: &Browser, url: &str) {
    assert_eq!(current(eve, url, "portal-title"), PORTAL_TITLE);
    assert_eq!(current(eve, url, "welcome"), WELCOME);
    eve.goto(&format!("{url}/index.html"));
    assert_eq!(eve.text("h1"), PORTAL_TITLE);
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
    // A date picker takes keys in the locale's order: set it as the
    // picker would, with the event the page listens to.
    eve.exec(
        "const l = document.getElementById('clock-local'); l.value = '2031-05-17T10:20'; \
         l.dispatchEvent(new Event('input'));",
        vec![],
    );
    let m = click_for_message(eve, "#clock-set");
    assert!(m.contains("2031-05-17 10:2"), "{m}");
    eve.goto(&format!("{url}/admin/"));
    let m = click_for_message(eve, "#clock-set");
    let year = String::from_utf8(Command::new("date").arg("+%Y").output().unwrap().stdout).unwrap();
    let year = year.trim();
    assert!(
        m.contains(&format!("{year}-")),
        "the phone's time was not taken: {m}"
    );
}

/// The diagnostics: logs and settings, the new SSID there, the passphrase not.
pub fn diagnostics(b: &RunningBox, eve: &Browser, url: &str) {
    // The session cookie is for /admin: the browser shows it from there.
    eve.goto(&format!("{url}/admin/"));
    let text = fetch_text(b, eve, "clic_admin", "/admin/diagnostics");
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
            "div.qr.wifi svg",
            format!("WIFI:T:WPA;S:{SSID};P:{PASSPHRASE};;"),
        ),
        ("div.qr.portal svg", "http://clic.lan/".to_owned()),
    ] {
        let png = eve.find(css).screenshot(&format!(
            "poster-{}",
            css.split('.')
                .nth(2)
                .unwrap_or("qr")
                .trim_end_matches(" svg")
        ));
        let o = Command::new("zbarimg")
            // Raw bytes: zbar's own charset guess reads UTF-8 as Shift JIS.
            .args([
                "--quiet",
                "--raw",
                "-Sdisable",
                "-Sqrcode.enable",
                "-Sbinary",
            ])
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
    let m = click_for_message(eve, "#password-save");
    assert!(m.contains("Mot de passe changé"), "{m}");
    eve.goto(&format!("{url}/admin/"));
    click_and_wait(eve, "#logout");
    eve.find("#login-form");
    let a = login_attempt(eve, url, old);
    assert!(a.contains("incorrect"), "the old password still works: {a}");
    let a = login_attempt(eve, url, new);
    assert!(a.is_empty(), "the new password does not log in: {a}");
    // agora reads the new hash after its restart (a second or so; it
    // answers 502 meanwhile). Its login is rate-limited: a few tries only.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut said = String::new();
    loop {
        eve.goto(&format!("{url}/agora/admin"));
        if !eve.find_all("#admin-logout").is_empty() {
            break;
        }
        if !eve.find_all("#admin-login").is_empty() {
            eve.find("#admin-login #password").fill(new);
            click_and_wait(eve, "#admin-submit");
            if !eve.find_all("#admin-logout").is_empty() {
                break;
            }
            said = eve
                .find_all("#error")
                .first()
                .map(|e| e.text())
                .unwrap_or_default();
        }
        assert!(
            Instant::now() < deadline,
            "agora's moderation does not take the new password: {said}"
        );
        std::thread::sleep(Duration::from_secs(5));
    }
    new.to_owned()
}

/// The console's whole backup (agora, wiki, chat): downloaded, its
/// manifest read; then a poll deleted and the wiki page vandalised; a
/// damaged copy of the backup refused with nothing changed; the backup
/// restored from the browser: the poll and the page are back, the
/// services up.
pub fn backup_restore(b: &RunningBox, eve: &Browser, url: &str, poll: &str, dir: &Path) {
    eve.goto(&format!("{url}/admin/"));
    let what = eve.text("#participation");
    for part in ["agora", "chat", "wiki"] {
        assert!(what.contains(part), "{part} not in the backup: {what}");
    }
    let session = eve.cookie("clic_admin").expect("logged in to the console");
    let backup = super::common::http::request(
        b.port,
        "GET",
        "/admin/backup",
        &[("Cookie", &format!("clic_admin={session}"))],
        b"",
        Duration::from_secs(120),
    )
    .unwrap();
    assert_eq!(backup.status, 200, "{}", tail(&backup.text(), 5));
    let file = dir.join("clic-backup.tar");
    std::fs::write(&file, &backup.body).unwrap();
    let o = Command::new("tar")
        .arg("-xOf")
        .arg(&file)
        .arg("clic-backup.json")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "not a tar with a manifest: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let manifest: Value = serde_json::from_slice(&o.stdout).unwrap();
    let files: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    let page = format!("wiki/data/pages/{}.txt", super::WIKI_PAGE);
    for want in ["agora/agora.db", page.as_str()] {
        assert!(files.contains(&want), "{want} not in the backup: {files:?}");
    }
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("chat/prosody/") && f.contains("/accounts/")),
        "no chat account in the backup: {files:?}"
    );
    println!(
        "admin: backup of {} bytes, {} files",
        backup.body.len(),
        files.len()
    );

    // After the backup: the poll deleted, the wiki page vandalised.
    let poll_page = format!("{url}/agora/p/{poll}");
    eve.goto(&format!("{url}/agora/admin"));
    click_and_wait(
        eve,
        &format!("li[data-poll=\"{poll}\"] button[value=\"delete\"]"),
    );
    eve.goto(&poll_page);
    assert!(
        eve.find_all("#results").is_empty(),
        "the poll is still there after its deletion"
    );
    const VANDAL: &str = "Page effacée par erreur.";
    eve.goto(&super::wiki_url(url, "&do=edit"));
    eve.find("textarea#wiki__text").fill(VANDAL);
    eve.find("#edbtn__save").click();
    eve.wait_until("the vandalised page", Duration::from_secs(60), || {
        let v = eve.exec(
            "const p = document.querySelector('div.page'); \
             return !document.getElementById('wiki__text') && p ? p.innerText : '';",
            vec![],
        );
        v.as_str()?.contains(VANDAL).then_some(())
    });

    // A damaged copy (one byte of the wiki page changed): refused, nothing changed.
    let mut bytes = backup.body.clone();
    let text = super::WIKI_TEXT.as_bytes();
    let at = bytes
        .windows(text.len())
        .position(|w| w == text)
        .expect("the wiki page in the backup");
    bytes[at] ^= 0x20;
    let damaged = dir.join("clic-backup-damaged.tar");
    std::fs::write(&damaged, &bytes).unwrap();
    eve.goto(&format!("{url}/admin/"));
    eve.find("#backup-file")
        .send_keys(&damaged.to_string_lossy());
    let m = click_for_message(eve, "#restore");
    assert!(
        m.contains("Rien n'a été changé") && m.contains("does not match"),
        "{m}"
    );
    eve.goto(&poll_page);
    assert!(
        eve.find_all("#results").is_empty(),
        "a damaged backup changed the agora"
    );

    // The backup itself: all back.
    eve.goto(&format!("{url}/admin/"));
    eve.find("#backup-file").send_keys(&file.to_string_lossy());
    let m = click_for_message(eve, "#restore");
    assert!(
        m.contains("Sauvegarde restaurée") && m.contains("wiki"),
        "{m}"
    );
    eve.screenshot("admin-restored");
    eve.goto(&poll_page);
    let results = eve.text("#results");
    assert!(
        results.contains("Pizza au feu de bois"),
        "the poll did not come back: {results}"
    );
    eve.goto(&super::wiki_url(url, ""));
    let page = eve.text("div.page");
    assert!(
        page.contains(super::WIKI_TEXT) && !page.contains(VANDAL),
        "the wiki page did not come back:\n{page}"
    );
    eve.goto(&format!("{url}/admin/"));
    for unit in ["agora.service", "prosody.service", "php8.2-fpm.service"] {
        let row = eve
            .find_all(&format!("#services tr[data-unit=\"{unit}\"]"))
            .first()
            .map(|r| r.text())
            .unwrap_or_default();
        assert!(
            row.contains("en marche"),
            "{unit} after the restore: {row:?}"
        );
    }
}

/// A FAT "USB stick" image: the sample ZIM file, a content pack (a folder
/// with SHA256SUMS: one file that matches, one that does not) and a plain
/// file. Made with dosfstools and mtools, as a volunteer's stick would be.
pub fn make_stick(dir: &Path) -> std::path::PathBuf {
    let stick = dir.join("stick.img");
    let _ = std::fs::remove_file(&stick);
    let ok = Command::new("mkfs.vfat")
        .args(["-n", "CLE-VOISIN", "-C"])
        .arg(&stick)
        .arg("65536")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "mkfs.vfat: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let files = dir.join("stick-files");
    let _ = std::fs::remove_dir_all(&files);
    std::fs::create_dir_all(files.join("guides")).unwrap();
    // The sample ZIM as another book: a new UUID, its MD5 checksum made
    // again (kiwix would take the same book twice as one).
    let zim = files.join("poele-fusee.zim");
    let o = Command::new("python3")
        .args([
            "-c",
            "import hashlib, struct, sys\n\
             b = bytearray(open(sys.argv[1], 'rb').read())\n\
             b[8:24] = bytes(range(1, 17))\n\
             pos = struct.unpack_from('<Q', b, 72)[0]\n\
             b[pos:pos + 16] = hashlib.md5(b[:pos]).digest()\n\
             open(sys.argv[2], 'wb').write(b)",
        ])
        .arg(common::repo().join("content/clic-exemples/poele-fusee.zim"))
        .arg(&zim)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(files.join("guides/bon.txt"), GOOD).unwrap();
    std::fs::write(files.join("guides/abime.txt"), "abîmé en route\n").unwrap();
    std::fs::write(
        files.join("guides/SHA256SUMS"),
        format!(
            "{}  bon.txt\n{}  abime.txt\n",
            common::sha256_hex(GOOD.as_bytes()),
            common::sha256_hex(b"ce qui avait ete publie\n")
        ),
    )
    .unwrap();
    std::fs::write(files.join("lisez-moi.txt"), "Apporté par une voisine.\n").unwrap();
    for name in ["poele-fusee.zim", "guides", "lisez-moi.txt"] {
        let o = Command::new("mcopy")
            .args(["-s", "-i"])
            .arg(&stick)
            .arg(files.join(name))
            .arg("::/")
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "mcopy {name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    stick
}

const GOOD: &str = "Guide de la ressourcerie, version vérifiée.\n";

/// The stick plugged in: listed, opened read-only, everything ticked and
/// imported with a progress bar; the ZIM appears in kiwix, the pack's good
/// file and the plain file at /files/ byte-exact, the mismatching file
/// refused and not served; then the plain file removed frees its place.
pub fn usb_import(b: &RunningBox, eve: &Browser, url: &str) {
    eve.goto(&format!("{url}/admin/usb"));
    click_and_wait(eve, "button.open-stick");
    let found = eve.text("#import-form");
    for name in ["poele-fusee.zim", "guides", "lisez-moi.txt"] {
        assert!(found.contains(name), "{name} not offered: {found}");
    }
    eve.screenshot("admin-usb-found");
    click_and_wait(eve, "#import-submit");
    eve.find_within("#import-done", Duration::from_secs(120));
    eve.screenshot("admin-usb-imported");
    let lines = eve.text("#import-lines");
    assert!(
        lines.contains("abime.txt"),
        "the mismatching file is not named: {lines}"
    );
    // Served, byte-exact; the refused file is not there.
    let (status, body) = b.get("/files/guides/bon.txt");
    assert_eq!(status, 200);
    assert_eq!(body, GOOD.as_bytes());
    assert_eq!(
        b.get("/files/guides/abime.txt").0,
        404,
        "a refused file is served"
    );
    assert_eq!(
        b.get("/files/lisez-moi.txt").1,
        "Apporté par une voisine.\n".as_bytes()
    );
    // The ZIM, in kiwix's catalogue once it has read its library again.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, cat) = b.get_text("/kiwix/catalog/v2/entries?count=50");
        if status == 200 && cat.matches("<entry>").count() >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the imported ZIM is not in kiwix: {}",
            tail(&cat, 10)
        );
        std::thread::sleep(Duration::from_secs(3));
    }
    // On the library's page, with links that work and a QR code each.
    eve.goto(&format!("{url}/bibliotheque/"));
    let added = eve.text("#imported-items");
    for name in ["poele-fusee.zim", "guides", "lisez-moi.txt"] {
        assert!(added.contains(name), "{name} not in the library: {added}");
    }
    eve.find("#imported-items li[data-name=\"lisez-moi.txt\"] h3 a")
        .click();
    eve.wait_until("the imported file, opened", Duration::from_secs(30), || {
        let t = eve.exec(
            "return document.body ? document.body.innerText : '';",
            vec![],
        );
        t.as_str()?.contains("par une voisine").then_some(())
    });
    eve.goto(&format!("{url}/bibliotheque/"));
    let qr = eve.exec(
        "const s = document.querySelector('#imported-items li[data-name=\"poele-fusee.zim\"] svg'); \
         return s ? s.getAttribute('aria-label') : null;",
        vec![],
    );
    assert_eq!(
        qr.as_str(),
        Some("QR code: http://clic.lan/kiwix/poele-fusee/")
    );
    eve.screenshot("library-imported");
    // Removing frees its place, and takes it off the library's page.
    eve.goto(&format!("{url}/admin/usb"));
    click_and_wait(eve, "tr[data-name=\"lisez-moi.txt\"] button.remove");
    eve.find("#on-box");
    assert_eq!(
        b.get("/files/lisez-moi.txt").0,
        404,
        "removed but still served"
    );
    let (_, page) = b.get_text("/bibliotheque/");
    assert!(
        page.contains("data-name=\"poele-fusee.zim\"") && !page.contains("lisez-moi.txt"),
        "the library's page after a removal: {}",
        tail(&page, 30)
    );
}

/// "Shut down safely": the guest powers off by itself.
pub fn power_off(b: RunningBox, eve: &Browser, url: &str) {
    eve.goto(&format!("{url}/admin/"));
    eve.scroll_to("#poweroff");
    let m = click_for_message(eve, "#poweroff");
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
    // Said last, filesystems read-only (systemd-shutdown's hook, layer
    // admin), before the power goes.
    let said = serial.find("it is safe to unplug");
    assert!(
        said.is_some() && said < serial.rfind("reboot: Power down"),
        "no \"safe to unplug\" before the power-down:\n{}",
        tail(&serial, 30)
    );
    println!("admin: powered off after {} s", started.elapsed().as_secs());
}
