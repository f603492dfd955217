//! With the `openapi` feature: the OpenAPI schemas of the read, create and update types, built
//! with the runtime's helpers (`<crate>::__private::openapi`). A custom field's schema is its
//! type's `utoipa::PartialSchema` (through `FieldSchema`), so a type without one is a compile
//! error at that field's type.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::ast::{Field, Kind, Model, kind, name_and_args, option_inner, simple_name};

/// How one property is listed: its name, its schema and whether it is required.
struct Property {
    name: String,
    schema: TokenStream,
    required: bool,
}

/// The schema of a value of type `ty`: nullable for `Option<T>`, utoipa's schema of the type
/// otherwise (UUIDs excepted, which utoipa describes only in its own derive).
fn type_schema(p: &TokenStream, ty: &syn::Type) -> TokenStream {
    if let Some(inner) = option_inner(ty) {
        let inner = type_schema(p, inner);
        return quote!(#p::openapi::schema::nullable(#inner));
    }
    if simple_name(ty).as_deref() == Some("Uuid") {
        return quote!(#p::openapi::schema::uuid());
    }
    // Types whose schema utoipa has only in its own derive, or not at all.
    match kind(ty) {
        Kind::Chrono => {
            let format = match name_and_args(ty).map(|(name, _)| name).as_deref() {
                Some("NaiveDate") => "date",
                Some("NaiveTime") => "time",
                _ => "date-time",
            };
            return quote!(#p::openapi::schema::formatted_string(#format));
        }
        Kind::Json(None) => return quote!(#p::openapi::schema::any()),
        Kind::Json(Some(inner)) => return type_schema(p, inner),
        Kind::List(inner) => {
            let inner = type_schema(p, inner);
            return quote!(#p::openapi::schema::array(#inner));
        }
        Kind::Other => {}
    }
    quote_spanned!(ty.span()=> <#ty as #p::openapi::schema::FieldSchema>::schema())
}

/// The schema of a base field, by name; `None` for a custom field.
fn base_schema(p: &TokenStream, field: &Field) -> Option<TokenStream> {
    Some(match field.name().as_str() {
        "id" => return Some(type_schema(p, &field.ty)),
        "email" => quote!(#p::openapi::schema::email()),
        flag @ ("is_active" | "is_superuser" | "is_verified") => {
            quote!(#p::openapi::schema::flag(#flag, #p::openapi::schema::FlagIn::Read))
        }
        _ => return None,
    })
}

fn schema_of(p: &TokenStream, field: &Field) -> TokenStream {
    base_schema(p, field).unwrap_or_else(|| type_schema(p, &field.ty))
}

fn impls(p: &TokenStream, ty: &syn::Ident, description: &str, props: &[Property]) -> TokenStream {
    let names = props.iter().map(|prop| &prop.name);
    let schemas = props.iter().map(|prop| &prop.schema);
    let required = props.iter().map(|prop| prop.required);
    quote! {
        #[automatically_derived]
        impl #p::utoipa::PartialSchema for #ty {
            fn schema() -> #p::utoipa::openapi::RefOr<#p::utoipa::openapi::schema::Schema> {
                #p::openapi::schema::object(#description, ::std::vec![#((#names, #schemas, #required)),*])
            }
        }

        #[automatically_derived]
        impl #p::utoipa::ToSchema for #ty {
            fn name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(::core::stringify!(#ty))
            }
        }
    }
}

pub(crate) fn generate(model: &Model, p: &TokenStream) -> TokenStream {
    let name = &model.ident;
    let flags = ["is_active", "is_superuser", "is_verified"];

    // Read: every shown field, always present in the answer; the flags are not required and
    // have defaults, as in the reference's schema.
    let read: Vec<Property> = model
        .fields
        .iter()
        .filter(|f| f.ident != "hashed_password" && !f.hidden)
        .map(|f| Property {
            name: f.name(),
            schema: schema_of(p, f),
            required: !flags.contains(&f.name().as_str()),
        })
        .collect();

    // Create: email and password required; the flags optional, nullable and defaulted (as the
    // reference's); a custom field required unless it is nullable.
    let mut create = vec![
        Property {
            name: "email".into(),
            schema: quote!(#p::openapi::schema::email()),
            required: true,
        },
        Property {
            name: "password".into(),
            schema: quote!(#p::openapi::schema::password()),
            required: true,
        },
    ];
    create.extend(flags.iter().map(|flag| Property {
        name: (*flag).into(),
        schema: quote!(#p::openapi::schema::flag(#flag, #p::openapi::schema::FlagIn::Create)),
        required: false,
    }));
    create.extend(model.custom().filter(|f| f.create).map(|f| Property {
        name: f.name(),
        schema: schema_of(p, f),
        required: f.option_inner().is_none(),
    }));

    // Update: everything optional. Nullable as in the reference's schema: `password` (`null`
    // is no change), the flags (`null` is ignored by `PATCH /users/me`, a 422 for a superuser's
    // `PATCH /users/{id}`, where the reference fails) and `email` (`null` is a 422).
    let mut update = vec![
        Property {
            name: "password".into(),
            schema: quote!(#p::openapi::schema::nullable(#p::openapi::schema::password())),
            required: false,
        },
        Property {
            name: "email".into(),
            schema: quote!(#p::openapi::schema::nullable(#p::openapi::schema::email())),
            required: false,
        },
    ];
    update.extend(flags.iter().map(|flag| Property {
        name: (*flag).into(),
        schema: quote!(#p::openapi::schema::flag(#flag, #p::openapi::schema::FlagIn::Update)),
        required: false,
    }));
    update.extend(model.custom().filter(|f| !f.read_only).map(|f| Property {
        name: f.name(),
        schema: schema_of(p, f),
        required: false,
    }));

    let impl_read = impls(
        p,
        &model.suffixed("Read"),
        &format!("A {name} as clients see it."),
        &read,
    );
    let impl_create = impls(
        p,
        &model.suffixed("Create"),
        &format!(
            "The registration body of a {name}. `is_active`, `is_superuser` and `is_verified` are accepted and ignored."
        ),
        &create,
    );
    let impl_update = impls(
        p,
        &model.suffixed("Update"),
        &format!(
            "The PATCH body of a {name}: only the fields sent change. `is_active`, `is_superuser`, `is_verified` and fields not marked `update` are ignored in `PATCH /users/me`."
        ),
        &update,
    );
    quote!(#impl_read #impl_create #impl_update)
}
