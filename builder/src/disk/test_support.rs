//! Helpers shared by the disk tests: temporary images and the reference
//! tools that check them.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::cmd::Cmd;
use crate::plan::layout::{
    compute_layout, Layout, LayoutOptions, PartRole, PartitionRequest, TableKind,
};

pub const MIB: u64 = 1024 * 1024;

pub fn req(role: PartRole, label: &str, size: u64, bootable: bool) -> PartitionRequest {
    PartitionRequest {
        role,
        label: label.to_owned(),
        size,
        bootable,
    }
}

/// bios-boot 1 MiB, ESP `esp` bytes, root `root` bytes (legacy bootable).
pub fn pc_layout(esp: u64, root: u64) -> Layout {
    let requests = [
        req(PartRole::BiosBoot, "bios", MIB, false),
        req(PartRole::Esp, "esp", esp, false),
        req(PartRole::Root, "root", root, true),
    ];
    compute_layout(
        TableKind::Gpt,
        "amd64",
        &requests,
        &LayoutOptions::default(),
        b"test",
    )
    .expect("test layout")
}

/// Pi-like MBR: boot FAT (bootable) + root.
pub fn pi_layout() -> Layout {
    let requests = [
        req(PartRole::Boot, "boot", 8 * MIB, true),
        req(PartRole::Root, "root", 12 * MIB, false),
    ];
    compute_layout(
        TableKind::Mbr,
        "arm64",
        &requests,
        &LayoutOptions::default(),
        b"test",
    )
    .expect("test layout")
}

/// A sparse file of `size` bytes in `dir`.
pub fn sparse_file(dir: &Path, name: &str, size: u64) -> (PathBuf, File) {
    let path = dir.join(name);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("create test image");
    f.set_len(size).expect("size test image");
    (path, f)
}

pub fn sfdisk_json(path: &Path) -> serde_json::Value {
    let out = Cmd::new("sfdisk")
        .arg("--json")
        .arg(path)
        .run()
        .expect("sfdisk --json");
    let v: serde_json::Value = serde_json::from_slice(&out).expect("sfdisk json");
    v["partitiontable"].clone()
}

pub fn read_all(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read test file")
}

/// Copy `len` bytes at `offset` of `src` into a new file `dst`.
pub fn extract(src: &Path, offset: u64, len: u64, dst: &Path) {
    let mut f = File::open(src).expect("open image");
    f.seek(SeekFrom::Start(offset)).expect("seek image");
    let mut out = File::create(dst).expect("create extract");
    let copied = std::io::copy(&mut f.take(len), &mut out).expect("copy region");
    assert_eq!(copied, len);
    out.flush().expect("flush extract");
}
