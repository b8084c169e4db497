//! Runs the server against a fresh database on a random port: in this
//! process ([`TestServer::start`], the application `main` builds), or as the
//! real binary ([`TestServer::spawn`]) for what needs a process of its own:
//! a kill -9, a second instance, its log.
#![allow(dead_code)] // each test file uses its own part of this module

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use test_support::TestDatabase;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
pub use tools::sendgrid_mock::MockSendGrid;
use tools::sendgrid_mock::Options;
use webinar::webinar::{NewWebinar, Speaker, Status};

/// Signs the test servers' unsubscribe links.
pub const SECRET_KEY: &str = "integration-test-secret";

pub struct TestServer {
    pub base: String,
    pub database_url: String,
    pub db: DatabaseConnection,
    /// The dev outbox this server writes emails to.
    pub outbox: PathBuf,
    running: Running,
    /// `None` on a second instance: the first one owns (and drops) the database.
    _database: Option<TestDatabase>,
}

/// How the server runs: in this process (stopped when the test server is
/// dropped), or as a child process with the lines it has logged.
enum Running {
    InProcess { stop: watch::Sender<bool>, served: tokio::task::JoinHandle<()> },
    Binary { child: Child, logs: Logs },
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Running::InProcess { stop, .. } = &self.running {
            let _ = stop.send(true);
        }
        let _ = std::fs::remove_dir_all(&self.outbox);
    }
}

impl TestServer {
    /// In this process.
    pub async fn start(database: TestDatabase) -> Self {
        Self::start_with(database, &[]).await
    }

    /// In this process, with extra settings (named as environment variables).
    pub async fn start_with(database: TestDatabase, env: &[(&str, &str)]) -> Self {
        let outbox = fresh_outbox();
        let (running, base) = run_in_process(&database.url, &outbox, env).await;
        let db = database.connect().await.expect("connect to the test database");
        Self { base, database_url: database.url.clone(), db, outbox, running, _database: Some(database) }
    }

    /// The server binary, as a process of its own.
    pub async fn spawn(database: TestDatabase) -> Self {
        Self::spawn_with(database, &[]).await
    }

    /// The server binary with extra environment variables.
    pub async fn spawn_with(database: TestDatabase, env: &[(&str, &str)]) -> Self {
        let outbox = fresh_outbox();
        let (child, base, logs) = spawn_server(&database.url, &outbox, env).await;
        let db = database.connect().await.expect("connect to the test database");
        let running = Running::Binary { child, logs };
        Self { base, database_url: database.url.clone(), db, outbox, running, _database: Some(database) }
    }

    /// Another server process on the same database (scale-out).
    pub async fn second_instance(&self, env: &[(&str, &str)]) -> Self {
        let outbox = fresh_outbox();
        let (child, base, logs) = spawn_server(&self.database_url, &outbox, env).await;
        let db = webinar::store::connect(&self.database_url, 5).await.expect("connect to the test database");
        let running = Running::Binary { child, logs };
        Self { base, database_url: self.database_url.clone(), db, outbox, running, _database: None }
    }

    /// Every line the server process has logged so far.
    pub fn logs(&self) -> Vec<String> {
        match &self.running {
            Running::Binary { logs, .. } => logs.lock().expect("logs").clone(),
            Running::InProcess { .. } => {
                panic!("a server in this process has no log of its own: use TestServer::spawn")
            }
        }
    }

    /// Ends the server process at once (SIGKILL): no shutdown, leases left behind.
    pub async fn kill(&mut self) {
        match &mut self.running {
            Running::Binary { child, .. } => child.kill().await.expect("kill the server"),
            Running::InProcess { .. } => panic!("a server in this process cannot be killed: use TestServer::spawn"),
        }
    }

    /// A new server on the same database and outbox, the way this one runs.
    pub async fn restart(&mut self, env: &[(&str, &str)]) {
        let (running, base) = match &mut self.running {
            Running::Binary { child, .. } => {
                let _ = child.kill().await;
                let (child, base, logs) = spawn_server(&self.database_url, &self.outbox, env).await;
                (Running::Binary { child, logs }, base)
            }
            Running::InProcess { stop, served } => {
                let _ = stop.send(true);
                served.await.expect("the server stopped");
                run_in_process(&self.database_url, &self.outbox, env).await
            }
        };
        self.running = running;
        self.base = base;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits until the outbox holds `count` messages, and returns their text.
    pub async fn outbox_messages(&self, count: usize) -> Vec<String> {
        for _ in 0..100 {
            let messages: Vec<String> = std::fs::read_dir(&self.outbox)
                .map(|entries| entries.filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok()).collect())
                .unwrap_or_default();
            if messages.len() >= count {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the outbox did not get {count} message(s) within 10 s");
    }

    /// The registration stored for `email` (answers name none: they would tell who is registered).
    pub async fn registrant(&self, email: &str) -> webinar::registration::Model {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        use webinar::registration::{Column, Entity};
        let found = Entity::find().filter(Column::Email.eq(email)).one(&self.db).await.expect("query");
        found.unwrap_or_else(|| panic!("{email} is registered"))
    }

    pub async fn webinar(&self, slug: &str, status: Status, starts_in: chrono::Duration) -> webinar::webinar::Model {
        let new = NewWebinar {
            slug: slug.into(),
            title: format!("Growth webinar {slug}"),
            subtitle: "A subtitle".into(),
            description: "First paragraph.\n\nSecond paragraph.".into(),
            speakers: vec![Speaker { name: "Grace Hopper".into(), title: "Speaker".into(), photo_url: None }],
            agenda: vec![],
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

/// A dev-outbox folder of a server's own (removed when its `TestServer` is dropped).
fn fresh_outbox() -> PathBuf {
    std::env::temp_dir().join(format!("webinar_outbox_{}", rand::random::<u64>()))
}

/// A server's log lines, collected as it writes them.
pub type Logs = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// What every test server runs with; a test's own settings come after (and win).
fn base_settings<'a>(database_url: &'a str, outbox: &'a str) -> [(&'a str, &'a str); 6] {
    [
        ("DATABASE_URL", database_url),
        ("OUTBOX_DIR", outbox),
        ("SECRET_KEY", SECRET_KEY),
        ("WORKER_POLL_MS", "100"),
        // Tests register many people from 127.0.0.1; the limit tests set their own.
        ("RATE_LIMIT_REGISTER", "10000/1m"),
        ("RATE_LIMIT_PUBLIC", "10000/1m"),
    ]
}

/// The application in this process, serving on the test's runtime until stopped.
async fn run_in_process(database_url: &str, outbox: &std::path::Path, env: &[(&str, &str)]) -> (Running, String) {
    let outbox = outbox.display().to_string();
    let mut settings = base_settings(database_url, &outbox).to_vec();
    settings.extend(env.iter().copied());
    settings.extend([("LEPTOS_SITE_ADDR", "127.0.0.1:0"), ("SEED_DEMO", "false")]);
    let config = server::Config::from_settings(settings).expect("valid test settings");
    let application = server::Application::build(config).await.expect("build the application");
    let base = format!("http://{}", application.address());
    let (stop, stopping) = watch::channel(false);
    let served = tokio::spawn(async move { application.run_until(stopping).await.expect("serve") });
    (Running::InProcess { stop, served }, base)
}

/// Starts the server binary and waits until it listens; returns it, its base URL and its log.
async fn spawn_server(database_url: &str, outbox: &std::path::Path, env: &[(&str, &str)]) -> (Child, String, Logs) {
    let outbox = outbox.display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .envs(base_settings(database_url, &outbox))
        .env_remove("SENDGRID_API_KEY")
        .env_remove("REDIS_URL")
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
    let logs = Logs::default();
    let address = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read server output") {
            let address = line.split_once("listening on ").and_then(|(_, rest)| rest.split(['"', ' ']).next());
            let address = address.map(str::to_owned);
            logs.lock().expect("logs").push(line);
            if let Some(address) = address {
                return address;
            }
        }
        panic!("the server exited before listening");
    })
    .await
    .expect("the server did not start within 30 s");
    // Keep reading the log so the server never blocks on a full pipe.
    let collected = logs.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            collected.lock().expect("logs").push(line);
        }
    });
    (child, address, logs)
}

pub fn now() -> DateTime<Utc> {
    webinar::Clock::now(&webinar::SystemClock)
}

/// The shared SendGrid mock, in this process, answering every request after `delay_ms`.
pub async fn mock_sendgrid(delay_ms: u64) -> MockSendGrid {
    let options = Options { delay: Duration::from_millis(delay_ms), record_requests: false };
    MockSendGrid::start_with(options).await.expect("start the SendGrid mock")
}

/// Starts `server worker` (no web server) with extra environment.
pub fn spawn_worker(database_url: &str, env: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("worker")
        .env("DATABASE_URL", database_url)
        .env("WORKER_POLL_MS", "50")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start a worker process")
}

/// Waits until no email job is pending (claimed jobs stay pending until recorded).
pub async fn drained(db: &DatabaseConnection, within: Duration) {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    use webinar::queue::job::{Column, Entity, Status};
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let open = Entity::find().filter(Column::Status.eq(Status::Pending)).count(db).await.expect("count");
        if open == 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{open} jobs still open after {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("address").port()
}

/// A namespace on the machine's shared Redis (127.0.0.1:6379) for one test;
/// its keys are deleted when the test ends.
pub struct RedisNamespace {
    pub url: String,
    pub prefix: String,
}

impl RedisNamespace {
    pub fn new() -> Self {
        Self::on(std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()))
    }

    /// The environment that points a server at this namespace.
    pub fn env(&self) -> [(&str, &str); 2] {
        [("REDIS_URL", self.url.as_str()), ("REDIS_KEY_PREFIX", self.prefix.as_str())]
    }

    /// The same kind of namespace on another Redis.
    pub fn on(url: String) -> Self {
        Self { url, prefix: format!("webinar_test_{}", rand::random::<u64>()) }
    }

    /// Keys in this namespace.
    pub async fn keys(&self) -> Vec<String> {
        use fred::prelude::*;
        let client = Builder::from_config(Config::from_url(&self.url).expect("a Redis URL")).build().expect("client");
        client.init().await.expect("connect to Redis");
        let keys = client.custom(fred::cmd!("KEYS"), vec![format!("{}:*", self.prefix)]).await.expect("KEYS");
        let _ = client.quit().await;
        keys
    }
}

impl Drop for RedisNamespace {
    fn drop(&mut self) {
        let script = format!(
            "redis-cli -u {url} --scan --pattern '{prefix}:*' | xargs -r redis-cli -u {url} del >/dev/null",
            url = self.url,
            prefix = self.prefix
        );
        let _ = std::process::Command::new("sh").args(["-c", &script]).status();
    }
}

/// A private `redis-server` on its own port, to stop and start in a test.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    pub async fn start() -> Self {
        let mut redis = Self { port: free_port(), child: None };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port, empty; returns once it answers.
    pub async fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not listen on {}", self.port);
    }

    /// SIGKILL: connections drop, nothing is said.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP proxy in front of a database server that a test can cut off: while
/// down, open connections are dropped and new ones are closed at once.
pub struct Outage {
    pub port: u16,
    up: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl Outage {
    pub async fn proxy_to(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let port = listener.local_addr().expect("address").port();
        let up = std::sync::Arc::new(tokio::sync::watch::Sender::new(true));
        let state = up.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !*state.borrow() {
                    continue; // dropped: closed at once
                }
                let mut down = state.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { port, up }
    }

    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

// The admin's door, for the tests that act as marketing.

pub const EMAIL: &str = "marketing@example.com";
pub const PASSWORD: &str = "correct horse battery staple";

/// `server create-admin`, the password on stdin; returns (succeeded, output).
pub async fn create_admin(server: &TestServer, email: &str, password: &str) -> (bool, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["create-admin", "--email", email])
        .env("DATABASE_URL", &server.database_url)
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run create-admin");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(format!("{password}\n").as_bytes()).await.expect("write the password");
    drop(stdin);
    let output = child.wait_with_output().await.expect("create-admin finished");
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), said)
}

/// `server create-token`; returns the token (the last line it prints).
pub async fn create_token(server: &TestServer, name: &str, scope: &str) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["create-token", "--name", name, "--scope", scope])
        .env("DATABASE_URL", &server.database_url)
        .env("RUST_LOG", "error")
        .output()
        .await
        .expect("run create-token");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout.lines().last().expect("the token on the last line").to_owned()
}

/// The webinar form, filled in; `changes` replace fields.
pub fn webinar_form<'a>(original: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("original", original),
        ("slug", "spring-launch"),
        ("title", "Spring launch"),
        ("subtitle", "What is new this spring"),
        ("description", "We **ship** it live."),
        ("speakers", "Ada Lovelace | Head of Growth"),
        ("agenda", "0:00 | Welcome\n0:10 | Demo"),
        ("starts_local", "2031-03-04T17:00"),
        ("timezone", "Europe/Berlin"),
        ("duration_minutes", "45"),
        ("join_url", "https://meet.example.com/spring"),
        ("capacity", ""),
        ("status", "draft"),
    ];
    for (name, value) in changes {
        form.retain(|(field, _)| field != name);
        form.push((name, value));
    }
    form
}

/// An admin API request with `token`, answered as its status and JSON (or the text, as a JSON string).
pub async fn call_api(
    server: &TestServer,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (reqwest::StatusCode, serde_json::Value) {
    let mut request =
        client().request(method, server.url(path)).header(reqwest::header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

pub async fn log_in(server: &TestServer, email: &str, password: &str) -> reqwest::Response {
    client()
        .post(server.url("/api/fn/admin_login"))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .expect("login")
}

/// Logs in as the test admin (created before); returns the `Cookie` header value.
pub async fn logged_in(server: &TestServer) -> String {
    let accepted = log_in(server, EMAIL, PASSWORD).await;
    assert!(accepted.status().is_success() || accepted.status().is_redirection(), "{}", accepted.status());
    let set_cookie = accepted.headers()[reqwest::header::SET_COOKIE].to_str().expect("ASCII").to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(set_cookie.contains(attribute), "{attribute} in {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "plain http here: {set_cookie}");
    set_cookie.split(';').next().expect("name=value").to_owned()
}
