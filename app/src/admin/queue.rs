//! A webinar's email queue: counts by kind and state for each of its
//! sessions, how the sent emails fared at the provider (delivered, bounced,
//! opened, clicked), dead letters with the provider's reason, and "retry"
//! for them.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use super::emails::KINDS;
use super::{WebinarHeader, outcome_message};
use crate::api::AppError;

// A claimed job stays "pending" until its outcome is recorded (the worker holds it by a lease row).
const STATES: [&str; 5] = ["pending", "sent", "dead", "cancelled", "suppressed"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: i64,
    /// When the session it is about starts.
    pub session: String,
    pub kind: String,
    pub recipient: String,
    pub attempts: i32,
    pub reason: String,
    pub failed_at: String,
}

/// Of the emails sent, how many the provider reported delivered, bounced, opened, clicked.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub sent: u64,
    pub delivered: u64,
    pub bounced: u64,
    pub opened: u64,
    pub clicked: u64,
}

/// One session's emails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionQueue {
    pub id: i64,
    /// When it starts, in the webinar's zone.
    pub starts: String,
    pub cancelled: bool,
    /// (kind, state, jobs)
    pub counts: Vec<(String, String, u64)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueView {
    /// The sessions with emails, in start order.
    pub sessions: Vec<SessionQueue>,
    pub delivery: DeliveryView,
    pub dead: Vec<DeadLetter>,
}

#[server(prefix = "/api/fn", endpoint = "admin_queue")]
pub async fn admin_queue(slug: String) -> Result<QueueView, AppError> {
    crate::api::ssr::answered(ssr::queue(slug).await)
}

/// Retries one dead letter (`job`), or all of the webinar's when `job` is absent.
#[server(prefix = "/api/fn", endpoint = "admin_retry")]
pub async fn admin_retry(slug: String, job: Option<i64>) -> Result<u64, AppError> {
    crate::api::ssr::answered(ssr::retry(slug, job).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use webinar::ActiveEnum;

    use super::*;
    use crate::admin::ssr::{TIME_SHOWN, admin};
    use crate::api::ssr::service;

    pub async fn queue(slug: String) -> Result<QueueView, AppError> {
        admin().await?;
        let (webinar, queue) = service()?.email_queue(&slug).await?;
        let delivery = queue.delivery;
        let zone = webinar.tz();
        let starts: std::collections::HashMap<i64, String> =
            queue.sessions.iter().map(|session| (session.id, session.start_local(zone))).collect();
        let sessions = queue
            .sessions
            .iter()
            .map(|session| SessionQueue {
                id: session.id,
                starts: session.start_local(zone),
                cancelled: session.status == webinar::session::Status::Cancelled,
                counts: queue
                    .counts
                    .iter()
                    .filter(|count| count.session_id == session.id)
                    .map(|count| (count.kind.to_value(), count.status.to_value(), count.jobs))
                    .collect(),
            })
            .filter(|session| !session.counts.is_empty())
            .collect();
        Ok(QueueView {
            sessions,
            delivery: DeliveryView {
                sent: delivery.sent,
                delivered: delivery.delivered,
                bounced: delivery.bounced,
                opened: delivery.opened,
                clicked: delivery.clicked,
            },
            dead: queue
                .dead
                .into_iter()
                .map(|(job, registration)| DeadLetter {
                    id: job.id,
                    session: starts.get(&job.session_id).cloned().unwrap_or_default(),
                    kind: job.kind.to_value(),
                    recipient: registration.map(|registration| registration.email).unwrap_or_default(),
                    attempts: job.attempts,
                    reason: job.last_error.unwrap_or_default(),
                    failed_at: job.updated_at.format(TIME_SHOWN).to_string(),
                })
                .collect(),
        })
    }

    pub async fn retry(slug: String, job: Option<i64>) -> Result<u64, AppError> {
        admin().await?;
        Ok(service()?.retry_dead_letters(&slug, job).await?)
    }
}

#[component]
pub fn QueuePage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let retry = ServerAction::<AdminRetry>::new();
    let retried = outcome_message(retry, |count| format!("{count} email(s) queued again."));
    let queue = Resource::new(move || (slug(), retry.version().get()), |(slug, _)| admin_queue(slug));
    view! {
        <Title text="Email queue — admin"/>
        <section class="admin">
            {move || view! { <WebinarHeader slug=slug() title="Email queue"/> }}
            <p class="notice" role="status" data-testid="retried">{retried}</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match queue.await {
                        Ok(view) => view! { <Queue view slug=slug() retry/> }.into_any(),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Queue(view: QueueView, slug: String, retry: ServerAction<AdminRetry>) -> impl IntoView {
    let all_slug = slug.clone();
    let delivery = view.delivery;
    let rate = move |count: u64| match delivery.sent {
        0 => "—".to_owned(),
        sent => format!("{:.1} % ({count})", count as f64 * 100.0 / sent as f64),
    };
    view! {
        <h2>"At the provider"</h2>
        <table class="admin-table" data-testid="delivery-rates">
            <thead>
                <tr>
                    <th>"Sent"</th>
                    <th>"Delivered"</th>
                    <th>"Bounced"</th>
                    <th>"Opened"</th>
                    <th>"Clicked"</th>
                </tr>
            </thead>
            <tbody>
                <tr>
                    <td>{delivery.sent}</td>
                    <td>{rate(delivery.delivered)}</td>
                    <td>{rate(delivery.bounced)}</td>
                    <td>{rate(delivery.opened)}</td>
                    <td>{rate(delivery.clicked)}</td>
                </tr>
            </tbody>
        </table>
        <h2>"By session, kind and state"</h2>
        {match view.sessions.is_empty() {
            true => view! { <p>"No emails yet."</p> }.into_any(),
            false => view.sessions.into_iter().map(|session| view! { <SessionCounts session/> }).collect_view().into_any(),
        }}
        <h2>"Dead letters"</h2>
        {if view.dead.is_empty() {
            view! { <p>"None: every email went out or is on its way."</p> }.into_any()
        } else {
            view! {
                <button type="button" on:click=move |_| {
                    retry.dispatch(AdminRetry { slug: all_slug.clone(), job: None });
                }>"Retry all"</button>
                <table class="admin-table" data-testid="dead-letters">
                    <thead>
                        <tr>
                            <th>"Session"</th>
                            <th>"Kind"</th>
                            <th>"Recipient"</th>
                            <th>"Attempts"</th>
                            <th>"Provider's reason"</th>
                            <th>"Failed"</th>
                            <th></th>
                        </tr>
                    </thead>
                    <tbody>
                        {view
                            .dead
                            .into_iter()
                            .map(|letter| {
                                let (slug, job) = (slug.clone(), letter.id);
                                view! {
                                    <tr>
                                        <td>{letter.session}</td>
                                        <td>{letter.kind}</td>
                                        <td>{letter.recipient}</td>
                                        <td>{letter.attempts}</td>
                                        <td class="reason">{letter.reason}</td>
                                        <td>{letter.failed_at}</td>
                                        <td>
                                            <button type="button" class="secondary" on:click=move |_| {
                                                retry.dispatch(AdminRetry { slug: slug.clone(), job: Some(job) });
                                            }>"Retry"</button>
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            }
                .into_any()
        }}
    }
}

/// One session's emails by kind and state.
#[component]
fn SessionCounts(session: SessionQueue) -> impl IntoView {
    let SessionQueue { id, starts, cancelled, counts } = session;
    let count = move |kind: &str, state: &str| {
        counts.iter().find(|(k, s, _)| k == kind && s == state).map_or(0, |(_, _, jobs)| *jobs)
    };
    let caption = match cancelled {
        true => format!("{starts} (cancelled)"),
        false => starts,
    };
    view! {
        <table class="admin-table" data-testid=format!("queue-counts-{id}")>
            <caption>{caption}</caption>
            <thead>
                <tr>
                    <th>"Kind"</th>
                    {STATES.into_iter().map(|state| view! { <th>{state}</th> }).collect_view()}
                </tr>
            </thead>
            <tbody>
                {KINDS
                    .into_iter()
                    .map(|(kind, label)| {
                        view! {
                            <tr>
                                <td>{label}</td>
                                {STATES.into_iter().map(|state| view! { <td>{count(kind, state)}</td> }).collect_view()}
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
