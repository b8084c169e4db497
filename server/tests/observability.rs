//! `/metrics`, `/readyz`, JSON logs with request ids, and the OpenAPI description.
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Duration as Span;
use futures::StreamExt;
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use support::TestServer;
use test_support::TestDatabase;
use webinar::webinar::Status;

async fn register(server: &TestServer, email: &str) -> StatusCode {
    let body = json!({"webinar": "launch", "name": "Ada", "email": email});
    let response =
        reqwest::Client::new().post(server.url("/api/webinar/register")).json(&body).send().await.expect("post");
    response.status()
}

async fn metrics(server: &TestServer) -> String {
    let response = reqwest::get(server.url("/metrics")).await.expect("metrics");
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()["content-type"].to_str().expect("type").to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    response.text().await.expect("text")
}

/// The value of the sample whose name and labels contain every part of `series`.
fn sample(text: &str, series: &[&str]) -> f64 {
    let line = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| series.iter().all(|part| line.contains(part)))
        .unwrap_or_else(|| panic!("no sample {series:?} in:\n{text}"));
    line.rsplit(' ').next().and_then(|value| value.parse().ok()).unwrap_or_else(|| panic!("a number: {line}"))
}

#[tokio::test]
async fn metrics_count_registrations_rejections_limits_latency_sockets_and_jobs() {
    let env = [("RATE_LIMIT_PUBLIC", "3/1m")];
    // A process of its own: metrics are the process's, and this test counts them.
    let server = TestServer::spawn_with(TestDatabase::sqlite().expect("database"), &env).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    assert_eq!(register(&server, "ada@example.com").await, StatusCode::CREATED);
    assert_eq!(register(&server, "grace@example.com").await, StatusCode::CREATED);
    assert_eq!(register(&server, "ada@example.com").await, StatusCode::CREATED, "the same answer as a new address");
    assert_eq!(register(&server, "not-an-email").await, StatusCode::UNPROCESSABLE_ENTITY);
    let socket_url = server.url("/api/webinar/live?webinar=launch").replacen("http", "ws", 1);
    let (mut socket, _) = tokio_tungstenite::connect_async(socket_url).await.expect("websocket");
    tokio::time::timeout(Duration::from_secs(5), socket.next()).await.expect("the first count");
    let stats = || reqwest::get(server.url("/api/webinar/stats?webinar=launch"));
    let mut limited = 0;
    for _ in 0..4 {
        if stats().await.expect("stats").status() == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert!(limited >= 2, "the public limit (3/min, the websocket included) refused the rest");

    let text = metrics(&server).await;
    assert_eq!(sample(&text, &["webinar_registrations_total{", r#"outcome="created""#]), 2.0);
    assert_eq!(sample(&text, &["webinar_registrations_total{", r#"outcome="existing""#]), 1.0);
    assert_eq!(sample(&text, &["webinar_registrations_total{", r#"outcome="invalid""#]), 1.0);
    assert_eq!(sample(&text, &["webinar_rejections_total{", r#"code="invalid_input""#]), 1.0);
    assert_eq!(sample(&text, &["webinar_rate_limited_total{", r#"limit="public""#]), f64::from(limited));
    assert_eq!(sample(&text, &["webinar_websocket_clients"]), 1.0);
    let register_route = r#"route="/api/webinar/register""#;
    assert_eq!(sample(&text, &["http_request_duration_seconds_count{", register_route, r#"method="POST""#]), 4.0);
    assert!(
        text.contains(r#"http_request_duration_seconds_bucket{method="POST",route="/api/webinar/register",le="0.02"}"#)
    );
    assert_eq!(
        sample(&text, &["http_requests_total{", register_route, r#"status="201""#]),
        3.0,
        "requests by route and status"
    );
    // Two registrants × (confirmation + 3 reminders), sent or still pending.
    let jobs: f64 = ["pending", "sent"]
        .iter()
        .filter(|state| text.contains(&format!("webinar_email_jobs{{state=\"{state}\"}}")))
        .map(|state| sample(&text, &[&format!("webinar_email_jobs{{state=\"{state}\"}}")]))
        .sum();
    assert_eq!(jobs, 8.0);
    assert!(!text.contains("ada@example.com"), "no personal data in metrics");

    drop(socket);
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if sample(&metrics(&server).await, &["webinar_websocket_clients"]) == 0.0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    closed.await.expect("a closed websocket is no longer counted");
}

#[tokio::test]
async fn the_email_worker_reports_send_latency_and_provider_errors() {
    let mock = support::mock_sendgrid(0).await;
    // A process of its own: metrics are the process's, and this test counts them.
    let server = TestServer::spawn_with(TestDatabase::sqlite().expect("database"), &mock.env()).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    assert_eq!(register(&server, "ada@example.com").await, StatusCode::CREATED);
    let text = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let text = metrics(&server).await;
            if text.contains(r#"webinar_email_sends_total{outcome="accepted"}"#) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the confirmation was sent");
    assert_eq!(sample(&text, &["webinar_email_sends_total{", r#"outcome="accepted""#]), 1.0);
    assert_eq!(sample(&text, &["webinar_email_send_seconds_count"]), 1.0);
    assert!(sample(&text, &["webinar_email_send_seconds_sum"]) > 0.0);
}

#[tokio::test]
async fn with_a_metrics_token_only_its_bearer_reads_metrics() {
    let env = [("METRICS_TOKEN", "s3cret-scraper-token")];
    let server = TestServer::start_with(TestDatabase::sqlite().expect("database"), &env).await;
    let anonymous = reqwest::get(server.url("/metrics")).await.expect("metrics");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = reqwest::Client::new().get(server.url("/metrics")).bearer_auth("guess").send().await.expect("metrics");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let scraper = reqwest::Client::new()
        .get(server.url("/metrics"))
        .bearer_auth("s3cret-scraper-token")
        .send()
        .await
        .expect("metrics");
    assert_eq!(scraper.status(), StatusCode::OK);
    assert!(scraper.text().await.expect("text").contains("webinar_websocket_clients 0"));
}

async fn readiness(database: TestDatabase) {
    let server = TestServer::start(database).await;
    let health: Value = reqwest::get(server.url("/healthz")).await.expect("health").json().await.expect("JSON");
    assert_eq!(
        health,
        json!({"status": "ok", "redis": "off", "rate_limits": "in-process", "live_counts": "in-process"})
    );
    let ready = reqwest::get(server.url("/readyz")).await.expect("ready");
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.expect("JSON");
    assert_eq!(ready["status"], "ok");
    assert_eq!(ready["database"], "ok");
    assert_eq!(ready["pending_migrations"], 0, "migrations are current");
    assert_eq!(ready["redis"], "off");
    assert_eq!(ready["queue"], json!({"due": 0, "oldest_due_age_seconds": null}));

    // A newer version migrated the database: this binary's schema is not the database's.
    let future = "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m20991231_000001_from_the_future', 0)";
    server.db.execute_unprepared(future).await.expect("record a migration this binary lacks");
    let behind = reqwest::get(server.url("/readyz")).await.expect("ready");
    assert_eq!(behind.status(), StatusCode::SERVICE_UNAVAILABLE);
    let behind: Value = behind.json().await.expect("JSON");
    assert_eq!(behind["status"], "unavailable");
    assert_eq!(behind["database"], "ok");
    assert_eq!(behind["pending_migrations"], Value::Null);
}

test_support::on_both_databases!(readiness);

/// The first log line containing `text`.
fn logged(server: &TestServer, text: &str) -> Option<String> {
    server.logs().into_iter().find(|line| line.contains(text))
}

#[tokio::test]
async fn json_logs_carry_request_ids_and_never_a_full_email_address() {
    let env = [("LOG_FORMAT", "json")];
    // A process of its own: the test reads the server's log.
    let server = TestServer::spawn_with(TestDatabase::sqlite().expect("database"), &env).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    let body = json!({"webinar": "launch", "name": "Ada", "email": "ada.lovelace@example.com"});
    let response = reqwest::Client::new()
        .post(server.url("/api/webinar/register"))
        .header("x-request-id", "req-test-7")
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::CREATED);
    let registered = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let found = logged(&server, r#""message":"registered""#);
            match found {
                Some(line) => return line,
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await
    .expect("the registration was logged");
    let line: Value = serde_json::from_str(&registered).expect("a JSON log line");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["message"], "registered");
    assert_eq!(line["fields"]["email"], "a***@example.com", "masked");
    assert_eq!(line["span"]["request_id"], "req-test-7", "the request's id: {line}");
    assert_eq!(line["span"]["route"], "/api/webinar/register");
    // Give the worker time to log its sends too, then check every line.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let logs = server.logs();
    for line in &logs {
        serde_json::from_str::<Value>(line).unwrap_or_else(|_| panic!("every line is JSON: {line}"));
        assert!(!line.contains("ada.lovelace@example.com"), "no full address at info level: {line}");
        assert!(!line.contains(support::SECRET_KEY), "no secret: {line}");
    }
}

/// Every public route is described, and every described operation exists.
#[tokio::test]
async fn the_openapi_description_covers_every_public_route() {
    let server = TestServer::start(TestDatabase::sqlite().expect("database")).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    let response = reqwest::get(server.url("/api/openapi.json")).await.expect("openapi");
    assert_eq!(response.status(), StatusCode::OK);
    let description: Value = response.json().await.expect("JSON");
    assert!(description["openapi"].as_str().is_some_and(|version| version.starts_with("3.")));
    let paths = description["paths"].as_object().expect("paths");
    let described: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().into_iter().flatten().map(move |(method, _)| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let public = [
        ("POST", "/api/webinar/register"),
        ("GET", "/api/webinar/stats"),
        ("GET", "/api/webinar/live"),
        ("GET", "/j/{token}"),
        ("GET", "/u/{token}"),
        ("POST", "/u/{token}"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/api/openapi.json"),
    ];
    for (method, path) in public {
        assert!(described.contains(&(method.to_owned(), path.to_owned())), "{method} {path} is described");
    }
    assert!(
        paths.keys().all(|path| !path.starts_with("/admin") && !path.starts_with("/api/admin")),
        "admin is not public"
    );
    let schemas = description["components"]["schemas"].as_object().expect("schemas");
    for schema in ["RegistrationRequest", "Registered", "ErrorResponse", "Stats", "Health", "Ready"] {
        assert!(schemas.contains_key(schema), "schema {schema}");
    }
    let register = &paths["/api/webinar/register"]["post"];
    for status in ["201", "404", "409", "413", "422", "429", "503"] {
        assert!(register["responses"].get(status).is_some(), "register documents {status}");
    }

    // And each described operation is served (not the router's 404/405).
    let client = reqwest::Client::new();
    for (method, path) in &described {
        let path = path.replace("{token}", "not-a-token").replace("{slug}", "launch").replace("{id}", "1");
        let url = server.url(&path) + "?webinar=launch";
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let request = client
            .request(method.clone(), &url)
            .json(&json!({"webinar": "launch", "name": "Ada", "email": "a@example.com"}));
        let response = request.send().await.expect("request");
        let status = response.status();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let text = response.text().await.expect("body");
        assert!(!text.contains("Webinar not found"), "{method} {path} reached its handler, not the fallback");
    }
}
