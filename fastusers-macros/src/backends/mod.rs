//! `auth_backends!`: parse the declaration, check it, generate the backends struct.

mod ast;
mod check;
mod generate;

use proc_macro2::TokenStream;

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let mut cx = crate::ctxt::Ctxt::default();
    let decl = match ast::Declaration::parse(input) {
        Ok(decl) => decl,
        Err(e) => return e.to_compile_error(),
    };
    let decl = check::check(&mut cx, decl);
    // Generated even with errors, from the backends that are right: the struct exists, so
    // that its uses add no errors to the ones reported.
    let generated = generate::generate(&decl);
    match cx.check() {
        Ok(()) => generated,
        Err(errors) => quote::quote!(#errors #generated),
    }
}
