//! Request bodies: JSON and login forms, validated into the reference's 422 shape.
//!
//! fastapi-users answers a body it cannot use with `422 {"detail": [{"type", "loc", "msg",
//! "input"}, ...]}` (Pydantic's error list). [`JsonBody`] and [`LoginForm`] are the extractors
//! that give the same answers; [`FromJson`] is what a body type implements (the derive does it
//! for the user types) with the field helpers of this module.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::email;
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
    pub fn single(error: ValidationError) -> Self {
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
    pub fn into_value(self) -> Value {
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

/// A type that can be read from a JSON request body with per-field validation.
///
/// `#[derive(User)]` implements it for the generated create and update types.
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

/// Reads the request body, turning the body limit's rejection into a JSON 413.
async fn read_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "Request body is too large")
        } else {
            ApiError::new(status, rejection.body_text())
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
pub fn parse_json(bytes: &[u8], content_type: Option<&str>) -> Result<Value, ValidationErrors> {
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
    type Rejection = ApiError;

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
pub fn object(value: &Value) -> Result<&Map<String, Value>, ValidationErrors> {
    value.as_object().ok_or_else(|| {
        ValidationErrors::single(body_error(
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
            value.clone(),
        ))
    })
}

/// How a field's value failed to convert, in Pydantic's words.
fn type_error(name: &str, value: &Value, err: &serde_json::Error) -> ValidationError {
    let text = err.to_string();
    let (kind, msg) = if text.contains("expected a string") {
        ("string_type", "Input should be a valid string".to_owned())
    } else if text.contains("expected a boolean") {
        ("bool_type", "Input should be a valid boolean".to_owned())
    } else if text.contains("expected i") || text.contains("expected u") {
        ("int_type", "Input should be a valid integer".to_owned())
    } else if text.contains("expected f") {
        ("float_type", "Input should be a valid number".to_owned())
    } else {
        (
            "value_error",
            format!("Value error, {}", json_error_reason(err)),
        )
    };
    ValidationError {
        kind,
        loc: loc(&["body", name]),
        msg,
        input: value.clone(),
        ctx: None,
    }
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

/// The value of a required field, or `None` with a `missing` error recorded.
fn present<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    errors: &mut ValidationErrors,
    missing_input: impl FnOnce() -> Value,
) -> Option<&'a Value> {
    let value = obj.get(name);
    if value.is_none() {
        errors.push(missing(name, missing_input()));
    }
    value
}

/// Whether a JSON value holds a NUL character in any string: no database stores it as text
/// (PostgreSQL refuses it), so such input is refused here, as a 422, not deep in a query.
fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

fn convert<T: DeserializeOwned>(
    name: &str,
    value: &Value,
    errors: &mut ValidationErrors,
) -> Option<T> {
    if has_nul(value) {
        errors.push(ValidationError {
            kind: "value_error",
            loc: loc(&["body", name]),
            msg: "Value error, text may not contain NUL characters".to_owned(),
            input: value.clone(),
            ctx: Some(json!({"error": {}})),
        });
        return None;
    }
    match T::deserialize(value) {
        Ok(v) => Some(v),
        Err(err) => {
            errors.push(type_error(name, value, &err));
            None
        }
    }
}

/// A required field: absent is `missing`, a wrong type is the type's error.
pub fn required<T: DeserializeOwned>(
    obj: &Map<String, Value>,
    name: &str,
    errors: &mut ValidationErrors,
) -> Option<T> {
    present(obj, name, errors, || Value::Object(obj.clone()))
        .and_then(|value| convert(name, value, errors))
}

/// An optional field that may not be `null`: absent is `None`.
pub fn optional<T: DeserializeOwned>(
    obj: &Map<String, Value>,
    name: &str,
    errors: &mut ValidationErrors,
) -> Option<T> {
    obj.get(name).and_then(|value| convert(name, value, errors))
}

/// An optional field where `null` means the same as absent.
pub fn optional_or_null<T: DeserializeOwned>(
    obj: &Map<String, Value>,
    name: &str,
    errors: &mut ValidationErrors,
) -> Option<T> {
    match obj.get(name) {
        None | Some(Value::Null) => None,
        Some(value) => convert(name, value, errors),
    }
}

/// A field of a nullable column: absent is `None`, `null` is `Some(None)`.
pub fn nullable<T: DeserializeOwned>(
    obj: &Map<String, Value>,
    name: &str,
    errors: &mut ValidationErrors,
) -> Option<Option<T>> {
    match obj.get(name) {
        None => None,
        Some(Value::Null) => Some(None),
        Some(value) => convert(name, value, errors).map(Some),
    }
}

/// Pydantic's lax boolean: `true`/`false`, `0`/`1` and the strings `"true"`, `"yes"`, `"on"`,
/// `"1"`, `"t"`, `"y"` (and their negatives), any case.
fn lax_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => Some(false),
            Some(1.0) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
            "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// An optional boolean, parsed as leniently as Pydantic does; `null` is an error.
pub fn optional_bool(
    obj: &Map<String, Value>,
    name: &str,
    errors: &mut ValidationErrors,
) -> Option<bool> {
    let value = obj.get(name)?;
    let parsed = lax_bool(value);
    if parsed.is_none() {
        let (kind, msg) = match value {
            Value::String(_) | Value::Number(_) => (
                "bool_parsing",
                "Input should be a valid boolean, unable to interpret input",
            ),
            _ => ("bool_type", "Input should be a valid boolean"),
        };
        errors.push(ValidationError {
            kind,
            loc: loc(&["body", name]),
            msg: msg.to_owned(),
            input: value.clone(),
            ctx: None,
        });
    }
    parsed
}

/// [`optional_bool`] where `null` means the same as absent: the user flags of the create and
/// update bodies, which the reference declares `boolean | null`.
pub fn optional_bool_or_null(
    obj: &Map<String, Value>,
    name: &str,
    errors: &mut ValidationErrors,
) -> Option<bool> {
    match obj.get(name) {
        None | Some(Value::Null) => None,
        Some(_) => optional_bool(obj, name, errors),
    }
}

fn checked_email(name: &str, value: &Value, errors: &mut ValidationErrors) -> Option<String> {
    let text: String = convert(name, value, errors)?;
    match email::normalize(&text) {
        Ok(normalized) => Some(normalized),
        Err(reason) => {
            errors.push(ValidationError {
                kind: "value_error",
                loc: loc(&["body", name]),
                msg: format!("value is not a valid email address: {reason}"),
                input: value.clone(),
                ctx: Some(json!({ "reason": reason.to_string() })),
            });
            None
        }
    }
}

/// A required email address, validated and normalised (domain lower-cased).
pub fn required_email(
    obj: &Map<String, Value>,
    name: &str,
    errors: &mut ValidationErrors,
) -> Option<String> {
    present(obj, name, errors, || Value::Object(obj.clone()))
        .and_then(|value| checked_email(name, value, errors))
}

/// An optional email address that may not be `null`.
pub fn optional_email(
    obj: &Map<String, Value>,
    name: &str,
    errors: &mut ValidationErrors,
) -> Option<String> {
    obj.get(name)
        .and_then(|value| checked_email(name, value, errors))
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
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let fields: Vec<(String, String)> = if content_type.starts_with("multipart/form-data") {
            let mut multipart = Multipart::from_request(req, state)
                .await
                .map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, r.body_text()))?;
            let mut fields = Vec::new();
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|e| ApiError::new(e.status(), e.body_text()))?
            {
                let name = field.name().unwrap_or_default().to_owned();
                let text = field
                    .text()
                    .await
                    .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
                fields.push((name, text));
            }
            fields
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            let bytes = read_bytes(req, state).await?;
            serde_urlencoded::from_bytes(&bytes).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "The form body is not valid URL-encoded data",
                )
            })?
        } else {
            // FastAPI reads no form from other content types: every field is missing.
            Vec::new()
        };
        Self::from_fields(&fields).map_err(ApiError::from)
    }
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

/// A body whose fields FastAPI reads one by one (`Body(embed=True)`, as the verify and reset
/// routes do): a body that is empty, not JSON or not an object has no fields, and a missing
/// field's `input` is `null`.
#[derive(Debug, Clone, Default)]
pub struct EmbeddedJson(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for EmbeddedJson {
    type Rejection = ApiError;

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

/// A required field of an [`EmbeddedJson`] body.
pub fn embedded<T: DeserializeOwned>(
    obj: &Map<String, Value>,
    name: &str,
    errors: &mut ValidationErrors,
) -> Option<T> {
    present(obj, name, errors, || Value::Null).and_then(|value| convert(name, value, errors))
}

/// A required email field of an [`EmbeddedJson`] body, validated and normalised.
pub fn embedded_email(
    obj: &Map<String, Value>,
    name: &str,
    errors: &mut ValidationErrors,
) -> Option<String> {
    present(obj, name, errors, || Value::Null).and_then(|value| checked_email(name, value, errors))
}
