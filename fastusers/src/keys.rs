//! Keys: the application's secret, one key per purpose derived from it, and key sets that
//! rotate without logging anybody out.
//!
//! A new application configures one [`Secret`] and derives a key for each kind of token from
//! it with HKDF-SHA256 ([`Purpose`]: access tokens, verification, reset, OAuth state, and any
//! purpose of its own), so that no token of one kind is ever accepted as another, whatever its
//! claims say. An application that shares its tokens with fastapi-users (or keeps the tokens
//! fastapi-users issued) uses the secret as it is for every purpose:
//! [`Secret::same_key_for_every_purpose`].
//!
//! ```
//! use fastusers::keys::{Purpose, Secret};
//! use fastusers::keys::JwtKeys;
//!
//! let secret = Secret::new("a long random secret, 32 bytes or more").unwrap();
//! let access = secret.keys(Purpose::ACCESS);
//! let verify = secret.keys(Purpose::VERIFY);
//! let token = access.encode(&serde_json::json!({"sub": "42", "aud": "fastapi-users:verify"})).unwrap();
//! // Signed with the access key: no verification key accepts it, whatever its audience.
//! assert!(verify.decode::<serde_json::Value>(&token, &["fastapi-users:verify"]).is_none());
//!
//! // A secret shorter than 32 bytes is refused, unless accepted explicitly.
//! assert!(Secret::new("SECRET").is_err());
//! let legacy = Secret::accept_weak("SECRET").same_key_for_every_purpose();
//! # let _ = legacy;
//! ```

use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::token::{
    DecodeFailure, JwtKeys, KeyError, MIN_SECRET_BYTES, is_opaque, now, random_token, stored_form,
};

/// What a key signs. Each purpose gets its own key from a [`Secret`]; an application names
/// its own purposes with [`Purpose::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Purpose(&'static str);

impl Purpose {
    /// Access tokens ([`JwtStrategy`](crate::strategy::JwtStrategy)).
    pub const ACCESS: Self = Self("access");
    /// Email verification tokens.
    pub const VERIFY: Self = Self("verify");
    /// Reset-password tokens.
    pub const RESET: Self = Self("reset");
    /// OAuth state tokens, PKCE verifiers and OpenID Connect nonces.
    pub const OAUTH_STATE: Self = Self("oauth-state");
    /// Device tokens of the login throttle
    /// ([`DeviceTokens`](crate::throttle::DeviceTokens)).
    pub const DEVICE: Self = Self("device");

    /// A purpose of the application's own (say `"invitation"` for invitation links): its
    /// key is derived under this label, so it differs from every other purpose's key.
    pub const fn new(label: &'static str) -> Self {
        Self(label)
    }

    /// The label the key is derived under.
    pub fn label(&self) -> &'static str {
        self.0
    }
}

/// The application's secret, the root of its HS256 keys. Cheap to clone; its `Debug` never
/// shows it.
#[derive(Clone)]
pub struct Secret {
    bytes: Arc<[u8]>,
    derive: bool,
    kid: Option<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("len", &self.bytes.len())
            .field("derive", &self.derive)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Secret {
    /// A secret of at least [`MIN_SECRET_BYTES`] (32) bytes, one key per purpose derived from
    /// it. A shorter one is refused with [`KeyError::WeakSecret`], whose message says why.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        Ok(Self::accept_weak(crate::token::check_strength(
            secret.as_ref(),
        )?))
    }

    /// A secret of any length, accepted knowingly: for a deployment that already signs its
    /// tokens with a short one. Anybody who finds it by brute force can sign tokens for every
    /// user; move to a long secret with a [key rotation](KeySet).
    pub fn accept_weak(secret: impl AsRef<[u8]>) -> Self {
        Self {
            bytes: secret.as_ref().into(),
            derive: true,
            kid: None,
        }
    }

    /// 32 random bytes from the operating system: tokens die with the process, and another
    /// instance cannot read them.
    pub fn random() -> Self {
        let mut bytes = [0u8; MIN_SECRET_BYTES];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        Self::accept_weak(bytes)
    }

    /// Uses the secret as it is for every purpose, as fastapi-users does with one `SECRET`:
    /// the tokens are then the ones fastapi-users makes and reads. Each kind of token still
    /// has its own audience, but a token signed for one purpose is signed with every
    /// purpose's key.
    pub fn same_key_for_every_purpose(mut self) -> Self {
        self.derive = false;
        self
    }

    /// Names the keys of this secret (see [`JwtKeys::kid`]), to rotate it in a [`KeySet`].
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The HS256 key of a purpose: HKDF-SHA256 of the secret with the info
    /// `fastusers/hs256/<label>`, or the secret itself after
    /// [`same_key_for_every_purpose`](Self::same_key_for_every_purpose).
    pub fn keys(&self, purpose: Purpose) -> JwtKeys {
        let keys = JwtKeys::hs256_unchecked(&self.key_bytes(purpose));
        match &self.kid {
            Some(kid) => keys.kid(kid.clone()),
            None => keys,
        }
    }

    /// The key material of a purpose (also the HMAC key of what is derived from it, such as
    /// the OAuth PKCE verifier).
    pub(crate) fn key_bytes(&self, purpose: Purpose) -> Vec<u8> {
        if !self.derive {
            return self.bytes.to_vec();
        }
        let mut key = vec![0u8; 32];
        let info = format!("fastusers/hs256/{}", purpose.label());
        hkdf::Hkdf::<sha2::Sha256>::new(None, &self.bytes)
            .expand(info.as_bytes(), &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        key
    }
}

/// A set of keys for one kind of token, shared by every clone: the newest key signs, every
/// key checks, until it is retired. Rotating keys this way logs nobody out.
///
/// A token whose header names a key id (`kid`) is checked with that key only (a key the set
/// does not have, or no longer has, refuses it); a token without one (made before the keys
/// had ids, or by fastapi-users) is checked with each key of the set.
///
/// ```
/// use fastusers::keys::{KeySet, Purpose, Secret};
///
/// let old = Secret::new("the secret of last year, 32 bytes+").unwrap().kid("2024");
/// let keys = KeySet::new(old.keys(Purpose::ACCESS));
/// let claims = serde_json::json!({"sub": "42", "aud": "fastapi-users:auth"});
/// let before = keys.encode(&claims).unwrap();
///
/// let new = Secret::new("the secret of this year, 32 bytes+").unwrap().kid("2025");
/// keys.rotate(new.keys(Purpose::ACCESS)).unwrap(); // new tokens: "kid": "2025"
/// let after = keys.encode(&claims).unwrap();
/// let decode = |t: &str| keys.decode::<serde_json::Value>(t, &["fastapi-users:auth"]);
/// assert!(decode(&before).is_some() && decode(&after).is_some());
///
/// keys.retire("2024").unwrap(); // once the old tokens have expired
/// assert!(decode(&before).is_none() && decode(&after).is_some());
/// ```
#[derive(Clone)]
pub struct KeySet {
    ring: Arc<RwLock<Arc<Ring>>>,
}

/// The keys at one moment; replaced whole on each change, so that a request reads a
/// consistent set without holding the lock.
#[derive(Clone)]
struct Ring {
    /// Newest first.
    keys: Vec<JwtKeys>,
    /// The index of the key that signs.
    signing: usize,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ring = self.ring();
        f.debug_struct("KeySet")
            .field("signing", &ring.keys[ring.signing].key_id())
            .field("kids", &self.kids())
            .finish()
    }
}

impl From<JwtKeys> for KeySet {
    fn from(keys: JwtKeys) -> Self {
        Self::new(keys)
    }
}

impl KeySet {
    /// A set of one key, which signs.
    pub fn new(keys: JwtKeys) -> Self {
        Self {
            ring: Arc::new(RwLock::new(Arc::new(Ring {
                keys: vec![keys],
                signing: 0,
            }))),
        }
    }

    fn ring(&self) -> Arc<Ring> {
        self.ring
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn change(
        &self,
        change: impl FnOnce(&mut Ring) -> Result<(), KeyError>,
    ) -> Result<(), KeyError> {
        let mut guard = self.ring.write().unwrap_or_else(PoisonError::into_inner);
        let mut ring = (**guard).clone();
        change(&mut ring)?;
        *guard = Arc::new(ring);
        Ok(())
    }

    /// Adds a key that signs every new token from now on; the others still check theirs. The
    /// key needs an id of its own ([`JwtKeys::kid`]). A key already [accepted](Self::accept)
    /// under that id starts signing.
    pub fn rotate(&self, keys: JwtKeys) -> Result<(), KeyError> {
        self.change(|ring| {
            let kid = keys.key_id().ok_or(KeyError::KeyId("this one has none"))?;
            match ring.keys.iter().position(|k| k.key_id() == Some(kid)) {
                Some(i) if i == ring.signing => Err(KeyError::KeyId("this one signs already")),
                Some(i) => {
                    ring.keys.remove(i);
                    ring.keys.insert(0, keys);
                    ring.signing = 0;
                    Ok(())
                }
                None => {
                    ring.keys.insert(0, keys);
                    ring.signing = 0;
                    Ok(())
                }
            }
        })
    }

    /// Adds a key that checks tokens but signs none yet. With several instances, accept the
    /// new key everywhere first, then [rotate](Self::rotate) to it: no instance then meets a
    /// token signed with a key it does not know.
    pub fn accept(&self, keys: JwtKeys) -> Result<(), KeyError> {
        self.change(|ring| {
            let kid = keys.key_id().ok_or(KeyError::KeyId("this one has none"))?;
            if ring.keys.iter().any(|k| k.key_id() == Some(kid)) {
                return Err(KeyError::KeyId("the set has this one already"));
            }
            ring.keys.push(keys);
            Ok(())
        })
    }

    /// Removes the key with this id: the tokens it signed are refused from now on. `false`
    /// when the set has no such key; an error for the key that signs.
    pub fn retire(&self, kid: &str) -> Result<bool, KeyError> {
        let mut found = false;
        self.change(|ring| {
            let Some(i) = ring.keys.iter().position(|k| k.key_id() == Some(kid)) else {
                return Ok(());
            };
            if i == ring.signing {
                return Err(KeyError::SigningKey(kid.to_owned()));
            }
            ring.keys.remove(i);
            if i < ring.signing {
                ring.signing -= 1;
            }
            found = true;
            Ok(())
        })?;
        Ok(found)
    }

    /// The key ids of the set, the signing key's first (`None` for a key without one).
    pub fn kids(&self) -> Vec<Option<String>> {
        let ring = self.ring();
        let signing = ring.keys[ring.signing].key_id();
        std::iter::once(signing)
            .chain(
                ring.keys
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != ring.signing)
                    .map(|(_, k)| k.key_id()),
            )
            .map(|k| k.map(str::to_owned))
            .collect()
    }

    /// Signs `claims` with the signing key (its `kid` in the header).
    pub fn encode<C: Serialize>(&self, claims: &C) -> Result<String, jsonwebtoken::errors::Error> {
        let ring = self.ring();
        ring.keys[ring.signing].encode(claims)
    }

    /// [`JwtKeys::decode`] with the key the token names, or with each key when it names none.
    pub fn decode<C: DeserializeOwned>(&self, token: &str, audience: &[&str]) -> Option<C> {
        self.decode_or_why(token, audience).ok()
    }

    /// [`decode`](Self::decode), telling an expired token from any other failure.
    pub fn decode_or_why<C: DeserializeOwned>(
        &self,
        token: &str,
        audience: &[&str],
    ) -> Result<C, DecodeFailure> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| DecodeFailure::Invalid)?;
        let ring = self.ring();
        if let Some(kid) = header.kid.as_deref() {
            let keys = ring
                .keys
                .iter()
                .find(|k| k.key_id() == Some(kid))
                .ok_or(DecodeFailure::Invalid)?;
            return keys.decode_or_why(token, audience);
        }
        let mut failure = DecodeFailure::Invalid;
        for keys in &ring.keys {
            match keys.decode_or_why(token, audience) {
                Ok(claims) => return Ok(claims),
                // The signature matched: this is the token's key.
                Err(DecodeFailure::Expired) => failure = DecodeFailure::Expired,
                Err(DecodeFailure::Invalid) => {}
            }
        }
        Err(failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const AUD: &[&str] = &["fastapi-users:auth"];

    fn secret(label: &str) -> Secret {
        Secret::new(format!("{label}: thirty-two bytes or more of secret")).unwrap()
    }

    #[test]
    fn each_purpose_has_its_own_key_unless_asked_otherwise() {
        let s = secret("a");
        let claims = json!({"sub": "1", "aud": AUD});
        let access = s.keys(Purpose::ACCESS).encode(&claims).unwrap();
        for other in [
            Purpose::VERIFY,
            Purpose::RESET,
            Purpose::OAUTH_STATE,
            Purpose::new("device"),
        ] {
            assert!(s.keys(other).decode::<Value>(&access, AUD).is_none());
        }
        assert!(
            s.keys(Purpose::ACCESS)
                .decode::<Value>(&access, AUD)
                .is_some()
        );
        // Derived keys are stable: another process with the same secret reads the token.
        assert!(
            secret("a")
                .keys(Purpose::ACCESS)
                .decode::<Value>(&access, AUD)
                .is_some()
        );
        let raw = secret("a").same_key_for_every_purpose();
        let token = raw.keys(Purpose::ACCESS).encode(&claims).unwrap();
        assert!(
            raw.keys(Purpose::RESET)
                .decode::<Value>(&token, AUD)
                .is_some()
        );
        let plain = JwtKeys::hs256("a: thirty-two bytes or more of secret").unwrap();
        assert!(
            plain.decode::<Value>(&token, AUD).is_some(),
            "the raw secret, as fastapi-users"
        );
    }

    #[test]
    fn weak_secrets_need_to_be_accepted() {
        assert!(matches!(
            Secret::new("SECRET"),
            Err(KeyError::WeakSecret { len: 6 })
        ));
        let weak = Secret::accept_weak("SECRET").same_key_for_every_purpose();
        let token = weak
            .keys(Purpose::ACCESS)
            .encode(&json!({"aud": AUD}))
            .unwrap();
        assert!(
            jsonwebtoken::decode::<Value>(
                &token,
                &jsonwebtoken::DecodingKey::from_secret(b"SECRET"),
                &{
                    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
                    v.set_audience(AUD);
                    v.required_spec_claims.clear();
                    v
                }
            )
            .is_ok()
        );
        assert!(!format!("{weak:?}").contains("SECRET"));
    }

    #[test]
    fn rotation_signs_with_the_newest_and_checks_with_all_until_retired() {
        let claims = json!({"sub": "1", "aud": AUD});
        let set = KeySet::new(secret("1").kid("1").keys(Purpose::ACCESS));
        let legacy = secret("1").keys(Purpose::ACCESS).encode(&claims).unwrap();
        let one = set.encode(&claims).unwrap();
        set.rotate(secret("2").kid("2").keys(Purpose::ACCESS))
            .unwrap();
        let two = set.encode(&claims).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&two).unwrap().kid.as_deref(),
            Some("2")
        );
        assert_eq!(set.kids(), [Some("2".to_owned()), Some("1".to_owned())]);
        for token in [&legacy, &one, &two] {
            assert!(set.decode::<Value>(token, AUD).is_some());
        }
        assert!(matches!(set.retire("2"), Err(KeyError::SigningKey(_))));
        assert!(set.retire("1").unwrap());
        assert!(!set.retire("1").unwrap());
        assert!(set.decode::<Value>(&one, AUD).is_none());
        assert!(set.decode::<Value>(&legacy, AUD).is_none());
        assert!(set.decode::<Value>(&two, AUD).is_some());
        // A token naming a key id the set does not know is refused, even when another key
        // would check its signature.
        let forged_kid = secret("2")
            .kid("9")
            .keys(Purpose::ACCESS)
            .encode(&claims)
            .unwrap();
        assert!(set.decode::<Value>(&forged_kid, AUD).is_none());
        assert!(
            set.rotate(secret("3").keys(Purpose::ACCESS)).is_err(),
            "no kid"
        );
        assert!(
            set.rotate(secret("3").kid("2").keys(Purpose::ACCESS))
                .is_err(),
            "signs"
        );
    }

    #[test]
    fn accepted_keys_check_but_do_not_sign_until_rotated_to() {
        let claims = json!({"sub": "1", "aud": AUD});
        let set = KeySet::new(secret("1").kid("1").keys(Purpose::ACCESS));
        let next = secret("2").kid("2").keys(Purpose::ACCESS);
        set.accept(next.clone()).unwrap();
        let token = set.encode(&claims).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(),
            Some("1")
        );
        assert!(
            set.decode::<Value>(&next.encode(&claims).unwrap(), AUD)
                .is_some()
        );
        set.rotate(next).unwrap();
        assert_eq!(set.kids(), [Some("2".to_owned()), Some("1".to_owned())]);
        let token = set.encode(&claims).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(),
            Some("2")
        );
    }

    #[test]
    fn an_expired_token_is_told_apart_when_its_key_has_no_kid() {
        let set = KeySet::new(secret("1").keys(Purpose::ACCESS));
        set.rotate(secret("2").kid("2").keys(Purpose::ACCESS))
            .unwrap();
        let expired = secret("1")
            .keys(Purpose::ACCESS)
            .encode(&json!({"aud": AUD, "exp": 1}))
            .unwrap();
        assert_eq!(
            set.decode_or_why::<Value>(&expired, AUD).unwrap_err(),
            DecodeFailure::Expired
        );
    }
}
