//! SendGrid's v3 Mail Send API. Messages are built with the `sendgrid` crate's
//! types; the request goes out through our own reqwest client because the
//! crate's `Sender::send` drops the response headers, and a 429's
//! `Retry-After` must be honoured.
use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use sendgrid::v3::{Attachment, Content, Email, Message, Personalization, Sender};

use super::{Delivery, DeliveryError, Outgoing, provider_safe_name};

pub struct SendGrid {
    client: reqwest::Client,
    endpoint: String,
}

impl SendGrid {
    /// `base_url` is the API base, e.g. `https://api.sendgrid.com`.
    pub fn new(api_key: &str, base_url: &str, timeout: Duration) -> Result<Self, DeliveryError> {
        let setup = |error: String| DeliveryError::Reject { reason: format!("SendGrid client setup: {error}") };
        let headers = Sender::get_headers(api_key).map_err(|error| setup(error.to_string()))?;
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(timeout)
            .build()
            .map_err(|error| setup(error.to_string()))?;
        Ok(Self { client, endpoint: format!("{}/v3/mail/send", base_url.trim_end_matches('/')) })
    }
}

/// `Retry-After` in seconds, as SendGrid sends it. The value is outside
/// input: anything that is not a small whole number is ignored (a day at
/// most is kept; the retry policy clamps it to its own cap after that).
fn retry_after_seconds(value: &str) -> Option<chrono::Duration> {
    const DAY: u64 = 24 * 3600;
    let seconds = value.trim().parse::<u64>().ok()?.min(DAY);
    chrono::Duration::try_seconds(i64::try_from(seconds).ok()?)
}

/// Per-recipient strings the request borrows (the crate's maps hold `&str`).
struct Owned {
    job_ids: Vec<String>,
    registration_ids: Vec<String>,
    headers: Vec<[(&'static str, String); 2]>,
    names: Vec<String>,
}

impl Owned {
    fn new(outgoing: &Outgoing) -> Self {
        Self {
            job_ids: outgoing.recipients.iter().map(|recipient| recipient.job_id.to_string()).collect(),
            registration_ids: outgoing
                .recipients
                .iter()
                .map(|recipient| recipient.registration_id.to_string())
                .collect(),
            headers: outgoing.recipients.iter().map(|recipient| recipient.list_unsubscribe_headers()).collect(),
            names: outgoing.recipients.iter().map(|recipient| provider_safe_name(&recipient.to.name)).collect(),
        }
    }
}

fn message<'a>(outgoing: &'a Outgoing, owned: &'a Owned) -> Message<'a> {
    let mut message = Message::new(Email::new(&outgoing.from.email).set_name(&outgoing.from.name))
        .set_subject(&outgoing.content.subject)
        .add_category(&outgoing.category)
        .add_content(Content::new().set_content_type("text/plain").set_value(&outgoing.content.text))
        .add_content(Content::new().set_content_type("text/html").set_value(&outgoing.content.html));
    let per_recipient = owned.job_ids.iter().zip(&owned.registration_ids).zip(&owned.headers).zip(&owned.names);
    for (recipient, (((job_id, registration_id), headers), name)) in outgoing.recipients.iter().zip(per_recipient) {
        let substitutions: HashMap<&str, &str> =
            recipient.substitutions.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect();
        let headers: HashMap<&str, &str> = headers.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let custom_args = HashMap::from([("job_id", job_id.as_str()), ("registration_id", registration_id.as_str())]);
        message = message.add_personalization(
            Personalization::new(Email::new(&recipient.to.email).set_name(name))
                .add_substitutions(&substitutions)
                .add_headers(&headers)
                .add_custom_args(&custom_args),
        );
    }
    for attachment in &outgoing.attachments {
        message = message.add_attachment(
            Attachment::new()
                .set_content(&attachment.content)
                .set_filename(&attachment.filename)
                .set_mime_type(&attachment.mime_type),
        );
    }
    message
}

#[async_trait::async_trait]
impl Delivery for SendGrid {
    async fn deliver(&self, outgoing: &Outgoing) -> Result<(), DeliveryError> {
        let owned = Owned::new(outgoing);
        let body = serde_json::to_vec(&message(outgoing, &owned))
            .map_err(|error| DeliveryError::Reject { reason: format!("could not encode the message: {error}") })?;
        let response = match self.client.post(&self.endpoint).body(body).send().await {
            Ok(response) => response,
            Err(error) => {
                let reason = if error.is_timeout() { "SendGrid timed out" } else { "SendGrid unreachable" };
                return Err(DeliveryError::Retry { reason: format!("{reason}: {error}"), retry_after: None });
            }
        };
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| retry_after_seconds(value.to_str().ok()?));
        let body = response.text().await.unwrap_or_default();
        let reason = format!("SendGrid answered {status}: {}", body.chars().take(500).collect::<String>());
        // 401/403 are this account's set-up (a revoked key, an unverified
        // sender), not the recipients': retried with backoff, never dead at once.
        let account_problem = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() || account_problem {
            Err(DeliveryError::Retry { reason, retry_after })
        } else {
            Err(DeliveryError::Reject { reason })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_as_a_bounded_number_of_seconds() {
        assert_eq!(retry_after_seconds(" 120 "), Some(chrono::Duration::seconds(120)));
        assert_eq!(retry_after_seconds("18446744073709551615"), Some(chrono::Duration::days(1)));
        assert_eq!(retry_after_seconds("99999999999999999999999"), None);
        assert_eq!(retry_after_seconds("-5"), None);
        assert_eq!(retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
