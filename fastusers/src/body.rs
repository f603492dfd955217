//! Request bodies: JSON and login forms, validated into the reference's 422 shape.
//!
//! fastapi-users answers a body it cannot use with `422 {"detail": [{"type", "loc", "msg",
//! "input"}, ...]}` (Pydantic's error list). [`JsonBody`] and [`LoginForm`] are the extractors
//! that give the same answers; [`FromJson`] is what a body type implements (the derive does it
//! for the user types, reading each field into its type with Pydantic's lax conversions and
//! error kinds).

pub(crate) mod field;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// One item of a 422 answer, as Pydantic reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationError {
    /// Pydantic's error type, e.g. `"missing"`, `"string_type"`, `"value_error"`.
    pub kind: &'static str,
    /// Where the error is, e.g. `["body", "email"]`.
    pub loc: Vec<Value>,
    /// The human-readable message, e.g. `"Field required"`.
    pub msg: String,
    /// The offending input.
    pub input: Value,
    /// Extra context (`{"reason": ...}`, `{"pattern": ...}`), when Pydantic gives one.
    pub ctx: Option<Value>,
}

/// The list of errors of a 422 answer. Converts into an [`ApiError`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidationErrors(Vec<ValidationError>);

impl ValidationErrors {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// A list of one error.
    pub(crate) fn single(error: ValidationError) -> Self {
        Self(vec![error])
    }

    /// Adds an error.
    pub fn push(&mut self, error: ValidationError) {
        self.0.push(error);
    }

    /// Whether no error was collected.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors collected so far.
    pub fn errors(&self) -> &[ValidationError] {
        &self.0
    }

    /// `Ok(())` when empty, else `Err(self)`.
    pub fn finish(self) -> Result<(), Self> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// The JSON list sent as `detail`.
    pub(crate) fn into_value(self) -> Value {
        Value::Array(
            self.0
                .into_iter()
                .map(|e| {
                    let mut item =
                        json!({"type": e.kind, "loc": e.loc, "msg": e.msg, "input": e.input});
                    if let Some(ctx) = e.ctx {
                        item["ctx"] = ctx;
                    }
                    item
                })
                .collect(),
        )
    }
}

// The 422 answer is made here, where the errors are, so that `error` needs nothing of `body`.
impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, errors.into_value())
    }
}

/// A type that can be read from a JSON request body with per-field validation.
///
/// `#[derive(User)]` implements it for the generated create and update types.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be read from a JSON body",
    label = "`JsonBody` needs a type that implements `fastusers::extract::FromJson`",
    note = "the create and update types of `#[derive(User)]` implement it"
)]
pub trait FromJson: Sized {
    /// Reads `value` (the whole body), collecting every field error.
    fn from_json(value: &Value) -> Result<Self, ValidationErrors>;
}

/// Extractor for a JSON body of type `T`, rejecting as fastapi-users does.
///
/// Malformed JSON, a body that is not an object and field errors are all 422s with the
/// reference's error list; a body over the size limit is a 413.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

fn loc(parts: &[&str]) -> Vec<Value> {
    parts.iter().map(|p| Value::from(*p)).collect()
}

fn body_error(kind: &'static str, msg: &str, input: Value) -> ValidationError {
    ValidationError {
        kind,
        loc: loc(&["body"]),
        msg: msg.to_owned(),
        input,
        ctx: None,
    }
}

/// Why a request body was refused. Answered in fastapi-users' shape, as [`ApiError`]s: the
/// rejection of [`JsonBody`] and [`LoginForm`], as axum's `JsonRejection` is of its `Json`.
#[derive(Debug)]
#[non_exhaustive]
pub enum BodyRejection {
    /// Larger than the body limit: 413 `Request body is too large`.
    TooLarge,
    /// The body could not be read (the connection broke, a malformed multipart body): the
    /// status and the text axum gives.
    Unreadable {
        /// The answer's status.
        status: StatusCode,
        /// What went wrong.
        text: String,
    },
    /// A form body that is not URL-encoded data: 400.
    NotUrlEncoded,
    /// The body or its fields are not what the route reads: 422 with Pydantic's list.
    Invalid(ValidationErrors),
}

impl From<ValidationErrors> for BodyRejection {
    fn from(errors: ValidationErrors) -> Self {
        Self::Invalid(errors)
    }
}

impl From<BodyRejection> for ApiError {
    fn from(rejection: BodyRejection) -> Self {
        match rejection {
            BodyRejection::TooLarge => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large")
            }
            BodyRejection::Unreadable { status, text } => ApiError::new(status, text),
            BodyRejection::NotUrlEncoded => ApiError::new(
                StatusCode::BAD_REQUEST,
                "The form body is not valid URL-encoded data",
            ),
            BodyRejection::Invalid(errors) => errors.into(),
        }
    }
}

impl IntoResponse for BodyRejection {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

/// Reads the request body; past the body limit, [`BodyRejection::TooLarge`].
async fn read_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, BodyRejection> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            BodyRejection::TooLarge
        } else {
            BodyRejection::Unreadable {
                status,
                text: rejection.body_text(),
            }
        }
    })
}

/// Whether a content type is JSON the way FastAPI decides it: no content type at all,
/// `application/json`, or `application/*+json`.
fn is_json_content_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return true };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.strip_prefix("application/") {
        Some(subtype) => subtype == "json" || subtype.ends_with("+json"),
        None => false,
    }
}

/// Parses a JSON body into a [`Value`], with FastAPI's answers for empty and malformed bodies.
pub(crate) fn parse_json(
    bytes: &[u8],
    content_type: Option<&str>,
) -> Result<Value, ValidationErrors> {
    if bytes.is_empty() {
        return Err(ValidationErrors::single(body_error(
            "missing",
            "Field required",
            Value::Null,
        )));
    }
    if !is_json_content_type(content_type) {
        // FastAPI validates the raw body text against the model: not an object.
        let text = String::from_utf8_lossy(bytes).into_owned();
        return Err(ValidationErrors::single(body_error(
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
            Value::String(text),
        )));
    }
    serde_json::from_slice(bytes).map_err(|err| {
        // Python's json reports where it stopped: past the end for a truncated document.
        let position = if err.is_eof() {
            bytes.len()
        } else {
            byte_offset(bytes, err.line(), err.column())
        };
        ValidationErrors::single(ValidationError {
            kind: "json_invalid",
            loc: vec![Value::from("body"), Value::from(position)],
            msg: "JSON decode error".to_owned(),
            input: json!({}),
            ctx: Some(json!({ "error": json_error_reason(&err) })),
        })
    })
}

/// serde_json's message without its " at line X column Y" suffix.
fn json_error_reason(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

fn byte_offset(bytes: &[u8], line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in bytes.split(|b| *b == b'\n').enumerate() {
        if i + 1 == line {
            return offset + column.saturating_sub(1);
        }
        offset += l.len() + 1;
    }
    bytes.len()
}

impl<T: FromJson, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = BodyRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = read_bytes(req, state).await?;
        let value = parse_json(&bytes, content_type.as_deref())?;
        Ok(Self(T::from_json(&value)?))
    }
}

/// The body as an object, or Pydantic's `model_attributes_type` error.
fn object(value: &Value) -> Result<&Map<String, Value>, ValidationErrors> {
    value.as_object().ok_or_else(|| {
        ValidationErrors::single(body_error(
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
            value.clone(),
        ))
    })
}

/// Pydantic's `missing` error. Its `input` is the whole body for model bodies, `null` for
/// forms and embedded fields.
fn missing(name: &str, input: Value) -> ValidationError {
    ValidationError {
        kind: "missing",
        loc: loc(&["body", name]),
        msg: "Field required".to_owned(),
        input,
        ctx: None,
    }
}

/// The OAuth2 password-flow form of `POST /login`: `username` (the email) and `password`,
/// and the client's device token, if it has one (see
/// [`DeviceTokens`](crate::throttle::DeviceTokens)).
///
/// Read from `application/x-www-form-urlencoded` or `multipart/form-data`, like FastAPI's
/// `OAuth2PasswordRequestForm`; `grant_type`, when sent, must be `password`.
#[derive(Clone)]
pub struct LoginForm {
    /// The email address.
    pub username: String,
    /// The password.
    pub password: String,
    /// The field `device_token`, when sent and not empty.
    pub device_token: Option<String>,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequest<S> for LoginForm {
    type Rejection = BodyRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let fields = form_fields(req, state).await?;
        Self::from_fields(&fields).map_err(BodyRejection::from)
    }
}

/// The fields of a form body, URL-encoded or multipart, as FastAPI reads a form: a body of
/// another content type has none.
async fn form_fields<S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<Vec<(String, String)>, BodyRejection> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let fields: Vec<(String, String)> = if content_type.starts_with("multipart/form-data") {
        let mut multipart =
            Multipart::from_request(req, state)
                .await
                .map_err(|r| BodyRejection::Unreadable {
                    status: StatusCode::BAD_REQUEST,
                    text: r.body_text(),
                })?;
        let mut fields = Vec::new();
        while let Some(field) =
            multipart
                .next_field()
                .await
                .map_err(|e| BodyRejection::Unreadable {
                    status: e.status(),
                    text: e.body_text(),
                })?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let text = field.text().await.map_err(|e| BodyRejection::Unreadable {
                status: e.status(),
                text: e.body_text(),
            })?;
            fields.push((name, text));
        }
        fields
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let bytes = read_bytes(req, state).await?;
        serde_urlencoded::from_bytes(&bytes).map_err(|_| BodyRejection::NotUrlEncoded)?
    } else {
        // FastAPI reads no form from other content types: every field is missing.
        Vec::new()
    };
    Ok(fields)
}

impl LoginForm {
    /// Validates the form's fields as FastAPI does.
    pub fn from_fields(fields: &[(String, String)]) -> Result<Self, ValidationErrors> {
        // An empty value counts as missing, as in FastAPI's form parsing.
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        let mut errors = ValidationErrors::new();
        if let Some(grant) = get("grant_type")
            && grant != "password"
        {
            errors.push(ValidationError {
                kind: "string_pattern_mismatch",
                loc: loc(&["body", "grant_type"]),
                msg: "String should match pattern '^password$'".to_owned(),
                input: Value::String(grant),
                ctx: Some(json!({"pattern": "^password$"})),
            });
        }
        let mut field = |name: &str| {
            let value = get(name);
            if value.is_none() {
                errors.push(missing(name, Value::Null));
            }
            value
        };
        let username = field("username");
        let password = field("password");
        errors.finish()?;
        Ok(Self {
            username: username.unwrap_or_default(),
            password: password.unwrap_or_default(),
            device_token: get("device_token"),
        })
    }
}

/// The body of `POST /refresh` (RFC 6749 section 6): `grant_type=refresh_token` and
/// `refresh_token`, URL-encoded (or multipart). A cookie client sends no body: its refresh
/// token is its refresh cookie.
#[derive(Clone, Default)]
pub struct RefreshForm {
    fields: Vec<(String, String)>,
}

impl std::fmt::Debug for RefreshForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshForm").finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequest<S> for RefreshForm {
    type Rejection = BodyRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            fields: form_fields(req, state).await?,
        })
    }
}

impl RefreshForm {
    /// The refresh token, once the form is checked as RFC 6749 section 6 says: `grant_type`
    /// must be `refresh_token` and `refresh_token` present (a 422 in FastAPI's shape otherwise).
    pub fn refresh_token(&self) -> Result<&str, ValidationErrors> {
        let get = |name: &str| {
            self.fields
                .iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.as_str())
        };
        let mut errors = ValidationErrors::new();
        match get("grant_type") {
            None => errors.push(missing("grant_type", Value::Null)),
            Some("refresh_token") => {}
            Some(grant) => errors.push(ValidationError {
                kind: "string_pattern_mismatch",
                loc: loc(&["body", "grant_type"]),
                msg: "String should match pattern '^refresh_token$'".to_owned(),
                input: Value::String(grant.to_owned()),
                ctx: Some(json!({"pattern": "^refresh_token$"})),
            }),
        }
        let token = get("refresh_token");
        if token.is_none() {
            errors.push(missing("refresh_token", Value::Null));
        }
        errors.finish()?;
        Ok(token.unwrap_or_default())
    }

    /// The token of a revocation request (RFC 7009 section 2.1): `token` must be present
    /// (`token_type_hint` is ignored: only refresh tokens are revoked there).
    pub fn revoked_token(&self) -> Result<&str, ValidationErrors> {
        match self
            .fields
            .iter()
            .find(|(k, v)| k == "token" && !v.is_empty())
        {
            Some((_, token)) => Ok(token),
            None => {
                let mut errors = ValidationErrors::new();
                errors.push(missing("token", Value::Null));
                errors.finish()?;
                Ok("")
            }
        }
    }
}

/// A body whose fields FastAPI reads one by one (`Body(embed=True)`, as the verify and reset
/// routes do): a body that is empty, not JSON or not an object has no fields, and a missing
/// field's `input` is `null`.
#[derive(Debug, Clone, Default)]
pub(crate) struct EmbeddedJson(pub(crate) Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for EmbeddedJson {
    type Rejection = BodyRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = read_bytes(req, state).await?;
        if bytes.is_empty() || !is_json_content_type(content_type.as_deref()) {
            return Ok(Self::default());
        }
        let value = parse_json(&bytes, content_type.as_deref())?;
        Ok(Self(match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn form(body: &'static str) -> Request {
        Request::builder()
            .method("POST")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    }

    #[tokio::test]
    async fn bodies_reject_with_a_typed_rejection() {
        let missing = LoginForm::from_request(form("username=a%40b.c"), &()).await;
        let Err(BodyRejection::Invalid(errors)) = missing else {
            panic!("a form without its password is Invalid: {missing:?}");
        };
        assert_eq!(errors.errors().len(), 1, "{errors:?}");
        let answer = ApiError::from(BodyRejection::Invalid(errors));
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let large = Request::builder()
            .method("POST")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(vec![b' '; 3 * 1024 * 1024]))
            .unwrap();
        let rejection = EmbeddedJson::from_request(large, &()).await.unwrap_err();
        assert!(
            matches!(rejection, BodyRejection::TooLarge),
            "{rejection:?}"
        );
        assert_eq!(
            ApiError::from(rejection).status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
