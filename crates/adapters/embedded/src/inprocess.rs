//! [`TaskExecutor`] that runs tasks inside this process, as tokio tasks.
//!
//! For a single-process setup where a child process would not share the caller's clock or
//! state handles: `tradai demo` runs its retraining tasks this way on its compressed market
//! clock. The record keeping is the child-process executor's (same table, same statuses), so
//! `tradai tasks list` and the orphan scanner see these tasks like any other; a task whose
//! process ended before it did is reported `lost` by whoever looks next.

use crate::tasks::{Refresh, describe_with, list_with, load, record_cancelled, record_lost, save};
use async_trait::async_trait;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::AbortHandle;
use tradai_ports::state::new_id;
use tradai_ports::{
    Clock, Expect, StateStore, TaskError, TaskExecutor, TaskInfo, TaskSpec, TaskStatus,
};

/// The `log` of an in-process task's record. Its `pid` is the process that runs it — not a
/// supervisor leading a process group of its own — so the child-process executor must never
/// signal it: a `tradai tasks stop` from another process only records the stop.
pub const IN_PROCESS_LOG: &str = "in-process (this process's log)";

/// The work of one task: its spec in, `Err(message)` when it failed.
pub type TaskBody =
    Arc<dyn Fn(TaskSpec) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// In-process executor.
#[derive(Clone)]
pub struct InProcessExecutor {
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    body: TaskBody,
    running: Arc<Mutex<HashMap<String, AbortHandle>>>,
}

impl InProcessExecutor {
    /// An executor that runs every launched task's spec through `body`.
    pub fn new(store: Arc<dyn StateStore>, clock: Arc<dyn Clock>, body: TaskBody) -> Self {
        InProcessExecutor {
            store,
            clock,
            body,
            running: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn is_running_here(&self, id: &str) -> bool {
        self.running
            .lock()
            .map(|m| m.contains_key(id))
            .unwrap_or(false)
    }
}

/// Records how a task ended unless someone (a stop) recorded it first.
async fn finish(
    store: &dyn StateStore,
    clock: &dyn Clock,
    id: &str,
    status: TaskStatus,
    error: Option<String>,
) -> Result<(), TaskError> {
    loop {
        let (mut t, rev) = load(store, id).await?;
        if t.status.is_final() {
            return Ok(());
        }
        let now = clock.now();
        t.status = status;
        t.exit_code = Some(if status == TaskStatus::Succeeded {
            0
        } else {
            1
        });
        t.error = error.clone();
        t.finished_at = Some(now);
        if save(store, &t, Expect::Rev(rev), now).await? {
            tracing::info!(task = %id, status = ?status, "in-process task ended");
            return Ok(());
        }
    }
}

#[async_trait]
impl Refresh for InProcessExecutor {
    /// A task that is not final but not running in this process ended with its process.
    async fn refresh(&self, t: TaskInfo, rev: u64) -> Result<TaskInfo, TaskError> {
        let ours = t.pid == Some(std::process::id());
        if !t.status.is_final() && ours && !self.is_running_here(&t.task_id) {
            let why = "the in-process task ended without recording an end".to_string();
            return record_lost(&*self.store, &*self.clock, t, rev, why).await;
        }
        Ok(t)
    }
}

#[async_trait]
impl TaskExecutor for InProcessExecutor {
    async fn launch(&self, spec: TaskSpec) -> Result<TaskInfo, TaskError> {
        if spec.command.is_empty() {
            return Err(TaskError::Launch("empty command".into()));
        }
        let now = self.clock.now();
        let task_id = format!("task-{}", new_id(now).to_ascii_lowercase());
        let t = TaskInfo {
            task_id: task_id.clone(),
            spec: spec.clone(),
            status: TaskStatus::Running,
            created_at: now,
            started_at: Some(now),
            finished_at: None,
            pid: Some(std::process::id()),
            exit_code: None,
            log: IN_PROCESS_LOG.into(),
            error: None,
        };
        save(&*self.store, &t, Expect::Absent, now).await?;
        let work = (self.body)(spec.clone());
        let (store, clock, running, id) = (
            self.store.clone(),
            self.clock.clone(),
            self.running.clone(),
            task_id.clone(),
        );
        let timeout = Duration::from_secs(spec.timeout_secs.max(1));
        // Hold the map while spawning so the task cannot remove its entry before it is added.
        let mut map = self
            .running
            .lock()
            .map_err(|_| TaskError::Launch("task table lock poisoned".into()))?;
        let handle = tokio::spawn(async move {
            let (status, error) = match tokio::time::timeout(timeout, work).await {
                Ok(Ok(())) => (TaskStatus::Succeeded, None),
                Ok(Err(e)) => (TaskStatus::Failed, Some(e)),
                Err(_) => (
                    TaskStatus::TimedOut,
                    Some(format!("timed out after {} s", timeout.as_secs())),
                ),
            };
            if let Err(e) = finish(&*store, &*clock, &id, status, error).await {
                tracing::error!(task = %id, error = %e, "cannot record the task's end");
            }
            if let Ok(mut m) = running.lock() {
                m.remove(&id);
            }
        });
        map.insert(task_id.clone(), handle.abort_handle());
        drop(map);
        tracing::info!(task = %task_id, "in-process task launched");
        Ok(t)
    }

    async fn describe(&self, task_id: &str) -> Result<TaskInfo, TaskError> {
        describe_with(&*self.store, self, task_id).await
    }

    async fn list(&self, started_by: Option<&str>) -> Result<Vec<TaskInfo>, TaskError> {
        list_with(&*self.store, self, started_by).await
    }

    async fn stop(&self, task_id: &str, reason: &str) -> Result<TaskInfo, TaskError> {
        let (t, cancelled) = record_cancelled(&*self.store, &*self.clock, task_id, reason).await?;
        if !cancelled {
            return Ok(t);
        }
        if let Ok(mut m) = self.running.lock()
            && let Some(h) = m.remove(task_id)
        {
            h.abort();
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;
    use tradai_ports::ManualClock;

    fn spec(cmd: &str) -> TaskSpec {
        TaskSpec {
            model: "m1".into(),
            started_by: "test".into(),
            command: vec![cmd.into()],
            timeout_secs: 5,
            note: String::new(),
        }
    }

    fn executor(body: TaskBody) -> (InProcessExecutor, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db"), "test").unwrap();
        let clock = ManualClock::new(chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap());
        (
            InProcessExecutor::new(Arc::new(store), Arc::new(clock), body),
            dir,
        )
    }

    async fn wait_final(x: &InProcessExecutor, id: &str) -> TaskInfo {
        for _ in 0..500 {
            let t = x.describe(id).await.unwrap();
            if t.status.is_final() {
                return t;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("task {id} did not finish");
    }

    #[tokio::test]
    async fn records_success_and_failure_from_the_body() {
        let body: TaskBody = Arc::new(|s: TaskSpec| {
            Box::pin(async move {
                if s.command[0] == "ok" {
                    Ok(())
                } else {
                    Err(format!("{} failed", s.command[0]))
                }
            })
        });
        let (x, _d) = executor(body);
        let ok = x.launch(spec("ok")).await.unwrap();
        let bad = x.launch(spec("boom")).await.unwrap();
        assert_eq!(
            wait_final(&x, &ok.task_id).await.status,
            TaskStatus::Succeeded
        );
        let b = wait_final(&x, &bad.task_id).await;
        assert_eq!(b.status, TaskStatus::Failed);
        assert_eq!(b.error.as_deref(), Some("boom failed"));
        assert_eq!(x.list(Some("test")).await.unwrap().len(), 2);
        assert!(x.list(Some("other")).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn stop_cancels_a_running_task_and_keeps_the_cancellation() {
        let body: TaskBody = Arc::new(|_| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            })
        });
        let (x, _d) = executor(body);
        let t = x.launch(spec("slow")).await.unwrap();
        assert_eq!(
            x.describe(&t.task_id).await.unwrap().status,
            TaskStatus::Running
        );
        let s = x.stop(&t.task_id, "operator").await.unwrap();
        assert_eq!(s.status, TaskStatus::Cancelled);
        let again = x.describe(&t.task_id).await.unwrap();
        assert_eq!(again.status, TaskStatus::Cancelled);
        assert_eq!(again.error.as_deref(), Some("stopped: operator"));
    }

    #[tokio::test]
    async fn a_task_of_this_process_that_is_not_running_is_lost() {
        let body: TaskBody = Arc::new(|_| Box::pin(async { Ok(()) }));
        let (x, _d) = executor(body.clone());
        let t = x.launch(spec("ok")).await.unwrap();
        wait_final(&x, &t.task_id).await;
        // A record left running by this process, which no executor here runs any more.
        let mut left = t.clone();
        left.task_id = "task-left".into();
        left.status = TaskStatus::Running;
        left.finished_at = None;
        save(&*x.store, &left, Expect::Absent, left.created_at)
            .await
            .unwrap();
        let other = InProcessExecutor::new(x.store.clone(), x.clock.clone(), body);
        assert_eq!(
            other.describe("task-left").await.unwrap().status,
            TaskStatus::Lost
        );
    }
}
