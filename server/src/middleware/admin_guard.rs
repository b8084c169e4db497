//! The door to the admin: every `/admin…` page, `/api/admin/…` route and
//! `admin_…` server function needs a live session, except the login itself;
//! every `/api/v1/…` route needs a live API token, and a `write` one for
//! anything but reading. Matching by prefix means a new admin route is
//! guarded the day it is added. State-changing requests under a session must
//! also come from our own origin (the session cookie is `SameSite=Lax` as
//! well); a token is no ambient credential, so the API needs no such check.
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use webinar::api::token::Scope;

use crate::error::ApiError;
use crate::route_table::{self, Area};
use crate::state::AppState;

pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(area) = route_table::area(request.uri().path()) else {
        return next.run(request).await;
    };
    let safe_method = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if area == Area::Token {
        return token_door(&state, request, next, safe_method).await;
    }
    if !safe_method && !same_origin(&request, state.links.base_url()) {
        return ApiError::CrossSite.into_response();
    }
    if area == Area::Login {
        return next.run(request).await;
    }
    let session = match app::admin::session_token(request.headers()) {
        Some(token) => state.service.admin_session(token).await,
        None => Ok(None),
    };
    match (session, area) {
        (Ok(Some(_)), _) => next.run(request).await,
        (Ok(None), Area::Page) => Redirect::to("/admin/login").into_response(),
        (Ok(None), _) => ApiError::Unauthorized { caller: route_table::caller_of(&request) }.into_response(),
        (Err(error), _) => ApiError::Domain(error).into_response(),
    }
}

/// The token an `/api/v1` request acts with, for its handler (idempotency keys are per token).
#[derive(Clone, Copy, Debug)]
pub struct ApiCaller {
    pub token_id: i64,
}

async fn token_door(state: &AppState, mut request: Request, next: Next, safe_method: bool) -> Response {
    let token = match bearer(request.headers()) {
        Some(secret) => state.service.api_token(secret).await,
        None => Ok(None),
    };
    match token {
        Ok(Some(token)) if token.scope == Scope::Read && !safe_method => ApiError::ReadOnlyToken.into_response(),
        Ok(Some(token)) => {
            request.extensions_mut().insert(ApiCaller { token_id: token.id });
            next.run(request).await
        }
        Ok(None) => ApiError::NoToken.into_response(),
        Err(error) => ApiError::Domain(error).into_response(),
    }
}

/// The secret of `Authorization: Bearer <secret>` (the scheme in any case, RFC 6750).
fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim())
}

/// A browser names the page that sent a request in `Origin`; it must be this
/// site, scheme, host and port alike: the public base URL's origin, or the
/// `Host` asked for under the base URL's scheme (an `http://` page cannot
/// post to the `https://` site). No `Origin`: not a cross-site browser request.
fn same_origin(request: &Request, base_url: &str) -> bool {
    let Some(origin) = request.headers().get(header::ORIGIN).and_then(|origin| origin.to_str().ok()) else {
        return true;
    };
    let Some(origin) = origin_of(origin) else { return false };
    let Ok(base) = url::Url::parse(base_url) else { return false };
    let host = request.headers().get(header::HOST).and_then(|host| host.to_str().ok());
    let host_origin = host.and_then(|host| origin_of(&format!("{}://{host}", base.scheme())));
    Some(&origin) == origin_of(base_url).as_ref() || Some(&origin) == host_origin.as_ref()
}

/// An origin in the form browsers send it (`scheme://host[:port]`, default
/// ports dropped, host lower-case), or `None` for anything else (`null`).
fn origin_of(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    matches!(url.origin(), url::Origin::Tuple(..)).then(|| url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bearer_secret() {
        let headers = |value: &str| {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().expect("header"));
            headers
        };
        assert_eq!(bearer(&headers("Bearer wbt_abc")), Some("wbt_abc"));
        assert_eq!(bearer(&headers("bearer  wbt_abc ")), Some("wbt_abc"));
        assert_eq!(bearer(&headers("Basic d2J0X2FiYw==")), None);
        assert_eq!(bearer(&headers("wbt_abc")), None);
        assert_eq!(bearer(&axum::http::HeaderMap::new()), None);
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let request = |origin: Option<&str>| {
            let mut builder = Request::post("/api/fn/admin_login").header(header::HOST, "events.example.com");
            if let Some(origin) = origin {
                builder = builder.header(header::ORIGIN, origin);
            }
            builder.body(axum::body::Body::empty()).expect("request")
        };
        let site = "https://events.example.com";
        assert!(same_origin(&request(Some("https://events.example.com")), site));
        assert!(same_origin(&request(Some("https://EVENTS.example.com:443")), site));
        assert!(same_origin(&request(None), site));
        assert!(!same_origin(&request(Some("https://evil.example")), site));
        assert!(!same_origin(&request(Some("null")), site));
        assert!(!same_origin(&request(Some("http://events.example.com")), site), "the scheme counts");
        assert!(!same_origin(&request(Some("https://events.example.com:8443")), site), "the port counts");
        assert!(!same_origin(&request(Some("https://events.example.com.evil.example")), site));
        let plain = "http://127.0.0.1:3000";
        assert!(same_origin(&request(Some("http://events.example.com")), plain), "the Host asked for, over http");
        assert!(!same_origin(&request(Some("https://events.example.com")), plain));
    }
}
