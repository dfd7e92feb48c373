//! A request field that broke a rule: what the domain modules of both services answer
//! when they refuse input. Knows nothing of gRPC; `error` turns it into
//! `INVALID_ARGUMENT` with a `BadRequest` detail.

/// The field (as the contract names it) and the rule it broke, in words for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The request field, as in the `.proto` (`title`, `new_password`).
    pub field: &'static str,
    /// What is wrong with it (`must be at most 200 characters`).
    pub reason: String,
}

impl Violation {
    /// The field broke the rule `reason`.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}
