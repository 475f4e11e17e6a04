//! A small W3C WebDriver client for the tests: Debian's `chromium` driven
//! by `chromedriver` (package chromium-driver; `make deps` installs both).
//!
//! [`Browser::start`] starts one chromedriver on a free port and one
//! headless Chromium session behind it, with its own `--user-data-dir`:
//! two browsers are two devices with their own cookies. The window is
//! phone-sized (360x800 unless told). Every wait has a timeout; when an
//! element does not come, the page's screenshot and source are saved next
//! to the other screenshots and the panic message says where. Dropping a
//! browser (panics included) ends the session, then kills chromedriver's
//! process group and any process still holding this browser's profile
//! directory: nothing is left running.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use super::http;

/// The W3C name of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long [`Browser::find`] and the like wait unless told.
pub const WAIT: Duration = Duration::from_secs(30);

/// A WebDriver error answer, or a transport failure.
#[derive(Debug)]
pub struct WdError {
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

pub struct Browser {
    /// Short name, used in artifact file names (`alice`, `bob`).
    pub name: String,
    session: String,
    driver: Child,
    driver_port: u16,
    profile: PathBuf,
    artifacts: PathBuf,
    failures: std::cell::Cell<u32>,
}

/// An element of the page a [`Browser`] shows.
pub struct Element<'a> {
    b: &'a Browser,
    id: String,
    /// The CSS selector it was found by (for messages).
    pub css: String,
}

impl Browser {
    /// A headless Chromium showing pages `width` x `height` CSS pixels,
    /// its profile in `artifacts/profile-NAME` (new, removed on drop),
    /// screenshots and failure dumps in `artifacts`. With `map` (host,
    /// port), `http://HOST/` is reached at 127.0.0.1:PORT (a box's port 80
    /// forwarded there) while the pages still say HOST, port 80.
    pub fn start_sized(
        name: &str,
        artifacts: &Path,
        width: u32,
        height: u32,
        map: Option<(&str, u16)>,
    ) -> Browser {
        std::fs::create_dir_all(artifacts).unwrap();
        let profile = artifacts.join(format!("profile-{name}"));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap();
        let driver_port = super::free_port();
        let log =
            std::fs::File::create(artifacts.join(format!("chromedriver-{name}.log"))).unwrap();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(log)
            // Its own process group: killed whole on drop.
            .process_group(0)
            .spawn()
            .expect("run chromedriver (make deps installs chromium-driver)");
        let mut b = Browser {
            name: name.to_owned(),
            session: String::new(),
            driver,
            driver_port,
            profile,
            artifacts: artifacts.to_owned(),
            failures: std::cell::Cell::new(0),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http::request(
                driver_port,
                "GET",
                "/status",
                &[],
                b"",
                Duration::from_secs(5),
            ) {
                let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                if v["value"]["ready"] == true {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready on port {driver_port} after 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    // The page's console, for failure reports.
                    "goog:loggingPrefs": { "browser": "ALL" },
                    "timeouts": { "pageLoad": 180_000, "script": 60_000, "implicit": 0 },
                    "goog:chromeOptions": {
                        "binary": "/usr/bin/chromium",
                        // Headless windows are at least 500 px wide: the
                        // viewport is set by device emulation instead.
                        "mobileEmulation": {
                            "deviceMetrics": {
                                "width": width,
                                "height": height,
                                "pixelRatio": 1.0,
                                "touch": width < 800
                            }
                        },
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            "--no-first-run",
                            "--no-default-browser-check",
                            "--hide-scrollbars",
                            "--disable-extensions",
                            "--disable-background-networking",
                            "--disable-sync",
                            "--password-store=basic",
                            format!("--window-size={width},{height}"),
                            format!("--user-data-dir={}", b.profile.display()),
                        ]
                    }
                }
            }
        });
        if let Some((host, port)) = map {
            let args = caps["capabilities"]["alwaysMatch"]["goog:chromeOptions"]["args"]
                .as_array_mut()
                .unwrap();
            args.push(json!(format!(
                "--host-resolver-rules=MAP {host} 127.0.0.1:{port}"
            )));
            // A name without a public suffix: no HTTPS attempted first.
            args.push(json!(
                "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable"
            ));
        }
        let v = b
            .raw("POST", "/session", Some(caps), Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("new Chromium session for {name}: {e}"));
        b.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {v}"))
            .to_owned();
        b
    }

    /// A phone: 360 x 800.
    pub fn start(name: &str, artifacts: &Path) -> Browser {
        Browser::start_sized(name, artifacts, 360, 800, None)
    }

    /// A phone on a box's hotspot: 360 x 800, `http://HOST/` answered by
    /// 127.0.0.1:`port` (see [`Browser::start_sized`]).
    pub fn start_mapped(name: &str, artifacts: &Path, host: &str, port: u16) -> Browser {
        Browser::start_sized(name, artifacts, 360, 800, Some((host, port)))
    }

    /// One WebDriver command; its `value`.
    fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, WdError> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let headers: &[(&str, &str)] = if method == "POST" {
            &[("Content-Type", "application/json; charset=utf-8")]
        } else {
            &[]
        };
        let r = http::request(
            self.driver_port,
            method,
            path,
            headers,
            body.as_bytes(),
            timeout,
        )
        .map_err(|e| WdError {
            error: "transport".into(),
            message: format!("{method} {path}: {e}"),
        })?;
        let v: Value = serde_json::from_slice(&r.body).map_err(|e| WdError {
            error: "bad answer".into(),
            message: format!("{method} {path}: {e}: {}", r.text()),
        })?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if r.status >= 400 || value.get("error").is_some_and(|e| e.is_string()) {
            return Err(WdError {
                error: value["error"].as_str().unwrap_or("?").to_owned(),
                message: value["message"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            });
        }
        Ok(value)
    }

    /// A command on this session (`sub` after `/session/ID`).
    fn cmd(&self, method: &str, sub: &str, body: Option<Value>) -> Result<Value, WdError> {
        let path = format!("/session/{}{sub}", self.session);
        self.raw(method, &path, body, Duration::from_secs(240))
    }

    /// A command that must succeed; else the page is dumped and the test
    /// fails with `what`.
    fn must(&self, what: &str, method: &str, sub: &str, body: Option<Value>) -> Value {
        self.cmd(method, sub, body)
            .unwrap_or_else(|e| self.fail(&format!("{what}: {e}")))
    }

    /// Open `url` and wait for it to load.
    pub fn goto(&self, url: &str) {
        self.must(
            &format!("open {url}"),
            "POST",
            "/url",
            Some(json!({ "url": url })),
        );
    }

    pub fn url(&self) -> String {
        self.must("current URL", "GET", "/url", None)
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    pub fn title(&self) -> String {
        self.must("title", "GET", "/title", None)
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    pub fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    pub fn refresh(&self) {
        self.must("reload", "POST", "/refresh", Some(json!({})));
    }

    /// Run `script` (a function body; `arguments[i]` are `args`) in the
    /// page; what it returns.
    pub fn exec(&self, script: &str, args: Vec<Value>) -> Value {
        self.must(
            &format!("script `{}`", script.lines().next().unwrap_or("")),
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    fn elements(&self, root: Option<&str>, css: &str) -> Result<Vec<String>, WdError> {
        let sub = match root {
            Some(id) => format!("/element/{id}/elements"),
            None => "/elements".to_owned(),
        };
        let v = self.cmd(
            "POST",
            &sub,
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Every element matching `css` now (no wait).
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        self.elements(None, css)
            .unwrap_or_else(|e| self.fail(&format!("find `{css}`: {e}")))
            .into_iter()
            .map(|id| Element {
                b: self,
                id,
                css: css.to_owned(),
            })
            .collect()
    }

    /// The first element matching `css`, waiting up to [`WAIT`] for it.
    pub fn find(&self, css: &str) -> Element<'_> {
        self.find_within(css, WAIT)
    }

    /// The first element matching `css`, waiting up to `timeout`; else
    /// the page is dumped and the test fails.
    pub fn find_within(&self, css: &str, timeout: Duration) -> Element<'_> {
        let id = self.wait_until(&format!("an element `{css}`"), timeout, || {
            self.elements(None, css).ok()?.into_iter().next()
        });
        Element {
            b: self,
            id,
            css: css.to_owned(),
        }
    }

    /// Poll `check` every 200 ms until it gives something, at most
    /// `timeout`; else the page is dumped and the test fails with `what`.
    pub fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = check() {
                return v;
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "waited {} s for {what} in vain",
                    timeout.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Scroll the first element matching `css` (waits for it) to the top
    /// of the viewport, e.g. before a screenshot.
    pub fn scroll_to(&self, css: &str) {
        // One script, looked up afresh each try: live pages replace parts.
        self.wait_until(&format!("an element `{css}` to scroll to"), WAIT, || {
            let v = self.exec(
                "const e = document.querySelector(arguments[0]); \
                 if (e) e.scrollIntoView(true); return !!e;",
                vec![Value::String(css.to_owned())],
            );
            (v == true).then_some(())
        });
    }

    /// The text of the first element matching `css` (waits for it).
    pub fn text(&self, css: &str) -> String {
        self.find(css).text()
    }

    /// A PNG of the viewport, saved as `artifacts/NAME-WHAT.png`; its path.
    pub fn screenshot(&self, what: &str) -> PathBuf {
        let file = self.artifacts.join(format!("{}-{what}.png", self.name));
        let v = self.must("screenshot", "GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .unwrap_or_else(|e| self.fail(&format!("screenshot is not base64: {e}")));
        assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");
        std::fs::write(&file, png).unwrap();
        println!("screenshot: {}", file.display());
        file
    }

    /// Save the page (screenshot and source) as `NAME-failure-N.*`, then
    /// fail the test with `why`, the URL and the end of the source.
    pub fn fail(&self, why: &str) -> ! {
        let n = self.failures.get() + 1;
        self.failures.set(n);
        let base = self.artifacts.join(format!("{}-failure-{n}", self.name));
        let html = self.source();
        let _ = std::fs::write(base.with_extension("html"), &html);
        let png = self.cmd("GET", "/screenshot", None).ok().and_then(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str()?)
                .ok()
        });
        if let Some(png) = png {
            let _ = std::fs::write(base.with_extension("png"), png);
        }
        let url = self
            .cmd("GET", "/url", None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let console = self.console().join("\n");
        let _ = std::fs::write(base.with_extension("console.txt"), &console);
        panic!(
            "browser {}: {why}\n  at {url}\n  screenshot, source and console: {}.png, .html, .console.txt\n  page source (end):\n{}\n  console (end):\n{}",
            self.name,
            base.display(),
            super::tail(&html, 40),
            super::tail(&console, 20)
        );
    }

    /// The page's console messages since the last call (level, text).
    pub fn console(&self) -> Vec<String> {
        self.cmd("POST", "/se/log", Some(json!({ "type": "browser" })))
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["level"].as_str().unwrap_or("?"),
                    e["message"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    /// Accept a `confirm()` / `alert()` if one is open.
    pub fn accept_alert(&self) -> bool {
        self.cmd("POST", "/alert/accept", Some(json!({}))).is_ok()
    }

    /// The cookie `name` of the current page's site, if set.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cmd("GET", &format!("/cookie/{name}"), None)
            .ok()
            .and_then(|v| v["value"].as_str().map(str::to_owned))
    }

    /// This browser's profile directory (`--user-data-dir`).
    pub fn profile(&self) -> &Path {
        &self.profile
    }

    /// chromedriver's process id.
    pub fn driver_pid(&self) -> u32 {
        self.driver.id()
    }

    fn profile_pids(&self) -> Vec<i32> {
        processes_naming(&self.profile)
    }
}

/// PIDs of the processes whose command line names `path` (a browser's
/// profile directory).
pub fn processes_naming(path: &Path) -> Vec<i32> {
    let needle = path.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let mut cmdline = Vec::new();
        if std::fs::File::open(e.path().join("cmdline"))
            .and_then(|mut f| f.read_to_end(&mut cmdline))
            .is_ok()
            && String::from_utf8_lossy(&cmdline).contains(&needle)
        {
            pids.push(pid);
        }
    }
    pids
}

impl<'a> Element<'a> {
    /// A PNG of this element alone (scrolled into view), saved as
    /// `artifacts/NAME-WHAT.png`; its path.
    pub fn screenshot(&self, what: &str) -> PathBuf {
        let file = self.b.artifacts.join(format!("{}-{what}.png", self.b.name));
        let v = self.b.must(
            &format!("screenshot of `{}`", self.css),
            "GET",
            &format!("/element/{}/screenshot", self.id),
            None,
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .unwrap_or_else(|e| self.b.fail(&format!("screenshot is not base64: {e}")));
        assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");
        std::fs::write(&file, png).unwrap();
        println!("screenshot: {}", file.display());
        file
    }

    pub fn click(&self) {
        self.b.must(
            &format!("click `{}`", self.css),
            "POST",
            &format!("/element/{}/click", self.id),
            Some(json!({})),
        );
    }

    /// Type `text` into it (after what it holds).
    pub fn send_keys(&self, text: &str) {
        self.b.must(
            &format!("type into `{}`", self.css),
            "POST",
            &format!("/element/{}/value", self.id),
            Some(json!({ "text": text })),
        );
    }

    pub fn clear(&self) {
        self.b.must(
            &format!("clear `{}`", self.css),
            "POST",
            &format!("/element/{}/clear", self.id),
            Some(json!({})),
        );
    }

    /// Clear, then type `text`.
    pub fn fill(&self, text: &str) {
        self.clear();
        self.send_keys(text);
    }

    /// Submit the form it belongs to, the way its submit button would
    /// (`requestSubmit`: validation, submit events).
    pub fn submit(&self) {
        self.b.exec(
            "const e = arguments[0]; (e.form || e.closest('form')).requestSubmit();",
            vec![self.json()],
        );
    }

    /// Its rendered text.
    pub fn text(&self) -> String {
        self.b
            .must(
                &format!("text of `{}`", self.css),
                "GET",
                &format!("/element/{}/text", self.id),
                None,
            )
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// The attribute or property `name` (`href` is absolute).
    pub fn attr(&self, name: &str) -> Option<String> {
        let v = self.b.must(
            &format!("attribute {name} of `{}`", self.css),
            "GET",
            &format!("/element/{}/property/{name}", self.id),
            None,
        );
        match v {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        }
    }

    /// Elements matching `css` inside this one (no wait).
    pub fn find_all(&self, css: &str) -> Vec<Element<'a>> {
        self.b
            .elements(Some(&self.id), css)
            .unwrap_or_else(|e| self.b.fail(&format!("find `{css}` in `{}`: {e}", self.css)))
            .into_iter()
            .map(|id| Element {
                b: self.b,
                id,
                css: format!("{} {css}", self.css),
            })
            .collect()
    }

    /// The first element matching `css` inside this one; fails at once if
    /// there is none.
    pub fn find(&self, css: &str) -> Element<'a> {
        self.find_all(css)
            .into_iter()
            .next()
            .unwrap_or_else(|| self.b.fail(&format!("no `{css}` inside `{}`", self.css)))
    }

    /// As a script argument.
    pub fn json(&self) -> Value {
        json!({ ELEMENT: self.id })
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = self.raw("DELETE", &path, None, Duration::from_secs(20));
        }
        // chromedriver and whatever stayed in its process group.
        let pgid = self.driver.id() as i32;
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.wait();
        // Chromium processes that left the group (zygotes) still name the
        // profile directory on their command line.
        for _ in 0..50 {
            let pids = self.profile_pids();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
