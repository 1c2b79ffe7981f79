//! The daemon's schedule, watches and instance lock, on the embedded adapters.

use async_trait::async_trait;
use chrono::{Duration, TimeZone, Utc};
use std::sync::Arc;
use tradai_daemon::{Daemon, DaemonError, InstanceLock};
use tradai_embedded::notify::LogChannel;
use tradai_embedded::tasks::LocalExecutor;
use tradai_embedded::{LocalArtifacts, SqliteStore};
use tradai_handlers::Ctx;
use tradai_ports::{Clock, Evaluation, Evaluator, Expect, Key, ManualClock, Table, Write};
use tradai_runbook::experiments::StoreTracker;
use tradai_runbook::{Config, Runbook};

/// Evaluation is not exercised here: a double that always declines.
struct NoEvaluator;

#[async_trait]
impl Evaluator for NoEvaluator {
    async fn evaluate(&self, _: &str, _: u64, _: u64) -> Result<Evaluation, String> {
        Err("not available in this test".into())
    }
}

fn ctx(tmp: &tempfile::TempDir, clock: Arc<ManualClock>) -> Ctx {
    let store = Arc::new(SqliteStore::open(&tmp.path().join("tradai.db"), "dev").unwrap());
    let arts = Arc::new(LocalArtifacts::open(&tmp.path().join("artifacts")).unwrap());
    let rb = Runbook::new(
        store.clone(),
        arts,
        clock.clone(),
        Arc::new(Config::default()),
    );
    Ctx {
        rb,
        channels: vec![Arc::new(LogChannel)],
        tracker: Arc::new(StoreTracker::new(store.clone())),
        executor: Arc::new(LocalExecutor::new(
            store,
            clock as Arc<dyn Clock>,
            vec!["tradai".into()],
            tmp.path().join("logs"),
        )),
        evaluator: Arc::new(NoEvaluator),
        tradai_command: vec!["tradai".into()],
    }
}

fn names(r: &tradai_daemon::TickReport) -> Vec<String> {
    let mut v: Vec<String> = r.ran.iter().map(|(h, _)| h.clone()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn handlers_run_when_their_schedule_is_due() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2024, 2, 7, 12, 0, 0).unwrap(),
    ));
    let mut d = Daemon::new(ctx(&tmp, clock.clone())).unwrap();
    assert!(d.tick().await.ran.is_empty());
    clock.advance(Duration::minutes(1));
    assert_eq!(names(&d.tick().await), vec!["heartbeat-check"]);
    clock.advance(Duration::seconds(30));
    assert!(d.tick().await.ran.is_empty());
    clock.advance(Duration::minutes(59));
    let r = d.tick().await;
    assert_eq!(
        names(&r),
        vec!["drift-monitor", "heartbeat-check", "orphan-scanner"]
    );
    assert!(
        r.ran.iter().all(|(_, out)| out.get("error").is_none()),
        "{:?}",
        r.ran
    );
    clock.advance(Duration::days(1));
    assert!(names(&d.tick().await).contains(&"retraining-scheduler".to_string()));
}

#[tokio::test]
async fn watched_models_are_checked_at_the_watch_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2024, 2, 7, 12, 0, 0).unwrap(),
    ));
    let c = ctx(&tmp, clock.clone());
    let now = clock.now();
    let watch = serde_json::json!({"model_name": "M", "until": now + Duration::hours(48), "interval_minutes": 15, "since": now});
    c.rb.store
        .write(Write {
            table: Table::WATCHES,
            key: Key::pk("M"),
            doc: Some(watch),
            expect: Expect::Absent,
            at: now,
            audit: None,
        })
        .await
        .unwrap();
    let mut d = Daemon::new(c).unwrap();
    assert_eq!(names(&d.tick().await), vec!["drift-monitor (watch)"]);
    let watch_runs = |r: &tradai_daemon::TickReport| {
        r.ran
            .iter()
            .filter(|(h, _)| h == "drift-monitor (watch)")
            .count()
    };
    clock.advance(Duration::minutes(10));
    assert_eq!(watch_runs(&d.tick().await), 0);
    clock.advance(Duration::minutes(5));
    assert_eq!(watch_runs(&d.tick().await), 1);
    // After the watch ends, only the regular schedule remains.
    clock.advance(Duration::hours(49));
    assert!(!names(&d.tick().await).contains(&"drift-monitor (watch)".to_string()));
}

#[test]
fn one_daemon_per_home() {
    let tmp = tempfile::tempdir().unwrap();
    let lock = InstanceLock::acquire(tmp.path()).unwrap();
    match InstanceLock::acquire(tmp.path()) {
        Err(DaemonError::Locked { pid, .. }) => assert_eq!(pid, std::process::id().to_string()),
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(lock);
    assert!(InstanceLock::acquire(tmp.path()).is_ok());
}

#[test]
fn a_bad_schedule_is_refused_with_its_name() {
    let e = Config::load(
        Some(("t.toml", "[schedules]\ndrift_monitor = \"hourly\"\n")),
        &Default::default(),
        &[],
    )
    .unwrap_err();
    assert!(e.to_string().contains("schedule 'hourly'"), "{e}");
}
