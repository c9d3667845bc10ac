//! One curated table's rows into Parquet files: cells are buffered per column for one
//! row group (bounded by [`Limits::row_group_bytes`]), written with zstd, and a file is
//! closed once it passes [`Limits::file_bytes`] — so memory follows the row group, never
//! the report.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use domain::curated::{Cell, Kind, MONEY_PRECISION, MONEY_SCALE, TableSchema};
use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical, ZstdLevel};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use crate::CurateError;

/// How big row groups and files get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Buffered cell bytes (roughly) before a row group is written.
    pub row_group_bytes: usize,
    /// Bytes after which a file is closed and the next rows go to a new one.
    pub file_bytes: u64,
}

impl Default for Limits {
    /// 64 MiB row groups (uncompressed) in files of up to ~128 MB, which Athena splits
    /// and prunes well.
    fn default() -> Self {
        Limits {
            row_group_bytes: 64 << 20,
            file_bytes: 128 << 20,
        }
    }
}

/// A Parquet file written for a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its rows.
    pub rows: u64,
    /// Its size.
    pub bytes: u64,
}

/// One column's values for the row group being built, with definition levels (0 = null).
enum Values {
    Bytes(Vec<ByteArray>),
    Int64(Vec<i64>),
    Int32(Vec<i32>),
    Double(Vec<f64>),
    Bool(Vec<bool>),
}

struct Buffer {
    values: Values,
    levels: Vec<i16>,
}

/// Counts what goes through, so a file's size is known while it is written.
struct Counting<W> {
    inner: W,
    written: Arc<AtomicU64>,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

struct OpenFile {
    writer: SerializedFileWriter<Counting<BufWriter<File>>>,
    written: Arc<AtomicU64>,
    path: PathBuf,
    rows: u64,
}

/// Writes one table's rows as Parquet files under a folder.
pub struct TableSink {
    table: TableSchema,
    schema: Arc<Type>,
    properties: Arc<WriterProperties>,
    dir: PathBuf,
    limits: Limits,
    buffers: Vec<Buffer>,
    buffered_rows: u64,
    buffered_bytes: usize,
    open: Option<OpenFile>,
    files: Vec<PartFile>,
}

fn field(name: &str, kind: Kind) -> Result<Type, parquet::errors::ParquetError> {
    let (physical, logical) = match kind {
        Kind::Text => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
        Kind::Int64 => (Physical::INT64, None),
        Kind::Float64 => (Physical::DOUBLE, None),
        Kind::Decimal => (
            Physical::INT64,
            Some(LogicalType::decimal(
                MONEY_SCALE as i32,
                MONEY_PRECISION as i32,
            )),
        ),
        Kind::Date => (Physical::INT32, Some(LogicalType::Date)),
        Kind::Timestamp => (
            Physical::INT64,
            Some(LogicalType::timestamp(true, TimeUnit::MICROS)),
        ),
        Kind::Boolean => (Physical::BOOLEAN, None),
    };
    let mut builder = Type::primitive_type_builder(name, physical)
        .with_repetition(Repetition::OPTIONAL)
        .with_logical_type(logical);
    if kind == Kind::Decimal {
        builder = builder
            .with_precision(MONEY_PRECISION as i32)
            .with_scale(MONEY_SCALE as i32);
    }
    builder.build()
}

impl TableSink {
    /// A sink writing `table`'s files into `dir` (created if missing).
    pub fn new(table: &TableSchema, dir: &Path, limits: Limits) -> Result<TableSink, CurateError> {
        std::fs::create_dir_all(dir)?;
        let fields = table
            .columns
            .iter()
            .map(|c| field(&c.name, c.kind).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let schema = Type::group_type_builder("schema")
            .with_fields(fields)
            .build()?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
            .set_created_by("sp-ingest transform".into())
            .build();
        let buffers = table
            .columns
            .iter()
            .map(|c| Buffer {
                values: match c.kind {
                    Kind::Text => Values::Bytes(Vec::new()),
                    Kind::Int64 | Kind::Decimal | Kind::Timestamp => Values::Int64(Vec::new()),
                    Kind::Date => Values::Int32(Vec::new()),
                    Kind::Float64 => Values::Double(Vec::new()),
                    Kind::Boolean => Values::Bool(Vec::new()),
                },
                levels: Vec::new(),
            })
            .collect();
        Ok(TableSink {
            table: table.clone(),
            schema: Arc::new(schema),
            properties: Arc::new(properties),
            dir: dir.to_owned(),
            limits,
            buffers,
            buffered_rows: 0,
            buffered_bytes: 0,
            open: None,
            files: Vec::new(),
        })
    }

    /// Adds one row (cells in table order).
    pub fn push(&mut self, cells: Vec<Cell>) -> Result<(), CurateError> {
        if cells.len() != self.buffers.len() {
            return Err(CurateError::Internal(format!(
                "{} cells for the {} columns of {}",
                cells.len(),
                self.buffers.len(),
                self.table.name
            )));
        }
        for (cell, buffer) in cells.into_iter().zip(&mut self.buffers) {
            let mut size = 8;
            let stored = match (cell, &mut buffer.values) {
                (Cell::Null, _) => false,
                (Cell::Text(text), Values::Bytes(values)) => {
                    size += text.len();
                    values.push(ByteArray::from(text.into_bytes()));
                    true
                }
                (Cell::Int(v) | Cell::Decimal(v) | Cell::Timestamp(v), Values::Int64(values)) => {
                    values.push(v);
                    true
                }
                (Cell::Date(v), Values::Int32(values)) => {
                    values.push(v);
                    true
                }
                (Cell::Float(v), Values::Double(values)) => {
                    values.push(v);
                    true
                }
                (Cell::Bool(v), Values::Bool(values)) => {
                    values.push(v);
                    true
                }
                (cell, _) => {
                    return Err(CurateError::Internal(format!(
                        "a {cell:?} for a column of another type in {}",
                        self.table.name
                    )));
                }
            };
            buffer.levels.push(i16::from(stored));
            self.buffered_bytes += size;
        }
        self.buffered_rows += 1;
        if self.buffered_bytes >= self.limits.row_group_bytes {
            self.write_row_group()?;
        }
        Ok(())
    }

    fn write_row_group(&mut self) -> Result<(), CurateError> {
        if self.buffered_rows == 0 {
            return Ok(());
        }
        if self.open.is_none() {
            let path = self
                .dir
                .join(format!("part-{:05}.parquet", self.files.len()));
            let written = Arc::new(AtomicU64::new(0));
            let out = Counting {
                inner: BufWriter::new(File::create(&path)?),
                written: written.clone(),
            };
            let writer =
                SerializedFileWriter::new(out, self.schema.clone(), self.properties.clone())?;
            self.open = Some(OpenFile {
                writer,
                written,
                path,
                rows: 0,
            });
        }
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        let mut group = open.writer.next_row_group()?;
        for buffer in &mut self.buffers {
            let mut column = group.next_column()?.ok_or_else(|| {
                CurateError::Internal("fewer Parquet columns than table columns".into())
            })?;
            let levels = std::mem::take(&mut buffer.levels);
            match &mut buffer.values {
                Values::Bytes(v) => {
                    column.typed::<ByteArrayType>().write_batch(
                        &std::mem::take(v),
                        Some(&levels),
                        None,
                    )?;
                }
                Values::Int64(v) => {
                    column.typed::<Int64Type>().write_batch(
                        &std::mem::take(v),
                        Some(&levels),
                        None,
                    )?;
                }
                Values::Int32(v) => {
                    column.typed::<Int32Type>().write_batch(
                        &std::mem::take(v),
                        Some(&levels),
                        None,
                    )?;
                }
                Values::Double(v) => {
                    column.typed::<DoubleType>().write_batch(
                        &std::mem::take(v),
                        Some(&levels),
                        None,
                    )?;
                }
                Values::Bool(v) => {
                    column.typed::<BoolType>().write_batch(
                        &std::mem::take(v),
                        Some(&levels),
                        None,
                    )?;
                }
            }
            column.close()?;
        }
        group.close()?;
        open.rows += self.buffered_rows;
        self.buffered_rows = 0;
        self.buffered_bytes = 0;
        if open.written.load(Ordering::Relaxed) >= self.limits.file_bytes {
            self.close_file()?;
        }
        Ok(())
    }

    fn close_file(&mut self) -> Result<(), CurateError> {
        if let Some(open) = self.open.take() {
            let mut out = open.writer.into_inner()?;
            out.flush()?;
            self.files.push(PartFile {
                bytes: open.written.load(Ordering::Relaxed),
                path: open.path,
                rows: open.rows,
            });
        }
        Ok(())
    }

    /// Writes what is buffered and closes the last file; returns every file written.
    pub fn finish(mut self) -> Result<Vec<PartFile>, CurateError> {
        self.write_row_group()?;
        self.close_file()?;
        Ok(self.files)
    }
}
