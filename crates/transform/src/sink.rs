//! One curated table's rows into Parquet files: cells are buffered per column for one
//! row group (bounded by [`Limits::row_group_bytes`]), written with zstd, and a file is
//! closed once it passes [`Limits::file_bytes`] — so memory follows the row groups in
//! flight, never the report.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use bytes::Bytes;
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
    /// 32 MiB row groups (uncompressed; a few MB in zstd) in files of up to ~128 MB, which Athena splits
    /// and prunes well.
    fn default() -> Self {
        Limits {
            row_group_bytes: 32 << 20,
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

/// One column's values for the row group being built. Text is kept as one byte buffer
/// with end offsets, not a value per string: a row costs no allocation per field.
enum Values {
    Bytes { data: Vec<u8>, ends: Vec<usize> },
    Int64(Vec<i64>),
    Int32(Vec<i32>),
    Double(Vec<f64>),
    Bool(Vec<bool>),
}

/// A column's values with definition levels (0 = null).
struct Buffer {
    values: Values,
    levels: Vec<i16>,
}

impl Buffer {
    fn empty(kind: Kind) -> Buffer {
        Buffer {
            values: match kind {
                Kind::Text => Values::Bytes {
                    data: Vec::new(),
                    ends: Vec::new(),
                },
                Kind::Int64 | Kind::Decimal | Kind::Timestamp => Values::Int64(Vec::new()),
                Kind::Date => Values::Int32(Vec::new()),
                Kind::Float64 => Values::Double(Vec::new()),
                Kind::Boolean => Values::Bool(Vec::new()),
            },
            levels: Vec::new(),
        }
    }
}

/// A full row group on its way to the writing thread.
struct RowGroup {
    columns: Vec<Buffer>,
    rows: u64,
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

/// Writes one table's row groups as Parquet files under a folder, on a thread of its
/// own: [`RowGroupBuilder`]s (one per thread gathering rows) hand it full groups, so
/// gathering and encoding overlap. The channel is a rendezvous: a builder waits while
/// the writer is busy, which bounds memory to one group per builder plus the one being
/// written.
pub struct TableWriter {
    table: TableSchema,
    limits: Limits,
    to_writer: SyncSender<RowGroup>,
    thread: JoinHandle<Result<Vec<PartFile>, CurateError>>,
}

/// Gathers one table's rows, column by column, into row groups for a [`TableWriter`].
pub struct RowGroupBuilder {
    table_name: String,
    kinds: Vec<Kind>,
    limits: Limits,
    building: Vec<Buffer>,
    buffered_rows: u64,
    buffered_bytes: usize,
    to_writer: SyncSender<RowGroup>,
}

/// The writing thread's side: files, row groups, the Parquet writer.
struct Files {
    schema: Arc<Type>,
    properties: Arc<WriterProperties>,
    dir: PathBuf,
    file_bytes: u64,
    open: Option<OpenFile>,
    done: Vec<PartFile>,
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

impl TableWriter {
    /// A writer of `table`'s files into `dir` (created if missing).
    pub fn new(
        table: &TableSchema,
        dir: &Path,
        limits: Limits,
    ) -> Result<TableWriter, CurateError> {
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
        let files = Files {
            schema: Arc::new(schema),
            properties: Arc::new(properties),
            dir: dir.to_owned(),
            file_bytes: limits.file_bytes,
            open: None,
            done: Vec::new(),
        };
        let (to_writer, groups) = sync_channel::<RowGroup>(0);
        let thread = std::thread::Builder::new()
            .name(format!("parquet-{}", table.name))
            .spawn(move || files.write_all(groups))?;
        Ok(TableWriter {
            table: table.clone(),
            limits,
            to_writer,
            thread,
        })
    }

    /// A builder feeding this writer.
    pub fn builder(&self) -> RowGroupBuilder {
        let kinds: Vec<Kind> = self.table.columns.iter().map(|c| c.kind).collect();
        RowGroupBuilder {
            table_name: self.table.name.clone(),
            building: kinds.iter().map(|k| Buffer::empty(*k)).collect(),
            kinds,
            limits: self.limits,
            buffered_rows: 0,
            buffered_bytes: 0,
            to_writer: self.to_writer.clone(),
        }
    }

    /// Waits for the last group (every builder must be finished or dropped) and closes
    /// the last file; returns every file written, in order.
    pub fn finish(self) -> Result<Vec<PartFile>, CurateError> {
        drop(self.to_writer);
        self.thread
            .join()
            .map_err(|_| CurateError::Internal("the Parquet writer panicked".into()))?
    }
}

impl RowGroupBuilder {
    /// Adds one row (cells in table order).
    pub fn push(&mut self, cells: Vec<Cell<'_>>) -> Result<(), CurateError> {
        if cells.len() != self.building.len() {
            return Err(CurateError::Internal(format!(
                "{} cells for the {} columns of {}",
                cells.len(),
                self.building.len(),
                self.table_name
            )));
        }
        for (cell, buffer) in cells.into_iter().zip(&mut self.building) {
            let mut size = 8;
            let stored = match (cell, &mut buffer.values) {
                (Cell::Null, _) => false,
                (Cell::Text(text), Values::Bytes { data, ends }) => {
                    size += text.len();
                    data.extend_from_slice(text.as_bytes());
                    ends.push(data.len());
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
                        self.table_name
                    )));
                }
            };
            buffer.levels.push(i16::from(stored));
            self.buffered_bytes += size;
        }
        self.buffered_rows += 1;
        if self.buffered_bytes >= self.limits.row_group_bytes {
            self.hand_over()?;
        }
        Ok(())
    }

    /// Sends the group being built to the writer.
    fn hand_over(&mut self) -> Result<(), CurateError> {
        if self.buffered_rows == 0 {
            return Ok(());
        }
        let fresh = self.kinds.iter().map(|k| Buffer::empty(*k)).collect();
        let group = RowGroup {
            columns: std::mem::replace(&mut self.building, fresh),
            rows: std::mem::take(&mut self.buffered_rows),
        };
        self.buffered_bytes = 0;
        self.to_writer.send(group).map_err(|_| {
            // The writer stopped; `TableWriter::finish` has its reason.
            CurateError::Internal(format!("the Parquet writer of {} stopped", self.table_name))
        })
    }

    /// Hands over what is buffered.
    pub fn finish(mut self) -> Result<(), CurateError> {
        self.hand_over()
    }
}

impl Files {
    fn write_all(mut self, groups: Receiver<RowGroup>) -> Result<Vec<PartFile>, CurateError> {
        for group in groups {
            self.write_row_group(group)?;
        }
        self.close_file()?;
        Ok(self.done)
    }

    fn write_row_group(&mut self, group: RowGroup) -> Result<(), CurateError> {
        if self.open.is_none() {
            let path = self
                .dir
                .join(format!("part-{:05}.parquet", self.done.len()));
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
        let mut writer = open.writer.next_row_group()?;
        for buffer in group.columns {
            let mut column = writer.next_column()?.ok_or_else(|| {
                CurateError::Internal("fewer Parquet columns than table columns".into())
            })?;
            let levels = Some(&buffer.levels[..]);
            match buffer.values {
                Values::Bytes { data, ends } => {
                    // One shared buffer; each value is a slice of it, not a copy.
                    let data = Bytes::from(data);
                    let mut start = 0;
                    let values: Vec<ByteArray> = ends
                        .iter()
                        .map(|&end| {
                            let value = ByteArray::from(data.slice(start..end));
                            start = end;
                            value
                        })
                        .collect();
                    column
                        .typed::<ByteArrayType>()
                        .write_batch(&values, levels, None)?;
                }
                Values::Int64(v) => {
                    column.typed::<Int64Type>().write_batch(&v, levels, None)?;
                }
                Values::Int32(v) => {
                    column.typed::<Int32Type>().write_batch(&v, levels, None)?;
                }
                Values::Double(v) => {
                    column.typed::<DoubleType>().write_batch(&v, levels, None)?;
                }
                Values::Bool(v) => {
                    column.typed::<BoolType>().write_batch(&v, levels, None)?;
                }
            }
            column.close()?;
        }
        writer.close()?;
        open.rows += group.rows;
        if open.written.load(Ordering::Relaxed) >= self.file_bytes {
            self.close_file()?;
        }
        Ok(())
    }

    fn close_file(&mut self) -> Result<(), CurateError> {
        if let Some(open) = self.open.take() {
            let mut out = open.writer.into_inner()?;
            out.flush()?;
            self.done.push(PartFile {
                bytes: open.written.load(Ordering::Relaxed),
                path: open.path,
                rows: open.rows,
            });
        }
        Ok(())
    }
}
