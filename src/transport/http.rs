//! Streamable HTTP (protocol 2025-03-26 … 2025-11-25) at `/` and `/mcp`.
//!
//! `POST` carries one JSON-RPC message (a batch only under 2025-03-26): requests are answered
//! with `application/json` or, for clients that accept only `text/event-stream` (or with
//! `-response-mode=sse`), as a one-event SSE stream; notifications and client responses get
//! `202`. `GET` opens the session's server-to-client SSE stream, `DELETE` ends the session.
//! Large replies are streamed as body chunks straight from the dispatcher. A `tools/call`
//! delayed by `-latency` that asked for progress gets an SSE reply that reports it as it
//! happens ([`progress_stream`]). With
//! `-profile=conformance`, a fixture that asks the client for input replies with an SSE stream
//! carrying its requests ([`crate::roundtrip`]); the client's answers are POSTs on the session.

use std::time::Instant;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use tokio::sync::mpsc;

use super::{
    EventStream, HttpResponse, Instance, ResponseBody, StreamingReply, accepts, empty_response,
    json_response, method_not_allowed, read_body, sse_headers, text_response, with_parser,
};
use crate::catalog::base64_decode;
use crate::cli::{ResponseMode, SessionMode, Transport};
use std::sync::Arc;

use crate::dispatch::{Dispatcher, EraHint, Reply, Session};
use crate::faults::Plan;
use crate::json::{member_span, write_string};
use crate::mcp::{MODERN_VERSION, Method as McpMethod, ProtocolVersion, error_code, meta};
use crate::metrics;
use crate::session::Found;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
const METHOD_HEADER: &str = "mcp-method";
const NAME_HEADER: &str = "mcp-name";
const ALLOW: &str = "GET, POST, DELETE, OPTIONS";
const SSE_EVENT_START: &[u8] = b"event: message\ndata: ";
const SSE_EVENT_END: &[u8] = b"\n\n";
/// Initial capacity of a reply buffer: a `tools/call` with the default 1,000-byte payload fits
/// without growing it.
const REPLY_CAPACITY: usize = 4096;

/// Routes a request that passed authentication and the Host/Origin checks.
pub async fn route(inst: &Instance, path: &str, req: Request<Incoming>) -> HttpResponse {
    if path != "/" && path != "/mcp" {
        return text_response(
            StatusCode::NOT_FOUND,
            "Not found: the MCP endpoint is / or /mcp\n",
        );
    }
    // 2026-07-28 has no GET stream and no sessions to DELETE.
    let modern = req
        .headers()
        .get(VERSION_HEADER)
        .is_some_and(|v| v.as_bytes().trim_ascii() == MODERN_VERSION.as_bytes());
    if modern && *req.method() != Method::POST {
        return method_not_allowed("POST, OPTIONS");
    }
    match *req.method() {
        Method::POST => post(inst, req).await,
        Method::GET => get(inst, &req),
        Method::DELETE => delete(inst, &req),
        _ => method_not_allowed(ALLOW),
    }
}

fn session_id(req: &Request<Incoming>) -> Option<&str> {
    req.headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
}

/// The `MCP-Protocol-Version` header: `Ok(None)` when absent, `Err` when unsupported.
// The error is the response itself, built once on a cold path: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn protocol_header(req: &Request<Incoming>) -> Result<Option<ProtocolVersion>, HttpResponse> {
    let Some(v) = req.headers().get(VERSION_HEADER) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .and_then(ProtocolVersion::parse)
        .map(Some)
        .ok_or_else(unsupported_version_header)
}

/// Whether the body is a single `initialize` request (cheap scan; the dispatcher validates).
fn is_initialize(body: &[u8]) -> bool {
    member_span(body, 0, "method").is_some_and(|(s, e)| &body[s..e] == b"\"initialize\"")
}

fn missing_session() -> HttpResponse {
    text_response(
        StatusCode::BAD_REQUEST,
        "Bad Request: Mcp-Session-Id header is required (send initialize first)\n",
    )
}

fn unknown_session() -> HttpResponse {
    text_response(
        StatusCode::NOT_FOUND,
        "Session not found: initialize a new session\n",
    )
}

async fn post(inst: &Instance, req: Request<Incoming>) -> HttpResponse {
    let accept = accepts(req.headers());
    if !accept.json && !accept.sse {
        return text_response(
            StatusCode::NOT_ACCEPTABLE,
            "Not Acceptable: Accept must allow application/json or text/event-stream\n",
        );
    }
    let dispatcher = inst.dispatcher.load();
    let headers = RequestHeaders::of(&req, dispatcher.catalog().has_fixtures());
    let body = match read_body(req, inst.shared.max_request_bytes).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let sse = match inst.config.response_mode {
        ResponseMode::Json => false,
        ResponseMode::Sse => true,
        ResponseMode::Auto => !accept.json,
    };
    // A 2026-07-28 request says so in its header or its `_meta`; everything else is the
    // handshake era.
    let plan = dispatcher
        .faults()
        .and_then(|f| f.plan(dispatcher.catalog(), &body));
    // A delayed call that reports progress, to a client that reads SSE: its reply streams the
    // progress as it happens. (A transport fault must be a status, so it still waits first;
    // the fixtures' round trips have streams of their own.)
    let streamed = plan.as_ref().filter(|p| {
        accept.sse
            && p.reports_progress()
            && p.transport_fault().is_none()
            && !dispatcher.catalog().has_fixtures()
    });
    if streamed.is_none()
        && let Some(p) = &plan
        && let Some(r) = crate::faults::http_prelude(
            p,
            &body,
            &inst.shared,
            &dispatcher,
            match headers.version.as_deref() {
                Some(MODERN_VERSION) => EraHint::Modern,
                _ => EraHint::FromMessage,
            },
        )
        .await
    {
        return r;
    }
    let call = Call {
        dispatcher: &dispatcher,
        plan: plan.as_ref(),
        sse,
    };
    let body_version = modern_body_version(&body);
    let mut target = if headers.version.as_deref() == Some(MODERN_VERSION) || body_version.is_some()
    {
        match admit_modern(&headers, body_version.as_deref(), &body, call) {
            Ok(()) => Target::Modern,
            Err(r) => return r,
        }
    } else {
        match admit_legacy(inst, &headers, &body) {
            Ok(t) => Target::Legacy(t),
            Err(r) => return r,
        }
    };
    if let Some(p) = streamed {
        match progress_stream(inst, call, p, &body, target) {
            Ok(r) => return r,
            Err(t) => {
                // No stream may open now: answered as any delayed call, after the delay.
                tokio::time::sleep(p.delay).await;
                target = t;
            }
        }
    }
    match target {
        Target::Modern => modern_post(inst, &body, call),
        Target::Legacy(t) => legacy_post(inst, t, &body, call),
    }
}

/// Which era's rules a POST that passed its checks is served by.
enum Target {
    Modern,
    Legacy(LegacyTarget),
}

/// A handshake-era POST that passed its checks: the session it uses and how.
struct LegacyTarget {
    /// The `MCP-Protocol-Version` header, if any.
    protocol: Option<ProtocolVersion>,
    initialize: bool,
    /// The session whose state the request uses (`None`: a fresh one, e.g. for initialize).
    found: Option<Found>,
}

impl LegacyTarget {
    /// The state of a request served without a stored session.
    fn fresh_session(&self) -> Session {
        Session {
            protocol: self.protocol.or(Some(ProtocolVersion::DEFAULT_ASSUMED)),
            ..Session::default()
        }
    }
}

/// The reply to a delayed `tools/call` that asked for progress, for a client that reads SSE:
/// a stream that starts at once with the "Waiting" progress and carries, after the delay, the
/// "Done" progress and the result, then ends. `Err` gives `target` back when no stream may
/// open (`-max-sse-streams`).
fn progress_stream(
    inst: &Instance,
    call: Call,
    plan: &Plan,
    body: &Bytes,
    target: Target,
) -> Result<HttpResponse, Target> {
    let Ok(slot) = inst.shared.sse_streams.acquire() else {
        return Err(target);
    };
    let (tx, rx) = mpsc::channel::<Bytes>(2);
    let mut waiting = Vec::with_capacity(256);
    plan.write_progress(body, &mut waiting, false);
    let _ = tx.try_send(Bytes::from(super::sse_events(&waiting)));
    let dispatcher = call.dispatcher.clone();
    let plan = plan.clone();
    let body = body.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(plan.delay) => {}
            // The client is gone (under 2026-07-28 closing the stream cancels the request).
            () = tx.closed() => return,
        }
        let mut out = Vec::with_capacity(REPLY_CAPACITY);
        let started = Instant::now();
        let progress = crate::faults::Progress::Done;
        let mut fresh;
        let state = match &target {
            Target::Modern => StateOf::Modern,
            Target::Legacy(t) => {
                fresh = t.fresh_session();
                StateOf::Legacy(t, &mut fresh)
            }
        };
        let outcome = dispatch_post(&dispatcher, Some(&plan), &body, state, &mut out, progress);
        metrics::record(Transport::Http, &outcome, started);
        // With a notification ahead of it the reply is already whole; finish it regardless.
        if let Reply::Partial(rest) = outcome.reply {
            rest.finish(dispatcher.catalog(), &mut out);
        }
        // The stream ends when this sender is dropped, after the last event.
        let _ = tx.send(Bytes::from(super::sse_events(&out))).await;
    });
    let stream = EventStream::new(&inst.shared, slot, rx, None);
    let mut response = HttpResponse::new(ResponseBody::Events(Box::new(stream)));
    sse_headers(&mut response);
    Ok(response)
}

/// The dispatcher snapshot a POST is served with, its fault plan and its reply framing.
#[derive(Clone, Copy)]
struct Call<'a> {
    dispatcher: &'a Arc<Dispatcher>,
    plan: Option<&'a Plan>,
    sse: bool,
}

/// The headers a POST is judged by, copied out before the body is read.
struct RequestHeaders {
    version: Option<String>,
    session: Option<String>,
    method: Option<String>,
    name: Option<String>,
    /// `Mcp-Param-*` headers (lower-cased names), gathered only for the fixture profile.
    params: Vec<(String, String)>,
}

impl RequestHeaders {
    fn of(req: &Request<Incoming>, fixtures: bool) -> Self {
        // Header values are compared without surrounding whitespace (RFC 9110 §5.5).
        let text = |v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).trim().to_string();
        let mut found = Self {
            version: None,
            session: None,
            method: None,
            name: None,
            params: Vec::new(),
        };
        // One pass over the headers rather than a hashed lookup per name: most requests
        // carry none of these.
        for (name, value) in req.headers() {
            let slot = match name.as_str() {
                VERSION_HEADER => &mut found.version,
                SESSION_HEADER => &mut found.session,
                METHOD_HEADER => &mut found.method,
                NAME_HEADER => &mut found.name,
                n if fixtures && n.starts_with("mcp-param-") => {
                    found.params.push((n.to_string(), text(value)));
                    continue;
                }
                _ => continue,
            };
            // The first of repeated headers counts, as with `HeaderMap::get`.
            if slot.is_none() {
                *slot = Some(text(value));
            }
        }
        found
    }
}

/// The checks of a handshake-era POST: its version header and its session.
// The error is the response itself, built once on a cold path: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn admit_legacy(
    inst: &Instance,
    headers: &RequestHeaders,
    body: &[u8],
) -> Result<LegacyTarget, HttpResponse> {
    let header_version = match headers.version.as_deref() {
        None => None,
        Some(v) => match ProtocolVersion::parse(v) {
            Some(v) => Some(v),
            None => return Err(unsupported_version_header()),
        },
    };
    let initialize = is_initialize(body);
    let found = match (inst.sessions.mode(), initialize, &headers.session) {
        (SessionMode::Stateless, _, _) | (_, true, _) => None,
        (_, false, None) => return Err(missing_session()),
        (_, false, Some(id)) => match inst.sessions.get(id) {
            Some(f) => Some(f),
            None => return Err(unknown_session()),
        },
    };
    Ok(LegacyTarget {
        protocol: header_version,
        initialize,
        found,
    })
}

/// The session state a POST is dispatched in.
enum StateOf<'a> {
    /// 2026-07-28: stateless, no session.
    Modern,
    /// Handshake era: the state of the target's session, or `fresh` when it has none.
    Legacy(&'a LegacyTarget, &'a mut Session),
}

/// Dispatches a POST's body under `plan`, in `state`.
fn dispatch_post(
    dispatcher: &Dispatcher,
    plan: Option<&Plan>,
    body: &[u8],
    state: StateOf<'_>,
    out: &mut Vec<u8>,
    progress: crate::faults::Progress,
) -> crate::dispatch::Outcome {
    let hint = match state {
        StateOf::Modern => EraHint::Modern,
        StateOf::Legacy(..) => EraHint::FromMessage,
    };
    with_parser(|parser| {
        crate::faults::dispatch(
            plan,
            body,
            out,
            progress,
            dispatcher,
            hint,
            |out| match state {
                StateOf::Modern => {
                    let mut none = Session::default();
                    dispatcher.handle_with(&mut none, parser, body, out, EraHint::Modern)
                }
                StateOf::Legacy(target, fresh) => match &target.found {
                    Some(Found::Stored(entry)) => {
                        dispatcher.handle(&mut entry.state(), parser, body, out)
                    }
                    Some(Found::Signed(state)) => {
                        dispatcher.handle(&mut state.clone(), parser, body, out)
                    }
                    None => dispatcher.handle(fresh, parser, body, out),
                },
            },
        )
    })
}

fn legacy_post(inst: &Instance, target: LegacyTarget, body: &Bytes, call: Call) -> HttpResponse {
    let sse = call.sse;
    // A fixture that sends requests to the client runs on its own SSE reply.
    if call.dispatcher.catalog().has_fixtures()
        && let Some(Found::Stored(entry)) = &target.found
        && let Some(planned) = crate::roundtrip::plan(call.dispatcher, &mut entry.state(), body)
    {
        return roundtrip_reply(inst, planned, sse);
    }
    let mut out = Vec::with_capacity(REPLY_CAPACITY);
    if sse {
        out.extend_from_slice(SSE_EVENT_START);
    }
    let mut fresh = target.fresh_session();
    let started = Instant::now();
    let outcome = dispatch_post(
        call.dispatcher,
        call.plan,
        body,
        StateOf::Legacy(&target, &mut fresh),
        &mut out,
        crate::faults::Progress::Both,
    );
    metrics::record(Transport::Http, &outcome, started);
    let new_session = (target.initialize
        && inst.sessions.mode() != SessionMode::Stateless
        && outcome.method == Some(McpMethod::Initialize)
        && outcome.error_code.is_none())
    .then(|| inst.sessions.create(fresh));
    let mut response = reply_response(inst, call, outcome, out);
    if let Some(id) = new_session
        && let Ok(v) = HeaderValue::from_str(&id)
    {
        response.headers_mut().insert(SESSION_HEADER, v);
    }
    response
}

/// The reply to a call that sends requests to the client: an SSE stream carrying them, then
/// the result, written by the call as the client answers. The stream closing cancels it.
fn roundtrip_reply(inst: &Instance, planned: crate::roundtrip::Planned, sse: bool) -> HttpResponse {
    let call = match planned {
        crate::roundtrip::Planned::Run(call) => call,
        crate::roundtrip::Planned::Refused(error) if sse => {
            let mut response = HttpResponse::new(ResponseBody::full(super::sse_events(&error)));
            sse_headers(&mut response);
            return response;
        }
        crate::roundtrip::Planned::Refused(error) => return json_response(StatusCode::OK, error),
    };
    // A stream like any other: it counts towards -max-sse-streams (dropping the call frees
    // its place among the session's waiting requests).
    let slot = match inst.shared.sse_streams.acquire() {
        Ok(slot) => slot,
        Err(refused) => return refused,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    tokio::spawn(call.run(tx));
    let mut response = HttpResponse::new(ResponseBody::Events(Box::new(EventStream::new(
        &inst.shared,
        slot,
        rx,
        None,
    ))));
    sse_headers(&mut response);
    response
}

/// The checks of a 2026-07-28 POST: the mirrored headers must agree with the body.
#[allow(clippy::result_large_err)]
fn admit_modern(
    headers: &RequestHeaders,
    body_version: Option<&str>,
    body: &[u8],
    call: Call,
) -> Result<(), HttpResponse> {
    let started = Instant::now();
    let checked = check_mirrored_headers(headers, body_version, body).and_then(|()| {
        match call.dispatcher.catalog().has_fixtures() {
            true => check_param_headers(headers, body),
            false => Ok(()),
        }
    });
    if let Err(message) = checked {
        log::debug!("header mismatch: {message}");
        let method = string_member(body, &["method"]).map(|m| McpMethod::parse(&m));
        metrics::record_message(
            Transport::Http,
            method,
            Some(error_code::HEADER_MISMATCH),
            true,
            started.elapsed(),
        );
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        out.extend_from_slice(raw_id(body).unwrap_or(b"null"));
        out.extend_from_slice(b",\"error\":{\"code\":-32020,\"message\":");
        write_string(&mut out, &message);
        out.extend_from_slice(b"}}");
        return Err(json_response(StatusCode::BAD_REQUEST, out));
    }
    Ok(())
}

/// A 2026-07-28 POST that passed its checks: no sessions.
fn modern_post(inst: &Instance, body: &Bytes, call: Call) -> HttpResponse {
    let mut out = Vec::with_capacity(REPLY_CAPACITY);
    if call.sse {
        out.extend_from_slice(SSE_EVENT_START);
    }
    let started = Instant::now();
    let outcome = dispatch_post(
        call.dispatcher,
        call.plan,
        body,
        StateOf::Modern,
        &mut out,
        crate::faults::Progress::Both,
    );
    metrics::record(Transport::Http, &outcome, started);
    reply_response(inst, call, outcome, out)
}

/// `Ok` when `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` agree with the body;
/// otherwise the mismatch, for a `-32020` error.
fn check_mirrored_headers(
    headers: &RequestHeaders,
    body_version: Option<&str>,
    body: &[u8],
) -> Result<(), String> {
    let Some(version) = headers.version.as_deref() else {
        return Err("Header mismatch: missing MCP-Protocol-Version header".to_string());
    };
    if let Some(body_version) = body_version
        && body_version != version
    {
        return Err(format!(
            "Header mismatch: MCP-Protocol-Version header '{version}' does not match _meta protocolVersion '{body_version}'"
        ));
    }
    // Only requests mirror their method and name (the revision defines no header rules for
    // notifications); anything that is not a request is left to the dispatcher.
    let Some(method) = string_member(body, &["method"]).filter(|_| raw_id(body).is_some()) else {
        return Ok(());
    };
    match headers.method.as_deref() {
        None => return Err("Header mismatch: missing Mcp-Method header".to_string()),
        Some(h) if h != method => {
            return Err(format!(
                "Header mismatch: Mcp-Method header value '{h}' does not match body value '{method}'"
            ));
        }
        Some(_) => {}
    }
    let name_field = match method.as_str() {
        "tools/call" | "prompts/get" => "name",
        "resources/read" => "uri",
        _ => return Ok(()),
    };
    let Some(body_name) = string_member(body, &["params", name_field]) else {
        return Ok(()); // missing parameter: the dispatcher's -32602
    };
    let Some(header) = headers.name.as_deref() else {
        return Err("Header mismatch: missing Mcp-Name header".to_string());
    };
    let decoded = decode_header_value(header).ok_or_else(|| {
        format!("Header mismatch: Mcp-Name header value '{header}' is not valid base64")
    })?;
    if decoded != body_name {
        return Err(format!(
            "Header mismatch: Mcp-Name header value '{decoded}' does not match body value '{body_name}'"
        ));
    }
    Ok(())
}

/// `Ok` when every `x-mcp-header` argument of a fixture tool call is mirrored in its
/// `Mcp-Param-<name>` header with the same value.
fn check_param_headers(headers: &RequestHeaders, body: &[u8]) -> Result<(), String> {
    if string_member(body, &["method"]).as_deref() != Some("tools/call") {
        return Ok(());
    }
    let Some(tool) = string_member(body, &["params", "name"]) else {
        return Ok(());
    };
    for (arg, suffix) in crate::fixtures::header_params(&tool) {
        let Some(value) = string_member(body, &["params", "arguments", arg]) else {
            continue;
        };
        let name = format!("mcp-param-{}", suffix.to_ascii_lowercase());
        let Some(header) = headers
            .params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
        else {
            return Err(format!(
                "Header mismatch: missing Mcp-Param-{suffix} header for argument '{arg}'"
            ));
        };
        let decoded = decode_header_value(header).ok_or_else(|| {
            format!(
                "Header mismatch: Mcp-Param-{suffix} header value '{header}' is not valid base64"
            )
        })?;
        if decoded != value {
            return Err(format!(
                "Header mismatch: Mcp-Param-{suffix} header value '{decoded}' does not match argument '{arg}' value '{value}'"
            ));
        }
    }
    Ok(())
}

/// Decodes the `=?base64?…?=` sentinel form of a mirrored header value; plain values are
/// literal.
fn decode_header_value(v: &str) -> Option<String> {
    match v
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        None => Some(v.to_string()),
        Some(encoded) => String::from_utf8(base64_decode(encoded.as_bytes())?).ok(),
    }
}

/// The string at `path` in the JSON object `body` (scanned, not parsed).
fn string_member(body: &[u8], path: &[&str]) -> Option<String> {
    let mut at = 0;
    let mut span = None;
    for key in path {
        let (s, e) = member_span(body, at, key)?;
        at = s;
        span = Some((s, e));
    }
    let (s, e) = span?;
    serde_json::from_slice::<String>(&body[s..e]).ok()
}

/// `params._meta["io.modelcontextprotocol/protocolVersion"]`, when the body has one.
fn modern_body_version(body: &[u8]) -> Option<String> {
    // Most bodies have no `_meta` at all: a byte search says so for far less than walking the
    // members (a key spelt with escapes has a backslash, so it is still walked).
    if !body.contains(&b'\\') && !has_meta_key(body) {
        return None;
    }
    string_member(body, &["params", "_meta", meta::PROTOCOL_VERSION])
}

/// Whether `"_meta"` occurs anywhere in `body`.
fn has_meta_key(body: &[u8]) -> bool {
    const NEEDLE: &[u8] = b"\"_meta\"";
    let mut rest = body;
    while let Some(i) = rest.iter().position(|&c| c == b'_') {
        if i >= 1 && rest[i - 1..].starts_with(NEEDLE) {
            return true;
        }
        rest = &rest[i + 1..];
    }
    false
}

/// The raw `id` of a request body, if it is a string or a number.
fn raw_id(body: &[u8]) -> Option<&[u8]> {
    let (s, e) = member_span(body, 0, "id")?;
    let id = &body[s..e];
    matches!(id.first(), Some(b'"' | b'-' | b'0'..=b'9')).then_some(id)
}

fn unsupported_version_header() -> HttpResponse {
    text_response(
        StatusCode::BAD_REQUEST,
        "Bad Request: unsupported MCP-Protocol-Version (supported: 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28)\n",
    )
}

/// Turns a dispatcher outcome into the HTTP response: status, framing and body.
fn reply_response(
    inst: &Instance,
    call: Call,
    outcome: crate::dispatch::Outcome,
    mut out: Vec<u8>,
) -> HttpResponse {
    let sse = call.sse;
    let prefix_len = if sse { SSE_EVENT_START.len() } else { 0 };
    if outcome.messages > 1 && matches!(outcome.reply, Reply::Complete) {
        // Notifications about the request come first: only an SSE stream can carry them.
        let mut response =
            HttpResponse::new(ResponseBody::full(super::sse_events(&out[prefix_len..])));
        sse_headers(&mut response);
        return response;
    }
    let rest = match outcome.reply {
        Reply::Nothing => return empty_response(StatusCode::ACCEPTED),
        Reply::Complete => None,
        Reply::Partial(rest) => Some(rest),
        Reply::Subscription => {
            // The acknowledgement opens a stream that stays until the client closes it.
            let slot = match inst.shared.sse_streams.acquire() {
                Ok(slot) => slot,
                Err(refused) => return refused,
            };
            let mut event = SSE_EVENT_START.to_vec();
            event.extend_from_slice(&out[prefix_len..]);
            event.extend_from_slice(SSE_EVENT_END);
            let interest = crate::churn::Interest::from_ack(
                &out[prefix_len..],
                inst.dispatcher.load().catalog(),
            );
            let feed = crate::churn::Feed::new(&inst.dispatcher.load(), interest, None);
            let mut response = HttpResponse::new(ResponseBody::Events(Box::new(
                EventStream::idle_after(&inst.shared, slot, Bytes::from(event)).with_churn(feed),
            )));
            sse_headers(&mut response);
            return response;
        }
    };
    let status = match outcome.error_code {
        // Not JSON-RPC at all, or refused before dispatch: an HTTP error too.
        Some(error_code::PARSE_ERROR | error_code::INVALID_REQUEST) if outcome.method.is_none() => {
            return json_response(StatusCode::BAD_REQUEST, out.split_off(prefix_len));
        }
        _ if outcome.rejected => {
            return json_response(StatusCode::BAD_REQUEST, out.split_off(prefix_len));
        }
        Some(error_code::METHOD_NOT_FOUND) if outcome.modern => {
            return json_response(StatusCode::NOT_FOUND, out.split_off(prefix_len));
        }
        _ => StatusCode::OK,
    };
    let mut response = match rest {
        None => {
            if sse {
                out.extend_from_slice(SSE_EVENT_END);
            }
            HttpResponse::new(ResponseBody::full(out))
        }
        Some(rest) => HttpResponse::new(ResponseBody::Streaming(Box::new(StreamingReply::new(
            call.dispatcher.clone(),
            out,
            rest,
            if sse { SSE_EVENT_END } else { b"" },
        )))),
    };
    *response.status_mut() = status;
    if sse {
        sse_headers(&mut response);
    } else {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    response
}

fn get(inst: &Instance, req: &Request<Incoming>) -> HttpResponse {
    if inst.sessions.mode() == SessionMode::Stateless {
        return method_not_allowed("POST, OPTIONS");
    }
    if !accepts(req.headers()).sse {
        return text_response(
            StatusCode::NOT_ACCEPTABLE,
            "Not Acceptable: a GET stream needs Accept: text/event-stream\n",
        );
    }
    if let Err(r) = protocol_header(req) {
        return r;
    }
    let Some(id) = session_id(req) else {
        return missing_session();
    };
    let Some(found) = inst.sessions.get(id) else {
        return unknown_session();
    };
    let slot = match inst.shared.sse_streams.acquire() {
        Ok(slot) => slot,
        Err(refused) => return refused,
    };
    let stream = match found {
        Found::Stored(entry) => {
            let (tx, rx) = mpsc::channel::<Bytes>(16);
            if !entry.add_stream(tx) {
                return text_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many open streams for this session\n",
                );
            }
            // Weak: the stream must not keep its session (and so its own sender) alive.
            let session = std::sync::Arc::downgrade(&entry);
            let subscriptions: crate::churn::Subscriptions = Box::new(move || {
                let entry = session.upgrade();
                entry
                    .map(|e| e.state().subscriptions.clone())
                    .unwrap_or_default()
            });
            let interest = crate::churn::Interest::all_lists();
            let feed =
                crate::churn::Feed::new(&inst.dispatcher.load(), interest, Some(subscriptions));
            EventStream::new(&inst.shared, slot, rx, None).with_churn(feed)
        }
        // A signed session has no server-side state to attach to: keep-alives until shutdown.
        Found::Signed(_) => {
            let interest = crate::churn::Interest::all_lists();
            EventStream::idle(&inst.shared, slot).with_churn(crate::churn::Feed::new(
                &inst.dispatcher.load(),
                interest,
                None,
            ))
        }
    };
    let mut response = HttpResponse::new(ResponseBody::Events(Box::new(stream)));
    sse_headers(&mut response);
    response
}

fn delete(inst: &Instance, req: &Request<Incoming>) -> HttpResponse {
    if inst.sessions.mode() == SessionMode::Stateless {
        return method_not_allowed("POST, OPTIONS");
    }
    let Some(id) = session_id(req) else {
        return missing_session();
    };
    if inst.sessions.remove(id) {
        log::debug!("session ended by DELETE");
        empty_response(StatusCode::OK)
    } else {
        unknown_session()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_modern_version_only_in_params_meta() {
        let v = |b: &[u8]| modern_body_version(b);
        let key = meta::PROTOCOL_VERSION;
        let with_meta = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"_meta":{{"{key}":"2026-07-28"}}}}}}"#
        );
        assert_eq!(v(with_meta.as_bytes()).as_deref(), Some("2026-07-28"));
        // The key spelt with an escape is still found.
        let escaped = with_meta.replacen("\"_meta\"", r#""\u005fmeta""#, 1);
        assert_eq!(v(escaped.as_bytes()).as_deref(), Some("2026-07-28"));
        assert_eq!(
            v(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
            None
        );
        // `_meta` elsewhere (a string value, another object) is not the version.
        assert_eq!(
            v(br#"{"id":1,"method":"tools/call","params":{"name":"_meta","arguments":{"_meta":{}}}}"#),
            None
        );
        assert!(has_meta_key(br#"{"_meta":1}"#));
        assert!(!has_meta_key(b"_meta"));
        assert!(!has_meta_key(br#"{"x_meta":1}"#));
    }

    #[test]
    fn recognises_initialize_without_a_full_parse() {
        assert!(is_initialize(
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#
        ));
        assert!(is_initialize(br#" { "method" : "initialize" , "id":1}"#));
        assert!(!is_initialize(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#
        ));
        assert!(!is_initialize(br#"[{"method":"initialize"}]"#));
        assert!(!is_initialize(b"{bad"));
    }
}
