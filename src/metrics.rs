//! Process-wide counters and their Prometheus text exposition (format 0.0.4), served at
//! `GET /metrics` by the HTTP transports and printed on stderr by the stdio transport.
//!
//! The hot path (one dispatched message) costs one thread-local lookup and three plain
//! additions: every thread that records claims a shard of counters of its own on first use
//! (a short lock, once per thread) and is its only writer, so an increment is a relaxed load and
//! store on a cache line no other core writes; no lock, no read-modify-write instruction, no
//! allocation. A scrape sums every shard. Shards outlive their threads (a finished thread's
//! shard goes to the next new thread), so nothing counted is ever lost. Gauges (sessions,
//! streams) change only when a session or stream opens or closes and use plain shared atomics.
//!
//! What is counted where: the transports record each message they hand to the dispatcher, with
//! the [`Outcome`] it returned and the time `Dispatcher::handle` took; response body bytes as
//! they are written; HTTP statuses as responses leave the router. Not for: tracing individual
//! requests (that is the debug log).

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cli::Transport;
use crate::dispatch::Outcome;
use crate::mcp::{Method, error_code};

/// The `content-type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Metric name prefix.
const NS: &str = "benchmark_server";

// ---------------------------------------------------------------------------------------------
// Label sets
// ---------------------------------------------------------------------------------------------

const TRANSPORTS: usize = 3;
const TRANSPORT_LABELS: [&str; TRANSPORTS] = ["stdio", "sse", "http"];

fn transport_index(t: Transport) -> usize {
    match t {
        Transport::Stdio => 0,
        Transport::Sse => 1,
        Transport::Http => 2,
    }
}

/// Every [`Method`], then `none` (a batch, a client's response, or input without a usable
/// method).
const METHODS: usize = 19;
const METHOD_LABELS: [&str; METHODS] = [
    "initialize",
    "ping",
    "logging/setLevel",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "server/discover",
    "subscriptions/listen",
    "notifications/initialized",
    "notifications/cancelled",
    "other",
    "none",
];

fn method_index(m: Option<Method>) -> usize {
    // Exhaustive on purpose: a new method must get a label here.
    match m {
        Some(Method::Initialize) => 0,
        Some(Method::Ping) => 1,
        Some(Method::LoggingSetLevel) => 2,
        Some(Method::ToolsList) => 3,
        Some(Method::ToolsCall) => 4,
        Some(Method::ResourcesList) => 5,
        Some(Method::ResourcesRead) => 6,
        Some(Method::ResourcesTemplatesList) => 7,
        Some(Method::ResourcesSubscribe) => 8,
        Some(Method::ResourcesUnsubscribe) => 9,
        Some(Method::PromptsList) => 10,
        Some(Method::PromptsGet) => 11,
        Some(Method::CompletionComplete) => 12,
        Some(Method::ServerDiscover) => 13,
        Some(Method::SubscriptionsListen) => 14,
        Some(Method::NotificationInitialized) => 15,
        Some(Method::NotificationCancelled) => 16,
        Some(Method::Other) => 17,
        None => 18,
    }
}

/// How a message ended: answered without error, a JSON-RPC error by class of code, or
/// rejected before dispatch proper (bad `_meta`, unsupported version, mismatched headers).
const OUTCOMES: usize = 9;
const OUTCOME_LABELS: [&str; OUTCOMES] = [
    "ok",
    "parse_error",
    "invalid_request",
    "method_not_found",
    "invalid_params",
    "internal_error",
    "server_error",
    "other_error",
    "rejected",
];

fn outcome_index(error: Option<i32>, rejected: bool) -> usize {
    if rejected {
        return 8;
    }
    match error {
        None => 0,
        Some(error_code::PARSE_ERROR) => 1,
        Some(error_code::INVALID_REQUEST) => 2,
        Some(error_code::METHOD_NOT_FOUND) => 3,
        Some(error_code::INVALID_PARAMS) => 4,
        Some(error_code::INTERNAL_ERROR) => 5,
        // The implementation-defined range, where MCP's own codes live.
        Some(-32099..=-32000) => 6,
        Some(_) => 7,
    }
}

/// Upper bounds of the latency buckets in nanoseconds (1-2.5-5 steps, 1 µs to 10 s), then
/// `+Inf`.
const BOUNDS_NS: [u64; 22] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];
const BOUND_LABELS: [&str; 22] = [
    "1e-06", "2.5e-06", "5e-06", "1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005",
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
    "10",
];
const BUCKETS: usize = BOUNDS_NS.len() + 1;

fn bucket_index(ns: u64) -> usize {
    BOUNDS_NS.partition_point(|&bound| bound < ns)
}

/// HTTP statuses 100–599, for the two HTTP transports.
const STATUSES: usize = 500;

/// The `kind` labels of injected faults: the `-error-rate` kinds in their counter order
/// ([`crate::faults::KIND_NAMES`]), then `latency` for each delayed request.
const FAULT_LABELS: [&str; crate::faults::KIND_NAMES.len() + 1] = {
    let mut labels = ["latency"; crate::faults::KIND_NAMES.len() + 1];
    let mut i = 0;
    while i < crate::faults::KIND_NAMES.len() {
        labels[i] = crate::faults::KIND_NAMES[i];
        i += 1;
    }
    labels
};
const LATENCY_SLOT: usize = crate::faults::KIND_NAMES.len();

const FAULTS: usize = FAULT_LABELS.len();

// ---------------------------------------------------------------------------------------------
// Shards
// ---------------------------------------------------------------------------------------------

const REQUESTS_AT: usize = 0;
const BUCKETS_AT: usize = REQUESTS_AT + METHODS * TRANSPORTS * OUTCOMES;
const SUMS_AT: usize = BUCKETS_AT + METHODS * TRANSPORTS * BUCKETS;
const BYTES_AT: usize = SUMS_AT + METHODS * TRANSPORTS;
const STATUS_AT: usize = BYTES_AT + TRANSPORTS;
const FAULTS_AT: usize = STATUS_AT + 2 * STATUSES;
const CELLS: usize = FAULTS_AT + FAULTS;

fn requests_cell(m: usize, t: usize, o: usize) -> usize {
    REQUESTS_AT + (m * TRANSPORTS + t) * OUTCOMES + o
}

fn bucket_cell(m: usize, t: usize, b: usize) -> usize {
    BUCKETS_AT + (m * TRANSPORTS + t) * BUCKETS + b
}

fn sum_cell(m: usize, t: usize) -> usize {
    SUMS_AT + m * TRANSPORTS + t
}

/// One writer's counters. Aligned so that no two shards share a cache line.
#[repr(align(128))]
struct Shard {
    cells: [AtomicU64; CELLS],
}

impl Shard {
    const fn new() -> Self {
        Shard {
            cells: [const { AtomicU64::new(0) }; CELLS],
        }
    }
}

/// A shard and whether the calling thread is its only writer.
#[derive(Clone, Copy)]
struct Writer {
    shard: &'static Shard,
    owned: bool,
}

impl Writer {
    #[inline]
    fn add(self, cell: usize, n: u64) {
        let c = &self.shard.cells[cell];
        if self.owned {
            // The only writer: a plain load and store; readers may see either value.
            c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
        } else {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }
}

struct Registry {
    all: Vec<&'static Shard>,
    free: Vec<&'static Shard>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    all: Vec::new(),
    free: Vec::new(),
});

/// Written with atomic additions by threads that cannot own a shard (during thread exit).
static SHARED: Shard = Shard::new();

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Gives the thread's shard back when the thread ends.
struct Release(Cell<Option<&'static Shard>>);

impl Drop for Release {
    fn drop(&mut self) {
        let _ = OWNED.try_with(|o| o.set(None));
        let _ = RELEASED.try_with(|r| r.set(true));
        if let Some(shard) = self.0.take() {
            registry().free.push(shard);
        }
    }
}

thread_local! {
    static OWNED: Cell<Option<&'static Shard>> = const { Cell::new(None) };
    static RELEASED: Cell<bool> = const { Cell::new(false) };
    static RELEASE: Release = const { Release(Cell::new(None)) };
}

#[inline]
fn writer() -> Writer {
    match OWNED.try_with(Cell::get) {
        Ok(Some(shard)) => Writer { shard, owned: true },
        _ => claim(),
    }
}

#[cold]
fn claim() -> Writer {
    let shared = Writer {
        shard: &SHARED,
        owned: false,
    };
    if RELEASED.try_with(Cell::get).unwrap_or(true) {
        return shared;
    }
    let claimed = RELEASE.try_with(|release| {
        let shard = {
            let mut r = registry();
            match r.free.pop() {
                Some(s) => s,
                None => {
                    let s: &'static Shard = Box::leak(Box::new(Shard::new()));
                    r.all.push(s);
                    s
                }
            }
        };
        release.0.set(Some(shard));
        shard
    });
    match claimed {
        Ok(shard) => {
            let _ = OWNED.try_with(|o| o.set(Some(shard)));
            Writer { shard, owned: true }
        }
        Err(_) => shared,
    }
}

/// The sum of `cell` over every shard.
fn total(shards: &[&'static Shard], cell: usize) -> u64 {
    shards
        .iter()
        .map(|s| s.cells[cell].load(Ordering::Relaxed))
        .fold(
            SHARED.cells[cell].load(Ordering::Relaxed),
            u64::wrapping_add,
        )
}

// ---------------------------------------------------------------------------------------------
// Recording
// ---------------------------------------------------------------------------------------------

/// Records one dispatched message: its method, outcome and handling time since `started`.
#[inline]
pub fn record(transport: Transport, outcome: &Outcome, started: Instant) {
    record_message(
        transport,
        outcome.method,
        outcome.error_code,
        outcome.rejected,
        started.elapsed(),
    );
}

/// Records one message that was answered (or refused) with `error` (`None`: no error).
#[inline]
pub fn record_message(
    transport: Transport,
    method: Option<Method>,
    error: Option<i32>,
    rejected: bool,
    elapsed: Duration,
) {
    let m = method_index(method);
    let t = transport_index(transport);
    let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
    let w = writer();
    w.add(requests_cell(m, t, outcome_index(error, rejected)), 1);
    w.add(bucket_cell(m, t, bucket_index(ns)), 1);
    w.add(sum_cell(m, t), ns);
}

/// Counts `n` bytes of response written to a client.
#[inline]
pub fn bytes_out(transport: Transport, n: usize) {
    writer().add(BYTES_AT + transport_index(transport), n as u64);
}

/// Counts one HTTP response by status.
pub fn http_response(transport: Transport, status: u16) {
    let t = match transport {
        Transport::Stdio => return,
        Transport::Sse => 0,
        Transport::Http => 1,
    };
    if (100..600).contains(&status) {
        writer().add(STATUS_AT + t * STATUSES + usize::from(status - 100), 1);
    }
}

/// Counts one injected fault.
pub fn fault_injected(kind: crate::faults::FaultKind) {
    writer().add(FAULTS_AT + kind.slot(), 1);
}

/// A request was delayed by `-latency`.
pub fn delay_injected() {
    writer().add(FAULTS_AT + LATENCY_SLOT, 1);
}

static SESSIONS: [AtomicI64; TRANSPORTS] = [const { AtomicI64::new(0) }; TRANSPORTS];
static STREAMS: AtomicI64 = AtomicI64::new(0);

/// A session of `transport` was stored (+1) or dropped (−n).
pub fn sessions_changed(transport: Transport, delta: i64) {
    SESSIONS[transport_index(transport)].fetch_add(delta, Ordering::Relaxed);
}

/// An SSE event stream opened (+1) or ended (−1).
pub fn streams_changed(delta: i64) {
    STREAMS.fetch_add(delta, Ordering::Relaxed);
}

/// The transport this process serves (the HTTP transports' response bodies count their bytes
/// under it).
static SERVED: AtomicU8 = AtomicU8::new(0);

pub fn set_served_transport(t: Transport) {
    SERVED.store(transport_index(t) as u8, Ordering::Relaxed);
    let _ = start();
}

pub fn served_transport() -> Transport {
    match SERVED.load(Ordering::Relaxed) {
        1 => Transport::Sse,
        2 => Transport::Http,
        _ => Transport::Stdio,
    }
}

static START: std::sync::OnceLock<(Instant, SystemTime)> = std::sync::OnceLock::new();

fn start() -> (Instant, SystemTime) {
    *START.get_or_init(|| (Instant::now(), SystemTime::now()))
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Requests counted so far for one label set.
pub fn requests(transport: Transport, method: Option<Method>, outcome: &str) -> u64 {
    let Some(o) = OUTCOME_LABELS.iter().position(|l| *l == outcome) else {
        return 0;
    };
    let shards = registry().all.clone();
    total(
        &shards,
        requests_cell(method_index(method), transport_index(transport), o),
    )
}

/// Resident set size in bytes, from `/proc/self/statm`.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// The page size, from the auxiliary vector (`AT_PAGESZ`); 4096 if it cannot be read.
fn page_size() -> u64 {
    const AT_PAGESZ: u64 = 6;
    let Ok(auxv) = std::fs::read("/proc/self/auxv") else {
        return 4096;
    };
    auxv.chunks_exact(16)
        .find_map(|pair| {
            let key = u64::from_ne_bytes(pair[..8].try_into().ok()?);
            let value = u64::from_ne_bytes(pair[8..].try_into().ok()?);
            (key == AT_PAGESZ).then_some(value)
        })
        .unwrap_or(4096)
}

/// Escapes a label value (backslash, double quote, newline).
fn escape_label(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    // HELP text escapes backslash and newline; ours has neither.
    let _ = writeln!(out, "# HELP {NS}_{name} {help}");
    let _ = writeln!(out, "# TYPE {NS}_{name} {kind}");
}

/// Writes `name{k="v",…} value`.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            escape_label(out, v);
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// The whole exposition. Series that are still zero are left out, except the gauges and the
/// totals by transport.
pub fn render() -> String {
    let shards = registry().all.clone();
    let get = |cell: usize| total(&shards, cell);
    let mut out = String::with_capacity(8192);

    header(
        &mut out,
        "build_info",
        "gauge",
        "Always 1; the version label names the build.",
    );
    sample(
        &mut out,
        &format!("{NS}_build_info"),
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );

    header(
        &mut out,
        "requests_total",
        "counter",
        "JSON-RPC messages dispatched, by method, transport and outcome.",
    );
    let name = format!("{NS}_requests_total");
    for (m, method) in METHOD_LABELS.iter().enumerate() {
        for (t, transport) in TRANSPORT_LABELS.iter().enumerate() {
            for (o, outcome) in OUTCOME_LABELS.iter().enumerate() {
                let n = get(requests_cell(m, t, o));
                if n > 0 {
                    let labels = [
                        ("method", *method),
                        ("transport", *transport),
                        ("outcome", *outcome),
                    ];
                    sample(&mut out, &name, &labels, n);
                }
            }
        }
    }

    header(
        &mut out,
        "request_duration_seconds",
        "histogram",
        "Time the dispatcher took per message: parse, dispatch and the response (its first chunk when streamed) written into the output buffer.",
    );
    let bucket = format!("{NS}_request_duration_seconds_bucket");
    let sum = format!("{NS}_request_duration_seconds_sum");
    let count = format!("{NS}_request_duration_seconds_count");
    for (m, &method) in METHOD_LABELS.iter().enumerate() {
        for (t, &transport) in TRANSPORT_LABELS.iter().enumerate() {
            let counts: Vec<u64> = (0..BUCKETS).map(|b| get(bucket_cell(m, t, b))).collect();
            let n: u64 = counts.iter().sum();
            if n == 0 {
                continue;
            }
            let mut cumulative = 0;
            for (b, c) in counts.iter().enumerate() {
                cumulative += c;
                let le = BOUND_LABELS.get(b).copied().unwrap_or("+Inf");
                let labels = [("method", method), ("transport", transport), ("le", le)];
                sample(&mut out, &bucket, &labels, cumulative);
            }
            let labels = [("method", method), ("transport", transport)];
            let seconds = get(sum_cell(m, t)) as f64 / 1e9;
            sample(&mut out, &sum, &labels, seconds);
            sample(&mut out, &count, &labels, n);
        }
    }

    header(
        &mut out,
        "response_bytes_total",
        "counter",
        "Bytes of response written to clients (HTTP: bodies, without headers), by transport.",
    );
    let name = format!("{NS}_response_bytes_total");
    for (t, transport) in TRANSPORT_LABELS.iter().enumerate() {
        sample(
            &mut out,
            &name,
            &[("transport", transport)],
            get(BYTES_AT + t),
        );
    }

    header(
        &mut out,
        "http_responses_total",
        "counter",
        "HTTP responses by transport and status code.",
    );
    let name = format!("{NS}_http_responses_total");
    for (t, transport) in ["sse", "http"].iter().enumerate() {
        for s in 0..STATUSES {
            let n = get(STATUS_AT + t * STATUSES + s);
            if n > 0 {
                let code = (s + 100).to_string();
                sample(
                    &mut out,
                    &name,
                    &[("transport", transport), ("code", &code)],
                    n,
                );
            }
        }
    }

    header(
        &mut out,
        "faults_injected_total",
        "counter",
        "Faults injected by -error-rate and -latency, by kind.",
    );
    let name = format!("{NS}_faults_injected_total");
    for (i, label) in FAULT_LABELS.iter().enumerate() {
        let n = get(FAULTS_AT + i);
        sample(&mut out, &name, &[("kind", label)], n);
    }

    header(
        &mut out,
        "sessions",
        "gauge",
        "Live sessions: Streamable HTTP sessions stored by this process (memory mode) and open legacy SSE sessions.",
    );
    let name = format!("{NS}_sessions");
    for t in [Transport::Sse, Transport::Http] {
        let n = SESSIONS[transport_index(t)].load(Ordering::Relaxed).max(0);
        sample(&mut out, &name, &[("transport", t.as_str())], n);
    }

    header(
        &mut out,
        "sse_streams",
        "gauge",
        "Open SSE event streams (legacy /sse streams, GET streams and listen streams).",
    );
    let n = STREAMS.load(Ordering::Relaxed).max(0);
    sample(&mut out, &format!("{NS}_sse_streams"), &[], n);

    let (started, started_wall) = start();
    header(
        &mut out,
        "uptime_seconds",
        "gauge",
        "Seconds since the process started.",
    );
    sample(
        &mut out,
        &format!("{NS}_uptime_seconds"),
        &[],
        started.elapsed().as_secs_f64(),
    );
    let _ = writeln!(
        out,
        "# HELP process_start_time_seconds Start time of the process since the Unix epoch in seconds."
    );
    let _ = writeln!(out, "# TYPE process_start_time_seconds gauge");
    let since_epoch = started_wall
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    sample(&mut out, "process_start_time_seconds", &[], since_epoch);
    if let Some(rss) = resident_bytes() {
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_bytes Resident memory size in bytes."
        );
        let _ = writeln!(out, "# TYPE process_resident_memory_bytes gauge");
        sample(&mut out, "process_resident_memory_bytes", &[], rss);
    }
    out
}

/// Writes the exposition to stderr in one piece, between two comment lines that say why
/// (`reason`, e.g. "at exit") so it can be cut out of the log around it.
pub fn write_summary(reason: &str) {
    use std::io::Write;
    let text = format!(
        "# benchmark-server metrics {reason}\n{}# end of benchmark-server metrics\n",
        render()
    );
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_tables_match_their_enums() {
        for (i, label) in METHOD_LABELS.iter().enumerate().take(METHODS - 2) {
            let m = Method::parse(label);
            assert_ne!(m, Method::Other, "{label}");
            assert_eq!(method_index(Some(m)), i, "{label}");
        }
        assert_eq!(method_index(Some(Method::Other)), METHODS - 2);
        assert_eq!(method_index(None), METHODS - 1);
        assert_eq!(FAULT_LABELS[LATENCY_SLOT], "latency");
        assert_eq!(FAULT_LABELS[..LATENCY_SLOT], crate::faults::KIND_NAMES);
        assert_eq!(BOUND_LABELS.len(), BOUNDS_NS.len());
        for (bound, label) in BOUNDS_NS.iter().zip(BOUND_LABELS) {
            let seconds: f64 = label.parse().unwrap();
            assert!((seconds * 1e9 - *bound as f64).abs() < 1e-3, "{label}");
        }
    }

    #[test]
    fn buckets_include_their_upper_bound() {
        assert_eq!(bucket_index(0), 0);
        assert_eq!(bucket_index(1_000), 0);
        assert_eq!(bucket_index(1_001), 1);
        assert_eq!(bucket_index(10_000_000_000), BUCKETS - 2);
        assert_eq!(bucket_index(10_000_000_001), BUCKETS - 1);
        assert_eq!(bucket_index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn outcomes_by_error_class() {
        assert_eq!(OUTCOME_LABELS[outcome_index(None, false)], "ok");
        assert_eq!(
            OUTCOME_LABELS[outcome_index(Some(-32700), false)],
            "parse_error"
        );
        assert_eq!(
            OUTCOME_LABELS[outcome_index(Some(-32601), false)],
            "method_not_found"
        );
        assert_eq!(
            OUTCOME_LABELS[outcome_index(Some(-32602), false)],
            "invalid_params"
        );
        assert_eq!(
            OUTCOME_LABELS[outcome_index(Some(-32002), false)],
            "server_error"
        );
        assert_eq!(OUTCOME_LABELS[outcome_index(Some(1), false)], "other_error");
        assert_eq!(
            OUTCOME_LABELS[outcome_index(Some(-32602), true)],
            "rejected"
        );
        assert_eq!(OUTCOME_LABELS[outcome_index(None, true)], "rejected");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut s = String::new();
        escape_label(&mut s, "a\\b\"c\nd/é");
        assert_eq!(s, "a\\\\b\\\"c\\nd/é");
    }

    #[test]
    fn counts_from_many_threads_all_arrive() {
        // Label sets no other test in this binary records.
        let method = Some(Method::ResourcesUnsubscribe);
        let before = requests(Transport::Sse, method, "other_error");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        record_message(
                            Transport::Sse,
                            method,
                            Some(7),
                            false,
                            Duration::from_micros(3),
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Shards of finished threads are reused, and their counts kept.
        let again = std::thread::spawn(move || {
            record_message(Transport::Sse, method, Some(7), false, Duration::ZERO);
        });
        again.join().unwrap();
        assert_eq!(
            requests(Transport::Sse, method, "other_error") - before,
            8001
        );
        let text = render();
        let count = text
            .lines()
            .find(|l| {
                l.starts_with(
                    "benchmark_server_request_duration_seconds_count{method=\"resources/unsubscribe\",transport=\"sse\"}",
                )
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok());
        assert!(count.is_some_and(|n| n >= 8001), "{text}");
        let five_us = "benchmark_server_request_duration_seconds_bucket{method=\"resources/unsubscribe\",transport=\"sse\",le=\"5e-06\"}";
        assert!(text.contains(five_us), "{text}");
    }

    #[test]
    fn the_exposition_has_help_and_type_for_every_family() {
        fault_injected(crate::faults::FaultKind::Hang);
        delay_injected();
        http_response(Transport::Http, 418);
        let text = render();
        let mut typed = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap();
                assert!(typed.insert(name.to_string()), "TYPE twice: {name}");
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let name = line.split(['{', ' ']).next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
                .unwrap_or(name);
            assert!(typed.contains(family), "no TYPE before {line}");
        }
        assert!(text.contains("benchmark_server_faults_injected_total{kind=\"hang\"} "));
        assert!(
            text.contains(
                "benchmark_server_http_responses_total{transport=\"http\",code=\"418\"} "
            )
        );
        assert!(text.contains("process_resident_memory_bytes "));
        assert!(text.ends_with('\n'));
    }
}
