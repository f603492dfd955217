use fastusers::oauth::{OAuthClient, OAuthOptions};
use fastusers::prelude::*;

#[derive(User, Clone, Debug)]
#[fastusers(oauth, table = "member")]
pub struct Member {
    pub id: i64,
    pub email: String,
    pub hashed_password: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_verified: bool,
    #[fastusers(create, update)]
    pub nickname: Option<String>,
}

fastusers::auth_backends! {
    pub struct Auth for Member {
        cookie: CookieTransport, JwtStrategy;
    }
}

fn main() {
    let google = OAuthClient::google("id", "secret");
    let options = OAuthOptions::new(&Secret::random());
    let _: axum::Router<FastUsers<Auth>> = axum::Router::new()
        .nest(
            "/auth/google",
            FastUsers::<Auth>::oauth_router(google.clone(), |auth| &auth.cookie, options.clone()),
        )
        .nest(
            "/auth/associate/google",
            FastUsers::<Auth>::oauth_associate_router(google, options),
        );
    let member = <Member as fastusers::user::OAuthUser>::from_oauth(1, "a@b.example".into(), "!".into(), true);
    assert_eq!(member.nickname, None);
    assert!(member.is_verified && member.is_active && !member.is_superuser);
}
