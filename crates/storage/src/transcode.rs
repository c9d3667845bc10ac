//! Source charset → UTF-8, chunk by chunk, and the row count of the result.
//!
//! Amazon's flat files are not always UTF-8: Japanese reports come as Shift_JIS/CP932 and
//! some EU listings as Cp1252, labelled with Java's charset names in the download's
//! `Content-Type` (api-facts.md §8 pitfall 7,
//! <https://github.com/amzn/selling-partner-api-models/issues/545>,
//! <https://github.com/amzn/selling-partner-api-models/issues/2293>). The data lake holds
//! UTF-8 only, so this module owns turning those labels into decoders and decoding a
//! stream whose reads may split a multi-byte character anywhere.
//!
//! Malformed input (bytes the charset cannot have produced) is replaced by U+FFFD, one per
//! malformed sequence as the WHATWG Encoding Standard and Java's decoders do, and
//! counted: a report with one bad byte is still worth storing, and the count lands in the
//! object metadata so it is visible instead of silently lost.

use std::fmt;

use bytes::BytesMut;
use domain::DocumentFormat;
use encoding_rs::{DecoderResult, Encoding};

/// The UTF-8 byte order mark; stripped from the start of UTF-8 documents.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// U+FFFD REPLACEMENT CHARACTER in UTF-8.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();
/// The label recorded when a document is UTF-8 and nobody said otherwise.
const UTF8_LABEL: &str = "UTF-8";

/// A charset label nothing here can decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the report document's charset `{label}` is not one sp-ingest can decode \
     (known: UTF-8, Cp932/MS932/Windows-31J/Shift_JIS, Cp1252 and the WHATWG labels); \
     nothing was stored. Add the label to `java_alias` in crates/storage/src/transcode.rs, \
     or report the document to Amazon if the label is wrong"
)]
pub struct UnknownCharset {
    /// The label as Amazon sent it.
    pub label: String,
}

/// The charset a document arrives in: the label as sent, and the decoder it maps to.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceCharset {
    label: String,
    encoding: &'static Encoding,
}

impl SourceCharset {
    /// UTF-8, the charset of JSON reports and of flat files outside Japan.
    pub fn utf8() -> Self {
        Self {
            label: UTF8_LABEL.to_owned(),
            encoding: encoding_rs::UTF_8,
        }
    }

    /// The charset for a label such as `Cp932`, `windows-31j`, `Cp1252` or `UTF-8`
    /// (case-insensitive): Java's names as Amazon sends them, then WHATWG's labels.
    pub fn from_label(label: &str) -> Result<Self, UnknownCharset> {
        let trimmed = label.trim();
        let encoding = java_alias(trimmed)
            .or_else(|| Encoding::for_label(trimmed.as_bytes()))
            // WHATWG maps a few dangerous labels (ISO-2022-KR, HZ, …) to the
            // "replacement" encoding, which turns any input into a single U+FFFD.
            .filter(|encoding| *encoding != encoding_rs::REPLACEMENT)
            .ok_or_else(|| UnknownCharset {
                label: label.to_owned(),
            })?;
        Ok(Self {
            label: trimmed.to_owned(),
            encoding,
        })
    }

    /// The charset of a download: its `Content-Type` charset when there is one; else, for
    /// a flat file, UTF-8 when `head` (the document's first bytes, [`SNIFF_BYTES`] at
    /// most) holds non-ASCII text that is valid UTF-8, and Amazon's legacy charset of the
    /// marketplace otherwise (CP932 for Japan, Cp1252 for Western Europe); else UTF-8.
    ///
    /// Only flat files fall back by marketplace; JSON documents are UTF-8 (RFC 8259 §8.1,
    /// and api-facts.md §8 pitfall 7). Decoding UTF-8 text as Cp1252 would garble it
    /// without a trace, hence the look at the content first.
    pub fn resolve(
        content_type_charset: Option<&str>,
        marketplace_id: &str,
        format: DocumentFormat,
        head: &[u8],
    ) -> Result<Self, UnknownCharset> {
        match content_type_charset {
            Some(label) => Self::from_label(label),
            None if format == DocumentFormat::Tsv && !is_utf8_text(head) => Self::from_label(
                domain::marketplace::default_flat_file_charset(marketplace_id),
            ),
            None => Ok(Self::utf8()),
        }
    }

    /// The label as sent (e.g. `Cp932`); recorded as the object's `source-charset`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The encoding_rs decoder family the label maps to.
    pub fn encoding(&self) -> &'static Encoding {
        self.encoding
    }

    /// Whether the content is already UTF-8 and only needs validating.
    pub fn is_utf8(&self) -> bool {
        self.encoding == encoding_rs::UTF_8
    }
}

/// How much of an unlabelled flat file [`SourceCharset::resolve`] looks at.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// Whether `head` has non-ASCII characters and all of them are valid UTF-8 (a sequence
/// cut at the end of `head` counts as valid).
fn is_utf8_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(error) => error.error_len().is_none(),
    };
    valid && !head.is_ascii()
}

impl fmt::Debug for SourceCharset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SourceCharset({} → {})",
            self.label,
            self.encoding.name()
        )
    }
}

/// Java's charset names that WHATWG does not know, as Amazon puts them in `Content-Type`.
///
/// encoding_rs' `SHIFT_JIS` is WHATWG's Shift_JIS, which *is* Windows-31J/CP932 (NEC and
/// IBM extensions included: <https://encoding.spec.whatwg.org/#shift_jis>), so all of
/// Amazon's Japanese labels decode with it.
fn java_alias(label: &str) -> Option<&'static Encoding> {
    let lower = label.to_ascii_lowercase();
    let encoding = match lower.as_str() {
        "utf8" => encoding_rs::UTF_8,
        "cp932" | "ms932" | "windows-31j" | "windows-932" | "sjis" => encoding_rs::SHIFT_JIS,
        "cp1252" | "ms1252" => encoding_rs::WINDOWS_1252,
        "euc_jp" => encoding_rs::EUC_JP,
        "iso8859_1" => encoding_rs::WINDOWS_1252,
        _ => return None,
    };
    Some(encoding)
}

/// Decodes a document chunk by chunk into UTF-8, appending to a caller's buffer.
///
/// Chunks may end in the middle of a multi-byte character; the rest of it is carried to
/// the next chunk. UTF-8 input is only validated (and its BOM dropped), never decoded.
pub struct Transcoder {
    mode: Mode,
    malformed: u64,
    bom_checked: bool,
}

enum Mode {
    /// UTF-8 in, UTF-8 out: validate, carrying an incomplete trailing sequence (≤ 3 bytes).
    Utf8 { carry: [u8; 3], carry_len: usize },
    /// Any other charset: encoding_rs' streaming decoder keeps the carry itself.
    Decode(encoding_rs::Decoder),
}

impl Transcoder {
    /// A transcoder for documents in `charset`.
    pub fn new(charset: &SourceCharset) -> Self {
        let mode = if charset.is_utf8() {
            Mode::Utf8 {
                carry: [0; 3],
                carry_len: 0,
            }
        } else {
            // BOM sniffing as WHATWG "decode" does: a UTF-8 (or UTF-16) BOM wins over the
            // label, so a UTF-8 file mislabelled Cp932 still decodes right.
            Mode::Decode(charset.encoding().new_decoder())
        };
        Self {
            mode,
            malformed: 0,
            bom_checked: false,
        }
    }

    /// Appends the UTF-8 of `input` to `out`; an incomplete last character is held back.
    pub fn push(&mut self, input: &[u8], out: &mut BytesMut) {
        let start = out.len();
        self.convert(input, false, out);
        self.strip_bom(start, out);
    }

    /// Flushes what is held back at the end of the document (as U+FFFD: the document
    /// ended inside a character).
    pub fn finish(&mut self, out: &mut BytesMut) {
        let start = out.len();
        self.convert(&[], true, out);
        self.strip_bom(start, out);
    }

    /// Malformed sequences replaced by U+FFFD so far.
    pub fn malformed_sequences(&self) -> u64 {
        self.malformed
    }

    fn convert(&mut self, input: &[u8], last: bool, out: &mut BytesMut) {
        match &mut self.mode {
            Mode::Utf8 { carry, carry_len } => {
                let mut input = input;
                if *carry_len > 0 {
                    // Complete the held-back sequence with up to 3 more bytes: enough to
                    // finish (or reject) any sequence that starts inside the carry.
                    let take = input.len().min(3);
                    let mut joined = [0u8; 6];
                    joined[..*carry_len].copy_from_slice(&carry[..*carry_len]);
                    joined[*carry_len..*carry_len + take].copy_from_slice(&input[..take]);
                    let joined = &joined[..*carry_len + take];
                    let last_here = last && take == input.len();
                    let done = push_validated(joined, last_here, out, &mut self.malformed);
                    if done < *carry_len {
                        // Only possible when the whole input fit in `joined` (< 3 bytes):
                        // the new carry is the incomplete tail of `joined`.
                        let tail = &joined[done..];
                        carry[..tail.len()].copy_from_slice(tail);
                        *carry_len = tail.len();
                        return;
                    }
                    input = &input[done - *carry_len..];
                    *carry_len = 0;
                }
                let done = push_validated(input, last, out, &mut self.malformed);
                let tail = &input[done..];
                carry[..tail.len()].copy_from_slice(tail);
                *carry_len = tail.len();
            }
            Mode::Decode(decoder) => {
                let Some(room) = decoder.max_utf8_buffer_length(input.len()) else {
                    // Only for inputs near usize::MAX; chunks are a few hundred KiB.
                    unreachable!("a read chunk cannot overflow usize when decoded")
                };
                let start = out.len();
                out.resize(start + room, 0);
                let mut written = 0;
                let mut rest = input;
                loop {
                    let (result, read, wrote) = decoder.decode_to_utf8_without_replacement(
                        rest,
                        &mut out[start + written..],
                        last,
                    );
                    written += wrote;
                    rest = &rest[read..];
                    match result {
                        DecoderResult::InputEmpty => break,
                        DecoderResult::Malformed(_, _) => {
                            // `room` counts a replacement for every malformed sequence.
                            let at = start + written;
                            out[at..at + REPLACEMENT.len()].copy_from_slice(REPLACEMENT);
                            written += REPLACEMENT.len();
                            self.malformed += 1;
                        }
                        DecoderResult::OutputFull => {
                            unreachable!("room is the decoder's own worst case")
                        }
                    }
                }
                out.truncate(start + written);
            }
        }
    }

    /// Drops a UTF-8 BOM at the very start of the output (UTF-8 mode; the decoders drop
    /// their BOM themselves). A BOM is one complete sequence, so it is never split.
    fn strip_bom(&mut self, start: usize, out: &mut BytesMut) {
        if self.bom_checked || out.len() == start {
            return;
        }
        self.bom_checked = true;
        if matches!(self.mode, Mode::Utf8 { .. }) && out[start..].starts_with(UTF8_BOM) {
            let rest = out.split_off(start + UTF8_BOM.len());
            out.truncate(start);
            out.unsplit(rest);
        }
    }
}

/// Appends the valid UTF-8 of `data` to `out`, U+FFFD for each malformed sequence (the
/// "maximal subpart" rule, as `String::from_utf8_lossy` and WHATWG), and returns how many
/// bytes were consumed: all of them, except an incomplete sequence at the end when more
/// input may follow.
fn push_validated(data: &[u8], last: bool, out: &mut BytesMut, malformed: &mut u64) -> usize {
    let mut rest = data;
    loop {
        match std::str::from_utf8(rest) {
            Ok(_) => {
                out.extend_from_slice(rest);
                return data.len();
            }
            Err(error) => {
                let valid = error.valid_up_to();
                out.extend_from_slice(&rest[..valid]);
                match error.error_len() {
                    Some(bad) => {
                        out.extend_from_slice(REPLACEMENT);
                        *malformed += 1;
                        rest = &rest[valid + bad..];
                    }
                    None if last => {
                        out.extend_from_slice(REPLACEMENT);
                        *malformed += 1;
                        return data.len();
                    }
                    None => return data.len() - (rest.len() - valid),
                }
            }
        }
    }
}

/// Counts a document's rows from its UTF-8 bytes, the way its format defines a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowCounter {
    /// Tab-separated flat file: lines (newline-terminated, plus a last line without a
    /// newline) minus the header line.
    Tsv(LineCounter),
    /// JSON Lines: one record per line.
    JsonLines(LineCounter),
    /// One JSON document: the records of its top-level arrays (see [`JsonRecordCounter`]).
    Json(JsonRecordCounter),
}

/// Counts the records of a JSON report as it streams by, without parsing it: the
/// elements of every array that is a value of the root object (`salesAndTrafficByDate`,
/// `salesAndTrafficByAsin`, `dataByAsin`, …), or of the root array itself. SP-API JSON
/// reports put their rows there and their `reportSpecification` in an object, so this is
/// the row count of every report type without a schema per type. Strings are skipped with
/// their escapes, so brackets and commas inside text do not count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonRecordCounter {
    records: u64,
    depth: u32,
    /// Whether the containers at depth 1 and 2 are counted arrays.
    counted: [bool; 2],
    /// Whether the root is an object (its array values are counted).
    root_is_object: bool,
    in_string: bool,
    escaped: bool,
    /// After `[` or `,` in a counted array: the next value starts a record.
    expecting_record: bool,
}

impl JsonRecordCounter {
    fn in_counted_array(&self) -> bool {
        matches!(self.depth, 1 | 2) && self.counted[self.depth as usize - 1]
    }

    fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if byte == b'\\' {
                    self.escaped = true;
                } else if byte == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            if byte.is_ascii_whitespace() {
                continue;
            }
            if self.expecting_record && byte != b']' {
                self.records += 1;
                self.expecting_record = false;
            }
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    self.depth += 1;
                    let array = byte == b'[';
                    let counted =
                        array && (self.depth == 1 || (self.depth == 2 && self.root_is_object));
                    if self.depth == 1 {
                        self.root_is_object = !array;
                    }
                    if matches!(self.depth, 1 | 2) {
                        self.counted[self.depth as usize - 1] = counted;
                    }
                    self.expecting_record = counted;
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    self.expecting_record = false;
                }
                b',' => self.expecting_record = self.in_counted_array(),
                _ => {}
            }
        }
    }
}

/// Lines seen so far in a stream of bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineCounter {
    newlines: u64,
    open_line: bool,
}

impl LineCounter {
    fn update(&mut self, bytes: &[u8]) {
        let Some(&last) = bytes.last() else {
            return;
        };
        // A plain filter-count vectorises well; memchr would not be much faster here.
        self.newlines += bytes.iter().filter(|&&byte| byte == b'\n').count() as u64;
        self.open_line = last != b'\n';
    }

    fn lines(&self) -> u64 {
        self.newlines + u64::from(self.open_line)
    }
}

impl RowCounter {
    /// The counter for documents of `format`.
    pub fn for_format(format: DocumentFormat) -> Self {
        match format {
            // A header line, then a row a line (AMC's values hold no newlines).
            DocumentFormat::Tsv | DocumentFormat::Csv => RowCounter::Tsv(LineCounter::default()),
            DocumentFormat::Jsonl => RowCounter::JsonLines(LineCounter::default()),
            DocumentFormat::Json => RowCounter::Json(JsonRecordCounter::default()),
        }
    }

    /// Counts the rows in the next UTF-8 bytes of the document.
    pub fn update(&mut self, utf8: &[u8]) {
        match self {
            RowCounter::Tsv(lines) | RowCounter::JsonLines(lines) => lines.update(utf8),
            RowCounter::Json(records) => records.update(utf8),
        }
    }

    /// Rows so far.
    pub fn rows(&self) -> u64 {
        match self {
            RowCounter::Tsv(lines) => lines.lines().saturating_sub(1),
            RowCounter::JsonLines(lines) => lines.lines(),
            RowCounter::Json(records) => records.records,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_rows_in_chunks(document: &str, chunk: usize) -> u64 {
        let mut counter = RowCounter::for_format(DocumentFormat::Json);
        for piece in document.as_bytes().chunks(chunk.max(1)) {
            counter.update(piece);
        }
        counter.rows()
    }

    #[test]
    fn json_rows_are_the_records_of_the_top_level_arrays_at_any_chunking() {
        let document = r#"{"reportSpecification":{"reportType":"GET_SALES_AND_TRAFFIC_REPORT","marketplaceIds":["ATVPDKIKX0DER","A2EUQ1WTGCTBG2"]},
            "salesAndTrafficByDate":[{"date":"2026-11-24","sales":{"units":[1,2]}},{"date":"2026-11-25"}],
            "salesAndTrafficByAsin":[ {"asin":"B0[1,2]","title":"a \"quoted\" ], text, {"}, {"asin":"B02"}, {"asin":"B03"} ],
            "empty":[], "scalars":[1, "two", null, true]}"#;
        for chunk in 1..=document.len() {
            assert_eq!(
                json_rows_in_chunks(document, chunk),
                2 + 3 + 4,
                "chunk size {chunk}"
            );
        }
    }

    #[test]
    fn json_root_array_counts_its_elements() {
        assert_eq!(
            json_rows_in_chunks(r#"[{"a":[1,2,3]},{"b":{}}, [] ]"#, 3),
            3
        );
        assert_eq!(json_rows_in_chunks("[]", 1), 0);
        assert_eq!(json_rows_in_chunks(r#"{"reportSpecification":{}}"#, 2), 0);
    }

    /// Japanese report text with 2-byte CP932 characters (incl. NEC row 13 "①", the IBM
    /// extension "髙", CP932's "～" for the wave dash), half-width katakana and ASCII, so
    /// chunk boundaries fall inside characters.
    const JAPANESE: &str = "注文番号\t商品名\t数量\n503-1234567\t緑茶①ティーバッグ 髙島屋\t2\n\
        503-7654321\tｶﾀｶﾅ半角と全角カタカナ～\t10\n";

    fn transcode_in_chunks(
        charset: &SourceCharset,
        input: &[u8],
        cuts: &[usize],
    ) -> (Vec<u8>, u64) {
        let mut transcoder = Transcoder::new(charset);
        let mut out = BytesMut::new();
        let mut from = 0;
        for &cut in cuts {
            transcoder.push(&input[from..cut], &mut out);
            from = cut;
        }
        transcoder.push(&input[from..], &mut out);
        transcoder.finish(&mut out);
        (out.to_vec(), transcoder.malformed_sequences())
    }

    #[test]
    fn cp932_split_at_every_offset_equals_one_shot_decoding() {
        let charset = SourceCharset::from_label("Cp932").unwrap();
        let (encoded, _, unmappable) = encoding_rs::SHIFT_JIS.encode(JAPANESE);
        assert!(!unmappable, "the sample is representable in CP932");
        let (expected, _) = transcode_in_chunks(&charset, &encoded, &[]);
        assert_eq!(String::from_utf8(expected.clone()).unwrap(), JAPANESE);
        for cut in 0..=encoded.len() {
            let (got, malformed) = transcode_in_chunks(&charset, &encoded, &[cut]);
            assert_eq!(got, expected, "cut at {cut}");
            assert_eq!(malformed, 0);
        }
        // One byte per read: every character is split.
        let every: Vec<usize> = (1..encoded.len()).collect();
        assert_eq!(transcode_in_chunks(&charset, &encoded, &every).0, expected);
    }

    #[test]
    fn utf8_split_at_every_pair_of_offsets_equals_lossy_decoding() {
        let charset = SourceCharset::utf8();
        // Valid 2-, 3- and 4-byte characters, a stray continuation byte, a truncated
        // 3-byte sequence in the middle and one at the very end.
        let mut input = "a€𝄞é\tñ".as_bytes().to_vec();
        input.extend_from_slice(b"\x80x\xE2\x82y");
        input.extend_from_slice("漢字".as_bytes());
        input.extend_from_slice(b"\xF0\x9F");
        let expected = String::from_utf8_lossy(&input).into_owned();
        for first in 0..=input.len() {
            for second in first..=input.len() {
                let (got, malformed) = transcode_in_chunks(&charset, &input, &[first, second]);
                assert_eq!(
                    String::from_utf8(got).unwrap(),
                    expected,
                    "cuts {first}, {second}"
                );
                assert_eq!(malformed, 3, "cuts {first}, {second}");
            }
        }
    }

    #[test]
    fn utf8_bom_is_stripped_even_when_split() {
        let charset = SourceCharset::utf8();
        let input = b"\xEF\xBB\xBFsku\tqty\n\xEF\xBB\xBF";
        for cut in 0..=input.len() {
            let (got, _) = transcode_in_chunks(&charset, input, &[cut]);
            // Only the leading BOM goes; a U+FEFF later is content.
            assert_eq!(got, b"sku\tqty\n\xEF\xBB\xBF", "cut at {cut}");
        }
        let (got, _) = transcode_in_chunks(&charset, b"\xEF\xBB", &[1]);
        assert_eq!(got, REPLACEMENT, "half a BOM at the end is malformed");
    }

    #[test]
    fn utf8_bom_before_cp932_label_wins_over_the_label() {
        let charset = SourceCharset::from_label("Cp932").unwrap();
        let input = "\u{FEFF}商品\n".as_bytes();
        assert_eq!(
            transcode_in_chunks(&charset, input, &[2]).0,
            "商品\n".as_bytes()
        );
    }

    #[test]
    fn cp1252_decodes_euro_and_accents() {
        let charset = SourceCharset::from_label("Cp1252").unwrap();
        let (got, malformed) = transcode_in_chunks(&charset, b"Caf\xE9 \x80 5", &[3]);
        assert_eq!(String::from_utf8(got).unwrap(), "Café € 5");
        assert_eq!(malformed, 0);
    }

    #[test]
    fn malformed_cp932_is_replaced_and_counted() {
        let charset = SourceCharset::from_label("Cp932").unwrap();
        // 0x82 0x20 is a lead byte followed by a non-trail byte; a lone lead byte at the end.
        let (got, malformed) = transcode_in_chunks(&charset, b"a\x82 b\x88", &[2]);
        assert_eq!(String::from_utf8(got).unwrap(), "a\u{FFFD} b\u{FFFD}");
        assert_eq!(malformed, 2);
    }

    #[test]
    fn java_and_whatwg_labels_map_to_the_right_decoders() {
        for label in [
            "Cp932",
            "CP932",
            "MS932",
            "windows-31j",
            "Windows-31J",
            "Shift_JIS",
            " sjis ",
        ] {
            let charset = SourceCharset::from_label(label).unwrap();
            assert_eq!(charset.encoding(), encoding_rs::SHIFT_JIS, "{label}");
        }
        for label in ["Cp1252", "windows-1252", "ISO-8859-1"] {
            let charset = SourceCharset::from_label(label).unwrap();
            assert_eq!(charset.encoding(), encoding_rs::WINDOWS_1252, "{label}");
        }
        for label in ["UTF-8", "utf-8", "UTF8", "utf8"] {
            assert!(
                SourceCharset::from_label(label).unwrap().is_utf8(),
                "{label}"
            );
        }
        assert_eq!(
            SourceCharset::from_label("EUC-JP").unwrap().encoding(),
            encoding_rs::EUC_JP
        );
        assert_eq!(SourceCharset::from_label("Cp932").unwrap().label(), "Cp932");
    }

    #[test]
    fn unknown_and_replacement_labels_are_refused_by_name() {
        for label in ["x-klingon", "ISO-2022-KR", ""] {
            let error = SourceCharset::from_label(label).unwrap_err();
            assert_eq!(error.label, label);
            assert!(error.to_string().contains(&format!("`{label}`")), "{error}");
        }
    }

    #[test]
    fn charset_falls_back_by_marketplace_for_flat_files_only() {
        let japan = domain::marketplace::JAPAN;
        let tsv = DocumentFormat::Tsv;
        let ascii = b"sku\tqty\n";
        assert_eq!(
            SourceCharset::resolve(None, japan, tsv, ascii)
                .unwrap()
                .label(),
            "Cp932"
        );
        assert!(
            SourceCharset::resolve(None, "ATVPDKIKX0DER", tsv, ascii)
                .unwrap()
                .is_utf8()
        );
        assert!(
            SourceCharset::resolve(None, japan, DocumentFormat::Json, ascii)
                .unwrap()
                .is_utf8()
        );
        let sent = SourceCharset::resolve(Some("UTF-8"), japan, tsv, ascii).unwrap();
        assert!(
            sent.is_utf8(),
            "the header wins over the marketplace default"
        );
    }

    #[test]
    fn an_unlabelled_eu_flat_file_is_read_as_cp1252_unless_it_is_utf8() {
        let germany = "A1PA6795UKMFR9";
        let tsv = DocumentFormat::Tsv;
        let text = "sku\ttitle\nA-1\tGrüner Tee – 20 Beutel für 3,50 €\n";
        let (cp1252, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
        assert!(!unmappable);
        let charset = SourceCharset::resolve(None, germany, tsv, &cp1252).unwrap();
        assert_eq!(charset.label(), "Cp1252");
        let (decoded, malformed) = decode_all(&charset, &cp1252);
        assert_eq!((decoded.as_str(), malformed), (text, 0));

        // The same text already in UTF-8 is left alone, even cut mid-character.
        let utf8 = text.as_bytes();
        let cut = &utf8[..utf8.iter().position(|b| *b == 0xC3).unwrap() + 1];
        for head in [utf8, cut] {
            assert!(
                SourceCharset::resolve(None, germany, tsv, head)
                    .unwrap()
                    .is_utf8()
            );
        }
    }

    /// Decodes `bytes` in one go; the text and the malformed sequences replaced.
    fn decode_all(charset: &SourceCharset, bytes: &[u8]) -> (String, u64) {
        let mut transcoder = Transcoder::new(charset);
        let mut out = bytes::BytesMut::new();
        transcoder.push(bytes, &mut out);
        transcoder.finish(&mut out);
        (
            String::from_utf8(out.to_vec()).unwrap(),
            transcoder.malformed_sequences(),
        )
    }

    fn rows(format: DocumentFormat, chunks: &[&str]) -> u64 {
        let mut counter = RowCounter::for_format(format);
        for chunk in chunks {
            counter.update(chunk.as_bytes());
        }
        counter.rows()
    }

    #[test]
    fn tsv_rows_are_lines_minus_the_header() {
        let tsv = DocumentFormat::Tsv;
        assert_eq!(rows(tsv, &["sku\tqty\n", "a\t1\nb\t2\n"]), 2);
        assert_eq!(
            rows(tsv, &["sku\tqty\na\t1\nb", "\t2"]),
            2,
            "no trailing newline"
        );
        assert_eq!(rows(tsv, &["sku\tqty\na\t1\r\n", ""]), 1, "CRLF");
        assert_eq!(rows(tsv, &["sku\tqty\n"]), 0, "header only");
        assert_eq!(rows(tsv, &["sku\tqty"]), 0, "header without newline");
        assert_eq!(rows(tsv, &[]), 0, "empty document");
    }

    #[test]
    fn json_lines_count_lines_and_json_counts_top_level_array_records() {
        assert_eq!(rows(DocumentFormat::Jsonl, &["{}\n{}\n", "{}"]), 3);
        assert_eq!(rows(DocumentFormat::Json, &["{\"a\":[1,\n2]}\n"]), 2);
    }
}
