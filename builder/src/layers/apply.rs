//! Copy a layer's `root/` tree over the image tree, rendering `.tera`
//! files. Entries are visited in sorted order; symlinks are kept.
//!
//! Modes follow the repository's own rule, git's: a file is 0644, or 0755
//! when its owner may execute it in the checkout; a folder is 0755. So a
//! checkout made under another umask (0077, 0002) builds the same image.
//! A layer that needs a private file makes it at first boot (secrets are
//! never in a layer) or sets its mode in a step.

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use super::paths::resolve_parent_in_root;
use super::render::{render, RenderError, TemplateContext};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("copying {src} to {dest}: {source}")]
    Io {
        src: PathBuf,
        dest: PathBuf,
        source: io::Error,
    },
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("template {0} is not UTF-8 text")]
    NotText(PathBuf),
}

/// The image mode of a layer file or folder whose checkout mode is `mode`.
pub fn image_mode(mode: u32, is_dir: bool) -> u32 {
    if is_dir || mode & 0o100 != 0 {
        0o755
    } else {
        0o644
    }
}

/// Apply `tree` onto `root`. Returns the image paths written (for logs).
pub fn apply_tree(
    tree: &Path,
    root: &Path,
    ctx: &TemplateContext,
) -> Result<Vec<PathBuf>, ApplyError> {
    let mut written = Vec::new();
    walk(tree, tree, root, ctx, &mut written)?;
    Ok(written)
}

fn walk(
    base: &Path,
    dir: &Path,
    root: &Path,
    ctx: &TemplateContext,
    written: &mut Vec<PathBuf>,
) -> Result<(), ApplyError> {
    let io_err = |src: &Path, dest: &Path| {
        let (src, dest) = (src.to_owned(), dest.to_owned());
        move |source| ApplyError::Io { src, dest, source }
    };
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(io_err(dir, root))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let src = e.path();
        let rel = src.strip_prefix(base).unwrap_or(&src).to_owned();
        let meta = fs::symlink_metadata(&src).map_err(io_err(&src, root))?;
        let is_template = meta.is_file() && rel.extension().is_some_and(|x| x == "tera");
        let image_rel = if is_template {
            rel.with_extension("")
        } else {
            rel.clone()
        };
        let dest = resolve_parent_in_root(root, &image_rel).map_err(io_err(&src, root))?;
        if meta.is_dir() {
            if fs::symlink_metadata(&dest).is_err() {
                fs::create_dir_all(&dest).map_err(io_err(&src, &dest))?;
                fs::set_permissions(&dest, fs::Permissions::from_mode(image_mode(0, true)))
                    .map_err(io_err(&src, &dest))?;
            }
            walk(base, &src, root, ctx, written)?;
            continue;
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(io_err(&src, parent))?;
        }
        // Replace whatever is there (file or link), never write through a link.
        if fs::symlink_metadata(&dest).is_ok_and(|m| !m.is_dir()) {
            fs::remove_file(&dest).map_err(io_err(&src, &dest))?;
        }
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&src).map_err(io_err(&src, &dest))?;
            symlink(&target, &dest).map_err(io_err(&src, &dest))?;
        } else if is_template {
            let text = fs::read(&src).map_err(io_err(&src, &dest))?;
            let text = String::from_utf8(text).map_err(|_| ApplyError::NotText(src.clone()))?;
            let out = render(&rel.to_string_lossy(), &text, ctx)?;
            fs::write(&dest, out).map_err(io_err(&src, &dest))?;
        } else {
            fs::copy(&src, &dest).map_err(io_err(&src, &dest))?;
        }
        if !meta.file_type().is_symlink() {
            let mode = image_mode(meta.permissions().mode(), false);
            fs::set_permissions(&dest, fs::Permissions::from_mode(mode))
                .map_err(io_err(&src, &dest))?;
        }
        written.push(Path::new("/").join(&image_rel));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::render::sample_context;

    #[test]
    fn copies_renders_and_keeps_modes_and_links() {
        let t = tempfile::tempdir().unwrap();
        let tree = t.path().join("tree");
        let root = t.path().join("root");
        fs::create_dir_all(tree.join("etc/x")).unwrap();
        fs::create_dir_all(tree.join("usr/bin")).unwrap();
        fs::create_dir_all(root.join("usr/lib")).unwrap();
        symlink("usr/lib", root.join("lib")).unwrap();
        fs::create_dir_all(tree.join("lib/systemd")).unwrap();
        fs::write(tree.join("lib/systemd/u.service"), "[Unit]\n").unwrap();
        fs::write(tree.join("etc/x/hello.conf.tera"), "host={{ hostname }}\n").unwrap();
        fs::write(tree.join("usr/bin/tool"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(tree.join("usr/bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
        symlink("hello.conf", tree.join("etc/x/link")).unwrap();
        // A file already in the image is replaced, even when it is a link.
        fs::create_dir_all(root.join("etc/x")).unwrap();
        symlink("/etc/passwd", root.join("etc/x/hello.conf")).unwrap();

        let written = apply_tree(&tree, &root, &sample_context()).unwrap();
        assert_eq!(
            fs::read_to_string(root.join("etc/x/hello.conf")).unwrap(),
            "host=clic\n"
        );
        assert!(!root.join("etc/x/hello.conf.tera").exists());
        let mode = fs::metadata(root.join("usr/bin/tool"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            fs::read_link(root.join("etc/x/link")).unwrap(),
            Path::new("hello.conf")
        );
        // lib/ went through the image's own /lib -> usr/lib link.
        assert!(root.join("usr/lib/systemd/u.service").is_file());
        assert!(written.contains(&PathBuf::from("/etc/x/hello.conf")));
    }

    #[test]
    fn modes_come_from_the_repository_rule_not_the_checkout_umask() {
        let t = tempfile::tempdir().unwrap();
        let tree = t.path().join("tree");
        let root = t.path().join("root");
        fs::create_dir_all(tree.join("etc/private")).unwrap();
        fs::create_dir_all(tree.join("usr/lib/clic")).unwrap();
        let set = |p: &str, m: u32| {
            fs::set_permissions(tree.join(p), fs::Permissions::from_mode(m)).unwrap()
        };
        // As a checkout under umask 0077 and 0002 would leave them.
        fs::write(tree.join("etc/private/a.conf"), "a\n").unwrap();
        set("etc/private/a.conf", 0o600);
        fs::write(tree.join("etc/private/b.conf.tera"), "b\n").unwrap();
        set("etc/private/b.conf.tera", 0o664);
        fs::write(tree.join("usr/lib/clic/run"), "#!/bin/sh\n").unwrap();
        set("usr/lib/clic/run", 0o700);
        fs::write(tree.join("usr/lib/clic/group"), "#!/bin/sh\n").unwrap();
        set("usr/lib/clic/group", 0o775);
        set("etc/private", 0o700);
        set("usr/lib/clic", 0o770);

        apply_tree(&tree, &root, &sample_context()).unwrap();
        let mode = |p: &str| fs::metadata(root.join(p)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode("etc/private/a.conf"), 0o644);
        assert_eq!(mode("etc/private/b.conf"), 0o644);
        assert_eq!(mode("usr/lib/clic/run"), 0o755);
        assert_eq!(mode("usr/lib/clic/group"), 0o755);
        assert_eq!(mode("etc/private"), 0o755);
        assert_eq!(mode("usr/lib/clic"), 0o755);
    }

    /// Issue 16, item 12: a layer (or a spec's overlay) whose tree holds
    /// absolute and `..` links, and a later layer writing through them:
    /// everything lands inside the image root, nothing on the host (a
    /// canary folder outside the root stays empty).
    #[test]
    fn hostile_links_in_overlays_never_write_outside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let canary = t.path().join("host-canary");
        fs::create_dir_all(&canary).unwrap();
        let root = t.path().join("root");
        fs::create_dir_all(&root).unwrap();
        let first = t.path().join("first");
        fs::create_dir_all(first.join("usr")).unwrap();
        symlink(&canary, first.join("abs")).unwrap();
        symlink(
            "../../../../../..".to_owned() + canary.to_str().unwrap(),
            first.join("up"),
        )
        .unwrap();
        symlink("../../host-canary", first.join("usr/rel")).unwrap();
        apply_tree(&first, &root, &sample_context()).unwrap();
        let second = t.path().join("second");
        for d in ["abs", "up", "usr/rel"] {
            fs::create_dir_all(second.join(d)).unwrap();
            fs::write(second.join(d).join("planted"), "x").unwrap();
            fs::write(second.join(d).join("t.conf.tera"), "{{ hostname }}").unwrap();
        }
        // A file replacing a link is written as a file, never through it.
        fs::write(second.join("usr/planted"), "y").unwrap();
        let _ = apply_tree(&second, &root, &sample_context());
        let leaked: Vec<_> = fs::read_dir(&canary).unwrap().collect();
        assert!(leaked.is_empty(), "written on the host: {leaked:?}");
        assert!(
            fs::read_dir(t.path()).unwrap().count() == 4,
            "only canary, root and the two trees"
        );
    }

    #[test]
    fn a_bad_template_names_its_file() {
        let t = tempfile::tempdir().unwrap();
        let tree = t.path().join("tree");
        fs::create_dir_all(&tree).unwrap();
        fs::write(tree.join("bad.tera"), "{{ missing_value }}").unwrap();
        let err = apply_tree(&tree, &t.path().join("root"), &sample_context()).unwrap_err();
        assert!(err.to_string().contains("bad.tera"), "{err}");
    }
}
