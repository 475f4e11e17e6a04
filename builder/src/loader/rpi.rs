//! Raspberry Pi: the firmware in ROM reads the FAT boot partition of an MBR
//! SD card: Debian's `raspi-firmware` blobs, `config.txt`, `cmdline.txt`,
//! the kernel, its initramfs and the board's device tree. Nothing runs in
//! the tree: the files are taken from it and written into the FAT
//! partition in-process.

use std::fs;
use std::path::{Path, PathBuf};

use super::{render_template_with, Bootloader, DiskBoot, LoaderContext, LoaderError, Prepared};
use crate::disk::fat::{FatFile, FatSource};
use crate::plan::layout::Layout;

pub struct RpiFirmware;

const NAME: &str = "rpi-firmware";
/// Where Debian's raspi-firmware package keeps the boot blobs.
const FIRMWARE_DIR: &str = "usr/lib/raspi-firmware";
/// Names on the boot partition; `config.txt` points at them.
pub const KERNEL: &str = "vmlinuz";
pub const INITRD: &str = "initrd.img";

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

/// Find `name` under `dir`, depth first, sorted (DTBs sit in `broadcom/`).
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in &entries {
        if p.is_file() && p.file_name().is_some_and(|n| n == name) {
            return Some(p.clone());
        }
    }
    entries
        .iter()
        .filter(|p| p.is_dir())
        .find_map(|d| find_file(d, name))
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
        let read = |rel: &Path| {
            fs::read(root.join(rel)).map_err(io(format!("reading /{}", rel.display())))
        };
        let mut files = Vec::new();

        let fw = root.join(FIRMWARE_DIR);
        let mut blobs: Vec<_> = fs::read_dir(&fw)
            .map_err(io(format!(
                "listing /{FIRMWARE_DIR} (add raspi-firmware to the profile's packages)"
            )))?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name())
            .collect();
        blobs.sort();
        for b in blobs {
            let name = b.to_string_lossy().into_owned();
            let bytes = read(&Path::new(FIRMWARE_DIR).join(&name))?;
            files.push(FatFile {
                path: name,
                source: FatSource::Bytes(bytes),
            });
        }

        files.push(FatFile {
            path: KERNEL.into(),
            source: FatSource::Bytes(read(&Path::new("boot").join(format!("vmlinuz-{version}")))?),
        });
        files.push(FatFile {
            path: INITRD.into(),
            source: FatSource::Bytes(read(
                &Path::new("boot").join(format!("initrd.img-{version}")),
            )?),
        });

        let dtb_dir = root.join("usr/lib/linux-image-".to_owned() + &version);
        for d in &ctx.boot.dtbs {
            let p = find_file(&dtb_dir, d).ok_or_else(|| {
                failed(format!(
                    "device tree {d} is not in /usr/lib/linux-image-{version}"
                ))
            })?;
            let bytes = fs::read(&p).map_err(io(format!("reading {}", p.display())))?;
            files.push(FatFile {
                path: d.clone(),
                source: FatSource::Bytes(bytes),
            });
        }

        let mut extra = tera::Context::new();
        extra.insert("kernel", KERNEL);
        extra.insert("initrd", INITRD);
        extra.insert("kernel_version", &version);
        extra.insert("dtbs", &ctx.boot.dtbs);
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
    fn finds_dtbs_in_subdirectories() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("broadcom")).unwrap();
        fs::write(t.path().join("broadcom/bcm2837-rpi-3-b.dtb"), b"dtb").unwrap();
        assert_eq!(
            find_file(t.path(), "bcm2837-rpi-3-b.dtb"),
            Some(t.path().join("broadcom/bcm2837-rpi-3-b.dtb"))
        );
        assert_eq!(find_file(t.path(), "nope.dtb"), None);
    }
}
