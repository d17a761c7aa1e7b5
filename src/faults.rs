//! Latency and fault injection: `-latency`, `-error-rate`, `-fail-first`, `-cursor-fault`,
//! `-seed`. Everything here is off unless a flag turns it on; when off, the dispatcher holds
//! no [`Faults`] and the transports' only cost is checking that `Option`.
//!
//! Decisions are deterministic: the n-th request a server sees (counting JSON-RPC requests,
//! not notifications or batches) draws its delay and its fault from `splitmix64(seed, n)`, so
//! the same seed and the same request sequence give the same faults, whatever the timing.
//!
//! The transports ask [`Faults::plan`] about a request before dispatching it (a cheap scan of
//! the raw bytes, no parse), wait out the delay on the request's own future, answer
//! transport-level faults (HTTP statuses, hangs, dropped connections) themselves and let
//! [`dispatch`] write in-band ones (JSON-RPC errors, `isError` results, malformed or oversized
//! replies) in place of the real response.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::catalog::Catalog;
use crate::cli::parse_duration;
use crate::dispatch::{Continuation, Dispatcher, EraHint, Outcome, Reply};
use crate::json::{member_span, write_escaped, write_u64};
use crate::mcp::{Method, meta};
use crate::payload::write_payload_start;

/// Size of an `oversized` reply's text when the rule names none.
pub const DEFAULT_OVERSIZED_BYTES: u64 = 16 * 1024 * 1024;

/// Most distinct `-fail-first` keys remembered; past this the table starts over.
const MAX_FAIL_KEYS: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

/// splitmix64's output function: a bijective mix of all 64 bits.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Draw number `stream` of request `n` under `seed`: independent streams for the delay and
/// the fault of one request.
fn draw(seed: u64, n: u64, stream: u64) -> u64 {
    splitmix64(splitmix64(seed ^ n.wrapping_mul(0xD6E8_FEB8_6659_FD93)) ^ stream)
}

/// A uniform number in the open interval (0, 1).
fn unit(x: u64) -> f64 {
    ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

// ---------------------------------------------------------------------------------------------
// Configuration

/// Which requests a rule applies to: a method (`None` or `*` = any) and, for `tools/call`,
/// `resources/read` and `prompts/get`, an inclusive range of item indices.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    method: Option<String>,
    range: Option<(u64, u64)>,
}

impl Scope {
    fn any() -> Self {
        Self {
            method: None,
            range: None,
        }
    }

    fn parse(s: &str) -> Result<Self, String> {
        let (method, range) = match s.split_once('@') {
            None => (s, None),
            Some((m, r)) => (m, Some(r)),
        };
        let method = match method.trim() {
            "" if range.is_some() => Some("tools/call".to_string()),
            "" => return Err("empty scope".to_string()),
            "*" => None,
            m if m.contains(char::is_whitespace) => {
                return Err(format!("bad method '{m}' in scope"));
            }
            m => Some(m.to_string()),
        };
        let range = match range {
            None => None,
            Some(r) => {
                let r = r.trim();
                let (lo, hi) = r.split_once('-').unwrap_or((r, r));
                let lo: u64 = lo
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad index range '{r}'"))?;
                let hi: u64 = hi
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad index range '{r}'"))?;
                if hi < lo {
                    return Err(format!("index range '{r}' ends before it starts"));
                }
                Some((lo, hi))
            }
        };
        Ok(Self { method, range })
    }

    fn matches(&self, method: &str, index: Option<u64>) -> bool {
        if self.method.as_deref().is_some_and(|m| m != method) {
            return false;
        }
        match self.range {
            None => true,
            Some((lo, hi)) => index.is_some_and(|i| lo <= i && i <= hi),
        }
    }
}

/// A delay distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    Fixed(Duration),
    Uniform(Duration, Duration),
    /// Mean and standard deviation; negative draws are cut to zero.
    Normal(Duration, Duration),
    /// Mean.
    Exponential(Duration),
    /// Mean and standard deviation of the (log-normally distributed) delay itself.
    LogNormal(Duration, Duration),
}

impl Distribution {
    fn parse(s: &str) -> Result<Self, String> {
        let (name, args) = s
            .split_once(':')
            .ok_or_else(|| format!("'{s}' is not DIST:PARAMS (e.g. normal:20ms,5ms)"))?;
        let args: Vec<Duration> = args
            .split(',')
            .map(|a| {
                parse_duration(a.trim())
                    .ok_or_else(|| format!("'{a}' is not a duration such as 5ms or 1s"))
            })
            .collect::<Result<_, _>>()?;
        let want = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!("{name} takes {n} duration(s), got {}", args.len()))
            }
        };
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "fixed" => {
                want(1)?;
                Distribution::Fixed(args[0])
            }
            "uniform" => {
                want(2)?;
                if args[1] < args[0] {
                    return Err("uniform:MIN,MAX needs MIN <= MAX".to_string());
                }
                Distribution::Uniform(args[0], args[1])
            }
            "normal" => {
                want(2)?;
                Distribution::Normal(args[0], args[1])
            }
            "exponential" => {
                want(1)?;
                Distribution::Exponential(args[0])
            }
            "lognormal" => {
                want(2)?;
                if args[0].is_zero() {
                    return Err("lognormal needs a mean above 0".to_string());
                }
                Distribution::LogNormal(args[0], args[1])
            }
            other => {
                return Err(format!(
                    "unknown distribution '{other}' (fixed, uniform, normal, exponential, lognormal)"
                ));
            }
        })
    }

    /// A delay from two independent uniform draws in (0, 1).
    pub fn sample(&self, u1: f64, u2: f64) -> Duration {
        let secs = |d: &Duration| d.as_secs_f64();
        // Box-Muller: one standard normal from two uniforms.
        let gauss = || (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let s = match self {
            Distribution::Fixed(d) => return *d,
            Distribution::Uniform(a, b) => secs(a) + (secs(b) - secs(a)) * u1,
            Distribution::Normal(m, sd) => secs(m) + secs(sd) * gauss(),
            Distribution::Exponential(m) => -secs(m) * u1.ln(),
            Distribution::LogNormal(m, sd) => {
                let (m, sd) = (secs(m), secs(sd));
                let sigma2 = (1.0 + (sd * sd) / (m * m)).ln();
                let mu = m.ln() - sigma2 / 2.0;
                (mu + sigma2.sqrt() * gauss()).exp()
            }
        };
        if s.is_finite() && s > 0.0 {
            Duration::from_secs_f64(s.min(1e9))
        } else {
            Duration::ZERO
        }
    }
}

/// A kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// A JSON-RPC error response (`-32603`, `data.injected: true`).
    JsonRpc,
    /// A `tools/call` result with `isError: true` (a JSON-RPC error for other methods).
    IsError,
    Http500,
    /// `503` with `Retry-After: 1`.
    Http503,
    /// `429` with `Retry-After: 1`.
    Http429,
    /// No answer at all, until the client gives up (or the server shuts down).
    Hang,
    /// Headers and half the body, then the connection is closed.
    Drop,
    /// A reply that is not valid JSON.
    Malformed,
    /// A valid result whose text is this many bytes.
    Oversized(u64),
}

/// The kinds, in the order of [`FaultKind::slot`] (for counters and reports).
pub const KIND_NAMES: [&str; 9] = [
    "jsonrpc",
    "iserror",
    "http500",
    "http503",
    "http429",
    "hang",
    "drop",
    "malformed",
    "oversized",
];

impl FaultKind {
    fn parse(s: &str) -> Result<Self, String> {
        let (name, size) = match s.split_once(':') {
            Some((n, size)) => (n, Some(size)),
            None => (s, None),
        };
        let kind = match name.trim().to_ascii_lowercase().as_str() {
            "jsonrpc" => FaultKind::JsonRpc,
            "iserror" => FaultKind::IsError,
            "http500" => FaultKind::Http500,
            "http503" => FaultKind::Http503,
            "http429" => FaultKind::Http429,
            "hang" => FaultKind::Hang,
            "drop" => FaultKind::Drop,
            "malformed" => FaultKind::Malformed,
            "oversized" => FaultKind::Oversized(match size {
                None => DEFAULT_OVERSIZED_BYTES,
                Some(b) => b
                    .trim()
                    .parse()
                    .ok()
                    .filter(|&b| b <= crate::cli::MAX_COUNT)
                    .ok_or_else(|| format!("bad oversized size '{b}'"))?,
            }),
            other => {
                return Err(format!(
                    "unknown fault kind '{other}' (one of {})",
                    KIND_NAMES.join(", ")
                ));
            }
        };
        if size.is_some() && !matches!(kind, FaultKind::Oversized(_)) {
            return Err(format!("fault kind '{name}' takes no size"));
        }
        Ok(kind)
    }

    /// This kind's place in [`KIND_NAMES`] and in the counters.
    pub fn slot(self) -> usize {
        match self {
            FaultKind::JsonRpc => 0,
            FaultKind::IsError => 1,
            FaultKind::Http500 => 2,
            FaultKind::Http503 => 3,
            FaultKind::Http429 => 4,
            FaultKind::Hang => 5,
            FaultKind::Drop => 6,
            FaultKind::Malformed => 7,
            FaultKind::Oversized(_) => 8,
        }
    }

    /// Only an HTTP transport can answer this kind.
    pub fn http_only(self) -> bool {
        matches!(
            self,
            FaultKind::Http500 | FaultKind::Http503 | FaultKind::Http429 | FaultKind::Drop
        )
    }

    /// Answered by the dispatcher in place of the real response (the rest by the transport).
    fn in_band(self) -> bool {
        matches!(
            self,
            FaultKind::JsonRpc
                | FaultKind::IsError
                | FaultKind::Malformed
                | FaultKind::Oversized(_)
        )
    }
}

/// `-cursor-fault`: how list pagination misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorFault {
    /// `nextCursor` is `""`: a client that takes that as the end stops after page one.
    Empty,
    /// `nextCursor` never advances: it is the cursor the request sent (page two's, on page
    /// one), so a client that does not notice loops forever.
    Repeat,
    /// `nextCursor` is a string the server refuses (`-32602 Invalid cursor`).
    Invalid,
    /// The listing's last item is left out (the last page ends one item early).
    DropLast,
}

impl CursorFault {
    fn parse(s: &str) -> Result<Option<Self>, String> {
        Ok(Some(match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" => return Ok(None),
            "empty" => CursorFault::Empty,
            "repeat" => CursorFault::Repeat,
            "invalid" => CursorFault::Invalid,
            "drop-last" => CursorFault::DropLast,
            _ => return Err("must be empty, repeat, invalid or drop-last".to_string()),
        }))
    }
}

/// What a list page writes as its `nextCursor` (when it has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextCursor {
    /// The cursor continuing after this item index.
    After(u64),
    Empty,
    Invalid,
}

/// The refused cursor of [`CursorFault::Invalid`] (not base64, so never decodes).
pub const INVALID_CURSOR: &[u8] = b"!invalid-cursor!";

/// Applies `fault` to a page of items `start..end` of `count`: the page's end and its
/// `nextCursor` (written only when the end is before `count`).
pub fn page(
    fault: Option<CursorFault>,
    start: u64,
    end: u64,
    count: u64,
) -> (u64, u64, NextCursor) {
    let normal = NextCursor::After(end.saturating_sub(1));
    match fault {
        None => (end, count, normal),
        Some(CursorFault::Empty) => (end, count, NextCursor::Empty),
        Some(CursorFault::Invalid) => (end, count, NextCursor::Invalid),
        Some(CursorFault::Repeat) if start > 0 => (end, count, NextCursor::After(start - 1)),
        Some(CursorFault::Repeat) => (end, count, normal),
        Some(CursorFault::DropLast) => {
            let count = count.saturating_sub(1);
            (
                end.min(count),
                count,
                NextCursor::After(end.saturating_sub(1)),
            )
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct LatencyRule {
    scope: Scope,
    dist: Distribution,
}

#[derive(Debug, Clone, PartialEq)]
struct ErrorRule {
    scope: Scope,
    /// (cumulative probability, kind), ascending.
    kinds: Vec<(f64, FaultKind)>,
}

/// `-fail-first=K[:KIND]`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FailFirst {
    times: u32,
    kind: FaultKind,
}

/// The fault-injection settings of a run (or of an admin change).
#[derive(Debug, Clone, Default)]
pub struct FaultConfig {
    pub seed: u64,
    latency: Vec<LatencyRule>,
    errors: Vec<ErrorRule>,
    fail_first: Option<FailFirst>,
    cursor: Option<CursorFault>,
    /// The specs as given, for reports and comparisons.
    specs: Specs,
}

/// The text of each setting, exactly as it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Specs {
    pub latency: String,
    pub error_rate: String,
    pub fail_first: String,
    pub cursor_fault: String,
}

impl PartialEq for FaultConfig {
    fn eq(&self, other: &Self) -> bool {
        self.seed == other.seed && self.specs == other.specs
    }
}

impl Eq for FaultConfig {}

/// Splits `a;b;c` into trimmed, non-empty rules.
fn rules(spec: &str) -> impl Iterator<Item = &str> {
    spec.split(';').map(str::trim).filter(|r| !r.is_empty())
}

/// `SCOPE=BODY` or `BODY`.
fn scoped(rule: &str) -> Result<(Scope, &str), String> {
    match rule.split_once('=') {
        Some((scope, body)) => Ok((Scope::parse(scope)?, body.trim())),
        None => Ok((Scope::any(), rule)),
    }
}

impl FaultConfig {
    /// Parses every setting; `Err` names the setting (as its flag) and the problem.
    pub fn parse(seed: u64, specs: Specs) -> Result<Self, (&'static str, String)> {
        let mut c = FaultConfig {
            seed,
            ..Default::default()
        };
        for rule in rules(&specs.latency) {
            let (scope, body) = scoped(rule).map_err(|e| ("latency", e))?;
            let dist = Distribution::parse(body).map_err(|e| ("latency", e))?;
            c.latency.push(LatencyRule { scope, dist });
        }
        for rule in rules(&specs.error_rate) {
            let (scope, body) = scoped(rule).map_err(|e| ("error-rate", e))?;
            let mut total = 0.0;
            let mut kinds = Vec::new();
            for entry in body.split(',').map(str::trim) {
                let (rate, kind) = entry.split_once(':').ok_or_else(|| {
                    (
                        "error-rate",
                        format!("'{entry}' is not RATE:KIND (e.g. 0.05:jsonrpc)"),
                    )
                })?;
                let rate: f64 = rate
                    .trim()
                    .parse()
                    .ok()
                    .filter(|r: &f64| (0.0..=1.0).contains(r))
                    .ok_or_else(|| {
                        (
                            "error-rate",
                            format!("rate '{rate}' is not between 0 and 1"),
                        )
                    })?;
                total += rate;
                kinds.push((
                    total,
                    FaultKind::parse(kind).map_err(|e| ("error-rate", e))?,
                ));
            }
            if total > 1.0 + 1e-9 {
                return Err((
                    "error-rate",
                    format!("rates of '{body}' add up to more than 1"),
                ));
            }
            c.errors.push(ErrorRule { scope, kinds });
        }
        let ff = specs.fail_first.trim();
        if !ff.is_empty() {
            let (times, kind) = ff.split_once(':').unwrap_or((ff, "jsonrpc"));
            let times: u32 = times
                .trim()
                .parse()
                .map_err(|_| ("fail-first", format!("'{times}' is not a count")))?;
            let kind = FaultKind::parse(kind).map_err(|e| ("fail-first", e))?;
            if times > 0 {
                c.fail_first = Some(FailFirst { times, kind });
            }
        }
        c.cursor = CursorFault::parse(&specs.cursor_fault).map_err(|e| ("cursor-fault", e))?;
        c.specs = specs;
        Ok(c)
    }

    /// Something is configured (otherwise the dispatcher gets no [`Faults`] at all).
    pub fn is_active(&self) -> bool {
        !self.latency.is_empty()
            || !self.errors.is_empty()
            || self.fail_first.is_some()
            || self.cursor.is_some()
    }

    pub fn specs(&self) -> &Specs {
        &self.specs
    }

    /// Some rule delays requests (stdio then serves delayed requests from their own tasks).
    pub fn has_latency(&self) -> bool {
        !self.latency.is_empty()
    }

    /// The first configured kind only an HTTP transport can produce, if any.
    pub fn http_only_kind(&self) -> Option<&'static str> {
        self.errors
            .iter()
            .flat_map(|r| r.kinds.iter().map(|(_, k)| *k))
            .chain(self.fail_first.map(|f| f.kind))
            .find(|k| k.http_only())
            .map(|k| KIND_NAMES[k.slot()])
    }

    fn needs_index(&self) -> bool {
        self.latency.iter().any(|r| r.scope.range.is_some())
            || self.errors.iter().any(|r| r.scope.range.is_some())
    }
}

impl fmt::Display for FaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.specs;
        write!(
            f,
            "seed={} latency={:?} error-rate={:?} fail-first={:?} cursor-fault={:?}",
            self.seed, s.latency, s.error_rate, s.fail_first, s.cursor_fault
        )
    }
}

/// Whether `span` is a JSON integer that fits an id or progress token (`i64` or `u64`) and
/// that every JSON parser reads as an integer: no fraction, no exponent, no leading zero, no
/// `-0` (a float to some).
fn is_integer(span: &[u8]) -> bool {
    let canonical = match span {
        [b'0'] => true,
        [b'-', b'1'..=b'9', rest @ ..] | [b'1'..=b'9', rest @ ..] => {
            rest.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    canonical
        && std::str::from_utf8(span)
            .is_ok_and(|t| t.parse::<i64>().is_ok() || t.parse::<u64>().is_ok())
}

// ---------------------------------------------------------------------------------------------
// Runtime state and per-request plans

/// The live fault injector of one server instance.
#[derive(Debug)]
pub struct Faults {
    config: FaultConfig,
    /// Requests seen so far: request `n` draws with `n`.
    requests: AtomicU64,
    injected: [AtomicU64; 9],
    /// `-fail-first` failures so far, per key.
    failures: Mutex<HashMap<u64, u32>>,
}

/// What happens to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Waited before the request is answered.
    pub delay: Duration,
    pub fault: Option<FaultKind>,
    /// The request's raw `id`.
    id: (usize, usize),
    /// `params._meta.progressToken` of a delayed `tools/call`, when it is a string or integer.
    progress: Option<(usize, usize)>,
    method: Method,
    /// The request speaks 2026-07-28 by itself (its `_meta` names the protocol version, or
    /// the method exists only in that era), as the dispatcher decides it.
    modern: bool,
    tool_call: bool,
    /// `initialize` or `logging/setLevel`: the session changes when it is served.
    stateful: bool,
}

/// FNV-1a, for `-fail-first` keys (stable across runs, unlike `RandomState`).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The contents of the JSON string at `raw[s..e]` (escapes left as they are).
fn string_at(raw: &[u8], (s, e): (usize, usize)) -> Option<&str> {
    (e >= s + 2 && raw[s] == b'"' && raw[e - 1] == b'"')
        .then(|| std::str::from_utf8(&raw[s + 1..e - 1]).ok())
        .flatten()
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        Self {
            config,
            requests: AtomicU64::new(0),
            injected: Default::default(),
            failures: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    pub fn cursor_fault(&self) -> Option<CursorFault> {
        self.config.cursor
    }

    /// Requests planned so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Faults injected so far, by kind (in [`KIND_NAMES`] order).
    pub fn injected(&self) -> [u64; 9] {
        std::array::from_fn(|i| self.injected[i].load(Ordering::Relaxed))
    }

    /// Decides the delay and fault of the request in `raw`; `None` when nothing happens to it
    /// (notifications, batches and responses are never faulted).
    pub fn plan(&self, catalog: &Catalog, raw: &[u8]) -> Option<Plan> {
        let c = &self.config;
        if c.latency.is_empty() && c.errors.is_empty() && c.fail_first.is_none() {
            return None;
        }
        // Only requests with a valid id are faulted (the reply echoes it as sent): a string
        // that is valid JSON and Unicode, or an integer a request id may be; the rest get the
        // dispatcher's own error.
        let id = member_span(raw, 0, "id")?;
        let id_bytes = &raw[id.0..id.1];
        let valid_id = match id_bytes.first() {
            Some(b'"') => serde_json::from_slice::<String>(id_bytes).is_ok(),
            _ => is_integer(id_bytes),
        };
        if !valid_id {
            return None;
        }
        let method = string_at(raw, member_span(raw, 0, "method")?)?;
        let tool_call = method == "tools/call";
        let params = member_span(raw, 0, "params").map(|(s, _)| s);
        let name_member = match method {
            "tools/call" | "prompts/get" => "name",
            "resources/read" => "uri",
            _ => "",
        };
        let name = (!name_member.is_empty())
            .then(|| params.and_then(|p| member_span(raw, p, name_member)))
            .flatten()
            .and_then(|span| string_at(raw, span));
        let index = match (c.needs_index(), name) {
            (true, Some(name)) => match method {
                "tools/call" => catalog.tool_index(name),
                "prompts/get" => catalog.prompt_index(name),
                _ => catalog.resource_index(name),
            },
            _ => None,
        };
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let delay = c
            .latency
            .iter()
            .find(|r| r.scope.matches(method, index))
            .map_or(Duration::ZERO, |r| {
                r.dist
                    .sample(unit(draw(c.seed, n, 1)), unit(draw(c.seed, n, 2)))
            });
        // A fault stands in for the answer to a request; a message that is not JSON at all
        // gets the dispatcher's parse error instead (checked only once a fault is in view).
        let well_formed = || {
            std::str::from_utf8(raw).is_ok()
                && serde_json::from_slice::<serde::de::IgnoredAny>(raw).is_ok()
        };
        let mut fault = None;
        let mut checked = false;
        if let (Some(ff), true, Some(name)) = (c.fail_first, tool_call, name)
            && well_formed()
        {
            checked = true;
            let args = params
                .and_then(|p| member_span(raw, p, "arguments"))
                .map_or(&b""[..], |(s, e)| &raw[s..e]);
            let key = fnv1a(&[name.as_bytes(), args]);
            let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
            if failures.len() >= MAX_FAIL_KEYS && !failures.contains_key(&key) {
                failures.clear();
            }
            let seen = failures.entry(key).or_insert(0);
            if *seen < ff.times {
                *seen += 1;
                fault = Some(ff.kind);
            }
        }
        if fault.is_none()
            && let Some(rule) = c.errors.iter().find(|r| r.scope.matches(method, index))
        {
            let u = unit(draw(c.seed, n, 3));
            fault = rule.kinds.iter().find(|(p, _)| u < *p).map(|(_, k)| *k);
        }
        if fault.is_some() && !checked && !well_formed() {
            fault = None;
        }
        if delay.is_zero() && fault.is_none() {
            return None;
        }
        if let Some(k) = fault {
            self.injected[k.slot()].fetch_add(1, Ordering::Relaxed);
            crate::metrics::fault_injected(k);
        }
        if !delay.is_zero() {
            crate::metrics::delay_injected();
        }
        let progress = (tool_call && !delay.is_zero())
            .then(|| {
                let meta = member_span(raw, params?, "_meta")?;
                let token = member_span(raw, meta.0, "progressToken")?;
                let t = &raw[token.0..token.1];
                (string_at(raw, token).is_some() || is_integer(t)).then_some(token)
            })
            .flatten();
        let modern = matches!(method, "server/discover" | "subscriptions/listen")
            || params
                .and_then(|p| member_span(raw, p, "_meta"))
                .and_then(|(m, _)| member_span(raw, m, meta::PROTOCOL_VERSION))
                .is_some();
        Some(Plan {
            delay,
            fault,
            id,
            progress,
            method: Method::parse(method),
            modern,
            tool_call,
            stateful: matches!(method, "initialize" | "logging/setLevel"),
        })
    }
}

impl Plan {
    /// Serving the request changes the session, so a delay must not move it to another task:
    /// it is served at once and only its response waits.
    pub fn stateful(&self) -> bool {
        self.stateful
    }

    /// The fault is answered by the transport (status, hang, drop), not by [`dispatch`].
    pub fn transport_fault(&self) -> Option<FaultKind> {
        self.fault.filter(|k| !k.in_band())
    }

    /// A delayed `tools/call` with a progress token: it reports "Waiting", then "Done".
    pub fn reports_progress(&self) -> bool {
        self.progress.is_some()
    }

    /// Writes a `notifications/progress` line about this delayed call, if it has a token.
    pub fn write_progress(&self, raw: &[u8], out: &mut Vec<u8>, done: bool) -> usize {
        let Some((s, e)) = self.progress else {
            return 0;
        };
        let (progress, message) = if done { (100, "Done") } else { (0, "Waiting") };
        crate::fixtures::write_progress(out, &raw[s..e], progress, message);
        1
    }
}

/// Which progress notifications [`dispatch`] writes ahead of a delayed call's response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// None (the request was not delayed).
    None,
    /// Only the final one (the first went out when the request arrived).
    Done,
    /// Both, together with the response.
    Both,
}

/// Dispatches `raw` under `plan`: progress notifications of a delayed call first, then the
/// in-band fault or, if there is none, whatever `handle` writes. `plan` `None` is exactly
/// `handle(out)`. An in-band fault is written in the request's era, as `dispatcher` would
/// write its real answer (`hint`: what the transport knows of that era).
pub fn dispatch(
    plan: Option<&Plan>,
    raw: &[u8],
    out: &mut Vec<u8>,
    progress: Progress,
    dispatcher: &Dispatcher,
    hint: EraHint,
    handle: impl FnOnce(&mut Vec<u8>) -> Outcome,
) -> Outcome {
    let Some(plan) = plan else {
        return handle(out);
    };
    let mut notes = 0;
    if progress == Progress::Both {
        notes += plan.write_progress(raw, out, false);
    }
    if progress != Progress::None {
        notes += plan.write_progress(raw, out, true);
    }
    let mut outcome = match plan.fault.filter(|k| k.in_band()) {
        None => handle(out),
        Some(kind) => {
            let modern = plan.modern || hint == EraHint::Modern;
            write_fault(plan, kind, raw, out, dispatcher, modern)
        }
    };
    if notes > 0 && matches!(outcome.reply, Reply::Partial(_)) {
        // Replies with notifications are framed whole (as SSE events over HTTP). Only
        // tools/call reports progress, and its continuations are payloads, which never
        // consult the catalog.
        if let Reply::Partial(rest) = std::mem::replace(&mut outcome.reply, Reply::Complete) {
            rest.finish(&EMPTY_CATALOG, out);
        }
    }
    outcome.messages += notes;
    outcome
}

/// Writes the in-band fault `kind` as the answer to the request in `raw`: results open as
/// the method's real results do in the request's era (`modern`: 2026-07-28, with
/// `resultType` and the rest); errors have the same shape in both eras.
fn write_fault(
    plan: &Plan,
    kind: FaultKind,
    raw: &[u8],
    out: &mut Vec<u8>,
    dispatcher: &Dispatcher,
    modern: bool,
) -> Outcome {
    let id = &raw[plan.id.0..plan.id.1];
    let mut reply = Reply::Complete;
    let mut error_code = None;
    let open_result = |out: &mut Vec<u8>| {
        dispatcher.open_injected_result(out, id, modern, plan.method);
    };
    match kind {
        FaultKind::IsError if plan.tool_call => {
            open_result(out);
            out.extend_from_slice(
                b"\"content\":[{\"type\":\"text\",\"text\":\"Injected tool error\"}],\"isError\":true}}",
            );
        }
        FaultKind::Malformed => {
            open_result(out);
            out.extend_from_slice(b"\"content\":[{\"type\":\"text\",\"text\":\"trunc");
        }
        FaultKind::Oversized(size) => {
            open_result(out);
            out.extend_from_slice(b"\"content\":[{\"type\":\"text\",\"text\":\"");
            let filler = write_payload_start(out, b"oversized", size);
            let mut tail = Vec::new();
            tail.extend_from_slice(b"\"}]}}");
            let mut rest = Continuation::Payload { filler, tail };
            // The catalog is not consulted for payload continuations.
            if !rest.write_more(&EMPTY_CATALOG, out, crate::dispatch::CHUNK_BYTES) {
                reply = Reply::Partial(rest);
            }
        }
        _ => {
            out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
            out.extend_from_slice(id);
            out.extend_from_slice(
                b",\"error\":{\"code\":-32603,\"message\":\"Internal error (injected fault)\",\"data\":{\"injected\":true}}}",
            );
            error_code = Some(crate::mcp::error_code::INTERNAL_ERROR);
        }
    }
    Outcome {
        reply,
        method: None,
        error_code,
        modern,
        rejected: false,
        messages: 1,
    }
}

static EMPTY_CATALOG: std::sync::LazyLock<Catalog> =
    std::sync::LazyLock::new(|| Catalog::new([0, 0, 0], [0, 0, 0]));

/// Writes the report of `faults` (or of none) as JSON members, without braces.
pub fn write_report(out: &mut Vec<u8>, faults: Option<&Faults>, fallback: &FaultConfig) {
    let config = faults.map_or(fallback, |f| &f.config);
    let s = &config.specs;
    out.extend_from_slice(b"\"seed\":");
    write_u64(out, config.seed);
    for (key, value) in [
        ("latency", &s.latency),
        ("error_rate", &s.error_rate),
        ("fail_first", &s.fail_first),
        ("cursor_fault", &s.cursor_fault),
    ] {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":\"");
        write_escaped(out, value.as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b",\"requests\":");
    write_u64(out, faults.map_or(0, Faults::requests));
    out.extend_from_slice(b",\"injected\":{");
    let injected = faults.map_or([0; 9], Faults::injected);
    for (i, (name, n)) in KIND_NAMES.iter().zip(injected).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        write_u64(out, n);
    }
    out.push(b'}');
}

// ---------------------------------------------------------------------------------------------
// HTTP transports

/// Waits out `plan`'s delay on the request's own future, then answers a transport-level
/// fault; `None` means: dispatch the request (which may still get an in-band fault).
/// `dispatcher` and `hint` give a dropped reply's first half the shape of the real answer
/// to `raw`, the request `plan` was made for.
pub async fn http_prelude(
    plan: &Plan,
    raw: &[u8],
    shared: &crate::transport::Shared,
    dispatcher: &Dispatcher,
    hint: EraHint,
) -> Option<crate::transport::HttpResponse> {
    use crate::transport::{ResponseBody, text_response};
    use hyper::StatusCode;
    use hyper::header::{self, HeaderValue};
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    let retry_later = |status, body| {
        let mut r = text_response(status, body);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    };
    Some(match plan.transport_fault()? {
        FaultKind::Http500 => text_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error (injected fault)\n",
        ),
        FaultKind::Http503 => retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable (injected fault)\n",
        ),
        FaultKind::Http429 => retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests (injected fault)\n",
        ),
        FaultKind::Hang => {
            // Until the client gives up; at shutdown the request ends like any other.
            let mut stop = shared.shutdown.clone();
            let _ = stop.wait_for(|s| *s).await;
            text_response(StatusCode::SERVICE_UNAVAILABLE, "Shutting down\n")
        }
        FaultKind::Drop => {
            // Promise more body than is sent: hyper closes the connection when the body ends
            // short, so the client sees half a response and a reset. The half is the start of
            // a result as the request's era writes it.
            let mut half = Vec::with_capacity(256);
            let id = raw.get(plan.id.0..plan.id.1).unwrap_or(b"null");
            let modern = plan.modern || hint == EraHint::Modern;
            dispatcher.open_injected_result(&mut half, id, modern, plan.method);
            half.extend_from_slice(b"\"content\":[{\"type\":\"text\",");
            let promised = half.len() * 2;
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            let _ = tx.try_send(bytes::Bytes::from(half));
            // End the body a moment later, once the first half has been flushed.
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                drop(tx);
            });
            // A body of unknown length, so hyper trusts the header.
            // It is held open like a stream, so it takes a place among -max-sse-streams.
            let slot = match shared.sse_streams.acquire() {
                Ok(slot) => slot,
                Err(refused) => return Some(refused),
            };
            let stream = crate::transport::EventStream::new(shared, slot, rx, None);
            let mut r = crate::transport::HttpResponse::new(ResponseBody::Events(Box::new(stream)));
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(promised));
            r
        }
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// stdio

/// Completes a stdio response in `buf`: the rest of a continuation, then the newline.
pub fn finish_line(reply: Reply, dispatcher: &crate::dispatch::Dispatcher, buf: &mut Vec<u8>) {
    match reply {
        Reply::Nothing => {}
        Reply::Complete | Reply::Subscription => buf.push(b'\n'),
        Reply::Partial(rest) => {
            rest.finish(dispatcher.catalog(), buf);
            buf.push(b'\n');
        }
    }
}

/// A writer several threads share; every `write_all` is one locked write, so whole messages
/// never interleave.
pub struct SharedWriter(std::sync::Arc<Mutex<Box<dyn std::io::Write + Send>>>);

impl Clone for SharedWriter {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl SharedWriter {
    pub fn new(w: impl std::io::Write + Send + 'static) -> Self {
        Self(std::sync::Arc::new(Mutex::new(Box::new(w))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Box<dyn std::io::Write + Send>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::io::Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock().write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.lock().write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.lock().flush()
    }
}

/// Serves delayed stdio requests from their own tasks, so a delay never holds up the requests
/// behind it: their responses may overtake it (JSON-RPC matches them by id).
pub struct StdioDeferrer {
    dispatcher: std::sync::Arc<crate::dispatch::Dispatcher>,
    runtime: tokio::runtime::Runtime,
    out: SharedWriter,
    /// Each pending task holds a clone; `finish` waits until all are gone.
    pending: Option<std::sync::mpsc::Sender<()>>,
    done: std::sync::mpsc::Receiver<()>,
    /// `-max-pipelined`: a task holds a permit; at the cap the reader waits for one, so a
    /// flooding client is slowed (its pipe fills) instead of buffered.
    slots: std::sync::Arc<tokio::sync::Semaphore>,
    max: usize,
}

impl StdioDeferrer {
    pub fn start(
        dispatcher: &crate::dispatch::Dispatcher,
        out: SharedWriter,
        max_pipelined: usize,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()?;
        let (pending, done) = std::sync::mpsc::channel();
        Ok(Self {
            dispatcher: std::sync::Arc::new(dispatcher.clone()),
            runtime,
            out,
            pending: Some(pending),
            done,
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(max_pipelined)),
            max: max_pipelined,
        })
    }

    /// A place for one more delayed request, waiting (and not reading stdin) at the cap.
    fn slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Some(permit);
        }
        log::debug!(
            "stdio: {} delayed requests in flight (-max-pipelined); input paused",
            self.max
        );
        self.runtime
            .block_on(self.slots.clone().acquire_owned())
            .ok()
    }

    /// Answers `line` after `plan.delay`, from a task of its own, with a copy of the session
    /// (requests that change it go through [`StdioDeferrer::write_later`]).
    pub fn defer(&self, plan: Plan, line: &[u8], mut session: crate::dispatch::Session) {
        let Some(pending) = self.pending.clone() else {
            return;
        };
        let Some(slot) = self.slot() else {
            return;
        };
        let line = line.to_vec();
        let dispatcher = self.dispatcher.clone();
        let mut out = self.out.clone();
        self.runtime.spawn(async move {
            tokio::time::sleep(plan.delay).await;
            if plan.transport_fault() == Some(FaultKind::Hang) {
                return;
            }
            let mut buf = Vec::with_capacity(1024);
            let outcome = crate::transport::with_parser(|parser| {
                dispatch(
                    Some(&plan),
                    &line,
                    &mut buf,
                    Progress::Done,
                    &dispatcher,
                    EraHint::FromMessage,
                    |b| dispatcher.handle(&mut session, parser, &line, b),
                )
            });
            finish_line(outcome.reply, &dispatcher, &mut buf);
            use std::io::Write;
            if let Err(e) = out.write_all(&buf).and_then(|()| out.flush()) {
                log::debug!("stdout: {e}");
            }
            drop((slot, pending));
        });
    }

    /// Writes `response` (complete lines) after `delay`.
    pub fn write_later(&self, delay: Duration, response: Vec<u8>) {
        let Some(pending) = self.pending.clone() else {
            return;
        };
        let Some(slot) = self.slot() else {
            return;
        };
        let mut out = self.out.clone();
        self.runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            use std::io::Write;
            if let Err(e) = out.write_all(&response).and_then(|()| out.flush()) {
                log::debug!("stdout: {e}");
            }
            drop((slot, pending));
        });
    }

    /// Waits until every delayed response has been written (hung requests are abandoned).
    pub fn finish(mut self) {
        self.pending = None;
        while self.done.recv().is_ok() {}
        self.runtime.shutdown_background();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(latency: &str, errors: &str) -> FaultConfig {
        FaultConfig::parse(
            7,
            Specs {
                latency: latency.to_string(),
                error_rate: errors.to_string(),
                ..Specs::default()
            },
        )
        .unwrap()
    }

    fn call(id: u64, tool: u64) -> Vec<u8> {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"benchmark_tool_{tool}","arguments":{{"a":1}}}}}}"#
        )
        .into_bytes()
    }

    fn catalog() -> Catalog {
        Catalog::new([1000, 10, 10], [10, 10, 10])
    }

    fn dispatcher() -> Dispatcher {
        Dispatcher::new(catalog(), 0, "faults-test")
    }

    /// Mean and standard deviation of `n` samples, in seconds.
    fn moments(d: Distribution, n: u64) -> (f64, f64) {
        let xs: Vec<f64> = (0..n)
            .map(|i| {
                d.sample(unit(draw(1, i, 1)), unit(draw(1, i, 2)))
                    .as_secs_f64()
            })
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        (mean, var.sqrt())
    }

    #[test]
    fn distributions_have_their_configured_moments() {
        let ms = Duration::from_millis;
        let close = |got: f64, want: f64, what: &str| {
            assert!(
                (got - want).abs() <= want * 0.03 + 1e-6,
                "{what}: got {got}, want {want}"
            );
        };
        let (m, sd) = moments(Distribution::Fixed(ms(5)), 1000);
        assert!((m - 0.005).abs() < 1e-12 && sd < 1e-12, "fixed: {m} {sd}");
        let (m, sd) = moments(Distribution::Uniform(ms(10), ms(30)), 100_000);
        close(m, 0.020, "uniform mean");
        close(sd, 0.020 / 12f64.sqrt(), "uniform stddev");
        let (m, sd) = moments(Distribution::Normal(ms(20), ms(5)), 100_000);
        close(m, 0.020, "normal mean");
        close(sd, 0.005, "normal stddev");
        let (m, sd) = moments(Distribution::Exponential(ms(10)), 100_000);
        close(m, 0.010, "exponential mean");
        close(sd, 0.010, "exponential stddev");
        let (m, sd) = moments(Distribution::LogNormal(ms(20), ms(10)), 200_000);
        close(m, 0.020, "lognormal mean");
        assert!((sd - 0.010).abs() < 0.001, "lognormal stddev {sd}");
    }

    #[test]
    fn specs_parse_and_bad_ones_are_refused() {
        let c = config(
            "tools/call@0-99=normal:20ms,5ms; tools/list=uniform:1ms,10ms;fixed:1ms",
            "0.05:jsonrpc,0.01:http503;@5=1:oversized:100",
        );
        assert_eq!(c.latency.len(), 3);
        assert_eq!(c.latency[0].scope.range, Some((0, 99)));
        assert_eq!(
            c.errors[1].kinds,
            vec![(1.0, FaultKind::Oversized(100))],
            "a bare @range is tools/call"
        );
        assert_eq!(c.errors[1].scope.method.as_deref(), Some("tools/call"));
        assert_eq!(c.http_only_kind(), Some("http503"));
        for (latency, errors) in [
            ("normal:20ms", ""),
            ("gauss:1ms,2ms", ""),
            ("fixed:soon", ""),
            ("uniform:5ms,1ms", ""),
            ("@9-1=fixed:1ms", ""),
            ("", "0.5:teapot"),
            ("", "1.5:jsonrpc"),
            ("", "0.6:jsonrpc,0.6:hang"),
            ("", "jsonrpc"),
            ("", "0.1:hang:5"),
        ] {
            let specs = Specs {
                latency: latency.to_string(),
                error_rate: errors.to_string(),
                ..Specs::default()
            };
            assert!(
                FaultConfig::parse(0, specs).is_err(),
                "{latency:?} {errors:?} accepted"
            );
        }
        let bad_cursor = Specs {
            cursor_fault: "sideways".to_string(),
            ..Specs::default()
        };
        assert!(FaultConfig::parse(0, bad_cursor).is_err());
        assert!(!FaultConfig::default().is_active());
    }

    #[test]
    fn messages_that_are_not_json_get_no_fault() {
        let f = Faults::new(config("", "1:jsonrpc"));
        let cat = catalog();
        let fault = |raw: &[u8]| f.plan(&cat, raw).and_then(|p| p.fault);
        assert!(fault(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).is_some());
        for bad in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"ping"} trailing"#[..],
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","x":}"#,
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":\"\xff\"}",
        ] {
            assert!(fault(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn only_requests_with_a_valid_id_are_planned() {
        let f = Faults::new(config("ping=fixed:1ms", ""));
        let cat = catalog();
        let planned = |id: &str| {
            let raw = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
            f.plan(&cat, raw.as_bytes()).is_some()
        };
        for valid in [
            "1",
            "-1",
            "0",
            r#""x""#,
            "18446744073709551615",
            "-9223372036854775808",
        ] {
            assert!(planned(valid), "{valid}");
        }
        for invalid in [
            "1.5",
            "1e3",
            "01",
            "-",
            "18446744073709551616",
            "null",
            "true",
            "[1]",
            "-0",
            r#""\ud800""#,
            "\"\u{1}\"",
            r#""\q""#,
        ] {
            assert!(!planned(invalid), "{invalid}");
        }
    }

    #[test]
    fn scopes_pick_methods_and_index_ranges() {
        let f = Faults::new(config(
            "tools/call@10-19=fixed:7ms;tools/list=fixed:3ms",
            "",
        ));
        let cat = catalog();
        let delay = |raw: &[u8]| f.plan(&cat, raw).map(|p| p.delay);
        assert_eq!(delay(&call(1, 12)), Some(Duration::from_millis(7)));
        assert_eq!(delay(&call(1, 20)), None);
        assert_eq!(
            delay(br#"{"jsonrpc":"2.0","id":"x","method":"tools/list"}"#),
            Some(Duration::from_millis(3))
        );
        assert_eq!(delay(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#), None);
        assert_eq!(
            delay(br#"{"jsonrpc":"2.0","method":"tools/list"}"#),
            None,
            "notifications are never delayed"
        );
        assert_eq!(
            delay(br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#),
            None
        );
        assert_eq!(delay(b"not json"), None);
    }

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let sequence = |seed: u64| {
            let mut c = config("exponential:5ms", "0.2:jsonrpc,0.1:hang");
            c.seed = seed;
            let f = Faults::new(c);
            (0..500)
                .map(|i| {
                    f.plan(&catalog(), &call(i, i % 7))
                        .map(|p| (p.delay, p.fault))
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(sequence(3), sequence(3));
        assert_ne!(sequence(3), sequence(4));
        let faults = sequence(3)
            .iter()
            .filter(|p| p.is_some_and(|(_, f)| f.is_some()))
            .count();
        // 30% of 500, within 5 standard deviations.
        let sd = (500.0f64 * 0.3 * 0.7).sqrt();
        assert!((faults as f64 - 150.0).abs() < 5.0 * sd, "{faults}");
    }

    #[test]
    fn fail_first_counts_per_tool_and_arguments() {
        let specs = Specs {
            fail_first: "2:http503".to_string(),
            ..Specs::default()
        };
        let f = Faults::new(FaultConfig::parse(0, specs).unwrap());
        let cat = catalog();
        let fault = |raw: &[u8]| f.plan(&cat, raw).and_then(|p| p.fault);
        assert_eq!(fault(&call(1, 5)), Some(FaultKind::Http503));
        assert_eq!(fault(&call(2, 5)), Some(FaultKind::Http503));
        assert_eq!(fault(&call(3, 5)), None);
        assert_eq!(fault(&call(4, 6)), Some(FaultKind::Http503), "another tool");
        let other_args =
            br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"benchmark_tool_5","arguments":{"a":2}}}"#;
        assert_eq!(
            fault(other_args),
            Some(FaultKind::Http503),
            "other arguments"
        );
        assert_eq!(f.injected()[FaultKind::Http503.slot()], 4);
    }

    #[test]
    fn cursor_faults_shape_pages() {
        use CursorFault::*;
        assert_eq!(page(None, 10, 20, 25), (20, 25, NextCursor::After(19)));
        assert_eq!(page(Some(Empty), 0, 10, 25), (10, 25, NextCursor::Empty));
        assert_eq!(
            page(Some(Invalid), 0, 10, 25),
            (10, 25, NextCursor::Invalid)
        );
        assert_eq!(
            page(Some(Repeat), 0, 10, 25),
            (10, 25, NextCursor::After(9))
        );
        assert_eq!(
            page(Some(Repeat), 10, 20, 25),
            (20, 25, NextCursor::After(9))
        );
        assert_eq!(
            page(Some(DropLast), 20, 25, 25),
            (24, 24, NextCursor::After(24))
        );
        assert_eq!(
            page(Some(DropLast), 0, 10, 25),
            (10, 24, NextCursor::After(9))
        );
    }

    /// The bytes `raw` gets under `plan`, which must fault it (the handler is never called).
    fn faulted(plan: &Plan, raw: &[u8], progress: Progress, hint: EraHint) -> (Vec<u8>, Outcome) {
        let mut out = Vec::new();
        let outcome = dispatch(
            Some(plan),
            raw,
            &mut out,
            progress,
            &dispatcher(),
            hint,
            |_| unreachable!(),
        );
        (out, outcome)
    }

    #[test]
    fn in_band_faults_follow_the_era_of_the_request() {
        let answer = |errors: &str, raw: &[u8], hint: EraHint| {
            let plan = Faults::new(config("", errors))
                .plan(&catalog(), raw)
                .unwrap();
            let (out, outcome) = faulted(&plan, raw, Progress::None, hint);
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            (v, outcome.modern)
        };
        let key = meta::PROTOCOL_VERSION;
        let modern = format!(
            r#"{{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{{"name":"benchmark_tool_1","_meta":{{"{key}":"2026-07-28"}}}}}}"#
        );
        let (v, is_modern) = answer("1:iserror", modern.as_bytes(), EraHint::FromMessage);
        assert!(is_modern);
        assert_eq!(v["result"]["resultType"], "complete", "{v}");
        assert_eq!(
            v["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "faults-test"
        );
        assert_eq!(v["result"]["isError"], true);
        let (v, _) = answer("1:iserror", &call(4, 1), EraHint::FromMessage);
        assert!(v["result"].get("resultType").is_none(), "{v}");
        let (v, is_modern) = answer("1:iserror", &call(4, 1), EraHint::Modern);
        assert!(is_modern && v["result"]["resultType"] == "complete", "{v}");
        // A cacheable result carries the caching hints, as the real one does.
        let list = format!(
            r#"{{"jsonrpc":"2.0","id":5,"method":"tools/list","params":{{"_meta":{{"{key}":"2026-07-28"}}}}}}"#
        );
        let (v, _) = answer("1:oversized:10", list.as_bytes(), EraHint::FromMessage);
        assert_eq!(v["result"]["ttlMs"], 300_000, "{v}");
        assert_eq!(
            v["result"]["content"][0]["text"].as_str().map(str::len),
            Some(10)
        );
        let (v, is_modern) = answer("1:jsonrpc", modern.as_bytes(), EraHint::FromMessage);
        assert!(is_modern);
        assert_eq!(v["error"]["code"], -32603);
        assert_eq!(v["error"]["data"]["injected"], true);
    }

    #[test]
    fn in_band_faults_keep_the_request_id() {
        let f = Faults::new(config("", "1:iserror"));
        let raw = br#"{"jsonrpc":"2.0","id":"abc","method":"tools/call","params":{"name":"benchmark_tool_1","_meta":{"progressToken":7}}}"#;
        let plan = f.plan(&catalog(), raw).unwrap();
        let (out, outcome) = faulted(&plan, raw, Progress::Done, EraHint::FromMessage);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["id"], "abc");
        assert_eq!(v["result"]["isError"], true);
        assert_eq!(outcome.messages, 1, "no progress without a delay");
        let f = Faults::new(config("fixed:1ms", "1:malformed"));
        let plan = f.plan(&catalog(), raw).unwrap();
        let (out, outcome) = faulted(&plan, raw, Progress::Done, EraHint::FromMessage);
        assert_eq!(outcome.messages, 2);
        let (progress, reply) = out.split_at(out.iter().position(|&b| b == b'\n').unwrap() + 1);
        let p: serde_json::Value = serde_json::from_slice(progress).unwrap();
        assert_eq!(p["params"]["progressToken"], 7);
        assert!(serde_json::from_slice::<serde_json::Value>(reply).is_err());
    }
}
