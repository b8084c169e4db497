//! The one table that says what a path is: which rate-limit budget it draws
//! on, which part of the admin it belongs to, who calls it (which decides
//! how its errors are encoded) and what its body is. The rate limiter, the
//! admin guard, the input checks and the error answers all read it here, so
//! a new route is classified once.
use axum::http::{HeaderMap, Method, header};

/// The rate-limit budget a request draws on (the discriminant indexes the
/// limiter's budgets). Pages and assets draw on none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Registrations (both entry points): the tightest budget.
    Register = 0,
    /// Every other public API route, and the registrant links in emails
    /// (`/j/`, `/u/`: their tokens must not be open to guessing).
    Public = 1,
    /// Admin login attempts.
    Auth = 2,
    /// The admin API (`/api/v1`): the public budget, unless `RATE_LIMIT_API`
    /// gives it one of its own.
    Api = 3,
}

impl Class {
    /// The budget's name in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Class::Register => "register",
            Class::Public => "public",
            Class::Auth => "auth",
            Class::Api => "api",
        }
    }
}

/// Where a path sits for the admin guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// The login page and its server function: open to anyone (same-origin writes only).
    Login,
    /// Admin pages: without a session, a redirect to the login page.
    Page,
    /// Admin server functions and API: without a session, 401.
    Protected,
    /// The admin API for programs (`/api/v1`): a bearer token, not a session.
    Token,
}

/// Who gets an error answer, which decides its encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The JSON API: `{"error": {…}}`.
    Api,
    /// A hydrated page's server function call: the function's own error encoding.
    ServerFunction,
    /// A form posted without JavaScript, or a registrant's link opened in a
    /// browser: a page a person can read.
    PlainForm,
}

/// What a route's request body is: how large it may be, and whether it is
/// a person's text (checked for control characters before any handler).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// A registration, a login: a small form or JSON.
    Person,
    /// The admin's: a webinar with its 20,000-character description, its
    /// variants and all its email copy, from the editor or the API.
    Admin,
    /// A provider's signed batch (up to 10,000 events), stored as sent.
    SignedBatch,
}

impl Body {
    /// The largest body taken, in bytes.
    pub fn limit(self) -> usize {
        match self {
            Body::Person => 16 * 1024,
            Body::Admin => 256 * 1024,
            Body::SignedBatch => 16 * 1024 * 1024,
        }
    }

    /// Whether the body is a person's text, whose control characters are refused.
    pub fn is_text_of_a_person(self) -> bool {
        self != Body::SignedBatch
    }
}

#[derive(Clone, Copy)]
enum Pattern {
    Exact(&'static str),
    Prefix(&'static str),
}

/// How a route's caller is told apart.
#[derive(Clone, Copy)]
enum Callers {
    Api,
    /// Server functions answer in their own encoding, or with a page when the
    /// form was posted without JavaScript (the browser asks for HTML).
    ServerFunctionOrForm,
    Browser,
}

struct Route {
    pattern: Pattern,
    /// The budget of a POST, and of any other method.
    on_post: Option<Class>,
    otherwise: Option<Class>,
    area: Option<Area>,
    callers: Callers,
    body: Body,
}

const fn route(
    pattern: Pattern,
    on_post: Option<Class>,
    otherwise: Option<Class>,
    area: Option<Area>,
    callers: Callers,
    body: Body,
) -> Route {
    Route { pattern, on_post, otherwise, area, callers, body }
}

use Body::{Admin, Person, SignedBatch};
use Callers::{Api, Browser, ServerFunctionOrForm};
use Class::{Api as ApiBudget, Auth, Public, Register};
use Pattern::{Exact, Prefix};

/// The first row whose pattern matches the path wins; a path no row matches
/// draws on no budget, is no admin area and is answered as the JSON API.
const ROUTES: &[Route] = &[
    route(Exact("/api/webinar/register"), Some(Register), Some(Register), None, Api, Person),
    route(Exact("/api/fn/register"), Some(Register), Some(Register), None, ServerFunctionOrForm, Person),
    route(Exact("/admin/login"), Some(Auth), None, Some(Area::Login), Api, Person),
    route(Exact("/api/admin/login"), Some(Auth), Some(Public), Some(Area::Protected), Api, Admin),
    route(Exact("/api/fn/admin_login"), Some(Auth), Some(Public), Some(Area::Login), ServerFunctionOrForm, Person),
    route(Exact("/admin"), None, None, Some(Area::Page), Api, Admin),
    route(Prefix("/admin/"), None, None, Some(Area::Page), Api, Admin),
    route(Prefix("/api/admin/"), Some(Public), Some(Public), Some(Area::Protected), Api, Admin),
    route(Prefix("/api/fn/admin_"), Some(Public), Some(Public), Some(Area::Protected), ServerFunctionOrForm, Admin),
    route(Prefix("/api/fn/"), Some(Public), Some(Public), None, ServerFunctionOrForm, Person),
    route(Prefix("/api/v1/"), Some(ApiBudget), Some(ApiBudget), Some(Area::Token), Api, Admin),
    // The provider's event webhook: signed, from its many addresses, in bursts.
    route(Exact(PROVIDER_EVENTS), None, None, None, Api, SignedBatch),
    route(Prefix("/api/"), Some(Public), Some(Public), None, Api, Person),
    // A registrant's links (join, unsubscribe) are opened in a browser.
    route(Prefix("/j/"), Some(Public), Some(Public), None, Browser, Person),
    route(Prefix("/u/"), Some(Public), Some(Public), None, Browser, Person),
];

/// Where SendGrid posts its events.
pub const PROVIDER_EVENTS: &str = "/api/sendgrid/events";

fn find(path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|route| match route.pattern {
        Exact(exact) => path == exact,
        Prefix(prefix) => path.starts_with(prefix),
    })
}

/// The budget a request draws on, if any.
pub fn class(method: &Method, path: &str) -> Option<Class> {
    let route = find(path)?;
    if method == Method::POST { route.on_post } else { route.otherwise }
}

/// What a path's request body is (a person's, unless a row says otherwise).
pub fn body(path: &str) -> Body {
    find(path).map_or(Person, |route| route.body)
}

/// The admin area a path belongs to, if any.
pub fn area(path: &str) -> Option<Area> {
    find(path)?.area
}

/// Who is calling, from the path and (for server functions) what the client accepts.
pub fn caller(path: &str, headers: &HeaderMap) -> Caller {
    match find(path).map(|route| route.callers) {
        None | Some(Api) => Caller::Api,
        Some(Browser) => Caller::PlainForm,
        Some(ServerFunctionOrForm) => {
            let wants_html = headers
                .get(header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"));
            if wants_html { Caller::PlainForm } else { Caller::ServerFunction }
        }
    }
}

/// [`caller`] of a request.
pub fn caller_of(request: &axum::extract::Request) -> Caller {
    caller(request.uri().path(), request.headers())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_rate_limited_paths() {
        assert_eq!(class(&Method::POST, "/api/webinar/register"), Some(Class::Register));
        assert_eq!(class(&Method::POST, "/api/fn/register"), Some(Class::Register));
        assert_eq!(class(&Method::GET, "/api/webinar/stats"), Some(Class::Public));
        assert_eq!(class(&Method::GET, "/api/webinar/live"), Some(Class::Public));
        assert_eq!(class(&Method::POST, "/api/fn/landing"), Some(Class::Public));
        assert_eq!(class(&Method::POST, "/admin/login"), Some(Class::Auth));
        assert_eq!(class(&Method::POST, "/api/fn/admin_login"), Some(Class::Auth));
        assert_eq!(class(&Method::POST, "/api/admin/login"), Some(Class::Auth));
        assert_eq!(class(&Method::GET, "/api/fn/admin_login"), Some(Class::Public));
        assert_eq!(class(&Method::GET, "/j/some-token"), Some(Class::Public));
        assert_eq!(class(&Method::GET, "/u/1.abcdef"), Some(Class::Public));
        assert_eq!(class(&Method::POST, "/u/1.abcdef"), Some(Class::Public));
        assert_eq!(class(&Method::GET, "/admin/login"), None);
        assert_eq!(class(&Method::GET, "/webinars/launch"), None);
        assert_eq!(class(&Method::GET, "/healthz"), None);
        assert_eq!(class(&Method::GET, "/api/v1/webinars"), Some(Class::Api));
    }

    #[test]
    fn finds_admin_areas() {
        assert_eq!(area("/admin/login"), Some(Area::Login));
        assert_eq!(area("/api/fn/admin_login"), Some(Area::Login));
        assert_eq!(area("/admin"), Some(Area::Page));
        assert_eq!(area("/admin/webinars/new"), Some(Area::Page));
        assert_eq!(area("/api/fn/admin_webinars"), Some(Area::Protected));
        assert_eq!(area("/api/admin/export.csv"), Some(Area::Protected));
        assert_eq!(area("/administrator"), None);
        assert_eq!(area("/api/fn/register"), None);
        assert_eq!(area("/webinars/admin"), None);
        assert_eq!(area("/api/v1/webinars"), Some(Area::Token));
        assert_eq!(area("/api/v1"), None, "no route there: answered 404 as the JSON API");
    }

    #[test]
    fn tells_bodies_apart() {
        assert_eq!(body("/api/webinar/register"), Body::Person);
        assert_eq!(body("/api/fn/admin_login"), Body::Person);
        assert_eq!(body("/api/fn/admin_save_webinar"), Body::Admin);
        assert_eq!(body("/api/v1/webinars"), Body::Admin);
        assert_eq!(body(PROVIDER_EVENTS), Body::SignedBatch);
        assert!(!Body::SignedBatch.is_text_of_a_person() && Body::Admin.is_text_of_a_person());
        assert_eq!(body("/nowhere"), Body::Person);
    }

    #[test]
    fn tells_callers_apart() {
        let html = {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, "text/html,application/xhtml+xml".parse().expect("a header value"));
            headers
        };
        let none = HeaderMap::new();
        assert_eq!(caller("/api/webinar/register", &html), Caller::Api);
        assert_eq!(caller("/api/fn/register", &none), Caller::ServerFunction);
        assert_eq!(caller("/api/fn/register", &html), Caller::PlainForm);
        assert_eq!(caller("/api/fn/admin_webinars", &none), Caller::ServerFunction);
        assert_eq!(caller("/j/token", &none), Caller::PlainForm);
        assert_eq!(caller("/u/1.abc", &none), Caller::PlainForm);
        assert_eq!(caller("/healthz", &html), Caller::Api);
        assert_eq!(caller("/admin/login", &html), Caller::Api);
    }
}
