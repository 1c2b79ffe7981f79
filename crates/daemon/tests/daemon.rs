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
        deliver_inline: true,
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

/// A channel that never answers: a webhook whose server accepted the connection and hangs.
struct Hanging;

#[async_trait]
impl tradai_ports::Channel for Hanging {
    fn name(&self) -> &str {
        "hanging"
    }
    async fn deliver(
        &self,
        _: &tradai_ports::Notification,
    ) -> Result<(), tradai_ports::DeliveryError> {
        std::future::pending().await
    }
}

/// While a channel hangs, the daemon's loop goes on: the heartbeat check runs twice (the
/// second raises the alarm), and its notification waits in the outbox for the pump.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_channel_does_not_hold_the_control_loop() {
    use tradai_domain::{Actor, ModelName, StrategyConfig, StrategyId, TradingStatus};
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2024, 2, 7, 12, 0, 0).unwrap(),
    ));
    let mut c = ctx(&tmp, clock.clone());
    // The hanging channel first: the log channel behind it must still get its deliveries.
    c.channels = vec![Arc::new(Hanging), Arc::new(LogChannel)];
    let alice = Actor::new("alice");
    c.rb.strategy_add(
        StrategyConfig {
            strategy_id: StrategyId::new("S1").unwrap(),
            model: ModelName::new("M").unwrap(),
            stake_amount: 10.0,
            max_open_trades: 1,
            pairs: vec!["BTC/USDT".into()],
            timeframe: "1h".into(),
        },
        &alice,
    )
    .await
    .unwrap();
    c.rb.trading_set_status(
        &StrategyId::new("S1").unwrap(),
        TradingStatus::Running,
        &alice,
        "live",
    )
    .await
    .unwrap();
    let watcher = c.clone();
    let daemon = Daemon::new(c).unwrap();
    let (tick_clock, deadline) = (
        clock.clone(),
        std::time::Instant::now() + std::time::Duration::from_secs(20),
    );
    // The shutdown: once the heartbeat alarm fired (two checks, a minute of market time
    // apart), or the deadline passed.
    let fired = async move {
        loop {
            tick_clock.advance(Duration::minutes(1));
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let alarms = tradai_handlers::alarms::list(&watcher).await.unwrap();
            let alarm = alarms
                .iter()
                .any(|a| a.name == "tradai-dev-heartbeat-stale" && a.state.to_string() == "ALARM");
            let log_done = tradai_handlers::notify::pending(&watcher)
                .await
                .unwrap()
                .iter()
                .all(|q| q.channel != "log");
            if (alarm && log_done) || std::time::Instant::now() > deadline {
                return;
            }
        }
    };
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        daemon.run(std::time::Duration::from_millis(50), fired),
    )
    .await
    .expect("the daemon stops although a channel hangs");
    let mut probe = ctx(&tmp, clock);
    probe.channels = vec![Arc::new(Hanging), Arc::new(LogChannel)];
    let alarms = tradai_handlers::alarms::list(&probe).await.unwrap();
    assert!(
        alarms
            .iter()
            .any(|a| a.name == "tradai-dev-heartbeat-stale" && a.state.to_string() == "ALARM"),
        "the heartbeat check ran on while the channel hung: {alarms:?}"
    );
    let queued = tradai_handlers::notify::pending(&probe).await.unwrap();
    assert!(
        queued.iter().any(|q| q.channel == "hanging"),
        "the alert waits in the outbox"
    );
    assert!(
        queued.iter().all(|q| q.channel != "log"),
        "the other channel got its alerts: {queued:?}"
    );
}
