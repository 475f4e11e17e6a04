//! Daemons never run in the build's tree: mmdebstrap installs a
//! `policy-rc.d` that refuses every start and a no-op `start-stop-daemon`
//! while packages install, and `systemctl` does nothing in a chroot. A
//! maintainer script can still start a program by hand (slapd, nscd...);
//! such a process would keep files of the tree open and write into it
//! while the filesystem is made. Before the filesystems are made the build
//! looks for processes whose root directory (or working directory) is in
//! the tree, stops them and fails, naming them.

use std::fs;
use std::path::Path;

/// A process found in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stray {
    pub pid: u32,
    /// Its command line (or name, for a kernel thread-like empty one).
    pub command: String,
}

impl std::fmt::Display for Stray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} `{}`", self.pid, self.command)
    }
}

/// Whether a process whose root and working directory are these runs in
/// `tree` (pure).
pub fn in_tree(tree: &Path, root: Option<&Path>, cwd: Option<&Path>) -> bool {
    root.is_some_and(|r| r.starts_with(tree)) || cwd.is_some_and(|c| c.starts_with(tree))
}

/// `/proc/PID/cmdline` as one line (pure).
pub fn command_line(cmdline: &[u8], comm: &str) -> String {
    let words: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    if words.is_empty() {
        comm.trim().to_owned()
    } else {
        words.join(" ")
    }
}

/// Processes running in `tree` (read from `/proc`; processes that end
/// while being read are skipped).
pub fn find(tree: &Path) -> Vec<Stray> {
    let Ok(tree) = tree.canonicalize() else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let p = e.path();
        let root = fs::read_link(p.join("root")).ok();
        let cwd = fs::read_link(p.join("cwd")).ok();
        if !in_tree(&tree, root.as_deref(), cwd.as_deref()) {
            continue;
        }
        let cmdline = fs::read(p.join("cmdline")).unwrap_or_default();
        let comm = fs::read_to_string(p.join("comm")).unwrap_or_default();
        out.push(Stray {
            pid,
            command: command_line(&cmdline, &comm),
        });
    }
    out.sort_by_key(|s| s.pid);
    out
}

#[derive(Debug, thiserror::Error)]
#[error("processes are still running inside the image tree {tree} (started in the build chroot by a package's maintainer script; they were stopped and nothing was written):\n  {list}")]
pub struct ProcessesLeft {
    pub tree: String,
    pub list: String,
}

/// Fail, naming them, if processes run in `tree` (they are stopped).
pub fn check(tree: &Path) -> Result<(), ProcessesLeft> {
    let strays = find(tree);
    if strays.is_empty() {
        return Ok(());
    }
    kill(&strays);
    Err(ProcessesLeft {
        tree: tree.display().to_string(),
        list: strays
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n  "),
    })
}

/// Stop them (SIGKILL: they were started by the build, in its tree).
pub fn kill(strays: &[Stray]) {
    for s in strays {
        if let Ok(pid) = i32::try_from(s.pid) {
            #[allow(unsafe_code)] // kill(2) on a pid read from /proc; no memory involved
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_in_the_tree() {
        let t = Path::new("/tmp/clic-build-x/root");
        assert!(in_tree(
            t,
            Some(Path::new("/tmp/clic-build-x/root")),
            Some(Path::new("/"))
        ));
        assert!(in_tree(
            t,
            Some(Path::new("/")),
            Some(Path::new("/tmp/clic-build-x/root/var/lib"))
        ));
        assert!(!in_tree(
            t,
            Some(Path::new("/")),
            Some(Path::new("/tmp/clic-build-x"))
        ));
        assert!(!in_tree(
            t,
            Some(Path::new("/tmp/clic-build-x/rootfs")),
            None
        ));
        assert!(!in_tree(t, None, None));
    }

    #[test]
    fn command_lines() {
        assert_eq!(
            command_line(b"/usr/sbin/slapd\0-h\0ldap:///\0", "slapd\n"),
            "/usr/sbin/slapd -h ldap:///"
        );
        assert_eq!(command_line(b"", "kworker\n"), "kworker");
    }

    #[test]
    fn a_real_process_in_a_directory_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(dir.path())
            .spawn()
            .unwrap();
        let found = find(dir.path());
        kill(&found);
        let _ = child.wait();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].pid, child.id());
        assert_eq!(found[0].command, "sleep 30");
        assert!(find(dir.path()).is_empty());
    }
}
