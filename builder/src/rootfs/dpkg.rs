//! Read the installed package set from `var/lib/dpkg/status`: works for any
//! architecture without running anything in the tree.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub struct InstalledPackage {
    pub name: String,
    pub version: String,
    pub architecture: String,
}

/// Packages whose status is `install ok installed`, sorted by name.
pub fn parse_status(text: &str) -> Vec<InstalledPackage> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let mut name = None;
        let mut version = None;
        let mut arch = None;
        let mut installed = false;
        for line in para.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                name = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Version: ") {
                version = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Architecture: ") {
                arch = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Status: ") {
                installed = v.trim() == "install ok installed";
            }
        }
        if let (true, Some(n), Some(v)) = (installed, name, version) {
            out.push(InstalledPackage {
                name: n.to_owned(),
                version: v.to_owned(),
                architecture: arch.unwrap_or("").to_owned(),
            });
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_installed_packages_only() {
        let status = "Package: nginx\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.22.1-9\nDescription: x\n more\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4\n";
        let p = parse_status(status);
        assert_eq!(
            p,
            vec![
                InstalledPackage {
                    name: "base-files".into(),
                    version: "12.4".into(),
                    architecture: "amd64".into()
                },
                InstalledPackage {
                    name: "nginx".into(),
                    version: "1.22.1-9".into(),
                    architecture: "amd64".into()
                },
            ]
        );
    }
}
