//! Paths inside the image tree. The tree has absolute symlinks (`/lib` ->
//! `usr/lib`, `/etc/resolv.conf` -> `/run/...`) that must be followed as if
//! the tree were `/`, never onto the host.

use std::io;
use std::path::{Component, Path, PathBuf};

/// Resolve `rel` (a path inside the image) to a host path under `root`,
/// following symlinks of every component but the last with `root` as `/`.
pub fn resolve_parent_in_root(root: &Path, rel: &Path) -> io::Result<PathBuf> {
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let Some(last) = parts.pop() else {
        return Ok(root.to_owned());
    };
    let dir = resolve_dir(root, &parts, 0)?;
    Ok(dir.join(last))
}

/// The first symbolic link under `dir` (sorted walk) whose target leaves
/// `dir` through `..`, or is absolute when `absolute_escapes` (a content
/// bundle is a site of its own; in a layer's tree an absolute target means
/// a path of the image). Judged on the names alone, no link is followed:
/// its path under `dir` and its target.
pub fn escaping_link(dir: &Path, absolute_escapes: bool) -> io::Result<Option<(String, String)>> {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(p);
                continue;
            }
            if !ft.is_symlink() {
                continue;
            }
            let target = std::fs::read_link(&p)?;
            let rel = p.strip_prefix(dir).unwrap_or(&p);
            // Depth of the link's folder below `dir`, then walk the target.
            let mut depth = rel.components().count() as i64 - 1;
            let mut escapes = absolute_escapes && target.is_absolute();
            for c in target.components() {
                match c {
                    Component::ParentDir => depth -= 1,
                    Component::Normal(_) => depth += 1,
                    _ => {}
                }
                if depth < 0 {
                    escapes = true;
                }
            }
            if escapes {
                return Ok(Some((
                    rel.display().to_string(),
                    target.display().to_string(),
                )));
            }
        }
    }
    Ok(None)
}

fn resolve_dir(root: &Path, parts: &[std::ffi::OsString], depth: u32) -> io::Result<PathBuf> {
    if depth > 40 {
        return Err(io::Error::other(
            "too many levels of symbolic links in the image tree",
        ));
    }
    let mut cur: Vec<std::ffi::OsString> = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        cur.push(p.clone());
        let host = cur.iter().fold(root.to_owned(), |acc, s| acc.join(s));
        if let Ok(target) = std::fs::read_link(&host) {
            // Rebuild the path from the link target, inside the root.
            let mut next: Vec<std::ffi::OsString> = if target.is_absolute() {
                Vec::new()
            } else {
                cur[..cur.len() - 1].to_vec()
            };
            for c in target.components() {
                match c {
                    Component::Normal(s) => next.push(s.to_owned()),
                    Component::ParentDir => {
                        next.pop();
                    }
                    _ => {}
                }
            }
            next.extend(parts[i + 1..].iter().cloned());
            return resolve_dir(root, &next, depth + 1);
        }
    }
    Ok(cur.iter().fold(root.to_owned(), |acc, s| acc.join(s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn follows_links_inside_the_root_only() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("usr/lib/systemd")).unwrap();
        symlink("usr/lib", root.join("lib")).unwrap();
        std::fs::create_dir_all(root.join("run/x")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/run/x", root.join("etc/abs")).unwrap();
        assert_eq!(
            resolve_parent_in_root(root, Path::new("lib/systemd/a.service")).unwrap(),
            root.join("usr/lib/systemd/a.service")
        );
        // An absolute link points into the tree, not at the host's /run.
        assert_eq!(
            resolve_parent_in_root(root, Path::new("/etc/abs/f")).unwrap(),
            root.join("run/x/f")
        );
        // `..` cannot climb out of the root.
        assert_eq!(
            resolve_parent_in_root(root, Path::new("../../etc/passwd")).unwrap(),
            root.join("etc/passwd")
        );
    }
}
