//! The syntax of `auth_backends!`:
//!
//! ```text
//! <crate path>;                      // inserted by the macro_rules! wrapper ($crate)
//! #[attrs] vis struct Name for UserType {
//!     name: TransportType, StrategyType;
//!     name: TransportType, StrategyType, refresh;   // with refresh tokens
//!     ...
//! }
//! ```

use proc_macro2::{TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Ident, Token, Type, Visibility, braced};

pub(crate) struct Declaration {
    pub(crate) krate: TokenStream,
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    pub(crate) user: Type,
    pub(crate) backends: Vec<BackendDecl>,
    /// The backend lines that did not parse, each skipped up to its `;`: the others still
    /// make the struct, so that the code using it adds no errors to these.
    pub(crate) errors: Vec<syn::Error>,
}

pub(crate) struct BackendDecl {
    pub(crate) name: Ident,
    pub(crate) transport: Type,
    pub(crate) strategy: Type,
    /// The `refresh` keyword, when the backend has refresh tokens.
    pub(crate) refresh: Option<Ident>,
}

impl Declaration {
    pub(crate) fn parse(input: TokenStream) -> syn::Result<Self> {
        syn::parse2(input)
    }
}

impl Parse for BackendDecl {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `:` after the backend's name: `name: Transport, Strategy;`",
            )
        })?;
        let transport: Type = input.parse()?;
        input.parse::<Token![,]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `,` between the transport and the strategy: `name: Transport, Strategy;`",
            )
        })?;
        let strategy: Type = input.parse()?;
        let mut refresh = None;
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
            let option: Ident = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected `refresh` after the strategy: `name: Transport, Strategy, refresh;`",
                )
            })?;
            if option != "refresh" {
                return Err(syn::Error::new(
                    option.span(),
                    format!(
                        "unknown backend option `{option}`: the only one is `refresh` (`name: Transport, Strategy, refresh;` gives the backend refresh tokens)"
                    ),
                ));
            }
            refresh = Some(option);
        }
        if !input.is_empty() {
            input.parse::<Token![;]>()?;
        }
        Ok(Self {
            name,
            transport,
            strategy,
            refresh,
        })
    }
}

/// Skips the rest of a backend line, through its `;`.
fn skip_line(input: ParseStream<'_>) -> syn::Result<()> {
    input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            rest = next;
            if matches!(&tt, TokenTree::Punct(p) if p.as_char() == ';') {
                break;
            }
        }
        Ok(((), rest))
    })
}

impl Parse for Declaration {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut krate = TokenStream::new();
        while !input.peek(Token![;]) {
            let tt: TokenTree = input.parse()?;
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
        let mut errors = Vec::new();
        while !content.is_empty() {
            match content.parse::<BackendDecl>() {
                Ok(backend) => backends.push(backend),
                Err(error) => {
                    errors.push(error);
                    skip_line(&content)?;
                }
            }
        }
        Ok(Self {
            krate,
            attrs,
            vis,
            ident,
            user,
            backends,
            errors,
        })
    }
}
