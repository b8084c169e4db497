//! Webhooks from outside: endpoints made over the API and refused when they
//! point inside (server-side request forgery), signed deliveries of what
//! registrants and the API do, the delivery log and a redelivery, an
//! endpoint checked again at delivery, and a kill -9 between the commit and
//! the delivery that loses nothing.
mod support;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{TestServer, call_api, client, create_token};
use test_support::TestDatabase;
use tools::webhook_receiver::Receiver;
use webinar::webinar::Status;

const ALLOW_PRIVATE: (&str, &str) = ("WEBHOOK_ALLOW_PRIVATE", "true");

async fn register(server: &TestServer, email: &str) {
    let body = json!({"webinar": "launch", "name": "Ada Lovelace", "email": email});
    let response = client().post(server.url("/api/webinar/register")).json(&body).send().await.expect("register");
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn webhooks_refuse_urls_that_point_inside(database: TestDatabase) {
    let server = TestServer::start(database).await;
    let token = create_token(&server, "crm", "write").await;
    for url in [
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:169.254.169.254]/",
        "https://localhost/hook",
        "http://hooks.example.com/hook",
        "gopher://hooks.example.com/",
    ] {
        let body = json!({"url": url, "events": ["registration.created"]});
        let (status, answer) = call_api(&server, &token, Method::POST, "/api/v1/webhooks", Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {answer}");
        assert_eq!(answer["error"]["fields"][0]["field"], "url", "{url}: {answer}");
    }
    for (body, field) in [
        (json!({"url": "https://hooks.example.com/", "events": ["registration.exploded"]}), "events"),
        (json!({"url": "https://hooks.example.com/", "events": []}), "events"),
        (json!({"events": ["registration.created"]}), "url"),
    ] {
        let (status, answer) = call_api(&server, &token, Method::POST, "/api/v1/webhooks", Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        let fields = answer["error"]["fields"].as_array().cloned().unwrap_or_default();
        assert!(fields.iter().any(|error| error["field"] == field), "{field}: {answer}");
    }
    let (status, _) = call_api(
        &server,
        &token,
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({"url": "https://x.example", "secret": "mine"})),
    )
    .await;
    assert!(status.is_client_error(), "an unknown field is refused, not ignored: {status}");
    let (status, listed) = call_api(&server, &token, Method::GET, "/api/v1/webhooks", None).await;
    assert_eq!((status, listed["data"].clone()), (StatusCode::OK, json!([])), "nothing was written");
    for path in ["/api/v1/webhooks/abc", "/api/v1/webhooks/99", "/api/v1/webhooks/99/deliveries"] {
        let (status, answer) = call_api(&server, &token, Method::GET, path, None).await;
        assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::NOT_FOUND, json!("webhook_not_found")));
    }
}

async fn deliveries_are_signed_logged_and_redelivered(database: TestDatabase) {
    let server = TestServer::start_with(database, &[ALLOW_PRIVATE]).await;
    server.webinar("launch", Status::Published, chrono::Duration::days(3)).await;
    let token = create_token(&server, "crm", "write").await;
    let reader = create_token(&server, "reports", "read").await;
    let receiver = Receiver::start(Duration::ZERO).await.expect("receiver");
    let body = json!({"url": receiver.url("/crm"), "events": ["registration.created", "webinar.updated"]});
    let (status, created) = call_api(&server, &token, Method::POST, "/api/v1/webhooks", Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().expect("the secret, once").to_owned();
    assert!(secret.starts_with("whsec_"));
    let id = created["id"].as_i64().expect("id");
    let (_, listed) = call_api(&server, &reader, Method::GET, "/api/v1/webhooks", None).await;
    assert_eq!(listed["data"][0]["events"], json!(["registration.created", "webinar.updated"]));
    assert!(listed["data"][0].get("secret").is_none(), "never shown again: {listed}");
    let (status, _) = call_api(&server, &reader, Method::POST, "/api/v1/webhooks", Some(body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a read token makes no webhook");

    register(&server, "ada@example.com").await;
    let patch = json!({"title": "Spring launch"});
    let (status, _) = call_api(&server, &token, Method::PATCH, "/api/v1/webinars/launch", Some(patch)).await;
    assert_eq!(status, StatusCode::OK);
    let received = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 2, "{received:?}");
    let mut types: Vec<String> =
        received.iter().map(|arrival| arrival.json()["type"].as_str().unwrap_or("").into()).collect();
    types.sort();
    assert_eq!(types, ["registration.created", "webinar.updated"]);
    for arrival in &received {
        assert!(arrival.signed_with(&secret), "signed: {arrival:?}");
        assert_eq!(arrival.header("content-type"), "application/json");
    }
    let updated = received.iter().find(|arrival| arrival.json()["type"] == "webinar.updated").expect("updated");
    assert_eq!(updated.json()["data"]["title"], "Spring launch");

    let path = format!("/api/v1/webhooks/{id}/deliveries");
    let (status, log) = call_api(&server, &reader, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let first = &log["data"][1];
    assert_eq!((first["status"].clone(), first["log"][0]["status_code"].clone()), (json!("delivered"), json!(200)));
    let delivery = first["id"].as_i64().expect("delivery id");
    let again = format!("/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver");
    let (status, _) = call_api(&server, &reader, Method::POST, &again, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, queued) = call_api(&server, &token, Method::POST, &again, None).await;
    assert_eq!((status, queued["status"].clone()), (StatusCode::ACCEPTED, json!("pending")), "{queued}");
    let received = receiver.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(received[2].id(), first["message_id"].as_str().expect("message id"), "the same webhook-id");
    let missing = format!("/api/v1/webhooks/{id}/deliveries/999999/redeliver");
    let (status, _) = call_api(&server, &token, Method::POST, &missing, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = call_api(&server, &token, Method::DELETE, &format!("/api/v1/webhooks/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    register(&server, "grace@example.com").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 3, "nothing goes to a deleted endpoint");
    let (status, _) = call_api(&server, &token, Method::GET, &format!("/api/v1/webhooks/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn an_endpoint_is_checked_again_at_delivery(database: TestDatabase) {
    let mut server = TestServer::start_with(database, &[ALLOW_PRIVATE]).await;
    server.webinar("launch", Status::Published, chrono::Duration::days(3)).await;
    let token = create_token(&server, "crm", "write").await;
    let receiver = Receiver::start(Duration::ZERO).await.expect("receiver");
    let body = json!({"url": receiver.url("/crm"), "events": ["registration.created"]});
    let (status, created) = call_api(&server, &token, Method::POST, "/api/v1/webhooks", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED);
    // The same endpoint, now served by a server that allows neither plain
    // http nor private addresses (its resolver's check is a unit test).
    server.restart(&[]).await;
    register(&server, "ada@example.com").await;
    let path = format!("/api/v1/webhooks/{}/deliveries", created["id"]);
    let mut log = Value::Null;
    for _ in 0..100 {
        (_, log) = call_api(&server, &token, Method::GET, &path, None).await;
        if log["data"][0]["attempts"] == json!(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let error = log["data"][0]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("https URL"), "refused at delivery: {log}");
    assert_eq!(log["data"][0]["log"][0]["status_code"], Value::Null, "no request was made");
    assert!(receiver.received().is_empty());
}

async fn a_kill_between_commit_and_delivery_loses_nothing(database: TestDatabase) {
    let settings = [ALLOW_PRIVATE, ("WORKER_LEASE_SECS", "2")];
    let mut server = TestServer::spawn_with(database, &settings).await;
    server.webinar("launch", Status::Published, chrono::Duration::days(3)).await;
    let token = create_token(&server, "crm", "write").await;
    let receiver = Receiver::start(Duration::ZERO).await.expect("receiver");
    let body = json!({"url": receiver.url("/crm"), "events": ["registration.created"]});
    let (status, created) = call_api(&server, &token, Method::POST, "/api/v1/webhooks", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED);
    receiver.hang_next(1);
    register(&server, "ada@example.com").await;
    let first = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(first.len(), 1, "the delivery is out");
    server.kill().await;
    server.restart(&settings).await;
    let received = receiver.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 2, "delivered after the restart");
    assert_eq!(received[1].id(), received[0].id(), "as the same message");
    assert!(received[1].signed_with(created["secret"].as_str().expect("secret")));
    assert_eq!(received[1].json()["data"]["email"], "ada@example.com");
}

test_support::on_both_databases!(
    webhooks_refuse_urls_that_point_inside,
    deliveries_are_signed_logged_and_redelivered,
    an_endpoint_is_checked_again_at_delivery,
    a_kill_between_commit_and_delivery_loses_nothing,
);
