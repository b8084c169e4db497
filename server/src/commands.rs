//! The command line's verbs besides serving, each through the domain's
//! [`Service`] like the pages: run the worker alone, migrate, create an
//! admin or an API token, change a webinar's schedule.
use std::sync::Arc;

use tokio::sync::watch;
use webinar::registration::live::NoCounts;
use webinar::{DomainError, Service, SystemClock};

use crate::application::{self, Application, Failure};
use crate::config::Config;

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> Result<(), Failure> {
    let application = Application::build(config).await?;
    application.run_until(stop_on_signal()).await
}

/// The email worker alone, until Ctrl-C or SIGTERM.
pub async fn work(config: Config) -> Result<(), Failure> {
    application::run_worker(config, stop_on_signal()).await
}

/// Applies the database migrations (connecting does) and exits.
pub async fn migrate(config: Config) -> Result<(), Failure> {
    webinar::store::connect(&config.database_url, 1).await?;
    Ok(())
}

/// A service for one command: its own small pool, no live counts.
async fn service(config: &Config) -> Result<Service, Failure> {
    let db = webinar::store::connect(&config.database_url, 1).await?;
    Ok(Service::new(db, Arc::new(SystemClock), Arc::new(NoCounts)))
}

/// Moves a session's start; prints what happened to its emails.
pub async fn reschedule(
    config: Config,
    slug: &str,
    session: Option<i64>,
    starts_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), Failure> {
    let service = service(&config).await?;
    let (webinar, done) =
        service.reschedule_session(slug, session, starts_at).await.map_err(|error| named(error, slug))?;
    println!(
        "rescheduled {} session {} to {}: {} reminders due at the new time, {} dropped as past, {} registrants will be emailed",
        webinar.slug,
        done.session.id,
        done.session.start_local(webinar.tz()),
        done.moved,
        done.dropped,
        done.notified
    );
    Ok(())
}

/// Cancels a session, or the whole webinar; prints what happened to its emails.
pub async fn cancel(config: Config, slug: &str, session: Option<i64>) -> Result<(), Failure> {
    let (webinar, done) =
        service(&config).await?.cancel_session(slug, session).await.map_err(|error| named(error, slug))?;
    let what = match session {
        Some(id) => format!("{} session {id}", webinar.slug),
        None => webinar.slug.clone(),
    };
    println!(
        "cancelled {what}: {} queued emails withdrawn, {} registrants will be emailed",
        done.withdrawn, done.notified
    );
    Ok(())
}

/// An unknown slug, said as the operator typed it.
fn named(error: DomainError, slug: &str) -> Failure {
    match error {
        DomainError::WebinarNotFound => format!("no webinar has the slug {slug:?}").into(),
        error => error.into(),
    }
}

/// Creates a marketing admin; asks for the password (or reads one line from stdin).
pub async fn create_admin(config: Config, email: &str) -> Result<(), Failure> {
    let password = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        rpassword::prompt_password("Password (12 characters or more): ")?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    let admin = service(&config).await?.create_admin(email, &password).await?;
    println!("created admin {} (id {})", admin.email, admin.id);
    Ok(())
}

/// Makes an API token and prints it as the last line, the only time it is shown.
pub async fn create_token(config: Config, name: &str, scope: &str) -> Result<(), Failure> {
    let created = service(&config).await?.create_api_token(name, scope).await.map_err(|error| match error {
        DomainError::Invalid(fields) => {
            let problems: Vec<String> =
                fields.iter().map(|field| format!("--{}: {}", field.field, field.message)).collect();
            Failure::from(problems.join("\n"))
        }
        error => error.into(),
    })?;
    println!(
        "created {} API token {:?} (id {}); it is shown this once:",
        scope.trim(),
        created.token.name,
        created.token.id
    );
    println!("{}", created.secret);
    Ok(())
}

/// Turns true on Ctrl-C or SIGTERM.
fn stop_on_signal() -> watch::Receiver<bool> {
    let (stop, stopping) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    stopping
}

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
