use clap::Args;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use super::Exit;
use crate::flash::{self, device, probe, BmapChoice, Options};
use crate::spec::size::human;

/// Exit code when at least one device failed (the others are fine).
pub const DEVICE_FAILED: i32 = 3;

#[derive(Args, Debug)]
pub struct FlashArgs {
    /// The image: NAME.img or NAME.img.zst (its NAME.img.bmap is used when
    /// it is beside it)
    pub image: PathBuf,
    /// Whole devices to write (/dev/sdb, /dev/mmcblk0), all at once
    #[arg(required = true)]
    pub devices: Vec<PathBuf>,
    /// Do not ask for confirmation
    #[arg(long, short)]
    pub yes: bool,
    /// Also write fixed (non-removable) disks
    #[arg(long)]
    pub force: bool,
    /// Progress and results as JSON lines on stdout
    #[arg(long)]
    pub json: bool,
    /// The block map to use (default: the .bmap beside the image)
    #[arg(long, value_name = "FILE", conflicts_with = "no_bmap")]
    pub bmap: Option<PathBuf>,
    /// Ignore any .bmap: map the image's own filesystems (.img) or write
    /// every byte (.img.zst)
    #[arg(long)]
    pub no_bmap: bool,
    /// Only read the devices back and compare them with the image
    #[arg(long)]
    pub verify_only: bool,
}

pub fn run(a: FlashArgs) -> anyhow::Result<()> {
    let opts = Options {
        image: a.image.clone(),
        bmap: match (&a.bmap, a.no_bmap) {
            (Some(p), _) => BmapChoice::File(p.clone()),
            (None, true) => BmapChoice::None,
            (None, false) => BmapChoice::Auto,
        },
        json: a.json,
        verify_only: a.verify_only,
    };
    let prepared = flash::prepare(&opts)?;
    let plan = &prepared.plan;
    if !a.json {
        eprintln!(
            "clic: {}: {} image, {} to write ({:.0}%), from {}",
            a.image.display(),
            human(plan.image_size),
            human(plan.bytes()),
            100.0 * plan.bytes() as f64 / plan.image_size.max(1) as f64,
            prepared.source
        );
    }

    let facts: Vec<device::DeviceFacts> = a.devices.iter().map(|d| probe::probe(d)).collect();
    let mut problems = Vec::new();
    for (i, f) in facts.iter().enumerate() {
        if facts[..i]
            .iter()
            .any(|g| !f.name.is_empty() && g.name == f.name)
        {
            problems.push(format!("{}: given twice (/dev/{})", f.path, f.name));
        }
        // Reading back needs no removable disk.
        for r in device::refusals(f, plan.image_size, a.force || a.verify_only) {
            problems.push(format!("{} {r}", f.path));
        }
    }
    if !problems.is_empty() {
        let n = problems.len();
        return Err(Exit {
            code: 1,
            message: format!(
                "refusing to write:\n  {}\n(nothing was written{})",
                problems.join("\n  "),
                if n > 1 {
                    "; every problem is listed"
                } else {
                    ""
                }
            ),
        }
        .into());
    }

    if !a.verify_only && !a.yes {
        confirm(&facts)?;
    }
    let report = flash::flash(&opts, &prepared, &facts)?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"event": "done", "ok": report.ok(), "report": report})
        );
    } else {
        for d in &report.devices {
            match &d.error {
                None => eprintln!(
                    "clic: {}: {} ({} written in {:.1} s, verified in {:.1} s)",
                    d.device,
                    if a.verify_only {
                        "matches the image"
                    } else {
                        "written and verified"
                    },
                    human(report.mapped),
                    d.write_seconds,
                    d.verify_seconds
                ),
                Some(e) => eprintln!("clic: {}: FAILED: {e}", d.device),
            }
        }
    }
    let failed: Vec<&str> = report
        .devices
        .iter()
        .filter(|d| !d.ok)
        .map(|d| d.device.as_str())
        .collect();
    if failed.is_empty() {
        if !a.json {
            let paths: Vec<&str> = report.devices.iter().map(|d| d.device.as_str()).collect();
            println!("{}", paths.join(" "));
        }
        return Ok(());
    }
    Err(Exit {
        code: DEVICE_FAILED,
        message: format!(
            "{} of {} device(s) failed: {}",
            failed.len(),
            report.devices.len(),
            failed.join(", ")
        ),
    }
    .into())
}

/// Show what will be erased and ask for `yes` on the terminal.
fn confirm(facts: &[device::DeviceFacts]) -> anyhow::Result<()> {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "Everything on these devices will be erased:");
    for f in facts {
        let _ = writeln!(err, "  {}", device::describe(f));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Exit {
            code: 1,
            message: "no terminal to confirm on: pass --yes to write without asking".into(),
        }
        .into());
    }
    let _ = write!(err, "Type yes to write them: ");
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != "yes" {
        return Err(Exit {
            code: 1,
            message: "not confirmed: nothing was written".into(),
        }
        .into());
    }
    Ok(())
}
