//! The retraining workflow, the scheduler, the response policy and the orphan scanner, on the
//! embedded store with executor and evaluator doubles at their ports.

mod common;

use chrono::Duration;
use common::*;
use serde_json::{Value, json};
use tradai_domain::policy::{Event, Mode, PolicyConfig};
use tradai_domain::{
    Actor, IncidentStatus, ModelName, ModelStage, RetrainingStatus, Severity, StrategyConfig,
    StrategyId, TradingStatus,
};
use tradai_handlers::workflow::{self, State, Status};
use tradai_handlers::{invoke, policy};
use tradai_ports::TaskStatus;

fn m() -> ModelName {
    ModelName::new("PascalStrategy").unwrap()
}
fn sid(s: &str) -> StrategyId {
    StrategyId::new(s).unwrap()
}

/// v1 in Production, strategies S1 (running) and S2 (paused by a person) trading it.
async fn live(e: &TestEnv) {
    register(e, "PascalStrategy", 1).await;
    e.ctx
        .rb
        .model_promote(&m(), 1, &Actor::new("alice"), None)
        .await
        .unwrap();
    let alice = Actor::new("alice");
    for id in ["S1", "S2"] {
        let cfg = StrategyConfig {
            strategy_id: sid(id),
            model: m(),
            stake_amount: 100.0,
            max_open_trades: 2,
            pairs: vec!["BTC/USDT".into()],
            timeframe: "1h".into(),
        };
        e.ctx.rb.strategy_add(cfg, &alice).await.unwrap();
        e.ctx
            .rb
            .trading_set_status(&sid(id), TradingStatus::Running, &alice, "live")
            .await
            .unwrap();
    }
    e.ctx
        .rb
        .trading_set_status(
            &sid("S2"),
            TradingStatus::Paused,
            &alice,
            "checking something",
        )
        .await
        .unwrap();
    e.evaluator.set(1, 100.0, 1.0, 0.2, 0.5);
}

/// The training task "registers" v2 and exits 0.
async fn training_succeeds(e: &TestEnv) -> String {
    let task = e.fake_exec.launched().last().unwrap().clone();
    e.clock.advance(Duration::minutes(10));
    register(e, "PascalStrategy", 1).await;
    e.fake_exec.finish(&task.task_id, TaskStatus::Succeeded);
    task.task_id
}

/// What a crash leaves behind: the execution record as `x` says, written over revision `rev`
/// by hand (no workflow code ran to get it there).
async fn crash_at(e: &TestEnv, x: &workflow::Execution, rev: u64) {
    e.ctx
        .rb
        .store
        .write(tradai_ports::Write {
            table: tradai_ports::Table::WORKFLOW_STATE,
            key: tradai_ports::Key::pk(&x.execution_id),
            doc: Some(serde_json::to_value(x).unwrap()),
            expect: tradai_ports::Expect::Rev(rev),
            at: e.clock.now_utc(),
            audit: None,
        })
        .await
        .unwrap();
}

/// The runbook's forced retraining of PascalStrategy, through the scheduler: a training task
/// is launched (on the fake executor) and the workflow waits in RunRetraining.
async fn force_retraining(e: &TestEnv) {
    invoke(
        &e.ctx,
        "retraining-scheduler",
        json!({"models": ["PascalStrategy"], "force": true}),
    )
    .await
    .unwrap();
}

fn states(x: &workflow::Execution) -> Vec<State> {
    let mut s: Vec<State> = x.history.iter().map(|h| h.state).collect();
    s.dedup();
    s
}

#[tokio::test]
async fn significant_drift_runs_the_runbook_to_promotion_and_back() {
    let e = env();
    live(&e).await;
    let out = policy::on_event(
        &e.ctx,
        &m(),
        Event::Drift {
            severity: Severity::Significant,
        },
        "drift 2024-02-07T12:00:00Z",
    )
    .await
    .unwrap();
    let actions: Vec<(&str, &str)> = out
        .iter()
        .map(|o| (o.action.as_str(), o.status.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("open_incident", "done"),
            ("pause_strategies", "done"),
            ("retrain_now", "done"),
            ("notify", "done")
        ]
    );

    // S1 paused by the policy, S2 still paused by alice; a training task runs.
    let s1 = e.ctx.rb.trading_status(&sid("S1")).await.unwrap();
    assert_eq!(
        (s1.status, s1.updated_by.as_deref()),
        (TradingStatus::Paused, Some("policy"))
    );
    assert_eq!(
        e.ctx
            .rb
            .trading_status(&sid("S2"))
            .await
            .unwrap()
            .updated_by
            .as_deref(),
        Some("alice")
    );
    let launched = e.fake_exec.launched();
    assert_eq!(launched.len(), 1);
    assert_eq!(launched[0].spec.started_by, "tradai-retraining");
    assert_eq!(
        &launched[0].spec.command[launched[0].spec.command.len() - 2..],
        &["train".to_string(), "PascalStrategy".to_string()]
    );
    let rs = e.ctx.rb.retrain_state(&m()).await.unwrap().unwrap();
    assert_eq!(
        (rs.status, rs.task_id.as_deref()),
        (RetrainingStatus::Running, Some("task-1"))
    );
    assert_eq!(rs.trigger.as_deref(), Some("manual"));

    // Training finishes with a better v2: the daemon's tick carries the workflow to the end.
    training_succeeds(&e).await;
    e.evaluator.set(2, 120.0, 1.3, 0.15, 0.55);
    let done = workflow::resume_all(&e.ctx).await.unwrap();
    let x = &done[0];
    assert_eq!(x.status, Status::Succeeded);
    assert_eq!(
        states(x),
        vec![
            State::NormalizeInput,
            State::CheckRetrainingNeeded,
            State::EvaluateRetrainingNeed,
            State::RunRetraining,
            State::CompareModels,
            State::DecidePromotion,
            State::PromoteModel,
            State::UpdateRetrainingState,
            State::NotifyCompletion
        ]
    );
    assert_eq!(x.comparison.as_ref().unwrap()["decision"], "PROMOTE");
    assert_eq!(
        e.ctx
            .rb
            .model_serving(&m())
            .await
            .unwrap()
            .unwrap()
            .model_version,
        "2"
    );
    let rs = e.ctx.rb.retrain_state(&m()).await.unwrap().unwrap();
    assert_eq!(
        (rs.status, rs.version),
        (RetrainingStatus::Completed, Some(2))
    );
    assert!(rs.last_retrained.is_some());

    // The policy's follow-up: drift reset, S1 resumed, S2 left to alice, incident mitigated, watched.
    assert_eq!(e.ctx.rb.drift_show(&m()).await.unwrap().status, "reset");
    assert_eq!(
        e.ctx.rb.trading_status(&sid("S1")).await.unwrap().status,
        TradingStatus::Running
    );
    assert_eq!(
        e.ctx.rb.trading_status(&sid("S2")).await.unwrap().status,
        TradingStatus::Paused
    );
    let inc = e.ctx.rb.incident_list(None).await.unwrap().remove(0);
    assert_eq!(inc.status, IncidentStatus::Mitigated);
    let story = e.ctx.rb.incident_show(&inc.id).await.unwrap();
    let texts: Vec<String> = story.timeline.iter().map(|t| t.text.clone()).collect();
    for needle in [
        "pause_strategies: paused S1",
        "retrain_now",
        "reset_drift",
        "resume_strategies: resumed S1; left paused: S2 (paused by alice)",
        "mitigate_incident",
    ] {
        assert!(
            texts.iter().any(|t| t.contains(needle)),
            "{needle} missing from {texts:#?}"
        );
    }
    assert_eq!(policy::watches(&e.ctx).await.unwrap().len(), 1);
    let audit = e.ctx.rb.audit(None, Some("S1".into()), None).await.unwrap();
    assert!(audit.iter().any(|a| {
        a.action == "trading.pause"
            && a.actor == "policy"
            && a.reason
                .as_deref()
                .unwrap_or("")
                .contains("significant drift")
    }));
}

#[tokio::test]
async fn a_worse_challenger_is_kept_and_trading_stays_paused() {
    let e = env();
    live(&e).await;
    policy::on_event(
        &e.ctx,
        &m(),
        Event::Drift {
            severity: Severity::Significant,
        },
        "drift",
    )
    .await
    .unwrap();
    training_succeeds(&e).await;
    e.evaluator.set(2, 50.0, 0.5, 0.4, 0.3);
    let x = workflow::resume_all(&e.ctx).await.unwrap().remove(0);
    assert_eq!(x.status, Status::Succeeded);
    assert!(states(&x).contains(&State::KeepCurrentModel));
    assert_eq!(
        e.ctx
            .rb
            .model_serving(&m())
            .await
            .unwrap()
            .unwrap()
            .model_version,
        "1"
    );
    assert_eq!(
        e.ctx.rb.model_version(&m(), 2).await.unwrap().stage,
        ModelStage::Staging
    );
    assert_eq!(
        e.ctx.rb.trading_status(&sid("S1")).await.unwrap().status,
        TradingStatus::Paused
    );
    assert!(
        e.log
            .sent
            .lock()
            .unwrap()
            .iter()
            .any(|n| n.title.contains("not promoted (Kept)"))
    );
}

#[tokio::test]
async fn a_failed_training_notifies_error_and_keeps_the_model() {
    let e = env();
    live(&e).await;
    let out = invoke(
        &e.ctx,
        "retraining-scheduler",
        json!({"models": [{"name": "PascalStrategy"}], "force": true}),
    )
    .await
    .unwrap();
    golden("retraining_scheduler_triggered", &out);
    assert_eq!(
        out["data"]["summary"],
        json!({"models_evaluated": 1, "retraining_triggered": 1, "skipped": 0, "errors": 0})
    );
    assert_eq!(out["data"]["results"][0]["task_arn"], "task-1");
    assert_eq!(out["environment"], "dev");
    // Asked again while it trains: skipped, with the reason.
    let again = invoke(
        &e.ctx,
        "retraining-scheduler",
        json!({"models": [{"name": "PascalStrategy"}], "force": true}),
    )
    .await
    .unwrap();
    golden("retraining_scheduler_skipped", &again);
    e.fake_exec.finish("task-1", TaskStatus::Failed);
    let x = workflow::resume_all(&e.ctx).await.unwrap().remove(0);
    assert_eq!(x.status, Status::Failed);
    assert_eq!(*states(&x).last().unwrap(), State::NotifyFailure);
    assert_eq!(
        e.ctx.rb.retrain_state(&m()).await.unwrap().unwrap().status,
        RetrainingStatus::Failed
    );
    assert_eq!(
        e.ctx
            .rb
            .model_serving(&m())
            .await
            .unwrap()
            .unwrap()
            .model_version,
        "1"
    );
    let sent = e.log.sent.lock().unwrap();
    assert!(
        sent.iter()
            .any(|n| n.notification_type.as_str() == "RETRAINING_FAILED"
                && n.severity.as_str() == "ERROR")
    );
}

#[tokio::test]
async fn the_scheduler_never_launches_two_trainings_of_one_model() {
    let e = env();
    live(&e).await;
    let p = json!({"models": ["PascalStrategy"], "force": true});
    let (a, b, c) = tokio::join!(
        invoke(&e.ctx, "retraining-scheduler", p.clone()),
        invoke(&e.ctx, "retraining-scheduler", p.clone()),
        invoke(&e.ctx, "retraining-scheduler", p)
    );
    let triggered: usize = [a, b, c]
        .iter()
        .map(|r| {
            r.as_ref().unwrap()["data"]["summary"]["retraining_triggered"]
                .as_u64()
                .unwrap() as usize
        })
        .sum();
    assert_eq!(triggered, 1);
    assert_eq!(e.fake_exec.launched().len(), 1);
    // The runbook's payload without force: recently triggered → skipped with the contract's reason.
    training_succeeds(&e).await;
    e.evaluator.set(2, 120.0, 1.3, 0.15, 0.55);
    workflow::resume_all(&e.ctx).await.unwrap();
    e.clock.advance(Duration::hours(12) + Duration::minutes(30));
    let out = invoke(
        &e.ctx,
        "retraining-scheduler",
        json!({"models": [{"name": "PascalStrategy"}], "force": false}),
    )
    .await
    .unwrap();
    let r = &out["data"]["results"][0];
    assert_eq!(
        (
            r["status"].as_str(),
            r["reason"].as_str(),
            r["retraining_triggered"].as_bool()
        ),
        (Some("skipped"), Some("recently_retrained"), Some(false))
    );
    assert_eq!(r["hours_since_last"], 12.5);
}

#[tokio::test]
async fn a_restarted_daemon_resumes_every_state() {
    let e = env();
    live(&e).await;
    force_retraining(&e).await;
    // "Crash": the process is gone while the task runs. A new context on the same store resumes.
    let x = workflow::list(&e.ctx).await.unwrap().remove(0);
    assert_eq!((x.state, x.status), (State::RunRetraining, Status::Running));
    let still = workflow::resume_all(&e.ctx).await.unwrap().remove(0);
    assert_eq!(
        still.state,
        State::RunRetraining,
        "waits while the task runs"
    );
    training_succeeds(&e).await;
    e.evaluator.set(2, 120.0, 1.3, 0.15, 0.55);
    // Crash right after CompareModels was persisted: put the execution back there by hand.
    let (mut x, rev) = workflow::get(&e.ctx, &still.execution_id).await.unwrap();
    x.state = State::CompareModels;
    x.new_version = Some(2);
    crash_at(&e, &x, rev).await;
    let done = workflow::resume_all(&e.ctx).await.unwrap().remove(0);
    assert_eq!(done.status, Status::Succeeded);
    assert_eq!(
        e.ctx
            .rb
            .model_serving(&m())
            .await
            .unwrap()
            .unwrap()
            .model_version,
        "2"
    );
    // Nothing left running, and a second resume is a no-op.
    assert!(workflow::resume_all(&e.ctx).await.unwrap().is_empty());
}

/// A crash can leave an execution persisted in any of the 13 states, running. Whatever the
/// state, the next daemon resumes it to an end (succeeded, failed or skipped) — never stuck
/// running — and the registry stays whole: one Production version, the serving pointer on it.
#[tokio::test]
async fn an_execution_left_running_in_any_state_is_resumed_to_an_end() {
    for state in State::ALL {
        let e = env();
        live(&e).await;
        force_retraining(&e).await;
        training_succeeds(&e).await;
        e.evaluator.set(2, 120.0, 1.3, 0.15, 0.55);
        let done = workflow::resume_all(&e.ctx).await.unwrap().remove(0);
        assert_eq!(done.status, Status::Succeeded);

        // The crash: the execution's record says `state`, running, with the dead process's
        // lease still on it.
        let (mut x, rev) = workflow::get(&e.ctx, &done.execution_id).await.unwrap();
        x.state = state;
        x.status = Status::Running;
        crash_at(&e, &x, rev).await;

        // The next daemons: each resumes what is left; a training task it starts ends.
        let mut end = None;
        for _ in 0..4 {
            e.clock.advance(Duration::hours(1));
            workflow::resume_all(&e.ctx).await.unwrap();
            let (now, _) = workflow::get(&e.ctx, &x.execution_id).await.unwrap();
            if now.status != Status::Running {
                end = Some(now);
                break;
            }
            if e.fake_exec
                .launched()
                .iter()
                .any(|t| t.status == TaskStatus::Running)
            {
                training_succeeds(&e).await;
            }
        }
        let end = end.unwrap_or_else(|| panic!("left in {state:?}: still running after 4 resumes"));
        assert!(
            matches!(
                end.status,
                Status::Succeeded | Status::Failed | Status::Skipped
            ),
            "{state:?}: {:?}",
            end.status
        );
        let versions = e.ctx.rb.model_versions(&m()).await.unwrap();
        let production: Vec<u64> = versions
            .iter()
            .filter(|v| v.stage == ModelStage::Production)
            .map(|v| v.version)
            .collect();
        let serving = e.ctx.rb.model_serving(&m()).await.unwrap().unwrap();
        assert_eq!(production.len(), 1, "{state:?}: Production {production:?}");
        assert_eq!(
            serving.model_version,
            production[0].to_string(),
            "{state:?}: the pointer names the Production version"
        );
        // The retraining state is not left claimed by the execution.
        let r = e.ctx.rb.retrain_state(&m()).await.unwrap().unwrap();
        assert!(!r.status.in_progress(), "{state:?}: {r:?}");
    }
}

#[tokio::test]
async fn a_task_launched_before_a_crash_is_adopted_not_launched_twice() {
    let e = env();
    live(&e).await;
    let x = workflow::start(
        &e.ctx,
        workflow::Input {
            model_name: "PascalStrategy".into(),
            force: true,
            manual_trigger: false,
            config_version_id: Some("cfg-7".into()),
            overrides: Value::Null,
        },
    )
    .await
    .unwrap();
    let x = workflow::advance_as(&e.ctx, &x.0.execution_id, &x.1)
        .await
        .unwrap();
    assert_eq!(x.task_id.as_deref(), Some("task-1"));
    // Simulate the crash between launch and persisting the task id.
    let (mut y, rev) = workflow::get(&e.ctx, &x.execution_id).await.unwrap();
    y.task_id = None;
    let doc = serde_json::to_value(&y).unwrap();
    e.ctx
        .rb
        .store
        .write(tradai_ports::Write {
            table: tradai_ports::Table::WORKFLOW_STATE,
            key: tradai_ports::Key::pk(&y.execution_id),
            doc: Some(doc),
            expect: tradai_ports::Expect::Rev(rev),
            at: e.clock.now_utc(),
            audit: None,
        })
        .await
        .unwrap();
    let z = workflow::advance(&e.ctx, &x.execution_id).await.unwrap();
    assert_eq!(z.task_id.as_deref(), Some("task-1"));
    assert_eq!(e.fake_exec.launched().len(), 1);
    assert_eq!(z.input.config_version_id.as_deref(), Some("cfg-7"));
    let cmd = &e.fake_exec.launched()[0].spec.command;
    assert_eq!(
        &cmd[cmd.len() - 4..],
        &["train", "PascalStrategy", "--config-version-id", "cfg-7"]
    );
}

#[tokio::test]
async fn invalid_models_and_skips_end_cleanly() {
    let e = env();
    let out = invoke(
        &e.ctx,
        "retraining-workflow",
        json!({"model_name": "bad name"}),
    )
    .await
    .unwrap();
    golden("retraining_workflow_invalid_model", &out);
    assert_eq!(out["status"], "failed");
    let s: Vec<&str> = out["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert!(
        s.contains(&"HandleInvalidModel") && s.ends_with(&["NotifyFailure"]),
        "{s:?}"
    );
    live(&e).await;
    e.ctx
        .rb
        .retrain_update(&m(), &Actor::system(), "x", None, |_| {
            Ok(tradai_runbook::RetrainingState {
                last_retrained: Some(e.clock.now_utc() - Duration::hours(1)),
                ..tradai_runbook::RetrainingState::idle(m(), e.clock.now_utc())
            })
        })
        .await
        .unwrap();
    let out = invoke(
        &e.ctx,
        "retraining-workflow",
        json!({"model_name": "PascalStrategy"}),
    )
    .await
    .unwrap();
    golden("retraining_workflow_skipped", &out);
    assert_eq!(out["status"], "skipped");
    assert_eq!(out["state"], "SkipRetraining");
}

#[tokio::test]
async fn approvals_wait_for_a_person() {
    let cfg = tradai_runbook::Config {
        policy: PolicyConfig {
            significant_pause: Mode::Approve,
            significant_retrain: Mode::Off,
            ..Default::default()
        },
        ..Default::default()
    };
    let e = env_with(cfg);
    live(&e).await;
    let out = policy::on_event(
        &e.ctx,
        &m(),
        Event::Drift {
            severity: Severity::Significant,
        },
        "drift",
    )
    .await
    .unwrap();
    assert_eq!(out[1].status, "awaiting_approval");
    assert_eq!(
        e.ctx.rb.trading_status(&sid("S1")).await.unwrap().status,
        TradingStatus::Running
    );
    let pending = policy::approvals(&e.ctx, true).await.unwrap();
    assert_eq!(pending.len(), 1);
    let a = policy::approve(&e.ctx, &pending[0].id, &Actor::new("bob"), Some("agreed"))
        .await
        .unwrap();
    assert_eq!(a.status, "approved");
    let s1 = e.ctx.rb.trading_status(&sid("S1")).await.unwrap();
    assert_eq!(
        (s1.status, s1.updated_by.as_deref()),
        (TradingStatus::Paused, Some("bob"))
    );
    assert!(
        policy::approve(&e.ctx, &pending[0].id, &Actor::new("bob"), None)
            .await
            .is_err()
    );
    assert!(
        e.fake_exec.launched().is_empty(),
        "retraining is off in this policy"
    );
}

#[tokio::test]
async fn orphan_scanner_reports_then_stops() {
    let e = env();
    live(&e).await;
    force_retraining(&e).await;
    let out = invoke(&e.ctx, "orphan-scanner", json!({})).await.unwrap();
    assert_eq!(out["orphans"], json!([]));
    e.clock.advance(Duration::hours(7));
    let out = invoke(&e.ctx, "orphan-scanner", json!({})).await.unwrap();
    assert_eq!(out["dry_run"], true);
    assert_eq!(out["orphans"][0]["reason"], "exceeded_max_runtime");
    assert_eq!(out["orphans"][0]["stopped"], false);
    assert_eq!(e.fake_exec.launched()[0].status, TaskStatus::Running);
    golden("orphan_scanner_dry_run", &out);
    let out = invoke(&e.ctx, "orphan-scanner", json!({"dry_run": false}))
        .await
        .unwrap();
    golden("orphan_scanner_stopped", &out);
    assert_eq!(out["orphans"][0]["stopped"], true);
    assert_eq!(e.fake_exec.launched()[0].status, TaskStatus::Cancelled);
}

#[tokio::test]
async fn compare_models_golden() {
    let e = env();
    live(&e).await;
    register(&e, "PascalStrategy", 1).await;
    e.evaluator.set(1, 100.0, 1.0, 0.2, 0.5);
    e.evaluator.set(2, 115.5, 1.2, 0.15, 0.55);
    let mut out = invoke(&e.ctx, "compare-models", json!({"model_name": "PascalStrategy", "champion_version": "Production", "challenger_version": "Staging"})).await.unwrap();
    assert_eq!(out["details"]["rules"].as_array().unwrap().len(), 4);
    out.as_object_mut().unwrap().remove("details");
    assert_eq!(
        out,
        json!({"decision": "PROMOTE", "confidence": 1.0, "profit_improvement": 15.5,
        "recommendation": "Promote the challenger: it wins 100% of 4 weighted rules", "champion_version": "1", "challenger_version": "2"})
    );
    let out = invoke(
        &e.ctx,
        "compare-models",
        json!({"model_name": "PascalStrategy", "champion_version": "1", "challenger_version": "7"}),
    )
    .await
    .unwrap();
    assert_eq!(out["decision"], "KEEP");
    assert!(
        out["recommendation"]
            .as_str()
            .unwrap()
            .contains("no backtest for version 7")
    );
}

trait NowUtc {
    fn now_utc(&self) -> chrono::DateTime<chrono::Utc>;
}
impl NowUtc for tradai_ports::ManualClock {
    fn now_utc(&self) -> chrono::DateTime<chrono::Utc> {
        tradai_ports::Clock::now(self)
    }
}

#[tokio::test]
async fn one_advancer_at_a_time_and_an_abandoned_lease_expires() {
    let e = env();
    live(&e).await;
    let input = workflow::Input {
        model_name: "PascalStrategy".into(),
        force: true,
        manual_trigger: false,
        config_version_id: None,
        overrides: Value::Null,
    };
    let (x, owner) = workflow::start(&e.ctx, input).await.unwrap();
    // Another advancer (the daemon) finds it leased to its starter and leaves it alone.
    let other = workflow::advance(&e.ctx, &x.execution_id).await.unwrap();
    assert_eq!(other.state, State::NormalizeInput);
    assert!(e.fake_exec.launched().is_empty());
    // The starter crashes without advancing; once the lease expires the daemon takes over.
    e.clock.advance(workflow::LEASE + Duration::seconds(1));
    let (a, b) = tokio::join!(
        workflow::advance(&e.ctx, &x.execution_id),
        workflow::advance(&e.ctx, &x.execution_id)
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(
        e.fake_exec.launched().len(),
        1,
        "two advancers, one training task"
    );
    let _ = owner;
}
