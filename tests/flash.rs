//! Release files and `clic flash` with real parts: loop devices, Debian's
//! bmaptool, sha256sum, e2fsck and fsck.vfat. They need root (loop
//! devices, mount), so they are `#[ignore]`d for a plain `cargo test`;
//! `make test` runs them.
//!
//! The test image is made here in a second: an MBR disk of 64 MiB with a
//! FAT16 boot partition (a 2 MB "kernel"), an ext4 root from `mke2fs -d`
//! (12 MB of random data and a few small files) and a "bootloader" blob at
//! sector 40, outside the partitions: about a third of its blocks hold
//! data. Devices are filled with garbage first, so that a block the bmap
//! wrongly leaves out shows up as a damaged filesystem.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{repo, run, stderr};

const MIB: u64 = 1 << 20;
const IMAGE_SIZE: u64 = 64 * MIB;
const FAT_START: u64 = 2048 * 512;
const FAT_SIZE: u64 = 16 * MIB;
const ROOT_START: u64 = FAT_START + FAT_SIZE;
const BLOB_AT: u64 = 40 * 512;

/// A test's work directory, removed when the test passes (kept to look
/// at when it fails). Declared first in a test, it is dropped last, after
/// the loop devices over its files are detached.
struct WorkDir(PathBuf);

impl std::ops::Deref for WorkDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for WorkDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn work(name: &str) -> WorkDir {
    WorkDir(common::fresh_dir(&format!("clic-flash-tests/{name}")))
}

fn clic() -> Command {
    let mut c = common::clic_plain(&repo());
    c.env_remove(TEST_PAUSE);
    c
}

const TEST_PAUSE: &str = "CLIC_FLASH_TEST_PAUSE";

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-ec", cmd]).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A loop device over a file, detached when dropped.
struct Loop {
    dev: String,
    file: PathBuf,
}

impl Loop {
    /// A device of `size` bytes filled with 0xA5 garbage.
    fn garbage(dir: &Path, name: &str, size: u64) -> Loop {
        let file = dir.join(name);
        let mut f = std::fs::File::create(&file).unwrap();
        let chunk = vec![0xA5u8; MIB as usize];
        let mut left = size;
        while left > 0 {
            let n = left.min(MIB);
            f.write_all(&chunk[..n as usize]).unwrap();
            left -= n;
        }
        drop(f);
        let dev = sh(&format!("losetup --find --show {}", file.display()));
        Loop { dev, file }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

/// The test image (see the top of the file), `dir/t.img`.
fn make_image(dir: &Path) -> PathBuf {
    let img = dir.join("t.img");
    let d = dir.display();
    sh(&format!(
        "cd {d}
         mkdir -p tree/etc tree/srv
         head -c 12000000 /dev/urandom > tree/srv/data.bin
         echo clic > tree/etc/hostname
         for i in $(seq 1 40); do head -c $((i * 700)) /dev/urandom > tree/etc/f$i; done
         truncate -s {IMAGE_SIZE} t.img
         printf 'label: dos\\nstart=2048,size=32768,type=c,bootable\\nstart=34816,type=83\\n' | sfdisk -q t.img
         truncate -s {FAT_SIZE} fat.part
         mkfs.vfat -F 16 -n CLICBOOT fat.part >/dev/null
         head -c 2000000 /dev/urandom > kernel
         mcopy -i fat.part kernel ::/KERNEL
         printf 'root=/dev/mmcblk0p2\\n' > cmdline.txt
         mcopy -i fat.part cmdline.txt ::/CMDLINE.TXT
         truncate -s {root} root.part
         mke2fs -q -t ext4 -d tree root.part
         dd if=fat.part of=t.img bs=1M seek=1 conv=notrunc,sparse status=none
         dd if=root.part of=t.img bs=1M seek=17 conv=notrunc,sparse status=none
         head -c 3000 /dev/urandom | dd of=t.img bs=512 seek=40 conv=notrunc status=none
         rm -rf tree fat.part root.part kernel cmdline.txt",
        root = IMAGE_SIZE - ROOT_START
    ));
    img
}

/// `clic release` of the image: returns the bmap's mapped byte ranges.
fn release(img: &Path) -> Vec<(u64, u64)> {
    let mut c = clic();
    c.arg("release").arg(img);
    run(c);
    bmap_ranges(&img.with_file_name("t.img.bmap"))
}

fn bmap_ranges(bmap: &Path) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(bmap).unwrap();
    let re = regex::Regex::new(r"<Range[^>]*>\s*(\d+)(?:-(\d+))?\s*</Range>").unwrap();
    re.captures_iter(&text)
        .map(|c| {
            let a: u64 = c[1].parse().unwrap();
            let b: u64 = c.get(2).map_or(a, |m| m.as_str().parse().unwrap());
            (a * 4096, ((b + 1) * 4096).min(IMAGE_SIZE))
        })
        .collect()
}

fn read_range(path: &Path, (s, e): (u64, u64)) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; (e - s) as usize];
    f.read_exact_at(&mut buf, s).unwrap();
    buf
}

/// The device equals the image on every mapped range.
fn same_on_ranges(img: &Path, dev: &Path, ranges: &[(u64, u64)]) {
    for &r in ranges {
        assert!(
            read_range(img, r) == read_range(dev, r),
            "{} differs from the image in {r:?}",
            dev.display()
        );
    }
}

/// Both filesystems of a written device are clean although every block
/// the bmap left out still holds garbage.
fn filesystems_clean(dev: &Path, dir: &Path) {
    let d = dev.display();
    let x = dir.display();
    sh(&format!(
        "dd if={d} of={x}/p1 bs=1M skip=1 count=16 status=none
         fsck.vfat -n {x}/p1 >/dev/null
         mcopy -i {x}/p1 ::/CMDLINE.TXT - | grep -q root=
         dd if={d} of={x}/p2 bs=1M skip=17 count=47 status=none
         e2fsck -fn {x}/p2 >/dev/null
         rm -f {x}/p1 {x}/p2"
    ));
}

fn sha256(path: &Path) -> String {
    common::sha256_hex(&std::fs::read(path).unwrap())
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn bmap_is_filesystem_aware_and_bmaptool_writes_with_it() {
    let dir = work("bmaptool");
    let img = make_image(&dir);
    let ranges = release(&img);
    let mapped: u64 = ranges.iter().map(|(s, e)| e - s).sum();
    // About a third: the files, the filesystems' metadata, the blob.
    assert!(
        mapped > IMAGE_SIZE / 5 && mapped < IMAGE_SIZE / 2,
        "mapped {mapped} of {IMAGE_SIZE}"
    );
    // The blob outside the partitions and the MBR are mapped.
    assert!(
        ranges.iter().any(|&(s, e)| s == 0 && e >= BLOB_AT + 3000),
        "{ranges:?}"
    );
    // Free space inside the filesystems is not: a mostly empty 47 MiB
    // ext4 and a 16 MiB FAT with 2 MB in it.
    let in_root: u64 = ranges
        .iter()
        .map(|&(s, e)| e.min(IMAGE_SIZE).saturating_sub(s.max(ROOT_START)))
        .sum();
    // 12 MB of files, a 4 MiB journal, inode tables and bitmaps.
    assert!(in_root < 25 * MIB, "{in_root} bytes mapped in the root");
    let in_fat: u64 = ranges
        .iter()
        .map(|&(s, e)| e.min(ROOT_START).saturating_sub(s.max(FAT_START)))
        .sum();
    assert!(
        in_fat > 2_000_000 && in_fat < 3 * MIB,
        "{in_fat} bytes mapped in the FAT"
    );

    // Debian's bmaptool reads our bmap (it checks the bmap's own checksum
    // and every range's sha256 as it copies).
    let dev = Loop::garbage(&dir, "dev", 80 * MIB);
    let out = run({
        let mut c = Command::new("bmaptool");
        c.args(["copy", "--bmap"])
            .arg(dir.join("t.img.bmap"))
            .arg(&img)
            .arg(&dev.dev);
        c
    });
    let log = stderr(&out);
    assert!(log.contains("copying time"), "{log}");
    same_on_ranges(&img, Path::new(&dev.dev), &ranges);
    // Unmapped blocks were not written: the garbage is still there.
    let tail = read_range(Path::new(&dev.dev), (IMAGE_SIZE - 8192, IMAGE_SIZE - 4096));
    assert!(tail.iter().all(|&b| b == 0xA5));
    filesystems_clean(Path::new(&dev.dev), &dir);
    // And from the compressed image, streamed.
    let dev2 = Loop::garbage(&dir, "dev2", 64 * MIB);
    run({
        let mut c = Command::new("bmaptool");
        c.args(["copy", "--bmap"])
            .arg(dir.join("t.img.bmap"))
            .arg(dir.join("t.img.zst"))
            .arg(&dev2.dev);
        c
    });
    same_on_ranges(&img, Path::new(&dev2.dev), &ranges);
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn sha256sums_and_zstd_check_out() {
    let dir = work("sums");
    let img = make_image(&dir);
    release(&img);
    let out = run({
        let mut c = Command::new("sha256sum");
        c.args(["-c", "SHA256SUMS"]).current_dir(&dir);
        c
    });
    let text = String::from_utf8_lossy(&out.stdout);
    for f in ["t.img: OK", "t.img.zst: OK", "t.img.bmap: OK"] {
        assert!(text.contains(f), "{text}");
    }
    // The .zst decompresses to the image, and says its size.
    let zst = std::fs::read(dir.join("t.img.zst")).unwrap();
    let back = zstd::stream::decode_all(&zst[..]).unwrap();
    assert!(back == std::fs::read(&img).unwrap(), "zstd round trip");
    assert_eq!(
        zstd::zstd_safe::get_frame_content_size(&zst[..18]).ok(),
        Some(Some(IMAGE_SIZE))
    );
    // Files are readable by all once published, no temporary file left.
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "temporary file left: {name}");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("SHA256SUMS"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}

/// rpi-imager's published JSON schema for os_list (its
/// doc/json-schema/os-list-schema.json), as data: the top-level object
/// holds only `imager` and `os_list`; an OS entry needs these keys with
/// these JSON types (additional keys are allowed).
const SCHEMA_TOP_KEYS: &[&str] = &["imager", "os_list"];
const SCHEMA_REQUIRED: &[(&str, &str)] = &[
    ("name", "string"),
    ("description", "string"),
    ("icon", "string"),
    ("url", "string"),
    ("extract_size", "integer"),
    ("extract_sha256", "string"),
    ("image_download_size", "integer"),
    ("release_date", "string"),
];
const SCHEMA_OPTIONAL: &[(&str, &str)] = &[("init_format", "string"), ("website", "string")];

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::String(_) => "string",
        serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Null => "null",
    }
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn os_list_follows_the_imager_schema() {
    let dir = work("oslist");
    let img = make_image(&dir);
    // A manifest naming a Pi board, from the v1 fixture.
    let mut m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/manifest-v1.json")).unwrap(),
    )
    .unwrap();
    m["board"] = "rpi3".into();
    m["name"] = "t".into();
    m["description"] = "Boîte de test".into();
    m["source_date_epoch"] = 1_735_689_600.into();
    std::fs::write(
        dir.join("t.manifest.json"),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
    let mut c = clic();
    c.arg("release")
        .arg(&img)
        .args(["--url-base", "https://example.org/clic/"]);
    run(c);

    let list: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("os_list.json")).unwrap()).unwrap();
    let top = list.as_object().expect("an object");
    for k in top.keys() {
        assert!(
            SCHEMA_TOP_KEYS.contains(&k.as_str()),
            "key {k} not allowed at the top"
        );
    }
    let entries = list["os_list"].as_array().expect("os_list is an array");
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    for (k, t) in SCHEMA_REQUIRED {
        let v = e.get(*k).unwrap_or_else(|| panic!("{k} missing from {e}"));
        assert_eq!(json_type(v), *t, "{k} in {e}");
    }
    for (k, t) in SCHEMA_OPTIONAL {
        if let Some(v) = e.get(*k) {
            assert_eq!(json_type(v), *t, "{k} in {e}");
        }
    }
    // The values themselves.
    assert_eq!(e["extract_size"], IMAGE_SIZE);
    assert_eq!(e["extract_sha256"], sha256(&img));
    let zst = dir.join("t.img.zst");
    assert_eq!(
        e["image_download_size"],
        std::fs::metadata(&zst).unwrap().len()
    );
    assert_eq!(e["image_download_sha256"], sha256(&zst));
    assert_eq!(e["url"], "https://example.org/clic/t.img.zst");
    assert_eq!(e["release_date"], "2025-01-01");
    assert_eq!(e["devices"], serde_json::json!(["pi3-64bit"]));
    assert!(e["description"]
        .as_str()
        .unwrap()
        .contains("Raspberry Pi 3"));
    // The manifest lists the artifacts, and SHA256SUMS covers all of it.
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("t.manifest.json")).unwrap())
            .unwrap();
    let kinds: Vec<&str> = m["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["image", "zstd", "bmap"]);
    assert_eq!(m["artifacts"][1]["sha256"], sha256(&zst));
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    for f in ["t.manifest.json", "os_list.json", "t.img.zst"] {
        assert!(sums.contains(&format!("  {f}\n")), "{sums}");
    }
    run({
        let mut c = Command::new("sha256sum");
        c.args(["-c", "SHA256SUMS"]).current_dir(&dir);
        c
    });
}

fn wait_for(path: &Path, child: &mut Child) {
    let t = Instant::now();
    while !path.exists() {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("clic flash ended ({st}) before {}", path.display());
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn flip_bit(file: &Path, at: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).unwrap();
    b[0] ^= 0x10;
    f.write_all_at(&b, at).unwrap();
    f.sync_all().unwrap();
}

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn flash_two_devices_and_catch_a_flipped_bit() {
    let dir = work("flash");
    let img = make_image(&dir);
    let ranges = release(&img);
    let a = Loop::garbage(&dir, "a", 80 * MIB);
    let b = Loop::garbage(&dir, "b", 64 * MIB);

    // Both at once, from the compressed image and its bmap.
    let mut c = clic();
    c.arg("flash")
        .arg(dir.join("t.img.zst"))
        .args([&a.dev, &b.dev])
        .args(["--yes", "--json"]);
    let out = run(c);
    let events = json_lines(&out.stdout);
    let done = events.last().unwrap();
    assert_eq!(done["event"], "done");
    assert_eq!(done["ok"], true);
    let mapped: u64 = ranges.iter().map(|(s, e)| e - s).sum();
    assert_eq!(done["report"]["mapped"], mapped);
    assert!(events.iter().any(|e| e["event"] == "start"));
    for d in [&a, &b] {
        same_on_ranges(&img, Path::new(&d.dev), &ranges);
        filesystems_clean(Path::new(&d.dev), &dir);
        let verified = events
            .iter()
            .find(|e| e["event"] == "device" && e["device"] == d.dev.as_str())
            .unwrap();
        assert_eq!(verified["ok"], true, "{verified}");
    }
    // The first MiB was written last: the device starts with the MBR.
    assert_eq!(read_range(Path::new(&b.dev), (510, 512)), [0x55, 0xAA]);

    // Again, pausing between write and verify to damage device b through
    // its backing file, in a mapped block of the root filesystem.
    let hook = dir.join("hook");
    std::fs::create_dir_all(&hook).unwrap();
    let flip_at = ranges
        .iter()
        .find(|&&(s, e)| s >= ROOT_START && e - s > 8192)
        .map(|&(s, _)| s + 4100)
        .expect("a mapped range in the root");
    let mut c = clic();
    c.arg("flash")
        .arg(&img)
        .args([&a.dev, &b.dev])
        .args(["--yes", "--json"])
        .env(TEST_PAUSE, &hook)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    wait_for(&hook.join("written"), &mut child);
    flip_bit(&b.file, flip_at);
    std::fs::write(hook.join("resume"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "exit code; stderr:\n{err}");
    assert!(
        err.contains(&format!("1 of 2 device(s) failed: {}", b.dev)),
        "{err}"
    );
    assert!(!err.contains(&format!("failed: {}, ", a.dev)), "{err}");
    let events = json_lines(&out.stdout);
    let result = |dev: &str| {
        events
            .iter()
            .find(|e| e["event"] == "device" && e["device"] == dev)
            .cloned()
            .unwrap()
    };
    assert_eq!(result(&a.dev)["ok"], true);
    let rb = result(&b.dev);
    assert_eq!(rb["ok"], false);
    let bad = rb["bad_ranges"].as_array().unwrap();
    assert_eq!(bad.len(), 1, "{rb}");
    let (s, l) = (bad[0][0].as_u64().unwrap(), bad[0][1].as_u64().unwrap());
    assert!(s <= flip_at && flip_at < s + l, "{rb}");
    assert!(
        rb["error"]
            .as_str()
            .unwrap()
            .contains("verification failed"),
        "{rb}"
    );
    // The damaged card will not boot: its first MiB is zeroed.
    assert!(read_range(Path::new(&b.dev), (0, MIB))
        .iter()
        .all(|&x| x == 0));
    // Ctrl-C between write and verify: exit 130, and neither card is
    // left bootable (their first MiB is zeroed again).
    let _ = std::fs::remove_file(hook.join("written"));
    let _ = std::fs::remove_file(hook.join("resume"));
    let mut c = clic();
    c.arg("flash")
        .arg(&img)
        .args([&a.dev, &b.dev])
        .arg("--yes")
        .env(TEST_PAUSE, &hook)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    wait_for(&hook.join("written"), &mut child);
    assert_eq!(read_range(Path::new(&a.dev), (510, 512)), [0x55, 0xAA]);
    sh(&format!("kill -INT {}", child.id()));
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("will not boot"), "{err}");
    for d in [&a, &b] {
        assert!(
            read_range(Path::new(&d.dev), (0, MIB))
                .iter()
                .all(|&x| x == 0),
            "{} still has a partition table",
            d.dev
        );
    }
    // Written again, then --verify-only reads a device back: a is fine,
    // b (flipped again through its file) is not.
    let mut c = clic();
    c.arg("flash").arg(&img).args([&a.dev, &b.dev]).arg("--yes");
    run(c);
    flip_bit(&b.file, flip_at);
    let mut c = clic();
    c.arg("flash").arg(&img).arg(&a.dev).arg("--verify-only");
    run(c);
    let mut c = clic();
    c.arg("flash").arg(&img).arg(&b.dev).arg("--verify-only");
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

/// Nothing written to `dev` since it was filled with garbage.
fn untouched(dev: &Loop) {
    let head = read_range(Path::new(&dev.dev), (0, MIB));
    assert!(head.iter().all(|&x| x == 0xA5), "{} was written", dev.dev);
}

fn refused(args: &[&str], expect: &str) {
    let mut c = clic();
    c.arg("flash").args(args).stdin(Stdio::null());
    let out = c.output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(
        err.contains(expect),
        "{args:?}: expected {expect:?} in:\n{err}"
    );
}

#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn flash_refuses_mounted_small_and_non_devices() {
    let dir = work("refusals");
    let img = make_image(&dir);
    release(&img);
    let img_s = img.to_str().unwrap();

    // A regular file.
    let file = dir.join("card.bin");
    std::fs::write(&file, vec![0xA5u8; MIB as usize]).unwrap();
    refused(
        &[img_s, file.to_str().unwrap(), "--yes"],
        "is a regular file, not a device",
    );
    assert!(std::fs::read(&file).unwrap().iter().all(|&x| x == 0xA5));

    // A device smaller than the image.
    let small = Loop::garbage(&dir, "small", 32 * MIB);
    refused(
        &[img_s, &small.dev, "--yes"],
        "is smaller (32 MiB) than the image (64 MiB)",
    );
    untouched(&small);

    // A mounted device, alongside a good one: nothing is written to either.
    let good = Loop::garbage(&dir, "good", 64 * MIB);
    let mounted = Loop::garbage(&dir, "mounted", 64 * MIB);
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    sh(&format!(
        "mkfs.ext4 -q {} && mount {} {}",
        mounted.dev,
        mounted.dev,
        mnt.display()
    ));
    struct Umount(PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _umount = Umount(mnt.clone());
    refused(
        &[img_s, &good.dev, &mounted.dev, "--yes"],
        &format!("{} is mounted on {}", mounted.dev, mnt.display()),
    );
    untouched(&good);
    // With no terminal to confirm on and no --yes, nothing is written.
    refused(&[img_s, &good.dev], "pass --yes");
    untouched(&good);
    // A partition is not a whole device.
    let parted = dir.join("parted");
    sh(&format!("cp --sparse=always {img_s} {}", parted.display()));
    let dev = sh(&format!(
        "losetup --find --show --partscan {}",
        parted.display()
    ));
    let _parted = Loop {
        dev: dev.clone(),
        file: parted,
    };
    let part = format!("{dev}p1");
    let name = dev.trim_start_matches("/dev/");
    // Some kernels leave the scan to user space: partx adds them.
    if !Path::new(&format!("/sys/block/{name}/{name}p1")).exists() {
        sh(&format!("partx -a {dev}"));
    }
    // Without udev (containers) the kernel makes no node: make it.
    let made = !Path::new(&part).exists();
    if made {
        let num = std::fs::read_to_string(format!("/sys/block/{name}/{name}p1/dev")).unwrap();
        let (ma, mi) = num.trim().split_once(':').unwrap();
        sh(&format!("mknod {part} b {ma} {mi}"));
    }
    refused(
        &[img_s, &part, "--yes"],
        &format!("{part} is a partition of /dev/{name}: give the whole device"),
    );
    if made {
        let _ = std::fs::remove_file(&part);
    }
    // Compressions clic does not read are named.
    let xz = dir.join("t.img.xz");
    std::fs::write(&xz, b"x").unwrap();
    refused(
        &[xz.to_str().unwrap(), &good.dev, "--yes"],
        "decompress it first",
    );
}

/// The default image from tests/image.rs, when a run of it left one:
/// its bmap maps much less than the image, and bmaptool copies with it.
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn real_image_if_built() {
    let built = repo().join("target/tmp/clic-image-tests/a/clic-ordinosaure.img");
    if !built.is_file() {
        eprintln!(
            "skipped: {} not built (tests/image.rs makes it)",
            built.display()
        );
        return;
    }
    let dir = work("real");
    let img = dir.join("clic-ordinosaure.img");
    sh(&format!(
        "cp --sparse=always {} {}",
        built.display(),
        img.display()
    ));
    let mut c = clic();
    c.arg("release").arg(&img);
    let out = run(c);
    let err = stderr(&out);
    assert!(err.contains("ext4") && err.contains("vfat"), "{err}");
    let text = std::fs::read_to_string(dir.join("clic-ordinosaure.img.bmap")).unwrap();
    let num = |tag: &str| -> u64 {
        let re = regex::Regex::new(&format!(r"<{tag}>\s*(\d+)\s*</{tag}>")).unwrap();
        re.captures(&text).unwrap()[1].parse().unwrap()
    };
    assert!(
        num("MappedBlocksCount") * 10 < num("BlocksCount") * 8,
        "{err}"
    );
    let copy = dir.join("copy.img");
    run({
        let mut c = Command::new("bmaptool");
        c.args(["copy", "--bmap"])
            .arg(dir.join("clic-ordinosaure.img.bmap"))
            .arg(dir.join("clic-ordinosaure.img.zst"))
            .arg(&copy);
        c
    });
    let mut c = clic();
    c.arg("inspect").arg(&copy);
    run(c);
}

/// Ctrl-C while `clic release` compresses: exit 130, and neither a
/// temporary file nor a partial release file is left.
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn interrupted_release_leaves_nothing() {
    let dir = work("interrupt");
    let img = dir.join("big.img");
    sh(&format!("head -c 400M /dev/urandom > {}", img.display()));
    let mut c = clic();
    c.arg("release")
        .arg(&img)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let t = Instant::now();
    loop {
        let compressing = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".big.img.zst."));
        if compressing {
            break;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("clic release ended ({st}) before compressing");
        }
        assert!(t.elapsed() < Duration::from_secs(120), "never compressed");
        std::thread::sleep(Duration::from_millis(20));
    }
    sh(&format!("kill -INT {}", child.id()));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "big.img")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Without a bmap: a raw image is mapped from its own filesystems (the
/// same blocks as its bmap), a compressed one is written whole.
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn flash_without_a_bmap() {
    let dir = work("nobmap");
    let img = make_image(&dir);
    let ranges = release(&img);
    let mapped: u64 = ranges.iter().map(|(s, e)| e - s).sum();
    let dev = Loop::garbage(&dir, "dev", 64 * MIB);
    let mut c = clic();
    c.arg("flash")
        .arg(&img)
        .arg(&dev.dev)
        .args(["--yes", "--json", "--no-bmap"]);
    let events = json_lines(&run(c).stdout);
    let done = events.last().unwrap();
    assert_eq!(done["report"]["mapped"], mapped, "{done}");
    assert!(done["report"]["plan"]
        .as_str()
        .unwrap()
        .contains("filesystems"));
    same_on_ranges(&img, Path::new(&dev.dev), &ranges);
    filesystems_clean(Path::new(&dev.dev), &dir);

    let mut c = clic();
    c.arg("flash")
        .arg(dir.join("t.img.zst"))
        .arg(&dev.dev)
        .args(["--yes", "--json", "--no-bmap"]);
    let events = json_lines(&run(c).stdout);
    assert_eq!(events.last().unwrap()["report"]["mapped"], IMAGE_SIZE);
    same_on_ranges(&img, Path::new(&dev.dev), &[(0, IMAGE_SIZE)]);
}

/// Issue 16, item 15: the device is checked again after the confirmation.
/// Between it and the write, the loop device is re-attached to another
/// file (as a card swapped in the same reader): that device is refused,
/// nothing is written to either file; a device left alone beside it is
/// written.
#[test]
#[ignore = "needs root, the Debian mirror and minutes: make test"]
fn a_device_swapped_after_the_confirmation_is_not_written() {
    let dir = work("swapped");
    let img = make_image(&dir);
    let a = Loop::garbage(&dir, "a.dev", IMAGE_SIZE);
    let b = Loop::garbage(&dir, "b.dev", IMAGE_SIZE);
    let other = Loop::garbage(&dir, "other.dev", IMAGE_SIZE);
    let other_file = other.file.clone();
    drop(other); // detached: its file is the "other card"
    let hook = dir.join("hook");
    std::fs::create_dir_all(&hook).unwrap();
    std::fs::write(hook.join("pause-before-open"), "").unwrap();
    let mut c = clic();
    c.arg("flash")
        .arg(&img)
        .args([&a.dev, &b.dev])
        .arg("--yes")
        .env(TEST_PAUSE, &hook)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    wait_for(&hook.join("confirmed"), &mut child);
    sh(&format!(
        "losetup -d {dev}; for i in $(seq 50); do losetup {dev} {f} 2>/dev/null && break; sleep 0.1; done; losetup {dev}",
        dev = b.dev,
        f = other_file.display()
    ));
    std::fs::write(hook.join("open"), "").unwrap();
    std::fs::write(hook.join("resume"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!(
            "{}: FAILED: is not the device that was checked",
            b.dev
        )),
        "{err}"
    );
    assert!(err.contains("nothing was written to it"), "{err}");
    assert!(
        err.contains(&format!("{}: written and verified", a.dev)),
        "{err}"
    );
    // Neither the file confirmed as b nor the one now behind b's name.
    let head = |f: &Path| read_range(f, (0, MIB));
    assert!(
        head(&b.file).iter().all(|&x| x == 0xA5),
        "b's first card written"
    );
    assert!(
        head(&other_file).iter().all(|&x| x == 0xA5),
        "the swapped-in card written"
    );
}
