//! End-to-end: a GPT image assembled by clic, with GRUB installed by
//! `grub::mbr_boot_code` and `grub::patch_core_img`, boots in QEMU's BIOS
//! and reads a file from the FAT partition. Needs GRUB's i386-pc files
//! (grub-pc-bin; directory in CLIC_GRUB_DIR, default /usr/lib/grub/i386-pc),
//! grub-mkimage (CLIC_GRUB_MKIMAGE, default from PATH) and
//! qemu-system-x86_64: `cargo test -p clic disk:: -- --ignored`.

use std::path::PathBuf;

use crate::cmd::Cmd;
use crate::disk::fat::{FatFile, FatSource};
use crate::disk::grub::{mbr_boot_code, patch_core_img};
use crate::disk::image::{assemble, PartContent};
use crate::disk::test_support::pc_layout;
use crate::plan::layout::PartRole;

const MIB: u64 = 1024 * 1024;

#[test]
#[ignore = "needs grub-pc-bin, grub-mkimage and qemu-system-x86_64"]
fn grub_installed_by_clic_boots_under_bios() {
    let grub_dir = PathBuf::from(
        std::env::var("CLIC_GRUB_DIR").unwrap_or_else(|_| "/usr/lib/grub/i386-pc".into()),
    );
    let mkimage = std::env::var("CLIC_GRUB_MKIMAGE").unwrap_or_else(|_| "grub-mkimage".into());
    let dir = tempfile::tempdir().unwrap();
    let early = dir.path().join("early.cfg");
    std::fs::write(
        &early,
        "serial --unit=0 --speed=115200\nterminal_output serial\n\
         echo CLIC-GRUB-START\ncat (hd0,gpt2)/hello.txt\nhalt\n",
    )
    .unwrap();
    let core_path = dir.path().join("core.img");
    Cmd::new(mkimage)
        .arg("-d")
        .arg(&grub_dir)
        .args(["-O", "i386-pc", "-o"])
        .arg(&core_path)
        .arg("-c")
        .arg(&early)
        .args(["-p", "(hd0,gpt2)/boot/grub"])
        .args([
            "biosdisk", "part_gpt", "fat", "serial", "terminal", "echo", "cat", "halt",
        ])
        .run()
        .unwrap();

    let layout = pc_layout(64 * MIB, 8 * MIB);
    let bios = layout.by_role(PartRole::BiosBoot).unwrap();
    let lba = bios.start / 512;
    let mut core = std::fs::read(&core_path).unwrap();
    patch_core_img(&mut core, lba, bios.size / 512).unwrap();
    let boot_img = std::fs::read(grub_dir.join("boot.img")).unwrap();
    let code = mbr_boot_code(&boot_img, lba).unwrap();
    let esp = PartContent::Fat {
        volume_id: 1,
        label: "EFI".into(),
        files: vec![FatFile {
            path: "hello.txt".into(),
            source: FatSource::Bytes(b"CLIC-FAT-READ-OK\n".to_vec()),
        }],
    };
    let img = dir.path().join("disk.img");
    let parts = [(bios.number, PartContent::Bytes(core)), (2, esp)];
    assemble(&img, &layout, &parts, Some(code), &[], 1_700_000_000).unwrap();

    let out = Cmd::new("timeout")
        .args(["120", "qemu-system-x86_64", "-machine", "pc", "-m", "256"])
        .args([
            "-display",
            "none",
            "-serial",
            "stdio",
            "-no-reboot",
            "-drive",
        ])
        .arg(format!("file={},format=raw,if=ide", img.display()))
        .output_string()
        .unwrap();
    assert!(out.contains("CLIC-GRUB-START"), "{out}");
    assert!(out.contains("CLIC-FAT-READ-OK"), "{out}");
}
