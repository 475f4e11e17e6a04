//! Host-to-guest TCP port forwards (`--forward 8080:80`).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use super::QemuError;

/// A TCP port on the host that QEMU's user network forwards to the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    pub host_addr: Ipv4Addr,
    pub host_port: u16,
    pub guest_port: u16,
}

impl Forward {
    /// `[HOST_ADDR:]HOST_PORT:GUEST_PORT`; the address defaults to 127.0.0.1
    /// so that a booted image is not reachable from the network by accident.
    pub fn parse(s: &str) -> Result<Forward, QemuError> {
        let err = |reason: &str| QemuError::BadForward {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        let parts: Vec<&str> = s.trim().split(':').collect();
        let (addr, host, guest) = match parts.as_slice() {
            [host, guest] => (Ipv4Addr::LOCALHOST, *host, *guest),
            [addr, host, guest] => {
                let addr = addr
                    .parse::<Ipv4Addr>()
                    .map_err(|_| err(&format!("`{addr}` is not an IPv4 address")))?;
                (addr, *host, *guest)
            }
            _ => {
                return Err(err(
                    "expected HOST_PORT:GUEST_PORT or ADDR:HOST_PORT:GUEST_PORT",
                ))
            }
        };
        let port = |p: &str, which: &str| match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(err(&format!(
                "{which} port `{p}` is not a number from 1 to 65535"
            ))),
            Ok(n) => Ok(n),
        };
        Ok(Forward {
            host_addr: addr,
            host_port: port(host, "host")?,
            guest_port: port(guest, "guest")?,
        })
    }

    /// The value of QEMU's `hostfwd=` option.
    pub fn hostfwd(&self) -> String {
        format!(
            "tcp:{}:{}-:{}",
            self.host_addr, self.host_port, self.guest_port
        )
    }
}

impl FromStr for Forward {
    type Err = QemuError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Forward::parse(s)
    }
}

impl fmt::Display for Forward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.host_addr, self.host_port, self.guest_port
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_form_binds_localhost() {
        let f = Forward::parse("8080:80").unwrap();
        assert_eq!(f.host_addr, Ipv4Addr::LOCALHOST);
        assert_eq!((f.host_port, f.guest_port), (8080, 80));
        assert_eq!(f.hostfwd(), "tcp:127.0.0.1:8080-:80");
        assert_eq!(f.to_string(), "127.0.0.1:8080:80");
    }

    #[test]
    fn long_form_keeps_address() {
        let f: Forward = "0.0.0.0:2222:22".parse().unwrap();
        assert_eq!(f.hostfwd(), "tcp:0.0.0.0:2222-:22");
    }

    #[test]
    fn bad_input_says_what_is_wrong() {
        let cases = [
            ("80", "expected HOST_PORT:GUEST_PORT"),
            ("a:b:c:d", "expected HOST_PORT:GUEST_PORT"),
            ("8080:http", "guest port `http`"),
            ("0:80", "host port `0`"),
            ("70000:80", "host port `70000`"),
            ("localhost:8080:80", "`localhost` is not an IPv4 address"),
            ("8080:", "guest port ``"),
        ];
        for (input, want) in cases {
            let msg = Forward::parse(input).unwrap_err().to_string();
            assert!(msg.contains(want), "{input}: {msg}");
            assert!(msg.contains(&format!("`{input}`")), "{input}: {msg}");
        }
    }
}
