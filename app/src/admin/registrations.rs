//! A webinar's registrations: search, pages, attribution columns, CSV
//! export, and erasing a registrant (GDPR).
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

use super::{WebinarHeader, outcome_message};
use crate::api::AppError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegistrationRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub company: String,
    pub icp: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub registered_at: String,
    /// The session's start.
    pub session: String,
    pub unsubscribed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegistrationsView {
    pub rows: Vec<RegistrationRow>,
    /// Registrations matching the search, on every page.
    pub total: u64,
    pub page: u64,
    pub pages: u64,
}

#[server(prefix = "/api/fn", endpoint = "admin_registrations")]
pub async fn admin_registrations(slug: String, search: String, page: u64) -> Result<RegistrationsView, AppError> {
    crate::api::ssr::answered(ssr::registrations(slug, search, page).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_erase_registration")]
pub async fn admin_erase_registration(id: i64) -> Result<(), AppError> {
    crate::api::ssr::answered(ssr::erase(id).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::*;

    const PAGE_SIZE: u64 = 50;
    /// Pages asked for beyond this are this one (empty): the offset it makes
    /// stays far inside what the database takes, whatever the URL says.
    const LAST_PAGE_ASKED: u64 = 1_000_000_000;
    use crate::admin::ssr::{TIME_SHOWN, admin};
    use crate::api::ssr::service;

    pub async fn registrations(slug: String, search: String, page: u64) -> Result<RegistrationsView, AppError> {
        admin().await?;
        let page = page.clamp(1, LAST_PAGE_ASKED);
        let offset = (page - 1).saturating_mul(PAGE_SIZE);
        let service = service()?;
        let (webinar, rows, total) = service.search_registrations(&slug, &search, offset, PAGE_SIZE).await?;
        let session_starts = service.session_starts(webinar.id).await?;
        Ok(RegistrationsView {
            rows: rows
                .into_iter()
                .map(|row| RegistrationRow {
                    id: row.id,
                    name: row.name,
                    email: row.email,
                    company: row.company.unwrap_or_default(),
                    icp: row.icp.unwrap_or_default(),
                    utm_source: row.utm_source.unwrap_or_default(),
                    utm_medium: row.utm_medium.unwrap_or_default(),
                    utm_campaign: row.utm_campaign.unwrap_or_default(),
                    registered_at: row.created_at.format(TIME_SHOWN).to_string(),
                    session: session_starts
                        .get(&row.session_id)
                        .map(|starts_at| starts_at.format(TIME_SHOWN).to_string())
                        .unwrap_or_default(),
                    unsubscribed: row.unsubscribed_at.is_some(),
                })
                .collect(),
            total,
            page,
            pages: total.div_ceil(PAGE_SIZE).max(1),
        })
    }

    pub async fn erase(id: i64) -> Result<(), AppError> {
        admin().await?;
        Ok(service()?.erase_registration(id).await?)
    }
}

#[component]
pub fn RegistrationsPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let search = move || query.read().get("q").unwrap_or_default();
    let page = move || query.read().get("page").and_then(|page| page.parse::<u64>().ok()).unwrap_or(1);
    let erase = ServerAction::<AdminEraseRegistration>::new();
    let erased = outcome_message(erase, |()| "Erased, with their emails.".to_owned());
    let registrations = Resource::new(
        move || (slug(), search(), page(), erase.version().get()),
        |(slug, search, page, _)| admin_registrations(slug, search, page),
    );
    view! {
        <Title text="Registrations — admin"/>
        <section class="admin">
            {move || view! { <WebinarHeader slug=slug() title="Registrations"/> }}
            <form method="get" class="search">
                <input type="search" name="q" placeholder="Name, email or company" value=search/>
                <button type="submit">"Search"</button>
            </form>
            <p class="notice" role="status">{erased}</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match registrations.await {
                        Ok(view) => view! { <Table view slug=slug() search=search() erase/> }.into_any(),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Table(
    view: RegistrationsView,
    slug: String,
    search: String,
    erase: ServerAction<AdminEraseRegistration>,
) -> impl IntoView {
    let link = |page: u64| format!("?q={}&page={page}", encode_query_value(&search));
    view! {
        <p>{format!("{} registration(s)", view.total)}</p>
        <table class="admin-table" data-testid="registrations">
            <thead>
                <tr>
                    <th>"Name"</th>
                    <th>"Email"</th>
                    <th>"Company"</th>
                    <th>"ICP"</th>
                    <th>"UTM source"</th>
                    <th>"UTM medium"</th>
                    <th>"UTM campaign"</th>
                    <th>"Session"</th>
                    <th>"Registered"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {view
                    .rows
                    .into_iter()
                    .map(|row| {
                        let id = row.id;
                        view! {
                            <tr>
                                <td>{row.name}</td>
                                <td>{row.email}{row.unsubscribed.then_some(" (unsubscribed)")}</td>
                                <td>{row.company}</td>
                                <td>{row.icp}</td>
                                <td>{row.utm_source}</td>
                                <td>{row.utm_medium}</td>
                                <td>{row.utm_campaign}</td>
                                <td>{row.session}</td>
                                <td>{row.registered_at}</td>
                                <td>
                                    <a href=format!("/admin/webinars/{slug}/registrations/{id}")>"Emails"</a>
                                    <button
                                        type="button"
                                        class="secondary"
                                        on:click=move |_| {
                                            erase.dispatch(AdminEraseRegistration { id });
                                        }
                                    >
                                        "Erase"
                                    </button>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
        <nav class="pages">
            {(view.page > 1).then(|| view! { <a href=link(view.page - 1)>"← Newer"</a> })}
            <span>{format!("Page {} of {}", view.page, view.pages)}</span>
            {(view.page < view.pages).then(|| view! { <a href=link(view.page + 1)>"Older →"</a> })}
        </nav>
    }
}

/// A value for a link's query string: letters, digits and `-._~` as they are, the rest percent-encoded.
fn encode_query_value(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
