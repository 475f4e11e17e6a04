use std::path::Path;

use crate::data;
use crate::spec::profile;

pub fn run(data_dir: Option<&Path>) -> anyhow::Result<()> {
    let data = data::locate(data_dir)?;
    let mut problems = Vec::new();
    for path in profile::list(&data.profiles())? {
        match profile::load(&path) {
            Ok(p) => {
                let fw: Vec<String> = p
                    .profile
                    .qemu
                    .firmware
                    .iter()
                    .map(|f| f.to_string())
                    .collect();
                println!(
                    "{:<20} {:<6} {:<8} {}",
                    p.name,
                    p.profile.arch,
                    fw.join("+"),
                    p.profile.description
                );
            }
            Err(d) => problems.push(d.to_string()),
        }
    }
    if !problems.is_empty() {
        anyhow::bail!("some profiles are broken:\n{}", problems.join(""));
    }
    Ok(())
}
