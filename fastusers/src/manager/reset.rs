//! Password reset: the manager's side of `POST /forgot-password` and `POST /reset-password`.

use super::email_tokens::fingerprint;
use super::{UserError, UserManager};
use crate::hooks::{PasswordOwner, RequestInfo};
use crate::notice::SecurityEvent;
use crate::user::{User, UserChanges, UserId};

impl<U: User> UserManager<U> {
    /// Makes a reset-password token for the user and hands it to `on_after_forgot_password`,
    /// then to the mailer if there is one. Inactive users get none.
    pub async fn forgot_password(
        &self,
        user: &U,
        request: RequestInfo<'_>,
    ) -> Result<String, UserError> {
        if !user.is_active() {
            return Err(UserError::Inactive);
        }
        let token = self
            .email_tokens
            .reset_token(user)
            .ok_or(UserError::BadToken)?;
        self.hooks()
            .on_after_forgot_password(user, &token, request)
            .await;
        if let Some(mail) = &self.mail {
            mail.reset(user.email(), &token);
        }
        Ok(token)
    }

    /// Sets a new password with a reset token: the token must be valid, made for the current
    /// password (so it works once) and the user active; then `validate_password`, the new
    /// hash (which revokes the user's sessions), and `on_after_reset_password`.
    pub async fn reset_password(
        &self,
        token: &str,
        password: &str,
        request: RequestInfo<'_>,
    ) -> Result<U, UserError> {
        let claims = self
            .email_tokens
            .read_reset_token(token)
            .ok_or(UserError::BadToken)?;
        let (Some(sub), Some(fgpt)) = (claims.sub, claims.password_fgpt) else {
            return Err(UserError::BadToken);
        };
        let id = U::Id::parse(&sub).ok_or(UserError::BadToken)?;
        let user = self.get(&id).await?.ok_or(UserError::BadToken)?;
        if fingerprint(user.hashed_password()) != fgpt || !user.is_active() {
            return Err(UserError::BadToken);
        }
        self.check_password(password, PasswordOwner::Existing(&user))
            .await?;
        let mut changes = U::Changes::default();
        changes.set_hashed_password(self.passwords().hash(password.to_owned()).await?);
        let user = self
            .apply_as(&user, changes, request, SecurityEvent::PasswordReset)
            .await?;
        self.hooks().on_after_reset_password(&user, request).await;
        Ok(user)
    }
}
