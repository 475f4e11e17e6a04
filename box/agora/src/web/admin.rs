//! Moderation: login against the admin password's hash file (checked by
//! the system's crypt(3): yescrypt or sha512-crypt), hide/unhide/delete,
//! backup download and restore upload.

use super::pages::{csrf, layout};
use super::polls::moderation;
use super::{download, lock, read_body, see_other, App, AppState, Ctx, Fail, Res, RESTORE_MAX};
use crate::form::{self, FieldError};
use crate::i18n::t;
use crate::store::{self, Table};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Extension;
use maud::html;
use std::time::Instant;

/// The hash, read afresh at each attempt; None when there is no usable file.
fn admin_hash(app: &App) -> Option<String> {
    let path = app.cfg.admin_hash.as_ref()?;
    let s = std::fs::read_to_string(path).ok()?;
    let line = s.lines().next()?.trim().to_string();
    line.starts_with('$').then_some(line)
}

fn forbidden() -> Fail {
    Fail::new(StatusCode::FORBIDDEN, "err_forbidden")
}

pub async fn page(State(app): State<AppState>, Extension(ctx): Extension<Ctx>) -> Res {
    let l = ctx.lang;
    let base = app.base();
    if !ctx.admin {
        let available = admin_hash(&app).is_some();
        let body = html! {
            h1 { (t(l, "admin")) }
            @if available {
                form #admin-login method="post" action={ (base) "/admin/login" } {
                    (csrf(&ctx))
                    label for="password" { (t(l, "password")) }
                    input #password name="password" type="password" required autocomplete="current-password";
                    button #admin-submit type="submit" { (t(l, "login")) }
                }
            } @else {
                p #admin-unavailable .notice { (t(l, "admin_unavailable")) }
            }
        };
        return Ok(layout(&app, &ctx, t(l, "admin"), body).into_response());
    }
    let (polls, boards) = {
        let db = app.db();
        (
            store::polls(&db, true, 500)?,
            store::boards(&db, true, 500)?,
        )
    };
    let body = html! {
        h1 { (t(l, "admin")) }
        form method="post" action={ (base) "/admin/logout" } {
            (csrf(&ctx))
            button #admin-logout type="submit" { (t(l, "logout")) }
        }
        h2 { (t(l, "polls")) }
        ul #admin-polls {
            @for p in &polls {
                li class=[p.hidden.then_some("hidden-item")] data-poll=(p.id) {
                    a href={ (base) "/p/" (p.id) } { (p.title) }
                    @if p.hidden { " (" (t(l, "hidden")) ")" }
                    (moderation(base, &ctx, "poll", &p.id, p.hidden))
                }
            }
        }
        h2 { (t(l, "boards")) }
        ul #admin-boards {
            @for b in &boards {
                li class=[b.hidden.then_some("hidden-item")] data-board=(b.id) {
                    a href={ (base) "/b/" (b.id) } { (b.title) }
                    @if b.hidden { " (" (t(l, "hidden")) ")" }
                    (moderation(base, &ctx, "board", &b.id, b.hidden))
                }
            }
        }
        h2 { (t(l, "backup")) }
        p { a #admin-backup .button href={ (base) "/admin/backup" } { (t(l, "backup")) } }
        h2 { (t(l, "restore")) }
        form #admin-restore method="post" enctype="multipart/form-data" action={ (base) "/admin/restore" } {
            (csrf(&ctx))
            label for="restore-file" { (t(l, "restore_file")) }
            input #restore-file name="file" type="file" required;
            button #admin-restore-submit .danger type="submit" { (t(l, "restore")) }
        }
    };
    Ok(layout(&app, &ctx, t(l, "admin"), body).into_response())
}

pub async fn login(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Body,
) -> Res {
    if !super::same_origin(&headers) {
        return Err(Fail::CSRF);
    }
    if !lock(&app.logins).allow(ctx.ip, app.now()) {
        return Err(Fail::new(StatusCode::TOO_MANY_REQUESTS, "err_rate"));
    }
    let f = form::Form::parse(&read_body(body, super::BODY_MAX).await?)?;
    app.check_csrf(&ctx, f.get("csrf"))?;
    let Some(hash) = admin_hash(&app) else {
        return Err(Fail::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "admin_unavailable",
        ));
    };
    let password = f.get("password").unwrap_or("").to_string();
    // Thousands of rounds take a while on a Pi Zero: off the serving thread.
    let ok = !password.is_empty()
        && tokio::task::spawn_blocking(move || {
            clic_login::crypt::verify(&password, &hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
    if !ok {
        eprintln!("agora: admin login refused");
        return Err(Fail::new(StatusCode::FORBIDDEN, "err_login"));
    }
    let token = crate::sys::random_hex(16).map_err(|_| Fail::INTERNAL)?;
    lock(&app.sessions).insert(token.clone(), Instant::now() + super::SESSION_TTL);
    eprintln!("agora: admin logged in");
    let mut r = see_other(&app, "/admin");
    let path = if app.base().is_empty() {
        "/"
    } else {
        app.base()
    };
    let c = format!(
        "agora_admin={token}; Path={path}; Max-Age={}; HttpOnly; SameSite=Strict",
        super::SESSION_TTL.as_secs()
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    super::cookie(headers, "agora_admin").map(str::to_string)
}

pub async fn logout(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Body,
) -> Res {
    if !super::same_origin(&headers) {
        return Err(Fail::CSRF);
    }
    let f = form::Form::parse(&read_body(body, super::BODY_MAX).await?)?;
    app.check_csrf(&ctx, f.get("csrf"))?;
    if let Some(t) = session_token(&headers) {
        lock(&app.sessions).remove(&t);
    }
    let mut r = see_other(&app, "/admin");
    let path = if app.base().is_empty() {
        "/"
    } else {
        app.base()
    };
    if let Ok(v) = HeaderValue::from_str(&format!("agora_admin=; Path={path}; Max-Age=0")) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}

pub async fn moderate(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Body,
) -> Res {
    if !ctx.admin {
        return Err(forbidden());
    }
    if !super::same_origin(&headers) {
        return Err(Fail::CSRF);
    }
    let f = form::Form::parse(&read_body(body, super::BODY_MAX).await?)?;
    app.check_csrf(&ctx, f.get("csrf"))?;
    let kind = f.get("kind").unwrap_or("");
    let table = Table::parse(kind).ok_or(FieldError::Invalid)?;
    let id = f.get("id").ok_or(FieldError::Invalid)?;
    // Where to go back to, and which live page to refresh.
    let db = app.db();
    let (back, topic) = match table {
        Table::Polls => ("/admin".to_string(), format!("p:{id}")),
        Table::Boards => ("/admin".to_string(), format!("b:{id}")),
        Table::Votes => {
            let p = store::vote_poll(&db, id)?;
            (format!("/p/{p}"), format!("p:{p}"))
        }
        Table::Notes => {
            let b = store::note_board(&db, id)?;
            (format!("/b/{b}"), format!("b:{b}"))
        }
    };
    match f.get("action") {
        Some("hide") => store::set_hidden(&db, table, id, true)?,
        Some("unhide") => store::set_hidden(&db, table, id, false)?,
        Some("delete") => store::delete(&db, table, id)?,
        _ => return Err(FieldError::Invalid.into()),
    }
    drop(db);
    eprintln!(
        "agora: moderation: {} {kind} {id}",
        f.get("action").unwrap_or("")
    );
    app.publish(&topic, "{\"action\":\"moderation\"}".into());
    Ok(see_other(&app, &back))
}

pub async fn backup(State(app): State<AppState>, Extension(ctx): Extension<Ctx>) -> Res {
    if !ctx.admin {
        return Err(forbidden());
    }
    let tmp = app.cfg.data.join(format!(
        ".download-{}.db",
        crate::sys::random_hex(6).map_err(|_| Fail::INTERNAL)?
    ));
    let result = crate::db::backup_to(&app.db(), &tmp)
        .map_err(Fail::from)
        .and_then(|_| std::fs::read(&tmp).map_err(|_| Fail::INTERNAL));
    let _ = std::fs::remove_file(&tmp);
    let bytes = result?;
    eprintln!("agora: admin downloaded a backup");
    Ok(download(
        "application/vnd.sqlite3",
        "agora-backup.db".into(),
        bytes,
    ))
}

pub async fn restore(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Body,
) -> Res {
    if !ctx.admin {
        return Err(forbidden());
    }
    if !super::same_origin(&headers) {
        return Err(Fail::CSRF);
    }
    app.check_disk()?;
    let bytes = read_body(body, RESTORE_MAX).await?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bad = || Fail::new(StatusCode::UNPROCESSABLE_ENTITY, "err_restore");
    let parts = form::multipart(ct, &bytes).ok_or_else(bad)?;
    let token = parts
        .iter()
        .find(|p| p.name == "csrf")
        .and_then(|p| std::str::from_utf8(p.data).ok());
    app.check_csrf(&ctx, token)?;
    let file = parts.iter().find(|p| p.is_file).ok_or_else(bad)?;
    let tmp = app.cfg.data.join(format!(
        ".upload-{}.db",
        crate::sys::random_hex(6).map_err(|_| Fail::INTERNAL)?
    ));
    let result = std::fs::write(&tmp, file.data)
        .map_err(|_| Fail::INTERNAL)
        .and_then(|_| {
            crate::db::check_file(&tmp).map_err(|e| {
                eprintln!("agora: restore refused: {e}");
                bad()
            })
        })
        .and_then(|_| crate::db::restore_from(&mut app.db(), &tmp).map_err(Fail::from));
    let _ = std::fs::remove_file(&tmp);
    result?;
    eprintln!("agora: admin restored a backup");
    Ok(see_other(&app, "/admin"))
}
