//! Transports: each moves bytes between clients and the shared [`crate::dispatch`] layer and
//! knows no method names.
//!
//! This module holds the HTTP plumbing both HTTP transports share: binding one or more
//! instances, the accept loop with graceful shutdown, the probe endpoints, authentication,
//! Host/Origin checks, body limits and the response body types (whole, streamed from a
//! dispatcher continuation, or an SSE event stream).

pub mod chunks;
pub mod http;
pub mod limits;
pub mod sse;
pub mod stdio;

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::auth;
use crate::cli::{Config, Transport};
use crate::dispatch::{CHUNK_BYTES, Continuation, Dispatcher};
use crate::jsonrpc::Parser;
use crate::mcp::ProtocolVersion;
use crate::session::SessionStore;

/// Settings and state shared by every instance of a run.
pub struct Shared {
    pub started: Instant,
    /// Set when a shutdown signal arrives: `/ready` answers 503 from then on.
    pub shutting_down: AtomicBool,
    /// Flips to `true` at shutdown; open event streams end when they see it.
    pub shutdown: watch::Receiver<bool>,
    pub auth_token: Option<Vec<u8>>,
    pub allowed_origins: Option<Vec<String>>,
    pub max_request_bytes: usize,
    pub sse_keepalive: Duration,
    pub transport: Transport,
    /// Open connections across every instance, bounded by `-max-connections`.
    pub connections: Arc<tokio::sync::Semaphore>,
    pub max_connections: usize,
    /// Uptime second of the last "connection limit" warning.
    pub last_refusal_warning: std::sync::atomic::AtomicU64,
    /// Open SSE streams across every instance, bounded by `-max-sse-streams`.
    pub sse_streams: limits::StreamSlots,
}

/// One listening server: its catalog, sessions and address.
pub struct Instance {
    pub shared: Arc<Shared>,
    /// Swapped whole by `/admin/config` (fixed without `-admin`); take one snapshot per
    /// request.
    pub dispatcher: crate::admin::Swap<Dispatcher>,
    pub config: Arc<Config>,
    pub sessions: SessionStore,
    pub sse_sessions: sse::SseSessions,
    pub addr: SocketAddr,
    /// The listener is on a loopback address: foreign `Host` headers are refused.
    pub loopback: bool,
    /// The SSE endpoint base advertised in `event: endpoint` (empty = relative).
    pub public_base: String,
    /// Path prefix of `-public-url`, also served (e.g. `/base` for `http://h/base`).
    pub public_path: String,
    /// `X-Instance-Id` on every response.
    pub instance_header: HeaderValue,
}

thread_local! {
    /// One reusable parser per runtime thread: dispatch never awaits while using it.
    static PARSER: RefCell<Parser> = RefCell::new(Parser::default());
}

/// Runs `f` with this thread's parser.
pub fn with_parser<R>(f: impl FnOnce(&mut Parser) -> R) -> R {
    PARSER.with(|p| match p.try_borrow_mut() {
        Ok(mut parser) => f(&mut parser),
        // Re-entrant use cannot happen (dispatch is synchronous); stay correct regardless.
        Err(_) => f(&mut Parser::default()),
    })
}

/// Response bodies: a whole buffer, a response still being written by the dispatcher, or a
/// long-lived SSE event stream.
pub enum ResponseBody {
    Full(Option<Bytes>),
    Streaming(Box<StreamingReply>),
    Events(Box<EventStream>),
}

impl ResponseBody {
    pub fn empty() -> Self {
        ResponseBody::Full(None)
    }

    pub fn full(b: impl Into<Bytes>) -> Self {
        let b = b.into();
        ResponseBody::Full((!b.is_empty()).then_some(b))
    }
}

/// A large reply pumped chunk by chunk from its dispatcher continuation as the client reads:
/// the next chunk is written only once the one before it has gone to the socket.
pub struct StreamingReply {
    dispatcher: Arc<Dispatcher>,
    first: Option<Bytes>,
    rest: Option<Continuation>,
    /// Written after the last chunk (SSE framing).
    suffix: &'static [u8],
    budget: chunks::ChunkBudget,
}

impl StreamingReply {
    /// `first` is what the dispatcher wrote; `rest` writes the remainder, then `suffix`.
    pub fn new(
        dispatcher: Arc<Dispatcher>,
        first: Vec<u8>,
        rest: Continuation,
        suffix: &'static [u8],
    ) -> Self {
        let budget = chunks::ChunkBudget::new(chunks::STREAM_BUDGET);
        Self {
            dispatcher,
            first: Some(budget.track(first)),
            rest: Some(rest),
            suffix,
            budget,
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let polled = self.get_mut().poll_data(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            crate::metrics::bytes_out(crate::metrics::served_transport(), data.len());
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ResponseBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            _ => SizeHint::default(),
        }
    }
}

impl ResponseBody {
    fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self {
            ResponseBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ResponseBody::Streaming(s) => {
                if let Some(first) = s.first.take() {
                    return Poll::Ready(Some(Ok(Frame::data(first))));
                }
                let Some(rest) = s.rest.as_mut() else {
                    return Poll::Ready(None);
                };
                if s.budget.poll_ready(cx).is_pending() {
                    return Poll::Pending;
                }
                let mut chunk = s.budget.buffer();
                if rest.write_more(s.dispatcher.catalog(), &mut chunk, CHUNK_BYTES) {
                    s.rest = None;
                    chunk.extend_from_slice(s.suffix);
                    s.budget.finish();
                }
                Poll::Ready(Some(Ok(Frame::data(s.budget.track(chunk)))))
            }
            ResponseBody::Events(e) => e.poll_event(cx),
        }
    }
}

/// Something to run when an event stream ends (e.g. freeing its legacy SSE session).
pub type OnClose = Box<dyn FnOnce() + Send + Sync>;

/// An SSE stream: events from a channel, keep-alive comments when idle, and an end at shutdown
/// or when every sender is gone.
pub struct EventStream {
    rx: mpsc::Receiver<Bytes>,
    keepalive: tokio::time::Interval,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    on_close: Option<OnClose>,
    /// Holds the channel open for streams nothing else sends on.
    _keep_open: Option<mpsc::Sender<Bytes>>,
    /// This stream's place among `-max-sse-streams`, given back when it is dropped.
    _slot: limits::StreamSlot,
    /// Change notifications when the catalog churns (`-churn`).
    churn: Option<Box<crate::churn::Feed>>,
    done: bool,
    /// The last chunk sent ended inside an event (a large reply goes out in several chunks): a
    /// keep-alive comment now would land in the middle of it.
    mid_event: bool,
}

impl EventStream {
    pub fn new(
        shared: &Shared,
        slot: limits::StreamSlot,
        rx: mpsc::Receiver<Bytes>,
        on_close: Option<OnClose>,
    ) -> Self {
        Self::with_sender(shared, slot, rx, on_close, None)
    }

    /// A stream that stays open (keep-alives only) until shutdown.
    pub fn idle(shared: &Shared, slot: limits::StreamSlot) -> Self {
        let (tx, rx) = mpsc::channel(1);
        Self::with_sender(shared, slot, rx, None, Some(tx))
    }

    /// Like [`EventStream::idle`], opening with `first`.
    pub fn idle_after(shared: &Shared, slot: limits::StreamSlot, first: Bytes) -> Self {
        let (tx, rx) = mpsc::channel(1);
        let _ = tx.try_send(first);
        Self::with_sender(shared, slot, rx, None, Some(tx))
    }

    fn with_sender(
        shared: &Shared,
        slot: limits::StreamSlot,
        rx: mpsc::Receiver<Bytes>,
        on_close: Option<OnClose>,
        keep_open: Option<mpsc::Sender<Bytes>>,
    ) -> Self {
        let period = shared.sse_keepalive;
        let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown = shared.shutdown.clone();
        crate::metrics::streams_changed(1);
        Self {
            rx,
            keepalive,
            shutdown: Box::pin(async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            }),
            on_close,
            _keep_open: keep_open,
            _slot: slot,
            churn: None,
            done: false,
            mid_event: false,
        }
    }

    /// Adds the catalog's change notifications to the stream (no-op when it does not churn).
    pub fn with_churn(mut self, feed: Option<crate::churn::Feed>) -> Self {
        self.churn = feed.map(Box::new);
        self
    }

    fn finish(&mut self) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.done = true;
        if let Some(f) = self.on_close.take() {
            f();
        }
        Poll::Ready(None)
    }

    fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(event)) => {
                self.mid_event = !event.ends_with(b"\n\n");
                return Poll::Ready(Some(Ok(Frame::data(event))));
            }
            Poll::Ready(None) => return self.finish(),
            Poll::Pending => {}
        }
        if self.shutdown.as_mut().poll(cx).is_ready() {
            return self.finish();
        }
        // Change notifications and keep-alives go only between events, never inside one.
        if self.mid_event {
            // Poll on until pending, so the timer wakes this stream again.
            while self.keepalive.poll_tick(cx).is_ready() {}
            return Poll::Pending;
        }
        if let Some(feed) = &mut self.churn
            && let Poll::Ready(events) = feed.poll(cx)
        {
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(events)))));
        }
        if self.keepalive.poll_tick(cx).is_ready() {
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
                b": keep-alive\n\n",
            )))));
        }
        Poll::Pending
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        crate::metrics::streams_changed(-1);
        if let Some(f) = self.on_close.take() {
            f();
        }
    }
}

pub type HttpResponse = Response<ResponseBody>;

/// A response with a plain-text body.
pub fn text_response(status: StatusCode, body: &'static str) -> HttpResponse {
    let mut r = Response::new(ResponseBody::full(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A response with a JSON body.
pub fn json_response(status: StatusCode, body: impl Into<Bytes>) -> HttpResponse {
    let mut r = Response::new(ResponseBody::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub fn empty_response(status: StatusCode) -> HttpResponse {
    let mut r = Response::new(ResponseBody::empty());
    *r.status_mut() = status;
    r
}

pub fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut r = text_response(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed\n");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

/// Frames newline-separated JSON-RPC messages as SSE `message` events.
pub fn sse_events(messages: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(messages.len() + 64);
    for message in messages.split(|&b| b == b'\n').filter(|m| !m.is_empty()) {
        out.extend_from_slice(b"event: message\ndata: ");
        out.extend_from_slice(message);
        out.extend_from_slice(b"\n\n");
    }
    out
}

/// Headers of an SSE response.
pub fn sse_headers(r: &mut HttpResponse) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
}

/// How long a client may take to send a request body.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A request body read whole, or the status that refuses it.
pub async fn read_body(req: Request<Incoming>, limit: usize) -> Result<Bytes, HttpResponse> {
    let too_large = || text_response(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large\n");
    // hyper has read `Content-Length` already: the body's exact size hint is that length.
    let declared = req.body().size_hint().exact();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let collect = http_body_util::Limited::new(req.into_body(), limit).collect();
    let Ok(collected) = tokio::time::timeout(BODY_READ_TIMEOUT, collect).await else {
        log::debug!("request body not received within {BODY_READ_TIMEOUT:?}");
        return Err(text_response(
            StatusCode::REQUEST_TIMEOUT,
            "Request body timed out\n",
        ));
    };
    match collected {
        Ok(body) => Ok(body.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Err(e) => {
            log::debug!("request body could not be read: {e}");
            Err(text_response(
                StatusCode::BAD_REQUEST,
                "Request body could not be read\n",
            ))
        }
    }
}

/// Which reply formats an `Accept` header allows. A missing header allows everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepts {
    pub json: bool,
    pub sse: bool,
}

pub fn accepts(headers: &HeaderMap) -> Accepts {
    let mut found = false;
    let mut a = Accepts {
        json: false,
        sse: false,
    };
    // Compared in place (no lower-cased copies): this runs for every POST.
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim();
            let refused = parts.any(is_zero_quality);
            found = true;
            if refused {
                continue;
            }
            let is = |name: &str| media.eq_ignore_ascii_case(name);
            if is("*/*") {
                a.json = true;
                a.sse = true;
            } else if is("application/*") || is("application/json") {
                a.json = true;
            } else if is("text/*") || is("text/event-stream") {
                a.sse = true;
            }
        }
    }
    if !found {
        return Accepts {
            json: true,
            sse: true,
        };
    }
    a
}

/// Whether a media-range parameter is `q=0` (`0.0`, `0.00`, `0.000`), spaces ignored.
fn is_zero_quality(param: &str) -> bool {
    // The longest spelling, `q=0.000`, has 7 bytes; anything longer is not a zero weight.
    let mut spelled = [0u8; 7];
    let mut len = 0;
    for b in param.trim().bytes().filter(|&b| b != b' ') {
        if len == spelled.len() {
            return false;
        }
        spelled[len] = b;
        len += 1;
    }
    matches!(&spelled[..len], b"q=0" | b"q=0.0" | b"q=0.00" | b"q=0.000")
}

/// The host part of a `Host` header or an origin's authority (`[::1]:80` → `[::1]`).
fn host_only(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

fn is_loopback_host(host: &str) -> bool {
    // Digits and dots have no case: only `localhost` needs a case-insensitive comparison.
    host.eq_ignore_ascii_case("localhost")
        || host == "[::1]"
        || host.starts_with("127.") && host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// DNS-rebinding and cross-origin checks: `Err` carries the 403 reason.
pub fn check_host_and_origin(
    inst: &Instance,
    req: &Request<Incoming>,
) -> Result<(), (StatusCode, &'static str)> {
    let headers = req.headers();
    let forbidden = |why| Err((StatusCode::FORBIDDEN, why));
    let mut hosts = headers.get_all(header::HOST).iter();
    let host_header = hosts.next().and_then(|h| h.to_str().ok());
    if hosts.next().is_some() {
        return Err((
            StatusCode::BAD_REQUEST,
            "Bad Request: more than one Host header\n",
        ));
    }
    // An absolute-form target (or HTTP/2's :authority) names the host; else the Host header.
    let authority = req.uri().authority().map(|a| a.as_str());
    if authority.is_none() && host_header.is_none() && req.version() == hyper::Version::HTTP_11 {
        return Err((
            StatusCode::BAD_REQUEST,
            "Bad Request: missing Host header\n",
        ));
    }
    let host = authority.or(host_header);
    if inst.loopback
        && let Some(host) = host
        && !is_loopback_host(host_only(host))
    {
        return forbidden("Forbidden: Host is not a loopback name\n");
    }
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let Some(origin) = origins.next() else {
        return Ok(());
    };
    if origins.next().is_some() {
        return forbidden("Forbidden: more than one Origin header\n");
    }
    let Some(allowed) = &inst.shared.allowed_origins else {
        return Ok(());
    };
    let Ok(origin) = origin.to_str() else {
        return forbidden("Forbidden: invalid Origin\n");
    };
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    if !authority.is_empty()
        && (is_loopback_host(host_only(authority))
            || host.is_some_and(|h| h.eq_ignore_ascii_case(authority))
            || allowed.contains(&origin))
    {
        return Ok(());
    }
    forbidden("Forbidden: Origin not allowed\n")
}

fn add_cors(origin: Option<HeaderValue>, r: &mut HttpResponse) {
    if let Some(origin) = origin {
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Mcp-Session-Id, Mcp-Protocol-Version"),
        );
    }
}

fn preflight(headers: &HeaderMap) -> HttpResponse {
    let mut r = empty_response(StatusCode::NO_CONTENT);
    add_cors(headers.get(header::ORIGIN).cloned(), &mut r);
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID",
        ),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    r
}

fn probe(inst: &Instance, method: &Method, path: &str) -> HttpResponse {
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed("GET, HEAD");
    }
    let shared = &inst.shared;
    match path {
        "/health" => json_response(
            StatusCode::OK,
            format!(
                "{{\"status\":\"healthy\",\"uptime_seconds\":{},\"instance_id\":{}}}",
                shared.started.elapsed().as_secs(),
                serde_json::Value::from(inst.dispatcher.load().instance_id().unwrap_or_default())
            ),
        ),
        "/metrics" => metrics_response(),
        "/ready" => {
            if shared.shutting_down.load(Ordering::Relaxed) {
                json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "{\"status\":\"shutting down\"}",
                )
            } else {
                json_response(StatusCode::OK, "{\"status\":\"ready\"}")
            }
        }
        _ => json_response(StatusCode::OK, version_body(inst)),
    }
}

/// `GET /metrics`: the Prometheus text exposition.
fn metrics_response() -> HttpResponse {
    let mut r = Response::new(ResponseBody::full(crate::metrics::render()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    r
}

fn version_body(inst: &Instance) -> String {
    let d = inst.dispatcher.load();
    let c = d.catalog();
    let versions: Vec<String> = ProtocolVersion::ALL
        .iter()
        .map(|v| format!("\"{}\"", v.as_str()))
        .collect();
    // A size range (-tool-size=LO-HI) keeps `tool_size` the number it always is (the low end)
    // and adds its high end as `tool_size_max`; a fixed size adds nothing.
    let mut size_max = String::new();
    for (key, kind, lo) in [
        ("tool_size_max", crate::catalog::Kind::Tool, c.tool_size),
        (
            "resource_size_max",
            crate::catalog::Kind::Resource,
            c.resource_size,
        ),
        (
            "prompt_size_max",
            crate::catalog::Kind::Prompt,
            c.prompt_size,
        ),
    ] {
        if let Some(hi) = c.realism().map(|r| r.max_size(kind)).filter(|&hi| hi > lo) {
            size_max += &format!(",\"{key}\":{hi}");
        }
    }
    format!(
        "{{\"name\":\"benchmark-server\",\"version\":\"{}\",\"mcp_version\":\"{}\",\
\"protocol_versions\":[{}],\"server_name\":{},\"instance_id\":{},\"transport\":\"{}\",\
\"tools\":{},\"resources\":{},\"prompts\":{},\
\"tool_size\":{},\"resource_size\":{},\"prompt_size\":{}{}}}",
        env!("CARGO_PKG_VERSION"),
        ProtocolVersion::LATEST.as_str(),
        versions.join(","),
        serde_json::Value::from(d.server_name()),
        serde_json::Value::from(d.instance_id().unwrap_or_default()),
        inst.shared.transport.as_str(),
        c.tools,
        c.resources,
        c.prompts,
        c.tool_size,
        c.resource_size,
        c.prompt_size,
        size_max,
    )
}

/// Routes one request: probes, then authentication, then Host/Origin, then the transport.
async fn route(inst: &Instance, req: Request<Incoming>) -> HttpResponse {
    let path = req.uri().path().to_string();
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    match auth::gate(
        &path,
        authorization,
        inst.shared.auth_token.as_deref(),
        inst.config.metrics_public,
    ) {
        auth::Gate::Probe => return probe(inst, req.method(), &path),
        auth::Gate::Refused(failure) => {
            log::debug!(
                "authentication failed ({failure:?}) for {} {path}",
                req.method()
            );
            let mut r = text_response(StatusCode::UNAUTHORIZED, failure.message());
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(failure.challenge()),
            );
            return r;
        }
        auth::Gate::Authorized if inst.shared.auth_token.is_some() => {
            log::debug!("authenticated request {} {path}", req.method());
        }
        auth::Gate::Authorized => {}
    }
    if let Err((status, why)) = check_host_and_origin(inst, &req) {
        log::debug!("refused {} {path}: {}", req.method(), why.trim_end());
        return text_response(status, why);
    }
    if req.method() == Method::OPTIONS {
        return preflight(req.headers());
    }
    if path == "/metrics" {
        return probe(inst, req.method(), &path);
    }
    let origin = req.headers().get(header::ORIGIN).cloned();
    if inst.config.admin && path == crate::admin::PATH {
        return crate::admin::route(inst, req).await;
    }
    let mut response = match inst.shared.transport {
        Transport::Sse => sse::route(inst, &path, req).await,
        _ => http::route(inst, &path, req).await,
    };
    add_cors(origin, &mut response);
    response
}

/// Binds every instance of the run, then serves them until SIGINT/SIGTERM.
pub async fn serve(config: Config) -> Result<(), String> {
    let config = Arc::new(config);
    crate::metrics::set_served_transport(config.transport);
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        started: Instant::now(),
        shutting_down: AtomicBool::new(false),
        shutdown: stop_rx,
        auth_token: config.auth_token.as_ref().map(|t| t.as_bytes().to_vec()),
        allowed_origins: config.allowed_origins.clone(),
        max_request_bytes: config.max_request_bytes,
        sse_keepalive: config.sse_keepalive,
        transport: config.transport,
        connections: Arc::new(tokio::sync::Semaphore::new(config.max_connections)),
        max_connections: config.max_connections,
        last_refusal_warning: std::sync::atomic::AtomicU64::new(u64::MAX),
        sse_streams: limits::StreamSlots::new(config.max_sse_streams),
    });
    let multi = config.server_count > 1;
    let mut listeners = Vec::new();
    for i in 0..config.server_count {
        let addr = if multi {
            format!(
                "{}:{}",
                bracket(&config.listen),
                u32::from(config.start_port) + u32::from(i)
            )
        } else {
            match &config.addr {
                Some(a) => a.clone(),
                None => format!("{}:{}", bracket(&config.listen), config.port),
            }
        };
        let listener = bind(&addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| format!("{addr}: {e}"))?;
        listeners.push((i, listener, local));
    }
    if multi {
        log::info!(
            "multi-server mode: {} servers on ports {}-{}",
            config.server_count,
            config.start_port,
            u32::from(config.start_port) + u32::from(config.server_count) - 1
        );
    }
    let mut tasks = Vec::new();
    let mut instances = Vec::new();
    for (i, listener, local) in listeners {
        let (name, catalog) = if multi {
            (
                format!("benchmark-server-{i}"),
                config.catalog().for_instance(u32::from(i)),
            )
        } else {
            ("benchmark-server".to_string(), config.catalog())
        };
        let (public_base, public_path) =
            public_url_parts(config.public_url.as_deref(), multi.then_some(local.port()));
        let instance_id = match (&config.instance_id, multi) {
            (Some(id), false) => id.clone(),
            (Some(id), true) => format!("{id}-{i}"),
            (None, _) => format!("{}:{}", hostname(), local.port()),
        };
        let instance_header = HeaderValue::from_str(&instance_id)
            .unwrap_or_else(|_| HeaderValue::from_static("invalid-instance-id"));
        let dispatcher = Dispatcher::new(catalog, config.page_size, name.clone())
            .with_instance_id(instance_id)
            .with_cache_hints(config.cache)
            .with_faults(
                config
                    .faults
                    .is_active()
                    .then(|| Arc::new(crate::faults::Faults::new(config.faults.clone()))),
            );
        let inst = Arc::new(Instance {
            shared: shared.clone(),
            dispatcher: match config.admin {
                true => crate::admin::Swap::new(dispatcher),
                false => crate::admin::Swap::fixed(dispatcher),
            },
            config: config.clone(),
            sessions: SessionStore::new(
                config.session_mode,
                config.max_sessions,
                config.session_idle_timeout,
                config.session_secret.as_deref(),
            ),
            sse_sessions: sse::SseSessions::new(config.max_sessions),
            addr: local,
            loopback: local.ip().is_loopback(),
            public_base,
            public_path,
            instance_header,
        });
        log_banner(&inst, &name);
        instances.push(inst.clone());
        tasks.push(tokio::spawn(accept_loop(inst, listener)));
    }
    let sweeper = {
        let instances = instances.clone();
        tokio::spawn(async move {
            let Some(period) = instances.first().map(|i| i.sessions.sweep_interval()) else {
                return;
            };
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                for inst in &instances {
                    let n = inst.sessions.sweep();
                    if n > 0 {
                        log::debug!("dropped {n} idle session(s)");
                    }
                }
            }
        })
    };
    crate::shutdown::wait_for_signal().await;
    log::info!(
        "received shutdown signal, shutting down {} server(s)...",
        instances.len()
    );
    shared.shutting_down.store(true, Ordering::Relaxed);
    if !config.drain_delay.is_zero() {
        // Keep serving (with /ready at 503) so load balancers stop routing here first.
        log::info!(
            "draining for {:?} before closing the listeners",
            config.drain_delay
        );
        tokio::select! {
            _ = tokio::time::sleep(config.drain_delay) => {}
            _ = crate::shutdown::wait_for_signal() => log::info!("second signal: stopping now"),
        }
    }
    let _ = stop_tx.send(true);
    for inst in &instances {
        inst.sessions.clear();
        inst.sse_sessions.clear();
    }
    sweeper.abort();
    let deadline = config.shutdown_timeout;
    // Signal every instance's connections at once, then wait for all of them.
    let drains: Vec<_> = tasks
        .into_iter()
        .map(|t| {
            tokio::spawn(async move {
                match t.await {
                    Ok(graceful) => graceful.shutdown().await,
                    Err(e) => log::warn!("server task failed: {e}"),
                }
            })
        })
        .collect();
    let all = async {
        for d in drains {
            let _ = d.await;
        }
    };
    if tokio::time::timeout(deadline, all).await.is_err() {
        log::warn!("shutdown timeout ({deadline:?}) reached with requests still in flight");
    }
    log::info!("all servers stopped");
    Ok(())
}

/// Sent on every response; a constant name is not parsed and checked per request.
const INSTANCE_HEADER: header::HeaderName = header::HeaderName::from_static("x-instance-id");

/// Pending connections the kernel queues before `accept` (the default 128 makes a burst of
/// connects wait for SYN retransmits).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` (resolving names) with a deep accept queue.
async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(a).and_then(|()| socket.listen(LISTEN_BACKLOG)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("the address resolves to nothing")))
}

/// This machine's host name (the pod name in Kubernetes).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "localhost".to_string())
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Splits `-public-url` into the advertised base and its path; in multi-server mode the
/// instance's port replaces the URL's.
fn public_url_parts(url: Option<&str>, port: Option<u16>) -> (String, String) {
    let Some(url) = url else {
        return (String::new(), String::new());
    };
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority = match port {
        Some(p) => format!("{}:{p}", host_only(authority)),
        None => authority.to_string(),
    };
    let path = path.trim_end_matches('/').to_string();
    (format!("{scheme}://{authority}{path}"), path)
}

fn log_banner(inst: &Instance, name: &str) {
    let addr = inst.addr;
    match inst.shared.transport {
        Transport::Sse => {
            log::info!("[{name}] SSE server ready on http://{addr}");
            log::info!("[{name}]   MCP SSE events:   /sse");
            log::info!("[{name}]   MCP SSE messages: /messages (also /message)");
        }
        _ => {
            log::info!("[{name}] HTTP server ready on http://{addr}");
            log::info!(
                "[{name}]   MCP endpoint:     / and /mcp (Streamable HTTP, sessions: {})",
                inst.sessions.mode().as_str()
            );
        }
    }
    log::info!("[{name}]   Health check:     /health, readiness: /ready, version: /version");
    log::info!(
        "[{name}]   Metrics:          /metrics ({})",
        if inst.config.metrics_public || inst.shared.auth_token.is_none() {
            "no token needed"
        } else {
            "bearer token required"
        }
    );
    if !inst.public_base.is_empty() {
        log::info!("[{name}]   Public URL:       {}", inst.public_base);
    }
    if inst.shared.auth_token.is_some() {
        log::info!("[{name}]   Authentication:   Bearer token required");
    }
    log::info!("[{name}] listening on http://{addr}");
}

/// Accepts connections until shutdown; returns the watcher that drains them.
async fn accept_loop(inst: Arc<Instance>, listener: TcpListener) -> GracefulShutdown {
    let graceful = GracefulShutdown::new();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // The header and idle timeouts are kept by `limits::drive`.
        .header_read_timeout(None)
        // The most hyper buffers per connection (its default is about 400 KiB). Streamed
        // replies hold less (`chunks`: one chunk at a time); request heads must fit (64 KiB).
        .max_buf_size(128 * 1024)
        .keep_alive(true);
    let mut stop = inst.shared.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (stream, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and similar: say so, back off, keep serving.
                log::warn!("accept failed: {e}; retrying in 100 ms");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let header_timeout = inst.config.header_timeout;
        let idle_timeout = inst.config.idle_timeout;
        let activity = limits::Activity::new();
        let watched = activity.clone();
        let Ok(permit) = inst.shared.connections.clone().try_acquire_owned() else {
            refuse_connection(&inst.shared, stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let inst = inst.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let inst = inst.clone();
            let in_flight = watched.begin(req.version());
            async move {
                let logged = log::log_enabled!(log::Level::Debug).then(|| {
                    (
                        Instant::now(),
                        req.method().clone(),
                        req.uri().path().to_string(),
                    )
                });
                let mut response = route(&inst, req).await;
                crate::metrics::http_response(inst.shared.transport, response.status().as_u16());
                response
                    .headers_mut()
                    .insert(INSTANCE_HEADER, inst.instance_header.clone());
                if let Some((started, method, path)) = logged {
                    log::debug!(
                        "{remote} {method} {path} {} {:?}",
                        response.status().as_u16(),
                        started.elapsed()
                    );
                }
                Ok::<_, Infallible>(response.map(|b| limits::Counted::new(b, in_flight)))
            }
        });
        let io = TokioIo::new(limits::Tracked::new(stream, activity.clone()));
        let conn = builder.serve_connection(io, service).into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let result = limits::drive(conn, &activity, header_timeout, idle_timeout, remote).await;
            if let Err(e) = result {
                log::debug!("connection from {remote} ended: {e}");
            }
            drop(permit);
        });
    }
    graceful
}

/// Answers a connection over `-max-connections` with a 503 and closes it.
fn refuse_connection(shared: &Shared, mut stream: tokio::net::TcpStream) {
    let now = shared.started.elapsed().as_secs();
    // One warning a second at most: a flood must not become a log flood.
    if shared.last_refusal_warning.swap(now, Ordering::Relaxed) != now {
        log::warn!(
            "connection limit (-max-connections={}) reached; refusing new connections",
            shared.max_connections
        );
    }
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\
Retry-After: 1\r\nContent-Length: 29\r\nConnection: close\r\n\r\nToo many connections, retry.\n";
        crate::metrics::http_response(crate::metrics::served_transport(), 503);
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(BUSY)).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn accept_header_parsing() {
        // (Accept headers, whether JSON is accepted, whether SSE is)
        let cases: &[(&[&'static str], bool, bool)] = &[
            (&[], true, true),
            (&["application/json, text/event-stream"], true, true),
            (&["text/event-stream"], false, true),
            (&["application/json"], true, false),
            (&["*/*"], true, true),
            (&["text/html"], false, false),
            (&["application/json;q=0, text/event-stream"], false, true),
            // Weights are read with spaces ignored; only the four spellings of zero refuse.
            (
                &[" Application/JSON ; charset=utf-8 ; q = 0.000 ,\tText/Event-Stream;q=0.5"],
                false,
                true,
            ),
            (&["*/*;q=0.0001, text/*;Q=0"], true, true),
            (&["application/*;q=0."], true, false),
            // Several Accept headers add up; a refused range in one does not undo another.
            (
                &["text/event-stream;q=0", "text/*, application/json"],
                true,
                true,
            ),
            // A header that says nothing useful still counts as present.
            (&[""], false, false),
            (&["APPLICATION/JSON"], true, false),
        ];
        for &(values, json, sse) in cases {
            let pairs: Vec<_> = values.iter().map(|v| ("accept", *v)).collect();
            assert_eq!(
                accepts(&headers(&pairs)),
                Accepts { json, sse },
                "{values:?}"
            );
        }
    }

    #[test]
    fn host_names() {
        assert_eq!(host_only("localhost:8080"), "localhost");
        assert_eq!(host_only("[::1]:80"), "[::1]");
        assert_eq!(host_only("example.com"), "example.com");
        assert!(is_loopback_host("127.0.0.1"));
        assert!(is_loopback_host("LOCALHOST"));
        assert!(is_loopback_host("[::1]"));
        assert!(!is_loopback_host("127.0.0.1.evil.example"));
        assert!(!is_loopback_host("evil.example.com"));
    }

    #[test]
    fn public_urls() {
        assert_eq!(public_url_parts(None, None), (String::new(), String::new()));
        assert_eq!(
            public_url_parts(Some("http://example.test:9999"), None),
            ("http://example.test:9999".to_string(), String::new())
        );
        assert_eq!(
            public_url_parts(Some("https://example.test/base"), Some(9001)),
            (
                "https://example.test:9001/base".to_string(),
                "/base".to_string()
            )
        );
    }
}
