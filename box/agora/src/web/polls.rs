//! Poll pages: create, vote, results, live updates, export, creator's edit link.

use super::pages::{csrf, layout};
use super::{download, new_id, see_other, sha256_hex, sse, AppState, Ctx, Fail, Res};
use crate::export::csv;
use crate::form::{self, FieldError};
use crate::i18n::{t, Lang};
use crate::store::{self, NewPoll, Poll, Table, Vote};
use crate::tally::{self, Answer, Ballot, Kind, Results};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Extension;
use maud::{html, Markup};

pub async fn new_form(State(app): State<AppState>, Extension(ctx): Extension<Ctx>) -> Res {
    let l = ctx.lang;
    let body = html! {
        h1 { (t(l, "new_poll")) }
        form #poll-new method="post" action={ (app.base()) "/p/new" } {
            (csrf(&ctx))
            label for="title" { (t(l, "title")) }
            input #title name="title" required maxlength=(form::TITLE_MAX);
            label for="description" { (t(l, "description")) }
            textarea #description name="description" rows="3" maxlength=(form::DESCRIPTION_MAX) {}
            label for="kind" { (t(l, "kind")) }
            select #kind name="kind" {
                @for k in Kind::ALL { option value=(k.code()) { (t(l, k.label_key())) } }
            }
            label for="options" { (t(l, "options")) }
            textarea #options name="options" rows="5" required {}
            label for="max_choices" { (t(l, "max_choices")) }
            input #max_choices name="max_choices" type="number" min="1" max=(form::OPTIONS_MAX);
            label for="closes_at" { (t(l, "closes_at")) }
            input #closes_at name="closes_at" type="datetime-local";
            button #poll-create type="submit" { (t(l, "create")) }
        }
    };
    Ok(layout(&app, &ctx, t(l, "new_poll"), body).into_response())
}

fn parse_new(f: &form::Form) -> Result<NewPoll, Fail> {
    let title = form::line(f.get("title"), form::TITLE_MAX, true)?;
    let description = form::text(f.get("description"), form::DESCRIPTION_MAX, false)?;
    let kind = f
        .get("kind")
        .and_then(Kind::parse)
        .ok_or(FieldError::Invalid)?;
    let mut options = form::lines(f.get("options"), form::OPTION_MAX, 2, form::OPTIONS_MAX)?;
    if kind == Kind::Date {
        let mut dates = options
            .iter()
            .map(|o| form::date_time(o))
            .collect::<Result<Vec<_>, _>>()?;
        dates.sort();
        dates.dedup();
        if dates.len() != options.len() {
            return Err(FieldError::Options.into());
        }
        options = dates;
    }
    let max_choices = match f.get("max_choices").map(str::trim) {
        None | Some("") => None,
        Some(s) if kind == Kind::Multiple => {
            let m: usize = s.parse().map_err(|_| FieldError::Invalid)?;
            if m == 0 || m > options.len() {
                return Err(FieldError::Invalid.into());
            }
            Some(m)
        }
        Some(_) => None,
    };
    let closes_at = match f.get("closes_at").map(str::trim) {
        None | Some("") => None,
        Some(s) => {
            let d = form::date_time(s)?;
            Some(if d.contains('T') {
                d
            } else {
                format!("{d}T00:00")
            })
        }
    };
    Ok(NewPoll {
        title,
        description,
        kind,
        options,
        max_choices,
        closes_at,
    })
}

pub async fn create(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Body,
) -> Res {
    let f = app.write_form(&ctx, &headers, body).await?;
    let p = parse_new(&f)?;
    let id = new_id()?;
    let token = crate::sys::random_hex(16).map_err(|_| Fail::INTERNAL)?;
    store::create_poll(&app.db(), &id, &p, &sha256_hex(&token))?;
    let l = ctx.lang;
    let base = app.base();
    let body = html! {
        h1 { (t(l, "created")) (t(l, "colon")) (p.title) }
        p { (t(l, "poll_link")) (t(l, "colon")) a #poll-link href={ (base) "/p/" (id) } { (base) "/p/" (id) } }
        p.warning { (t(l, "edit_link_note")) }
        p { (t(l, "edit_link")) (t(l, "colon")) a #edit-link href={ (base) "/p/" (id) "/edit/" (token) } { (base) "/p/" (id) "/edit/" (token) } }
    };
    Ok(layout(&app, &ctx, t(l, "created"), body).into_response())
}

struct Loaded {
    poll: Poll,
    /// Counted votes (not hidden); the admin also gets hidden ones in `all`.
    counted: Vec<Vote>,
    all: Vec<Vote>,
    results: Results,
}

fn load(app: &super::App, ctx: &Ctx, id: &str) -> Result<Loaded, Fail> {
    let db = app.db();
    let poll = store::poll(&db, id, ctx.admin)?;
    let all = store::votes(&db, id, ctx.admin)?;
    let counted: Vec<Vote> = all.iter().filter(|v| !v.hidden).cloned().collect();
    let ballots: Vec<Ballot> = counted.iter().map(|v| v.ballot.clone()).collect();
    let results = tally::tally(poll.kind, poll.options.len(), &ballots);
    Ok(Loaded {
        poll,
        counted,
        all,
        results,
    })
}

/// An option as shown: dates with a space before the time.
fn label(p: &Poll, i: usize) -> String {
    let o = p.options.get(i).map(String::as_str).unwrap_or("");
    if p.kind == Kind::Date {
        o.replace('T', " ")
    } else {
        o.to_string()
    }
}

fn results_block(base: &str, l: Lang, d: &Loaded) -> Markup {
    let p = &d.poll;
    html! {
        section #results data-events={ (base) "/p/" (p.id) "/events" } data-src={ (base) "/p/" (p.id) "/results" } aria-live="polite" {
            h2 { (t(l, "results")) }
            p #voter-count data-voters=(d.results.voters) { (t(l, "voters")) (t(l, "colon")) (d.results.voters) }
            @if p.kind == Kind::Date && d.results.voters > 0 {
                p #best-dates { (t(l, "best_dates")) (t(l, "colon"))
                    @for (i, r) in d.results.rows.iter().filter(|r| r.rank == 1).enumerate() {
                        @if i > 0 { ", " }
                        strong { (label(p, r.option)) }
                    }
                }
            }
            ol.results {
                @for r in &d.results.rows {
                    li.result data-option=(r.option) data-score=(r.score) data-rank=(r.rank)
                        data-yes=(r.yes) data-maybe=(r.maybe) data-no=(r.no) {
                        span.result-label { (label(p, r.option)) }
                        " "
                        @match p.kind {
                            Kind::Date => span.result-score { (t(l, "yes")) " " (r.yes) " · " (t(l, "maybe")) " " (r.maybe) " · " (t(l, "no")) " " (r.no) },
                            _ => span.result-score { (r.score) },
                        }
                        @if d.results.voters > 0 && p.kind != Kind::Ranked && p.kind != Kind::Date {
                            meter min="0" max=(d.results.voters) value=(r.score) aria-hidden="true" {}
                        }
                    }
                }
            }
            p.method { (t(l, p.kind.method_key())) }
            @if p.kind == Kind::Date && !d.counted.is_empty() {
                div.table-wrap {
                    table #date-votes {
                        thead { tr { th { (t(l, "name")) } @for i in 0..p.options.len() { th { (label(p, i)) } } } }
                        tbody {
                            @for v in &d.counted {
                                tr {
                                    td { @if v.name.is_empty() { (t(l, "anonymous")) } @else { (v.name) } }
                                    @if let Ballot::Dates(a) = &v.ballot {
                                        @for x in a { td class={ "answer-" (x.code()) } { (t(l, x.code())) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn vote_form(base: &str, ctx: &Ctx, p: &Poll, mine: Option<&Vote>) -> Markup {
    let l = ctx.lang;
    let chosen =
        |i: usize| matches!(mine.map(|v| &v.ballot), Some(Ballot::Choices(c)) if c.contains(&i));
    let rank = |i: usize| match mine.map(|v| &v.ballot) {
        Some(Ballot::Ranks(r)) => r.get(i).copied().flatten(),
        _ => None,
    };
    let answer = |i: usize| match mine.map(|v| &v.ballot) {
        Some(Ballot::Dates(a)) => a.get(i).copied(),
        _ => None,
    };
    let n = p.options.len();
    html! {
        form #vote-form method="post" action={ (base) "/p/" (p.id) "/vote" } {
            (csrf(ctx))
            @if mine.is_some() { p.notice #already-voted { (t(l, "your_vote_saved")) } }
            @if let (Kind::Multiple, Some(m)) = (p.kind, p.max_choices) {
                p { (m) " " (t(l, "pick_max")) }
            }
            fieldset {
                legend { (p.title) }
                @for i in 0..n {
                    @let o = label(p, i);
                    @match p.kind {
                        Kind::Single => div.choice {
                            input type="radio" name="choice" value=(i) id={ "choice-" (i) } checked[chosen(i)];
                            label for={ "choice-" (i) } { (o) }
                        },
                        Kind::Multiple | Kind::Approval => div.choice {
                            input type="checkbox" name="choice" value=(i) id={ "choice-" (i) } checked[chosen(i)];
                            label for={ "choice-" (i) } { (o) }
                        },
                        Kind::Ranked => div.choice {
                            label for={ "rank-" (i) } { (o) }
                            select name={ "rank_" (i) } id={ "rank-" (i) } {
                                option value="" { (t(l, "unranked")) }
                                @for r in 1..=n {
                                    option value=(r) selected[rank(i) == Some(r as u32)] { (t(l, "rank")) " " (r) }
                                }
                            }
                        },
                        Kind::Date => fieldset.date-option {
                            legend { (o) }
                            @for a in [Answer::Yes, Answer::Maybe, Answer::No] {
                                span.answer {
                                    input type="radio" name={ "answer_" (i) } value=(a.code())
                                        id={ "answer-" (i) "-" (a.code()) } checked[answer(i) == Some(a)];
                                    label for={ "answer-" (i) "-" (a.code()) } { (t(l, a.code())) }
                                }
                            }
                        },
                    }
                }
            }
            label for="name" { (t(l, "your_name")) }
            input #name name="name" maxlength=(form::NAME_MAX) value=(mine.map(|v| v.name.as_str()).unwrap_or(""));
            button #vote-submit type="submit" { (t(l, "vote")) }
        }
    }
}

pub(super) fn moderation(base: &str, ctx: &Ctx, kind: &str, id: &str, hidden: bool) -> Markup {
    let l = ctx.lang;
    html! {
        form.moderate method="post" action={ (base) "/admin/moderate" } {
            (csrf(ctx))
            input type="hidden" name="kind" value=(kind);
            input type="hidden" name="id" value=(id);
            @if hidden {
                button name="action" value="unhide" { (t(l, "unhide")) }
            } @else {
                button name="action" value="hide" { (t(l, "hide")) }
            }
            button name="action" value="delete" { (t(l, "delete")) }
        }
    }
}

pub async fn show(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Res {
    let d = load(&app, &ctx, &id)?;
    let l = ctx.lang;
    let base = app.base();
    let p = &d.poll;
    let closed = p.is_closed(&crate::sys::local_now());
    let mine = d.all.iter().find(|v| v.device == ctx.device);
    let body = html! {
        article #poll data-kind=(p.kind.code()) class=[p.hidden.then_some("hidden-item")] {
            h1 #poll-title { (p.title) }
            p.kind { (t(l, p.kind.label_key())) }
            @if !p.description.is_empty() { p #poll-description .text { (p.description) } }
            @if closed {
                p #poll-closed .notice { (t(l, "closed")) }
            } @else {
                @if let Some(c) = &p.closes_at { p.closes { (t(l, "closes_on")) " " (c.replace('T', " ")) } }
                (vote_form(base, &ctx, p, mine))
            }
            (results_block(base, l, &d))
            p.exports { (t(l, "export")) (t(l, "colon"))
                a #export-json href={ (base) "/p/" (p.id) "/export.json" } { "JSON" } " · "
                a #export-csv href={ (base) "/p/" (p.id) "/export.csv" } { "CSV" }
            }
            @if ctx.admin {
                section #moderation {
                    h2 { (t(l, "admin")) }
                    (moderation(base, &ctx, "poll", &p.id, p.hidden))
                    h3 { (t(l, "votes")) }
                    ul #votes {
                        @for v in &d.all {
                            li class=[v.hidden.then_some("hidden-item")] data-vote=(v.id) {
                                @if v.name.is_empty() { (t(l, "anonymous")) } @else { (v.name) }
                                (moderation(base, &ctx, "vote", &v.id.to_string(), v.hidden))
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout(&app, &ctx, &p.title, body).into_response())
}

pub async fn results_page(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Res {
    let d = load(&app, &ctx, &id)?;
    let body = html! {
        h1 #poll-title { a href={ (app.base()) "/p/" (d.poll.id) } { (d.poll.title) } }
        (results_block(app.base(), ctx.lang, &d))
    };
    Ok(layout(&app, &ctx, &d.poll.title, body).into_response())
}

pub async fn vote(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Res {
    let f = app.write_form(&ctx, &headers, body).await?;
    let p = store::poll(&app.db(), &id, false)?;
    if p.is_closed(&crate::sys::local_now()) {
        return Err(Fail::new(StatusCode::FORBIDDEN, "err_closed"));
    }
    let name = form::line(f.get("name"), form::NAME_MAX, false)?;
    let n = p.options.len();
    let ranks: Vec<String> = (0..n).map(|i| format!("rank_{i}")).collect();
    let answers: Vec<String> = (0..n).map(|i| format!("answer_{i}")).collect();
    let ranks: Vec<Option<&str>> = ranks.iter().map(|k| f.get(k)).collect();
    let answers: Vec<Option<&str>> = answers.iter().map(|k| f.get(k)).collect();
    let ballot = tally::make_ballot(p.kind, n, p.max_choices, &f.all("choice"), &ranks, &answers)
        .map_err(|_| Fail::new(StatusCode::UNPROCESSABLE_ENTITY, "err_ballot"))?;
    store::vote(&app.db(), &id, &ctx.device, &name, &ballot)?;
    app.publish(&format!("p:{id}"), "{\"action\":\"vote\"}".into());
    Ok(see_other(&app, &format!("/p/{id}")))
}

pub async fn events(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Res {
    store::poll(&app.db(), &id, ctx.admin)?;
    Ok(sse(&app, &format!("p:{id}"), "results"))
}

fn export_value(d: &Loaded) -> serde_json::Value {
    let p = &d.poll;
    let rows: Vec<serde_json::Value> = d
        .results
        .rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "option": r.option,
                "label": p.options.get(r.option),
                "score": r.score, "yes": r.yes, "maybe": r.maybe, "no": r.no, "rank": r.rank,
            })
        })
        .collect();
    let votes: Vec<serde_json::Value> = d
        .counted
        .iter()
        .map(
            |v| serde_json::json!({"name": v.name, "ballot": v.ballot, "updated_at": v.updated_at}),
        )
        .collect();
    serde_json::json!({
        "poll": {
            "id": p.id, "title": p.title, "description": p.description, "kind": p.kind,
            "options": p.options, "max_choices": p.max_choices, "closes_at": p.closes_at,
            "closed": p.closed, "created_at": p.created_at,
        },
        "method": match p.kind { Kind::Ranked => "schulze", Kind::Date => "yes+maybe, then yes", _ => "count" },
        "results": { "voters": d.results.voters, "rows": rows },
        "votes": votes,
    })
}

pub async fn export_json(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Res {
    let d = load(&app, &ctx, &id)?;
    let body = serde_json::to_string_pretty(&export_value(&d)).map_err(|_| Fail::INTERNAL)?;
    Ok(download(
        "application/json",
        format!("poll-{}.json", d.poll.id),
        body,
    ))
}

/// One line per ballot: name, time, then one cell per option.
pub fn csv_rows(p: &Poll, votes: &[Vote]) -> Vec<Vec<String>> {
    let mut rows = vec![[
        vec!["name".to_string(), "updated_at".into()],
        p.options.clone(),
    ]
    .concat()];
    for v in votes {
        let mut row = vec![v.name.clone(), v.updated_at.to_string()];
        for i in 0..p.options.len() {
            row.push(match &v.ballot {
                Ballot::Choices(c) => if c.contains(&i) { "1" } else { "" }.to_string(),
                Ballot::Ranks(r) => r
                    .get(i)
                    .copied()
                    .flatten()
                    .map(|r| r.to_string())
                    .unwrap_or_default(),
                Ballot::Dates(a) => a.get(i).map(|a| a.code().to_string()).unwrap_or_default(),
            });
        }
        rows.push(row);
    }
    rows
}

pub async fn export_csv(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Res {
    let d = load(&app, &ctx, &id)?;
    Ok(download(
        "text/csv; charset=utf-8",
        format!("poll-{}.csv", d.poll.id),
        csv(&csv_rows(&d.poll, &d.counted)),
    ))
}

fn check_token(app: &super::App, id: &str, token: &str) -> Result<(), Fail> {
    let hash = store::poll_edit_hash(&app.db(), id)?;
    if sha256_hex(token) == hash {
        Ok(())
    } else {
        Err(Fail::NOT_FOUND)
    }
}

pub async fn edit_form(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path((id, token)): Path<(String, String)>,
) -> Res {
    check_token(&app, &id, &token)?;
    let p = store::poll(&app.db(), &id, true)?;
    let l = ctx.lang;
    let base = app.base();
    let closed = p.is_closed(&crate::sys::local_now());
    let body = html! {
        h1 { (t(l, "edit_poll")) }
        p { a #poll-link href={ (base) "/p/" (p.id) } { (p.title) } }
        @if closed { p #poll-closed .notice { (t(l, "closed")) } }
        form #poll-edit method="post" action={ (base) "/p/" (p.id) "/edit/" (token) } {
            (csrf(&ctx))
            label for="title" { (t(l, "title")) }
            input #title name="title" required maxlength=(form::TITLE_MAX) value=(p.title);
            label for="description" { (t(l, "description")) }
            textarea #description name="description" rows="3" maxlength=(form::DESCRIPTION_MAX) { (p.description) }
            button #poll-save name="action" value="save" { (t(l, "save")) }
            @if closed {
                button #poll-reopen name="action" value="reopen" formnovalidate { (t(l, "reopen")) }
            } @else {
                button #poll-close name="action" value="close" formnovalidate { (t(l, "close")) }
            }
            button #poll-delete .danger name="action" value="delete" formnovalidate { (t(l, "delete_poll")) }
        }
    };
    Ok(layout(&app, &ctx, t(l, "edit_poll"), body).into_response())
}

pub async fn edit(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path((id, token)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Res {
    let f = app.write_form(&ctx, &headers, body).await?;
    check_token(&app, &id, &token)?;
    let db = app.db();
    match f.get("action") {
        Some("save") => {
            let title = form::line(f.get("title"), form::TITLE_MAX, true)?;
            let description = form::text(f.get("description"), form::DESCRIPTION_MAX, false)?;
            store::update_poll(&db, &id, &title, &description)?;
        }
        Some("close") => store::set_poll_closed(&db, &id, true)?,
        Some("reopen") => store::set_poll_closed(&db, &id, false)?,
        Some("delete") => {
            store::delete(&db, Table::Polls, &id)?;
            eprintln!("agora: poll {id} deleted by its creator");
            return Ok(see_other(&app, "/"));
        }
        _ => return Err(FieldError::Invalid.into()),
    }
    drop(db);
    app.publish(&format!("p:{id}"), "{\"action\":\"edit\"}".into());
    Ok(see_other(&app, &format!("/p/{id}/edit/{token}")))
}
