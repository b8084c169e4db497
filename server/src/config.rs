//! Configuration: command-line flags, each with an environment variable and a default.
use std::net::SocketAddr;

use clap::Args;
use leptos::config::LeptosOptions;

#[derive(Args, Clone, Debug)]
pub struct Config {
    /// `sqlite://…` (embedded, the default) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = webinar::db::DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Pool size per process.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,
    /// Create a demo webinar when none is upcoming (`make run` turns this on).
    #[arg(long, env = "SEED_DEMO", default_value_t = false, action = clap::ArgAction::Set)]
    pub seed_demo: bool,
    /// Address to listen on.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000")]
    pub site_addr: SocketAddr,
    /// Where the built site (wasm, js, css, public files) lives.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
    #[arg(long, env = "LEPTOS_SITE_PKG_DIR", default_value = "pkg")]
    pub site_pkg_dir: String,
    /// Base name of the wasm/js/css bundle.
    #[arg(long, env = "LEPTOS_OUTPUT_NAME", default_value = "webinar")]
    pub output_name: String,
}

impl Config {
    pub fn leptos_options(&self) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name(self.output_name.as_str())
            .site_root(self.site_root.as_str())
            .site_pkg_dir(self.site_pkg_dir.as_str())
            .site_addr(self.site_addr)
            .build()
    }
}
