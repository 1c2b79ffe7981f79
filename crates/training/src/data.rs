//! Finding and loading a model's candle files (the only I/O besides the ports).

use crate::TrainingError;
use std::path::{Path, PathBuf};
use tradai_market::check::{CheckConfig, Report, candle_files, check_candles};
use tradai_market::{Candle, Pair, Timeframe, load_candles, parse_freqtrade_file_name};

/// One pair's candles and where they came from.
#[derive(Debug, Clone)]
pub struct PairData {
    pub pair: Pair,
    pub file: PathBuf,
    pub candles: Vec<Candle>,
}

/// Which file holds `pair`'s `tf` candles under `data` (a file is taken as is).
pub fn resolve_file(data: &Path, pair: &Pair, tf: Timeframe) -> Result<PathBuf, TrainingError> {
    if !data.exists() {
        return Err(TrainingError::Invalid(format!(
            "data path {}: no such file or directory",
            data.display()
        )));
    }
    if data.is_file() {
        return Ok(data.to_path_buf());
    }
    let files = candle_files(data, Some(pair))?;
    files
        .into_iter()
        .find(|f| {
            f.file_name()
                .and_then(|n| n.to_str())
                .and_then(parse_freqtrade_file_name)
                .is_some_and(|i| i.timeframe == tf)
        })
        .ok_or_else(|| {
            TrainingError::Invalid(format!(
                "{}: no {tf} candle file for pair {pair} (expected e.g. {})",
                data.display(),
                tradai_market::freqtrade_file_name(pair, tf, tradai_market::DataFormat::Json)
            ))
        })
}

/// Loads the candles of `pairs` from `data`. A file holds one pair: only the first is loaded.
pub fn load(data: &Path, pairs: &[Pair], tf: Timeframe) -> Result<Vec<PairData>, TrainingError> {
    let pairs = if data.is_file() {
        &pairs[..1.min(pairs.len())]
    } else {
        pairs
    };
    pairs
        .iter()
        .map(|pair| {
            let file = resolve_file(data, pair, tf)?;
            let candles = load_candles(&file)?;
            Ok(PairData {
                pair: pair.clone(),
                file,
                candles,
            })
        })
        .collect()
}

/// Runs the data-quality checks on loaded candles (without staleness: training data may be old).
pub fn check(d: &PairData, tf: Timeframe) -> Report {
    let mut cfg = CheckConfig::new(tf);
    cfg.pair = Some(d.pair.clone());
    let mut report = check_candles(&d.candles, &cfg);
    report.source = Some(d.file.display().to_string());
    report
}

/// One line per failed check, with its first example (row and detail).
pub fn failures(r: &Report) -> String {
    r.failures()
        .map(|c| {
            let ex = c
                .examples
                .first()
                .map(|e| {
                    let row = e.row.map_or(String::new(), |r| format!("row {r}: "));
                    format!(" (first: {row}{})", e.detail)
                })
                .unwrap_or_default();
            format!("{} {}{ex}", c.name, c.count)
        })
        .collect::<Vec<_>>()
        .join("; ")
}
