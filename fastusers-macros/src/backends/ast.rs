//! The syntax of `auth_backends!`:
//!
//! ```text
//! <crate path>;                      // inserted by the macro_rules! wrapper ($crate)
//! #[attrs] vis struct Name for UserType {
//!     name: TransportType, StrategyType;
//!     ...
//! }
//! ```

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Ident, Token, Type, Visibility, braced};

use crate::ctxt::Ctxt;

pub(crate) struct Declaration {
    pub(crate) krate: TokenStream,
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    pub(crate) user: Type,
    pub(crate) backends: Vec<BackendDecl>,
}

pub(crate) struct BackendDecl {
    pub(crate) name: Ident,
    pub(crate) transport: Type,
    pub(crate) strategy: Type,
}

/// At most one bit per backend in a `u64` mask.
const MAX_BACKENDS: usize = 64;

impl Declaration {
    pub(crate) fn parse(input: TokenStream) -> syn::Result<Self> {
        syn::parse2(input)
    }

    pub(crate) fn check(&self, cx: &mut Ctxt) {
        let mut seen: Vec<String> = Vec::new();
        for backend in &self.backends {
            let name = backend.name.to_string();
            if seen.contains(&name) {
                cx.error_spanned_by(
                    &backend.name,
                    format!("duplicate backend name `{name}`: each backend needs its own name"),
                );
            }
            seen.push(name);
        }
        if self.backends.is_empty() {
            cx.error_spanned_by(
                &self.ident,
                "declare at least one backend: `name: Transport, Strategy;`",
            );
        }
        if self.backends.len() > MAX_BACKENDS {
            cx.error_spanned_by(
                &self.backends[MAX_BACKENDS].name,
                "at most 64 backends can be declared",
            );
        }
    }
}

impl Parse for Declaration {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut krate = TokenStream::new();
        while !input.peek(Token![;]) {
            let tt: proc_macro2::TokenTree = input.parse()?;
            krate.extend([tt]);
        }
        input.parse::<Token![;]>()?;
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `struct Name for UserType { name: Transport, Strategy; ... }`",
            )
        })?;
        let ident: Ident = input.parse()?;
        input.parse::<Token![for]>().map_err(|e| {
            syn::Error::new(e.span(), "expected `for UserType` after the struct name: which user model do these backends authenticate?")
        })?;
        let user: Type = input.parse()?;
        let content;
        braced!(content in input);
        let mut backends = Vec::new();
        while !content.is_empty() {
            let name: Ident = content.parse()?;
            content.parse::<Token![:]>()?;
            let transport: Type = content.parse()?;
            content.parse::<Token![,]>().map_err(|e| {
                syn::Error::new(e.span(), "expected `,` between the transport and the strategy: `name: Transport, Strategy;`")
            })?;
            let strategy: Type = content.parse()?;
            if !content.is_empty() {
                content.parse::<Token![;]>()?;
            }
            backends.push(BackendDecl {
                name,
                transport,
                strategy,
            });
        }
        Ok(Self {
            krate,
            attrs,
            vis,
            ident,
            user,
            backends,
        })
    }
}
