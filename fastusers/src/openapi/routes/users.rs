//! `GET`/`PATCH /me` and `GET`/`PATCH`/`DELETE /{id}`.

use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::response::Response;

use super::{Builder, UserNames};
use crate::error::ErrorCode;
use crate::openapi::responses::{
    Op, coded_error, join, json_body, json_response, not_found, path_param,
};
use crate::openapi::schema::reference as schema_ref;

impl Builder {
    pub(super) fn users(&mut self, prefix: &str, user: &UserNames) {
        let update_errors = || {
            coded_error(
                "The email is taken, or the password was refused.",
                &[
                    ErrorCode::UpdateUserEmailAlreadyExists,
                    ErrorCode::UpdateUserInvalidPassword,
                ],
            )
        };
        let read = || json_response("The user.", schema_ref(&user.read));
        let update = || json_body(schema_ref(&user.update));
        let unknown = || not_found("The user does not exist.");
        let id = || path_param("id", "The user's id; one that does not parse is a 404.");

        let me = join(prefix, "/me");
        let op = Op::new(
            "users",
            "users:current_user",
            &me,
            HttpMethod::Get,
            "The current user",
        )
        .requires_user()
        .response(200, read());
        self.add(op);

        let op = Op::new(
            "users",
            "users:patch_current_user",
            &me,
            HttpMethod::Patch,
            "Update the current user",
        )
        .requires_user()
        .body(update())
        .response(200, read())
        .response(400, update_errors());
        self.add(op);

        let path = join(prefix, "/{id}");
        let op = Op::new(
            "users",
            "users:user",
            &path,
            HttpMethod::Get,
            "A user (superuser)",
        )
        .requires_superuser()
        .parameter(id())
        .response(200, read())
        .response(404, unknown());
        self.add(op);

        let op = Op::new(
            "users",
            "users:patch_user",
            &path,
            HttpMethod::Patch,
            "Update a user (superuser)",
        )
        .requires_superuser()
        .parameter(id())
        .body(update())
        .response(200, read())
        .response(400, update_errors())
        .response(404, unknown());
        self.add(op);

        let op = Op::new(
            "users",
            "users:delete_user",
            &path,
            HttpMethod::Delete,
            "Delete a user (superuser)",
        )
        .requires_superuser()
        .parameter(id())
        .response(204, Response::new("Deleted."))
        .response(404, unknown());
        self.add(op);
    }
}
