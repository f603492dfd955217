//! `GET /me/sessions` and `DELETE /me/sessions/{id}`.

use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::ArrayBuilder;

use super::Builder;
use crate::openapi::responses::{Op, join, json_response, not_found, path_param};
use crate::openapi::schema::reference as schema_ref;

impl Builder {
    pub(super) fn sessions(&mut self, prefix: &str) {
        let op = Op::new(
            "users",
            "users:sessions",
            &join(prefix, "/me/sessions"),
            HttpMethod::Get,
            "The current user's sessions",
        )
        .requires_user()
        .response(
            200,
            json_response(
                "The server-side sessions (database and Redis tokens).",
                ArrayBuilder::new().items(schema_ref("Session")).into(),
            ),
        );
        self.add(op);

        let op = Op::new(
            "users",
            "users:revoke_session",
            &join(prefix, "/me/sessions/{id}"),
            HttpMethod::Delete,
            "Revoke a session",
        )
        .requires_user()
        .parameter(path_param("id", "The session's id."))
        .response(204, Response::new("Revoked."))
        .response(404, not_found("No such session of the current user."));
        self.add(op);
    }
}
