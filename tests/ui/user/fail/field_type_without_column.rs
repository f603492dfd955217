use fastusers::openapi::utoipa;
use fastusers::prelude::*;
use serde::{Deserialize, Serialize};

/// Everything a field needs but sqlx's traits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Plan {
    #[default]
    Free,
    Pro,
}

impl utoipa::PartialSchema for Plan {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::Object::new().into()
    }
}

#[derive(User, Clone, Debug)]
pub struct User {
    pub id: uuid::Uuid,
    pub email: String,
    pub hashed_password: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_verified: bool,
    #[fastusers(create, update, sql_type = "TEXT")]
    pub plan: Plan,
}

fn main() {}
