//! API tokens: what a program shows in `Authorization: Bearer …` to use the
//! admin API. The token is shown once, when it is made; only its SHA-256 is
//! stored (a token is 256 random bits, so a fast hash is enough), so a copy
//! of the database authenticates no one. A `read` token may only read.
use chrono::{DateTime, Duration, Utc};
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, sea_query::Expr};
use serde::{Deserialize, Serialize};

use crate::admin::hash_token;
use crate::error::{DomainError, FieldError};

/// Every token starts so, which lets secret scanners and people tell it apart.
pub const PREFIX: &str = "wbt_";
const RANDOM_CHARS: usize = 43; // ≈ 256 bits of alphanumerics
const NAME_MAX_CHARS: usize = 100;
/// `last_used_at` is written at most this often per token, so reading
/// through the API is not a write per request.
const LAST_USED_GRANULARITY: Duration = Duration::minutes(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// GET only.
    #[sea_orm(string_value = "read")]
    Read,
    /// Everything.
    #[sea_orm(string_value = "write")]
    Write,
}

impl Scope {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw.trim() {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            _ => Err(FieldError::new("scope", "Choose read (GET only) or write (everything).")),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub scope: Scope,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A token just made: its row, and the secret, which is never shown again.
#[derive(Clone, Debug)]
pub struct Created {
    pub token: Model,
    pub secret: String,
}

pub async fn create<C: ConnectionTrait>(
    db: &C,
    name: &str,
    scope: Scope,
    now: DateTime<Utc>,
) -> Result<Created, DomainError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        let message = "Name the token after what uses it (1 to 100 characters, one line), e.g. CRM sync.";
        return Err(DomainError::Invalid(vec![FieldError::new("name", message)]));
    }
    let secret = format!("{PREFIX}{}", Alphanumeric.sample_string(&mut rand::rng(), RANDOM_CHARS));
    let row = ActiveModel {
        name: Set(name.to_owned()),
        scope: Set(scope),
        token_hash: Set(hash_token(&secret)),
        created_at: Set(now),
        ..Default::default()
    };
    let token = Entity::insert(row).exec_with_returning(db).await?;
    Ok(Created { token, secret })
}

/// The live (not revoked) token `secret` is, noting that it was used.
pub async fn authenticate<C: ConnectionTrait>(
    db: &C,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<Model>, DbErr> {
    if !secret.starts_with(PREFIX) || secret.len() != PREFIX.len() + RANDOM_CHARS {
        return Ok(None);
    }
    let found = Entity::find()
        .filter(Column::TokenHash.eq(hash_token(secret)))
        .filter(Column::RevokedAt.is_null())
        .one(db)
        .await?;
    let Some(token) = found else { return Ok(None) };
    if token.last_used_at.is_none_or(|used| now - used >= LAST_USED_GRANULARITY) {
        // Bookkeeping: a request is not refused because its note could not be written.
        let noted = Entity::update_many()
            .col_expr(Column::LastUsedAt, Expr::value(now))
            .filter(Column::Id.eq(token.id))
            .exec(db)
            .await;
        if let Err(error) = noted {
            tracing::warn!(token = token.id, %error, "could not note an API token's use");
        }
    }
    Ok(Some(token))
}

/// Every token, newest first, revoked ones included (they show when they stopped).
pub async fn all<C: ConnectionTrait>(db: &C) -> Result<Vec<Model>, DbErr> {
    Entity::find().order_by_desc(Column::Id).all(db).await
}

/// Revokes a token for good; false when there is no such live token.
pub async fn revoke<C: ConnectionTrait>(db: &C, id: i64, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let revoked = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(revoked.rows_affected > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_from_their_names_only() {
        assert_eq!(Scope::parse(" read "), Ok(Scope::Read));
        assert_eq!(Scope::parse("write"), Ok(Scope::Write));
        assert_eq!(Scope::parse("admin").map_err(|error| error.field), Err("scope".to_owned()));
    }
}
