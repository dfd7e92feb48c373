//! Issue 15: email verification and password reset, delivered by a real mail path: a
//! real SMTP server (aiosmtpd, started by the test) or the file transport, links read
//! from the received messages, each flow completed through the API.

use std::time::{Duration, Instant};

use common::time::Clock;
use testkit::{
    Backend, ProxyState, TcpProxy, TestDb, bearer, both_backends,
    mail::{MailFolder, SmtpServer, header, link_token, smtp_url},
    register_and_login,
};
use todo_grpc_proto::auth::v1::{self as pb, auth_service_client::AuthServiceClient, security_event::Kind};
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;

use crate::helpers::{TestApp, assert_status, spawn_app, spawn_app_on, spawn_app_with};

both_backends!(
    verification_flow_through_smtp,
    change_email_rechecks_the_password_and_sends_a_new_link,
    reset_ends_sessions_and_lifts_a_lockout,
    mail_tokens_are_single_use_superseded_and_expire,
    mail_is_throttled_per_account_and_per_address,
    password_reset_timing_does_not_tell_known_from_unknown,
);

/// How long a mail may take to arrive (the sender is woken at commit).
const ARRIVAL: Duration = Duration::from_secs(10);
const PASSWORD: &str = "mail test password";

/// An auth-service that sends mail through `smtp` (a URL), with `tweak` on top.
async fn mail_app(backend: Backend, smtp: String, tweak: impl FnOnce(&mut auth_service::Config)) -> TestApp {
    mail_app_on(&Clock::system(), backend, smtp, tweak).await
}

/// [`mail_app`] on `clock`.
async fn mail_app_on(
    clock: &Clock,
    backend: Backend,
    smtp: String,
    tweak: impl FnOnce(&mut auth_service::Config),
) -> TestApp {
    spawn_app_on(clock, backend, |c| {
        c.mail.smtp_url = Some(smtp);
        c.mail.verify_email_url = Some("http://app.test/verify?token={token}".into());
        c.mail.reset_password_url = Some("http://app.test/reset?token={token}".into());
        tweak(c);
    })
    .await
}

async fn register_with_email(
    client: &mut AuthServiceClient<Channel>,
    name: &str,
    email: &str,
) -> pb::TokenPair {
    client
        .register(pb::RegisterRequest {
            username: name.into(),
            password: PASSWORD.into(),
            email: email.into(),
        })
        .await
        .expect("register with an email");
    client
        .login(pb::LoginRequest {
            username: name.into(),
            password: PASSWORD.into(),
        })
        .await
        .expect("login")
        .into_inner()
}

async fn me(client: &mut AuthServiceClient<Channel>, token: &str) -> pb::User {
    client
        .get_me(bearer(pb::GetMeRequest {}, token))
        .await
        .expect("GetMe")
        .into_inner()
}

async fn kinds(client: &mut AuthServiceClient<Channel>, token: &str) -> Vec<Kind> {
    client
        .list_security_events(bearer(pb::ListSecurityEventsRequest::default(), token))
        .await
        .expect("events")
        .into_inner()
        .events
        .iter()
        .map(|e| e.kind())
        .collect()
}

fn verify(token: &str) -> pb::VerifyEmailRequest {
    pb::VerifyEmailRequest { token: token.into() }
}

fn reset(token: &str, password: &str) -> pb::ResetPasswordRequest {
    pb::ResetPasswordRequest {
        token: token.into(),
        new_password: password.into(),
    }
}

fn reset_request(email: &str) -> pb::RequestPasswordResetRequest {
    pb::RequestPasswordResetRequest { email: email.into() }
}

/// The messages to `to`, from everything `folder` holds.
fn to(messages: &[String], to: &str) -> Vec<String> {
    messages
        .iter()
        .filter(|m| {
            header(m, "To").is_some_and(|h| h.eq_ignore_ascii_case(to) || h.contains(&format!("<{to}>")))
        })
        .cloned()
        .collect()
}

async fn verification_flow_through_smtp(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let mut app = mail_app(backend, smtp.url(), |_| {}).await;
    let pair = register_with_email(&mut app.client, "verity", "Verity@Example.com").await;
    let user = me(&mut app.client, &pair.access_token).await;
    assert_eq!(user.email, "Verity@Example.com");
    assert!(!user.email_verified);

    let messages = smtp.folder().wait_for(1, ARRIVAL).await;
    let message = &messages[0];
    assert!(
        header(message, "To").unwrap().contains("Verity@Example.com"),
        "{message}"
    );
    assert!(
        header(message, "Subject").unwrap().contains("Verify"),
        "{message}"
    );
    assert!(
        header(message, "Message-ID").unwrap().ends_with("@todo-grpc>"),
        "{message}"
    );
    assert!(message.contains("http://app.test/verify?token="), "{message}");
    let token = link_token(message);
    assert_eq!(token.len(), 43, "256 bits in base64url: {token}");

    app.client
        .verify_email(verify(&token))
        .await
        .expect("VerifyEmail");
    let user = me(&mut app.client, &pair.access_token).await;
    assert!(user.email_verified);
    assert!(
        kinds(&mut app.client, &pair.access_token)
            .await
            .contains(&Kind::EmailVerified)
    );
    // Single use.
    assert_status(
        app.client.verify_email(verify(&token)).await,
        Code::InvalidArgument,
        "token",
    );
    // Nothing left to verify.
    assert_status(
        app.client
            .send_verification_email(bearer(pb::SendVerificationEmailRequest {}, &pair.access_token))
            .await,
        Code::FailedPrecondition,
        "already verified",
    );
    // An address is unique without regard to case.
    let taken = app
        .client
        .register(pb::RegisterRequest {
            username: "copycat".into(),
            password: PASSWORD.into(),
            email: "verity@EXAMPLE.com".into(),
        })
        .await;
    assert_status(taken, Code::AlreadyExists, "email");
    // Shape only, but shape is checked.
    for bad in [
        "no-at-sign",
        "two@@ats.example",
        &format!("{}@x.example", "a".repeat(250)),
    ] {
        let r = app
            .client
            .register(pb::RegisterRequest {
                username: "shapely".into(),
                password: PASSWORD.into(),
                email: bad.into(),
            })
            .await;
        assert_status(r, Code::InvalidArgument, "email");
    }
    // An account without an address has nothing to send to.
    let plain = register_and_login(&mut app.client, "plain", PASSWORD).await;
    assert_status(
        app.client
            .send_verification_email(bearer(pb::SendVerificationEmailRequest {}, &plain.access_token))
            .await,
        Code::FailedPrecondition,
        "no email address",
    );
}

async fn change_email_rechecks_the_password_and_sends_a_new_link(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let mut app = mail_app(backend, smtp.url(), |_| {}).await;
    let pair = register_with_email(&mut app.client, "mover", "old@example.com").await;
    register_with_email(&mut app.client, "other", "other@example.com").await;
    smtp.folder().wait_for(2, ARRIVAL).await;
    let change = |password: &str, email: &str| {
        bearer(
            pb::ChangeEmailRequest {
                password: password.into(),
                new_email: email.into(),
            },
            &pair.access_token,
        )
    };
    assert_status(
        app.client
            .change_email(change("wrong password", "new@example.com"))
            .await,
        Code::InvalidArgument,
        "password",
    );
    assert_status(
        app.client
            .change_email(change(PASSWORD, "OTHER@example.com"))
            .await,
        Code::AlreadyExists,
        "email",
    );
    app.client
        .change_email(change(PASSWORD, "new@example.com"))
        .await
        .expect("ChangeEmail");
    let user = me(&mut app.client, &pair.access_token).await;
    assert_eq!(user.email, "new@example.com");
    assert!(!user.email_verified);
    let messages = smtp.folder().wait_for(3, ARRIVAL).await;
    let new = to(&messages, "new@example.com");
    assert_eq!(new.len(), 1, "{messages:?}");
    // The link mailed to the old address no longer verifies anything.
    let old_token = link_token(&to(&messages, "old@example.com")[0]);
    assert_status(
        app.client.verify_email(verify(&old_token)).await,
        Code::InvalidArgument,
        "token",
    );
    app.client
        .verify_email(verify(&link_token(&new[0])))
        .await
        .expect("verify the new address");
    assert!(me(&mut app.client, &pair.access_token).await.email_verified);
    let events = kinds(&mut app.client, &pair.access_token).await;
    assert!(
        events.contains(&Kind::EmailChanged) && events.contains(&Kind::EmailVerified),
        "{events:?}"
    );
}

async fn reset_ends_sessions_and_lifts_a_lockout(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let mut app = mail_app(backend, smtp.url(), |_| {}).await;
    let pair = register_with_email(&mut app.client, "forgetful", "forgetful@example.com").await;
    smtp.folder().wait_for(1, ARRIVAL).await;
    // Someone locks the name out by guessing.
    let login = |password: &str| pb::LoginRequest {
        username: "forgetful".into(),
        password: password.into(),
    };
    for _ in 0..5 {
        assert_status(
            app.client.login(login("a wrong guess")).await,
            Code::Unauthenticated,
            "",
        );
    }
    assert_status(
        app.client.login(login(PASSWORD)).await,
        Code::ResourceExhausted,
        "",
    );

    app.client
        .request_password_reset(reset_request("FORGETFUL@example.com"))
        .await
        .expect("RequestPasswordReset");
    let messages = smtp.folder().wait_for(2, ARRIVAL).await;
    let message = &messages[1];
    assert!(header(message, "Subject").unwrap().contains("Reset"), "{message}");
    assert!(message.contains("http://app.test/reset?token="), "{message}");
    let token = link_token(message);
    // Password rules as at registration.
    assert_status(
        app.client.reset_password(reset(&token, "password")).await,
        Code::InvalidArgument,
        "new_password",
    );
    app.client
        .reset_password(reset(&token, "a brand new password"))
        .await
        .expect("ResetPassword");
    // Every session and access token ended; the lock-out lifted; the address verified.
    assert_status(
        app.client
            .get_me(bearer(pb::GetMeRequest {}, &pair.access_token))
            .await,
        Code::Unauthenticated,
        "",
    );
    assert_status(
        app.client
            .refresh(pb::RefreshRequest {
                refresh_token: pair.refresh_token.clone(),
            })
            .await,
        Code::Unauthenticated,
        "",
    );
    assert_status(app.client.login(login(PASSWORD)).await, Code::Unauthenticated, "");
    let fresh = app
        .client
        .login(login("a brand new password"))
        .await
        .expect("login with the new password despite the earlier lock-out")
        .into_inner();
    assert!(me(&mut app.client, &fresh.access_token).await.email_verified);
    let events = kinds(&mut app.client, &fresh.access_token).await;
    for kind in [Kind::PasswordResetRequested, Kind::PasswordReset] {
        assert!(events.contains(&kind), "{kind:?} missing: {events:?}");
    }
    // Single use.
    assert_status(
        app.client
            .reset_password(reset(&token, "another new password"))
            .await,
        Code::InvalidArgument,
        "token",
    );
}

async fn mail_tokens_are_single_use_superseded_and_expire(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let mut app = mail_app(backend, smtp.url(), |_| {}).await;
    let pair = register_with_email(&mut app.client, "tokens", "tokens@example.com").await;
    smtp.folder().wait_for(1, ARRIVAL).await;

    // A new verification link supersedes the old one.
    app.client
        .send_verification_email(bearer(pb::SendVerificationEmailRequest {}, &pair.access_token))
        .await
        .expect("resend");
    let messages = smtp.folder().wait_for(2, ARRIVAL).await;
    let (first, second) = (link_token(&messages[0]), link_token(&messages[1]));
    assert_ne!(first, second);
    assert_status(
        app.client.verify_email(verify(&first)).await,
        Code::InvalidArgument,
        "token",
    );
    app.client
        .verify_email(verify(&second))
        .await
        .expect("the newest link works");

    // A new reset link supersedes the old one; a password change kills the newest.
    for _ in 0..2 {
        app.client
            .request_password_reset(reset_request("tokens@example.com"))
            .await
            .unwrap();
    }
    let messages = smtp.folder().wait_for(4, ARRIVAL).await;
    let (first, second) = (link_token(&messages[2]), link_token(&messages[3]));
    assert_status(
        app.client
            .reset_password(reset(&first, "superseded password"))
            .await,
        Code::InvalidArgument,
        "token",
    );
    app.client
        .change_password(bearer(
            pb::ChangePasswordRequest {
                current_password: PASSWORD.into(),
                new_password: "changed another way".into(),
            },
            &pair.access_token,
        ))
        .await
        .expect("ChangePassword");
    assert_status(
        app.client
            .reset_password(reset(&second, "too late password"))
            .await,
        Code::InvalidArgument,
        "token",
    );
    // Garbage is the same answer.
    assert_status(
        app.client.verify_email(verify("not-a-token")).await,
        Code::InvalidArgument,
        "token",
    );

    // Expiry: a link works for its lifetime, not past it.
    let clock = Clock::manual();
    let smtp = SmtpServer::start().await;
    let mut app = mail_app_on(&clock, backend, smtp.url(), |c| {
        c.mail.email_verification_ttl = Duration::from_secs(3600);
        c.mail.password_reset_ttl = Duration::from_secs(3600);
    })
    .await;
    register_with_email(&mut app.client, "expiring", "expiring@example.com").await;
    app.client
        .request_password_reset(reset_request("expiring@example.com"))
        .await
        .unwrap();
    let messages = smtp.folder().wait_for(2, ARRIVAL).await;
    clock.advance(Duration::from_secs(3601));
    assert_status(
        app.client.verify_email(verify(&link_token(&messages[0]))).await,
        Code::InvalidArgument,
        "token",
    );
    assert_status(
        app.client
            .reset_password(reset(&link_token(&messages[1]), "expired new password"))
            .await,
        Code::InvalidArgument,
        "token",
    );
}

#[track_caller]
fn assert_mail_throttled<T: std::fmt::Debug>(result: Result<T, tonic::Status>) {
    let status = assert_status(result, Code::ResourceExhausted, "");
    let delay = status
        .get_error_details()
        .retry_info()
        .and_then(|r| r.retry_delay);
    assert!(
        delay.is_some_and(|d| d > Duration::ZERO),
        "no RetryInfo: {status:?}"
    );
}

async fn mail_is_throttled_per_account_and_per_address(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let mut app = mail_app(backend, smtp.url(), |c| {
        c.mail.email_max_per_hour = 2;
        c.mail.email_max_per_hour_per_address = 5;
    })
    .await;
    // The registration's mail is bounded by the registration limit, not this one.
    let pair = register_with_email(&mut app.client, "spammed", "spammed@example.com").await;
    let resend = |token: &str| bearer(pb::SendVerificationEmailRequest {}, token);
    app.client
        .send_verification_email(resend(&pair.access_token))
        .await
        .unwrap();
    app.client
        .send_verification_email(resend(&pair.access_token))
        .await
        .unwrap();
    assert_mail_throttled(
        app.client
            .send_verification_email(resend(&pair.access_token))
            .await,
    );
    // Over the account's limit a reset request still answers OK, and sends nothing.
    app.client
        .request_password_reset(reset_request("spammed@example.com"))
        .await
        .expect("OK even when throttled");
    smtp.folder().wait_for(3, ARRIVAL).await;

    // Per address: 5 mails an hour from 127.0.0.1, whatever the accounts (4 so far).
    let other = register_with_email(&mut app.client, "second", "second@example.com").await;
    app.client
        .send_verification_email(resend(&other.access_token))
        .await
        .unwrap();
    assert_mail_throttled(
        app.client
            .send_verification_email(resend(&other.access_token))
            .await,
    );
    app.client
        .request_password_reset(reset_request("second@example.com"))
        .await
        .expect("OK even when throttled");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = smtp.folder().messages();
    assert_eq!(to(&messages, "spammed@example.com").len(), 3, "{messages:#?}");
    assert_eq!(to(&messages, "second@example.com").len(), 2, "{messages:#?}");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn password_reset_timing_does_not_tell_known_from_unknown(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let mut app = mail_app(backend, smtp.url(), |c| {
        c.mail.email_max_per_hour = 10_000;
        c.mail.email_max_per_hour_per_address = 10_000;
    })
    .await;
    register_with_email(&mut app.client, "known", "known@example.com").await;
    const CALLS: usize = 60;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    // Interleaved, so load on the machine falls on both alike.
    for i in 0..CALLS * 2 {
        let (email, samples) = if i % 2 == 0 {
            ("known@example.com".to_owned(), &mut known)
        } else {
            (format!("nobody{i}@example.com"), &mut unknown)
        };
        let start = Instant::now();
        app.client
            .request_password_reset(reset_request(&email))
            .await
            .expect("always OK");
        samples.push(start.elapsed());
    }
    let (k, u) = (median(known), median(unknown));
    println!(
        "RequestPasswordReset medians over {CALLS} calls each ({backend:?}): known {k:?}, unknown {u:?}"
    );
    let (fast, slow) = (k.min(u), k.max(u));
    // Generous: the same statements run on both paths, so only noise separates them.
    assert!(
        slow < fast * 3 + Duration::from_millis(2),
        "known {k:?} vs unknown {u:?}: the timing tells them apart"
    );
    // Every request for the known address was mailed (the limits are out of the way).
    smtp.folder().wait_for(CALLS + 1, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_waits_for_a_server_that_is_down() {
    // The mail server is behind a proxy that closes every connection: down, as far as
    // the service can tell.
    let smtp = SmtpServer::start().await;
    let relay = TcpProxy::start(smtp.addr()).await;
    relay.set(ProxyState::Down);
    let mut app = mail_app(Backend::Sqlite, smtp_url(relay.addr.port()), |_| {}).await;
    register_with_email(&mut app.client, "patient", "patient@example.com").await;
    // The call did not wait for the mail server; the sender retries with back-off.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        smtp.folder().messages().is_empty(),
        "nothing got through while down"
    );
    relay.set(ProxyState::Up);
    let messages = smtp.folder().wait_for(1, Duration::from_secs(20)).await;
    app.client
        .verify_email(verify(&link_token(&messages[0])))
        .await
        .expect("the delayed link works");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.folder().messages().len(), 1, "sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_transport_writes_one_eml_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("mail");
    let mut app = spawn_app_with(Backend::Sqlite, |c| {
        c.mail.mail_outbox_dir = Some(folder.clone());
        c.mail.verify_email_url = Some("http://app.test/verify?token={token}".into());
        c.mail.reset_password_url = Some("http://app.test/reset?token={token}".into());
    })
    .await;
    let pair = register_with_email(&mut app.client, "filed", "filed@example.com").await;
    let messages = MailFolder::new(&folder).wait_for(1, ARRIVAL).await;
    assert_eq!(messages.len(), 1);
    app.client
        .verify_email(verify(&link_token(&messages[0])))
        .await
        .unwrap_or_else(|e| panic!("verify from the .eml: {e:?}\n{}", messages[0]));
    assert!(me(&mut app.client, &pair.access_token).await.email_verified);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_delivery_the_mail_rpcs_say_so() {
    let mut app = spawn_app(Backend::Sqlite).await;
    let with_email = app
        .client
        .register(pb::RegisterRequest {
            username: "unmailed".into(),
            password: PASSWORD.into(),
            email: "unmailed@example.com".into(),
        })
        .await;
    assert_status(
        with_email,
        Code::FailedPrecondition,
        "email delivery is not configured",
    );
    assert_status(
        app.client
            .request_password_reset(reset_request("a@example.com"))
            .await,
        Code::FailedPrecondition,
        "email delivery is not configured",
    );
    assert_status(
        app.client.reset_password(reset("x", "a new password here")).await,
        Code::FailedPrecondition,
        "email delivery is not configured",
    );
    // Everything else works.
    let pair = register_and_login(&mut app.client, "unmailed", PASSWORD).await;
    assert_status(
        app.client
            .send_verification_email(bearer(pb::SendVerificationEmailRequest {}, &pair.access_token))
            .await,
        Code::FailedPrecondition,
        "email delivery is not configured",
    );
    assert_eq!(me(&mut app.client, &pair.access_token).await.email, "");
}

/// Two auth-services on one PostgreSQL, one outbox, one SMTP server: each mail arrives
/// exactly once, whichever replica queued it and however they race for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_send_each_mail_exactly_once() {
    if testkit::postgres_url().is_none() {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    }
    let smtp = SmtpServer::start().await;
    let db = TestDb::new(Backend::Postgres).await;
    let config = || {
        let mut c = testkit::auth_config(&db.url);
        c.mail.smtp_url = Some(smtp.url());
        c.mail.verify_email_url = Some("http://app.test/verify?token={token}".into());
        c.mail.reset_password_url = Some("http://app.test/reset?token={token}".into());
        c.mail.email_max_per_hour_per_address = 10_000;
        c.register_max_per_address = 10_000;
        c
    };
    let a = testkit::spawn_auth(config()).await;
    let b = testkit::spawn_auth(config()).await;
    let mut clients = [
        testkit::auth_client(a.addr).await,
        testkit::auth_client(b.addr).await,
    ];
    const USERS: usize = 12;
    for i in 0..USERS {
        let client = &mut clients[i % 2];
        register_with_email(client, &format!("replica{i}"), &format!("replica{i}@example.com")).await;
        // And a reset through the other replica.
        clients[(i + 1) % 2]
            .request_password_reset(reset_request(&format!("replica{i}@example.com")))
            .await
            .unwrap();
    }
    smtp.folder().wait_for(USERS * 2, Duration::from_secs(30)).await;
    // Time for a duplicate to show up, were there one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let messages = smtp.folder().messages();
    assert_eq!(messages.len(), USERS * 2, "each mail exactly once");
    let mut ids: Vec<String> = messages
        .iter()
        .map(|m| header(m, "Message-ID").unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), USERS * 2);
    for i in 0..USERS {
        assert_eq!(to(&messages, &format!("replica{i}@example.com")).len(), 2);
    }
}

/// The binary at `info`, mailing into a folder: its log names each mail's kind and
/// Message-ID, and carries no token, link or recipient.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_link_reaches_the_log() {
    use tokio::io::AsyncReadExt as _;
    let db = TestDb::new(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("DATABASE_URL", db.url.clone()),
        ("JWT_SECRET", testkit::TEST_SECRET.to_owned()),
        ("MAIL_OUTBOX_DIR", dir.path().display().to_string()),
        (
            "VERIFY_EMAIL_URL",
            "http://app.test/verify?token={token}".to_owned(),
        ),
        (
            "RESET_PASSWORD_URL",
            "http://app.test/reset?token={token}".to_owned(),
        ),
    ];
    let mut service = testkit::ChildService::start_logging(env!("CARGO_BIN_EXE_auth-service"), &env).await;
    let mut client = testkit::auth_client(service.addr).await;
    register_with_email(&mut client, "logged", "logged@example.com").await;
    client
        .request_password_reset(reset_request("logged@example.com"))
        .await
        .unwrap();
    client
        .request_password_reset(reset_request("stranger@example.com"))
        .await
        .unwrap();
    let messages = MailFolder::new(dir.path()).wait_for(2, ARRIVAL).await;
    let tokens: Vec<String> = messages.iter().map(|m| link_token(m)).collect();
    client.verify_email(verify(&tokens[0])).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    service.signal("TERM");
    let mut stdout = service.logs();
    let mut logs = String::new();
    tokio::time::timeout(Duration::from_secs(15), stdout.read_to_string(&mut logs))
        .await
        .expect("exits within the grace period")
        .expect("read the logs");
    for message in &messages {
        let id = header(message, "Message-ID").unwrap();
        assert!(
            logs.lines().any(|l| l.contains("mail sent") && l.contains(&id)),
            "no log line for {id}:\n{logs}"
        );
    }
    for secret in
        tokens
            .iter()
            .map(String::as_str)
            .chain(["app.test", "logged@example.com", "stranger@example.com"])
    {
        assert!(!logs.contains(secret), "{secret:?} in the logs:\n{logs}");
    }
}

/// A crash between the commit and the send only delays the mail: the service is killed
/// (SIGKILL) while its mail server is down, and a new process on the same database
/// sends what the outbox holds once the server is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_sending_loses_no_mail() {
    let db = TestDb::new(Backend::Sqlite).await;
    let smtp = SmtpServer::start().await;
    let relay = TcpProxy::start(smtp.addr()).await;
    relay.set(ProxyState::Down);
    let port = relay.addr.port();
    let env = [
        ("DATABASE_URL", db.url.clone()),
        ("JWT_SECRET", testkit::TEST_SECRET.to_owned()),
        ("SMTP_URL", smtp_url(port)),
        (
            "VERIFY_EMAIL_URL",
            "http://app.test/verify?token={token}".to_owned(),
        ),
        (
            "RESET_PASSWORD_URL",
            "http://app.test/reset?token={token}".to_owned(),
        ),
    ];
    let first = testkit::ChildService::start(env!("CARGO_BIN_EXE_auth-service"), &env).await;
    let mut client = testkit::auth_client(first.addr).await;
    register_with_email(&mut client, "crashed", "crashed@example.com").await;
    first.signal("KILL");
    drop(first);
    relay.set(ProxyState::Up);
    let second = testkit::ChildService::start(env!("CARGO_BIN_EXE_auth-service"), &env).await;
    let messages = smtp.folder().wait_for(1, ARRIVAL).await;
    let mut client = testkit::auth_client(second.addr).await;
    client
        .verify_email(verify(&link_token(&messages[0])))
        .await
        .expect("the link from before the crash works");
}
