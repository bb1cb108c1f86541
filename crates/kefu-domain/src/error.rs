//! Errors of the domain layer. The HTTP layer maps each variant to a status
//! code once; every variant carries both an English and a Chinese message
//! because both are shown to users.

use serde::Serialize;

/// One invalid input field, named by its JSON path (`customer.phone`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    pub message_zh: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>, zh: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), message_zh: zh.into() }
    }

    pub fn required(field: &str) -> Self {
        Self::new(field, format!("{field} is required"), format!("{field} 为必填项"))
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    #[error("invalid field {}: {}", .0.field, .0.message)]
    Invalid(FieldError),
    /// The action exists but the ticket's state does not permit it now.
    #[error("action {action} is not allowed in state {state}")]
    NotAllowed { action: String, state: String, allowed: Vec<String> },
    /// The caller's role (or relation to the ticket) may not take the action.
    #[error("role {role} may not {action}")]
    Forbidden { action: String, role: String, reason: String },
    /// Archived tickets are immutable.
    #[error("ticket is archived and immutable")]
    Archived,
    /// A deadline falls in a year whose working-day calendar is not loaded.
    #[error("no working-day calendar is loaded for {0}")]
    CalendarMissing(i32),
    /// Nobody on duty with free capacity and the skills can take the ticket.
    #[error("no on-duty L{tier} handler with free capacity can take the ticket")]
    NoCandidate { tier: u8 },
    /// The chosen handler filled up meanwhile (another dispatch won).
    #[error("{username} has no free capacity")]
    CapacityFull { username: String },
    /// Archive refused: steps of the customer loop are missing.
    #[error("the loop is not closed: missing {}", .missing.join(", "))]
    LoopIncomplete { missing: Vec<String> },
    /// Over a size or count limit of the policy (a file, a ticket's files).
    #[error("too large: {}", .0.message)]
    TooLarge(FieldError),
}

impl From<FieldError> for DomainError {
    fn from(e: FieldError) -> Self {
        DomainError::Invalid(e)
    }
}
