//! A handler context on the real embedded adapters, with a manual clock and a recording
//! notification channel (a test double at the channel port).
#![allow(dead_code)]

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tradai_embedded::{LocalArtifacts, SqliteStore};
use tradai_handlers::Ctx;
use tradai_ports::{
    Channel, Clock, DeliveryError, Evaluation, Evaluator, ManualClock, Notification, TaskError,
    TaskExecutor, TaskInfo, TaskSpec, TaskStatus,
};
use tradai_runbook::experiments::StoreTracker;
use tradai_runbook::{Config, Runbook};

/// Records what it is asked to deliver; fails while `down` is set.
#[derive(Default)]
pub struct Recorder {
    pub name: String,
    pub sent: Mutex<Vec<Notification>>,
    pub down: Mutex<bool>,
}

#[async_trait]
impl Channel for Recorder {
    fn name(&self) -> &str {
        &self.name
    }
    async fn deliver(&self, n: &Notification) -> Result<(), DeliveryError> {
        if *self.down.lock().unwrap() {
            return Err(DeliveryError {
                channel: self.name.clone(),
                message: "down".into(),
            });
        }
        self.sent.lock().unwrap().push(n.clone());
        Ok(())
    }
}

/// An executor double: tasks live in memory and end when the test says so.
pub struct FakeExecutor {
    pub clock: Arc<ManualClock>,
    pub tasks: Mutex<Vec<TaskInfo>>,
}

impl FakeExecutor {
    pub fn finish(&self, id: &str, status: TaskStatus) {
        let mut tasks = self.tasks.lock().unwrap();
        let t = tasks.iter_mut().find(|t| t.task_id == id).unwrap();
        t.status = status;
        t.finished_at = Some(self.clock.now());
    }
    pub fn launched(&self) -> Vec<TaskInfo> {
        self.tasks.lock().unwrap().clone()
    }
}

#[async_trait]
impl TaskExecutor for FakeExecutor {
    async fn launch(&self, spec: TaskSpec) -> Result<TaskInfo, TaskError> {
        let mut tasks = self.tasks.lock().unwrap();
        let t = TaskInfo {
            task_id: format!("task-{}", tasks.len() + 1),
            spec,
            status: TaskStatus::Running,
            created_at: self.clock.now(),
            started_at: Some(self.clock.now()),
            finished_at: None,
            pid: None,
            exit_code: None,
            log: String::new(),
            error: None,
        };
        tasks.push(t.clone());
        Ok(t)
    }
    async fn describe(&self, id: &str) -> Result<TaskInfo, TaskError> {
        self.tasks
            .lock()
            .unwrap()
            .iter()
            .find(|t| t.task_id == id)
            .cloned()
            .ok_or_else(|| TaskError::NotFound(id.into()))
    }
    async fn list(&self, started_by: Option<&str>) -> Result<Vec<TaskInfo>, TaskError> {
        Ok(self
            .tasks
            .lock()
            .unwrap()
            .iter()
            .filter(|t| started_by.is_none_or(|s| t.spec.started_by == s))
            .cloned()
            .collect())
    }
    async fn stop(&self, id: &str, reason: &str) -> Result<TaskInfo, TaskError> {
        let mut tasks = self.tasks.lock().unwrap();
        let t = tasks
            .iter_mut()
            .find(|t| t.task_id == id)
            .ok_or_else(|| TaskError::NotFound(id.into()))?;
        t.status = TaskStatus::Cancelled;
        t.error = Some(reason.into());
        Ok(t.clone())
    }
}

/// An evaluator double returning fixed metrics per version.
#[derive(Default)]
pub struct FakeEvaluator {
    pub metrics: Mutex<BTreeMap<u64, BTreeMap<String, f64>>>,
}

impl FakeEvaluator {
    pub fn set(&self, version: u64, profit: f64, sharpe: f64, dd: f64, win: f64) {
        let m = [
            ("profit_total", profit),
            ("sharpe_ratio", sharpe),
            ("max_drawdown", dd),
            ("win_rate", win),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        self.metrics.lock().unwrap().insert(version, m);
    }
}

#[async_trait]
impl Evaluator for FakeEvaluator {
    async fn evaluate(
        &self,
        _model: &str,
        champion: u64,
        challenger: u64,
    ) -> Result<Evaluation, String> {
        let m = self.metrics.lock().unwrap();
        let get = |v: u64| {
            m.get(&v)
                .cloned()
                .ok_or_else(|| format!("no backtest for version {v}"))
        };
        let t = Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap();
        Ok(Evaluation {
            window_start: t,
            window_end: t + chrono::Duration::days(7),
            champion: get(champion)?,
            challenger: get(challenger)?,
        })
    }
}

pub struct TestEnv {
    pub tmp: tempfile::TempDir,
    pub ctx: Ctx,
    pub clock: Arc<ManualClock>,
    pub log: Arc<Recorder>,
    pub slack: Arc<Recorder>,
    pub fake_exec: Arc<FakeExecutor>,
    pub evaluator: Arc<FakeEvaluator>,
}

pub fn env_with(config: Config) -> TestEnv {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&tmp.path().join("tradai.db"), "dev").unwrap());
    let arts = Arc::new(LocalArtifacts::open(&tmp.path().join("artifacts")).unwrap());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2024, 2, 7, 12, 0, 0).unwrap(),
    ));
    let rb = Runbook::new(store.clone(), arts, clock.clone(), Arc::new(config));
    let log = Arc::new(Recorder {
        name: "log".into(),
        ..Default::default()
    });
    let slack = Arc::new(Recorder {
        name: "slack".into(),
        ..Default::default()
    });
    let fake_exec = Arc::new(FakeExecutor {
        clock: clock.clone(),
        tasks: Mutex::new(vec![]),
    });
    let evaluator = Arc::new(FakeEvaluator::default());
    let ctx = Ctx {
        rb,
        channels: vec![log.clone(), slack.clone()],
        tracker: Arc::new(StoreTracker::new(store)),
        executor: fake_exec.clone(),
        evaluator: evaluator.clone(),
        tradai_command: vec![
            "tradai".into(),
            "--home".into(),
            tmp.path().display().to_string(),
        ],
        deliver_inline: true,
    };
    TestEnv {
        tmp,
        ctx,
        clock,
        log,
        slack,
        fake_exec,
        evaluator,
    }
}

pub fn env() -> TestEnv {
    env_with(Config::default())
}

/// Registers `n` versions of `model` (tiny artifacts).
pub async fn register(e: &TestEnv, model: &str, n: usize) {
    let src = e.tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("manifest.json"), "{}").unwrap();
    let m = tradai_domain::ModelName::new(model).unwrap();
    for _ in 0..n {
        e.ctx
            .rb
            .model_register(
                &m,
                &src,
                Default::default(),
                &tradai_domain::Actor::new("alice"),
            )
            .await
            .unwrap();
    }
}

/// Keys whose values differ from run to run (sortable ids carry a process-wide counter).
const VOLATILE: &[&str] = &["execution_id", "trace_id", "latency_ms"];

fn mask(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if VOLATILE.contains(&k.as_str()) && !x.is_null() {
                    *x = serde_json::Value::String("<volatile>".into());
                } else {
                    mask(x);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(mask),
        _ => {}
    }
}

/// Compares a handler's whole output with `tests/golden/{name}.json` (ids masked). Run with
/// `UPDATE_GOLDEN=1` to rewrite the file after a deliberate contract change, then review the diff.
pub fn golden(name: &str, actual: &serde_json::Value) {
    let mut actual = actual.clone();
    mask(&mut actual);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (create it with UPDATE_GOLDEN=1)", path.display()));
    let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        actual,
        expected,
        "{name}: output differs from {}:\n{}",
        path.display(),
        serde_json::to_string_pretty(&actual).unwrap()
    );
}
