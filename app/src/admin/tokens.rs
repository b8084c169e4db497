//! The admin's "API tokens" page: make a token for the admin API (its secret
//! is shown once, here), see when each was last used, revoke one.
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::{AdminHeader, outcome_message};
use crate::api::AppError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiTokenRow {
    pub id: i64,
    pub name: String,
    pub scope: String,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
}

/// A token just made, with its secret: the only time anyone sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewApiToken {
    pub name: String,
    pub secret: String,
}

#[server(prefix = "/api/fn", endpoint = "admin_api_tokens")]
pub async fn admin_api_tokens() -> Result<Vec<ApiTokenRow>, AppError> {
    crate::api::ssr::answered(ssr::tokens().await)
}

#[server(prefix = "/api/fn", endpoint = "admin_create_api_token")]
pub async fn admin_create_api_token(name: String, scope: String) -> Result<NewApiToken, AppError> {
    crate::api::ssr::answered(ssr::create(name, scope).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_revoke_api_token")]
pub async fn admin_revoke_api_token(id: i64) -> Result<(), AppError> {
    crate::api::ssr::answered(ssr::revoke(id).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use webinar::ActiveEnum;

    use super::*;
    use crate::admin::ssr::{TIME_SHOWN, admin};
    use crate::api::ssr::service;

    pub async fn tokens() -> Result<Vec<ApiTokenRow>, AppError> {
        admin().await?;
        let tokens = service()?.api_tokens().await?;
        Ok(tokens
            .into_iter()
            .map(|token| ApiTokenRow {
                id: token.id,
                scope: token.scope.to_value(),
                created: token.created_at.format(TIME_SHOWN).to_string(),
                last_used: token.last_used_at.map(|at| at.format(TIME_SHOWN).to_string()),
                revoked: token.revoked_at.map(|at| at.format(TIME_SHOWN).to_string()),
                name: token.name,
            })
            .collect())
    }

    pub async fn create(name: String, scope: String) -> Result<NewApiToken, AppError> {
        let admin = admin().await?;
        let created = service()?.create_api_token(&name, &scope).await?;
        tracing::info!(admin = admin.id, token = created.token.id, "API token made in the admin");
        Ok(NewApiToken { name: created.token.name, secret: created.secret })
    }

    pub async fn revoke(id: i64) -> Result<(), AppError> {
        admin().await?;
        Ok(service()?.revoke_api_token(id).await?)
    }
}

#[component]
pub fn ApiTokensPage() -> impl IntoView {
    let create = ServerAction::<AdminCreateApiToken>::new();
    let revoke = ServerAction::<AdminRevokeApiToken>::new();
    let revoked = outcome_message(revoke, |()| "Revoked: programs using that token are refused from now on.".into());
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| admin_api_tokens());
    let made = move || match create.value().get() {
        Some(Ok(token)) => Some(token),
        _ => None,
    };
    let create_error = move || match create.value().get() {
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    };
    view! {
        <Title text="API tokens — admin"/>
        <section class="admin">
            <AdminHeader title="API tokens"/>
            <p>
                "Programs (your CRM, automation, reports) use the admin API at "
                <code>"/api/v1"</code>
                " with a token: "
                <code>"Authorization: Bearer wbt_…"</code>
                ". A read token may only read. The API is described at "
                <a href="/api/openapi.json">"/api/openapi.json"</a>
                "."
            </p>
            <ActionForm action=create attr:class="token-form">
                <div class="field">
                    <label for="token-name">"What uses it"</label>
                    <input id="token-name" name="name" placeholder="CRM sync" maxlength="100" required/>
                </div>
                <div class="field">
                    <label for="token-scope">"Scope"</label>
                    <select id="token-scope" name="scope">
                        <option value="read">"read (GET only)"</option>
                        <option value="write">"write (everything)"</option>
                    </select>
                </div>
                <p class="form-error" role="alert">{create_error}</p>
                <button type="submit" disabled=move || create.pending().get()>"Make token"</button>
            </ActionForm>
            {move || {
                made()
                    .map(|token| {
                        view! {
                            <div class="notice new-token" role="status">
                                <p>{format!("Token “{}” made. Copy it now: it is not shown again.", token.name)}</p>
                                <code data-testid="new-token">{token.secret}</code>
                            </div>
                        }
                    })
            }}
            <p class="notice" role="status" data-testid="revoked">{revoked}</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(rows) => view! { <TokenTable rows revoke/> }.into_any(),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn TokenTable(rows: Vec<ApiTokenRow>, revoke: ServerAction<AdminRevokeApiToken>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p>"No tokens yet."</p> }.into_any();
    }
    view! {
        <table class="admin-table" data-testid="api-tokens">
            <thead>
                <tr>
                    <th>"Name"</th>
                    <th>"Scope"</th>
                    <th>"Made"</th>
                    <th>"Last used"</th>
                    <th>"State"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|row| {
                        let id = row.id;
                        let live = row.revoked.is_none();
                        view! {
                            <tr>
                                <td>{row.name}</td>
                                <td>{row.scope}</td>
                                <td>{row.created}</td>
                                <td>{row.last_used.unwrap_or_else(|| "never".into())}</td>
                                <td>{row.revoked.map_or_else(|| "live".into(), |at| format!("revoked {at}"))}</td>
                                <td>
                                    {live
                                        .then(|| {
                                            view! {
                                                <button type="button" class="secondary" on:click=move |_| {
                                                    revoke.dispatch(AdminRevokeApiToken { id });
                                                }>"Revoke"</button>
                                            }
                                        })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
