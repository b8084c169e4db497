//! The webinar server: pages, API, websocket, and (soon) the email worker.
mod api;
mod config;
mod error;
mod live;
mod routes;
mod state;

use std::sync::Arc;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use webinar::{Clock, Service, SystemClock};

use crate::config::Config;
use crate::live::LiveHub;
use crate::state::AppState;

#[derive(Parser)]
#[command(version, about = "Webinar registration and reminders")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the site and API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")))
        .init();
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
        Command::Migrate => webinar::db::connect(&cli.config.database_url, 1).await.map(drop).map_err(Into::into),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let db = webinar::db::connect(&config.database_url, config.database_max_connections).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if config.seed_demo
        && let Some(demo) = webinar::demo::seed(&db, clock.now()).await?
    {
        tracing::info!(slug = %demo.slug, starts_at = %demo.starts_at, "seeded the demo webinar");
    }
    let live = Arc::new(LiveHub::default());
    let service = Service::new(db, clock, live.clone());
    let state = AppState { leptos: config.leptos_options(), service, live };
    let listener = tokio::net::TcpListener::bind(config.site_addr).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, routes::router(state)).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM");
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}
