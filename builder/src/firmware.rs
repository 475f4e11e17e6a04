//! Firmware Debian does not ship: `firmware/<name>.toml` pins each file by
//! size and sha256 (with the URL it comes from and its licence). Files live
//! in the cache (`<cache>/firmware/<name>/<path>`); a missing one is fetched
//! when the build may download, and any file that is absent or differs
//! from its pin stops the build before any work, naming the file, the
//! hash it must have and where to put it.
//!
//! Some boards need the files combined with a bootloader from the image
//! (Amlogic's FIP wraps u-boot): the manifest's `[combine]` table gives the
//! command, run on the build host in a scratch copy of the files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::artifact::sums::sha256_file;
use crate::cmd::{Cmd, CmdError};
use crate::spec::diag::{Diagnostics, Source};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub description: String,
    /// Who may redistribute the files and under which terms.
    pub licence: String,
    /// Prefix of every file's URL unless the file gives its own.
    #[serde(default)]
    pub base_url: Option<String>,
    pub files: Vec<FileEntry>,
    #[serde(default)]
    pub combine: Option<Combine>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative path, under the manifest's cache directory.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    #[serde(default)]
    pub url: Option<String>,
    /// Made executable in the scratch copy `[combine]` runs in.
    #[serde(default)]
    pub executable: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Combine {
    /// Program and arguments, run in a copy of the files. `{out}` is an
    /// empty output directory, `{NAME}` the path of input NAME.
    pub command: Vec<String>,
    /// Inputs the board supplies (`bl33`: the image's u-boot.bin).
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Files the command leaves in `{out}` that boards may use.
    pub outputs: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FirmwareError {
    #[error("{0}")]
    Manifest(Diagnostics),
    #[error("firmware manifest `{name}` not found: {path} does not exist")]
    NoManifest { name: String, path: PathBuf },
    #[error(
        "firmware file `{}/{}` ({}) is missing{fetch}\n    \
         it must have sha256 {} ({} bytes)\n    \
         put it at {dest}{}",
        pin.name, pin.path, pin.manifest.display(), pin.sha256, pin.size, pin.from
    )]
    Missing {
        pin: Box<Pin>,
        dest: PathBuf,
        fetch: String,
    },
    #[error(
        "firmware file {file} has sha256 {got} ({got_size} bytes), but {} pins \
         `{}/{}` to sha256 {} ({} bytes)\n    \
         replace it with the right file{}",
        pin.manifest.display(), pin.name, pin.path, pin.sha256, pin.size, pin.from
    )]
    Mismatch {
        pin: Box<Pin>,
        file: PathBuf,
        got: String,
        got_size: u64,
    },
    #[error("firmware `{name}`: {message}")]
    Invalid { name: String, message: String },
    #[error("firmware `{name}`: {context}")]
    Io {
        name: String,
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("firmware `{name}`: combining: {source}")]
    Combine {
        name: String,
        #[source]
        source: CmdError,
    },
}

/// What a firmware file must be, for error messages.
#[derive(Debug)]
pub struct Pin {
    pub name: String,
    pub path: String,
    pub manifest: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// "\n    it comes from URL", or empty.
    pub from: String,
}

/// A loaded manifest and where its files are kept.
#[derive(Debug, Clone)]
pub struct Firmware {
    pub name: String,
    pub manifest_path: PathBuf,
    pub manifest: Manifest,
    /// `<cache>/firmware/<name>`.
    pub dir: PathBuf,
}

fn is_hex_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A relative path that stays inside its directory.
fn safe_relative(p: &str) -> bool {
    let path = Path::new(p);
    !p.is_empty()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Load and check `firmware/<name>.toml`.
pub fn load(data_root: &Path, name: &str, cache: &Path) -> Result<Firmware, FirmwareError> {
    let path = data_root.join("firmware").join(format!("{name}.toml"));
    if !path.is_file() || !safe_relative(name) {
        return Err(FirmwareError::NoManifest {
            name: name.to_owned(),
            path,
        });
    }
    let src = Source::read(&path).map_err(FirmwareError::Manifest)?;
    let manifest: Manifest = src.parse().map_err(FirmwareError::Manifest)?;
    let mut diags = Diagnostics::default();
    let line_of = |needle: &str| src.text.find(needle).map(|s| s..s + 1);
    for (i, f) in manifest.files.iter().enumerate() {
        if !is_hex_sha256(&f.sha256) {
            diags.0.push(src.diag(
                line_of(&f.sha256),
                &format!("files[{i}].sha256"),
                format!("`{}` is not a sha256 (64 hex digits)", f.sha256),
            ));
        }
        if !safe_relative(&f.path) {
            diags.0.push(src.diag(
                line_of(&f.path),
                &format!("files[{i}].path"),
                format!(
                    "`{}` must be a relative path inside the firmware directory",
                    f.path
                ),
            ));
        }
        if f.url.is_none() && manifest.base_url.is_none() {
            diags.0.push(src.diag(
                line_of(&f.path),
                &format!("files[{i}].url"),
                "no url and no base_url: nobody could fetch this file".to_owned(),
            ));
        }
    }
    if let Some(c) = &manifest.combine {
        if c.command.is_empty() {
            diags.0.push(src.diag(
                line_of("command"),
                "combine.command",
                "empty command".to_owned(),
            ));
        }
        for (i, o) in c.outputs.iter().enumerate() {
            if !safe_relative(o) {
                diags.0.push(src.diag(
                    line_of(o),
                    &format!("combine.outputs[{i}]"),
                    format!("`{o}` must be a relative path"),
                ));
            }
        }
    }
    diags.into_result(()).map_err(FirmwareError::Manifest)?;
    Ok(Firmware {
        name: name.to_owned(),
        manifest_path: path,
        manifest,
        dir: cache.join("firmware").join(name),
    })
}

/// Every manifest the board's blobs name, loaded once each (the files are
/// not looked at: see [`Firmware::ensure`]).
pub fn load_for_board(
    boot: &crate::spec::profile::BootConfig,
    data_root: &Path,
    cache: &Path,
) -> Result<BTreeMap<String, Firmware>, FirmwareError> {
    let mut out = BTreeMap::new();
    for name in boot.blobs.iter().filter_map(|b| b.firmware.as_ref()) {
        if !out.contains_key(name) {
            out.insert(name.clone(), load(data_root, name, cache)?);
        }
    }
    Ok(out)
}

impl Firmware {
    pub fn url(&self, f: &FileEntry) -> Option<String> {
        f.url.clone().or_else(|| {
            self.manifest
                .base_url
                .as_ref()
                .map(|b| format!("{}/{}", b.trim_end_matches('/'), f.path))
        })
    }

    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.manifest.files.iter().find(|f| f.path == path)
    }

    pub fn path_of(&self, f: &FileEntry) -> PathBuf {
        self.dir.join(&f.path)
    }

    /// Make sure every file is in the cache with its pinned hash, fetching
    /// the missing ones unless `offline`. Nothing unverified stays in the
    /// cache: downloads land under a temporary name and are renamed only
    /// once their hash matches.
    pub fn ensure(&self, offline: bool) -> Result<(), FirmwareError> {
        for f in &self.manifest.files {
            let dest = self.path_of(f);
            let url = self.url(f);
            let from = url
                .as_ref()
                .map(|u| format!("\n    it comes from {u}"))
                .unwrap_or_default();
            let pin = || {
                Box::new(Pin {
                    name: self.name.clone(),
                    path: f.path.clone(),
                    manifest: self.manifest_path.clone(),
                    sha256: f.sha256.to_ascii_lowercase(),
                    size: f.size,
                    from: from.clone(),
                })
            };
            if !dest.exists() {
                let fetch = if offline {
                    " (offline build: not fetched)".to_owned()
                } else if let Some(u) = &url {
                    match self.fetch(u, &dest) {
                        Ok(()) => String::new(),
                        Err(e) => format!(" and could not be fetched: {e}"),
                    }
                } else {
                    String::new()
                };
                if !dest.exists() {
                    return Err(FirmwareError::Missing {
                        pin: pin(),
                        dest,
                        fetch,
                    });
                }
            }
            let (got_size, got) = sha256_file(&dest).map_err(|source| FirmwareError::Io {
                name: self.name.clone(),
                context: format!("reading {}", dest.display()),
                source,
            })?;
            if !got.eq_ignore_ascii_case(&f.sha256) || got_size != f.size {
                return Err(FirmwareError::Mismatch {
                    pin: pin(),
                    file: dest,
                    got,
                    got_size,
                });
            }
        }
        Ok(())
    }

    /// Download `url` to `dest` if its hash matches the pin (resumable,
    /// see [`crate::fetch`]); any failure leaves `dest` absent.
    fn fetch(&self, url: &str, dest: &Path) -> Result<(), String> {
        let Some(f) = self.manifest.files.iter().find(|f| self.path_of(f) == dest) else {
            return Err("not in the manifest".into());
        };
        let pin = crate::fetch::Pin {
            sha256: &f.sha256,
            size: f.size,
        };
        crate::fetch::fetch_verified(url, dest, pin).map_err(|e| e.to_string())
    }

    /// Run `[combine]` with `inputs` (name -> file) and return the bytes of
    /// every output. The files are copied to a scratch directory first, so
    /// the cache is never written by the vendor's scripts.
    pub fn combine(
        &self,
        inputs: &BTreeMap<String, PathBuf>,
        scratch: &Path,
    ) -> Result<BTreeMap<String, Vec<u8>>, FirmwareError> {
        let c = self.manifest.combine.as_ref().ok_or_else(|| {
            self.invalid(
                "the board asks for a combined output, but the manifest has no [combine]".into(),
            )
        })?;
        for want in &c.inputs {
            if !inputs.contains_key(want) {
                return Err(self.invalid(format!("the board gives no input `{want}`")));
            }
        }
        let io = |context: String| {
            let name = self.name.clone();
            move |source| FirmwareError::Io {
                name,
                context,
                source,
            }
        };
        let src = scratch.join("src");
        let out = scratch.join("out");
        fs::create_dir_all(&out).map_err(io(format!("creating {}", out.display())))?;
        for f in &self.manifest.files {
            let to = src.join(&f.path);
            if let Some(p) = to.parent() {
                fs::create_dir_all(p).map_err(io(format!("creating {}", p.display())))?;
            }
            fs::copy(self.path_of(f), &to).map_err(io(format!("copying {}", f.path)))?;
            if f.executable {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&to, fs::Permissions::from_mode(0o755))
                    .map_err(io(format!("making {} executable", f.path)))?;
            }
        }
        let args = substitute(&c.command, inputs, &out);
        let (program, rest) = args
            .split_first()
            .ok_or_else(|| self.invalid("empty [combine] command".into()))?;
        Cmd::new(program)
            .args(rest)
            .current_dir(&src)
            .run()
            .map_err(|source| FirmwareError::Combine {
                name: self.name.clone(),
                source,
            })?;
        let mut outputs = BTreeMap::new();
        for o in &c.outputs {
            let p = out.join(o);
            let bytes = fs::read(&p).map_err(io(format!(
                "reading output {o} of the combine command (did it run?)"
            )))?;
            outputs.insert(o.clone(), bytes);
        }
        Ok(outputs)
    }

    fn invalid(&self, message: String) -> FirmwareError {
        FirmwareError::Invalid {
            name: self.name.clone(),
            message,
        }
    }
}

/// Replace `{out}` and `{input}` placeholders in a command (pure).
pub fn substitute(
    command: &[String],
    inputs: &BTreeMap<String, PathBuf>,
    out: &Path,
) -> Vec<String> {
    command
        .iter()
        .map(|a| {
            let mut s = a.replace("{out}", &out.to_string_lossy());
            for (k, v) in inputs {
                s = s.replace(&format!("{{{k}}}"), &v.to_string_lossy());
            }
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA_A: &str = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"; // "a"

    fn data_with(manifest: &str) -> (tempfile::TempDir, tempfile::TempDir) {
        let data = tempfile::tempdir().unwrap();
        fs::create_dir_all(data.path().join("firmware")).unwrap();
        fs::write(data.path().join("firmware/board.toml"), manifest).unwrap();
        (data, tempfile::tempdir().unwrap())
    }

    fn manifest(sha: &str, size: u64) -> String {
        format!(
            "description = \"test\"\nlicence = \"test\"\nbase_url = \"http://127.0.0.1:9/fw\"\n\n\
             [[files]]\npath = \"bl1.bin\"\nsize = {size}\nsha256 = \"{sha}\"\n"
        )
    }

    #[test]
    fn missing_file_names_hash_and_place_without_fetching_offline() {
        let (data, cache) = data_with(&manifest(SHA_A, 1));
        let fw = load(data.path(), "board", cache.path()).unwrap();
        let e = fw.ensure(true).unwrap_err().to_string();
        assert!(e.contains("`board/bl1.bin`"), "{e}");
        assert!(e.contains(SHA_A), "{e}");
        let dest = cache.path().join("firmware/board/bl1.bin");
        assert!(e.contains(&dest.display().to_string()), "{e}");
        assert!(e.contains("http://127.0.0.1:9/fw/bl1.bin"), "{e}");
        assert!(e.contains("offline"), "{e}");
    }

    #[test]
    fn failed_fetch_leaves_nothing_behind() {
        let (data, cache) = data_with(&manifest(SHA_A, 1));
        let fw = load(data.path(), "board", cache.path()).unwrap();
        let e = fw.ensure(false).unwrap_err().to_string();
        assert!(e.contains("could not be fetched"), "{e}");
        let dir = cache.path().join("firmware/board");
        let left: Vec<_> = fs::read_dir(&dir)
            .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn present_file_is_checked_against_its_pin() {
        let (data, cache) = data_with(&manifest(SHA_A, 1));
        let fw = load(data.path(), "board", cache.path()).unwrap();
        fs::create_dir_all(&fw.dir).unwrap();
        fs::write(fw.dir.join("bl1.bin"), "a").unwrap();
        fw.ensure(true).unwrap();
        fs::write(fw.dir.join("bl1.bin"), "b").unwrap();
        let e = fw.ensure(true).unwrap_err().to_string();
        assert!(e.contains("but "), "{e}");
        assert!(e.contains(SHA_A) && e.contains("board.toml"), "{e}");
    }

    #[test]
    fn bad_manifest_names_file_line_and_key() {
        let (data, cache) = data_with(&manifest("12ab", 1));
        let e = load(data.path(), "board", cache.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("board.toml:8:"), "{e}");
        assert!(e.contains("files[0].sha256"), "{e}");
        let (data, cache) = data_with(&manifest(SHA_A, 1).replace("bl1.bin", "../bl1.bin"));
        let e = load(data.path(), "board", cache.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("files[0].path"), "{e}");
        assert!(matches!(
            load(data.path(), "nope", cache.path()),
            Err(FirmwareError::NoManifest { .. })
        ));
    }

    #[test]
    fn combine_runs_in_a_copy_and_returns_outputs() {
        let m = manifest(SHA_A, 1)
            + "\n[combine]\ncommand = [\"sh\", \"-c\", \"cat bl1.bin {bl33} > {out}/u-boot.bin\"]\n\
               inputs = [\"bl33\"]\noutputs = [\"u-boot.bin\"]\n";
        let (data, cache) = data_with(&m);
        let fw = load(data.path(), "board", cache.path()).unwrap();
        fs::create_dir_all(&fw.dir).unwrap();
        fs::write(fw.dir.join("bl1.bin"), "a").unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let bl33 = scratch.path().join("u-boot.bin");
        fs::write(&bl33, "UBOOT").unwrap();
        let inputs = BTreeMap::from([("bl33".to_owned(), bl33)]);
        let out = fw.combine(&inputs, &scratch.path().join("work")).unwrap();
        assert_eq!(out["u-boot.bin"], b"aUBOOT");
        let e = fw
            .combine(&BTreeMap::new(), &scratch.path().join("w2"))
            .unwrap_err();
        assert!(e.to_string().contains("no input `bl33`"), "{e}");
    }

    #[test]
    fn substitute_replaces_placeholders() {
        let inputs = BTreeMap::from([("bl33".to_owned(), PathBuf::from("/t/u.bin"))]);
        let got = substitute(
            &["x".into(), "{bl33}".into(), "{out}/a".into()],
            &inputs,
            Path::new("/o"),
        );
        assert_eq!(got, ["x", "/t/u.bin", "/o/a"]);
    }
}
