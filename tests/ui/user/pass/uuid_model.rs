use fastusers::prelude::*;

#[derive(User, Clone, Debug)]
pub struct User {
    pub id: uuid::Uuid,
    pub email: String,
    pub hashed_password: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_verified: bool,
}

fn id(user: &User) -> &uuid::Uuid {
    fastusers::User::id(user)
}

fn main() {
    let _ = id;
    let _: Option<(UserRead, UserCreate, UserUpdate, UserChanges)> = None;
}
