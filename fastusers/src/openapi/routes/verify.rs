//! `POST /request-verify-token` and `POST /verify`.

use utoipa::openapi::path::HttpMethod;

use super::{Builder, UserNames};
use crate::error::ErrorCode;
use crate::openapi::responses::{Op, coded_error, join, json_response};
use crate::openapi::schema::{self, reference as schema_ref};

impl Builder {
    pub(super) fn verify(&mut self, prefix: &str, user: &UserNames) {
        self.accepted(
            "verify:request-token",
            &join(prefix, "/request-verify-token"),
            "Request a verification token",
        );

        let op = Op::new(
            "auth",
            "verify:verify",
            &join(prefix, "/verify"),
            HttpMethod::Post,
            "Verify",
        );
        let body = self.embedded_body(op.id(), vec![("token", schema::string())]);
        let op = op
            .body(body)
            .response(
                200,
                json_response("The verified user.", schema_ref(&user.read)),
            )
            .response(
                400,
                coded_error(
                    "Bad token, or the user is already verified.",
                    &[
                        ErrorCode::VerifyUserBadToken,
                        ErrorCode::VerifyUserAlreadyVerified,
                    ],
                ),
            );
        self.add(op);
    }
}
