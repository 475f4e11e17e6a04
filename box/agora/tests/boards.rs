//! Boards over real HTTP: notes added, edited, moved, deleted; live events; exports.

mod common;
use common::*;
use std::time::{Duration, Instant};

fn wait_data(rx: &std::sync::mpsc::Receiver<String>) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            let done = l.starts_with("data:");
            seen.push(l);
            if done {
                break;
            }
        }
    }
    seen
}

#[test]
fn notes_live_on_a_board_for_two_people() {
    let s = Server::start(|_| {});
    let mut a = s.device("10.1.0.1");
    let mut b = s.device("10.1.0.2");
    let id = create_board(&mut a, "Village fête", "Ideas\nDoing\nDone");
    let page = b.get(&format!("/agora/b/{id}"));
    assert_eq!(page.by_id("board-title").as_deref(), Some("Village fête"));
    let cols = column_ids(&page.body);
    assert_eq!(cols.len(), 3);

    // B watches the board live.
    let rx = b.events(&format!("/agora/b/{id}/events"));
    a.get(&format!("/agora/b/{id}"));
    let r = a.post(
        &format!("/agora/b/{id}/notes"),
        &[
            ("column", &cols[0]),
            ("text", "Bring <b>apples</b>"),
            ("color", "green"),
        ],
    );
    assert_eq!(r.status, 303);
    let loc = r.location.unwrap();
    let nid = loc.rsplit("#note-").next().unwrap().to_string();
    let seen = wait_data(&rx);
    assert!(seen.iter().any(|l| l == "event: board"), "{seen:?}");
    let data = seen
        .iter()
        .find(|l| l.starts_with("data:"))
        .expect("data line");
    let v: serde_json::Value =
        serde_json::from_str(data.trim_start_matches("data:").trim()).unwrap();
    assert_eq!(v["action"], "add");
    assert_eq!(v["note"].to_string(), nid);

    let page = b.get(&format!("/agora/b/{id}"));
    assert!(page.has(&format!("id=\"note-{nid}\"")));
    assert!(page.has("data-color=\"green\""));
    assert!(
        page.has("Bring &lt;b&gt;apples&lt;/b&gt;"),
        "escaped, stored as text"
    );
    assert!(!page.has("<b>apples"));

    // Edit text and colour.
    let r = b.post(
        &format!("/agora/b/{id}/note/{nid}"),
        &[("text", "Bring pears"), ("color", "pink")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(
        wait_data(&rx).last().map(|l| l.contains("\"edit\"")),
        Some(true)
    );
    // A second note, then move the first below it and to another column.
    let r = a.post(
        &format!("/agora/b/{id}/notes"),
        &[
            ("column", &cols[0]),
            ("text", "Second"),
            ("color", "yellow"),
        ],
    );
    let n2 = r
        .location
        .unwrap()
        .rsplit("#note-")
        .next()
        .unwrap()
        .to_string();
    wait_data(&rx);
    let r = a.post(
        &format!("/agora/b/{id}/note/{nid}/move"),
        &[("dir", "down")],
    );
    assert_eq!(r.status, 303);
    wait_data(&rx);
    let j = json(&a.get(&format!("/agora/b/{id}/export.json")));
    let ids: Vec<String> = j["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].to_string())
        .collect();
    assert_eq!(ids, vec![n2.clone(), nid.clone()]);
    let r = a.post(
        &format!("/agora/b/{id}/note/{nid}/move"),
        &[("column", &cols[2]), ("position", "")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(
        wait_data(&rx).last().map(|l| l.contains("\"move\"")),
        Some(true)
    );
    let page = b.get(&format!("/agora/b/{id}"));
    let done_at = page
        .body
        .find(&format!("data-column=\"{}\"", cols[2]))
        .unwrap();
    let note_at = page.body.find(&format!("id=\"note-{nid}\"")).unwrap();
    assert!(note_at > done_at, "the note is in the third column");
    assert!(page.has("data-color=\"pink\"") && page.has("Bring pears"));

    // Rename a column.
    let r = a.post(
        &format!("/agora/b/{id}/column/{}", cols[1]),
        &[("name", "In progress")],
    );
    assert_eq!(r.status, 303);
    wait_data(&rx);

    // Exports.
    let j = json(&a.get(&format!("/agora/b/{id}/export.json")));
    assert_eq!(j["board"]["title"], "Village fête");
    assert_eq!(j["columns"][1]["name"], "In progress");
    assert_eq!(j["notes"].as_array().map(Vec::len), Some(2));
    let csv = a.get(&format!("/agora/b/{id}/export.csv"));
    assert!(csv.content_type.starts_with("text/csv"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], "column,position,text,color,updated_at");
    assert!(
        lines[1].starts_with("Ideas,0,Second,yellow,"),
        "{}",
        csv.body
    );
    assert!(
        lines[2].starts_with("Done,0,Bring pears,pink,"),
        "{}",
        csv.body
    );

    // Delete.
    let r = b.post(&format!("/agora/b/{id}/note/{nid}/delete"), &[]);
    assert_eq!(r.status, 303);
    assert_eq!(
        wait_data(&rx).last().map(|l| l.contains("\"delete\"")),
        Some(true)
    );
    assert!(!a
        .get(&format!("/agora/b/{id}"))
        .has(&format!("id=\"note-{nid}\"")));
    assert_eq!(
        b.post(&format!("/agora/b/{id}/note/{nid}/delete"), &[])
            .status,
        404,
        "already gone"
    );
}

#[test]
fn notes_per_board_are_capped() {
    let s = Server::start(|c| c.writes.burst = 1000.0);
    let mut a = s.device("10.1.1.1");
    let id = create_board(&mut a, "Full", "One");
    let page = a.get(&format!("/agora/b/{id}"));
    let col = column_ids(&page.body)[0].clone();
    for i in 0..clic_agora::store::NOTES_PER_BOARD {
        let r = a.post(
            &format!("/agora/b/{id}/notes"),
            &[
                ("column", &col),
                ("text", &format!("n{i}")),
                ("color", "white"),
            ],
        );
        assert_eq!(r.status, 303);
    }
    let r = a.post(
        &format!("/agora/b/{id}/notes"),
        &[
            ("column", &col),
            ("text", "one too many"),
            ("color", "white"),
        ],
    );
    assert_eq!(r.status, 422);
    assert_eq!(
        r.error().as_deref(),
        Some("Trop d'éléments : la limite est atteinte.")
    );
    let j = json(&a.get(&format!("/agora/b/{id}/export.json")));
    assert_eq!(
        j["notes"].as_array().map(Vec::len),
        Some(clic_agora::store::NOTES_PER_BOARD as usize)
    );
}

#[test]
fn a_stop_does_not_wait_for_live_streams() {
    let s = Server::start(|_| {});
    let mut a = s.device("10.1.2.1");
    let id = create_board(&mut a, "Live", "one");
    let rx = a.events(&format!("/agora/b/{id}/events"));
    assert!(s.stop(), "the server stopped with a stream open");
    // The stream has ended (the channel closes once its reader sees the end).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut ended = false;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                ended = true;
                break;
            }
            _ => continue,
        }
    }
    assert!(ended);
}
