//! Starts the real server binary on a random port against a fresh database.
#![allow(dead_code)] // each test file uses its own part of this module

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use webinar::testing::TestDatabase;
use webinar::webinar::{NewWebinar, Speaker, Status};

/// Signs the test servers' unsubscribe links.
pub const SECRET_KEY: &str = "integration-test-secret";

pub struct TestServer {
    pub base: String,
    pub database_url: String,
    pub db: DatabaseConnection,
    /// The dev outbox this server writes emails to.
    pub outbox: PathBuf,
    _child: Child,
    _database: TestDatabase,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.outbox);
    }
}

impl TestServer {
    pub async fn start(database: TestDatabase) -> Self {
        Self::start_with(database, &[]).await
    }

    /// Starts the server with extra environment variables.
    pub async fn start_with(database: TestDatabase, env: &[(&str, &str)]) -> Self {
        let outbox = std::env::temp_dir().join(format!("webinar_outbox_{}", rand::random::<u64>()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .env("DATABASE_URL", &database.url)
            .env("OUTBOX_DIR", &outbox)
            .env("SECRET_KEY", SECRET_KEY)
            .env("WORKER_POLL_MS", "100")
            .env_remove("SENDGRID_API_KEY")
            .envs(env.iter().copied())
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("SEED_DEMO", "false")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the server binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let address = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("read server output") {
                if let Some((_, address)) = line.split_once("listening on ") {
                    return address.trim().to_owned();
                }
            }
            panic!("the server exited before listening");
        })
        .await
        .expect("the server did not start within 30 s");
        // Keep draining the log so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let db = database.connect().await.expect("connect to the test database");
        Self { base: address, database_url: database.url.clone(), db, outbox, _child: child, _database: database }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn webinar(&self, slug: &str, status: Status, starts_in: chrono::Duration) -> webinar::webinar::Model {
        let new = NewWebinar {
            slug: slug.into(),
            title: format!("Growth webinar {slug}"),
            subtitle: "A subtitle".into(),
            description: "First paragraph.\n\nSecond paragraph.".into(),
            speakers: vec![Speaker { name: "Grace Hopper".into(), title: "Speaker".into(), photo_url: None }],
            starts_at: now() + starts_in,
            duration_minutes: 60,
            timezone: chrono_tz::Europe::Berlin,
            join_url: "https://meet.example.com/x".into(),
            status,
            capacity: None,
        };
        webinar::webinar::create(&self.db, new, now()).await.expect("create a webinar")
    }
}

pub fn now() -> DateTime<Utc> {
    webinar::Clock::now(&webinar::SystemClock)
}
