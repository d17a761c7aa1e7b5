//! Hostile clients against the real binary: slow senders, connection and stream floods,
//! pipelined floods on stdio, malformed and edge-case payloads, oversized headers, request
//! smuggling and authentication tricks.
//!
//! Every attack runs next to a well-behaved client on the same server, which must keep getting
//! correct answers (a `/health` probe and a `tools/call` round trip) within
//! [`GOOD_LATENCY`] while the attack lasts, and the server must still be up afterwards. The
//! attacks are sized for a small CI machine and scale down to the open-files limit.

mod common;
mod hostile_support;
mod http_support;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use common::{Server, StdioClient, TIMEOUT, command, preview};
use hostile_support::{
    GOOD_LATENCY, GoodClient, GoodLoop, Trickle, affordable, assert_tool_reply, blast, exchange,
    open_idle, open_in_batches, read_exchange, rss_kib,
};
use http_support::{Conn, HttpServer, MCP_ACCEPT, Request, Response, SseStream, rpc};
use serde_json::{Value, json};

/// The most resident memory a server under attack may use.
const RSS_LIMIT_KIB: u64 = 200 * 1024;

/// Starts `transport` on a free loopback port with `extra` flags.
fn start(transport: &str, extra: &[&str]) -> HttpServer {
    let mut args = vec![
        format!("-transport={transport}"),
        "-listen=127.0.0.1".to_string(),
        "-port=0".to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    HttpServer::start_command(command(&args), 1)
}

/// Asserts the server process is still running.
#[track_caller]
fn assert_alive(s: &mut HttpServer) {
    assert!(
        s.server.try_status().is_none(),
        "the server exited: {:?}; stderr:\n{}",
        s.server.try_status(),
        s.stderr()
    );
}

#[track_caller]
fn assert_rss_bounded(pid: u32, what: &str) -> u64 {
    let rss = rss_kib(pid);
    assert!(
        rss < RSS_LIMIT_KIB,
        "{what}: the server uses {} MiB",
        rss / 1024
    );
    rss
}

/// The exact bytes of a POST of `body` to `/mcp`, with `extra` header lines (each ending in
/// CRLF) before `Content-Length`.
fn raw_post(addr: SocketAddr, body: &[u8], extra: &str) -> Vec<u8> {
    let mut bytes = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
Accept: {MCP_ACCEPT}\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// POSTs `body` exactly as given and returns the response.
fn post_bytes(s: &HttpServer, body: &[u8]) -> Response {
    let mut c = s.connect();
    c.write(&raw_post(s.addr(), body, ""));
    c.read_response(false)
}

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
const PING_REPLY: &str = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;

/// Asserts `r` is a 400 carrying JSON-RPC error `code` with `id: null`.
#[track_caller]
fn assert_rpc_error(r: &Response, code: i64) {
    assert_eq!(r.status(), 400, "{:?} {}", r.head, preview(&r.text()));
    let reply = r.json();
    assert_eq!(reply["error"]["code"], code, "{reply}");
    assert_eq!(reply["id"], Value::Null, "{reply}");
}

// ---------------------------------------------------------------------------------------------
// Slow senders

#[test]
fn slowloris_headers_are_cut_off_while_slow_bodies_and_a_good_client_are_served() {
    let mut s = start("http", &["-header-timeout=1s"]);
    let addr = s.addr();
    let good = GoodClient::streamable(&s, None);
    let session = good.session().expect("a session").to_string();
    let good = GoodLoop::spawn(good);

    // Request heads that never end, one byte every 50 ms.
    let heads = affordable(200);
    let mut slow_heads: Vec<Trickle> = open_in_batches(addr, heads, |i| {
        let method = if i % 2 == 0 { "GET" } else { "POST" };
        let mut script = format!("{method} /mcp HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ").into_bytes();
        script.extend(std::iter::repeat_n(b'a', 4096));
        Trickle::open(addr, script)
    });
    // Complete heads, then bodies one byte every 50 ms: over two seconds each, longer than the
    // header timeout, which does not apply to bodies.
    let bodies = affordable(50);
    let mut slow_bodies: Vec<(String, Trickle)> = open_in_batches(addr, bodies, |i| {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{},"method":"ping"}}"#, 1000 + i);
        let head = format!(
            "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
Accept: {MCP_ACCEPT}\r\nMcp-Session-Id: {session}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut t = Trickle::open(addr, [head.as_bytes(), body.as_bytes()].concat());
        t.step(head.len());
        let reply = format!(r#"{{"jsonrpc":"2.0","id":{},"result":{{}}}}"#, 1000 + i);
        (reply, t)
    });

    let started = Instant::now();
    let deadline = started + Duration::from_secs(8);
    loop {
        for t in &mut slow_heads {
            t.step(1);
        }
        for (_, t) in &mut slow_bodies {
            t.step(1);
        }
        let heads_closed = slow_heads.iter().all(|t| t.closed.is_some());
        let bodies_answered = slow_bodies
            .iter()
            .all(|(reply, t)| t.received.ends_with(reply.as_bytes()));
        if heads_closed && bodies_answered {
            break;
        }
        if !good.is_running() {
            good.finish(0);
            unreachable!("the well-behaved client stopped");
        }
        assert!(
            Instant::now() < deadline,
            "after {:?}: {} of {heads} slow heads closed, {} of {bodies} slow bodies answered",
            started.elapsed(),
            slow_heads.iter().filter(|t| t.closed.is_some()).count(),
            slow_bodies
                .iter()
                .filter(|(r, t)| t.received.ends_with(r.as_bytes()))
                .count(),
        );
        thread::sleep(Duration::from_millis(50));
    }

    let mut lifetimes: Vec<Duration> = slow_heads
        .iter()
        .map(|t| t.closed.unwrap() - t.opened)
        .collect();
    lifetimes.sort();
    let (first, last) = (lifetimes[0], lifetimes[lifetimes.len() - 1]);
    assert!(
        first >= Duration::from_millis(900),
        "a slow head was cut after {first:?}, before the 1 s header timeout"
    );
    assert!(
        last <= Duration::from_millis(3500),
        "a slow head lived {last:?}"
    );
    for t in &slow_heads {
        assert!(!t.is_done(), "a slow head was sent whole");
        assert!(
            t.received.is_empty() || t.received.starts_with(b"HTTP/1.1 4"),
            "{}",
            String::from_utf8_lossy(&t.received)
        );
    }
    for (reply, t) in &slow_bodies {
        assert!(t.is_done());
        let text = String::from_utf8_lossy(&t.received);
        assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
        assert!(text.ends_with(reply.as_str()), "{text}");
    }

    let mut good = good.finish(3);
    good.check();
    assert_alive(&mut s);
    eprintln!(
        "{heads} slow heads closed after {first:?}..{last:?}; {bodies} slow bodies answered \
after {:?}; {} good checks, slowest request {:?}",
        started.elapsed(),
        good.checks,
        good.slowest
    );
}

// ---------------------------------------------------------------------------------------------
// Connection floods

#[test]
fn a_thousand_idle_connections_do_not_slow_a_good_client() {
    // The header timeout must not close the idle connections before they are used below.
    let mut s = start("http", &["-header-timeout=60s"]);
    let pid = s.server.id();
    let n = affordable(1500);
    let before = rss_kib(pid);
    let good = GoodLoop::spawn(GoodClient::streamable(&s, None));

    let started = Instant::now();
    let idle = open_idle(s.addr(), n);
    let opened = started.elapsed();
    thread::sleep(Duration::from_millis(500));
    let during = assert_rss_bounded(pid, &format!("with {n} idle connections"));

    // Every idle connection is still served: a request on each, all written before any
    // response is read.
    let mut idle = idle;
    for c in &mut idle {
        c.write_request(&Request::get("/health"));
    }
    for c in &mut idle {
        let r = c.read_response(false);
        r.expect(200);
        assert_eq!(r.json()["status"], "healthy");
    }
    let served = started.elapsed();

    let mut good = good.finish(3);
    drop(idle);
    good.check();
    assert_alive(&mut s);
    eprintln!(
        "{n} idle connections opened in {opened:?} and all served by {served:?}; RSS {} -> {} \
KiB; {} good checks, slowest request {:?}",
        before, during, good.checks, good.slowest
    );
}

#[test]
fn connections_past_the_limit_get_503_while_admitted_clients_are_served() {
    let limit = affordable(100);
    let mut s = start(
        "http",
        &[&format!("-max-connections={limit}"), "-header-timeout=60s"],
    );
    let started = Instant::now();
    // The well-behaved client holds one kept-alive connection, admitted before the flood.
    let mut good = GoodClient::streamable_keep_alive(&s, None);
    good.check();
    let mut held: Vec<Conn> = (1..limit).map(|_| s.connect()).collect();
    for c in &mut held {
        c.write_request(&Request::get("/health"));
    }
    for c in &mut held {
        c.read_response(false).expect(200);
    }

    // Everything past the limit is refused at once, without a request being read.
    let good = GoodLoop::spawn(good);
    let excess = affordable(500);
    let mut refused = open_idle(s.addr(), excess);
    for c in &mut refused {
        let head = c
            .try_read_head(Instant::now() + TIMEOUT, false)
            .unwrap_or_else(|e| panic!("no 503 for a connection past the limit: {e}"));
        assert_eq!(head.status, 503, "{head:?}");
        assert_eq!(head.header("retry-after"), Some("1"), "{head:?}");
        let body = c.try_read_body(Instant::now() + TIMEOUT).unwrap();
        assert_eq!(body, b"Too many connections, retry.\n");
        assert!(c.closes_within(TIMEOUT), "a refused connection stayed open");
    }
    drop(refused);
    let mut good = good.finish(3);

    // Freeing slots admits new clients promptly.
    held.truncate(held.len() - 10);
    let deadline = Instant::now() + GOOD_LATENCY;
    loop {
        let mut c = s.connect();
        match c.try_read_head(Instant::now() + Duration::from_millis(200), false) {
            Ok(head) => assert_eq!(head.status, 503, "{head:?}"),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                c.send(&Request::get("/health")).expect(200);
                break;
            }
            Err(e) => panic!("{e}"),
        }
        assert!(Instant::now() < deadline, "freed slots were not reused");
        thread::sleep(Duration::from_millis(20));
    }
    drop(held);
    good.check();
    assert_alive(&mut s);

    // The refusals are logged, at most once a second.
    let warnings = s.stderr().matches("connection limit").count() as u64;
    assert!(warnings >= 1, "{}", s.stderr());
    assert!(
        warnings <= started.elapsed().as_secs() + 1,
        "{warnings} warnings in {:?}",
        started.elapsed()
    );
    eprintln!(
        "limit {limit}: {excess} refused with 503; {warnings} warning line(s); good client's \
slowest request {:?}",
        good.slowest
    );
}

// ---------------------------------------------------------------------------------------------
// Legacy SSE streams nobody reads

/// Opens an `/sse` stream, reads its endpoint event and returns the stream and the POST target.
fn sse_session(s: &HttpServer) -> (SseStream, String) {
    let mut stream = SseStream::open(s.addr(), &Request::sse("/sse"));
    let e = stream.next_event();
    assert_eq!(e.event.as_deref(), Some("endpoint"), "{e:?}");
    (stream, e.data.expect("endpoint data"))
}

fn sse_post(target: &str, message: &Value) -> Request {
    Request::post(target, message.to_string()).header("Content-Type", "application/json")
}

#[test]
fn unread_sse_streams_keep_memory_bounded_and_a_reading_client_is_served() {
    // A 100,000-tool listing is about 40 MB: far more than a stream's queue and the socket
    // buffers together.
    let mut s = start("sse", &["-tools=100000", "-header-timeout=60s"]);
    let pid = s.server.id();
    let before = rss_kib(pid);
    let good = GoodLoop::spawn(GoodClient::sse(&s, None));

    // Streams whose response is never read at all.
    let n = affordable(800);
    let silent = open_in_batches(s.addr(), n, |_| {
        let mut c = s.connect();
        c.write_request(&Request::sse("/sse"));
        c
    });
    // Streams that read their endpoint event and then stop reading; each is sent a small
    // request and a listing (both 202 once their first chunk is queued; the listing's other
    // chunks wait for the client to read the ones before).
    let stalled = 10.min(n);
    let mut stalled_streams = Vec::new();
    let mut waiting_posts = Vec::new();
    for i in 0..stalled {
        let (stream, target) = sse_session(&s);
        s.send(&sse_post(&target, &rpc(1, "ping", Value::Null)))
            .expect(202);
        let mut c = s.connect();
        c.write_request(&sse_post(
            &target,
            &rpc(2 + i as i64, "tools/list", Value::Null),
        ));
        waiting_posts.push(c);
        stalled_streams.push(stream);
    }
    // Let the queues fill up.
    thread::sleep(Duration::from_secs(2));
    let during = assert_rss_bounded(
        pid,
        &format!("with {n} unread streams and {stalled} full queues"),
    );
    // The listings were accepted without being buffered whole (the RSS check above).
    for c in &mut waiting_posts {
        let head = c.try_read_head(Instant::now() + Duration::from_secs(10), false);
        assert_eq!(head.map(|h| h.status).ok(), Some(202));
    }
    let stream_count = silent.len();
    let mut good = good.finish(3);

    drop(waiting_posts);
    drop(stalled_streams);
    drop(silent);
    good.check();
    assert_alive(&mut s);
    eprintln!(
        "{stream_count} unread streams, {stalled} full queues: RSS {before} -> {during} KiB; {} \
good checks, slowest request {:?}",
        good.checks, good.slowest
    );
}

// ---------------------------------------------------------------------------------------------
// stdio

#[test]
fn a_stdio_flood_read_late_gets_exactly_one_response_per_request() {
    const N: usize = 20_000;
    let mut server = Server::spawn(["-tools=10", "-tool-size=100"]);
    let pid = server.id();
    let mut stdin = server.take_stdin();
    let stdout = server.take_stdout();
    let writer = thread::spawn(move || {
        let mut all = Vec::with_capacity(N * 128);
        for i in 1..=N {
            writeln!(
                all,
                r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"benchmark_tool_{}","arguments":{{"param1":"v{i}"}}}}}}"#,
                i % 10
            )
            .unwrap();
        }
        stdin.write_all(&all).unwrap();
        // Dropping stdin closes it: the server answers what is left and exits.
    });

    // Nobody reads for a while: the server must stop reading too rather than buffer.
    thread::sleep(Duration::from_secs(1));
    assert!(
        !writer.is_finished(),
        "the server took all {N} requests while its output was not read"
    );
    let stalled = assert_rss_bounded(pid, "with its output unread");

    let reader = thread::spawn(move || {
        let mut lines = Vec::with_capacity(N);
        for line in BufReader::with_capacity(1 << 16, stdout).lines() {
            lines.push(line.expect("stdout is UTF-8"));
        }
        lines
    });
    let deadline = Instant::now() + TIMEOUT;
    while !reader.is_finished() {
        assert!(
            Instant::now() < deadline,
            "stdout still open after {TIMEOUT:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
    let lines = reader.join().unwrap();
    writer.join().unwrap();
    assert_eq!(lines.len(), N, "one response per request");
    for (i, line) in lines.iter().enumerate() {
        let id = i as i64 + 1;
        let reply: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {id} is not JSON ({e}): {}", preview(line)));
        assert_tool_reply(
            &reply,
            id,
            &format!("benchmark_tool_{}", id % 10),
            &json!({"param1": format!("v{id}")}),
        );
    }
    let status = server.wait_exit(TIMEOUT);
    assert!(status.success(), "{status}; stderr:\n{}", server.stderr());
    eprintln!("{N} pipelined calls: RSS {stalled} KiB while stalled, every reply matched in order");
}

/// A check of the one line that answers a hostile stdio line.
type LineCheck = Box<dyn Fn(&str)>;

#[test]
fn hostile_stdio_lines_get_one_clean_answer_each() {
    let mut c = StdioClient::start(["-max-request-bytes=200000"]);
    let error_code = |line: &str| -> (i64, Value) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        (v["error"]["code"].as_i64().unwrap_or(0), v["id"].clone())
    };
    let cases: Vec<(&str, Vec<u8>, LineCheck)> = vec![
        (
            "100,000 [",
            vec![b'['; 100_000],
            Box::new(move |l| assert_eq!(error_code(l), (-32700, Value::Null), "{l}")),
        ),
        (
            "30,000 nested objects",
            br#"{"a":"#.repeat(30_000),
            Box::new(move |l| assert_eq!(error_code(l), (-32700, Value::Null), "{l}")),
        ),
        (
            "invalid UTF-8",
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":\"\xff\xfe\"}".to_vec(),
            Box::new(move |l| assert_eq!(error_code(l), (-32700, Value::Null), "{l}")),
        ),
        (
            "a line over -max-request-bytes",
            [
                br#"{"jsonrpc":"2.0","id":1,"method":"ping","pad":""#.as_slice(),
                &[b'x'; 300_000],
                b"\"}",
            ]
            .concat(),
            Box::new(move |l| assert_eq!(error_code(l), (-32600, Value::Null), "{l}")),
        ),
        (
            "id i64::MIN",
            br#"{"jsonrpc":"2.0","id":-9223372036854775808,"method":"ping"}"#.to_vec(),
            Box::new(|l| {
                assert_eq!(
                    l,
                    r#"{"jsonrpc":"2.0","id":-9223372036854775808,"result":{}}"#
                )
            }),
        ),
        (
            "id u64::MAX",
            br#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"ping"}"#.to_vec(),
            Box::new(|l| {
                assert_eq!(
                    l,
                    r#"{"jsonrpc":"2.0","id":18446744073709551615,"result":{}}"#
                )
            }),
        ),
        (
            "id 2^64",
            br#"{"jsonrpc":"2.0","id":18446744073709551616,"method":"ping"}"#.to_vec(),
            Box::new(move |l| assert_eq!(error_code(l), (-32600, Value::Null), "{l}")),
        ),
        (
            "id 1e-400",
            br#"{"jsonrpc":"2.0","id":1e-400,"method":"ping"}"#.to_vec(),
            Box::new(move |l| assert_eq!(error_code(l), (-32600, Value::Null), "{l}")),
        ),
        (
            "duplicate ids",
            br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#.to_vec(),
            Box::new(|l| assert_eq!(l, PING_REPLY)),
        ),
    ];
    for (i, (what, line, check)) in cases.iter().enumerate() {
        let started = Instant::now();
        let mut bytes = line.clone();
        bytes.push(b'\n');
        let ping = 9000 + i;
        bytes.extend_from_slice(
            format!("{{\"jsonrpc\":\"2.0\",\"id\":{ping},\"method\":\"ping\"}}\n").as_bytes(),
        );
        c.send_raw(&bytes);
        let answer = c.recv_line();
        check(&answer);
        assert_eq!(
            c.recv_line(),
            format!(r#"{{"jsonrpc":"2.0","id":{ping},"result":{{}}}}"#),
            "the ping after {what}"
        );
        let took = started.elapsed();
        assert!(took <= GOOD_LATENCY, "{what}: {took:?}");
    }
    c.close_stdin();
    assert!(c.wait_exit(TIMEOUT).success(), "{}", c.stderr());
}

// ---------------------------------------------------------------------------------------------
// Hostile payloads over HTTP

#[test]
fn hostile_bodies_get_clean_errors_and_edge_ids_come_back_exactly() {
    const LIMIT: usize = 600_000;
    let mut s = start(
        "http",
        &[
            "-session-mode=stateless",
            &format!("-max-request-bytes={LIMIT}"),
        ],
    );
    let addr = s.addr();
    let good = GoodLoop::spawn(GoodClient::streamable(&s, None));

    // Bodies over the limit: 413, whether declared, sent whole or chunked.
    let mut body = PING.as_bytes().to_vec();
    body.resize(LIMIT, b' ');
    post_bytes(&s, &body).expect(200);
    body.push(b' ');
    let b = blast(addr, &raw_post(addr, &body, ""), TIMEOUT);
    assert_eq!(
        b.status,
        Some(413),
        "{}",
        preview(&String::from_utf8_lossy(&b.received))
    );
    let chunked = Request::post("/mcp", body.clone())
        .header("Content-Type", "application/json")
        .chunked(16 * 1024)
        .to_bytes(addr);
    let b = blast(addr, &chunked, TIMEOUT);
    assert_eq!(
        b.status,
        Some(413),
        "{}",
        preview(&String::from_utf8_lossy(&b.received))
    );
    let declared = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
Content-Length: 1000000000000\r\n\r\n{PING}"
    );
    let x = exchange(addr, declared.as_bytes(), Duration::from_millis(500));
    assert_eq!(x.statuses(), [413], "{x:?}");

    // Deep nesting is refused, not recursed into.
    assert_rpc_error(&post_bytes(&s, &vec![b'['; 100_000]), -32700);
    assert_rpc_error(&post_bytes(&s, &br#"{"a":"#.repeat(100_000)), -32700);
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"benchmark_tool_0","arguments":{{"x":{}{}}}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_rpc_error(&post_bytes(&s, deep.as_bytes()), -32700);
    // Moderate nesting in arguments is echoed as sent.
    let nested = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let call = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"benchmark_tool_0","arguments":{{"x":{nested}}}}}}}"#
    );
    let r = post_bytes(&s, call.as_bytes());
    r.expect(200);
    let arguments: Value = serde_json::from_str(&format!(r#"{{"x":{nested}}}"#)).unwrap();
    assert_tool_reply(&r.json(), 1, "benchmark_tool_0", &arguments);

    // Invalid UTF-8 anywhere: a parse error, never an echo of the bad bytes.
    for bad in [
        b"\xff\xfe".to_vec(),
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":\"\xc0\xaf\"}".to_vec(),
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"benchmark_tool_0\",\"arguments\":{\"param1\":\"\xed\xa0\x80\"}}}".to_vec(),
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"benchmark_tool_0\",\"arguments\":{\"param1\":\"\xff\"}}}".to_vec(),
    ] {
        assert_rpc_error(&post_bytes(&s, &bad), -32700);
    }

    // Integer ids at the edges of i64 and u64 come back byte for byte.
    for id in [
        "-9223372036854775808",
        "9223372036854775807",
        "18446744073709551615",
    ] {
        let r = post_bytes(
            &s,
            format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#).as_bytes(),
        );
        r.expect(200);
        assert_eq!(
            r.text(),
            format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#)
        );
    }
    // -0 is the integer 0.
    let r = post_bytes(&s, br#"{"jsonrpc":"2.0","id":-0,"method":"ping"}"#);
    assert_eq!(r.text(), r#"{"jsonrpc":"2.0","id":0,"result":{}}"#);
    // Ids that are not integers in range are refused rather than rounded.
    for id in [
        "18446744073709551616",
        "-9223372036854775809",
        "99999999999999999999999999999",
        "1e308",
        "1e-400",
        "1.0",
        "1E2",
        "true",
        "{}",
        "[]",
    ] {
        let r = post_bytes(
            &s,
            format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#).as_bytes(),
        );
        assert_rpc_error(&r, -32600);
    }
    // Numbers in arguments are echoed exactly as sent, whatever their range.
    for n in [
        "-9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "1e308",
        "-0",
        "1e-400",
        "123456789012345678901234567890",
    ] {
        let r = post_bytes(
            &s,
            format!(r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"benchmark_tool_0","arguments":{{"n":{n}}}}}}}"#)
                .as_bytes(),
        );
        r.expect(200);
        let text = r.json()["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            text.starts_with(&format!(r#"{{"arguments":{{"n":{n}}},"#)),
            "{n}: {}",
            preview(&text)
        );
    }
    // Out of the range of a double: not JSON this server accepts.
    for n in ["1e999", "-1e999"] {
        let r = post_bytes(
            &s,
            format!(r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"benchmark_tool_0","arguments":{{"n":{n}}}}}}}"#)
                .as_bytes(),
        );
        assert_rpc_error(&r, -32700);
    }

    // Duplicate keys: the first one counts, for the dispatcher and the header checks alike.
    let r = post_bytes(&s, br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#);
    assert_eq!(r.text(), PING_REPLY);
    let r = post_bytes(
        &s,
        br#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/list"}"#,
    );
    assert_eq!(r.text(), PING_REPLY);
    let r = post_bytes(
        &s,
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"benchmark_tool_1","name":"benchmark_tool_2","arguments":{"a":1},"arguments":{"a":2}}}"#,
    );
    assert_tool_reply(&r.json(), 1, "benchmark_tool_1", &json!({"a": 1}));
    let meta = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;
    let modern = |body: String, method: &str, name: &str| {
        let mut c = s.connect();
        c.write(&raw_post(
            addr,
            body.as_bytes(),
            &format!(
                "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: {method}\r\nMcp-Name: {name}\r\n"
            ),
        ));
        c.read_response(false)
    };
    // The body names tool 1 first (tool 2 second): it agrees with the headers.
    let r = modern(
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"benchmark_tool_1","name":"benchmark_tool_2",{meta}}}}}"#
        ),
        "tools/call",
        "benchmark_tool_1",
    );
    r.expect(200);
    assert!(
        r.text().contains(r#"\"tool\":\"benchmark_tool_1\""#),
        "{}",
        preview(&r.text())
    );
    // An escaped duplicate is the same key: the first (tool 2) is what the body says.
    let r = modern(
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"n\u0061me":"benchmark_tool_2","name":"benchmark_tool_1",{meta}}}}}"#
        ),
        "tools/call",
        "benchmark_tool_1",
    );
    assert_eq!(r.status(), 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], -32020);
    let r = modern(
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"m\u0065thod":"tools/call","method":"tools/list","params":{{{meta}}}}}"#
        ),
        "tools/list",
        "x",
    );
    assert_eq!(r.status(), 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], -32020);

    let mut good = good.finish(3);
    good.check();
    assert_alive(&mut s);
}

#[test]
fn oversized_request_heads_are_refused_without_harm() {
    let mut s = start("http", &["-session-mode=stateless"]);
    let addr = s.addr();
    let pid = s.server.id();
    let good = GoodLoop::spawn(GoodClient::streamable(&s, None));

    let head = |extra: &str| format!("GET /health HTTP/1.1\r\nHost: {addr}\r\n{extra}\r\n");
    let many: String = (0..500).map(|i| format!("X-Header-{i}: v\r\n")).collect();
    let huge_value = format!("X-Big: {}\r\n", "a".repeat(1 << 20));
    let huge_target = format!(
        "GET /{} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let cases = [
        ("500 headers", head(&many)),
        ("a 1 MB header value", head(&huge_value)),
        ("a 1 MB request target", huge_target),
    ];
    // Each case from 8 connections at once, twice.
    for (what, bytes) in &cases {
        thread::scope(|scope| {
            let attempts: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        (0..2)
                            .map(|_| blast(addr, bytes.as_bytes(), TIMEOUT))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for a in attempts {
                for b in a.join().unwrap() {
                    // A 4xx (hyper answers 431), or a close when the refusal cut the upload.
                    match b.status {
                        Some(status) => assert!((400..500).contains(&status), "{what}: {status}"),
                        None => assert!(b.closed, "{what}: neither an answer nor a close"),
                    }
                }
            }
        });
    }
    // Under the limits, a large head is still served.
    let r = s.send(&Request::get("/health").header("X-Big", &"a".repeat(64 * 1024)));
    r.expect(200);
    let r = s.send(&(0..90).fold(Request::get("/health"), |r, i| {
        r.header(&format!("X-Header-{i}"), "v")
    }));
    r.expect(200);

    assert_rss_bounded(pid, "after the oversized heads");
    let mut good = good.finish(3);
    good.check();
    assert_alive(&mut s);
}

// ---------------------------------------------------------------------------------------------
// Request smuggling

#[test]
fn ambiguous_framing_never_lets_a_hidden_request_through() {
    let mut s = start(
        "http",
        &["-session-mode=stateless", "-max-request-bytes=1024"],
    );
    let addr = s.addr();
    let good = GoodLoop::spawn(GoodClient::streamable(&s, None));

    // The request an attacker hides: its reply would be the /version document.
    let hidden = format!("GET /version HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    const LEAK: &str = "protocol_versions";
    let head = |framing: &str| {
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
Accept: {MCP_ACCEPT}\r\n{framing}\r\n"
        )
    };
    let chunked_ping = format!("{:x}\r\n{PING}\r\n0\r\n\r\n", PING.len());
    let cl = PING.len();

    // (what, bytes, whether a 200 for the ping is an acceptable answer besides a 400)
    let cases: Vec<(&str, String, bool)> = vec![
        (
            "Content-Length and Transfer-Encoding, chunked end first",
            {
                let body = format!("{chunked_ping}{hidden}");
                format!(
                    "{}{body}",
                    head(&format!(
                        "Content-Length: {}\r\nTransfer-Encoding: chunked\r\n",
                        body.len()
                    ))
                )
            },
            true,
        ),
        (
            "Content-Length and Transfer-Encoding, Content-Length end first",
            format!(
                "{}{chunked_ping}{hidden}",
                head("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n")
            ),
            true,
        ),
        (
            "Transfer-Encoding before Content-Length",
            format!(
                "{}{chunked_ping}{hidden}",
                head("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n")
            ),
            true,
        ),
        (
            "two different Content-Lengths",
            format!(
                "{}{PING}{hidden}",
                head(&format!(
                    "Content-Length: {cl}\r\nContent-Length: {}\r\n",
                    cl + hidden.len()
                ))
            ),
            false,
        ),
        (
            "a Content-Length list",
            format!(
                "{}{PING}{hidden}",
                head(&format!("Content-Length: {cl}, {}\r\n", cl + hidden.len()))
            ),
            false,
        ),
        (
            "Transfer-Encoding: chunked, identity",
            format!(
                "{}{chunked_ping}{hidden}",
                head("Transfer-Encoding: chunked, identity\r\n")
            ),
            false,
        ),
        (
            "Transfer-Encoding twice",
            format!(
                "{}{chunked_ping}{hidden}",
                head("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n")
            ),
            false,
        ),
        (
            "an unknown transfer coding",
            format!(
                "{}{chunked_ping}{hidden}",
                head("Transfer-Encoding: xchunked\r\n")
            ),
            false,
        ),
        (
            "a space before the colon",
            format!(
                "{}{chunked_ping}{hidden}",
                head(&format!(
                    "Transfer-Encoding : chunked\r\nContent-Length: {cl}\r\n"
                ))
            ),
            false,
        ),
        (
            "an obs-folded Transfer-Encoding",
            format!(
                "{}{PING}{hidden}",
                head(&format!(
                    "Transfer-Encoding:\r\n chunked\r\nContent-Length: {cl}\r\n"
                ))
            ),
            false,
        ),
        (
            "an obs-folded header before Content-Length",
            format!(
                "{}{PING}{hidden}",
                head(&format!(
                    "X-Fold: a\r\n\tTransfer-Encoding: chunked\r\nContent-Length: {cl}\r\n"
                ))
            ),
            false,
        ),
        (
            "a signed Content-Length",
            format!(
                "{}{PING}{hidden}",
                head(&format!("Content-Length: +{cl}\r\n"))
            ),
            false,
        ),
        (
            "a negative Content-Length",
            format!("{}{PING}{hidden}", head("Content-Length: -1\r\n")),
            false,
        ),
        (
            "chunked under HTTP/1.0",
            format!(
                "POST /mcp HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
Transfer-Encoding: chunked\r\n\r\n{chunked_ping}{hidden}"
            ),
            false,
        ),
        (
            "a chunk size line ended by a bare LF",
            format!(
                "{}{:x}\n{PING}\n0\n\n{hidden}",
                head("Transfer-Encoding: chunked\r\n"),
                PING.len()
            ),
            false,
        ),
        (
            "a chunk size that overflows",
            format!(
                "{}fffffffffffffffffff\r\n{PING}\r\n0\r\n\r\n{hidden}",
                head("Transfer-Encoding: chunked\r\n")
            ),
            false,
        ),
    ];
    thread::scope(|scope| {
        let runs: Vec<_> = cases
            .iter()
            .map(|(what, bytes, ping_ok)| {
                scope.spawn(move || {
                    let x = exchange(addr, bytes.as_bytes(), Duration::from_millis(1500));
                    (what, ping_ok, x)
                })
            })
            .collect();
        for run in runs {
            let (what, ping_ok, x) = run.join().unwrap();
            assert!(
                !x.any_body_contains(LEAK),
                "{what}: the hidden request was served: {x:?}"
            );
            assert_eq!(x.responses.len(), 1, "{what}: {x:?}");
            let r = &x.responses[0];
            match r.status() {
                400 => {}
                200 if *ping_ok => assert_eq!(r.text(), PING_REPLY, "{what}"),
                other => panic!("{what}: {other} {:?} {}", r.head, r.text()),
            }
            assert!(
                x.closed,
                "{what}: the connection stayed open after {:?}",
                x.statuses()
            );
        }
    });

    // An oversized body is refused; what it contains is never read as a request, while a
    // request pipelined after it still is.
    let mut body = hidden.clone().into_bytes();
    body.resize(2000, b' ');
    let mut bytes = raw_post(addr, &body, "");
    bytes.extend_from_slice(format!("GET /health HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes());
    let x = exchange(addr, &bytes, Duration::from_millis(1500));
    assert!(!x.any_body_contains(LEAK), "{x:?}");
    assert_eq!(
        x.responses.first().map(Response::status),
        Some(413),
        "{x:?}"
    );
    assert!(x.responses.len() <= 2, "{x:?}");
    if let Some(r) = x.responses.get(1) {
        r.expect(200);
        assert_eq!(r.json()["status"], "healthy");
    }
    // The same with a chunked body.
    let chunked = Request::post("/mcp", body)
        .header("Content-Type", "application/json")
        .chunked(500)
        .to_bytes(addr);
    let x = exchange(addr, &chunked, Duration::from_millis(1500));
    assert!(!x.any_body_contains(LEAK), "{x:?}");
    assert_eq!(x.statuses(), [413], "{x:?}");

    // Unambiguous framing is honoured, pipelining included: both requests are answered, in
    // order, on one connection.
    let mut conn = s.connect();
    conn.write(
        format!(
            "{}{chunked_ping}GET /health HTTP/1.1\r\nHost: {addr}\r\n\r\n",
            head("Transfer-Encoding: chunked\r\n")
        )
        .as_bytes(),
    );
    let x = read_exchange(&mut conn, Duration::from_millis(300));
    assert_eq!(x.statuses(), [200, 200], "{x:?}");
    assert_eq!(x.responses[0].text(), PING_REPLY);
    assert_eq!(x.responses[1].json()["status"], "healthy");

    let mut good = good.finish(3);
    good.check();
    assert_alive(&mut s);
}

// ---------------------------------------------------------------------------------------------
// Authentication

const TOKEN: &str = "secret123";

/// The exact bytes of a ping POST to `target` with `auth` header lines (each ending in CRLF).
fn auth_post(addr: SocketAddr, target: &str, auth: &[u8]) -> Vec<u8> {
    let mut bytes = format!(
        "POST {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
Accept: {MCP_ACCEPT}\r\nContent-Length: {}\r\n",
        PING.len()
    )
    .into_bytes();
    bytes.extend_from_slice(auth);
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(PING.as_bytes());
    bytes
}

fn send_raw(addr: SocketAddr, bytes: &[u8]) -> Response {
    let mut c = Conn::open(addr);
    c.write(bytes);
    c.read_response(false)
}

#[track_caller]
fn assert_unauthorized(r: &Response, what: &str) {
    assert_eq!(r.status(), 401, "{what}: {:?} {}", r.head, r.text());
    assert!(
        r.header("www-authenticate")
            .is_some_and(|c| c.starts_with("Bearer realm=\"MCP Server\"")),
        "{what}: {:?}",
        r.head
    );
    assert!(!r.text().contains("jsonrpc"), "{what}: {}", r.text());
}

/// Spellings of a path: only the exact probe paths are open; everything else needs the
/// token, and with it reaches nothing but the exact endpoint paths. `endpoint` is the name of
/// one (`mcp`, `sse`, `messages`); none of the spellings is that exact path.
fn assert_paths_need_the_token(s: &HttpServer, endpoint: &str) {
    let paths = [
        format!("//{endpoint}"),
        format!("/./{endpoint}"),
        format!("/health/../{endpoint}"),
        format!("/health/%2e%2e/{endpoint}"),
        format!("/%2e%2e/{endpoint}"),
        format!("/%2E%2E/{endpoint}"),
        format!("/health/..%2f{endpoint}"),
        format!("/{endpoint}/"),
        format!("/{endpoint};x"),
        format!("/{endpoint}%00"),
        format!("/%{:x}{}", endpoint.as_bytes()[0], &endpoint[1..]),
        format!("/{}", endpoint.to_uppercase()),
        "/%68ealth".to_string(),
        "/HEALTH".to_string(),
        "/Health".to_string(),
        "/health;x".to_string(),
        "/health%00".to_string(),
        "/health%2f".to_string(),
        "/health/".to_string(),
        "//health".to_string(),
    ];
    for path in &paths {
        for method in ["GET", "POST", "DELETE"] {
            let req = Request::new(method, path)
                .header("Content-Type", "application/json")
                .header("Accept", MCP_ACCEPT)
                .body(if method == "POST" { PING } else { "" });
            assert_unauthorized(&s.send(&req), &format!("{method} {path}"));
            assert_unauthorized(
                &s.send(&req.clone().bearer("wrong")),
                &format!("{method} {path} with a wrong token"),
            );
            let r = s.send(&req.bearer(TOKEN));
            assert_eq!(
                r.status(),
                404,
                "{method} {path} with the token: {}",
                r.text()
            );
            assert!(
                !r.text().contains("jsonrpc"),
                "{method} {path}: {}",
                r.text()
            );
        }
    }
}

#[test]
fn authentication_cannot_be_bypassed() {
    let mut s = start(
        "http",
        &["-session-mode=stateless", &format!("-auth-token={TOKEN}")],
    );
    let addr = s.addr();
    let good = GoodLoop::spawn(GoodClient::streamable(&s, Some(TOKEN)));
    let right = format!("Authorization: Bearer {TOKEN}\r\n");

    assert_paths_need_the_token(&s, "mcp");
    let mut sse = start("sse", &[&format!("-auth-token={TOKEN}")]);
    assert_paths_need_the_token(&sse, "sse");
    assert_paths_need_the_token(&sse, "messages");
    GoodClient::sse(&sse, Some(TOKEN)).check();
    assert_alive(&mut sse);
    // The absolute form is judged by its path.
    let absolute = auth_post(addr, &format!("http://{addr}/mcp"), b"");
    assert_unauthorized(&send_raw(addr, &absolute), "absolute-form /mcp");
    // A raw NUL in the target is not HTTP at all.
    let nul = exchange(
        addr,
        format!("GET /health\0 HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes(),
        Duration::from_millis(500),
    );
    assert_eq!(nul.statuses(), [400], "{nul:?}");
    // A probe path carries no MCP, whatever is posted to it.
    let r = send_raw(addr, &auth_post(addr, "/health", b""));
    assert_eq!(r.status(), 405, "{}", r.text());

    // Scheme and whitespace variants of the header.
    let accepted: &[&[u8]] = &[
        b"Bearer secret123",
        b"bearer secret123",
        b"BEARER secret123",
        b"bEaReR secret123",
        b"   Bearer secret123",
        b"\tBearer secret123",
        b"Bearer    secret123",
        b"Bearer secret123   ",
        b"Bearer secret123\t",
    ];
    for value in accepted {
        let what = String::from_utf8_lossy(value);
        let r = send_raw(
            addr,
            &auth_post(
                addr,
                "/mcp",
                &[b"Authorization: ", *value, b"\r\n"].concat(),
            ),
        );
        assert_eq!(r.status(), 200, "{what:?}: {}", r.text());
        assert_eq!(r.text(), PING_REPLY, "{what:?}");
    }
    let refused: &[&[u8]] = &[
        b"",
        b"Bearer",
        b"Bearer ",
        b"Bearer\tsecret123",
        b"Bearersecret123",
        b"Bearer secret12",
        b"Bearer secret1234",
        b"Bearer secret123x",
        b"Bearer secret123 x",
        b"Bearer Secret123",
        b"Bearer \"secret123\"",
        b"Bearer secret123,Bearer secret123",
        b"Bearer wrong, Bearer secret123",
        b"Bearer secret123\xff",
        b"Bearer\xa0secret123",
        b"Basic c2VjcmV0MTIz",
        b"Token secret123",
        b"secret123",
    ];
    for value in refused {
        let what = String::from_utf8_lossy(value);
        let r = send_raw(
            addr,
            &auth_post(
                addr,
                "/mcp",
                &[b"Authorization: ", *value, b"\r\n"].concat(),
            ),
        );
        assert_unauthorized(&r, &format!("{what:?}"));
    }
    // Control characters end the request before authentication is considered.
    for value in [b"Bearer secret123\0".as_slice(), b"Bearer\x0bsecret123"] {
        let x = exchange(
            addr,
            &auth_post(addr, "/mcp", &[b"Authorization: ", value, b"\r\n"].concat()),
            Duration::from_millis(500),
        );
        assert_eq!(
            x.statuses(),
            [400],
            "{:?}: {x:?}",
            String::from_utf8_lossy(value)
        );
    }
    // A header name with a space before the colon is malformed, not an Authorization header.
    let x = exchange(
        addr,
        &auth_post(
            addr,
            "/mcp",
            format!("Authorization : Bearer {TOKEN}\r\n").as_bytes(),
        ),
        Duration::from_millis(500),
    );
    assert_eq!(x.statuses(), [400], "{x:?}");

    // Two Authorization headers: the first one decides. A wrong token never gets in, in any
    // position; the right one first is accepted whatever follows.
    let wrong = "Authorization: Bearer wrong\r\n";
    let empty = "Authorization: \r\n";
    for (what, headers, ok) in [
        ("wrong then right", format!("{wrong}{right}"), false),
        ("empty then right", format!("{empty}{right}"), false),
        ("wrong twice", format!("{wrong}{wrong}"), false),
        ("right then wrong", format!("{right}{wrong}"), true),
        ("right then empty", format!("{right}{empty}"), true),
        ("right twice", format!("{right}{right}"), true),
    ] {
        let r = send_raw(addr, &auth_post(addr, "/mcp", headers.as_bytes()));
        if ok {
            assert_eq!(r.text(), PING_REPLY, "{what}");
        } else {
            assert_unauthorized(&r, what);
        }
    }

    let mut good = good.finish(3);
    good.check();
    assert_alive(&mut s);
}

#[test]
fn an_empty_token_turns_authentication_off() {
    for transport in ["http", "sse"] {
        let mut cmd = command([
            format!("-transport={transport}"),
            "-listen=127.0.0.1".to_string(),
            "-port=0".to_string(),
            "-session-mode=stateless".to_string(),
            "-auth-token=".to_string(),
        ]);
        cmd.env("AUTH_TOKEN", "");
        let mut s = HttpServer::start_command(cmd, 1);
        assert!(
            !s.stderr().contains("Bearer token required"),
            "{transport}: {}",
            s.stderr()
        );
        let addr = s.addr();
        // No token, any token, or a malformed header: all served alike.
        for auth in [
            "",
            "Authorization: Bearer \r\n",
            "Authorization: Bearer anything\r\n",
            "Authorization: Basic x\r\n",
        ] {
            if transport == "http" {
                let r = send_raw(addr, &auth_post(addr, "/mcp", auth.as_bytes()));
                assert_eq!(r.text(), PING_REPLY, "{transport} {auth:?}");
            } else {
                let mut c = Conn::open(addr);
                c.write(
                    format!("GET /sse HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{auth}\r\n")
                        .as_bytes(),
                );
                let head = c.read_head();
                assert_eq!(head.status, 200, "{transport} {auth:?}: {head:?}");
            }
        }
        let mut good = if transport == "http" {
            GoodClient::streamable(&s, None)
        } else {
            GoodClient::sse(&s, None)
        };
        good.check();
        assert_alive(&mut s);
    }
}

#[test]
fn silent_connections_are_closed_by_the_header_timeout() {
    let s = HttpServer::start_command(
        command([
            "-transport=http",
            "-listen=127.0.0.1",
            "-port=0",
            "-header-timeout=1s",
            "-max-connections=3",
        ]),
        1,
    );
    let addr = s.addr();
    // Nothing at all, one byte, and an HTTP/2 preface with nothing after it.
    let _silent = std::net::TcpStream::connect(addr).expect("connect");
    let mut prefix = std::net::TcpStream::connect(addr).expect("connect");
    prefix.write_all(b"P").expect("write");
    let mut preface = std::net::TcpStream::connect(addr).expect("connect");
    preface
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .expect("write");
    std::thread::sleep(Duration::from_secs(3));
    let r = s.send(&Request::get("/health"));
    assert_eq!(r.status(), 200, "{:?} {}", r.head, r.text());
}
