//! The admin's door: accounts from the command line, login with a session
//! cookie, and no admin page or server function for anyone without one.
mod support;

use chrono::Duration as Span;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use support::{EMAIL, PASSWORD, TestServer, client, create_admin, log_in, logged_in};
use test_support::TestDatabase;
use webinar::webinar::Status;

/// Every admin page and server function the app registers, so a new one
/// cannot be forgotten here.
fn admin_routes() -> (Vec<String>, Vec<String>) {
    let pages = server::routes::page_routes()
        .iter()
        .map(|route| route.path().to_owned())
        .filter(|path| path.starts_with("/admin") && path != "/admin/login")
        .collect();
    let functions = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .filter(|path| path.starts_with("/api/fn/admin_") && path != "/api/fn/admin_login")
        .collect();
    (pages, functions)
}

async fn every_admin_route_rejects_an_anonymous_request(database: TestDatabase) {
    let server = TestServer::start(database).await;
    let (pages, functions) = admin_routes();
    assert!(pages.contains(&"/admin".to_owned()), "{pages:?}");
    assert!(functions.len() >= 2, "{functions:?}");
    for cookie in [None, Some("webinar_admin=forged-token")] {
        for page in &pages {
            let mut request = client().get(server.url(page));
            if let Some(cookie) = cookie {
                request = request.header(COOKIE, cookie);
            }
            let response = request.send().await.expect("page");
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{page} with {cookie:?}");
            assert_eq!(response.headers()[LOCATION], "/admin/login", "{page}");
        }
        for function in &functions {
            let mut request =
                client().post(server.url(function)).header("content-type", "application/x-www-form-urlencoded");
            if let Some(cookie) = cookie {
                request = request.header(COOKIE, cookie);
            }
            let response = request.send().await.expect("server function");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{function} with {cookie:?}");
            let body: Value = response.json().await.expect("JSON");
            assert_eq!(body, "Unauthorized", "the page's own error encoding: {function}");
        }
    }
    let api = client().get(server.url("/api/admin/anything")).send().await.expect("api");
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    let body: Value = api.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "unauthorized");
}

async fn an_admin_logs_in_sees_the_webinars_and_logs_out(database: TestDatabase) {
    let server = TestServer::start(database).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    assert!(!create_admin(&server, EMAIL, "short").await.0, "a weak password is refused");
    let (created, said) = create_admin(&server, EMAIL, PASSWORD).await;
    assert!(created, "{said}");
    let (again, said) = create_admin(&server, "Marketing@Example.com", PASSWORD).await;
    assert!(!again && said.contains("already exists"), "{said}");

    // An unknown email and a wrong password are answered alike.
    let unknown = log_in(&server, "nobody@example.com", PASSWORD).await;
    let wrong = log_in(&server, EMAIL, "not the password at all").await;
    assert!(unknown.headers().get(SET_COOKIE).is_none() && wrong.headers().get(SET_COOKIE).is_none());
    let (unknown_status, wrong_status) = (unknown.status(), wrong.status());
    let (unknown_body, wrong_body) = (unknown.text().await.expect("body"), wrong.text().await.expect("body"));
    assert_eq!((unknown_status, &unknown_body), (wrong_status, &wrong_body));
    assert_eq!(unknown_status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_body, r#""LoginFailed""#);

    let cookie = logged_in(&server).await;

    let page = client().get(server.url("/admin")).header(COOKIE, &cookie).send().await.expect("admin");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("Growth webinar launch") && html.contains("published"), "{html}");
    let rows: Value = client()
        .post(server.url("/api/fn/admin_webinars"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("rows")
        .json()
        .await
        .expect("JSON");
    assert_eq!(rows[0]["slug"], "launch");
    assert_eq!(rows[0]["registrations"], 0);

    let logout = client().post(server.url("/api/fn/admin_logout")).header(COOKIE, &cookie).send().await.expect("out");
    assert!(logout.headers()[SET_COOKIE].to_str().expect("ASCII").contains("Max-Age=0"));
    let after = client().post(server.url("/api/fn/admin_webinars")).header(COOKIE, &cookie).send().await.expect("rows");
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "the session ended on the server too");
}

/// More registrants than one page of the export, some with names built to
/// break a CSV file or a spreadsheet.
async fn the_registrations_csv_is_complete_quoted_and_formula_safe(database: TestDatabase) {
    use sea_orm::{ActiveValue::Set, EntityTrait};
    use webinar::registration;
    let server = TestServer::start(database).await;
    let launch = server.webinar("launch", Status::Published, Span::days(2)).await;
    server.webinar("other", Status::Published, Span::days(3)).await;
    let tricky = ["Ada, \"the\" Countess", "=HYPERLINK(\"http://evil.example\")", "+1 555", "@SUM(A1)"];
    for (n, name) in tricky.iter().enumerate() {
        let body = serde_json::json!({"webinar": "launch", "name": name, "email": format!("t{n}@example.com"), "utm_source": "-news"});
        let response = client().post(server.url("/api/webinar/register")).json(&body).send().await.expect("register");
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let other = serde_json::json!({"webinar": "other", "name": "Elsewhere", "email": "else@example.com"});
    client().post(server.url("/api/webinar/register")).json(&other).send().await.expect("register");
    let bulk: Vec<registration::ActiveModel> = (0..1100)
        .map(|n| registration::ActiveModel {
            webinar_id: Set(launch.id),
            name: Set(format!("Bulk {n}")),
            email: Set(format!("bulk{n}@example.com")),
            email_key: Set(format!("bulk{n}@example.com")),
            token: Set(format!("bulk-token-{n}")),
            created_at: Set(support::now()),
            ..Default::default()
        })
        .collect();
    registration::Entity::insert_many(bulk).exec(&server.db).await.expect("bulk registrations");

    let url = server.url("/api/admin/webinars/launch/registrations.csv");
    assert_eq!(client().get(&url).send().await.expect("csv").status(), StatusCode::UNAUTHORIZED);
    assert!(create_admin(&server, EMAIL, PASSWORD).await.0);
    let cookie = logged_in(&server).await;
    let response = client().get(&url).header(COOKIE, &cookie).send().await.expect("csv");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(response.headers()["content-disposition"], "attachment; filename=\"launch-registrations.csv\"");
    let text = response.text().await.expect("body");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().expect("a header").clone();
    assert_eq!(&header, &webinar::registration::export::CSV_COLUMNS[..]);
    let rows: Vec<csv::StringRecord> = reader.records().map(|row| row.expect("a well-formed row")).collect();
    assert_eq!(rows.len(), 4 + 1100, "every registrant of this webinar, across pages, and no one else's");
    let names: Vec<&str> = rows.iter().map(|row| &row[1]).collect();
    assert_eq!(&names[..4], ["Ada, \"the\" Countess", "'=HYPERLINK(\"http://evil.example\")", "'+1 555", "'@SUM(A1)"]);
    assert_eq!(&rows[0][5], "'-news", "every column is made safe");
    let session = test_support::the_session(&server.db, launch.id).await.expect("its session");
    assert_eq!((&rows[0][9], &rows[0][10]), (session.id.to_string().as_str(), session.starts_at.to_rfc3339().as_str()));
    assert_eq!(names[4 + 1099], "Bulk 1099");
    assert!(!names.contains(&"Elsewhere"));
    let missing = client()
        .get(server.url("/api/admin/webinars/nope/registrations.csv"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("csv");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// A GDPR erase: the registrant and every email job of theirs are gone;
/// anyone else's stay; only an admin can do it, and only from this site.
async fn erasing_a_registrant_removes_them_and_their_emails(database: TestDatabase) {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    use webinar::{queue, registration};
    let server = TestServer::start_with(database, &[("RUN_WORKER", "false")]).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;
    let mut ids = Vec::new();
    for email in ["ada@example.com", "grace@example.com"] {
        let body = serde_json::json!({"webinar": "launch", "name": "A", "email": email});
        let response = client().post(server.url("/api/webinar/register")).json(&body).send().await.expect("register");
        assert_eq!(response.status(), StatusCode::CREATED);
        ids.push(server.registrant(email).await.id);
    }
    // What the provider reported about each registrant's emails.
    use webinar::deliverability::event;
    for (n, id) in ids.iter().enumerate() {
        let job = queue::for_registration(&server.db, *id).await.expect("jobs")[0].id;
        let reported = serde_json::json!({"email": "x@example.com", "timestamp": 1_900_000_000, "event": "open",
            "sg_event_id": format!("e-{n}"), "job_id": job.to_string()});
        let reported: event::SendGridEvent = serde_json::from_value(reported).expect("an event");
        event::record(&server.db, vec![event::row(&reported, "x@example.com".into(), support::now())])
            .await
            .expect("record");
    }
    let url = server.url(&format!("/api/admin/registrations/{}", ids[0]));
    assert_eq!(client().delete(&url).send().await.expect("delete").status(), StatusCode::UNAUTHORIZED);
    assert!(create_admin(&server, EMAIL, PASSWORD).await.0);
    let cookie = logged_in(&server).await;
    let cross_site = client()
        .delete(&url)
        .header(COOKIE, &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("delete");
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);

    let erased = client().delete(&url).header(COOKIE, &cookie).send().await.expect("delete");
    assert_eq!(erased.status(), StatusCode::NO_CONTENT);
    assert!(registration::Entity::find_by_id(ids[0]).one(&server.db).await.expect("query").is_none());
    let jobs_of =
        |id: i64| queue::job::Entity::find().filter(queue::job::Column::RegistrationId.eq(id)).count(&server.db);
    assert_eq!(jobs_of(ids[0]).await.expect("count"), 0, "their emails are gone too");
    let events: Vec<String> =
        event::Entity::find().all(&server.db).await.expect("events").into_iter().map(|e| e.provider_event_id).collect();
    assert_eq!(events, ["e-1"], "and what the provider said of them; the other registrant's stays");
    assert_eq!(jobs_of(ids[1]).await.expect("count"), 4, "the other registrant keeps theirs");
    let again = client().delete(&url).header(COOKIE, &cookie).send().await.expect("delete");
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

test_support::on_both_databases!(
    erasing_a_registrant_removes_them_and_their_emails,
    the_registrations_csv_is_complete_quoted_and_formula_safe,
    every_admin_route_rejects_an_anonymous_request,
    an_admin_logs_in_sees_the_webinars_and_logs_out,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eleventh_login_attempt_in_a_minute_is_429() {
    let server =
        TestServer::start_with(TestDatabase::sqlite().expect("database"), &[("RATE_LIMIT_AUTH", "10/1m")]).await;
    // All at once, as a password-guessing script would send them.
    let attempts = (0..11).map(|_| log_in(&server, EMAIL, "wrong password here"));
    let mut statuses: Vec<StatusCode> = futures::future::join_all(attempts).await.iter().map(|r| r.status()).collect();
    statuses.sort();
    let mut expected = vec![StatusCode::UNAUTHORIZED; 10];
    expected.push(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(statuses, expected);
    let limited = log_in(&server, EMAIL, "wrong password here").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS, "and the next one too");
    assert!(limited.headers().contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_posted_from_another_site_is_refused() {
    let server = TestServer::start(TestDatabase::sqlite().expect("database")).await;
    assert!(create_admin(&server, EMAIL, PASSWORD).await.0);
    let response = client()
        .post(server.url("/api/fn/admin_login"))
        .header("origin", "https://evil.example")
        .form(&[("email", EMAIL), ("password", PASSWORD)])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(SET_COOKIE).is_none());
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "cross_site");
}
