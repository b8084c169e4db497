//! Marketing at work, through the admin's server functions on the real
//! server: create, publish and reschedule a webinar, ICP variants, email copy
//! (preview, test send, used by the worker), registrations and the email
//! queue; and hostile input in every editable field coming out inert.
mod support;

use std::time::Duration;

use chrono::Duration as Span;
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use support::{EMAIL, PASSWORD, TestServer, client, create_admin, logged_in, webinar_form};
use test_support::{TestDatabase, make_dead_letters, queue_and_pending_jobs};
use webinar::queue::{self, Kind};
use webinar::webinar::Status;

/// A logged-in marketing admin on a fresh server.
async fn marketing(database: TestDatabase) -> (TestServer, String) {
    let server = TestServer::start(database).await;
    assert!(create_admin(&server, EMAIL, PASSWORD).await.0);
    let cookie = logged_in(&server).await;
    (server, cookie)
}

/// Calls an admin server function with a form; returns its status and JSON answer.
async fn call(server: &TestServer, cookie: &str, function: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = client()
        .post(server.url(&format!("/api/fn/{function}")))
        .header(COOKIE, cookie)
        .form(form)
        .send()
        .await
        .expect("server function");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn page(server: &TestServer, cookie: Option<&str>, path: &str) -> (StatusCode, String) {
    let mut request = client().get(server.url(path));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request.send().await.expect("page");
    (response.status(), response.text().await.expect("html"))
}

async fn register(server: &TestServer, slug: &str, name: &str, email: &str, icp: Option<&str>) {
    let body = json!({"webinar": slug, "name": name, "email": email, "icp": icp, "utm_source": "newsletter"});
    let response = client().post(server.url("/api/webinar/register")).json(&body).send().await.expect("register");
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap_or_default());
}

fn field_errors(answer: &Value) -> Vec<String> {
    answer["Invalid"]
        .as_array()
        .map(|fields| fields.iter().filter_map(|field| field["field"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

async fn marketing_creates_publishes_varies_and_reschedules(database: TestDatabase) {
    let (server, cookie) = marketing(database).await;
    let created = call(&server, &cookie, "admin_save_webinar", &webinar_form("", &[])).await;
    assert!(created.0.is_success() || created.0.is_redirection(), "{created:?}");
    assert_eq!(page(&server, None, "/webinars/spring-launch").await.0, StatusCode::NOT_FOUND, "a draft is not public");
    let (status, preview) = page(&server, Some(&cookie), "/admin/webinars/spring-launch/preview").await;
    assert_eq!(status, StatusCode::OK);
    assert!(preview.contains("Spring launch") && preview.contains("<strong>ship</strong>"), "{preview}");

    let published = call(&server, &cookie, "admin_publish", &[("slug", "spring-launch")]).await;
    assert_eq!(published.0, StatusCode::OK, "{published:?}");
    let (status, html) = page(&server, None, "/webinars/spring-launch").await;
    assert_eq!(status, StatusCode::OK);
    for shown in ["Spring launch", "What is new this spring", "<strong>ship</strong>", "Welcome", "Ada Lovelace"] {
        assert!(html.contains(shown), "{shown} in {html}");
    }

    let variant = [
        ("webinar", "spring-launch"),
        ("icp", "Founders"),
        ("headline", "Spring, for founders"),
        ("intro", "Built for you"),
    ];
    assert_eq!(call(&server, &cookie, "admin_save_variant", &variant).await.0, StatusCode::OK);
    let (_, founders) = page(&server, None, "/webinars/spring-launch?icp=founders").await;
    assert!(founders.contains("Spring, for founders") && founders.contains("Built for you"), "{founders}");
    let (_, everyone) = page(&server, None, "/webinars/spring-launch").await;
    assert!(!everyone.contains("Spring, for founders"));
    let bad_variant = [("webinar", "spring-launch"), ("icp", "no spaces"), ("headline", ""), ("intro", "")];
    let refused = call(&server, &cookie, "admin_save_variant", &bad_variant).await;
    assert_eq!(refused.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_errors(&refused.1), ["icp", "headline"]);

    register(&server, "spring-launch", "Grace Hopper", "grace@example.com", None).await;
    register(&server, "spring-launch", "Alan Turing", "alan@example.com", Some("founders")).await;
    let moved = webinar_form("spring-launch", &[("starts_local", "2031-03-05T18:30"), ("status", "published")]);
    let asked = call(&server, &cookie, "admin_save_webinar", &moved).await;
    assert_eq!(asked.0, StatusCode::CONFLICT, "{asked:?}");
    assert!(asked.1["NeedsConfirmation"].as_str().is_some_and(|message| message.contains("2 registrant")), "{asked:?}");
    let stored = webinar::webinar::find_by_slug(&server.db, "spring-launch").await.expect("query").expect("exists");
    let session = test_support::the_session(&server.db, stored.id).await.expect("its session");
    assert_eq!(session.starts_at.to_rfc3339(), "2031-03-04T16:00:00+00:00", "nothing changed before confirming");

    let mut confirmed = moved.clone();
    confirmed.push(("confirm", "yes"));
    let saved = call(&server, &cookie, "admin_save_webinar", &confirmed).await;
    assert_eq!(saved.0, StatusCode::OK, "{saved:?}");
    assert!(saved.1.as_str().is_some_and(|message| message.contains("2 registrant(s) will be emailed")), "{saved:?}");
    let stored = webinar::webinar::find_by_slug(&server.db, "spring-launch").await.expect("query").expect("exists");
    let session = test_support::the_session(&server.db, stored.id).await.expect("its session");
    assert_eq!(session.starts_at.to_rfc3339(), "2031-03-05T17:30:00+00:00");
    let notices = queue::job::Entity::find()
        .filter(queue::job::Column::WebinarId.eq(stored.id))
        .filter(queue::job::Column::Kind.eq(Kind::TimeChanged))
        .count(&server.db)
        .await
        .expect("count");
    assert_eq!(notices, 2, "each registrant gets one time-changed email");

    let invalid = webinar_form(
        "spring-launch",
        &[
            ("slug", "Not a slug"),
            ("join_url", "javascript:alert(1)"),
            ("timezone", "Mars/Base"),
            ("status", "published"),
        ],
    );
    let refused = call(&server, &cookie, "admin_save_webinar", &invalid).await;
    assert_eq!(refused.0, StatusCode::UNPROCESSABLE_ENTITY, "{refused:?}");
    assert_eq!(field_errors(&refused.1), ["slug", "timezone", "join_url"]);
    let taken = call(&server, &cookie, "admin_save_webinar", &webinar_form("", &[])).await;
    assert_eq!(field_errors(&taken.1), ["slug"], "the address is taken: {taken:?}");
}

/// Where hostile text ends up in HTML, it is text: no script element, no
/// element with an event handler, no `javascript:` link.
fn assert_inert(html: &str, place: &str) {
    if let Some(at) = html.find("<script>alert") {
        panic!("a script element in {place}: …{}…", &html[at.saturating_sub(300)..(at + 100).min(html.len())]);
    }
    for (at, _) in html.match_indices("<img") {
        let tag = &html[at..html[at..].find('>').map_or(html.len(), |end| at + end)];
        assert!(!tag.contains("onerror"), "an event handler in {place}: {tag}");
    }
    assert!(!html.contains("href=\"javascript:"), "a javascript: link in {place}");
}

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(2)>";

async fn hostile_input_in_every_field_comes_out_inert(database: TestDatabase) {
    let (server, cookie) = marketing(database).await;
    let title = format!("Launch </title>{SCRIPT}{IMG}");
    let description = format!("</textarea>{SCRIPT}\n\n{IMG}\n\n[click](javascript:alert(3))");
    let speakers = format!("{IMG} | {SCRIPT}");
    let agenda = format!("{SCRIPT} | {IMG}");
    let form = webinar_form(
        "",
        &[
            ("title", &title),
            ("subtitle", IMG),
            ("description", &description),
            ("speakers", &speakers),
            ("agenda", &agenda),
            ("status", "published"),
        ],
    );
    let created = call(&server, &cookie, "admin_save_webinar", &form).await;
    assert!(created.0.is_success() || created.0.is_redirection(), "{created:?}");
    let variant = [("webinar", "spring-launch"), ("icp", "founders"), ("headline", SCRIPT), ("intro", IMG)];
    assert_eq!(call(&server, &cookie, "admin_save_variant", &variant).await.0, StatusCode::OK);
    let name = format!("{IMG}{SCRIPT}");
    register(&server, "spring-launch", &name, "mallory@example.com", Some("founders")).await;

    for path in ["/webinars/spring-launch", "/webinars/spring-launch?icp=founders"] {
        let (status, html) = page(&server, None, path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "shown as text on {path}: {html}");
        let title_element = html.split("<title>").nth(1).and_then(|rest| rest.split("</title>").next());
        assert!(
            title_element.is_some_and(|text| !text.contains('<')),
            "the title ends where it should: {title_element:?}"
        );
        assert_inert(&html, path);
    }
    for path in [
        "/admin",
        "/admin/webinars/spring-launch",
        "/admin/webinars/spring-launch/registrations",
        "/admin/webinars/spring-launch/preview?icp=founders",
    ] {
        let (status, html) = page(&server, Some(&cookie), path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_inert(&html, path);
    }
    let (_, table) = page(&server, Some(&cookie), "/admin/webinars/spring-launch/registrations").await;
    assert!(
        table.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;")
            || table.contains("\"&gt;&lt;img src=x onerror=alert(2)&gt;"),
        "the name as text: {table}"
    );

    let csv = client()
        .get(server.url("/api/admin/webinars/spring-launch/registrations.csv"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("body");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let row = reader.records().next().expect("one row").expect("well-formed");
    assert_eq!(&row[1], name, "the CSV keeps the name exactly, quoted: {csv}");

    let copy = [
        ("slug", "spring-launch"),
        ("kind", "confirmation"),
        ("icp", ""),
        ("subject", SCRIPT),
        (
            "body",
            "{{ name }} {{ webinar_title }}\n\n<script>alert(4)</script>\n\n\"><img src=x onerror=alert(5)>\n\n[x](javascript:alert(6))",
        ),
    ];
    assert_eq!(call(&server, &cookie, "admin_save_email_copy", &copy).await.0, StatusCode::OK);
    let preview = [copy[0], copy[1], copy[3], copy[4]];
    let (status, email) = call(&server, &cookie, "admin_preview_email", &preview).await;
    assert_eq!(status, StatusCode::OK, "{email}");
    let html = email["html"].as_str().expect("an HTML part");
    assert_inert(html, "the email's HTML part");
    assert!(html.contains("Launch &lt;/title&gt;&lt;script&gt;alert(1)&lt;"), "the title as text: {html}");
    let text = email["text"].as_str().expect("a text part");
    assert!(text.starts_with(&format!("Ada Lovelace {title}")), "plain text is never interpreted: {text}");
}

async fn email_copy_is_previewed_test_sent_and_used_by_the_worker(database: TestDatabase) {
    let (server, cookie) = marketing(database).await;
    server.webinar("launch", Status::Published, Span::days(5)).await;
    let (status, draft) =
        call(&server, &cookie, "admin_email_copy", &[("slug", "launch"), ("kind", "reminder_3h"), ("icp", "")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(draft["saved"], false);
    assert!(
        draft["body"].as_str().is_some_and(|body| body.contains("{{ join_url }}")),
        "starts from the built-in: {draft}"
    );

    let unknown = [("slug", "launch"), ("kind", "confirmation"), ("subject", "Hi {{ nmae }}"), ("body", "Body")];
    let (status, refused) = call(&server, &cookie, "admin_preview_email", &unknown).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_errors(&refused), ["subject"]);

    let body = "Hi {{ name }}, see you at **{{ webinar_title }}**: [join]({{ join_url }})";
    let copy = [
        ("slug", "launch"),
        ("kind", "confirmation"),
        ("icp", ""),
        ("subject", "Welcome aboard, {{ name }}"),
        ("body", body),
    ];
    let (status, preview) = call(&server, &cookie, "admin_preview_email", &[copy[0], copy[1], copy[3], copy[4]]).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["subject"], "Welcome aboard, Ada Lovelace");
    assert!(preview["html"].as_str().is_some_and(|html| html.contains("<strong>Growth webinar launch</strong>")));

    let (status, sent) = call(&server, &cookie, "admin_send_test_email", &[copy[0], copy[1], copy[3], copy[4]]).await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    let test = outbox_message(&server, "[Test] Welcome aboard").await;
    assert!(test.contains(&format!("<{EMAIL}>")), "sent to the admin: {test}");

    assert_eq!(call(&server, &cookie, "admin_save_email_copy", &copy).await.0, StatusCode::OK);
    let founders = [
        ("slug", "launch"),
        ("kind", "confirmation"),
        ("icp", "founders"),
        ("subject", "Founders, welcome"),
        ("body", "Hi {{ name }}"),
    ];
    assert_eq!(call(&server, &cookie, "admin_save_email_copy", &founders).await.0, StatusCode::OK);
    register(&server, "launch", "Grace Hopper", "grace@example.com", None).await;
    register(&server, "launch", "Alan Turing", "alan@example.com", Some("founders")).await;
    outbox_message(&server, "Subject: Welcome aboard, Grace Hopper").await;
    outbox_message(&server, "Subject: Founders, welcome").await;

    let reset = [("slug", "launch"), ("kind", "confirmation"), ("icp", "")];
    assert_eq!(call(&server, &cookie, "admin_reset_email_copy", &reset).await.0, StatusCode::OK);
    let (_, draft) = call(&server, &cookie, "admin_email_copy", &reset).await;
    assert_eq!(draft["saved"], false, "back to the built-in copy");
}

/// Waits (up to 10 s) for an outbox message containing `needle`.
async fn outbox_message(server: &TestServer, needle: &str) -> String {
    for _ in 0..100 {
        let found = std::fs::read_dir(&server.outbox).ok().and_then(|entries| {
            entries
                .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
                .find(|message| message.contains(needle))
        });
        if let Some(message) = found {
            return message;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no outbox message contains {needle:?} within 10 s");
}

async fn registrations_are_searched_paged_and_erased(database: TestDatabase) {
    let (server, cookie) = marketing(database).await;
    server.webinar("launch", Status::Published, Span::days(5)).await;
    register(&server, "launch", "Ada Lovelace", "ada@example.com", Some("founders")).await;
    register(&server, "launch", "Grace Hopper", "grace@navy.example", None).await;
    register(&server, "launch", "Adam 100%_sure", "adam@example.com", None).await;
    let search = |q: &'static str, page: &'static str| [("slug", "launch"), ("search", q), ("page", page)];
    let (status, all) = call(&server, &cookie, "admin_registrations", &search("", "1")).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["total"], 3);
    assert_eq!(all["rows"][0]["name"], "Adam 100%_sure", "newest first");
    let (_, ada) = call(&server, &cookie, "admin_registrations", &search("LoveLace", "1")).await;
    assert_eq!(ada["total"], 1, "any case, name or email: {ada}");
    assert_eq!(ada["rows"][0]["icp"], "founders");
    assert_eq!(ada["rows"][0]["utm_source"], "newsletter");
    let (_, navy) = call(&server, &cookie, "admin_registrations", &search("navy", "1")).await;
    assert_eq!(navy["rows"][0]["name"], "Grace Hopper");
    let (_, literal) = call(&server, &cookie, "admin_registrations", &search("0%_", "1")).await;
    assert_eq!(literal["total"], 1, "% and _ are searched for, not wildcards: {literal}");
    let (_, beyond) = call(&server, &cookie, "admin_registrations", &search("", "2")).await;
    assert_eq!(beyond["rows"].as_array().map(Vec::len), Some(0));
    assert_eq!(beyond["pages"], 1);

    let id = ada["rows"][0]["id"].to_string();
    assert_eq!(call(&server, &cookie, "admin_erase_registration", &[("id", &id)]).await.0, StatusCode::OK);
    let (_, after) = call(&server, &cookie, "admin_registrations", &search("", "1")).await;
    assert_eq!(after["total"], 2);
    assert_eq!(call(&server, &cookie, "admin_erase_registration", &[("id", &id)]).await.0, StatusCode::NOT_FOUND);
}

async fn dead_letters_show_their_reason_and_can_be_retried(database: TestDatabase) {
    let (server, cookie) = marketing(database).await;
    let launch = server.webinar("launch", Status::Published, Span::days(5)).await;
    register(&server, "launch", "Ada Lovelace", "ada@example.com", None).await;
    register(&server, "launch", "Grace Hopper", "grace@example.com", None).await;
    // Two reminders the provider refused for good: out of the queue, and dead.
    let reason = "550 5.1.1 mailbox unavailable";
    let dead = make_dead_letters(&server.db, launch.id, Kind::Reminder24h, reason).await.expect("dead letters");
    assert_eq!(dead, 2);

    let (status, queue) = call(&server, &cookie, "admin_queue", &[("slug", "launch")]).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    let counts = queue["sessions"][0]["counts"].as_array().expect("one session's counts");
    assert!(counts.contains(&json!(["reminder_24h", "dead", 2])), "{counts:?}");
    assert!(counts.contains(&json!(["reminder_3h", "pending", 2])), "{counts:?}");
    assert_eq!(queue["dead"][0]["reason"], "550 5.1.1 mailbox unavailable");
    let one = queue["dead"][0]["id"].to_string();

    let (status, retried) = call(&server, &cookie, "admin_retry", &[("slug", "launch"), ("job", &one)]).await;
    assert_eq!((status, retried), (StatusCode::OK, json!(1)));
    let (_, retried) = call(&server, &cookie, "admin_retry", &[("slug", "launch")]).await;
    assert_eq!(retried, json!(1), "the other one");
    let still_dead = queue::job::Entity::find()
        .filter(queue::job::Column::WebinarId.eq(launch.id))
        .filter(queue::job::Column::Status.eq(queue::job::Status::Dead))
        .count(&server.db)
        .await
        .expect("count");
    assert_eq!(still_dead, 0);
    let (queued, pending) = queue_and_pending_jobs(&server.db).await.expect("queue and jobs");
    assert_eq!(queued, pending, "retried letters are queued again");
    let (_, queue) = call(&server, &cookie, "admin_queue", &[("slug", "launch")]).await;
    assert_eq!(queue["dead"], json!([]));
    let (_, queue_page) = page(&server, Some(&cookie), "/admin/webinars/launch/queue").await;
    assert!(queue_page.contains("24 h reminder"), "{queue_page}");
}

/// The editor's sessions list: a weekly series added in the webinar's own
/// time, one session moved and one cancelled (each asking first when it
/// would email someone), one deleted, and the editor page listing them.
async fn marketing_runs_a_webinar_as_a_weekly_series(database: TestDatabase) {
    let (server, cookie) = marketing(database).await;
    let webinar = server.webinar("launch", Status::Published, Span::days(2)).await;
    let series = [
        ("webinar", "launch"),
        ("starts_local", "2031-03-24T17:00"),
        ("duration_minutes", "45"),
        ("join_url", "https://meet.example.com/series"),
        ("capacity", ""),
        ("repeat[every]", "week"),
        ("repeat[count]", "3"),
    ];
    let added = call(&server, &cookie, "admin_add_sessions", &series).await;
    assert_eq!(added, (StatusCode::OK, json!(3)), "{added:?}");
    let sessions = webinar::session::of_webinar(&server.db, webinar.id).await.expect("sessions");
    let starts: Vec<String> = sessions.iter().skip(1).map(|session| session.starts_at.to_rfc3339()).collect();
    assert_eq!(
        starts,
        ["2031-03-24T16:00:00+00:00", "2031-03-31T15:00:00+00:00", "2031-04-07T15:00:00+00:00"],
        "17:00 in Berlin on both sides of the change to summer time"
    );
    let no_count = [("repeat[every]", "week"), ("repeat[count]", "")];
    let mut bad = series.to_vec();
    bad.retain(|(name, _)| !no_count.iter().any(|(other, _)| other == name));
    bad.extend(no_count);
    let refused = call(&server, &cookie, "admin_add_sessions", &bad).await;
    assert_eq!(
        (refused.0, field_errors(&refused.1)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["repeat.count".to_owned()])
    );

    let second = sessions[2].id.to_string();
    let body = json!({"webinar": "launch", "name": "Ada", "email": "ada@example.com", "session": sessions[2].id});
    let response = client().post(server.url("/api/webinar/register")).json(&body).send().await.expect("register");
    assert_eq!(response.status(), StatusCode::CREATED);
    let moved = [
        ("id", second.as_str()),
        ("starts_local", "2031-04-01T18:00"),
        ("duration_minutes", "45"),
        ("join_url", "https://meet.example.com/series"),
        ("capacity", "50"),
    ];
    let asked = call(&server, &cookie, "admin_change_session", &moved).await;
    assert_eq!(asked.0, StatusCode::CONFLICT, "{asked:?}");
    assert!(asked.1["NeedsConfirmation"].as_str().is_some_and(|message| message.contains("1 registrant")), "{asked:?}");
    let mut confirmed = moved.to_vec();
    confirmed.push(("confirm", "yes"));
    let saved = call(&server, &cookie, "admin_change_session", &confirmed).await;
    assert_eq!(saved.0, StatusCode::OK, "{saved:?}");
    let session = webinar::session::find(&server.db, sessions[2].id).await.expect("query").expect("exists");
    assert_eq!((session.starts_at.to_rfc3339().as_str(), session.capacity), ("2031-04-01T16:00:00+00:00", Some(50)));

    let refused = call(&server, &cookie, "admin_delete_session", &[("id", second.as_str())]).await;
    assert_eq!(refused.0, StatusCode::BAD_REQUEST, "a session with registrants is cancelled instead: {refused:?}");
    let asked = call(&server, &cookie, "admin_cancel_session", &[("id", second.as_str())]).await;
    assert_eq!(asked.0, StatusCode::CONFLICT, "{asked:?}");
    let cancelled =
        call(&server, &cookie, "admin_cancel_session", &[("id", second.as_str()), ("confirm", "yes")]).await;
    assert_eq!(cancelled.0, StatusCode::OK, "{cancelled:?}");
    let third = sessions[3].id.to_string();
    let deleted = call(&server, &cookie, "admin_delete_session", &[("id", third.as_str())]).await;
    assert_eq!(deleted.0, StatusCode::OK, "{deleted:?}");
    assert_eq!(webinar::session::of_webinar(&server.db, webinar.id).await.expect("sessions").len(), 3);

    let (status, html) = page(&server, Some(&cookie), "/admin/webinars/launch").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Mon 24 Mar 2031, 17:00 CET"), "the sessions in the webinar's zone");
    assert!(html.contains("Tue 1 Apr 2031, 18:00 CEST (cancelled)"), "the cancelled one says so");

    // The queue page groups the emails by session.
    let body = json!({"webinar": "launch", "name": "Grace", "email": "grace@example.com", "session": sessions[1].id});
    let response = client().post(server.url("/api/webinar/register")).json(&body).send().await.expect("register");
    assert_eq!(response.status(), StatusCode::CREATED);
    let (_, queue) = call(&server, &cookie, "admin_queue", &[("slug", "launch")]).await;
    let grouped: Vec<(Value, Value)> = queue["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|session| (session["id"].clone(), session["cancelled"].clone()))
        .collect();
    let expected = [(json!(sessions[1].id), json!(false)), (json!(sessions[2].id), json!(true))];
    assert_eq!(grouped, expected, "the sessions with emails, in start order: {queue}");
    let counts = |at: usize| queue["sessions"][at]["counts"].as_array().cloned().unwrap_or_default();
    assert!(counts(0).contains(&json!(["reminder_24h", "pending", 1])), "{queue}");
    assert!(counts(1).contains(&json!(["reminder_24h", "cancelled", 1])), "{queue}");
    assert!(!counts(1).iter().any(|row| row[1] == "pending" && row[0] != "cancelled"), "{queue}");
    let (_, queue_page) = page(&server, Some(&cookie), "/admin/webinars/launch/queue").await;
    assert!(queue_page.contains("Tuesday, 1 April 2031, 18:00 CEST (UTC+02:00) (cancelled)"), "{queue_page}");

    // Every other week on Tuesdays and Thursdays until a day, as the form's checkboxes send it.
    let fortnightly = [
        ("webinar", "launch"),
        ("starts_local", "2031-05-05T09:00"),
        ("duration_minutes", "30"),
        ("join_url", "https://meet.example.com/series"),
        ("capacity", ""),
        ("repeat[every]", "week"),
        ("repeat[interval]", "2"),
        ("repeat[weekdays][1]", "tue"),
        ("repeat[weekdays][3]", "thu"),
        ("repeat[count]", ""),
        ("repeat[until]", "2031-05-31"),
    ];
    let added = call(&server, &cookie, "admin_add_sessions", &fortnightly).await;
    assert_eq!(added, (StatusCode::OK, json!(4)), "{added:?}");
    let sessions = webinar::session::of_webinar(&server.db, webinar.id).await.expect("sessions");
    let starts: Vec<String> =
        sessions.iter().rev().take(4).rev().map(|session| session.starts_at.to_rfc3339()).collect();
    assert_eq!(
        starts,
        [
            "2031-05-06T07:00:00+00:00",
            "2031-05-08T07:00:00+00:00",
            "2031-05-20T07:00:00+00:00",
            "2031-05-22T07:00:00+00:00"
        ]
    );
    let mut bad = fortnightly.to_vec();
    bad.push(("repeat[weekdays][5]", "someday"));
    let refused = call(&server, &cookie, "admin_add_sessions", &bad).await;
    assert_eq!(
        (refused.0, field_errors(&refused.1)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["repeat.weekdays".to_owned()])
    );
}

test_support::on_both_databases!(
    marketing_runs_a_webinar_as_a_weekly_series,
    marketing_creates_publishes_varies_and_reschedules,
    hostile_input_in_every_field_comes_out_inert,
    email_copy_is_previewed_test_sent_and_used_by_the_worker,
    registrations_are_searched_paged_and_erased,
    dead_letters_show_their_reason_and_can_be_retried,
);
