//! `tradai demo` through the real binary: the story's JSON, and the inspection commands it
//! prints working on the home it leaves behind.

mod common;
use common::*;

#[test]
fn the_demo_runs_and_leaves_a_home_the_printed_commands_inspect() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("demo");
    let v = ok_json(&home, &["demo", "--candle-delay-ms", "0"]);
    let report = &v["report"];
    assert_eq!(report["max_severity"], "significant", "{report:#}");
    let incident = report["incident_id"]
        .as_str()
        .expect("an incident")
        .to_string();
    assert!(v["timeline"].as_array().is_some_and(|t| !t.is_empty()));
    let inspect: Vec<String> = report["inspect"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert!(
        inspect
            .iter()
            .any(|c| c.ends_with(&format!("incident show {incident}")))
    );

    // The commands it prints read the same store and configuration.
    let story = ok_json(&home, &["incident", "show", &incident]);
    assert_eq!(story["status"], "resolved", "{story:#}");
    let kinds: Vec<&str> = story["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["kind"].as_str())
        .collect();
    for k in ["action", "retrain", "compare", "status"] {
        assert!(kinds.contains(&k), "no {k} entry in {kinds:?}");
    }
    let versions = ok_json(&home, &["model", "versions", "demo-model"]);
    assert!(versions.as_array().unwrap().len() >= 2, "{versions:#}");
    let history = ok_json(&home, &["drift", "history", "demo-model"]);
    assert!(!history.as_array().unwrap().is_empty());
    assert!(
        history.as_array().unwrap().iter().any(|d| d["psi"]
            .as_object()
            .is_some_and(|m| m.keys().any(|k| k.starts_with("feature:")))),
        "PSI per feature in the drift history"
    );
    let drift = ok_json(&home, &["drift", "show", "demo-model"]);
    assert!(drift["severity"].is_string(), "{drift:#}");
    let reset = ok_json(
        &home,
        &[
            "drift",
            "reset",
            "demo-model",
            "--reason",
            "checked by hand",
        ],
    );
    assert_eq!(
        (reset["status"].as_str(), reset["severity"].as_str()),
        (Some("reset"), Some("none"))
    );
    let audit = ok_json(&home, &["audit", "--entity", "demo-model"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "drift.reset"
                && a["actor"] == "alice"
                && a["reason"] == "checked by hand"),
        "{audit:#}"
    );
    let cfg = ok_json(&home, &["config", "show"]);
    let sched = cfg["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "schedules.retraining_scheduler")
        .cloned()
        .unwrap();
    assert_eq!(sched["value"], "rate(30 days)", "{sched:#}");

    // Run again on the same home: an earlier demo's home is replaced, not mixed with.
    let again = ok_json(&home, &["demo", "--candle-delay-ms", "0"]);
    assert_eq!(again["report"]["incident_id"], report["incident_id"]);
}

#[test]
fn the_demo_refuses_bad_input_and_foreign_homes() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    fails(tmp.path(), &["demo"], 2, "is not a tradai demo home");
    assert!(tmp.path().join("notes.txt").exists());
    let fresh = tmp.path().join("fresh");
    fails(
        &fresh,
        &["demo", "--live-days", "5", "--shift-after-days", "5"],
        2,
        "--shift-after-days",
    );
    fails(
        &fresh,
        &["demo", "--history-days", "20"],
        2,
        "--history-days",
    );
    fails(&fresh, &["demo", "--shift-vol", "0"], 2, "--shift-vol 0");
    fails(
        &fresh,
        &["demo", "--env", "prod"],
        2,
        "--env prod (or TRADAI_ENV) does not apply",
    );
    fails(
        &fresh,
        &["demo", "--set", "drift.alpha=0.05"],
        2,
        "--set drift.alpha=0.05 does not apply",
    );
    assert!(!fresh.exists(), "refused before anything was written");
}
