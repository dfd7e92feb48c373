//! Request validation: structured arbitrary input into the domain parsers of both
//! services. None may panic, and every value they let through must obey its rules.

#![no_main]

use arbitrary::Arbitrary;
use auth_service::domain::{Password, RefreshToken, Username};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use libfuzzer_sys::fuzz_target;
use todo_service::domain::{
    Changes, Cursor, DESCRIPTION_MAX, Description, MAX_PAGE_SIZE, PageTokens, TITLE_MAX, Title, UpdateFields,
    page_size, parse_id,
};
use uuid::Uuid;

#[derive(Debug, Arbitrary)]
struct Input {
    username: String,
    password: String,
    refresh_token: String,
    title: String,
    description: String,
    id: String,
    page_size: i32,
    completed: bool,
    mask: Option<Vec<MaskPath>>,
    page_token: String,
    list_filter: Option<bool>,
    cursor_time: i64,
    cursor_id: [u8; 16],
    tamper: Tamper,
}

/// Mostly the paths the service knows, so masks that parse are common.
#[derive(Debug, Arbitrary)]
enum MaskPath {
    Title,
    Description,
    Completed,
    All,
    Other(String),
}

impl MaskPath {
    fn as_string(&self) -> String {
        match self {
            MaskPath::Title => "title".into(),
            MaskPath::Description => "description".into(),
            MaskPath::Completed => "completed".into(),
            MaskPath::All => "*".into(),
            MaskPath::Other(s) => s.clone(),
        }
    }
}

/// A change to a page token that the service made.
#[derive(Debug, Arbitrary)]
enum Tamper {
    None,
    FlipBit { index: u8, bit: u8 },
    Truncate(u8),
    Append(String),
}

const REDACTED: &str = "Password(<redacted>)";

fuzz_target!(|input: Input| {
    auth(&input);
    todo(&input);
});

fn auth(input: &Input) {
    match Username::parse("username", &input.username) {
        Ok(name) => {
            assert_eq!(name.as_str(), input.username);
            assert!((3..=32).contains(&name.as_str().len()));
            assert!(
                name.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            );
            let key = name.key();
            assert_eq!(key, key.to_lowercase(), "username key is not lowercase");
            assert!(key.eq_ignore_ascii_case(name.as_str()));
            // Names differing only in case share the key.
            let upper = Username::parse("username", &input.username.to_ascii_uppercase())
                .expect("upper-casing keeps a valid username valid");
            assert_eq!(upper.key(), key);
        }
        Err(v) => assert_eq!(v.field, "username"),
    }

    let chars = input.password.chars().count();
    let new = Password::parse_new("password", input.password.clone());
    let given = Password::parse_given("password", input.password.clone());
    if let Ok(p) = &new {
        assert_eq!(p.expose(), input.password);
        assert!((8..=128).contains(&chars));
        assert!(!auth_service::domain::is_common_password(&input.password));
        // Any password one can register with must be accepted at sign-in.
        assert!(
            given.is_ok(),
            "password accepted at sign-up is refused at sign-in"
        );
    }
    match &given {
        Ok(p) => {
            assert_eq!(p.expose(), input.password);
            assert!((1..=128).contains(&chars));
            if !REDACTED.contains(input.password.as_str()) {
                assert!(
                    !format!("{p:?}").contains(input.password.as_str()),
                    "Debug shows the password"
                );
            }
        }
        Err(v) => assert_eq!(v.field, "password"),
    }

    if let Some(t) = RefreshToken::parse(&input.refresh_token) {
        assert_eq!(t.expose(), input.refresh_token);
        assert_eq!(t.expose().len(), 43);
        assert_eq!(URL_SAFE_NO_PAD.decode(t.expose()).map(|b| b.len()).ok(), Some(32));
        let hash = t.hash();
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    }
}

fn todo(input: &Input) {
    match Title::parse("todo.title", &input.title) {
        Ok(title) => check_title(&title, &input.title),
        Err(v) => assert_eq!(v.field, "todo.title"),
    }

    if let Ok(d) = Description::parse("todo.description", &input.description) {
        assert_eq!(d.as_str(), input.description);
        assert!(d.as_str().chars().count() <= DESCRIPTION_MAX);
        assert!(
            !d.as_str()
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        );
    }

    if let Ok(id) = parse_id("id", &input.id) {
        // Only the hyphenated form: the id in a request is one the service could return.
        assert!(id.hyphenated().to_string().eq_ignore_ascii_case(&input.id));
    }

    match page_size(input.page_size) {
        Ok(n) => {
            assert!((1..=MAX_PAGE_SIZE).contains(&n), "page size {n} out of range");
            if (1..=MAX_PAGE_SIZE as i32).contains(&input.page_size) {
                assert_eq!(n, input.page_size as usize);
            }
        }
        Err(v) => {
            assert_eq!(v.field, "page_size");
            assert!(input.page_size < 0);
        }
    }

    changes(input);
    page_tokens(input);
}

fn check_title(title: &Title, raw: &str) {
    let s = title.as_str();
    let len = s.chars().count();
    assert!(
        (1..=TITLE_MAX).contains(&len),
        "title of {len} characters accepted"
    );
    assert_eq!(s, s.trim(), "title is not trimmed");
    assert_eq!(s, raw.trim());
    assert!(!s.chars().any(char::is_control));
    // Parsing is idempotent: a stored title is valid input again.
    assert_eq!(Title::parse("t", s).as_ref(), Ok(title));
}

fn changes(input: &Input) {
    let fields = || UpdateFields {
        title: &input.title,
        description: &input.description,
        completed: input.completed,
    };
    let mask: Option<Vec<String>> = input
        .mask
        .as_ref()
        .map(|paths| paths.iter().map(MaskPath::as_string).collect());
    let result = Changes::from_mask(fields(), mask.as_deref());
    let Ok(changes) = result else { return };

    assert_ne!(
        changes,
        Changes::default(),
        "an update that changes nothing was accepted"
    );
    if let Some(title) = &changes.title {
        check_title(title, &input.title);
    }
    if let Some(d) = &changes.description {
        assert_eq!(d.as_str(), input.description);
    }
    if let Some(c) = changes.completed {
        assert_eq!(c, input.completed);
    }
    match mask.as_deref() {
        Some(paths) if !paths.is_empty() => {
            let named = |p: &str| paths.iter().any(|q| q == p || q == "*");
            assert!(
                paths
                    .iter()
                    .all(|p| matches!(p.as_str(), "title" | "description" | "completed" | "*")),
                "unknown mask path accepted"
            );
            assert_eq!(changes.title.is_some(), named("title"));
            assert_eq!(changes.description.is_some(), named("description"));
            assert_eq!(changes.completed.is_some(), named("completed"));
        }
        _ => {
            assert_eq!(changes.title.is_some(), !input.title.is_empty());
            assert_eq!(changes.description.is_some(), !input.description.is_empty());
            assert_eq!(changes.completed, input.completed.then_some(true));
        }
    }
}

fn page_tokens(input: &Input) {
    let tokens = PageTokens::new([1u8; 32]);
    let filter = input.list_filter;

    // Arbitrary tokens: empty is the first page; anything else must have been made by us.
    match tokens.decode(&input.page_token, filter) {
        Ok(None) => assert!(input.page_token.is_empty()),
        Ok(Some(cursor)) => {
            assert_eq!(
                tokens.encode(cursor, filter),
                input.page_token,
                "a token we never made decoded"
            );
        }
        Err(v) => {
            assert_eq!(v.field, "page_token");
            assert!(!input.page_token.is_empty());
        }
    }

    // Tokens we made: round trip, bound to the filter, and refused when altered.
    let cursor = Cursor {
        create_time: input.cursor_time,
        id: Uuid::from_bytes(input.cursor_id),
    };
    let token = tokens.encode(cursor, filter);
    assert!(!token.is_empty() && token.len() <= 64);
    assert_eq!(
        tokens.decode(&token, filter),
        Ok(Some(cursor)),
        "page token does not round-trip"
    );
    for other in [None, Some(false), Some(true)] {
        if other != filter {
            assert!(
                tokens.decode(&token, other).is_err(),
                "token reused with another filter"
            );
        }
    }
    assert!(
        PageTokens::new([2u8; 32]).decode(&token, filter).is_err(),
        "token accepted under another key"
    );

    let altered = match &input.tamper {
        Tamper::None => return,
        Tamper::FlipBit { index, bit } => {
            let mut bytes = URL_SAFE_NO_PAD.decode(&token).expect("our tokens are base64url");
            let i = usize::from(*index) % bytes.len();
            bytes[i] ^= 1 << (bit % 8);
            URL_SAFE_NO_PAD.encode(bytes)
        }
        Tamper::Truncate(n) => token[..usize::from(*n) % token.len()].to_owned(),
        Tamper::Append(s) if s.is_empty() => return,
        Tamper::Append(s) => format!("{token}{s}"),
    };
    match tokens.decode(&altered, filter) {
        Ok(None) => assert!(altered.is_empty()),
        Ok(Some(_)) => panic!("altered page token {altered:?} accepted"),
        Err(_) => {}
    }
}
