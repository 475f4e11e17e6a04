//! Command-line interface: one file per command.

pub mod boards;
pub mod boot;
pub mod build;
pub mod check;
pub mod content;
pub mod docs;
pub mod flash;
pub mod inspect;
pub mod plan;
pub mod release;
pub mod settings;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "clic",
    version,
    about = "Build, boot and flash CLIC! box images",
    max_term_width = 80
)]
pub struct Cli {
    /// Directory holding profiles/ and overlays/ (default: the repository
    /// around the current directory or the binary, then /usr/share/clic)
    #[arg(long, global = true, env = "CLIC_DATA")]
    pub data: Option<PathBuf>,
    /// Download cache shared by builds (default: /var/cache/clic as root)
    #[arg(long, global = true, env = "CLIC_CACHE")]
    pub cache: Option<PathBuf>,
    /// Only errors and warnings on stderr (`clic boot`: no console copy)
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also every command clic runs and its whole output, on stderr
    #[arg(long, short, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build an image from a spec
    Build(build::BuildArgs),
    /// Check a spec, its board and its layers without building
    Check(check::CheckArgs),
    /// Boot an image under QEMU and watch its serial console
    Boot(boot::BootArgs),
    /// Check an image's partitions, boot files and root= without booting it
    Inspect(inspect::InspectArgs),
    /// Write an image to SD cards or USB disks, several at once, and
    /// verify them
    Flash(flash::FlashArgs),
    /// A release's jobs without building: the Debian trees each board
    /// needs (shared by boards of one architecture), their cache files,
    /// the artifacts
    Plan(plan::PlanArgs),
    /// Write the release files of an image: .img.zst, .img.bmap,
    /// os_list.json (Pi boards), SHA256SUMS (clic build writes them too)
    Release(release::ReleaseArgs),
    /// Content packs: fetch their items into the cache
    Content(content::ContentArgs),
    /// List the board profiles
    Boards(boards::BoardsArgs),
    /// List the settings each layer takes: type, default, clic.txt key
    Settings(settings::SettingsArgs),
    /// Print a shell completion script (bash, zsh, fish) on stdout
    Completions(docs::CompletionsArgs),
    /// Write the man pages (clic.1, clic-COMMAND.1) into a directory
    #[command(hide = true)]
    Man(docs::ManArgs),
}

impl Command {
    /// Commands that only read and print: nothing to clean up if they are
    /// stopped halfway.
    pub fn only_reads(&self) -> bool {
        matches!(
            self,
            Command::Check(_)
                | Command::Inspect(_)
                | Command::Boards(_)
                | Command::Plan(_)
                | Command::Settings(_)
                | Command::Completions(_)
        )
    }
}

/// An error that already printed itself (diagnostics) or carries an exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    pub code: i32,
    pub message: String,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    crate::ui::set_level(crate::ui::level_from(cli.quiet, cli.verbose));
    let data = cli.data.as_deref();
    match cli.command {
        Command::Build(a) => build::run(a, data, cli.cache.as_deref()),
        Command::Check(a) => check::run(a, data),
        Command::Boot(a) => boot::run(a, data),
        Command::Inspect(a) => inspect::run(a, data),
        Command::Release(a) => release::run(a, data),
        Command::Flash(a) => flash::run(a),
        Command::Content(a) => content::run(a, data, cli.cache.as_deref()),
        Command::Boards(a) => boards::run(a, data),
        Command::Plan(a) => plan::run(a, data, cli.cache.as_deref()),
        Command::Settings(a) => settings::run(a, data),
        Command::Completions(a) => docs::completions(a),
        Command::Man(a) => docs::man(a),
    }
}
