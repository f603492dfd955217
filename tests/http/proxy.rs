//! `FastUsers::behind_proxy`: off, `X-Forwarded-For`, `-Proto` and `-Host` change nothing (the
//! OAuth redirect URI, the throttle's address, the CSRF check's host); on, they are the
//! client's address, scheme and host.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use fastusers::keys::Secret;
use fastusers::oauth::{OAuthClient, OAuthOptions};
use fastusers::throttle::LoginThrottle;
use fastusers_tests::oauth::OAuthServer;
use fastusers_tests::{Db, Options, Response, TestApp};
use serde_json::json;

/// The headers a request through the proxy carries, and the application's own `Host`.
const FORWARDED: [(&str, &str); 4] = [
    ("host", "10.0.0.5:8000"),
    ("x-forwarded-host", "api.camelot.bt"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-for", "203.0.113.7"),
];

async fn app(behind_proxy: bool, options: Options) -> TestApp {
    TestApp::with(
        Db::Sqlite,
        Options {
            behind_proxy,
            ..options
        },
    )
    .await
}

async fn oauth_app(behind_proxy: bool, provider: &OAuthServer, options: OAuthOptions) -> TestApp {
    let client = OAuthClient::discover(
        "mock",
        &provider.issuer(),
        "fastusers-test",
        "client-secret",
    )
    .await
    .expect("discover the provider");
    app(
        behind_proxy,
        Options {
            oauth: Some((client, options)),
            ..Options::default()
        },
    )
    .await
}

/// `GET path` with the forwarded headers (and a bearer token).
async fn get_forwarded(app: &TestApp, path: &str, bearer: Option<&str>) -> Response {
    let mut request = app.request(Method::GET, path);
    for (name, value) in FORWARDED {
        request = request.header(name, value);
    }
    if let Some(token) = bearer {
        request = request.bearer(token);
    }
    request.send().await
}

/// The `redirect_uri` of an authorize route's `authorization_url`.
fn redirect_uri(response: &Response) -> String {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let url = response.json()["authorization_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let query = url.split_once('?').expect("a query").1;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    pairs
        .into_iter()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no redirect_uri in {url}"))
}

/// Not behind a proxy, the redirect URI names the request's own host, never the forwarded
/// one; behind one, the forwarded scheme and host; a configured URL wins either way. The
/// login and the associate routers alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oauth_redirect_uri_trusts_forwarded_headers_only_behind_a_proxy() {
    let provider = OAuthServer::start();
    for (behind_proxy, expected) in [
        (false, "http://10.0.0.5:8000"),
        (true, "https://api.camelot.bt"),
    ] {
        let app = oauth_app(
            behind_proxy,
            &provider,
            OAuthOptions::new(&Secret::random()),
        )
        .await;
        let uri = redirect_uri(&get_forwarded(&app, "/auth/mock/authorize", None).await);
        assert_eq!(uri, format!("{expected}/auth/mock/callback"));
        app.register("kay@camelot.bt", "sir-kay-the-seneschal")
            .await;
        let token = app.token("kay@camelot.bt", "sir-kay-the-seneschal").await;
        let uri = redirect_uri(
            &get_forwarded(&app, "/auth/associate/mock/authorize", Some(&token)).await,
        );
        assert_eq!(uri, format!("{expected}/auth/associate/mock/callback"));

        let configured =
            OAuthOptions::new(&Secret::random()).redirect_url("https://app.camelot.bt/cb");
        let app = oauth_app(behind_proxy, &provider, configured).await;
        let uri = redirect_uri(&get_forwarded(&app, "/auth/mock/authorize", None).await);
        assert_eq!(uri, "https://app.camelot.bt/cb");
    }
    // A spoofed X-Forwarded-Host and -Proto with no proxy in front: the real host.
    let app = oauth_app(false, &provider, OAuthOptions::new(&Secret::random())).await;
    let response = app
        .request(Method::GET, "/auth/mock/authorize")
        .header("host", "api.camelot.bt")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    assert_eq!(
        redirect_uri(&response),
        "http://api.camelot.bt/auth/mock/callback"
    );
}

/// Behind a proxy, a whole login through the provider: the code is exchanged with the same
/// forwarded redirect URI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_login_behind_a_proxy_exchanges_the_forwarded_redirect_uri() {
    let provider = OAuthServer::start();
    let app = oauth_app(true, &provider, OAuthOptions::new(&Secret::random())).await;
    let response = get_forwarded(&app, "/auth/mock/authorize", None).await;
    let csrf = response
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("fastapiusersoauthcsrf="))
        .and_then(|v| v.split(';').next())
        .expect("the CSRF cookie")
        .to_owned();
    let url = response.json()["authorization_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let location = provider
        .authorize(&url, "lamorak-sub", Some("lamorak@camelot.bt"))
        .await;
    let path = location
        .strip_prefix("https://api.camelot.bt")
        .unwrap_or_else(|| panic!("the provider redirects to the forwarded host: {location}"));
    let mut request = app
        .request(Method::GET, path)
        .header("cookie", &format!("fastapiusersoauthcsrf={csrf}"));
    for (name, value) in FORWARDED {
        request = request.header(name, value);
    }
    let response = request.send().await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let exchanges = provider.token_requests().await;
    assert_eq!(
        exchanges[0]["redirect_uri"],
        json!("https://api.camelot.bt/auth/mock/callback")
    );
}

/// A wrong-password login from peer `10.0.0.1` carrying `X-Forwarded-For: forwarded`.
async fn failed_login_via(app: &TestApp, forwarded: &str) -> StatusCode {
    app.request(Method::POST, "/auth/jwt/login")
        .peer("10.0.0.1:5000".parse().unwrap())
        .header("x-forwarded-for", forwarded)
        .form(&[("username", "nobody@camelot.bt"), ("password", "guess")])
        .send()
        .await
        .status
}

/// Not behind a proxy, the throttle counts the peer address whatever X-Forwarded-For says;
/// behind one, the last X-Forwarded-For entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_throttle_trusts_x_forwarded_for_only_behind_a_proxy() {
    let throttle = || Options {
        throttle: Some(
            LoginThrottle::new()
                .no_account_limit()
                .per_address(2, Duration::from_secs(60)),
        ),
        ..Options::default()
    };
    let direct = app(false, throttle()).await;
    assert_eq!(
        failed_login_via(&direct, "1.1.1.1").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        failed_login_via(&direct, "2.2.2.2").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        failed_login_via(&direct, "3.3.3.3").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the peer 10.0.0.1 has failed twice"
    );

    let proxied = app(true, throttle()).await;
    assert_eq!(
        failed_login_via(&proxied, "1.1.1.1").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        failed_login_via(&proxied, "6.6.6.6, 1.1.1.1").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        failed_login_via(&proxied, "1.1.1.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        failed_login_via(&proxied, "1.1.1.1, 2.2.2.2").await,
        StatusCode::BAD_REQUEST,
        "another client behind the same proxy"
    );
}

/// The cookie transport's CSRF check takes the API's own host from X-Forwarded-Host only
/// behind a proxy: a same-origin browser request through a proxy that rewrites `Host` passes
/// then, and is refused without the setting (the login, and an extractor's route).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csrf_check_trusts_x_forwarded_host_only_behind_a_proxy() {
    for (behind_proxy, expected) in [(false, StatusCode::FORBIDDEN), (true, StatusCode::OK)] {
        let app = app(behind_proxy, Options::default()).await;
        app.register("bedivere@camelot.bt", "one-handed-knight")
            .await;
        let mut login = app.request(Method::POST, "/auth/cookie/login");
        for (name, value) in FORWARDED {
            login = login.header(name, value);
        }
        let response = login
            .header("origin", "https://api.camelot.bt")
            .form(&[
                ("username", "bedivere@camelot.bt"),
                ("password", "one-handed-knight"),
            ])
            .send()
            .await;
        let login_expected = if behind_proxy {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(response.status, login_expected, "{}", response.text());

        // The cookie, got without an Origin, on a route behind an extractor.
        let response = app
            .request(Method::POST, "/auth/cookie/login")
            .form(&[
                ("username", "bedivere@camelot.bt"),
                ("password", "one-handed-knight"),
            ])
            .send()
            .await;
        let cookie = response
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let patch = |origin: &'static str| {
            let mut request = app.request(Method::PATCH, "/users/me");
            for (name, value) in FORWARDED {
                request = request.header(name, value);
            }
            request
                .header("cookie", &cookie)
                .header("origin", origin)
                .json(&json!({"first_name": "Bedivere"}))
                .send()
        };
        assert_eq!(patch("https://api.camelot.bt").await.status, expected);
        // Behind the proxy, the proxy's view of the host is not the API's origin.
        let internal = patch("https://10.0.0.5:8000").await.status;
        assert_eq!(
            internal == StatusCode::OK,
            !behind_proxy,
            "origin of the internal host: {internal}"
        );
        assert_eq!(
            patch("https://evil.example").await.status,
            StatusCode::FORBIDDEN
        );
    }
}
