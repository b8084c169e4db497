//! An email address that can only hold a valid, normalised one.
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Enter a valid email address, like name@example.com.")]
pub struct InvalidEmail;

/// RFC 5321's limit on a forward path.
const MAX_LEN: usize = 254;

impl EmailAddress {
    /// Parses with a real RFC 5322 parser, keeping only what a mail provider
    /// delivers to: a dotted domain name, no IP literal, no display name.
    /// The domain is lower-cased; the local part is kept as typed.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let trimmed = raw.trim();
        if trimmed.len() > MAX_LEN {
            return Err(InvalidEmail);
        }
        let options = email_address::Options {
            minimum_sub_domains: 2,
            allow_domain_literal: false,
            allow_display_text: false,
            ..email_address::Options::default()
        };
        let parsed = email_address::EmailAddress::parse_with_options(trimmed, options).map_err(|_| InvalidEmail)?;
        Ok(Self(format!("{}@{}", parsed.local_part(), parsed.domain().to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Who this is, for de-duplication: providers treat the local part
    /// case-insensitively in practice, so `Ada@x.com` and `ada@x.com` are one person.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    /// For logs: `j***@example.com`, never the whole address.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or(("", &self.0));
        let first = local.chars().next().map(String::from).unwrap_or_default();
        format!("{first}***@{domain}")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_cases_the_domain_only() {
        let email = EmailAddress::parse("  Ada.Lovelace@Example.COM ").expect("valid");
        assert_eq!(email.as_str(), "Ada.Lovelace@example.com");
        assert_eq!(email.key(), "ada.lovelace@example.com");
    }

    #[test]
    fn accepts_plus_addressing_and_subdomains() {
        assert!(EmailAddress::parse("ada+webinar@mail.example.co.uk").is_ok());
    }

    #[test]
    fn rejects_what_cannot_be_delivered() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "ada@[127.0.0.1]",
            "ada@example.com.",
            "ada @example.com",
            "Ada <ada@example.com>",
            "ada@@example.com",
        ] {
            assert_eq!(EmailAddress::parse(bad), Err(InvalidEmail), "{bad:?}");
        }
        let too_long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(EmailAddress::parse(&too_long), Err(InvalidEmail));
    }

    #[test]
    fn masks_for_logs() {
        let email = EmailAddress::parse("ada@example.com").expect("valid");
        assert_eq!(email.masked(), "a***@example.com");
    }
}
