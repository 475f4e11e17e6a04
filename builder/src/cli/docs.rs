//! Shell completions and man pages, generated from the clap definitions
//! (`clic completions SHELL`, `clic man DIR`; `make install` uses both).

use clap::{Args, CommandFactory};
use std::path::{Path, PathBuf};

use super::Cli;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// bash, zsh or fish (elvish and powershell work too)
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Directory to write clic.1 and clic-COMMAND.1 into (made if missing)
    pub dir: PathBuf,
}

pub fn completions(a: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "clic", &mut std::io::stdout());
    Ok(())
}

/// The man pages: (file name, roff text), `clic.1` first, then one per
/// visible command.
pub fn man_pages() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = Cli::command();
    // Global options shown in every command's page.
    cmd.build();
    let mut pages = Vec::new();
    let mut top = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut top)?;
    pages.push(("clic.1".to_owned(), top));
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let name = format!("clic-{}", sub.get_name());
        let sub = sub
            .clone()
            .name(name.clone())
            .display_name(name.clone())
            .bin_name(name.clone());
        let mut page = Vec::new();
        clap_mangen::Man::new(sub).render(&mut page)?;
        pages.push((format!("{name}.1"), page));
    }
    Ok(pages)
}

pub fn man(a: ManArgs) -> anyhow::Result<()> {
    write_man_pages(&a.dir)
}

fn write_man_pages(dir: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in man_pages()? {
        let path = dir.join(&name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        // The files written are the result.
        println!("{}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_per_visible_command() {
        let pages = man_pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[0], "clic.1");
        for want in [
            "clic-build.1",
            "clic-check.1",
            "clic-boards.1",
            "clic-completions.1",
        ] {
            assert!(names.contains(&want), "{names:?}");
        }
        assert!(!names.contains(&"clic-man.1"), "{names:?}");
        let build = &pages.iter().find(|(n, _)| n == "clic-build.1").unwrap().1;
        let text = String::from_utf8_lossy(build);
        assert!(text.contains("clic\\-build"), "{text}");
        assert!(text.contains("\\-\\-json"), "{text}");
    }

    #[test]
    fn help_fits_80_columns() {
        let mut cmd = Cli::command();
        cmd.build();
        let mut all = vec![cmd.clone()];
        all.extend(cmd.get_subcommands().cloned());
        for mut c in all {
            let help = c.render_long_help().to_string();
            for line in help.lines() {
                assert!(line.chars().count() <= 80, "{}: {line}", c.get_name());
            }
        }
    }
}
