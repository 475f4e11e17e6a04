//! Sticky-note boards: columns, notes, live updates, export.

use super::pages::{color_select, csrf, layout, valid_color};
use super::polls::moderation;
use super::{download, new_id, see_other, sse, App, AppState, Ctx, Fail, Res};
use crate::export::csv;
use crate::form::{self, FieldError};
use crate::i18n::t;
use crate::store::{self, Board, Column, MoveTo, Note};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Extension;
use maud::{html, Markup};

pub async fn new_form(State(app): State<AppState>, Extension(ctx): Extension<Ctx>) -> Res {
    let l = ctx.lang;
    let body = html! {
        h1 { (t(l, "new_board")) }
        form #board-new method="post" action={ (app.base()) "/b/new" } {
            (csrf(&ctx))
            label for="title" { (t(l, "title")) }
            input #title name="title" required maxlength=(form::TITLE_MAX);
            label for="columns" { (t(l, "columns")) }
            textarea #columns name="columns" rows="4" required { (t(l, "default_columns")) }
            button #board-create type="submit" { (t(l, "create")) }
        }
    };
    Ok(layout(&app, &ctx, t(l, "new_board"), body).into_response())
}

pub async fn create(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Body,
) -> Res {
    let f = app.write_form(&ctx, &headers, body).await?;
    let title = form::line(f.get("title"), form::TITLE_MAX, true)?;
    let columns = form::lines(f.get("columns"), form::COLUMN_MAX, 1, form::COLUMNS_MAX).map_err(
        |e| match e {
            FieldError::Options => {
                Fail::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "err_columns")
            }
            e => e.into(),
        },
    )?;
    let id = new_id()?;
    store::create_board(&mut app.db(), &id, &title, &columns)?;
    Ok(see_other(&app, &format!("/b/{id}")))
}

struct Loaded {
    board: Board,
    columns: Vec<Column>,
    notes: Vec<Note>,
}

fn load(app: &App, ctx: &Ctx, id: &str) -> Result<Loaded, Fail> {
    let db = app.db();
    Ok(Loaded {
        board: store::board(&db, id, ctx.admin)?,
        columns: store::columns(&db, id)?,
        notes: store::notes(&db, id, ctx.admin)?,
    })
}

fn note_view(base: &str, ctx: &Ctx, d: &Loaded, n: &Note) -> Markup {
    let l = ctx.lang;
    let b = &d.board.id;
    let nid = n.id;
    html! {
        article.note.{ "color-" (n.color) }.hidden-item[n.hidden] id={ "note-" (nid) } data-note=(nid) data-color=(n.color) draggable="true" {
            p.note-text { (n.text) }
            details.note-tools {
                summary { (t(l, "edit")) }
                form.note-edit method="post" action={ (base) "/b/" (b) "/note/" (nid) } {
                    (csrf(ctx))
                    label for={ "edit-text-" (nid) } { (t(l, "note_text")) }
                    textarea id={ "edit-text-" (nid) } name="text" rows="3" required maxlength=(form::NOTE_MAX) { (n.text) }
                    (color_select(l, &format!("edit-color-{nid}"), &n.color))
                    button.note-save type="submit" { (t(l, "save")) }
                }
                form.note-move method="post" action={ (base) "/b/" (b) "/note/" (nid) "/move" } {
                    (csrf(ctx))
                    button.note-up name="dir" value="up" { (t(l, "up")) }
                    " "
                    button.note-down name="dir" value="down" { (t(l, "down")) }
                    label for={ "move-column-" (nid) } { (t(l, "move_to")) }
                    select id={ "move-column-" (nid) } name="column" {
                        @for c in &d.columns {
                            option value=(c.id) selected[c.id == n.column_id] { (c.name) }
                        }
                    }
                    label for={ "move-position-" (nid) } { (t(l, "position")) }
                    input id={ "move-position-" (nid) } name="position" type="number" min="0" max="1000";
                    button.note-move-submit type="submit" { (t(l, "move")) }
                }
                form.note-delete method="post" action={ (base) "/b/" (b) "/note/" (nid) "/delete" } {
                    (csrf(ctx))
                    button.note-delete-submit.danger type="submit" { (t(l, "delete")) }
                }
                @if ctx.admin { (moderation(base, ctx, "note", &nid.to_string(), n.hidden)) }
            }
        }
    }
}

fn board_block(base: &str, ctx: &Ctx, d: &Loaded) -> Markup {
    let l = ctx.lang;
    let b = &d.board.id;
    html! {
        div #board .columns data-events={ (base) "/b/" (b) "/events" } data-src={ (base) "/b/" (b) } {
            @for c in &d.columns {
                section.column data-column=(c.id) {
                    h2.column-name { (c.name) }
                    div.notes {
                        @for n in d.notes.iter().filter(|n| n.column_id == c.id) {
                            (note_view(base, ctx, d, n))
                        }
                    }
                    form.note-add method="post" action={ (base) "/b/" (b) "/notes" } {
                        (csrf(ctx))
                        input type="hidden" name="column" value=(c.id);
                        label for={ "add-text-" (c.id) } { (t(l, "add_note")) }
                        textarea id={ "add-text-" (c.id) } name="text" rows="2" required maxlength=(form::NOTE_MAX) {}
                        (color_select(l, &format!("add-color-{}", c.id), "yellow"))
                        button.note-add-submit type="submit" { (t(l, "add_note")) }
                    }
                    details.column-tools {
                        summary { (t(l, "rename")) }
                        form.column-rename method="post" action={ (base) "/b/" (b) "/column/" (c.id) } {
                            (csrf(ctx))
                            label for={ "column-name-" (c.id) } { (t(l, "column_name")) }
                            input id={ "column-name-" (c.id) } name="name" required maxlength=(form::COLUMN_MAX) value=(c.name);
                            button type="submit" { (t(l, "rename")) }
                        }
                    }
                }
            }
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
    let body = html! {
        h1 #board-title class=[d.board.hidden.then_some("hidden-item")] { (d.board.title) }
        p.exports {
            span #live-status {} " "
            (t(l, "export")) (t(l, "colon"))
            a #export-json href={ (base) "/b/" (d.board.id) "/export.json" } { "JSON" } " · "
            a #export-csv href={ (base) "/b/" (d.board.id) "/export.csv" } { "CSV" }
        }
        @if ctx.admin { (moderation(base, &ctx, "board", &d.board.id, d.board.hidden)) }
        (board_block(base, &ctx, &d))
    };
    Ok(layout(&app, &ctx, &d.board.title, body).into_response())
}

fn changed(app: &App, board: &str, action: &str, note: i64) {
    app.publish(
        &format!("b:{board}"),
        serde_json::json!({"action": action, "note": note}).to_string(),
    );
}

fn board_visible(app: &App, id: &str) -> Result<(), Fail> {
    store::board(&app.db(), id, false)?;
    Ok(())
}

fn parse_id(s: &str) -> Result<i64, Fail> {
    s.parse().map_err(|_| Fail::NOT_FOUND)
}

fn note_fields(f: &form::Form) -> Result<(String, String), Fail> {
    let text = form::text(f.get("text"), form::NOTE_MAX, true)?;
    let color = f.get("color").unwrap_or("yellow");
    if !valid_color(color) {
        return Err(FieldError::Invalid.into());
    }
    Ok((text, color.to_string()))
}

pub async fn add_note(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Res {
    let f = app.write_form(&ctx, &headers, body).await?;
    board_visible(&app, &id)?;
    let column = f
        .get("column")
        .and_then(|c| c.parse().ok())
        .ok_or(FieldError::Invalid)?;
    let (text, color) = note_fields(&f)?;
    let nid = store::add_note(&mut app.db(), &id, column, &text, &color)?;
    changed(&app, &id, "add", nid);
    Ok(see_other(&app, &format!("/b/{id}#note-{nid}")))
}

pub async fn edit_note(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path((id, nid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Res {
    let f = app.write_form(&ctx, &headers, body).await?;
    board_visible(&app, &id)?;
    let nid = parse_id(&nid)?;
    let (text, color) = note_fields(&f)?;
    store::edit_note(&app.db(), &id, nid, &text, &color)?;
    changed(&app, &id, "edit", nid);
    Ok(see_other(&app, &format!("/b/{id}#note-{nid}")))
}

pub async fn move_note(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path((id, nid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Res {
    let f = app.write_form(&ctx, &headers, body).await?;
    board_visible(&app, &id)?;
    let nid = parse_id(&nid)?;
    let to = match f.get("dir") {
        Some("up") => MoveTo::Up,
        Some("down") => MoveTo::Down,
        Some(_) => return Err(FieldError::Invalid.into()),
        None => {
            let column = f
                .get("column")
                .and_then(|c| c.parse().ok())
                .ok_or(FieldError::Invalid)?;
            let position = match f.get("position").map(str::trim) {
                None | Some("") => None,
                Some(p) => Some(p.parse().map_err(|_| FieldError::Invalid)?),
            };
            MoveTo::Place { column, position }
        }
    };
    store::move_note(&mut app.db(), &id, nid, to)?;
    changed(&app, &id, "move", nid);
    Ok(see_other(&app, &format!("/b/{id}#note-{nid}")))
}

pub async fn delete_note(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path((id, nid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Res {
    app.write_form(&ctx, &headers, body).await?;
    board_visible(&app, &id)?;
    let nid = parse_id(&nid)?;
    store::delete_note(&app.db(), &id, nid)?;
    changed(&app, &id, "delete", nid);
    Ok(see_other(&app, &format!("/b/{id}")))
}

pub async fn rename_column(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path((id, cid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Res {
    let f = app.write_form(&ctx, &headers, body).await?;
    board_visible(&app, &id)?;
    let cid = parse_id(&cid)?;
    let name = form::line(f.get("name"), form::COLUMN_MAX, true)?;
    store::rename_column(&app.db(), &id, cid, &name)?;
    changed(&app, &id, "column", cid);
    Ok(see_other(&app, &format!("/b/{id}")))
}

pub async fn events(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Res {
    store::board(&app.db(), &id, ctx.admin)?;
    Ok(sse(&app, &format!("b:{id}"), "board"))
}

pub async fn export_json(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Res {
    let d = load(&app, &ctx, &id)?;
    let notes: Vec<&Note> = d.notes.iter().filter(|n| !n.hidden).collect();
    let v = serde_json::json!({
        "board": { "id": d.board.id, "title": d.board.title, "created_at": d.board.created_at },
        "columns": d.columns,
        "notes": notes,
    });
    let body = serde_json::to_string_pretty(&v).map_err(|_| Fail::INTERNAL)?;
    Ok(download(
        "application/json",
        format!("board-{}.json", d.board.id),
        body,
    ))
}

pub async fn export_csv(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Res {
    let d = load(&app, &ctx, &id)?;
    let mut rows = vec![vec![
        "column".to_string(),
        "position".into(),
        "text".into(),
        "color".into(),
        "updated_at".into(),
    ]];
    for c in &d.columns {
        for n in d.notes.iter().filter(|n| n.column_id == c.id && !n.hidden) {
            rows.push(vec![
                c.name.clone(),
                n.position.to_string(),
                n.text.clone(),
                n.color.clone(),
                n.updated_at.to_string(),
            ]);
        }
    }
    Ok(download(
        "text/csv; charset=utf-8",
        format!("board-{}.csv", d.board.id),
        csv(&rows),
    ))
}
