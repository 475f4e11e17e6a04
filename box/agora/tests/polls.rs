//! Polls over real HTTP: create, vote from two devices, results, date and ranked
//! polls, the creator's link, exports, languages.

mod common;
use common::*;

#[test]
fn single_choice_two_devices_one_vote_each() {
    let s = Server::start(|_| {});
    let mut a = s.device("10.0.0.1");
    let mut b = s.device("10.0.0.2");
    let (id, _) = create_poll(
        &mut a,
        &[
            ("title", "Lunch?"),
            ("kind", "single"),
            ("options", "Soup\nSalad\nPie"),
        ],
    );
    let page = a.get(&format!("/agora/p/{id}"));
    assert_eq!(page.status, 200);
    assert!(page.has("id=\"vote-form\""));
    assert_eq!(page.by_id("poll-title").as_deref(), Some("Lunch?"));

    let r = a.post(
        &format!("/agora/p/{id}/vote"),
        &[("choice", "0"), ("name", "Ana")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some(&*format!("/agora/p/{id}")));
    b.get(&format!("/agora/p/{id}"));
    let r = b.post(&format!("/agora/p/{id}/vote"), &[("choice", "1")]);
    assert_eq!(r.status, 303);
    // Device A changes its mind: its vote is replaced, not added.
    let page = a.get(&format!("/agora/p/{id}"));
    assert!(page.has("id=\"already-voted\""));
    assert!(page.has("value=\"Ana\""), "the form shows A's own vote");
    a.post(
        &format!("/agora/p/{id}/vote"),
        &[("choice", "1"), ("name", "Ana")],
    );

    let res = a.get(&format!("/agora/p/{id}/results"));
    assert!(res.has("data-voters=\"2\""), "{}", res.body);
    assert!(res.has("data-option=\"1\" data-score=\"2\" data-rank=\"1\""));
    assert!(res.has("data-option=\"0\" data-score=\"0\""));

    let j = json(&a.get(&format!("/agora/p/{id}/export.json")));
    assert_eq!(j["results"]["voters"], 2);
    assert_eq!(j["results"]["rows"][0]["label"], "Salad");
    assert_eq!(j["results"]["rows"][0]["score"], 2);
    assert_eq!(j["votes"].as_array().map(Vec::len), Some(2));
    assert!(
        !a.get(&format!("/agora/p/{id}/export.json"))
            .body
            .contains(&a.cookies["agora_device"]),
        "device ids never exported"
    );
    let csv = a.get(&format!("/agora/p/{id}/export.csv"));
    assert!(csv.content_type.starts_with("text/csv"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], "name,updated_at,Soup,Salad,Pie");
    assert!(
        lines[1].starts_with("Ana,") && lines[1].ends_with(",,1,"),
        "{}",
        lines[1]
    );
    assert_eq!(lines.len(), 3);

    // Home lists it.
    let home = b.get("/agora/");
    assert!(home.has(&format!("href=\"/agora/p/{id}\"")));
}

#[test]
fn date_poll_best_dates_and_csv() {
    let s = Server::start(|_| {});
    let mut a = s.device("10.0.1.1");
    let mut b = s.device("10.0.1.2");
    let (id, _) = create_poll(
        &mut a,
        &[
            ("title", "Next meeting"),
            ("kind", "date"),
            ("options", "2027-01-12 18:30\n2027-01-10\n2027-01-11"),
        ],
    );
    // Options sorted by date.
    let j = json(&a.get(&format!("/agora/p/{id}/export.json")));
    assert_eq!(
        j["poll"]["options"],
        serde_json::json!(["2027-01-10", "2027-01-11", "2027-01-12T18:30"])
    );
    let page = a.get(&format!("/agora/p/{id}"));
    assert!(page.has("name=\"answer_2\" value=\"maybe\""));
    a.post(
        &format!("/agora/p/{id}/vote"),
        &[
            ("answer_0", "yes"),
            ("answer_1", "no"),
            ("answer_2", "maybe"),
            ("name", "Ana"),
        ],
    );
    b.get(&format!("/agora/p/{id}"));
    b.post(
        &format!("/agora/p/{id}/vote"),
        &[
            ("answer_0", "no"),
            ("answer_1", "yes"),
            ("answer_2", "yes"),
            ("name", "Bo"),
        ],
    );
    let page = a.get(&format!("/agora/p/{id}"));
    // 2027-01-12T18:30: yes+maybe = 2 is the best date.
    assert_eq!(
        page.by_id("best-dates").as_deref(),
        Some("Meilleures dates : 2027-01-12 18:30")
    );
    assert!(page.has("data-option=\"2\" data-score=\"2\" data-rank=\"1\" data-yes=\"1\" data-maybe=\"1\" data-no=\"0\""));
    assert!(page.has("id=\"date-votes\""));
    let csv = a.get(&format!("/agora/p/{id}/export.csv")).body;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "name,updated_at,2027-01-10,2027-01-11,2027-01-12T18:30"
    );
    assert!(lines[1].starts_with("Ana,") && lines[1].ends_with(",yes,no,maybe"));
    assert!(lines[2].starts_with("Bo,") && lines[2].ends_with(",no,yes,yes"));

    // A bad date is refused at creation, in the page's language.
    a.get("/agora/p/new?lang=en");
    let r = a.post(
        "/agora/p/new",
        &[
            ("title", "x"),
            ("kind", "date"),
            ("options", "2027-02-30\n2027-03-01"),
        ],
    );
    assert_eq!(r.status, 422);
    assert_eq!(
        r.error().as_deref(),
        Some("Dates must be written YYYY-MM-DD or YYYY-MM-DD HH:MM.")
    );
}

#[test]
fn ranked_poll_uses_schulze() {
    let s = Server::start(|_| {});
    let mut devices: Vec<Device> = (0..3).map(|i| s.device(&format!("10.0.2.{i}"))).collect();
    let (id, _) = create_poll(
        &mut devices[0],
        &[
            ("title", "Name"),
            ("kind", "ranked"),
            ("options", "A\nB\nC"),
        ],
    );
    // Two voters: B > C > A; one voter: A > B (C unranked).
    let ballots: [&[(&str, &str)]; 3] = [
        &[("rank_1", "1"), ("rank_2", "2"), ("rank_0", "3")],
        &[("rank_1", "1"), ("rank_2", "2"), ("rank_0", "3")],
        &[("rank_0", "1"), ("rank_1", "2"), ("rank_2", "")],
    ];
    for (d, b) in devices.iter_mut().zip(ballots) {
        d.get(&format!("/agora/p/{id}"));
        assert_eq!(d.post(&format!("/agora/p/{id}/vote"), b).status, 303);
    }
    let page = devices[0].get(&format!("/agora/p/{id}"));
    assert!(page.has("Schulze"), "the page names its method");
    let j = json(&devices[0].get(&format!("/agora/p/{id}/export.json")));
    assert_eq!(j["method"], "schulze");
    let order: Vec<&str> = j["results"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(order, vec!["B", "C", "A"]);
}

#[test]
fn multiple_and_approval_limits() {
    let s = Server::start(|_| {});
    let mut a = s.device("10.0.3.1");
    let (id, _) = create_poll(
        &mut a,
        &[
            ("title", "Pick two"),
            ("kind", "multiple"),
            ("options", "a\nb\nc"),
            ("max_choices", "2"),
        ],
    );
    a.get(&format!("/agora/p/{id}"));
    let body = format!("choice=0&choice=1&choice=2&csrf={}", a.csrf);
    let r = a.post_raw(&format!("/agora/p/{id}/vote"), &[], body.as_bytes());
    assert_eq!(r.status, 422);
    let body = format!("choice=0&choice=2&csrf={}", a.csrf);
    let r = a.post_raw(&format!("/agora/p/{id}/vote"), &[], body.as_bytes());
    assert_eq!(r.status, 303);
    let j = json(&a.get(&format!("/agora/p/{id}/export.json")));
    assert_eq!(
        j["votes"][0]["ballot"],
        serde_json::json!({"choices": [0, 2]})
    );

    let (id, _) = create_poll(
        &mut a,
        &[
            ("title", "Approve"),
            ("kind", "approval"),
            ("options", "x\ny"),
        ],
    );
    a.get(&format!("/agora/p/{id}"));
    assert_eq!(
        a.post(&format!("/agora/p/{id}/vote"), &[("choice", "1")])
            .status,
        303
    );
    let res = a.get(&format!("/agora/p/{id}/results"));
    assert!(res.has("data-option=\"1\" data-score=\"1\" data-rank=\"1\""));
}

#[test]
fn creator_link_edits_closes_reopens_deletes() {
    let s = Server::start(|_| {});
    let mut a = s.device("10.0.4.1");
    let mut v = s.device("10.0.4.2");
    let (id, edit) = create_poll(
        &mut a,
        &[("title", "Old"), ("kind", "single"), ("options", "x\ny")],
    );
    assert!(edit.starts_with(&format!("/agora/p/{id}/edit/")));
    // A wrong token is an unknown page.
    assert_eq!(
        v.get(&format!(
            "/agora/p/{id}/edit/00000000000000000000000000000000"
        ))
        .status,
        404
    );
    let page = a.get(&edit);
    assert!(page.has("id=\"poll-edit\""));
    let r = a.post(
        &edit,
        &[("action", "save"), ("title", "New"), ("description", "d")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(
        v.get(&format!("/agora/p/{id}"))
            .by_id("poll-title")
            .as_deref(),
        Some("New")
    );

    a.get(&edit);
    assert_eq!(a.post(&edit, &[("action", "close")]).status, 303);
    let page = v.get(&format!("/agora/p/{id}"));
    assert!(page.has("id=\"poll-closed\""));
    assert!(!page.has("id=\"vote-form\""));
    assert!(
        page.has("id=\"results\""),
        "a closed poll shows its results"
    );
    let r = v.post(&format!("/agora/p/{id}/vote"), &[("choice", "0")]);
    assert_eq!(r.status, 403);
    assert_eq!(
        r.error().as_deref(),
        Some("Ce sondage est fermé : les votes ne sont plus acceptés.")
    );
    assert!(v
        .get(&format!("/agora/p/{id}/results"))
        .has("data-voters=\"0\""));

    a.get(&edit);
    assert_eq!(a.post(&edit, &[("action", "reopen")]).status, 303);
    v.get(&format!("/agora/p/{id}"));
    assert_eq!(
        v.post(&format!("/agora/p/{id}/vote"), &[("choice", "0")])
            .status,
        303
    );

    a.get(&edit);
    let r = a.post(&edit, &[("action", "delete")]);
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/agora/")));
    assert_eq!(v.get(&format!("/agora/p/{id}")).status, 404);
}

#[test]
fn a_poll_past_its_closing_time_refuses_votes() {
    let s = Server::start(|_| {});
    let mut a = s.device("10.0.5.1");
    let (id, _) = create_poll(
        &mut a,
        &[
            ("title", "Past"),
            ("kind", "single"),
            ("options", "x\ny"),
            ("closes_at", "2001-01-01T10:00"),
        ],
    );
    let page = a.get(&format!("/agora/p/{id}"));
    assert!(page.has("id=\"poll-closed\""));
    assert_eq!(
        a.post(&format!("/agora/p/{id}/vote"), &[("choice", "0")])
            .status,
        403
    );
    let (id, _) = create_poll(
        &mut a,
        &[
            ("title", "Future"),
            ("kind", "single"),
            ("options", "x\ny"),
            ("closes_at", "2999-01-01T10:00"),
        ],
    );
    a.get(&format!("/agora/p/{id}"));
    assert_eq!(
        a.post(&format!("/agora/p/{id}/vote"), &[("choice", "0")])
            .status,
        303
    );
}

#[test]
fn poll_results_are_pushed_by_sse() {
    let s = Server::start(|_| {});
    let mut a = s.device("10.0.6.1");
    let (id, _) = create_poll(
        &mut a,
        &[("title", "Live"), ("kind", "single"), ("options", "x\ny")],
    );
    let rx = a.events(&format!("/agora/p/{id}/events"));
    a.get(&format!("/agora/p/{id}"));
    a.post(&format!("/agora/p/{id}/vote"), &[("choice", "1")]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut seen = Vec::new();
    while std::time::Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            seen.push(l.clone());
            if l.starts_with("data:") {
                break;
            }
        }
    }
    assert!(seen.iter().any(|l| l == "event: results"), "{seen:?}");
    assert!(
        seen.iter().any(|l| l.contains("\"action\":\"vote\"")),
        "{seen:?}"
    );
}

#[test]
fn english_on_demand_and_kept() {
    let s = Server::start(|_| {});
    let mut a = s.device("10.0.7.1");
    let home = a.get("/agora/");
    assert!(home.has("lang=\"fr\""));
    assert!(home.has("Nouveau sondage"));
    let home = a.get("/agora/?lang=en");
    assert!(home.has("lang=\"en\"") && home.has("New poll"));
    assert!(home
        .set_cookies
        .iter()
        .any(|c| c.starts_with("agora_lang=en")));
    let other = a.get("/agora/p/new");
    assert!(other.has("New poll"), "the choice is kept");
    let missing = a.get("/agora/p/nope");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.error().as_deref(),
        Some("This page does not exist (any more).")
    );
    // The default language can be English.
    let s = Server::start(|c| c.lang = clic_agora::i18n::Lang::En);
    assert!(s.device("10.0.7.2").get("/agora/").has("New board"));
}

#[test]
fn served_at_the_root_with_an_empty_base() {
    let s = Server::start(|c| c.base = String::new());
    let mut d = s.device("10.0.8.1");
    let home = d.get("/");
    assert_eq!(home.status, 200);
    assert!(home.has("href=\"/p/new\"") && home.has("href=\"/static/agora.css\""));
    assert!(home.set_cookies.iter().any(|c| c.contains("Path=/;")));
    assert_eq!(d.get("/static/agora.js").status, 200);
    d.get("/b/new");
    let r = d.post("/b/new", &[("title", "Root"), ("columns", "a")]);
    assert_eq!(r.status, 303);
    assert!(r.location.unwrap().starts_with("/b/"));
}
