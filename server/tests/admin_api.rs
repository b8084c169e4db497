//! The admin API for programs (`/api/v1`), from outside: tokens and their
//! scopes on every route the OpenAPI description lists, webinars made and
//! changed by the editor's rules, idempotent creates, cursor paging while
//! registrations arrive, and a registrant's links, emails and erase.
mod support;

use std::collections::BTreeSet;

use chrono::Duration as Span;
use reqwest::header::{AUTHORIZATION, COOKIE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{EMAIL, PASSWORD, TestServer, client, create_admin, create_token, logged_in};
use test_support::TestDatabase;
use webinar::webinar::Status;

async fn call(
    server: &TestServer,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut request = client().request(method, server.url(path));
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Every registration a query finds, following the cursor until `has_more`
/// is false (on Postgres a registration joins the pages once it has settled).
async fn every_page(server: &TestServer, token: &str, query: &str) -> (StatusCode, Vec<Value>) {
    let mut rows = Vec::new();
    let mut cursor = String::new();
    for _ in 0..100 {
        let path = format!("/api/v1/webinars/launch/registrations?cursor={cursor}&{query}");
        let (status, page) = call(server, Some(token), Method::GET, &path, None).await;
        if status != StatusCode::OK {
            return (status, vec![page]);
        }
        rows.extend(page["data"].as_array().expect("data").iter().cloned());
        cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
        if page["has_more"] == json!(false) {
            return (status, rows);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the pages never ended: {rows:?}");
}

async fn register(server: &TestServer, slug: &str, email: &str, icp: Option<&str>, source: Option<&str>) {
    let body = json!({"webinar": slug, "name": "Ada Lovelace", "email": email, "icp": icp, "utm_source": source});
    let response = client().post(server.url("/api/webinar/register")).json(&body).send().await.expect("register");
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap_or_default());
}

fn webinar_body(slug: &str) -> Value {
    json!({
        "slug": slug,
        "title": "Spring launch",
        "subtitle": "What is new",
        "description": "We **ship** it live.",
        "speakers": [{"name": "Ada Lovelace", "title": "Head of Growth"}, {"name": "Grace Hopper"}],
        "agenda": [{"at": "17:00", "title": "Welcome"}, {"title": "Q&A"}],
        "starts_at": "2031-03-04T17:00:00+01:00",
        "duration_minutes": 45,
        "timezone": "Europe/Berlin",
        "join_url": "https://meet.example.com/spring",
        "capacity": 300,
        "status": "published",
        "icp_variants": [{"icp": "founders", "headline": "For founders", "intro": "Ship faster"}],
        "email_copy": [{"kind": "confirmation", "subject": "You're in, {{ name }}", "body": "See you at {{ start_local }}."}],
    })
}

/// Every operation the OpenAPI description lists under `/api/v1`, with its
/// path parameters filled in.
async fn v1_operations(
    server: &TestServer,
    slug: &str,
    (registration, session, webhook): (i64, i64, i64),
) -> Vec<(Method, String)> {
    let (_, description) = call(server, None, Method::GET, "/api/openapi.json", None).await;
    assert!(description["components"]["securitySchemes"]["token"].is_object(), "{description}");
    let paths = description["paths"].as_object().expect("paths");
    let mut operations = Vec::new();
    for (path, item) in paths.iter().filter(|(path, _)| path.starts_with("/api/v1/")) {
        for method in item.as_object().expect("operations").keys() {
            let operation = &item[method];
            assert_eq!(operation["security"][0]["token"], json!([]), "{method} {path} names the token scheme");
            let id = match path {
                _ if path.starts_with("/api/v1/webhooks/") => webhook,
                _ if path.starts_with("/api/v1/sessions/") => session,
                _ => registration,
            };
            let concrete = path.replace("{slug}", slug).replace("{id}", &id.to_string()).replace("{delivery_id}", "1");
            operations.push((Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"), concrete));
        }
    }
    operations
}

async fn every_route_wants_a_live_token_and_a_write_token_to_write(database: TestDatabase) {
    let server = TestServer::start(database).await;
    let launch = server.webinar("launch", Status::Published, Span::days(2)).await;
    let session = test_support::the_session(&server.db, launch.id).await.expect("its session").id;
    register(&server, "launch", "ada@example.com", None, None).await;
    let registration = server.registrant("ada@example.com").await.id;
    let write = create_token(&server, "CRM sync", "write").await;
    let read = create_token(&server, "Reports", "read").await;
    let revoked = create_token(&server, "Old laptop", "write").await;
    assert!(write.starts_with("wbt_") && write != read, "{write}");
    let revoked_id: i64 = webinar::api::token::all(&server.db)
        .await
        .expect("tokens")
        .into_iter()
        .find(|token| token.name == "Old laptop")
        .expect("the token")
        .id;
    webinar::api::token::revoke(&server.db, revoked_id, support::now()).await.expect("revoke");

    let hook = webinar::webhook::endpoint::create(&server.db, "https://hooks.example.com/", &[], support::now());
    let webhook = hook.await.expect("a webhook").webhook.id;
    let operations = v1_operations(&server, "launch", (registration, session, webhook)).await;
    let methods: BTreeSet<String> = operations.iter().map(|(method, _)| method.to_string()).collect();
    assert!(operations.len() >= 8, "{operations:?}");
    assert_eq!(methods, ["DELETE", "GET", "PATCH", "POST"].map(String::from).into(), "{operations:?}");
    for (method, path) in &operations {
        for token in [None, Some("wbt_forged0000000000000000000000000000000000000"), Some(revoked.as_str())] {
            let mut request = client().request(method.clone(), server.url(path));
            if let Some(token) = token {
                request = request.header(AUTHORIZATION, format!("Bearer {token}"));
            }
            let response = request.json(&json!({})).send().await.expect("request");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {path} with {token:?}");
            assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");
            let body: Value = response.json().await.expect("JSON");
            assert_eq!(body["error"]["code"], "unauthorized", "{method} {path}");
        }
        let (status, body) = call(&server, Some(&read), method.clone(), path, Some(&json!({}))).await;
        if *method == Method::GET {
            assert_eq!(status, StatusCode::OK, "{method} {path}: {body}");
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
            assert_eq!(body["error"]["code"], "read_only_token");
        }
    }
    // Nothing the read token tried was done.
    assert_eq!(
        call(&server, Some(&write), Method::GET, &format!("/api/v1/registrations/{registration}"), None).await.0,
        StatusCode::OK
    );
    let (_, webinars) = call(&server, Some(&write), Method::GET, "/api/v1/webinars", None).await;
    assert_eq!(webinars["data"].as_array().map(Vec::len), Some(1), "{webinars}");
    let tokens = webinar::api::token::all(&server.db).await.expect("tokens");
    assert!(tokens.iter().filter(|token| token.name != "Old laptop").all(|token| token.last_used_at.is_some()));
}

async fn a_session_cookie_is_not_a_token(database: TestDatabase) {
    let server = TestServer::start(database).await;
    assert!(create_admin(&server, EMAIL, PASSWORD).await.0);
    let cookie = logged_in(&server).await;
    let response = client().get(server.url("/api/v1/webinars")).header(COOKIE, cookie).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn webinars_are_made_and_changed_by_the_editor_s_rules(database: TestDatabase) {
    let server = TestServer::start(database).await;
    let token = create_token(&server, "CRM sync", "write").await;
    let token = Some(token.as_str());
    let (status, created) = call(&server, token, Method::POST, "/api/v1/webinars", Some(&webinar_body("spring"))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["starts_at"], "2031-03-04T16:00:00Z");
    assert_eq!(created["speakers"][1], json!({"name": "Grace Hopper", "title": "", "photo_url": null}));
    assert_eq!(created["agenda"], json!([{"at": "17:00", "title": "Welcome"}, {"at": "", "title": "Q&A"}]));
    assert_eq!(created["icp_variants"][0]["headline"], "For founders");
    assert_eq!(created["email_copy"][0]["kind"], "confirmation");
    assert_eq!((created["capacity"].clone(), created["registrations"].clone()), (json!(300), json!(0)));
    let (status, shown) = call(&server, token, Method::GET, "/api/v1/webinars/spring", None).await;
    assert_eq!((status, &shown), (StatusCode::OK, &created));
    let page = client().get(server.url("/webinars/spring?icp=founders")).send().await.expect("page");
    assert!(page.text().await.expect("html").contains("For founders"), "the landing page uses the variant");

    // Bad input: every field named, nothing written.
    let bad = json!({"slug": "Not A Slug", "title": "", "starts_at": "tomorrow", "timezone": "Mars/Olympus",
        "join_url": "javascript:alert(1)", "icp_variants": [{"icp": "ok", "headline": ""}],
        "speakers": [{"name": "Ada | Bcc: x", "title": ""}]});
    let (status, refused) = call(&server, token, Method::POST, "/api/v1/webinars", Some(&bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let fields: BTreeSet<&str> =
        refused["error"]["fields"].as_array().expect("fields").iter().filter_map(|f| f["field"].as_str()).collect();
    for field in ["slug", "title", "starts_at", "timezone", "join_url", "speakers", "icp_variants[0].headline"] {
        assert!(fields.contains(field), "{field} in {refused}");
    }
    let (status, typo) = call(&server, token, Method::POST, "/api/v1/webinars", Some(&json!({"titel": "x"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{typo}");
    assert!(typo["error"]["message"].as_str().is_some_and(|message| message.contains("titel")), "{typo}");
    let (status, taken) = call(&server, token, Method::POST, "/api/v1/webinars", Some(&webinar_body("spring"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a taken slug: {taken}");
    let (_, all) = call(&server, token, Method::GET, "/api/v1/webinars", None).await;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(1));

    // A change of what the body names only; a new start with registrants needs "notify".
    let (status, renamed) = call(
        &server,
        token,
        Method::PATCH,
        "/api/v1/webinars/spring",
        Some(&json!({"title": "Spring launch 2031", "capacity": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!((renamed["title"].clone(), renamed["capacity"].clone()), (json!("Spring launch 2031"), Value::Null));
    assert_eq!(renamed["icp_variants"], created["icp_variants"], "left out: kept");
    register(&server, "spring", "grace@example.com", None, None).await;
    let moved = json!({"starts_at": "2031-03-05T18:00:00Z"});
    let (status, refused) = call(&server, token, Method::PATCH, "/api/v1/webinars/spring", Some(&moved)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "confirmation_needed");
    let (_, unchanged) = call(&server, token, Method::GET, "/api/v1/webinars/spring", None).await;
    assert_eq!(unchanged["starts_at"], "2031-03-04T16:00:00Z", "nothing saved");
    let notified = json!({"starts_at": "2031-03-05T18:00:00Z", "notify": true, "icp_variants": []});
    let (status, rescheduled) = call(&server, token, Method::PATCH, "/api/v1/webinars/spring", Some(&notified)).await;
    assert_eq!(status, StatusCode::OK, "{rescheduled}");
    assert_eq!(
        (rescheduled["starts_at"].clone(), rescheduled["icp_variants"].clone()),
        (json!("2031-03-05T18:00:00Z"), json!([]))
    );
    let grace = server.registrant("grace@example.com").await.id;
    let (_, emails) = call(&server, token, Method::GET, &format!("/api/v1/registrations/{grace}/emails"), None).await;
    let kinds: Vec<&str> =
        emails["data"].as_array().expect("emails").iter().filter_map(|job| job["kind"].as_str()).collect();
    assert!(kinds.contains(&"time_changed") && kinds.contains(&"confirmation"), "{emails}");
    let (status, _) = call(&server, token, Method::PATCH, "/api/v1/webinars/nope", Some(&json!({"title": "x"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_repeated_key_gets_the_first_answer_and_writes_nothing(database: TestDatabase) {
    let server = TestServer::start(database).await;
    let token = create_token(&server, "Automation", "write").await;
    let body = webinar_body("once");
    let attempts = (0..20).map(|_| {
        client()
            .post(server.url("/api/v1/webinars"))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header("idempotency-key", "create-once-1")
            .json(&body)
            .send()
    });
    let mut answers = Vec::new();
    let mut replayed = 0;
    for response in futures::future::join_all(attempts).await {
        let response = response.expect("request");
        replayed += usize::from(response.headers().get("idempotent-replayed").is_some());
        answers.push((response.status(), response.text().await.expect("body")));
    }
    assert!(answers.iter().all(|answer| answer == &answers[0]), "one answer for all: {answers:?}");
    assert_eq!(answers[0].0, StatusCode::CREATED);
    assert_eq!(replayed, 19, "all but the first are replays");
    let (_, all) = call(&server, Some(&token), Method::GET, "/api/v1/webinars", None).await;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(1), "one webinar: {all}");

    let mut changed = body.clone();
    changed["title"] = json!("Another title");
    let reused = client()
        .post(server.url("/api/v1/webinars"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header("idempotency-key", "create-once-1")
        .json(&changed)
        .send()
        .await
        .expect("request");
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = reused.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "idempotency_key_reused");
    let bad_key = client()
        .post(server.url("/api/v1/webinars"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header("idempotency-key", "a key with spaces")
        .json(&webinar_body("spaced"))
        .send()
        .await
        .expect("request");
    assert_eq!(bad_key.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (_, all) = call(&server, Some(&token), Method::GET, "/api/v1/webinars", None).await;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(1), "still one webinar");

    // Without a key, racing creates of one address: one wins, the rest are told the address is taken.
    let race = webinar_body("race");
    let racing = (0..10).map(|_| call(&server, Some(&token), Method::POST, "/api/v1/webinars", Some(&race)));
    let answers = futures::future::join_all(racing).await;
    let created = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(status, _)| *status != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["fields"][0]["field"], "slug", "{body}");
    }
}

async fn paging_returns_each_registration_once_while_more_arrive(database: TestDatabase) {
    let server = TestServer::start(database).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    let token = create_token(&server, "Warehouse", "read").await;
    for n in 0..60 {
        register(&server, "launch", &format!("early{n}@example.com"), None, None).await;
    }
    let arriving = {
        let base = server.base.clone();
        tokio::spawn(async move {
            for n in 0..120 {
                let body = json!({"webinar": "launch", "name": "Late", "email": format!("late{n}@example.com")});
                let response = client().post(format!("{base}/api/webinar/register")).json(&body).send().await;
                assert_eq!(response.expect("register").status(), StatusCode::CREATED);
            }
        })
    };
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        // Asked before the page is read: once it is true, every registration has committed.
        let all_arrived = arriving.is_finished();
        let path = format!("/api/v1/webinars/launch/registrations?limit=7&cursor={cursor}");
        let (status, page) = call(&server, Some(&token), Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(page["data"].as_array().expect("data").iter().map(|row| row["id"].as_i64().expect("id")));
        cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
        pages += 1;
        assert!(pages < 5_000, "paging ends");
        if !page["has_more"].as_bool().expect("has_more") && all_arrived {
            break;
        }
        if page["data"].as_array().is_some_and(Vec::is_empty) {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    arriving.await.expect("registrations");
    let unique: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no registration twice");
    use sea_orm::{EntityTrait, QuerySelect};
    let all: BTreeSet<i64> = webinar::registration::Entity::find()
        .select_only()
        .column(webinar::registration::Column::Id)
        .into_tuple::<i64>()
        .all(&server.db)
        .await
        .expect("ids")
        .into_iter()
        .collect();
    assert_eq!(unique, all, "every registration once");
    assert_eq!(all.len(), 180);
}

async fn registrations_are_filtered_shown_with_links_and_erased(database: TestDatabase) {
    let server = TestServer::start(database).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    let secret = create_token(&server, "CRM sync", "write").await;
    let token = Some(secret.as_str());
    register(&server, "launch", "ada@example.com", Some("founders"), Some("newsletter")).await;
    register(&server, "launch", "grace@example.com", None, Some("linkedin")).await;
    register(&server, "launch", "linus@example.com", Some("founders"), Some("linkedin")).await;
    let emails = |rows: &[Value]| -> Vec<String> {
        rows.iter().filter_map(|row| row["email"].as_str().map(str::to_owned)).collect()
    };
    let (_, founders) = every_page(&server, &secret, "icp=founders").await;
    assert_eq!(emails(&founders), ["ada@example.com", "linus@example.com"], "{founders:?}");
    let (_, linkedin) = every_page(&server, &secret, "utm_source=linkedin&icp=founders").await;
    assert_eq!(emails(&linkedin), ["linus@example.com"]);
    let (_, future) = every_page(&server, &secret, "since=2099-01-01T00:00:00Z").await;
    assert_eq!(emails(&future), Vec::<String>::new());
    let (_, paged) = every_page(&server, &secret, "limit=1").await;
    assert_eq!(emails(&paged), ["ada@example.com", "grace@example.com", "linus@example.com"], "one a page");
    for bad in ["limit=501", "limit=0", "cursor=x&", "since=yesterday"] {
        let path = format!("/api/v1/webinars/launch/registrations?{bad}");
        let (status, body) = call(&server, token, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert!(body["error"]["fields"][0]["message"].is_string(), "{body}");
    }
    let (status, _) = call(&server, token, Method::GET, "/api/v1/webinars/nope/registrations", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let ada = server.registrant("ada@example.com").await;
    let (status, shown) = call(&server, token, Method::GET, &format!("/api/v1/registrations/{}", ada.id), None).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!((shown["webinar"].clone(), shown["icp"].clone()), (json!("launch"), json!("founders")));
    let join_url = shown["join_url"].as_str().expect("join link");
    assert!(join_url.ends_with(&format!("/j/{}", ada.token)), "{join_url}");
    let unsubscribe_url = shown["unsubscribe_url"].as_str().expect("unsubscribe link");
    let unsubscribe_page = client().get(unsubscribe_url).send().await.expect("unsubscribe page");
    assert_eq!(unsubscribe_page.status(), StatusCode::OK, "the link works: {unsubscribe_url}");
    let (_, jobs) = call(&server, token, Method::GET, &format!("/api/v1/registrations/{}/emails", ada.id), None).await;
    let first = &jobs["data"][0];
    assert_eq!((first["kind"].clone(), first["attempts"].is_number()), (json!("confirmation"), true), "{jobs}");
    assert!(first["due_at"].is_string() && first["status"].is_string(), "{jobs}");

    let path = format!("/api/v1/registrations/{}", ada.id);
    assert_eq!(call(&server, token, Method::DELETE, &path, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(call(&server, token, Method::GET, &path, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&server, token, Method::DELETE, &path, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&server, token, Method::GET, &format!("{path}/emails"), None).await.0, StatusCode::NOT_FOUND);
    for odd in ["/api/v1/registrations/abc", "/api/v1/registrations/-1", "/api/v1/registrations/99999999999999999999"] {
        assert_eq!(call(&server, token, Method::GET, odd, None).await.0, StatusCode::NOT_FOUND, "{odd}");
    }
    let (_, webinar) = call(&server, token, Method::GET, "/api/v1/webinars/launch", None).await;
    assert_eq!(webinar["registrations"], 2, "the count follows the erase");
}

async fn tokens_are_made_listed_and_revoked_in_the_admin(database: TestDatabase) {
    let server = TestServer::start(database).await;
    assert!(create_admin(&server, EMAIL, PASSWORD).await.0);
    let cookie = logged_in(&server).await;
    let function = |name: &'static str, form: &'static [(&'static str, &'static str)]| {
        client().post(server.url(&format!("/api/fn/{name}"))).header(COOKIE, cookie.clone()).form(form).send()
    };
    let made = function("admin_create_api_token", &[("name", "Zapier"), ("scope", "read")]).await.expect("create");
    assert_eq!(made.status(), StatusCode::OK);
    let made: Value = made.json().await.expect("JSON");
    let secret = made["secret"].as_str().expect("the secret, once").to_owned();
    assert_eq!(call(&server, Some(&secret), Method::GET, "/api/v1/webinars", None).await.0, StatusCode::OK);
    let refused = function("admin_create_api_token", &[("name", ""), ("scope", "admin")]).await.expect("create");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let listed: Value = function("admin_api_tokens", &[]).await.expect("list").json().await.expect("JSON");
    let row = &listed[0];
    assert_eq!((row["name"].clone(), row["scope"].clone()), (json!("Zapier"), json!("read")), "{listed}");
    assert!(row["last_used"].is_string(), "used once: {listed}");
    assert!(!listed.to_string().contains(&secret), "the list never shows a secret");
    let page = client().get(server.url("/admin/api-tokens")).header(COOKIE, cookie.clone()).send().await.expect("page");
    let html = page.text().await.expect("html");
    assert!(html.contains("Zapier") && !html.contains(&secret), "the page lists it");

    let id = row["id"].as_i64().expect("id").to_string();
    let revoked = client()
        .post(server.url("/api/fn/admin_revoke_api_token"))
        .header(COOKIE, cookie.clone())
        .form(&[("id", id.as_str())])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(call(&server, Some(&secret), Method::GET, "/api/v1/webinars", None).await.0, StatusCode::UNAUTHORIZED);
    let listed: Value = function("admin_api_tokens", &[]).await.expect("list").json().await.expect("JSON");
    assert!(listed[0]["revoked"].is_string(), "{listed}");
    let anonymous = client()
        .post(server.url("/api/fn/admin_create_api_token"))
        .form(&[("name", "x"), ("scope", "write")])
        .send()
        .await;
    assert_eq!(anonymous.expect("create").status(), StatusCode::UNAUTHORIZED);
}

test_support::on_both_databases!(
    every_route_wants_a_live_token_and_a_write_token_to_write,
    a_session_cookie_is_not_a_token,
    webinars_are_made_and_changed_by_the_editor_s_rules,
    a_repeated_key_gets_the_first_answer_and_writes_nothing,
    paging_returns_each_registration_once_while_more_arrive,
    registrations_are_filtered_shown_with_links_and_erased,
    tokens_are_made_listed_and_revoked_in_the_admin,
);
