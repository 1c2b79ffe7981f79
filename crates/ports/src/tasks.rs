//! Training tasks: launched by the scheduler, watched by the orphan scanner. Locally a child
//! process; on AWS an ECS task with `startedBy=tradai-retraining`.

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The `startedBy` tag of retraining tasks (contracts §1).
pub const RETRAINING_STARTED_BY: &str = "tradai-retraining";

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
    /// The process vanished without recording an end (killed, machine restarted).
    Lost,
}

impl TaskStatus {
    /// Whether the task has ended.
    pub fn is_final(self) -> bool {
        !matches!(self, TaskStatus::Pending | TaskStatus::Running)
    }
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The model the task trains (one task per model at a time).
    pub model: String,
    pub started_by: String,
    /// The command line the task runs (program first), e.g. `["/usr/bin/tradai", "train", "M"]`;
    /// on ECS the container command override.
    pub command: Vec<String>,
    pub timeout_secs: u64,
    /// Free-form reason shown by `tasks describe` (trigger, workflow trace id).
    #[serde(default)]
    pub note: String,
}

/// A task's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub task_id: String,
    #[serde(flatten)]
    pub spec: TaskSpec,
    pub status: TaskStatus,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Local: the supervising process id. ECS: none.
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Where the task's output goes (a file path, or a log stream name).
    pub log: String,
    #[serde(default)]
    pub error: Option<String>,
}

/// Executor failures.
#[derive(Debug, Error)]
pub enum TaskError {
    #[error("task '{0}' not found")]
    NotFound(String),
    #[error("cannot launch task: {0}")]
    Launch(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Launches and tracks training tasks.
#[async_trait]
pub trait TaskExecutor: Send + Sync {
    /// Starts a task; returns once it is recorded and launched (not when it finishes).
    async fn launch(&self, spec: TaskSpec) -> Result<TaskInfo, TaskError>;
    /// One task's record, refreshed (a vanished process becomes `lost`).
    async fn describe(&self, task_id: &str) -> Result<TaskInfo, TaskError>;
    /// Tasks, newest first, optionally by `started_by`.
    async fn list(&self, started_by: Option<&str>) -> Result<Vec<TaskInfo>, TaskError>;
    /// Stops a running task (SIGTERM locally, StopTask on ECS).
    async fn stop(&self, task_id: &str, reason: &str) -> Result<TaskInfo, TaskError>;
}
