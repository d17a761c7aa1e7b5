//! End-to-end load benchmark over stdio: starts the server binary as a child process, talks
//! newline-delimited JSON-RPC to it through pipes and measures what a client sees.
//!
//! * time from spawn to the `initialize` response, small catalog vs huge catalogs;
//! * full `tools/list` latency (request written → last byte read) at `-tools=10000` and at
//!   `-tools=100000 -resources=50000 -prompts=10000`, on a warm server and from a cold start,
//!   and `resources/list` / `prompts/list` at the latter;
//! * sequential `tools/call` round trips (p50/p99) and pipelined `tools/call` throughput;
//! * peak resident memory of the server (`VmHWM` from `/proc/<pid>/status`, read after its
//!   last response, just before it is told to exit).
//!
//! Every figure is the median of repeated runs (one run = one server process, or one request
//! for latencies on a warm server); min and max are shown beside it. Configurations are
//! interleaved round by round so that background noise spreads over all of them.
//!
//! Run: `cargo bench --bench e2e_stdio`. Cargo builds the server with the bench profile
//! (which inherits `release`) and this bench runs that binary (`target/release/benchmark-server`,
//! under `CARGO_TARGET_DIR` if set). `BENCHMARK_SERVER_BIN=/path/to/server` runs another
//! build instead, e.g. the Go original: only the command line flags and the stdio protocol are
//! relied on.
//!
//! Without `--bench` (i.e. under `cargo test --all-targets`) it only checks, in well under a
//! second, that the binary answers `initialize`, `tools/list` and `tools/call`.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e_stdio","version":"1.0.0"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// Catalog flags used throughout; `-log-level=none` keeps stderr quiet.
const SMALL: &[&str] = &["-tools=10"];
const TOOLS_10K: &[&str] = &["-tools=10000"];
const XLARGE: &[&str] = &["-tools=100000", "-resources=50000", "-prompts=10000"];
const HUGE_1M: &[&str] = &["-tools=1000000", "-resources=1000000", "-prompts=1000000"];
const HUGE_10M: &[&str] = &[
    "-tools=10000000",
    "-resources=10000000",
    "-prompts=10000000",
];
/// The tools/call benchmarks: 1,000-byte payloads (the default `-tool-size`).
const CALLS: &[&str] = &[
    "-tools=1000",
    "-tool-size=1000",
    "-resources=0",
    "-prompts=0",
];

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let bin = server_binary();
    if !bin.exists() {
        panic!(
            "server binary {} not found: build it with `cargo build --release` \
             (or run this through `cargo bench --bench e2e_stdio`, which builds it)",
            bin.display()
        );
    }
    if bench_mode {
        run_benchmarks(&bin);
    } else {
        smoke(&bin);
    }
}

/// `BENCHMARK_SERVER_BIN`, else the binary Cargo built for this bench target (the `release`
/// one under `cargo bench`, the debug one under `cargo test`).
fn server_binary() -> PathBuf {
    match std::env::var_os("BENCHMARK_SERVER_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_benchmark-server")),
    }
}

// ---------------------------------------------------------------------------------------------
// A server child process and a line-oriented client for it.

struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    line: Vec<u8>,
    spawned: Instant,
}

impl Server {
    fn spawn(bin: &PathBuf, flags: &[&str]) -> Server {
        let mut command = Command::new(bin);
        command.args(flags).arg("-log-level=none");
        // The server also takes its flags from BENCH_* variables: keep them out.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("BENCH_") {
                command.env_remove(key);
            }
        }
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

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stdin(&mut self) -> &mut ChildStdin {
        self.stdin.as_mut().expect("stdin is open")
    }

    /// Writes one message (a newline is added) in a single write.
    fn send(&mut self, message: &str) {
        let mut framed = Vec::with_capacity(message.len() + 1);
        framed.extend_from_slice(message.as_bytes());
        framed.push(b'\n');
        self.stdin()
            .write_all(&framed)
            .expect("server closed its stdin");
    }

    /// Reads one response line (without its newline).
    fn recv(&mut self) -> &[u8] {
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
    fn recv_discard(&mut self) -> usize {
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

    fn request(&mut self, message: &str) -> &[u8] {
        self.send(message);
        self.recv()
    }

    /// Sends `initialize` (+ `notifications/initialized`) and returns the time from spawn to
    /// the complete `initialize` response.
    fn initialize(&mut self) -> Duration {
        self.send(INITIALIZE);
        let spawned = self.spawned;
        let reply = self.recv();
        let elapsed = spawned.elapsed();
        expect_result(reply, "initialize");
        self.send(INITIALIZED);
        elapsed
    }

    /// `(VmHWM, VmRSS)` in KiB.
    fn memory_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/<pid>/status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/<pid>/status"))
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    /// Closes stdin and waits for a clean exit.
    fn finish(mut self) {
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

fn expect_result(reply: &[u8], what: &str) {
    let head = &reply[..reply.len().min(200)];
    assert!(
        reply.starts_with(b"{") && contains(head, b"\"result\""),
        "{what}: unexpected reply {}",
        String::from_utf8_lossy(head)
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn list_request(id: u64, method: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{{}}}}"#)
}

fn call_request(id: u64, tool: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"benchmark_tool_{tool}","arguments":{{"param1":"value1","param2":"value2"}}}}}}"#
    )
}

/// Number of items in a `*/list` response, and whether it says there are more.
fn count_items(reply: &[u8], key: &str) -> (usize, bool) {
    let v: serde_json::Value = serde_json::from_slice(reply).expect("list reply is JSON");
    let result = &v["result"];
    let items = result[key].as_array().map_or(0, Vec::len);
    (items, result.get("nextCursor").is_some())
}

// ---------------------------------------------------------------------------------------------
// Statistics.

#[derive(Clone)]
struct Summary {
    median: f64,
    min: f64,
    max: f64,
    runs: usize,
}

fn summarize(samples: &[f64]) -> Summary {
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
fn percentile_sorted(s: &[f64], p: f64) -> f64 {
    if p == 50.0 && s.len().is_multiple_of(2) {
        return (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0;
    }
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---------------------------------------------------------------------------------------------
// Report.

struct Row {
    measurement: String,
    flags: String,
    unit: &'static str,
    summary: Summary,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    fn add(&mut self, measurement: &str, flags: &[&str], unit: &'static str, summary: Summary) {
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

    fn markdown(&self) -> String {
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

fn fmt_value(v: f64) -> String {
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

// ---------------------------------------------------------------------------------------------
// The benchmarks.

fn run_benchmarks(bin: &PathBuf) {
    eprintln!("e2e_stdio: server binary {}", bin.display());
    if bin.components().any(|c| c.as_os_str() == "debug") {
        eprintln!("e2e_stdio: warning: this looks like an unoptimized build");
    }
    let started = Instant::now();
    let mut report = Report::default();
    let load_before = load_average();
    startup(bin, &mut report);
    listing(bin, &mut report);
    sequential_calls(bin, &mut report);
    pipelined_calls(bin, &mut report);
    memory(bin, &mut report);
    report.notes.push(format!(
        "load average (1 min) before / after: {load_before} / {}, on {} CPUs; \
         re-run if it was well above zero",
        load_average(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    eprintln!(
        "e2e_stdio: done in {:.1} s\n",
        started.elapsed().as_secs_f64()
    );
    println!("{}", report.markdown());
}

/// The 1-minute load average, to tell quiet runs from noisy ones.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".to_string())
}

/// Spawn → `initialize` response, configurations interleaved round by round.
fn startup(bin: &PathBuf, report: &mut Report) {
    const ROUNDS: usize = 41;
    let configs = [SMALL, TOOLS_10K, XLARGE, HUGE_1M, HUGE_10M];
    let mut samples = vec![Vec::new(); configs.len()];
    // One unmeasured start to warm the page cache.
    let mut s = Server::spawn(bin, SMALL);
    s.initialize();
    s.finish();
    for round in 0..ROUNDS {
        // Rotate the order so that no configuration always runs first or last in a round.
        for k in 0..configs.len() {
            let i = (round + k) % configs.len();
            let flags = configs[i];
            let mut s = Server::spawn(bin, flags);
            samples[i].push(ms(s.initialize()));
            s.finish();
        }
    }
    let summaries: Vec<Summary> = samples.iter().map(|s| summarize(s)).collect();
    for (flags, summary) in configs.iter().zip(&summaries) {
        report.add("spawn → initialize response", flags, "ms", summary.clone());
    }
    report.notes.push(format!(
        "initialize at `{}` vs `{}`: median ratio {:.2}; at `{}`: {:.2}",
        HUGE_1M.join(" "),
        SMALL.join(" "),
        summaries[3].median / summaries[0].median,
        HUGE_10M.join(" "),
        summaries[4].median / summaries[0].median,
    ));
}

/// Full `tools/list`: warm (initialized server, request → last byte) and cold (spawn →
/// initialize → list complete).
fn listing(bin: &PathBuf, report: &mut Report) {
    /// (flags, method, result key, items, warm runs, cold runs)
    type Case<'a> = (&'a [&'a str], &'a str, &'a str, usize, usize, usize);
    let cases: [Case; 4] = [
        (TOOLS_10K, "tools/list", "tools", 10_000, 31, 15),
        (XLARGE, "tools/list", "tools", 100_000, 15, 9),
        (XLARGE, "resources/list", "resources", 50_000, 15, 0),
        (XLARGE, "prompts/list", "prompts", 10_000, 15, 0),
    ];
    for (flags, method, key, items, warm_runs, cold_runs) in cases {
        let mut s = Server::spawn(bin, flags);
        s.initialize();
        // Check the listing once, untimed, and warm up.
        let bytes = {
            let reply = s.request(&list_request(1000, method));
            let (n, more) = count_items(reply, key);
            assert_eq!((n, more), (items, false), "{method} must list every item");
            reply.len() + 1
        };
        let mut warm = Vec::new();
        for id in 0..warm_runs as u64 {
            let t = Instant::now();
            s.send(&list_request(1001 + id, method));
            let len = s.recv_discard();
            let elapsed = t.elapsed();
            assert_eq!(len, bytes);
            warm.push(ms(elapsed));
        }
        s.finish();
        let warm = summarize(&warm);
        let mib_s = bytes as f64 / (1 << 20) as f64 / (warm.median / 1e3);
        report.add(
            &format!("{method}, warm (request → last byte)"),
            flags,
            "ms",
            warm,
        );

        if cold_runs > 0 {
            let mut cold = Vec::new();
            for _ in 0..cold_runs {
                let mut s = Server::spawn(bin, flags);
                s.initialize();
                s.send(&list_request(1000, method));
                let len = s.recv_discard();
                cold.push(ms(s.spawned.elapsed()));
                assert_eq!(len, bytes);
                s.finish();
            }
            report.add(
                &format!("{method}, cold (spawn → init → list done)"),
                flags,
                "ms",
                summarize(&cold),
            );
        }
        report.notes.push(format!(
            "{method} at `{}`: {items} items, {bytes} bytes, {mib_s:.0} MiB/s received at the \
             warm median",
            flags.join(" ")
        ));
    }
}

/// One `tools/call` at a time; every round trip timed.
fn sequential_calls(bin: &PathBuf, report: &mut Report) {
    const RUNS: usize = 7;
    const WARMUP: u64 = 2_000;
    const CALLS_PER_RUN: u64 = 20_000;
    let (mut p50, mut p99, mut mean) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let mut s = Server::spawn(bin, CALLS);
        s.initialize();
        let requests: Vec<String> = (0..WARMUP + CALLS_PER_RUN)
            .map(|i| call_request(i + 1, i % 1000))
            .collect();
        for r in &requests[..WARMUP as usize] {
            let reply = s.request(r);
            expect_result(reply, "tools/call");
        }
        let mut us = Vec::with_capacity(CALLS_PER_RUN as usize);
        for r in &requests[WARMUP as usize..] {
            let t = Instant::now();
            s.request(r);
            us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        s.finish();
        mean.push(us.iter().sum::<f64>() / us.len() as f64);
        us.sort_by(f64::total_cmp);
        p50.push(percentile_sorted(&us, 50.0));
        p99.push(percentile_sorted(&us, 99.0));
    }
    report.add(
        "tools/call round trip p50 (1,000-byte payload)",
        CALLS,
        "µs",
        summarize(&p50),
    );
    report.add(
        "tools/call round trip p99 (1,000-byte payload)",
        CALLS,
        "µs",
        summarize(&p99),
    );
    report.add("tools/call round trip mean", CALLS, "µs", summarize(&mean));
    report.notes.push(format!(
        "sequential tools/call: {CALLS_PER_RUN} timed calls per run after {WARMUP} warm-up calls, \
         one server process per run"
    ));
}

/// A writer thread sends every request at once while the main thread counts response lines.
fn pipelined_calls(bin: &PathBuf, report: &mut Report) {
    const RUNS: usize = 7;
    const CALLS_PER_RUN: u64 = 100_000;
    // Untimed run that keeps and checks every reply.
    let (_, replies) = pipeline(bin, 10_000, true);
    for line in replies.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        expect_result(line, "pipelined tools/call");
    }
    let rates: Vec<f64> = (0..RUNS)
        .map(|_| pipeline(bin, CALLS_PER_RUN, false).0)
        .collect();
    report.add(
        "pipelined tools/call throughput",
        CALLS,
        "calls/s",
        summarize(&rates),
    );
    report.notes.push(format!(
        "pipelined tools/call: {CALLS_PER_RUN} calls written back to back by a second thread, \
         timed from the first write to the last response byte"
    ));
}

/// Runs `calls` pipelined tools/calls against a fresh server; returns calls/s and, when `keep`
/// is set, the replies.
fn pipeline(bin: &PathBuf, calls: u64, keep: bool) -> (f64, Vec<u8>) {
    let mut s = Server::spawn(bin, CALLS);
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

/// Peak resident memory after the given requests have been answered.
fn memory(bin: &PathBuf, report: &mut Report) {
    const RUNS: usize = 5;
    const LISTS: &[&str] = &["tools/list", "resources/list", "prompts/list"];
    let cases: [(&str, &[&str], &[&str]); 5] = [
        ("peak RSS after initialize", SMALL, &[]),
        ("peak RSS after tools/list", TOOLS_10K, &LISTS[..1]),
        ("peak RSS after all three lists", XLARGE, LISTS),
        ("peak RSS after initialize", HUGE_1M, &[]),
        ("peak RSS after initialize", HUGE_10M, &[]),
    ];
    let mut medians = Vec::new();
    for (what, flags, requests) in cases {
        let mut hwm = Vec::new();
        for _ in 0..RUNS {
            let mut s = Server::spawn(bin, flags);
            s.initialize();
            for (i, method) in requests.iter().enumerate() {
                let reply = s.request(&list_request(i as u64 + 1, method));
                expect_result(reply, method);
            }
            let (peak, _rss) = s.memory_kib();
            s.finish();
            hwm.push(peak as f64 / 1024.0);
        }
        let summary = summarize(&hwm);
        medians.push(summary.median);
        report.add(what, flags, "MiB", summary);
    }
    report.notes.push(format!(
        "peak RSS (VmHWM) at `{}` / `{}` / `{}` after initialize: {:.1} / {:.1} / {:.1} MiB",
        SMALL.join(" "),
        HUGE_1M.join(" "),
        HUGE_10M.join(" "),
        medians[0],
        medians[3],
        medians[4]
    ));
}

/// Quick check used by `cargo test --all-targets`: the binary answers the basic requests.
fn smoke(bin: &PathBuf) {
    let t = Instant::now();
    let mut s = Server::spawn(bin, &["-tools=10", "-resources=2", "-prompts=2"]);
    s.initialize();
    let (n, more) = count_items(s.request(&list_request(1, "tools/list")), "tools");
    assert_eq!((n, more), (10, false));
    expect_result(s.request(&call_request(2, 3)), "tools/call");
    let (peak, _) = s.memory_kib();
    assert!(peak > 0);
    s.finish();
    let (_, replies) = pipeline(bin, 50, true);
    assert_eq!(replies.iter().filter(|&&b| b == b'\n').count(), 50);
    println!(
        "e2e_stdio: smoke check passed in {:.0} ms against {} \
         (run `cargo bench --bench e2e_stdio` for the figures)",
        ms(t.elapsed()),
        bin.display()
    );
}
