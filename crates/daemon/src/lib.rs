//! The daemon behind `tradai up`.
//!
//! Every tick it: runs the handlers whose schedule is due (drift-monitor, retraining-scheduler,
//! heartbeat-check, orphan-scanner); runs drift-monitor more often for models the policy watches
//! after a promotion; advances running retraining workflows; and retries undelivered
//! notifications. On start it first resumes every workflow a previous run left behind, so a
//! crash at any state is recovered. One daemon per state directory (an exclusive file lock).
//!
//! Architecture invariant: the daemon decides only *when*; what happens is the handlers'.
#![forbid(unsafe_code)]

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;
use tradai_domain::schedule::Schedule;
use tradai_handlers::{Ctx, drift_monitor, invoke, notify, policy, workflow};

/// Daemon failures.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("another tradai process holds {path} (pid {pid}); stop it first or use another --home")]
    Locked { path: String, pid: String },
    #[error("cannot use lock file {path}: {message}")]
    Lock { path: String, message: String },
    #[error(transparent)]
    Schedule(#[from] tradai_domain::DomainError),
}

/// The exclusive lock on a state directory; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// Takes `{home}/daemon.lock` or reports who holds it.
    pub fn acquire(home: &Path) -> Result<InstanceLock, DaemonError> {
        Self::acquire_at(&home.join("daemon.lock"))
    }

    /// The lock of one strategy's runner, `{home}/locks/runner-{strategy}.lock`: two runners
    /// trading one strategy would double its entries and its prediction log.
    pub fn acquire_runner(home: &Path, strategy: &str) -> Result<InstanceLock, DaemonError> {
        Self::acquire_at(&home.join("locks").join(format!("runner-{strategy}.lock")))
    }

    /// Takes the lock file at `path` (created with its directory) or reports who holds it.
    pub fn acquire_at(path: &Path) -> Result<InstanceLock, DaemonError> {
        let path = path.to_path_buf();
        let err = |m: String| DaemonError::Lock {
            path: path.display().to_string(),
            message: m,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| err(e.to_string()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&path)
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                return Err(DaemonError::Locked {
                    path: path.display().to_string(),
                    pid: if pid.is_empty() {
                        "unknown".into()
                    } else {
                        pid
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(e.to_string())),
        }
        file.set_len(0).map_err(|e| err(e.to_string()))?;
        write!(file, "{}", std::process::id()).map_err(|e| err(e.to_string()))?;
        Ok(InstanceLock { _file: file, path })
    }

    /// Where the lock lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A scheduled handler.
#[derive(Debug, Clone)]
pub struct Job {
    pub handler: String,
    pub schedule: Schedule,
    pub payload: Value,
    pub next: DateTime<Utc>,
}

/// What one tick did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TickReport {
    pub at: Option<DateTime<Utc>>,
    /// Handlers run, with their output (or error).
    pub ran: Vec<(String, Value)>,
    pub workflows_advanced: usize,
    pub notifications_delivered: usize,
}

/// The daemon's state.
pub struct Daemon {
    ctx: Ctx,
    jobs: Vec<Job>,
    watch_last: BTreeMap<String, DateTime<Utc>>,
    /// Whether `tick` also pumps the notification outbox (`run` pumps it in a task of its own).
    pump_in_tick: bool,
}

impl Daemon {
    /// A daemon with the configured schedules; the first run of each is one period after now
    /// (a cron: its next fire time).
    pub fn new(ctx: Ctx) -> Result<Daemon, DaemonError> {
        let now = ctx.rb.clock.now();
        let mut jobs = Vec::new();
        for (handler, expr) in ctx.rb.config.schedules.entries() {
            let schedule = Schedule::parse(expr)?;
            let next = schedule.next_after(now).unwrap_or(DateTime::<Utc>::MAX_UTC);
            jobs.push(Job {
                handler: handler.to_string(),
                schedule,
                payload: json!({}),
                next,
            });
        }
        Ok(Daemon {
            ctx,
            jobs,
            watch_last: BTreeMap::new(),
            pump_in_tick: true,
        })
    }

    /// The scheduled jobs and when they fire next.
    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// Resumes what a previous daemon left running (call once at start).
    pub async fn recover(&self) -> usize {
        match workflow::resume_all(&self.ctx).await {
            Ok(v) => {
                if !v.is_empty() {
                    tracing::info!(
                        count = v.len(),
                        "resumed retraining workflows left by a previous run"
                    );
                }
                v.len()
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot resume workflows");
                0
            }
        }
    }

    /// Runs everything that is due now. Errors are logged and reported, never fatal.
    pub async fn tick(&mut self) -> TickReport {
        let now = self.ctx.rb.clock.now();
        let mut report = TickReport {
            at: Some(now),
            ..Default::default()
        };
        for job in &mut self.jobs {
            if job.next > now {
                continue;
            }
            let out = run_handler(&self.ctx, &job.handler, job.payload.clone()).await;
            report.ran.push((job.handler.clone(), out));
            job.next = job
                .schedule
                .next_after(now)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
        }
        // Models watched closely after a promotion: drift-monitor at the watch's interval.
        match policy::watches(&self.ctx).await {
            Ok(watches) => {
                for w in watches {
                    let m = w.model_name.to_string();
                    let due = self.watch_last.get(&m).is_none_or(|t| {
                        now - *t >= chrono::Duration::minutes(i64::from(w.interval_minutes))
                    });
                    if due {
                        self.watch_last.insert(m.clone(), now);
                        let out =
                            run_handler(&self.ctx, "drift-monitor", json!({"models": [m]})).await;
                        report.ran.push(("drift-monitor (watch)".into(), out));
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read watches"),
        }
        report.workflows_advanced = workflow::resume_all(&self.ctx)
            .await
            .map(|v| v.len())
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot advance workflows");
                0
            });
        if self.pump_in_tick {
            report.notifications_delivered = pump_logged(&self.ctx).await;
        }
        report
    }

    /// Ticks every `period` until `shutdown` resolves; a tick in progress finishes first.
    ///
    /// Notifications only go to the persisted outbox here (`deliver_inline` off), and the
    /// outbox is pumped by a task of its own every `period`: a webhook that hangs delays its
    /// own deliveries, never drift-monitor, the policy or a workflow.
    pub async fn run(
        mut self,
        period: StdDuration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        self.ctx.deliver_inline = false;
        self.pump_in_tick = false;
        let pump_ctx = self.ctx.clone();
        let pump = tokio::spawn(async move {
            let mut every = tokio::time::interval(period);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let n = pump_logged(&pump_ctx).await;
                if n > 0 {
                    tracing::info!(delivered = n, "notifications delivered from the outbox");
                }
            }
        });
        self.recover().await;
        for j in &self.jobs {
            tracing::info!(handler = %j.handler, next = %j.next, "scheduled");
        }
        tokio::pin!(shutdown);
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = interval.tick() => {
                    let r = self.tick().await;
                    for (h, out) in &r.ran {
                        tracing::info!(handler = %h, output = %out, "scheduled handler ran");
                    }
                }
            }
        }
        // What is still queued stays in the outbox for the next daemon.
        pump.abort();
        tracing::info!("daemon stopped");
    }
}

/// One pass over the outbox; errors are logged (the entries stay for the next pass).
async fn pump_logged(ctx: &Ctx) -> usize {
    notify::pump(ctx).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot pump the notification outbox");
        0
    })
}

async fn run_handler(ctx: &Ctx, name: &str, payload: Value) -> Value {
    let result = if name == "drift-monitor" {
        drift_monitor::handle(ctx, payload).await
    } else {
        invoke(ctx, name, payload).await
    };
    result.unwrap_or_else(|e| {
        tracing::error!(handler = name, error = %e, "scheduled handler failed");
        json!({"error": e.to_string()})
    })
}
