//! Email copy per kind (and per ICP): subject and Markdown body with the
//! documented variables, a live preview for a sample registrant, save,
//! back to the built-in copy, and a test email to the admin.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

use super::{WebinarHeader, outcome_message};
use crate::api::AppError;

/// The kinds, as the queue stores them, with their names for people.
pub const KINDS: [(&str, &str); 6] = [
    ("confirmation", "Confirmation"),
    ("reminder_24h", "24 h reminder"),
    ("reminder_3h", "3 h reminder"),
    ("reminder_15m", "15 min reminder"),
    ("time_changed", "Time changed"),
    ("cancelled", "Cancelled"),
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CopyView {
    pub subject: String,
    pub body: String,
    /// False while the built-in copy is in use.
    pub saved: bool,
    /// (name, meaning) of every variable.
    pub variables: Vec<(String, String)>,
    /// The webinar's ICP keys, for the variant picker.
    pub icps: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmailPreview {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[server(prefix = "/api/fn", endpoint = "admin_email_copy")]
pub async fn admin_email_copy(slug: String, kind: String, icp: String) -> Result<CopyView, AppError> {
    crate::api::ssr::answered(ssr::copy(slug, kind, icp).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_preview_email")]
pub async fn admin_preview_email(
    slug: String,
    kind: String,
    subject: String,
    body: String,
) -> Result<EmailPreview, AppError> {
    crate::api::ssr::answered(ssr::preview(slug, kind, subject, body).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_save_email_copy")]
pub async fn admin_save_email_copy(
    slug: String,
    kind: String,
    icp: String,
    subject: String,
    body: String,
) -> Result<(), AppError> {
    crate::api::ssr::answered(ssr::save(slug, kind, icp, subject, body).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_reset_email_copy")]
pub async fn admin_reset_email_copy(slug: String, kind: String, icp: String) -> Result<(), AppError> {
    crate::api::ssr::answered(ssr::reset(slug, kind, icp).await)
}

/// Sends the copy as it stands in the editor to the logged-in admin.
#[server(prefix = "/api/fn", endpoint = "admin_send_test_email")]
pub async fn admin_send_test_email(
    slug: String,
    kind: String,
    subject: String,
    body: String,
) -> Result<String, AppError> {
    crate::api::ssr::answered(ssr::send_test(slug, kind, subject, body).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use webinar::ActiveEnum;
    use webinar::email::Kind;
    use webinar::email::render::CustomCopy;

    use super::*;
    use crate::admin::ssr::admin;
    use crate::api::FieldErrorView;
    use crate::api::ssr::service;

    fn kind_of(raw: &str) -> Result<Kind, AppError> {
        Kind::try_from_value(&raw.to_owned()).map_err(|_| {
            AppError::Invalid(vec![FieldErrorView {
                field: "kind".into(),
                message: "Choose one of the email kinds listed.".into(),
            }])
        })
    }

    pub async fn copy(slug: String, kind: String, icp: String) -> Result<CopyView, AppError> {
        admin().await?;
        let service = service()?;
        let draft = service.email_copy(&slug, kind_of(&kind)?, &icp).await?;
        let (_, variants) = service.admin_webinar(&slug).await?;
        Ok(CopyView {
            subject: draft.copy.subject,
            body: draft.copy.body,
            saved: draft.saved,
            variables: webinar::email::render::VARIABLES
                .iter()
                .map(|(name, meaning)| ((*name).to_owned(), (*meaning).to_owned()))
                .collect(),
            icps: variants.into_iter().map(|variant| variant.icp).collect(),
        })
    }

    pub async fn preview(slug: String, kind: String, subject: String, body: String) -> Result<EmailPreview, AppError> {
        admin().await?;
        let rendered = service()?.preview_email(&slug, kind_of(&kind)?, &CustomCopy { subject, body }).await?;
        Ok(EmailPreview { subject: rendered.subject, text: rendered.text, html: rendered.html })
    }

    pub async fn save(slug: String, kind: String, icp: String, subject: String, body: String) -> Result<(), AppError> {
        admin().await?;
        Ok(service()?.save_email_copy(&slug, kind_of(&kind)?, &icp, CustomCopy { subject, body }).await?)
    }

    pub async fn reset(slug: String, kind: String, icp: String) -> Result<(), AppError> {
        admin().await?;
        Ok(service()?.reset_email_copy(&slug, kind_of(&kind)?, &icp).await?)
    }

    pub async fn send_test(slug: String, kind: String, subject: String, body: String) -> Result<String, AppError> {
        let admin = admin().await?;
        let to = webinar::delivery::Mailbox { email: admin.email.clone(), name: webinar::admin::SAMPLE_NAME.into() };
        service()?.send_test_email(&slug, kind_of(&kind)?, &CustomCopy { subject, body }, &to).await?;
        Ok(format!("Test email sent to {}.", admin.email))
    }
}

#[component]
pub fn EmailsPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let kind = move || query.read().get("kind").unwrap_or_else(|| KINDS[0].0.to_owned());
    let icp = move || query.read().get("icp").unwrap_or_default();
    let save = ServerAction::<AdminSaveEmailCopy>::new();
    let reset = ServerAction::<AdminResetEmailCopy>::new();
    let copy = Resource::new(
        move || (slug(), kind(), icp(), save.version().get(), reset.version().get()),
        |(slug, kind, icp, ..)| admin_email_copy(slug, kind, icp),
    );
    view! {
        <Title text="Emails — admin"/>
        <section class="admin emails">
            {move || view! { <WebinarHeader slug=slug() title="Email copy"/> }}
            <nav class="tabs">
                {KINDS
                    .into_iter()
                    .map(|(value, label)| {
                        let href = move || format!("?kind={value}&icp={}", icp());
                        view! { <a href=href class:active=move || kind() == value>{label}</a> }
                    })
                    .collect_view()}
            </nav>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match copy.await {
                        Ok(view) => {
                            view! { <CopyEditor view slug=slug() kind=kind() icp=icp() save reset/> }.into_any()
                        }
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// How long typing pauses before the preview follows.
const PREVIEW_DELAY: std::time::Duration = std::time::Duration::from_millis(400);

#[component]
fn CopyEditor(
    view: CopyView,
    slug: String,
    kind: String,
    icp: String,
    save: ServerAction<AdminSaveEmailCopy>,
    reset: ServerAction<AdminResetEmailCopy>,
) -> impl IntoView {
    let subject = RwSignal::new(view.subject.clone());
    let body = RwSignal::new(view.body.clone());
    // The preview follows the editor once typing pauses, not on every key.
    let settled = RwSignal::new((view.subject.clone(), view.body.clone()));
    let pending_timer = StoredValue::new(None::<TimeoutHandle>);
    Effect::new(move |_| {
        let typed = (subject.get(), body.get());
        if let Some(timer) = pending_timer.get_value() {
            timer.clear();
        }
        pending_timer.set_value(set_timeout_with_handle(move || settled.set(typed), PREVIEW_DELAY).ok());
    });
    let preview = {
        let (slug, kind) = (slug.clone(), kind.clone());
        Resource::new(
            move || settled.get(),
            move |(subject, body)| admin_preview_email(slug.clone(), kind.clone(), subject, body),
        )
    };
    let send_test = ServerAction::<AdminSendTestEmail>::new();
    let saved = outcome_message(save, |()| "Saved: registrants get this copy from now on.".to_owned());
    let tested = outcome_message(send_test, |message| message);
    let reset_done = outcome_message(reset, |()| "Back to the built-in copy.".to_owned());
    let target = match icp.as_str() {
        "" => "everyone without a variant".to_owned(),
        icp => format!("registrants with ?icp={icp}"),
    };
    let icp_link = |key: &str| format!("?kind={kind}&icp={key}");
    let (save_args, test_args) = ((slug.clone(), kind.clone(), icp.clone()), (slug.clone(), kind.clone()));
    let reset_args = (slug, kind.clone(), icp.clone());
    view! {
        <nav class="tabs icps">
            <span>"Copy for: "</span>
            <a href=icp_link("") class:active=icp.is_empty()>"Everyone"</a>
            {view
                .icps
                .iter()
                .map(|key| view! { <a href=icp_link(key) class:active=*key == icp>{format!("?icp={key}")}</a> })
                .collect_view()}
        </nav>
        <p class="hint">
            {format!("Editing the copy for {target}. ")}
            {if view.saved { "Custom copy is saved." } else { "The built-in copy is in use; saving replaces it." }}
        </p>
        <div class="email-editor">
            <div class="email-form">
                <div class="field">
                    <label for="subject">"Subject"</label>
                    <input id="subject" type="text" prop:value=move || subject.get() on:input=move |ev| subject.set(event_target_value(&ev))/>
                </div>
                <div class="field">
                    <label for="body">"Body (Markdown)"</label>
                    <textarea id="body" rows="14" prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))>
                        {crate::raw_text_safe(&view.body)}
                    </textarea>
                </div>
                <details class="variables" open>
                    <summary>"Variables"</summary>
                    <ul>
                        {view
                            .variables
                            .iter()
                            .map(|(name, meaning)| view! { <li><code>{format!("{{{{{name}}}}}")}</code>" — "{meaning.clone()}</li> })
                            .collect_view()}
                    </ul>
                </details>
                <div class="actions">
                    <button type="button" on:click=move |_| {
                        let (slug, kind, icp) = save_args.clone();
                        save.dispatch(AdminSaveEmailCopy { slug, kind, icp, subject: subject.get(), body: body.get() });
                    }>"Save"</button>
                    <button type="button" class="secondary" on:click=move |_| {
                        let (slug, kind) = test_args.clone();
                        send_test.dispatch(AdminSendTestEmail { slug, kind, subject: subject.get(), body: body.get() });
                    }>"Send test email to me"</button>
                    {view.saved.then(|| view! {
                        <button type="button" class="secondary" on:click=move |_| {
                            let (slug, kind, icp) = reset_args.clone();
                            reset.dispatch(AdminResetEmailCopy { slug, kind, icp });
                        }>"Back to built-in copy"</button>
                    })}
                </div>
                <p class="form-error" role="status" data-testid="email-saved">{saved}{tested}{reset_done}</p>
            </div>
            <div class="email-preview" data-testid="email-preview">
                <Suspense fallback=|| view! { <p class="loading">"Rendering…"</p> }>
                    {move || Suspend::new(async move {
                        match preview.await {
                            Ok(email) => view! {
                                <p class="subject"><strong>"Subject: "</strong>{email.subject}</p>
                                // No scripts, no same-origin access: the email is shown, never run.
                                <iframe title="HTML part" sandbox="" srcdoc=email.html></iframe>
                                <pre class="text-part">{email.text}</pre>
                            }.into_any(),
                            Err(error) => view! {
                                <p class="error">{error.to_string()}</p>
                                <ul class="field-errors">
                                    {match error { AppError::Invalid(fields) => fields, _ => Vec::new() }
                                        .into_iter()
                                        .map(|field| view! { <li>{format!("{}: {}", field.field, field.message)}</li> })
                                        .collect_view()}
                                </ul>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </div>
    }
}
