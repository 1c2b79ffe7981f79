//! Errors of the market crate. Every data error names the file and, where known, the line/row and
//! column, so an operator can open the file at the right place.

use std::path::PathBuf;

/// Location of a bad value inside a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub path: PathBuf,
    /// 1-based line (text formats) or row (columnar formats), `None` for whole-file problems.
    pub row: Option<usize>,
    /// Column name or 1-based index, `None` when the whole row is bad.
    pub column: Option<String>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(r) = self.row {
            write!(f, ":{r}")?;
        }
        if let Some(c) = &self.column {
            write!(f, " column {c}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong reading, writing or describing market data.
#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A value could not be parsed; the location says where.
    #[error("{location}: {message}")]
    Parse {
        /// Where the bad value is.
        location: Location,
        /// What is wrong.
        message: String,
    },
    /// The file's structure is not one we read (missing column, wrong type, bad Arrow/Parquet).
    #[error("{}: {message}", path.display())]
    Format {
        /// File concerned.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Not a timeframe like `1m`, `1h`, `1d`.
    #[error("invalid timeframe {0:?} (expected e.g. 1m, 5m, 1h, 4h, 1d)")]
    InvalidTimeframe(String),
    /// Not a pair like `BTC/USDT` or `BTC/USDT:USDT`.
    #[error("invalid pair {0:?} (expected e.g. BTC/USDT or BTC/USDT:USDT)")]
    InvalidPair(String),
    /// Unknown data format name.
    #[error("invalid data format {0:?} (expected json, feather, parquet or csv)")]
    InvalidFormat(String),
    /// Bad generator or check configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl MarketError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn parse(
        path: &std::path::Path,
        row: Option<usize>,
        column: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self::Parse {
            location: Location {
                path: path.to_path_buf(),
                row,
                column: column.map(str::to_string),
            },
            message: message.into(),
        }
    }

    pub(crate) fn format(path: &std::path::Path, message: impl Into<String>) -> Self {
        Self::Format {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}
