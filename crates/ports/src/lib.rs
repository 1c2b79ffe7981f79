//! Ports: the boundaries between tradai's logic and the outside world.
//!
//! Architecture invariant: only traits and plain data live here. The state port is shaped like
//! DynamoDB on purpose — every state change is one conditional write of one item, reads are a
//! get by key or a query within one partition — so that the embedded SQLite adapter, a
//! PostgreSQL adapter and a DynamoDB adapter can all implement it without joins or cross-table
//! transactions.
#![forbid(unsafe_code)]

pub mod artifacts;
pub mod clock;
pub mod evaluate;
pub mod experiments;
pub mod notify;
pub mod state;
pub mod tasks;

pub use artifacts::{ArtifactError, ArtifactInfo, ArtifactStore};
pub use clock::{Clock, ManualClock, SystemClock};
pub use evaluate::{Evaluation, Evaluator};
pub use experiments::{ExperimentTracker, Run, RunFilter};
pub use notify::{Channel, DeliveryError, Notification, NotificationType};
pub use state::{
    AuditEntry, AuditQuery, Expect, Item, Key, Query, StateStore, StoreError, Table, Write,
};
pub use tasks::{RETRAINING_STARTED_BY, TaskError, TaskExecutor, TaskInfo, TaskSpec, TaskStatus};
