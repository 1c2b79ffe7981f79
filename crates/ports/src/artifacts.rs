//! Model artifacts: directories of files stored under `tradai-models-{env}/{MODEL}/{VERSION}/`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::path::Path;
use thiserror::Error;

/// What was stored: where, how much, and a checksum the strategy runner logs when it loads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactInfo {
    /// URL of the version's prefix (`file:///…/tradai-models-dev/M/3/`, later `s3://…`).
    pub url: String,
    /// Relative file names, sorted.
    pub files: Vec<String>,
    pub bytes: u64,
    /// SHA-256 over the sorted (name, content) pairs: the same directory always hashes the same.
    pub sha256: String,
}

/// Failures of the artifact store.
#[derive(Debug, Error)]
pub enum ArtifactError {
    #[error("artifact source {path}: {message}")]
    Source { path: String, message: String },
    #[error("artifact store at {location}: {message}")]
    Backend { location: String, message: String },
    #[error("no artifact at {0}")]
    NotFound(String),
}

/// Stores and fetches versioned artifact directories.
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// The URL the registry records for a prefix such as `M/3/`.
    fn url(&self, prefix: &str) -> String;
    /// Copies every file under `dir` to `prefix`. Returns only after all bytes are stored.
    async fn put_dir(&self, prefix: &str, dir: &Path) -> Result<ArtifactInfo, ArtifactError>;
    /// Copies every file under `prefix` into `dir` (created if needed); returns the same info.
    async fn get_dir(&self, prefix: &str, dir: &Path) -> Result<ArtifactInfo, ArtifactError>;
    /// Removes everything under `prefix` (clean-up of an interrupted upload).
    async fn delete_prefix(&self, prefix: &str) -> Result<(), ArtifactError>;
}
