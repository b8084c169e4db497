//! One registrant's emails: each job with its state and attempts, and the
//! timeline of what the provider reported about it (processed, delivered,
//! opened, bounced, …).
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use super::WebinarHeader;
use crate::api::AppError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmailTimeline {
    pub kind: String,
    pub due: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: String,
    /// (what, when, the provider's reason)
    pub events: Vec<(String, String, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegistrantView {
    pub name: String,
    pub email: String,
    pub emails: Vec<EmailTimeline>,
}

#[server(prefix = "/api/fn", endpoint = "admin_registrant")]
pub async fn admin_registrant(slug: String, id: i64) -> Result<RegistrantView, AppError> {
    crate::api::ssr::answered(ssr::registrant(slug, id).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use webinar::ActiveEnum;

    use super::*;
    use crate::admin::ssr::{TIME_SHOWN, admin};
    use crate::api::ssr::service;

    pub async fn registrant(slug: String, id: i64) -> Result<RegistrantView, AppError> {
        admin().await?;
        let service = service()?;
        let registrant = service.api_registration(id).await?;
        // A registrant is shown under their own webinar only.
        if registrant.webinar != slug {
            return Err(AppError::NotFound);
        }
        let emails = service.api_registration_emails(id).await?;
        Ok(RegistrantView {
            name: registrant.name,
            email: registrant.email,
            emails: emails
                .into_iter()
                .map(|job| EmailTimeline {
                    kind: job.kind.to_value(),
                    due: job.due_at.format(TIME_SHOWN).to_string(),
                    status: job.status.to_value(),
                    attempts: job.attempts,
                    last_error: job.last_error.unwrap_or_default(),
                    events: job
                        .events
                        .into_iter()
                        .map(|event| {
                            (event.event, event.at.format(TIME_SHOWN).to_string(), event.reason.unwrap_or_default())
                        })
                        .collect(),
                })
                .collect(),
        })
    }
}

#[component]
pub fn RegistrantPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or_default();
    let registrant = Resource::new(move || (slug(), id()), |(slug, id)| admin_registrant(slug, id));
    view! {
        <Title text="Registrant — admin"/>
        <section class="admin">
            {move || view! { <WebinarHeader slug=slug() title="Registrant"/> }}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match registrant.await {
                        Ok(view) => view! { <Timeline view/> }.into_any(),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Timeline(view: RegistrantView) -> impl IntoView {
    view! {
        <h2>{format!("{} <{}>", view.name, view.email)}</h2>
        <ol class="timeline" data-testid="email-timeline">
            {view
                .emails
                .into_iter()
                .map(|email| {
                    let kind = email.kind.clone();
                    view! {
                        <li data-kind=kind>
                            <p>
                                <strong>{email.kind}</strong>
                                {format!(" — {}, due {}, {} attempt(s)", email.status, email.due, email.attempts)}
                            </p>
                            {(!email.last_error.is_empty()).then(|| view! { <p class="reason">{email.last_error}</p> })}
                            <ul>
                                {email
                                    .events
                                    .into_iter()
                                    .map(|(event, at, reason)| view! { <li>{format!("{at}: {event}")} <span class="reason">{reason}</span></li> })
                                    .collect_view()}
                            </ul>
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}
