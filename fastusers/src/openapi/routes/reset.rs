//! `POST /forgot-password` and `POST /reset-password`.

use utoipa::openapi::path::HttpMethod;

use super::Builder;
use crate::error::ErrorCode;
use crate::openapi::responses::{Op, coded_error, join, json_response};
use crate::openapi::schema;

impl Builder {
    pub(super) fn reset_password(&mut self, prefix: &str) {
        self.accepted(
            "reset:forgot_password",
            &join(prefix, "/forgot-password"),
            "Forgot password",
        );

        let op = Op::new(
            "auth",
            "reset:reset_password",
            &join(prefix, "/reset-password"),
            HttpMethod::Post,
            "Reset password",
        );
        let body = self.embedded_body(
            op.id(),
            vec![
                ("token", schema::string()),
                ("password", schema::password()),
            ],
        );
        let op = op
            .body(body)
            .response(
                200,
                json_response("The password is reset: `null`.", schema::null()),
            )
            .response(
                400,
                coded_error(
                    "Bad token, or the password was refused.",
                    &[
                        ErrorCode::ResetPasswordBadToken,
                        ErrorCode::ResetPasswordInvalidPassword,
                    ],
                ),
            );
        self.add(op);
    }
}
