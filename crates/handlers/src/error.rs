//! Handler errors: bad input (exit 2) or a failure underneath (exit 1).

use thiserror::Error;
use tradai_ports::{StoreError, TaskError};
use tradai_runbook::RunbookError;

/// Why a handler did not produce its output.
#[derive(Debug, Error)]
pub enum HandlerError {
    /// The payload is malformed or names something invalid.
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Runbook(#[from] RunbookError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl HandlerError {
    /// Whether the caller is at fault (exit code 2).
    pub fn is_usage(&self) -> bool {
        match self {
            HandlerError::BadInput(_) => true,
            HandlerError::Runbook(r) => r.is_usage(),
            HandlerError::Task(TaskError::NotFound(_)) => true,
            _ => false,
        }
    }
}

impl From<tradai_domain::DomainError> for HandlerError {
    fn from(e: tradai_domain::DomainError) -> Self {
        HandlerError::BadInput(e.to_string())
    }
}
