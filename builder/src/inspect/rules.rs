//! What a bootable image of a given board must contain, as data: the
//! files each partition needs, where the kernel command line lives, and
//! the raw bytes expected at fixed places. A board profile can carry these
//! (TOML, the shape of [`InspectRules`]); otherwise [`InspectRules::for_boot`]
//! derives them from the profile's boot loader.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::firmware::Manifest;
use crate::spec::profile::{BlobConfig, BootConfig, Profile};

/// Which partition a rule is about, found from the partition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Location {
    /// The whole disk (for raw bytes only).
    Disk,
    /// The GPT BIOS boot partition.
    BiosBoot,
    /// The EFI system partition.
    Esp,
    /// The FAT partition firmware reads (MBR 0x0c...), else the ESP.
    Boot,
    /// The partition holding the ext2/3/4 root filesystem.
    Root,
}

impl Location {
    pub fn name(self) -> &'static str {
        match self {
            Location::Disk => "disk",
            Location::BiosBoot => "bios-boot",
            Location::Esp => "esp",
            Location::Boot => "boot",
            Location::Root => "root",
        }
    }
}

/// A file in one of the image's filesystems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    pub location: Location,
    /// From the filesystem's root, `/`-separated; symbolic links are
    /// followed (ext only).
    pub path: String,
}

impl FileRef {
    pub fn new(location: Location, path: &str) -> FileRef {
        FileRef {
            location,
            path: path.to_owned(),
        }
    }
}

impl std::fmt::Display for FileRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let slash = if self.path.starts_with('/') { "" } else { "/" };
        write!(f, "{}:{slash}{}", self.location.name(), self.path)
    }
}

/// Where the kernel command line is written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CmdlineSource {
    /// Not checked.
    #[default]
    None,
    /// A GRUB configuration: every `linux` line is a command line, and
    /// `search --fs-uuid` must find the root filesystem.
    Grub { location: Location, path: String },
    /// A file whose first line is the command line (`cmdline.txt`).
    Text { location: Location, path: String },
    /// An extlinux.conf: every `append` line is a command line.
    Extlinux { location: Location, path: String },
}

/// Bytes at a fixed place, from the start of the disk or of a partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobRule {
    pub name: String,
    #[serde(default = "disk")]
    pub location: Location,
    pub offset: u64,
    pub len: u64,
    /// Expected sha256 (hex) of the bytes; without it (and without
    /// `same_as`) they must merely not be all zeros.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The bytes must equal this file of the image (`len` 0: its size).
    #[serde(default)]
    pub same_as: Option<FileRef>,
}

fn disk() -> Location {
    Location::Disk
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectRules {
    #[serde(default)]
    pub required_files: Vec<FileRef>,
    #[serde(default)]
    pub cmdline: CmdlineSource,
    #[serde(default)]
    pub blobs: Vec<BlobRule>,
    /// A Raspberry Pi `config.txt`: the kernel, initramfs and device tree
    /// it names must exist next to it.
    #[serde(default)]
    pub rpi_config: Option<FileRef>,
    /// GRUB for BIOS: the MBR boot code must point at core.img (in the
    /// BIOS boot partition on GPT, right after the MBR on MBR disks, which
    /// then need an active partition), and core.img's first sector must be
    /// GRUB's diskboot.img with a block list that follows it.
    #[serde(default)]
    pub grub_bios: bool,
    /// An extlinux.conf (u-boot distro boot): the kernel, initramfs and
    /// device tree it names must exist.
    #[serde(default)]
    pub extlinux: Option<FileRef>,
}

impl InspectRules {
    /// Built-in rules for a board's boot configuration, when its loader is
    /// known (`grub-x86`, `rpi`, `uboot`).
    /// `pins` are the firmware manifests the board's blobs name: a blob
    /// that is a whole pinned file is checked against its pinned hash.
    pub fn for_boot(boot: &BootConfig, pins: &BTreeMap<String, Manifest>) -> Option<InspectRules> {
        let mut rules = Self::for_loader(&boot.loader, &boot.grub_platforms)?;
        for b in &boot.blobs {
            rules.blobs.push(uboot_blob_rule(b, pins));
        }
        // The firmware files and device trees the board profile says the
        // firmware reads.
        for d in boot.firmware_files.iter().chain(&boot.dtbs) {
            rules.required_files.push(FileRef::new(Location::Boot, d));
        }
        Some(rules)
    }

    /// [`Self::for_boot`] plus the files of the board's root filesystem
    /// (its Wi-Fi firmware).
    pub fn for_profile(
        profile: &Profile,
        pins: &BTreeMap<String, Manifest>,
    ) -> Option<InspectRules> {
        let mut rules = Self::for_boot(&profile.boot, pins)?;
        for f in &profile.wifi_firmware {
            let path = format!("{WIFI_FIRMWARE_DIR}/{}", f.trim_start_matches('/'));
            rules
                .required_files
                .push(FileRef::new(Location::Root, &path));
        }
        Some(rules)
    }

    pub fn for_loader(loader: &str, grub_platforms: &[String]) -> Option<InspectRules> {
        match loader {
            "grub-x86" => Some(grub_x86(grub_platforms)),
            "rpi" | "rpi-firmware" => Some(rpi()),
            // Blob hashes come from the board's own data.
            "uboot" | "u-boot" => Some(InspectRules {
                required_files: vec![
                    FileRef::new(Location::Root, EXTLINUX),
                    FileRef::new(Location::Root, "/vmlinuz"),
                    FileRef::new(Location::Root, "/initrd.img"),
                ],
                cmdline: CmdlineSource::Extlinux {
                    location: Location::Root,
                    path: EXTLINUX.into(),
                },
                extlinux: Some(FileRef::new(Location::Root, EXTLINUX)),
                ..InspectRules::default()
            }),
            _ => None,
        }
    }
}

const EXTLINUX: &str = "/boot/extlinux/extlinux.conf";
/// Where the kernel looks for firmware (`/lib` is `/usr/lib` on merged-usr
/// systems: the link is followed).
const WIFI_FIRMWARE_DIR: &str = "/lib/firmware";

/// What a board's blob must look like on the disk (pure): zeros, a whole
/// pinned firmware file (its hash), or the file of the image it came from
/// (the copy the u-boot loader keeps of combined or cut blobs).
/// The manifests of the firmware a board's blobs name, for their pins.
pub fn pins_of(
    firmware: &BTreeMap<String, crate::firmware::Firmware>,
) -> BTreeMap<String, Manifest> {
    firmware
        .iter()
        .map(|(k, v)| (k.clone(), v.manifest.clone()))
        .collect()
}

pub fn uboot_blob_rule(b: &BlobConfig, pins: &BTreeMap<String, Manifest>) -> BlobRule {
    let mut rule = BlobRule {
        name: b.name.clone(),
        location: Location::Disk,
        offset: b.sector * crate::loader::uboot::SECTOR,
        len: 0,
        sha256: None,
        same_as: None,
    };
    let whole = b.skip == 0 && b.count.is_none();
    if let Some(n) = b.zeros {
        rule.len = n;
        rule.sha256 = Some(zeros_sha256(n));
    } else if let (true, Some(f)) = (whole, &b.image_file) {
        rule.same_as = Some(FileRef::new(Location::Root, f));
    } else if let (true, Some(fw), Some(file)) = (whole, &b.firmware, &b.file) {
        match pins
            .get(fw)
            .and_then(|m| m.files.iter().find(|e| &e.path == file))
        {
            Some(e) => {
                rule.len = e.size;
                rule.sha256 = Some(e.sha256.to_ascii_lowercase());
            }
            None => {
                // Unknown pin: the check fails and says so.
                rule.sha256 = Some(format!("unknown: firmware `{fw}` pins no `{file}`"));
            }
        }
    } else {
        let copy = format!(
            "/{}/{}",
            crate::loader::uboot::COPIES_DIR,
            crate::loader::uboot::copy_name(b)
        );
        rule.same_as = Some(FileRef::new(Location::Root, &copy));
    }
    rule
}

fn zeros_sha256(n: u64) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let block = [0u8; 4096];
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len() as u64) as usize;
        h.update(&block[..k]);
        left -= k as u64;
    }
    hex::encode(h.finalize())
}

fn grub_x86(platforms: &[String]) -> InspectRules {
    // What the loader installs when the profile names no platform.
    let all = ["i386-pc".to_owned(), "x86_64-efi".to_owned()];
    let platforms = if platforms.is_empty() {
        &all[..]
    } else {
        platforms
    };
    let mut r = InspectRules {
        required_files: vec![
            FileRef::new(Location::Root, "/boot/grub/grub.cfg"),
            FileRef::new(Location::Root, "/vmlinuz"),
            FileRef::new(Location::Root, "/initrd.img"),
        ],
        cmdline: CmdlineSource::Grub {
            location: Location::Root,
            path: "/boot/grub/grub.cfg".into(),
        },
        ..InspectRules::default()
    };
    for p in platforms {
        match p.as_str() {
            "i386-pc" => {
                r.grub_bios = true;
                r.blobs.push(BlobRule {
                    name: "GRUB boot.img in the MBR".into(),
                    location: Location::Disk,
                    offset: 0,
                    len: 440,
                    sha256: None,
                    same_as: None,
                });
            }
            "x86_64-efi" => r
                .required_files
                .insert(0, FileRef::new(Location::Esp, "EFI/BOOT/BOOTX64.EFI")),
            "i386-efi" => r
                .required_files
                .insert(0, FileRef::new(Location::Esp, "EFI/BOOT/BOOTIA32.EFI")),
            _ => {}
        }
    }
    r
}

fn rpi() -> InspectRules {
    let required_files = vec![
        FileRef::new(Location::Boot, "config.txt"),
        FileRef::new(Location::Boot, "cmdline.txt"),
    ];
    InspectRules {
        required_files,
        cmdline: CmdlineSource::Text {
            location: Location::Boot,
            path: "cmdline.txt".into(),
        },
        rpi_config: Some(FileRef::new(Location::Boot, "config.txt")),
        ..InspectRules::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grub_defaults_follow_the_platforms() {
        let both = InspectRules::for_loader("grub-x86", &[]).unwrap();
        assert!(both.grub_bios);
        assert_eq!(both.blobs.len(), 1);
        assert_eq!(
            both.required_files[0].to_string(),
            "esp:/EFI/BOOT/BOOTX64.EFI"
        );
        let efi = InspectRules::for_loader("grub-x86", &["x86_64-efi".into()]).unwrap();
        assert!(!efi.grub_bios && efi.blobs.is_empty());
        assert_eq!(efi.required_files.len(), 4);
        assert!(InspectRules::for_loader("lilo", &[]).is_none());
    }

    #[test]
    fn rules_are_data() {
        let text = r#"
            grub_bios = false
            required_files = [
                { location = "boot", path = "config.txt" },
                { location = "root", path = "/sbin/init" },
            ]
            cmdline = { kind = "text", location = "boot", path = "cmdline.txt" }
            rpi_config = { location = "boot", path = "config.txt" }
            [[blobs]]
            name = "u-boot"
            offset = 512
            len = 1024
            sha256 = "00"
        "#;
        let r: InspectRules = toml::from_str(text).unwrap();
        assert_eq!(
            r.required_files[1],
            FileRef::new(Location::Root, "/sbin/init")
        );
        assert_eq!(
            r.cmdline,
            CmdlineSource::Text {
                location: Location::Boot,
                path: "cmdline.txt".into()
            }
        );
        assert_eq!(r.blobs[0].location, Location::Disk);
        let again: InspectRules = toml::from_str(&toml::to_string(&r).unwrap()).unwrap();
        assert_eq!(again, r);
        assert!(toml::from_str::<InspectRules>("colour = 1").is_err());
        assert_eq!(
            toml::from_str::<InspectRules>("").unwrap(),
            InspectRules::default()
        );
    }

    #[test]
    fn uboot_blobs_are_checked_against_pins_files_or_copies() {
        let m: Manifest = toml::from_str(
            "description = \"d\"\nlicence = \"l\"\nbase_url = \"u\"\n\
             [[files]]\npath = \"bl1.bin\"\nsize = 3\nsha256 = \"ABCD\"\n",
        )
        .unwrap();
        let pins = BTreeMap::from([("xu4".to_owned(), m)]);
        let b = |t: &str| -> BlobConfig { toml::from_str(t).unwrap() };
        let pinned = uboot_blob_rule(
            &b("name = \"bl1\"\nsector = 1\nfirmware = \"xu4\"\nfile = \"bl1.bin\""),
            &pins,
        );
        assert_eq!((pinned.offset, pinned.len), (512, 3));
        assert_eq!(pinned.sha256.as_deref(), Some("abcd"));
        let unknown = uboot_blob_rule(
            &b("name = \"bl2\"\nsector = 31\nfirmware = \"xu4\"\nfile = \"bl2.bin\""),
            &pins,
        );
        assert!(unknown.sha256.unwrap().contains("pins no `bl2.bin`"));
        let debian = uboot_blob_rule(
            &b("name = \"u-boot\"\nsector = 63\nimage_file = \"/usr/lib/u-boot/odroid-xu3/u-boot.bin\""),
            &pins,
        );
        assert_eq!(
            debian.same_as.unwrap().to_string(),
            "root:/usr/lib/u-boot/odroid-xu3/u-boot.bin"
        );
        let env = uboot_blob_rule(&b("name = \"env\"\nsector = 2015\nzeros = 16384"), &pins);
        assert_eq!(env.len, 16384);
        assert_eq!(env.sha256.unwrap(), zeros_sha256(16384));
        let cut = uboot_blob_rule(
            &b("name = \"FIP\"\nsector = 1\nskip = 512\nfirmware = \"n2\"\noutput = \"u-boot.bin.sd.bin\""),
            &pins,
        );
        assert_eq!(
            cut.same_as.unwrap().to_string(),
            "root:/usr/lib/clic/u-boot/fip-sector1.bin"
        );
    }
}
