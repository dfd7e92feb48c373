//! Status constructors shared by both services.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `INVALID_ARGUMENT` naming the field and the rule, in the message for people and as a
/// `google.rpc.BadRequest` detail for programs.
pub fn invalid_argument(field: &str, reason: &str) -> Status {
    Status::with_error_details(
        Code::InvalidArgument,
        format!("{field}: {reason}"),
        ErrorDetails::with_bad_request_violation(field, reason),
    )
}

/// A field that broke a rule: becomes `INVALID_ARGUMENT` through [`invalid_argument`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: &'static str,
    pub reason: String,
}

impl Violation {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

impl From<Violation> for Status {
    fn from(v: Violation) -> Self {
        invalid_argument(v.field, &v.reason)
    }
}
