//! `Idempotency-Key`: a create retried with the same key and body within
//! [`KEPT_FOR`] gets the first answer again and writes nothing new; the same
//! key with another body is refused.
//!
//! The key is reserved in the transaction that does the work, and its answer
//! is written there too, so a retry sees either nothing (the first attempt
//! failed or is still running, and the database makes it wait on the unique
//! key until that attempt ends) or the answer that was committed, never a
//! half-done create.
use chrono::{DateTime, Duration, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sha2::{Digest, Sha256};

use crate::error::FieldError;

/// How long a key's answer is kept.
pub const KEPT_FOR: Duration = Duration::hours(24);
const KEY_MAX_CHARS: usize = 255;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotent_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Keys are per token: two programs cannot collide on one.
    pub token_id: i64,
    pub key: String,
    /// SHA-256 of the method, path and body the key was first used with.
    pub fingerprint: String,
    pub status: i32,
    pub body: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A request that carries a key.
#[derive(Clone, Debug)]
pub struct Keyed {
    token_id: i64,
    key: String,
    fingerprint: String,
}

impl Keyed {
    /// The key as sent, checked; `request` is what it must be used with again
    /// (method, path and body).
    pub fn new(token_id: i64, key: &str, request: &[&[u8]]) -> Result<Self, FieldError> {
        let key = key.trim();
        if key.is_empty() || key.chars().count() > KEY_MAX_CHARS || !key.chars().all(|c| c.is_ascii_graphic()) {
            let message = "Send 1 to 255 visible ASCII characters as the Idempotency-Key, e.g. a UUID.";
            return Err(FieldError::new("Idempotency-Key", message));
        }
        let mut digest = Sha256::new();
        for part in request {
            // Length-prefixed, so the parts cannot shift into each other.
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part);
        }
        let fingerprint = hex::encode(digest.finalize());
        Ok(Self { token_id, key: key.to_owned(), fingerprint })
    }
}

/// An answer as it went out: the status code and the JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// What a key says before the work is done.
#[derive(Debug, PartialEq, Eq)]
pub enum Reservation {
    /// First use: do the work, then [`record`] its answer.
    New,
    /// Used before with this request: its answer.
    Replay(Answer),
    /// Used before with another request.
    Mismatch,
}

/// Reserves the key inside `txn` (waiting for another attempt with the same
/// key to end), dropping answers older than [`KEPT_FOR`] first.
pub async fn reserve<C: ConnectionTrait>(txn: &C, keyed: &Keyed, now: DateTime<Utc>) -> Result<Reservation, DbErr> {
    Entity::delete_many().filter(Column::CreatedAt.lt(now - KEPT_FOR)).exec(txn).await?;
    let row = ActiveModel {
        token_id: Set(keyed.token_id),
        key: Set(keyed.key.clone()),
        fingerprint: Set(keyed.fingerprint.clone()),
        status: Set(0),
        body: Set(String::new()),
        created_at: Set(now),
        ..Default::default()
    };
    let inserted = Entity::insert(row)
        .on_conflict(OnConflict::columns([Column::TokenId, Column::Key]).do_nothing().to_owned())
        .exec_without_returning(txn)
        .await?;
    if inserted > 0 {
        return Ok(Reservation::New);
    }
    let first = Entity::find()
        .filter(Column::TokenId.eq(keyed.token_id))
        .filter(Column::Key.eq(&keyed.key))
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("idempotent request".into()))?;
    Ok(match first.fingerprint == keyed.fingerprint {
        true => Reservation::Replay(Answer { status: first.status.unsigned_abs() as u16, body: first.body }),
        false => Reservation::Mismatch,
    })
}

/// Keeps the answer of a [`Reservation::New`] key, in the same transaction.
pub async fn record<C: ConnectionTrait>(txn: &C, keyed: &Keyed, answer: &Answer) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::Status, Expr::value(i32::from(answer.status)))
        .col_expr(Column::Body, Expr::value(answer.body.clone()))
        .filter(Column::TokenId.eq(keyed.token_id))
        .filter(Column::Key.eq(&keyed.key))
        .exec(txn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_tied_to_its_request() {
        let first = Keyed::new(1, "abc", &[b"POST", b"/api/v1/webinars", b"{}"]).expect("valid");
        let again = Keyed::new(1, " abc ", &[b"POST", b"/api/v1/webinars", b"{}"]).expect("valid");
        let other = Keyed::new(1, "abc", &[b"POST", b"/api/v1/webinars", b"{ }"]).expect("valid");
        let shifted = Keyed::new(1, "abc", &[b"POST", b"/api/v1/webinars{", b"}"]).expect("valid");
        assert_eq!(first.fingerprint, again.fingerprint);
        assert_ne!(first.fingerprint, other.fingerprint);
        assert_ne!(first.fingerprint, shifted.fingerprint);
    }

    #[test]
    fn odd_keys_are_refused() {
        for bad in ["", "   ", "a b", "ключ", &"k".repeat(256)] {
            assert!(Keyed::new(1, bad, &[]).is_err(), "{bad:?}");
        }
    }
}
