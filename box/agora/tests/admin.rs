//! Moderation, backup and restore: admin login against a sha512-crypt hash made
//! here, hide/unhide/delete, backup download and upload, and the CLI.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn hash_file(dir: &Path, password: &str) -> std::path::PathBuf {
    let h =
        sha_crypt::sha512_simple(password, &sha_crypt::Sha512Params::new(5000).unwrap()).unwrap();
    assert!(h.starts_with("$6$"));
    let p = dir.join("admin-hash");
    std::fs::write(&p, format!("{h}\n")).unwrap();
    p
}

fn login(s: &Server, password: &str) -> Device {
    let mut adm = s.device("10.3.0.100");
    adm.get("/agora/admin");
    let r = adm.post("/agora/admin/login", &[("password", password)]);
    assert_eq!(r.status, 303, "{}", r.body);
    let c = r
        .set_cookies
        .iter()
        .find(|c| c.starts_with("agora_admin="))
        .expect("session cookie");
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Max-Age="));
    adm
}

#[test]
fn without_a_hash_file_moderation_says_it_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(|c| c.admin_hash = Some(dir.path().join("absent")));
    let mut d = s.device("10.3.1.1");
    let page = d.get("/agora/admin");
    assert_eq!(page.status, 200);
    assert!(page.has("id=\"admin-unavailable\""));
    assert!(!page.has("id=\"admin-login\""));
    d.get("/agora/p/new"); // a page with a form, for the CSRF token
    let r = d.post("/agora/admin/login", &[("password", "x")]);
    assert_eq!(r.status, 503);
    assert!(
        r.error().unwrap().contains("not available")
            || r.error().unwrap().contains("pas disponible")
    );
    // The service itself runs.
    assert_eq!(d.get("/agora/").status, 200);
}

#[test]
fn admin_hides_and_deletes_polls_votes_boards_notes() {
    let dir = tempfile::tempdir().unwrap();
    let hash = hash_file(dir.path(), "s3cret pass");
    let s = Server::start(|c| c.admin_hash = Some(hash.clone()));
    let mut u = s.device("10.3.2.1");
    let mut u2 = s.device("10.3.2.2");
    let (poll, _) = create_poll(
        &mut u,
        &[
            ("title", "Visible poll"),
            ("kind", "single"),
            ("options", "x\ny"),
        ],
    );
    u.get(&format!("/agora/p/{poll}"));
    u.post(
        &format!("/agora/p/{poll}/vote"),
        &[("choice", "0"), ("name", "spammer")],
    );
    u2.get(&format!("/agora/p/{poll}"));
    u2.post(&format!("/agora/p/{poll}/vote"), &[("choice", "1")]);
    let board = create_board(&mut u, "Visible board", "one");
    let col = column_ids(&u.get(&format!("/agora/b/{board}")).body)[0].clone();
    let r = u.post(
        &format!("/agora/b/{board}/notes"),
        &[("column", &col), ("text", "rude note"), ("color", "pink")],
    );
    let note = r
        .location
        .unwrap()
        .rsplit("#note-")
        .next()
        .unwrap()
        .to_string();

    // Wrong password: refused, no session.
    let mut bad = s.device("10.3.2.3");
    bad.get("/agora/admin");
    let r = bad.post("/agora/admin/login", &[("password", "guess")]);
    assert_eq!(r.status, 403);
    assert_eq!(r.error().as_deref(), Some("Mot de passe incorrect."));
    assert!(!bad.cookies.contains_key("agora_admin"));
    // A made-up session cookie does nothing.
    bad.cookies.insert(
        "agora_admin".into(),
        "0123456789abcdef0123456789abcdef".into(),
    );
    assert_eq!(
        bad.post(
            "/agora/admin/moderate",
            &[("kind", "poll"), ("id", &poll), ("action", "hide")]
        )
        .status,
        403
    );

    let mut adm = login(&s, "s3cret pass");
    let page = adm.get("/agora/admin");
    assert!(page.has("id=\"admin-polls\"") && page.has("Visible poll"));

    // Hide the poll: gone for others, kept for the admin.
    let r = adm.post(
        "/agora/admin/moderate",
        &[("kind", "poll"), ("id", &poll), ("action", "hide")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(u.get(&format!("/agora/p/{poll}")).status, 404);
    assert!(!u.get("/agora/").has("Visible poll"));
    assert_eq!(u.get(&format!("/agora/p/{poll}/export.json")).status, 404);
    assert!(adm.get(&format!("/agora/p/{poll}")).has("hidden-item"));
    adm.get("/agora/admin");
    adm.post(
        "/agora/admin/moderate",
        &[("kind", "poll"), ("id", &poll), ("action", "unhide")],
    );
    assert_eq!(u.get(&format!("/agora/p/{poll}")).status, 200);

    // Hide one vote: it no longer counts; delete it: gone.
    let page = adm.get(&format!("/agora/p/{poll}"));
    let i = page.body.find("data-vote=\"").unwrap();
    let vote_id: String = page.body[i + 11..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    adm.post(
        "/agora/admin/moderate",
        &[("kind", "vote"), ("id", &vote_id), ("action", "hide")],
    );
    let j = json(&u.get(&format!("/agora/p/{poll}/export.json")));
    assert_eq!(j["results"]["voters"], 1);
    assert_ne!(j["votes"][0]["name"], "spammer");
    adm.get(&format!("/agora/p/{poll}"));
    let r = adm.post(
        "/agora/admin/moderate",
        &[("kind", "vote"), ("id", &vote_id), ("action", "delete")],
    );
    assert_eq!(r.location.as_deref(), Some(&*format!("/agora/p/{poll}")));
    assert!(!adm
        .get(&format!("/agora/p/{poll}"))
        .has(&format!("data-vote=\"{vote_id}\"")));

    // Hide a note, then delete the board.
    adm.get(&format!("/agora/b/{board}"));
    adm.post(
        "/agora/admin/moderate",
        &[("kind", "note"), ("id", &note), ("action", "hide")],
    );
    assert!(!u.get(&format!("/agora/b/{board}")).has("rude note"));
    assert!(adm.get(&format!("/agora/b/{board}")).has("rude note"));
    let r = adm.post(
        "/agora/admin/moderate",
        &[("kind", "board"), ("id", &board), ("action", "delete")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(u.get(&format!("/agora/b/{board}")).status, 404);
    assert_eq!(
        adm.post(
            "/agora/admin/moderate",
            &[("kind", "board"), ("id", &board), ("action", "delete")]
        )
        .status,
        404
    );

    // Log out: the session is gone.
    adm.get("/agora/admin");
    let token = adm.cookies["agora_admin"].clone();
    adm.post("/agora/admin/logout", &[]);
    let mut again = s.device("10.3.2.4");
    again.cookies.insert("agora_admin".into(), token);
    assert!(again.get("/agora/admin").has("id=\"admin-login\""));
}

#[test]
fn backup_download_and_restore_upload() {
    let dir = tempfile::tempdir().unwrap();
    let hash = hash_file(dir.path(), "pw");
    let s = Server::start(|c| c.admin_hash = Some(hash.clone()));
    let mut u = s.device("10.3.3.1");
    let (kept, _) = create_poll(
        &mut u,
        &[
            ("title", "Before backup"),
            ("kind", "single"),
            ("options", "x\ny"),
        ],
    );
    let mut adm = login(&s, "pw");
    assert_eq!(s.device("10.3.3.9").get("/agora/admin/backup").status, 403);
    let backup = adm.get("/agora/admin/backup");
    assert_eq!(backup.status, 200);
    assert!(backup.bytes.starts_with(b"SQLite format 3\0"));
    let (later, _) = create_poll(
        &mut u,
        &[
            ("title", "After backup"),
            ("kind", "single"),
            ("options", "x\ny"),
        ],
    );

    // Junk is refused and nothing changes.
    adm.get("/agora/admin");
    let r = adm.post_multipart("/agora/admin/restore", b"not a database at all");
    assert_eq!(r.status, 422);
    assert_eq!(
        r.error().as_deref(),
        Some("Ce fichier n'est pas une sauvegarde d'agora valide. Rien n'a été changé.")
    );
    assert_eq!(u.get(&format!("/agora/p/{later}")).status, 200);

    adm.get("/agora/admin");
    let r = adm.post_multipart("/agora/admin/restore", &backup.bytes);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(u.get(&format!("/agora/p/{kept}")).status, 200);
    assert_eq!(
        u.get(&format!("/agora/p/{later}")).status,
        404,
        "back to the backup's state"
    );
    // Still writable after a restore.
    let (_, _) = create_poll(
        &mut u,
        &[
            ("title", "After restore"),
            ("kind", "single"),
            ("options", "x\ny"),
        ],
    );
}

#[test]
fn cli_backup_and_restore_round_trip() {
    let bin = env!("CARGO_BIN_EXE_agora");
    let out = Command::new(bin).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("agora "));
    assert_eq!(
        Command::new(bin)
            .args(["serve", "--lang", "de"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );

    let s = Server::start(|_| {});
    let mut u = s.device("10.3.4.1");
    let (kept, _) = create_poll(
        &mut u,
        &[("title", "Kept"), ("kind", "single"), ("options", "x\ny")],
    );
    u.get(&format!("/agora/p/{kept}"));
    u.post(&format!("/agora/p/{kept}/vote"), &[("choice", "1")]);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("agora-backup.db");
    let data = s.data();
    let run = |args: &[&str]| Command::new(bin).args(args).output().unwrap();
    // Online: the server keeps running.
    let out = run(&[
        "backup",
        "--data",
        data.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&file)
        .unwrap()
        .starts_with(b"SQLite format 3\0"));
    assert!(
        std::fs::read_dir(tmp.path()).unwrap().count() == 1,
        "no temporary file left"
    );

    let (gone, _) = create_poll(
        &mut u,
        &[("title", "Gone"), ("kind", "single"), ("options", "x\ny")],
    );
    // A file that is not an agora database is refused, nothing changes.
    let junk = tmp.path().join("junk.db");
    std::fs::write(&junk, b"junk").unwrap();
    let out = run(&[
        "restore",
        "--data",
        data.to_str().unwrap(),
        junk.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an agora database"));
    let other = tmp.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let out = run(&[
        "restore",
        "--data",
        data.to_str().unwrap(),
        other.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(u.get(&format!("/agora/p/{gone}")).status, 200);

    let out = run(&[
        "restore",
        "--data",
        data.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(u.get(&format!("/agora/p/{gone}")).status, 404);
    let j = json(&u.get(&format!("/agora/p/{kept}/export.json")));
    assert_eq!(
        j["results"]["voters"], 1,
        "the vote came back with the poll"
    );

    // Backup of a directory without a database fails clearly.
    let out = run(&[
        "backup",
        "--data",
        tmp.path().join("none").to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
}

/// What the box's first boot writes (glibc crypt through perl, 50000 rounds):
/// `printf %s 'le mot de passe' | perl -e 'print crypt(<STDIN>, "\$6\$rounds=50000\$AbCdEfGh12345678\$")'`
const GLIBC_HASH: &str = "$6$rounds=50000$AbCdEfGh12345678$DBGWDMH1OzhoT.NpvhgYxPr2qks5awSEl8fHRB.hFqnfyPHT4.RLVzHdI/mcbFGYO3AP7Q0XGwfIWGGlvOSzP0";

#[test]
fn the_first_boot_hash_format_logs_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin-hash");
    std::fs::write(&path, format!("{GLIBC_HASH}\n")).unwrap();
    let s = Server::start(|c| c.admin_hash = Some(path.clone()));
    let mut adm = login(&s, "le mot de passe");
    assert!(adm.get("/agora/admin").has("id=\"admin-logout\""));
    // The file is read at each attempt: a changed password works at once.
    let h =
        sha_crypt::sha512_simple("new one", &sha_crypt::Sha512Params::new(5000).unwrap()).unwrap();
    std::fs::write(&path, h).unwrap();
    let mut d = s.device("10.3.5.1");
    d.get("/agora/admin");
    assert_eq!(
        d.post("/agora/admin/login", &[("password", "le mot de passe")])
            .status,
        403
    );
    login(&s, "new one");
}
