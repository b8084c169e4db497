//! Getting rendered emails out: SendGrid when an API key is set, otherwise a
//! dev outbox of `.eml` files a person can open.
use std::collections::BTreeMap;

use crate::email::render::Rendered;

mod outbox;
mod sendgrid;

pub use outbox::Outbox;
pub use sendgrid::SendGrid;

/// SendGrid's limit on personalizations in one request.
pub const MAX_RECIPIENTS_PER_REQUEST: usize = 1000;

#[derive(Clone, Debug)]
pub struct Mailbox {
    pub email: String,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct Attachment {
    pub filename: String,
    pub mime_type: String,
    pub content: Vec<u8>,
}

/// One recipient of a batch, with the values of the content's placeholders.
#[derive(Clone, Debug)]
pub struct Recipient {
    pub job_id: i64,
    /// Sent with `job_id` in the message's custom arguments, so the
    /// provider's events name both.
    pub registration_id: i64,
    pub to: Mailbox,
    pub substitutions: BTreeMap<String, String>,
    /// RFC 8058 one-click target, sent as `List-Unsubscribe`.
    pub unsubscribe_url: String,
}

/// One message to many recipients: one provider request.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub from: Mailbox,
    /// The email kind, for the provider's statistics.
    pub category: String,
    pub content: Rendered,
    pub attachments: Vec<Attachment>,
    pub recipients: Vec<Recipient>,
}

impl Outgoing {
    /// The same message to some of its recipients only.
    pub fn part(&self, recipients: std::ops::Range<usize>) -> Outgoing {
        Outgoing {
            from: self.from.clone(),
            category: self.category.clone(),
            content: self.content.clone(),
            attachments: self.attachments.clone(),
            recipients: self.recipients[recipients].to_vec(),
        }
    }
}

impl Recipient {
    /// The headers every message carries so mail clients offer one-click unsubscribe.
    pub fn list_unsubscribe_headers(&self) -> [(&'static str, String); 2] {
        [
            ("List-Unsubscribe", format!("<{}>", self.unsubscribe_url)),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_owned()),
        ]
    }
}

/// A recipient's name as a provider takes it: control characters become
/// spaces, double quotes single ones, and a name with `,` or `;` (which
/// would read as a list of addresses) is quoted.
pub fn provider_safe_name(name: &str) -> String {
    let cleaned = plain_name(&name.replace('"', "'"));
    match cleaned.contains([',', ';']) {
        true => format!("\"{cleaned}\""),
        false => cleaned,
    }
}

/// A name on one line: control characters become spaces, runs of them one.
pub fn plain_name(name: &str) -> String {
    let spaced: String = name.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later (429, 5xx, timeouts, connection errors).
    #[error("{reason}")]
    Retry { reason: String, retry_after: Option<chrono::Duration> },
    /// The provider refused the message; trying again will not help.
    #[error("{reason}")]
    Reject { reason: String },
}

#[async_trait::async_trait]
pub trait Delivery: Send + Sync + 'static {
    async fn deliver(&self, message: &Outgoing) -> Result<(), DeliveryError>;

    /// Whether a delivered message has reached its mailbox (the dev outbox
    /// is the mailbox), so no provider will report it: the worker records
    /// the `delivered` event itself.
    fn is_the_mailbox(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_reach_the_provider_in_a_form_it_accepts() {
        assert_eq!(provider_safe_name("Ada Lovelace"), "Ada Lovelace");
        assert_eq!(provider_safe_name("Lovelace, Ada"), "\"Lovelace, Ada\"");
        assert_eq!(provider_safe_name("Ada; Grace"), "\"Ada; Grace\"");
        assert_eq!(provider_safe_name("Ada \"the first\" L."), "Ada 'the first' L.");
        assert_eq!(provider_safe_name("Ada\r\nBcc: x@evil.example\u{0}"), "Ada Bcc: x@evil.example");
    }
}
