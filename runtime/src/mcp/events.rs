//! A `text/event-stream` body whose events' `data` can be rewritten as they pass: how the MCP
//! guard filters a list answered on a Streamable HTTP stream. Events arrive split across frames
//! at any byte; each is held until its blank line, then passed on byte for byte unless its data
//! is rewritten (then its other fields keep their order, and its data is one `data:` line).
//! Lines end in CRLF, LF or CR, as the HTML standard's event stream allows.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame, SizeHint};

/// What an event's data becomes: `Some` to replace it, `None` to keep the event as it is.
pub(crate) type Rewrite = Box<dyn FnMut(&str) -> Option<String> + Send>;

/// The body of an event stream with [`Rewrite`] applied to each event's data.
pub(crate) struct RewrittenEvents {
    inner: Body,
    /// Bytes of events not yet complete.
    pending: Vec<u8>,
    rewrite: Rewrite,
    /// Trailers held until the pending bytes are passed on.
    trailers: Option<HeaderMap>,
    ended: bool,
}

impl RewrittenEvents {
    pub(crate) fn new(inner: Body, rewrite: Rewrite) -> Self {
        Self { inner, pending: Vec::new(), rewrite, trailers: None, ended: false }
    }

    /// The complete events at the start of `pending`, rewritten, taken out of it.
    fn take_complete(&mut self) -> Option<Bytes> {
        let end = complete_events(&self.pending, self.ended);
        if end == 0 {
            return None;
        }
        let events: Vec<u8> = self.pending.drain(..end).collect();
        Some(Bytes::from(rewrite_events(&events, &mut self.rewrite)))
    }
}

impl HttpBody for RewrittenEvents {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        loop {
            if let Some(events) = self.take_complete() {
                return Poll::Ready(Some(Ok(Frame::data(events))));
            }
            if self.ended {
                // An event without its blank line is discarded by every reader: passed as it is.
                if !self.pending.is_empty() {
                    let rest = std::mem::take(&mut self.pending);
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(rest)))));
                }
                return Poll::Ready(
                    self.trailers.take().map(|trailers| Ok(Frame::trailers(trailers))),
                );
            }
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => self.ended = true,
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => self.pending.extend_from_slice(&data),
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            self.trailers = Some(trailers);
                        }
                        self.ended = true;
                    }
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended && self.pending.is_empty() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        // Rewriting changes the length.
        SizeHint::default()
    }
}

/// The next line of `bytes` from `start`: its end and where the next one starts. A CR at the
/// very end is a line's end only when nothing follows (`ended`): an LF may be on its way.
fn next_line(bytes: &[u8], start: usize, ended: bool) -> Option<(usize, usize)> {
    let at = start + bytes.get(start..)?.iter().position(|&b| b == b'\n' || b == b'\r')?;
    if bytes[at] == b'\n' {
        return Some((at, at + 1));
    }
    match bytes.get(at + 1) {
        Some(b'\n') => Some((at, at + 2)),
        Some(_) => Some((at, at + 1)),
        None if ended => Some((at, at + 1)),
        None => None,
    }
}

/// How many bytes at the start of `bytes` are complete events (each ended by a blank line).
fn complete_events(bytes: &[u8], ended: bool) -> usize {
    let mut complete = 0;
    let mut start = 0;
    while let Some((end, next)) = next_line(bytes, start, ended) {
        if end == start {
            complete = next;
        }
        start = next;
    }
    complete
}

/// Complete events, each passed on as it is or with its data rewritten.
fn rewrite_events(events: &[u8], rewrite: &mut Rewrite) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len());
    let mut event_start = 0;
    let mut start = 0;
    while let Some((end, next)) = next_line(events, start, true) {
        if end == start {
            let event = &events[event_start..next];
            match rewritten(event, rewrite) {
                Some(replaced) => out.extend_from_slice(&replaced),
                None => out.extend_from_slice(event),
            }
            event_start = next;
        }
        start = next;
    }
    out.extend_from_slice(&events[event_start..]);
    out
}

/// One event (its lines and its blank line) with its data rewritten, or `None` to keep it.
fn rewritten(event: &[u8], rewrite: &mut Rewrite) -> Option<Vec<u8>> {
    let mut lines = Vec::new();
    let mut start = 0;
    while let Some((end, next)) = next_line(event, start, true) {
        if end > start {
            lines.push(&event[start..end]);
        }
        start = next;
    }
    let mut data: Option<String> = None;
    for line in &lines {
        if let Some(value) = field(line, b"data") {
            let value = std::str::from_utf8(value).ok()?;
            match &mut data {
                Some(joined) => {
                    joined.push('\n');
                    joined.push_str(value);
                }
                None => data = Some(value.to_owned()),
            }
        }
    }
    let replacement = rewrite(&data?)?;
    let mut out = Vec::with_capacity(event.len());
    let mut written = false;
    for line in lines {
        if field(line, b"data").is_some() {
            if !std::mem::replace(&mut written, true) {
                out.extend_from_slice(b"data: ");
                // Serialized JSON holds no line break; a line break would end the field.
                for part in replacement.split(['\n', '\r']) {
                    out.extend_from_slice(part.as_bytes());
                }
                out.push(b'\n');
            }
        } else {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
    out.push(b'\n');
    Some(out)
}

/// The value of `line` when it is the field `name` (`name:value`, one leading space dropped, or
/// `name` alone for an empty value).
fn field<'l>(line: &'l [u8], name: &[u8]) -> Option<&'l [u8]> {
    let rest = line.strip_prefix(name)?;
    match rest.split_first() {
        None => Some(rest),
        Some((b':', value)) => Some(value.strip_prefix(b" ").unwrap_or(value)),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    fn upper() -> Rewrite {
        Box::new(|data: &str| data.starts_with('{').then(|| data.to_uppercase()))
    }

    /// A body that yields these chunks, one frame each.
    struct Chunks(std::collections::VecDeque<Bytes>);

    impl HttpBody for Chunks {
        type Data = Bytes;
        type Error = axum::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
            Poll::Ready(self.0.pop_front().map(|chunk| Ok(Frame::data(chunk))))
        }
    }

    async fn run(chunks: &[&[u8]], rewrite: Rewrite) -> String {
        let body =
            Body::new(Chunks(chunks.iter().map(|chunk| Bytes::copy_from_slice(chunk)).collect()));
        let collected = RewrittenEvents::new(body, rewrite).collect().await.unwrap().to_bytes();
        String::from_utf8(collected.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn rewrites_data_and_keeps_everything_else_byte_for_byte() {
        let stream = "id: 1\ndata: {\"a\":1}\n\n: a comment\nevent: x\ndata: keep\n\ndata:\n\n";
        let whole = run(&[stream.as_bytes()], upper()).await;
        assert_eq!(
            whole,
            "id: 1\ndata: {\"A\":1}\n\n: a comment\nevent: x\ndata: keep\n\ndata:\n\n"
        );
        // Split at every byte: the same.
        let bytes = stream.as_bytes();
        let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(run(&chunks, upper()).await, whole);
    }

    #[tokio::test]
    async fn every_line_ending_and_multi_line_data() {
        let crlf = "data: {\"a\":\r\ndata: 1}\r\nid: 7\r\n\r\n";
        assert_eq!(run(&[crlf.as_bytes()], upper()).await, "data: {\"A\":1}\nid: 7\n\n");
        // A CR at the end of a frame, its LF in the next: not a blank line.
        let split: [&[u8]; 3] = [b"data: {\"b\":2}\r", b"\nid: 8\r", b"\n\r\n"];
        assert_eq!(run(&split, upper()).await, "data: {\"B\":2}\nid: 8\n\n");
        let cr = "data: {\"c\":3}\r\r";
        assert_eq!(run(&[cr.as_bytes()], upper()).await, "data: {\"C\":3}\n\n");
        // An unfinished event at the end is passed on as it is.
        let unfinished = "data: {\"d\":4}\n\ndata: {\"e\"";
        assert_eq!(run(&[unfinished.as_bytes()], upper()).await, "data: {\"D\":4}\n\ndata: {\"e\"");
        // `datum` is not `data`.
        assert_eq!(run(&[b"datum: {}\n\n"], upper()).await, "datum: {}\n\n");
    }
}
