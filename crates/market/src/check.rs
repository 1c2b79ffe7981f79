//! Data-quality checks: the runbook's "verify data quality (no gaps, correct sources)".
//!
//! Every check runs over the candles in file order and reports how many rows fail it and the
//! first few examples with their 1-based row numbers (the same numbers loader errors use for
//! JSON/feather/parquet; for CSV with a header, line = row + 1).

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::MarketError;
use crate::io::load_candles;
use crate::types::{Candle, DataFormat, Pair, Timeframe, parse_freqtrade_file_name};

/// What the data is expected to be, and the clock to judge staleness against.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// Expected candle period.
    pub timeframe: Timeframe,
    /// Expected pair (from the model configuration); compared with the file name.
    pub pair: Option<Pair>,
    /// Injected "now" for the staleness check.
    pub now: Option<DateTime<Utc>>,
    /// The last candle must have closed no longer than this before `now`.
    pub max_age: Option<Duration>,
    /// How many examples to keep per check.
    pub max_examples: usize,
}

impl CheckConfig {
    /// Checks against a timeframe only (no staleness, no pair), 5 examples per check.
    pub fn new(timeframe: Timeframe) -> Self {
        Self {
            timeframe,
            pair: None,
            now: None,
            max_age: None,
            max_examples: 5,
        }
    }
}

/// One failing row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// 1-based row number in file order (`None` for file-level findings).
    pub row: Option<usize>,
    /// Candle open time of that row, if any.
    pub ts: Option<DateTime<Utc>>,
    /// What is wrong, for a human.
    pub detail: String,
}

/// Result of one named check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Stable check name (`gaps`, `duplicates`, `out_of_order`, `misaligned`, `ohlc`,
    /// `non_positive`, `nan`, `stale`, `source`, `not_empty`).
    pub name: String,
    /// True when nothing failed.
    pub passed: bool,
    /// Number of failing rows (for `gaps`: number of missing candles).
    pub count: usize,
    /// The first few failures.
    pub examples: Vec<Example>,
    /// Extra context (e.g. why a check could not be verified).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
}

/// The report for one file (or one in-memory series).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// File checked, if any.
    pub source: Option<String>,
    /// Expected timeframe.
    pub timeframe: Timeframe,
    /// Number of candles.
    pub rows: usize,
    /// First candle's open time.
    pub first: Option<DateTime<Utc>>,
    /// Last candle's open time.
    pub last: Option<DateTime<Utc>>,
    /// Every check, in a fixed order.
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// True when every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The failing checks.
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| !c.passed)
    }

    /// A check by name.
    pub fn check(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == name)
    }
}

struct Acc {
    name: &'static str,
    count: usize,
    examples: Vec<Example>,
    max: usize,
    note: Option<String>,
}

impl Acc {
    fn new(name: &'static str, max: usize) -> Self {
        Self {
            name,
            count: 0,
            examples: Vec::new(),
            max,
            note: None,
        }
    }

    fn hit(&mut self, n: usize, row: Option<usize>, ts: Option<DateTime<Utc>>, detail: String) {
        self.count += n;
        if self.examples.len() < self.max {
            self.examples.push(Example { row, ts, detail });
        }
    }

    fn finish(self) -> CheckResult {
        CheckResult {
            name: self.name.to_string(),
            passed: self.count == 0,
            count: self.count,
            examples: self.examples,
            note: self.note,
        }
    }
}

/// Run every content check over `candles` (the `source` check is added by [`check_file`]).
pub fn check_candles(candles: &[Candle], cfg: &CheckConfig) -> Report {
    let m = cfg.max_examples;
    let tf = cfg.timeframe.secs();
    let mut not_empty = Acc::new("not_empty", m);
    let mut gaps = Acc::new("gaps", m);
    let mut dups = Acc::new("duplicates", m);
    let mut order = Acc::new("out_of_order", m);
    let mut misaligned = Acc::new("misaligned", m);
    let mut ohlc = Acc::new("ohlc", m);
    let mut nonpos = Acc::new("non_positive", m);
    let mut nan = Acc::new("nan", m);
    let mut stale = Acc::new("stale", m);

    if candles.is_empty() {
        not_empty.hit(1, None, None, "file has no candles".into());
    }
    for (i, c) in candles.iter().enumerate() {
        let row = Some(i + 1);
        let ts = Some(c.ts);
        let vals = [c.open, c.high, c.low, c.close, c.volume];
        if vals.iter().any(|v| !v.is_finite()) {
            nan.hit(1, row, ts, format!("non-finite value in {}", describe(c)));
            continue;
        }
        if c.open <= 0.0 || c.high <= 0.0 || c.low <= 0.0 || c.close <= 0.0 || c.volume < 0.0 {
            nonpos.hit(
                1,
                row,
                ts,
                format!("non-positive price or negative volume: {}", describe(c)),
            );
        }
        if c.high < c.low
            || c.open > c.high
            || c.open < c.low
            || c.close > c.high
            || c.close < c.low
        {
            ohlc.hit(1, row, ts, format!("inconsistent OHLC: {}", describe(c)));
        }
        if c.ts.timestamp().rem_euclid(tf) != 0 || c.ts.timestamp_subsec_nanos() != 0 {
            misaligned.hit(
                1,
                row,
                ts,
                format!("{} is not on a {} boundary", c.ts, cfg.timeframe),
            );
        }
    }
    for (i, w) in candles.windows(2).enumerate() {
        let row = Some(i + 2);
        let ts = Some(w[1].ts);
        let delta = (w[1].ts - w[0].ts).num_seconds();
        if delta < 0 {
            order.hit(1, row, ts, format!("{} comes after {}", w[1].ts, w[0].ts));
        } else if delta == 0 {
            dups.hit(1, row, ts, format!("duplicate of row {}", i + 1));
        } else if delta % tf != 0 {
            misaligned.hit(
                1,
                row,
                ts,
                format!(
                    "{delta}s after the previous candle, not a multiple of {}",
                    cfg.timeframe
                ),
            );
        } else if delta > tf {
            let missing = usize::try_from(delta / tf - 1).unwrap_or(usize::MAX);
            gaps.hit(
                missing,
                row,
                ts,
                format!(
                    "{missing} candle(s) missing between {} and {}",
                    w[0].ts, w[1].ts
                ),
            );
        }
    }
    match (cfg.now, cfg.max_age, candles.iter().map(|c| c.ts).max()) {
        (Some(now), Some(max_age), Some(last)) => {
            let closed = last + cfg.timeframe.duration();
            let age = now - closed;
            if age > max_age {
                stale.hit(
                    1,
                    candles.iter().rposition(|c| c.ts == last).map(|i| i + 1),
                    Some(last),
                    format!(
                        "last candle closed {} ago (max {})",
                        fmt_duration(age),
                        fmt_duration(max_age)
                    ),
                );
            }
        }
        _ => stale.note = Some("not checked: no --max-age given".into()),
    }
    Report {
        source: None,
        timeframe: cfg.timeframe,
        rows: candles.len(),
        first: candles.first().map(|c| c.ts),
        last: candles.last().map(|c| c.ts),
        checks: vec![
            not_empty.finish(),
            gaps.finish(),
            dups.finish(),
            order.finish(),
            misaligned.finish(),
            ohlc.finish(),
            nonpos.finish(),
            nan.finish(),
            stale.finish(),
        ],
    }
}

/// Load one file and check it, adding the `source` check: the file name's pair and timeframe
/// (freqtrade naming) against the expected ones.
pub fn check_file(path: &Path, cfg: &CheckConfig) -> Result<Report, MarketError> {
    let candles = load_candles(path)?;
    let mut report = check_candles(&candles, cfg);
    report.source = Some(path.display().to_string());
    let mut source = Acc::new("source", cfg.max_examples);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    match parse_freqtrade_file_name(name) {
        Some(info) => {
            if info.timeframe != cfg.timeframe {
                source.hit(
                    1,
                    None,
                    None,
                    format!(
                        "file name says timeframe {}, expected {}",
                        info.timeframe, cfg.timeframe
                    ),
                );
            }
            if let Some(pair) = &cfg.pair
                && &info.pair != pair
            {
                source.hit(
                    1,
                    None,
                    None,
                    format!("file name says pair {}, expected {pair}", info.pair),
                );
            }
        }
        None => {
            source.note = Some(format!(
                "{name:?} does not follow freqtrade naming (e.g. BTC_USDT-1h.json); pair/timeframe not verified"
            ));
        }
    }
    report.checks.push(source.finish());
    Ok(report)
}

/// Check a file, or every candle file in a directory (see [`candle_files`]). Stops at the first
/// unreadable file; use [`candle_files`] + [`check_file`] to report each file separately.
pub fn check_path(path: &Path, cfg: &CheckConfig) -> Result<Vec<Report>, MarketError> {
    if !path.is_dir() {
        return Ok(vec![check_file(path, cfg)?]);
    }
    candle_files(path, cfg.pair.as_ref())?
        .iter()
        .map(|f| check_file(f, cfg))
        .collect()
}

/// Candle files in `dir` and its `futures/` subdirectory (where freqtrade keeps futures
/// candles), sorted; with `pair`, only files whose freqtrade name is that pair's. Finding none is
/// an error, so a wrong directory or pair is not mistaken for clean data.
pub fn candle_files(
    dir: &Path,
    pair: Option<&Pair>,
) -> Result<Vec<std::path::PathBuf>, MarketError> {
    let mut files = Vec::new();
    for d in [dir.to_path_buf(), dir.join("futures")] {
        if !d.is_dir() {
            continue;
        }
        let entries = std::fs::read_dir(&d).map_err(|e| MarketError::io(&d, e))?;
        for entry in entries {
            let p = entry.map_err(|e| MarketError::io(&d, e))?.path();
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or_default();
            if !p.is_file() || DataFormat::from_extension(ext).is_none() {
                continue;
            }
            if let Some(pair) = pair {
                match parse_freqtrade_file_name(&name) {
                    Some(info) if &info.pair == pair => {}
                    _ => continue,
                }
            }
            files.push(p);
        }
    }
    files.sort();
    if files.is_empty() {
        let what = pair.map_or(String::new(), |p| format!(" for pair {p}"));
        return Err(MarketError::format(
            dir,
            format!("no candle files{what} in directory"),
        ));
    }
    Ok(files)
}

fn describe(c: &Candle) -> String {
    format!(
        "o={} h={} l={} c={} v={}",
        c.open, c.high, c.low, c.close, c.volume
    )
}

fn fmt_duration(d: Duration) -> String {
    let s = d.num_seconds();
    if s % 86_400 == 0 && s != 0 {
        format!("{}d", s / 86_400)
    } else if s % 3_600 == 0 && s != 0 {
        format!("{}h", s / 3_600)
    } else if s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(h: i64, o: f64, hi: f64, lo: f64, cl: f64) -> Candle {
        Candle {
            ts: DateTime::from_timestamp(1_704_067_200 + h * 3600, 0).unwrap(),
            open: o,
            high: hi,
            low: lo,
            close: cl,
            volume: 1.0,
        }
    }

    fn cfg() -> CheckConfig {
        CheckConfig::new("1h".parse().unwrap())
    }

    #[test]
    fn clean_series_passes() {
        let data: Vec<_> = (0..10).map(|h| c(h, 10.0, 11.0, 9.0, 10.5)).collect();
        let r = check_candles(&data, &cfg());
        assert!(r.passed(), "{r:#?}");
        assert_eq!(r.rows, 10);
    }

    #[test]
    fn each_problem_is_found_with_row_numbers() {
        let mut data = vec![
            c(0, 10.0, 11.0, 9.0, 10.5),
            c(1, 10.0, 9.0, 11.0, 10.5), // high < low (and open outside)
            c(4, 10.0, 11.0, 9.0, 10.5), // 2 missing
            c(4, 10.0, 11.0, 9.0, 10.5), // duplicate
            c(3, 10.0, 11.0, 9.0, 12.0), // out of order, close > high
            c(5, -1.0, 11.0, 9.0, 10.0), // non-positive (and open < low)
            c(6, f64::NAN, 11.0, 9.0, 10.0),
        ];
        data.push(Candle {
            ts: data[6].ts + Duration::minutes(90),
            ..data[0]
        });
        let r = check_candles(&data, &cfg());
        assert!(!r.passed());
        let get = |n: &str| r.check(n).unwrap().clone();
        assert_eq!(get("gaps").count, 3); // 2 before row 3, 1 before row 6
        assert_eq!(get("gaps").examples[0].row, Some(3));
        assert_eq!(get("duplicates").count, 1);
        assert_eq!(get("duplicates").examples[0].row, Some(4));
        assert_eq!(get("out_of_order").examples[0].row, Some(5));
        assert_eq!(get("ohlc").count, 3);
        assert_eq!(get("ohlc").examples[0].row, Some(2));
        assert_eq!(get("non_positive").examples[0].row, Some(6));
        assert_eq!(get("nan").examples[0].row, Some(7));
        assert_eq!(get("misaligned").count, 2, "{:?}", get("misaligned"));
        assert!(get("stale").passed);
    }

    #[test]
    fn staleness_against_injected_now() {
        let data: Vec<_> = (0..3).map(|h| c(h, 10.0, 11.0, 9.0, 10.5)).collect();
        let last_close = data[2].ts + Duration::hours(1);
        let mut cfg = cfg();
        cfg.max_age = Some(Duration::hours(2));
        cfg.now = Some(last_close + Duration::hours(2));
        assert!(check_candles(&data, &cfg).passed());
        cfg.now = Some(last_close + Duration::hours(2) + Duration::seconds(1));
        let r = check_candles(&data, &cfg);
        assert!(!r.check("stale").unwrap().passed);
        assert_eq!(r.check("stale").unwrap().examples[0].row, Some(3));
    }

    #[test]
    fn file_name_must_match_config() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<_> = (0..3).map(|h| c(h, 10.0, 11.0, 9.0, 10.5)).collect();
        let p = dir.path().join("ETH_USDT-1h.json");
        crate::io::write_candles(&p, DataFormat::Json, &data).unwrap();
        let mut cfg = cfg();
        cfg.pair = Some("BTC/USDT".parse().unwrap());
        let r = check_file(&p, &cfg).unwrap();
        assert!(!r.check("source").unwrap().passed);
        cfg.pair = Some("ETH/USDT".parse().unwrap());
        assert!(check_file(&p, &cfg).unwrap().passed());
        cfg.timeframe = "5m".parse().unwrap();
        let r = check_file(&p, &cfg).unwrap();
        assert!(!r.check("source").unwrap().passed);
        // A directory narrowed to a pair it does not hold is an error.
        cfg.pair = Some("SOL/USDT".parse().unwrap());
        assert!(check_path(dir.path(), &cfg).is_err());
    }

    #[test]
    fn report_serializes() {
        let r = check_candles(&[], &cfg());
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["checks"][0]["name"], "not_empty");
        assert_eq!(v["checks"][0]["passed"], false);
        assert_eq!(v["timeframe"], "1h");
    }
}
