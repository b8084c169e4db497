//! The admin's suppression list: addresses no email goes to after a hard
//! bounce, a spam report or an unsubscribe at the provider, and "remove" to
//! let email go to one again.
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::{AdminHeader, outcome_message};
use crate::api::AppError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuppressionRow {
    pub email: String,
    pub event: String,
    pub reason: String,
    pub since: String,
}

#[server(prefix = "/api/fn", endpoint = "admin_suppressions")]
pub async fn admin_suppressions() -> Result<Vec<SuppressionRow>, AppError> {
    crate::api::ssr::answered(ssr::list().await)
}

#[server(prefix = "/api/fn", endpoint = "admin_remove_suppression")]
pub async fn admin_remove_suppression(email: String) -> Result<(), AppError> {
    crate::api::ssr::answered(ssr::remove(email).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::*;
    use crate::admin::ssr::{TIME_SHOWN, admin};
    use crate::api::ssr::service;

    pub async fn list() -> Result<Vec<SuppressionRow>, AppError> {
        admin().await?;
        let entries = service()?.suppressions().await?;
        Ok(entries
            .into_iter()
            .map(|entry| SuppressionRow {
                since: entry.created_at.format(TIME_SHOWN).to_string(),
                email: entry.email_key,
                event: entry.event,
                reason: entry.reason.unwrap_or_default(),
            })
            .collect())
    }

    pub async fn remove(email: String) -> Result<(), AppError> {
        admin().await?;
        Ok(service()?.remove_suppression(&email).await?)
    }
}

#[component]
pub fn SuppressionsPage() -> impl IntoView {
    let remove = ServerAction::<AdminRemoveSuppression>::new();
    let removed = outcome_message(remove, |()| "Removed: emails go to that address again.".into());
    let entries = Resource::new(move || remove.version().get(), |_| admin_suppressions());
    view! {
        <Title text="Suppressed addresses — admin"/>
        <section class="admin">
            <AdminHeader title="Suppressed addresses"/>
            <p>
                "No email of any webinar goes to these addresses: the provider reported a hard bounce, "
                "a spam report or an unsubscribe. Their pending emails ended as suppressed."
            </p>
            <p class="notice" role="status" data-testid="removed">{removed}</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match entries.await {
                        Ok(rows) if rows.is_empty() => view! { <p>"None."</p> }.into_any(),
                        Ok(rows) => view! { <SuppressionTable rows remove/> }.into_any(),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn SuppressionTable(rows: Vec<SuppressionRow>, remove: ServerAction<AdminRemoveSuppression>) -> impl IntoView {
    view! {
        <table class="admin-table" data-testid="suppressions">
            <thead>
                <tr>
                    <th>"Address"</th>
                    <th>"Why"</th>
                    <th>"Provider's words"</th>
                    <th>"Since"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|row| {
                        let email = row.email.clone();
                        view! {
                            <tr>
                                <td>{row.email}</td>
                                <td>{row.event}</td>
                                <td class="reason">{row.reason}</td>
                                <td>{row.since}</td>
                                <td>
                                    <button type="button" class="secondary" on:click=move |_| {
                                        remove.dispatch(AdminRemoveSuppression { email: email.clone() });
                                    }>"Remove"</button>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
