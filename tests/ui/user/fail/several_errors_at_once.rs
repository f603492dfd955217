use fastusers::prelude::*;

// A wrong base field type and an unknown attribute: both are reported in one compile.
#[derive(User, Clone, Debug)]
pub struct User {
    pub id: String,
    pub email: String,
    pub hashed_password: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_verified: bool,
    #[fastusers(hiden)]
    pub notes: Option<String>,
}

fn main() {}
