//! Token buckets per client address, in memory only. Pure: time is passed in.

use std::collections::HashMap;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug)]
pub struct Limit {
    /// Requests allowed in a burst.
    pub burst: f64,
    /// Tokens added back per second.
    pub per_sec: f64,
}

struct Bucket {
    tokens: f64,
    last: f64,
}

pub struct Limiter {
    limit: Limit,
    buckets: HashMap<IpAddr, Bucket>,
}

/// Beyond this many clients, full buckets are forgotten.
const MAX_CLIENTS: usize = 4096;

impl Limiter {
    pub fn new(limit: Limit) -> Limiter {
        Limiter {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// Takes one token for `ip` at time `now` (seconds); false when none is left.
    pub fn allow(&mut self, ip: IpAddr, now: f64) -> bool {
        if self.buckets.len() >= MAX_CLIENTS {
            let l = self.limit;
            self.buckets
                .retain(|_, b| b.tokens + (now - b.last) * l.per_sec < l.burst);
        }
        let l = self.limit;
        let b = self.buckets.entry(ip).or_insert(Bucket {
            tokens: l.burst,
            last: now,
        });
        b.tokens = (b.tokens + (now - b.last).max(0.0) * l.per_sec).min(l.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub fn clients(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_per_client() {
        let mut l = Limiter::new(Limit {
            burst: 3.0,
            per_sec: 0.5,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(l.allow(a, 0.0));
        assert!(l.allow(a, 0.0));
        assert!(l.allow(a, 0.0));
        assert!(!l.allow(a, 0.1));
        assert!(l.allow(b, 0.1), "another client has its own bucket");
        assert!(!l.allow(a, 1.5));
        assert!(l.allow(a, 2.2), "one token back after two seconds");
        assert!(!l.allow(a, 2.3));
    }

    #[test]
    fn full_buckets_are_forgotten_when_many() {
        let mut l = Limiter::new(Limit {
            burst: 2.0,
            per_sec: 1.0,
        });
        for i in 0..MAX_CLIENTS as u32 {
            l.allow(IpAddr::from(i.to_be_bytes()), 0.0);
        }
        assert_eq!(l.clients(), MAX_CLIENTS);
        l.allow("192.0.2.1".parse().unwrap(), 100.0);
        assert_eq!(l.clients(), 1);
    }
}
