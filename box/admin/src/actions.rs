//! What the console does to the box: every command it runs is here.

use crate::config::Config;
use crate::wifi;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The unit that rolls a hotspot change back unless it is confirmed.
pub const ROLLBACK_UNIT: &str = "clic-admin-rollback";
/// Seconds a hotspot change has to be confirmed.
pub const ROLLBACK_AFTER: u32 = 60;
const APPLY: &str = "/usr/lib/clic/clic-firstboot";

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("running {cmd}: {source}")]
    Spawn { cmd: String, source: std::io::Error },
    #[error("{cmd} failed: {detail}")]
    Failed { cmd: String, detail: String },
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

fn run(cmd: &str, args: &[&str], stdin: Option<&str>) -> Result<String, ActionError> {
    let mut c = Command::new(cmd);
    c.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let spawn = |source| ActionError::Spawn {
        cmd: cmd.to_string(),
        source,
    };
    let mut child = c.spawn().map_err(spawn)?;
    if let (Some(text), Some(mut w)) = (stdin, child.stdin.take()) {
        w.write_all(text.as_bytes()).map_err(spawn)?;
    }
    let o = child.wait_with_output().map_err(spawn)?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(ActionError::Failed {
            cmd: format!("{cmd} {}", args.first().copied().unwrap_or("")),
            detail: String::from_utf8_lossy(&o.stderr).trim().to_string(),
        })
    }
}

pub fn restart(unit: &str) -> Result<(), ActionError> {
    run("systemctl", &["restart", "--no-block", unit], None).map(drop)
}

/// The outcome of a settings change.
pub enum Applied {
    /// Refused by the rules: the refusals, nothing changed.
    Refused(Vec<String>),
    Done {
        hotspot: bool,
    },
}

fn backups(cfg: &Config) -> [(PathBuf, PathBuf); 2] {
    [
        (
            cfg.hostapd_conf.clone(),
            cfg.work.join("hostapd.conf.before"),
        ),
        (
            cfg.settings_state.clone(),
            cfg.work.join("settings-state.json.before"),
        ),
    ]
}

/// Check and apply `lines` (clic.txt form) all or nothing; a hotspot
/// change restarts the hotspot and arms the rollback.
pub fn apply(cfg: &Config, lines: &[String], hotspot: bool) -> Result<Applied, ActionError> {
    let io = |what: &str| {
        let what = what.to_string();
        move |e| ActionError::Io(what, e)
    };
    std::fs::create_dir_all(&cfg.work).map_err(io("making the work directory"))?;
    let file = cfg.work.join("settings.txt");
    let mut text = lines.join("\n");
    text.push('\n');
    crate::sys::write_atomic(&file, text.as_bytes(), 0o600).map_err(io("writing settings"))?;
    if hotspot {
        // What to go back to, unless a change is already waiting (its
        // backup is the state before it, kept).
        let pending = cfg.work.join("hostapd.conf.before").exists();
        if !pending {
            for (from, to) in backups(cfg) {
                if from.exists() {
                    std::fs::copy(&from, &to).map_err(io("keeping the old settings"))?;
                }
            }
        }
    }
    let file_s = file.to_string_lossy().into_owned();
    let result = run(APPLY, &["apply", &file_s], None);
    let _ = std::fs::remove_file(&file);
    match result {
        Ok(_) => {}
        Err(ActionError::Failed { detail, .. }) => {
            if hotspot {
                discard_backups(cfg);
            }
            return Ok(Applied::Refused(
                detail.lines().map(wifi::refusal).collect(),
            ));
        }
        Err(e) => return Err(e),
    }
    if hotspot {
        run(
            "systemctl",
            &["restart", "--no-block", "clic-hotspot.service"],
            None,
        )?;
        // A timer that outlives the console: if the admin's phone does not
        // come back to confirm, the box rolls back by itself.
        let _ = run(
            "systemctl",
            &["stop", &format!("{ROLLBACK_UNIT}.timer")],
            None,
        );
        run(
            "systemd-run",
            &[
                &format!("--unit={ROLLBACK_UNIT}"),
                &format!("--on-active={ROLLBACK_AFTER}"),
                "--timer-property=AccuracySec=1s",
                "--description=CLIC! admin: roll the Wi-Fi change back unless confirmed",
                "/usr/lib/clic/clic-admin",
                "rollback",
            ],
            None,
        )?;
    }
    Ok(Applied::Done { hotspot })
}

fn discard_backups(cfg: &Config) {
    for (_, b) in backups(cfg) {
        let _ = std::fs::remove_file(b);
    }
}

/// Whether a hotspot change waits for its confirmation.
pub fn pending(cfg: &Config) -> bool {
    cfg.work.join("hostapd.conf.before").exists()
}

/// The admin confirmed: the change stays.
pub fn confirm(cfg: &Config) -> Result<(), ActionError> {
    let _ = run(
        "systemctl",
        &["stop", &format!("{ROLLBACK_UNIT}.timer")],
        None,
    );
    discard_backups(cfg);
    Ok(())
}

/// `clic-admin rollback` (run by the timer): put back what was before.
pub fn rollback(cfg: &Config) -> Result<bool, ActionError> {
    if !pending(cfg) {
        return Ok(false);
    }
    for (to, from) in backups(cfg) {
        if from.exists() {
            let mut bytes = std::fs::read(&from)
                .map_err(|e| ActionError::Io(format!("reading {}", from.display()), e))?;
            if to == cfg.settings_state {
                // Only the hotspot's values go back: a setting changed
                // meanwhile (a time zone, the portal's title) stays.
                let now = std::fs::read_to_string(&to).unwrap_or_default();
                bytes = hotspot_values_back(&now, &String::from_utf8_lossy(&bytes)).into_bytes();
            }
            crate::sys::write_atomic(&to, &bytes, 0o600)
                .map_err(|e| ActionError::Io(format!("restoring {}", to.display()), e))?;
        }
    }
    discard_backups(cfg);
    run("systemctl", &["restart", "clic-hotspot.service"], None)?;
    Ok(true)
}

/// The settings state (`{layer: {key: value}}`, clic-box's record of what
/// was applied) `now`, with the hotspot layer's values as they were in
/// `before`. A state that does not parse: `before` whole.
pub fn hotspot_values_back(now: &str, before: &str) -> String {
    use serde_json::{Map, Value};
    let parse = |t: &str| match serde_json::from_str::<Value>(t) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    };
    let Some(mut merged) = parse(now) else {
        return before.to_string();
    };
    match parse(before).unwrap_or_else(Map::new).remove("hotspot") {
        Some(h) => merged.insert("hotspot".into(), h),
        None => merged.remove("hotspot"),
    };
    serde_json::to_string_pretty(&Value::Object(merged)).unwrap_or_else(|_| before.to_string())
}

/// Set the clock to `epoch` (seconds), then the RTC if the board has one.
pub fn set_clock(epoch: i64) -> Result<(), ActionError> {
    run("date", &["-u", "-s", &format!("@{epoch}")], None)?;
    if std::path::Path::new("/dev/rtc0").exists() {
        let _ = run("hwclock", &["--systohc", "--utc"], None);
    }
    Ok(())
}

/// The admin account's hash in the shadow file.
pub fn shadow_hash(cfg: &Config) -> Option<String> {
    let text = std::fs::read_to_string(&cfg.shadow).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == cfg.admin_user).then(|| f.next().map(str::to_string))?
    })
}

/// A new admin password: the account's (chpasswd, as the system hashes
/// it), then the web login's copy, then the services that read it.
pub fn change_password(cfg: &Config, new: &str) -> Result<(), ActionError> {
    run(
        "chpasswd",
        &[],
        Some(&format!("{}:{new}\n", cfg.admin_user)),
    )?;
    let hash = shadow_hash(cfg).ok_or_else(|| ActionError::Failed {
        cmd: "chpasswd".into(),
        detail: "no hash in the shadow file afterwards".into(),
    })?;
    crate::sys::write_atomic(&cfg.web_hash, format!("{hash}\n").as_bytes(), 0o600)
        .map_err(|e| ActionError::Io(format!("writing {}", cfg.web_hash.display()), e))?;
    // agora reads the hash at start (systemd LoadCredential).
    let _ = run(
        "systemctl",
        &["try-restart", "--no-block", "agora.service"],
        None,
    );
    Ok(())
}

/// Reboot or power off, a moment after the page is answered.
pub fn power(off: bool) {
    let verb = if off { "poweroff" } else { "reboot" };
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(2));
        if let Err(e) = run("systemctl", &[verb], None) {
            eprintln!("clic-admin: {verb}: {e}");
        }
    });
}

/// The USB sticks plugged in now.
pub fn sticks() -> Vec<crate::usb::Stick> {
    run(
        "lsblk",
        &["--json", "-o", "PATH,TRAN,FSTYPE,LABEL,SIZE,MOUNTPOINT"],
        None,
    )
    .map(|j| crate::usb::sticks(&j))
    .unwrap_or_default()
}

/// Mount `device` read-only at `at` (unmounting what was there).
pub fn mount_stick(device: &str, at: &std::path::Path) -> Result<(), ActionError> {
    unmount_stick(at);
    std::fs::create_dir_all(at)
        .map_err(|e| ActionError::Io(format!("making {}", at.display()), e))?;
    let at_s = at.to_string_lossy().into_owned();
    run(
        "mount",
        &["-o", "ro,nosuid,nodev,noexec", device, &at_s],
        None,
    )
    .map(drop)
}

/// Unmount the stick at `at`, if one is there.
pub fn unmount_stick(at: &std::path::Path) {
    let at_s = at.to_string_lossy().into_owned();
    if run("mountpoint", &["-q", &at_s], None).is_ok() {
        if let Err(e) = run("umount", &[&at_s], None) {
            eprintln!("clic-admin: {e}");
        }
    }
}

/// kiwix reads its library again (a ZIM came or went).
pub fn kiwix_again() {
    let _ = run(
        "systemctl",
        &["try-restart", "--no-block", "clic-kiwix.service"],
        None,
    );
}

/// Logs and settings for someone helping from afar, secrets removed.
pub fn diagnostics(cfg: &Config, secrets: &[String]) -> String {
    let mut out = String::new();
    let mut section = |title: &str, text: String| {
        out.push_str(&format!("===== {title}\n{}\n", text.trim_end()));
    };
    section("image", cfg.image.clone());
    for (title, cmd, args) in [
        ("uptime", "uptime", &[][..]),
        ("disk", "df", &["-h"][..]),
        ("memory", "free", &["-m"][..]),
        ("failed units", "systemctl", &["--failed", "--no-pager"][..]),
        ("addresses", "ip", &["-brief", "address"][..]),
        (
            "journal (this boot, last 1500 lines)",
            "journalctl",
            &["-b", "-n", "1500", "--no-pager", "-o", "short-iso"][..],
        ),
    ] {
        section(
            title,
            run(cmd, args, None).unwrap_or_else(|e| e.to_string()),
        );
    }
    for f in [&cfg.hostapd_conf, &cfg.settings_state] {
        section(
            &f.to_string_lossy(),
            std::fs::read_to_string(f).unwrap_or_else(|e| e.to_string()),
        );
    }
    redact(&out, secrets)
}

/// Every line that names a secret loses its value, and every known secret
/// is removed wherever it appears. Pure.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let lower = line.to_ascii_lowercase();
        let secret_key = ["passphrase", "password", "psk", "secret", "private"]
            .iter()
            .any(|k| lower.contains(k));
        let line = match (secret_key, line.find(['=', ':'])) {
            (true, Some(i)) => format!("{} [removed]", &line[..=i]),
            _ => line.to_string(),
        };
        let mut line = line;
        for s in secrets.iter().filter(|s| s.len() >= 4) {
            line = line.replace(s.as_str(), "[removed]");
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_removed() {
        let text = "ssid=CLIC\nwpa_passphrase=pain au levain\nsome log: joined with pain au levain\n\"passphrase\": \"x\"\n";
        let r = redact(text, &["pain au levain".to_string()]);
        assert!(!r.contains("pain au levain"), "{r}");
        assert!(r.contains("ssid=CLIC"));
        assert!(r.contains("wpa_passphrase= [removed]"), "{r}");
    }

    #[test]
    fn a_rollback_puts_back_the_hotspot_values_only() {
        let before = r#"{"hotspot": {"channel": 6}, "system": {"timezone": "Europe/Paris"}}"#;
        let now = r#"{"hotspot": {"channel": 11}, "system": {"timezone": "Africa/Dakar"}, "portal": {"title": "Lavoir"}}"#;
        let v: serde_json::Value = serde_json::from_str(&hotspot_values_back(now, before)).unwrap();
        assert_eq!(v["hotspot"]["channel"], 6);
        assert_eq!(v["system"]["timezone"], "Africa/Dakar");
        assert_eq!(v["portal"]["title"], "Lavoir");
        // No hotspot values before: none after.
        let v: serde_json::Value = serde_json::from_str(&hotspot_values_back(now, "{}")).unwrap();
        assert!(v.get("hotspot").is_none() && v["portal"]["title"] == "Lavoir");
        // A damaged state: what was before, whole.
        assert_eq!(hotspot_values_back("{not json", before), before);
    }
}
