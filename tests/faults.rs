//! Latency and fault injection, measured against the real binary: the observed delays follow
//! the configured distribution, fault rates stay within binomial bounds, a seed fixes the
//! sequence, delays never hold up other requests (10,000 concurrent delayed calls over stdio,
//! hundreds of connections over HTTP), every fault kind looks as documented on the wire,
//! pagination faults break listings as described, and `/admin/config` changes all of it at
//! run time, behind the token.

mod common;
mod http_support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use std::thread;

use common::{Server, StdioClient, TIMEOUT, run};
use http_support::{Conn, HttpServer, Request, SseEvent, SseStream};
use serde_json::{Value, json};

fn call_line(id: u64, tool: u64, extra: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"benchmark_tool_{tool}","arguments":{{"n":{id}}}{extra}}}}}"#
    )
}

/// Sends `n` pipelined calls at once and returns each id's response and its arrival time
/// after the send began.
fn burst(c: &mut StdioClient, n: u64, limit: Duration) -> HashMap<u64, (Value, Duration)> {
    let mut batch = String::new();
    for id in 0..n {
        batch.push_str(&call_line(id, id % 10, ""));
        batch.push('\n');
    }
    let start = Instant::now();
    c.send_raw(batch.as_bytes());
    let mut got = HashMap::new();
    let deadline = start + limit;
    while (got.len() as u64) < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = c
            .try_recv_raw(left)
            .unwrap_or_else(|e| panic!("{} of {n} responses, then {e:?}", got.len()));
        let v: Value = serde_json::from_slice(&line).expect("a JSON response");
        let id = v["id"].as_u64().expect("a numeric id");
        assert!(
            got.insert(id, (v, start.elapsed())).is_none(),
            "two responses to {id}"
        );
    }
    got
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[test]
fn ten_thousand_concurrent_calls_delayed_one_second_finish_in_about_one_second() {
    let mut c = StdioClient::start([
        "-tools=10",
        "-tool-size=10",
        "-latency=tools/call=fixed:1s",
        "-log-level=none",
    ]);
    let mut batch = String::new();
    for id in 0..10_000 {
        batch.push_str(&call_line(id, id % 10, ""));
        batch.push('\n');
    }
    batch.push_str(r#"{"jsonrpc":"2.0","id":"ping","method":"ping"}"#);
    batch.push('\n');
    let start = Instant::now();
    c.send_raw(batch.as_bytes());
    let first = c.recv();
    assert_eq!(
        first["id"], "ping",
        "the undelayed ping overtakes the calls"
    );
    assert!(start.elapsed() < Duration::from_millis(900));
    let mut ids = HashSet::new();
    while ids.len() < 10_000 {
        let line = c
            .try_recv_raw(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("{} of 10000 responses, then {e:?}", ids.len()));
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert!(v["result"]["content"].is_array(), "{v}");
        ids.insert(v["id"].as_u64().unwrap());
    }
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(
        took < Duration::from_secs(5),
        "10,000 delayed calls took {took:?}"
    );
    // Every delayed response is written before the server exits at end of input.
    c.send_line(&call_line(1, 1, ""));
    c.close_stdin();
    assert_eq!(c.recv()["id"], 1);
    assert!(c.wait_exit(TIMEOUT).success());
}

/// At `-max-pipelined` the server stops reading: 6 calls delayed 300 ms with room for 2 at a
/// time come back in three waves, every one of them answered.
#[test]
fn max_pipelined_holds_delayed_calls_back_in_waves() {
    let mut c = StdioClient::start([
        "-tools=10",
        "-tool-size=10",
        "-latency=tools/call=fixed:300ms",
        "-max-pipelined=2",
        "-log-level=none",
    ]);
    let mut batch = String::new();
    for id in 0..6 {
        batch.push_str(&call_line(id, id % 10, ""));
        batch.push('\n');
    }
    let start = Instant::now();
    c.send_raw(batch.as_bytes());
    let mut ids = HashSet::new();
    while ids.len() < 6 {
        let v = c.recv();
        assert!(v["result"]["content"].is_array(), "{v}");
        ids.insert(v["id"].as_u64().unwrap());
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(850),
        "three waves took only {took:?}"
    );
    c.close_stdin();
    assert!(c.wait_exit(TIMEOUT).success());
}

/// Sends `n` calls one every `gap` (so the server is never the bottleneck) and returns each
/// call's latency, from its write to the arrival of its response line, by tool index.
fn paced_latencies(args: &[&str], n: u64, gap: Duration) -> Vec<(u64, f64)> {
    use std::io::{BufRead, BufReader, Write};
    let mut server = Server::spawn(args);
    let mut stdin = server.take_stdin();
    let stdout = server.take_stdout();
    let reader = thread::spawn(move || {
        let mut arrivals = Vec::new();
        let mut lines = BufReader::new(stdout);
        let mut line = Vec::new();
        while (arrivals.len() as u64) < n {
            line.clear();
            match lines.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => arrivals.push((Instant::now(), line.clone())),
            }
        }
        arrivals
    });
    let mut sent = Vec::new();
    for id in 0..n {
        let mut line = call_line(id, id % 10, "").into_bytes();
        line.push(b'\n');
        // Stamped before the write: a writer descheduled after it must not make a response
        // look early.
        sent.push(Instant::now());
        stdin.write_all(&line).unwrap();
        stdin.flush().unwrap();
        thread::sleep(gap);
    }
    let arrivals = reader.join().unwrap();
    assert_eq!(arrivals.len() as u64, n, "stderr: {}", server.stderr());
    arrivals
        .into_iter()
        .map(|(at, line)| {
            let v: Value = serde_json::from_slice(&line).unwrap();
            assert!(v["result"].is_object(), "{v}");
            let id = v["id"].as_u64().unwrap();
            let latency = at.saturating_duration_since(sent[id as usize]);
            (id % 10, latency.as_secs_f64() * 1000.0)
        })
        .collect()
}

#[test]
fn observed_latency_follows_the_configured_distribution() {
    let observed = paced_latencies(
        &[
            "-tools=10",
            "-tool-size=10",
            "-latency=tools/call@0-4=normal:40ms,10ms;tools/call=uniform:20ms,30ms",
            "-seed=11",
            "-log-level=none",
        ],
        3000,
        Duration::from_micros(400),
    );
    let (mut normal, mut uniform): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    for (tool, ms) in observed {
        if tool < 5 { &mut normal } else { &mut uniform }.push(ms);
    }
    for xs in [&mut normal, &mut uniform] {
        xs.sort_by(f64::total_cmp);
    }
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let sd = |xs: &[f64]| {
        let m = mean(xs);
        (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
    };
    let report = |xs: &[f64]| {
        format!(
            "mean {:.1} sd {:.1} p10 {:.1} p50 {:.1} p90 {:.1}",
            mean(xs),
            sd(xs),
            quantile(xs, 0.1),
            quantile(xs, 0.5),
            quantile(xs, 0.9)
        )
    };
    // Normal(40 ms, 10 ms): p10 ≈ 27.2, p50 = 40, p90 ≈ 52.8. Scheduling only adds delay,
    // so the bounds are wider above than below.
    println!("normal: {}\nuniform: {}", report(&normal), report(&uniform));
    let r = report(&normal);
    assert!((37.0..50.0).contains(&mean(&normal)), "normal: {r}");
    assert!((7.0..16.0).contains(&sd(&normal)), "normal: {r}");
    assert!(
        (24.0..37.0).contains(&quantile(&normal, 0.1)),
        "normal: {r}"
    );
    assert!(
        (37.0..50.0).contains(&quantile(&normal, 0.5)),
        "normal: {r}"
    );
    assert!(
        (49.0..66.0).contains(&quantile(&normal, 0.9)),
        "normal: {r}"
    );
    // Uniform(20 ms, 30 ms): nothing is early, the mean is 25, the spread about 2.9.
    let r = report(&uniform);
    assert!(uniform[0] >= 20.0, "a response came before its delay: {r}");
    assert!((24.0..32.0).contains(&mean(&uniform)), "uniform: {r}");
    assert!((1.8..6.0).contains(&sd(&uniform)), "uniform: {r}");
}

/// Runs `n` pipelined calls under `flags` (no delay, so in order) and returns the outcome of
/// each: "ok", "iserror" or the JSON-RPC error code.
fn outcomes(flags: &[&str], n: u64) -> Vec<String> {
    let mut args = vec!["-tools=10", "-tool-size=10", "-log-level=none"];
    args.extend_from_slice(flags);
    let mut c = StdioClient::start(args);
    let got = burst(&mut c, n, Duration::from_secs(20));
    (0..n)
        .map(|id| {
            let v = &got[&id].0;
            if let Some(code) = v["error"]["code"].as_i64() {
                code.to_string()
            } else if v["result"]["isError"] == true {
                "iserror".to_string()
            } else {
                assert!(v["result"]["content"][0]["text"].is_string(), "{v}");
                "ok".to_string()
            }
        })
        .collect()
}

#[test]
fn fault_rates_stay_within_binomial_bounds_and_the_seed_fixes_the_sequence() {
    let n = 4000u64;
    let flags = ["-error-rate=tools/call=0.1:jsonrpc,0.05:iserror", "-seed=1"];
    let first = outcomes(&flags, n);
    for (kind, p) in [("-32603", 0.1), ("iserror", 0.05)] {
        let count = first.iter().filter(|o| *o == kind).count() as f64;
        let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
        assert!(
            (count - mean).abs() < 5.0 * sd,
            "{kind}: {count} of {n}, expected {mean} ± {}",
            5.0 * sd
        );
    }
    assert_eq!(outcomes(&flags, n), first, "same seed, same sequence");
    let other = outcomes(
        &["-error-rate=tools/call=0.1:jsonrpc,0.05:iserror", "-seed=2"],
        n,
    );
    assert_ne!(other, first, "another seed, another sequence");
    // A scoped rule touches nothing outside its scope.
    let scoped = outcomes(&["-error-rate=tools/call@0-4=1:jsonrpc"], 100);
    for (id, o) in scoped.iter().enumerate() {
        let want = if id % 10 < 5 { "-32603" } else { "ok" };
        assert_eq!(o, want, "call {id}");
    }
}

#[test]
fn stdio_fault_kinds_look_as_documented() {
    let mut c = StdioClient::start([
        "-tools=10",
        "-tool-size=10",
        "-log-level=none",
        "-error-rate=tools/call@0=1:hang;tools/call@1=1:malformed;tools/call@2=1:oversized:200000",
    ]);
    c.send_line(&call_line(100, 0, ""));
    c.send_line(&call_line(101, 1, ""));
    let line = c.recv_line();
    assert!(
        serde_json::from_str::<Value>(&line).is_err(),
        "malformed: {line}"
    );
    assert!(line.starts_with(r#"{"jsonrpc":"2.0","id":101,"#), "{line}");
    c.send_line(&call_line(102, 2, ""));
    let big = c.recv();
    assert_eq!(big["id"], 102);
    assert_eq!(
        big["result"]["content"][0]["text"].as_str().map(str::len),
        Some(200_000)
    );
    c.ping();
    // The hung call is never answered.
    c.expect_silence(Duration::from_millis(300));
}

#[test]
fn http_only_kinds_are_refused_over_stdio() {
    for flag in [
        "-error-rate=0.1:http503",
        "-fail-first=2:drop",
        "-error-rate=0.5:http429",
    ] {
        let done = run([flag]);
        assert_eq!(done.code(), 2, "{flag}: {}", done.stderr);
        assert!(
            done.stderr.contains("needs -transport=http or sse"),
            "{flag}: {}",
            done.stderr
        );
    }
    let done = run(["-latency=normal:5ms"]);
    assert_eq!(done.code(), 2, "{}", done.stderr);
    assert!(done.stderr.contains("-latency"), "{}", done.stderr);
}

#[test]
fn fail_first_fails_k_times_per_tool_and_arguments_then_succeeds() {
    let mut c = StdioClient::start(["-tools=10", "-fail-first=3", "-log-level=none"]);
    let args = json!({"name": "benchmark_tool_4", "arguments": {"q": "x"}});
    for attempt in 1..=3 {
        let r = c.request("tools/call", args.clone());
        assert_eq!(r["error"]["code"], -32603, "attempt {attempt}: {r}");
    }
    assert!(c.request("tools/call", args.clone())["result"].is_object());
    assert!(c.request("tools/call", args)["result"].is_object());
    let other = c.request(
        "tools/call",
        json!({"name": "benchmark_tool_4", "arguments": {"q": "y"}}),
    );
    assert_eq!(
        other["error"]["code"], -32603,
        "other arguments, another key"
    );
    assert!(c.request("tools/list", json!({}))["result"].is_object());
}

#[test]
fn delayed_calls_report_progress_when_asked() {
    let mut c = StdioClient::start([
        "-tools=10",
        "-latency=tools/call=fixed:400ms",
        "-log-level=none",
    ]);
    let start = Instant::now();
    c.send_line(&call_line(7, 3, r#","_meta":{"progressToken":"tok-7"}"#));
    let first = c.recv();
    assert!(start.elapsed() < Duration::from_millis(350), "sent at once");
    assert_eq!(first["method"], "notifications/progress");
    assert_eq!(first["params"]["progressToken"], "tok-7");
    assert_eq!(first["params"]["progress"], 0);
    let second = c.recv();
    assert!(start.elapsed() >= Duration::from_millis(400));
    assert_eq!(second["params"]["progress"], 100);
    assert_eq!(c.recv()["id"], 7);
    // Without a token there are no notifications.
    c.send_line(&call_line(8, 3, ""));
    assert_eq!(c.recv()["id"], 8);
}

/// Lists tools page by page (at most `pages`), returning the names and cursors seen.
fn list_pages(c: &mut StdioClient, pages: usize) -> (Vec<String>, Vec<Option<String>>, Value) {
    let mut names = Vec::new();
    let mut cursors = Vec::new();
    let mut cursor: Option<String> = None;
    let mut last = Value::Null;
    for _ in 0..pages {
        let params = match &cursor {
            None => json!({}),
            Some(c) => json!({"cursor": c}),
        };
        last = c.request("tools/list", params);
        let Some(result) = last.get("result") else {
            break;
        };
        for t in result["tools"].as_array().unwrap() {
            names.push(t["name"].as_str().unwrap().to_string());
        }
        cursor = result["nextCursor"].as_str().map(str::to_string);
        cursors.push(cursor.clone());
        if cursor.as_deref().is_none_or(str::is_empty) {
            break;
        }
    }
    (names, cursors, last)
}

#[test]
fn cursor_faults_break_pagination_as_described() {
    let start = |fault: &str| {
        StdioClient::start([
            "-tools=25",
            "-page-size=10",
            "-log-level=none",
            &format!("-cursor-fault={fault}"),
        ])
    };
    let (names, cursors, _) = list_pages(&mut start("empty"), 10);
    assert_eq!(
        names.len(),
        10,
        "a client taking \"\" as the end stops after page one"
    );
    assert_eq!(cursors, [Some(String::new())]);

    let (names, cursors, _) = list_pages(&mut start("repeat"), 6);
    assert_eq!(names.len(), 60, "the listing never ends");
    assert!(cursors.windows(2).all(|w| w[0] == w[1]), "{cursors:?}");
    assert_eq!(names[10..20], names[20..30], "page two, again and again");

    let (names, _, last) = list_pages(&mut start("invalid"), 5);
    assert_eq!(names.len(), 10);
    assert_eq!(last["error"]["code"], -32602, "{last}");

    let (names, _, _) = list_pages(&mut start("drop-last"), 10);
    let want: Vec<String> = (0..24).map(|i| format!("benchmark_tool_{i}")).collect();
    assert_eq!(names, want, "the last item is missing");

    let (names, _, _) = list_pages(&mut start("none"), 10);
    assert_eq!(names.len(), 25);
}

// ------------------------------------------------------------------------------------------
// HTTP

fn http(args: &[&str]) -> HttpServer {
    let mut all = vec![
        "-transport=http",
        "-listen=127.0.0.1",
        "-port=0",
        "-session-mode=stateless",
        "-tools=10",
        "-tool-size=10",
    ];
    all.extend_from_slice(args);
    HttpServer::start(&all)
}

fn call(id: u64, tool: u64) -> Request {
    Request::mcp(
        "/mcp",
        &json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":format!("benchmark_tool_{tool}")}}),
    )
}

#[test]
fn hundreds_of_concurrent_http_calls_delayed_one_second_finish_in_about_one_second() {
    let s = http(&["-latency=tools/call=fixed:1s"]);
    let start = Instant::now();
    let mut conns: Vec<Conn> = (0..500)
        .map(|i| {
            let mut c = s.connect();
            c.write_request(&call(i, i % 10));
            c
        })
        .collect();
    for (i, c) in conns.iter_mut().enumerate() {
        let r = c.read_response(false);
        r.expect(200);
        assert_eq!(r.json()["id"], i as u64);
    }
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(
        took < Duration::from_secs(5),
        "500 delayed calls took {took:?}"
    );
}

#[test]
fn http_fault_kinds_look_as_documented() {
    let s = http(&[
        "-error-rate=@0=1:http503;@1=1:http429;@2=1:http500;@3=1:drop;@4=1:hang;@5=1:malformed;@6=1:iserror",
        "-latency=tools/call@6=fixed:50ms",
    ]);
    for (tool, status) in [(0, 503), (1, 429), (2, 500)] {
        let r = s.send(&call(1, tool));
        r.expect(status);
        let retry = r.header("retry-after");
        assert_eq!(retry.is_some(), status != 500, "{status}: {retry:?}");
    }
    // drop: half a body, then the connection closes.
    let mut c = s.connect();
    c.write_request(&call(1, 3));
    let head = c.read_head();
    assert_eq!(head.status, 200);
    let promised: usize = head.header("content-length").unwrap().parse().unwrap();
    let mut body = Vec::new();
    let result = loop {
        match c.try_read_body_some(&mut body, Instant::now() + TIMEOUT) {
            Ok(true) => continue,
            other => break other,
        }
    };
    assert!(result.is_err(), "the body must end short: {result:?}");
    assert!(
        !body.is_empty() && body.len() < promised,
        "{} of {promised}",
        body.len()
    );
    // hang: no answer within the client's patience, while other requests are served.
    let mut hung = s.connect();
    hung.write_request(&call(1, 4));
    s.send(&call(2, 9)).expect(200);
    assert!(
        hung.try_read_head(Instant::now() + Duration::from_millis(500), false)
            .is_err(),
        "a hung request gets no answer"
    );
    let r = s.send(&call(1, 5));
    r.expect(200);
    assert!(serde_json::from_slice::<Value>(r.text().as_bytes()).is_err());
    // A delayed call with a progress token: the notifications ride an SSE reply.
    let r = s.send(&Request::mcp(
        "/mcp",
        &json!({"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"benchmark_tool_6","_meta":{"progressToken":1}}}),
    ));
    r.expect(200);
    assert!(
        r.content_type().starts_with("text/event-stream"),
        "{}",
        r.text()
    );
    let text = r.text();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(events.len(), 3, "{text}");
    assert_eq!(events[0]["params"]["progress"], 0);
    assert_eq!(events[1]["params"]["progress"], 100);
    assert_eq!(events[2]["result"]["isError"], true);
}

/// A legacy SSE server with 10 tools and `extra` flags, an open `/sse` stream, and the
/// endpoint its first event names.
fn sse_session(extra: &[&str]) -> (HttpServer, SseStream, String) {
    let mut args = vec![
        "-transport=sse",
        "-listen=127.0.0.1",
        "-port=0",
        "-tools=10",
    ];
    args.extend_from_slice(extra);
    let s = HttpServer::start(&args);
    let mut stream = SseStream::open(s.addr(), &Request::sse("/sse"));
    let endpoint = stream.next_event().data.expect("the endpoint event");
    (s, stream, endpoint)
}

#[test]
fn legacy_sse_answers_http_faults_on_the_post() {
    let (s, _stream, endpoint) = sse_session(&["-error-rate=tools/call=1:http503"]);
    let r = s.send(&Request::mcp(
        &endpoint,
        &json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"benchmark_tool_1"}}),
    ));
    r.expect(503);
    assert_eq!(r.header("retry-after"), Some("1"));
}

fn admin(s: &HttpServer, token: Option<&str>, change: Option<Value>) -> (u16, Value) {
    let mut req = match change {
        None => Request::get("/admin/config"),
        Some(c) => Request::new("PUT", "/admin/config").body(c.to_string()),
    };
    if let Some(t) = token {
        req = req.bearer(t);
    }
    let r = s.send(&req);
    let body = serde_json::from_str(&r.text()).unwrap_or(Value::Null);
    (r.status(), body)
}

#[test]
fn the_admin_endpoint_needs_the_flag() {
    let s = http(&[]);
    assert_eq!(s.send(&Request::get("/admin/config")).status(), 404);
    assert_eq!(
        s.send(&Request::new("PUT", "/admin/config").body(r#"{"tools":1}"#))
            .status(),
        404
    );
}

#[test]
fn admin_changes_take_effect_and_need_the_token() {
    let mut s = http(&["-admin", "-auth-token=secret", "-seed=5"]);
    let token = Some("secret");
    assert_eq!(admin(&s, None, None).0, 401);
    assert_eq!(admin(&s, Some("wrong"), Some(json!({"tools": 1}))).0, 401);
    let (status, config) = admin(&s, token, None);
    assert_eq!(status, 200);
    assert_eq!(
        (config["tools"].clone(), config["seed"].clone()),
        (json!(10), json!(5))
    );
    assert_eq!(config["latency"], "");

    let list = |s: &HttpServer| {
        s.send(
            &Request::mcp(
                "/mcp",
                &json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
            )
            .bearer("secret"),
        )
        .json()["result"]["tools"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(list(&s), 10);
    let (status, config) = admin(
        &s,
        token,
        Some(
            json!({"tools": 3, "latency": "tools/call=fixed:300ms", "error_rate": "tools/call=0.2:jsonrpc"}),
        ),
    );
    assert_eq!(status, 200, "{config}");
    assert_eq!(config["tools"], 3);
    assert_eq!(config["latency"], "tools/call=fixed:300ms");
    assert_eq!(list(&s), 3);
    let version = s.send(&Request::get("/version")).json();
    assert_eq!(version["tools"], 3);
    s.server
        .wait_for_stderr_line(|l| l.contains("INFO") && l.contains("admin: configuration changed"));

    // The new latency and error rate apply to new requests.
    let mut conn = s.connect();
    let start = Instant::now();
    let mut errors = 0;
    let n = 20;
    for i in 0..n {
        let r = conn.send(&call(i, i % 3).bearer("secret"));
        if r.json()["error"]["code"] == -32603 {
            errors += 1;
        }
    }
    assert!(start.elapsed() >= Duration::from_millis(300 * n));
    let (_, config) = admin(&s, token, None);
    assert_eq!(config["injected"]["jsonrpc"], errors, "{config}");
    assert_eq!(config["requests"], n + 1, "the tools/list and the calls");
    let r = conn.send(&call(1, 5).bearer("secret"));
    assert_eq!(r.json()["error"]["code"], -32602, "tool 5 is gone");

    // A bad change is refused whole.
    let (status, body) = admin(
        &s,
        token,
        Some(json!({"tools": 7, "latency": "fixed:soon"})),
    );
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("latency"),
        "{body}"
    );
    let (status, _) = admin(&s, token, Some(json!({"teapot": 1})));
    assert_eq!(status, 400);
    assert_eq!(admin(&s, token, None).1["tools"], 3);

    // Off again.
    let (status, _) = admin(&s, token, Some(json!({"latency": "", "error_rate": ""})));
    assert_eq!(status, 200);
    let start = Instant::now();
    for i in 0..20 {
        let r = conn.send(&call(i, 1).bearer("secret"));
        assert!(r.json()["result"].is_object());
    }
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn http_fault_rate_matches_what_the_server_reports() {
    let s = http(&["-error-rate=tools/call=0.3:http503", "-seed=9", "-admin"]);
    let mut conn = s.connect();
    let n = 600u64;
    let mut refused = 0u64;
    for i in 0..n {
        match conn.send(&call(i, i % 10)).status() {
            503 => refused += 1,
            200 => {}
            other => panic!("status {other}"),
        }
    }
    let (mean, sd) = (n as f64 * 0.3, (n as f64 * 0.3 * 0.7).sqrt());
    assert!((refused as f64 - mean).abs() < 5.0 * sd, "{refused} of {n}");
    let (_, config) = admin(&s, None, None);
    assert_eq!(config["injected"]["http503"], refused);
}

#[test]
fn a_delayed_large_call_with_progress_is_one_sse_reply() {
    let s = HttpServer::start(&[
        "-transport=http",
        "-listen=127.0.0.1",
        "-port=0",
        "-session-mode=stateless",
        "-tools=2",
        "-tool-size=300000",
        "-latency=tools/call=fixed:20ms",
    ]);
    let r = s.send(&Request::mcp(
        "/mcp",
        &json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"benchmark_tool_1","_meta":{"progressToken":"big"}}}),
    ));
    r.expect(200);
    let text = r.text();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(events.len(), 3);
    let body: Value =
        serde_json::from_str(events[2]["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(body["data"].as_str().unwrap().len(), 300_000);
}

#[test]
fn delayed_requests_that_change_the_session_still_change_it() {
    let mut c = StdioClient::start(["-tools=10", "-latency=fixed:100ms", "-log-level=none"]);
    let start = Instant::now();
    let init = c.request(
        "initialize",
        json!({"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"t","version":"1"}}),
    );
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert_eq!(init["result"]["protocolVersion"], "2025-03-26");
    // Batches are accepted only under the negotiated 2025-03-26.
    c.send_line(r#"[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","id":"b","method":"ping"}]"#);
    let batch = c.recv();
    assert_eq!(batch.as_array().map(Vec::len), Some(2), "{batch}");
}

// ------------------------------------------------------------------------------------------
// Eras: an in-band fault is written in the era of the request it answers

const MODERN: &str = "2026-07-28";
const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// A `tools/call` of `benchmark_tool_<tool>`: 2026-07-28 (with the `_meta` every request of
/// that era carries) or handshake era.
fn era_call(id: u64, tool: u64, modern: bool) -> Value {
    let mut params = json!({"name": format!("benchmark_tool_{tool}"), "arguments": {}});
    if modern {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {}
        });
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

/// Tools 0-4 answer with an injected `isError` result, 5-9 with an injected JSON-RPC error.
const ERA_FAULTS: &str = "-error-rate=tools/call@0-4=1:iserror;tools/call@5-9=1:jsonrpc";

/// Checks the injected `isError` result and JSON-RPC error of one era: a 2026-07-28 result
/// opens with `resultType` and the server's identity in `_meta`, as a real one does; a
/// handshake-era result has neither; the error is the same JSON-RPC error in both.
#[track_caller]
fn assert_era_faults(is_error: &Value, error: &Value, modern: bool) {
    let result = &is_error["result"];
    assert_eq!(result["isError"], true, "{is_error}");
    assert_eq!(result["content"][0]["text"], "Injected tool error");
    if modern {
        assert_eq!(result["resultType"], "complete", "{is_error}");
        assert_eq!(result["_meta"][SERVER_INFO]["name"], "benchmark-server");
        assert!(result["_meta"][SERVER_INFO]["version"].is_string());
    } else {
        assert!(result.get("resultType").is_none(), "{is_error}");
        assert!(result.get("_meta").is_none(), "{is_error}");
    }
    assert!(error.get("result").is_none(), "{error}");
    assert_eq!(error["error"]["code"], -32603, "{error}");
    assert_eq!(error["error"]["data"]["injected"], true);
    assert_eq!(error["jsonrpc"], "2.0");
}

#[test]
fn stdio_faults_answer_in_the_era_of_the_request() {
    let mut c = StdioClient::start(["-tools=10", "-tool-size=10", "-log-level=none", ERA_FAULTS]);
    for (i, modern) in [(1, true), (10, false), (20, true)] {
        c.send(&era_call(i, 2, modern));
        let is_error = c.recv();
        assert_eq!(is_error["id"], i);
        c.send(&era_call(i + 1, 7, modern));
        let error = c.recv();
        assert_eq!(error["id"], i + 1);
        assert_era_faults(&is_error, &error, modern);
    }
    // A real 2026-07-28 answer on the same pipe opens the same way.
    let real = c.request(
        "tools/list",
        json!({"_meta": era_call(0, 0, true)["params"]["_meta"]}),
    );
    assert_eq!(real["result"]["resultType"], "complete");
}

#[test]
fn http_faults_answer_in_the_era_of_the_request() {
    let s = http(&[ERA_FAULTS]);
    let post = |message: &Value, modern: bool| {
        let mut r = Request::mcp("/mcp", message);
        r = if modern {
            r.protocol(MODERN)
                .header("Mcp-Method", "tools/call")
                .header("Mcp-Name", message["params"]["name"].as_str().unwrap())
        } else {
            r.protocol(http_support::LATEST)
        };
        let response = s.send(&r);
        response.expect(200);
        assert!(
            response.content_type().starts_with("application/json"),
            "{}",
            response.content_type()
        );
        response.json()
    };
    for modern in [true, false, true] {
        let is_error = post(&era_call(1, 3, modern), modern);
        let error = post(&era_call(2, 8, modern), modern);
        assert_era_faults(&is_error, &error, modern);
    }
    // A dropped reply's half is the start of the real answer: its id, its era's fields.
    let s = http(&["-error-rate=tools/call=1:drop"]);
    for (id, modern) in [(31, true), (32, false)] {
        let message = era_call(id, 1, modern);
        let mut req = Request::mcp("/mcp", &message);
        if modern {
            req = req
                .protocol(MODERN)
                .header("Mcp-Method", "tools/call")
                .header("Mcp-Name", "benchmark_tool_1");
        }
        let mut c = s.connect();
        c.write_request(&req);
        assert_eq!(c.read_head().status, 200);
        let mut body = Vec::new();
        while let Ok(true) = c.try_read_body_some(&mut body, Instant::now() + TIMEOUT) {}
        let half = String::from_utf8_lossy(&body);
        let start = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"#);
        assert!(half.starts_with(&start), "{half}");
        assert_eq!(
            half.contains(r#""resultType":"complete""#),
            modern,
            "{half}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// Progress of a delayed call, as it happens

const PROGRESS_DELAY: Duration = Duration::from_millis(1500);
/// The "Waiting" progress must arrive well before the delay ends.
const PROGRESS_AT_ONCE: Duration = Duration::from_millis(700);

fn progress_call(id: u64, modern: bool) -> Value {
    let mut message = era_call(id, 4, modern);
    message["params"]["_meta"]["progressToken"] = json!(format!("tok-{id}"));
    message
}

/// Reads the three messages of a delayed call's progress stream, checking when each arrives
/// (`since`: when the request was sent); returns the result.
#[track_caller]
fn expect_progress_then_result(events: &mut SseStream, id: u64, since: Instant) -> Value {
    expect_waiting(events, id, since);
    expect_done_then_result(events, id, since)
}

/// The "Waiting" progress, at once.
#[track_caller]
fn expect_waiting(events: &mut SseStream, id: u64, since: Instant) {
    let waiting = events.next_message();
    let at = since.elapsed();
    assert!(at < PROGRESS_AT_ONCE, "Waiting arrived after {at:?}");
    assert_eq!(waiting["method"], "notifications/progress", "{waiting}");
    assert_eq!(waiting["params"]["progressToken"], format!("tok-{id}"));
    assert_eq!(waiting["params"]["progress"], 0);
    assert_eq!(waiting["params"]["message"], "Waiting");
}

/// The "Done" progress and the result, once the delay is over.
#[track_caller]
fn expect_done_then_result(events: &mut SseStream, id: u64, since: Instant) -> Value {
    let done = events.next_message();
    let at = since.elapsed();
    assert!(at >= PROGRESS_DELAY, "Done arrived after only {at:?}");
    assert_eq!(done["params"]["progress"], 100, "{done}");
    assert_eq!(done["params"]["message"], "Done");
    let result = events.next_message();
    assert_eq!(result["id"], id, "{result}");
    result
}

#[test]
fn http_streams_the_progress_of_a_delayed_call_as_it_happens() {
    let s = http(&["-latency=tools/call=fixed:1500ms"]);
    // Both eras at once, each on its own connection.
    let started = Instant::now();
    let mut streams: Vec<(u64, bool, Conn)> = [(1, false), (2, true)]
        .into_iter()
        .map(|(id, modern)| {
            let message = progress_call(id, modern);
            let req = if modern {
                Request::mcp("/mcp", &message)
                    .protocol(MODERN)
                    .header("Mcp-Method", "tools/call")
                    .header("Mcp-Name", "benchmark_tool_4")
            } else {
                Request::mcp("/mcp", &message).protocol(http_support::LATEST)
            };
            let mut c = s.connect();
            c.write_request(&req);
            (id, modern, c)
        })
        .collect();
    // A client that accepts only JSON gets today's reply: all of it after the delay.
    let mut json_only = s.connect();
    json_only.write_request(
        &Request::mcp("/mcp", &progress_call(3, false)).set("Accept", "application/json"),
    );
    let mut opened = Vec::new();
    for (id, modern, conn) in streams.drain(..) {
        let (at, mut events) = conn_head(conn, started);
        assert!(at < PROGRESS_AT_ONCE, "headers after {at:?}");
        expect_waiting(&mut events, id, started);
        opened.push((id, modern, events));
    }
    for (id, modern, mut events) in opened {
        let result = expect_done_then_result(&mut events, id, started);
        assert_eq!(
            result["result"]["resultType"].is_string(),
            modern,
            "{result}"
        );
        assert!(result["result"]["content"][0]["text"].is_string());
        let rest = events.expect_end(TIMEOUT);
        assert!(rest.iter().all(SseEvent::is_comment), "{rest:?}");
    }
    let r = json_only.read_response(false);
    assert!(started.elapsed() >= PROGRESS_DELAY);
    r.expect(200);
    let events: Vec<Value> = http_support::parse_events(&r.text())
        .iter()
        .filter(|e| !e.is_comment())
        .map(SseEvent::json)
        .collect();
    assert_eq!(events.len(), 3, "{}", r.text());
    assert_eq!(events[2]["id"], 3);
}

/// Reads the response head of `conn` (a 200 event stream): when it arrived and the stream.
fn conn_head(mut conn: Conn, since: Instant) -> (Duration, SseStream) {
    let head = conn.read_head();
    let at = since.elapsed();
    assert_eq!(head.status, 200, "{head:?}");
    assert!(
        head.content_type().starts_with("text/event-stream"),
        "{head:?}"
    );
    (at, conn.into_events())
}

#[test]
fn legacy_sse_sends_the_progress_of_a_delayed_call_before_the_delay_ends() {
    let (s, mut stream, endpoint) =
        sse_session(&["-tool-size=10", "-latency=tools/call=fixed:1500ms"]);
    // The POST is answered (202) once the call is; the messages travel on the stream.
    let mut post = s.connect();
    let started = Instant::now();
    post.write_request(&Request::mcp(&endpoint, &progress_call(5, false)));
    expect_progress_then_result(&mut stream, 5, started);
    post.read_response(false).expect(202);
}
