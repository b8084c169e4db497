//! Create and edit a webinar, its ICP variants, publish it, and preview its
//! page as a visitor would see it.
#![allow(clippy::too_many_arguments)]
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

use super::sessions::{SessionActions, SessionRowView, Sessions};
use super::{WebinarHeader, outcome_message};
use crate::api::{AppError, LandingView};
use crate::landing::Landing;

/// The editor's form as stored, plus what the page needs around it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EditorView {
    /// `None` for a new webinar.
    pub slug: Option<String>,
    pub status: String,
    pub fields: FormFields,
    pub variants: Vec<VariantView>,
    /// Empty for a new webinar.
    pub sessions: Vec<SessionRowView>,
    pub timezones: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FormFields {
    pub slug: String,
    pub title: String,
    pub subtitle: String,
    pub description: String,
    pub speakers: String,
    pub agenda: String,
    pub starts_local: String,
    pub timezone: String,
    pub duration_minutes: String,
    pub join_url: String,
    pub capacity: String,
    pub status: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantView {
    pub icp: String,
    pub headline: String,
    pub intro: String,
}

#[server(prefix = "/api/fn", endpoint = "admin_webinar")]
pub async fn admin_webinar(slug: Option<String>) -> Result<EditorView, AppError> {
    crate::api::ssr::answered(ssr::editor_view(slug).await)
}

/// Creates (`original` empty) or updates the webinar `original`.
#[server(prefix = "/api/fn", endpoint = "admin_save_webinar")]
pub async fn admin_save_webinar(
    original: String,
    slug: String,
    title: String,
    subtitle: String,
    description: String,
    speakers: String,
    agenda: String,
    starts_local: String,
    timezone: String,
    duration_minutes: String,
    join_url: String,
    capacity: String,
    status: String,
    confirm: Option<String>,
) -> Result<String, AppError> {
    let form = webinar::webinar::editor::WebinarForm {
        slug,
        title,
        subtitle,
        description,
        speakers,
        agenda,
        starts_local,
        timezone,
        duration_minutes,
        join_url,
        capacity,
        status,
        starts_at: String::new(),
    };
    crate::api::ssr::answered(ssr::save(original, form, confirm.is_some()).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_publish")]
pub async fn admin_publish(slug: String) -> Result<String, AppError> {
    crate::api::ssr::answered(ssr::publish(slug).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_save_variant")]
pub async fn admin_save_variant(webinar: String, icp: String, headline: String, intro: String) -> Result<(), AppError> {
    crate::api::ssr::answered(ssr::save_variant(webinar, icp, headline, intro).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_delete_variant")]
pub async fn admin_delete_variant(webinar: String, icp: String) -> Result<(), AppError> {
    crate::api::ssr::answered(ssr::delete_variant(webinar, icp).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_preview")]
pub async fn admin_preview(slug: String, icp: Option<String>) -> Result<LandingView, AppError> {
    crate::api::ssr::answered(ssr::preview(slug, icp).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use webinar::webinar::editor::WebinarForm;

    use super::*;
    use crate::admin::ssr::admin;
    use crate::api::ssr::{landing_view, service};

    pub async fn editor_view(slug: Option<String>) -> Result<EditorView, AppError> {
        admin().await?;
        let service = service()?;
        let (slug, form, variants, sessions) = match slug.filter(|slug| !slug.is_empty()) {
            Some(slug) => {
                let (webinar, variants) = service.admin_webinar(&slug).await?;
                let form = service.webinar_form(&webinar).await?;
                let sessions = crate::admin::sessions::ssr::rows(&webinar).await?;
                (Some(webinar.slug.clone()), form, variants, sessions)
            }
            None => (None, WebinarForm::blank(service.now()), Vec::new(), Vec::new()),
        };
        Ok(EditorView {
            slug,
            status: form.status.clone(),
            fields: FormFields {
                slug: form.slug,
                title: form.title,
                subtitle: form.subtitle,
                description: form.description,
                speakers: form.speakers,
                agenda: form.agenda,
                starts_local: form.starts_local,
                timezone: form.timezone,
                duration_minutes: form.duration_minutes,
                join_url: form.join_url,
                capacity: form.capacity,
                status: form.status,
            },
            variants: variants
                .into_iter()
                .map(|variant| VariantView { icp: variant.icp, headline: variant.headline, intro: variant.intro })
                .collect(),
            sessions,
            timezones: webinar::webinar::editor::time_zones().into_iter().map(str::to_owned).collect(),
        })
    }

    pub async fn save(original: String, form: WebinarForm, confirmed: bool) -> Result<String, AppError> {
        admin().await?;
        let saved = match original.as_str() {
            "" => service()?.create_webinar(&form).await?,
            slug => service()?.update_webinar(slug, &form, confirmed).await?,
        };
        if saved.webinar.slug != original {
            leptos_axum::redirect(&format!("/admin/webinars/{}", saved.webinar.slug));
        }
        Ok(saved.message)
    }

    pub async fn publish(slug: String) -> Result<String, AppError> {
        admin().await?;
        let webinar = service()?.publish_webinar(&slug).await?;
        Ok(format!("Published: /webinars/{} is live.", webinar.slug))
    }

    pub async fn save_variant(webinar: String, icp: String, headline: String, intro: String) -> Result<(), AppError> {
        admin().await?;
        Ok(service()?.save_icp_variant(&webinar, &icp, &headline, &intro).await?)
    }

    pub async fn delete_variant(webinar: String, icp: String) -> Result<(), AppError> {
        admin().await?;
        Ok(service()?.delete_icp_variant(&webinar, &icp).await?)
    }

    pub async fn preview(slug: String, icp: Option<String>) -> Result<LandingView, AppError> {
        admin().await?;
        Ok(landing_view(service()?.preview_landing(&slug, icp.as_deref()).await?))
    }
}

#[component]
pub fn WebinarEditorPage() -> impl IntoView {
    let params = use_params_map();
    let save = ServerAction::<AdminSaveWebinar>::new();
    let publish = ServerAction::<AdminPublish>::new();
    let save_variant = ServerAction::<AdminSaveVariant>::new();
    let delete_variant = ServerAction::<AdminDeleteVariant>::new();
    let sessions = SessionActions::default();
    let editor = Resource::new(
        move || {
            (
                params.read().get("slug"),
                save.version().get(),
                publish.version().get(),
                save_variant.version().get(),
                delete_variant.version().get(),
                sessions.versions(),
            )
        },
        |(slug, ..)| admin_webinar(slug),
    );
    view! {
        <Title text="Edit webinar — admin"/>
        <section class="admin">
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match editor.await {
                        Ok(view) => {
                            view! { <Editor view save publish save_variant delete_variant sessions/> }.into_any()
                        }
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Editor(
    view: EditorView,
    save: ServerAction<AdminSaveWebinar>,
    publish: ServerAction<AdminPublish>,
    save_variant: ServerAction<AdminSaveVariant>,
    delete_variant: ServerAction<AdminDeleteVariant>,
    sessions: SessionActions,
) -> impl IntoView {
    let fields = view.fields.clone();
    let original = view.slug.clone().unwrap_or_default();
    let needs_confirmation = move || matches!(save.value().get(), Some(Err(AppError::NeedsConfirmation(_))));
    let error_for = move |field: &'static str| move || save.value().get().and_then(|result| result.err()?.field(field));
    let saved = outcome_message(save, |message| message);
    let published = outcome_message(publish, |message| message);
    let zones = view.timezones.clone();
    let statuses = [("draft", "Draft (not public)"), ("published", "Published"), ("cancelled", "Cancelled")];
    let header = match view.slug.clone() {
        Some(slug) => view! { <WebinarHeader slug title="Edit webinar"/> }.into_any(),
        None => view! {
            <header class="admin-header">
                <p class="crumbs"><a href="/admin">"← All webinars"</a></p>
                <h1>"New webinar"</h1>
            </header>
        }
        .into_any(),
    };
    let text = move |name: &'static str, label: &'static str, value: String, hint: &'static str| {
        view! {
            <div class="field">
                <label for=name>{label}</label>
                <input id=name name=name type="text" value=value/>
                <small>{hint}</small>
                <span class="field-error" data-testid=format!("{name}-error")>{error_for(name)}</span>
            </div>
        }
    };
    let area = move |name: &'static str, label: &'static str, value: String, hint: &'static str| {
        view! {
            <div class="field">
                <label for=name>{label}</label>
                <textarea id=name name=name rows="5">{crate::raw_text_safe(&value)}</textarea>
                <small>{hint}</small>
                <span class="field-error" data-testid=format!("{name}-error")>{error_for(name)}</span>
            </div>
        }
    };
    view! {
        {header}
        {view.slug.clone().filter(|_| view.status == "draft").map(|slug| view! {
            <ActionForm action=publish attr:class="publish">
                <input type="hidden" name="slug" value=slug/>
                <p>"This webinar is a draft: only admins can see it."</p>
                <button type="submit">"Publish now"</button>
            </ActionForm>
        })}
        <p class="notice" role="status" data-testid="published">{published}</p>
        <ActionForm action=save attr:class="editor">
            <input type="hidden" name="original" value=original/>
            {text("slug", "Address", fields.slug, "The page lives at /webinars/<address>.")}
            {text("title", "Title", fields.title, "")}
            {text("subtitle", "Subtitle", fields.subtitle, "One line under the title.")}
            {area("description", "Description", fields.description, "Markdown: **bold**, _italic_, [links](https://…), lists.")}
            {area("speakers", "Speakers", fields.speakers, "One a line: Name | Title | https://photo (photo optional).")}
            {area("agenda", "Agenda", fields.agenda, "One item a line: 17:05 | What happens (time optional).")}
            <div class="row">
                <div class="field">
                    <label for="starts_local">"Starts"</label>
                    <input id="starts_local" name="starts_local" type="datetime-local" value=fields.starts_local/>
                    <span class="field-error" data-testid="starts_at-error">{error_for("starts_at")}</span>
                </div>
                <div class="field">
                    <label for="timezone">"Time zone"</label>
                    <select id="timezone" name="timezone">
                        {zones
                            .into_iter()
                            .map(|zone| {
                                let selected = zone == fields.timezone;
                                view! { <option value=zone.clone() selected=selected>{zone.clone()}</option> }
                            })
                            .collect_view()}
                    </select>
                    <span class="field-error">{error_for("timezone")}</span>
                </div>
            </div>
            <div class="row">
                {text("duration_minutes", "Duration (minutes)", fields.duration_minutes, "")}
                {text("capacity", "Capacity", fields.capacity, "Empty for no limit.")}
            </div>
            {text("join_url", "Join URL", fields.join_url, "The meeting link registrants are sent to.")}
            <div class="field">
                <label for="status">"Status"</label>
                <select id="status" name="status">
                    {statuses
                        .into_iter()
                        .map(|(value, label)| view! { <option value=value selected=value == fields.status>{label}</option> })
                        .collect_view()}
                </select>
                <span class="field-error">{error_for("status")}</span>
            </div>
            <Show when=needs_confirmation>
                <label class="confirm">
                    <input type="checkbox" name="confirm" value="yes"/>
                    " Yes, email the registrants"
                </label>
            </Show>
            <p class="form-error" role="status" data-testid="saved">{saved}</p>
            <button type="submit" disabled=move || save.pending().get()>"Save"</button>
        </ActionForm>
        {view.slug.clone().map(|slug| view! { <Sessions slug rows=view.sessions.clone() actions=sessions/> })}
        {view.slug.clone().map(|slug| view! { <Variants slug variants=view.variants.clone() save_variant delete_variant/> })}
    }
}

/// Per-ICP headline and intro, and links to preview each.
#[component]
fn Variants(
    slug: String,
    variants: Vec<VariantView>,
    save_variant: ServerAction<AdminSaveVariant>,
    delete_variant: ServerAction<AdminDeleteVariant>,
) -> impl IntoView {
    let saved = outcome_message(save_variant, |()| "Variant saved.".to_owned());
    let preview_base = format!("/admin/webinars/{slug}/preview");
    let preview = move |icp: Option<&str>| match icp {
        Some(icp) => format!("{preview_base}?icp={icp}"),
        None => preview_base.clone(),
    };
    let page_preview = preview(None);
    view! {
        <section class="variants">
            <h2>"ICP variants"</h2>
            <p>
                "A visitor whose link ends in ?icp=<key> sees this headline and intro instead. "
                <a href=page_preview target="_blank">"Preview the page"</a>
            </p>
            {variants
                .into_iter()
                .map(|variant| {
                    let preview_url = preview(Some(&variant.icp));
                    let (save_slug, delete_slug) = (slug.clone(), slug.clone());
                    let (save_icp, delete_icp) = (variant.icp.clone(), variant.icp.clone());
                    let heading = format!("?icp={}", variant.icp);
                    view! {
                        <div class="variant" data-icp=variant.icp>
                            <ActionForm action=save_variant>
                                <input type="hidden" name="webinar" value=save_slug/>
                                <input type="hidden" name="icp" value=save_icp/>
                                <h3>{heading}</h3>
                                <label>"Headline" <input name="headline" type="text" value=variant.headline/></label>
                                <label>"Intro" <textarea name="intro" rows="2">{crate::raw_text_safe(&variant.intro)}</textarea></label>
                                <button type="submit">"Save variant"</button>
                                <a href=preview_url target="_blank">"Preview"</a>
                            </ActionForm>
                            <ActionForm action=delete_variant>
                                <input type="hidden" name="webinar" value=delete_slug/>
                                <input type="hidden" name="icp" value=delete_icp/>
                                <button type="submit" class="secondary">"Delete"</button>
                            </ActionForm>
                        </div>
                    }
                })
                .collect_view()}
            <ActionForm action=save_variant attr:class="variant new-variant">
                <input type="hidden" name="webinar" value=slug/>
                <h3>"Add a variant"</h3>
                <label>"ICP key" <input name="icp" type="text" placeholder="security-leads"/></label>
                <label>"Headline" <input name="headline" type="text"/></label>
                <label>"Intro" <textarea name="intro" rows="2"></textarea></label>
                <button type="submit">"Add variant"</button>
            </ActionForm>
            <p class="form-error" role="status" data-testid="variant-saved">{saved}</p>
        </section>
    }
}

/// The page as a visitor sees it (drafts too), in an ICP's copy with `?icp=`.
#[component]
pub fn PreviewPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let page = Resource::new(
        move || (params.read().get("slug").unwrap_or_default(), query.read().get("icp")),
        |(slug, icp)| admin_preview(slug, icp),
    );
    view! {
        <Title text="Preview — admin"/>
        <p class="preview-banner">"Preview: this is what visitors see. Registration is disabled here."</p>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(view) => view! { <Landing view preview=true/> }.into_any(),
                    Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}
