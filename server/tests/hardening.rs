//! HTTP hardening: security headers on every kind of response, request ids,
//! body limits and the request time limit.
mod support;

use std::time::{Duration, Instant};

use chrono::Duration as Span;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use support::TestServer;
use test_support::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use webinar::webinar::Status;

async fn server() -> TestServer {
    let server = TestServer::start(TestDatabase::sqlite().expect("database")).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    server
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_else(|| panic!("no {name} header"))
}

/// The headers every response carries, whatever produced it.
fn assert_hardened(headers: &HeaderMap, what: &str) {
    assert_eq!(header(headers, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header(headers, "referrer-policy"), "strict-origin-when-cross-origin", "{what}");
    assert_eq!(header(headers, "x-frame-options"), "DENY", "{what}");
    let policy = header(headers, "content-security-policy");
    assert!(policy.contains("frame-ancestors 'none'"), "{what}: {policy}");
    assert!(policy.contains("object-src 'none'"), "{what}: {policy}");
    let scripts = policy.split(';').map(str::trim).find(|directive| directive.starts_with("script-src"));
    let scripts = scripts.unwrap_or_else(|| panic!("{what}: no script-src in {policy}"));
    assert!(!scripts.contains("unsafe-inline"), "{what}: no inline script without a nonce: {policy}");
}

#[tokio::test]
async fn every_kind_of_response_has_the_security_headers() {
    let server = server().await;
    let client = reqwest::Client::new();
    let cases = [
        ("landing page", client.get(server.url("/webinars/launch"))),
        ("unknown page (404)", client.get(server.url("/webinars/nope"))),
        ("JSON API", client.get(server.url("/api/webinar/stats?webinar=launch"))),
        ("JSON error", client.post(server.url("/api/webinar/register")).body("{")),
        ("admin login page", client.get(server.url("/admin/login"))),
        ("hand-written HTML page", client.get(server.url("/u/not-a-token"))),
        ("health", client.get(server.url("/healthz"))),
    ];
    for (what, request) in cases {
        let response = request.send().await.expect(what);
        assert_hardened(response.headers(), what);
    }
}

#[tokio::test]
async fn a_page_allows_exactly_its_own_hydration_script() {
    let server = server().await;
    let response = reqwest::get(server.url("/webinars/launch")).await.expect("page");
    let policy = header(response.headers(), "content-security-policy").to_owned();
    let page = response.text().await.expect("body");
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("a page's policy names a nonce: {policy}"));
    assert!(nonce.len() >= 16, "a nonce worth the name: {nonce}");
    assert!(policy.contains("'wasm-unsafe-eval'"), "the wasm bundle may compile: {policy}");
    let scripts: Vec<&str> = page.split("<script").skip(1).collect();
    assert!(!scripts.is_empty(), "the page hydrates");
    for script in scripts {
        let tag = script.split('>').next().unwrap_or_default();
        assert!(tag.contains(&format!("nonce=\"{nonce}\"")), "every script carries the nonce: <script{tag}>");
    }
    let again = reqwest::get(server.url("/webinars/launch")).await.expect("page");
    let second = header(again.headers(), "content-security-policy");
    assert!(!second.contains(nonce), "a fresh nonce per response");
    // Responses Leptos did not render allow no inline script at all.
    let api = reqwest::get(server.url("/api/webinar/stats?webinar=launch")).await.expect("stats");
    let policy = header(api.headers(), "content-security-policy");
    assert!(policy.contains("script-src 'self';") && !policy.contains("nonce"), "{policy}");
}

#[tokio::test]
async fn requests_get_an_id_or_keep_the_one_they_bring() {
    let server = server().await;
    let made = reqwest::get(server.url("/healthz")).await.expect("health");
    let id = header(made.headers(), "x-request-id").to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let other = reqwest::get(server.url("/healthz")).await.expect("health");
    assert_ne!(header(other.headers(), "x-request-id"), id, "one id per request");
    let kept = reqwest::Client::new()
        .get(server.url("/healthz"))
        .header("x-request-id", "from-the-load-balancer-42")
        .send()
        .await
        .expect("health");
    assert_eq!(header(kept.headers(), "x-request-id"), "from-the-load-balancer-42");
}

#[tokio::test]
async fn the_form_s_server_function_has_the_body_limit_too() {
    let server = server().await;
    let name = "a".repeat(17 * 1024);
    let response = reqwest::Client::new()
        .post(server.url("/api/fn/register"))
        .header("accept", "application/json")
        .form(&[("webinar", "launch"), ("name", name.as_str()), ("email", "ada@example.com")])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_hardened(response.headers(), "413");
    let stats: Value =
        reqwest::get(server.url("/api/webinar/stats?webinar=launch")).await.expect("stats").json().await.expect("JSON");
    assert_eq!(stats["registrations"], 0, "nothing was written");
}

/// A client that announces a body and stalls is answered 408 with a JSON
/// error once `REQUEST_TIMEOUT_SECS` is up, and the connection is not held.
#[tokio::test]
async fn a_stalled_request_is_answered_408_after_the_time_limit() {
    let server =
        TestServer::start_with(TestDatabase::sqlite().expect("database"), &[("REQUEST_TIMEOUT_SECS", "1")]).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let head = format!(
        "POST /api/webinar/register HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\nConnection: close\r\n\r\n{{\"webinar\": \"launch\","
    );
    stream.write_all(head.as_bytes()).await.expect("send the head and part of the body");
    let started = Instant::now();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("answered within 10 s")
        .expect("read");
    let waited = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(5), "after the limit: {waited:?}");
    // A request that is on time is untouched.
    let body = json!({"webinar": "launch", "name": "Ada", "email": "ada@example.com"});
    let response =
        reqwest::Client::new().post(server.url("/api/webinar/register")).json(&body).send().await.expect("post");
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// Another application starting in this process (as the in-process tests'
/// servers do) leaves a page being rendered meanwhile alone: listing the
/// pages' routes, which each start does, once parked every page resource
/// first polled while the listing ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_while_another_application_starts() {
    let server = server().await;
    let starting = tokio::task::spawn_blocking(|| {
        for _ in 0..300 {
            drop(server::routes::page_routes());
        }
    });
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let mut rendered = 0;
    while !starting.is_finished() || rendered < 20 {
        let pages = (0..4).map(|_| client.get(server.url("/webinars/launch")).send());
        for answer in futures::future::join_all(pages).await {
            let status = answer.expect("the page is answered within 10 s").status();
            assert_eq!(status, StatusCode::OK);
            rendered += 1;
        }
    }
    starting.await.expect("the route listings");
}
