//! `tradai data synth` and `tradai data check`.
//!
//! Thin edge over `tradai-market`: parse and validate arguments (bad ones become
//! [`crate::UsageError`]), call the library, print a human report or one JSON document.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};
use clap::{Args, ValueEnum};
use serde_json::json;
use tradai_market::check::{CheckConfig, Report, candle_files, check_file};
use tradai_market::io::parse_timestamp;
use tradai_market::synth::{RegimeShift, SynthConfig, write_dataset};
use tradai_market::{DataFormat, MarketError, Pair, Timeframe, parse_duration_secs};

/// Output format of `data synth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// freqtrade JSON (`BTC_USDT-1h.json`).
    Json,
    /// freqtrade feather (`BTC_USDT-1h.feather`).
    Feather,
    /// Generic CSV `date,open,high,low,close,volume`.
    Csv,
    /// Parquet with the feather columns.
    Parquet,
}

impl From<FormatArg> for DataFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Json => DataFormat::Json,
            FormatArg::Feather => DataFormat::Feather,
            FormatArg::Csv => DataFormat::Csv,
            FormatArg::Parquet => DataFormat::Parquet,
        }
    }
}

/// `tradai data synth`: write a seedable synthetic market in freqtrade's layout.
#[derive(Debug, Clone, Args)]
pub struct SynthArgs {
    /// Output directory (created; futures pairs go to DIR/futures/ as in freqtrade).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Pairs, comma-separated: BTC/USDT,ETH/USDT or BTC/USDT:USDT for futures.
    #[arg(long, value_delimiter = ',', required = true, value_name = "PAIRS")]
    pub pairs: Vec<String>,
    /// Candle timeframe (1m, 5m, 15m, 1h, 4h, 1d, ...).
    #[arg(long, default_value = "1h")]
    pub timeframe: String,
    /// Number of days to generate.
    #[arg(long)]
    pub days: u32,
    /// First candle (date or RFC 3339). Default: `days` before now, so the data is fresh;
    /// give it for byte-identical output across runs.
    #[arg(long, value_name = "DATE")]
    pub start: Option<String>,
    /// From this date on, the market changes (volatility x shift-vol, drift + shift-drift).
    #[arg(long, value_name = "DATE")]
    pub regime_shift_at: Option<String>,
    /// Volatility multiplier after the regime shift.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub shift_vol: f64,
    /// Added to the per-candle drift of log returns after the regime shift (e.g. -0.0005).
    #[arg(
        long,
        default_value_t = 0.0,
        allow_hyphen_values = true,
        value_name = "Y"
    )]
    pub shift_drift: f64,
    /// Random seed: same seed and arguments, same candles.
    #[arg(long)]
    pub seed: u64,
    /// File format.
    #[arg(long, value_enum, default_value_t = FormatArg::Json)]
    pub format: FormatArg,
}

/// `tradai data check`: the runbook's data-quality checks.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// A candle file, or a directory of them (freqtrade layout).
    pub path: PathBuf,
    /// Expected timeframe [default: the model's with --model, else 1h].
    #[arg(long)]
    pub timeframe: Option<String>,
    /// Fail when the last candle closed longer ago than this (e.g. 2h, 1d).
    #[arg(long, value_name = "AGE")]
    pub max_age: Option<String>,
    /// Expected pair; checked against file names.
    #[arg(long, value_name = "PAIR", conflicts_with = "model")]
    pub pair: Option<String>,
    /// Check against a model's configuration: its timeframe, and its pairs (in a directory each
    /// must have a file of that timeframe; a single file must be of one of them).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
}

/// What the model configuration expects of the data (`data check --model`).
pub struct Expected {
    /// `model NAME`, for messages.
    pub source: String,
    pub pairs: Vec<Pair>,
    pub timeframe: Timeframe,
}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(crate::UsageError(msg.into()))
}

fn parse_timeframe(s: &str) -> Result<Timeframe> {
    s.parse().map_err(|e: MarketError| usage(e.to_string()))
}

fn parse_date(flag: &str, s: &str) -> Result<DateTime<Utc>> {
    parse_timestamp(s).ok_or_else(|| {
        usage(format!(
            "{flag}: {s:?} is not a date (use 2024-01-01 or 2024-01-01T00:00:00Z)"
        ))
    })
}

/// Run `data synth` with the system clock (only used when `--start` is absent).
pub fn run_synth(args: &SynthArgs, json: bool) -> Result<()> {
    run_synth_at(args, json, Utc::now())
}

/// Run `data synth`; `now` sets the default start (`days` before `now`, floored to the timeframe).
pub fn run_synth_at(args: &SynthArgs, json: bool, now: DateTime<Utc>) -> Result<()> {
    let timeframe = parse_timeframe(&args.timeframe)?;
    if args.days == 0 {
        return Err(usage("--days must be at least 1"));
    }
    let mut pairs = Vec::with_capacity(args.pairs.len());
    for p in args
        .pairs
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
    {
        let pair: Pair = p
            .parse()
            .map_err(|e: MarketError| usage(format!("--pairs: {e}")))?;
        if pairs.contains(&pair) {
            return Err(usage(format!("--pairs: {pair} listed twice")));
        }
        pairs.push(pair);
    }
    if pairs.is_empty() {
        return Err(usage("--pairs: give at least one pair, e.g. BTC/USDT"));
    }
    let start = match &args.start {
        Some(s) => parse_date("--start", s)?,
        None => now - Duration::days(i64::from(args.days)),
    };
    let mut cfg = SynthConfig::new(timeframe, start, args.days, args.seed);
    if !(args.shift_vol.is_finite() && args.shift_vol > 0.0) {
        return Err(usage("--shift-vol must be a positive number"));
    }
    if !args.shift_drift.is_finite() {
        return Err(usage("--shift-drift must be a finite number"));
    }
    let shift_given = args.shift_vol != 1.0 || args.shift_drift != 0.0;
    match &args.regime_shift_at {
        Some(at) => {
            let at = parse_date("--regime-shift-at", at)?;
            let end = start + Duration::days(i64::from(args.days));
            if at <= start || at >= end {
                return Err(usage(format!(
                    "--regime-shift-at {at} is outside the generated range ({start} .. {end})"
                )));
            }
            cfg.shift = Some(RegimeShift {
                at,
                vol_mult: args.shift_vol,
                drift_add: args.shift_drift,
            });
        }
        None if shift_given => {
            return Err(usage(
                "--shift-vol/--shift-drift need --regime-shift-at DATE",
            ));
        }
        None => {}
    }
    let format: DataFormat = args.format.into();
    let paths = write_dataset(&args.out, &pairs, &cfg, format)
        .with_context(|| format!("writing synthetic data to {}", args.out.display()))?;
    let first = tradai_market::synth::generate(&cfg, 0)
        .ok()
        .and_then(|c| c.first().map(|c| c.ts));
    let last = first.map(|f| f + timeframe.duration() * (cfg.candles.saturating_sub(1) as i32));
    if json {
        let files: Vec<_> = pairs
            .iter()
            .zip(&paths)
            .map(|(p, path)| json!({"pair": p.to_string(), "path": path.display().to_string()}))
            .collect();
        let doc = json!({
            "files": files,
            "timeframe": timeframe.to_string(),
            "candles": cfg.candles,
            "first": first,
            "last": last,
            "seed": args.seed,
            "format": format,
            "regime_shift": cfg.shift,
            "params": cfg.params,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!(
            "wrote {} file(s), {} {} candles each{}, seed {}",
            paths.len(),
            cfg.candles,
            timeframe,
            match (first, last) {
                (Some(f), Some(l)) => format!(" from {} to {}", f.to_rfc3339(), l.to_rfc3339()),
                _ => String::new(),
            },
            args.seed
        );
        if let Some(s) = &cfg.shift {
            println!(
                "regime shift at {}: volatility x{}, drift {:+} per candle",
                s.at.to_rfc3339(),
                s.vol_mult,
                s.drift_add
            );
        }
        for p in &paths {
            println!("  {}", p.display());
        }
    }
    Ok(())
}

/// Run `data check`. Returns the process exit code: 0 when every check of every file passed,
/// 1 when any failed or a file could not be read (reported with file, line/row and column).
/// Bad arguments are `Err(UsageError)`; a missing path is an ordinary error.
/// The pairs and timeframe of a model's configuration, for `data check --model`.
pub async fn expected_of(g: &crate::app::Global, model: &str) -> Result<Expected> {
    let name: tradai_domain::ModelName = super::name(model)?;
    let cfg = g
        .training()?
        .model_config_opt(&name)
        .await?
        .ok_or_else(|| {
            usage(format!(
                "model '{name}' has no configuration (set one with `tradai model config {name} --pairs … --timeframe …`)"
            ))
        })?;
    let pairs = cfg
        .config
        .pairs
        .iter()
        .map(|p| {
            p.parse::<Pair>()
                .map_err(|e| usage(format!("pair {p:?} of model {name}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let timeframe = parse_timeframe(&cfg.config.timeframe)?;
    Ok(Expected {
        source: format!("model {name}"),
        pairs,
        timeframe,
    })
}

/// Run `data check`; `expected` comes from `--model` (read by the caller from the store).
pub fn run_check(
    args: &CheckArgs,
    json: bool,
    now: DateTime<Utc>,
    expected: Option<Expected>,
) -> Result<u8> {
    let timeframe = match (&args.timeframe, &expected) {
        (Some(t), _) => parse_timeframe(t)?,
        (None, Some(e)) => e.timeframe,
        (None, None) => parse_timeframe("1h")?,
    };
    let pairs: Vec<Pair> = match (&args.pair, &expected) {
        (Some(p), _) => vec![
            p.parse::<Pair>()
                .map_err(|e| usage(format!("--pair: {e}")))?,
        ],
        (None, Some(e)) => e.pairs.clone(),
        (None, None) => Vec::new(),
    };
    let max_age = match &args.max_age {
        Some(s) => Some(
            parse_duration_secs(s)
                .map(Duration::seconds)
                .ok_or_else(|| {
                    usage(format!("--max-age: {s:?} is not a duration like 2h or 1d"))
                })?,
        ),
        None => None,
    };
    if !args.path.exists() {
        anyhow::bail!("{}: no such file or directory", args.path.display());
    }
    let cfg = |pair: Option<Pair>| CheckConfig {
        timeframe,
        pair,
        now: Some(now),
        max_age,
        max_examples: 5,
    };
    let check = |f: PathBuf, pair: Option<&Pair>| {
        let r = check_file(&f, &cfg(pair.cloned())).map_err(|e| e.to_string());
        (f, r)
    };
    let mut results: Vec<(PathBuf, Result<Report, String>)> = Vec::new();
    if args.path.is_dir() {
        if pairs.is_empty() {
            for f in candle_files(&args.path, None)? {
                results.push(check(f, None));
            }
        }
        for pair in &pairs {
            // A pair without a file is a failed check of this directory, not the end of it.
            // The pair's files of this timeframe (a `-5m` file beside the `-1h` one is not
            // this model's data); names that do not say their timeframe are checked too.
            let files: Vec<PathBuf> = candle_files(&args.path, Some(pair))
                .unwrap_or_default()
                .into_iter()
                .filter(|f| {
                    f.file_name()
                        .and_then(|n| n.to_str())
                        .and_then(tradai_market::parse_freqtrade_file_name)
                        .is_none_or(|i| i.timeframe == timeframe)
                })
                .collect();
            if files.is_empty() {
                let whose = expected
                    .as_ref()
                    .map_or_else(String::new, |x| format!(" (configured for {})", x.source));
                results.push((
                    args.path.clone(),
                    Err(format!(
                        "no {timeframe} candle file for {pair}{whose} in {} (expected e.g. {})",
                        args.path.display(),
                        tradai_market::freqtrade_file_name(pair, timeframe, DataFormat::Json)
                    )),
                ));
            }
            for f in files {
                results.push(check(f, Some(pair)));
            }
        }
    } else {
        // One file: checked against the configured pair its name says, or the first one (so
        // that a file of another pair fails the source check).
        let named = args
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(tradai_market::parse_freqtrade_file_name)
            .map(|i| i.pair);
        let pair = pairs
            .iter()
            .find(|p| named.as_ref() == Some(*p))
            .or(pairs.first());
        results.push(check(args.path.clone(), pair));
    }
    let passed = results
        .iter()
        .all(|(_, r)| r.as_ref().is_ok_and(Report::passed));
    if json {
        let docs: Vec<_> = results
            .iter()
            .map(|(path, r)| match r {
                Ok(report) => json!({"passed": report.passed(), "report": report}),
                Err(e) => json!({"passed": false, "source": path.display().to_string(), "error": e.to_string()}),
            })
            .collect();
        let doc = json!({"passed": passed, "checked_at": now, "files": docs});
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        for (path, r) in &results {
            print_human(path, r);
        }
        let failed = results
            .iter()
            .filter(|(_, r)| !r.as_ref().is_ok_and(Report::passed))
            .count();
        if passed {
            println!("data check passed ({} file(s))", results.len());
        } else {
            println!("data check FAILED: {failed} of {} file(s)", results.len());
        }
    }
    Ok(if passed { 0 } else { 1 })
}

fn print_human(path: &Path, r: &Result<Report, String>) {
    let report = match r {
        Ok(report) => report,
        Err(e) => {
            println!("{}  UNREADABLE\n  ✗ {e}", path.display());
            return;
        }
    };
    let span = match (report.first, report.last) {
        (Some(f), Some(l)) => format!("{} → {}", f.to_rfc3339(), l.to_rfc3339()),
        _ => "empty".into(),
    };
    println!(
        "{}  {} rows  {}  {}",
        path.display(),
        report.rows,
        span,
        if report.passed() { "PASS" } else { "FAIL" }
    );
    for c in &report.checks {
        let mark = if c.passed { "✓" } else { "✗" };
        match (&c.note, c.passed) {
            (_, false) => println!("  {mark} {}: {}", c.name, c.count),
            (Some(note), true) => println!("  {mark} {} ({note})", c.name),
            (None, true) => println!("  {mark} {}", c.name),
        }
        for ex in &c.examples {
            let at = match (ex.row, ex.ts) {
                (Some(row), Some(ts)) => format!("row {row} ({}): ", ts.to_rfc3339()),
                (Some(row), None) => format!("row {row}: "),
                _ => String::new(),
            };
            println!("      {at}{}", ex.detail);
        }
    }
}
