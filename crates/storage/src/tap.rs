//! A reader that shows every byte it passes on to a closure, for counting what streams
//! by (AMC's privacy-filtered rows) without holding it.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// `inner`, with each chunk read handed to `seen` as well.
pub struct Tap<R, F> {
    inner: R,
    seen: F,
}

impl<R, F: FnMut(&[u8])> Tap<R, F> {
    /// Reads `inner`, showing each chunk to `seen`.
    pub fn new(inner: R, seen: F) -> Self {
        Tap { inner, seen }
    }
}

impl<R: AsyncRead + Unpin, F: FnMut(&[u8]) + Unpin> AsyncRead for Tap<R, F> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            (this.seen)(&buf.filled()[before..]);
        }
        polled
    }
}
