//! The public landing page: details, registration form and live count.
use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::NotFound;
use crate::api::{AppError, LandingView, Register, SessionChoiceView, fills, get_landing};
use crate::live::{SessionCounts, follow_count};

#[component]
pub fn LandingPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let landing = Resource::new(
        move || {
            let query = query.read();
            (params.read().get("slug"), query.get("icp"), query.get("registered"), query.get("invalid"))
        },
        |(slug, icp, registered, invalid)| get_landing(slug, icp, registered, invalid),
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match landing.await {
                    Ok(view) => view! { <Landing view preview=false/> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound/> }.into_any(),
                    Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The page itself; a `preview` (the admin's) neither follows the live
/// count nor lets anyone register.
#[component]
pub(crate) fn Landing(view: LandingView, preview: bool) -> impl IntoView {
    let count = RwSignal::new(view.registrations);
    let session_counts = RwSignal::new(
        view.sessions.iter().map(|session| (session.id, session.registrations)).collect::<BTreeMap<i64, u64>>(),
    );
    if !preview {
        follow_count(view.slug.clone(), count, session_counts);
    }
    // Effects run only in the browser: the marker says the page is interactive.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let register = ServerAction::<Register>::new();
    // The server's answer also carries the new count, for when the socket is slow.
    Effect::new(move |_| {
        if let Some(Ok(registered)) = register.value().get() {
            count.update(|current| *current = (*current).max(registered.registrations));
            session_counts.update(|counts| {
                let current = counts.entry(registered.session).or_default();
                *current = (*current).max(registered.session_registrations);
            });
        }
    });
    let no_js_name = view.registered_name.clone();
    // A memo, so an error answer does not rebuild the form (and lose what was typed).
    let registered_name = Memo::new(move |_| match register.value().get() {
        Some(Ok(registered)) => Some(registered.name),
        _ => no_js_name.clone(),
    });
    let no_js_errors = view.form_errors.clone();
    let error_for = move |field: &'static str| {
        let no_js_errors = no_js_errors.clone();
        move || match register.value().get() {
            Some(Err(error)) => error.field(field),
            Some(Ok(_)) => None,
            None => no_js_errors.iter().find(|error| error.field == field).map(|error| error.message.clone()),
        }
    };
    // Errors not tied to one field; the form keeps what was typed, so the
    // visitor can simply try again.
    let form_error = move || match register.value().get() {
        Some(Err(AppError::Invalid(_))) | Some(Ok(_)) | None => None,
        Some(Err(error)) => Some(error.to_string()),
    };

    let query = use_query_map();
    let carried = move |key: &'static str| query.read().get(key).unwrap_or_default();
    let closed = view.closed.clone();
    let slug = view.slug.clone();
    let sessions = view.sessions.clone();
    let preselected = view.session;
    let session_error = error_for("session");

    view! {
        <Title text=crate::raw_text_safe(&view.title)/>
        <Meta name="description" content=view.subtitle.clone()/>
        <article class="landing" data-hydrated=move || hydrated.get().to_string()>
            <header class="hero">
                <p class="eyebrow">"Live webinar"</p>
                <h1>{view.title.clone()}</h1>
                <p class="subtitle">{view.subtitle.clone()}</p>
                <p class="when">
                    <time datetime=view.starts_at.clone()>{view.start_local.clone()}</time>
                </p>
                <p class="count" data-testid="count">
                    <strong data-testid="count-value">{move || count.get()}</strong>
                    " registered"
                </p>
            </header>
            <div class="columns">
                <section class="about">
                    // Sanitized on the server (Markdown, then an allow-list).
                    <div class="description" inner_html=view.description_html.clone()></div>
                    {(!view.agenda.is_empty())
                        .then(|| {
                            view! {
                                <h2>"Agenda"</h2>
                                <ol class="agenda">
                                    {view
                                        .agenda
                                        .iter()
                                        .map(|item| {
                                            view! {
                                                <li>
                                                    <span class="at">{item.at.clone()}</span>
                                                    <span>{item.title.clone()}</span>
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ol>
                            }
                        })}
                    {(!view.speakers.is_empty())
                        .then(|| {
                            view! {
                                <h2>"Speakers"</h2>
                                <ul class="speakers">
                                    {view
                                        .speakers
                                        .iter()
                                        .map(|speaker| {
                                            view! {
                                                <li>
                                                    {speaker
                                                        .photo_url
                                                        .clone()
                                                        .map(|photo| view! { <img src=photo alt="" loading="lazy"/> })}
                                                    <strong>{speaker.name.clone()}</strong>
                                                    <span>{speaker.title.clone()}</span>
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                            }
                        })}
                </section>
                <section class="register" id="register">
                    {move || match (closed.clone(), registered_name.get()) {
                        (_, Some(name)) => {
                            view! {
                                <div class="success" role="status" data-testid="success">
                                    <h2>{format!("You're registered, {name}!")}</h2>
                                    <p>"We've emailed your confirmation and will remind you before we start."</p>
                                </div>
                            }
                                .into_any()
                        }
                        (Some(reason), None) => view! { <p class="closed" role="status">{reason}</p> }.into_any(),
                        (None, None) => {
                            let error_for = error_for.clone();
                            let slug = slug.clone();
                            let sessions = sessions.clone();
                            let session_error = session_error.clone();
                            view! {
                                <h2>"Save your seat"</h2>
                                <ActionForm action=register attr:novalidate=true>
                                    <input type="hidden" name="webinar" value=slug/>
                                    <SessionChoice sessions counts=session_counts preselected error=session_error/>
                                    <input type="hidden" name="icp" value=carried("icp")/>
                                    <input type="hidden" name="utm_source" value=carried("utm_source")/>
                                    <input type="hidden" name="utm_medium" value=carried("utm_medium")/>
                                    <input type="hidden" name="utm_campaign" value=carried("utm_campaign")/>
                                    <Field label="Name" name="name" kind="text" autocomplete="name" error=error_for("name")/>
                                    <Field label="Work email" name="email" kind="email" autocomplete="email" error=error_for("email")/>
                                    <Field
                                        label="Company (optional)"
                                        name="company"
                                        kind="text"
                                        autocomplete="organization"
                                        error=error_for("company")
                                    />
                                    <p class="form-error" role="alert">{form_error}</p>
                                    <button type="submit" disabled=move || preview || register.pending().get()>
                                        {move || if register.pending().get() { "Registering…" } else { "Register" }}
                                    </button>
                                </ActionForm>
                            }
                                .into_any()
                        }
                    }}
                </section>
            </div>
        </article>
    }
}

/// The times a visitor may pick, as radio buttons that work without
/// JavaScript; a full one is shown and cannot be picked. A webinar with one
/// session shows no choice (its time is in the header).
#[component]
fn SessionChoice<E>(
    sessions: Vec<SessionChoiceView>,
    counts: SessionCounts,
    preselected: Option<i64>,
    error: E,
) -> impl IntoView
where
    E: Fn() -> Option<String> + Clone + Send + Sync + 'static,
{
    (sessions.len() > 1).then(|| {
        view! {
            <fieldset class="sessions" aria-describedby="session-error">
                <legend>"Pick a time"</legend>
                {sessions
                    .into_iter()
                    .map(|session| {
                        let id = format!("session-{}", session.id);
                        let (session_id, rendered) = (session.id, session.registrations);
                        let current = move || counts.with(|counts| counts.get(&session_id).copied()).unwrap_or(rendered);
                        // Full when the page was made: shown, not offered. Filling
                        // while the page is open shows "full" at once; the radio
                        // stays as it was, and a registration for it is refused
                        // with the reason.
                        let (seats, full_when_made) = (session.seats, fills(session.seats, rendered));
                        let full = move || full_when_made || fills(seats, current());
                        let shown = move || match full() {
                            true => "full".to_owned(),
                            false => format!("{} registered", current()),
                        };
                        view! {
                            <label class="session-choice" for=id.clone() data-testid=id.clone()>
                                <input
                                    type="radio"
                                    id=id.clone()
                                    name="session"
                                    value=session.id.to_string()
                                    checked=preselected == Some(session.id)
                                    disabled=full_when_made
                                />
                                <time datetime=session.starts_at>{session.start_local}</time>
                                <span class="session-count" data-testid=format!("{id}-count")>
                                    {shown}
                                </span>
                            </label>
                        }
                    })
                    .collect_view()}
                <span class="field-error" id="session-error" data-testid="session-error">
                    {error}
                </span>
            </fieldset>
        }
    })
}

/// A labelled input with its error message beside it.
#[component]
fn Field<E>(
    label: &'static str,
    name: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    error: E,
) -> impl IntoView
where
    E: Fn() -> Option<String> + Clone + Send + Sync + 'static,
{
    let error_id = format!("{name}-error");
    let invalid = {
        let error = error.clone();
        move || error().is_some()
    };
    view! {
        <div class="field">
            <label for=name>{label}</label>
            <input
                id=name
                type=kind
                name=name
                autocomplete=autocomplete
                aria-invalid=move || invalid().to_string()
                aria-describedby=error_id.clone()
            />
            <span class="field-error" id=error_id data-testid=format!("{name}-error")>
                {error}
            </span>
        </div>
    }
}
