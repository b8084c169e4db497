//! The `server` binary: parses the command line and runs the verb (see
//! [`server::commands`]); everything else is the library.
use clap::{Parser, Subcommand};
use server::{Config, commands, observability};

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
    /// Serve the site and API, with the email worker unless RUN_WORKER=false (the default).
    Serve,
    /// Run only the email worker (scale-out: any number, on Postgres).
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Create a marketing admin; asks for the password (or reads one line from stdin).
    CreateAdmin {
        #[arg(long)]
        email: String,
    },
    /// Make a token for the admin API (`/api/v1`); prints it as the last line, once.
    CreateToken {
        /// What uses the token, e.g. "CRM sync".
        #[arg(long)]
        name: String,
        /// `read` (GET only) or `write` (everything).
        #[arg(long)]
        scope: String,
    },
    /// Change a webinar's schedule; registrants are emailed by the worker.
    Webinar {
        #[command(subcommand)]
        action: WebinarAction,
    },
}

#[derive(Subcommand)]
enum WebinarAction {
    /// Move a session's start: reminders follow, each of its registrants gets a "time changed" email.
    Reschedule {
        #[arg(long)]
        slug: String,
        /// The session's id (see `GET /api/v1/webinars/{slug}/sessions`); needed when the webinar has several.
        #[arg(long)]
        session: Option<i64>,
        /// The new start, RFC 3339 (e.g. 2026-12-01T16:00:00Z).
        #[arg(long)]
        starts_at: chrono::DateTime<chrono::Utc>,
    },
    /// Cancel one session (`--session`) or the whole webinar: queued emails are withdrawn, every
    /// registrant concerned gets a cancellation email.
    Cancel {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        session: Option<i64>,
    },
}

/// glibc's allocator spent a quarter of the server's CPU under registration
/// load (page faults as per-thread heaps grew and were trimmed again).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let Cli { command, config } = Cli::parse();
    observability::init_logging(config.log_format);
    let result = match command.unwrap_or(Command::Serve) {
        Command::Serve => commands::serve(config).await,
        Command::Worker => commands::work(config).await,
        Command::Migrate => commands::migrate(config).await,
        Command::CreateAdmin { email } => commands::create_admin(config, &email).await,
        Command::CreateToken { name, scope } => commands::create_token(config, &name, &scope).await,
        Command::Webinar { action: WebinarAction::Reschedule { slug, session, starts_at } } => {
            commands::reschedule(config, &slug, session, starts_at).await
        }
        Command::Webinar { action: WebinarAction::Cancel { slug, session } } => {
            commands::cancel(config, &slug, session).await
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            std::process::ExitCode::FAILURE
        }
    }
}
