//! `bench landing`: server time per SSR render of the landing page, and the
//! wasm a visitor downloads (after wasm-opt, gzipped).
//!
//! Renders are requested one at a time over one keep-alive connection, so
//! each measures one render plus a loopback round trip; the server's own
//! histogram (`http_request_duration_seconds`) gives the time inside the
//! server for the same requests. Targets: p50 < 2 ms; bundle ≤ 400 KB gzip.
use std::time::Instant;

use crate::server::BenchServer;
use crate::{Failure, median};

pub async fn run(renders: usize, site_root: &str) -> Result<bool, Failure> {
    let server = BenchServer::start().await?;
    let client = reqwest::Client::new();
    let url = server.url("/");
    for _ in 0..200 {
        render(&client, &url).await?;
    }
    let mut times = Vec::with_capacity(renders);
    for _ in 0..renders {
        times.push(render(&client, &url).await?);
    }
    let p50 = median(&mut times);
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    let inside = server_mean_ms(&server, renders + 200).await?;
    println!("bench landing ({renders} sequential renders of the demo landing page, SQLite)");
    println!("  per render p50 {p50:.2} ms, p99 {p99:.2} ms (client side, loopback included; target p50 < 2 ms)");
    println!("  inside the server: mean {inside:.2} ms (its own latency histogram)");
    let page = client.get(&url).send().await?.text().await?;
    let bundle = bundle_gzip_bytes(&page, site_root)?;
    match bundle {
        Some(bytes) => println!("  wasm a visitor downloads {:.0} KB gzip -9 (target ≤ 400 KB)", bytes as f64 / 1000.0),
        None => println!("  wasm bundle: not under {site_root}/pkg (run `make build` first)"),
    }
    Ok(p50 < 2.0 && bundle.is_some_and(|bytes| bytes <= 400_000))
}

/// One render's time in ms; anything but a full 200 page is an error.
async fn render(client: &reqwest::Client, url: &str) -> Result<f64, Failure> {
    let started = Instant::now();
    let response = client.get(url).send().await?;
    let status = response.status();
    let page = response.text().await?;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    if status != reqwest::StatusCode::OK || !page.contains("</html>") {
        return Err(format!("the landing page answered {status}").into());
    }
    Ok(elapsed)
}

/// The mean time the server itself spent on `GET /`, from `/metrics`.
async fn server_mean_ms(server: &BenchServer, expected: usize) -> Result<f64, Failure> {
    let text = reqwest::get(server.url("/metrics")).await?.text().await?;
    let value = |name: &str| {
        text.lines()
            .find(|line| line.starts_with(name) && line.contains(r#"method="GET",route="/""#))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse::<f64>().ok())
    };
    let sum = value("http_request_duration_seconds_sum").ok_or("no landing latency in /metrics")?;
    let count = value("http_request_duration_seconds_count").ok_or("no landing count in /metrics")?;
    if count < expected as f64 {
        return Err(format!("the server counted {count} renders, expected {expected}").into());
    }
    Ok(sum / count * 1000.0)
}

/// What the landing page makes a visitor's browser fetch of wasm (the
/// `.wasm` files its HTML preloads: the main bundle, and a lazy chunk only if
/// the page needed one), gzipped at level 9, from the built site. The admin
/// pages' lazy chunks are not among them.
fn bundle_gzip_bytes(page: &str, site_root: &str) -> Result<Option<usize>, Failure> {
    let mut total = None;
    for href in page.split("href=\"").skip(1).filter_map(|rest| rest.split('"').next()) {
        if !href.ends_with(".wasm") {
            continue;
        }
        let file = std::path::Path::new(site_root).join(href.trim_start_matches('/'));
        if !file.exists() {
            return Ok(None);
        }
        let gzip = std::process::Command::new("gzip").args(["-9", "-c"]).arg(&file).output()?;
        if !gzip.status.success() {
            return Err(format!("gzip {} failed", file.display()).into());
        }
        println!("  {href}: {:.0} KB gzip -9", gzip.stdout.len() as f64 / 1000.0);
        *total.get_or_insert(0) += gzip.stdout.len();
    }
    Ok(total)
}
