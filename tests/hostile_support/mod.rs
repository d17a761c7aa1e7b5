//! Tools for the hostile-client tests.
//!
//! - [`GoodClient`] is a well-behaved MCP client (Streamable HTTP or legacy SSE) whose every
//!   check is a `/health` probe and a `tools/call` round trip, each verified and timed.
//!   [`GoodLoop`] runs one in a thread for as long as an attack lasts.
//! - [`Trickle`] is an attack connection that sends a script a few bytes at a time and notes
//!   when the server closes it; [`open_idle`] opens connections that send nothing.
//! - [`exchange`] writes raw bytes and collects every response that comes back, for framing
//!   and smuggling checks.
//! - [`rss_kib`] and [`affordable`] keep the attacks honest about memory and file descriptors.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{TIMEOUT, preview};
use crate::http_support::{
    Conn, HttpServer, LATEST, Request, Response, SseStream, initialize, result_of, rpc,
};

/// The longest one request of the well-behaved client may take while an attack runs.
pub const GOOD_LATENCY: Duration = Duration::from_secs(2);

/// Resident memory of process `pid` in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// The soft limit on open files of this process (`Max open files` in `/proc/self/limits`).
pub fn open_files_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

/// `wanted` attack connections, or fewer when they would not fit in a quarter of the
/// open-files limit (the tests of one file share a process and run in parallel).
pub fn affordable(wanted: usize) -> usize {
    let budget = (open_files_limit().saturating_sub(64) / 4) as usize;
    wanted.min(budget).max(1)
}

/// A well-behaved client of one server.
pub struct GoodClient {
    addr: SocketAddr,
    token: Option<String>,
    next_id: i64,
    /// The number of checks done so far.
    pub checks: usize,
    /// The slowest single request so far.
    pub slowest: Duration,
    kind: Kind,
}

enum Kind {
    /// Streamable HTTP: the session (none when stateless) and, when it keeps one, the
    /// connection every request goes over.
    Streamable {
        session: Option<String>,
        conn: Option<Conn>,
    },
    /// Legacy SSE: its own stream and the session id the stream announced.
    Sse { stream: Box<SseStream>, id: String },
}

impl GoodClient {
    /// A Streamable HTTP client that opens a new connection for every request.
    pub fn streamable(s: &HttpServer, token: Option<&str>) -> Self {
        Self::new_streamable(s, token, false)
    }

    /// A Streamable HTTP client that sends everything over one kept-alive connection.
    pub fn streamable_keep_alive(s: &HttpServer, token: Option<&str>) -> Self {
        Self::new_streamable(s, token, true)
    }

    fn new_streamable(s: &HttpServer, token: Option<&str>, keep_alive: bool) -> Self {
        let mut c = Self {
            addr: s.addr(),
            token: token.map(str::to_string),
            next_id: 1,
            checks: 0,
            slowest: Duration::ZERO,
            kind: Kind::Streamable {
                session: None,
                conn: keep_alive.then(|| s.connect()),
            },
        };
        let reply = c.post(&initialize(0, Some(LATEST)));
        reply.expect(200);
        assert_eq!(result_of(&reply.json(), 0)["protocolVersion"], LATEST);
        if let Kind::Streamable { session, .. } = &mut c.kind {
            *session = reply.session_id().map(str::to_string);
        }
        c
    }

    /// A legacy SSE client on its own `/sse` stream.
    pub fn sse(s: &HttpServer, token: Option<&str>) -> Self {
        let mut req = Request::sse("/sse");
        if let Some(t) = token {
            req = req.bearer(t);
        }
        let mut stream = SseStream::open(s.addr(), &req);
        let endpoint = stream.next_event();
        assert_eq!(endpoint.event.as_deref(), Some("endpoint"), "{endpoint:?}");
        let data = endpoint.data.unwrap_or_default();
        let id = data
            .split_once("sessionId=")
            .unwrap_or_else(|| panic!("no sessionId in {data:?}"))
            .1
            .to_string();
        Self {
            addr: s.addr(),
            token: token.map(str::to_string),
            next_id: 1,
            checks: 0,
            slowest: Duration::ZERO,
            kind: Kind::Sse {
                stream: Box::new(stream),
                id,
            },
        }
    }

    /// The Streamable HTTP session, if there is one.
    pub fn session(&self) -> Option<&str> {
        match &self.kind {
            Kind::Streamable { session, .. } => session.as_deref(),
            Kind::Sse { .. } => None,
        }
    }

    fn authorized(&self, req: Request) -> Request {
        match &self.token {
            Some(t) => req.bearer(t),
            None => req,
        }
    }

    /// Sends `req` on this client's connection (or a new one) and returns the response.
    fn send(&mut self, req: Request) -> Response {
        let req = self.authorized(req);
        let addr = self.addr;
        match &mut self.kind {
            Kind::Streamable {
                conn: Some(conn), ..
            } => conn.send(&req),
            _ => Conn::open(addr).send(&req),
        }
    }

    /// POSTs a JSON-RPC message to the Streamable HTTP endpoint.
    fn post(&mut self, message: &Value) -> Response {
        let mut req = Request::mcp("/mcp", message);
        if let Kind::Streamable {
            session: Some(id), ..
        } = &self.kind
        {
            req = req.session(id).protocol(LATEST);
        }
        self.send(req)
    }

    fn timed<T>(&mut self, what: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        let started = Instant::now();
        let out = f(self);
        let took = started.elapsed();
        assert!(
            took <= GOOD_LATENCY,
            "the well-behaved client's {what} took {took:?} (more than {GOOD_LATENCY:?})"
        );
        self.slowest = self.slowest.max(took);
        out
    }

    /// One `/health` probe and one `tools/call` round trip, each checked and within
    /// [`GOOD_LATENCY`].
    pub fn check(&mut self) {
        let health = self.timed("GET /health", |c| c.send(Request::get("/health")));
        health.expect(200);
        assert_eq!(health.json()["status"], "healthy", "{}", health.text());
        let id = self.next_id;
        self.next_id += 1;
        let arg = format!("good-{id}");
        let call = rpc(
            id,
            "tools/call",
            json!({"name": "benchmark_tool_3", "arguments": {"param1": arg}}),
        );
        let reply = self.timed("tools/call", |c| c.round_trip(&call));
        assert_tool_reply(&reply, id, "benchmark_tool_3", &json!({"param1": arg}));
        self.checks += 1;
    }

    /// Sends a request and returns its JSON-RPC reply, over either transport.
    fn round_trip(&mut self, message: &Value) -> Value {
        match &self.kind {
            Kind::Streamable { .. } => {
                let r = self.post(message);
                r.expect(200);
                r.message()
            }
            Kind::Sse { id, .. } => {
                let target = format!("/messages?sessionId={id}");
                let req = Request::post(&target, message.to_string())
                    .header("Content-Type", "application/json");
                let r = self.send(req);
                r.expect(202);
                let Kind::Sse { stream, .. } = &mut self.kind else {
                    unreachable!()
                };
                let left = GOOD_LATENCY.saturating_sub(Duration::from_millis(1));
                loop {
                    let e = stream
                        .try_next(left)
                        .unwrap_or_else(|why| panic!("no reply on the SSE stream: {why:?}"));
                    if !e.is_comment() {
                        assert_eq!(e.event.as_deref(), Some("message"), "{e:?}");
                        return e.json();
                    }
                }
            }
        }
    }
}

/// Asserts `reply` is the `tools/call` result for `id` on `tool`, echoing `arguments`.
#[track_caller]
pub fn assert_tool_reply(reply: &Value, id: i64, tool: &str, arguments: &Value) {
    let result = result_of(reply, id);
    let text = result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text content: {}", preview(&reply.to_string())));
    let inner: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("tool text is not JSON ({e}): {}", preview(text)));
    assert_eq!(inner["tool"], tool, "{}", preview(text));
    assert_eq!(&inner["arguments"], arguments, "{}", preview(text));
    let data = inner["data"].as_str().unwrap_or("");
    assert!(
        data.starts_with(&format!("Response from {tool}.")),
        "{}",
        preview(text)
    );
}

/// A [`GoodClient`] checking in a loop on its own thread until [`GoodLoop::finish`].
pub struct GoodLoop {
    /// Checks to reach before the loop ends (`usize::MAX` while the attack runs).
    until: Arc<AtomicUsize>,
    handle: JoinHandle<GoodClient>,
}

impl GoodLoop {
    pub fn spawn(mut client: GoodClient) -> Self {
        let until = Arc::new(AtomicUsize::new(usize::MAX));
        let target = until.clone();
        let handle = thread::spawn(move || {
            while client.checks < target.load(Ordering::Relaxed) {
                client.check();
                thread::sleep(Duration::from_millis(50));
            }
            client
        });
        Self { until, handle }
    }

    /// Whether the loop is still running (a failed check ends it).
    pub fn is_running(&self) -> bool {
        !self.handle.is_finished()
    }

    /// Stops the loop once it has done at least `min_checks` checks and returns the client; a
    /// failed check fails the caller here.
    pub fn finish(self, min_checks: usize) -> GoodClient {
        self.until.store(min_checks, Ordering::Relaxed);
        match self.handle.join() {
            Ok(c) => c,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Attack connections opened between two waits for the server to catch up.
pub const BATCH: usize = 50;

/// Opens `n` attack connections with `open` (given each one's index), [`BATCH`] at a time,
/// and after each batch waits until the server has accepted it. The listen queue is short
/// (128), and a burst of connects that overflows it gets SYNs dropped and retried a second
/// later, for the attacker and the well-behaved client alike: pacing keeps the measurements
/// about the attack, not about the kernel's retries.
pub fn open_in_batches<T>(addr: SocketAddr, n: usize, mut open: impl FnMut(usize) -> T) -> Vec<T> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(open(i));
        if (i + 1) % BATCH == 0 {
            settle(addr);
        }
    }
    settle(addr);
    out
}

/// Returns once a connection opened now has been accepted: it is answered (a 503 past the
/// connection limit counts, and so does a reset after one) after every connection queued
/// before it.
pub fn settle(addr: SocketAddr) {
    let mut c = Conn::open(addr);
    c.write_request(&Request::get("/health"));
    if let Err(e) = c.try_read_head(Instant::now() + TIMEOUT, false) {
        assert_ne!(e.kind(), ErrorKind::TimedOut, "the server accepts nothing");
    }
}

/// Opens `n` connections that send nothing (see [`open_in_batches`]).
pub fn open_idle(addr: SocketAddr, n: usize) -> Vec<Conn> {
    open_in_batches(addr, n, |_| Conn::open(addr))
}

/// An attack connection that sends its script a few bytes at a time.
pub struct Trickle {
    stream: TcpStream,
    script: Vec<u8>,
    sent: usize,
    /// When the connection was opened.
    pub opened: Instant,
    /// When the server was first seen to have closed it.
    pub closed: Option<Instant>,
    /// Whatever the server sent.
    pub received: Vec<u8>,
}

impl Trickle {
    pub fn open(addr: SocketAddr, script: Vec<u8>) -> Self {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT)
            .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
        stream.set_nodelay(true).unwrap();
        stream.set_nonblocking(true).unwrap();
        Self {
            stream,
            script,
            sent: 0,
            opened: Instant::now(),
            closed: None,
            received: Vec::new(),
        }
    }

    /// Bytes of the script sent so far.
    pub fn sent(&self) -> usize {
        self.sent
    }

    pub fn is_done(&self) -> bool {
        self.sent == self.script.len()
    }

    /// Sends up to `n` more bytes of the script, then looks for data or a close from the
    /// server.
    pub fn step(&mut self, n: usize) {
        if self.closed.is_some() {
            return;
        }
        let end = (self.sent + n).min(self.script.len());
        if end > self.sent {
            match self.stream.write(&self.script[self.sent..end]) {
                Ok(k) => self.sent += k,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => {
                    self.closed = Some(Instant::now());
                    return;
                }
            }
        }
        self.poll();
    }

    /// Reads whatever the server sent; notes a close.
    pub fn poll(&mut self) {
        let mut buf = [0u8; 16 * 1024];
        while self.closed.is_none() {
            match self.stream.read(&mut buf) {
                Ok(0) => self.closed = Some(Instant::now()),
                Ok(k) => self.received.extend_from_slice(&buf[..k]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.closed = Some(Instant::now()),
            }
        }
    }
}

/// What came back for some raw bytes: every complete response, and whether the server closed
/// the connection.
#[derive(Debug)]
pub struct Exchange {
    pub responses: Vec<Response>,
    pub closed: bool,
}

impl Exchange {
    pub fn statuses(&self) -> Vec<u16> {
        self.responses.iter().map(|r| r.status()).collect()
    }

    /// Whether any response carries `needle` in its body.
    pub fn any_body_contains(&self, needle: &str) -> bool {
        self.responses.iter().any(|r| r.text().contains(needle))
    }
}

/// Writes `bytes` (small enough for the socket buffers, so the write cannot fail) on a new
/// connection, then reads responses until the server closes the connection or stays silent
/// for `quiet`.
pub fn exchange(addr: SocketAddr, bytes: &[u8], quiet: Duration) -> Exchange {
    assert!(bytes.len() <= 32 * 1024, "use blast for big requests");
    let mut conn = Conn::open(addr);
    conn.write(bytes);
    read_exchange(&mut conn, quiet)
}

/// What a big hostile request got: the status of the first response, if one arrived, and
/// whether the connection was closed (or reset) first.
#[derive(Debug)]
pub struct Blast {
    pub status: Option<u16>,
    pub closed: bool,
    pub received: Vec<u8>,
}

/// Writes as much of `bytes` as the server takes on a new connection (a server that refuses
/// early may close or reset it meanwhile), then reads until a response head has arrived, the
/// connection closes or `wait` passes.
pub fn blast(addr: SocketAddr, bytes: &[u8], wait: Duration) -> Blast {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    let mut closed = stream.write_all(bytes).is_err();
    let deadline = Instant::now() + wait;
    let mut received = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while !closed {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => closed = true,
            Ok(k) => {
                received.extend_from_slice(&buf[..k]);
                // The head says all there is to know; a kept-alive connection stays open.
                if received.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => closed = true,
        }
    }
    let status = received
        .strip_prefix(b"HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok());
    Blast {
        status,
        closed,
        received,
    }
}

/// Reads responses from `conn` until it closes or stays silent for `quiet`.
pub fn read_exchange(conn: &mut Conn, quiet: Duration) -> Exchange {
    let mut responses = Vec::new();
    loop {
        match conn.try_read_head(Instant::now() + quiet, false) {
            Ok(head) => {
                let body = conn
                    .try_read_body(Instant::now() + TIMEOUT)
                    .unwrap_or_else(|e| {
                        panic!("reading the body of a {} response: {e}", head.status)
                    });
                responses.push(Response { head, body });
            }
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                return Exchange {
                    responses,
                    closed: false,
                };
            }
            Err(e) if e.kind() == ErrorKind::InvalidData => panic!("malformed response: {e}"),
            Err(_) => {
                return Exchange {
                    responses,
                    closed: true,
                };
            }
        }
    }
}
