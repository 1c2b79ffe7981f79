//! The runbook's state steps end to end on the embedded store (real SQLite, real files).

use chrono::{Duration, TimeZone, Utc};
use std::sync::Arc;
use tradai_domain::{
    Actor, IncidentSeverity, IncidentStatus, ModelName, ModelStage, RollbackReason, StrategyConfig,
    StrategyId, TradingStatus,
};
use tradai_embedded::{LocalArtifacts, SqliteStore};
use tradai_ports::{Clock, ManualClock};
use tradai_runbook::incidents::NewIncident;
use tradai_runbook::registry::NewVersion;
use tradai_runbook::{Config, DriftState, Runbook, RunbookError};

struct Env {
    _tmp: tempfile::TempDir,
    rb: Runbook,
    clock: Arc<ManualClock>,
    artifact_src: std::path::PathBuf,
}

fn setup() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&tmp.path().join("tradai.db"), "dev").unwrap();
    let arts = LocalArtifacts::open(&tmp.path().join("artifacts/tradai-models-dev")).unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2024, 2, 7, 12, 0, 0).unwrap(),
    ));
    let rb = Runbook::new(
        Arc::new(store),
        Arc::new(arts),
        clock.clone(),
        Arc::new(Config::default()),
    );
    let artifact_src = tmp.path().join("model-src");
    std::fs::create_dir_all(&artifact_src).unwrap();
    std::fs::write(artifact_src.join("manifest.json"), b"{}").unwrap();
    Env {
        _tmp: tmp,
        rb,
        clock,
        artifact_src,
    }
}

fn sid(s: &str) -> StrategyId {
    StrategyId::new(s).unwrap()
}
fn mname(s: &str) -> ModelName {
    ModelName::new(s).unwrap()
}
fn alice() -> Actor {
    Actor::new("alice")
}

fn cfg(id: &str, model: &str) -> StrategyConfig {
    StrategyConfig {
        strategy_id: sid(id),
        model: mname(model),
        stake_amount: 100.0,
        max_open_trades: 3,
        pairs: vec!["BTC/USDT:USDT".into()],
        timeframe: "1h".into(),
    }
}

#[tokio::test]
async fn pause_resume_and_stake_are_audited_and_guarded() {
    let e = setup();
    e.rb.strategy_add(cfg("S1", "M"), &alice()).await.unwrap();
    assert!(matches!(
        e.rb.strategy_add(cfg("S1", "M"), &alice()).await,
        Err(RunbookError::Exists { .. })
    ));
    assert_eq!(
        e.rb.trading_status(&sid("S1")).await.unwrap().status,
        TradingStatus::Stopped
    );

    e.rb.trading_set_status(
        &sid("S1"),
        TradingStatus::Warmup,
        &Actor::system(),
        "runner start",
    )
    .await
    .unwrap();
    e.rb.trading_set_status(&sid("S1"), TradingStatus::Running, &Actor::system(), "warm")
        .await
        .unwrap();
    let c =
        e.rb.trading_set_status(
            &sid("S1"),
            TradingStatus::Paused,
            &alice(),
            "significant drift",
        )
        .await
        .unwrap();
    assert!(c.changed);
    assert_eq!(c.before, TradingStatus::Running);
    assert_eq!(c.after.updated_by.as_deref(), Some("alice"));
    // Pausing again is a no-op that keeps the first pauser.
    let again =
        e.rb.trading_set_status(&sid("S1"), TradingStatus::Paused, &Actor::policy(), "x")
            .await
            .unwrap();
    assert!(!again.changed);
    assert_eq!(again.after.updated_by.as_deref(), Some("alice"));

    let (before, after) =
        e.rb.strategy_set_stake(&sid("S1"), 50.0, &alice(), Some("moderate drift"))
            .await
            .unwrap();
    assert_eq!(
        (
            before.config.stake_amount,
            after.config.stake_amount,
            after.config_version
        ),
        (100.0, 50.0, 2)
    );
    let hist = e.rb.strategy_history(&sid("S1")).await.unwrap();
    assert_eq!(
        hist.iter()
            .map(|h| h.config.stake_amount)
            .collect::<Vec<_>>(),
        vec![100.0, 50.0]
    );

    // Bad input changes nothing.
    assert!(matches!(
        e.rb.strategy_set_stake(&sid("S1"), 0.0, &alice(), None)
            .await,
        Err(RunbookError::Invalid(_))
    ));
    assert!(matches!(
        e.rb.strategy_set_stake(&sid("nope"), 5.0, &alice(), None)
            .await,
        Err(RunbookError::NotFound { .. })
    ));
    e.rb.trading_set_status(&sid("S1"), TradingStatus::Terminated, &alice(), "retired")
        .await
        .unwrap();
    let err =
        e.rb.trading_set_status(&sid("S1"), TradingStatus::Running, &alice(), "resume")
            .await
            .unwrap_err();
    assert!(
        err.is_usage() && err.to_string().contains("terminated -> running"),
        "{err}"
    );
    assert_eq!(
        e.rb.strategy_show(&sid("S1"))
            .await
            .unwrap()
            .config
            .stake_amount,
        50.0
    );

    let audit = e.rb.audit(None, Some("S1".into()), None).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert!(
        actions.contains(&"trading.pause") && actions.contains(&"strategy.set_stake"),
        "{actions:?}"
    );
    let pause = audit.iter().find(|a| a.action == "trading.pause").unwrap();
    assert_eq!(pause.before.as_ref().unwrap()["status"], "running");
    assert_eq!(pause.after.as_ref().unwrap()["status"], "paused");
    assert_eq!(pause.reason.as_deref(), Some("significant drift"));
}

#[tokio::test]
async fn register_promote_rollback_move_version_and_path_together() {
    let e = setup();
    let m = mname("PascalStrategy");
    let v1 =
        e.rb.model_register(&m, &e.artifact_src, NewVersion::default(), &alice())
            .await
            .unwrap();
    assert_eq!((v1.version, v1.stage), (1, ModelStage::Staging));
    assert!(
        v1.artifact_path
            .ends_with("tradai-models-dev/PascalStrategy/1/"),
        "{}",
        v1.artifact_path
    );
    let p1 = e.rb.model_promote(&m, 1, &alice(), None).await.unwrap();
    assert_eq!(p1.archived_version, None);
    e.clock.advance(Duration::hours(1));
    e.rb.model_register(&m, &e.artifact_src, NewVersion::default(), &alice())
        .await
        .unwrap();
    let p2 = e.rb.model_promote(&m, 2, &alice(), None).await.unwrap();
    assert_eq!(p2.archived_version.as_deref(), Some("1"));
    assert!(
        e.rb.model_promote(&m, 2, &alice(), None)
            .await
            .unwrap()
            .already_promoted
    );

    let ptr = e.rb.model_serving(&m).await.unwrap().unwrap();
    assert_eq!(ptr.model_version, "2");
    assert!(ptr.model_path.ends_with("/PascalStrategy/2/"));
    assert_eq!(
        e.rb.model_previous_version(&m)
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );

    let preview =
        e.rb.model_rollback(
            &m,
            None,
            RollbackReason::ManualRequest,
            None,
            true,
            &alice(),
        )
        .await
        .unwrap();
    assert!(!preview.rolled_back && preview.dry_run);
    assert_eq!(
        e.rb.model_serving(&m).await.unwrap().unwrap().model_version,
        "2"
    );

    let rb =
        e.rb.model_rollback(
            &m,
            None,
            RollbackReason::PerformanceDegradation,
            Some("tradai-dev-drift-significant"),
            false,
            &alice(),
        )
        .await
        .unwrap();
    assert_eq!(
        (rb.from_version.as_str(), rb.to_version.as_str()),
        ("2", "1")
    );
    let ptr = e.rb.model_serving(&m).await.unwrap().unwrap();
    assert_eq!(ptr.model_version, "1");
    assert!(ptr.model_path.ends_with("/PascalStrategy/1/"));
    let stages: Vec<ModelStage> =
        e.rb.model_versions(&m)
            .await
            .unwrap()
            .iter()
            .map(|v| v.stage)
            .collect();
    assert_eq!(stages, vec![ModelStage::Production, ModelStage::Archived]);

    // Cooldown: refused at 23h59, allowed at exactly 24h.
    e.clock.advance(Duration::hours(24) - Duration::minutes(1));
    let err =
        e.rb.model_rollback(
            &m,
            Some(2),
            RollbackReason::ManualRequest,
            None,
            false,
            &alice(),
        )
        .await
        .unwrap_err();
    assert!(
        err.is_usage() && err.to_string().contains("ROLLBACK_COOLDOWN_HOURS=24"),
        "{err}"
    );
    e.clock.advance(Duration::minutes(1));
    e.rb.model_rollback(
        &m,
        Some(2),
        RollbackReason::ManualRequest,
        None,
        false,
        &alice(),
    )
    .await
    .unwrap();
    let show = e.rb.model_show(&m).await.unwrap();
    assert_eq!(show.last_rollback.unwrap().count, 2);
}

#[tokio::test]
async fn stages_follow_a_pointer_edited_by_hand() {
    let e = setup();
    let m = mname("M");
    for _ in 0..2 {
        e.rb.model_register(&m, &e.artifact_src, NewVersion::default(), &alice())
            .await
            .unwrap();
    }
    e.rb.model_promote(&m, 2, &alice(), None).await.unwrap();
    // The runbook's manual form: set version and path on the registry item directly.
    let item =
        e.rb.store
            .get(
                tradai_ports::Table::MODEL_REGISTRY,
                &tradai_ports::Key::pk("M"),
            )
            .await
            .unwrap()
            .unwrap();
    let mut doc = item.doc.clone();
    doc["model_version"] = "1".into();
    e.rb.store
        .write(tradai_ports::Write {
            table: tradai_ports::Table::MODEL_REGISTRY,
            key: item.key,
            doc: Some(doc),
            expect: tradai_ports::Expect::Rev(item.rev),
            at: e.clock.now(),
            audit: None,
        })
        .await
        .unwrap();
    assert_eq!(e.rb.model_reconcile(&m).await.unwrap(), 2);
    let stages: Vec<ModelStage> =
        e.rb.model_versions(&m)
            .await
            .unwrap()
            .iter()
            .map(|v| v.stage)
            .collect();
    assert_eq!(stages, vec![ModelStage::Production, ModelStage::Archived]);
}

#[tokio::test]
async fn a_failed_upload_registers_nothing() {
    let e = setup();
    let m = mname("M");
    let missing = e.artifact_src.join("does-not-exist");
    let err =
        e.rb.model_register(&m, &missing, NewVersion::default(), &alice())
            .await
            .unwrap_err();
    assert!(
        err.is_usage() && err.to_string().contains("does-not-exist"),
        "{err}"
    );
    assert!(e.rb.model_versions(&m).await.unwrap().is_empty());
}

#[tokio::test]
async fn drift_state_is_recorded_shown_and_reset() {
    let e = setup();
    let m = mname("M");
    assert!(matches!(
        e.rb.drift_show(&m).await,
        Err(RunbookError::NotFound { .. })
    ));
    let state = DriftState {
        model_name: m.clone(),
        status: "analyzed".into(),
        severity: tradai_domain::Severity::Significant,
        overall_psi: Some(0.35),
        max_psi: Some(0.45),
        psi: [("profit_total".to_string(), 0.45)].into_iter().collect(),
        requires_attention: true,
        result: serde_json::json!({"model_name": "M", "overall_psi": 0.35}),
        updated_at: e.clock.now(),
        updated_by: "drift-monitor".into(),
        reason: None,
    };
    e.rb.drift_record(state, &Actor::system()).await.unwrap();
    assert_eq!(e.rb.drift_show(&m).await.unwrap().overall_psi, Some(0.35));
    e.clock.advance(Duration::hours(2));
    let reset =
        e.rb.drift_reset(&m, &alice(), "retrained v2 promoted")
            .await
            .unwrap();
    assert_eq!(
        (reset.status.as_str(), reset.severity),
        ("reset", tradai_domain::Severity::None)
    );
    assert_eq!(reset.result["overall_psi"], 0.35);
    let hist = e.rb.drift_history(&m, None).await.unwrap();
    assert_eq!(
        hist.iter().map(|h| h.status.as_str()).collect::<Vec<_>>(),
        vec!["reset", "analyzed"]
    );
    assert!(matches!(
        e.rb.drift_reset(&mname("Unknown"), &alice(), "x").await,
        Err(RunbookError::NotFound { .. })
    ));
}

#[tokio::test]
async fn incidents_tell_a_story() {
    let e = setup();
    let inc =
        e.rb.incident_open(
            NewIncident {
                title: "Significant drift on M".into(),
                model_name: Some(mname("M")),
                strategy_id: None,
                severity: IncidentSeverity::Critical,
            },
            &Actor::policy(),
        )
        .await
        .unwrap();
    assert_eq!(inc.id, "INC-1");
    e.clock.advance(Duration::minutes(5));
    e.rb.incident_note(
        "INC-1",
        &alice(),
        "note",
        "checked positions",
        serde_json::Value::Null,
    )
    .await
    .unwrap();
    e.rb.incident_set_status(
        "INC-1",
        IncidentStatus::Mitigated,
        &Actor::policy(),
        "v2 promoted",
    )
    .await
    .unwrap();
    let resolved =
        e.rb.incident_set_status(
            "INC-1",
            IncidentStatus::Resolved,
            &alice(),
            "stable for 48h",
        )
        .await
        .unwrap();
    assert_eq!(resolved.resolution.as_deref(), Some("stable for 48h"));
    let story = e.rb.incident_show("INC-1").await.unwrap();
    let kinds: Vec<&str> = story.timeline.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, vec!["opened", "note", "status", "status"]);
    assert!(
        e.rb.incident_set_status("INC-1", IncidentStatus::Mitigated, &alice(), "x")
            .await
            .is_err()
    );
    assert!(matches!(
        e.rb.incident_note("INC-9", &alice(), "note", "x", serde_json::Value::Null)
            .await,
        Err(RunbookError::NotFound { .. })
    ));
    let open =
        e.rb.incident_open(
            NewIncident {
                title: "second".into(),
                model_name: None,
                strategy_id: None,
                severity: IncidentSeverity::Warning,
            },
            &alice(),
        )
        .await
        .unwrap();
    assert_eq!(open.id, "INC-2");
    assert_eq!(
        e.rb.incident_list(Some(IncidentStatus::Open))
            .await
            .unwrap()
            .len(),
        1
    );
}
