//! The command line: Go `flag`-compatible syntax (`-name=value`, `-name value`, `--name=value`,
//! `--name value`, `-help`), parsed with lexopt into raw values, then validated into a
//! [`Config`]. One table ([`FLAGS`]) drives parsing, validation and the usage text.
//!
//! Parsing never touches the process environment: callers pass an environment lookup, so the
//! whole module is testable on literal argument vectors.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

/// The largest count or size accepted (far beyond any practical run, small enough that no
/// arithmetic on it can overflow).
pub const MAX_COUNT: u64 = 1_000_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlagType {
    Bool,
    Int,
    Str,
    /// Like a bool (no separate value argument) but may carry one: `-healthcheck[=URL]`.
    OptionalStr,
}

struct Flag {
    name: &'static str,
    ty: FlagType,
    default: &'static str,
    usage: &'static str,
}

const fn flag(
    name: &'static str,
    ty: FlagType,
    default: &'static str,
    usage: &'static str,
) -> Flag {
    Flag {
        name,
        ty,
        default,
        usage,
    }
}

use FlagType::{Bool, Int, OptionalStr, Str};

/// Every flag, in the order of the usage text (alphabetical, like Go's `flag.PrintDefaults`).
const FLAGS: &[Flag] = &[
    flag(
        "addr",
        Str,
        "",
        "Full listen address (host:port) - overrides -listen/-port",
    ),
    flag(
        "admin",
        Bool,
        "false",
        "Serve GET/PUT /admin/config (HTTP only; behind the bearer token when one is set)",
    ),
    flag(
        "allowed-origins",
        Str,
        "",
        "Comma-separated browser Origins allowed besides localhost and the server's own host (* = any)",
    ),
    flag(
        "auth-token",
        Str,
        "",
        "Bearer token for authentication (SSE/HTTP only)",
    ),
    flag(
        "cache-scope",
        Str,
        "public",
        "cacheScope of 2026-07-28 list and read results: public | private",
    ),
    flag(
        "churn",
        Str,
        "",
        "Replace COUNT items of each kind every INTERVAL and notify clients (INTERVAL:COUNT, e.g. 5s:10)",
    ),
    flag(
        "content",
        Str,
        "text",
        "Content of tool results, resource reads and prompts: text | image | audio | blob | mixed",
    ),
    flag(
        "cursor-fault",
        Str,
        "",
        "Pagination fault: empty | repeat | invalid | drop-last",
    ),
    flag(
        "drain-delay",
        Str,
        "0s",
        "After SIGTERM, keep serving this long with /ready at 503 before closing the listeners",
    ),
    flag(
        "error-rate",
        Str,
        "",
        "Injected faults: [SCOPE=]RATE:KIND,... rules separated by ; (e.g. 0.05:jsonrpc,0.01:http503)",
    ),
    flag(
        "fail-first",
        Str,
        "",
        "tools/call fails the first K times per tool name + arguments: K[:KIND]",
    ),
    flag(
        "header-timeout",
        Str,
        "10s",
        "Time a client gets to send a request's headers (slow clients are disconnected)",
    ),
    flag(
        "healthcheck",
        OptionalStr,
        "",
        "Probe /health of the configured address (or the URL given as -healthcheck=URL), exit 0 if healthy, 1 if not",
    ),
    flag("help", Bool, "false", "Show help message"),
    flag(
        "idle-timeout",
        Str,
        "60s",
        "An HTTP connection idle this long between requests is closed (0 = never)",
    ),
    flag(
        "instance-id",
        Str,
        "",
        "Name of this replica in /health, /version, serverInfo and X-Instance-Id (default: hostname:port)",
    ),
    flag(
        "latency",
        Str,
        "",
        "Injected delay: [SCOPE=]DIST:PARAMS rules separated by ; (e.g. tools/call@0-99=normal:20ms,5ms)",
    ),
    flag(
        "list-ttl",
        Str,
        "5m",
        "ttlMs of 2026-07-28 list results (tools, resources, templates, prompts, discover); with -churn, the churn interval unless given",
    ),
    flag("listen", Str, "0.0.0.0", "Listen interface for sse/http"),
    flag(
        "log-level",
        Str,
        "info",
        "Logging level: debug|info|warn|error|none",
    ),
    flag(
        "max-connections",
        Int,
        "10000",
        "Most open HTTP connections across all instances; more get 503 and are closed",
    ),
    flag(
        "max-payload-size",
        Int,
        "10485760",
        "Largest payload_size a tool call may ask for (with -payload-size-arg)",
    ),
    flag(
        "max-pipelined",
        Int,
        "16384",
        "Most delayed (-latency) stdio requests waiting at once; stdin is not read while at the cap",
    ),
    flag(
        "max-request-bytes",
        Int,
        "4194304",
        "Largest accepted request: a longer stdio line or HTTP body is rejected",
    ),
    flag(
        "max-sessions",
        Int,
        "10000",
        "Most Streamable HTTP sessions kept; the least recently used is evicted",
    ),
    flag(
        "max-sse-streams",
        Int,
        "5000",
        "Most open SSE streams (legacy /sse and Streamable HTTP GET) across all instances; more get 503",
    ),
    flag(
        "metrics-public",
        Bool,
        "false",
        "Serve /metrics without the bearer token, like /health",
    ),
    flag(
        "page-size",
        Int,
        "0",
        "Items per list page, with a nextCursor to continue (0 = all in one page)",
    ),
    flag(
        "payload-size",
        Int,
        "",
        "Sets -tool-size, -resource-size and -prompt-size at once",
    ),
    flag(
        "payload-size-arg",
        Bool,
        "false",
        "Tools take (and advertise) an optional payload_size argument setting the call's payload size",
    ),
    flag(
        "port",
        Int,
        "8080",
        "TCP port for sse/http (0 = any free port)",
    ),
    flag(
        "profile",
        Str,
        "default",
        "Catalog profile: default | conformance (adds the official conformance suite's fixtures)",
    ),
    flag(
        "prompt-size",
        Int,
        "1000",
        "Size of prompt response payload in bytes (N, or LO-HI: uniform per prompt)",
    ),
    flag("prompts", Int, "100", "Number of prompts to generate"),
    flag(
        "public-url",
        Str,
        "",
        "External base URL advertised to SSE clients",
    ),
    flag(
        "read-ttl",
        Str,
        "0s",
        "ttlMs of 2026-07-28 resources/read results",
    ),
    flag(
        "resource-size",
        Int,
        "1000",
        "Size of resource response payload in bytes (N, or LO-HI: uniform per resource)",
    ),
    flag("resources", Int, "100", "Number of resources to generate"),
    flag(
        "response-mode",
        Str,
        "auto",
        "Streamable HTTP reply format: auto (JSON unless the client accepts only SSE) | json | sse",
    ),
    flag(
        "seed",
        Int,
        "0",
        "Seed of the injected latency and faults (the same seed gives the same sequence)",
    ),
    flag(
        "server-count",
        Int,
        "1",
        "Number of servers to spawn (for multi-server testing)",
    ),
    flag(
        "session-idle-timeout",
        Str,
        "30m",
        "Streamable HTTP sessions unused this long are dropped (memory mode)",
    ),
    flag(
        "session-mode",
        Str,
        "memory",
        "Streamable HTTP sessions: memory | stateless | signed",
    ),
    flag(
        "session-secret",
        Str,
        "",
        "HMAC key for -session-mode=signed; replicas sharing it accept each other's sessions",
    ),
    flag(
        "shutdown-timeout",
        Str,
        "10s",
        "Time in-flight requests get to finish after SIGINT/SIGTERM",
    ),
    flag(
        "sse-keepalive",
        Str,
        "15s",
        "Interval of keep-alive comments on idle SSE streams",
    ),
    flag(
        "start-port",
        Int,
        "8080",
        "Starting port for multi-server mode",
    ),
    flag(
        "structured",
        Bool,
        "false",
        "Tools declare an outputSchema and results carry structuredContent",
    ),
    flag(
        "threads",
        Int,
        "0",
        "Worker threads serving sse/http (0 = one per CPU core)",
    ),
    flag(
        "tool-description-size",
        Str,
        "",
        "Exact length of each tool description in bytes (N or LO-HI; empty = the default text)",
    ),
    flag(
        "tool-enum-size",
        Str,
        "0",
        "Values in an enum on each tool parameter (N or LO-HI; 0 = no enum)",
    ),
    flag(
        "tool-params",
        Str,
        "",
        "Parameters in each tool's inputSchema (N or LO-HI; empty = the default two)",
    ),
    flag(
        "tool-schema-depth",
        Str,
        "0",
        "Object levels of a nested parameter in each tool's inputSchema (N or LO-HI, at most 50)",
    ),
    flag(
        "tool-size",
        Int,
        "1000",
        "Size of tool response payload in bytes (N, or LO-HI: uniform per tool)",
    ),
    flag("tools", Int, "100", "Number of tools to generate"),
    flag("transport", Str, "stdio", "Transport: stdio | sse | http"),
    flag("version", Bool, "false", "Print the version and exit"),
];

fn find_flag(name: &str) -> Option<&'static Flag> {
    FLAGS.iter().find(|f| f.name == name)
}

/// Which transport to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Stdio,
    Sse,
    Http,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::Sse => "sse",
            Transport::Http => "http",
        }
    }
}

/// How Streamable HTTP replies are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// JSON, or SSE for a client whose `Accept` allows only `text/event-stream`.
    Auto,
    Json,
    Sse,
}

/// How Streamable HTTP sessions are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionMode {
    /// In this process: unknown or deleted ids get 404.
    Memory,
    /// No sessions at all: every request stands alone.
    Stateless,
    /// Self-validating HMAC ids any replica with the same secret accepts.
    Signed,
}

impl SessionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionMode::Memory => "memory",
            SessionMode::Stateless => "stateless",
            SessionMode::Signed => "signed",
        }
    }
}

/// The validated configuration of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub transport: Transport,
    pub tools: u64,
    pub resources: u64,
    pub prompts: u64,
    pub tool_size: u64,
    pub resource_size: u64,
    pub prompt_size: u64,
    pub page_size: u64,
    pub port: u16,
    pub listen: String,
    pub addr: Option<String>,
    pub public_url: Option<String>,
    /// The bearer token (`AUTH_TOKEN` wins over `-auth-token`), if any.
    pub auth_token: Option<String>,
    /// Where the token came from, for the start-up log line.
    pub auth_token_from_env: bool,
    pub log_level: log::LevelFilter,
    pub server_count: u16,
    pub start_port: u16,
    pub max_request_bytes: usize,
    pub shutdown_timeout: Duration,
    pub response_mode: ResponseMode,
    pub session_mode: SessionMode,
    /// `SESSION_SECRET` wins over `-session-secret`.
    pub session_secret: Option<String>,
    pub max_sessions: usize,
    pub session_idle_timeout: Duration,
    /// Extra allowed Origins (exact `scheme://host[:port]`), or `None` for any (`*`).
    pub allowed_origins: Option<Vec<String>>,
    pub sse_keepalive: Duration,
    /// `-instance-id`, when given (the default depends on the bound port).
    pub instance_id: Option<String>,
    /// `-list-ttl`, `-read-ttl`, `-cache-scope`.
    pub cache: crate::dispatch::CacheHints,
    pub max_connections: usize,
    pub header_timeout: Duration,
    /// `-idle-timeout`: `None` keeps idle connections open.
    pub idle_timeout: Option<Duration>,
    pub max_sse_streams: usize,
    /// `-max-pipelined`: delayed stdio requests in flight at most.
    pub max_pipelined: usize,
    pub drain_delay: Duration,
    /// Worker threads for the HTTP transports (resolved: at least 1).
    pub threads: usize,
    /// `-profile=conformance`: the conformance suite's fixtures are listed too.
    pub conformance_fixtures: bool,
    /// `-latency`, `-error-rate`, `-fail-first`, `-cursor-fault`, `-seed`.
    pub faults: crate::faults::FaultConfig,
    /// `-admin`: serve `/admin/config`.
    pub admin: bool,
    /// `-metrics-public`: `/metrics` needs no token.
    pub metrics_public: bool,
    /// Size spreads, definition knobs, content kinds (sizes above are their low ends).
    pub realism: crate::realism::Realism,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run(Box<Config>),
    /// Probe a running server's `/health`: `url` given, or built from the configuration.
    Healthcheck {
        url: Option<String>,
        config: Box<Config>,
    },
    Help,
    Version,
}

/// A command-line error: the message names the flag; `show_usage` says whether the usage
/// text should follow it (as Go does for syntax errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub message: String,
    pub show_usage: bool,
    /// The flag whose value was refused, if any.
    pub flag: Option<&'static str>,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

fn usage_error(message: String) -> CliError {
    CliError {
        message,
        show_usage: true,
        flag: None,
    }
}

fn invalid(flag: &'static str, value: &str, why: &str) -> CliError {
    CliError {
        message: format!("invalid value {value:?} for flag -{flag}: {why}"),
        show_usage: false,
        flag: Some(flag),
    }
}

/// Rewrites Go's single-dash long flags (`-tools=5`) as the `--tools=5` lexopt expects,
/// leaving flag values (the argument after a non-bool flag without `=`) untouched.
fn normalize(args: Vec<OsString>) -> Result<Vec<OsString>, CliError> {
    let mut out = Vec::with_capacity(args.len());
    let mut expect_value = false;
    let mut rest = false;
    for arg in args {
        if expect_value || rest {
            expect_value = false;
            out.push(arg);
            continue;
        }
        let Some(s) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if s == "--" {
            rest = true;
            out.push(arg);
            continue;
        }
        if s.starts_with("---") {
            return Err(usage_error(format!("bad flag syntax: {s}")));
        }
        let body = s.strip_prefix("--").or_else(|| s.strip_prefix('-'));
        let Some(body) = body.filter(|b| !b.is_empty()) else {
            out.push(arg);
            continue;
        };
        let name = body.split('=').next().unwrap_or(body);
        if !body.contains('=') && find_flag(name).is_some_and(|f| matches!(f.ty, Int | Str)) {
            expect_value = true;
        }
        if s.starts_with("--") || body.len() == 1 {
            out.push(arg);
        } else {
            out.push(OsString::from(format!("-{s}")));
        }
    }
    Ok(out)
}

/// The environment variable that sets flag `name`: `tool-size` → `BENCH_TOOL_SIZE`.
pub fn env_name(name: &str) -> String {
    format!("BENCH_{}", name.to_ascii_uppercase().replace('-', "_"))
}

/// Parses Go's `strconv.ParseBool` spellings.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Parses an integer as Go's `strconv.ParseInt(s, 0, 64)` does: optional sign, `0x`/`0o`/`0b`
/// or leading-`0` octal prefixes, `_` between digits when a prefix is given or the number is
/// decimal.
fn parse_int(s: &str) -> Result<i64, &'static str> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return Err("parse error");
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    let magnitude = u64::from_str_radix(&clean, radix).map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => "value out of range",
        _ => "parse error",
    })?;
    if neg {
        0i64.checked_sub_unsigned(magnitude)
            .ok_or("value out of range")
    } else {
        i64::try_from(magnitude).map_err(|_| "value out of range")
    }
}

/// Parses a Go duration: a sequence of decimal numbers with units `ns`, `us`, `µs`, `ms`, `s`,
/// `m`, `h` (`1h30m`, `500ms`, `2.5s`); `0` alone is allowed.
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    (total.is_finite() && total < 1e12).then(|| Duration::from_secs_f64(total))
}

/// Parses `args` (without the program name). `env` looks up environment variables.
pub fn parse<I, E>(args: I, env: E) -> Result<Command, CliError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
    E: Fn(&str) -> Option<String>,
{
    let args = normalize(args.into_iter().map(Into::into).collect())?;
    let mut parser = lexopt::Parser::from_args(args);
    let mut raw: BTreeMap<&'static str, String> = BTreeMap::new();
    loop {
        let arg = parser.next().map_err(|e| usage_error(e.to_string()))?;
        let Some(arg) = arg else { break };
        let name = match arg {
            lexopt::Arg::Short('h') => return Ok(Command::Help),
            lexopt::Arg::Short(c) => {
                return Err(usage_error(format!("flag provided but not defined: -{c}")));
            }
            lexopt::Arg::Long(name) => name.to_string(),
            lexopt::Arg::Value(v) => {
                return Err(usage_error(format!(
                    "unexpected argument {:?}: every option is a flag such as -tools=100",
                    v.to_string_lossy()
                )));
            }
        };
        let Some(flag) = find_flag(&name) else {
            if name == "h" {
                return Ok(Command::Help);
            }
            return Err(usage_error(format!(
                "flag provided but not defined: -{name}"
            )));
        };
        let value = if matches!(flag.ty, Bool | OptionalStr) {
            match parser.optional_value() {
                None => "true".to_string(),
                Some(v) => v.to_string_lossy().into_owned(),
            }
        } else {
            match parser.value() {
                Ok(v) => v.to_string_lossy().into_owned(),
                Err(_) => return Err(usage_error(format!("flag needs an argument: -{name}"))),
            }
        };
        if flag.ty == Bool && parse_bool(&value).is_none() {
            return Err(usage_error(format!(
                "invalid boolean value {value:?} for -{name}: parse error"
            )));
        }
        raw.insert(flag.name, value);
    }
    let is_set = |name: &str| raw.get(name).is_some_and(|v| parse_bool(v) == Some(true));
    if is_set("help") {
        return Ok(Command::Help);
    }
    if is_set("version") {
        return Ok(Command::Version);
    }
    // Every flag can also come from the environment as BENCH_<NAME> (e.g. BENCH_TOOL_SIZE);
    // the command line wins.
    let mut from_env: BTreeMap<&'static str, String> = BTreeMap::new();
    for f in FLAGS {
        if matches!(f.name, "help" | "version" | "healthcheck") || raw.contains_key(f.name) {
            continue;
        }
        if let Some(v) = env(&env_name(f.name)).filter(|v| !v.is_empty()) {
            from_env.insert(f.name, v);
        }
    }
    let healthcheck = raw.get("healthcheck").cloned();
    let config = build_config(&raw, &from_env, env).map_err(|mut e| {
        // Name the variable when that is where the bad value came from.
        if let Some(flag) = e.flag.filter(|f| from_env.contains_key(f)) {
            e.message = e.message.replacen(
                &format!("for flag -{flag}"),
                &format!("for {} (flag -{flag})", env_name(flag)),
                1,
            );
        }
        e
    })?;
    let config = Box::new(config);
    match healthcheck {
        None => Ok(Command::Run(config)),
        Some(v) if parse_bool(&v) == Some(false) => Ok(Command::Run(config)),
        Some(v) if parse_bool(&v) == Some(true) || v.is_empty() => {
            Ok(Command::Healthcheck { url: None, config })
        }
        Some(url) => Ok(Command::Healthcheck {
            url: Some(url),
            config,
        }),
    }
}

/// Builds the configuration from command-line values (`raw`), then `BENCH_*` values
/// (`from_env`), then defaults.
fn build_config<E>(
    raw: &BTreeMap<&'static str, String>,
    from_env: &BTreeMap<&'static str, String>,
    env: E,
) -> Result<Config, CliError>
where
    E: Fn(&str) -> Option<String>,
{
    let text = |name: &'static str| -> String {
        raw.get(name)
            .or_else(|| from_env.get(name))
            .cloned()
            .unwrap_or_else(|| {
                find_flag(name)
                    .map(|f| f.default.to_string())
                    .unwrap_or_default()
            })
    };
    let int = |name: &'static str| -> Result<i64, CliError> {
        let v = text(name);
        parse_int(&v).map_err(|why| invalid(name, &v, why))
    };
    let count = |name: &'static str| -> Result<u64, CliError> {
        let n = int(name)?;
        if n < 0 {
            return Err(invalid(name, &text(name), "must not be negative"));
        }
        let n = n as u64;
        if n > MAX_COUNT {
            return Err(invalid(name, &text(name), "must be at most 1000000000000"));
        }
        Ok(n)
    };
    let port = |name: &'static str, allow_zero: bool| -> Result<u16, CliError> {
        let n = int(name)?;
        let min = if allow_zero { 0 } else { 1 };
        if n < min || n > 65_535 {
            return Err(invalid(
                name,
                &text(name),
                &format!("port must be between {min} and 65535"),
            ));
        }
        Ok(n as u16)
    };

    let transport = match text("transport").to_ascii_lowercase().as_str() {
        "stdio" => Transport::Stdio,
        "sse" => Transport::Sse,
        "http" => Transport::Http,
        _ => {
            return Err(invalid(
                "transport",
                &text("transport"),
                "must be stdio, sse or http",
            ));
        }
    };
    let log_level = match text("log-level").to_ascii_lowercase().as_str() {
        "debug" => log::LevelFilter::Debug,
        "info" => log::LevelFilter::Info,
        "warn" | "warning" => log::LevelFilter::Warn,
        "error" => log::LevelFilter::Error,
        "none" | "off" | "silent" => log::LevelFilter::Off,
        _ => {
            return Err(invalid(
                "log-level",
                &text("log-level"),
                "must be debug, info, warn, error or none",
            ));
        }
    };
    // Precedence of sizes: the per-kind flag, -payload-size, BENCH_<KIND>_SIZE,
    // BENCH_PAYLOAD_SIZE, the default (whatever the order on the line).
    // A size is `N` or a range `LO-HI` (see crate::realism).
    let spread = |name: &'static str, max: u64| -> Result<crate::realism::Spread, CliError> {
        let v = text(name);
        crate::realism::Spread::parse(&v, max, parse_int).map_err(|why| invalid(name, &v, &why))
    };
    let payload_size = if raw.contains_key("payload-size") || from_env.contains_key("payload-size")
    {
        Some(spread("payload-size", MAX_COUNT)?)
    } else {
        None
    };
    let size = |name: &'static str| -> Result<crate::realism::Spread, CliError> {
        let payload_on_line = raw.contains_key("payload-size");
        match payload_size {
            Some(p)
                if !raw.contains_key(name) && (payload_on_line || !from_env.contains_key(name)) =>
            {
                Ok(p)
            }
            _ => spread(name, MAX_COUNT),
        }
    };
    let sizes = [
        size("tool-size")?,
        size("resource-size")?,
        size("prompt-size")?,
    ];
    let optional_spread = |name: &'static str, max: u64| {
        Ok::<_, CliError>(if text(name).trim().is_empty() {
            None
        } else {
            Some(spread(name, max)?)
        })
    };
    let flag_on = |name: &'static str| parse_bool(&text(name)) == Some(true);
    let churn = match text("churn").trim() {
        "" => None,
        v => Some(
            crate::churn::Churn::parse(v, parse_duration)
                .map_err(|why| invalid("churn", v, &why))?,
        ),
    };
    let churn_on = churn.is_some();
    let churn_interval = churn.as_ref().map(|c| c.interval);
    let realism = crate::realism::Realism {
        churn,
        sizes,
        payload_size_arg: flag_on("payload-size-arg"),
        max_payload_size: count("max-payload-size")?,
        description_size: optional_spread(
            "tool-description-size",
            crate::realism::MAX_DESCRIPTION_SIZE,
        )?,
        params: optional_spread("tool-params", crate::realism::MAX_PARAMS)?,
        schema_depth: spread("tool-schema-depth", crate::realism::MAX_SCHEMA_DEPTH)?,
        enum_size: spread("tool-enum-size", crate::realism::MAX_PARAMS)?,
        content: crate::realism::Content::parse(&text("content")).ok_or_else(|| {
            invalid(
                "content",
                &text("content"),
                "must be text, image, audio, blob or mixed",
            )
        })?,
        structured: flag_on("structured"),
    };
    let server_count = int("server-count")?;
    if !(1..=1000).contains(&server_count) {
        return Err(invalid(
            "server-count",
            &text("server-count"),
            "must be between 1 and 1000",
        ));
    }
    let start_port = port("start-port", false)?;
    if transport != Transport::Stdio && u64::from(start_port) + server_count as u64 - 1 > 65_535 {
        return Err(invalid(
            "server-count",
            &text("server-count"),
            "the last port (-start-port + -server-count - 1) would exceed 65535",
        ));
    }
    let max_request_bytes = count("max-request-bytes")?;
    if max_request_bytes < 1024 {
        return Err(invalid(
            "max-request-bytes",
            &text("max-request-bytes"),
            "must be at least 1024",
        ));
    }
    let duration = |name: &'static str| -> Result<Duration, CliError> {
        let v = text(name);
        parse_duration(&v)
            .ok_or_else(|| invalid(name, &v, "not a duration such as 500ms, 10s or 5m"))
    };
    // A churning catalog is only valid until its next change, so that is how long a list
    // result may be cached unless -list-ttl says otherwise.
    let list_ttl = match churn_interval {
        Some(interval) if !raw.contains_key("list-ttl") && !from_env.contains_key("list-ttl") => {
            interval
        }
        _ => duration("list-ttl")?,
    };
    let response_mode = match text("response-mode").to_ascii_lowercase().as_str() {
        "auto" => ResponseMode::Auto,
        "json" => ResponseMode::Json,
        "sse" => ResponseMode::Sse,
        _ => {
            return Err(invalid(
                "response-mode",
                &text("response-mode"),
                "must be auto, json or sse",
            ));
        }
    };
    let session_mode = match text("session-mode").to_ascii_lowercase().as_str() {
        "memory" => SessionMode::Memory,
        "stateless" => SessionMode::Stateless,
        "signed" => SessionMode::Signed,
        _ => {
            return Err(invalid(
                "session-mode",
                &text("session-mode"),
                "must be memory, stateless or signed",
            ));
        }
    };
    let max_sessions = count("max-sessions")?;
    if max_sessions == 0 {
        return Err(invalid(
            "max-sessions",
            &text("max-sessions"),
            "must be at least 1",
        ));
    }
    let sse_keepalive = duration("sse-keepalive")?;
    if sse_keepalive.is_zero() {
        return Err(invalid(
            "sse-keepalive",
            &text("sse-keepalive"),
            "must be more than 0",
        ));
    }
    let session_idle_timeout = duration("session-idle-timeout")?;
    if session_idle_timeout.is_zero() {
        return Err(invalid(
            "session-idle-timeout",
            &text("session-idle-timeout"),
            "must be more than 0",
        ));
    }
    let allowed_origins = {
        let list: Vec<String> = text("allowed-origins")
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|o| !o.is_empty())
            .collect();
        if list.iter().any(|o| o == "*") {
            None
        } else {
            Some(list)
        }
    };
    let public_url = Some(text("public-url")).filter(|s| !s.is_empty());
    if let Some(url) = &public_url {
        validate_public_url(url).map_err(|why| invalid("public-url", url, why))?;
    }
    let non_empty = |s: String| Some(s).filter(|s| !s.is_empty());
    let env_token = env("AUTH_TOKEN").filter(|t| !t.is_empty());
    let auth_token_from_env = env_token.is_some();
    // A token with surrounding whitespace could never match a header (header values are
    // trimmed), so it would lock every client out: refuse it at start-up.
    let token = env_token.clone().or_else(|| non_empty(text("auth-token")));
    if token.as_ref().is_some_and(|t| t.trim() != t.as_str()) {
        return Err(CliError {
            message:
                "the bearer token (-auth-token or AUTH_TOKEN) must not start or end with whitespace"
                    .to_string(),
            show_usage: false,
            flag: None,
        });
    }
    let faults = crate::faults::FaultConfig::parse(
        int("seed")? as u64,
        crate::faults::Specs {
            latency: text("latency"),
            error_rate: text("error-rate"),
            fail_first: text("fail-first"),
            cursor_fault: text("cursor-fault"),
        },
    )
    .map_err(|(flag, why)| invalid(flag, &text(flag), &why))?;
    if transport == Transport::Stdio
        && let Some(kind) = faults.http_only_kind()
    {
        let flag = if faults.specs().error_rate.contains(kind) {
            "error-rate"
        } else {
            "fail-first"
        };
        return Err(invalid(
            flag,
            &text(flag),
            &format!("fault kind '{kind}' needs -transport=http or sse"),
        ));
    }
    if transport == Transport::Stdio && churn_on && faults.has_latency() {
        // Over stdio a churning catalog has its own output thread, and delayed responses
        // theirs: the two do not share the pipe.
        return Err(invalid(
            "latency",
            &text("latency"),
            "cannot be combined with -churn over stdio",
        ));
    }
    let admin = parse_bool(&text("admin"))
        .ok_or_else(|| invalid("admin", &text("admin"), "must be true or false"))?;
    Ok(Config {
        faults,
        admin,
        transport,
        tools: count("tools")?,
        resources: count("resources")?,
        prompts: count("prompts")?,
        tool_size: sizes[0].lo,
        resource_size: sizes[1].lo,
        prompt_size: sizes[2].lo,
        realism,
        page_size: count("page-size")?,
        port: port("port", true)?,
        listen: text("listen"),
        addr: non_empty(text("addr")),
        public_url: public_url.map(|u| u.trim_end_matches('/').to_string()),
        auth_token: env_token.or_else(|| non_empty(text("auth-token"))),
        auth_token_from_env,
        log_level,
        server_count: server_count as u16,
        start_port,
        max_request_bytes: usize::try_from(max_request_bytes).unwrap_or(usize::MAX),
        shutdown_timeout: duration("shutdown-timeout")?,
        response_mode,
        session_mode,
        session_secret: env("SESSION_SECRET")
            .filter(|s| !s.is_empty())
            .or_else(|| non_empty(text("session-secret"))),
        max_sessions: usize::try_from(max_sessions).unwrap_or(usize::MAX),
        session_idle_timeout,
        allowed_origins,
        sse_keepalive,
        instance_id: non_empty(text("instance-id")),
        max_connections: match count("max-connections")? {
            0 => {
                return Err(invalid(
                    "max-connections",
                    &text("max-connections"),
                    "must be at least 1",
                ));
            }
            n => usize::try_from(n).unwrap_or(usize::MAX).min(1 << 20),
        },
        idle_timeout: Some(duration("idle-timeout")?).filter(|d| !d.is_zero()),
        max_sse_streams: match count("max-sse-streams")? {
            0 => {
                return Err(invalid(
                    "max-sse-streams",
                    &text("max-sse-streams"),
                    "must be at least 1",
                ));
            }
            n => usize::try_from(n).unwrap_or(usize::MAX).min(1 << 20),
        },
        max_pipelined: match count("max-pipelined")? {
            0 => {
                return Err(invalid(
                    "max-pipelined",
                    &text("max-pipelined"),
                    "must be at least 1",
                ));
            }
            n => usize::try_from(n).unwrap_or(usize::MAX).min(1 << 20),
        },
        drain_delay: duration("drain-delay")?,
        metrics_public: match parse_bool(&text("metrics-public")) {
            Some(b) => b,
            None => {
                return Err(invalid(
                    "metrics-public",
                    &text("metrics-public"),
                    "must be true or false",
                ));
            }
        },
        conformance_fixtures: match text("profile").to_ascii_lowercase().as_str() {
            "default" => false,
            "conformance" if churn_on => {
                return Err(invalid(
                    "churn",
                    &text("churn"),
                    "cannot be combined with -profile=conformance",
                ));
            }
            "conformance" => true,
            _ => {
                return Err(invalid(
                    "profile",
                    &text("profile"),
                    "must be default or conformance",
                ));
            }
        },
        threads: match count("threads")? {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => usize::try_from(n).unwrap_or(usize::MAX).min(1024),
        },
        header_timeout: match duration("header-timeout")? {
            d if d.is_zero() => {
                return Err(invalid(
                    "header-timeout",
                    &text("header-timeout"),
                    "must be more than 0",
                ));
            }
            d => d,
        },
        cache: crate::dispatch::CacheHints {
            list_ttl_ms: list_ttl.as_millis() as u64,
            read_ttl_ms: duration("read-ttl")?.as_millis() as u64,
            public: match text("cache-scope").to_ascii_lowercase().as_str() {
                "public" => true,
                "private" => false,
                _ => {
                    return Err(invalid(
                        "cache-scope",
                        &text("cache-scope"),
                        "must be public or private",
                    ));
                }
            },
        },
    })
}

impl Config {
    /// The catalog these flags describe (one instance's; see `Catalog::for_instance`).
    pub fn catalog(&self) -> crate::catalog::Catalog {
        let catalog = crate::catalog::Catalog::new(
            [self.tools, self.resources, self.prompts],
            [self.tool_size, self.resource_size, self.prompt_size],
        )
        .with_realism(self.realism.clone());
        if self.conformance_fixtures {
            catalog.with_fixtures()
        } else {
            catalog
        }
    }
}

/// `-public-url` must be an absolute http(s) URL with a host and no query or fragment.
fn validate_public_url(url: &str) -> Result<(), &'static str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("must start with http:// or https://")?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err("must name a host");
    }
    if url.contains(['?', '#', ' ']) {
        return Err("must not contain a query, fragment or spaces");
    }
    Ok(())
}

/// The usage text, in the Go server's layout.
pub fn usage() -> String {
    let mut s = format!(
        "benchmark-server {} - configurable MCP server for benchmarking\n\nOptions:\n",
        env!("CARGO_PKG_VERSION")
    );
    for f in FLAGS {
        s.push_str(&format!(
            "  -{}\n    {} (default {:?})\n\n",
            f.name, f.usage, f.default
        ));
    }
    s.push_str(
        "Examples:
  benchmark-server -tools=1000 -resources=500 -prompts=200
  benchmark-server -transport=sse -port=8080 -tools=500
  benchmark-server -tools=100 -tool-size=5000 -resource-size=10000 -prompt-size=2000
  benchmark-server -tools=10000 -resources=0 -prompts=0 -tool-size=500
  benchmark-server -transport=sse -server-count=10 -start-port=8080 -tools=100
  benchmark-server -transport=http -server-count=5 -start-port=9000

Environment Variables:
  AUTH_TOKEN - Bearer token for authentication (overrides -auth-token flag)
  SESSION_SECRET - HMAC key for -session-mode=signed (overrides -session-secret flag)
  BENCH_<FLAG> - any flag, e.g. BENCH_TOOLS=1000 or BENCH_TOOL_SIZE=5000 (the command line wins)
",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn run(args: &[&str]) -> Config {
        match parse(args.iter().copied(), no_env) {
            Ok(Command::Run(c)) => *c,
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    fn error(args: &[&str]) -> CliError {
        match parse(args.iter().copied(), no_env) {
            Err(e) => e,
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    #[test]
    fn defaults_match_the_go_server() {
        let c = run(&[]);
        assert_eq!(c.transport, Transport::Stdio);
        assert_eq!((c.tools, c.resources, c.prompts), (100, 100, 100));
        assert_eq!(
            (c.tool_size, c.resource_size, c.prompt_size),
            (1000, 1000, 1000)
        );
        assert_eq!((c.port, c.start_port, c.server_count), (8080, 8080, 1));
        assert_eq!(c.listen, "0.0.0.0");
        assert_eq!((c.addr, c.public_url, c.auth_token), (None, None, None));
        assert_eq!(c.log_level, log::LevelFilter::Info);
        assert_eq!(c.page_size, 0);
    }

    #[test]
    fn connection_caps() {
        let c = run(&[]);
        assert_eq!(c.idle_timeout, Some(Duration::from_secs(60)));
        assert_eq!(c.max_sse_streams, 5000);
        let c = run(&["-idle-timeout=0", "-max-sse-streams=3"]);
        assert_eq!((c.idle_timeout, c.max_sse_streams), (None, 3));
        assert_eq!(
            run(&["-idle-timeout=1500ms"]).idle_timeout,
            Some(Duration::from_millis(1500))
        );
        assert_eq!(error(&["-max-sse-streams=0"]).flag, Some("max-sse-streams"));
        assert_eq!(run(&[]).max_pipelined, 16384);
        assert_eq!(run(&["-max-pipelined=2"]).max_pipelined, 2);
        assert_eq!(error(&["-max-pipelined=0"]).flag, Some("max-pipelined"));
        assert_eq!(error(&["-idle-timeout=soon"]).flag, Some("idle-timeout"));
    }

    #[test]
    fn latency_and_churn_share_no_stdio_pipe() {
        let both = ["-latency=fixed:5ms", "-churn=5s:10"];
        assert_eq!(error(&both).flag, Some("latency"));
        let c = run(&["-transport=http", both[0], both[1]]);
        assert!(c.faults.has_latency() && !c.realism.is_off());
    }

    #[test]
    fn all_four_go_spellings_work() {
        for args in [
            &["-tools=7"][..],
            &["-tools", "7"],
            &["--tools=7"],
            &["--tools", "7"],
        ] {
            assert_eq!(run(args).tools, 7, "{args:?}");
        }
        let c = run(&[
            "-transport",
            "HTTP",
            "-tool-size=5000",
            "--port=9090",
            "-listen",
            "127.0.0.1",
        ]);
        assert_eq!(c.transport, Transport::Http);
        assert_eq!((c.tool_size, c.port), (5000, 9090));
        assert_eq!(c.listen, "127.0.0.1");
    }

    #[test]
    fn help_and_version_short_circuit() {
        for args in [
            &["-h"][..],
            &["-help"],
            &["--help"],
            &["-help=true"],
            &["-help=1"],
            &["-help=TRUE"],
        ] {
            assert_eq!(
                parse(args.iter().copied(), no_env),
                Ok(Command::Help),
                "{args:?}"
            );
        }
        // Values are validated after the whole line is read, so help wins over a bad value.
        assert_eq!(parse(["-tools=abc", "-help"], no_env), Ok(Command::Help));
        assert_eq!(parse(["-version"], no_env), Ok(Command::Version));
        assert!(matches!(
            parse(["-help=false"], no_env),
            Ok(Command::Run(_))
        ));
    }

    #[test]
    fn go_integer_syntax() {
        assert_eq!(run(&["-tools=0x3"]).tools, 3);
        assert_eq!(run(&["-tools=010"]).tools, 8);
        assert_eq!(run(&["-tools=1_0"]).tools, 10);
        assert_eq!(run(&["-tools=0b11"]).tools, 3);
        assert_eq!(run(&["-tools=0"]).tools, 0);
        assert_eq!(run(&["-tools=10000000"]).tools, 10_000_000);
        assert_eq!(run(&["-tool-size=104857600"]).tool_size, 104_857_600);
    }

    #[test]
    fn bad_values_name_the_flag() {
        let e = error(&["-tools=abc"]);
        assert_eq!(
            e.message,
            r#"invalid value "abc" for flag -tools: parse error"#
        );
        let e = error(&["-tools=-5"]);
        assert_eq!(
            e.message,
            r#"invalid value "-5" for flag -tools: must not be negative"#
        );
        let e = error(&["-tools", "-5"]);
        assert!(
            e.message.contains("-tools: must not be negative"),
            "{}",
            e.message
        );
        let e = error(&["-tools=99999999999999999999"]);
        assert!(e.message.ends_with("value out of range"), "{}", e.message);
        assert!(error(&["-tool-size=-1"]).message.contains("-tool-size"));
        assert!(error(&["-transport=bogus"]).message.contains("-transport"));
        assert!(error(&["-log-level=loud"]).message.contains("-log-level"));
        assert!(
            error(&["-port=70000"])
                .message
                .contains("-port: port must be between 0 and 65535")
        );
        assert!(error(&["-port=-1"]).message.contains("-port"));
        assert!(
            error(&["-server-count=0"])
                .message
                .contains("-server-count")
        );
        assert!(
            error(&["-transport=http", "-start-port=65535", "-server-count=2"])
                .message
                .contains("exceed 65535")
        );
    }

    #[test]
    fn syntax_errors_show_usage() {
        let e = error(&["-payload-sizes=1"]);
        assert_eq!(e.message, "flag provided but not defined: -payload-sizes");
        assert!(e.show_usage);
        let e = error(&["-tools"]);
        assert_eq!(e.message, "flag needs an argument: -tools");
        assert!(error(&["---tools=1"]).message.contains("bad flag syntax"));
        assert!(error(&["extra"]).message.contains("unexpected argument"));
        assert!(error(&["-x"]).message.contains("not defined: -x"));
    }

    #[test]
    fn churn_interval_is_the_list_ttl_unless_one_is_given() {
        assert_eq!(run(&[]).cache.list_ttl_ms, 300_000);
        assert_eq!(run(&["-churn=2s:5"]).cache.list_ttl_ms, 2_000);
        assert_eq!(
            run(&["-churn=2s:5", "-list-ttl=1m"]).cache.list_ttl_ms,
            60_000
        );
    }

    #[test]
    fn payload_size_sets_all_three_unless_one_is_explicit() {
        let c = run(&["-payload-size=50"]);
        assert_eq!((c.tool_size, c.resource_size, c.prompt_size), (50, 50, 50));
        let c = run(&["-tool-size=7", "-payload-size=50"]);
        assert_eq!((c.tool_size, c.resource_size, c.prompt_size), (7, 50, 50));
    }

    #[test]
    fn auth_token_from_the_environment_wins() {
        let env = |k: &str| (k == "AUTH_TOKEN").then(|| "secret456".to_string());
        let Ok(Command::Run(c)) = parse(["-auth-token=secret123"], env) else {
            panic!()
        };
        assert_eq!(c.auth_token.as_deref(), Some("secret456"));
        assert!(c.auth_token_from_env);
        let empty = |k: &str| (k == "AUTH_TOKEN").then(String::new);
        let Ok(Command::Run(c)) = parse(["-auth-token=secret123"], empty) else {
            panic!()
        };
        assert_eq!(c.auth_token.as_deref(), Some("secret123"));
    }

    #[test]
    fn bool_flags_take_only_attached_values() {
        // `-help false` is help plus a positional, exactly as in Go; we reject the positional.
        assert_eq!(parse(["-help", "-tools=1"], no_env), Ok(Command::Help));
        assert!(parse(["-help=maybe"], no_env).is_err());
    }

    #[test]
    fn tokens_with_surrounding_whitespace_are_refused() {
        assert!(parse(["-auth-token= padded"], no_env).is_err());
        let env = |k: &str| (k == "AUTH_TOKEN").then(|| "tok\t".to_string());
        assert!(parse(Vec::<String>::new(), env).is_err());
        assert!(parse(["-auth-token=in side"], no_env).is_ok());
    }

    #[test]
    fn http_flags() {
        let c = run(&[]);
        assert_eq!(c.session_mode, SessionMode::Memory);
        assert_eq!(c.response_mode, ResponseMode::Auto);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(10));
        assert_eq!(c.allowed_origins, Some(vec![]));
        let c = run(&[
            "-session-mode=signed",
            "-response-mode=sse",
            "-shutdown-timeout=1500ms",
            "-allowed-origins=https://A.example, http://b.example:8080/",
            "-public-url=http://example.test:9999/",
        ]);
        assert_eq!(c.session_mode, SessionMode::Signed);
        assert_eq!(c.response_mode, ResponseMode::Sse);
        assert_eq!(c.shutdown_timeout, Duration::from_millis(1500));
        assert_eq!(
            c.allowed_origins,
            Some(vec![
                "https://a.example".to_string(),
                "http://b.example:8080".to_string()
            ])
        );
        assert_eq!(c.public_url.as_deref(), Some("http://example.test:9999"));
        assert_eq!(run(&["-allowed-origins=*"]).allowed_origins, None);
        assert!(
            error(&["-session-mode=sticky"])
                .message
                .contains("-session-mode")
        );
        assert!(
            error(&["-public-url=ftp://x"])
                .message
                .contains("-public-url")
        );
        assert!(
            error(&["-public-url=http://x/?q=1"])
                .message
                .contains("-public-url")
        );
        assert!(
            error(&["-shutdown-timeout=soon"])
                .message
                .contains("-shutdown-timeout")
        );
    }

    #[test]
    fn flags_come_from_the_environment_unless_given() {
        let env = |k: &str| match k {
            "BENCH_TOOLS" => Some("42".to_string()),
            "BENCH_TOOL_SIZE" => Some("7".to_string()),
            "BENCH_TRANSPORT" => Some("http".to_string()),
            "BENCH_PAYLOAD_SIZE" => Some("9".to_string()),
            _ => None,
        };
        let Ok(Command::Run(c)) = parse(["-transport=sse"], env) else {
            panic!()
        };
        assert_eq!(c.tools, 42);
        assert_eq!(c.transport, Transport::Sse);
        assert_eq!((c.tool_size, c.resource_size), (7, 9));
        let Ok(Command::Run(c)) = parse(["-tools=1"], env) else {
            panic!()
        };
        assert_eq!(c.tools, 1);
        let bad = |k: &str| (k == "BENCH_TOOLS").then(|| "many".to_string());
        let e = parse(Vec::<String>::new(), bad).unwrap_err();
        assert_eq!(
            e.message,
            r#"invalid value "many" for BENCH_TOOLS (flag -tools): parse error"#
        );
        // -payload-size on the command line beats a per-kind size from the environment.
        let sized = |k: &str| (k == "BENCH_TOOL_SIZE").then(|| "7".to_string());
        let Ok(Command::Run(c)) = parse(["-payload-size=50"], sized) else {
            panic!()
        };
        assert_eq!(c.tool_size, 50);
        let Ok(Command::Run(c)) = parse(Vec::<String>::new(), sized) else {
            panic!()
        };
        assert_eq!(c.tool_size, 7);
        assert_eq!(
            env_name("session-idle-timeout"),
            "BENCH_SESSION_IDLE_TIMEOUT"
        );
    }

    #[test]
    fn healthcheck_takes_an_optional_url() {
        match parse(["-healthcheck", "-port=9000"], no_env) {
            Ok(Command::Healthcheck { url: None, config }) => assert_eq!(config.port, 9000),
            other => panic!("{other:?}"),
        }
        match parse(["--healthcheck=http://127.0.0.1:1/health"], no_env) {
            Ok(Command::Healthcheck { url: Some(u), .. }) => {
                assert_eq!(u, "http://127.0.0.1:1/health")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(["-healthcheck=false"], no_env),
            Ok(Command::Run(_))
        ));
    }

    #[test]
    fn flags_are_listed_alphabetically() {
        let names: Vec<&str> = FLAGS.iter().map(|f| f.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2.5s"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        for bad in ["", "10", "s", "1x", "-1s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn usage_lists_every_flag_with_its_default() {
        let u = usage();
        for f in FLAGS {
            assert!(u.contains(&format!("  -{}\n", f.name)), "{}", f.name);
        }
        assert!(u.contains("(default \"stdio\")"));
        assert!(u.contains("AUTH_TOKEN"));
    }
}
