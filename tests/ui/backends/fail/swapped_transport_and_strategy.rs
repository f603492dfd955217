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

// The strategy first, then the transport: the wrong way round.
fastusers::auth_backends! {
    pub struct Auth for User {
        jwt: JwtStrategy, BearerTransport;
    }
}

fn main() {}
