//! The SendGrid mock as a process of its own, for the benchmarks: a
//! provider that does not share the measured process's CPU. Prints
//! `listening on http://…` once it accepts connections.
use clap::Parser;
use tools::sendgrid_mock::{self, Options};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: std::net::SocketAddr,
    /// How long each request takes to answer, like a slow provider.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // A benchmark's requests are counted, not kept: 100,000 messages of JSON would be its memory.
    let options = Options { delay: std::time::Duration::from_millis(args.delay_ms), record_requests: false };
    sendgrid_mock::serve(listener, options).await
}
