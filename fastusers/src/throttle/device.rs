//! [`DeviceTokens`]: OWASP's device cookies, so that failures from elsewhere do not lock the
//! owner of an account out.
//!
//! After a successful password login, the client gets a device token: signed with a key
//! derived from the application's secret, bound to the user's id and email, expiring, with a
//! random nonce. It proves that this client logged in as this user before; it never logs
//! anyone in. A login that presents a valid device token for the account it names is counted
//! per device (its own small limit; a device over it is refused until its window ends) and is
//! not refused because of the per-account or per-address counts that failures from elsewhere
//! built up. A login without one, or with a forged, expired or another account's token, is
//! counted per account and per address as usual.
//!
//! # Wire format
//!
//! `fud1.<exp>.<nonce>.<mac>`: `exp` is the expiry in seconds since the Unix epoch (decimal),
//! `nonce` 16 random bytes, `mac` the HMAC-SHA256 of `fud1.<exp>.<nonce>`, a NUL byte, the
//! user's id, a NUL byte and the user's email, both as stored; `nonce` and `mac` are base64url
//! without padding. The HMAC key is HMAC-SHA256(secret, `fastusers device token key v1`). The
//! token names neither the user nor the email: the login's `username` says which account it
//! is checked against.
//!
//! Cookie transports set it as an HttpOnly cookie (default `fastusers_device`, `Secure`,
//! `SameSite=strict`, `Max-Age` the token's lifetime); the Bearer transport adds
//! `"device_token"` to its login JSON. A client presents it in the device cookie or in the
//! login form's `device_token` field, on any backend.

use std::time::Duration;

use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Limit;
use crate::keys::{Purpose, Secret};
use crate::token::now;
use crate::transport::{CookieTransport, SameSite, Transport};

/// The version tag that starts every device token.
const VERSION: &str = "fud1";
/// The longest device token read: a longer one is not a device token.
const MAX_LEN: usize = 128;

/// Device tokens: give them to [`LoginThrottle::device_tokens`](super::LoginThrottle::device_tokens).
///
/// ```
/// use std::time::Duration;
/// use fastusers::prelude::*;
/// use fastusers::keys::Secret;
/// use fastusers::throttle::{DeviceTokens, LoginThrottle};
///
/// let secret = Secret::new("the application's secret, 32 bytes or more").unwrap();
/// let devices = DeviceTokens::new(&secret)
///     .lifetime(Duration::from_secs(30 * 24 * 3600))
///     .per_device(5, Duration::from_secs(15 * 60))
///     .cookie(CookieTransport::new().name("fastusers_device").secure(true));
/// let throttle = LoginThrottle::new().device_tokens(devices);
/// # let _ = throttle;
/// ```
#[derive(Clone)]
pub struct DeviceTokens {
    key: [u8; 32],
    lifetime: Duration,
    limit: Limit,
    cookie: CookieTransport,
}

impl std::fmt::Debug for DeviceTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceTokens")
            .field("lifetime", &self.lifetime)
            .field("limit", &self.limit)
            .field("cookie", &self.cookie.cookie_name())
            .finish_non_exhaustive()
    }
}

/// A device whose token was valid for the account of the login: counted under its nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrustedDevice(pub(crate) String);

/// A token's parts, read but not yet checked against an account.
struct Parsed<'a> {
    signed: &'a str,
    nonce: &'a str,
    mac: Vec<u8>,
}

impl DeviceTokens {
    /// Device tokens signed with a key derived from `secret` (its [`Purpose::DEVICE`] key,
    /// and an HMAC of that under a label of this format's own, so that they stay apart from
    /// every other token signed with the secret, even after
    /// [`same_key_for_every_purpose`](Secret::same_key_for_every_purpose)). Defaults: a
    /// lifetime of 30 days, 5 failed logins per device in 15 minutes, the cookie
    /// `fastusers_device` (HttpOnly, Secure, `SameSite=strict`, `Path=/`).
    pub fn new(secret: &Secret) -> Self {
        let mut derive = Hmac::<Sha256>::new_from_slice(&secret.key_bytes(Purpose::DEVICE))
            .expect("HMAC takes any key");
        derive.update(b"fastusers device token key v1");
        Self {
            key: derive.finalize().into_bytes().into(),
            lifetime: Duration::from_secs(30 * 24 * 3600),
            limit: Limit {
                max_failures: 5,
                window: Duration::from_secs(15 * 60),
            },
            cookie: CookieTransport::new()
                .name("fastusers_device")
                .same_site(SameSite::Strict),
        }
    }

    /// How long a device token is valid (whole seconds).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// At most `max_failures` failed logins from one device in `window`; then the device's
    /// logins are refused until the window ends.
    pub fn per_device(mut self, max_failures: u32, window: Duration) -> Self {
        self.limit = Limit {
            max_failures,
            window,
        };
        self
    }

    /// The device cookie's name and attributes (turn `secure` off only for plain-HTTP
    /// development, as for the auth cookie). Its `Max-Age` is always the token's lifetime.
    pub fn cookie(mut self, cookie: CookieTransport) -> Self {
        self.cookie = cookie;
        self
    }

    /// The device cookie's name.
    pub fn cookie_name(&self) -> &str {
        self.cookie.cookie_name()
    }

    /// The per-device limit.
    pub fn limit(&self) -> Limit {
        self.limit
    }

    /// A new device token for the user with this id and email (as stored): what the login
    /// route gives after a successful login.
    pub fn issue(&self, user_id: &str, email: &str) -> String {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let exp = now().saturating_add(self.lifetime.as_secs());
        let signed = format!("{VERSION}.{exp}.{}", URL_SAFE_NO_PAD.encode(nonce));
        let mac = self.mac(&signed, user_id, email).finalize().into_bytes();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    /// The `Set-Cookie` value that stores `token` in the device cookie.
    pub(crate) fn set_cookie_value(&self, token: &str) -> String {
        self.cookie
            .cookie_with(token, Some(self.lifetime.as_secs()))
    }

    /// The device tokens a login presents, well-formed and unexpired (not yet checked against
    /// any account): the form's `device_token`, then the device cookie.
    pub(crate) fn presented<'a>(&self, form: Option<&'a str>, parts: &'a Parts) -> Vec<&'a str> {
        let mut found = Vec::new();
        for token in [form, self.cookie.token(parts)].into_iter().flatten() {
            if self.parse(token).is_some() && !found.contains(&token) {
                found.push(token);
            }
        }
        found
    }

    /// The device of `token` when it is valid for the user with this id and email.
    pub(crate) fn verify(&self, token: &str, user_id: &str, email: &str) -> Option<TrustedDevice> {
        let parsed = self.parse(token)?;
        self.mac(parsed.signed, user_id, email)
            .verify_slice(&parsed.mac)
            .ok()?;
        Some(TrustedDevice(parsed.nonce.to_owned()))
    }

    /// A well-formed, unexpired token's parts.
    fn parse<'a>(&self, token: &'a str) -> Option<Parsed<'a>> {
        if token.len() > MAX_LEN {
            return None;
        }
        let (signed, mac) = token.rsplit_once('.')?;
        let mut fields = signed.split('.');
        let (version, exp, nonce) = (fields.next()?, fields.next()?, fields.next()?);
        if version != VERSION || fields.next().is_some() {
            return None;
        }
        let exp: u64 = exp.parse().ok()?;
        if exp <= now() || URL_SAFE_NO_PAD.decode(nonce).ok()?.len() != 16 {
            return None;
        }
        Some(Parsed {
            signed,
            nonce,
            mac: URL_SAFE_NO_PAD.decode(mac).ok()?,
        })
    }

    fn mac(&self, signed: &str, user_id: &str, email: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        for part in [signed, "\0", user_id, "\0", email] {
            mac.update(part.as_bytes());
        }
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "9c4adcfb-e6d6-4848-b3e6-a90ff858a848";

    #[test]
    fn a_token_is_valid_for_its_user_only() {
        let devices = DeviceTokens::new(&Secret::accept_weak("secret"));
        let token = devices.issue(ID, "arthur@camelot.bt");
        assert!(
            token.starts_with("fud1.") && token.len() < MAX_LEN,
            "{token}"
        );
        let device = devices.verify(&token, ID, "arthur@camelot.bt").unwrap();
        assert_eq!(device.0, token.split('.').nth(2).unwrap());
        assert!(devices.verify(&token, ID, "kay@camelot.bt").is_none());
        assert!(
            devices
                .verify(&token, "another-id", "arthur@camelot.bt")
                .is_none()
        );
        assert!(
            DeviceTokens::new(&Secret::accept_weak("other"))
                .verify(&token, ID, "arthur@camelot.bt")
                .is_none()
        );
        // A later expiry with the old signature.
        let mut fields: Vec<&str> = token.split('.').collect();
        let later = (now() + 10 * 365 * 24 * 3600).to_string();
        fields[1] = &later;
        assert!(
            devices
                .verify(&fields.join("."), ID, "arthur@camelot.bt")
                .is_none()
        );
        // Two logins, two devices.
        let again = devices.issue(ID, "arthur@camelot.bt");
        assert_ne!(
            devices.verify(&again, ID, "arthur@camelot.bt"),
            Some(device)
        );
    }

    #[test]
    fn expired_and_malformed_tokens_are_refused() {
        let devices = DeviceTokens::new(&Secret::accept_weak("secret"));
        let expired = devices
            .clone()
            .lifetime(Duration::ZERO)
            .issue(ID, "arthur@camelot.bt");
        assert!(devices.verify(&expired, ID, "arthur@camelot.bt").is_none());
        let good = devices.issue(ID, "arthur@camelot.bt");
        for bad in [
            "",
            "fud1",
            "fud1...",
            "fud2.99999999999.AAAAAAAAAAAAAAAAAAAAAA.x",
            &format!("{good}.extra"),
            &format!("{good}{}", "A".repeat(MAX_LEN)),
            &good.replacen("fud1.", "fud1.x", 1),
        ] {
            assert!(
                devices.verify(bad, ID, "arthur@camelot.bt").is_none(),
                "{bad:?}"
            );
        }
    }
}
