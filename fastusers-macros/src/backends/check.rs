//! Checks of a parsed `auth_backends!` declaration. A backend in error is reported at its name
//! and left out, so that the struct is still declared with the others.

use super::ast::Declaration;
use crate::ctxt::Ctxt;

/// At most one bit per backend in a `u64` mask.
const MAX_BACKENDS: usize = 64;

pub(crate) fn check(cx: &mut Ctxt, mut decl: Declaration) -> Declaration {
    let lines_in_error = !decl.errors.is_empty();
    for error in std::mem::take(&mut decl.errors) {
        cx.syn_error(error);
    }
    if decl.backends.is_empty() && !lines_in_error {
        cx.error_spanned_by(
            &decl.ident,
            "declare at least one backend: `name: Transport, Strategy;`",
        );
    }
    let mut seen: Vec<String> = Vec::new();
    decl.backends.retain(|backend| {
        let name = backend.name.to_string();
        if seen.contains(&name) {
            cx.error_spanned_by(
                &backend.name,
                format!("duplicate backend name `{name}`: each backend needs its own name"),
            );
            return false;
        }
        seen.push(name);
        if seen.len() == MAX_BACKENDS + 1 {
            cx.error_spanned_by(&backend.name, "at most 64 backends can be declared");
        }
        seen.len() <= MAX_BACKENDS
    });
    decl
}
