//! Bad inputs, one table: specs, layer.toml files, board profiles and
//! content packs that `clic check` must refuse, each with the file, line
//! and key its diagnostic must name. Fast (only `clic check`, no root, no
//! network): not ignored.
//!
//! Each case writes its input into a new directory under target/tmp/:
//! a spec (`spec.toml`), and for layer and profile cases a copy of the
//! repository's profiles/ and overlays/ with one file broken (`--data`).
//! `clic check` must exit 2 within seconds, print `FILE:LINE:` and the key,
//! never panic, and write nothing: its `--cache` is not created and its
//! working directory gets no `out/`. The line is given as a piece of text:
//! the first line of the file holding it. `clic.txt` is checked by the unit
//! tests of box/settings, not here.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every spec case starts from this spec, which passes (see
/// `the_base_spec_passes`): every layer, so every setting can be tried.
const BASE_SPEC: &str = r#"name = "bad-input"
board = "ordinosaure-amd64"
suite = "bookworm"
layers = ["base", "hotspot", "captive-portal", "firstboot", "kiwix", "portal", "chat", "mumble", "files", "yunohost", "wiki"]
"#;

/// A pack that passes, for the pack cases (`content = ["pack.toml"]`).
const GOOD_PACK: &str = r#"id = "essai"
title = "Essai"
description = "Un pack d'essai"
languages = ["fr"]

[[items]]
id = "guide"
title = "Guide"
language = "fr"
kind = "pdf"
licence = "CC-BY-SA-4.0"
attribution = "Projet CLIC!"
source = "https://example.org/guide.pdf"
sha256 = "38f2be3194c0877d4bfa1f285c123266188e576a1352cd11616fbcde2c253d1d"
size = 3536
"#;

/// What a case breaks.
enum Input {
    /// The base spec with these TOML lines: top-level `key = value` lines
    /// replace the base's line of that key (or are added), the rest (tables)
    /// is appended.
    Spec(&'static str),
    /// A file of the data directory (`overlays/hotspot/layer.toml`), with
    /// `old` replaced by `new` (`old` empty: `new` appended); the spec is
    /// the base spec.
    Data {
        file: &'static str,
        old: &'static str,
        new: &'static str,
    },
    /// The good pack, `old` replaced by `new`, as `pack.toml` next to the
    /// spec, which takes it as its content.
    Pack {
        old: &'static str,
        new: &'static str,
    },
}

struct Case {
    name: &'static str,
    input: Input,
    /// The end of the file name the diagnostic names.
    file: &'static str,
    /// Text on the line the diagnostic points at (its first line holding
    /// it, in that file); empty: line 1.
    line_of: &'static str,
    /// Part of the key the diagnostic names.
    key: &'static str,
}

impl Case {
    /// The diagnostic is about this file (the spec: `spec.toml`), not the
    /// one the case breaks.
    fn reported_in(mut self, file: &'static str) -> Case {
        self.file = file;
        self
    }
}

fn spec(name: &'static str, toml: &'static str, line_of: &'static str, key: &'static str) -> Case {
    Case {
        name,
        input: Input::Spec(toml),
        file: "spec.toml",
        line_of,
        key,
    }
}

fn data(
    name: &'static str,
    file: &'static str,
    old: &'static str,
    new: &'static str,
    line_of: &'static str,
    key: &'static str,
) -> Case {
    Case {
        name,
        input: Input::Data { file, old, new },
        file,
        line_of,
        key,
    }
}

fn pack(
    name: &'static str,
    old: &'static str,
    new: &'static str,
    line_of: &'static str,
    key: &'static str,
) -> Case {
    Case {
        name,
        input: Input::Pack { old, new },
        file: "pack.toml",
        line_of,
        key,
    }
}

const HOTSPOT: &str = "overlays/hotspot/layer.toml";
const KIWIX: &str = "overlays/kiwix/layer.toml";
const CHAT: &str = "overlays/chat/layer.toml";
const BOARD: &str = "profiles/ordinosaure-amd64.toml";
const HOTSPOT_ENV: &str = "overlays/hotspot/root/etc/clic/hotspot.env.tera";

#[rustfmt::skip] // A table: one case per line.
fn spec_cases() -> Vec<Case> {
    vec![
        // The spec itself.
        spec("name with capitals and a space", r#"name = "Bad Name""#, "name =", "name"),
        spec("name as a path", r#"name = "../evil""#, "name =", "name"),
        spec("empty name", r#"name = """#, "name =", "name"),
        spec("board as a path", r#"board = "../profiles/rpi3""#, "board =", "board"),
        spec("absolute board path", r#"board = "/etc/passwd""#, "board =", "board"),
        spec("unknown board", r#"board = "rpi9""#, "board =", "board"),
        spec("unknown suite", r#"suite = "sid""#, "suite =", "suite"),
        spec("layer as a path", r#"layers = ["base", "../overlays/hotspot"]"#, "layers =", "layers[1]"),
        spec("unknown layer", r#"layers = ["base", "nope"]"#, "layers =", "layers[1]"),
        spec("layer twice", r#"layers = ["base", "base"]"#, "layers =", "layers[1]"),
        spec("unknown top-level key", r#"colour = "red""#, "colour", "colour"),
        spec("name of the wrong type", "name = 3", "name =", "name"),
        spec("packages as a string", r#"packages = "nginx""#, "packages =", "packages"),
        spec("bad package name", r#"packages = ["Nginx"]"#, "packages =", "packages[0]"),
        spec("package with a space", r#"packages = ["rm -rf"]"#, "packages =", "packages[0]"),
        spec("mirror not a URL", r#"mirror = "ftp.debian.org""#, "mirror =", "mirror"),
        spec("mirror with a newline", "mirror = \"http://deb.debian.org/debian\\ndeb http://evil.example/ x main\"", "mirror =", "mirror"),
        spec("missing overlay directory", r#"overlays = ["nope"]"#, "overlays =", "overlays[0]"),
        spec("missing content pack", r#"content = ["nope"]"#, "content =", "content[0]"),
        // [system]
        spec("unknown key in [system]", "[system]\nhost = \"x\"", "host =", "host"),
        spec("hostname with a space", "[system]\nhostname = \"clic box\"", "hostname =", "system.hostname"),
        spec("hostname starting with -", "[system]\nhostname = \"-clic\"", "hostname =", "system.hostname"),
        spec("hostname of 64 letters", "[system]\nhostname = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", "hostname =", "system.hostname"),
        spec("time zone Mars/Olympus", "[system]\ntimezone = \"Mars/Olympus\"", "timezone =", "system.timezone"),
        spec("time zone as a path", "[system]\ntimezone = \"../../etc/passwd\"", "timezone =", "system.timezone"),
        spec("locale french", "[system]\nlocale = \"french\"", "locale =", "system.locale"),
        spec("locale without codeset", "[system]\nlocale = \"fr_FR\"", "locale =", "system.locale"),
        // Settings: layers and keys.
        spec("settings of an unknown layer", "[settings.nope]\nx = 1", "[settings.nope]", "settings.nope"),
        spec("unknown setting", "[settings.hotspot]\nfoo = 1", "foo =", "settings.hotspot.foo"),
        spec("a float value", "[settings.kiwix]\nthreads = 2.5", "threads =", "settings.kiwix.threads"),
        spec("a table value", "[settings.hotspot]\nssid = { a = 1 }", "ssid =", "settings.hotspot.ssid"),
        // Hotspot.
        spec("SSID of 33 bytes", "[settings.hotspot]\nssid = \"abcdefghijklmnopqrstuvwxyz0123456\"", "ssid =", "settings.hotspot.ssid"),
        spec("SSID of 20 accented letters (40 bytes)", "[settings.hotspot]\nssid = \"éééééééééééééééééééé\"", "ssid =", "settings.hotspot.ssid"),
        spec("SSID with a newline", "[settings.hotspot]\nssid = \"CLIC\\nx\"", "ssid =", "settings.hotspot.ssid"),
        spec("empty SSID", "[settings.hotspot]\nssid = \"\"", "ssid =", "settings.hotspot.ssid"),
        spec("SSID as a number", "[settings.hotspot]\nssid = 42", "ssid =", "settings.hotspot.ssid"),
        spec("5-char WPA2 passphrase", "[settings.hotspot]\npassphrase = \"abcde\"", "passphrase =", "settings.hotspot.passphrase"),
        spec("passphrase with accents", "[settings.hotspot]\npassphrase = \"motdepasseé\"", "passphrase =", "settings.hotspot.passphrase"),
        spec("passphrase of 64 characters", "[settings.hotspot]\npassphrase = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", "passphrase =", "settings.hotspot.passphrase"),
        spec("channel 0", "[settings.hotspot]\nchannel = 0", "channel =", "settings.hotspot.channel"),
        spec("channel 15", "[settings.hotspot]\nchannel = 15", "channel =", "settings.hotspot.channel"),
        spec("channel as a string", "[settings.hotspot]\nchannel = \"6\"", "channel =", "settings.hotspot.channel"),
        spec("channel 14 with country FR", "[settings.hotspot]\nchannel = 14\ncountry = \"FR\"", "channel =", "settings.hotspot.channel"),
        spec("country France", "[settings.hotspot]\ncountry = \"France\"", "country =", "settings.hotspot.country"),
        spec("country in lower case", "[settings.hotspot]\ncountry = \"fr\"", "country =", "settings.hotspot.country"),
        spec("address without prefix", "[settings.hotspot]\naddress = \"10.42.0.1\"", "address =", "settings.hotspot.address"),
        spec("address 300.1.1.1/24", "[settings.hotspot]\naddress = \"300.1.1.1/24\"", "address =", "settings.hotspot.address"),
        spec("prefix /8, below the layer's 16", "[settings.hotspot]\naddress = \"10.42.0.1/8\"", "address =", "settings.hotspot.address"),
        spec("domain with spaces", "[settings.hotspot]\ndomain = \"clic lan\"", "domain =", "settings.hotspot.domain"),
        spec("domain of one label", "[settings.hotspot]\ndomain = \"clic\"", "domain =", "settings.hotspot.domain"),
        spec("DHCP range outside the subnet", "[settings.hotspot]\ndhcp_first = \"10.43.0.10\"", "dhcp_first =", "settings.hotspot.dhcp_first"),
        spec("DHCP range holding the box's address", "[settings.hotspot]\ndhcp_first = \"10.42.0.1\"", "dhcp_first =", "settings.hotspot.dhcp_first"),
        spec("DHCP range backwards", "[settings.hotspot]\ndhcp_first = \"10.42.0.200\"\ndhcp_last = \"10.42.0.100\"", "dhcp_first =", "settings.hotspot.dhcp_first"),
        spec("box address moved into the DHCP range", "[settings.hotspot]\naddress = \"10.42.0.100/24\"", "address =", "settings.hotspot"),
        spec("DHCP value with a newline", "[settings.hotspot]\ndhcp_first = \"10.42.0.10\\n\"", "dhcp_first =", "settings.hotspot.dhcp_first"),
        spec("lease time 12x", "[settings.hotspot]\ndhcp_lease = \"12x\"", "dhcp_lease =", "settings.hotspot.dhcp_lease"),
        spec("lease time of a minute", "[settings.hotspot]\ndhcp_lease = \"1m\"", "dhcp_lease =", "settings.hotspot.dhcp_lease"),
        spec("bool as a string", "[settings.hotspot]\nshare_uplink = \"yes\"", "share_uplink =", "settings.hotspot.share_uplink"),
        // Sizes and numbers.
        spec("journal below its minimum", "[settings.base]\njournal_max = \"1M\"", "journal_max =", "settings.base.journal_max"),
        spec("size with a unit clic does not know", "[settings.base]\njournal_max = \"32MB\"", "journal_max =", "settings.base.journal_max"),
        spec("size as words", "[settings.base]\njournal_max = \"lots\"", "journal_max =", "settings.base.journal_max"),
        spec("size above its maximum", "[settings.kiwix]\nmemory_max = \"8T\"", "memory_max =", "settings.kiwix.memory_max"),
        spec("size as a number", "[settings.chat]\nmemory_max = 64", "memory_max =", "settings.chat.memory_max"),
        spec("threads 0", "[settings.kiwix]\nthreads = 0", "threads =", "settings.kiwix.threads"),
        spec("threads 17", "[settings.kiwix]\nthreads = 17", "threads =", "settings.kiwix.threads"),
        spec("threads as a string", "[settings.kiwix]\nthreads = \"2\"", "threads =", "settings.kiwix.threads"),
        spec("negative users", "[settings.mumble]\nusers = -1", "users =", "settings.mumble.users"),
        // Text.
        spec("empty welcome", "[settings.base]\nwelcome = \"\"", "welcome =", "settings.base.welcome"),
        spec("title of 61 characters", "[settings.portal]\ntitle = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", "title =", "settings.portal.title"),
        spec("contact with a newline", "[settings.portal]\ncontact = \"Marie\\nrm -rf\"", "contact =", "settings.portal.contact"),
        spec("chat room with spaces", "[settings.chat]\nroom = \"Accueil général\"", "room =", "settings.chat.room"),
        spec("chat room name with a quote", "[settings.chat]\nroom_name = \"a\\\"b\"", "room_name =", "settings.chat.room_name"),
        // Accounts.
        spec("reserved system admin_user", "[settings.firstboot]\nadmin_user = \"root\"", "admin_user =", "settings.firstboot.admin_user"),
        spec("admin_user with capitals", "[settings.firstboot]\nadmin_user = \"Admin\"", "admin_user =", "settings.firstboot.admin_user"),
        spec("reserved YunoHost admin_user", "[settings.yunohost]\nadmin_user = \"admin\"", "admin_user =", "settings.yunohost.admin_user"),
        spec("SSH key that is not one", "[settings.firstboot]\nadmin_ssh_key = \"not a key\"", "admin_ssh_key =", "settings.firstboot.admin_ssh_key"),
        spec("YunoHost full name with a dollar", "[settings.yunohost]\nadmin_fullname = \"$(reboot)\"", "admin_fullname =", "settings.yunohost.admin_fullname"),
        // Lists.
        spec("app id with capitals", "[settings.yunohost]\napps = [\"Nextcloud\"]", "apps =", "settings.yunohost.apps"),
        spec("app with a shell command", "[settings.yunohost]\napps = [\"nextcloud; reboot\"]", "apps =", "settings.yunohost.apps"),
        spec("app list item not a string", "[settings.yunohost]\napps = [\"nextcloud\", 3]", "apps =", "settings.yunohost.apps"),
        spec("apps as a string", "[settings.yunohost]\napps = \"nextcloud\"", "apps =", "settings.yunohost.apps"),
        spec("bad YunoHost domain", "[settings.yunohost]\ndomain = \"Clic.Lan\"", "domain =", "settings.yunohost.domain"),
        spec("wiki editing neither lan nor accounts", "[settings.wiki]\nedit = \"everyone\"", "edit =", "settings.wiki.edit"),
        spec("wiki with too many PHP processes", "[settings.wiki]\nmax_children = 50", "max_children =", "settings.wiki.max_children"),
    ]
}

#[rustfmt::skip] // A table: one case per line.
fn layer_cases() -> Vec<Case> {
    vec![
        data("setting without type", KIWIX, "type = \"integer\"\n", "", "[settings.threads]", "type"),
        data("unknown setting type", KIWIX, "type = \"integer\"", "type = \"integr\"", "type = \"integr\"", "settings.threads.type"),
        data("min_bytes on an integer", KIWIX, "type = \"integer\"", "type = \"integer\"\nmin_bytes = 1", "[settings.threads]", "settings.threads.min_bytes"),
        data("default outside its own bounds", KIWIX, "default = 2\n", "default = 0\n", "[settings.threads]", "settings.threads"),
        data("default of the wrong type", KIWIX, "default = 2\n", "default = \"two\"\n", "[settings.threads]", "settings.threads"),
        data("setting without description", KIWIX, "description = \"kiwix-serve worker", "#", "[settings.threads]", "description"),
        data("setting name with capitals", KIWIX, "[settings.threads]", "[settings.Threads]", "[settings.Threads]", "settings.Threads"),
        data("unknown key in a setting", KIWIX, "min = 1\n", "min = 1\ncolour = \"red\"\n", "colour", "colour"),
        data("broken pattern", CHAT, "pattern = \"[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?\"", "pattern = \"[a-z0-9\"", "[settings.room]", "settings.room.pattern"),
        data("a default its own rules refuse", HOTSPOT, "default = \"10.42.0.10\"", "default = \"10.43.0.10\"", "[[rules]]", "rules[0]"),
        data("a rule naming a missing setting", HOTSPOT, "[[rules]]\nrule = \"channel_country\"\nchannel = \"channel\"\ncountry = \"country\"", "[[rules]] # broken\nrule = \"channel_country\"\nchannel = \"channel\"\ncountry = \"pays\"", "[[rules]] # broken", "rules[1]"),
        data("a rule over a setting of the wrong type", HOTSPOT, "[[rules]]\nrule = \"channel_country\"\nchannel = \"channel\"", "[[rules]] # broken\nrule = \"channel_country\"\nchannel = \"ssid\"", "[[rules]] # broken", "rules[1]"),
        data("an unknown rule", HOTSPOT, "rule = \"channel_country\"", "rule = \"channel_colour\"", "rule = \"channel_colour\"", "rules"),
        data("unknown key in layer.toml", KIWIX, "", "colour = \"red\"\n", "colour", "colour"),
        data("needs a layer that does not exist", KIWIX, "needs = [\"base\"]", "needs = [\"base\", \"nope\"]", "layers =", "layers[4]").reported_in("spec.toml"),
        data("portal link off the box", KIWIX, "link = \"/kiwix/\"", "link = \"https://example.org/\"", "link =", "portal.link"),
        data("two layers claim one clic.txt key", KIWIX, "type = \"integer\"", "type = \"integer\"\nclic_txt = \"ssid\"", "[settings.threads]", "settings.threads.clic_txt"),
        // Pinned downloads ([[downloads]] of the chat layer: converse.js).
        data("download from an ftp URL", CHAT, "url = \"https://registry.npmjs.org/", "url = \"ftp://registry.npmjs.org/", "url = \"ftp:", "downloads[0].url"),
        data("download with a short sha256", CHAT, "sha256 = \"634f31fa0f7b0e47f1abc60d870ff6805c737577399920ebe92da4c7e5bcaff0\"", "sha256 = \"634f\"", "sha256 = \"634f\"", "downloads[0].sha256"),
        data("download of size 0", CHAT, "size = 8745393", "size = 0", "size = 0", "downloads[0].size"),
        data("download unpacked as zip", CHAT, "unpack = \"tar\"", "unpack = \"zip\"", "unpack = \"zip\"", "downloads[0].unpack"),
        data("download including outside the archive", CHAT, "\"LICENSE\",", "\"../LICENSE\",", "\"../LICENSE\"", "downloads[0].include[0]"),
        data("download to a relative dest", CHAT, "dest = \"/usr/share/clic/converse\"", "dest = \"usr/share/clic/converse\"", "dest = \"usr/", "downloads[0].dest"),
        data("download with a non-SPDX licence", CHAT, "licence = \"MPL-2.0\"", "licence = \"MPL 2\"", "licence = \"MPL 2\"", "downloads[0].licence"),
        data("download with an unknown key", CHAT, "strip = 1\n", "strip = 1\nstrip_components = 1\n", "strip_components", "strip_components"),
        data("strip on a file that is not unpacked", CHAT, "unpack = \"tar\"\n", "", "strip = 1", "downloads[0].strip"),
        // Templates: every one of the chosen layers renders in clic check.
        data("template with an unknown variable", HOTSPOT_ENV, "{{ h.share_uplink }}", "{{ h.share_uplnk }}", "h.share_uplnk", "template"),
        data("template with an unknown filter", HOTSPOT_ENV, "{{ h.address }}", "{{ h.address | nofilter }}", "nofilter", "template"),
        data("template with a syntax error", HOTSPOT_ENV, "HOTSPOT_ADDRESS={{ h.address }}", "HOTSPOT_ADDRESS={{ h.address", "HOTSPOT_IP=", "template"),
        // Board profiles.
        data("broken board TOML", BOARD, "", "[qemu-broken\n", "[qemu-broken", ""),
        data("unknown architecture", BOARD, "arch = \"amd64\"", "arch = \"sparc\"", "arch = \"sparc\"", "arch"),
        data("unknown key in a board", BOARD, "", "colour = \"red\"\n", "colour", "colour"),
        data("components without main", BOARD, "arch = \"amd64\"", "arch = \"amd64\"\ncomponents = [\"contrib\"]", "components =", "components"),
    ]
}

#[rustfmt::skip] // A table: one case per line.
fn pack_cases() -> Vec<Case> {
    vec![
        pack("sha256 too short", "sha256 = \"38f2", "sha256 = \"38f", "sha256 =", "items[0].sha256"),
        pack("sha256 not hex", "sha256 = \"38f2", "sha256 = \"zzf2", "sha256 =", "items[0].sha256"),
        pack("not an SPDX licence", "licence = \"CC-BY-SA-4.0\"", "licence = \"Free for all\"", "licence =", "items[0].licence"),
        pack("no licence", "licence = \"CC-BY-SA-4.0\"\n", "", "id = \"guide\"", "items[0].licence"),
        pack("unknown kind", "kind = \"pdf\"", "kind = \"exe\"", "kind =", "items[0].kind"),
        pack("plain http source", "https://example.org", "http://example.org", "source =", "items[0].source"),
        pack("source outside the pack", "https://example.org/guide.pdf", "../../../etc/passwd", "source =", "items[0].source"),
        pack("language not in the pack's", "language = \"fr\"", "language = \"de\"", "language =", "items[0].language"),
        pack("bad pack id", "id = \"essai\"", "id = \"Essai Pack\"", "id = \"Essai", "id"),
        pack("unknown key in an item", "size = 3536", "size = 3536\ncolour = \"red\"", "colour", "colour"),
    ]
}

/// Base spec with `toml` applied (see [`Input::Spec`]).
fn spec_text(toml: &str) -> String {
    let mut top: Vec<String> = BASE_SPEC.lines().map(str::to_owned).collect();
    let mut tables = String::new();
    let mut in_tables = false;
    for line in toml.lines() {
        in_tables |= line.starts_with('[');
        if in_tables {
            tables += line;
            tables.push('\n');
            continue;
        }
        let key = line.split('=').next().unwrap().trim();
        match top
            .iter_mut()
            .find(|l| l.split('=').next().unwrap().trim() == key)
        {
            Some(l) => *l = line.to_owned(),
            None => top.push(line.to_owned()),
        }
    }
    top.join("\n") + "\n" + &tables
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type().unwrap();
        if t.is_dir() {
            copy_dir(&src, &dst);
        } else if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A case's inputs, written into `dir`: (spec, data directory, the file
/// the diagnostic is about).
fn write_case(c: &Case, dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let spec = dir.join("spec.toml");
    let repo = common::repo();
    match &c.input {
        Input::Spec(t) => {
            std::fs::write(&spec, spec_text(t)).unwrap();
            (spec.clone(), repo, spec)
        }
        Input::Data { file, old, new } => {
            let data = dir.join("data");
            copy_dir(&repo.join("profiles"), &data.join("profiles"));
            copy_dir(&repo.join("overlays"), &data.join("overlays"));
            let path = data.join(file);
            let text = std::fs::read_to_string(&path).unwrap();
            let broken = if old.is_empty() {
                text.clone() + new
            } else {
                assert!(text.contains(old), "{}: {file} has no {old:?}", c.name);
                text.replacen(old, new, 1)
            };
            std::fs::write(&path, broken).unwrap();
            std::fs::write(&spec, BASE_SPEC).unwrap();
            let about = if c.file == "spec.toml" {
                spec.clone()
            } else {
                path
            };
            (spec, data, about)
        }
        Input::Pack { old, new } => {
            assert!(GOOD_PACK.contains(old), "{}: no {old:?}", c.name);
            let path = dir.join("pack.toml");
            std::fs::write(&path, GOOD_PACK.replacen(old, new, 1)).unwrap();
            std::fs::write(&spec, spec_text(r#"content = ["pack.toml"]"#)).unwrap();
            (spec, repo, path)
        }
    }
}

/// 1-based line of the first line of `file` holding `needle` (1 if empty).
fn line_of(file: &Path, needle: &str) -> usize {
    if needle.is_empty() {
        return 1;
    }
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{} has no line with {needle:?}", file.display()))
        + 1
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `clic check SPEC --data DATA --cache DIR/cache [extra]` in `dir`,
/// stopped if it runs for more than 30 s (a refusal comes in well under
/// a second; the bound leaves room for a busy machine).
fn check(dir: &Path, spec: &Path, data: &Path, extra: &[&str]) -> Run {
    let out = dir.join("check.out");
    let err = dir.join("check.err");
    let mut c = Command::new(env!("CARGO_BIN_EXE_clic"));
    c.current_dir(dir)
        .env_remove("CLIC_DATA")
        .env_remove("CLIC_CACHE")
        .arg("check")
        .arg(spec)
        .arg("--data")
        .arg(data)
        .arg("--cache")
        .arg(dir.join("cache"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut child = c.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{c:?} still runs after 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let run = Run {
        code: status.code(),
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
    };
    std::fs::remove_file(out).unwrap();
    std::fs::remove_file(err).unwrap();
    run
}

/// What is wrong with how `clic check` handled the case; empty: right.
fn run_case(c: &Case, json: bool) -> Vec<String> {
    let dir = common::fresh_dir(&format!(
        "badinput/{}{}",
        c.name.replace(|ch: char| !ch.is_ascii_alphanumeric(), "-"),
        if json { "-json" } else { "" }
    ));
    let (spec, data, about) = write_case(c, &dir);
    let line = line_of(&about, c.line_of);
    let before: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let r = check(&dir, &spec, &data, if json { &["--json"] } else { &[] });
    let mut wrong = Vec::new();
    if r.code != Some(2) {
        wrong.push(format!("exit code {:?}, not 2", r.code));
    }
    if r.stderr.contains("panicked") {
        wrong.push("panicked".into());
    }
    let after: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    if after != before {
        wrong.push(format!("wrote into its directory: {after:?}"));
    }
    if json {
        match serde_json::from_str::<serde_json::Value>(&r.stdout) {
            Err(e) => wrong.push(format!("stdout is not JSON: {e}")),
            Ok(v) => {
                if v["ok"] != false {
                    wrong.push("`ok` is not false".into());
                }
                let found = v["problems"].as_array().into_iter().flatten().any(|p| {
                    p["file"].as_str().is_some_and(|f| f.ends_with(c.file))
                        && p["line"] == line
                        && p["key"].as_str().is_some_and(|k| k.contains(c.key))
                        && p["severity"] == "error"
                });
                if !found {
                    wrong.push(format!(
                        "no problem with file …{}, line {line}, key ~{:?}",
                        c.file, c.key
                    ));
                }
            }
        }
    } else {
        let found = r.stderr.lines().any(|l| {
            l.split_once(": ").is_some_and(|(place, rest)| {
                place
                    .rsplit_once(':')
                    .is_some_and(|(fl, _col)| fl.ends_with(&format!("{}:{line}", c.file)))
                    && rest
                        .strip_prefix('`')
                        .and_then(|r| r.split_once('`'))
                        .map_or("", |(k, _)| k)
                        .contains(c.key)
            })
        });
        if !found {
            wrong.push(format!(
                "no diagnostic at …{}:{line} with key ~{:?}",
                c.file, c.key
            ));
        }
        if !r.stdout.is_empty() {
            wrong.push(format!("printed on stdout: {}", r.stdout));
        }
    }
    if wrong.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
        return wrong;
    }
    vec![format!(
        "{}: {}\n  stderr: {}\n  stdout: {}",
        c.name,
        wrong.join("; "),
        r.stderr.trim().replace('\n', "\n          "),
        common::tail(&r.stdout, 30).replace('\n', "\n          ")
    )]
}

fn run_all(cases: &[Case], json: bool) {
    let wrong: Vec<String> = cases.iter().flat_map(|c| run_case(c, json)).collect();
    assert!(
        wrong.is_empty(),
        "{} of {} bad inputs were not refused as they should be:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_base_spec_and_pack_pass() {
    for (name, toml) in [("base", ""), ("pack", r#"content = ["pack.toml"]"#)] {
        let dir = common::fresh_dir(&format!("badinput/good-{name}"));
        let spec = dir.join("spec.toml");
        std::fs::write(&spec, spec_text(toml)).unwrap();
        std::fs::write(dir.join("pack.toml"), GOOD_PACK).unwrap();
        let r = check(&dir, &spec, &common::repo(), &[]);
        assert_eq!(r.code, Some(0), "{name}: {}", r.stderr);
        assert!(!dir.join("cache").exists());
    }
}

#[test]
fn at_least_60_cases_with_distinct_names() {
    let all: Vec<Case> = [spec_cases(), layer_cases(), pack_cases()]
        .into_iter()
        .flatten()
        .collect();
    assert!(all.len() >= 60, "{}", all.len());
    let mut names: Vec<&str> = all.iter().map(|c| c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all.len(), "two cases share a name");
}

#[test]
fn bad_specs_are_refused_with_file_line_and_key() {
    run_all(&spec_cases(), false);
}

#[test]
fn bad_layers_and_boards_are_refused_with_file_line_and_key() {
    run_all(&layer_cases(), false);
}

#[test]
fn bad_packs_are_refused_with_file_line_and_key() {
    run_all(&pack_cases(), false);
}

/// A few of each kind through `clic check --json`: one JSON document on
/// stdout, `ok: false`, the problem with its file, line and key.
#[test]
fn json_reports_the_same_problems() {
    let pick = |cases: Vec<Case>, names: &[&str]| -> Vec<Case> {
        let picked: Vec<Case> = cases
            .into_iter()
            .filter(|c| names.contains(&c.name))
            .collect();
        assert_eq!(picked.len(), names.len());
        picked
    };
    let mut cases = pick(
        spec_cases(),
        &[
            "board as a path",
            "SSID of 20 accented letters (40 bytes)",
            "channel 14 with country FR",
            "time zone Mars/Olympus",
            "name of the wrong type",
        ],
    );
    cases.extend(pick(
        layer_cases(),
        &["broken pattern", "unknown architecture"],
    ));
    cases.extend(pick(pack_cases(), &["not an SPDX licence"]));
    run_all(&cases, true);
}
