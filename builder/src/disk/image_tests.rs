use super::*;
use crate::cmd::Cmd;
use crate::disk::ext4::{estimate_ext4_size, mkfs_ext4, tar_tree};
use crate::disk::fat::FatSource;
use crate::disk::test_support::*;
use crate::plan::layout::{compute_layout, seeded_u32, seeded_uuid, LayoutOptions, PartRole};
use std::os::unix::fs::MetadataExt;

const EPOCH: i64 = 1_700_000_000;

/// A fake core.img: data, a run of zeros (a hole to be), more data.
fn core_bytes() -> Vec<u8> {
    let mut v = vec![0xC0u8; 20_000];
    v.extend_from_slice(&[0u8; 3 * 4096]);
    v.extend_from_slice(&[0xC1u8; 5_000]);
    v
}

fn esp_content() -> PartContent {
    PartContent::Fat {
        volume_id: seeded_u32(b"test", "esp"),
        label: "EFI".into(),
        files: vec![FatFile {
            path: "EFI/BOOT/BOOTX64.EFI".into(),
            source: FatSource::Bytes(vec![0x4d; 70_000]),
        }],
    }
}

/// ESP (FAT32) + root (ext4 from a small tree) + bios-boot bytes.
fn pc_image(dir: &Path, root_img: &Path, name: &str) -> (PathBuf, Layout) {
    let root_size = std::fs::metadata(root_img).unwrap().len();
    let layout = pc_layout(64 * MIB, root_size);
    let out = dir.join(name);
    let parts = vec![
        (1, PartContent::Bytes(core_bytes())),
        (2, esp_content()),
        (3, PartContent::File(root_img.to_owned())),
    ];
    assemble(&out, &layout, &parts, Some([0x33; 440]), &[], EPOCH).unwrap();
    (out, layout)
}

fn root_image(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("etc")).unwrap();
    std::fs::write(tree.join("etc/os-release"), "ID=debian\n").unwrap();
    let tar = dir.join("root.tar");
    tar_tree(&tree, &tar, EPOCH).unwrap();
    let size = estimate_ext4_size(&tree, 0).unwrap();
    let img = dir.join("root.ext4");
    let (u, h) = (
        seeded_uuid(b"test", "root-fs"),
        seeded_uuid(b"test", "root-hash"),
    );
    mkfs_ext4(&tar, &img, size, u, h, "root", EPOCH).unwrap();
    img
}

#[test]
fn gpt_image_is_complete_checkable_sparse_and_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_image(dir.path());
    let (img, layout) = pc_image(dir.path(), &root, "a.img");

    let md = std::fs::metadata(&img).unwrap();
    assert_eq!(md.len(), layout.disk_size);
    assert!(
        md.blocks() * 512 < md.len() / 2,
        "image is not sparse: {md:?}"
    );
    assert_eq!(md.mode() & 0o777, 0o644);

    let t = sfdisk_json(&img);
    let parts = t["partitions"].as_array().unwrap();
    for (j, p) in parts.iter().zip(&layout.partitions) {
        assert_eq!(j["start"], p.start / 512);
        assert_eq!(j["size"], p.size / 512);
    }
    Cmd::new("sfdisk").arg("--verify").arg(&img).run().unwrap();

    let bytes = read_all(&img);
    assert_eq!(&bytes[..440], &[0x33; 440][..]);
    let bios = layout.by_role(PartRole::BiosBoot).unwrap();
    let core = core_bytes();
    let at = usize::try_from(bios.start).unwrap();
    assert_eq!(&bytes[at..at + core.len()], &core[..]);

    let esp = layout.by_role(PartRole::Esp).unwrap();
    let esp_img = dir.path().join("esp.extract");
    extract(&img, esp.start, esp.size, &esp_img);
    Cmd::new("fsck.vfat").arg("-n").arg(&esp_img).run().unwrap();
    let listing = Cmd::new("mdir")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-i")
        .arg(format!("{}@@{}", img.display(), esp.start))
        .arg("::/EFI/BOOT")
        .output_string()
        .unwrap();
    assert!(listing.contains("BOOTX64"), "{listing}");

    let root_part = layout.by_role(PartRole::Root).unwrap();
    let root_img = dir.path().join("root.extract");
    extract(&img, root_part.start, root_part.size, &root_img);
    Cmd::new("e2fsck").arg("-fn").arg(&root_img).run().unwrap();

    let (again, _) = pc_image(dir.path(), &root, "b.img");
    assert!(bytes == read_all(&again), "two assemblies differ");
}

fn odroid_layout() -> Layout {
    let opts = LayoutOptions {
        reserved_before: Some(4 * MIB),
        ..LayoutOptions::default()
    };
    let requests = [
        req(PartRole::Boot, "boot", 4 * MIB, true),
        req(PartRole::Root, "root", 4 * MIB, false),
    ];
    compute_layout(TableKind::Mbr, "armhf", &requests, &opts, b"t").unwrap()
}

fn blob(name: &str, sector: u64, len: usize, allow: bool) -> RawBlob {
    RawBlob {
        name: name.into(),
        offset: sector * 512,
        data: vec![0xB0; len],
        allow_mbr_bootcode: allow,
    }
}

#[test]
fn raw_blobs_land_at_their_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let layout = odroid_layout();
    let out = dir.path().join("odroid.img");
    let mut bl1 = blob("bl1", 1, 15 * 512, false);
    bl1.data[0] = 0x11;
    let mut uboot = blob("u-boot", 63, 300_000, false);
    uboot.data[0] = 0x63;
    let mut code = blob("u-boot head", 0, 440, true);
    code.data[0] = 0xEB;
    assemble(&out, &layout, &[], None, &[bl1, uboot, code], EPOCH).unwrap();
    let bytes = read_all(&out);
    assert_eq!(bytes[0], 0xEB);
    assert_eq!(bytes[439], 0xB0);
    assert_eq!(&bytes[440..444], &layout.mbr_signature.to_le_bytes());
    assert_eq!(bytes[512], 0x11);
    assert_eq!(bytes[63 * 512], 0x63);
    assert_eq!(bytes[63 * 512 + 299_999], 0xB0);
    let t = sfdisk_json(&out);
    assert_eq!(t["partitions"][0]["start"], 4 * MIB / 512);
}

#[test]
fn misplaced_blobs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.img");
    let layout = odroid_layout();
    let fails = |blobs: &[RawBlob], code: Option<[u8; 440]>| {
        let e = assemble_image(&out, &layout, &[], code, blobs, EPOCH).unwrap_err();
        assert!(!out.exists());
        e.to_string()
    };
    let msg = fails(&[blob("u-boot", 8000, 2 * MIB as usize, false)], None);
    assert!(
        msg.contains("'u-boot'") && msg.contains("partition 1 ('boot')"),
        "{msg}"
    );
    let msg = fails(&[blob("head", 0, 100, false)], None);
    assert!(msg.contains("MBR partition table"), "{msg}");
    let msg = fails(&[blob("head", 0, 442, true)], None);
    assert!(msg.contains("MBR partition table"), "{msg}");
    let msg = fails(&[blob("head", 0, 100, true)], Some([0; 440]));
    assert!(msg.contains("'head'") && msg.contains("boot code"), "{msg}");
    let msg = fails(&[blob("a", 1, 1024, false), blob("b", 2, 10, false)], None);
    assert!(msg.contains("'b'") && msg.contains("raw blob 'a'"), "{msg}");
    let msg = fails(&[blob("tail", layout.disk_size / 512, 1, false)], None);
    assert!(msg.contains("beyond"), "{msg}");
    let gpt = pc_layout(8 * MIB, 8 * MIB);
    let e = assemble(&out, &gpt, &[], None, &[blob("spl", 1, 512, false)], EPOCH).unwrap_err();
    assert!(e.to_string().contains("GPT partition table"), "{e}");
    // Nothing but the directory's own files is left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn content_problems_name_the_partition() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.img");
    let layout = pi_layout();
    let big = PartContent::Bytes(vec![1; 9 * MIB as usize]);
    let e = assemble_image(&out, &layout, &[(1, big)], None, &[], EPOCH).unwrap_err();
    assert!(
        matches!(e, ImageError::ContentTooLarge { number: 1, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("'boot'"), "{e}");
    let e = assemble_image(
        &out,
        &layout,
        &[(7, PartContent::Bytes(vec![]))],
        None,
        &[],
        EPOCH,
    )
    .unwrap_err();
    assert!(
        matches!(e, ImageError::UnknownPartition { number: 7 }),
        "{e}"
    );
    let two = [
        (2, PartContent::Bytes(vec![])),
        (2, PartContent::Bytes(vec![])),
    ];
    let e = assemble_image(&out, &layout, &two, None, &[], EPOCH).unwrap_err();
    assert!(
        matches!(e, ImageError::DuplicateContent { number: 2, .. }),
        "{e}"
    );
    let missing = PartContent::File(dir.path().join("nope.ext4"));
    let e = assemble_image(&out, &layout, &[(2, missing)], None, &[], EPOCH).unwrap_err();
    assert!(
        e.to_string().contains("nope.ext4") && e.to_string().contains("'root'"),
        "{e}"
    );
    let fat = PartContent::Fat {
        volume_id: 1,
        label: "BOOT".into(),
        files: vec![FatFile {
            path: "kernel8.img".into(),
            source: FatSource::Bytes(vec![1; 9 * MIB as usize]),
        }],
    };
    let e = assemble_image(&out, &layout, &[(1, fat)], None, &[], EPOCH).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("partition 1 ('boot')") && msg.contains("kernel8.img"),
        "{msg}"
    );
    assert!(!out.exists());
}

#[test]
fn sparse_copy_skips_zero_blocks() {
    let mut src: Vec<u8> = vec![0; 3 * 4096];
    src[4096] = 1;
    src.extend_from_slice(&[2, 3]);
    // A destination that records which bytes were written.
    let mut dst = std::io::Cursor::new(vec![0xEEu8; 4 * 4096]);
    assert!(sparse_copy(&mut src.as_slice(), &mut dst, 10).is_ok());
    let d = dst.into_inner();
    assert!(
        d[10..10 + 4096].iter().all(|&b| b == 0xEE),
        "zero block written"
    );
    assert_eq!(d[10 + 4096], 1);
    assert!(d[10 + 8192..10 + 3 * 4096].iter().all(|&b| b == 0xEE));
    assert_eq!(&d[10 + 3 * 4096..10 + 3 * 4096 + 2], &[2, 3]);
}
