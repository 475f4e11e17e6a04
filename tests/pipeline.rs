//! The release pipeline (.gitlab-ci.yml), run on this machine by
//! gitlab-ci-local's shell executor (tests/gitlab-local.sh: each job in a
//! directory of its own, GitLab's caches and artifacts between them) on a
//! reduced release: two boards of different architectures
//! (ordinosaure-amd64 and ordinosaure-i386, from the small spec). It must
//! pass every job, take each board's Debian tree from the tree job's
//! cache (restored into another directory: the cache is portable), build
//! one board a second time in a job without any cache and find the same
//! bytes, merge one signed release; and that release must equal what
//! `make release` (tests/release.sh all) makes of the same boards on one
//! machine. A second run, with a spec that cannot build for i386, shows a
//! failed board stopping nothing: the release has the other board and
//! names the missing one.
//!
//! Needs root, the Debian mirror and gitlab-ci-local
//! (tests/install-deps.sh): `#[ignore]`d for a plain `cargo test`. `make
//! test` runs the job list; the whole pipeline (about 15 minutes on 2
//! cores, more than `make test` can give) is `make test-release`. Work
//! files are in target/tmp/clic-pipeline-tests/.
//! The test's boards have no Raspberry Pi Imager list (x86 boards): the
//! merge of `os_list.json` is tested in tests/cli.rs; CLIC_PIPELINE_BOARDS
//! names other boards (e.g. `ordinosaure-amd64 rpi3`, ten minutes more).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run, stderr};

const BOARDS: &str = "ordinosaure-amd64 ordinosaure-i386";

fn boards() -> String {
    std::env::var("CLIC_PIPELINE_BOARDS").unwrap_or_else(|_| BOARDS.into())
}

fn glcl() -> PathBuf {
    common::repo().join("tests/ci/node_modules/.bin/gitlab-ci-local")
}

/// tests/gitlab-local.sh DIR with these variables; its log (stderr).
fn pipeline(dir: &Path, vars: &[(&str, &str)]) -> (bool, String) {
    let mut c = Command::new("bash");
    c.arg(common::repo().join("tests/gitlab-local.sh")).arg(dir);
    for (k, v) in vars {
        c.arg("--variable").arg(format!("{k}={v}"));
    }
    let o = c.output().expect("run tests/gitlab-local.sh");
    let log = stderr(&o);
    std::fs::write(dir.join("pipeline.log"), &log).unwrap();
    (o.status.success(), log)
}

/// The pipeline's summary: each job's name and whether it passed.
fn summary(log: &str) -> Vec<(String, &'static str)> {
    log.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let (state, rest) = l.split_once(' ')?;
            let state = match state {
                "PASS" => "PASS",
                "FAIL" => "FAIL",
                "WARN" => "WARN",
                _ => return None,
            };
            // " PASS  [1.1 min] board-amd64: [amd64,ordinosaure-amd64]"
            let rest = rest.trim_start();
            let name = rest
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .map_or(rest, |(_, n)| n);
            Some((name.trim().split("  ").next()?.trim().to_owned(), state))
        })
        .collect()
}

/// What a job printed: the log's lines of that job.
fn job_lines<'a>(log: &'a str, job: &str) -> Vec<&'a str> {
    log.lines()
        .filter(|l| l.split_once("] ").is_some_and(|(_, r)| r.starts_with(job)))
        .collect()
}

fn sign_key(dir: &Path) -> (PathBuf, PathBuf) {
    let home = dir.join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    let gpg = |args: &[&str]| {
        let mut c = Command::new("gpg");
        c.arg("--homedir").arg(&home).arg("--batch").args(args);
        run(c).stdout
    };
    gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "CLIC release test <release@clic.invalid>",
        "ed25519",
        "sign",
        "never",
    ]);
    let key = dir.join("signing.key");
    std::fs::write(&key, gpg(&["--armor", "--export-secret-keys"])).unwrap();
    let public = dir.join("signing.gpg");
    std::fs::write(&public, gpg(&["--export"])).unwrap();
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(&home)
        .args(["--kill", "all"])
        .status();
    (key, public)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The board jobs of .gitlab-ci.yml are every board of `clic boards`, each
/// in the job of its architecture, and the tree jobs every architecture.
#[test]
#[ignore = "needs gitlab-ci-local (tests/install-deps.sh): make test"]
fn the_pipeline_has_a_job_for_every_board() {
    // Listed in a copy (gitlab-ci-local writes its state beside the file).
    let copy = common::fresh_dir("clic-pipeline-list");
    std::fs::copy(
        common::repo().join(".gitlab-ci.yml"),
        copy.join(".gitlab-ci.yml"),
    )
    .unwrap();
    run({
        let mut c = Command::new("git");
        c.arg("init").arg("-q").arg(&copy);
        c
    });
    let mut c = Command::new(glcl());
    c.current_dir(&copy)
        .args(["--list-json", "--force-shell-executor"]);
    let jobs: serde_json::Value = serde_json::from_slice(&run(c).stdout).unwrap();
    let names: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    // "board-arm64: [arm64,rpi3]"
    let mut in_ci = BTreeSet::new();
    let mut tree_arches = BTreeSet::new();
    for n in &names {
        if let Some(rest) = n.strip_prefix("board-").filter(|r| r.contains(": [")) {
            let (job_arch, m) = rest.split_once(": [").unwrap();
            let (arch, board) = m.trim_end_matches(']').split_once(',').unwrap();
            assert_eq!(job_arch, arch, "{n}: in another architecture's job");
            assert!(
                in_ci.insert((arch.to_owned(), board.to_owned())),
                "{n} twice"
            );
        } else if let Some(m) = n.strip_prefix("trees: [") {
            tree_arches.insert(m.trim_end_matches(']').to_owned());
        }
    }
    let mut c = common::clic();
    c.args(["boards", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&run(c).stdout).unwrap();
    let want: BTreeSet<(String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["arch"].as_str().unwrap().to_owned(),
                b["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(in_ci, want, "board jobs of .gitlab-ci.yml vs clic boards");
    let arches: BTreeSet<String> = want.iter().map(|(a, _)| a.clone()).collect();
    assert_eq!(tree_arches, arches);
    for j in ["plan", "board-again", "release", "reproducible"] {
        assert!(names.contains(&j), "no job {j}: {names:?}");
    }
}

#[test]
#[ignore = "needs root, the Debian mirror, gitlab-ci-local and about 15 minutes: make test-release"]
fn extra_pipeline_makes_the_release_make_release_makes() {
    let dir = common::fresh_dir("clic-pipeline-tests");
    let _tidy = common::Tidy::new(&dir);
    let (key, public) = sign_key(&dir);
    let boards = boards();
    let clic = env!("CARGO_BIN_EXE_clic");
    let key_s = key.display().to_string();
    let spec = "tests/fixtures/clic-small.toml";
    let first = boards.split_whitespace().next().unwrap().to_owned();
    let (ok, log) = pipeline(
        &dir,
        &[
            ("RELEASE_SPECS", spec),
            ("RELEASE_BOARDS", &boards),
            ("REPRO_BOARD", &first),
            ("CLIC_PREBUILT", clic),
            ("RELEASE_SIGNING_KEY", &key_s),
        ],
    );
    let tail = common::tail(&log, 60);
    assert!(ok, "the pipeline failed:\n{tail}");
    let jobs = summary(&log);
    assert!(jobs.len() >= 15, "{jobs:?}\n{tail}");
    let failed: Vec<_> = jobs.iter().filter(|(_, s)| *s != "PASS").collect();
    assert!(failed.is_empty(), "{failed:?}\n{tail}");
    let src = dir.join("src");
    // Each board's job took its Debian tree from the tree job's cache,
    // restored in another directory, and bootstrapped nothing (its log,
    // an artifact, is in the last job's directory, copied back).
    for b in boards.split_whitespace() {
        let text = read(&src.join(format!("release-jobs/logs/clic-small-{b}.{b}.log")));
        assert!(text.contains("tree from the cache"), "{b}:\n{text}");
        assert!(!text.contains("bootstrapping the shared"), "{b}:\n{text}");
    }
    let again = job_lines(&log, "reproducible").join("\n");
    assert!(
        again.contains("the two builds are the same, byte for byte"),
        "{again}"
    );
    let release = src.join("release");
    let check = Command::new("sha256sum")
        .args(["--strict", "-c", "SHA256SUMS"])
        .current_dir(&release)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
    let v = Command::new("gpgv")
        .arg("--keyring")
        .arg(&public)
        .args(["SHA256SUMS.asc", "SHA256SUMS"])
        .current_dir(&release)
        .output()
        .unwrap();
    assert!(v.status.success(), "the signature: {}", stderr(&v));
    let sums = read(&release.join("SHA256SUMS"));
    for b in boards.split_whitespace() {
        assert!(sums.contains(&format!("clic-small-{b}.img.zst")), "{sums}");
    }

    // The same release on one machine: tests/release.sh all, as make
    // release runs it, in the same checkout (the same commit: the same
    // SOURCE_DATE_EPOCH), with the pipeline's caches of both
    // architectures and the board jobs' own in one directory; not booted
    // again (the pipeline booted these images' twins).
    let one_cache = dir.join("one-cache");
    std::fs::create_dir_all(&one_cache).unwrap();
    for kind in ["cache", "builds"] {
        for e in std::fs::read_dir(src.join(".gitlab-ci-local").join(kind)).unwrap() {
            let d = e.unwrap().path().join(".clic-cache");
            if d.is_dir() {
                let mut c = Command::new("cp");
                c.arg("-aln")
                    .arg(format!("{}/.", d.display()))
                    .arg(&one_cache);
                run(c);
            }
        }
    }
    let mut c = Command::new("bash");
    c.current_dir(&src)
        .args(["tests/release.sh", "all", "one/jobs", "one/release"])
        .env("CLIC", clic)
        .env("CLIC_CACHE", &one_cache)
        .env("RELEASE_SPECS", spec)
        .env("RELEASE_BOARDS", &boards)
        .env("RELEASE_BOOT", "0");
    run(c);
    let one = src.join("one/release");
    assert_eq!(
        read(&one.join("SHA256SUMS")),
        sums,
        "make release and the pipeline made different releases"
    );
    // Raspberry Pi Imager's list: one for a release with a Pi, the same
    // in both.
    let pi = boards.split_whitespace().any(|b| b.starts_with("rpi"));
    for list in [release.join("os_list.json"), one.join("os_list.json")] {
        assert_eq!(list.is_file(), pi, "{}", list.display());
    }
    if pi {
        let list = read(&release.join("os_list.json"));
        assert_eq!(list, read(&one.join("os_list.json")));
        assert!(sums.contains("os_list.json"), "{sums}");
    }

    // A board whose job fails stops nothing: the other board's job, and
    // the release with it, the missing one named. The caches of the first
    // run are warm; nothing compared this time.
    let (ok, log) = pipeline(
        &dir,
        &[
            ("RELEASE_SPECS", "tests/fixtures/clic-amd64-only.toml"),
            ("RELEASE_BOARDS", BOARDS),
            ("REPRO_BOARD", ""),
            ("CLIC_PREBUILT", clic),
        ],
    );
    let tail = common::tail(&log, 60);
    assert!(!ok, "a failed board, yet the pipeline passed:\n{tail}");
    let jobs = summary(&log);
    let state = |name: &str| {
        jobs.iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| *s)
            .unwrap_or_else(|| panic!("no job {name}: {jobs:?}\n{tail}"))
    };
    assert_eq!(state("board-i386: [i386,ordinosaure-i386]"), "FAIL");
    assert_eq!(state("board-amd64: [amd64,ordinosaure-amd64]"), "PASS");
    assert_eq!(state("release"), "PASS");
    let merged = job_lines(&log, "release").join("\n");
    assert!(
        merged.contains("MISSING clic-amd64-only-ordinosaure-i386 for ordinosaure-i386"),
        "{merged}"
    );
    let sums = read(&release.join("SHA256SUMS"));
    assert!(
        sums.contains("clic-amd64-only-ordinosaure-amd64.img.zst") && !sums.contains("i386"),
        "{sums}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
