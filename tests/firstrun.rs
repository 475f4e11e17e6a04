//! The first hour on a fresh machine: `clic build` with an empty cache,
//! as `make image` runs it (`img=$(clic build ...)`). Its stdout must be
//! the image's path and nothing else, however much the Debian bootstrap
//! and the board stage print on the way; with `--json`, one JSON document
//! whose files exist and match their sha256.
//!
//! The other boards are built by the image and Odroid tests, each through
//! `common::build`, which checks the same stdout rule on every build: on a
//! fresh machine (CI) their first arm64, armhf and i386 builds are cold
//! too. (An arm64 board with its own empty cache here cost ~7 minutes of
//! emulated bootstrap that those builds already pay.)
//!
//! `#[ignore]`d for a plain `cargo test`: root, the Debian mirror and
//! minutes; `make test` runs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{clic, fresh_dir, one_image_line, run, sha256_hex};

const SPEC: &str = "specs/clic-ordinosaure.toml";

/// `clic --cache CACHE build SPEC --out OUT EXTRA...` with CACHE a new,
/// empty directory under target/tmp/firstrun/TAG; the output, and the
/// directory (removed by the caller once the test passed).
fn cold_build(tag: &str, extra: &[&str]) -> (Output, PathBuf) {
    let dir = fresh_dir(&format!("firstrun/{tag}"));
    (build_in(&dir, "out", extra), dir)
}

/// `clic --cache DIR/cache build SPEC --out DIR/OUT EXTRA...`, which must pass.
fn build_in(dir: &Path, out: &str, extra: &[&str]) -> Output {
    let mut c = clic();
    c.arg("--cache")
        .arg(dir.join("cache"))
        .arg("build")
        .arg(SPEC)
        .arg("--out")
        .arg(dir.join(out))
        .args(extra);
    run(c)
}

fn file_sha256(p: &Path) -> String {
    sha256_hex(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn cold_cache_default_board_prints_only_the_image_then_json() {
    let (out, dir) = cold_build("amd64", &[]);
    let img = one_image_line(&out);
    assert!(img.starts_with(&dir), "{}", img.display());

    // Again with --json, the Debian tree made again (--fresh): the
    // bootstrap and board stage run and print as they did cold.
    let out = build_in(&dir, "json", &["--json", "--fresh"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let image = v["image"].as_str().expect("image");
    assert!(common::repo().join(image).is_file(), "{image}");
    let arts = v["artifacts"].as_array().expect("artifacts");
    let kinds: Vec<&str> = arts.iter().filter_map(|a| a["kind"].as_str()).collect();
    for k in ["image", "zstd", "bmap", "manifest", "sha256sums"] {
        assert!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    for a in arts {
        let path = common::repo().join(a["path"].as_str().expect("path"));
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(Some(meta.len()), a["size"].as_u64(), "{a}");
        assert_eq!(a["sha256"], file_sha256(&path).as_str(), "{a}");
    }
    assert_eq!(
        arts.iter().find(|a| a["kind"] == "image").unwrap()["path"],
        image
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
