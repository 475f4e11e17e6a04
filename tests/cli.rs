//! The command line on bad and good input: fast, no root, no network.
//! Malformed specs must fail before any download, with file:line and key.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{repo, stderr};

/// A refusal comes before any work: well under this even on a busy CI
/// machine, while a build that started takes minutes.
const REFUSED_WITHIN: Duration = Duration::from_secs(30);

/// `clic ARGS` run in `cwd`, with its cache there; its output and how long
/// it took.
fn clic(args: &[&str], cwd: &Path) -> (Output, Duration) {
    let t = Instant::now();
    let out = common::clic_plain(&repo())
        .args(args)
        .current_dir(cwd)
        .env("CLIC_CACHE", cwd.join("cache"))
        .output()
        .expect("run clic");
    (out, t.elapsed())
}

/// Write a spec into a temp dir and build it: it must be refused at once.
fn refused(spec: &str) -> String {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("spec.toml"), spec).unwrap();
    let (out, took) = clic(&["build", "spec.toml", "--out", "out"], t.path());
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code for a bad spec; stderr:\n{err}"
    );
    assert!(took < REFUSED_WITHIN, "refused in {took:?}: work started?");
    assert!(
        !t.path().join("out").exists(),
        "output dir created for a bad spec"
    );
    assert!(
        !t.path().join("cache").exists(),
        "cache touched for a bad spec"
    );
    assert!(err.lines().count() < 25, "error is not one screen:\n{err}");
    err
}

const GOOD: &str = r#"name = "t"
board = "ordinosaure-amd64"
suite = "bookworm"
layers = ["base"]
"#;

/// A temp dir holding `spec.toml`: the good spec for `board`.
fn spec_for(board: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("spec.toml"),
        GOOD.replace("ordinosaure-amd64", board),
    )
    .unwrap();
    t
}

/// `clic build spec.toml --out out --offline` in `dir`.
fn build_offline(dir: &Path) -> (Output, Duration) {
    clic(&["build", "spec.toml", "--out", "out", "--offline"], dir)
}

#[test]
fn bad_toml_names_file_and_line() {
    let err = refused("name = \"t\"\nboard = \"ordinosaure-amd64\"\nsuite = bookworm\n");
    assert!(err.contains("spec.toml:3:"), "{err}");
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let err = refused(&format!(
        "{GOOD}\n[system]\nhostname = \"box\"\nhostnmae = \"typo\"\n"
    ));
    assert!(err.contains("spec.toml:8:"), "{err}");
    assert!(err.contains("hostnmae"), "{err}");
}

#[test]
fn unknown_board_lists_known_boards() {
    let err = refused(&GOOD.replace("ordinosaure-amd64", "pi9000"));
    assert!(
        err.contains("spec.toml:2:9: `board`: unknown board `pi9000`"),
        "{err}"
    );
    assert!(
        err.contains("ordinosaure-amd64"),
        "hint lists boards: {err}"
    );
}

#[test]
fn missing_overlay_is_refused() {
    let err = refused(&format!("{GOOD}overlays = [\"my-files\"]\n"));
    assert!(err.contains("spec.toml:5:"), "{err}");
    assert!(err.contains("`overlays[0]`"), "{err}");
    assert!(err.contains("my-files"), "{err}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let err = refused(
        "name = \"Bad Name\"\nboard = \"ordinosaure-amd64\"\nsuite = \"sid\"\nlayers = [\"base\", \"nope\"]\npackages = [\"ok\", \"Not A Package\"]\n[system]\nhostname = \"-x\"\n",
    );
    for needle in [
        "`name`",
        "`suite`",
        "`layers[1]`",
        "`packages[1]`",
        "`system.hostname`",
    ] {
        assert!(err.contains(needle), "missing {needle} in:\n{err}");
    }
    assert!(err.contains("5 problems"), "{err}");
}

#[test]
fn unknown_layer_setting_is_refused() {
    let err = refused(&format!("{GOOD}\n[settings.base]\nwelcom = \"typo\"\n"));
    assert!(err.contains("settings.base.welcom"), "{err}");
}

#[test]
fn check_accepts_the_default_spec() {
    let (out, _) = clic(&["check", "specs/clic-ordinosaure.toml"], &repo());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("board    ordinosaure-amd64"), "{text}");
    assert!(
        text.contains("nginx") && text.contains("linux-image-amd64"),
        "{text}"
    );
}

#[test]
fn boards_lists_profiles() {
    let (out, _) = clic(&["boards"], &repo());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ordinosaure-amd64") && text.contains("amd64"),
        "{text}"
    );
}

#[test]
fn boot_refuses_a_missing_image() {
    let t = tempfile::tempdir().unwrap();
    let (out, _) = clic(&["boot", "nope.img"], t.path());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nope.img"), "{}", stderr(&out));
}

/// A board whose vendor firmware is not in the cache (and cannot be
/// fetched: --offline) or differs from its pin is refused before any work,
/// naming the file, the hash it must have and where to put it.
#[test]
fn missing_or_wrong_firmware_blob_is_refused_before_any_work() {
    let t = spec_for("odroid-xu4");
    let (out, took) = build_offline(t.path());
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(took < REFUSED_WITHIN, "refused in {took:?}");
    let dest = t
        .path()
        .join("cache/firmware/odroid-xu4/bl1.bin.hardkernel");
    for want in [
        "`odroid-xu4/bl1.bin.hardkernel`",
        "firmware/odroid-xu4.toml",
        "7b940288acfcabd9388d59b785d1527b2d5ff9aaa36e63f970e054a9b695be31",
        &dest.display().to_string(),
        "https://raw.githubusercontent.com/hardkernel/u-boot/",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    assert!(!t.path().join("out").exists(), "output dir created");

    // The wrong file where the right one should be.
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::write(&dest, b"not the Samsung-signed BL1").unwrap();
    let (out, _) = build_offline(t.path());
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("has sha256"), "{err}");
    assert!(
        err.contains("7b940288acfcabd9388d59b785d1527b2d5ff9aaa36e63f970e054a9b695be31"),
        "{err}"
    );
    assert!(err.contains(&dest.display().to_string()), "{err}");
    assert!(!t.path().join("out").exists(), "output dir created");
}

/// The C4 takes two manifests (Amlogic's FIP, Debian's u-boot source to
/// compile): a missing file of either is refused before the minutes of
/// compiling, let alone the bootstrap.
#[test]
fn odroid_c4_without_its_firmware_is_refused_before_compiling() {
    let t = spec_for("odroid-c4");
    let (out, took) = build_offline(t.path());
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(took < REFUSED_WITHIN, "refused in {took:?}");
    assert!(err.contains("`odroid-c4/"), "{err}");
    assert!(err.contains("firmware/odroid-c4.toml"), "{err}");
    assert!(!err.contains("building firmware"), "{err}");
    assert!(!t.path().join("cache/firmware/u-boot-odroid-c4").exists());
    assert!(!t.path().join("out").exists(), "output dir created");
}

/// `clic check SPEC | grep -q ...`: a reader that stops early ends the
/// printing command quietly (SIGPIPE, as any Unix tool), not with a panic.
#[test]
fn a_reader_that_stops_early_ends_check_quietly() {
    let clic = env!("CARGO_BIN_EXE_clic");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            // `true` has exited (the pipe has no reader) before clic prints.
            "{{ sleep 1; '{clic}' check specs/clic-ordinosaure.toml; }} | true; echo \"${{PIPESTATUS[0]}}\""
        ))
        .current_dir(repo())
        .env("CLIC_DATA", repo())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    // 141: ended by SIGPIPE; 0 only if `true` had not exited yet when
    // clic printed (the pipe still had a reader).
    let status = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        status == "141" || status == "0",
        "exit status {status}: {err}"
    );
}

/// Standard output carries the result, nothing else: `clic check --json`
/// prints one JSON document, exit 0 for a good spec, 2 for a bad one with
/// every problem in `problems` (file, line, column, key, message, hint,
/// severity).
#[test]
fn check_json_on_good_and_bad_specs() {
    let t = spec_for("ordinosaure-amd64");
    let (out, _) = clic(&["check", "spec.toml", "--json"], t.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(v["problems"], serde_json::json!([]));
    assert_eq!(v["resolved"]["board"], "ordinosaure-amd64");

    std::fs::write(
        t.path().join("spec.toml"),
        format!("{GOOD}hostname = \"Not A Host!\"\nboards = 1\n"),
    )
    .unwrap();
    let (out, _) = clic(&["check", "spec.toml", "--json"], t.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(v["ok"], false, "{v:#}");
    assert!(v["resolved"].is_null(), "{v:#}");
    let problems = v["problems"].as_array().unwrap();
    assert!(!problems.is_empty(), "{v:#}");
    for p in problems {
        let mut keys: Vec<&str> = p.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort();
        assert_eq!(
            keys,
            ["column", "file", "hint", "key", "line", "message", "severity"],
            "{p}"
        );
        assert_eq!(p["severity"], "error");
        assert!(p["line"].as_u64().is_some_and(|l| l >= 1), "{p}");
        assert!(p["file"].as_str().unwrap().ends_with("spec.toml"), "{p}");
    }
}

/// `clic boards --json` lists every profile of profiles/.
#[test]
fn boards_json_lists_every_profile() {
    let (out, _) = clic(&["boards", "--json"], &repo());
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let mut names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    names.sort();
    let mut want: Vec<String> = std::fs::read_dir(repo().join("profiles"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".toml").map(str::to_owned)
        })
        .collect();
    want.sort();
    assert_eq!(names, want);
    for b in v.as_array().unwrap() {
        assert!(b["arch"].as_str().is_some_and(|a| !a.is_empty()), "{b}");
        assert!(b["description"].is_string(), "{b}");
    }
}

/// `clic completions SHELL` prints a script for bash, zsh and fish on
/// stdout; bash reads the bash one without a syntax error.
#[test]
fn completions_for_bash_zsh_and_fish() {
    let t = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef clic"),
        ("fish", "complete -c clic"),
    ] {
        let (out, _) = clic(&["completions", shell], t.path());
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(marker), "{shell}:\n{text}");
        assert!(text.contains("build") && text.contains("json"), "{shell}");
        let file = t.path().join(format!("clic.{shell}"));
        std::fs::write(&file, &text).unwrap();
        if shell == "bash" {
            let o = std::process::Command::new("bash")
                .arg("-n")
                .arg(&file)
                .output()
                .unwrap();
            assert!(o.status.success(), "bash -n: {}", stderr(&o));
        }
    }
    let (out, _) = clic(&["completions", "tcsh"], t.path());
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

/// `clic man DIR` writes clic.1 and a page per command, each of which
/// `man -l` renders without a warning.
#[test]
fn man_pages_render() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("man1");
    let (out, _) = clic(&["man", dir.to_str().unwrap()], t.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(listed.len(), names.len(), "{listed:?}");
    for want in [
        "clic.1",
        "clic-build.1",
        "clic-check.1",
        "clic-boot.1",
        "clic-boards.1",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    for n in &names {
        let o = std::process::Command::new("man")
            .arg("-l")
            .arg(dir.join(n))
            .env("MANWIDTH", "80")
            .env("MAN_KEEP_FORMATTING", "0")
            .env("MANROFFOPT", "-ww")
            .output()
            .expect("man (man-db) is installed: make deps");
        let err = stderr(&o);
        assert!(o.status.success(), "man -l {n}: {err}");
        assert!(err.trim().is_empty(), "man -l {n} warns:\n{err}");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("clic"), "{n}:\n{text}");
    }
}

/// Every command's --help fits 80 columns.
#[test]
fn help_fits_80_columns() {
    let t = tempfile::tempdir().unwrap();
    for cmd in [
        "build",
        "check",
        "boot",
        "inspect",
        "flash",
        "release",
        "content",
        "boards",
        "plan",
        "completions",
    ] {
        let (out, _) = clic(&[cmd, "--help"], t.path());
        assert!(out.status.success(), "{cmd}: {}", stderr(&out));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            assert!(line.chars().count() <= 80, "{cmd} --help: {line}");
        }
    }
}

/// `clic plan --json --all-boards` for the release specs, with the cache
/// at `cache`: the document, checked against the schema
/// (tests/fixtures/plan.schema.json, by python3-jsonschema).
fn plan(specs: &[&str], cache: &Path, work: &Path) -> (serde_json::Value, Vec<u8>) {
    let o = common::clic_plain(&repo())
        .args(["plan", "--json", "--all-boards"])
        .args(specs)
        .env("CLIC_CACHE", cache)
        .output()
        .expect("run clic plan");
    assert!(o.status.success(), "clic plan: {}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("plan is JSON");
    let file = work.join("plan.json");
    std::fs::write(&file, &o.stdout).unwrap();
    assert_eq!(schema_check(&file), Ok(()), "plan against its schema");
    (doc, o.stdout)
}

/// Validate a JSON file against tests/fixtures/plan.schema.json.
fn schema_check(file: &Path) -> Result<(), String> {
    let o = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))",
        ])
        .arg(file)
        .arg(repo().join("tests/fixtures/plan.schema.json"))
        .output()
        .expect("run python3");
    if o.status.success() {
        Ok(())
    } else {
        let err = stderr(&o);
        assert!(
            err.contains("ValidationError"),
            "python3-jsonschema missing? {err}"
        );
        Err(err)
    }
}

/// A release's plan: every board of `clic boards` planned or skipped with
/// a reason for each spec, the artifacts each build writes, boards of one
/// architecture sharing one Debian tree, stable output, nothing written to
/// the cache; the tree files it names do not depend on where the cache is
/// (a cache copied to another path is warm).
#[test]
fn plan_lists_each_boards_job_and_the_trees_they_share() {
    let t = tempfile::tempdir().unwrap();
    let specs = ["specs/clic-ordinosaure.toml", "specs/clic-pi.toml"];
    let empty = t.path().join("empty-cache");
    let (doc, bytes) = plan(&specs, &empty, t.path());
    assert!(!empty.exists(), "clic plan wrote into the cache");
    assert_eq!(plan(&specs, &empty, t.path()).1, bytes, "stable output");

    // The schema does refuse a document without jobs.
    let mut broken = doc.clone();
    broken.as_object_mut().unwrap().remove("jobs");
    let f = t.path().join("broken.json");
    std::fs::write(&f, broken.to_string()).unwrap();
    assert!(
        schema_check(&f).is_err(),
        "the schema check accepts anything"
    );

    let o = common::clic_plain(&repo())
        .args(["boards", "--json"])
        .output()
        .unwrap();
    let boards: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let boards = boards.as_array().unwrap();
    let jobs = doc["jobs"].as_array().unwrap();
    let skipped = doc["skipped"].as_array().unwrap();
    let trees = doc["trees"].as_array().unwrap();
    for spec in specs {
        let mut seen: Vec<&str> = jobs
            .iter()
            .chain(skipped)
            .filter(|j| j["spec"] == spec)
            .map(|j| j["board"].as_str().unwrap())
            .collect();
        seen.sort();
        let mut all: Vec<&str> = boards.iter().map(|b| b["name"].as_str().unwrap()).collect();
        all.sort();
        assert_eq!(seen, all, "{spec}: each board planned or skipped once");
        // One shared tree per architecture and spec.
        let mut by_arch: std::collections::BTreeMap<&str, std::collections::BTreeSet<&str>> =
            Default::default();
        for j in jobs.iter().filter(|j| j["spec"] == spec) {
            by_arch
                .entry(j["arch"].as_str().unwrap())
                .or_default()
                .insert(j["tree"].as_str().unwrap());
        }
        for (arch, ids) in &by_arch {
            assert_eq!(
                ids.len(),
                1,
                "{spec}: {arch} boards do not share their tree: {ids:?}"
            );
        }
    }
    assert!(jobs.len() >= 10, "{} jobs", jobs.len());
    let pi = jobs
        .iter()
        .filter(|j| j["spec"] == specs[1] && j["arch"] == "arm64")
        .count();
    assert!(pi >= 2, "the Pi spec's arm64 boards");
    for j in jobs {
        let board = boards.iter().find(|b| b["name"] == j["board"]).unwrap();
        assert_eq!(j["arch"], board["arch"], "{j}");
        let name = j["name"].as_str().unwrap();
        let arts: Vec<&str> = j["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        for a in [
            format!("{name}.img"),
            format!("{name}.img.zst"),
            format!("{name}.img.bmap"),
            format!("{name}.manifest.json"),
            "SHA256SUMS".to_owned(),
        ] {
            assert!(arts.contains(&a.as_str()), "{j}");
        }
        let imager = !board["imager_devices"].as_array().unwrap().is_empty();
        assert_eq!(arts.contains(&"os_list.json"), imager, "{j}");
        let tree = trees
            .iter()
            .find(|t| t["id"] == j["tree"])
            .unwrap_or_else(|| panic!("{j}: no such tree"));
        assert!(tree["jobs"].as_array().unwrap().contains(&j["job"]));
        assert_eq!(tree["arch"], j["arch"]);
        // An empty cache has no package indices: no file names yet.
        assert!(tree["file"].is_null() && j["board_stage"]["file"].is_null());
    }
    for s in skipped {
        assert!(!s["reason"].as_str().unwrap().is_empty(), "{s}");
    }

    // Each job's arguments; with --board-names, one image name per board
    // (one spec's images for several boards merge into one release).
    for j in jobs {
        let args: Vec<&str> = j["build_args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(args, ["--board", j["board"].as_str().unwrap()], "{j}");
    }
    let o = common::clic_plain(&repo())
        .args([
            "plan",
            "--json",
            "--board-names",
            "--board",
            "rpi3",
            "--board",
            "rpi4",
        ])
        .arg(specs[0])
        .env("CLIC_CACHE", &empty)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let named: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let named: Vec<(String, Vec<String>)> = named["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            let args = j["build_args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            (j["name"].as_str().unwrap().to_owned(), args)
        })
        .collect();
    assert_eq!(
        named,
        [
            (
                "clic-ordinosaure-rpi3".to_owned(),
                ["--board", "rpi3", "--name", "clic-ordinosaure-rpi3"]
                    .map(String::from)
                    .to_vec()
            ),
            (
                "clic-ordinosaure-rpi4".to_owned(),
                ["--board", "rpi4", "--name", "clic-ordinosaure-rpi4"]
                    .map(String::from)
                    .to_vec()
            ),
        ]
    );
    // A bad --name is refused before any work.
    let o = common::clic_plain(&repo())
        .args(["build", specs[0], "--name", "Pas Bon", "--out"])
        .arg(t.path().join("never"))
        .env("CLIC_CACHE", &empty)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--name `Pas Bon`"), "{}", stderr(&o));
    assert!(!t.path().join("never").exists() && !empty.exists());

    // Package indices in a cache (as a refresh leaves them, for amd64):
    // the tree files are named; the same in a copy of the cache elsewhere.
    let a = t.path().join("a/cache");
    let lists = a.join("apt/bookworm-amd64/lists");
    std::fs::create_dir_all(&lists).unwrap();
    std::fs::write(
        lists.join("deb.debian.org_debian_dists_bookworm_InRelease"),
        "Origin: Debian\nDate: Sat, 05 Dec 2026 09:00:00 UTC\n",
    )
    .unwrap();
    std::fs::write(
        lists.join("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"),
        "",
    )
    .unwrap();
    let one = ["specs/clic-ordinosaure.toml"];
    let (in_a, _) = plan(&one, &a, t.path());
    let b = t.path().join("elsewhere/other-name");
    std::fs::create_dir_all(b.join("apt/bookworm-amd64")).unwrap();
    std::fs::rename(&lists, b.join("apt/bookworm-amd64/lists")).unwrap();
    let (in_b, _) = plan(&one, &b, t.path());
    let files = |d: &serde_json::Value| -> Vec<(String, String)> {
        d["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["arch"] == "amd64")
            .map(|j| {
                let tree = d["trees"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|t| t["id"] == j["tree"])
                    .unwrap();
                (
                    tree["file"].as_str().unwrap_or("none").to_owned(),
                    j["board_stage"]["file"]
                        .as_str()
                        .unwrap_or("none")
                        .to_owned(),
                )
            })
            .collect()
    };
    let (fa, fb) = (files(&in_a), files(&in_b));
    assert!(
        !fa.is_empty() && fa.iter().all(|f| f.0 != "none" && f.1 != "none"),
        "{fa:?}"
    );
    assert_eq!(fa, fb, "the cache moved: other tree files");
    // A tree file of that name in the moved cache is found.
    std::fs::create_dir_all(b.join("trees")).unwrap();
    std::fs::write(b.join("trees").join(&fb[0].0), "").unwrap();
    let (again, _) = plan(&one, &b, t.path());
    let tree = again["trees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["file"] == fb[0].0.as_str())
        .unwrap();
    assert_eq!(tree["cached"], true);
}

/// A build's output directory as `clic release merge` reads it: the
/// compressed image and block map (stand-in bytes), the manifest (the v1
/// fixture renamed), an os_list.json entry for a Pi, SHA256SUMS by
/// `sha256sum`.
fn output_dir(dir: &Path, name: &str, board: &str, zst: &[u8], pi: bool) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(format!("{name}.img.zst")), zst).unwrap();
    std::fs::write(
        dir.join(format!("{name}.img.bmap")),
        format!("<bmap {name}/>"),
    )
    .unwrap();
    // The raw image, listed in SHA256SUMS as a build lists it: not a
    // release file, and a CI job need not carry it (removed below from
    // the Pi 4's directory).
    std::fs::write(dir.join(format!("{name}.img")), "raw").unwrap();
    let mut m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/manifest-v1.json")).unwrap(),
    )
    .unwrap();
    m["name"] = name.into();
    m["board"] = board.into();
    std::fs::write(dir.join(format!("{name}.manifest.json")), m.to_string()).unwrap();
    let mut files = vec![
        format!("{name}.img"),
        format!("{name}.img.zst"),
        format!("{name}.img.bmap"),
        format!("{name}.manifest.json"),
    ];
    if pi {
        let entry = serde_json::json!({"os_list": [{
            "name": format!("CLIC! {name}"), "description": "d", "icon": "",
            "url": format!("{name}.img.zst"), "extract_size": 3,
            "extract_sha256": "a".repeat(64), "image_download_size": zst.len(),
            "image_download_sha256": common::sha256_hex(zst),
            "release_date": "2026-12-06", "devices": [board]}]});
        std::fs::write(dir.join("os_list.json"), entry.to_string()).unwrap();
        files.push("os_list.json".into());
    }
    let o = std::process::Command::new("sha256sum")
        .args(&files)
        .current_dir(dir)
        .output()
        .unwrap();
    std::fs::write(dir.join("SHA256SUMS"), o.stdout).unwrap();
    if board == "rpi4" {
        std::fs::remove_file(dir.join(format!("{name}.img"))).unwrap();
    }
}

fn merge(args: &[&Path], out: &Path, expect: Option<&Path>) -> Output {
    let mut c = common::clic_plain(&repo());
    c.args(["release", "merge"])
        .args(args)
        .arg("--out")
        .arg(out);
    if let Some(e) = expect {
        c.arg("--expect").arg(e);
    }
    c.output().expect("run clic release merge")
}

/// The release job's merge: every board's files, one os_list.json with
/// each Pi's entry, one SHA256SUMS that `sha256sum -c` accepts; the boards
/// a plan expected and no build brought are named; a file of one name
/// with other bytes, a file changed since its sum and a non-empty output
/// directory are refused, leaving nothing behind.
#[test]
fn release_merge_joins_boards_and_refuses_conflicts() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    output_dir(&p.join("job-rpi4"), "clic-pi4", "rpi4", b"pi4 image", true);
    output_dir(&p.join("job-rpi3"), "clic-pi3", "rpi3", b"pi3 image", true);
    output_dir(
        &p.join("job-pc"),
        "clic-pc",
        "ordinosaure-amd64",
        b"pc image",
        false,
    );
    let plan = p.join("plan.json");
    std::fs::write(
        &plan,
        serde_json::json!({"jobs": [
            {"name": "clic-pi4", "board": "rpi4"}, {"name": "clic-pi3", "board": "rpi3"},
            {"name": "clic-pc", "board": "ordinosaure-amd64"},
            {"name": "clic-xu4", "board": "odroid-xu4"}]})
        .to_string(),
    )
    .unwrap();
    let dirs = [p.join("job-rpi4"), p.join("job-rpi3"), p.join("job-pc")];
    let dirs: Vec<&Path> = dirs.iter().map(|d| d.as_path()).collect();
    let rel = p.join("release");
    let o = merge(&dirs, &rel, Some(&plan));
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        rel.display().to_string()
    );
    assert!(err.contains("MISSING clic-xu4 for odroid-xu4"), "{err}");
    assert!(!err.contains("MISSING clic-pi"), "{err}");
    let mut names: Vec<String> = std::fs::read_dir(&rel)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "SHA256SUMS",
            "clic-pc.img.bmap",
            "clic-pc.img.zst",
            "clic-pc.manifest.json",
            "clic-pi3.img.bmap",
            "clic-pi3.img.zst",
            "clic-pi3.manifest.json",
            "clic-pi4.img.bmap",
            "clic-pi4.img.zst",
            "clic-pi4.manifest.json",
            "os_list.json"
        ]
    );
    let check = std::process::Command::new("sha256sum")
        .args(["--strict", "-c", "SHA256SUMS"])
        .current_dir(&rel)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert_eq!(String::from_utf8_lossy(&check.stdout).lines().count(), 10);
    let list: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rel.join("os_list.json")).unwrap()).unwrap();
    let urls: Vec<&str> = list["os_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, ["clic-pi3.img.zst", "clic-pi4.img.zst"]);
    assert_eq!(
        std::fs::read(rel.join("clic-pi4.img.zst")).unwrap(),
        b"pi4 image"
    );

    let leftovers = |what: &str| {
        let hidden: Vec<_> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(hidden.is_empty(), "{what}: left {hidden:?}");
    };
    // The same name, other bytes (one spec built for two boards).
    output_dir(
        &p.join("job-other"),
        "clic-pi4",
        "rpi3",
        b"other bytes",
        true,
    );
    let out = p.join("release-2");
    let o = merge(&[dirs[0], &p.join("job-other")], &out, None);
    let err = stderr(&o);
    assert!(!o.status.success(), "a conflict was merged");
    assert!(err.contains("`clic-pi4.img.zst` differs between"), "{err}");
    assert!(!out.exists());
    leftovers("conflict");
    // A file changed after its sum was written.
    std::fs::write(p.join("job-pc/clic-pc.img.zst"), b"pc imagf").unwrap();
    let o = merge(&[dirs[0], dirs[2]], &out, None);
    let err = stderr(&o);
    assert!(!o.status.success(), "a changed file was merged");
    assert!(err.contains("clic-pc.img.zst: its sha256 is"), "{err}");
    assert!(!out.exists());
    leftovers("changed file");
    // The release directory is not overwritten.
    let o = merge(&[dirs[0]], &rel, None);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("exists and is not empty"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_dir(&rel).unwrap().count(), 11);
}
