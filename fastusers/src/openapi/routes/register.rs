//! `POST /register`.

use utoipa::openapi::path::HttpMethod;

use super::{Builder, UserNames};
use crate::error::ErrorCode;
use crate::openapi::responses::{Op, coded_error, join, json_body, json_response};
use crate::openapi::schema::reference as schema_ref;

impl Builder {
    pub(super) fn register(&mut self, prefix: &str, user: &UserNames) {
        let op = Op::new(
            "auth",
            "register:register",
            &join(prefix, "/register"),
            HttpMethod::Post,
            "Register",
        )
        .body(json_body(schema_ref(&user.create)))
        .response(201, json_response("The new user.", schema_ref(&user.read)))
        .response(
            400,
            coded_error(
                "The password was refused, or the email is taken.",
                &[
                    ErrorCode::RegisterUserAlreadyExists,
                    ErrorCode::RegisterInvalidPassword,
                ],
            ),
        );
        self.add(op);
    }
}
