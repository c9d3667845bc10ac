//! A JSON document read from a stream one value at a time: the scanner finds where each
//! value starts and ends without parsing it, so a record is parsed from a slice
//! (`serde_json::from_slice`, several times faster than from a reader) and memory is one
//! record, whatever the document's size. Skipped values are never held whole.

use std::io::Read;
use std::ops::Range;

/// Bytes read from the input at a time.
const READ_BYTES: usize = 256 * 1024;

/// Where the document breaks JSON, and how.
#[derive(Debug)]
pub(crate) enum ScanError {
    /// Reading failed.
    Io(std::io::Error),
    /// Not JSON here.
    Malformed(String),
}

impl From<std::io::Error> for ScanError {
    fn from(e: std::io::Error) -> Self {
        ScanError::Io(e)
    }
}

/// A JSON document being read.
pub(crate) struct Scanner<R> {
    input: R,
    buf: Vec<u8>,
    pos: usize,
    /// Offset in the document of `buf[0]`, for error messages.
    offset: u64,
    eof: bool,
}

/// Where a value's scan stands between reads.
#[derive(Default)]
struct Nesting {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl<R: Read> Scanner<R> {
    pub(crate) fn new(input: R) -> Self {
        Scanner {
            input,
            buf: Vec::with_capacity(READ_BYTES),
            pos: 0,
            offset: 0,
            eof: false,
        }
    }

    /// The bytes of a value [`Scanner::value`] returned (valid until the next call).
    pub(crate) fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    fn malformed(&self, what: &str) -> ScanError {
        ScanError::Malformed(format!("{what} at byte {}", self.offset + self.pos as u64))
    }

    /// Drops what was consumed (all before `keep_from`, or before `pos`), then reads
    /// more; returns how far the kept bytes moved down, or None at the end of the input.
    fn more(&mut self, keep_from: usize) -> Result<Option<usize>, ScanError> {
        if self.eof {
            return Ok(None);
        }
        let dropped = keep_from.min(self.pos);
        if dropped > 0 {
            self.buf.drain(..dropped);
            self.offset += dropped as u64;
            self.pos -= dropped;
        }
        let len = self.buf.len();
        self.buf.resize(len + READ_BYTES, 0);
        let n = loop {
            match self.input.read(&mut self.buf[len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(e.into());
                }
            }
        };
        self.buf.truncate(len + n);
        self.eof = n == 0;
        Ok((n > 0).then_some(dropped))
    }

    /// The next byte that is not whitespace, left unconsumed; None at the end.
    pub(crate) fn peek(&mut self) -> Result<Option<u8>, ScanError> {
        loop {
            while let Some(&b) = self.buf.get(self.pos) {
                if !b.is_ascii_whitespace() {
                    return Ok(Some(b));
                }
                self.pos += 1;
            }
            if self.more(self.pos)?.is_none() {
                return Ok(None);
            }
        }
    }

    /// Consumes the next non-whitespace byte, which must be one of `wanted`; returns it.
    pub(crate) fn punct(&mut self, wanted: &[u8]) -> Result<u8, ScanError> {
        match self.peek()? {
            Some(b) if wanted.contains(&b) => {
                self.pos += 1;
                Ok(b)
            }
            Some(_) => Err(self.malformed(&format!(
                "expected one of `{}`",
                String::from_utf8_lossy(wanted)
            ))),
            None => Err(self.malformed("the document ends early")),
        }
    }

    /// Checks that nothing but whitespace is left.
    pub(crate) fn end(&mut self) -> Result<(), ScanError> {
        match self.peek()? {
            None => Ok(()),
            Some(_) => Err(self.malformed("trailing characters")),
        }
    }

    /// Consumes the next value and returns where its bytes are (for [`Scanner::bytes`]);
    /// with `keep` false the value is only stepped over, and its range is empty.
    pub(crate) fn value(&mut self, keep: bool) -> Result<Range<usize>, ScanError> {
        let Some(first) = self.peek()? else {
            return Err(self.malformed("a value was expected but the document ends"));
        };
        let mut start = self.pos;
        let mut state = Nesting::default();
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        let mut i = self.pos;
        loop {
            if let Some(end) = self.scan(&mut state, i, scalar)? {
                self.pos = end;
                return Ok(if keep { start..end } else { end..end });
            }
            i = self.buf.len();
            if !keep {
                // Stepping over: nothing of it needs to stay.
                self.pos = i;
            }
            match self.more(if keep { start } else { i })? {
                Some(moved) => {
                    start -= moved.min(start);
                    i -= moved;
                }
                None if scalar => {
                    let end = self.buf.len();
                    self.pos = end;
                    return Ok(if keep { start..end } else { end..end });
                }
                None => return Err(self.malformed("the document ends inside a value")),
            }
        }
    }

    /// Scans `buf[from..]`; Some(end) once the value is complete.
    fn scan(&self, s: &mut Nesting, from: usize, scalar: bool) -> Result<Option<usize>, ScanError> {
        let bytes = &self.buf[from..];
        if scalar {
            let end = bytes
                .iter()
                .position(|&b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace());
            return Ok(end.map(|k| from + k));
        }
        let mut k = 0;
        while k < bytes.len() {
            if s.in_string {
                if s.escaped {
                    s.escaped = false;
                    k += 1;
                    continue;
                }
                // Most of a record is inside strings: jump to the next quote or backslash.
                k += quote_or_backslash(&bytes[k..]).unwrap_or(bytes.len() - k);
                match bytes.get(k) {
                    Some(b'\\') => s.escaped = true,
                    Some(_) => {
                        s.in_string = false;
                        if s.depth == 0 {
                            return Ok(Some(from + k + 1));
                        }
                    }
                    None => return Ok(None),
                }
                k += 1;
                continue;
            }
            match bytes[k] {
                b'"' => s.in_string = true,
                b'{' | b'[' => s.depth += 1,
                b'}' | b']' => {
                    s.depth = s
                        .depth
                        .checked_sub(1)
                        .ok_or_else(|| self.malformed("a bracket closes nothing"))?;
                    if s.depth == 0 {
                        return Ok(Some(from + k + 1));
                    }
                }
                _ => {}
            }
            k += 1;
        }
        Ok(None)
    }
}

/// Index of the first `"` or `\\` in `bytes`, eight bytes at a time (SWAR: a byte equal
/// to the pattern becomes zero, and zero bytes are found with the carry trick).
fn quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let found =
            has_zero(word ^ (ONES * u64::from(b'"'))) | has_zero(word ^ (ONES * u64::from(b'\\')));
        if found != 0 {
            // The lowest flagged byte is a real match (flags above it may be false).
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\')
        .map(|k| at + k)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads at most `n` bytes per call, to cross every boundary.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(self.0.len()).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn values(text: &str, chunk: usize) -> Vec<String> {
        let mut scan = Scanner::new(Trickle(text.as_bytes(), chunk));
        scan.punct(b"[").unwrap();
        let mut out = Vec::new();
        if scan.peek().unwrap() == Some(b']') {
            return out;
        }
        loop {
            let r = scan.value(true).unwrap();
            out.push(String::from_utf8(scan.bytes(r).to_vec()).unwrap());
            if scan.punct(b",]").unwrap() == b']' {
                break;
            }
        }
        scan.end().unwrap();
        out
    }

    #[test]
    fn values_come_whole_at_any_read_size() {
        let text = r#" [ {"a": "x]}\"", "b": [1, {"c": null}]}, "s\\", -1.5e3 ,true, [] ] "#;
        for chunk in [1, 2, 3, 7, 1000] {
            assert_eq!(
                values(text, chunk),
                [
                    r#"{"a": "x]}\"", "b": [1, {"c": null}]}"#,
                    r#""s\\""#,
                    "-1.5e3",
                    "true",
                    "[]"
                ],
                "read size {chunk}"
            );
        }
    }

    #[test]
    fn quotes_and_backslashes_are_found_at_every_offset() {
        for len in 0..20 {
            for at in 0..len {
                for special in [b'"', b'\\'] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    if at + 1 < len {
                        bytes[at + 1] = b'"';
                    }
                    assert_eq!(quote_or_backslash(&bytes), Some(at), "{len} {at}");
                }
            }
            assert_eq!(quote_or_backslash(&vec![0x22 ^ 0x80; len]), None);
        }
    }

    #[test]
    fn skipped_values_are_stepped_over_and_broken_documents_named() {
        let mut scan = Scanner::new(Trickle(br#"{"big": [[1],[2],{"x":"]"}], "k": 1}"#, 2));
        scan.punct(b"{").unwrap();
        scan.value(false).unwrap();
        scan.punct(b":").unwrap();
        assert_eq!(scan.value(false).unwrap().len(), 0);
        scan.punct(b",").unwrap();
        let key = scan.value(true).unwrap();
        assert_eq!(scan.bytes(key), br#""k""#);

        let mut broken = Scanner::new(Trickle(br#"[{"a": 1"#, 3));
        broken.punct(b"[").unwrap();
        let Err(ScanError::Malformed(why)) = broken.value(true) else {
            panic!("a cut document is malformed")
        };
        assert!(why.contains("ends inside a value"), "{why}");
    }
}
