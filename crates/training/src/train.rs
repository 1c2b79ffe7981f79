//! `train_version`: candles → data checks → model and reference profiles → a registered version.
//!
//! Crash safety comes from the registry: the version item is written only after every artifact
//! byte is stored, so a run killed at any point leaves no version (at most an unreferenced
//! artifact prefix and a `running` run in `train-{model}`).

use crate::backtest::strategy_backtest_config;
use crate::model_config::as_params;
use crate::{Training, TrainingError, data, train_experiment};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tradai_domain::{Actor, ModelName};
use tradai_drift::profile::PROFILE_FORMAT_VERSION;
use tradai_drift::{Binning, Profile, profile_numeric};
use tradai_market::check::Report;
use tradai_ml::{TrainConfig, TrainOutcome};
use tradai_ports::{Run, RunFilter};
use tradai_runbook::ModelVersion;
use tradai_runbook::registry::NewVersion;

/// Reference profile of the training features, one entry per feature.
pub const REFERENCE_FEATURES_FILE: &str = "reference_features.json";
/// Reference profile of the model's predictions on the training rows (feature `prediction`).
pub const REFERENCE_PREDICTIONS_FILE: &str = "reference_predictions.json";
/// What the version was trained from: configuration, data files and their checks.
pub const TRAINING_FILE: &str = "training.json";

/// Bins of the reference profiles (the drift engine's default).
const PROFILE_BINS: usize = 10;

/// Per-run choices on top of the model's configuration.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// A candle file or directory instead of the configuration's `data_dir`.
    pub data: Option<PathBuf>,
    /// Overrides the configuration's seed.
    pub seed: Option<u64>,
    /// Train even when the data-quality checks fail (gaps, stale, …).
    pub allow_gaps: bool,
    /// Passed through into the version's metadata (the retraining workflow's `config_version_id`).
    pub config_version_id: Option<String>,
}

/// A step of a training run, for a progress bar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    /// 1-based step number.
    pub step: u32,
    /// Number of steps.
    pub total: u32,
    /// What is happening now.
    pub message: String,
}

const STEPS: u32 = 6;

/// What a training run produced.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// The new version (in `Staging`) with its metrics and artifact path.
    pub version: ModelVersion,
    /// The run in `train-{model}`.
    pub run_id: String,
    pub experiment: String,
    /// Data-quality reports of the files used (failed checks only pass with `allow_gaps`).
    pub data_checks: Vec<Report>,
}

fn profile_of(source: &str, columns: Vec<(String, Vec<f64>)>) -> Profile {
    Profile {
        format_version: PROFILE_FORMAT_VERSION,
        source: source.to_string(),
        features: columns
            .iter()
            .map(|(name, v)| {
                // Rows are consecutive candles: record how persistent the feature is, so that
                // drift-monitor can count a short live window's independent values honestly.
                let mut fp = profile_numeric(name, v, PROFILE_BINS, &Binning::Quantile);
                fp.design_effect = Some(tradai_drift::stats::series_design_effect(v));
                fp
            })
            .collect(),
    }
}

fn write_file(dir: &Path, name: &str, text: &str) -> Result<(), TrainingError> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| TrainingError::io(path.display().to_string(), e))
}

fn metric_map(v: &impl Serialize, prefix: &str) -> BTreeMap<String, Value> {
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => m
            .into_iter()
            .filter(|(_, x)| x.is_number())
            .map(|(k, x)| (format!("{prefix}{k}"), x))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Registry metrics: the validation backtest's under their own names (`profit_total`, …), the
/// fit quality as `train_*` and `validation_*`.
fn version_metrics(out: &TrainOutcome) -> BTreeMap<String, Value> {
    let m = &out.model.manifest().metrics;
    let mut metrics = metric_map(&m.validation_backtest, "");
    metrics.extend(metric_map(&m.train, "train_"));
    metrics.extend(metric_map(&m.validation, "validation_"));
    metrics
}

impl Training {
    /// Trains a new version of `model` from its configuration and registers it in `Staging`.
    ///
    /// Steps (reported through `progress`): load candles, check them (refused when a check fails,
    /// unless `allow_gaps`), fit on the first configured pair, write the artifact (model, weights,
    /// reference profiles of features and predictions, training record), register (upload, then
    /// the version item), log the run in `train-{model}`.
    pub async fn train_version(
        &self,
        model: &ModelName,
        opts: &TrainOptions,
        actor: &Actor,
        progress: &(dyn Fn(&Progress) + Send + Sync),
    ) -> Result<TrainReport, TrainingError> {
        let step = |n: u32, msg: String| {
            progress(&Progress {
                step: n,
                total: STEPS,
                message: msg,
            })
        };
        let cfg = self.model_config(model).await?;
        let tf = cfg.config.timeframe()?;
        let pairs = cfg.config.parsed_pairs()?;
        let data_path = match (&opts.data, &cfg.config.data_dir) {
            (Some(p), _) => p.clone(),
            (None, Some(d)) => PathBuf::from(d),
            (None, None) => {
                return Err(TrainingError::Invalid(format!(
                    "model '{model}' has no data_dir; pass --data PATH or set it with `tradai model config {model} --data-dir DIR`"
                )));
            }
        };
        let seed = opts.seed.unwrap_or(cfg.config.seed);

        step(
            1,
            format!("loading {} candles from {}", pairs[0], data_path.display()),
        );
        let primary = data::load(&data_path, &pairs[..1], tf)?
            .into_iter()
            .next()
            .ok_or_else(|| TrainingError::Invalid("no pair to train on".into()))?;

        step(2, format!("checking {}", primary.file.display()));
        let report = data::check(&primary, tf);
        if !report.passed() && !opts.allow_gaps {
            return Err(TrainingError::DataCheck {
                file: primary.file.display().to_string(),
                failures: data::failures(&report),
            });
        }

        self.close_abandoned_runs(model).await?;
        // The run exists from here on, so a failed or killed training is visible in the experiment.
        let started = self.runbook.clock.now();
        let mut run = Run {
            run_id: tradai_ports::state::new_id(started),
            experiment: train_experiment(model),
            status: "running".into(),
            start_time: started,
            end_time: None,
            params: BTreeMap::from([
                ("pair".into(), primary.pair.to_string()),
                ("timeframe".into(), tf.to_string()),
                (
                    "train_period_days".into(),
                    cfg.config.train_period_days.to_string(),
                ),
                (
                    "validation_days".into(),
                    cfg.config.validation_days.to_string(),
                ),
                ("seed".into(), seed.to_string()),
                ("freqai_model".into(), cfg.config.freqai_model.clone()),
                ("config_version".into(), cfg.config_version.to_string()),
                ("data".into(), primary.file.display().to_string()),
            ]),
            metrics: BTreeMap::new(),
            tags: BTreeMap::from([
                ("model".into(), model.to_string()),
                ("source".into(), "train".into()),
                // Which process trains, where: a later training on the same host closes the
                // run if that process is gone.
                ("pid".into(), std::process::id().to_string()),
                ("host".into(), host_name()),
            ]),
        };
        self.tracker.log_run(&run).await?;

        let result = self
            .fit_and_register(model, &cfg, opts, seed, &primary, &report, actor, &step)
            .await;
        run.end_time = Some(self.runbook.clock.now());
        match result {
            Ok(version) => {
                run.status = "finished".into();
                run.tags
                    .insert("version".into(), version.version.to_string());
                run.metrics = version
                    .metrics
                    .iter()
                    .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
                    .collect();
                self.tracker.log_run(&run).await?;
                Ok(TrainReport {
                    version,
                    run_id: run.run_id,
                    experiment: run.experiment,
                    data_checks: vec![report],
                })
            }
            Err(e) => {
                run.status = "failed".into();
                run.tags.insert("error".into(), e.to_string());
                if let Err(log) = self.tracker.log_run(&run).await {
                    tracing::warn!(error = %log, "could not record the failed training run");
                }
                Err(e)
            }
        }
    }

    /// Closes this model's training runs that a process left `running` and that process is
    /// gone (killed, crashed): status `killed`, ended now, with the reason. Without it the
    /// experiment would show them running forever. Runs of live processes are left alone.
    async fn close_abandoned_runs(&self, model: &ModelName) -> Result<(), TrainingError> {
        let runs = self
            .tracker
            .runs(&RunFilter {
                experiment_prefix: Some(train_experiment(model)),
                model: Some(model.to_string()),
                ..Default::default()
            })
            .await?;
        let now = self.runbook.clock.now();
        for mut r in runs.into_iter().filter(|r| r.status == "running") {
            let Some(pid) = r.tags.get("pid").and_then(|p| p.parse::<i32>().ok()) else {
                continue;
            };
            // A pid means something only on the host (and pid namespace) that recorded it.
            if r.tags.get("host") != Some(&host_name()) || process_alive(pid) {
                continue;
            }
            r.status = "killed".into();
            r.end_time = Some(now);
            r.tags.insert(
                "error".into(),
                format!(
                    "training process {pid} ended without recording an end (killed or crashed)"
                ),
            );
            tracing::warn!(run = %r.run_id, pid, "closing a training run whose process is gone");
            self.tracker.log_run(&r).await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn fit_and_register(
        &self,
        model: &ModelName,
        cfg: &crate::ModelConfigRecord,
        opts: &TrainOptions,
        seed: u64,
        primary: &data::PairData,
        report: &Report,
        actor: &Actor,
        step: &(dyn Fn(u32, String) + Send + Sync),
    ) -> Result<ModelVersion, TrainingError> {
        let tf = cfg.config.timeframe()?;
        let (bt, strategy) = strategy_backtest_config(&self.runbook, &cfg.config, tf).await?;
        let mut tc = TrainConfig::new(tf, seed);
        tc.pair = Some(primary.pair.to_string());
        tc.train_period_days = cfg.config.train_period_days;
        tc.validation_days = cfg.config.validation_days;
        tc.backtest = bt;

        step(
            3,
            format!(
                "training ridge on {} days, validating on {} days",
                tc.train_period_days, tc.validation_days
            ),
        );
        let out = tradai_ml::train(&primary.candles, &tc)?;

        step(4, "writing model and reference profiles".into());
        let dir = tempfile::Builder::new()
            .prefix("tradai-train-")
            .tempdir()
            .map_err(|e| TrainingError::io("temporary artifact directory", e))?;
        out.model.save(dir.path())?;
        let f = &out.train_features;
        let cols = f
            .names
            .iter()
            .map(|n| (n.clone(), f.column(n).unwrap_or_default()))
            .collect();
        let label = format!("{model} training window {}", primary.pair);
        write_file(
            dir.path(),
            REFERENCE_FEATURES_FILE,
            &profile_of(&label, cols).to_json(),
        )?;
        let preds = vec![("prediction".to_string(), out.train_predictions.clone())];
        write_file(
            dir.path(),
            REFERENCE_PREDICTIONS_FILE,
            &profile_of(&label, preds).to_json(),
        )?;
        let manifest = out.model.manifest();
        let training = json!({
            "model_name": model,
            "config": as_params(cfg),
            "seed": seed,
            "pair": primary.pair.to_string(),
            "data_file": primary.file.display().to_string(),
            "data_check_passed": report.passed(),
            "data_check_failures": data::failures(report),
            "strategy": strategy,
        });
        write_file(
            dir.path(),
            crate::train::TRAINING_FILE,
            &serde_json::to_string_pretty(&training).unwrap_or_default(),
        )?;

        let mut metadata = BTreeMap::from([
            ("feature_set".into(), json!(manifest.feature_set)),
            ("train_window".into(), json!(manifest.train_window)),
            (
                "validation_window".into(),
                json!(manifest.validation_window),
            ),
            ("seed".into(), json!(seed)),
            ("pair".into(), json!(primary.pair.to_string())),
            ("pairs".into(), json!(cfg.config.pairs)),
            ("timeframe".into(), json!(tf.to_string())),
            ("config_version".into(), json!(cfg.config_version)),
            ("hyperparameters".into(), json!(manifest.hyperparameters)),
            ("signal".into(), json!(manifest.signal)),
            (
                "data_file".into(),
                json!(primary.file.display().to_string()),
            ),
            ("data_check_passed".into(), json!(report.passed())),
            (
                "reference_profiles".into(),
                json!({"features": REFERENCE_FEATURES_FILE, "predictions": REFERENCE_PREDICTIONS_FILE}),
            ),
        ]);
        if let Some(id) = &opts.config_version_id {
            metadata.insert("config_version_id".into(), json!(id));
        }

        step(5, "uploading artifact and registering the version".into());
        let version = self
            .runbook
            .model_register(
                model,
                dir.path(),
                NewVersion {
                    metrics: version_metrics(&out),
                    metadata,
                    source: "train".into(),
                },
                actor,
            )
            .await?;
        step(
            6,
            format!(
                "registered {model} version {} in {}",
                version.version, version.stage
            ),
        );
        Ok(version)
    }
}

/// This machine's name as the kernel reports it (containers get their own), "" if unknown.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Whether process `pid` exists on this machine (signal 0: no signal sent). A process we may not
/// signal exists too.
fn process_alive(pid: i32) -> bool {
    use nix::errno::Errno;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(Errno::ESRCH) => false,
        Err(_) => true,
    }
}
