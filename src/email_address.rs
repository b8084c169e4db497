//! An email address that can only hold a valid, normalised one.
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Enter a valid email address, like name@example.com.")]
pub struct InvalidEmail;

/// RFC 5321's limit on a forward path.
const MAX_LEN: usize = 254;
/// RFC 5321's limit on a local part.
const LOCAL_MAX_LEN: usize = 64;

impl EmailAddress {
    /// Accepts what SendGrid and common mail servers deliver to, and nothing
    /// else: an RFC 5322 address (parsed by a real parser) whose local part
    /// is a plain ASCII dot-atom (letters, digits and ``!#$%&'*+/=?^_`{|}~-``,
    /// dots between them) and whose domain is a dotted host name. Quoted and
    /// non-ASCII local parts are refused: SendGrid rejects them (no
    /// SMTPUTF8) and they cannot be written as a plain message header. An
    /// internationalised domain is kept in its ASCII form (`xn--…`), which
    /// every server delivers to. The domain is lower-cased; the local part
    /// is kept as typed.
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
        let local = parsed.local_part();
        if !is_dot_atom(local) {
            return Err(InvalidEmail);
        }
        let domain = ascii_domain(parsed.domain()).ok_or(InvalidEmail)?;
        let address = format!("{local}@{domain}");
        if address.len() > MAX_LEN {
            return Err(InvalidEmail);
        }
        Ok(Self(address))
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

/// RFC 5322's dot-atom in ASCII: atoms of `atext` joined by single dots.
fn is_dot_atom(local: &str) -> bool {
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    (1..=LOCAL_MAX_LEN).contains(&local.len())
        && local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(atext))
}

/// The domain as ASCII host name labels (IDNA for a non-ASCII one),
/// lower-cased: at least two labels of letters, digits and inner dashes,
/// the last not all digits (that would be an IP address).
fn ascii_domain(domain: &str) -> Option<String> {
    let url::Host::Domain(ascii) = url::Host::parse(domain).ok()? else { return None };
    let labels: Vec<&str> = ascii.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let top_level = labels.last()?;
    (labels.len() >= 2 && labels.iter().all(label_ok) && !top_level.chars().all(|c| c.is_ascii_digit()))
        .then(|| ascii.to_ascii_lowercase())
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
    fn accepts_every_plain_ascii_local_part_character() {
        for good in ["o'brien@example.com", "a.b-c_d+e@example.com", "x!#$%&*/=?^`{|}~@example.com", "1@example.io"] {
            assert_eq!(EmailAddress::parse(good).map(|email| email.as_str().to_owned()), Ok(good.to_owned()));
        }
    }

    #[test]
    fn refuses_what_providers_do_not_deliver_to() {
        for bad in [
            "\"ada lovelace\"@example.com",
            "\"a@b\"@example.com",
            "jörg@example.com",
            "用户@example.com",
            ".ada@example.com",
            "ada.@example.com",
            "a..da@example.com",
            "ada@exa_mple.com",
            "ada@-example.com",
            "ada@example.123",
            "ada@1.2.3.4",
            "ada\u{0}@example.com",
            "ada@example\u{0}.com",
            "ada(comment)@example.com",
        ] {
            assert_eq!(EmailAddress::parse(bad), Err(InvalidEmail), "{bad:?}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert_eq!(EmailAddress::parse(&long_local), Err(InvalidEmail));
    }

    #[test]
    fn keeps_an_internationalised_domain_in_its_ascii_form() {
        let email = EmailAddress::parse("jorg@Bücher.example").expect("valid");
        assert_eq!(email.as_str(), "jorg@xn--bcher-kva.example");
    }

    #[test]
    fn masks_for_logs() {
        let email = EmailAddress::parse("ada@example.com").expect("valid");
        assert_eq!(email.masked(), "a***@example.com");
    }
}
