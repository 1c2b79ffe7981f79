//! Validation and guard failures. Each names the offending value so the CLI can print it as is.

use thiserror::Error;

/// Why a value or a state change was refused. All variants are the caller's fault (exit code 2).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DomainError {
    /// A state machine refused a move.
    #[error("illegal {machine} transition: {from} -> {to} (allowed from {from}: {allowed})")]
    IllegalTransition {
        machine: &'static str,
        from: String,
        to: String,
        allowed: String,
    },
    /// A string is not one of an enum's spellings.
    #[error("invalid {what} '{value}' (expected one of: {expected})")]
    UnknownValue {
        what: &'static str,
        value: String,
        expected: String,
    },
    /// A field's value is out of range or malformed.
    #[error("invalid {field} '{value}': {why}")]
    Invalid {
        field: &'static str,
        value: String,
        why: String,
    },
}

impl DomainError {
    /// Shorthand for [`DomainError::Invalid`].
    pub fn invalid(field: &'static str, value: impl ToString, why: impl Into<String>) -> Self {
        DomainError::Invalid {
            field,
            value: value.to_string(),
            why: why.into(),
        }
    }
}
