//! The public JSON API, websocket and pages, against the real server binary.
mod support;

use std::time::Duration;

use chrono::Duration as Span;
use futures::StreamExt;
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use support::TestServer;
use test_support::TestDatabase;
use webinar::webinar::Status;
use webinar::{queue, registration};

async fn post_json(server: &TestServer, body: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(server.url("/api/webinar/register"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

async fn stats(server: &TestServer, slug: &str) -> (StatusCode, Value) {
    let response = reqwest::get(server.url(&format!("/api/webinar/stats?webinar={slug}"))).await.expect("request");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

async fn rows(server: &TestServer) -> (u64, u64) {
    let registrations = registration::Entity::find().count(&server.db).await.expect("count");
    let jobs = queue::job::Entity::find().count(&server.db).await.expect("count");
    (registrations, jobs)
}

async fn registers_then_answers_the_same_for_the_same_address(database: TestDatabase) {
    let server = TestServer::start(database).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    let body = json!({"webinar": "launch", "name": "Ada", "email": "ada@example.com", "utm_source": "newsletter"});
    let (status, first) = post_json(&server, &body.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["webinar"], "launch");
    assert_eq!(first["registrations"], 1);
    let (status, again) = post_json(&server, &body.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again, first, "the same answer, which names no registration");
    assert!(first.get("registration_id").is_none(), "{first}");
    assert_eq!(rows(&server).await, (1, 4), "one registration with its confirmation and three reminders");
    let (status, counted) = stats(&server, "launch").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(counted["webinar"], "launch");
    assert_eq!(counted["registrations"], 1);
    assert_eq!(counted["stale"], false);
    assert!(counted["updated_at"].is_string());
}

async fn without_a_slug_registers_for_the_next_webinar(database: TestDatabase) {
    let server = TestServer::start(database).await;
    server.webinar("later", Status::Published, Span::days(10)).await;
    server.webinar("next", Status::Published, Span::days(1)).await;
    let (status, body) = post_json(&server, r#"{"name": "Ada", "email": "ada@example.com"}"#).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["webinar"], "next");
    let (status, body) = stats(&server, "").await;
    assert_eq!((status, body["webinar"].clone()), (StatusCode::OK, json!("next")));
}

async fn bad_input_is_422_and_writes_nothing(database: TestDatabase) {
    let server = TestServer::start(database).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    let cases = [
        (r#"{"webinar": "launch", "name": "", "email": "ada@example.com"}"#, "invalid_input", Some("name")),
        (r#"{"webinar": "launch", "name": "Ada", "email": "not-an-email"}"#, "invalid_input", Some("email")),
        (r#"{"webinar": "launch", "name": 42, "email": "ada@example.com"}"#, "invalid_body", Some("name")),
        (r#"{"webinar": "launch", "name": "Ada", "email": "ada@example.com", "admin": true}"#, "invalid_body", None),
        (r#"{"webinar": "launch", "name": "Ada""#, "invalid_body", None),
        (r#"{"webinar": "launch"}"#, "invalid_body", None),
        ("", "invalid_body", None),
    ];
    for (body, code, field) in cases {
        let (status, error) = post_json(&server, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_eq!(error["error"]["code"], code, "{body}: {error}");
        assert!(!error["error"]["message"].as_str().unwrap_or_default().is_empty(), "{body}: a message");
        if let Some(field) = field {
            let fields = error["error"]["fields"].as_array().cloned().unwrap_or_default();
            assert!(fields.iter().any(|f| f["field"] == field && f["message"].is_string()), "{body}: {error}");
        }
    }
    assert_eq!(rows(&server).await, (0, 0));
}

async fn unknown_hidden_and_closed_webinars_are_refused(database: TestDatabase) {
    let server = TestServer::start(database).await;
    server.webinar("draft", Status::Draft, Span::days(2)).await;
    server.webinar("cancelled", Status::Cancelled, Span::days(2)).await;
    server.webinar("over", Status::Published, -Span::hours(3)).await;
    let cases = [
        ("missing", StatusCode::NOT_FOUND, "webinar_not_found"),
        ("draft", StatusCode::NOT_FOUND, "webinar_not_found"),
        ("cancelled", StatusCode::CONFLICT, "registration_closed"),
        ("over", StatusCode::CONFLICT, "registration_closed"),
    ];
    for (slug, expected_status, code) in cases {
        let body = json!({"webinar": slug, "name": "Ada", "email": "ada@example.com"}).to_string();
        let (status, error) = post_json(&server, &body).await;
        assert_eq!((status, error["error"]["code"].clone()), (expected_status, json!(code)), "{slug}: {error}");
    }
    assert_eq!(stats(&server, "missing").await.0, StatusCode::NOT_FOUND);
    assert_eq!(stats(&server, "draft").await.0, StatusCode::NOT_FOUND);
    assert_eq!(rows(&server).await, (0, 0));
}

async fn a_full_webinar_answers_409_and_its_page_says_so(database: TestDatabase) {
    let server = TestServer::start(database).await;
    let small = server.webinar("small", Status::Published, Span::days(2)).await;
    test_support::set_capacity(&server.db, small.id, Some(1)).await.expect("set a capacity");
    let first = json!({"webinar": "small", "name": "Ada", "email": "ada@example.com"}).to_string();
    assert_eq!(post_json(&server, &first).await.0, StatusCode::CREATED);
    let second = json!({"webinar": "small", "name": "Grace", "email": "grace@example.com"}).to_string();
    let (status, error) = post_json(&server, &second).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["error"]["code"], "registration_closed");
    assert_eq!(error["error"]["message"], "This webinar is full, so registration is closed.");
    let page = reqwest::get(server.url("/webinars/small")).await.expect("page").text().await.expect("body");
    assert!(page.contains("This webinar is full, so registration is closed."), "the page says so");
    assert!(!page.contains(r#"name="email""#), "and shows no form");
    assert_eq!(rows(&server).await, (1, 4));
}

async fn a_body_over_16_kib_is_413(database: TestDatabase) {
    let server = TestServer::start(database).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    let name = "a".repeat(17 * 1024);
    let body = json!({"webinar": "launch", "name": name, "email": "ada@example.com"}).to_string();
    let (status, error) = post_json(&server, &body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error["error"]["code"], "payload_too_large");
    assert_eq!(rows(&server).await, (0, 0));
}

async fn the_websocket_pushes_every_new_count(database: TestDatabase) {
    let server = TestServer::start(database).await;
    let launch = server.webinar("launch", Status::Published, Span::days(2)).await;
    let session = test_support::the_session(&server.db, launch.id).await.expect("its session").id.to_string();
    let ws_url = server.url("/api/webinar/live?webinar=launch").replacen("http", "ws", 1);
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url).await.expect("connect");
    let mut next_count = async || {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next()).await.expect("a message in time");
        let text = message.expect("open").expect("a frame").into_text().expect("text");
        serde_json::from_str::<Value>(&text).expect("JSON")
    };
    assert_eq!(next_count().await, json!({"registrations": 0, "sessions": {session.clone(): 0}}));
    for (n, email) in ["ada@example.com", "grace@example.com"].into_iter().enumerate() {
        let body = json!({"webinar": "launch", "name": "A", "email": email}).to_string();
        assert_eq!(post_json(&server, &body).await.0, StatusCode::CREATED);
        assert_eq!(next_count().await, json!({"registrations": n + 1, "sessions": {session.clone(): n + 1}}));
    }
    let refused =
        tokio_tungstenite::connect_async(server.url("/api/webinar/live?webinar=nope").replacen("http", "ws", 1)).await;
    assert!(refused.is_err(), "an unknown webinar has no live count");
}

async fn the_landing_page_is_rendered_on_the_server(database: TestDatabase) {
    let server = TestServer::start(database).await;
    let webinar = server.webinar("launch", Status::Published, Span::days(2)).await;
    server.webinar("hidden", Status::Draft, Span::days(1)).await;
    for path in ["/", "/webinars/launch"] {
        let response = reqwest::get(server.url(path)).await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let html = response.text().await.expect("body");
        assert!(html.contains("<h1>Growth webinar launch</h1>"), "{path}: title");
        let session = test_support::the_session(&server.db, webinar.id).await.expect("its session");
        assert!(html.contains(&session.start_local(webinar.tz())), "{path}: local start time");
        assert!(html.contains("Grace Hopper"), "{path}: speakers");
        assert!(html.contains("Second paragraph."), "{path}: description");
        assert!(html.contains(r#"name="email""#), "{path}: the form");
        assert!(html.contains("/pkg/webinar.js"), "{path}: hydration script");
    }
    for path in ["/webinars/hidden", "/webinars/missing"] {
        let response = reqwest::get(server.url(path)).await.expect("request");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(response.text().await.expect("body").contains("Webinar not found"));
    }
}

async fn the_form_works_without_javascript(database: TestDatabase) {
    let server = TestServer::start(database).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let post = |form: &'static [(&'static str, &'static str)]| {
        client
            .post(server.url("/api/fn/register"))
            .header("accept", "text/html")
            .header("referer", server.url("/webinars/launch"))
            .form(form)
            .send()
    };
    let rejected = post(&[("webinar", "launch"), ("name", " "), ("email", "nope")]).await.expect("post");
    assert_eq!(rejected.status(), StatusCode::FOUND);
    let location = rejected.headers()["location"].to_str().expect("location").to_owned();
    assert_eq!(location, "/webinars/launch?invalid=name,email#register");
    let page = reqwest::get(server.url(&location)).await.expect("page").text().await.expect("body");
    assert!(page.contains("Enter your name (1 to 100 characters)."), "the error is shown next to the field");

    let accepted =
        post(&[("webinar", "launch"), ("name", "Ada Lovelace"), ("email", "ada@example.com"), ("company", "")])
            .await
            .expect("post");
    assert_eq!(accepted.status(), StatusCode::FOUND);
    let location = accepted.headers()["location"].to_str().expect("location").to_owned();
    assert_eq!(location, "/webinars/launch?registered=1#register");
    // The typed name comes back in the visitor's own short-lived cookie, as a browser would send it.
    let cookie = accepted.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let page = client.get(server.url(&location)).header("cookie", cookie).send().await.expect("page");
    let page = page.text().await.expect("body");
    assert!(page.contains("You're registered, Ada Lovelace!"), "the success state");
    assert_eq!(rows(&server).await, (1, 4));
}

test_support::on_both_databases!(
    registers_then_answers_the_same_for_the_same_address,
    without_a_slug_registers_for_the_next_webinar,
    bad_input_is_422_and_writes_nothing,
    unknown_hidden_and_closed_webinars_are_refused,
    a_full_webinar_answers_409_and_its_page_says_so,
    a_body_over_16_kib_is_413,
    the_websocket_pushes_every_new_count,
    the_landing_page_is_rendered_on_the_server,
    the_form_works_without_javascript,
);
