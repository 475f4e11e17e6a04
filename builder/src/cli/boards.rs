use clap::Args;
use serde::Serialize;
use std::path::Path;

use crate::data;
use crate::spec::profile;

#[derive(Args, Debug)]
pub struct BoardsArgs {
    /// Print one JSON array, a board per element
    #[arg(long)]
    pub json: bool,
}

/// A board of `clic boards --json`. Field order is fixed.
#[derive(Debug, Serialize)]
pub struct Board {
    pub name: String,
    pub arch: String,
    pub description: String,
    /// QEMU firmware it boots with, the default first (`bios`, `uefi`).
    pub firmware: Vec<String>,
    /// Suites it is known to work with; empty: any.
    pub suites: Vec<String>,
    pub loader: String,
    /// Raspberry Pi Imager device tags (an os_list.json entry is written).
    pub imager_devices: Vec<String>,
}

impl Board {
    pub fn from_profile(p: &profile::LoadedProfile) -> Board {
        Board {
            name: p.name.clone(),
            arch: p.profile.arch.clone(),
            description: p.profile.description.clone(),
            firmware: p
                .profile
                .qemu
                .firmware
                .iter()
                .map(|f| f.to_string())
                .collect(),
            suites: p.profile.suites.clone(),
            loader: p.profile.boot.loader.clone(),
            imager_devices: p.profile.imager_devices.clone(),
        }
    }
}

pub fn run(a: BoardsArgs, data_dir: Option<&Path>) -> anyhow::Result<()> {
    let data = data::locate(data_dir)?;
    let mut problems = Vec::new();
    let mut boards = Vec::new();
    for path in profile::list(&data.profiles())? {
        match profile::load(&path) {
            Ok(p) => {
                let b = Board::from_profile(&p);
                if !a.json {
                    println!(
                        "{:<20} {:<6} {:<8} {}",
                        b.name,
                        b.arch,
                        b.firmware.join("+"),
                        b.description
                    );
                }
                boards.push(b);
            }
            Err(d) => problems.push(d.to_string()),
        }
    }
    if !problems.is_empty() {
        anyhow::bail!("some profiles are broken:\n{}", problems.join(""));
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&boards)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_as_json_with_a_fixed_shape() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let paths = profile::list(&repo.join("profiles")).unwrap();
        assert!(!paths.is_empty());
        for path in paths {
            let p = profile::load(&path).unwrap();
            let v = serde_json::to_value(Board::from_profile(&p)).unwrap();
            let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
            assert_eq!(
                keys,
                [
                    "arch",
                    "description",
                    "firmware",
                    "imager_devices",
                    "loader",
                    "name",
                    "suites"
                ],
                "{}",
                path.display()
            );
            assert_eq!(v["name"], p.name.as_str());
            let text = serde_json::to_string(&Board::from_profile(&p)).unwrap();
            assert!(text.starts_with("{\"name\":"), "{text}");
        }
    }
}
