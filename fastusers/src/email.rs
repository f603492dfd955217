//! Email address validation and normalisation, as Pydantic's `EmailStr` does it.
//!
//! The domain is lower-cased, the local part keeps its case, and a `Name <address>` form is
//! accepted as its address: [`normalize`] decides what is stored and shown. Which stored
//! address is the same account as another, whatever their case, [`fold_case`] decides.

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

/// The form of an address under which two addresses are one account: two addresses are the
/// same when their folded forms are equal. Lookups (login, registration, forgot-password,
/// request-verify-token, OAuth) and the uniqueness of emails follow this rule on every
/// database, whatever its locale.
///
/// Each character is replaced by its Unicode simple case folding (`CaseFolding.txt`, statuses
/// C and S: one character to one character, so the folded form has as many characters as the
/// address), with one exception: an ASCII character folds only to ASCII and a non-ASCII one
/// only to non-ASCII. So `Ü` is `ü`, `Σ`, `σ` and `ς` are one letter, and `ẞ` is `ß`; but `ß`
/// is not `ss` (that would be full folding), `İ` is only itself, the Kelvin sign (U+212A) and
/// the long s (U+017F) are not `k` and `s` (so that an ASCII address is looked up by one
/// indexed comparison of `lower(email)`), and a composed `ü` is not `u` followed by a
/// combining diaeresis (no Unicode normalisation).
///
/// ```
/// use fastusers::email::fold_case;
///
/// assert_eq!(fold_case("Ü@EXÄMPLE.COM"), fold_case("ü@exämple.com"));
/// assert_eq!(fold_case("ΟΔΥΣΣΕΥΣ@x.gr"), fold_case("οδυσσευς@x.gr"));
/// assert_ne!(fold_case("STRAẞE@x.de"), fold_case("strasse@x.de"));
/// assert_ne!(fold_case("\u{212A}ay@camelot.bt"), fold_case("kay@camelot.bt"));
/// ```
pub fn fold_case(address: &str) -> String {
    address.chars().map(fold_char).collect()
}

fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    match unicode_case_mapping::case_folded(c).and_then(|f| char::from_u32(f.get())) {
        Some(folded) if !folded.is_ascii() => folded,
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::{fold_case, normalize};

    #[test]
    fn folds_one_character_to_one() {
        for (a, b) in [
            ("ü@exämple.com", "Ü@EXÄMPLE.COM"),
            ("Ünïcödé@x.com", "üNÏCÖDÉ@x.com"),
            ("σοφία@x.gr", "ΣΟΦΊΑ@x.gr"),
            ("ς@x.gr", "σ@x.gr"),
            ("ß@x.de", "ẞ@x.de"),
            ("дмитрий@x.ru", "ДМИТРИЙ@x.ru"),
            ("ǆ@x.hr", "ǅ@x.hr"),
            ("𐐨@x.com", "𐐀@x.com"),
        ] {
            assert_eq!(fold_case(a), fold_case(b), "{a} and {b} are one address");
            assert_eq!(fold_case(a).chars().count(), a.chars().count());
        }
        for (a, b) in [
            ("\u{212A}@x.com", "k@x.com"),
            ("\u{17F}@x.com", "s@x.com"),
            ("ß@x.de", "ss@x.de"),
            ("İ@x.tr", "i@x.tr"),
            ("ı@x.tr", "i@x.tr"),
            ("ü@x.com", "u@x.com"),
            ("ü@x.com", "u\u{308}@x.com"),
        ] {
            assert_ne!(fold_case(a), fold_case(b), "{a} and {b} are two addresses");
        }
        assert_eq!(
            fold_case("King.Arthur@CAMELOT.BT"),
            "king.arthur@camelot.bt"
        );
    }

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
