//! `POST /login` and `POST /logout` of one backend.

use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::request_body::RequestBodyBuilder;

use super::Builder;
use crate::error::ErrorCode;
use crate::openapi::BackendDoc;
use crate::openapi::responses::{
    Op, coded_error, error_content, header, join, json, schema_content,
};
use crate::openapi::schema::{self, REQUIRED, reference as schema_ref};

impl Builder {
    pub(super) fn auth(&mut self, prefix: &str, backend: &BackendDoc) {
        let name = backend.name;
        let op = Op::new(
            "auth",
            &format!("auth:{name}.login"),
            &join(prefix, "/login"),
            HttpMethod::Post,
            "Log in",
        );
        let form = format!("Body_{}", op.id());
        self.schemas
            .insert(form.clone(), schema::login_form(self.device_tokens));
        let login = if self.device_tokens {
            self.schemas.insert(
                "BearerResponseWithDeviceToken".to_owned(),
                schema::bearer_response(true),
            );
            &backend.login_with_device_token
        } else {
            &backend.login
        };
        let body = RequestBodyBuilder::new()
            .content(
                "application/x-www-form-urlencoded",
                schema_content(schema_ref(&form)),
            )
            .content("multipart/form-data", schema_content(schema_ref(&form)))
            .required(Some(REQUIRED))
            .build();
        let codes = self.login_codes(vec![ErrorCode::LoginBadCredentials]);
        let op = op
            .body(body)
            .response(login.0, login.1.clone())
            .response(
                400,
                coded_error(
                    "Bad credentials, an unverified user, or a malformed form body.",
                    &codes,
                ),
            )
            .response(
                429,
                json(
                    "Too many failed logins: retry after `Retry-After` seconds.",
                    error_content(&[ErrorCode::LoginTooManyAttempts]),
                )
                .header("retry-after", header(schema::integer(), None))
                .build(),
            );
        self.add(op);

        let op = Op::new(
            "auth",
            &format!("auth:{name}.logout"),
            &join(prefix, "/logout"),
            HttpMethod::Post,
            "Log out",
        )
        .requires_user()
        .response(backend.logout.0, backend.logout.1.clone());
        self.add(op);
    }
}
