//! Server-to-client round trips of the `-profile=conformance` fixtures, with raw clients over
//! every transport: the server's `sampling/createMessage` / `elicitation/create` request, the
//! client's answer routed back by session and id, and what happens when the answer is late,
//! unknown, never comes, or the client lacks the capability. Also the 2026-07-28 form
//! (`input_required` results and retries carrying `inputResponses`).

mod common;
mod http_support;

use std::time::Duration;

use common::{StdioClient, command};
use http_support::{HttpServer, LATEST, NoEvent, Request, SseStream, error_of, result_of, rpc};
use serde_json::{Value, json};

const PROFILE: &str = "-profile=conformance";

/// An `initialize` declaring `capabilities`.
fn initialize_with(id: i64, capabilities: Value) -> Value {
    rpc(
        id,
        "initialize",
        json!({
            "protocolVersion": LATEST,
            "capabilities": capabilities,
            "clientInfo": {"name": "roundtrip-tests", "version": "1.0.0"}
        }),
    )
}

fn call(id: i64, tool: &str, arguments: Value) -> Value {
    rpc(
        id,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
    )
}

/// The answer a client sends to server request `request`.
fn answer(request: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": request["id"], "result": result})
}

fn sampled(text: &str) -> Value {
    json!({"role": "assistant", "content": {"type": "text", "text": text}, "model": "m", "stopReason": "endTurn"})
}

fn text_of(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text content: {result}"))
        .to_string()
}

// ---------------------------------------------------------------------------------------
// Streamable HTTP
// ---------------------------------------------------------------------------------------

fn http_server() -> HttpServer {
    HttpServer::start_command(
        command([
            "-transport=http",
            "-listen=127.0.0.1",
            "-port=0",
            PROFILE,
            "-tools=2",
        ]),
        1,
    )
}

/// Initializes a session declaring `capabilities`; returns its id.
fn http_session(s: &HttpServer, capabilities: Value) -> String {
    let r = s.send(&Request::mcp("/mcp", &initialize_with(1, capabilities)));
    r.expect(200);
    let id = r.session_id().expect("a session id").to_string();
    s.send(
        &Request::mcp(
            "/mcp",
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        )
        .session(&id),
    )
    .expect(202);
    id
}

/// POSTs a call and opens its SSE reply.
fn http_call(s: &HttpServer, session: &str, message: &Value) -> SseStream {
    SseStream::open(s.addr(), &Request::mcp("/mcp", message).session(session))
}

/// POSTs the client's answer; it is a response, so it gets 202.
fn http_answer(s: &HttpServer, session: &str, message: &Value) {
    s.send(&Request::mcp("/mcp", message).session(session))
        .expect(202);
}

#[test]
fn http_sampling_request_travels_on_the_call_stream_and_its_answer_completes_the_call() {
    let s = http_server();
    let sid = http_session(&s, json!({"sampling": {}}));
    let mut stream = http_call(
        &s,
        &sid,
        &call(7, "test_sampling", json!({"prompt": "Say hi"})),
    );
    let request = stream.next_message();
    assert_eq!(request["method"], "sampling/createMessage", "{request}");
    assert_eq!(
        request["params"]["messages"][0]["content"]["text"],
        "Say hi"
    );
    assert_eq!(request["params"]["maxTokens"], 100);
    assert!(request["id"].is_u64(), "{request}");
    // An answer to an id the server never used is ignored; the call keeps waiting.
    http_answer(
        &s,
        &sid,
        &json!({"jsonrpc": "2.0", "id": 424242, "result": sampled("wrong")}),
    );
    assert_eq!(
        stream.try_next(Duration::from_millis(300)).map(|e| e.event),
        Err(NoEvent::Timeout),
        "nothing follows an unknown answer"
    );
    http_answer(&s, &sid, &answer(&request, sampled("Hello there")));
    let reply = stream.next_message();
    assert_eq!(text_of(&result_of(&reply, 7)), "LLM response: Hello there");
    stream.expect_end(Duration::from_secs(5));
    // The same answer again names no waiting request: accepted and ignored.
    http_answer(&s, &sid, &answer(&request, sampled("late")));
}

#[test]
fn http_elicitation_fixtures_send_their_schemas_and_report_the_answer() {
    let s = http_server();
    let sid = http_session(&s, json!({"elicitation": {}}));
    let mut stream = http_call(
        &s,
        &sid,
        &call(2, "test_elicitation_sep1034_defaults", json!({})),
    );
    let request = stream.next_message();
    assert_eq!(request["method"], "elicitation/create");
    let props = &request["params"]["requestedSchema"]["properties"];
    assert_eq!(props["name"]["default"], "John Doe");
    assert_eq!(props["age"]["default"], 30);
    assert_eq!(props["score"]["default"], 95.5);
    assert_eq!(props["status"]["default"], "active");
    assert_eq!(props["verified"]["default"], true);
    http_answer(
        &s,
        &sid,
        &answer(
            &request,
            json!({"action": "accept", "content": {"name": "Jane"}}),
        ),
    );
    let text = text_of(&result_of(&stream.next_message(), 2));
    assert!(
        text.contains("action=accept") && text.contains("Jane"),
        "{text}"
    );
}

#[test]
fn http_unanswered_request_times_out_with_a_cancellation_and_an_error() {
    let s = http_server();
    let sid = http_session(&s, json!({"elicitation": {}}));
    let mut stream = http_call(
        &s,
        &sid,
        &call(
            3,
            "test_elicitation",
            json!({"message": "Who?", "timeoutMs": 300}),
        ),
    );
    let request = stream.next_message();
    assert_eq!(request["method"], "elicitation/create");
    assert_eq!(request["params"]["message"], "Who?");
    let cancelled = stream.next_message();
    assert_eq!(
        cancelled["method"], "notifications/cancelled",
        "{cancelled}"
    );
    assert_eq!(cancelled["params"]["requestId"], request["id"]);
    let e = error_of(&stream.next_message(), -32603);
    assert!(e["message"].as_str().unwrap().contains("Timed out"), "{e}");
    stream.expect_end(Duration::from_secs(5));
    // The late answer finds nothing waiting.
    http_answer(&s, &sid, &answer(&request, json!({"action": "cancel"})));
}

#[test]
fn http_missing_capability_is_refused_before_any_request() {
    let s = http_server();
    let sid = http_session(&s, json!({"elicitation": {}}));
    let r = s.send(
        &Request::mcp("/mcp", &call(4, "test_sampling", json!({"prompt": "x"}))).session(&sid),
    );
    r.expect(200);
    let e = error_of(&r.message(), -32602);
    assert!(e["message"].as_str().unwrap().contains("sampling"), "{e}");
    assert_eq!(e["data"]["requiredCapabilities"]["sampling"], json!({}));
}

/// Opens a `test_sampling` call and returns its stream once the server request arrived. A
/// session whose slots are all taken answers with an error instead: retried for a while, as
/// the server frees the slot of a closed stream as soon as it notices the close.
fn open_waiting_call(s: &HttpServer, sid: &str, id: i64) -> SseStream {
    for _ in 0..200 {
        let mut stream = http_call(s, sid, &call(id, "test_sampling", json!({"prompt": "p"})));
        let first = stream.next_message();
        if first["method"] == "sampling/createMessage" {
            return stream;
        }
        let e = error_of(&first, -32603);
        assert!(
            e["message"].as_str().unwrap().contains("outstanding"),
            "{e}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the session's slots were never freed");
}

#[test]
fn http_closed_streams_cancel_their_calls_and_free_their_slots() {
    let s = http_server();
    let sid = http_session(&s, json!({"sampling": {}}));
    // More calls than a session may have waiting, each abandoned once its request arrives:
    // every one gets its request in the end, so closing a stream frees its slot.
    for i in 0..24 {
        drop(open_waiting_call(&s, &sid, 100 + i));
    }
    // With every slot held by an open, unanswered call, one more is refused.
    let open: Vec<SseStream> = (0..16)
        .map(|i| open_waiting_call(&s, &sid, 200 + i))
        .collect();
    let mut extra = http_call(
        &s,
        &sid,
        &call(300, "test_sampling", json!({"prompt": "p"})),
    );
    let e = error_of(&extra.next_message(), -32603);
    assert!(
        e["message"].as_str().unwrap().contains("outstanding"),
        "{e}"
    );
    drop(open);
}

#[test]
fn http_stateless_sessions_cannot_carry_server_requests() {
    let s = HttpServer::start_command(
        command([
            "-transport=http",
            "-listen=127.0.0.1",
            "-port=0",
            PROFILE,
            "-session-mode=stateless",
        ]),
        1,
    );
    let r = s.send(&Request::mcp(
        "/mcp",
        &call(1, "test_sampling", json!({"prompt": "x"})),
    ));
    let e = error_of(&r.message(), -32600);
    assert!(
        e["message"].as_str().unwrap().contains("cannot carry"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------
// Legacy HTTP+SSE
// ---------------------------------------------------------------------------------------

#[test]
fn sse_elicitation_request_travels_on_the_get_stream() {
    let s = HttpServer::start_command(
        command(["-transport=sse", "-listen=127.0.0.1", "-port=0", PROFILE]),
        1,
    );
    let mut stream = SseStream::open(s.addr(), &Request::sse("/sse"));
    let endpoint = stream.next().data.expect("endpoint");
    let post = |m: &Value| {
        s.send(&Request::mcp(&endpoint, m)).expect(202);
    };
    post(&initialize_with(1, json!({"elicitation": {}})));
    result_of(&stream.next_message(), 1);
    post(&call(2, "test_elicitation", json!({"message": "Name?"})));
    let request = stream.next_message();
    assert_eq!(request["method"], "elicitation/create", "{request}");
    // Other requests are served while the call waits.
    post(&rpc(3, "ping", Value::Null));
    result_of(&stream.next_message(), 3);
    post(&answer(&request, json!({"action": "decline"})));
    let text = text_of(&result_of(&stream.next_message(), 2));
    assert!(text.contains("action=decline"), "{text}");
}

// ---------------------------------------------------------------------------------------
// stdio
// ---------------------------------------------------------------------------------------

#[test]
fn stdio_round_trip_on_the_same_pipe_with_other_requests_between() {
    let mut c = StdioClient::start([PROFILE]);
    c.send(&initialize_with(
        1,
        json!({"sampling": {}, "elicitation": {}, "roots": {}}),
    ));
    c.recv();
    c.send(&call(2, "test_sampling", json!({"prompt": "2+2?"})));
    let request = c.recv();
    assert_eq!(request["method"], "sampling/createMessage", "{request}");
    c.ping();
    // Unknown ids are ignored.
    c.send(&json!({"jsonrpc": "2.0", "id": 987654, "result": sampled("no")}));
    c.ping();
    c.send(&answer(&request, sampled("4")));
    assert_eq!(text_of(&result_of(&c.recv(), 2)), "LLM response: 4");
    // A fixture with three requests asks them one after the other.
    c.send(&call(
        3,
        "test_input_required_result_multiple_inputs",
        json!({}),
    ));
    let r1 = c.recv();
    assert_eq!(r1["method"], "elicitation/create");
    c.send(&answer(
        &r1,
        json!({"action": "accept", "content": {"name": "Ann"}}),
    ));
    let r2 = c.recv();
    assert_eq!(r2["method"], "sampling/createMessage");
    c.send(&answer(&r2, sampled("Hi")));
    let r3 = c.recv();
    assert_eq!(r3["method"], "roots/list");
    c.send(&answer(&r3, json!({"roots": [{"uri": "file:///a"}]})));
    let text = text_of(&result_of(&c.recv(), 3));
    assert!(text.contains("Ann") && text.contains("Hi"), "{text}");
}

#[test]
fn stdio_missing_capability_and_client_errors_end_the_call_with_an_error() {
    let mut c = StdioClient::start([PROFILE]);
    c.send(&initialize_with(1, json!({"sampling": {}})));
    c.recv();
    c.send(&call(2, "test_elicitation", json!({"message": "m"})));
    let e = error_of(&c.recv(), -32602);
    assert!(
        e["message"].as_str().unwrap().contains("elicitation"),
        "{e}"
    );
    c.send(&call(3, "test_sampling", json!({"prompt": "p"})));
    let request = c.recv();
    c.send(&json!({"jsonrpc": "2.0", "id": request["id"], "error": {"code": -1, "message": "User rejected sampling"}}));
    let e = error_of(&c.recv(), -32603);
    assert!(
        e["message"].as_str().unwrap().contains("User rejected"),
        "{e}"
    );
    // A fixture that asks only for what the client declared sends just the sampling request.
    c.send(&call(
        4,
        "test_input_required_result_capabilities",
        json!({}),
    ));
    let request = c.recv();
    assert_eq!(request["method"], "sampling/createMessage", "{request}");
    c.send(&answer(&request, sampled("Paris")));
    result_of(&c.recv(), 4);
}

#[test]
fn stdio_timeout_is_reported_when_the_next_message_arrives() {
    let mut c = StdioClient::start([PROFILE]);
    c.send(&initialize_with(1, json!({"sampling": {}})));
    c.recv();
    c.send(&call(
        2,
        "test_sampling",
        json!({"prompt": "p", "timeoutMs": 50}),
    ));
    let request = c.recv();
    std::thread::sleep(Duration::from_millis(150));
    c.send(&rpc(3, "ping", Value::Null));
    result_of(&c.recv(), 3);
    let cancelled = c.recv();
    assert_eq!(cancelled["method"], "notifications/cancelled");
    assert_eq!(cancelled["params"]["requestId"], request["id"]);
    error_of(&c.recv(), -32603);
}

// ---------------------------------------------------------------------------------------
// 2026-07-28: input_required results
// ---------------------------------------------------------------------------------------

fn modern(id: i64, method: &str, mut params: Value, capabilities: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": capabilities
    });
    rpc(id, method, params)
}

#[test]
fn modern_calls_answer_input_required_and_complete_on_the_retry() {
    let mut c = StdioClient::start([PROFILE]);
    let caps = json!({"elicitation": {}, "sampling": {}, "roots": {}});
    let tool = "test_input_required_result_multi_round";
    c.send(&modern(
        1,
        "tools/call",
        json!({"name": tool, "arguments": {}}),
        caps.clone(),
    ));
    let r1 = result_of(&c.recv(), 1);
    assert_eq!(r1["resultType"], "input_required", "{r1}");
    assert_eq!(r1["inputRequests"]["step1"]["method"], "elicitation/create");
    let state1 = r1["requestState"].as_str().unwrap().to_string();
    c.send(&modern(
        2,
        "tools/call",
        json!({"name": tool, "arguments": {}, "requestState": state1,
               "inputResponses": {"step1": {"action": "accept", "content": {"name": "A"}}}}),
        caps.clone(),
    ));
    let r2 = result_of(&c.recv(), 2);
    assert_eq!(r2["resultType"], "input_required");
    assert!(r2["inputRequests"]["step2"].is_object(), "{r2}");
    let state2 = r2["requestState"].as_str().unwrap().to_string();
    assert_ne!(state1, state2);
    // A tampered state is refused.
    c.send(&modern(
        3,
        "tools/call",
        json!({"name": tool, "arguments": {}, "requestState": format!("{state2}x"),
               "inputResponses": {"step2": {"action": "accept", "content": {"color": "red"}}}}),
        caps.clone(),
    ));
    error_of(&c.recv(), -32602);
    c.send(&modern(
        4,
        "tools/call",
        json!({"name": tool, "arguments": {}, "requestState": state2,
               "inputResponses": {"step2": {"action": "accept", "content": {"color": "red"}}}}),
        caps.clone(),
    ));
    let done = result_of(&c.recv(), 4);
    assert_eq!(done["resultType"], "complete");
    assert!(text_of(&done).contains("red"));
    // Without the capability the request is refused with -32021; a wrong answer is -32602.
    c.send(&modern(
        5,
        "tools/call",
        json!({"name": "test_sampling", "arguments": {"prompt": "p"}}),
        json!({}),
    ));
    error_of(&c.recv(), -32021);
    c.send(&modern(
        6,
        "tools/call",
        json!({"name": "test_sampling", "arguments": {"prompt": "p"}, "inputResponses": {"sampling": 1}}),
        caps,
    ));
    error_of(&c.recv(), -32602);
}

#[test]
fn without_the_profile_no_fixture_exists() {
    let mut c = StdioClient::start(["-tools=1"]);
    c.send(&initialize_with(1, json!({"sampling": {}})));
    c.recv();
    c.send(&call(2, "test_sampling", json!({"prompt": "p"})));
    error_of(&c.recv(), -32602);
}

/// `test_custom_header`'s `region` argument must be mirrored in `Mcp-Param-Region` (a
/// 2026-07-28 rule for `x-mcp-header` parameters).
#[test]
fn modern_http_calls_must_mirror_x_mcp_header_arguments() {
    let s = http_server();
    let body = modern(
        1,
        "tools/call",
        json!({"name": "test_custom_header", "arguments": {"region": "eu-west"}}),
        json!({}),
    );
    let post = |param: Option<&str>| {
        let mut r = Request::mcp("/mcp", &body)
            .header("MCP-Protocol-Version", "2026-07-28")
            .header("Mcp-Method", "tools/call")
            .header("Mcp-Name", "test_custom_header");
        if let Some(v) = param {
            r = r.header("Mcp-Param-Region", v);
        }
        s.send(&r)
    };
    let ok = post(Some("eu-west"));
    ok.expect(200);
    assert_eq!(result_of(&ok.message(), 1)["resultType"], "complete");
    post(Some("=?base64?ZXUtd2VzdA==?=")).expect(200);
    for bad in [None, Some("us-east"), Some("=?base64?ZXUtd2VzdA?=")] {
        let r = post(bad);
        r.expect(400);
        error_of(&r.json(), -32020);
    }
}
