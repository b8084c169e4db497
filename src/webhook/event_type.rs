//! The events a webhook can subscribe to, by the names receivers see.
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    /// Someone registered; `data` is the registration.
    #[serde(rename = "registration.created")]
    RegistrationCreated,
    /// A registrant switched to another session of the webinar; `data` is the
    /// registration, its `session` the one they are in now.
    #[serde(rename = "registration.moved")]
    RegistrationMoved,
    /// A registrant was erased (GDPR); `data` names who, so a CRM can erase them too.
    #[serde(rename = "registration.erased")]
    RegistrationErased,
    /// A webinar was saved without moving its start or cancelling it; `data` is the webinar.
    #[serde(rename = "webinar.updated")]
    WebinarUpdated,
    /// A webinar's start moved; `data` is the webinar.
    #[serde(rename = "webinar.rescheduled")]
    WebinarRescheduled,
    /// A webinar was cancelled; `data` is the webinar.
    #[serde(rename = "webinar.cancelled")]
    WebinarCancelled,
    /// The provider delivered an email; `data` is the email.
    #[serde(rename = "email.delivered")]
    EmailDelivered,
    /// An email bounced; `data` is the email, with the provider's reason.
    #[serde(rename = "email.bounced")]
    EmailBounced,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::RegistrationCreated,
        EventType::RegistrationMoved,
        EventType::RegistrationErased,
        EventType::WebinarUpdated,
        EventType::WebinarRescheduled,
        EventType::WebinarCancelled,
        EventType::EmailDelivered,
        EventType::EmailBounced,
    ];

    /// The name receivers see in `type`, and subscriptions store.
    pub fn name(self) -> &'static str {
        match self {
            EventType::RegistrationCreated => "registration.created",
            EventType::RegistrationMoved => "registration.moved",
            EventType::RegistrationErased => "registration.erased",
            EventType::WebinarUpdated => "webinar.updated",
            EventType::WebinarRescheduled => "webinar.rescheduled",
            EventType::WebinarCancelled => "webinar.cancelled",
            EventType::EmailDelivered => "email.delivered",
            EventType::EmailBounced => "email.bounced",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_match_their_json() {
        for event in EventType::ALL {
            assert_eq!(EventType::parse(event.name()), Some(event));
            assert_eq!(serde_json::to_value(event).expect("json"), serde_json::json!(event.name()));
        }
        assert_eq!(EventType::parse("registration.*"), None);
    }
}
