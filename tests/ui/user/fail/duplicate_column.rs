use fastusers::prelude::*;

#[derive(User, Clone, Debug)]
pub struct User {
    pub id: uuid::Uuid,
    pub email: String,
    pub hashed_password: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_verified: bool,
    pub nickname: Option<String>,
    #[fastusers(column = "nickname")]
    pub display_name: Option<String>,
}

fn main() {}
