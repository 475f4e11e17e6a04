//! u-boot boards (Odroid C4/N2/XU4...): the SoC's boot ROM reads loaders
//! from fixed sectors of the SD card (vendor blobs pinned in `firmware/`,
//! Debian's u-boot), and u-boot's distro boot reads
//! `/boot/extlinux/extlinux.conf` from the root partition. That file is
//! written by Debian's own u-boot-menu from `/etc/default/u-boot`, so a
//! kernel update on the box keeps it right.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::{render_template_with, Bootloader, DiskBoot, LoaderContext, LoaderError, Prepared};
use crate::cmd::Cmd;
use crate::disk::image::RawBlob;
use crate::plan::layout::Layout;
use crate::spec::profile::{BlobConfig, BlobInput};

pub struct UBoot;

const NAME: &str = "u-boot";
pub const SECTOR: u64 = 512;
/// Where the image keeps copies of blobs that are not plain files of the
/// tree (combined or cut ones), so the box can rewrite its own bootloader
/// and `clic inspect` can compare the disk against them.
pub const COPIES_DIR: &str = "usr/lib/clic/u-boot";

fn io(context: String) -> impl FnOnce(std::io::Error) -> LoaderError {
    LoaderError::io(NAME, context)
}

fn failed(message: String) -> LoaderError {
    LoaderError::failed(NAME, message)
}

/// The file name a blob's copy gets in [`COPIES_DIR`] (pure).
pub fn copy_name(blob: &BlobConfig) -> String {
    let slug: String = blob
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{}-sector{}.bin", slug.trim_matches('-'), blob.sector)
}

/// Does the image keep a copy of this blob (not a whole plain file)?
pub fn needs_copy(blob: &BlobConfig) -> bool {
    let whole = blob.skip == 0 && blob.count.is_none();
    blob.output.is_some() || (blob.zeros.is_none() && !whole)
}

/// `dd`'s skip and count on a source (pure).
pub fn cut(name: &str, bytes: &[u8], skip: u64, count: Option<u64>) -> Result<Vec<u8>, String> {
    let len = bytes.len() as u64;
    let end = match count {
        Some(c) => skip.checked_add(c).ok_or("skip + count overflows")?,
        None => len,
    };
    if skip > len || end > len {
        return Err(format!(
            "blob `{name}`: bytes {skip}..{end} asked of a {len}-byte source"
        ));
    }
    Ok(bytes[skip as usize..end as usize].to_vec())
}

/// The file an input of a `[combine]` command names: one of the image
/// tree, or an output of a manifest's `[build]` (built before the
/// bootstrap, see [`crate::build::load_firmware`]).
fn input_path(root: &Path, ctx: &LoaderContext, input: &BlobInput) -> Result<PathBuf, LoaderError> {
    match input {
        BlobInput::ImageFile(f) => Ok(root.join(f.trim_start_matches('/'))),
        BlobInput::Built(r) => ctx
            .firmware
            .get(&r.firmware)
            .ok_or_else(|| failed(format!("firmware `{}` was not loaded", r.firmware)))?
            .built_output(&r.output)
            .map_err(|e| failed(e.to_string())),
    }
}

impl UBoot {
    fn blob_bytes(
        &self,
        root: &Path,
        ctx: &LoaderContext,
        b: &BlobConfig,
        combined: &mut BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    ) -> Result<Vec<u8>, LoaderError> {
        if let Some(n) = b.zeros {
            let n = usize::try_from(n).map_err(|_| failed(format!("blob `{}` too big", b.name)))?;
            return Ok(vec![0u8; n]);
        }
        let source: Vec<u8> = if let Some(f) = &b.image_file {
            let p = root.join(f.trim_start_matches('/'));
            fs::read(&p).map_err(io(format!(
                "reading {f} from the image tree for blob `{}` (is its package in the profile?)",
                b.name
            )))?
        } else if let Some(fw_name) = &b.firmware {
            let fw = ctx.firmware.get(fw_name).ok_or_else(|| {
                failed(format!(
                    "blob `{}`: firmware `{fw_name}` was not loaded",
                    b.name
                ))
            })?;
            if let Some(file) = &b.file {
                let entry = fw.file(file).ok_or_else(|| {
                    failed(format!(
                        "blob `{}`: {} pins no file `{file}`",
                        b.name,
                        fw.manifest_path.display()
                    ))
                })?;
                let p = fw.path_of(entry);
                fs::read(&p).map_err(io(format!("reading {}", p.display())))?
            } else {
                let output = b.output.as_deref().unwrap_or_default();
                if !combined.contains_key(fw_name) {
                    // Inputs may be given on any blob cut from this output.
                    let mut inputs = BTreeMap::new();
                    let same = ctx.boot.blobs.iter().filter(|o| o.firmware == b.firmware);
                    for (k, v) in same.flat_map(|o| &o.inputs) {
                        inputs.insert(k.clone(), input_path(root, ctx, v)?);
                    }
                    let scratch = tempfile::Builder::new()
                        .prefix("clic-combine-")
                        .tempdir_in(&ctx.scratch)
                        .map_err(io("creating a scratch directory".into()))?;
                    crate::say!("clic: combining firmware `{fw_name}` with {inputs:?}");
                    let out = fw
                        .combine(&inputs, scratch.path())
                        .map_err(|e| failed(e.to_string()))?;
                    combined.insert(fw_name.clone(), out);
                }
                combined
                    .get(fw_name)
                    .and_then(|m| m.get(output))
                    .cloned()
                    .ok_or_else(|| {
                        failed(format!(
                            "blob `{}`: firmware `{fw_name}` makes no output `{output}`",
                            b.name
                        ))
                    })?
            }
        } else {
            return Err(failed(format!("blob `{}` has no source", b.name)));
        };
        cut(&b.name, &source, b.skip, b.count).map_err(failed)
    }
}

impl Bootloader for UBoot {
    fn prepare(&self, root: &Path, ctx: &LoaderContext) -> Result<Prepared, LoaderError> {
        let mut extra = tera::Context::new();
        extra.insert("fdt", &ctx.boot.fdt.clone().unwrap_or_default());
        let defaults = render_template_with(ctx, "u-boot.default.tera", NAME, extra)?;
        fs::write(root.join("etc/default/u-boot"), defaults)
            .map_err(io("writing /etc/default/u-boot".into()))?;
        if !root.join("usr/sbin/u-boot-update").exists() {
            return Err(failed(
                "/usr/sbin/u-boot-update is missing: add u-boot-menu to the profile's packages"
                    .into(),
            ));
        }
        if let Some(fdt) = &ctx.boot.fdt {
            let version = fs::read_link(root.join("vmlinuz"))
                .ok()
                .and_then(|l| super::rpi::kernel_version(&l))
                .ok_or_else(|| failed("no /vmlinuz -> boot/vmlinuz-VERSION link".into()))?;
            let p = root.join(format!("usr/lib/linux-image-{version}/{fdt}"));
            if !p.is_file() {
                return Err(failed(format!(
                    "device tree {fdt} is not in /usr/lib/linux-image-{version}"
                )));
            }
        }
        Cmd::new("chroot")
            .arg(root)
            .arg("u-boot-update")
            .run()
            .map_err(|source| LoaderError::Cmd {
                loader: NAME,
                context: "writing /boot/extlinux/extlinux.conf with u-boot-update".into(),
                source,
            })?;

        let mut combined = BTreeMap::new();
        let mut blobs = Vec::new();
        for b in &ctx.boot.blobs {
            let data = self.blob_bytes(root, ctx, b, &mut combined)?;
            if needs_copy(b) {
                let dir = root.join(COPIES_DIR);
                fs::create_dir_all(&dir).map_err(io(format!("creating /{COPIES_DIR}")))?;
                let p: PathBuf = dir.join(copy_name(b));
                fs::write(&p, &data).map_err(io(format!("writing {}", p.display())))?;
            }
            blobs.push(RawBlob {
                name: b.name.clone(),
                offset: b.sector * SECTOR,
                allow_mbr_bootcode: b.sector == 0,
                data,
            });
        }
        Ok(Prepared {
            raw_blobs: blobs,
            ..Prepared::default()
        })
    }

    fn place(&self, prepared: &Prepared, _layout: &Layout) -> Result<DiskBoot, LoaderError> {
        Ok(DiskBoot {
            raw_blobs: prepared.raw_blobs.clone(),
            ..DiskBoot::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(toml_text: &str) -> BlobConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn cut_is_dd_skip_and_count() {
        let b = b"0123456789";
        assert_eq!(cut("x", b, 0, None).unwrap(), b);
        assert_eq!(cut("x", b, 2, Some(3)).unwrap(), b"234");
        assert_eq!(cut("x", b, 8, None).unwrap(), b"89");
        assert!(cut("x", b, 11, None).is_err());
        assert!(cut("x", b, 5, Some(6)).unwrap_err().contains("`x`"));
    }

    #[test]
    fn copies_are_kept_for_combined_and_cut_blobs_only() {
        let whole =
            blob("name = \"u-boot\"\nsector = 63\nimage_file = \"/usr/lib/u-boot/x/u-boot.bin\"");
        assert!(!needs_copy(&whole));
        let part = blob("name = \"Boot header\"\nsector = 0\ncount = 440\nfirmware = \"n2\"\noutput = \"u-boot.bin.sd.bin\"");
        assert!(needs_copy(&part));
        assert_eq!(copy_name(&part), "boot-header-sector0.bin");
        let zeros = blob("name = \"env\"\nsector = 2015\nzeros = 16384");
        assert!(!needs_copy(&zeros));
        let pinned = blob("name = \"bl1\"\nsector = 1\nfirmware = \"xu4\"\nfile = \"bl1.bin\"");
        assert!(!needs_copy(&pinned));
    }

    #[test]
    fn inputs_are_image_files_or_built_outputs() {
        let b = blob(
            "name = \"FIP\"\nsector = 1\nfirmware = \"c4\"\noutput = \"sd.bin\"\n\
             inputs = { bl33 = { firmware = \"u-boot-c4\", output = \"u-boot.bin\" }, \
             ddr = \"/usr/lib/x.bin\" }",
        );
        assert_eq!(
            b.inputs["ddr"],
            BlobInput::ImageFile("/usr/lib/x.bin".into())
        );
        assert!(matches!(&b.inputs["bl33"], BlobInput::Built(r) if r.firmware == "u-boot-c4"));
        assert_eq!(b.firmware_names().collect::<Vec<_>>(), ["c4", "u-boot-c4"]);
        let e = toml::from_str::<BlobConfig>(
            "name = \"FIP\"\nsector = 1\ninputs = { bl33 = { firmware = \"x\" } }",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("output = "), "{e}");
    }

    #[test]
    fn a_blob_has_exactly_one_source() {
        assert!(blob("name = \"a\"\nsector = 1\nzeros = 1")
            .source_problem()
            .is_none());
        let two = blob("name = \"a\"\nsector = 1\nzeros = 1\nimage_file = \"/x\"");
        assert!(two.source_problem().unwrap().contains("exactly one"));
        let none = blob("name = \"a\"\nsector = 1");
        assert!(none.source_problem().is_some());
        let both = blob("name = \"a\"\nsector = 1\nfirmware = \"f\"\nfile = \"x\"\noutput = \"y\"");
        assert!(both.source_problem().unwrap().contains("file, output"));
        let stray = blob("name = \"a\"\nsector = 1\nzeros = 4\nfile = \"x\"");
        assert!(stray.source_problem().unwrap().contains("need firmware"));
    }
}
