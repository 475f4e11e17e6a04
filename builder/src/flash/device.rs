//! Whether a device may be written: pure decisions from facts read
//! elsewhere (`probe.rs` reads /sys, /proc/self/mountinfo, /proc/swaps).

use serde::Serialize;
use std::fmt;

/// A block device number, `major:minor`.
pub type DevNum = (u32, u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    Block,
    Regular,
    Missing,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Usb,
    /// An SD/MMC slot (`mmcblk*`).
    Sd,
    /// A loop device: a file seen as a disk.
    Loop,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceFacts {
    /// As the user gave it.
    pub path: String,
    pub kind: NodeKind,
    /// The kernel's name (`sdb`, `mmcblk0`, `loop3`); empty when not a
    /// block device.
    pub name: String,
    /// Set when the path is a partition: the whole disk's name.
    pub partition_of: Option<String>,
    pub size: u64,
    pub logical_block_size: u64,
    pub removable: bool,
    pub transport: Transport,
    pub read_only: bool,
    /// Vendor and model as the kernel reports them (a loop device: its file).
    pub model: String,
    /// `major:minor` of the block device; empty when not one.
    pub devnum: String,
    /// A serial number or world-wide id when the kernel gives one.
    pub serial: String,
    /// Mount points of the device or its partitions.
    pub mounts: Vec<String>,
    /// Swap areas on the device or its partitions.
    pub swaps: Vec<String>,
    /// Devices stacked on it (device mapper, RAID): `holders` in /sys.
    pub holders: Vec<String>,
    /// It backs the running system (`/`, `/boot`, `/usr`, `/var`).
    pub system: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    RegularFile,
    NotBlock,
    Partition { disk: String },
    System,
    Mounted(Vec<String>),
    Swap(Vec<String>),
    Held(Vec<String>),
    ReadOnly,
    TooSmall { size: u64, image: u64 },
    NotRemovable,
}

impl Refusal {
    /// Only a fixed disk may be written anyway, with `--force`.
    pub fn forcible(&self) -> bool {
        matches!(self, Refusal::NotRemovable)
    }
}

fn mib(b: u64) -> String {
    crate::spec::size::human(b)
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Missing => write!(f, "does not exist"),
            Refusal::RegularFile => write!(
                f,
                "is a regular file, not a device (to copy an image to a file, use cp)"
            ),
            Refusal::NotBlock => write!(f, "is not a block device"),
            Refusal::Partition { disk } => write!(
                f,
                "is a partition of /dev/{disk}: give the whole device (/dev/{disk})"
            ),
            Refusal::System => write!(f, "holds the running system"),
            Refusal::Mounted(m) => write!(
                f,
                "is mounted on {} (unmount it first: umount {})",
                m.join(", "),
                m.join(" ")
            ),
            Refusal::Swap(s) => write!(f, "is in use as swap ({}: swapoff it first)", s.join(", ")),
            Refusal::Held(h) => write!(
                f,
                "is in use by {} (device mapper, RAID or LVM)",
                h.join(", ")
            ),
            Refusal::ReadOnly => write!(f, "is read-only (an SD card's lock switch?)"),
            Refusal::TooSmall { size, image } => write!(
                f,
                "is smaller ({}) than the image ({})",
                mib(*size),
                mib(*image)
            ),
            Refusal::NotRemovable => write!(
                f,
                "is not a removable disk (USB, SD card): it may be an internal disk; --force writes it anyway"
            ),
        }
    }
}

/// Loop devices, USB disks, SD slots and disks the kernel calls removable
/// may be written without `--force`.
pub fn removable_like(f: &DeviceFacts) -> bool {
    f.removable
        || matches!(
            f.transport,
            Transport::Usb | Transport::Sd | Transport::Loop
        )
}

/// How a disk is attached, from its kernel name, its /sys path and, for
/// an MMC slot, its `device/type`: only an SD card (`SD`) in an mmcblk
/// slot counts as a card; an eMMC chip (`MMC`) soldered on the board is
/// a fixed disk.
pub fn transport_of(name: &str, sys_path: &str, mmc_type: &str) -> Transport {
    if name.starts_with("loop") {
        Transport::Loop
    } else if sys_path.contains("/usb") {
        Transport::Usb
    } else if name.starts_with("mmcblk") && mmc_type == "SD" {
        Transport::Sd
    } else {
        Transport::Other
    }
}

/// What changed between the device that was checked (and confirmed) and
/// what the same path is now; `None` when it is the same device.
pub fn changed(before: &DeviceFacts, now: &DeviceFacts) -> Option<String> {
    let mut what = Vec::new();
    if before.devnum != now.devnum || before.name != now.name {
        what.push(format!(
            "device {} ({}) is now {} ({})",
            before.name, before.devnum, now.name, now.devnum
        ));
    }
    if before.size != now.size {
        what.push(format!("size {} is now {}", before.size, now.size));
    }
    if before.model != now.model {
        what.push(format!("\"{}\" is now \"{}\"", before.model, now.model));
    }
    if before.serial != now.serial {
        what.push(format!("serial {} is now {}", before.serial, now.serial));
    }
    (!what.is_empty()).then(|| {
        format!(
            "is not the device that was checked: {}; nothing was written to it",
            what.join(", ")
        )
    })
}

/// Every reason not to write `f` with an image of `image_size` bytes;
/// empty when it may be written. `force` lifts only the fixed-disk rule.
pub fn refusals(f: &DeviceFacts, image_size: u64, force: bool) -> Vec<Refusal> {
    match f.kind {
        NodeKind::Missing => return vec![Refusal::Missing],
        NodeKind::Regular => return vec![Refusal::RegularFile],
        NodeKind::Other => return vec![Refusal::NotBlock],
        NodeKind::Block => {}
    }
    if let Some(disk) = &f.partition_of {
        return vec![Refusal::Partition { disk: disk.clone() }];
    }
    let mut r = Vec::new();
    if f.system {
        // Unmounting / is no advice to give: that is the one reason.
        r.push(Refusal::System);
    } else if !f.mounts.is_empty() {
        r.push(Refusal::Mounted(f.mounts.clone()));
    }
    if !f.swaps.is_empty() {
        r.push(Refusal::Swap(f.swaps.clone()));
    }
    if !f.holders.is_empty() {
        r.push(Refusal::Held(f.holders.clone()));
    }
    if f.read_only {
        r.push(Refusal::ReadOnly);
    }
    if f.size < image_size {
        r.push(Refusal::TooSmall {
            size: f.size,
            image: image_size,
        });
    }
    if !force && !removable_like(f) {
        r.push(Refusal::NotRemovable);
    }
    r
}

/// One line describing a device for the confirmation prompt.
pub fn describe(f: &DeviceFacts) -> String {
    let kind = match f.transport {
        Transport::Usb => "USB",
        Transport::Sd => "SD card",
        Transport::Loop => "loop device",
        Transport::Other if f.removable => "removable",
        Transport::Other => "fixed disk",
    };
    let model = if f.model.is_empty() {
        "(no model)"
    } else {
        f.model.as_str()
    };
    format!("{}  {}  {}  {kind}", f.path, model, mib(f.size))
}

/// A line of /proc/self/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub dev: DevNum,
    pub mount_point: String,
    pub fstype: String,
    pub source: String,
}

/// `\040` and friends, as mountinfo escapes spaces, tabs and backslashes.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_devnum(s: &str) -> Option<DevNum> {
    let (a, b) = s.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(Mount {
                dev: parse_devnum(f.get(2)?)?,
                mount_point: unescape(f.get(4)?),
                fstype: (*r.first()?).to_owned(),
                source: unescape(r.get(1)?),
            })
        })
        .collect()
}

/// Swap file or device names from /proc/swaps.
pub fn parse_swaps(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(unescape)
        .collect()
}

/// Mount points whose device is one of `devs`, or whose source resolves
/// (by the caller, through stat) to one of them: `mounts` pairs each
/// mount with its source's device number when it has one.
pub fn mounts_on(devs: &[DevNum], mounts: &[(Mount, Option<DevNum>)]) -> Vec<String> {
    let mut out: Vec<String> = mounts
        .iter()
        .filter(|(m, src)| devs.contains(&m.dev) || src.is_some_and(|s| devs.contains(&s)))
        .map(|(m, _)| m.mount_point.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Mount points whose disks are "the running system".
pub const SYSTEM_MOUNTS: &[&str] = &["/", "/boot", "/boot/efi", "/usr", "/var"];

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> DeviceFacts {
        DeviceFacts {
            path: "/dev/sdb".into(),
            kind: NodeKind::Block,
            name: "sdb".into(),
            partition_of: None,
            size: 32 << 30,
            logical_block_size: 512,
            removable: true,
            transport: Transport::Usb,
            read_only: false,
            model: "Generic SD Reader".into(),
            devnum: "8:16".into(),
            serial: "0123".into(),
            mounts: vec![],
            swaps: vec![],
            holders: vec![],
            system: false,
        }
    }

    #[test]
    fn an_emmc_chip_is_not_a_card_and_a_swapped_device_is_seen() {
        for (name, sys, mmc_type, want) in [
            ("mmcblk0", "/sys/devices/platform/mmc", "SD", Transport::Sd),
            (
                "mmcblk0",
                "/sys/devices/platform/mmc",
                "MMC",
                Transport::Other,
            ),
            ("mmcblk1", "/sys/devices/platform/mmc", "", Transport::Other),
            ("sdb", "/sys/devices/pci0/usb2/2-1", "", Transport::Usb),
            ("loop3", "/sys/devices/virtual", "", Transport::Loop),
        ] {
            assert_eq!(transport_of(name, sys, mmc_type), want, "{name} {mmc_type}");
        }
        let mut emmc = card();
        (emmc.name, emmc.removable, emmc.transport) = ("mmcblk0".into(), false, Transport::Other);
        assert_eq!(refusals(&emmc, 1 << 30, false), vec![Refusal::NotRemovable]);

        let a = card();
        assert_eq!(changed(&a, &a.clone()), None);
        for edit in [
            |f: &mut DeviceFacts| f.devnum = "8:32".into(),
            |f: &mut DeviceFacts| f.size += 512,
            |f: &mut DeviceFacts| f.model = "Other Stick".into(),
            |f: &mut DeviceFacts| f.serial = "9999".into(),
        ] {
            let mut b = card();
            edit(&mut b);
            let why = changed(&a, &b).expect("a change is seen");
            assert!(why.contains("nothing was written"), "{why}");
        }
    }

    #[test]
    fn a_free_card_is_fine() {
        assert_eq!(refusals(&card(), 2 << 30, false), vec![]);
        assert_eq!(
            describe(&card()),
            "/dev/sdb  Generic SD Reader  32.0 GiB  USB"
        );
    }

    #[test]
    fn every_reason_is_given() {
        let mut f = card();
        f.mounts = vec!["/media/x".into()];
        f.swaps = vec!["/dev/sdb2".into()];
        f.holders = vec!["dm-0".into()];
        f.read_only = true;
        f.size = 1 << 30;
        let r = refusals(&f, 2 << 30, true);
        assert_eq!(r.len(), 5, "{r:?}");
        assert!(r.iter().all(|x| !x.forcible()));
        let text: Vec<String> = r.iter().map(|x| x.to_string()).collect();
        assert!(text[0].contains("mounted on /media/x"), "{text:?}");
        assert!(
            text[4].contains("smaller (1.0 GiB) than the image (2.0 GiB)"),
            "{text:?}"
        );
    }

    #[test]
    fn fixed_disks_need_force_and_the_system_disk_is_never_written() {
        let mut f = card();
        f.removable = false;
        f.transport = Transport::Other;
        assert_eq!(refusals(&f, 1, false), vec![Refusal::NotRemovable]);
        assert_eq!(refusals(&f, 1, true), vec![]);
        f.system = true;
        assert_eq!(refusals(&f, 1, true), vec![Refusal::System]);
        // SD slots and loop devices often say removable=0.
        f.system = false;
        f.transport = Transport::Sd;
        assert_eq!(refusals(&f, 1, false), vec![]);
        f.transport = Transport::Loop;
        assert_eq!(refusals(&f, 1, false), vec![]);
    }

    #[test]
    fn files_and_partitions_are_refused_at_once() {
        let mut f = card();
        f.kind = NodeKind::Regular;
        assert_eq!(refusals(&f, 1, true), vec![Refusal::RegularFile]);
        assert!(Refusal::RegularFile.to_string().contains("regular file"));
        f.kind = NodeKind::Block;
        f.partition_of = Some("sdb".into());
        let r = refusals(&f, 1, true);
        assert_eq!(
            r[0].to_string(),
            "is a partition of /dev/sdb: give the whole device (/dev/sdb)"
        );
    }

    #[test]
    fn mountinfo_is_read() {
        let text = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
                    40 27 7:3 / /mnt/my\\040card rw - vfat /dev/loop3 rw\n\
                    41 27 0:45 / /data rw - btrfs /dev/sdc1 rw\n\
                    garbage\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].mount_point, "/mnt/my card");
        assert_eq!(m[1].dev, (7, 3));
        // btrfs shows an anonymous device: the source's rdev finds it.
        let with_src: Vec<(Mount, Option<DevNum>)> = m
            .into_iter()
            .map(|m| {
                let src = (m.source == "/dev/sdc1").then_some((8, 33));
                (m, src)
            })
            .collect();
        assert_eq!(mounts_on(&[(7, 3)], &with_src), vec!["/mnt/my card"]);
        assert_eq!(mounts_on(&[(8, 32), (8, 33)], &with_src), vec!["/data"]);
        assert!(mounts_on(&[(8, 16)], &with_src).is_empty());
    }

    #[test]
    fn swaps_are_read() {
        let text = "Filename\tType\tSize\tUsed\tPriority\n/dev/sdb2 partition 1024 0 -2\n";
        assert_eq!(parse_swaps(text), vec!["/dev/sdb2"]);
    }
}
