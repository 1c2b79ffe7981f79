//! Readers: Parquet, CSV and Arrow IPC (file and stream), streamed in record batches.
//!
//! Only the requested columns are decoded (Parquet and IPC projections, CSV projection), and
//! batches are handed to a callback one at a time, so memory stays bounded by one batch (plus a
//! Parquet row group's pages) whatever the file size.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, Schema, SchemaRef};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{DriftError, Result};

/// Rows per batch read from files.
pub const DEFAULT_BATCH_SIZE: usize = 8192;

/// Anything that can stream record batches: files or in-memory batches.
pub trait BatchSource: Sync {
    /// Name used in error messages (file path or a label).
    fn label(&self) -> String;
    /// Arrow schema of the data.
    fn schema(&self) -> Result<SchemaRef>;
    /// Number of independent parts the data can be scanned in (Parquet row groups); ≥ 1.
    fn parts(&self) -> usize {
        1
    }
    /// Stream the batches of part `part` of `parts` (each part read by at most one thread),
    /// projected to `columns`.
    fn scan_part(
        &self,
        columns: &[String],
        part: usize,
        parts: usize,
        f: &mut dyn FnMut(&RecordBatch) -> Result<()>,
    ) -> Result<()>;
    /// Stream all batches projected to `columns`.
    fn scan(
        &self,
        columns: &[String],
        f: &mut dyn FnMut(&RecordBatch) -> Result<()>,
    ) -> Result<()> {
        self.scan_part(columns, 0, 1, f)
    }
}

/// Record batches already in memory (callers inside tradai).
#[derive(Debug, Clone)]
pub struct MemorySource {
    /// Label for error messages.
    pub label: String,
    /// Schema shared by the batches.
    pub schema: SchemaRef,
    /// The batches.
    pub batches: Vec<RecordBatch>,
}

impl MemorySource {
    /// Wrap batches; errors if there are none (the schema would be unknown).
    pub fn new(label: impl Into<String>, batches: Vec<RecordBatch>) -> Result<Self> {
        let label = label.into();
        let schema = batches
            .first()
            .map(RecordBatch::schema)
            .ok_or_else(|| DriftError::Config(format!("{label}: no record batches")))?;
        Ok(Self {
            label,
            schema,
            batches,
        })
    }
}

impl BatchSource for MemorySource {
    fn label(&self) -> String {
        self.label.clone()
    }
    fn schema(&self) -> Result<SchemaRef> {
        Ok(self.schema.clone())
    }
    fn parts(&self) -> usize {
        self.batches.len().max(1)
    }
    fn scan_part(
        &self,
        _columns: &[String],
        part: usize,
        parts: usize,
        f: &mut dyn FnMut(&RecordBatch) -> Result<()>,
    ) -> Result<()> {
        for (i, b) in self.batches.iter().enumerate() {
            if i % parts.max(1) == part {
                f(b)?;
            }
        }
        Ok(())
    }
}

/// Supported file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values with a header row (types inferred from the first 1000 rows).
    Csv,
    /// Arrow IPC file (Feather v2).
    ArrowFile,
    /// Arrow IPC stream.
    ArrowStream,
}

impl std::fmt::Display for DataFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DataFormat::Parquet => "Parquet",
            DataFormat::Csv => "CSV",
            DataFormat::ArrowFile => "Arrow IPC file",
            DataFormat::ArrowStream => "Arrow IPC stream",
        })
    }
}

/// A data file on disk, read lazily.
#[derive(Debug, Clone)]
pub struct DataFile {
    path: PathBuf,
    format: DataFormat,
    batch_size: usize,
    schema: SchemaRef,
    row_groups: usize,
}

impl DataFile {
    /// Open a file, detecting the format from its extension or, failing that, its first bytes.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let format = detect_format(&path)?;
        Self::open_as(path, format)
    }

    /// Open a file with a known format.
    pub fn open_as(path: impl AsRef<Path>, format: DataFormat) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut df = Self {
            path,
            format,
            batch_size: DEFAULT_BATCH_SIZE,
            schema: Arc::new(Schema::empty()),
            row_groups: 1,
        };
        let (schema, row_groups) = df.read_schema()?;
        df.schema = schema;
        df.row_groups = row_groups;
        Ok(df)
    }

    /// Change the batch size (rows).
    pub fn with_batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows.max(1);
        self
    }

    /// Detected format.
    pub fn format(&self) -> DataFormat {
        self.format
    }

    fn label_str(&self) -> String {
        self.path.display().to_string()
    }

    fn file(&self) -> Result<File> {
        File::open(&self.path).map_err(|source| DriftError::Io {
            file: self.label_str(),
            source,
        })
    }

    fn corrupt(&self, e: impl std::fmt::Display) -> DriftError {
        DriftError::Corrupt {
            file: self.label_str(),
            format: self.format.to_string(),
            message: e.to_string(),
        }
    }

    fn read_schema(&self) -> Result<(SchemaRef, usize)> {
        let file = self.file()?;
        match self.format {
            DataFormat::Parquet => {
                let b =
                    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| self.corrupt(e))?;
                Ok((b.schema().clone(), b.metadata().num_row_groups()))
            }
            DataFormat::Csv => Ok((self.csv_schema(file)?, 1)),
            DataFormat::ArrowFile => {
                let r = arrow_ipc::reader::FileReader::try_new(BufReader::new(file), None)
                    .map_err(|e| self.corrupt(e))?;
                Ok((r.schema(), 1))
            }
            DataFormat::ArrowStream => {
                let r = arrow_ipc::reader::StreamReader::try_new(BufReader::new(file), None)
                    .map_err(|e| self.corrupt(e))?;
                Ok((r.schema(), 1))
            }
        }
    }

    fn csv_schema(&self, file: File) -> Result<SchemaRef> {
        let fmt = arrow_csv::reader::Format::default().with_header(true);
        let (schema, _) = fmt
            .infer_schema(BufReader::new(file), Some(1000))
            .map_err(|e| self.corrupt(e))?;
        Ok(Arc::new(schema))
    }

    fn projection(&self, columns: &[String]) -> Result<Vec<usize>> {
        columns
            .iter()
            .map(|c| {
                self.schema
                    .index_of(c)
                    .map_err(|_| DriftError::MissingColumn {
                        file: self.label_str(),
                        column: c.clone(),
                        available: column_list(&self.schema),
                    })
            })
            .collect()
    }

    fn drive<I>(&self, iter: I, f: &mut dyn FnMut(&RecordBatch) -> Result<()>) -> Result<()>
    where
        I: Iterator<Item = std::result::Result<RecordBatch, ArrowError>>,
    {
        for batch in iter {
            let batch = batch.map_err(|e| self.corrupt(e))?;
            f(&batch)?;
        }
        Ok(())
    }
}

/// Comma-separated column names of a schema (for error messages).
pub fn column_list(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl BatchSource for DataFile {
    fn label(&self) -> String {
        self.label_str()
    }

    fn schema(&self) -> Result<SchemaRef> {
        Ok(self.schema.clone())
    }

    fn parts(&self) -> usize {
        match self.format {
            DataFormat::Parquet => self.row_groups.max(1),
            _ => 1,
        }
    }

    fn scan_part(
        &self,
        columns: &[String],
        part: usize,
        parts: usize,
        f: &mut dyn FnMut(&RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let mut projection = self.projection(columns)?;
        projection.sort_unstable();
        projection.dedup();
        let parts = parts.max(1);
        let file = self.file()?;
        match self.format {
            DataFormat::Parquet => {
                let b =
                    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| self.corrupt(e))?;
                let groups: Vec<usize> = (0..b.metadata().num_row_groups())
                    .filter(|g| g % parts == part)
                    .collect();
                if groups.is_empty() {
                    return Ok(());
                }
                let mask = ProjectionMask::roots(b.parquet_schema(), projection);
                let reader = b
                    .with_projection(mask)
                    .with_row_groups(groups)
                    .with_batch_size(self.batch_size)
                    .build()
                    .map_err(|e| self.corrupt(e))?;
                self.drive(reader, f)
            }
            _ if part != 0 => Ok(()),
            DataFormat::Csv => {
                let reader = arrow_csv::ReaderBuilder::new(self.schema.clone())
                    .with_header(true)
                    .with_batch_size(self.batch_size)
                    .with_projection(projection)
                    .build(BufReader::new(file))
                    .map_err(|e| self.corrupt(e))?;
                self.drive(reader, f)
            }
            DataFormat::ArrowFile => {
                let reader =
                    arrow_ipc::reader::FileReader::try_new(BufReader::new(file), Some(projection))
                        .map_err(|e| self.corrupt(e))?;
                self.drive(reader, f)
            }
            DataFormat::ArrowStream => {
                let reader = arrow_ipc::reader::StreamReader::try_new(
                    BufReader::new(file),
                    Some(projection),
                )
                .map_err(|e| self.corrupt(e))?;
                self.drive(reader, f)
            }
        }
    }
}

fn detect_format(path: &Path) -> Result<DataFormat> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("parquet" | "pq") => return Ok(DataFormat::Parquet),
        Some("csv") => return Ok(DataFormat::Csv),
        Some("arrow" | "feather" | "ipc") => return Ok(DataFormat::ArrowFile),
        Some("arrows") => return Ok(DataFormat::ArrowStream),
        _ => {}
    }
    // Sniff magic bytes.
    let label = path.display().to_string();
    let mut file = File::open(path).map_err(|source| DriftError::Io {
        file: label.clone(),
        source,
    })?;
    let mut head = [0u8; 8];
    let n = read_up_to(&mut file, &mut head).map_err(|source| DriftError::Io {
        file: label.clone(),
        source,
    })?;
    let _ = file.seek(SeekFrom::Start(0));
    let head = &head[..n];
    Ok(if head.starts_with(b"PAR1") {
        DataFormat::Parquet
    } else if head.starts_with(b"ARROW1") {
        DataFormat::ArrowFile
    } else if head.starts_with(&[0xff, 0xff, 0xff, 0xff]) {
        DataFormat::ArrowStream
    } else {
        DataFormat::Csv
    })
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
