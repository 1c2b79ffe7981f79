//! `tradai demo`: the drift-response runbook told end to end, with real components.
//!
//! A market with a regime shift is generated; v1 is trained on its history and promoted; a
//! paper-trading strategy runs on the live part, one candle at a time, while the daemon runs
//! the handlers on their schedules. Nothing in here decides what happens next: drift-monitor
//! measures, the response policy pauses, opens the incident and starts retraining, the
//! retraining workflow trains v2 and compares it with v1, and promotes it or keeps v1. The demo
//! only plays the market (a compressed clock: one candle per step) and, at the end, the on-call
//! operator who records the incident.
//!
//! The clock is a [`ManualClock`] set to each candle's close, so every timestamp in the store
//! is market time. A retraining task runs in-process on that clock (it takes seconds; a candle
//! is an hour, so the market waits for it, as it would in production).
//!
//! Architecture invariant: the demo drives time and prints; it never writes runbook state the
//! policy or handlers would write, except the operator's final incident resolution and the
//! strategy stop when the demo ends.
#![forbid(unsafe_code)]

mod timeline;

pub use timeline::TimelineEntry;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tradai_daemon::Daemon;
use tradai_domain::{Actor, IncidentStatus, ModelName, StrategyConfig, StrategyId, TradingStatus};
use tradai_embedded::inprocess::{InProcessExecutor, TaskBody};
use tradai_embedded::{LocalArtifacts, SqliteStore};
use tradai_handlers::Ctx;
use tradai_market::synth::{RegimeShift, SynthConfig};
use tradai_market::{Candle, DataFormat, Pair, Timeframe};
use tradai_ports::{Clock, ManualClock};
use tradai_runbook::{Config, Runbook};
use tradai_runner::{ReplayFeed, Runner, RunnerOptions, Speed, StepReport};
use tradai_training::{ModelConfigPatch, TrainOptions, Training};

/// The demo's model.
pub const MODEL: &str = "demo-model";
/// The demo's strategy.
pub const STRATEGY: &str = "DemoStrategy";
/// The pair it trades.
pub const PAIR: &str = "BTC/USDT";
/// A file in the home that marks it as the demo's own, so a rerun may wipe it.
const MARKER: &str = ".tradai-demo";

/// The demo's configuration, written to `{home}/tradai.toml` so that the inspection commands
/// printed at the end read the same settings. It is the default runbook (7-day drift windows,
/// hourly drift-monitor) but for one schedule: the periodic retraining check runs monthly, not
/// daily. v1 was trained by hand, so no retraining is on record, and the contract's rule ("no
/// previous retraining recorded") would retrain on the first day, before any drift; the story
/// is the drift-triggered retraining.
const CONFIG_TOML: &str = r#"# Written by `tradai demo`.
[schedules]
drift_monitor = "rate(1 hour)"
retraining_scheduler = "rate(30 days)"
"#;

/// Demo failures.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error(transparent)]
    Domain(#[from] tradai_domain::DomainError),
    #[error(transparent)]
    Runbook(#[from] tradai_runbook::RunbookError),
    #[error(transparent)]
    Training(#[from] tradai_training::TrainingError),
    #[error(transparent)]
    Market(#[from] tradai_market::MarketError),
    #[error(transparent)]
    Handler(#[from] tradai_handlers::HandlerError),
    #[error(transparent)]
    Runner(#[from] tradai_runner::RunnerError),
    #[error(transparent)]
    Task(#[from] tradai_ports::TaskError),
    #[error(transparent)]
    Store(#[from] tradai_ports::StoreError),
    #[error("configuration: {0}")]
    Config(String),
}

impl DemoError {
    /// Whether the caller asked for something impossible (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, DemoError::Usage(_))
    }
}

fn io(path: &Path, e: impl std::fmt::Display) -> DemoError {
    DemoError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// What the demo plays.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The state directory (wiped if it is an earlier demo's, refused if it is anything else).
    pub home: PathBuf,
    /// Seed of the market and of training.
    pub seed: u64,
    /// Days of market history before the strategy starts (training needs 90 + 14).
    pub history_days: u32,
    /// Days of live trading at most.
    pub live_days: u32,
    /// The regime shift comes this many live days in.
    pub shift_after_days: u32,
    /// Volatility multiplier and per-candle drift added by the regime shift.
    pub shift_vol: f64,
    pub shift_drift: f64,
    /// Real time per candle: the compression of the clock (60 ms plays a day in 1.4 s).
    pub candle_delay: std::time::Duration,
    /// Candles traded after the retraining story ends, before the demo stops.
    pub settle_candles: usize,
}

impl DemoOptions {
    /// The defaults `tradai demo` uses.
    pub fn new(home: impl Into<PathBuf>) -> Self {
        DemoOptions {
            home: home.into(),
            seed: 3,
            history_days: 120,
            live_days: 30,
            shift_after_days: 5,
            shift_vol: 3.0,
            shift_drift: -0.0008,
            candle_delay: std::time::Duration::from_millis(60),
            settle_candles: 8,
        }
    }

    fn validate(&self) -> Result<(), DemoError> {
        let bad = |m: String| Err(DemoError::Usage(m));
        if self.history_days < 110 {
            return bad(format!(
                "--history-days {}: must be at least 110 (90 training + 14 validation days and warm-up)",
                self.history_days
            ));
        }
        if self.live_days == 0 || self.shift_after_days >= self.live_days {
            return bad(format!(
                "--shift-after-days {} must be less than --live-days {}",
                self.shift_after_days, self.live_days
            ));
        }
        if !(self.shift_vol.is_finite() && self.shift_vol > 0.0) {
            return bad(format!(
                "--shift-vol {}: must be a positive number",
                self.shift_vol
            ));
        }
        if !self.shift_drift.is_finite() {
            return bad(format!(
                "--shift-drift {}: must be finite",
                self.shift_drift
            ));
        }
        Ok(())
    }
}

/// How the story ended, read back from the store.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub home: PathBuf,
    pub model: String,
    pub strategy: String,
    /// The version promoted at the start.
    pub first_version: u64,
    /// The version the incident's retraining compared the challenger with (the one serving
    /// when it started); the first version if retraining did not get that far.
    pub champion: u64,
    /// The version retraining produced, if it ran.
    pub challenger: Option<u64>,
    /// The retraining outcome (`promoted`, `kept`, `investigate`, `failed`), if it ran.
    pub outcome: Option<String>,
    /// The serving version when the demo ended.
    pub serving: String,
    /// The incident the policy opened, if drift got that far.
    pub incident_id: Option<String>,
    /// The highest drift severity seen.
    pub max_severity: String,
    /// Market time when the runner first predicted with the challenger (if it was promoted).
    pub switched_at: Option<DateTime<Utc>>,
    pub live_candles: usize,
    pub entries: usize,
    pub exits: usize,
    /// Commands to look at what happened.
    pub inspect: Vec<String>,
}

/// A prepared demo: the market, v1 in Production, the strategy, the daemon and the runner.
pub struct Demo {
    opts: DemoOptions,
    clock: Arc<ManualClock>,
    ctx: Ctx,
    daemon: Daemon,
    runner: Runner,
    tf: Timeframe,
    data_file: PathBuf,
    /// Every candle of the market; `seen` of them are "in the past".
    market: Vec<Candle>,
    seen: usize,
    live_from: usize,
    model: ModelName,
    strategy: StrategyId,
    champion: u64,
    timeline: timeline::Tracker,
    entries: usize,
    exits: usize,
    switched_at: Option<DateTime<Utc>>,
    /// Opened once per candle for the training tasks the tick launched.
    gate: Arc<tokio::sync::Semaphore>,
}

fn build_runbook(home: &Path, clock: Arc<ManualClock>) -> Result<Runbook, DemoError> {
    let loaded = Config::load(Some(("tradai.toml", CONFIG_TOML)), &Default::default(), &[])
        .map_err(|e| DemoError::Config(e.to_string()))?;
    let store = SqliteStore::open(&home.join("tradai.db"), "dev").map_err(|e| io(home, e))?;
    let artifacts = LocalArtifacts::open(
        &home
            .join("artifacts")
            .join(tradai_domain::registry::models_bucket("dev")),
    )
    .map_err(|e| io(home, e))?;
    Ok(Runbook::new(
        Arc::new(store),
        Arc::new(artifacts),
        clock,
        Arc::new(loaded.config),
    ))
}

/// Makes `home` an empty demo home: creates it, or wipes an earlier demo's; refuses a
/// directory that holds anything else.
fn fresh_home(home: &Path) -> Result<(), DemoError> {
    if home.exists() {
        let mut entries = std::fs::read_dir(home).map_err(|e| io(home, e))?;
        let empty = entries.next().is_none();
        if !empty && !home.join(MARKER).exists() {
            return Err(DemoError::Usage(format!(
                "{} is not empty and is not a tradai demo home; choose another with --home",
                home.display()
            )));
        }
        if !empty {
            std::fs::remove_dir_all(home).map_err(|e| io(home, e))?;
        }
    }
    std::fs::create_dir_all(home).map_err(|e| io(home, e))?;
    std::fs::write(
        home.join(MARKER),
        "made by `tradai demo`; the next demo run may delete this directory\n",
    )
    .map_err(|e| io(home, e))?;
    std::fs::write(home.join("tradai.toml"), CONFIG_TOML).map_err(|e| io(home, e))
}

/// The training task's command line as the retraining workflow writes it:
/// `… train MODEL [--config-version-id ID]`.
fn parse_train_command(cmd: &[String]) -> Result<(ModelName, Option<String>), String> {
    let at = cmd
        .iter()
        .position(|a| a == "train")
        .ok_or_else(|| format!("not a training command: {}", cmd.join(" ")))?;
    let model = cmd
        .get(at + 1)
        .ok_or_else(|| "training command without a model".to_string())?;
    let model = ModelName::new(model.clone()).map_err(|e| e.to_string())?;
    let config_version_id = cmd
        .iter()
        .position(|a| a == "--config-version-id")
        .and_then(|i| cmd.get(i + 1).cloned());
    Ok((model, config_version_id))
}

/// Runs the workflow's training tasks in this process, on the demo's clock. A task starts
/// only when the demo opens the `gate` after the daemon's tick, so it always ends between two
/// candles: the workflow sees it finished at the next tick, whatever the machine's speed, and
/// the same seed tells the same story.
fn training_tasks(training: Training, gate: Arc<tokio::sync::Semaphore>) -> TaskBody {
    Arc::new(move |spec| {
        let training = training.clone();
        let gate = gate.clone();
        Box::pin(async move {
            gate.acquire()
                .await
                .map_err(|_| "the demo ended before the task could start".to_string())?
                .forget();
            let (model, config_version_id) = parse_train_command(&spec.command)?;
            let opts = TrainOptions {
                config_version_id,
                ..Default::default()
            };
            training
                .train_version(&model, &opts, &Actor::policy(), &|_| {})
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    })
}

/// Notifications, shown on the timeline (the channel port, delivering to the demo's screen).
struct DemoChannel(Arc<Mutex<Vec<tradai_ports::Notification>>>);

#[async_trait::async_trait]
impl tradai_ports::Channel for DemoChannel {
    fn name(&self) -> &str {
        "demo"
    }
    async fn deliver(
        &self,
        n: &tradai_ports::Notification,
    ) -> Result<(), tradai_ports::DeliveryError> {
        if let Ok(mut v) = self.0.lock() {
            v.push(n.clone());
        }
        Ok(())
    }
}

impl Demo {
    /// Generates the market, trains and promotes v1, adds the strategy. Reports each step.
    pub async fn prepare(
        opts: DemoOptions,
        out: &mut dyn FnMut(&TimelineEntry),
    ) -> Result<Demo, DemoError> {
        opts.validate()?;
        fresh_home(&opts.home)?;
        let home = opts.home.canonicalize().map_err(|e| io(&opts.home, e))?;
        let tf: Timeframe = "1h"
            .parse()
            .map_err(|e: tradai_market::MarketError| DemoError::Config(e.to_string()))?;
        let pair: Pair = PAIR.parse()?;

        // The market: history then live days, ending now; the shift comes during the live part.
        let days = opts.history_days + opts.live_days;
        let end = Utc::now()
            .duration_trunc(Duration::days(1))
            .map_err(|e| DemoError::Config(e.to_string()))?;
        let start = end - Duration::days(i64::from(days));
        let live_start = start + Duration::days(i64::from(opts.history_days));
        let mut synth = SynthConfig::new(tf, start, days, opts.seed);
        // One regime before the shift (the generator's default switches between a calm and a
        // wild one every month or so, which is drift of its own): the shift is the story.
        synth.params.regimes[1] = synth.params.regimes[0];
        // Short volatility clusters (hours, not days): a 3-day window of a calm market then
        // looks like the 90 days it was trained on.
        synth.params.garch_alpha = 0.05;
        synth.params.garch_beta = 0.5;
        synth.shift = Some(RegimeShift {
            at: live_start + Duration::days(i64::from(opts.shift_after_days)),
            vol_mult: opts.shift_vol,
            drift_add: opts.shift_drift,
        });
        let market = tradai_market::synth::generate(&synth, 0)?;
        let live_from = tf.candles_in_days(opts.history_days).min(market.len());
        let data_dir = home.join("data");
        std::fs::create_dir_all(&data_dir).map_err(|e| io(&data_dir, e))?;
        let data_file = data_dir.join(tradai_market::freqtrade_file_name(
            &pair,
            tf,
            DataFormat::Csv,
        ));
        tradai_market::write_candles(&data_file, DataFormat::Csv, &market[..live_from])?;

        let now = market[..live_from]
            .last()
            .map(|c| c.ts + tf.duration())
            .unwrap_or(live_start);
        let clock = Arc::new(ManualClock::new(now));
        let rb = build_runbook(&home, clock.clone())?;
        let mut timeline = timeline::Tracker::default();
        let mut say = |who: &str, what: String| {
            out(&TimelineEntry {
                at: now,
                who: who.to_string(),
                what,
            })
        };
        say(
            "demo",
            format!(
                "market: {} {} candles of {PAIR} {tf} from {} (seed {}); regime shift at {} (volatility x{}, drift {:+})",
                market.len(),
                tf,
                start.format("%Y-%m-%d"),
                opts.seed,
                synth
                    .shift
                    .map(|s| s.at.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default(),
                opts.shift_vol,
                opts.shift_drift
            ),
        );

        let model = ModelName::new(MODEL)?;
        let strategy = StrategyId::new(STRATEGY)?;
        let operator = Actor::new("demo-operator");
        let training = Training::new(rb.clone());
        rb.strategy_add(
            StrategyConfig {
                strategy_id: strategy.clone(),
                model: model.clone(),
                stake_amount: 100.0,
                max_open_trades: 1,
                pairs: vec![PAIR.to_string()],
                timeframe: tf.to_string(),
            },
            &operator,
        )
        .await?;
        say(
            "demo-operator",
            format!("added strategy {STRATEGY} trading {PAIR} with {MODEL}, stake 100"),
        );

        tradai_training::model_config::set(
            &*rb.store,
            &model,
            &ModelConfigPatch {
                pairs: Some(vec![PAIR.to_string()]),
                timeframe: Some(tf.to_string()),
                data_dir: Some(Some(data_dir.display().to_string())),
                train_period_days: Some(90),
                validation_days: Some(14),
                seed: Some(opts.seed),
                strategy: Some(Some(strategy.clone())),
                ..Default::default()
            },
            &operator,
            Some("demo setup"),
            now,
        )
        .await?;
        let v1 = training
            .train_version(&model, &TrainOptions::default(), &operator, &|_| {})
            .await?;
        let m = &v1.version.metrics;
        say(
            "demo-operator",
            format!(
                "trained {MODEL} v{}: validation profit {}%, sharpe {}, {} trades",
                v1.version.version,
                metric(m, "profit_total_pct"),
                metric(m, "sharpe_ratio"),
                metric(m, "trades"),
            ),
        );
        rb.model_promote(
            &model,
            v1.version.version,
            &operator,
            Some("first version of the demo model"),
        )
        .await?;
        say(
            "demo-operator",
            format!("promoted v{} to Production", v1.version.version),
        );
        let notes = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let executor = InProcessExecutor::new(
            rb.store.clone(),
            clock.clone(),
            training_tasks(training.clone(), gate.clone()),
        );
        let ctx = Ctx {
            tracker: training.tracker.clone(),
            evaluator: Arc::new(training),
            channels: vec![Arc::new(DemoChannel(notes.clone()))],
            executor: Arc::new(executor),
            tradai_command: vec!["tradai".into(), "--home".into(), home.display().to_string()],
            // The demo ticks by hand and shows each notification on the timeline at once.
            deliver_inline: true,
            rb: rb.clone(),
        };
        timeline.notifications = notes;
        timeline.skip_audit_until(&rb).await?;
        let daemon = Daemon::new(ctx.clone()).map_err(|e| DemoError::Config(e.to_string()))?;
        let mut ropts = RunnerOptions::new(home.join("cache").join("models"));
        ropts.fee = 0.001;
        let feed = ReplayFeed::new(PAIR, Vec::new(), tf, Speed::Max);
        let runner = Runner::new(rb, strategy.clone(), Box::new(feed), ropts);
        Ok(Demo {
            opts,
            clock,
            ctx,
            daemon,
            runner,
            tf,
            data_file,
            market,
            seen: live_from,
            live_from,
            model,
            strategy,
            champion: v1.version.version,
            timeline,
            entries: 0,
            exits: 0,
            switched_at: None,
            gate,
        })
    }

    /// The runbook the demo runs on (store, artifacts, its market clock).
    pub fn runbook(&self) -> &Runbook {
        &self.ctx.rb
    }

    /// The market time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Feeds the runner the history it needs before its first prediction (no trading).
    async fn warm_up(&mut self) -> Result<(), DemoError> {
        let n = tradai_ml_history().min(self.live_from);
        for i in self.live_from - n..self.live_from {
            let c = self.market[i];
            self.runner.step(c).await?;
        }
        Ok(())
    }

    /// One market hour: the candle closes (and lands in the data file), the strategy handles
    /// it, the daemon runs what is due; a training task started now finishes before the next
    /// candle. Returns the runner's report, or None when the market has no more candles.
    pub async fn step(
        &mut self,
        out: &mut dyn FnMut(&TimelineEntry),
    ) -> Result<Option<StepReport>, DemoError> {
        let Some(&c) = self.market.get(self.seen) else {
            return Ok(None);
        };
        if self.seen == self.live_from {
            self.warm_up().await?;
        }
        self.seen += 1;
        self.clock.set(c.ts + self.tf.duration());
        tradai_market::write_candles(&self.data_file, DataFormat::Csv, &self.market[..self.seen])?;
        let report = self.runner.step(c).await?;
        self.ctx.rb.trading_heartbeat(&self.strategy).await?;
        match &report.action {
            tradai_runner::Action::Entered { .. } => self.entries += 1,
            tradai_runner::Action::Exited { position_ids } => self.exits += position_ids.len(),
            _ => {}
        }
        if self.switched_at.is_none()
            && self.timeline.outcome.as_deref() == Some("promoted")
            && let (Some(v), Some(c)) = (&report.model_version, self.timeline.challenger)
            && *v == c.to_string()
        {
            self.switched_at = Some(report.ts);
        }
        let tick = self.daemon.tick().await;
        self.wait_for_tasks().await?;
        self.timeline
            .record(&self.ctx, &self.model, &report, &tick, out)
            .await?;
        Ok(Some(report))
    }

    /// A training task runs for seconds and a candle is an hour: the market waits for it.
    /// Tasks launched during this tick start now (see [`training_tasks`]).
    async fn wait_for_tasks(&self) -> Result<(), DemoError> {
        let running = || async {
            Ok::<usize, DemoError>(
                self.ctx
                    .executor
                    .list(Some(tradai_ports::RETRAINING_STARTED_BY))
                    .await?
                    .iter()
                    .filter(|t| !t.status.is_final())
                    .count(),
            )
        };
        let n = running().await?;
        if n == 0 {
            return Ok(());
        }
        self.gate.add_permits(n);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
        while running().await? > 0 {
            if std::time::Instant::now() > deadline {
                tracing::warn!(
                    "a training task is still running after 10 minutes; the market goes on"
                );
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Plays the live market until the retraining story has ended and `settle_candles` more
    /// have traded (or the market ends), then records the incident as the operator would and
    /// stops the strategy.
    pub async fn play(
        &mut self,
        out: &mut dyn FnMut(&TimelineEntry),
    ) -> Result<DemoReport, DemoError> {
        let mut settled: Option<usize> = None;
        while settled.is_none_or(|n| n < self.opts.settle_candles) {
            if self.step(out).await?.is_none() {
                break;
            }
            if let Some(n) = settled.as_mut() {
                *n += 1;
            } else if self.timeline.retraining_finished() {
                settled = Some(0);
            }
            if !self.opts.candle_delay.is_zero() {
                tokio::time::sleep(self.opts.candle_delay).await;
            }
        }
        self.finish(out).await
    }

    /// The operator's part at the end: resolve the incident with what happened, stop trading.
    async fn finish(
        &mut self,
        out: &mut dyn FnMut(&TimelineEntry),
    ) -> Result<DemoReport, DemoError> {
        let rb = self.ctx.rb.clone();
        let operator = Actor::new("demo-operator");
        let serving = rb
            .model_serving(&self.model)
            .await?
            .map(|p| p.model_version)
            .unwrap_or_default();
        let outcome = self.timeline.outcome.clone();
        let incident = rb
            .incident_list(None)
            .await?
            .into_iter()
            .filter(|i| i.model_name.as_ref() == Some(&self.model))
            .min_by_key(|i| i.opened_at);
        if let Some(inc) = &incident
            && inc.status != IncidentStatus::Resolved
        {
            let note = match outcome.as_deref() {
                Some("promoted") => format!(
                    "regime shift in {PAIR}; retrained and promoted v{serving}, drift reset, trading resumed. Watch v{serving} closely."
                ),
                Some(o) => format!(
                    "regime shift in {PAIR}; retraining ended '{o}', v{serving} kept and trading left as the policy set it for investigation."
                ),
                None => {
                    format!("regime shift in {PAIR}; retraining did not finish during the demo.")
                }
            };
            rb.incident_set_status(&inc.id, IncidentStatus::Resolved, &operator, &note)
                .await?;
        }
        let st = rb.trading_status(&self.strategy).await?;
        if st.status != TradingStatus::Stopped && st.status != TradingStatus::Terminated {
            rb.trading_set_status(
                &self.strategy,
                TradingStatus::Stopped,
                &operator,
                "demo finished",
            )
            .await?;
        }
        self.timeline.flush_audit(&self.ctx, out).await?;
        let home = self.opts.home.display().to_string();
        let mut inspect = vec![
            format!("tradai --home {home} drift history {MODEL}"),
            format!("tradai --home {home} model versions {MODEL}"),
            format!("tradai --home {home} workflows list"),
            format!("tradai --home {home} audit"),
        ];
        if let Some(inc) = &incident {
            inspect.insert(0, format!("tradai --home {home} incident show {}", inc.id));
        }
        Ok(DemoReport {
            home: self.opts.home.clone(),
            model: MODEL.into(),
            strategy: STRATEGY.into(),
            first_version: self.champion,
            champion: self.timeline.champion.unwrap_or(self.champion),
            challenger: self.timeline.challenger,
            outcome,
            serving,
            incident_id: incident.map(|i| i.id),
            max_severity: self.timeline.max_severity.to_string(),
            switched_at: self.switched_at,
            live_candles: self.seen - self.live_from,
            entries: self.entries,
            exits: self.exits,
            inspect,
        })
    }
}

fn tradai_ml_history() -> usize {
    RunnerOptions::new(".").warmup_candles
}

fn metric(m: &std::collections::BTreeMap<String, serde_json::Value>, k: &str) -> String {
    match m.get(k).and_then(|v| v.as_f64()) {
        Some(x) if x.fract() == 0.0 => format!("{x}"),
        Some(x) => format!("{x:.2}"),
        None => "-".into(),
    }
}

/// Runs the whole demo: prepare, play, report.
pub async fn run(
    opts: DemoOptions,
    out: &mut dyn FnMut(&TimelineEntry),
) -> Result<DemoReport, DemoError> {
    let mut demo = Demo::prepare(opts, out).await?;
    demo.play(out).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_workflows_training_command() {
        let cmd: Vec<String> = [
            "tradai",
            "--home",
            "/h",
            "train",
            "m1",
            "--config-version-id",
            "c7",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (m, c) = parse_train_command(&cmd).unwrap();
        assert_eq!(m.as_str(), "m1");
        assert_eq!(c.as_deref(), Some("c7"));
        assert!(parse_train_command(&["tradai".to_string()]).is_err());
        assert!(parse_train_command(&["train".to_string()]).is_err());
    }

    #[test]
    fn refuses_a_home_that_is_not_a_demo_home() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("precious.txt"), "x").unwrap();
        let e = fresh_home(d.path()).unwrap_err();
        assert!(e.is_usage(), "{e}");
        assert!(d.path().join("precious.txt").exists());
        // An earlier demo's home is wiped.
        let h = d.path().join("demo");
        fresh_home(&h).unwrap();
        std::fs::write(h.join("old.db"), "x").unwrap();
        fresh_home(&h).unwrap();
        assert!(!h.join("old.db").exists());
        assert!(h.join(MARKER).exists());
    }

    #[test]
    fn options_are_validated() {
        let mut o = DemoOptions::new("x");
        o.shift_after_days = o.live_days;
        assert!(o.validate().unwrap_err().is_usage());
        let mut o = DemoOptions::new("x");
        o.history_days = 30;
        assert!(o.validate().is_err());
    }
}
