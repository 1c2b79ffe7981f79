//! Core market types: candles, timeframes, pairs and freqtrade file naming.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::MarketError;

/// One OHLCV candle. `ts` is the candle's *open* time in UTC, as freqtrade and Binance store it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candle {
    /// Open time of the candle (UTC).
    pub ts: DateTime<Utc>,
    /// First traded price in the period.
    pub open: f64,
    /// Highest traded price in the period.
    pub high: f64,
    /// Lowest traded price in the period.
    pub low: f64,
    /// Last traded price in the period.
    pub close: f64,
    /// Traded base volume in the period.
    pub volume: f64,
}

/// Candle period such as `1m`, `5m`, `1h`, `4h`, `1d`, `1w`.
///
/// Stored as whole seconds so that comparisons and gap arithmetic are exact. Months (`1M`) are
/// rejected: they have no fixed length, so gap detection against them would be wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timeframe {
    secs: i64,
}

impl Timeframe {
    /// A timeframe of `secs` seconds; `None` unless strictly positive.
    pub fn from_secs(secs: i64) -> Option<Self> {
        (secs > 0).then_some(Self { secs })
    }

    /// Length in seconds.
    pub fn secs(self) -> i64 {
        self.secs
    }

    /// Length in milliseconds.
    pub fn millis(self) -> i64 {
        self.secs * 1000
    }

    /// Length as a chrono duration.
    pub fn duration(self) -> Duration {
        Duration::seconds(self.secs)
    }

    /// Number of candles of this timeframe in a (365-day) year; used to annualise ratios.
    pub fn periods_per_year(self) -> f64 {
        365.0 * 86_400.0 / self.secs as f64
    }

    /// Number of candles in `days` days (rounded down).
    pub fn candles_in_days(self, days: u32) -> usize {
        let n = i64::from(days) * 86_400 / self.secs;
        usize::try_from(n).unwrap_or(0)
    }
}

impl FromStr for Timeframe {
    type Err = MarketError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration_secs(s)
            .and_then(Self::from_secs)
            .ok_or_else(|| MarketError::InvalidTimeframe(s.to_string()))
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.secs;
        for (unit, len) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
            if s % len == 0 {
                return write!(f, "{}{unit}", s / len);
            }
        }
        write!(f, "{s}s")
    }
}

impl Serialize for Timeframe {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timeframe {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Parse `"<n><unit>"` with unit `s`, `m`, `h`, `d` or `w` into seconds (also used for `--max-age`).
pub fn parse_duration_secs(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    n.checked_mul(mult).filter(|v| *v > 0)
}

/// A trading pair in ccxt notation: `BTC/USDT` (spot) or `BTC/USDT:USDT` (futures, settle currency).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pair {
    /// Base currency (`BTC`).
    pub base: String,
    /// Quote currency (`USDT`).
    pub quote: String,
    /// Settle currency for derivatives (`USDT` in `BTC/USDT:USDT`), `None` for spot.
    pub settle: Option<String>,
}

impl Pair {
    /// True for a derivatives pair (has a settle currency).
    pub fn is_futures(&self) -> bool {
        self.settle.is_some()
    }

    /// freqtrade's `pair_to_filename`: `/`, `:`, space, `.`, `@`, `$`, `+` become `_`.
    pub fn file_stem(&self) -> String {
        self.to_string()
            .chars()
            .map(|c| match c {
                '/' | ':' | ' ' | '.' | '@' | '$' | '+' => '_',
                other => other,
            })
            .collect()
    }

    /// Rebuild a pair from a freqtrade file stem: first `_` is `/`, second `_` is `:`.
    pub fn from_file_stem(stem: &str) -> Result<Self, MarketError> {
        let mut parts = stem.splitn(3, '_');
        let base = parts.next().unwrap_or_default();
        let quote = parts
            .next()
            .ok_or_else(|| MarketError::InvalidPair(stem.to_string()))?;
        let settle = parts.next();
        let text = match settle {
            Some(s) => format!("{base}/{quote}:{s}"),
            None => format!("{base}/{quote}"),
        };
        text.parse()
    }
}

impl FromStr for Pair {
    type Err = MarketError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || MarketError::InvalidPair(s.to_string());
        let (left, settle) = match s.split_once(':') {
            Some((l, r)) => (l, Some(r)),
            None => (s, None),
        };
        let (base, quote) = left.split_once('/').ok_or_else(bad)?;
        let ok = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.@$+".contains(c))
        };
        if !ok(base) || !ok(quote) || settle.is_some_and(|s| !ok(s)) {
            return Err(bad());
        }
        Ok(Self {
            base: base.to_string(),
            quote: quote.to_string(),
            settle: settle.map(str::to_string),
        })
    }
}

impl fmt::Display for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.quote)?;
        if let Some(s) = &self.settle {
            write!(f, ":{s}")?;
        }
        Ok(())
    }
}

impl Serialize for Pair {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Pair {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// On-disk layout of a candle file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// freqtrade JSON: `[[ms, open, high, low, close, volume], ...]`.
    Json,
    /// freqtrade feather: Arrow IPC file with `date,open,high,low,close,volume`.
    Feather,
    /// Apache Parquet with the same columns as feather.
    Parquet,
    /// CSV, generic `date,open,high,low,close,volume` or Binance kline layout (detected).
    Csv,
}

impl DataFormat {
    /// File extension used for this format.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Feather => "feather",
            Self::Parquet => "parquet",
            Self::Csv => "csv",
        }
    }

    /// Format implied by a file extension (`json`, `feather`/`arrow`/`ipc`, `parquet`, `csv`).
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "feather" | "arrow" | "ipc" => Some(Self::Feather),
            "parquet" | "pq" => Some(Self::Parquet),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }
}

impl FromStr for DataFormat {
    type Err = MarketError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_extension(s).ok_or_else(|| MarketError::InvalidFormat(s.to_string()))
    }
}

/// freqtrade's file name for a pair's candles: `BTC_USDT-1h.json`, futures
/// `BTC_USDT_USDT-1h-futures.feather` (freqtrade keeps those under a `futures/` subdirectory).
pub fn freqtrade_file_name(pair: &Pair, timeframe: Timeframe, format: DataFormat) -> String {
    let suffix = if pair.is_futures() { "-futures" } else { "" };
    format!(
        "{}-{timeframe}{suffix}.{}",
        pair.file_stem(),
        format.extension()
    )
}

/// What a freqtrade-style file name says about its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileNameInfo {
    /// Pair rebuilt from the stem (`BTC_USDT_USDT` → `BTC/USDT:USDT`).
    pub pair: Pair,
    /// Timeframe as written in the name.
    pub timeframe: Timeframe,
    /// Candle type suffix (`futures`, `mark`, ...), `None` for spot.
    pub candle_type: Option<String>,
    /// Format implied by the extension.
    pub format: DataFormat,
}

/// Parse `BTC_USDT-1h.json` / `BTC_USDT_USDT-1h-futures.feather`; `None` if it does not follow the
/// naming, so callers can say "not verified" instead of guessing.
pub fn parse_freqtrade_file_name(name: &str) -> Option<FileNameInfo> {
    let (stem, ext) = name.rsplit_once('.')?;
    let format = DataFormat::from_extension(ext)?;
    let mut parts = stem.split('-');
    let pair_s = parts.next()?;
    let tf_s = parts.next()?;
    let candle_type = parts.next().map(str::to_string);
    if parts.next().is_some() {
        return None;
    }
    let timeframe = tf_s.parse().ok()?;
    let pair = Pair::from_file_stem(pair_s).ok()?;
    Some(FileNameInfo {
        pair,
        timeframe,
        candle_type,
        format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeframes_parse_and_print() {
        for (s, secs) in [
            ("1m", 60),
            ("5m", 300),
            ("15m", 900),
            ("1h", 3600),
            ("4h", 14_400),
            ("1d", 86_400),
            ("1w", 604_800),
        ] {
            let tf: Timeframe = s.parse().unwrap();
            assert_eq!(tf.secs(), secs);
            assert_eq!(tf.to_string(), s);
        }
        assert_eq!("60m".parse::<Timeframe>().unwrap().to_string(), "1h");
        for bad in ["", "h", "0h", "1M", "1y", "-1h", "1.5h"] {
            assert!(bad.parse::<Timeframe>().is_err(), "{bad}");
        }
    }

    #[test]
    fn pairs_and_file_names() {
        let spot: Pair = "BTC/USDT".parse().unwrap();
        let fut: Pair = "BTC/USDT:USDT".parse().unwrap();
        assert!(!spot.is_futures());
        assert!(fut.is_futures());
        assert_eq!(fut.to_string(), "BTC/USDT:USDT");
        let h1: Timeframe = "1h".parse().unwrap();
        assert_eq!(
            freqtrade_file_name(&spot, h1, DataFormat::Json),
            "BTC_USDT-1h.json"
        );
        assert_eq!(
            freqtrade_file_name(&fut, h1, DataFormat::Feather),
            "BTC_USDT_USDT-1h-futures.feather"
        );
        let info = parse_freqtrade_file_name("BTC_USDT_USDT-1h-futures.feather").unwrap();
        assert_eq!(info.pair, fut);
        assert_eq!(info.timeframe, h1);
        assert_eq!(info.candle_type.as_deref(), Some("futures"));
        let info = parse_freqtrade_file_name("ETH_BTC-5m.json").unwrap();
        assert_eq!(info.pair.to_string(), "ETH/BTC");
        assert!(parse_freqtrade_file_name("klines.csv").is_none());
        for bad in ["BTC", "BTC/", "/USDT", "BTC/USDT:", "BTC USDT"] {
            assert!(bad.parse::<Pair>().is_err(), "{bad}");
        }
    }
}
