//! The properties the fuzz targets check, and a replay of the committed seed corpus through
//! them, so every seed runs in `cargo test` on stable without cargo-fuzz.
//!
//! Each `check_*` function is one fuzz target: `fuzz/fuzz_targets/<target>.rs` includes this
//! file and calls it on every input, and the tests at the bottom call it on every file of
//! `fuzz/corpus/<target>/`. A check returns normally when the input is handled as it should
//! be, and panics (with the offending bytes in the message) when it is not.

use std::ffi::OsString;
use std::fmt;
use std::sync::Arc;

use benchmark_server::auth::{self, AuthFailure, Gate};
use benchmark_server::catalog::{self, Catalog, Kind};
use benchmark_server::cli::{self, Command, Config, Transport};
use benchmark_server::dispatch::{
    CacheHints, Continuation, Dispatcher, EraHint, Outcome, Reply, Session,
};
use benchmark_server::faults::{self, FaultKind, Faults, Progress};
use benchmark_server::jsonrpc::Parser;
use benchmark_server::mcp::{ProtocolVersion, error_code, meta};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// The largest reply the dispatch check accepts: the catalogs below are small, so anything
/// bigger means a continuation that does not end.
const MAX_REPLY: usize = 16 << 20;

// ---------------------------------------------------------------------------------------------
// dispatch
// ---------------------------------------------------------------------------------------------

/// The dispatchers the `dispatch` target drives: a small paged catalog, an unpaged
/// multi-server one whose resources are large enough to come back as continuations, and one
/// with the conformance fixtures, paged so that pages straddle the benchmark items and the
/// fixtures.
fn dispatchers() -> [Dispatcher; 3] {
    [
        Dispatcher::new(
            Catalog::new([25, 3, 2], [40, 30, 20]),
            10,
            "benchmark-server",
        ),
        Dispatcher::new(
            Catalog::new([40, 4, 3], [100, 70_000, 0]).for_instance(2),
            0,
            "fuzz \"server\"\n",
        )
        .with_instance_id("replica\t1")
        .with_cache_hints(CacheHints {
            list_ttl_ms: 0,
            read_ttl_ms: 1500,
            public: false,
        }),
        Dispatcher::new(
            Catalog::new([2, 1, 1], [10, 10, 10]).with_fixtures(),
            3,
            "b",
        ),
    ]
}

/// Command lines of the dispatchers built as the server builds them (`cli::parse`, then
/// `Config::catalog` and `Faults`), so that fault injection, catalog realism and churn are
/// fuzzed too; the input's first byte picks one. Sizes stay small so that every reply is.
const CONFIGURED: &[&[&str]] = &[
    // Delays (their progress notifications) and in-band faults on most requests.
    &[
        "-tools=30",
        "-resources=6",
        "-prompts=4",
        "-page-size=7",
        "-tool-size=64",
        "-latency=tools/call@0-9=normal:2ms,1ms;tools/call=fixed:1ms;*=uniform:0s,2ms",
        "-error-rate=tools/call@0-14=0.15:jsonrpc,0.15:iserror,0.15:malformed,0.15:oversized:3000;*=0.15:jsonrpc,0.15:iserror",
        "-cursor-fault=repeat",
        "-seed=3",
    ],
    &[
        "-tools=12",
        "-resources=3",
        "-prompts=2",
        "-page-size=5",
        "-fail-first=2:iserror",
        "-error-rate=prompts/get=0.5:malformed;resources/read=0.5:oversized:200",
        "-cursor-fault=empty",
    ],
    &[
        "-tools=9",
        "-page-size=4",
        "-transport=http",
        "-error-rate=0.1:http500,0.1:http503,0.1:http429,0.1:drop,0.1:hang,0.1:jsonrpc",
        "-latency=exponential:1ms",
        "-cursor-fault=invalid",
        "-seed=11",
    ],
    &[
        "-tools=11",
        "-resources=5",
        "-page-size=3",
        "-cursor-fault=drop-last",
    ],
    // Realism: size ranges, payload_size, mixed content, structured results, heavy definitions.
    &[
        "-tools=20",
        "-resources=8",
        "-prompts=5",
        "-page-size=6",
        "-tool-size=0-5000",
        "-resource-size=1-70000",
        "-prompt-size=0-300",
        "-payload-size-arg",
        "-max-payload-size=100000",
        "-content=mixed",
        "-structured",
        "-tool-description-size=0-400",
        "-tool-params=0-6",
        "-tool-schema-depth=0-3",
        "-tool-enum-size=0-4",
    ],
    &[
        "-tools=6",
        "-resources=4",
        "-prompts=4",
        "-content=image",
        "-structured",
        "-tool-size=0-2000",
    ],
    &[
        "-tools=6",
        "-resources=4",
        "-prompts=4",
        "-content=audio",
        "-payload-size-arg",
        "-max-payload-size=70000",
    ],
    &[
        "-tools=6",
        "-resources=4",
        "-prompts=4",
        "-content=blob",
        "-resource-size=65536-70000",
        "-profile=conformance",
    ],
    // Churn: the window moves while the input runs (20 ms intervals).
    &[
        "-tools=15",
        "-resources=5",
        "-prompts=3",
        "-page-size=4",
        "-churn=20ms:4",
    ],
    // Everything at once (over HTTP, where -latency and -churn go together).
    &[
        "-transport=http",
        "-tools=25",
        "-resources=6",
        "-prompts=3",
        "-page-size=5",
        "-churn=30ms:7",
        "-content=mixed",
        "-structured",
        "-payload-size-arg",
        "-max-payload-size=20000",
        "-tool-params=1-3",
        "-tool-enum-size=2",
        "-latency=fixed:1ms",
        "-error-rate=tools/call=0.2:iserror,0.2:malformed;resources/read=0.3:jsonrpc",
        "-cursor-fault=repeat",
    ],
];

/// The dispatcher of `CONFIGURED[choice % len]`, built as `main` builds it.
fn configured(choice: u8) -> Dispatcher {
    let args = CONFIGURED[usize::from(choice) % CONFIGURED.len()];
    let config = match cli::parse(args.iter().copied(), |_| None) {
        Ok(Command::Run(config)) => config,
        other => panic!("fuzz configuration {args:?} does not parse: {other:?}"),
    };
    Dispatcher::new(config.catalog(), config.page_size, "benchmark-server")
        .with_cache_hints(config.cache)
        .with_faults(
            config
                .faults
                .is_active()
                .then(|| Arc::new(Faults::new(config.faults.clone()))),
        )
}

/// One message through a configured dispatcher the way the transports take it: the fault
/// plan first, then `faults::dispatch` (progress notifications written with the reply, as
/// over HTTP; delays are not waited). A transport fault (status, hang, drop) is answered by
/// the transport and never reaches the dispatcher; a malformed reply is the truncated start
/// of a result.
fn check_configured(
    dispatcher: &Dispatcher,
    session: &mut Session,
    parser: &mut Parser,
    line: &[u8],
    input: &Input,
    out: &mut Vec<u8>,
    budget: usize,
) {
    let batches = session
        .protocol
        .is_some_and(ProtocolVersion::allows_batches);
    let plan = dispatcher
        .faults()
        .and_then(|f| f.plan(dispatcher.catalog(), line));
    if let Some(p) = &plan {
        if p.transport_fault().is_some() {
            return;
        }
        if p.fault == Some(FaultKind::Malformed) {
            out.clear();
            let outcome = faults::dispatch(
                plan.as_ref(),
                line,
                out,
                Progress::None,
                dispatcher,
                EraHint::FromMessage,
                |out| dispatcher.handle(session, parser, line, out),
            );
            if !matches!(outcome.reply, Reply::Complete)
                || !out.starts_with(b"{\"jsonrpc\":\"2.0\",\"id\":")
                || !out.ends_with(b"\"trunc")
            {
                fail(
                    line,
                    out,
                    "an injected malformed reply is not the truncated result",
                );
            }
            return;
        }
    }
    out.clear();
    let outcome = faults::dispatch(
        plan.as_ref(),
        line,
        out,
        Progress::Both,
        dispatcher,
        EraHint::FromMessage,
        |out| dispatcher.handle(session, parser, line, out),
    );
    check_outcome(dispatcher, line, input, outcome, out, batches, budget);
}

/// `dispatch`: every line of the input is one message, handled in turn by each dispatcher
/// (and by the `CONFIGURED` one its first byte picks, through the fault hooks)
/// (one `Parser` and the same `Session`s throughout, so earlier lines set up later ones):
/// no panic; a reply, continuations pumped to the end, is a JSON-RPC response object (an
/// array of them for an accepted batch) or, for `Reply::Subscription`, the
/// `notifications/subscriptions/acknowledged` notification; `Reply::Nothing` only for
/// notifications and client responses.
pub fn check_dispatch(data: &[u8]) {
    let dispatchers = dispatchers();
    let configured = configured(data.first().copied().unwrap_or(0));
    let mut configured_session = Session::default();
    let mut parser = Parser::default();
    let mut sessions: [Session; 4] = Default::default();
    let mut out = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        // Continuations are pumped in pieces of a size that varies with the input.
        let budget = 64 + (line.len() * 7919) % 8192;
        let input = Input::read(line);
        for (d, session, hint) in [
            (0, 0, EraHint::FromMessage),
            (1, 1, EraHint::FromMessage),
            (0, 2, EraHint::Modern),
            (2, 3, EraHint::FromMessage),
        ] {
            let dispatcher = &dispatchers[d];
            let session = &mut sessions[session];
            let batches = session
                .protocol
                .is_some_and(ProtocolVersion::allows_batches);
            out.clear();
            let outcome = if hint == EraHint::FromMessage {
                dispatcher.handle(session, &mut parser, line, &mut out)
            } else {
                dispatcher.handle_with(session, &mut parser, line, &mut out, hint)
            };
            check_outcome(dispatcher, line, &input, outcome, &mut out, batches, budget);
        }
        check_configured(
            &configured,
            &mut configured_session,
            &mut parser,
            line,
            &input,
            &mut out,
            budget,
        );
    }
}

/// Fails with the message in full and what was wrong with its reply.
#[track_caller]
fn fail(raw: &[u8], reply: &[u8], why: impl fmt::Display) -> ! {
    panic!(
        "{why}\n  message: {:?}\n  reply:   {:?}",
        String::from_utf8_lossy(raw),
        String::from_utf8_lossy(&reply[..reply.len().min(4096)])
    )
}

fn check_outcome(
    dispatcher: &Dispatcher,
    raw: &[u8],
    input: &Input,
    outcome: Outcome,
    out: &mut Vec<u8>,
    batches: bool,
    budget: usize,
) {
    let error_code = outcome.error_code;
    let messages = outcome.messages;
    match outcome.reply {
        Reply::Nothing => {
            if !out.is_empty() {
                fail(raw, out, "Reply::Nothing, yet a reply was written");
            }
            if let Err(why) = input.needs_no_reply(batches) {
                fail(
                    raw,
                    out,
                    format!("Reply::Nothing for a message that needs one: {why}"),
                );
            }
            return;
        }
        Reply::Complete => {}
        Reply::Partial(rest) => pump(dispatcher.catalog(), rest, out, budget, raw),
        Reply::Subscription => {
            if messages != 1 {
                fail(
                    raw,
                    out,
                    format!("{messages} messages with an acknowledgement"),
                );
            }
            let reply = parse_reply(raw, out);
            if let Err(why) = check_ack(&reply, input) {
                fail(raw, out, format!("bad subscription acknowledgement: {why}"));
            }
            return;
        }
    }
    // Notifications about a request (logging, progress) come first, one per line.
    let Some(response_start) = split_notifications(out, messages) else {
        fail(
            raw,
            out,
            format!("Outcome::messages is {messages}, the reply has fewer lines"),
        );
    };
    for note in out[..response_start]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
    {
        if let Err(why) = check_notification(&parse_reply(raw, note)) {
            fail(
                raw,
                out,
                format!("a notification before the response: {why}"),
            );
        }
    }
    let reply = parse_reply(raw, &out[response_start..]);
    let checked = match &reply {
        Value::Array(items) => check_batch_reply(items, input, batches, error_code),
        single => check_single_reply(single, input, error_code),
    };
    if let Err(why) = checked {
        fail(raw, out, why);
    }
}

/// Writes the rest of a continuation in pieces of `budget` bytes; each piece must add bytes.
fn pump(catalog: &Catalog, mut rest: Continuation, out: &mut Vec<u8>, budget: usize, raw: &[u8]) {
    loop {
        let before = out.len();
        let done = rest.write_more(catalog, out, budget);
        if done {
            return;
        }
        if out.len() == before {
            fail(raw, out, "a continuation wrote nothing and is not done");
        }
        if out.len() > MAX_REPLY {
            fail(raw, out, "a continuation does not end");
        }
    }
}

/// Where the response starts after the `messages - 1` newline-terminated notifications
/// before it; `None` if there are fewer lines.
fn split_notifications(out: &[u8], messages: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..messages {
        start += out[start..].iter().position(|&b| b == b'\n')? + 1;
    }
    Some(start)
}

/// A notification the server sends about a request: `jsonrpc`, a string `method`, no `id`.
fn check_notification(v: &Value) -> Result<(), String> {
    let obj = v.as_object().ok_or("not an object")?;
    if obj.get("jsonrpc") != Some(&Value::from("2.0")) {
        return Err("no \"jsonrpc\":\"2.0\"".into());
    }
    if obj.contains_key("id") {
        return Err("a notification has no id".into());
    }
    match obj.get("method").and_then(Value::as_str) {
        Some(m) if m.starts_with("notifications/") => Ok(()),
        _ => Err("no notifications/ method".into()),
    }
}

fn parse_reply(raw: &[u8], out: &[u8]) -> Value {
    if std::str::from_utf8(out).is_err() {
        fail(raw, out, "the reply is not UTF-8");
    }
    serde_json::from_slice(out)
        .unwrap_or_else(|e| fail(raw, out, format!("reply is not JSON: {e}")))
}

/// What an independent parser (serde_json) makes of a message.
struct Input {
    /// The message, if serde_json accepts it.
    value: Option<Value>,
    /// The top-level object has no key twice (parsers disagree on which one counts).
    unique_keys: bool,
    /// The first byte after leading whitespace is `[`.
    array_like: bool,
}

impl Input {
    fn read(raw: &[u8]) -> Self {
        let value = serde_json::from_slice::<Value>(raw).ok();
        let unique_keys = match object_keys(raw) {
            Some(mut keys) => {
                let n = keys.len();
                keys.sort();
                keys.dedup();
                keys.len() == n
            }
            None => true,
        };
        let array_like = raw
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .is_some_and(|&b| b == b'[');
        Self {
            value,
            unique_keys,
            array_like,
        }
    }

    /// The request id, when the message is an object with a string or integer id that both
    /// parsers must read the same way.
    fn id(&self) -> Option<&Value> {
        let id = self.value.as_ref()?.get("id")?;
        (self.unique_keys && (id.is_string() || id.is_i64() || id.is_u64())).then_some(id)
    }

    /// `Ok` when no reply is due: a notification or client response, or an accepted batch of
    /// only those.
    fn needs_no_reply(&self, batches: bool) -> Result<(), String> {
        match &self.value {
            Some(Value::Array(items)) => {
                if !batches {
                    return Err("a batch outside 2025-03-26 must be refused".into());
                }
                if items.is_empty() {
                    return Err("an empty batch must be refused".into());
                }
                items.iter().try_for_each(|m| no_reply_due(m, false))
            }
            Some(m) => no_reply_due(m, self.unique_keys),
            None => Err("serde_json rejects it".into()),
        }
    }
}

/// `Ok` when `m` is a notification (a method, no id) or a response (no method, a result or
/// an error), with `"jsonrpc": "2.0"` (checked only when `strict`: no duplicate keys).
fn no_reply_due(m: &Value, strict: bool) -> Result<(), String> {
    let obj = m.as_object().ok_or("not an object")?;
    if strict && obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err("jsonrpc is not \"2.0\"".into());
    }
    let shape_ok = if obj.contains_key("method") {
        !obj.contains_key("id")
    } else {
        obj.contains_key("result") || obj.contains_key("error")
    };
    if shape_ok {
        Ok(())
    } else {
        Err(format!("neither a notification nor a response: {m}"))
    }
}

/// The keys of a JSON object in document order, duplicates included; `None` if `raw` is not
/// an object serde_json accepts.
fn object_keys(raw: &[u8]) -> Option<Vec<String>> {
    struct Keys(Vec<String>);
    struct KeysVisitor;
    impl<'de> Visitor<'de> for KeysVisitor {
        type Value = Keys;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
            let mut keys = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                keys.push(key);
            }
            Ok(Keys(keys))
        }
    }
    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(KeysVisitor)
        }
    }
    serde_json::from_slice::<Keys>(raw).ok().map(|k| k.0)
}

/// A JSON-RPC 2.0 response object: `jsonrpc`, an `id` (string, integer or null) and exactly
/// one of an object `result` or an `error` with an integer `code` and a string `message`.
fn check_response(v: &Value) -> Result<(), String> {
    let obj = v.as_object().ok_or("the response is not an object")?;
    if obj.get("jsonrpc") != Some(&Value::from("2.0")) {
        return Err("the response lacks \"jsonrpc\":\"2.0\"".into());
    }
    match obj.get("id") {
        Some(id) if id.is_string() || id.is_i64() || id.is_u64() || id.is_null() => {}
        Some(id) => {
            return Err(format!(
                "the response id {id} is not a string, integer or null"
            ));
        }
        None => return Err("the response has no id".into()),
    }
    if let Some(key) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "jsonrpc" | "id" | "result" | "error"))
    {
        return Err(format!("the response has an extra member {key:?}"));
    }
    match (obj.get("result"), obj.get("error")) {
        (Some(result), None) if result.is_object() => Ok(()),
        (Some(_), None) => Err("the result is not an object".into()),
        (None, Some(error)) => {
            let code = error.get("code").and_then(Value::as_i64);
            if code.is_none_or(|c| i32::try_from(c).is_err()) {
                return Err("the error code is not a 32-bit integer".into());
            }
            if !error.get("message").is_some_and(Value::is_string) {
                return Err("the error message is not a string".into());
            }
            Ok(())
        }
        _ => Err("the response needs exactly one of result and error".into()),
    }
}

fn error_code_of(v: &Value) -> Option<i64> {
    v.get("error")?.get("code")?.as_i64()
}

fn check_single_reply(reply: &Value, input: &Input, error_code: Option<i32>) -> Result<(), String> {
    check_response(reply)?;
    let code = error_code_of(reply);
    if code != error_code.map(i64::from) {
        return Err(format!(
            "Outcome::error_code {error_code:?} but the reply's code is {code:?}"
        ));
    }
    if input.array_like {
        // A batch answered by one response: refused, or not JSON at all.
        if !matches!(
            code.and_then(|c| i32::try_from(c).ok()),
            Some(error_code::INVALID_REQUEST | error_code::PARSE_ERROR)
        ) || !reply["id"].is_null()
        {
            return Err("a batch answered by one response that is not an error".into());
        }
        return Ok(());
    }
    if code != Some(i64::from(error_code::PARSE_ERROR))
        && let Some(id) = input.id()
        && reply.get("id") != Some(id)
    {
        return Err(format!("the reply's id is not the request's {id}"));
    }
    Ok(())
}

fn check_batch_reply(
    items: &[Value],
    input: &Input,
    batches: bool,
    error_code: Option<i32>,
) -> Result<(), String> {
    if !input.array_like {
        return Err("an array reply to a single message".into());
    }
    if !batches {
        return Err("a batch answered outside 2025-03-26".into());
    }
    if items.is_empty() {
        return Err("an empty batch reply".into());
    }
    if error_code.is_some() {
        return Err("Outcome::error_code set for a batch reply".into());
    }
    if let Some(Value::Array(requests)) = &input.value
        && items.len() > requests.len()
    {
        return Err(format!(
            "{} replies to a batch of {}",
            items.len(),
            requests.len()
        ));
    }
    for item in items {
        check_response(item).map_err(|why| format!("in the batch reply: {why}"))?;
    }
    Ok(())
}

/// The acknowledgement that opens a `subscriptions/listen` stream: a notification naming
/// the request in `_meta`.
fn check_ack(reply: &Value, input: &Input) -> Result<(), String> {
    let obj = reply.as_object().ok_or("not an object")?;
    if obj.get("jsonrpc") != Some(&Value::from("2.0")) {
        return Err("no \"jsonrpc\":\"2.0\"".into());
    }
    if obj.contains_key("id") {
        return Err("a notification has no id".into());
    }
    if obj.get("method").and_then(Value::as_str) != Some("notifications/subscriptions/acknowledged")
    {
        return Err("not notifications/subscriptions/acknowledged".into());
    }
    let sub = reply
        .pointer("/params/_meta")
        .and_then(|m| m.get(meta::SUBSCRIPTION_ID))
        .ok_or("no subscription id in params._meta")?;
    if let Some(id) = input.id()
        && sub != id
    {
        return Err(format!("subscription id {sub} is not the request id {id}"));
    }
    if input.unique_keys
        && let Some(method) = input.value.as_ref().and_then(|v| v.get("method"))
        && method != "subscriptions/listen"
    {
        return Err(format!("acknowledged a {method} request"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// cursor
// ---------------------------------------------------------------------------------------------

/// `cursor`: the input (as a string) through `decode_cursor` for every kind of a few
/// catalogs: no panic; an offset is in `1..=count` (counting the fixtures, when listed); the
/// cursor written for the item before it decodes to the same offset; a cursor belongs to one
/// kind at most.
pub fn check_cursor(data: &[u8]) {
    let cursor = String::from_utf8_lossy(data);
    let catalogs = [
        Catalog::new([25, 3, 2], [1, 1, 1]),
        Catalog::new([0, 0, 0], [0, 0, 0]),
        Catalog::new([1, 10, 100], [0, 0, 0]).for_instance(7),
        Catalog::new([cli::MAX_COUNT, u64::MAX, u64::MAX - 1], [0, 0, 0]),
        Catalog::new([25, 3, 2], [1, 1, 1]).with_fixtures(),
        Catalog::new([0, 0, 0], [0, 0, 0]).with_fixtures(),
        Catalog::new([1, 10, 100], [0, 0, 0])
            .for_instance(7)
            .with_fixtures(),
    ];
    for c in &catalogs {
        let mut kinds = 0;
        for kind in [Kind::Tool, Kind::Resource, Kind::Prompt] {
            let Some(offset) = c.decode_cursor(kind, &cursor) else {
                continue;
            };
            kinds += 1;
            assert!(
                (1..=c.listed(kind)).contains(&offset),
                "cursor {cursor:?} gives offset {offset} for {kind:?} of {}",
                c.listed(kind)
            );
            let mut again = Vec::new();
            c.write_cursor(&mut again, kind, offset - 1);
            let again = std::str::from_utf8(&again).expect("cursors are ASCII");
            assert_eq!(
                c.decode_cursor(kind, again),
                Some(offset),
                "cursor {cursor:?} → {offset} → {again:?} does not round-trip"
            );
        }
        assert!(kinds <= 1, "cursor {cursor:?} is valid for {kinds} kinds");
    }
    if let Some(bytes) = catalog::base64_decode(data) {
        let pad = data.iter().rev().take_while(|&&b| b == b'=').count();
        assert_eq!(
            bytes.len(),
            data.len() / 4 * 3 - pad,
            "base64 {:?} decodes to the wrong length",
            String::from_utf8_lossy(data)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// cli
// ---------------------------------------------------------------------------------------------

/// `cli`: the first line of the input is the argument vector (words split on single spaces,
/// any bytes), the other lines are the environment (`NAME=VALUE`, the first one wins): no
/// panic, the same answer twice, and a configuration only within the documented limits.
pub fn check_cli(data: &[u8]) {
    let (line, env_text) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let args: Vec<OsString> = if line.is_empty() {
        Vec::new()
    } else {
        line.split(|&b| b == b' ').map(os_string).collect()
    };
    let env: Vec<(String, String)> = env_text
        .split(|&b| b == b'\n')
        .filter_map(|l| {
            let eq = l.iter().position(|&b| b == b'=')?;
            Some((
                String::from_utf8_lossy(&l[..eq]).into_owned(),
                String::from_utf8_lossy(&l[eq + 1..]).into_owned(),
            ))
        })
        .collect();
    let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let first = cli::parse(args.clone(), lookup);
    let second = cli::parse(args.clone(), lookup);
    assert_eq!(first, second, "parse is not deterministic for {args:?}");
    match first {
        Ok(Command::Run(config)) | Ok(Command::Healthcheck { config, .. }) => {
            check_config(&config, &args)
        }
        Ok(Command::Help | Command::Version) => {}
        Err(e) => assert!(!e.message.is_empty(), "empty error for {args:?}"),
    }
}

#[cfg(unix)]
fn os_string(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(bytes.to_vec())
}

#[cfg(not(unix))]
fn os_string(bytes: &[u8]) -> OsString {
    OsString::from(String::from_utf8_lossy(bytes).into_owned())
}

fn check_config(c: &Config, args: &[OsString]) {
    let counts = [
        c.tools,
        c.resources,
        c.prompts,
        c.tool_size,
        c.resource_size,
        c.prompt_size,
        c.page_size,
    ];
    assert!(
        counts.iter().all(|&n| n <= cli::MAX_COUNT),
        "a count above the maximum for {args:?}: {c:?}"
    );
    assert!(
        (1..=1000).contains(&c.server_count),
        "server count {} for {args:?}",
        c.server_count
    );
    assert!(c.start_port >= 1, "start port 0 for {args:?}");
    if c.transport != Transport::Stdio {
        assert!(
            u32::from(c.start_port) + u32::from(c.server_count) - 1 <= 65_535,
            "ports beyond 65535 for {args:?}"
        );
    }
    assert!(
        c.max_request_bytes >= 1024,
        "max-request-bytes for {args:?}"
    );
    assert!(c.max_sessions >= 1, "max-sessions for {args:?}");
    assert!(!c.sse_keepalive.is_zero(), "sse-keepalive for {args:?}");
    assert!(
        !c.session_idle_timeout.is_zero(),
        "session-idle-timeout for {args:?}"
    );
    for s in [&c.auth_token, &c.session_secret, &c.addr, &c.instance_id] {
        assert!(
            s.as_ref().is_none_or(|s| !s.is_empty()),
            "an empty string kept for {args:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// gate
// ---------------------------------------------------------------------------------------------

/// The only paths served without the token.
const PROBE_PATHS: [&str; 3] = ["/health", "/version", "/ready"];

/// Served without the token only under `-metrics-public`.
const METRICS_PATH: &str = "/metrics";

/// Whether `path` is served without the token.
fn is_probe(path: &str, metrics_public: bool) -> bool {
    PROBE_PATHS.contains(&path) || (metrics_public && path == METRICS_PATH)
}

/// The token the URI half of the `gate` target configures when the input names none.
const DEFAULT_TOKEN: &[u8] = b"fuzz-token";

/// `gate`: the input is `path \n authorization \n token` (a missing line is a missing
/// header or token), tried with and without the header and the token, and with and without
/// `-metrics-public`: `Probe` exactly for the three probe paths, plus `/metrics` under
/// `-metrics-public`; without a token everything else is `Authorized`; with one,
/// `Authorized` only for `Bearer` (any case), spaces and exactly the token, after trailing
/// spaces and tabs. Then the whole input and its first line as request targets
/// (`hyper::Uri`): their path, with a token and no header, is never `Authorized`, and is a
/// `Probe` only when it is exactly a probe path.
pub fn check_gate(data: &[u8]) {
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let header = lines.next();
    let token = lines.next();
    let path = String::from_utf8_lossy(first);
    for metrics_public in [false, true] {
        for h in [header, None] {
            for t in [token, None] {
                check_gate_once(&path, h, t, metrics_public);
            }
        }
        for target in [data, first] {
            let Ok(uri) = hyper::Uri::try_from(target) else {
                continue;
            };
            let path = uri.path();
            let token = token.unwrap_or(DEFAULT_TOKEN);
            let gate = auth::gate(path, None, Some(token), metrics_public);
            assert_ne!(
                gate,
                Gate::Authorized,
                "target {uri} (path {path:?}) authorized without a header"
            );
            assert_eq!(
                gate == Gate::Probe,
                is_probe(path, metrics_public),
                "target {uri} (path {path:?}, metrics public: {metrics_public}) gives {gate:?}"
            );
            check_gate_once(path, header, Some(token), metrics_public);
        }
    }
}

fn check_gate_once(path: &str, header: Option<&[u8]>, token: Option<&[u8]>, metrics_public: bool) {
    let gate = auth::gate(path, header, token, metrics_public);
    let show = || {
        format!(
            "path {path:?}, header {:?}, token {:?}, metrics public: {metrics_public} gives {gate:?}",
            header.map(String::from_utf8_lossy),
            token.map(String::from_utf8_lossy)
        )
    };
    let probe = is_probe(path, metrics_public);
    assert_eq!(
        auth::is_exempt_path(path, metrics_public),
        probe,
        "{}",
        show()
    );
    if probe {
        assert_eq!(gate, Gate::Probe, "{}", show());
        return;
    }
    let Some(token) = token else {
        assert_eq!(gate, Gate::Authorized, "{}", show());
        return;
    };
    let presents = header.is_some_and(|h| presents_token(h, token));
    match gate {
        Gate::Probe => panic!("{}", show()),
        Gate::Authorized => assert!(presents, "{}", show()),
        Gate::Refused(failure) => {
            // With a token that starts with a space, which spaces belong to the separator is
            // ambiguous; any other token that is presented must be accepted.
            assert!(!presents || token.first() == Some(&b' '), "{}", show());
            assert_eq!(
                failure == AuthFailure::MissingHeader,
                header.is_none(),
                "{}",
                show()
            );
        }
    }
}

/// Whether `header`, without trailing spaces and tabs, is `bearer` in any case, one or more
/// spaces, then exactly `token`.
fn presents_token(header: &[u8], token: &[u8]) -> bool {
    let end = header
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    let header = &header[..end];
    if header.len() < 6 || !header[..6].eq_ignore_ascii_case(b"bearer") {
        return false;
    }
    let rest = &header[6..];
    let spaces = rest.iter().take_while(|&&b| b == b' ').count();
    (1..=spaces).any(|k| &rest[k..] == token)
}

// ---------------------------------------------------------------------------------------------
// The corpus replay
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod replay {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::path::{Path, PathBuf};

    /// The files of `fuzz/corpus/<target>/`, sorted; fails if there are none.
    fn corpus(target: &str) -> Vec<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus directory {} is missing: {e}", dir.display()));
        let mut files: Vec<PathBuf> = entries
            .map(|e| e.expect("readable corpus directory").path())
            .filter(|p| p.is_file())
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect();
        files.sort();
        assert!(
            !files.is_empty(),
            "corpus directory {} is empty",
            dir.display()
        );
        files
    }

    /// Runs `check` on every file of the target's corpus, then fails naming every file whose
    /// check panicked.
    fn replay(target: &str, check: fn(&[u8])) {
        let files = corpus(target);
        let failed: Vec<String> = files
            .iter()
            .filter(|path| {
                let data = std::fs::read(path).expect("readable corpus file");
                catch_unwind(AssertUnwindSafe(|| check(&data))).is_err()
            })
            .map(|path| path.display().to_string())
            .collect();
        assert!(
            failed.is_empty(),
            "{} of {} {target} seeds fail:\n{}",
            failed.len(),
            files.len(),
            failed.join("\n")
        );
    }

    #[test]
    fn dispatch_corpus() {
        replay("dispatch", super::check_dispatch);
    }

    #[test]
    fn cursor_corpus() {
        replay("cursor", super::check_cursor);
    }

    #[test]
    fn cli_corpus() {
        replay("cli", super::check_cli);
    }

    #[test]
    fn gate_corpus() {
        replay("gate", super::check_gate);
    }

    #[test]
    fn the_checks_catch_what_they_should() {
        use super::*;
        check_dispatch(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#);
        assert!(presents_token(b"Bearer t \t", b"t"));
        assert!(presents_token(b"bEaReR   t", b"t"));
        assert!(!presents_token(b"Bearer\tt", b"t"));
        assert!(!presents_token(b"Bearert", b"t"));
        assert!(!presents_token(b"Bearer tt", b"t"));
        assert!(!presents_token(b"Bearer ", b""));
        assert!(object_keys(br#"{"a":1,"a":2}"#).is_some_and(|k| k.len() == 2));
        assert!(check_response(&serde_json::json!({"jsonrpc":"2.0","id":1})).is_err());
        assert!(check_response(&serde_json::json!({"jsonrpc":"2.0","id":1,"result":{}})).is_ok());
    }
}
