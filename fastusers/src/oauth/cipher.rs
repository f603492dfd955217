//! [`TokenCipher`]: the key that encrypts the provider tokens an application asks to keep.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// How an encrypted token begins: the format's version.
const PREFIX: &str = "fuenc1.";
/// What every ciphertext is bound to, so that no other use of the key can produce one.
const ASSOCIATED_DATA: &[u8] = b"fastusers/oauth-provider-token/v1";
/// The info under which the key is derived from the configured secret.
const KEY_INFO: &[u8] = b"fastusers/oauth-provider-tokens";
/// The shortest secret accepted: 256 bits.
const MIN_SECRET_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// Why a [`TokenCipher`] could not be made, or a stored token not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CipherError {
    /// The secret is too short to make a key of.
    #[error(
        "the provider-token secret is {len} bytes long; it must be at least 32 bytes (say, \
         `openssl rand -hex 32`)"
    )]
    WeakSecret {
        /// The secret's length in bytes.
        len: usize,
    },
    /// No key of the cipher opens this stored token: it was encrypted with a key the cipher
    /// no longer has, or changed in the database.
    #[error("the stored provider token cannot be decrypted with the configured keys")]
    Undecryptable,
}

/// Encrypts the provider tokens that the OAuth routes store, with XChaCha20-Poly1305 (an
/// AEAD: a changed ciphertext is refused, not decrypted into garbage), under a key derived
/// from a secret of the application's (HKDF-SHA256). Give it to
/// [`OAuthOptions::store_provider_tokens`](super::OAuthOptions::store_provider_tokens).
///
/// A stored token is `fuenc1.` and the URL-safe base64 of a random 24-byte nonce and the
/// ciphertext with its tag. To change the secret, make the cipher with the new one and keep the
/// old one to read what it encrypted: [`also_decrypts_with`](Self::also_decrypts_with).
///
/// ```
/// use fastusers::oauth::TokenCipher;
///
/// let cipher = TokenCipher::new("another long random secret, 32 bytes+").unwrap();
/// let stored = cipher.encrypt("ya29.provider-access-token");
/// assert!(stored.starts_with("fuenc1.") && !stored.contains("ya29"));
/// assert_eq!(cipher.decrypt(&stored).unwrap(), "ya29.provider-access-token");
///
/// let rotated = TokenCipher::new("the secret of next year, 32 bytes+")
///     .unwrap()
///     .also_decrypts_with("another long random secret, 32 bytes+")
///     .unwrap();
/// assert_eq!(rotated.decrypt(&stored).unwrap(), "ya29.provider-access-token");
/// assert!(TokenCipher::new("short").is_err());
/// ```
#[derive(Clone)]
pub struct TokenCipher {
    /// The key that encrypts first, then the older ones that still decrypt.
    keys: Vec<XChaCha20Poly1305>,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCipher")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

fn key_of(secret: &[u8]) -> Result<XChaCha20Poly1305, CipherError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(CipherError::WeakSecret { len: secret.len() });
    }
    let mut key = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(None, secret)
        .expand(KEY_INFO, &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    Ok(XChaCha20Poly1305::new(&key.into()))
}

impl TokenCipher {
    /// A cipher whose key is derived from `secret`, at least 32 bytes long (a random one of
    /// its own, not the JWT secret).
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, CipherError> {
        Ok(Self {
            keys: vec![key_of(secret.as_ref())?],
        })
    }

    /// Also decrypts what a cipher made from `old_secret` encrypted (after a change of
    /// secret); only the first secret encrypts.
    pub fn also_decrypts_with(mut self, old_secret: impl AsRef<[u8]>) -> Result<Self, CipherError> {
        self.keys.push(key_of(old_secret.as_ref())?);
        Ok(self)
    }

    /// Encrypts a token under a fresh random nonce.
    pub fn encrypt(&self, token: &str) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let payload = Payload {
            msg: token.as_bytes(),
            aad: ASSOCIATED_DATA,
        };
        let ciphertext = self.keys[0]
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("XChaCha20-Poly1305 encrypts any token a provider gives");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
        )
    }

    /// Decrypts a token that [`encrypt`](Self::encrypt) made with one of the cipher's keys.
    pub fn decrypt(&self, stored: &str) -> Result<String, CipherError> {
        let sealed = stored
            .strip_prefix(PREFIX)
            .and_then(|b64| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(b64)
                    .ok()
            })
            .filter(|sealed| sealed.len() > NONCE_BYTES)
            .ok_or(CipherError::Undecryptable)?;
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        self.keys
            .iter()
            .find_map(|key| {
                let payload = Payload {
                    msg: ciphertext,
                    aad: ASSOCIATED_DATA,
                };
                key.decrypt(XNonce::from_slice(nonce), payload).ok()
            })
            .and_then(|plain| String::from_utf8(plain).ok())
            .ok_or(CipherError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a provider-token secret, 32 bytes";

    #[test]
    fn a_changed_ciphertext_or_another_key_is_refused() {
        let cipher = TokenCipher::new(SECRET).unwrap();
        let stored = cipher.encrypt("token");
        assert_ne!(stored, cipher.encrypt("token"), "a fresh nonce each time");
        let mut bytes = stored.clone().into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(cipher.decrypt(&tampered).is_err());
        let other = TokenCipher::new("another provider-token secret, 32b").unwrap();
        assert!(other.decrypt(&stored).is_err());
        assert!(cipher.decrypt("token").is_err(), "a token stored in clear");
        assert!(cipher.decrypt("fuenc1.").is_err());
        assert!(matches!(
            TokenCipher::new([1u8; 31]),
            Err(CipherError::WeakSecret { len: 31 })
        ));
    }
}
