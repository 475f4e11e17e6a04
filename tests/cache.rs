//! The cache is portable: its tree keys depend on what goes into a tree,
//! never on where the cache is, so a cache made in one directory and
//! moved to another (a CI cache restored on another machine) gives a warm
//! build there, and the same image.
//!
//! Needs root and the Debian mirror (the first build bootstraps a small
//! amd64 tree: the base layer only): `#[ignore]`d for a plain `cargo
//! test`, run by `make test`. Work files are in target/tmp/clic-cache-tests/.

mod common;

use std::path::{Path, PathBuf};

use common::{run, stderr};

const SPEC: &str = r#"name = "clic-base"
description = "base layer only (tests/cache.rs)"
board = "ordinosaure-amd64"
suite = "bookworm"
layers = ["base"]
packages = []
overlays = []
"#;

/// The cache the other tests use (clic's default), for its downloaded
/// packages: the first build here need not fetch them again.
fn shared_cache() -> PathBuf {
    std::env::var_os("CLIC_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/clic"))
}

fn image_sha(out: &Path) -> String {
    common::sha256_hex(&std::fs::read(out.join("clic-base.img")).unwrap())
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn a_cache_moved_to_another_path_gives_a_warm_build_of_the_same_image() {
    let dir = common::work_dir("clic-cache-tests");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let _tidy = common::Tidy::new(&dir);
    let spec = dir.join("spec.toml");
    std::fs::write(&spec, SPEC).unwrap();
    let first = dir.join("first-cache");
    // The shared cache's packages, linked (not its trees: the tree is
    // made here).
    let debs = shared_cache().join("apt/bookworm-amd64/archives");
    if debs.is_dir() {
        std::fs::create_dir_all(first.join("apt/bookworm-amd64")).unwrap();
        let mut c = std::process::Command::new("cp");
        c.arg("-al")
            .arg(&debs)
            .arg(first.join("apt/bookworm-amd64/archives"));
        run(c);
    }
    let mut c = common::clic();
    c.env("CLIC_CACHE", &first);
    let out1 = dir.join("out-1");
    let cold = stderr(&common::build(c, &spec, &out1, &[]));
    assert!(
        cold.contains("bootstrapping the shared amd64 tree"),
        "the first build was not cold:\n{}",
        common::tail(&cold, 30)
    );

    // Moved, under another name, somewhere else.
    let moved = dir.join("elsewhere/restored-cache");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&first, &moved).unwrap();
    let mut c = common::clic();
    c.env("CLIC_CACHE", &moved);
    let out2 = dir.join("out-2");
    let warm = stderr(&common::build(c, &spec, &out2, &["--offline"]));
    assert!(
        warm.contains("Debian tree from the cache"),
        "the moved cache was cold:\n{}",
        common::tail(&warm, 30)
    );
    assert!(
        !warm.contains("bootstrapping"),
        "{}",
        common::tail(&warm, 30)
    );
    assert_eq!(image_sha(&out1), image_sha(&out2), "the same image");

    // The same spec under another image name (one spec, several boards of
    // a release: `clic plan --board-names`): every file carries it.
    let mut c = common::clic();
    c.env("CLIC_CACHE", &moved);
    let out3 = dir.join("out-3");
    common::build(c, &spec, &out3, &["--offline", "--name", "clic-base-pc"]);
    let manifest = common::manifest(&out3.join("clic-base-pc.img"));
    assert_eq!(manifest["name"], "clic-base-pc");
    let sums = std::fs::read_to_string(out3.join("SHA256SUMS")).unwrap();
    assert!(sums.contains("  clic-base-pc.img.zst\n"), "{sums}");
    assert!(!out3.join("clic-base.img").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
