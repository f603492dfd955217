//! The cookie backends' CSRF check beyond `Origin` and `Referer` (`Sec-Fetch-Site`, the
//! scheme), and the `__Host-` cookie prefix.

use axum::http::{Method, StatusCode};
use fastusers_tests::{Db, Options, TestApp, db_tests};
use serde_json::json;

/// Registers a user and logs them in with the cookie backend from the API's own origin; the
/// `name=value` of the cookie.
async fn login_cookie(app: &TestApp) -> String {
    app.register("bors@camelot.bt", "grail-seeker").await;
    let response = app
        .request(Method::POST, "/auth/cookie/login")
        .header("host", "api.camelot.bt")
        .header("origin", "https://api.camelot.bt")
        .form(&[
            ("username", "bors@camelot.bt"),
            ("password", "grail-seeker"),
        ])
        .send()
        .await;
    assert_eq!(
        response.status,
        StatusCode::NO_CONTENT,
        "{}",
        response.text()
    );
    response
        .header("set-cookie")
        .expect("a cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// `PATCH /users/me` with the cookie, from `host`, with these extra headers.
async fn patch(app: &TestApp, cookie: &str, host: &str, headers: &[(&str, &str)]) -> StatusCode {
    let mut request = app
        .request(Method::PATCH, "/users/me")
        .header("host", host)
        .header("cookie", cookie);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.json(&json!({"first_name": "Bors"})).send().await;
    if response.status == StatusCode::FORBIDDEN {
        assert_eq!(response.json(), json!({"detail": "CSRF_CHECK_FAILED"}));
    }
    response.status
}

/// Without `Origin` and `Referer`, a browser's `Sec-Fetch-Site` decides: `same-origin` and
/// `none` pass, `same-site` and `cross-site` are refused, on the login as on any unsafe
/// request; a client that sends none of the three is not a browser page and passes.
async fn sec_fetch_site_judges_requests_without_origin(db: Db) {
    let app = TestApp::new(db).await;
    let cookie = login_cookie(&app).await;
    let host = "api.camelot.bt";
    for (site, expected) in [
        ("cross-site", StatusCode::FORBIDDEN),
        ("same-site", StatusCode::FORBIDDEN),
        ("same-origin", StatusCode::OK),
        ("none", StatusCode::OK),
    ] {
        let status = patch(&app, &cookie, host, &[("sec-fetch-site", site)]).await;
        assert_eq!(status, expected, "Sec-Fetch-Site: {site}");
    }
    assert_eq!(patch(&app, &cookie, host, &[]).await, StatusCode::OK);
    // An Origin, when there is one, decides: Sec-Fetch-Site does not override it.
    let trusted = [
        ("origin", "https://api.camelot.bt"),
        ("sec-fetch-site", "same-origin"),
    ];
    assert_eq!(patch(&app, &cookie, host, &trusted).await, StatusCode::OK);
    let login = app
        .request(Method::POST, "/auth/cookie/login")
        .header("host", host)
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("username", "bors@camelot.bt"),
            ("password", "grail-seeker"),
        ])
        .send()
        .await;
    login.assert(
        StatusCode::FORBIDDEN,
        json!({"detail": "CSRF_CHECK_FAILED"}),
    );
}

/// The scheme of the origin counts: with a `Secure` cookie (the site is HTTPS) an `http://`
/// page of the same host is refused, except on localhost, where browsers send `Secure`
/// cookies over plain HTTP; a trusted proxy's `X-Forwarded-Proto` has the last word.
async fn the_scheme_of_the_origin_is_compared(db: Db) {
    let app = TestApp::new(db).await;
    let cookie = login_cookie(&app).await;
    let host = "api.camelot.bt";
    let origin = |o| [("origin", o)];
    assert_eq!(
        patch(&app, &cookie, host, &origin("https://api.camelot.bt")).await,
        StatusCode::OK
    );
    assert_eq!(
        patch(&app, &cookie, host, &origin("http://api.camelot.bt")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        patch(
            &app,
            &cookie,
            host,
            &[("referer", "http://api.camelot.bt/profile")]
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        patch(&app, &cookie, host, &origin("ftp://api.camelot.bt")).await,
        StatusCode::FORBIDDEN
    );
    // A client's own `X-Forwarded-Proto` is not believed: only a trusted proxy's.
    let http_proxy = [
        ("origin", "http://api.camelot.bt"),
        ("x-forwarded-proto", "http"),
    ];
    assert_eq!(
        patch(&app, &cookie, host, &http_proxy).await,
        StatusCode::FORBIDDEN
    );
    let proxied = TestApp::with(
        db,
        Options {
            behind_proxy: true,
            ..Default::default()
        },
    )
    .await;
    let proxied_cookie = login_cookie(&proxied).await;
    let https_proxy = [
        ("origin", "http://api.camelot.bt"),
        ("x-forwarded-proto", "https"),
    ];
    assert_eq!(
        patch(&proxied, &proxied_cookie, host, &https_proxy).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        patch(&proxied, &proxied_cookie, host, &http_proxy).await,
        StatusCode::OK
    );
    for (local, own) in [
        ("localhost:8000", "http://localhost:8000"),
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("[::1]:8000", "http://[::1]:8000"),
    ] {
        assert_eq!(
            patch(&app, &cookie, local, &origin(own)).await,
            StatusCode::OK,
            "{own}"
        );
    }
}

/// With `host_prefix`, the cookie is `__Host-` prefixed, `Secure`, `Path=/`, without
/// `Domain`, and read under that name only.
async fn host_prefixed_cookies(db: Db) {
    let app = TestApp::with(
        db,
        Options {
            host_prefix: true,
            ..Options::default()
        },
    )
    .await;
    app.register("bors@camelot.bt", "grail-seeker").await;
    let response = app
        .login_form(
            "cookie",
            &[
                ("username", "bors@camelot.bt"),
                ("password", "grail-seeker"),
            ],
        )
        .await;
    assert_eq!(
        response.status,
        StatusCode::NO_CONTENT,
        "{}",
        response.text()
    );
    let set_cookie = response.header("set-cookie").unwrap();
    let (pair, attributes) = set_cookie.split_once("; ").unwrap();
    assert!(pair.starts_with("__Host-fastapiusersauth="), "{set_cookie}");
    assert_eq!(
        attributes,
        "HttpOnly; Max-Age=3600; Path=/; SameSite=lax; Secure"
    );
    let token = pair.split_once('=').unwrap().1;
    let me = |cookie: String| {
        app.request(Method::GET, "/users/me")
            .header("cookie", &cookie)
            .send()
    };
    assert_eq!(me(pair.to_owned()).await.status, StatusCode::OK);
    assert_eq!(
        me(format!("fastapiusersauth={token}")).await.status,
        StatusCode::UNAUTHORIZED,
        "the unprefixed name is another cookie"
    );
    let logout = app
        .request(Method::POST, "/auth/cookie/logout")
        .header("cookie", pair)
        .send()
        .await;
    assert_eq!(
        logout.header("set-cookie"),
        Some("__Host-fastapiusersauth=\"\"; HttpOnly; Max-Age=0; Path=/; SameSite=lax; Secure")
    );
}

db_tests!(
    sec_fetch_site_judges_requests_without_origin,
    the_scheme_of_the_origin_is_compared,
    host_prefixed_cookies,
);
