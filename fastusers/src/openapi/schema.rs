//! Schemas: the pieces `#[derive(User)]` builds the user types' schemas from, and the fixed
//! bodies of the routes (errors, forms, login answers), as FastAPI names them.

use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{RefOr, Required};

/// A type a field of the user struct may have with the `openapi` feature: it has a schema.
/// Implemented for every type with utoipa's [`PartialSchema`](utoipa::PartialSchema); the
/// derive names it with the field's type, so that a type without a schema is one error there.
#[diagnostic::on_unimplemented(
    message = "a field of type `{Self}` has no OpenAPI schema",
    label = "implement `utoipa::PartialSchema` for `{Self}` (`#[derive(utoipa::ToSchema)]`)",
    note = "with the `openapi` feature, every field that clients see or send is documented"
)]
pub trait FieldSchema {
    /// The field's schema.
    fn schema() -> RefOr<Schema>;
}

#[diagnostic::do_not_recommend]
impl<T: utoipa::PartialSchema> FieldSchema for T {
    fn schema() -> RefOr<Schema> {
        T::schema()
    }
}

fn typed(ty: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(ty)
}

fn formatted(format: &str) -> RefOr<Schema> {
    typed(Type::String)
        .format(Some(SchemaFormat::Custom(format.to_owned())))
        .into()
}

/// `{"type": "string"}`.
pub fn string() -> RefOr<Schema> {
    typed(Type::String).into()
}

/// `{"type": "integer"}`.
pub fn integer() -> RefOr<Schema> {
    typed(Type::Integer).into()
}

/// Any JSON value: `{}`.
pub fn any() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .into()
}

/// `{"type": "boolean"}`.
pub fn boolean() -> RefOr<Schema> {
    typed(Type::Boolean).into()
}

/// An email address: `{"type": "string", "format": "email"}`.
pub fn email() -> RefOr<Schema> {
    formatted("email")
}

/// A password: `{"type": "string", "format": "password"}`, so documentation tools mask it.
pub fn password() -> RefOr<Schema> {
    formatted("password")
}

/// A UUID: `{"type": "string", "format": "uuid"}`.
pub fn uuid() -> RefOr<Schema> {
    formatted("uuid")
}

/// A string of a format: `{"type": "string", "format": "date-time"}`.
pub fn formatted_string(format: &str) -> RefOr<Schema> {
    formatted(format)
}

/// A list: `{"type": "array", "items": ...}`.
pub fn array(items: RefOr<Schema>) -> RefOr<Schema> {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(items)
        .into()
}

/// `{"type": "null"}`.
pub fn null() -> RefOr<Schema> {
    typed(Type::Null).into()
}

/// `schema` or `null`: a second type for a plain schema (`"type": ["string", "null"]`), a
/// `oneOf` for anything else.
pub fn nullable(schema: RefOr<Schema>) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            object.schema_type = match object.schema_type {
                SchemaType::Type(Type::Null) => SchemaType::Type(Type::Null),
                SchemaType::Type(ty) => SchemaType::Array(vec![ty, Type::Null]),
                SchemaType::Array(mut types) => {
                    if !types.contains(&Type::Null) {
                        types.push(Type::Null);
                    }
                    SchemaType::Array(types)
                }
                SchemaType::AnyValue => SchemaType::AnyValue,
            };
            RefOr::T(Schema::Object(object))
        }
        other => OneOfBuilder::new().item(other).item(null()).into(),
    }
}

/// An object schema with these properties `(name, schema, required)`, in this order. Each
/// property is titled as Pydantic titles it (`access_token` is "Access Token"), which code
/// generators name the classes of nested objects and enums after.
pub fn object(description: &str, properties: Vec<(&str, RefOr<Schema>, bool)>) -> RefOr<Schema> {
    let mut builder = typed(Type::Object).description(Some(description));
    for (name, schema, required) in properties {
        builder = builder.property(name, titled(schema, &title(name)));
        if required {
            builder = builder.required(name);
        }
    }
    builder.into()
}

/// Pydantic's title of a field: words split at `_`, each capitalised.
fn title(name: &str) -> String {
    name.split('_')
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `schema` with this title, unless it has one (a `$ref` or an `anyOf` cannot have one).
fn titled(schema: RefOr<Schema>, title: &str) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            object.title.get_or_insert_with(|| title.to_owned());
            RefOr::T(Schema::Object(object))
        }
        RefOr::T(Schema::OneOf(mut one_of)) => {
            one_of.title.get_or_insert_with(|| title.to_owned());
            RefOr::T(Schema::OneOf(one_of))
        }
        other => other,
    }
}

/// `schema` with this default value (for a plain schema; others are left as they are).
pub fn with_default(schema: RefOr<Schema>, default: serde_json::Value) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            object.default = Some(default);
            RefOr::T(Schema::Object(object))
        }
        RefOr::T(Schema::OneOf(mut one_of)) => {
            one_of.default = Some(default);
            RefOr::T(Schema::OneOf(one_of))
        }
        other => other,
    }
}

/// Where a user flag (`is_active`, `is_superuser`, `is_verified`) is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagIn {
    /// The read type: a boolean with its default.
    Read,
    /// The create type: a boolean or `null` (both ignored at registration), with its default.
    Create,
    /// The update type: a boolean or `null`.
    Update,
}

/// The schema of the user flag `name` in `place`, as the reference's Pydantic models give it.
pub fn flag(name: &str, place: FlagIn) -> RefOr<Schema> {
    let default = serde_json::Value::Bool(name == "is_active");
    match place {
        FlagIn::Read => with_default(boolean(), default),
        FlagIn::Create => with_default(nullable(boolean()), default),
        FlagIn::Update => nullable(boolean()),
    }
}

/// A `$ref` to the named schema of the document's components.
pub fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name))
}

/// The named schemas every document has, `(name, schema)`, as FastAPI's documents have them.
pub(crate) fn fixed() -> Vec<(&'static str, RefOr<Schema>)> {
    // `{"code": ..., "reason": ...}` of a refused password is the object.
    let detail = AnyOfBuilder::new()
        .item(string())
        .item(typed(Type::Object).additional_properties(Some(string())));
    let loc_item = AnyOfBuilder::new().item(string()).item(integer());
    let error = typed(Type::Object)
        .title(Some("ValidationError"))
        .description(Some("One validation failure, as Pydantic v2 reports it."))
        .property(
            "loc",
            ArrayBuilder::new().items(loc_item).title(Some("Location")),
        )
        .property("msg", typed(Type::String).title(Some("Message")))
        .property("type", typed(Type::String).title(Some("Error Type")))
        .property(
            "input",
            ObjectBuilder::new()
                .schema_type(SchemaType::AnyValue)
                .title(Some("Input")),
        )
        .property("ctx", typed(Type::Object).title(Some("Context")))
        .required("loc")
        .required("msg")
        .required("type");
    vec![
        (
            "ErrorModel",
            typed(Type::Object)
                .title(Some("ErrorModel"))
                .description(Some(
                    "An error: `detail` is an error code, a reason phrase or a `{code, reason}` object.",
                ))
                .property("detail", detail)
                .required("detail")
                .into(),
        ),
        ("ValidationError", error.into()),
        (
            "HTTPValidationError",
            typed(Type::Object)
                .title(Some("HTTPValidationError"))
                .description(Some("A 422: every validation failure of the request."))
                .property(
                    "detail",
                    ArrayBuilder::new()
                        .items(reference("ValidationError"))
                        .title(Some("Detail")),
                )
                .into(),
        ),
        ("BearerResponse", bearer_response(false)),
    ]
}

/// `{"type": "object", "properties": {...}, "required": [...]}` of the server-side sessions
/// route.
pub(crate) fn session() -> RefOr<Schema> {
    object(
        "One server-side session of the current user (never its token).",
        vec![
            ("id", string(), true),
            ("backend", string(), true),
            ("created_at", formatted("date-time"), true),
        ],
    )
}

/// A Bearer login's answer; with `device_token`, the device token's field too.
pub(crate) fn bearer_response(device_token: bool) -> RefOr<Schema> {
    let mut fields = vec![
        ("access_token", string(), true),
        // A string, not an enum of "bearer": as the reference's, so that generated clients
        // have the same types.
        ("token_type", string(), true),
    ];
    if device_token {
        fields.push(("device_token", device_token_schema(), true));
        return object(
            "A Bearer login's token, and the client's new device token.",
            fields,
        );
    }
    object("A Bearer login's token.", fields)
}

/// The OAuth2 password-flow form; with `device_token`, the device token's field too.
pub(crate) fn login_form(device_token: bool) -> RefOr<Schema> {
    let mut fields = vec![
        (
            "grant_type",
            nullable(typed(Type::String).pattern(Some("^password$")).into()),
            false,
        ),
        // An empty value counts as missing.
        (
            "username",
            typed(Type::String).min_length(Some(1)).into(),
            true,
        ),
        (
            "password",
            typed(Type::String)
                .format(Some(SchemaFormat::Custom("password".to_owned())))
                .min_length(Some(1))
                .into(),
            true,
        ),
        (
            "scope",
            typed(Type::String).default(Some("".into())).into(),
            false,
        ),
        ("client_id", nullable(string()), false),
        ("client_secret", nullable(password()), false),
    ];
    if device_token {
        fields.push(("device_token", device_token_schema(), false));
    }
    object(
        "The OAuth2 password-flow form: `username` is the email.",
        fields,
    )
}

/// The answer of a login or refresh of a Bearer backend with refresh tokens (RFC 6749
/// section 5.1); with `device_token` after a login that made one.
pub(crate) fn refresh_response(device_token: bool) -> RefOr<Schema> {
    let mut fields = vec![
        ("access_token", string(), true),
        ("token_type", string(), true),
        (
            "refresh_token",
            typed(Type::String)
                .description(Some(
                    "Single-use: exchange it at the backend's `/refresh` for the next one.",
                ))
                .into(),
            true,
        ),
        (
            "expires_in",
            typed(Type::Integer)
                .description(Some("The access token's lifetime in seconds."))
                .into(),
            false,
        ),
    ];
    if device_token {
        fields.push(("device_token", device_token_schema(), false));
    }
    object(
        "A Bearer login's or refresh's tokens: the access token, and the refresh token that renews it.",
        fields,
    )
}

/// RFC 6749 section 6's refresh form; optional for a cookie backend, whose clients send the
/// refresh cookie instead.
pub(crate) fn refresh_form(cookie: bool) -> RefOr<Schema> {
    object(
        if cookie {
            "RFC 6749's refresh request. Browsers send no body: the refresh cookie is the token."
        } else {
            "RFC 6749's refresh request."
        },
        vec![
            (
                "grant_type",
                typed(Type::String).pattern(Some("^refresh_token$")).into(),
                !cookie,
            ),
            (
                "refresh_token",
                typed(Type::String).min_length(Some(1)).into(),
                !cookie,
            ),
        ],
    )
}

/// RFC 7009's revocation form; optional for a cookie backend, whose clients send the refresh
/// cookie instead.
pub(crate) fn revoke_form(cookie: bool) -> RefOr<Schema> {
    object(
        "RFC 7009's revocation request: the refresh token to revoke.",
        vec![
            (
                "token",
                typed(Type::String).min_length(Some(1)).into(),
                !cookie,
            ),
            ("token_type_hint", nullable(string()), false),
        ],
    )
}

fn device_token_schema() -> RefOr<Schema> {
    typed(Type::String)
        .description(Some(
            "The device token a successful login gave this client: its logins are then counted per device, not locked out by failures from elsewhere. Cookie clients send the device cookie instead.",
        ))
        .into()
}

/// `{"authorization_url": ...}`, the answer of an OAuth `authorize` route.
#[cfg(feature = "oauth")]
pub(crate) fn oauth_fixed() -> Vec<(&'static str, RefOr<Schema>)> {
    vec![
        (
            "OAuth2AuthorizeResponse",
            object(
                "Where to send the user to log in at the provider.",
                vec![("authorization_url", formatted("uri"), true)],
            ),
        ),
        (
            "OAuthAccount",
            object(
                "A provider account linked to the user. `access_token` and `refresh_token` only when the application exposes them.",
                vec![
                    ("id", uuid(), true),
                    ("oauth_name", string(), true),
                    ("expires_at", nullable(integer()), true),
                    ("account_id", string(), true),
                    ("account_email", string(), true),
                    ("access_token", string(), false),
                    ("refresh_token", nullable(string()), false),
                ],
            ),
        ),
    ]
}

/// A JSON object body with these required fields, FastAPI's `Body(embed=True)` bodies, named
/// `name`.
pub(crate) fn embedded(name: &str, fields: Vec<(&str, RefOr<Schema>)>) -> RefOr<Schema> {
    let body = object(
        "The request body.",
        fields.into_iter().map(|(n, s)| (n, s, true)).collect(),
    );
    titled(body, name)
}

/// `Required::True`, for request bodies and path parameters.
pub(crate) const REQUIRED: Required = Required::True;
