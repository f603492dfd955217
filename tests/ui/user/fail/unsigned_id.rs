use fastusers::prelude::*;

// Unsigned and narrower ids are refused: i32 and i64 are the integer ids both databases
// generate.
#[derive(User, Clone, Debug)]
pub struct User {
    pub id: u32,
    pub email: String,
    pub hashed_password: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_verified: bool,
}

fn main() {}
