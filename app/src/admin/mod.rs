//! The marketing admin: log in, see every webinar with its registrations and
//! email states, log out. Every admin page and server function needs a
//! session; the server's guard enforces it before any of this runs, and the
//! server functions check again for the admin they act as.
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::api::AppError;

mod editor;
mod emails;
mod queue;
mod registrant;
mod registrations;
mod sessions;
mod suppressions;
mod tokens;
mod webhooks;

pub use editor::{PreviewPage, WebinarEditorPage};
pub use emails::EmailsPage;
pub use queue::QueuePage;
pub use registrant::RegistrantPage;
pub use registrations::RegistrationsPage;
pub use suppressions::SuppressionsPage;
pub use tokens::ApiTokensPage;
pub use webhooks::WebhooksPage;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "webinar_admin";

/// Whether the session cookie is marked `Secure` (the site is served over https).
#[derive(Clone, Copy, Debug)]
pub struct CookiePolicy {
    pub secure: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminWebinarRow {
    pub slug: String,
    pub title: String,
    pub start_local: String,
    pub status: String,
    pub registrations: u64,
    pub emails_sent: u64,
    pub emails_pending: u64,
    pub emails_dead: u64,
}

/// The session token among a request's cookies (the server's guard and the
/// server functions read it the same way).
#[cfg(feature = "ssr")]
pub fn session_token(headers: &http::HeaderMap) -> Option<&str> {
    crate::cookie(headers, SESSION_COOKIE)
}

#[server(prefix = "/api/fn", endpoint = "admin_login")]
pub async fn admin_login(email: String, password: String) -> Result<(), AppError> {
    crate::api::ssr::answered(ssr::log_in(email, password).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_logout")]
pub async fn admin_logout() -> Result<(), AppError> {
    crate::api::ssr::answered(ssr::log_out().await)
}

#[server(prefix = "/api/fn", endpoint = "admin_webinars")]
pub async fn admin_webinars() -> Result<Vec<AdminWebinarRow>, AppError> {
    crate::api::ssr::answered(ssr::webinars().await)
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use http::header::SET_COOKIE;
    use leptos_axum::ResponseOptions;
    use webinar::admin::{AdminError, SESSION_LENGTH};

    use super::*;
    use crate::api::ssr::service;

    /// How the admin's pages show an instant.
    pub(crate) const TIME_SHOWN: &str = "%Y-%m-%d %H:%M UTC";

    /// The session token in this request's cookies.
    fn session_token() -> Option<String> {
        let parts = use_context::<http::request::Parts>()?;
        super::session_token(&parts.headers).map(str::to_owned)
    }

    fn set_cookie(value: &str, max_age_seconds: i64) {
        let secure = use_context::<CookiePolicy>().is_some_and(|policy| policy.secure);
        let cookie = format!(
            "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{}",
            if secure { "; Secure" } else { "" }
        );
        if let (Some(response), Ok(cookie)) = (use_context::<ResponseOptions>(), cookie.parse()) {
            response.append_header(SET_COOKIE, cookie);
        }
    }

    /// The admin this request acts as.
    pub(crate) async fn admin() -> Result<webinar::admin::account::Model, AppError> {
        let token = session_token().ok_or(AppError::Unauthorized)?;
        service()?.admin_session(&token).await?.ok_or(AppError::Unauthorized)
    }

    pub async fn log_in(email: String, password: String) -> Result<(), AppError> {
        let result = match service()?.admin_log_in(&email, &password).await {
            Ok(login) => {
                set_cookie(&login.token, SESSION_LENGTH.num_seconds());
                leptos_axum::redirect("/admin");
                return Ok(());
            }
            Err(AdminError::BadCredentials) => AppError::LoginFailed,
            Err(AdminError::TooManyAttempts { retry_after_seconds }) => {
                AppError::TooManyAttempts { retry_after_seconds }
            }
            Err(error) => {
                tracing::error!(%error, "admin login failed");
                AppError::Unavailable
            }
        };
        // Without JavaScript the login page reloads: it names the failure by
        // a fixed code, whose words the page chooses.
        if crate::api::ssr::is_plain_form_post() {
            leptos_axum::redirect(&format!("/admin/login?failed={}", LoginFailure::of(&result).code()));
        }
        Err(result)
    }

    pub async fn log_out() -> Result<(), AppError> {
        if let Some(token) = session_token() {
            service()?.admin_log_out(&token).await?;
        }
        set_cookie("", 0);
        leptos_axum::redirect("/admin/login");
        Ok(())
    }

    pub async fn webinars() -> Result<Vec<AdminWebinarRow>, AppError> {
        admin().await?;
        let service = service()?;
        let now = service.now();
        let summaries = service.admin_overview().await?;
        Ok(summaries
            .into_iter()
            .map(|summary| AdminWebinarRow {
                start_local: summary.next_start_local(now),
                status: webinar::ActiveEnum::to_value(&summary.webinar.status),
                slug: summary.webinar.slug,
                title: summary.webinar.title,
                registrations: summary.registrations,
                emails_sent: summary.emails_sent,
                emails_pending: summary.emails_pending,
                emails_dead: summary.emails_dead,
            })
            .collect())
    }
}

/// Why a login without JavaScript failed, as the page's URL names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LoginFailure {
    Credentials,
    TooMany,
    Unavailable,
}

impl LoginFailure {
    #[cfg(feature = "ssr")]
    fn of(error: &AppError) -> Self {
        match error {
            AppError::LoginFailed => LoginFailure::Credentials,
            AppError::TooManyAttempts { .. } => LoginFailure::TooMany,
            _ => LoginFailure::Unavailable,
        }
    }

    #[cfg(feature = "ssr")]
    fn code(self) -> &'static str {
        match self {
            LoginFailure::Credentials => "credentials",
            LoginFailure::TooMany => "too_many",
            LoginFailure::Unavailable => "unavailable",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        match code {
            "credentials" => Some(LoginFailure::Credentials),
            "too_many" => Some(LoginFailure::TooMany),
            "unavailable" => Some(LoginFailure::Unavailable),
            _ => None,
        }
    }

    /// The page's own words for it.
    fn message(self) -> String {
        match self {
            LoginFailure::Credentials => AppError::LoginFailed.to_string(),
            LoginFailure::TooMany => "Too many attempts for this account — wait a few minutes and try again.".into(),
            LoginFailure::Unavailable => AppError::Unavailable.to_string(),
        }
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<AdminLogin>::new();
    let query = leptos_router::hooks::use_query_map();
    let error = move || match login.value().get() {
        Some(Err(error)) => Some(error.to_string()),
        _ => query.read().get("failed").as_deref().and_then(LoginFailure::from_code).map(LoginFailure::message),
    };
    view! {
        <Title text="Admin login"/>
        <section class="admin admin-login">
            <h1>"Admin login"</h1>
            <ActionForm action=login>
                <div class="field">
                    <label for="email">"Email"</label>
                    <input id="email" type="email" name="email" autocomplete="username" required/>
                </div>
                <div class="field">
                    <label for="password">"Password"</label>
                    <input id="password" type="password" name="password" autocomplete="current-password" required/>
                </div>
                <p class="form-error" role="alert">{error}</p>
                <button type="submit" disabled=move || login.pending().get()>"Log in"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn AdminHome() -> impl IntoView {
    let webinars = Resource::new(|| (), |()| admin_webinars());
    let logout = ServerAction::<AdminLogout>::new();
    view! {
        <Title text="Webinars — admin"/>
        <section class="admin">
            <header class="admin-header">
                <h1>"Webinars"</h1>
                <a class="button" href="/admin/new-webinar">"New webinar"</a>
                <a href="/admin/api-tokens">"API tokens"</a>
                <a href="/admin/webhooks">"Webhooks"</a>
                <a href="/admin/suppressions">"Suppressed addresses"</a>
                <ActionForm action=logout>
                    <button type="submit" class="secondary">"Log out"</button>
                </ActionForm>
            </header>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match webinars.await {
                        Ok(rows) => view! { <WebinarTable rows/> }.into_any(),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn WebinarTable(rows: Vec<AdminWebinarRow>) -> impl IntoView {
    view! {
        <table class="admin-table" data-testid="webinars">
            <thead>
                <tr>
                    <th>"Title"</th>
                    <th>"Starts"</th>
                    <th>"Status"</th>
                    <th>"Registrations"</th>
                    <th>"Emails sent / pending / dead"</th>
                    <th>"Manage"</th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|row| {
                        view! {
                            <tr>
                                <td>
                                    <a href=format!("/admin/webinars/{}", row.slug)>{row.title}</a>
                                </td>
                                <td>{row.start_local}</td>
                                <td>{row.status}</td>
                                <td>{row.registrations}</td>
                                <td>{format!("{} / {} / {}", row.emails_sent, row.emails_pending, row.emails_dead)}</td>
                                <td class="links">
                                    <WebinarLinks slug=row.slug/>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// The pages one webinar has in the admin.
#[component]
fn WebinarLinks(slug: String) -> impl IntoView {
    let page = |path: &str| format!("/admin/webinars/{slug}{path}");
    view! {
        <a href=page("")>"Edit"</a>
        <a href=page("/registrations")>"Registrations"</a>
        <a href=page("/emails")>"Emails"</a>
        <a href=page("/queue")>"Queue"</a>
        <a href=format!("/api/admin/webinars/{slug}/registrations.csv") download>"CSV"</a>
    }
}

/// The header of an admin page: the way back to every webinar, the title,
/// and what the page links to.
#[component]
fn AdminHeader(title: &'static str, #[prop(optional)] children: Option<Children>) -> impl IntoView {
    view! {
        <header class="admin-header">
            <p class="crumbs">
                <a href="/admin">"← All webinars"</a>
            </p>
            <h1>{title}</h1>
            {children.map(|children| children())}
        </header>
    }
}

/// The header every page of one webinar shares.
#[component]
fn WebinarHeader(slug: String, title: &'static str) -> impl IntoView {
    view! {
        <AdminHeader title>
            <nav class="admin-nav">
                <WebinarLinks slug=slug.clone()/>
                <a href=format!("/webinars/{slug}") target="_blank">"Public page"</a>
            </nav>
        </AdminHeader>
    }
}

/// What the last call of `action` came to, in words: `done` for a success,
/// the error's message otherwise; nothing before the first call.
fn outcome_message<S>(
    action: ServerAction<S>,
    done: impl Fn(S::Output) -> String + Send + Sync + 'static,
) -> impl Fn() -> Option<String> + Send + Sync + 'static
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    outcome_told(action, done, |error| error.to_string())
}

/// [`outcome_message`] for a form whose fields have no place for their own
/// errors: an invalid input names each problem.
fn outcome_in_full<S>(
    action: ServerAction<S>,
    done: impl Fn(S::Output) -> String + Send + Sync + 'static,
) -> impl Fn() -> Option<String> + Send + Sync + 'static
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    outcome_told(action, done, AppError::in_full)
}

fn outcome_told<S>(
    action: ServerAction<S>,
    done: impl Fn(S::Output) -> String + Send + Sync + 'static,
    told: fn(&AppError) -> String,
) -> impl Fn() -> Option<String> + Send + Sync + 'static
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    move || match action.value().get() {
        Some(Ok(value)) => Some(done(value)),
        Some(Err(error)) => Some(told(&error)),
        None => None,
    }
}

/// Each admin page as a lazily loaded route: `cargo leptos build --split`
/// puts its code in a wasm chunk of its own, fetched when the page is
/// opened, so visitors of the landing page never download the admin UI.
macro_rules! lazy_pages {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        pub struct $route;

        #[leptos_router::lazy_route]
        impl leptos_router::LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }
    )*};
}

lazy_pages!(
    LoginRoute => LoginPage,
    AdminHomeRoute => AdminHome,
    EditorRoute => WebinarEditorPage,
    PreviewRoute => PreviewPage,
    EmailsRoute => EmailsPage,
    RegistrationsRoute => RegistrationsPage,
    QueueRoute => QueuePage,
    ApiTokensRoute => ApiTokensPage,
    SuppressionsRoute => SuppressionsPage,
    WebhooksRoute => WebhooksPage,
    RegistrantRoute => RegistrantPage,
);
