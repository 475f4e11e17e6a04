//! Box-side binaries: the crates under `box/` that layers install
//! (`[[binaries]]`, `spec::binaries`), cross-built with cargo for the
//! image's architecture and copied into the image tree.
//!
//! How each Debian architecture is built (Rust target triple, Debian's gcc
//! cross linker) is data: `box/targets.toml` of the workspace. The cargo
//! command line and environment are computed by pure functions
//! ([`cargo_build`]); [`preflight`], [`build`] and [`install`] run them.
//! The target directory lives in the cache (`<cache>/box-target/`), so a
//! later build only relinks what changed.
//!
//! When the target's prebuilt standard library cannot be installed (a
//! mirror without it) but rust-src is there, std is built from source with
//! `-Z build-std` (`RUSTC_BOOTSTRAP=1` on a stable toolchain).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::artifact::manifest::BinaryInfo;
use crate::cmd::{Cmd, CmdError};
use crate::layers::paths::resolve_parent_in_root;
use crate::spec::binaries::BoxBinary;
use crate::spec::layer::LoadedLayer;

/// The per-architecture table, relative to the workspace.
pub const TARGETS_FILE: &str = "box/targets.toml";

/// The target directory, relative to the cache.
pub const TARGET_DIR: &str = "box-target";

/// How one Debian architecture is built (an entry of `box/targets.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchTarget {
    /// Rust target triple.
    pub target: String,
    /// The C compiler cargo links with.
    pub linker: String,
    /// The qemu-user binary that runs it on the (amd64) build host.
    #[serde(default)]
    pub runner: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BoxBinError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path} has no entry for architecture `{arch}`; add one with its Rust target and cross linker")]
    NoArch { path: PathBuf, arch: String },
    #[error("cargo is needed to build the box binaries ({what}) and could not be run: {detail}; run `make deps` (Rust comes from rustup)")]
    NoCargo { what: String, detail: String },
    #[error("Rust's standard library for `{target}` ({arch}) is not installed, nor rust-src to build it: run `make deps` (rustup target add {target})")]
    NoTarget { target: String, arch: String },
    #[error("the cross linker `{linker}` for {arch} is not installed: run `make deps`")]
    NoLinker { linker: String, arch: String },
    #[error("building box binary `{bin}` (package {package}) for {target}")]
    Cargo {
        package: String,
        bin: String,
        target: String,
        #[source]
        source: Box<CmdError>,
    },
    #[error("cargo built `{bin}` but {path} is not there")]
    NoOutput { bin: String, path: PathBuf },
    #[error("installing box binary {install}: {source}")]
    Install {
        install: String,
        source: std::io::Error,
    },
}

impl BoxBinError {
    /// The build was interrupted (Ctrl-C), not broken.
    pub fn is_interrupted(&self) -> bool {
        match self {
            BoxBinError::Cargo { source, .. } => {
                matches!(**source, CmdError::Interrupted { .. })
            }
            _ => false,
        }
    }
}

/// Parse `box/targets.toml` (its text; `path` for messages).
pub fn parse_targets(path: &Path, text: &str) -> Result<BTreeMap<String, ArchTarget>, BoxBinError> {
    toml::from_str(text).map_err(|e| BoxBinError::Parse {
        path: path.to_owned(),
        message: e.message().trim().to_owned(),
    })
}

/// The entry of `arch` in the workspace's `box/targets.toml`.
pub fn arch_target(workspace: &Path, arch: &str) -> Result<ArchTarget, BoxBinError> {
    let path = workspace.join(TARGETS_FILE);
    let text = fs::read_to_string(&path).map_err(|source| BoxBinError::Read {
        path: path.clone(),
        source,
    })?;
    parse_targets(&path, &text)?
        .remove(arch)
        .ok_or_else(|| BoxBinError::NoArch {
            path,
            arch: arch.to_owned(),
        })
}

/// Where cargo's standard library for the target comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Std {
    /// rustup's prebuilt `rust-std` for the target.
    Prebuilt,
    /// Built from rust-src with `-Z build-std`.
    FromSource,
}

/// Paths of the host the cargo command depends on.
#[derive(Debug, Clone)]
pub struct Host {
    /// `<cache>/box-target`.
    pub target_dir: PathBuf,
    /// Cargo's home (registry sources), remapped out of the binaries.
    pub cargo_home: Option<PathBuf>,
    /// The toolchain's sysroot (std's sources with `build-std`), remapped.
    pub sysroot: Option<PathBuf>,
    pub offline: bool,
}

/// One cargo invocation: run `cargo` with `args` and `env` in `workspace`;
/// the binary is then at `output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CargoBuild {
    pub workspace: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, OsString)>,
    pub output: PathBuf,
}

/// `CARGO_TARGET_<TRIPLE>_<KEY>`: cargo's per-target setting in the
/// environment.
pub fn target_env(triple: &str, key: &str) -> String {
    format!(
        "CARGO_TARGET_{}_{key}",
        triple.to_ascii_uppercase().replace(['-', '.'], "_")
    )
}

/// The cargo command that builds `b` for `t` (pure).
pub fn cargo_build(b: &BoxBinary, t: &ArchTarget, host: &Host, std: Std) -> CargoBuild {
    let mut args: Vec<OsString> = ["build", "--release", "--locked", "--target"]
        .iter()
        .map(OsString::from)
        .collect();
    args.push(t.target.clone().into());
    args.extend(["-p".into(), OsString::from(&b.package)]);
    args.extend(["--bin".into(), OsString::from(&b.bin)]);
    args.push("--target-dir".into());
    args.push(host.target_dir.clone().into());
    if host.offline {
        args.push("--offline".into());
    }
    if std == Std::FromSource {
        args.extend(["-Z".into(), "build-std=std,panic_abort".into()]);
    }
    // Host paths stay out of the binary (panic locations): the same
    // sources give the same bytes wherever the repository is.
    let mut remap = vec![("/clic", b.workspace.as_path())];
    if let Some(h) = &host.cargo_home {
        remap.push(("/cargo", h.as_path()));
    }
    if let Some(s) = &host.sysroot {
        remap.push(("/rust", s.as_path()));
    }
    let rustflags: Vec<String> = remap
        .iter()
        .map(|(to, from)| format!("--remap-path-prefix={}={to}", from.display()))
        .collect();
    let mut env: Vec<(String, OsString)> = vec![
        (target_env(&t.target, "LINKER"), t.linker.clone().into()),
        (
            target_env(&t.target, "RUSTFLAGS"),
            rustflags.join(" ").into(),
        ),
        // Stripped whatever the package's own profile says.
        ("CARGO_PROFILE_RELEASE_STRIP".into(), "true".into()),
        // Its output is a log (shown with --verbose), not a terminal.
        ("CARGO_TERM_PROGRESS_WHEN".into(), "never".into()),
        ("CARGO_TERM_COLOR".into(), "never".into()),
    ];
    if std == Std::FromSource {
        env.push(("RUSTC_BOOTSTRAP".into(), "1".into()));
    }
    CargoBuild {
        workspace: b.workspace.clone(),
        args,
        env,
        output: host.target_dir.join(&t.target).join("release").join(&b.bin),
    }
}

/// The binaries an image installs, in layer order; a later layer's binary
/// at the same path replaces an earlier one's.
pub fn binaries(layers: &[LoadedLayer]) -> Vec<BoxBinary> {
    let mut out: Vec<BoxBinary> = Vec::new();
    for b in layers.iter().flat_map(|l| l.binaries.iter()) {
        out.retain(|o| o.install != b.install);
        out.push(b.clone());
    }
    out
}

/// What [`build`] needs, checked by [`preflight`] before any work.
#[derive(Debug, Clone)]
pub struct Plan {
    pub arch: String,
    pub target: ArchTarget,
    pub std: Std,
    pub host: Host,
    pub binaries: Vec<BoxBinary>,
}

/// Check that the image's binaries can be built for `arch`: the table has
/// the architecture, cargo runs, the target's std (or rust-src) and the
/// linker are installed. `None` when the image has no box binaries.
pub fn preflight(
    layers: &[LoadedLayer],
    arch: &str,
    cache: &Path,
    offline: bool,
) -> Result<Option<Plan>, BoxBinError> {
    let binaries = binaries(layers);
    let Some(first) = binaries.first() else {
        return Ok(None);
    };
    let target = arch_target(&first.workspace, arch)?;
    let what = binaries
        .iter()
        .map(|b| b.bin.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    for tool in ["cargo", "rustc"] {
        Cmd::new(tool)
            .arg("--version")
            .current_dir(&first.workspace)
            .run()
            .map_err(|e| BoxBinError::NoCargo {
                what: what.clone(),
                detail: e.to_string(),
            })?;
    }
    let sysroot = Cmd::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(&first.workspace)
        .output_string()
        .map(PathBuf::from)
        .map_err(|e| BoxBinError::NoCargo {
            what: what.clone(),
            detail: e.to_string(),
        })?;
    let rustlib = sysroot.join("lib/rustlib");
    let std = if rustlib.join(&target.target).join("lib").is_dir() {
        Std::Prebuilt
    } else if rustlib.join("src/rust/library/std").is_dir() {
        Std::FromSource
    } else {
        return Err(BoxBinError::NoTarget {
            target: target.target.clone(),
            arch: arch.to_owned(),
        });
    };
    if !on_path(&target.linker) {
        return Err(BoxBinError::NoLinker {
            linker: target.linker.clone(),
            arch: arch.to_owned(),
        });
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    Ok(Some(Plan {
        arch: arch.to_owned(),
        target,
        std,
        host: Host {
            target_dir: cache.join(TARGET_DIR),
            cargo_home,
            sysroot: Some(sysroot),
            offline,
        },
        binaries,
    }))
}

/// An executable `name` in `$PATH` (or `name` itself, if it is a path).
fn on_path(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        return executable(Path::new(name));
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| executable(&d.join(name))))
        .unwrap_or(false)
}

/// A binary built for the image, not installed yet.
#[derive(Debug, Clone)]
pub struct Built {
    pub binary: BoxBinary,
    pub target: String,
    pub path: PathBuf,
    pub took: Duration,
}

/// Run cargo for every binary of the plan, one after the other. Cargo's
/// output is kept for the error (and shown with `--verbose`).
pub fn build(plan: &Plan) -> Result<Vec<Built>, BoxBinError> {
    let mut out = Vec::new();
    for b in &plan.binaries {
        let started = Instant::now();
        let c = cargo_build(b, &plan.target, &plan.host, plan.std);
        let mut cmd = Cmd::new("cargo")
            .args(&c.args)
            .current_dir(&c.workspace)
            .live(true);
        for (k, v) in &c.env {
            cmd = cmd.env(k, v);
        }
        cmd.run().map_err(|source| BoxBinError::Cargo {
            package: b.package.clone(),
            bin: b.bin.clone(),
            target: plan.target.target.clone(),
            source: Box::new(source),
        })?;
        if !c.output.is_file() {
            return Err(BoxBinError::NoOutput {
                bin: b.bin.clone(),
                path: c.output,
            });
        }
        out.push(Built {
            binary: b.clone(),
            target: plan.target.target.clone(),
            path: c.output,
            took: started.elapsed(),
        });
    }
    Ok(out)
}

/// Copy the built binaries into the image tree at their `install` paths:
/// mode 0755, owned by root, modified at `epoch`. Returns what the
/// manifest lists.
pub fn install(built: &[Built], root: &Path, epoch: i64) -> Result<Vec<BinaryInfo>, BoxBinError> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    for b in built {
        let install = &b.binary.install;
        let err = |source| BoxBinError::Install {
            install: install.clone(),
            source,
        };
        let rel = Path::new(install.trim_start_matches('/'));
        let dest = resolve_parent_in_root(root, rel).map_err(err)?;
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(err)?;
        }
        // Replace whatever is there, never write through a link.
        if fs::symlink_metadata(&dest).is_ok_and(|m| !m.is_dir()) {
            fs::remove_file(&dest).map_err(err)?;
        }
        fs::copy(&b.path, &dest).map_err(err)?;
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).map_err(err)?;
        std::os::unix::fs::lchown(&dest, Some(0), Some(0)).map_err(err)?;
        let mtime = std::time::UNIX_EPOCH + Duration::from_secs(epoch.max(0).unsigned_abs());
        fs::File::options()
            .write(true)
            .open(&dest)
            .and_then(|f| f.set_modified(mtime))
            .map_err(err)?;
        let (size, sha256) = crate::artifact::sums::sha256_file(&dest).map_err(err)?;
        out.push(BinaryInfo {
            package: b.binary.package.clone(),
            bin: b.binary.bin.clone(),
            path: install.clone(),
            target: b.target.clone(),
            size,
            sha256,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    fn clic_box(install: &str) -> BoxBinary {
        BoxBinary {
            package: "clic-box".into(),
            bin: "clic-box".into(),
            install: install.into(),
            workspace: "/src/clic".into(),
        }
    }

    fn host(offline: bool) -> Host {
        Host {
            target_dir: "/var/cache/clic/box-target".into(),
            cargo_home: Some("/root/.cargo".into()),
            sysroot: None,
            offline,
        }
    }

    #[test]
    fn the_repository_table_covers_every_architecture() {
        let path = repo().join(TARGETS_FILE);
        let text = fs::read_to_string(&path).unwrap();
        let t = parse_targets(&path, &text).unwrap();
        let arches: Vec<&str> = t.keys().map(String::as_str).collect();
        let mut known = crate::spec::profile::ARCHES.to_vec();
        known.sort();
        assert_eq!(arches, known);
        assert_eq!(t["armel"].target, "armv5te-unknown-linux-gnueabi");
        assert_eq!(t["armhf"].linker, "arm-linux-gnueabihf-gcc");
        assert!(t["amd64"].runner.is_none());
        assert!(t.values().all(|a| a.linker.ends_with("-gcc")));
    }

    #[test]
    fn a_bad_table_is_named() {
        let e = parse_targets(
            Path::new("box/targets.toml"),
            "[amd64]\ntarget = \"x\"\nlinker = \"y\"\ncpu = \"z\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("box/targets.toml: "), "{e}");
        assert!(e.to_string().contains("cpu"), "{e}");
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("box")).unwrap();
        fs::write(
            t.path().join(TARGETS_FILE),
            "[amd64]\ntarget = \"x\"\nlinker = \"y\"\n",
        )
        .unwrap();
        let e = arch_target(t.path(), "armel").unwrap_err();
        assert!(
            e.to_string().contains("no entry for architecture `armel`"),
            "{e}"
        );
    }

    #[test]
    fn the_cargo_command_line_and_environment() {
        let t = ArchTarget {
            target: "armv7-unknown-linux-gnueabihf".into(),
            linker: "arm-linux-gnueabihf-gcc".into(),
            runner: Some("qemu-arm-static".into()),
        };
        let c = cargo_build(
            &clic_box("/usr/lib/clic/clic-box"),
            &t,
            &host(false),
            Std::Prebuilt,
        );
        let args: Vec<String> = c
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "build --release --locked --target armv7-unknown-linux-gnueabihf -p clic-box --bin clic-box --target-dir /var/cache/clic/box-target"
        );
        let env: BTreeMap<&str, String> = c
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(
            env["CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER"],
            "arm-linux-gnueabihf-gcc"
        );
        assert_eq!(
            env["CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUSTFLAGS"],
            "--remap-path-prefix=/src/clic=/clic --remap-path-prefix=/root/.cargo=/cargo"
        );
        assert_eq!(env["CARGO_PROFILE_RELEASE_STRIP"], "true");
        assert!(!env.contains_key("RUSTC_BOOTSTRAP"));
        assert_eq!(c.workspace, Path::new("/src/clic"));
        assert_eq!(
            c.output,
            Path::new("/var/cache/clic/box-target/armv7-unknown-linux-gnueabihf/release/clic-box")
        );
    }

    #[test]
    fn offline_and_std_from_source() {
        let t = ArchTarget {
            target: "armv5te-unknown-linux-gnueabi".into(),
            linker: "arm-linux-gnueabi-gcc".into(),
            runner: None,
        };
        let c = cargo_build(&clic_box("/x"), &t, &host(true), Std::FromSource);
        let args: Vec<String> = c
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(args.ends_with(&[
            "--offline".to_string(),
            "-Z".into(),
            "build-std=std,panic_abort".into()
        ]));
        assert!(c
            .env
            .iter()
            .any(|(k, v)| k == "RUSTC_BOOTSTRAP" && v == "1"));
        assert!(c
            .env
            .iter()
            .any(|(k, _)| k == "CARGO_TARGET_ARMV5TE_UNKNOWN_LINUX_GNUEABI_LINKER"));
    }

    #[test]
    fn a_later_layer_replaces_a_binary_at_the_same_path() {
        let layer = |name: &str, bins: Vec<BoxBinary>| {
            let t = tempfile::tempdir().unwrap();
            fs::write(t.path().join("layer.toml"), "description = \"x\"\n").unwrap();
            let mut l = crate::spec::layer::load(name, t.path()).unwrap();
            l.binaries = bins;
            l
        };
        let mut other = clic_box("/usr/bin/a");
        other.bin = "other".into();
        let ls = [
            layer("one", vec![clic_box("/usr/bin/a"), clic_box("/usr/bin/b")]),
            layer("two", vec![other.clone()]),
        ];
        let b = binaries(&ls);
        assert_eq!(b, [clic_box("/usr/bin/b"), other]);
        assert!(binaries(&ls[..0]).is_empty());
    }

    #[test]
    fn installed_binaries_are_root_0755_at_the_epoch() {
        use std::os::unix::fs::MetadataExt;
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        let src = t.path().join("clic-box");
        fs::write(&src, b"\x7fELF binary").unwrap();
        let built = Built {
            binary: clic_box("/lib/clic/clic-box"),
            target: "x86_64-unknown-linux-gnu".into(),
            path: src,
            took: Duration::ZERO,
        };
        let r = install(&[built], &root, 1_735_689_600);
        if !nix_root() {
            // lchown to root needs root; the rest is checked by clic build.
            assert!(r.is_err());
            return;
        }
        let info = r.unwrap();
        // Through the image's own /lib -> usr/lib link.
        let m = fs::metadata(root.join("usr/lib/clic/clic-box")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o755);
        assert_eq!((m.uid(), m.gid()), (0, 0));
        assert_eq!(m.mtime(), 1_735_689_600);
        assert_eq!(info[0].size, 11);
        assert_eq!(info[0].path, "/lib/clic/clic-box");
        assert_eq!(info[0].sha256.len(), 64);
    }

    fn nix_root() -> bool {
        fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false)
    }
}
