//! Loading and writing candle files.
//!
//! Loaders keep the file's row order and values as they are (no sorting, no dropping of bad
//! rows): judging the data is [`crate::check`]'s job, and it can only report what it sees. A value
//! that cannot be parsed at all is an error naming the file, line/row and column. Empty numeric
//! cells and JSON `null` become NaN so that the check reports them instead of the loader failing.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::error::MarketError;
use crate::types::{Candle, DataFormat};

const COLUMNS: [&str; 6] = ["date", "open", "high", "low", "close", "volume"];

/// Load candles from `path`, choosing the reader by extension (`.json`, `.feather`/`.arrow`,
/// `.parquet`, `.csv`; CSV files are sniffed for the Binance kline layout).
pub fn load_candles(path: &Path) -> Result<Vec<Candle>, MarketError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    match DataFormat::from_extension(ext) {
        Some(DataFormat::Json) => load_freqtrade_json(path),
        Some(DataFormat::Feather) => load_feather(path),
        Some(DataFormat::Parquet) => load_parquet(path),
        Some(DataFormat::Csv) => load_csv(path),
        None => Err(MarketError::format(
            path,
            format!("unknown extension {ext:?}: expected .json, .feather, .parquet or .csv"),
        )),
    }
}

/// Write candles in `format` to `path`, atomically (a temporary file renamed into place), so a
/// reader never sees half a file.
pub fn write_candles(
    path: &Path,
    format: DataFormat,
    candles: &[Candle],
) -> Result<(), MarketError> {
    let tmp = tmp_path(path);
    let res = match format {
        DataFormat::Json => write_json_to(&tmp, candles),
        DataFormat::Feather => write_feather_to(&tmp, candles),
        DataFormat::Parquet => write_parquet_to(&tmp, candles),
        DataFormat::Csv => write_csv_to(&tmp, candles),
    };
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| MarketError::io(path, e))
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

// ---------------------------------------------------------------- timestamps

/// Interpret an integer epoch by magnitude: seconds, milliseconds, microseconds or nanoseconds.
///
/// Binance switched its spot kline dumps from ms to µs in 2025; the magnitudes do not overlap for
/// any date between 1973 and 5000, so the guess is safe for market data.
pub fn epoch_to_datetime(v: i64) -> Option<DateTime<Utc>> {
    let a = v.unsigned_abs();
    if a < 100_000_000_000 {
        DateTime::from_timestamp(v, 0)
    } else if a < 100_000_000_000_000 {
        DateTime::from_timestamp_millis(v)
    } else if a < 100_000_000_000_000_000 {
        DateTime::from_timestamp_micros(v)
    } else {
        Some(DateTime::from_timestamp_nanos(v))
    }
}

/// Parse a timestamp cell: an integer epoch (see [`epoch_to_datetime`]), RFC 3339
/// (`2024-01-01T00:00:00Z`), `2024-01-01 00:00:00[+00:00]` (pandas), or a bare date.
/// Values without an offset are taken as UTC.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let int_part = s.strip_suffix(".0").unwrap_or(s);
    if !int_part.is_empty()
        && int_part.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && let Ok(v) = int_part.parse::<i64>()
    {
        return epoch_to_datetime(v);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Some(dt.with_timezone(&Utc));
        }
    }
    let naive = s.strip_suffix(" UTC").unwrap_or(s);
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(Utc.from_utc_datetime(&dt));
        }
    }
    NaiveDate::parse_from_str(naive, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| Utc.from_utc_datetime(&dt))
}

// ---------------------------------------------------------------- CSV

/// Which CSV layout a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvLayout {
    /// `date,open,high,low,close,volume` (header optional; header columns may be in any order).
    Generic,
    /// Binance kline dump: 12 columns, open time first (ms, or µs in newer dumps), header optional.
    Binance,
}

/// Load a CSV file, detecting the Binance kline layout (12 columns or an `open_time` header).
pub fn load_csv(path: &Path) -> Result<Vec<Candle>, MarketError> {
    let file = File::open(path).map_err(|e| MarketError::io(path, e))?;
    let mut first = String::new();
    BufReader::new(file)
        .read_line(&mut first)
        .map_err(|e| MarketError::io(path, e))?;
    let fields = split_csv(&first);
    let binance = fields.len() == 12
        || fields
            .first()
            .is_some_and(|f| f.eq_ignore_ascii_case("open_time"));
    load_csv_as(
        path,
        if binance {
            CsvLayout::Binance
        } else {
            CsvLayout::Generic
        },
    )
}

/// Load a CSV file in an explicit layout.
pub fn load_csv_as(path: &Path, layout: CsvLayout) -> Result<Vec<Candle>, MarketError> {
    let file = File::open(path).map_err(|e| MarketError::io(path, e))?;
    let reader = BufReader::new(file);
    // Column positions of date, open, high, low, close, volume and their names for messages.
    let mut idx: [usize; 6] = [0, 1, 2, 3, 4, 5];
    let mut names: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
    let mut min_fields = 6;
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let lineno = i + 1;
        let line = line.map_err(|e| MarketError::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_csv(&line);
        if lineno == 1 && is_header(&fields) {
            if layout == CsvLayout::Generic {
                idx = header_positions(path, &fields)?;
                names = idx.iter().map(|&j| fields[j].to_string()).collect();
                min_fields = idx.iter().max().map_or(6, |m| m + 1);
            } else {
                names = fields.iter().take(6).map(|f| f.to_string()).collect();
            }
            continue;
        }
        if fields.len() < min_fields {
            return Err(MarketError::parse(
                path,
                Some(lineno),
                None,
                format!(
                    "expected at least {min_fields} fields, found {}",
                    fields.len()
                ),
            ));
        }
        let ts = parse_timestamp(fields[idx[0]]).ok_or_else(|| {
            MarketError::parse(
                path,
                Some(lineno),
                Some(&names[0]),
                format!("not a timestamp: {:?}", fields[idx[0]]),
            )
        })?;
        let mut v = [0.0; 5];
        for k in 0..5 {
            let cell = fields[idx[k + 1]];
            v[k] = parse_number(cell).ok_or_else(|| {
                MarketError::parse(
                    path,
                    Some(lineno),
                    Some(&names[k + 1]),
                    format!("not a number: {cell:?}"),
                )
            })?;
        }
        out.push(Candle {
            ts,
            open: v[0],
            high: v[1],
            low: v[2],
            close: v[3],
            volume: v[4],
        });
    }
    Ok(out)
}

fn split_csv(line: &str) -> Vec<&str> {
    line.trim_end_matches(['\r', '\n'])
        .split(',')
        .map(|f| f.trim().trim_matches('"').trim())
        .collect()
}

fn is_header(fields: &[&str]) -> bool {
    fields.first().is_some_and(|f| {
        !f.is_empty()
            && f.chars()
                .all(|c| c.is_ascii_alphabetic() || c == '_' || c == ' ')
    })
}

fn header_positions(path: &Path, fields: &[&str]) -> Result<[usize; 6], MarketError> {
    let find = |names: &[&str]| {
        fields
            .iter()
            .position(|f| names.iter().any(|n| f.eq_ignore_ascii_case(n)))
    };
    let aliases: [&[&str]; 6] = [
        &["date", "timestamp", "time", "datetime", "open_time", "ts"],
        &["open", "o"],
        &["high", "h"],
        &["low", "l"],
        &["close", "c"],
        &["volume", "vol", "v"],
    ];
    let mut idx = [0; 6];
    for (k, names) in aliases.iter().enumerate() {
        idx[k] = find(names).ok_or_else(|| {
            MarketError::parse(path, Some(1), Some(COLUMNS[k]), "header has no such column")
        })?;
    }
    Ok(idx)
}

fn parse_number(cell: &str) -> Option<f64> {
    if cell.is_empty() || cell.eq_ignore_ascii_case("nan") || cell.eq_ignore_ascii_case("null") {
        return Some(f64::NAN);
    }
    cell.parse().ok()
}

fn write_csv_to(path: &Path, candles: &[Candle]) -> Result<(), MarketError> {
    let file = File::create(path).map_err(|e| MarketError::io(path, e))?;
    let mut w = BufWriter::new(file);
    let io = |e| MarketError::io(path, e);
    writeln!(w, "date,open,high,low,close,volume").map_err(io)?;
    for c in candles {
        writeln!(
            w,
            "{},{},{},{},{},{}",
            c.ts.format("%Y-%m-%dT%H:%M:%SZ"),
            c.open,
            c.high,
            c.low,
            c.close,
            c.volume
        )
        .map_err(io)?;
    }
    w.flush().map_err(io)
}

// ---------------------------------------------------------------- freqtrade JSON

/// Load freqtrade's JSON layout: an array of `[epoch_ms, open, high, low, close, volume]`.
pub fn load_freqtrade_json(path: &Path) -> Result<Vec<Candle>, MarketError> {
    let file = File::open(path).map_err(|e| MarketError::io(path, e))?;
    let rows: Vec<Vec<serde_json::Value>> =
        serde_json::from_reader(BufReader::new(file)).map_err(|e| {
            MarketError::parse(
                path,
                Some(e.line()),
                Some(&e.column().to_string()),
                format!("not a freqtrade candle array: {e}"),
            )
        })?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let rowno = i + 1;
        if row.len() < 6 {
            return Err(MarketError::parse(
                path,
                Some(rowno),
                None,
                format!("expected 6 values, found {}", row.len()),
            ));
        }
        let ts = match &row[0] {
            serde_json::Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .and_then(DateTime::from_timestamp_millis),
            serde_json::Value::String(s) => parse_timestamp(s),
            _ => None,
        }
        .ok_or_else(|| {
            MarketError::parse(
                path,
                Some(rowno),
                Some("date"),
                format!("not a timestamp: {}", row[0]),
            )
        })?;
        let mut v = [0.0; 5];
        for k in 0..5 {
            v[k] = match &row[k + 1] {
                serde_json::Value::Number(n) => n.as_f64(),
                serde_json::Value::Null => Some(f64::NAN),
                serde_json::Value::String(s) => parse_number(s.trim()),
                _ => None,
            }
            .ok_or_else(|| {
                MarketError::parse(
                    path,
                    Some(rowno),
                    Some(COLUMNS[k + 1]),
                    format!("not a number: {}", row[k + 1]),
                )
            })?;
        }
        out.push(Candle {
            ts,
            open: v[0],
            high: v[1],
            low: v[2],
            close: v[3],
            volume: v[4],
        });
    }
    Ok(out)
}

fn write_json_to(path: &Path, candles: &[Candle]) -> Result<(), MarketError> {
    let file = File::create(path).map_err(|e| MarketError::io(path, e))?;
    let mut w = BufWriter::new(file);
    let io = |e| MarketError::io(path, e);
    // serde_json cannot write NaN; freqtrade writes null for missing values, so do we.
    let num = |x: f64| {
        if x.is_finite() {
            x.to_string()
        } else {
            "null".to_string()
        }
    };
    w.write_all(b"[").map_err(io)?;
    for (i, c) in candles.iter().enumerate() {
        if i > 0 {
            w.write_all(b",").map_err(io)?;
        }
        write!(
            w,
            "[{},{},{},{},{},{}]",
            c.ts.timestamp_millis(),
            num(c.open),
            num(c.high),
            num(c.low),
            num(c.close),
            num(c.volume)
        )
        .map_err(io)?;
    }
    w.write_all(b"]").map_err(io)?;
    w.flush().map_err(io)
}

// ---------------------------------------------------------------- Arrow (feather, parquet)

fn candle_schema() -> Schema {
    Schema::new(vec![
        Field::new(
            "date",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("open", DataType::Float64, true),
        Field::new("high", DataType::Float64, true),
        Field::new("low", DataType::Float64, true),
        Field::new("close", DataType::Float64, true),
        Field::new("volume", DataType::Float64, true),
    ])
}

fn to_batch(path: &Path, candles: &[Candle]) -> Result<RecordBatch, MarketError> {
    let col = |f: fn(&Candle) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(candles.iter().map(f)))
    };
    let mut dates = Vec::with_capacity(candles.len());
    for c in candles {
        dates.push(c.ts.timestamp_nanos_opt().ok_or_else(|| {
            MarketError::format(path, format!("timestamp {} out of nanosecond range", c.ts))
        })?);
    }
    let date: ArrayRef = Arc::new(TimestampNanosecondArray::from(dates).with_timezone("UTC"));
    RecordBatch::try_new(
        Arc::new(candle_schema()),
        vec![
            date,
            col(|c| c.open),
            col(|c| c.high),
            col(|c| c.low),
            col(|c| c.close),
            col(|c| c.volume),
        ],
    )
    .map_err(|e| MarketError::format(path, e.to_string()))
}

/// Append the rows of one record batch; `row0` is the 1-based row number of its first row.
fn append_batch(
    path: &Path,
    batch: &RecordBatch,
    row0: usize,
    out: &mut Vec<Candle>,
) -> Result<(), MarketError> {
    let schema = batch.schema();
    let column = |name: &str| -> Result<&ArrayRef, MarketError> {
        let i = schema
            .fields()
            .iter()
            .position(|f| f.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| MarketError::format(path, format!("missing column {name:?}")))?;
        Ok(batch.column(i))
    };
    let date_col = column("date")?;
    let dates = timestamps(path, date_col, row0)?;
    let mut values: Vec<Vec<f64>> = Vec::with_capacity(5);
    for name in &COLUMNS[1..] {
        let arr = column(name)?;
        let f = arrow_cast::cast(arr, &DataType::Float64).map_err(|e| {
            MarketError::parse(path, None, Some(name), format!("cannot read as float: {e}"))
        })?;
        let f = f.as_primitive::<Float64Type>();
        values.push(
            (0..f.len())
                .map(|i| if f.is_null(i) { f64::NAN } else { f.value(i) })
                .collect(),
        );
    }
    for (i, ts) in dates.into_iter().enumerate() {
        out.push(Candle {
            ts,
            open: values[0][i],
            high: values[1][i],
            low: values[2][i],
            close: values[3][i],
            volume: values[4][i],
        });
    }
    Ok(())
}

fn timestamps(path: &Path, arr: &ArrayRef, row0: usize) -> Result<Vec<DateTime<Utc>>, MarketError> {
    let bad = |i: usize, what: String| MarketError::parse(path, Some(row0 + i), Some("date"), what);
    let n = arr.len();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if arr.is_null(i) {
            return Err(bad(i, "missing timestamp".into()));
        }
        let ts = match arr.data_type() {
            DataType::Timestamp(TimeUnit::Second, _) => {
                DateTime::from_timestamp(arr.as_primitive::<TimestampSecondType>().value(i), 0)
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => DateTime::from_timestamp_millis(
                arr.as_primitive::<TimestampMillisecondType>().value(i),
            ),
            DataType::Timestamp(TimeUnit::Microsecond, _) => DateTime::from_timestamp_micros(
                arr.as_primitive::<TimestampMicrosecondType>().value(i),
            ),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => Some(DateTime::from_timestamp_nanos(
                arr.as_primitive::<TimestampNanosecondType>().value(i),
            )),
            DataType::Int64 => epoch_to_datetime(arr.as_primitive::<Int64Type>().value(i)),
            DataType::Date64 => DateTime::from_timestamp_millis(
                arr.as_primitive::<arrow_array::types::Date64Type>()
                    .value(i),
            ),
            DataType::Utf8 => parse_timestamp(arr.as_string::<i32>().value(i)),
            DataType::LargeUtf8 => parse_timestamp(arr.as_string::<i64>().value(i)),
            other => {
                return Err(MarketError::parse(
                    path,
                    None,
                    Some("date"),
                    format!("unsupported type {other} (expected timestamp, int64 epoch or string)"),
                ));
            }
        };
        out.push(ts.ok_or_else(|| bad(i, "timestamp out of range".into()))?);
    }
    Ok(out)
}

/// Load freqtrade's feather layout: an Arrow IPC file with `date,open,high,low,close,volume`
/// (`date` a UTC timestamp of any unit; LZ4/ZSTD-compressed files are read too).
pub fn load_feather(path: &Path) -> Result<Vec<Candle>, MarketError> {
    let file = File::open(path).map_err(|e| MarketError::io(path, e))?;
    let reader = arrow_ipc::reader::FileReader::try_new_buffered(file, None).map_err(|e| {
        MarketError::format(path, format!("not an Arrow IPC (feather v2) file: {e}"))
    })?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| MarketError::format(path, e.to_string()))?;
        let row0 = out.len() + 1;
        append_batch(path, &batch, row0, &mut out)?;
    }
    Ok(out)
}

fn write_feather_to(path: &Path, candles: &[Candle]) -> Result<(), MarketError> {
    let batch = to_batch(path, candles)?;
    let file = File::create(path).map_err(|e| MarketError::io(path, e))?;
    let fmt = |e: arrow_schema::ArrowError| MarketError::format(path, e.to_string());
    // pandas/freqtrade write LZ4-compressed feather; do the same so files look alike.
    let opts = arrow_ipc::writer::IpcWriteOptions::default()
        .try_with_compression(Some(arrow_ipc::CompressionType::LZ4_FRAME))
        .map_err(fmt)?;
    let mut w = arrow_ipc::writer::FileWriter::try_new_with_options(
        BufWriter::new(file),
        &batch.schema(),
        opts,
    )
    .map_err(fmt)?;
    w.write(&batch).map_err(fmt)?;
    w.finish().map_err(fmt)
}

/// Load a Parquet file with `date,open,high,low,close,volume` columns.
pub fn load_parquet(path: &Path) -> Result<Vec<Candle>, MarketError> {
    let file = File::open(path).map_err(|e| MarketError::io(path, e))?;
    let fmt = |e: parquet::errors::ParquetError| MarketError::format(path, e.to_string());
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(fmt)?
        .build()
        .map_err(fmt)?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| MarketError::format(path, e.to_string()))?;
        let row0 = out.len() + 1;
        append_batch(path, &batch, row0, &mut out)?;
    }
    Ok(out)
}

fn write_parquet_to(path: &Path, candles: &[Candle]) -> Result<(), MarketError> {
    let batch = to_batch(path, candles)?;
    let file = File::create(path).map_err(|e| MarketError::io(path, e))?;
    let fmt = |e: parquet::errors::ParquetError| MarketError::format(path, e.to_string());
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).map_err(fmt)?;
    w.write(&batch).map_err(fmt)?;
    w.close().map_err(fmt)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Candle> {
        (0..5)
            .map(|i| Candle {
                ts: DateTime::from_timestamp(1_704_067_200 + i * 3600, 0).unwrap(),
                open: 100.0 + i as f64,
                high: 102.0 + i as f64,
                low: 99.0 + i as f64,
                close: 101.0 + i as f64,
                volume: 10.5 * (i + 1) as f64,
            })
            .collect()
    }

    #[test]
    fn round_trip_every_format() {
        let dir = tempfile::tempdir().unwrap();
        let c = sample();
        for f in [
            DataFormat::Json,
            DataFormat::Feather,
            DataFormat::Parquet,
            DataFormat::Csv,
        ] {
            let p = dir.path().join(format!("BTC_USDT-1h.{}", f.extension()));
            write_candles(&p, f, &c).unwrap();
            assert_eq!(load_candles(&p).unwrap(), c, "{f:?}");
        }
    }

    #[test]
    fn timestamps_in_every_spelling() {
        let want = DateTime::from_timestamp(1_704_067_200, 0).unwrap();
        for s in [
            "1704067200",
            "1704067200000",
            "1704067200000000",
            "1704067200000.0",
            "2024-01-01T00:00:00Z",
            "2024-01-01T01:00:00+01:00",
            "2024-01-01 00:00:00+00:00",
            "2024-01-01 00:00:00",
            "2024-01-01",
        ] {
            assert_eq!(parse_timestamp(s), Some(want), "{s}");
        }
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn binance_layout_ms_and_us() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("BTCUSDT-1h-2024-01.csv");
        std::fs::write(
            &p,
            "1704067200000,42283.58,42554.57,42261.02,42475.23,1271.68108,1704070799999,53957248.97,47134,682.57581,28957416.82,0\n\
             1704070800000000,42475.23,42775.00,42431.65,42613.56,1196.37856,1704074399999999,51036638.76,45321,580.48134,24759570.82,0\n",
        )
        .unwrap();
        let c = load_candles(&p).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].ts - c[0].ts, chrono::Duration::hours(1));
        assert_eq!(c[1].close, 42613.56);
        let with_header = dir.path().join("h.csv");
        std::fs::write(
            &with_header,
            "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n\
             1704067200000,1,2,0.5,1.5,10,1704070799999,1,1,1,1,0\n",
        )
        .unwrap();
        assert_eq!(load_candles(&with_header).unwrap()[0].volume, 10.0);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.csv");
        std::fs::write(&p, "date,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,10\n2024-01-02,1,2,abc,1.5,10\n")
            .unwrap();
        let msg = load_candles(&p).unwrap_err().to_string();
        assert!(msg.contains("bad.csv:3 column low"), "{msg}");
        let p = dir.path().join("bad.json");
        std::fs::write(
            &p,
            "[[1704067200000,1,2,0.5,1.5,10],[1704070800000,1,2,0.5]]",
        )
        .unwrap();
        let msg = load_candles(&p).unwrap_err().to_string();
        assert!(
            msg.contains("bad.json:2") && msg.contains("expected 6 values"),
            "{msg}"
        );
        let p = dir.path().join("bad.feather");
        std::fs::write(&p, "not arrow").unwrap();
        assert!(
            load_candles(&p)
                .unwrap_err()
                .to_string()
                .contains("bad.feather")
        );
        let p = dir.path().join("missing.json");
        assert!(
            load_candles(&p)
                .unwrap_err()
                .to_string()
                .contains("missing.json")
        );
    }

    #[test]
    fn generic_csv_header_any_order_and_nan() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(
            &p,
            "volume,close,low,high,open,date\n10,1.5,,2,1,2024-01-01T00:00:00Z\n",
        )
        .unwrap();
        let c = load_candles(&p).unwrap();
        assert_eq!(c[0].open, 1.0);
        assert_eq!(c[0].close, 1.5);
        assert!(c[0].low.is_nan());
    }
}
