//! The console's pages. Every answer goes through [`guard`]: who may reach
//! it (reach), who is logged in (session cookie), the language; every
//! POST checks the origin and a CSRF token tied to the session (or, for
//! the login form, to a pre-login cookie).

use crate::actions::{self, Applied};
use crate::backup;
use crate::config::Config;
use crate::delay_wait_text;
use crate::portal::Texts;
use crate::status;
use crate::text::{t, Lang};
use crate::usb;
use crate::wifi;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use clic_login::delay::Delay;
use clic_login::request::{client_ip, cookie, same_origin};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

const SESSION_TTL: Duration = Duration::from_secs(2 * 3600);
const SESSION_COOKIE: &str = "clic_admin";
const PRE_COOKIE: &str = "clic_admin_pre";

pub struct App {
    pub cfg: Config,
    usb: Mutex<UsbState>,
    secret: String,
    sessions: Mutex<HashMap<String, Instant>>,
    delay: Mutex<Delay>,
    start: Instant,
    /// Held while a backup is made or restored: one at a time.
    backup_busy: Arc<tokio::sync::Mutex<()>>,
}

pub type AppState = Arc<App>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl App {
    pub fn new(cfg: Config) -> std::io::Result<App> {
        Ok(App {
            cfg,
            usb: Mutex::new(UsbState::default()),
            secret: crate::sys::random_hex(32)?,
            sessions: Mutex::new(HashMap::new()),
            delay: Mutex::new(Delay::new()),
            start: Instant::now(),
            backup_busy: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The portal's texts now (None: no portal).
    fn texts(&self) -> Option<Texts> {
        crate::portal::read(&self.cfg.text_dir, self.cfg.portal_lang)
    }

    /// The box's name: the portal's title as the pages show it now.
    fn box_name(&self) -> String {
        self.texts()
            .map(|t| t.title)
            .unwrap_or_else(|| self.cfg.box_name.clone())
    }

    fn token_for(&self, what: &str) -> String {
        let h = Sha256::digest(format!("{}:{what}", self.secret));
        h.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    fn session_ok(&self, token: &str) -> bool {
        let mut s = lock(&self.sessions);
        let now = Instant::now();
        s.retain(|_, exp| *exp > now);
        s.contains_key(token)
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn base(&self) -> &str {
        &self.cfg.base
    }
}

/// What every handler knows.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub lang: Lang,
    pub ip: IpAddr,
    /// The session token, when logged in.
    pub session: Option<String>,
    /// The pre-login cookie (made for this answer when missing).
    pub pre: String,
    /// The pre-login cookie is new: the login page sets it (only that
    /// page, so that another answer cannot replace the one a login form
    /// was made with).
    pub new_pre: bool,
    /// The CSRF token the forms carry.
    pub csrf: String,
}

fn is_token(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An answer: a page with a status (boxed: handlers return it as their
/// error too).
pub struct Page(Box<PageInner>);

pub struct PageInner {
    status: StatusCode,
    /// It holds the login form (and so sets the pre-login cookie).
    login_form: bool,
    /// Reload every two seconds (a progress bar).
    refresh: bool,
    title: &'static str,
    body: Markup,
    ctx: Ctx,
    base: String,
    extra_cookies: Vec<String>,
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let this = *self.0;
        this.into_response()
    }
}

impl IntoResponse for PageInner {
    fn into_response(self) -> Response {
        let l = self.ctx.lang;
        let base = &self.base;
        let page = html! {
            (DOCTYPE)
            html lang=(l.code()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="robots" content="noindex";
                    @if self.refresh { meta http-equiv="refresh" content="2"; }
                    title { (self.title) " · " (t(l, "title")) }
                    style { (maud::PreEscaped(CSS)) }
                }
                body {
                    header.top {
                        a.brand href={ (base) "/" } { (t(l, "title")) }
                        a #lang-switch href={ (base) "/?lang=" (l.other().code()) } lang=(l.other().code()) { (t(l, "lang_switch")) }
                    }
                    main { (self.body) }
                    script { (maud::PreEscaped(JS)) }
                }
            }
        };
        let mut r = (self.status, Html(page.into_string())).into_response();
        let h = r.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"),
        );
        h.insert("x-frame-options", HeaderValue::from_static("DENY"));
        // same-origin, not no-referrer: with no-referrer a form posted from
        // http://clic.lan (not a secure context: no Sec-Fetch-Site either)
        // carries `Origin: null`, and the origin check could not tell.
        h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
        let path = if base.is_empty() { "/" } else { base.as_str() };
        let mut cookies = self.extra_cookies;
        if self.ctx.new_pre && self.login_form {
            cookies.push(format!(
                "{PRE_COOKIE}={}; Path={path}; HttpOnly; SameSite=Strict",
                self.ctx.pre
            ));
        }
        for c in cookies {
            if let Ok(v) = HeaderValue::from_str(&c) {
                h.append(header::SET_COOKIE, v);
            }
        }
        r
    }
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f6f6f2;line-height:1.45;overflow-wrap:anywhere}\
header.top{display:flex;justify-content:space-between;align-items:center;padding:.6rem 1rem;background:#1d5c3f}\
header.top a{color:#fff;font-weight:600}main{max-width:42rem;margin:0 auto;padding:1rem}\
section{background:#fff;border-radius:.5rem;padding:.8rem 1rem;margin:0 0 1rem;box-shadow:0 1px 2px #0002}\
h1{font-size:1.4rem}h2{font-size:1.15rem;margin:.2rem 0 .6rem}label{display:block;margin:.6rem 0 .2rem;font-weight:600}\
input[type=text],input[type=password],input[type=number],input[type=datetime-local],textarea,select{width:100%;box-sizing:border-box;padding:.55rem;font-size:1rem;font-family:inherit;border:1px solid #777;border-radius:.3rem}\
button{margin-top:.7rem;padding:.6rem 1rem;font-size:1rem;border:0;border-radius:.3rem;background:#1d5c3f;color:#fff}\
button.danger{background:#9b1c1c}.notice{padding:.6rem;border-radius:.3rem;background:#fff4d6;border:1px solid #b58a00}\
.error{padding:.6rem;border-radius:.3rem;background:#fde8e8;border:1px solid #9b1c1c}.ok{padding:.6rem;border-radius:.3rem;background:#e3f4ea;border:1px solid #1d5c3f}\
table{width:100%;border-collapse:collapse;table-layout:fixed}td small{word-break:break-all}td{padding:.3rem .2rem;border-bottom:1px solid #ddd;vertical-align:middle}\
td form button{margin:0;padding:.3rem .6rem;font-size:.9rem}.up{color:#1d5c3f;font-weight:600}.down{color:#9b1c1c;font-weight:600}\
.check label{display:inline;font-weight:400}\
a.button{display:inline-block;padding:.6rem 1rem;border-radius:.3rem;background:#1d5c3f;color:#fff;text-decoration:none}";

/// The phone's clock fills the clock form (without JavaScript the admin types it).
const JS: &str = "(function(){var f=document.getElementById('clock-form');if(!f)return;\
var d=new Date();function p(n){return(n<10?'0':'')+n}\
var e=document.getElementById('clock-epoch');if(e)e.value=Math.floor(d.getTime()/1000);\
var l=document.getElementById('clock-local');if(l&&!l.value)l.value=d.getFullYear()+'-'+p(d.getMonth()+1)+'-'+p(d.getDate())+'T'+p(d.getHours())+':'+p(d.getMinutes());\
if(l)l.addEventListener('input',function(){if(e)e.value=''})})();";

fn page(ctx: &Ctx, app: &App, status: StatusCode, title: &'static str, body: Markup) -> Page {
    Page(Box::new(PageInner {
        status,
        login_form: false,
        refresh: false,
        title,
        body,
        ctx: ctx.clone(),
        base: app.base().to_string(),
        extra_cookies: Vec::new(),
    }))
}

fn message(ctx: &Ctx, app: &App, status: StatusCode, class: &str, text: &str) -> Page {
    let l = ctx.lang;
    page(
        ctx,
        app,
        status,
        t(l, "title"),
        html! {
            p #message .(class) role=(if class == "error" { "alert" } else { "status" }) { (text) }
            p { a #back href={ (app.base()) "/" } { (t(l, "back")) } }
        },
    )
}

fn csrf_field(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.csrf); }
}

/// Reach, language, session, CSRF token: before every handler.
async fn guard(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let ip = client_ip(peer, headers);
    let asked = req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::parse(v))
    });
    let lang = asked
        .or_else(|| cookie(headers, "clic_admin_lang").and_then(Lang::parse))
        .unwrap_or(app.cfg.lang);
    let session = cookie(headers, SESSION_COOKIE)
        .filter(|s| is_token(s) && app.session_ok(s))
        .map(str::to_string);
    let (pre, new_pre) = match cookie(headers, PRE_COOKIE).filter(|s| is_token(s)) {
        Some(p) => (p.to_string(), false),
        None => (crate::sys::random_hex(16).unwrap_or_default(), true),
    };
    let csrf = app.token_for(session.as_deref().unwrap_or(&pre));
    let ctx = Ctx {
        lang,
        ip,
        session,
        pre,
        new_pre,
        csrf,
    };
    if !crate::reach::allowed(ip, app.cfg.reach, app.cfg.hotspot()) {
        eprintln!("clic-admin: refused a client outside its reach");
        return message(
            &ctx,
            &app,
            StatusCode::FORBIDDEN,
            "error",
            t(lang, "err_reach"),
        )
        .into_response();
    }
    req.extensions_mut().insert(ctx);
    let mut r = next.run(req).await;
    if let Some(l) = asked {
        let path = if app.base().is_empty() {
            "/"
        } else {
            app.base()
        };
        if let Ok(v) = HeaderValue::from_str(&format!(
            "clic_admin_lang={}; Path={path}; Max-Age=31536000; SameSite=Strict",
            l.code()
        )) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

/// A POST's checks: origin, then CSRF token; a logged-in session unless `login`.
fn post_ok(app: &App, ctx: &Ctx, headers: &HeaderMap, csrf: &str, login: bool) -> Result<(), Page> {
    if !login {
        require_login(app, ctx)?;
    }
    if !same_origin(headers) || csrf != ctx.csrf {
        let h = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string()
        };
        eprintln!(
            "clic-admin: form refused: {} (origin {}, host {}, sec-fetch-site {})",
            if same_origin(headers) {
                "CSRF token"
            } else {
                "origin"
            },
            h("origin"),
            h("host"),
            h("sec-fetch-site")
        );
        return Err(message(
            ctx,
            app,
            StatusCode::BAD_REQUEST,
            "error",
            t(ctx.lang, "err_csrf"),
        ));
    }
    Ok(())
}

pub fn router(app: AppState) -> Router {
    let base = app.cfg.base.clone();
    let r = |p: &str| format!("{base}{p}");
    let mut routes = Router::new()
        .route(&r("/"), get(home))
        .route(&r("/login"), post(login))
        .route(&r("/logout"), post(logout))
        .route(&r("/restart"), post(restart))
        .route(&r("/settings"), post(settings))
        .route(&r("/confirm"), post(confirm))
        .route(&r("/clock"), post(clock))
        .route(&r("/password"), post(password))
        .route(&r("/power"), post(power))
        .route(&r("/poster"), get(poster))
        .route(&r("/kiosk"), get(kiosk))
        .route(&r("/diagnostics"), get(diagnostics))
        .route(&r("/backup"), get(backup_download))
        .route(&r("/restore"), post(backup_restore))
        .route(&r("/usb"), get(usb_page))
        .route(&r("/usb/open"), post(usb_open))
        .route(&r("/usb/import"), post(usb_import))
        .route(&r("/usb/eject"), post(usb_eject))
        .route(&r("/usb/remove"), post(usb_remove));
    if !base.is_empty() {
        routes = routes.route(&base, get(to_slash));
    }
    routes
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

async fn to_slash(State(app): State<AppState>) -> Response {
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, format!("{}/", app.base()))],
    )
        .into_response()
}

async fn not_found(State(app): State<AppState>, Extension(ctx): Extension<Ctx>) -> Page {
    message(
        &ctx,
        &app,
        StatusCode::NOT_FOUND,
        "error",
        t(ctx.lang, "err_not_found"),
    )
}

fn login_page(app: &App, ctx: &Ctx, status: StatusCode, note: Option<(&str, String)>) -> Page {
    let l = ctx.lang;
    let base = app.base();
    let mut p = page(
        ctx,
        app,
        status,
        t(l, "login"),
        html! {
            h1 { (t(l, "title")) " · " (app.box_name()) }
            @if let Some((class, text)) = &note {
                p #message .(class) role="alert" { (text) }
            }
            form #login-form method="post" action={ (base) "/login" } {
                (csrf_field(ctx))
                label for="password" { (t(l, "password")) }
                input #password name="password" type="password" required autocomplete="current-password";
                button #login type="submit" { (t(l, "login")) }
            }
            p { small { (t(l, "password_where")) } }
        },
    );
    p.0.login_form = true;
    p
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

async fn login(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, Page> {
    post_ok(&app, &ctx, &headers, &f.csrf, true)?;
    let l = ctx.lang;
    if let Err(left) = lock(&app.delay).check(ctx.ip, app.now()) {
        let text = delay_wait_text(t(l, "err_wait"), left);
        return Ok(login_page(
            &app,
            &ctx,
            StatusCode::TOO_MANY_REQUESTS,
            Some(("error", text)),
        )
        .into_response());
    }
    let hash = actions::shadow_hash(&app.cfg).unwrap_or_default();
    let password = f.password;
    let ok = tokio::task::spawn_blocking(move || {
        clic_login::crypt::verify(&password, &hash).unwrap_or_else(|e| {
            eprintln!("clic-admin: {e}");
            false
        })
    })
    .await
    .unwrap_or(false);
    if !ok {
        let wait = lock(&app.delay).failed(ctx.ip, app.now());
        eprintln!("clic-admin: login refused");
        let mut text = t(l, "err_login").to_string();
        if wait > 0.0 {
            text = format!("{text} {}", delay_wait_text(t(l, "err_wait"), wait));
        }
        return Ok(
            login_page(&app, &ctx, StatusCode::FORBIDDEN, Some(("error", text))).into_response(),
        );
    }
    lock(&app.delay).succeeded(ctx.ip);
    let token = crate::sys::random_hex(16).map_err(|_| internal(&app, &ctx))?;
    lock(&app.sessions).insert(token.clone(), Instant::now() + SESSION_TTL);
    eprintln!("clic-admin: admin logged in");
    let path = if app.base().is_empty() {
        "/"
    } else {
        app.base()
    };
    let mut r = see_other(&app, "/");
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path={path}; Max-Age={}; HttpOnly; SameSite=Strict",
        SESSION_TTL.as_secs()
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}

fn internal(app: &App, ctx: &Ctx) -> Page {
    message(
        ctx,
        app,
        StatusCode::INTERNAL_SERVER_ERROR,
        "error",
        t(ctx.lang, "err_internal"),
    )
}

fn see_other(app: &App, to: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("{}{to}", app.base()))],
    )
        .into_response()
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, Page> {
    post_ok(&app, &ctx, &headers, &f.csrf, false)?;
    if let Some(s) = &ctx.session {
        lock(&app.sessions).remove(s);
    }
    let path = if app.base().is_empty() {
        "/"
    } else {
        app.base()
    };
    let mut r = see_other(&app, "/");
    if let Ok(v) = HeaderValue::from_str(&format!("{SESSION_COOKIE}=; Path={path}; Max-Age=0")) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}

fn human_bytes(b: u64) -> String {
    let g = b as f64 / f64::from(1u32 << 30);
    if g >= 1.0 {
        format!("{g:.1} GB")
    } else {
        format!("{} MB", b >> 20)
    }
}

fn human_duration(l: Lang, s: u64) -> String {
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    if d > 0 {
        format!("{d} {} {h} h {m:02}", t(l, "days"))
    } else {
        format!("{h} h {m:02}")
    }
}

fn current_timezone() -> String {
    std::fs::read_to_string("/etc/timezone")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn current_wifi(app: &App) -> Option<wifi::Wifi> {
    std::fs::read_to_string(&app.cfg.hostapd_conf)
        .ok()
        .map(|t| wifi::parse_hostapd(&t))
}

fn local_now() -> String {
    let o = std::process::Command::new("date")
        .arg("+%Y-%m-%d %H:%M %Z")
        .output();
    o.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

async fn home(State(app): State<AppState>, Extension(ctx): Extension<Ctx>) -> Page {
    if ctx.session.is_none() {
        return login_page(&app, &ctx, StatusCode::OK, None);
    }
    let cfg = app.cfg.clone();
    let st = tokio::task::spawn_blocking(move || status::gather(&cfg.leases))
        .await
        .unwrap_or_default();
    dashboard(&app, &ctx, &st, None)
}

fn dashboard(app: &App, ctx: &Ctx, st: &status::Status, note: Option<(&str, String)>) -> Page {
    let l = ctx.lang;
    let base = app.base();
    let wifi = current_wifi(app);
    let tz = current_timezone();
    let texts = app.texts();
    let pending = actions::pending(&app.cfg);
    let backup_parts: Vec<String> = backup::load_parts(&app.cfg.backup_dir)
        .map(|p| p.into_iter().map(|p| p.name).collect())
        .unwrap_or_default();
    page(
        ctx,
        app,
        StatusCode::OK,
        t(l, "status"),
        html! {
            h1 { (texts.as_ref().map_or(app.cfg.box_name.as_str(), |p| p.title.as_str())) }
            @if let Some((class, text)) = &note {
                p #message .(class) role="status" { (text) }
            }
            @if pending {
                section #pending .notice {
                    h2 { (t(l, "pending")) }
                    form method="post" action={ (base) "/confirm" } {
                        (csrf_field(ctx))
                        button #confirm type="submit" { (t(l, "confirm")) }
                    }
                }
            }
            section #status {
                h2 { (t(l, "status")) }
                table {
                    tr { td { (t(l, "image")) } td #image { (app.cfg.image) } }
                    tr { td { (t(l, "uptime")) } td #uptime { (human_duration(l, st.uptime_s)) } }
                    tr { td { (t(l, "wifi_clients")) } td #clients {
                        (st.stations_now.map_or("–".to_string(), |n| n.to_string())) " " (t(l, "now"))
                        ", " (st.clients_today.map_or("–".to_string(), |n| n.to_string())) " " (t(l, "today"))
                    } }
                    tr { td { (t(l, "disk")) } td #disk {
                        (human_bytes(st.disk_free)) " " (t(l, "free")) " " (human_bytes(st.disk_total))
                        @if st.disk_low() { p #disk-low .error { (t(l, "disk_low")) } }
                    } }
                    tr { td { (t(l, "memory")) } td #memory { (st.mem_available_kib / 1024) " / " (st.mem_total_kib / 1024) " MB" } }
                    @if let Some(mc) = st.temperature_mc {
                        tr { td { (t(l, "temperature")) } td #temperature { (format!("{:.1}", mc as f64 / 1000.0)) " °C" } }
                    }
                    tr { td { (t(l, "load")) } td { (st.load) } }
                }
            }
            section #services {
                h2 { (t(l, "services")) }
                table {
                    @for s in &st.services {
                        tr data-unit=(s.unit) {
                            td { (s.description) br; small { (s.unit) } }
                            td { @if s.up() { span.up { (t(l, "up")) } } @else { span.down { (t(l, "down")) " (" (s.sub) ")" } } }
                            td { form method="post" action={ (base) "/restart" } {
                                (csrf_field(ctx))
                                input type="hidden" name="unit" value=(s.unit);
                                button type="submit" aria-label={ (t(l, "restart")) " " (s.unit) } { (t(l, "restart")) }
                            } }
                        }
                    }
                }
            }
            section #clock {
                h2 { (t(l, "clock")) }
                p { span #box-time { (local_now()) } }
                p { small { (t(l, "clock_help")) } }
                form #clock-form method="post" action={ (base) "/clock" } {
                    (csrf_field(ctx))
                    input #clock-epoch type="hidden" name="epoch" value="";
                    label for="clock-local" { (t(l, "clock")) }
                    input #clock-local type="datetime-local" name="local";
                    button #clock-set type="submit" { (t(l, "clock_set")) }
                }
            }
            section #settings {
                h2 { (t(l, "settings")) }
                form #settings-form method="post" action={ (base) "/settings" } {
                    (csrf_field(ctx))
                    @if let Some(w) = &wifi {
                        label for="ssid" { (t(l, "ssid")) }
                        input #ssid type="text" name="ssid" value=(w.ssid) required maxlength="32";
                        label for="passphrase" { (t(l, "passphrase")) }
                        input #passphrase type="password" name="passphrase" autocomplete="new-password" maxlength="63";
                        p.check { input #open type="checkbox" name="open" checked[w.passphrase.is_none()]; " " label for="open" { (t(l, "open")) } }
                        label for="channel" { (t(l, "channel")) }
                        input #channel type="number" name="channel" value=(w.channel) min="1" max="196";
                        label for="country" { (t(l, "country")) }
                        input #country type="text" name="country" value=(w.country) maxlength="2" pattern="[A-Z]{2}";
                    }
                    label for="timezone" { (t(l, "timezone")) }
                    input #timezone type="text" name="timezone" value=(tz);
                    @if let Some(p) = &texts {
                        label for="portal-title" { (t(l, "portal_title")) }
                        input #portal-title type="text" name="title" value=(p.title) required maxlength="60";
                        label for="welcome" { (t(l, "welcome")) }
                        textarea #welcome name="welcome" rows="3" maxlength="500" lang="fr" { (p.welcome) }
                        label for="welcome-en" { (t(l, "welcome_en")) }
                        textarea #welcome-en name="welcome_en" rows="3" maxlength="500" lang="en" { (p.welcome_en) }
                        label for="home-lang" { (t(l, "home_lang")) }
                        select #home-lang name="lang" {
                            option value="fr" selected[p.lang == Lang::Fr] { "Français" }
                            option value="en" selected[p.lang == Lang::En] { "English" }
                        }
                    }
                    button #settings-save type="submit" { (t(l, "save")) }
                }
            }
            section #account {
                h2 { (t(l, "change_password")) }
                form #password-form method="post" action={ (base) "/password" } {
                    (csrf_field(ctx))
                    label for="current" { (t(l, "current_password")) }
                    input #current type="password" name="current" required autocomplete="current-password";
                    label for="new" { (t(l, "new_password")) }
                    input #new type="password" name="new" required minlength="10" maxlength="128" autocomplete="new-password";
                    label for="again" { (t(l, "again")) }
                    input #again type="password" name="again" required autocomplete="new-password";
                    button #password-save type="submit" { (t(l, "change_password")) }
                }
            }
            @if app.cfg.agora || !backup_parts.is_empty() {
                section #participation {
                    h2 { (t(l, "participation")) }
                    @if app.cfg.agora {
                        p { a #agora-admin href="/agora/admin" { (t(l, "agora_admin")) } }
                    }
                    @if !backup_parts.is_empty() {
                        p { (t(l, "backup_what")) " " (backup_parts.join(", ")) "." }
                        p { a #backup .button href={ (base) "/backup" } { (t(l, "backup")) } }
                        form #restore-form method="post" enctype="multipart/form-data" action={ (base) "/restore" } {
                            (csrf_field(ctx))
                            label for="backup-file" { (t(l, "restore_file")) }
                            input #backup-file name="file" type="file" accept=".tar,application/x-tar" required;
                            p { small { (t(l, "restore_warning")) } }
                            button #restore .danger type="submit" { (t(l, "restore")) }
                        }
                    }
                }
            }
            section #more {
                p { a #poster-a4 href={ (base) "/poster?paper=a4" } { (t(l, "poster")) " (A4)" } " · " a #poster-a5 href={ (base) "/poster?paper=a5" } { "A5" } }
                p { a #usb-link href={ (base) "/usb" } { (t(l, "usb")) } }
                p { a #diagnostics href={ (base) "/diagnostics" } { (t(l, "diagnostics")) } }
            }
            section #power {
                h2 { (t(l, "power")) }
                form method="post" action={ (base) "/power" } {
                    (csrf_field(ctx))
                    button #reboot type="submit" name="action" value="reboot" { (t(l, "reboot")) }
                    " "
                    button #poweroff .danger type="submit" name="action" value="poweroff" { (t(l, "poweroff")) }
                }
                form method="post" action={ (base) "/logout" } {
                    (csrf_field(ctx))
                    button #logout type="submit" { (t(l, "logout")) }
                }
            }
        },
    )
}

#[derive(Deserialize)]
struct RestartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    unit: String,
}

async fn restart(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Form(f): Form<RestartForm>,
) -> Result<Page, Page> {
    post_ok(&app, &ctx, &headers, &f.csrf, false)?;
    // Only a service the page lists.
    let units = status::enabled_units(std::path::Path::new(
        "/etc/systemd/system/multi-user.target.wants",
    ));
    if !units.contains(&f.unit) {
        return Err(message(
            &ctx,
            &app,
            StatusCode::UNPROCESSABLE_ENTITY,
            "error",
            t(ctx.lang, "err_bad_request"),
        ));
    }
    actions::restart(&f.unit).map_err(|e| {
        eprintln!("clic-admin: {e}");
        internal(&app, &ctx)
    })?;
    Ok(message(
        &ctx,
        &app,
        StatusCode::OK,
        "ok",
        &format!("{} {}", t(ctx.lang, "restarted"), f.unit),
    ))
}

async fn settings(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Form(f): Form<wifi::SettingsForm>,
) -> Result<Page, Page> {
    post_ok(&app, &ctx, &headers, &f.csrf, false)?;
    let l = ctx.lang;
    let now = current_wifi(&app).unwrap_or_default();
    let texts = app.texts();
    let (lines, hotspot) =
        wifi::changes(&now, &current_timezone(), texts.as_ref(), &f).map_err(|e| {
            message(
                &ctx,
                &app,
                StatusCode::UNPROCESSABLE_ENTITY,
                "error",
                &format!("{} {e}", t(l, "refused")),
            )
        })?;
    if lines.is_empty() {
        return Ok(message(
            &ctx,
            &app,
            StatusCode::OK,
            "ok",
            t(l, "nothing_changed"),
        ));
    }
    let cfg = app.cfg.clone();
    let outcome = tokio::task::spawn_blocking(move || actions::apply(&cfg, &lines, hotspot))
        .await
        .map_err(|_| internal(&app, &ctx))?
        .map_err(|e| {
            eprintln!("clic-admin: {e}");
            internal(&app, &ctx)
        })?;
    match outcome {
        Applied::Refused(why) => Err(page(
            &ctx,
            &app,
            StatusCode::UNPROCESSABLE_ENTITY,
            t(l, "settings"),
            html! {
                div #message .error role="alert" {
                    p { (t(l, "refused")) }
                    ul #refusals { @for w in &why { li { (w) } } }
                }
                p { a #back href={ (app.base()) "/" } { (t(l, "back")) } }
            },
        )),
        Applied::Done { hotspot: false } => {
            Ok(message(&ctx, &app, StatusCode::OK, "ok", t(l, "applied")))
        }
        Applied::Done { hotspot: true } => {
            eprintln!("clic-admin: Wi-Fi settings changed, to be confirmed");
            Ok(page(
                &ctx,
                &app,
                StatusCode::OK,
                t(l, "settings"),
                html! {
                    p #message .ok role="status" { (t(l, "applied")) }
                    p #confirm-help .notice { (t(l, "confirm_help").replace("{}", &f.ssid)) }
                    form method="post" action={ (app.base()) "/confirm" } {
                        (csrf_field(&ctx))
                        button #confirm type="submit" { (t(l, "confirm")) }
                    }
                },
            ))
        }
    }
}

async fn confirm(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Page, Page> {
    post_ok(&app, &ctx, &headers, &f.csrf, false)?;
    actions::confirm(&app.cfg).map_err(|_| internal(&app, &ctx))?;
    eprintln!("clic-admin: Wi-Fi change confirmed");
    Ok(message(
        &ctx,
        &app,
        StatusCode::OK,
        "ok",
        t(ctx.lang, "confirmed"),
    ))
}

#[derive(Deserialize)]
struct ClockForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    epoch: String,
    #[serde(default)]
    local: String,
}

/// `2026-12-05T09:30` as the box's local time: seconds since the epoch,
/// through `date -d` (which knows the box's time zone).
fn local_to_epoch(s: &str) -> Option<i64> {
    let ok = s.len() == 16
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 => b == b':',
            _ => b.is_ascii_digit(),
        });
    if !ok {
        return None;
    }
    let o = std::process::Command::new("date")
        .args(["-d", &s.replace('T', " "), "+%s"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&o.stdout).trim().parse().ok()
}

/// Dates a box can have: from 2024 to 2100.
pub fn plausible_epoch(e: i64) -> bool {
    (1_704_067_200..4_102_444_800).contains(&e)
}

async fn clock(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Form(f): Form<ClockForm>,
) -> Result<Page, Page> {
    post_ok(&app, &ctx, &headers, &f.csrf, false)?;
    let l = ctx.lang;
    let bad = || {
        message(
            &ctx,
            &app,
            StatusCode::UNPROCESSABLE_ENTITY,
            "error",
            t(l, "err_clock"),
        )
    };
    let epoch = match f.epoch.trim() {
        "" => local_to_epoch(f.local.trim()).ok_or_else(bad)?,
        e => e.parse::<i64>().map_err(|_| bad())?,
    };
    if !plausible_epoch(epoch) {
        return Err(bad());
    }
    actions::set_clock(epoch).map_err(|e| {
        eprintln!("clic-admin: {e}");
        internal(&app, &ctx)
    })?;
    eprintln!("clic-admin: clock set");
    Ok(message(
        &ctx,
        &app,
        StatusCode::OK,
        "ok",
        &format!("{} {}", t(l, "clock_done"), local_now()),
    ))
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    again: String,
}

/// 10 to 128 characters, no line break (chpasswd reads lines).
pub fn password_ok(p: &str) -> bool {
    (10..=128).contains(&p.chars().count()) && !p.contains(['\n', '\r', '\0'])
}

async fn password(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Result<Page, Page> {
    post_ok(&app, &ctx, &headers, &f.csrf, false)?;
    let l = ctx.lang;
    let refuse = |key: &str| {
        message(
            &ctx,
            &app,
            StatusCode::UNPROCESSABLE_ENTITY,
            "error",
            t(l, key),
        )
    };
    if let Err(left) = lock(&app.delay).check(ctx.ip, app.now()) {
        return Err(message(
            &ctx,
            &app,
            StatusCode::TOO_MANY_REQUESTS,
            "error",
            &delay_wait_text(t(l, "err_wait"), left),
        ));
    }
    let hash = actions::shadow_hash(&app.cfg).unwrap_or_default();
    let current = f.current.clone();
    let ok = tokio::task::spawn_blocking(move || {
        clic_login::crypt::verify(&current, &hash).unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    if !ok {
        lock(&app.delay).failed(ctx.ip, app.now());
        return Err(message(
            &ctx,
            &app,
            StatusCode::FORBIDDEN,
            "error",
            t(l, "err_login"),
        ));
    }
    if !password_ok(&f.new) {
        return Err(refuse("err_password_short"));
    }
    if f.new != f.again {
        return Err(refuse("err_password_differ"));
    }
    let cfg = app.cfg.clone();
    let new = f.new;
    tokio::task::spawn_blocking(move || actions::change_password(&cfg, &new))
        .await
        .map_err(|_| internal(&app, &ctx))?
        .map_err(|e| {
            eprintln!("clic-admin: {e}");
            internal(&app, &ctx)
        })?;
    eprintln!("clic-admin: admin password changed");
    Ok(message(
        &ctx,
        &app,
        StatusCode::OK,
        "ok",
        t(l, "password_changed"),
    ))
}

#[derive(Deserialize)]
struct PowerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
}

async fn power(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Form(f): Form<PowerForm>,
) -> Result<Page, Page> {
    post_ok(&app, &ctx, &headers, &f.csrf, false)?;
    let l = ctx.lang;
    let off = match f.action.as_str() {
        "poweroff" => true,
        "reboot" => false,
        _ => {
            return Err(message(
                &ctx,
                &app,
                StatusCode::UNPROCESSABLE_ENTITY,
                "error",
                t(l, "err_bad_request"),
            ))
        }
    };
    eprintln!("clic-admin: {} asked", f.action);
    actions::power(off);
    Ok(message(
        &ctx,
        &app,
        StatusCode::OK,
        "ok",
        t(l, if off { "powering_off" } else { "rebooting" }),
    ))
}

#[derive(Deserialize)]
struct PosterQuery {
    #[serde(default)]
    paper: String,
}

async fn poster(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<PosterQuery>,
) -> Result<Response, Page> {
    require_login(&app, &ctx)?;
    let w = current_wifi(&app).unwrap_or_default();
    let html = crate::poster::html(&app.cfg, &app.box_name(), &w, &q.paper).map_err(|e| {
        eprintln!("clic-admin: poster: {e}");
        internal(&app, &ctx)
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response())
}

/// The box's own screen (layer kiosk): for the box itself only.
async fn kiosk(State(app): State<AppState>, Extension(ctx): Extension<Ctx>) -> Response {
    if !ctx.ip.is_loopback() {
        return not_found(State(app), Extension(ctx)).await.into_response();
    }
    let w = current_wifi(&app);
    let name = app.box_name();
    let html = crate::kiosk::html(&crate::kiosk::Kiosk {
        box_name: &name,
        ssid: w.as_ref().map(|w| w.ssid.as_str()),
        passphrase: w.as_ref().and_then(|w| w.passphrase.as_deref()),
        portal_url: &app.cfg.portal_url,
    });
    match html {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; frame-ancestors 'none'",
                ),
                (header::REFERRER_POLICY, "same-origin"),
            ],
            html,
        )
            .into_response(),
        Err(e) => {
            eprintln!("clic-admin: kiosk: {e}");
            internal(&app, &ctx).into_response()
        }
    }
}

async fn diagnostics(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, Page> {
    require_login(&app, &ctx)?;
    let cfg = app.cfg.clone();
    let secrets: Vec<String> = current_wifi(&app)
        .and_then(|w| w.passphrase)
        .into_iter()
        .collect();
    let text = tokio::task::spawn_blocking(move || actions::diagnostics(&cfg, &secrets))
        .await
        .map_err(|_| internal(&app, &ctx))?;
    let name = format!(
        "attachment; filename=\"clic-diagnostics-{}.txt\"",
        crate::sys::unix_now()
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        text,
    )
        .into_response())
}

// ---------------------------------------------------------------------------
// The participation data's backup and restore (crate::backup does the work).

fn busy(app: &App, ctx: &Ctx) -> Page {
    message(
        ctx,
        app,
        StatusCode::CONFLICT,
        "error",
        t(ctx.lang, "backup_busy"),
    )
}

/// The whole backup, made into an unlinked temporary file (nothing left
/// behind if the box stops), then streamed.
async fn backup_download(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, Page> {
    require_login(&app, &ctx)?;
    let Ok(guard) = app.backup_busy.clone().try_lock_owned() else {
        return Err(busy(&app, &ctx));
    };
    let cfg = app.cfg.clone();
    let name = app.box_name();
    let now = crate::sys::unix_now();
    let made = tokio::task::spawn_blocking(move || {
        use std::io::{Seek, SeekFrom};
        let parts = backup::load_parts(&cfg.backup_dir)?;
        let (path, mut f) = backup::temp_file(&cfg.work, "backup")?;
        let _ = std::fs::remove_file(&path);
        let m = backup::make(
            &parts,
            &cfg.work,
            &name,
            &cfg.image,
            now,
            std::io::BufWriter::with_capacity(1 << 16, &mut f),
        )?;
        let len = f.seek(SeekFrom::End(0)).and_then(|n| {
            f.seek(SeekFrom::Start(0))?;
            Ok(n)
        });
        let len = len.map_err(|err| backup::BackupError::Io {
            what: "reading",
            path: path.clone(),
            err,
        })?;
        Ok::<_, backup::BackupError>((f, len, m))
    })
    .await
    .map_err(|_| internal(&app, &ctx))?;
    let (file, len, m) = made.map_err(|e| {
        eprintln!("clic-admin: backup failed: {e}");
        message(
            &ctx,
            &app,
            StatusCode::INTERNAL_SERVER_ERROR,
            "error",
            &format!("{} {e}", t(ctx.lang, "err_backup")),
        )
    })?;
    eprintln!(
        "clic-admin: backup of {} ({} files, {len} bytes) downloaded",
        m.parts.join(", "),
        m.files.len()
    );
    let stream = futures_util::stream::unfold((file, guard), |(mut f, g)| async move {
        use std::io::Read;
        let mut buf = vec![0u8; 1 << 16];
        match f.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(axum::body::Bytes::from(buf)), (f, g)))
            }
            Err(e) => Some((Err(e), (f, g))),
        }
    });
    let disposition = format!(
        "attachment; filename=\"{}\"",
        backup::file_name(&app.box_name(), &backup::date(now))
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// A backup file sent from the form: saved as it comes (within the free
/// space), its CSRF token checked, then restored.
async fn backup_restore(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    req: Request,
) -> Result<Response, Page> {
    use futures_util::StreamExt;
    use std::io::Write;
    require_login(&app, &ctx)?;
    let headers = req.headers().clone();
    // The origin now (before the upload); the token is in the form.
    if !same_origin(&headers) {
        return Err(post_ok(&app, &ctx, &headers, "", false)
            .err()
            .unwrap_or_else(|| internal(&app, &ctx)));
    }
    let bad = |key: &str| {
        message(
            &ctx,
            &app,
            StatusCode::UNPROCESSABLE_ENTITY,
            "error",
            t(ctx.lang, key),
        )
    };
    let Some(boundary) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(backup::boundary)
    else {
        return Err(bad("err_bad_request"));
    };
    let Ok(_guard) = app.backup_busy.clone().try_lock_owned() else {
        return Err(busy(&app, &ctx));
    };
    let cfg = app.cfg.clone();
    let (path, mut file) =
        backup::temp_file(&cfg.work, "restore").map_err(|_| internal(&app, &ctx))?;
    // Removed whatever happens below.
    struct Gone(std::path::PathBuf);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _gone = Gone(path.clone());
    // The upload and its unpacked copy must both fit.
    let room = crate::sys::disk(&cfg.work)
        .map(|(_, free)| free.saturating_sub(64 << 20) / 2)
        .unwrap_or(0);
    let too_big = || bad("err_backup_space");
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > room) {
        return Err(too_big());
    }
    let mut body = req.into_body().into_data_stream();
    let mut size = 0u64;
    let mut head: Vec<u8> = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| bad("err_bad_request"))?;
        size += chunk.len() as u64;
        if size > room {
            return Err(too_big());
        }
        if head.len() < 1 << 16 {
            head.extend_from_slice(&chunk[..chunk.len().min((1 << 16) - head.len())]);
        }
        tail.extend_from_slice(&chunk);
        if tail.len() > 2 << 16 {
            tail.drain(..tail.len() - (1 << 16));
        }
        file.write_all(&chunk).map_err(|_| too_big())?;
    }
    file.sync_all().map_err(|_| too_big())?;
    drop(file);
    let tail_at = size - tail.len() as u64;
    let Some((csrf, start, end)) = backup::upload_range(&head, &tail, tail_at, &boundary) else {
        return Err(bad("err_bad_request"));
    };
    post_ok(&app, &ctx, &headers, &csrf, false)?;
    let work = cfg.work.clone();
    let upload = path.clone();
    let r = tokio::task::spawn_blocking(move || {
        let parts = backup::load_parts(&cfg.backup_dir)?;
        backup::restore(&parts, &work, &upload, (start, end))
    })
    .await
    .map_err(|_| internal(&app, &ctx))?;
    let l = ctx.lang;
    match r {
        Ok(done) => {
            eprintln!(
                "clic-admin: backup of {} restored ({})",
                backup::date(done.created),
                done.parts.join(", ")
            );
            let mut text = format!(
                "{} {} ({}).",
                t(l, "restored"),
                done.parts.join(", "),
                backup::date(done.created)
            );
            if !done.skipped.is_empty() {
                text.push(' ');
                text.push_str(&t(l, "restore_skipped").replace("{}", &done.skipped.join(", ")));
            }
            Ok(message(&ctx, &app, StatusCode::OK, "ok", &text).into_response())
        }
        Err(e) => {
            eprintln!("clic-admin: restore refused: {e}");
            let (status, head) = match e {
                backup::BackupError::Refused(_) => {
                    (StatusCode::UNPROCESSABLE_ENTITY, t(l, "err_restore"))
                }
                _ => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    t(l, "err_restore_failed"),
                ),
            };
            Err(message(&ctx, &app, status, "error", &format!("{head} {e}")))
        }
    }
}

// ---------------------------------------------------------------------------
// Content from a USB stick (crate::usb does the work).

/// The stick being looked at, and the import under way or just ended.
#[derive(Default)]
pub struct UsbState {
    opened: Option<(usb::Stick, Vec<usb::Found>)>,
    job: Option<Arc<Mutex<Job>>>,
}

#[derive(Default)]
pub struct Job {
    total: u64,
    done: u64,
    current: String,
    /// (imported, what happened), one line per item or refused file.
    lines: Vec<(bool, String)>,
    finished: bool,
}

fn require_login(app: &App, ctx: &Ctx) -> Result<(), Page> {
    if ctx.session.is_none() {
        return Err(message(
            ctx,
            app,
            StatusCode::FORBIDDEN,
            "error",
            t(ctx.lang, "err_login_needed"),
        ));
    }
    Ok(())
}

/// What was imported, removable (real files and folders of the ZIM and
/// library directories; the image's own ZIMs there are links): (kind,
/// name, size).
fn listed(cfg: &Config) -> Vec<(&'static str, String, u64)> {
    let mut out = Vec::new();
    for (kind, dir) in [("zim", &cfg.zim_dir), ("library", &cfg.library_dir)] {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<(String, u64)> = rd
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                let m = std::fs::symlink_metadata(e.path()).ok()?;
                (!n.starts_with('.') && !m.file_type().is_symlink()).then_some((n, m.len()))
            })
            .collect();
        names.sort();
        out.extend(names.into_iter().map(|(n, size)| (kind, n, size)));
    }
    out
}

async fn usb_page(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Page, Page> {
    require_login(&app, &ctx)?;
    let l = ctx.lang;
    let base = app.base().to_string();
    let (opened, job) = {
        let u = lock(&app.usb);
        (u.opened.clone(), u.job.clone())
    };
    let sticks = if opened.is_none() {
        tokio::task::spawn_blocking(actions::sticks)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let running = job.as_ref().is_some_and(|j| !lock(j).finished);
    let mut p = page(
        &ctx,
        &app,
        StatusCode::OK,
        t(l, "usb"),
        html! {
            h1 { (t(l, "usb")) }
            @if let Some(j) = &job {
                @let j = lock(j);
                section #import {
                    h2 { (t(l, "usb_import")) }
                    progress #import-progress max=(j.total.max(1)) value=(j.done) { (j.done * 100 / j.total.max(1)) " %" }
                    @if !j.finished { p { (t(l, "usb_copying")) " " (j.current) } }
                    @else { p #import-done .ok { (t(l, "usb_done")) } }
                    ul #import-lines {
                        @for (ok, line) in &j.lines {
                            li .(if *ok { "ok" } else { "error" }) { (line) }
                        }
                    }
                }
            }
            @if !running {
                @if let Some((stick, found)) = &opened {
                    section #stick {
                        h2 { (stick.label) " (" (stick.path) ", " (stick.size) ")" }
                        @if found.is_empty() {
                            p #stick-empty { (t(l, "usb_nothing")) }
                        } @else {
                            form #import-form method="post" action={ (base) "/usb/import" } {
                                (csrf_field(&ctx))
                                ul.found {
                                    @for (i, f) in found.iter().enumerate() {
                                        li.check {
                                            input type="checkbox" name="item" value=(i) id={ "item-" (i) } checked;
                                            " "
                                            label for={ "item-" (i) } { (f.rel.display()) " " small { "(" (kind_name(l, f.kind)) ", " (human_bytes(f.size)) ")" } }
                                        }
                                    }
                                }
                                button #import-submit type="submit" { (t(l, "usb_import")) }
                            }
                        }
                        form method="post" action={ (base) "/usb/eject" } {
                            (csrf_field(&ctx))
                            button #eject type="submit" { (t(l, "usb_eject")) }
                        }
                    }
                } @else {
                    section #sticks {
                        @if sticks.is_empty() {
                            p #no-stick { (t(l, "usb_none")) }
                        }
                        @for (i, s) in sticks.iter().enumerate() {
                            form method="post" action={ (base) "/usb/open" } {
                                (csrf_field(&ctx))
                                input type="hidden" name="stick" value=(i);
                                input type="hidden" name="path" value=(s.path);
                                button.open-stick type="submit" { (t(l, "usb_open")) " " (s.label) " (" (s.path) ", " (s.size) ")" }
                            }
                        }
                    }
                }
            }
            section #on-box {
                h2 { (t(l, "usb_on_box")) }
                table {
                    @for (kind, name, size) in listed(&app.cfg) {
                        tr data-name=(name) {
                            td { (name) br; small { (if kind == "zim" { "ZIM" } else { "/files/" }) } }
                            td { (human_bytes(size)) }
                            td { form method="post" action={ (base) "/usb/remove" } {
                                (csrf_field(&ctx))
                                input type="hidden" name="kind" value=(kind);
                                input type="hidden" name="name" value=(name);
                                button.danger.remove type="submit" { (t(l, "usb_remove")) }
                            } }
                        }
                    }
                }
            }
            p { a #back href={ (base) "/" } { (t(l, "back")) } }
        },
    );
    if running {
        p.0.refresh = true;
    }
    Ok(p)
}

fn kind_name(l: Lang, k: usb::Kind) -> &'static str {
    match k {
        usb::Kind::Zim => "ZIM (Kiwix)",
        usb::Kind::Pack => t(l, "usb_pack"),
        usb::Kind::File => t(l, "usb_file"),
        usb::Kind::Folder => t(l, "usb_folder"),
    }
}

#[derive(Deserialize)]
struct OpenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    path: String,
}

async fn usb_open(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Form(f): Form<OpenForm>,
) -> Result<Response, Page> {
    post_ok(&app, &ctx, &headers, &f.csrf, false)?;
    let at = app.cfg.usb_mount.clone();
    let opened = tokio::task::spawn_blocking(move || {
        // Only a stick lsblk lists now, never a path as sent.
        let stick = actions::sticks().into_iter().find(|s| s.path == f.path)?;
        actions::mount_stick(&stick.path, &at)
            .map_err(|e| eprintln!("clic-admin: {e}"))
            .ok()?;
        let found = usb::scan(&at);
        Some((stick, found))
    })
    .await
    .ok()
    .flatten();
    let Some(opened) = opened else {
        return Err(message(
            &ctx,
            &app,
            StatusCode::UNPROCESSABLE_ENTITY,
            "error",
            t(ctx.lang, "usb_cannot_open"),
        ));
    };
    eprintln!(
        "clic-admin: USB stick {} opened, {} items",
        opened.0.path,
        opened.1.len()
    );
    lock(&app.usb).opened = Some(opened);
    Ok(see_other(&app, "/usb"))
}

async fn usb_eject(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, Page> {
    post_ok(&app, &ctx, &headers, &f.csrf, false)?;
    let at = app.cfg.usb_mount.clone();
    let _ = tokio::task::spawn_blocking(move || actions::unmount_stick(&at)).await;
    let mut u = lock(&app.usb);
    u.opened = None;
    if u.job.as_ref().is_some_and(|j| lock(j).finished) {
        u.job = None;
    }
    drop(u);
    Ok(see_other(&app, "/usb"))
}

async fn usb_import(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Page> {
    // Several `item` fields: parsed by hand (serde_urlencoded wants one).
    let mut csrf = String::new();
    let mut items = Vec::new();
    for (k, v) in form_pairs(&body) {
        match k.as_str() {
            "csrf" => csrf = v,
            "item" => items.push(v),
            _ => {}
        }
    }
    post_ok(&app, &ctx, &headers, &csrf, false)?;
    let l = ctx.lang;
    let bad = || {
        message(
            &ctx,
            &app,
            StatusCode::UNPROCESSABLE_ENTITY,
            "error",
            t(l, "err_bad_request"),
        )
    };
    let mut u = lock(&app.usb);
    if u.job.as_ref().is_some_and(|j| !lock(j).finished) {
        return Err(bad());
    }
    let Some((_, found)) = u.opened.clone() else {
        return Err(bad());
    };
    let mut chosen = Vec::new();
    for i in &items {
        let i: usize = i.parse().map_err(|_| bad())?;
        chosen.push(found.get(i).cloned().ok_or_else(bad)?);
    }
    if chosen.is_empty() {
        return Err(bad());
    }
    let job = Arc::new(Mutex::new(Job {
        total: chosen.iter().map(|f| f.size).sum(),
        ..Job::default()
    }));
    u.job = Some(job.clone());
    u.opened = None;
    drop(u);
    let cfg = app.cfg.clone();
    std::thread::spawn(move || run_import(&cfg, &chosen, &job));
    Ok(see_other(&app, "/usb"))
}

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    fn hexval(c: u8) -> Option<u8> {
        (c as char).to_digit(16).map(|d| d as u8)
    }
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    if let (Some(h), Some(l)) = (hexval(b[i + 1]), hexval(b[i + 2])) {
                        out.push(h * 16 + l);
                        i += 3;
                        continue;
                    }
                    out.push(b'%');
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// The library pages' list of imported items, written again.
pub fn refresh_library(cfg: &Config) {
    let items: Vec<crate::library::Imported> = listed(cfg)
        .into_iter()
        .map(|(kind, name, size)| {
            let dir = if kind == "zim" {
                &cfg.zim_dir
            } else {
                &cfg.library_dir
            };
            let path = dir.join(&name);
            let folder = path.is_dir();
            crate::library::Imported {
                zim: kind == "zim",
                size: if folder {
                    crate::library::tree_size(&path)
                } else {
                    size
                },
                folder,
                name,
            }
        })
        .collect();
    crate::library::write(&cfg.text_dir, &items, &cfg.portal_url);
}

/// The import itself, on its own thread: one item after another, each
/// checked for room first; the stick is unmounted after, kiwix told.
fn run_import(cfg: &Config, chosen: &[usb::Found], job: &Mutex<Job>) {
    let places = usb::Places {
        zim_dir: cfg.zim_dir.clone(),
        library_dir: cfg.library_dir.clone(),
    };
    let mut zim = false;
    for f in chosen {
        lock(job).current = f.rel.display().to_string();
        let dest = places.target(f);
        let dir = dest
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let _ = std::fs::create_dir_all(&dir);
        let free = crate::sys::disk(&dir).map(|d| d.1).unwrap_or(0);
        let mut progress = |n: u64| lock(job).done += n;
        let r = usb::import(&cfg.usb_mount, f, &places, free, &mut progress);
        let mut j = lock(job);
        match r {
            Ok(done) => {
                zim |= f.kind == usb::Kind::Zim;
                j.lines.push((
                    true,
                    format!("{}: ok ({})", f.rel.display(), done.target.display()),
                ));
                for why in done.refused {
                    j.lines.push((false, format!("{}/{why}", f.rel.display())));
                }
            }
            Err(e) => j.lines.push((false, format!("{}: {e}", f.rel.display()))),
        }
    }
    actions::unmount_stick(&cfg.usb_mount);
    if zim {
        actions::kiwix_again();
    }
    refresh_library(cfg);
    let mut j = lock(job);
    j.done = j.total;
    j.finished = true;
    eprintln!("clic-admin: USB import done: {} lines", j.lines.len());
}

#[derive(Deserialize)]
struct RemoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
}

async fn usb_remove(
    State(app): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Form(f): Form<RemoveForm>,
) -> Result<Response, Page> {
    post_ok(&app, &ctx, &headers, &f.csrf, false)?;
    // Only a name the page lists, never a path.
    let listed = listed(&app.cfg)
        .into_iter()
        .any(|(k, n, _)| k == f.kind && n == f.name);
    if !listed {
        return Err(message(
            &ctx,
            &app,
            StatusCode::UNPROCESSABLE_ENTITY,
            "error",
            t(ctx.lang, "err_bad_request"),
        ));
    }
    let dir = if f.kind == "zim" {
        &app.cfg.zim_dir
    } else {
        &app.cfg.library_dir
    };
    let path = dir.join(&f.name);
    let r = if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
        std::fs::remove_dir_all(&path)
    } else {
        std::fs::remove_file(&path)
    };
    if let Err(e) = r {
        eprintln!("clic-admin: removing {}: {e}", path.display());
        return Err(internal(&app, &ctx));
    }
    if f.kind == "zim" {
        actions::kiwix_again();
    }
    refresh_library(&app.cfg);
    eprintln!("clic-admin: removed {}", path.display());
    Ok(see_other(&app, "/usb"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_items_in_one_form() {
        assert_eq!(
            form_pairs(b"csrf=ab&item=0&item=2&x=a%2Fb+c"),
            vec![
                ("csrf".to_string(), "ab".to_string()),
                ("item".into(), "0".into()),
                ("item".into(), "2".into()),
                ("x".into(), "a/b c".into()),
            ]
        );
        // Broken escapes and multi-byte text do not panic.
        assert_eq!(
            form_pairs("a=%é%4".as_bytes()),
            vec![("a".to_string(), "%é%4".to_string())]
        );
    }

    #[test]
    fn passwords_and_dates() {
        assert!(password_ok("pain-au-levain"));
        assert!(!password_ok("court"));
        assert!(!password_ok("pain-au-levain\nroot:x"));
        assert!(!password_ok(&"x".repeat(129)));
        assert!(plausible_epoch(1_780_000_000));
        assert!(!plausible_epoch(0));
        assert_eq!(local_to_epoch("2026-13-05"), None);
        assert_eq!(local_to_epoch("2026-12-05 09:30"), None);
        assert!(local_to_epoch("2026-12-05T09:30").is_some());
    }
}
