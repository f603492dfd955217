//! Email verification: the manager's side of `POST /request-verify-token` and `POST /verify`.

use super::{UserError, UserManager};
use crate::hooks::RequestInfo;
use crate::user::{User, UserChanges, UserId};

impl<U: User> UserManager<U> {
    /// Makes a verification token for the user and hands it to `on_after_request_verify`, then
    /// to the mailer if there is one. Inactive and already-verified users get none.
    pub async fn request_verify(
        &self,
        user: &U,
        request: RequestInfo<'_>,
    ) -> Result<String, UserError> {
        if !user.is_active() {
            return Err(UserError::Inactive);
        }
        if user.is_verified() {
            return Err(UserError::AlreadyVerified);
        }
        let token = self
            .email_tokens
            .verify_token(user)
            .ok_or(UserError::BadToken)?;
        self.hooks()
            .on_after_request_verify(user, &token, request)
            .await;
        if let Some(mail) = &self.mail {
            mail.verify(user.email(), &token);
        }
        Ok(token)
    }

    /// Verifies the user a verification token names, if the token is valid and the user still
    /// has the email it was made for. Calls `on_after_verify`.
    pub async fn verify(&self, token: &str, request: RequestInfo<'_>) -> Result<U, UserError> {
        let claims = self
            .email_tokens
            .read_verify_token(token)
            .ok_or(UserError::BadToken)?;
        let (Some(sub), Some(email)) = (claims.sub, claims.email) else {
            return Err(UserError::BadToken);
        };
        let user = self
            .get_by_email(&email)
            .await?
            .ok_or(UserError::BadToken)?;
        let id = U::Id::parse(&sub).ok_or(UserError::BadToken)?;
        if &id != user.id() || user.email() != email {
            return Err(UserError::BadToken);
        }
        if user.is_verified() {
            return Err(UserError::AlreadyVerified);
        }
        let mut changes = U::Changes::default();
        changes.set_is_verified(true);
        let user = self
            .store()
            .update(user.id(), &changes)
            .await?
            .ok_or(UserError::BadToken)?;
        self.hooks().on_after_verify(&user, request).await;
        Ok(user)
    }
}
