//! A handler context on the real embedded adapters, with a manual clock and a recording
//! notification channel (a test double at the channel port).
#![allow(dead_code)]

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use std::sync::{Arc, Mutex};
use tradai_embedded::tasks::LocalExecutor;
use tradai_embedded::{LocalArtifacts, SqliteStore};
use tradai_handlers::Ctx;
use tradai_ports::{Channel, Clock, DeliveryError, ManualClock, Notification};
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

pub struct TestEnv {
    pub tmp: tempfile::TempDir,
    pub ctx: Ctx,
    pub clock: Arc<ManualClock>,
    pub log: Arc<Recorder>,
    pub slack: Arc<Recorder>,
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
    let executor = Arc::new(LocalExecutor::new(
        store.clone(),
        clock.clone() as Arc<dyn Clock>,
        vec!["tradai".into()],
        tmp.path().join("logs"),
    ));
    let ctx = Ctx {
        rb,
        channels: vec![log.clone(), slack.clone()],
        tracker: Arc::new(StoreTracker::new(store)),
        executor,
    };
    TestEnv {
        tmp,
        ctx,
        clock,
        log,
        slack,
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
