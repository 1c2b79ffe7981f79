//! The demo scenario end to end, its milestones asserted from the store (not from printed text).

use chrono::{DateTime, Utc};
use tradai_demo::{Demo, DemoOptions, MODEL, STRATEGY, TimelineEntry};
use tradai_domain::{Actor, ModelName, RollbackReason, StrategyId};
use tradai_runbook::Runbook;

/// Intervals `[paused_at, resumed_at)` of the strategy, from the audit log.
async fn paused_intervals(rb: &Runbook) -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    let mut entries = rb
        .audit(None, Some(format!("trading-state/{STRATEGY}")), None)
        .await
        .unwrap();
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = Vec::new();
    for e in entries {
        let status = e
            .after
            .as_ref()
            .and_then(|a| a["status"].as_str())
            .unwrap_or("");
        let open = out.last().is_some_and(|(_, end)| end.is_none());
        match (status, open) {
            ("paused", false) => out.push((e.at, None)),
            ("paused", true) => {}
            (_, true) => {
                if let Some(last) = out.last_mut() {
                    last.1 = Some(e.at);
                }
            }
            _ => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_tells_the_runbook_story_and_the_store_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = DemoOptions::new(dir.path().join("demo"));
    opts.candle_delay = std::time::Duration::ZERO;
    let lines: std::cell::RefCell<Vec<TimelineEntry>> = Default::default();
    let mut out = |e: &TimelineEntry| {
        eprintln!("{} {:<14} {}", e.at.format("%m-%d %H:%M"), e.who, e.what);
        lines.borrow_mut().push(e.clone());
    };
    let mut demo = Demo::prepare(opts, &mut out).await.unwrap();
    let report = demo.play(&mut out).await.unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&report).unwrap());
    let rb = demo.runbook().clone();
    let model = ModelName::new(MODEL).unwrap();
    let strategy = StrategyId::new(STRATEGY).unwrap();

    // Drift rose through moderate to significant and the policy responded with an incident.
    assert_eq!(report.max_severity, "significant");
    let incident_id = report
        .incident_id
        .clone()
        .expect("the policy opened an incident");
    let story = rb.incident_show(&incident_id).await.unwrap();
    let has = |kind: &str, starts: &str| {
        story
            .timeline
            .iter()
            .any(|t| t.kind == kind && t.text.starts_with(starts))
    };
    assert!(has("action", "pause_strategies"), "{:#?}", story.timeline);
    assert!(has("action", "retrain_now"), "{:#?}", story.timeline);
    assert!(
        has("retrain", "retraining workflow"),
        "{:#?}",
        story.timeline
    );
    let challenger = report.challenger.expect("retraining produced a version");
    assert!(
        has("compare", "champion v")
            && story
                .timeline
                .iter()
                .any(|t| t.kind == "compare"
                    && t.text.contains(&format!("challenger v{challenger}"))),
        "{:#?}",
        story.timeline
    );
    assert!(
        story
            .timeline
            .iter()
            .any(|t| t.kind == "status" && t.data["status"] == "resolved"),
        "{:#?}",
        story.timeline
    );
    assert_eq!(story.incident.status.to_string(), "resolved");
    let moderate_seen = lines
        .borrow()
        .iter()
        .any(|l| l.who == "drift-monitor" && l.what.contains("→ moderate"));
    let drift_history = rb.drift_history(&model, None).await.unwrap();
    assert!(
        moderate_seen
            || drift_history
                .iter()
                .any(|d| d.severity == tradai_domain::Severity::Moderate),
        "moderate drift came before significant"
    );

    // The paused strategy opened no position while paused.
    let paused = paused_intervals(&rb).await;
    assert!(!paused.is_empty(), "the policy paused the strategy");
    let mut opened: Vec<DateTime<Utc>> = tradai_runner::book::trades(&rb, &strategy)
        .await
        .unwrap()
        .iter()
        .map(|t| t.position.opened_at)
        .collect();
    opened.extend(
        tradai_runner::positions(&rb, &strategy)
            .await
            .unwrap()
            .iter()
            .map(|p| p.position.opened_at),
    );
    assert!(!opened.is_empty(), "the strategy traded");
    for at in &opened {
        for (from, to) in &paused {
            assert!(
                !(at >= from && to.is_none_or(|t| *at < t)),
                "position opened at {at} while paused from {from} to {to:?}"
            );
        }
    }

    // Every prediction after the switch carries the new version. When the workflow kept v1,
    // the operator's path (a manual promotion) is what switches.
    let switch_at = match report.switched_at {
        Some(t) => {
            assert_eq!(report.outcome.as_deref(), Some("promoted"));
            t
        }
        None => {
            rb.model_promote(&model, challenger, &Actor::new("tester"), Some("test"))
                .await
                .unwrap();
            let r = demo.step(&mut out).await.unwrap().expect("a candle left");
            assert_eq!(r.model_version, Some(challenger.to_string()));
            r.ts
        }
    };
    let preds = tradai_runner::book::predictions(&*rb.store, &model, switch_at, demo.now())
        .await
        .unwrap();
    assert!(!preds.is_empty());
    assert!(
        preds
            .iter()
            .all(|p| p.model_version == challenger.to_string()),
        "a prediction after the switch used another version"
    );

    // A rollback makes the runner serve the old version again within one candle.
    rb.model_rollback(
        &model,
        None,
        RollbackReason::ManualRequest,
        None,
        false,
        &Actor::new("tester"),
    )
    .await
    .unwrap();
    let r = demo.step(&mut out).await.unwrap().expect("a candle left");
    assert_eq!(r.model_version, Some(report.champion.to_string()));
}
