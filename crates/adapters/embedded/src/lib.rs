//! The embedded default backend: everything tradai needs on one machine with no setup.
//!
//! - [`SqliteStore`]: the state port on one SQLite file (WAL, busy timeout, version-checked
//!   writes, versioned migrations).
//! - [`LocalArtifacts`]: the artifact port on a local directory through `object_store`, laid
//!   out like the original `s3://tradai-models-{env}/{MODEL}/{VERSION}/`.
//!
//! Architecture invariant: adapters translate, they do not decide. No runbook rule lives here.
#![forbid(unsafe_code)]

pub mod artifacts;
pub mod inprocess;
pub mod notify;
pub mod sqlite;
pub mod tasks;

pub use artifacts::LocalArtifacts;
pub use sqlite::SqliteStore;
