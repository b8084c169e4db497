//! The dev outbox: with no SendGrid key, every message is written as an `.eml`
//! file (one per recipient, placeholders filled in) that any mail client opens.
use std::path::PathBuf;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment as MimeAttachment, Mailbox as MimeMailbox, MultiPart, SinglePart};
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Delivery, DeliveryError, Mailbox, Outgoing, Recipient};

pub struct Outbox {
    dir: PathBuf,
    transport: AsyncFileTransport<Tokio1Executor>,
}

impl Outbox {
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { transport: AsyncFileTransport::new(&dir), dir })
    }
}

fn mailbox(mailbox: &Mailbox) -> Result<MimeMailbox, DeliveryError> {
    let address = mailbox.email.parse().map_err(|error| DeliveryError::Reject {
        reason: format!(
            "invalid address {}: {error}",
            crate::EmailAddress::parse(&mailbox.email).map(|e| e.masked()).unwrap_or_default()
        ),
    })?;
    Ok(MimeMailbox::new(Some(super::plain_name(&mailbox.name)), address))
}

fn build(outgoing: &Outgoing, recipient: &Recipient) -> Result<Message, DeliveryError> {
    let content = outgoing.content.personalize(&recipient.substitutions);
    let mut builder =
        Message::builder().from(mailbox(&outgoing.from)?).to(mailbox(&recipient.to)?).subject(content.subject);
    for (name, value) in recipient.list_unsubscribe_headers() {
        builder = builder.raw_header(HeaderValue::new(HeaderName::new_from_ascii_str(name), value));
    }
    let mut body = MultiPart::mixed().multipart(MultiPart::alternative_plain_html(content.text, content.html));
    for attachment in &outgoing.attachments {
        let mime = ContentType::parse(&attachment.mime_type)
            .map_err(|error| DeliveryError::Reject { reason: format!("attachment type: {error}") })?;
        let part: SinglePart = MimeAttachment::new(attachment.filename.clone()).body(attachment.content.clone(), mime);
        body = body.singlepart(part);
    }
    builder.multipart(body).map_err(|error| DeliveryError::Reject { reason: format!("could not build: {error}") })
}

#[async_trait::async_trait]
impl Delivery for Outbox {
    fn is_the_mailbox(&self) -> bool {
        true
    }

    /// Builds every message before writing any: a recipient whose message
    /// cannot be built rejects the request with nothing written, and the
    /// worker splits it until that recipient is alone.
    async fn deliver(&self, outgoing: &Outgoing) -> Result<(), DeliveryError> {
        let messages: Vec<Message> =
            outgoing.recipients.iter().map(|recipient| build(outgoing, recipient)).collect::<Result<_, _>>()?;
        for message in messages {
            let id = self.transport.send(message).await.map_err(|error| DeliveryError::Retry {
                reason: format!("could not write to {}: {error}", self.dir.display()),
                retry_after: None,
            })?;
            tracing::info!(path = %self.dir.join(format!("{id}.eml")).display(), kind = %outgoing.category, "email written to the dev outbox");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::render::Rendered;

    fn outgoing(addresses: &[&str]) -> Outgoing {
        let recipients = addresses
            .iter()
            .enumerate()
            .map(|(n, email)| Recipient {
                job_id: n as i64,
                registration_id: n as i64,
                to: Mailbox { email: (*email).into(), name: format!("Lovelace, Ada \"{n}\"\r\nBcc: x@evil.example") },
                substitutions: Default::default(),
                unsubscribe_url: format!("https://events.example.com/u/{n}.sig"),
            })
            .collect();
        Outgoing {
            from: Mailbox { email: "events@example.com".into(), name: "Events".into() },
            category: "confirmation".into(),
            content: Rendered { subject: "Hi".into(), text: "Hello".into(), html: "<p>Hello</p>".into() },
            attachments: vec![],
            recipients,
        }
    }

    fn written(dir: &std::path::Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok()).collect())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_recipient_that_cannot_be_written_rejects_the_request_before_anything_is_written() {
        let dir = std::env::temp_dir().join(format!("outbox_test_{}", rand::random::<u64>()));
        let outbox = Outbox::new(&dir).expect("outbox");
        let refused = outbox.deliver(&outgoing(&["ada@example.com", "\"ada lovelace\"@example.com"])).await;
        assert!(matches!(refused, Err(DeliveryError::Reject { .. })), "{refused:?}");
        assert!(written(&dir).is_empty(), "nothing written for anyone");
        outbox.deliver(&outgoing(&["ada@example.com", "grace@example.com"])).await.expect("written");
        let messages = written(&dir);
        assert_eq!(messages.len(), 2);
        for message in messages {
            assert!(!message.contains("\r\nBcc:"), "a name cannot add a header: {message}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
