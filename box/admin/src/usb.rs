//! Content from a USB stick: find what can be imported, copy it verified,
//! make it appear on the box.
//!
//! - A stick is a partition (or a whole disk) on the USB bus with a
//!   filesystem ([`sticks`], from `lsblk --json`); it is mounted read-only,
//!   `nosuid,nodev,noexec`, and unmounted after.
//! - On it ([`scan`], symbolic links never followed nor listed):
//!   ZIM files (to kiwix), folders holding a `SHA256SUMS` (a content pack:
//!   each file listed there is checked against it; a file that does not
//!   match is refused), other files and folders (copied, and checked by a
//!   second read against the hash taken while copying).
//! - A ZIM file's own MD5 checksum (at `checksumPos` in its header) is
//!   checked ([`zim_ok`]).
//! - Copies go to a hidden staging directory on the destination's
//!   filesystem and are renamed into place only once verified: a corrupt or
//!   partial copy is never shown. A copy that would leave less than
//!   [`MARGIN`] free is refused before it starts.
//!
//! The admin chooses items by their index in the scan; no path from a
//! request is ever used.

use md5::Md5;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Free space kept after an import.
pub const MARGIN: u64 = 64 << 20;
/// How deep folders are looked into.
const MAX_DEPTH: usize = 4;
/// Entries looked at, at most (a stick full of small files).
const MAX_ENTRIES: usize = 20_000;

#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct Stick {
    pub path: String,
    pub label: String,
    pub fstype: String,
    pub size: String,
}

/// `lsblk --json -o PATH,TRAN,FSTYPE,LABEL,SIZE,MOUNTPOINT`: the
/// filesystems on USB disks (a disk's children inherit its transport).
pub fn sticks(lsblk_json: &str) -> Vec<Stick> {
    #[derive(serde::Deserialize)]
    struct Dev {
        path: Option<String>,
        tran: Option<String>,
        fstype: Option<String>,
        label: Option<String>,
        size: Option<String>,
        #[serde(default)]
        children: Vec<Dev>,
    }
    #[derive(serde::Deserialize)]
    struct Top {
        blockdevices: Vec<Dev>,
    }
    fn walk(d: &Dev, usb: bool, out: &mut Vec<Stick>) {
        let usb = usb || d.tran.as_deref() == Some("usb");
        if usb {
            if let (Some(p), Some(fs)) = (&d.path, &d.fstype) {
                if ["vfat", "exfat", "ext4", "ext3", "ext2", "ntfs", "ntfs3"].contains(&fs.as_str())
                {
                    out.push(Stick {
                        path: p.clone(),
                        label: d.label.clone().unwrap_or_default(),
                        fstype: fs.clone(),
                        size: d.size.clone().unwrap_or_default(),
                    });
                }
            }
        }
        for c in &d.children {
            walk(c, usb, out);
        }
    }
    let Ok(top) = serde_json::from_str::<Top>(lsblk_json) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for d in &top.blockdevices {
        walk(d, false, &mut out);
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    Zim,
    Pack,
    File,
    Folder,
}

/// Something on the stick that can be imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub kind: Kind,
    /// Relative to the stick's root.
    pub rel: PathBuf,
    pub size: u64,
    /// For a pack: file (relative to the pack) -> expected sha256.
    pub sums: BTreeMap<PathBuf, String>,
}

impl Found {
    pub fn name(&self) -> String {
        self.rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// `SHA256SUMS` (`HASH  NAME` or `HASH *NAME` lines): the entries whose
/// name stays inside the pack (no `..`, not absolute).
pub fn parse_sums(text: &str) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for l in text.lines() {
        let Some((hash, name)) = l.split_once(char::is_whitespace) else {
            continue;
        };
        let name = name.trim_start().trim_start_matches('*');
        let hash = hash.to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let p = Path::new(name);
        let inside = !name.is_empty()
            && p.components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if inside {
            out.insert(p.to_path_buf(), hash);
        }
    }
    out
}

/// Size of a folder's regular files (links not followed); None past the
/// entry limit or on a read error.
fn tree_size(dir: &Path, depth: usize, seen: &mut usize) -> Option<u64> {
    let mut total = 0u64;
    for e in fs::read_dir(dir).ok()? {
        let e = e.ok()?;
        *seen += 1;
        if *seen > MAX_ENTRIES || depth > MAX_DEPTH + 4 {
            return None;
        }
        let m = fs::symlink_metadata(e.path()).ok()?;
        if m.is_dir() {
            total = total.saturating_add(tree_size(&e.path(), depth + 1, seen)?);
        } else if m.is_file() {
            total = total.saturating_add(m.len());
        }
    }
    Some(total)
}

fn hidden(name: &str) -> bool {
    name.starts_with('.')
        || ["System Volume Information", "$RECYCLE.BIN", "lost+found"].contains(&name)
}

/// What the stick mounted at `root` offers.
pub fn scan(root: &Path) -> Vec<Found> {
    let mut out = Vec::new();
    let mut seen = 0;
    scan_dir(root, root, 0, &mut seen, &mut out);
    out
}

fn scan_dir(root: &Path, dir: &Path, depth: usize, seen: &mut usize, out: &mut Vec<Found>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        *seen += 1;
        if *seen > MAX_ENTRIES {
            return;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        if hidden(&name) {
            continue;
        }
        let path = e.path();
        let Ok(m) = fs::symlink_metadata(&path) else {
            continue;
        };
        let Ok(rel) = path.strip_prefix(root).map(Path::to_path_buf) else {
            continue;
        };
        if m.file_type().is_symlink() {
            continue;
        }
        if m.is_file() {
            let zim = name.to_ascii_lowercase().ends_with(".zim");
            out.push(Found {
                kind: if zim { Kind::Zim } else { Kind::File },
                rel,
                size: m.len(),
                sums: BTreeMap::new(),
            });
        } else if m.is_dir() {
            let sums_file = path.join("SHA256SUMS");
            let is_pack = fs::symlink_metadata(&sums_file).is_ok_and(|m| m.is_file());
            if is_pack {
                let sums = fs::read_to_string(&sums_file)
                    .map(|t| parse_sums(&t))
                    .unwrap_or_default();
                let size = sums
                    .keys()
                    .filter_map(|f| fs::symlink_metadata(path.join(f)).ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum();
                out.push(Found {
                    kind: Kind::Pack,
                    rel,
                    size,
                    sums,
                });
            } else if depth < MAX_DEPTH {
                let before = out.len();
                scan_dir(root, &path, depth + 1, seen, out);
                // A folder with no ZIM or pack inside is offered whole.
                if out[before..]
                    .iter()
                    .all(|f| matches!(f.kind, Kind::File | Kind::Folder))
                {
                    out.truncate(before);
                    let mut n = 0;
                    if let Some(size) = tree_size(&path, 0, &mut n) {
                        out.push(Found {
                            kind: Kind::Folder,
                            rel,
                            size,
                            sums: BTreeMap::new(),
                        });
                    }
                }
            }
        }
    }
}

/// A ZIM file's MD5 checksum (the 16 bytes at `checksumPos`, over all the
/// bytes before it) matches.
pub fn zim_ok(path: &Path) -> std::io::Result<bool> {
    let mut f = fs::File::open(path)?;
    let mut head = [0u8; 80];
    if f.read_exact(&mut head).is_err() {
        return Ok(false);
    }
    if u32::from_le_bytes([head[0], head[1], head[2], head[3]]) != 0x044D_495A {
        return Ok(false);
    }
    let mut pos = [0u8; 8];
    pos.copy_from_slice(&head[72..80]);
    let pos = u64::from_le_bytes(pos);
    let len = f.metadata()?.len();
    if pos < 80 || pos.saturating_add(16) > len {
        return Ok(false);
    }
    let mut f = fs::File::open(path)?;
    let mut md5 = Md5::new();
    let mut left = pos;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = (left as usize).min(buf.len());
        f.read_exact(&mut buf[..n])?;
        md5.update(&buf[..n]);
        left -= n as u64;
    }
    let mut want = [0u8; 16];
    f.read_exact(&mut want)?;
    Ok(md5.finalize().as_slice() == want)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// sha256 of a file.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// What the library's readers (nginx, kiwix: other users) need: files
/// 0644, folders 0755, whatever the service's umask.
fn public(path: &Path, dir: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(
        path,
        fs::Permissions::from_mode(if dir { 0o755 } else { 0o644 }),
    )
}

/// Copy `from` to `to` (a new file), synced; the sha256 of what was read.
/// `progress` is told of every chunk.
fn copy_hashing(from: &Path, to: &Path, progress: &mut dyn FnMut(u64)) -> std::io::Result<String> {
    let mut src = fs::File::open(from)?;
    let mut dst = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)?;
    public(to, false)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        dst.write_all(&buf[..n])?;
        progress(n as u64);
    }
    dst.sync_all()?;
    Ok(hex(&h.finalize()))
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("not enough room: {need} MB needed, {free} MB free")]
    NoRoom { need: u64, free: u64 },
    #[error("{0}: its sha256 does not match SHA256SUMS")]
    Mismatch(String),
    #[error("{0}: not a valid ZIM file (its checksum does not match)")]
    BadZim(String),
    #[error("{0}: the copy differs from the stick (read again)")]
    CopyDiffers(String),
    #[error("{0} is already on the box")]
    Exists(String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

/// Where things go.
#[derive(Clone, Debug)]
pub struct Places {
    pub zim_dir: PathBuf,
    pub library_dir: PathBuf,
}

impl Places {
    /// Where `f` lands on the box.
    pub fn target(&self, f: &Found) -> PathBuf {
        match f.kind {
            Kind::Zim => self.zim_dir.join(f.name()),
            _ => self.library_dir.join(f.name()),
        }
    }
}

/// The outcome of one item: where it went, and the files refused in it.
#[derive(Debug)]
pub struct Imported {
    pub target: PathBuf,
    pub refused: Vec<String>,
}

fn io_err(what: &Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
    move |e| ImportError::Io(what.display().to_string(), e)
}

/// Remove the staging folders of earlier runs of the service from `dir`
/// (an import cut by a power cut or a crash leaves its `.clic-import-PID`;
/// one service runs at a time, so only this process's own is live).
fn clear_stale_stages(dir: &Path, pid: u32) {
    let own = format!(".clic-import-{pid}");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".clic-import-") && name != own {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Import `f` from the stick at `root`: staged in `<dest>/.clic-import-*`,
/// verified, renamed into place. For a pack, each listed file must match
/// SHA256SUMS: a file that does not is left out (said in `refused`), the
/// others come. `free` is the destination's free space now.
pub fn import(
    root: &Path,
    f: &Found,
    places: &Places,
    free: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Imported, ImportError> {
    if f.size.saturating_add(MARGIN) > free {
        return Err(ImportError::NoRoom {
            need: (f.size + MARGIN) >> 20,
            free: free >> 20,
        });
    }
    let target = places.target(f);
    if fs::symlink_metadata(&target).is_ok() {
        return Err(ImportError::Exists(f.name()));
    }
    let dest_dir = target.parent().unwrap_or(Path::new("/")).to_path_buf();
    let dest_dir = dest_dir.as_path();
    if !dest_dir.is_dir() {
        fs::create_dir_all(dest_dir).map_err(io_err(dest_dir))?;
        public(dest_dir, true).map_err(io_err(dest_dir))?;
    }
    clear_stale_stages(dest_dir, std::process::id());
    let stage = dest_dir.join(format!(".clic-import-{}", std::process::id()));
    let _ = fs::remove_dir_all(&stage);
    fs::create_dir(&stage).map_err(io_err(&stage))?;
    let result = stage_item(root, f, &stage, progress);
    let outcome = result.and_then(|(staged, refused)| {
        fs::rename(&staged, &target).map_err(io_err(&target))?;
        if let Ok(d) = fs::File::open(dest_dir) {
            let _ = d.sync_all();
        }
        Ok(Imported { target, refused })
    });
    let _ = fs::remove_dir_all(&stage);
    outcome
}

fn stage_item(
    root: &Path,
    f: &Found,
    stage: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<(PathBuf, Vec<String>), ImportError> {
    let src = root.join(&f.rel);
    let staged = stage.join(f.name());
    let mut refused = Vec::new();
    match f.kind {
        Kind::Zim | Kind::File => {
            copy_checked(&src, &staged, progress)?;
            if f.kind == Kind::Zim && !zim_ok(&staged).map_err(io_err(&staged))? {
                return Err(ImportError::BadZim(f.name()));
            }
        }
        Kind::Pack => {
            fs::create_dir(&staged).map_err(io_err(&staged))?;
            public(&staged, true).map_err(io_err(&staged))?;
            for (file, want) in &f.sums {
                let from = src.join(file);
                match fs::symlink_metadata(&from) {
                    Ok(m) if m.is_file() => {}
                    _ => {
                        refused.push(format!("{}: missing", file.display()));
                        continue;
                    }
                }
                let to = staged.join(file);
                if let Some(p) = to.parent() {
                    if !p.is_dir() {
                        fs::create_dir_all(p).map_err(io_err(p))?;
                        public(p, true).map_err(io_err(p))?;
                    }
                }
                let got = copy_hashing(&from, &to, progress).map_err(io_err(&from))?;
                let again = sha256_file(&to).map_err(io_err(&to))?;
                if &got != want || again != got {
                    let _ = fs::remove_file(&to);
                    refused.push(ImportError::Mismatch(file.display().to_string()).to_string());
                }
            }
            let sums = src.join("SHA256SUMS");
            if fs::copy(&sums, staged.join("SHA256SUMS")).is_ok() {
                let _ = public(&staged.join("SHA256SUMS"), false);
            }
            if refused.len() == f.sums.len() && !f.sums.is_empty() {
                return Err(ImportError::Mismatch(f.name()));
            }
        }
        Kind::Folder => copy_tree(&src, &staged, 0, progress)?,
    }
    Ok((staged, refused))
}

fn copy_checked(from: &Path, to: &Path, progress: &mut dyn FnMut(u64)) -> Result<(), ImportError> {
    let got = copy_hashing(from, to, progress).map_err(io_err(from))?;
    if sha256_file(to).map_err(io_err(to))? != got {
        return Err(ImportError::CopyDiffers(from.display().to_string()));
    }
    Ok(())
}

fn copy_tree(
    from: &Path,
    to: &Path,
    depth: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<(), ImportError> {
    fs::create_dir(to).map_err(io_err(to))?;
    public(to, true).map_err(io_err(to))?;
    if depth > MAX_DEPTH + 4 {
        return Ok(());
    }
    for e in fs::read_dir(from).map_err(io_err(from))? {
        let e = e.map_err(io_err(from))?;
        let p = e.path();
        let m = fs::symlink_metadata(&p).map_err(io_err(&p))?;
        let dest = to.join(e.file_name());
        if m.is_dir() {
            copy_tree(&p, &dest, depth + 1, progress)?;
        } else if m.is_file() {
            copy_checked(&p, &dest, progress)?;
        }
        // Links and devices are never copied.
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LSBLK: &str = r#"{"blockdevices":[
      {"path":"/dev/vda","tran":null,"fstype":null,"label":null,"size":"1.4G","mountpoint":null,
       "children":[{"path":"/dev/vda1","tran":null,"fstype":"vfat","label":"BOOT","size":"256M","mountpoint":"/boot/efi"}]},
      {"path":"/dev/sda","tran":"usb","fstype":null,"label":null,"size":"7.5G","mountpoint":null,
       "children":[{"path":"/dev/sda1","tran":null,"fstype":"vfat","label":"CLE","size":"7.5G","mountpoint":null}]},
      {"path":"/dev/sdb","tran":"usb","fstype":"exfat","label":"NUE","size":"32G","mountpoint":null}
    ]}"#;

    #[test]
    fn usb_filesystems_only() {
        let s = sticks(LSBLK);
        let paths: Vec<&str> = s.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["/dev/sda1", "/dev/sdb"]);
        assert_eq!(s[0].label, "CLE");
        assert!(sticks("not json").is_empty());
    }

    #[test]
    fn sums_stay_inside_the_pack() {
        let h = "a".repeat(64);
        let text = format!(
            "{h}  guide.pdf\n{h} *img/a.png\n{h}  ../etc/passwd\n{h}  /etc/shadow\nzz  short\n"
        );
        let s = parse_sums(&text);
        let names: Vec<String> = s.keys().map(|p| p.display().to_string()).collect();
        assert_eq!(names, ["guide.pdf", "img/a.png"]);
    }

    fn stick() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::write(r.join("notes.txt"), "bonjour").unwrap();
        fs::create_dir_all(r.join("pack")).unwrap();
        fs::write(r.join("pack/bon.txt"), "bon").unwrap();
        fs::write(r.join("pack/faux.txt"), "faux").unwrap();
        let good = hex(&Sha256::digest(b"bon"));
        let bad = hex(&Sha256::digest(b"autre chose"));
        fs::write(
            r.join("pack/SHA256SUMS"),
            format!("{good}  bon.txt\n{bad}  faux.txt\n"),
        )
        .unwrap();
        fs::create_dir_all(r.join("photos/2024")).unwrap();
        fs::write(r.join("photos/2024/a.jpg"), "jpg").unwrap();
        fs::write(r.join("wiki.zim"), "ZIM?").unwrap();
        std::os::unix::fs::symlink("/etc/shadow", r.join("secret")).unwrap();
        std::os::unix::fs::symlink("/etc", r.join("photos/etc")).unwrap();
        fs::create_dir_all(r.join(".Trash-1000")).unwrap();
        d
    }

    #[test]
    fn scan_finds_kinds_and_skips_links() {
        let d = stick();
        let found = scan(d.path());
        let list: Vec<(Kind, String)> = found
            .iter()
            .map(|f| (f.kind, f.rel.display().to_string()))
            .collect();
        assert_eq!(
            list,
            [
                (Kind::File, "notes.txt".into()),
                (Kind::Pack, "pack".into()),
                (Kind::Folder, "photos".into()),
                (Kind::Zim, "wiki.zim".into()),
            ]
        );
        assert_eq!(found[2].size, 3, "the link to /etc is not counted");
    }

    #[test]
    #[allow(unsafe_code)] // umask, as the service has it (UMask=0077)
    fn import_verifies_and_never_shows_a_bad_copy() {
        // SAFETY: umask has no memory effect; it only changes new files' modes.
        unsafe { libc::umask(0o077) };
        let d = stick();
        let dest = tempfile::tempdir().unwrap();
        let places = Places {
            zim_dir: dest.path().join("zim"),
            library_dir: dest.path().join("library"),
        };
        let found = scan(d.path());
        let mut copied = 0;
        let mut p = |n| copied += n;
        // The pack: the good file comes, the bad one is refused.
        let r = import(d.path(), &found[1], &places, u64::MAX, &mut p).unwrap();
        assert_eq!(fs::read_to_string(r.target.join("bon.txt")).unwrap(), "bon");
        assert!(!r.target.join("faux.txt").exists());
        assert_eq!(r.refused.len(), 1, "{:?}", r.refused);
        // A file and a folder, whole; the link inside is not copied.
        import(d.path(), &found[0], &places, u64::MAX, &mut p).unwrap();
        let r = import(d.path(), &found[2], &places, u64::MAX, &mut p).unwrap();
        assert!(r.target.join("2024/a.jpg").is_file());
        // Readable by the library's readers whatever the umask (the
        // service runs with 0077).
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&r.target.join("2024/a.jpg")), 0o644);
        assert_eq!(mode(&r.target.join("2024")), 0o755);
        assert_eq!(mode(&r.target), 0o755);
        assert!(fs::symlink_metadata(r.target.join("etc")).is_err());
        // Not a ZIM: refused, and nothing left in the ZIM directory.
        let e = import(d.path(), &found[3], &places, u64::MAX, &mut p).unwrap_err();
        assert!(matches!(e, ImportError::BadZim(_)), "{e}");
        assert_eq!(fs::read_dir(&places.zim_dir).unwrap().count(), 0);
        // Twice: refused. Too big: refused before copying.
        assert!(matches!(
            import(d.path(), &found[0], &places, u64::MAX, &mut p),
            Err(ImportError::Exists(_))
        ));
        let e = import(d.path(), &found[0], &places, MARGIN, &mut p).unwrap_err();
        assert!(matches!(e, ImportError::NoRoom { .. }), "{e}");
        let names: Vec<_> = fs::read_dir(&places.library_dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| !n.starts_with('.')),
            "staging left: {names:?}"
        );
        // What an import cut by a power cut left (another process's
        // staging, half copied) is cleared by the next import there.
        let stale = places.library_dir.join(".clic-import-1");
        fs::create_dir_all(stale.join("half")).unwrap();
        fs::write(stale.join("half/part"), "x").unwrap();
        fs::remove_dir_all(&r.target).unwrap();
        import(d.path(), &found[2], &places, u64::MAX, &mut p).unwrap();
        assert!(!stale.exists(), "stale staging left");
        assert!(copied > 0);
    }

    #[test]
    fn a_real_zim_passes_its_checksum_and_a_changed_byte_fails() {
        let zim = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../content/clic-exemples/poele-fusee.zim");
        assert!(zim_ok(&zim).unwrap());
        let d = tempfile::tempdir().unwrap();
        let mut bytes = fs::read(&zim).unwrap();
        let i = bytes.len() / 2;
        bytes[i] ^= 1;
        let bad = d.path().join("bad.zim");
        fs::write(&bad, bytes).unwrap();
        assert!(!zim_ok(&bad).unwrap());
    }
}
