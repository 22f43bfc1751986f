//! The HTTP/1.1 core every hello-world server shares: weft's `hello-http`
//! example and its twins in `benches/servers/` (tokio, smol, a bare mio
//! loop) include this file, so all of them answer byte for byte the same and
//! the benchmark compares only the runtimes.
//!
//! It is pure functions on byte slices: no I/O, no runtime, no allocation.
//! A server reads into a buffer, hands the filled part to [`respond`], writes
//! what `respond` appended to its output buffer with one write, drops the
//! bytes `respond` consumed from the front of the read buffer, and closes the
//! connection when `respond` says so.
//!
//! # What it accepts
//!
//! Requests without a body: `GET` (answered with `Hello, world!`) and `HEAD`
//! (the same headers, no body), HTTP/1.1 or HTTP/1.0, pipelined or not. The
//! rules, in the order they are checked:
//!
//! - Empty lines before a request line are skipped, as RFC 9112 §2.2 asks.
//! - The head (request line and headers, up to and including the blank
//!   line) may be at most [`MAX_HEAD`] bytes: past that without its end in
//!   sight, `431 Request Header Fields Too Large`.
//! - A request line that is not `METHOD SP TARGET SP HTTP/1.x`, a header
//!   line without a colon or with whitespace before it, a folded header line,
//!   any `Transfer-Encoding`, or a `Content-Length` that is not 0: `400 Bad
//!   Request`. A body cannot be skipped without reading it, and this server
//!   has no use for one.
//! - A method other than `GET` or `HEAD`: `405 Method Not Allowed`.
//! - Keep-alive as RFC 9112 §9.3 says: HTTP/1.1 keeps the connection open
//!   unless the request says `Connection: close`; HTTP/1.0 closes it unless
//!   the request says `Connection: keep-alive`. The response says so in a
//!   `Connection` header when it differs from the version's default.
//!
//! Every error response closes the connection: after a malformed request the
//! server cannot know where the next one starts. A missing `Host` header is
//! not an error here, so `printf 'GET / HTTP/1.1\r\n\r\n' | nc` works.

/// The longest request head accepted, terminator included (8 KiB, the limit
/// most servers use).
pub const MAX_HEAD: usize = 8 * 1024;

/// The read buffer a server should give each connection. Larger than
/// [`MAX_HEAD`]: after [`respond`] the unconsumed rest is always shorter than
/// `MAX_HEAD`, so there is room to read more of it.
pub const READ_BUF: usize = 2 * MAX_HEAD;

const BODY: &[u8] = b"Hello, world!";
const OK_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n";
const CONNECTION_CLOSE: &[u8] = b"Connection: close\r\n";
const CONNECTION_KEEP_ALIVE: &[u8] = b"Connection: keep-alive\r\n";
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const METHOD_NOT_ALLOWED: &[u8] =
    b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const HEAD_TOO_LARGE: &[u8] =
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// What [`respond`] did with its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes at the front of the input that were answered (or skipped);
    /// the caller drops them and keeps the rest for the next read.
    pub consumed: usize,
    /// Write the output, then close the connection; ignore the rest of the
    /// input.
    pub close: bool,
}

/// Answers every complete request at the front of `input`, appending one
/// response per request to `out`, and says how much of `input` it used and
/// whether the connection must close once `out` is written.
///
/// An incomplete request at the end is left for the next call, with more
/// bytes read after it. `out` is only appended to, so a caller that clears
/// and reuses one buffer never allocates once it has grown to fit a batch.
pub fn respond(input: &[u8], out: &mut Vec<u8>) -> Progress {
    let mut consumed = 0;
    loop {
        let rest = &input[consumed..];
        let blank = rest
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        // Skip whole empty lines only: a lone '\r' may be the start of one
        // whose '\n' has not arrived yet.
        let skip = if rest[..blank].ends_with(b"\r") {
            blank - 1
        } else {
            blank
        };
        consumed += skip;
        let rest = &rest[skip..];

        let Some(head_len) = find_head_end(rest) else {
            if rest.len() >= MAX_HEAD {
                out.extend_from_slice(HEAD_TOO_LARGE);
                return Progress {
                    consumed,
                    close: true,
                };
            }
            return Progress {
                consumed,
                close: false,
            };
        };
        consumed += head_len;
        let close = match parse_head(&rest[..head_len]) {
            Ok(request) => {
                write_ok(&request, out);
                !request.keep_alive
            }
            Err(Reject::BadRequest) => {
                out.extend_from_slice(BAD_REQUEST);
                true
            }
            Err(Reject::MethodNotAllowed) => {
                out.extend_from_slice(METHOD_NOT_ALLOWED);
                true
            }
        };
        if close {
            return Progress {
                consumed,
                close: true,
            };
        }
    }
}

/// Length of the head at the start of `input`, up to and including its
/// `\r\n\r\n`, if that lies within the first [`MAX_HEAD`] bytes.
fn find_head_end(input: &[u8]) -> Option<usize> {
    let window = &input[..input.len().min(MAX_HEAD)];
    // Check the three bytes before each '\n'; heads are short, and this
    // touches each byte once.
    let mut from = 3;
    while from < window.len() {
        let at = from + window[from..].iter().position(|&b| b == b'\n')?;
        if &window[at - 3..=at] == b"\r\n\r\n" {
            return Some(at + 1);
        }
        from = at + 1;
    }
    None
}

/// A request this server can answer.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    /// `HEAD`: send the headers without the body.
    head_only: bool,
    /// Keep the connection open after the response.
    keep_alive: bool,
    /// HTTP/1.0: keep-alive must be said, not implied.
    http10: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Reject {
    BadRequest,
    MethodNotAllowed,
}

/// Parses a complete head (ending in `\r\n\r\n`).
fn parse_head(head: &[u8]) -> Result<Request, Reject> {
    // Without the blank line at the end, every line ends in "\r\n".
    let mut lines = head[..head.len() - 2].split_inclusive(|&b| b == b'\n');
    let request_line = strip_crlf(lines.next().ok_or(Reject::BadRequest)?)?;
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Reject::BadRequest);
    };
    if method.is_empty() || target.is_empty() {
        return Err(Reject::BadRequest);
    }
    let http10 = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        _ => return Err(Reject::BadRequest),
    };

    let mut close = false;
    let mut keep_alive = false;
    for line in lines {
        let line = strip_crlf(line)?;
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(Reject::BadRequest)?;
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        // A folded line (leading whitespace) or whitespace before the colon
        // is a request smuggling vector; RFC 9112 §5.1 says reject it.
        if name.is_empty() || name.iter().any(|&b| b == b' ' || b == b'\t') {
            return Err(Reject::BadRequest);
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            if value.is_empty() || !value.iter().all(|&b| b == b'0') {
                return Err(Reject::BadRequest);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(Reject::BadRequest);
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in value.split(|&b| b == b',').map(trim) {
                close |= option.eq_ignore_ascii_case(b"close");
                keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }

    let head_only = match method {
        b"GET" => false,
        b"HEAD" => true,
        _ => return Err(Reject::MethodNotAllowed),
    };
    Ok(Request {
        head_only,
        keep_alive: !close && (!http10 || keep_alive),
        http10,
    })
}

fn write_ok(request: &Request, out: &mut Vec<u8>) {
    out.extend_from_slice(OK_HEAD);
    if !request.keep_alive {
        out.extend_from_slice(CONNECTION_CLOSE);
    } else if request.http10 {
        out.extend_from_slice(CONNECTION_KEEP_ALIVE);
    }
    out.extend_from_slice(b"\r\n");
    if !request.head_only {
        out.extend_from_slice(BODY);
    }
}

/// `line` without its `\r\n`: a bare `\n` is not a line end here, and a
/// bare `\r` inside the line is rejected (RFC 9112 §2.2 allows rejecting
/// it or reading it as a space; a parser in front of this one might have
/// ended the line there, so rejecting leaves no room for disagreement).
fn strip_crlf(line: &[u8]) -> Result<&[u8], Reject> {
    match line.strip_suffix(b"\r\n") {
        Some(line) if !line.contains(&b'\r') => Ok(line),
        _ => Err(Reject::BadRequest),
    }
}

/// `value` without leading and trailing spaces and tabs.
fn trim(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &value[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    const OK: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!";
    const OK_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nHello, world!";

    /// Runs `respond` on `input` with a fresh output buffer.
    fn run(input: &[u8]) -> (Progress, Vec<u8>) {
        let mut out = Vec::new();
        let progress = respond(input, &mut out);
        (progress, out)
    }

    fn keep(consumed: usize) -> Progress {
        Progress {
            consumed,
            close: false,
        }
    }

    fn close(consumed: usize) -> Progress {
        Progress {
            consumed,
            close: true,
        }
    }

    #[test]
    fn answers_one_get() {
        assert_eq!(run(GET), (keep(GET.len()), OK.to_vec()));
    }

    #[test]
    fn answers_what_wrk_sends() {
        let wrk = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
        assert_eq!(run(wrk), (keep(wrk.len()), OK.to_vec()));
    }

    #[test]
    fn waits_for_the_rest_of_a_request() {
        for cut in 0..GET.len() {
            assert_eq!(run(&GET[..cut]), (keep(0), Vec::new()), "cut at {cut}");
        }
    }

    #[test]
    fn answers_pipelined_requests_and_keeps_the_partial_one() {
        let mut input = [GET, GET, GET].concat();
        input.extend_from_slice(&GET[..10]);
        let (progress, out) = run(&input);
        assert_eq!(progress, keep(3 * GET.len()));
        assert_eq!(out, [OK, OK, OK].concat());
    }

    #[test]
    fn a_request_split_across_reads_is_answered_once_complete() {
        // What a server does: keep the unconsumed rest, append the next read.
        let input = [GET, GET].concat();
        for cut in 0..input.len() {
            let mut buf = input[..cut].to_vec();
            let mut out = Vec::new();
            let first = respond(&buf, &mut out);
            buf.drain(..first.consumed);
            buf.extend_from_slice(&input[cut..]);
            let second = respond(&buf, &mut out);
            assert!(!first.close && !second.close);
            assert_eq!(second.consumed, buf.len(), "cut at {cut}");
            assert_eq!(out, [OK, OK].concat(), "cut at {cut}");
        }
    }

    #[test]
    fn connection_close_closes_after_that_response() {
        let request = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
        let input = [GET, request, GET].concat();
        let (progress, out) = run(&input);
        assert_eq!(progress, close(GET.len() + request.len()));
        assert_eq!(out, [OK, OK_CLOSE].concat());
    }

    #[test]
    fn connection_options_are_case_insensitive_lists() {
        let request = b"GET / HTTP/1.1\r\nCONNECTION: Upgrade ,\tClose\r\n\r\n";
        assert_eq!(run(request), (close(request.len()), OK_CLOSE.to_vec()));
    }

    #[test]
    fn http10_closes_unless_asked_to_keep_alive() {
        let request = b"GET / HTTP/1.0\r\n\r\n";
        assert_eq!(run(request), (close(request.len()), OK_CLOSE.to_vec()));

        let request = b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
        let expected = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\n\r\nHello, world!";
        assert_eq!(run(request), (keep(request.len()), expected.to_vec()));
    }

    #[test]
    fn head_gets_the_headers_without_the_body() {
        let request = b"HEAD / HTTP/1.1\r\n\r\n";
        let (progress, out) = run(request);
        assert_eq!(progress, keep(request.len()));
        assert_eq!(out, &OK[..OK.len() - 13]);
    }

    #[test]
    fn content_length_zero_is_no_body() {
        let request = b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(run(request), (keep(request.len()), OK.to_vec()));
    }

    #[test]
    fn a_body_is_rejected_and_closes() {
        for request in [
            &b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"[..],
            b"POST / HTTP/1.1\r\ncontent-length: 1\r\n\r\nx",
            b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length:\r\n\r\n",
            b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"GET / HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n",
        ] {
            let (progress, out) = run(request);
            assert!(progress.close, "{:?}", String::from_utf8_lossy(request));
            assert_eq!(out, BAD_REQUEST);
        }
    }

    #[test]
    fn malformed_heads_are_rejected() {
        for request in [
            &b"GET /\r\n\r\n"[..],
            b"GET  / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1 extra\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
            b"GET / HTTP/1.1\nHost: x\r\n\r\n",
            // Bare CRs (found by ci/fuzz.sh: the first was answered 200,
            // with the target "HTTP/1.1\r").
            b"GET HTTP/1.1\r HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            b"GET /\r HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n",
        ] {
            let (progress, out) = run(request);
            let shown = String::from_utf8_lossy(request);
            assert_eq!(progress, close(request.len()), "{shown:?}");
            assert_eq!(out, BAD_REQUEST, "{shown:?}");
        }
    }

    #[test]
    fn other_methods_are_not_allowed() {
        let request = b"DELETE / HTTP/1.1\r\n\r\n";
        assert_eq!(
            run(request),
            (close(request.len()), METHOD_NOT_ALLOWED.to_vec())
        );
    }

    #[test]
    fn an_error_stops_the_batch() {
        let input = [GET, b"BREW / HTCPCP/1.0\r\n\r\n", GET].concat();
        let (progress, out) = run(&input);
        assert!(progress.close);
        assert_eq!(out, [OK, BAD_REQUEST].concat());
    }

    #[test]
    fn empty_lines_before_a_request_are_skipped() {
        let input = [&b"\r\n\r\n"[..], GET, b"\r\n", GET].concat();
        let (progress, out) = run(&input);
        assert_eq!(progress, keep(input.len()));
        assert_eq!(out, [OK, OK].concat());

        // A lone '\r' waits for its '\n'.
        let input = [GET, b"\r"].concat();
        assert_eq!(run(&input).0, keep(GET.len()));
    }

    #[test]
    fn a_head_of_max_size_is_accepted() {
        let mut request = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        request.resize(MAX_HEAD - 4, b'a');
        request.extend_from_slice(b"\r\n\r\n");
        assert_eq!(request.len(), MAX_HEAD);
        assert_eq!(run(&request), (keep(MAX_HEAD), OK.to_vec()));
    }

    #[test]
    fn a_head_past_the_limit_gets_431() {
        let mut request = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        request.resize(MAX_HEAD - 1, b'a');
        // One byte short of the limit, no end in sight yet: wait.
        assert_eq!(run(&request), (keep(0), Vec::new()));

        request.push(b'a');
        assert_eq!(run(&request), (close(0), HEAD_TOO_LARGE.to_vec()));

        // Complete, but one byte too long.
        request.truncate(MAX_HEAD - 3);
        request.extend_from_slice(b"\r\n\r\n");
        assert_eq!(run(&request), (close(0), HEAD_TOO_LARGE.to_vec()));
    }

    #[test]
    fn the_rest_always_fits_the_read_buffer() {
        // However a stream of requests is cut, what respond leaves is
        // shorter than MAX_HEAD, so a READ_BUF buffer always has room.
        let input = [GET; 400].concat();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for chunk in input.chunks(997) {
            buf.extend_from_slice(chunk);
            assert!(buf.len() <= READ_BUF);
            let progress = respond(&buf, &mut out);
            assert!(!progress.close);
            buf.drain(..progress.consumed);
            assert!(buf.len() < MAX_HEAD);
        }
        assert_eq!(out.len(), 400 * OK.len());
    }

    #[test]
    fn answering_does_not_allocate() {
        let input = [
            GET,
            GET,
            b"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        ]
        .concat();
        let mut out = Vec::with_capacity(4096);
        let before = counting_alloc::allocations_on_this_thread();
        for _ in 0..100 {
            out.clear();
            respond(&input, &mut out);
            respond(b"GET / HTTP/1.1\r\nContent-Length: 9\r\n\r\n", &mut out);
        }
        assert_eq!(counting_alloc::allocations_on_this_thread(), before);
    }

    /// The system allocator, counting allocations per thread so that tests
    /// running in parallel do not disturb each other's count.
    mod counting_alloc {
        use std::alloc::{GlobalAlloc, Layout, System};
        use std::cell::Cell;

        struct Counting;

        thread_local! {
            // const-initialised and without Drop: reading it never allocates.
            static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
        }

        #[global_allocator]
        static ALLOCATOR: Counting = Counting;

        // SAFETY: every method forwards to the system allocator unchanged;
        // counting touches only a thread-local integer.
        unsafe impl GlobalAlloc for Counting {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                ALLOCATIONS.with(|n| n.set(n.get() + 1));
                // SAFETY: the caller upholds alloc's contract, which we pass on.
                unsafe { System.alloc(layout) }
            }

            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                // SAFETY: ptr came from System.alloc with this layout.
                unsafe { System.dealloc(ptr, layout) }
            }

            unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
                ALLOCATIONS.with(|n| n.set(n.get() + 1));
                // SAFETY: ptr came from System.alloc with this layout; the
                // caller upholds realloc's contract for new_size.
                unsafe { System.realloc(ptr, layout, new_size) }
            }
        }

        pub fn allocations_on_this_thread() -> u64 {
            ALLOCATIONS.with(Cell::get)
        }
    }
}
