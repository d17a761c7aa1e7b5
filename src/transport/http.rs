//! Streamable HTTP (protocol 2025-03-26 … 2025-11-25) at `/` and `/mcp`.
//!
//! `POST` carries one JSON-RPC message (a batch only under 2025-03-26): requests are answered
//! with `application/json` or, for clients that accept only `text/event-stream` (or with
//! `-response-mode=sse`), as a one-event SSE stream; notifications and client responses get
//! `202`. `GET` opens the session's server-to-client SSE stream, `DELETE` ends the session.
//! Large replies are streamed as body chunks straight from the dispatcher.

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use tokio::sync::mpsc;

use super::{
    EventStream, HttpResponse, Instance, ResponseBody, StreamingReply, accepts, empty_response,
    json_response, method_not_allowed, read_body, sse_headers, text_response, with_parser,
};
use crate::cli::{ResponseMode, SessionMode};
use crate::dispatch::{Reply, Session};
use crate::json::member_span;
use crate::mcp::{Method as McpMethod, ProtocolVersion, error_code};
use crate::session::Found;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
const ALLOW: &str = "GET, POST, DELETE, OPTIONS";
const SSE_EVENT_START: &[u8] = b"event: message\ndata: ";
const SSE_EVENT_END: &[u8] = b"\n\n";

/// Routes a request that passed authentication and the Host/Origin checks.
pub async fn route(inst: &Instance, path: &str, req: Request<Incoming>) -> HttpResponse {
    if path != "/" && path != "/mcp" {
        return text_response(
            StatusCode::NOT_FOUND,
            "Not found: the MCP endpoint is / or /mcp\n",
        );
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
        .ok_or_else(|| {
            text_response(
                StatusCode::BAD_REQUEST,
                "Bad Request: unsupported MCP-Protocol-Version (supported: 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25)\n",
            )
        })
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
    let header_version = match protocol_header(&req) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mode = inst.sessions.mode();
    let presented = session_id(&req).map(str::to_string);
    let body = match read_body(req, inst.shared.max_request_bytes).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let initialize = is_initialize(&body);
    // The session whose state this request uses (None: a fresh one, e.g. for initialize).
    let found = match (mode, initialize, &presented) {
        (SessionMode::Stateless, _, _) | (_, true, _) => None,
        (_, false, None) => return missing_session(),
        (_, false, Some(id)) => match inst.sessions.get(id) {
            Some(f) => Some(f),
            None => return unknown_session(),
        },
    };
    let sse = match inst.config.response_mode {
        ResponseMode::Json => false,
        ResponseMode::Sse => true,
        ResponseMode::Auto => !accept.json,
    };
    let mut out = Vec::with_capacity(1024);
    if sse {
        out.extend_from_slice(SSE_EVENT_START);
    }
    let prefix_len = out.len();
    let dispatcher = &inst.dispatcher;
    let mut fresh = Session {
        protocol: header_version.or(Some(ProtocolVersion::DEFAULT_ASSUMED)),
        ..Session::default()
    };
    let outcome = with_parser(|parser| match &found {
        Some(Found::Stored(entry)) => {
            dispatcher.handle(&mut entry.state(), parser, &body, &mut out)
        }
        Some(Found::Signed(state)) => {
            dispatcher.handle(&mut state.clone(), parser, &body, &mut out)
        }
        None => dispatcher.handle(&mut fresh, parser, &body, &mut out),
    });
    let rest = match outcome.reply {
        Reply::Nothing => return empty_response(StatusCode::ACCEPTED),
        Reply::Complete => None,
        Reply::Partial(rest) => Some(rest),
    };
    // Messages that are not JSON-RPC at all are refused at the HTTP level too.
    if outcome.method.is_none()
        && matches!(
            outcome.error_code,
            Some(error_code::PARSE_ERROR | error_code::INVALID_REQUEST)
        )
    {
        return json_response(StatusCode::BAD_REQUEST, out.split_off(prefix_len));
    }
    let new_session = (initialize
        && mode != SessionMode::Stateless
        && outcome.method == Some(McpMethod::Initialize)
        && outcome.error_code.is_none())
    .then(|| inst.sessions.create(fresh));
    let mut response = match rest {
        None => {
            if sse {
                out.extend_from_slice(SSE_EVENT_END);
            }
            HttpResponse::new(ResponseBody::full(out))
        }
        Some(rest) => HttpResponse::new(ResponseBody::Streaming(Box::new(StreamingReply {
            dispatcher: inst.dispatcher.clone(),
            first: Some(Bytes::from(out)),
            rest: Some(rest),
            suffix: if sse { SSE_EVENT_END } else { b"" },
        }))),
    };
    if sse {
        sse_headers(&mut response);
    } else {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if let Some(id) = new_session
        && let Ok(v) = HeaderValue::from_str(&id)
    {
        response.headers_mut().insert(SESSION_HEADER, v);
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
    let stream = match inst.sessions.get(id) {
        None => return unknown_session(),
        Some(Found::Stored(entry)) => {
            let (tx, rx) = mpsc::channel::<Bytes>(16);
            if !entry.add_stream(tx) {
                return text_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many open streams for this session\n",
                );
            }
            EventStream::new(&inst.shared, rx, None)
        }
        // A signed session has no server-side state to attach to: keep-alives until shutdown.
        Some(Found::Signed(_)) => EventStream::idle(&inst.shared),
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
