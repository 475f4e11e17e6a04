//! Page layout and shared pieces. maud escapes every value it prints.

use super::{App, AppState, Ctx, Fail, Res};
use crate::i18n::{t, Lang};
use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::Extension;
use maud::{html, Markup, DOCTYPE};

pub fn layout(app: &App, ctx: &Ctx, title: &str, body: Markup) -> Html<String> {
    let l = ctx.lang;
    let base = app.base();
    Html(
        html! {
            (DOCTYPE)
            html lang=(l.code()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · " (t(l, "app")) }
                    link rel="stylesheet" href={ (base) "/static/agora.css" };
                    script src={ (base) "/static/agora.js" } defer {}
                }
                body data-base=(base) {
                    header.top {
                        a.brand href={ (base) "/" } { (t(l, "app")) }
                        nav {
                            a #lang-switch href={ "?lang=" (l.other().code()) } lang=(l.other().code()) {
                                (t(l, "lang_switch"))
                            }
                            " "
                            a #admin-link href={ (base) "/admin" } { (t(l, "admin")) }
                        }
                    }
                    main { (body) }
                }
            }
        }
        .into_string(),
    )
}

/// The hidden CSRF field every form carries.
pub fn csrf(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.csrf); }
}

pub fn error_page(app: &App, ctx: &Ctx, fail: Fail) -> Html<String> {
    let l = ctx.lang;
    layout(
        app,
        ctx,
        t(l, "error"),
        html! {
            h1 { (t(l, "error")) " " (fail.status.as_u16()) }
            p #error role="alert" { (t(l, fail.key)) }
            p { a href={ (app.base()) "/" } { (t(l, "back")) } }
        },
    )
}

pub async fn home(State(app): State<AppState>, Extension(ctx): Extension<Ctx>) -> Res {
    let l = ctx.lang;
    let (polls, boards) = {
        let db = app.db();
        (
            crate::store::polls(&db, ctx.admin, 50)?,
            crate::store::boards(&db, ctx.admin, 50)?,
        )
    };
    let base = app.base();
    let body = html! {
        h1 { (t(l, "app")) }
        p { (t(l, "tagline")) }
        p.actions {
            a #new-poll .button href={ (base) "/p/new" } { (t(l, "new_poll")) }
            " "
            a #new-board .button href={ (base) "/b/new" } { (t(l, "new_board")) }
        }
        section {
            h2 { (t(l, "polls")) }
            @if polls.is_empty() { p { (t(l, "none_yet")) } }
            ul #polls {
                @for p in &polls {
                    li class=[p.hidden.then_some("hidden-item")] {
                        a.poll-link href={ (base) "/p/" (p.id) } { (p.title) }
                        " · " small { (t(l, p.kind.label_key())) }
                    }
                }
            }
        }
        section {
            h2 { (t(l, "boards")) }
            @if boards.is_empty() { p { (t(l, "none_yet")) } }
            ul #boards {
                @for b in &boards {
                    li class=[b.hidden.then_some("hidden-item")] {
                        a.board-link href={ (base) "/b/" (b.id) } { (b.title) }
                    }
                }
            }
        }
    };
    Ok(layout(&app, &ctx, t(l, "app"), body).into_response())
}

/// A `<select>` of the note colours.
pub fn color_select(l: Lang, id: &str, selected: &str) -> Markup {
    html! {
        label for=(id) { (t(l, "color")) }
        select id=(id) name="color" {
            @for c in COLORS {
                option value=(c.0) selected[*c.0 == *selected] { (t(l, c.1)) }
            }
        }
    }
}

/// The note palette: all with dark text at WCAG AAA contrast.
pub const COLORS: &[(&str, &str)] = &[
    ("yellow", "color_yellow"),
    ("green", "color_green"),
    ("blue", "color_blue"),
    ("pink", "color_pink"),
    ("orange", "color_orange"),
    ("white", "color_white"),
];

pub fn valid_color(c: &str) -> bool {
    COLORS.iter().any(|(k, _)| *k == c)
}
