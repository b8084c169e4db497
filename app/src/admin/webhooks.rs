//! The admin's "Webhooks" page: add an endpoint (its signing secret is shown
//! once, here), see each one's state and latest deliveries with the answers
//! they got, send a delivery again, disable, enable or delete an endpoint.
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::{AdminHeader, outcome_message};
use crate::api::AppError;

/// The page's data: the events one can subscribe to, and every endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhooksView {
    pub offered: Vec<String>,
    pub endpoints: Vec<EndpointRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndpointRow {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why and when it was disabled.
    pub notice: Option<String>,
    pub failing_since: Option<String>,
    pub deliveries: Vec<DeliveryRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub id: i64,
    pub event: String,
    pub status: String,
    pub attempts: i32,
    /// The latest attempt's time, or when it was queued.
    pub when: String,
    pub code: Option<i32>,
    pub duration_ms: Option<i32>,
    pub response: String,
    pub error: Option<String>,
}

/// An endpoint just made, with its secret: the only time anyone sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewWebhook {
    pub url: String,
    pub secret: String,
}

#[server(prefix = "/api/fn", endpoint = "admin_webhooks")]
pub async fn admin_webhooks() -> Result<WebhooksView, AppError> {
    crate::api::ssr::answered(ssr::webhooks().await)
}

#[server(prefix = "/api/fn", endpoint = "admin_create_webhook")]
pub async fn admin_create_webhook(url: String, events: Vec<String>) -> Result<NewWebhook, AppError> {
    crate::api::ssr::answered(ssr::create(url, events).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_enable_webhook")]
pub async fn admin_enable_webhook(id: i64, enabled: bool) -> Result<(), AppError> {
    crate::api::ssr::answered(ssr::enable(id, enabled).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_delete_webhook")]
pub async fn admin_delete_webhook(id: i64) -> Result<(), AppError> {
    crate::api::ssr::answered(ssr::delete(id).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_redeliver_webhook")]
pub async fn admin_redeliver_webhook(id: i64, delivery: i64) -> Result<(), AppError> {
    crate::api::ssr::answered(ssr::redeliver(id, delivery).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use webinar::ActiveEnum;
    use webinar::api::webhooks::WebhookInput;
    use webinar::webhook::EventType;

    use super::*;
    use crate::admin::ssr::{TIME_SHOWN, admin};
    use crate::api::ssr::service;

    /// How many of an endpoint's latest deliveries the page shows.
    const DELIVERIES_ON_PAGE: usize = 20;

    pub async fn webhooks() -> Result<WebhooksView, AppError> {
        admin().await?;
        let service = service()?;
        let mut endpoints = Vec::new();
        for endpoint in service.webhooks().await? {
            let log = service.webhook_deliveries(endpoint.webhook.id).await?;
            let webhook = endpoint.webhook;
            let notice = webhook.disabled_at.map(|at| {
                let why = webhook.disabled_reason.clone().unwrap_or_default();
                format!("Disabled {}. {why}", at.format(TIME_SHOWN))
            });
            endpoints.push(EndpointRow {
                id: webhook.id,
                url: webhook.url,
                events: endpoint.events.iter().map(|event| event.name().to_owned()).collect(),
                enabled: webhook.enabled,
                notice,
                failing_since: webhook.failing_since.map(|at| at.format(TIME_SHOWN).to_string()),
                deliveries: log
                    .into_iter()
                    .take(DELIVERIES_ON_PAGE)
                    .map(|entry| {
                        let latest = entry.attempts.first();
                        let when = latest.map_or(entry.delivery.created_at, |attempt| attempt.attempted_at);
                        DeliveryRow {
                            id: entry.delivery.id,
                            event: entry.event_type,
                            status: entry.delivery.status.to_value(),
                            attempts: entry.delivery.attempts,
                            when: when.format(TIME_SHOWN).to_string(),
                            code: latest.and_then(|attempt| attempt.status_code),
                            duration_ms: latest.map(|attempt| attempt.duration_ms),
                            response: latest.map(|attempt| attempt.response.clone()).unwrap_or_default(),
                            error: latest.and_then(|attempt| attempt.error.clone()),
                        }
                    })
                    .collect(),
            });
        }
        let offered = EventType::ALL.iter().map(|event| event.name().to_owned()).collect();
        Ok(WebhooksView { offered, endpoints })
    }

    pub async fn create(url: String, events: Vec<String>) -> Result<NewWebhook, AppError> {
        let admin = admin().await?;
        let input = WebhookInput { url: Some(url), events: Some(events), enabled: None };
        let created = service()?.create_webhook(&input).await?;
        tracing::info!(admin = admin.id, webhook = created.webhook.id, "webhook made in the admin");
        Ok(NewWebhook { url: created.webhook.url, secret: created.webhook.secret })
    }

    pub async fn enable(id: i64, enabled: bool) -> Result<(), AppError> {
        admin().await?;
        let input = WebhookInput { enabled: Some(enabled), ..WebhookInput::default() };
        service()?.update_webhook(id, &input).await?;
        Ok(())
    }

    pub async fn delete(id: i64) -> Result<(), AppError> {
        admin().await?;
        Ok(service()?.delete_webhook(id).await?)
    }

    pub async fn redeliver(id: i64, delivery: i64) -> Result<(), AppError> {
        admin().await?;
        service()?.redeliver_webhook(id, delivery).await?;
        Ok(())
    }
}

/// The page's actions, which each endpoint's row dispatches.
#[derive(Clone, Copy)]
struct Actions {
    enable: ServerAction<AdminEnableWebhook>,
    delete: ServerAction<AdminDeleteWebhook>,
    redeliver: ServerAction<AdminRedeliverWebhook>,
}

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let create = ServerAction::<AdminCreateWebhook>::new();
    let actions = Actions { enable: ServerAction::new(), delete: ServerAction::new(), redeliver: ServerAction::new() };
    let changed = outcome_message(actions.enable, |()| "Saved.".into());
    let deleted = outcome_message(actions.delete, |()| "Deleted: nothing more is sent to it.".into());
    let queued = outcome_message(actions.redeliver, |()| "Queued again: it goes out in a moment.".into());
    let versions = move || {
        (
            create.version().get(),
            actions.enable.version().get(),
            actions.delete.version().get(),
            actions.redeliver.version().get(),
        )
    };
    let webhooks = Resource::new(versions, |_| admin_webhooks());
    let url = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<String>::new());
    let made = move || match create.value().get() {
        Some(Ok(webhook)) => Some(webhook),
        _ => None,
    };
    let create_error = move || match create.value().get() {
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    };
    view! {
        <Title text="Webhooks — admin"/>
        <section class="admin">
            <AdminHeader title="Webhooks"/>
            <p>
                "Each event is posted as JSON to the endpoints that want it, signed by the "
                <a href="https://www.standardwebhooks.com/">"Standard Webhooks"</a>
                " scheme (" <code>"webhook-id"</code> ", " <code>"webhook-timestamp"</code> ", "
                <code>"webhook-signature"</code>
                "). A delivery that fails is tried again for days; an endpoint failing for 24 hours is disabled."
            </p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match webhooks.await {
                        Ok(page) => {
                            let offered = page.offered.clone();
                            view! {
                                <form class="token-form" on:submit=move |event| {
                                    event.prevent_default();
                                    create.dispatch(AdminCreateWebhook { url: url.get(), events: chosen.get() });
                                }>
                                    <div class="field">
                                        <label for="webhook-url">"Endpoint URL"</label>
                                        <input id="webhook-url" name="url" type="url" required
                                            placeholder="https://hooks.example.com/webinar" bind:value=url/>
                                    </div>
                                    <fieldset class="field">
                                        <legend>"Events"</legend>
                                        <EventChoices offered chosen/>
                                    </fieldset>
                                    <p class="form-error" role="alert">{create_error}</p>
                                    <button type="submit" disabled=move || create.pending().get()>"Add webhook"</button>
                                </form>
                                <EndpointList rows=page.endpoints actions/>
                            }
                            .into_any()
                        }
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            {move || {
                made()
                    .map(|webhook| {
                        view! {
                            <div class="notice new-token" role="status">
                                <p>
                                    {format!(
                                        "Webhook to {} added. Copy its signing secret now: it is not shown again.",
                                        webhook.url,
                                    )}
                                </p>
                                <code data-testid="new-secret">{webhook.secret}</code>
                            </div>
                        }
                    })
            }}
            <p class="notice" role="status" data-testid="webhook-outcome">{changed} {deleted} {queued}</p>
        </section>
    }
}

#[component]
fn EventChoices(offered: Vec<String>, chosen: RwSignal<Vec<String>>) -> impl IntoView {
    offered
        .into_iter()
        .map(|event| {
            let name = event.clone();
            view! {
                <label class="choice">
                    <input type="checkbox" value=event.clone() on:change=move |change| {
                        let on = event_target_checked(&change);
                        chosen.update(|chosen| {
                            chosen.retain(|other| *other != name);
                            if on {
                                chosen.push(name.clone());
                            }
                        });
                    }/>
                    " "
                    <code>{event}</code>
                </label>
            }
        })
        .collect_view()
}

#[component]
fn EndpointList(rows: Vec<EndpointRow>, actions: Actions) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p>"No webhooks yet."</p> }.into_any();
    }
    rows.into_iter()
        .map(|row| {
            let id = row.id;
            let enabled = row.enabled;
            let state = match (row.enabled, &row.failing_since) {
                (false, _) => "disabled".to_owned(),
                (true, Some(since)) => format!("failing since {since}"),
                (true, None) => "enabled".to_owned(),
            };
            view! {
                <article class="webhook" data-testid="webhook">
                    <h2><code>{row.url}</code></h2>
                    <p>{format!("{} · {}", state, row.events.join(", "))}</p>
                    {row.notice.map(|notice| view! { <p class="notice warning" role="status">{notice}</p> })}
                    <p>
                        <button type="button" class="secondary" on:click=move |_| {
                            actions.enable.dispatch(AdminEnableWebhook { id, enabled: !enabled });
                        }>{if enabled { "Disable" } else { "Enable again" }}</button>
                        " "
                        <button type="button" class="secondary" on:click=move |_| {
                            actions.delete.dispatch(AdminDeleteWebhook { id });
                        }>"Delete"</button>
                    </p>
                    <DeliveryTable id rows=row.deliveries redeliver=actions.redeliver/>
                </article>
            }
        })
        .collect_view()
        .into_any()
}

#[component]
fn DeliveryTable(id: i64, rows: Vec<DeliveryRow>, redeliver: ServerAction<AdminRedeliverWebhook>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p>"Nothing delivered yet."</p> }.into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="admin-table" data-testid="deliveries">
                <thead>
                    <tr>
                        <th>"Event"</th>
                        <th>"State"</th>
                        <th>"Attempts"</th>
                        <th>"Latest"</th>
                        <th>"Answer"</th>
                        <th>"Took"</th>
                        <th>"Body (first 1 KB) or error"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|row| {
                            let delivery = row.id;
                            view! {
                                <tr>
                                    <td><code>{row.event}</code></td>
                                    <td>{row.status}</td>
                                    <td>{row.attempts}</td>
                                    <td>{row.when}</td>
                                    <td>{row.code.map_or_else(|| "—".into(), |code| code.to_string())}</td>
                                    <td>{row.duration_ms.map_or_else(|| "—".into(), |ms| format!("{ms} ms"))}</td>
                                    <td class="answer">{row.error.unwrap_or(row.response)}</td>
                                    <td>
                                        <button type="button" class="secondary" on:click=move |_| {
                                            redeliver.dispatch(AdminRedeliverWebhook { id, delivery });
                                        }>"Redeliver"</button>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
