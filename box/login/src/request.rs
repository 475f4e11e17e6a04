//! What a box service reads of a request behind nginx: a cookie, the
//! client's address, whether a form comes from the box's own pages.
//! Shared by agora and the admin console. Pure.

use http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The client: nginx's `X-Real-IP`, believed only from the box itself.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    if peer.ip() == IpAddr::from([127, 0, 0, 1]) {
        if let Some(ip) = headers
            .get("x-real-ip")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
        {
            return ip;
        }
    }
    peer.ip()
}

/// The host of a URL or a Host header, without port.
pub fn host_of(s: &str) -> &str {
    let s = s.split_once("://").map(|(_, r)| r).unwrap_or(s);
    let s = s.split('/').next().unwrap_or(s);
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    s.rsplit_once(':').map(|(h, _)| h).unwrap_or(s)
}

/// A POST from this site: the browser's own signals first. Pages must be
/// served with `Referrer-Policy: same-origin` (not `no-referrer`: under it
/// browsers send `Origin: null` with every form POST, and on http:// they
/// send no `Sec-Fetch-Site` either, so nothing could tell).
pub fn same_origin(headers: &HeaderMap) -> bool {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    match (get("origin"), get("host")) {
        // An opaque origin (privacy settings, old referrer policies) is only
        // believed when the browser itself says the request is same-origin.
        (Some("null"), _) => get("sec-fetch-site") == Some("same-origin"),
        (Some(o), Some(h)) => host_of(o).eq_ignore_ascii_case(host_of(h)),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn origin_checks() {
        assert!(same_origin(&h(&[])));
        assert!(same_origin(&h(&[
            ("host", "10.0.0.1"),
            ("origin", "http://10.0.0.1")
        ])));
        assert!(same_origin(&h(&[
            ("host", "box.local:8080"),
            ("origin", "http://box.local:8080")
        ])));
        assert!(same_origin(&h(&[
            ("host", "box.local"),
            ("origin", "http://box.local:8080")
        ])));
        assert!(!same_origin(&h(&[
            ("host", "box.local"),
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&h(&[("origin", "null"), ("host", "x")])));
        assert!(same_origin(&h(&[
            ("origin", "null"),
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(!same_origin(&h(&[
            ("origin", "null"),
            ("sec-fetch-site", "none")
        ])));
        assert!(!same_origin(&h(&[("sec-fetch-site", "cross-site")])));
        assert!(same_origin(&h(&[("sec-fetch-site", "same-origin")])));
        assert_eq!(host_of("http://[::1]:80"), "::1");
    }

    #[test]
    fn client_address_trusts_only_local_proxy() {
        let hd = h(&[("x-real-ip", "10.1.2.3")]);
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let other: SocketAddr = "10.0.0.9:5000".parse().unwrap();
        assert_eq!(client_ip(local, &hd), "10.1.2.3".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(other, &hd), other.ip());
        assert_eq!(client_ip(local, &h(&[("x-real-ip", "junk")])), local.ip());
    }

    #[test]
    fn cookies() {
        let hd = h(&[("cookie", "a=1; clic_admin=abc ; b=2")]);
        assert_eq!(cookie(&hd, "clic_admin"), Some("abc"));
        assert_eq!(cookie(&hd, "b"), Some("2"));
        assert_eq!(cookie(&hd, "c"), None);
    }
}
