//! `auth_backends!`: parse the declaration, check it, generate the backends struct.

mod ast;
mod generate;

use proc_macro2::TokenStream;

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let mut cx = crate::ctxt::Ctxt::default();
    let decl = match ast::Declaration::parse(input) {
        Ok(decl) => decl,
        Err(e) => return e.to_compile_error(),
    };
    decl.check(&mut cx);
    match cx.check() {
        Ok(()) => generate::generate(&decl),
        Err(errors) => errors,
    }
}
