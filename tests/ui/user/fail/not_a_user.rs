use fastusers::prelude::*;

// The base fields, but no #[derive(User)].
#[derive(Clone, Debug)]
pub struct Member {
    pub id: uuid::Uuid,
    pub email: String,
    pub hashed_password: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_verified: bool,
}

fastusers::auth_backends! {
    pub struct Auth for Member {
        jwt: BearerTransport, JwtStrategy;
    }
}

fn main() {}
