//! The Curate step's core: a raw report (UTF-8, as Store wrote it) read once, as a
//! stream, into typed Parquet files for each curated table its type fills
//! ([`domain::curated`]).
//!
//! A flat file is read line by line, JSON Lines (Data Kiosk) record by record; a JSON
//! report is walked with serde, one record of its row arrays at a time, so neither the
//! document nor a table is ever held whole:
//! memory is the row group being built ([`Limits`]). A report that does not fit its
//! schema stops with the [`SchemaMismatch`](domain::curated::SchemaMismatch) naming the
//! column; nothing half-written is handed on.

pub mod handler;
mod json_scan;
pub mod sink;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use domain::DocumentFormat;
use domain::curated::{Layout, SchemaMismatch, TableSchema, TsvColumns};
use serde::de::DeserializeSeed as _;
use serde_json::Value;

use crate::json_scan::{ScanError, Scanner};

pub use sink::{Limits, PartFile, RowGroupBuilder, TableWriter};

/// Why a report could not be curated.
#[derive(Debug, thiserror::Error)]
pub enum CurateError {
    /// The report does not fit its table.
    #[error("{0}")]
    Schema(#[from] SchemaMismatch),
    /// The raw object is not a well-formed document of its format.
    #[error("the raw object is not a well-formed {format} document: {problem}")]
    Malformed {
        /// tsv or json.
        format: &'static str,
        /// What is wrong, where.
        problem: String,
    },
    /// Reading the raw object or writing a file failed.
    #[error("reading or writing: {0}")]
    Io(#[from] std::io::Error),
    /// The Parquet writer refused.
    #[error("writing Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// A bug: the table and its cells disagree.
    #[error("{0}")]
    Internal(String),
}

/// What one table got from the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Curated {
    /// The table.
    pub table: String,
    /// Rows written.
    pub rows: u64,
    /// The files, in order.
    pub files: Vec<PartFile>,
    /// Fields of the report no column names (kept in `extra_fields`), for the summary.
    pub extra_fields: BTreeSet<String>,
}

/// Input handed to a worker at a time.
const BLOCK_BYTES: usize = 1 << 20;
/// Most threads turning text into rows (each holds a row group per table).
const MAX_WORKERS: usize = 4;

/// Work for the threads that turn text into rows.
enum Block {
    /// Whole lines of a flat file.
    Lines(Vec<u8>),
    /// Whole lines of a JSON Lines document, a record each.
    JsonLines(Vec<u8>),
    /// Whole lines of a CSV (the files of one result each repeat the header).
    CsvLines(Vec<u8>),
    /// Records of one table's array, record `i` ending at `ends[i]`.
    Records {
        target: usize,
        spec: Arc<Value>,
        bytes: Vec<u8>,
        ends: Vec<usize>,
    },
}

/// What a worker gathered for a table.
#[derive(Default, Clone)]
struct Gathered {
    rows: u64,
    extra_fields: BTreeSet<String>,
}

/// Reads the raw report `input` of `format` into Parquet files for each of `tables`,
/// under `dir/<table>/`.
///
/// This thread reads and cuts the input into blocks of whole lines or records; worker
/// threads (one per core, at most [`MAX_WORKERS`]) parse them into row groups, and each
/// table's writer thread encodes and writes those. Rows keep their order within a
/// block, not across blocks: a partition is a set of rows.
pub fn curate(
    mut input: impl BufRead,
    format: DocumentFormat,
    tables: &[&TableSchema],
    dir: &Path,
    limits: Limits,
) -> Result<Vec<Curated>, CurateError> {
    // Per table: rows and extra fields, the header's first, then each worker's.
    let mut totals = vec![Gathered::default(); tables.len()];
    // A flat file's header is mapped here, once, before any worker starts.
    let mut csv_header = None;
    let tsv_columns = match format {
        DocumentFormat::Tsv | DocumentFormat::Csv => match header(&mut input, format)? {
            Some((line, header)) => {
                csv_header = (format == DocumentFormat::Csv).then_some(line);
                let header: Vec<&str> = header.iter().map(String::as_str).collect();
                let mut mapped = Vec::new();
                for (table, total) in tables.iter().zip(&mut totals) {
                    let columns = table.tsv_columns(&header)?;
                    total
                        .extra_fields
                        .extend(columns.extra_headers().into_iter().map(str::to_owned));
                    mapped.push(columns);
                }
                Some(mapped)
            }
            // An empty document: no header to check, and no block will come.
            None => None,
        },
        _ => None,
    };
    let writers = tables
        .iter()
        .map(|table| TableWriter::new(table, &dir.join(&table.name), limits))
        .collect::<Result<Vec<_>, _>>()?;
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_WORKERS);
    let stop = AtomicBool::new(false);
    let (to_workers, blocks) = sync_channel::<Block>(workers);
    let blocks = Mutex::new(blocks);
    let (read, gathered) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let header = csv_header.as_deref();
                    work(
                        &blocks,
                        tables,
                        &writers,
                        tsv_columns.as_deref(),
                        header,
                        &stop,
                    )
                })
            })
            .collect();
        let read = match format {
            DocumentFormat::Tsv => line_blocks(input, &to_workers, &stop, Block::Lines),
            DocumentFormat::Jsonl => line_blocks(input, &to_workers, &stop, Block::JsonLines),
            DocumentFormat::Json => json_blocks(input, tables, &to_workers, &stop),
            DocumentFormat::Csv => line_blocks(input, &to_workers, &stop, Block::CsvLines),
        };
        drop(to_workers);
        let gathered: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(CurateError::Internal("a parsing thread panicked".into()))
                })
            })
            .collect();
        (read, gathered)
    });
    let files: Vec<_> = writers.into_iter().map(TableWriter::finish).collect();
    let mut errors: Vec<CurateError> = read.err().into_iter().collect();
    for worker in gathered {
        match worker {
            Ok(per_table) => {
                for (total, got) in totals.iter_mut().zip(per_table) {
                    total.rows += got.rows;
                    total.extra_fields.extend(got.extra_fields);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    let mut curated = Vec::new();
    for ((table, files), total) in tables.iter().zip(files).zip(totals) {
        match files {
            Ok(files) => curated.push(Curated {
                table: table.name.clone(),
                rows: total.rows,
                files,
                extra_fields: total.extra_fields,
            }),
            Err(e) => errors.push(e),
        }
    }
    // The most telling reason first: a report that does not fit, a broken document,
    // then reading or writing, then the knock-on "a thread stopped".
    errors.sort_by_key(|e| match e {
        CurateError::Schema(_) => 0,
        CurateError::Malformed { .. } => 1,
        CurateError::Io(_) | CurateError::Parquet(_) => 2,
        CurateError::Internal(_) => 3,
    });
    match errors.into_iter().next() {
        Some(error) => Err(error),
        None => Ok(curated),
    }
}

/// The header line of a flat file (TSV) or a CSV, and its field names.
fn header(
    input: &mut impl BufRead,
    format: DocumentFormat,
) -> Result<Option<(String, Vec<String>)>, CurateError> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let line = line.trim_end_matches(['\n', '\r']).to_owned();
    let names = match format {
        DocumentFormat::Csv => domain::csv::fields(&line)
            .map_err(|problem| CurateError::Malformed {
                format: "csv",
                problem: format!("the header: {problem}"),
            })?
            .into_iter()
            .map(Cow::into_owned)
            .collect(),
        _ => line.split('\t').map(str::to_owned).collect(),
    };
    Ok(Some((line, names)))
}

/// Cuts a document of lines (flat file, JSON Lines) into blocks of whole lines for the
/// workers.
fn line_blocks(
    mut input: impl BufRead,
    to_workers: &SyncSender<Block>,
    stop: &AtomicBool,
    block_of: fn(Vec<u8>) -> Block,
) -> Result<(), CurateError> {
    loop {
        let mut block = Vec::with_capacity(BLOCK_BYTES + 4096);
        while block.len() < BLOCK_BYTES {
            let available = input.fill_buf()?;
            if available.is_empty() {
                break;
            }
            let n = available.len().min(BLOCK_BYTES - block.len());
            block.extend_from_slice(&available[..n]);
            input.consume(n);
        }
        if block.is_empty() {
            return Ok(());
        }
        if !block.ends_with(b"\n") {
            input.read_until(b'\n', &mut block)?;
        }
        if stop.load(Ordering::Relaxed) || to_workers.send(block_of(block)).is_err() {
            return Ok(());
        }
    }
}

/// Walks the root object: `reportSpecification` is kept, each array a table reads is
/// cut into blocks of records for the workers, everything else is stepped over.
fn json_blocks(
    input: impl BufRead,
    tables: &[&TableSchema],
    to_workers: &SyncSender<Block>,
    stop: &AtomicBool,
) -> Result<(), CurateError> {
    let mut doc = Scanner::new(input);
    let parse = |e: serde_json::Error| CurateError::Malformed {
        format: "json",
        problem: e.to_string(),
    };
    let mut spec = Arc::new(Value::Null);
    doc.punct(b"{")?;
    if doc.peek()? == Some(b'}') {
        doc.punct(b"}")?;
        return Ok(doc.end()?);
    }
    loop {
        let key = doc.value(true)?;
        let key: String = serde_json::from_slice(doc.bytes(key)).map_err(parse)?;
        doc.punct(b":")?;
        // The catalog gives each array of a report to one table at most.
        let wanted = tables
            .iter()
            .position(|t| matches!(&t.layout, Layout::Json { array } if *array == key));
        if key == "reportSpecification" {
            let value = doc.value(true)?;
            spec = Arc::new(serde_json::from_slice(doc.bytes(value)).map_err(parse)?);
        } else if let Some(target) = wanted {
            if !record_blocks(&mut doc, target, &spec, to_workers, stop)? {
                return Ok(());
            }
        } else {
            doc.value(false)?;
        }
        if doc.punct(b",}")? == b'}' {
            return Ok(doc.end()?);
        }
    }
}

/// One array's records, in blocks; false when the workers stopped.
fn record_blocks(
    doc: &mut Scanner<impl BufRead>,
    target: usize,
    spec: &Arc<Value>,
    to_workers: &SyncSender<Block>,
    stop: &AtomicBool,
) -> Result<bool, CurateError> {
    doc.punct(b"[")?;
    if doc.peek()? == Some(b']') {
        doc.punct(b"]")?;
        return Ok(true);
    }
    let (mut bytes, mut ends) = (Vec::with_capacity(BLOCK_BYTES + 4096), Vec::new());
    loop {
        let record = doc.value(true)?;
        bytes.extend_from_slice(doc.bytes(record));
        ends.push(bytes.len());
        let last = doc.punct(b",]")? == b']';
        if bytes.len() >= BLOCK_BYTES || last {
            let block = Block::Records {
                target,
                spec: spec.clone(),
                bytes: std::mem::replace(&mut bytes, Vec::with_capacity(BLOCK_BYTES + 4096)),
                ends: std::mem::take(&mut ends),
            };
            if stop.load(Ordering::Relaxed) || to_workers.send(block).is_err() {
                return Ok(false);
            }
        }
        if last {
            return Ok(true);
        }
    }
}

/// A worker: blocks in, rows into its own row group per table, until the input ends.
/// After a failure it keeps taking blocks (and drops them) so the reader never waits
/// on it.
fn work(
    blocks: &Mutex<Receiver<Block>>,
    tables: &[&TableSchema],
    writers: &[TableWriter],
    tsv_columns: Option<&[TsvColumns]>,
    csv_header: Option<&str>,
    stop: &AtomicBool,
) -> Result<Vec<Gathered>, CurateError> {
    let _drain = DrainOnPanic { blocks, stop };
    let mut builders: Vec<RowGroupBuilder> = writers.iter().map(TableWriter::builder).collect();
    let mut gathered = vec![Gathered::default(); tables.len()];
    let mut failure = None;
    loop {
        let Ok(block) = receive(blocks) else { break };
        if failure.is_some() {
            continue;
        }
        let done = match block {
            Block::Lines(bytes) => lines(&bytes, tables, tsv_columns, &mut builders, &mut gathered),
            Block::JsonLines(bytes) => json_lines(&bytes, tables, &mut builders, &mut gathered),
            Block::CsvLines(bytes) => csv_lines(
                &bytes,
                tables,
                tsv_columns,
                csv_header,
                &mut builders,
                &mut gathered,
            ),
            Block::Records {
                target,
                spec,
                bytes,
                ends,
            } => records(
                tables[target],
                &spec,
                &bytes,
                &ends,
                &mut builders[target],
                &mut gathered[target],
            ),
        };
        if let Err(e) = done {
            stop.store(true, Ordering::Relaxed);
            failure = Some(e);
        }
    }
    if let Some(failure) = failure {
        return Err(failure);
    }
    for builder in builders {
        builder.finish()?;
    }
    Ok(gathered)
}

/// The next block; a lock another worker poisoned by panicking is still usable (the
/// receiver holds no invariant of ours).
fn receive(blocks: &Mutex<Receiver<Block>>) -> Result<Block, std::sync::mpsc::RecvError> {
    blocks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .recv()
}

/// A worker that panics goes on taking blocks, as a failed one does, so the reader never
/// waits forever on a full channel; the panic is reported when the worker is joined.
struct DrainOnPanic<'a> {
    blocks: &'a Mutex<Receiver<Block>>,
    stop: &'a AtomicBool,
}

impl Drop for DrainOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.stop.store(true, Ordering::Relaxed);
            while receive(self.blocks).is_ok() {}
        }
    }
}

fn lines(
    bytes: &[u8],
    tables: &[&TableSchema],
    tsv_columns: Option<&[TsvColumns]>,
    builders: &mut [RowGroupBuilder],
    gathered: &mut [Gathered],
) -> Result<(), CurateError> {
    let columns =
        tsv_columns.ok_or_else(|| CurateError::Internal("lines without a header".into()))?;
    let text = std::str::from_utf8(bytes).map_err(|e| CurateError::Malformed {
        format: "tsv",
        problem: format!("not UTF-8: {e}"),
    })?;
    let mut fields = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        fields.clear();
        fields.extend(line.split('\t'));
        push_to_tables(tables, columns, builders, gathered, &fields)?;
    }
    Ok(())
}

/// One flat-file or CSV row (its fields) into each table's row group.
fn push_to_tables(
    tables: &[&TableSchema],
    columns: &[TsvColumns],
    builders: &mut [RowGroupBuilder],
    gathered: &mut [Gathered],
    fields: &[&str],
) -> Result<(), CurateError> {
    for (((table, mapped), builder), got) in tables
        .iter()
        .zip(columns)
        .zip(builders.iter_mut())
        .zip(gathered.iter_mut())
    {
        builder.push(table.tsv_row(mapped, fields)?)?;
        got.rows += 1;
    }
    Ok(())
}

/// Each CSV line a row of every table, mapped by the header's names like a flat file's;
/// a line equal to the header (the next file of the result) is not a row.
fn csv_lines(
    bytes: &[u8],
    tables: &[&TableSchema],
    tsv_columns: Option<&[TsvColumns]>,
    csv_header: Option<&str>,
    builders: &mut [RowGroupBuilder],
    gathered: &mut [Gathered],
) -> Result<(), CurateError> {
    let columns =
        tsv_columns.ok_or_else(|| CurateError::Internal("lines without a header".into()))?;
    let text = std::str::from_utf8(bytes).map_err(|e| CurateError::Malformed {
        format: "csv",
        problem: format!("not UTF-8: {e}"),
    })?;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || Some(line) == csv_header {
            continue;
        }
        let owned = domain::csv::fields(line).map_err(|problem| CurateError::Malformed {
            format: "csv",
            problem,
        })?;
        let fields: Vec<&str> = owned.iter().map(|f| f.as_ref()).collect();
        push_to_tables(tables, columns, builders, gathered, &fields)?;
    }
    Ok(())
}

/// Each line a record of every table (a Data Kiosk query fills one).
fn json_lines(
    bytes: &[u8],
    tables: &[&TableSchema],
    builders: &mut [RowGroupBuilder],
    gathered: &mut [Gathered],
) -> Result<(), CurateError> {
    // JSON Lines carry no reportSpecification.
    let readers = tables
        .iter()
        .map(|table| table.json_records(&Value::Null))
        .collect::<Result<Vec<_>, _>>()?;
    let text = std::str::from_utf8(bytes).map_err(|e| CurateError::Malformed {
        format: "jsonl",
        problem: format!("not UTF-8: {e}"),
    })?;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        for (((table, reader), builder), got) in tables
            .iter()
            .zip(&readers)
            .zip(builders.iter_mut())
            .zip(gathered.iter_mut())
        {
            push_record(table, reader, line, "jsonl", builder, got)?;
        }
    }
    Ok(())
}

/// One JSON record (`text`) of `table` read into a row of `builder`.
fn push_record(
    table: &TableSchema,
    reader: &domain::curated::JsonRecords<'_>,
    text: &str,
    format: &'static str,
    builder: &mut RowGroupBuilder,
    got: &mut Gathered,
) -> Result<(), CurateError> {
    let mut parser = serde_json::Deserializer::from_str(text);
    let row = reader
        .deserialize(&mut parser)
        .map_err(|e| CurateError::Malformed {
            format,
            problem: format!("a record of {}: {e}", table.name),
        })??;
    got.extra_fields.extend(row.extra_fields);
    builder.push(row.cells)?;
    got.rows += 1;
    Ok(())
}

fn records(
    table: &TableSchema,
    spec: &Value,
    bytes: &[u8],
    ends: &[usize],
    builder: &mut RowGroupBuilder,
    got: &mut Gathered,
) -> Result<(), CurateError> {
    let reader = table.json_records(spec)?;
    // Checked once for the block, so the parser need not check each string again.
    let text = std::str::from_utf8(bytes).map_err(|e| CurateError::Malformed {
        format: "json",
        problem: format!("not UTF-8: {e}"),
    })?;
    let mut start = 0;
    for &end in ends {
        push_record(table, &reader, &text[start..end], "json", builder, got)?;
        start = end;
    }
    Ok(())
}

impl From<ScanError> for CurateError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Io(e) => CurateError::Io(e),
            ScanError::Malformed(problem) => CurateError::Malformed {
                format: "json",
                problem,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use domain::curated::CuratedCatalog;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::{Field, Row};

    use super::*;

    const ORDERS: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";
    const US: &str = "ATVPDKIKX0DER";
    const JP: &str = "A1VC38T7YXB528";

    /// A fresh folder for one test's files.
    fn scratch() -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sp-ingest-transform-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn document(report_type: &str, marketplace: &str, rows: u64) -> String {
        let start = "2026-11-28T00:00:00Z".parse().unwrap();
        let end = "2026-11-29T00:00:00Z".parse().unwrap();
        let options = simulator::typical_options(report_type);
        simulator::report_text(report_type, &options, marketplace, (start, end), rows)
    }

    fn run(report_type: &str, text: &str, limits: Limits) -> Result<Vec<Curated>, CurateError> {
        let tables = CuratedCatalog::builtin().tables_for(report_type);
        let format = if report_type == ORDERS {
            DocumentFormat::Tsv
        } else {
            DocumentFormat::Json
        };
        curate(text.as_bytes(), format, &tables, &scratch(), limits)
    }

    fn rows_of(files: &[PartFile]) -> Vec<Row> {
        files
            .iter()
            .flat_map(|file| {
                let reader =
                    SerializedFileReader::new(std::fs::File::open(&file.path).unwrap()).unwrap();
                reader
                    .get_row_iter(None)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn field<'r>(row: &'r Row, name: &str) -> &'r Field {
        row.get_column_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    fn minor_units(field: &Field) -> i64 {
        match field {
            Field::Decimal(d) => i64::from_be_bytes(d.data().try_into().unwrap()),
            Field::Null => 0,
            other => panic!("not a decimal: {other:?}"),
        }
    }

    #[test]
    fn every_curated_report_type_as_the_simulator_serves_it_fills_its_tables() {
        for report_type in [
            ORDERS,
            "GET_SALES_AND_TRAFFIC_REPORT",
            "GET_VENDOR_SALES_REPORT",
            "GET_VENDOR_TRAFFIC_REPORT",
            "GET_VENDOR_INVENTORY_REPORT",
            "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT",
        ] {
            let text = document(report_type, US, 40);
            let curated = run(report_type, &text, Limits::default())
                .unwrap_or_else(|e| panic!("{report_type}: {e}"));
            let parsed: Option<Value> = serde_json::from_str(&text).ok();
            for (table, out) in CuratedCatalog::builtin()
                .tables_for(report_type)
                .iter()
                .zip(&curated)
            {
                // The rows the document has for the table: lines, or its array's records.
                let expected = match (&table.layout, &parsed) {
                    (Layout::Tsv, _) => text.lines().count() as u64 - 1,
                    (Layout::Json { array }, Some(doc)) => {
                        doc[array].as_array().map_or(0, |a| a.len() as u64)
                    }
                    (Layout::Json { .. }, None) => panic!("{report_type} is not JSON"),
                    (Layout::Jsonl { .. } | Layout::Csv, _) => {
                        panic!("{report_type} is an SP-API report")
                    }
                };
                assert!(
                    expected > 0,
                    "{report_type}: the simulator served no {} rows",
                    table.name
                );
                assert_eq!(out.rows, expected, "{report_type} → {}", table.name);
                assert_eq!(rows_of(&out.files).len() as u64, expected, "{}", table.name);
                assert!(
                    out.extra_fields.is_empty(),
                    "{}: fields no column names: {:?}",
                    table.name,
                    out.extra_fields
                );
            }
        }
    }

    #[test]
    fn an_amc_result_in_files_fills_its_workflow_table_typed_from_its_output_columns() {
        let columns: Vec<(String, String)> = [
            ("campaign", "STRING"),
            ("impressions", "LONG"),
            ("avg_cost", "DOUBLE"),
            ("filtered", "BOOLEAN"),
        ]
        .map(|(n, t)| (n.to_owned(), t.to_owned()))
        .to_vec();
        let table = domain::curated::TableSchema::amc("campaign_reach", &columns);
        assert_eq!(table.name, "amc_campaign_reach");
        // Two files, each with its header; quoted values hold commas and quotes.
        let text = "campaign,impressions,avg_cost,filtered\n\"Spring, \"\"sale\"\"\",120,1.25,false\nBrand,,,true\ncampaign,impressions,avg_cost,filtered\nFall,7,0.5,false\n";
        let curated = curate(
            text.as_bytes(),
            DocumentFormat::Csv,
            &[&table],
            &scratch(),
            Limits::default(),
        )
        .unwrap();
        assert_eq!(curated[0].rows, 3, "the second header is not a row");
        let rows = rows_of(&curated[0].files);
        let column = |row: &Row, name: &str| {
            row.get_column_iter()
                .find(|(n, _)| *n == name)
                .map(|(_, f)| f.clone())
                .unwrap()
        };
        let campaigns: Vec<Field> = rows.iter().map(|r| column(r, "campaign")).collect();
        assert!(
            campaigns.contains(&Field::Str("Spring, \"sale\"".into())),
            "{campaigns:?}"
        );
        let spring = rows
            .iter()
            .find(|r| column(r, "campaign") == Field::Str("Spring, \"sale\"".into()))
            .unwrap();
        assert_eq!(column(spring, "impressions"), Field::Long(120));
        assert_eq!(column(spring, "avg_cost"), Field::Double(1.25));
        assert_eq!(column(spring, "filtered"), Field::Bool(false));
        let filtered = rows
            .iter()
            .find(|r| column(r, "filtered") == Field::Bool(true))
            .unwrap();
        assert_eq!(
            column(filtered, "impressions"),
            Field::Null,
            "a filtered row's metrics are empty"
        );
        assert!(matches!(
            curate(
                "a,b\n\"x,1\n".as_bytes(),
                DocumentFormat::Csv,
                &[&table],
                &scratch(),
                Limits::default()
            ),
            Err(CurateError::Malformed { format: "csv", .. })
        ));
    }

    #[test]
    fn data_kiosk_pages_fill_the_table_of_their_query_with_the_selected_fields() {
        use domain::data_kiosk::QuerySpec;
        let spec: QuerySpec = serde_json::from_value(serde_json::json!({
            "query": "salesAndTrafficByAsin",
            "arguments": {"aggregateBy": "CHILD"},
            "fields": ["startDate", "childAsin", "sales.orderedProductSales.amount",
                       "sales.orderedProductSales.currencyCode", "sales.unitsOrdered", "traffic.sessions"]
        }))
        .unwrap();
        let day = "2026-11-28".parse().unwrap();
        let query = spec
            .build(
                "analytics_salesAndTraffic_2024_04_24",
                (day, day),
                &[US.to_owned()],
            )
            .unwrap();
        // Two pages, as Curate reads them: one after the other.
        let text = simulator::query_document(&query.text, 0, 30).unwrap()
            + &simulator::query_document(&query.text, 1, 30).unwrap();
        let request = domain::ReportRequest {
            account: "a".into(),
            selling_partner_id: "A1".into(),
            source: domain::Source::new("data-kiosk"),
            report_type: "analytics_salesAndTraffic_2024_04_24".into(),
            marketplace_ids: vec![US.into()],
            window: domain::DataWindow::new(
                "2026-11-28T00:00:00Z".parse().unwrap(),
                "2026-11-29T00:00:00Z".parse().unwrap(),
            )
            .unwrap(),
            options: Default::default(),
            query: Some(spec),
            ads: None,
            amc: None,
        };
        let tables = CuratedCatalog::builtin().tables_for_request(&request);
        let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["dk_sales_traffic_by_asin"]);
        let curated = curate(
            text.as_bytes(),
            DocumentFormat::Jsonl,
            &tables,
            &scratch(),
            Limits::default(),
        )
        .unwrap();
        assert_eq!(curated[0].rows, 60);
        assert!(
            curated[0].extra_fields.is_empty(),
            "{:?}",
            curated[0].extra_fields
        );
        let rows = rows_of(&curated[0].files);
        assert_eq!(rows.len(), 60);
        let column = |row: &Row, name: &str| {
            row.get_column_iter()
                .find(|(n, _)| *n == name)
                .map(|(_, f)| f.clone())
                .unwrap()
        };
        let first = &rows[0];
        assert!(matches!(column(first, "start_date"), Field::Date(_)));
        assert!(matches!(column(first, "child_asin"), Field::Str(ref s) if s.starts_with('B')));
        assert!(
            matches!(column(first, "sales_ordered_product_sales_currency"), Field::Str(ref s) if s == "USD")
        );
        assert!(matches!(column(first, "traffic_sessions"), Field::Long(_)));
        assert_eq!(
            column(first, "traffic_page_views"),
            Field::Null,
            "not selected: null"
        );
    }

    #[test]
    fn rows_counts_and_amounts_survive_many_blocks_row_groups_and_files() {
        // Several input blocks, so several threads gather rows.
        const ROWS: u64 = 12_000;
        let text = document(ORDERS, JP, ROWS);
        let (mut quantity, mut price) = (0i64, 0i64);
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let product_names: Vec<String> = lines
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                quantity += fields[at("quantity")].parse::<i64>().unwrap();
                price += fields[at("item-price")].parse::<i64>().unwrap_or(0);
                fields[at("product-name")].to_owned()
            })
            .collect();
        let small = Limits {
            row_group_bytes: 16 << 10,
            file_bytes: 32 << 10,
        };
        let curated = run(ORDERS, &text, small).unwrap();
        let orders = &curated[0];
        assert!(orders.files.len() > 1, "{} file(s)", orders.files.len());
        assert!(text.len() > 2 * BLOCK_BYTES, "{} bytes", text.len());
        assert_eq!(orders.files.iter().map(|f| f.rows).sum::<u64>(), ROWS);
        let rows = rows_of(&orders.files);
        assert_eq!(rows.len() as u64, ROWS);
        let sum = |name: &str, value: fn(&Field) -> i64| {
            rows.iter().map(|r| value(field(r, name))).sum::<i64>()
        };
        assert_eq!(
            sum("quantity", |f| match f {
                Field::Long(v) => *v,
                _ => 0,
            }),
            quantity
        );
        // Yen amounts are whole: scaled by 10^4 in the decimal column.
        assert_eq!(sum("item_price", minor_units), price * 10_000);
        // Rows keep their order within a block, not across blocks: compare as sets.
        let mut names: Vec<String> = rows
            .iter()
            .map(|r| match field(r, "product_name") {
                Field::Str(name) => name.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        let mut product_names = product_names;
        names.sort_unstable();
        product_names.sort_unstable();
        assert_eq!(names, product_names);
        assert!(
            names.iter().any(|n| !n.is_ascii()),
            "Japanese product names survive"
        );
    }

    #[test]
    fn json_records_in_many_blocks_all_land_once() {
        const ROWS: u64 = 4_000;
        let text = document("GET_SALES_AND_TRAFFIC_REPORT", US, ROWS);
        assert!(text.len() > 2 * BLOCK_BYTES, "{} bytes", text.len());
        let parsed: Value = serde_json::from_str(&text).unwrap();
        let units: i64 = parsed["salesAndTrafficByAsin"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["salesByAsin"]["unitsOrdered"].as_i64().unwrap())
            .sum();
        let curated = run("GET_SALES_AND_TRAFFIC_REPORT", &text, Limits::default()).unwrap();
        let by_asin = curated
            .iter()
            .find(|c| c.table == "sales_traffic_by_asin")
            .unwrap();
        assert_eq!(by_asin.rows, ROWS);
        let rows = rows_of(&by_asin.files);
        assert_eq!(rows.len() as u64, ROWS);
        let got: i64 = rows
            .iter()
            .map(|r| match field(r, "units_ordered") {
                Field::Long(v) => *v,
                other => panic!("{other:?}"),
            })
            .sum();
        assert_eq!(got, units);
    }

    #[test]
    fn a_bad_record_deep_in_a_large_document_stops_every_thread_and_is_named() {
        let text = document("GET_SALES_AND_TRAFFIC_REPORT", US, 4_000);
        let at = text.rfind("\"sessions\"").unwrap();
        let broken = format!(
            "{}\"sessionz\"{}",
            &text[..at],
            &text[at + "\"sessions\"".len()..]
        );
        match run("GET_SALES_AND_TRAFFIC_REPORT", &broken, Limits::default()) {
            Err(CurateError::Schema(mismatch)) => {
                assert_eq!(mismatch.column, "sessions", "{mismatch}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_report_without_a_required_column_is_refused_naming_it() {
        let text = document(ORDERS, US, 5);
        let without_sku: String = text
            .lines()
            .map(|line| {
                let mut fields: Vec<&str> = line.split('\t').collect();
                fields.remove(11);
                fields.join("\t") + "\n"
            })
            .collect();
        match run(ORDERS, &without_sku, Limits::default()) {
            Err(CurateError::Schema(mismatch)) => {
                assert_eq!(
                    (mismatch.table.as_str(), mismatch.column.as_str()),
                    ("orders", "sku")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bad_value_deep_in_a_json_report_names_its_column_and_a_cut_document_is_malformed() {
        let text = document("GET_SALES_AND_TRAFFIC_REPORT", US, 20);
        let bad = text.replacen("\"unitsOrdered\":", "\"unitsOrdered\":\"many\",\"was\":", 1);
        match run("GET_SALES_AND_TRAFFIC_REPORT", &bad, Limits::default()) {
            Err(CurateError::Schema(mismatch)) => assert_eq!(mismatch.column, "units_ordered"),
            other => panic!("{other:?}"),
        }
        let cut = &text[..text.len() / 2];
        let result = run("GET_SALES_AND_TRAFFIC_REPORT", cut, Limits::default());
        assert!(
            matches!(result, Err(CurateError::Malformed { format: "json", .. })),
            "{result:?}"
        );
    }
}
