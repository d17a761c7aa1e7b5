//! The legacy HTTP+SSE transport end to end: `GET /sse` streams, `POST /messages` (and
//! `/message`) on a real loopback port.

mod common;
mod http_support;

use std::time::{Duration, Instant};

use common::command;
use http_support::{
    HttpServer, NoEvent, Request, SseStream, initialize, list_names, notification, result_of, rpc,
};
use serde_json::{Value, json};

/// Starts a legacy SSE server on a free loopback port with `extra` flags.
fn start(extra: &[&str]) -> HttpServer {
    let mut args = vec!["-transport=sse", "-listen=127.0.0.1", "-port=0"];
    args.extend_from_slice(extra);
    HttpServer::start_command(command(&args), 1)
}

/// An open `/sse` stream and the message endpoint its first event named.
struct Client {
    stream: SseStream,
    /// The `data` of the `endpoint` event.
    endpoint: String,
    /// The session id in it.
    id: String,
}

impl Client {
    /// Opens `path` (usually `/sse`) and reads the `endpoint` event.
    fn open(s: &HttpServer, path: &str) -> Self {
        let mut stream = SseStream::open(s.addr(), &Request::sse(path));
        let e = stream.next();
        assert_eq!(e.event.as_deref(), Some("endpoint"), "{e:?}");
        let endpoint = e.data.expect("endpoint data");
        let id = endpoint
            .split_once("?sessionId=")
            .unwrap_or_else(|| panic!("no sessionId in {endpoint:?}"))
            .1
            .to_string();
        assert!(!id.is_empty());
        assert!(
            id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "{id:?}"
        );
        Self {
            stream,
            endpoint,
            id,
        }
    }

    /// The POST target for this session on `path` (`/messages` or `/message`).
    fn target(&self, path: &str) -> String {
        format!("{path}?sessionId={}", self.id)
    }

    /// POSTs `message` to `/messages`, expects 202, and returns the next message event.
    fn request(&mut self, s: &HttpServer, message: &Value) -> Value {
        let r = s.send(&post(&self.target("/messages"), message));
        r.expect(202);
        self.stream.next_message()
    }
}

fn post(target: &str, message: &Value) -> Request {
    Request::post(target, message.to_string()).header("Content-Type", "application/json")
}

fn ping(id: i64) -> Value {
    rpc(id, "ping", Value::Null)
}

#[test]
fn stream_starts_with_the_endpoint_event() {
    let s = start(&[]);
    let (head, mut stream) = open_raw(&s);
    assert_eq!(head.status, 200);
    assert!(
        head.content_type().starts_with("text/event-stream"),
        "{head:?}"
    );
    assert_eq!(head.header("cache-control"), Some("no-cache"));
    let e = stream.next();
    assert_eq!(e.event.as_deref(), Some("endpoint"));
    let data = e.data.expect("data");
    assert!(data.starts_with("/messages?sessionId="), "{data:?}");
    // Each stream gets its own session.
    let a = Client::open(&s, "/sse");
    let b = Client::open(&s, "/sse");
    assert_ne!(a.id, b.id);
    assert!(a.endpoint.starts_with("/messages?sessionId="));
}

/// Opens `/sse` and returns the head and the stream, before any event is read.
fn open_raw(s: &HttpServer) -> (http_support::Head, SseStream) {
    let mut conn = s.connect();
    conn.write_request(&Request::sse("/sse"));
    let head = conn.read_head();
    (head, conn.into_events())
}

#[test]
fn replies_arrive_on_the_stream() {
    let s = start(&["-tool-size=300"]);
    let mut c = Client::open(&s, "/sse");

    let r = s.send(&post(
        &c.target("/messages"),
        &initialize(1, Some("2024-11-05")),
    ));
    r.expect(202);
    assert!(r.body.len() < 100, "{}", r.text());
    let reply = c.stream.next_message();
    let result = result_of(&reply, 1);
    assert_eq!(result["protocolVersion"], "2024-11-05");
    assert_eq!(result["serverInfo"]["name"], "benchmark-server");

    let r = s.send(&post(
        &c.target("/messages"),
        &notification("notifications/initialized"),
    ));
    r.expect(202);
    // Nothing is sent for a notification.
    assert_eq!(
        c.stream.try_next(Duration::from_millis(200)),
        Err(NoEvent::Timeout)
    );

    // The singular path the Go server served works too.
    let r = s.send(&post(&c.target("/message"), &ping(2)));
    r.expect(202);
    assert_eq!(
        c.stream.next_message(),
        json!({"jsonrpc": "2.0", "id": 2, "result": {}})
    );

    let reply = c.request(
        &s,
        &rpc(
            3,
            "tools/call",
            json!({"name": "benchmark_tool_5", "arguments": {}}),
        ),
    );
    let text = result_of(&reply, 3)["content"][0]["text"]
        .as_str()
        .expect("text")
        .to_string();
    let v: Value = serde_json::from_str(&text).unwrap();
    common::assert_payload(v["data"].as_str().unwrap(), "benchmark_tool_5", 300);

    // Errors travel on the stream as well.
    let reply = c.request(&s, &rpc(4, "no/such/method", Value::Null));
    assert_eq!(reply["id"], 4);
    assert_eq!(reply["error"]["code"], -32601);

    // Replies are in order, on one POST connection after another.
    let mut conn = s.connect();
    for i in 10..20 {
        conn.send(&post(&c.target("/messages"), &ping(i)))
            .expect(202);
    }
    for i in 10..20 {
        assert_eq!(c.stream.next_message()["id"], i);
    }

    // Malformed JSON is refused on the POST itself.
    let r = s.send(&post(&c.target("/messages"), &ping(1)).body("{bad"));
    r.expect(400);
    assert_eq!(r.json()["error"]["code"], -32700);
}

#[test]
fn session_ids_are_checked() {
    let s = start(&[]);
    let c = Client::open(&s, "/sse");
    s.send(&post("/messages?sessionId=nope", &ping(1)))
        .expect(404);
    s.send(&post("/message?sessionId=nope", &ping(1)))
        .expect(404);
    s.send(&post("/messages", &ping(1))).expect(400);
    s.send(&post("/messages?sessionId=", &ping(1))).expect(400);
    s.send(&post("/messages?other=1", &ping(1))).expect(400);
    // The id of one instance's stream is not a prefix match.
    let partial = &c.id[..c.id.len() - 1];
    s.send(&post(&format!("/messages?sessionId={partial}"), &ping(1)))
        .expect(404);
}

#[test]
fn wrong_methods_and_paths() {
    let s = start(&[]);
    let c = Client::open(&s, "/sse");
    for path in ["/messages", "/message"] {
        let r = s.send(&Request::get(&c.target(path)));
        r.expect(405);
        assert!(r.header("allow").is_some_and(|a| a.contains("POST")));
    }
    let r = s.send(&post("/sse", &ping(1)));
    r.expect(405);
    assert!(r.header("allow").is_some_and(|a| a.contains("GET")));
    s.send(&Request::delete("/sse")).expect(405);
    for path in ["/", "/mcp", "/nope", "/sse/", "/SSE", "/messagesx"] {
        s.send(&Request::get(path)).expect(404);
    }
}

/// POSTs pings to `target` until they get 404 (the session is gone), for at most `within`;
/// until then each must be accepted.
fn await_session_gone(s: &HttpServer, target: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let r = s.send(&post(target, &ping(2)));
        if r.status() == 404 {
            return;
        }
        r.expect(202);
        assert!(
            Instant::now() < deadline,
            "the session outlived its stream by {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn closing_the_stream_frees_the_session() {
    let s = start(&[]);
    let mut c = Client::open(&s, "/sse");
    assert_eq!(c.request(&s, &ping(1))["id"], 1);
    let target = c.target("/messages");
    drop(c);
    await_session_gone(&s, &target, Duration::from_secs(2));
    // Other sessions are untouched.
    let mut other = Client::open(&s, "/sse");
    assert_eq!(other.request(&s, &ping(3))["id"], 3);
}

#[test]
fn idle_streams_get_keepalive_comments() {
    let s = start(&["-sse-keepalive=200ms"]);
    let mut c = Client::open(&s, "/sse");
    let started = Instant::now();
    for _ in 0..3 {
        let e = c.stream.next();
        assert!(e.is_comment(), "{e:?}");
        assert!(!e.comments.is_empty());
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    // Replies still arrive in between.
    assert_eq!(c.request(&s, &ping(1))["id"], 1);
}

#[test]
fn public_url_makes_the_endpoint_absolute() {
    let s = start(&["-public-url=http://example.test:9999"]);
    let mut c = Client::open(&s, "/sse");
    let prefix = "http://example.test:9999/messages?sessionId=";
    assert!(c.endpoint.starts_with(prefix), "{:?}", c.endpoint);
    assert_eq!(c.endpoint, format!("{prefix}{}", c.id));
    // The server itself still answers on its own paths.
    assert_eq!(c.request(&s, &ping(1))["id"], 1);
}

#[test]
fn public_url_path_is_served_too() {
    let s = start(&["-public-url=http://example.test/base"]);
    for path in ["/sse", "/base/sse"] {
        let mut c = Client::open(&s, path);
        assert_eq!(
            c.endpoint,
            format!("http://example.test/base/messages?sessionId={}", c.id)
        );
        for post_path in ["/messages", "/base/messages", "/base/message"] {
            let r = s.send(&post(&c.target(post_path), &ping(7)));
            r.expect(202);
            assert_eq!(c.stream.next_message()["id"], 7);
        }
    }
    s.send(&Request::get("/other/sse")).expect(404);
}

/// A `GET /sse` on a plain socket (10 s read timeout), for tests that read the raw bytes.
fn raw_sse(s: &HttpServer) -> std::net::TcpStream {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(s.addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    stream
        .write_all(&Request::sse("/sse").to_bytes(s.addr()))
        .expect("the GET");
    stream
}

/// Keep-alive ticks that fall while a large reply is still being produced (the client
/// drains the socket as fast as it can, so the stream often waits for its next chunk) never
/// land inside the reply. The raw bytes are searched: each body frame is one HTTP chunk, so
/// the reply's start, its end and a keep-alive comment each arrive contiguous.
#[test]
fn keepalives_never_split_a_large_reply() {
    use std::io::Read;
    let s = start(&["-tools=50000", "-sse-keepalive=1ms"]);
    let mut stream = raw_sse(&s);
    let find = |raw: &[u8], what: &[u8], from: usize| {
        raw[from.min(raw.len())..]
            .windows(what.len())
            .position(|w| w == what)
            .map(|i| i + from)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut raw = Vec::with_capacity(16 << 20);
    let mut buf = vec![0u8; 1 << 20];
    let mut read = |raw: &mut Vec<u8>| {
        assert!(Instant::now() < deadline, "the reply did not arrive");
        let n = stream.read(&mut buf).expect("the stream");
        assert!(n > 0, "the stream ended");
        raw.extend_from_slice(&buf[..n]);
    };
    let endpoint = loop {
        read(&mut raw);
        if let Some(i) = find(&raw, b"data: /messages", 0)
            && let Some(end) = find(&raw, b"\n", i)
        {
            break String::from_utf8_lossy(&raw[i + 6..end]).into_owned();
        }
    };
    // The POST is answered once the reply's first chunk is queued; it runs beside the reader
    // all the same, so that the test does not depend on when.
    let addr = s.addr();
    let poster = std::thread::spawn(move || {
        http_support::Conn::open(addr)
            .send(&post(&endpoint, &rpc(1, "tools/list", Value::Null)))
            .status()
    });
    let seen = raw.len();
    const START: &[u8] = b"event: message\ndata: {";
    let (start, end) = loop {
        let from = raw.len().saturating_sub(5);
        read(&mut raw);
        if let Some(end) = find(&raw, b"]}}\n\n", from) {
            let start = find(&raw, START, seen).expect("the reply's first chunk");
            break (start, end);
        }
    };
    let inside = &raw[start..end];
    assert!(
        find(inside, b": keep-alive", 0).is_none(),
        "a keep-alive comment was sent inside the reply"
    );
    assert_eq!(poster.join().expect("the POST"), 202);
    // Keep-alives do arrive on this stream, just not inside the reply.
    while find(&raw, b": keep-alive", end).is_none() {
        read(&mut raw);
    }
}

#[test]
fn large_replies_arrive_whole() {
    let count = 20_000;
    let s = start(&[&format!("-tools={count}")]);
    let mut c = Client::open(&s, "/sse");
    let r = s.send(&post(
        &c.target("/messages"),
        &rpc(1, "tools/list", Value::Null),
    ));
    r.expect(202);
    let e = c.stream.next_event();
    assert_eq!(e.event.as_deref(), Some("message"));
    let data = e.data.expect("data");
    assert!(data.len() > 5_000_000, "{} bytes", data.len());
    assert!(data.starts_with("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":"));
    let names = list_names(data.as_bytes(), "tools");
    assert_eq!(names.len(), count);
    for (i, name) in names.iter().enumerate() {
        assert_eq!(name, &format!("benchmark_tool_{i}"));
    }
    // Followed by a small reply, intact.
    assert_eq!(c.request(&s, &ping(2))["id"], 2);
}

#[test]
fn many_streams_at_once_each_get_their_own_replies() {
    let n = 200;
    let s = start(&[]);
    let mut clients: Vec<Client> = (0..n).map(|_| Client::open(&s, "/sse")).collect();
    let ids: std::collections::HashSet<&str> = clients.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), n);
    // Every POST before any reply is read: each reply waits on its own stream.
    let mut conn = s.connect();
    for (i, c) in clients.iter().enumerate() {
        conn.send(&post(&c.target("/messages"), &ping(i as i64)))
            .expect(202);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(
            c.stream.next_message(),
            json!({"jsonrpc": "2.0", "id": i, "result": {}})
        );
    }
    // And nothing else arrived on any of them.
    for c in clients.iter_mut().take(10) {
        assert_eq!(
            c.stream.try_next(Duration::from_millis(20)),
            Err(NoEvent::Timeout)
        );
    }
}

#[test]
fn oversized_messages_get_413() {
    let s = start(&["-max-request-bytes=1024"]);
    let mut c = Client::open(&s, "/sse");
    let mut body = ping(1).to_string();
    body.push_str(&" ".repeat(1024 - body.len()));
    s.send(&post(&c.target("/messages"), &ping(1)).body(body.clone()))
        .expect(202);
    assert_eq!(c.stream.next_message()["id"], 1);
    body.push(' ');
    s.send(&post(&c.target("/messages"), &ping(1)).body(body.clone()))
        .expect(413);
    s.send(
        &post(&c.target("/messages"), &ping(1))
            .body(body)
            .chunked(300),
    )
    .expect(413);
    // Nothing reached the stream; the session lives on.
    assert_eq!(c.request(&s, &ping(2))["id"], 2);
}

/// A client that goes away while a large reply is still being queued for it: the reply's task
/// stops, the stream's `-max-sse-streams` place and its session are given back at once, and
/// the next client is served in full.
#[test]
fn a_client_gone_in_the_middle_of_a_large_reply_frees_everything() {
    use std::io::Read;
    let s = start(&["-tools=100000", "-max-sse-streams=1"]);
    let mut stream = raw_sse(&s);
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    let target = loop {
        let n = stream.read(&mut buf).expect("the stream");
        assert!(n > 0 && raw.len() < 1 << 16, "no endpoint event");
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        if let Some(i) = text.find("data: /messages")
            && let Some(end) = text[i..].find('\n')
        {
            break text[i + 6..i + end].to_string();
        }
    };
    s.send(&post(&target, &rpc(1, "tools/list", Value::Null)))
        .expect(202);
    // Part of the 40 MB reply, then gone.
    let mut got = 0;
    while got < 1 << 20 {
        let n = stream.read(&mut buf).expect("the reply");
        assert!(n > 0, "the stream ended early");
        got += n;
    }
    drop(stream);
    await_session_gone(&s, &target, Duration::from_secs(5));
    let metrics = s.send(&Request::get("/metrics")).expect(200).text();
    assert!(
        metrics
            .lines()
            .any(|l| l == "benchmark_server_sse_streams 0"),
        "{metrics}"
    );
    // The one stream place is free again, and a whole reply arrives on it.
    let mut next = Client::open(&s, "/sse");
    let listed = next.request(&s, &rpc(3, "tools/list", Value::Null));
    assert_eq!(
        listed["result"]["tools"].as_array().map(Vec::len),
        Some(100_000)
    );
}

#[test]
fn a_stream_nobody_reads_is_closed() {
    // Far more than the stream's budget and the socket buffers together.
    let s = start(&["-tools=100000"]);
    let c = Client::open(&s, "/sse");
    // The POST is accepted once its first chunk is queued: the client need not read the
    // stream before it has the 202.
    s.send(&post(
        &c.target("/messages"),
        &rpc(1, "tools/list", Value::Null),
    ))
    .expect(202);
    let started = Instant::now();
    // The next POST waits behind the reply, which makes no progress: once it has waited
    // 10 s the session is closed, and so is the POST's answer.
    let mut conn = s.connect();
    conn.write_request(&post(&c.target("/messages"), &ping(2)));
    // Socket buffers that grow on a loaded machine can let one more chunk through first, so
    // allow a second wait.
    let deadline = Instant::now() + Duration::from_secs(40);
    let head = conn.try_read_head(deadline, false).expect("a response");
    assert_eq!(head.status, 404, "{head:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(35),
        "{waited:?}"
    );
    // The session is gone.
    s.send(&post(&c.target("/messages"), &ping(3))).expect(404);
}

#[test]
fn a_post_to_a_stream_nobody_reads_gets_503() {
    // Replies of one chunk each fill the socket buffers and the stream's budget; then a POST
    // waits for room, and gets 503.
    let s = start(&["-tool-size=30000"]);
    let c = Client::open(&s, "/sse");
    let mut conn = s.connect();
    let started = Instant::now();
    let mut status = 202;
    let call = json!({"name": "benchmark_tool_0"});
    for i in 0..2000 {
        conn.write_request(&post(
            &c.target("/messages"),
            &rpc(i, "tools/call", call.clone()),
        ));
        let deadline = Instant::now() + Duration::from_secs(40);
        status = conn
            .try_read_head(deadline, false)
            .expect("a response")
            .status;
        conn.try_read_body(deadline).expect("a body");
        if status != 202 {
            break;
        }
    }
    assert_eq!(status, 503);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(35),
        "{waited:?}"
    );
    s.send(&post(&c.target("/messages"), &ping(1000)))
        .expect(404);
}

#[test]
fn open_streams_are_limited_by_max_sessions() {
    let s = start(&["-max-sessions=2"]);
    let a = Client::open(&s, "/sse");
    let mut b = Client::open(&s, "/sse");
    let r = s.send(&Request::sse("/sse"));
    r.expect(503);
    assert_eq!(r.header("retry-after"), Some("5"));
    // Closing one makes room.
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut c = loop {
        let mut conn = s.connect();
        conn.write_request(&Request::sse("/sse"));
        let head = conn.read_head();
        if head.status == 200 {
            break conn.into_events();
        }
        assert_eq!(head.status, 503);
        assert!(Instant::now() < deadline, "the closed stream still counts");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(c.next().event.as_deref(), Some("endpoint"));
    assert_eq!(b.request(&s, &ping(1))["id"], 1);
}
