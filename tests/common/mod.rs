//! Shared harness for the integration tests: starts the real `benchmark-server` binary and
//! talks to it over real pipes.
//!
//! - [`Server`] owns one child process: stderr is captured into a buffer by a thread, the
//!   process is killed when the value is dropped, and every wait on it is bounded. It knows
//!   nothing about MCP, so transports other than stdio can reuse it.
//! - [`StdioClient`] speaks newline-delimited JSON-RPC over the child's stdin and stdout; a
//!   reader thread turns stdout into lines delivered through a channel, so every receive has a
//!   timeout.
//! - [`run`] runs the binary to completion (stdin closed) and returns what it printed.
//! - [`payload`] is the exact text a `size`-byte payload must have.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The longest any single wait in these tests may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_benchmark-server");

/// Environment variables the server reads (besides every `BENCH_<FLAG>`); cleared so the
/// caller's environment cannot leak into a test.
const SERVER_ENV: &[&str] = &["AUTH_TOKEN", "SESSION_SECRET", "RUST_LOG"];

/// A command for the binary with `args` and a clean server environment.
pub fn command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for var in SERVER_ENV {
        cmd.env_remove(var);
    }
    for (var, _) in std::env::vars_os() {
        if var.to_str().is_some_and(|v| v.starts_with("BENCH_")) {
            cmd.env_remove(var);
        }
    }
    cmd
}

/// Bytes a thread keeps appending to, readable at any time.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// Starts a thread copying `source` into a new capture until end of file.
    fn spawn(mut source: impl Read + Send + 'static) -> (Self, JoinHandle<()>) {
        let capture = Capture::default();
        let sink = capture.clone();
        let handle = thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match source.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.0.lock().unwrap().extend_from_slice(&buf[..n]),
                }
            }
        });
        (capture, handle)
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}

/// A running server process. Dropping it kills the process.
pub struct Server {
    child: Child,
    stderr: Capture,
    stderr_thread: Option<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Server {
    /// Starts the binary with `args`, stdin and stdout piped.
    pub fn spawn<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::from_command(command(args))
    }

    /// Starts `cmd` (see [`command`]) with stdin and stdout piped and stderr captured.
    pub fn from_command(mut cmd: Command) -> Self {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Self::start(cmd)
    }

    /// Starts `cmd` with stderr captured, keeping whatever stdin/stdout it was given.
    pub fn start(mut cmd: Command) -> Self {
        cmd.stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
        let (stderr, stderr_thread) = Capture::spawn(child.stderr.take().unwrap());
        Self {
            child,
            stderr,
            stderr_thread: Some(stderr_thread),
            status: None,
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn take_stdin(&mut self) -> ChildStdin {
        self.child
            .stdin
            .take()
            .expect("stdin is piped and not taken")
    }

    pub fn take_stdout(&mut self) -> ChildStdout {
        self.child
            .stdout
            .take()
            .expect("stdout is piped and not taken")
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Waits until a line of stderr satisfies `pred` and returns it.
    pub fn wait_for_stderr_line(&mut self, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(line) = self.stderr().lines().find(|l| pred(l)) {
                return line.to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.status = Some(status);
                // The process is gone: whatever it wrote is all there will be.
                self.join_stderr();
                if let Some(line) = self.stderr().lines().find(|l| pred(l)) {
                    return line.to_string();
                }
                panic!("server exited ({status}) first; stderr:\n{}", self.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "no such stderr line within {TIMEOUT:?}; stderr:\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// The exit status, if the process has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Waits for the process to exit, at most `timeout`; panics (after killing it) otherwise.
    /// Once it has exited, all of its stderr has been captured.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                self.join_stderr();
                return status;
            }
            if Instant::now() >= deadline {
                self.kill();
                panic!(
                    "server did not exit within {timeout:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Kills the process (if still running) and reaps it.
    pub fn kill(&mut self) {
        if self.try_status().is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }

    /// Waits (bounded) for the stderr thread to reach end of file.
    fn join_stderr(&mut self) {
        let Some(handle) = self.stderr_thread.take() else {
            return;
        };
        let deadline = Instant::now() + TIMEOUT;
        while !handle.is_finished() {
            // A grandchild holding the pipe open would keep it from ending.
            if Instant::now() >= deadline {
                return;
            }
            thread::sleep(Duration::from_millis(1));
        }
        let _ = handle.join();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a run to completion printed.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .expect("exited normally, not by a signal")
    }
}

/// Runs `cmd` with stdin at end of file and waits (bounded) for it to exit.
pub fn run_command(mut cmd: Command) -> Finished {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped());
    let mut server = Server::start(cmd);
    let (stdout, stdout_thread) = Capture::spawn(server.take_stdout());
    let status = server.wait_exit(TIMEOUT);
    let deadline = Instant::now() + TIMEOUT;
    while !stdout_thread.is_finished() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    Finished {
        status,
        stdout: stdout.text(),
        stderr: server.stderr(),
    }
}

/// Runs the binary with `args` to completion (see [`run_command`]).
pub fn run<I, S>(args: I) -> Finished
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_command(command(args))
}

/// A newline-delimited JSON-RPC client on the server's stdin/stdout.
pub struct StdioClient {
    pub server: Server,
    stdin: Option<ChildStdin>,
    /// Lines of stdout, each with its `\n` (the last one may lack it); closed at end of file.
    lines: Receiver<Vec<u8>>,
    next_id: i64,
}

impl StdioClient {
    /// Starts the binary with `args` and connects to it.
    pub fn start<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::connect(Server::spawn(args))
    }

    /// Starts `cmd` (see [`command`]) and connects to it.
    pub fn start_command(cmd: Command) -> Self {
        Self::connect(Server::from_command(cmd))
    }

    /// Takes over a server's stdin and stdout.
    pub fn connect(mut server: Server) -> Self {
        let stdin = server.take_stdin();
        let stdout = server.take_stdout();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::with_capacity(1 << 16, stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Self {
            server,
            stdin: Some(stdin),
            lines: rx,
            next_id: 1,
        }
    }

    /// The next request id this client will use.
    pub fn fresh_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Writes `bytes` exactly as given (no newline is added).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin
            .write_all(bytes)
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("writing to the server: {e}"));
    }

    /// Writes `line` followed by a newline.
    pub fn send_line(&mut self, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.send_raw(&bytes);
    }

    /// Writes one JSON message as a line.
    pub fn send(&mut self, message: &Value) {
        self.send_line(&message.to_string());
    }

    /// Sends a notification.
    pub fn notify(&mut self, method: &str, params: Option<Value>) {
        let mut message = json!({"jsonrpc": "2.0", "method": method});
        if let Some(p) = params {
            message["params"] = p;
        }
        self.send(&message);
    }

    /// The next raw line of stdout (with its newline), or why there is none.
    pub fn try_recv_raw(&self, timeout: Duration) -> Result<Vec<u8>, RecvTimeoutError> {
        self.lines.recv_timeout(timeout)
    }

    /// The next line of stdout, without its newline. Panics on timeout, end of output, a line
    /// without a newline or one that is not UTF-8.
    pub fn recv_line(&self) -> String {
        match self.try_recv_raw(TIMEOUT) {
            Ok(mut line) => {
                assert_eq!(
                    line.last(),
                    Some(&b'\n'),
                    "output ended inside a line: {:?}",
                    String::from_utf8_lossy(&line)
                );
                line.pop();
                String::from_utf8(line).expect("stdout is UTF-8")
            }
            Err(RecvTimeoutError::Timeout) => panic!(
                "no output line within {TIMEOUT:?}; stderr:\n{}",
                self.server.stderr()
            ),
            Err(RecvTimeoutError::Disconnected) => panic!(
                "stdout closed while a line was expected; stderr:\n{}",
                self.server.stderr()
            ),
        }
    }

    /// The next line of stdout, parsed as JSON.
    pub fn recv(&self) -> Value {
        let line = self.recv_line();
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {}", preview(&line)))
    }

    /// Asserts that no line arrives within `wait`.
    pub fn expect_silence(&self, wait: Duration) {
        if let Ok(line) = self.try_recv_raw(wait) {
            panic!(
                "unexpected output: {}",
                preview(&String::from_utf8_lossy(&line))
            );
        }
    }

    /// Reads every remaining line until stdout closes (bounded by [`TIMEOUT`] overall).
    pub fn recv_to_eof(&self) -> Vec<String> {
        let deadline = Instant::now() + TIMEOUT;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.try_recv_raw(left) {
                Ok(mut line) => {
                    assert_eq!(line.last(), Some(&b'\n'), "unterminated last line");
                    line.pop();
                    lines.push(String::from_utf8(line).expect("stdout is UTF-8"));
                }
                Err(RecvTimeoutError::Disconnected) => return lines,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "stdout still open after {TIMEOUT:?}; stderr:\n{}",
                    self.server.stderr()
                ),
            }
        }
    }

    /// Sends a request with a fresh id and returns the whole response, which must be the next
    /// response on stdout (server notifications in between are skipped).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.fresh_id();
        let mut message = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if !params.is_null() {
            message["params"] = params;
        }
        self.send(&message);
        self.response_to(&json!(id))
    }

    /// Reads the response with `id`, skipping server notifications.
    pub fn response_to(&self, id: &Value) -> Value {
        loop {
            let message = self.recv();
            if message.get("id").is_none() && message.get("method").is_some() {
                continue;
            }
            assert_eq!(
                message.get("id"),
                Some(id),
                "expected the response to id {id}, got {}",
                preview(&message.to_string())
            );
            return message;
        }
    }

    /// Sends a request and returns its `result`, asserting it succeeded.
    pub fn result(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params);
        assert_valid_response(&response);
        match response.get("result") {
            Some(r) => r.clone(),
            None => panic!(
                "{method} failed: {}",
                preview(&response["error"].to_string())
            ),
        }
    }

    /// Sends a request and returns its `error` object, asserting it failed.
    pub fn error(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params);
        assert_valid_response(&response);
        match response.get("error") {
            Some(e) => e.clone(),
            None => panic!(
                "{method} unexpectedly succeeded: {}",
                preview(&response.to_string())
            ),
        }
    }

    /// Sends `initialize` asking for `version` (or none) and returns the result.
    pub fn initialize(&mut self, version: Option<&str>) -> Value {
        let mut params = json!({
            "capabilities": {},
            "clientInfo": {"name": "integration-tests", "version": "1.0.0"}
        });
        if let Some(v) = version {
            params["protocolVersion"] = json!(v);
        }
        self.result("initialize", params)
    }

    /// `initialize` with `version` followed by `notifications/initialized`.
    pub fn handshake(&mut self, version: &str) -> Value {
        let result = self.initialize(Some(version));
        assert_eq!(result["protocolVersion"], version);
        self.notify("notifications/initialized", None);
        result
    }

    /// Sends a ping and asserts that its `{}` reply is the very next line.
    pub fn ping(&mut self) {
        let id = self.fresh_id();
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": "ping"}));
        let reply = self.recv();
        assert_eq!(reply, json!({"jsonrpc": "2.0", "id": id, "result": {}}));
    }

    /// Takes the stdin pipe (e.g. to write from another thread).
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin is open")
    }

    /// Closes stdin: the server sees end of file.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits (bounded) for the server to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        self.server.wait_exit(timeout)
    }

    pub fn stderr(&self) -> String {
        self.server.stderr()
    }
}

/// Asserts the JSON-RPC 2.0 shape of a response: `jsonrpc`, `id`, exactly one of
/// `result`/`error`, and an error with an integer `code` and a string `message`.
pub fn assert_valid_response(response: &Value) {
    let obj = response.as_object().expect("a response is an object");
    assert_eq!(obj.get("jsonrpc"), Some(&json!("2.0")), "{response}");
    assert!(obj.contains_key("id"), "{response}");
    assert!(
        obj.contains_key("result") != obj.contains_key("error"),
        "exactly one of result/error: {response}"
    );
    if let Some(e) = obj.get("error") {
        assert!(e["code"].is_i64(), "{response}");
        assert!(e["message"].is_string(), "{response}");
    }
    let allowed = ["jsonrpc", "id", "result", "error"];
    assert!(
        obj.keys().all(|k| allowed.contains(&k.as_str())),
        "{response}"
    );
}

/// The first few hundred characters of `s`, for panic messages about huge lines.
pub fn preview(s: &str) -> String {
    const MAX: usize = 400;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// The exact payload of `size` bytes for item `name`: `"Response from <name>. "` followed by
/// `"This is benchmark data. "` repeated, cut to `size` bytes.
pub fn payload(name: &str, size: usize) -> String {
    let mut s = format!("Response from {name}. ");
    while s.len() < size {
        s.push_str("This is benchmark data. ");
    }
    s.truncate(size);
    s
}

/// Asserts `data` is exactly the `size`-byte payload for `name`, without building a second
/// copy of a multi-megabyte string in a panic message.
pub fn assert_payload(data: &str, name: &str, size: usize) {
    assert_eq!(data.len(), size, "payload length for {name}");
    let expected = payload(name, size);
    if data != expected {
        let at = data
            .bytes()
            .zip(expected.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "payload for {name} differs at byte {at}: {:?}",
            preview(&data[at..])
        );
    }
}

/// Seconds since the Unix epoch of a `YYYY-MM-DDTHH:MM:SSZ` timestamp, or `None` if it is
/// not exactly in that form.
pub fn parse_rfc3339_utc(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20 {
        return None;
    }
    for (i, &c) in b.iter().enumerate() {
        let ok = match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        };
        if !ok {
            return None;
        }
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Asserts `s` is a UTC RFC 3339 timestamp (seconds precision) close to now.
pub fn assert_timestamp_now(s: &str) {
    let t = parse_rfc3339_utc(s).unwrap_or_else(|| panic!("not a YYYY-MM-DDTHH:MM:SSZ: {s:?}"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((t - now).abs() <= 60, "timestamp {s} is not now ({now})");
}
