//! The HTTP server's life: probes, graceful shutdown on SIGTERM/SIGINT, several instances in
//! one process, and start-up failures.

mod common;
mod http_support;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{Server, TIMEOUT, command, payload};
use http_support::{
    Conn, HttpServer, LATEST, Request, SseStream, free_port_range, initialize, result_of, rpc,
    wait_listening,
};
use serde_json::{Value, json};

const VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

fn args(transport: &str, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        format!("-transport={transport}"),
        "-listen=127.0.0.1".to_string(),
        "-port=0".to_string(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn start(transport: &str, extra: &[&str]) -> HttpServer {
    HttpServer::start_command(command(args(transport, extra)), 1)
}

/// Waits until the server logged that it received a shutdown signal.
fn wait_for_shutdown_log(s: &mut HttpServer) {
    s.server
        .wait_for_stderr_line(|l| l.contains("received shutdown signal"));
}

#[test]
fn health_reports_uptime() {
    for transport in ["http", "sse"] {
        let s = start(transport, &[]);
        let r = s.send(&Request::get("/health"));
        r.expect(200);
        assert_eq!(r.content_type(), "application/json");
        let v = r.json();
        let obj = v.as_object().expect("object");
        assert_eq!(v["status"], "healthy");
        let uptime = v["uptime_seconds"].as_u64().expect("a whole number");
        assert!(uptime < 60, "{v}");
        // `status` and `uptime_seconds` come first, as the Go server sent them.
        assert!(
            r.text().starts_with(&format!(
                "{{\"status\":\"healthy\",\"uptime_seconds\":{uptime}"
            )),
            "{}",
            r.text()
        );
        for key in obj.keys() {
            assert!(
                ["status", "uptime_seconds", "instance_id"].contains(&key.as_str()),
                "unexpected member {key}: {v}"
            );
        }
        // The default instance id is hostname:port.
        let instance = v["instance_id"].as_str().expect("instance_id");
        assert!(instance.ends_with(&format!(":{}", s.port())), "{v}");
        // The uptime counts.
        thread::sleep(Duration::from_millis(1100));
        let later = s.send(&Request::get("/health")).json();
        assert!(later["uptime_seconds"].as_u64().unwrap() >= 1, "{later}");
    }
}

#[test]
fn instance_id_names_the_replica_everywhere() {
    for transport in ["http", "sse"] {
        let s = start(transport, &["-instance-id=replica-a", "-auth-token=tok"]);
        let health = s.send(&Request::get("/health"));
        assert_eq!(health.json()["instance_id"], "replica-a");
        assert_eq!(
            s.send(&Request::get("/version")).json()["instance_id"],
            "replica-a"
        );
        for r in [
            health,
            s.send(&Request::get("/nope").bearer("tok")),
            s.send(&Request::get("/nope")),
            s.send(&Request::get("/ready").set("Host", "evil.example")),
            s.send(&Request::new("PUT", "/mcp").bearer("tok")),
        ] {
            assert_eq!(r.header("x-instance-id"), Some("replica-a"), "{:?}", r.head);
        }
    }
    let s = start("http", &["-instance-id=replica-a"]);
    let r = s.send(&Request::mcp("/mcp", &initialize(1, Some(LATEST))));
    assert_eq!(r.header("x-instance-id"), Some("replica-a"));
    let info = result_of(&r.json(), 1)["serverInfo"].clone();
    assert_eq!(info["instanceId"], "replica-a", "{info}");
    assert_eq!(info["name"], "benchmark-server");
}

#[test]
fn version_describes_the_server() {
    for transport in ["http", "sse"] {
        let s = start(
            transport,
            &[
                "-tools=7",
                "-resources=8",
                "-prompts=9",
                "-tool-size=10",
                "-resource-size=11",
                "-prompt-size=12",
            ],
        );
        let r = s.send(&Request::get("/version"));
        r.expect(200);
        assert_eq!(r.content_type(), "application/json");
        let v = r.json();
        assert_eq!(v["name"], "benchmark-server");
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(v["mcp_version"], LATEST);
        assert_eq!(v["protocol_versions"], json!(VERSIONS));
        assert_eq!(v["transport"], transport);
        assert_eq!(v["tools"], 7);
        assert_eq!(v["resources"], 8);
        assert_eq!(v["prompts"], 9);
        assert_eq!(v["tool_size"], 10);
        assert_eq!(v["resource_size"], 11);
        assert_eq!(v["prompt_size"], 12);
        assert_eq!(v["server_name"], "benchmark-server");
    }
}

#[test]
fn ready_answers_ready() {
    for transport in ["http", "sse"] {
        let s = start(transport, &[]);
        let r = s.send(&Request::get("/ready"));
        r.expect(200);
        assert_eq!(r.content_type(), "application/json");
        assert_eq!(r.json(), json!({"status": "ready"}));
    }
}

/// Reads the rest of a `tools/call` reply for `benchmark_tool_0` of `size` payload bytes
/// without keeping it, checking every payload byte and the JSON around it.
struct PayloadCheck {
    size: usize,
    /// Bytes before the payload seen so far (until it is found).
    prefix: Vec<u8>,
    /// Payload bytes seen so far.
    seen: usize,
    /// Bytes after the payload.
    suffix: Vec<u8>,
    expected_head: Vec<u8>,
    /// The repeating part of the payload, several periods long.
    period: Vec<u8>,
}

const UNIT: &str = "This is benchmark data. ";

impl PayloadCheck {
    fn new(size: usize) -> Self {
        Self {
            size,
            prefix: Vec::new(),
            seen: 0,
            suffix: Vec::new(),
            expected_head: payload("benchmark_tool_0", 100).into_bytes(),
            period: UNIT.repeat(64 * 1024 / UNIT.len() + 2).into_bytes(),
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        const MARK: &[u8] = b"\\\"data\\\":\\\"";
        if self.seen == 0 && !self.prefix.ends_with(MARK) {
            // Still in the JSON before the payload: byte by byte until the mark.
            while let Some((&b, rest)) = bytes.split_first() {
                self.prefix.push(b);
                bytes = rest;
                if self.prefix.ends_with(MARK) {
                    break;
                }
                assert!(self.prefix.len() < 4096, "no payload start in the reply");
            }
        }
        if bytes.is_empty() {
            return;
        }
        let header = "Response from benchmark_tool_0. ".len();
        while self.seen < self.size && !bytes.is_empty() {
            let n = bytes.len().min(self.size - self.seen).min(60 * 1024);
            let (part, rest) = bytes.split_at(n);
            if self.seen < header {
                let k = n.min(header - self.seen);
                assert_eq!(&part[..k], &self.expected_head[self.seen..self.seen + k]);
                // What follows the header starts the period at its beginning.
                assert_eq!(&part[k..], &self.period[..n - k]);
            } else {
                let off = (self.seen - header) % UNIT.len();
                assert!(
                    part == &self.period[off..off + n],
                    "payload differs near byte {}",
                    self.seen
                );
            }
            self.seen += n;
            bytes = rest;
        }
        self.suffix.extend_from_slice(bytes);
        assert!(self.suffix.len() < 4096, "too much after the payload");
    }

    /// Asserts the reply was complete and well-formed around the payload.
    fn finish(&self, id: i64) {
        assert_eq!(self.seen, self.size, "payload bytes received");
        let prefix = String::from_utf8_lossy(&self.prefix);
        assert!(
            prefix.starts_with(&format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":")),
            "{prefix}"
        );
        let suffix = String::from_utf8_lossy(&self.suffix);
        assert!(
            suffix.starts_with("\\\",\\\"timestamp\\\":\\\""),
            "{suffix}"
        );
        assert!(suffix.ends_with("}]}}"), "{suffix}");
        // The text around the payload, with a short payload in place, is valid JSON.
        let whole = format!("{prefix}x{suffix}");
        let v: Value = serde_json::from_str(&whole).expect("the reply is JSON");
        let text: Value =
            serde_json::from_str(v["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(text["tool"], "benchmark_tool_0");
    }
}

#[test]
fn sigterm_drains_in_flight_requests_then_exits_0() {
    let size = 50_000_000;
    let mut s = start(
        "http",
        &[
            "-shutdown-timeout=3s",
            &format!("-tool-size={size}"),
            "-sse-keepalive=100ms",
        ],
    );
    let init = s.send(&Request::mcp("/mcp", &initialize(1, Some(LATEST))));
    init.expect(200);
    let id = init.session_id().expect("session").to_string();
    s.send(&Request::get("/ready")).expect(200);

    // A reply far bigger than the socket buffers, read only a little before the signal.
    let mut big = s.connect();
    big.write_request(
        &Request::mcp(
            "/mcp",
            &rpc(
                7,
                "tools/call",
                json!({"name": "benchmark_tool_0", "arguments": {}}),
            ),
        )
        .session(&id),
    );
    let head = big.read_head();
    assert_eq!(head.status, 200);
    let mut check = PayloadCheck::new(size);
    let mut chunk = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    while chunk.len() < 1 << 20 {
        assert!(big.try_read_body_some(&mut chunk, deadline).unwrap());
    }
    check.feed(&chunk);

    // An open GET stream, and a probe whose head is not complete yet.
    let mut stream = SseStream::open(s.addr(), &Request::sse("/mcp").session(&id));
    assert!(stream.next().is_comment());
    let mut probes: Vec<Conn> = (0..5)
        .map(|_| {
            let mut c = s.connect();
            c.write(format!("GET /ready HTTP/1.1\r\nHost: {}\r\n", s.addr()).as_bytes());
            c
        })
        .collect();
    thread::sleep(Duration::from_millis(200));

    let signalled = Instant::now();
    s.signal("TERM");
    wait_for_shutdown_log(&mut s);

    // Readiness now fails (the log line may come a moment before the flag is set).
    let mut ready = Vec::new();
    for mut probe in probes.drain(..) {
        probe.write(b"\r\n");
        let r = probe.read_response(false);
        if r.status() == 503 {
            assert_eq!(r.json(), json!({"status": "shutting down"}));
            break;
        }
        r.expect(200);
        ready.push(r);
        thread::sleep(Duration::from_millis(50));
    }
    assert!(ready.len() < 5, "/ready never turned 503");

    // The event stream ends cleanly.
    stream.expect_end(Duration::from_secs(2));

    // New connections are no longer accepted.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match TcpStream::connect_timeout(&s.addr(), Duration::from_millis(500)) {
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
                break;
            }
            Ok(_) => {
                assert!(Instant::now() < deadline, "still accepting after SIGTERM");
                thread::sleep(Duration::from_millis(20));
            }
        }
    }

    // The in-flight reply completes in full.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        chunk.clear();
        match big.try_read_body_some(&mut chunk, deadline) {
            Ok(true) => check.feed(&chunk),
            Ok(false) => break,
            Err(e) => panic!(
                "the in-flight reply broke after {} payload bytes: {e}; stderr:\n{}",
                check.seen,
                s.stderr()
            ),
        }
    }
    check.finish(7);

    let status = s
        .server
        .wait_exit(Duration::from_secs(3) + Duration::from_secs(3));
    assert!(status.success(), "{status}; stderr:\n{}", s.stderr());
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "{:?}",
        signalled.elapsed()
    );
    let log = s.stderr();
    assert!(log.contains("all servers stopped"), "{log}");
}

#[test]
fn shutdown_timeout_bounds_a_reply_nobody_reads() {
    let mut s = start("http", &["-shutdown-timeout=1s", "-tool-size=200000000"]);
    let mut c = s.connect();
    let init = c.send(&Request::mcp("/mcp", &initialize(1, Some(LATEST))));
    let id = init.session_id().expect("session").to_string();
    c.write_request(
        &Request::mcp(
            "/mcp",
            &rpc(2, "tools/call", json!({"name": "benchmark_tool_0"})),
        )
        .session(&id),
    );
    assert_eq!(c.read_head().status, 200);
    let signalled = Instant::now();
    s.signal("TERM");
    let status = s
        .server
        .wait_exit(Duration::from_secs(1) + Duration::from_secs(4));
    assert!(status.success(), "{status}; stderr:\n{}", s.stderr());
    assert!(
        signalled.elapsed() >= Duration::from_millis(900),
        "exited after {:?}, before the timeout",
        signalled.elapsed()
    );
    assert!(s.stderr().contains("shutdown timeout"), "{}", s.stderr());
    drop(c);
}

#[test]
fn idle_connections_and_streams_do_not_delay_shutdown() {
    for (transport, stream_path) in [("http", "/mcp"), ("sse", "/sse")] {
        let mut s = start(transport, &["-shutdown-timeout=10s"]);
        // A keep-alive connection that has served a request and sits idle.
        let mut idle = s.connect();
        idle.send(&Request::get("/health")).expect(200);
        // An open event stream.
        let mut req = Request::sse(stream_path);
        if transport == "http" {
            let r = s.send(&Request::mcp("/mcp", &initialize(1, Some(LATEST))));
            req = req.session(r.session_id().expect("session"));
        }
        let mut stream = SseStream::open(s.addr(), &req);
        if transport == "sse" {
            assert_eq!(stream.next().event.as_deref(), Some("endpoint"));
        }
        let signalled = Instant::now();
        s.signal("TERM");
        stream.expect_end(Duration::from_secs(3));
        assert!(idle.closes_within(Duration::from_secs(3)));
        let status = s.server.wait_exit(Duration::from_secs(5));
        assert!(status.success(), "{status}; stderr:\n{}", s.stderr());
        assert!(
            signalled.elapsed() < Duration::from_secs(3),
            "{transport}: took {:?} with a 10 s timeout",
            signalled.elapsed()
        );
    }
}

#[test]
fn sigint_also_exits_0() {
    for transport in ["http", "sse"] {
        let mut s = start(transport, &[]);
        s.send(&Request::get("/health")).expect(200);
        s.signal("INT");
        let status = s.server.wait_exit(Duration::from_secs(5));
        assert!(status.success(), "{status}; stderr:\n{}", s.stderr());
        assert!(s.stderr().contains("all servers stopped"), "{}", s.stderr());
    }
}

/// Starts `count` instances on consecutive free ports, retrying when another process takes
/// one of them first.
fn start_multi(transport: &str, count: u16, extra: &[&str]) -> (HttpServer, u16) {
    for _ in 0..10 {
        let start = free_port_range(count);
        let mut args = vec![
            format!("-transport={transport}"),
            "-listen=127.0.0.1".to_string(),
            format!("-server-count={count}"),
            format!("-start-port={start}"),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut server = Server::spawn(args);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let log = server.stderr();
            let listening = log.matches("listening on http://").count();
            if listening >= count as usize {
                let addrs = wait_listening(&mut server, count as usize);
                return (HttpServer { server, addrs }, start);
            }
            if server.try_status().is_some() {
                let status = server.wait_exit(TIMEOUT);
                assert!(!status.success());
                assert!(
                    server.stderr().contains("Address already in use"),
                    "{}",
                    server.stderr()
                );
                break;
            }
            assert!(Instant::now() < deadline, "{log}");
            thread::sleep(Duration::from_millis(5));
        }
    }
    panic!("could not start {count} instances on free ports");
}

#[test]
fn several_instances_in_one_process() {
    let (s, start) = start_multi("http", 3, &["-instance-id=fleet"]);
    assert_eq!(s.addrs.len(), 3);
    for (i, addr) in s.addrs.iter().enumerate() {
        assert_eq!(*addr, SocketAddr::from(([127, 0, 0, 1], start + i as u16)));
        let mut c = Conn::open(*addr);
        let r = c.send(&Request::mcp("/mcp", &initialize(1, Some(LATEST))));
        r.expect(200);
        let result = result_of(&r.json(), 1);
        assert_eq!(
            result["serverInfo"]["name"],
            format!("benchmark-server-{i}")
        );
        assert_eq!(result["serverInfo"]["instanceId"], format!("fleet-{i}"));
        assert_eq!(
            r.header("x-instance-id"),
            Some(format!("fleet-{i}").as_str())
        );
        let id = r.session_id().expect("session").to_string();
        let r = c.send(&Request::mcp("/mcp", &rpc(2, "resources/list", Value::Null)).session(&id));
        let resources = result_of(&r.json(), 2)["resources"].clone();
        let resources = resources.as_array().expect("resources");
        assert_eq!(resources.len(), 100);
        for (n, res) in resources.iter().enumerate() {
            assert_eq!(res["uri"], format!("benchmark://server{i}/resource_{n}"));
        }
        let uri = format!("benchmark://server{i}/resource_5");
        let r = c.send(
            &Request::mcp("/mcp", &rpc(3, "resources/read", json!({"uri": uri}))).session(&id),
        );
        let contents = result_of(&r.json(), 3)["contents"].clone();
        assert_eq!(contents[0]["uri"], uri.as_str());
        // Another instance's URI is not this one's.
        let other = format!("benchmark://server{}/resource_5", (i + 1) % 3);
        let r = c.send(
            &Request::mcp("/mcp", &rpc(4, "resources/read", json!({"uri": other}))).session(&id),
        );
        assert!(r.json().get("error").is_some(), "{}", r.text());
        // Sessions belong to one instance.
        let next = s.addrs[(i + 1) % 3];
        let r =
            Conn::open(next).send(&Request::mcp("/mcp", &rpc(5, "ping", Value::Null)).session(&id));
        r.expect(404);
        let v = c.send(&Request::get("/version")).json();
        assert_eq!(v["server_name"], format!("benchmark-server-{i}"));
    }
    let log = s.stderr();
    assert!(
        log.contains(&format!(
            "multi-server mode: 3 servers on ports {start}-{}",
            start + 2
        )),
        "{log}"
    );
}

#[test]
fn several_sse_instances() {
    let (s, _) = start_multi("sse", 2, &["-public-url=http://example.test/base"]);
    for (i, addr) in s.addrs.iter().enumerate() {
        let mut stream = SseStream::open(*addr, &Request::sse("/base/sse"));
        let endpoint = stream.next().data.expect("endpoint");
        // Each instance advertises its own port under the public host.
        let public = format!("http://example.test:{}", addr.port());
        let path = endpoint
            .strip_prefix(&public)
            .unwrap_or_else(|| panic!("{endpoint:?} is not under {public}"));
        assert!(path.starts_with("/base/messages?sessionId="), "{endpoint}");
        Conn::open(*addr)
            .send(&Request::post(
                path,
                initialize(1, Some("2024-11-05")).to_string(),
            ))
            .expect(202);
        let result = result_of(&stream.next_message(), 1);
        assert_eq!(
            result["serverInfo"]["name"],
            format!("benchmark-server-{i}")
        );
    }
}

/// Runs the binary, which must exit non-zero within a few seconds; returns its stderr.
fn expect_startup_failure(args: Vec<String>) -> String {
    let started = Instant::now();
    let mut server = Server::spawn(args);
    let status = server.wait_exit(Duration::from_secs(5));
    assert!(!status.success(), "{status}; stderr:\n{}", server.stderr());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    server.stderr()
}

#[test]
fn a_port_in_use_fails_promptly() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    for transport in ["http", "sse"] {
        let log = expect_startup_failure(vec![
            format!("-transport={transport}"),
            "-listen=127.0.0.1".to_string(),
            format!("-port={port}"),
        ]);
        assert!(log.contains(&format!("127.0.0.1:{port}")), "{log}");
        assert!(log.contains("in use"), "{log}");
        let log = expect_startup_failure(vec![
            format!("-transport={transport}"),
            format!("-addr=127.0.0.1:{port}"),
        ]);
        assert!(log.contains(&format!("127.0.0.1:{port}")), "{log}");
    }
    // In a multi-server run, one taken port stops the whole run.
    for _ in 0..10 {
        let start = free_port_range(3);
        let Ok(middle) = TcpListener::bind(("127.0.0.1", start + 1)) else {
            continue;
        };
        let mut server = Server::spawn([
            "-transport=http".to_string(),
            "-listen=127.0.0.1".to_string(),
            "-server-count=3".to_string(),
            format!("-start-port={start}"),
        ]);
        let status = server.wait_exit(Duration::from_secs(5));
        assert!(!status.success());
        let log = server.stderr();
        if log.contains(&format!("127.0.0.1:{}", start + 1)) {
            assert!(!log.contains("listening on"), "{log}");
            drop(middle);
            return;
        }
        // Another process took the first or last port: try again.
        assert!(log.contains("in use"), "{log}");
    }
    panic!("no free port range found for the multi-server check");
}

#[test]
fn bad_addresses_are_clear_errors() {
    for (addr, why) in [
        ("not-an-address", "invalid socket address"),
        ("127.0.0.1:99999", "invalid port"),
    ] {
        let log =
            expect_startup_failure(vec!["-transport=http".to_string(), format!("-addr={addr}")]);
        assert!(log.contains(&format!("cannot listen on {addr}")), "{log}");
        assert!(log.contains(why), "{log}");
        assert!(!log.contains("listening on"), "{log}");
    }
    // -addr wins over -listen/-port.
    let s = HttpServer::start_command(
        command([
            "-transport=http",
            "-listen=0.0.0.0",
            "-port=1",
            "-addr=127.0.0.1:0",
        ]),
        1,
    );
    assert!(s.addr().ip().is_loopback());
    assert_ne!(s.port(), 1);
    s.send(&Request::get("/health")).expect(200);
}

#[test]
fn connections_over_the_limit_get_503_and_the_server_recovers() {
    let s = HttpServer::start(&[
        "-transport=http",
        "-listen=127.0.0.1",
        "-port=0",
        "-max-connections=2",
    ]);
    let mut held: Vec<_> = (0..2)
        .map(|_| {
            let mut c = s.connect();
            assert_eq!(c.send(&Request::get("/health")).status(), 200);
            c
        })
        .collect();
    let refused = s.connect().send(&Request::get("/health"));
    assert_eq!(refused.status(), 503, "{:?}", refused.head);
    assert_eq!(refused.header("retry-after"), Some("1"));
    // Closing one frees its slot (the server notices the close asynchronously).
    drop(held.pop());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = s.connect().send(&Request::get("/health"));
        if r.status() == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slot was never freed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(s.stderr().contains("connection limit"), "{}", s.stderr());
}

#[test]
fn drain_delay_keeps_serving_with_ready_at_503_until_it_ends() {
    let mut s = HttpServer::start(&[
        "-transport=http",
        "-listen=127.0.0.1",
        "-port=0",
        "-session-mode=stateless",
        "-drain-delay=1500ms",
    ]);
    assert_eq!(s.send(&Request::get("/ready")).status(), 200);
    let signalled = Instant::now();
    s.signal("TERM");
    // New connections are still accepted during the drain; /ready says to go elsewhere.
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let r = s.send(&Request::get("/ready"));
        if r.status() == 503 {
            break;
        }
        assert!(Instant::now() < deadline, "/ready never turned 503");
        thread::sleep(Duration::from_millis(20));
    }
    let list = s.send(&Request::mcp(
        "/mcp",
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    ));
    assert_eq!(list.status(), 200, "still serving during the drain");
    let status = s.server.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    assert!(
        signalled.elapsed() >= Duration::from_millis(1400),
        "exited after {:?}, before the drain delay",
        signalled.elapsed()
    );
}
