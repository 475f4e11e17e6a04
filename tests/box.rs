//! The CLIC! box itself: the portal, first boot and the footprint.
//!
//! A fast test renders the default spec's layers the way `clic build` does
//! and checks the portal pages. The others build the default image and boot
//! copies of it under QEMU (TCG) with real parts only:
//! - the portal in a real browser: headless Chromium renders the home page
//!   at 360 px and 1280 px wide (screenshots kept as test artifacts) on a box
//!   given 256 MB of RAM, and every tile's link answers 200 inside it;
//! - first boot: two copies boot to different machine-ids and SSH host key
//!   (one, ed25519),
//!   the enlarged copy's root grows, the admin password is random, on the
//!   console and on the boot partition, no account has an empty or
//!   well-known password, SSH refuses passwords, and a `clic.txt` dropped on
//!   the boot partition is applied.
//!
//! They need root, the Debian mirror and minutes, so they are `#[ignore]`d
//! for a plain `cargo test`; `make test` runs them. Serial logs and
//! screenshots are kept in target/tmp/clic-image-tests/box/.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use regex::Regex;

use common::{clic, repo, run, tail, RunningBox};

fn work() -> PathBuf {
    common::work_dir("clic-image-tests/box")
}

const SPEC: &str = "specs/clic-ordinosaure.toml";
const NAME: &str = "clic-ordinosaure";

fn sh(program: &str, args: &[&str]) -> String {
    let mut c = Command::new(program);
    c.args(args);
    String::from_utf8_lossy(&run(c).stdout).into_owned()
}

/// The default image, built once for this test binary.
fn image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| common::default_image(&work().join("image")))
}

/// (start, size) in bytes of the image's partition with this role.
fn partition(role: &str) -> (u64, u64) {
    common::partition_extent(&common::manifest(image()), role)
}

/// A sparse copy of the image (with its manifest, which names the board).
fn copy_image(name: &str) -> PathBuf {
    let img = work().join(format!("{name}.img"));
    run({
        let mut c = Command::new("cp");
        c.arg("--sparse=always").arg(image()).arg(&img);
        c
    });
    std::fs::copy(
        image().with_file_name(format!("{NAME}.manifest.json")),
        work().join(format!("{name}.manifest.json")),
    )
    .unwrap();
    img
}

/// The box booted in the background with `memory` of RAM, until it is
/// ready; the guest's SSH port (22) and `extra` ports forwarded besides
/// its port 80.
fn start_box(img: &Path, tag: &str, memory: &str, extra: &[u16]) -> RunningBox {
    let ports: Vec<u16> = [22].iter().chain(extra).copied().collect();
    RunningBox::start(
        clic(),
        img,
        &work(),
        tag,
        &ports,
        &["--memory", memory, "--timeout", "900"],
    )
}

/// Boot an image (writes kept) until the box says it is ready; the serial log.
fn boot_persist(img: &Path, tag: &str, until: &str) -> String {
    let log = work().join(format!("serial-{tag}.log"));
    let mut c = clic();
    c.arg("boot")
        .arg(img)
        .args(["--persist", "--until", until, "--timeout", "900", "--quiet"])
        .arg("--log")
        .arg(&log);
    run(c);
    String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned()
}

/// What the firstboot unit printed on the console.
struct FirstBoot {
    machine_id: String,
    host_keys: Vec<String>,
    password: String,
}

fn first_boot_lines(serial: &str) -> FirstBoot {
    let one = |re: &str| {
        Regex::new(re)
            .unwrap()
            .captures(serial)
            .map(|c| c[1].to_owned())
            .unwrap_or_else(|| panic!("`{re}` not on the console:\n{}", tail(serial, 60)))
    };
    let mut host_keys: Vec<String> = Regex::new(r"ssh host key \((\w+)\) (SHA256:\S+)")
        .unwrap()
        .captures_iter(serial)
        .map(|c| format!("{} {}", &c[1], &c[2]))
        .collect();
    host_keys.sort();
    host_keys.dedup();
    FirstBoot {
        machine_id: one(r"clic-firstboot: machine-id ([0-9a-f]{32})"),
        host_keys,
        password: one(r"password / mot de passe: (\S+)"),
    }
}

/// The root filesystem of an image, extracted to a file with its journal
/// replayed (the guest was stopped, not shut down), read with debugfs.
struct RootFs(PathBuf);

impl RootFs {
    fn extract(img: &Path, start: u64) -> RootFs {
        let out = img.with_extension("root.ext4");
        let len = std::fs::metadata(img).unwrap().len();
        run({
            let mut c = Command::new("dd");
            c.arg(format!("if={}", img.display()))
                .arg(format!("of={}", out.display()))
                .args(["bs=1M", "conv=sparse", "status=none"])
                .arg(format!("skip={}", start / 1048576))
                .arg(format!("count={}", (len - start) / 1048576));
            c
        });
        // -p: replay the journal and fix only what is safe; exit 0 or 1.
        let st = Command::new("e2fsck")
            .args(["-fp"])
            .arg(&out)
            .status()
            .unwrap();
        assert!(
            st.code().is_some_and(|c| c <= 1),
            "e2fsck on {}: {st}",
            out.display()
        );
        RootFs(out)
    }

    fn cat(&self, path: &str) -> String {
        let o = Command::new("debugfs")
            .args(["-R", &format!("cat {path}")])
            .arg(&self.0)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Names in a directory (empty if there is no such directory).
    fn ls(&self, dir: &str) -> Vec<String> {
        let o = Command::new("debugfs")
            .args(["-R", &format!("ls -p {dir}")])
            .arg(&self.0)
            .output()
            .unwrap();
        // `/inode/mode/uid/gid/name/size/`
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split('/').nth(5).map(str::to_owned))
            .filter(|n| !n.is_empty() && n != "." && n != "..")
            .collect()
    }

    /// Mode (octal, with the file type bits) and uid of `name` in `dir`.
    fn mode(&self, dir: &str, name: &str) -> Option<(String, String)> {
        let o = Command::new("debugfs")
            .args(["-R", &format!("ls -p {dir}")])
            .arg(&self.0)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).lines().find_map(|l| {
            let f: Vec<&str> = l.split('/').collect();
            (f.get(5) == Some(&name)).then(|| (f[2].to_owned(), f[3].to_owned()))
        })
    }

    fn bytes(&self) -> u64 {
        let out = sh("dumpe2fs", &["-h", self.0.to_str().unwrap()]);
        let field = |name: &str| -> u64 {
            out.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("{name} not in dumpe2fs output"))
        };
        field("Block count:") * field("Block size:")
    }
}

impl Drop for RootFs {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `crypt(3)` of `password` with the salt and method of `hash`.
fn crypt(password: &str, hash: &str) -> String {
    let o = Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt, sys; print(crypt.crypt(sys.argv[1], sys.argv[2]) or '')",
            password,
            hash,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

const WELL_KNOWN: &[&str] = &[
    "",
    "admin",
    "clic",
    "password",
    "raspberry",
    "123456",
    "12345678",
    "changeme",
    "debian",
    "root",
    "toor",
    "secret",
    "azerty",
    "motdepasse",
];

/// /etc/shadow: every account locked (`*`, `!`) except the admin, whose
/// hash is of `password` and of no well-known password.
fn check_shadow(shadow: &str, admin_password: &str) {
    let mut usable = Vec::new();
    for line in shadow.lines().filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split(':').collect();
        let (user, hash) = (f[0], f.get(1).copied().unwrap_or(""));
        assert!(!hash.is_empty(), "account {user} has an empty password");
        if hash.starts_with('*') || hash.starts_with('!') {
            continue;
        }
        assert!(
            hash.starts_with('$'),
            "account {user} has an old-style or odd hash"
        );
        for w in WELL_KNOWN {
            assert_ne!(
                crypt(w, hash),
                hash,
                "account {user} has the well-known password `{w}`"
            );
        }
        usable.push(user.to_owned());
        if user == "admin" {
            assert_eq!(
                crypt(admin_password, hash),
                hash,
                "the password shown on the console is not admin's"
            );
        }
    }
    assert_eq!(
        usable,
        ["admin"],
        "accounts one can log in to with a password"
    );
}

/// The portal's pages as the build renders them, without booting: tiles
/// from the layers, both languages, no script, no external resource.
#[test]
fn portal_pages_render_from_the_default_specs_layers() {
    let r = common::resolve(&repo(), &repo().join(SPEC)).unwrap();
    let out = common::render_layers(&r, common::epoch()).unwrap();
    let with_tiles: Vec<&str> = r
        .layers
        .iter()
        .filter_map(|l| l.def.portal.as_ref().map(|p| p.link.get_ref().as_str()))
        .collect();
    assert!(with_tiles.contains(&"/kiwix/"), "{with_tiles:?}");
    let page = |p: &str| std::fs::read_to_string(out.path().join(p)).unwrap();
    let external = Regex::new(r#"(src|href)="(https?:)?//"#).unwrap();
    let imgs = Regex::new(r"<img[^>]*>").unwrap();
    for (path, lang, other) in [
        ("var/www/html/index.html", "fr", "/en/"),
        ("var/www/html/en/index.html", "en", "/index.html"),
        ("var/www/html/about.html", "fr", "/en/about.html"),
        ("var/www/html/en/about.html", "en", "/about.html"),
    ] {
        let html = page(path);
        assert!(html.contains(&format!("<html lang=\"{lang}\">")), "{path}");
        assert!(html.contains(&format!("href=\"{other}\"")), "{path}");
        assert!(!html.to_lowercase().contains("<script"), "{path}");
        assert!(!external.is_match(&html), "{path}");
        for img in imgs.find_iter(&html) {
            assert!(img.as_str().contains("alt="), "{path}: {}", img.as_str());
        }
    }
    let fr = page("var/www/html/index.html");
    let en = page("var/www/html/en/index.html");
    let links = tile_links(&fr);
    let mut sorted = links.clone();
    sorted.sort();
    let mut expected: Vec<String> = with_tiles.iter().map(|l| l.to_string()).collect();
    expected.sort();
    assert_eq!(sorted, expected, "one tile per layer with a [portal] table");
    assert_eq!(tile_links(&en), links);
    assert!(fr.contains("Encyclopédies hors ligne") && en.contains("Offline encyclopedias"));
    // With the captive portal, the click-through link, outside the tiles.
    assert!(
        fr.contains("<a href=\"/clic/continue\">") && en.contains("<a href=\"/clic/continue\">")
    );
    assert!(!links.iter().any(|l| l == "/clic/continue"));
    // The base layer's welcome text stays on the home page: a file the
    // page includes (nginx SSI), so that the box can change it; the
    // portal's title likewise.
    assert!(fr.contains(r#"<p class="lead"><!--# include virtual="/clic/text/welcome.html" -->"#));
    assert_eq!(
        page("var/lib/clic/text/welcome.html"),
        "Cette boîte CLIC! fonctionne."
    );
    assert!(fr
        .contains(r#"<title><!--# include virtual="/clic/text/title.html" --> · accueil</title>"#));
    assert_eq!(page("var/lib/clic/text/title.html"), "CLIC!");
    let about = page("var/www/html/about.html");
    assert!(
        about.contains("2025-01-01"),
        "build date from SOURCE_DATE_EPOCH"
    );
    assert!(about.contains("GPL-3.0-or-later"), "service licences");
    // The base layer's placeholder page is replaced by the portal.
    assert!(!fr.contains("<small>clic "), "{fr}");
}

/// Every service layer with a tile, plus a test-only participation layer
/// (in a data directory next to the repository's): each tile lands in its
/// section in both languages, sorted by `order`, with the layers' pages and
/// licences; a layer with a bad tile fails `clic check` naming its key.
#[test]
fn optional_layers_and_the_participation_corner_render() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path();
    std::os::unix::fs::symlink(repo().join("profiles"), data.join("profiles")).unwrap();
    std::fs::create_dir_all(data.join("overlays/poll")).unwrap();
    for e in std::fs::read_dir(repo().join("overlays")).unwrap() {
        let e = e.unwrap();
        std::os::unix::fs::symlink(e.path(), data.join("overlays").join(e.file_name())).unwrap();
    }
    std::fs::write(
        data.join("overlays/poll/layer.toml"),
        "description = \"test: a poll service\"\nneeds = [\"base\"]\n[portal]\ntitle = { fr = \"Sondages\", en = \"Polls\" }\ndescription = { fr = \"Décider ensemble\" }\nlink = \"/poll/\"\nparticipation = true\n",
    )
    .unwrap();
    let spec = data.join("spec.toml");
    std::fs::write(
        &spec,
        "name = \"t\"\nboard = \"ordinosaure-amd64\"\nsuite = \"bookworm\"\nlayers = [\"base\", \"portal\", \"poll\", \"mumble\", \"files\", \"kiwix\", \"chat\"]\n[settings.portal]\ncontact = \"Ressourcerie <du> coin\"\n",
    )
    .unwrap();
    let out = common::render_spec(data, &spec, 0).unwrap();
    let page = |p: &str| std::fs::read_to_string(out.path().join(p)).unwrap();
    let section = |html: &str, id: &str| -> String {
        let start = html
            .find(&format!("<h2 id=\"{id}\">"))
            .unwrap_or_else(|| panic!("no section {id}"));
        let end = html[start..].find("</section>").unwrap() + start;
        html[start..end].to_owned()
    };
    for (path, poll) in [
        ("var/www/html/index.html", "Sondages"),
        ("var/www/html/en/index.html", "Polls"),
    ] {
        let html = page(path);
        let services = section(&html, "services");
        assert_eq!(
            tile_links(&services),
            ["/kiwix/", "/files/", "/mumble/"],
            "{path}: services by order"
        );
        let corner = section(&html, "participation");
        assert_eq!(tile_links(&corner), ["/chat/", "/poll/"], "{path}");
        assert!(corner.contains(poll), "{path}");
        // "Décider ensemble" has no English text: the French one stands in.
        assert!(corner.contains("Décider ensemble"), "{path}");
        assert!(!html.contains("<script"));
        assert!(
            !html.contains("/clic/continue"),
            "no captive portal, no click-through"
        );
    }
    let about = page("var/www/html/about.html");
    assert!(
        about.contains("Ressourcerie &lt;du&gt; coin"),
        "contact, escaped"
    );
    for licence in ["GPL-3.0-or-later", "BSD-2-Clause", "BSD-3-Clause", "MIT"] {
        assert!(about.contains(licence), "{licence}");
    }
    // The layers' own files: the help page, the nginx locations.
    assert!(page("var/www/html/mumble/index.html").contains("64738"));
    assert!(page("etc/mumble-server.ini").contains("users=30"));
    assert!(page("etc/nginx/clic-site.d/files.conf").contains("alias /srv/clic/library/;"));
    assert!(page("etc/systemd/system/clic-kiwix.service").contains("MemoryMax=160M"));

    // A tile leading off the box is refused before any work.
    std::fs::write(
        data.join("overlays/poll/layer.toml"),
        "description = \"x\"\n[portal]\ntitle = { fr = \"Sondages\" }\ndescription = { fr = \"x\" }\nlink = \"https://framadate.org/\"\n",
    )
    .unwrap();
    let err = common::refused(common::clic_plain(data).arg("check").arg(&spec));
    assert!(err.contains("poll/layer.toml:5:8: `portal.link`"), "{err}");
}

/// The chat layer's files from its settings and the hotspot's domain: the
/// XMPP domain, its group chat service and public room, registration from
/// private addresses only, the memory cap, the certificate made on the
/// device; bad settings fail the build naming the setting.
#[test]
fn chat_layer_renders_the_boxs_domain_and_checks_its_settings() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    let render = |settings: &str| {
        std::fs::write(
            &spec,
            format!(
                "name = \"t\"\nboard = \"ordinosaure-amd64\"\nsuite = \"bookworm\"\nlayers = [\"base\", \"hotspot\", \"portal\", \"chat\"]\n{settings}"
            ),
        )
        .unwrap();
        common::render_spec(&repo(), &spec, common::epoch())
    };
    let out = render("[settings.hotspot]\ndomain = \"boite.local\"\n").unwrap();
    let page = |p: &str| std::fs::read_to_string(out.path().join(p)).unwrap();
    let cfg = page("etc/prosody/prosody.cfg.lua");
    for want in [
        "VirtualHost \"boite.local\"",
        "Component \"salons.boite.local\" \"muc\"",
        "clic_room = \"accueil@salons.boite.local\"",
        "allow_registration = true",
        "allowlist_registration_only = true",
        "c2s_require_encryption = true",
        "certificate = \"/etc/prosody/certs/clic.crt\";",
    ] {
        assert!(cfg.contains(want), "{want}:\n{cfg}");
    }
    assert!(cfg.contains("modules_disabled = { \"s2s\""), "{cfg}");
    let dropin = page("etc/systemd/system/prosody.service.d/clic.conf");
    assert!(dropin.contains("MemoryMax=64M"), "{dropin}");
    assert!(
        dropin.contains("Requires=clic-chat-cert.service"),
        "{dropin}"
    );
    let cert = page("etc/systemd/system/clic-chat-cert.service");
    assert!(
        cert.contains("ExecStart=/usr/lib/clic/clic-chat-cert boite.local"),
        "{cert}"
    );
    // The apps' help pages: no script, the room and how to get an account.
    for (p, how) in [
        ("var/www/html/chat/apps/index.html", "Créez un compte"),
        ("var/www/html/chat/en/apps/index.html", "Make an account"),
    ] {
        let html = page(p);
        assert!(html.contains("accueil@salons.boite.local"), "{p}");
        assert!(
            html.contains("Conversations") && html.contains("Monal"),
            "{p}"
        );
        assert!(html.contains(how), "{p}");
        assert!(html.contains("/chat/certificate.txt"), "{p}");
        assert!(!html.to_lowercase().contains("<script"), "{p}");
    }
    // The web chat's pages: Web Crypto's stand-in (for http://, not a
    // secure context) runs before converse, the guest room on this domain.
    for p in [
        "var/www/html/chat/index.html",
        "var/www/html/chat/en/index.html",
        "var/www/html/chat/compte/index.html",
        "var/www/html/chat/en/account/index.html",
    ] {
        let html = page(p);
        let subtle = html.find(r#"<script src="/chat/clic-subtle.js">"#);
        let converse = html.find(r#"<script type="module" src="/chat/dist/converse.min.js">"#);
        assert!(
            matches!((subtle, converse), (Some(a), Some(b)) if a < b),
            "{p}: {html}"
        );
    }
    let setup = page("var/www/html/chat/clic-converse.js");
    assert!(setup.contains("'accueil@salons.boite.local'"), "{setup}");
    assert!(setup.contains("'guest.boite.local'"), "{setup}");
    let home = page("var/www/html/index.html");
    let corner = &home[home.find("<h2 id=\"participation\">").unwrap()..];
    assert!(tile_links(corner).contains(&"/chat/".to_owned()), "{home}");

    let out = render(
        "[settings.chat]\nroom = \"place-du-village\"\nregistration = false\nmemory_max = \"48M\"\n",
    )
    .unwrap();
    let cfg = std::fs::read_to_string(out.path().join("etc/prosody/prosody.cfg.lua")).unwrap();
    assert!(cfg.contains("VirtualHost \"clic.lan\""), "{cfg}");
    assert!(
        cfg.contains("\"place-du-village@salons.clic.lan\""),
        "{cfg}"
    );
    assert!(cfg.contains("allow_registration = false"), "{cfg}");
    let html =
        std::fs::read_to_string(out.path().join("var/www/html/chat/apps/index.html")).unwrap();
    assert!(html.contains("Demandez un compte"), "{html}");
    let setup =
        std::fs::read_to_string(out.path().join("var/www/html/chat/clic-converse.js")).unwrap();
    assert!(setup.contains("allow_registration: false"), "{setup}");

    for (bad, key) in [
        ("room = \"Place du village\"", "settings.chat.room"),
        ("room_name = \"a \\\"quote\\\"\"", "settings.chat.room_name"),
        ("registration = \"yes\"", "settings.chat.registration"),
        ("memory_max = \"lots\"", "settings.chat.memory_max"),
    ] {
        let err = render(&format!("[settings.chat]\n{bad}\n")).unwrap_err();
        assert!(err.contains(key), "{bad}: {err}");
    }
}

/// `href`s of the tiles of a portal page, in order.
fn tile_links(html: &str) -> Vec<String> {
    Regex::new(r#"<li class="tile"><a href="([^"]+)""#)
        .unwrap()
        .captures_iter(html)
        .map(|c| c[1].to_owned())
        .collect()
}

/// Width and height from a PNG's IHDR.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

fn screenshot(url: &str, width: u32, file: &Path) {
    let _ = std::fs::remove_file(file);
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={width},900"))
        .arg(format!("--screenshot={}", file.display()))
        .arg(url)
        .output()
        .expect("run chromium (make deps installs it)");
    assert!(
        o.status.success() && file.is_file(),
        "chromium: {}",
        tail(&String::from_utf8_lossy(&o.stderr), 20)
    );
    let (w, h) = png_size(file);
    assert_eq!((w, h), (width, 900), "{}", file.display());
    // A blank page compresses to almost nothing.
    assert!(
        std::fs::metadata(file).unwrap().len() > 8_000,
        "{} looks blank",
        file.display()
    );
    println!("screenshot: {}", file.display());
}

/// A small real ZIM file (zimwriterfs from zim-tools): one French page.
fn make_zim() -> PathBuf {
    let dir = work().join("zim-src");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Poêle fusée</title></head><body><h1>Construire un poêle fusée</h1><p>CLIC-ZIM-TEST</p></body></html>",
    )
    .unwrap();
    // zimwriterfs wants a 48x48 PNG illustration.
    run({
        let mut c = Command::new("python3");
        c.arg("-c").arg(
            "import zlib, struct, sys\n\
             def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))\n\
             raw = b''.join(b'\\0' + bytes([31, 95, 42]) * 48 for _ in range(48))\n\
             open(sys.argv[1], 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 48, 48, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))\n",
        )
        .arg(dir.join("icon.png"));
        c
    });
    let zim = work().join("poele.zim");
    let _ = std::fs::remove_file(&zim);
    run({
        let mut c = Command::new("zimwriterfs");
        c.args(["-w", "index.html", "-I", "icon.png", "-l", "fra"])
            .args(["-t", "Poêle fusée", "-d", "clic test", "-c", "clic"])
            .args(["-p", "clic", "-n", "clic_test", "-J", "1"])
            .arg(&dir)
            .arg(&zim);
        c
    });
    zim
}

/// Put a file into an image's root filesystem, without mounting it.
fn put_file(img: &Path, root_start: u64, host: &Path, dirs: &[&str], dest: &str) {
    let mut cmds: String = dirs.iter().map(|d| format!("mkdir {d}\n")).collect();
    cmds.push_str(&format!("write {} {dest}\n", host.display()));
    let file = work().join("debugfs.cmd");
    std::fs::write(&file, cmds).unwrap();
    run({
        let mut c = Command::new("debugfs");
        c.arg("-w")
            .arg("-f")
            .arg(&file)
            .arg(format!("{}?offset={root_start}", img.display()));
        c
    });
    let ls = Command::new("debugfs")
        .args(["-R", &format!("stat {dest}")])
        .arg(format!("{}?offset={root_start}", img.display()))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains("Type: regular"),
        "{dest} not written into {}",
        img.display()
    );
}

/// With 256 MB of RAM: the portal renders in Chromium at phone and desktop
/// widths, every tile's link, the stylesheet, icons and both languages'
/// pages answer 200; kiwix serves a ZIM file put in its library directory;
/// the box reports its memory in use; SSH offers no password login and
/// shows the host key the console printed.
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn portal_in_chromium_on_a_256_mb_box_and_every_tile_answers() {
    let img = copy_image("portal");
    let _tidy = common::Tidy::new(&img);
    // A real ZIM file in the kiwix library directory.
    let (root_start, _) = partition("root");
    put_file(
        &img,
        root_start,
        &make_zim(),
        &["/srv/clic", "/srv/clic/zim"],
        "/srv/clic/zim/poele.zim",
    );
    let b = start_box(&img, "portal-256M", "256M", &[]);
    let (status, fr) = b.get_text("/");
    assert_eq!(status, 200);
    let (status, en) = b.get_text("/en/");
    assert_eq!(status, 200);
    let links = tile_links(&fr);
    assert!(!links.is_empty(), "no tile on the portal:\n{fr}");
    assert_eq!(tile_links(&en), links, "the English page has other tiles");
    let mut checked = Vec::new();
    let icons = Regex::new(r#"<img src="([^"]+)""#).unwrap();
    let others = ["/portal/portal.css", "/about.html", "/en/about.html"];
    for path in links
        .iter()
        .map(String::as_str)
        .chain(icons.captures_iter(&fr).map(|c| c.get(1).unwrap().as_str()))
        .chain(others)
    {
        let (status, body) = b.get_text(path);
        assert_eq!(
            status,
            200,
            "{path} answered {status}:\n{}",
            tail(&body, 10)
        );
        checked.push(path.to_owned());
    }
    // Every other link of the four pages that stays on the box, the
    // captive portal's click-through among them.
    let href = Regex::new(r#"href="(/[^"]*)""#).unwrap();
    let mut pages = vec![fr.clone(), en.clone()];
    for p in ["/about.html", "/en/about.html"] {
        pages.push(b.get_text(p).1);
    }
    let mut local: Vec<String> = pages
        .iter()
        .flat_map(|h| href.captures_iter(h).map(|c| c[1].to_owned()))
        .collect();
    local.sort();
    local.dedup();
    assert!(local.iter().any(|l| l == "/clic/continue"), "{local:?}");
    let rest: Vec<String> = local.into_iter().filter(|l| !checked.contains(l)).collect();
    for path in rest {
        let (status, body) = b.get_text(&path);
        assert_eq!(
            status,
            200,
            "{path} answered {status}:\n{}",
            tail(&body, 10)
        );
        checked.push(path);
    }
    println!("answered 200 inside the box: {}", checked.join(" "));
    // kiwix-serve itself is behind /kiwix/, not nginx's 404 or a bad
    // gateway, and serves the ZIM file found in /srv/clic/zim.
    assert!(b.get_text("/kiwix/").1.contains("Kiwix"));
    let (status, catalog) = b.get_text("/kiwix/catalog/v2/entries");
    assert_eq!(status, 200);
    assert!(catalog.contains("Poêle fusée"), "{}", tail(&catalog, 20));
    let (status, article) = b.get_text("/kiwix/poele/index.html");
    assert_eq!(status, 200, "{}", tail(&article, 10));
    assert!(article.contains("CLIC-ZIM-TEST"), "{}", tail(&article, 10));

    let url = format!("http://127.0.0.1:{}/", b.port);
    for (page, name) in [("", "fr"), ("en/", "en")] {
        for width in [360, 1280] {
            let file = work().join(format!("portal-{name}-{width}.png"));
            screenshot(&format!("{url}{page}"), width, &file);
        }
    }

    // SSH: passwords are not accepted; the host key offered is compared
    // below with the one the console showed.
    let scan = Command::new("ssh-keyscan")
        .args([
            "-p",
            &b.host_port(22).to_string(),
            "-t",
            "ed25519",
            "127.0.0.1",
        ])
        .output()
        .unwrap();
    let keyfile = work().join("portal-ed25519.pub");
    std::fs::write(&keyfile, &scan.stdout).unwrap();
    let fp = sh("ssh-keygen", &["-l", "-f", keyfile.to_str().unwrap()]);
    let fp = fp.split_whitespace().nth(1).unwrap_or("").to_owned();
    let o = Command::new("ssh")
        .args([
            "-v",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
        ])
        .args([
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=60",
        ])
        .args([
            "-p",
            &b.host_port(22).to_string(),
            "admin@127.0.0.1",
            "true",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let methods = err
        .lines()
        .find_map(|l| l.split("Authentications that can continue: ").nth(1))
        .unwrap_or_else(|| panic!("no authentication methods from sshd:\n{}", tail(&err, 20)))
        .to_owned();
    assert!(!o.status.success());
    assert!(
        methods.contains("publickey") && !methods.contains("password"),
        "sshd offers: {methods}"
    );

    let serial = b.stop();
    let mem: u64 = Regex::new(r"memory in use at rest: (\d+) MiB of (\d+) MiB")
        .unwrap()
        .captures(&serial)
        .map(|c| c[1].parse().unwrap())
        .unwrap_or_else(|| panic!("no memory figure:\n{}", tail(&serial, 30)));
    println!("memory in use at rest with 256 MB: {mem} MiB");
    assert!(
        mem < 160,
        "{mem} MiB in use at rest leaves too little of 256 MB"
    );
    let fb = first_boot_lines(&serial);
    assert!(
        fb.host_keys.iter().any(|k| k == &format!("ED25519 {fp}")),
        "ssh offers {fp}, the console showed {:?}",
        fb.host_keys
    );
}

/// Two copies of one image, first-booted: different machine-ids and host
/// keys; the enlarged copy's root partition and filesystem fill the disk;
/// the admin password is random, shown on the console and written to the
/// boot partition, and no account has an empty or well-known password; the
/// copy with a clic.txt on its boot partition takes its settings.
/// Offset of the FAT boot sector's "dirty" byte (FAT32 at 0x41, FAT12/16
/// at 0x25, bit 0: the volume was not unmounted cleanly).
fn fat_dirty_offset(img: &Path, start: u64) -> u64 {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(img).unwrap();
    f.seek(SeekFrom::Start(start)).unwrap();
    let mut bs = [0u8; 512];
    f.read_exact(&mut bs).unwrap();
    if &bs[0x52..0x5a] == b"FAT32   " {
        start + 0x41
    } else {
        assert!(bs[0x36..0x39] == *b"FAT", "not a FAT boot sector");
        start + 0x25
    }
}

fn set_fat_dirty(img: &Path, start: u64, dirty: bool) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let at = fat_dirty_offset(img, start);
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(img)
        .unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    let mut b = [0u8; 1];
    f.read_exact(&mut b).unwrap();
    b[0] = if dirty { b[0] | 1 } else { b[0] & !1 };
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&b).unwrap();
}

/// The boot partition `fat` (mtools' `IMAGE@@OFFSET`) after clic.txt was
/// applied: no clic.txt left; what clic.txt.applied says.
fn clic_txt_applied(fat: &str) -> String {
    let dir = sh("mdir", &["-b", "-i", fat, "::/"]);
    assert!(
        !dir.lines().any(|l| l.eq_ignore_ascii_case("::/clic.txt")),
        "{dir}"
    );
    sh("mtype", &["-i", fat, "::/clic.txt.applied"])
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn first_boot_makes_each_card_its_own_and_applies_clic_txt() {
    let (root_start, root_size) = partition("root");
    let (esp_start, _) = partition("esp");
    let a = copy_image("firstboot-a");
    let b = copy_image("firstboot-b");
    let _tidy = (common::Tidy::new(&a), common::Tidy::new(&b));
    // a: written to a bigger disk.
    const GROW: u64 = 512 * 1048576;
    let f = std::fs::OpenOptions::new().write(true).open(&a).unwrap();
    f.set_len(f.metadata().unwrap().len() + GROW).unwrap();
    drop(f);
    // b: a clic.txt, as a volunteer would write it on Windows.
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh0ZXN0a2V5Zm9yY2xpY2JveGZpcnN0Ym9vdHRlc3Q= volunteer@laptop";
    let txt = format!(
        "# CLIC! settings\r\nhostname=salle-des-fetes\r\nssid=Fête du village\r\npassphrase=pain-au-levain-42\r\nadmin_ssh_key={key}\r\nbogus=1\r\nchannel=0\r\ntimezone=Mars/Olympus\r\n"
    );
    let txt_path = work().join("clic.txt");
    std::fs::write(&txt_path, txt).unwrap();
    let fat = format!("{}@@{esp_start}", b.display());
    run({
        let mut c = Command::new("mcopy");
        c.args(["-o", "-i", &fat]).arg(&txt_path).arg("::/clic.txt");
        c
    });
    // b's FAT partition as a card pulled out without unmounting leaves
    // it: the "dirty" flag set. It must be checked (fsck.fat) before
    // clic.txt is read, and left clean.
    set_fat_dirty(&b, esp_start, true);

    let (a2, b2) = (a.clone(), b.clone());
    let ta = std::thread::spawn(move || boot_persist(&a2, "firstboot-a", "clic-ready:.*memory"));
    let tb = std::thread::spawn(move || boot_persist(&b2, "firstboot-b", "clic-ready:.*memory"));
    let (sa, sb) = (ta.join().unwrap(), tb.join().unwrap());
    let (fa, fb) = (first_boot_lines(&sa), first_boot_lines(&sb));

    // Each card its own identity.
    assert_ne!(fa.machine_id, fb.machine_id);
    // One host key each, ed25519 (the only one sshd is configured with).
    for f in [&fa, &fb] {
        assert!(
            f.host_keys.len() == 1 && f.host_keys[0].starts_with("ED25519 "),
            "{:?}",
            f.host_keys
        );
    }
    for k in &fa.host_keys {
        assert!(!fb.host_keys.contains(k), "both cards have host key {k}");
    }
    assert_ne!(fa.password, fb.password);
    let shape = Regex::new("^[a-z2-9]{4}(-[a-z2-9]{4}){3}$").unwrap();
    for fbl in [&fa, &fb] {
        assert!(shape.is_match(&fbl.password), "{}", fbl.password);
    }

    for (img, fbl, serial) in [(&a, &fa, &sa), (&b, &fb, &sb)] {
        assert!(!serial.contains("could not"), "{}", tail(serial, 60));
        // The password file on the FAT boot partition, for whoever holds the card.
        assert!(
            serial.contains("(also in /boot/efi/clic-admin-password.txt)"),
            "{} did not write the password on its boot partition:\n{}",
            img.display(),
            tail(serial, 60)
        );
        let fat = format!("{}@@{esp_start}", img.display());
        let file = sh("mtype", &["-i", &fat, "::/clic-admin-password.txt"]);
        assert!(
            file.contains(&format!("password: {}", fbl.password)),
            "{file}"
        );
        let root = RootFs::extract(img, root_start);
        assert_eq!(root.cat("/etc/machine-id").trim(), fbl.machine_id);
        check_shadow(&root.cat("/etc/shadow"), &fbl.password);
        // The web login's hash (agora's moderation, the admin console):
        // the admin account's own hash (yescrypt, as chpasswd makes it).
        let web = root.cat("/var/lib/clic/admin-web.hash");
        let web = web.trim();
        assert!(web.starts_with("$y$"), "web login hash: {web}");
        let shadow = root.cat("/etc/shadow");
        assert!(
            shadow.lines().any(|l| l.split(':').nth(1) == Some(web)),
            "the web login hash is not the admin account's"
        );
        assert_eq!(
            crypt(&fbl.password, web),
            web,
            "the web login hash is not of admin's password"
        );
        assert_ne!(crypt("admin", web), web);
        assert_eq!(
            root.mode("/var/lib/clic", "admin-web.hash"),
            Some(("100600".to_owned(), "0".to_owned())),
            "the web login hash is for root only"
        );
        assert!(root.cat("/var/lib/clic/firstboot-done").starts_with("20"));
    }

    // a: the root partition reaches the end of the bigger disk, the
    // filesystem fills it (GPT's backup table moved to the new end).
    let table: serde_json::Value =
        serde_json::from_str(&sh("sfdisk", &["--json", a.to_str().unwrap()])).unwrap();
    let t = &table["partitiontable"];
    let sector = t["sectorsize"].as_u64().unwrap_or(512);
    let disk = std::fs::metadata(&a).unwrap().len();
    let rootp = t["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["start"].as_u64() == Some(root_start / sector))
        .unwrap();
    let end = (rootp["start"].as_u64().unwrap() + rootp["size"].as_u64().unwrap()) * sector;
    assert!(
        end + 2 * 1048576 >= disk,
        "root partition ends at {end}, the disk at {disk}"
    );
    assert!(t["lastlba"].as_u64().unwrap() * sector + 2 * 1048576 >= disk);
    let grown = RootFs::extract(&a, root_start).bytes();
    let before = RootFs::extract(image(), root_start).bytes();
    assert!(
        grown >= before + GROW - 16 * 1048576,
        "root filesystem {before} -> {grown} bytes on a disk {GROW} bytes bigger"
    );
    assert!(before <= root_size);
    // b: its disk was not enlarged: at most the alignment slack at its end.
    let b_bytes = RootFs::extract(&b, root_start).bytes();
    assert!(
        b_bytes >= before && b_bytes < before + 8 * 1048576,
        "{before} -> {b_bytes}"
    );

    // b: its FAT partition checked at boot (systemd-fsck with fsck.fat,
    // which repairs the dirty flag set above) before clic.txt was read
    // from it. (The flag itself cannot be read back: Linux sets it while
    // the partition is mounted, and the test ends the guest without
    // unmounting.)
    let root = RootFs::extract(&b, root_start);
    assert!(
        root.ls("/usr/sbin").iter().any(|n| n == "fsck.fat"),
        "no fsck.fat in the image (dosfstools)"
    );
    let checked = sb
        .find("Finished systemd-fsck@dev-")
        .expect("the FAT partition's check (systemd-fsck@) in the serial log");
    let applied = sb
        .find("clic.txt applied")
        .expect("clic.txt applied, in the serial log");
    assert!(checked < applied, "clic.txt was read before the FAT check");

    // b: clic.txt applied, renamed, its passphrase not kept in clear.
    assert!(sb.contains("salle-des-fetes login:"));
    let root = RootFs::extract(&b, root_start);
    assert_eq!(root.cat("/etc/hostname"), "salle-des-fetes\n");
    assert!(root
        .cat("/etc/hosts")
        .contains("127.0.1.1\tsalle-des-fetes"));
    assert!(
        root.cat("/etc/dnsmasq.d/clic-hotspot.conf")
            .lines()
            .any(|l| l == "host-record=salle-des-fetes,salle-des-fetes.clic.lan,10.42.0.1"),
        "the hotspot's DNS still names the box by its old name"
    );
    let hostapd = root.cat("/etc/hostapd/clic.conf");
    assert!(
        hostapd.lines().any(|l| l == "ssid=Fête du village"),
        "{hostapd}"
    );
    assert!(
        hostapd
            .lines()
            .any(|l| l == "wpa_passphrase=pain-au-levain-42"),
        "{hostapd}"
    );
    assert!(hostapd.lines().any(|l| l == "wpa=2"), "{hostapd}");
    assert!(root
        .cat("/home/admin/.ssh/authorized_keys")
        .lines()
        .any(|l| l == key));
    // The bad lines: refused on the console and in clic-errors.txt on the
    // boot partition, by the same rules as `clic check`; the box keeps its
    // values (channel 6, the image's time zone).
    for (line, key) in [(6, "bogus"), (7, "channel"), (8, "timezone")] {
        let want = format!("clic.txt refused: clic.txt:{line}: `{key}`");
        assert!(sb.contains(&want), "{want}:\n{}", tail(&sb, 60));
    }
    let errors = sh(
        "mtype",
        &[
            "-i",
            &format!("{}@@{esp_start}", b.display()),
            "::/clic-errors.txt",
        ],
    );
    assert!(
        errors.contains("clic.txt:7: `channel`: 0 is not a Wi-Fi channel"),
        "{errors}"
    );
    assert!(
        errors.contains("`Mars/Olympus` is not in the tz database"),
        "{errors}"
    );
    assert!(hostapd.lines().any(|l| l == "channel=6"), "{hostapd}");
    assert_eq!(
        root.cat("/etc/timezone"),
        RootFs::extract(image(), root_start).cat("/etc/timezone")
    );
    let state = root.cat("/var/lib/clic/settings-state.json");
    assert!(
        state.contains("salle-des-fetes") && !state.contains("pain-au-levain"),
        "{state}"
    );
    let fat = format!("{}@@{esp_start}", b.display());
    let applied = clic_txt_applied(&fat);
    assert!(applied.contains("hostname=salle-des-fetes"), "{applied}");
    assert!(!applied.contains("pain-au-levain-42"), "{applied}");
    // a had no clic.txt: the image's own settings.
    assert!(sa.contains("clic login:"));
    assert_eq!(
        RootFs::extract(&a, root_start).cat("/etc/hostname"),
        "clic\n"
    );

    for img in [&a, &b] {
        let _ = std::fs::remove_file(img);
    }
}

/// The optional service layers, running: an image of the default spec plus
/// `files`, `mumble` and `chat`; their tiles answer, /files/ lists and
/// serves (and only serves) what is in /srv/clic/library, mumble-server
/// answers a TLS handshake on its port, and prosody: no key in the image,
/// its certificate made at first boot (the one the console and
/// /chat/certificate.txt show), two XMPP clients register from their app,
/// find the public room, join it and a message goes from one to the other;
/// prosody stays under its memory cap. The web chat (converse.js at /chat/,
/// prosody's WebSocket and BOSH through nginx, a guest logs in) and the wiki
/// (`wiki_serves_and_saves`) too.
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn optional_files_mumble_and_chat_layers_serve() {
    let dir = common::fresh_dir("clic-image-tests/box/optional");
    let spec = std::fs::read_to_string(repo().join(SPEC)).unwrap();
    let spec = Regex::new(r#"(?m)^name = ".*"$"#)
        .unwrap()
        .replace(&spec, r#"name = "clic-optional""#);
    // The default spec's layers, and these if it does not have them yet.
    let layers_line = Regex::new(r"(?m)^layers = \[(.*)\]$").unwrap();
    let listed = layers_line.captures(&spec).unwrap()[1].to_owned();
    let mut layers = listed.clone();
    for l in ["files", "mumble", "chat", "wiki"] {
        if !listed.contains(&format!("\"{l}\"")) {
            layers.push_str(&format!(", \"{l}\""));
        }
    }
    let spec = layers_line.replace(&spec, format!("layers = [{layers}]").as_str());
    std::fs::write(dir.join("spec.toml"), spec.as_bytes()).unwrap();
    let out = dir.join("out");
    let _tidy = common::Tidy::new(&out);
    common::build(clic(), dir.join("spec.toml"), &out, &[]);
    let img = out.join("clic-optional.img");
    let (root_start, _) = common::partition_extent(&common::manifest(&img), "root");
    // No secret of the chat layer in the image: prosody's certificate and
    // ssl-cert's snakeoil key are made on the device.
    {
        let root = RootFs::extract(&img, root_start);
        let certs = root.ls("/etc/prosody/certs");
        assert!(
            !certs.iter().any(|n| n.starts_with("clic.")),
            "prosody's certificate is in the image: {certs:?}"
        );
        let private = root.ls("/etc/ssl/private");
        assert!(private.is_empty(), "keys in the image: {private:?}");
        let cfg = root.cat("/etc/prosody/prosody.cfg.lua");
        assert!(cfg.contains("VirtualHost \"clic.lan\""), "{cfg}");
    }
    let guide = dir.join("guide-poele.txt");
    std::fs::write(&guide, "Construire un poêle fusée: CLIC-FILES-TEST\n").unwrap();
    put_file(
        &img,
        root_start,
        &guide,
        &["/srv/clic", "/srv/clic/library"],
        "/srv/clic/library/guide-poele.txt",
    );

    let b = start_box(&img, "optional", "512M", &[64738, 5222]);
    let (_, home) = b.get_text("/");
    let links = tile_links(&home);
    for l in ["/chat/", "/files/", "/kiwix/", "/mumble/", "/wiki/"] {
        assert!(links.iter().any(|x| x == l), "{l} not in {links:?}");
    }
    for l in &links {
        let (status, _) = b.get_text(l);
        assert_eq!(status, 200, "{l}");
    }
    let (_, listing) = b.get_text("/files/");
    assert!(listing.contains("guide-poele.txt"), "{listing}");
    let (status, text) = b.get_text("/files/guide-poele.txt");
    assert_eq!(status, 200);
    assert!(text.contains("CLIC-FILES-TEST"), "{text}");
    // Read-only: nothing can be sent to it.
    let answer = b.put("/files/x.txt");
    assert!(answer.starts_with("HTTP/1.1 403"), "{}", tail(&answer, 5));
    let (_, help) = b.get_text("/mumble/");
    assert!(
        help.contains("64738") && help.contains("clic.lan"),
        "{help}"
    );
    // mumble-server speaks TLS on its port (QEMU accepts the TCP connection
    // itself, so only a handshake proves the server is there).
    let o = Command::new("timeout")
        .args(["60", "openssl", "s_client", "-connect"])
        .arg(format!("127.0.0.1:{}", b.host_port(64738)))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let tls = String::from_utf8_lossy(&o.stdout);
    assert!(
        tls.contains("BEGIN CERTIFICATE"),
        "no TLS from mumble-server: {}",
        tail(&tls, 10)
    );

    // Chat: the help page, then two real XMPP sessions
    // (tests/fixtures/xmpp-client.py: STARTTLS, in-band registration, SASL,
    // the room's disco#info, MUC join, a groupchat message from one to the
    // other).
    let (_, help) = b.get_text("/chat/apps/");
    assert!(help.contains("accueil@salons.clic.lan"), "{help}");
    web_chat_serves(&b);
    wiki_serves_and_saves(&b);
    let (status, published) = b.get_text("/chat/certificate.txt");
    assert_eq!(status, 200);
    let o = Command::new("timeout")
        .arg("300")
        .arg("python3")
        .arg(repo().join("tests/fixtures/xmpp-client.py"))
        .args(["127.0.0.1", &b.host_port(5222).to_string()])
        .args(["clic.lan", "accueil@salons.clic.lan"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success() && said.lines().any(|l| l == "ok"),
        "XMPP client: {said}{}\nserial:\n{}",
        String::from_utf8_lossy(&o.stderr),
        tail(&b.serial(), 40)
    );
    // The two accounts above came from the host's address too.
    registration_is_throttled(&b, 2);
    // The serial log is complete once QEMU has stopped.
    let serial = b.stop();
    // The certificate was made on this device at first boot; it is the one
    // prosody serves and the one published for people to compare.
    assert!(
        serial.contains("clic-chat: TLS certificate for clic.lan made on this device"),
        "{}",
        tail(&serial, 60)
    );
    let made = Regex::new(r"clic-chat: TLS certificate of clic\.lan: SHA-256 ([0-9A-F:]{95})")
        .unwrap()
        .captures(&serial)
        .map(|c| c[1].to_owned())
        .unwrap_or_else(|| panic!("no fingerprint on the console:\n{}", tail(&serial, 60)));
    assert!(published.contains(&made), "{published}");
    assert!(
        said.contains(&format!("fingerprint {made}")),
        "prosody serves another certificate than the one made: {said}"
    );
    // Under its memory cap (clic-ready prints each capped service).
    let mem = Regex::new(r"clic-ready: prosody\.service uses (\d+) MiB of its (\d+) MiB")
        .unwrap()
        .captures(&serial)
        .map(|c| (c[1].parse::<u64>().unwrap(), c[2].parse::<u64>().unwrap()))
        .unwrap_or_else(|| panic!("prosody's memory not reported:\n{}", tail(&serial, 60)));
    assert_eq!(mem.1, 64, "settings.chat.memory_max");
    assert!(mem.0 > 0 && mem.0 < mem.1, "prosody uses {} MiB", mem.0);
    eprintln!("prosody at rest: {} MiB of {} MiB", mem.0, mem.1);

    assert!(!serial.contains("Failed to start"), "{}", tail(&serial, 40));
    assert!(
        !serial.contains("clic-ready: FAILED"),
        "{}",
        tail(&serial, 40)
    );
}

/// The web chat: converse.js's page, script, stylesheet and French
/// translation from the box, nothing from another host; prosody's
/// WebSocket through nginx answers an upgrade (101), and a guest gets in
/// (SASL ANONYMOUS on guest.clic.lan, over WebSocket), BOSH answers too.
fn web_chat_serves(b: &RunningBox) {
    let external =
        Regex::new(r#"(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import"#)
            .unwrap();
    for page in ["/chat/", "/chat/en/", "/chat/compte/", "/chat/en/account/"] {
        let html = b.page(page);
        assert!(
            // converse.min.js is an ES module: a classic script tag fails.
            html.contains(r#"<script type="module" src="/chat/dist/converse.min.js">"#)
                && html.contains("/chat/clic-converse.js"),
            "{page}: {html}"
        );
        assert!(
            !external.is_match(&html),
            "{page} loads from another host: {html}"
        );
    }
    assert!(b.page("/chat/").contains(r#"<html lang="fr">"#));
    // Web Crypto's stand-in for http:// pages (tests/participation.rs
    // checks it against Chromium's own).
    assert!(b.page("/chat/clic-subtle.js").contains("deriveBits"));
    let setup = b.page("/chat/clic-converse.js");
    for want in [
        "accueil@salons.clic.lan",
        "guest.clic.lan",
        "'/xmpp-websocket'",
        "discover_connection_methods: false",
        "assets_path: '/chat/dist/'",
    ] {
        assert!(setup.contains(want), "{want} not in {setup}");
    }
    assert!(
        !setup.contains("http://") && !setup.contains("https://"),
        "{setup}"
    );
    let mut sizes = Vec::new();
    for file in [
        "converse.min.js",
        "converse.min.css",
        "emoji.json",
        "chunkjs/locales/fr-LC_MESSAGES-converse-po.js",
        "chunkjs/locales/dayjs/fr-js.js",
        "webfonts/muli.ttf",
    ] {
        let (status, body) = b.get(&format!("/chat/dist/{file}"));
        assert_eq!(status, 200, "/chat/dist/{file}");
        sizes.push(format!("{file} {}", body.len()));
    }
    eprintln!("converse.js served: {}", sizes.join(", "));
    let css = b.page("/chat/dist/converse.min.css");
    assert!(
        !external.is_match(&css),
        "the stylesheet loads from another host"
    );
    // Only what the page needs is in the image.
    for absent in [
        "converse.min.js.map",
        "converse.js",
        "chunkjs/locales/de-LC_MESSAGES-converse-po.js",
        "libomemo.esm.min.js",
    ] {
        let (status, _) = b.get(&format!("/chat/dist/{absent}"));
        assert_eq!(status, 404, "/chat/dist/{absent}");
    }

    // WebSocket: the upgrade, then an XMPP stream to the guest host.
    let (mut s, head) = xmpp_websocket(b);
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    let said = open_stream(&mut s, "guest.clic.lan");
    assert!(said.contains("<mechanism>ANONYMOUS</mechanism>"), "{said}");
    ws_send(
        &mut s,
        r#"<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="ANONYMOUS"/>"#,
    );
    let answer = ws_read(&mut s);
    assert!(answer.contains("<success"), "a guest is refused: {answer}");
    // The guest binds an address and is in the public room.
    open_stream(&mut s, "guest.clic.lan");
    ws_send(
        &mut s,
        r#"<iq type="set" id="b1" xmlns="jabber:client"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></iq>"#,
    );
    let bound = ws_read(&mut s);
    assert!(bound.contains("@guest.clic.lan/"), "{bound}");
    ws_send(
        &mut s,
        r#"<presence to="accueil@salons.clic.lan/Invite" xmlns="jabber:client"><x xmlns="http://jabber.org/protocol/muc"/></presence>"#,
    );
    let joined = ws_read(&mut s);
    assert!(
        joined.contains("from='accueil@salons.clic.lan/Invite'")
            && joined.contains("role='participant'"),
        "the guest is not in the room: {joined}"
    );
    // BOSH, the fallback.
    let r = common::http::request(
        b.port,
        "POST",
        "/http-bind",
        &[("Content-Type", "text/xml; charset=utf-8")],
        br#"<body rid='4242' to='guest.clic.lan' xml:lang='fr' wait='10' hold='1' ver='1.6' xmpp:version='1.0' xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'/>"#,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    let text = r.text();
    assert!(
        r.status == 200 && text.contains("sid="),
        "BOSH: {} {text}",
        r.status
    );
}

/// Accounts made in-band from one address (the host, through nginx's
/// WebSocket): five in an hour, `already` of them made before, then the
/// app is told to wait (mod_clic_register_throttle; prosody's own limits
/// exempt the private addresses it allows to register).
fn registration_is_throttled(b: &RunningBox, already: usize) {
    let (mut s, _) = xmpp_websocket(b);
    let said = open_stream(&mut s, "clic.lan");
    assert!(said.contains("jabber.org/features/iq-register"), "{said}");
    let mut answers = Vec::new();
    for i in 1..=(6 - already) {
        ws_send(
            &mut s,
            &format!(
                r#"<iq type="set" id="r{i}" xmlns="jabber:client"><query xmlns="jabber:iq:register"><username>flood{i}</username><password>Pw-{i}-long-enough</password></query></iq>"#
            ),
        );
        let mut a = String::new();
        while !a.contains(&format!("id='r{i}'")) && !a.contains(&format!("id=\"r{i}\"")) {
            a.push_str(&ws_read(&mut s));
        }
        answers.push(a);
    }
    let (last, made) = answers.split_last().unwrap();
    for (i, a) in made.iter().enumerate() {
        assert!(
            a.contains("type='result'"),
            "account {}: {a}",
            already + i + 1
        );
    }
    assert!(
        last.contains("type='error'") && last.contains("policy-violation"),
        "the sixth account in a row was made: {last}"
    );
}

/// A WebSocket to the box's XMPP endpoint (through nginx), upgraded: the
/// socket and the answer's head.
fn xmpp_websocket(b: &RunningBox) -> (std::net::TcpStream, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", b.port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    std::io::Write::write_all(
        &mut s,
        b"GET /xmpp-websocket HTTP/1.1\r\nHost: clic.lan\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: http://clic.lan\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n",
    )
    .unwrap();
    let head = read_until(&mut s, b"\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 101"), "no upgrade: {head}");
    (s, head)
}

/// Open an XMPP stream to `to` on `s`: the server's stream features.
fn open_stream(s: &mut std::net::TcpStream, to: &str) -> String {
    ws_send(
        s,
        &format!(r#"<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="{to}" version="1.0"/>"#),
    );
    let mut said = String::new();
    while !said.contains("</stream:features>") {
        said.push_str(&ws_read(s));
    }
    said
}

/// Read from `s` until `end` has come; the text read.
fn read_until(s: &mut std::net::TcpStream, end: &[u8]) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(end) {
        let n = std::io::Read::read(s, &mut byte).unwrap();
        assert!(n == 1, "closed after {}", String::from_utf8_lossy(&got));
        got.push(byte[0]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Send one masked WebSocket text frame (a client's frames are masked).
fn ws_send(s: &mut std::net::TcpStream, text: &str) {
    let data = text.as_bytes();
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut frame = vec![0x81u8];
    if data.len() < 126 {
        frame.push(0x80 | data.len() as u8);
    } else {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(data.len() as u16).to_be_bytes());
    }
    frame.extend_from_slice(&mask);
    frame.extend(data.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    std::io::Write::write_all(s, &frame).unwrap();
}

/// Read one WebSocket frame from the server (unmasked); its payload.
fn ws_read(s: &mut std::net::TcpStream) -> String {
    let mut head = [0u8; 2];
    std::io::Read::read_exact(s, &mut head).unwrap();
    let mut len = (head[1] & 0x7f) as u64;
    if len == 126 {
        let mut l = [0u8; 2];
        std::io::Read::read_exact(s, &mut l).unwrap();
        len = u16::from_be_bytes(l) as u64;
    } else if len == 127 {
        let mut l = [0u8; 8];
        std::io::Read::read_exact(s, &mut l).unwrap();
        len = u64::from_be_bytes(l);
    }
    let mut data = vec![0u8; len as usize];
    std::io::Read::read_exact(s, &mut data).unwrap();
    String::from_utf8_lossy(&data).into_owned()
}

/// The wiki: DokuWiki in French at /wiki/, its start pages, a new meeting
/// page that starts from the template, saved through the edit form (with
/// its sectok and the session cookie), read back, changed again, and both
/// versions in its history.
fn wiki_serves_and_saves(b: &RunningBox) {
    use common::http::{form, request};
    let t = std::time::Duration::from_secs(120);
    let (status, _) = b.get("/wiki/");
    assert!(status == 200 || status == 302, "/wiki/ answers {status}");
    let home = b.page("/wiki/doku.php?id=accueil");
    assert!(home.contains(r#"lang="fr""#), "{home}");
    assert!(
        home.contains("Réunions") && home.contains("Décisions"),
        "{home}"
    );
    assert!(b
        .page("/wiki/doku.php?id=reunions:accueil")
        .contains("Réunions"));
    let id = "reunions:2025-06-14";
    let edit = request(
        b.port,
        "GET",
        &format!("/wiki/doku.php?id={id}&do=edit"),
        &[],
        b"",
        t,
    )
    .unwrap();
    assert_eq!(edit.status, 200);
    let cookies: Vec<String> = edit
        .headers_named("set-cookie")
        .map(|c| c.split(';').next().unwrap_or("").to_owned())
        .collect();
    let cookie = cookies.join("; ");
    let html = edit.text();
    assert!(
        html.contains("Ordre du jour"),
        "the meeting template is not used: {html}"
    );
    let field = |name: &str| {
        Regex::new(&format!(r#"name="{name}"[^>]*value="([^"]*)""#))
            .unwrap()
            .captures(&html)
            .map(|c| c[1].to_owned())
            .unwrap_or_default()
    };
    // Empty for a visitor without an account (DokuWiki checks it for
    // logged-in users only); sent as the form has it.
    let sectok = field("sectok");
    assert!(
        html.contains(r#"name="sectok""#),
        "no sectok in the edit form: {html}"
    );
    let save = |text: &str, date: &str, changecheck: &str| {
        let body = form(&[
            ("id", id),
            ("sectok", &sectok),
            ("date", date),
            ("prefix", "."),
            ("suffix", ""),
            ("changecheck", changecheck),
            ("target", "section"),
            ("wikitext", text),
            ("summary", "essai clic"),
            ("do[save]", "Enregistrer"),
        ]);
        request(
            b.port,
            "POST",
            "/wiki/doku.php",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", &cookie),
            ],
            body.as_bytes(),
            t,
        )
        .unwrap()
    };
    let r = save(
        "====== Réunion du 14 juin ======\nCLIC-WIKI-TEST-1\n",
        &field("date"),
        &field("changecheck"),
    );
    assert!(
        r.status == 302 || r.status == 303 || r.status == 200,
        "save: {} {}",
        r.status,
        r.text()
    );
    let page = b.page(&format!("/wiki/doku.php?id={id}"));
    assert!(page.contains("CLIC-WIKI-TEST-1"), "not saved: {page}");
    // A second version (DokuWiki's revisions are whole seconds); both are
    // in the page's history.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = save(
        "====== Réunion du 14 juin ======\nCLIC-WIKI-TEST-2\n",
        "",
        "",
    );
    assert!(r.status < 400, "second save: {}", r.status);
    let page = b.page(&format!("/wiki/doku.php?id={id}"));
    assert!(
        page.contains("CLIC-WIKI-TEST-2"),
        "second version not saved: {page}"
    );
    let revisions = b.page(&format!("/wiki/doku.php?id={id}&do=revisions"));
    let mut revs: Vec<String> = Regex::new(r#"name="rev2\[\]" type="checkbox" value="(\d+)""#)
        .unwrap()
        .captures_iter(&revisions)
        .map(|c| c[1].to_owned())
        .collect();
    revs.dedup();
    assert!(
        revs.len() >= 2,
        "no earlier version in the history: {revs:?}\n{revisions}"
    );
}

/// Issue 16, item 9: a quote, a backslash or a shell expansion in any
/// string setting of any layer of the default image (and the kiosk's) adds
/// no line to any rendered file, and a newline in one is refused naming its
/// key. Each setting is rendered twice, with a plain value and with the
/// hostile one of the same length, and every file's line count compared.
#[test]
fn a_quote_or_newline_in_any_string_setting_adds_no_line_to_any_file() {
    use clic_settings::Kind;
    let t = tempfile::tempdir().unwrap();
    let mut spec: toml::Table =
        toml::from_str(&std::fs::read_to_string(repo().join(SPEC)).unwrap()).unwrap();
    if let Some(toml::Value::Array(layers)) = spec.get_mut("layers") {
        layers.push("kiosk".into());
    }
    let r0 = {
        let p = t.path().join("all.toml");
        std::fs::write(&p, toml::to_string(&spec).unwrap()).unwrap();
        common::resolve(&repo(), &p).unwrap()
    };
    let lines = |out: &Path| -> std::collections::BTreeMap<PathBuf, usize> {
        let mut m = std::collections::BTreeMap::new();
        let mut stack = vec![out.to_owned()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let ft = std::fs::symlink_metadata(&p).unwrap().file_type();
                if ft.is_dir() {
                    stack.push(p);
                } else if ft.is_file() {
                    let n = std::fs::read(&p)
                        .unwrap()
                        .iter()
                        .filter(|b| **b == b'\n')
                        .count();
                    m.insert(p.strip_prefix(out).unwrap().to_owned(), n);
                }
            }
        }
        m
    };
    let with = |layer: &str, key: &str, v: toml::Value, name: &str| {
        let mut s = spec.clone();
        let settings = s
            .entry("settings")
            .or_insert_with(|| toml::Table::new().into())
            .as_table_mut()
            .unwrap();
        let l = settings
            .entry(layer)
            .or_insert_with(|| toml::Table::new().into())
            .as_table_mut()
            .unwrap();
        l.insert(key.to_owned(), v);
        let p = t.path().join(format!("{name}.toml"));
        std::fs::write(&p, toml::to_string(&s).unwrap()).unwrap();
        common::resolve(&repo(), &p)
    };
    // Same length: a plain value and a hostile one.
    let plain = "plain words here";
    let hostile = "a'b\"c\\d $(id) `x";
    assert_eq!(plain.len(), hostile.len());
    let (mut checked, mut refused) = (Vec::new(), Vec::new());
    for l in &r0.layers {
        for (key, def) in &l.def.settings {
            let d = def.get_ref();
            let list = d.kind == Kind::List && d.items == Some(Kind::String);
            if d.kind != Kind::String && !list {
                continue;
            }
            let val = |s: &str| -> toml::Value {
                if list {
                    toml::Value::Array(vec![s.into()])
                } else {
                    s.into()
                }
            };
            let what = format!("settings.{}.{key}", l.name);
            // A newline is refused, naming the key.
            let err = with(&l.name, key, val("one\ntwo"), "nl").unwrap_err();
            assert!(err.contains(key.as_str()), "{what}: {err}");
            let Ok(r_plain) = with(&l.name, key, val(plain), "plain") else {
                // A pattern allows neither: nothing free-form reaches a file.
                refused.push(what);
                continue;
            };
            let r_hostile = match with(&l.name, key, val(hostile), "hostile") {
                Ok(r) => r,
                Err(_) => {
                    refused.push(what);
                    continue;
                }
            };
            let a = lines(
                common::render_layers(&r_plain, common::epoch())
                    .unwrap()
                    .path(),
            );
            let hb = common::render_layers(&r_hostile, common::epoch()).unwrap();
            let b = lines(hb.path());
            if what == "settings.mumble.welcome" {
                // Quoted for Qt's ini reader: the quote and backslash escaped.
                let ini = std::fs::read_to_string(hb.path().join("etc/mumble-server.ini")).unwrap();
                assert!(ini.contains(r#"welcometext="a'b\"c\\d $(id) `x""#), "{ini}");
            }
            assert_eq!(a.len(), b.len(), "{what}: files differ");
            for (p, n) in &a {
                assert_eq!(
                    b.get(p),
                    Some(n),
                    "{what}: {} gained or lost lines",
                    p.display()
                );
            }
            checked.push(what);
        }
    }
    eprintln!("hostile value rendered for {checked:?}; refused by the schema for {refused:?}");
    assert!(
        checked.len() + refused.len() >= 12,
        "{checked:?} {refused:?}"
    );
    for s in [
        "settings.base.welcome",
        "settings.hotspot.ssid",
        "settings.portal.contact",
    ] {
        assert!(
            checked.iter().any(|c| c == s),
            "{s} not checked: {checked:?}"
        );
    }
}

/// Where the power is cut, in the order the chain of boots meets them: the
/// first console line of the boot matching the pattern, then the delay.
/// Until its last step, first boot starts over at every boot, so each of
/// its points comes again after a cut; then clic.txt's points (until it is
/// applied), then the box at rest and writes to agora's database.
const CUTS: &[(&str, u64)] = &[
    // First boot: locks and shadow lines, then the partition and filesystem
    // growing.
    (r"Starting clic-firstboot", 0),
    (r"Starting clic-firstboot", 400),
    (r"clic-firstboot: root partition", 0),
    // ext4 growing, the SSH host key (ed25519: milliseconds) and what
    // follows.
    (r"clic-firstboot: root partition", 1500),
    (r"clic-firstboot: root partition", 3000),
    (r"clic-firstboot: SSH host key (made|kept)", 0),
    // ssl-cert's TLS pair (pulled in by the chat layer), the account.
    (r"clic-firstboot: SSH host key (made|kept)", 2000),
    // The admin account: useradd, chpasswd (yescrypt), the web hash, the
    // password on the card.
    (r"clic-firstboot: ssh host key \(ED25519\)", 0),
    (r"clic-firstboot: ssh host key \(ED25519\)", 300),
    (r"password / mot de passe: ", 0),
    (r"clic-firstboot: admin account .* made", 0),
    (r"clic-firstboot: done", 0),
    // clic.txt, once first boot is done.
    (r"clic-firstboot: applying", 0),
    (r"clic-firstboot: host name: ", 0),
    (r"clic-firstboot: Wi-Fi network name", 0),
    (r"clic-firstboot: clic.txt applied", 0),
    // The box up, at rest.
    (r"clic-ready:.*memory", 0),
];

/// The points of [`CUTS`] `make test` cuts at, spread over first boot (its
/// start, the filesystem growing, the host key, the password shown, the
/// account, the stamp), clic.txt (applying, applied) and the box at rest:
/// with the write cuts, 12 power cuts, about 15 minutes under emulation on
/// 2 cores. `CLIC_POWER_CUTS=all` (`make test-power`) cuts at every point
/// of [`CUTS`]: 20 cuts.
const QUICK_CUTS: &[usize] = &[0, 3, 5, 9, 10, 11, 12, 15, 16];

/// The cut points of this run (see [`QUICK_CUTS`]).
fn cut_points() -> Vec<(&'static str, u64)> {
    if std::env::var("CLIC_POWER_CUTS").as_deref() == Ok("all") {
        CUTS.to_vec()
    } else {
        QUICK_CUTS.iter().map(|&i| CUTS[i]).collect()
    }
}

/// Power cuts during writes to agora's database: after this many polls
/// were acknowledged (agora takes 40 writes at once from one address).
const WRITE_CUTS: &[usize] = &[5, 25];

/// Lines the box must never show after a cut.
const BROKEN: &[&str] = &[
    "emergency mode",
    "Kernel panic",
    "Give root password",
    "UNEXPECTED INCONSISTENCY",
    "could not create the account",
    "could not set the password",
];

/// Panics naming the first of [`BROKEN`] on the console of boot `tag`.
fn assert_not_broken(tag: &str, serial: &str) {
    for b in BROKEN {
        assert!(
            !serial.contains(b),
            "{tag}: `{b}` on the console after a power cut:\n{}",
            tail(serial, 60)
        );
    }
}

/// A `clic boot` child, Ctrl-C'd (QEMU stopped) if a check panics while
/// it runs.
struct Booting(std::process::Child);

impl Drop for Booting {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = Command::new("kill")
                .args(["-INT", &self.0.id().to_string()])
                .status();
            let _ = self.0.wait();
        }
    }
}

/// Boot `img` (writes kept) with QMP on, wait for the first console line
/// matching `after`, `delay_ms` more, then cut the power; the serial log.
/// With `during`, it is called once the line was seen (with the box's
/// HTTP port), and the power is cut when it returns. `usb`: a USB stick
/// plugged in.
fn boot_and_cut(
    img: &Path,
    tag: &str,
    after: &str,
    delay_ms: u64,
    during: Option<&dyn Fn(u16)>,
    usb: Option<&Path>,
) -> (String, bool) {
    let dir = work().join("powercut");
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join(format!("{tag}.qmp"));
    let log = dir.join(format!("serial-{tag}.log"));
    let err = dir.join(format!("clic-boot-{tag}.err"));
    let _ = std::fs::remove_file(&sock);
    let port = common::free_port();
    let mut c = clic();
    c.arg("boot")
        .arg(img)
        .args(["--persist", "--until", "clic-test: never printed"])
        .args(["--timeout", "900", "--quiet"])
        .args(["--forward", &format!("127.0.0.1:{port}:80")])
        .args(usb.map(|u| [Path::new("--usb"), u]).into_iter().flatten())
        .arg("--qmp")
        .arg(&sock)
        .arg("--log")
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut child = Booting(c.spawn().unwrap());
    let mut qmp = common::qmp::connect_when_ready(&sock, std::time::Duration::from_secs(120));
    let re = Regex::new(after).unwrap();
    let ready = Regex::new(READY).unwrap();
    let start = std::time::Instant::now();
    let hit = loop {
        let text = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
        if re.is_match(&text) {
            break true;
        }
        // The step this cut aims at is past (an earlier boot got further
        // than its cut was meant to let it): cut at rest instead.
        if ready.is_match(&text) {
            break false;
        }
        assert_not_broken(tag, &text);
        if let Ok(Some(st)) = child.0.try_wait() {
            panic!(
                "{tag}: clic boot ended ({st}) before `{after}`:\n{}\n{}",
                tail(&std::fs::read_to_string(&err).unwrap_or_default(), 10),
                tail(&text, 60)
            );
        }
        assert!(
            start.elapsed().as_secs() < 600,
            "{tag}: `{after}` not on the console after 600 s:\n{}",
            tail(&text, 60)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    if hit {
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
    }
    if let Some(f) = during {
        f(port);
    }
    qmp.power_cut();
    let _ = child.0.wait();
    if hit {
        println!(
            "{tag}: power cut {} s into the boot, {delay_ms} ms after `{after}`",
            start.elapsed().as_secs()
        );
    } else {
        println!(
            "{tag}: power cut {} s into the boot, at rest: `{after}` never came (its step was done at an earlier boot)",
            start.elapsed().as_secs()
        );
    }
    let serial = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
    assert_not_broken(tag, &serial);
    (serial, hit)
}

/// The box's line once it is up and at rest.
const READY: &str = r"clic-ready:.*memory";

/// A new poll made over plain HTTP as a new device; its id if the box
/// said it was made (the page naming its link), None if the connection
/// broke or it was refused.
fn http_new_poll(port: u16, title: &str) -> Option<String> {
    use common::http;
    let t = std::time::Duration::from_secs(30);
    let page = http::request(port, "GET", "/agora/p/new", &[], b"", t).ok()?;
    if page.status != 200 {
        return None;
    }
    let cookie = page
        .headers_named("set-cookie")
        .filter_map(|c| c.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ");
    let csrf = http::csrf_token(&page.text())?;
    let body = http::form(&[
        ("csrf", &csrf),
        ("title", title),
        ("description", ""),
        ("kind", "single"),
        ("options", "oui\nnon"),
    ]);
    let r = http::request(
        port,
        "POST",
        "/agora/p/new",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &cookie),
        ],
        body.as_bytes(),
        t,
    )
    .ok()?;
    if r.status != 200 {
        return None;
    }
    Regex::new(r#"id="poll-link" href="/agora/p/([A-Za-z0-9_-]+)""#)
        .unwrap()
        .captures(&r.text())
        .map(|c| c[1].to_owned())
}

/// Polls made by 4 devices at once until `n` were acknowledged; their ids.
fn make_polls(port: u16, n: usize, round: usize) -> Vec<String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let made = Arc::new(Mutex::new(Vec::new()));
    let next = Arc::new(AtomicUsize::new(0));
    let lanes: Vec<_> = (0..4)
        .map(|_| {
            let (made, next) = (made.clone(), next.clone());
            std::thread::spawn(move || loop {
                if made.lock().unwrap().len() >= n {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                assert!(i < 10 * n, "fewer than {n} polls made in {i} tries");
                if let Some(id) = http_new_poll(port, &format!("coupure {round}-{i}")) {
                    made.lock().unwrap().push(id);
                }
            })
        })
        .collect();
    for l in lanes {
        l.join().unwrap();
    }
    let v = made.lock().unwrap().clone();
    v
}

/// Every content item of the default spec served at its link with its
/// pinned sha256.
fn content_items_match(b: &RunningBox) {
    let r = common::resolve(&repo(), &repo().join(SPEC)).unwrap();
    let cat = clic::content::catalogue::catalogue(&r.content, &vec![false; r.content.len()]);
    let items: Vec<_> = cat.packs.iter().flat_map(|p| &p.items).collect();
    assert!(!items.is_empty());
    for item in items {
        let (status, body) = b.get(&item.link);
        assert_eq!(status, 200, "{}", item.link);
        assert_eq!(
            common::sha256_hex(&body),
            item.sha256,
            "{} after the power cuts",
            item.link
        );
    }
}

/// Power cuts at 12 points (20 with `CLIC_POWER_CUTS=all`, `make
/// test-power`): over first boot (locks, partition growth, host keys, the
/// admin account, its password on the card, the stamp), over clic.txt
/// being applied, at rest, during writes to agora's database and during a
/// copy from a USB stick.
/// After each the box boots again (checked by the next boot reaching its
/// point, with no emergency shell or failed step on the console); at the
/// end it serves the portal and every content item with its sha256, every
/// acknowledged poll is there, the password on the card is the admin's,
/// the host keys load, clic.txt was applied once and the root filesystem
/// is clean.
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn power_cuts_over_first_boot_and_writes_leave_a_box_that_boots_and_serves() {
    let (esp_start, _) = partition("esp");
    let img = copy_image("powercut");
    let _tidy = common::Tidy::new(&img);
    // Written to a bigger disk, so that first boot grows the root.
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.set_len(f.metadata().unwrap().len() + 256 * 1048576)
        .unwrap();
    drop(f);
    let txt = work().join("powercut-clic.txt");
    std::fs::write(
        &txt,
        "hostname=coupures\r\nssid=Coupures de courant\r\npassphrase=panneau-solaire-12\r\n",
    )
    .unwrap();
    let fat = format!("{}@@{esp_start}", img.display());
    run({
        let mut c = Command::new("mcopy");
        c.args(["-o", "-i", &fat]).arg(&txt).arg("::/clic.txt");
        c
    });
    let started = std::time::Instant::now();
    let mut last_first_boot = String::new();
    let mut on_their_step = 0;
    let cuts = cut_points();
    for (i, (after, delay)) in cuts.iter().enumerate() {
        let (serial, hit) = boot_and_cut(&img, &format!("cut-{i:02}"), after, *delay, None, None);
        if serial.contains("password / mot de passe: ") {
            last_first_boot = serial;
        }
        on_their_step += usize::from(hit);
    }
    // A cut that found its step already done (a boot got further than
    // planned) still cuts, at rest; most must land where they aim.
    assert!(
        on_their_step >= cuts.len() - cuts.len() / 4,
        "only {on_their_step} of {} cuts landed on their step",
        cuts.len()
    );
    let mut polls = Vec::new();
    for (round, n) in WRITE_CUTS.iter().enumerate() {
        let i = cuts.len() + round;
        let made = std::sync::Mutex::new(Vec::new());
        let write = |port: u16| made.lock().unwrap().extend(make_polls(port, *n, round));
        boot_and_cut(&img, &format!("cut-{i:02}"), READY, 0, Some(&write), None);
        polls.extend(made.into_inner().unwrap());
    }
    // A cut while the admin console copies a large file from a USB stick.
    let (stick, big_sha) = big_stick(&work().join("powercut"));
    let _stick_tidy = common::Tidy::new(&stick);
    let password = common::admin_password_from_card(&img);
    let import = |port: u16| {
        let done = admin_import_started(port, &password);
        println!("import cut: the copy was at {done} when the power was cut");
    };
    boot_and_cut(
        &img,
        &format!("cut-{:02}", cuts.len() + WRITE_CUTS.len()),
        READY,
        0,
        Some(&import),
        Some(&stick),
    );
    assert_eq!(CUTS.len() + WRITE_CUTS.len() + 1, 20);
    println!(
        "{} power cuts in {} s; {} polls acknowledged",
        cuts.len() + WRITE_CUTS.len() + 1,
        started.elapsed().as_secs(),
        polls.len()
    );

    after_the_cuts(&img, &polls, &last_first_boot, &big_sha);
}

/// A FAT stick holding one 64 MiB file (seeded bytes), large enough that
/// the box copies it for seconds; (the stick's image, the file's sha256).
fn big_stick(dir: &Path) -> (PathBuf, String) {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join(BIG_FILE);
    let mut bytes = vec![0u8; 64 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in bytes.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(&file, &bytes).unwrap();
    let sha = common::sha256_hex(&bytes);
    let stick = dir.join("big-stick.img");
    let _ = std::fs::remove_file(&stick);
    run({
        let mut c = Command::new("mkfs.vfat");
        c.args(["-n", "CLE-USB", "-C"]).arg(&stick).arg("90000");
        c
    });
    run({
        let mut c = Command::new("mcopy");
        c.arg("-i").arg(&stick).arg(&file).arg("::/");
        c
    });
    let _ = std::fs::remove_file(&file);
    (stick, sha)
}

const BIG_FILE: &str = "gros-fichier.bin";

/// Logged in to the admin console over plain HTTP with `password`, the
/// stick opened and its file imported: returns once the copy is under
/// way, with its progress ("done/total" bytes) as the console shows it.
fn admin_import_started(port: u16, password: &str) -> String {
    use common::http;
    let t = std::time::Duration::from_secs(30);
    let mut cookies: Vec<String> = Vec::new();
    let mut call = |method: &str, path: &str, form: &[(&str, &str)]| -> (u16, String) {
        let cookie = cookies.join("; ");
        let body = http::form(form);
        let mut headers = vec![("Cookie", cookie.as_str())];
        if method == "POST" {
            headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        }
        let r = http::request(port, method, path, &headers, body.as_bytes(), t)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        for c in r.headers_named("set-cookie") {
            let pair = c.split(';').next().unwrap_or("").to_owned();
            let name = pair.split('=').next().unwrap_or("").to_owned();
            cookies.retain(|k| k.split('=').next() != Some(name.as_str()));
            cookies.push(pair);
        }
        (r.status, r.text())
    };
    let csrf_of = |page: &str| -> String {
        http::csrf_token(page)
            .unwrap_or_else(|| panic!("no CSRF token on the page:\n{}", tail(page, 20)))
    };
    let (_, page) = call("GET", "/admin/", &[]);
    let csrf = csrf_of(&page);
    let (status, page) = call(
        "POST",
        "/admin/login",
        &[("csrf", &csrf), ("password", password)],
    );
    assert!(
        status == 303 || status == 200,
        "login: {status}\n{}",
        tail(&page, 20)
    );
    // The stick, as the console lists it.
    let path_re = Regex::new(r#"name="path" value="([^"]+)""#).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let (page, path) = loop {
        let (_, page) = call("GET", "/admin/usb", &[]);
        let path = path_re.captures(&page).map(|c| c[1].to_owned());
        if let Some(p) = path {
            break (page, p);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stick is not listed by the admin console:\n{}",
            tail(&page, 30)
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
    };
    let csrf = csrf_of(&page);
    call(
        "POST",
        "/admin/usb/open",
        &[("csrf", &csrf), ("stick", "0"), ("path", &path)],
    );
    let (_, page) = call("GET", "/admin/usb", &[]);
    assert!(
        page.contains(BIG_FILE),
        "{BIG_FILE} not offered:\n{}",
        tail(&page, 30)
    );
    let csrf = csrf_of(&page);
    call(
        "POST",
        "/admin/usb/import",
        &[("csrf", &csrf), ("item", "0")],
    );
    // Under way: some bytes copied, not all.
    let progress = Regex::new(r#"id="import-progress" max="(\d+)" value="(\d+)""#).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, page) = call("GET", "/admin/usb", &[]);
        if let Some(c) = progress.captures(&page) {
            let (total, done): (u64, u64) = (c[1].parse().unwrap(), c[2].parse().unwrap());
            assert!(
                done < total,
                "the import ended before the cut could land in it"
            );
            if done > 0 {
                return format!("{done}/{total}");
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the import did not start:\n{}",
            tail(&page, 30)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// What must hold once the power was cut at every point.
fn after_the_cuts(img: &Path, polls: &[String], last_first_boot: &str, big_sha: &str) {
    let (root_start, _) = partition("root");
    let (esp_start, _) = partition("esp");
    let fat = format!("{}@@{esp_start}", img.display());
    let b = start_box(img, "after-cuts", "512M", &[]);
    assert!(b.page("/").contains("<html"), "the portal after the cuts");
    content_items_match(&b);
    for id in polls {
        let (status, _) = b.get(&format!("/agora/p/{id}"));
        assert_eq!(status, 200, "acknowledged poll {id} lost in a power cut");
    }
    // The file whose import was cut: not there, or whole.
    let (status, body) = b.get(&format!("/files/{BIG_FILE}"));
    assert!(
        status == 404 || (status == 200 && common::sha256_hex(&body) == big_sha),
        "{BIG_FILE} after a cut during its import: HTTP {status}, {} bytes",
        body.len()
    );
    let serial = b.stop();
    assert_not_broken("after-cuts", &serial);
    assert!(
        !serial.contains("clic-firstboot: admin account"),
        "first boot ran again after it was done:\n{}",
        tail(&serial, 40)
    );

    // The card: the password it shows is the admin's, once.
    let password = common::admin_password_from_card(img);
    assert!(
        last_first_boot.contains(&format!("password / mot de passe: {password}")),
        "the card's password is not the one the last first boot showed"
    );
    let applied = clic_txt_applied(&fat);
    assert!(applied.contains("hostname=coupures"), "{applied}");

    let root = RootFs::extract(img, root_start);
    let fsck = Command::new("e2fsck")
        .arg("-fn")
        .arg(&root.0)
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "the root filesystem after the power cuts:\n{}{}",
        String::from_utf8_lossy(&fsck.stdout),
        common::stderr(&fsck)
    );
    check_shadow(&root.cat("/etc/shadow"), &password);
    let web = root.cat("/var/lib/clic/admin-web.hash");
    assert_eq!(crypt(&password, web.trim()), web.trim(), "web login hash");
    assert_eq!(root.cat("/etc/hostname"), "coupures\n");
    assert!(root.cat("/var/lib/clic/firstboot-done").starts_with("20"));
    for lock in ["passwd.lock", "shadow.lock", "group.lock", "gshadow.lock"] {
        assert!(
            !root.ls("/etc").contains(&lock.to_owned()),
            "/etc/{lock} left"
        );
    }
    let keys: Vec<String> = root
        .ls("/etc/ssh")
        .into_iter()
        .filter(|n| n.starts_with("ssh_host_") && n.ends_with("_key"))
        .collect();
    assert_eq!(keys, ["ssh_host_ed25519_key"], "host keys");
    for k in keys {
        let file = work().join(format!("powercut-{k}"));
        std::fs::write(&file, root.cat(&format!("/etc/ssh/{k}"))).unwrap();
        run({
            let mut c = Command::new("chmod");
            c.arg("600").arg(&file);
            c
        });
        let public = sh("ssh-keygen", &["-y", "-f", file.to_str().unwrap()]);
        let stored = root.cat(&format!("/etc/ssh/{k}.pub"));
        assert_eq!(
            public.split_whitespace().nth(1),
            stored.split_whitespace().nth(1),
            "{k} and its .pub after the power cuts"
        );
        let _ = std::fs::remove_file(file);
    }
    // TLS pairs made on the device (ssl-cert's, prosody's): whole, and the
    // key is the certificate's.
    for (key, cert) in [
        (
            "/etc/ssl/private/ssl-cert-snakeoil.key",
            "/etc/ssl/certs/ssl-cert-snakeoil.pem",
        ),
        ("/etc/prosody/certs/clic.key", "/etc/prosody/certs/clic.crt"),
    ] {
        let public = |path: &str, args: &[&str]| {
            let file = work().join("powercut-tls.pem");
            std::fs::write(&file, root.cat(path)).unwrap();
            let mut c = Command::new("openssl");
            c.args(args).arg(&file);
            let out = run(c).stdout;
            let _ = std::fs::remove_file(file);
            out
        };
        assert_eq!(
            public(key, &["pkey", "-pubout", "-in"]),
            public(cert, &["x509", "-noout", "-pubkey", "-in"]),
            "{key} and {cert} after the power cuts"
        );
    }
    drop(root);
    let _ = std::fs::remove_file(img);
}
