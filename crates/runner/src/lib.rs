//! tradai-runner: the paper-trading strategy runner — the runbook's "strategy service".
//!
//! It resolves the model through the registry's serving pointer, loads the artifact (one log
//! line: model, version, path, checksum), turns candles from a [`feed`] into features,
//! predictions and signals, logs every prediction with its model version, and trades on paper
//! with the backtester's cost model. It obeys the trading status written by anyone — `paused`:
//! no new entries, exits still happen; `stopped`: no trading — re-reading it every candle and
//! every second, and follows the serving pointer (promotion, rollback) within one candle.
//!
//! What the CLI calls: [`Runner::new`] + [`Runner::run`] (`tradai run STRATEGY`),
//! [`ReloadHandle::reload`] (SIGHUP), [`positions`] and [`close_positions`]
//! (`tradai positions …`); drift-monitor reads live features with [`logged_features`].
//! Behaviour, tables and numbers: `docs/runner.md`.
//!
//! Architecture invariant: state only through `tradai-runbook` and the ports (every change one
//! conditional write of one item); time from the injected `Clock` (market time from candles,
//! pacing from tokio time); randomness only from seeded generators.
#![forbid(unsafe_code)]

pub mod book;
pub mod error;
pub mod feed;
pub mod records;
pub mod runner;

pub use book::{
    CloseTarget, FeatureLog, close_positions, logged_features, positions, predictions, trades,
};
pub use error::RunnerError;
pub use feed::{CandleFeed, ReplayFeed, Speed, synthetic_live};
pub use records::{Exit, Position, PositionView, PredictionRecord, TradeRecord};
pub use runner::{Action, EndReason, ReloadHandle, RunSummary, Runner, RunnerOptions, StepReport};
