//! A JSON array of objects rewritten as JSON Lines while it streams: Amazon Ads report
//! files are one gzip JSON array of row objects (api-facts §6), and the raw bucket keeps
//! them as one row per line, so Curate and Athena read them like Data Kiosk's. Bytes
//! are copied as they come — only the array's brackets, its commas and the whitespace
//! between elements are dropped — so memory does not grow with the file, and each row
//! is byte for byte what Amazon sent.

use tokio::io::{AsyncRead, ReadBuf};

/// Where in the array the rewriter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Before the opening `[`.
    Start,
    /// Between elements (after `[` or a `,`), or before the closing `]`.
    Between,
    /// Inside an element, `depth` brackets deep.
    Element { depth: u32 },
    /// After the closing `]`.
    End,
}

/// The input is not a JSON array of values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a JSON array of rows at byte {at}: {problem}")]
pub struct NotAnArray {
    /// Offset in the (decompressed) input.
    pub at: u64,
    /// What was found.
    pub problem: String,
}

/// Rewrites a JSON array, chunk by chunk, as one element per line.
#[derive(Debug, Clone)]
pub struct ArrayToLines {
    place: Place,
    in_string: bool,
    escaped: bool,
    offset: u64,
    /// Elements written.
    pub rows: u64,
}

impl Default for ArrayToLines {
    fn default() -> Self {
        ArrayToLines {
            place: Place::Start,
            in_string: false,
            escaped: false,
            offset: 0,
            rows: 0,
        }
    }
}

impl ArrayToLines {
    /// Appends to `out` what `input` contributes to the lines.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), NotAnArray> {
        for &byte in input {
            self.step(byte, out)?;
            self.offset += 1;
        }
        Ok(())
    }

    /// Checks that the array was closed.
    pub fn finish(&self) -> Result<(), NotAnArray> {
        match self.place {
            Place::End => Ok(()),
            _ => Err(self.refuse("the array never ends (a cut-off file?)")),
        }
    }

    fn refuse(&self, problem: impl Into<String>) -> NotAnArray {
        NotAnArray {
            at: self.offset,
            problem: problem.into(),
        }
    }

    fn step(&mut self, byte: u8, out: &mut Vec<u8>) -> Result<(), NotAnArray> {
        match self.place {
            Place::Start => match byte {
                b'[' => self.place = Place::Between,
                b' ' | b'\t' | b'\n' | b'\r' | 0xEF | 0xBB | 0xBF => {}
                other => return Err(self.refuse(format!("`{}` before `[`", other as char))),
            },
            Place::Between => match byte {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => {}
                b']' => self.place = Place::End,
                _ => {
                    self.place = Place::Element { depth: 0 };
                    self.rows += 1;
                    return self.step(byte, out);
                }
            },
            Place::Element { depth } => {
                if self.in_string {
                    out.push(byte);
                    match (self.escaped, byte) {
                        (true, _) => self.escaped = false,
                        (false, b'\\') => self.escaped = true,
                        (false, b'"') => self.in_string = false,
                        _ => {}
                    }
                    return Ok(());
                }
                match byte {
                    b'"' => {
                        self.in_string = true;
                        out.push(byte);
                    }
                    b'{' | b'[' => {
                        self.place = Place::Element { depth: depth + 1 };
                        out.push(byte);
                    }
                    b'}' | b']' if depth > 0 => {
                        self.place = Place::Element { depth: depth - 1 };
                        out.push(byte);
                    }
                    // The element ends: the array's `,` or `]` at depth 0.
                    b',' | b']' if depth == 0 => {
                        out.push(b'\n');
                        self.place = if byte == b']' {
                            Place::End
                        } else {
                            Place::Between
                        };
                    }
                    b'}' | b']' => return Err(self.refuse("an unbalanced bracket")),
                    // Whitespace between an element's tokens is kept: the row stays as sent.
                    _ => out.push(byte),
                }
            }
            Place::End => match byte {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                other => return Err(self.refuse(format!("`{}` after the array", other as char))),
            },
        }
        Ok(())
    }
}

/// An [`AsyncRead`] of a JSON array that reads as its JSON Lines.
pub struct LinesReader<R> {
    inner: R,
    rewriter: ArrayToLines,
    pending: Vec<u8>,
    read_at: usize,
    done: bool,
}

impl<R> LinesReader<R> {
    /// Lines of the array `inner` reads.
    pub fn new(inner: R) -> Self {
        LinesReader {
            inner,
            rewriter: ArrayToLines::default(),
            pending: Vec::new(),
            read_at: 0,
            done: false,
        }
    }

    /// Rows (array elements) read so far.
    pub fn rows(&self) -> u64 {
        self.rewriter.rows
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for LinesReader<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let this = &mut *self;
        loop {
            if this.read_at < this.pending.len() {
                let n = buf.remaining().min(this.pending.len() - this.read_at);
                buf.put_slice(&this.pending[this.read_at..this.read_at + n]);
                this.read_at += n;
                return Poll::Ready(Ok(()));
            }
            if this.done {
                return Poll::Ready(Ok(()));
            }
            this.pending.clear();
            this.read_at = 0;
            let mut chunk = [0u8; 64 * 1024];
            let mut read = ReadBuf::new(&mut chunk);
            match std::pin::Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    this.done = true;
                    if let Err(e) = this.rewriter.finish() {
                        return Poll::Ready(Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            e,
                        )));
                    }
                }
                Poll::Ready(Ok(())) => {
                    if let Err(e) = this.rewriter.push(read.filled(), &mut this.pending) {
                        return Poll::Ready(Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            e,
                        )));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    fn lines(input: &[u8], chunk: usize) -> Result<(String, u64), NotAnArray> {
        let mut rewriter = ArrayToLines::default();
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            rewriter.push(piece, &mut out)?;
        }
        rewriter.finish()?;
        Ok((String::from_utf8(out).unwrap(), rewriter.rows))
    }

    const ROWS: &str = r#" [ {"date":"2026-11-01","campaignName":"Brand, \"exact\" [1]","cost":1.5,"tags":["a","b"]},
        {"date":"2026-11-02","campaignName":"x}]","cost":0} ,{"nested":{"a":[1,{"b":2}]}} ]
"#;

    #[test]
    fn each_element_becomes_one_line_whatever_the_chunks() {
        let expected: Vec<serde_json::Value> = serde_json::from_str(ROWS).unwrap();
        for chunk in [1, 2, 3, 7, 64, 4096] {
            let (text, rows) = lines(ROWS.as_bytes(), chunk).unwrap();
            assert_eq!(rows, 3, "chunk {chunk}");
            let got: Vec<serde_json::Value> = text
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect();
            assert_eq!(got, expected, "chunk {chunk}");
            assert!(text.ends_with('\n'));
        }
        assert_eq!(lines(b"[]", 1).unwrap(), (String::new(), 0));
    }

    #[test]
    fn what_is_not_an_array_of_rows_is_named_with_its_offset() {
        assert!(
            lines(br#"{"a":1}"#, 4)
                .unwrap_err()
                .problem
                .contains("before `[`")
        );
        let cut = lines(br#"[{"a":1},{"b":"#, 4).unwrap_err();
        assert!(cut.problem.contains("never ends"), "{cut:?}");
        let extra = lines(br#"[{"a":1}] x"#, 4).unwrap_err();
        assert_eq!(extra.at, 10);
    }

    #[tokio::test]
    async fn the_reader_streams_a_large_array_in_flat_memory() {
        // 200,000 rows (~12 MB) through the reader in 8 KiB reads: the reader holds one
        // input chunk's worth, never the file.
        let row = r#"{"date":"2026-11-01","impressions":1234,"clicks":56,"cost":78.9}"#;
        let body = format!(
            "[{}]",
            std::iter::repeat_n(row, 200_000)
                .collect::<Vec<_>>()
                .join(",")
        );
        let mut reader = LinesReader::new(body.as_bytes());
        let mut buf = vec![0u8; 8192];
        let (mut bytes, mut newlines) = (0usize, 0usize);
        loop {
            let n = reader.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            bytes += n;
            newlines += buf[..n].iter().filter(|b| **b == b'\n').count();
            assert!(
                reader.pending.capacity() <= 2 * 64 * 1024,
                "the reader buffers more than a chunk"
            );
        }
        assert_eq!((newlines, reader.rows()), (200_000, 200_000));
        assert_eq!(bytes, row.len() * 200_000 + 200_000);
    }
}
