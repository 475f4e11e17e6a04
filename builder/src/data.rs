//! Where profiles and layers live: `--data DIR`, `$CLIC_DATA`, the
//! repository the current directory or the `clic` binary sits in,
//! `PREFIX/share/clic` next to an installed binary (`PREFIX/bin/clic`,
//! `make install`), or `/usr/share/clic`.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct DataDir {
    pub root: PathBuf,
}

impl DataDir {
    pub fn profiles(&self) -> PathBuf {
        self.root.join("profiles")
    }
    pub fn overlays(&self) -> PathBuf {
        self.root.join("overlays")
    }
    pub fn profile_path(&self, board: &str) -> PathBuf {
        self.profiles().join(format!("{board}.toml"))
    }
}

fn is_data_root(p: &Path) -> bool {
    p.join("profiles").is_dir() && p.join("overlays").is_dir()
}

#[derive(Debug, thiserror::Error)]
#[error("cannot find clic's data (profiles/ and overlays/): pass --data DIR or set CLIC_DATA to the repository")]
pub struct NoDataDir;

/// `PREFIX/share/clic` of a binary installed as `PREFIX/bin/clic`.
fn installed(exe: &Path) -> Option<PathBuf> {
    let bin = exe.parent()?;
    (bin.file_name()? == "bin").then(|| bin.parent().map(|p| p.join("share/clic")))?
}

pub fn locate(explicit: Option<&Path>) -> Result<DataDir, NoDataDir> {
    if let Some(p) = explicit {
        return if is_data_root(p) {
            Ok(DataDir { root: p.to_owned() })
        } else {
            Err(NoDataDir)
        };
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(env) = std::env::var_os("CLIC_DATA") {
        candidates.push(PathBuf::from(env));
    }
    if let Ok(cwd) = std::env::current_dir() {
        candidates.extend(cwd.ancestors().map(Path::to_owned));
    }
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).map(Path::to_owned));
        candidates.extend(installed(&exe));
    }
    candidates.push(PathBuf::from("/usr/share/clic"));
    candidates
        .into_iter()
        .find(|p| is_data_root(p))
        .map(|root| DataDir { root })
        .ok_or(NoDataDir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installed_binary_finds_its_prefix_share() {
        assert_eq!(
            installed(Path::new("/opt/clic/bin/clic")),
            Some(PathBuf::from("/opt/clic/share/clic"))
        );
        assert_eq!(installed(Path::new("/work/target/release/clic")), None);
    }
}
