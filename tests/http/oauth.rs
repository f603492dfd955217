//! OAuth2 / OpenID Connect against a real provider on loopback (oauth2-mock-server, from npm):
//! sign-up, returning login, associate_by_email, linking and unlinking, tampered, expired and
//! wrong-audience states, missing or wrong CSRF cookies, states at the wrong callback or of
//! another user (each leaving the code unused), a provider without email, an inactive user,
//! the provider's errors, PKCE, the cookie backend's redirect, spoiled ID tokens, rotated
//! signing keys and multi-tenant issuers.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use fastusers::oauth::{OAuthClient, OAuthClientError, OAuthOptions, STATE_AUDIENCE};
use fastusers::{JwtKeys, keys::now};
use fastusers_tests::oauth::OAuthServer;
use fastusers_tests::{
    Db, Options, Response, TestApp, UserChanges, db_tests, outbox_path, wait_for_outbox,
};
use serde_json::{Value, json};

const STATE_SECRET: &str = "STATE, the OAuth state secret of the tests";
const CSRF_COOKIE: &str = "fastapiusersoauthcsrf";

/// The mock provider's client, found by discovery.
async fn discovered(provider: &OAuthServer) -> OAuthClient {
    OAuthClient::discover(
        "mock",
        &provider.issuer(),
        "fastusers-test",
        "client-secret",
    )
    .await
    .expect("discover the provider")
}

async fn app(db: Db, provider: &OAuthServer, options: OAuthOptions) -> TestApp {
    app_with(db, discovered(provider).await, options).await
}

/// The test app with this client mounted at `/auth/mock` (and the associate router).
async fn app_with(db: Db, client: OAuthClient, options: OAuthOptions) -> TestApp {
    TestApp::with(
        db,
        Options {
            oauth: Some((client, options)),
            ..Options::default()
        },
    )
    .await
}

/// [`app`], writing its emails to an outbox file of its own.
async fn app_with_outbox(
    db: Db,
    provider: &OAuthServer,
    options: OAuthOptions,
) -> (TestApp, std::path::PathBuf) {
    let outbox = outbox_path();
    let app = TestApp::with(
        db,
        Options {
            oauth: Some((discovered(provider).await, options)),
            outbox: Some(outbox.clone()),
            ..Options::default()
        },
    )
    .await;
    (app, outbox)
}

fn options() -> OAuthOptions {
    // Used as it is, as fastapi-users' `state_secret`: the tests forge state tokens with it.
    OAuthOptions::new(
        &fastusers::keys::Secret::new(STATE_SECRET)
            .unwrap()
            .same_key_for_every_purpose(),
    )
}

/// The value of the cookie `name` set by a response, if any.
fn set_cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// A started flow: the provider's authorization URL and the CSRF cookie's value.
struct Flow {
    url: String,
    csrf: String,
}

async fn authorize(app: &TestApp, path: &str, bearer: Option<&str>) -> Flow {
    let mut request = app.request(Method::GET, path);
    if let Some(token) = bearer {
        request = request.bearer(token);
    }
    let response = request.send().await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let cookie = set_cookie(&response, CSRF_COOKIE).expect("the CSRF cookie is set");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Max-Age=3600"),
        "{cookie}"
    );
    assert!(
        cookie.contains("Path=/") && cookie.contains("SameSite=lax"),
        "{cookie}"
    );
    let csrf = cookie[CSRF_COOKIE.len() + 1..]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let url = response.json()["authorization_url"]
        .as_str()
        .expect("an authorization_url")
        .to_owned();
    assert!(url.contains("code_challenge_method=S256"), "PKCE: {url}");
    assert!(url.contains("&nonce="), "an OpenID Connect nonce: {url}");
    Flow { url, csrf }
}

/// The path and query of the provider's redirect (our callback).
fn callback_path(location: &str) -> String {
    let rest = location
        .strip_prefix("http://localhost")
        .unwrap_or_else(|| panic!("the callback is on the request's host: {location}"));
    rest.to_owned()
}

async fn callback(
    app: &TestApp,
    location: &str,
    csrf: Option<&str>,
    bearer: Option<&str>,
) -> Response {
    let mut request = app.request(Method::GET, &callback_path(location));
    if let Some(csrf) = csrf {
        request = request.header("cookie", &format!("{CSRF_COOKIE}={csrf}"));
    }
    if let Some(token) = bearer {
        request = request.bearer(token);
    }
    request.send().await
}

/// Logs in through the provider as `sub` with `email`; the callback's response.
async fn oauth_login(
    app: &TestApp,
    provider: &OAuthServer,
    sub: &str,
    email: Option<&str>,
) -> Response {
    let flow = authorize(app, "/auth/mock/authorize", None).await;
    let location = provider.authorize(&flow.url, sub, email).await;
    callback(app, &location, Some(&flow.csrf), None).await
}

async fn me(app: &TestApp, token: &str) -> Value {
    let response = app
        .request(Method::GET, "/users/me")
        .bearer(token)
        .send()
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

fn access_token(response: &Response) -> String {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()["access_token"]
        .as_str()
        .expect("a bearer login response")
        .to_owned()
}

/// A new user signs up through the provider, then logs in again as the same user; every code
/// exchange used PKCE; the CSRF cookie is cleared.
async fn sign_up_and_return(db: Db) {
    let provider = OAuthServer::start();
    let app = app(db, &provider, options()).await;
    let first = oauth_login(&app, &provider, "alice-sub", Some("Alice@Example.com")).await;
    let token = access_token(&first);
    let cleared = set_cookie(&first, CSRF_COOKIE).expect("the CSRF cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let user = me(&app, &token).await;
    assert_eq!(user["email"], json!("Alice@example.com"));
    assert_eq!(
        user["is_verified"],
        json!(false),
        "is_verified_by_default is off"
    );
    assert_eq!(user["is_active"], json!(true));

    let again = oauth_login(&app, &provider, "alice-sub", Some("alice@example.com")).await;
    assert_eq!(me(&app, &access_token(&again)).await["id"], user["id"]);

    // She has no password: no password logs her in.
    for password in ["x", "!unusable$"] {
        app.login_form(
            "jwt",
            &[("username", "alice@example.com"), ("password", password)],
        )
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "LOGIN_BAD_CREDENTIALS"}),
        );
    }
    let requests = provider.token_requests().await;
    let requests = requests.as_array().unwrap();
    assert_eq!(requests.len(), 2);
    for request in requests {
        assert_eq!(request["code_verifier_valid"], json!(true), "{request}");
        assert_eq!(request["code_challenge_method"], json!("S256"), "{request}");
        assert_eq!(request["status"], json!(200), "{request}");
    }
}

/// Marks a user verified directly in the store.
async fn verify_in_store(app: &TestApp, id: &Value) {
    let id = uuid::Uuid::parse_str(id.as_str().expect("an id")).expect("a UUID");
    let changes = UserChanges {
        is_verified: Some(true),
        ..Default::default()
    };
    app.change_in_store(&id, changes).await;
}

/// An existing user's email: refused unless associate_by_email is on, the provider vouches
/// for the email and the user verified it; then linked to that user.
async fn associate_by_email(db: Db) {
    let provider = OAuthServer::start();
    let off = app(db, &provider, options()).await;
    off.register("bob@example.com", "bobs-password").await;
    oauth_login(&off, &provider, "bob-sub", Some("bob@example.com"))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "OAUTH_USER_ALREADY_EXISTS"}),
        );

    let on = app(
        db,
        &provider,
        options()
            .associate_by_email(true)
            .is_verified_by_default(true),
    )
    .await;
    let bob = on.register("bob@example.com", "bobs-password").await["id"].clone();
    verify_in_store(&on, &bob).await;
    // An email the provider does not vouch for links nothing.
    let flow = authorize(&on, "/auth/mock/authorize", None).await;
    let location = provider
        .authorize_unverified(&flow.url, "mallory-sub", "bob@example.com")
        .await;
    callback(&on, &location, Some(&flow.csrf), None)
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "OAUTH_USER_ALREADY_EXISTS"}),
        );
    let linked = oauth_login(&on, &provider, "bob-sub", Some("bob@example.com")).await;
    let user = me(&on, &access_token(&linked)).await;
    assert_eq!(user["id"], bob);
    let carol = oauth_login(&on, &provider, "carol-sub", Some("carol@example.com")).await;
    assert_eq!(
        me(&on, &access_token(&carol)).await["is_verified"],
        json!(true)
    );
    // The provider's address in another letter case, Unicode included, is the same user's.
    let jurgen = on.register("jürgen@exämple.com", "jurgens-password").await["id"].clone();
    verify_in_store(&on, &jurgen).await;
    let linked = oauth_login(&on, &provider, "jurgen-sub", Some("JÜRGEN@EXÄMPLE.COM")).await;
    assert_eq!(me(&on, &access_token(&linked)).await["id"], jurgen);
}

/// A logged-in user links a provider account, logs in with it, cannot link it to someone
/// else, and unlinks it; an OAuth-only user cannot unlink their only way in.
async fn link_and_unlink(db: Db) {
    let provider = OAuthServer::start();
    let (app, outbox) = app_with_outbox(db, &provider, options()).await;
    let dave = app.register("dave@example.com", "daves-password").await;
    let token = app.token("dave@example.com", "daves-password").await;

    // Not logged in: 401 before anything else.
    app.request(Method::GET, "/auth/associate/mock/authorize")
        .send()
        .await
        .assert(StatusCode::UNAUTHORIZED, json!({"detail": "Unauthorized"}));

    let flow = authorize(&app, "/auth/associate/mock/authorize", Some(&token)).await;
    let location = provider
        .authorize(&flow.url, "dave-github", Some("dave@work.example"))
        .await;
    let linked = callback(&app, &location, Some(&flow.csrf), Some(&token)).await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text());
    let body = linked.json();
    assert_eq!(body["id"], dave["id"]);
    let accounts = body["oauth_accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["oauth_name"], json!("mock"));
    assert_eq!(accounts[0]["account_id"], json!("dave-github"));
    assert_eq!(accounts[0]["account_email"], json!("dave@work.example"));
    assert!(
        accounts[0].get("access_token").is_none() && accounts[0].get("refresh_token").is_none(),
        "provider tokens are not shown: {body}"
    );
    // Dave is told, with the provider account's address masked.
    let mail = wait_for_outbox(&outbox, 1).await;
    assert_eq!(mail[0].to, "dave@example.com");
    assert_eq!(
        mail[0].subject,
        "A mock account was linked to your Camelot account"
    );
    assert!(
        mail[0]
            .text
            .contains("A mock account (d***@w***.example) was linked to dave@example.com"),
        "{}",
        mail[0].text
    );
    crate::notices::assert_no_secret(&mail[0], &[&token, "daves-password"]);

    // The linked account logs Dave in, although its email is another one.
    let login = oauth_login(&app, &provider, "dave-github", Some("dave@work.example")).await;
    assert_eq!(me(&app, &access_token(&login)).await["id"], dave["id"]);

    // Erin cannot link Dave's provider account.
    app.register("erin@example.com", "erins-password").await;
    let erin = app.token("erin@example.com", "erins-password").await;
    let flow = authorize(&app, "/auth/associate/mock/authorize", Some(&erin)).await;
    let location = provider
        .authorize(&flow.url, "dave-github", Some("dave@work.example"))
        .await;
    callback(&app, &location, Some(&flow.csrf), Some(&erin))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "OAUTH_ACCOUNT_ALREADY_LINKED"}),
        );
    // Nor use a state made for Dave.
    let flow = authorize(&app, "/auth/associate/mock/authorize", Some(&token)).await;
    let location = provider
        .authorize(&flow.url, "erin-github", Some("erin@example.com"))
        .await;
    callback(&app, &location, Some(&flow.csrf), Some(&erin))
        .await
        .assert(StatusCode::BAD_REQUEST, json!({"detail": "Bad Request"}));

    // Unlink; a second time there is nothing to unlink.
    let unlinked = app
        .request(Method::DELETE, "/auth/associate/mock")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(
        unlinked.status,
        StatusCode::NO_CONTENT,
        "{}",
        unlinked.text()
    );
    let mail = wait_for_outbox(&outbox, 2).await;
    assert_eq!(mail[1].to, "dave@example.com");
    assert_eq!(
        mail[1].subject,
        "A mock account was unlinked from your Camelot account"
    );
    crate::notices::assert_no_secret(&mail[1], &[&token, "daves-password"]);
    app.request(Method::DELETE, "/auth/associate/mock")
        .bearer(&token)
        .send()
        .await
        .assert(StatusCode::NOT_FOUND, json!({"detail": "Not Found"}));
    // The account is free again: it now signs a new user up.
    let fresh = oauth_login(&app, &provider, "dave-github", Some("dave@work.example")).await;
    let fresh_token = access_token(&fresh);
    assert_ne!(me(&app, &fresh_token).await["id"], dave["id"]);
    // That user has no password and no other account: unlinking would lock them out.
    app.request(Method::DELETE, "/auth/associate/mock")
        .bearer(&fresh_token)
        .send()
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "OAUTH_LAST_LOGIN_METHOD"}),
        );
}

/// Every way the state or the CSRF cookie can be wrong is a 400, and no code is exchanged.
async fn bad_states_and_cookies(db: Db) {
    let provider = OAuthServer::start();
    let app = app(db, &provider, options()).await;
    let flow = authorize(&app, "/auth/mock/authorize", None).await;
    let location = provider
        .authorize(&flow.url, "frank-sub", Some("frank@example.com"))
        .await;
    let (base, query) = location.split_once('?').unwrap();
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    let code = &params.iter().find(|(k, _)| k == "code").unwrap().1;
    let state = &params.iter().find(|(k, _)| k == "state").unwrap().1;
    let with_state = |state: &str| format!("{base}?code={code}&state={state}");
    let keys = JwtKeys::hs256(STATE_SECRET).unwrap();
    let make = |claims: Value| keys.encode(&claims).unwrap();
    let decode_error = json!({"detail": "ACCESS_TOKEN_DECODE_ERROR"});
    let invalid_state = json!({"detail": "OAUTH_INVALID_STATE"});

    let mut tampered = state.clone();
    tampered.pop();
    tampered.push(if state.ends_with('A') { 'B' } else { 'A' });
    let cases = [
        (
            "tampered",
            with_state(&tampered),
            Some(flow.csrf.as_str()),
            decode_error.clone(),
        ),
        (
            "garbage",
            with_state("not-a-jwt"),
            Some(&flow.csrf),
            decode_error.clone(),
        ),
        (
            "missing state",
            format!("{base}?code={code}"),
            Some(&flow.csrf),
            decode_error.clone(),
        ),
        (
            "wrong audience",
            with_state(&make(
                json!({"csrftoken": flow.csrf, "aud": "fastapi-users:auth", "exp": now() + 600}),
            )),
            Some(&flow.csrf),
            decode_error.clone(),
        ),
        (
            "other secret",
            with_state(
                &JwtKeys::hs256("OTHER, another state secret of 32+ bytes")
                    .unwrap()
                    .encode(
                        &json!({"csrftoken": flow.csrf, "aud": STATE_AUDIENCE, "exp": now() + 600}),
                    )
                    .unwrap(),
            ),
            Some(&flow.csrf),
            decode_error.clone(),
        ),
        (
            "expired",
            with_state(&make(
                json!({"csrftoken": flow.csrf, "aud": STATE_AUDIENCE, "exp": now() - 5}),
            )),
            Some(&flow.csrf),
            json!({"detail": "ACCESS_TOKEN_ALREADY_EXPIRED"}),
        ),
        (
            "no CSRF cookie",
            location.clone(),
            None,
            invalid_state.clone(),
        ),
        (
            "wrong CSRF cookie",
            location.clone(),
            Some("forged-csrf-value"),
            invalid_state.clone(),
        ),
        (
            "empty CSRF cookie",
            location.clone(),
            Some(""),
            invalid_state.clone(),
        ),
    ];
    for (name, location, csrf, expected) in cases {
        let response = callback(&app, &location, csrf, None).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{name}: {}",
            response.text()
        );
        assert_eq!(response.json(), expected, "{name}");
    }
    assert_eq!(
        provider.token_requests().await,
        json!([]),
        "no code was exchanged before the state and cookie were checked"
    );
    // The untouched flow still works, once; the used code is refused by the provider.
    let ok = callback(&app, &location, Some(&flow.csrf), None).await;
    access_token(&ok);
    let reused = callback(&app, &location, Some(&flow.csrf), None).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST, "{}", reused.text());
    let detail = reused.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.starts_with("invalid_"),
        "the provider's OAuth error code: {detail}"
    );
}

/// A query parameter of a callback URL.
fn param(location: &str, name: &str) -> String {
    let (_, query) = location.split_once('?').expect("a query");
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    params
        .into_iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no {name} in {location}"))
        .1
}

/// The callback URL with another `state`.
fn with_state(location: &str, state: &str) -> String {
    let (base, _) = location.split_once('?').unwrap();
    let code = param(location, "code");
    format!("{base}?code={code}&state={state}")
}

/// A callback refused for its state, its CSRF cookie or its caller leaves the code unused:
/// the provider saw no token request for it, and the flow it belongs to completes with it
/// afterwards. A login state at the associate callback, an associate state at the login
/// callback, an associate state presented by another logged-in user, and (at the associate
/// callback; `bad_states_and_cookies` does the login callback) a missing or wrong CSRF cookie
/// and an expired state.
async fn refused_callbacks_leave_the_code_unused(db: Db) {
    let provider = OAuthServer::start();
    let app = app(db, &provider, options()).await;
    let dave = app.register("dave@example.com", "daves-password").await;
    let dave_token = app.token("dave@example.com", "daves-password").await;
    app.register("erin@example.com", "erins-password").await;
    let erin_token = app.token("erin@example.com", "erins-password").await;
    let bad_request = json!({"detail": "Bad Request"});
    let invalid_state = json!({"detail": "OAUTH_INVALID_STATE"});

    // A login flow's callback URL, sent to the associate callback of a logged-in user.
    let flow = authorize(&app, "/auth/mock/authorize", None).await;
    let location = provider
        .authorize(&flow.url, "lena-sub", Some("lena@example.com"))
        .await;
    let code = param(&location, "code");
    let at_associate = location.replace("/auth/mock/callback", "/auth/associate/mock/callback");
    assert_ne!(at_associate, location);
    callback(&app, &at_associate, Some(&flow.csrf), Some(&dave_token))
        .await
        .assert(StatusCode::BAD_REQUEST, bad_request.clone());
    assert_eq!(
        provider.exchanges_of(&code).await,
        0,
        "a login state at the associate callback: the code was exchanged"
    );
    access_token(&callback(&app, &location, Some(&flow.csrf), None).await);
    assert_eq!(provider.exchanges_of(&code).await, 1);

    // Dave's associate flow: its callback URL at the login callback, then presented by Erin,
    // then with a missing, a wrong or an empty CSRF cookie, then with an expired state.
    let flow = authorize(&app, "/auth/associate/mock/authorize", Some(&dave_token)).await;
    let location = provider
        .authorize(&flow.url, "dave-sub", Some("dave@work.example"))
        .await;
    let code = param(&location, "code");
    let at_login = location.replace("/auth/associate/mock/callback", "/auth/mock/callback");
    assert_ne!(at_login, location);
    let expired = JwtKeys::hs256(STATE_SECRET)
        .unwrap()
        .encode(&json!({
            "csrftoken": flow.csrf, "aud": STATE_AUDIENCE, "exp": now() - 5, "sub": dave["id"],
        }))
        .unwrap();
    let cases = [
        (
            "an associate state at the login callback",
            at_login,
            Some(flow.csrf.as_str()),
            None,
            invalid_state.clone(),
        ),
        (
            "an associate state presented by another user",
            location.clone(),
            Some(&flow.csrf),
            Some(erin_token.as_str()),
            bad_request.clone(),
        ),
        (
            "no CSRF cookie",
            location.clone(),
            None,
            Some(&dave_token),
            invalid_state.clone(),
        ),
        (
            "a wrong CSRF cookie",
            location.clone(),
            Some("forged-csrf-value"),
            Some(&dave_token),
            invalid_state.clone(),
        ),
        (
            "an empty CSRF cookie",
            location.clone(),
            Some(""),
            Some(&dave_token),
            invalid_state.clone(),
        ),
        (
            "an expired state",
            with_state(&location, &expired),
            Some(&flow.csrf),
            Some(&dave_token),
            json!({"detail": "ACCESS_TOKEN_ALREADY_EXPIRED"}),
        ),
    ];
    for (name, url, csrf, bearer, expected) in cases {
        let response = callback(&app, &url, csrf, bearer).await;
        assert_eq!(
            (response.status, response.json()),
            (StatusCode::BAD_REQUEST, expected),
            "{name}"
        );
        assert_eq!(
            provider.exchanges_of(&code).await,
            0,
            "{name}: the code was exchanged"
        );
    }
    let linked = callback(&app, &location, Some(&flow.csrf), Some(&dave_token)).await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text());
    assert_eq!(linked.json()["id"], dave["id"]);
    assert_eq!(
        linked.json()["oauth_accounts"][0]["account_id"],
        json!("dave-sub")
    );
    assert_eq!(provider.exchanges_of(&code).await, 1);
}

/// The provider's own errors, a missing code, no email, and an inactive user.
async fn provider_errors_no_email_and_inactive_users(db: Db) {
    let provider = OAuthServer::start();
    let app = app(db, &provider, options()).await;
    let flow = authorize(&app, "/auth/mock/authorize", None).await;
    let denied = provider.authorize_error(&flow.url, "access_denied").await;
    callback(&app, &denied, Some(&flow.csrf), None)
        .await
        .assert(StatusCode::BAD_REQUEST, json!({"detail": "access_denied"}));
    app.request(Method::GET, "/auth/mock/callback?state=x")
        .send()
        .await
        .assert(StatusCode::BAD_REQUEST, json!({"detail": "Bad Request"}));

    oauth_login(&app, &provider, "ghost-sub", None)
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "OAUTH_NOT_AVAILABLE_EMAIL"}),
        );

    let grace = oauth_login(&app, &provider, "grace-sub", Some("grace@example.com")).await;
    let grace = me(&app, &access_token(&grace)).await;
    let admin = app.superuser("admin@example.com").await;
    app.request(
        Method::PATCH,
        &format!("/users/{}", grace["id"].as_str().unwrap()),
    )
    .bearer(&admin)
    .json(&json!({"is_active": false}))
    .send()
    .await;
    oauth_login(&app, &provider, "grace-sub", Some("grace@example.com"))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "LOGIN_BAD_CREDENTIALS"}),
        );
}

/// With the cookie backend and `redirect_after_login`, the callback sets the session cookie
/// and sends the browser to the frontend.
async fn cookie_login_redirects_to_the_frontend(db: Db) {
    let provider = OAuthServer::start();
    let app = app(db, &provider, options()).await;
    let flow = authorize(&app, "/auth/mock-cookie/authorize", None).await;
    let location = provider
        .authorize(&flow.url, "henry-sub", Some("henry@example.com"))
        .await;
    let response = callback(&app, &location, Some(&flow.csrf), None).await;
    assert_eq!(
        response.status,
        StatusCode::SEE_OTHER,
        "{}",
        response.text()
    );
    assert_eq!(response.header("location"), Some("http://app.test/welcome"));
    let session = set_cookie(&response, "fastapiusersauth").expect("the session cookie");
    let session = session.split(';').next().unwrap();
    let me = app
        .request(Method::GET, "/users/me")
        .header("cookie", session)
        .send()
        .await;
    assert_eq!(me.json()["email"], json!("henry@example.com"));
}

/// A provider that is down: a 502 that says so, not a 500.
#[tokio::test]
async fn provider_down_is_a_502() {
    let provider = OAuthServer::start();
    let app = app(Db::Sqlite, &provider, options()).await;
    let flow = authorize(&app, "/auth/mock/authorize", None).await;
    let location = provider
        .authorize(&flow.url, "ivy-sub", Some("ivy@example.com"))
        .await;
    drop(provider);
    callback(&app, &location, Some(&flow.csrf), None)
        .await
        .assert(
            StatusCode::BAD_GATEWAY,
            json!({"detail": "OAUTH_PROVIDER_UNAVAILABLE"}),
        );
}

/// The callback of this flow is refused for its ID token: `400 OAUTH_INVALID_ID_TOKEN`.
async fn refused_id_token(app: &TestApp, location: &str, csrf: &str, case: &str) {
    let response = callback(app, location, Some(csrf), None).await;
    assert_eq!(
        (response.status, response.json()),
        (
            StatusCode::BAD_REQUEST,
            json!({"detail": "OAUTH_INVALID_ID_TOKEN"})
        ),
        "{case}"
    );
}

/// Nobody with this email was signed up.
async fn no_user(app: &TestApp, email: &str) {
    let user = app.state.manager().get_by_email(email).await.unwrap();
    assert!(user.is_none(), "{email} was signed up");
}

/// The ID token is checked against the provider's keys, issuer, audience (the client id),
/// expiry and the flow's nonce, and `alg: none` is refused: each spoiled token is a 400 and
/// signs nobody up.
async fn spoiled_id_tokens_are_refused(db: Db) {
    let provider = OAuthServer::start();
    let app = app(db, &provider, options()).await;
    for mode in [
        "bad_signature",
        "wrong_aud",
        "wrong_iss",
        "expired",
        "unsigned",
        "unknown_kid",
        "no_nonce",
        "wrong_nonce",
    ] {
        let flow = authorize(&app, "/auth/mock/authorize", None).await;
        let location = provider.authorize_spoiled(&flow.url, mode).await;
        refused_id_token(&app, &location, &flow.csrf, mode).await;
    }
    no_user(&app, "spoiled@example.com").await;
    // The same flow with an intact token works.
    access_token(&oauth_login(&app, &provider, "spoiled-sub", Some("spoiled@example.com")).await);
}

/// A provider that rotates its signing key (a new key signs, the old one is gone from its
/// JWKS) is followed: the token with the new `kid` fetches the keys again. Tokens naming an
/// unknown key fetch them at most once per `jwks_refresh_interval`.
#[tokio::test]
async fn rotated_signing_keys_are_followed() {
    const INTERVAL: Duration = Duration::from_secs(2);
    let provider = OAuthServer::start();
    let client = discovered(&provider).await.jwks_refresh_interval(INTERVAL);
    let app = app_with(Db::Sqlite, client, options()).await;
    assert_eq!(
        provider.jwks_requests().await,
        1,
        "discovery fetches the keys"
    );
    let rita = oauth_login(&app, &provider, "rita-sub", Some("rita@example.com")).await;
    let rita = me(&app, &access_token(&rita)).await["id"].clone();
    assert_eq!(provider.jwks_requests().await, 1, "a known key: no fetch");

    provider.rotate_keys().await;
    tokio::time::sleep(INTERVAL + Duration::from_millis(300)).await;
    let again = oauth_login(&app, &provider, "rita-sub", Some("rita@example.com")).await;
    assert_eq!(me(&app, &access_token(&again)).await["id"], rita);
    assert_eq!(provider.jwks_requests().await, 2, "the new key was fetched");

    let unknown_kid = || async {
        let flow = authorize(&app, "/auth/mock/authorize", None).await;
        let location = provider.authorize_spoiled(&flow.url, "unknown_kid").await;
        refused_id_token(&app, &location, &flow.csrf, "unknown_kid").await;
    };
    for _ in 0..3 {
        unknown_kid().await;
    }
    assert_eq!(
        provider.jwks_requests().await,
        2,
        "no fetch within the interval"
    );
    tokio::time::sleep(INTERVAL + Duration::from_millis(300)).await;
    unknown_kid().await;
    unknown_kid().await;
    assert_eq!(
        provider.jwks_requests().await,
        3,
        "one fetch once the interval has passed"
    );
    // The new key still logs in without a fetch.
    access_token(&oauth_login(&app, &provider, "rita-sub", Some("rita@example.com")).await);
    assert_eq!(provider.jwks_requests().await, 3);
}

/// A multi-tenant issuer (`{tenantid}`, as Microsoft's `common` endpoints): a token's `iss`
/// must be the issuer of the tenant its `tid` names; any other is a 400 that signs nobody up.
#[tokio::test]
async fn multi_tenant_issuers_are_the_tokens_tenant() {
    let provider = OAuthServer::start();
    let issuer = provider.issuer();
    let client = OAuthClient::new(
        "mock",
        "fastusers-test",
        "client-secret",
        &format!("{issuer}/authorize"),
        &format!("{issuer}/token"),
    )
    .unwrap()
    .id_token(
        &format!("{issuer}/{{tenantid}}/v2.0"),
        &format!("{issuer}/jwks"),
    )
    .unwrap();
    let app = app_with(Db::Sqlite, client, options()).await;
    let tenant = |t: &str| format!("{issuer}/{t}/v2.0");
    let cases = [
        (
            "another tenant's issuer",
            tenant("tenant-b"),
            Some("tenant-a"),
        ),
        ("no tid", tenant("tenant-a"), None),
        ("an empty tid", format!("{issuer}//v2.0"), Some("")),
        ("the template itself", tenant("{tenantid}"), None),
        ("the bare issuer", issuer.clone(), Some("tenant-a")),
    ];
    for (name, iss, tid) in cases {
        let flow = authorize(&app, "/auth/mock/authorize", None).await;
        let location = provider
            .authorize_tenant(&flow.url, "tess-sub", "tess@example.com", &iss, tid)
            .await;
        refused_id_token(&app, &location, &flow.csrf, name).await;
    }
    no_user(&app, "tess@example.com").await;
    let flow = authorize(&app, "/auth/mock/authorize", None).await;
    let location = provider
        .authorize_tenant(
            &flow.url,
            "tess-sub",
            "tess@example.com",
            &tenant("tenant-a"),
            Some("tenant-a"),
        )
        .await;
    let token = access_token(&callback(&app, &location, Some(&flow.csrf), None).await);
    assert_eq!(me(&app, &token).await["email"], json!("tess@example.com"));
}

/// Discovery takes the issuer the provider names, with or without a trailing slash, and
/// refuses a document that names another issuer.
#[tokio::test]
async fn discovery_checks_the_issuer() {
    let provider = OAuthServer::start();
    let discover = |issuer: String| async move {
        OAuthClient::discover("mock", &issuer, "fastusers-test", "client-secret").await
    };
    discover(format!("{}/", provider.issuer()))
        .await
        .expect("a trailing slash is forgiven");
    // The same provider under another name: its document names 127.0.0.1.
    let error = discover(format!("http://localhost:{}", provider.port))
        .await
        .expect_err("another issuer");
    assert!(
        matches!(error, OAuthClientError::Discovery { .. })
            && format!("{error:?}").contains("Validation"),
        "{error:?}"
    );
}

/// Account pre-hijacking: Mallory registers Victor's address before Victor comes, never
/// verifies it, and links a provider account of his own. With associate_by_email, Victor's
/// provider login is refused: nothing is linked, and Mallory's way in is unchanged.
async fn unverified_accounts_are_not_linked_by_email(db: Db) {
    let provider = OAuthServer::start();
    let app = app(db, &provider, options().associate_by_email(true)).await;
    let planted = app
        .register("victor@example.com", "mallorys-password")
        .await;
    oauth_login(&app, &provider, "victor-sub", Some("victor@example.com"))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "OAUTH_USER_ALREADY_EXISTS"}),
        );
    let mallory = app.token("victor@example.com", "mallorys-password").await;
    assert_eq!(me(&app, &mallory).await["id"], planted["id"]);
    let user = app
        .state
        .manager()
        .get_by_email("victor@example.com")
        .await
        .unwrap()
        .unwrap();
    let accounts = app.state.manager().oauth_accounts(&user).await.unwrap();
    assert_eq!(accounts, [], "nothing was linked");
}

/// With take_over_unverified, Victor's provider login takes the planted account over:
/// Mallory's password, sessions (a JWT, a database token) and provider account no longer let
/// him in; Victor is verified and told of the link, not of a password change.
async fn unverified_accounts_are_taken_over_when_allowed(db: Db) {
    let provider = OAuthServer::start();
    let take_over = options()
        .associate_by_email(true)
        .is_verified_by_default(true)
        .take_over_unverified(true);
    let (app, outbox) = app_with_outbox(db, &provider, take_over).await;
    let planted = app
        .register("victor@example.com", "mallorys-password")
        .await;
    let jwt = app.token("victor@example.com", "mallorys-password").await;
    let session = fastusers_tests::login(
        &app,
        "database",
        fastusers_tests::Carrier::Bearer,
        "victor@example.com",
        "mallorys-password",
    )
    .await;
    let flow = authorize(&app, "/auth/associate/mock/authorize", Some(&jwt)).await;
    let location = provider
        .authorize(&flow.url, "mallory-sub", Some("mallory@evil.example"))
        .await;
    let linked = callback(&app, &location, Some(&flow.csrf), Some(&jwt)).await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text());

    let victor = oauth_login(&app, &provider, "victor-sub", Some("victor@example.com")).await;
    let victor = access_token(&victor);
    let user = me(&app, &victor).await;
    assert_eq!(user["id"], planted["id"], "the same account, now Victor's");
    assert_eq!(user["is_verified"], json!(true));

    app.login_form(
        "jwt",
        &[
            ("username", "victor@example.com"),
            ("password", "mallorys-password"),
        ],
    )
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "LOGIN_BAD_CREDENTIALS"}),
    );
    assert_eq!(app.me_status(&jwt).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_status(&session).await, StatusCode::UNAUTHORIZED);
    let elsewhere = oauth_login(&app, &provider, "mallory-sub", Some("mallory@evil.example")).await;
    let elsewhere = me(&app, &access_token(&elsewhere)).await;
    assert_ne!(
        elsewhere["id"], planted["id"],
        "Mallory's account was unlinked"
    );
    assert_eq!(app.me_status(&victor).await, StatusCode::OK);

    // Mallory was told of his own link (to the planted address); Victor of his.
    let mail = wait_for_outbox(&outbox, 2).await;
    assert_eq!(mail[1].to, "victor@example.com");
    assert_eq!(
        mail[1].subject,
        "A mock account was linked to your Camelot account"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mail = fastusers_tests::outbox_messages(&outbox);
    assert!(
        mail.iter().all(|m| !m.subject.contains("password")),
        "no password notice for a take-over: {mail:#?}"
    );
}

/// Provider tokens: by default not stored at all; with store_provider_tokens, only encrypted
/// (what the table holds is no token the provider accepts; decrypted, it is), and shown
/// decrypted only with expose_provider_tokens.
async fn provider_tokens_are_kept_only_encrypted(db: Db) {
    let provider = OAuthServer::start();
    let app = app(db, &provider, options()).await;
    let token =
        access_token(&oauth_login(&app, &provider, "uma-sub", Some("uma@example.com")).await);
    let user = app
        .state
        .manager()
        .get_by_email("uma@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(me(&app, &token).await["email"], json!("uma@example.com"));
    let accounts = app.state.manager().oauth_accounts(&user).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(
        (
            accounts[0].access_token.as_str(),
            &accounts[0].refresh_token
        ),
        ("", &None),
        "nothing stored"
    );

    let cipher =
        fastusers::oauth::TokenCipher::new("the provider-token secret, 32 bytes+").unwrap();
    let keep = options()
        .store_provider_tokens(cipher.clone())
        .expose_provider_tokens(true);
    let app = app_with(db, discovered(&provider).await, keep).await;
    let token =
        access_token(&oauth_login(&app, &provider, "vera-sub", Some("vera@example.com")).await);
    let user = app
        .state
        .manager()
        .get_by_email("vera@example.com")
        .await
        .unwrap()
        .unwrap();
    let accounts = app.state.manager().oauth_accounts(&user).await.unwrap();
    let stored = &accounts[0].access_token;
    assert!(stored.starts_with("fuenc1."), "{stored}");
    assert_eq!(provider.userinfo_status(stored).await, 401, "not a token");
    let access = cipher.decrypt(stored).expect("the cipher opens it");
    assert_eq!(
        provider.userinfo_status(&access).await,
        200,
        "the provider's token"
    );
    let refresh = accounts[0]
        .refresh_token
        .as_deref()
        .expect("a refresh token");
    assert!(refresh.starts_with("fuenc1."), "{refresh}");
    cipher.decrypt(refresh).expect("the cipher opens it");

    // Linking shows them decrypted, as asked.
    let flow = authorize(&app, "/auth/associate/mock/authorize", Some(&token)).await;
    let location = provider
        .authorize(&flow.url, "vera-github", Some("vera@work.example"))
        .await;
    let linked = callback(&app, &location, Some(&flow.csrf), Some(&token)).await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text());
    let body = linked.json();
    let shown = body["oauth_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == "vera-github")
        .expect("the new account")
        .clone();
    let shown_token = shown["access_token"].as_str().expect("shown");
    assert_eq!(provider.userinfo_status(shown_token).await, 200, "{body}");
}

db_tests!(
    unverified_accounts_are_not_linked_by_email,
    unverified_accounts_are_taken_over_when_allowed,
    provider_tokens_are_kept_only_encrypted,
    refused_callbacks_leave_the_code_unused,
    sign_up_and_return,
    associate_by_email,
    link_and_unlink,
    bad_states_and_cookies,
    provider_errors_no_email_and_inactive_users,
    cookie_login_redirects_to_the_frontend,
    spoiled_id_tokens_are_refused,
);
