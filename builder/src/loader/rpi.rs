//! Raspberry Pi: the firmware in ROM reads the FAT boot partition of an MBR
//! SD card: Debian's `raspi-firmware` blobs, `config.txt`, `cmdline.txt`,
//! the kernel, its initramfs and the device trees. Nothing runs in the
//! tree: the files are taken from it and written into the FAT partition
//! in-process, laid out as Debian's raspi-firmware hook does on the device
//! after a kernel update, so an updated box boots the same way.

use std::fs;
use std::path::{Path, PathBuf};

use super::{render_template_with, Bootloader, DiskBoot, LoaderContext, LoaderError, Prepared};
use crate::disk::fat::{FatFile, FatSource};
use crate::plan::layout::Layout;

pub struct RpiFirmware;

const NAME: &str = "rpi-firmware";
/// Where Debian's raspi-firmware package keeps the boot blobs.
const FIRMWARE_DIR: &str = "usr/lib/raspi-firmware";

fn io(context: String) -> impl FnOnce(std::io::Error) -> LoaderError {
    LoaderError::io(NAME, context)
}

fn failed(message: String) -> LoaderError {
    LoaderError::failed(NAME, message)
}

/// The kernel the tree's `/vmlinuz` link points at, and its version
/// (`boot/vmlinuz-6.1.0-31-arm64` -> `6.1.0-31-arm64`).
pub fn kernel_version(link_target: &Path) -> Option<String> {
    let name = link_target.file_name()?.to_str()?;
    name.strip_prefix("vmlinuz-").map(str::to_owned)
}

/// Where the kernel package keeps the Pi device trees (as the hook looks).
fn dtb_dir(root: &Path, version: &str, arch: &str) -> PathBuf {
    let base = root.join(format!("usr/lib/linux-image-{version}"));
    if arch == "arm64" {
        base.join("broadcom")
    } else {
        base
    }
}

fn sorted_names(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<String>, LoaderError> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map_err(io(format!("listing {}", dir.display())))?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| keep(n))
        .collect();
    v.sort();
    Ok(v)
}

impl Bootloader for RpiFirmware {
    fn prepare(&self, root: &Path, ctx: &LoaderContext) -> Result<Prepared, LoaderError> {
        let link = fs::read_link(root.join("vmlinuz")).map_err(io(
            "reading the /vmlinuz link (is a kernel package in the profile?)".into(),
        ))?;
        let version = kernel_version(&link).ok_or_else(|| {
            failed(format!(
                "/vmlinuz points at {}, not a vmlinuz-VERSION",
                link.display()
            ))
        })?;
        let mut files = Vec::new();
        let mut add = |name: &str, path: &Path| -> Result<(), LoaderError> {
            let bytes = fs::read(path).map_err(io(format!("reading {}", path.display())))?;
            files.push(FatFile {
                path: name.to_owned(),
                source: FatSource::Bytes(bytes),
            });
            Ok(())
        };

        let fw = root.join(FIRMWARE_DIR);
        if !fw.is_dir() {
            return Err(failed(format!(
                "/{FIRMWARE_DIR} is missing: add raspi-firmware (component non-free-firmware) to the profile"
            )));
        }
        for name in sorted_names(&fw, |_| true)? {
            add(&name, &fw.join(&name))?;
        }
        let kernel = format!("vmlinuz-{version}");
        let initrd = format!("initrd.img-{version}");
        for name in [&kernel, &initrd] {
            add(name, &root.join("boot").join(name))?;
        }
        let dtbs_dir = dtb_dir(root, &version, &ctx.arch);
        let dtbs = sorted_names(&dtbs_dir, |n| n.starts_with("bcm") && n.ends_with(".dtb"))?;
        for d in &ctx.boot.dtbs {
            if !dtbs.contains(d) {
                return Err(failed(format!(
                    "device tree {d} is not in {}",
                    dtbs_dir.display()
                )));
            }
        }
        for d in &dtbs {
            add(d, &dtbs_dir.join(d))?;
        }

        let consoles = &ctx.boot.consoles;
        let mut extra = tera::Context::new();
        extra.insert("kernel", &kernel);
        extra.insert("initrd", &initrd);
        extra.insert("arch", &ctx.arch);
        let console_args: Vec<String> = consoles.iter().map(|c| format!("console={c}")).collect();
        extra.insert("consoles", &console_args.join(" "));
        extra.insert("consoles_list", &consoles.join(" "));
        for (file, template) in [
            ("config.txt", "config.txt.tera"),
            ("cmdline.txt", "cmdline.txt.tera"),
        ] {
            let text = render_template_with(ctx, template, NAME, extra.clone())?;
            files.push(FatFile {
                path: file.into(),
                source: FatSource::Bytes(text.into_bytes()),
            });
        }
        // raspi-firmware's postinst copied its files to /boot/firmware in the
        // tree, where the boot partition is mounted: keep the mount point
        // empty rather than 60 MB of hidden copies in the root filesystem.
        let mount_point = root.join("boot/firmware");
        if mount_point.is_dir() {
            fs::remove_dir_all(&mount_point)
                .and_then(|_| fs::create_dir(&mount_point))
                .map_err(io("emptying /boot/firmware".into()))?;
        }
        // Device-side kernel updates: Debian's raspi-firmware hooks rewrite
        // config.txt and cmdline.txt from this file.
        let defaults = render_template_with(ctx, "raspi-firmware.default.tera", NAME, extra)?;
        fs::write(root.join("etc/default/raspi-firmware"), defaults)
            .map_err(io("writing /etc/default/raspi-firmware".into()))?;
        Ok(Prepared {
            fat_files: files,
            ..Prepared::default()
        })
    }

    fn place(&self, _prepared: &Prepared, _layout: &Layout) -> Result<DiskBoot, LoaderError> {
        Ok(DiskBoot::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_version_from_link() {
        assert_eq!(
            kernel_version(Path::new("boot/vmlinuz-6.1.0-31-arm64")).as_deref(),
            Some("6.1.0-31-arm64")
        );
        assert_eq!(kernel_version(Path::new("/boot/Image")), None);
    }

    /// A tree as Debian's packages leave it: `/vmlinuz`, the kernel and
    /// initramfs in /boot, raspi-firmware's blobs, the kernel package's
    /// device trees where `dtb_dir` says.
    fn fake_tree(root: &Path, version: &str, arch: &str, dtbs: &[&str]) {
        let boot = root.join("boot");
        let fw = root.join(FIRMWARE_DIR);
        let dtb = dtb_dir(root, version, arch);
        for d in [
            &boot,
            &fw,
            &dtb,
            &root.join("etc/default"),
            &boot.join("firmware"),
        ] {
            fs::create_dir_all(d).unwrap();
        }
        std::os::unix::fs::symlink(format!("boot/vmlinuz-{version}"), root.join("vmlinuz"))
            .unwrap();
        fs::write(boot.join(format!("vmlinuz-{version}")), b"kernel").unwrap();
        fs::write(boot.join(format!("initrd.img-{version}")), b"initrd").unwrap();
        fs::write(boot.join("firmware/start.elf"), b"copied by the postinst").unwrap();
        for f in ["bootcode.bin", "start.elf", "fixup.dat"] {
            fs::write(fw.join(f), f).unwrap();
        }
        for d in dtbs {
            fs::write(dtb.join(d), d).unwrap();
        }
    }

    fn repo_profile(board: &str) -> crate::spec::profile::Profile {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../profiles/{board}.toml"));
        crate::spec::profile::load(&path).unwrap().profile
    }

    fn prepare_for(board: &str, root: &Path) -> Result<Vec<(String, Vec<u8>)>, LoaderError> {
        let profile = repo_profile(board);
        let firmware = Default::default();
        let ctx = LoaderContext {
            name: "test",
            arch: profile.arch.clone(),
            boot: &profile.boot,
            root_partuuid: "0badcafe-02",
            root_fs_uuid: "d1b7a4e0-0000-4000-8000-000000000000",
            templates: Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../profiles/loaders/rpi-firmware"),
            firmware: &firmware,
            scratch: root.to_owned(),
        };
        let prepared = RpiFirmware.prepare(root, &ctx)?;
        Ok(prepared
            .fat_files
            .into_iter()
            .map(|f| match f.source {
                FatSource::Bytes(b) => (f.path, b),
                FatSource::Path(p) => (f.path, fs::read(p).unwrap()),
            })
            .collect())
    }

    fn text<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a str {
        let (_, b) = files.iter().find(|(n, _)| n == name).unwrap();
        std::str::from_utf8(b).unwrap()
    }

    /// The armel Pi Zero: device trees straight under the kernel package's
    /// directory, a 32-bit config.txt (no arm_64bit line, as Debian's hook
    /// writes it for armel), consoles and root from the profile.
    #[test]
    fn armel_pi_zero_boot_partition() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let v = "6.12.107+deb13-rpi";
        fake_tree(
            root,
            v,
            "armel",
            &[
                "bcm2835-rpi-zero.dtb",
                "bcm2835-rpi-zero-w.dtb",
                "bcm2835-rpi-b.dtb",
            ],
        );
        let files = prepare_for("rpi-zero", root).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        for want in [
            "bootcode.bin",
            "start.elf",
            "fixup.dat",
            "bcm2835-rpi-zero-w.dtb",
            "bcm2835-rpi-b.dtb",
            "vmlinuz-6.12.107+deb13-rpi",
            "initrd.img-6.12.107+deb13-rpi",
        ] {
            assert!(names.contains(&want), "{want} not in {names:?}");
        }
        let config = text(&files, "config.txt");
        assert!(!config.contains("arm_64bit"), "{config}");
        assert!(
            config.contains("\nkernel=vmlinuz-6.12.107+deb13-rpi\n"),
            "{config}"
        );
        assert!(
            config.contains("\ninitramfs initrd.img-6.12.107+deb13-rpi\n"),
            "{config}"
        );
        assert!(config.contains("enable_uart=1"), "{config}");
        assert_eq!(
            text(&files, "cmdline.txt").lines().next().unwrap(),
            "console=tty0 console=ttyS1,115200 root=PARTUUID=0badcafe-02 rw fsck.repair=yes net.ifnames=0 rootwait"
        );
        let defaults = fs::read_to_string(root.join("etc/default/raspi-firmware")).unwrap();
        assert!(
            defaults.contains("CONSOLES=\"tty0 ttyS1,115200\""),
            "{defaults}"
        );
        // No cma= on the command line: the device-side hook must not add one.
        assert!(defaults.contains("\nCMA=0\n"), "{defaults}");
        // The postinst's copies under the mount point are gone.
        assert_eq!(fs::read_dir(root.join("boot/firmware")).unwrap().count(), 0);
    }

    /// The 64-bit Pi 3: device trees in broadcom/, arm_64bit=1.
    #[test]
    fn arm64_pi3_config_switches_to_64_bit() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let v = "6.1.0-31-arm64";
        let dtbs = [
            "bcm2837-rpi-3-b.dtb",
            "bcm2837-rpi-3-b-plus.dtb",
            "bcm2837-rpi-3-a-plus.dtb",
        ];
        fake_tree(root, v, "arm64", &dtbs);
        let files = prepare_for("rpi3", root).unwrap();
        let config = text(&files, "config.txt");
        assert!(config.lines().any(|l| l == "arm_64bit=1"), "{config}");
        assert!(config.contains("kernel=vmlinuz-6.1.0-31-arm64"), "{config}");
        let defaults = fs::read_to_string(root.join("etc/default/raspi-firmware")).unwrap();
        assert!(defaults.contains("\nCMA=64M\n"), "{defaults}");
    }

    /// A device tree the profile requires but the kernel lacks is named.
    #[test]
    fn missing_board_device_tree_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fake_tree(root, "6.12.107+deb13-rpi", "armel", &["bcm2835-rpi-b.dtb"]);
        let err = prepare_for("rpi1", root).unwrap_err().to_string();
        assert!(err.contains("bcm2835-rpi-a.dtb"), "{err}");
    }

    #[test]
    fn dtbs_of_arm64_kernels_are_in_broadcom() {
        let r = Path::new("/r");
        assert_eq!(
            dtb_dir(r, "6.1", "arm64"),
            Path::new("/r/usr/lib/linux-image-6.1/broadcom")
        );
        assert_eq!(
            dtb_dir(r, "6.12", "armel"),
            Path::new("/r/usr/lib/linux-image-6.12")
        );
    }
}
