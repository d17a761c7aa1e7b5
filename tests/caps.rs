//! The connection caps against the real binary: `-idle-timeout` closes kept-alive connections
//! that sit idle between requests (never a busy one, never an open SSE stream), and
//! `-max-sse-streams` refuses streams past the cap with a 503 and a log line while a
//! well-behaved client keeps being served and freed slots are reused.

mod common;
mod hostile_support;
mod http_support;

use std::io::{ErrorKind, Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use common::{TIMEOUT, command};
use hostile_support::{GoodClient, GoodLoop};
use http_support::{HttpServer, LATEST, NoEvent, Request, SseStream, initialize, rpc};
use serde_json::Value;

fn start(transport: &str, extra: &[&str]) -> HttpServer {
    let mut args = vec![
        format!("-transport={transport}"),
        "-listen=127.0.0.1".to_string(),
        "-port=0".to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    HttpServer::start_command(command(&args), 1)
}

/// Waits (bounded) until the server's stderr contains `needle`.
#[track_caller]
fn await_log(s: &HttpServer, needle: &str) {
    let deadline = Instant::now() + TIMEOUT;
    while !s.stderr().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{}",
            s.stderr()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a Streamable HTTP session; returns its id.
fn new_session(s: &HttpServer) -> String {
    let r = s.send(&Request::mcp("/mcp", &initialize(0, Some(LATEST))));
    r.expect(200);
    r.session_id().expect("a session id").to_string()
}

fn get_stream(session: &str) -> Request {
    Request::sse("/mcp").session(session).protocol(LATEST)
}

#[test]
fn idle_keep_alive_connections_are_closed_but_busy_ones_and_streams_are_not() {
    let s = start(
        "http",
        &["-idle-timeout=1s", "-sse-keepalive=60s", "-log-level=debug"],
    );

    // An idle kept-alive connection: answered, then closed about a second later.
    let mut idle = s.connect();
    idle.send(&Request::get("/health")).expect(200);
    let answered = Instant::now();
    assert!(
        !idle.closes_within(Duration::from_millis(300)),
        "closed right after its response, not after -idle-timeout"
    );
    assert!(
        idle.closes_within(TIMEOUT),
        "an idle connection stayed open past -idle-timeout"
    );
    let closed_after = answered.elapsed();
    await_log(&s, "(-idle-timeout)");

    // A connection used every 300 ms for three seconds is never idle for a second.
    let session = new_session(&s);
    let mut busy = s.connect();
    let started = Instant::now();
    let mut id = 1;
    while started.elapsed() < Duration::from_secs(3) {
        let r = busy.send(
            &Request::mcp("/mcp", &rpc(id, "ping", Value::Null))
                .session(&session)
                .protocol(LATEST),
        );
        r.expect(200);
        assert_eq!(r.json()["id"], id);
        id += 1;
        thread::sleep(Duration::from_millis(300));
    }

    // An open GET stream with nothing to send (keep-alives every 60 s) is not idle.
    let mut stream = SseStream::open(s.addr(), &get_stream(&session));
    assert_eq!(
        stream.try_next(Duration::from_secs(3)),
        Err(NoEvent::Timeout),
        "the stream ended although it was open"
    );
    // Its session still answers on a fresh connection.
    s.send(
        &Request::mcp("/mcp", &rpc(id, "ping", Value::Null))
            .session(&session)
            .protocol(LATEST),
    )
    .expect(200);
    eprintln!(
        "idle connection closed {closed_after:?} after its response; {id} requests on a busy one"
    );
}

#[test]
fn an_open_legacy_sse_stream_outlives_the_idle_timeout() {
    let s = start("sse", &["-idle-timeout=1s", "-sse-keepalive=60s"]);
    let mut stream = SseStream::open(s.addr(), &Request::sse("/sse"));
    let endpoint = stream.next_event().data.expect("endpoint data");
    assert_eq!(
        stream.try_next(Duration::from_millis(2500)),
        Err(NoEvent::Timeout)
    );
    let post = Request::post(&endpoint, rpc(7, "ping", Value::Null).to_string())
        .header("Content-Type", "application/json");
    s.send(&post).expect(202);
    let reply = stream.next_message();
    assert_eq!(reply["id"], 7, "{reply}");
}

#[test]
fn idle_timeout_zero_keeps_idle_connections() {
    let s = start("http", &["-idle-timeout=0"]);
    let mut c = s.connect();
    c.send(&Request::get("/health")).expect(200);
    assert!(
        !c.closes_within(Duration::from_millis(2500)),
        "closed with -idle-timeout=0"
    );
    c.send(&Request::get("/health")).expect(200);
}

/// Asserts `r` is the 503 that refuses a stream past `-max-sse-streams=limit`.
#[track_caller]
fn assert_stream_refused(r: &http_support::Response, limit: usize) {
    assert_eq!(r.status(), 503, "{:?} {}", r.head, r.text());
    assert_eq!(r.header("retry-after"), Some("5"), "{:?}", r.head);
    assert_eq!(
        r.text(),
        format!("Too many open SSE streams (limit {limit}); retry later\n")
    );
}

/// Retries `open` until it is not refused, within [`TIMEOUT`]; a freed slot must be reused.
fn reopen(s: &HttpServer, req: &Request) -> SseStream {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let mut c = s.connect();
        c.write_request(req);
        let head = c.read_head();
        if head.status == 200 {
            return c.into_events();
        }
        assert_eq!(head.status, 503, "{head:?}");
        assert!(
            Instant::now() < deadline,
            "a freed stream slot was not reused"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn streamable_get_streams_past_the_cap_get_503_and_freed_slots_are_reused() {
    const LIMIT: usize = 3;
    // Keep-alives every 100 ms let the server notice a closed stream quickly.
    let s = start(
        "http",
        &[&format!("-max-sse-streams={LIMIT}"), "-sse-keepalive=100ms"],
    );
    let good = GoodLoop::spawn(GoodClient::streamable(&s, None));
    let sessions: Vec<String> = (0..2).map(|_| new_session(&s)).collect();
    let mut open: Vec<SseStream> = (0..LIMIT)
        .map(|i| SseStream::open(s.addr(), &get_stream(&sessions[i % 2])))
        .collect();
    for _ in 0..5 {
        for session in &sessions {
            assert_stream_refused(&s.send(&get_stream(session)), LIMIT);
        }
    }
    await_log(
        &s,
        &format!("SSE stream limit (-max-sse-streams={LIMIT}) reached"),
    );
    let warnings = s.stderr().matches("SSE stream limit").count();
    assert!(
        warnings <= 3,
        "{warnings} warnings for 10 refusals in a burst"
    );

    // A closed stream gives its slot back; so does a session ended with DELETE.
    drop(open.pop());
    open.push(reopen(&s, &get_stream(&sessions[0])));
    s.send(&Request::delete("/mcp").session(&sessions[1]))
        .expect(200);
    let third = new_session(&s);
    open.push(reopen(&s, &get_stream(&third)));
    assert_stream_refused(&s.send(&get_stream(&third)), LIMIT);
    let good = good.finish(3);
    eprintln!(
        "{LIMIT} streams open, the rest refused; {} good checks, slowest {:?}",
        good.checks, good.slowest
    );
}

#[test]
fn legacy_sse_streams_past_the_cap_get_503_while_a_client_is_served() {
    const LIMIT: usize = 3;
    let s = start(
        "sse",
        &[&format!("-max-sse-streams={LIMIT}"), "-sse-keepalive=100ms"],
    );
    // The well-behaved client holds one of the streams.
    let good = GoodLoop::spawn(GoodClient::sse(&s, None));
    let mut open: Vec<SseStream> = (1..LIMIT)
        .map(|_| SseStream::open(s.addr(), &Request::sse("/sse")))
        .collect();
    for _ in 0..5 {
        assert_stream_refused(&s.send(&Request::sse("/sse")), LIMIT);
    }
    await_log(
        &s,
        &format!("SSE stream limit (-max-sse-streams={LIMIT}) reached"),
    );
    drop(open.pop());
    let mut again = reopen(&s, &Request::sse("/sse"));
    let endpoint = again.next_event();
    assert_eq!(endpoint.event.as_deref(), Some("endpoint"), "{endpoint:?}");
    let good = good.finish(3);
    eprintln!(
        "{LIMIT} legacy streams, the rest refused; {} good checks, slowest {:?}",
        good.checks, good.slowest
    );
}

#[test]
fn between_requests_the_idle_timeout_runs_until_a_head_starts_then_the_header_timeout() {
    let s = start("http", &["-header-timeout=1s", "-idle-timeout=30s"]);
    // Idle past the header timeout: still open, and still served.
    let mut idle = s.connect();
    idle.send(&Request::get("/health")).expect(200);
    assert!(
        !idle.closes_within(Duration::from_millis(2500)),
        "an idle connection was closed by the 1 s header timeout, not the 30 s idle timeout"
    );
    idle.send(&Request::get("/health")).expect(200);

    // A head trickled after a first request is cut about a second after its first byte.
    let mut slow = std::net::TcpStream::connect(s.addr()).expect("connect");
    slow.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    slow.write_all(format!("GET /health HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr()).as_bytes())
        .expect("write");
    let mut got = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    while !got.ends_with(b"}") {
        assert!(Instant::now() < deadline, "no /health reply: {got:?}");
        let mut buf = [0u8; 4096];
        match slow.read(&mut buf) {
            Ok(0) => panic!("closed before replying"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    thread::sleep(Duration::from_millis(1500));
    let head = b"GET /health HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let started = Instant::now();
    let mut closed = None;
    for byte in head.chunks(1) {
        // A failed write, an end of file or a reset: the server closed the connection.
        let mut buf = [0u8; 64];
        let gone = slow.write_all(byte).is_err()
            || match slow.read(&mut buf) {
                Ok(_) => true,
                Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            };
        if gone {
            closed = Some(started.elapsed());
            break;
        }
    }
    let closed = closed.expect("a slow head after a request was never cut off");
    assert!(
        closed >= Duration::from_millis(900),
        "cut after {closed:?}, before the header timeout"
    );
    // The idle connection is unaffected.
    idle.send(&Request::get("/health")).expect(200);
    eprintln!("slow head after a request cut {closed:?} after its first byte");
}
