//! How the built-in transports describe themselves.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Flow, OAuth2, Password, Scopes, SecurityScheme,
};

use super::OpenApiTransport;
use super::responses::{header, json};
use super::schema::{self, reference as schema_ref};
use crate::transport::{BearerTransport, CookieTransport};

impl OpenApiTransport for BearerTransport {
    fn security_scheme(&self) -> SecurityScheme {
        SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
            self.token_url(),
            Scopes::new(),
        ))]))
    }

    fn login_response(&self) -> (u16, Response) {
        let content = ContentBuilder::new()
            .schema(Some(schema_ref("BearerResponse")))
            .example(Some(serde_json::json!({
                "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI5YzRhZGNmYi1lNmQ2LTQ4NDgtYjNlNi1hOTBmZjg1OGE4NDgiLCJhdWQiOlsiZmFzdGFwaS11c2VyczphdXRoIl0sImV4cCI6MTcwMDAwMzYwMH0.signature",
                "token_type": "bearer"
            })))
            .build();
        (200, json("Logged in: the access token.", content).build())
    }

    fn login_response_with_device_token(&self) -> (u16, Response) {
        let content = ContentBuilder::new()
            .schema(Some(schema_ref("BearerResponseWithDeviceToken")))
            .build();
        (
            200,
            json(
                "Logged in: the access token, and the client's new device token (send it in the login form's `device_token` next time).",
                content,
            )
            .build(),
        )
    }

    fn logout_response(&self) -> (u16, Response) {
        (204, Response::new("Logged out."))
    }

    fn refresh_response(&self) -> (u16, Response) {
        let content = ContentBuilder::new()
            .schema(Some(schema_ref("RefreshResponse")))
            .example(Some(serde_json::json!({
                "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI5YzRhZGNmYi1lNmQ2LTQ4NDgtYjNlNi1hOTBmZjg1OGE4NDgiLCJhdWQiOlsiZmFzdGFwaS11c2VyczphdXRoIl0sImV4cCI6MTcwMDAwMzYwMH0.signature",
                "token_type": "bearer",
                "refresh_token": "q1Z6m3J8yQb2X0nV5k7tR9wL4cH1sD6fG8jK2pN0aE3",
                "expires_in": 300
            })))
            .build();
        (
            200,
            json(
                "The access token, and the refresh token that renews it (single-use).",
                content,
            )
            .build(),
        )
    }
}

/// A 204 that sets the cookie; `cookie` shows the `set-cookie` header.
fn sets_cookie(description: &str, cookie: &str) -> (u16, Response) {
    (
        204,
        ResponseBuilder::new()
            .description(description)
            .header("set-cookie", header(schema::string(), Some(cookie)))
            .build(),
    )
}

impl OpenApiTransport for CookieTransport {
    fn security_scheme(&self) -> SecurityScheme {
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(self.cookie_name())))
    }

    fn login_response(&self) -> (u16, Response) {
        sets_cookie(
            "Logged in: the token is in the cookie.",
            &format!("`{}=<token>; HttpOnly; ...`", self.cookie_name()),
        )
    }

    fn login_response_with_device_token(&self) -> (u16, Response) {
        sets_cookie(
            "Logged in: the token is in the cookie, and the client's new device token in the device cookie.",
            &format!(
                "`{}=<token>; HttpOnly; ...`, then the device cookie: `fastusers_device=<device token>; HttpOnly; ...` (its name is `DeviceTokens::cookie`'s)",
                self.cookie_name()
            ),
        )
    }

    fn logout_response(&self) -> (u16, Response) {
        sets_cookie(
            "Logged out: the cookie is cleared.",
            &format!("`{}=\"\"; Max-Age=0; ...`", self.cookie_name()),
        )
    }

    fn refresh_response(&self) -> (u16, Response) {
        sets_cookie(
            "The access token is in the cookie, and the refresh token in the refresh cookie, sent to the refresh route only.",
            &format!(
                "`{}=<token>; HttpOnly; ...`, then `{}=<refresh token>; HttpOnly; Max-Age=...; Path=<the refresh route>; SameSite=strict; Secure`",
                self.cookie_name(),
                self.refresh_cookie_name()
            ),
        )
    }
}
