//! Generates the glue of `#[derive(User)]`: the read, create, update and changes types, their
//! body parsing, the `User` impl and the SQL of each enabled database. Everything generated
//! calls the runtime through `<crate>::__private`.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;

use super::ast::{Field, Model, simple_name};
use super::sql::{self, Dialect};

const FLAGS: [&str; 3] = ["is_active", "is_superuser", "is_verified"];

fn is_flag(field: &Field) -> bool {
    FLAGS.iter().any(|f| field.ident == f)
}

/// How a custom field of the create body is read, and how its value is taken when building
/// the body: a nullable field may be absent (`None`), any other is required.
fn create_read(field: &Field) -> (TokenStream, TokenStream) {
    let (ident, name, ty) = (&field.ident, field.name(), &field.ty);
    if field.option_inner().is_some() {
        (
            quote!(fields.optional::<#ty>(#name).flatten()),
            quote!(#ident),
        )
    } else {
        (
            quote!(fields.required::<#ty>(#name)),
            quote!(#ident: #ident?),
        )
    }
}

pub(crate) fn generate(model: &Model) -> TokenStream {
    let k = &model.krate;
    let p = quote!(#k::__private);
    let serde_crate = quote!(#p::serde).to_string();
    let vis = &model.vis;
    let name = &model.ident;
    let (read, create, update, changes) = (
        model.suffixed("Read"),
        model.suffixed("Create"),
        model.suffixed("Update"),
        model.suffixed("Changes"),
    );
    let id_ty = &model.field("id").expect("checked").ty;
    let custom: Vec<&Field> = model.custom().collect();

    // The read type.
    let read_fields: Vec<&Field> = model
        .fields
        .iter()
        .filter(|f| f.ident != "hashed_password" && !f.hidden)
        .collect();
    let read_defs = read_fields.iter().map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        quote!(#[allow(missing_docs)] pub #ident: #ty)
    });
    let read_idents: Vec<_> = read_fields.iter().map(|f| &f.ident).collect();

    // The create type.
    let create_custom: Vec<&Field> = custom.iter().copied().filter(|f| f.create).collect();
    let create_custom_defs = create_custom.iter().map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        quote!(#[allow(missing_docs)] pub #ident: #ty)
    });
    let create_custom_idents: Vec<_> = create_custom.iter().map(|f| &f.ident).collect();
    let (create_custom_read, create_custom_take): (Vec<_>, Vec<_>) =
        create_custom.iter().map(|f| create_read(f)).unzip();
    let create_default = create_custom
        .iter()
        .all(|f| {
            f.option_inner().is_some()
                || (sql::column_types(&f.ty).is_some()
                    && !matches!(super::ast::kind(&f.ty), super::ast::Kind::Json(Some(_))))
        })
        .then(|| quote!(#[derive(Default)]));
    let from_create_custom = custom.iter().map(|f| {
        let ident = &f.ident;
        if f.create {
            quote!(#ident: create.#ident)
        } else {
            let ty = &f.ty;
            quote_spanned!(ty.span()=> #ident: <#ty as ::core::default::Default>::default())
        }
    });

    // The update type: every field but id and read-only ones.
    let update_custom: Vec<&Field> = custom.iter().copied().filter(|f| !f.read_only).collect();
    let update_custom_defs = update_custom.iter().map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        quote!(#[allow(missing_docs)] pub #ident: ::core::option::Option<#ty>)
    });
    let update_custom_idents: Vec<_> = update_custom.iter().map(|f| &f.ident).collect();
    let update_custom_names: Vec<String> = update_custom.iter().map(|f| f.name()).collect();
    let update_custom_types: Vec<_> = update_custom.iter().map(|f| &f.ty).collect();
    let into_changes_custom = custom.iter().map(|f| {
        let ident = &f.ident;
        if f.read_only {
            quote!(#ident: ::core::option::Option::None)
        } else if f.update {
            quote!(#ident: self.#ident)
        } else {
            quote!(#ident: if safe { ::core::option::Option::None } else { self.#ident })
        }
    });

    // The changes type: every column but id.
    let change_fields: Vec<&Field> = model.fields.iter().filter(|f| f.ident != "id").collect();
    let change_defs = change_fields.iter().map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        quote!(#[allow(missing_docs)] pub #ident: ::core::option::Option<#ty>)
    });
    let change_idents: Vec<_> = change_fields.iter().map(|f| &f.ident).collect();

    let flags: Vec<_> = model
        .fields
        .iter()
        .filter(|f| is_flag(f))
        .map(|f| &f.ident)
        .collect();
    let flag_defaults: Vec<_> = flags.iter().map(|f| *f == "is_active").collect();

    // `#[fastusers(oauth)]`: users can sign up through a provider.
    let oauth_impl = model.oauth.then(|| {
        let defaults = custom.iter().map(|f| {
            let (ident, ty) = (&f.ident, &f.ty);
            quote_spanned!(ty.span()=> #ident: <#ty as ::core::default::Default>::default())
        });
        quote! {
            #[automatically_derived]
            impl #k::user::OAuthUser for #name {
                fn from_oauth(id: Self::Id, email: ::std::string::String, hashed_password: ::std::string::String, is_verified: bool) -> Self {
                    Self {
                        id,
                        email,
                        hashed_password,
                        is_active: true,
                        is_superuser: false,
                        is_verified,
                        #(#defaults,)*
                    }
                }
            }
        }
    });

    let sql = [
        (cfg!(feature = "sqlite"), Dialect::Sqlite),
        (cfg!(feature = "postgres"), Dialect::Postgres),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, dialect)| sql_impl(model, &p, dialect));
    let openapi = cfg!(feature = "openapi").then(|| super::schema::generate(model, &p));

    let doc_read = format!(
        "What clients see of a [`{name}`]: every field but `hashed_password` and hidden ones."
    );
    let doc_create = format!("The registration body of a [`{name}`].");
    let doc_update = format!(
        "The PATCH body of a [`{name}`]: `None` leaves a field alone; on a nullable field `Some(None)` clears it."
    );
    let doc_changes =
        format!("Column changes to a stored [`{name}`]: `None` leaves a column alone.");

    quote! {
        #[doc = #doc_read]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, #p::serde::Serialize)]
        #[serde(crate = #serde_crate)]
        #vis struct #read {
            #(#read_defs,)*
        }

        #[doc = #doc_create]
        #[derive(::core::clone::Clone, ::core::cmp::PartialEq)]
        #create_default
        #vis struct #create {
            /// The email address (validated and normalised).
            pub email: ::std::string::String,
            /// The plain-text password.
            pub password: ::std::string::String,
            /// Ignored at registration; honoured when a program creates the user.
            pub is_active: ::core::option::Option<bool>,
            /// Ignored at registration; honoured when a program creates the user.
            pub is_superuser: ::core::option::Option<bool>,
            /// Ignored at registration; honoured when a program creates the user.
            pub is_verified: ::core::option::Option<bool>,
            #(#create_custom_defs,)*
        }

        #[doc = #doc_update]
        #[derive(::core::clone::Clone, ::core::default::Default, ::core::cmp::PartialEq)]
        #vis struct #update {
            /// A new plain-text password.
            pub password: ::core::option::Option<::std::string::String>,
            /// A new email address.
            pub email: ::core::option::Option<::std::string::String>,
            /// Superuser only.
            pub is_active: ::core::option::Option<bool>,
            /// Superuser only.
            pub is_superuser: ::core::option::Option<bool>,
            /// Superuser only.
            pub is_verified: ::core::option::Option<bool>,
            #(#update_custom_defs,)*
        }

        #[doc = #doc_changes]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::default::Default, ::core::cmp::PartialEq)]
        #vis struct #changes {
            #(#change_defs,)*
        }

        const _: () = {
            #[automatically_derived]
            impl ::core::fmt::Debug for #create {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.debug_struct(::core::stringify!(#create))
                        .field("email", &self.email)
                        .field("password", &"<redacted>")
                        #(.field(::core::stringify!(#create_custom_idents), &self.#create_custom_idents))*
                        .finish()
                }
            }

            #[automatically_derived]
            impl ::core::fmt::Debug for #update {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.debug_struct(::core::stringify!(#update))
                        .field("password", &self.password.as_ref().map(|_| "<redacted>"))
                        .field("email", &self.email)
                        #(.field(::core::stringify!(#flags), &self.#flags))*
                        #(.field(::core::stringify!(#update_custom_idents), &self.#update_custom_idents))*
                        .finish()
                }
            }

            #[automatically_derived]
            impl #k::user::User for #name {
                type Id = #id_ty;
                type Read = #read;
                type Create = #create;
                type Update = #update;
                type Changes = #changes;

                fn id(&self) -> &Self::Id { &self.id }
                fn email(&self) -> &str { &self.email }
                fn hashed_password(&self) -> &str { &self.hashed_password }
                fn is_active(&self) -> bool { self.is_active }
                fn is_superuser(&self) -> bool { self.is_superuser }
                fn is_verified(&self) -> bool { self.is_verified }

                fn to_read(&self) -> #read {
                    #read { #(#read_idents: ::core::clone::Clone::clone(&self.#read_idents),)* }
                }

                fn from_create(create: #create, id: Self::Id, hashed_password: ::std::string::String, safe: bool) -> Self {
                    Self {
                        id,
                        email: create.email,
                        hashed_password,
                        #(#flags: if safe { #flag_defaults } else { create.#flags.unwrap_or(#flag_defaults) },)*
                        #(#from_create_custom,)*
                    }
                }
            }

            #[automatically_derived]
            impl #k::user::UserCreate for #create {
                fn email(&self) -> &str { &self.email }
                fn password(&self) -> &str { &self.password }
            }

            #[automatically_derived]
            impl #p::body::FromJson for #create {
                fn from_json(body: &#p::serde_json::Value) -> ::core::result::Result<Self, #p::body::ValidationErrors> {
                    let mut fields = #p::body::Fields::model(body)?;
                    let email = fields.required_email("email");
                    let password = fields.required::<::std::string::String>("password");
                    // The reference declares the flags `boolean | null`; `null` is ignored, as absent.
                    #(let #flags = fields.optional::<::core::option::Option<bool>>(::core::stringify!(#flags)).flatten();)*
                    #(let #create_custom_idents = #create_custom_read;)*
                    fields.finish(|| ::core::option::Option::Some(Self {
                        email: email?,
                        password: password?,
                        #(#flags,)*
                        #(#create_custom_take,)*
                    }))
                }
            }

            #[automatically_derived]
            impl #p::body::FromJson for #update {
                fn from_json(body: &#p::serde_json::Value) -> ::core::result::Result<Self, #p::body::ValidationErrors> {
                    let mut fields = #p::body::Fields::model(body)?;
                    // `"password": null` leaves the password alone.
                    let password = fields.optional::<::core::option::Option<::std::string::String>>("password").flatten();
                    let email = fields.optional_email("email");
                    // The reference declares the flags `boolean | null`; `null` is ignored, as absent.
                    #(let #flags = fields.optional::<::core::option::Option<bool>>(::core::stringify!(#flags)).flatten();)*
                    #(let #update_custom_idents = fields.optional::<#update_custom_types>(#update_custom_names);)*
                    fields.finish(|| ::core::option::Option::Some(Self { password, email, #(#flags,)* #(#update_custom_idents,)* }))
                }
            }

            #[automatically_derived]
            impl #k::user::UserUpdate<#name> for #update {
                fn password(&self) -> ::core::option::Option<&str> { self.password.as_deref() }

                fn into_changes(self, safe: bool) -> #changes {
                    #changes {
                        email: self.email,
                        hashed_password: ::core::option::Option::None,
                        #(#flags: if safe { ::core::option::Option::None } else { self.#flags },)*
                        #(#into_changes_custom,)*
                    }
                }
            }

            #[automatically_derived]
            impl #k::user::UserChanges for #changes {
                fn email(&self) -> ::core::option::Option<&str> { self.email.as_deref() }
                fn hashed_password(&self) -> ::core::option::Option<&str> { self.hashed_password.as_deref() }
                fn is_active(&self) -> ::core::option::Option<bool> { self.is_active }
                fn set_hashed_password(&mut self, hash: ::std::string::String) { self.hashed_password = ::core::option::Option::Some(hash); }
                fn is_verified(&self) -> ::core::option::Option<bool> { self.is_verified }
                fn set_is_verified(&mut self, value: bool) { self.is_verified = ::core::option::Option::Some(value); }
                fn set_is_active(&mut self, value: bool) { self.is_active = ::core::option::Option::Some(value); }
                fn set_is_superuser(&mut self, value: bool) { self.is_superuser = ::core::option::Option::Some(value); }
                fn is_empty(&self) -> bool { true #(&& self.#change_idents.is_none())* }
            }

            #oauth_impl

            #(#sql)*

            #openapi
        };
    }
}

fn sql_impl(model: &Model, p: &TokenStream, dialect: Dialect) -> TokenStream {
    let name = &model.ident;
    let changes = model.suffixed("Changes");
    let id_ty = &model.field("id").expect("checked").ty;
    let db = match dialect {
        Dialect::Sqlite => quote!(#p::sqlx::Sqlite),
        Dialect::Postgres => quote!(#p::sqlx::Postgres),
    };
    let s = sql::statements(model, dialect);
    let schema = &s.schema;
    let (by_id, by_email, email_candidates, insert, update, delete) = (
        &s.select_by_id,
        &s.select_by_email,
        &s.select_email_candidates,
        &s.insert,
        &s.update,
        &s.delete,
    );
    let (token_schema, by_token) = (&s.token_schema, &s.select_by_token);
    let revocation_schema = &s.revocation_schema;
    let refresh_schema = &s.refresh_schema;
    let (oauth_schema, by_oauth) = (&s.oauth_schema, &s.select_by_oauth);
    let table = &model.table;
    let column_specs = model.fields.iter().map(|f| {
        let (sql_type, nullable) = sql::column_type(model, f, dialect);
        let definition = sql::column_constraints(model, f, dialect);
        let (column, field) = (f.column(), f.name());
        quote! {
            #p::schema::Column { name: #column, field: #field, sql_type: #sql_type, nullable: #nullable, definition: #definition }
        }
    });
    // Every column goes through `SqlColumn`, named with the field's type: a type sqlx cannot
    // store is one error there, however many statements use it.
    let (bind, bind_change, get) = match dialect {
        Dialect::Sqlite => (
            quote!(bind_sqlite),
            quote!(bind_change_sqlite),
            quote!(get_sqlite),
        ),
        Dialect::Postgres => (
            quote!(bind_postgres),
            quote!(bind_change_postgres),
            quote!(get_postgres),
        ),
    };
    let columns = model.fields.iter().map(|f| {
        let (ident, column, ty) = (&f.ident, f.column(), &f.ty);
        if f.ident == "id" {
            quote!(id: <#id_ty as #p::SqlId<#db>>::get(row, #column)?)
        } else {
            quote!(#ident: <#ty as #p::SqlColumn>::#get(row, #column)?)
        }
    });
    let bind_insert_id = (!sql::database_generated_id(model))
        .then(|| quote!(let query = <#id_ty as #p::SqlId<#db>>::bind(&self.id, query);));
    let values: Vec<&Field> = model.fields.iter().filter(|f| f.ident != "id").collect();
    let insert_binds = values.iter().map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        quote!(let query = <#ty as #p::SqlColumn>::#bind(&self.#ident, query);)
    });
    let update_binds = values.iter().map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        quote!(let query = <#ty as #p::SqlColumn>::#bind_change(changes.#ident.as_ref(), query);)
    });
    let query_ty = quote!(#p::sqlx::query::Query<'q, #db, <#db as #p::sqlx::Database>::Arguments>);
    quote! {
        #[automatically_derived]
        impl #p::SqlUser<#db> for #name {
            const TABLE: &'static str = #table;
            const COLUMNS: &'static [#p::schema::Column] = &[#(#column_specs),*];
            const SCHEMA: &'static [&'static str] = &[#(#schema),*];
            const SELECT_BY_ID: &'static str = #by_id;
            const SELECT_BY_EMAIL: &'static str = #by_email;
            const SELECT_EMAIL_CANDIDATES: &'static str = #email_candidates;
            const INSERT: &'static str = #insert;
            const UPDATE: &'static str = #update;
            const DELETE: &'static str = #delete;
            const TOKEN_SCHEMA: &'static [&'static str] = &[#(#token_schema),*];
            const SELECT_BY_TOKEN: &'static str = #by_token;
            const REVOCATION_SCHEMA: &'static [&'static str] = &[#(#revocation_schema),*];
            const REFRESH_SCHEMA: &'static [&'static str] = &[#(#refresh_schema),*];
            const OAUTH_SCHEMA: &'static [&'static str] = &[#(#oauth_schema),*];
            const SELECT_BY_OAUTH: &'static str = #by_oauth;

            fn from_row(row: &<#db as #p::sqlx::Database>::Row) -> ::core::result::Result<Self, #p::sqlx::Error> {
                ::core::result::Result::Ok(Self { #(#columns,)* })
            }

            fn bind_id<'q>(id: &#id_ty, query: #query_ty) -> #query_ty {
                <#id_ty as #p::SqlId<#db>>::bind(id, query)
            }

            fn get_id(row: &<#db as #p::sqlx::Database>::Row, column: &str) -> ::core::result::Result<#id_ty, #p::sqlx::Error> {
                <#id_ty as #p::SqlId<#db>>::get(row, column)
            }

            fn bind_insert<'q>(&self, query: #query_ty) -> #query_ty {
                #bind_insert_id
                #(#insert_binds)*
                query
            }

            fn bind_update<'q>(changes: &#changes, query: #query_ty) -> #query_ty {
                #(#update_binds)*
                query
            }
        }
    }
}

/// What is generated when the struct has errors, next to them: the four type names (the
/// runtime's stand-ins) and the model's trait impls, so that the uses of the model add no
/// errors to the ones reported (as thiserror and serde_derive do).
pub(crate) fn stub(input: &syn::DeriveInput, model: Option<&Model>) -> TokenStream {
    let k = model.map_or_else(|| quote!(::fastusers), |m| m.krate.to_token_stream());
    let p = quote!(#k::__private);
    let (vis, name) = (&input.vis, &input.ident);
    let aliases = ["Read", "Create", "Update", "Changes"].map(|suffix| {
        let alias = quote::format_ident!("{name}{suffix}", span = name.span());
        let stand_in = quote::format_ident!("{suffix}");
        quote!(#[allow(missing_docs, dead_code)] #vis type #alias = #p::stub::#stand_in;)
    });
    if !input.generics.params.is_empty() {
        return quote!(#(#aliases)*);
    }
    // The id's type when it is right, else one that is.
    let id = model
        .and_then(|m| m.field("id"))
        .filter(|f| matches!(simple_name(&f.ty).as_deref(), Some("Uuid" | "i64" | "i32")))
        .map_or_else(|| quote!(i64), |f| f.ty.to_token_stream());
    let never = quote!({ ::core::unreachable!() });
    let sql = [
        (cfg!(feature = "sqlite"), quote!(#p::sqlx::Sqlite)),
        (cfg!(feature = "postgres"), quote!(#p::sqlx::Postgres)),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, db)| {
        let query = quote!(#p::sqlx::query::Query<'q, #db, <#db as #p::sqlx::Database>::Arguments>);
        // Every constant of `SqlUser` (fastusers/src/store/sql.rs), or the stub adds an error.
        let statements = ["SELECT_BY_ID", "SELECT_BY_EMAIL", "SELECT_EMAIL_CANDIDATES", "INSERT", "UPDATE", "DELETE", "SELECT_BY_TOKEN", "SELECT_BY_OAUTH"]
            .map(|c| quote::format_ident!("{c}"));
        let lists = ["SCHEMA", "TOKEN_SCHEMA", "REVOCATION_SCHEMA", "REFRESH_SCHEMA", "OAUTH_SCHEMA"].map(|c| quote::format_ident!("{c}"));
        quote! {
            #[automatically_derived]
            impl #p::SqlUser<#db> for #name {
                const TABLE: &'static str = "";
                const COLUMNS: &'static [#p::schema::Column] = &[];
                #(const #statements: &'static str = "";)*
                #(const #lists: &'static [&'static str] = &[];)*
                fn from_row(_: &<#db as #p::sqlx::Database>::Row) -> ::core::result::Result<Self, #p::sqlx::Error> #never
                fn bind_id<'q>(_: &#id, query: #query) -> #query { query }
                fn get_id(_: &<#db as #p::sqlx::Database>::Row, _: &str) -> ::core::result::Result<#id, #p::sqlx::Error> #never
                fn bind_insert<'q>(&self, query: #query) -> #query { query }
                fn bind_update<'q>(_: &#p::stub::Changes, query: #query) -> #query { query }
            }
        }
    });
    let oauth = model.is_some_and(|m| m.oauth).then(|| {
        quote! {
            #[automatically_derived]
            impl #k::user::OAuthUser for #name {
                fn from_oauth(_: #id, _: ::std::string::String, _: ::std::string::String, _: bool) -> Self #never
            }
        }
    });
    quote! {
        #(#aliases)*

        const _: () = {
            #[automatically_derived]
            impl #k::user::User for #name {
                type Id = #id;
                type Read = #p::stub::Read;
                type Create = #p::stub::Create;
                type Update = #p::stub::Update;
                type Changes = #p::stub::Changes;

                fn id(&self) -> &Self::Id #never
                fn email(&self) -> &str #never
                fn hashed_password(&self) -> &str #never
                fn is_active(&self) -> bool #never
                fn is_superuser(&self) -> bool #never
                fn is_verified(&self) -> bool #never
                fn to_read(&self) -> Self::Read #never
                fn from_create(_: Self::Create, _: Self::Id, _: ::std::string::String, _: bool) -> Self #never
            }

            #(#sql)*

            #oauth
        };
    }
}
