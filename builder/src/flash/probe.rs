//! Facts about a device path, read from the kernel: `stat`, /sys/dev/block,
//! /proc/self/mountinfo and /proc/swaps. Nothing is opened for writing.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::device::{
    mounts_on, parse_devnum, parse_mountinfo, parse_swaps, transport_of, DevNum, DeviceFacts,
    Mount, NodeKind, Transport, SYSTEM_MOUNTS,
};

fn devnum(rdev: u64) -> DevNum {
    (libc::major(rdev), libc::minor(rdev))
}

fn read_trim(p: &Path) -> String {
    fs::read_to_string(p)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn sys_dir(d: DevNum) -> Option<PathBuf> {
    fs::canonicalize(format!("/sys/dev/block/{}:{}", d.0, d.1)).ok()
}

/// The device numbers of a whole disk's partitions (from its /sys dir).
fn partitions(sys: &Path) -> Vec<(String, DevNum)> {
    let Ok(rd) = fs::read_dir(sys) else {
        return vec![];
    };
    rd.flatten()
        .filter(|e| e.path().join("partition").is_file())
        .filter_map(|e| {
            let d = parse_devnum(&read_trim(&e.path().join("dev")))?;
            Some((e.file_name().to_string_lossy().into_owned(), d))
        })
        .collect()
}

fn holders(sys: &Path) -> Vec<String> {
    fs::read_dir(sys.join("holders"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The whole disks under a device: itself if it is one, its disk if it is
/// a partition, and through `slaves` what a device-mapper or RAID device
/// is made of.
fn backing_disks(sys: &Path, out: &mut Vec<String>, depth: u32) {
    if depth > 8 {
        return;
    }
    let disk = if sys.join("partition").is_file() {
        sys.parent().map(Path::to_owned)
    } else {
        Some(sys.to_owned())
    };
    let Some(disk) = disk else { return };
    let slaves: Vec<PathBuf> = fs::read_dir(disk.join("slaves"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| fs::canonicalize(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    if slaves.is_empty() {
        if let Some(n) = disk.file_name() {
            out.push(n.to_string_lossy().into_owned());
        }
    }
    for s in slaves {
        backing_disks(&s, out, depth + 1);
    }
}

fn rdev_of(path: &str) -> Option<DevNum> {
    if !path.starts_with('/') {
        return None;
    }
    let m = fs::metadata(path).ok()?;
    m.file_type().is_block_device().then(|| devnum(m.rdev()))
}

/// The kernel's mounts, each with its source's device number if the
/// source is a block device node.
pub fn mounts() -> Vec<(Mount, Option<DevNum>)> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    parse_mountinfo(&text)
        .into_iter()
        .map(|m| {
            let src = rdev_of(&m.source);
            (m, src)
        })
        .collect()
}

/// Names of the whole disks that hold the running system.
pub fn system_disks(mounts: &[(Mount, Option<DevNum>)]) -> Vec<String> {
    let mut out = Vec::new();
    for (m, src) in mounts {
        if !SYSTEM_MOUNTS.contains(&m.mount_point.as_str()) {
            continue;
        }
        for d in [Some(m.dev), *src].into_iter().flatten() {
            if let Some(sys) = sys_dir(d) {
                backing_disks(&sys, &mut out, 0);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

pub fn probe(path: &Path) -> DeviceFacts {
    let mut f = DeviceFacts {
        path: path.display().to_string(),
        kind: NodeKind::Missing,
        name: String::new(),
        partition_of: None,
        size: 0,
        logical_block_size: 512,
        removable: false,
        transport: Transport::Other,
        read_only: false,
        model: String::new(),
        devnum: String::new(),
        serial: String::new(),
        mounts: vec![],
        swaps: vec![],
        holders: vec![],
        system: false,
    };
    let Ok(meta) = fs::metadata(path) else {
        return f;
    };
    let ft = meta.file_type();
    if ft.is_file() {
        f.kind = NodeKind::Regular;
        return f;
    }
    if !ft.is_block_device() {
        f.kind = NodeKind::Other;
        return f;
    }
    f.kind = NodeKind::Block;
    let dev = devnum(meta.rdev());
    f.devnum = format!("{}:{}", dev.0, dev.1);
    let Some(sys) = sys_dir(dev) else {
        f.kind = NodeKind::Other;
        return f;
    };
    f.name = sys
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if sys.join("partition").is_file() {
        f.partition_of = sys
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        return f;
    }
    f.size = read_trim(&sys.join("size")).parse::<u64>().unwrap_or(0) * 512;
    f.logical_block_size = read_trim(&sys.join("queue/logical_block_size"))
        .parse()
        .unwrap_or(512);
    f.removable = read_trim(&sys.join("removable")) == "1";
    f.read_only = read_trim(&sys.join("ro")) == "1";
    let sys_path = sys.to_string_lossy();
    f.transport = transport_of(&f.name, &sys_path, &read_trim(&sys.join("device/type")));
    f.serial = ["device/serial", "device/wwid", "wwid"]
        .iter()
        .map(|p| read_trim(&sys.join(p)))
        .find(|s| !s.is_empty())
        .unwrap_or_default();
    f.model = if f.transport == Transport::Loop {
        read_trim(&sys.join("loop/backing_file"))
    } else {
        let v = read_trim(&sys.join("device/vendor"));
        let m = read_trim(&sys.join("device/model"));
        let n = read_trim(&sys.join("device/name"));
        [v, m, n]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let parts = partitions(&sys);
    let mut devs = vec![dev];
    devs.extend(parts.iter().map(|(_, d)| *d));
    let all = mounts();
    f.mounts = mounts_on(&devs, &all);
    let swaps = parse_swaps(&fs::read_to_string("/proc/swaps").unwrap_or_default());
    f.swaps = swaps
        .into_iter()
        .filter(|s| rdev_of(s).is_some_and(|d| devs.contains(&d)))
        .collect();
    f.holders = holders(&sys);
    for (name, _) in &parts {
        f.holders.extend(holders(&sys.join(name)));
    }
    f.system = system_disks(&all).contains(&f.name);
    f
}
