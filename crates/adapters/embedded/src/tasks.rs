//! [`TaskExecutor`] with local processes.
//!
//! `launch` records the task (`pending`) and starts a detached supervisor — `tradai task-run ID`
//! in its own process group, output to `{home}/logs/tasks/{ID}.log` — and returns. The
//! supervisor ([`supervise`]) marks the task `running` with its pid, runs the command, enforces
//! the timeout, forwards a stop (SIGTERM) to the command, and records how it ended. Because the
//! record lives in the state store, any process can describe, list or stop a task, and a
//! supervisor that vanished (killed, reboot) is detected as `lost` by its dead pid.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tradai_ports::state::new_id;
use tradai_ports::{
    Clock, Expect, Key, StateStore, StoreError, Table, TaskError, TaskExecutor, TaskInfo, TaskSpec,
    TaskStatus, Write,
};

/// Local child-process executor.
#[derive(Clone)]
pub struct LocalExecutor {
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    /// The supervisor's command line before `task-run ID` (e.g. `[tradai, --home, H, --env, dev]`).
    supervisor: Vec<String>,
    log_dir: PathBuf,
}

fn decode(item: tradai_ports::Item) -> Result<TaskInfo, StoreError> {
    serde_json::from_value(item.doc).map_err(|e| StoreError::Corrupt {
        table: Table::TASKS.to_string(),
        key: item.key.to_string(),
        message: e.to_string(),
    })
}

pub(crate) async fn load(store: &dyn StateStore, id: &str) -> Result<(TaskInfo, u64), TaskError> {
    let item = store
        .get(Table::TASKS, &Key::pk(id))
        .await?
        .ok_or_else(|| TaskError::NotFound(id.to_string()))?;
    let rev = item.rev;
    Ok((decode(item)?, rev))
}

/// How an executor brings a stored task record up to date (is its process still there?).
#[async_trait]
pub(crate) trait Refresh: Sync {
    async fn refresh(&self, t: TaskInfo, rev: u64) -> Result<TaskInfo, TaskError>;
}

/// `describe` of an executor: the record, refreshed.
pub(crate) async fn describe_with(
    store: &dyn StateStore,
    r: &dyn Refresh,
    id: &str,
) -> Result<TaskInfo, TaskError> {
    let (t, rev) = load(store, id).await?;
    r.refresh(t, rev).await
}

/// `list` of an executor: the records (optionally of one `started_by`), refreshed, newest first.
pub(crate) async fn list_with(
    store: &dyn StateStore,
    r: &dyn Refresh,
    started_by: Option<&str>,
) -> Result<Vec<TaskInfo>, TaskError> {
    let mut out = Vec::new();
    for (t, rev) in scan(store, started_by).await? {
        out.push(r.refresh(t, rev).await?);
    }
    out.sort_by_key(|t| std::cmp::Reverse(t.created_at));
    Ok(out)
}

/// Records that a task's process ended without recording how: `lost`, with the reason. If
/// someone changed the record meanwhile, theirs is returned.
pub(crate) async fn record_lost(
    store: &dyn StateStore,
    clock: &dyn Clock,
    mut t: TaskInfo,
    rev: u64,
    why: String,
) -> Result<TaskInfo, TaskError> {
    let now = clock.now();
    t.status = TaskStatus::Lost;
    t.finished_at = Some(now);
    t.error = Some(why);
    if !save(store, &t, Expect::Rev(rev), now).await? {
        return Ok(load(store, &t.task_id).await?.0);
    }
    Ok(t)
}

/// Task records (with their revisions), optionally only those started by `started_by`.
pub(crate) async fn scan(
    store: &dyn StateStore,
    started_by: Option<&str>,
) -> Result<Vec<(TaskInfo, u64)>, TaskError> {
    let mut out = Vec::new();
    for item in store.scan(Table::TASKS).await? {
        let rev = item.rev;
        let t = decode(item)?;
        if started_by.is_none_or(|s| t.spec.started_by == s) {
            out.push((t, rev));
        }
    }
    Ok(out)
}

/// Records a stop: the task becomes `cancelled` unless it already ended (then it is returned
/// as it is, `false`). Retries on a concurrent change; the caller then ends the work itself.
pub(crate) async fn record_cancelled(
    store: &dyn StateStore,
    clock: &dyn Clock,
    task_id: &str,
    reason: &str,
) -> Result<(TaskInfo, bool), TaskError> {
    loop {
        let (mut t, rev) = load(store, task_id).await?;
        if t.status.is_final() {
            return Ok((t, false));
        }
        let now = clock.now();
        t.status = TaskStatus::Cancelled;
        t.finished_at = Some(now);
        t.error = Some(format!("stopped: {reason}"));
        if save(store, &t, Expect::Rev(rev), now).await? {
            return Ok((t, true));
        }
    }
}

/// Writes a task record if it is still at `rev`; returns false if someone else changed it.
pub(crate) async fn save(
    store: &dyn StateStore,
    t: &TaskInfo,
    expect: Expect,
    at: DateTime<Utc>,
) -> Result<bool, TaskError> {
    let doc = serde_json::to_value(t).map_err(|e| TaskError::Launch(e.to_string()))?;
    match store
        .write(Write {
            table: Table::TASKS,
            key: Key::pk(&t.task_id),
            doc: Some(doc),
            expect,
            at,
            audit: None,
        })
        .await
    {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Whether a process with this pid exists.
pub fn alive(pid: u32) -> bool {
    // Signal 0 sends nothing; EPERM means the process exists but is not ours to signal.
    i32::try_from(pid).is_ok_and(|p| {
        !matches!(
            kill(Pid::from_raw(p), None),
            Err(nix::errno::Errno::ESRCH) | Err(nix::errno::Errno::EINVAL)
        )
    })
}

impl LocalExecutor {
    /// An executor whose supervisors run as `supervisor… task-run ID`, logging under `log_dir`.
    pub fn new(
        store: Arc<dyn StateStore>,
        clock: Arc<dyn Clock>,
        supervisor: Vec<String>,
        log_dir: PathBuf,
    ) -> Self {
        LocalExecutor {
            store,
            clock,
            supervisor,
            log_dir,
        }
    }
}

#[async_trait]
impl Refresh for LocalExecutor {
    /// Marks a task whose supervisor died as `lost`.
    async fn refresh(&self, t: TaskInfo, rev: u64) -> Result<TaskInfo, TaskError> {
        if !t.status.is_final()
            && let Some(pid) = t.pid
            && !alive(pid)
        {
            let why = format!("supervisor process {pid} is gone without recording an end");
            return record_lost(&*self.store, &*self.clock, t, rev, why).await;
        }
        Ok(t)
    }
}

#[async_trait]
impl TaskExecutor for LocalExecutor {
    async fn launch(&self, spec: TaskSpec) -> Result<TaskInfo, TaskError> {
        if spec.command.is_empty() {
            return Err(TaskError::Launch("empty command".into()));
        }
        let now = self.clock.now();
        let task_id = format!("task-{}", new_id(now).to_ascii_lowercase());
        std::fs::create_dir_all(&self.log_dir)
            .map_err(|e| TaskError::Launch(format!("{}: {e}", self.log_dir.display())))?;
        let log = self.log_dir.join(format!("{task_id}.log"));
        let mut t = TaskInfo {
            task_id: task_id.clone(),
            spec,
            status: TaskStatus::Pending,
            created_at: now,
            started_at: None,
            finished_at: None,
            pid: None,
            exit_code: None,
            log: log.display().to_string(),
            error: None,
        };
        save(&*self.store, &t, Expect::Absent, now).await?;
        let spawned = (|| {
            let out = std::fs::File::create(&log)?;
            let err = out.try_clone()?;
            let mut cmd = tokio::process::Command::new(&self.supervisor[0]);
            cmd.args(&self.supervisor[1..])
                .arg("task-run")
                .arg(&task_id);
            cmd.stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .process_group(0)
                .kill_on_drop(false);
            cmd.spawn()
        })();
        match spawned {
            Ok(child) => {
                // Detached: the supervisor records everything; tokio reaps it if we outlive it.
                drop(child);
                tracing::info!(task = %task_id, log = %log.display(), "training task launched");
                Ok(load(&*self.store, &task_id).await?.0)
            }
            Err(e) => {
                t.status = TaskStatus::Failed;
                t.error = Some(format!(
                    "cannot start supervisor {}: {e}",
                    self.supervisor[0]
                ));
                t.finished_at = Some(now);
                save(&*self.store, &t, Expect::Anything, now).await?;
                Err(TaskError::Launch(t.error.unwrap_or_default()))
            }
        }
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
        if let Some(pid) = t.pid
            && t.log != crate::inprocess::IN_PROCESS_LOG
            && let Ok(p) = i32::try_from(pid)
        {
            // The supervisor leads its own process group: signal the group, command included.
            let _ = kill(Pid::from_raw(-p), Signal::SIGTERM);
        }
        Ok(t)
    }
}

/// The supervisor: runs task `task_id` to its end and records how it ended. Returns the final
/// record. Called by `tradai task-run ID` in the detached process `launch` starts.
pub async fn supervise(
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    task_id: &str,
) -> Result<TaskInfo, TaskError> {
    let (mut t, rev) = load(&*store, task_id).await?;
    if t.status != TaskStatus::Pending {
        return Err(TaskError::Launch(format!(
            "task {task_id} is {:?}, not pending",
            t.status
        )));
    }
    let now = clock.now();
    t.status = TaskStatus::Running;
    t.started_at = Some(now);
    t.pid = Some(std::process::id());
    if !save(&*store, &t, Expect::Rev(rev), now).await? {
        return Err(TaskError::Launch(format!(
            "task {task_id} changed before it started"
        )));
    }
    let (_, rev) = load(&*store, task_id).await?;
    let mut cmd = tokio::process::Command::new(&t.spec.command[0]);
    cmd.args(&t.spec.command[1..])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let outcome = match cmd.spawn() {
        Err(e) => (
            TaskStatus::Failed,
            None,
            Some(format!("cannot start {}: {e}", t.spec.command[0])),
        ),
        Ok(mut child) => {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .map_err(|e| TaskError::Launch(format!("cannot watch SIGTERM: {e}")))?;
            let timeout = tokio::time::sleep(Duration::from_secs(t.spec.timeout_secs));
            tokio::select! {
                status = child.wait() => match status {
                    Ok(s) if s.success() => (TaskStatus::Succeeded, s.code(), None),
                    Ok(s) => (TaskStatus::Failed, s.code(), Some(format!("exited with {s}"))),
                    Err(e) => (TaskStatus::Failed, None, Some(format!("wait failed: {e}"))),
                },
                _ = timeout => {
                    let _ = child.kill().await;
                    (TaskStatus::TimedOut, None, Some(format!("timed out after {} s", t.spec.timeout_secs)))
                }
                _ = term.recv() => {
                    let _ = child.kill().await;
                    (TaskStatus::Cancelled, None, Some("stopped (SIGTERM)".to_string()))
                }
            }
        }
    };
    let now = clock.now();
    t.status = outcome.0;
    t.exit_code = outcome.1;
    t.error = outcome.2;
    t.finished_at = Some(now);
    // If `stop` already recorded the cancellation, keep its record.
    if !save(&*store, &t, Expect::Rev(rev), now).await? {
        return Ok(load(&*store, task_id).await?.0);
    }
    tracing::info!(task = %task_id, status = ?t.status, "training task ended");
    Ok(t)
}
