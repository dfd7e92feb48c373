//! The browser path: gRPC-Web over HTTP/1.1 on the same port, CORS, and the refresh
//! token as an HttpOnly cookie instead of in the body.

use testkit::{
    Backend, both_backends,
    web::{self, Encoding},
};
use todo_grpc_proto::auth::v1 as pb;

use crate::helpers::spawn_app_with;

const ORIGIN: &str = "http://localhost:5173";

both_backends!(
    cors_grants_only_listed_origins,
    browser_sessions_live_in_an_http_only_cookie
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
    assert_eq!(name, "refresh_token");
    value.to_owned()
}

async fn browser_sessions_live_in_an_http_only_cookie(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.server.cors_allowed_origins = vec![ORIGIN.into()]).await;
    let addr = app.server.addr;
    let credentials = pb::RegisterRequest {
        username: "browser".into(),
        password: "browser password".into(),
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
        let cookie = format!("theme=dark; refresh_token={first}");
        let r = web::call(
            addr,
            "/auth.v1.AuthService/Refresh",
            &pb::RefreshRequest::default(),
            encoding,
            &[("cookie", &cookie)],
        )
        .await;
        assert_eq!(r.grpc_status.as_deref(), Some("0"), "{r:?}");
        let pair: pb::TokenPair = r.decode();
        assert!(!pair.access_token.is_empty() && pair.refresh_token.is_empty());
        let second = cookie_value(&r.set_cookie().expect("rotated cookie"));
        assert_ne!(second, first);

        // Logout with the cookie ends the session and clears the cookie.
        let cookie = format!("refresh_token={second}");
        let r = web::call(
            addr,
            "/auth.v1.AuthService/Logout",
            &pb::LogoutRequest::default(),
            encoding,
            &[("cookie", &cookie)],
        )
        .await;
        assert_eq!(r.grpc_status.as_deref(), Some("0"), "{r:?}");
        let cleared = r.set_cookie().expect("clearing cookie");
        assert!(
            cleared.starts_with("refresh_token=;") && cleared.contains("Max-Age=0"),
            "{cleared}"
        );
        let r = web::call(
            addr,
            "/auth.v1.AuthService/Refresh",
            &pb::RefreshRequest::default(),
            encoding,
            &[("cookie", &cookie)],
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
        &[],
    )
    .await;
    assert_eq!(r.grpc_status.as_deref(), Some("16"), "{r:?}");
    let r = web::call(
        addr,
        "/auth.v1.AuthService/Logout",
        &pb::LogoutRequest::default(),
        Encoding::Binary,
        &[],
    )
    .await;
    assert_eq!(r.grpc_status.as_deref(), Some("0"), "{r:?}");
    // Native gRPC clients never get a cookie.
    let mut client = testkit::auth_client(addr).await;
    let response = client.login(login).await.unwrap();
    assert!(response.metadata().get("set-cookie").is_none());
    assert_eq!(response.into_inner().refresh_token.len(), 43);
}
