use fastusers::oauth::{OAuthClient, OAuthOptions};
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
        jwt: BearerTransport, JwtStrategy;
    }
}

fn main() {
    let _: axum::Router<FastUsers<Auth>> = FastUsers::<Auth>::oauth_router(
        OAuthClient::github("id", "secret"),
        |auth| &auth.jwt,
        OAuthOptions::new(&Secret::random()),
    );
}
