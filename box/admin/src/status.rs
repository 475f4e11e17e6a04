//! The box at a glance. Parsers are pure (text in, figures out);
//! [`gather`] reads /proc, /sys and asks systemctl and iw.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// One service as systemd sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub unit: String,
    pub description: String,
    pub active: String,
    pub sub: String,
}

impl Service {
    pub fn up(&self) -> bool {
        self.active == "active"
    }
}

#[derive(Clone, Debug, Default)]
pub struct Status {
    pub services: Vec<Service>,
    pub stations_now: Option<usize>,
    pub clients_today: Option<usize>,
    pub disk_total: u64,
    pub disk_free: u64,
    pub mem_total_kib: u64,
    pub mem_available_kib: u64,
    pub temperature_mc: Option<i64>,
    pub uptime_s: u64,
    pub load: String,
}

impl Status {
    /// Below 10 % or 500 MB free, the page warns.
    pub fn disk_low(&self) -> bool {
        self.disk_free < 500 << 20 || self.disk_free.saturating_mul(10) < self.disk_total
    }
}

/// `/proc/meminfo`: (MemTotal, MemAvailable) in KiB.
pub fn meminfo(text: &str) -> (u64, u64) {
    let get = |k: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(k)?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    };
    (get("MemTotal:"), get("MemAvailable:"))
}

/// `/proc/uptime`: whole seconds.
pub fn uptime(text: &str) -> u64 {
    text.split_whitespace()
        .next()
        .and_then(|s| s.split('.').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// `systemctl show -p Id,Type,...,UnitFileState UNIT...`:
/// the long-running services (not oneshot, not masked), in the order given.
pub fn services(show: &str) -> Vec<Service> {
    let mut out = Vec::new();
    for block in show.split("\n\n") {
        let f: BTreeMap<&str, &str> = block.lines().filter_map(|l| l.split_once('=')).collect();
        let Some(id) = f.get("Id") else { continue };
        // Not a daemon, or masked (a package's unit clic replaced).
        if f.get("Type") == Some(&"oneshot")
            || f.get("UnitFileState") == Some(&"masked")
            || f.get("LoadState") == Some(&"masked")
            || !id.ends_with(".service")
        {
            continue;
        }
        out.push(Service {
            unit: id.to_string(),
            description: f.get("Description").unwrap_or(id).to_string(),
            active: f.get("ActiveState").unwrap_or(&"unknown").to_string(),
            sub: f.get("SubState").unwrap_or(&"").to_string(),
        });
    }
    out
}

/// `iw dev`: the interfaces in AP mode.
pub fn ap_interfaces(iw_dev: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for l in iw_dev.lines().map(str::trim) {
        if let Some(name) = l.strip_prefix("Interface ") {
            current = Some(name.trim().to_string());
        } else if l == "type AP" {
            if let Some(c) = current.take() {
                out.push(c);
            }
        }
    }
    out
}

/// `iw dev X station dump`: stations associated now.
pub fn stations(dump: &str) -> usize {
    dump.lines().filter(|l| l.starts_with("Station ")).count()
}

/// dnsmasq's lease file: distinct clients whose lease was given or renewed
/// in the last 24 hours (`lease_time` seconds long, expiry in column 1).
pub fn clients_today(leases: &str, now: i64, lease_time: i64) -> usize {
    let mut macs: Vec<&str> = leases
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let expiry: i64 = f.next()?.parse().ok()?;
            let mac = f.next()?;
            // expiry 0 = infinite lease; else granted at expiry - lease_time
            (expiry == 0 || expiry - lease_time > now - 86_400).then_some(mac)
        })
        .collect();
    macs.sort_unstable();
    macs.dedup();
    macs.len()
}

/// The hottest thermal zone, in milli-degrees Celsius.
fn temperature() -> Option<i64> {
    let rd = std::fs::read_dir("/sys/class/thermal").ok()?;
    rd.flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("thermal_zone"))
        .filter_map(|e| std::fs::read_to_string(e.path().join("temp")).ok())
        .filter_map(|t| t.trim().parse().ok())
        .max()
}

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let o = Command::new(cmd).args(args).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The services to show: those enabled for the box's normal run
/// (multi-user.target's wants), so a new layer's service appears without
/// a change here.
pub fn enabled_units(wants: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(wants)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".service"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub fn gather(leases: &Path) -> Status {
    let units = enabled_units(Path::new("/etc/systemd/system/multi-user.target.wants"));
    let mut args = vec![
        "show",
        "-p",
        "Id,Type,ActiveState,SubState,Description,LoadState,UnitFileState",
    ];
    args.extend(units.iter().map(String::as_str));
    let services = if units.is_empty() {
        Vec::new()
    } else {
        output("systemctl", &args)
            .map(|s| services(&s))
            .unwrap_or_default()
    };
    let stations_now = output("iw", &["dev"]).map(|d| {
        ap_interfaces(&d)
            .iter()
            .filter_map(|i| output("iw", &["dev", i, "station", "dump"]))
            .map(|s| stations(&s))
            .sum()
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let clients_today = std::fs::read_to_string(leases)
        .ok()
        .map(|t| clients_today(&t, now, 12 * 3600));
    let (mem_total_kib, mem_available_kib) =
        meminfo(&std::fs::read_to_string("/proc/meminfo").unwrap_or_default());
    let (disk_total, disk_free) = crate::sys::disk("/").unwrap_or((0, 0));
    Status {
        services,
        stations_now,
        clients_today,
        disk_total,
        disk_free,
        mem_total_kib,
        mem_available_kib,
        temperature_mc: temperature(),
        uptime_s: uptime(&std::fs::read_to_string("/proc/uptime").unwrap_or_default()),
        load: std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers() {
        assert_eq!(
            meminfo("MemTotal:         500000 kB\nMemFree: 1 kB\nMemAvailable:     300000 kB\n"),
            (500000, 300000)
        );
        assert_eq!(uptime("5321.77 10000.0\n"), 5321);
        let show = "Id=nginx.service\nType=forking\nActiveState=active\nSubState=running\nDescription=A high performance web server\n\n\
                    Id=clic-firstboot.service\nType=oneshot\nActiveState=inactive\nSubState=dead\nDescription=first boot\n\n\
                    Id=agora.service\nType=simple\nActiveState=failed\nSubState=failed\nDescription=CLIC! agora\n\n\
                    Id=hostapd.service\nType=forking\nActiveState=inactive\nSubState=dead\nLoadState=masked\nUnitFileState=masked\n";
        let s = services(show);
        assert_eq!(s.len(), 2);
        assert!(s[0].up());
        assert_eq!(s[1].unit, "agora.service");
        assert!(!s[1].up());
        let iw = "phy#1\n\tInterface wlan1\n\t\tifindex 5\n\t\ttype managed\nphy#0\n\tInterface wlan0\n\t\ttype AP\n";
        assert_eq!(ap_interfaces(iw), vec!["wlan0"]);
        assert_eq!(
            stations("Station 02:00:00:00:01:00 (on wlan0)\n\tinactive time:\t10 ms\nStation 02:00:00:00:02:00 (on wlan0)\n"),
            2
        );
    }

    #[test]
    fn clients_today_counts_recent_distinct_leases() {
        let now = 1_000_000;
        let lt = 43_200;
        let leases = format!(
            "{} aa:aa 10.41.0.10 phone1 *\n{} bb:bb 10.41.0.11 phone2 *\n{} cc:cc 10.41.0.12 old *\n{} aa:aa 10.41.0.13 again *\n",
            now + lt - 60,
            now + 100,
            now - 86_400 - 10,
            now + lt - 3600,
        );
        assert_eq!(clients_today(&leases, now, lt), 2);
        assert_eq!(clients_today("garbage\n\n", now, lt), 0);
    }

    #[test]
    fn disk_warning() {
        let mut s = Status {
            disk_total: 8 << 30,
            disk_free: 4 << 30,
            ..Default::default()
        };
        assert!(!s.disk_low());
        s.disk_free = 400 << 20;
        assert!(s.disk_low());
    }
}
