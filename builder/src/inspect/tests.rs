//! Images assembled by clic's own disk code, inspected: a good GPT PC image
//! passes every check; broken variants fail exactly the checks they break.
//! Needs mke2fs (1.47.1+, for `-d` from a tarball) and debugfs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::*;
use crate::disk::ext4::{mkfs_ext4, tar_tree};
use crate::disk::fat::{FatFile, FatSource};
use crate::disk::grub::{mbr_boot_code, patch_core_img, BLOCKLIST};
use crate::disk::image::{assemble, PartContent, RawBlob};
use crate::plan::layout::{
    compute_layout, seeded_u32, seeded_uuid, Layout, LayoutOptions, PartRole, TableKind as Tk,
};

const EPOCH: i64 = 1_700_000_000;
const MIB: u64 = 1024 * 1024;
const SEED: &[u8] = b"inspect";

use crate::disk::test_support::req;

fn pc_layout() -> Layout {
    let requests = [
        req(PartRole::BiosBoot, "bios-boot", MIB, false),
        req(PartRole::Esp, "esp", 8 * MIB, false),
        req(PartRole::Root, "clic-root", 16 * MIB, true),
    ];
    compute_layout(Tk::Gpt, "amd64", &requests, &LayoutOptions::default(), SEED).unwrap()
}

fn pi_layout() -> Layout {
    let requests = [
        req(PartRole::Boot, "boot", 8 * MIB, true),
        req(PartRole::Root, "root", 16 * MIB, false),
    ];
    compute_layout(Tk::Mbr, "arm64", &requests, &LayoutOptions::default(), SEED).unwrap()
}

fn root_fs_uuid() -> String {
    seeded_uuid(SEED, "root-fs").to_string()
}

/// A fake GRUB boot.img and core.img, as the grub module's tests make them.
fn grub_blobs(layout: &Layout) -> ([u8; 440], Vec<u8>) {
    let mut boot: Vec<u8> = (0..512u32).map(|i| (i % 200 + 1) as u8).collect();
    boot[0x64] = 0xff;
    boot[510] = 0x55;
    boot[511] = 0xAA;
    let mut core = vec![0xCCu8; 30_000];
    let follow = 30_000u64.div_ceil(512) - 1;
    core[BLOCKLIST + 8..BLOCKLIST + 10].copy_from_slice(&(follow as u16).to_le_bytes());
    core[BLOCKLIST + 10..BLOCKLIST + 12].copy_from_slice(&0x820u16.to_le_bytes());
    let bios = layout.by_role(PartRole::BiosBoot).unwrap();
    let lba = bios.start / 512;
    patch_core_img(&mut core, lba, bios.size / 512).unwrap();
    (mbr_boot_code(&boot, lba).unwrap(), core)
}

/// An ext4 image of `files` (path, content) and `links` (path, target).
fn ext4(dir: &Path, name: &str, files: &[(&str, &str)], links: &[(&str, &str)]) -> PathBuf {
    let tree = dir.join(format!("{name}.tree"));
    for (path, content) in files {
        let p = tree.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    for (path, target) in links {
        std::os::unix::fs::symlink(target, tree.join(path)).unwrap();
    }
    let tar = dir.join(format!("{name}.tar"));
    tar_tree(&tree, &tar, EPOCH).unwrap();
    let img = dir.join(format!("{name}.ext4"));
    let uuid = seeded_uuid(SEED, "root-fs");
    let seed = seeded_uuid(SEED, "root-hash");
    mkfs_ext4(&tar, &img, 16 * MIB, uuid, seed, "clic-root", EPOCH).unwrap();
    img
}

fn grub_cfg(search_uuid: &str, root_partuuids: &[&str]) -> String {
    let mut s = format!("set default=0\nsearch --no-floppy --fs-uuid --set=root {search_uuid}\n");
    for (i, p) in root_partuuids.iter().enumerate() {
        s.push_str(&format!(
            "menuentry 'clic {i}' {{\n    linux /vmlinuz root=PARTUUID={p} ro console=ttyS0\n    initrd /initrd.img\n}}\n"
        ));
    }
    s
}

/// A root filesystem with GRUB's configuration and Debian's kernel links.
fn grub_root(dir: &Path, name: &str, cfg: &str, dangling_initrd: bool) -> PathBuf {
    let mut files = vec![
        ("boot/grub/grub.cfg", cfg),
        ("boot/vmlinuz-6.1.0-x", "kernel"),
        ("etc/os-release", "ID=debian\n"),
    ];
    if !dangling_initrd {
        files.push(("boot/initrd.img-6.1.0-x", "initramfs"));
    }
    ext4(
        dir,
        name,
        &files,
        &[
            ("vmlinuz", "boot/vmlinuz-6.1.0-x"),
            ("initrd.img", "boot/initrd.img-6.1.0-x"),
        ],
    )
}

/// What can go wrong in a PC image.
#[derive(Default)]
struct Breakage {
    /// The partitions root= names instead of the root's.
    root_partuuids: Vec<String>,
    search_esp: bool,
    no_efi_binary: bool,
    dangling_initrd: bool,
}

fn pc_image(dir: &Path, name: &str, b: &Breakage) -> (PathBuf, Layout) {
    let layout = pc_layout();
    let root_pu = layout.by_role(PartRole::Root).unwrap().part_uuid.clone();
    let esp_id = seeded_u32(SEED, "esp");
    let search = if b.search_esp {
        format!("{:04X}-{:04X}", esp_id >> 16, esp_id & 0xFFFF)
    } else {
        root_fs_uuid()
    };
    let partuuids: Vec<&str> = if b.root_partuuids.is_empty() {
        vec![root_pu.as_str()]
    } else {
        b.root_partuuids.iter().map(String::as_str).collect()
    };
    let cfg = grub_cfg(&search, &partuuids);
    let root = grub_root(dir, name, &cfg, b.dangling_initrd);
    let efi_path = if b.no_efi_binary {
        "EFI/debian/grubx64.efi"
    } else {
        "EFI/BOOT/BOOTX64.EFI"
    };
    let esp = PartContent::Fat {
        volume_id: esp_id,
        label: "EFI".into(),
        files: vec![FatFile {
            path: efi_path.into(),
            source: FatSource::Bytes(vec![0x4d; 70_000]),
        }],
    };
    let (code, core) = grub_blobs(&layout);
    let out = dir.join(format!("{name}.img"));
    let parts = [
        (1, PartContent::Bytes(core)),
        (2, esp),
        (3, PartContent::File(root)),
    ];
    assemble(&out, &layout, &parts, Some(code), &[], EPOCH).unwrap();
    (out, layout)
}

fn grub_rules() -> InspectRules {
    InspectRules::for_loader("grub-x86", &[]).unwrap()
}

fn failed(r: &Report) -> BTreeSet<String> {
    r.failures().map(|c| c.name.clone()).collect()
}

fn check<'a>(r: &'a Report, name: &str) -> &'a Check {
    r.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {:#?}", r.checks))
}

#[test]
fn good_pc_image_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let (img, layout) = pc_image(dir.path(), "good", &Breakage::default());
    let r = inspect(&img, &grub_rules()).unwrap();
    assert!(r.ok, "{:#?}", r.checks);

    let t = r.table.as_ref().unwrap();
    assert_eq!(t.kind, TableKind::Gpt);
    assert_eq!(t.id, layout.disk_guid.to_string());
    assert_eq!(r.partitions.len(), 3);
    for (p, l) in r.partitions.iter().zip(&layout.partitions) {
        assert_eq!(p.entry.part_uuid, l.part_uuid);
        assert_eq!(p.entry.start, l.start);
    }
    let roles: Vec<Role> = r.partitions.iter().map(|p| p.entry.role).collect();
    assert_eq!(roles, [Role::BiosBoot, Role::Esp, Role::LinuxRoot]);
    assert_eq!(r.partitions[0].filesystem, None);
    let esp = r.partitions[1].filesystem.as_ref().unwrap();
    assert_eq!(esp.kind, "vfat");
    assert_eq!(esp.label.as_deref(), Some("EFI"));
    let root = r.partitions[2].filesystem.as_ref().unwrap();
    assert_eq!(root.kind, "ext4");
    assert_eq!(root.uuid, root_fs_uuid());
    assert_eq!(root.label.as_deref(), Some("clic-root"));

    let names: Vec<&str> = r.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "table",
            "layout",
            "root-fs",
            "file esp:/EFI/BOOT/BOOTX64.EFI",
            "file root:/boot/grub/grub.cfg",
            "file root:/vmlinuz",
            "file root:/initrd.img",
            "cmdline",
            "grub-search",
            "blob GRUB boot.img in the MBR",
            "grub-bios",
        ]
    );
    assert_eq!(
        check(&r, "file esp:/EFI/BOOT/BOOTX64.EFI").detail,
        "70000 bytes"
    );
    assert_eq!(
        check(&r, "file root:/vmlinuz").detail,
        "6 bytes, via /vmlinuz -> boot/vmlinuz-6.1.0-x"
    );
    let cmdline = &check(&r, "cmdline").detail;
    assert!(
        cmdline.starts_with("grub.cfg:4: root=PARTUUID="),
        "{cmdline}"
    );
    assert!(cmdline.contains("partition 3 ('clic-root')"), "{cmdline}");
    assert!(
        check(&r, "grub-bios")
            .detail
            .contains("from LBA 2048 (partition 1 ('bios-boot'))"),
        "{:?}",
        check(&r, "grub-bios")
    );
}

#[test]
fn broken_pc_image_fails_what_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let layout = pc_layout();
    let esp_pu = layout.by_role(PartRole::Esp).unwrap().part_uuid.clone();
    let broken = Breakage {
        root_partuuids: vec![esp_pu, "0badc0de-0000-4000-8000-000000000000".into()],
        search_esp: true,
        no_efi_binary: true,
        dangling_initrd: true,
    };
    let (img, _) = pc_image(dir.path(), "broken", &broken);
    let r = inspect(&img, &grub_rules()).unwrap();
    assert!(!r.ok);
    let expected: BTreeSet<String> = [
        "file esp:/EFI/BOOT/BOOTX64.EFI",
        "file root:/initrd.img",
        "cmdline",
        "grub-search",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(failed(&r), expected, "{:#?}", r.checks);

    assert_eq!(
        check(&r, "file esp:/EFI/BOOT/BOOTX64.EFI").detail,
        "missing"
    );
    let initrd = &check(&r, "file root:/initrd.img").detail;
    assert!(
        initrd.contains("/boot/initrd.img-6.1.0-x does not exist"),
        "{initrd}"
    );
    let cmdlines: Vec<&str> = r
        .checks
        .iter()
        .filter(|c| c.name == "cmdline")
        .map(|c| c.detail.as_str())
        .collect();
    assert_eq!(cmdlines.len(), 2);
    assert!(
        cmdlines[0].contains("is partition 2 ('esp') (vfat")
            && cmdlines[0].ends_with("but the root filesystem is on partition 3 ('clic-root')"),
        "{}",
        cmdlines[0]
    );
    assert!(
        cmdlines[1].ends_with(
            "root=PARTUUID=0badc0de-0000-4000-8000-000000000000 names no partition of this image"
        ),
        "{}",
        cmdlines[1]
    );
    let search = &check(&r, "grub-search").detail;
    assert!(search.contains("(partition 2 ('esp') has it)"), "{search}");
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(b))
}

#[test]
fn blobs_and_grub_bios_pointers() {
    let dir = tempfile::tempdir().unwrap();
    let (img, layout) = pc_image(dir.path(), "blobs", &Breakage::default());
    let bytes = std::fs::read(&img).unwrap();
    let bios = layout.by_role(PartRole::BiosBoot).unwrap();
    let core_at = bios.start as usize;
    let blob = |name: &str, location, offset, len, sha256| BlobRule {
        name: name.into(),
        location,
        offset,
        len,
        sha256,
        same_as: None,
    };
    let rules = InspectRules {
        blobs: vec![
            blob(
                "mbr",
                Location::Disk,
                0,
                440,
                Some(sha256_hex(&bytes[..440])),
            ),
            blob(
                "core",
                Location::BiosBoot,
                0,
                30_000,
                Some(sha256_hex(&bytes[core_at..core_at + 30_000]).to_uppercase()),
            ),
            blob("wrong", Location::Disk, 0, 440, Some("00".repeat(32))),
            blob("blank", Location::Disk, 20_000, 100, None),
            blob("beyond", Location::BiosBoot, MIB - 10, 11, None),
            blob("nowhere", Location::Boot, 0, 1, None),
        ],
        ..InspectRules::default()
    };
    let r = inspect(&img, &rules).unwrap();
    let expected: BTreeSet<String> = ["blob wrong", "blob blank", "blob beyond"]
        .into_iter()
        .map(String::from)
        .collect();
    // `Boot` falls back to the ESP, so "nowhere" finds a non-zero byte.
    assert_eq!(failed(&r), expected, "{:#?}", r.checks);
    let wrong = &check(&r, "blob wrong").detail;
    assert!(
        wrong.contains(&format!("sha256 {}", sha256_hex(&bytes[..440]))),
        "{wrong}"
    );
    assert!(check(&r, "blob blank").detail.ends_with("all zeros"));
    assert!(check(&r, "blob beyond").detail.contains("beyond"));

    // The MBR boot code pointing elsewhere than the BIOS boot partition.
    let mut moved = bytes.clone();
    moved[0x5c..0x64].copy_from_slice(&4096u64.to_le_bytes());
    let moved_img = dir.path().join("moved.img");
    std::fs::write(&moved_img, &moved).unwrap();
    let r = inspect(&moved_img, &grub_rules()).unwrap();
    assert_eq!(
        failed(&r),
        BTreeSet::from(["grub-bios".to_owned()]),
        "{:#?}",
        r.checks
    );
    assert!(check(&r, "grub-bios").detail.contains("from LBA 4096"));
    // core.img's block list not following its first sector.
    let mut stale = bytes;
    stale[core_at + BLOCKLIST] ^= 1;
    std::fs::write(&moved_img, &stale).unwrap();
    let r = inspect(&moved_img, &grub_rules()).unwrap();
    assert!(
        check(&r, "grub-bios").detail.contains("block list"),
        "{r:#?}"
    );
}

fn pi_image(dir: &Path, name: &str, root_number: u32, kernel: &str) -> (PathBuf, Layout) {
    pi_image_with_root(dir, name, root_number, kernel, &[], &[])
}

/// A Pi image whose root also holds `files` and `links` (path, target).
fn pi_image_with_root(
    dir: &Path,
    name: &str,
    root_number: u32,
    kernel: &str,
    root_files: &[(&str, &str)],
    root_links: &[(&str, &str)],
) -> (PathBuf, Layout) {
    let layout = pi_layout();
    let pu = layout.by_number(root_number).unwrap().part_uuid.clone();
    let fat = |path: &str, text: String| FatFile {
        path: path.into(),
        source: FatSource::Bytes(text.into_bytes()),
    };
    let mut files = vec![
        fat(
            "config.txt",
            format!("[pi4]\nkernel={kernel}\ninitramfs initrd.img followkernel\n[all]\ndevice_tree=bcm2711-rpi-4-b.dtb\n"),
        ),
        fat(
            "cmdline.txt",
            format!("console=ttyAMA0 root=PARTUUID={pu} rw\n"),
        ),
        fat("vmlinuz", "k".into()),
        fat("initrd.img", "i".into()),
        fat("bcm2711-rpi-4-b.dtb", "d".into()),
    ];
    for f in [
        "bootcode.bin",
        "start.elf",
        "fixup.dat",
        "start4.elf",
        "fixup4.dat",
    ] {
        files.push(fat(f, "firmware".into()));
    }
    let boot = PartContent::Fat {
        volume_id: 0xB007_0001,
        label: "RASPIFIRM".into(),
        files,
    };
    let mut files = vec![("etc/os-release", "ID=debian\n")];
    files.extend_from_slice(root_files);
    let root = ext4(dir, name, &files, root_links);
    let out = dir.join(format!("{name}.img"));
    let parts = [(1, boot), (2, PartContent::File(root))];
    assemble(&out, &layout, &parts, None, &[], EPOCH).unwrap();
    (out, layout)
}

#[test]
fn pi_like_mbr_image() {
    let dir = tempfile::tempdir().unwrap();
    let rules = InspectRules::for_loader("rpi", &[]).unwrap();
    let (img, layout) = pi_image(dir.path(), "pi", 2, "vmlinuz");
    let r = inspect(&img, &rules).unwrap();
    assert!(r.ok, "{:#?}", r.checks);
    let t = r.table.as_ref().unwrap();
    assert_eq!(t.kind, TableKind::Mbr);
    assert_eq!(t.id, format!("{:08x}", layout.mbr_signature));
    assert_eq!(r.partitions[0].entry.role, Role::Boot);
    assert_eq!(
        r.partitions[0].filesystem.as_ref().unwrap().uuid,
        "B007-0001"
    );
    assert_eq!(
        check(&r, "file boot:/vmlinuz").detail,
        "1 bytes (config.txt:2 kernel)"
    );
    assert!(check(&r, "cmdline")
        .detail
        .starts_with("cmdline.txt:1: root=PARTUUID="));

    // root= names the FAT partition; config.txt names a missing kernel.
    let (img, _) = pi_image(dir.path(), "pi-bad", 1, "kernel8.img");
    let r = inspect(&img, &rules).unwrap();
    let expected: BTreeSet<String> = ["file boot:/kernel8.img", "cmdline"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(failed(&r), expected, "{:#?}", r.checks);
}

/// A board profile's Wi-Fi firmware (the PC's) is required in the root
/// filesystem, found through merged-usr's `/lib` link and a package's own
/// link; a missing file fails its check by name.
#[test]
fn wifi_firmware_of_the_profile_is_required_in_the_root() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let p = crate::spec::profile::load(&repo.join("profiles/ordinosaure-amd64.toml")).unwrap();
    let wifi = &p.profile.wifi_firmware;
    assert!(wifi.iter().any(|f| f == "htc_9271.fw"), "{wifi:?}");
    let rules = InspectRules::for_profile(&p.profile, &Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // As Debian lays it out: /lib -> usr/lib; one file a link to another.
    let real: Vec<String> = wifi
        .iter()
        .filter(|f| *f != "htc_9271.fw")
        .map(|f| format!("usr/lib/firmware/{f}"))
        .collect();
    let mut files: Vec<(&str, &str)> = real.iter().map(|f| (f.as_str(), "fw")).collect();
    files.push(("usr/lib/firmware/ath9k_htc/htc_9271-1.4.0.fw", "fw"));
    let links = [
        ("lib", "usr/lib"),
        (
            "usr/lib/firmware/htc_9271.fw",
            "ath9k_htc/htc_9271-1.4.0.fw",
        ),
    ];
    let (img, _) = pi_image_with_root(dir.path(), "wifi", 2, "vmlinuz", &files, &links);
    let r = inspect(&img, &rules).unwrap();
    for f in wifi {
        let c = check(&r, &format!("file root:/lib/firmware/{f}"));
        assert!(c.ok, "{f}: {}", c.detail);
    }
    assert!(
        check(&r, "file root:/lib/firmware/htc_9271.fw")
            .detail
            .contains("htc_9271-1.4.0.fw"),
        "the link followed is named"
    );
    // Without one Intel firmware file.
    let fewer: Vec<(&str, &str)> = files
        .iter()
        .copied()
        .filter(|(f, _)| !f.ends_with("iwlwifi-8265-36.ucode"))
        .collect();
    let (img, _) = pi_image_with_root(dir.path(), "nowifi", 2, "vmlinuz", &fewer, &links);
    let r = inspect(&img, &rules).unwrap();
    let c = check(&r, "file root:/lib/firmware/iwlwifi-8265-36.ucode");
    assert!(!c.ok && c.detail.contains("missing"), "{}", c.detail);
}

#[test]
fn unreadable_table_is_a_failed_check_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("blank.img");
    std::fs::write(&img, vec![0u8; 4096]).unwrap();
    let r = inspect(&img, &grub_rules()).unwrap();
    assert!(!r.ok);
    assert_eq!(r.table, None);
    assert_eq!(r.checks.len(), 1);
    assert!(check(&r, "table").detail.contains("0x55AA"));
    let e = inspect(&dir.path().join("none.img"), &grub_rules()).unwrap_err();
    assert!(e.to_string().contains("none.img"), "{e}");
}

#[test]
fn manifest_is_compared_with_the_image() {
    let text = include_str!("../../../tests/fixtures/manifest-v1.json");
    let m = crate::artifact::manifest::parse(text).unwrap();
    let partitions = m
        .partitions
        .iter()
        .map(|p| Partition {
            entry: TablePartition {
                number: p.number,
                type_id: String::new(),
                role: Role::Other,
                start: p.start,
                size: p.size,
                part_uuid: p.part_uuid.to_uppercase(),
                name: Some(p.label.clone()),
                bootable: false,
            },
            filesystem: p.filesystem.as_ref().map(|kind| Filesystem {
                kind: kind.clone(),
                version: None,
                uuid: p.fs_uuid.clone().unwrap_or_default(),
                label: None,
            }),
        })
        .collect();
    let mut r = Report {
        image: "clic-ordinosaure.img".into(),
        board: None,
        table: Some(TableInfo {
            kind: TableKind::Gpt,
            id: String::new(),
            sector_size: 512,
            disk_size: m.image.size,
        }),
        partitions,
        checks: Vec::new(),
        ok: true,
    };
    let path = Path::new("out/clic-ordinosaure.manifest.json");
    check_manifest(&mut r, &m, path);
    assert!(r.ok, "{:?}", r.checks);
    assert_eq!(
        r.checks[0].detail,
        "partitions match clic-ordinosaure.manifest.json (board ordinosaure-amd64)"
    );

    r.partitions[2].filesystem.as_mut().unwrap().uuid = "0000".into();
    r.partitions.remove(0);
    r.checks.clear();
    check_manifest(&mut r, &m, path);
    assert!(!r.ok);
    let d = &r.checks[0].detail;
    assert!(d.contains("partition 1 ('bios-boot') is missing"), "{d}");
    assert!(
        d.contains("partition 3 ('clic-root'): UUID 0000 instead of 6a0515e3"),
        "{d}"
    );
}

#[test]
fn cli_exit_code_follows_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let (img, _) = pc_image(dir.path(), "cli", &Breakage::default());
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "required_files = [{ location = \"esp\", path = \"EFI/BOOT/BOOTX64.EFI\" }]\n",
    )
    .unwrap();
    let args = |rules: &Path| crate::cli::inspect::InspectArgs {
        image: img.clone(),
        json: true,
        board: None,
        rules: Some(rules.to_owned()),
    };
    crate::cli::inspect::run(args(&rules), None).unwrap();
    std::fs::write(
        &rules,
        "required_files = [{ location = \"esp\", path = \"EFI/BOOT/BOOTIA32.EFI\" }]\n",
    )
    .unwrap();
    let e = crate::cli::inspect::run(args(&rules), None).unwrap_err();
    let exit = e.downcast_ref::<crate::cli::Exit>().unwrap();
    assert_eq!(exit.code, 1);
    assert!(
        exit.message.ends_with("1 of 4 checks failed"),
        "{}",
        exit.message
    );
}

/// GRUB on an MBR disk (old i386 PCs): core.img in the gap after the MBR.
fn mbr_grub_image(dir: &Path, name: &str, bootable: bool) -> PathBuf {
    let requests = [req(PartRole::Root, "clic-root", 16 * MIB, bootable)];
    let layout =
        compute_layout(Tk::Mbr, "i386", &requests, &LayoutOptions::default(), SEED).unwrap();
    let root = &layout.partitions[0];
    let cfg = grub_cfg(&root_fs_uuid(), &[root.part_uuid.as_str()]);
    let root_img = grub_root(dir, name, &cfg, false);
    let (_, mut core) = grub_blobs(&pc_layout());
    patch_core_img(&mut core, 1, root.start / 512 - 1).unwrap();
    let mut boot: Vec<u8> = vec![0x90; 512];
    boot[0x64] = 0xff;
    boot[510] = 0x55;
    boot[511] = 0xAA;
    let code = mbr_boot_code(&boot, 1).unwrap();
    let blob = RawBlob {
        name: "GRUB core.img".into(),
        offset: 512,
        data: core,
        allow_mbr_bootcode: false,
    };
    let out = dir.join(format!("{name}.img"));
    let parts = [(1, PartContent::File(root_img))];
    assemble(&out, &layout, &parts, Some(code), &[blob], EPOCH).unwrap();
    out
}

#[test]
fn grub_on_an_mbr_disk() {
    let dir = tempfile::tempdir().unwrap();
    let rules = InspectRules::for_loader("grub-x86", &["i386-pc".into()]).unwrap();
    let img = mbr_grub_image(dir.path(), "i386", true);
    let r = inspect(&img, &rules).unwrap();
    assert!(r.ok, "{:#?}", r.checks);
    assert_eq!(r.partitions[0].entry.role, Role::Linux);
    let grub = &check(&r, "grub-bios").detail;
    assert!(
        grub.contains("from LBA 1 (the gap after the MBR)"),
        "{grub}"
    );

    let img = mbr_grub_image(dir.path(), "inactive", false);
    let r = inspect(&img, &rules).unwrap();
    assert_eq!(failed(&r), BTreeSet::from(["grub-bios".to_owned()]));
    assert!(check(&r, "grub-bios").detail.contains("active"));
}
