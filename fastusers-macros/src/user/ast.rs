//! The model of a user struct, parsed from its tokens and `#[fastusers(...)]` attributes.

use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type, Visibility};

use crate::ctxt::Ctxt;

/// The six fields every user model declares.
pub(crate) const BASE_FIELDS: &[&str] = &[
    "id",
    "email",
    "hashed_password",
    "is_active",
    "is_superuser",
    "is_verified",
];

pub(crate) struct Model {
    pub(crate) ident: Ident,
    pub(crate) vis: Visibility,
    pub(crate) table: String,
    pub(crate) krate: syn::Path,
    /// `#[fastusers(oauth)]`: the model has OAuth accounts (the `oauth_account` table).
    pub(crate) oauth: bool,
    pub(crate) fields: Vec<Field>,
}

pub(crate) struct Field {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    /// Whether it is one of [`BASE_FIELDS`].
    pub(crate) base: bool,
    pub(crate) create: bool,
    pub(crate) update: bool,
    pub(crate) read_only: bool,
    pub(crate) hidden: bool,
    pub(crate) sql_type: Option<LitStr>,
    /// `#[fastusers(column = "...")]`: the column's name, when it is not the field's.
    pub(crate) column: Option<LitStr>,
    /// The field's `#[fastusers(...)]` attributes, to point errors at them.
    pub(crate) attrs: Vec<syn::Attribute>,
}

impl Field {
    pub(crate) fn name(&self) -> String {
        self.ident.to_string()
    }

    /// The name of the field's column: `column = "..."`, else the field's name.
    pub(crate) fn column(&self) -> String {
        self.column
            .as_ref()
            .map_or_else(|| self.name(), LitStr::value)
    }

    /// `T` when the field is `Option<T>`.
    pub(crate) fn option_inner(&self) -> Option<&Type> {
        option_inner(&self.ty)
    }
}

pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(inner) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

/// The last path segment of a type and its type arguments (`chrono::DateTime<Utc>` →
/// `DateTime`, `[Utc]`).
pub(crate) fn name_and_args(ty: &Type) -> Option<(String, Vec<&Type>)> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    let args = match &last.arguments {
        syn::PathArguments::None => Vec::new(),
        syn::PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|a| match a {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        syn::PathArguments::Parenthesized(_) => return None,
    };
    Some((last.ident.to_string(), args))
}

/// What kind of value a type is, where fastusers treats the kind apart.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind<'a> {
    /// A date or time of chrono (the `chrono` feature).
    Chrono,
    /// JSON: `serde_json::Value` or sqlx's `Json<T>` (the inner type, if any).
    Json(Option<&'a Type>),
    /// `Vec<T>` of anything but `u8`: a PostgreSQL array of `T`.
    List(&'a Type),
    /// Anything else.
    Other,
}

/// The kind of a type (of `T` for `Option<T>`).
pub(crate) fn kind(ty: &Type) -> Kind<'_> {
    let ty = option_inner(ty).unwrap_or(ty);
    match name_and_args(ty) {
        Some((name, args)) => match (name.as_str(), args.as_slice()) {
            ("DateTime", [_]) | ("NaiveDateTime" | "NaiveDate" | "NaiveTime", []) => Kind::Chrono,
            ("Value", []) => Kind::Json(None),
            ("Json", [inner]) => Kind::Json(Some(inner)),
            ("Vec", [inner]) if simple_name(inner).as_deref() != Some("u8") => Kind::List(inner),
            _ => Kind::Other,
        },
        None => Kind::Other,
    }
}

/// The last path segment of a type without generics (`uuid::Uuid` → `Uuid`).
pub(crate) fn simple_name(ty: &Type) -> Option<String> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    matches!(last.arguments, syn::PathArguments::None).then(|| last.ident.to_string())
}

impl Model {
    pub(crate) fn parse(cx: &mut Ctxt, input: &DeriveInput) -> Option<Self> {
        let Data::Struct(data) = &input.data else {
            cx.error_spanned_by(
                &input.ident,
                "#[derive(User)] works on structs with named fields only",
            );
            return None;
        };
        let Fields::Named(named) = &data.fields else {
            cx.error_spanned_by(
                &input.ident,
                "#[derive(User)] works on structs with named fields only",
            );
            return None;
        };
        if !input.generics.params.is_empty() {
            cx.error_spanned_by(
                &input.generics,
                "#[derive(User)] does not support generic structs",
            );
        }
        let mut table = "user".to_owned();
        let mut krate: syn::Path = syn::parse_quote!(::fastusers);
        let mut oauth = false;
        let mut seen = Seen::default();
        for attr in input
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("fastusers"))
        {
            let result = attr.parse_nested_meta(|meta| {
                if seen.repeated(&meta.path) {
                    cx.error_spanned_by(&meta.path, format!("duplicate fastusers attribute `{}`", path_name(&meta.path)));
                }
                if meta.path.is_ident("table") {
                    let lit: LitStr = meta.value()?.parse()?;
                    table = lit.value();
                    if !plain_name(&table) {
                        return Err(meta.error("the table name may contain only ASCII letters, digits and `_`"));
                    }
                } else if meta.path.is_ident("crate") {
                    let lit: LitStr = meta.value()?.parse()?;
                    krate = lit.parse()?;
                } else if meta.path.is_ident("oauth") {
                    oauth = true;
                } else {
                    return Err(meta.error(format!(
                        "unknown fastusers attribute `{}` on the struct; expected `table`, `crate` or `oauth`",
                        path_name(&meta.path)
                    )));
                }
                Ok(())
            });
            if let Err(e) = result {
                cx.syn_error(e);
            }
        }
        let fields = named.named.iter().map(|f| parse_field(cx, f)).collect();
        Some(Self {
            ident: input.ident.clone(),
            vis: input.vis.clone(),
            table,
            krate,
            oauth,
            fields,
        })
    }

    pub(crate) fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.ident == name)
    }

    pub(crate) fn custom(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| !f.base)
    }

    pub(crate) fn suffixed(&self, suffix: &str) -> Ident {
        Ident::new(&format!("{}{suffix}", self.ident), self.ident.span())
    }
}

/// The attribute names met so far on one item, across all its `#[fastusers(...)]` lists.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    /// Records `path`; whether it was met before.
    fn repeated(&mut self, path: &syn::Path) -> bool {
        let name = path_name(path);
        let repeated = self.0.contains(&name);
        self.0.push(name);
        repeated
    }
}

/// Whether a table or column name needs no escaping inside a quoted SQL identifier.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn path_name(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

fn parse_field(cx: &mut Ctxt, field: &syn::Field) -> Field {
    let ident = field.ident.clone().expect("named field");
    let base = BASE_FIELDS.iter().any(|b| ident == b);
    let mut parsed = Field {
        ident,
        ty: field.ty.clone(),
        base,
        create: false,
        update: false,
        read_only: false,
        hidden: false,
        sql_type: None,
        column: None,
        attrs: Vec::new(),
    };
    let mut seen = Seen::default();
    for attr in field
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("fastusers"))
    {
        parsed.attrs.push(attr.clone());
        let result = attr.parse_nested_meta(|meta| {
            if seen.repeated(&meta.path) {
                cx.error_spanned_by(&meta.path, format!("duplicate fastusers attribute `{}` on the field `{}`", path_name(&meta.path), parsed.ident));
            }
            let flag = if meta.path.is_ident("create") {
                &mut parsed.create
            } else if meta.path.is_ident("update") {
                &mut parsed.update
            } else if meta.path.is_ident("read_only") {
                &mut parsed.read_only
            } else if meta.path.is_ident("hidden") {
                &mut parsed.hidden
            } else if meta.path.is_ident("sql_type") {
                parsed.sql_type = Some(meta.value()?.parse()?);
                return Ok(());
            } else if meta.path.is_ident("column") {
                let lit: LitStr = meta.value()?.parse()?;
                if !plain_name(&lit.value()) {
                    return Err(syn::Error::new_spanned(&lit, "the column name may contain only ASCII letters, digits and `_`"));
                }
                parsed.column = Some(lit);
                return Ok(());
            } else {
                return Err(meta.error(format!(
                    "unknown fastusers attribute `{}` on a field; expected `create`, `update`, `read_only`, `hidden`, `sql_type` or `column`",
                    path_name(&meta.path)
                )));
            };
            *flag = true;
            Ok(())
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    parsed
}
