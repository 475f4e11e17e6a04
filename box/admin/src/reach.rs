//! Who may reach the console. Pure.
//!
//! nginx passes the client's address (`X-Real-IP`); the console answers
//! only those its `reach` setting allows:
//! - `hotspot`: the hotspot's own subnet, and the box itself;
//! - `local` (the default): also private, link-local and unique-local
//!   addresses (a wired LAN at the association, the ADSL box's network);
//! - `any`: everyone, an uplink with a public address included.

use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Reach {
    Hotspot,
    #[default]
    Local,
    Any,
}

/// An IPv4 network, `10.41.0.1/24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net4 {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Net4 {
    pub fn parse(s: &str) -> Option<Net4> {
        let (a, p) = s.split_once('/')?;
        let prefix: u8 = p.parse().ok()?;
        (prefix <= 32).then_some(())?;
        Some(Net4 {
            addr: a.parse().ok()?,
            prefix,
        })
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        };
        u32::from(ip) & mask == u32::from(self.addr) & mask
    }
}

fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local() || v4.is_loopback(),
        IpAddr::V6(v6) => {
            let s = v6.segments()[0];
            v6.is_loopback() || (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
    }
}

/// Whether `ip` may use the console.
pub fn allowed(ip: IpAddr, reach: Reach, hotspot: Option<Net4>) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    if ip.is_loopback() {
        return true;
    }
    match reach {
        Reach::Any => true,
        Reach::Local => private(ip),
        Reach::Hotspot => match (ip, hotspot) {
            (IpAddr::V4(v4), Some(n)) => n.contains(v4),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_reach() {
        let hs = Net4::parse("10.41.0.1/24");
        assert!(hs.is_some());
        for (addr, hotspot, local, any) in [
            ("127.0.0.1", true, true, true),
            ("::1", true, true, true),
            ("10.41.0.57", true, true, true),
            ("::ffff:10.41.0.57", true, true, true),
            ("10.41.1.57", false, true, true),
            ("192.168.1.20", false, true, true),
            ("10.0.2.2", false, true, true),
            ("fe80::1", false, true, true),
            ("fd00::5", false, true, true),
            ("203.0.113.9", false, false, true),
            ("2001:db8::1", false, false, true),
        ] {
            assert_eq!(
                allowed(ip(addr), Reach::Hotspot, hs),
                hotspot,
                "{addr} hotspot"
            );
            assert_eq!(allowed(ip(addr), Reach::Local, hs), local, "{addr} local");
            assert_eq!(allowed(ip(addr), Reach::Any, hs), any, "{addr} any");
        }
        assert!(!allowed(ip("10.41.0.5"), Reach::Hotspot, None));
    }

    #[test]
    fn networks() {
        assert_eq!(Net4::parse("10.41.0.1/33"), None);
        assert_eq!(Net4::parse("10.41.0.1"), None);
        let n = Net4::parse("192.168.4.1/22").unwrap();
        assert!(n.contains("192.168.7.255".parse().unwrap()));
        assert!(!n.contains("192.168.8.0".parse().unwrap()));
    }
}
