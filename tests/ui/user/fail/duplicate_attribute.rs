use fastusers::prelude::*;

#[derive(User, Clone, Debug)]
#[fastusers(table = "member")]
#[fastusers(table = "person")]
pub struct User {
    pub id: uuid::Uuid,
    pub email: String,
    pub hashed_password: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_verified: bool,
    #[fastusers(create, create)]
    pub first_name: Option<String>,
    #[fastusers(update)]
    #[fastusers(sql_type = "TEXT", update)]
    pub plan: Option<String>,
}

fn main() {}
