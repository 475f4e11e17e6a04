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
//!
//! Others make their files from pinned sources on the build host (u-boot
//! compiled from Debian's source package for a board Debian builds none
//! for): the manifest's `[build]` recipe runs once per cache, its outputs
//! kept under `<cache>/firmware/<name>/built-<key>/`, the key a hash of
//! everything the recipe reads (the pins, the command, its script).

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
    #[serde(default)]
    pub build: Option<Build>,
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

/// A recipe that makes files from the manifest's pinned files alone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Program and arguments, run in a copy of the files. `{out}` is an
    /// empty output directory, `{script}` the copy of `script`.
    pub command: Vec<String>,
    /// A script kept next to the manifests (`firmware/<script>`): part of
    /// the cache key, so editing it rebuilds.
    #[serde(default)]
    pub script: Option<String>,
    /// Programs the recipe runs, checked before it starts.
    #[serde(default)]
    pub needs: Vec<String>,
    /// What to install when one of `needs` is missing.
    #[serde(default)]
    pub hint: Option<String>,
    /// Files the command leaves in `{out}`.
    pub outputs: Vec<String>,
}

/// Bump when the way `[build]` outputs are made changes without the
/// manifest changing.
const BUILD_RECIPE: &str = "clic-firmware-build-v1";

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
    #[error("firmware `{name}`: building from source: {source}")]
    Build {
        name: String,
        #[source]
        source: CmdError,
    },
    #[error(
        "firmware `{name}`: building it needs `{program}`, which is not on this host's PATH{hint}"
    )]
    BuildNeeds {
        name: String,
        program: String,
        hint: String,
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
    /// The bytes of `[build] script`, read when the manifest is loaded.
    pub script: Option<Vec<u8>>,
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
    let steps = [
        (
            "combine",
            manifest.combine.as_ref().map(|c| (&c.command, &c.outputs)),
        ),
        (
            "build",
            manifest.build.as_ref().map(|b| (&b.command, &b.outputs)),
        ),
    ];
    for (table, (command, outputs)) in steps.iter().filter_map(|(t, c)| Some((t, (*c)?))) {
        if command.is_empty() {
            diags.0.push(src.diag(
                line_of("command"),
                &format!("{table}.command"),
                "empty command".to_owned(),
            ));
        }
        for (i, o) in outputs.iter().enumerate() {
            if !safe_relative(o) {
                diags.0.push(src.diag(
                    line_of(o),
                    &format!("{table}.outputs[{i}]"),
                    format!("`{o}` must be a relative path"),
                ));
            }
        }
    }
    let mut script = None;
    if let Some(s) = manifest.build.as_ref().and_then(|b| b.script.as_ref()) {
        let file = data_root.join("firmware").join(s);
        match fs::read(&file) {
            Ok(bytes) if safe_relative(s) => script = Some(bytes),
            Ok(_) => diags.0.push(src.diag(
                line_of(s),
                "build.script",
                format!("`{s}` must be a relative path inside firmware/"),
            )),
            Err(e) => diags.0.push(src.diag(
                line_of(s),
                "build.script",
                format!("cannot read {}: {e}", file.display()),
            )),
        }
    }
    diags.into_result(()).map_err(FirmwareError::Manifest)?;
    Ok(Firmware {
        name: name.to_owned(),
        manifest_path: path,
        manifest,
        dir: cache.join("firmware").join(name),
        script,
    })
}

/// Every manifest the board's blobs name (as their source or as the
/// builder of an input), loaded once each (the files are not looked at:
/// see [`Firmware::ensure`] and [`Firmware::build`]).
pub fn load_for_board(
    boot: &crate::spec::profile::BootConfig,
    data_root: &Path,
    cache: &Path,
) -> Result<BTreeMap<String, Firmware>, FirmwareError> {
    let mut out = BTreeMap::new();
    for name in boot.blobs.iter().flat_map(|b| b.firmware_names()) {
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
        self.copy_files(&src)?;
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

    /// The cache key of the `[build]` outputs (pure): the pins, the
    /// command, the script and the host architecture the recipe runs on.
    pub fn build_key(&self) -> Option<String> {
        use sha2::{Digest, Sha256};
        let b = self.manifest.build.as_ref()?;
        let mut h = Sha256::new();
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(BUILD_RECIPE.as_bytes());
        field(std::env::consts::ARCH.as_bytes());
        for f in &self.manifest.files {
            field(f.path.as_bytes());
            field(f.sha256.to_ascii_lowercase().as_bytes());
        }
        for a in &b.command {
            field(a.as_bytes());
        }
        field(self.script.as_deref().unwrap_or_default());
        for o in &b.outputs {
            field(o.as_bytes());
        }
        Some(hex::encode(&h.finalize()[..16]))
    }

    /// Where the `[build]` outputs are kept.
    pub fn built_dir(&self) -> Option<PathBuf> {
        self.build_key()
            .map(|k| self.dir.join(format!("built-{k}")))
    }

    /// The path of one `[build]` output, made by [`Firmware::build`].
    pub fn built_output(&self, output: &str) -> Result<PathBuf, FirmwareError> {
        let b = self.manifest.build.as_ref().ok_or_else(|| {
            self.invalid("an input is asked of its [build], but the manifest has none".into())
        })?;
        if !b.outputs.iter().any(|o| o == output) {
            return Err(self.invalid(format!("[build] makes no output `{output}`")));
        }
        let p = self.built_dir().map(|d| d.join(output)).unwrap_or_default();
        if !p.is_file() {
            return Err(self.invalid(format!("{} is not built yet", p.display())));
        }
        Ok(p)
    }

    /// Run the `[build]` recipe unless its outputs are already in the
    /// cache. The files must have been checked ([`Firmware::ensure`]).
    /// The recipe runs in a scratch directory inside the cache, and its
    /// outputs are renamed into place only once all of them exist, so an
    /// interrupted or failed build leaves nothing that looks built.
    pub fn build(&self) -> Result<(), FirmwareError> {
        let (Some(b), Some(done)) = (self.manifest.build.as_ref(), self.built_dir()) else {
            return Ok(());
        };
        if b.outputs.iter().all(|o| done.join(o).is_file()) {
            return Ok(());
        }
        for program in &b.needs {
            if !on_path(program) {
                return Err(FirmwareError::BuildNeeds {
                    name: self.name.clone(),
                    program: program.clone(),
                    hint: b
                        .hint
                        .as_ref()
                        .map(|h| format!("\n    {h}"))
                        .unwrap_or_default(),
                });
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
        fs::create_dir_all(&self.dir).map_err(io(format!("creating {}", self.dir.display())))?;
        let scratch = tempfile::Builder::new()
            .prefix(".build-")
            .tempdir_in(&self.dir)
            .map_err(io(format!(
                "creating a scratch directory in {}",
                self.dir.display()
            )))?;
        let src = scratch.path().join("src");
        let out = scratch.path().join("out");
        self.copy_files(&src)?;
        fs::create_dir_all(&out).map_err(io(format!("creating {}", out.display())))?;
        let mut inputs = BTreeMap::new();
        if let (Some(name), Some(bytes)) = (&b.script, &self.script) {
            let to = src.join(Path::new(name).file_name().unwrap_or_default());
            fs::write(&to, bytes).map_err(io(format!("copying {name}")))?;
            inputs.insert("script".to_owned(), to);
        }
        let args = substitute(&b.command, &inputs, &out);
        let (program, rest) = args
            .split_first()
            .ok_or_else(|| self.invalid("empty [build] command".into()))?;
        crate::say!(
            "clic: building firmware `{}` from its pinned sources (once per cache; minutes)",
            self.name
        );
        let started = std::time::Instant::now();
        Cmd::new(program)
            .args(rest)
            .current_dir(&src)
            .run()
            .map_err(|source| FirmwareError::Build {
                name: self.name.clone(),
                source,
            })?;
        for o in &b.outputs {
            if !out.join(o).is_file() {
                return Err(self.invalid(format!("the [build] command left no output `{o}`")));
            }
        }
        match fs::rename(&out, &done) {
            Ok(()) => {}
            // Another build made it meanwhile: same key, same bytes.
            Err(_) if b.outputs.iter().all(|o| done.join(o).is_file()) => {}
            Err(e) => return Err(io(format!("keeping {}", done.display()))(e)),
        }
        crate::say!(
            "clic: built firmware `{}` in {:.0} s: {}",
            self.name,
            started.elapsed().as_secs_f64(),
            done.display()
        );
        Ok(())
    }

    /// Copy the pinned files to `to`, executables made executable.
    fn copy_files(&self, to: &Path) -> Result<(), FirmwareError> {
        for f in &self.manifest.files {
            let dest = to.join(&f.path);
            if let Some(p) = dest.parent() {
                fs::create_dir_all(p).map_err(|source| FirmwareError::Io {
                    name: self.name.clone(),
                    context: format!("creating {}", p.display()),
                    source,
                })?;
            }
            fs::copy(self.path_of(f), &dest).map_err(|source| FirmwareError::Io {
                name: self.name.clone(),
                context: format!("copying {}", f.path),
                source,
            })?;
            if f.executable {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).map_err(
                    |source| FirmwareError::Io {
                        name: self.name.clone(),
                        context: format!("making {} executable", f.path),
                        source,
                    },
                )?;
            }
        }
        Ok(())
    }

    fn invalid(&self, message: String) -> FirmwareError {
        FirmwareError::Invalid {
            name: self.name.clone(),
            message,
        }
    }
}

/// Is `program` an executable file on `PATH`?
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return runnable(Path::new(program));
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| runnable(&d.join(program))))
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

    /// A manifest whose `[build]` script appends to `log` (to count runs)
    /// and writes `u-boot.bin` from the pinned file.
    fn with_build(log: &Path, needs: &str, script: &str) -> (tempfile::TempDir, tempfile::TempDir) {
        let m = manifest(SHA_A, 1)
            + &format!(
                "\n[build]\nscript = \"recipes/r.sh\"\n\
                 command = [\"sh\", \"{{script}}\", \"{}\", \"{{out}}\"]\n\
                 needs = [{needs}]\nhint = \"install the tools\"\noutputs = [\"u-boot.bin\"]\n",
                log.display()
            );
        let (data, cache) = data_with(&m);
        fs::create_dir_all(data.path().join("firmware/recipes")).unwrap();
        fs::write(data.path().join("firmware/recipes/r.sh"), script).unwrap();
        fs::create_dir_all(cache.path().join("firmware/board")).unwrap();
        fs::write(cache.path().join("firmware/board/bl1.bin"), "a").unwrap();
        (data, cache)
    }

    const RECIPE: &str = "echo run >> \"$1\"; cat bl1.bin bl1.bin > \"$2/u-boot.bin\"\n";

    fn leftovers(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".build-") || n.starts_with("built-"))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn build_runs_once_per_key_and_serves_its_outputs() {
        let work = tempfile::tempdir().unwrap();
        let log = work.path().join("runs");
        let (data, cache) = with_build(&log, "\"sh\"", RECIPE);
        let fw = load(data.path(), "board", cache.path()).unwrap();
        fw.ensure(true).unwrap();
        assert!(fw.built_output("u-boot.bin").is_err(), "not built yet");
        fw.build().unwrap();
        fw.build().unwrap();
        assert_eq!(fs::read_to_string(&log).unwrap(), "run\n", "built twice");
        let out = fw.built_output("u-boot.bin").unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"aa");
        assert!(out.starts_with(fw.built_dir().unwrap()));
        let e = fw.built_output("other.bin").unwrap_err().to_string();
        assert!(e.contains("no output `other.bin`"), "{e}");
        assert_eq!(leftovers(&fw.dir).len(), 1, "{:?}", leftovers(&fw.dir));

        // Editing the script is a new key: built again, elsewhere.
        fs::write(
            data.path().join("firmware/recipes/r.sh"),
            format!("# v2\n{RECIPE}"),
        )
        .unwrap();
        let fw2 = load(data.path(), "board", cache.path()).unwrap();
        assert_ne!(fw2.build_key(), fw.build_key());
        fw2.build().unwrap();
        assert_eq!(fs::read_to_string(&log).unwrap(), "run\nrun\n");
    }

    #[test]
    fn build_needs_its_tools_and_a_failed_one_leaves_nothing() {
        let work = tempfile::tempdir().unwrap();
        let log = work.path().join("runs");
        let (data, cache) = with_build(&log, "\"sh\", \"clic-no-such-compiler\"", RECIPE);
        let fw = load(data.path(), "board", cache.path()).unwrap();
        let e = fw.build().unwrap_err().to_string();
        assert!(e.contains("`clic-no-such-compiler`"), "{e}");
        assert!(e.contains("install the tools"), "{e}");
        assert!(!log.exists(), "the recipe ran without its tools");

        let (data, cache) = with_build(&log, "", "echo half > \"$2/u-boot.bin\"; exit 3\n");
        let fw = load(data.path(), "board", cache.path()).unwrap();
        let e = fw.build().unwrap_err().to_string();
        assert!(e.contains("building from source"), "{e}");
        assert!(leftovers(&fw.dir).is_empty(), "{:?}", leftovers(&fw.dir));
        assert!(fw.built_output("u-boot.bin").is_err());
    }

    #[test]
    fn build_script_must_exist() {
        let work = tempfile::tempdir().unwrap();
        let (data, cache) = with_build(&work.path().join("runs"), "", RECIPE);
        fs::remove_file(data.path().join("firmware/recipes/r.sh")).unwrap();
        let e = load(data.path(), "board", cache.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("build.script") && e.contains("r.sh"), "{e}");
    }

    #[test]
    fn board_loads_the_manifests_that_build_its_inputs() {
        let work = tempfile::tempdir().unwrap();
        let (data, cache) = with_build(&work.path().join("runs"), "", RECIPE);
        fs::write(data.path().join("firmware/fip.toml"), manifest(SHA_A, 1)).unwrap();
        let boot: crate::spec::profile::BootConfig = toml::from_str(
            "loader = \"u-boot\"\ncmdline = \"\"\n[[blobs]]\nname = \"FIP\"\nsector = 1\n\
             firmware = \"fip\"\noutput = \"x.bin\"\n\
             inputs = { bl33 = { firmware = \"board\", output = \"u-boot.bin\" } }\n",
        )
        .unwrap();
        let fws = load_for_board(&boot, data.path(), cache.path()).unwrap();
        assert_eq!(fws.keys().collect::<Vec<_>>(), ["board", "fip"]);
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
