//! Streamable HTTP end to end: the real binary on a loopback port, raw HTTP/1.1 requests,
//! every endpoint and status code.

mod common;
mod http_support;

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use common::{TIMEOUT, assert_payload, assert_timestamp_now, command, preview};
use http_support::{
    Conn, HttpServer, LATEST, NoEvent, Request, SseStream, error_of, initialize, list_names,
    notification, parse_events, result_of, rpc,
};
use serde_json::{Value, json};

/// Starts a Streamable HTTP server on a free loopback port with `extra` flags.
fn start(extra: &[&str]) -> HttpServer {
    let mut args = vec!["-transport=http", "-listen=127.0.0.1", "-port=0"];
    args.extend_from_slice(extra);
    let mut cmd = command(&args);
    cmd.env_remove("SESSION_SECRET");
    HttpServer::start_command(cmd, 1)
}

/// Sends `initialize` (asking for `version`) to `path` and returns the session id.
fn open_session(s: &HttpServer, path: &str, version: &str) -> String {
    let r = s.send(&Request::mcp(path, &initialize(1, Some(version))));
    r.expect(200);
    assert_eq!(result_of(&r.json(), 1)["protocolVersion"], version);
    let id = r
        .session_id()
        .unwrap_or_else(|| panic!("no Mcp-Session-Id in {:?}", r.head))
        .to_string();
    assert!(!id.is_empty());
    assert!(
        id.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "session id must be visible ASCII: {id:?}"
    );
    id
}

/// A POST of `message` in session `id`.
fn in_session(id: &str, message: &Value) -> Request {
    Request::mcp("/mcp", message).session(id)
}

fn ping(id: i64) -> Value {
    rpc(id, "ping", Value::Null)
}

/// Asserts `r` is a JSON reply to a ping with `id`.
#[track_caller]
fn assert_pong(r: &http_support::Response, id: i64) {
    r.expect(200);
    assert!(
        r.content_type().starts_with("application/json"),
        "{:?}",
        r.head
    );
    assert_eq!(r.json(), json!({"jsonrpc": "2.0", "id": id, "result": {}}));
}

#[test]
fn initialize_on_root_and_on_mcp() {
    let s = start(&[]);
    for path in ["/", "/mcp"] {
        let r = s.send(&Request::mcp(path, &initialize(7, Some(LATEST))));
        r.expect(200);
        assert_eq!(r.content_type(), "application/json");
        let result = result_of(&r.json(), 7);
        assert_eq!(result["protocolVersion"], LATEST);
        assert_eq!(result["serverInfo"]["name"], "benchmark-server");
        assert!(result["capabilities"]["tools"].is_object(), "{result}");
        let id = r.session_id().expect("Mcp-Session-Id");
        assert!(id.len() >= 16, "{id:?}");
        assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{id:?}");
    }
    // Two initializes, two different sessions; each usable on both paths.
    let a = open_session(&s, "/", LATEST);
    let b = open_session(&s, "/mcp", LATEST);
    assert_ne!(a, b);
    for id in [&a, &b] {
        for path in ["/", "/mcp"] {
            assert_pong(&s.send(&Request::mcp(path, &ping(3)).session(id)), 3);
        }
    }
}

#[test]
fn initialize_negotiates_each_supported_version() {
    let s = start(&[]);
    for v in ["2025-03-26", "2025-06-18", "2025-11-25"] {
        open_session(&s, "/mcp", v);
    }
    // An unknown requested version gets the latest.
    let r = s.send(&Request::mcp("/mcp", &initialize(1, Some("1999-01-01"))));
    r.expect(200);
    assert_eq!(result_of(&r.json(), 1)["protocolVersion"], LATEST);
}

#[test]
fn session_header_is_required_known_and_ends_with_delete() {
    let s = start(&[]);
    let id = open_session(&s, "/mcp", LATEST);
    assert_pong(&s.send(&in_session(&id, &ping(2))), 2);

    let r = s.send(&Request::mcp("/mcp", &ping(3)));
    r.expect(400);
    assert!(r.text().contains("Mcp-Session-Id"), "{}", r.text());

    s.send(&in_session("0123456789abcdef0123456789abcdef", &ping(4)))
        .expect(404);
    s.send(&in_session("no-such-session", &ping(4))).expect(404);

    s.send(&Request::delete("/mcp")).expect(400);
    s.send(&Request::delete("/mcp").session("no-such-session"))
        .expect(404);

    let r = s.send(&Request::delete("/mcp").session(&id));
    r.expect(200);
    assert!(r.body.is_empty(), "{}", r.text());
    s.send(&in_session(&id, &ping(5))).expect(404);
    s.send(&Request::delete("/mcp").session(&id)).expect(404);
    s.send(&Request::sse("/mcp").session(&id)).expect(404);

    // A new initialize still works and gets a new id.
    let again = open_session(&s, "/mcp", LATEST);
    assert_ne!(again, id);
}

#[test]
fn notifications_and_client_responses_get_202_without_a_body() {
    let s = start(&[]);
    let id = open_session(&s, "/mcp", LATEST);
    let r = s.send(&in_session(&id, &notification("notifications/initialized")));
    r.expect(202);
    assert!(r.body.is_empty(), "{}", r.text());

    let response = json!({"jsonrpc": "2.0", "id": 99, "result": {}});
    let r = s.send(&in_session(&id, &response));
    r.expect(202);
    assert!(r.body.is_empty(), "{}", r.text());

    let error = json!({"jsonrpc": "2.0", "id": 98, "error": {"code": -1, "message": "no"}});
    s.send(&in_session(&id, &error)).expect(202);

    let cancelled = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 1}});
    s.send(&in_session(&id, &cancelled)).expect(202);
}

#[test]
fn protocol_version_header() {
    let s = start(&[]);
    let id = open_session(&s, "/mcp", LATEST);
    // Unsupported: 400, on every method.
    let r = s.send(&in_session(&id, &ping(2)).protocol("1999-01-01"));
    r.expect(400);
    assert!(r.text().contains("MCP-Protocol-Version"), "{}", r.text());
    s.send(&Request::mcp("/mcp", &initialize(1, Some(LATEST))).protocol("1999-01-01"))
        .expect(400);
    s.send(&Request::sse("/mcp").session(&id).protocol("1999-01-01"))
        .expect(400);
    s.send(&in_session(&id, &ping(2)).protocol("")).expect(400);
    // Missing: fine.
    assert_pong(&s.send(&in_session(&id, &ping(3))), 3);
    // The negotiated one and any other supported one, mid-session.
    assert_pong(&s.send(&in_session(&id, &ping(4)).protocol(LATEST)), 4);
    assert_pong(
        &s.send(&in_session(&id, &ping(5)).protocol("2025-03-26")),
        5,
    );
    assert_pong(
        &s.send(&in_session(&id, &ping(6)).protocol("2025-06-18")),
        6,
    );
}

#[test]
fn accept_header_selects_the_reply_format() {
    let s = start(&[]);
    let id = open_session(&s, "/mcp", LATEST);

    // Only SSE acceptable: the reply is one `message` event.
    let r = s.send(&in_session(&id, &ping(2)).set("Accept", "text/event-stream"));
    r.expect(200);
    assert!(
        r.content_type().starts_with("text/event-stream"),
        "{:?}",
        r.head
    );
    let text = r.text();
    assert!(text.starts_with("event: message\ndata: {"), "{text:?}");
    assert!(text.ends_with("}\n\n"), "{text:?}");
    let events = parse_events(&text);
    assert_eq!(events.len(), 1, "{text:?}");
    assert_eq!(events[0].event.as_deref(), Some("message"));
    assert_eq!(
        events[0].json(),
        json!({"jsonrpc": "2.0", "id": 2, "result": {}})
    );

    // Nothing acceptable.
    let r = s.send(&in_session(&id, &ping(3)).set("Accept", "text/html"));
    r.expect(406);

    // No Accept at all, JSON only, both, or a wildcard: JSON.
    assert_pong(&s.send(&in_session(&id, &ping(4)).without("Accept")), 4);
    assert_pong(
        &s.send(&in_session(&id, &ping(5)).set("Accept", "application/json")),
        5,
    );
    assert_pong(&s.send(&in_session(&id, &ping(6))), 6);
    assert_pong(&s.send(&in_session(&id, &ping(7)).set("Accept", "*/*")), 7);

    // An initialize asking for SSE gets its session id on the SSE reply.
    let r = s.send(
        &Request::mcp("/mcp", &initialize(8, Some(LATEST))).set("Accept", "text/event-stream"),
    );
    r.expect(200);
    assert!(r.content_type().starts_with("text/event-stream"));
    assert!(r.session_id().is_some(), "{:?}", r.head);
    assert_eq!(result_of(&r.message(), 8)["protocolVersion"], LATEST);
}

#[test]
fn response_mode_sse_forces_event_streams() {
    let s = start(&["-response-mode=sse"]);
    let r = s.send(
        &Request::mcp("/mcp", &initialize(1, Some(LATEST))).set("Accept", "application/json"),
    );
    r.expect(200);
    assert!(
        r.content_type().starts_with("text/event-stream"),
        "{:?}",
        r.head
    );
    let id = r.session_id().expect("session id").to_string();
    result_of(&r.message(), 1);
    let r = s.send(&in_session(&id, &ping(2)).set("Accept", "application/json"));
    r.expect(200);
    assert!(
        r.content_type().starts_with("text/event-stream"),
        "{:?}",
        r.head
    );
    assert_eq!(
        r.message(),
        json!({"jsonrpc": "2.0", "id": 2, "result": {}})
    );
    // Notifications are still a bare 202.
    let r = s.send(&in_session(&id, &notification("notifications/initialized")));
    r.expect(202);
    assert!(r.body.is_empty());
}

#[test]
fn response_mode_json_forces_json() {
    let s = start(&["-response-mode=json"]);
    let r = s.send(
        &Request::mcp("/mcp", &initialize(1, Some(LATEST))).set("Accept", "text/event-stream"),
    );
    r.expect(200);
    assert_eq!(r.content_type(), "application/json");
    let id = r.session_id().expect("session id").to_string();
    result_of(&r.json(), 1);
    assert_pong(
        &s.send(&in_session(&id, &ping(2)).set("Accept", "text/event-stream")),
        2,
    );
}

#[test]
fn get_opens_the_session_stream_with_keepalives() {
    let s = start(&["-sse-keepalive=200ms"]);
    let id = open_session(&s, "/mcp", LATEST);

    let started = Instant::now();
    let mut stream = SseStream::open(s.addr(), &Request::sse("/mcp").session(&id));
    for _ in 0..2 {
        let e = stream.next();
        assert!(e.is_comment(), "only keep-alives on an idle stream: {e:?}");
        assert!(!e.comments.is_empty(), "{e:?}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "two 200 ms keep-alives took {:?}",
        started.elapsed()
    );
    // The stream does not end on its own.
    assert_ne!(
        stream.try_next(Duration::from_millis(50)),
        Err(NoEvent::Ended)
    );

    // Requests keep working while the stream is open.
    assert_pong(&s.send(&in_session(&id, &ping(2))), 2);

    s.send(&Request::sse("/mcp")).expect(400);
    s.send(&Request::sse("/mcp").session("no-such-session"))
        .expect(404);
    s.send(
        &Request::get("/mcp")
            .session(&id)
            .header("Accept", "application/json"),
    )
    .expect(406);

    // Ending the session ends its stream.
    s.send(&Request::delete("/mcp").session(&id)).expect(200);
    stream.expect_end(TIMEOUT);
}

#[test]
fn other_methods_and_paths() {
    let s = start(&[]);
    for method in ["PUT", "PATCH"] {
        let r = s.send(&Request::new(method, "/mcp").body("{}"));
        r.expect(405);
        let allow = r.header("allow").expect("Allow header").to_string();
        for m in ["GET", "POST", "DELETE"] {
            assert!(allow.contains(m), "{allow}");
        }
    }
    s.send(&Request::new("PUT", "/").body("{}")).expect(405);
    for path in [
        "/nope",
        "/mcp/",
        "/mcp/x",
        "/sse",
        "/messages",
        "/MCP",
        "/mcpx",
    ] {
        let r = s.send(&Request::mcp(path, &ping(1)));
        r.expect(404);
        s.send(&Request::get(path)).expect(404);
    }
}

#[test]
fn oversized_bodies_get_413() {
    let s = start(&["-max-request-bytes=2048"]);
    let id = open_session(&s, "/mcp", LATEST);

    // A declared length over the limit is refused before the body is sent.
    let mut c = s.connect();
    c.write(
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Accept: application/json\r\nMcp-Session-Id: {id}\r\nContent-Length: 3000\r\n\r\n",
            s.addr()
        )
        .as_bytes(),
    );
    c.read_response(false).expect(413);

    // A message padded to exactly the limit is fine; one byte more is not.
    let padded = |id: i64, len: usize| {
        let mut body = ping(id).to_string();
        body.push_str(&" ".repeat(len - body.len()));
        body
    };
    assert_pong(&s.send(&in_session(&id, &ping(2)).body(padded(2, 2048))), 2);
    s.send(&in_session(&id, &ping(2)).body(padded(2, 2049)))
        .expect(413);

    // Chunked bodies have no declared length: counted as they arrive.
    let r = s.send(&in_session(&id, &ping(3)).body(padded(3, 3000)).chunked(500));
    r.expect(413);
    assert_pong(
        &s.send(&in_session(&id, &ping(4)).body(padded(4, 2048)).chunked(100)),
        4,
    );
}

#[test]
fn malformed_json_is_a_400_parse_error() {
    let s = start(&[]);
    let id = open_session(&s, "/mcp", LATEST);
    for body in ["{bad", "", "not json", "{\"jsonrpc\":\"2.0\",\"id\":1,"] {
        let r = s.send(&in_session(&id, &ping(1)).body(body));
        r.expect(400);
        assert!(
            r.content_type().starts_with("application/json"),
            "{:?}",
            r.head
        );
        let reply = r.json();
        assert_eq!(reply["jsonrpc"], "2.0");
        assert_eq!(reply["id"], Value::Null);
        error_of(&reply, -32700);
    }
    // Without a session it is a 400 all the same.
    s.send(&Request::mcp("/mcp", &ping(1)).body("{bad"))
        .expect(400);
    // JSON that is not JSON-RPC.
    for body in [
        "{\"foo\":1}",
        "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1}",
        "42",
    ] {
        let r = s.send(&in_session(&id, &ping(1)).body(body));
        r.expect(400);
        error_of(&r.json(), -32600);
    }
}

#[test]
fn batches_only_under_2025_03_26() {
    let s = start(&[]);
    let batch = json!([
        ping(1),
        notification("notifications/initialized"),
        rpc(2, "tools/list", Value::Null),
    ]);

    let old = open_session(&s, "/mcp", "2025-03-26");
    let r = s.send(&in_session(&old, &batch));
    r.expect(200);
    let replies = r.json();
    let replies = replies.as_array().expect("an array reply");
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(replies[0], json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
    assert_eq!(
        result_of(&replies[1], 2)["tools"].as_array().unwrap().len(),
        100
    );
    // An empty batch is not a request.
    let r = s.send(&in_session(&old, &json!([])));
    r.expect(400);
    error_of(&r.json(), -32600);
    // A batch of notifications only: 202.
    let r = s.send(&in_session(
        &old,
        &json!([notification("notifications/initialized")]),
    ));
    r.expect(202);
    assert!(r.body.is_empty());

    for v in ["2025-06-18", LATEST] {
        let new = open_session(&s, "/mcp", v);
        let r = s.send(&in_session(&new, &batch));
        r.expect(400);
        let reply = r.json();
        assert!(reply.is_object(), "{reply}");
        error_of(&reply, -32600);
    }
}

/// Checks a `tools/call` result: one text block holding the tool's JSON with exact data.
fn check_tool_result(result: &Value, tool: &str, size: usize, arguments: &Value) {
    let content = result["content"].as_array().expect("content");
    assert_eq!(content.len(), 1);
    assert_eq!(content[0]["type"], "text");
    let text = content[0]["text"].as_str().expect("text");
    let v: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("tool text is not JSON ({e}): {}", preview(text)));
    assert_eq!(v["tool"], tool);
    assert_eq!(&v["arguments"], arguments);
    assert_timestamp_now(v["timestamp"].as_str().expect("timestamp"));
    assert_payload(v["data"].as_str().expect("data"), tool, size);
}

#[test]
fn tools_call_returns_exact_payloads() {
    let s = start(&["-tool-size=5000"]);
    let id = open_session(&s, "/mcp", LATEST);
    let args = json!({"x": 1, "s": "é\"\\"});
    let call = rpc(
        9,
        "tools/call",
        json!({"name": "benchmark_tool_42", "arguments": args}),
    );
    let r = s.send(&in_session(&id, &call));
    r.expect(200);
    check_tool_result(&result_of(&r.json(), 9), "benchmark_tool_42", 5000, &args);

    // The same as SSE.
    let r = s.send(&in_session(&id, &call).set("Accept", "text/event-stream"));
    r.expect(200);
    check_tool_result(
        &result_of(&r.message(), 9),
        "benchmark_tool_42",
        5000,
        &args,
    );

    // An unknown tool is an error reply, not an HTTP error.
    let r = s.send(&in_session(
        &id,
        &rpc(10, "tools/call", json!({"name": "benchmark_tool_100"})),
    ));
    r.expect(200);
    assert!(r.json().get("error").is_some() || r.json()["result"]["isError"] == true);
}

#[test]
fn large_tool_payloads_stream_whole() {
    let size = 3_000_000;
    let s = start(&[&format!("-tool-size={size}")]);
    let id = open_session(&s, "/mcp", LATEST);
    let call = rpc(
        3,
        "tools/call",
        json!({"name": "benchmark_tool_0", "arguments": {}}),
    );
    for accept in ["application/json", "text/event-stream"] {
        let r = s.send(&in_session(&id, &call).set("Accept", accept));
        r.expect(200);
        assert!(r.body.len() > size, "{} bytes", r.body.len());
        check_tool_result(
            &result_of(&r.message(), 3),
            "benchmark_tool_0",
            size,
            &json!({}),
        );
    }
}

#[test]
fn tools_list_of_100000_arrives_complete() {
    let count = 100_000;
    let s = start(&[&format!("-tools={count}")]);
    let id = open_session(&s, "/mcp", LATEST);
    let r = s.send(&in_session(&id, &rpc(2, "tools/list", Value::Null)));
    r.expect(200);
    assert!(
        r.head.is_chunked(),
        "streamed with chunked encoding: {:?}",
        r.head
    );
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.content_type(), "application/json");
    let names = list_names(&r.body, "tools");
    assert_eq!(names.len(), count);
    for (i, name) in names.iter().enumerate() {
        assert_eq!(name, &format!("benchmark_tool_{i}"));
    }
    let tail = String::from_utf8_lossy(&r.body[r.body.len() - 200..]).into_owned();
    assert!(!tail.contains("nextCursor"), "{tail}");
    // Two in a row on one connection, then a small request: the framing held.
    let mut c = s.connect();
    for id_n in [3, 4] {
        let again = c.send(&in_session(&id, &rpc(id_n, "tools/list", Value::Null)));
        again.expect(200);
        let prefix = format!("{{\"jsonrpc\":\"2.0\",\"id\":{id_n},");
        assert!(again.body.starts_with(prefix.as_bytes()));
        assert_eq!(again.body.len(), r.body.len());
    }
    assert_pong(&c.send(&in_session(&id, &ping(5))), 5);
}

#[test]
fn stateless_mode_issues_no_sessions() {
    let s = start(&["-session-mode=stateless"]);
    let r = s.send(&Request::mcp("/mcp", &initialize(1, Some(LATEST))));
    r.expect(200);
    assert_eq!(r.session_id(), None, "{:?}", r.head);
    assert_eq!(result_of(&r.json(), 1)["protocolVersion"], LATEST);

    assert_pong(&s.send(&Request::mcp("/mcp", &ping(2))), 2);
    let r = s.send(&Request::mcp("/", &rpc(3, "tools/list", Value::Null)));
    r.expect(200);
    assert_eq!(
        result_of(&r.json(), 3)["tools"].as_array().unwrap().len(),
        100
    );
    // A session header is simply not looked at.
    assert_pong(&s.send(&in_session("whatever", &ping(4))), 4);
    s.send(&Request::mcp(
        "/mcp",
        &notification("notifications/initialized"),
    ))
    .expect(202);

    for req in [Request::sse("/mcp"), Request::delete("/mcp").session("x")] {
        let r = s.send(&req);
        r.expect(405);
        assert!(
            r.header("allow").is_some_and(|a| a.contains("POST")),
            "{:?}",
            r.head
        );
    }
}

#[test]
fn signed_sessions_are_accepted_by_every_replica_with_the_secret() {
    let signed = ["-session-mode=signed", "-session-secret=k"];
    let one = start(&signed);
    let two = start(&signed);
    let other = start(&["-session-mode=signed", "-session-secret=other"]);

    let id = open_session(&one, "/mcp", "2025-06-18");
    assert_pong(&one.send(&in_session(&id, &ping(2))), 2);
    assert_pong(&two.send(&in_session(&id, &ping(3))), 3);
    // The negotiated version travels with the id: no batches under 2025-06-18.
    let batch = json!([ping(4)]);
    let r = two.send(&in_session(&id, &batch));
    r.expect(400);
    error_of(&r.json(), -32600);

    other.send(&in_session(&id, &ping(5))).expect(404);
    two.send(&in_session("v1.00.2025-06-18.00", &ping(5)))
        .expect(404);
    let mut forged = id.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    two.send(&in_session(&forged, &ping(5))).expect(404);

    // The GET stream works on the replica too.
    let mut stream = SseStream::open(two.addr(), &Request::sse("/mcp").session(&id));
    assert_eq!(
        stream.try_next(Duration::from_millis(100)),
        Err(NoEvent::Timeout)
    );

    // An id from an old-version session batches on another replica.
    let old = open_session(&one, "/", "2025-03-26");
    let r = two.send(&in_session(&old, &batch));
    r.expect(200);
    assert_eq!(r.json(), json!([{"jsonrpc": "2.0", "id": 4, "result": {}}]));

    // DELETE revokes on the replica that received it.
    two.send(&Request::delete("/mcp").session(&id)).expect(200);
    two.send(&in_session(&id, &ping(6))).expect(404);
    two.send(&Request::delete("/mcp").session(&id)).expect(404);
    assert_pong(&one.send(&in_session(&id, &ping(7))), 7);
}

#[test]
fn max_sessions_evicts_the_least_recently_used() {
    let s = start(&["-max-sessions=2"]);
    let pause = || thread::sleep(Duration::from_millis(20));
    let a = open_session(&s, "/mcp", LATEST);
    pause();
    let b = open_session(&s, "/mcp", LATEST);
    pause();
    // `a` is now the most recently used.
    assert_pong(&s.send(&in_session(&a, &ping(1))), 1);
    pause();
    let c = open_session(&s, "/mcp", LATEST);
    s.send(&in_session(&b, &ping(2))).expect(404);
    assert_pong(&s.send(&in_session(&c, &ping(3))), 3);
    pause();
    assert_pong(&s.send(&in_session(&a, &ping(4))), 4);
    pause();
    // Now `c` is the least recently used.
    let d = open_session(&s, "/mcp", LATEST);
    s.send(&in_session(&c, &ping(5))).expect(404);
    assert_pong(&s.send(&in_session(&a, &ping(6))), 6);
    assert_pong(&s.send(&in_session(&d, &ping(7))), 7);
}

#[test]
fn one_connection_carries_many_requests() {
    let s = start(&[]);
    let mut c: Conn = s.connect();
    let r = c.send(&Request::mcp("/mcp", &initialize(0, Some(LATEST))));
    r.expect(200);
    let id = r.session_id().expect("session id").to_string();
    let r = c.send(&in_session(&id, &notification("notifications/initialized")));
    r.expect(202);
    let mut ids = HashSet::new();
    for i in 1..=100 {
        let r = match i % 4 {
            0 => c.send(&in_session(&id, &rpc(i, "tools/list", Value::Null))),
            1 => c.send(&Request::get("/health")),
            _ => c.send(&in_session(&id, &ping(i))),
        };
        r.expect(200);
        assert_ne!(
            r.header("connection").map(str::to_ascii_lowercase),
            Some("close".to_string())
        );
        if i % 4 != 1 {
            assert_eq!(r.json()["id"], i);
            ids.insert(i);
        }
    }
    assert_eq!(ids.len(), 75);
    // Pipelined: several requests written at once, answered in order.
    let mut burst = Vec::new();
    for i in 200..210 {
        burst.extend(in_session(&id, &ping(i)).to_bytes(c.addr()));
    }
    c.write(&burst);
    for i in 200..210 {
        assert_pong(&c.read_response(false), i);
    }
    assert!(!c.closes_within(Duration::from_millis(50)));
    // `Connection: close` ends it after the reply.
    let r = c.send(&in_session(&id, &ping(300)).header("Connection", "close"));
    assert_pong(&r, 300);
    assert!(c.closes_within(TIMEOUT));
}

#[test]
fn options_preflight() {
    let s = start(&[]);
    let r = s.send(
        &Request::new("OPTIONS", "/mcp")
            .header("Origin", "http://localhost:3000")
            .header("Access-Control-Request-Method", "POST"),
    );
    r.expect(204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let headers = r.header("access-control-allow-headers").unwrap_or("");
    assert!(headers.contains("Mcp-Session-Id"), "{headers}");
    // Replies to a browser expose the session header.
    let r = s.send(
        &Request::mcp("/mcp", &initialize(1, Some(LATEST)))
            .header("Origin", "http://localhost:3000"),
    );
    r.expect(200);
    assert!(
        r.header("access-control-expose-headers")
            .is_some_and(|h| h.contains("Mcp-Session-Id")),
        "{:?}",
        r.head
    );
}

#[test]
fn streams_per_session_are_bounded() {
    let s = start(&["-sse-keepalive=100ms"]);
    let id = open_session(&s, "/mcp", LATEST);
    let req = Request::sse("/mcp").session(&id);
    let mut streams: Vec<SseStream> = (0..8).map(|_| SseStream::open(s.addr(), &req)).collect();
    let r = s.send(&req);
    r.expect(429);
    // Another session is not affected.
    let other = open_session(&s, "/mcp", LATEST);
    let _other_stream = SseStream::open(s.addr(), &Request::sse("/mcp").session(&other));
    // A closed stream frees its slot (noticed at the latest by the next keep-alive).
    streams.pop();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut c = s.connect();
    loop {
        c.write_request(&req);
        let head = c.read_head();
        if head.status == 200 {
            break;
        }
        assert_eq!(head.status, 429);
        c.try_read_body(Instant::now() + TIMEOUT).unwrap();
        assert!(Instant::now() < deadline, "the closed stream still counts");
        thread::sleep(Duration::from_millis(50));
    }
    let mut reopened = c.into_events();
    assert!(reopened.next().is_comment());
    assert!(streams[0].next().is_comment());
}

#[test]
fn large_replies_stream_as_sse_too() {
    let count = 20_000;
    let s = start(&[&format!("-tools={count}")]);
    let id = open_session(&s, "/mcp", LATEST);
    let mut c = s.connect();
    let req =
        in_session(&id, &rpc(2, "tools/list", Value::Null)).set("Accept", "text/event-stream");
    let r = c.send(&req);
    r.expect(200);
    assert!(r.head.is_chunked(), "{:?}", r.head);
    let events = parse_events(&r.text());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event.as_deref(), Some("message"));
    let names = list_names(events[0].data.as_deref().unwrap().as_bytes(), "tools");
    assert_eq!(names.len(), count);
    assert_eq!(names[count - 1], format!("benchmark_tool_{}", count - 1));
    assert!(r.text().ends_with("]}}\n\n"));
    assert_pong(&c.send(&in_session(&id, &ping(3))), 3);
}

#[test]
fn http_1_0_clients_get_close_delimited_streams() {
    let count = 20_000;
    let s = start(&[&format!("-tools={count}"), "-session-mode=stateless"]);
    let body = rpc(1, "tools/list", Value::Null).to_string();
    let mut c = s.connect();
    c.write(
        format!(
            "POST /mcp HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let r = c.read_response(false);
    r.expect(200);
    assert!(
        !r.head.is_chunked(),
        "no chunked encoding for HTTP/1.0: {:?}",
        r.head
    );
    assert_eq!(list_names(&r.body, "tools").len(), count);
    // A small reply has a length and the connection closes after it.
    let mut c = s.connect();
    c.write(b"GET /health HTTP/1.0\r\n\r\n");
    let r = c.read_response(false);
    r.expect(200);
    assert!(r.header("content-length").is_some(), "{:?}", r.head);
    assert!(c.closes_within(TIMEOUT));
}

#[test]
fn expect_100_continue() {
    let s = start(&["-max-request-bytes=2048"]);
    let id = open_session(&s, "/mcp", LATEST);
    let body = ping(2).to_string();
    let head = |len: usize| {
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Mcp-Session-Id: {id}\r\nExpect: 100-continue\r\nContent-Length: {len}\r\n\r\n",
            s.addr()
        )
    };
    let mut c = s.connect();
    c.write(head(body.len()).as_bytes());
    assert_eq!(c.read_head().status, 100);
    c.write(body.as_bytes());
    assert_pong(&c.read_response(false), 2);
    // Too large: refused at once, no 100.
    let mut c = s.connect();
    c.write(head(4096).as_bytes());
    c.read_response(false).expect(413);
}

#[test]
fn idle_sessions_expire() {
    let s = start(&["-session-idle-timeout=400ms"]);
    let idle = open_session(&s, "/mcp", LATEST);
    let busy = open_session(&s, "/mcp", LATEST);
    let started = Instant::now();
    // `busy` is used every 100 ms; `idle` is not.
    let mut n = 10;
    while started.elapsed() < Duration::from_millis(1500) {
        assert_pong(&s.send(&in_session(&busy, &ping(n))), n);
        n += 1;
        thread::sleep(Duration::from_millis(100));
    }
    s.send(&in_session(&idle, &ping(1))).expect(404);
    assert_pong(&s.send(&in_session(&busy, &ping(2))), 2);
}

// ---------------------------------------------------------------------------------------------
// The 2026-07-28 era on the same endpoint

fn modern(id: u64, method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn modern_request(message: &Value) -> Request {
    let mut r = Request::mcp("/mcp", message).protocol("2026-07-28");
    if let Some(m) = message["method"].as_str() {
        r = r.header("Mcp-Method", m);
    }
    if let Some(n) = message["params"]["name"]
        .as_str()
        .or(message["params"]["uri"].as_str())
    {
        r = r.header("Mcp-Name", n);
    }
    r
}

#[test]
fn stateless_requests_need_no_session_and_mirror_their_headers() {
    let s = start(&["-tools=5"]);
    let r = s.send(&modern_request(&modern(1, "tools/list", json!({}))));
    r.expect(200);
    assert!(r.header("mcp-session-id").is_none());
    let list = r.json();
    assert_eq!(list["result"]["resultType"], "complete");
    assert_eq!(list["result"]["tools"].as_array().unwrap().len(), 5);

    let call = modern(2, "tools/call", json!({"name": "benchmark_tool_1"}));
    s.send(&modern_request(&call)).expect(200);
    // The name header is compared with the body, also in its base64 form.
    let encoded = Request::mcp("/mcp", &call)
        .protocol("2026-07-28")
        .header("Mcp-Method", "tools/call")
        .header("Mcp-Name", "=?base64?YmVuY2htYXJrX3Rvb2xfMQ==?=");
    s.send(&encoded).expect(200);
    let wrong = Request::mcp("/mcp", &call)
        .protocol("2026-07-28")
        .header("Mcp-Method", "tools/call")
        .header("Mcp-Name", "benchmark_tool_2");
    let r = s.send(&wrong);
    r.expect(400);
    assert_eq!(r.json()["error"]["code"], -32020);
    assert_eq!(r.json()["id"], 2);
    let no_method =
        Request::mcp("/mcp", &modern(3, "tools/list", json!({}))).protocol("2026-07-28");
    assert_eq!(
        s.send(&no_method).expect(400).json()["error"]["code"],
        -32020
    );

    let r = s.send(&modern_request(&modern(4, "nope/never", json!({}))));
    r.expect(404);
    assert_eq!(r.json()["error"]["code"], -32601);
    let r = s.send(&modern_request(&modern(5, "ping", json!({}))));
    r.expect(404);

    let mut bad = modern(6, "tools/list", json!({}));
    bad["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("1999-01-01");
    let r = s.send(
        &Request::mcp("/mcp", &bad)
            .protocol("1999-01-01")
            .header("Mcp-Method", "tools/list"),
    );
    r.expect(400);
    assert_eq!(r.json()["error"]["code"], -32022);

    let get = Request::get("/mcp").protocol("2026-07-28");
    s.send(&get).expect(405);
    let notify = Request::mcp(
        "/mcp",
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}),
    )
    .protocol("2026-07-28");
    s.send(&notify).expect(202);
}

#[test]
fn subscriptions_listen_opens_a_stream_that_starts_with_the_acknowledgement() {
    let s = start(&["-sse-keepalive=200ms"]);
    let listen = modern(
        9,
        "subscriptions/listen",
        json!({"notifications": {"toolsListChanged": true}}),
    );
    let mut stream = SseStream::open(s.addr(), &modern_request(&listen));
    let ack = stream.next_message();
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        9
    );
}

/// A client behind a round-robin balancer: every request goes to the other replica. With
/// signed or stateless sessions the whole session completes without a single 404.
#[test]
fn a_full_session_alternating_between_two_replicas_never_sees_a_404() {
    for mode in [
        &["-session-mode=signed", "-session-secret=shared"][..],
        &["-session-mode=stateless"][..],
    ] {
        let replicas = [start(mode), start(mode)];
        let stateless = mode.contains(&"-session-mode=stateless");
        let id = if stateless {
            replicas[0]
                .send(&Request::mcp("/mcp", &initialize(1, Some(LATEST))))
                .expect(200);
            None
        } else {
            Some(open_session(&replicas[0], "/mcp", LATEST))
        };
        let steps = [
            notification("notifications/initialized"),
            rpc(2, "tools/list", Value::Null),
            rpc(
                3,
                "tools/call",
                json!({"name": "benchmark_tool_3", "arguments": {"param1": "x"}}),
            ),
            rpc(4, "resources/list", Value::Null),
            rpc(
                5,
                "resources/read",
                json!({"uri": "benchmark://benchmark_resource_3"}),
            ),
            rpc(6, "prompts/list", Value::Null),
            rpc(7, "prompts/get", json!({"name": "benchmark_prompt_3"})),
            ping(8),
        ];
        for (i, message) in steps.iter().enumerate() {
            let replica = &replicas[(i + 1) % 2];
            let request = match &id {
                Some(id) => in_session(id, message),
                None => Request::mcp("/mcp", message),
            };
            let r = replica.send(&request);
            assert_ne!(r.status(), 404, "{mode:?} step {i}: {message}");
            if message.get("id").is_some() {
                r.expect(200);
                let reply = r.json();
                assert!(reply.get("result").is_some(), "{mode:?} step {i}: {reply}");
            } else {
                r.expect(202);
            }
        }
    }
}
