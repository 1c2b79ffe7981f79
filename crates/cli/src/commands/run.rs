//! `tradai run STRATEGY` (the paper-trading strategy runner) and `tradai positions`.

use super::name;
use crate::app::{Global, usage};
use crate::output::{emit, table, ts};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tradai_domain::StrategyId;
use tradai_runner::{CloseTarget, ReplayFeed, Runner, RunnerOptions, Speed, synthetic_live};

#[derive(Debug, Args)]
pub struct RunArgs {
    pub strategy: String,
    #[command(flatten)]
    pub feed: FeedArgs,
}

/// Where a runner's candles come from (`tradai run`, and the runners `tradai up` starts).
#[derive(Debug, Args, Clone)]
pub struct FeedArgs {
    /// Candle file to replay [default: the model configuration's data for the strategy's pair;
    /// without one, a synthetic live market].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Replay speed: `3600x` plays one 1h candle per second, `max` does not wait.
    #[arg(long, default_value = "3600x")]
    pub speed: String,
    /// Start the replay at this market time (earlier candles only warm the features up).
    #[arg(long)]
    pub from: Option<String>,
    /// Use the synthetic market generator even if data is configured.
    #[arg(long)]
    pub synthetic: bool,
    /// How many live candles the synthetic market produces.
    #[arg(long, default_value_t = 10_000)]
    pub live_candles: usize,
    /// Seed of the synthetic market.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct PositionsArgs {
    /// Open positions of STRATEGY with entry, size and unrealised P&L.
    #[arg(required = true)]
    pub strategy: Option<String>,
    #[command(subcommand)]
    pub command: Option<PositionsCmd>,
}

#[derive(Debug, Subcommand)]
pub enum PositionsCmd {
    /// Close positions by hand (the runbook's "manual intervention"), audited.
    Close {
        strategy: String,
        /// A position id (see `tradai positions STRATEGY`).
        id: Option<String>,
        /// Every open position of the strategy.
        #[arg(long, conflicts_with = "id")]
        all: bool,
        #[arg(long)]
        reason: String,
    },
}

fn runner_error(e: tradai_runner::RunnerError) -> anyhow::Error {
    if e.is_usage() {
        usage(e.to_string())
    } else {
        anyhow::Error::new(e)
    }
}

/// A runner for strategy `id` on the feed `a` describes: a replay of `--data`, else of the
/// model configuration's data for the strategy's first pair, else the synthetic market.
/// Returns the runner and a description of its feed.
pub(crate) async fn build_runner(
    rb: tradai_runbook::Runbook,
    id: &StrategyId,
    a: &FeedArgs,
    home: &std::path::Path,
) -> anyhow::Result<(Runner, String)> {
    let cfg = rb.strategy_show(id).await?;
    let speed: Speed = a.speed.parse().map_err(runner_error)?;
    let pair = cfg
        .config
        .pairs
        .first()
        .cloned()
        .ok_or_else(|| usage(format!("strategy {id} has no pairs")))?;
    let tf: tradai_market::Timeframe = cfg
        .config
        .timeframe
        .parse()
        .map_err(|e| usage(format!("timeframe of {id}: {e}")))?;
    let pair_p: tradai_market::Pair = pair
        .parse()
        .map_err(|e| usage(format!("pair of {id}: {e}")))?;
    let training = tradai_training::Training::new(rb.clone());
    let data = match (&a.data, a.synthetic) {
        (Some(p), _) => Some(p.clone()),
        (None, true) => None,
        (None, false) => match training.model_config_opt(&cfg.config.model).await {
            Ok(Some(mc)) => match mc.config.data_dir.as_deref() {
                Some(d) if !d.is_empty() => Some(
                    tradai_training::data::resolve_file(std::path::Path::new(d), &pair_p, tf)
                        .map_err(|e| usage(e.to_string()))?,
                ),
                _ => None,
            },
            _ => None,
        },
    };
    let history = tradai_ml::features::RECOMMENDED_HISTORY;
    let feed = match &data {
        Some(path) => {
            let mut f = ReplayFeed::from_file(path, &pair, tf, speed)
                .map_err(runner_error)?
                .with_history(history);
            if let Some(from) = &a.from {
                let t = tradai_domain::time::parse_ts("--from", from)
                    .map_err(|e| usage(e.to_string()))?;
                f = f
                    .starting_at(t - chrono::Duration::seconds(tf.secs() as i64 * history as i64))
                    .with_history(history);
            }
            f
        }
        None => synthetic_live(
            &pair,
            tf,
            rb.clock.now(),
            history,
            a.live_candles,
            a.seed,
            speed,
        )
        .map_err(runner_error)?,
    };
    let source = data.as_ref().map_or_else(
        || format!("synthetic market (seed {})", a.seed),
        |p| p.display().to_string(),
    );
    let source = format!(
        "{pair} {} from {source} at {}",
        cfg.config.timeframe, a.speed
    );
    let opts = RunnerOptions::new(home.join("cache").join("models"));
    Ok((Runner::new(rb, id.clone(), Box::new(feed), opts), source))
}

/// One runner per strategy on a home: the lock is held while it trades (released on exit).
pub(crate) fn runner_lock(
    home: &std::path::Path,
    id: &StrategyId,
) -> anyhow::Result<tradai_daemon::InstanceLock> {
    tradai_daemon::InstanceLock::acquire_runner(home, id.as_str()).map_err(|e| match e {
        tradai_daemon::DaemonError::Locked { pid, .. } => usage(format!(
            "strategy {id} is already traded by another tradai process (pid {pid}: `tradai run` or `tradai up`); stop it first"
        )),
        e => anyhow::Error::new(e),
    })
}

pub async fn run(a: RunArgs, g: &Global) -> anyhow::Result<u8> {
    let rb = g.runbook()?;
    let id: StrategyId = name(&a.strategy)?;
    let home = g.home_abs()?;
    let _lock = runner_lock(&home, &id)?;
    let (mut runner, source) = build_runner(rb, &id, &a.feed, &home).await?;
    if !g.json {
        eprintln!("running {id} on {source}; Ctrl-C stops, SIGHUP reloads the model");
    }
    let reload = runner.reload_handle();
    let hup = tokio::spawn(async move {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            while s.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the serving model");
                reload.reload();
            }
        }
    });
    let summary = runner
        .run(super::ops::shutdown_signal())
        .await
        .map_err(runner_error)?;
    hup.abort();
    let out = serde_json::json!({
        "strategy_id": id, "ended": format!("{:?}", summary.ended), "candles": summary.candles,
        "predictions": summary.predictions, "entries": summary.entries, "exits": summary.exits,
        "errors": summary.errors, "model_switches": summary.model_switches,
    });
    emit(g.json, &out, || {
        format!(
            "{id} stopped ({:?}): {} candles, {} predictions, {} entries, {} exits, {} model switches, {} errors",
            summary.ended,
            summary.candles,
            summary.predictions,
            summary.entries,
            summary.exits,
            summary.model_switches,
            summary.errors
        )
    })?;
    Ok(0)
}

pub async fn positions(a: PositionsArgs, g: &Global) -> anyhow::Result<u8> {
    let rb = g.runbook()?;
    match (a.command, a.strategy) {
        (
            Some(PositionsCmd::Close {
                strategy,
                id,
                all,
                reason,
            }),
            _,
        ) => {
            let s: StrategyId = name(&strategy)?;
            rb.strategy_show(&s).await?;
            let target = match (id, all) {
                (Some(id), false) => CloseTarget::Id(id),
                (None, true) => CloseTarget::All,
                _ => return Err(usage("name a position id or pass --all")),
            };
            let closed = tradai_runner::close_positions(&rb, &s, target, &reason, &g.actor())
                .await
                .map_err(runner_error)?;
            emit(g.json, &closed, || {
                format!("closed {} position(s) of {s} ({reason})", closed.len())
            })?;
        }
        (None, Some(strategy)) => {
            let s: StrategyId = name(&strategy)?;
            rb.strategy_show(&s).await?;
            let list = tradai_runner::positions(&rb, &s)
                .await
                .map_err(runner_error)?;
            emit(g.json, &list, || {
                if list.is_empty() {
                    return format!("{s} has no open positions");
                }
                table(
                    &[
                        "id",
                        "pair",
                        "opened",
                        "entry",
                        "amount",
                        "stake",
                        "last",
                        "unrealised",
                        "version",
                    ],
                    list.iter()
                        .map(|p| {
                            let q = &p.position;
                            vec![
                                q.id.clone(),
                                q.pair.clone(),
                                ts(&q.opened_at),
                                format!("{:.4}", q.open_rate),
                                format!("{:.6}", q.amount),
                                format!("{:.2}", q.stake_amount),
                                format!("{:.4}", q.last_price),
                                format!(
                                    "{:+.2} ({:+.2}%)",
                                    p.unrealised_pnl,
                                    p.unrealised_ratio * 100.0
                                ),
                                q.model_version.clone(),
                            ]
                        })
                        .collect(),
                )
            })?;
        }
        (None, None) => return Err(usage("name a strategy: `tradai positions STRATEGY`")),
    }
    Ok(0)
}
