use fastusers::prelude::*;

#[derive(User, Clone, Debug)]
pub struct User {
    pub id: uuid::Uuid,
    pub email: String,
    pub hashed_password: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_verified: bool,
    pub level: i8,
    pub tags: Vec<String>,
    pub avatar: Option<Vec<u8>>,
}

fn main() {}
