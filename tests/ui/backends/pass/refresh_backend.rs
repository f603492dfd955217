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
        app: BearerTransport, JwtStrategy, refresh;
        page: CookieTransport, JwtStrategy, refresh;
    }
}

#[tokio::main]
async fn main() {
    let store = fastusers::store::connect::<User>("sqlite::memory:").await.unwrap();
    let refresh = fastusers::refresh::RefreshTokens::new(store.as_ref()).unwrap();
    let strategy = JwtStrategy::new(Secret::random().keys(Purpose::ACCESS), Some(300));
    let auth = Auth {
        jwt: Backend::new(BearerTransport::new("auth/jwt/login"), strategy.clone()),
        app: Backend::new(BearerTransport::new("auth/app/login"), strategy.clone())
            .with_refresh(refresh.clone()),
        page: Backend::new(CookieTransport::new(), strategy).with_refresh(refresh),
    };
    let users = FastUsers::new(UserManager::new(store), auth);
    let routes = Routes::new()
        .nest("/auth/jwt", Auth::jwt_router())
        .nest("/auth/app", Auth::app_router())
        .nest("/auth/page", Auth::page_router());
    let paths: Vec<String> = routes.list().into_iter().map(|r| r.path).collect();
    assert!(paths.contains(&"/auth/app/refresh".to_owned()));
    assert!(paths.contains(&"/auth/page/refresh".to_owned()));
    assert!(!paths.contains(&"/auth/jwt/refresh".to_owned()));
    let _: axum::Router = routes.into_router().with_state(users);
}
