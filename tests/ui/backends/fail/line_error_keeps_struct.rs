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

// A line in error is left out; the struct, its constants and routers are declared with the
// others, so that the code using them is still checked (the second error below).
fastusers::auth_backends! {
    pub struct Auth for User {
        jwt: BearerTransport, JwtStrategy;
        cookie CookieTransport, JwtStrategy;
    }
}

fn main() {
    let _router: axum::Router<FastUsers<Auth>> = Auth::jwt_router();
    let mask: u8 = Auth::JWT;
    let _ = mask;
}
