//! `#[derive(User)]`: parse the struct into a model, check it, generate the glue.

mod ast;
mod check;
mod generate;
mod schema;
mod sql;

use proc_macro2::TokenStream;

pub(crate) fn expand(input: syn::DeriveInput) -> TokenStream {
    let mut cx = crate::ctxt::Ctxt::default();
    let model = ast::Model::parse(&mut cx, &input);
    if let Some(model) = &model {
        check::check(&mut cx, model);
    }
    match (cx.check(), model) {
        (Ok(()), Some(model)) => generate::generate(&model),
        (Err(errors), model) => {
            let stub = generate::stub(&input, model.as_ref());
            quote::quote!(#errors #stub)
        }
        (Ok(()), None) => unreachable!("parsing failed without reporting an error"),
    }
}
