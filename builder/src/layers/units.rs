//! Enable and mask systemd units by writing the symlinks `systemctl enable`
//! would, computed from the units' `[Install]` sections. Works for every
//! architecture without running anything inside the tree.

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use super::paths::resolve_parent_in_root;

const UNIT_DIRS: &[&str] = &[
    "etc/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
];

#[derive(Debug, thiserror::Error)]
pub enum UnitError {
    #[error("unit `{0}` to enable is not installed in the image (looked in /etc/systemd/system and /usr/lib/systemd/system)")]
    NotFound(String),
    #[error("enabling unit `{unit}`: {source}")]
    Io { unit: String, source: io::Error },
}

/// The `[Install]` section of a unit file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Install {
    pub wanted_by: Vec<String>,
    pub required_by: Vec<String>,
    pub alias: Vec<String>,
    pub also: Vec<String>,
}

/// Parse the `[Install]` section (pure).
pub fn parse_install(text: &str) -> Install {
    let mut inst = Install::default();
    let mut in_install = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_install = line == "[Install]";
            continue;
        }
        if !in_install || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let values = v.split_whitespace().map(str::to_owned);
        match k.trim() {
            "WantedBy" => inst.wanted_by.extend(values),
            "RequiredBy" => inst.required_by.extend(values),
            "Alias" => inst.alias.extend(values),
            "Also" => inst.also.extend(values),
            _ => {}
        }
    }
    inst
}

/// `getty@tty1.service` is instantiated from `getty@.service`.
fn template_of(unit: &str) -> Option<String> {
    let (prefix, rest) = unit.split_once('@')?;
    let (inst, suffix) = rest.rsplit_once('.')?;
    (!inst.is_empty()).then(|| format!("{prefix}@.{suffix}"))
}

/// Find a unit's file; returns (image path, host path).
fn find_unit(root: &Path, unit: &str) -> Option<(PathBuf, PathBuf)> {
    let file = template_of(unit).unwrap_or_else(|| unit.to_owned());
    UNIT_DIRS.iter().find_map(|d| {
        let rel = Path::new(d).join(&file);
        let host = resolve_parent_in_root(root, &rel).ok()?;
        // A masked or aliased entry in /etc is a link, not the unit.
        let is_file = fs::metadata(&host).is_ok_and(|m| m.is_file());
        is_file.then(|| (Path::new("/").join(d).join(&file), host))
    })
}

fn link(root: &Path, image_link: &Path, target: &Path, unit: &str) -> Result<(), UnitError> {
    let io = |source| UnitError::Io {
        unit: unit.to_owned(),
        source,
    };
    let host = resolve_parent_in_root(root, image_link).map_err(io)?;
    if let Some(p) = host.parent() {
        fs::create_dir_all(p).map_err(io)?;
    }
    if fs::symlink_metadata(&host).is_ok() {
        fs::remove_file(&host).map_err(io)?;
    }
    symlink(target, &host).map_err(io)
}

/// Enable `unit` (and the units its `Also=` names).
pub fn enable(root: &Path, unit: &str) -> Result<(), UnitError> {
    enable_inner(root, unit, 0)
}

fn enable_inner(root: &Path, unit: &str, depth: u32) -> Result<(), UnitError> {
    let (image_path, host_path) =
        find_unit(root, unit).ok_or_else(|| UnitError::NotFound(unit.to_owned()))?;
    let text = fs::read_to_string(&host_path).map_err(|source| UnitError::Io {
        unit: unit.to_owned(),
        source,
    })?;
    let inst = parse_install(&text);
    let etc = Path::new("/etc/systemd/system");
    for (targets, suffix) in [(&inst.wanted_by, "wants"), (&inst.required_by, "requires")] {
        for t in targets {
            link(
                root,
                &etc.join(format!("{t}.{suffix}")).join(unit),
                &image_path,
                unit,
            )?;
        }
    }
    for a in &inst.alias {
        link(root, &etc.join(a), &image_path, unit)?;
    }
    if depth < 4 {
        for also in &inst.also {
            enable_inner(root, also, depth + 1)?;
        }
    }
    Ok(())
}

/// Mask `unit`: it will never start.
pub fn mask(root: &Path, unit: &str) -> Result<(), UnitError> {
    link(
        root,
        &Path::new("/etc/systemd/system").join(unit),
        Path::new("/dev/null"),
        unit,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_install_section_only() {
        let text = "[Unit]\nWantedBy=nope.target\n[Service]\nExecStart=/x\n[Install]\nWantedBy=multi-user.target graphical.target\nAlias=dbus-org.x.service\nAlso=x.socket\n# WantedBy=commented.target\n";
        let i = parse_install(text);
        assert_eq!(i.wanted_by, ["multi-user.target", "graphical.target"]);
        assert_eq!(i.alias, ["dbus-org.x.service"]);
        assert_eq!(i.also, ["x.socket"]);
        assert!(i.required_by.is_empty());
    }

    #[test]
    fn templates() {
        assert_eq!(
            template_of("serial-getty@ttyS0.service").as_deref(),
            Some("serial-getty@.service")
        );
        assert_eq!(template_of("nginx.service"), None);
        assert_eq!(template_of("x@.service"), None);
    }

    #[test]
    fn enable_writes_systemctl_links_and_mask_points_to_dev_null() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let lib = root.join("usr/lib/systemd/system");
        fs::create_dir_all(&lib).unwrap();
        fs::write(
            lib.join("a.service"),
            "[Install]\nWantedBy=multi-user.target\nAlso=a.socket\n",
        )
        .unwrap();
        fs::write(lib.join("a.socket"), "[Install]\nWantedBy=sockets.target\n").unwrap();
        fs::write(
            lib.join("getty@.service"),
            "[Install]\nWantedBy=getty.target\n",
        )
        .unwrap();
        enable(root, "a.service").unwrap();
        enable(root, "getty@tty1.service").unwrap();
        mask(root, "b.service").unwrap();
        let etc = root.join("etc/systemd/system");
        assert_eq!(
            fs::read_link(etc.join("multi-user.target.wants/a.service")).unwrap(),
            Path::new("/usr/lib/systemd/system/a.service")
        );
        assert_eq!(
            fs::read_link(etc.join("sockets.target.wants/a.socket")).unwrap(),
            Path::new("/usr/lib/systemd/system/a.socket")
        );
        assert_eq!(
            fs::read_link(etc.join("getty.target.wants/getty@tty1.service")).unwrap(),
            Path::new("/usr/lib/systemd/system/getty@.service")
        );
        assert_eq!(
            fs::read_link(etc.join("b.service")).unwrap(),
            Path::new("/dev/null")
        );
        assert!(matches!(
            enable(root, "missing.service"),
            Err(UnitError::NotFound(_))
        ));
    }
}
