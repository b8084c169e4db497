//! Rate limiting as a layer: the route table says which budget a request
//! draws on; the limiter ([`crate::rate_limit`]) says whether it may.
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::route_table;
use crate::state::AppState;

/// The middleware: classify, check, and either refuse with 429 or pass on
/// with the `RateLimit-*` headers added.
pub async fn limit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let Some(class) = route_table::class(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let ip = state.limits.client_ip(peer.ip(), request.headers());
    let verdict = state.limits.check(class, ip).await;
    if !verdict.allowed {
        tracing::info!(class = class.name(), "rate limited");
        metrics::counter!("webinar_rate_limited_total", "limit" => class.name()).increment(1);
        return ApiError::RateLimited { verdict, caller: route_table::caller_of(&request) }.into_response();
    }
    let mut response = next.run(request).await;
    verdict.write_headers(response.headers_mut());
    response
}
