//! Todo values that can only hold what the rules allow, the update-mask rules, and the
//! page token.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::Mac;
use uuid::Uuid;

pub use common::violation::Violation;

/// Longest title, in characters after trimming.
pub const TITLE_MAX: usize = 200;
/// Longest description, in characters.
pub const DESCRIPTION_MAX: usize = 2000;
/// `ListTodos` page size when the request asks for 0 (none given).
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest `ListTodos` page; larger requests are lowered to it, not refused (AIP-158).
pub const MAX_PAGE_SIZE: usize = 1000;

/// 1 to 200 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    /// Trims `s` and checks it; a refusal names `field` (the request field).
    pub fn parse(field: &'static str, s: &str) -> Result<Self, Violation> {
        let trimmed = s.trim();
        let len = trimmed.chars().count();
        if len == 0 || len > TITLE_MAX {
            return Err(Violation::new(
                field,
                format!("must be 1 to {TITLE_MAX} characters after trimming"),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(Violation::new(field, "must not contain control characters"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The trimmed title, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Up to 2,000 characters; line breaks and tabs allowed, other control characters not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    /// Checks `s` as given (not trimmed: whitespace may be meant); a refusal names
    /// `field` (the request field).
    pub fn parse(field: &'static str, s: &str) -> Result<Self, Violation> {
        if s.chars().count() > DESCRIPTION_MAX {
            return Err(Violation::new(
                field,
                format!("must be at most {DESCRIPTION_MAX} characters"),
            ));
        }
        if s.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(Violation::new(
                field,
                "must not contain control characters other than line breaks and tabs",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The description, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a [`TodoId`] names.
pub enum Todo {}

/// A todo's id: a UUIDv7, so ids sort by creation time.
pub type TodoId = token::ids::Id<Todo>;

/// A todo id from a request.
pub fn parse_id(field: &'static str, s: &str) -> Result<TodoId, Violation> {
    if s.is_empty() {
        return Err(Violation::new(field, "is required"));
    }
    // Only the hyphenated form, so the id in a request is the id the service returned.
    if s.len() != 36 {
        return Err(Violation::new(field, "must be a UUID"));
    }
    TodoId::parse(s).ok_or_else(|| Violation::new(field, "must be a UUID"))
}

/// The fields an update changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The new title.
    pub title: Option<Title>,
    /// The new description (`Some` of an empty one clears it).
    pub description: Option<Description>,
    /// The new completion state.
    pub completed: Option<bool>,
}

/// The fields of a `Todo` message an update may name.
pub struct UpdateFields<'a> {
    /// `todo.title` as sent (empty when unset), checked only if the update names it.
    pub title: &'a str,
    /// `todo.description` as sent (empty when unset).
    pub description: &'a str,
    /// `todo.completed` as sent (false when unset).
    pub completed: bool,
}

impl Changes {
    /// AIP-134: with a mask, exactly the named paths (`*` names all); without one, the
    /// fields that are set (non-empty, or `completed: true`).
    pub fn from_mask(fields: UpdateFields<'_>, mask: Option<&[String]>) -> Result<Self, Violation> {
        let mut changes = Changes::default();
        match mask {
            Some(paths) if !paths.is_empty() => {
                for path in paths {
                    match path.as_str() {
                        "title" => changes.title = Some(Title::parse("todo.title", fields.title)?),
                        "description" => {
                            changes.description =
                                Some(Description::parse("todo.description", fields.description)?);
                        }
                        "completed" => changes.completed = Some(fields.completed),
                        "*" => {
                            changes.title = Some(Title::parse("todo.title", fields.title)?);
                            changes.description =
                                Some(Description::parse("todo.description", fields.description)?);
                            changes.completed = Some(fields.completed);
                        }
                        other => {
                            let shown: String = other.chars().take(64).collect();
                            return Err(Violation::new(
                                "update_mask",
                                format!("unknown path {shown:?}; allowed: title, description, completed"),
                            ));
                        }
                    }
                }
            }
            _ => {
                if !fields.title.is_empty() {
                    changes.title = Some(Title::parse("todo.title", fields.title)?);
                }
                if !fields.description.is_empty() {
                    changes.description = Some(Description::parse("todo.description", fields.description)?);
                }
                if fields.completed {
                    changes.completed = Some(true);
                }
            }
        }
        if changes == Changes::default() {
            return Err(Violation::new(
                "update_mask",
                "nothing to update: set a field, or name it in update_mask to clear it",
            ));
        }
        Ok(changes)
    }
}

/// Most bytes one ListTodos response holds: a page ends early (with a next_page_token)
/// rather than pass it. 1,000 todos at their limits are ~8.8 MB, over the 4 MiB that
/// gRPC clients accept by default; a page under this budget never is.
pub const PAGE_BYTES_MAX: usize = 1024 * 1024;
/// Kept back from [`PAGE_BYTES_MAX`] for the rest of the response (the page token).
const PAGE_BYTES_RESERVED: usize = 256;

/// An upper bound on what a todo adds to a ListTodos response: its two strings, plus at
/// most 88 bytes for the id, `completed`, both timestamps, and each field's tag and
/// length prefix (the todo's own included).
pub fn listed_todo_bytes(title: &str, description: &str) -> usize {
    title.len() + description.len() + 100
}

/// What is left of one page: rows up to the page size, bytes up to [`PAGE_BYTES_MAX`].
#[derive(Debug)]
pub struct PageBudget {
    rows_left: usize,
    bytes_left: usize,
    first: bool,
}

impl PageBudget {
    /// The budget of a page of at most `page_size` todos (after [`page_size`]).
    pub fn new(page_size: usize) -> Self {
        Self {
            rows_left: page_size,
            bytes_left: PAGE_BYTES_MAX - PAGE_BYTES_RESERVED,
            first: true,
        }
    }

    /// Takes a todo of `bytes` into the page if it fits. The first always fits (no todo
    /// comes near the budget), so every page makes progress.
    pub fn admit(&mut self, bytes: usize) -> bool {
        if self.rows_left == 0 || (!self.first && bytes > self.bytes_left) {
            return false;
        }
        self.first = false;
        self.rows_left -= 1;
        self.bytes_left = self.bytes_left.saturating_sub(bytes);
        true
    }
}

/// Per-user bounds on creating todos. Enforced in the database, in the transaction that
/// inserts, so that they hold across replicas and concurrent calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateLimits {
    /// Todos one user may have at once.
    pub max_todos: u32,
    /// Creates per minute: a burst of this many, then one every minute / this.
    pub creates_per_minute: u32,
}

impl CreateLimits {
    /// Microseconds between creates at the sustained rate (the GCRA emission interval).
    pub fn interval_micros(&self) -> i64 {
        60_000_000 / i64::from(self.creates_per_minute.max(1))
    }

    /// How far ahead of now a user's schedule may run: the burst.
    pub fn burst_micros(&self) -> i64 {
        self.interval_micros() * i64::from(self.creates_per_minute.max(1))
    }
}

impl Default for CreateLimits {
    fn default() -> Self {
        Self {
            max_todos: 10_000,
            creates_per_minute: 120,
        }
    }
}

/// Page size after AIP-158 rules: 0 means the default, larger than the maximum is capped.
pub fn page_size(requested: i32) -> Result<usize, Violation> {
    match usize::try_from(requested) {
        Err(_) => Err(Violation::new("page_size", "must not be negative")),
        Ok(0) => Ok(DEFAULT_PAGE_SIZE),
        Ok(n) => Ok(n.min(MAX_PAGE_SIZE)),
    }
}

/// Where the next page starts: after the todo with this creation time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The last listed todo's creation time, microseconds since the epoch.
    pub create_time: i64,
    /// The last listed todo's id, which breaks ties between equal creation times.
    pub id: TodoId,
}

const TOKEN_VERSION: u8 = 1;
const MAC_LEN: usize = 12;
const PAYLOAD_LEN: usize = 1 + 1 + 8 + 16;

/// Encodes and checks page tokens. A token is the cursor and the filter it was made
/// for, with a truncated HMAC: opaque to clients, refused when altered or replayed
/// against another filter. Queries are scoped to the caller anyway, so a token can never
/// reveal another user's todos.
///
/// Keys follow the JWT secrets: made with the current one, accepted with the previous
/// ones too, so a list being paged through survives a key rotation, also across
/// replicas that are part-way through it.
#[derive(Clone)]
pub struct PageTokens {
    key: [u8; 32],
    previous: Vec<[u8; 32]>,
}

fn filter_byte(completed: Option<bool>) -> u8 {
    match completed {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    }
}

impl PageTokens {
    /// Signs with `key` and accepts `previous` too: keys derived from the current and
    /// previous JWT secrets ([`token::JwtSecret::derive`], purpose `page-token`).
    pub fn new(key: [u8; 32], previous: Vec<[u8; 32]>) -> Self {
        Self { key, previous }
    }

    /// The HMAC of `payload` under `key`, ready to finalize or verify.
    fn hmac(key: &[u8; 32], payload: &[u8]) -> hmac::Hmac<sha2::Sha256> {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(payload);
        mac
    }

    fn mac(&self, payload: &[u8]) -> [u8; MAC_LEN] {
        let full = Self::hmac(&self.key, payload).finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    /// The `next_page_token` for a page ending at `cursor`, of a list filtered by
    /// `completed`: base64url, signed with the current key.
    pub fn encode(&self, cursor: Cursor, completed: Option<bool>) -> String {
        let mut bytes = Vec::with_capacity(PAYLOAD_LEN + MAC_LEN);
        bytes.push(TOKEN_VERSION);
        bytes.push(filter_byte(completed));
        bytes.extend_from_slice(&cursor.create_time.to_be_bytes());
        bytes.extend_from_slice(cursor.id.uuid().as_bytes());
        let mac = self.mac(&bytes);
        bytes.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// `None` for the first page (empty token).
    pub fn decode(&self, token: &str, completed: Option<bool>) -> Result<Option<Cursor>, Violation> {
        if token.is_empty() {
            return Ok(None);
        }
        let invalid = || Violation::new("page_token", "is invalid or was made for other list parameters");
        if token.len() > 64 {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        if bytes.len() != PAYLOAD_LEN + MAC_LEN {
            return Err(invalid());
        }
        let (payload, mac) = bytes.split_at(PAYLOAD_LEN);
        let signed_with = |key: &[u8; 32]| Self::hmac(key, payload).verify_truncated_left(mac).is_ok();
        if !std::iter::once(&self.key).chain(&self.previous).any(signed_with) {
            return Err(invalid());
        }
        if payload[0] != TOKEN_VERSION || payload[1] != filter_byte(completed) {
            return Err(invalid());
        }
        let mut time = [0u8; 8];
        time.copy_from_slice(&payload[2..10]);
        let id = TodoId::from_uuid(Uuid::from_slice(&payload[10..26]).map_err(|_| invalid())?);
        Ok(Some(Cursor {
            create_time: i64::from_be_bytes(time),
            id,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_and_descriptions() {
        assert_eq!(Title::parse("t", "  buy milk  ").unwrap().as_str(), "buy milk");
        assert!(Title::parse("t", "   ").is_err());
        assert!(Title::parse("t", &"é".repeat(200)).is_ok());
        assert!(Title::parse("t", &"é".repeat(201)).is_err());
        assert!(Title::parse("t", "a\u{0}b").is_err());
        assert!(Description::parse("d", "line\nline\ttab").is_ok());
        assert!(Description::parse("d", "bell\u{7}").is_err());
        assert!(Description::parse("d", &"x".repeat(2001)).is_err());
    }

    #[test]
    fn masks() {
        let fields = UpdateFields {
            title: "new",
            description: "",
            completed: false,
        };
        let mask = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let c = Changes::from_mask(fields_clone(&fields), None).unwrap();
        assert_eq!(
            (c.title.is_some(), c.description, c.completed),
            (true, None, None)
        );
        let c =
            Changes::from_mask(fields_clone(&fields), Some(&mask(&["completed", "description"]))).unwrap();
        assert_eq!(
            (c.title, c.description, c.completed),
            (None, Some(Description::default()), Some(false))
        );
        assert!(Changes::from_mask(fields_clone(&fields), Some(&mask(&["owner"]))).is_err());
        assert!(
            Changes::from_mask(
                UpdateFields {
                    title: "",
                    description: "",
                    completed: false
                },
                None
            )
            .is_err()
        );
        assert!(Changes::from_mask(fields_clone(&fields), Some(&mask(&["*"]))).is_ok());
    }

    fn fields_clone<'a>(f: &UpdateFields<'a>) -> UpdateFields<'a> {
        UpdateFields {
            title: f.title,
            description: f.description,
            completed: f.completed,
        }
    }

    #[test]
    fn page_tokens_round_trip_and_refuse_tampering() {
        let tokens = PageTokens::new([9; 32], vec![]);
        let cursor = Cursor {
            create_time: 1_700_000_000_123_456,
            id: TodoId::from_uuid(Uuid::now_v7()),
        };
        let t = tokens.encode(cursor, Some(true));
        assert_eq!(tokens.decode(&t, Some(true)).unwrap(), Some(cursor));
        assert!(tokens.decode(&t, None).is_err(), "other filter");
        assert!(
            PageTokens::new([8; 32], vec![]).decode(&t, Some(true)).is_err(),
            "other key"
        );
        // Across a key rotation: the old key still accepted while it is a previous one.
        let rotated = PageTokens::new([8; 32], vec![[7; 32], [9; 32]]);
        assert_eq!(rotated.decode(&t, Some(true)).unwrap(), Some(cursor));
        assert_eq!(
            rotated.decode(&rotated.encode(cursor, None), None).unwrap(),
            Some(cursor)
        );
        assert!(
            tokens.decode(&rotated.encode(cursor, None), None).is_err(),
            "new key unknown to the old"
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(&t).unwrap();
        bytes[5] ^= 1;
        assert!(tokens.decode(&URL_SAFE_NO_PAD.encode(bytes), Some(true)).is_err());
        assert!(tokens.decode("garbage!", None).is_err());
        assert_eq!(tokens.decode("", None).unwrap(), None);
    }

    #[test]
    fn page_budget_ends_pages_early_but_never_empty() {
        let mut budget = PageBudget::new(3);
        assert!(budget.admit(10) && budget.admit(10) && budget.admit(10));
        assert!(!budget.admit(10), "page size reached");
        let mut budget = PageBudget::new(1000);
        assert!(budget.admit(PAGE_BYTES_MAX * 2), "the first always fits");
        assert!(!budget.admit(1));
        let mut budget = PageBudget::new(1000);
        let big = listed_todo_bytes(&"😀".repeat(TITLE_MAX), &"😀".repeat(DESCRIPTION_MAX));
        let mut taken = 0;
        while budget.admit(big) {
            taken += 1;
        }
        assert!(taken * big <= PAGE_BYTES_MAX && (taken + 1) * big > PAGE_BYTES_MAX - PAGE_BYTES_RESERVED);
    }

    #[test]
    fn create_rate_is_a_burst_then_even() {
        let limits = CreateLimits {
            max_todos: 1,
            creates_per_minute: 5,
        };
        assert_eq!(limits.interval_micros(), 12_000_000);
        assert_eq!(limits.burst_micros(), 60_000_000);
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(20).unwrap(), 20);
        assert_eq!(page_size(5000).unwrap(), MAX_PAGE_SIZE);
        assert!(page_size(-1).is_err());
    }
}
