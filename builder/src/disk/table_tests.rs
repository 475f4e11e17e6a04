use super::*;
use crate::cmd::Cmd;
use crate::disk::test_support::*;
use crate::plan::layout::Layout;
use std::io::Cursor;

fn write_to_file(
    dir: &std::path::Path,
    name: &str,
    layout: &Layout,
    code: Option<&[u8; 440]>,
) -> std::path::PathBuf {
    let (path, mut f) = sparse_file(dir, name, layout.disk_size);
    write_table(&mut f, layout, code).unwrap();
    path
}

#[test]
fn gpt_table_matches_the_layout_for_sfdisk() {
    let dir = tempfile::tempdir().unwrap();
    let layout = pc_layout(8 * MIB, 20 * MIB);
    let code = [0xABu8; 440];
    let path = write_to_file(dir.path(), "gpt.img", &layout, Some(&code));

    let t = sfdisk_json(&path);
    assert_eq!(t["label"], "gpt");
    assert_eq!(t["id"], layout.disk_guid.to_string().to_uppercase());
    assert_eq!(t["firstlba"], 34);
    assert_eq!(t["lastlba"], layout.disk_size / 512 - 34);
    let parts = t["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), layout.partitions.len());
    for (j, p) in parts.iter().zip(&layout.partitions) {
        assert_eq!(j["start"], p.start / 512, "{p:?}");
        assert_eq!(j["size"], p.size / 512, "{p:?}");
        assert_eq!(j["type"], p.type_guid.to_string().to_uppercase());
        assert_eq!(j["uuid"], p.part_uuid.to_uppercase());
        assert_eq!(j["name"], p.label.as_str());
        let bootable = j["attrs"]
            .as_str()
            .is_some_and(|a| a.contains("LegacyBIOSBootable"));
        assert_eq!(bootable, p.bootable, "{p:?}");
    }
    Cmd::new("sfdisk").arg("--verify").arg(&path).run().unwrap();

    let bytes = read_all(&path);
    assert_eq!(&bytes[..440], &code[..]);
    assert_eq!(bytes[446 + 4], 0xEE, "protective MBR entry");
    assert_eq!(&bytes[510..512], &[0x55, 0xAA]);
}

#[test]
fn mbr_table_matches_the_layout_for_sfdisk() {
    let dir = tempfile::tempdir().unwrap();
    let layout = pi_layout();
    let path = write_to_file(dir.path(), "mbr.img", &layout, None);

    let t = sfdisk_json(&path);
    assert_eq!(t["label"], "dos");
    assert_eq!(t["id"], format!("0x{:08x}", layout.mbr_signature));
    let parts = t["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    for (j, p) in parts.iter().zip(&layout.partitions) {
        assert_eq!(j["start"], p.start / 512, "{p:?}");
        assert_eq!(j["size"], p.size / 512, "{p:?}");
        assert_eq!(j["type"], format!("{:x}", p.mbr_type));
        assert_eq!(j["bootable"].as_bool().unwrap_or(false), p.bootable);
        // Linux derives PARTUUID from the disk id sfdisk shows.
        let id = t["id"].as_str().unwrap().trim_start_matches("0x");
        assert_eq!(p.part_uuid, format!("{id}-{:02x}", p.number));
    }
    Cmd::new("sfdisk").arg("--verify").arg(&path).run().unwrap();
    let bytes = read_all(&path);
    assert!(bytes[..440].iter().all(|&b| b == 0));
    assert_eq!(&bytes[440..444], &layout.mbr_signature.to_le_bytes());
}

#[test]
fn boot_code_lands_in_the_mbr_of_both_kinds() {
    let code: [u8; 440] = std::array::from_fn(|i| (i % 251) as u8);
    for layout in [pc_layout(8 * MIB, 8 * MIB), pi_layout()] {
        let size = usize::try_from(layout.disk_size).unwrap();
        let mut c = Cursor::new(vec![0u8; size]);
        write_table(&mut c, &layout, Some(&code)).unwrap();
        let v = c.into_inner();
        assert_eq!(&v[..440], &code[..], "{:?}", layout.table);
        assert_eq!(&v[510..512], &[0x55, 0xAA]);
    }
}

#[test]
fn writes_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    for layout in [pc_layout(8 * MIB, 8 * MIB), pi_layout()] {
        let a = write_to_file(dir.path(), "a.img", &layout, None);
        let a = read_all(&a);
        let b = write_to_file(dir.path(), "b.img", &layout, None);
        assert!(
            a == read_all(&b),
            "{:?} table differs between writes",
            layout.table
        );
    }
}

#[test]
fn wrong_disk_size_is_refused() {
    let layout = pi_layout();
    let mut c = Cursor::new(vec![0u8; 4096]);
    let e = write_table(&mut c, &layout, None).unwrap_err();
    assert!(
        matches!(e, TableError::WrongDiskSize { actual: 4096, .. }),
        "{e}"
    );
}

#[test]
fn partition_over_the_backup_gpt_is_refused() {
    let mut layout = pc_layout(8 * MIB, 8 * MIB);
    let last = layout.partitions.len() - 1;
    let size = usize::try_from(layout.disk_size).unwrap();
    // Up to the backup table is fine...
    layout.partitions[last].size = layout.disk_size - 33 * 512 - layout.partitions[last].start;
    write_table(&mut Cursor::new(vec![0u8; size]), &layout, None).unwrap();
    // ...one sector more is not.
    layout.partitions[last].size += 512;
    let e = write_table(&mut Cursor::new(vec![0u8; size]), &layout, None).unwrap_err();
    assert!(e.to_string().contains("'root'"), "{e}");
}

#[test]
fn chs_follows_fdisk_geometry() {
    assert_eq!(chs(0), mbrman::CHS::new(0, 0, 1));
    assert_eq!(chs(2048), mbrman::CHS::new(0, 32, 33));
    assert_eq!(chs(u32::MAX), mbrman::CHS::new(1023, 254, 63));
}
