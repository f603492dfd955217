//! The user manager: every operation on users, with validation, hashing and hooks.

use std::sync::Arc;

use crate::hooks::{Hooks, InvalidPassword, NoHooks, PasswordOwner, RequestInfo};
use crate::notice::{Notify, SecurityEvent};
use crate::password::{PasswordError, PasswordHelper, PasswordPolicy};
use crate::revocation::{self, Revocable};
use crate::store::{StoreError, UserStore};
use crate::user::{User, UserChanges, UserCreate, UserId, UserUpdate};

mod email_tokens;
#[cfg(feature = "oauth")]
mod oauth;
mod reset;
mod verify;

pub use email_tokens::EmailTokens;

/// Why a user operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A user with this email already exists.
    #[error("a user with this email already exists")]
    AlreadyExists,
    /// The [password policy](PasswordPolicy) or `validate_password` refused the password.
    #[error(transparent)]
    InvalidPassword(#[from] InvalidPassword),
    /// No such user.
    #[error("the user does not exist")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The user is inactive.
    #[error("the user is inactive")]
    Inactive,
    /// The user is already verified.
    #[error("the user is already verified")]
    AlreadyVerified,
    /// A verification or reset token is invalid, expired, used or for someone else.
    #[error("the token is invalid")]
    BadToken,
}

/// The default of [`UserManager::max_password_length`].
pub(crate) const DEFAULT_MAX_PASSWORD_BYTES: usize = 4096;

/// Deletes a user's server-side tokens. [`FastUsers::new`](crate::FastUsers::new) installs the
/// application's backends as the manager's revoker.
#[async_trait::async_trait]
pub trait TokenRevoker<U: User>: Send + Sync + 'static {
    /// Deletes every token of the user in every backend that keeps tokens, trying each one
    /// whatever the others answer, and logs what could not be deleted. Called after the user's
    /// revocation time is saved, which already voids those tokens (see
    /// [`crate::revocation`]): this only keeps the token stores clean.
    async fn revoke_all(&self, user: &U);
}

/// Creates, authenticates, updates and deletes users. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use fastusers::prelude::*;
/// use fastusers::password::Argon2Params;
///
/// #[derive(User, Clone, Debug)]
/// pub struct Member {
///     pub id: uuid::Uuid,
///     pub email: String,
///     pub hashed_password: String,
///     pub is_active: bool,
///     pub is_superuser: bool,
///     pub is_verified: bool,
/// }
///
/// let store = fastusers::store::connect::<Member>("sqlite::memory:").await.unwrap();
/// let manager = UserManager::new(store)
///     .with_password_helper(PasswordHelper::new(Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 }).unwrap());
/// let create = MemberCreate { email: "king.arthur@camelot.bt".into(), password: "guinevere and the grail".into(), ..Default::default() };
/// let user = manager.create(create, true, None).await.unwrap();
/// assert!(user.is_active && !user.is_superuser);
/// let found = manager.authenticate("KING.ARTHUR@camelot.bt", "guinevere and the grail").await.unwrap();
/// assert_eq!(found.unwrap().id, user.id);
/// # }
/// ```
pub struct UserManager<U: User> {
    store: Arc<dyn UserStore<U>>,
    /// The store without the user cache.
    uncached: Arc<dyn UserStore<U>>,
    /// The user cache that `store` is, if any.
    cache: Option<Arc<crate::store::CachedUserStore<U>>>,
    passwords: PasswordHelper,
    policy: PasswordPolicy,
    hooks: Arc<dyn Hooks<U>>,
    revoker: Option<Arc<dyn TokenRevoker<U>>>,
    revoke_on_change: bool,
    pub(crate) email_tokens: EmailTokens,
    pub(crate) mail: Option<crate::mail::AccountMail>,
    pub(crate) verify_on_register: bool,
    notices: bool,
    max_password_bytes: usize,
}

impl<U: User> Clone for UserManager<U> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            uncached: self.uncached.clone(),
            cache: self.cache.clone(),
            passwords: self.passwords.clone(),
            policy: self.policy.clone(),
            hooks: self.hooks.clone(),
            revoker: self.revoker.clone(),
            revoke_on_change: self.revoke_on_change,
            email_tokens: self.email_tokens.clone(),
            mail: self.mail.clone(),
            verify_on_register: self.verify_on_register,
            notices: self.notices,
            max_password_bytes: self.max_password_bytes,
        }
    }
}

impl<U: User> std::fmt::Debug for UserManager<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserManager")
            .field("passwords", &self.passwords)
            .field("user_cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl<U: User> UserManager<U> {
    /// A manager on this store, with default argon2id parameters, the default
    /// [password policy](PasswordPolicy), no hooks, and the user cache when the store names a
    /// [`CacheChannel`](crate::store::CacheChannel) (the SQL stores do; see
    /// [`user_cache_ttl`](Self::user_cache_ttl)).
    pub fn new(store: Arc<dyn UserStore<U>>) -> Self {
        let cache = crate::store::CachedUserStore::by_default(&store).map(Arc::new);
        Self {
            store: match &cache {
                Some(cache) => cache.clone(),
                None => store.clone(),
            },
            uncached: store,
            cache,
            passwords: PasswordHelper::default(),
            policy: PasswordPolicy::default(),
            hooks: Arc::new(NoHooks),
            revoker: None,
            revoke_on_change: true,
            email_tokens: EmailTokens::default(),
            mail: None,
            verify_on_register: false,
            notices: true,
            max_password_bytes: DEFAULT_MAX_PASSWORD_BYTES,
        }
    }

    /// Whether a password change (through `PATCH` or a reset), a deactivation or a deletion
    /// ends every session of the user, on every backend (JWTs included). Default: true.
    ///
    /// The change and the user's revocation time are saved in one transaction, so a saved
    /// change always ends the sessions (see [`crate::revocation`]); the user's Redis and
    /// database tokens are then deleted as far as those stores answer. `false` is the
    /// reference's behaviour: every token stays valid until it expires.
    pub fn revoke_tokens_on_change(mut self, revoke: bool) -> Self {
        self.revoke_on_change = revoke;
        self
    }

    /// Uses this revoker to delete a user's tokens once their sessions are revoked;
    /// [`FastUsers::new`](crate::FastUsers::new) sets the backends.
    pub fn with_revoker(mut self, revoker: Arc<dyn TokenRevoker<U>>) -> Self {
        self.revoker = Some(revoker);
        self
    }

    /// Ends every session of the user, on every backend: saves the user's revocation time, so
    /// that every strategy refuses the tokens issued until now (JWTs included), then deletes
    /// their Redis and database tokens as far as those stores answer (the tokens left behind
    /// are refused all the same, and deleted when presented).
    ///
    /// Fails only when the revocation time cannot be saved: the user store is down
    /// ([`UserError::Store`]) or the user is gone ([`UserError::NotFound`]).
    pub async fn revoke_tokens(&self, user: &U) -> Result<(), UserError> {
        self.store
            .update_and_revoke(user.id(), &U::Changes::default(), revocation::now())
            .await?
            .ok_or(UserError::NotFound)?;
        self.delete_tokens(user).await;
        Ok(())
    }

    /// Deletes the user's tokens in every backend, best effort (the revoker logs failures).
    async fn delete_tokens(&self, user: &U) {
        // Every session of the user ended (the revocation time is saved): one revocation.
        crate::metrics::revoked("all");
        if let Some(revoker) = &self.revoker {
            revoker.revoke_all(user).await;
        }
    }

    /// Whether the user is told of each change to how their account is reached: a changed
    /// or reset password, a changed email address (at the old one), a provider account linked
    /// or unlinked. Default: true; the notices are emailed when the manager has a mailer (see
    /// [`SecurityEvent`](crate::mail::SecurityEvent)), and the `on_security_event` hook runs either way unless this is
    /// false.
    pub fn security_notices(mut self, on: bool) -> Self {
        self.notices = on;
        self
    }

    /// Tells the user of a change to how their account is reached: the `on_security_event`
    /// hook, then, unless it answers [`Notify::Handled`], the notice that the templates write,
    /// emailed in the background when the manager has a mailer. fastusers calls it for its own
    /// events; call it for changes the application makes itself (a second factor added).
    /// `user` is the user after the change.
    pub async fn notify(&self, user: &U, event: SecurityEvent, request: RequestInfo<'_>) {
        if !self.notices {
            return;
        }
        if self.hooks.on_security_event(user, &event, request).await == Notify::Handled {
            return;
        }
        if let Some(mail) = &self.mail {
            mail.notice(user.email(), &event);
        }
    }

    /// Uses these verification and reset token keys and lifetimes.
    pub fn with_email_tokens(mut self, tokens: EmailTokens) -> Self {
        self.email_tokens = tokens;
        self
    }

    /// Sends the verification and reset emails with this mailer, written by these templates,
    /// after the `on_after_request_verify` and `on_after_forgot_password` hooks, and the
    /// security notices (see [`SecurityEvent`](crate::mail::SecurityEvent); [`security_notices`](Self::security_notices)
    /// turns them off). Each send runs in a background task; a failure is logged (see
    /// [`crate::mail`]).
    pub fn with_mailer(
        mut self,
        mailer: impl crate::mail::Mailer,
        templates: impl crate::mail::Templates,
    ) -> Self {
        self.mail = Some(crate::mail::AccountMail::new(mailer, templates));
        self
    }

    /// Makes `POST /register` request a verification token for each new user (as a
    /// `POST /request-verify-token` would), so that the verification email goes out without
    /// the client asking. Default: false, as the reference.
    pub fn send_verification_on_register(mut self, send: bool) -> Self {
        self.verify_on_register = send;
        self
    }

    /// Whether `POST /register` requests a verification token for each new user.
    pub fn sends_verification_on_register(&self) -> bool {
        self.verify_on_register
    }

    /// Uses these hooks.
    pub fn with_hooks(mut self, hooks: impl Hooks<U>) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }

    /// Refuses passwords longer than this many bytes before any hashing, at registration,
    /// update and reset (the route's `*_INVALID_PASSWORD` with a reason) and at login (bad
    /// credentials), so that nobody can spend the server's CPU with megabyte passwords.
    /// Default: 4096.
    pub fn max_password_length(mut self, bytes: usize) -> Self {
        self.max_password_bytes = bytes;
        self
    }

    /// Checks every new password (registration, update, reset) with this policy before the
    /// `validate_password` hook, which can only add rules to it. Default:
    /// [`PasswordPolicy::default()`], OWASP ASVS's 12 to 128 characters and not one of the
    /// 10,000 most common passwords; [`PasswordPolicy::none()`] leaves the whole policy to
    /// the hook, as fastapi-users does.
    pub fn with_password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The password policy.
    pub fn password_policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    /// Checks a new password: its length in bytes, then the policy, then the
    /// `validate_password` hook.
    pub(crate) async fn check_password(
        &self,
        password: &str,
        owner: PasswordOwner<'_, U>,
    ) -> Result<(), InvalidPassword> {
        if password.len() > self.max_password_bytes {
            return Err(InvalidPassword::new(format!(
                "Password should be at most {} bytes",
                self.max_password_bytes
            )));
        }
        self.policy.check(password).await?;
        self.hooks.validate_password(password, owner).await
    }

    /// Keeps the users read by id in memory for `ttl` at most: every request authenticated by
    /// a JWT or a Redis token reads its user by id, and then needs no database round trip.
    ///
    /// On by default (for [`DEFAULT_TTL`](crate::store::DEFAULT_TTL), a minute) when the store
    /// names a channel, which keeps every instance's cache true: a change to a user, made on
    /// any instance, evicts them from every cache, and a cache whose channel is down serves
    /// nothing. `ttl` is a last resort; see [`CachedUserStore`](crate::store::CachedUserStore).
    pub fn user_cache_ttl(self, ttl: std::time::Duration) -> Self {
        let cache = crate::store::CachedUserStore::new(self.uncached.clone(), ttl);
        self.with_user_cache(cache)
    }

    /// Uses this user cache (on the store it wraps): one with another
    /// [`CacheChannel`](crate::store::CacheChannel), such as Redis, or another capacity.
    pub fn with_user_cache(mut self, cache: crate::store::CachedUserStore<U>) -> Self {
        let cache = Arc::new(cache);
        self.uncached = cache.inner().clone();
        self.store = cache.clone();
        self.cache = Some(cache);
        self
    }

    /// Reads every user from the store, with no cache.
    pub fn without_user_cache(mut self) -> Self {
        self.store = self.uncached.clone();
        self.cache = None;
        self
    }

    /// The user cache, if the manager has one (whether it serves now:
    /// [`CachedUserStore::is_serving`](crate::store::CachedUserStore::is_serving)).
    pub fn user_cache(&self) -> Option<&crate::store::CachedUserStore<U>> {
        self.cache.as_deref()
    }

    /// Uses this password helper (other argon2 parameters).
    pub fn with_password_helper(mut self, passwords: PasswordHelper) -> Self {
        self.passwords = passwords;
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn UserStore<U>> {
        &self.store
    }

    /// The hooks.
    pub fn hooks(&self) -> &dyn Hooks<U> {
        &*self.hooks
    }

    /// The password helper.
    pub fn passwords(&self) -> &PasswordHelper {
        &self.passwords
    }

    /// The user with this id.
    pub async fn get(&self, id: &U::Id) -> Result<Option<U>, UserError> {
        Ok(self.store.get(id).await?)
    }

    /// The user with this id and the moment up to which their sessions are revoked: what the
    /// strategies check a token against (see [`crate::revocation`]).
    pub async fn get_revocable(&self, id: &U::Id) -> Result<Option<Revocable<U>>, UserError> {
        Ok(self.store.get_revocable(id).await?)
    }

    /// The user with this email (case-insensitive).
    pub async fn get_by_email(&self, email: &str) -> Result<Option<U>, UserError> {
        if email.contains('\0') {
            return Ok(None);
        }
        Ok(self.store.get_by_email(email).await?)
    }

    /// Registers a user: `validate_password`, then the uniqueness check, then the argon2id
    /// hash, then the insert, then `on_after_register`. `safe` ignores the flags of the body
    /// (`is_active`, `is_superuser`, `is_verified`), as the register route does.
    pub async fn create(
        &self,
        create: U::Create,
        safe: bool,
        request: RequestInfo<'_>,
    ) -> Result<U, UserError> {
        self.check_password(create.password(), PasswordOwner::New(&create))
            .await?;
        if self.store.get_by_email(create.email()).await?.is_some() {
            return Err(UserError::AlreadyExists);
        }
        let hash = self.passwords.hash(create.password().to_owned()).await?;
        let user = U::from_create(create, U::Id::generate(), hash, safe);
        let user = self.store.create(&user).await.map_err(|e| match e {
            // Lost a race with a concurrent registration: the unique index decided.
            StoreError::Conflict(_) => UserError::AlreadyExists,
            other => UserError::Store(other),
        })?;
        self.hooks.on_after_register(&user, request).await;
        Ok(user)
    }

    /// Checks credentials. Returns the user when the password matches, whatever the user's
    /// status (the routes decide what an inactive user gets). An unknown email costs the same
    /// hashing time as a wrong password. A hash made with other parameters, or a bcrypt hash,
    /// is replaced by a fresh argon2id hash.
    pub async fn authenticate(&self, email: &str, password: &str) -> Result<Option<U>, UserError> {
        if email.contains('\0') {
            // No stored email holds a NUL (PostgreSQL cannot even compare one).
            self.passwords.burn(password.to_owned()).await?;
            return Ok(None);
        }
        if password.len() > self.max_password_bytes {
            // No user's password is this long: refused before any lookup or hashing.
            return Ok(None);
        }
        let Some(user) = self.store.get_by_email(email).await? else {
            self.passwords.burn(password.to_owned()).await?;
            return Ok(None);
        };
        let (ok, new_hash) = self
            .passwords
            .verify_and_update(password.to_owned(), user.hashed_password().to_owned())
            .await?;
        if !ok {
            return Ok(None);
        }
        match new_hash {
            Some(hash) => {
                let mut changes = U::Changes::default();
                changes.set_hashed_password(hash);
                Ok(self.store.update(user.id(), &changes).await?.or(Some(user)))
            }
            None => Ok(Some(user)),
        }
    }

    /// Applies a PATCH body. `safe` keeps only what users may change about themselves. A new
    /// email must be free and resets `is_verified` (unless the body sets it); a new password
    /// goes through `validate_password` and is hashed. Calls `on_after_update`.
    pub async fn update(
        &self,
        update: U::Update,
        user: &U,
        safe: bool,
        request: RequestInfo<'_>,
    ) -> Result<U, UserError> {
        let password = update.password().map(str::to_owned);
        let mut changes = update.into_changes(safe);
        if let Some(password) = password {
            self.check_password(&password, PasswordOwner::Existing(user))
                .await?;
            changes.set_hashed_password(self.passwords.hash(password).await?);
        }
        self.apply(user, changes, request).await
    }

    /// Applies column changes directly (no password validation: set a hash, not a password),
    /// with the email rules of [`update`](Self::update) and `on_after_update`.
    ///
    /// A new password hash or `is_active: false` also ends the user's sessions (unless
    /// [`revoke_tokens_on_change`](Self::revoke_tokens_on_change) is off): the revocation time
    /// is saved with the change, in the same transaction, then the user's tokens are deleted
    /// as far as their stores answer. Once the change is saved this returns `Ok`, whatever the
    /// token stores answer.
    ///
    /// A new password hash or a new email address is then [notified](Self::notify)
    /// ([`SecurityEvent::PasswordChanged`], [`SecurityEvent::EmailChanged`] at the old
    /// address).
    pub async fn apply(
        &self,
        user: &U,
        changes: U::Changes,
        request: RequestInfo<'_>,
    ) -> Result<U, UserError> {
        self.apply_as(user, changes, request, SecurityEvent::PasswordChanged)
            .await
    }

    /// [`apply`](Self::apply), telling of a new password hash as `password_event`.
    pub(crate) async fn apply_as(
        &self,
        user: &U,
        mut changes: U::Changes,
        request: RequestInfo<'_>,
        password_event: SecurityEvent,
    ) -> Result<U, UserError> {
        if let Some(email) = changes.email().map(str::to_owned) {
            if email == user.email() {
                // Unchanged: nothing to check, nothing to reset.
            } else {
                let taken = self.store.get_by_email(&email).await?;
                if taken.is_some_and(|other| other.id() != user.id()) {
                    return Err(UserError::AlreadyExists);
                }
                if changes.is_verified().is_none() {
                    changes.set_is_verified(false);
                }
            }
        }
        let revoke = self.revoke_on_change
            && (changes.hashed_password().is_some() || changes.is_active() == Some(false));
        let updated = if revoke {
            self.store
                .update_and_revoke(user.id(), &changes, revocation::now())
                .await
        } else if changes.is_empty() {
            self.store.get(user.id()).await
        } else {
            self.store.update(user.id(), &changes).await
        };
        let updated = updated
            .map_err(|e| match e {
                StoreError::Conflict(_) => UserError::AlreadyExists,
                other => UserError::Store(other),
            })?
            .ok_or(UserError::NotFound)?;
        if revoke {
            self.delete_tokens(&updated).await;
        }
        self.hooks
            .on_after_update(&updated, &changes, request)
            .await;
        if changes.hashed_password().is_some() {
            self.notify(&updated, password_event, request).await;
        }
        // Not for a change of letter case only: the same mailbox.
        if crate::email::fold_case(updated.email()) != crate::email::fold_case(user.email()) {
            let event = SecurityEvent::EmailChanged {
                old_email: user.email().to_owned(),
                new_email: updated.email().to_owned(),
            };
            self.notify(&updated, event, request).await;
        }
        Ok(updated)
    }

    /// Saves `changes` and ends every session of the user in one transaction, whatever
    /// [`revoke_tokens_on_change`](Self::revoke_tokens_on_change) says, then deletes their
    /// tokens as far as their stores answer and calls `on_after_update`. No notice: for a
    /// change that is no one's request (an account taken over by its email's owner).
    #[cfg(feature = "oauth")]
    pub(crate) async fn apply_and_revoke(
        &self,
        user: &U,
        changes: U::Changes,
        request: RequestInfo<'_>,
    ) -> Result<U, UserError> {
        let updated = self
            .store
            .update_and_revoke(user.id(), &changes, revocation::now())
            .await?
            .ok_or(UserError::NotFound)?;
        self.delete_tokens(&updated).await;
        self.hooks
            .on_after_update(&updated, &changes, request)
            .await;
        Ok(updated)
    }

    /// Deletes a user: `on_before_delete`, the delete, `on_after_delete`. The user's tokens
    /// are refused from then on (their user is gone), and deleted from the token stores as far
    /// as those answer (unless [`revoke_tokens_on_change`](Self::revoke_tokens_on_change) is
    /// off; database tokens go with the user anyway).
    pub async fn delete(&self, user: &U, request: RequestInfo<'_>) -> Result<(), UserError> {
        self.hooks.on_before_delete(user, request).await;
        if !self.store.delete(user.id()).await? {
            return Err(UserError::NotFound);
        }
        if self.revoke_on_change {
            self.delete_tokens(user).await;
        }
        self.hooks.on_after_delete(user, request).await;
        Ok(())
    }
}
