//! GRUB for BIOS on a GPT disk with a BIOS boot partition, installed the
//! way `grub-bios-setup` does it but computed in memory: boot.img goes into
//! the MBR boot code pointing at core.img's first sector, and core.img's
//! first sector (diskboot.img) gets the block list of the rest of core.img.
//! No Reed-Solomon redundancy is added (GRUB treats its absence as "nothing
//! to recover").

/// Offset in boot.img of the u64 LBA of core.img's first sector
/// (`GRUB_BOOT_MACHINE_KERNEL_SECTOR`).
pub const KERNEL_SECTOR: usize = 0x5c;
/// Offset in boot.img of the boot drive byte (`GRUB_BOOT_MACHINE_BOOT_DRIVE`).
pub const BOOT_DRIVE: usize = 0x64;
/// Offset in boot.img of the 2-byte jump that trusts the BIOS drive number
/// (`GRUB_BOOT_MACHINE_DRIVE_CHECK`).
pub const DRIVE_CHECK: usize = 0x66;
/// The block list sits in the last 12 bytes of diskboot.img's sector:
/// u64 start, u16 length (sectors), u16 segment.
pub const BLOCKLIST: usize = 0x200 - 12;
/// Where diskboot loads the rest of core.img: 0x800 (core) + 0x20 (512 B).
pub const CORE_SEGMENT: u16 = 0x820;
const SECTOR: usize = 512;
const BOOT_CODE_LEN: usize = 440;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GrubError {
    #[error("boot.img is {len} bytes; GRUB's i386-pc boot.img is exactly 512")]
    BootImgSize { len: usize },
    #[error("boot.img has no 0x55AA signature; is it GRUB's i386-pc boot.img?")]
    BootImgSignature,
    #[error("boot.img has boot drive byte {found:#04x} at 0x64 where GRUB writes 0xff")]
    BootImgDrive { found: u8 },
    #[error("core.img is {len} bytes, too short to hold diskboot.img")]
    CoreTooShort { len: usize },
    #[error("core.img's block list says {found} sectors follow diskboot.img but the file holds {expected}; was it made by grub-mkimage -O i386-pc?")]
    CoreLength { found: u16, expected: u64 },
    #[error("core.img's block list loads at segment {found:#06x}, not 0x0820; was it made by grub-mkimage -O i386-pc?")]
    CoreSegment { found: u16 },
    #[error("core.img needs {needed} sectors but the BIOS boot partition has {available}; make the bios-boot partition larger")]
    CoreTooLarge { needed: u64, available: u64 },
    #[error("core.img sector numbers overflow")]
    Overflow,
}

/// The 440 bytes of MBR boot code: boot.img's code, told to load core.img
/// from `core_lba` and to use the drive number the BIOS passes.
pub fn mbr_boot_code(boot_img: &[u8], core_lba: u64) -> Result<[u8; 440], GrubError> {
    if boot_img.len() != SECTOR {
        return Err(GrubError::BootImgSize {
            len: boot_img.len(),
        });
    }
    if boot_img[510..512] != [0x55, 0xAA] {
        return Err(GrubError::BootImgSignature);
    }
    if boot_img[BOOT_DRIVE] != 0xff {
        return Err(GrubError::BootImgDrive {
            found: boot_img[BOOT_DRIVE],
        });
    }
    let mut code = [0u8; BOOT_CODE_LEN];
    code.copy_from_slice(&boot_img[..BOOT_CODE_LEN]);
    code[KERNEL_SECTOR..KERNEL_SECTOR + 8].copy_from_slice(&core_lba.to_le_bytes());
    // Hard disk: some BIOSes pass a bogus drive number; skip the check
    // that would trust it, as grub-bios-setup does.
    code[DRIVE_CHECK] = 0x90;
    code[DRIVE_CHECK + 1] = 0x90;
    Ok(code)
}

/// Point core.img's block list at the sectors after `core_lba`, where the
/// rest of core.img will sit, checking that it fits a partition of
/// `partition_sectors` sectors.
pub fn patch_core_img(
    core: &mut [u8],
    core_lba: u64,
    partition_sectors: u64,
) -> Result<(), GrubError> {
    if core.len() < SECTOR {
        return Err(GrubError::CoreTooShort { len: core.len() });
    }
    let sectors = (core.len() as u64).div_ceil(SECTOR as u64);
    if sectors > partition_sectors {
        return Err(GrubError::CoreTooLarge {
            needed: sectors,
            available: partition_sectors,
        });
    }
    let len = u16::from_le_bytes([core[BLOCKLIST + 8], core[BLOCKLIST + 9]]);
    if u64::from(len) != sectors - 1 {
        return Err(GrubError::CoreLength {
            found: len,
            expected: sectors - 1,
        });
    }
    let segment = u16::from_le_bytes([core[BLOCKLIST + 10], core[BLOCKLIST + 11]]);
    if segment != CORE_SEGMENT {
        return Err(GrubError::CoreSegment { found: segment });
    }
    let start = core_lba.checked_add(1).ok_or(GrubError::Overflow)?;
    core[BLOCKLIST..BLOCKLIST + 8].copy_from_slice(&start.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot_img() -> Vec<u8> {
        let mut b: Vec<u8> = (0..512u32).map(|i| (i % 200) as u8).collect();
        b[BOOT_DRIVE] = 0xff;
        b[DRIVE_CHECK] = 0x74; // jz
        b[DRIVE_CHECK + 1] = 0x05;
        b[510] = 0x55;
        b[511] = 0xAA;
        b
    }

    fn core_img(len: usize) -> Vec<u8> {
        let mut c = vec![0xCCu8; len];
        let follow = (len as u64).div_ceil(512) - 1;
        c[BLOCKLIST..BLOCKLIST + 8].copy_from_slice(&2u64.to_le_bytes());
        c[BLOCKLIST + 8..BLOCKLIST + 10].copy_from_slice(&(follow as u16).to_le_bytes());
        c[BLOCKLIST + 10..BLOCKLIST + 12].copy_from_slice(&0x820u16.to_le_bytes());
        c
    }

    #[test]
    fn boot_code_points_at_core_and_skips_drive_check() {
        let img = boot_img();
        let code = mbr_boot_code(&img, 2048).unwrap();
        assert_eq!(&code[0x5c..0x64], &2048u64.to_le_bytes());
        assert_eq!(&code[0x66..0x68], &[0x90, 0x90]);
        assert_eq!(code[0x64], 0xff);
        // Everything else is boot.img's.
        for i in (0..440).filter(|i| !(0x5c..0x64).contains(i) && !(0x66..0x68).contains(i)) {
            assert_eq!(code[i], img[i], "byte {i:#x}");
        }
    }

    #[test]
    fn bad_boot_img_is_refused() {
        assert_eq!(
            mbr_boot_code(&[0u8; 440], 1),
            Err(GrubError::BootImgSize { len: 440 })
        );
        let mut img = boot_img();
        img[511] = 0;
        assert_eq!(mbr_boot_code(&img, 1), Err(GrubError::BootImgSignature));
        let mut img = boot_img();
        img[BOOT_DRIVE] = 0x80;
        assert!(matches!(
            mbr_boot_code(&img, 1),
            Err(GrubError::BootImgDrive { .. })
        ));
    }

    #[test]
    fn core_blocklist_starts_after_its_first_sector() {
        let mut core = core_img(30_000); // 59 sectors, the last one partial
        let before = core.clone();
        patch_core_img(&mut core, 2048, 2048).unwrap();
        assert_eq!(&core[0x1f4..0x1fc], &2049u64.to_le_bytes());
        assert_eq!(&core[0x1fc..0x1fe], &58u16.to_le_bytes());
        assert_eq!(&core[0x1fe..0x200], &0x820u16.to_le_bytes());
        assert_eq!(core[..0x1f4], before[..0x1f4]);
        assert_eq!(core[0x200..], before[0x200..]);
    }

    #[test]
    fn core_checks() {
        let mut core = core_img(30_000);
        assert_eq!(
            patch_core_img(&mut core, 2048, 58),
            Err(GrubError::CoreTooLarge {
                needed: 59,
                available: 58
            })
        );
        let mut core = core_img(30_000);
        core[0x1fc] = 3;
        assert!(matches!(
            patch_core_img(&mut core, 2048, 2048),
            Err(GrubError::CoreLength {
                found: 3,
                expected: 58
            })
        ));
        let mut core = core_img(1024);
        core[0x1fe] = 0;
        assert!(matches!(
            patch_core_img(&mut core, 2048, 2048),
            Err(GrubError::CoreSegment { .. })
        ));
        assert_eq!(
            patch_core_img(&mut [0u8; 100], 1, 10),
            Err(GrubError::CoreTooShort { len: 100 })
        );
        let mut core = core_img(1024);
        assert_eq!(
            patch_core_img(&mut core, u64::MAX, 10),
            Err(GrubError::Overflow)
        );
    }
}
