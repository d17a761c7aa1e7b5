//! Raw HTTP/1.1 over loopback for the HTTP transport tests.
//!
//! - [`HttpServer`] starts the binary (through [`crate::common::Server`]) and learns the
//!   address of each instance from its `listening on http://…` log line.
//! - [`Request`] is the exact bytes of one request: nothing is added except `Host` and the body
//!   framing (`Content-Length`, or chunked when asked), and both can be turned off, so
//!   malformed requests can be sent as they are.
//! - [`Conn`] is one TCP connection: it writes requests and parses responses (status, headers,
//!   `Content-Length`, chunked or close-delimited bodies), several in a row for keep-alive.
//!   Every read has a deadline.
//! - [`SseStream`] reads an event stream incrementally, one event at a time, with a timeout.

#![allow(dead_code)]

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::marker::PhantomData;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

use crate::common::{Server, TIMEOUT, command, preview};

/// What an MCP client sends in `Accept` on a POST.
pub const MCP_ACCEPT: &str = "application/json, text/event-stream";

/// The newest protocol version the server speaks.
pub const LATEST: &str = "2025-11-25";

/// A running server process with an HTTP transport.
pub struct HttpServer {
    pub server: Server,
    /// The address of each instance, in instance order.
    pub addrs: Vec<SocketAddr>,
}

impl HttpServer {
    /// Starts the binary with `args` (one instance) and waits until it listens.
    pub fn start(args: &[&str]) -> Self {
        Self::start_command(command(args), 1)
    }

    /// Starts `cmd` (see [`command`]) and waits until `instances` instances listen.
    pub fn start_command(cmd: Command, instances: usize) -> Self {
        let mut server = Server::from_command(cmd);
        let addrs = wait_listening(&mut server, instances);
        Self { server, addrs }
    }

    /// The address of the first (usually only) instance.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// A new connection to the first instance.
    pub fn connect(&self) -> Conn {
        Conn::open(self.addr())
    }

    /// Sends `req` on a new connection and returns the response.
    pub fn send(&self, req: &Request) -> Response {
        self.connect().send(req)
    }

    /// Sends a signal (`TERM`, `INT`, …) to the server process.
    pub fn signal(&self, name: &str) {
        signal(self.server.id(), name);
    }

    pub fn stderr(&self) -> String {
        self.server.stderr()
    }
}

/// Waits for `instances` `listening on http://ADDR` lines and returns the addresses.
pub fn wait_listening(server: &mut Server, instances: usize) -> Vec<SocketAddr> {
    const MARK: &str = "listening on http://";
    let count = |text: &str| text.lines().filter(|l| l.contains(MARK)).count();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        // Blocks (bounded) until at least one line is there, and panics if the process exits.
        server.wait_for_stderr_line(|l| l.contains(MARK));
        let text = server.stderr();
        if count(&text) >= instances {
            return text
                .lines()
                .filter_map(|l| l.split(MARK).nth(1))
                .map(|a| {
                    a.trim()
                        .parse()
                        .unwrap_or_else(|e| panic!("bad address {a:?} in the log: {e}"))
                })
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {instances} instances listen; stderr:\n{text}",
            count(&text)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends signal `name` to process `pid` with `kill(1)`.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
    assert!(status.success(), "kill -{name} {pid}: {status}");
}

/// `count` consecutive ports that were free on 127.0.0.1 a moment ago (another process may
/// still take one: callers retry when the server cannot bind).
pub fn free_port_range(count: u16) -> u16 {
    'search: for _ in 0..200 {
        let first = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        let start = first.local_addr().unwrap().port();
        if start.checked_add(count).is_none() {
            continue;
        }
        let mut held = vec![first];
        for p in start + 1..start + count {
            match TcpListener::bind(("127.0.0.1", p)) {
                Ok(l) => held.push(l),
                Err(_) => continue 'search,
            }
        }
        return start;
    }
    panic!("no {count} consecutive free ports found");
}

/// Framing of a request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// `Content-Length` (omitted for a body-less GET, HEAD, DELETE or OPTIONS).
    Length,
    /// `Transfer-Encoding: chunked` in chunks of this size.
    Chunked(usize),
    /// No framing header at all.
    None,
}

/// The exact parts of one HTTP/1.1 request.
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    framing: Framing,
    host: bool,
}

impl Request {
    pub fn new(method: &str, target: &str) -> Self {
        Self {
            method: method.to_string(),
            target: target.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            framing: Framing::Length,
            host: true,
        }
    }

    pub fn get(target: &str) -> Self {
        Self::new("GET", target)
    }

    pub fn delete(target: &str) -> Self {
        Self::new("DELETE", target)
    }

    pub fn post(target: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::new("POST", target).body(body)
    }

    /// A POST of one JSON-RPC message with the headers an MCP client sends.
    pub fn mcp(target: &str, message: &Value) -> Self {
        Self::post(target, message.to_string())
            .header("Content-Type", "application/json")
            .header("Accept", MCP_ACCEPT)
    }

    /// A GET opening an event stream.
    pub fn sse(target: &str) -> Self {
        Self::get(target).header("Accept", "text/event-stream")
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Adds a header (a second one with the same name is another line).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Removes every header called `name`.
    pub fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// Replaces the headers called `name` with one.
    pub fn set(self, name: &str, value: &str) -> Self {
        self.without(name).header(name, value)
    }

    pub fn session(self, id: &str) -> Self {
        self.header("Mcp-Session-Id", id)
    }

    pub fn protocol(self, version: &str) -> Self {
        self.header("MCP-Protocol-Version", version)
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    /// Sends the body with `Transfer-Encoding: chunked`, `size` bytes a chunk.
    pub fn chunked(mut self, size: usize) -> Self {
        assert!(size > 0);
        self.framing = Framing::Chunked(size);
        self
    }

    /// Sends no `Content-Length` or `Transfer-Encoding` of its own.
    pub fn unframed(mut self) -> Self {
        self.framing = Framing::None;
        self
    }

    /// Sends no `Host` of its own (one added with [`Request::header`] is still sent).
    pub fn no_host(mut self) -> Self {
        self.host = false;
        self
    }

    pub fn method(&self) -> &str {
        &self.method
    }

    /// The bytes on the wire, for a server at `addr`.
    pub fn to_bytes(&self, addr: SocketAddr) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        let has = |name: &str| {
            self.headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        if self.host && !has("host") {
            head.push_str(&format!("Host: {addr}\r\n"));
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let bodyless = matches!(self.method.as_str(), "GET" | "HEAD" | "DELETE" | "OPTIONS");
        let mut body = Vec::new();
        match self.framing {
            Framing::Length => {
                if !(bodyless && self.body.is_empty()) {
                    head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
                }
                body.extend_from_slice(&self.body);
            }
            Framing::Chunked(size) => {
                head.push_str("Transfer-Encoding: chunked\r\n");
                for chunk in self.body.chunks(size) {
                    body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    body.extend_from_slice(chunk);
                    body.extend_from_slice(b"\r\n");
                }
                body.extend_from_slice(b"0\r\n\r\n");
            }
            Framing::None => body.extend_from_slice(&self.body),
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&body);
        bytes
    }
}

/// Status line and headers of a response.
#[derive(Clone, Debug)]
pub struct Head {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header called `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    pub fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    pub fn session_id(&self) -> Option<&str> {
        self.header("mcp-session-id")
    }

    fn content_length(&self) -> Option<u64> {
        self.header("content-length").map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("bad Content-Length {v:?}"))
        })
    }
}

/// A whole response.
#[derive(Clone, Debug)]
pub struct Response {
    pub head: Head,
    pub body: Vec<u8>,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.head.status
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    pub fn content_type(&self) -> &str {
        self.head.content_type()
    }

    pub fn session_id(&self) -> Option<&str> {
        self.head.session_id()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} body is not JSON ({e}): {}",
                self.head.status,
                preview(&self.text())
            )
        })
    }

    /// The JSON-RPC message of a reply in either format: a JSON body, or the one
    /// `event: message` of an SSE body.
    pub fn message(&self) -> Value {
        if self.content_type().starts_with("text/event-stream") {
            let events = parse_events(&self.text());
            let messages: Vec<&SseEvent> = events.iter().filter(|e| !e.is_comment()).collect();
            assert_eq!(messages.len(), 1, "one event in {}", preview(&self.text()));
            messages[0].json()
        } else {
            self.json()
        }
    }

    /// Asserts the status, showing the response otherwise.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.head.status,
            status,
            "unexpected status; response: {:?} {}",
            self.head,
            preview(&self.text())
        );
        self
    }
}

/// How a response body is delimited.
#[derive(Clone, Copy, Debug)]
enum BodyState {
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    UntilClose,
    Done,
}

/// One TCP connection to the server.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
    addr: SocketAddr,
    /// The body of the response being read.
    body: BodyState,
}

fn timed_out() -> io::Error {
    io::Error::new(ErrorKind::TimedOut, "deadline passed")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT)
            .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            buf: Vec::new(),
            pos: 0,
            addr,
            body: BodyState::Done,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Writes `bytes` exactly.
    pub fn write(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .unwrap_or_else(|e| panic!("writing to {}: {e}", self.addr));
    }

    /// Writes `req` without reading anything.
    pub fn write_request(&mut self, req: &Request) {
        let bytes = req.to_bytes(self.addr);
        self.write(&bytes);
    }

    /// Sends `req` and reads its whole response.
    pub fn send(&mut self, req: &Request) -> Response {
        self.write_request(req);
        self.read_response(req.method() == "HEAD")
    }

    /// Stops writing (the server sees end of file).
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
    }

    /// Reads more bytes into the buffer; `Ok(0)` at end of file.
    fn fill(&mut self, deadline: Instant) -> io::Result<usize> {
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timed_out());
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(timed_out());
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads a status line and headers, before `deadline`.
    pub fn try_read_head(&mut self, deadline: Instant, head_request: bool) -> io::Result<Head> {
        let end = loop {
            if let Some(i) = find(self.available(), b"\r\n\r\n") {
                break i;
            }
            if self.fill(deadline)? == 0 {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed before a complete response head ({} bytes: {:?})",
                        self.available().len(),
                        String::from_utf8_lossy(self.available())
                    ),
                ));
            }
        };
        let text = String::from_utf8(self.available()[..end].to_vec())
            .map_err(|_| io::Error::new(ErrorKind::InvalidData, "response head is not UTF-8"))?;
        self.consume(end + 4);
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let status = parts.next().and_then(|s| s.parse::<u16>().ok());
        let (true, Some(status)) = (version.starts_with("HTTP/1."), status) else {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            ));
        };
        let reason = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line.split_once(':').ok_or_else(|| {
                io::Error::new(ErrorKind::InvalidData, format!("bad header {line:?}"))
            })?;
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        let head = Head {
            status,
            reason,
            headers,
        };
        self.body = if head_request || status == 204 || status == 304 || status < 200 {
            BodyState::Done
        } else if head.is_chunked() {
            BodyState::ChunkSize
        } else if let Some(n) = head.content_length() {
            BodyState::Length(n)
        } else {
            BodyState::UntilClose
        };
        Ok(head)
    }

    /// Reads a status line and headers; panics on timeout.
    pub fn read_head(&mut self) -> Head {
        self.try_read_head(Instant::now() + TIMEOUT, false)
            .unwrap_or_else(|e| panic!("reading a response head from {}: {e}", self.addr))
    }

    /// Appends the next decoded bytes of the current body to `out`; `Ok(false)` once the body
    /// has ended.
    pub fn try_read_body_some(&mut self, out: &mut Vec<u8>, deadline: Instant) -> io::Result<bool> {
        let eof = || io::Error::new(ErrorKind::UnexpectedEof, "connection closed inside a body");
        loop {
            match self.body {
                BodyState::Done => return Ok(false),
                BodyState::Length(0) => {
                    self.body = BodyState::Done;
                    return Ok(false);
                }
                BodyState::Length(n) | BodyState::ChunkData(n) => {
                    if self.available().is_empty() && self.fill(deadline)? == 0 {
                        return Err(eof());
                    }
                    let take = self.available().len().min(n as usize);
                    out.extend_from_slice(&self.available()[..take]);
                    self.consume(take);
                    let left = n - take as u64;
                    self.body = match self.body {
                        BodyState::Length(_) => BodyState::Length(left),
                        _ if left == 0 => BodyState::ChunkEnd,
                        _ => BodyState::ChunkData(left),
                    };
                    return Ok(true);
                }
                BodyState::ChunkSize => {
                    let Some(i) = find(self.available(), b"\r\n") else {
                        if self.fill(deadline)? == 0 {
                            return Err(eof());
                        }
                        continue;
                    };
                    let line = String::from_utf8_lossy(&self.available()[..i]).into_owned();
                    self.consume(i + 2);
                    let size = line.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(size, 16).map_err(|_| {
                        io::Error::new(ErrorKind::InvalidData, format!("bad chunk size {line:?}"))
                    })?;
                    self.body = if size == 0 {
                        BodyState::Trailers
                    } else {
                        BodyState::ChunkData(size)
                    };
                }
                BodyState::ChunkEnd => {
                    if self.available().len() < 2 {
                        if self.fill(deadline)? == 0 {
                            return Err(eof());
                        }
                        continue;
                    }
                    if &self.available()[..2] != b"\r\n" {
                        return Err(io::Error::new(
                            ErrorKind::InvalidData,
                            "chunk not followed by CRLF",
                        ));
                    }
                    self.consume(2);
                    self.body = BodyState::ChunkSize;
                }
                BodyState::Trailers => {
                    let Some(i) = find(self.available(), b"\r\n") else {
                        if self.fill(deadline)? == 0 {
                            return Err(eof());
                        }
                        continue;
                    };
                    self.consume(i + 2);
                    if i == 0 {
                        self.body = BodyState::Done;
                        return Ok(false);
                    }
                }
                BodyState::UntilClose => {
                    if self.available().is_empty() && self.fill(deadline)? == 0 {
                        self.body = BodyState::Done;
                        return Ok(false);
                    }
                    out.extend_from_slice(self.available());
                    let n = self.available().len();
                    self.consume(n);
                    return Ok(true);
                }
            }
        }
    }

    /// Reads the rest of the current body, before `deadline`.
    pub fn try_read_body(&mut self, deadline: Instant) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        while self.try_read_body_some(&mut body, deadline)? {}
        Ok(body)
    }

    /// Reads and counts the rest of the current body without keeping it.
    pub fn discard_body(&mut self, deadline: Instant) -> io::Result<u64> {
        let mut total = 0;
        let mut scratch = Vec::with_capacity(64 * 1024);
        while self.try_read_body_some(&mut scratch, deadline)? {
            total += scratch.len() as u64;
            scratch.clear();
        }
        Ok(total)
    }

    /// Reads a whole response; panics on timeout or a malformed response.
    pub fn read_response(&mut self, head_request: bool) -> Response {
        let deadline = Instant::now() + TIMEOUT;
        let head = self
            .try_read_head(deadline, head_request)
            .unwrap_or_else(|e| panic!("reading a response head from {}: {e}", self.addr));
        let body = self.try_read_body(deadline).unwrap_or_else(|e| {
            panic!(
                "reading the body of a {} response from {}: {e}",
                head.status, self.addr
            )
        });
        Response { head, body }
    }

    /// Whether the server closes the connection (end of file or reset) within `timeout`;
    /// bytes it sends meanwhile count as not closing.
    pub fn closes_within(&mut self, timeout: Duration) -> bool {
        if !self.available().is_empty() {
            return false;
        }
        match self.fill(Instant::now() + timeout) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if e.kind() == ErrorKind::TimedOut => false,
            Err(_) => true,
        }
    }

    /// Turns the connection, whose response head has been read, into an event stream.
    pub fn into_events(self) -> SseStream {
        SseStream {
            conn: self,
            decoded: Vec::new(),
            scanned: 0,
            ended: false,
        }
    }
}

/// One server-sent event (or a block of only comments, such as a keep-alive).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: Option<String>,
    pub id: Option<String>,
    pub comments: Vec<String>,
}

impl SseEvent {
    /// A block with no fields, only comments.
    pub fn is_comment(&self) -> bool {
        self.event.is_none() && self.data.is_none() && self.id.is_none()
    }

    /// The data parsed as JSON.
    pub fn json(&self) -> Value {
        let data = self
            .data
            .as_deref()
            .unwrap_or_else(|| panic!("no data in {self:?}"));
        serde_json::from_str(data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", preview(data)))
    }

    fn parse(block: &str) -> Self {
        let mut e = SseEvent::default();
        for line in block.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if let Some(comment) = line.strip_prefix(':') {
                e.comments.push(comment.trim_start().to_string());
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => e.event = Some(value.to_string()),
                "id" => e.id = Some(value.to_string()),
                "data" => {
                    e.data = Some(match e.data.take() {
                        Some(d) => format!("{d}\n{value}"),
                        None => value.to_string(),
                    })
                }
                _ => {}
            }
        }
        e
    }
}

/// Splits a complete SSE text into events.
pub fn parse_events(text: &str) -> Vec<SseEvent> {
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(SseEvent::parse)
        .collect()
}

/// An event stream read incrementally from the body of a response.
pub struct SseStream {
    conn: Conn,
    /// Decoded body bytes not yet returned as events.
    decoded: Vec<u8>,
    /// How much of `decoded` is known to hold no event boundary.
    scanned: usize,
    ended: bool,
}

/// Why no event was returned.
#[derive(Debug, PartialEq, Eq)]
pub enum NoEvent {
    /// Nothing complete arrived in time.
    Timeout,
    /// The stream ended (cleanly) first.
    Ended,
}

impl SseStream {
    /// Opens `req` on a new connection to `addr` and asserts a 200 `text/event-stream`.
    pub fn open(addr: SocketAddr, req: &Request) -> Self {
        let mut conn = Conn::open(addr);
        conn.write_request(req);
        let head = conn.read_head();
        if head.status != 200 {
            let body = conn
                .try_read_body(Instant::now() + TIMEOUT)
                .unwrap_or_default();
            panic!(
                "expected an event stream, got {head:?} {}",
                String::from_utf8_lossy(&body)
            );
        }
        assert!(
            head.content_type().starts_with("text/event-stream"),
            "{head:?}"
        );
        conn.into_events()
    }

    /// The next event (comment-only blocks included) within `timeout`.
    pub fn try_next(&mut self, timeout: Duration) -> Result<SseEvent, NoEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            let from = self.scanned.saturating_sub(1);
            if let Some(i) = find(&self.decoded[from..], b"\n\n") {
                let end = from + i;
                let block = String::from_utf8(self.decoded[..end].to_vec())
                    .unwrap_or_else(|e| panic!("event is not UTF-8: {e}"));
                self.decoded.drain(..end + 2);
                self.scanned = 0;
                if block.is_empty() {
                    continue;
                }
                return Ok(SseEvent::parse(&block));
            }
            self.scanned = self.decoded.len();
            if self.ended {
                return Err(NoEvent::Ended);
            }
            match self.conn.try_read_body_some(&mut self.decoded, deadline) {
                Ok(true) => {}
                Ok(false) => self.ended = true,
                Err(e) if e.kind() == ErrorKind::TimedOut => return Err(NoEvent::Timeout),
                Err(e) => panic!("reading the event stream: {e}"),
            }
        }
    }

    /// The next event or comment block; panics on timeout or end of stream.
    pub fn next(&mut self) -> SseEvent {
        self.try_next(TIMEOUT)
            .unwrap_or_else(|why| panic!("no event within {TIMEOUT:?}: {why:?}"))
    }

    /// The next event that is not only comments.
    pub fn next_event(&mut self) -> SseEvent {
        loop {
            let e = self.next();
            if !e.is_comment() {
                return e;
            }
        }
    }

    /// The JSON data of the next `event: message`, skipping keep-alives.
    pub fn next_message(&mut self) -> Value {
        let e = self.next_event();
        assert_eq!(e.event.as_deref(), Some("message"), "{e:?}");
        e.json()
    }

    /// Reads until the stream ends, within `timeout`; returns the events read meanwhile.
    pub fn expect_end(&mut self, timeout: Duration) -> Vec<SseEvent> {
        let deadline = Instant::now() + timeout;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.try_next(left) {
                Ok(e) => events.push(e),
                Err(NoEvent::Ended) => return events,
                Err(NoEvent::Timeout) => panic!("stream still open after {timeout:?}"),
            }
        }
    }

    /// The underlying connection.
    pub fn conn(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

/// A JSON-RPC request.
pub fn rpc(id: i64, method: &str, params: Value) -> Value {
    let mut m = json!({"jsonrpc": "2.0", "id": id, "method": method});
    if !params.is_null() {
        m["params"] = params;
    }
    m
}

/// A JSON-RPC notification.
pub fn notification(method: &str) -> Value {
    json!({"jsonrpc": "2.0", "method": method})
}

/// An `initialize` request asking for `version` (none: the server picks).
pub fn initialize(id: i64, version: Option<&str>) -> Value {
    let mut params = json!({
        "capabilities": {},
        "clientInfo": {"name": "integration-tests", "version": "1.0.0"}
    });
    if let Some(v) = version {
        params["protocolVersion"] = json!(v);
    }
    rpc(id, "initialize", params)
}

/// Asserts `reply` is the successful response to `id` and returns its result.
#[track_caller]
pub fn result_of(reply: &Value, id: i64) -> Value {
    assert_eq!(reply["jsonrpc"], "2.0", "{}", preview(&reply.to_string()));
    assert_eq!(reply["id"], id, "{}", preview(&reply.to_string()));
    match reply.get("result") {
        Some(r) => r.clone(),
        None => panic!("request {id} failed: {}", preview(&reply.to_string())),
    }
}

/// Asserts `reply` is an error response with `code` and returns the error.
#[track_caller]
pub fn error_of(reply: &Value, code: i64) -> Value {
    let e = reply
        .get("error")
        .unwrap_or_else(|| panic!("not an error: {}", preview(&reply.to_string())));
    assert_eq!(e["code"], code, "{reply}");
    e.clone()
}

/// The `name` of every item of `result.<list>` in the JSON-RPC reply `body`, in order. The
/// whole body must be valid JSON; only the names are kept, so a list of a hundred thousand
/// items parses quickly.
pub fn list_names(body: &[u8], list: &str) -> Vec<String> {
    let seed = Field(
        "result",
        Field(list, Each(Field("name", PhantomData::<String>))),
    );
    let mut de = serde_json::Deserializer::from_slice(body);
    let names = seed
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .unwrap_or_else(|e| panic!("reply is not valid JSON ({e}): {}", preview_bytes(body)));
    let items = names
        .flatten()
        .unwrap_or_else(|| panic!("no result.{list} in {}", preview_bytes(body)));
    items
        .into_iter()
        .enumerate()
        .map(|(i, n)| n.unwrap_or_else(|| panic!("{list}[{i}] has no name")))
        .collect()
}

fn preview_bytes(body: &[u8]) -> String {
    preview(&String::from_utf8_lossy(&body[..body.len().min(1000)]))
}

/// Deserializes member `.0` of an object with seed `.1`, skipping every other member.
struct Field<'a, S>(&'a str, S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Field<'_, S> {
    type Value = Option<S::Value>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Field<'_, S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object with {:?}", self.0)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (name, mut seed) = (self.0, Some(self.1));
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            match seed.take() {
                Some(s) if key == name => found = Some(map.next_value_seed(s)?),
                other => {
                    seed = other;
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// Deserializes every element of an array with a copy of seed `.0`.
struct Each<S>(S);

impl<'de, S: DeserializeSeed<'de> + Copy> DeserializeSeed<'de> for Each<S> {
    type Value = Vec<S::Value>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, S: DeserializeSeed<'de> + Copy> Visitor<'de> for Each<S> {
    type Value = Vec<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self.0)? {
            out.push(v);
        }
        Ok(out)
    }
}

impl<S: Copy> Clone for Field<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: Copy> Copy for Field<'_, S> {}
