//! Experiment runs on the real SQLite store.

use chrono::{Duration, TimeZone, Utc};
use std::sync::Arc;
use tradai_embedded::SqliteStore;
use tradai_ports::{ExperimentTracker, Run, RunFilter};
use tradai_runbook::experiments::StoreTracker;

fn run(exp: &str, model: &str, day: i64, profit: f64) -> Run {
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + Duration::days(day);
    Run {
        run_id: format!("{exp}-{day}"),
        experiment: exp.into(),
        status: "finished".into(),
        start_time: start,
        end_time: Some(start + Duration::minutes(1)),
        params: Default::default(),
        metrics: [("profit_total".to_string(), profit)].into_iter().collect(),
        tags: [("model".to_string(), model.to_string())]
            .into_iter()
            .collect(),
    }
}

#[tokio::test]
async fn runs_are_filtered_by_prefix_window_and_model() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&tmp.path().join("t.db"), "dev").unwrap());
    let t = StoreTracker::new(store);
    for d in 0..10 {
        t.log_run(&run("backtest-A", "A", d, d as f64))
            .await
            .unwrap();
        t.log_run(&run("backtest-B", "B", d, -(d as f64)))
            .await
            .unwrap();
        t.log_run(&run("train-A", "A", d, 0.0)).await.unwrap();
    }
    // Updating a run keeps one copy.
    let mut r = run("backtest-A", "A", 3, 3.0);
    r.metrics.insert("win_rate".into(), 0.5);
    t.log_run(&r).await.unwrap();

    let all_bt = t
        .runs(&RunFilter {
            experiment_prefix: Some("backtest-".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all_bt.len(), 20);
    let since = Utc.with_ymd_and_hms(2024, 1, 4, 0, 0, 0).unwrap();
    let until = Utc.with_ymd_and_hms(2024, 1, 8, 0, 0, 0).unwrap();
    let f = RunFilter {
        experiment_prefix: Some("backtest-".into()),
        since: Some(since),
        until: Some(until),
        model: Some("A".into()),
    };
    let got = t.runs(&f).await.unwrap();
    assert_eq!(
        got.iter()
            .map(|r| r.metrics["profit_total"])
            .collect::<Vec<_>>(),
        vec![3.0, 4.0, 5.0, 6.0]
    );
    assert_eq!(got[0].metrics.get("win_rate"), Some(&0.5));
}
