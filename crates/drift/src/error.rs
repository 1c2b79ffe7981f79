//! Errors of the drift engine. Every input error names the file (or in-memory source) and column
//! so an operator can fix the data without reading a stack trace.

use crate::profile::FeatureKind;

/// Result alias for the drift engine.
pub type Result<T, E = DriftError> = std::result::Result<T, E>;

/// Everything that can go wrong reading inputs, building profiles or comparing.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// The file could not be opened or read.
    #[error("{file}: {source}")]
    Io {
        /// File path as given.
        file: String,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid Parquet / CSV / Arrow IPC.
    #[error("{file}: not a readable {format} file: {message}")]
    Corrupt {
        /// File path as given.
        file: String,
        /// Format we tried to read.
        format: String,
        /// Reader's message.
        message: String,
    },
    /// A requested column is absent.
    #[error("{file}: column `{column}` not found (columns: {available})")]
    MissingColumn {
        /// File path or source label.
        file: String,
        /// Requested column.
        column: String,
        /// Comma-separated list of available columns.
        available: String,
    },
    /// The column's Arrow type is neither numeric nor categorical.
    #[error("{file}: column `{column}` has unsupported type {data_type}")]
    UnsupportedType {
        /// File path or source label.
        file: String,
        /// Column name.
        column: String,
        /// Arrow data type, as text.
        data_type: String,
    },
    /// Reference and current disagree on the column's kind.
    #[error("{file}: column `{column}` is {current} but the reference has it as {reference}")]
    TypeMismatch {
        /// File (or source) of the current data.
        file: String,
        /// Column name.
        column: String,
        /// Kind in the reference / profile.
        reference: FeatureKind,
        /// Kind found in the current data.
        current: FeatureKind,
    },
    /// The column has no rows.
    #[error("{file}: column `{column}` is empty (0 rows)")]
    EmptyColumn {
        /// File path or source label.
        file: String,
        /// Column name.
        column: String,
    },
    /// Every value of the column is null or NaN.
    #[error("{file}: column `{column}` has only missing values ({rows} rows)")]
    AllMissing {
        /// File path or source label.
        file: String,
        /// Column name.
        column: String,
        /// Number of rows.
        rows: u64,
    },
    /// Too many distinct categories to profile (likely an id column).
    #[error("{file}: column `{column}` has more than {limit} distinct categories")]
    TooManyCategories {
        /// File path or source label.
        file: String,
        /// Column name.
        column: String,
        /// Configured limit.
        limit: usize,
    },
    /// Two profiles cannot be merged (different features, kinds or edges).
    #[error("profiles cannot be merged: {0}")]
    Incompatible(String),
    /// Invalid configuration or argument.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A profile JSON document could not be parsed.
    #[error("{file}: not a valid profile: {message}")]
    BadProfile {
        /// File path or source label.
        file: String,
        /// Parser message.
        message: String,
    },
}
