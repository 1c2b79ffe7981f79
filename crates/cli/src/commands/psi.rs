//! `tradai profile build`, `tradai drift compare`, `tradai drift simulate`: the drift engine
//! (crate `tradai_drift`) on the command line.
//!
//! Bad input — options, and data the engine cannot use (missing file or column, corrupt file,
//! type mismatch) — is returned as [`UsageError`] so `main` exits 2 with the engine's message
//! naming the file and column. `drift compare` takes its thresholds, alpha, aggregation and
//! `MIN_SAMPLES` from the configuration; its flags override them.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use comfy_table::{Cell, Table, presets::UTF8_FULL_CONDENSED};
use tradai_drift::{
    Aggregate, Binning, CompareConfig, DataFile, DriftError, DriftReport, FeatureDrift,
    MeasureOptions, Profile, ProfileOptions, Severity, SimulationConfig,
};

use crate::UsageError;

fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// What the caller gave is unusable — a missing file or column, a corrupt or mismatched file, a
/// bad profile or option — so exit 2 (validation), with the engine's message naming the file and
/// column. Only a read failure of a file that opened (`Io` on a readable path) is a runtime
/// failure (exit 1).
fn engine_error(e: DriftError) -> anyhow::Error {
    match &e {
        DriftError::Io { file, .. } if std::path::Path::new(file).exists() => anyhow::Error::new(e),
        _ => usage(e.to_string()),
    }
}

/// Edge choice for `profile build`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BuildBinning {
    /// Reference quantiles (equal reference mass per bin).
    Quantile,
    /// Equal width between reference min and max.
    EqualWidth,
}

/// Binning for `drift compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareBinning {
    /// Reference quantiles (default).
    Quantile,
    /// Equal width between reference min and max.
    EqualWidth,
    /// Reproduce Evidently's PSI (Sturges bins over reference ∪ current); needs --reference.
    Evidently,
}

/// Aggregation of per-feature PSI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AggregateArg {
    /// Mean over features.
    Mean,
    /// Maximum over features.
    Max,
}

/// `tradai profile build DATA -o PROFILE.json`
#[derive(Debug, Clone, Args)]
pub struct ProfileBuildArgs {
    /// Reference data: Parquet, CSV or Arrow IPC (file or stream).
    pub data: PathBuf,
    /// Where to write the profile JSON.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Features to profile (comma-separated; default: every numeric or categorical column).
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// Number of numeric bins.
    #[arg(long, default_value_t = 10)]
    pub bins: usize,
    /// Columns to treat as categorical even if numeric (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// How numeric edges are chosen.
    #[arg(long, value_enum, default_value_t = BuildBinning::Quantile)]
    pub binning: BuildBinning,
    /// Worker threads (Parquet row groups are split among them).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// `tradai drift compare (--reference DATA | --profile PROFILE.json) --current DATA`
#[derive(Debug, Clone, Args)]
pub struct DriftCompareArgs {
    /// Raw reference data (a profile is built on the fly).
    #[arg(long, conflicts_with = "profile", required_unless_present = "profile")]
    pub reference: Option<PathBuf>,
    /// A profile written by `tradai profile build`.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Current data: Parquet, CSV or Arrow IPC.
    #[arg(long)]
    pub current: PathBuf,
    /// Features to compare (comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// Number of numeric bins (with --reference only; a profile's bins are fixed).
    #[arg(long)]
    pub bins: Option<usize>,
    /// Binning method.
    #[arg(long, value_enum, default_value_t = CompareBinning::Quantile)]
    pub binning: CompareBinning,
    /// Columns to treat as categorical even if numeric (with --reference).
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Significance level of the drift test [default: drift.alpha of the configuration, 0.01].
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Aggregation of per-feature PSI into the overall PSI [default: drift.aggregate, mean].
    #[arg(long, value_enum)]
    pub aggregate: Option<AggregateArg>,
    /// Report the raw PSI bands without gating severity on significance.
    #[arg(long)]
    pub no_gate: bool,
    /// Moderate threshold [default: drift.psi_moderate_threshold / PSI_MODERATE_THRESHOLD, 0.10].
    #[arg(long)]
    pub moderate: Option<f64>,
    /// Significant threshold [default: drift.psi_significant_threshold /
    /// PSI_SIGNIFICANT_THRESHOLD, 0.25].
    #[arg(long)]
    pub significant: Option<f64>,
    /// Seed of the permutation test.
    #[arg(long, default_value_t = 0x7ada1)]
    pub seed: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// `tradai drift simulate [--trials N] [--seed S]`
#[derive(Debug, Clone, Args)]
pub struct DriftSimulateArgs {
    /// Trials per scenario.
    #[arg(long, default_value_t = 2000)]
    pub trials: usize,
    /// Master seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

fn features_opt(list: &[String]) -> Option<Vec<String>> {
    (!list.is_empty()).then(|| list.to_vec())
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Build a reference profile and write it as JSON.
pub fn run_profile_build(args: &ProfileBuildArgs, json: bool) -> anyhow::Result<()> {
    if args.bins < 2 {
        return Err(usage("--bins must be at least 2"));
    }
    if args.threads == 0 {
        return Err(usage("--threads must be at least 1"));
    }
    let src = DataFile::open(&args.data).map_err(engine_error)?;
    let opts = ProfileOptions {
        bins: args.bins,
        binning: match args.binning {
            BuildBinning::Quantile => Binning::Quantile,
            BuildBinning::EqualWidth => Binning::EqualWidth,
        },
        features: features_opt(&args.features),
        categorical: args.categorical.clone(),
        threads: args.threads,
        ..ProfileOptions::default()
    };
    let profile = tradai_drift::build_profile(&src, &opts).map_err(engine_error)?;
    std::fs::write(&args.output, profile.to_json())
        .with_context(|| format!("writing {}", args.output.display()))?;
    if json {
        print_json(&serde_json::json!({
            "profile": args.output.display().to_string(),
            "source": profile.source,
            "features": profile.features.iter().map(|f| serde_json::json!({
                "name": f.name, "kind": f.kind, "bins": f.counts.len(), "n": f.n, "missing": f.missing,
            })).collect::<Vec<_>>(),
        }))
    } else {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(vec![
            "feature", "kind", "bins", "rows", "missing", "mean", "std",
        ]);
        for f in &profile.features {
            let (mean, std) = f.summary.map_or((String::new(), String::new()), |s| {
                (format!("{:.4}", s.mean), format!("{:.4}", s.std))
            });
            t.add_row(vec![
                f.name.clone(),
                f.kind.to_string(),
                f.counts.len().to_string(),
                f.n.to_string(),
                f.missing.to_string(),
                mean,
                std,
            ]);
        }
        println!("{t}");
        println!("profile written to {}", args.output.display());
        Ok(())
    }
}

/// Flags win over the configuration (`tradai.toml`, the contracts' env vars, `--set`).
fn compare_config(
    args: &DriftCompareArgs,
    d: &tradai_runbook::config::DriftConfig,
) -> anyhow::Result<CompareConfig> {
    let alpha = args.alpha.unwrap_or(d.alpha);
    let moderate = args.moderate.unwrap_or(d.psi_moderate_threshold);
    let significant = args.significant.unwrap_or(d.psi_significant_threshold);
    // The configuration's alpha 0 means "no gate"; on the command line say --no-gate.
    let config_ungated = args.alpha.is_none() && d.alpha == 0.0;
    let gate = !(args.no_gate || config_ungated);
    if gate && !(alpha > 0.0 && alpha < 1.0) {
        return Err(usage(format!("--alpha must be in (0, 1), got {alpha}")));
    }
    if !(moderate >= 0.0 && moderate <= significant) {
        return Err(usage(format!(
            "--moderate ({moderate}) must be between 0 and --significant ({significant})"
        )));
    }
    let aggregate = match args.aggregate {
        Some(AggregateArg::Mean) => Aggregate::Mean,
        Some(AggregateArg::Max) => Aggregate::Max,
        None if d.aggregate == "max" => Aggregate::Max,
        None => Aggregate::Mean,
    };
    Ok(CompareConfig {
        thresholds: tradai_drift::Thresholds {
            moderate,
            significant,
        },
        alpha: if gate {
            alpha
        } else {
            CompareConfig::default().alpha
        },
        gate,
        aggregate,
        min_samples: d.min_samples,
        seed: args.seed,
        ..CompareConfig::default()
    })
}

/// Compare current data with a reference (raw data or profile) and print the report.
pub fn run_drift_compare(args: &DriftCompareArgs, g: &crate::app::Global) -> anyhow::Result<()> {
    let json = g.json;
    let loaded = g.load_config()?;
    let cfg = compare_config(args, &loaded.config.drift)?;
    if args.threads == 0 {
        return Err(usage("--threads must be at least 1"));
    }
    if args.bins.is_some_and(|b| b < 2) {
        return Err(usage("--bins must be at least 2"));
    }
    let features = features_opt(&args.features);
    let current = DataFile::open(&args.current).map_err(engine_error)?;
    let report = match (&args.reference, &args.profile) {
        (Some(_), Some(_)) => return Err(usage("give either --reference or --profile, not both")),
        (None, None) => return Err(usage("one of --reference or --profile is required")),
        (None, Some(path)) => {
            if args.bins.is_some() {
                return Err(usage(
                    "--bins applies to --reference; a profile's bins are fixed (rebuild it with `tradai profile build --bins`)",
                ));
            }
            if args.binning != CompareBinning::Quantile {
                return Err(usage(
                    "--binning applies to --reference; evidently mode needs the raw reference data",
                ));
            }
            if !args.categorical.is_empty() {
                return Err(usage(
                    "--categorical applies to --reference; the profile already fixes each feature's kind",
                ));
            }
            let profile = Profile::read(path).map_err(engine_error)?;
            let opts = MeasureOptions {
                features,
                threads: args.threads,
                ..MeasureOptions::default()
            };
            tradai_drift::compare_source(&profile, &current, &opts, &cfg).map_err(engine_error)?
        }
        (Some(path), None) => {
            let reference = DataFile::open(path).map_err(engine_error)?;
            match args.binning {
                CompareBinning::Evidently => tradai_drift::compare_evidently(
                    &reference,
                    &current,
                    features.as_deref(),
                    &args.categorical,
                    &cfg,
                )
                .map_err(engine_error)?,
                b => {
                    let popts = ProfileOptions {
                        bins: args.bins.unwrap_or(10),
                        binning: if b == CompareBinning::EqualWidth {
                            Binning::EqualWidth
                        } else {
                            Binning::Quantile
                        },
                        features: features.clone(),
                        categorical: args.categorical.clone(),
                        threads: args.threads,
                        ..ProfileOptions::default()
                    };
                    let profile =
                        tradai_drift::build_profile(&reference, &popts).map_err(engine_error)?;
                    let opts = MeasureOptions {
                        features,
                        threads: args.threads,
                        ..MeasureOptions::default()
                    };
                    tradai_drift::compare_source(&profile, &current, &opts, &cfg)
                        .map_err(engine_error)?
                }
            }
        }
    };
    if json {
        print_json(&report)
    } else {
        print_report(&report);
        Ok(())
    }
}

fn bar(psi: f64, scale: f64) -> String {
    let width = 20.0;
    let n = ((psi / scale).clamp(0.0, 1.0) * width).round() as usize;
    format!("{}{}", "█".repeat(n), "·".repeat(width as usize - n))
}

fn fmt_p(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

fn severity_cell(f: &FeatureDrift) -> String {
    match (f.severity, f.raw_severity) {
        (s, r) if s == r => s.to_string(),
        (_, r) => format!("none (band {r}, not significant)"),
    }
}

fn print_report(r: &DriftReport) {
    let scale = r.max_psi.max(0.5);
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "feature",
        "PSI",
        "",
        "severity",
        "p-value",
        "noise PSI",
        "bins",
        "n ref",
        "n cur",
    ]);
    for f in &r.features {
        let name = if f.status == tradai_drift::FeatureStatus::InsufficientData {
            format!("{} (insufficient data)", f.name)
        } else {
            f.name.clone()
        };
        t.add_row(vec![
            Cell::new(name),
            Cell::new(format!("{:.4}", f.psi)),
            Cell::new(bar(f.psi, scale)),
            Cell::new(severity_cell(f)),
            Cell::new(fmt_p(f.p_value)),
            Cell::new(format!("{:.4}", f.noise_psi)),
            Cell::new(f.bins_used.to_string()),
            Cell::new(f.n_ref.to_string()),
            Cell::new(f.n_cur.to_string()),
        ]);
    }
    println!("{t}");
    let sev = match r.severity {
        Severity::None => "none",
        Severity::Moderate => "moderate",
        Severity::Significant => "significant",
    };
    println!(
        "overall PSI {:.4} ({:?}), max {:.4}, severity {sev}; {}/{} features significant at alpha {}{}",
        r.overall_psi,
        r.aggregate,
        r.max_psi,
        r.significant_features,
        r.features.len(),
        r.alpha,
        if r.gated { "" } else { " (severity not gated)" },
    );
}

/// Run the seeded alert-quality simulation and print its table.
pub fn run_drift_simulate(args: &DriftSimulateArgs, json: bool) -> anyhow::Result<()> {
    if args.trials == 0 {
        return Err(usage("--trials must be at least 1"));
    }
    let cfg = SimulationConfig {
        trials: args.trials,
        seed: args.seed,
        ..SimulationConfig::default()
    };
    let results = tradai_drift::simulate(&cfg);
    if json {
        print_json(
            &serde_json::json!({ "trials": args.trials, "seed": args.seed, "scenarios": results }),
        )
    } else {
        print!("{}", tradai_drift::simulate::render_table(&results));
        Ok(())
    }
}
