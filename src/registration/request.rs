//! A registration as a visitor sends it, parsed into one ready to write.
use serde::Deserialize;

use crate::email_address::EmailAddress;
use crate::error::FieldError;

const NAME_MAX_CHARS: usize = 100;
const COMPANY_MAX_CHARS: usize = 200;
/// Attribution values (ICP, UTM) are cut to this length, never rejected:
/// they come from a link, and a visitor cannot fix a link.
const TRACKING_MAX_CHARS: usize = 64;

/// A registration as it arrives from the form or the JSON API, unvalidated.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// A webinar slug; the next upcoming published webinar when absent.
    #[serde(default)]
    pub webinar: Option<String>,
    /// One of the webinar's session ids; its next open session when absent.
    /// Registering again for another session moves the registration there.
    #[serde(default)]
    pub session: Option<i64>,
    /// 1–100 characters, no control characters.
    pub name: String,
    /// One address (plain ASCII before the @); registering it again (any case) writes nothing new and answers the same.
    pub email: String,
    /// Up to 200 characters.
    #[serde(default)]
    pub company: Option<String>,
    /// Audience key (e.g. `founders`), from the page's `?icp=`; picks the email copy. Lower-cased, at most 64 characters kept.
    #[serde(default)]
    pub icp: Option<String>,
    /// Campaign tracking from the page's URL; at most 64 characters kept (likewise `utm_medium`, `utm_campaign`).
    #[serde(default)]
    pub utm_source: Option<String>,
    #[serde(default)]
    pub utm_medium: Option<String>,
    #[serde(default)]
    pub utm_campaign: Option<String>,
}

/// A registration that passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidRegistration {
    pub name: String,
    pub email: EmailAddress,
    pub company: Option<String>,
    pub icp: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
}

pub const NAME_MESSAGE: &str = "Enter your name (1 to 100 characters).";
pub const COMPANY_MESSAGE: &str = "Company must be at most 200 characters.";

impl RegistrationRequest {
    /// The name as the visitor typed it (whitespace folded, as it is stored):
    /// what answers show, whether or not the address was registered before.
    pub fn typed_name(&self) -> String {
        collapse_whitespace(&self.name)
    }

    /// Checks every field and reports all problems at once.
    pub fn validate(&self) -> Result<ValidRegistration, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = collapse_whitespace(&self.name);
        let name_len = name.chars().count();
        if name_len == 0 || name_len > NAME_MAX_CHARS || name.chars().any(char::is_control) {
            errors.push(FieldError::new("name", NAME_MESSAGE));
        }
        let email = EmailAddress::parse(&self.email);
        if let Err(invalid) = &email {
            errors.push(FieldError::new("email", invalid.to_string()));
        }
        let company = self.company.as_deref().map(collapse_whitespace).filter(|company| !company.is_empty());
        if company.as_ref().is_some_and(|company| company.chars().count() > COMPANY_MAX_CHARS) {
            errors.push(FieldError::new("company", COMPANY_MESSAGE));
        }
        match email {
            Ok(email) if errors.is_empty() => Ok(ValidRegistration {
                name,
                email,
                company,
                icp: tracking(&self.icp).map(|icp| icp.to_lowercase()),
                utm_source: tracking(&self.utm_source),
                utm_medium: tracking(&self.utm_medium),
                utm_campaign: tracking(&self.utm_campaign),
            }),
            _ => Err(errors),
        }
    }
}

/// Trims, and folds runs of whitespace into one space.
fn collapse_whitespace(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An attribution value: trimmed, control characters dropped, length capped.
fn tracking(raw: &Option<String>) -> Option<String> {
    let cleaned: String = raw.as_deref()?.trim().chars().filter(|c| !c.is_control()).take(TRACKING_MAX_CHARS).collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, email: &str) -> RegistrationRequest {
        RegistrationRequest { name: name.into(), email: email.into(), ..Default::default() }
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|error| error.field).collect()
    }

    #[test]
    fn trims_the_name_and_normalises_the_email() {
        let valid = request("  Ada   Lovelace ", "Ada@Example.COM").validate().expect("valid");
        assert_eq!(valid.name, "Ada Lovelace");
        assert_eq!(valid.email.as_str(), "Ada@example.com");
    }

    #[test]
    fn name_must_have_1_to_100_characters() {
        assert_eq!(fields(request("   ", "ada@example.com").validate().expect_err("refused")), ["name"]);
        assert!(request(&"é".repeat(100), "ada@example.com").validate().is_ok());
        assert_eq!(fields(request(&"é".repeat(101), "ada@example.com").validate().expect_err("refused")), ["name"]);
        assert_eq!(fields(request("Ada\u{0}", "ada@example.com").validate().expect_err("refused")), ["name"]);
    }

    #[test]
    fn reports_every_invalid_field_at_once() {
        let mut bad = request("", "not-an-email");
        bad.company = Some("x".repeat(201));
        let errors = bad.validate().expect_err("refused");
        assert_eq!(fields(errors.clone()), ["name", "email", "company"]);
        assert_eq!(errors[1].message, "Enter a valid email address, like name@example.com.");
    }

    #[test]
    fn empty_optional_fields_become_none() {
        let mut input = request("Ada", "ada@example.com");
        input.company = Some("  ".into());
        input.utm_source = Some("".into());
        let valid = input.validate().expect("valid");
        assert_eq!(valid.company, None);
        assert_eq!(valid.utm_source, None);
    }

    #[test]
    fn attribution_is_cleaned_not_rejected() {
        let mut input = request("Ada", "ada@example.com");
        input.icp = Some(" Security-Leads ".into());
        input.utm_campaign = Some(format!("launch\u{7}{}", "x".repeat(100)));
        let valid = input.validate().expect("valid");
        assert_eq!(valid.icp.as_deref(), Some("security-leads"));
        let campaign = valid.utm_campaign.expect("kept");
        assert!(campaign.starts_with("launchx"));
        assert_eq!(campaign.chars().count(), TRACKING_MAX_CHARS);
    }
}
