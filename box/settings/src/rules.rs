//! Rules across settings of one layer, declared in `layer.toml` as
//! `[[rules]]` with the names of the settings they tie together.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::net::{parse_ipv4, Ipv4Net};
use crate::value::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// A DHCP range inside the subnet of `address` (an `ipv4_prefix`),
    /// `first` <= `last`, holding neither the box's address nor the
    /// network's or broadcast address.
    DhcpRange {
        address: String,
        first: String,
        last: String,
    },
    /// The channel is allowed in the country: 14 only in Japan.
    ChannelCountry { channel: String, country: String },
}

/// A rule broken: the setting to blame (the one a person would change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFault {
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Rule {
    /// The settings the rule reads.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Rule::DhcpRange {
                address,
                first,
                last,
            } => vec![address, first, last],
            Rule::ChannelCountry { channel, country } => vec![channel, country],
        }
    }

    /// Check the values (each already valid on its own). A rule whose
    /// settings are missing says nothing.
    pub fn check(&self, values: &BTreeMap<String, Value>) -> Result<(), RuleFault> {
        let text = |k: &str| values.get(k).and_then(Value::as_str);
        match self {
            Rule::DhcpRange {
                address,
                first,
                last,
            } => {
                let (Some(net), Some(a), Some(b)) = (
                    text(address).and_then(Ipv4Net::parse),
                    text(first).and_then(parse_ipv4),
                    text(last).and_then(parse_ipv4),
                ) else {
                    return Ok(());
                };
                let fault = |key: &str, message: String| {
                    RuleFault {
                    key: key.to_owned(),
                    message,
                    hint: Some(format!(
                        "addresses handed out must lie in {}/{}, between {} and {}, without the box's {}",
                        net.network(),
                        net.prefix,
                        std::net::Ipv4Addr::from(u32::from(net.network()).saturating_add(1)),
                        std::net::Ipv4Addr::from(u32::from(net.broadcast()).saturating_sub(1)),
                        net.addr
                    )),
                }
                };
                for (key, ip) in [(first, a), (last, b)] {
                    if !net.contains(ip) {
                        return Err(fault(
                            key,
                            format!(
                                "{ip} is outside the hotspot's network {}/{}",
                                net.network(),
                                net.prefix
                            ),
                        ));
                    }
                    if ip == net.network() || ip == net.broadcast() {
                        return Err(fault(
                            key,
                            format!("{ip} is the network's own address, not one to hand out"),
                        ));
                    }
                }
                if u32::from(a) > u32::from(b) {
                    return Err(fault(
                        first,
                        format!("the range starts at {a}, after its end {b}"),
                    ));
                }
                if (u32::from(a)..=u32::from(b)).contains(&u32::from(net.addr)) {
                    return Err(fault(
                        first,
                        format!(
                            "the range {a} - {b} holds the box's own address {}",
                            net.addr
                        ),
                    ));
                }
                Ok(())
            }
            Rule::ChannelCountry { channel, country } => {
                let (Some(ch), Some(c)) =
                    (values.get(channel).and_then(Value::as_i64), text(country))
                else {
                    return Ok(());
                };
                if ch == 14 && c != "JP" {
                    return Err(RuleFault {
                        key: channel.clone(),
                        message: format!("channel 14 is allowed in Japan only, not in {c}"),
                        hint: Some("use 1 to 13, or a 5 GHz channel if the radio can".into()),
                    });
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn dhcp_range_inside_the_subnet_without_the_box() {
        let r = Rule::DhcpRange {
            address: "address".into(),
            first: "dhcp_first".into(),
            last: "dhcp_last".into(),
        };
        let check = |a: &str, f: &str, l: &str| {
            r.check(&vals(&[
                ("address", s(a)),
                ("dhcp_first", s(f)),
                ("dhcp_last", s(l)),
            ]))
        };
        assert!(check("10.42.0.1/24", "10.42.0.10", "10.42.0.250").is_ok());
        assert_eq!(
            check("10.42.0.1/24", "10.43.0.10", "10.42.0.250")
                .unwrap_err()
                .key,
            "dhcp_first"
        );
        assert_eq!(
            check("10.42.0.1/24", "10.42.0.10", "10.42.1.250")
                .unwrap_err()
                .key,
            "dhcp_last"
        );
        assert_eq!(
            check("10.42.0.1/24", "10.42.0.250", "10.42.0.10")
                .unwrap_err()
                .key,
            "dhcp_first"
        );
        assert!(check("10.42.0.100/24", "10.42.0.10", "10.42.0.250")
            .unwrap_err()
            .message
            .contains("box's own"));
        assert!(check("10.42.0.1/24", "10.42.0.10", "10.42.0.255").is_err());
        // A setting missing: nothing to say.
        assert!(r.check(&vals(&[("address", s("10.42.0.1/24"))])).is_ok());
    }

    #[test]
    fn channel_14_only_in_japan() {
        let r = Rule::ChannelCountry {
            channel: "channel".into(),
            country: "country".into(),
        };
        assert!(r
            .check(&vals(&[
                ("channel", Value::Integer(14)),
                ("country", s("JP"))
            ]))
            .is_ok());
        assert!(r
            .check(&vals(&[
                ("channel", Value::Integer(14)),
                ("country", s("FR"))
            ]))
            .is_err());
        assert!(r
            .check(&vals(&[
                ("channel", Value::Integer(13)),
                ("country", s("FR"))
            ]))
            .is_ok());
    }
}
