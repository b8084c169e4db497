//! Live counts across instances, and the public API while the database is away.
mod support;

use std::time::{Duration, Instant};

use chrono::Duration as Span;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Outage, RedisNamespace, TestServer};
use test_support::TestDatabase;
use webinar::webinar::Status;

async fn register(server: &TestServer, email: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url("/api/webinar/register"))
        .json(&json!({"webinar": "launch", "name": "Ada", "email": email}))
        .send()
        .await
        .expect("request")
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn follow(server: &TestServer) -> Socket {
    follow_webinar(server, "launch").await
}

async fn follow_webinar(server: &TestServer, slug: &str) -> Socket {
    let url = server.url(&format!("/api/webinar/live?webinar={slug}")).replacen("http", "ws", 1);
    tokio_tungstenite::connect_async(url).await.expect("connect").0
}

async fn next_count(socket: &mut Socket, within: Duration) -> Value {
    let message = tokio::time::timeout(within, socket.next()).await.expect("a message in time");
    let text = message.expect("open").expect("a frame").into_text().expect("text");
    serde_json::from_str(&text).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_on_instance_b_sees_a_registration_made_through_a_within_500_ms() {
    let redis = RedisNamespace::new();
    // A process of its own: an outage test.
    let a = TestServer::spawn_with(TestDatabase::postgres().await.expect("database"), &redis.env()).await;
    let launch = a.webinar("launch", Status::Published, Span::days(2)).await;
    let warm = a.webinar("warm-up", Status::Published, Span::days(2)).await;
    // The webinar's total and its one session's count, as the websocket sends them.
    let session_of = async |webinar: &webinar::webinar::Model| {
        test_support::the_session(&a.db, webinar.id).await.expect("its session").id.to_string()
    };
    let (launch, warm) = (session_of(&launch).await, session_of(&warm).await);
    let counts = |session: &str, n: u64| json!({"registrations": n, "sessions": {session: n}});
    let b = a.second_instance(&redis.env()).await;
    // Warm up untimed: B's Redis subscription is live once a count crosses
    // over, and both fresh processes have paid their first-request costs
    // (pool connections, statement preparation, the rate-limit script).
    let mut warm_up = follow_webinar(&b, "warm-up").await;
    assert_eq!(next_count(&mut warm_up, Duration::from_secs(5)).await, counts(&warm, 0));
    let body = json!({"webinar": "warm-up", "name": "Ada", "email": "warm@example.com"});
    let warmed = reqwest::Client::new().post(a.url("/api/webinar/register")).json(&body).send().await.expect("post");
    assert_eq!(warmed.status(), StatusCode::CREATED);
    assert_eq!(
        next_count(&mut warm_up, Duration::from_secs(5)).await,
        counts(&warm, 1),
        "over Redis, with its session"
    );
    let mut on_b = follow(&b).await;
    assert_eq!(next_count(&mut on_b, Duration::from_secs(5)).await, counts(&launch, 0));
    for n in 1..=3 {
        let sent = Instant::now();
        assert_eq!(register(&a, &format!("person{n}@example.com")).await.status(), StatusCode::CREATED);
        assert_eq!(next_count(&mut on_b, Duration::from_millis(500)).await, counts(&launch, n));
        assert!(sent.elapsed() < Duration::from_millis(500), "took {:?}", sent.elapsed());
    }
    // B's cached stats moved on too, without waiting for its TTL.
    let stats: Value =
        reqwest::get(b.url("/api/webinar/stats?webinar=launch")).await.expect("stats").json().await.expect("JSON");
    assert_eq!(stats["registrations"], 3);
}

async fn stats(server: &TestServer) -> reqwest::Response {
    reqwest::get(server.url("/api/webinar/stats?webinar=launch")).await.expect("stats")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_is_down_stats_are_stale_and_registration_is_503_and_both_recover() {
    let database = TestDatabase::postgres().await.expect("database");
    let postgres = "127.0.0.1:5432".parse().expect("address");
    let outage = Outage::proxy_to(postgres).await;
    let through_proxy = database.url.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", outage.port));
    let env = [("DATABASE_URL", through_proxy.as_str()), ("STATS_CACHE_TTL_SECS", "1")];
    // A process of its own: an outage test.
    let server = TestServer::spawn_with(database, &env).await;
    server.webinar("launch", Status::Published, Span::days(2)).await;

    // Down before anything was asked: no count is known yet.
    outage.set_up(false);
    let unknown = stats(&server).await;
    assert_eq!(unknown.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = unknown.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "stats_unavailable");

    outage.set_up(true);
    assert_eq!(register(&server, "ada@example.com").await.status(), StatusCode::CREATED);
    let fresh = stats(&server).await;
    assert_eq!(fresh.status(), StatusCode::OK);
    assert!(fresh.headers()["cache-control"].to_str().expect("ASCII").contains("max-age=1"));
    let etag = fresh.headers()["etag"].clone();
    let fresh: Value = fresh.json().await.expect("JSON");
    assert_eq!((fresh["registrations"].clone(), fresh["stale"].clone()), (json!(1), json!(false)));
    let not_modified = reqwest::Client::new()
        .get(server.url("/api/webinar/stats?webinar=launch"))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("stats");
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);

    outage.set_up(false);
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the cache's TTL
    let stale = stats(&server).await;
    assert_eq!(stale.status(), StatusCode::OK);
    let stale: Value = stale.json().await.expect("JSON");
    assert_eq!((stale["registrations"].clone(), stale["stale"].clone()), (json!(1), json!(true)));
    let refused = register(&server, "grace@example.com").await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "database_unavailable");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("try again")), "{body}");
    let ready = reqwest::get(server.url("/readyz")).await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reqwest::get(server.url("/healthz")).await.expect("healthz").status(), StatusCode::OK);

    outage.set_up(true);
    let mut recovered = false;
    for _ in 0..50 {
        if register(&server, "grace@example.com").await.status() == StatusCode::CREATED {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "registration works again once the database is back");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let back: Value = stats(&server).await.json().await.expect("JSON");
    assert_eq!((back["registrations"].clone(), back["stale"].clone()), (json!(2), json!(false)));
}
