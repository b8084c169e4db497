//! The email side of the server binary: its worker writing to the dev outbox,
//! join links and unsubscribe links.
mod support;

use std::time::Duration;

use chrono::Duration as Span;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::json;
use support::TestServer;
use test_support::TestDatabase;
use webinar::email::links::Links;
use webinar::queue::{self, Kind, Status};
use webinar::registration;
use webinar::webinar::Status as WebinarStatus;

async fn register(server: &TestServer, email: &str) -> registration::Model {
    let body = json!({"webinar": "launch", "name": "Ada Lovelace", "email": email, "icp": "founders"});
    let response =
        reqwest::Client::new().post(server.url("/api/webinar/register")).json(&body).send().await.expect("register");
    assert_eq!(response.status(), StatusCode::CREATED);
    server.registrant(email).await
}

async fn the_confirmation_lands_in_the_dev_outbox(database: TestDatabase) {
    let server = TestServer::start(database).await;
    server.webinar("launch", WebinarStatus::Published, Span::days(2)).await;
    let registrant = register(&server, "ada@example.com").await;
    let messages = server.outbox_messages(1).await;
    let eml = &messages[0];
    assert!(eml.contains("To: \"Ada Lovelace\" <ada@example.com>"), "{eml}");
    assert!(
        eml.contains("Subject: Your seat is saved: Growth webinar launch (for founders)"),
        "the ICP variant: {eml}"
    );
    let unsubscribe = Links::new(&server.base, support::SECRET_KEY.as_bytes()).unsubscribe_url(registrant.id);
    assert!(eml.contains(&format!("List-Unsubscribe: <{unsubscribe}>")), "{eml}");
    assert!(eml.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{eml}");
    assert!(eml.contains("Content-Type: text/calendar"), "the invite: {eml}");
    assert!(eml.contains(&format!("{}/j/{}", server.base, registrant.token)), "the join link: {eml}");

    // The worker records the outcome just after the outbox has the file.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let jobs = queue::for_registration(&server.db, registrant.id).await.expect("jobs");
        let confirmation = jobs.iter().find(|job| job.kind == Kind::Confirmation).expect("confirmation");
        assert!(jobs.iter().filter(|job| job.kind != Kind::Confirmation).all(|job| job.status == Status::Pending));
        if confirmation.status == Status::Sent {
            break;
        }
        assert_eq!(confirmation.status, Status::Pending, "delivered, being recorded (held by the worker's lease)");
        assert!(tokio::time::Instant::now() < deadline, "the confirmation was never recorded as sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn the_join_link_follows_the_current_meeting_url(database: TestDatabase) {
    let server = TestServer::start(database).await;
    server.webinar("launch", WebinarStatus::Published, Span::days(2)).await;
    let registrant = register(&server, "ada@example.com").await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = client.get(server.url(&format!("/j/{}", registrant.token))).send().await.expect("join");
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(response.headers()["location"], "https://meet.example.com/x");
    let unknown = client.get(server.url("/j/not-a-token")).send().await.expect("join");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(unknown.text().await.expect("page").contains("This join link is not valid"));
}

async fn unsubscribing_stops_every_further_email(database: TestDatabase) {
    let server = TestServer::start(database).await;
    server.webinar("launch", WebinarStatus::Published, Span::days(2)).await;
    let registrant = register(&server, "ada@example.com").await;
    let links = Links::new(&server.base, support::SECRET_KEY.as_bytes());
    let url = links.unsubscribe_url(registrant.id);

    let page = reqwest::get(&url).await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("page").contains("<form method=\"post\""), "a GET only asks");
    let still = registration::Entity::find_by_id(registrant.id).one(&server.db).await.expect("query").expect("row");
    assert!(still.unsubscribed_at.is_none());

    // RFC 8058 one-click, as a mail client sends it.
    let client = reqwest::Client::new();
    let done = client.post(&url).form(&[("List-Unsubscribe", "One-Click")]).send().await.expect("post");
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.expect("page").contains("You won't get any more emails about Growth webinar launch"));
    let again = client.post(&url).send().await.expect("post");
    assert_eq!(again.status(), StatusCode::OK, "unsubscribing twice is fine");

    let after = registration::Entity::find_by_id(registrant.id).one(&server.db).await.expect("query").expect("row");
    assert!(after.unsubscribed_at.is_some());
    let jobs = queue::for_registration(&server.db, registrant.id).await.expect("jobs");
    let reminders: Vec<_> = jobs.iter().filter(|job| job.kind != Kind::Confirmation).collect();
    assert_eq!(reminders.len(), 3);
    assert!(reminders.iter().all(|job| job.status == Status::Cancelled), "{reminders:?}");

    let forged = url.replace(&format!("/u/{}.", registrant.id), &format!("/u/{}.", registrant.id + 1));
    assert_eq!(client.post(&forged).send().await.expect("post").status(), StatusCode::NOT_FOUND);
    assert_eq!(reqwest::get(server.url("/u/1.00")).await.expect("get").status(), StatusCode::NOT_FOUND);
}

/// Runs `server webinar …` against the test server's database.
async fn cli(server: &TestServer, args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("webinar")
        .args(args)
        .env("DATABASE_URL", &server.database_url)
        .output()
        .await
        .expect("run the CLI");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

async fn reschedule_and_cancel_email_every_registrant(database: TestDatabase) {
    let server = TestServer::start(database).await;
    server.webinar("launch", WebinarStatus::Published, Span::days(2)).await;
    let registrant = register(&server, "ada@example.com").await;
    server.outbox_messages(1).await;

    let new_start = support::now() + Span::days(3);
    let (ok, said) = cli(&server, &["reschedule", "--slug", "launch", "--starts-at", &new_start.to_rfc3339()]).await;
    assert!(ok, "{said}");
    assert!(
        said.contains("3 reminders due at the new time, 0 dropped as past, 1 registrants will be emailed"),
        "{said}"
    );
    let messages = server.outbox_messages(2).await;
    let notice =
        messages.iter().find(|eml| eml.contains("Subject: New time: Growth webinar launch")).expect("a notice");
    assert!(notice.contains("SEQUENCE:1"), "the invite's sequence went up: {notice}");
    let jobs = queue::for_registration(&server.db, registrant.id).await.expect("jobs");
    let reminder = jobs.iter().find(|job| job.kind == Kind::Reminder24h).expect("24 h reminder");
    assert_eq!(reminder.run_at, new_start - Span::hours(24));

    let (ok, said) = cli(&server, &["cancel", "--slug", "launch"]).await;
    assert!(ok, "{said}");
    assert!(said.contains("3 queued emails withdrawn, 1 registrants will be emailed"), "{said}");
    let messages = server.outbox_messages(3).await;
    let cancelled =
        messages.iter().find(|eml| eml.contains("Subject: Cancelled: Growth webinar launch")).expect("a cancellation");
    assert!(cancelled.contains("STATUS:CANCELLED"), "{cancelled}");
    let again = reqwest::Client::new()
        .post(server.url("/api/webinar/register"))
        .json(&json!({"webinar": "launch", "name": "Grace", "email": "grace@example.com"}))
        .send()
        .await
        .expect("register");
    assert_eq!(again.status(), StatusCode::CONFLICT);

    let (ok, said) = cli(&server, &["cancel", "--slug", "nope"]).await;
    assert!(!ok && said.contains("no webinar has the slug \"nope\""), "{said}");
}

async fn a_stopped_worker_shows_in_readyz(database: TestDatabase) {
    let server = TestServer::start_with(database, &[("RUN_WORKER", "false")]).await;
    server.webinar("launch", WebinarStatus::Published, Span::days(2)).await;
    register(&server, "ada@example.com").await;
    register(&server, "grace@example.com").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let health: serde_json::Value =
        reqwest::get(server.url("/readyz")).await.expect("readyz").json().await.expect("JSON");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["queue"]["due"], 2, "two confirmations due, none sent: {health}");
    assert!(health["queue"]["oldest_due_age_seconds"].as_i64().is_some_and(|age| age >= 1), "{health}");
}

test_support::on_both_databases!(
    reschedule_and_cancel_email_every_registrant,
    a_stopped_worker_shows_in_readyz,
    the_confirmation_lands_in_the_dev_outbox,
    the_join_link_follows_the_current_meeting_url,
    unsubscribing_stops_every_further_email,
);
