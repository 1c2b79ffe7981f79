//! The operator CLI as a person (or a script) uses it: real binary, real store on disk.

mod common;
use common::*;

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn audit_len(home: &Path) -> usize {
    ok_json(home, &["audit"]).as_array().unwrap().len()
}

fn setup() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    ok_json(
        home.path(),
        &[
            "strategy",
            "add",
            "S1",
            "--model",
            "PascalStrategy",
            "--stake-amount",
            "100",
        ],
    );
    let art = trained_artifact(&home.path().join("art"));
    for _ in 0..2 {
        ok_json(
            home.path(),
            &[
                "model",
                "register",
                "PascalStrategy",
                "--artifact",
                art.to_str().unwrap(),
            ],
        );
    }
    home
}

#[test]
fn the_runbooks_state_steps_each_work_as_one_command_and_are_audited() {
    let home = setup();
    let h = home.path();
    ok_json(h, &["model", "promote", "PascalStrategy", "1"]);
    ok_json(h, &["model", "promote", "PascalStrategy", "2"]);
    ok_json(h, &["trading", "resume", "S1", "--reason", "go live"]);

    // Pause trading.
    let st = ok_json(
        h,
        &["trading", "pause", "S1", "--reason", "significant drift"],
    );
    assert_eq!(st["status"], "paused");
    let st = ok_json(h, &["trading", "status", "S1"]);
    let keys: Vec<&str> = st.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "strategy_id",
        "status",
        "reason",
        "updated_by",
        "updated_at",
        "last_heartbeat",
    ] {
        assert!(keys.contains(&k), "trading status lacks {k}: {st}");
    }
    assert_eq!(
        (
            st["status"].as_str(),
            st["updated_by"].as_str(),
            st["reason"].as_str()
        ),
        (Some("paused"), Some("alice"), Some("significant drift"))
    );

    // Reduce stake.
    let s = ok_json(
        h,
        &[
            "strategy",
            "set",
            "S1",
            "--stake-amount",
            "50",
            "--reason",
            "moderate drift",
        ],
    );
    assert_eq!(s["after"]["stake_amount"], 50.0);
    assert_eq!(
        ok_json(h, &["strategy", "history", "S1"])
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Look up the previous version, roll back version and path together.
    let show = ok_json(h, &["model", "show", "PascalStrategy"]);
    assert_eq!(show["serving"]["model_version"], "2");
    let prev = ok_json(h, &["model", "rollback", "PascalStrategy", "--dry-run"]);
    assert_eq!(
        (prev["from_version"].as_str(), prev["to_version"].as_str()),
        (Some("2"), Some("1"))
    );
    ok_json(
        h,
        &[
            "model",
            "rollback",
            "PascalStrategy",
            "--reason",
            "PERFORMANCE_DEGRADATION",
        ],
    );
    let show = ok_json(h, &["model", "show", "PascalStrategy"]);
    assert_eq!(show["serving"]["model_version"], "1");
    assert!(
        show["serving"]["model_path"]
            .as_str()
            .unwrap()
            .ends_with("/PascalStrategy/1/")
    );

    // Read retraining state; record and resolve an incident.
    assert_eq!(
        ok_json(h, &["retrain", "status", "PascalStrategy"])["status"],
        "idle"
    );
    let inc = ok_json(
        h,
        &[
            "incident",
            "open",
            "--title",
            "drift",
            "--model",
            "PascalStrategy",
            "--severity",
            "CRITICAL",
        ],
    );
    let id = inc["id"].as_str().unwrap().to_string();
    ok_json(h, &["incident", "note", &id, "--text", "rolled back to v1"]);
    ok_json(h, &["incident", "resolve", &id, "--note", "stable"]);
    let story = ok_json(h, &["incident", "show", &id]);
    assert_eq!(story["status"], "resolved");
    assert_eq!(story["timeline"].as_array().unwrap().len(), 3);

    // Resume.
    assert_eq!(
        ok_json(h, &["trading", "resume", "S1", "--reason", "resolved"])["status"],
        "running"
    );

    // Everything shows up in the audit log, with actor and reason; and survived restarts (each
    // command above is a fresh process).
    let audit = ok_json(h, &["audit", "--entity", "S1"]);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for a in ["trading.pause", "strategy.set_stake", "trading.resume"] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let audit = ok_json(h, &["audit", "--entity", "PascalStrategy"]);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for a in [
        "model.register",
        "model.promote",
        "model.archive",
        "model.serve",
        "model.rollback",
        "model.rollback_state",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["actor"] == "alice")
    );
    assert!(
        !ok_json(h, &["audit", "--entity", &id])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        ok_json(h, &["audit", "--since", "2999-01-01"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn bad_input_exits_2_names_the_value_and_changes_nothing() {
    let home = setup();
    let h = home.path();
    let before = audit_len(h);
    fails(
        h,
        &["strategy", "show", "Nope"],
        2,
        "strategy 'Nope' not found",
    );
    fails(
        h,
        &["strategy", "set", "S1", "--stake-amount", "0"],
        2,
        "invalid stake amount '0'",
    );
    fails(
        h,
        &["strategy", "set", "S1", "--stake-amount", "-3"],
        2,
        "invalid stake amount '-3'",
    );
    fails(
        h,
        &["strategy", "set", "S1", "--stake-amount", "abc"],
        2,
        "abc",
    );
    fails(
        h,
        &["strategy", "set", "S1", "--stake-amount", "NaN"],
        2,
        "invalid stake amount",
    );
    fails(
        h,
        &["trading", "pause", "Nope", "--reason", "x"],
        2,
        "strategy 'Nope' not found",
    );
    fails(
        h,
        &["trading", "pause", "S1", "--reason", "x"],
        2,
        "illegal trading status transition: stopped -> paused",
    );
    fails(
        h,
        &["model", "promote", "PascalStrategy", "9"],
        2,
        "model version 'PascalStrategy v9' not found",
    );
    fails(
        h,
        &["model", "versions", "Unknown"],
        2,
        "model 'Unknown' has no versions",
    );
    fails(
        h,
        &["model", "rollback", "PascalStrategy"],
        2,
        "no Production version",
    );
    fails(
        h,
        &["model", "rollback", "PascalStrategy", "--reason", "BORED"],
        2,
        "invalid rollback reason 'BORED'",
    );
    fails(
        h,
        &["model", "register", "bad/name", "--artifact", "."],
        2,
        "invalid model name 'bad/name'",
    );
    fails(
        h,
        &["model", "register", "M", "--artifact", "/does/not/exist"],
        2,
        "/does/not/exist",
    );
    fails(
        h,
        &["incident", "resolve", "INC-77", "--note", "x"],
        2,
        "incident 'INC-77' not found",
    );
    fails(
        h,
        &["incident", "open", "--title", "x", "--severity", "HUGE"],
        2,
        "invalid severity 'HUGE'",
    );
    fails(
        h,
        &["audit", "--since", "yesterday"],
        2,
        "--since 'yesterday'",
    );
    fails(
        h,
        &["--env", "Prod!", "trading", "status"],
        2,
        "invalid environment 'Prod!'",
    );
    fails(
        h,
        &["--set", "drift.nope=1", "config", "show"],
        2,
        "unknown setting 'drift.nope'",
    );
    fails(h, &["trading"], 2, "Usage");
    let cfg = h.join("bad.toml");
    std::fs::write(&cfg, "[drift]\npsi_moderate_threshold = \"high\"\n").unwrap();
    fails(
        h,
        &["--config", cfg.to_str().unwrap(), "trading", "status"],
        2,
        "bad.toml",
    );
    std::fs::write(&cfg, "[drift]\nmin_sample = 3\n").unwrap();
    fails(
        h,
        &["--config", cfg.to_str().unwrap(), "trading", "status"],
        2,
        "unknown setting 'drift.min_sample'",
    );
    assert_eq!(audit_len(h), before, "a refused command changed state");
    assert_eq!(
        ok_json(h, &["strategy", "show", "S1"])["stake_amount"],
        100.0
    );

    // --json errors are JSON too.
    let out = tradai(h, &["strategy", "show", "Nope", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["exit_code"], 2);
}

#[test]
fn configuration_layers_report_their_source() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    std::fs::write(h.join("tradai.toml"), "[drift]\nmin_samples = 20\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tradai"))
        .args([
            "--home",
            h.to_str().unwrap(),
            "--set",
            "rollback.rollback_cooldown_hours=1",
            "config",
            "show",
            "--json",
        ])
        .env("PSI_MODERATE_THRESHOLD", "0.12")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let find = |k: &str| {
        v["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == k)
            .unwrap()
            .clone()
    };
    assert_eq!(find("drift.min_samples")["value"], 20);
    assert!(
        find("drift.min_samples")["source"]
            .as_str()
            .unwrap()
            .starts_with("file ")
    );
    assert_eq!(
        find("drift.psi_moderate_threshold")["source"],
        "env PSI_MODERATE_THRESHOLD"
    );
    assert_eq!(find("rollback.rollback_cooldown_hours")["value"], 1);
    assert_eq!(find("drift.psi_significant_threshold")["source"], "default");
}

/// Processes changing the same strategy at once: every change lands as its own config version.
#[test]
fn concurrent_processes_lose_no_update() {
    let home = setup();
    let h = home.path();
    let children: Vec<_> = (1..=8)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_tradai"))
                .arg("--home")
                .arg(h)
                .args([
                    "strategy",
                    "set",
                    "S1",
                    "--stake-amount",
                    &format!("{}", 10 * i),
                    "--reason",
                    &format!("writer {i}"),
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let hist = ok_json(h, &["strategy", "history", "S1"]);
    let versions: Vec<u64> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["config_version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, (1..=9).collect::<Vec<_>>());
    let cur = ok_json(h, &["strategy", "show", "S1"]);
    assert_eq!(cur["config_version"], 9);
    let stakes: std::collections::BTreeSet<u64> = hist.as_array().unwrap()[1..]
        .iter()
        .map(|r| r["stake_amount"].as_f64().unwrap() as u64)
        .collect();
    assert_eq!(
        stakes.len(),
        8,
        "every writer's stake is in the history: {stakes:?}"
    );
}

#[test]
fn an_artifact_tradai_cannot_serve_is_not_registered() {
    // An empty manifest: no kind, no features. Refused before anything is stored.
    let tmp = tempfile::tempdir().unwrap();
    let h = tmp.path();
    let art = h.join("art");
    std::fs::create_dir_all(&art).unwrap();
    std::fs::write(art.join("manifest.json"), "{}").unwrap();
    fails(
        h,
        &[
            "model",
            "register",
            "M",
            "--artifact",
            art.to_str().unwrap(),
        ],
        2,
        "kind",
    );
}
