//! `bench api`: the admin API paging through 100,000 registrations by cursor,
//! 500 a page, as a CRM sync would. Figures: the whole walk, rows per second,
//! time per page, and the last pages' median against the first pages' (a
//! keyset page costs the same however deep it is: target ≤ 2).
use std::collections::HashSet;
use std::time::Instant;

use crate::server::BenchServer;
use crate::{Backend, Failure, median};

const PAGE: usize = 500;
/// How many pages at each end are compared.
const ENDS: usize = 10;

pub async fn run(backend: Backend, registrations: usize) -> Result<bool, Failure> {
    let server = BenchServer::start_with(backend, &[("RATE_LIMIT_API", "1000000000/1m")]).await?;
    let db = server.database.connect().await?;
    // Older than the API's settling time, so every row is on the pages at once.
    let made = chrono::Utc::now() - chrono::Duration::hours(1);
    let seeding = Instant::now();
    let webinar = test_support::seed_registrations(&db, registrations, made).await?;
    let seeded = seeding.elapsed();
    let token = server.create_token("bench", "read").await?;
    let client = reqwest::Client::new();
    let mut cursor = String::new();
    let mut ids = HashSet::with_capacity(registrations);
    let mut page_ms = Vec::new();
    let walk = Instant::now();
    loop {
        let url = server.url(&format!("/api/v1/webinars/{}/registrations?limit={PAGE}&cursor={cursor}", webinar.slug));
        let started = Instant::now();
        let response = client.get(url).bearer_auth(&token).send().await?;
        if !response.status().is_success() {
            return Err(format!("a page answered {}: {}", response.status(), response.text().await?).into());
        }
        let page: serde_json::Value = response.json().await?;
        page_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        for row in page["data"].as_array().ok_or("no data in a page")? {
            ids.insert(row["id"].as_i64().ok_or("a row without id")?);
        }
        cursor = page["next_cursor"].as_str().ok_or("no next_cursor")?.to_owned();
        if page["has_more"] != serde_json::Value::Bool(true) {
            break;
        }
    }
    let walked = walk.elapsed().as_secs_f64();
    let pages = page_ms.len();
    let first = median(&mut page_ms[..ENDS.min(pages)].to_vec());
    let last = median(&mut page_ms[pages.saturating_sub(ENDS)..].to_vec());
    let flatness = last / first;
    let p99 = {
        let mut sorted = page_ms.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[(pages * 99 / 100).min(pages - 1)]
    };
    println!("bench api ({registrations} registrations by cursor, {PAGE} a page, {backend:?}; seeded in {seeded:.1?})");
    println!(
        "  {} rows in {pages} pages, {walked:.2} s: {:.0} rows/s; per page p50 {:.1} ms, p99 {p99:.1} ms",
        ids.len(),
        ids.len() as f64 / walked,
        median(&mut page_ms.clone())
    );
    println!(
        "  last {ENDS} pages' median / first {ENDS}'s: {flatness:.2} (target ≤ 2: as fast deep in as at the start)"
    );
    Ok(ids.len() == registrations && flatness <= 2.0)
}
