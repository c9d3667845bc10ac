//! The Curate core on a local file, for `make bench` (bench/curate.py), which runs it
//! beside pyarrow on the same file and reads its peak RSS from the OS.
//!
//! ```text
//! bench_curate generate REPORT_TYPE MB FILE   # a simulator document of about MB x 10^6 bytes
//! bench_curate curate REPORT_TYPE FILE DIR    # FILE -> Parquet under DIR/<table>/, as the Lambda does
//! ```
//! `curate` prints one JSON line: rows per table, input bytes, output bytes and seconds.

use std::error::Error;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use domain::DocumentFormat;
use domain::curated::CuratedCatalog;
use transform::{Limits, curate};

const MARKETPLACE: &str = "ATVPDKIKX0DER";
const WINDOW: (&str, &str) = ("2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z");

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["generate", report_type, megabytes, file] => {
            generate(report_type, megabytes.parse()?, Path::new(file))
        }
        ["curate", report_type, file, dir] => run(report_type, Path::new(file), Path::new(dir)),
        _ => Err(
            "usage: bench_curate generate REPORT_TYPE MB FILE | curate REPORT_TYPE FILE DIR".into(),
        ),
    }
}

fn chunks(report_type: &str, rows: u64) -> impl Iterator<Item = String> {
    let window = (WINDOW.0.parse().unwrap(), WINDOW.1.parse().unwrap());
    let options = simulator::typical_options(report_type);
    simulator::report_chunks(report_type, &options, MARKETPLACE, window, rows)
}

/// Writes a document of about `megabytes`, sizing the row count from a 2,000-row sample.
fn generate(report_type: &str, megabytes: u64, file: &Path) -> Result<(), Box<dyn Error>> {
    const SAMPLE: u64 = 2_000;
    let sample: usize = chunks(report_type, SAMPLE).map(|c| c.len()).sum();
    let rows = (megabytes * 1_000_000 * SAMPLE / sample as u64).max(1);
    let mut out = BufWriter::new(File::create(file)?);
    let mut bytes = 0;
    for chunk in chunks(report_type, rows) {
        bytes += chunk.len();
        out.write_all(chunk.as_bytes())?;
    }
    out.flush()?;
    println!("{{\"rows\": {rows}, \"bytes\": {bytes}}}");
    Ok(())
}

fn run(report_type: &str, file: &Path, dir: &Path) -> Result<(), Box<dyn Error>> {
    let catalog = CuratedCatalog::builtin();
    let tables = catalog.tables_for(report_type);
    if tables.is_empty() {
        return Err(format!("{report_type} has no curated table").into());
    }
    let format = if report_type.starts_with("GET_FLAT_FILE") {
        DocumentFormat::Tsv
    } else {
        DocumentFormat::Json
    };
    let bytes_in = std::fs::metadata(file)?.len();
    let started = Instant::now();
    let input = BufReader::with_capacity(1 << 20, File::open(file)?);
    let curated = curate(input, format, &tables, dir, Limits::default())?;
    let seconds = started.elapsed().as_secs_f64();
    let rows: Vec<String> = curated
        .iter()
        .map(|c| format!("\"{}\": {}", c.table, c.rows))
        .collect();
    let bytes_out: u64 = curated.iter().flat_map(|c| &c.files).map(|f| f.bytes).sum();
    println!(
        "{{\"rows\": {{{}}}, \"bytes_in\": {bytes_in}, \"bytes_out\": {bytes_out}, \"seconds\": {seconds:.3}}}",
        rows.join(", ")
    );
    Ok(())
}
