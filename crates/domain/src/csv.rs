//! CSV lines as Amazon writes them (AMC results) and as users keep customer lists: fields
//! separated by commas, a field in double quotes may hold commas, `""` inside one is a
//! quote (RFC 4180, without line breaks inside a field).

use std::borrow::Cow;

/// The fields of one CSV line: separated by commas; a field in double quotes may hold
/// commas, and `""` inside it is one quote (RFC 4180; a field holds no line break).
pub fn fields(line: &str) -> Result<Vec<Cow<'_, str>>, String> {
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) if quoted[i + 1..].starts_with('"') => {
                        value.push('"');
                        chars.next();
                    }
                    Some((i, '"')) => break i + 1,
                    Some((_, c)) => value.push(c),
                    None => return Err("a quoted field is not closed".to_owned()),
                }
            };
            fields.push(Cow::Owned(value));
            rest = &quoted[end..];
            match rest.strip_prefix(',') {
                Some(next) => rest = next,
                None if rest.is_empty() => return Ok(fields),
                None => return Err(format!("text after a quoted field: `{rest}`")),
            }
        } else {
            match rest.split_once(',') {
                Some((field, next)) => {
                    fields.push(Cow::Borrowed(field));
                    rest = next;
                }
                None => {
                    fields.push(Cow::Borrowed(rest));
                    return Ok(fields);
                }
            }
        }
    }
}

/// Counts, as a CSV streams by, the rows whose `column` says `true`: AMC's
/// filtered-metrics column, on rows it filtered for privacy. Lines may arrive cut
/// anywhere; a header line repeated by a later file is not a row.
#[derive(Debug, Clone, Default)]
pub struct FlagCounter {
    column: String,
    header: Option<String>,
    index: Option<usize>,
    partial: Vec<u8>,
    count: u64,
}

impl FlagCounter {
    /// A counter of the rows whose `column` is `true`.
    pub fn new(column: &str) -> FlagCounter {
        FlagCounter {
            column: column.to_owned(),
            ..FlagCounter::default()
        }
    }

    /// The next bytes of the CSV.
    pub fn push(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            self.line(&String::from_utf8_lossy(&line));
        }
    }

    fn line(&mut self, line: &str) {
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            return;
        }
        match &self.header {
            None => {
                self.index = fields(line)
                    .ok()
                    .and_then(|f| f.iter().position(|name| name.trim() == self.column));
                self.header = Some(line.to_owned());
            }
            Some(header) if header == line => {}
            Some(_) => {
                let flagged = self.index.is_some_and(|i| {
                    fields(line)
                        .ok()
                        .and_then(|f| f.get(i).map(|v| v.trim().eq_ignore_ascii_case("true")))
                        .unwrap_or(false)
                });
                self.count += u64::from(flagged);
            }
        }
    }

    /// Rows flagged so far (a last line without its newline included).
    pub fn finish(&mut self) -> u64 {
        let rest = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
        self.line(&rest);
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_keep_their_commas_and_quotes() {
        assert_eq!(
            fields(r#"a,"b, ""c""",,d"#).unwrap(),
            vec!["a", "b, \"c\"", "", "d"]
        );
        assert!(fields(r#""open"#).is_err());
    }

    #[test]
    fn flagged_rows_are_counted_across_cuts_and_repeated_headers() {
        let text =
            "campaign,filtered,n\n\"A, b\",false,1\nC,true,\nc,TRUE,\ncampaign,filtered,n\nD,true,";
        for cut in [1, 3, 7, 100] {
            let mut counter = FlagCounter::new("filtered");
            for piece in text.as_bytes().chunks(cut) {
                counter.push(piece);
            }
            assert_eq!(counter.finish(), 3, "cut every {cut} bytes");
        }
        let mut absent = FlagCounter::new("filtered_reason");
        absent.push(text.as_bytes());
        assert_eq!(absent.finish(), 0);
    }
}
