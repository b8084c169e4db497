//! The email side of the server binary: its worker writing to the dev outbox,
//! join links and unsubscribe links.
mod support;

use std::time::Duration;

use chrono::Duration as Span;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use support::TestServer;
use test_support::TestDatabase;
use tools::event_signer::EventSigner;
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

    // The worker records the outcome just after the outbox has the file, and
    // (the outbox being the mailbox) its delivery.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let jobs = queue::for_registration(&server.db, registrant.id).await.expect("jobs");
        let confirmation = jobs.iter().find(|job| job.kind == Kind::Confirmation).expect("confirmation");
        assert!(jobs.iter().filter(|job| job.kind != Kind::Confirmation).all(|job| job.status == Status::Pending));
        let events = webinar::deliverability::event::for_jobs(&server.db, &[confirmation.id]).await.expect("events");
        if confirmation.status == Status::Sent && events.iter().any(|event| event.event == "delivered") {
            break;
        }
        assert_eq!(confirmation.status, Status::Pending, "delivered, being recorded (held by the worker's lease)");
        assert!(tokio::time::Instant::now() < deadline, "the confirmation was never recorded as sent and delivered");
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

/// Posts a batch with the given signature and timestamp headers.
async fn post_events(
    server: &TestServer,
    body: &[u8],
    signature: Option<&str>,
    timestamp: &str,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(server.url("/api/sendgrid/events"))
        .header("content-type", "application/json")
        .header("x-twilio-email-event-webhook-timestamp", timestamp)
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("x-twilio-email-event-webhook-signature", signature);
    }
    let response = request.send().await.expect("events");
    (response.status(), response.json().await.expect("JSON"))
}

async fn jobs_by_status(server: &TestServer, registration_id: i64) -> Vec<(Kind, Status)> {
    let jobs = queue::for_registration(&server.db, registration_id).await.expect("jobs");
    jobs.into_iter().map(|job| (job.kind, job.status)).collect()
}

async fn provider_events_are_verified_stored_once_and_suppress(database: TestDatabase) {
    let signer = EventSigner::default();
    let key = signer.public_key();
    let server =
        TestServer::start_with(database, &[("SENDGRID_WEBHOOK_PUBLIC_KEY", &key), ("RUN_WORKER", "false")]).await;
    server.webinar("launch", WebinarStatus::Published, Span::days(2)).await;
    server.webinar("next-one", WebinarStatus::Published, Span::days(9)).await;
    let grace = register(&server, "Grace@example.com").await;
    let body = json!({"webinar": "next-one", "name": "Grace", "email": "grace@example.com"});
    let response = reqwest::Client::new().post(server.url("/api/webinar/register")).json(&body).send().await;
    assert_eq!(response.expect("register").status(), StatusCode::CREATED);
    let elsewhere = registration::Entity::find()
        .all(&server.db)
        .await
        .expect("registrations")
        .into_iter()
        .find(|registration| registration.id != grace.id)
        .expect("grace in the other webinar");
    let confirmation = queue::for_registration(&server.db, grace.id)
        .await
        .expect("jobs")
        .into_iter()
        .find(|job| job.kind == Kind::Confirmation)
        .expect("confirmation");
    let job = confirmation.id.to_string();
    let batch = json!([
        {"email": "grace@example.com", "timestamp": 1_900_000_000, "event": "processed", "sg_event_id": "e-1", "job_id": job},
        {"email": "grace@example.com", "timestamp": 1_900_000_001, "event": "delivered", "sg_event_id": "e-2", "job_id": job},
        {"email": "grace@example.com", "timestamp": 1_900_000_002, "event": "open", "sg_event_id": "e-3", "job_id": job},
        {"email": "GRACE@example.com", "timestamp": 1_900_000_003, "event": "bounce", "type": "bounce",
         "reason": "550 5.1.1 mailbox unavailable", "sg_event_id": "e-4", "job_id": job},
        {"not": "an event"},
    ]);
    let body = serde_json::to_vec(&batch).expect("JSON");
    let now = chrono::Utc::now().timestamp().to_string();
    let signature = signer.sign(&now, &body);

    // Refused, and nothing changes: no signature, a tampered body, an old timestamp, another key.
    let stored =
        || async { webinar::deliverability::event::Entity::find().all(&server.db).await.expect("events").len() };
    let tampered = String::from_utf8(body.clone()).expect("UTF-8").replace("bounce", "delivered");
    let old = (chrono::Utc::now() - Span::minutes(6)).timestamp().to_string();
    let stranger = EventSigner::default();
    for (what, body, signature, timestamp) in [
        ("unsigned", body.clone(), None, now.clone()),
        ("tampered", tampered.into_bytes(), Some(signature.clone()), now.clone()),
        ("old", body.clone(), Some(signer.sign(&old, &body)), old.clone()),
        ("another key", body.clone(), Some(stranger.sign(&now, &body)), now.clone()),
    ] {
        let (status, answer) = post_events(&server, &body, signature.as_deref(), &timestamp).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], "signature_refused", "{what}");
    }
    assert_eq!(stored().await, 0);
    assert!(jobs_by_status(&server, elsewhere.id).await.iter().all(|(_, status)| *status == Status::Pending));

    let (status, answer) = post_events(&server, &body, Some(&signature), &now).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["received"].clone(), answer["new"].clone(), answer["skipped"].clone()),
        (json!(5), json!(4), json!(1))
    );
    assert_eq!(answer["suppressed_addresses"], 1);
    // Every pending email of the address, in both webinars, is suppressed.
    for registration in [grace.id, elsewhere.id] {
        let jobs = jobs_by_status(&server, registration).await;
        assert!(jobs.iter().all(|(_, status)| *status == Status::Suppressed), "{registration}: {jobs:?}");
    }
    // The same batch again (SendGrid retries) counts once.
    let (status, again) = post_events(&server, &body, Some(&signature), &now).await;
    assert_eq!(
        (status, again["new"].clone(), again["suppressed_addresses"].clone()),
        (StatusCode::OK, json!(0), json!(0))
    );
    assert_eq!(stored().await, 4);

    // The registrant's emails show the timeline; the list shows the address.
    let token = support::create_token(&server, "CRM", "write").await;
    let api = |method: reqwest::Method, path: String| {
        reqwest::Client::new().request(method, server.url(&path)).bearer_auth(&token).send()
    };
    let emails: Value = api(reqwest::Method::GET, format!("/api/v1/registrations/{}/emails", grace.id))
        .await
        .expect("emails")
        .json()
        .await
        .expect("JSON");
    let confirmation_json =
        emails["data"].as_array().expect("data").iter().find(|job| job["kind"] == "confirmation").cloned();
    let timeline: Vec<Value> = confirmation_json.expect("confirmation")["events"].as_array().expect("events").clone();
    let names: Vec<&str> = timeline.iter().filter_map(|event| event["event"].as_str()).collect();
    assert_eq!(names, ["processed", "delivered", "open", "bounce"]);
    assert_eq!(timeline[3]["reason"], "550 5.1.1 mailbox unavailable");
    let listed: Value =
        api(reqwest::Method::GET, "/api/v1/suppressions".into()).await.expect("list").json().await.expect("JSON");
    assert_eq!(listed["data"][0]["email"], "grace@example.com", "{listed}");
    assert_eq!(listed["data"][0]["event"], "bounce");

    // The admin's pages: the queue shows the suppressed emails and the provider's counts.
    assert!(support::create_admin(&server, support::EMAIL, support::PASSWORD).await.0);
    let cookie = support::logged_in(&server).await;
    let queue: Value = support::client()
        .post(server.url("/api/fn/admin_queue"))
        .header(reqwest::header::COOKIE, &cookie)
        .form(&[("slug", "launch")])
        .send()
        .await
        .expect("queue")
        .json()
        .await
        .expect("JSON");
    let delivery = &queue["delivery"];
    assert_eq!(
        (delivery["delivered"].clone(), delivery["bounced"].clone(), delivery["opened"].clone()),
        (json!(1), json!(1), json!(1)),
        "{queue}"
    );
    let counts = queue["sessions"][0]["counts"].as_array().expect("one session's counts");
    assert!(counts.iter().any(|row| row[1] == "suppressed" && row[2].as_u64() > Some(0)), "{queue}");
    let page =
        support::client().get(server.url("/admin/suppressions")).header(reqwest::header::COOKIE, &cookie).send().await;
    let html = page.expect("page").text().await.expect("html");
    assert!(html.contains("grace@example.com") && html.contains("550 5.1.1 mailbox unavailable"), "{html}");
    let timeline =
        |path: String| support::client().get(server.url(&path)).header(reqwest::header::COOKIE, cookie.clone()).send();
    let html = timeline(format!("/admin/webinars/launch/registrations/{}", grace.id)).await.expect("page");
    let html = html.text().await.expect("html");
    for shown in ["email-timeline", "processed", "delivered", "open", "bounce", "550 5.1.1 mailbox unavailable"] {
        assert!(html.contains(shown), "{shown} on the registrant's page: {html}");
    }
    let elsewhere_page = timeline(format!("/admin/webinars/next-one/registrations/{}", grace.id)).await;
    let html = elsewhere_page.expect("page").text().await.expect("html");
    assert!(!html.contains("email-timeline"), "a registrant shows under their own webinar only");

    // Removed by an admin, the address gets email again (what it missed stays suppressed).
    let removed =
        api(reqwest::Method::DELETE, "/api/v1/suppressions/Grace%40example.com".into()).await.expect("remove");
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let again = api(reqwest::Method::DELETE, "/api/v1/suppressions/grace%40example.com".into()).await.expect("remove");
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    server.webinar("third", WebinarStatus::Published, Span::days(20)).await;
    let body = json!({"webinar": "third", "name": "Grace", "email": "grace@example.com"});
    let response = reqwest::Client::new().post(server.url("/api/webinar/register")).json(&body).send().await;
    assert_eq!(response.expect("register").status(), StatusCode::CREATED);
    let pending = queue::job::Entity::find().all(&server.db).await.expect("jobs");
    assert!(pending.iter().any(|job| job.status == Status::Pending), "the new registration's emails are queued");

    // A server without the key takes no events at all.
    let unkeyed = TestServer::start(TestDatabase::sqlite().expect("database")).await;
    let (status, answer) = post_events(&unkeyed, &body.to_string().into_bytes(), Some(&signature), &now).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
}

/// An address suppressed before a registration's emails go out: the worker
/// sets them aside as suppressed, and the outbox gets nothing for it.
async fn the_worker_sends_nothing_to_a_suppressed_address(database: TestDatabase) {
    let signer = EventSigner::default();
    let key = signer.public_key();
    let server = TestServer::start_with(database, &[("SENDGRID_WEBHOOK_PUBLIC_KEY", &key)]).await;
    server.webinar("launch", WebinarStatus::Published, Span::days(2)).await;
    let batch = serde_json::to_vec(&json!([
        {"email": "spam@example.com", "timestamp": 1_900_000_000, "event": "spamreport", "sg_event_id": "s-1"},
    ]))
    .expect("JSON");
    let now = chrono::Utc::now().timestamp().to_string();
    let (status, answer) = post_events(&server, &batch, Some(&signer.sign(&now, &batch)), &now).await;
    assert_eq!((status, answer["suppressed_addresses"].clone()), (StatusCode::OK, json!(1)), "{answer}");
    let suppressed = register(&server, "spam@example.com").await;
    register(&server, "ada@example.com").await;
    let messages = server.outbox_messages(1).await;
    assert!(messages[0].contains("ada@example.com"), "{}", messages[0]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let jobs = jobs_by_status(&server, suppressed.id).await;
        if jobs.contains(&(Kind::Confirmation, Status::Suppressed)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never set aside: {jobs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(server.outbox_messages(1).await.iter().all(|eml| !eml.contains("spam@example.com")));
}

test_support::on_both_databases!(
    provider_events_are_verified_stored_once_and_suppress,
    the_worker_sends_nothing_to_a_suppressed_address,
    reschedule_and_cancel_email_every_registrant,
    a_stopped_worker_shows_in_readyz,
    the_confirmation_lands_in_the_dev_outbox,
    the_join_link_follows_the_current_meeting_url,
    unsubscribing_stops_every_further_email,
);
