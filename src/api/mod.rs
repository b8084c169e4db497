//! The admin API's side of the domain: its tokens ([`token`]), idempotent
//! creates ([`idempotency`]), webhooks ([`webhooks`]),
//! and what it does with webinars ([`webinars`]) and registrations
//! ([`registrations`]), as [`Service`] methods the server's `/api/v1`
//! handlers call.
pub mod idempotency;
pub mod registrations;
pub mod sessions;
pub mod token;
pub mod webhooks;
pub mod webinars;

use crate::{DomainError, FieldError, Service};

impl Service {
    /// A new token; its secret is in the answer and nowhere else.
    pub async fn create_api_token(&self, name: &str, scope: &str) -> Result<token::Created, DomainError> {
        let scope = token::Scope::parse(scope);
        let created = match scope {
            Ok(scope) => token::create(self.db(), name, scope, self.now()).await,
            Err(error) => Err(DomainError::Invalid(vec![error])),
        }?;
        tracing::info!(token = created.token.id, scope = ?created.token.scope, "API token created");
        Ok(created)
    }

    pub async fn api_tokens(&self) -> Result<Vec<token::Model>, DomainError> {
        Ok(token::all(self.db()).await?)
    }

    pub async fn revoke_api_token(&self, id: i64) -> Result<(), DomainError> {
        match token::revoke(self.db(), id, self.now()).await? {
            true => {
                tracing::info!(token = id, "API token revoked");
                Ok(())
            }
            false => Err(DomainError::Invalid(vec![FieldError::new("id", "No live token has this id.")])),
        }
    }

    /// The live token a request's bearer secret is.
    pub async fn api_token(&self, secret: &str) -> Result<Option<token::Model>, DomainError> {
        Ok(token::authenticate(self.db(), secret, self.now()).await?)
    }
}
