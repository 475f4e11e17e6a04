//! Participation on the box, proven in a real browser.
//!
//! Debian's Chromium, driven by chromedriver over the W3C WebDriver protocol
//! (tests/common/webdriver.rs), at phone width (360 px), against the default
//! image booted under QEMU with 512 MB of RAM. Two browser profiles are two
//! phones with their own cookies:
//! - agora (box/agora/README.md has its URL map and ids): a poll is made and
//!   voted on from both phones, both votes in the results; a date poll is
//!   made and answered; on a sticky-note board one phone adds, moves and
//!   deletes a note while the other sees it appear, move and go without
//!   reloading (server-sent events), within seconds;
//! - chat (/chat/, converse.js, over plain http:// as on the hotspot): a
//!   message sent from one phone as a guest is read on the other; an account
//!   made from the browser (/chat/compte/) writes in the room, then logs in
//!   again from the other phone;
//! - wiki (/wiki/, DokuWiki): a page edited in the browser is read back
//!   after the box is stopped and booted again;
//! - a power cut: a burst of votes over plain HTTP, QEMU killed (SIGKILL)
//!   in the middle of it; the database the box boots from again passes
//!   `PRAGMA integrity_check` (read from the image's ext4, journal replayed)
//!   and every vote the box acknowledged is in the poll's export.
//!
//! Screenshots of every page are kept in target/test-artifacts/participation/
//! (with the page source and a screenshot of any page where an expected
//! element did not come); serial logs in target/tmp/clic-image-tests/participation/.
//!
//! A fast test proves the WebDriver client itself against a small HTTP
//! server on the host (no box). Both need Chromium and chromedriver (`make
//! deps`); the box test needs root, the Debian mirror and minutes, so they
//! are `#[ignore]`d for a plain `cargo test`; `make test` runs them.

#[path = "participation/admin.rs"]
mod admin;
mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;

use common::http;
use common::webdriver::{processes_naming, Browser};
use common::{clic, run, tail, RunningBox};

fn work() -> PathBuf {
    common::work_dir("clic-image-tests/participation")
}

/// target/test-artifacts/participation: screenshots, page sources.
fn artifacts() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../test-artifacts/participation");
    std::fs::create_dir_all(&d).unwrap();
    d.canonicalize().unwrap()
}

// ---------------------------------------------------------------------------
// The harness against a page on the host.

/// A tiny HTTP server on 127.0.0.1: `/` sets a device cookie (once per
/// browser) and shows a form and, after 1 s, an element made by script;
/// `POST /hello` greets the name posted and the device. Runs until the
/// process ends.
fn tiny_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let next = Arc::new(AtomicUsize::new(1));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let next = next.clone();
            std::thread::spawn(move || tiny_answer(stream, &next));
        }
    });
    port
}

fn tiny_answer(mut s: std::net::TcpStream, next: &AtomicUsize) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Head, then the body its Content-Length announces.
    let (head, body) = loop {
        let n = match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).into_owned();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buf.len() < i + 4 + len {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            break (head, String::from_utf8_lossy(&buf[i + 4..]).into_owned());
        }
    };
    let device = head
        .lines()
        .find_map(|l| l.strip_prefix("Cookie: "))
        .and_then(|c| c.split("; ").find_map(|kv| kv.strip_prefix("dev=")))
        .map(str::to_owned);
    let mut extra = String::new();
    let device = device.unwrap_or_else(|| {
        let d = format!("d{}", next.fetch_add(1, Ordering::SeqCst));
        extra = format!("Set-Cookie: dev={d}; Path=/\r\n");
        d
    });
    let page = if head.starts_with("POST /hello") {
        let name = body
            .split('&')
            .find_map(|kv| kv.strip_prefix("name="))
            .unwrap_or("")
            .replace('+', " ");
        format!("<!DOCTYPE html><title>hello</title><p id=\"hello\">Hello {name} on {device}</p>")
    } else {
        "<!DOCTYPE html><html><head><meta name=\"viewport\" content=\"width=device-width\"><title>tiny</title></head>\
         <body><form id=\"f\" method=\"post\" action=\"/hello\"><input name=\"name\" id=\"name\">\
         <select name=\"kind\"><option value=\"a\">a</option><option value=\"b\">b</option></select>\
         <button id=\"go\">Go</button></form>\
         <script>setTimeout(() => { const p = document.createElement('p'); p.id = 'late'; \
         p.textContent = 'came late'; document.body.append(p); }, 1000);</script></body></html>"
            .to_owned()
    };
    let _ = s.write_all(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{page}",
            page.len()
        )
        .as_bytes(),
    );
}

/// The WebDriver client against a real page: phone width, forms, waits,
/// scripts, screenshots; two browsers are two devices (cookies); a missing
/// element fails with a screenshot and the page source; nothing of either
/// browser keeps running once dropped, also after a panic.
#[test]
#[ignore = "needs chromium and chromedriver: make test"]
fn webdriver_client_drives_chromium_on_a_local_page() {
    let port = tiny_server();
    let url = format!("http://127.0.0.1:{port}/");
    let dir = artifacts().join("harness");
    let a = Browser::start("harness-a", &dir);
    a.goto(&url);
    assert_eq!(a.title(), "tiny");
    a.exec("console.warn('from the page');", vec![]);
    assert!(
        a.console().iter().any(|l| l.contains("from the page")),
        "the page's console is not read"
    );
    let width = a.exec("return window.innerWidth;", vec![]);
    assert_eq!(width, 360, "the window is not phone-wide");
    // Waits for what a script adds later.
    assert_eq!(a.text("#late"), "came late");
    a.find("#name").fill("Alice Dupré");
    a.find("select[name=kind] option[value=b]").click();
    a.find("#go").click();
    // The server echoes the form field as posted (UTF-8, percent-encoded).
    assert_eq!(a.text("#hello"), "Hello Alice Dupr%C3%A9 on d1");
    let shot = a.screenshot("hello");
    assert!(std::fs::read(&shot).unwrap().starts_with(b"\x89PNG"));

    // b reaches the server by a name, port 80, as a phone on a hotspot.
    let b = Browser::start_mapped("harness-b", &dir, "box.test", port);
    b.goto("http://box.test/");
    assert_eq!(b.url(), "http://box.test/");
    b.find("#name").send_keys("Bob");
    b.find("#name").submit();
    assert_eq!(b.text("#hello"), "Hello Bob on d2", "b is another device");
    a.goto(&url);
    assert_eq!(a.cookie("dev").as_deref(), Some("d1"), "a keeps its cookie");

    // A missing element: the test fails, saying so, with the page kept.
    let a = std::panic::AssertUnwindSafe(a);
    let failed = std::panic::catch_unwind(|| {
        a.find_within("#never-there", Duration::from_secs(1));
    })
    .expect_err("a missing element must fail");
    let msg = failed.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("#never-there"), "{msg}");
    assert!(dir.join("harness-a-failure-1.png").is_file(), "{msg}");
    let html = std::fs::read_to_string(dir.join("harness-a-failure-1.html")).unwrap();
    assert!(html.contains("id=\"late\""), "{html}");

    // A browser dropped while a panic unwinds leaves nothing running.
    let profile_b = b.profile().to_owned();
    let driver_b = b.driver_pid();
    assert!(!processes_naming(&profile_b).is_empty());
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _b = b;
        panic!("on purpose");
    }));
    let profile_a = a.profile().to_owned();
    drop(a);
    for p in [&profile_a, &profile_b] {
        assert_eq!(processes_naming(p), Vec::<i32>::new(), "{}", p.display());
    }
    assert!(
        !Path::new(&format!("/proc/{driver_b}")).exists(),
        "chromedriver {driver_b} still there"
    );
}

/// Hashes, HMACs and PBKDF2 keys as converse.js asks Web Crypto for them
/// (entity capabilities, SCRAM-SHA-1 and -256 logins), as hex strings.
const WEB_CRYPTO_SAMPLES: &str = r#"return (async () => {
  const hex = b => [...new Uint8Array(b)].map(x => x.toString(16).padStart(2, '0')).join('');
  const enc = new TextEncoder();
  const out = [];
  for (const len of [0, 3, 55, 56, 63, 64, 65, 1000]) {
    const data = new Uint8Array(len).map((_, i) => (i * 7 + len) & 255);
    for (const h of ['SHA-1', 'SHA-256']) {
      out.push(hex(await crypto.subtle.digest(h, data)));
      const key = await crypto.subtle.importKey('raw', enc.encode('clé'.repeat(len % 30 + 1)),
        {name: 'HMAC', hash: h}, false, ['sign']);
      out.push(hex(await crypto.subtle.sign('HMAC', key, data.buffer)));
    }
  }
  for (const h of ['SHA-1', 'SHA-256']) {
    const pw = await crypto.subtle.importKey('raw', enc.encode('pencil'), 'PBKDF2', false, ['deriveBits']);
    out.push(hex(await crypto.subtle.deriveBits(
      {name: 'PBKDF2', salt: enc.encode('QSXCR+Q6sek8bf92'), iterations: 4096, hash: {name: h}}, pw, 256)));
  }
  return out;
})();"#;

/// The chat's stand-in for Web Crypto (overlays/chat/.../clic-subtle.js):
/// a page served by name over http:// (as http://clic.lan on the hotspot)
/// is not a secure context and has no `crypto.subtle`; with the stand-in
/// it gets the same digests, HMACs and PBKDF2 keys as Chromium's own Web
/// Crypto gives a page on 127.0.0.1; on a secure page it changes nothing.
#[test]
#[ignore = "needs chromium and chromedriver: make test"]
fn web_crypto_stand_in_gives_what_chromium_gives() {
    let stand_in = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../overlays/chat/root/var/www/html/chat/clic-subtle.js"),
    )
    .unwrap();
    let port = tiny_server();
    let dir = artifacts().join("harness");
    let secure = Browser::start("crypto-secure", &dir);
    secure.goto(&format!("http://127.0.0.1:{port}/"));
    let own = secure.exec(WEB_CRYPTO_SAMPLES, vec![]);
    assert_eq!(own.as_array().map(Vec::len), Some(34), "{own}");
    secure.exec(&stand_in, vec![]);
    assert_eq!(
        secure.exec("return crypto.subtle instanceof SubtleCrypto;", vec![]),
        true,
        "the stand-in replaced a real crypto.subtle"
    );

    let plain = Browser::start_mapped("crypto-plain", &dir, "box.test", port);
    plain.goto("http://box.test/");
    assert_eq!(
        plain.exec(
            "return [window.isSecureContext, typeof crypto.subtle];",
            vec![]
        ),
        serde_json::json!([false, "undefined"])
    );
    plain.exec(&stand_in, vec![]);
    let stood_in = plain.exec(WEB_CRYPTO_SAMPLES, vec![]);
    assert_eq!(stood_in, own);
    // What it does not do, it refuses as Web Crypto does, not silently.
    let refused = plain.exec(
        "return crypto.subtle.digest('SHA-512', new Uint8Array(1)).then(() => 'done', e => e.name);",
        vec![],
    );
    assert_eq!(refused, "NotSupportedError");
}

// ---------------------------------------------------------------------------
// The box.

/// The default image, built for this test binary (a copy is booted, writes
/// kept, so the built image stays as built); or, to rerun the test on an
/// image already built from the default spec, the one that
/// `CLIC_PARTICIPATION_IMAGE` names.
fn image() -> PathBuf {
    if let Some(img) = std::env::var_os("CLIC_PARTICIPATION_IMAGE") {
        println!(
            "image: {} (CLIC_PARTICIPATION_IMAGE)",
            img.to_string_lossy()
        );
        return PathBuf::from(img);
    }
    common::default_image(&work().join("image"))
}

/// A sparse copy of `img` with its manifest (which names the board).
fn copy_image(img: &Path, name: &str) -> PathBuf {
    let copy = work().join(format!("{name}.img"));
    run({
        let mut c = Command::new("cp");
        c.arg("--sparse=always").arg(img).arg(&copy);
        c
    });
    std::fs::copy(
        img.with_extension("manifest.json"),
        copy.with_extension("manifest.json"),
    )
    .unwrap();
    copy
}

/// Boot `img` (writes kept) with 512 MB until the box says it is ready.
fn boot(img: &Path, tag: &str) -> RunningBox {
    boot_with(img, tag, &[])
}

/// [`boot`] with more arguments for `clic boot` (`--usb FILE`).
fn boot_with(img: &Path, tag: &str, more: &[&str]) -> RunningBox {
    let started = Instant::now();
    let b = RunningBox::start(
        clic(),
        img,
        &work(),
        tag,
        &[],
        &[&["--memory", "512M", "--timeout", "900", "--persist"], more].concat(),
    );
    println!(
        "{tag}: the box is up after {} s",
        started.elapsed().as_secs()
    );
    b
}

/// The box's domain on its hotspot (settings.hotspot.domain's default).
const DOMAIN: &str = "clic.lan";

/// The box's address as a phone on its hotspot uses it.
fn site() -> String {
    format!("http://{DOMAIN}")
}

/// A phone on the box's hotspot: Chromium at 360 px whose `http://clic.lan/`
/// is the box's port 80 (forwarded to `b.port`), so that the pages, their
/// redirects and the chat's WebSocket see the name and port a phone uses.
fn phone(name: &str, b: &RunningBox) -> Browser {
    Browser::start_mapped(name, &artifacts(), DOMAIN, b.port)
}

/// The home page at phone width, with its participation corner.
fn portal(alice: &Browser, url: &str) {
    alice.goto(&format!("{url}/"));
    let tiles: Vec<String> = alice
        .find_all("li.tile a")
        .iter()
        .filter_map(|a| a.attr("href"))
        .collect();
    for want in ["/agora/", "/chat/", "/wiki/"] {
        assert!(
            tiles.iter().any(|t| t.ends_with(want)),
            "no tile for {want} on the portal: {tiles:?}"
        );
    }
    let scroll = alice.exec("return document.documentElement.scrollWidth;", vec![]);
    assert!(
        scroll.as_u64().unwrap_or(9999) <= 360,
        "the portal scrolls sideways at 360 px ({scroll} px wide)"
    );
    alice.screenshot("portal");
}

/// Fill `form` (a CSS selector) field by field: text inputs and textareas
/// typed, selects and radios clicked.
fn fill_form(b: &Browser, form: &str, fields: &[(&str, &str)]) {
    let f = b.find(form);
    for (name, value) in fields {
        let sel = format!("[name=\"{name}\"]");
        let el = f.find(&sel);
        let tag = b.exec(
            "return arguments[0].tagName.toLowerCase();",
            vec![el.json()],
        );
        if tag == "select" {
            el.find(&format!("option[value=\"{value}\"]")).click();
        } else {
            el.fill(value);
        }
    }
}

/// The poll's id from its URL (`.../agora/p/ID`).
fn poll_id(url: &str) -> String {
    Regex::new(r"/agora/p/([^/?#]+)")
        .unwrap()
        .captures(url)
        .unwrap_or_else(|| panic!("no poll id in {url}"))[1]
        .to_owned()
}

/// GET a JSON document from the box.
fn get_json(b: &RunningBox, path: &str) -> Value {
    let (status, body) = b.get_text(path);
    assert_eq!(status, 200, "{path}: {}", tail(&body, 10));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {}", tail(&body, 10)))
}

/// The voters' names in a poll's export (`votes[].name`).
fn ballot_names(export: &Value) -> Vec<String> {
    let ballots = export["votes"]
        .as_array()
        .unwrap_or_else(|| panic!("no `votes` in the export: {export:#}"));
    ballots
        .iter()
        .filter_map(|b| b["name"].as_str().map(str::to_owned))
        .collect()
}

/// Wait until the poll page shows `n` voters in its results.
fn voters(who: &Browser, n: u32) {
    who.wait_until(
        &format!("{n} voters in the results"),
        Duration::from_secs(10),
        || {
            let v = who.exec(
                "const c = document.querySelector('#results #voter-count'); \
                 return c && c.dataset.voters;",
                vec![],
            );
            (v == n.to_string().as_str()).then_some(())
        },
    );
}

/// A poll made by Alice, voted on by Alice and Bob (two phones), both votes
/// in the results; its id.
fn single_poll(alice: &Browser, bob: &Browser, url: &str, b: &RunningBox) -> String {
    alice.goto(&format!("{url}/agora/"));
    alice.screenshot("agora-home");
    alice.find("#new-poll").click();
    fill_form(
        alice,
        "form#poll-new",
        &[
            ("title", "Repas de la fête du four"),
            ("description", "Que cuisine-t-on samedi ?"),
            ("kind", "single"),
            (
                "options",
                "Soupe au potiron\nPizza au feu de bois\nTarte aux pommes",
            ),
        ],
    );
    alice.screenshot("poll-new");
    alice.find("#poll-create").click();
    let edit = alice.find("a#edit-link").attr("href").unwrap_or_default();
    assert!(edit.contains("/edit/"), "edit link {edit}");
    alice.screenshot("poll-created");
    let poll_url = alice.find("a#poll-link").attr("href").unwrap();
    let id = poll_id(&poll_url);

    for (who, choice, name) in [(alice, "1", "Alice"), (bob, "2", "Bob")] {
        who.goto(&poll_url);
        who.find("form#vote-form")
            .find("[name=\"name\"]")
            .fill(name);
        who.find(&format!(
            "form#vote-form input[name=\"choice\"][value=\"{choice}\"]"
        ))
        .click();
        who.screenshot("poll-vote");
        who.find("#vote-submit").click();
        who.wait_until(
            "the poll page again after voting",
            Duration::from_secs(30),
            || (who.url().trim_end_matches('/') == poll_url.trim_end_matches('/')).then_some(()),
        );
    }
    // Bob's page shows both votes, and so does Alice's, live.
    for who in [bob, alice] {
        voters(who, 2);
        let results = who.text("#results");
        for option in ["Pizza au feu de bois", "Tarte aux pommes"] {
            assert!(
                results.contains(option),
                "{option} not in the results:\n{results}"
            );
        }
        who.scroll_to("#results");
        who.screenshot("poll-results");
    }
    let export = get_json(b, &format!("/agora/p/{id}/export.json"));
    let mut names = ballot_names(&export);
    names.sort();
    assert_eq!(names, ["Alice", "Bob"], "{export:#}");
    id
}

/// A date poll made and answered (yes, maybe, no) in the browser.
fn date_poll(alice: &Browser, bob: &Browser, url: &str, b: &RunningBox) {
    alice.goto(&format!("{url}/agora/p/new"));
    fill_form(
        alice,
        "form#poll-new",
        &[
            ("title", "Réunion du collectif"),
            ("kind", "date"),
            ("options", "2026-12-10 18:30\n2026-12-11\n2026-12-12 10:00"),
        ],
    );
    alice.find("#poll-create").click();
    let poll_url = alice.find("a#poll-link").attr("href").unwrap();
    let id = poll_id(&poll_url);
    bob.goto(&poll_url);
    let form = bob.find("form#vote-form");
    form.find("[name=\"name\"]").fill("Bob");
    for (i, answer) in ["yes", "maybe", "no"].iter().enumerate() {
        form.find(&format!("input[name=\"answer_{i}\"][value=\"{answer}\"]"))
            .click();
    }
    bob.screenshot("date-poll-vote");
    bob.find("#vote-submit").click();
    voters(bob, 1);
    bob.scroll_to("#results");
    bob.screenshot("date-poll-results");
    let export = get_json(b, &format!("/agora/p/{id}/export.json"));
    assert_eq!(ballot_names(&export), ["Bob"], "{export:#}");
}

/// Ids of the notes shown on a browser's board page, with their column.
fn notes(b: &Browser) -> Vec<(String, String, String)> {
    let v = b.exec(
        "return [...document.querySelectorAll('article.note')].map(n => [n.id, \
         (n.closest('section.column') || {dataset: {}}).dataset.column || '', \
         (n.querySelector('.note-text') || n).textContent.trim()]);",
        vec![],
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n[0].as_str().unwrap_or("").to_owned(),
                n[1].as_str().unwrap_or("").to_owned(),
                n[2].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// How long the other phone may take to show a change.
const LIVE: Duration = Duration::from_secs(10);

/// A board: Alice adds a note, moves it to another column and deletes it;
/// Bob's page, never reloaded, shows each change within [`LIVE`].
fn board(alice: &Browser, bob: &Browser, url: &str) {
    alice.goto(&format!("{url}/agora/"));
    alice.find("#new-board").click();
    fill_form(
        alice,
        "form#board-new",
        &[
            ("title", "Idées pour la ressourcerie"),
            ("columns", "Idées\nEn cours\nFait"),
        ],
    );
    alice.find("#board-create").click();
    alice.find("section.column");
    let board_url = alice.url();
    assert!(board_url.contains("/agora/b/"), "{board_url}");
    let cols = alice.exec(
        "return [...document.querySelectorAll('section.column')].map(c => c.dataset.column);",
        vec![],
    );
    let cols: Vec<String> = cols
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(cols.len(), 3, "three columns: {cols:?}");

    bob.goto(&board_url);
    bob.find("section.column");
    // Gone if the page is reloaded.
    bob.exec("window.clicNotReloaded = true;", vec![]);
    let still_same_page = |b: &Browser| {
        assert_eq!(
            b.exec("return window.clicNotReloaded === true;", vec![]),
            true,
            "{}'s board page was reloaded",
            b.name
        );
    };

    // Add, in the first column, green.
    let text = "Atelier réparation de vélos";
    let add = alice.find(&format!(
        "section.column[data-column=\"{}\"] form.note-add",
        cols[0]
    ));
    add.find("textarea[name=\"text\"]").fill(text);
    add.find("select[name=\"color\"] option[value=\"green\"]")
        .click();
    alice.screenshot("board-add");
    let t0 = Instant::now();
    add.find(".note-add-submit").click();
    let (note, _, _) = alice.wait_until("the new note on Alice's page", LIVE, || {
        notes(alice).into_iter().find(|n| n.2.contains(text))
    });
    bob.wait_until("the new note on Bob's page, live", LIVE, || {
        notes(bob)
            .iter()
            .any(|n| n.0 == note && n.1 == cols[0])
            .then_some(())
    });
    println!(
        "note added: on the other phone after {} ms",
        t0.elapsed().as_millis()
    );
    let color = bob.exec(
        "return document.getElementById(arguments[0]).dataset.color;",
        vec![Value::String(note.clone())],
    );
    assert_eq!(color, "green", "the note's colour on Bob's page");
    still_same_page(bob);
    bob.screenshot("board-note-added");

    // Move to the second column: the note's tools, then "move to".
    alice
        .find(&format!("#{note} details.note-tools summary"))
        .click();
    let mv = alice.find(&format!("#{note} form.note-move"));
    mv.find(&format!(
        "select[name=\"column\"] option[value=\"{}\"]",
        cols[1]
    ))
    .click();
    alice.screenshot("board-move");
    let t0 = Instant::now();
    mv.find(".note-move-submit").click();
    alice.wait_until(
        "the note in the second column on Alice's page",
        LIVE,
        || {
            notes(alice)
                .iter()
                .any(|n| n.0 == note && n.1 == cols[1])
                .then_some(())
        },
    );
    bob.wait_until("the note moved on Bob's page, live", LIVE, || {
        notes(bob)
            .iter()
            .any(|n| n.0 == note && n.1 == cols[1])
            .then_some(())
    });
    println!(
        "note moved: on the other phone after {} ms",
        t0.elapsed().as_millis()
    );
    still_same_page(bob);
    bob.screenshot("board-note-moved");

    // Delete.
    let t0 = Instant::now();
    alice
        .find(&format!("#{note} details.note-tools summary"))
        .click();
    alice
        .find(&format!("#{note} form.note-delete .note-delete-submit"))
        .click();
    alice.accept_alert();
    alice.wait_until("the note gone from Alice's page", LIVE, || {
        notes(alice).iter().all(|n| n.0 != note).then_some(())
    });
    bob.wait_until("the note gone from Bob's page, live", LIVE, || {
        notes(bob).iter().all(|n| n.0 != note).then_some(())
    });
    println!(
        "note deleted: on the other phone after {} ms",
        t0.elapsed().as_millis()
    );
    still_same_page(bob);
    bob.screenshot("board-note-deleted");
}

/// converse.js at /chat/, logged in as a guest, in the public room: its
/// message box, once the room is joined (a nickname given if asked).
fn join_chat(who: &Browser, url: &str, nick: &str) {
    who.goto(&format!("{url}/chat/"));
    enter_room(who, nick);
}

/// Waits for converse.js to be in the public room (its message box),
/// giving a nickname if the room asks for one.
fn enter_room(who: &Browser, nick: &str) {
    let found = who.wait_until(
        "converse.js's room (a message box or a nickname form)",
        Duration::from_secs(90),
        || {
            if !who.find_all("textarea.chat-textarea").is_empty() {
                Some(true)
            } else if !who
                .find_all(".muc-nickname-form input[name=\"nick\"]")
                .is_empty()
            {
                Some(false)
            } else {
                None
            }
        },
    );
    if !found {
        let f = who.find(".muc-nickname-form");
        f.find("input[name=\"nick\"]").fill(nick);
        f.find("input[name=\"nick\"]").submit();
        who.find_within("textarea.chat-textarea", Duration::from_secs(60));
    }
}

/// Alice writes in the room from converse.js; Bob, in the room as well,
/// reads it.
fn chat(alice: &Browser, bob: &Browser, url: &str) {
    join_chat(bob, url, "bob");
    join_chat(alice, url, "alice");
    let msg = "Rendez-vous à 14 h devant la ressourcerie";
    let t0 = Instant::now();
    let area = alice.find("textarea.chat-textarea");
    area.send_keys(msg);
    // Enter sends.
    area.send_keys("\u{E007}");
    bob.wait_until(
        "Alice's message in Bob's room",
        Duration::from_secs(30),
        || {
            let v = bob.exec(
                "return [...document.querySelectorAll('.chat-msg__text')].map(e => e.textContent);",
                vec![],
            );
            v.as_array()?
                .iter()
                .any(|t| t.as_str().is_some_and(|t| t.contains(msg)))
                .then_some(())
        },
    );
    println!(
        "chat: message read on the other phone after {} ms",
        t0.elapsed().as_millis()
    );
    alice.screenshot("chat-sent");
    bob.screenshot("chat-received");
}

/// Messages shown in converse.js's open room.
fn room_messages(who: &Browser) -> Vec<String> {
    let v = who.exec(
        "return [...document.querySelectorAll('.chat-msg__text')].map(e => e.textContent);",
        vec![],
    );
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// An account made from the browser (/chat/compte/: in-band registration,
/// then a SCRAM login, both over plain http:// with Web Crypto's stand-in),
/// in the public room: its message read by a guest; then the same account
/// logs in from the login form on the other phone.
fn chat_account(alice: &Browser, bob: &Browser, url: &str) {
    if bob.find_all("textarea.chat-textarea").is_empty() {
        join_chat(bob, url, "bob");
    }
    let user = format!("anne{}", std::process::id() % 100_000);
    let password = "pain-de-seigle-42";
    alice.goto(&format!("{url}/chat/compte/"));
    alice
        .find_within("a.register-account", Duration::from_secs(90))
        .click();
    let form = "form#converse-register";
    alice
        .find_within(
            &format!("{form} input[name=\"username\"]"),
            Duration::from_secs(60),
        )
        .fill(&user);
    alice
        .find(&format!("{form} input[name=\"password\"]"))
        .fill(password);
    alice.screenshot("chat-account-register");
    alice
        .find(&format!("{form} input[type=\"submit\"]"))
        .click();
    enter_room(alice, &user);
    let msg = format!("Bonjour, c'est {user}, avec un compte");
    let area = alice.find("textarea.chat-textarea");
    area.send_keys(&msg);
    area.send_keys("\u{E007}");
    bob.wait_until(
        "the account's message in the guest's room",
        Duration::from_secs(30),
        || {
            room_messages(bob)
                .iter()
                .any(|t| t.contains(&msg))
                .then_some(())
        },
    );
    alice.screenshot("chat-account-sent");

    // The account's password, from the login form, on the other phone.
    bob.goto(&format!("{url}/chat/compte/"));
    bob.find_within("#converse-login-jid", Duration::from_secs(90))
        .fill(&user);
    bob.find("#converse-login-password").fill(password);
    bob.find("form button[type=\"submit\"]").click();
    enter_room(bob, &user);
    bob.screenshot("chat-account-login");
}

const WIKI_PAGE: &str = "participation";
/// Past the kernel's writeback of dirty data (`dirty_expire_centisecs`
/// 30 s, then the next flusher wake-up, every 5 s) and an ext4 journal
/// commit: 15 s (three commits) once lost a page saved just before.
const WIKI_SETTLE: Duration = Duration::from_secs(40);
const WIKI_TEXT: &str = "Compte rendu de l'assemblée : le four à pain est réparé.";

fn wiki_url(url: &str, action: &str) -> String {
    format!("{url}/wiki/doku.php?id={WIKI_PAGE}{action}")
}

/// A DokuWiki page written in the browser.
fn wiki_edit(alice: &Browser, url: &str) {
    alice.goto(&wiki_url(url, "&do=edit"));
    let text = alice.find("textarea#wiki__text");
    text.fill(&format!("====== Assemblée ======\n\n{WIKI_TEXT}\n"));
    if let Some(s) = alice.find_all("input#edit__summary").first() {
        s.fill("compte rendu");
    }
    alice.screenshot("wiki-edit");
    alice.find("#edbtn__save").click();
    alice.wait_until("the saved page, shown", Duration::from_secs(60), || {
        let v = alice.exec(
            "const p = document.querySelector('div.page'); \
             return !document.getElementById('wiki__text') && p ? p.innerText : '';",
            vec![],
        );
        v.as_str()?.contains(WIKI_TEXT).then_some(())
    });
    alice.screenshot("wiki-saved");
}

/// The page, read by another phone after the box was booted again.
fn wiki_read(bob: &Browser, url: &str) {
    bob.goto(&wiki_url(url, ""));
    let page = bob.text("div.page");
    assert!(page.contains(WIKI_TEXT), "after a reboot:\n{page}");
    assert!(page.contains("Assemblée"), "{page}");
    bob.screenshot("wiki-after-reboot");
}

/// What one vote of the burst came to.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    /// 303: the box said the vote is recorded.
    Acknowledged,
    /// Another status: refused (rate limit...), so not promised.
    Refused(u16),
    /// No answer: the connection broke (the power cut).
    NoAnswer,
}

/// One vote as a new device over plain HTTP: the poll page (device cookie,
/// csrf token), then the vote named `name`.
fn http_vote(port: u16, poll: &str, name: &str, choice: usize) -> Outcome {
    let t = Duration::from_secs(30);
    let Ok(page) = http::request(port, "GET", &format!("/agora/p/{poll}"), &[], b"", t) else {
        return Outcome::NoAnswer;
    };
    if page.status != 200 {
        return Outcome::Refused(page.status);
    }
    let cookies: Vec<String> = page
        .headers_named("set-cookie")
        .filter_map(|c| c.split(';').next().map(str::to_owned))
        .collect();
    let html = page.text();
    let csrf = http::csrf_token(&html)
        .unwrap_or_else(|| panic!("no csrf field on the poll page:\n{}", tail(&html, 30)));
    let body = http::form(&[
        ("csrf", &csrf),
        ("name", name),
        ("choice", &choice.to_string()),
    ]);
    let cookie = cookies.join("; ");
    match http::request(
        port,
        "POST",
        &format!("/agora/p/{poll}/vote"),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &cookie),
        ],
        body.as_bytes(),
        t,
    ) {
        Ok(r) if r.status == 303 => Outcome::Acknowledged,
        Ok(r) => Outcome::Refused(r.status),
        Err(_) => Outcome::NoAnswer,
    }
}

/// PIDs of the QEMU processes booting `img`.
fn qemu_pids(img: &Path) -> Vec<i32> {
    let needle = img.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.starts_with("qemu-system") && cmdline.contains(&needle) {
            pids.push(pid);
        }
    }
    pids
}

const BURST: usize = 200;
/// QEMU is killed once this many votes of the burst were acknowledged:
/// agora takes 40 writes at once from one address (then one a second),
/// and all of the burst comes from QEMU's NAT address, so the cut falls
/// while acknowledged writes are still flowing.
const KILL_AFTER: usize = 30;
/// Votes sent at once during the burst.
const LANES: usize = 4;

/// A burst of [`BURST`] votes on `poll` from new devices, [`LANES`] at a
/// time; QEMU killed (SIGKILL) once `kill_after` were acknowledged. Each
/// vote's outcome, by its name `burst-N`.
fn burst_and_power_cut(
    b: &RunningBox,
    img: &Path,
    poll: &str,
    kill_after: usize,
) -> Vec<(String, Outcome)> {
    let port = b.port;
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(AtomicUsize::new(0));
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let lanes: Vec<_> = (0..LANES)
        .map(|_| {
            let (next, acked, outcomes, stop) =
                (next.clone(), acked.clone(), outcomes.clone(), stop.clone());
            let poll = poll.to_owned();
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= BURST || stop.load(Ordering::SeqCst) {
                    return;
                }
                let name = format!("burst-{i}");
                let o = http_vote(port, &poll, &name, i % 3);
                if o == Outcome::Acknowledged {
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                outcomes.lock().unwrap().push((name, o));
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    while acked.load(Ordering::SeqCst) < kill_after && next.load(Ordering::SeqCst) < BURST {
        assert!(
            Instant::now() < deadline,
            "{} of {kill_after} votes acknowledged after 300 s: {:?}",
            acked.load(Ordering::SeqCst),
            tail(&format!("{:?}", outcomes.lock().unwrap()), 5)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pids = qemu_pids(img);
    assert_eq!(
        pids.len(),
        1,
        "one QEMU booting {}: {pids:?}",
        img.display()
    );
    run({
        let mut c = Command::new("kill");
        c.args(["-KILL", &pids[0].to_string()]);
        c
    });
    stop.store(true, Ordering::SeqCst);
    let cut_at = next.load(Ordering::SeqCst);
    println!(
        "power cut: QEMU {} killed with {} votes acknowledged, {cut_at} started",
        pids[0],
        acked.load(Ordering::SeqCst)
    );
    // The lanes' connections break; what was not answered is not promised.
    for l in lanes {
        l.join().unwrap();
    }
    assert!(
        cut_at < BURST,
        "the burst was over before the power cut: make BURST bigger"
    );
    let v = outcomes.lock().unwrap().clone();
    v
}

/// agora's database files (agora.db and its WAL, if any) as the box will
/// find them at its next boot: the root filesystem extracted from the
/// image, its journal replayed (as the kernel does at mount), the files
/// dumped with debugfs into `dir`.
fn database_after_cut(img: &Path, dir: &Path) -> PathBuf {
    let (start, _) = common::partition_extent(&common::manifest(img), "root");
    let root = work().join("after-cut.root.ext4");
    let _tidy = common::Tidy::new(&root);
    let len = std::fs::metadata(img).unwrap().len();
    run({
        let mut c = Command::new("dd");
        c.arg(format!("if={}", img.display()))
            .arg(format!("of={}", root.display()))
            .args(["bs=1M", "conv=sparse", "status=none"])
            .arg(format!("skip={}", start / 1048576))
            .arg(format!("count={}", (len - start) / 1048576));
        c
    });
    // -p: replay the journal and fix only what is safe; exit 0 or 1.
    let st = Command::new("e2fsck")
        .arg("-fp")
        .arg(&root)
        .status()
        .unwrap();
    assert!(
        st.code().is_some_and(|c| c <= 1),
        "e2fsck of the root filesystem after the power cut: {st}"
    );
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    // StateDirectory= with DynamicUser=: the real directory is under private/.
    let src = "/var/lib/private/agora";
    for f in ["agora.db", "agora.db-wal"] {
        let out = Command::new("debugfs")
            .args(["-R", &format!("dump {src}/{f} {}", dir.join(f).display())])
            .arg(&root)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "debugfs dump {f}: {}",
            common::stderr(&out)
        );
    }
    let db = dir.join("agora.db");
    assert!(
        std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0) > 0,
        "no {src}/agora.db in the image after the power cut"
    );
    // An absent WAL dumps as an empty file: harmless for SQLite.
    db
}

/// `PRAGMA integrity_check` of a SQLite file (Python's sqlite3 module:
/// python3 is in `make deps`), which replays its WAL first.
fn integrity_check(db: &Path) -> String {
    let o = run({
        let mut c = Command::new("python3");
        c.args([
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
             print(c.execute('PRAGMA integrity_check').fetchone()[0])",
        ])
        .arg(db);
        c
    });
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// Run one scenario that the others do not depend on; if it fails, its
/// failure (already printed, page saved) is kept in `failed` for the end of
/// the test and the others go on. Whether it passed.
fn scenario(name: &str, failed: &mut Vec<String>, f: impl FnOnce()) -> bool {
    let started = Instant::now();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(()) => {
            println!("{name}: ok in {} s", started.elapsed().as_secs());
            true
        }
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let first = msg.lines().next().unwrap_or("").to_owned();
            println!("{name}: FAILED: {first}");
            failed.push(format!("{name}: {first}"));
            false
        }
    }
}

/// The whole participation story on one image: first boot (portal, polls,
/// date poll, live board, chat, wiki edit), a clean stop and a second boot
/// (the wiki page and the votes still there), a power cut in a burst of
/// votes, a third boot (database intact, every acknowledged vote there).
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn participation_in_chromium_on_a_512_mb_box() {
    let started = Instant::now();
    let built = image();
    println!("image built after {} s", started.elapsed().as_secs());
    let img = copy_image(&built, "participation");
    let _tidy = common::Tidy::new(&img);

    // First boot.
    let b = boot(&img, "first");
    let url = site();
    let alice = phone("alice", &b);
    let bob = phone("bob", &b);
    let mut failed = Vec::new();
    portal(&alice, &url);
    // The wiki first: `stop` below is QEMU stopped, not a shutdown, and
    // DokuWiki does not sync a saved page; the ext4 journal commits every
    // 5 s, so the page is on disk once the other scenarios have run (at
    // least WIKI_SETTLE after the save, waited for if need be).
    let wiki = scenario("wiki edit", &mut failed, || wiki_edit(&alice, &url));
    let saved = Instant::now();
    let poll = single_poll(&alice, &bob, &url, &b);
    scenario("date poll", &mut failed, || {
        date_poll(&alice, &bob, &url, &b)
    });
    scenario("board", &mut failed, || board(&alice, &bob, &url));
    scenario("chat", &mut failed, || chat(&alice, &bob, &url));
    scenario("chat with an account", &mut failed, || {
        chat_account(&alice, &bob, &url)
    });
    drop((alice, bob));
    std::thread::sleep(WIKI_SETTLE.saturating_sub(saved.elapsed()));
    b.stop();
    println!("first boot done after {} s", started.elapsed().as_secs());

    // Second boot: what was written is there; then the power cut.
    let b = boot(&img, "second");
    let url = site();
    let carol = phone("carol", &b);
    if wiki {
        scenario("wiki after a reboot", &mut failed, || {
            wiki_read(&carol, &url)
        });
    }
    carol.goto(&format!("{url}/agora/p/{poll}"));
    let results = carol.text("#results");
    assert!(results.contains("Pizza au feu de bois"), "{results}");
    carol.scroll_to("#results");
    carol.screenshot("poll-after-reboot");
    drop(carol);
    let outcomes = burst_and_power_cut(&b, &img, &poll, KILL_AFTER);
    let serial = b.stop();
    let acknowledged: Vec<&str> = outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Acknowledged)
        .map(|(n, _)| n.as_str())
        .collect();
    let refused = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Refused(_)))
        .count();
    println!(
        "burst: {} acknowledged, {refused} refused, {} unanswered (cut)",
        acknowledged.len(),
        outcomes.len() - acknowledged.len() - refused
    );
    assert!(
        acknowledged.len() >= KILL_AFTER,
        "too few votes acknowledged before the cut: {outcomes:?}\nserial:\n{}",
        tail(&serial, 30)
    );

    // On disk, as the next boot finds it.
    let db = database_after_cut(&img, &work().join("after-cut"));
    assert_eq!(integrity_check(&db), "ok", "{}", db.display());

    // Third boot: every acknowledged vote is in the poll's export.
    let stick = admin::make_stick(&work());
    let b = boot_with(&img, "after-cut", &["--usb", &stick.to_string_lossy()]);
    let export = get_json(&b, &format!("/agora/p/{poll}/export.json"));
    let names = ballot_names(&export);
    let missing: Vec<&&str> = acknowledged
        .iter()
        .filter(|n| !names.iter().any(|m| m == **n))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged votes lost in the power cut: {missing:?}",
        missing.len()
    );
    assert!(names.iter().any(|n| n == "Alice") && names.iter().any(|n| n == "Bob"));
    let dave = phone("dave", &b);
    dave.goto(&format!("{}/agora/p/{poll}", site()));
    dave.scroll_to("#results");
    dave.screenshot("poll-after-power-cut");
    drop(dave);

    // The admin console, on the same boot; it ends with a safe shutdown.
    let eve = phone("eve", &b);
    let password = admin::password_from_card(&img);
    let logged_in = scenario("admin login", &mut failed, || {
        admin::login(&eve, &site(), &password)
    });
    if logged_in {
        let url = site();
        scenario("admin status", &mut failed, || admin::status(&eve, &url));
        scenario("admin Wi-Fi change", &mut failed, || {
            admin::wifi_change(&eve, &url)
        });
        let mut since = None;
        scenario("admin Wi-Fi change not confirmed", &mut failed, || {
            since = Some(admin::unconfirmed_change(&eve, &url))
        });
        scenario("admin clock", &mut failed, || admin::clock(&eve, &url));
        let retitled = scenario("admin portal texts", &mut failed, || {
            admin::portal_texts(&eve, &url)
        });
        scenario("admin diagnostics", &mut failed, || {
            admin::diagnostics(&b, &eve, &url)
        });
        scenario("admin poster", &mut failed, || admin::poster(&eve, &url));
        if let Some(since) = since {
            scenario("admin rollback", &mut failed, || {
                admin::rollback_check(&eve, &url, since)
            });
            if retitled {
                scenario(
                    "admin portal texts kept after the rollback",
                    &mut failed,
                    || admin::portal_texts_kept(&eve, &url),
                );
            }
        }
        let changed = scenario("admin password change", &mut failed, || {
            admin::password_change(&eve, &url, &password);
        });
        scenario("admin USB import", &mut failed, || {
            admin::usb_import(&b, &eve, &url)
        });
        if changed {
            scenario("admin backup and restore", &mut failed, || {
                admin::backup_restore(&b, &eve, &url, &poll, &artifacts())
            });
        }
        scenario("admin power off", &mut failed, || {
            admin::power_off(b, &eve, &url)
        });
    } else {
        b.stop();
    }
    drop(eve);
    println!(
        "participation: all done after {} s",
        started.elapsed().as_secs()
    );
    assert!(
        failed.is_empty(),
        "scenarios that failed (messages above):\n{}",
        failed.join("\n")
    );
}
