//! clic-box: the box-side tool. Today one command:
//!
//! `clic-box settings check [--schema FILE] [--state FILE] [--record] CLIC_TXT`
//!
//! checks a `clic.txt` with the same rules as `clic check` (the crate
//! clic-settings), against the image's schema (`/usr/share/clic/settings.json`,
//! written by `clic build`) and the box's current values (the image's, then
//! those recorded in `--state` by earlier runs). Standard output: the lines
//! that passed, `key=value`, for the caller to apply. Standard error: one line
//! per refused line, `clic.txt:LINE: `key`: why (hint: ...)`. With
//! `--record`, the values that passed are recorded in the state file
//! (atomically; secret ones are not). Exit codes: 0 all passed, 1 some
//! lines refused, 2 usage or an unreadable schema.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clic_settings::{ImageSettings, System, Value};

const SCHEMA: &str = "/usr/share/clic/settings.json";

struct Args {
    schema: PathBuf,
    state: Option<PathBuf>,
    record: bool,
    zoneinfo: Option<PathBuf>,
    file: PathBuf,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: clic-box settings check [--schema FILE] [--state FILE] [--record] [--zoneinfo DIR] CLIC_TXT"
    );
    ExitCode::from(2)
}

fn parse(mut it: impl Iterator<Item = String>) -> Option<Args> {
    if it.next()? != "settings" || it.next()? != "check" {
        return None;
    }
    let mut a = Args {
        schema: PathBuf::from(SCHEMA),
        state: None,
        record: false,
        zoneinfo: None,
        file: PathBuf::new(),
    };
    let mut file = None;
    while let Some(x) = it.next() {
        match x.as_str() {
            "--schema" => a.schema = PathBuf::from(it.next()?),
            "--state" => a.state = Some(PathBuf::from(it.next()?)),
            "--zoneinfo" => a.zoneinfo = Some(PathBuf::from(it.next()?)),
            "--record" => a.record = true,
            s if s.starts_with('-') => return None,
            _ if file.is_some() => return None,
            _ => file = Some(PathBuf::from(x)),
        }
    }
    a.file = file?;
    Some(a)
}

type Values = BTreeMap<String, BTreeMap<String, Value>>;

fn read_state(path: &Path) -> Result<Values, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => serde_json::from_str(&t).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Values::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("json.new");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn main() -> ExitCode {
    let Some(a) = parse(std::env::args().skip(1)) else {
        return usage();
    };
    let mut image: ImageSettings = match std::fs::read_to_string(&a.schema)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "clic-box: cannot read the settings schema {}: {e}",
                a.schema.display()
            );
            return ExitCode::from(2);
        }
    };
    let mut state = Values::new();
    if let Some(p) = &a.state {
        match read_state(p) {
            Ok(s) => state = s,
            // A damaged state file: the image's values still apply.
            Err(e) => eprintln!("clic-box: ignoring the state file {e}"),
        }
    }
    for (layer, vals) in &state {
        let into = image.values.entry(layer.clone()).or_default();
        for (k, v) in vals {
            into.insert(k.clone(), v.clone());
        }
    }
    let text = match std::fs::read(&a.file) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            eprintln!("clic-box: cannot read {}: {e}", a.file.display());
            return ExitCode::from(2);
        }
    };
    let mut sys = System::default();
    if let Some(z) = a.zoneinfo {
        sys.zoneinfo = z;
    }
    let outcome = image.check_clic_txt(&text, &sys);
    for r in &outcome.refused {
        eprintln!("{r}");
    }
    let mut out = String::new();
    for acc in &outcome.accepted {
        out.push_str(&format!("{}={}\n", acc.key, acc.value));
    }
    print!("{out}");
    if a.record {
        if let Some(p) = &a.state {
            for acc in outcome.accepted.iter().filter(|x| !x.secret) {
                state
                    .entry(acc.layer.clone())
                    .or_default()
                    .insert(acc.setting.clone(), acc.value.clone());
            }
            let text = serde_json::to_string_pretty(&state).unwrap_or_default();
            if let Err(e) = write_atomic(p, &text) {
                eprintln!(
                    "clic-box: cannot record the new values in {}: {e}",
                    p.display()
                );
            }
        }
    }
    if outcome.refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Option<Args> {
        parse(s.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn arguments() {
        let a = args("settings check --state /s --record /boot/clic.txt").unwrap();
        assert_eq!(a.file, PathBuf::from("/boot/clic.txt"));
        assert_eq!(a.state, Some(PathBuf::from("/s")));
        assert!(a.record);
        assert_eq!(a.schema, PathBuf::from(SCHEMA));
        assert!(args("settings check").is_none());
        assert!(args("settings check a b").is_none());
        assert!(args("settings check --bogus a").is_none());
        assert!(args("other").is_none());
    }
}
