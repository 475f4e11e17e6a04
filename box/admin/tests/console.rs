//! The console's HTTP side, against the real binary on an ephemeral port,
//! with its files in a temporary directory (no root, nothing of the host's
//! touched): who may reach it, login with a growing delay, the session
//! cookie's flags, CSRF and origin checks, bad input, the poster. What
//! changes the system (settings, clock, power, password) is proven on a
//! booted image (tests/participation.rs).

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "kmnp-2345-qrst-6789";

struct Console {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(reach: &str) -> Console {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hash = clic_login::crypt::hash(PASSWORD, "$y$").unwrap();
    std::fs::write(
        d.join("shadow"),
        format!("root:*:1::::::\nadmin:{hash}:20000:0:99999:7:::\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("hostapd.conf"),
        "ssid=CLIC <test> & co\ncountry_code=FR\nchannel=6\nwpa=2\nwpa_passphrase=pain-au-levain-42\n",
    )
    .unwrap();
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let conf = format!(
        r#"listen = "127.0.0.1:{port}"
admin_user = "admin"
reach = "{reach}"
hotspot_address = "10.41.0.1/24"
box_name = "Boîte <de> test"
portal_url = "http://clic.lan/"
image = "test image"
shadow = "{0}/shadow"
web_hash = "{0}/admin-web.hash"
hostapd_conf = "{0}/hostapd.conf"
leases = "{0}/leases"
settings_state = "{0}/state.json"
work = "{0}/work"
"#,
        d.display()
    );
    std::fs::write(d.join("admin.toml"), conf).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_clic-admin"))
        .args(["serve", "--config"])
        .arg(d.join("admin.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/admin");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the console did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Console {
        child,
        url,
        _dir: dir,
    }
}

struct Phone {
    agent: ureq::Agent,
    ip: String,
    cookies: Vec<(String, String)>,
}

struct Answer {
    status: u16,
    body: String,
    set_cookies: Vec<String>,
    location: Option<String>,
}

impl Phone {
    fn new(ip: &str) -> Phone {
        Phone {
            agent: ureq::AgentBuilder::new().redirects(0).build(),
            ip: ip.into(),
            cookies: Vec::new(),
        }
    }

    fn send(&mut self, req: ureq::Request, form: Option<&[(&str, &str)]>) -> Answer {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let req = req
            .set("X-Real-IP", &self.ip)
            .set("Host", "clic.lan")
            .set("Cookie", &cookie.join("; "));
        let r = match form {
            Some(f) => req.send_form(f),
            None => req.call(),
        };
        let r = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let set_cookies: Vec<String> = r.all("set-cookie").into_iter().map(str::to_owned).collect();
        for c in &set_cookies {
            let kv = c.split(';').next().unwrap_or("");
            if let Some((k, v)) = kv.split_once('=') {
                self.cookies.retain(|(n, _)| n != k);
                if !v.is_empty() {
                    self.cookies.push((k.into(), v.into()));
                }
            }
        }
        let status = r.status();
        let location = r.header("location").map(str::to_owned);
        let mut body = String::new();
        r.into_reader()
            .take(1 << 20)
            .read_to_string(&mut body)
            .unwrap();
        Answer {
            status,
            body,
            set_cookies,
            location,
        }
    }

    fn get(&mut self, url: &str) -> Answer {
        let r = self.agent.get(url);
        self.send(r, None)
    }

    fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Answer {
        let r = self.agent.post(url).set("Origin", "http://clic.lan");
        self.send(r, Some(form))
    }

    /// The CSRF token of the page at `url`.
    fn csrf(&mut self, url: &str) -> String {
        let a = self.get(url);
        let i = a
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a csrf field");
        a.body[i + 19..i + 19 + 32].to_owned()
    }

    fn login(&mut self, url: &str, password: &str) -> Answer {
        let csrf = self.csrf(&format!("{url}/"));
        self.post(
            &format!("{url}/login"),
            &[("csrf", &csrf), ("password", password)],
        )
    }
}

#[test]
fn login_is_guarded_slowed_and_gives_a_strict_session() {
    let c = start("local");
    // Only the login page sets the pre-login cookie: another answer (a
    // 404, a refusal) must not replace the one a login form was made with.
    let mut ivy = Phone::new("10.41.0.22");
    for path in ["/nope", "/diagnostics"] {
        let a = ivy.get(&format!("{}{path}", c.url));
        assert!(a.set_cookies.is_empty(), "{path}: {:?}", a.set_cookies);
    }
    let mut eve = Phone::new("10.41.0.23");
    let a = eve.get(&format!("{}/", c.url));
    assert!(a
        .set_cookies
        .iter()
        .any(|c| c.starts_with("clic_admin_pre=")));
    assert_eq!(a.status, 200);
    assert!(a.body.contains("id=\"login-form\""));
    assert!(!a.body.contains("id=\"services\""));
    assert!(
        a.body.contains("Boîte &lt;de&gt; test"),
        "the box's name is escaped"
    );
    for path in ["/diagnostics", "/poster?paper=a4"] {
        let a = eve.get(&format!("{}{path}", c.url));
        assert_eq!(a.status, 403, "{path} without login");
        assert!(!a.body.contains("pain-au-levain"));
    }
    // No CSRF token, or a form from elsewhere: refused before the password is looked at.
    let a = eve.post(&format!("{}/login", c.url), &[("password", PASSWORD)]);
    assert_eq!(a.status, 400);
    let csrf = eve.csrf(&format!("{}/", c.url));
    let r = eve
        .agent
        .post(&format!("{}/login", c.url))
        .set("Origin", "http://evil.example");
    let a = eve.send(r, Some(&[("csrf", &csrf), ("password", PASSWORD)]));
    assert_eq!(a.status, 400);
    // An opaque origin is believed only when the browser says same-origin.
    let r = eve
        .agent
        .post(&format!("{}/login", c.url))
        .set("Origin", "null");
    let a = eve.send(r, Some(&[("csrf", &csrf), ("password", "x")]));
    assert_eq!(a.status, 400);
    // Pages are sent with a referrer policy that keeps the Origin of their
    // forms (no-referrer would make it `null` on http://, where browsers send
    // no Sec-Fetch-Site either).
    let r = eve.agent.get(&format!("{}/", c.url));
    let raw = r.set("X-Real-IP", "10.41.0.23").call().unwrap();
    assert_eq!(raw.header("referrer-policy"), Some("same-origin"));
    // Wrong passwords: three free, then a growing wait.
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(eve.login(&c.url, &format!("faux-{i}")).status);
    }
    assert_eq!(&statuses[..4], &[403, 403, 403, 403], "{statuses:?}");
    assert!(statuses[4..].iter().all(|s| *s == 429), "{statuses:?}");
    let a = eve.login(&c.url, PASSWORD);
    assert_eq!(a.status, 429, "even the right password waits its turn");
    assert!(a.body.contains("attendez"), "{}", a.body);
    // Another phone is not slowed down by that one.
    let mut ann = Phone::new("10.41.0.24");
    let a = ann.login(&c.url, PASSWORD);
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.location.as_deref(), Some("/admin/"));
    let session = a
        .set_cookies
        .iter()
        .find(|c| c.starts_with("clic_admin="))
        .expect("a session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    let a = ann.get(&format!("{}/", c.url));
    assert!(a.body.contains("id=\"services\""), "not logged in");
    assert!(
        a.body.contains("value=\"CLIC &lt;test&gt; &amp; co\""),
        "the SSID is shown, escaped"
    );
    assert!(
        !a.body.contains("pain-au-levain"),
        "the Wi-Fi passphrase is never sent back"
    );
    // The poster: both QR codes, the passphrase printed for the wall.
    let a = ann.get(&format!("{}/poster?paper=a5", c.url));
    assert_eq!(a.status, 200);
    assert_eq!(a.body.matches("<svg").count(), 2, "two QR codes");
    assert!(a.body.contains("size: A5"));
    // Bad input: a line break in a setting, an unknown unit, a power verb.
    let csrf = ann.csrf(&format!("{}/", c.url));
    let a = ann.post(
        &format!("{}/settings", c.url),
        &[
            ("csrf", &csrf),
            ("ssid", "CLIC\nwpa=0"),
            ("channel", "6"),
            ("country", "FR"),
        ],
    );
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body.contains("line break"), "{}", a.body);
    let a = ann.post(
        &format!("{}/restart", c.url),
        &[("csrf", &csrf), ("unit", "../../etc/passwd")],
    );
    assert_eq!(a.status, 422);
    let a = ann.post(
        &format!("{}/power", c.url),
        &[("csrf", &csrf), ("action", "explode")],
    );
    assert_eq!(a.status, 422);
    let a = ann.post(
        &format!("{}/clock", c.url),
        &[("csrf", &csrf), ("epoch", "12")],
    );
    assert_eq!(a.status, 422, "a date before 2024 is refused");
    let a = ann.post(
        &format!("{}/clock", c.url),
        &[("csrf", &csrf), ("local", "2026-13-45T99:99")],
    );
    assert_eq!(a.status, 422);
    // A session's token is not another's: the login page's token fails here.
    let a = ann.post(
        &format!("{}/logout", c.url),
        &[("csrf", "0".repeat(32).as_str())],
    );
    assert_eq!(a.status, 400);
    let a = ann.post(&format!("{}/logout", c.url), &[("csrf", &csrf)]);
    assert_eq!(a.status, 303);
    let a = ann.get(&format!("{}/", c.url));
    assert!(
        a.body.contains("id=\"login-form\""),
        "still logged in after logout"
    );
}

#[test]
fn only_the_reach_it_is_given() {
    let c = start("hotspot");
    for (ip, status) in [
        ("10.41.0.23", 200),
        ("127.0.0.1", 200),
        ("192.168.1.20", 403),
        ("203.0.113.9", 403),
        ("2001:db8::1", 403),
    ] {
        let a = Phone::new(ip).get(&format!("{}/", c.url));
        assert_eq!(a.status, status, "{ip}");
    }
    let c = start("local");
    assert_eq!(
        Phone::new("192.168.1.20")
            .get(&format!("{}/", c.url))
            .status,
        200
    );
    assert_eq!(
        Phone::new("203.0.113.9").get(&format!("{}/", c.url)).status,
        403
    );
}

/// The kiosk's page: for the box's own screen only, without login; it
/// names the network from hostapd's file (escaped) and carries both codes.
#[test]
fn the_kiosk_page_is_for_the_box_itself() {
    let c = start("local");
    for ip in ["10.41.0.23", "192.168.1.20"] {
        let a = Phone::new(ip).get(&format!("{}/kiosk", c.url));
        assert_eq!(a.status, 404, "{ip}");
        assert!(!a.body.contains("pain-au-levain-42"), "{ip}");
    }
    let a = Phone::new("127.0.0.1").get(&format!("{}/kiosk", c.url));
    assert_eq!(a.status, 200);
    assert!(a.body.contains("CLIC &lt;test&gt; &amp; co"), "{}", a.body);
    assert!(a.body.contains("pain-au-levain-42"));
    assert!(a.body.contains("<h1>Boîte &lt;de&gt; test</h1>"));
    assert_eq!(a.body.matches("<svg").count(), 2);
}

#[test]
fn a_bad_config_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("admin.toml");
    std::fs::write(&p, "listen = \"127.0.0.1:1\"\nreach = \"everyone\"\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_clic-admin"))
        .args(["serve", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains(&p.display().to_string()), "{e}");
    assert!(Path::new(&p).exists());
    let o = Command::new(env!("CARGO_BIN_EXE_clic-admin"))
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
