//! The layers every request passes through, outermost first in
//! [`crate::routes::router`]: security headers and the time limit, rate
//! limits, input checks, the admin guard.
pub mod admin_guard;
pub mod hardening;
pub mod input;
pub mod rate_limit;
