//! Leptos components and the thin server functions behind them.
// Lazy hydration (`hydrate_async`) nests the page's view types deeper still.
#![recursion_limit = "256"]
pub mod admin;
pub mod api;
mod landing;
mod live;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{Lazy, ParamSegment, SsrMode, StaticSegment};

pub use landing::LandingPage;

/// The Content-Security-Policy of every page. Scripts run only from this
/// site, plus the one inline hydration script carrying this response's
/// `nonce`; `wasm-unsafe-eval` lets the browser compile the wasm bundle.
/// Styles may be inline (email previews are HTML with inline styles), images
/// may come from any https host (speaker photos), and no other site may frame
/// a page. Without a nonce (pages not rendered by Leptos) no inline script runs.
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let scripts = match nonce {
        Some(nonce) => format!("'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; \
         connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>()) {
        let policy = content_security_policy(Some(&nonce));
        if let Ok(value) = http::HeaderValue::from_str(&policy) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/webinar.css"/>
        <Title text="Webinar"/>
        <Router>
            <main>
                // Async: the whole page waits for its data, so it is complete
                // without JavaScript and can answer 404 for an unknown slug.
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=LandingPage ssr=SsrMode::Async/>
                    <Route
                        path=(StaticSegment("webinars"), ParamSegment("slug"))
                        view=LandingPage
                        ssr=SsrMode::Async
                    />
                    <Route path=StaticSegment("admin") view={Lazy::<admin::AdminHomeRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("login")) view={Lazy::<admin::LoginRoute>::new()}/>
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("api-tokens"))
                        view={Lazy::<admin::ApiTokensRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("suppressions"))
                        view={Lazy::<admin::SuppressionsRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("webhooks"))
                        view={Lazy::<admin::WebhooksRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("new-webinar"))
                        view={Lazy::<admin::EditorRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("webinars"), ParamSegment("slug"))
                        view={Lazy::<admin::EditorRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("webinars"), ParamSegment("slug"), StaticSegment("preview"))
                        view={Lazy::<admin::PreviewRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("webinars"), ParamSegment("slug"), StaticSegment("emails"))
                        view={Lazy::<admin::EmailsRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(
                            StaticSegment("admin"),
                            StaticSegment("webinars"),
                            ParamSegment("slug"),
                            StaticSegment("registrations"),
                        )
                        view={Lazy::<admin::RegistrationsRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(
                            StaticSegment("admin"),
                            StaticSegment("webinars"),
                            ParamSegment("slug"),
                            StaticSegment("registrations"),
                            ParamSegment("id"),
                        )
                        view={Lazy::<admin::RegistrantRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("webinars"), ParamSegment("slug"), StaticSegment("queue"))
                        view={Lazy::<admin::QueueRoute>::new()}
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}

/// The value of the cookie `name` among a request's cookies.
#[cfg(feature = "ssr")]
pub(crate) fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// Text for a `<Title>` or a `<textarea>`. Leptos 0.8 writes both into the
/// server's HTML unescaped (leptos_meta's title; tachys marks textarea
/// children "do not escape"), so text holding `</title><script>` would end
/// the element early. Escaped there, browsers still show the same text (they
/// decode `&lt;` in both); in the browser it is set as plain text.
pub(crate) fn raw_text_safe(text: &str) -> String {
    if cfg!(feature = "ssr") { text.replace('&', "&amp;").replace('<', "&lt;") } else { text.to_owned() }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Webinar not found"/>
        <section class="not-found">
            <h1>"Webinar not found"</h1>
            <p>"This webinar does not exist or is not published yet. Check the link you were sent."</p>
        </section>
    }
}
