//! Generates the backends struct, its `Backends` impl, a router and a mask constant per backend.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::ast::Declaration;

/// `tokens` located at `span`, keeping their hygiene (`$crate` still resolves), so that an
/// error on a bound made of them points at `span` alone.
fn located_at(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut tt| {
            tt.set_span(tt.span().located_at(span));
            tt
        })
        .collect()
}

pub(crate) fn generate(decl: &Declaration) -> TokenStream {
    let k = &decl.krate;
    let p = quote!(#k::__private);
    let (attrs, vis, ident, user) = (&decl.attrs, &decl.vis, &decl.ident, &decl.user);
    let names: Vec<String> = decl.backends.iter().map(|b| b.name.to_string()).collect();

    // A backend with `refresh` holds its refresh tokens as `Backend`'s third parameter.
    let backend_type = |b: &super::ast::BackendDecl| {
        let (transport, strategy) = (&b.transport, &b.strategy);
        match &b.refresh {
            Some(keyword) => {
                let refresh = quote_spanned!(keyword.span()=> #k::refresh::RefreshTokens<#user>);
                quote!(#k::Backend<#transport, #strategy, #refresh>)
            }
            None => quote!(#k::Backend<#transport, #strategy>),
        }
    };
    let fields = decl.backends.iter().map(|b| {
        let name = &b.name;
        let ty = backend_type(b);
        let doc = if b.refresh.is_some() {
            format!("The `{name}` backend, with refresh tokens: `Backend::new(transport, strategy).with_refresh(refresh_tokens)`.")
        } else {
            format!("The `{name}` backend.")
        };
        quote!(#[doc = #doc] pub #name: #ty)
    });

    let consts: Vec<Ident> = decl
        .backends
        .iter()
        .map(|b| {
            format_ident!(
                "{}",
                b.name.to_string().to_uppercase(),
                span = b.name.span()
            )
        })
        .collect();

    let items = decl.backends.iter().zip(&consts).enumerate().map(|(index, (b, konst))| {
        let (name, transport, strategy) = (&b.name, &b.transport, &b.strategy);
        let backend_ty = backend_type(b);
        let router = format_ident!("{}_router", name);
        let const_doc = format!(
            "The `{name}` backend's bit, to accept only some backends in an extractor: `ActiveUser<{ident}, {{ {ident}::{konst} }}>`."
        );
        let (router_doc, make_router) = if b.refresh.is_some() {
            (
                format!("The `{name}` backend's router: `POST /login` (which also issues a refresh token), `POST /logout` and `POST /refresh`. Mount it at `/auth/{name}`."),
                quote!(#p::auth_refresh_router::<Self, #transport, #strategy, S>(pick, #index)),
            )
        } else {
            (
                format!("The `{name}` backend's router: `POST /login` and `POST /logout`. Mount it at `/auth/{name}`."),
                quote!(#p::auth_router::<Self, #transport, #strategy, S>(pick, #index)),
            )
        };
        quote! {
            #[doc = #const_doc]
            pub const #konst: u64 = 1 << #index;

            #[doc = #router_doc]
            pub fn #router<S>() -> #k::Routes<Self, S>
            where
                S: ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static,
                #k::FastUsers<Self>: #p::axum::extract::FromRef<S>,
            {
                fn pick(backends: &#ident) -> &#backend_ty {
                    &backends.#name
                }
                #make_router
            }
        }
    });

    let tries = decl.backends.iter().zip(&consts).enumerate().map(|(index, (b, konst))| {
        let name = &b.name;
        quote! {
            if enabled & Self::#konst != 0 {
                if let ::core::option::Option::Some(found) = self.#name.authenticate(parts, manager, #index).await? {
                    return ::core::result::Result::Ok(::core::option::Option::Some(found));
                }
            }
        }
    });

    // Each backend's types, asserted where they are written: a type in the wrong place is one
    // error at that type (the traits' messages say what goes where), and the code below, which
    // holds under these bounds, adds none. Strategies first: rustc reports the transports'
    // errors first then, in the order of the line.
    let assert = |ty: &syn::Type, bound: TokenStream| {
        let bound = located_at(&quote!(#k::#bound), ty.span());
        quote_spanned!(ty.span()=> #ty: #bound)
    };
    let strategies = decl
        .backends
        .iter()
        .map(|b| assert(&b.strategy, quote!(Strategy<#user>)));
    let transports = decl
        .backends
        .iter()
        .map(|b| assert(&b.transport, quote!(Transport)));
    let user_bound = assert(user, quote!(User));
    let bounds = quote!(where #(#strategies,)* #(#transports,)* #user_bound);

    let members: Vec<&Ident> = decl.backends.iter().map(|b| &b.name).collect();
    let refreshing = decl
        .backends
        .iter()
        .enumerate()
        .filter(|(_, b)| b.refresh.is_some())
        .map(|(index, b)| {
            let name = &b.name;
            quote!((#index, &self.#name.refresh))
        });

    // With the `openapi` feature: each transport describes itself (an error at the transport
    // type when it cannot).
    let openapi = cfg!(feature = "openapi").then(|| {
        let transports = decl.backends.iter().map(|b| {
            let (name, transport) = (&b.name, &b.transport);
            let describe =
                quote_spanned!(transport.span()=> #p::openapi::describe_transport::<#transport>);
            quote!(#describe(&self.#name.transport))
        });
        quote! {
            #[automatically_derived]
            impl #p::openapi::OpenApiBackends for #ident #bounds {
                fn transports(&self) -> ::std::vec::Vec<&dyn #p::openapi::OpenApiTransport> {
                    ::std::vec![#(#transports),*]
                }
            }
        }
    });

    quote! {
        #(#attrs)*
        #vis struct #ident {
            #(#fields,)*
        }

        impl #ident #bounds {
            #(#items)*
        }

        #[automatically_derived]
        impl ::core::fmt::Debug for #ident {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(::core::stringify!(#ident)).finish_non_exhaustive()
            }
        }

        #[automatically_derived]
        impl #k::Backends for #ident #bounds {
            type User = #user;

            const NAMES: &'static [&'static str] = &[#(#names),*];

            fn authenticate<'a>(
                &'a self,
                parts: &'a #p::axum::http::request::Parts,
                manager: &'a #k::UserManager<Self::User>,
                enabled: u64,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<
                    ::core::option::Option<#k::Authenticated<Self::User>>,
                    #k::strategy::StrategyError,
                >,
            > + ::core::marker::Send + 'a {
                async move {
                    #(#tries)*
                    ::core::result::Result::Ok(::core::option::Option::None)
                }
            }

            fn strategies(&self) -> ::std::vec::Vec<&dyn #k::__private::DynStrategy<Self::User>> {
                ::std::vec![#(&self.#members.strategy as &dyn #k::__private::DynStrategy<Self::User>),*]
            }

            fn refresh_tokens(&self) -> ::std::vec::Vec<(usize, &#k::refresh::RefreshTokens<Self::User>)> {
                ::std::vec![#(#refreshing),*]
            }
        }

        #openapi
    }
}
