//! A growing delay after failed logins, per client and for the box as a
//! whole. Pure: time (seconds, monotonic) is passed in.
//!
//! Each client may fail [`FREE`] times; after that every failure doubles
//! the wait before its next attempt is even checked (2 s, 4 s, 8 s, ...
//! up to [`MAX_WAIT`]). Failures from all clients together count too, at a
//! tenth of the rate, so that many addresses (a script changing its
//! address on the hotspot) do not guess faster than one. A success clears
//! the client's count. Old entries are forgotten.

use std::collections::HashMap;
use std::net::IpAddr;

/// Failures allowed before any delay.
pub const FREE: u32 = 3;
/// The longest wait, seconds.
pub const MAX_WAIT: f64 = 300.0;
/// Clients remembered at most (the oldest are forgotten first).
const MAX_CLIENTS: usize = 4096;

#[derive(Clone, Copy, Debug, Default)]
struct Record {
    failures: u32,
    /// No attempt is checked before this time.
    until: f64,
    last: f64,
}

#[derive(Debug, Default)]
pub struct Delay {
    clients: HashMap<IpAddr, Record>,
    all: Record,
}

/// The wait after `failures` failures.
pub fn wait_after(failures: u32) -> f64 {
    if failures <= FREE {
        0.0
    } else {
        (2f64).powi((failures - FREE).min(16) as i32).min(MAX_WAIT)
    }
}

impl Delay {
    pub fn new() -> Delay {
        Delay::default()
    }

    /// Ok when an attempt from `ip` may be checked now; else the seconds
    /// left to wait.
    pub fn check(&self, ip: IpAddr, now: f64) -> Result<(), f64> {
        let client = self.clients.get(&ip).map_or(0.0, |r| r.until);
        let until = client.max(self.all.until);
        if now >= until {
            Ok(())
        } else {
            Err(until - now)
        }
    }

    /// A failed attempt from `ip` at `now`; the wait it imposes.
    pub fn failed(&mut self, ip: IpAddr, now: f64) -> f64 {
        if self.clients.len() >= MAX_CLIENTS && !self.clients.contains_key(&ip) {
            // Forget those that have not tried for the longest wait.
            self.clients.retain(|_, r| now - r.last < MAX_WAIT);
            if self.clients.len() >= MAX_CLIENTS {
                if let Some(oldest) = self
                    .clients
                    .iter()
                    .min_by(|a, b| a.1.last.total_cmp(&b.1.last))
                    .map(|(k, _)| *k)
                {
                    self.clients.remove(&oldest);
                }
            }
        }
        let r = self.clients.entry(ip).or_default();
        r.failures = r.failures.saturating_add(1);
        r.last = now;
        let wait = wait_after(r.failures);
        r.until = now + wait;
        self.all.failures = self.all.failures.saturating_add(1);
        self.all.last = now;
        // The whole box: ten failures count as one client's.
        let all_wait = wait_after(self.all.failures / 10);
        self.all.until = now + all_wait;
        wait
    }

    /// A successful login from `ip`: its count starts again.
    pub fn succeeded(&mut self, ip: IpAddr) {
        self.clients.remove(&ip);
    }

    /// Failures recorded for `ip`.
    pub fn failures(&self, ip: IpAddr) -> u32 {
        self.clients.get(&ip).map_or(0, |r| r.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn waits_grow_then_cap() {
        let w: Vec<f64> = (0..12).map(wait_after).collect();
        assert_eq!(&w[..7], &[0.0, 0.0, 0.0, 0.0, 2.0, 4.0, 8.0]);
        assert!(w.windows(2).all(|p| p[1] >= p[0]));
        assert_eq!(wait_after(40), MAX_WAIT);
    }

    #[test]
    fn ten_wrong_passwords_are_slowed_down() {
        let mut d = Delay::new();
        let a = ip("10.41.0.23");
        let mut t = 0.0;
        let mut waited = 0.0;
        for _ in 0..10 {
            if let Err(left) = d.check(a, t) {
                waited += left;
                t += left;
            }
            assert!(d.check(a, t).is_ok());
            d.failed(a, t);
        }
        // 2 + 4 + ... + 64 s before the tenth attempt could be made
        assert_eq!(waited, 2.0 + 4.0 + 8.0 + 16.0 + 32.0 + 64.0);
        assert_eq!(d.check(a, t), Err(128.0));
        assert!(
            d.check(ip("10.41.0.24"), t).is_ok(),
            "another phone is not slowed by one"
        );
        d.succeeded(a);
        assert_eq!(d.failures(a), 0);
    }

    #[test]
    fn many_addresses_are_slowed_together() {
        let mut d = Delay::new();
        for i in 0..40u8 {
            d.failed(IpAddr::from([10, 41, 0, i]), 0.0);
        }
        // 40 failures from 40 addresses count as 4 from one: a wait for all.
        assert!(d.check(ip("10.41.0.200"), 0.5).is_err());
        assert!(d.check(ip("10.41.0.200"), 2.0).is_ok());
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut d = Delay::new();
        for i in 0..(MAX_CLIENTS as u32 + 10) {
            d.failed(IpAddr::from(i.to_be_bytes()), f64::from(i));
        }
        assert!(d.clients.len() <= MAX_CLIENTS);
    }
}
