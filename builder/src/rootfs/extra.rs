//! Extra apt repositories of the layers, on the host side: the pinned key
//! is copied into the cache, the repository's lists are refreshed with the
//! host's apt using only that key (`signed-by=`, every warning an error),
//! and a Release whose signature does not verify stops the build before
//! mmdebstrap runs.

use sha2::{Digest, Sha256};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::args::{self, ExtraSource, RootfsRequest};
use super::{cache_err, Cache, RootfsError};
use crate::cmd::{Cmd, CmdError};
use crate::spec::apt::AptRepo;

/// A repository whose Release signature does not verify with its key.
#[derive(Debug, thiserror::Error)]
#[error("apt repository `{name}` of layer `{layer}` ({url} {suite}): its Release signature does not verify with the layer's pinned key {fingerprint}; nothing was built:\n    {detail}")]
pub struct SignatureFailure {
    pub layer: String,
    pub name: String,
    pub url: String,
    pub suite: String,
    pub fingerprint: String,
    pub detail: String,
}

/// The cache directory of one repository for one architecture: named by
/// what decides its lists (pure).
pub fn lists_dir(cache: &Path, repo: &AptRepo, arch: &str) -> PathBuf {
    let mut h = Sha256::new();
    for part in [repo.url.as_str(), &repo.suite, &repo.components.join(" ")] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    cache
        .join("apt/extra")
        .join(format!(
            "{}-{}-{}",
            repo.name,
            &hex::encode(h.finalize())[..16],
            arch
        ))
        .join("lists")
}

/// The lines of apt's output that say why a repository was refused (pure):
/// signature problems first; `None` when the failure is not about the
/// signature (network, missing files...).
pub fn signature_problem(apt_output: &str) -> Option<String> {
    const SIGNS: &[&str] = &[
        "GPG error",
        "NO_PUBKEY",
        "BADSIG",
        "EXPKEYSIG",
        "REVKEYSIG",
        "is not signed",
        "signatures were invalid",
        "couldn't be verified",
        "Clearsigned file isn't valid",
        "NODATA",
    ];
    let lines: Vec<&str> = apt_output
        .lines()
        .map(str::trim)
        .filter(|l| SIGNS.iter().any(|s| l.contains(s)))
        .collect();
    let mut uniq: Vec<&str> = Vec::new();
    for l in lines {
        if !uniq.contains(&l) {
            uniq.push(l);
        }
    }
    (!uniq.is_empty()).then(|| uniq.join("\n    "))
}

/// Key in the cache, refreshed lists: what mmdebstrap needs of each extra
/// repository. Offline, the lists must already be in the cache.
pub fn prepare(
    req: &RootfsRequest,
    cache: &Cache,
    offline: bool,
) -> Result<Vec<ExtraSource>, RootfsError> {
    let mut out = Vec::new();
    for repo in &req.extra {
        let Some(fpr) = &repo.fingerprint else {
            return Err(RootfsError::Unpinned {
                layer: repo.layer.clone(),
                name: repo.name.clone(),
            });
        };
        let key_text = fs::read(&repo.key).map_err(cache_err(&repo.key))?;
        let src = source(repo, &key_text, &cache.dir, &req.arch);
        let (key, lists) = (&src.key, &src.lists);
        let keys = key.parent().unwrap_or(&cache.dir);
        fs::create_dir_all(keys).map_err(cache_err(keys))?;
        if !key.is_file() {
            let tmp = tempfile::NamedTempFile::new_in(keys).map_err(cache_err(keys))?;
            fs::write(tmp.path(), &key_text).map_err(cache_err(tmp.path()))?;
            tmp.persist(key).map_err(|e| RootfsError::Cache {
                path: key.clone(),
                source: e.error,
            })?;
        }
        // apt checks signatures as its unprivileged user `_apt`.
        fs::set_permissions(key, fs::Permissions::from_mode(0o644)).map_err(cache_err(key))?;
        if offline {
            if !super::has_lists(lists) {
                return Err(RootfsError::NoOfflineLists {
                    arch: req.arch.clone(),
                    suite: format!(
                        "{} (apt repository `{}` of layer `{}`)",
                        repo.suite, repo.name, repo.layer
                    ),
                    path: lists.clone(),
                });
            }
        } else {
            refresh(req, repo, fpr, key, lists)?;
        }
        out.push(src);
    }
    Ok(out)
}

/// What the bootstrap uses of one extra repository whose key file holds
/// `key_text` (pure): the key in the cache (named by its sha256), where it
/// goes in the tree, the source line, the lists directory.
fn source(repo: &AptRepo, key_text: &[u8], cache: &Path, arch: &str) -> ExtraSource {
    let keyring = repo.keyring_in_image();
    ExtraSource {
        line: repo.source_line(&keyring),
        key: cache
            .join("apt/keys")
            .join(format!("{}.asc", hex::encode(Sha256::digest(key_text)))),
        keyring,
        lists: lists_dir(cache, repo, arch),
    }
}

/// The extra repositories as [`prepare`] would give them, without writing
/// or fetching anything (for `clic plan`): their key files are read to
/// name them.
pub fn sources(req: &RootfsRequest, cache: &Cache) -> Result<Vec<ExtraSource>, RootfsError> {
    req.extra
        .iter()
        .map(|repo| {
            let key_text = fs::read(&repo.key).map_err(cache_err(&repo.key))?;
            Ok(source(repo, &key_text, &cache.dir, &req.arch))
        })
        .collect()
}

/// `apt-get update` of one repository into its own lists directory, with
/// its pinned key only; any warning (a bad signature, a missing index) is
/// an error.
fn refresh(
    req: &RootfsRequest,
    repo: &AptRepo,
    fingerprint: &str,
    key: &Path,
    lists: &Path,
) -> Result<(), RootfsError> {
    let scratch = tempfile::Builder::new()
        .prefix("clic-apt-")
        .tempdir()
        .map_err(cache_err(&std::env::temp_dir()))?;
    let sources = scratch.path().join("sources.list");
    fs::create_dir_all(lists.join("partial"))
        .and_then(|_| fs::create_dir_all(scratch.path().join("archives/partial")))
        .and_then(|_| {
            fs::write(
                &sources,
                format!("{}\n", repo.source_line(&key.display().to_string())),
            )
        })
        .map_err(cache_err(lists))?;
    let apt = super::AptCache {
        archives: scratch.path().join("archives"),
        lists: lists.to_owned(),
    };
    let (prog, mut a) = args::apt_update_command(req, &apt, &sources, scratch.path());
    a.insert(0, "--error-on=any".into());
    Cmd::new(prog).args(a).run().map_err(|source| {
        let output = match &source {
            CmdError::Failed { stderr_tail, .. } => stderr_tail.clone(),
            _ => String::new(),
        };
        match signature_problem(&output) {
            Some(detail) => RootfsError::ExtraSignature(Box::new(SignatureFailure {
                layer: repo.layer.clone(),
                name: repo.name.clone(),
                url: repo.url.clone(),
                suite: repo.suite.clone(),
                fingerprint: fingerprint.to_owned(),
                detail,
            })),
            None => RootfsError::ExtraUpdate {
                layer: repo.layer.clone(),
                name: repo.name.clone(),
                url: repo.url.clone(),
                source: Box::new(source),
            },
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> AptRepo {
        AptRepo {
            layer: "l".into(),
            name: "t".into(),
            url: "http://r/".into(),
            suite: "s".into(),
            components: vec!["main".into()],
            key: "/k.asc".into(),
            fingerprint: None,
            debian_suites: vec![],
        }
    }

    #[test]
    fn lists_are_kept_per_repository_and_architecture() {
        let a = lists_dir(Path::new("/c"), &repo(), "amd64");
        assert!(
            a.starts_with("/c/apt/extra") && a.ends_with("lists"),
            "{a:?}"
        );
        assert_ne!(a, lists_dir(Path::new("/c"), &repo(), "arm64"));
        let mut other = repo();
        other.suite = "s2".into();
        assert_ne!(a, lists_dir(Path::new("/c"), &other, "amd64"));
    }

    #[test]
    fn signature_problems_are_told_from_other_failures() {
        // What apt 2.6 says for a key that did not sign the repository.
        let wrong_key = "Err:1 http://127.0.0.1:8765 clic-test InRelease\n  The following signatures couldn't be verified because the public key is not available: NO_PUBKEY F7F5BED368D7723E\nReading package lists...\nW: GPG error: http://127.0.0.1:8765 clic-test InRelease: The following signatures couldn't be verified because the public key is not available: NO_PUBKEY F7F5BED368D7723E\nE: The repository 'http://127.0.0.1:8765 clic-test InRelease' is not signed.\n";
        let p = signature_problem(wrong_key).unwrap();
        assert!(
            p.contains("NO_PUBKEY F7F5BED368D7723E") && p.contains("is not signed"),
            "{p}"
        );
        assert!(!p.contains("Reading package lists"));
        // And for a tampered InRelease.
        let tampered = "W: GPG error: http://127.0.0.1:8765 clic-test InRelease: The following signatures were invalid: BADSIG F7F5BED368D7723E clic test repository\n";
        assert!(signature_problem(tampered).unwrap().contains("BADSIG"));
        let unreachable = "Err:1 http://127.0.0.1:9 clic-test InRelease\n  Could not connect to 127.0.0.1:9 (127.0.0.1). - connect (111: Connection refused)\nE: Failed to fetch http://127.0.0.1:9/dists/clic-test/InRelease\n";
        assert_eq!(signature_problem(unreachable), None);
    }
}
