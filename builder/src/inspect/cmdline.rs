//! Pure readers of boot configuration text: kernel command lines (GRUB
//! `linux` lines, extlinux `append` lines, `cmdline.txt`), the `root=` they
//! pass, GRUB's `search --fs-uuid`, and the files a Raspberry Pi
//! `config.txt` names. Line numbers are 1-based.

use std::fmt;

/// What `root=` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSpec {
    PartUuid(String),
    Uuid(String),
    Label(String),
    PartLabel(String),
    /// `/dev/NAME` with the partition number at its end, if any.
    Device {
        path: String,
        number: Option<u32>,
    },
    /// Anything else (e.g. a GRUB variable left unexpanded).
    Other(String),
}

impl fmt::Display for RootSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootSpec::PartUuid(v) => write!(f, "PARTUUID={v}"),
            RootSpec::Uuid(v) => write!(f, "UUID={v}"),
            RootSpec::Label(v) => write!(f, "LABEL={v}"),
            RootSpec::PartLabel(v) => write!(f, "PARTLABEL={v}"),
            RootSpec::Device { path, .. } => f.write_str(path),
            RootSpec::Other(v) => f.write_str(v),
        }
    }
}

/// The `root=` the kernel will use: the last one on the line.
pub fn root_arg(cmdline: &str) -> Option<RootSpec> {
    let value = cmdline
        .split_whitespace()
        .filter_map(|w| unquote(w).strip_prefix("root="))
        .next_back()?;
    if value.contains('$') {
        return Some(RootSpec::Other(value.to_owned()));
    }
    let tagged = |tag: &str| {
        value
            .get(..tag.len())
            .filter(|t| t.eq_ignore_ascii_case(tag))
            .map(|_| value[tag.len()..].to_owned())
    };
    Some(if let Some(v) = tagged("PARTUUID=") {
        RootSpec::PartUuid(v)
    } else if let Some(v) = tagged("UUID=") {
        RootSpec::Uuid(v)
    } else if let Some(v) = tagged("PARTLABEL=") {
        RootSpec::PartLabel(v)
    } else if let Some(v) = tagged("LABEL=") {
        RootSpec::Label(v)
    } else if value.starts_with("/dev/") {
        let digits = value.len() - value.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        RootSpec::Device {
            path: value.to_owned(),
            number: value[value.len() - digits..].parse().ok(),
        }
    } else {
        RootSpec::Other(value.to_owned())
    })
}

fn unquote(w: &str) -> &str {
    w.trim_matches(|c| c == '"' || c == '\'')
}

/// Lines without leading blanks, numbered, skipping comments.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

/// The command lines of a GRUB configuration: what follows the kernel
/// path on each `linux` (`linux16`, `linuxefi`) line.
pub fn grub_cmdlines(cfg: &str) -> Vec<(usize, String)> {
    lines(cfg)
        .filter_map(|(n, l)| {
            let mut words = l.split_whitespace();
            let cmd = words.next()?;
            if !matches!(cmd, "linux" | "linux16" | "linuxefi") {
                return None;
            }
            let _kernel = words.next();
            Some((n, words.collect::<Vec<_>>().join(" ")))
        })
        .collect()
}

/// The UUIDs GRUB searches a filesystem by (`search --fs-uuid`, `search -u`,
/// `search.fs_uuid`).
pub fn grub_search_uuids(cfg: &str) -> Vec<(usize, String)> {
    lines(cfg)
        .filter_map(|(n, l)| {
            let words: Vec<&str> = l.split_whitespace().map(unquote).collect();
            match words.first() {
                Some(&"search.fs_uuid") => words.get(1).map(|u| (n, (*u).to_owned())),
                Some(&"search") if words.iter().any(|w| *w == "--fs-uuid" || *w == "-u") => {
                    // Options come first, the UUID last.
                    words
                        .iter()
                        .skip(1)
                        .rfind(|w| !w.starts_with('-'))
                        .map(|u| (n, (*u).to_owned()))
                }
                _ => None,
            }
        })
        .collect()
}

/// The `append` lines of an extlinux.conf.
pub fn extlinux_cmdlines(text: &str) -> Vec<(usize, String)> {
    lines(text)
        .filter_map(|(n, l)| {
            let (key, rest) = l.split_once(char::is_whitespace)?;
            key.eq_ignore_ascii_case("append")
                .then(|| (n, rest.trim().to_owned()))
        })
        .collect()
}

/// `cmdline.txt`: its first line.
pub fn text_cmdline(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .next()
        .map(|l| vec![(1, l.trim().to_owned())])
        .unwrap_or_default()
}

/// A file a Raspberry Pi `config.txt` makes the firmware load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub line: usize,
    /// `kernel`, `initramfs` or `device_tree`.
    pub key: &'static str,
    /// Relative to the boot partition, with `os_prefix` applied.
    pub path: String,
}

/// The kernel, initramfs and device tree files `config.txt` names, in every
/// conditional section (any of them may be the one a given Pi reads).
pub fn rpi_config_files(text: &str) -> Vec<ConfigFile> {
    let mut prefix = String::new();
    let mut found = Vec::new();
    for (line, l) in lines(text) {
        if l.starts_with('[') {
            continue;
        }
        if let Some((key, value)) = l.split_once('=') {
            let (key, value) = (key.trim(), value.trim());
            match key {
                "os_prefix" => prefix = value.to_owned(),
                "kernel" | "device_tree" if !value.is_empty() => found.push(ConfigFile {
                    line,
                    key: if key == "kernel" {
                        "kernel"
                    } else {
                        "device_tree"
                    },
                    path: value.to_owned(),
                }),
                _ => {}
            }
        } else if let Some(rest) = l.strip_prefix("initramfs") {
            if let Some(name) = rest.split_whitespace().next() {
                found.push(ConfigFile {
                    line,
                    key: "initramfs",
                    path: name.to_owned(),
                });
            }
        }
    }
    for f in &mut found {
        f.path = format!("{prefix}{}", f.path);
    }
    found
}

/// The kernel, initramfs and device tree files an extlinux.conf names
/// (paths from the root of the partition holding it).
pub fn extlinux_files(text: &str) -> Vec<ConfigFile> {
    let mut found = Vec::new();
    for (line, l) in lines(text) {
        let mut words = l.split_whitespace();
        let (Some(key), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let key = match key.to_ascii_lowercase().as_str() {
            "kernel" | "linux" => "kernel",
            "initrd" => "initrd",
            "fdt" | "devicetree" => "fdt",
            "fdtdir" | "devicetreedir" => "fdtdir",
            _ => continue,
        };
        // initrd may list several files separated by commas.
        for v in value.split(',') {
            found.push(ConfigFile {
                line,
                key,
                path: v.to_owned(),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extlinux_names_kernel_initrd_and_fdt() {
        let text = "## /boot/extlinux/extlinux.conf\ndefault l0\nlabel l0\n\
                    \tmenu label Debian\n\tlinux /boot/vmlinuz-6.1.0-9-arm64\n\
                    \tinitrd /boot/initrd.img-6.1.0-9-arm64\n\
                    \tfdt /usr/lib/linux-image-6.1.0-9-arm64/amlogic/n2.dtb\n\
                    \tappend root=PARTUUID=1-01 ro\n";
        let f = extlinux_files(text);
        let keys: Vec<_> = f.iter().map(|c| (c.line, c.key, c.path.as_str())).collect();
        assert_eq!(
            keys,
            [
                (5, "kernel", "/boot/vmlinuz-6.1.0-9-arm64"),
                (6, "initrd", "/boot/initrd.img-6.1.0-9-arm64"),
                (
                    7,
                    "fdt",
                    "/usr/lib/linux-image-6.1.0-9-arm64/amlogic/n2.dtb"
                ),
            ]
        );
    }

    const GRUB_CFG: &str = "\
# Written by clic.
set default=0
search --no-floppy --fs-uuid --set=root 0f0e0d0c-0b0a-4908-8706-050403020100

menuentry 'clic' {
    linux /vmlinuz root=PARTUUID=6a1b-x ro console=ttyS0,115200n8
    initrd /initrd.img
}
menuentry 'rescue' {
\tlinux16 /boot/vmlinuz-6.1 root=UUID=abc root=/dev/sda3 single
}
search.fs_uuid 1234-ABCD esp
";

    #[test]
    fn grub_linux_lines_and_searches() {
        let lines = grub_cmdlines(GRUB_CFG);
        assert_eq!(
            lines,
            [
                (
                    6,
                    "root=PARTUUID=6a1b-x ro console=ttyS0,115200n8".to_owned()
                ),
                (10, "root=UUID=abc root=/dev/sda3 single".to_owned()),
            ]
        );
        assert_eq!(
            grub_search_uuids(GRUB_CFG),
            [
                (3, "0f0e0d0c-0b0a-4908-8706-050403020100".to_owned()),
                (12, "1234-ABCD".to_owned())
            ]
        );
        assert!(grub_cmdlines("linuxfoo /x root=a\n# linux /v root=b").is_empty());
    }

    #[test]
    fn root_values() {
        assert_eq!(
            root_arg("ro root=PARTUUID=AbC-01 quiet"),
            Some(RootSpec::PartUuid("AbC-01".into()))
        );
        assert_eq!(root_arg("root=uuid=x"), Some(RootSpec::Uuid("x".into())));
        assert_eq!(root_arg("root=LABEL=r"), Some(RootSpec::Label("r".into())));
        assert_eq!(
            root_arg("root=PARTLABEL=r"),
            Some(RootSpec::PartLabel("r".into()))
        );
        // The last root= wins, as in the kernel.
        assert_eq!(
            root_arg("root=UUID=abc root=/dev/mmcblk0p2 rw"),
            Some(RootSpec::Device {
                path: "/dev/mmcblk0p2".into(),
                number: Some(2)
            })
        );
        assert_eq!(
            root_arg("root=/dev/sda"),
            Some(RootSpec::Device {
                path: "/dev/sda".into(),
                number: None
            })
        );
        assert_eq!(
            root_arg("root=${root_dev}"),
            Some(RootSpec::Other("${root_dev}".into()))
        );
        assert_eq!(root_arg("ro quiet noroot=x"), None);
        assert_eq!(
            root_arg("root=PARTUUID=a").unwrap().to_string(),
            "PARTUUID=a"
        );
    }

    #[test]
    fn extlinux_and_text() {
        let ext = "label l\n  kernel /vmlinuz\n  APPEND root=UUID=u ro\n";
        assert_eq!(extlinux_cmdlines(ext), [(3, "root=UUID=u ro".to_owned())]);
        assert_eq!(
            text_cmdline("console=tty1 root=PARTUUID=1-02 rw\n\nignored"),
            [(1, "console=tty1 root=PARTUUID=1-02 rw".to_owned())]
        );
        assert!(text_cmdline("").is_empty());
    }

    #[test]
    fn rpi_config_names_files() {
        let cfg = "\
# comment kernel=no.img
[pi4]
kernel=vmlinuz-6.1-arm64
initramfs initrd.img-6.1-arm64 followkernel
[all]
device_tree=bcm2711-rpi-4-b.dtb
os_prefix=current/
arm_64bit=1
";
        let f = rpi_config_files(cfg);
        let got: Vec<_> = f.iter().map(|f| (f.line, f.key, f.path.as_str())).collect();
        assert_eq!(
            got,
            [
                (3, "kernel", "current/vmlinuz-6.1-arm64"),
                (4, "initramfs", "current/initrd.img-6.1-arm64"),
                (6, "device_tree", "current/bcm2711-rpi-4-b.dtb"),
            ]
        );
        assert!(rpi_config_files("kernel=\ninitramfs\n").is_empty());
    }
}
