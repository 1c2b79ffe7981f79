//! The local executor's supervisor and liveness checks with real processes.

use chrono::{TimeZone, Utc};
use std::sync::Arc;
use tradai_embedded::SqliteStore;
use tradai_embedded::tasks::{LocalExecutor, supervise};
use tradai_ports::{
    Clock, Expect, Key, ManualClock, StateStore, Table, TaskExecutor, TaskInfo, TaskSpec,
    TaskStatus, Write,
};

fn setup() -> (tempfile::TempDir, Arc<dyn StateStore>, Arc<dyn Clock>) {
    let tmp = tempfile::tempdir().unwrap();
    let store: Arc<dyn StateStore> =
        Arc::new(SqliteStore::open(&tmp.path().join("t.db"), "dev").unwrap());
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
    ));
    (tmp, store, clock)
}

async fn pending(
    store: &dyn StateStore,
    id: &str,
    command: &[&str],
    timeout_secs: u64,
    pid: Option<u32>,
) {
    record(store, id, command, timeout_secs, pid, "/dev/null").await;
}

/// A sleeping process leading its own process group, as a task's supervisor does.
fn group_leader() -> std::process::Child {
    use std::os::unix::process::CommandExt;
    std::process::Command::new("sleep")
        .arg("600")
        .process_group(0)
        .spawn()
        .unwrap()
}

fn executor(
    tmp: &tempfile::TempDir,
    store: &Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
) -> LocalExecutor {
    LocalExecutor::new(
        store.clone(),
        clock,
        vec!["tradai".into()],
        tmp.path().join("logs"),
    )
}

async fn record(
    store: &dyn StateStore,
    id: &str,
    command: &[&str],
    timeout_secs: u64,
    pid: Option<u32>,
    log: &str,
) {
    let t = TaskInfo {
        task_id: id.into(),
        spec: TaskSpec {
            model: "M".into(),
            started_by: "tradai-retraining".into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            timeout_secs,
            note: String::new(),
        },
        status: if pid.is_some() {
            TaskStatus::Running
        } else {
            TaskStatus::Pending
        },
        created_at: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
        started_at: None,
        finished_at: None,
        pid,
        exit_code: None,
        log: log.into(),
        error: None,
    };
    let w = Write {
        table: Table::TASKS,
        key: Key::pk(id),
        doc: Some(serde_json::to_value(&t).unwrap()),
        expect: Expect::Absent,
        at: t.created_at,
        audit: None,
    };
    store.write(w).await.unwrap();
}

#[tokio::test]
async fn a_task_that_succeeds_or_fails_records_its_exit() {
    let (_tmp, store, clock) = setup();
    pending(&*store, "ok", &["true"], 60, None).await;
    pending(&*store, "bad", &["sh", "-c", "exit 3"], 60, None).await;
    pending(&*store, "nope", &["/no/such/program"], 60, None).await;
    let ok = supervise(store.clone(), clock.clone(), "ok").await.unwrap();
    assert_eq!((ok.status, ok.exit_code), (TaskStatus::Succeeded, Some(0)));
    assert_eq!(ok.pid, Some(std::process::id()));
    let bad = supervise(store.clone(), clock.clone(), "bad")
        .await
        .unwrap();
    assert_eq!((bad.status, bad.exit_code), (TaskStatus::Failed, Some(3)));
    let nope = supervise(store.clone(), clock.clone(), "nope")
        .await
        .unwrap();
    assert_eq!(nope.status, TaskStatus::Failed);
    assert!(nope.error.unwrap().contains("/no/such/program"));
    // A task runs once.
    assert!(supervise(store.clone(), clock, "ok").await.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_task_past_its_timeout_is_killed() {
    let (_tmp, store, clock) = setup();
    pending(&*store, "slow", &["sleep", "600"], 5, None).await;
    let t = supervise(store, clock, "slow").await.unwrap();
    assert_eq!(t.status, TaskStatus::TimedOut);
}

#[tokio::test]
async fn a_task_whose_supervisor_vanished_is_lost_and_can_be_listed() {
    let (tmp, store, clock) = setup();
    // A pid that existed and is gone: a finished child of ours.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    pending(&*store, "ghost", &["true"], 60, Some(dead)).await;
    pending(&*store, "live", &["true"], 60, Some(std::process::id())).await;
    let exec = LocalExecutor::new(
        store.clone(),
        clock,
        vec!["tradai".into()],
        tmp.path().join("logs"),
    );
    assert_eq!(
        exec.describe("ghost").await.unwrap().status,
        TaskStatus::Lost
    );
    assert_eq!(
        exec.describe("live").await.unwrap().status,
        TaskStatus::Running
    );
    assert_eq!(exec.list(Some("tradai-retraining")).await.unwrap().len(), 2);
    assert!(exec.list(Some("someone-else")).await.unwrap().is_empty());
    assert!(matches!(
        exec.describe("missing").await,
        Err(tradai_ports::TaskError::NotFound(_))
    ));
}

#[tokio::test]
async fn launching_with_a_missing_supervisor_fails_cleanly() {
    let (tmp, store, clock) = setup();
    let exec = LocalExecutor::new(
        store.clone(),
        clock,
        vec!["/no/such/tradai".into()],
        tmp.path().join("logs"),
    );
    let spec = TaskSpec {
        model: "M".into(),
        started_by: "tradai-retraining".into(),
        command: vec!["true".into()],
        timeout_secs: 60,
        note: String::new(),
    };
    let e = exec.launch(spec).await.unwrap_err().to_string();
    assert!(e.contains("/no/such/tradai"), "{e}");
    let all = exec.list(None).await.unwrap();
    assert_eq!(all[0].status, TaskStatus::Failed);
}

#[tokio::test]
async fn stop_cancels_the_record_and_signals_the_tasks_process_group() {
    use std::os::unix::process::ExitStatusExt;
    let (tmp, store, clock) = setup();
    let mut child = group_leader();
    pending(&*store, "long", &["sleep", "600"], 3600, Some(child.id())).await;
    let exec = executor(&tmp, &store, clock);
    assert_eq!(
        exec.describe("long").await.unwrap().status,
        TaskStatus::Running
    );
    let t = exec.stop("long", "operator request").await.unwrap();
    assert_eq!(t.status, TaskStatus::Cancelled);
    assert_eq!(t.error.as_deref(), Some("stopped: operator request"));
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(15),
        "the process got SIGTERM: {status:?}"
    );
    // The cancellation stays; stopping again changes nothing.
    let again = exec.stop("long", "twice").await.unwrap();
    assert_eq!(again.error.as_deref(), Some("stopped: operator request"));
    assert_eq!(
        exec.describe("long").await.unwrap().status,
        TaskStatus::Cancelled
    );
}

#[tokio::test]
async fn stopping_an_in_process_task_from_another_executor_signals_nobody() {
    let (tmp, store, clock) = setup();
    // The record an in-process executor writes: the pid of the process that runs it (here a
    // sleeping group leader, so a wrong signal would be seen).
    let mut child = group_leader();
    record(
        &*store,
        "inproc",
        &["train", "M"],
        60,
        Some(child.id()),
        tradai_embedded::inprocess::IN_PROCESS_LOG,
    )
    .await;
    let stopped = executor(&tmp, &store, clock)
        .stop("inproc", "operator")
        .await
        .unwrap();
    assert_eq!(stopped.status, TaskStatus::Cancelled);
    // A signal would end the sleep within milliseconds; give it a bounded moment to show.
    for _ in 0..20 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the process running the task was signalled"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
