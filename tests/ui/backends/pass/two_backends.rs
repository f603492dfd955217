use axum::Router;
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
    /// How users log in.
    pub struct Auth for User {
        jwt: BearerTransport, JwtStrategy;
        cookie: CookieTransport, JwtStrategy;
    }
}

const EITHER: u64 = Auth::JWT | Auth::COOKIE;

fn routes() -> Router<FastUsers<Auth>> {
    let _: Router<FastUsers<Auth>> = Auth::jwt_router::<FastUsers<Auth>>().into();
    fastusers::Routes::new()
        .nest("/auth/jwt", Auth::jwt_router())
        .nest("/auth/cookie", Auth::cookie_router())
        .into_router()
}

fn main() {
    assert_eq!((Auth::JWT, Auth::COOKIE, EITHER), (1, 2, 3));
    assert_eq!(<Auth as Backends>::NAMES, ["jwt", "cookie"]);
    let _ = routes();
}
