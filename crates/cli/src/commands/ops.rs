//! The control plane from the command line: `invoke`, `up`, approvals, tasks, alarms,
//! workflows, and the hidden `task-run` a training task's supervisor runs.

use crate::app::{Global, usage};
use crate::output::{emit, fields, opt, out, table, ts};
use clap::{Args, Subcommand};
use serde_json::Value;
use std::time::Duration;
use tradai_handlers::{HANDLERS, alarms, invoke, policy, workflow};

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// Handler: drift-monitor, check-retraining-needed, retraining-scheduler, retraining-workflow,
    /// compare-models, promote-model, model-rollback, notify, heartbeat-check, orphan-scanner.
    pub handler: String,
    /// The input JSON, or @FILE to read it from a file.
    #[arg(long, default_value = "{}")]
    pub payload: String,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// How often the daemon looks for due work.
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub tick: String,
    /// Do not start a strategy runner for each active strategy (run them with `tradai run`).
    #[arg(long)]
    pub no_runners: bool,
    /// The runners' feed (as `tradai run`): replay of each strategy's configured data by default.
    #[command(flatten)]
    pub feed: super::run::FeedArgs,
}

#[derive(Debug, Subcommand)]
pub enum TasksCmd {
    /// Training tasks, newest first.
    List {
        /// Only tasks started by this tag (e.g. tradai-retraining).
        #[arg(long)]
        started_by: Option<String>,
    },
    /// One task: command, status, times, exit code, log file.
    Describe { id: String },
    /// Stop a running task (SIGTERM to its process group).
    Stop {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlarmsCmd {
    /// Every alarm's state.
    List,
    /// State changes of one alarm, newest first.
    History {
        name: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkflowsCmd {
    /// Retraining workflow executions, newest first.
    List,
    /// One execution with every persisted transition.
    Show { id: String },
}

fn read_payload(p: &str) -> anyhow::Result<Value> {
    let (text, source) = match p.strip_prefix('@') {
        Some(path) => (
            std::fs::read_to_string(path)
                .map_err(|e| usage(format!("cannot read payload file {path}: {e}")))?,
            path.to_string(),
        ),
        None => (p.to_string(), "--payload".to_string()),
    };
    serde_json::from_str(&text).map_err(|e| usage(format!("{source}: invalid JSON: {e}")))
}

fn handler_error(e: tradai_handlers::HandlerError) -> anyhow::Error {
    if e.is_usage() {
        usage(e.to_string())
    } else {
        anyhow::Error::new(e)
    }
}

pub async fn run_invoke(a: InvokeArgs, g: &Global) -> anyhow::Result<u8> {
    // The handler name is checked before the payload is read or the store opened.
    if !HANDLERS.contains(&a.handler.as_str()) && a.handler != "trading-heartbeat-check" {
        return Err(usage(format!(
            "unknown handler '{}' (expected one of: {})",
            a.handler,
            HANDLERS.join(", ")
        )));
    }
    let payload = read_payload(&a.payload)?;
    let ctx = g.ctx()?;
    let result = invoke(&ctx, &a.handler, payload)
        .await
        .map_err(handler_error)?;
    out(&serde_json::to_string_pretty(&result)?)?;
    Ok(0)
}

pub async fn run_up(a: UpArgs, g: &Global) -> anyhow::Result<u8> {
    let tick =
        tradai_domain::time::parse_duration("--tick", &a.tick).map_err(|e| usage(e.to_string()))?;
    let tick = Duration::from_millis(
        u64::try_from(tick.num_milliseconds())
            .unwrap_or(1000)
            .max(100),
    );
    let home = g.home();
    let lock = tradai_daemon::InstanceLock::acquire(&home).map_err(|e| match e {
        tradai_daemon::DaemonError::Locked { .. } => usage(e.to_string()),
        e => anyhow::Error::new(e),
    })?;
    let ctx = g.ctx()?;
    let daemon = tradai_daemon::Daemon::new(ctx).map_err(|e| usage(e.to_string()))?;
    tracing::info!(home = %home.display(), env = %g.env, lock = %lock.path().display(), "tradai daemon started");
    if !g.json {
        eprintln!(
            "tradai daemon running (home {}, env {}); Ctrl-C to stop",
            home.display(),
            g.env
        );
    }
    // The runners' options are checked before anything starts.
    if a.feed.data.is_some() {
        return Err(usage(
            "--data names one file, and `tradai up` runs every strategy: each replays its own \
             model configuration's data (for one strategy on one file: `tradai run S --data FILE`)",
        ));
    }
    a.feed
        .speed
        .parse::<tradai_runner::Speed>()
        .map_err(|e| usage(format!("--speed: {e}")))?;
    if let Some(from) = &a.feed.from {
        tradai_domain::time::parse_ts("--from", from).map_err(|e| usage(e.to_string()))?;
    }
    let (runners, _runner_locks) = if a.no_runners {
        (Vec::new(), Vec::new())
    } else {
        start_runners(g, &a.feed).await?
    };
    // One shutdown for everything: the signal flips the flag, the daemon and every runner see it.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let reloads: Vec<_> = runners.iter().map(|r| r.reload_handle()).collect();
    let hup = tokio::spawn(async move {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            while s.recv().await.is_some() {
                tracing::info!(
                    runners = reloads.len(),
                    "SIGHUP: reloading the serving models"
                );
                for r in &reloads {
                    r.reload();
                }
            }
        }
    });
    let signal = async {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    };
    let runs = futures::future::join_all(runners.into_iter().map(|mut r| {
        let stop = stopped(stop_rx.clone());
        async move {
            let id = r.strategy().to_string();
            match r.run(stop).await {
                Ok(s) => tracing::info!(strategy = %id, ended = ?s.ended, candles = s.candles, "runner ended"),
                Err(e) => tracing::error!(strategy = %id, error = %e, "runner failed"),
            }
        }
    }));
    tokio::join!(signal, daemon.run(tick, stopped(stop_rx.clone())), runs);
    hup.abort();
    drop(lock);
    Ok(0)
}

/// A runner for every strategy that is trading or paused (stopped, failed and terminated ones
/// stay down: starting a runner would resume them). One that cannot start is logged, not fatal.
async fn start_runners(
    g: &Global,
    feed: &super::run::FeedArgs,
) -> anyhow::Result<(Vec<tradai_runner::Runner>, Vec<tradai_daemon::InstanceLock>)> {
    let rb = g.runbook()?;
    let home = g.home_abs()?;
    let mut out = Vec::new();
    let mut locks = Vec::new();
    for s in rb.strategy_list().await? {
        let id = s.config.strategy_id.clone();
        let status = rb.trading_status(&id).await?.status;
        if !matches!(
            status,
            tradai_domain::TradingStatus::Running
                | tradai_domain::TradingStatus::Paused
                | tradai_domain::TradingStatus::Warmup
        ) {
            tracing::info!(strategy = %id, status = %status, "not starting a runner");
            continue;
        }
        // A strategy someone already runs (`tradai run S`) is left to that runner.
        let lock = match super::run::runner_lock(&home, &id) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(strategy = %id, error = %e, "not starting a runner");
                if !g.json {
                    eprintln!("  runner {id}: not started: {e}");
                }
                continue;
            }
        };
        match super::run::build_runner(rb.clone(), &id, feed, &home).await {
            Ok((r, source)) => {
                locks.push(lock);
                tracing::info!(strategy = %id, feed = %source, "starting the strategy runner");
                if !g.json {
                    eprintln!("  runner {id}: {source}");
                }
                out.push(r);
            }
            Err(e) => {
                tracing::error!(strategy = %id, error = %e, "cannot start the strategy runner");
                if !g.json {
                    eprintln!("  runner {id}: cannot start: {e}");
                }
            }
        }
    }
    Ok((out, locks))
}

/// Resolves on SIGINT or SIGTERM: how `up` and `run` stop gracefully.
pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("shutdown requested");
}

pub async fn run_task(id: String, g: &Global) -> anyhow::Result<u8> {
    let rb = g.runbook()?;
    let t = tradai_embedded::tasks::supervise(rb.store.clone(), rb.clock.clone(), &id).await?;
    Ok(if t.status == tradai_ports::TaskStatus::Succeeded {
        0
    } else {
        1
    })
}

pub async fn run_approvals(all: bool, g: &Global) -> anyhow::Result<u8> {
    let ctx = g.ctx()?;
    let list = policy::approvals(&ctx, !all).await.map_err(handler_error)?;
    emit(g.json, &list, || {
        if list.is_empty() {
            return "no pending approvals".into();
        }
        table(
            &[
                "id",
                "status",
                "model",
                "action",
                "created",
                "decided_by",
                "cause",
            ],
            list.iter()
                .map(|a| {
                    vec![
                        a.id.clone(),
                        a.status.clone(),
                        a.model_name.to_string(),
                        a.action.name().to_string(),
                        ts(&a.created_at),
                        opt(&a.decided_by),
                        a.cause.clone(),
                    ]
                })
                .collect(),
        )
    })?;
    Ok(0)
}

pub async fn run_approve(id: String, note: Option<String>, g: &Global) -> anyhow::Result<u8> {
    let ctx = g.ctx()?;
    let a = policy::approve(&ctx, &id, &g.actor(), note.as_deref())
        .await
        .map_err(handler_error)?;
    emit(g.json, &a, || {
        format!(
            "{} {}: {} for {} ({})",
            a.id,
            a.status,
            a.action.name(),
            a.model_name,
            a.result
        )
    })?;
    Ok(if a.status == "failed" { 1 } else { 0 })
}

pub async fn run_reject(id: String, reason: String, g: &Global) -> anyhow::Result<u8> {
    if reason.trim().is_empty() {
        return Err(usage("--reason must not be empty"));
    }
    let ctx = g.ctx()?;
    let a = policy::reject(&ctx, &id, &g.actor(), &reason)
        .await
        .map_err(handler_error)?;
    emit(g.json, &a, || {
        format!(
            "{} rejected: {} for {} will not run",
            a.id,
            a.action.name(),
            a.model_name
        )
    })?;
    Ok(0)
}

fn task_fields(t: &tradai_ports::TaskInfo) -> String {
    fields(&[
        ("task", t.task_id.clone()),
        ("model", t.spec.model.clone()),
        ("status", format!("{:?}", t.status).to_lowercase()),
        ("started_by", t.spec.started_by.clone()),
        ("command", t.spec.command.join(" ")),
        ("created", ts(&t.created_at)),
        ("started", t.started_at.as_ref().map_or("-".into(), ts)),
        ("finished", t.finished_at.as_ref().map_or("-".into(), ts)),
        ("pid", opt(&t.pid)),
        ("exit_code", opt(&t.exit_code)),
        ("log", t.log.clone()),
        ("error", opt(&t.error)),
        ("trace", t.spec.note.clone()),
    ])
}

pub async fn run_tasks(cmd: TasksCmd, g: &Global) -> anyhow::Result<u8> {
    let ctx = g.ctx()?;
    match cmd {
        TasksCmd::List { started_by } => {
            let list = ctx.executor.list(started_by.as_deref()).await?;
            emit(g.json, &list, || {
                if list.is_empty() {
                    return "no tasks".into();
                }
                table(
                    &[
                        "task",
                        "model",
                        "status",
                        "started_by",
                        "created",
                        "finished",
                        "exit",
                    ],
                    list.iter()
                        .map(|t| {
                            vec![
                                t.task_id.clone(),
                                t.spec.model.clone(),
                                format!("{:?}", t.status).to_lowercase(),
                                t.spec.started_by.clone(),
                                ts(&t.created_at),
                                t.finished_at.as_ref().map_or("-".into(), ts),
                                opt(&t.exit_code),
                            ]
                        })
                        .collect(),
                )
            })?;
        }
        TasksCmd::Describe { id } => {
            let t = ctx.executor.describe(&id).await.map_err(task_error)?;
            emit(g.json, &t, || task_fields(&t))?;
        }
        TasksCmd::Stop { id, reason } => {
            let t = ctx.executor.stop(&id, &reason).await.map_err(task_error)?;
            emit(g.json, &t, || {
                format!(
                    "{} is {}",
                    t.task_id,
                    format!("{:?}", t.status).to_lowercase()
                )
            })?;
        }
    }
    Ok(0)
}

fn task_error(e: tradai_ports::TaskError) -> anyhow::Error {
    match e {
        tradai_ports::TaskError::NotFound(id) => {
            usage(format!("task '{id}' not found (see `tradai tasks list`)"))
        }
        e => anyhow::Error::new(e),
    }
}

pub async fn run_alarms(cmd: AlarmsCmd, g: &Global) -> anyhow::Result<u8> {
    let ctx = g.ctx()?;
    let list = match cmd {
        AlarmsCmd::List => alarms::list(&ctx).await.map_err(handler_error)?,
        AlarmsCmd::History { name, limit } => alarms::history(&ctx, &name, limit)
            .await
            .map_err(handler_error)?,
    };
    emit(g.json, &list, || {
        if list.is_empty() {
            return "no alarm has been evaluated yet (the daemon or `tradai invoke drift-monitor` does)".into();
        }
        table(
            &["alarm", "state", "value", "since", "reason"],
            list.iter()
                .map(|a| {
                    vec![
                        a.name.clone(),
                        a.state.to_string(),
                        a.value.map_or("-".into(), |v| format!("{v:.3}")),
                        ts(&a.updated_at),
                        a.reason.clone(),
                    ]
                })
                .collect(),
        )
    })?;
    Ok(0)
}

pub async fn run_workflows(cmd: WorkflowsCmd, g: &Global) -> anyhow::Result<u8> {
    let ctx = g.ctx()?;
    match cmd {
        WorkflowsCmd::List => {
            let list = workflow::list(&ctx).await.map_err(handler_error)?;
            emit(g.json, &list, || {
                if list.is_empty() {
                    return "no workflow executions".into();
                }
                table(
                    &[
                        "execution",
                        "model",
                        "status",
                        "state",
                        "task",
                        "version",
                        "created",
                    ],
                    list.iter()
                        .map(|x| {
                            vec![
                                x.execution_id.clone(),
                                x.model_name.clone(),
                                format!("{:?}", x.status).to_lowercase(),
                                format!("{:?}", x.state),
                                opt(&x.task_id),
                                opt(&x.new_version),
                                ts(&x.created_at),
                            ]
                        })
                        .collect(),
                )
            })?;
        }
        WorkflowsCmd::Show { id } => {
            let (x, _) = workflow::get(&ctx, &id).await.map_err(handler_error)?;
            emit(g.json, &x, || {
                let mut s = fields(&[
                    ("execution", x.execution_id.clone()),
                    ("model", x.model_name.clone()),
                    ("status", format!("{:?}", x.status).to_lowercase()),
                    ("state", format!("{:?}", x.state)),
                    ("task", opt(&x.task_id)),
                    ("new version", opt(&x.new_version)),
                    ("champion", opt(&x.champion_version)),
                    ("error", opt(&x.error)),
                ]);
                s.push_str("\ntransitions:\n");
                for h in &x.history {
                    s.push_str(&format!(
                        "  {}  {:<22} {}\n",
                        ts(&h.at),
                        format!("{:?}", h.state),
                        h.note
                    ));
                }
                s
            })?;
        }
    }
    Ok(0)
}
