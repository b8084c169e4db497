//! `bench websockets`: many clients follow the demo webinar's live count;
//! after each registration, the time until every one of them has the new
//! count (p50/p99 over all clients, target p99 < 250 ms) and the server's
//! resident memory with all of them connected (target < 200 MB).
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::server::BenchServer;
use crate::{Failure, cpu_ms, median, memory_mib};

pub async fn run(clients: usize, registrations: usize) -> Result<bool, Failure> {
    let server = BenchServer::start().await?;
    let http = reqwest::Client::new();
    let rss_before = memory_mib(&server.pid(), "VmRSS:");
    let ws_url = server.url("/api/webinar/live").replacen("http", "ws", 1);

    // Each client reports every count it receives, with when it arrived.
    let (counts_tx, mut counts) = mpsc::unbounded_channel::<(u64, Instant)>();
    let connected = Instant::now();
    let mut opened = futures::stream::iter(0..clients)
        .map(|_| {
            let (url, counts_tx) = (ws_url.clone(), counts_tx.clone());
            async move {
                // Small buffers, as the server uses: messages are a few bytes.
                let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
                let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
                tokio::spawn(async move {
                    while let Some(Ok(message)) = socket.next().await {
                        let arrived = Instant::now();
                        // The server's exact shape, `{"registrations":N,"sessions":{…}}`: cheap to
                        // read, so the figures are the server's and not this client's parsing.
                        let count = message.to_text().ok().and_then(|text| {
                            let rest = text.strip_prefix(r#"{"registrations":"#)?;
                            rest[..rest.find([',', '}'])?].parse().ok()
                        });
                        if let Some(count) = count
                            && counts_tx.send((count, arrived)).is_err()
                        {
                            break;
                        }
                    }
                });
                Ok::<_, Failure>(())
            }
        })
        .buffer_unordered(256);
    while let Some(result) = opened.next().await {
        result?;
    }
    drop(opened);
    drop(counts_tx);
    // Every client's first message: the current count.
    for _ in 0..clients {
        counts.recv().await.ok_or("a client closed before its first count")?;
    }
    println!("  {clients} clients connected in {:.1} s", connected.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss = memory_mib(&server.pid(), "VmRSS:");

    let (mut p50s, mut p99s, mut alls) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..registrations {
        let (server_cpu, bench_cpu) = (cpu_ms(&server.pid()), cpu_ms("self"));
        let sent = Instant::now();
        let count = server.register(&http, n).await?;
        let answered = sent.elapsed().as_secs_f64() * 1000.0;
        let mut latencies = Vec::with_capacity(clients);
        while latencies.len() < clients {
            let (seen, arrived) = tokio::time::timeout(Duration::from_secs(10), counts.recv())
                .await
                .map_err(|_| format!("only {} of {clients} clients saw count {count} within 10 s", latencies.len()))?
                .ok_or("clients closed")?;
            if seen == count {
                latencies.push(arrived.duration_since(sent).as_secs_f64() * 1000.0);
            }
        }
        let server_cpu = cpu_ms(&server.pid()) - server_cpu;
        let bench_cpu = cpu_ms("self") - bench_cpu;
        latencies.sort_by(f64::total_cmp);
        let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        let (p50, p99, all) = (at(0.5), at(0.99), latencies[latencies.len() - 1]);
        println!(
            "  registration {} (answered in {answered:.1} ms): p50 {p50:.1} ms, p99 {p99:.1} ms, all {all:.1} ms; CPU: server {server_cpu:.0} ms, clients {bench_cpu:.0} ms",
            n + 1
        );
        p50s.push(p50);
        p99s.push(p99);
        alls.push(all);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let p99 = median(&mut p99s);
    println!("bench websockets ({clients} clients on one instance, {registrations} registrations)");
    println!(
        "  registration → client  p50 {:.1} ms, p99 {p99:.1} ms (target p99 < 250 ms), all {:.1} ms (medians)",
        median(&mut p50s),
        median(&mut alls)
    );
    println!("  server RSS             {rss:.0} MiB with all connected ({rss_before:.0} MiB before; target < 200 MB)");
    Ok(p99 < 250.0 && rss * 1024.0 * 1024.0 < 200e6)
}
