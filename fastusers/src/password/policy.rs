//! [`PasswordPolicy`]: which new passwords the manager accepts before the application's own
//! `validate_password` hook sees them.

use std::sync::LazyLock;

use crate::hooks::InvalidPassword;

/// The 10,000 most common passwords, most common first, after a `#` header line (see
/// `fastusers/data/README.md` for the source and its licence).
const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

/// The same, sorted, for a binary search.
static COMMON_SORTED: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut list: Vec<&str> = COMMON_PASSWORDS
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    list.sort_unstable();
    list
});

/// Whether the password is one of the 10,000 most common, case-insensitively.
///
/// ```
/// assert!(fastusers::password::is_common_password("Dragon"));
/// assert!(fastusers::password::is_common_password("qwertyuiop"));
/// assert!(!fastusers::password::is_common_password("correct horse battery staple"));
/// ```
pub fn is_common_password(password: &str) -> bool {
    let lower = password.to_lowercase();
    COMMON_SORTED.binary_search(&lower.as_str()).is_ok()
}

/// The password rules that [`UserManager`](crate::UserManager) applies to every new password
/// (registration, update, reset) before its `validate_password` hook, which can add rules of
/// its own. The default follows OWASP ASVS 4.0.3:
///
/// - at least 12 characters (2.1.1), a run of spaces counting as one;
/// - at most 128 characters (2.1.2); the manager's
///   [`max_password_length`](crate::UserManager::max_password_length) (4096 bytes) still
///   refuses longer input before anything else;
/// - no rule on the kinds of characters (2.1.9): any Unicode character counts;
/// - not one of the 10,000 most common passwords (2.1.7), compared case-insensitively with a
///   list compiled into the crate: no network involved;
/// - optionally (cargo feature `pwned-passwords`), not in a known breach, asked of Have I Been
///   Pwned's range API (`PwnedPasswords`); off by default.
///
/// A refused password gets the route's `*_INVALID_PASSWORD` answer with one of the reasons
/// `Password should be at least 12 characters`, `Password should be at most 128 characters`,
/// `Password is too common`, `Password has appeared in a data breach`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use fastusers::password::PasswordPolicy;
///
/// let policy = PasswordPolicy::default();
/// assert!(policy.check("correct horse battery staple").await.is_ok());
/// let refused = policy.check("guinevere").await.unwrap_err();
/// assert_eq!(refused.reason, "Password should be at least 12 characters");
/// assert_eq!(
///     policy.check("QWERTY123456").await.unwrap_err().reason,
///     "Password is too common"
/// );
///
/// // fastapi-users' example policy lives in its hook: no rule of the library's own.
/// let none = PasswordPolicy::none();
/// assert!(none.check("guinevere").await.is_ok());
/// // Or the default, with another minimum.
/// let eight = PasswordPolicy::default().min_length(8);
/// assert!(eight.check("guinevere").await.is_ok());
/// assert!(eight.check("password").await.is_err());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    min_chars: usize,
    max_chars: Option<usize>,
    refuse_common: bool,
    #[cfg(feature = "pwned-passwords")]
    pwned: Option<super::PwnedPasswords>,
}

impl Default for PasswordPolicy {
    /// 12 to 128 characters, not one of the 10,000 most common passwords.
    fn default() -> Self {
        Self {
            min_chars: 12,
            max_chars: Some(128),
            refuse_common: true,
            #[cfg(feature = "pwned-passwords")]
            pwned: None,
        }
    }
}

impl PasswordPolicy {
    /// No rule at all: every password goes to the `validate_password` hook as it is (past the
    /// manager's `max_password_length` guard). For an application whose hook has the whole
    /// policy, such as fastapi-users' example.
    pub fn none() -> Self {
        Self {
            min_chars: 0,
            max_chars: None,
            refuse_common: false,
            #[cfg(feature = "pwned-passwords")]
            pwned: None,
        }
    }

    /// The fewest characters (default 12).
    pub fn min_length(mut self, chars: usize) -> Self {
        self.min_chars = chars;
        self
    }

    /// The most characters (default 128; `None`: no limit but `max_password_length`).
    pub fn max_length(mut self, chars: Option<usize>) -> Self {
        self.max_chars = chars;
        self
    }

    /// Whether the 10,000 most common passwords are refused (default true).
    pub fn refuse_common(mut self, refuse: bool) -> Self {
        self.refuse_common = refuse;
        self
    }

    /// Also refuses passwords that Have I Been Pwned knows from a breach. See
    /// [`PwnedPasswords`](super::PwnedPasswords).
    #[cfg(feature = "pwned-passwords")]
    pub fn pwned_passwords(mut self, pwned: super::PwnedPasswords) -> Self {
        self.pwned = Some(pwned);
        self
    }

    /// Checks a new password; the error's reason says what is wrong with it.
    pub async fn check(&self, password: &str) -> Result<(), InvalidPassword> {
        let length = length(password);
        if length < self.min_chars {
            return Err(InvalidPassword::new(format!(
                "Password should be at least {} characters",
                self.min_chars
            )));
        }
        if let Some(max) = self.max_chars
            && length > max
        {
            return Err(InvalidPassword::new(format!(
                "Password should be at most {max} characters"
            )));
        }
        if self.refuse_common && is_common_password(password) {
            return Err(InvalidPassword::new("Password is too common"));
        }
        #[cfg(feature = "pwned-passwords")]
        if let Some(pwned) = &self.pwned
            && pwned.is_breached(password).await
        {
            return Err(InvalidPassword::new(
                "Password has appeared in a data breach",
            ));
        }
        Ok(())
    }
}

/// The length in characters, each run of spaces counting as one (ASVS 2.1.1: "after multiple
/// spaces are combined"), so that padding with spaces does not make a password long.
fn length(password: &str) -> usize {
    let mut count = 0;
    let mut previous_space = false;
    for c in password.chars() {
        let space = c == ' ';
        if !(space && previous_space) {
            count += 1;
        }
        previous_space = space;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_ten_thousand_lower_case_passwords() {
        assert_eq!(COMMON_SORTED.len(), 10_000);
        assert!(COMMON_SORTED.iter().all(|p| p.to_lowercase() == *p));
        assert!(
            COMMON_SORTED.windows(2).all(|w| w[0] < w[1]),
            "sorted, unique"
        );
        let first = COMMON_PASSWORDS.lines().nth(1);
        assert_eq!(first, Some("123456"), "most common first");
        assert!(
            is_common_password("pic's"),
            "the one escaped entry, unescaped"
        );
    }

    #[test]
    fn length_counts_characters_and_runs_of_spaces_once() {
        assert_eq!(length("abc"), 3);
        assert_eq!(length("héllo wörld"), 11);
        assert_eq!(length("a     b"), 3);
        assert_eq!(length("🦀🦀"), 2);
    }

    #[tokio::test]
    async fn the_default_policy_follows_asvs() {
        let policy = PasswordPolicy::default();
        let reason = |p: &'static str| {
            let policy = policy.clone();
            async move { policy.check(p).await.err().map(|e| e.reason) }
        };
        assert_eq!(
            reason("elevenchars").await,
            Some("Password should be at least 12 characters".into())
        );
        assert_eq!(
            reason("a          b         ").await,
            Some("Password should be at least 12 characters".into()),
            "spaces do not pad"
        );
        assert_eq!(reason("twelve chars").await, None);
        assert_eq!(
            reason("только кириллица").await,
            None,
            "no composition rule"
        );
        let long: &'static str = "x".repeat(129).leak();
        assert_eq!(
            reason(long).await,
            Some("Password should be at most 128 characters".into())
        );
        let max: &'static str = "é".repeat(128).leak();
        assert_eq!(reason(max).await, None, "characters, not bytes");
        for common in ["1qaz2wsx3edc", "LeaveMeAlone", "QWERTY123456"] {
            assert_eq!(
                reason(common).await,
                Some("Password is too common".into()),
                "{common}"
            );
        }
        assert!(PasswordPolicy::none().check("").await.is_ok());
        assert!(
            PasswordPolicy::default()
                .refuse_common(false)
                .check("1qaz2wsx3edc")
                .await
                .is_ok()
        );
    }
}
