//! Errors of runbook operations, sorted by whose fault they are (exit 2 vs exit 1).

use thiserror::Error;
use tradai_domain::DomainError;
use tradai_ports::{ArtifactError, StoreError};

/// Why an operation did not happen. Nothing was changed when one of these is returned, except
/// where a variant says otherwise.
#[derive(Debug, Error)]
pub enum RunbookError {
    /// Bad input or an illegal state change.
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// A named thing does not exist.
    #[error("{what} '{name}' not found{hint}")]
    NotFound {
        what: &'static str,
        name: String,
        hint: String,
    },
    /// The thing exists already.
    #[error("{what} '{name}' already exists")]
    Exists { what: &'static str, name: String },
    /// A rule refuses the operation now (cooldown, nothing to roll back to, …).
    #[error("{0}")]
    Refused(String),
    /// Concurrent writers kept changing the item; try again.
    #[error("gave up after repeated concurrent changes: {0}")]
    Contended(StoreError),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
}

impl From<StoreError> for RunbookError {
    fn from(e: StoreError) -> Self {
        RunbookError::Store(e)
    }
}

impl RunbookError {
    /// Whether the caller asked for something wrong (exit code 2) rather than something failing.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            RunbookError::Invalid(_)
                | RunbookError::NotFound { .. }
                | RunbookError::Exists { .. }
                | RunbookError::Refused(_)
                | RunbookError::Artifact(ArtifactError::Source { .. })
        )
    }

    pub(crate) fn not_found(
        what: &'static str,
        name: impl ToString,
        hint: impl Into<String>,
    ) -> Self {
        let hint = hint.into();
        RunbookError::NotFound {
            what,
            name: name.to_string(),
            hint: if hint.is_empty() {
                hint
            } else {
                format!(" ({hint})")
            },
        }
    }
}
