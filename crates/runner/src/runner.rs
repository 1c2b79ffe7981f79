//! The strategy runner: candles in, decisions out, obeying the trading state written by anyone.

use crate::book::{self, exit_at};
use crate::error::RunnerError;
use crate::feed::CandleFeed;
use crate::records::{Position, PredictionRecord};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use tokio::time::MissedTickBehavior;
use tradai_domain::registry::artifact_prefix;
use tradai_domain::{Actor, ModelName, StrategyId, TradingStatus};
use tradai_market::Candle;
use tradai_ml::{FeatureEngine, ServedModel, Signal};
use tradai_ports::state::new_id;
use tradai_ports::{AuditEntry, Expect, Key, StoreError, Table, Write};
use tradai_runbook::{Runbook, TradingState};

/// How the runner runs. `RunnerOptions::new(cache_dir)` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Where fetched model artifacts are kept (`{cache_dir}/{MODEL}/{VERSION}/`).
    pub cache_dir: PathBuf,
    /// Candles fed to the feature engine before the first prediction (EMA features need ~300).
    pub warmup_candles: usize,
    /// How often `last_heartbeat` is written (heartbeat-check's threshold is 2 minutes).
    pub heartbeat_every: Duration,
    /// How often the trading status and serving pointer are re-read between candles.
    pub status_poll: Duration,
    /// Fee per side and slippage per fill, as the backtester charges them.
    pub fee: f64,
    pub slippage: f64,
    /// Consecutive failed candles before `run` gives up.
    pub max_consecutive_errors: usize,
}

impl RunnerOptions {
    /// Defaults: 300 warm-up candles, heartbeat every 30 s, status poll every 1 s, the
    /// backtester's default costs (0.1% fee, 5 bps slippage), give up after 10 failed candles.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        // The backtester's default costs (its timeframe plays no part in them).
        let (fee, slippage) = tradai_market::Timeframe::from_secs(3600)
            .map(|tf| {
                let bt = tradai_ml::BacktestConfig::new(tf);
                (bt.fee, bt.slippage)
            })
            .unwrap_or((0.001, 0.0005));
        RunnerOptions {
            cache_dir: cache_dir.into(),
            warmup_candles: tradai_ml::features::RECOMMENDED_HISTORY,
            heartbeat_every: Duration::from_secs(30),
            status_poll: Duration::from_secs(1),
            fee,
            slippage,
            max_consecutive_errors: 10,
        }
    }
}

/// What the runner did with one candle.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Still warming the feature engine up: no prediction yet.
    WarmingUp,
    /// Predicted; nothing to trade.
    Hold,
    /// Opened a position.
    Entered { position_id: String, stake: f64 },
    /// Closed positions on an exit signal.
    Exited { position_ids: Vec<String> },
    /// An entry signal not acted on, and why (`paused`, `stopped`, `max_open_trades`, `in_position`).
    EntrySkipped { why: &'static str },
    /// An exit signal not acted on because the status forbids trading.
    ExitSkipped { why: &'static str },
}

/// The outcome of one candle, for tests, the bench and the CLI's progress output.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// The candle's open time.
    pub ts: chrono::DateTime<chrono::Utc>,
    /// The status the candle was handled under (read at the start of the step).
    pub status: TradingStatus,
    /// The serving version that predicted (None while warming up).
    pub model_version: Option<String>,
    pub prediction: Option<f64>,
    pub signal: Option<Signal>,
    pub action: Action,
    /// Candle in → decision written (the measured "candle-to-decision" latency).
    pub latency: Duration,
    /// Status read → entry written: how long a pause can go unseen by an entry.
    pub entry_window: Option<Duration>,
}

/// Why `run` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The shutdown future completed (Ctrl-C, the daemon stopping).
    Shutdown,
    /// The feed has no more candles.
    EndOfFeed,
    /// Someone terminated the strategy.
    Terminated,
}

/// What a `run` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub ended: EndReason,
    pub candles: usize,
    pub predictions: usize,
    pub entries: usize,
    pub exits: usize,
    pub errors: usize,
    pub model_switches: usize,
}

/// Asks a running runner to reload its model (the CLI calls this on SIGHUP).
#[derive(Debug, Clone)]
pub struct ReloadHandle(Arc<Notify>);

impl ReloadHandle {
    /// Requests a reload; it happens between two candles. Requests made while one is pending
    /// coalesce.
    pub fn reload(&self) {
        self.0.notify_one();
    }
}

struct Serving {
    model: ServedModel,
    version: String,
    engine: FeatureEngine,
}

/// The paper-trading strategy runner (the runbook's "strategy service").
///
/// State lives only in the store: positions, trades and predictions are read and written
/// through the state port each candle, so a restart, a manual close from another process or a
/// status written by anyone are all seen at the next candle.
pub struct Runner {
    rb: Runbook,
    strategy: StrategyId,
    feed: Option<Box<dyn CandleFeed>>,
    pair: String,
    opts: RunnerOptions,
    model_name: Option<ModelName>,
    serving: Option<Serving>,
    history: VecDeque<Candle>,
    seen: usize,
    status: Option<TradingStatus>,
    started: bool,
    reload: Arc<Notify>,
    status_tx: watch::Sender<Option<TradingStatus>>,
    summary: RunSummary,
}

impl Runner {
    /// A runner for `strategy` reading `feed`. Nothing is read or written until it starts.
    pub fn new(
        rb: Runbook,
        strategy: StrategyId,
        feed: Box<dyn CandleFeed>,
        opts: RunnerOptions,
    ) -> Self {
        let pair = feed.pair().to_string();
        Runner {
            rb,
            strategy,
            feed: Some(feed),
            pair,
            opts,
            model_name: None,
            serving: None,
            history: VecDeque::new(),
            seen: 0,
            status: None,
            started: false,
            reload: Arc::new(Notify::new()),
            status_tx: watch::Sender::new(None),
            summary: RunSummary {
                ended: EndReason::EndOfFeed,
                candles: 0,
                predictions: 0,
                entries: 0,
                exits: 0,
                errors: 0,
                model_switches: 0,
            },
        }
    }

    /// The strategy this runner trades.
    pub fn strategy(&self) -> &StrategyId {
        &self.strategy
    }

    /// A handle that makes `run` reload the model between candles (SIGHUP).
    pub fn reload_handle(&self) -> ReloadHandle {
        ReloadHandle(self.reload.clone())
    }

    /// The trading status as the runner last read it, updated as it changes: for a CLI status
    /// line, and for measuring how fast a pause is seen (`benches/runner.rs`).
    pub fn status_watch(&self) -> watch::Receiver<Option<TradingStatus>> {
        self.status_tx.subscribe()
    }

    /// The version currently serving, once started.
    pub fn model_version(&self) -> Option<&str> {
        self.serving.as_ref().map(|s| s.version.as_str())
    }

    /// The last trading status the runner read.
    pub fn status(&self) -> Option<TradingStatus> {
        self.status
    }

    /// Starts the strategy: refuses a terminated one, moves `stopped`/`failed`/`running` to
    /// `warmup` (a `paused` strategy stays paused), loads the serving model, writes a heartbeat.
    /// Called by `run` and by the first `step`; calling it again does nothing.
    pub async fn start(&mut self) -> Result<(), RunnerError> {
        if self.started {
            return Ok(());
        }
        let cfg = self.rb.strategy_show(&self.strategy).await?.config;
        if !cfg.pairs.iter().any(|p| p == &self.pair) {
            return Err(RunnerError::PairNotTraded {
                strategy: self.strategy.to_string(),
                pair: self.pair.clone(),
                pairs: cfg.pairs.join(", "),
            });
        }
        self.model_name = Some(cfg.model.clone());
        let st = self.rb.trading_status(&self.strategy).await?;
        let status = match st.status {
            TradingStatus::Terminated => {
                return Err(RunnerError::Terminated(self.strategy.to_string()));
            }
            TradingStatus::Paused | TradingStatus::Warmup => st.status,
            TradingStatus::Stopped | TradingStatus::Failed | TradingStatus::Running => {
                let ch = self
                    .rb
                    .trading_set_status(
                        &self.strategy,
                        TradingStatus::Warmup,
                        &Actor::system(),
                        "strategy runner started",
                    )
                    .await?;
                ch.after.status
            }
        };
        self.observe(status);
        self.switch_model(true).await?;
        self.rb.trading_heartbeat(&self.strategy).await?;
        self.started = true;
        Ok(())
    }

    /// Re-resolves the serving pointer and reloads the model even if the version is unchanged
    /// (SIGHUP, or after someone replaced an artifact). Positions are kept.
    pub async fn reload(&mut self) -> Result<(), RunnerError> {
        self.start().await?;
        self.switch_model(true).await
    }

    /// Handles one closed candle: status, model, features, prediction (logged), trades.
    pub async fn step(&mut self, candle: Candle) -> Result<StepReport, RunnerError> {
        self.start().await?;
        let t0 = Instant::now();
        let status = self.read_status().await?;
        if status == TradingStatus::Terminated {
            return Err(RunnerError::Terminated(self.strategy.to_string()));
        }
        let t_status = Instant::now();
        self.switch_model(false).await?;
        self.summary.candles += 1;
        self.seen += 1;
        if self.history.len() == self.opts.warmup_candles.max(1) {
            self.history.pop_front();
        }
        self.history.push_back(candle);
        let serving = self
            .serving
            .as_mut()
            .ok_or_else(|| RunnerError::NoServingModel(self.strategy.to_string()))?;
        let features = serving.engine.update(&candle);
        let mut report = StepReport {
            ts: candle.ts,
            status,
            model_version: None,
            prediction: None,
            signal: None,
            action: Action::WarmingUp,
            latency: Duration::ZERO,
            entry_window: None,
        };
        let Some(features) = features.filter(|_| self.seen >= self.opts.warmup_candles) else {
            report.latency = t0.elapsed();
            return Ok(report);
        };
        let version = serving.version.clone();
        let p = serving.model.predict(&features);
        let signal = serving.model.signal(p);
        let named: BTreeMap<String, f64> = serving
            .model
            .feature_set()
            .names
            .iter()
            .zip(&features)
            .filter(|(_, v)| v.is_finite())
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let status = if status == TradingStatus::Warmup {
            self.finish_warmup().await?
        } else {
            status
        };
        report.status = status;
        report.model_version = Some(version.clone());
        report.prediction = p.is_finite().then_some(p);
        report.signal = Some(signal);
        let model = self.model()?.to_string();
        let rec = PredictionRecord {
            strategy_id: self.strategy.to_string(),
            pair: self.pair.clone(),
            ts: candle.ts,
            model_name: model,
            model_version: version.clone(),
            prediction: report.prediction,
            signal,
            features: named,
            status,
            logged_at: self.rb.clock.now(),
        };
        book::log_prediction(&*self.rb.store, &rec).await?;
        self.summary.predictions += 1;
        report.action = self
            .trade(
                &candle,
                signal,
                status,
                &version,
                t_status,
                &mut report.entry_window,
            )
            .await?;
        report.latency = t0.elapsed();
        Ok(report)
    }

    /// Runs until `shutdown` completes, the feed ends or the strategy is terminated: candles as
    /// they come, the status and serving pointer re-read every `status_poll`, a heartbeat every
    /// `heartbeat_every`, a reload on request. A failed candle is logged and skipped; after
    /// `max_consecutive_errors` in a row the runner gives up.
    pub async fn run<S>(&mut self, shutdown: S) -> Result<RunSummary, RunnerError>
    where
        S: Future<Output = ()> + Send,
    {
        self.start().await?;
        let Some(mut feed) = self.feed.take() else {
            return Err(RunnerError::Invalid(
                "the runner's feed is already in use".into(),
            ));
        };
        let out = self.run_loop(&mut feed, shutdown).await;
        self.feed = Some(feed);
        let ended = out?;
        self.summary.ended = ended;
        tracing::info!(
            strategy = %self.strategy,
            ended = ?ended,
            candles = self.summary.candles,
            entries = self.summary.entries,
            exits = self.summary.exits,
            errors = self.summary.errors,
            "strategy runner stopped"
        );
        Ok(self.summary.clone())
    }

    async fn run_loop<S>(
        &mut self,
        feed: &mut Box<dyn CandleFeed>,
        shutdown: S,
    ) -> Result<EndReason, RunnerError>
    where
        S: Future<Output = ()> + Send,
    {
        let mut heartbeat = tokio::time::interval(self.opts.heartbeat_every);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut poll = tokio::time::interval(self.opts.status_poll);
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let reload = self.reload.clone();
        let mut shutdown = std::pin::pin!(shutdown);
        let mut failures = 0usize;
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => return Ok(EndReason::Shutdown),
                () = reload.notified() => {
                    if let Err(e) = self.switch_model(true).await {
                        tracing::error!(strategy = %self.strategy, error = %e, "model reload failed; keeping the loaded model");
                    }
                }
                _ = heartbeat.tick() => {
                    if let Err(e) = self.rb.trading_heartbeat(&self.strategy).await {
                        tracing::warn!(strategy = %self.strategy, error = %e, "heartbeat not written");
                    }
                }
                _ = poll.tick() => {
                    match self.poll().await {
                        Ok(TradingStatus::Terminated) => return Ok(EndReason::Terminated),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(strategy = %self.strategy, error = %e, "status poll failed"),
                    }
                }
                c = feed.next() => {
                    let Some(c) = c else { return Ok(EndReason::EndOfFeed) };
                    match self.step(c).await {
                        Ok(_) => failures = 0,
                        Err(RunnerError::Terminated(_)) => return Ok(EndReason::Terminated),
                        Err(e) => {
                            failures += 1;
                            self.summary.errors += 1;
                            tracing::error!(strategy = %self.strategy, ts = %c.ts, error = %e, "candle not handled");
                            if failures >= self.opts.max_consecutive_errors {
                                return Err(RunnerError::TooManyErrors { count: failures, last: e.to_string() });
                            }
                        }
                    }
                }
            }
        }
    }

    /// Between candles: re-read status and pointer so a change is seen (and logged) within
    /// `status_poll`, and a termination ends the run.
    async fn poll(&mut self) -> Result<TradingStatus, RunnerError> {
        let status = self.read_status().await?;
        if status != TradingStatus::Terminated {
            self.switch_model(false).await?;
        }
        Ok(status)
    }

    fn model(&self) -> Result<&ModelName, RunnerError> {
        self.model_name
            .as_ref()
            .ok_or_else(|| RunnerError::Invalid("runner not started".into()))
    }

    fn observe(&mut self, status: TradingStatus) {
        if self.status != Some(status) {
            tracing::info!(strategy = %self.strategy, from = ?self.status.map(|s| s.as_str()), to = status.as_str(), "trading status");
            self.status = Some(status);
            self.status_tx.send_replace(Some(status));
        }
    }

    async fn read_status(&mut self) -> Result<TradingStatus, RunnerError> {
        let st = self.rb.trading_status(&self.strategy).await?;
        self.observe(st.status);
        Ok(st.status)
    }

    /// `warmup` → `running` once the features are warm, by a conditional write on the revision
    /// read: a pause (or anything else) written meanwhile by anyone wins.
    async fn finish_warmup(&mut self) -> Result<TradingStatus, RunnerError> {
        let key = Key::pk(self.strategy.as_str());
        for _ in 0..8 {
            let Some(item) = self.rb.store.get(Table::TRADING_STATE, &key).await? else {
                return Err(RunnerError::Invalid(format!(
                    "strategy '{}' has no trading state",
                    self.strategy
                )));
            };
            let rev = item.rev;
            let cur: TradingState = book::decode(Table::TRADING_STATE, item)?;
            if cur.status != TradingStatus::Warmup {
                self.observe(cur.status);
                return Ok(cur.status);
            }
            let now = self.rb.clock.now();
            let after = TradingState {
                status: TradingStatus::Running,
                reason: Some("features warmed up".into()),
                updated_by: Some(Actor::SYSTEM.into()),
                updated_at: Some(now),
                ..cur.clone()
            };
            let (before_doc, after_doc) = (book::encode(&cur)?, book::encode(&after)?);
            let w = Write {
                table: Table::TRADING_STATE,
                key: key.clone(),
                doc: Some(after_doc.clone()),
                expect: Expect::Rev(rev),
                at: now,
                audit: Some(AuditEntry {
                    id: new_id(now),
                    at: now,
                    actor: Actor::SYSTEM.into(),
                    action: "trading.resume".into(),
                    entity: format!("{}/{}", Table::TRADING_STATE, key),
                    before: Some(before_doc),
                    after: Some(after_doc),
                    reason: Some("features warmed up".into()),
                }),
            };
            match self.rb.store.write(w).await {
                Ok(_) => {
                    self.observe(TradingStatus::Running);
                    return Ok(TradingStatus::Running);
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        self.read_status().await
    }

    /// Loads the serving version if it differs from the loaded one (or always, when `force`),
    /// replaying the candle history into the new feature engine so the switch costs no warm-up.
    /// A failed switch keeps the loaded model (and says so); with none loaded it is an error.
    async fn switch_model(&mut self, force: bool) -> Result<(), RunnerError> {
        let model = self.model()?.clone();
        let ptr = self.rb.model_serving(&model).await?;
        let Some(ptr) = ptr else {
            if self.serving.is_some() {
                tracing::warn!(model = %model, "serving pointer disappeared; keeping the loaded model");
                return Ok(());
            }
            return Err(RunnerError::NoServingModel(model.to_string()));
        };
        let loaded = self.serving.as_ref().map(|s| s.version.clone());
        if !force && loaded.as_deref() == Some(ptr.model_version.as_str()) {
            return Ok(());
        }
        match self.load(&model, &ptr).await {
            Ok(s) => {
                if let Some(from) = &loaded
                    && from != &s.version
                {
                    self.summary.model_switches += 1;
                    tracing::info!(strategy = %self.strategy, model = %model, from = %from, to = %s.version, "model switched");
                }
                self.serving = Some(s);
                Ok(())
            }
            Err(e) if self.serving.is_some() => {
                tracing::error!(model = %model, version = %ptr.model_version, error = %e, "cannot load the serving version; keeping the loaded model");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn load(
        &self,
        model: &ModelName,
        ptr: &tradai_runbook::ServingPointer,
    ) -> Result<Serving, RunnerError> {
        let bad = |message: String| RunnerError::BadPointer {
            model: model.to_string(),
            version: ptr.model_version.clone(),
            message,
        };
        let v: u64 = ptr
            .model_version
            .parse()
            .map_err(|_| bad("not a version number".into()))?;
        let rec = self.rb.model_version(model, v).await?;
        let dir = self.opts.cache_dir.join(model.as_str()).join(v.to_string());
        let info = self
            .rb
            .artifacts
            .get_dir(&artifact_prefix(model.as_str(), v), &dir)
            .await?;
        if info.sha256 != rec.sha256 {
            return Err(RunnerError::Checksum {
                model: model.to_string(),
                version: ptr.model_version.clone(),
                expected: rec.sha256,
                found: info.sha256,
            });
        }
        let m = ServedModel::load(&dir)?;
        let mut engine = m.feature_engine()?;
        for c in &self.history {
            engine.update(c);
        }
        tracing::info!(
            strategy = %self.strategy,
            model = %model,
            version = %ptr.model_version,
            path = %ptr.model_path,
            sha256 = %info.sha256,
            cache = %dir.display(),
            features = m.feature_set().len(),
            "model loaded"
        );
        Ok(Serving {
            model: m,
            version: ptr.model_version.clone(),
            engine,
        })
    }

    async fn trade(
        &mut self,
        c: &Candle,
        signal: Signal,
        status: TradingStatus,
        version: &str,
        t_status: Instant,
        entry_window: &mut Option<Duration>,
    ) -> Result<Action, RunnerError> {
        let store = self.rb.store.clone();
        let now = self.rb.clock.now();
        let mut open: Vec<(Position, u64)> = Vec::new();
        let mut stale: Vec<String> = Vec::new();
        for (mut p, rev) in book::stored_positions(&*store, self.strategy.as_str()).await? {
            if p.exit.is_some() {
                // A close committed but not finished (crash, or another process mid-close).
                book::finish_close(&*store, &p, now).await?;
                continue;
            }
            if p.pair == self.pair && c.ts < p.last_ts {
                // A replayed older candle (warm-up after a restart): neither marks nor exits it.
                stale.push(p.id.clone());
                open.push((p, rev));
            } else if p.pair == self.pair && c.close.is_finite() {
                p.last_price = c.close;
                p.last_ts = c.ts;
                if !book::mark_position(&*store, &p, rev, now).await? {
                    continue; // changed meanwhile (a manual close): re-read next candle
                }
                open.push((p, rev + 1));
            } else {
                open.push((p, rev));
            }
        }
        let mine: Vec<&(Position, u64)> =
            open.iter().filter(|(p, _)| p.pair == self.pair).collect();
        match signal {
            Signal::Exit if !mine.is_empty() => {
                if !status.manages_positions() {
                    return Ok(Action::ExitSkipped {
                        why: status.as_str(),
                    });
                }
                let mut ids = Vec::new();
                for (p, rev) in mine.into_iter().filter(|(p, _)| !stale.contains(&p.id)) {
                    let mut exit = exit_at(p, c.close, c.ts, "exit_signal", Actor::SYSTEM, now);
                    exit.model_version = Some(version.to_string());
                    if book::close(&*store, p, *rev, exit, None).await?.is_some() {
                        ids.push(p.id.clone());
                        self.summary.exits += 1;
                    }
                }
                Ok(Action::Exited { position_ids: ids })
            }
            Signal::Enter => {
                if !status.allows_entries() {
                    return Ok(Action::EntrySkipped {
                        why: status.as_str(),
                    });
                }
                if !mine.is_empty() {
                    return Ok(Action::EntrySkipped { why: "in_position" });
                }
                // Re-read at each entry: a stake or max_open_trades change applies to the next one.
                let cfg = self.rb.strategy_show(&self.strategy).await?;
                if open.len() >= cfg.config.max_open_trades as usize {
                    return Ok(Action::EntrySkipped {
                        why: "max_open_trades",
                    });
                }
                let stake = cfg.config.stake_amount;
                let fill = tradai_ml::entry_fill(c.close, stake, self.opts.fee, self.opts.slippage);
                if !(fill.rate.is_finite() && fill.rate > 0.0) {
                    return Ok(Action::EntrySkipped { why: "no_price" });
                }
                let pos = Position {
                    id: new_id(c.ts),
                    strategy_id: self.strategy.to_string(),
                    pair: self.pair.clone(),
                    model_name: self.model()?.to_string(),
                    model_version: version.to_string(),
                    opened_at: c.ts,
                    entry_price: c.close,
                    open_rate: fill.rate,
                    amount: fill.amount,
                    stake_amount: stake,
                    config_version: cfg.config_version,
                    fee: self.opts.fee,
                    slippage: self.opts.slippage,
                    last_price: c.close,
                    last_ts: c.ts,
                    exit: None,
                };
                book::insert_position(&*store, &pos, now).await?;
                *entry_window = Some(t_status.elapsed());
                self.summary.entries += 1;
                Ok(Action::Entered {
                    position_id: pos.id,
                    stake,
                })
            }
            _ => Ok(Action::Hold),
        }
    }
}
