//! End-to-end load benchmark over Streamable HTTP and legacy HTTP+SSE: starts the server binary,
//! drives it from one load-generator thread (a tokio current-thread runtime, like `wrk -t1`)
//! over keep-alive connections, and reports what the clients see and what the server spent.
//!
//! Sections (`cargo bench --bench e2e_http -- [load] [memory] [scaling]`, all by default):
//!
//! * `load`: closed-loop `tools/call` (1,000-byte payload) from 64 connections for a fixed
//!   time, over Streamable HTTP (stateless, and with 64 `memory` sessions, one per
//!   connection) and legacy SSE (64 sessions, each a `GET /sse` stream plus a keep-alive POST
//!   connection): calls/s, latency p50/p90/p99/p99.9, server CPU time per call
//!   (`/proc/<pid>/stat` utime+stime), load-generator CPU per call, server peak RSS
//!   (`VmHWM`). The same load generator against a trivial in-process hyper server that
//!   answers every POST with a fixed 1.2 KB body shows the generator's own ceiling.
//! * `memory`: peak RSS at `-tools=100000 -resources=50000 -prompts=10000` after 100
//!   concurrent sessions each received full `tools/list`, `resources/list` and
//!   `prompts/list`, over Streamable HTTP and SSE.
//! * `scaling`: full `tools/list` time and size for 1,000 … 1,024,000 tools (doublings), and
//!   `tools/call` latency and throughput for payloads of 1 B … 10 MB (decades), over stdio and
//!   Streamable HTTP.
//!
//! The HTTP client is a minimal HTTP/1.1 implementation over tokio sockets (fixed request bytes,
//! `Content-Length` and chunked bodies), so the generator costs little per call and needs no
//! HTTP client dependency. Every figure is the median of repeated runs, one server process per
//! run, configurations interleaved round by round; min and max are shown beside it.
//!
//! Without `--bench` (under `cargo test --all-targets`) every section runs once against the
//! debug binary with tiny loads, in a few seconds, checking every reply.

#[allow(dead_code)]
mod common;
#[path = "common/svg.rs"]
mod svg;

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::*;

/// How much work each section does: full figures under `cargo bench`, a quick check otherwise.
#[derive(Clone, Copy)]
struct Plan {
    quick: bool,
    connections: usize,
    warmup: Duration,
    measure: Duration,
    rounds: usize,
    memory_sessions: usize,
    memory_runs: usize,
}

const FULL: Plan = Plan {
    quick: false,
    connections: 64,
    warmup: Duration::from_millis(500),
    measure: Duration::from_secs(3),
    rounds: 5,
    memory_sessions: 100,
    memory_runs: 3,
};

const QUICK: Plan = Plan {
    quick: true,
    connections: 4,
    warmup: Duration::from_millis(20),
    measure: Duration::from_millis(150),
    rounds: 1,
    memory_sessions: 4,
    memory_runs: 1,
};

/// The tools/call load: 1,000-byte payloads (the default `-tool-size`).
const CALLS: &[&str] = &[
    "-tools=1000",
    "-tool-size=1000",
    "-resources=0",
    "-prompts=0",
];
const XLARGE: &[&str] = &["-tools=100000", "-resources=50000", "-prompts=10000"];

const CALL_BODY: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"benchmark_tool_7","arguments":{"param1":"value1","param2":"value2"}}}"#;

fn main() {
    let bin = server_binary();
    let sections: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |s: &str| sections.is_empty() || sections.iter().any(|a| a == s);
    let plan = if bench_mode() { FULL } else { QUICK };
    if !plan.quick {
        warn_if_debug("e2e_http", &bin);
    }
    let started = Instant::now();
    let load_before = load_average();
    let mut out = String::new();
    if wanted("load") {
        out.push_str(&load(&bin, plan));
    }
    if wanted("memory") {
        out.push_str(&memory(&bin, plan));
    }
    if wanted("scaling") {
        out.push_str(&scaling(&bin, plan));
    }
    let _ = writeln!(
        out,
        "\nload average (1 min) before / after: {load_before} / {}, on {} CPUs; {:.0} s",
        load_average(),
        cpus(),
        started.elapsed().as_secs_f64()
    );
    if plan.quick {
        println!(
            "e2e_http: quick check passed in {:.0} ms against {} \
             (run `cargo bench --bench e2e_http` for the figures)",
            ms(started.elapsed()),
            bin.display()
        );
    } else {
        println!("{out}");
    }
}

// ---------------------------------------------------------------------------------------------
// A server child process listening on a loopback port.

struct HttpServer {
    child: Child,
    addr: SocketAddr,
}

impl HttpServer {
    /// Starts the server on `127.0.0.1`, any free port, and waits for its "listening" line.
    fn start(bin: &Path, flags: &[&str]) -> HttpServer {
        let mut child = server_command(bin, flags, "info")
            .args(["-listen=127.0.0.1", "-port=0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the log for the address, then keeps draining it (showing warnings) so the
        // server never blocks.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // A warning means the server hit a limit: the figures would not be comparable.
                if line.contains(" WARN ") || line.contains(" ERROR ") {
                    eprintln!("  server: {line}");
                }
                if let Some((_, rest)) = line.split_once("listening on http://")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(rest.trim().to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server logs its address within 10 s");
        let addr = addr.parse().expect("a socket address");
        HttpServer { child, addr }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn peak_rss_mib(&self) -> f64 {
        memory_kib(self.child.id()).0 as f64 / 1024.0
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 keep-alive client.

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
}

struct Head {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
    session: Option<String>,
}

fn http_request(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        let _ = write!(r, "{k}: {v}\r\n");
    }
    r.push_str("\r\n");
    r.push_str(body);
    r.into_bytes()
}

impl Conn {
    async fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Conn {
            stream,
            buf: vec![0; 1 << 16],
            pos: 0,
            len: 0,
        }
    }

    /// Reads more bytes after the unconsumed ones.
    async fn fill(&mut self) {
        if self.pos == self.len {
            self.pos = 0;
            self.len = 0;
        } else if self.len == self.buf.len() {
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.len, 0);
                self.len -= self.pos;
                self.pos = 0;
            } else {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        let n = self
            .stream
            .read(&mut self.buf[self.len..])
            .await
            .expect("read from server");
        assert!(n > 0, "server closed the connection");
        self.len += n;
    }

    async fn send(&mut self, request: &[u8]) {
        self.stream
            .write_all(request)
            .await
            .expect("write to server");
    }

    /// One CRLF-terminated line, without its CRLF.
    async fn line(&mut self) -> Vec<u8> {
        loop {
            if let Some(i) = self.buf[self.pos..self.len]
                .windows(2)
                .position(|w| w == b"\r\n")
            {
                let line = self.buf[self.pos..self.pos + i].to_vec();
                self.pos += i + 2;
                return line;
            }
            self.fill().await;
        }
    }

    async fn read_head(&mut self) -> Head {
        let status_line = self.line().await;
        let status = std::str::from_utf8(&status_line)
            .ok()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "bad status line {:?}",
                    String::from_utf8_lossy(&status_line)
                )
            });
        let mut head = Head {
            status,
            content_length: None,
            chunked: false,
            session: None,
        };
        loop {
            let line = self.line().await;
            if line.is_empty() {
                return head;
            }
            let line = String::from_utf8_lossy(&line);
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => head.content_length = value.parse().ok(),
                "transfer-encoding" => head.chunked = value.eq_ignore_ascii_case("chunked"),
                "mcp-session-id" => head.session = Some(value.to_string()),
                _ => {}
            }
        }
    }

    /// Passes up to `n` body bytes to `sink` as they arrive.
    async fn take(&mut self, mut n: usize, sink: &mut impl FnMut(&[u8])) {
        while n > 0 {
            if self.pos == self.len {
                self.fill().await;
            }
            let k = n.min(self.len - self.pos);
            sink(&self.buf[self.pos..self.pos + k]);
            self.pos += k;
            n -= k;
        }
    }

    /// Reads one chunk of a chunked body into `sink`; `false` at the last (empty) chunk.
    async fn chunk(&mut self, sink: &mut impl FnMut(&[u8])) -> bool {
        let size_line = self.line().await;
        let size = std::str::from_utf8(&size_line)
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok())
            .expect("chunk size");
        if size == 0 {
            // No trailers are sent: the blank line ends the body.
            while !self.line().await.is_empty() {}
            return false;
        }
        self.take(size, sink).await;
        assert!(self.line().await.is_empty(), "chunk not followed by CRLF");
        true
    }

    /// Reads the whole body into `sink`; returns its length.
    async fn read_body(&mut self, head: &Head, sink: &mut impl FnMut(&[u8])) -> usize {
        let mut total = 0;
        let mut count = |b: &[u8]| {
            total += b.len();
            sink(b)
        };
        if head.chunked {
            while self.chunk(&mut count).await {}
        } else {
            self.take(head.content_length.unwrap_or(0), &mut count)
                .await;
        }
        total
    }

    /// Sends a request and reads the whole response, keeping the first `keep` bytes of its
    /// body; returns the head, the kept bytes and the body length.
    async fn exchange(&mut self, request: &[u8], keep: usize) -> (Head, Vec<u8>, usize) {
        self.send(request).await;
        let head = self.read_head().await;
        let mut kept = Vec::new();
        let len = self
            .read_body(&head, &mut |b| {
                if kept.len() < keep {
                    kept.extend_from_slice(&b[..b.len().min(keep - kept.len())]);
                }
            })
            .await;
        (head, kept, len)
    }
}

/// The events of an SSE response body, read chunk by chunk; only the first bytes of each
/// event are kept, so a 40 MB list event costs no memory here.
struct Events {
    conn: Conn,
    /// The start of the event being read.
    head: Vec<u8>,
    /// Events completed but not yet returned: (first bytes, length).
    ready: std::collections::VecDeque<(Vec<u8>, usize)>,
    event_len: usize,
    last: u8,
}

const EVENT_HEAD: usize = 256;

impl Events {
    async fn open(addr: SocketAddr, path: &str) -> Events {
        let mut conn = Conn::connect(addr).await;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
        conn.send(request.as_bytes()).await;
        let head = conn.read_head().await;
        assert_eq!(head.status, 200, "GET {path}");
        assert!(head.chunked, "an SSE stream is chunked");
        Events {
            conn,
            head: Vec::new(),
            ready: Default::default(),
            event_len: 0,
            last: 0,
        }
    }

    /// The next event: its first bytes and its length.
    async fn next(&mut self) -> (Vec<u8>, usize) {
        loop {
            if let Some(e) = self.ready.pop_front() {
                // `: keep-alive` comments are not events.
                if e.0.starts_with(b":") {
                    continue;
                }
                return e;
            }
            let (head, ready, event_len, last) = (
                &mut self.head,
                &mut self.ready,
                &mut self.event_len,
                &mut self.last,
            );
            let open = self
                .conn
                .chunk(&mut |b: &[u8]| {
                    let mut start = 0;
                    for (i, &c) in b.iter().enumerate() {
                        if c == b'\n' && *last == b'\n' {
                            let piece = &b[start..=i];
                            if head.len() < EVENT_HEAD {
                                head.extend_from_slice(
                                    &piece[..piece.len().min(EVENT_HEAD - head.len())],
                                );
                            }
                            *event_len += piece.len();
                            ready.push_back((std::mem::take(head), *event_len));
                            *event_len = 0;
                            start = i + 1;
                            *last = 0;
                            continue;
                        }
                        *last = c;
                    }
                    let piece = &b[start..];
                    if head.len() < EVENT_HEAD {
                        head.extend_from_slice(&piece[..piece.len().min(EVENT_HEAD - head.len())]);
                    }
                    *event_len += piece.len();
                })
                .await;
            assert!(open, "the SSE stream ended");
        }
    }
}

fn expect_json_result(body: &[u8], what: &str) {
    expect_result(body, what);
}

/// The `data:` of an SSE event holds a JSON-RPC result.
fn expect_event_result(event: &[u8], what: &str) {
    let text = String::from_utf8_lossy(event);
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("{what}: no data in event {text:?}"));
    expect_result(data.as_bytes(), what);
}

// ---------------------------------------------------------------------------------------------
// Clients of the three kinds, each able to make one timed call after it is set up.

#[derive(Clone, Copy, PartialEq)]
enum Target {
    /// Streamable HTTP without sessions (no handshake).
    Stateless,
    /// Streamable HTTP, one `memory` session per connection (initialize first).
    Sessions,
    /// Legacy SSE: a GET stream and a POST connection per session.
    Sse,
    /// The trivial in-process server (POST anything, fixed reply).
    Ceiling,
}

enum Client {
    Http {
        conn: Conn,
        call: Vec<u8>,
        path: String,
        headers: Vec<(String, String)>,
    },
    Sse {
        events: Events,
        post: Conn,
        call: Vec<u8>,
        path: String,
    },
}

impl Client {
    async fn connect(target: Target, addr: SocketAddr, body: &str) -> Client {
        match target {
            Target::Stateless | Target::Ceiling => Client::Http {
                conn: Conn::connect(addr).await,
                call: http_request(addr, "/mcp", &[], body),
                path: "/mcp".to_string(),
                headers: Vec::new(),
            },
            Target::Sessions => {
                let mut conn = Conn::connect(addr).await;
                let (head, reply, _) = conn
                    .exchange(&http_request(addr, "/mcp", &[], INITIALIZE), 4096)
                    .await;
                assert_eq!(head.status, 200, "initialize");
                expect_json_result(&reply, "initialize");
                let id = head.session.expect("initialize returns Mcp-Session-Id");
                let headers = [
                    ("Mcp-Session-Id", id.as_str()),
                    ("MCP-Protocol-Version", "2025-06-18"),
                ];
                let (head, _, _) = conn
                    .exchange(&http_request(addr, "/mcp", &headers, INITIALIZED), 0)
                    .await;
                assert_eq!(head.status, 202, "notifications/initialized");
                Client::Http {
                    conn,
                    call: http_request(addr, "/mcp", &headers, body),
                    path: "/mcp".to_string(),
                    headers: headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                }
            }
            Target::Sse => {
                let mut events = Events::open(addr, "/sse").await;
                let (endpoint, _) = events.next().await;
                let endpoint = String::from_utf8_lossy(&endpoint);
                let path = endpoint
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .expect("endpoint event")
                    .trim()
                    .to_string();
                let mut post = Conn::connect(addr).await;
                let (head, _, _) = post
                    .exchange(&http_request(addr, &path, &[], INITIALIZE), 0)
                    .await;
                assert_eq!(head.status, 202, "initialize over SSE");
                let (reply, _) = events.next().await;
                expect_event_result(&reply, "initialize over SSE");
                let (head, _, _) = post
                    .exchange(&http_request(addr, &path, &[], INITIALIZED), 0)
                    .await;
                assert_eq!(head.status, 202, "notifications/initialized over SSE");
                Client::Sse {
                    events,
                    post,
                    call: http_request(addr, &path, &[], body),
                    path,
                }
            }
        }
    }

    /// Makes one call; returns the first bytes of the reply (JSON body or SSE event) and its
    /// length.
    async fn call(&mut self, keep: usize) -> (Vec<u8>, usize) {
        match self {
            Client::Http { conn, call, .. } => {
                let (head, kept, len) = conn.exchange(call, keep).await;
                assert_eq!(head.status, 200, "tools/call");
                (kept, len)
            }
            Client::Sse {
                events, post, call, ..
            } => sse_post(post, events, call, "tools/call over SSE").await,
        }
    }

    /// Replaces the request connection with a new one (the session stays): the server closes
    /// keep-alive connections that stay idle longer than `-header-timeout`.
    async fn reconnect(&mut self, addr: SocketAddr) {
        match self {
            Client::Http { conn, .. } => *conn = Conn::connect(addr).await,
            Client::Sse { post, .. } => *post = Conn::connect(addr).await,
        }
    }

    /// Sends another request body through the client's session and reads the reply: its first
    /// `keep` bytes and its length.
    async fn request(&mut self, addr: SocketAddr, body: &str, keep: usize) -> (Vec<u8>, usize) {
        match self {
            Client::Http {
                conn,
                path,
                headers,
                ..
            } => {
                let h: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let (head, kept, len) = conn
                    .exchange(&http_request(addr, path, &h, body), keep)
                    .await;
                assert_eq!(head.status, 200, "{body}");
                (kept, len)
            }
            Client::Sse {
                events, post, path, ..
            } => sse_post(post, events, &http_request(addr, path, &[], body), body).await,
        }
    }
}

/// POSTs a message and reads its reply event, then the POST's `202`. The server answers the
/// POST only once the whole reply is queued on the stream, so the stream is read first.
async fn sse_post(
    post: &mut Conn,
    events: &mut Events,
    request: &[u8],
    what: &str,
) -> (Vec<u8>, usize) {
    post.send(request).await;
    let event = events.next().await;
    let head = post.read_head().await;
    post.read_body(&head, &mut |_| {}).await;
    assert_eq!(head.status, 202, "{what}");
    event
}

// ---------------------------------------------------------------------------------------------
// Closed-loop load.

struct LoadRun {
    calls_per_s: f64,
    /// Latencies in µs, sorted.
    latencies: Vec<f64>,
    server_cpu_us: Option<f64>,
    client_cpu_us: f64,
    calls: u64,
}

/// `connections` clients each call in a loop for `warmup + measure`; only calls that end after
/// the warm-up are counted, and CPU times are read at the same instants.
fn run_load(
    target: Target,
    addr: SocketAddr,
    server_pid: Option<String>,
    connections: usize,
    warmup: Duration,
    measure: Duration,
    body: &str,
) -> LoadRun {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let mut clients = Vec::new();
        for _ in 0..connections {
            clients.push(Client::connect(target, addr, body).await);
        }
        // Check one reply of each client, untimed.
        for c in &mut clients {
            let (reply, _) = c.call(EVENT_HEAD).await;
            match c {
                Client::Http { .. } if target != Target::Ceiling => {
                    expect_json_result(&reply, "tools/call")
                }
                Client::Sse { .. } => expect_event_result(&reply, "tools/call over SSE"),
                _ => {}
            }
        }
        let start = Instant::now();
        let measure_from = start + warmup;
        let end = measure_from + measure;
        let latencies = Rc::new(RefCell::new(Vec::<f64>::with_capacity(1 << 20)));
        let cpu_at_start = Rc::new(RefCell::new(None));
        {
            let cpu_at_start = cpu_at_start.clone();
            let pid = server_pid.clone();
            tokio::task::spawn_local(async move {
                tokio::time::sleep_until(measure_from.into()).await;
                *cpu_at_start.borrow_mut() =
                    Some((Instant::now(), pid.map(|p| cpu_time(&p)), cpu_time("self")));
            });
        }
        let mut tasks = Vec::new();
        for mut c in clients {
            let latencies = latencies.clone();
            tasks.push(tokio::task::spawn_local(async move {
                while Instant::now() < end {
                    let t = Instant::now();
                    c.call(0).await;
                    let done = Instant::now();
                    if done >= measure_from {
                        latencies.borrow_mut().push((done - t).as_secs_f64() * 1e6);
                    }
                }
                c
            }));
        }
        let mut clients = Vec::new();
        for t in tasks {
            clients.push(t.await.expect("client task"));
        }
        let (t0, server0, client0) = cpu_at_start.borrow_mut().take().expect("timer ran");
        let elapsed = t0.elapsed();
        let server1 = server_pid.as_deref().map(cpu_time);
        let client1 = cpu_time("self");
        drop(clients);
        let mut latencies = std::mem::take(&mut *latencies.borrow_mut());
        latencies.sort_by(f64::total_cmp);
        let calls = latencies.len() as u64;
        assert!(calls > 0, "no call completed");
        let per_call = |d: Duration| d.as_secs_f64() * 1e6 / calls as f64;
        LoadRun {
            calls_per_s: calls as f64 / elapsed.as_secs_f64(),
            latencies,
            server_cpu_us: server0.zip(server1).map(|(a, b)| per_call(b - a)),
            client_cpu_us: per_call(client1 - client0),
            calls,
        }
    })
}

/// A trivial HTTP/1.1 server on its own 2-worker runtime (as many as the real server uses
/// here): every request's body is read and answered with the same 1.2 KB JSON body.
fn start_ceiling_server() -> SocketAddr {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    let body = {
        let mut b =
            br#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":""#.to_vec();
        b.resize(b.len() + 1150, b'x');
        b.extend_from_slice(br#""}]}}"#);
        Bytes::from(b)
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cpus().max(1))
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let body = body.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let body = body.clone();
                            async move {
                                let _ = req.into_body().collect().await;
                                let mut r = hyper::Response::new(Full::new(body));
                                r.headers_mut().insert(
                                    hyper::header::CONTENT_TYPE,
                                    hyper::header::HeaderValue::from_static("application/json"),
                                );
                                Ok::<_, std::convert::Infallible>(r)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    addr
}

/// One configuration of the load section.
struct LoadCase {
    name: &'static str,
    target: Target,
    flags: Vec<&'static str>,
}

fn load(bin: &Path, plan: Plan) -> String {
    let with = |extra: &[&'static str]| {
        let mut f = extra.to_vec();
        f.extend_from_slice(CALLS);
        f
    };
    let cases = [
        LoadCase {
            name: "ceiling: trivial in-process hyper server",
            target: Target::Ceiling,
            flags: vec![],
        },
        LoadCase {
            name: "Streamable HTTP, stateless",
            target: Target::Stateless,
            flags: with(&["-transport=http", "-session-mode=stateless"]),
        },
        LoadCase {
            name: "Streamable HTTP, one memory session per connection",
            target: Target::Sessions,
            flags: with(&["-transport=http", "-session-mode=memory"]),
        },
        LoadCase {
            name: "legacy SSE, one session per connection pair",
            target: Target::Sse,
            flags: with(&["-transport=sse"]),
        },
    ];
    let ceiling = start_ceiling_server();
    // Per case, per round: (calls/s, p50, p90, p99, p999, server µs/call, client µs/call, RSS).
    let mut runs: Vec<Vec<[f64; 8]>> = vec![Vec::new(); cases.len()];
    let mut total_calls = vec![0u64; cases.len()];
    for round in 0..plan.rounds {
        for k in 0..cases.len() {
            let i = (round + k) % cases.len();
            let case = &cases[i];
            let server =
                (case.target != Target::Ceiling).then(|| HttpServer::start(bin, &case.flags));
            let addr = server.as_ref().map_or(ceiling, |s| s.addr);
            let r = run_load(
                case.target,
                addr,
                server.as_ref().map(HttpServer::pid),
                plan.connections,
                plan.warmup,
                plan.measure,
                CALL_BODY,
            );
            let rss = server.as_ref().map_or(f64::NAN, HttpServer::peak_rss_mib);
            let p = |q| percentile_sorted(&r.latencies, q);
            eprintln!(
                "  {:<52} {:>9.0} calls/s  p50 {:>7.0} µs  p99 {:>7.0} µs  server {:>5.1} µs/call  client {:>5.1} µs/call",
                case.name,
                r.calls_per_s,
                p(50.0),
                p(99.0),
                r.server_cpu_us.unwrap_or(f64::NAN),
                r.client_cpu_us
            );
            total_calls[i] += r.calls;
            runs[i].push([
                r.calls_per_s,
                p(50.0),
                p(90.0),
                p(99.0),
                p(99.9),
                r.server_cpu_us.unwrap_or(f64::NAN),
                // In-process, the ceiling's own CPU time cannot be told apart from the generator's.
                server.as_ref().map_or(f64::NAN, |_| r.client_cpu_us),
                rss,
            ]);
        }
    }
    let mut t = String::new();
    let _ = writeln!(
        t,
        "### tools/call under load: {} keep-alive connections, {:.1} s per run after {:.1} s warm-up, {} runs\n",
        plan.connections,
        plan.measure.as_secs_f64(),
        plan.warmup.as_secs_f64(),
        plan.rounds
    );
    t.push_str("| Target | calls/s | p50 | p90 | p99 | p99.9 | server CPU/call | generator CPU/call | server peak RSS |\n");
    t.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (case, runs) in cases.iter().zip(&runs) {
        let col = |j: usize| summarize(&runs.iter().map(|r| r[j]).collect::<Vec<_>>());
        let range = |s: Summary, unit: &str| {
            if s.median.is_nan() {
                "–".to_string()
            } else if s.runs > 1 {
                format!(
                    "{} {unit} ({}–{})",
                    fmt_value(s.median),
                    fmt_value(s.min),
                    fmt_value(s.max)
                )
            } else {
                format!("{} {unit}", fmt_value(s.median))
            }
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            case.name,
            range(col(0), ""),
            range(col(1), "µs"),
            range(col(2), "µs"),
            range(col(3), "µs"),
            range(col(4), "µs"),
            range(col(5), "µs"),
            range(col(6), "µs"),
            range(col(7), "MiB"),
        );
    }
    let _ = writeln!(
        t,
        "\nServer flags: `{}` plus the transport flags; medians of the per-run figures, (min–max) \
         across runs; {} calls measured in all.",
        CALLS.join(" "),
        total_calls.iter().sum::<u64>()
    );
    t
}

// ---------------------------------------------------------------------------------------------
// Memory with many concurrent sessions.

fn memory(bin: &Path, plan: Plan) -> String {
    let catalog: &[&str] = if plan.quick {
        &["-tools=1000", "-resources=500", "-prompts=100"]
    } else {
        XLARGE
    };
    let n = plan.memory_sessions;
    // (transport, client kind, flag, lists in flight at once)
    let cases = [
        ("Streamable HTTP", Target::Sessions, "-transport=http", n),
        ("Streamable HTTP", Target::Sessions, "-transport=http", 1),
        ("legacy SSE", Target::Sse, "-transport=sse", n),
        ("legacy SSE", Target::Sse, "-transport=sse", 1),
    ];
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\n### Peak RSS with {n} concurrent sessions, each receiving full tools/list, resources/list and prompts/list ({} runs)\n",
        plan.memory_runs
    );
    t.push_str("| Transport | Server flags | lists in flight at once | peak RSS after initialize | peak RSS after the lists | time for all lists | bytes received |\n");
    t.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (name, target, transport, parallel) in cases {
        let mut flags = vec![transport];
        flags.extend_from_slice(catalog);
        if target == Target::Sse {
            // The keep-alive comment is sent on a fixed tick, even between two chunks of one
            // event, which cuts a multi-chunk list event in two; keep it out of this run.
            flags.push("-sse-keepalive=3600s");
        }
        let (mut before, mut after, mut secs, mut bytes) = (vec![], vec![], vec![], 0usize);
        for _ in 0..plan.memory_runs {
            let server = HttpServer::start(bin, &flags);
            let (rss0, elapsed, total) = list_everything(&server, target, n, parallel);
            before.push(rss0);
            after.push(server.peak_rss_mib());
            secs.push(ms(elapsed));
            bytes = total;
            eprintln!(
                "  {name:<16} {n} sessions, {parallel} at once: peak RSS {:.1} MiB after the lists ({:.0} ms, {total} bytes)",
                after.last().copied().unwrap_or(0.0),
                ms(elapsed),
            );
        }
        let b = summarize(&before);
        let a = summarize(&after);
        let s = summarize(&secs);
        let _ = writeln!(
            t,
            "| {name} | `{}` | {parallel} | {} MiB | {} MiB ({}–{}) | {} ms | {} |",
            flags.join(" "),
            fmt_value(b.median),
            fmt_value(a.median),
            fmt_value(a.min),
            fmt_value(a.max),
            fmt_value(s.median),
            fmt_value(bytes as f64)
        );
    }
    t
}

/// Opens `sessions` sessions, then has each receive the three full lists, `parallel` sessions
/// at a time; returns the peak RSS before the lists, the time they took and the bytes read.
fn list_everything(
    server: &HttpServer,
    target: Target,
    sessions: usize,
    parallel: usize,
) -> (f64, Duration, usize) {
    const LISTS: [(&str, &str); 3] = [
        ("tools/list", "tools"),
        ("resources/list", "resources"),
        ("prompts/list", "prompts"),
    ];
    let addr = server.addr;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let mut clients = Vec::new();
        for _ in 0..sessions {
            clients.push(Client::connect(target, addr, CALL_BODY).await);
        }
        let rss0 = server.peak_rss_mib();
        let t = Instant::now();
        let mut total = 0;
        let mut kept = Vec::new();
        while !clients.is_empty() {
            let batch: Vec<Client> = clients.drain(..parallel.min(clients.len())).collect();
            let mut tasks = Vec::new();
            for mut c in batch {
                if parallel < sessions {
                    c.reconnect(addr).await;
                }
                tasks.push(tokio::task::spawn_local(async move {
                    let mut total = 0;
                    for (i, (method, key)) in LISTS.iter().enumerate() {
                        let (head, len) = c
                            .request(addr, &list_request(i as u64 + 1, method), EVENT_HEAD)
                            .await;
                        let text = String::from_utf8_lossy(&head);
                        assert!(
                            text.contains("\"result\"") && text.contains(key),
                            "{method}: {text}"
                        );
                        total += len;
                    }
                    (c, total)
                }));
            }
            for task in tasks {
                let (c, n) = task.await.expect("list task");
                total += n;
                // Sessions stay open until the end.
                kept.push(c);
            }
        }
        (rss0, t.elapsed(), total)
    })
}

// ---------------------------------------------------------------------------------------------
// Scaling with catalog size and payload size.

fn scaling(bin: &Path, plan: Plan) -> String {
    let mut t = String::new();
    // Catalog size: full tools/list at 1,000 × 2^k tools.
    let sizes: Vec<u64> = if plan.quick {
        vec![100, 200]
    } else {
        (0..11).map(|k| 1000u64 << k).collect()
    };
    let _ = writeln!(
        t,
        "\n### Full tools/list by catalog size (warm server, request written → last byte read)\n"
    );
    t.push_str("| tools | bytes | stdio | stdio MB/s | Streamable HTTP | HTTP MB/s | runs |\n");
    t.push_str("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    let mut catalog_rows: Vec<CatalogRow> = Vec::new();
    for &n in &sizes {
        let runs = if plan.quick {
            1
        } else if n >= 256_000 {
            5
        } else {
            11
        };
        let tools = format!("-tools={n}");
        let flags = [tools.as_str(), "-resources=0", "-prompts=0"];
        // stdio
        let mut s = Server::spawn(bin, &flags);
        s.initialize();
        let bytes = {
            let reply = s.request(&list_request(1000, "tools/list"));
            assert_eq!(count_items(reply, "tools"), (n as usize, false));
            reply.len() + 1
        };
        let mut stdio = Vec::new();
        for id in 0..runs as u64 {
            let t = Instant::now();
            s.send(&list_request(1001 + id, "tools/list"));
            assert_eq!(s.recv_discard(), bytes);
            stdio.push(ms(t.elapsed()));
        }
        s.finish();
        // HTTP
        let mut hflags = vec!["-transport=http", "-session-mode=stateless"];
        hflags.extend_from_slice(&flags);
        let server = HttpServer::start(bin, &hflags);
        let http = with_client(Target::Stateless, server.addr, |mut c, addr| async move {
            let body = list_request(1, "tools/list");
            let (head, len) = c.request(addr, &body, EVENT_HEAD).await;
            expect_json_result(&head, "tools/list");
            let mut v = Vec::new();
            for _ in 0..runs {
                let t = Instant::now();
                let (_, l) = c.request(addr, &body, 0).await;
                v.push(ms(t.elapsed()));
                assert_eq!(l, len);
            }
            (v, len)
        });
        drop(server);
        let (st, ht) = (summarize(&stdio), summarize(&http.0));
        let mbs = |bytes: usize, ms: f64| bytes as f64 / 1e6 / (ms / 1e3);
        eprintln!(
            "  tools/list {n:>8} tools: stdio {:.2} ms, HTTP {:.2} ms",
            st.median, ht.median
        );
        let _ = writeln!(
            t,
            "| {} | {} | {} ms | {} | {} ms | {} | {runs} |",
            fmt_value(n as f64),
            fmt_value(bytes as f64),
            fmt_value(st.median),
            fmt_value(mbs(bytes, st.median)),
            fmt_value(ht.median),
            fmt_value(mbs(http.1, ht.median)),
        );
        catalog_rows.push((n, bytes, st.median, ht.median));
    }
    let _ = writeln!(t, "\nCSV (tools,bytes,stdio_ms,http_ms):\n\n```");
    for (n, b, s, h) in &catalog_rows {
        let _ = writeln!(t, "{n},{b},{s:.3},{h:.3}");
    }
    t.push_str("```\n");

    // Payload size: tools/call latency (sequential) and throughput.
    let payloads: Vec<u64> = if plan.quick {
        vec![1, 1000]
    } else {
        (0..8).map(|k| 10u64.pow(k)).collect()
    };
    let _ = writeln!(
        t,
        "\n### tools/call by payload size (`-tool-size`)\n\nSequential: one call at a time, p50 of the round trips. \
         Throughput: stdio pipelined (all requests written by a second thread), HTTP {} keep-alive \
         connections (closed loop, 1 s after 0.2 s warm-up).\n",
        plan.connections
    );
    t.push_str("| payload | reply bytes | stdio p50 | stdio calls/s | stdio MB/s | HTTP p50 | HTTP calls/s | HTTP MB/s | HTTP server CPU/call |\n");
    t.push_str("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    let mut payload_rows: Vec<PayloadRow> = Vec::new();
    for &size in &payloads {
        let tool_size = format!("-tool-size={size}");
        let flags = [
            "-tools=1000",
            tool_size.as_str(),
            "-resources=0",
            "-prompts=0",
        ];
        let seq = if plan.quick {
            5
        } else {
            (200_000_000 / (size as usize + 1000)).clamp(30, 5000)
        };
        // stdio sequential
        let mut s = Server::spawn(bin, &flags);
        s.initialize();
        let reply_len = {
            let reply = s.request(&call_request(1, 7));
            expect_result(reply, "tools/call");
            reply.len() + 1
        };
        let mut lat = Vec::with_capacity(seq);
        for i in 0..seq as u64 {
            let t = Instant::now();
            s.send(&call_request(2 + i, i % 1000));
            s.recv_discard();
            lat.push(t.elapsed().as_secs_f64() * 1e6);
        }
        s.finish();
        lat.sort_by(f64::total_cmp);
        let stdio_p50 = percentile_sorted(&lat, 50.0);
        let piped = if plan.quick {
            20
        } else {
            (seq as u64 * 4).max(100)
        };
        let stdio_rate = pipeline(bin, &flags, piped, false).0;
        // HTTP
        let mut hflags = vec!["-transport=http", "-session-mode=stateless"];
        hflags.extend_from_slice(&flags);
        let server = HttpServer::start(bin, &hflags);
        let http_lat = with_client(Target::Stateless, server.addr, |mut c, _| async move {
            let mut v = Vec::with_capacity(seq);
            for _ in 0..seq {
                let t = Instant::now();
                c.call(0).await;
                v.push(t.elapsed().as_secs_f64() * 1e6);
            }
            v.sort_by(f64::total_cmp);
            percentile_sorted(&v, 50.0)
        });
        let (warm, measure) = if plan.quick {
            (plan.warmup, plan.measure)
        } else {
            (Duration::from_millis(200), Duration::from_secs(1))
        };
        let r = run_load(
            Target::Stateless,
            server.addr,
            Some(server.pid()),
            plan.connections,
            warm,
            measure,
            CALL_BODY,
        );
        drop(server);
        let server_cpu = r.server_cpu_us.unwrap_or(f64::NAN);
        eprintln!(
            "  tools/call payload {size:>8} B: stdio p50 {stdio_p50:.1} µs, {stdio_rate:.0} calls/s; HTTP p50 {http_lat:.1} µs, {:.0} calls/s, {server_cpu:.1} µs CPU/call",
            r.calls_per_s
        );
        let mbs = |rate: f64| rate * reply_len as f64 / 1e6;
        let _ = writeln!(
            t,
            "| {} B | {} | {} µs | {} | {} | {} µs | {} | {} | {} µs |",
            fmt_count(size),
            fmt_value(reply_len as f64),
            fmt_value(stdio_p50),
            fmt_value(stdio_rate),
            fmt_value(mbs(stdio_rate)),
            fmt_value(http_lat),
            fmt_value(r.calls_per_s),
            fmt_value(mbs(r.calls_per_s)),
            fmt_value(server_cpu),
        );
        payload_rows.push((
            size,
            reply_len,
            stdio_p50,
            stdio_rate,
            http_lat,
            r.calls_per_s,
            server_cpu,
        ));
    }
    let _ = writeln!(
        t,
        "\nCSV (payload,reply_bytes,stdio_p50_us,stdio_calls_s,http_p50_us,http_calls_s,http_cpu_us):\n\n```"
    );
    for (a, b, c, d, e, f, g) in &payload_rows {
        let _ = writeln!(t, "{a},{b},{c:.2},{d:.0},{e:.2},{f:.0},{g:.2}");
    }
    t.push_str("```\n");
    write_plots(&catalog_rows, &payload_rows, &mut t);
    t
}

type CatalogRow = (u64, usize, f64, f64);
type PayloadRow = (u64, usize, f64, f64, f64, f64, f64);

/// Draws the scaling tables as SVG plots into `E2E_PLOT_DIR` (default: Cargo's temporary
/// directory for benches) and names the files in the report.
fn write_plots(catalog: &[CatalogRow], payload: &[PayloadRow], report: &mut String) {
    let dir = std::env::var_os("E2E_PLOT_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e_http"));
    std::fs::create_dir_all(&dir).expect("create the plot directory");
    let series = |name, color, points: Vec<(f64, f64)>| svg::Series {
        name,
        color,
        points,
    };
    let catalog_svg = svg::plot(
        "Full tools/list: time by catalog size",
        "tools in the catalog",
        "",
        "request → last byte",
        " ms",
        &[
            series(
                "stdio",
                "#1f77b4",
                catalog.iter().map(|r| (r.0 as f64, r.2)).collect(),
            ),
            series(
                "Streamable HTTP",
                "#d62728",
                catalog.iter().map(|r| (r.0 as f64, r.3)).collect(),
            ),
        ],
    );
    let payload_svg = svg::plot(
        "tools/call: sequential round trip (p50) by payload size",
        "payload (-tool-size)",
        "B",
        "round trip",
        " µs",
        &[
            series(
                "stdio",
                "#1f77b4",
                payload.iter().map(|r| (r.0 as f64, r.2)).collect(),
            ),
            series(
                "Streamable HTTP",
                "#d62728",
                payload.iter().map(|r| (r.0 as f64, r.4)).collect(),
            ),
        ],
    );
    for (name, svg) in [
        ("scaling-catalog.svg", catalog_svg),
        ("scaling-payload.svg", payload_svg),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, svg).expect("write the plot");
        let _ = writeln!(report, "\nPlot: {}", path.display());
    }
}

/// Runs `f` with one connected client on a fresh current-thread runtime.
fn with_client<F, Fut, R>(target: Target, addr: SocketAddr, f: F) -> R
where
    F: FnOnce(Client, SocketAddr) -> Fut,
    Fut: std::future::Future<Output = R>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let c = Client::connect(target, addr, CALL_BODY).await;
        f(c, addr).await
    })
}

/// An integer with thousands separators.
fn fmt_count(n: u64) -> String {
    if n >= 10_000 {
        fmt_value(n as f64)
    } else {
        n.to_string()
    }
}
