use super::*;
use crate::disk::test_support::read_all;
use std::os::unix::fs::symlink;

const EPOCH: i64 = 1_700_000_000;
const SETCAP: &str = "/usr/sbin/setcap";

/// A small tree with a hard link, a symlink, a device node (when mknod
/// works) and a file carrying a capability (when setcap exists).
fn make_tree(root: &Path) -> bool {
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(root.join("usr/bin")).unwrap();
    fs::write(root.join("etc/hostname"), "clic\n").unwrap();
    fs::hard_link(root.join("etc/hostname"), root.join("etc/hostname.hard")).unwrap();
    symlink("../../etc/hostname", root.join("usr/bin/link")).unwrap();
    fs::write(root.join("usr/bin/tool"), vec![0x7fu8; 10_000]).unwrap();
    let _ = Cmd::new("mknod")
        .arg(root.join("etc/null"))
        .args(["c", "1", "3"])
        .run();
    let has_cap = Path::new(SETCAP).exists();
    if has_cap {
        Cmd::new(SETCAP)
            .arg("cap_net_raw+ep")
            .arg(root.join("usr/bin/tool"))
            .run()
            .unwrap();
    }
    has_cap
}

fn build(dir: &Path, tree: &Path, name: &str, size: u64) -> Result<PathBuf, DiskError> {
    let tar = dir.join(format!("{name}.tar"));
    tar_tree(tree, &tar, EPOCH)?;
    let out = dir.join(name);
    let uuid = crate::plan::layout::seeded_uuid(b"t", "root-fs");
    let seed = crate::plan::layout::seeded_uuid(b"t", "root-hash");
    mkfs_ext4(&tar, &out, size, uuid, seed, "root", EPOCH)?;
    Ok(out)
}

fn debugfs(img: &Path, request: &str) -> String {
    Cmd::new("debugfs")
        .arg("-R")
        .arg(request)
        .arg(img)
        .output_string()
        .unwrap()
}

#[test]
fn ext4_from_tree_is_clean_and_keeps_links_and_xattrs() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let has_cap = make_tree(&tree);
    let size = estimate_ext4_size(&tree, 0).unwrap();
    let img = build(dir.path(), &tree, "root.img", size).unwrap();
    assert_eq!(fs::metadata(&img).unwrap().len(), size);

    Cmd::new("e2fsck").arg("-fn").arg(&img).run().unwrap();
    let hard = debugfs(&img, "stat /etc/hostname.hard");
    assert!(hard.contains("Links: 2"), "{hard}");
    let link = debugfs(&img, "stat /usr/bin/link");
    assert!(link.contains("Type: symlink"), "{link}");
    let sb = debugfs(&img, "stats");
    assert!(sb.contains("Filesystem volume name:   root"), "{sb}");
    let uuid = crate::plan::layout::seeded_uuid(b"t", "root-fs");
    assert!(
        sb.contains(&format!("Filesystem UUID:          {uuid}")),
        "{sb}"
    );
    if has_cap {
        let tool = debugfs(&img, "stat /usr/bin/tool");
        assert!(tool.contains("security.capability"), "{tool}");
    }
}

#[test]
fn two_builds_from_copies_of_a_tree_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let a_tree = dir.path().join("a");
    let b_tree = dir.path().join("b");
    make_tree(&a_tree);
    // A second tree made later, in another order: times and readdir order
    // differ, content does not.
    fs::create_dir_all(b_tree.join("usr/bin")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    make_tree(&b_tree);
    let a = build(dir.path(), &a_tree, "a.img", 80 * MIB).unwrap();
    let b = build(dir.path(), &b_tree, "b.img", 80 * MIB).unwrap();
    assert!(read_all(&a) == read_all(&b), "ext4 images differ");
}

#[test]
fn too_small_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    fs::create_dir_all(&tree).unwrap();
    fs::write(tree.join("big"), vec![1u8; 3 * MIB as usize]).unwrap();
    let e = build(dir.path(), &tree, "small.img", 2 * MIB).unwrap_err();
    assert!(
        matches!(e, DiskError::Ext4(Ext4Error::TooSmall { .. })),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("too small") && msg.contains("2 MiB") && msg.contains("4 MiB"),
        "{msg}"
    );
    assert!(
        !dir.path().join("small.img").exists(),
        "failed image left behind"
    );
}

#[test]
fn bad_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.img");
    let tar = dir.path().join("x.tar");
    let u = Uuid::nil();
    let e = mkfs_ext4(
        &tar,
        &out,
        64 * MIB,
        u,
        u,
        "a-label-that-is-too-long",
        EPOCH,
    )
    .unwrap_err();
    assert!(
        matches!(e, DiskError::Ext4(Ext4Error::BadLabel { .. })),
        "{e}"
    );
    let e = mkfs_ext4(&tar, &out, 4096, u, u, "root", EPOCH).unwrap_err();
    assert!(
        matches!(e, DiskError::Ext4(Ext4Error::BadSize { .. })),
        "{e}"
    );
    let e = tar_tree(&dir.path().join("missing"), &tar, EPOCH).unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
}

#[test]
fn estimate_counts_hard_links_once_and_adds_free_space() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    for t in [&one, &two] {
        fs::create_dir_all(t).unwrap();
        fs::write(t.join("f"), vec![1u8; 10 * MIB as usize]).unwrap();
    }
    fs::hard_link(two.join("f"), two.join("g")).unwrap();
    symlink("/nonexistent/target", two.join("dangling")).unwrap();
    let a = estimate_ext4_size(&one, 0).unwrap();
    let b = estimate_ext4_size(&two, 0).unwrap();
    // Same data; only two small directory entries and a fast symlink more.
    assert_eq!(a, b);
    assert_eq!(a % MIB, 0);
    // (10 MiB + journal) * 1.1 rounded up.
    assert!((81 * MIB..=82 * MIB).contains(&a), "{a}");
    let c = estimate_ext4_size(&one, 100 * MIB).unwrap();
    assert_eq!(c, a + 100 * MIB);
    assert!(estimate_ext4_size(&dir.path().join("missing"), 0)
        .unwrap_err()
        .to_string()
        .contains("missing"));
}

#[test]
fn features_come_from_clics_own_config_not_the_hosts() {
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("tree");
    make_tree(&tree);
    let img = build(t.path(), &tree, "feat.ext4", 64 * MIB).unwrap();
    let out = Cmd::new("dumpe2fs")
        .arg("-h")
        .arg(&img)
        .output_string()
        .unwrap();
    let features = out
        .lines()
        .find(|l| l.starts_with("Filesystem features:"))
        .unwrap_or_default()
        .to_owned();
    assert!(features.contains("metadata_csum_seed"), "{features}");
    assert!(!features.contains("orphan_file"), "{features}");
    assert!(
        !img.with_extension("mke2fs.conf").exists(),
        "config left behind"
    );
}

#[test]
fn ext4_into_an_image_at_an_offset_leaves_the_rest_alone() {
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("tree");
    fs::create_dir_all(tree.join("pack")).unwrap();
    fs::write(tree.join("pack/a.bin"), vec![0x5au8; 3 * MIB as usize]).unwrap();
    let img = t.path().join("disk.img");
    let mut bytes = vec![0xa5u8; 4 * MIB as usize];
    bytes.resize(64 * MIB as usize, 0);
    fs::write(&img, &bytes).unwrap();
    let (offset, size) = (8 * MIB, 32 * MIB);
    let uuid = crate::plan::layout::seeded_uuid(b"t", "data-fs");
    mkfs_ext4_into(
        &tree,
        &img,
        offset,
        size,
        uuid,
        uuid,
        "clic-data",
        EPOCH,
        t.path(),
    )
    .unwrap();
    let after = fs::read(&img).unwrap();
    assert_eq!(after.len(), bytes.len(), "the image keeps its size");
    assert_eq!(&after[..offset as usize], &bytes[..offset as usize]);
    let end = (offset + size) as usize;
    assert!(
        after[end..].iter().all(|b| *b == 0),
        "nothing past the partition"
    );
    // The partition alone is a clean filesystem holding the file.
    let part = t.path().join("part.ext4");
    fs::write(&part, &after[offset as usize..end]).unwrap();
    Cmd::new("e2fsck").args(["-fn"]).arg(&part).run().unwrap();
    assert!(debugfs(&part, "stat /pack/a.bin").contains("Size: 3145728"));
    assert!(
        !debugfs(&part, "features").contains("has_journal"),
        "read-only: no journal"
    );
    let tight = estimate_ext4_size_no_journal(&tree, 0).unwrap();
    assert!(tight < 8 * MIB, "3 MiB of files: {tight}");
    assert!(!t.path().join("mke2fs-data.conf").exists());
    let e = mkfs_ext4_into(&tree, &img, 4097, size, uuid, uuid, "d", EPOCH, t.path());
    assert!(e.is_err(), "unaligned offset");
}
