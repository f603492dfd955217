//! The user manager's OAuth operations: sign-up or login through a provider, linking and
//! unlinking provider accounts.

use std::sync::Arc;

use super::UserManager;
use crate::hooks::RequestInfo;
use crate::notice::SecurityEvent;
use crate::oauth::{Identity, OAuthError, OAuthOptions, ProviderTokens};
use crate::password::PasswordHelper;
use crate::store::{OAuthAccount, OAuthAccountStore, StoreError};
use crate::user::{OAuthUser, UserChanges, UserId};

/// The provider's tokens as they are stored: encrypted when the application keeps them
/// ([`OAuthOptions::store_provider_tokens`]), else none (an empty access token, no refresh
/// token).
fn stored_tokens(tokens: &ProviderTokens, options: &OAuthOptions) -> (String, Option<String>) {
    match &options.token_cipher {
        Some(cipher) => (
            cipher.encrypt(&tokens.access_token),
            tokens.refresh_token.as_deref().map(|t| cipher.encrypt(t)),
        ),
        None => (String::new(), None),
    }
}

fn new_account(
    oauth_name: &str,
    tokens: &ProviderTokens,
    identity: &Identity,
    email: &str,
    options: &OAuthOptions,
) -> OAuthAccount {
    let (access_token, refresh_token) = stored_tokens(tokens, options);
    OAuthAccount {
        id: uuid::Uuid::new_v4(),
        oauth_name: oauth_name.to_owned(),
        access_token,
        expires_at: tokens.expires_at,
        refresh_token,
        account_id: identity.account_id.clone(),
        account_email: email.to_owned(),
    }
}

fn linked(oauth_name: &str, email: &str) -> SecurityEvent {
    SecurityEvent::OAuthAccountLinked {
        provider: oauth_name.to_owned(),
        account_email: email.to_owned(),
    }
}

/// The provider's email, normalised as registration does when it can be.
fn email_of(identity: &Identity) -> Result<String, OAuthError> {
    let email = identity.email.as_deref().ok_or(OAuthError::NoEmail)?;
    Ok(crate::email::normalize(email).unwrap_or_else(|_| email.to_owned()))
}

impl<U: OAuthUser> UserManager<U> {
    fn oauth_store(&self) -> Result<Arc<dyn OAuthAccountStore<U>>, OAuthError> {
        self.store()
            .oauth_accounts()
            .ok_or(OAuthError::NoAccountStore)
    }

    /// Stores what a fresh login says of the user's provider account (`fresh`, as
    /// [`new_account`] makes it: its tokens as [`stored_tokens`] says, or none, replacing any
    /// the account held) on the account the user already has.
    async fn refresh_account(
        &self,
        store: &dyn OAuthAccountStore<U>,
        user: &U,
        fresh: OAuthAccount,
        options: &OAuthOptions,
    ) -> Result<(), OAuthError> {
        let accounts = store.oauth_accounts_of(user.id()).await?;
        if let Some(account) = accounts
            .into_iter()
            .find(|a| a.oauth_name == fresh.oauth_name && a.account_id == fresh.account_id)
        {
            // A provider that gave no new refresh token leaves the one stored before, if this
            // cipher made it (not one stored in clear by fastapi-users).
            let kept = account.refresh_token.clone().filter(|old| {
                options
                    .token_cipher
                    .as_ref()
                    .is_some_and(|c| c.decrypt(old).is_ok())
            });
            let updated = OAuthAccount {
                access_token: fresh.access_token,
                expires_at: fresh.expires_at,
                refresh_token: fresh.refresh_token.or(kept),
                account_email: fresh.account_email,
                ..account
            };
            store.update_oauth_account(&updated).await?;
        }
        Ok(())
    }

    /// Takes over an account whose email was never verified for the owner of that email, as a
    /// provider vouches for it: the password made unusable (and the account verified when
    /// `verify`), every session ended in the same transaction, every provider account
    /// unlinked. Whoever registered it keeps no way in.
    async fn take_over(
        &self,
        store: &dyn OAuthAccountStore<U>,
        user: &U,
        verify: bool,
        request: RequestInfo<'_>,
    ) -> Result<U, OAuthError> {
        let mut changes = U::Changes::default();
        changes.set_hashed_password(PasswordHelper::unusable());
        if verify {
            changes.set_is_verified(true);
        }
        let user = self.apply_and_revoke(user, changes, request).await?;
        for account in store.oauth_accounts_of(user.id()).await? {
            store
                .remove_oauth_account(user.id(), &account.oauth_name)
                .await?;
        }
        tracing::warn!(
            target: "fastusers::oauth",
            user = %user.id(),
            "an account whose email was never verified was taken over by the email's owner \
             through a provider: its password and sessions are void"
        );
        Ok(user)
    }

    /// Logs in or signs up the owner of a provider account, as fastapi-users'
    /// `oauth_callback`, with these options:
    /// - a linked account logs its user in (and its tokens are stored, if the options say so);
    /// - otherwise, a user with the provider's email gets the account linked when
    ///   `associate_by_email` is on, the provider vouches for the email and the user verified
    ///   it (or, with `take_over_unverified`, after the unverified account is taken over),
    ///   else [`OAuthError::UserAlreadyExists`]; the user is told of the link;
    /// - otherwise a new user is created, without a usable password (a password reset gives
    ///   one), verified when `is_verified_by_default` is on and the provider vouches for the
    ///   email; `on_after_register` runs.
    ///
    /// The caller checks that the user is active.
    pub async fn oauth_callback(
        &self,
        oauth_name: &str,
        tokens: &ProviderTokens,
        identity: &Identity,
        options: &OAuthOptions,
        request: RequestInfo<'_>,
    ) -> Result<U, OAuthError> {
        let store = self.oauth_store()?;
        let email = email_of(identity)?;
        if let Some(user) = store
            .get_by_oauth_account(oauth_name, &identity.account_id)
            .await?
        {
            let fresh = new_account(oauth_name, tokens, identity, &email, options);
            self.refresh_account(store.as_ref(), &user, fresh, options)
                .await?;
            return Ok(user);
        }
        let account = new_account(oauth_name, tokens, identity, &email, options);
        if let Some(user) = self.get_by_email(&email).await? {
            if !(options.associate_by_email && identity.email_verified) {
                return Err(OAuthError::UserAlreadyExists);
            }
            let user = match (user.is_verified(), options.take_over_unverified) {
                (true, _) => user,
                (false, true) => {
                    let verify = options.is_verified_by_default;
                    self.take_over(store.as_ref(), &user, verify, request)
                        .await?
                }
                // Registered by someone who never proved the address theirs: perhaps not
                // its owner, who is signing in now.
                (false, false) => return Err(OAuthError::UserAlreadyExists),
            };
            return match store.add_oauth_account(user.id(), &account).await {
                Ok(()) => {
                    self.notify(&user, linked(oauth_name, &email), request)
                        .await;
                    Ok(user)
                }
                Err(StoreError::Conflict(_)) => Err(OAuthError::LinkedElsewhere),
                Err(other) => Err(other.into()),
            };
        }
        let user = U::from_oauth(
            U::Id::generate(),
            email,
            PasswordHelper::unusable(),
            options.is_verified_by_default && identity.email_verified,
        );
        let user = self.store().create(&user).await.map_err(|e| match e {
            // A concurrent sign-up or registration took the email first.
            StoreError::Conflict(_) => OAuthError::UserAlreadyExists,
            other => other.into(),
        })?;
        if let Err(error) = store.add_oauth_account(user.id(), &account).await {
            // A concurrent sign-up with the same provider account won: undo ours.
            self.store().delete(user.id()).await?;
            return Err(match error {
                StoreError::Conflict(_) => OAuthError::LinkedElsewhere,
                other => other.into(),
            });
        }
        self.hooks().on_after_register(&user, request).await;
        Ok(user)
    }

    /// Links a provider account to `user`, as fastapi-users' associate callback; refused when
    /// the account is linked to someone else. Calls `on_after_update` with no changes, and
    /// tells the user of a new link.
    pub async fn oauth_associate(
        &self,
        user: &U,
        oauth_name: &str,
        tokens: &ProviderTokens,
        identity: &Identity,
        options: &OAuthOptions,
        request: RequestInfo<'_>,
    ) -> Result<(), OAuthError> {
        let store = self.oauth_store()?;
        let email = email_of(identity)?;
        let new = match store
            .get_by_oauth_account(oauth_name, &identity.account_id)
            .await?
        {
            Some(owner) if owner.id() == user.id() => {
                let fresh = new_account(oauth_name, tokens, identity, &email, options);
                self.refresh_account(store.as_ref(), user, fresh, options)
                    .await?;
                false
            }
            Some(_) => return Err(OAuthError::LinkedElsewhere),
            None => {
                let account = new_account(oauth_name, tokens, identity, &email, options);
                match store.add_oauth_account(user.id(), &account).await {
                    Ok(()) => true,
                    Err(StoreError::Conflict(_)) => return Err(OAuthError::LinkedElsewhere),
                    Err(other) => return Err(other.into()),
                }
            }
        };
        self.hooks()
            .on_after_update(user, &U::Changes::default(), request)
            .await;
        if new {
            self.notify(user, linked(oauth_name, &email), request).await;
        }
        Ok(())
    }

    /// Unlinks the user's account(s) at this provider, unless that would leave them no way to
    /// log in: no usable password and no other provider account. Calls `on_after_update` and
    /// tells the user.
    pub async fn oauth_unlink(
        &self,
        user: &U,
        oauth_name: &str,
        request: RequestInfo<'_>,
    ) -> Result<(), OAuthError> {
        let store = self.oauth_store()?;
        let accounts = store.oauth_accounts_of(user.id()).await?;
        if !accounts.iter().any(|a| a.oauth_name == oauth_name) {
            return Err(OAuthError::NotLinked);
        }
        let others = accounts.iter().any(|a| a.oauth_name != oauth_name);
        if !others && !PasswordHelper::is_usable(user.hashed_password()) {
            return Err(OAuthError::LastLoginMethod);
        }
        store.remove_oauth_account(user.id(), oauth_name).await?;
        self.hooks()
            .on_after_update(user, &U::Changes::default(), request)
            .await;
        let event = SecurityEvent::OAuthAccountUnlinked {
            provider: oauth_name.to_owned(),
        };
        self.notify(user, event, request).await;
        Ok(())
    }

    /// The user's provider accounts. Their tokens are as stored: encrypted (read them with
    /// the [`TokenCipher`](crate::oauth::TokenCipher) of
    /// [`OAuthOptions::store_provider_tokens`]), or empty when not stored.
    pub async fn oauth_accounts(&self, user: &U) -> Result<Vec<OAuthAccount>, OAuthError> {
        Ok(self.oauth_store()?.oauth_accounts_of(user.id()).await?)
    }
}
