//! GRUB for x86 PCs, BIOS and UEFI from one GPT disk, installed without
//! loop devices: core images are made with the image's own `grub-mkimage`
//! (run in the tree), boot.img is patched into the protective MBR and
//! core.img into the BIOS boot partition the way grub-bios-setup does.

use std::fs;
use std::path::Path;

use super::{render_template, Bootloader, DiskBoot, LoaderContext, LoaderError, Prepared};
use crate::cmd::Cmd;
use crate::disk::fat::{FatFile, FatSource};
use crate::disk::grub::{mbr_boot_code, patch_core_img};
use crate::disk::image::RawBlob;
use crate::plan::layout::{Layout, PartRole, TableKind};

pub struct GrubX86;

const NAME: &str = "grub-x86";

/// Modules built into the core images so that they find the root
/// filesystem and boot Linux even before /boot/grub is read.
const COMMON_MODULES: &[&str] = &[
    "part_gpt",
    "part_msdos",
    "ext2",
    "fat",
    "search",
    "search_fs_uuid",
    "normal",
    "configfile",
    "linux",
    "echo",
    "test",
    "serial",
    "terminal",
    "gzio",
    "boot",
    "ls",
    "cat",
    "all_video",
];

/// The EFI file name firmware looks for on removable media, per platform.
fn efi_boot_file(platform: &str) -> Option<&'static str> {
    match platform {
        "x86_64-efi" => Some("EFI/BOOT/BOOTX64.EFI"),
        "i386-efi" => Some("EFI/BOOT/BOOTIA32.EFI"),
        _ => None,
    }
}

/// grub-mkimage arguments for one platform (pure).
pub fn mkimage_args(platform: &str, output: &str, early_cfg: &str) -> Vec<String> {
    let mut a = vec![
        "grub-mkimage".to_owned(),
        "-O".into(),
        platform.into(),
        "-o".into(),
        output.into(),
        "-c".into(),
        early_cfg.into(),
        "-p".into(),
        "/boot/grub".into(),
    ];
    if platform == "i386-pc" {
        a.push("biosdisk".into());
    } else {
        a.push("efi_gop".into());
    }
    a.extend(COMMON_MODULES.iter().map(|m| (*m).to_owned()));
    a
}

impl Bootloader for GrubX86 {
    fn prepare(&self, root: &Path, ctx: &LoaderContext) -> Result<Prepared, LoaderError> {
        let io = |context: String| {
            move |source| LoaderError::Io {
                loader: NAME,
                context,
                source,
            }
        };
        let platforms = &ctx.boot.grub_platforms;
        if platforms.is_empty() {
            return Err(LoaderError::Failed {
                loader: NAME,
                message: "the board profile lists no `boot.grub_platforms` (e.g. [\"i386-pc\", \"x86_64-efi\"])".into(),
            });
        }
        let grub_dir = root.join("boot/grub");
        fs::create_dir_all(&grub_dir).map_err(io("creating /boot/grub".into()))?;
        fs::write(
            grub_dir.join("grub.cfg"),
            render_template(ctx, "grub.cfg.tera", NAME)?,
        )
        .map_err(io("writing /boot/grub/grub.cfg".into()))?;
        let early = render_template(ctx, "early.cfg.tera", NAME)?;
        let early_rel = "tmp/clic-grub-early.cfg";
        fs::write(root.join(early_rel), early).map_err(io(format!("writing /{early_rel}")))?;

        let mut prepared = Prepared::default();
        for platform in platforms {
            let modules = root.join("usr/lib/grub").join(platform);
            if !modules.is_dir() {
                return Err(LoaderError::Failed {
                    loader: NAME,
                    message: format!(
                        "GRUB modules for {platform} are not in the image (/usr/lib/grub/{platform}); add the grub package for it (grub-pc-bin or grub-efi-amd64-bin) to the profile's packages"
                    ),
                });
            }
            // Copy the modules next to grub.cfg, as grub-install does, so a
            // later upgrade of the package cannot mismatch the core image.
            let dest = grub_dir.join(platform);
            fs::create_dir_all(&dest).map_err(io(format!("creating /boot/grub/{platform}")))?;
            let mut names: Vec<_> = fs::read_dir(&modules)
                .map_err(io(format!("listing {}", modules.display())))?
                .filter_map(|e| e.ok().map(|e| e.file_name()))
                .filter(|n| {
                    let n = n.to_string_lossy();
                    n.ends_with(".mod") || n.ends_with(".lst")
                })
                .collect();
            names.sort();
            for n in names {
                fs::copy(modules.join(&n), dest.join(&n))
                    .map_err(io(format!("copying GRUB module {}", n.to_string_lossy())))?;
            }

            let out_rel = format!("tmp/clic-grub-{platform}.img");
            Cmd::new("chroot")
                .arg(root)
                .args(mkimage_args(
                    platform,
                    &format!("/{out_rel}"),
                    &format!("/{early_rel}"),
                ))
                .run()
                .map_err(|source| LoaderError::Cmd {
                    loader: NAME,
                    context: format!("making the GRUB {platform} core image"),
                    source,
                })?;
            let out = root.join(&out_rel);
            let bytes = fs::read(&out).map_err(io(format!("reading /{out_rel}")))?;
            let _ = fs::remove_file(&out);
            if platform == "i386-pc" {
                let boot_img_path = modules.join("boot.img");
                prepared.mbr_boot_img = Some(
                    fs::read(&boot_img_path)
                        .map_err(io(format!("reading {}", boot_img_path.display())))?,
                );
                prepared.bios_core = Some(bytes);
            } else if let Some(path) = efi_boot_file(platform) {
                prepared.fat_files.push(FatFile {
                    path: path.to_owned(),
                    source: FatSource::Bytes(bytes),
                });
            } else {
                return Err(LoaderError::Failed {
                    loader: NAME,
                    message: format!("unsupported GRUB platform `{platform}`"),
                });
            }
        }
        let _ = fs::remove_file(root.join(early_rel));
        Ok(prepared)
    }

    fn place(&self, prepared: &Prepared, layout: &Layout) -> Result<DiskBoot, LoaderError> {
        let mut out = DiskBoot::default();
        let (Some(boot_img), Some(core)) = (&prepared.mbr_boot_img, &prepared.bios_core) else {
            return Ok(out);
        };
        let mut core = core.clone();
        let sector = layout.sector_size;
        if let Some(part) = layout.by_role(PartRole::BiosBoot) {
            // GPT: core.img fills the BIOS boot partition.
            let lba = part.start / sector;
            patch_core_img(&mut core, lba, part.size / sector)?;
            out.mbr_boot_code = Some(mbr_boot_code(boot_img, lba)?);
            out.bios_boot = Some(core);
        } else if layout.table == TableKind::Mbr {
            // MBR: core.img goes in the gap between the MBR and the first
            // partition (sectors 1..), as grub-install does.
            let first = layout
                .partitions
                .iter()
                .map(|p| p.start)
                .min()
                .unwrap_or(layout.disk_size);
            let gap = (first / sector).saturating_sub(1);
            patch_core_img(&mut core, 1, gap)?;
            out.mbr_boot_code = Some(mbr_boot_code(boot_img, 1)?);
            out.raw_blobs.push(RawBlob {
                name: "GRUB core.img".into(),
                offset: sector,
                data: core,
                allow_mbr_bootcode: false,
            });
        } else {
            return Err(LoaderError::Failed {
                loader: NAME,
                message: "BIOS boot on a GPT disk needs a partition with role = \"bios-boot\" in the board profile".into(),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mkimage_args_per_platform() {
        let bios = mkimage_args("i386-pc", "/tmp/core.img", "/tmp/early.cfg");
        assert_eq!(
            &bios[..9],
            [
                "grub-mkimage",
                "-O",
                "i386-pc",
                "-o",
                "/tmp/core.img",
                "-c",
                "/tmp/early.cfg",
                "-p",
                "/boot/grub"
            ]
        );
        assert!(bios.contains(&"biosdisk".to_owned()));
        assert!(!bios.contains(&"efi_gop".to_owned()));
        let efi = mkimage_args("x86_64-efi", "/tmp/x.efi", "/tmp/e.cfg");
        assert!(efi.contains(&"efi_gop".to_owned()));
        assert!(efi.contains(&"part_gpt".to_owned()) && efi.contains(&"ext2".to_owned()));
    }

    #[test]
    fn efi_file_names() {
        assert_eq!(efi_boot_file("x86_64-efi"), Some("EFI/BOOT/BOOTX64.EFI"));
        assert_eq!(efi_boot_file("i386-pc"), None);
    }
}
