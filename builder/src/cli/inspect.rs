use clap::Args;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::Exit;
use crate::artifact::manifest;
use crate::data;
use crate::firmware;
use crate::inspect::{self, InspectRules, Report};
use crate::spec::profile;

const WIDTH: usize = 80;
const MIB: u64 = 1024 * 1024;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The disk image (NAME.img; its NAME.manifest.json names the board)
    pub image: PathBuf,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
    /// Check against this board's boot rules instead of the manifest's
    #[arg(long)]
    pub board: Option<String>,
    /// Read the rules from a TOML file (the shape of a profile's rules)
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

pub fn run(a: InspectArgs, data_dir: Option<&Path>) -> anyhow::Result<()> {
    let name = a.image.to_string_lossy();
    if name.ends_with(".zst") {
        anyhow::bail!("{name} is compressed; inspect the .img (`zstd -d {name}` makes it)");
    }
    let manifest_path = manifest::path_for_image(&a.image);
    let manifest = if manifest_path.is_file() {
        Some(manifest::read(&manifest_path))
    } else {
        None
    };
    let board = a.board.clone().or_else(|| match &manifest {
        Some(Ok(m)) => Some(m.board.clone()),
        _ => None,
    });
    let rules = choose_rules(&a, board.as_deref(), data_dir)?;
    let mut report = inspect::inspect(&a.image, &rules)?;
    report.board = board;
    match &manifest {
        Some(Ok(m)) => inspect::check_manifest(&mut report, m, &manifest_path),
        Some(Err(e)) => report.push(inspect::Check::new("manifest", false, e.to_string())),
        None => {}
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_text(&report));
    }
    if report.ok {
        return Ok(());
    }
    let failed = report.failures().count();
    Err(Exit {
        code: 1,
        message: format!("{name}: {failed} of {} checks failed", report.checks.len()),
    }
    .into())
}

fn choose_rules(
    a: &InspectArgs,
    board: Option<&str>,
    data_dir: Option<&Path>,
) -> anyhow::Result<InspectRules> {
    if let Some(path) = &a.rules {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading rules {}: {e}", path.display()))?;
        return toml::from_str(&text).map_err(|e| anyhow::anyhow!("rules {}: {e}", path.display()));
    }
    let Some(b) = board else {
        eprintln!(
            "note: no manifest next to the image and no --board: checking the partition table and filesystems only"
        );
        return Ok(InspectRules::default());
    };
    let loaded = data::locate(data_dir)
        .map_err(anyhow::Error::from)
        .and_then(|d| {
            let path = d.profile_path(b);
            if !path.is_file() {
                anyhow::bail!("unknown board `{b}` (see `clic boards`)");
            }
            let p = profile::load(&path).map_err(|d| anyhow::anyhow!("{d}"))?;
            // The pins of the board's firmware (the files need not be here).
            let firmware =
                firmware::load_for_board(&p.profile.boot, &d.root, Path::new("/nonexistent"))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok((p, inspect::rules::pins_of(&firmware)))
        });
    let p = match loaded {
        Ok(p) => p,
        // The user asked for this board: its absence is an error.
        Err(e) if a.board.is_some() => return Err(e),
        Err(e) => {
            eprintln!("note: board `{b}` from the manifest: {e:#}; checking the partition table and filesystems only");
            return Ok(InspectRules::default());
        }
    };
    let (p, pins) = p;
    Ok(InspectRules::for_profile(&p.profile, &pins).unwrap_or_else(|| {
        eprintln!(
            "note: clic has no inspection rules for the `{}` boot loader; checking the partition table and filesystems only",
            p.profile.boot.loader
        );
        InspectRules::default()
    }))
}

fn size(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} B")
    }
}

/// The report for a terminal: the table, then one line per check (wrapped
/// to 80 columns).
pub fn render_text(r: &Report) -> String {
    let mut s = String::new();
    let board = r
        .board
        .as_deref()
        .map(|b| format!(", board {b}"))
        .unwrap_or_default();
    match &r.table {
        Some(t) => {
            let kind = match t.kind {
                inspect::TableKind::Gpt => "GPT",
                inspect::TableKind::Mbr => "MBR",
            };
            let _ = writeln!(s, "{}", r.image);
            wrap(
                &mut s,
                &format!("  {kind} {}, {}{board}", t.id, size(t.disk_size)),
            );
        }
        None => {
            let _ = writeln!(s, "{}: no partition table{board}", r.image);
        }
    }
    for p in &r.partitions {
        let e = &p.entry;
        let fs = p
            .filesystem
            .as_ref()
            .map(|f| {
                let label = f
                    .label
                    .as_deref()
                    .map(|l| format!(" '{l}'"))
                    .unwrap_or_default();
                format!("  {}{label}", f.version.as_deref().unwrap_or(&f.kind))
            })
            .unwrap_or_default();
        let line = format!(
            "  {:>2} {:<10} {:>9} at {:<9}{fs}",
            e.number,
            e.role.name(),
            size(e.size),
            size(e.start)
        );
        let _ = writeln!(s, "{}", line.trim_end());
        let _ = writeln!(s, "     PARTUUID {}", e.part_uuid);
        if let Some(f) = &p.filesystem {
            let _ = writeln!(s, "     UUID     {}", f.uuid);
        }
    }
    for c in &r.checks {
        let verdict = if c.ok { "ok  " } else { "FAIL" };
        wrap(&mut s, &format!("{verdict} {}: {}", c.name, c.detail));
    }
    s
}

/// Append `line`, broken at spaces into 80-column lines; continuation
/// lines are indented under the check's name.
fn wrap(out: &mut String, line: &str) {
    const INDENT: &str = "     ";
    let mut cur = String::new();
    for word in line.split(' ') {
        if !cur.trim().is_empty() && cur.len() + 1 + word.len() > WIDTH {
            out.push_str(cur.trim_end());
            out.push('\n');
            cur = INDENT.to_owned();
        } else if !cur.is_empty() && cur != INDENT {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    out.push_str(cur.trim_end());
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{
        Check, Filesystem, Partition, Role, TableInfo, TableKind, TablePartition,
    };

    fn report() -> Report {
        Report {
            image: "out/clic.img".into(),
            board: Some("ordinosaure-amd64".into()),
            table: Some(TableInfo {
                kind: TableKind::Gpt,
                id: "0f0e0d0c-0b0a-4908-8706-050403020100".into(),
                sector_size: 512,
                disk_size: 100 * MIB,
            }),
            partitions: vec![Partition {
                entry: TablePartition {
                    number: 2,
                    type_id: "c12a7328-f81f-11d2-ba4b-00a0c93ec93b".into(),
                    role: Role::Esp,
                    start: MIB,
                    size: 64 * MIB,
                    part_uuid: "7e2fb2ef-e7a4-46f0-9e9b-ab69be9011bd".into(),
                    name: Some("esp".into()),
                    bootable: false,
                },
                filesystem: Some(Filesystem {
                    kind: "vfat".into(),
                    version: Some("FAT32".into()),
                    uuid: "9998-4F6E".into(),
                    label: Some("EFI".into()),
                }),
            }],
            checks: vec![
                Check::new("table", true, "GPT, 1 partition"),
                Check::new(
                    "cmdline",
                    false,
                    format!("grub.cfg:6: {}", "word ".repeat(30)),
                ),
            ],
            ok: false,
        }
    }

    #[test]
    fn text_fits_80_columns() {
        let text = render_text(&report());
        assert!(
            text.lines().all(|l| l.len() <= WIDTH && l == l.trim_end()),
            "{text}"
        );
        assert!(text.contains("ok   table: GPT, 1 partition\n"), "{text}");
        assert!(text.contains("FAIL cmdline: grub.cfg:6: word"), "{text}");
        assert!(text.contains("\n     word"), "{text}");
        assert!(
            text.contains("   2 esp           64 MiB at 1 MiB      FAT32 'EFI'\n"),
            "{text}"
        );
        assert!(text.contains("PARTUUID 7e2fb2ef"), "{text}");
    }

    /// The JSON field names other tools read.
    #[test]
    fn json_shape_is_stable() {
        let v = serde_json::to_value(report()).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["board", "checks", "image", "ok", "partitions", "table"]
        );
        let p = &v["partitions"][0];
        for k in [
            "number",
            "type",
            "role",
            "start",
            "size",
            "part_uuid",
            "name",
            "bootable",
        ] {
            assert!(p.get(k).is_some(), "{k} missing from {p}");
        }
        assert_eq!(p["role"], "esp");
        assert_eq!(p["filesystem"]["uuid"], "9998-4F6E");
        assert_eq!(v["table"]["kind"], "gpt");
        assert_eq!(v["checks"][1]["ok"], false);
        assert_eq!(v["checks"][1]["name"], "cmdline");
    }

    #[test]
    fn sizes() {
        assert_eq!(size(3 * MIB), "3 MiB");
        assert_eq!(size(512 * 1024), "512 KiB");
        assert_eq!(size(1000), "1000 B");
    }
}
