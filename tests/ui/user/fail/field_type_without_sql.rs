use fastusers::prelude::*;

#[derive(User, Clone, Debug)]
pub struct User {
    pub id: uuid::Uuid,
    pub email: String,
    pub hashed_password: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_verified: bool,
    // A column type, but sqlx cannot bind or read a Duration.
    #[fastusers(create, sql_type = "BIGINT")]
    pub session_timeout: std::time::Duration,
}

fn main() {}
