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
        jwt: BearerTransport, JwtStrategy, refrsh;
        cookie: CookieTransport, JwtStrategy;
    }
}

fn main() {
    // The struct is declared all the same, with the backends that are right.
    let _ = Auth::cookie_router::<FastUsers<Auth>>;
}
