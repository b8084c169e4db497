//! Generated hostile input against the real server: 100,000 requests on
//! SQLite and a tenth as many on Postgres (`FUZZ_CASES` to change) made by
//! proptest strategies — registration payloads (structured, wrong types,
//! truncated, raw bytes; control characters, quoted and non-ASCII
//! addresses, odd slugs), query parameters of the JSON API and the pages,
//! the plain (no-JavaScript) form, and the admin's webinar form.
//!
//! The property: no 5xx and no dropped connection (a panic would be one);
//! every refusal of the JSON API and the admin's server functions is a 4xx
//! with a JSON body, and pages answer 200 or 404 with HTML.
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chrono::Duration as Span;
use futures::StreamExt;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, COOKIE};
use serde_json::{Map, Value};
use support::{EMAIL, PASSWORD, TestServer, create_admin, logged_in};
use test_support::TestDatabase;
use webinar::webinar::Status;

#[derive(Debug, Clone)]
enum Input {
    /// A body for `POST /api/webinar/register`.
    Register(Vec<u8>),
    /// The landing page's form posted without JavaScript, field by field.
    PlainForm(Vec<(String, String)>),
    /// A path and query of the JSON API.
    Api(String),
    /// A path and query of a page or a registrant link.
    Page(String),
    /// The admin's webinar form, field by field.
    AdminForm(Vec<(String, String)>),
}

/// Text a person, a script or an attacker might send.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9@._+ -]{0,40}",
        "[a-z]{1,12}@[a-z]{1,12}\\.[a-z]{2,4}",
        Just("<script>alert(1)</script>".to_owned()),
        Just("\"><img src=x onerror=alert(1)>".to_owned()),
        Just("javascript:alert(1)".to_owned()),
        Just("'; DROP TABLE registrations; --".to_owned()),
        Just("=HYPERLINK(\"http://evil\")".to_owned()),
        Just("\u{0}\u{1b}[31m\r\n".to_owned()),
        Just("%00%ff%".to_owned()),
        // Control characters (C0, DEL, C1) inside otherwise ordinary text.
        ("[a-z]{0,6}", "[\\x00-\\x1f\\x7f\u{80}-\u{9f}]{1,3}", "[a-z@.]{0,6}")
            .prop_map(|(a, c, b)| format!("{a}{c}{b}")),
        // Addresses the product refuses: quoted, non-ASCII, odd.
        "\"[a-z ,@]{1,10}\"@example\\.com",
        "[é-ü用户]{1,5}@example\\.com",
        Just("ada@例子.广告".to_owned()),
        Just("ada@[127.0.0.1]".to_owned()),
        Just("Ada <ada@example.com>".to_owned()),
        // Spellings of a slug and paths that are not one.
        proptest::sample::select(
            &[" launch ", "LAUNCH", "launch\n", "launch\t", "../admin", "launch/../x", "läunch", "launch--x"][..]
        )
        .prop_map(str::to_owned),
        (1usize..20_000).prop_map(|n| "a".repeat(n)),
        Just("launch".to_owned()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        text().prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|n| serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec(("[a-z]{1,6}", inner), 0..4)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<String, Value>>()))
        ]
    })
}

const REGISTRATION_FIELDS: &[&str] =
    &["webinar", "name", "email", "company", "icp", "utm_source", "utm_medium", "utm_campaign"];

fn registration() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![proptest::sample::select(REGISTRATION_FIELDS).prop_map(str::to_owned), "[a-z_]{1,10}"];
    let value = prop_oneof![3 => text().prop_map(Value::String), 1 => json_value()];
    let object = vec((field, value), 0..10).prop_map(|pairs| {
        let object: Map<String, Value> = pairs.into_iter().collect();
        serde_json::to_vec(&object).unwrap_or_default()
    });
    prop_oneof![
        6 => object.clone(),
        1 => (object, any::<prop::sample::Index>()).prop_map(|(body, cut)| body[..cut.index(body.len() + 1)].to_vec()),
        1 => json_value().prop_map(|value| serde_json::to_vec(&value).unwrap_or_default()),
        1 => vec(any::<u8>(), 0..300),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        proptest::sample::select(&["webinar", "icp", "registered", "invalid", "utm_source", "slug"][..])
            .prop_map(str::to_owned),
        any::<String>(),
    ];
    vec((key, text()), 0..5).prop_map(|pairs| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in &pairs {
            query.append_pair(key, value);
        }
        query.finish()
    })
}

/// A path segment, percent-encoded.
fn segment() -> impl Strategy<Value = String> {
    text().prop_map(|text| url::form_urlencoded::byte_serialize(text.as_bytes()).collect())
}

const FORM_FIELDS: &[&str] = &[
    "original",
    "slug",
    "title",
    "subtitle",
    "description",
    "speakers",
    "agenda",
    "starts_local",
    "timezone",
    "duration_minutes",
    "join_url",
    "capacity",
    "status",
    "confirm",
];

fn admin_form() -> impl Strategy<Value = Vec<(String, String)>> {
    let plausible = prop_oneof![
        text(),
        Just("2031-03-04T17:00".to_owned()),
        Just("Europe/Berlin".to_owned()),
        Just("published".to_owned()),
        Just("45".to_owned()),
        Just("https://meet.example.com/x".to_owned()),
        Just("Ada | Host | https://example.com/a.png".to_owned()),
        Just("0:00 | Welcome".to_owned()),
    ];
    // Mostly every field (with the odd one dropped), sometimes a random subset.
    let full = vec(plausible.clone(), FORM_FIELDS.len())
        .prop_map(|values| FORM_FIELDS.iter().map(|field| field.to_string()).zip(values).collect::<Vec<_>>());
    let partial = vec((proptest::sample::select(FORM_FIELDS).prop_map(str::to_owned), plausible), 0..8);
    prop_oneof![3 => full, 1 => partial]
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        45 => registration().prop_map(Input::Register),
        30 => (proptest::sample::select(&["/api/webinar/stats", "/api/webinar/stats", "/api/webinar/live"][..]), query())
            .prop_map(|(path, query)| Input::Api(format!("{path}?{query}"))),
        5 => (proptest::sample::select(&["/webinars/", "/j/", "/u/", "/?x=", "/admin/login?failed="][..]), segment(), query())
            .prop_map(|(prefix, segment, query)| Input::Page(format!("{prefix}{segment}?{query}"))),
        5 => vec((proptest::sample::select(REGISTRATION_FIELDS).prop_map(str::to_owned), text()), 0..9)
            .prop_map(Input::PlainForm),
        20 => admin_form().prop_map(Input::AdminForm),
    ]
}

/// What went wrong with one input, if anything.
async fn check(server: &TestServer, client: &reqwest::Client, cookie: &str, input: &Input) -> Result<(), String> {
    let (request, json_answers) = match input {
        Input::Register(body) => (
            client
                .post(server.url("/api/webinar/register"))
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone()),
            true,
        ),
        Input::Api(path) => (client.get(server.url(path)), true),
        Input::PlainForm(form) => (
            client
                .post(server.url("/api/fn/register"))
                .header(ACCEPT, "text/html")
                .header(reqwest::header::REFERER, server.url("/webinars/launch"))
                .form(form),
            false,
        ),
        Input::Page(path) => (client.get(server.url(path)), false),
        Input::AdminForm(form) => (
            client
                .post(server.url("/api/fn/admin_save_webinar"))
                .header(COOKIE, cookie)
                .header(ACCEPT, "application/json")
                .form(form),
            true,
        ),
    };
    let response = request.send().await.map_err(|error| format!("no answer (a crash?): {error:?}"))?;
    let status = response.status();
    let kind = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let response_location =
        response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.bytes().await.map_err(|error| format!("body cut off: {error}"))?;
    if status.is_server_error() {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err("rate limited: the limits are meant to be out of the way here".into());
    }
    if matches!(input, Input::PlainForm(_)) {
        // A person's browser follows a redirect back to a page of ours, or reads a page.
        let location = response_location.unwrap_or_default();
        return match status.is_redirection() {
            true if location.contains("__err") => Err(format!("a form error in the redirect: {location:?}")),
            true if location.starts_with('/') && !location.starts_with("//") => Ok(()),
            true => Err(format!("redirected off the site: {location:?}")),
            false if status.is_client_error() => Ok(()),
            false => Err(format!("a plain form post answered {status}")),
        };
    }
    match json_answers {
        true if status.is_client_error() => {
            let error: Value = serde_json::from_slice(&body).map_err(|_| format!("{status} without JSON ({kind})"))?;
            let api_error = error["error"]["code"].is_string() && error["error"]["message"].is_string();
            // Server functions answer in their own JSON encoding (`AppError`).
            let function_error = matches!(input, Input::AdminForm(_)) && (error.is_object() || error.is_string());
            if !(api_error || function_error) {
                return Err(format!("{status} with an unexpected JSON error: {error}"));
            }
        }
        true => {}
        false if status == StatusCode::OK || status == StatusCode::NOT_FOUND => {
            if !kind.starts_with("text/html") {
                return Err(format!("a page answered {kind}"));
            }
        }
        // A control character or an over-long address in a link: a clear refusal.
        false if status == StatusCode::BAD_REQUEST || status == StatusCode::URI_TOO_LONG => {}
        // Planted form-error parameters: back to the same page without them.
        false if status == StatusCode::SEE_OTHER && response_location.is_some_and(|to| to.starts_with('/')) => {}
        false => return Err(format!("a page answered {status}")),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_generated_inputs_get_no_5xx_and_json_errors() {
    let cases: u32 = std::env::var("FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    fuzz(TestDatabase::sqlite().expect("database"), cases).await;
}

/// Postgres refuses what SQLite stores (NUL in text): the same inputs, a
/// tenth as many, against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_inputs_on_postgres_get_no_5xx_either() {
    let cases: u32 = std::env::var("FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    fuzz(TestDatabase::postgres().await.expect("database"), (cases / 10).max(1)).await;
}

async fn fuzz(database: TestDatabase, cases: u32) {
    let env = [
        ("RATE_LIMIT_REGISTER", "100000000/1m"),
        ("RATE_LIMIT_PUBLIC", "100000000/1m"),
        ("RUN_WORKER", "false"),
        ("RUST_LOG", "warn"),
    ];
    // A process of its own: a failure shows the server's log.
    let server = TestServer::spawn_with(database, &env).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    assert!(create_admin(&server, EMAIL, PASSWORD).await.0);
    let cookie = logged_in(&server).await;

    // Inputs come from proptest's runner (a fixed seed, so a failure repeats),
    // made one at a time as the requests go out.
    let mut runner = TestRunner::new(Config { cases, ..Config::default() });
    let strategy = input();
    let mut kinds = [0usize; 5];
    // Redirects are answers to check, not to follow.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(32)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let checked = AtomicUsize::new(0);
    let started = Instant::now();
    let failures: Vec<String> = futures::stream::iter(0..cases)
        .map(|_| {
            let input = strategy.new_tree(&mut runner).map(|tree| tree.current()).expect("generate an input");
            kinds[match input {
                Input::Register(_) => 0,
                Input::Api(_) => 1,
                Input::Page(_) => 2,
                Input::AdminForm(_) => 3,
                Input::PlainForm(_) => 4,
            }] += 1;
            let (server, client, cookie, checked) = (&server, &client, cookie.as_str(), &checked);
            async move {
                checked.fetch_add(1, Ordering::Relaxed);
                check(server, client, cookie, &input).await.err().map(|why| format!("{why}\n  input: {input:?}"))
            }
        })
        .buffer_unordered(16)
        .filter_map(|failure| async move { failure })
        .take(5)
        .collect()
        .await;
    let [register, api, pages, forms, plain] = kinds;
    println!(
        "inputs: {register} registration bodies, {api} API queries, {pages} page paths, {forms} admin forms, \
         {plain} plain form posts"
    );
    println!("checked {} inputs in {:.1?}", checked.load(Ordering::Relaxed), started.elapsed());
    if !failures.is_empty() {
        let alive = reqwest::get(server.url("/healthz")).await.map(|response| response.status());
        let logs = server.logs().into_iter().rev().take(20).collect::<Vec<_>>();
        panic!(
            "{} failures, the first:\n{}\nthe server afterwards: {alive:?}; its last log lines:\n{}",
            failures.len(),
            failures.join("\n"),
            logs.join("\n")
        );
    }
    assert_eq!(checked.load(Ordering::Relaxed), cases as usize);
    let health = reqwest::get(server.url("/healthz")).await.expect("still up after it all");
    assert_eq!(health.status(), StatusCode::OK);
}
