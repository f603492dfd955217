//! Procedural macros of [fastusers](https://docs.rs/fastusers). Use them through the
//! `fastusers` crate, which re-exports them; the code they generate names the runtime by its
//! absolute path.

use proc_macro::TokenStream;

mod backends;
mod ctxt;
mod user;

/// Derives `fastusers::User`. See the documentation of `fastusers::User` (the derive).
#[proc_macro_derive(User, attributes(fastusers))]
pub fn derive_user(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    user::expand(input).into()
}

/// The implementation of `fastusers::auth_backends!`, which forwards `$crate` to it.
#[doc(hidden)]
#[proc_macro]
pub fn auth_backends_impl(input: TokenStream) -> TokenStream {
    backends::expand(input.into()).into()
}
