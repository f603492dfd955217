//! `GET /authorize` and `GET /callback` of an OAuth provider, and its associate router's
//! `GET /authorize`, `GET /callback` and `DELETE /`.

use utoipa::openapi::RefOr;
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{AllOfBuilder, ArrayBuilder, Schema};

use super::{Builder, UserNames};
use crate::error::ErrorCode;
use crate::openapi::BackendDoc;
use crate::openapi::responses::{
    Op, coded_error, header, join, json, json_response, not_found, query_param, schema_content,
};
use crate::openapi::schema::{self, reference as schema_ref};

/// The 502 of a provider down.
fn provider_down() -> Response {
    coded_error(
        "The provider could not be reached or answered nonsense.",
        &[ErrorCode::OauthProviderUnavailable],
    )
}

/// `GET /authorize`, the same for logging in and for associating.
fn authorize(name: &str, path: &str) -> Op {
    let redirect = json(
        "Where to send the user; sets the CSRF cookie.",
        schema_content(schema_ref("OAuth2AuthorizeResponse")),
    )
    .header(
        "set-cookie",
        header(
            schema::string(),
            Some("The CSRF cookie (`fastapiusersoauthcsrf` by default)."),
        ),
    )
    .build();
    Op::new("auth", name, path, HttpMethod::Get, "Authorize")
        .parameter(query_param(
            "scopes",
            ArrayBuilder::new().items(schema::string()).into(),
        ))
        .response(200, redirect)
        .response(502, provider_down())
}

/// `GET /callback`: the provider's query parameters and its 502; what it answers otherwise
/// differs between logging in and associating.
fn callback(name: &str, path: &str) -> Op {
    ["code", "code_verifier", "state", "error"]
        .into_iter()
        .fold(
            Op::new("auth", name, path, HttpMethod::Get, "Callback"),
            |op, param| op.parameter(query_param(param, schema::string())),
        )
        .response(502, provider_down())
}

impl Builder {
    pub(super) fn oauth(&mut self, prefix: &str, provider: &str, backend: &BackendDoc) {
        let name = backend.name;
        self.add(authorize(
            &format!("oauth:{provider}.{name}.authorize"),
            &join(prefix, "/authorize"),
        ));

        let codes = self.login_codes(vec![
            ErrorCode::OauthInvalidState,
            ErrorCode::AccessTokenDecodeError,
            ErrorCode::AccessTokenAlreadyExpired,
            ErrorCode::OauthNotAvailableEmail,
            ErrorCode::OauthUserAlreadyExists,
            ErrorCode::OauthInvalidIdToken,
            ErrorCode::LoginBadCredentials,
        ]);
        let mut op = callback(
            &format!("oauth:{provider}.{name}.callback"),
            &join(prefix, "/callback"),
        )
        .response(backend.login.0, backend.login.1.clone())
        .response(
            400,
            coded_error(
                "The provider's error, a missing code, a bad state, or a refused user.",
                &codes,
            ),
        );
        if backend.login.0 == 204 {
            op = op.response(
                303,
                Response::new("Logged in, redirected to the application (when configured)."),
            );
        }
        self.add(op);
    }

    pub(super) fn oauth_associate(&mut self, prefix: &str, provider: &str, user: &UserNames) {
        self.add(
            authorize(
                &format!("oauth-associate:{provider}.authorize"),
                &join(prefix, "/authorize"),
            )
            .requires_user(),
        );

        let with_accounts: RefOr<Schema> = AllOfBuilder::new()
            .item(schema_ref(&user.read))
            .item(schema::object(
                "The user's provider accounts.",
                vec![(
                    "oauth_accounts",
                    ArrayBuilder::new().items(schema_ref("OAuthAccount")).into(),
                    true,
                )],
            ))
            .into();
        let op = callback(
            &format!("oauth-associate:{provider}.callback"),
            &join(prefix, "/callback"),
        )
        .requires_user()
        .response(
            200,
            json_response("The user with the linked account.", with_accounts),
        )
        .response(
            400,
            coded_error(
                "The provider's error, a missing code, a bad state, another user's state, or an account linked elsewhere.",
                &[
                    ErrorCode::OauthInvalidState,
                    ErrorCode::AccessTokenDecodeError,
                    ErrorCode::AccessTokenAlreadyExpired,
                    ErrorCode::OauthNotAvailableEmail,
                    ErrorCode::OauthAccountAlreadyLinked,
                    ErrorCode::OauthInvalidIdToken,
                ],
            ),
        );
        self.add(op);

        let op = Op::new(
            "auth",
            &format!("oauth-associate:{provider}.unlink"),
            &join(prefix, "/"),
            HttpMethod::Delete,
            "Unlink",
        )
        .requires_user()
        .response(204, Response::new("Unlinked."))
        .response(
            400,
            coded_error(
                "The user would have no way left to log in.",
                &[ErrorCode::OauthLastLoginMethod],
            ),
        )
        .response(404, not_found("No account at this provider is linked."));
        self.add(op);
    }
}
