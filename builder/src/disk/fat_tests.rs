use super::*;
use crate::cmd::Cmd;
use crate::disk::test_support::*;
use std::path::Path;

const EPOCH: i64 = 1_700_000_000; // 2023-11-14T22:13:20Z

fn esp_files(dir: &Path) -> Vec<FatFile> {
    let big = dir.join("grubx64.efi");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&big, content).unwrap();
    vec![
        FatFile {
            path: "EFI/debian/grub.cfg".into(),
            source: FatSource::Bytes(b"search --fs-uuid x\n".to_vec()),
        },
        FatFile {
            path: "EFI/BOOT/BOOTX64.EFI".into(),
            source: FatSource::Path(big),
        },
        FatFile {
            path: "overlays/deep/er/still/x.dtbo".into(),
            source: FatSource::Bytes(vec![0xd0; 5000]),
        },
        FatFile {
            path: "a-rather-long-file-name.txt".into(),
            source: FatSource::Bytes(Vec::new()),
        },
    ]
}

fn build(dir: &Path, name: &str, size: u64, files: &[FatFile]) -> std::path::PathBuf {
    let (path, mut f) = sparse_file(dir, name, size);
    build_fat(&mut f, size, 0x1234_abcd, "ESP", files, EPOCH).unwrap();
    path
}

fn read_back(image: &Path, path: &str) -> Vec<u8> {
    let f = std::fs::File::open(image).unwrap();
    let fs = FileSystem::new(f, FsOptions::new()).unwrap();
    let mut out = Vec::new();
    fs.root_dir()
        .open_file(path)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn fat32_esp_passes_fsck_and_mtools_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let files = esp_files(dir.path());
    let img = build(dir.path(), "esp.img", 64 * MIB, &files);

    Cmd::new("fsck.vfat").arg("-n").arg(&img).run().unwrap();
    let listing = Cmd::new("mdir")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-i")
        .arg(&img)
        .arg("::/EFI/BOOT")
        .output_string()
        .unwrap();
    assert!(listing.contains("BOOTX64"), "{listing}");
    let info = Cmd::new("minfo")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-i")
        .arg(&img)
        .arg("::")
        .output_string()
        .unwrap();
    assert!(info.contains("FAT32"), "{info}");
    assert!(info.contains("serial number: 1234ABCD"), "{info}");

    for f in &files {
        let want = match &f.source {
            FatSource::Bytes(b) => b.clone(),
            FatSource::Path(p) => std::fs::read(p).unwrap(),
        };
        assert_eq!(read_back(&img, &f.path), want, "{}", f.path);
    }
    let fs = FileSystem::new(std::fs::File::open(&img).unwrap(), FsOptions::new()).unwrap();
    assert_eq!(fs.fat_type(), FatType::Fat32);
    assert_eq!(fs.volume_id(), 0x1234_abcd);
    assert_eq!(fs.volume_label(), "ESP");
    let entry = fs.root_dir().iter().find_map(|e| {
        let e = e.ok()?;
        (e.file_name() == "EFI").then_some(e)
    });
    let modified = entry.unwrap().modified();
    assert_eq!(
        (modified.date.year, modified.date.month, modified.date.day),
        (2023, 11, 14)
    );
    assert_eq!((modified.time.hour, modified.time.min), (22, 13));
}

#[test]
fn small_volume_lets_fatfs_choose() {
    let dir = tempfile::tempdir().unwrap();
    let img = build(dir.path(), "small.img", 8 * MIB, &esp_files(dir.path()));
    Cmd::new("fsck.vfat").arg("-n").arg(&img).run().unwrap();
    let fs = FileSystem::new(std::fs::File::open(&img).unwrap(), FsOptions::new()).unwrap();
    assert_ne!(fs.fat_type(), FatType::Fat32);
}

#[test]
fn two_builds_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let files = esp_files(dir.path());
    let a = build(dir.path(), "a.img", 64 * MIB, &files);
    // Same files listed in another order.
    let mut rev = files.clone();
    rev.reverse();
    let b = build(dir.path(), "b.img", 64 * MIB, &rev);
    assert!(read_all(&a) == read_all(&b), "FAT images differ");
}

#[test]
fn file_too_large_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![FatFile {
        path: "EFI/BOOT/HUGE.EFI".into(),
        source: FatSource::Bytes(vec![7u8; 3 * MIB as usize]),
    }];
    let (_, mut f) = sparse_file(dir.path(), "tiny.img", 2 * MIB);
    let e = build_fat(&mut f, 2 * MIB, 1, "BOOT", &files, EPOCH).unwrap_err();
    assert!(matches!(e, FatError::NoSpace { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("EFI/BOOT/HUGE.EFI") && msg.contains("BOOT"),
        "{msg}"
    );
}

#[test]
fn bad_inputs_are_refused() {
    let one = |path: &str| FatFile {
        path: path.into(),
        source: FatSource::Bytes(vec![1]),
    };
    let mut c = std::io::Cursor::new(vec![0u8; 4 * MIB as usize]);
    for bad in ["/abs", "a//b", "a/../b", "dir/", "a\\b", ""] {
        let e = build_fat(&mut c, 4 * MIB, 1, "X", &[one(bad)], EPOCH).unwrap_err();
        assert!(matches!(e, FatError::BadPath { .. }), "{bad}: {e}");
    }
    let e = build_fat(&mut c, 4 * MIB, 1, "X", &[one("a/B"), one("A/b")], EPOCH).unwrap_err();
    assert!(matches!(e, FatError::Duplicate { .. }), "{e}");
    for label in ["", "TWELVE-CHARS", "a.b"] {
        let e = build_fat(&mut c, 4 * MIB, 1, label, &[], EPOCH).unwrap_err();
        assert!(matches!(e, FatError::BadLabel { .. }), "{label}: {e}");
    }
    let missing = FatFile {
        path: "x".into(),
        source: FatSource::Path("/nonexistent/clic-test".into()),
    };
    let e = build_fat(&mut c, 4 * MIB, 1, "X", &[missing], EPOCH).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/clic-test"), "{e}");
}

#[test]
fn epoch_maps_to_utc_and_clamps() {
    let d = dos_datetime(0);
    assert_eq!((d.date.year, d.date.month, d.date.day), (1980, 1, 1));
    let d = dos_datetime(951_782_400); // 2000-02-29T00:00:00Z
    assert_eq!((d.date.year, d.date.month, d.date.day), (2000, 2, 29));
    let d = dos_datetime(i64::MAX);
    assert_eq!((d.date.year, d.date.month, d.date.day), (2107, 12, 31));
    assert_eq!((d.time.hour, d.time.min, d.time.sec), (23, 59, 58));
}
