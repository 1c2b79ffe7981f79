//! The control plane from the command line: `invoke`, `retrain`, `tasks`, `workflows`, `up`,
//! with real training tasks in real processes, concurrent invocations and a daemon killed in the
//! middle of a workflow.

mod common;
use common::*;

use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Waits (bounded) until `check` holds: a real process has to finish, no fixed sleep.
fn wait_for(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A home with synthetic data, model M configured and v1 in Production, strategy S1 running.
fn live() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let h = tmp.path();
    market_and_model(
        h,
        "M",
        "BTC/USDT",
        ("200", "2023-01-01", "7"),
        &["--train-period-days", "90"],
    );
    ok_json(h, &["train", "M"]);
    ok_json(h, &["model", "promote", "M", "1"]);
    ok_json(
        h,
        &[
            "strategy", "add", "S1", "--model", "M", "--pairs", "BTC/USDT",
        ],
    );
    ok_json(h, &["trading", "resume", "S1", "--reason", "live"]);
    tmp
}

/// The workflow execution that launched a task (others may have been skipped).
fn workflow(h: &Path) -> Value {
    ok_json(h, &["workflows", "list"])
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["task_id"].is_string())
        .cloned()
        .expect("a workflow with a task")
}

#[test]
fn invoke_speaks_the_contracts_and_refuses_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let h = tmp.path();
    let out = tradai(
        h,
        &[
            "invoke",
            "notify",
            "--payload",
            r#"{"notification_type": "GENERIC", "title": "hello", "message": "world", "severity": "INFO"}"#,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        json!({"sent": true, "sns": true, "slack": false, "notification_type": "GENERIC", "throttled": false, "channels": {"log": "delivered"}})
    );
    let payload = h.join("p.json");
    std::fs::write(
        &payload,
        r#"{"model_name": "PascalStrategy", "force": true}"#,
    )
    .unwrap();
    let out = tradai(
        h,
        &[
            "invoke",
            "check-retraining-needed",
            "--payload",
            &format!("@{}", payload.display()),
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["decision"].as_str(), v["trigger"].as_str()),
        (Some("needs_retraining"), Some("manual"))
    );
    fails(
        h,
        &["invoke", "make-money"],
        2,
        "unknown handler 'make-money'",
    );
    fails(
        h,
        &["invoke", "notify", "--payload", "{not json"],
        2,
        "--payload: invalid JSON",
    );
    fails(
        h,
        &["invoke", "notify", "--payload", "@/no/such/file.json"],
        2,
        "/no/such/file.json",
    );
    fails(
        h,
        &[
            "invoke",
            "notify",
            "--payload",
            r#"{"notification_type": "NOPE", "title": "t", "message": "m"}"#,
        ],
        2,
        "NOPE",
    );
    fails(
        h,
        &[
            "invoke",
            "model-rollback",
            "--payload",
            r#"{"model_name": "M"}"#,
        ],
        2,
        "model 'M' not found",
    );
    fails(
        h,
        &["tasks", "describe", "task-x"],
        2,
        "task 'task-x' not found",
    );
    fails(h, &["approve", "APR-x"], 2, "approval 'APR-x' not found");
    fails(h, &["retrain", "bad/name"], 2, "invalid model name");
}

/// Every handler of the contracts is reachable through `tradai invoke`: on an empty home each
/// answers with its contract's JSON, or refuses the payload by name (exit 2).
#[test]
fn invoke_reaches_every_handler() {
    let tmp = tempfile::tempdir().unwrap();
    let h = tmp.path();
    let handlers = [
        "check-retraining-needed",
        "compare-models",
        "drift-monitor",
        "heartbeat-check",
        "model-rollback",
        "notify",
        "orphan-scanner",
        "promote-model",
        "retraining-scheduler",
        "retraining-workflow",
    ];
    for name in handlers {
        let out = tradai(h, &["invoke", name, "--payload", "{}"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("unknown handler"), "{name}: {stderr}");
        match out.status.code() {
            Some(0) => {
                let v: Value = serde_json::from_slice(&out.stdout)
                    .unwrap_or_else(|e| panic!("{name}: output is not JSON: {e}"));
                assert!(v.is_object(), "{name}: {v}");
            }
            Some(2) => assert!(
                stderr.contains(name) || stderr.contains("model"),
                "{name}: {stderr}"
            ),
            other => panic!("{name}: exit {other:?}: {stderr}"),
        }
    }
    // Those that need no input run on an empty home.
    for name in [
        "drift-monitor",
        "heartbeat-check",
        "orphan-scanner",
        "retraining-scheduler",
    ] {
        let v = ok_json(h, &["invoke", name, "--payload", "{}"]);
        assert!(v.is_object(), "{name}: {v}");
    }
}

#[test]
fn concurrent_retrain_commands_start_one_training_and_the_daemon_finishes_the_workflow() {
    let home = live();
    let h = home.path();
    // Four operators (or schedulers) at once: exactly one training task.
    let children: Vec<Child> = (0..4)
        .map(|_| {
            cmd(h, &["retrain", "M", "--force", "--json"])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Value> = children
        .into_iter()
        .map(|c| serde_json::from_slice(&c.wait_with_output().unwrap().stdout).unwrap())
        .collect();
    let triggered = outputs
        .iter()
        .filter(|o| o["data"]["results"][0]["status"] == "triggered")
        .count();
    assert_eq!(triggered, 1, "{outputs:#?}");
    assert_eq!(
        ok_json(h, &["tasks", "list", "--started-by", "tradai-retraining"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let task = ok_json(h, &["tasks", "list"]).as_array().unwrap()[0]["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for("the training task", Duration::from_secs(120), || {
        ok_json(h, &["tasks", "describe", &task])["status"] != "running"
            && ok_json(h, &["tasks", "describe", &task])["status"] != "pending"
    });
    let t = ok_json(h, &["tasks", "describe", &task]);
    assert_eq!(t["status"], "succeeded", "{t:#}");
    assert_eq!(t["started_by"], "tradai-retraining");
    let logs = tradai(h, &["retrain", "logs", "M"]);
    let log = String::from_utf8_lossy(&logs.stdout);
    assert!(
        log.contains("sha256") && log.contains("/M/2/"),
        "the task log holds train's output: {log}"
    );

    // The workflow waits in RunRetraining until something advances it: one daemon tick does.
    assert_eq!(workflow(h)["state"], "RunRetraining");
    let mut up = cmd(h, &["up", "--tick", "1s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the workflow to finish", Duration::from_secs(60), || {
        workflow(h)["status"] != "running"
    });
    // A second daemon on the same home is refused.
    fails(h, &["up"], 2, "another tradai process");
    let _ = std::process::Command::new("kill")
        .args(["-INT", &up.id().to_string()])
        .status();
    assert!(
        up.wait().unwrap().success(),
        "the daemon stops cleanly on SIGINT"
    );
    let w = workflow(h);
    assert_eq!(w["status"], "succeeded", "{w:#}");
    assert_eq!(w["new_version"], 2);
    let rs = ok_json(h, &["retrain", "status", "M"]);
    assert_eq!(
        (rs["status"].as_str(), rs["version"].as_u64()),
        (Some("completed"), Some(2))
    );
    assert!(rs["last_retrained"].is_string());
    // The training task's log, followed: printed whole, and the command ends with the task.
    let logs = tradai(h, &["retrain", "logs", "M", "--follow"]);
    assert!(logs.status.success());
    let text = String::from_utf8_lossy(&logs.stdout);
    assert!(text.contains("registered"), "{text}");
    assert!(
        String::from_utf8_lossy(&logs.stderr).contains("ended: Succeeded"),
        "{}",
        String::from_utf8_lossy(&logs.stderr)
    );
}

#[test]
fn a_daemon_killed_mid_workflow_is_recovered_by_the_next_one() {
    let home = live();
    let h = home.path();
    let mut up = cmd(h, &["up", "--tick", "1s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let r = ok_json(h, &["retrain", "M", "--force"]);
    assert_eq!(r["data"]["results"][0]["status"], "triggered");
    // Kill the daemon without warning while the workflow is running.
    up.kill().unwrap();
    up.wait().unwrap();
    let task = r["data"]["results"][0]["task_arn"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for("the training task", Duration::from_secs(120), || {
        ok_json(h, &["tasks", "describe", &task])["status"] == "succeeded"
    });
    let before = workflow(h);
    assert_eq!(
        before["status"], "running",
        "nothing advanced it while no daemon ran: {before:#}"
    );
    // The next daemon resumes it on start and finishes it.
    let mut up = cmd(h, &["up", "--tick", "1s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the resumed workflow", Duration::from_secs(150), || {
        workflow(h)["status"] != "running"
    });
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &up.id().to_string()])
        .status();
    assert!(up.wait().unwrap().success());
    let w = workflow(h);
    assert_eq!(w["status"], "succeeded", "{w:#}");
    let states: Vec<&str> = w["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert!(
        states.contains(&"CompareModels") && states.contains(&"UpdateRetrainingState"),
        "{states:?}"
    );
    let audit = ok_json(h, &["audit", "--entity", "M"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "retrain.complete")
    );
}

/// `tradai up` starts a strategy runner for each strategy that trades (never for a stopped
/// one), and stops them with itself on SIGTERM.
#[test]
fn up_runs_the_strategies_that_trade() {
    let home = live();
    let h = home.path();
    ok_json(
        h,
        &[
            "strategy", "add", "S2", "--model", "M", "--pairs", "BTC/USDT",
        ],
    );
    ok_json(h, &["trading", "stop", "S2", "--reason", "not this one"]);
    let mut up = cmd(h, &["up", "--tick", "1s", "--speed", "3600x"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = |s: &str| {
        ok_json(h, &["audit", "--entity", s])
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "trading.start" && a["actor"] == "system")
    };
    wait_for("S1's runner to start", Duration::from_secs(60), || {
        started("S1")
    });
    wait_for(
        "S1 running with a heartbeat",
        Duration::from_secs(60),
        || {
            let st = ok_json(h, &["trading", "status", "S1"]);
            st["status"] == "running" && st["last_heartbeat"].is_string()
        },
    );
    // One runner per strategy: a second one is refused while up's trades S1.
    fails(
        h,
        &["run", "S1", "--speed", "max"],
        2,
        "already traded by another tradai process",
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &up.id().to_string()])
        .status();
    assert!(
        up.wait().unwrap().success(),
        "up stops cleanly with its runners"
    );
    assert!(!started("S2"), "a stopped strategy was not started");
    assert_eq!(
        ok_json(h, &["trading", "status", "S2"])["status"],
        "stopped"
    );

    // Runner options are checked before anything starts.
    fails(h, &["up", "--data", "x.csv"], 2, "--data names one file");
    fails(h, &["up", "--speed", "warp"], 2, "--speed");
    // --no-runners leaves S1 to `tradai run`, which can then take it.
    let mut up = cmd(h, &["up", "--tick", "1s", "--no-runners"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = up.id().to_string();
    wait_for("the daemon to start", Duration::from_secs(30), || {
        std::fs::read_to_string(h.join("daemon.lock")).is_ok_and(|p| p.trim() == pid)
    });
    let run = ok_json(h, &["run", "S1", "--speed", "max", "--from", "2023-07-15"]);
    assert!(run["candles"].as_u64().unwrap() > 0, "{run:#}");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(up.wait().unwrap().success());
}
