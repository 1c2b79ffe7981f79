//! tradai-market: OHLCV candles in, clean candles out.
//!
//! - [`types`]: [`Candle`], [`Timeframe`], [`Pair`] and freqtrade's file naming.
//! - [`io`]: loaders for generic/Binance CSV, Parquet, freqtrade JSON and feather; writers.
//! - [`check`]: the runbook's data-quality checks as a serde report.
//! - [`synth`]: a seedable regime-switching market generator for demos and tests.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod check;
pub mod error;
pub mod io;
pub mod synth;
pub mod types;

pub use check::{CheckConfig, CheckResult, Report, check_candles, check_file, check_path};
pub use error::{Location, MarketError};
pub use io::{load_candles, write_candles};
pub use types::{
    Candle, DataFormat, FileNameInfo, Pair, Timeframe, freqtrade_file_name, parse_duration_secs,
    parse_freqtrade_file_name,
};
