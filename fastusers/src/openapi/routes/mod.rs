//! The paths of each router, one file per router as in [`crate::routes`], assembled by a
//! [`Builder`].

mod auth;
#[cfg(feature = "oauth")]
mod oauth;
mod register;
mod reset;
mod sessions;
mod users;
mod verify;

use std::collections::BTreeMap;

use utoipa::openapi::RefOr;
use utoipa::openapi::path::{HttpMethod, Paths};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::SecurityRequirement;

use super::responses::{Op, forbidden, json_body, json_response, unauthorized, unavailable};
use super::schema::{self, reference as schema_ref};
use super::{BackendDoc, Mount};
use crate::error::ErrorCode;

/// The names of the user's read, create and update schemas.
pub(super) struct UserNames {
    pub(super) read: String,
    pub(super) create: String,
    pub(super) update: String,
}

/// Assembles the paths and schemas of a [`Document`](super::Document).
pub(super) struct Builder {
    pub(super) paths: Paths,
    pub(super) schemas: BTreeMap<String, RefOr<Schema>>,
    security: Vec<SecurityRequirement>,
    requires_verification: bool,
    device_tokens: bool,
    has_cookie: bool,
}

impl Builder {
    /// `security`: the requirements of authenticated routes; `device_tokens`: whether logins
    /// give device tokens; `has_cookie`: whether a backend takes a cookie, so that unsafe
    /// methods can fail the CSRF check.
    pub(super) fn new(
        security: Vec<SecurityRequirement>,
        requires_verification: bool,
        device_tokens: bool,
        has_cookie: bool,
    ) -> Self {
        Self {
            paths: Paths::new(),
            schemas: BTreeMap::new(),
            security,
            requires_verification,
            device_tokens,
            has_cookie,
        }
    }

    /// The paths of one mounted router.
    pub(super) fn mount(&mut self, mount: &Mount, backends: &[BackendDoc], user: &UserNames) {
        match mount {
            Mount::Auth(prefix, index) => self.auth(prefix, &backends[*index]),
            Mount::Register(prefix) => self.register(prefix, user),
            Mount::Verify(prefix) => self.verify(prefix, user),
            Mount::ResetPassword(prefix) => self.reset_password(prefix),
            Mount::Users(prefix) => self.users(prefix, user),
            Mount::Sessions(prefix) => self.sessions(prefix),
            #[cfg(feature = "oauth")]
            Mount::OAuth(prefix, provider, index) => {
                self.oauth(prefix, provider, &backends[*index])
            }
            #[cfg(feature = "oauth")]
            Mount::OAuthAssociate(prefix, provider) => self.oauth_associate(prefix, provider, user),
        }
    }

    /// Adds the operation with what every route can answer: the 401 and 403 of an
    /// authenticated route and its security requirements, and the 503 of a store down.
    fn add(&mut self, mut op: Op) {
        if op.secured {
            op = op.response(401, unauthorized());
            let mut reasons = Vec::new();
            if op.superuser {
                reasons.push("Not a superuser.");
            }
            if self.requires_verification {
                reasons.push("The user is not verified.");
            }
            let csrf = op.unsafe_method() && self.has_cookie;
            if csrf {
                reasons.push("A cookie-authenticated request from an untrusted origin.");
            }
            if !reasons.is_empty() {
                op = op.response(403, forbidden(&reasons, csrf));
            }
            op = op.with(|b| b.securities(Some(self.security.clone())));
        }
        let (path, item) = op.response(503, unavailable()).finish();
        match self.paths.paths.get_mut(&path) {
            Some(existing) => existing.merge_operations(item),
            None => {
                self.paths.paths.insert(path, item);
            }
        }
    }

    /// The codes of a refused login: these, and `LOGIN_USER_NOT_VERIFIED` when verification
    /// is required.
    fn login_codes(&self, mut codes: Vec<ErrorCode>) -> Vec<ErrorCode> {
        if self.requires_verification {
            codes.push(ErrorCode::LoginUserNotVerified);
        }
        codes
    }

    /// An embedded JSON body's schema, registered as FastAPI names it.
    fn embedded_body(&mut self, op_id: &str, fields: Vec<(&str, RefOr<Schema>)>) -> RequestBody {
        let name = format!("Body_{op_id}");
        self.schemas
            .insert(name.clone(), schema::embedded("The request body.", fields));
        json_body(schema_ref(&name))
    }

    /// `POST` of an email, accepted whether or not it is known (request-verify-token,
    /// forgot-password).
    fn accepted(&mut self, name: &str, path: &str, summary: &str) {
        let op = Op::new("auth", name, path, HttpMethod::Post, summary);
        let body = self.embedded_body(op.id(), vec![("email", schema::email())]);
        self.add(op.body(body).response(
            202,
            json_response(
                "Accepted, whether or not the email is known: `null`.",
                schema::null(),
            ),
        ));
    }
}
