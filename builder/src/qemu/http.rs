//! A minimal blocking HTTP/1.0 GET, retried until the guest answers: enough
//! to check a page through a forwarded port while QEMU runs, with no HTTP
//! client dependency.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant};

use super::QemuError;
use crate::interrupt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// GET `http://host:port{path}`, retrying while nothing answers (QEMU's user
/// network accepts connections and drops them while the guest port is
/// closed). Any complete response is returned, whatever its status.
pub fn wait_http(
    host: &str,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Result<HttpResponse, QemuError> {
    let url = format!("http://{host}:{port}{path}");
    let start = Instant::now();
    loop {
        if interrupt::requested() {
            return Err(QemuError::Interrupted {
                last_lines: Vec::new(),
            });
        }
        let left = timeout.saturating_sub(start.elapsed());
        let last_error = match get_once(
            host,
            port,
            path,
            left.clamp(Duration::from_millis(100), Duration::from_secs(10)),
        ) {
            Ok(r) => return Ok(r),
            Err(e) => e,
        };
        if start.elapsed() >= timeout {
            return Err(QemuError::Http {
                url,
                waited: start.elapsed(),
                last_error,
            });
        }
        thread::sleep(Duration::from_millis(500).min(timeout.saturating_sub(start.elapsed())));
    }
}

fn get_once(host: &str, port: u16, path: &str, timeout: Duration) -> Result<HttpResponse, String> {
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("resolving {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let mut s =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connecting: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: clic\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes())
        .map_err(|e| format!("sending request: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| format!("reading response: {e}"))?;
    parse_response(&raw)
}

/// PURE: status and body of a complete HTTP/1.x response.
pub fn parse_response(raw: &[u8]) -> Result<HttpResponse, String> {
    if raw.is_empty() {
        return Err(
            "connection closed without a response (is the service up in the guest?)".into(),
        );
    }
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("response ends inside its headers")?;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let status_line = head.lines().next().unwrap_or_default();
    let mut words = status_line.split_whitespace();
    let status = match (words.next(), words.next().map(str::parse::<u16>)) {
        (Some(v), Some(Ok(code))) if v.starts_with("HTTP/") => code,
        _ => return Err(format!("not an HTTP status line: {status_line:?}")),
    };
    Ok(HttpResponse {
        status,
        body: raw[head_end + 4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn parses_status_and_body() {
        let r = parse_response(b"HTTP/1.1 404 Not Found\r\nServer: nginx\r\n\r\nnope").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"nope"[..]));
        assert!(parse_response(b"")
            .unwrap_err()
            .contains("without a response"));
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n")
            .unwrap_err()
            .contains("status line"));
        assert!(parse_response(b"HTTP/1.0 200 OK\r\nX: y")
            .unwrap_err()
            .contains("headers"));
    }

    #[test]
    fn retries_until_the_server_answers() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            // First connection dropped unanswered, as slirp does while the
            // guest port is closed; the second gets a page.
            drop(listener.accept().unwrap());
            let (mut s, _) = listener.accept().unwrap();
            let mut req = [0u8; 1024];
            let n = s.read(&mut req).unwrap();
            s.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>portal</h1>")
                .unwrap();
            String::from_utf8_lossy(&req[..n]).into_owned()
        });
        let r = wait_http("127.0.0.1", port, "/index.html", Duration::from_secs(10)).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"<h1>portal</h1>");
        let req = server.join().unwrap();
        assert!(req.starts_with("GET /index.html HTTP/1.0\r\n"), "{req}");
    }

    #[test]
    fn gives_up_after_the_timeout_with_the_last_error() {
        // A port nobody listens on: bind then drop to get one.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = Instant::now();
        let err = wait_http("127.0.0.1", port, "/", Duration::from_secs(1)).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(5));
        let msg = err.to_string();
        assert!(msg.contains(&format!("http://127.0.0.1:{port}/")), "{msg}");
        assert!(msg.contains("connecting"), "{msg}");
    }
}
