//! SendGrid's signed Event Webhook: each request carries an ECDSA P-256
//! signature (SHA-256, DER, base64) over the timestamp header followed by
//! the raw body, checked against the public key SendGrid shows for the
//! account (base64 DER). A request more than [`MAX_SKEW`] away from our
//! clock is refused too, so a captured request cannot be replayed later.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;

/// How far a request's timestamp may be from now.
pub const MAX_SKEW: Duration = Duration::minutes(5);

/// The account's event webhook verification key.
#[derive(Clone, Debug)]
pub struct EventKey(VerifyingKey);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SENDGRID_WEBHOOK_PUBLIC_KEY is not a base64 DER P-256 public key, as SendGrid shows it: {0}")]
pub struct BadKey(String);

/// Why a request is refused; every reason changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the signature or timestamp header is missing")]
    Missing,
    #[error("the timestamp is not a number of seconds, or is more than 5 minutes from now")]
    Stale,
    #[error("the signature does not match the body")]
    Mismatch,
}

impl EventKey {
    pub fn from_base64_der(text: &str) -> Result<Self, BadKey> {
        let der = STANDARD.decode(text.trim()).map_err(|error| BadKey(error.to_string()))?;
        VerifyingKey::from_public_key_der(&der).map(Self).map_err(|error| BadKey(error.to_string()))
    }

    /// Checks a request's signature and timestamp headers against its raw body.
    pub fn verify(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), Refused> {
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else { return Err(Refused::Missing) };
        let seconds = timestamp.trim().parse::<i64>().map_err(|_| Refused::Stale)?;
        let sent = DateTime::<Utc>::from_timestamp(seconds, 0).ok_or(Refused::Stale)?;
        if (now - sent).abs() > MAX_SKEW {
            return Err(Refused::Stale);
        }
        let der = STANDARD.decode(signature.trim()).map_err(|_| Refused::Mismatch)?;
        let signature = Signature::from_der(&der).map_err(|_| Refused::Mismatch)?;
        let mut signed = Vec::with_capacity(timestamp.len() + body.len());
        signed.extend_from_slice(timestamp.as_bytes());
        signed.extend_from_slice(body);
        self.0.verify(&signed, &signature).map_err(|_| Refused::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use tools::event_signer::EventSigner;

    use super::*;

    fn key_pair() -> (EventSigner, EventKey) {
        let signer = EventSigner::default();
        let key = EventKey::from_base64_der(&signer.public_key()).expect("the key as SendGrid shows it");
        (signer, key)
    }

    #[test]
    fn a_signed_fresh_request_passes_and_nothing_else_does() {
        let (signer, key) = key_pair();
        let now = Utc::now();
        let timestamp = now.timestamp().to_string();
        let body = br#"[{"event":"delivered"}]"#;
        let signature = signer.sign(&timestamp, body);
        assert_eq!(key.verify(Some(&signature), Some(&timestamp), body, now), Ok(()));
        assert_eq!(
            key.verify(Some(&signature), Some(&timestamp), br#"[{"event":"bounce"}]"#, now),
            Err(Refused::Mismatch)
        );
        assert_eq!(key.verify(None, Some(&timestamp), body, now), Err(Refused::Missing));
        assert_eq!(key.verify(Some("bm90IGEgc2lnbmF0dXJl"), Some(&timestamp), body, now), Err(Refused::Mismatch));
        let later = now + Duration::minutes(6);
        assert_eq!(key.verify(Some(&signature), Some(&timestamp), body, later), Err(Refused::Stale));
        let old = (now - Duration::minutes(10)).timestamp().to_string();
        let old_signature = signer.sign(&old, body);
        assert_eq!(key.verify(Some(&old_signature), Some(&old), body, now), Err(Refused::Stale));
        let (_, other) = key_pair();
        assert_eq!(other.verify(Some(&signature), Some(&timestamp), body, now), Err(Refused::Mismatch));
    }

    #[test]
    fn a_key_that_is_not_one_is_refused_at_start() {
        assert!(EventKey::from_base64_der("not base64!").is_err());
        assert!(EventKey::from_base64_der(&STANDARD.encode(b"not DER")).is_err());
    }
}
