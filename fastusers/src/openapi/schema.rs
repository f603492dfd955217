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

/// An object schema with these properties `(name, schema, required)`, in this order.
pub fn object(description: &str, properties: Vec<(&str, RefOr<Schema>, bool)>) -> RefOr<Schema> {
    let mut builder = typed(Type::Object).description(Some(description));
    for (name, schema, required) in properties {
        builder = builder.property(name, schema);
        if required {
            builder = builder.required(name);
        }
    }
    builder.into()
}

fn array(items: RefOr<Schema>) -> RefOr<Schema> {
    ArrayBuilder::new().items(items).into()
}

/// A `$ref` to the named schema of the document's components.
pub fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name))
}

/// The named schemas every document has, `(name, schema)`.
pub(crate) fn fixed() -> Vec<(&'static str, RefOr<Schema>)> {
    let detail = AnyOfBuilder::new()
        .item(string())
        .item(
            typed(Type::Object)
                .description(Some(
                    "`{\"code\": ..., \"reason\": ...}` of a refused password",
                ))
                .property("code", string())
                .property("reason", any())
                .required("code"),
        )
        .build();
    let loc_item = AnyOfBuilder::new().item(string()).item(integer()).build();
    vec![
        (
            "ErrorModel",
            object(
                "An error: `detail` is an error code, a reason phrase or a `{code, reason}` object.",
                vec![("detail", Schema::AnyOf(detail).into(), true)],
            ),
        ),
        (
            "ValidationError",
            object(
                "One validation failure, as Pydantic v2 reports it.",
                vec![
                    ("loc", array(Schema::AnyOf(loc_item).into()), true),
                    ("msg", string(), true),
                    ("type", string(), true),
                    ("input", any(), false),
                    ("ctx", typed(Type::Object).into(), false),
                ],
            ),
        ),
        (
            "HTTPValidationError",
            object(
                "A 422: every validation failure of the request.",
                vec![("detail", array(reference("ValidationError")), true)],
            ),
        ),
        ("BearerResponse", bearer_response(false)),
        ("OAuth2PasswordRequestForm", login_form(false)),
        (
            "Session",
            object(
                "One server-side session of the current user (never its token).",
                vec![
                    ("id", string(), true),
                    ("backend", string(), true),
                    ("created_at", formatted("date-time"), true),
                ],
            ),
        ),
    ]
}

/// A Bearer login's answer; with `device_token`, the device token's field too.
pub(crate) fn bearer_response(device_token: bool) -> RefOr<Schema> {
    let mut fields = vec![
        ("access_token", string(), true),
        (
            "token_type",
            typed(Type::String).enum_values(Some(["bearer"])).into(),
            true,
        ),
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
            typed(Type::String).enum_values(Some(["password"])).into(),
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
        ("client_id", string(), false),
        ("client_secret", password(), false),
    ];
    if device_token {
        fields.push(("device_token", device_token_schema(), false));
    }
    object(
        "The OAuth2 password-flow form: `username` is the email.",
        fields,
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

/// A JSON object body with these required fields, FastAPI's `Body(embed=True)` bodies.
pub(crate) fn embedded(description: &str, fields: Vec<(&str, RefOr<Schema>)>) -> RefOr<Schema> {
    object(
        description,
        fields.into_iter().map(|(n, s)| (n, s, true)).collect(),
    )
}

/// `Required::True`, for request bodies and path parameters.
pub(crate) const REQUIRED: Required = Required::True;
