//! Bad input, abuse limits and a full disk: each answered with a clear error page
//! in the page's language, and nothing changed.

mod common;
use common::*;

struct World {
    poll: String,
    board: String,
    col: String,
    note: String,
}

fn world(d: &mut Device) -> World {
    let (poll, _) = create_poll(
        d,
        &[("title", "P"), ("kind", "single"), ("options", "x\ny")],
    );
    let board = create_board(d, "B", "C1\nC2");
    let page = d.get(&format!("/agora/b/{board}"));
    let col = column_ids(&page.body)[0].clone();
    let r = d.post(
        &format!("/agora/b/{board}/notes"),
        &[("column", &col), ("text", "keep me"), ("color", "yellow")],
    );
    let note = r
        .location
        .unwrap()
        .rsplit("#note-")
        .next()
        .unwrap()
        .to_string();
    World {
        poll,
        board,
        col,
        note,
    }
}

/// (path, extra headers, body, expected status, expected message)
type Case<'a> = (String, Vec<(&'a str, &'a str)>, String, u16, &'a str);

/// Everything a visitor can see.
fn snapshot(d: &mut Device, w: &World) -> (String, String, String) {
    (
        d.get("/agora/").body,
        d.get(&format!("/agora/p/{}/export.json", w.poll)).body,
        d.get(&format!("/agora/b/{}/export.json", w.board)).body,
    )
}

#[test]
fn bad_inputs_are_refused_clearly_and_change_nothing() {
    let s = Server::start(|_| {});
    let mut d = s.device("10.2.0.1");
    let w = world(&mut d);
    let long = "x".repeat(201);
    let huge = "y".repeat(70 * 1024);
    let (p, b, n, c) = (&w.poll, &w.board, &w.note, &w.col);
    d.get("/agora/?lang=en");
    let before = snapshot(&mut d, &w);
    let csrf = d.csrf.clone();
    assert!(!csrf.is_empty());
    let with_csrf = |body: &str| format!("{body}&csrf={csrf}");

    let cases: Vec<Case> = vec![
        (
            "/agora/p/new".into(),
            vec![],
            with_csrf("title=&kind=single&options=a%0Ab"),
            422,
            "A required field is empty.",
        ),
        (
            "/agora/p/new".into(),
            vec![],
            with_csrf("title=+++&kind=single&options=a%0Ab"),
            422,
            "A required field is empty.",
        ),
        (
            "/agora/p/new".into(),
            vec![],
            with_csrf(&format!("title={long}&kind=single&options=a%0Ab")),
            422,
            "A text is too long.",
        ),
        (
            "/agora/p/new".into(),
            vec![],
            with_csrf("title=%FF%FE&kind=single&options=a%0Ab"),
            400,
            "The text sent is not valid (encoding).",
        ),
        (
            "/agora/p/new".into(),
            vec![],
            with_csrf("title=t&kind=lottery&options=a%0Ab"),
            422,
            "A value is not valid.",
        ),
        (
            "/agora/p/new".into(),
            vec![],
            with_csrf("title=t&kind=single&options=only"),
            422,
            "A poll needs between 2 and 50 options, all different.",
        ),
        (
            "/agora/p/new".into(),
            vec![],
            with_csrf("title=t&kind=single&options=a%0Aa"),
            422,
            "A poll needs between 2 and 50 options, all different.",
        ),
        (
            "/agora/p/new".into(),
            vec![],
            with_csrf("title=t%00x&kind=single&options=a%0Ab"),
            422,
            "A value is not valid.",
        ),
        (
            "/agora/p/new".into(),
            vec![],
            with_csrf(&format!(
                "title=t&kind=single&options=a%0Ab&description={huge}"
            )),
            413,
            "What you sent is too large.",
        ),
        (
            "/agora/p/new".into(),
            vec![],
            "title=t&kind=single&options=a%0Ab".into(),
            400,
            "This form has expired or comes from another site. Reload the page and try again.",
        ),
        (
            "/agora/p/new".into(),
            vec![],
            "title=t&kind=single&options=a%0Ab&csrf=0123456789abcdef0123456789abcdef".into(),
            400,
            "This form has expired or comes from another site. Reload the page and try again.",
        ),
        (
            "/agora/p/new".into(),
            vec![("origin", "http://evil.example")],
            with_csrf("title=t&kind=single&options=a%0Ab"),
            400,
            "This form has expired or comes from another site. Reload the page and try again.",
        ),
        (
            "/agora/p/new".into(),
            vec![("sec-fetch-site", "cross-site")],
            with_csrf("title=t&kind=single&options=a%0Ab"),
            400,
            "This form has expired or comes from another site. Reload the page and try again.",
        ),
        (
            format!("/agora/p/{p}/vote"),
            vec![],
            with_csrf("choice=7"),
            422,
            "This vote is not valid for this poll.",
        ),
        (
            format!("/agora/p/{p}/vote"),
            vec![],
            with_csrf("choice=0&choice=1"),
            422,
            "This vote is not valid for this poll.",
        ),
        (
            format!("/agora/p/{p}/vote"),
            vec![],
            with_csrf(""),
            422,
            "This vote is not valid for this poll.",
        ),
        (
            format!("/agora/p/{p}/vote"),
            vec![],
            with_csrf(&format!("choice=0&name={long}")),
            422,
            "A text is too long.",
        ),
        (
            "/agora/p/nope/vote".into(),
            vec![],
            with_csrf("choice=0"),
            404,
            "This page does not exist (any more).",
        ),
        (
            format!("/agora/p/{p}/edit/nottoken"),
            vec![],
            with_csrf("action=delete"),
            404,
            "This page does not exist (any more).",
        ),
        (
            "/agora/b/new".into(),
            vec![],
            with_csrf("title=t&columns="),
            422,
            "A board needs between 1 and 12 columns, all different.",
        ),
        (
            format!("/agora/b/{b}/notes"),
            vec![],
            with_csrf(&format!("column={c}&text=&color=yellow")),
            422,
            "A required field is empty.",
        ),
        (
            format!("/agora/b/{b}/notes"),
            vec![],
            with_csrf(&format!("column={c}&text=hi&color=chartreuse")),
            422,
            "A value is not valid.",
        ),
        (
            format!("/agora/b/{b}/notes"),
            vec![],
            with_csrf("column=99999&text=hi&color=yellow"),
            404,
            "This page does not exist (any more).",
        ),
        (
            format!("/agora/b/{b}/notes"),
            vec![],
            with_csrf("column=abc&text=hi&color=yellow"),
            422,
            "A value is not valid.",
        ),
        (
            format!("/agora/b/{b}/notes"),
            vec![],
            with_csrf(&format!(
                "column={c}&text={}&color=yellow",
                "z".repeat(2001)
            )),
            422,
            "A text is too long.",
        ),
        (
            format!("/agora/b/{b}/note/{n}"),
            vec![],
            with_csrf("text=%C3%28&color=yellow"),
            400,
            "The text sent is not valid (encoding).",
        ),
        (
            format!("/agora/b/{b}/note/99999"),
            vec![],
            with_csrf("text=x&color=yellow"),
            404,
            "This page does not exist (any more).",
        ),
        (
            format!("/agora/b/{b}/note/abc/delete"),
            vec![],
            with_csrf(""),
            404,
            "This page does not exist (any more).",
        ),
        (
            format!("/agora/b/{b}/note/{n}/move"),
            vec![],
            with_csrf("dir=sideways"),
            422,
            "A value is not valid.",
        ),
        (
            format!("/agora/b/{b}/note/{n}/move"),
            vec![],
            with_csrf("column=99999"),
            404,
            "This page does not exist (any more).",
        ),
        (
            format!("/agora/b/{b}/column/{c}"),
            vec![],
            with_csrf("name="),
            422,
            "A required field is empty.",
        ),
        (
            "/agora/b/nope/notes".into(),
            vec![],
            with_csrf(&format!("column={c}&text=x&color=yellow")),
            404,
            "This page does not exist (any more).",
        ),
        (
            "/agora/admin/moderate".into(),
            vec![],
            with_csrf(&format!("kind=poll&id={p}&action=delete")),
            403,
            "Moderation only: please log in.",
        ),
    ];
    for (path, headers, body, status, message) in &cases {
        let r = d.post_raw(path, headers, body.as_bytes());
        assert_eq!(r.status, *status, "POST {path} {body:.80}: {}", r.body);
        assert_eq!(
            r.error().as_deref(),
            Some(*message),
            "POST {path} {body:.80}"
        );
        assert!(r.content_type.starts_with("text/html"));
        assert_eq!(
            snapshot(&mut d, &w),
            before,
            "POST {path} {body:.80} changed something"
        );
    }
    // Unknown pages.
    for path in [
        "/agora/p/nope",
        "/agora/b/nope",
        "/agora/p/nope/export.csv",
        "/agora/nothing",
        "/agora/b/nope/events",
    ] {
        let r = d.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(
            r.error().as_deref(),
            Some("This page does not exist (any more).")
        );
    }
    // The framework's own refusals are pages too.
    let r = d.get("/agora/p/%FF");
    assert_eq!(r.status, 400);
    assert_eq!(r.error().as_deref(), Some("Invalid request."));
    let r = d.get(&format!("/agora/p/{p}/vote"));
    assert_eq!(r.status, 405);
    assert_eq!(r.error().as_deref(), Some("Invalid request."));
    // A device without its cookie (first visit) cannot post.
    let mut fresh = s.device("10.2.0.2");
    let r = fresh.post_raw("/agora/p/new", &[], b"title=t&kind=single&options=a%0Ab");
    assert_eq!(r.status, 400);
    assert_eq!(r.error().as_deref(), Some("Votre navigateur doit accepter les cookies de ce site pour participer. Rechargez la page et recommencez."));
    assert_eq!(snapshot(&mut d, &w), before);
}

#[test]
fn html_and_script_are_stored_as_text_and_escaped() {
    let s = Server::start(|_| {});
    let mut d = s.device("10.2.1.1");
    let evil = "<script>alert(1)</script>\"'&";
    let (id, _) = create_poll(
        &mut d,
        &[
            ("title", evil),
            ("description", evil),
            ("kind", "single"),
            ("options", &format!("{evil}\nok")),
        ],
    );
    d.get(&format!("/agora/p/{id}"));
    d.post(
        &format!("/agora/p/{id}/vote"),
        &[("choice", "0"), ("name", evil)],
    );
    for path in [
        format!("/agora/p/{id}"),
        "/agora/".into(),
        format!("/agora/p/{id}/results"),
    ] {
        let page = d.get(&path);
        assert!(!page.has("<script>alert"), "{path}");
        assert!(page.has("&lt;script&gt;alert(1)&lt;/script&gt;"), "{path}");
    }
    let j = json(&d.get(&format!("/agora/p/{id}/export.json")));
    assert_eq!(j["poll"]["title"], evil, "kept as the text it was");
    assert_eq!(j["votes"][0]["name"], evil);
    // CSV cells cannot become formulas.
    let (id2, _) = create_poll(
        &mut d,
        &[("title", "f"), ("kind", "single"), ("options", "=1+1\nb")],
    );
    let csv = d.get(&format!("/agora/p/{id2}/export.csv")).body;
    assert!(csv.starts_with("name,updated_at,'=1+1,b"), "{csv}");
}

#[test]
fn writes_are_rate_limited_per_client() {
    let s = Server::start(|c| {
        c.writes.burst = 3.0;
        c.writes.per_sec = 0.001;
    });
    let mut a = s.device("10.2.2.1");
    let board = create_board(&mut a, "R", "one"); // 1
    let page = a.get(&format!("/agora/b/{board}"));
    let col = column_ids(&page.body)[0].clone();
    let add = |d: &mut Device| {
        d.post(
            &format!("/agora/b/{board}/notes"),
            &[("column", &col), ("text", "hi"), ("color", "yellow")],
        )
    };
    assert_eq!(add(&mut a).status, 303); // 2
    assert_eq!(add(&mut a).status, 303); // 3
    let r = add(&mut a);
    assert_eq!(r.status, 429);
    assert_eq!(r.retry_after.as_deref(), Some("60"));
    assert_eq!(
        r.error().as_deref(),
        Some("Trop de demandes depuis votre appareil. Attendez une minute puis recommencez.")
    );
    let j = json(&a.get(&format!("/agora/b/{board}/export.json")));
    assert_eq!(
        j["notes"].as_array().map(Vec::len),
        Some(2),
        "the refused note is not there"
    );
    // Another client (its own X-Real-IP behind the local proxy) is not affected.
    let mut b = s.device("10.2.2.2");
    b.get(&format!("/agora/b/{board}"));
    assert_eq!(add(&mut b).status, 303);
    // Reading goes on.
    assert_eq!(a.get(&format!("/agora/b/{board}")).status, 200);
}

#[test]
fn login_attempts_are_limited_harder() {
    let dir = tempfile::tempdir().unwrap();
    let hash = dir.path().join("admin-hash");
    let h =
        sha_crypt::sha512_simple("right", &sha_crypt::Sha512Params::new(5000).unwrap()).unwrap();
    std::fs::write(&hash, format!("{h}\n")).unwrap();
    let s = Server::start(|c| c.admin_hash = Some(hash.clone()));
    let mut a = s.device("10.2.3.1");
    a.get("/agora/admin");
    for _ in 0..5 {
        assert_eq!(
            a.post("/agora/admin/login", &[("password", "wrong")])
                .status,
            403
        );
    }
    let r = a.post("/agora/admin/login", &[("password", "right")]);
    assert_eq!(r.status, 429, "even the right password waits");
    assert!(!a.cookies.contains_key("agora_admin"));
}

#[test]
fn a_full_disk_refuses_writes_and_keeps_reading() {
    let s = Server::start(|c| c.min_free = u64::MAX / 2);
    let mut d = s.device("10.2.4.1");
    d.get("/agora/p/new");
    let r = d.post(
        "/agora/p/new",
        &[("title", "t"), ("kind", "single"), ("options", "a\nb")],
    );
    assert_eq!(r.status, 507);
    assert_eq!(
        r.error().as_deref(),
        Some("La boîte n'a plus assez de place libre : les nouveaux envois sont refusés pour l'instant. Tout reste consultable.")
    );
    let home = d.get("/agora/");
    assert_eq!(home.status, 200);
    assert!(!home.has("class=\"poll-link\""));
    let r = d.post("/agora/b/new", &[("title", "t"), ("columns", "a")]);
    assert_eq!(r.status, 507);
}
