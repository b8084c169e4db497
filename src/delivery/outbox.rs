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
    Ok(MimeMailbox::new(Some(mailbox.name.clone()), address))
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
    async fn deliver(&self, outgoing: &Outgoing) -> Result<(), DeliveryError> {
        for recipient in &outgoing.recipients {
            let message = build(outgoing, recipient)?;
            let id = self.transport.send(message).await.map_err(|error| DeliveryError::Retry {
                reason: format!("could not write to {}: {error}", self.dir.display()),
                retry_after: None,
            })?;
            tracing::info!(path = %self.dir.join(format!("{id}.eml")).display(), kind = %outgoing.category, "email written to the dev outbox");
        }
        Ok(())
    }
}
