//! Configuration: defaults ← `tradai.toml` ← environment variables ← flags, with provenance.
//!
//! Every knob of the contracts keeps its original environment variable name
//! (`PSI_MODERATE_THRESHOLD`, `MIN_SAMPLES`, …); in `tradai.toml` the same knob is the lower-case
//! name inside its section (`[drift] psi_moderate_threshold = 0.1`). Loading is pure: the caller
//! passes the file's text and the environment, so it is testable without touching either.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use tradai_domain::DomainError;

/// Drift monitoring knobs (contracts §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftConfig {
    pub psi_moderate_threshold: f64,
    pub psi_significant_threshold: f64,
    pub min_samples: u64,
    pub reference_period_days: u32,
    pub current_period_days: u32,
    /// Significance level gating alerts (tradai's decision; 0 turns gating off).
    pub alpha: f64,
    /// `mean` (contract default) or `max`.
    pub aggregate: String,
    pub bins: u32,
    pub experiment_prefix: String,
    /// Drift alarms leave ALARM only below `threshold × (1 − alarm_hysteresis)`.
    pub alarm_hysteresis: f64,
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            psi_moderate_threshold: 0.10,
            psi_significant_threshold: 0.25,
            min_samples: 10,
            reference_period_days: 30,
            current_period_days: 7,
            alpha: 0.01,
            aggregate: "mean".into(),
            bins: 10,
            experiment_prefix: "backtest-".into(),
            alarm_hysteresis: 0.2,
        }
    }
}

/// Retraining knobs (check-retraining-needed, scheduler, orphan-scanner).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrainingConfig {
    pub min_hours_between_retraining: f64,
    pub retraining_interval_days: f64,
    /// Empty = every model is allowed.
    pub allowed_models: Vec<String>,
    pub max_task_runtime_hours: f64,
    pub min_confidence_threshold: f64,
}

impl Default for RetrainingConfig {
    fn default() -> Self {
        RetrainingConfig {
            min_hours_between_retraining: 24.0,
            retraining_interval_days: 7.0,
            allowed_models: Vec::new(),
            max_task_runtime_hours: 6.0,
            min_confidence_threshold: 0.7,
        }
    }
}

/// Rollback knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RollbackConfig {
    pub rollback_cooldown_hours: u32,
}

impl Default for RollbackConfig {
    fn default() -> Self {
        RollbackConfig {
            rollback_cooldown_hours: 24,
        }
    }
}

/// Notification and heartbeat knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    pub notification_throttle_minutes: u32,
    pub heartbeat_threshold_minutes: u32,
    pub consecutive_failures_threshold: u32,
    /// Generic JSON webhook (empty = off).
    pub webhook_url: String,
    /// Slack-compatible webhook (empty = off).
    pub slack_webhook_url: String,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            notification_throttle_minutes: 5,
            heartbeat_threshold_minutes: 2,
            consecutive_failures_threshold: 2,
            webhook_url: String::new(),
            slack_webhook_url: String::new(),
        }
    }
}

/// Daemon schedules (EventBridge expressions: `rate(1 hour)`, `cron(0 12 * * ? *)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulesConfig {
    pub drift_monitor: String,
    pub retraining_scheduler: String,
    pub heartbeat_check: String,
    pub orphan_scanner: String,
}

impl Default for SchedulesConfig {
    fn default() -> Self {
        SchedulesConfig {
            drift_monitor: "rate(1 hour)".into(),
            retraining_scheduler: "rate(1 day)".into(),
            heartbeat_check: "rate(1 minute)".into(),
            orphan_scanner: "rate(1 hour)".into(),
        }
    }
}

impl SchedulesConfig {
    /// (handler name, expression) pairs.
    pub fn entries(&self) -> [(&'static str, &str); 4] {
        [
            ("drift-monitor", &self.drift_monitor),
            ("retraining-scheduler", &self.retraining_scheduler),
            ("heartbeat-check", &self.heartbeat_check),
            ("orphan-scanner", &self.orphan_scanner),
        ]
    }
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub drift: DriftConfig,
    pub retraining: RetrainingConfig,
    pub rollback: RollbackConfig,
    pub notify: NotifyConfig,
    /// The response policy (`[policy]`): which runbook actions run automatically.
    pub policy: tradai_domain::policy::PolicyConfig,
    /// When the daemon runs each handler (`[schedules]`).
    pub schedules: SchedulesConfig,
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Source {
    Default,
    File(String),
    Env(String),
    Flag(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "file {p}"),
            Source::Env(v) => write!(f, "env {v}"),
            Source::Flag(v) => write!(f, "flag {v}"),
        }
    }
}

/// A configuration and where each value came from (`section.knob` → source).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub sources: BTreeMap<String, Source>,
}

/// Failures to read the configuration; each names the file or variable and the value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("environment variable {var}='{value}': {message}")]
    Env {
        var: String,
        value: String,
        message: String,
    },
    #[error(transparent)]
    Invalid(#[from] DomainError),
}

/// The environment variable of a knob: its name upper-cased (`drift.min_samples` → `MIN_SAMPLES`).
pub fn env_var(knob: &str) -> String {
    knob.rsplit('.').next().unwrap_or(knob).to_ascii_uppercase()
}

impl Config {
    /// Loads defaults, then the TOML text of `file` (name, text), then the environment, then
    /// `flags` (`section.knob` → value), and validates the result.
    pub fn load(
        file: Option<(&str, &str)>,
        env: &BTreeMap<String, String>,
        flags: &[(&str, Value)],
    ) -> Result<Loaded, ConfigError> {
        let mut merged = serde_json::to_value(Config::default()).unwrap_or(Value::Null);
        let mut sources = BTreeMap::new();
        for knob in leaves(&merged) {
            sources.insert(knob, Source::Default);
        }
        if let Some((name, text)) = file {
            let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::File {
                file: name.into(),
                message: e.to_string(),
            })?;
            let json = serde_json::to_value(table).map_err(|e| ConfigError::File {
                file: name.into(),
                message: e.to_string(),
            })?;
            let Value::Object(sections) = json else {
                return Err(ConfigError::File {
                    file: name.into(),
                    message: "expected a table".into(),
                });
            };
            for (section, body) in sections {
                let Value::Object(knobs) = body else {
                    return Err(ConfigError::File {
                        file: name.into(),
                        message: format!("'{section}' must be a [section]"),
                    });
                };
                for (k, v) in knobs {
                    let path = format!("{section}.{k}");
                    if !sources.contains_key(&path) {
                        let known: Vec<&String> = sources.keys().collect();
                        return Err(ConfigError::File {
                            file: name.into(),
                            message: format!(
                                "unknown setting '{path}' (known: {})",
                                known
                                    .iter()
                                    .map(|s| s.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        });
                    }
                    set(&mut merged, &path, v);
                    sources.insert(path, Source::File(name.into()));
                }
            }
        }
        let knobs: Vec<String> = sources.keys().cloned().collect();
        for knob in &knobs {
            let var = env_var(knob);
            if let Some(raw) = env.get(&var) {
                let current = get(&merged, knob).cloned().unwrap_or(Value::Null);
                let v = parse_like(&current, raw).map_err(|m| ConfigError::Env {
                    var: var.clone(),
                    value: raw.clone(),
                    message: m,
                })?;
                set(&mut merged, knob, v);
                sources.insert(knob.clone(), Source::Env(var));
            }
        }
        for (knob, v) in flags {
            set(&mut merged, knob, v.clone());
            sources.insert(knob.to_string(), Source::Flag(knob.to_string()));
        }
        let config: Config = serde_json::from_value(merged).map_err(|e| ConfigError::File {
            file: file.map_or("configuration".into(), |(n, _)| n.to_string()),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(Loaded { config, sources })
    }

    /// Cross-field checks.
    pub fn validate(&self) -> Result<(), DomainError> {
        tradai_domain::Thresholds::new(
            self.drift.psi_moderate_threshold,
            self.drift.psi_significant_threshold,
        )?;
        if self.drift.min_samples == 0 {
            return Err(DomainError::invalid("MIN_SAMPLES", 0, "must be at least 1"));
        }
        if self.drift.reference_period_days == 0 || self.drift.current_period_days == 0 {
            return Err(DomainError::invalid(
                "REFERENCE_PERIOD_DAYS/CURRENT_PERIOD_DAYS",
                0,
                "must be at least 1 day",
            ));
        }
        if !(0.0..1.0).contains(&self.drift.alpha) {
            return Err(DomainError::invalid(
                "ALPHA",
                self.drift.alpha,
                "must be in [0, 1); 0 turns significance gating off",
            ));
        }
        if !matches!(self.drift.aggregate.as_str(), "mean" | "max") {
            return Err(DomainError::invalid(
                "AGGREGATE",
                &self.drift.aggregate,
                "expected mean or max",
            ));
        }
        if !(0.0..1.0).contains(&self.drift.alarm_hysteresis) {
            return Err(DomainError::invalid(
                "ALARM_HYSTERESIS",
                self.drift.alarm_hysteresis,
                "must be in [0, 1)",
            ));
        }
        if self.drift.bins < 2 {
            return Err(DomainError::invalid(
                "BINS",
                self.drift.bins,
                "must be at least 2",
            ));
        }
        for m in &self.retraining.allowed_models {
            tradai_domain::ModelName::new(m.clone())?;
        }
        let r = &self.retraining;
        for (name, v) in [
            (
                "MIN_HOURS_BETWEEN_RETRAINING",
                r.min_hours_between_retraining,
            ),
            ("RETRAINING_INTERVAL_DAYS", r.retraining_interval_days),
            ("MAX_TASK_RUNTIME_HOURS", r.max_task_runtime_hours),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(DomainError::invalid(name, v, "must be a number >= 0"));
            }
        }
        if !(0.0..=1.0).contains(&r.min_confidence_threshold) {
            return Err(DomainError::invalid(
                "MIN_CONFIDENCE_THRESHOLD",
                r.min_confidence_threshold,
                "must be in [0, 1]",
            ));
        }
        for (_, expr) in self.schedules.entries() {
            tradai_domain::schedule::Schedule::parse(expr)?;
        }
        self.policy.validate()
    }
}

/// The effective value of every knob, flattened (`drift.min_samples` → `10`).
pub fn flatten(config: &Config) -> BTreeMap<String, Value> {
    let v = serde_json::to_value(config).unwrap_or(Value::Null);
    leaves(&v)
        .into_iter()
        .filter_map(|k| get(&v, &k).cloned().map(|x| (k, x)))
        .collect()
}

fn leaves(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Value::Object(sections) = v {
        for (s, body) in sections {
            if let Value::Object(knobs) = body {
                out.extend(knobs.keys().map(|k| format!("{s}.{k}")));
            }
        }
    }
    out
}

fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let (s, k) = path.split_once('.')?;
    v.get(s)?.get(k)
}

fn set(v: &mut Value, path: &str, x: Value) {
    if let Some((s, k)) = path.split_once('.')
        && let Value::Object(root) = v
    {
        let section = root
            .entry(s.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = section {
            m.insert(k.to_string(), x);
        }
    }
}

/// Parses an environment value as the same JSON type as the knob's current value.
fn parse_like(current: &Value, raw: &str) -> Result<Value, String> {
    match current {
        Value::Number(n) if n.is_u64() || n.is_i64() => raw
            .trim()
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| "expected a whole number".to_string()),
        Value::Number(_) => match raw.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::from(f)),
            _ => Err("expected a number".to_string()),
        },
        Value::Bool(_) => raw
            .trim()
            .parse::<bool>()
            .map(Value::from)
            .map_err(|_| "expected true or false".to_string()),
        Value::Array(_) => Ok(Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::from(s.to_string()))
                .collect(),
        )),
        _ => Ok(Value::from(raw.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_the_contracts() {
        let l = Config::load(None, &BTreeMap::new(), &[]).unwrap();
        let c = l.config;
        assert_eq!(
            (
                c.drift.psi_moderate_threshold,
                c.drift.psi_significant_threshold
            ),
            (0.1, 0.25)
        );
        assert_eq!(
            (
                c.drift.min_samples,
                c.drift.reference_period_days,
                c.drift.current_period_days
            ),
            (10, 30, 7)
        );
        assert_eq!(
            (
                c.retraining.min_hours_between_retraining,
                c.retraining.retraining_interval_days
            ),
            (24.0, 7.0)
        );
        assert_eq!(c.rollback.rollback_cooldown_hours, 24);
        assert_eq!(c.notify.notification_throttle_minutes, 5);
        assert_eq!(l.sources["drift.min_samples"], Source::Default);
    }

    #[test]
    fn file_then_env_then_flags_with_sources() {
        let file = "[drift]\nmin_samples = 20\npsi_moderate_threshold = 0.12\n[retraining]\nallowed_models = [\"A\"]\n";
        let e = env(&[
            ("MIN_SAMPLES", "30"),
            ("ALLOWED_MODELS", "A, B"),
            ("UNRELATED", "x"),
        ]);
        let l = Config::load(
            Some(("tradai.toml", file)),
            &e,
            &[("drift.bins", Value::from(5))],
        )
        .unwrap();
        assert_eq!(l.config.drift.min_samples, 30);
        assert_eq!(
            l.sources["drift.min_samples"],
            Source::Env("MIN_SAMPLES".into())
        );
        assert_eq!(l.config.drift.psi_moderate_threshold, 0.12);
        assert_eq!(
            l.sources["drift.psi_moderate_threshold"],
            Source::File("tradai.toml".into())
        );
        assert_eq!(l.config.retraining.allowed_models, vec!["A", "B"]);
        assert_eq!(l.config.drift.bins, 5);
        assert_eq!(l.sources["drift.bins"], Source::Flag("drift.bins".into()));
    }

    #[test]
    fn policy_modes_come_from_file_and_env() {
        let file = "[policy]\nmoderate_reduce_stake = \"approve\"\n";
        let l = Config::load(
            Some(("t.toml", file)),
            &env(&[("SIGNIFICANT_PAUSE", "off")]),
            &[],
        )
        .unwrap();
        use tradai_domain::policy::Mode;
        assert_eq!(l.config.policy.moderate_reduce_stake, Mode::Approve);
        assert_eq!(l.config.policy.significant_pause, Mode::Off);
        let e = Config::load(
            Some(("t.toml", "[policy]\nsignificant_pause = \"sometimes\"\n")),
            &BTreeMap::new(),
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("sometimes"), "{e}");
    }

    #[test]
    fn bad_values_name_where_they_came_from() {
        let e = Config::load(None, &env(&[("MIN_SAMPLES", "ten")]), &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "environment variable MIN_SAMPLES='ten': expected a whole number"
        );
        let e = Config::load(
            Some(("t.toml", "[drift]\nmin_sample = 3\n")),
            &BTreeMap::new(),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("t.toml: unknown setting 'drift.min_sample'"),
            "{e}"
        );
        let e = Config::load(Some(("t.toml", "[drift\n")), &BTreeMap::new(), &[])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.toml: "), "{e}");
        let e = Config::load(None, &env(&[("PSI_SIGNIFICANT_THRESHOLD", "0.05")]), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("PSI_SIGNIFICANT_THRESHOLD '0.05'"), "{e}");
        let e = Config::load(
            Some(("t.toml", "[drift]\nmin_samples = \"x\"\n")),
            &BTreeMap::new(),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("t.toml: "), "{e}");
    }
}
