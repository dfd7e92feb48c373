//! The browser path: gRPC-Web over HTTP/1.1 on the same port, CORS, and the refresh
//! token as an HttpOnly `__Secure-` cookie instead of in the body, for browsers (calls
//! with an `Origin`) only.

use testkit::{
    Backend, both_backends,
    web::{self, Encoding},
};
use todo_grpc_proto::auth::v1 as pb;

use crate::helpers::spawn_app_with;

const ORIGIN: &str = "http://localhost:5173";
const COOKIE: &str = "__Secure-refresh_token";

both_backends!(
    cors_grants_only_listed_origins,
    browser_sessions_live_in_an_http_only_cookie,
    more_than_one_refresh_cookie_is_refused,
    grpc_web_without_origin_gets_the_token_in_the_body
);

async fn cors_grants_only_listed_origins(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.server.cors_allowed_origins = vec![ORIGIN.into()]).await;
    let addr = app.server.addr;
    let (status, headers) = web::preflight(addr, "/auth.v1.AuthService/Login", ORIGIN).await;
    assert_eq!(status, 200);
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "authorization",
        "content-type",
        "x-grpc-web",
        "x-user-agent",
        "grpc-timeout",
    ] {
        assert!(allowed.contains(h), "{h} not allowed: {allowed}");
    }

    let (_, headers) = web::preflight(addr, "/auth.v1.AuthService/Login", "http://evil.example").await;
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "{headers:?}"
    );

    // The actual call from the allowed origin exposes the gRPC status headers.
    let register = pb::RegisterRequest {
        username: "webuser".into(),
        password: "web password".into(),
        ..Default::default()
    };
    let response = web::call(
        addr,
        "/auth.v1.AuthService/Register",
        &register,
        Encoding::Binary,
        &[("origin", ORIGIN)],
    )
    .await;
    assert_eq!(response.grpc_status.as_deref(), Some("0"), "{response:?}");
    assert_eq!(response.headers["access-control-allow-origin"], ORIGIN);
    let exposed = response.headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    // And the request id, which a page shows for bug reports.
    for h in [
        "grpc-status",
        "grpc-message",
        "grpc-status-details-bin",
        "x-request-id",
    ] {
        assert!(exposed.contains(h), "{h} not exposed: {exposed}");
    }
    // From another origin the call may reach the server, but no grant comes back, so
    // the browser hides the answer from the page.
    let response = web::call(
        addr,
        "/auth.v1.AuthService/Register",
        &register,
        Encoding::Binary,
        &[("origin", "http://evil.example")],
    )
    .await;
    assert!(response.headers.get("access-control-allow-origin").is_none());
}

fn cookie_value(set_cookie: &str) -> String {
    let first = set_cookie.split(';').next().unwrap();
    let (name, value) = first.split_once('=').unwrap();
    assert_eq!(name, COOKIE);
    value.to_owned()
}

async fn browser_sessions_live_in_an_http_only_cookie(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.server.cors_allowed_origins = vec![ORIGIN.into()]).await;
    let addr = app.server.addr;
    let credentials = pb::RegisterRequest {
        username: "browser".into(),
        password: "browser password".into(),
        ..Default::default()
    };
    for encoding in [Encoding::Binary, Encoding::Text] {
        let r = web::call(addr, "/auth.v1.AuthService/Register", &credentials, encoding, &[]).await;
        assert!(matches!(r.grpc_status.as_deref(), Some("0") | Some("6")), "{r:?}");
    }
    let login = pb::LoginRequest {
        username: credentials.username.clone(),
        password: credentials.password.clone(),
    };

    for encoding in [Encoding::Binary, Encoding::Text] {
        let r = web::call(
            addr,
            "/auth.v1.AuthService/Login",
            &login,
            encoding,
            &[("origin", ORIGIN)],
        )
        .await;
        assert_eq!(r.grpc_status.as_deref(), Some("0"), "{r:?}");
        let pair: pb::TokenPair = r.decode();
        assert!(!pair.access_token.is_empty());
        assert_eq!(pair.refresh_token, "", "browsers must not see the refresh token");
        let set_cookie = r.set_cookie().expect("set-cookie");
        for attribute in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/auth.v1.AuthService/",
            "Max-Age=2592000",
        ] {
            assert!(
                set_cookie.contains(attribute),
                "{attribute} missing: {set_cookie}"
            );
        }
        let first = cookie_value(&set_cookie);
        assert_eq!(first.len(), 43);

        // Refresh with the cookie alone rotates it.
        let cookie = format!("theme=dark; {COOKIE}={first}");
        let r = web::call(
            addr,
            "/auth.v1.AuthService/Refresh",
            &pb::RefreshRequest::default(),
            encoding,
            &[("cookie", &cookie), ("origin", ORIGIN)],
        )
        .await;
        assert_eq!(r.grpc_status.as_deref(), Some("0"), "{r:?}");
        let pair: pb::TokenPair = r.decode();
        assert!(!pair.access_token.is_empty() && pair.refresh_token.is_empty());
        let second = cookie_value(&r.set_cookie().expect("rotated cookie"));
        assert_ne!(second, first);

        // Logout with the cookie ends the session and clears the cookie.
        let cookie = format!("{COOKIE}={second}");
        let r = web::call(
            addr,
            "/auth.v1.AuthService/Logout",
            &pb::LogoutRequest::default(),
            encoding,
            &[("cookie", &cookie), ("origin", ORIGIN)],
        )
        .await;
        assert_eq!(r.grpc_status.as_deref(), Some("0"), "{r:?}");
        let cleared = r.set_cookie().expect("clearing cookie");
        assert!(
            cleared.starts_with(&format!("{COOKIE}=;")) && cleared.contains("Max-Age=0"),
            "{cleared}"
        );
        let r = web::call(
            addr,
            "/auth.v1.AuthService/Refresh",
            &pb::RefreshRequest::default(),
            encoding,
            &[("cookie", &cookie), ("origin", ORIGIN)],
        )
        .await;
        assert_eq!(r.grpc_status.as_deref(), Some("16"), "{r:?}");
    }

    // A browser with no cookie has no session: refresh is refused, logout is a no-op.
    let r = web::call(
        addr,
        "/auth.v1.AuthService/Refresh",
        &pb::RefreshRequest::default(),
        Encoding::Binary,
        &[("origin", ORIGIN)],
    )
    .await;
    assert_eq!(r.grpc_status.as_deref(), Some("16"), "{r:?}");
    let r = web::call(
        addr,
        "/auth.v1.AuthService/Logout",
        &pb::LogoutRequest::default(),
        Encoding::Binary,
        &[("origin", ORIGIN)],
    )
    .await;
    assert_eq!(r.grpc_status.as_deref(), Some("0"), "{r:?}");
    // Native gRPC clients never get a cookie.
    let mut client = testkit::auth_client(addr).await;
    let response = client.login(login).await.unwrap();
    assert!(response.metadata().get("set-cookie").is_none());
    assert_eq!(response.into_inner().refresh_token.len(), 43);
}

/// Registers `name` and logs in as a browser: the refresh token from the cookie.
async fn browser_login(addr: std::net::SocketAddr, name: &str) -> String {
    let password = "browser password";
    let r = web::call(
        addr,
        "/auth.v1.AuthService/Register",
        &pb::RegisterRequest {
            username: name.into(),
            password: password.into(),
            ..Default::default()
        },
        Encoding::Binary,
        &[],
    )
    .await;
    assert_eq!(r.grpc_status.as_deref(), Some("0"), "{r:?}");
    let login = pb::LoginRequest {
        username: name.into(),
        password: password.into(),
    };
    let r = web::call(
        addr,
        "/auth.v1.AuthService/Login",
        &login,
        Encoding::Binary,
        &[("origin", ORIGIN)],
    )
    .await;
    assert_eq!(r.grpc_status.as_deref(), Some("0"), "{r:?}");
    cookie_value(&r.set_cookie().expect("set-cookie"))
}

/// Two refresh cookies (one planted, say, by a sibling subdomain for the parent domain)
/// are refused whatever their order, in one header or two, and the session they hide
/// is not touched.
async fn more_than_one_refresh_cookie_is_refused(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.server.cors_allowed_origins = vec![ORIGIN.into()]).await;
    let addr = app.server.addr;
    let mine = browser_login(addr, "cookie_owner").await;
    let planted = browser_login(addr, "cookie_planter").await;
    let refresh = |headers: Vec<(&'static str, String)>| async move {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        web::call(
            addr,
            "/auth.v1.AuthService/Refresh",
            &pb::RefreshRequest::default(),
            Encoding::Binary,
            &headers,
        )
        .await
    };
    for headers in [
        vec![("cookie", format!("{COOKIE}={planted}; {COOKIE}={mine}"))],
        vec![(
            "cookie",
            format!("{COOKIE}={mine}; theme=dark; {COOKIE}={planted}"),
        )],
        vec![
            ("cookie", format!("{COOKIE}={planted}")),
            ("cookie", format!("{COOKIE}={mine}")),
        ],
    ] {
        let mut headers = headers;
        headers.push(("origin", ORIGIN.to_owned()));
        let r = refresh(headers).await;
        assert_eq!(r.grpc_status.as_deref(), Some("3"), "{r:?}");
        assert!(
            r.grpc_message
                .as_deref()
                .unwrap_or("")
                .contains("more%20than%20one")
                || r.grpc_message.as_deref().unwrap_or("").contains("more than one"),
            "{r:?}"
        );
        assert!(r.set_cookie().is_none());
    }
    // Neither session was rotated or ended: each cookie alone still refreshes.
    for token in [&mine, &planted] {
        let r = refresh(vec![
            ("cookie", format!("{COOKIE}={token}")),
            ("origin", ORIGIN.to_owned()),
        ])
        .await;
        assert_eq!(r.grpc_status.as_deref(), Some("0"), "{r:?}");
    }
}

/// gRPC-Web without an `Origin` (a proxy, a script: no cookie jar) is treated as gRPC:
/// the refresh token comes and goes in the body, and cookies are neither set nor read.
async fn grpc_web_without_origin_gets_the_token_in_the_body(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let addr = app.server.addr;
    let credentials = pb::RegisterRequest {
        username: "scripted".into(),
        password: "scripted password".into(),
        ..Default::default()
    };
    let r = web::call(
        addr,
        "/auth.v1.AuthService/Register",
        &credentials,
        Encoding::Binary,
        &[],
    )
    .await;
    assert_eq!(r.grpc_status.as_deref(), Some("0"), "{r:?}");
    let login = pb::LoginRequest {
        username: credentials.username,
        password: credentials.password,
    };
    let r = web::call(addr, "/auth.v1.AuthService/Login", &login, Encoding::Text, &[]).await;
    assert_eq!(r.grpc_status.as_deref(), Some("0"), "{r:?}");
    assert!(r.set_cookie().is_none(), "{r:?}");
    let pair: pb::TokenPair = r.decode();
    assert_eq!(pair.refresh_token.len(), 43);

    // A cookie is not read without an Origin: the body must carry the token.
    let cookie = format!("{COOKIE}={}", pair.refresh_token);
    let r = web::call(
        addr,
        "/auth.v1.AuthService/Refresh",
        &pb::RefreshRequest::default(),
        Encoding::Binary,
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(r.grpc_status.as_deref(), Some("3"), "{r:?}");
    let r = web::call(
        addr,
        "/auth.v1.AuthService/Refresh",
        &pb::RefreshRequest {
            refresh_token: pair.refresh_token.clone(),
        },
        Encoding::Binary,
        &[],
    )
    .await;
    assert_eq!(r.grpc_status.as_deref(), Some("0"), "{r:?}");
    assert!(r.set_cookie().is_none(), "{r:?}");
    let rotated: pb::TokenPair = r.decode();
    assert_eq!(rotated.refresh_token.len(), 43);
    assert_ne!(rotated.refresh_token, pair.refresh_token);
}
