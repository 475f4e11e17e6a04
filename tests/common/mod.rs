//! Helpers shared by the integration test binaries in tests/*.rs, each of
//! which takes this module with `mod common;`. Cargo does not make a test
//! binary of tests/common/mod.rs.
//!
//! - the repository, the test work directories under target/tmp/, the
//!   `clic` binary as a [`Command`] and [`run`] for commands that must pass;
//! - images: [`build`], [`Made`] (one image per board per test binary),
//!   [`default_spec_image`] (the default spec for one board),
//!   the manifest next to an image, `clic inspect --json`;
//! - rendering a spec's layers the way `clic build` does, without root;
//! - booting under QEMU: [`boot_to_login`] in the foreground, and
//!   [`RunningBox`], a box left running in the background and asked for
//!   pages over a forwarded port;
//! - [`http`]: a minimal HTTP client; [`webdriver`]: Chromium driven by
//!   chromedriver (W3C WebDriver) for tests in a real browser.

// Each test binary uses some of these helpers, none uses all of them.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub mod http;
pub mod qmp;
pub mod webdriver;

/// The repository: specs, profiles, overlays, content, fixtures.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// `target/tmp/<rel>`, made if missing; what an earlier run left is kept.
pub fn work_dir(rel: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(rel);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `target/tmp/<rel>`, new and empty.
pub fn fresh_dir(rel: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(rel);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// When dropped (the test passed or failed), removes the large files
/// (1 MiB and more: images, filesystems, archives) at or under its path,
/// keeping logs and screenshots: a whole `make test` keeps at most a few
/// images at a time, on a CI machine's small disk too. `CLIC_TEST_KEEP=1`
/// keeps everything, for looking at a failure.
pub struct Tidy(PathBuf);

impl Tidy {
    pub fn new(path: impl AsRef<Path>) -> Self {
        Tidy(path.as_ref().to_owned())
    }
}

impl Drop for Tidy {
    fn drop(&mut self) {
        if std::env::var("CLIC_TEST_KEEP").is_ok_and(|v| v == "1") {
            return;
        }
        remove_large(&self.0);
    }
}

fn remove_large(path: &Path) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        for e in std::fs::read_dir(path).into_iter().flatten().flatten() {
            remove_large(&e.path());
        }
    } else if meta.is_file() && meta.len() >= 1 << 20 {
        let _ = std::fs::remove_file(path);
    }
}

/// Fixed so that two builds of one spec agree (reproducibility) and the
/// build date is known (2025-01-01).
pub const EPOCH: &str = "1735689600";

/// [`EPOCH`] as a number, for the template context.
pub fn epoch() -> i64 {
    EPOCH.parse().unwrap()
}

/// The `clic` binary, run in the repository with `data` as its data
/// directory (`CLIC_DATA`).
pub fn clic_plain(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clic"));
    c.current_dir(repo()).env("CLIC_DATA", data);
    c
}

/// [`clic_plain`] with `SOURCE_DATE_EPOCH` fixed to [`EPOCH`].
pub fn clic_data(data: &Path) -> Command {
    let mut c = clic_plain(data);
    c.env("SOURCE_DATE_EPOCH", EPOCH);
    c
}

/// `clic` on the repository's own data, `SOURCE_DATE_EPOCH` fixed.
pub fn clic() -> Command {
    clic_data(&repo())
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Run a command that must succeed; else panic with it, its exit status
/// and the end of its stdout and stderr.
pub fn run(mut c: Command) -> Output {
    let out = c.output().expect("run a command");
    if !out.status.success() {
        panic!(
            "{:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            c,
            out.status,
            tail(&String::from_utf8_lossy(&out.stdout), 200),
            tail(&String::from_utf8_lossy(&out.stderr), 60)
        );
    }
    out
}

/// Run a command that must refuse its input (exit code 2: bad input,
/// found before any work); its stderr.
pub fn refused(c: &mut Command) -> String {
    let out = c.output().expect("run a command");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{c:?}:\n{err}");
    err
}

/// A command's stderr, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `clic build SPEC --out OUT EXTRA...` with `clic` (a command from
/// [`clic`], [`clic_data`]: its data directory and environment), into an
/// emptied OUT; it must succeed and, without `--json`, print the image's
/// path and nothing else on stdout ([`one_image_line`]), however cold the
/// cache was: every build of the suite checks what `img=$(clic build ...)`
/// relies on.
pub fn build(mut clic: Command, spec: impl AsRef<Path>, out: &Path, extra: &[&str]) -> Output {
    let _ = std::fs::remove_dir_all(out);
    clic.arg("build")
        .arg(spec.as_ref())
        .arg("--out")
        .arg(out)
        .args(extra);
    let output = run(clic);
    if !extra.contains(&"--json") {
        one_image_line(&output);
    }
    output
}

/// The default spec's image (`specs/clic-ordinosaure.toml`), for tests
/// that only read it or boot it with writes thrown away (snapshots,
/// copies). Under `tests/run-integration.sh` (`make test`), which names
/// the run in `CLIC_TEST_RUN`, it is built once per run and shared by
/// every test binary, the first to ask building it under a lock the
/// others wait on, in target/tmp/clic-default-image/; a build left by an
/// earlier run is not reused. Without `CLIC_TEST_RUN` (a plain
/// `cargo test`), it is built in `own`.
pub fn default_image(own: &Path) -> PathBuf {
    const SPEC: &str = "specs/clic-ordinosaure.toml";
    const IMG: &str = "clic-ordinosaure.img";
    let Some(run_id) = std::env::var("CLIC_TEST_RUN")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        build(clic(), SPEC, own, &[]);
        return own.join(IMG);
    };
    let dir = work_dir("clic-default-image");
    let lock = std::fs::File::create(dir.join("lock")).unwrap();
    lock.lock().unwrap();
    let (stamp, out) = (dir.join("run"), dir.join("out"));
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(run_id.as_str())
        && out.join(IMG).is_file()
    {
        eprintln!("default image: shared, built earlier in this run ({run_id})");
    } else {
        let _ = std::fs::remove_file(&stamp);
        eprintln!("default image: building it for this run ({run_id}), shared");
        build(clic(), SPEC, &out, &[]);
        std::fs::write(&stamp, &run_id).unwrap();
    }
    drop(lock);
    out.join(IMG)
}

/// A build's stdout is exactly one line, naming an image that exists
/// (relative to the repository, where tests run clic); that image.
pub fn one_image_line(out: &Output) -> PathBuf {
    let text = String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stdout must be the image path alone:\n{text}\nstderr:\n{}",
        tail(&stderr(out), 20)
    );
    assert!(text.ends_with('\n'), "{text:?}");
    let img = repo().join(lines[0]);
    assert!(
        img.extension().is_some_and(|e| e == "img") && img.is_file(),
        "not an image: {}",
        img.display()
    );
    img
}

/// Things made once per test binary, one per key (a board's image): the
/// first test to ask makes it, the others wait for it and share it.
pub struct Made<T: 'static>(Mutex<Vec<(&'static str, &'static T)>>);

impl<T> Made<T> {
    pub const fn new() -> Self {
        Made(Mutex::new(Vec::new()))
    }

    /// The thing for `key`, made by `make` the first time.
    pub fn get(&self, key: &'static str, make: impl FnOnce() -> T) -> &'static T {
        // A test that panicked while making one leaves it to the next.
        let mut made = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, v)) = made.iter().find(|(k, _)| *k == key) {
            return v;
        }
        let v: &'static T = Box::leak(Box::new(make()));
        made.push((key, v));
        v
    }
}

/// The default spec (`specs/clic-ordinosaure.toml`) built for `board` in
/// `work/BOARD/`, once per test binary; the image.
pub fn default_spec_image(board: &'static str, work: &Path) -> &'static Path {
    static IMAGES: Made<PathBuf> = Made::new();
    IMAGES.get(board, || {
        let out = work.join(board);
        build(
            clic(),
            "specs/clic-ordinosaure.toml",
            &out,
            &["--board", board],
        );
        out.join("clic-ordinosaure.img")
    })
}

/// Boot a default-spec image (with `firmware`) to a login prompt: the
/// box's page answers with its welcome sentence, the kernel found root by
/// PARTUUID. The serial log is kept in `work/serial-TAG-FIRMWARE.log`.
pub fn boot_and_serve(img: &Path, firmware: &str, tag: &str, work: &Path) {
    let log = work.join(format!("serial-{tag}-{firmware}.log"));
    let serial = boot_to_login(
        clic(),
        img,
        &log,
        &[
            "--firmware",
            firmware,
            "--http-expect",
            "Cette boîte CLIC! fonctionne.",
        ],
    );
    // The boot loader ran from the image, then Debian's kernel found root
    // by PARTUUID.
    assert!(
        serial.contains("root=PARTUUID="),
        "kernel command line not seen:\n{}",
        tail(&serial, 40)
    );
    assert!(serial.contains("clic login:"), "{}", tail(&serial, 40));
}

/// The default spec built for `board` passes `clic inspect`, its Wi-Fi
/// firmware files are in it, and it boots (with `firmware`) and serves
/// the box's page; its image is removed after.
pub fn board_inspects_and_boots(board: &'static str, firmware: &str, wifi: &[&str], work: &Path) {
    let _tidy = Tidy::new(work.join(board));
    let img = default_spec_image(board, work);
    assert_wifi_firmware(&inspect_report(img), wifi);
    boot_and_serve(img, firmware, board, work);
}

/// The admin password the first boot wrote on the image's FAT partition
/// (`clic-admin-password.txt`; the image booted with `--persist`), read
/// with mtools as someone holding the card would.
pub fn admin_password_from_card(img: &Path) -> String {
    let manifest = manifest(img);
    let fat = manifest["partitions"]
        .as_array()
        .and_then(|ps| {
            ps.iter()
                .find(|p| p["role"] == "esp" || p["role"] == "boot")
        })
        .unwrap_or_else(|| panic!("no FAT partition in {}'s manifest", img.display()));
    let start = fat["start"].as_u64().unwrap();
    let o = run({
        let mut c = Command::new("mtype");
        c.arg("-i")
            .arg(format!("{}@@{start}", img.display()))
            .arg("::/clic-admin-password.txt");
        c
    });
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.lines()
        .find_map(|l| l.split("password: ").nth(1))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| panic!("no password in the card's file:\n{text}"))
}

/// The manifest `clic build` wrote next to `img` (`NAME.manifest.json`
/// next to `NAME.img`).
pub fn manifest(img: &Path) -> serde_json::Value {
    let path = img.with_extension("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The manifest's partition with this role.
pub fn partition<'a>(manifest: &'a serde_json::Value, role: &str) -> &'a serde_json::Value {
    manifest["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == role)
        .unwrap_or_else(|| panic!("no {role} partition in the manifest"))
}

/// (start, size) in bytes of the manifest's partition with this role.
pub fn partition_extent(manifest: &serde_json::Value, role: &str) -> (u64, u64) {
    let p = partition(manifest, role);
    (p["start"].as_u64().unwrap(), p["size"].as_u64().unwrap())
}

/// `clic inspect --json` of an image that passes (the board from its
/// manifest, the repository's data); its report, which has checked the
/// kernel command line.
pub fn inspect_report(img: &Path) -> serde_json::Value {
    let mut c = clic();
    c.arg("inspect").arg(img).arg("--json");
    let out = run(c);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report:#}");
    assert!(report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "cmdline"));
    report
}

/// The board's Wi-Fi firmware files were checked, and are in the root.
pub fn assert_wifi_firmware(report: &serde_json::Value, files: &[&str]) {
    let checks = report["checks"].as_array().unwrap();
    for f in files {
        let name = format!("file root:/lib/firmware/{f}");
        let c = checks
            .iter()
            .find(|c| c["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} not checked: {report:#}"));
        assert_eq!(c["ok"], true, "{c}");
    }
}

/// The spec resolved against the data directory `data`, as `clic build`
/// resolves it; the problems as text if it is refused.
pub fn resolve(data: &Path, spec: &Path) -> Result<clic::spec::Resolved, String> {
    let dd = clic::data::DataDir {
        root: data.to_owned(),
    };
    let opts = clic::spec::Options {
        data: &dd,
        board_override: None,
    };
    clic::spec::resolve(spec, &opts).map_err(|d| d.to_string())
}

/// The layers' trees rendered into a new temp dir the way `clic build`
/// does (build date `epoch`); the error as text if a template refuses.
pub fn render_layers(r: &clic::spec::Resolved, epoch: i64) -> Result<tempfile::TempDir, String> {
    let ctx = clic::build::template_context(r, epoch);
    let out = tempfile::tempdir().unwrap();
    for l in &r.layers {
        if let Some(tree) = l.root() {
            clic::layers::apply::apply_tree(&tree, out.path(), &ctx).map_err(|e| e.to_string())?;
        }
    }
    Ok(out)
}

/// [`resolve`] then [`render_layers`].
pub fn render_spec(data: &Path, spec: &Path, epoch: i64) -> Result<tempfile::TempDir, String> {
    render_layers(&resolve(data, spec)?, epoch)
}

/// Boot `img` with `clic` (a command from [`clic`], [`clic_data`]) to a
/// login prompt, the guest's port 80 forwarded, with `args` added (the
/// firmware, `--http-expect`); the box's page must answer 200. The serial
/// log, kept at `log`.
pub fn boot_to_login(mut clic: Command, img: &Path, log: &Path, args: &[&str]) -> String {
    let port = free_port();
    clic.arg("boot")
        .arg(img)
        // A bound for a hung boot, not a speed check: CI runs two test
        // binaries at once on two cores.
        .args(["--until", "login:", "--timeout", "900", "--quiet"])
        .args(["--forward", &format!("127.0.0.1:{port}:80")])
        .args(["--http-check", "/"])
        .args(args)
        .arg("--log")
        .arg(log);
    let out = run(clic);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTP 200 from"), "{err}");
    String::from_utf8_lossy(&std::fs::read(log).unwrap()).into_owned()
}

/// A `clic boot --keep-running` in the background; Ctrl-C'd (QEMU
/// stopped) when dropped, panics included.
pub struct RunningBox {
    child: Child,
    /// The host port forwarded to the guest's port 80.
    pub port: u16,
    /// (guest port, host port) of the other forwarded ports.
    forwards: Vec<(u16, u16)>,
    log: PathBuf,
}

impl RunningBox {
    /// Boot `img` with `clic` (a command from [`clic`], [`clic_data`]: its
    /// data directory and environment) until the box says it is ready
    /// (`--until clic-ready:.*memory`, and `--http-check /` answered), with
    /// the guest's port 80 and `guest_ports` forwarded and `args` added
    /// (`--timeout`, `--memory`, `--persist`). The serial log and clic's
    /// stderr are kept in `dir` as `serial-TAG.log` and
    /// `clic-boot-TAG.err`. Panics if the box is not up after 700 s.
    pub fn start(
        mut clic: Command,
        img: &Path,
        dir: &Path,
        tag: &str,
        guest_ports: &[u16],
        args: &[&str],
    ) -> RunningBox {
        let port = free_port();
        let forwards: Vec<(u16, u16)> = guest_ports.iter().map(|&g| (g, free_port())).collect();
        let log = dir.join(format!("serial-{tag}.log"));
        let err = dir.join(format!("clic-boot-{tag}.err"));
        clic.arg("boot")
            .arg(img)
            .args([
                "--until",
                "clic-ready:.*memory",
                "--quiet",
                "--keep-running",
            ])
            .args(["--forward", &format!("127.0.0.1:{port}:80")])
            .args(
                forwards
                    .iter()
                    .flat_map(|(g, h)| ["--forward".to_owned(), format!("127.0.0.1:{h}:{g}")]),
            )
            .args(["--http-check", "/"])
            .args(args)
            .arg("--log")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap());
        let child = clic.spawn().unwrap();
        let mut b = RunningBox {
            child,
            port,
            forwards,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(700);
        loop {
            let text = std::fs::read_to_string(&err).unwrap_or_default();
            if text.contains("clic: the box is up") {
                return b;
            }
            if let Ok(Some(status)) = b.child.try_wait() {
                panic!(
                    "clic boot ended ({status}) before the box was up:\n{}\nserial:\n{}",
                    tail(&text, 30),
                    tail(&b.serial(), 40)
                );
            }
            assert!(
                Instant::now() < deadline,
                "the box is not up after 700 s:\n{}",
                tail(&b.serial(), 40)
            );
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    /// The host port forwarded to the guest's port `guest`.
    pub fn host_port(&self, guest: u16) -> u16 {
        self.forwards
            .iter()
            .find(|(g, _)| *g == guest)
            .unwrap_or_else(|| panic!("guest port {guest} is not forwarded"))
            .1
    }

    /// The serial log so far (complete once the box is stopped).
    pub fn serial(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// Send `request` to the box's port 80; the raw answer. With `whole`,
    /// the answer must be read to its end; else what came before an error
    /// (the box may reset a connection it refuses) is the answer.
    fn exchange(&self, request: &[u8], whole: bool) -> Vec<u8> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        s.write_all(request).unwrap();
        let mut raw = Vec::new();
        let read = s.read_to_end(&mut raw);
        if whole {
            read.unwrap();
        }
        raw
    }

    /// GET `path` (HTTP/1.0, `Host: clic.lan`): the whole answer, and
    /// where its head ends (the blank line), if it has one.
    fn get_raw(&self, path: &str) -> (Vec<u8>, Option<usize>) {
        let raw = self.exchange(
            format!("GET {path} HTTP/1.0\r\nHost: clic.lan\r\nUser-Agent: clic-tests\r\n\r\n")
                .as_bytes(),
            true,
        );
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n");
        (raw, split)
    }

    /// GET `path` (HTTP/1.0, `Host: clic.lan`): (status, body).
    pub fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let (raw, split) = self.get_raw(path);
        let split = split.unwrap_or_else(|| {
            panic!(
                "no HTTP answer for {path}: {}",
                tail(&String::from_utf8_lossy(&raw), 5)
            )
        });
        let head = String::from_utf8_lossy(&raw[..split]);
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status for {path}: {head}"));
        (status, raw[split + 4..].to_vec())
    }

    /// GET `path`: the answer's status line and headers, as text.
    pub fn headers(&self, path: &str) -> String {
        let (raw, split) = self.get_raw(path);
        String::from_utf8_lossy(&raw[..split.unwrap_or(raw.len())]).into_owned()
    }

    /// GET `path`: (status, body as text).
    pub fn get_text(&self, path: &str) -> (u16, String) {
        let (status, body) = self.get(path);
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// GET `path`, which must answer 200 with UTF-8 text; the text.
    pub fn page(&self, path: &str) -> String {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "{path}");
        String::from_utf8(body).unwrap()
    }

    /// PUT one byte to `path`; the raw answer, as text.
    pub fn put(&self, path: &str) -> String {
        let raw = self.exchange(
            format!("PUT {path} HTTP/1.0\r\nHost: clic.lan\r\nContent-Length: 1\r\n\r\nx")
                .as_bytes(),
            false,
        );
        String::from_utf8_lossy(&raw).into_owned()
    }

    /// Wait up to `timeout` for the box to end by itself (shut down from
    /// inside: QEMU exits, then `clic boot`); whether it did, and the
    /// serial log. If it did not, it is stopped.
    pub fn wait_for_end(mut self, timeout: Duration) -> (bool, String) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return (true, self.serial());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        self.interrupt();
        (false, self.serial())
    }

    /// Stop the box; the whole serial log (written out once QEMU is gone).
    pub fn stop(mut self) -> String {
        self.interrupt();
        self.serial()
    }

    /// Ctrl-C `clic boot` (it stops QEMU) and wait for it.
    fn interrupt(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RunningBox {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.interrupt();
        }
    }
}
