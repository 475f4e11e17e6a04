//! IPv4 addresses and networks, strictly: four decimal numbers 0-255
//! without leading zeros (`010` means 8 to some tools and 10 to others).

use std::net::Ipv4Addr;

pub fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut b = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        if p.len() > 1 && p.starts_with('0') {
            return None;
        }
        b[i] = p.parse().ok()?;
    }
    Some(Ipv4Addr::from(b))
}

/// An address with its prefix length: `10.42.0.1/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    pub fn parse(s: &str) -> Option<Ipv4Net> {
        let (a, p) = s.split_once('/')?;
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let prefix: u8 = p.parse().ok()?;
        if prefix > 32 || (p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        Some(Ipv4Net {
            addr: parse_ipv4(a)?,
            prefix,
        })
    }

    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    pub fn contains(&self, a: Ipv4Addr) -> bool {
        u32::from(a) & self.mask() == u32::from(self.network())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_ipv4("10.42.0.1"), Some(Ipv4Addr::new(10, 42, 0, 1)));
        for bad in [
            "300.1.1.1",
            "10.42.0",
            "10.42.0.1.2",
            "010.1.1.1",
            "a.b.c.d",
            "",
            "1..1.1",
            " 1.1.1.1",
        ] {
            assert_eq!(parse_ipv4(bad), None, "{bad}");
        }
    }

    #[test]
    fn networks() {
        let n = Ipv4Net::parse("10.42.0.1/24").unwrap();
        assert_eq!(n.network(), Ipv4Addr::new(10, 42, 0, 0));
        assert_eq!(n.broadcast(), Ipv4Addr::new(10, 42, 0, 255));
        assert!(n.contains(Ipv4Addr::new(10, 42, 0, 200)));
        assert!(!n.contains(Ipv4Addr::new(10, 42, 1, 1)));
        for bad in [
            "10.42.0.1",
            "10.42.0.1/",
            "10.42.0.1/33",
            "10.42.0.1/024",
            "300.1.1.1/24",
            "10.42.0.1/2x",
        ] {
            assert_eq!(Ipv4Net::parse(bad), None, "{bad}");
        }
        assert_eq!(
            Ipv4Net::parse("0.0.0.0/0").unwrap().broadcast(),
            Ipv4Addr::BROADCAST
        );
    }
}
