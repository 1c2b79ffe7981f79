//! Wiring: global flags, configuration, the embedded adapters, exit codes, logging.

use anyhow::Context as _;
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tradai_domain::{Actor, Env};
use tradai_embedded::{LocalArtifacts, SqliteStore};
use tradai_ports::SystemClock;
use tradai_runbook::config::{Loaded, Source};
use tradai_runbook::{Config, Runbook, RunbookError};

/// A validation failure found by the CLI itself (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Shorthand for returning a [`UsageError`].
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// Flags every command takes.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Environment: part of every table name (`tradai-trading-state-{env}`).
    #[arg(long, global = true, env = "TRADAI_ENV", default_value = "dev")]
    pub env: String,
    /// State directory (store, artifacts, logs) [default: $TRADAI_HOME or ./.tradai]
    #[arg(long, global = true)]
    pub home: Option<PathBuf>,
    /// Configuration file [default: $TRADAI_CONFIG, else HOME/tradai.toml if it exists]
    #[arg(long, global = true, env = "TRADAI_CONFIG")]
    pub config: Option<PathBuf>,
    /// Override one setting, e.g. `--set drift.min_samples=20` (repeatable; wins over file and env).
    #[arg(long = "set", global = true, value_name = "KNOB=VALUE")]
    pub set: Vec<String>,
    /// Print one JSON document instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Who is acting, recorded in the audit log [default: $TRADAI_ACTOR, else $USER].
    #[arg(long, global = true)]
    pub actor: Option<String>,
    /// Log format on stderr.
    #[arg(long, global = true, value_parser = ["text", "json"], default_value = "text")]
    pub log_format: String,
}

impl Global {
    /// The state directory.
    pub fn home(&self) -> PathBuf {
        self.home
            .clone()
            .or_else(|| std::env::var_os("TRADAI_HOME").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(".tradai"))
    }

    /// The actor recorded for changes made by this invocation.
    pub fn actor(&self) -> Actor {
        let name = self
            .actor
            .clone()
            .or_else(|| std::env::var("TRADAI_ACTOR").ok())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "operator".into());
        Actor::new(name)
    }

    /// Loads the effective configuration (defaults ← file ← env ← `--set`).
    pub fn load_config(&self) -> anyhow::Result<Loaded> {
        let path = match &self.config {
            Some(p) => Some(p.clone()),
            None => Some(self.home().join("tradai.toml")).filter(|p| p.exists()),
        };
        let text = match &path {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
                usage(format!(
                    "cannot read configuration file {}: {e}",
                    p.display()
                ))
            })?),
            None => None,
        };
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let mut flags = Vec::new();
        for s in &self.set {
            let (k, v) = s.split_once('=').ok_or_else(|| {
                usage(format!(
                    "--set '{s}': expected KNOB=VALUE, e.g. drift.min_samples=20"
                ))
            })?;
            let value =
                serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::from(v.to_string()));
            flags.push((k.trim().to_string(), value));
        }
        let defaults = tradai_runbook::config::flatten(&Config::default());
        for (k, _) in &flags {
            if !defaults.contains_key(k) {
                return Err(usage(format!(
                    "--set: unknown setting '{k}' (see `tradai config show`)"
                )));
            }
        }
        let flag_refs: Vec<(&str, serde_json::Value)> =
            flags.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let name = path.as_ref().map(|p| p.display().to_string());
        let file = match (&name, &text) {
            (Some(n), Some(t)) => Some((n.as_str(), t.as_str())),
            _ => None,
        };
        Config::load(file, &env, &flag_refs).map_err(|e| usage(e.to_string()))
    }

    /// The runbook plus training, backtests and experiment runs on the same store.
    pub fn training(&self) -> anyhow::Result<tradai_training::Training> {
        Ok(tradai_training::Training::new(self.runbook()?))
    }

    /// The state directory as an absolute path (training tasks run in other processes).
    pub fn home_abs(&self) -> anyhow::Result<PathBuf> {
        let home = self.home();
        std::fs::create_dir_all(&home)
            .with_context(|| format!("creating the state directory {}", home.display()))?;
        home.canonicalize()
            .with_context(|| format!("resolving {}", home.display()))
    }

    /// The command line that runs this `tradai` against the same home, environment and
    /// configuration: training tasks and their supervisors use it.
    pub fn self_command(&self) -> anyhow::Result<Vec<String>> {
        let exe = std::env::current_exe().context("locating the tradai binary")?;
        let mut cmd = vec![
            exe.display().to_string(),
            "--home".into(),
            self.home_abs()?.display().to_string(),
            "--env".into(),
            self.env.clone(),
        ];
        if let Some(c) = &self.config {
            let c = c.canonicalize().unwrap_or_else(|_| c.clone());
            cmd.extend(["--config".into(), c.display().to_string()]);
        }
        for s in &self.set {
            cmd.extend(["--set".into(), s.clone()]);
        }
        Ok(cmd)
    }

    /// The handlers' context on the embedded adapters: log channel (plus the configured
    /// webhooks), experiment runs on the store, local training tasks, backtest evaluation.
    pub fn ctx(&self) -> anyhow::Result<tradai_handlers::Ctx> {
        use tradai_embedded::notify::{LogChannel, SlackChannel, WebhookChannel};
        let rb = self.runbook()?;
        let timeout = std::time::Duration::from_secs(10);
        let mut channels: Vec<Arc<dyn tradai_ports::Channel>> = vec![Arc::new(LogChannel)];
        if !rb.config.notify.webhook_url.is_empty() {
            channels.push(Arc::new(WebhookChannel::new(
                &rb.config.notify.webhook_url,
                timeout,
            )));
        }
        if !rb.config.notify.slack_webhook_url.is_empty() {
            channels.push(Arc::new(SlackChannel::new(
                &rb.config.notify.slack_webhook_url,
                timeout,
            )));
        }
        let command = self.self_command()?;
        let logs = self.home_abs()?.join("logs").join("tasks");
        let executor = tradai_embedded::tasks::LocalExecutor::new(
            rb.store.clone(),
            rb.clock.clone(),
            command.clone(),
            logs,
        );
        let training = tradai_training::Training::new(rb.clone());
        Ok(tradai_handlers::Ctx {
            tracker: training.tracker.clone(),
            evaluator: Arc::new(training),
            rb,
            channels,
            executor: Arc::new(executor),
            tradai_command: command,
            // One command, one answer: deliver now. `tradai up` turns this off.
            deliver_inline: true,
        })
    }

    /// Opens the embedded store and artifacts and binds the runbook to them.
    pub fn runbook(&self) -> anyhow::Result<Runbook> {
        let env = Env::new(self.env.clone()).map_err(|e| usage(e.to_string()))?;
        let loaded = self.load_config()?;
        let home = self.home();
        let store = SqliteStore::open(&home.join("tradai.db"), env.as_str())
            .with_context(|| format!("opening the state store in {}", home.display()))?;
        let artifacts = LocalArtifacts::open(
            &home
                .join("artifacts")
                .join(tradai_domain::registry::models_bucket(env.as_str())),
        )
        .with_context(|| format!("opening the artifact store in {}", home.display()))?;
        Ok(Runbook::new(
            Arc::new(store),
            Arc::new(artifacts),
            Arc::new(SystemClock),
            Arc::new(loaded.config),
        ))
    }
}

/// Maps an error to the exit code: 2 for the caller's mistakes, 1 for failures.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.downcast_ref::<UsageError>().is_some() {
            return 2;
        }
        if let Some(r) = cause.downcast_ref::<RunbookError>() {
            return if r.is_usage() { 2 } else { 1 };
        }
        if let Some(h) = cause.downcast_ref::<tradai_handlers::HandlerError>() {
            return if h.is_usage() { 2 } else { 1 };
        }
        if cause.downcast_ref::<tradai_domain::DomainError>().is_some() {
            return 2;
        }
        if let Some(t) = cause.downcast_ref::<tradai_training::TrainingError>() {
            return if t.is_usage() { 2 } else { 1 };
        }
    }
    1
}

/// Structured logs on stderr; `RUST_LOG` (or `TRADAI_LOG`) sets the filter, default `warn`.
pub fn init_logging(g: &Global) {
    let filter = std::env::var("TRADAI_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "warn".into());
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if g.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Source label for `config show`.
pub fn source_label(s: &Source) -> String {
    s.to_string()
}
