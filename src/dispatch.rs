//! The MCP dispatcher shared by every transport: one message in, its response written out.
//!
//! `Dispatcher::handle` takes the raw bytes of one JSON-RPC message (or a 2025-03-26 batch),
//! matches on the method and writes the response straight into the caller's buffer. Large
//! responses (long listings, big payloads) are written up to a budget and handed back as a
//! [`Continuation`] the transport pumps as it sends, so a 40 MB `tools/list` never exists
//! whole in memory. Per-connection protocol state lives in a [`Session`] owned by the
//! transport.

use simd_json::prelude::*;
use simd_json::tape::Value;

use std::sync::Arc;

use crate::catalog::{Catalog, Kind};
use crate::faults::{Faults, NextCursor};
use crate::fixtures;
use crate::json::{Indexed, array_element_spans, write_escaped, write_string, write_u64};
use crate::jsonrpc::{
    Message, ParseError, Parser, RequestId, classify, write_error, write_result_start,
};
use crate::mcp::{
    LogLevel, MODERN_VERSION, MODERN_VERSIONS, Method, ProtocolVersion, error_code, meta,
};
use crate::payload::{FillerStream, write_payload_start, write_timestamp_now};
use crate::roundtrip::{self, Target};

/// How much of a large response is written before control goes back to the transport: over
/// HTTP, the memory one streaming reply holds (32 KiB × 100 replies in flight at once is
/// 3.2 MiB); stdio gathers two of them per write.
pub const CHUNK_BYTES: usize = 32 * 1024;

/// The server's name and version as reported in `serverInfo`.
pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Static configuration of the MCP layer of one server instance.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    catalog: Catalog,
    /// Items per list page; 0 = everything in one page.
    page_size: u64,
    server_name: String,
    /// Reported as `serverInfo.instanceId`, so a load test can tell replicas apart.
    instance_id: Option<String>,
    /// 2026-07-28 caching hints: `ttlMs` of list results and of `resources/read`, and whether
    /// shared caches may keep them (`cacheScope: public`).
    cache: CacheHints,
    /// Latency and fault injection; `None` (the default) costs nothing.
    faults: Option<Arc<Faults>>,
}

/// The `ttlMs` / `cacheScope` hints put on cacheable 2026-07-28 results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheHints {
    pub list_ttl_ms: u64,
    pub read_ttl_ms: u64,
    pub public: bool,
}

impl Default for CacheHints {
    fn default() -> Self {
        // The catalog never changes, so lists stay fresh; reads carry a timestamp.
        Self {
            list_ttl_ms: 300_000,
            read_ttl_ms: 0,
            public: true,
        }
    }
}

/// What the transport knows about a message's protocol era.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EraHint {
    /// Decide from the message itself (stdio, legacy HTTP).
    #[default]
    FromMessage,
    /// The transport already established a 2026-07-28 request (HTTP version header).
    Modern,
}

/// Which cached-result hint a result carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cacheable {
    No,
    List,
    Read,
}

/// Protocol state of one client connection (stdio process, HTTP session, SSE stream).
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// Set by `initialize`.
    pub protocol: Option<ProtocolVersion>,
    /// Set by `logging/setLevel`.
    pub log_level: Option<LogLevel>,
    /// Set by `notifications/initialized`.
    pub initialized: bool,
    /// The client's capabilities, from `initialize` (sampling, elicitation, roots).
    pub client: crate::roundtrip::ClientCaps,
    /// Server-to-client requests waiting for the client (fixture round trips only).
    pub roundtrips: Option<std::sync::Arc<crate::roundtrip::Pending>>,
    /// Indices of subscribed resources, kept only when the catalog churns (`-churn`).
    pub subscriptions: Vec<u64>,
}

/// What `handle` did with a message.
#[derive(Debug)]
pub struct Outcome {
    pub reply: Reply,
    /// The method of a single request or notification (`None` for batches and bad input).
    pub method: Option<Method>,
    /// The JSON-RPC error code, when the reply is a single error.
    pub error_code: Option<i32>,
    /// The request was served under the 2026-07-28 (stateless) rules.
    pub modern: bool,
    /// The error rejects the request itself (bad `_meta`, unsupported version): HTTP 400.
    pub rejected: bool,
    /// Messages written, newline-separated: notifications about the request come before its
    /// response (1 when there are none).
    pub messages: usize,
}

impl Outcome {
    fn new(reply: Reply, method: Option<Method>, error_code: Option<i32>) -> Self {
        Self {
            reply,
            method,
            error_code,
            modern: false,
            rejected: false,
            messages: 1,
        }
    }
}

/// The state of the response after `handle` returns.
#[derive(Debug)]
pub enum Reply {
    /// No response is due (notification, client response, all-notification batch).
    Nothing,
    /// The whole response has been written.
    Complete,
    /// Part of the response has been written; the rest follows from the continuation.
    Partial(Continuation),
    /// A `subscriptions/listen` acknowledgement (a notification) has been written; the
    /// request stays open until the client ends it, and has no response of its own.
    Subscription,
}

/// The unwritten rest of a large response.
#[derive(Debug)]
pub enum Continuation {
    List(ListRest),
    Payload {
        filler: FillerStream,
        tail: Vec<u8>,
    },
    /// The rest of a response shaped by the realism knobs.
    Segments(crate::realism::Segments),
}

/// The unwritten rest of a list page: items `next..end`, then the closing part.
#[derive(Debug)]
pub struct ListRest {
    kind: Kind,
    next: u64,
    end: u64,
    /// Write a `nextCursor` (normally continuing after item `end - 1`).
    more: bool,
    cursor: NextCursor,
    /// An item has been written (the next one needs a comma).
    started: bool,
}

impl Continuation {
    /// Appends roughly `budget` more bytes; returns `true` once the response is complete.
    pub fn write_more(&mut self, catalog: &Catalog, out: &mut Vec<u8>, budget: usize) -> bool {
        let limit = out.len() + budget;
        match self {
            Continuation::List(rest) => {
                let mut items = rest.next..rest.end;
                catalog.write_definitions(out, rest.kind, &mut items, limit, &mut rest.started);
                rest.next = items.start;
                if rest.next < rest.end {
                    return false;
                }
                out.push(b']');
                if rest.more {
                    out.extend_from_slice(b",\"nextCursor\":\"");
                    match rest.cursor {
                        NextCursor::After(last) => catalog.write_cursor(out, rest.kind, last),
                        NextCursor::Empty => {}
                        NextCursor::Invalid => out.extend_from_slice(crate::faults::INVALID_CURSOR),
                    }
                    out.push(b'"');
                }
                out.extend_from_slice(b"}}");
                true
            }
            Continuation::Payload { filler, tail } => {
                filler.write(out, (limit.saturating_sub(out.len())) as u64);
                if !filler.is_done() {
                    return false;
                }
                out.extend_from_slice(tail);
                true
            }
            Continuation::Segments(rest) => rest.write_more(out, budget),
        }
    }

    /// Writes everything that is left.
    pub fn finish(mut self, catalog: &Catalog, out: &mut Vec<u8>) {
        while !self.write_more(catalog, out, CHUNK_BYTES) {}
    }
}

/// A JSON-RPC error about to be written.
struct RpcError {
    code: i32,
    message: String,
    data: Option<Vec<u8>>,
    rejected: bool,
}

impl RpcError {
    fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
            rejected: false,
        }
    }
    fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(error_code::INVALID_PARAMS, message)
    }
}

type Handled = Result<Reply, RpcError>;

impl Dispatcher {
    pub fn new(catalog: Catalog, page_size: u64, server_name: impl Into<String>) -> Self {
        Self {
            catalog,
            page_size,
            server_name: server_name.into(),
            instance_id: None,
            cache: CacheHints::default(),
            faults: None,
        }
    }

    /// Injects the faults of `faults` (`None` = none).
    pub fn with_faults(mut self, faults: Option<Arc<Faults>>) -> Self {
        self.faults = faults;
        self
    }

    pub fn faults(&self) -> Option<&Arc<Faults>> {
        self.faults.as_ref()
    }

    /// For a runtime change of the counts (see `admin`).
    pub fn catalog_mut(&mut self) -> &mut Catalog {
        &mut self.catalog
    }

    pub fn with_cache_hints(mut self, cache: CacheHints) -> Self {
        self.cache = cache;
        self
    }

    pub fn with_instance_id(mut self, id: impl Into<String>) -> Self {
        self.instance_id = Some(id.into());
        self
    }

    pub fn instance_id(&self) -> Option<&str> {
        self.instance_id.as_deref()
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// Handles one message (or batch) from `raw`, writing its response (without any framing)
    /// into `out`.
    pub fn handle(
        &self,
        session: &mut Session,
        parser: &mut Parser,
        raw: &[u8],
        out: &mut Vec<u8>,
    ) -> Outcome {
        self.handle_with(session, parser, raw, out, EraHint::FromMessage)
    }

    /// [`Dispatcher::handle`] with what the transport knows of the message's era.
    pub fn handle_with(
        &self,
        session: &mut Session,
        parser: &mut Parser,
        raw: &[u8],
        out: &mut Vec<u8>,
        hint: EraHint,
    ) -> Outcome {
        enum Shape {
            Single(Outcome),
            Batch,
        }
        let shape = parser.parse_indexed(raw, |parsed| match parsed {
            Err(e) => Shape::Single(self.parse_error(out, e)),
            Ok((v, _)) if v.is_array() => Shape::Batch,
            Ok((v, doc)) => Shape::Single(self.handle_value(session, doc, v, out, hint, true)),
        });
        match shape {
            Shape::Single(outcome) => outcome,
            Shape::Batch => self.handle_batch(session, parser, raw, out),
        }
    }

    fn parse_error(&self, out: &mut Vec<u8>, e: ParseError) -> Outcome {
        log::debug!("{}", e.message());
        write_error(out, None, error_code::PARSE_ERROR, e.message(), None);
        Outcome::new(Reply::Complete, None, Some(error_code::PARSE_ERROR))
    }

    fn handle_batch(
        &self,
        session: &mut Session,
        parser: &mut Parser,
        raw: &[u8],
        out: &mut Vec<u8>,
    ) -> Outcome {
        let single_error = |out: &mut Vec<u8>, message: &str| {
            write_error(out, None, error_code::INVALID_REQUEST, message, None);
            Outcome::new(Reply::Complete, None, Some(error_code::INVALID_REQUEST))
        };
        if !session
            .protocol
            .is_some_and(ProtocolVersion::allows_batches)
        {
            return single_error(
                out,
                "JSON-RPC batches are only accepted under protocol version 2025-03-26",
            );
        }
        let spans = array_element_spans(raw, 0).unwrap_or_default();
        if spans.is_empty() {
            return single_error(out, "empty batch");
        }
        let start = out.len();
        out.push(b'[');
        let mut any = false;
        for (s, e) in spans {
            let mark = out.len();
            if any {
                out.push(b',');
            }
            let element = &raw[s..e];
            let outcome = parser.parse_indexed(element, |parsed| match parsed {
                Err(err) => self.parse_error(out, err),
                Ok((v, doc)) => {
                    // initialize opens a session and subscriptions/listen a stream: neither fits
                    // inside one batch reply.
                    if let Message::Request {
                        id,
                        method: method @ ("initialize" | "subscriptions/listen"),
                        ..
                    } = classify(v)
                    {
                        write_error(
                            out,
                            Some(&id),
                            error_code::INVALID_REQUEST,
                            &format!("{method} must not be part of a batch"),
                            None,
                        );
                        return Outcome::new(
                            Reply::Complete,
                            Some(Method::parse(method)),
                            Some(error_code::INVALID_REQUEST),
                        );
                    }
                    // No notifications inside a batch: the reply must stay one array.
                    self.handle_value(session, doc, v, out, EraHint::FromMessage, false)
                }
            });
            match outcome.reply {
                Reply::Nothing => out.truncate(mark),
                Reply::Complete | Reply::Subscription => any = true,
                Reply::Partial(rest) => {
                    rest.finish(&self.catalog, out);
                    any = true;
                }
            }
        }
        if !any {
            out.truncate(start);
            return Outcome::new(Reply::Nothing, None, None);
        }
        out.push(b']');
        Outcome::new(Reply::Complete, None, None)
    }

    fn handle_value(
        &self,
        session: &mut Session,
        raw: Indexed<'_>,
        v: Value<'_, '_>,
        out: &mut Vec<u8>,
        hint: EraHint,
        notify: bool,
    ) -> Outcome {
        match classify(v) {
            Message::Invalid { id, reason } => {
                log::debug!("invalid request: {reason}");
                write_error(out, id.as_ref(), error_code::INVALID_REQUEST, reason, None);
                Outcome::new(Reply::Complete, None, Some(error_code::INVALID_REQUEST))
            }
            Message::Response => {
                // The answer to a server-to-client request goes to the call waiting for it.
                if let Some(pending) = &session.roundtrips
                    && !pending.deliver(raw.bytes())
                {
                    log::debug!("response to no waiting server request; ignored");
                }
                Outcome::new(Reply::Nothing, None, None)
            }
            Message::Notification { method } => {
                let m = Method::parse(method);
                log::debug!("notification {method}");
                if m == Method::NotificationInitialized {
                    session.initialized = true;
                }
                Outcome::new(Reply::Nothing, Some(m), None)
            }
            Message::Request { id, method, params } => {
                let m = Method::parse(method);
                log::debug!("request {method}");
                let modern = hint == EraHint::Modern
                    || params
                        .and_then(|p| p.get("_meta"))
                        .and_then(|m| m.get(meta::PROTOCOL_VERSION))
                        .is_some()
                    || matches!(m, Method::ServerDiscover | Method::SubscriptionsListen);
                // Fixture tools that report logs or progress write those notifications first.
                let mut notifications = 0;
                if notify && m == Method::ToolsCall && self.catalog.has_fixtures() {
                    let level = if modern {
                        params
                            .and_then(|p| p.get("_meta"))
                            .and_then(|m| m.get(meta::LOG_LEVEL))
                            .and_then(|l| l.into_string())
                            .and_then(LogLevel::parse)
                    } else {
                        session.log_level
                    };
                    notifications = fixtures::write_call_notifications(out, params, level);
                }
                let preamble = out.len();
                let handled = if modern {
                    check_modern_meta(params)
                        .and_then(|()| self.handle_modern(raw, &id, m, method, params, out))
                } else {
                    self.handle_request(session, raw, &id, m, method, params, out)
                };
                let mut outcome = match handled {
                    Ok(reply) => Outcome::new(reply, Some(m), None),
                    Err(err) => {
                        out.truncate(preamble);
                        log::debug!("{method} failed: {} {}", err.code, err.message);
                        write_error(out, Some(&id), err.code, &err.message, err.data.as_deref());
                        let mut o = Outcome::new(Reply::Complete, Some(m), Some(err.code));
                        o.rejected = err.rejected;
                        o
                    }
                };
                outcome.modern = modern;
                outcome.messages += notifications;
                outcome
            }
        }
    }

    /// A 2026-07-28 request: stateless, no handshake methods, extra result fields.
    fn handle_modern(
        &self,
        raw: Indexed<'_>,
        id: &RequestId<'_>,
        method: Method,
        name: &str,
        params: Option<Value<'_, '_>>,
        out: &mut Vec<u8>,
    ) -> Handled {
        match method {
            Method::ServerDiscover => {
                self.discover(id, out);
                Ok(Reply::Complete)
            }
            Method::SubscriptionsListen => {
                listen_ack(&self.catalog, id, params, out);
                Ok(Reply::Subscription)
            }
            m if m.is_catalog() => self.serve_catalog(true, raw, id, m, params, out),
            Method::Initialize
            | Method::Ping
            | Method::LoggingSetLevel
            | Method::ResourcesSubscribe
            | Method::ResourcesUnsubscribe => Err(RpcError::new(
                error_code::METHOD_NOT_FOUND,
                format!("Method not found: {name} does not exist in protocol {MODERN_VERSION}"),
            )),
            _ => Err(RpcError::new(
                error_code::METHOD_NOT_FOUND,
                format!("Method not found: {name}"),
            )),
        }
    }

    /// The catalog methods, the same in both eras but for the result fields `modern` adds.
    fn serve_catalog(
        &self,
        modern: bool,
        raw: Indexed<'_>,
        id: &RequestId<'_>,
        method: Method,
        params: Option<Value<'_, '_>>,
        out: &mut Vec<u8>,
    ) -> Handled {
        match method {
            Method::ToolsList => self.list(modern, Kind::Tool, id, params, out),
            Method::ResourcesList => self.list(modern, Kind::Resource, id, params, out),
            Method::PromptsList => self.list(modern, Kind::Prompt, id, params, out),
            Method::ResourcesTemplatesList => {
                self.templates_list(modern, id, out);
                Ok(Reply::Complete)
            }
            Method::ToolsCall => self.call_tool(modern, raw, id, params, out),
            Method::ResourcesRead => self.read_resource(modern, id, params, out),
            Method::PromptsGet => self.get_prompt(modern, raw, id, params, out),
            Method::CompletionComplete => self.complete(modern, id, params, out),
            _ => Err(RpcError::new(
                error_code::INTERNAL_ERROR,
                "not a catalog method",
            )),
        }
    }

    /// `server/discover`: the versions and capabilities of the stateless era.
    fn discover(&self, id: &RequestId<'_>, out: &mut Vec<u8>) {
        self.open_result(out, id, true, Cacheable::List);
        out.extend_from_slice(b"\"supportedVersions\":[");
        for (i, v) in MODERN_VERSIONS.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(out, v);
        }
        out.extend_from_slice(if self.catalog.churn().is_some() {
            b"],\"capabilities\":{\"completions\":{},\"prompts\":{\"listChanged\":true},\
\"resources\":{\"subscribe\":true,\"listChanged\":true},\"tools\":{\"listChanged\":true}}}}"
        } else {
            b"],\"capabilities\":{\"completions\":{},\"prompts\":{},\"resources\":{},\"tools\":{}}}}"
        });
    }

    /// Writes `{"jsonrpc":"2.0","id":…,"result":{` and, for 2026-07-28 results, the fields
    /// every result carries (`resultType`, `_meta` serverInfo) and the caching hints; the
    /// caller writes the remaining fields and the closing braces.
    fn open_result(&self, out: &mut Vec<u8>, id: &RequestId<'_>, modern: bool, cache: Cacheable) {
        self.open_typed_result(out, id, modern, cache, "complete");
    }

    /// [`Dispatcher::open_result`] with another `resultType` (`input_required`).
    fn open_typed_result(
        &self,
        out: &mut Vec<u8>,
        id: &RequestId<'_>,
        modern: bool,
        cache: Cacheable,
        result_type: &str,
    ) {
        write_result_start(out, id);
        out.push(b'{');
        self.write_result_fields(out, modern, cache, result_type);
    }

    /// Opens a result for the request whose raw `id` is `raw_id` as `method`'s real result
    /// opens in its era (`modern`: 2026-07-28), so injected results ([`crate::faults`]) look
    /// like the real ones.
    pub fn open_injected_result(
        &self,
        out: &mut Vec<u8>,
        raw_id: &[u8],
        modern: bool,
        method: Method,
    ) {
        out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        out.extend_from_slice(raw_id);
        out.extend_from_slice(b",\"result\":{");
        let cache = match method {
            Method::ToolsList
            | Method::ResourcesList
            | Method::PromptsList
            | Method::ResourcesTemplatesList
            | Method::ServerDiscover => Cacheable::List,
            Method::ResourcesRead => Cacheable::Read,
            _ => Cacheable::No,
        };
        self.write_result_fields(out, modern, cache, "complete");
    }

    /// The fields a 2026-07-28 result starts with (none for the handshake era), each followed
    /// by a comma.
    fn write_result_fields(
        &self,
        out: &mut Vec<u8>,
        modern: bool,
        cache: Cacheable,
        result_type: &str,
    ) {
        if !modern {
            return;
        }
        out.extend_from_slice(b"\"resultType\":\"");
        out.extend_from_slice(result_type.as_bytes());
        out.extend_from_slice(b"\",\"_meta\":{\"");
        out.extend_from_slice(meta::SERVER_INFO.as_bytes());
        out.extend_from_slice(b"\":{\"name\":");
        write_string(out, &self.server_name);
        out.extend_from_slice(b",\"version\":\"");
        out.extend_from_slice(SERVER_VERSION.as_bytes());
        out.extend_from_slice(b"\"}},");
        let ttl = match cache {
            Cacheable::No => return,
            Cacheable::List => self.cache.list_ttl_ms,
            Cacheable::Read => self.cache.read_ttl_ms,
        };
        out.extend_from_slice(b"\"ttlMs\":");
        write_u64(out, ttl);
        out.extend_from_slice(if self.cache.public {
            b",\"cacheScope\":\"public\","
        } else {
            b",\"cacheScope\":\"private\","
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_request(
        &self,
        session: &mut Session,
        raw: Indexed<'_>,
        id: &RequestId<'_>,
        method: Method,
        name: &str,
        params: Option<Value<'_, '_>>,
        out: &mut Vec<u8>,
    ) -> Handled {
        match method {
            Method::Initialize => self.initialize(session, id, params, out),
            Method::Ping | Method::ResourcesSubscribe | Method::ResourcesUnsubscribe => {
                if matches!(
                    method,
                    Method::ResourcesSubscribe | Method::ResourcesUnsubscribe
                ) {
                    let uri = str_param(params, "uri")?;
                    if self.catalog.churn().is_some() {
                        let add = method == Method::ResourcesSubscribe;
                        let subs = &mut session.subscriptions;
                        crate::churn::track(subs, &self.catalog, uri, add);
                    }
                }
                write_empty_result(out, id);
                Ok(Reply::Complete)
            }
            Method::LoggingSetLevel => {
                let level = str_param(params, "level")?;
                let level = LogLevel::parse(level).ok_or_else(|| {
                    RpcError::invalid_params(format!("invalid logging level '{level}'"))
                })?;
                session.log_level = Some(level);
                write_empty_result(out, id);
                Ok(Reply::Complete)
            }
            m if m.is_catalog() => self.serve_catalog(false, raw, id, m, params, out),
            // server/discover and subscriptions/listen are served by the stateless era only.
            _ => Err(RpcError::new(
                error_code::METHOD_NOT_FOUND,
                format!("Method not found: {name}"),
            )),
        }
    }

    fn initialize(
        &self,
        session: &mut Session,
        id: &RequestId<'_>,
        params: Option<Value<'_, '_>>,
        out: &mut Vec<u8>,
    ) -> Handled {
        let requested = match params.and_then(|p| p.get("protocolVersion")) {
            None => None,
            Some(v) => Some(
                v.into_string()
                    .ok_or_else(|| RpcError::invalid_params("protocolVersion must be a string"))?,
            ),
        };
        let version = ProtocolVersion::negotiate(requested);
        session.protocol = Some(version);
        session.client =
            crate::roundtrip::ClientCaps::from_tape(params.and_then(|p| p.get("capabilities")));
        write_result_start(out, id);
        out.extend_from_slice(b"{\"protocolVersion\":\"");
        out.extend_from_slice(version.as_str().as_bytes());
        out.extend_from_slice(b"\",\"capabilities\":{");
        if version.has_completions_capability() {
            out.extend_from_slice(b"\"completions\":{},");
        }
        out.extend_from_slice(if self.catalog.churn().is_some() {
            b"\"logging\":{},\"prompts\":{\"listChanged\":true},\
\"resources\":{\"subscribe\":true,\"listChanged\":true},\"tools\":{\"listChanged\":true}},\
\"serverInfo\":{\"name\":"
        } else {
            b"\"logging\":{},\"prompts\":{\"listChanged\":false},\
\"resources\":{\"subscribe\":true,\"listChanged\":false},\"tools\":{\"listChanged\":false}},\
\"serverInfo\":{\"name\":"
        });
        write_string(out, &self.server_name);
        out.extend_from_slice(b",\"version\":\"");
        out.extend_from_slice(SERVER_VERSION.as_bytes());
        out.push(b'"');
        if let Some(instance) = &self.instance_id {
            out.extend_from_slice(b",\"instanceId\":");
            write_string(out, instance);
        }
        out.extend_from_slice(b"},\"instructions\":\"Synthetic benchmark catalog: ");
        let c = &self.catalog;
        for (i, (count, what, size)) in [
            (c.tools, "tools", c.tool_size),
            (c.resources, "resources", c.resource_size),
            (c.prompts, "prompts", c.prompt_size),
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            write_u64(out, count);
            out.push(b' ');
            out.extend_from_slice(what.as_bytes());
            out.extend_from_slice(b" (");
            write_u64(out, size);
            // A size range (-tool-size=LO-HI) shows its high end too.
            let kind = [Kind::Tool, Kind::Resource, Kind::Prompt][i];
            if let Some(hi) = c
                .realism()
                .map(|r| r.max_size(kind))
                .filter(|&hi| hi > size)
            {
                out.push(b'-');
                write_u64(out, hi);
            }
            out.extend_from_slice(b"-byte payloads)");
        }
        out.extend_from_slice(b".\"}}");
        Ok(Reply::Complete)
    }

    fn list(
        &self,
        modern: bool,
        kind: Kind,
        id: &RequestId<'_>,
        params: Option<Value<'_, '_>>,
        out: &mut Vec<u8>,
    ) -> Handled {
        // The listed range: all of it from 0, unless the catalog churns (a moving window).
        let (first, count) = self.catalog.window(kind);
        let start = match optional_str_param(params, "cursor")? {
            None => first,
            Some(cursor) => self
                .catalog
                .decode_cursor(kind, cursor)
                .ok_or_else(|| RpcError::invalid_params("Invalid cursor"))?,
        };
        let last = first.saturating_add(count);
        let end = if self.page_size == 0 {
            last
        } else {
            start.saturating_add(self.page_size).min(last)
        };
        let fault = self.faults.as_ref().and_then(|f| f.cursor_fault());
        let (end, last, cursor) = crate::faults::page(fault, start, end, last);
        self.open_result(out, id, modern, Cacheable::List);
        out.extend_from_slice(match kind {
            Kind::Tool => b"\"tools\":[",
            Kind::Resource => b"\"resources\":[",
            Kind::Prompt => b"\"prompts\":[",
        });
        let mut rest = Continuation::List(ListRest {
            kind,
            next: start,
            end,
            more: end < last,
            cursor,
            started: false,
        });
        Ok(if rest.write_more(&self.catalog, out, CHUNK_BYTES) {
            Reply::Complete
        } else {
            Reply::Partial(rest)
        })
    }

    fn templates_list(&self, modern: bool, id: &RequestId<'_>, out: &mut Vec<u8>) {
        self.open_result(out, id, modern, Cacheable::List);
        out.extend_from_slice(b"\"resourceTemplates\":[");
        if self.catalog.resources > 0 {
            out.extend_from_slice(b"{\"uriTemplate\":\"");
            write_escaped(out, self.catalog.resource_uri_prefix().as_bytes());
            out.extend_from_slice(
                b"{index}\",\"name\":\"benchmark_resource_by_index\",\
\"title\":\"Benchmark resource by index\",\"description\":\"Benchmark resource with the given index, ",
            );
            // The indices there are now: from 0, or a window that moves under -churn.
            let (first, _) = self.catalog.window(Kind::Resource);
            write_u64(out, first);
            out.extend_from_slice(b" to ");
            write_u64(out, first.saturating_add(self.catalog.resources - 1));
            if let Some(churn) = self.catalog.churn() {
                let count = churn.count.min(self.catalog.resources);
                out.extend_from_slice(b" now (every ");
                write_escaped(out, format!("{:?}", churn.interval).as_bytes());
                out.extend_from_slice(b" the lowest ");
                write_u64(out, count);
                out.extend_from_slice(b" are replaced by ");
                write_u64(out, count);
                out.extend_from_slice(b" above the highest)");
            }
            out.extend_from_slice(b"\",\"mimeType\":\"application/json\"}");
        }
        if self.catalog.has_fixtures() {
            if self.catalog.resources > 0 {
                out.push(b',');
            }
            out.extend_from_slice(fixtures::TEMPLATE.as_bytes());
        }
        out.extend_from_slice(b"]}}");
    }

    fn call_tool(
        &self,
        modern: bool,
        raw: Indexed<'_>,
        id: &RequestId<'_>,
        params: Option<Value<'_, '_>>,
        out: &mut Vec<u8>,
    ) -> Handled {
        let name = str_param(params, "name")?;
        let index = self
            .catalog
            .tool_index(name)
            .ok_or_else(|| RpcError::invalid_params(format!("Unknown tool: {name}")))?;
        let args = params.and_then(|p| p.get("arguments"));
        if let Some(a) = args
            && !a.is_object()
            && a.value_type() != ValueType::Null
        {
            return Err(RpcError::invalid_params("arguments must be an object"));
        }
        if let Some(f) = self.catalog.fixture(Kind::Tool, index)
            && let Some(i) = roundtrip::interactive(Target::Tool, fixtures::TOOLS[f].name)
        {
            return self.interact(modern, raw.bytes(), id, i, out);
        }
        self.open_result(out, id, modern, Cacheable::No);
        if let Some(f) = self.catalog.fixture(Kind::Tool, index) {
            let sampling = params
                .and_then(|p| p.get("_meta"))
                .and_then(|m| m.get(meta::CLIENT_CAPABILITIES))
                .and_then(|c| c.get("sampling"))
                .is_some();
            if modern && fixtures::TOOLS[f].name == "test_missing_capability" && !sampling {
                return Err(RpcError {
                    code: error_code::MISSING_REQUIRED_CLIENT_CAPABILITY,
                    message: "Missing required client capability: sampling".to_string(),
                    data: Some(b"{\"requiredCapabilities\":{\"sampling\":{}}}".to_vec()),
                    rejected: true,
                });
            }
            out.extend_from_slice(fixtures::TOOLS[f].result.as_bytes());
            out.extend_from_slice(b"}}");
            return Ok(Reply::Complete);
        }
        if let Some(r) = self.catalog.realism() {
            let raw_args = args.and(raw.member_bytes(&["params", "arguments"]));
            return crate::realism::write_call(r, &self.catalog, index, args, raw_args, out)
                .map_err(RpcError::invalid_params);
        }
        out.extend_from_slice(b"\"content\":[{\"type\":\"text\",\"text\":\"{\\\"arguments\\\":");
        match args.and(raw.member_bytes(&["params", "arguments"])) {
            Some(span) => write_escaped(out, span),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\\\"data\\\":\\\"");
        let name = self.catalog.name(Kind::Tool, index);
        let name = name.as_bytes();
        let filler = write_payload_start(out, name, self.catalog.tool_size);
        Ok(self.finish_payload(out, filler, |tail| {
            tail.extend_from_slice(b"\\\",\\\"timestamp\\\":\\\"");
            write_timestamp_now(tail);
            tail.extend_from_slice(b"\\\",\\\"tool\\\":\\\"");
            tail.extend_from_slice(name);
            tail.extend_from_slice(b"\\\"}\"}]}}");
        }))
    }

    fn read_resource(
        &self,
        modern: bool,
        id: &RequestId<'_>,
        params: Option<Value<'_, '_>>,
        out: &mut Vec<u8>,
    ) -> Handled {
        let uri = str_param(params, "uri")?;
        if self.catalog.has_fixtures()
            && let Some(template_id) = fixtures::template_id(uri)
        {
            self.open_result(out, id, modern, Cacheable::Read);
            out.extend_from_slice(b"\"contents\":[");
            fixtures::write_template_content(out, uri, template_id);
            out.extend_from_slice(b"]}}");
            return Ok(Reply::Complete);
        }
        let Some(index) = self.catalog.resource_index(uri) else {
            let mut data = b"{\"uri\":".to_vec();
            write_string(&mut data, uri);
            data.push(b'}');
            // 2026-07-28 moved "resource not found" to Invalid Params.
            let code = if modern {
                error_code::INVALID_PARAMS
            } else {
                error_code::RESOURCE_NOT_FOUND
            };
            return Err(RpcError {
                code,
                message: format!("Resource not found: {uri}"),
                data: Some(data),
                rejected: false,
            });
        };
        self.open_result(out, id, modern, Cacheable::Read);
        if let Some(f) = self.catalog.fixture(Kind::Resource, index) {
            out.extend_from_slice(b"\"contents\":[");
            out.extend_from_slice(fixtures::RESOURCES[f].content.as_bytes());
            out.extend_from_slice(b"]}}");
            return Ok(Reply::Complete);
        }
        if let Some(r) = self.catalog.realism() {
            return Ok(crate::realism::write_read(r, &self.catalog, index, out));
        }
        out.extend_from_slice(b"\"contents\":[{\"uri\":\"");
        self.catalog.write_resource_uri(out, index);
        out.extend_from_slice(
            b"\",\"mimeType\":\"application/json\",\"text\":\"{\\\"data\\\":\\\"",
        );
        let name = self.catalog.name(Kind::Resource, index);
        let name = name.as_bytes();
        let filler = write_payload_start(out, name, self.catalog.resource_size);
        Ok(self.finish_payload(out, filler, |tail| {
            tail.extend_from_slice(b"\\\",\\\"resource\\\":\\\"");
            tail.extend_from_slice(name);
            tail.extend_from_slice(b"\\\",\\\"timestamp\\\":\\\"");
            write_timestamp_now(tail);
            tail.extend_from_slice(b"\\\"}\"}]}}");
        }))
    }

    fn get_prompt(
        &self,
        modern: bool,
        raw: Indexed<'_>,
        id: &RequestId<'_>,
        params: Option<Value<'_, '_>>,
        out: &mut Vec<u8>,
    ) -> Handled {
        let name = str_param(params, "name")?;
        let index = self
            .catalog
            .prompt_index(name)
            .ok_or_else(|| RpcError::invalid_params(format!("Unknown prompt: {name}")))?;
        let args = match params.and_then(|p| p.get("arguments")) {
            None => None,
            Some(a) if a.value_type() == ValueType::Null => None,
            Some(a) => Some(
                a.as_object()
                    .ok_or_else(|| RpcError::invalid_params("arguments must be an object"))?,
            ),
        };
        if let Some(args) = &args {
            for (k, v) in args.iter() {
                if v.as_str().is_none() {
                    return Err(RpcError::invalid_params(format!(
                        "argument '{k}' must be a string"
                    )));
                }
            }
        }
        if let Some(f) = self.catalog.fixture(Kind::Prompt, index)
            && let Some(i) = roundtrip::interactive(Target::Prompt, fixtures::PROMPTS[f].name)
        {
            return self.interact(modern, raw.bytes(), id, i, out);
        }
        if let Some(f) = self.catalog.fixture(Kind::Prompt, index) {
            let start = out.len();
            self.open_result(out, id, modern, Cacheable::No);
            let arg = |k: &str| {
                args.as_ref()
                    .and_then(|a| a.get(k))
                    .and_then(|v| v.into_string())
                    .map(str::to_string)
            };
            if let Err(why) = fixtures::write_prompt_result(out, f, arg) {
                out.truncate(start);
                return Err(RpcError::invalid_params(why));
            }
            out.extend_from_slice(b"}}");
            return Ok(Reply::Complete);
        }
        let name = self.catalog.name(Kind::Prompt, index);
        let name = name.as_bytes();
        self.open_result(out, id, modern, Cacheable::No);
        out.extend_from_slice(b"\"description\":\"Benchmark prompt ");
        out.extend_from_slice(name);
        out.extend_from_slice(
            b"\",\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"Prompt: ",
        );
        out.extend_from_slice(name);
        out.extend_from_slice(b"\\n\\nTimestamp: ");
        write_timestamp_now(out);
        out.extend_from_slice(b"\\n\\n");
        if let Some(args) = args.filter(|a| !a.is_empty()) {
            out.extend_from_slice(b"Arguments:\\n");
            for (k, v) in args.iter() {
                out.extend_from_slice(b"  - ");
                write_escaped(out, k.as_bytes());
                out.extend_from_slice(b": ");
                write_escaped(out, v.as_str().unwrap_or_default().as_bytes());
                out.extend_from_slice(b"\\n");
            }
            out.extend_from_slice(b"\\n");
        }
        if let Some(r) = self.catalog.realism() {
            return Ok(crate::realism::finish_prompt(r, &self.catalog, index, out));
        }
        let filler = write_payload_start(out, name, self.catalog.prompt_size);
        Ok(self.finish_payload(out, filler, |tail| {
            tail.extend_from_slice(b"\"}}]}}");
        }))
    }

    /// A fixture that asks the client for input. Under 2026-07-28 it answers `input_required`
    /// until the retry carries the answers; in the handshake era the transport runs it as a
    /// round trip before it gets here, so reaching this means the connection cannot carry
    /// server-to-client requests.
    fn interact(
        &self,
        modern: bool,
        raw: &[u8],
        id: &RequestId<'_>,
        fixture: &'static roundtrip::Interactive,
        out: &mut Vec<u8>,
    ) -> Handled {
        if !modern {
            return Err(RpcError::new(
                error_code::INVALID_REQUEST,
                format!(
                    "{} sends requests to the client, which this connection cannot carry \
                     (use stdio, legacy SSE or a Streamable HTTP memory session, outside a batch)",
                    fixture.name
                ),
            ));
        }
        let start = out.len();
        roundtrip::serve_modern(fixture, raw, out, |out, result_type| {
            self.open_typed_result(out, id, true, Cacheable::No, result_type)
        })
        .map(|()| Reply::Complete)
        .map_err(|r| {
            out.truncate(start);
            RpcError {
                code: r.code,
                message: r.message,
                data: r.data,
                rejected: r.rejected,
            }
        })
    }

    /// Completes a payload response: inline when the rest is small, else as a continuation.
    fn finish_payload(
        &self,
        out: &mut Vec<u8>,
        mut filler: FillerStream,
        write_tail: impl FnOnce(&mut Vec<u8>),
    ) -> Reply {
        if filler.remaining() <= CHUNK_BYTES as u64 {
            filler.write(out, u64::MAX);
            write_tail(out);
            return Reply::Complete;
        }
        let mut tail = Vec::with_capacity(96);
        write_tail(&mut tail);
        let mut rest = Continuation::Payload { filler, tail };
        if rest.write_more(&self.catalog, out, CHUNK_BYTES) {
            Reply::Complete
        } else {
            Reply::Partial(rest)
        }
    }

    fn complete(
        &self,
        modern: bool,
        id: &RequestId<'_>,
        params: Option<Value<'_, '_>>,
        out: &mut Vec<u8>,
    ) -> Handled {
        let reference = params
            .and_then(|p| p.get("ref"))
            .filter(|r| r.is_object())
            .ok_or_else(|| RpcError::invalid_params("missing ref"))?;
        let argument = params
            .and_then(|p| p.get("argument"))
            .filter(|a| a.is_object())
            .ok_or_else(|| RpcError::invalid_params("missing argument"))?;
        let arg_name = str_param(Some(argument), "name")?;
        let arg_value = str_param(Some(argument), "value")?;
        let ref_type = str_param(Some(reference), "type")?;
        let mut values = Vec::new();
        let mut total = 0;
        match ref_type {
            "ref/prompt" => {
                let name = str_param(Some(reference), "name")?;
                self.catalog
                    .prompt_index(name)
                    .ok_or_else(|| RpcError::invalid_params(format!("Unknown prompt: {name}")))?;
            }
            "ref/resource" => {
                let uri = str_param(Some(reference), "uri")?;
                let template = [self.catalog.resource_uri_prefix(), "{index}"].concat();
                if uri == template && arg_name == "index" {
                    // The resources there are now (a moving window under -churn).
                    let (first, _) = self.catalog.window(Kind::Resource);
                    let last = first.saturating_add(self.catalog.resources);
                    total =
                        complete_indices_in(arg_value, first, last, MAX_COMPLETIONS, &mut values);
                } else if self.catalog.resource_index(uri).is_none()
                    && !(self.catalog.has_fixtures() && uri == "test://template/{id}/data")
                {
                    return Err(RpcError::invalid_params(format!("Unknown resource: {uri}")));
                }
            }
            other => {
                return Err(RpcError::invalid_params(format!(
                    "unknown ref type '{other}'"
                )));
            }
        }
        self.open_result(out, id, modern, Cacheable::No);
        out.extend_from_slice(b"\"completion\":{\"values\":[");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            write_u64(out, *v);
            out.push(b'"');
        }
        out.extend_from_slice(b"],\"total\":");
        write_u64(out, total);
        out.extend_from_slice(b",\"hasMore\":");
        out.extend_from_slice(if total > values.len() as u64 {
            b"true"
        } else {
            b"false"
        });
        out.extend_from_slice(b"}}}");
        Ok(Reply::Complete)
    }
}

/// Validates the `_meta` every 2026-07-28 request carries.
fn check_modern_meta(params: Option<Value<'_, '_>>) -> Result<(), RpcError> {
    let rejected = |code, message: String, data: Option<Vec<u8>>| RpcError {
        code,
        message,
        data,
        rejected: true,
    };
    let m = params
        .and_then(|p| p.get("_meta"))
        .filter(|m| m.is_object());
    let version = m.and_then(|m| m.get(meta::PROTOCOL_VERSION));
    let capabilities = m.and_then(|m| m.get(meta::CLIENT_CAPABILITIES));
    let mut missing = Vec::new();
    if version.is_none() {
        missing.push(meta::PROTOCOL_VERSION);
    }
    if capabilities.is_none() {
        missing.push(meta::CLIENT_CAPABILITIES);
    }
    if !missing.is_empty() {
        return Err(rejected(
            error_code::INVALID_PARAMS,
            format!("Invalid params: missing _meta keys: {}", missing.join(", ")),
            None,
        ));
    }
    if !capabilities.is_some_and(|c| c.is_object()) {
        return Err(rejected(
            error_code::INVALID_PARAMS,
            format!(
                "Invalid params: _meta {} must be an object",
                meta::CLIENT_CAPABILITIES
            ),
            None,
        ));
    }
    let requested = version.and_then(|v| v.into_string());
    if requested.is_some_and(|r| MODERN_VERSIONS.contains(&r)) {
        return Ok(());
    }
    let mut data = b"{\"supported\":[".to_vec();
    for (i, v) in MODERN_VERSIONS.iter().enumerate() {
        if i > 0 {
            data.push(b',');
        }
        write_string(&mut data, v);
    }
    data.extend_from_slice(b"],\"requested\":");
    match requested {
        Some(r) => write_string(&mut data, r),
        None => data.extend_from_slice(b"null"),
    }
    data.push(b'}');
    Err(rejected(
        error_code::UNSUPPORTED_PROTOCOL_VERSION,
        "Unsupported protocol version".to_string(),
        Some(data),
    ))
}

/// Writes the `notifications/subscriptions/acknowledged` that opens a listen stream. The
/// catalog never changes, so no change notification is honoured: the acknowledged set is
/// empty and the stream carries keep-alives only.
fn listen_ack(
    catalog: &Catalog,
    id: &RequestId<'_>,
    params: Option<Value<'_, '_>>,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(
        b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/subscriptions/acknowledged\",\"params\":{\"notifications\":",
    );
    if catalog.churn().is_some() {
        let requested = params.and_then(|p| p.get("notifications"));
        crate::churn::write_acknowledged(out, catalog, requested);
    } else {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b",\"_meta\":{\"");
    out.extend_from_slice(meta::SUBSCRIPTION_ID.as_bytes());
    out.extend_from_slice(b"\":");
    id.write(out);
    out.extend_from_slice(b"}}}");
}

/// The spec's cap on completion values per response.
const MAX_COMPLETIONS: usize = 100;

/// Indices below `count` whose decimal form starts with `prefix`, in numeric order, up to
/// `max` of them into `values`; returns how many there are in all.
#[cfg(test)]
fn complete_indices(prefix: &str, count: u64, max: usize, values: &mut Vec<u64>) -> u64 {
    complete_indices_in(prefix, 0, count, max, values)
}

/// [`complete_indices`] over the indices `first..last`.
fn complete_indices_in(
    prefix: &str,
    first: u64,
    last: u64,
    max: usize,
    values: &mut Vec<u64>,
) -> u64 {
    if prefix.is_empty() {
        values.extend((first..last).take(max));
        return last.saturating_sub(first);
    }
    let Some(p) = prefix.bytes().try_fold(0u64, |acc, c| {
        c.is_ascii_digit()
            .then(|| acc.checked_mul(10)?.checked_add(u64::from(c - b'0')))?
    }) else {
        return 0;
    };
    if prefix.len() > 1 && prefix.starts_with('0') {
        return 0;
    }
    if p == 0 {
        // "0" has no longer completions (indices have no leading zeros).
        if first == 0 && last > 0 {
            values.push(0);
            return 1;
        }
        return 0;
    }
    // Indices with prefix p: p, then p*10..p*10+9, then p*100..p*100+99, and so on.
    let mut total = 0u64;
    let (mut lo, mut width) = (p, 1u64);
    while lo < last {
        let hi = lo.saturating_add(width).min(last);
        let from = lo.max(first);
        total += hi.saturating_sub(from);
        let mut i = from;
        while i < hi && values.len() < max {
            values.push(i);
            i += 1;
        }
        match (lo.checked_mul(10), width.checked_mul(10)) {
            (Some(l), Some(w)) => (lo, width) = (l, w),
            _ => break,
        }
    }
    total
}

fn write_empty_result(out: &mut Vec<u8>, id: &RequestId<'_>) {
    write_result_start(out, id);
    out.extend_from_slice(b"{}}");
}

fn str_param<'i>(params: Option<Value<'_, 'i>>, key: &str) -> Result<&'i str, RpcError> {
    optional_str_param(params, key)?
        .ok_or_else(|| RpcError::invalid_params(format!("missing required parameter '{key}'")))
}

fn optional_str_param<'i>(
    params: Option<Value<'_, 'i>>,
    key: &str,
) -> Result<Option<&'i str>, RpcError> {
    match params.and_then(|p| p.get(key)) {
        None => Ok(None),
        Some(v) if v.value_type() == ValueType::Null => Ok(None),
        Some(v) => v
            .into_string()
            .map(Some)
            .ok_or_else(|| RpcError::invalid_params(format!("parameter '{key}' must be a string"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as Json;

    fn dispatcher(page_size: u64) -> Dispatcher {
        Dispatcher::new(
            Catalog::new([25, 3, 2], [40, 30, 20]),
            page_size,
            "benchmark-server",
        )
    }

    /// Handles `msg` and returns the whole response (continuations pumped), or `None`.
    fn reply(d: &Dispatcher, session: &mut Session, msg: &str) -> Option<Json> {
        let mut parser = Parser::default();
        let mut out = Vec::new();
        let outcome = d.handle(session, &mut parser, msg.as_bytes(), &mut out);
        match outcome.reply {
            Reply::Nothing => {
                assert!(out.is_empty());
                return None;
            }
            Reply::Complete => {}
            Reply::Partial(rest) => rest.finish(d.catalog(), &mut out),
            Reply::Subscription => {}
        }
        Some(serde_json::from_slice(&out).expect("response is JSON"))
    }

    fn call_text(d: &Dispatcher, args: &str) -> String {
        let msg = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"benchmark_tool_3","arguments":{args}}}}}"#
        );
        let r = reply(d, &mut Session::default(), &msg).unwrap();
        r["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn arguments_are_echoed_byte_for_byte_even_beyond_64_bit_numbers() {
        let d = dispatcher(0);
        for args in [
            r#"{"u":18446744073709551616}"#,
            r#"{"i":-9223372036854775809,"f":1.5e3}"#,
            r#"{ "spaced" : [1, 2] , "q":"a\"b\\c\n" }"#,
        ] {
            let text = call_text(&d, args);
            assert!(
                text.starts_with(&format!(r#"{{"arguments":{args},"data":""#)),
                "{text}"
            );
        }
    }

    #[test]
    fn pages_chain_to_the_end_through_cursors() {
        let d = dispatcher(10);
        let mut names = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10 {
            let params = cursor.as_ref().map_or(String::new(), |c| {
                format!(r#","params":{{"cursor":"{c}"}}"#)
            });
            let msg = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list"{params}}}"#);
            let r = reply(&d, &mut Session::default(), &msg).unwrap();
            for t in r["result"]["tools"].as_array().unwrap() {
                names.push(t["name"].as_str().unwrap().to_string());
            }
            match r["result"]["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let expected: Vec<String> = (0..25).map(|i| format!("benchmark_tool_{i}")).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn large_lists_come_back_as_continuations() {
        let d = Dispatcher::new(Catalog::new([5000, 0, 0], [1, 1, 1]), 0, "b");
        let mut out = Vec::new();
        let outcome = d.handle(
            &mut Session::default(),
            &mut Parser::default(),
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            &mut out,
        );
        let Reply::Partial(rest) = outcome.reply else {
            panic!("expected a continuation")
        };
        assert!(out.len() < CHUNK_BYTES + 4096);
        rest.finish(d.catalog(), &mut out);
        let r: Json = serde_json::from_slice(&out).unwrap();
        assert_eq!(r["result"]["tools"].as_array().unwrap().len(), 5000);
    }

    #[test]
    fn batches_follow_the_negotiated_version() {
        let d = dispatcher(0);
        let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":2,"method":"initialize"}]"#;
        let mut s = Session::default();
        assert_eq!(reply(&d, &mut s, batch).unwrap()["error"]["code"], -32600);
        reply(
            &d,
            &mut s,
            r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-03-26"}}"#,
        );
        let r = reply(&d, &mut s, batch).unwrap();
        let items = r.as_array().unwrap();
        assert_eq!(items.len(), 2, "the notification gets no entry: {r}");
        assert_eq!(items[0]["id"], 1);
        assert_eq!(
            items[1]["error"]["code"], -32600,
            "initialize inside a batch"
        );
        let listen = r#"[{"jsonrpc":"2.0","id":"s","method":"subscriptions/listen","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}]"#;
        let r = reply(&d, &mut s, listen).unwrap();
        assert_eq!(r[0]["id"], "s", "{r}");
        assert_eq!(
            r[0]["error"]["code"], -32600,
            "no listen stream inside a batch"
        );
        let only_notes = r#"[{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","method":"b"}]"#;
        assert!(reply(&d, &mut s, only_notes).is_none());
        assert_eq!(reply(&d, &mut s, "[]").unwrap()["error"]["code"], -32600);
    }

    #[test]
    fn index_completion_counts_every_match() {
        let mut v = Vec::new();
        assert_eq!(complete_indices("1", 25, 100, &mut v), 11); // 1, 10..19
        assert_eq!(v, [1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
        v.clear();
        assert_eq!(complete_indices("2", 25, 100, &mut v), 6); // 2, 20..24
        v.clear();
        assert_eq!(complete_indices("1", 1_000_000, 100, &mut v), 111_111);
        assert_eq!(v.len(), 100);
        v.clear();
        assert_eq!(complete_indices("0", 5, 100, &mut v), 1);
        assert_eq!(complete_indices("01", 5, 100, &mut v), 0);
        assert_eq!(complete_indices("x", 5, 100, &mut v), 0);
        v.clear();
        // A churned window: only indices that exist now.
        assert_eq!(complete_indices_in("1", 12, 120, 100, &mut v), 8 + 20); // 12..19, 100..119
        assert_eq!(v[..8], [12, 13, 14, 15, 16, 17, 18, 19]);
        v.clear();
        assert_eq!(complete_indices_in("0", 1, 5, 100, &mut v), 0);
        assert_eq!(complete_indices_in("", 7, 9, 100, &mut v), 2);
        assert_eq!(v, [7, 8]);
        v.clear();
        assert_eq!(complete_indices("", 3, 100, &mut v), 3);
        assert_eq!(v, [0, 1, 2]);
    }

    #[test]
    fn errors_carry_the_request_id_and_the_spec_codes() {
        let d = dispatcher(0);
        let mut s = Session::default();
        let cases = [
            (r#"{"jsonrpc":"2.0","id":"a","method":"nope"}"#, -32601),
            (
                r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"benchmark_tool_25"}}"#,
                -32602,
            ),
            (
                r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"benchmark_tool_1","arguments":[1]}}"#,
                -32602,
            ),
            (
                r#"{"jsonrpc":"2.0","id":"a","method":"prompts/get","params":{"name":"benchmark_prompt_0","arguments":{"a":1}}}"#,
                -32602,
            ),
            (
                r#"{"jsonrpc":"2.0","id":"a","method":"resources/read","params":{"uri":"benchmark://benchmark_resource_3"}}"#,
                -32002,
            ),
            (
                r#"{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{"cursor":"bad"}}"#,
                -32602,
            ),
            (
                r#"{"jsonrpc":"2.0","id":"a","method":"logging/setLevel","params":{"level":"loud"}}"#,
                -32602,
            ),
            (
                r#"{"jsonrpc":"2.0","id":"a","method":"server/discover"}"#,
                -32602,
            ),
        ];
        for (msg, code) in cases {
            let r = reply(&d, &mut s, msg).unwrap();
            assert_eq!(r["id"], "a", "{msg}");
            assert_eq!(r["error"]["code"], code, "{msg}: {r}");
        }
        let r = reply(
            &d,
            &mut s,
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"x"}}"#,
        )
        .unwrap();
        assert_eq!(r["error"]["data"]["uri"], "x");
    }
}
