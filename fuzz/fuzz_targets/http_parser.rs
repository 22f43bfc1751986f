//! Fuzzes the HTTP/1.1 core of the hello-world servers
//! (`examples/http/mod.rs`) with arbitrary bytes from the network.
//!
//! The input is the byte stream a client sends, taken raw so that plain
//! HTTP files work as seeds. It is answered once whole (one `respond` over
//! all of it) and then through the read loop of `examples/hello-http.rs`
//! with the stream cut into reads several ways: a byte at a time (short
//! inputs), after every `\r` and `\n`, and at sizes from a generator seeded
//! by the input. Checked, as the module documents it:
//!
//! - `respond` does not panic, `consumed <= input.len()`, and `out` is only
//!   appended to.
//! - It answers every complete request at the front and waits only for an
//!   incomplete one shorter than `MAX_HEAD`: the unconsumed rest holds no
//!   head end and is shorter than `MAX_HEAD`, so a `READ_BUF` buffer always
//!   has room for the next read.
//! - The output is well-formed HTTP/1.1: one response per request head, each
//!   a status line, `Name: value` headers and a body of exactly
//!   `Content-Length` bytes (none for `HEAD`). Status and body fit the
//!   request: 200 only for `GET`/`HEAD` with a body only for `GET`, 405 with
//!   `Allow` only for other methods, 431 only for an oversized head. Error
//!   responses and `Connection: close` end the output and set `close`.
//!   A plainly valid `GET`/`HEAD` (no body, connection or framing headers)
//!   gets a 200 that keeps the connection open.
//! - Cut into reads any way, the stream gets the same responses, the same
//!   `close` and the same unconsumed rest as when answered whole.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../examples/http/mod.rs"]
mod http;

use http::{respond, Progress, MAX_HEAD, READ_BUF};

/// What a stream of reads came to.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// Every byte the server wrote.
    out: Vec<u8>,
    /// Whether `respond` asked to close.
    close: bool,
    /// The unconsumed bytes left in the buffer (when not closed).
    rest: Vec<u8>,
}

fuzz_target!(|data: &[u8]| {
    let whole = answer_whole(data);

    if data.len() <= 1024 {
        check_same(
            data,
            "a byte a read",
            &whole,
            serve(data, &vec![1; data.len()]),
        );
    }
    let mut cuts = Vec::new();
    let mut last = 0;
    for (at, &b) in data.iter().enumerate() {
        if b == b'\r' || b == b'\n' {
            cuts.push(at + 1 - last);
            last = at + 1;
        }
    }
    cuts.push(data.len() - last);
    check_same(
        data,
        "reads cut after each CR and LF",
        &whole,
        serve(data, &cuts),
    );

    let mut rng = SplitMix(fnv1a(data));
    for max in [16, 300, READ_BUF] {
        let mut sizes = Vec::new();
        let mut left = data.len();
        while left > 0 {
            let size = (1 + rng.next() as usize % max).min(left);
            sizes.push(size);
            left -= size;
        }
        let what = format!("random reads of at most {max} bytes ({sizes:?})");
        check_same(data, &what, &whole, serve(data, &sizes));
    }
});

/// One `respond` over all of `input`, with every check on its result.
fn answer_whole(input: &[u8]) -> Outcome {
    const EARLIER: &[u8] = b"earlier output\r\n";
    let mut out = EARLIER.to_vec();
    let progress = respond(input, &mut out);
    assert!(
        out.starts_with(EARLIER),
        "respond changed what was already in out"
    );
    let out = out.split_off(EARLIER.len());
    check_response(input, progress, &out);
    let rest = if progress.close {
        Vec::new()
    } else {
        input[progress.consumed..].to_vec()
    };
    Outcome {
        out,
        close: progress.close,
        rest,
    }
}

/// Feeds `input` to the read loop of `examples/hello-http.rs`, the stream
/// arriving in pieces of `sizes` bytes (a read takes at most what fits the
/// buffer, the rest of the piece comes with the next read).
fn serve(input: &[u8], sizes: &[usize]) -> Outcome {
    let mut buf = vec![0; READ_BUF];
    let mut filled = 0;
    let mut written = Vec::new();
    let mut out = Vec::new();
    let mut offset = 0;
    for &size in sizes {
        let mut piece = &input[offset..offset + size];
        offset += size;
        while !piece.is_empty() {
            let room = READ_BUF - filled;
            // A read into no room returns 0, which the server takes as EOF.
            assert!(
                room > 0,
                "the read buffer is full: {filled} bytes unconsumed"
            );
            let n = room.min(piece.len());
            buf[filled..filled + n].copy_from_slice(&piece[..n]);
            piece = &piece[n..];
            filled += n;
            let progress = respond(&buf[..filled], &mut out);
            check_response(&buf[..filled], progress, &out);
            written.append(&mut out);
            if progress.close {
                return Outcome {
                    out: written,
                    close: true,
                    rest: Vec::new(),
                };
            }
            buf.copy_within(progress.consumed..filled, 0);
            filled -= progress.consumed;
        }
    }
    Outcome {
        out: written,
        close: false,
        rest: buf[..filled].to_vec(),
    }
}

fn check_same(input: &[u8], how: &str, whole: &Outcome, cut: Outcome) {
    assert!(
        *whole == cut,
        "input {:?} answered differently whole and in {how}:\nwhole: {}\ncut:   {}",
        String::from_utf8_lossy(input),
        show(whole),
        show(&cut),
    );
}

fn show(outcome: &Outcome) -> String {
    format!(
        "close {}, rest {:?}, out {:?}",
        outcome.close,
        String::from_utf8_lossy(&outcome.rest),
        String::from_utf8_lossy(&outcome.out)
    )
}

/// Checks one call's result: how much it consumed, the rest it left, and
/// its responses against the request heads it consumed.
fn check_response(input: &[u8], progress: Progress, out: &[u8]) {
    let Progress { consumed, close } = progress;
    assert!(
        consumed <= input.len(),
        "consumed {consumed} of {} bytes",
        input.len()
    );
    let rest = &input[consumed..];
    if !close {
        assert!(
            rest.len() < MAX_HEAD,
            "waits with {} bytes unconsumed, MAX_HEAD is {MAX_HEAD}",
            rest.len()
        );
        assert!(
            find(rest, b"\r\n\r\n").is_none(),
            "left a complete request head unanswered: {:?}",
            String::from_utf8_lossy(rest)
        );
    }

    let responses = parse_responses(out);
    // The request heads answered, in order: skip empty lines, then up to
    // and including the first "\r\n\r\n".
    let mut at = 0;
    for (i, response) in responses.iter().enumerate() {
        let last = i + 1 == responses.len();
        at += skip_empty_lines(&input[at..]);
        let head_end = find(&input[at..], b"\r\n\r\n").map(|end| end + 4);
        if response.status == 431 {
            assert!(last, "431 is not the last response");
            assert!(
                head_end.is_none_or(|end| end > MAX_HEAD) && input.len() - at >= MAX_HEAD,
                "431 for a head within MAX_HEAD"
            );
            assert_eq!(
                consumed, at,
                "431: consumed is not the start of the oversized head"
            );
            assert!(close, "431 without close");
            break;
        }
        let end = head_end.expect("a response without a complete request head");
        assert!(end <= MAX_HEAD, "answered a head of {end} bytes");
        check_fits(&input[at..at + end], response);
        at += end;
        if last {
            // Waiting, respond also drops the empty lines after the last head.
            let expected = if close {
                at
            } else {
                at + skip_empty_lines(&input[at..])
            };
            assert_eq!(
                consumed, expected,
                "consumed is not the end of the last answered head"
            );
        }
        let closes = response.header("connection") == Some(b"close".as_slice());
        assert_eq!(
            closes,
            last && close,
            "Connection: close must end the output and set close"
        );
    }
    if responses.is_empty() {
        assert!(!close, "close without a response");
        assert_eq!(
            consumed,
            skip_empty_lines(input),
            "consumed more than empty lines without answering"
        );
    }
}

/// One response as it appeared in the output.
#[derive(Debug)]
struct Response<'a> {
    status: u16,
    headers: Vec<(&'a [u8], &'a [u8])>,
    body: &'a [u8],
}

impl Response<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|&(_, v)| v)
    }
}

/// Splits `out` into well-formed HTTP/1.1 responses, or panics saying what
/// is wrong.
fn parse_responses(mut out: &[u8]) -> Vec<Response<'_>> {
    let mut responses = Vec::new();
    while !out.is_empty() {
        let shown = String::from_utf8_lossy(out).into_owned();
        let line_end =
            find(out, b"\r\n").unwrap_or_else(|| panic!("no status line end: {shown:?}"));
        let status_line = &out[..line_end];
        out = &out[line_end + 2..];
        let status = match status_line {
            b"HTTP/1.1 200 OK" => 200,
            b"HTTP/1.1 400 Bad Request" => 400,
            b"HTTP/1.1 405 Method Not Allowed" => 405,
            b"HTTP/1.1 431 Request Header Fields Too Large" => 431,
            _ => panic!("bad status line in {shown:?}"),
        };
        let mut headers = Vec::new();
        loop {
            let end = find(out, b"\r\n").unwrap_or_else(|| panic!("unterminated head: {shown:?}"));
            let line = &out[..end];
            out = &out[end + 2..];
            if line.is_empty() {
                break;
            }
            let colon = find(line, b": ").unwrap_or_else(|| panic!("bad header line: {shown:?}"));
            let (name, value) = (&line[..colon], &line[colon + 2..]);
            assert!(
                !name.is_empty() && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-'),
                "bad header name: {shown:?}"
            );
            assert!(
                headers
                    .iter()
                    .all(|(n, _): &(&[u8], &[u8])| !n.eq_ignore_ascii_case(name)),
                "repeated header: {shown:?}"
            );
            headers.push((name, value));
        }
        let length = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(b"content-length"))
            .unwrap_or_else(|| panic!("no Content-Length: {shown:?}"))
            .1;
        let length: usize = std::str::from_utf8(length)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad Content-Length: {shown:?}"));
        // A response to HEAD has the headers of a GET and no body: the next
        // response (or the end) follows its head.
        let body_len = if out.is_empty() || out.starts_with(b"HTTP/1.1 ") {
            0
        } else {
            length
        };
        assert!(
            out.len() >= body_len,
            "body shorter than Content-Length: {shown:?}"
        );
        let body = &out[..body_len];
        out = &out[body_len..];
        responses.push(Response {
            status,
            headers,
            body,
        });
    }
    responses
}

/// Checks that `response` fits the request `head` it answers.
fn check_fits(head: &[u8], response: &Response<'_>) {
    let shown = String::from_utf8_lossy(head);
    let method = &head[..head.iter().position(|&b| b == b' ').unwrap_or(head.len())];
    match response.status {
        200 => {
            assert_eq!(response.header("content-length"), Some(b"13".as_slice()));
            match method {
                b"GET" => assert_eq!(response.body, b"Hello, world!", "GET {shown:?}"),
                b"HEAD" => assert!(response.body.is_empty(), "body for HEAD {shown:?}"),
                _ => panic!("200 for {shown:?}"),
            }
            let request_line = &head[..find(head, b"\r\n").unwrap()];
            let http10 = request_line.ends_with(b" HTTP/1.0");
            match response.header("connection") {
                None => assert!(!http10, "HTTP/1.0 keep-alive unsaid: {shown:?}"),
                Some(b"close") => {}
                Some(b"keep-alive") => assert!(http10, "keep-alive said to HTTP/1.1: {shown:?}"),
                Some(other) => panic!("Connection: {:?}", String::from_utf8_lossy(other)),
            }
        }
        400 | 405 | 431 => {
            assert_eq!(response.header("content-length"), Some(b"0".as_slice()));
            assert_eq!(response.header("connection"), Some(b"close".as_slice()));
            assert!(response.body.is_empty());
            if response.status == 405 {
                assert!(method != b"GET" && method != b"HEAD", "405 for {shown:?}");
                assert_eq!(response.header("allow"), Some(b"GET, HEAD".as_slice()));
            }
        }
        _ => unreachable!(),
    }
    // A bare CR anywhere in the head (RFC 9112 §2.2) is rejected.
    let lines = &head[..head.len() - 2];
    if (0..lines.len()).any(|i| lines[i] == b'\r' && lines.get(i + 1) != Some(&b'\n')) {
        assert_eq!(response.status, 400, "a bare CR accepted: {shown:?}");
    }
    if plainly_valid(head) {
        assert_eq!(response.status, 200, "a valid request refused: {shown:?}");
        assert_eq!(response.header("connection"), None, "{shown:?}");
    }
}

/// A `GET` or `HEAD` an HTTP/1.1 server must answer and keep the
/// connection open after: a simple request line and `token: value` headers
/// other than those about the body or the connection.
fn plainly_valid(head: &[u8]) -> bool {
    // Without the blank line at the end, every line must end in "\r\n".
    let mut lines = head[..head.len() - 2].split_inclusive(|&b| b == b'\n');
    let Some(request_line) = lines.next().and_then(|l| l.strip_suffix(b"\r\n")) else {
        return false;
    };
    let parts: Vec<&[u8]> = request_line.split(|&b| b == b' ').collect();
    let [method, target, b"HTTP/1.1"] = parts[..] else {
        return false;
    };
    if !(method == b"GET" || method == b"HEAD")
        || target.is_empty()
        || !target.iter().all(u8::is_ascii_graphic)
    {
        return false;
    }
    lines.all(|line| {
        let Some(line) = line.strip_suffix(b"\r\n") else {
            return false;
        };
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return false;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
        !name.is_empty()
            && name.iter().all(tchar)
            && value.iter().all(|&b| b != b'\r' && b != b'\n')
            && !["content-length", "transfer-encoding", "connection"]
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
    })
}

/// How many bytes of empty lines `respond` skips at the front of `input`:
/// a run of `\r` and `\n`, less a final `\r` that may start a line whose
/// `\n` is still to come.
fn skip_empty_lines(input: &[u8]) -> usize {
    let run = input
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    if run > 0 && input[run - 1] == b'\r' {
        run - 1
    } else {
        run
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// FNV-1a: seeds the read sizes from the input, so a crash reproduces.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// SplitMix64: the read sizes.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
