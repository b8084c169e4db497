//! The outside audit's classes of attack, tried as an attacker would against
//! the server binary: forged and replayed links, registrant enumeration,
//! crafted links that put words on pages, control characters everywhere,
//! slow and idle connections, login bursts, and outside numbers at their
//! extremes. Each answer must be a clear 4xx (or the ordinary answer), never
//! a 5xx, a panic or a dropped connection, and nothing may be written.
mod support;

use std::time::{Duration, Instant};

use chrono::Duration as Span;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, COOKIE, LOCATION, REFERER, SET_COOKIE};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use support::{EMAIL, PASSWORD, TestServer, client, create_admin, logged_in, webinar_form};
use test_support::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use webinar::email::links::Links;
use webinar::webinar::Status;
use webinar::{queue, registration};

async fn launch(database: TestDatabase, env: &[(&str, &str)]) -> TestServer {
    with_launch(TestServer::start_with(database, env).await).await
}

async fn with_launch(server: TestServer) -> TestServer {
    server.webinar("launch", Status::Published, Span::days(2)).await;
    server
}

async fn register_json(server: &TestServer, email: &str, name: &str) -> (StatusCode, Value) {
    let body = json!({"webinar": "launch", "name": name, "email": email});
    let response = client().post(server.url("/api/webinar/register")).json(&body).send().await.expect("register");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn registrations(server: &TestServer) -> u64 {
    registration::Entity::find().count(&server.db).await.expect("count")
}

/// The first of `count` outbox messages that goes to `to`.
async fn email_to(server: &TestServer, count: usize, to: &str) -> String {
    let messages = server.outbox_messages(count).await;
    messages.into_iter().find(|eml| eml.contains(&format!("<{to}>"))).unwrap_or_else(|| panic!("no email to {to}"))
}

/// The unsubscribe link in an email (`/u/…`, quoted-printable soft breaks undone).
fn unsubscribe_path(eml: &str) -> String {
    let joined = eml.replace("=\r\n", "").replace("=\n", "");
    let start = joined.find("List-Unsubscribe: <").expect("the header") + "List-Unsubscribe: <".len();
    let url = &joined[start..start + joined[start..].find('>').expect("its end")];
    url.split_once("/u/").map(|(_, token)| format!("/u/{token}")).expect("a /u/ link")
}

fn healthy(answer: StatusCode, what: &str) {
    assert!(!answer.is_server_error(), "{what}: answered {answer}");
}

/// Without `SECRET_KEY` no key from the source signs anything: a random key
/// is generated on first start and kept, so the email's link works after a
/// restart and on another instance, while every forgery is refused.
#[tokio::test]
async fn unsubscribe_links_cannot_be_forged_on_a_default_install() {
    let server = launch(TestDatabase::sqlite().expect("database"), &[("SECRET_KEY", "")]).await;
    assert_eq!(register_json(&server, "ada@example.com", "Ada").await.0, StatusCode::CREATED);
    assert_eq!(register_json(&server, "grace@example.com", "Grace").await.0, StatusCode::CREATED);
    let ada = server.registrant("ada@example.com").await;
    let grace = server.registrant("grace@example.com").await;
    let genuine = unsubscribe_path(&email_to(&server, 2, "ada@example.com").await);
    // The old fixed key, keys anyone might guess, and Ada's signature on Grace's id.
    let mut forged: Vec<String> = ["development-only-secret-set-SECRET_KEY-in-production", "", "secret", "changeme"]
        .iter()
        .map(|key| format!("/u/{}", Links::new(&server.base, key.as_bytes()).unsubscribe_token(grace.id)))
        .collect();
    let signature = genuine.rsplit('.').next().expect("a signature");
    forged.push(format!("/u/{}.{signature}", grace.id));
    for path in &forged {
        let answer = client().post(server.url(path)).send().await.expect("post");
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let grace_after = server.registrant("grace@example.com").await;
    assert!(grace_after.unsubscribed_at.is_none(), "no forgery unsubscribed anyone");
    let pending = queue::job::Entity::find()
        .filter(queue::job::Column::RegistrationId.eq(grace.id))
        .filter(queue::job::Column::Status.eq(queue::job::Status::Cancelled))
        .count(&server.db)
        .await
        .expect("count");
    assert_eq!(pending, 0, "none of Grace's reminders were cancelled");

    // The genuine link: after a restart, and on a second instance, it still verifies.
    let second = server.second_instance(&[("SECRET_KEY", "")]).await;
    let asked = client().get(second.url(&genuine)).send().await.expect("confirm page");
    assert_eq!(asked.status(), StatusCode::OK, "the link from the email still works on another instance");
    for _ in 0..2 {
        let done = client().post(second.url(&genuine)).send().await.expect("unsubscribe");
        assert_eq!(done.status(), StatusCode::OK, "replaying it changes nothing more");
    }
    assert!(server.registrant("ada@example.com").await.unsubscribed_at.is_some());
    assert_ne!(ada.id, grace.id);
}

/// `/j/` and `/u/` draw on the public budget: tokens are not open to guessing.
#[tokio::test]
async fn registrant_links_are_rate_limited() {
    let server = launch(TestDatabase::sqlite().expect("database"), &[("RATE_LIMIT_PUBLIC", "4/1h")]).await;
    for path in ["/j/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "/u/1.0123", "/j/x", "/u/2.ab"] {
        assert_eq!(client().get(server.url(path)).send().await.expect("get").status(), StatusCode::NOT_FOUND);
    }
    for path in ["/j/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "/u/3.cd"] {
        let refused = client().get(server.url(path)).send().await.expect("get");
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert!(refused.headers().contains_key("retry-after"));
        assert!(refused.text().await.expect("page").contains("<h1>Too many attempts</h1>"), "a page for a person");
    }
}

/// The three entry points answer an existing address exactly as a new one:
/// same status, same body (but for the public count), the name typed, the
/// same redirect, and no registrant's id, token or stored name anywhere.
async fn an_address_reveals_no_registrant(database: TestDatabase) {
    let server = launch(database, &[("RUN_WORKER", "false")]).await;
    assert_eq!(register_json(&server, "victim@example.com", "Victoria Secret-Name").await.0, StatusCode::CREATED);
    let victim = server.registrant("victim@example.com").await;

    let (new_status, new_body) = register_json(&server, "someone-new@example.com", "Mallory").await;
    let (old_status, old_body) = register_json(&server, "VICTIM@example.com", "Mallory").await;
    assert_eq!((new_status, old_status), (StatusCode::CREATED, StatusCode::CREATED));
    let keys = |body: &Value| body.as_object().map(|fields| fields.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(&new_body), keys(&old_body));
    assert_eq!(new_body["webinar"], old_body["webinar"]);
    for body in [&new_body, &old_body] {
        let text = body.to_string();
        assert!(!text.contains(&victim.token) && !text.contains("registration_id"), "{text}");
    }

    // The page's server function: the typed name back, never the stored one.
    let function = |email: &'static str| {
        client()
            .post(server.url("/api/fn/register"))
            .header(ACCEPT, "application/json")
            .form(&[("webinar", "launch"), ("name", "Mallory"), ("email", email)])
            .send()
    };
    let new = function("another-new@example.com").await.expect("post");
    let old = function("victim@example.com").await.expect("post");
    assert_eq!(new.status(), old.status());
    let (new, old): (Value, Value) = (new.json().await.expect("JSON"), old.json().await.expect("JSON"));
    assert_eq!((new["name"].as_str(), old["name"].as_str()), (Some("Mallory"), Some("Mallory")));

    // Without JavaScript: the same redirect, no token in it.
    let plain = |email: &'static str| {
        client()
            .post(server.url("/api/fn/register"))
            .header(ACCEPT, "text/html")
            .header(REFERER, server.url("/webinars/launch"))
            .form(&[("webinar", "launch"), ("name", "Mallory"), ("email", email)])
            .send()
    };
    let new = plain("third-new@example.com").await.expect("post");
    let old = plain("victim@example.com").await.expect("post");
    assert_eq!(new.status(), old.status());
    assert!(new.status().is_redirection());
    assert_eq!(new.headers()[LOCATION], old.headers()[LOCATION]);
    assert_eq!(new.headers()[LOCATION], "/webinars/launch?registered=1#register");
    let cookie = old.headers()[SET_COOKIE].to_str().expect("ASCII").split(';').next().expect("pair").to_owned();
    let page = client().get(server.url("/webinars/launch?registered=1")).header(COOKIE, &cookie).send().await;
    let page = page.expect("page").text().await.expect("html");
    assert!(page.contains("You're registered, Mallory!"), "the typed name, from the visitor's own cookie");
    assert!(!page.contains("Victoria"), "never the stored name");
    // The old-style link with a token shows nothing of its registrant.
    let by_token = client().get(server.url(&format!("/webinars/launch?registered={}", victim.token))).send().await;
    let by_token = by_token.expect("page").text().await.expect("html");
    assert!(
        !by_token.contains("Victoria") && !by_token.contains("You're registered"),
        "a token in a URL opens nothing"
    );
    assert_eq!(server.registrant("victim@example.com").await, victim, "the existing registration is untouched");
}

/// A crafted link cannot put its own words on the landing or login page:
/// Leptos's form-error parameters are dropped (a redirect to the clean
/// address), and the pages' own parameters map to fixed text only.
#[tokio::test]
async fn crafted_links_put_no_words_on_pages() {
    use base64::Engine;
    let server = launch(TestDatabase::sqlite().expect("database"), &[]).await;
    let planted = "PLANTED-WORDS call 555-0100";
    let closed = base64::engine::general_purpose::URL_SAFE.encode(json!({"Closed": planted}).to_string());
    let invalid = base64::engine::general_purpose::URL_SAFE
        .encode(json!({"Invalid": [{"field": "email", "message": planted}]}).to_string());
    let redirecting = reqwest::Client::new();
    for (path, function) in [("/webinars/launch", "/api/fn/register"), ("/admin/login", "/api/fn/admin_login")] {
        for error in [&closed, &invalid] {
            let crafted = format!("{path}?__path={function}&__err={error}");
            let first = client().get(server.url(&crafted)).send().await.expect("get");
            assert!(first.status().is_redirection(), "{crafted}: {}", first.status());
            assert_eq!(first.headers()[LOCATION], path, "{crafted}");
            let page = redirecting.get(server.url(&crafted)).send().await.expect("get").text().await.expect("html");
            assert!(!page.contains("PLANTED"), "{crafted}");
        }
    }
    for crafted in ["/webinars/launch?invalid=PLANTED-WORDS,email", "/admin/login?failed=PLANTED-WORDS"] {
        let page = redirecting.get(server.url(crafted)).send().await.expect("get").text().await.expect("html");
        assert!(!page.contains("PLANTED"), "{crafted}");
    }
    let page = redirecting.get(server.url("/webinars/launch?x=1&__err=e&__path=p")).send().await.expect("get");
    assert_eq!(page.url().query(), Some("x=1"), "other parameters are kept");
}

/// A NUL or other control character in any field, path segment or query
/// value is a 4xx on both databases, never "database unavailable".
async fn control_characters_are_refused_at_the_edge(database: TestDatabase) {
    // A process of its own: the test reads the server's log.
    let server = with_launch(TestServer::spawn_with(database, &[("RUN_WORKER", "false")]).await).await;
    let fields = ["webinar", "name", "email", "company", "icp", "utm_source", "utm_medium", "utm_campaign"];
    for field in fields {
        for bad in ["\u{0}", "a\u{1b}b", "x\u{7f}", "\u{85}"] {
            let mut body = json!({"webinar": "launch", "name": "Ada", "email": "ada@example.com"});
            body[field] = json!(format!("ok{bad}"));
            let answer = client().post(server.url("/api/webinar/register")).json(&body).send().await.expect("post");
            assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field} {bad:?}");
            let error: Value = answer.json().await.expect("JSON");
            assert_eq!(error["error"]["fields"][0]["field"], field, "{error}");
            let form = [("webinar", "launch"), ("name", "Ada"), ("email", "ada@example.com"), (field, "ok\u{0}")];
            let answer = client().post(server.url("/api/fn/register")).form(&form).send().await.expect("post");
            assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "form {field}");
        }
    }
    for path in [
        "/j/%00",
        "/j/abc%00def",
        "/u/1.%00",
        "/webinars/la%00unch",
        "/webinars/%0A",
        "/api/webinar/stats?webinar=launch%00",
        "/api/webinar/stats?webinar=%1B",
        "/api/webinar/live?webinar=%00",
        "/admin/webinars/la%00unch",
        "/?icp=%00",
    ] {
        let answer = client().get(server.url(path)).send().await.expect("get");
        assert!(answer.status().is_client_error(), "{path}: {}", answer.status());
    }
    // Odd but clean slugs and tokens: not found, without asking the database.
    for path in ["/api/webinar/stats?webinar=%20launch%20", "/api/webinar/stats?webinar=L%C3%84UNCH", "/j/%E2%80%AE"] {
        healthy(client().get(server.url(path)).send().await.expect("get").status(), path);
    }
    assert_eq!(registrations(&server).await, 0, "nothing was written");
    assert!(create_admin(&server, EMAIL, PASSWORD).await.0);
    let cookie = logged_in(&server).await;
    for (field, value) in
        [("title", "Launch\u{0}"), ("join_url", "https://meet.example.com/x\u{0}"), ("slug", "a\u{0}")]
    {
        let form = [("original", ""), (field, value)];
        let answer =
            client().post(server.url("/api/fn/admin_save_webinar")).header(COOKIE, &cookie).form(&form).send().await;
        assert_eq!(answer.expect("post").status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
    }
    let logs = server.logs().join("\n");
    assert!(!logs.contains("database error"), "no control character was taken for an outage: {logs}");
}

/// A meeting link with a line break is refused, not stored raw (it would
/// break every join redirect); a page number near 2^64 is just a page.
async fn admin_input_is_stored_as_validated(database: TestDatabase) {
    let server = launch(database, &[("RUN_WORKER", "false")]).await;
    assert!(create_admin(&server, EMAIL, PASSWORD).await.0);
    let cookie = logged_in(&server).await;
    for join_url in ["https://meet.example.com/x\nLocation: https://evil.example", "https://meet.example.com/a b"] {
        let form = webinar_form("", &[("join_url", join_url)]);
        let answer =
            client().post(server.url("/api/fn/admin_save_webinar")).header(COOKIE, &cookie).form(&form).send().await;
        let answer = answer.expect("post");
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = answer.json().await.expect("JSON");
        assert!(body.to_string().contains("join_url"), "{body}");
    }
    for page in ["18446744073709551615", "9223372036854775808", "0"] {
        let form = [("slug", "launch"), ("search", ""), ("page", page)];
        let answer =
            client().post(server.url("/api/fn/admin_registrations")).header(COOKIE, &cookie).form(&form).send().await;
        assert_eq!(answer.expect("post").status(), StatusCode::OK, "page {page}");
    }
    let answer = client()
        .get(server.url("/admin/webinars/launch/registrations?page=18446744073709551615"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(answer.status(), StatusCode::OK);
}

/// A plain form post whose hidden webinar field is odd neither panics nor
/// redirects to a URL built from it.
#[tokio::test]
async fn plain_form_posts_redirect_only_to_our_own_pages() {
    let server = launch(TestDatabase::sqlite().expect("database"), &[("RUN_WORKER", "false")]).await;
    let post = |webinar: &'static str, email: &'static str| {
        client()
            .post(server.url("/api/fn/register"))
            .header(ACCEPT, "text/html")
            .header(REFERER, server.url("/webinars/launch"))
            .form(&[("webinar", webinar), ("name", "Ada"), ("email", email)])
            .send()
    };
    let trailing = post("launch\n", "ada@example.com").await.expect("answered, not dropped");
    assert_eq!(trailing.headers()[LOCATION], "/webinars/launch?registered=1#register");
    let inner = post("la\nunch\r\nSet-Cookie: x=y", "grace@example.com").await.expect("answered, not dropped");
    assert_eq!(inner.headers()[LOCATION], "/webinars/launch#register", "back to the page it came from");
    assert!(!inner.headers().contains_key(SET_COOKIE));
    let other_site = client()
        .post(server.url("/api/fn/register"))
        .header(ACCEPT, "text/html")
        .header(REFERER, "https://evil.example/phish")
        .form(&[("webinar", "nope"), ("name", "Ada"), ("email", "x@example.com")])
        .send()
        .await
        .expect("answered");
    assert_eq!(other_site.headers()[LOCATION], "/#register");
    // Arguments the server function cannot read: Leptos would send the browser
    // back to the Referer with its error text; it goes to our own page, bare.
    for (referer, expected) in
        [("https://evil.example/phish", "/"), (server.url("/webinars/launch").as_str(), "/webinars/launch")]
    {
        let unreadable = client()
            .post(server.url("/api/fn/register"))
            .header(ACCEPT, "text/html")
            .header(REFERER, referer)
            .form(&[("webinar", "launch"), ("email", "x@example.com"), ("email", "y@example.com")])
            .send()
            .await
            .expect("answered");
        assert!(unreadable.status().is_redirection(), "{}", unreadable.status());
        assert_eq!(unreadable.headers()[LOCATION], expected, "from {referer}");
    }
    assert_eq!(reqwest::get(server.url("/healthz")).await.expect("alive").status(), StatusCode::OK);
    assert_eq!(registrations(&server).await, 1, "only the registration for a real webinar");
}

/// `/metrics` without a token is served straight to this machine only, and
/// a token is compared in full.
#[tokio::test]
async fn metrics_need_a_token_beyond_this_machine() {
    let open = launch(TestDatabase::sqlite().expect("database"), &[("RUN_WORKER", "false")]).await;
    assert_eq!(reqwest::get(open.url("/metrics")).await.expect("scrape").status(), StatusCode::OK);
    let proxied = client().get(open.url("/metrics")).header("x-forwarded-for", "203.0.113.9").send().await;
    assert_eq!(proxied.expect("scrape").status(), StatusCode::FORBIDDEN, "through a proxy on this host");
    let token = "metrics-token-0123456789";
    let guarded = launch(TestDatabase::sqlite().expect("database"), &[("METRICS_TOKEN", token)]).await;
    for presented in
        [None, Some("Bearer metrics-token-012345678"), Some("Bearer metrics-token-0123456789x"), Some(token)]
    {
        let mut request = client().get(guarded.url("/metrics"));
        if let Some(presented) = presented {
            request = request.header("authorization", presented);
        }
        assert_eq!(request.send().await.expect("scrape").status(), StatusCode::UNAUTHORIZED, "{presented:?}");
    }
    let right = client().get(guarded.url("/metrics")).header("authorization", format!("Bearer {token}")).send().await;
    assert_eq!(right.expect("scrape").status(), StatusCode::OK);
}

/// Opens `count` TCP connections to `address` and keeps them (silent).
async fn idle_connections(address: &str, count: usize) -> Vec<tokio::net::TcpStream> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        if let Ok(stream) = tokio::net::TcpStream::connect(address).await {
            held.push(stream);
        }
    }
    held
}

/// Whether the server has closed `stream` (a read sees the end, or a reset).
async fn closed_by_server(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// 1,000 idle connections and a slow-headers client from one address leave
/// a visitor from another address served in well under a second; the idle
/// and slow ones are let go after the header timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_let_go() {
    let _ = rlimit::increase_nofile_limit(8192);
    let env = [("HTTP_HEADER_TIMEOUT_SECS", "2"), ("MAX_CONNECTIONS_PER_CLIENT", "100")];
    let server = launch(TestDatabase::sqlite().expect("database"), &env).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.expect("the start of a head");
    let trickle = tokio::spawn(async move {
        for _ in 0..20 {
            if slow.write_all(b"X").await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        closed_by_server(&mut slow, Duration::from_millis(100)).await
    });
    let mut idle = idle_connections(&address, 1000).await;
    let visitor = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("a client on 127.0.0.2");
    for _ in 0..5 {
        let started = Instant::now();
        let answer = visitor.get(server.url("/webinars/launch")).send().await.expect("served");
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(started.elapsed() < Duration::from_secs(1), "served in {:?}", started.elapsed());
    }
    let mut closed = 0;
    for stream in idle.iter_mut() {
        if closed_by_server(stream, Duration::from_secs(4)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, idle.len(), "every idle connection let go (over the cap at once, the rest after 2 s)");
    assert!(trickle.await.expect("the slow client"), "a head trickling in is cut off at the header timeout");
    let again = reqwest::get(server.url("/healthz")).await.expect("served");
    assert_eq!(again.status(), StatusCode::OK, "the address's connections are free again");
}

/// Password hashing runs off the request threads, a few at a time: 100
/// logins at once from 100 addresses leave a visitor's page fast. And each
/// account has a budget of its own, whatever the addresses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_logins_does_not_slow_pages_and_each_account_has_a_budget() {
    let env = [("TRUSTED_PROXIES", "127.0.0.1"), ("RATE_LIMIT_ACCOUNT", "10/15m"), ("RUN_WORKER", "false")];
    let server = launch(TestDatabase::sqlite().expect("database"), &env).await;
    assert!(create_admin(&server, EMAIL, PASSWORD).await.0);
    let login = |email: String, password: &'static str, from: String| {
        client()
            .post(server.url("/api/fn/admin_login"))
            .header("x-forwarded-for", from)
            .form(&[("email", email.as_str()), ("password", password)])
            .send()
    };
    let warm = reqwest::Client::new();
    warm.get(server.url("/webinars/launch")).send().await.expect("warm up");
    let burst: Vec<_> = (0..100)
        .map(|n| tokio::spawn(login(format!("user{n}@example.com"), "wrong password!", format!("198.51.100.{n}"))))
        .collect();
    let mut latencies = Vec::new();
    while latencies.len() < 100 {
        let started = Instant::now();
        let page = warm.get(server.url("/api/webinar/stats?webinar=launch")).send().await.expect("page");
        assert_eq!(page.status(), StatusCode::OK);
        latencies.push(started.elapsed());
    }
    for attempt in burst {
        assert_eq!(attempt.await.expect("joined").expect("answered").status(), StatusCode::UNAUTHORIZED);
    }
    latencies.sort();
    let p99 = latencies[98];
    assert!(p99 < Duration::from_millis(50), "a visitor's p99 during 100 logins: {p99:?}");

    // Ten tries at one account, from ten addresses; the eleventh is refused
    // even with the right password and from a fresh address.
    for n in 0..10 {
        let answer = login(EMAIL.to_owned(), "not the password", format!("203.0.113.{n}")).await.expect("answer");
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "try {n}");
    }
    let refused = login(EMAIL.to_uppercase(), PASSWORD, "203.0.113.200".into()).await.expect("answer");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let other = login("other@example.com".into(), "not the password", "203.0.113.201".into()).await.expect("answer");
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED, "another account keeps its budget");
}

test_support::on_both_databases!(
    an_address_reveals_no_registrant,
    control_characters_are_refused_at_the_edge,
    admin_input_is_stored_as_validated
);
