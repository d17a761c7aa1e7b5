//! The counters: `GET /metrics` over Streamable HTTP and legacy SSE, and the stdio summary at
//! exit and on SIGUSR1. Every exposition is validated with `promtool check metrics` (from the
//! pinned Debian `prometheus` package, fetched with `apt-get download` and unpacked under
//! `<workspace>/target/promtool/` on first use; `PROMTOOL=/path/to/promtool` uses another), and
//! its counters must equal exactly what the test client sent.

mod common;
mod http_support;
mod tooling;

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use common::{StdioClient, TIMEOUT, command};
use http_support::{
    HttpServer, LATEST, Request, Response, SseStream, initialize, notification, rpc,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The Debian package that provides promtool, and the SHA-256 of its `.deb`.
const PROMETHEUS_DEB: &str = "prometheus=2.42.0+ds-5+deb12u1";
const PROMETHEUS_DEB_SHA256: &str =
    "81d59a24fce84f7fbe97a45a4f2914b6a5881b5cd1db2a6a0e129e515e1a5f55";
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

const TOKEN: &str = "metrics-secret";
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

// ---------------------------------------------------------------------------------------------
// promtool
// ---------------------------------------------------------------------------------------------

fn promtool() -> &'static Path {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PATH.get_or_init(install_promtool) {
        Ok(p) => p,
        Err(e) => panic!("promtool is needed to check the exposition: {e}"),
    }
}

/// Installs the pinned promtool under `target/promtool/` unless its stamp says it is there.
fn install_promtool() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("PROMTOOL") {
        return Ok(PathBuf::from(p));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/promtool");
    let _lock = tooling::lock(&root, "install.lock")?;
    let bin = root.join("pkg/usr/bin/promtool");
    let stamp = root.join(".stamp");
    let want = tooling::stamp_text(
        "promtool-1",
        &[PROMETHEUS_DEB.as_bytes(), PROMETHEUS_DEB_SHA256.as_bytes()],
    );
    if bin.exists() && fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
        return Ok(bin);
    }
    let _ = fs::remove_file(&stamp);
    let download = root.join("download");
    let _ = fs::remove_dir_all(&download);
    let _ = fs::remove_dir_all(root.join("pkg"));
    fs::create_dir_all(&download).map_err(|e| format!("{}: {e}", download.display()))?;
    let fetch = || {
        tooling::run_install(
            Command::new("apt-get")
                .args(["download", PROMETHEUS_DEB])
                .current_dir(&download),
            &format!("apt-get download {PROMETHEUS_DEB} (Debian bookworm apt sources are needed)"),
            INSTALL_TIMEOUT,
        )
    };
    if let Err(first) = fetch() {
        // A machine whose package lists were never fetched knows no packages yet.
        eprintln!("{first}\nfetching the package lists (apt-get update) and trying again");
        tooling::run_install(
            Command::new("apt-get").args(["update", "-qq"]),
            "apt-get update",
            INSTALL_TIMEOUT,
        )?;
        fetch()?;
    }
    let deb = fs::read_dir(&download)
        .map_err(|e| format!("{}: {e}", download.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or("apt-get download left no .deb")?;
    let bytes = fs::read(&deb).map_err(|e| format!("{}: {e}", deb.display()))?;
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if digest != PROMETHEUS_DEB_SHA256 {
        return Err(format!(
            "{} has SHA-256 {digest}, expected {PROMETHEUS_DEB_SHA256}",
            deb.display()
        ));
    }
    tooling::run_install(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(root.join("pkg")),
        "dpkg-deb -x",
        INSTALL_TIMEOUT,
    )?;
    if !bin.exists() {
        return Err(format!("{} is not in the package", bin.display()));
    }
    let _ = fs::remove_dir_all(&download);
    fs::write(&stamp, &want).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(bin)
}

/// Runs `promtool check metrics` on `text`; panics with its complaints unless it passes.
fn promtool_check(text: &str) {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run promtool: {e}"));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(text.as_bytes())
        .expect("writing to promtool");
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("waiting for promtool").is_none() {
        if Instant::now() > deadline {
            tooling::kill_tree(&mut child);
            panic!("promtool did not finish within 60 s");
        }
        thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("promtool output");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}\n{}{}\n--- exposition ---\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}

// ---------------------------------------------------------------------------------------------
// Reading an exposition
// ---------------------------------------------------------------------------------------------

/// One exposition: its text and each sample by series (`name{labels}` as written).
struct Exposition {
    text: String,
    samples: HashMap<String, f64>,
}

impl Exposition {
    /// Parses `text` after `promtool check metrics` has accepted it.
    fn checked(text: &str) -> Self {
        promtool_check(text);
        let mut samples = HashMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("no value in {line:?}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|e| panic!("bad value in {line:?}: {e}"));
            assert!(
                samples.insert(series.to_string(), value).is_none(),
                "{series} twice"
            );
        }
        Self {
            text: text.to_string(),
            samples,
        }
    }

    /// The value of `series`, 0 when it is absent (series are written once non-zero).
    fn get(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }

    /// Like [`Exposition::get`], but the series must be there.
    fn must(&self, series: &str) -> f64 {
        *self
            .samples
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in\n{}", self.text))
    }

    fn requests(&self, method: &str, transport: &str, outcome: &str) -> u64 {
        self.get(&format!(
            "benchmark_server_requests_total{{method=\"{method}\",transport=\"{transport}\",outcome=\"{outcome}\"}}"
        )) as u64
    }

    /// Every `requests_total` of `transport`, whatever the method and outcome.
    fn all_requests(&self, transport: &str) -> u64 {
        let label = format!("transport=\"{transport}\"");
        self.samples
            .iter()
            .filter(|(k, _)| {
                k.starts_with("benchmark_server_requests_total{") && k.contains(&label)
            })
            .map(|(_, v)| *v as u64)
            .sum()
    }

    /// `_count` of the latency histogram for `method` over `transport`, after checking the
    /// histogram: buckets never decrease and `+Inf` equals the count.
    fn histogram_count(&self, method: &str, transport: &str) -> u64 {
        let labels = format!("method=\"{method}\",transport=\"{transport}\"");
        let count = self.get(&format!(
            "benchmark_server_request_duration_seconds_count{{{labels}}}"
        )) as u64;
        if count == 0 {
            return 0;
        }
        let prefix = format!("benchmark_server_request_duration_seconds_bucket{{{labels},le=");
        let buckets: Vec<f64> = self
            .text
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
            .collect();
        assert!(buckets.len() > 10, "{method}: {buckets:?}");
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
        assert_eq!(*buckets.last().unwrap() as u64, count, "{method}");
        let inf = self.must(&format!(
            "benchmark_server_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}}"
        ));
        assert_eq!(inf as u64, count);
        let sum = self.must(&format!(
            "benchmark_server_request_duration_seconds_sum{{{labels}}}"
        ));
        assert!(
            sum > 0.0 && sum < count as f64 * 10.0,
            "{method}: sum {sum}"
        );
        count
    }

    /// Sum of the histogram counts of `transport`.
    fn all_histogram_counts(&self, transport: &str) -> u64 {
        let label = format!("transport=\"{transport}\"");
        self.samples
            .iter()
            .filter(|(k, _)| {
                k.starts_with("benchmark_server_request_duration_seconds_count{")
                    && k.contains(&label)
            })
            .map(|(_, v)| *v as u64)
            .sum()
    }

    fn http_responses(&self, transport: &str, code: u16) -> u64 {
        self.get(&format!(
            "benchmark_server_http_responses_total{{transport=\"{transport}\",code=\"{code}\"}}"
        )) as u64
    }

    fn bytes(&self, transport: &str) -> u64 {
        self.must(&format!(
            "benchmark_server_response_bytes_total{{transport=\"{transport}\"}}"
        )) as u64
    }

    /// The checks every exposition passes: build info, process figures, all fault kinds.
    fn assert_common(&self) {
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            self.must(&format!(
                "benchmark_server_build_info{{version=\"{version}\"}}"
            )),
            1.0
        );
        let rss = self.must("process_resident_memory_bytes");
        assert!(rss > 100_000.0 && rss < 1e9, "rss {rss}");
        let uptime = self.must("benchmark_server_uptime_seconds");
        assert!(uptime > 0.0 && uptime < 600.0, "uptime {uptime}");
        let start = self.must("process_start_time_seconds");
        assert!(start > 1.6e9, "start {start}");
        for kind in [
            "jsonrpc",
            "iserror",
            "http500",
            "http503",
            "http429",
            "hang",
            "drop",
            "malformed",
            "oversized",
            "latency",
        ] {
            let series = format!("benchmark_server_faults_injected_total{{kind=\"{kind}\"}}");
            assert_eq!(self.must(&series), 0.0, "no faults are configured");
        }
        for family in [
            "requests_total counter",
            "request_duration_seconds histogram",
            "response_bytes_total counter",
            "http_responses_total counter",
            "faults_injected_total counter",
            "sessions gauge",
            "sse_streams gauge",
        ] {
            let line = format!("# TYPE benchmark_server_{family}");
            assert!(self.text.lines().any(|l| l == line), "{line}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Streamable HTTP and SSE
// ---------------------------------------------------------------------------------------------

fn start(transport: &str, extra: &[&str]) -> HttpServer {
    let mut args = vec![
        format!("-transport={transport}"),
        "-listen=127.0.0.1".to_string(),
        "-port=0".to_string(),
        "-tools=20".to_string(),
        "-tool-size=300".to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    HttpServer::start_command(command(&args), 1)
}

fn scrape(s: &HttpServer) -> Exposition {
    let r = s.send(&Request::get("/metrics"));
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(r.content_type(), CONTENT_TYPE);
    Exposition::checked(&r.text())
}

/// What a test client sent, to compare with the server's counters.
#[derive(Default)]
struct Sent {
    calls: u64,
    lists: u64,
    unknown_methods: u64,
    unknown_tools: u64,
}

const N_CALLS: u64 = 7;
const M_LISTS: u64 = 4;
const K_UNKNOWN_METHODS: u64 = 3;
const K_UNKNOWN_TOOLS: u64 = 2;

/// The messages of the standard workload after the handshake, with the count of each kind.
fn workload() -> (Vec<Value>, Sent) {
    let mut messages = Vec::new();
    let mut sent = Sent::default();
    let mut id = 10;
    let mut next = |m: &str, p: Value| {
        id += 1;
        rpc(id, m, p)
    };
    for i in 0..N_CALLS.max(M_LISTS) {
        if i < N_CALLS {
            messages.push(next(
                "tools/call",
                json!({"name": format!("benchmark_tool_{i}")}),
            ));
            sent.calls += 1;
        }
        if i < M_LISTS {
            messages.push(next("tools/list", json!({})));
            sent.lists += 1;
        }
        if i < K_UNKNOWN_METHODS {
            messages.push(next("no/such/method", json!({})));
            sent.unknown_methods += 1;
        }
        if i < K_UNKNOWN_TOOLS {
            messages.push(next("tools/call", json!({"name": "no_such_tool"})));
            sent.unknown_tools += 1;
        }
    }
    (messages, sent)
}

/// Asserts the request counters and histograms of `transport` are exactly the workload's,
/// plus one `initialize` and one `notifications/initialized` (and `extra_invalid` parse
/// errors).
fn assert_workload_counted(e: &Exposition, transport: &str, sent: &Sent, parse_errors: u64) {
    assert_eq!(e.requests("initialize", transport, "ok"), 1, "{}", e.text);
    assert_eq!(e.requests("notifications/initialized", transport, "ok"), 1);
    assert_eq!(e.requests("tools/call", transport, "ok"), sent.calls);
    assert_eq!(
        e.requests("tools/call", transport, "invalid_params"),
        sent.unknown_tools
    );
    assert_eq!(e.requests("tools/list", transport, "ok"), sent.lists);
    assert_eq!(
        e.requests("other", transport, "method_not_found"),
        sent.unknown_methods
    );
    assert_eq!(e.requests("none", transport, "parse_error"), parse_errors);
    let total = 2 + sent.calls + sent.unknown_tools + sent.lists + sent.unknown_methods;
    assert_eq!(
        e.all_requests(transport),
        total + parse_errors,
        "{}",
        e.text
    );
    assert_eq!(
        e.histogram_count("tools/call", transport),
        sent.calls + sent.unknown_tools
    );
    assert_eq!(e.histogram_count("tools/list", transport), sent.lists);
    assert_eq!(e.histogram_count("other", transport), sent.unknown_methods);
    assert_eq!(e.histogram_count("initialize", transport), 1);
    assert_eq!(e.all_histogram_counts(transport), total + parse_errors);
    for other in ["stdio", "sse", "http"]
        .into_iter()
        .filter(|t| *t != transport)
    {
        assert_eq!(e.all_requests(other), 0, "{other}");
        assert_eq!(e.bytes(other), 0, "{other}");
    }
}

#[test]
fn streamable_http_counts_exactly_what_the_client_sent() {
    let s = start("http", &[]);
    let empty = scrape(&s);
    empty.assert_common();
    assert_eq!(empty.all_requests("http"), 0);
    assert_eq!(
        empty.get("benchmark_server_sessions{transport=\"http\"}"),
        0.0
    );
    // The first scrape's own 200 and body are counted once it has been sent.
    let mut body_bytes = empty.text.len() as u64;
    let mut ok_responses = 1;

    let r = s.send(&Request::mcp("/mcp", &initialize(1, Some(LATEST))));
    assert_eq!(r.status(), 200);
    let session = r.session_id().expect("a session id").to_string();
    body_bytes += r.body.len() as u64;
    ok_responses += 1;
    let r = s.send(
        &Request::mcp("/mcp", &notification("notifications/initialized"))
            .session(&session)
            .protocol(LATEST),
    );
    assert_eq!(r.status(), 202);
    body_bytes += r.body.len() as u64;

    let (messages, sent) = workload();
    let mut conn = s.connect();
    for m in &messages {
        let r: Response = conn.send(&Request::mcp("/mcp", m).session(&session).protocol(LATEST));
        assert_eq!(r.status(), 200, "{}", r.text());
        body_bytes += r.body.len() as u64;
        ok_responses += 1;
    }
    let r = s.send(
        &Request::post("/mcp", "{not json")
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .session(&session)
            .protocol(LATEST),
    );
    assert_eq!(r.status(), 400);
    body_bytes += r.body.len() as u64;

    let e = scrape(&s);
    e.assert_common();
    assert_workload_counted(&e, "http", &sent, 1);
    assert_eq!(e.http_responses("http", 200), ok_responses);
    assert_eq!(e.http_responses("http", 202), 1);
    assert_eq!(e.http_responses("http", 400), 1);
    assert_eq!(e.http_responses("sse", 200), 0);
    // Every body byte the client read, and nothing else, was counted.
    assert_eq!(e.bytes("http"), body_bytes);
    assert_eq!(e.must("benchmark_server_sessions{transport=\"http\"}"), 1.0);
    assert_eq!(e.must("benchmark_server_sse_streams"), 0.0);

    // A GET stream is a live SSE stream until its connection closes.
    let stream = SseStream::open(
        s.addr(),
        &Request::sse("/mcp").session(&session).protocol(LATEST),
    );
    assert_eq!(
        scrape(&s).must("benchmark_server_sse_streams"),
        1.0,
        "one GET stream"
    );
    drop(stream);
    wait_for(&s, "benchmark_server_sse_streams", 0.0);

    let r = s.send(&Request::delete("/mcp").session(&session).protocol(LATEST));
    assert_eq!(r.status(), 200);
    let e = scrape(&s);
    assert_eq!(e.must("benchmark_server_sessions{transport=\"http\"}"), 0.0);
    // Scrapes are not requests.
    assert_eq!(e.all_requests("http"), 2 + 7 + 2 + 4 + 3 + 1);
}

/// Scrapes until `series` has `value` (a closed connection is noticed asynchronously).
fn wait_for(s: &HttpServer, series: &str, value: f64) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let e = scrape(s);
        if e.must(series) == value {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} is {} after {TIMEOUT:?}, expected {value}",
            e.must(series)
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn legacy_sse_counts_exactly_what_the_client_sent() {
    let s = start("sse", &[]);
    assert_eq!(scrape(&s).all_requests("sse"), 0);
    let mut stream = SseStream::open(s.addr(), &Request::sse("/sse"));
    let endpoint = stream.next().data.expect("the endpoint event");
    let target = endpoint.clone();
    // Event data plus framing is a lower bound for the stream's bytes.
    let mut low = endpoint.len() as u64;
    let mut events = 1;
    let post = |m: &Value| {
        let r = s.send(
            &Request::post(&target, m.to_string()).header("Content-Type", "application/json"),
        );
        assert_eq!(r.status(), 202, "{}", r.text());
        r.body.len() as u64
    };
    let mut accepted = 0;
    low += post(&initialize(1, Some("2024-11-05")));
    accepted += 1;
    low += stream.next_event().data.map_or(0, |d| d.len() as u64);
    events += 1;
    low += post(&notification("notifications/initialized"));
    accepted += 1;
    let (messages, sent) = workload();
    for m in &messages {
        low += post(m);
        accepted += 1;
        low += stream.next_event().data.map_or(0, |d| d.len() as u64);
        events += 1;
    }
    let e = scrape(&s);
    e.assert_common();
    assert_workload_counted(&e, "sse", &sent, 0);
    assert_eq!(e.http_responses("sse", 202), accepted);
    // The /sse stream and the first scrape.
    assert_eq!(e.http_responses("sse", 200), 2);
    assert_eq!(e.http_responses("http", 200), 0);
    let bytes = e.bytes("sse");
    // At most "event: message\ndata: " and a blank line around each event, and the first
    // scrape's body.
    let high = low + events * 32 + 20_000;
    assert!(bytes >= low && bytes <= high, "{low} <= {bytes} <= {high}");
    assert_eq!(e.must("benchmark_server_sessions{transport=\"sse\"}"), 1.0);
    assert_eq!(e.must("benchmark_server_sse_streams"), 1.0);
    drop(stream);
    wait_for(&s, "benchmark_server_sse_streams", 0.0);
    wait_for(&s, "benchmark_server_sessions{transport=\"sse\"}", 0.0);
}

// ---------------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------------

#[test]
fn metrics_need_the_token_unless_public() {
    for transport in ["http", "sse"] {
        let s = start(transport, &[&format!("-auth-token={TOKEN}")]);
        let r = s.send(&Request::get("/metrics"));
        assert_eq!(r.status(), 401, "{transport}: {}", r.text());
        assert!(r.header("www-authenticate").is_some());
        let r = s.send(&Request::get("/metrics").bearer("wrong"));
        assert_eq!(r.status(), 401, "{transport}");
        let r = s.send(&Request::get("/metrics").bearer(TOKEN));
        assert_eq!(r.status(), 200, "{transport}");
        assert_eq!(r.content_type(), CONTENT_TYPE);
        let e = Exposition::checked(&r.text());
        // The two refusals were counted before this scrape.
        assert_eq!(e.http_responses(transport, 401), 2, "{}", e.text);
        let r = s.send(&Request::post("/metrics", "").bearer(TOKEN));
        assert_eq!(r.status(), 405, "{transport}");

        let s = start(
            transport,
            &[&format!("-auth-token={TOKEN}"), "-metrics-public"],
        );
        let r = s.send(&Request::get("/metrics"));
        assert_eq!(r.status(), 200, "{transport}: {}", r.text());
        Exposition::checked(&r.text());
        // Only the exact path is exempt, and nothing else becomes so.
        for path in [
            "//metrics",
            "/metrics/",
            "/METRICS",
            "/metrics/../sse",
            "/mcp",
            "/sse",
        ] {
            let r = s.send(&Request::get(path));
            assert_eq!(r.status(), 401, "{transport} {path}");
        }
    }
}

#[test]
fn without_a_token_metrics_are_served_like_any_path() {
    let s = start("http", &["-metrics-public=false"]);
    let r = s.send(&Request::get("/metrics"));
    assert_eq!(r.status(), 200);
    Exposition::checked(&r.text());
}

// ---------------------------------------------------------------------------------------------
// stdio
// ---------------------------------------------------------------------------------------------

/// The summary block whose first line names `reason`, cut out of `stderr`.
fn summary(stderr: &str, reason: &str) -> Option<String> {
    let start_line = format!("# benchmark-server metrics {reason}\n");
    let start = stderr.find(&start_line)?;
    let end_line = "# end of benchmark-server metrics\n";
    let len = stderr[start..].find(end_line)? + end_line.len();
    Some(stderr[start..start + len].to_string())
}

/// Sends each message and reads its answer; returns the bytes of output read.
fn stdio_exchange(c: &mut StdioClient, messages: &[Value]) -> u64 {
    let mut bytes = 0;
    for m in messages {
        c.send(m);
        let line = c.try_recv_raw(TIMEOUT).expect("an answer");
        bytes += line.len() as u64;
    }
    bytes
}

fn stdio_start() -> (StdioClient, Sent, u64) {
    let mut c = StdioClient::start(["-tools=20", "-tool-size=300"]);
    c.server
        .wait_for_stderr_line(|l| l.contains("serving via stdio transport"));
    let mut bytes = stdio_exchange(&mut c, &[initialize(1, Some(LATEST))]);
    c.send(&notification("notifications/initialized"));
    let (messages, sent) = workload();
    bytes += stdio_exchange(&mut c, &messages);
    // Not JSON: answered with a parse error.
    c.send_line("{oops");
    bytes += c.try_recv_raw(TIMEOUT).expect("an answer").len() as u64;
    (c, sent, bytes)
}

#[test]
fn stdio_prints_the_counters_at_exit() {
    let (mut c, sent, bytes) = stdio_start();
    c.close_stdin();
    let status = c.wait_exit(TIMEOUT);
    assert!(status.success(), "{status}");
    let stderr = c.stderr();
    let text = summary(&stderr, "at exit").unwrap_or_else(|| panic!("no summary:\n{stderr}"));
    let e = Exposition::checked(&text);
    e.assert_common();
    assert_workload_counted(&e, "stdio", &sent, 1);
    assert_eq!(e.bytes("stdio"), bytes, "every byte of stdout");
    assert!(!text.contains("benchmark_server_http_responses_total{"));
}

#[test]
fn stdio_prints_the_counters_on_sigusr1_and_at_sigterm() {
    let (mut c, sent, bytes) = stdio_start();
    let pid = c.server.id();
    http_support::signal(pid, "USR1");
    c.server
        .wait_for_stderr_line(|l| l == "# end of benchmark-server metrics");
    let stderr = c.stderr();
    let text = summary(&stderr, "on SIGUSR1").unwrap_or_else(|| panic!("no summary:\n{stderr}"));
    let e = Exposition::checked(&text);
    e.assert_common();
    assert_eq!(e.bytes("stdio"), bytes);
    assert_workload_counted(&e, "stdio", &sent, 1);

    // The server goes on serving, and counting.
    c.ping();
    http_support::signal(pid, "USR1");
    let deadline = Instant::now() + TIMEOUT;
    while c
        .stderr()
        .matches("# benchmark-server metrics on SIGUSR1")
        .count()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "no second summary:\n{}",
            c.stderr()
        );
        thread::sleep(Duration::from_millis(10));
    }
    http_support::signal(pid, "TERM");
    let status = c.wait_exit(TIMEOUT);
    assert_eq!(status.code(), Some(0), "{status}");
    let stderr = c.stderr();
    let text = summary(&stderr, "on SIGTERM").unwrap_or_else(|| panic!("no summary:\n{stderr}"));
    let e = Exposition::checked(&text);
    assert_eq!(e.requests("ping", "stdio", "ok"), 1);
    assert_eq!(e.requests("tools/call", "stdio", "ok"), sent.calls);
}

#[test]
fn quiet_stdio_prints_nothing_at_exit_but_answers_sigusr1() {
    let mut c = StdioClient::start(["-log-level=warn"]);
    c.ping();
    http_support::signal(c.server.id(), "USR1");
    c.server
        .wait_for_stderr_line(|l| l == "# end of benchmark-server metrics");
    c.close_stdin();
    assert!(c.wait_exit(TIMEOUT).success());
    let stderr = c.stderr();
    assert!(summary(&stderr, "on SIGUSR1").is_some(), "{stderr}");
    assert!(summary(&stderr, "at exit").is_none(), "{stderr}");
}

#[test]
fn injected_faults_and_delays_are_counted_by_kind() {
    let s = start(
        "http",
        &[
            "-session-mode=stateless",
            "-error-rate=tools/call=0.4:jsonrpc",
            "-latency=tools/call=fixed:1ms",
            "-seed=11",
        ],
    );
    const CALLS: i64 = 200;
    let mut conn = s.connect();
    let mut failed = 0;
    for id in 0..CALLS {
        let call = rpc(
            id,
            "tools/call",
            json!({"name": "benchmark_tool_1", "arguments": {}}),
        );
        let r = conn.send(&Request::mcp("/mcp", &call).protocol(LATEST));
        assert_eq!(r.status(), 200, "{}", r.text());
        let reply = r.message();
        if reply["error"]["data"]["injected"] == json!(true) {
            failed += 1;
        } else {
            assert!(reply["result"].is_object(), "{reply}");
        }
    }
    // 0.4 of 200: far from both ends, so the faults really were drawn.
    assert!((40..=120).contains(&failed), "{failed} of {CALLS} failed");
    let e = scrape(&s);
    let kind = |k: &str| {
        e.get(&format!(
            "benchmark_server_faults_injected_total{{kind=\"{k}\"}}"
        ))
    };
    assert_eq!(kind("jsonrpc"), failed as f64);
    assert_eq!(kind("latency"), CALLS as f64);
    assert_eq!(kind("http503"), 0.0);
}
