//! The box's participation data as one file: every layer that keeps
//! people's data drops a description in `/etc/clic/backup.d/NAME.toml`
//! (agora's database, the wiki's pages and accounts, the chat's accounts
//! and room history), and the console makes one tar of all of it with a
//! manifest (`clic-backup.json`: each file's size and sha256), or restores
//! one.
//!
//! A restore checks everything before it touches anything: the upload is
//! unpacked into a staging directory beside the data (only plain files
//! and folders, only under the paths the parts declare, no `..`, nothing
//! twice, within the free space), every file is compared with the
//! manifest; then the parts' services are stopped, each path is swapped
//! by a rename (the old one kept until all are in place, put back if one
//! fails), the services started again.
//!
//! Pure parts (descriptions, entry paths, manifest, the multipart upload's
//! file range) are unit tested; [`make`] and [`restore`] touch the disk.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// The manifest's name, the archive's last entry.
pub const MANIFEST: &str = "clic-backup.json";
const FORMAT: u32 = 1;
/// Free space a restore leaves on the data filesystem.
const RESERVE: u64 = 64 << 20;

/// One part of the backup, from `backup.d/NAME.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub name: String,
    /// Stopped during a restore, started after.
    pub services: Vec<String>,
    /// Addresses (`127.0.0.1:8095`) that answer once the services are up
    /// again: a restore says it is done only then.
    pub ready: Vec<std::net::SocketAddr>,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Files and folders: `paths` relative to `dir`, each replaced whole.
    Files { dir: PathBuf, paths: Vec<PathBuf> },
    /// A program makes the part's one file (`dump`) and takes it back
    /// (`load`); `{file}` in their arguments is that file. After a load,
    /// everything under `owner_of` goes back to that folder's owner.
    Command {
        file: String,
        dump: Vec<String>,
        load: Vec<String>,
        owner_of: PathBuf,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartFile {
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    ready: Vec<String>,
    dir: Option<PathBuf>,
    #[serde(default)]
    paths: Vec<String>,
    file: Option<String>,
    dump: Option<Vec<String>>,
    load: Option<Vec<String>>,
    owner_of: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}: {1}")]
    Describe(PathBuf, String),
    #[error("{what} {path}: {err}")]
    Io {
        what: &'static str,
        path: PathBuf,
        err: io::Error,
    },
    #[error("{0} changed while it was read: try again")]
    Changed(PathBuf),
    #[error("{cmd}: {detail}")]
    Command { cmd: String, detail: String },
    /// The upload is not a backup this box can take; nothing was changed.
    #[error("{0}")]
    Refused(String),
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> BackupError + 'a {
    move |err| BackupError::Io {
        what,
        path: path.to_path_buf(),
        err,
    }
}

fn refused(s: impl Into<String>) -> BackupError {
    BackupError::Refused(s.into())
}

/// A relative path of plain names only (no `/` at the start, no `.` or
/// `..`, not empty).
fn plain_relative(p: &str) -> Option<PathBuf> {
    let path = Path::new(p);
    let plain = !p.contains('\0')
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    plain.then(|| path.to_path_buf())
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 40
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Part {
    /// One description, `name` from its file name.
    pub fn parse(name: &str, text: &str) -> Result<Part, String> {
        if !valid_name(name) {
            return Err(format!(
                "the name `{name}` must be lower-case letters, digits and -"
            ));
        }
        let f: PartFile = toml::from_str(text).map_err(|e| e.to_string().trim().to_string())?;
        for s in &f.services {
            if !s.ends_with(".service") || s.contains('/') {
                return Err(format!("services: `{s}` is not a unit name"));
            }
        }
        let ready = f
            .ready
            .iter()
            .map(|a| {
                a.parse()
                    .map_err(|_| format!("ready: `{a}` is not an address:port"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let abs = |key: &str, p: &Path| {
            if p.is_absolute() {
                Ok(())
            } else {
                Err(format!("{key}: `{}` must be absolute", p.display()))
            }
        };
        let kind = match (f.dir, f.file, f.dump, f.load, f.owner_of) {
            (Some(dir), None, None, None, None) => {
                abs("dir", &dir)?;
                if f.paths.is_empty() {
                    return Err("paths: at least one".into());
                }
                let mut paths = Vec::new();
                for p in &f.paths {
                    let rel = plain_relative(p)
                        .ok_or_else(|| format!("paths: `{p}` must be a plain relative path"))?;
                    if paths
                        .iter()
                        .any(|q: &PathBuf| q.starts_with(&rel) || rel.starts_with(q))
                    {
                        return Err(format!("paths: `{p}` overlaps another"));
                    }
                    paths.push(rel);
                }
                Kind::Files { dir, paths }
            }
            (None, Some(file), Some(dump), Some(load), Some(owner_of)) if f.paths.is_empty() => {
                if !valid_name(&file.replace(['.', '_'], "-")) {
                    return Err(format!("file: `{file}` must be a plain file name"));
                }
                for (key, cmd) in [("dump", &dump), ("load", &load)] {
                    if cmd.is_empty() || !cmd.iter().any(|a| a == "{file}") {
                        return Err(format!("{key}: a command with a `{{file}}` argument"));
                    }
                    abs(key, Path::new(&cmd[0]))?;
                }
                abs("owner_of", &owner_of)?;
                Kind::Command {
                    file,
                    dump,
                    load,
                    owner_of,
                }
            }
            _ => {
                return Err(
                    "either `dir` and `paths`, or `file`, `dump`, `load` and `owner_of`".into(),
                )
            }
        };
        Ok(Part {
            name: name.to_string(),
            services: f.services,
            ready,
            kind,
        })
    }

    /// Whether `rel` (inside this part) is something a backup may hold.
    fn holds(&self, rel: &Path) -> bool {
        match &self.kind {
            Kind::Files { paths, .. } => paths.iter().any(|p| rel.starts_with(p)),
            Kind::Command { file, .. } => rel == Path::new(file),
        }
    }
}

/// Every `*.toml` of `dir`, by name; none when the folder is missing.
pub fn load_parts(dir: &Path) -> Result<Vec<Part>, BackupError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("reading", dir)(e)),
    };
    let mut parts = Vec::new();
    for e in entries {
        let path = e.map_err(io_err("reading", dir))?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".toml"))
        else {
            continue;
        };
        let text = fs::read_to_string(&path).map_err(io_err("reading", &path))?;
        parts.push(Part::parse(name, &text).map_err(|e| BackupError::Describe(path.clone(), e))?);
    }
    parts.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(parts)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileSum {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    /// The box's name and image when the backup was made.
    pub r#box: String,
    pub image: String,
    /// Unix time.
    pub created: i64,
    pub parts: Vec<String>,
    pub files: Vec<FileSum>,
}

/// Where an archive entry goes.
#[derive(Debug, PartialEq)]
enum Target<'a> {
    Manifest,
    /// A part this box has, and the path inside it.
    Part(&'a Part, PathBuf),
    /// A part this box does not have: skipped.
    Elsewhere(String),
}

fn target<'a>(name: &str, parts: &'a [Part]) -> Result<Target<'a>, String> {
    let name = name.trim_end_matches('/');
    if name == MANIFEST {
        return Ok(Target::Manifest);
    }
    let rel = plain_relative(name).ok_or_else(|| format!("`{name}`: not a plain relative path"))?;
    let mut c = rel.components();
    let first = c
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    let inner = c.as_path().to_path_buf();
    match parts.iter().find(|p| p.name == first) {
        None if valid_name(&first) => Ok(Target::Elsewhere(first)),
        None => Err(format!("`{name}`: no such part")),
        Some(_) if inner.as_os_str().is_empty() => Ok(Target::Elsewhere(String::new())),
        Some(p) if p.holds(&inner) => Ok(Target::Part(p, inner)),
        Some(p) => Err(format!("`{name}`: not a path of the part `{}`", p.name)),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Reads through, counting and hashing.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    count: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

fn run(cmd: &[String], file: &Path) -> Result<(), BackupError> {
    let args: Vec<String> = cmd[1..]
        .iter()
        .map(|a| {
            if a == "{file}" {
                file.to_string_lossy().into_owned()
            } else {
                a.clone()
            }
        })
        .collect();
    let o = Command::new(&cmd[0])
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| BackupError::Command {
            cmd: cmd[0].clone(),
            detail: e.to_string(),
        })?;
    if o.status.success() {
        Ok(())
    } else {
        Err(BackupError::Command {
            cmd: format!(
                "{} {}",
                cmd[0],
                args.first().map(String::as_str).unwrap_or("")
            ),
            detail: String::from_utf8_lossy(&o.stderr).trim().to_string(),
        })
    }
}

struct Writer<W: Write> {
    tar: tar::Builder<W>,
    files: Vec<FileSum>,
    now: u64,
}

impl<W: Write> Writer<W> {
    fn dir(&mut self, name: &str) -> Result<(), BackupError> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_mtime(self.now);
        self.tar
            .append_data(&mut h, name, io::empty())
            .map_err(io_err("writing the archive at", Path::new(name)))
    }

    fn file(&mut self, name: &str, path: &Path) -> Result<(), BackupError> {
        let f = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(io_err("opening", path))?;
        let meta = f.metadata().map_err(io_err("reading", path))?;
        let size = meta.len();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(size);
        h.set_mtime(meta.mtime().max(0) as u64);
        let mut r = Hashing {
            inner: f.take(size),
            hash: Sha256::new(),
            count: 0,
        };
        self.tar
            .append_data(&mut h, name, &mut r)
            .map_err(io_err("writing the archive at", Path::new(name)))?;
        if r.count != size {
            return Err(BackupError::Changed(path.to_path_buf()));
        }
        self.files.push(FileSum {
            path: name.to_string(),
            size,
            sha256: hex(&r.hash.finalize()),
        });
        Ok(())
    }

    /// `path` (a folder or a file) as `name`; links and devices skipped.
    fn tree(&mut self, name: &str, path: &Path) -> Result<(), BackupError> {
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("reading", path)(e)),
        };
        if meta.is_file() {
            return self.file(name, path);
        }
        if !meta.is_dir() {
            eprintln!(
                "clic-admin: backup: {} skipped (not a file)",
                path.display()
            );
            return Ok(());
        }
        self.dir(name)?;
        let mut names: Vec<_> = fs::read_dir(path)
            .map_err(io_err("reading", path))?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort();
        for n in names {
            let Some(s) = n.to_str() else {
                eprintln!(
                    "clic-admin: backup: a name that is not UTF-8 skipped in {}",
                    path.display()
                );
                continue;
            };
            self.tree(&format!("{name}/{s}"), &path.join(&n))?;
        }
        Ok(())
    }
}

/// The whole backup into `out` (a tar; the manifest last). `work` holds
/// the command parts' temporary files.
pub fn make(
    parts: &[Part],
    work: &Path,
    box_name: &str,
    image: &str,
    now: i64,
    out: impl Write,
) -> Result<Manifest, BackupError> {
    let mut w = Writer {
        tar: tar::Builder::new(out),
        files: Vec::new(),
        now: now.max(0) as u64,
    };
    for part in parts {
        w.dir(&part.name)?;
        match &part.kind {
            Kind::Files { dir, paths } => {
                for p in paths {
                    w.tree(&format!("{}/{}", part.name, p.display()), &dir.join(p))?;
                }
            }
            Kind::Command {
                file,
                dump,
                owner_of,
                ..
            } => {
                let tmp = work.join(format!(".backup-{}-{}", part.name, std::process::id()));
                let _ = fs::remove_file(&tmp);
                let r = run(dump, &tmp);
                give_back(owner_of)?;
                let r = r.and_then(|_| w.file(&format!("{}/{file}", part.name), &tmp));
                let _ = fs::remove_file(&tmp);
                r?;
            }
        }
    }
    let manifest = Manifest {
        format: FORMAT,
        r#box: box_name.to_string(),
        image: image.to_string(),
        created: now,
        parts: parts.iter().map(|p| p.name.clone()).collect(),
        files: std::mem::take(&mut w.files),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| refused(e.to_string()))?;
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(json.len() as u64);
    h.set_mtime(w.now);
    w.tar
        .append_data(&mut h, MANIFEST, json.as_slice())
        .map_err(io_err("writing the archive at", Path::new(MANIFEST)))?;
    w.tar
        .into_inner()
        .and_then(|mut o| o.flush())
        .map_err(io_err("writing the archive", Path::new("-")))?;
    Ok(manifest)
}

/// What a restore did.
#[derive(Debug, Default, PartialEq)]
pub struct Restored {
    pub parts: Vec<String>,
    /// In the backup, not on this box.
    pub skipped: Vec<String>,
    pub created: i64,
}

/// The archive, unpacked into `stage` and checked against its manifest.
fn unpack(
    parts: &[Part],
    archive: impl Read,
    stage: &Path,
    budget: u64,
) -> Result<(Manifest, BTreeSet<String>), BackupError> {
    let mut a = tar::Archive::new(archive);
    let mut manifest: Option<Manifest> = None;
    let mut got: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut elsewhere = BTreeSet::new();
    let mut used = 0u64;
    let bad = |s: String| refused(format!("not a backup of this kind of box: {s}"));
    let entries = a.entries().map_err(|e| bad(e.to_string()))?;
    for e in entries {
        let mut e = e.map_err(|e| bad(e.to_string()))?;
        let name = {
            let p = e.path().map_err(|e| bad(e.to_string()))?;
            p.to_str()
                .ok_or_else(|| bad("a name that is not UTF-8".into()))?
                .to_string()
        };
        let kind = e.header().entry_type();
        let is_dir = kind.is_dir();
        if !(is_dir || kind.is_file()) {
            return Err(bad(format!("`{name}` is a link or a device")));
        }
        match target(&name, parts).map_err(bad)? {
            Target::Manifest => {
                if manifest.is_some() || e.size() > 16 << 20 || is_dir {
                    return Err(bad(format!("`{name}` twice or too large")));
                }
                let mut text = Vec::new();
                e.read_to_end(&mut text).map_err(|e| bad(e.to_string()))?;
                manifest = Some(
                    serde_json::from_slice(&text).map_err(|e| bad(format!("{MANIFEST}: {e}")))?,
                );
            }
            Target::Elsewhere(p) => {
                if !p.is_empty() {
                    elsewhere.insert(p);
                }
            }
            Target::Part(part, inner) => {
                let to = stage.join(&part.name).join(&inner);
                if is_dir {
                    fs::create_dir_all(&to).map_err(io_err("making", &to))?;
                    continue;
                }
                used = used.saturating_add(e.size());
                if used > budget {
                    return Err(refused(format!(
                        "not enough free space on the box for this backup ({} MB needed)",
                        used >> 20
                    )));
                }
                if let Some(parent) = to.parent() {
                    fs::create_dir_all(parent).map_err(io_err("making", parent))?;
                }
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&to)
                    .map_err(|e| {
                        if e.kind() == io::ErrorKind::AlreadyExists {
                            bad(format!("`{name}` twice"))
                        } else {
                            io_err("writing", &to)(e)
                        }
                    })?;
                let mut r = Hashing {
                    inner: &mut e,
                    hash: Sha256::new(),
                    count: 0,
                };
                io::copy(&mut r, &mut f).map_err(io_err("writing", &to))?;
                f.sync_all().map_err(io_err("writing", &to))?;
                got.insert(
                    name.trim_end_matches('/').to_string(),
                    (r.count, hex(&r.hash.finalize())),
                );
            }
        }
    }
    let m = manifest.ok_or_else(|| bad(format!("no {MANIFEST}")))?;
    if m.format != FORMAT {
        return Err(bad(format!(
            "format {} (this box reads {FORMAT})",
            m.format
        )));
    }
    for f in &m.files {
        let part = f.path.split('/').next().unwrap_or("");
        if !parts.iter().any(|p| p.name == part) {
            continue;
        }
        match got.remove(&f.path) {
            Some((size, sha)) if size == f.size && sha == f.sha256 => {}
            Some(_) => {
                return Err(refused(format!(
                    "`{}` does not match the backup's manifest: the file is damaged, nothing was changed",
                    f.path
                )))
            }
            None => {
                return Err(refused(format!(
                    "`{}` is missing: the file is incomplete, nothing was changed",
                    f.path
                )))
            }
        }
    }
    if let Some((p, _)) = got.into_iter().next() {
        return Err(refused(format!("`{p}` is not in the backup's manifest")));
    }
    Ok((m, elsewhere))
}

/// uid, gid and mode of `path`, or of its parent when it is missing.
fn owner(path: &Path) -> Result<(u32, u32, u32), BackupError> {
    let m = match fs::metadata(path) {
        Ok(m) => m,
        Err(_) => {
            let parent = path.parent().unwrap_or(Path::new("/"));
            fs::metadata(parent).map_err(io_err("reading", parent))?
        }
    };
    Ok((m.uid(), m.gid(), m.mode() & 0o777))
}

/// Every file and folder under `path` (itself included) to `uid:gid`,
/// folders `dmode`, files `fmode` (None: left as they are).
fn own(path: &Path, uid: u32, gid: u32, modes: Option<(u32, u32)>) -> Result<(), BackupError> {
    let meta = fs::symlink_metadata(path).map_err(io_err("reading", path))?;
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(io_err("giving", path))?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    if let Some((d, f)) = modes {
        let mode = if meta.is_dir() { d } else { f };
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(io_err("setting the mode of", path))?;
    }
    if meta.is_dir() {
        for e in fs::read_dir(path).map_err(io_err("reading", path))? {
            let e = e.map_err(io_err("reading", path))?;
            own(&e.path(), uid, gid, modes)?;
        }
    }
    Ok(())
}

/// What a part's program wrote as root (a journal, a new file) goes to
/// the owner of its data folder (followed through a link, as systemd's
/// StateDirectory of a DynamicUser is).
fn give_back(owner_of: &Path) -> Result<(), BackupError> {
    if let Ok(real) = fs::canonicalize(owner_of) {
        let (uid, gid, _) = owner(&real)?;
        own(&real, uid, gid, None)?;
    }
    Ok(())
}

fn systemctl(verb: &str, units: &[String]) -> Result<(), BackupError> {
    if units.is_empty() {
        return Ok(());
    }
    let mut cmd = vec!["/usr/bin/systemctl".to_string(), verb.to_string()];
    cmd.extend(units.iter().cloned());
    // `run` replaces `{file}`; systemctl has none.
    run(&cmd, Path::new(""))
}

/// Until every address takes a connection, or `limit` has passed.
fn wait_ready(addrs: &[std::net::SocketAddr], limit: std::time::Duration) {
    let until = std::time::Instant::now() + limit;
    for a in addrs {
        while std::net::TcpStream::connect_timeout(a, std::time::Duration::from_secs(2)).is_err() {
            if std::time::Instant::now() > until {
                eprintln!("clic-admin: restore: {a} does not answer yet");
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }
}

fn sync_dir(p: &Path) {
    if let Ok(d) = fs::File::open(p) {
        let _ = d.sync_all();
    }
}

/// Restore the backup in `upload` (the archive at `range` of it). `work`
/// is the console's own folder; the staging folder is made beside each
/// part's data so that a swap is a rename.
pub fn restore(
    parts: &[Part],
    work: &Path,
    upload: &Path,
    range: (u64, u64),
) -> Result<Restored, BackupError> {
    let stage = work.join("restore.tmp");
    if stage.exists() {
        fs::remove_dir_all(&stage).map_err(io_err("removing", &stage))?;
    }
    fs::create_dir_all(&stage).map_err(io_err("making", &stage))?;
    let r = restore_staged(parts, &stage, upload, range);
    let _ = fs::remove_dir_all(&stage);
    r
}

fn restore_staged(
    parts: &[Part],
    stage: &Path,
    upload: &Path,
    range: (u64, u64),
) -> Result<Restored, BackupError> {
    let (_, free) = crate::sys::disk(stage).map_err(io_err("reading", stage))?;
    let mut f = fs::File::open(upload).map_err(io_err("reading", upload))?;
    f.seek(SeekFrom::Start(range.0))
        .map_err(io_err("reading", upload))?;
    let (manifest, elsewhere) = unpack(
        parts,
        f.take(range.1.saturating_sub(range.0)),
        stage,
        free.saturating_sub(RESERVE),
    )?;
    let chosen: Vec<&Part> = parts
        .iter()
        .filter(|p| manifest.parts.contains(&p.name))
        .collect();
    if chosen.is_empty() {
        return Err(refused("this backup holds nothing this box has"));
    }
    // Every swap must be a rename: the staging folder and each path on
    // one filesystem.
    let stage_dev = fs::metadata(stage).map_err(io_err("reading", stage))?.dev();
    for p in &chosen {
        if let Kind::Files { dir, .. } = &p.kind {
            let d = fs::metadata(dir).map_err(io_err("reading", dir))?.dev();
            if d != stage_dev {
                return Err(refused(format!(
                    "{} is not on the filesystem of {}: cannot restore it in one step",
                    dir.display(),
                    stage.display()
                )));
            }
        }
    }
    let services: Vec<String> = chosen.iter().flat_map(|p| p.services.clone()).collect();
    systemctl("stop", &services)?;
    let applied = apply(&chosen, stage);
    let started = systemctl("start", &services);
    applied?;
    started?;
    let ready: Vec<_> = chosen.iter().flat_map(|p| p.ready.clone()).collect();
    wait_ready(&ready, std::time::Duration::from_secs(90));
    Ok(Restored {
        parts: chosen.iter().map(|p| p.name.clone()).collect(),
        skipped: manifest
            .parts
            .iter()
            .filter(|n| !parts.iter().any(|p| &&p.name == n))
            .cloned()
            .chain(elsewhere)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        created: manifest.created,
    })
}

/// With the services stopped: the command parts loaded, then every path
/// swapped (all or none).
fn apply(chosen: &[&Part], stage: &Path) -> Result<(), BackupError> {
    // The command parts first: a load that fails (a database the program
    // refuses) changes nothing, and nothing was swapped yet.
    for p in chosen {
        if let Kind::Command {
            file,
            load,
            owner_of,
            ..
        } = &p.kind
        {
            let from = stage.join(&p.name).join(file);
            if !from.is_file() {
                continue;
            }
            let r = run(load, &from);
            give_back(owner_of)?;
            r?;
        }
    }
    // (path, old copy) of every swap done, to put back on failure.
    let mut done: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    let result = (|| {
        for p in chosen {
            let Kind::Files { dir, paths } = &p.kind else {
                continue;
            };
            for rel in paths {
                let live = dir.join(rel);
                let new = stage.join(&p.name).join(rel);
                let live_meta = fs::symlink_metadata(&live).ok();
                if !new.exists() {
                    // Not in the backup: no file there, or an empty folder.
                    match &live_meta {
                        None => continue,
                        Some(m) if !m.is_dir() => {
                            let old = aside(&live);
                            fs::rename(&live, &old).map_err(io_err("moving aside", &live))?;
                            done.push((live.clone(), Some(old)));
                            continue;
                        }
                        Some(_) => fs::create_dir_all(&new).map_err(io_err("making", &new))?,
                    }
                }
                // The new tree gets the owner and modes of what it replaces
                // (its folder's when there is none): folders searchable
                // where readable, files without execution.
                let (uid, gid, mode) = owner(&live)?;
                let modes = (mode | ((mode & 0o444) >> 2), mode & 0o666);
                own(&new, uid, gid, Some(modes))?;
                let old = aside(&live);
                let had = match fs::rename(&live, &old) {
                    Ok(()) => Some(old),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                    Err(e) => return Err(io_err("moving aside", &live)(e)),
                };
                done.push((live.clone(), had.clone()));
                if let Some(parent) = live.parent() {
                    fs::create_dir_all(parent).map_err(io_err("making", parent))?;
                }
                fs::rename(&new, &live).map_err(io_err("putting in place", &live))?;
                if let Some(parent) = live.parent() {
                    sync_dir(parent);
                }
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            for (_, old) in done {
                if let Some(old) = old {
                    let _ = if old.is_dir() {
                        fs::remove_dir_all(&old)
                    } else {
                        fs::remove_file(&old)
                    };
                }
            }
            Ok(())
        }
        Err(e) => {
            for (live, old) in done.into_iter().rev() {
                if let Some(old) = old {
                    if live.is_dir() {
                        let _ = fs::remove_dir_all(&live);
                    } else {
                        let _ = fs::remove_file(&live);
                    }
                    let _ = fs::rename(&old, &live);
                }
            }
            Err(e)
        }
    }
}

fn aside(live: &Path) -> PathBuf {
    let mut s = live.as_os_str().to_owned();
    s.push(format!(".clic-old-{}", std::process::id()));
    PathBuf::from(s)
}

/// Where the file's bytes are in a `multipart/form-data` upload saved as
/// is: `head` is the upload's start, `tail` its end (at `tail_at`), the
/// file field `file` the form's last. Returns the form's `csrf` field and
/// the file's (start, end).
pub fn upload_range(
    head: &[u8],
    tail: &[u8],
    tail_at: u64,
    boundary: &str,
) -> Option<(String, u64, u64)> {
    let delim = format!("--{boundary}");
    let mut pos = 0usize;
    let mut csrf = String::new();
    loop {
        // "--boundary\r\n" headers "\r\n\r\n" content "\r\n--boundary"
        let at = find(&head[pos..], delim.as_bytes())? + pos + delim.len();
        let rest = &head[at..];
        if !rest.starts_with(b"\r\n") {
            return None;
        }
        let hdr_end = find(rest, b"\r\n\r\n")?;
        let headers = String::from_utf8_lossy(&rest[2..hdr_end]).to_ascii_lowercase();
        let content = at + hdr_end + 4;
        let name = headers
            .split("name=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("");
        if name == "file" {
            let end_delim = format!("\r\n{delim}");
            let end = rfind(tail, end_delim.as_bytes())? as u64 + tail_at;
            return (end >= content as u64).then_some((csrf, content as u64, end));
        }
        let len = find(&head[content..], format!("\r\n{delim}").as_bytes())?;
        if name == "csrf" {
            csrf = String::from_utf8_lossy(&head[content..content + len]).into_owned();
        }
        pos = content + len;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim_matches('"').to_string())
        .filter(|b| !b.is_empty() && b.len() <= 70)
}

/// The archive's file name for a download.
pub fn file_name(box_name: &str, date: &str) -> String {
    let slug: String = box_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let slug = if slug.is_empty() {
        "clic".to_string()
    } else {
        slug
    };
    format!("sauvegarde-{slug}-{date}.tar")
}

/// `YYYY-MM-DD` of a Unix time (UTC).
pub fn date(unix: i64) -> String {
    // Howard Hinnant's days-to-civil.
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A temporary file for an upload or a download in `work`, private.
pub fn temp_file(work: &Path, what: &str) -> Result<(PathBuf, fs::File), BackupError> {
    fs::create_dir_all(work).map_err(io_err("making", work))?;
    let path = work.join(format!(
        ".{what}-{}.tmp",
        crate::sys::random_hex(8).unwrap_or_default()
    ));
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_err("making", &path))?;
    Ok((path, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wiki(dir: &Path) -> Part {
        Part::parse(
            "wiki",
            &format!(
                "dir = \"{}\"\npaths = [\"data/pages\", \"data/media\", \"acl/users.auth.php\"]\n",
                dir.display()
            ),
        )
        .unwrap()
    }

    #[test]
    fn descriptions_are_checked() {
        let p = Part::parse(
            "agora",
            "services = [\"agora.service\"]\nfile = \"agora.db\"\nowner_of = \"/var/lib/agora\"\n\
             dump = [\"/usr/lib/clic/agora\", \"backup\", \"--data\", \"/var/lib/agora\", \"{file}\"]\n\
             load = [\"/usr/lib/clic/agora\", \"restore\", \"--data\", \"/var/lib/agora\", \"{file}\"]\n",
        )
        .unwrap();
        assert!(matches!(p.kind, Kind::Command { .. }));
        for (name, text, word) in [
            ("Wiki", "dir = \"/x\"\npaths = [\"a\"]", "name"),
            ("w", "dir = \"x\"\npaths = [\"a\"]", "absolute"),
            ("w", "dir = \"/x\"\npaths = [\"../a\"]", "plain relative"),
            ("w", "dir = \"/x\"\npaths = [\"/a\"]", "plain relative"),
            ("w", "dir = \"/x\"\npaths = [\"a\", \"a/b\"]", "overlaps"),
            ("w", "dir = \"/x\"\npaths = []", "at least one"),
            ("w", "dir = \"/x\"\npaths = [\"a\"]\nservices = [\"../x\"]", "unit"),
            ("w", "dir = \"/x\"\npaths = [\"a\"]\ncolour = 1", "colour"),
            ("w", "file = \"a.db\"\ndump = [\"/bin/x\"]\nload = [\"/bin/x\", \"{file}\"]\nowner_of = \"/x\"", "dump"),
            ("w", "dir = \"/x\"\nfile = \"a.db\"", "either"),
            ("w", "dir = \"/x\"\npaths = [\"a\"]\nready = [\"localhost\"]", "address:port"),
        ] {
            let e = Part::parse(name, text).unwrap_err();
            assert!(e.contains(word), "{text}: {e}");
        }
    }

    #[test]
    fn entry_paths_stay_in_their_part() {
        let parts = [wiki(Path::new("/var/lib/dokuwiki"))];
        assert!(matches!(
            target("wiki/data/pages/a.txt", &parts),
            Ok(Target::Part(_, p)) if p == Path::new("data/pages/a.txt")
        ));
        assert_eq!(target(MANIFEST, &parts), Ok(Target::Manifest));
        assert_eq!(
            target("chat/x/y", &parts),
            Ok(Target::Elsewhere("chat".into()))
        );
        for bad in [
            "wiki/../etc/passwd",
            "/wiki/data/pages/a",
            "wiki/data/cache/x",
            "wiki/acl/acl.auth.php",
            "wiki/./data/pages/a",
            "Wiki/x",
            "",
        ] {
            assert!(target(bad, &parts).is_err(), "{bad}");
        }
    }

    #[test]
    fn finds_the_file_in_an_upload() {
        let b = "----WebKitFormBoundaryAbC";
        let body = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n0123abcd\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.tar\"\r\n\
             Content-Type: application/x-tar\r\n\r\nTAR BYTES\r\n--{b}--\r\n"
        );
        let bytes = body.as_bytes();
        let (csrf, s, e) = upload_range(bytes, bytes, 0, b).unwrap();
        assert_eq!(csrf, "0123abcd");
        assert_eq!(&bytes[s as usize..e as usize], b"TAR BYTES");
        // The tail given apart, as the end of a large file.
        let cut = bytes.len() - 40;
        let (_, s2, e2) = upload_range(bytes, &bytes[cut..], cut as u64, b).unwrap();
        assert_eq!((s, e), (s2, e2));
        assert!(upload_range(bytes, bytes, 0, "other").is_none());
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={b}")).as_deref(),
            Some(b)
        );
        assert!(boundary("application/x-www-form-urlencoded").is_none());
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_796_428_800), "2026-12-05");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(
            file_name("Boîte de l'Atelier", "2026-12-05"),
            "sauvegarde-bo-te-de-l-atelier-2026-12-05.tar"
        );
    }

    fn write(p: &Path, text: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn read(p: &Path) -> String {
        fs::read_to_string(p).unwrap_or_else(|_| "<none>".into())
    }

    /// Backup, changes, restore: the files of the backup are back, those
    /// made after are gone, what the part does not cover is untouched; a
    /// damaged or hostile archive changes nothing.
    #[test]
    fn backup_and_restore_round_trip() {
        let t = tempfile::tempdir().unwrap();
        let live = t.path().join("dokuwiki");
        let work = t.path().join("work");
        fs::create_dir_all(&work).unwrap();
        write(&live.join("data/pages/assemblee.txt"), "compte rendu\n");
        write(&live.join("data/pages/sub/ordre.txt"), "ordre du jour\n");
        fs::create_dir_all(live.join("data/media")).unwrap();
        write(&live.join("acl/users.auth.php"), "alice:hash\n");
        write(&live.join("data/cache/c"), "cache\n");
        let db = t.path().join("db");
        write(&db.join("poll.db"), "poll one\n");
        let agora = Part::parse(
            "agora",
            &format!(
                "file = \"agora.db\"\nowner_of = \"{d}\"\n\
                 dump = [\"/bin/cp\", \"{d}/poll.db\", \"{{file}}\"]\n\
                 load = [\"/bin/cp\", \"{{file}}\", \"{d}/poll.db\"]\n",
                d = db.display()
            ),
        )
        .unwrap();
        let parts = vec![agora, wiki(&live)];
        let archive = t.path().join("backup.tar");
        let m = make(
            &parts,
            &work,
            "clic",
            "test",
            1_700_000_000,
            fs::File::create(&archive).unwrap(),
        )
        .unwrap();
        let names: Vec<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            names,
            [
                "agora/agora.db",
                "wiki/data/pages/assemblee.txt",
                "wiki/data/pages/sub/ordre.txt",
                "wiki/acl/users.auth.php"
            ]
        );
        // After the backup: a page changed, one added, an account gone, the poll deleted.
        write(&live.join("data/pages/assemblee.txt"), "vandalised\n");
        write(&live.join("data/pages/spam.txt"), "spam\n");
        fs::remove_file(live.join("acl/users.auth.php")).unwrap();
        write(&db.join("poll.db"), "no poll\n");
        let len = fs::metadata(&archive).unwrap().len();

        // A damaged copy (one byte of a page changed): refused, nothing changed.
        let mut bytes = fs::read(&archive).unwrap();
        let at = find(&bytes, b"compte rendu").unwrap();
        bytes[at] = b'C';
        let damaged = t.path().join("damaged.tar");
        fs::write(&damaged, &bytes).unwrap();
        let e = restore(&parts, &work, &damaged, (0, len)).unwrap_err();
        assert!(e.to_string().contains("does not match"), "{e}");
        assert_eq!(read(&live.join("data/pages/assemblee.txt")), "vandalised\n");
        assert_eq!(read(&db.join("poll.db")), "no poll\n");
        // Cut short: refused.
        let e = restore(&parts, &work, &archive, (0, len / 2)).unwrap_err();
        assert!(matches!(e, BackupError::Refused(_)), "{e}");
        assert_eq!(read(&db.join("poll.db")), "no poll\n");

        let r = restore(&parts, &work, &archive, (0, len)).unwrap();
        assert_eq!(r.parts, ["agora", "wiki"]);
        assert_eq!(r.created, 1_700_000_000);
        assert_eq!(
            read(&live.join("data/pages/assemblee.txt")),
            "compte rendu\n"
        );
        assert_eq!(
            read(&live.join("data/pages/sub/ordre.txt")),
            "ordre du jour\n"
        );
        assert_eq!(read(&live.join("data/pages/spam.txt")), "<none>");
        assert_eq!(read(&live.join("acl/users.auth.php")), "alice:hash\n");
        assert_eq!(read(&live.join("data/cache/c")), "cache\n");
        assert!(live.join("data/media").is_dir());
        assert_eq!(read(&db.join("poll.db")), "poll one\n");
        let left: Vec<_> = fs::read_dir(&work).unwrap().collect();
        assert!(left.is_empty(), "left in work: {left:?}");
        let old: Vec<_> = fs::read_dir(live.join("data"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("clic-old"))
            .collect();
        assert!(old.is_empty(), "{old:?}");
    }

    /// Entries a hostile archive could carry: refused before any change.
    #[test]
    fn hostile_archives_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let live = t.path().join("dokuwiki");
        write(&live.join("data/pages/a.txt"), "a\n");
        let work = t.path().join("work");
        let parts = vec![wiki(&live)];
        let outside = t.path().join("outside");
        type Add = Box<dyn Fn(&mut tar::Builder<Vec<u8>>)>;
        let cases: Vec<(&str, Add)> = vec![
            (
                "link",
                Box::new(|b| {
                    let mut h = tar::Header::new_gnu();
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    b.append_link(&mut h, "wiki/data/pages/x", "/etc/shadow")
                        .unwrap();
                }),
            ),
            (
                "plain relative",
                Box::new(|b| {
                    let mut h = tar::Header::new_gnu();
                    h.set_size(2);
                    // Written raw: the tar crate itself refuses `..` in append_data.
                    let name = b"wiki/data/pages/../../../../outside";
                    h.as_old_mut().name[..name.len()].copy_from_slice(name);
                    h.set_cksum();
                    b.append(&h, &b"x\n"[..]).unwrap();
                }),
            ),
            (
                "not a path of the part",
                Box::new(|b| {
                    let mut h = tar::Header::new_gnu();
                    h.set_size(2);
                    b.append_data(&mut h, "wiki/data/acl.auth.php", &b"x\n"[..])
                        .unwrap();
                }),
            ),
            (
                "no clic-backup.json",
                Box::new(|b| {
                    let mut h = tar::Header::new_gnu();
                    h.set_size(2);
                    b.append_data(&mut h, "wiki/data/pages/a.txt", &b"x\n"[..])
                        .unwrap();
                }),
            ),
        ];
        for (word, add) in cases {
            let mut b = tar::Builder::new(Vec::new());
            add(&mut b);
            let bytes = b.into_inner().unwrap();
            let f = t.path().join("hostile.tar");
            fs::write(&f, &bytes).unwrap();
            let e = restore(&parts, &work, &f, (0, bytes.len() as u64)).unwrap_err();
            assert!(e.to_string().contains(word), "{word}: {e}");
            assert_eq!(read(&live.join("data/pages/a.txt")), "a\n");
            assert!(!outside.exists());
        }
    }
}
