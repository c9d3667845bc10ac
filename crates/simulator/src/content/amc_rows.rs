//! Amazon Marketing Cloud result files: CSV with a header line of the workflow's output
//! columns, then rows of typed values — strings of the dimensions, whole numbers of
//! `LONG` metrics, decimals of `DOUBLE` ones. When the workflow names a filtered-metrics
//! column, every seventh row is one AMC filtered for privacy: the column says `true` and
//! the metrics are empty.

use super::{ContentChunks, SplitMix64};

/// What one AMC result file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AmcPart {
    /// The output columns, in order, each with its data type (STRING, LONG, DOUBLE).
    pub columns: Vec<(String, &'static str)>,
    /// The column AMC marks on privacy-filtered rows, when the workflow names one.
    pub filtered_column: Option<String>,
}

impl AmcPart {
    /// Whether row `row` is one AMC filtered.
    pub(crate) fn filtered(&self, row: u64) -> bool {
        self.filtered_column.is_some() && row % 7 == 6
    }
}

impl ContentChunks {
    /// The header line of an AMC result file.
    pub(super) fn amc_header(part: &AmcPart) -> String {
        let mut header = part
            .columns
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(",");
        header.push('\n');
        header
    }

    /// Row `row` of an AMC result file, with its newline.
    pub(super) fn amc_row(part: &AmcPart, row: u64, rng: &mut SplitMix64) -> String {
        let filtered = part.filtered(row);
        let fields: Vec<String> = part
            .columns
            .iter()
            .map(|(name, data_type)| {
                if part.filtered_column.as_deref() == Some(name.as_str()) {
                    return filtered.to_string();
                }
                match *data_type {
                    _ if filtered && *data_type != "STRING" => String::new(),
                    "LONG" => rng.below(100_000).to_string(),
                    "DOUBLE" => format!("{:.2}", rng.below(1_000_000) as f64 / 100.0),
                    // A comma in a value makes the CSV quote it.
                    _ => format!("\"{name} {}, segment {}\"", row, rng.below(5)),
                }
            })
            .collect();
        let mut line = fields.join(",");
        line.push('\n');
        line
    }
}
