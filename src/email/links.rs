//! The links in every email: the registrant's join link (`/j/{token}`, which
//! redirects to the webinar's current meeting URL) and a signed unsubscribe
//! link (`/u/{registration}.{signature}`), which no one can forge for another.
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

#[derive(Clone)]
pub struct Links {
    base_url: String,
    /// Keyed once: every email of a burst signs a link with it.
    keyed: Hmac<Sha256>,
}

/// Hex characters of the signature kept: 128 bits.
const SIGNATURE_HEX_LEN: usize = 32;

impl Links {
    pub fn new(base_url: &str, secret: &[u8]) -> Self {
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        Self { base_url: base_url.trim_end_matches('/').to_owned(), keyed }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn join_url(&self, token: &str) -> String {
        format!("{}/j/{token}", self.base_url)
    }

    pub fn unsubscribe_url(&self, registration_id: i64) -> String {
        format!("{}/u/{}", self.base_url, self.unsubscribe_token(registration_id))
    }

    pub fn unsubscribe_token(&self, registration_id: i64) -> String {
        format!("{registration_id}.{}", self.signature(registration_id))
    }

    /// The registration an unsubscribe token names, if its signature is ours.
    pub fn verify_unsubscribe(&self, token: &str) -> Option<i64> {
        let (id, signature) = token.split_once('.')?;
        let id: i64 = id.parse().ok()?;
        let mac = self.mac(id);
        (signature.len() == SIGNATURE_HEX_LEN).then_some(())?;
        let expected = hex::decode(signature).ok()?;
        mac.verify_truncated_left(&expected).ok().map(|()| id)
    }

    fn mac(&self, registration_id: i64) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(format!("unsubscribe:{registration_id}").as_bytes());
        mac
    }

    fn signature(&self, registration_id: i64) -> String {
        let bytes = self.mac(registration_id).finalize().into_bytes();
        hex::encode(&bytes[..SIGNATURE_HEX_LEN / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsubscribe_links_verify_only_with_our_key() {
        let links = Links::new("https://events.example.com/", b"secret");
        let url = links.unsubscribe_url(42);
        assert!(url.starts_with("https://events.example.com/u/42."), "{url}");
        let token = url.rsplit('/').next().expect("token");
        assert_eq!(links.verify_unsubscribe(token), Some(42));
        assert_eq!(Links::new("https://x", b"other").verify_unsubscribe(token), None, "another key");
        let forged = token.replacen("42.", "43.", 1);
        assert_eq!(links.verify_unsubscribe(&forged), None, "another registration");
        for bad in ["", "42", "42.", "x.abcd", "42.zz", &token[..token.len() - 2]] {
            assert_eq!(links.verify_unsubscribe(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn join_links_carry_the_registrants_token() {
        assert_eq!(Links::new("http://127.0.0.1:3000", b"k").join_url("abc"), "http://127.0.0.1:3000/j/abc");
    }
}
