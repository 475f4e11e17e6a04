//! Extra apt repositories and first-boot steps, with real parts only: a
//! signed apt repository made in the test (gpg with throwaway keys,
//! dpkg-deb, apt-ftparchive: `tests/fixtures/make-apt-repo.sh`) served by
//! `python3 -m http.server` on 127.0.0.1, layers written in the test that
//! use it, real `clic build` (mmdebstrap from the Debian mirror) and QEMU
//! boots.
//!
//! - a tampered Release, a key that did not sign the repository, and a key
//!   file that is not the pinned one each stop the build before anything
//!   is made, naming the repository and the layer;
//! - a package whose maintainer script leaves a process running in the
//!   tree fails the build, naming the process, which is stopped;
//! - an image with the repository's package: the key is in
//!   /usr/share/keyrings and the source uses it; booted twice (writes
//!   kept), the step that succeeds runs once, the step that fails is shown
//!   failed on the portal's about page (fetched over HTTP from the box) and
//!   succeeds at the second boot.
//!
//! They need root, the Debian mirror and minutes: `#[ignore]`d for a plain
//! `cargo test`, run by `make test`. Work files and serial logs are kept in
//! target/tmp/clic-apt-tests/.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, repo, run, stderr, tail, RunningBox};

/// `python3 -m http.server` on 127.0.0.1 for one directory; stopped when
/// dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "http.server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Server { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One test's world: the generated repository (and a tampered copy)
/// served over HTTP, and a data directory with the project's profiles and
/// layers plus the test layers that use the repository.
struct World {
    dir: PathBuf,
    data: PathBuf,
    server: Server,
    fingerprint: String,
    _tidy: common::Tidy,
}

impl World {
    fn new(tag: &str) -> World {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("clic-apt-tests")
            .join(tag);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let gen = dir.join("gen");
        run({
            let mut c = Command::new("bash");
            c.arg(repo().join("tests/fixtures/make-apt-repo.sh"))
                .arg(&gen);
            c
        });
        // What the server shows: the repository as made, and a copy whose
        // InRelease was changed after signing (one more line in it).
        let www = dir.join("www");
        std::fs::create_dir_all(&www).unwrap();
        for name in ["good", "tampered"] {
            run({
                let mut c = Command::new("cp");
                c.arg("-a").arg(gen.join("repo")).arg(www.join(name));
                c
            });
        }
        let inrelease = www.join("tampered/dists/clic-test/InRelease");
        let text = std::fs::read_to_string(&inrelease).unwrap();
        let tampered = text.replacen(
            "Suite: clic-test\n",
            "Suite: clic-test\nNotAutomatic: no\n",
            1,
        );
        assert_ne!(text, tampered);
        std::fs::write(&inrelease, tampered).unwrap();
        let server = Server::start(&www);

        let data = dir.join("data");
        std::fs::create_dir_all(data.join("overlays")).unwrap();
        for d in ["profiles", "firmware"] {
            std::os::unix::fs::symlink(repo().join(d), data.join(d)).unwrap();
        }
        for e in std::fs::read_dir(repo().join("overlays")).unwrap() {
            let e = e.unwrap();
            std::os::unix::fs::symlink(e.path(), data.join("overlays").join(e.file_name()))
                .unwrap();
        }
        let fpr = |f: &str| {
            std::fs::read_to_string(gen.join(f))
                .unwrap()
                .trim()
                .to_owned()
        };
        let w = World {
            fingerprint: fpr("repo.fpr"),
            _tidy: common::Tidy::new(dir.join("out")),
            dir,
            data,
            server,
        };
        let (good, other) = (fpr("repo.fpr"), fpr("other.fpr"));
        w.layer("apt-test", "good", "repo.asc", &good, "clic-apt-test", true);
        w.layer(
            "apt-tampered",
            "tampered",
            "repo.asc",
            &good,
            "clic-apt-test",
            false,
        );
        w.layer(
            "apt-wrongkey",
            "good",
            "other.asc",
            &other,
            "clic-apt-test",
            false,
        );
        w.layer(
            "apt-mismatch",
            "good",
            "repo.asc",
            &other,
            "clic-apt-test",
            false,
        );
        w.layer(
            "apt-stray",
            "good",
            "repo.asc",
            &good,
            "clic-apt-stray",
            false,
        );
        w
    }

    /// A layer using the repository at `/<path>/` with key file `key`
    /// pinned to `pin`, installing `package`; with `steps`, two first-boot
    /// steps from the package.
    fn layer(&self, name: &str, path: &str, key: &str, pin: &str, package: &str, steps: bool) {
        let dir = self.data.join("overlays").join(name);
        std::fs::create_dir_all(dir.join("keys")).unwrap();
        std::fs::copy(self.dir.join("gen").join(key), dir.join("keys/repo.asc")).unwrap();
        let mut t = format!(
            "description = \"test layer {name}: {package} from a signed repository\"\n\
             needs = [\"firstboot\"]\n\
             packages = [\"{package}\"]\n\n\
             [[apt]]\n\
             name = \"testrepo\"\n\
             url = \"http://127.0.0.1:{port}/{path}/\"\n\
             suite = \"clic-test\"\n\
             components = [\"main\"]\n\
             key = \"keys/repo.asc\"\n\
             fingerprint = \"{pin}\"\n",
            port = self.server.port
        );
        if steps {
            t.push_str(
                "\n[[firstboot]]\nname = \"hello\"\ntitle = { fr = \"Bonjour\", en = \"Hello\" }\nrun = \"/usr/bin/clic-apt-hello\"\n\
                 \n[[firstboot]]\nname = \"flaky\"\ntitle = { fr = \"Étape fragile\", en = \"Flaky step\" }\nrun = \"/usr/bin/clic-apt-flaky\"\n",
            );
        }
        std::fs::write(dir.join("layer.toml"), t).unwrap();
    }

    /// A spec for the default PC board with these layers.
    fn spec(&self, name: &str, layers: &[&str]) -> PathBuf {
        let list: Vec<String> = layers.iter().map(|l| format!("\"{l}\"")).collect();
        let p = self.dir.join(format!("{name}.toml"));
        std::fs::write(
            &p,
            format!(
                "name = \"{name}\"\nboard = \"ordinosaure-amd64\"\nsuite = \"bookworm\"\nlayers = [{}]\n\n[system]\nhostname = \"clic\"\n",
                list.join(", ")
            ),
        )
        .unwrap();
        p
    }

    fn clic(&self) -> Command {
        let mut c = common::clic_data(&self.data);
        c.current_dir(&self.dir);
        c
    }

    /// `clic build SPEC --out DIR`: (output, out dir).
    fn build(&self, spec: &Path) -> (Output, PathBuf) {
        let out = self.dir.join("out").join(spec.file_stem().unwrap());
        let o = self
            .clic()
            .arg("build")
            .arg(spec)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        (o, out)
    }
}

/// Files an output directory holds (none may be left by a failed build).
fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
#[ignore = "needs root and the Debian mirror; run by make test"]
fn bad_signatures_and_keys_stop_the_build_before_any_work() {
    let w = World::new("refusals");
    for (layer, want) in [
        // The InRelease was changed after it was signed.
        ("apt-tampered", "BADSIG"),
        // The pinned key is not the one that signed the repository.
        ("apt-wrongkey", "NO_PUBKEY"),
    ] {
        let spec = w.spec(layer, &["base", layer]);
        let t = Instant::now();
        let (o, out) = w.build(&spec);
        let err = stderr(&o);
        assert!(
            !o.status.success(),
            "{layer}: the build passed:\n{}",
            tail(&err, 20)
        );
        assert!(
            err.contains(&format!("apt repository `testrepo` of layer `{layer}`"))
                && err.contains("Release signature does not verify")
                && err.contains(want),
            "{layer}: {}",
            tail(&err, 20)
        );
        // Refused before mmdebstrap: nothing was made.
        assert!(
            !err.contains("\nI: ") && !err.contains("[2/6]"),
            "{}",
            tail(&err, 20)
        );
        assert!(files_in(&out).is_empty(), "{layer}: {:?}", files_in(&out));
        eprintln!("{layer}: refused in {:.1} s", t.elapsed().as_secs_f64());
    }
    // A key file that is not the pinned one: refused by `clic check` and
    // `clic build` alike, naming file, line and key.
    let spec = w.spec("apt-mismatch", &["base", "apt-mismatch"]);
    let err = common::refused(w.clic().arg("check").arg(&spec));
    assert!(
        err.contains("apt-mismatch/layer.toml:11:")
            && err.contains("`apt[0].fingerprint`")
            && err.contains(&format!("has fingerprint {}", w.fingerprint)),
        "{err}"
    );
    let (o, out) = w.build(&spec);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("`apt[0].fingerprint`"));
    assert!(files_in(&out).is_empty());
    // The pinned key with a second key hidden after it (a second armored
    // block): apt would trust both, so it is refused, naming both.
    let gen = w.dir.join("gen");
    let both = [
        std::fs::read_to_string(gen.join("repo.asc")).unwrap(),
        std::fs::read_to_string(gen.join("other.asc")).unwrap(),
    ]
    .concat();
    std::fs::write(gen.join("both.asc"), both).unwrap();
    let good = w.fingerprint.clone();
    w.layer(
        "apt-twokeys",
        "good",
        "both.asc",
        &good,
        "clic-apt-test",
        false,
    );
    let spec = w.spec("apt-twokeys", &["base", "apt-twokeys"]);
    let (o, out) = w.build(&spec);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("apt-twokeys/layer.toml:")
            && err.contains("`apt[0].key`")
            && err.contains("holds 2 keys")
            && err.contains(&good),
        "{err}"
    );
    assert!(files_in(&out).is_empty());
}

#[test]
#[ignore = "needs root and the Debian mirror; run by make test"]
fn a_process_left_running_in_the_tree_fails_the_build() {
    let w = World::new("stray");
    let spec = w.spec("apt-stray", &["apt-stray"]);
    let (o, out) = w.build(&spec);
    let err = stderr(&o);
    assert!(!o.status.success(), "{}", tail(&err, 20));
    assert!(
        err.contains("processes are still running inside the image tree")
            && err.contains("`sleep 3600`"),
        "{}",
        tail(&err, 20)
    );
    assert!(files_in(&out).is_empty(), "{:?}", files_in(&out));
    // It was stopped.
    std::thread::sleep(Duration::from_millis(500));
    let left = Command::new("pgrep")
        .args(["-f", "-x", "sleep 3600"])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "still running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

/// The image booted in the background with its writes kept, until it is
/// ready; stopped (Ctrl-C) when dropped.
fn boot(w: &World, img: &Path, tag: &str) -> RunningBox {
    RunningBox::start(
        w.clic(),
        img,
        &w.dir,
        tag,
        &[],
        &["--persist", "--timeout", "600"],
    )
}

/// What the hello step's `<li>` shows once it has run, at the first boot.
const HELLO_DONE: &[&str] = &["class=\"step-done\"", "attempt 1,"];

/// The `<li>` of step `id` on a status page holds every `has`, no `not`.
fn assert_step(page: &str, id: &str, has: &[&str], not: &[&str]) {
    let li = page
        .lines()
        .find(|l| l.contains(&format!("id=\"step-{id}\"")))
        .unwrap_or_else(|| panic!("no step {id} in:\n{page}"));
    for h in has {
        assert!(li.contains(h), "`{h}` not in {li}");
    }
    for n in not {
        assert!(!li.contains(n), "`{n}` in {li}");
    }
}

/// The console (serial log) shows every `has` and no `not`.
fn assert_console(serial: &str, has: &[&str], not: &[&str]) {
    for h in has {
        assert!(serial.contains(h), "`{h}` not in:\n{}", tail(serial, 60));
    }
    for n in not {
        assert!(!serial.contains(n), "`{n}` in:\n{}", tail(serial, 60));
    }
}

#[test]
#[ignore = "needs root, the Debian mirror and QEMU; run by make test"]
fn a_package_from_a_signed_repository_and_first_boot_steps_in_a_booted_image() {
    let w = World::new("image");
    let canary = Canary::new(&w.dir.join("host-canary"));
    hostile_layers(&w, &canary.dir);
    // A link out of a layer's tree through `..`: refused before any work.
    let up = w.spec("clic-apt-up", &["base", "hostile-up"]);
    let refused = w.clic().arg("build").arg(&up).output().unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("hostile-up/root/etc/clic-up:1:1: symbolic link to")
            && stderr(&refused).contains("leaves the layer's tree"),
        "{}",
        stderr(&refused)
    );
    assert!(files_in(&w.dir.join("out/clic-apt-up")).is_empty());
    let spec = w.spec(
        "clic-apt",
        &[
            "base",
            "firstboot",
            "portal",
            "apt-test",
            "hostile-links",
            "hostile-write",
        ],
    );
    let check = w.clic().arg("check").arg(&spec).output().unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
    let t = Instant::now();
    let (o, out) = w.build(&spec);
    assert!(o.status.success(), "{}", tail(&stderr(&o), 40));
    eprintln!("built in {:.0} s", t.elapsed().as_secs_f64());
    // The whole build wrote nothing through the layers' links onto the
    // host: what it wrote through them is in the image.
    canary.untouched();
    let img = out.join("clic-apt.img");
    let m = common::manifest(&img);
    let (root_start, _) = common::partition_extent(&m, "root");
    let cat = |path: &str| -> String {
        let o = Command::new("debugfs")
            .args(["-R", &format!("cat {path}")])
            .arg(format!("{}?offset={root_start}", img.display()))
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let inside = format!("{}/planted", canary.dir.display());
    assert_eq!(
        cat(&inside),
        "planted by a later layer\n",
        "{inside} in the image"
    );
    assert_eq!(
        cat("/etc/clic-canary.txt"),
        "a file, not written through the link\n"
    );
    let pkgs = m["packages"].as_array().unwrap();
    assert!(
        pkgs.iter()
            .any(|p| p["name"] == "clic-apt-test" && p["version"] == "1.0"),
        "clic-apt-test is not in the manifest"
    );

    // The key and the source, as the box's apt will use them.
    let key = cat("/usr/share/keyrings/clic-testrepo.asc");
    let layer_key =
        std::fs::read_to_string(w.data.join("overlays/apt-test/keys/repo.asc")).unwrap();
    assert_eq!(key, layer_key, "the layer's key is in /usr/share/keyrings");
    let sources = cat("/etc/apt/sources.list");
    assert!(
        sources.contains(&format!(
            "deb [signed-by=/usr/share/keyrings/clic-testrepo.asc] http://127.0.0.1:{}/good/ clic-test main",
            w.server.port
        )),
        "{sources}"
    );

    // First boot: hello runs and succeeds, flaky fails; the about pages say
    // so, live.
    let b = boot(&w, &img, "boot1");
    let fr = b.page("/about.html");
    let en = b.page("/en/about.html");
    let serial1 = b.stop();
    assert_console(
        &serial1,
        &[
            "CLIC-APT-TEST: hello run 1",
            "CLIC-APT-TEST: flaky run 1 fails",
        ],
        &[],
    );
    assert_step(&en, "apt-test-hello", HELLO_DONE, &[]);
    assert_step(
        &en,
        "apt-test-flaky",
        &[
            "class=\"step-failed\"",
            "failed (exit code 3), tried again at the next boot",
            "attempt 1,",
            "run 1 failed &lt;on purpose&gt;",
        ],
        &[],
    );
    assert!(
        en.contains("Flaky step") && !en.contains("<!--#"),
        "SSI ran: {en}"
    );
    assert_step(
        &fr,
        "apt-test-flaky",
        &["Étape fragile", "échec (code 3)"],
        &[],
    );

    // Second boot of the same disk: hello does not run again, flaky is
    // retried and succeeds.
    let b = boot(&w, &img, "boot2");
    let en = b.page("/en/about.html");
    let serial2 = b.stop();
    assert_console(
        &serial2,
        &["CLIC-APT-TEST: flaky run 2 succeeds"],
        &["CLIC-APT-TEST: hello run"],
    );
    assert_step(&en, "apt-test-hello", HELLO_DONE, &[]);
    assert_step(
        &en,
        "apt-test-flaky",
        &["class=\"step-done\"", "attempt 2,"],
        &["on purpose"],
    );
}

/// The YunoHost flavour, statically (no network, no root): its spec passes
/// `clic check` with a warning for the key that is not pinned, `clic
/// build` refuses it before any work, and its layers render: settings,
/// first-boot steps chained after the firstboot layer, the about page's
/// live status include.
#[test]
fn the_yunohost_flavour_checks_and_renders() {
    let spec = repo().join("specs/clic-yunohost.toml");
    let clic = || common::clic_plain(&repo());
    let check = clic().arg("check").arg(&spec).output().unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        out.contains("deb [signed-by=/usr/share/keyrings/clic-yunohost.asc] http://forge.yunohost.org/debian/ bookworm stable")
            && out.contains("step     yunohost-postinstall")
            && out.contains("step     yunohost-apps"),
        "{out}"
    );
    assert!(
        stderr(&check)
            .contains("apt repository `yunohost` of layer `yunohost` has no pinned signing key"),
        "{}",
        stderr(&check)
    );
    let outdir = tempfile::tempdir().unwrap();
    let build = clic()
        .arg("build")
        .arg(&spec)
        .arg("--out")
        .arg(outdir.path())
        .output()
        .unwrap();
    assert!(!build.status.success());
    assert!(
        stderr(&build).contains("refusing to build: apt repository `yunohost`"),
        "{}",
        stderr(&build)
    );
    assert!(files_in(outdir.path()).is_empty());

    let r = common::resolve(&repo(), &spec).unwrap();
    let root = common::render_layers(&r, common::epoch()).unwrap();
    let ctx = clic::build::template_context(&r, common::epoch());
    clic::layers::steps::install(root.path(), &ctx.firstboot_steps).unwrap();
    let read = |p: &str| std::fs::read_to_string(root.path().join(p)).unwrap();
    let env = read("etc/clic/yunohost.env");
    assert!(
        env.contains("DOMAIN=clic.lan\n")
            && env.contains("ADMIN_USER=clicadmin\n")
            && env.contains("\nnextcloud\npiwigo\n"),
        "{env}"
    );
    assert!(root.path().join("etc/clic/keep-admin-password").is_file());
    let apps = read("etc/systemd/system/clic-step-yunohost-apps.service");
    assert!(
        apps.contains("Requires=clic-step-yunohost-postinstall.service")
            && apps.contains("After=clic-firstboot.service network.target clic-step-yunohost-postinstall.service"),
        "{apps}"
    );
    let about = read("var/www/html/en/about.html");
    assert!(
        about.contains("<!--# include virtual=\"/clic/firstboot/status.en.html\""),
        "{about}"
    );
    let home = read("var/www/html/index.html");
    assert!(
        home.contains("href=\"/yunohost/sso/\""),
        "the YunoHost tile"
    );
    postinstall_keeps_the_password_off_the_command_line(root.path());

    // A reserved first user name is refused by `clic check`, before any
    // work, at the spec's line (the schema in layer.toml; templates only
    // render).
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("clic-yunohost.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(text.contains("[settings.yunohost]\n"));
    std::fs::write(
        &bad,
        text.replacen(
            "[settings.yunohost]\n",
            "[settings.yunohost]\nadmin_user = \"admin\"\n",
            1,
        ),
    )
    .unwrap();
    let check = clic().arg("check").arg(&bad).output().unwrap();
    assert_eq!(check.status.code(), Some(2), "{}", stderr(&check));
    let err = stderr(&check);
    let line = text
        .lines()
        .position(|l| l == "[settings.yunohost]")
        .unwrap()
        + 2;
    assert!(
        err.contains(&format!("clic-yunohost.toml:{line}:"))
            && err.contains("`settings.yunohost.admin_user`: `admin` is reserved"),
        "{err}"
    );
}

/// YunoHost's postinstall gets the admin password from the root-only file,
/// never on a command line. YunoHost itself cannot be installed where
/// clic is tested: stand-ins for its Python modules (`yunohost`,
/// `moulinette`) record what the helper hands to `tools_postinstall`, and
/// the helper's own command line is checked while it runs.
fn postinstall_keeps_the_password_off_the_command_line(root: &Path) {
    let script = std::fs::read_to_string(root.join("usr/lib/clic/clic-yunohost")).unwrap();
    assert!(!script.contains("--password"), "{script}");
    assert!(script.contains("/usr/lib/clic/yunohost-postinstall.py \"$SECRET\""));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("yunohost")).unwrap();
    std::fs::write(
        d.join("yunohost/__init__.py"),
        "class Lock:\n    def release(self): open(__import__('os').environ['OUT'] + '.released', 'w')\n\
         def init(interface):\n    return Lock()\n",
    )
    .unwrap();
    std::fs::write(
        d.join("yunohost/tools.py"),
        "import json, os\n\
         def tools_postinstall(**kw):\n\
         \x20   from moulinette import Moulinette\n\
         \x20   kw['interface'] = Moulinette._interface.type\n\
         \x20   kw['cmdline'] = open('/proc/self/cmdline', 'rb').read().decode().split('\\0')\n\
         \x20   json.dump(kw, open(os.environ['OUT'], 'w'))\n",
    )
    .unwrap();
    std::fs::write(
        d.join("moulinette.py"),
        "class Moulinette:\n    _interface = None\n",
    )
    .unwrap();
    let secret = d.join("admin-password");
    std::fs::write(&secret, "abcd-efgh-jkmn-pqrs\n").unwrap();
    let out = d.join("called.json");
    let o = run({
        let mut c = Command::new("python3");
        c.arg(root.join("usr/lib/clic/yunohost-postinstall.py"))
            .args([
                secret.to_str().unwrap(),
                "clic.lan",
                "clicadmin",
                "CLIC admin",
            ])
            .env("PYTHONPATH", d)
            .env("OUT", &out);
        c
    });
    assert!(o.status.success());
    let called: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(called["password"], "abcd-efgh-jkmn-pqrs");
    assert_eq!(called["domain"], "clic.lan");
    assert_eq!(called["username"], "clicadmin");
    assert_eq!(called["fullname"], "CLIC admin");
    assert_eq!(called["ignore_dyndns"], true);
    assert_eq!(called["interface"], "cli");
    let cmdline = called["cmdline"].to_string();
    assert!(cmdline.contains("clicadmin"), "{cmdline}");
    assert!(
        !cmdline.contains("abcd-efgh"),
        "password on the command line: {cmdline}"
    );
    assert!(
        d.join("called.json.released").exists(),
        "YunoHost's lock released"
    );
}

/// A folder on the build host with one file whose bytes, mode and time
/// are known: a build that writes, chmods or touches through a link shows.
struct Canary {
    dir: PathBuf,
}

impl Canary {
    fn new(dir: &Path) -> Canary {
        std::fs::create_dir_all(dir).unwrap();
        let f = dir.join("canary.txt");
        std::fs::write(&f, "canary\n").unwrap();
        run({
            let mut c = Command::new("chmod");
            c.arg("600").arg(&f);
            c
        });
        run({
            let mut c = Command::new("touch");
            c.args(["-h", "-d", "@1000000000"]).arg(&f).arg(dir);
            c
        });
        Canary {
            dir: dir.to_owned(),
        }
    }

    fn untouched(&self) {
        use std::os::unix::fs::MetadataExt;
        let names: Vec<String> = files_in(&self.dir);
        assert_eq!(
            names,
            ["canary.txt"],
            "written on the host through a layer's link"
        );
        let f = self.dir.join("canary.txt");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "canary\n");
        let m = std::fs::metadata(&f).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o600, "canary's mode changed");
        assert_eq!(m.mtime(), 1000000000, "canary's time changed");
        assert_eq!((m.uid(), m.gid()), (0, 0), "canary's owner changed");
    }
}

/// Layers an attacker would write: `hostile-links` with absolute links to
/// the host's canary (a folder and a file), `hostile-write` (after it)
/// writing through the folder's link and over the file's; `hostile-up`
/// with a link climbing out of its tree through `..`.
fn hostile_layers(w: &World, canary: &Path) {
    let layer = |name: &str, needs: &str| {
        let dir = w.data.join("overlays").join(name);
        std::fs::create_dir_all(dir.join("root/etc")).unwrap();
        std::fs::write(
            dir.join("layer.toml"),
            format!("description = \"test layer {name}: hostile links\"\nneeds = [\"{needs}\"]\n"),
        )
        .unwrap();
        dir.join("root")
    };
    let links = layer("hostile-links", "base");
    std::os::unix::fs::symlink(canary, links.join("etc/clic-abs")).unwrap();
    std::os::unix::fs::symlink(canary.join("canary.txt"), links.join("etc/clic-canary.txt"))
        .unwrap();
    let write = layer("hostile-write", "hostile-links");
    std::fs::create_dir_all(write.join("etc/clic-abs")).unwrap();
    std::fs::write(
        write.join("etc/clic-abs/planted"),
        "planted by a later layer\n",
    )
    .unwrap();
    std::fs::write(
        write.join("etc/clic-canary.txt"),
        "a file, not written through the link\n",
    )
    .unwrap();
    let up = layer("hostile-up", "base");
    let climb = "../".repeat(12) + canary.to_str().unwrap().trim_start_matches('/');
    std::os::unix::fs::symlink(climb, up.join("etc/clic-up")).unwrap();
}
