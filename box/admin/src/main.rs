//! `clic-admin`: the box's admin console at `/admin/` (behind nginx), and
//! `clic-admin rollback`, which the rollback timer runs when a Wi-Fi change
//! was not confirmed.
//!
//! ```text
//! clic-admin serve [--config /etc/clic/admin.toml]
//! clic-admin rollback [--config /etc/clic/admin.toml]
//! clic-admin --version
//! ```
//! Exit codes: 0 ok, 1 error, 2 bad command line.
#![deny(unsafe_code)]

mod actions;
mod backup;
mod config;
mod kiosk;
mod library;
mod portal;
mod poster;
mod reach;
mod status;
mod sys;
mod text;
mod usb;
mod web;
mod wifi;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str = "usage: clic-admin serve|rollback [--config FILE] | --version";
const CONFIG: &str = "/etc/clic/admin.toml";

/// "wait {} s" with the seconds rounded up.
pub fn delay_wait_text(template: &str, left: f64) -> String {
    template.replace("{}", &format!("{}", left.ceil() as u64))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut config = PathBuf::from(CONFIG);
    let mut cmd = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--version" => {
                println!("clic-admin {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            "--config" => match it.next() {
                Some(p) => config = PathBuf::from(p),
                None => {
                    eprintln!("error: --config needs a file\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "serve" | "rollback" if cmd.is_none() => cmd = Some(a.clone()),
            _ => {
                eprintln!("error: unexpected `{a}`\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(cmd) = cmd else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let cfg = match config::Config::load(&config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = if cmd == "rollback" {
        actions::rollback(&cfg)
            .map(|done| {
                if done {
                    eprintln!("clic-admin: the Wi-Fi change was not confirmed: rolled back");
                }
            })
            .map_err(|e| e.to_string())
    } else {
        serve(cfg)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(cfg: config::Config) -> Result<(), String> {
    let listen = cfg.listen;
    // The library pages' list of imported items, as the disk has it now.
    web::refresh_library(&cfg);
    let app = Arc::new(web::App::new(cfg).map_err(|e| format!("reading random bytes: {e}"))?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(2)
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("listening on {listen}: {e}"))?;
        eprintln!(
            "clic-admin {} listening on {listen}",
            env!("CARGO_PKG_VERSION")
        );
        axum::serve(
            listener,
            web::router(app).into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| format!("serving: {e}"))
    })
}

async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    eprintln!("clic-admin: stopping");
}
