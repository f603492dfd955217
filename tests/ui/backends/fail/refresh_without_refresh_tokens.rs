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

fastusers::auth_backends! {
    pub struct Auth for User {
        app: BearerTransport, JwtStrategy, refresh;
    }
}

fn main() {
    let strategy = JwtStrategy::new(Secret::random().keys(Purpose::ACCESS), Some(300));
    // `refresh` needs `.with_refresh(RefreshTokens)`.
    let _ = Auth {
        app: Backend::new(BearerTransport::new("auth/app/login"), strategy),
    };
}
