//! ext4 filesystems from a directory tree without mounting anything: the
//! tree is first normalised into a tarball (sorted names, numeric owners,
//! xattrs, mtimes clamped to the epoch), then `mke2fs -d` builds the image
//! from it with a fixed UUID, hash seed and time. Same tree, same bytes.

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::DiskError;
use crate::cmd::{Cmd, CmdError};
use crate::interrupt;

const BLOCK: u64 = 4096;
const MIB: u64 = 1024 * 1024;
const INODE_SIZE: u64 = 256;
/// mke2fs's default bytes-per-inode ratio for ext4 (`inode_ratio`).
const INODE_RATIO: u64 = 16384;
const JOURNAL: u64 = 64 * MIB;
/// Longest ext4 volume label, in bytes.
const LABEL_MAX: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum Ext4Error {
    #[error("archiving {root} into {tar}: {source}")]
    Tar {
        root: PathBuf,
        tar: PathBuf,
        source: CmdError,
    },
    #[error("ext4 label '{label}' is longer than 16 bytes")]
    BadLabel { label: String },
    #[error("ext4 image {path} cannot be {size} bytes: {reason}")]
    BadSize {
        path: PathBuf,
        size: u64,
        reason: &'static str,
    },
    #[error("creating the ext4 image {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("the root filesystem {path} ({size_mib} MiB) is too small for the tree ({tree_mib} MiB as a tarball, plus ext4 overhead); give it more room (estimate_ext4_size suggests a size)\n{source}")]
    TooSmall {
        path: PathBuf,
        size_mib: u64,
        tree_mib: u64,
        source: CmdError,
    },
    #[error("building the ext4 image {path} from {tar}: {source}")]
    Mkfs {
        path: PathBuf,
        tar: PathBuf,
        source: CmdError,
    },
}

/// Archive `root` into `tar` so that the archive depends only on the tree's
/// names, contents, owners, modes and xattrs (not on readdir order or
/// times later than `epoch`).
pub fn tar_tree(root: &Path, tar: &Path, epoch: i64) -> Result<(), DiskError> {
    tar_cmd(root, tar, epoch)
        .run()
        .map(|_| ())
        .map_err(|source| {
            DiskError::Ext4(Ext4Error::Tar {
                root: root.to_owned(),
                tar: tar.to_owned(),
                source,
            })
        })
}

fn tar_cmd(root: &Path, tar: &Path, epoch: i64) -> Cmd {
    Cmd::new("tar")
        .arg("-C")
        .arg(root)
        .args([
            "--sort=name",
            "--numeric-owner",
            "--xattrs",
            "--xattrs-include=*",
            "--format=pax",
            "--pax-option=delete=atime,delete=ctime",
        ])
        .arg(format!("--mtime=@{epoch}"))
        .arg("--clamp-mtime")
        .arg("-cf")
        .arg(tar)
        .arg(".")
}

/// Create `out` (exactly `size` bytes, sparse) holding an ext4 filesystem
/// populated from the tarball (or directory) `source_tar`; a failed image
/// is removed.
pub fn mkfs_ext4(
    source_tar: &Path,
    out: &Path,
    size: u64,
    uuid: Uuid,
    hash_seed: Uuid,
    label: &str,
    epoch: i64,
) -> Result<(), DiskError> {
    make_ext4(source_tar, out, size, uuid, hash_seed, label, epoch).map_err(DiskError::Ext4)
}

fn make_ext4(
    source_tar: &Path,
    out: &Path,
    size: u64,
    uuid: Uuid,
    hash_seed: Uuid,
    label: &str,
    epoch: i64,
) -> Result<(), Ext4Error> {
    if label.len() > LABEL_MAX {
        return Err(Ext4Error::BadLabel {
            label: label.to_owned(),
        });
    }
    if size < MIB {
        return Err(Ext4Error::BadSize {
            path: out.to_owned(),
            size,
            reason: "ext4 images must be at least 1 MiB",
        });
    }
    let create = |source| Ext4Error::Create {
        path: out.to_owned(),
        source,
    };
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(out)
        .map_err(create)?;
    f.set_len(size).map_err(create)?;
    drop(f);

    // mke2fs reads its defaults from /etc/mke2fs.conf, which differs between
    // hosts and e2fsprogs versions: use clic's own, so any host makes the
    // same filesystem.
    let conf = out.with_extension("mke2fs.conf");
    fs::write(&conf, MKE2FS_CONF).map_err(create)?;
    let result = mkfs_cmd(source_tar, out, uuid, hash_seed, label, epoch)
        .env("MKE2FS_CONFIG", &conf)
        .run();
    let _ = fs::remove_file(&conf);
    match result {
        Ok(_) => Ok(()),
        Err(source) => {
            let _ = fs::remove_file(out);
            if out_of_space(&source) {
                let tree = fs::metadata(source_tar).map(|m| m.len()).unwrap_or(0);
                Err(Ext4Error::TooSmall {
                    path: out.to_owned(),
                    size_mib: size / MIB,
                    tree_mib: tree.div_ceil(MIB),
                    source,
                })
            } else {
                Err(Ext4Error::Mkfs {
                    path: out.to_owned(),
                    tar: source_tar.to_owned(),
                    source,
                })
            }
        }
    }
}

/// Build an ext4 filesystem of `size` bytes from the directory (or
/// tarball) `tree` straight into `image` at byte `offset` (a partition of
/// an assembled disk image): the files are written once, where they stay,
/// with no intermediate filesystem image to copy. No journal: the box
/// mounts it read-only; no blocks reserved for root either. `scratch` holds
/// mke2fs's configuration while it runs. The rest of `image` is untouched.
#[allow(clippy::too_many_arguments)] // mkfs_ext4's arguments and where to write
pub fn mkfs_ext4_into(
    tree: &Path,
    image: &Path,
    offset: u64,
    size: u64,
    uuid: Uuid,
    hash_seed: Uuid,
    label: &str,
    epoch: i64,
    scratch: &Path,
) -> Result<(), DiskError> {
    let fail = |source| {
        DiskError::Ext4(Ext4Error::Mkfs {
            path: image.to_owned(),
            tar: tree.to_owned(),
            source,
        })
    };
    if label.len() > LABEL_MAX {
        return Err(DiskError::Ext4(Ext4Error::BadLabel {
            label: label.to_owned(),
        }));
    }
    if size < MIB || !offset.is_multiple_of(BLOCK) {
        return Err(DiskError::Ext4(Ext4Error::BadSize {
            path: image.to_owned(),
            size,
            reason: "a partition's ext4 needs at least 1 MiB at a 4 KiB-aligned offset",
        }));
    }
    let conf = scratch.join("mke2fs-data.conf");
    fs::write(&conf, MKE2FS_CONF).map_err(|source| {
        DiskError::Ext4(Ext4Error::Create {
            path: conf.clone(),
            source,
        })
    })?;
    let cmd = Cmd::new("mke2fs")
        .env("E2FSPROGS_FAKE_TIME", epoch.to_string())
        .env("MKE2FS_CONFIG", &conf)
        .args([
            "-q",
            "-F",
            "-t",
            "ext4",
            "-b",
            "4096",
            "-O",
            "^has_journal",
            "-m",
            "0",
        ])
        .args(["-L", label, "-U"])
        .arg(uuid.to_string())
        .arg("-E")
        .arg(format!(
            "hash_seed={hash_seed},root_owner=0:0,nodiscard,offset={offset}"
        ))
        .arg("-d")
        .arg(tree)
        .arg(image)
        .arg(format!("{}k", size / 1024));
    let result = cmd.run();
    let _ = fs::remove_file(&conf);
    result.map(|_| ()).map_err(fail)
}

/// Debian's defaults without `orphan_file` (older e2fsck and kernels in the
/// field do not know it); `metadata_csum_seed` lets a device change its
/// filesystem UUID later without rewriting every checksum.
const MKE2FS_CONF: &str = "[defaults]
\tbase_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
\tdefault_mntopts = acl,user_xattr
\tenable_periodic_fsck = 0
\tblocksize = 4096
\tinode_size = 256
\tinode_ratio = 16384

[fs_types]
\text4 = {
\t\tfeatures = has_journal,extent,huge_file,flex_bg,metadata_csum,metadata_csum_seed,64bit,dir_nlink,extra_isize
\t}
\tsmall = {
\t\tinode_ratio = 4096
\t}
\tfloppy = {
\t\tinode_ratio = 8192
\t}
\tbig = {
\t\tinode_ratio = 32768
\t}
\thuge = {
\t\tinode_ratio = 65536
\t}
";

fn mkfs_cmd(tar: &Path, out: &Path, uuid: Uuid, seed: Uuid, label: &str, epoch: i64) -> Cmd {
    Cmd::new("mke2fs")
        .env("E2FSPROGS_FAKE_TIME", epoch.to_string())
        .args(["-q", "-F", "-t", "ext4", "-b", "4096", "-L", label, "-U"])
        .arg(uuid.to_string())
        .arg("-E")
        .arg(format!("hash_seed={seed},root_owner=0:0,nodiscard"))
        .arg("-d")
        .arg(tar)
        .arg(out)
}

fn out_of_space(e: &CmdError) -> bool {
    match e {
        CmdError::Failed { stderr_tail, .. } => [
            "Could not allocate",
            "No space left",
            "too small for a journal",
        ]
        .iter()
        .any(|needle| stderr_tail.contains(needle)),
        _ => false,
    }
}

/// A size (bytes, whole MiB) for an ext4 image holding `root` with `free`
/// bytes to spare: file data in 4 KiB blocks (hard links once, symlinks
/// not followed), directory blocks, 256-byte inodes, a 64 MiB journal, 10%
/// slack, and never fewer inodes than the tree needs at mke2fs's default
/// ratio.
pub fn estimate_ext4_size(root: &Path, free: u64) -> io::Result<u64> {
    estimate(root, free, JOURNAL)
}

/// The same for a filesystem without a journal (a read-only data
/// partition: [`mkfs_ext4_into`] makes none).
pub fn estimate_ext4_size_no_journal(root: &Path, free: u64) -> io::Result<u64> {
    estimate(root, free, 0)
}

fn estimate(root: &Path, free: u64, journal: u64) -> io::Result<u64> {
    let mut seen = HashSet::new();
    let (mut data, mut inodes) = (0u64, 0u64);
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if interrupt::check().is_err() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        inodes += 1;
        let mut dir_bytes = 24u64; // "." and ".."
        for entry in fs::read_dir(&dir).map_err(|e| context(&dir, e))? {
            let entry = entry.map_err(|e| context(&dir, e))?;
            let path = entry.path();
            let md = fs::symlink_metadata(&path).map_err(|e| context(&path, e))?;
            // Directory entry: 8 bytes + the name, padded to 4.
            dir_bytes += 8 + (entry.file_name().len() as u64).next_multiple_of(4);
            if md.is_dir() {
                stack.push(path);
                continue;
            }
            if md.nlink() > 1 && !seen.insert((md.dev(), md.ino())) {
                continue;
            }
            inodes += 1;
            if md.is_file() || (md.file_type().is_symlink() && md.len() >= 60) {
                data = data.saturating_add(md.len().next_multiple_of(BLOCK));
            }
        }
        data = data.saturating_add(dir_bytes.next_multiple_of(BLOCK));
    }
    let used = data
        .saturating_add(inodes.saturating_mul(INODE_SIZE))
        .saturating_add(journal);
    let sized = (used / 10).saturating_mul(11).saturating_add(free);
    let by_inodes = inodes.saturating_mul(INODE_RATIO / 4 * 5);
    sized
        .max(by_inodes)
        .checked_next_multiple_of(MIB)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "tree size overflows"))
}

fn context(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
#[path = "ext4_tests.rs"]
mod tests;
