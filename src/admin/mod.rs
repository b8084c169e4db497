//! Admin access: accounts with argon2 password hashes, and sessions.
//! Logging in answers the same way (and takes as long) for an unknown email
//! as for a wrong password.
pub mod account;
mod console;
mod login_budget;
pub mod session;

pub use console::{CopyDraft, Mail, QueueView, SAMPLE_NAME};
pub use login_budget::LoginBudget;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Duration, Utc};
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use crate::email_address::EmailAddress;
use crate::registration::count as registration_count;
use crate::{queue, webinar};

/// How long a login lasts.
pub const SESSION_LENGTH: Duration = Duration::hours(12);
const TOKEN_LEN: usize = 43; // ≈ 256 bits of alphanumerics
const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("Enter a valid email address, like name@example.com.")]
    InvalidEmail,
    #[error("Choose a password of at least {MIN_PASSWORD_CHARS} characters.")]
    WeakPassword,
    #[error("An admin with this email already exists.")]
    Exists,
    /// Unknown email or wrong password: deliberately the same.
    #[error("The email or password is not correct.")]
    BadCredentials,
    /// This account's login budget is spent (whether or not it exists).
    #[error("Too many attempts for this account — try again in {retry_after_seconds} s.")]
    TooManyAttempts { retry_after_seconds: u64 },
    #[error("hashing the password failed: {0}")]
    Hashing(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// A logged-in admin, and the cookie value that proves it.
#[derive(Clone, Debug)]
pub struct Login {
    pub admin: account::Model,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// SHA-256 in hex: how session and API tokens are stored.
pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn hash_password(password: &str) -> Result<String, AdminError> {
    let hash = Argon2::default().hash_password(password.as_bytes()).map_err(|e| AdminError::Hashing(e.to_string()))?;
    Ok(hash.to_string())
}

pub async fn create<C: ConnectionTrait>(
    db: &C,
    email: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<account::Model, AdminError> {
    let email = EmailAddress::parse(email).map_err(|_| AdminError::InvalidEmail)?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AdminError::WeakPassword);
    }
    if account::Entity::find().filter(account::Column::Email.eq(email.key())).one(db).await?.is_some() {
        return Err(AdminError::Exists);
    }
    let admin = account::ActiveModel {
        email: Set(email.key()),
        password_hash: Set(hash_password(password)?),
        created_at: Set(now),
        ..Default::default()
    };
    Ok(account::Entity::insert(admin).exec_with_returning(db).await?)
}

/// Checks the credentials and opens a session.
pub async fn log_in<C: ConnectionTrait>(
    db: &C,
    email: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<Login, AdminError> {
    let key = EmailAddress::parse(email).map(|email| email.key()).ok();
    let found = match key {
        Some(key) => account::Entity::find().filter(account::Column::Email.eq(key)).one(db).await?,
        None => None,
    };
    // Without an account, verify against a throwaway hash anyway: the answer
    // takes as long as a wrong password does.
    let hash = match &found {
        Some(admin) => admin.password_hash.clone(),
        None => unknown_account_hash()?,
    };
    let verified = verify_off_the_runtime(password, hash).await;
    let admin = found.filter(|_| verified).ok_or(AdminError::BadCredentials)?;
    let token = Alphanumeric.sample_string(&mut rand::rng(), TOKEN_LEN);
    let expires_at = now + SESSION_LENGTH;
    let session = session::ActiveModel {
        admin_id: Set(admin.id),
        token_hash: Set(hash_token(&token)),
        expires_at: Set(expires_at),
        created_at: Set(now),
        ..Default::default()
    };
    session::Entity::insert(session).exec(db).await?;
    Ok(Login { admin, token, expires_at })
}

/// Password hashes running at once: half the cores (at least one), so a
/// burst of logins leaves the other half to serve pages.
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        tokio::sync::Semaphore::new((cores / 2).max(1))
    })
}

/// Argon2 is deliberately slow (tens of milliseconds of CPU): it runs on a
/// blocking thread, a bounded number at a time, never on the threads that
/// answer requests.
async fn verify_off_the_runtime(password: &str, hash: String) -> bool {
    let Ok(_slot) = hashing_slots().acquire().await else { return false };
    let password = password.to_owned();
    let verify = move || Argon2::default().verify_password(password.as_bytes(), hash.as_str()).is_ok();
    tokio::task::spawn_blocking(verify).await.unwrap_or(false)
}

fn unknown_account_hash() -> Result<String, AdminError> {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(hash) = HASH.get() {
        return Ok(hash.clone());
    }
    let hash = hash_password(&Alphanumeric.sample_string(&mut rand::rng(), 32))?;
    Ok(HASH.get_or_init(|| hash).clone())
}

/// The admin a session token belongs to, while the session lasts.
pub async fn authenticate<C: ConnectionTrait>(
    db: &C,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<account::Model>, DbErr> {
    let found = session::Entity::find()
        .filter(session::Column::TokenHash.eq(hash_token(token)))
        .filter(session::Column::ExpiresAt.gt(now))
        .find_also_related(account::Entity)
        .one(db)
        .await?;
    Ok(found.and_then(|(_, admin)| admin))
}

/// Ends a session (logging out); also sweeps expired ones.
pub async fn log_out<C: ConnectionTrait>(db: &C, token: &str, now: DateTime<Utc>) -> Result<(), DbErr> {
    session::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(session::Column::TokenHash.eq(hash_token(token)))
                .add(session::Column::ExpiresAt.lte(now)),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// One row of the admin's webinar list.
#[derive(Clone, Debug)]
pub struct WebinarSummary {
    pub webinar: webinar::Model,
    /// In start order.
    pub sessions: Vec<crate::session::Model>,
    /// Registrations per session id (absent: none).
    pub session_registrations: std::collections::HashMap<i64, u64>,
    pub registrations: u64,
    pub emails_sent: u64,
    /// Pending or being sent.
    pub emails_pending: u64,
    pub emails_dead: u64,
}

impl WebinarSummary {
    /// The webinar's next start in its zone, and how many more sessions it has.
    pub fn next_start_local(&self, now: DateTime<Utc>) -> String {
        let Some(next) = crate::session::representative(&self.sessions, now) else { return String::new() };
        let start = next.start_local(self.webinar.tz());
        match self.sessions.len() {
            0 | 1 => start,
            sessions => format!("{start} (+{} more sessions)", sessions - 1),
        }
    }
}

/// Every webinar, the one with the latest session first, with its sessions,
/// registrations and email states.
pub async fn overview<C: ConnectionTrait>(db: &C) -> Result<Vec<WebinarSummary>, DbErr> {
    let webinars = webinar::Entity::find().all(db).await?;
    let ids: Vec<i64> = webinars.iter().map(|webinar| webinar.id).collect();
    let mut sessions = crate::session::of_webinars(db, ids.iter().copied()).await?;
    let per_session = registration_count::by_session(db, ids).await?;
    let mut summaries: Vec<WebinarSummary> = webinars
        .into_iter()
        .map(|webinar| {
            let sessions = sessions.remove(&webinar.id).unwrap_or_default();
            let session_registrations: std::collections::HashMap<i64, u64> = sessions
                .iter()
                .filter_map(|session| per_session.get(&session.id).map(|count| (session.id, *count)))
                .collect();
            WebinarSummary {
                registrations: session_registrations.values().sum(),
                session_registrations,
                sessions,
                webinar,
                emails_sent: 0,
                emails_pending: 0,
                emails_dead: 0,
            }
        })
        .collect();
    let latest = |summary: &WebinarSummary| summary.sessions.last().map(|session| session.starts_at);
    summaries.sort_by(|a, b| latest(b).cmp(&latest(a)).then(b.webinar.id.cmp(&a.webinar.id)));
    for (webinar_id, status, count) in queue::counts_by_webinar_and_status(db).await? {
        let Some(summary) = summaries.iter_mut().find(|summary| summary.webinar.id == webinar_id) else { continue };
        match status {
            queue::Status::Sent => summary.emails_sent += count,
            queue::Status::Pending => summary.emails_pending += count,
            queue::Status::Dead => summary.emails_dead += count,
            queue::Status::Cancelled | queue::Status::Suppressed => {}
        }
    }
    Ok(summaries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_as_hashes() {
        let hash = hash_token("secret-token");
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, "secret-token");
        assert_eq!(hash, hash_token("secret-token"));
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(Argon2::default().verify_password(b"correct horse battery", hash.as_str()).is_ok());
        assert!(Argon2::default().verify_password(b"wrong", hash.as_str()).is_err());
    }
}
