//! The webinar server as a library: [`Application::build`] turns a
//! [`Config`] into a bound, wired server that `main` and the tests both run;
//! [`commands`] are the command line's other verbs. ARCHITECTURE.md draws
//! the modules and which way their dependencies point.
pub mod application;
pub mod client_ip;
pub mod commands;
pub mod config;
pub mod connections;
pub mod error;
pub mod live;
pub mod middleware;
pub mod observability;
pub mod rate_limit;
pub mod redis;
pub mod route_table;
pub mod routes;
pub mod state;
pub mod stats;

pub use application::{Application, Failure};
pub use config::Config;
