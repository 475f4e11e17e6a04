//! The HTTP service: state, request context, guards, routes.

mod admin;
mod boards;
mod pages;
mod polls;

use crate::form::{FieldError, Form};
use crate::i18n::Lang;
use crate::ratelimit::{Limit, Limiter};
use crate::store::StoreError;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
pub use clic_login::request::same_origin;
use clic_login::request::{client_ip, cookie};
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// What `agora serve` is told.
#[derive(Clone, Debug)]
pub struct Config {
    pub data: PathBuf,
    /// `/agora`, or empty for the root.
    pub base: String,
    pub admin_hash: Option<PathBuf>,
    pub min_free: u64,
    pub lang: Lang,
    pub writes: Limit,
    pub logins: Limit,
}

impl Config {
    pub fn new(data: PathBuf) -> Config {
        Config {
            data,
            base: "/agora".into(),
            admin_hash: None,
            min_free: 64 << 20,
            lang: Lang::Fr,
            writes: Limit {
                burst: 40.0,
                per_sec: 1.0,
            },
            logins: Limit {
                burst: 5.0,
                per_sec: 1.0 / 30.0,
            },
        }
    }
}

/// Body caps.
pub const BODY_MAX: usize = 64 << 10;
pub const RESTORE_MAX: usize = 16 << 20;
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

pub struct App {
    cfg: Config,
    db: Mutex<Connection>,
    csrf_secret: String,
    topics: Mutex<HashMap<String, broadcast::Sender<String>>>,
    writes: Mutex<Limiter>,
    logins: Mutex<Limiter>,
    sessions: Mutex<HashMap<String, Instant>>,
    start: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl App {
    pub fn new(cfg: Config) -> Result<App, crate::db::DbError> {
        let conn = crate::db::open(&cfg.data)?;
        let csrf_secret = crate::db::meta_or_init(&conn, "csrf_secret", || {
            crate::sys::random_hex(32).unwrap_or_default()
        })?;
        Ok(App {
            writes: Mutex::new(Limiter::new(cfg.writes)),
            logins: Mutex::new(Limiter::new(cfg.logins)),
            cfg,
            db: Mutex::new(conn),
            csrf_secret,
            topics: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            start: Instant::now(),
        })
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        lock(&self.db)
    }

    fn base(&self) -> &str {
        &self.cfg.base
    }

    fn csrf_for(&self, device: &str) -> String {
        let h = Sha256::digest(format!("{}:{device}", self.csrf_secret));
        h.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    fn publish(&self, topic: &str, data: String) {
        let mut t = lock(&self.topics);
        if let Some(tx) = t.get(topic) {
            if tx.send(data).is_err() {
                t.remove(topic);
            }
        }
    }

    fn subscribe(&self, topic: &str) -> broadcast::Receiver<String> {
        let mut t = lock(&self.topics);
        t.retain(|_, tx| tx.receiver_count() > 0);
        t.entry(topic.to_string())
            .or_insert_with(|| broadcast::channel(16).0)
            .subscribe()
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn is_admin(&self, token: Option<&str>) -> bool {
        let Some(token) = token else { return false };
        let mut s = lock(&self.sessions);
        let now = Instant::now();
        s.retain(|_, exp| *exp > now);
        s.contains_key(token)
    }
}

pub type AppState = Arc<App>;

/// An error answered as a page in the visitor's language (rendered by `context`).
#[derive(Clone, Copy, Debug)]
pub struct Fail {
    pub status: StatusCode,
    pub key: &'static str,
}

impl Fail {
    pub const fn new(status: StatusCode, key: &'static str) -> Fail {
        Fail { status, key }
    }
    pub const NOT_FOUND: Fail = Fail::new(StatusCode::NOT_FOUND, "err_not_found");
    pub const CSRF: Fail = Fail::new(StatusCode::BAD_REQUEST, "err_csrf");
    pub const INTERNAL: Fail = Fail::new(StatusCode::INTERNAL_SERVER_ERROR, "err_internal");
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let mut r = self.status.into_response();
        r.extensions_mut().insert(self);
        r
    }
}

impl From<FieldError> for Fail {
    fn from(e: FieldError) -> Fail {
        let u = StatusCode::UNPROCESSABLE_ENTITY;
        match e {
            FieldError::Encoding => Fail::new(StatusCode::BAD_REQUEST, "err_utf8"),
            FieldError::Empty => Fail::new(u, "err_empty"),
            FieldError::TooLong => Fail::new(u, "err_too_long"),
            FieldError::Invalid => Fail::new(u, "err_invalid"),
            FieldError::Options => Fail::new(u, "err_options"),
            FieldError::Date => Fail::new(u, "err_date"),
        }
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Fail {
        match e {
            StoreError::NotFound => Fail::NOT_FOUND,
            StoreError::TooMany => Fail::new(StatusCode::UNPROCESSABLE_ENTITY, "err_too_many"),
            StoreError::Db(e) => {
                eprintln!("agora: error: {e}");
                Fail::INTERNAL
            }
        }
    }
}

impl From<crate::db::DbError> for Fail {
    fn from(e: crate::db::DbError) -> Fail {
        StoreError::Db(e).into()
    }
}

pub type Res = Result<Response, Fail>;

/// What every handler knows about the request.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub lang: Lang,
    pub device: String,
    /// The device cookie was made for this request (so a POST cannot be genuine).
    pub new_device: bool,
    pub csrf: String,
    pub ip: IpAddr,
    pub admin: bool,
}

fn query_lang(q: Option<&str>) -> Option<Lang> {
    q?.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "lang")
        .and_then(|(_, v)| Lang::parse(v))
}

fn is_token(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Builds the `Ctx`, sets the cookies, renders `Fail`s as pages, adds security headers.
async fn context(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    let asked = query_lang(req.uri().query());
    let lang = asked
        .or_else(|| cookie(headers, "agora_lang").and_then(Lang::parse))
        .unwrap_or(app.cfg.lang);
    let (device, new_device) = match cookie(headers, "agora_device").filter(|d| is_token(d)) {
        Some(d) => (d.to_string(), false),
        None => match crate::sys::random_hex(16) {
            Ok(d) => (d, true),
            Err(e) => {
                eprintln!("agora: error: reading random bytes: {e}");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        },
    };
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let ctx = Ctx {
        lang,
        csrf: app.csrf_for(&device),
        device: device.clone(),
        new_device,
        ip: client_ip(peer, headers),
        admin: app.is_admin(cookie(headers, "agora_admin")),
    };
    req.extensions_mut().insert(ctx.clone());
    let mut resp = next.run(req).await;
    // Our own errors, and the framework's plain-text refusals (bad path encoding,
    // wrong method), become a page in the visitor's language.
    let status = resp.status();
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    let fail = resp.extensions().get::<Fail>().copied().or_else(|| {
        (status.is_client_error() && plain).then(|| {
            let key = match status {
                StatusCode::NOT_FOUND => "err_not_found",
                StatusCode::PAYLOAD_TOO_LARGE => "err_too_large",
                _ => "err_bad_request",
            };
            Fail::new(status, key)
        })
    });
    if let Some(fail) = fail {
        let (mut parts, _) = resp.into_parts();
        let page = pages::error_page(&app, &ctx, fail).into_response();
        parts.headers.remove(header::CONTENT_LENGTH);
        if let Some(ct) = page.headers().get(header::CONTENT_TYPE) {
            parts.headers.insert(header::CONTENT_TYPE, ct.clone());
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            parts
                .headers
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        }
        resp = Response::from_parts(parts, page.into_body());
    }
    let path = if app.base().is_empty() {
        "/"
    } else {
        app.base()
    };
    let h = resp.headers_mut();
    if new_device {
        let c =
            format!("agora_device={device}; Path={path}; Max-Age=63072000; HttpOnly; SameSite=Lax");
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    if let Some(l) = asked {
        let c = format!(
            "agora_lang={}; Path={path}; Max-Age=31536000; SameSite=Lax",
            l.code()
        );
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: under it browsers send `Origin: null` with every
    // form POST (Fetch standard, "serializing a request origin"), which
    // `same_origin` rightly refuses; `same-origin` still sends nothing to
    // other sites.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

impl App {
    /// Checks common to every write, before the body is read.
    fn pre_write(&self, ctx: &Ctx, headers: &HeaderMap) -> Result<(), Fail> {
        if !same_origin(headers) {
            return Err(Fail::CSRF);
        }
        if !lock(&self.writes).allow(ctx.ip, self.now()) {
            return Err(Fail::new(StatusCode::TOO_MANY_REQUESTS, "err_rate"));
        }
        self.check_disk()
    }

    fn check_disk(&self) -> Result<(), Fail> {
        match crate::sys::free_bytes(&self.cfg.data) {
            Ok(free) if free < self.cfg.min_free => {
                eprintln!(
                    "agora: refusing a write: {free} bytes free, --min-free is {}",
                    self.cfg.min_free
                );
                Err(Fail::new(StatusCode::INSUFFICIENT_STORAGE, "err_disk"))
            }
            Ok(_) => Ok(()),
            Err(e) => {
                eprintln!("agora: error: statvfs {}: {e}", self.cfg.data.display());
                Err(Fail::INTERNAL)
            }
        }
    }

    fn check_csrf(&self, ctx: &Ctx, token: Option<&str>) -> Result<(), Fail> {
        if ctx.new_device {
            return Err(Fail::new(StatusCode::BAD_REQUEST, "err_no_cookie"));
        }
        match token {
            Some(t) if t.as_bytes() == ctx.csrf.as_bytes() => Ok(()),
            _ => Err(Fail::CSRF),
        }
    }

    /// A whole write guard: origin, rate, disk, body, CSRF. Returns the form.
    async fn write_form(&self, ctx: &Ctx, headers: &HeaderMap, body: Body) -> Result<Form, Fail> {
        self.pre_write(ctx, headers)?;
        let bytes = read_body(body, BODY_MAX).await?;
        let form = Form::parse(&bytes)?;
        self.check_csrf(ctx, form.get("csrf"))?;
        Ok(form)
    }
}

/// Reads a body of at most `limit` bytes into one buffer (no doubling: a 16 MiB
/// restore costs 16 MiB, not 32).
pub async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, Fail> {
    use futures_util::StreamExt;
    let too_large = Fail::new(StatusCode::PAYLOAD_TOO_LARGE, "err_too_large");
    // Content-Length, when sent, sizes the buffer once.
    let hint = axum::body::HttpBody::size_hint(&body).lower() as usize;
    if hint > limit {
        return Err(too_large);
    }
    let mut out = Vec::with_capacity(hint);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| Fail::new(StatusCode::BAD_REQUEST, "err_bad_request"))?;
        if out.len() + chunk.len() > limit {
            return Err(too_large);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// 303 to a path under the base.
fn see_other(app: &App, path: &str) -> Response {
    let loc = format!("{}{path}", app.base());
    (StatusCode::SEE_OTHER, [(header::LOCATION, loc)]).into_response()
}

async fn not_found() -> Fail {
    Fail::NOT_FOUND
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../assets/agora.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../assets/agora.js"),
    )
        .into_response()
}

pub fn router(app: AppState) -> Router {
    let b = app.base().to_string();
    let r = |p: &str| format!("{b}{p}");
    let mut router = Router::new()
        .route(&r("/"), get(pages::home))
        .route(&r("/static/agora.css"), get(css))
        .route(&r("/static/agora.js"), get(js))
        .route(&r("/p/new"), get(polls::new_form).post(polls::create))
        .route(&r("/p/{id}"), get(polls::show))
        .route(&r("/p/{id}/results"), get(polls::results_page))
        .route(&r("/p/{id}/vote"), post(polls::vote))
        .route(&r("/p/{id}/events"), get(polls::events))
        .route(&r("/p/{id}/export.json"), get(polls::export_json))
        .route(&r("/p/{id}/export.csv"), get(polls::export_csv))
        .route(
            &r("/p/{id}/edit/{token}"),
            get(polls::edit_form).post(polls::edit),
        )
        .route(&r("/b/new"), get(boards::new_form).post(boards::create))
        .route(&r("/b/{id}"), get(boards::show))
        .route(&r("/b/{id}/events"), get(boards::events))
        .route(&r("/b/{id}/notes"), post(boards::add_note))
        .route(&r("/b/{id}/note/{nid}"), post(boards::edit_note))
        .route(&r("/b/{id}/note/{nid}/move"), post(boards::move_note))
        .route(&r("/b/{id}/note/{nid}/delete"), post(boards::delete_note))
        .route(&r("/b/{id}/column/{cid}"), post(boards::rename_column))
        .route(&r("/b/{id}/export.json"), get(boards::export_json))
        .route(&r("/b/{id}/export.csv"), get(boards::export_csv))
        .route(&r("/admin"), get(admin::page))
        .route(&r("/admin/login"), post(admin::login))
        .route(&r("/admin/logout"), post(admin::logout))
        .route(&r("/admin/moderate"), post(admin::moderate))
        .route(&r("/admin/backup"), get(admin::backup))
        .route(&r("/admin/restore"), post(admin::restore));
    if !b.is_empty() {
        router = router.route(&b, get(pages::home));
    }
    router
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(app.clone(), context))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(app)
}

/// Serves until the future ends (ctrl-c / SIGTERM in `main`).
pub async fn serve(
    app: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router(app.clone());
    // Live streams never end by themselves: closing their channels ends them,
    // so a graceful stop does not wait for the browsers to leave.
    let shutdown = async move {
        shutdown.await;
        lock(&app.topics).clear();
    };
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// A server-sent-event stream of a topic's messages, named `event`, with keep-alives.
fn sse(app: &App, topic: &str, event: &'static str) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let rx = app.subscribe(topic);
    let stream = futures_util::stream::unfold(rx, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(data) => {
                    let ev = Event::default().event(event).data(data);
                    return Some((Ok::<_, std::convert::Infallible>(ev), rx));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let mut r = Sse::new(stream)
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(15))
                .text("keep-alive"),
        )
        .into_response();
    // nginx: do not buffer the stream.
    r.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn new_id() -> Result<String, Fail> {
    crate::sys::random_hex(6).map_err(|e| {
        eprintln!("agora: error: reading random bytes: {e}");
        Fail::INTERNAL
    })
}

fn download(content_type: &'static str, filename: String, body: impl Into<Body>) -> Response {
    let disp = format!("attachment; filename=\"{filename}\"");
    let mut r = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body.into(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&disp) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn cookies_and_lang() {
        let hd = h(&[("cookie", "a=1; agora_lang=en;agora_device=xyz")]);
        assert_eq!(cookie(&hd, "agora_lang"), Some("en"));
        assert_eq!(cookie(&hd, "agora_device"), Some("xyz"));
        assert_eq!(cookie(&hd, "b"), None);
        assert_eq!(query_lang(Some("x=1&lang=en")), Some(Lang::En));
        assert_eq!(query_lang(Some("lang=de")), None);
    }
}
