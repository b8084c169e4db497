//! Getting rendered emails out: SendGrid when an API key is set, otherwise a
//! dev outbox of `.eml` files a person can open.
use std::collections::BTreeMap;

use crate::emails::Rendered;

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

impl Recipient {
    /// The headers every message carries so mail clients offer one-click unsubscribe.
    pub fn list_unsubscribe_headers(&self) -> [(&'static str, String); 2] {
        [
            ("List-Unsubscribe", format!("<{}>", self.unsubscribe_url)),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_owned()),
        ]
    }
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
}
