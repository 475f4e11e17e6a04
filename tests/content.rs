//! Content packs end to end, with real parts: curl against a local HTTP
//! server (made here: it serves byte ranges and can cut a transfer
//! half-way), a real ZIM file written with the `libzim` Python package
//! (tests/install-deps.sh installs it), mmdebstrap's tree of the default
//! spec's layers (the one tests/image.rs bootstraps), QEMU (TCG).
//!
//! - Bad packs are refused before any work, each problem with file:line.
//! - `clic content fetch`: a download cut half-way resumes with a Range
//!   request; an item whose bytes differ from its pin is refused, nothing
//!   of it is kept, and an offline build listing it stops before any work,
//!   naming it and its size.
//! - The default spec's layers plus the sample pack and a generated pack
//!   of ~300 MB (random bytes and the ZIM) build offline from the warm
//!   cache; a cache entry whose bytes were changed is refused by the build
//!   and never reaches an image; the image has a data partition for the
//!   large pack; booted, every item's link on the library pages answers
//!   200 with bytes of the pinned sha256, the html bundle is served as a
//!   site, kiwix serves an article of the ZIM, and the search finds items.
//!
//! The last two need root and minutes: `#[ignore]`d for a plain `cargo
//! test`, run by `make test`. Work files are in
//! target/tmp/clic-content-tests/.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{repo, run, sha256_hex, tail, RunningBox};

fn work(name: &str) -> PathBuf {
    common::fresh_dir(&format!("clic-content-tests/{name}"))
}

/// `clic` with `cache` as its content cache.
fn clic(cache: &Path) -> Command {
    let mut c = common::clic();
    c.env("CLIC_CONTENT_CACHE", cache);
    c
}

/// `clic build --offline --out OUT SPEC`, `cache` the content cache.
fn build_offline(cache: &Path, out: &Path, spec: &Path) -> Command {
    let mut c = clic(cache);
    c.args(["build", "--offline", "--out"]).arg(out).arg(spec);
    c
}

/// `n` pseudo-random bytes (xorshift: fast, and no two items alike).
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2).wrapping_add(1);
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

/// What the test server saw: (path, Range header).
type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A small HTTP/1.0 file server on 127.0.0.1: GET with `Range: bytes=N-`
/// (206), and for paths in `cut`, the first response stops half-way.
/// Stopped when dropped.
struct Server {
    port: u16,
    log: Log,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl Server {
    fn start(dir: PathBuf, cut: Vec<String>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log: Log = Arc::default();
        let seen = log.clone();
        let cut = Arc::new(Mutex::new(cut));
        let stop: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (dir, seen, cut) = (dir.clone(), seen.clone(), cut.clone());
                std::thread::spawn(move || serve(conn, &dir, &seen, &cut));
            }
        });
        Server { port, log, stop }
    }

    fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    fn requests(&self, name: &str) -> Vec<Option<String>> {
        let want = format!("/{name}");
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| *p == want)
            .map(|(_, r)| r.clone())
            .collect()
    }
}

fn serve(mut conn: TcpStream, dir: &Path, seen: &Log, cut: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_owned());
            }
        }
    }
    seen.lock().unwrap().push((path.clone(), range.clone()));
    let Ok(body) = std::fs::read(dir.join(path.trim_start_matches('/'))) else {
        let _ = conn.write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let start: usize = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse().ok())
        .unwrap_or(0)
        .min(body.len());
    let head = if range.is_some() {
        format!(
            "HTTP/1.0 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{}\r\n\r\n",
            body.len() - start,
            body.len().saturating_sub(1),
            body.len()
        )
    } else {
        format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
    };
    let _ = conn.write_all(head.as_bytes());
    let first_cut = {
        let mut c = cut.lock().unwrap();
        let hit = c.iter().position(|p| *p == path);
        hit.map(|i| c.remove(i)).is_some()
    };
    let end = if first_cut {
        start + (body.len() - start) / 2
    } else {
        body.len()
    };
    let _ = conn.write_all(&body[start..end]);
}

/// One `[[items]]` table.
fn item_toml(id: &str, kind: &str, source: &str, bytes: &[u8]) -> String {
    format!(
        "\n[[items]]\nid = \"{id}\"\ntitle = \"Test {id}\"\nlanguage = \"fr\"\nkind = \"{kind}\"\n\
         licence = \"CC0-1.0\"\nattribution = \"clic tests\"\nsource = \"{source}\"\n\
         sha256 = \"{}\"\nsize = {}\ntags = [\"essai\"]\n",
        sha256_hex(bytes),
        bytes.len()
    )
}

fn pack_toml(id: &str, items: &str) -> String {
    format!(
        "id = \"{id}\"\ntitle = \"Pack {id}\"\ndescription = \"made by tests/content.rs\"\nlanguages = [\"fr\"]\n{items}"
    )
}

/// The default spec's layers (so its Debian tree is the one the other
/// tests bootstrap) with these packs.
fn spec_with(dir: &Path, packs: &[&str]) -> PathBuf {
    let default = std::fs::read_to_string(repo().join("specs/clic-ordinosaure.toml")).unwrap();
    let list: Vec<String> = packs.iter().map(|p| format!("\"{p}\"")).collect();
    let spec = default
        .lines()
        .filter(|l| !l.starts_with("content ="))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(
            "overlays = []",
            &format!("overlays = []\ncontent = [{}]", list.join(", ")),
        );
    assert!(
        spec.contains("content = ["),
        "the default spec changed shape"
    );
    let path = dir.join("spec.toml");
    std::fs::write(&path, spec).unwrap();
    path
}

#[test]
fn bad_packs_are_refused_with_file_and_line() {
    let dir = work("bad");
    let _tidy = common::Tidy::new(&dir);
    let sha = "ab".repeat(32);
    let good = |id: &str| {
        format!(
            "\n[[items]]\nid = \"{id}\"\ntitle = \"T\"\nlanguage = \"fr\"\nkind = \"pdf\"\nlicence = \"CC-BY-4.0\"\nattribution = \"a\"\nsource = \"https://example.org/{id}.pdf\"\nsha256 = \"{sha}\"\nsize = 3\n"
        )
    };
    let items = [
        good("ok"),
        good("nolicence").replace("licence = \"CC-BY-4.0\"\n", ""),
        good("badspdx").replace("CC-BY-4.0", "CC-BY-4.0 OR Beerware-9"),
        good("shortsha").replace(&sha, &sha[..63]),
        good("ok"),
        good("kind").replace("\"pdf\"", "\"cassette\""),
    ]
    .concat();
    let text = pack_toml("bad", &items);
    std::fs::write(dir.join("bad.toml"), &text).unwrap();
    let spec = spec_with(&dir, &["bad.toml", "no-such-pack"]);
    let err = common::refused(clic(&dir.join("cache")).arg("check").arg(&spec));
    // Line (1-based) of the `nth` line holding `needle`.
    let line = |text: &str, needle: &str, nth: usize| {
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.contains(needle))
            .nth(nth)
            .map(|(i, _)| i + 1)
            .unwrap()
    };
    let pack = dir.join("bad.toml").display().to_string();
    let spec_text = std::fs::read_to_string(&spec).unwrap();
    // `PACK:LINE:REST`, LINE that of the `nth` line of the pack holding `needle`.
    let at = |needle: &str, nth: usize, rest: &str| {
        format!("{pack}:{}:{rest}", line(&text, needle, nth))
    };
    let short = &sha[..63];
    for expect in [
        at(
            "id = \"nolicence\"",
            0,
            "6: `items[1].licence`: item `nolicence` has no licence",
        ),
        at(
            "Beerware-9",
            0,
            "11: `items[2].licence`: `CC-BY-4.0 OR Beerware-9` is not an SPDX licence expression",
        ),
        at(
            &format!("\"{short}\""),
            0,
            &format!("10: `items[3].sha256`: `{short}` is not a sha256: it has 63 characters"),
        ),
        at("id = \"ok\"", 1, "6: `items[4].id`: duplicate item id `ok`"),
        at("cassette", 0, "8: `items[5].kind`: unknown kind `cassette`"),
        format!("spec.toml:{}:", line(&spec_text, "no-such-pack", 0)),
        "`content[1]`: content pack `no-such-pack` not found".to_owned(),
    ] {
        assert!(err.contains(&expect), "missing `{expect}` in:\n{err}");
    }
    assert!(err.contains("6 problems found"), "{err}");
    // `clic content fetch` on the pack itself: the same, and no download.
    common::refused(
        clic(&dir.join("cache"))
            .args(["content", "fetch"])
            .arg(dir.join("bad.toml")),
    );
    assert!(
        !dir.join("cache").exists(),
        "nothing fetched for a bad pack"
    );
}

#[test]
fn fetch_resumes_a_cut_download_and_refuses_wrong_bytes() {
    let dir = work("fetch");
    let _tidy = common::Tidy::new(&dir);
    let served = dir.join("served");
    std::fs::create_dir_all(&served).unwrap();
    let big = noise(6 << 20, 7);
    std::fs::write(served.join("big.bin"), &big).unwrap();
    let pinned = noise(4096, 20);
    // The server has other bytes than the pack pins.
    std::fs::write(served.join("tampered.pdf"), noise(4096, 22)).unwrap();
    let server = Server::start(served, vec!["/big.bin".into()]);
    let items = item_toml("big", "video", &server.url("big.bin"), &big)
        + &item_toml("tampered", "pdf", &server.url("tampered.pdf"), &pinned);
    std::fs::write(dir.join("p.toml"), pack_toml("essai", &items)).unwrap();
    let cache = dir.join("cache");

    let o = clic(&cache)
        .args(["content", "fetch"])
        .arg(dir.join("p.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    // The cut transfer was resumed where it stopped, with a Range request.
    let reqs = server.requests("big.bin");
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0], None);
    assert_eq!(
        reqs[1].as_deref(),
        Some(&*format!("bytes={}-", big.len() / 2))
    );
    let kept = std::fs::read(cache.join("sha256").join(sha256_hex(&big))).unwrap();
    assert!(kept == big, "the resumed file is not the original");
    // The item with other bytes is refused, named, and nothing of it kept.
    assert!(err.contains("essai/tampered"), "{err}");
    assert!(err.contains("refused and deleted"), "{err}");
    let left: Vec<String> = std::fs::read_dir(cache.join("sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        left,
        [sha256_hex(&big)],
        "only the verified file is in the cache"
    );

    // An offline build with that pack stops before any work, naming what
    // is missing and how big.
    let spec = spec_with(&dir, &["p.toml"]);
    let out = dir.join("out");
    let t = Instant::now();
    let o = build_offline(&cache, &out, &spec).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("1 content item is not in the cache")
            && err.contains("essai/tampered: 4 KiB (4096 bytes) from http://127.0.0.1:")
            && err.contains("total: 1 item, 4 KiB (4096 bytes)"),
        "{err}"
    );
    assert!(!err.contains("==> [1/6]"), "work started:\n{err}");
    assert!(t.elapsed() < Duration::from_secs(20));
    let outputs: Vec<_> = std::fs::read_dir(&out)
        .map(|d| d.filter_map(Result::ok).collect())
        .unwrap_or_default();
    assert!(outputs.is_empty(), "{outputs:?}");
}

/// A ZIM file with one French article, written by libzim (PyPI).
fn make_zim(path: &Path) {
    let script = r#"
import sys
from libzim.writer import Creator, Item, StringProvider, Hint
class Page(Item):
    def get_path(self): return "four-solaire.html"
    def get_title(self): return "Four solaire"
    def get_mimetype(self): return "text/html"
    def get_contentprovider(self):
        return StringProvider("<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><title>Four solaire</title></head><body><h1>Four solaire</h1><p>CLIC-LIBZIM-ARTICLE</p></body></html>")
    def get_hints(self): return {Hint.FRONT_ARTICLE: True}
with Creator(sys.argv[1]).config_indexing(False, "fra") as c:
    c.set_mainpath("four-solaire.html")
    for k, v in {"Name": "clic_test_four", "Title": "Four solaire", "Language": "fra",
                 "Creator": "clic tests", "Publisher": "clic tests", "Date": "2025-01-01",
                 "Description": "test"}.items():
        c.add_metadata(k, v)
    c.add_item(Page())
"#;
    let o = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "libzim (make deps installs it): {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn a_large_library_builds_offline_from_the_cache_and_every_item_is_served() {
    let dir = work("library");
    let _tidy = common::Tidy::new(&dir);
    let served = dir.join("served");
    std::fs::create_dir_all(&served).unwrap();
    // ~300 MB of generated works and a real ZIM: a pack for the data
    // partition (the board puts packs of 64 MiB or more there).
    let big: Vec<(String, Vec<u8>)> = vec![
        ("cours-a.bin".into(), noise(200 << 20, 11)),
        ("cours-b.bin".into(), noise(100 << 20, 12)),
    ];
    let zim = served.join("four.zim");
    make_zim(&zim);
    let zim_bytes = std::fs::read(&zim).unwrap();
    let server = Server::start(served.clone(), vec![]);
    let mut items = String::new();
    for (i, (name, bytes)) in big.iter().enumerate() {
        std::fs::write(served.join(name), bytes).unwrap();
        items += &item_toml(&format!("cours-{i}"), "epub", &server.url(name), bytes);
    }
    items += &item_toml("four", "zim", &server.url("four.zim"), &zim_bytes);
    std::fs::write(dir.join("grand.toml"), pack_toml("grand", &items)).unwrap();
    let spec = spec_with(&dir, &["clic-exemples", "grand.toml"]);
    let cache = dir.join("cache");
    run({
        let mut c = clic(&cache);
        c.args(["content", "fetch"]).arg(&spec);
        c
    });
    drop(server); // from here on, nothing to download from

    // A cache entry whose bytes were changed is refused by the build (and
    // removed), never copied into an image.
    let pins = pins(&spec);
    let (victim, _) = pins
        .iter()
        .find(|(l, _)| l.ends_with("/mire.webm"))
        .unwrap();
    let victim_sha = &pins[victim];
    let entry = cache.join("sha256").join(victim_sha);
    let mut bytes = std::fs::read(&entry).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&entry, &bytes).unwrap();
    let out = dir.join("out");
    let o = build_offline(&cache, &out, &spec).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{}", tail(&err, 20));
    assert!(
        err.contains("item `mire`") && err.contains("not its pin"),
        "{}",
        tail(&err, 20)
    );
    assert!(!entry.exists(), "the bad entry is removed from the cache");
    assert!(!out.join("clic-ordinosaure.img").exists());
    // A fetch puts it back (the sample pack's files are next to it).
    run({
        let mut c = clic(&cache);
        c.args(["content", "fetch"]).arg(&spec);
        c
    });

    let t = Instant::now();
    let o = run(build_offline(&cache, &out, &spec));
    let log = String::from_utf8_lossy(&o.stderr);
    println!(
        "offline build with ~300 MB of content: {:.0} s",
        t.elapsed().as_secs_f64()
    );
    for l in log
        .lines()
        .filter(|l| l.starts_with("clic: content") || l.starts_with("clic: data"))
    {
        println!("{l}");
    }
    let img = out.join("clic-ordinosaure.img");
    let manifest = common::manifest(&img);
    let (_, data_size) = common::partition_extent(&manifest, "data");
    assert!(data_size > 300 << 20);
    let root = common::partition(&manifest, "root");
    assert!(
        root["size"].as_u64().unwrap() < 1536 << 20,
        "the large pack is not on the root: {root}"
    );
    let content = manifest["content"].as_array().unwrap();
    assert_eq!(content.len(), 8);
    for c in content {
        let expect = if c["pack"] == "grand" { "data" } else { "root" };
        assert_eq!(c["partition"], expect, "{c}");
    }

    let b = RunningBox::start(
        clic(&dir),
        &img,
        &dir,
        "library",
        &[],
        &["--timeout", "600"],
    );
    let mut checked = 0;
    let links = regex::Regex::new(r##"href="(/content/[^"#]+)" download"##).unwrap();
    let mut want: Vec<String> = pins.keys().cloned().collect();
    want.sort();
    for (lib, other) in [
        ("/bibliotheque/", "/en/library/"),
        ("/en/library/", "/bibliotheque/"),
    ] {
        let page = b.page(lib);
        assert!(page.contains(&format!("href=\"{other}\"")), "{lib}");
        assert!(!page.to_lowercase().contains("<script"), "{lib}");
        assert!(page.contains("<video controls") && page.contains("<audio controls"));
        let mut seen: Vec<String> = links
            .captures_iter(&page)
            .map(|c| c[1].to_owned())
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, want, "{lib}: one download link per item");
    }
    // Every item's file link answers 200 with its pinned bytes.
    for link in &want {
        let (status, body) = b.get(link);
        assert_eq!(status, 200, "{link}");
        assert_eq!(sha256_hex(&body), pins[link], "{link}: wrong bytes");
        checked += 1;
    }
    println!("{checked} item links answered 200 with their pinned sha256");
    // The html bundle is a site; the ZIMs are kiwix books (one article of
    // the libzim one, on the data partition).
    assert!(b
        .page("/content/clic-exemples/poele-fusee/")
        .contains("Le poêle à bois économe"));
    assert!(b
        .page("/content/clic-exemples/poele-fusee/style.css")
        .contains("max-width"));
    // Bundle HTML runs sandboxed in an origin of its own; files are not.
    let csp = "content-security-policy: sandbox allow-scripts";
    let h = b
        .headers("/content/clic-exemples/poele-fusee/")
        .to_lowercase();
    assert!(h.contains(csp), "{h}");
    let not_html: Vec<&String> = want.iter().filter(|l| !l.ends_with(".html")).collect();
    assert!(!not_html.is_empty());
    for link in not_html {
        let h = b.headers(link).to_lowercase();
        assert!(
            h.starts_with("http/1.1 200") && !h.contains("content-security-policy"),
            "{link}: {h}"
        );
    }
    let article = b.page("/kiwix/grand_four/four-solaire.html");
    assert!(article.contains("CLIC-LIBZIM-ARTICLE"), "{article}");
    assert!(b
        .page("/kiwix/clic-exemples_poele-fusee-zim/index.html")
        .contains("poêle"));
    // The search, as a browser sends it, and the licences page.
    let hits = b.page("/bibliotheque/search?q=Po%C3%AAles+%C3%A0+bois");
    assert!(
        hits.contains("(PDF à imprimer)") && !hits.contains("Test cours-0"),
        "{hits}"
    );
    assert!(b
        .page("/en/library/search?q=ESSAI")
        .contains("Test cours-1"));
    assert!(b
        .page("/bibliotheque/search?q=xylophone")
        .contains("Aucun résultat"));
    let licences = b.page("/bibliotheque/licences.html");
    assert!(licences.contains("CC-BY-SA-4.0") && licences.contains("clic tests"));
    // Nothing but GET on the library's files.
    let answer = b.put("/content/grand/x");
    assert!(
        answer.starts_with("HTTP/1.1 403") || answer.starts_with("HTTP/1.1 405"),
        "{answer}"
    );
}

/// Download link -> pinned sha256 of every item of the spec's packs.
fn pins(spec: &Path) -> std::collections::BTreeMap<String, String> {
    let r = common::resolve(&repo(), spec).unwrap();
    let cat = clic::content::catalogue::catalogue(&r.content, &vec![false; r.content.len()]);
    cat.packs
        .iter()
        .flat_map(|p| p.items.iter().map(|i| (i.link.clone(), i.sha256.clone())))
        .collect()
}
