//! A real agora server in-process on an ephemeral port, and HTTP "devices" with
//! their own cookie jars, driven by plain requests.
#![allow(dead_code)] // each test file uses a part of the harness

use clic_agora::web::{self, App, Config};
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

pub struct Server {
    pub url: String,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(tweak: impl FnOnce(&mut Config)) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = Config::new(dir.path().join("data"));
        cfg.min_free = 0;
        tweak(&mut cfg);
        let app = Arc::new(App::new(cfg).expect("app"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).expect("listener");
                web::serve(app, l, async {
                    let _ = rx.await;
                })
                .await
                .expect("serve");
            });
        });
        Server {
            url,
            dir,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// A new device (own cookies) seen as coming from `ip` (via X-Real-IP).
    pub fn device(&self, ip: &str) -> Device {
        Device {
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout_read(std::time::Duration::from_secs(10))
                .build(),
            url: self.url.clone(),
            cookies: HashMap::new(),
            ip: ip.to_string(),
            csrf: String::new(),
        }
    }
}

impl Server {
    /// Asks the server to stop; true when it has within five seconds.
    pub fn stop(mut self) -> bool {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let Some(t) = self.thread.take() else {
            return false;
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if t.is_finished() {
                return t.join().is_ok();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        // SSE streams may keep the server from finishing: do not wait for it.
        drop(self.thread.take());
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    pub content_type: String,
    pub set_cookies: Vec<String>,
    pub retry_after: Option<String>,
    pub bytes: Vec<u8>,
}

impl Resp {
    /// The text of the element with this id (tags stripped), if any.
    pub fn by_id(&self, id: &str) -> Option<String> {
        let start = self.body.find(&format!("id=\"{id}\""))?;
        let open_end = start + self.body[start..].find('>')? + 1;
        let rest = &self.body[open_end..];
        let tag_start = self.body[..start].rfind('<')?;
        let tag: String = self.body[tag_start + 1..]
            .chars()
            .take_while(|c| c.is_alphanumeric())
            .collect();
        let end = rest.find(&format!("</{tag}>")).unwrap_or(rest.len());
        Some(strip_tags(&rest[..end]))
    }
    pub fn error(&self) -> Option<String> {
        self.by_id("error")
    }
    pub fn has(&self, s: &str) -> bool {
        self.body.contains(s)
    }
}

pub fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in s.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

pub struct Device {
    agent: ureq::Agent,
    pub url: String,
    pub cookies: HashMap<String, String>,
    pub ip: String,
    pub csrf: String,
}

impl Device {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn finish(&mut self, r: Result<ureq::Response, ureq::Error>) -> Resp {
        let r = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("request failed: {e}"),
        };
        let set_cookies: Vec<String> = r.all("set-cookie").iter().map(|s| s.to_string()).collect();
        for c in &set_cookies {
            let first = c.split(';').next().unwrap_or("");
            if let Some((k, v)) = first.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        let status = r.status();
        let location = r.header("location").map(String::from);
        let retry_after = r.header("retry-after").map(String::from);
        let content_type = r.header("content-type").unwrap_or("").to_string();
        let mut bytes = Vec::new();
        r.into_reader().read_to_end(&mut bytes).expect("body");
        let body = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(i) = body.find("name=\"csrf\" value=\"") {
            let v = &body[i + 19..];
            self.csrf = v[..v.find('"').unwrap_or(0)].to_string();
        }
        Resp {
            status,
            body,
            location,
            content_type,
            set_cookies,
            retry_after,
            bytes,
        }
    }

    fn req(&self, method: &str, path: &str) -> ureq::Request {
        let mut r = self
            .agent
            .request(method, &format!("{}{path}", self.url))
            .set("x-real-ip", &self.ip);
        if !self.cookies.is_empty() {
            r = r.set("cookie", &self.cookie_header());
        }
        r
    }

    pub fn get(&mut self, path: &str) -> Resp {
        let r = self.req("GET", path).call();
        self.finish(r)
    }

    /// A form POST with this device's CSRF token added (call `get` on a page first).
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone();
        all.push(("csrf", &csrf));
        self.post_raw(path, &[], encode(&all).as_bytes())
    }

    pub fn post_raw(&mut self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut r = self
            .req("POST", path)
            .set("content-type", "application/x-www-form-urlencoded");
        for (k, v) in headers {
            r = r.set(k, v);
        }
        let r = r.send_bytes(body);
        self.finish(r)
    }

    pub fn post_multipart(&mut self, path: &str, file: &[u8]) -> Resp {
        let b = "agoraTESTboundary";
        let mut body = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.db\"\r\nContent-Type: application/octet-stream\r\n\r\n",
            self.csrf
        )
        .into_bytes();
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
        let r = self
            .req("POST", path)
            .set(
                "content-type",
                &format!("multipart/form-data; boundary={b}"),
            )
            .send_bytes(&body);
        self.finish(r)
    }

    /// Opens an SSE stream; lines arrive on the channel.
    pub fn events(&self, path: &str) -> std::sync::mpsc::Receiver<String> {
        let resp = self.req("GET", path).call().expect("events");
        assert_eq!(resp.status(), 200);
        assert!(resp
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/event-stream"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let reader = std::io::BufReader::new(resp.into_reader());
            for line in reader.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    }
}

pub fn encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Creates a poll; returns (id, edit path).
pub fn create_poll(d: &mut Device, fields: &[(&str, &str)]) -> (String, String) {
    d.get("/agora/p/new");
    let r = d.post("/agora/p/new", fields);
    assert_eq!(r.status, 200, "{}", r.body);
    let href = |id: &str| {
        let i = r.body.find(&format!("id=\"{id}\"")).expect(id);
        let a = &r.body[i..];
        let h = &a[a.find("href=\"").expect("href") + 6..];
        h[..h.find('"').expect("quote")].to_string()
    };
    let poll = href("poll-link");
    let id = poll.rsplit('/').next().expect("id").to_string();
    (id, href("edit-link"))
}

/// Creates a board; returns its id.
pub fn create_board(d: &mut Device, title: &str, columns: &str) -> String {
    d.get("/agora/b/new");
    let r = d.post("/agora/b/new", &[("title", title), ("columns", columns)]);
    assert_eq!(r.status, 303, "{}", r.body);
    let loc = r.location.expect("location");
    loc.rsplit('/').next().expect("id").to_string()
}

pub fn json(r: &Resp) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.body))
}

/// `data-column` values of a board page, in order.
pub fn column_ids(page: &str) -> Vec<String> {
    page.match_indices("data-column=\"")
        .map(|(i, _)| {
            let v = &page[i + 13..];
            v[..v.find('"').unwrap_or(0)].to_string()
        })
        .collect()
}
