//! Rate limits per client IP: in one process, shared by two processes over
//! Redis, and in-process again while Redis is down.
mod support;

use std::time::Duration;

use chrono::Duration as Span;
use reqwest::{Response, StatusCode};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use support::{PrivateRedis, RedisNamespace, TestServer};
use test_support::TestDatabase;
use webinar::registration;
use webinar::webinar::Status;

const REGISTER_LIMIT: (&str, &str) = ("RATE_LIMIT_REGISTER", "5/5m");
/// Per hour, not per minute: the budget earns a call back every `period / limit`
/// (0.6 s at 100/1m), and a slow machine's debug build can take longer than that
/// over the first 100 calls, which would let the 101st through.
const PUBLIC_LIMIT: (&str, &str) = ("RATE_LIMIT_PUBLIC", "100/1h");

async fn register(server: &TestServer, email: &str) -> Response {
    register_from(server, email, None).await
}

async fn register_from(server: &TestServer, email: &str, forwarded_for: Option<&str>) -> Response {
    let mut request = reqwest::Client::new()
        .post(server.url("/api/webinar/register"))
        .json(&json!({"webinar": "launch", "name": "Ada", "email": email}));
    if let Some(client) = forwarded_for {
        request = request.header("x-forwarded-for", client);
    }
    request.send().await.expect("request")
}

fn header(response: &Response, name: &str) -> u64 {
    response.headers()[name].to_str().expect("ASCII").parse().expect("a number")
}

/// Asserts a 429 that says how long to wait, and returns its JSON body.
async fn assert_refused(response: Response, limit: u64) -> Value {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&response, "ratelimit-limit"), limit);
    assert_eq!(header(&response, "ratelimit-remaining"), 0);
    let retry_after = header(&response, "retry-after");
    assert!((1..=300).contains(&retry_after), "Retry-After {retry_after}");
    assert!(header(&response, "ratelimit-reset") >= retry_after);
    response.json().await.expect("a JSON body")
}

async fn registrations(server: &TestServer) -> u64 {
    registration::Entity::find().count(&server.db).await.expect("count")
}

async fn the_sixth_registration_in_five_minutes_is_429(database: TestDatabase) {
    let server = TestServer::start_with(database, &[REGISTER_LIMIT]).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    for n in 0..5u64 {
        let response = register(&server, &format!("person{n}@example.com")).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(header(&response, "ratelimit-limit"), 5);
        assert_eq!(header(&response, "ratelimit-remaining"), 4 - n);
    }
    let body = assert_refused(register(&server, "person5@example.com").await, 5).await;
    assert_eq!(body["error"]["code"], "rate_limited");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(message.starts_with("Too many attempts — try again in "), "{message}");

    // The form's server function draws on the same budget and answers in its own encoding.
    let form = reqwest::Client::new()
        .post(server.url("/api/fn/register"))
        .form(&[("webinar", "launch"), ("name", "Ada"), ("email", "form@example.com")])
        .send()
        .await
        .expect("request");
    let body = assert_refused(form, 5).await;
    assert!(body["TooManyAttempts"]["retry_after_seconds"].as_u64().is_some_and(|s| s > 0), "{body}");
    // Posted without JavaScript, the browser gets a page a person can read.
    let plain = reqwest::Client::new()
        .post(server.url("/api/fn/register"))
        .header("accept", "text/html")
        .form(&[("webinar", "launch"), ("name", "Ada"), ("email", "plain@example.com")])
        .send()
        .await
        .expect("request");
    assert_eq!(plain.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(plain.headers().contains_key("retry-after"));
    let page = plain.text().await.expect("body");
    assert!(page.contains("<h1>Too many attempts</h1>") && page.contains("try again in "), "{page}");
    assert_eq!(registrations(&server).await, 5, "refused attempts write nothing");

    // Other clients and other budgets are untouched.
    let stats = reqwest::get(server.url("/api/webinar/stats?webinar=launch")).await.expect("stats");
    assert_eq!(stats.status(), StatusCode::OK);
}

async fn the_101st_stats_call_in_an_hour_is_429(database: TestDatabase) {
    let server = TestServer::start_with(database, &[PUBLIC_LIMIT]).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    let client = reqwest::Client::new();
    let stats = || client.get(server.url("/api/webinar/stats?webinar=launch")).send();
    for n in 0..100 {
        assert_eq!(stats().await.expect("stats").status(), StatusCode::OK, "call {}", n + 1);
    }
    let body = assert_refused(stats().await.expect("stats"), 100).await;
    assert_eq!(body["error"]["code"], "rate_limited");
    let health = client.get(server.url("/healthz")).send().await.expect("healthz");
    assert_eq!(health.status(), StatusCode::OK, "health checks are not limited");
}

async fn forwarded_addresses_count_only_from_trusted_proxies(database: TestDatabase) {
    let server = TestServer::start_with(database, &[("RATE_LIMIT_REGISTER", "1/5m")]).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    assert_eq!(register_from(&server, "a@example.com", Some("198.51.100.1")).await.status(), StatusCode::CREATED);
    // Not behind a trusted proxy: a made-up X-Forwarded-For changes nothing.
    let spoofed = register_from(&server, "b@example.com", Some("198.51.100.2")).await;
    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS);

    let mut server = server;
    server.restart(&[("RATE_LIMIT_REGISTER", "1/5m"), ("TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    for client in ["198.51.100.1", "198.51.100.2"] {
        let response = register_from(&server, &format!("{client}@example.com"), Some(client)).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{client} has a budget of its own");
    }
    let again = register_from(&server, "again@example.com", Some("203.0.113.5, 198.51.100.1")).await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS, "only the hop our proxy saw counts");
}

test_support::on_both_databases!(the_sixth_registration_in_five_minutes_is_429);

mod sqlite_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_101st_stats_call_is_429() {
        the_101st_stats_call_in_an_hour_is_429(TestDatabase::sqlite().expect("database")).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn x_forwarded_for_counts_only_from_trusted_proxies() {
        forwarded_addresses_count_only_from_trusted_proxies(TestDatabase::sqlite().expect("database")).await;
    }
}

/// Two processes on one Postgres database and one Redis.
async fn two_instances(env: &[(&str, &str)]) -> (TestServer, TestServer) {
    // Two processes sharing Redis.
    let first = TestServer::spawn_with(TestDatabase::postgres().await.expect("database"), env).await;
    first.webinar("launch", Status::Published, Span::days(2)).await;
    let second = first.second_instance(env).await;
    (first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_budget_over_redis() {
    let redis = RedisNamespace::new();
    let env = [REGISTER_LIMIT, PUBLIC_LIMIT, redis.env()[0], redis.env()[1]];
    let (a, b) = two_instances(&env).await;
    for (n, server) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
        let response = register(server, &format!("person{n}@example.com")).await;
        assert_eq!(response.status(), StatusCode::CREATED, "registration {}", n + 1);
        assert_eq!(header(&response, "ratelimit-remaining"), 4 - n as u64, "one budget across both");
    }
    assert_refused(register(&b, "person5@example.com").await, 5).await;
    assert_refused(register(&a, "person6@example.com").await, 5).await;

    let client = reqwest::Client::new();
    for n in 0..100 {
        let server = if n % 2 == 0 { &a } else { &b };
        let response = client.get(server.url("/api/webinar/stats?webinar=launch")).send().await.expect("stats");
        assert_eq!(response.status(), StatusCode::OK, "stats call {}", n + 1);
    }
    for server in [&a, &b] {
        let response = client.get(server.url("/api/webinar/stats?webinar=launch")).send().await.expect("stats");
        assert_refused(response, 100).await;
    }
    assert_eq!(registrations(&a).await, 5);
}

async fn health(server: &TestServer) -> Value {
    reqwest::get(server.url("/healthz")).await.expect("healthz").json().await.expect("JSON")
}

/// Polls `/healthz` until `redis` reads `state`.
async fn wait_for_redis(server: &TestServer, state: &str) {
    for _ in 0..100 {
        if health(server).await["redis"] == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("redis never became {state}: {}", health(server).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_down_limits_are_in_process_and_redis_is_used_again_when_back() {
    let mut redis = PrivateRedis::start().await;
    let namespace = RedisNamespace::on(redis.url());
    let env = [REGISTER_LIMIT, namespace.env()[0], namespace.env()[1]];
    let server = TestServer::start_with(TestDatabase::sqlite().expect("database"), &env).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    assert_eq!(
        health(&server).await,
        json!({"status": "ok", "redis": "ok", "rate_limits": "redis", "live_counts": "redis"})
    );
    for n in 0..2 {
        assert_eq!(register(&server, &format!("before{n}@example.com")).await.status(), StatusCode::CREATED);
    }
    assert_eq!(namespace.keys().await.len(), 1, "the shared budget lives in Redis");

    redis.kill();
    // The first request after the loss notices it; none fails for it.
    for n in 0..3 {
        let response = register(&server, &format!("during{n}@example.com")).await;
        assert_eq!(response.status(), StatusCode::CREATED, "registration {} during the outage", n + 1);
    }
    assert_eq!(
        health(&server).await,
        json!({"status": "degraded", "redis": "unreachable", "rate_limits": "in-process", "live_counts": "in-process"})
    );
    assert_refused(register(&server, "sixth@example.com").await, 5).await;

    redis.restart().await;
    wait_for_redis(&server, "ok").await;
    assert!(namespace.keys().await.is_empty(), "a new, empty Redis");
    let response = register(&server, "after@example.com").await;
    assert_eq!(response.status(), StatusCode::CREATED, "the (empty) shared budget decides again");
    assert_eq!(header(&response, "ratelimit-remaining"), 4);
    assert_eq!(namespace.keys().await.len(), 1, "and it lives in Redis again");
    assert_eq!(registrations(&server).await, 6);
}
