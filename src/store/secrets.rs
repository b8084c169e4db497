//! Keys the server keeps for itself in the database (`secrets`), shared by
//! every instance on it. Today one: the key that signs unsubscribe links
//! when `SECRET_KEY` is not set. There is no fixed fallback anywhere: the
//! first instance to start generates a random key, and every later start (and
//! every other instance) reads the same one, so links stay valid across
//! restarts and instances.
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "secrets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub value: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

const LINK_SIGNING_KEY: &str = "link_signing_key";
/// A configured `SECRET_KEY` shorter than this is refused: it could be guessed.
pub const MIN_CONFIGURED_CHARS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "SECRET_KEY must be at least {MIN_CONFIGURED_CHARS} characters (e.g. the output of `openssl rand -hex 32`)"
    )]
    TooShort,
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// Where the signing key came from, for the start-up log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    Configured,
    Stored,
    Generated,
}

/// The key that signs links: `configured` (`SECRET_KEY`) when given,
/// otherwise the one stored in the database, generated on first use.
pub async fn link_signing_key<C: ConnectionTrait>(
    db: &C,
    configured: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Vec<u8>, KeySource), SecretError> {
    if let Some(configured) = configured {
        if configured.chars().count() < MIN_CONFIGURED_CHARS {
            return Err(SecretError::TooShort);
        }
        return Ok((configured.as_bytes().to_vec(), KeySource::Configured));
    }
    if let Some(stored) = Entity::find_by_id(LINK_SIGNING_KEY).one(db).await? {
        return Ok((stored.value.into_bytes(), KeySource::Stored));
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let candidate =
        ActiveModel { name: Set(LINK_SIGNING_KEY.to_owned()), value: Set(hex::encode(bytes)), created_at: Set(now) };
    // Two instances starting at once: the first insert wins, both read it back.
    Entity::insert(candidate).on_conflict_do_nothing_on([Column::Name]).exec(db).await?;
    let stored = Entity::find_by_id(LINK_SIGNING_KEY)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the link signing key after storing it".into()))?;
    Ok((stored.value.into_bytes(), KeySource::Generated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::TestDatabase;

    #[tokio::test]
    async fn without_a_configured_key_one_random_key_is_kept_for_every_start() {
        for database in [TestDatabase::sqlite().expect("sqlite"), TestDatabase::postgres().await.expect("pg")] {
            let db = database.connect().await.expect("connect");
            let now = Utc::now();
            let (first, source) = link_signing_key(&db, None, now).await.expect("generated");
            assert_eq!(source, KeySource::Generated);
            assert_eq!(first.len(), 64, "256 bits, hex");
            let (again, source) = link_signing_key(&db, None, now).await.expect("stored");
            assert_eq!((again.clone(), source), (first.clone(), KeySource::Stored), "the same key after a restart");
            let other = TestDatabase::sqlite().expect("another installation");
            let (elsewhere, _) =
                link_signing_key(&other.connect().await.expect("connect"), None, now).await.expect("key");
            assert_ne!(elsewhere, first, "each installation has its own key");
            let (configured, source) = link_signing_key(&db, Some("a-configured-key-1234"), now).await.expect("set");
            assert_eq!((configured, source), (b"a-configured-key-1234".to_vec(), KeySource::Configured));
            assert!(matches!(link_signing_key(&db, Some("short"), now).await, Err(SecretError::TooShort)));
        }
    }
}
