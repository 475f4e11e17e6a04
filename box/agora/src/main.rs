//! `agora`: parse the command line, dispatch, print `error: ...`.
#![forbid(unsafe_code)]

use clic_agora::cli::{self, Cmd};
use clic_agora::web::{self, App, Config};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = match cli::parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    let result = match cmd {
        Cmd::Version => {
            println!("agora {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Cmd::Help => {
            println!("{}", cli::USAGE);
            Ok(())
        }
        Cmd::Backup { data, out } => {
            clic_agora::db::backup_cli(&data, &out).map_err(|e| e.to_string())
        }
        Cmd::Restore { data, input } => {
            clic_agora::db::restore_cli(&data, &input).map_err(|e| e.to_string())
        }
        Cmd::Serve(s) => serve(s),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(s: cli::Serve) -> Result<(), String> {
    let admin_hash = s.admin_hash.or_else(|| {
        std::env::var_os("CREDENTIALS_DIRECTORY").map(|d| PathBuf::from(d).join("admin-hash"))
    });
    let mut cfg = Config::new(s.data);
    cfg.base = s.base;
    cfg.admin_hash = admin_hash;
    cfg.min_free = s.min_free;
    cfg.lang = s.lang;
    let app = Arc::new(App::new(cfg).map_err(|e| e.to_string())?);
    // One thread: a box serves a handful of people; SQLite writes are serialised anyway.
    // Password checks run on a blocking thread, made when needed, gone after 10 s.
    let rt = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(2)
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(s.listen)
            .await
            .map_err(|e| format!("listening on {}: {e}", s.listen))?;
        eprintln!(
            "agora {} listening on {}",
            env!("CARGO_PKG_VERSION"),
            s.listen
        );
        web::serve(app, listener, shutdown())
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
    eprintln!("agora: stopping");
}
