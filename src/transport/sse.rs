//! Legacy HTTP+SSE (protocol 2024-11-05): `GET /sse` opens a stream whose first event names
//! the message endpoint; `POST /messages?sessionId=…` (also `/message`, the path the Go server
//! served) answers `202 Accepted` and the JSON-RPC response travels on the stream as an
//! `event: message`.
//!
//! Each stream has a bounded queue of [`QUEUE_CHUNKS`] events, and a large reply's next 32 KiB
//! chunk is written only once the one before it has left for the socket ([`ChunkBudget`]):
//! a POST waits for room (so a client that reads slowly is slowed down, not buffered without
//! bound, and a stream holds about one chunk however large the reply); if it waits for
//! [`SEND_TIMEOUT`], the session is closed and the POST gets 503.
//! Closing the stream frees its session at once. Fixture calls that ask the client for input
//! (`-profile=conformance`) send their requests on the stream too ([`crate::roundtrip`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use tokio::sync::mpsc;

use super::chunks::{ChunkBudget, STREAM_BUDGET};
use super::{
    EventStream, HttpResponse, Instance, ResponseBody, empty_response, json_response,
    method_not_allowed, read_body, sse_headers, text_response, with_parser,
};
use crate::cli::Transport;
use crate::dispatch::{CHUNK_BYTES, Reply, Session};
use crate::mcp::error_code;
use crate::metrics;
use crate::session::new_session_id;

/// Events a stream may have queued before POSTs wait.
pub const QUEUE_CHUNKS: usize = 64;
/// How long a POST waits for room in a full queue before the session is closed.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Events larger than this count against the stream's [`ChunkBudget`]; smaller ones only
/// against [`QUEUE_CHUNKS`] (so at most 256 KiB of them wait).
const SMALL_EVENT: usize = 4096;

const SSE_EVENT_START: &[u8] = b"event: message\ndata: ";

struct SseSession {
    state: Mutex<Session>,
    /// Held while one reply's chunks are queued, so replies never interleave.
    tx: Arc<tokio::sync::Mutex<mpsc::Sender<Bytes>>>,
    /// The large events of this stream not yet written to its socket.
    budget: ChunkBudget,
}

type Table = Arc<Mutex<HashMap<String, Arc<SseSession>>>>;

/// The open legacy SSE sessions of one instance.
pub struct SseSessions {
    max: usize,
    table: Table,
}

/// Removes session `id`, if it is still there, from the table and the live-session gauge.
fn remove_counted(table: &Table, id: &str) {
    if lock(table).remove(id).is_some() {
        metrics::sessions_changed(Transport::Sse, -1);
    }
}

fn lock(table: &Table) -> MutexGuard<'_, HashMap<String, Arc<SseSession>>> {
    table.lock().unwrap_or_else(|e| e.into_inner())
}

impl SseSessions {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            table: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn len(&self) -> usize {
        lock(&self.table).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ends every stream (their senders are dropped).
    pub fn clear(&self) {
        let mut table = lock(&self.table);
        metrics::sessions_changed(Transport::Sse, -(table.len() as i64));
        table.clear();
    }

    fn get(&self, id: &str) -> Option<Arc<SseSession>> {
        lock(&self.table).get(id).cloned()
    }

    fn remove(&self, id: &str) {
        remove_counted(&self.table, id);
    }
}

/// Routes a request that passed authentication and the Host/Origin checks.
pub async fn route(inst: &Instance, path: &str, req: Request<Incoming>) -> HttpResponse {
    // With -public-url=http://host/base, /base/sse is served as well as /sse.
    let path = match path.strip_prefix(inst.public_path.as_str()) {
        Some(p) if !inst.public_path.is_empty() && p.starts_with('/') => p,
        _ => path,
    };
    match path {
        "/sse" => match *req.method() {
            Method::GET => open(inst),
            _ => method_not_allowed("GET, OPTIONS"),
        },
        "/messages" | "/message" => match *req.method() {
            Method::POST => message(inst, req).await,
            _ => method_not_allowed("POST, OPTIONS"),
        },
        _ => text_response(
            StatusCode::NOT_FOUND,
            "Not found: the SSE endpoints are /sse and /messages\n",
        ),
    }
}

fn open(inst: &Instance) -> HttpResponse {
    let sessions = &inst.sse_sessions;
    let slot = match inst.shared.sse_streams.acquire() {
        Ok(slot) => slot,
        Err(refused) => return refused,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(QUEUE_CHUNKS);
    let id = new_session_id();
    let endpoint = format!(
        "event: endpoint\ndata: {}/messages?sessionId={id}\n\n",
        inst.public_base
    );
    if tx.try_send(Bytes::from(endpoint)).is_err() {
        return text_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Stream could not start\n",
        );
    }
    let feed;
    {
        let mut table = lock(&sessions.table);
        if table.len() >= sessions.max {
            log::warn!(
                "SSE session limit ({}) reached; refusing a new stream",
                sessions.max
            );
            let mut r = text_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many open SSE sessions\n",
            );
            r.headers_mut().insert(
                hyper::header::RETRY_AFTER,
                hyper::header::HeaderValue::from_static("5"),
            );
            return r;
        }
        let session = Arc::new(SseSession {
            state: Mutex::new(Session::default()),
            tx: Arc::new(tokio::sync::Mutex::new(tx)),
            budget: ChunkBudget::new(STREAM_BUDGET),
        });
        feed = crate::churn::Feed::new(
            &inst.dispatcher.load(),
            crate::churn::Interest::all_lists(),
            Some(subscriptions_of(&session)),
        );
        table.insert(id.clone(), session);
        metrics::sessions_changed(Transport::Sse, 1);
    }
    log::debug!("SSE stream opened ({} open)", sessions.len());
    let table = sessions.table.clone();
    let on_close = Box::new(move || {
        remove_counted(&table, &id);
        log::debug!("SSE stream closed");
    });
    let stream = EventStream::new(&inst.shared, slot, rx, Some(on_close)).with_churn(feed);
    let mut response = HttpResponse::new(ResponseBody::Events(Box::new(stream)));
    sse_headers(&mut response);
    response
}

/// Reads the resource subscriptions of `session` (weakly: the session owns the stream's sender).
fn subscriptions_of(session: &Arc<SseSession>) -> crate::churn::Subscriptions {
    let session = Arc::downgrade(session);
    Box::new(move || {
        session
            .upgrade()
            .map(|s| {
                let state = s.state.lock().unwrap_or_else(|e| e.into_inner());
                state.subscriptions.clone()
            })
            .unwrap_or_default()
    })
}

fn query_session_id(req: &Request<Incoming>) -> Option<&str> {
    req.uri()
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("sessionId="))
        .filter(|id| !id.is_empty())
}

async fn message(inst: &Instance, req: Request<Incoming>) -> HttpResponse {
    let Some(id) = query_session_id(&req).map(str::to_string) else {
        return text_response(StatusCode::BAD_REQUEST, "Bad Request: missing sessionId\n");
    };
    let Some(session) = inst.sse_sessions.get(&id) else {
        return text_response(
            StatusCode::NOT_FOUND,
            "Session not found: open a new /sse stream\n",
        );
    };
    let body = match read_body(req, inst.shared.max_request_bytes).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let dispatcher = inst.dispatcher.load();
    // A fixture that sends requests to the client runs beside the stream, which carries its
    // requests and result; the client's answers come back as POSTs routed by the dispatcher.
    let planned = if dispatcher.catalog().has_fixtures() {
        crate::roundtrip::plan(
            &dispatcher,
            &mut session.state.lock().unwrap_or_else(|e| e.into_inner()),
            &body,
        )
    } else {
        None
    };
    if let Some(planned) = planned {
        let tx = session.tx.lock().await.clone();
        match planned {
            crate::roundtrip::Planned::Run(call) => {
                tokio::spawn(call.run(tx));
            }
            crate::roundtrip::Planned::Refused(error) => {
                let event = Bytes::from(super::sse_events(&error));
                if !matches!(
                    tokio::time::timeout(SEND_TIMEOUT, tx.send(event)).await,
                    Ok(Ok(()))
                ) {
                    return text_response(StatusCode::NOT_FOUND, "Session closed\n");
                }
            }
        }
        return text_response(StatusCode::ACCEPTED, "Accepted\n");
    }
    let plan = dispatcher
        .faults()
        .and_then(|f| f.plan(dispatcher.catalog(), &body));
    // A delayed call that reports progress says "Waiting" on the stream now, ahead of the
    // delay (a transport fault is the POST's status, so it gets no progress).
    let mut progress = crate::faults::Progress::Both;
    if let Some(p) = plan
        .as_ref()
        .filter(|p| p.reports_progress() && p.transport_fault().is_none())
    {
        let mut waiting = Vec::with_capacity(256);
        p.write_progress(&body, &mut waiting, false);
        let event = Bytes::from(super::sse_events(&waiting));
        let tx = session.tx.lock().await;
        if !matches!(
            tokio::time::timeout(SEND_TIMEOUT, tx.send(event)).await,
            Ok(Ok(()))
        ) {
            return text_response(StatusCode::NOT_FOUND, "Session closed\n");
        }
        progress = crate::faults::Progress::Done;
    }
    if let Some(p) = &plan
        && let Some(r) = crate::faults::http_prelude(
            p,
            &body,
            &inst.shared,
            &dispatcher,
            crate::dispatch::EraHint::FromMessage,
        )
        .await
    {
        return r;
    }
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(SSE_EVENT_START);
    let started = Instant::now();
    let outcome = with_parser(|parser| {
        crate::faults::dispatch(
            plan.as_ref(),
            &body,
            &mut out,
            progress,
            &dispatcher,
            crate::dispatch::EraHint::FromMessage,
            |out| {
                let mut state = session.state.lock().unwrap_or_else(|e| e.into_inner());
                dispatcher.handle(&mut state, parser, &body, out)
            },
        )
    });
    metrics::record(Transport::Sse, &outcome, started);
    let rest = match outcome.reply {
        Reply::Nothing => return empty_response(StatusCode::ACCEPTED),
        Reply::Complete | Reply::Subscription => None,
        Reply::Partial(rest) => Some(rest),
    };
    if outcome.method.is_none()
        && matches!(
            outcome.error_code,
            Some(error_code::PARSE_ERROR | error_code::INVALID_REQUEST)
        )
    {
        return json_response(
            StatusCode::BAD_REQUEST,
            out.split_off(SSE_EVENT_START.len()),
        );
    }
    // Replies leave in the order their POSTs took this lock; a large one keeps it until its
    // last chunk is queued.
    let tx = session.tx.clone().lock_owned().await;
    let mut chunk = out;
    if outcome.messages > 1 {
        // Notifications about the request first, one event each, then the response: the
        // events are framed here, so the pump adds no closing blank line.
        chunk = super::sse_events(&chunk[SSE_EVENT_START.len()..]);
        chunk.truncate(chunk.len() - 2);
    }
    let mut pump = ReplyPump {
        session: session.clone(),
        tx,
        rest,
        dispatcher: dispatcher.clone(),
    };
    // The POST waits for its first chunk to be queued (so a stream nobody reads refuses it);
    // the rest is queued as the client reads, after the 202, by a task of its own.
    match pump.send(chunk).await {
        Ok(true) => {}
        Ok(false) => {
            let table = inst.sse_sessions.table.clone();
            tokio::spawn(async move {
                loop {
                    match pump.send_next().await {
                        Ok(false) => {}
                        Ok(true) | Err(PumpError::Closed) => break,
                        Err(PumpError::Stalled) => {
                            remove_counted(&table, &id);
                            break;
                        }
                    }
                }
            });
        }
        Err(PumpError::Closed) => return text_response(StatusCode::NOT_FOUND, "Session closed\n"),
        Err(PumpError::Stalled) => {
            inst.sse_sessions.remove(&id);
            return text_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "The SSE stream is not being read; session closed\n",
            );
        }
    }
    text_response(StatusCode::ACCEPTED, "Accepted\n")
}

enum PumpError {
    /// The stream has ended.
    Closed,
    /// The stream was not read for [`SEND_TIMEOUT`].
    Stalled,
}

/// Queues one reply on a stream, chunk by chunk: each chunk past the first is written only
/// once the one before it has gone to the socket.
struct ReplyPump {
    session: Arc<SseSession>,
    tx: tokio::sync::OwnedMutexGuard<mpsc::Sender<Bytes>>,
    rest: Option<crate::dispatch::Continuation>,
    dispatcher: Arc<crate::dispatch::Dispatcher>,
}

impl ReplyPump {
    /// Waits for room, then tops `chunk` up from the reply and queues it; `Ok(true)` once the
    /// reply is all queued.
    async fn send(&mut self, mut chunk: Vec<u8>) -> Result<bool, PumpError> {
        if chunk.len() > SMALL_EVENT || self.rest.is_some() {
            self.wait_for_room().await?;
        }
        let budget = &self.session.budget;
        let last = match self.rest.as_mut() {
            None => true,
            Some(r) => {
                chunk.len() < CHUNK_BYTES
                    && r.write_more(self.dispatcher.catalog(), &mut chunk, CHUNK_BYTES)
            }
        };
        if last {
            chunk.extend_from_slice(b"\n\n");
            self.rest = None;
            budget.finish();
        }
        let event = if chunk.len() > SMALL_EVENT {
            budget.track(chunk)
        } else {
            Bytes::from(chunk)
        };
        match tokio::time::timeout(SEND_TIMEOUT, self.tx.send(event)).await {
            Ok(Ok(())) => Ok(last),
            Ok(Err(_)) => Err(PumpError::Closed),
            Err(_) => Err(self.stall()),
        }
    }

    /// Queues the reply's next chunk.
    async fn send_next(&mut self) -> Result<bool, PumpError> {
        self.wait_for_room().await?;
        let chunk = self.session.budget.buffer();
        self.send(chunk).await
    }

    async fn wait_for_room(&mut self) -> Result<(), PumpError> {
        match tokio::time::timeout(SEND_TIMEOUT, self.session.budget.ready()).await {
            Ok(()) => Ok(()),
            Err(_) => Err(self.stall()),
        }
    }

    /// Gives up on the stream: POSTs waiting behind this reply find the session closed.
    fn stall(&mut self) -> PumpError {
        log::warn!("SSE client stopped reading for {SEND_TIMEOUT:?}; closing its session");
        let (closed, _) = mpsc::channel(1);
        *self.tx = closed;
        PumpError::Stalled
    }
}
