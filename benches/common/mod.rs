//! Code shared by the end-to-end benchmarks (`e2e_stdio`, `e2e_http`): locating and starting
//! the server binary, a line-oriented stdio client for it, reading its memory and CPU time from
//! `/proc`, statistics, and the Markdown report.
//!
//! Each bench includes this module with `mod common;` and uses what it needs, hence the
//! `dead_code` allowance at the include site.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

pub const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1.0.0"}}}"#;
pub const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// Whether the bench was started by `cargo bench` (else: `cargo test`, a quick check only).
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// `BENCHMARK_SERVER_BIN`, else the binary Cargo built for this bench target (the `release`
/// one under `cargo bench`, the debug one under `cargo test`).
pub fn server_binary() -> PathBuf {
    let bin = match std::env::var_os("BENCHMARK_SERVER_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_benchmark-server")),
    };
    if !bin.exists() {
        panic!(
            "server binary {} not found: build it with `cargo build --release` \
             (or run this through `cargo bench`, which builds it)",
            bin.display()
        );
    }
    bin
}

/// Warns when the binary looks like a debug build.
pub fn warn_if_debug(name: &str, bin: &Path) {
    eprintln!("{name}: server binary {}", bin.display());
    if bin.components().any(|c| c.as_os_str() == "debug") {
        eprintln!("{name}: warning: this looks like an unoptimized build");
    }
}

/// The server command line: `flags`, then `-log-level=none` unless `log_level` says otherwise.
/// The server also takes its flags from `BENCH_*` variables: they are kept out.
pub fn server_command(bin: &Path, flags: &[&str], log_level: &str) -> Command {
    let mut command = Command::new(bin);
    command.args(flags).arg(format!("-log-level={log_level}"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("BENCH_") {
            command.env_remove(key);
        }
    }
    command
}

// ---------------------------------------------------------------------------------------------
// /proc readers.

/// `(VmHWM, VmRSS)` of a process in KiB.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/<pid>/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/<pid>/status"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// User + system CPU time of a process (all its threads, live or exited), from
/// `/proc/<pid>/stat` (`"self"` for this process).
pub fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/<pid>/stat");
    // Fields after the parenthesised command name, which may itself contain spaces.
    let rest = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 =
        fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second())
}

/// `getconf CLK_TCK` (100 on Linux unless configured otherwise).
fn clock_ticks_per_second() -> f64 {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The 1-minute load average, to tell quiet runs from noisy ones.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".to_string())
}

pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

// ---------------------------------------------------------------------------------------------
// A server child process over stdio and a line-oriented client for it.

pub struct Server {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub stdout: BufReader<ChildStdout>,
    line: Vec<u8>,
    pub spawned: Instant,
}

impl Server {
    pub fn spawn(bin: &Path, flags: &[&str]) -> Server {
        let mut command = server_command(bin, flags, "none");
        let spawned = Instant::now();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdin = child.stdin.take();
        let stdout = BufReader::with_capacity(1 << 20, child.stdout.take().expect("piped"));
        Server {
            child,
            stdin,
            stdout,
            line: Vec::with_capacity(1 << 16),
            spawned,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdin(&mut self) -> &mut ChildStdin {
        self.stdin.as_mut().expect("stdin is open")
    }

    /// Writes one message (a newline is added) in a single write.
    pub fn send(&mut self, message: &str) {
        let mut framed = Vec::with_capacity(message.len() + 1);
        framed.extend_from_slice(message.as_bytes());
        framed.push(b'\n');
        self.stdin()
            .write_all(&framed)
            .expect("server closed its stdin");
    }

    /// Reads one response line (without its newline).
    pub fn recv(&mut self) -> &[u8] {
        self.line.clear();
        let n = self
            .stdout
            .read_until(b'\n', &mut self.line)
            .expect("read from server");
        assert!(
            n > 0 && self.line.ends_with(b"\n"),
            "server closed stdout early"
        );
        self.line.pop();
        &self.line
    }

    /// Reads one response line without keeping it, as a streaming client would consume it;
    /// returns its length (newline included).
    pub fn recv_discard(&mut self) -> usize {
        let mut len = 0;
        loop {
            let buf = self.stdout.fill_buf().expect("read from server");
            assert!(!buf.is_empty(), "server closed stdout early");
            match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.stdout.consume(i + 1);
                    return len + i + 1;
                }
                None => {
                    let n = buf.len();
                    self.stdout.consume(n);
                    len += n;
                }
            }
        }
    }

    pub fn request(&mut self, message: &str) -> &[u8] {
        self.send(message);
        self.recv()
    }

    /// Sends `initialize` (+ `notifications/initialized`) and returns the time from spawn to
    /// the complete `initialize` response.
    pub fn initialize(&mut self) -> Duration {
        self.send(INITIALIZE);
        let spawned = self.spawned;
        let reply = self.recv();
        let elapsed = spawned.elapsed();
        expect_result(reply, "initialize");
        self.send(INITIALIZED);
        elapsed
    }

    /// `(VmHWM, VmRSS)` in KiB.
    pub fn memory_kib(&self) -> (u64, u64) {
        memory_kib(self.pid())
    }

    /// Closes stdin and waits for a clean exit.
    pub fn finish(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait for server");
        assert!(status.success(), "server exited with {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            // Dropped mid-run (a panic): do not leave the child behind.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `calls` pipelined tools/calls against a fresh server started with `flags`; returns calls/s and, when `keep`
/// is set, the replies.
pub fn pipeline(bin: &Path, flags: &[&str], calls: u64, keep: bool) -> (f64, Vec<u8>) {
    let mut s = Server::spawn(bin, flags);
    s.initialize();
    let mut batch = Vec::with_capacity(calls as usize * 140);
    for i in 0..calls {
        batch.extend_from_slice(call_request(i + 1, i % 1000).as_bytes());
        batch.push(b'\n');
    }
    let mut stdin = s.stdin.take().expect("stdin is open");
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 1 << 18];
    let mut lines = 0u64;
    let start = Instant::now();
    let writer = std::thread::spawn(move || {
        for chunk in batch.chunks(1 << 16) {
            stdin.write_all(chunk).expect("write requests");
        }
        stdin
    });
    // Count what the BufReader may already hold, then read straight from the pipe.
    let held = s.stdout.buffer().to_vec();
    s.stdout.consume(held.len());
    lines += held.iter().filter(|&&b| b == b'\n').count() as u64;
    if keep {
        kept.extend_from_slice(&held);
    }
    let stdout = s.stdout.get_mut();
    while lines < calls {
        let n = stdout.read(&mut buf).expect("read replies");
        assert!(
            n > 0,
            "server closed stdout after {lines} of {calls} replies"
        );
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        if keep {
            kept.extend_from_slice(&buf[..n]);
        }
    }
    let elapsed = start.elapsed();
    assert_eq!(lines, calls, "one reply per call");
    s.stdin = Some(writer.join().expect("writer thread"));
    s.finish();
    (calls as f64 / elapsed.as_secs_f64(), kept)
}

pub fn expect_result(reply: &[u8], what: &str) {
    let head = &reply[..reply.len().min(200)];
    assert!(
        reply.starts_with(b"{") && contains(head, b"\"result\""),
        "{what}: unexpected reply {}",
        String::from_utf8_lossy(head)
    );
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub fn list_request(id: u64, method: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{{}}}}"#)
}

pub fn call_request(id: u64, tool: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"benchmark_tool_{tool}","arguments":{{"param1":"value1","param2":"value2"}}}}}}"#
    )
}

/// Number of items in a `*/list` response, and whether it says there are more.
pub fn count_items(reply: &[u8], key: &str) -> (usize, bool) {
    let v: serde_json::Value = serde_json::from_slice(reply).expect("list reply is JSON");
    let result = &v["result"];
    let items = result[key].as_array().map_or(0, Vec::len);
    (items, result.get("nextCursor").is_some())
}

// ---------------------------------------------------------------------------------------------
// Statistics.

#[derive(Clone)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

pub fn summarize(samples: &[f64]) -> Summary {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    Summary {
        median: percentile_sorted(&s, 50.0),
        min: s[0],
        max: s[s.len() - 1],
        runs: s.len(),
    }
}

/// Nearest-rank percentile of sorted samples (the median of an even count is the mean of the
/// two middle ones).
pub fn percentile_sorted(s: &[f64], p: f64) -> f64 {
    if p == 50.0 && s.len().is_multiple_of(2) {
        return (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0;
    }
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---------------------------------------------------------------------------------------------
// Report.

pub struct Row {
    pub measurement: String,
    pub flags: String,
    pub unit: &'static str,
    pub summary: Summary,
}

#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn add(&mut self, measurement: &str, flags: &[&str], unit: &'static str, summary: Summary) {
        let row = Row {
            measurement: measurement.to_string(),
            flags: flags.join(" "),
            unit,
            summary,
        };
        eprintln!(
            "  {:<44} {:<58} {:>12} {}",
            row.measurement,
            row.flags,
            fmt_value(row.summary.median),
            row.unit
        );
        self.rows.push(row);
    }

    pub fn markdown(&self) -> String {
        let mut t = String::new();
        t.push_str("| Measurement | Server flags | Median | Min | Max | Runs |\n");
        t.push_str("| --- | --- | ---: | ---: | ---: | ---: |\n");
        for r in &self.rows {
            let u = r.unit;
            let _ = writeln!(
                t,
                "| {} | `{}` | {} {u} | {} {u} | {} {u} | {} |",
                r.measurement,
                r.flags,
                fmt_value(r.summary.median),
                fmt_value(r.summary.min),
                fmt_value(r.summary.max),
                r.summary.runs
            );
        }
        if !self.notes.is_empty() {
            t.push('\n');
            for n in &self.notes {
                let _ = writeln!(t, "- {n}");
            }
        }
        t
    }
}

pub fn fmt_value(v: f64) -> String {
    if v >= 10_000.0 {
        // Thousands separators for large counts.
        let n = v.round() as u64;
        let s = n.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
