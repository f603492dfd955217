//! Revocation times: a saved password change, password reset or deactivation ends every
//! session of the user, on every backend, whatever state the token stores are in.
//!
//! The change and the user's revocation time (the moment up to which their sessions are void)
//! are written in one database transaction, in the `fastusers_revocation` table. Every
//! strategy reads that time with the user, in the same query, and refuses a token issued at or
//! before it: a JWT by its `iat` claim, a database token by its `created_at`, a Redis token by
//! its creation time in the user's index. So a revocation cannot be lost: not when Redis is
//! down at the time of the change, not for JWTs, which no store holds. The tokens themselves
//! are then deleted where they are kept, as far as the stores answer; a token left behind is
//! refused, and deleted when it is presented.
//!
//! Times are kept to the microsecond (what PostgreSQL's `TIMESTAMPTZ` keeps), so that a token
//! issued just after a change, in the same second, is not refused with the older ones. The
//! instances of an application compare the clocks of the machines they run on: keep them in
//! step (NTP).

use chrono::{DateTime, Utc};

/// A moment, to the microsecond.
pub type Timestamp = DateTime<Utc>;

/// Now, to the microsecond.
pub fn now() -> Timestamp {
    from_micros(Utc::now().timestamp_micros())
}

fn from_micros(micros: i64) -> Timestamp {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// A moment given in seconds since the Unix epoch, with a fraction (a JWT's `iat`, a Redis
/// score); `None` when it is not a representable time.
pub fn from_seconds(seconds: f64) -> Option<Timestamp> {
    let micros = (seconds * 1e6).round();
    // Also refuses NaN and the infinities.
    if !(i64::MIN as f64..=i64::MAX as f64).contains(&micros) {
        return None;
    }
    DateTime::from_timestamp_micros(micros as i64)
}

/// A moment in seconds since the Unix epoch, with a microsecond fraction: what
/// [`from_seconds`] reads back exactly.
pub fn to_seconds(at: Timestamp) -> f64 {
    at.timestamp_micros() as f64 / 1e6
}

/// A user as the strategies read them: with the moment up to which their sessions are revoked.
#[derive(Debug, Clone)]
pub struct Revocable<U> {
    /// The user.
    pub user: U,
    /// Sessions issued at or before this moment are void; `None` when the user's sessions were
    /// never revoked.
    pub revoked_at: Option<Timestamp>,
}

impl<U> Revocable<U> {
    /// A user whose sessions were never revoked.
    pub fn new(user: U) -> Self {
        Self {
            user,
            revoked_at: None,
        }
    }

    /// Whether a token issued at `issued_at` is still valid. A token whose issue time cannot
    /// be known (`None`) is valid only for a user whose sessions were never revoked.
    ///
    /// ```
    /// use fastusers::revocation::{Revocable, now};
    /// let before = now();
    /// let user = Revocable { user: (), revoked_at: Some(now()) };
    /// assert!(!user.admits(Some(before)));
    /// assert!(!user.admits(None));
    /// assert!(user.admits(Some(before + chrono::Duration::seconds(1))));
    /// assert!(Revocable::new(()).admits(None));
    /// ```
    pub fn admits(&self, issued_at: Option<Timestamp>) -> bool {
        match (self.revoked_at, issued_at) {
            (None, _) => true,
            (Some(revoked), Some(issued)) => issued > revoked,
            (Some(_), None) => false,
        }
    }

    /// The user, if a token issued at `issued_at` is still valid.
    pub fn admit(self, issued_at: Option<Timestamp>) -> Option<U> {
        self.admits(issued_at).then_some(self.user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_trip_to_the_microsecond() {
        let at = now();
        assert_eq!(from_seconds(to_seconds(at)), Some(at));
        assert_eq!(
            from_seconds(1_700_000_000.000_001)
                .unwrap()
                .timestamp_micros(),
            1_700_000_000_000_001
        );
        assert_eq!(from_seconds(f64::NAN), None);
        assert_eq!(from_seconds(f64::INFINITY), None);
        assert_eq!(from_seconds(1e300), None);
    }

    #[test]
    fn a_token_of_the_same_moment_as_the_revocation_is_refused() {
        let at = now();
        let user = Revocable {
            user: (),
            revoked_at: Some(at),
        };
        assert!(!user.admits(Some(at)));
        assert!(user.admits(Some(at + chrono::Duration::microseconds(1))));
    }
}
