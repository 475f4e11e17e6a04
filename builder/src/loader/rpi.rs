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
    move |source| LoaderError::Io {
        loader: NAME,
        context,
        source,
    }
}

fn failed(message: String) -> LoaderError {
    LoaderError::Failed {
        loader: NAME,
        message,
    }
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
