//! The release `server` binary beside this one, started on a fresh database
//! (SQLite unless asked) with the demo webinar and limits out of the way.
use std::process::Stdio;
use std::time::Duration;

use test_support::TestDatabase;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{Backend, Failure};

pub struct BenchServer {
    pub base: String,
    child: Child,
    pub database: TestDatabase,
}

impl BenchServer {
    pub async fn start() -> Result<Self, Failure> {
        Self::start_on(Backend::Sqlite).await
    }

    pub async fn start_on(backend: Backend) -> Result<Self, Failure> {
        Self::start_with(backend, &[]).await
    }

    /// With extra environment (it wins over the defaults above).
    pub async fn start_with(backend: Backend, env: &[(&str, &str)]) -> Result<Self, Failure> {
        let database = backend.fresh_database().await?;
        let path = std::env::current_exe()?.with_file_name("server");
        let mut child = Command::new(path)
            .arg("serve")
            .env("DATABASE_URL", &database.url)
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("SEED_DEMO", "true")
            .env("RUN_WORKER", "false")
            .env("RATE_LIMIT_PUBLIC", "1000000000/1m")
            .env("RATE_LIMIT_REGISTER", "1000000000/1m")
            // Every bench client is 127.0.0.1: one "client" with thousands of sockets.
            .env("MAX_CONNECTIONS", "1000000")
            .env("MAX_CONNECTIONS_PER_CLIENT", "1000000")
            .env("MAX_WEBSOCKETS_PER_CLIENT", "1000000")
            .env("RUST_LOG", "warn,server=info")
            .env_remove("REDIS_URL")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().ok_or("no server output")?).lines();
        let base = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some((_, address)) = line.split_once("listening on ") {
                    return Ok::<_, std::io::Error>(Some(address.trim().to_owned()));
                }
            }
            Ok(None)
        })
        .await??
        .ok_or("the server exited before listening")?;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { base, child, database })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> String {
        self.child.id().map(|pid| pid.to_string()).unwrap_or_default()
    }

    /// `server create-token` on this server's database; the token it prints.
    pub async fn create_token(&self, name: &str, scope: &str) -> Result<String, Failure> {
        let path = std::env::current_exe()?.with_file_name("server");
        let output = Command::new(path)
            .args(["create-token", "--name", name, "--scope", scope])
            .env("DATABASE_URL", &self.database.url)
            .env("RUST_LOG", "error")
            .output()
            .await?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        match stdout.lines().last() {
            Some(token) if output.status.success() => Ok(token.to_owned()),
            _ => Err(format!("create-token failed: {stdout}{}", String::from_utf8_lossy(&output.stderr)).into()),
        }
    }

    /// One registration for the demo webinar (a fresh address each time).
    pub async fn register(&self, client: &reqwest::Client, n: usize) -> Result<u64, Failure> {
        let body = serde_json::json!({"name": "Bench", "email": format!("bench{n}@example.com")});
        let response = client.post(self.url("/api/webinar/register")).json(&body).send().await?;
        if !response.status().is_success() {
            return Err(format!("registration answered {}", response.status()).into());
        }
        let body: serde_json::Value = response.json().await?;
        body["registrations"].as_u64().ok_or_else(|| "no count in the answer".into())
    }
}
