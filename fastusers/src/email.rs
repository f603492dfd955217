//! Email address validation and normalisation, as Pydantic's `EmailStr` does it.
//!
//! The domain is lower-cased, the local part keeps its case, and a `Name <address>` form is
//! accepted as its address. Lookups elsewhere are case-insensitive; this only decides what is
//! stored and shown.

/// Why an email address was refused; the message is the one `email-validator` gives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEmail(String);

fn invalid(message: impl Into<String>) -> InvalidEmail {
    InvalidEmail(message.into())
}

const MAX_INPUT: usize = 2048;
const MAX_ADDRESS: usize = 254;
const MAX_DOMAIN: usize = 253;
const SPECIAL_USE: &[&str] = &["arpa", "invalid", "local", "localhost", "onion", "test"];

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (!c.is_ascii() && !c.is_control())
}

fn invalid_chars(part: &str, ok: impl Fn(char) -> bool) -> Option<String> {
    let mut bad: Vec<char> = part.chars().filter(|c| !ok(*c)).collect();
    bad.dedup();
    if bad.is_empty() {
        None
    } else {
        Some(
            bad.iter()
                .map(|c| format!("'{c}'"))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

/// Validates `input` and returns the address to store: the local part as given, the domain
/// lower-cased.
///
/// ```
/// assert_eq!(
///     fastusers::email::normalize("King.Arthur@CAMELOT.BT").unwrap(),
///     "King.Arthur@camelot.bt"
/// );
/// assert!(fastusers::email::normalize("not-an-email").is_err());
/// ```
pub fn normalize(input: &str) -> Result<String, InvalidEmail> {
    if input.len() > MAX_INPUT {
        return Err(invalid(format!(
            "Length must not exceed {MAX_INPUT} characters"
        )));
    }
    let mut address = input.trim();
    if let (Some(open), true) = (address.rfind('<'), address.ends_with('>')) {
        address = address[open + 1..address.len() - 1].trim();
    }
    if address.contains('\r') || address.contains('\n') {
        return Err(invalid(
            "Carriage return and line feed characters are not allowed",
        ));
    }
    let Some(at) = address.find('@') else {
        return Err(invalid("An email address must have an @-sign."));
    };
    let (local, domain) = (&address[..at], &address[at + 1..]);
    if local.is_empty() {
        return Err(invalid("There must be something before the @-sign."));
    }
    if domain.is_empty() {
        return Err(invalid("There must be something after the @-sign."));
    }
    if local.starts_with('"') {
        return Err(invalid(
            "Quoting the part before the @-sign is not allowed here.",
        ));
    }
    if domain.starts_with('[') {
        return Err(invalid(
            "A bracketed IP address after the @-sign is not allowed here.",
        ));
    }
    if let Some(chars) = invalid_chars(local, |c| is_atext(c) || c == '.') {
        return Err(invalid(format!(
            "The email address contains invalid characters before the @-sign: {chars}."
        )));
    }
    if local.starts_with('.') {
        return Err(invalid("An email address cannot start with a period."));
    }
    if local.ends_with('.') {
        return Err(invalid(
            "An email address cannot have a period immediately before the @-sign.",
        ));
    }
    if local.contains("..") {
        return Err(invalid(
            "An email address cannot have two periods in a row.",
        ));
    }
    let domain = domain.to_lowercase();
    if let Some(chars) = invalid_chars(&domain, |c| {
        c.is_ascii_alphanumeric() || c == '-' || c == '.' || (!c.is_ascii() && c.is_alphanumeric())
    }) {
        return Err(invalid(format!(
            "The part after the @-sign contains invalid characters: {chars}."
        )));
    }
    if domain.starts_with('.') {
        return Err(invalid(
            "An email address cannot have a period immediately after the @-sign.",
        ));
    }
    if domain.ends_with('.') {
        return Err(invalid("An email address cannot end with a period."));
    }
    if domain.contains("..") {
        return Err(invalid(
            "An email address cannot have two periods in a row.",
        ));
    }
    for label in domain.split('.') {
        if label.starts_with('-') {
            return Err(invalid(if domain.starts_with('-') {
                "An email address cannot have a hyphen immediately after the @-sign."
            } else {
                "An email address cannot have a hyphen immediately after a period."
            }));
        }
        if label.ends_with('-') {
            return Err(invalid(
                "An email address cannot have a hyphen immediately before a period or at the end.",
            ));
        }
        if label.len() > 63 {
            return Err(invalid(
                "The part after the @-sign is not valid. A label is too long.",
            ));
        }
    }
    let Some(tld) = domain.rsplit('.').next().filter(|_| domain.contains('.')) else {
        return Err(invalid(
            "The part after the @-sign is not valid. It should have a period.",
        ));
    };
    if tld.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid(
            "The part after the @-sign is not valid. It is not within a valid top-level domain.",
        ));
    }
    if SPECIAL_USE
        .iter()
        .any(|s| domain == *s || domain.ends_with(&format!(".{s}")))
    {
        return Err(invalid(
            "The part after the @-sign is a special-use or reserved name that cannot be used with email.",
        ));
    }
    let domain_len = domain.chars().count();
    if domain_len > MAX_DOMAIN {
        return Err(invalid(format!(
            "The email address is too long after the @-sign ({} characters too many).",
            domain_len - MAX_DOMAIN
        )));
    }
    let normalized = format!("{local}@{domain}");
    let total = normalized.chars().count();
    if total > MAX_ADDRESS {
        return Err(invalid(format!(
            "The email address is too long ({} characters too many).",
            total - MAX_ADDRESS
        )));
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn keeps_local_case_and_lowers_domain() {
        assert_eq!(
            normalize("King.Arthur@CAMELOT.BT").unwrap(),
            "King.Arthur@camelot.bt"
        );
        assert_eq!(
            normalize("King <King.Arthur@CAMELOT.BT>").unwrap(),
            "King.Arthur@camelot.bt"
        );
    }

    #[test]
    fn refuses_malformed_addresses() {
        for bad in [
            "notanemail",
            "a@b",
            "@x.com",
            "x@",
            "x@@y.com",
            "a..b@x.com",
            ".a@x.com",
            "a@-x.com",
            "a@x.123",
        ] {
            assert!(normalize(bad).is_err(), "{bad} should be refused");
        }
        let long = format!("{}@x.com", "a".repeat(250));
        assert!(
            normalize(&long)
                .unwrap_err()
                .to_string()
                .contains("too long")
        );
    }
}
