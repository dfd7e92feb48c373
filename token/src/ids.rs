//! Typed ids: a user's id, a session's, a todo's are all UUIDs, and a function taking two
//! of them must not accept them swapped. `Id<Of>` is a UUID tagged with what it names;
//! the tag is a type with no values, so it costs nothing at run time.

use std::{fmt, hash::Hash, marker::PhantomData};

use uuid::Uuid;

/// The id of one `Of`.
pub struct Id<Of> {
    uuid: Uuid,
    of: PhantomData<fn() -> Of>,
}

/// What a [`UserId`] names.
pub enum User {}
/// What a [`SessionId`] names: one login, which refresh tokens rotate within.
pub enum Session {}

/// A user's id (the token's `sub`).
pub type UserId = Id<User>;
/// A session's id (the token's `sid`).
pub type SessionId = Id<Session>;

impl<Of> Id<Of> {
    /// A fresh random id.
    pub fn new() -> Self {
        Self::from_uuid(Uuid::new_v4())
    }

    /// The id for `uuid`.
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self {
            uuid,
            of: PhantomData,
        }
    }

    /// Parses the hyphenated text form; `None` if it is not a UUID.
    pub fn parse(text: &str) -> Option<Self> {
        Uuid::parse_str(text).ok().map(Self::from_uuid)
    }

    /// The UUID itself.
    pub const fn uuid(self) -> Uuid {
        self.uuid
    }
}

impl<Of> Default for Id<Of> {
    fn default() -> Self {
        Self::new()
    }
}

// By hand: derives would ask `Of` itself to be `Clone`, `Eq` and so on.
impl<Of> Clone for Id<Of> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<Of> Copy for Id<Of> {}
impl<Of> PartialEq for Id<Of> {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
    }
}
impl<Of> Eq for Id<Of> {}
impl<Of> Hash for Id<Of> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.uuid.hash(state);
    }
}
impl<Of> fmt::Debug for Id<Of> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.uuid, f)
    }
}
impl<Of> fmt::Display for Id<Of> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.uuid, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_as_their_uuid() {
        let id = UserId::new();
        assert_eq!(UserId::parse(&id.to_string()), Some(id));
        assert_eq!(id.to_string(), id.uuid().to_string());
        assert_eq!(SessionId::parse("not a uuid"), None);
    }
}
