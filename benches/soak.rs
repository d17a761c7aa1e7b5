//! Soak benchmark: the server binary under mixed load over all three transports for minutes,
//! with periodic session churn, checking that nothing is lost and nothing leaks.
//!
//! Three servers run side by side: stdio (one long-lived process with a pipelining client,
//! plus short-lived processes started and ended every few seconds), legacy HTTP+SSE and
//! Streamable HTTP (several clients each). The clients send a mix of `tools/call`,
//! `tools/list`, `resources/read`, `resources/list`, `prompts/get`, `prompts/list` and `ping`,
//! and churn their sessions: Streamable HTTP clients `DELETE` theirs and initialize anew,
//! reconnect their TCP connection and open and drop `GET` streams; SSE clients drop their
//! stream and open another. Every request id must come back exactly once, as a result.
//!
//! The servers' resident memory (`VmRSS`) is sampled every second, and their open file
//! descriptors (`/proc/<pid>/fd`) are counted after a warm-up and again once every client has
//! disconnected. The run fails (exit status 1) if a request is lost or answered twice or with an
//! error, if descriptors leak, if resident memory grows beyond twice its warmed-up size plus
//! 64 MiB, or if a server dies or does not stop cleanly on SIGTERM.
//!
//! Run: `just soak [SECONDS]` or `cargo bench --bench soak -- --seconds 180` (default 180 s;
//! also `SOAK_SECONDS`). Cargo builds the release binary for it. Without `--bench` (under
//! `cargo test --all-targets`) it runs the same soak for 15 s against the debug binary.
//! `SOAK_PAUSE_US` sets each client's pause between requests (default 2000 µs), which keeps the
//! load steady rather than maximal: a soak looks for leaks and losses, not throughput.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any single reply may take before its request counts as lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Streamable HTTP and SSE clients per server.
const HTTP_CLIENTS: usize = 4;
const SSE_CLIENTS: usize = 4;
/// Requests a client sends between two session churns.
const CHURN_EVERY: u64 = 150;
/// Requests an SSE client (and the stdio client) keeps in flight.
const SSE_WINDOW: usize = 4;
const STDIO_WINDOW: usize = 16;
/// Catalog of every server.
const CATALOG: &[&str] = &["-tools=100", "-resources=100", "-prompts=100"];
const LATEST: &str = "2025-11-25";

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let seconds = arg_value("--seconds")
        .or_else(|| std::env::var("SOAK_SECONDS").ok())
        .map(|s| {
            s.parse::<u64>()
                .unwrap_or_else(|_| fail(&format!("not a number of seconds: {s:?}")))
        })
        .unwrap_or(if bench { 180 } else { 15 });
    let pause = std::env::var("SOAK_PAUSE_US")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_micros(2000), Duration::from_micros);
    let bin = match std::env::var_os("BENCHMARK_SERVER_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_benchmark-server")),
    };
    if !bin.exists() {
        fail(&format!("server binary {} not found", bin.display()));
    }
    let report = soak(&bin, Duration::from_secs(seconds.max(1)), pause);
    println!("{}", report.text);
    if !report.failures.is_empty() {
        for f in &report.failures {
            eprintln!("SOAK FAILED: {f}");
        }
        std::process::exit(1);
    }
    println!("soak passed: nothing lost, nothing duplicated, no descriptor leaked");
}

fn arg_value(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let prefix = format!("{name}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if a == name {
            args.get(i + 1).cloned()
        } else {
            a.strip_prefix(&prefix).map(str::to_string)
        }
    })
}

fn fail(message: &str) -> ! {
    eprintln!("SOAK FAILED: {message}");
    std::process::exit(1);
}

// ---------------------------------------------------------------------------------------------
// Tallies

/// What one transport's clients did.
#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    answered: AtomicU64,
    lost: AtomicU64,
    duplicated: AtomicU64,
    errors: AtomicU64,
    sessions: AtomicU64,
    deleted: AtomicU64,
    reconnects: AtomicU64,
    streams: AtomicU64,
    /// The first few problems, for the report.
    problems: Mutex<Vec<String>>,
}

impl Tally {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn problem(&self, what: String) {
        let mut p = self.problems.lock().unwrap_or_else(|e| e.into_inner());
        if p.len() < 10 {
            p.push(what);
        }
    }

    /// Records one reply to request `id`; `reply` is its JSON.
    fn reply(&self, reply: &Value, what: &str) {
        Self::add(&self.answered, 1);
        if reply.get("result").is_none() {
            Self::add(&self.errors, 1);
            self.problem(format!("{what}: not a result: {}", preview(reply)));
        }
    }

    fn lost(&self, n: u64, why: String) {
        if n > 0 {
            Self::add(&self.lost, n);
            self.problem(why);
        }
    }
}

fn preview(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 300 {
        format!("{}…", &s[..300])
    } else {
        s
    }
}

/// A small deterministic generator for the request mix.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One request of the mix, as JSON text.
fn mixed_request(rng: &mut Rng, id: i64) -> String {
    let k = rng.next() % 100;
    let (method, params) = match rng.next() % 20 {
        0..=7 => (
            "tools/call",
            format!(r#"{{"name":"benchmark_tool_{k}","arguments":{{"param1":"soak {id}"}}}}"#),
        ),
        8..=10 => ("tools/list", "{}".to_string()),
        11..=13 => (
            "resources/read",
            format!(r#"{{"uri":"benchmark://benchmark_resource_{k}"}}"#),
        ),
        14..=16 => (
            "prompts/get",
            format!(r#"{{"name":"benchmark_prompt_{k}","arguments":{{"arg1":"v"}}}}"#),
        ),
        17 => ("resources/list", "{}".to_string()),
        18 => ("prompts/list", "{}".to_string()),
        _ => ("ping", "{}".to_string()),
    };
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#)
}

fn initialize(id: i64, version: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"initialize","params":{{"protocolVersion":"{version}","capabilities":{{}},"clientInfo":{{"name":"soak","version":"1.0.0"}}}}}}"#
    )
}

const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

fn reply_id(v: &Value) -> Option<i64> {
    v.get("id").and_then(Value::as_i64)
}

// ---------------------------------------------------------------------------------------------
// Server processes

struct ServerProc {
    name: &'static str,
    child: Child,
    addr: Option<SocketAddr>,
    /// The last lines of its stderr.
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProc {
    fn start(bin: &PathBuf, name: &'static str, args: &[&str]) -> ServerProc {
        let mut cmd = Command::new(bin);
        cmd.args(CATALOG).args(args);
        for (var, _) in std::env::vars_os() {
            if var.to_str().is_some_and(|v| v.starts_with("BENCH_")) {
                cmd.env_remove(var);
            }
        }
        cmd.env_remove("AUTH_TOKEN").env_remove("RUST_LOG");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| fail(&format!("cannot start {}: {e}", bin.display())));
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        {
            let log = log.clone();
            thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(a) = line.split("listening on http://").nth(1) {
                        let _ = tx.send(a.trim().to_string());
                    }
                    let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
                    if l.len() >= 200 {
                        l.remove(0);
                    }
                    l.push(line);
                }
            });
        }
        let addr = args.iter().any(|a| a.starts_with("-transport=")).then(|| {
            let a = rx
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| fail(&format!("the {name} server did not start listening")));
            a.parse()
                .unwrap_or_else(|_| fail(&format!("bad listen address {a:?}")))
        });
        ServerProc {
            name,
            child,
            addr,
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn addr(&self) -> SocketAddr {
        self.addr.expect("an HTTP server")
    }

    fn log_tail(&self) -> String {
        let l = self.log.lock().unwrap_or_else(|e| e.into_inner());
        l[l.len().saturating_sub(20)..].join("\n")
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then the exit status (killed after 15 s).
    fn stop(&mut self) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        wait_exit(&mut self.child, Duration::from_secs(15))
    }
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

// ---------------------------------------------------------------------------------------------
// A minimal blocking HTTP/1.1 client

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

struct HttpConn {
    addr: SocketAddr,
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl HttpConn {
    fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        stream.set_write_timeout(Some(REPLY_TIMEOUT))?;
        Ok(Self {
            addr,
            writer: stream.try_clone()?,
            reader: BufReader::with_capacity(1 << 16, stream),
        })
    }

    fn write(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<()> {
        let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        for (n, v) in headers {
            let _ = write!(req, "{n}: {v}\r\n");
        }
        if method == "POST" || !body.is_empty() {
            let _ = write!(req, "Content-Length: {}\r\n", body.len());
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.writer.write_all(&bytes)
    }

    fn read_head(&mut self) -> io::Result<(u16, Vec<(String, String)>)> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((n, v)) = l.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        Ok((status, headers))
    }

    fn request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        self.write(method, target, headers, body)?;
        let (status, headers) = self.read_head()?;
        let find = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let body = if let Some(len) = find("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| io::Error::other("bad Content-Length"))?;
            let mut body = vec![0; len];
            self.reader.read_exact(&mut body)?;
            body
        } else if find("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
            let mut body = Vec::new();
            Chunked::new(&mut self.reader).read_to_end(&mut body)?;
            body
        } else {
            Vec::new()
        };
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// Whether the server sent anything nobody asked for (or closed the connection).
    fn has_unread_bytes(&mut self) -> bool {
        if !self.reader.buffer().is_empty() {
            return true;
        }
        let _ = self
            .reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(50)));
        let extra = matches!(self.reader.fill_buf(), Ok(b) if !b.is_empty());
        let _ = self.reader.get_ref().set_read_timeout(Some(REPLY_TIMEOUT));
        extra
    }
}

/// A chunked body decoder over a buffered reader.
struct Chunked<R> {
    inner: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            left: 0,
            done: false,
        }
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            if self.inner.read_line(&mut line)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "chunked body cut",
                ));
            }
            let size = line.trim().split(';').next().unwrap_or("");
            self.left = usize::from_str_radix(size, 16)
                .map_err(|_| io::Error::other(format!("bad chunk size {line:?}")))?;
            if self.left == 0 {
                // The last chunk; no trailers are sent.
                line.clear();
                self.inner.read_line(&mut line)?;
                self.done = true;
                return Ok(0);
            }
        }
        let n = buf.len().min(self.left);
        let n = self.inner.read(&mut buf[..n])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "chunk cut"));
        }
        self.left -= n;
        if self.left == 0 {
            let mut crlf = [0u8; 2];
            self.inner.read_exact(&mut crlf)?;
        }
        Ok(n)
    }
}

/// An open SSE stream: its events arrive on a channel from a reader thread.
struct EventStream {
    events: Receiver<Event>,
    socket: TcpStream,
    reader: Option<JoinHandle<()>>,
}

enum Event {
    /// An `event: endpoint` with its data.
    Endpoint(String),
    /// A `message` event's JSON.
    Message(Value),
    /// Unparseable data.
    Garbage(String),
    Closed,
}

impl EventStream {
    /// `GET target` with `headers`; `Err` carries the status when it is not 200.
    fn open(
        addr: SocketAddr,
        target: &str,
        headers: &[(&str, &str)],
    ) -> io::Result<Result<Self, u16>> {
        let mut conn = HttpConn::connect(addr)?;
        let mut all = vec![("Accept", "text/event-stream")];
        all.extend_from_slice(headers);
        conn.write("GET", target, &all, b"")?;
        let (status, _) = conn.read_head()?;
        if status != 200 {
            return Ok(Err(status));
        }
        let socket = conn.writer;
        // Keep-alives come every few seconds; shutting the socket down ends the reader.
        conn.reader.get_ref().set_read_timeout(None)?;
        let reader = conn.reader;
        let (tx, rx) = mpsc::channel();
        let handle = thread::spawn(move || read_events(BufReader::new(Chunked::new(reader)), &tx));
        Ok(Ok(Self {
            events: rx,
            socket,
            reader: Some(handle),
        }))
    }

    fn close(mut self) {
        let _ = self.socket.shutdown(Shutdown::Both);
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}

fn read_events(mut r: impl BufRead, tx: &Sender<Event>) {
    let mut event = String::new();
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => {
                let _ = tx.send(Event::Closed);
                return;
            }
            Ok(_) => {}
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            if !data.is_empty() {
                let e = if event == "endpoint" {
                    Event::Endpoint(std::mem::take(&mut data))
                } else {
                    match serde_json::from_str(&data) {
                        Ok(v) => Event::Message(v),
                        Err(_) => Event::Garbage(std::mem::take(&mut data)),
                    }
                };
                if tx.send(e).is_err() {
                    return;
                }
            }
            event.clear();
            data.clear();
        } else if let Some(v) = l.strip_prefix("event:") {
            event = v.trim().to_string();
        } else if let Some(v) = l.strip_prefix("data:") {
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Streamable HTTP clients

struct HttpClient {
    addr: SocketAddr,
    conn: Option<HttpConn>,
    session: Option<String>,
    next_id: i64,
    tally: Arc<Tally>,
}

impl HttpClient {
    fn conn(&mut self) -> io::Result<&mut HttpConn> {
        if self.conn.is_none() {
            self.conn = Some(HttpConn::connect(self.addr)?);
        }
        Ok(self.conn.as_mut().expect("connected"))
    }

    fn post(&mut self, body: &str) -> io::Result<Response> {
        let session = self.session.clone();
        let mut headers = vec![
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
            ("MCP-Protocol-Version", LATEST),
        ];
        if let Some(s) = &session {
            headers.push(("Mcp-Session-Id", s));
        }
        let r = self
            .conn()?
            .request("POST", "/mcp", &headers, body.as_bytes());
        if r.is_err() {
            self.conn = None;
        }
        r
    }

    /// Sends one request and checks its one reply.
    fn call(&mut self, body: String, id: i64) {
        Tally::add(&self.tally.sent, 1);
        match self.post(&body) {
            Err(e) => self.tally.lost(1, format!("http request {id}: {e}")),
            Ok(r) => match r.json() {
                Some(v) if reply_id(&v) == Some(id) => self.tally.reply(&v, "http"),
                Some(v) => {
                    Tally::add(&self.tally.duplicated, 1);
                    self.tally
                        .lost(1, format!("http request {id}: reply {}", preview(&v)));
                }
                None => self.tally.lost(
                    1,
                    format!(
                        "http request {id}: status {} body {:?}",
                        r.status,
                        String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
                    ),
                ),
            },
        }
    }

    fn start_session(&mut self) {
        self.session = None;
        let id = self.next_id;
        self.next_id += 1;
        Tally::add(&self.tally.sent, 1);
        match self.post(&initialize(id, LATEST)) {
            Ok(r) if r.status == 200 => {
                self.session = r.header("mcp-session-id").map(str::to_string);
                match r.json() {
                    Some(v) if reply_id(&v) == Some(id) => self.tally.reply(&v, "initialize"),
                    _ => self.tally.lost(1, "initialize: no reply".to_string()),
                }
                Tally::add(&self.tally.sessions, 1);
                match self.post(INITIALIZED) {
                    Ok(r) if r.status == 202 => {}
                    other => self
                        .tally
                        .problem(format!("initialized: {:?}", other.map(|r| r.status))),
                }
            }
            Ok(r) => self
                .tally
                .lost(1, format!("initialize: status {}", r.status)),
            Err(e) => self.tally.lost(1, format!("initialize: {e}")),
        }
    }

    fn end_session(&mut self) {
        let Some(s) = self.session.take() else { return };
        let headers = [
            ("Mcp-Session-Id", s.as_str()),
            ("MCP-Protocol-Version", LATEST),
        ];
        let r = self
            .conn()
            .and_then(|c| c.request("DELETE", "/mcp", &headers, b""));
        match r {
            Ok(r) if r.status == 200 => Tally::add(&self.tally.deleted, 1),
            other => {
                self.conn = None;
                Tally::add(&self.tally.errors, 1);
                self.tally
                    .problem(format!("DELETE: {:?}", other.map(|r| r.status)));
            }
        }
    }

    /// Opens a GET stream on the session, reads nothing from it and drops it.
    fn open_and_drop_stream(&mut self) {
        let Some(s) = self.session.clone() else {
            return;
        };
        let headers = [
            ("Mcp-Session-Id", s.as_str()),
            ("MCP-Protocol-Version", LATEST),
        ];
        match EventStream::open(self.addr, "/mcp", &headers) {
            Ok(Ok(stream)) => {
                Tally::add(&self.tally.streams, 1);
                stream.close();
            }
            other => {
                Tally::add(&self.tally.errors, 1);
                self.tally
                    .problem(format!("GET stream: {:?}", other.map(|r| r.err())));
            }
        }
    }
}

fn http_client(
    addr: SocketAddr,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    seed: u64,
    pause: Duration,
) {
    let mut rng = Rng(seed);
    let mut c = HttpClient {
        addr,
        conn: None,
        session: None,
        next_id: 1,
        tally,
    };
    c.start_session();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let id = c.next_id;
        c.next_id += 1;
        c.call(mixed_request(&mut rng, id), id);
        n += 1;
        if n.is_multiple_of(CHURN_EVERY) {
            let round = n / CHURN_EVERY;
            if round % 4 == 1 {
                c.open_and_drop_stream();
            }
            c.end_session();
            if round.is_multiple_of(3) {
                c.conn = None;
                Tally::add(&c.tally.reconnects, 1);
            }
            c.start_session();
        }
        thread::sleep(pause);
    }
    if let Some(conn) = c.conn.as_mut()
        && conn.has_unread_bytes()
    {
        Tally::add(&c.tally.duplicated, 1);
        c.tally
            .problem("http: bytes after the last reply".to_string());
    }
    c.end_session();
}

// ---------------------------------------------------------------------------------------------
// Legacy SSE clients

/// One SSE session: its stream, where to POST, and the requests awaiting replies.
struct SseSession {
    stream: EventStream,
    target: String,
    outstanding: HashSet<i64>,
}

fn sse_open(addr: SocketAddr, tally: &Tally) -> Option<SseSession> {
    let stream = match EventStream::open(addr, "/sse", &[]) {
        Ok(Ok(s)) => s,
        other => {
            Tally::add(&tally.errors, 1);
            tally.problem(format!("GET /sse: {:?}", other.map(|r| r.err())));
            return None;
        }
    };
    match stream.events.recv_timeout(REPLY_TIMEOUT) {
        Ok(Event::Endpoint(target)) => {
            Tally::add(&tally.streams, 1);
            Tally::add(&tally.sessions, 1);
            Some(SseSession {
                stream,
                target,
                outstanding: HashSet::new(),
            })
        }
        _ => {
            Tally::add(&tally.errors, 1);
            tally.problem("GET /sse: no endpoint event".to_string());
            stream.close();
            None
        }
    }
}

/// Takes replies off the stream until at most `keep` requests are outstanding.
fn sse_collect(s: &mut SseSession, keep: usize, tally: &Tally) -> bool {
    while s.outstanding.len() > keep {
        match s.stream.events.recv_timeout(REPLY_TIMEOUT) {
            Ok(Event::Message(v)) => match reply_id(&v) {
                Some(id) if s.outstanding.remove(&id) => tally.reply(&v, "sse"),
                _ => {
                    Tally::add(&tally.duplicated, 1);
                    tally.problem(format!("sse: unexpected message {}", preview(&v)));
                }
            },
            Ok(Event::Garbage(d)) => {
                Tally::add(&tally.errors, 1);
                tally.problem(format!("sse: unparseable event {d:?}"));
            }
            Ok(Event::Endpoint(_)) => {}
            Ok(Event::Closed) | Err(RecvTimeoutError::Disconnected) => {
                tally.lost(
                    s.outstanding.len() as u64,
                    format!(
                        "sse: stream ended with {} requests unanswered",
                        s.outstanding.len()
                    ),
                );
                s.outstanding.clear();
                return false;
            }
            Err(RecvTimeoutError::Timeout) => {
                tally.lost(
                    s.outstanding.len() as u64,
                    format!(
                        "sse: {} replies not received within {REPLY_TIMEOUT:?}",
                        s.outstanding.len()
                    ),
                );
                s.outstanding.clear();
                return false;
            }
        }
    }
    true
}

fn sse_client(
    addr: SocketAddr,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    seed: u64,
    pause: Duration,
) {
    let mut rng = Rng(seed);
    let mut post: Option<HttpConn> = None;
    let mut next_id = 1i64;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Some(mut s) = sse_open(addr, &tally) else {
            thread::sleep(Duration::from_millis(100));
            continue;
        };
        let mut healthy = true;
        let mut first = true;
        while healthy && !stop.load(Ordering::Relaxed) {
            let id = next_id;
            next_id += 1;
            let body = if first {
                initialize(id, "2024-11-05")
            } else {
                mixed_request(&mut rng, id)
            };
            let conn = match post.take().map_or_else(|| HttpConn::connect(addr), Ok) {
                Ok(c) => post.insert(c),
                Err(e) => {
                    tally.lost(1, format!("sse POST connect: {e}"));
                    break;
                }
            };
            Tally::add(&tally.sent, 1);
            s.outstanding.insert(id);
            let headers = [("Content-Type", "application/json")];
            match conn.request("POST", &s.target, &headers, body.as_bytes()) {
                Ok(r) if r.status == 202 => {}
                other => {
                    post = None;
                    healthy = false;
                    s.outstanding.remove(&id);
                    tally.lost(1, format!("sse POST {id}: {:?}", other.map(|r| r.status)));
                }
            }
            if first {
                healthy &= sse_collect(&mut s, 0, &tally);
                if let Some(conn) = post.as_mut() {
                    let _ = conn.request("POST", &s.target, &headers, INITIALIZED.as_bytes());
                }
                first = false;
            } else {
                healthy &= sse_collect(&mut s, SSE_WINDOW - 1, &tally);
            }
            n += 1;
            if n.is_multiple_of(CHURN_EVERY) {
                if (n / CHURN_EVERY).is_multiple_of(3) {
                    post = None;
                    Tally::add(&tally.reconnects, 1);
                }
                break;
            }
            thread::sleep(pause);
        }
        sse_collect(&mut s, 0, &tally);
        s.stream.close();
    }
}

// ---------------------------------------------------------------------------------------------
// stdio

/// A stdio server's replies, one JSON value per line, read by a thread.
fn read_lines(stdout: impl Read + Send + 'static) -> (Receiver<Option<Value>>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let h = thread::spawn(move || {
        for line in BufReader::with_capacity(1 << 16, stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(serde_json::from_str(&line).ok()).is_err() {
                return;
            }
        }
        let _ = tx.send(None);
    });
    (rx, h)
}

/// Takes replies until at most `keep` requests are outstanding; `false` when the server stopped.
fn stdio_collect(
    rx: &Receiver<Option<Value>>,
    outstanding: &mut HashSet<i64>,
    keep: usize,
    tally: &Tally,
) -> bool {
    while outstanding.len() > keep {
        match rx.recv_timeout(REPLY_TIMEOUT) {
            Ok(Some(v)) => match reply_id(&v) {
                Some(id) if outstanding.remove(&id) => tally.reply(&v, "stdio"),
                _ => {
                    Tally::add(&tally.duplicated, 1);
                    tally.problem(format!("stdio: unexpected line {}", preview(&v)));
                }
            },
            Ok(None) | Err(_) => {
                tally.lost(
                    outstanding.len() as u64,
                    format!("stdio: {} requests unanswered", outstanding.len()),
                );
                outstanding.clear();
                return false;
            }
        }
    }
    true
}

fn send_line(stdin: &mut ChildStdin, line: &str) -> io::Result<()> {
    stdin.write_all(line.as_bytes())?;
    stdin.write_all(b"\n")?;
    stdin.flush()
}

/// The long-lived stdio server's client: a window of pipelined requests until `stop`.
fn stdio_client(
    mut stdin: ChildStdin,
    rx: Receiver<Option<Value>>,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    pause: Duration,
) -> ChildStdin {
    let mut rng = Rng(0x5eed_0001);
    let mut outstanding = HashSet::new();
    Tally::add(&tally.sent, 1);
    Tally::add(&tally.sessions, 1);
    outstanding.insert(0);
    if send_line(&mut stdin, &initialize(0, LATEST)).is_err()
        || !stdio_collect(&rx, &mut outstanding, 0, &tally)
        || send_line(&mut stdin, INITIALIZED).is_err()
    {
        tally.lost(1, "stdio: initialize failed".to_string());
        return stdin;
    }
    let mut id = 1i64;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..STDIO_WINDOW / 2 {
            Tally::add(&tally.sent, 1);
            outstanding.insert(id);
            if let Err(e) = send_line(&mut stdin, &mixed_request(&mut rng, id)) {
                tally.lost(
                    outstanding.len() as u64,
                    format!("stdio: write failed: {e}"),
                );
                return stdin;
            }
            id += 1;
        }
        if !stdio_collect(&rx, &mut outstanding, STDIO_WINDOW / 2, &tally) {
            return stdin;
        }
        thread::sleep(pause);
    }
    stdio_collect(&rx, &mut outstanding, 0, &tally);
    stdin
}

/// Short-lived stdio sessions: a process started, used, and ended by closing its input,
/// every `every`, until `stop`.
fn stdio_churn(bin: PathBuf, tally: Arc<Tally>, stop: Arc<AtomicBool>, every: Duration) {
    let mut rng = Rng(0x5eed_0002);
    while !stop.load(Ordering::Relaxed) {
        let mut p = ServerProc::start(&bin, "stdio (short-lived)", &["-log-level=warn"]);
        Tally::add(&tally.sessions, 1);
        let mut stdin = p.child.stdin.take().expect("stdin");
        let (rx, reader) = read_lines(p.child.stdout.take().expect("stdout"));
        let mut outstanding = HashSet::new();
        let mut lines = vec![initialize(0, LATEST), INITIALIZED.to_string()];
        outstanding.insert(0);
        for id in 1..=40 {
            lines.push(mixed_request(&mut rng, id));
            outstanding.insert(id);
        }
        Tally::add(&tally.sent, outstanding.len() as u64);
        let all = lines.join("\n") + "\n";
        if let Err(e) = stdin.write_all(all.as_bytes()) {
            tally.problem(format!("stdio churn: write: {e}"));
        }
        drop(stdin);
        stdio_collect(&rx, &mut outstanding, 0, &tally);
        // End of input: the process must exit 0 with nothing more on stdout.
        match rx.recv_timeout(REPLY_TIMEOUT) {
            Ok(None) => {}
            other => {
                Tally::add(&tally.duplicated, 1);
                tally.problem(format!(
                    "stdio churn: more output after the replies: {other:?}"
                ));
            }
        }
        match wait_exit(&mut p.child, REPLY_TIMEOUT) {
            Some(s) if s.success() => {}
            other => {
                Tally::add(&tally.errors, 1);
                tally.problem(format!("stdio churn: exit {other:?}: {}", p.log_tail()));
            }
        }
        let _ = reader.join();
        let started = Instant::now();
        while started.elapsed() < every && !stop.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(50));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The run

struct Report {
    text: String,
    failures: Vec<String>,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// The descriptor count of `pid` once it has not changed for a second (at most 10 s).
fn stable_fds(pid: u32) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = fd_count(pid);
    let mut same = 0;
    while same < 10 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
        let n = fd_count(pid);
        same = if n == last { same + 1 } else { 0 };
        last = n;
    }
    last
}

/// Waits until `pid` has at most `baseline` descriptors open (bounded), returning the count.
fn settle_fds(pid: u32, baseline: usize, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let n = fd_count(pid);
        if n <= baseline || Instant::now() > deadline {
            return n;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn soak(bin: &PathBuf, duration: Duration, pause: Duration) -> Report {
    let started_at = Instant::now();
    let load_before = load_average();
    let keepalive = "-sse-keepalive=2s";
    let http_flags = ["-listen=127.0.0.1", "-port=0", "-log-level=info", keepalive];
    let mut stdio = ServerProc::start(bin, "stdio", &["-log-level=warn"]);
    let mut sse = ServerProc::start(bin, "sse", &[&["-transport=sse"][..], &http_flags].concat());
    let mut http = ServerProc::start(
        bin,
        "http",
        &[&["-transport=http"][..], &http_flags].concat(),
    );
    let stdio_stdin = stdio.child.stdin.take().expect("stdin");
    let (stdio_rx, stdio_reader) = read_lines(stdio.child.stdout.take().expect("stdout"));

    let tallies: [Arc<Tally>; 3] = Default::default();
    let [t_stdio, t_sse, t_http] = &tallies;

    // Warm-up: one client of each kind, so that descriptors opened once (and kept) are in the
    // baseline.
    {
        let stop = Arc::new(AtomicBool::new(false));
        let warm = Arc::new(Tally::default());
        let (a, b) = (sse.addr(), http.addr());
        let (w1, s1) = (warm.clone(), stop.clone());
        let h1 = thread::spawn(move || sse_client(a, w1, s1, 7, Duration::ZERO));
        let (w2, s2) = (warm.clone(), stop.clone());
        let h2 = thread::spawn(move || http_client(b, w2, s2, 8, Duration::ZERO));
        thread::sleep(Duration::from_secs(1));
        stop.store(true, Ordering::Relaxed);
        let _ = (h1.join(), h2.join());
        if Tally::get(&warm.lost) + Tally::get(&warm.errors) > 0 {
            let p = warm
                .problems
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .join("; ");
            fail(&format!("the warm-up failed: {p}"));
        }
    }
    let servers = [&stdio, &sse, &http];
    // The warm-up's sockets close asynchronously: the baseline is the count once it is stable.
    let fds_before: Vec<usize> = servers.iter().map(|s| stable_fds(s.pid())).collect();

    // The load.
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for i in 0..HTTP_CLIENTS {
        let (t, s, a) = (t_http.clone(), stop.clone(), http.addr());
        clients.push(thread::spawn(move || {
            http_client(a, t, s, 0x1000 + i as u64, pause)
        }));
    }
    for i in 0..SSE_CLIENTS {
        let (t, s, a) = (t_sse.clone(), stop.clone(), sse.addr());
        clients.push(thread::spawn(move || {
            sse_client(a, t, s, 0x2000 + i as u64, pause)
        }));
    }
    let churn = {
        let (t, s, b) = (t_stdio.clone(), stop.clone(), bin.clone());
        let every = (duration / 20).clamp(Duration::from_secs(1), Duration::from_secs(5));
        thread::spawn(move || stdio_churn(b, t, s, every))
    };
    let stdio_client = {
        let (t, s) = (t_stdio.clone(), stop.clone());
        thread::spawn(move || stdio_client(stdio_stdin, stdio_rx, t, s, pause))
    };

    let pids: Vec<u32> = servers.iter().map(|s| s.pid()).collect();
    let load_started = Instant::now();
    let mut samples: Vec<(Duration, [u64; 3])> = Vec::new();
    let mut died = Vec::new();
    while load_started.elapsed() < duration {
        thread::sleep(Duration::from_secs(1).min(duration));
        let rss = [rss_kib(pids[0]), rss_kib(pids[1]), rss_kib(pids[2])];
        samples.push((load_started.elapsed(), rss));
        if rss.contains(&0) {
            died.push("a server exited during the soak".to_string());
            break;
        }
    }
    let load_secs = load_started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.join();
    }
    let _ = churn.join();
    let stdin = stdio_client.join().ok();
    let load_after = load_average();

    // Every client has disconnected (stdio's is idle on its pipe): the descriptors must be
    // back to the baseline.
    let fds_after: Vec<usize> = servers
        .iter()
        .zip(&fds_before)
        .map(|(s, &n)| settle_fds(s.pid(), n, Duration::from_secs(20)))
        .collect();
    let rss_after = [rss_kib(pids[0]), rss_kib(pids[1]), rss_kib(pids[2])];

    let mut failures = died;
    for s in [&mut stdio, &mut sse, &mut http] {
        if !s.alive() {
            failures.push(format!("the {} server died: {}", s.name, s.log_tail()));
        }
    }
    drop(stdin);
    match wait_exit(&mut stdio.child, REPLY_TIMEOUT) {
        Some(st) if st.success() => {}
        other => failures.push(format!("stdio server: exit {other:?} at end of input")),
    }
    let _ = stdio_reader.join();
    for s in [&mut sse, &mut http] {
        match s.stop() {
            Some(st) if st.success() => {}
            other => failures.push(format!(
                "the {} server did not stop cleanly on SIGTERM: {other:?}: {}",
                s.name,
                s.log_tail()
            )),
        }
    }
    for s in [&stdio, &sse, &http] {
        let warnings: Vec<String> = s
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
            .cloned()
            .collect();
        if !warnings.is_empty() {
            failures.push(format!(
                "the {} server logged: {}",
                s.name,
                warnings.join(" | ")
            ));
        }
    }

    // The report.
    let mut text = String::new();
    let _ = writeln!(
        text,
        "soak: {:.0} s of load ({} total), {}; load average before {load_before}, after {load_after}",
        load_secs,
        format_args!("{:.0} s", started_at.elapsed().as_secs_f64()),
        machine()
    );
    let _ = writeln!(
        text,
        "\n| transport | requests | answered | lost | duplicated | errors | req/s | sessions | deleted | reconnects | streams |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for (name, t) in [
        ("stdio", t_stdio),
        ("legacy SSE", t_sse),
        ("Streamable HTTP", t_http),
    ] {
        let g = |c: &AtomicU64| Tally::get(c);
        let _ = writeln!(
            text,
            "| {name} | {} | {} | {} | {} | {} | {:.0} | {} | {} | {} | {} |",
            g(&t.sent),
            g(&t.answered),
            g(&t.lost),
            g(&t.duplicated),
            g(&t.errors),
            g(&t.answered) as f64 / load_secs,
            g(&t.sessions),
            g(&t.deleted),
            g(&t.reconnects),
            g(&t.streams),
        );
        if g(&t.lost) > 0 {
            failures.push(format!("{name}: {} requests lost", g(&t.lost)));
        }
        if g(&t.duplicated) > 0 {
            failures.push(format!(
                "{name}: {} unexpected or duplicated replies",
                g(&t.duplicated)
            ));
        }
        if g(&t.errors) > 0 {
            failures.push(format!("{name}: {} errors", g(&t.errors)));
        }
        if g(&t.sent) != g(&t.answered) + g(&t.lost) {
            failures.push(format!(
                "{name}: {} sent but {} answered and {} lost",
                g(&t.sent),
                g(&t.answered),
                g(&t.lost)
            ));
        }
        let problems = t.problems.lock().unwrap_or_else(|e| e.into_inner());
        for p in problems.iter() {
            let _ = writeln!(text, "  {name} problem: {p}");
        }
    }
    let _ = writeln!(
        text,
        "\n| server | RSS start MiB | RSS peak MiB | RSS end MiB | RSS idle after MiB | fds before | fds after |\n|---|---|---|---|---|---|---|"
    );
    let names = ["stdio (long-lived)", "legacy SSE", "Streamable HTTP"];
    for i in 0..3 {
        let series: Vec<u64> = samples.iter().map(|(_, r)| r[i]).collect();
        let start = series.first().copied().unwrap_or(0);
        let peak = series.iter().copied().max().unwrap_or(0);
        let end = series.last().copied().unwrap_or(0);
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} | {} | {} |",
            names[i],
            mib(start),
            mib(peak),
            mib(end),
            mib(rss_after[i]),
            fds_before[i],
            fds_after[i]
        );
        if fds_after[i] > fds_before[i] {
            failures.push(format!(
                "{}: {} descriptors open after the clients left, {} before",
                names[i], fds_after[i], fds_before[i]
            ));
        }
        // Memory must stay flat: generous bounds, so that only a real leak trips them.
        let warm = series
            .get(series.len() / 10)
            .copied()
            .unwrap_or(start)
            .max(1);
        if peak > 2 * warm + 64 * 1024 {
            failures.push(format!(
                "{}: RSS grew from {} to {} MiB",
                names[i],
                mib(warm),
                mib(peak)
            ));
        }
    }
    // RSS over time, at about ten points.
    let step = (samples.len() / 10).max(1);
    let _ = writeln!(text, "\nRSS over time (MiB, stdio / SSE / HTTP):");
    let last = samples.len().saturating_sub(1);
    let points = samples
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0 || *i == last);
    for (_, (t, r)) in points {
        let _ = writeln!(
            text,
            "  t={:>4.0}s  {} / {} / {}",
            t.as_secs_f64(),
            mib(r[0]),
            mib(r[1]),
            mib(r[2])
        );
    }
    let total: u64 = tallies.iter().map(|t| Tally::get(&t.answered)).sum();
    let _ = writeln!(
        text,
        "\n{total} requests answered in {load_secs:.0} s ({:.0}/s), client pause {pause:?}",
        total as f64 / load_secs
    );
    Report { text, failures }
}
