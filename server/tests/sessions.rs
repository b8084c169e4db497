//! A webinar that runs many times, from outside: sessions added (one, or a
//! weekly series that keeps its wall-clock time across daylight saving),
//! changed, cancelled and deleted through the admin API by the same
//! `notify` rule as the webinar; visitors picking one on the page (without
//! JavaScript too) and in the JSON API; and session ids that are not the
//! webinar's, or not open, refused rather than quietly replaced.
mod support;

use chrono::Duration as Span;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{TestServer, call_api, client, create_token};
use test_support::TestDatabase;
use webinar::webinar::Status;

async fn register(server: &TestServer, body: Value) -> (StatusCode, Value) {
    let response = client().post(server.url("/api/webinar/register")).json(&body).send().await.expect("register");
    let status = response.status();
    (status, response.json().await.expect("JSON"))
}

fn ids(list: &Value) -> Vec<i64> {
    list["data"].as_array().expect("data").iter().filter_map(|session| session["id"].as_i64()).collect()
}

fn error_fields(answer: &Value) -> Vec<String> {
    let fields = answer["error"]["fields"].as_array().cloned().unwrap_or_default();
    fields.iter().filter_map(|field| field["field"].as_str().map(String::from)).collect()
}

async fn email_kinds(server: &TestServer, token: &str, registration: i64) -> Vec<String> {
    let path = format!("/api/v1/registrations/{registration}/emails");
    let (_, emails) = call_api(server, token, Method::GET, &path, None).await;
    let jobs = emails["data"].as_array().cloned().unwrap_or_default();
    jobs.iter()
        .filter(|job| job["status"] != "cancelled")
        .filter_map(|job| job["kind"].as_str().map(String::from))
        .collect()
}

async fn sessions_are_added_changed_cancelled_and_deleted_through_the_api(database: TestDatabase) {
    let server = TestServer::start(database).await;
    let launch = server.webinar("launch", Status::Published, Span::days(2)).await;
    let first = test_support::the_session(&server.db, launch.id).await.expect("its session");
    let token = create_token(&server, "Ops", "write").await;
    let token = token.as_str();

    let (status, listed) = call_api(&server, token, Method::GET, "/api/v1/webinars/launch/sessions", None).await;
    assert_eq!((status, ids(&listed)), (StatusCode::OK, vec![first.id]), "{listed}");
    assert_eq!(listed["data"][0]["join_url"], "https://meet.example.com/x");
    assert_eq!(listed["data"][0]["registrations"], 0);

    // A weekly series at 17:00 Berlin across the change to summer time on 30 March 2031.
    let series = json!({"starts_at": "2031-03-24T17:00:00+01:00", "capacity": 2,
        "repeat": {"every": "week", "count": 3}});
    let (status, made) = call_api(&server, token, Method::POST, "/api/v1/webinars/launch/sessions", Some(series)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let starts: Vec<&str> =
        made["data"].as_array().expect("data").iter().filter_map(|s| s["starts_at"].as_str()).collect();
    assert_eq!(starts, ["2031-03-24T16:00:00Z", "2031-03-31T15:00:00Z", "2031-04-07T15:00:00Z"], "17:00 on the wall");
    assert_eq!(made["data"][1]["capacity"], 2);
    assert_eq!(made["data"][1]["duration_minutes"], 60, "the rest defaults to the next session's");
    let [monday, second, third] = ids(&made)[..] else { panic!("three sessions: {made}") };
    let (_, webinar) = call_api(&server, token, Method::GET, "/api/v1/webinars/launch", None).await;
    assert_eq!(webinar["sessions"].as_array().map(Vec::len), Some(4), "the webinar lists its sessions");

    // Bad input names every problem and writes nothing.
    for (bad, fields) in [
        (json!({"starts_at": "2020-01-01T10:00:00Z"}), vec!["starts_at"]),
        (json!({"duration_minutes": 1}), vec!["starts_at", "duration_minutes"]),
        (
            json!({"starts_at": "2031-05-01T10:00:00Z", "join_url": "javascript:alert(1)", "capacity": 0}),
            vec!["join_url", "capacity"],
        ),
        (
            json!({"starts_at": "2031-05-01T10:00:00Z", "repeat": {"every": "week", "count": 2, "until": "2031-06-01"}}),
            vec!["repeat.count"],
        ),
        (
            json!({"starts_at": "2031-05-01T10:00:00Z", "repeat": {"every": "day", "count": 100000}}),
            vec!["repeat.count"],
        ),
        (
            json!({"starts_at": "2031-05-01T10:00:00Z", "repeat": {"every": "week", "weekdays": ["someday"], "count": 2}}),
            vec!["repeat.weekdays"],
        ),
    ] {
        let (status, refused) =
            call_api(&server, token, Method::POST, "/api/v1/webinars/launch/sessions", Some(bad.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {refused}");
        assert_eq!(error_fields(&refused), fields, "{bad}: {refused}");
    }
    let (status, typo) =
        call_api(&server, token, Method::POST, "/api/v1/webinars/launch/sessions", Some(json!({"start": "x"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused: {typo}");
    let (status, _) = call_api(
        &server,
        token,
        Method::POST,
        "/api/v1/webinars/nope/sessions",
        Some(json!({"starts_at": "2031-05-01T10:00:00Z"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = call_api(&server, token, Method::GET, "/api/v1/webinars/launch/sessions", None).await;
    assert_eq!(ids(&listed).len(), 4, "nothing written: {listed}");

    // A visitor picks the second session; the answer and the registration carry it.
    let ada = json!({"webinar": "launch", "name": "Ada", "email": "ada@example.com", "session": second});
    let (status, registered) = register(&server, ada.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    assert_eq!((registered["session"].as_i64(), registered["session_registrations"].as_u64()), (Some(second), Some(1)));
    let ada_id = server.registrant("ada@example.com").await.id;
    let (_, shown) = call_api(&server, token, Method::GET, &format!("/api/v1/registrations/{ada_id}"), None).await;
    assert_eq!(shown["session"].as_i64(), Some(second), "{shown}");
    let (status, again) = register(&server, ada).await;
    assert_eq!((status, again["session"].as_i64()), (StatusCode::CREATED, Some(second)), "the same answer: idempotent");

    // Changing length, link or seats emails nobody; a new start needs "notify".
    let path = format!("/api/v1/sessions/{second}");
    let (status, saved) =
        call_api(&server, token, Method::PATCH, &path, Some(json!({"join_url": "https://meet.example.com/second"})))
            .await;
    assert_eq!(
        (status, saved["join_url"].clone()),
        (StatusCode::OK, json!("https://meet.example.com/second")),
        "{saved}"
    );
    let moved = json!({"starts_at": "2031-04-01T18:00:00+02:00"});
    let (status, refused) = call_api(&server, token, Method::PATCH, &path, Some(moved.clone())).await;
    assert_eq!(
        (status, refused["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("confirmation_needed")),
        "{refused}"
    );
    let (_, unchanged) = call_api(&server, token, Method::GET, &path, None).await;
    assert_eq!(unchanged["starts_at"], "2031-03-31T15:00:00Z", "nothing saved");
    let (status, rescheduled) = call_api(
        &server,
        token,
        Method::PATCH,
        &path,
        Some(json!({"starts_at": "2031-04-01T18:00:00+02:00", "notify": true})),
    )
    .await;
    assert_eq!(
        (status, rescheduled["starts_at"].clone()),
        (StatusCode::OK, json!("2031-04-01T16:00:00Z")),
        "{rescheduled}"
    );
    assert!(email_kinds(&server, token, ada_id).await.contains(&"time_changed".to_owned()));
    // A session with no registrant moves without asking.
    let (status, _) = call_api(
        &server,
        token,
        Method::PATCH,
        &format!("/api/v1/sessions/{third}"),
        Some(json!({"starts_at": "2031-04-08T15:00:00Z"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Delete only without registrants; cancel with "notify" tells them.
    let (status, refused) = call_api(&server, token, Method::DELETE, &path, None).await;
    assert_eq!((status, refused["error"]["code"].clone()), (StatusCode::CONFLICT, json!("session_has_registrants")));
    let (status, _) = call_api(&server, token, Method::DELETE, &format!("/api/v1/sessions/{third}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call_api(&server, token, Method::GET, &format!("/api/v1/sessions/{third}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let cancel = json!({"status": "cancelled"});
    let (status, refused) = call_api(&server, token, Method::PATCH, &path, Some(cancel)).await;
    assert_eq!((status, refused["error"]["code"].clone()), (StatusCode::CONFLICT, json!("confirmation_needed")));
    let (status, cancelled) =
        call_api(&server, token, Method::PATCH, &path, Some(json!({"status": "cancelled", "notify": true}))).await;
    assert_eq!((status, cancelled["status"].clone()), (StatusCode::OK, json!("cancelled")), "{cancelled}");
    let kinds = email_kinds(&server, token, ada_id).await;
    assert!(kinds.contains(&"cancelled".to_owned()) && !kinds.contains(&"reminder_24h".to_owned()), "{kinds:?}");
    let (status, _) = call_api(&server, token, Method::PATCH, &path, Some(json!({"capacity": 9}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "a cancelled session changes no more");

    // Ids that are not this webinar's open sessions are refused, never replaced.
    let other = server.webinar("other", Status::Published, Span::days(3)).await;
    let other_session = test_support::the_session(&server.db, other.id).await.expect("its session").id;
    let grace = |session: Value| json!({"webinar": "launch", "name": "Grace", "email": "grace@example.com", "session": session});
    for (session, expected, code) in [
        (json!(other_session), StatusCode::NOT_FOUND, "session_not_found"),
        (json!(999_999), StatusCode::NOT_FOUND, "session_not_found"),
        (json!(second), StatusCode::CONFLICT, "registration_closed"),
    ] {
        let (status, refused) = register(&server, grace(session.clone())).await;
        assert_eq!((status, refused["error"]["code"].clone()), (expected, json!(code)), "{session}: {refused}");
    }
    let (status, _) = register(&server, grace(json!("second"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "not an id");
    // Without a session, the next open one.
    let (status, registered) = register(&server, grace(Value::Null)).await;
    assert_eq!((status, registered["session"].as_i64()), (StatusCode::CREATED, Some(first.id)), "{registered}");
    // Registering again for another session moves the registration.
    let (status, switched) = register(&server, grace(json!(monday))).await;
    assert_eq!(status, StatusCode::CREATED, "the answer of a new registration, as for any repeat: {switched}");
    assert_eq!(
        (switched["session"].as_i64(), switched["registrations"].as_u64()),
        (Some(monday), Some(2)),
        "{switched}"
    );
    let (_, stats) =
        call_api(&server, token, Method::GET, &format!("/api/webinar/stats?webinar=launch&session={monday}"), None)
            .await;
    assert_eq!(stats["session"], json!({"id": monday, "registrations": 1, "full": false}), "{stats}");
    let (status, _) = call_api(
        &server,
        token,
        Method::GET,
        &format!("/api/webinar/stats?webinar=launch&session={other_session}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A webinar keeps one session; unknown ids are 404.
    let (status, refused) =
        call_api(&server, token, Method::DELETE, &format!("/api/v1/sessions/{other_session}"), None).await;
    assert_eq!((status, refused["error"]["code"].clone()), (StatusCode::CONFLICT, json!("last_session")));
    for path in ["/api/v1/sessions/999999", "/api/v1/sessions/abc"] {
        let (status, _) = call_api(&server, token, Method::PATCH, path, Some(json!({"capacity": 3}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

async fn the_page_offers_open_sessions_and_the_form_picks_one_without_javascript(database: TestDatabase) {
    let server = TestServer::start(database).await;
    let launch = server.webinar("launch", Status::Published, Span::days(2)).await;
    let first = test_support::the_session(&server.db, launch.id).await.expect("its session").id;
    let page = client().get(server.url("/webinars/launch")).send().await.expect("page").text().await.expect("html");
    assert!(!page.contains("name=\"session\""), "one session: no choice, as before");

    let token = create_token(&server, "Ops", "write").await;
    let body = json!({"starts_at": "2031-03-24T17:00:00+01:00", "capacity": 1, "repeat": {"every": "day", "count": 3}});
    let (_, made) = call_api(&server, &token, Method::POST, "/api/v1/webinars/launch/sessions", Some(body)).await;
    let [full, second, cancelled] = ids(&made)[..] else { panic!("three sessions: {made}") };
    let (status, _) =
        register(&server, json!({"webinar": "launch", "name": "Ada", "email": "ada@example.com", "session": full}))
            .await;
    assert_eq!(status, StatusCode::CREATED);
    let cancel = json!({"status": "cancelled"});
    let (status, _) =
        call_api(&server, &token, Method::PATCH, &format!("/api/v1/sessions/{cancelled}"), Some(cancel)).await;
    assert_eq!(status, StatusCode::OK);

    let page = client().get(server.url("/webinars/launch")).send().await.expect("page").text().await.expect("html");
    for offered in [first, full, second] {
        assert!(page.contains(&format!("id=\"session-{offered}\"")), "session {offered} offered");
    }
    assert!(!page.contains(&format!("session-{cancelled}")), "a cancelled session is not offered");
    assert!(page.contains(&format!("value=\"{first}\" checked>")), "the next one preselected");
    assert!(page.contains(&format!("value=\"{full}\" disabled>")), "a full one cannot be picked");
    assert!(
        page.contains(&format!("data-testid=\"session-{full}-count\" class=\"session-count\">full<")),
        "and says so"
    );
    assert!(page.contains("Tuesday, 25 March 2031, 17:00 CET"), "times in the webinar's zone: {page}");

    let no_js = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let post = |session: String| {
        no_js
            .post(server.url("/api/fn/register"))
            .header("accept", "text/html")
            .header("referer", server.url("/webinars/launch"))
            .form(&[
                ("webinar", "launch".to_owned()),
                ("name", "Grace".into()),
                ("email", "grace@example.com".into()),
                ("session", session),
            ])
            .send()
    };
    let refused = post("not-a-session".into()).await.expect("post");
    assert_eq!(refused.headers()["location"], "/webinars/launch?invalid=session#register");
    let accepted = post(second.to_string()).await.expect("post");
    assert_eq!(accepted.headers()["location"], "/webinars/launch?registered=1#register");
    assert_eq!(server.registrant("grace@example.com").await.session_id, second);
}

async fn the_page_lists_as_many_sessions_as_landing_sessions_says(database: TestDatabase) {
    let server = TestServer::start_with(database, &[("LANDING_SESSIONS", "2")]).await;
    let launch = server.webinar("launch", Status::Published, Span::days(2)).await;
    let first = test_support::the_session(&server.db, launch.id).await.expect("its session").id;
    let token = create_token(&server, "Ops", "write").await;
    let body = json!({"starts_at": "2031-03-24T17:00:00+01:00", "repeat": {"every": "week", "count": 3}});
    let (_, made) = call_api(&server, &token, Method::POST, "/api/v1/webinars/launch/sessions", Some(body)).await;
    let [next, later, last] = ids(&made)[..] else { panic!("three sessions: {made}") };

    let page = client().get(server.url("/webinars/launch")).send().await.expect("page").text().await.expect("html");
    for offered in [first, next] {
        assert!(page.contains(&format!("id=\"session-{offered}\"")), "session {offered} offered");
    }
    for beyond in [later, last] {
        assert!(!page.contains(&format!("id=\"session-{beyond}\"")), "session {beyond} is past the two listed");
    }
    let (status, _) =
        register(&server, json!({"webinar": "launch", "name": "Ada", "email": "ada@example.com", "session": last}))
            .await;
    assert_eq!(status, StatusCode::CREATED, "a session not listed still takes registrations through the API");
    assert!(server::Config::from_settings([("LANDING_SESSIONS", "0")]).is_err(), "a page lists at least one session");
}

async fn the_websocket_moves_each_session_s_count_and_the_total(database: TestDatabase) {
    use futures::StreamExt;
    let server = TestServer::start(database).await;
    let launch = server.webinar("launch", Status::Published, Span::days(2)).await;
    let first = test_support::the_session(&server.db, launch.id).await.expect("its session").id;
    let token = create_token(&server, "Ops", "write").await;
    let (_, made) = call_api(
        &server,
        &token,
        Method::POST,
        "/api/v1/webinars/launch/sessions",
        Some(json!({"starts_at": "2031-03-24T17:00:00+01:00"})),
    )
    .await;
    let second = ids(&made)[0];
    let ws_url = server.url("/api/webinar/live?webinar=launch").replacen("http", "ws", 1);
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url).await.expect("connect");
    let mut next = async || {
        let message = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next()).await.expect("in time");
        let text = message.expect("open").expect("a frame").into_text().expect("text");
        serde_json::from_str::<Value>(&text).expect("JSON")
    };
    let counts = |total: u64, one: u64, two: u64| json!({"registrations": total, "sessions": {first.to_string(): one, second.to_string(): two}});
    assert_eq!(next().await, counts(0, 0, 0), "every open session's count on connect");
    let ada =
        |session: i64| json!({"webinar": "launch", "name": "Ada", "email": "ada@example.com", "session": session});
    assert_eq!(register(&server, ada(second)).await.0, StatusCode::CREATED);
    assert_eq!(next().await, counts(1, 0, 1), "the second session's count moves, the first's does not");
    assert_eq!(register(&server, ada(first)).await.0, StatusCode::CREATED);
    assert_eq!(next().await, counts(1, 1, 0), "a switch moves both, not the total");
}

test_support::on_both_databases!(
    the_websocket_moves_each_session_s_count_and_the_total,
    sessions_are_added_changed_cancelled_and_deleted_through_the_api,
    the_page_offers_open_sessions_and_the_form_picks_one_without_javascript,
    the_page_lists_as_many_sessions_as_landing_sessions_says,
);
