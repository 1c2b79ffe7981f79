//! The command tree. One module per command group; each is parse → call the library → print.

mod audit;
mod config;
mod data;
mod demo;
mod drift;
mod incident;
mod model;
mod ops;
mod psi;
mod retrain;
mod run;
mod runs;
mod strategy;
mod trading;
mod train;

use crate::app::Global;
use clap::{Parser, Subcommand};

/// Keeps ML trading models honest in production: measures drift with the Population Stability
/// Index and runs the drift-response runbook (pause, reduce stake, retrain, promote, roll back,
/// reset, resume, record the incident).
#[derive(Debug, Parser)]
#[command(
    name = "tradai",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole runbook in under a minute on a fresh home: drift, pause, incident, retrain,
    /// compare, promote or keep, reset, resume, resolve — real components, nothing scripted.
    Demo(demo::DemoArgs),
    /// Strategy configuration: the model a strategy trades and its stake.
    #[command(subcommand)]
    Strategy(strategy::StrategyCmd),
    /// Trading state: status, pause, resume, stop.
    #[command(subcommand)]
    Trading(trading::TradingCmd),
    /// Model registry: versions, stages, the serving pointer, promotion and rollback.
    #[command(subcommand)]
    Model(model::ModelCmd),
    /// Drift state of models (show, history, reset) and the PSI engine (compare, simulate).
    #[command(subcommand)]
    Drift(drift::DriftCmd),
    /// Retraining: `retrain MODEL [--force]` schedules it (the runbook's payload), `status`, `logs`.
    Retrain(retrain::RetrainArgs),
    /// Incidents: open, note, resolve, and read their timeline.
    #[command(subcommand)]
    Incident(incident::IncidentCmd),
    /// The audit log: every change, who made it, before and after, and why.
    Audit(audit::AuditArgs),
    /// Effective configuration and where each value comes from.
    #[command(subcommand)]
    Config(config::ConfigCmd),
    /// Market data: a synthetic market for demos and tests, data-quality checks.
    #[command(subcommand)]
    Data(DataCmd),
    /// Train a new version from the model's configuration; it lands in Staging.
    Train(train::TrainArgs),
    /// Backtest a version on a window, or on rolling windows logged as experiment runs.
    Backtest(train::BacktestArgs),
    /// Reference profiles for the drift engine.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Experiment runs (train-MODEL, backtest-MODEL).
    #[command(subcommand)]
    Runs(runs::RunsCmd),
    /// Run a control handler with its JSON contract: `tradai invoke drift-monitor --payload '{}'`.
    Invoke(ops::InvokeArgs),
    /// Run the daemon: handlers on their schedules, workflows, notifications (Ctrl-C stops it).
    Up(ops::UpArgs),
    /// Actions of the response policy waiting for a person.
    Approvals {
        /// Include decided ones.
        #[arg(long)]
        all: bool,
    },
    /// Approve a waiting action: it runs now, as you.
    Approve {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a waiting action: it will not run.
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Training tasks (the runbook's `aws ecs list-tasks --started-by tradai-retraining`).
    #[command(subcommand)]
    Tasks(ops::TasksCmd),
    /// Alarm states (`tradai-{env}-drift-moderate`, `-drift-significant`, `-heartbeat-stale`).
    #[command(subcommand)]
    Alarms(ops::AlarmsCmd),
    /// Retraining workflow executions and their persisted transitions.
    #[command(subcommand)]
    Workflows(ops::WorkflowsCmd),
    /// Run a strategy on paper with the served model version (the runbook's strategy service).
    Run(run::RunArgs),
    /// Open positions of a strategy; `positions close` for manual intervention.
    Positions(run::PositionsArgs),
    /// Internal: the supervisor of one training task (started by the local executor).
    #[command(hide = true)]
    TaskRun { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Build a reference profile (quantile bins per feature) from a Parquet/CSV/Arrow file.
    Build(psi::ProfileBuildArgs),
}

#[derive(Debug, Subcommand)]
pub enum DataCmd {
    /// Write a seedable synthetic market (regime-switching GARCH) in freqtrade's layout.
    Synth(data::SynthArgs),
    /// Data-quality checks: gaps, duplicates, order, OHLC consistency, NaN, staleness, source.
    /// Exit 1 when a check fails.
    Check(data::CheckArgs),
}

/// Runs a parsed command; returns the exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    let g = cli.global;
    match cli.command {
        Command::Demo(a) => demo::run(a, &g).await,
        Command::Strategy(c) => strategy::run(c, &g).await,
        Command::Trading(c) => trading::run(c, &g).await,
        Command::Model(c) => model::run(c, &g).await,
        Command::Drift(c) => drift::run(c, &g).await,
        Command::Retrain(c) => retrain::run(c, &g).await,
        Command::Incident(c) => incident::run(c, &g).await,
        Command::Audit(a) => audit::run(a, &g).await,
        Command::Config(c) => config::run(c, &g),
        Command::Data(DataCmd::Synth(a)) => data::run_synth(&a, g.json).map(|()| 0),
        Command::Data(DataCmd::Check(a)) => {
            let expected = match &a.model {
                Some(m) => Some(data::expected_of(&g, m).await?),
                None => None,
            };
            data::run_check(&a, g.json, chrono::Utc::now(), expected)
        }
        Command::Train(a) => train::run_train(a, &g).await,
        Command::Backtest(a) => train::run_backtest(a, &g).await,
        Command::Runs(c) => runs::run(c, &g).await,
        Command::Profile(ProfileCmd::Build(a)) => psi::run_profile_build(&a, g.json).map(|()| 0),
        Command::Invoke(a) => ops::run_invoke(a, &g).await,
        Command::Up(a) => ops::run_up(a, &g).await,
        Command::Approvals { all } => ops::run_approvals(all, &g).await,
        Command::Approve { id, note } => ops::run_approve(id, note, &g).await,
        Command::Reject { id, reason } => ops::run_reject(id, reason, &g).await,
        Command::Tasks(c) => ops::run_tasks(c, &g).await,
        Command::Alarms(c) => ops::run_alarms(c, &g).await,
        Command::Workflows(c) => ops::run_workflows(c, &g).await,
        Command::TaskRun { id } => ops::run_task(id, &g).await,
        Command::Run(a) => run::run(a, &g).await,
        Command::Positions(a) => run::positions(a, &g).await,
    }
}

/// Parses a CLI-given name into a validated domain name, as a usage error.
pub(crate) fn name<T>(s: &str) -> anyhow::Result<T>
where
    T: std::str::FromStr<Err = tradai_domain::DomainError>,
{
    s.parse::<T>().map_err(|e| crate::app::usage(e.to_string()))
}
