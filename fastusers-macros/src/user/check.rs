//! Checks of a parsed user model; every problem is reported at the span it concerns.

use super::ast::{BASE_FIELDS, Kind, Model, kind, option_inner, simple_name};
use super::sql;
use crate::ctxt::Ctxt;
use quote::ToTokens as _;

fn expected_type(field: &str) -> &'static str {
    match field {
        "id" => "uuid::Uuid`, `i64` or `i32",
        "email" | "hashed_password" => "String",
        _ => "bool",
    }
}

fn type_matches(field: &str, ty: &syn::Type) -> bool {
    let name = simple_name(ty);
    match field {
        "id" => matches!(name.as_deref(), Some("Uuid" | "i64" | "i32")),
        "email" | "hashed_password" => name.as_deref() == Some("String"),
        _ => name.as_deref() == Some("bool"),
    }
}

pub(crate) fn check(cx: &mut Ctxt, model: &Model) {
    for base in BASE_FIELDS {
        match model.field(base) {
            None => cx.error_spanned_by(
                &model.ident,
                format!(
                    "missing base field `{base}: {}`; a fastusers user declares id, email, hashed_password, is_active, is_superuser and is_verified",
                    expected_type(base).replace('`', "")
                ),
            ),
            Some(field) if !type_matches(base, &field.ty) => cx.error_spanned_by(
                &field.ty,
                format!("the base field `{base}` must be of type `{}`", expected_type(base)),
            ),
            Some(_) => {}
        }
    }
    let mut columns: Vec<String> = Vec::new();
    for field in &model.fields {
        let column = field.column();
        if columns.contains(&column) {
            cx.error_spanned_by(
                field.column.as_ref().map_or_else(
                    || field.ident.to_token_stream(),
                    |lit| lit.to_token_stream(),
                ),
                format!("two fields of `{}` have the column `{column}`", model.ident),
            );
        }
        columns.push(column);
        if field.base {
            let fixed = field.create
                || field.update
                || field.read_only
                || field.hidden
                || field.sql_type.is_some();
            if fixed && let Some(attr) = field.attrs.first() {
                cx.error_spanned_by(
                    attr,
                    format!(
                        "the base field `{}` takes only `column`: its other rules are fixed",
                        field.ident
                    ),
                );
            }
            continue;
        }
        if field.read_only && (field.create || field.update) {
            let attrs = &field.attrs;
            cx.error_spanned_by(
                quote::quote!(#(#attrs)*),
                format!(
                    "the field `{}` cannot be `read_only` and also `create` or `update`",
                    field.ident
                ),
            );
        }
        let inner = option_inner(&field.ty).unwrap_or(&field.ty);
        if cfg!(feature = "postgres") && simple_name(inner).as_deref() == Some("i8") {
            // sqlx binds an i8 as PostgreSQL's one-byte `"char"`, which no integer column
            // accepts: the insert would fail at run time.
            cx.error_spanned_by(
                &field.ty,
                format!(
                    "the field `{}` is an i8, which sqlx cannot store in a PostgreSQL integer column; use i16",
                    field.ident
                ),
            );
        } else if kind(&field.ty) == Kind::Chrono && !cfg!(feature = "chrono") {
            cx.error_spanned_by(
                &field.ty,
                format!(
                    "the field `{}` is a chrono date or time: enable the `chrono` feature of fastusers (`fastusers = {{ version = \"...\", features = [\"chrono\"] }}`)",
                    field.ident
                ),
            );
        } else if let Kind::List(inner) = kind(&field.ty)
            && field.sql_type.is_none()
            && cfg!(feature = "sqlite")
        {
            let inner = quote::quote!(#inner).to_string().replace(' ', "");
            cx.error_spanned_by(
                &field.ty,
                format!(
                    "the field `{}` is a list, which SQLite cannot store in a column: use `sqlx::types::Json<Vec<{inner}>>` (JSON on both databases), or build fastusers without the `sqlite` feature to keep it in a PostgreSQL array",
                    field.ident
                ),
            );
        } else if field.sql_type.is_none() && sql::column_types(&field.ty).is_none() {
            cx.error_spanned_by(
                &field.ty,
                format!(
                    "fastusers cannot tell the SQL column type of the field `{}`; add #[fastusers(sql_type = \"...\")] (for an enum kept as text: `sql_type = \"TEXT\"`, and `#[derive(sqlx::Type)] #[sqlx(type_name = \"text\")]` on the enum)",
                    field.ident
                ),
            );
        }
    }
}
