//! Provider (OAuth) accounts: what can go wrong with them, and what clients see of them. The
//! user manager's operations on them are in `manager/oauth.rs`.

use super::options::OAuthOptions;
use crate::manager::UserError;
use crate::store::{OAuthAccount, StoreError};

/// Why an OAuth operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// The user store keeps no OAuth accounts.
    #[error("the user store keeps no OAuth accounts (derive User with #[fastusers(oauth)])")]
    NoAccountStore,
    /// The provider gave no email address.
    #[error("the provider gave no email address")]
    NoEmail,
    /// A user with the provider's email exists, and may not be linked by email.
    #[error("a user with this email already exists")]
    UserAlreadyExists,
    /// This provider account is already linked to another user.
    #[error("this provider account is linked to another user")]
    LinkedElsewhere,
    /// Unlinking would leave the user no way to log in (no password, no other account).
    #[error("the user would have no way left to log in")]
    LastLoginMethod,
    /// The user has no account at this provider.
    #[error("no account at this provider is linked")]
    NotLinked,
    /// Any other failure of the manager or the store.
    #[error(transparent)]
    User(#[from] UserError),
}

impl From<StoreError> for OAuthError {
    fn from(error: StoreError) -> Self {
        Self::User(UserError::Store(error))
    }
}

/// What clients see of an account: no provider tokens unless the options expose the ones
/// they store (decrypted; a token that cannot be is shown as `null`).
pub(crate) fn account_json(account: &OAuthAccount, options: &OAuthOptions) -> serde_json::Value {
    let mut value = serde_json::json!({
        "id": account.id,
        "oauth_name": account.oauth_name,
        "expires_at": account.expires_at,
        "account_id": account.account_id,
        "account_email": account.account_email,
    });
    if let (true, Some(cipher)) = (options.expose_provider_tokens, &options.token_cipher) {
        let open = |stored: &str| cipher.decrypt(stored).ok();
        value["access_token"] = open(&account.access_token).into();
        value["refresh_token"] = account.refresh_token.as_deref().and_then(open).into();
    }
    value
}
