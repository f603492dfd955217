//! Stand-ins for the types `#[derive(User)]` generates, for a struct with errors: the derive
//! reports the errors and implements `User` with these, so that a mistake in the struct is
//! not followed by an error at every use of the model and its types. Never run: the crate
//! does not compile.

use serde::Serialize;
use serde_json::Value;

use super::{User, UserChanges, UserCreate, UserUpdate};
use crate::body::{FromJson, ValidationErrors};

/// Stands in for `{Name}Read`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Read;

/// Stands in for `{Name}Create`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Create;

/// Stands in for `{Name}Update`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Update;

/// Stands in for `{Name}Changes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes;

impl UserCreate for Create {
    fn email(&self) -> &str {
        ""
    }

    fn password(&self) -> &str {
        ""
    }
}

impl<U: User> UserUpdate<U> for Update {
    fn password(&self) -> Option<&str> {
        None
    }

    fn into_changes(self, _safe: bool) -> U::Changes {
        U::Changes::default()
    }
}

impl UserChanges for Changes {
    fn email(&self) -> Option<&str> {
        None
    }

    fn hashed_password(&self) -> Option<&str> {
        None
    }

    fn set_hashed_password(&mut self, _hash: String) {}

    fn is_active(&self) -> Option<bool> {
        None
    }

    fn is_verified(&self) -> Option<bool> {
        None
    }

    fn set_is_verified(&mut self, _value: bool) {}

    fn set_is_active(&mut self, _value: bool) {}

    fn set_is_superuser(&mut self, _value: bool) {}

    fn is_empty(&self) -> bool {
        true
    }
}

/// Generates the body and schema impls of the stand-ins that are bodies.
macro_rules! bodies {
    ($($ty:ident),*) => {$(
        impl FromJson for $ty {
            fn from_json(_value: &Value) -> Result<Self, ValidationErrors> {
                Ok(Self)
            }
        }
    )*};
}

bodies!(Create, Update);

/// Generates the schema impls of the stand-ins that are documented.
#[cfg(feature = "openapi")]
macro_rules! schemas {
    ($($ty:ident),*) => {$(
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::Object::new().into()
            }
        }

        impl utoipa::ToSchema for $ty {}
    )*};
}

#[cfg(feature = "openapi")]
schemas!(Read, Create, Update);
