//! Both protocol eras against one running server, and a 2026-07-28 client across replicas.
//!
//! - stdio: one server process whose pipe carries handshake-era and 2026-07-28 requests
//!   interleaved (pipelined, and in lock-step listing walks); each is answered in its own era.
//! - Streamable HTTP: handshake-era SDK clients (Python `mcp`, `@modelcontextprotocol/sdk`
//!   1.x) and 2026-07-28 ones (Python `mcp`, `@modelcontextprotocol/client`) run against one
//!   server at the same time, while a raw handshake session and raw 2026 requests walk the
//!   same catalog in between.
//! - Replicas: two `-session-mode=stateless` processes, and an SDK client that sends each HTTP
//!   request to the other one, lists 100,000 tools page by page.

mod common;
mod http_support;
mod interop_support;
mod tooling;

use std::net::SocketAddr;
use std::thread;

use serde_json::{Value, json};

use common::{StdioClient, preview};
use http_support::{Conn, Request, initialize, notification, rpc};
use interop_support::{
    Connection, Era, Expect, HANDSHAKE, Hints, HttpServer, HttpTransport, MODERN, Sdk,
    run_client_within,
};

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

fn modern_meta() -> Value {
    json!({
        META_VERSION: MODERN,
        "io.modelcontextprotocol/clientCapabilities": {}
    })
}

/// A 2026-07-28 request: `params` with the `_meta` every request of that era carries.
fn modern(id: &str, method: &str, mut params: Value) -> Value {
    params["_meta"] = modern_meta();
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// A handshake-era request.
fn legacy(id: &str, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The result of `reply`, which must answer `id` successfully.
#[track_caller]
fn result(reply: &Value, id: &str) -> Value {
    assert_eq!(reply["id"], id, "{}", preview(&reply.to_string()));
    reply
        .get("result")
        .cloned()
        .unwrap_or_else(|| panic!("{id} failed: {}", preview(&reply.to_string())))
}

/// The error code of `reply`, which must answer `id` with an error.
#[track_caller]
fn error_code(reply: &Value, id: &str) -> i64 {
    assert_eq!(reply["id"], id, "{}", preview(&reply.to_string()));
    reply["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("{id} did not fail: {}", preview(&reply.to_string())))
}

/// A 2026-07-28 result: `resultType` and the server's identity in `_meta`; with `hints`, the
/// caching hints a list or read result carries.
#[track_caller]
fn assert_modern(r: &Value, hints: Option<(u64, &str)>) {
    assert_eq!(r["resultType"], "complete", "{}", preview(&r.to_string()));
    assert_eq!(r["_meta"][META_SERVER_INFO]["name"], "benchmark-server");
    match hints {
        Some((ttl, scope)) => {
            assert_eq!(r["ttlMs"], ttl, "{}", preview(&r.to_string()));
            assert_eq!(r["cacheScope"], scope, "{}", preview(&r.to_string()));
        }
        None => assert!(r.get("ttlMs").is_none(), "{}", preview(&r.to_string())),
    }
}

/// A handshake-era result: none of the 2026-07-28 additions.
#[track_caller]
fn assert_legacy(r: &Value) {
    for field in ["resultType", "ttlMs", "cacheScope"] {
        assert!(
            r.get(field).is_none(),
            "{field} in {}",
            preview(&r.to_string())
        );
    }
    assert!(
        r["_meta"].get(META_SERVER_INFO).is_none(),
        "{}",
        preview(&r.to_string())
    );
}

fn names(r: &Value, list: &str) -> Vec<String> {
    r[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {}", preview(&r.to_string())))
        .iter()
        .map(|t| t["name"].as_str().expect("a name").to_string())
        .collect()
}

fn expected_names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

// ---------------------------------------------------------------------------------------------
// stdio: one pipe, both eras

/// Fifteen requests of both eras written at once, before any answer is read: each answer
/// comes in order and in the era of its request, and the handshake made in the middle of
/// them changes nothing for the 2026 requests around it.
#[test]
fn one_stdio_pipe_answers_pipelined_requests_of_both_eras_each_in_its_own() {
    let mut c = StdioClient::start([
        "-tools=50",
        "-page-size=20",
        "-list-ttl=45s",
        "-read-ttl=2s",
        "-cache-scope=private",
        "-log-level=none",
    ]);
    let hints = Some((45_000, "private"));
    let args = json!({"param1": "x"});
    let burst = [
        modern("m1", "server/discover", json!({})),
        legacy(
            "h1",
            "initialize",
            json!({"protocolVersion": HANDSHAKE, "capabilities": {},
                   "clientInfo": {"name": "eras", "version": "1"}}),
        ),
        notification("notifications/initialized"),
        modern("m2", "tools/list", json!({})),
        legacy("h2", "tools/list", json!({})),
        legacy("h3", "ping", json!({})),
        modern("m3", "ping", json!({})),
        modern(
            "m4",
            "tools/call",
            json!({"name": "benchmark_tool_7", "arguments": args}),
        ),
        legacy(
            "h4",
            "tools/call",
            json!({"name": "benchmark_tool_7", "arguments": args}),
        ),
        modern(
            "m5",
            "resources/read",
            json!({"uri": "benchmark://benchmark_resource_3"}),
        ),
        modern("m6", "resources/read", json!({"uri": "benchmark://nope"})),
        legacy("h5", "resources/read", json!({"uri": "benchmark://nope"})),
        modern("m7", "initialize", json!({})),
        legacy(
            "h6",
            "prompts/get",
            json!({"name": "benchmark_prompt_2", "arguments": {"arg1": "a"}}),
        ),
        modern("m8", "tools/list", json!({})),
    ];
    // m8 asks for a version the server does not speak.
    let mut burst = burst.to_vec();
    burst[14]["params"]["_meta"][META_VERSION] = json!("1999-01-01");
    let text: String = burst.iter().map(|m| format!("{m}\n")).collect();
    c.send_raw(text.as_bytes());

    let r = result(&c.recv(), "m1");
    assert_modern(&r, Some((45_000, "private")));
    assert_eq!(r["supportedVersions"], json!([MODERN]));
    let r = result(&c.recv(), "h1");
    assert_legacy(&r);
    assert_eq!(r["protocolVersion"], HANDSHAKE);
    assert_eq!(r["serverInfo"]["name"], "benchmark-server");
    let r = result(&c.recv(), "m2");
    assert_modern(&r, hints);
    assert_eq!(names(&r, "tools"), expected_names("benchmark_tool_", 20));
    let r = result(&c.recv(), "h2");
    assert_legacy(&r);
    assert_eq!(names(&r, "tools"), expected_names("benchmark_tool_", 20));
    assert_eq!(result(&c.recv(), "h3"), json!({}));
    assert_eq!(error_code(&c.recv(), "m3"), -32601, "ping is gone in 2026");
    let modern_call = result(&c.recv(), "m4");
    assert_modern(&modern_call, None);
    let legacy_call = result(&c.recv(), "h4");
    assert_legacy(&legacy_call);
    for call in [&modern_call, &legacy_call] {
        let text = call["content"][0]["text"].as_str().expect("text content");
        let payload: Value = serde_json::from_str(text).expect("the payload is JSON");
        assert_eq!(payload["tool"], "benchmark_tool_7");
        assert_eq!(payload["arguments"], args);
    }
    let r = result(&c.recv(), "m5");
    assert_modern(&r, Some((2000, "private")));
    assert_eq!(r["contents"][0]["uri"], "benchmark://benchmark_resource_3");
    let reply = c.recv();
    assert_eq!(
        error_code(&reply, "m6"),
        -32602,
        "not found is -32602 in 2026"
    );
    assert_eq!(reply["error"]["data"]["uri"], "benchmark://nope");
    let reply = c.recv();
    assert_eq!(
        error_code(&reply, "h5"),
        -32002,
        "not found is -32002 before"
    );
    assert_eq!(
        error_code(&c.recv(), "m7"),
        -32601,
        "initialize is gone in 2026"
    );
    let r = result(&c.recv(), "h6");
    assert_legacy(&r);
    assert!(
        r["messages"][0]["content"]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Prompt: benchmark_prompt_2")),
        "{r}"
    );
    let reply = c.recv();
    assert_eq!(error_code(&reply, "m8"), -32022);
    assert_eq!(reply["error"]["data"]["supported"], json!([MODERN]));

    c.ping();
    c.close_stdin();
    assert!(c.wait_exit(common::TIMEOUT).success());
}

/// A 2026 walk and a handshake walk of the same listings in lock-step on one pipe: each round
/// sends the next page request of both at once. Both see every name once, in order, and
/// only the 2026 pages carry the caching hints.
#[test]
fn one_stdio_pipe_serves_a_2026_and_a_handshake_listing_walk_in_lock_step() {
    let mut c = StdioClient::start([
        "-tools=1000",
        "-prompts=333",
        "-page-size=100",
        "-log-level=none",
    ]);
    c.handshake(HANDSHAKE);
    for (method, list, prefix, total) in [
        ("tools/list", "tools", "benchmark_tool_", 1000),
        ("prompts/list", "prompts", "benchmark_prompt_", 333),
    ] {
        let mut cursors: [Option<String>; 2] = [None, None];
        let mut seen: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        let mut done = [false, false];
        let mut rounds = 0;
        while !(done[0] && done[1]) {
            rounds += 1;
            assert!(rounds <= 20, "{method}: the walks never end");
            let mut sent = Vec::new();
            for era in 0..2 {
                if done[era] {
                    continue;
                }
                let params = match &cursors[era] {
                    Some(cur) => json!({"cursor": cur}),
                    None => json!({}),
                };
                let id = format!("{method}-{era}-{rounds}");
                let message = if era == 0 {
                    modern(&id, method, params)
                } else {
                    legacy(&id, method, params)
                };
                c.send(&message);
                sent.push((era, id));
            }
            for (era, id) in sent {
                let r = result(&c.recv(), &id);
                if era == 0 {
                    assert_modern(&r, Some((300_000, "public")));
                } else {
                    assert_legacy(&r);
                }
                seen[era].extend(names(&r, list));
                cursors[era] = r["nextCursor"].as_str().map(str::to_string);
                done[era] = cursors[era].is_none();
            }
        }
        for names in &seen {
            assert_eq!(names, &expected_names(prefix, total), "{method}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Streamable HTTP: SDK clients of both eras at the same time, on one server

fn addr_of(server: &HttpServer) -> SocketAddr {
    server
        .base_url()
        .strip_prefix("http://")
        .and_then(|a| a.parse().ok())
        .expect("the base URL is http://127.0.0.1:PORT")
}

/// A raw 2026-07-28 POST with the headers that era requires.
fn modern_post(message: &Value) -> Request {
    let mut r = Request::mcp("/mcp", message)
        .protocol(MODERN)
        .header("Mcp-Method", message["method"].as_str().unwrap_or_default());
    if let Some(name) = message["params"]["name"].as_str() {
        r = r.header("Mcp-Name", name);
    }
    r
}

/// Walks `tools/list` over raw HTTP, alternating a handshake session's pages and 2026 pages
/// (the handshake request in the session, the 2026 one without): both walks get every name.
fn raw_walks_of_both_eras(addr: SocketAddr, session: &str, total: usize) {
    let mut cursors: [Option<String>; 2] = [None, None];
    let mut seen: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    let mut done = [false, false];
    let mut round = 0;
    while !(done[0] && done[1]) {
        round += 1;
        assert!(round <= 50, "the walks never end");
        for era in 0..2 {
            if done[era] {
                continue;
            }
            let mut params = match &cursors[era] {
                Some(cur) => json!({"cursor": cur}),
                None => json!({}),
            };
            let req = if era == 0 {
                params["_meta"] = modern_meta();
                modern_post(&rpc(round, "tools/list", params))
            } else {
                Request::mcp("/mcp", &rpc(round, "tools/list", params))
                    .session(session)
                    .protocol(HANDSHAKE)
            };
            let reply = Conn::open(addr).send(&req);
            reply.expect(200);
            let message = reply.message();
            let r = message
                .get("result")
                .cloned()
                .unwrap_or_else(|| panic!("tools/list failed: {}", preview(&reply.text())));
            if era == 0 {
                assert_modern(&r, Some((300_000, "public")));
            } else {
                assert_legacy(&r);
            }
            seen[era].extend(names(&r, "tools"));
            cursors[era] = r["nextCursor"].as_str().map(str::to_string);
            done[era] = cursors[era].is_none();
        }
    }
    for names in &seen {
        assert_eq!(names, &expected_names("benchmark_tool_", total));
    }
}

/// Python `mcp` in both eras, `@modelcontextprotocol/sdk` 1.x (handshake) and
/// `@modelcontextprotocol/client` (2026-07-28) against one server with in-memory sessions, all
/// at once: the handshake clients hold sessions while the 2026 ones need none. Meanwhile a raw
/// handshake session, opened before them, walks the catalog page by page alternately with raw
/// 2026 requests, and still works after they are done.
#[test]
fn sdk_clients_of_both_eras_share_one_streamable_http_server_at_the_same_time() {
    const TOOLS: usize = 3000;
    let mut server = HttpServer::start(
        HttpTransport::Streamable,
        &[
            "-tools=3000",
            "-page-size=500",
            "-tool-size=2000",
            "-log-level=debug",
        ],
    );
    let addr = addr_of(&server);
    let opened = Conn::open(addr).send(&Request::mcp("/mcp", &initialize(1, Some(HANDSHAKE))));
    opened.expect(200);
    let session = opened
        .session_id()
        .expect("initialize opens a session")
        .to_string();
    Conn::open(addr)
        .send(&Request::mcp("/mcp", &notification("notifications/initialized")).session(&session))
        .expect(202);

    let expect = Expect {
        tools: TOOLS as u64,
        resources: 100,
        prompts: 100,
        tool_size: 2000,
        resource_size: 1000,
        pages: [6, 1, 1],
    };
    let clients = [
        (Sdk::Python, Era::Handshake),
        (Sdk::Python, Era::Modern(Hints::DEFAULT)),
        (Sdk::TypeScript, Era::Handshake),
        (Sdk::TypeScriptV2, Era::Modern(Hints::DEFAULT)),
    ];
    // Install first (once per process, serialized): the runs below then start together.
    interop_support::python_env();
    interop_support::node_env();
    let summaries: Vec<Value> = thread::scope(|scope| {
        let server = &server;
        let runs: Vec<_> = clients
            .iter()
            .map(|&(sdk, era)| {
                scope.spawn(move || server.run_client_shared(sdk, era, None, expect))
            })
            .collect();
        raw_walks_of_both_eras(addr, &session, TOOLS);
        runs.into_iter()
            .map(|r| r.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    for (summary, (sdk, era)) in summaries.iter().zip(clients) {
        let want = match era {
            Era::Handshake => HANDSHAKE,
            Era::Modern(_) => MODERN,
        };
        assert_eq!(summary["protocol_version"], want, "{sdk:?}: {summary}");
    }
    // The handshake session outlived all of it.
    let reply = Conn::open(addr).send(
        &Request::mcp("/mcp", &rpc(99, "ping", Value::Null))
            .session(&session)
            .protocol(HANDSHAKE),
    );
    reply.expect(200);
    assert_eq!(reply.message()["result"], json!({}));
    server.assert_sound();
    let log = server.stderr();
    let count = |what: &str| log.lines().filter(|l| l.ends_with(what)).count();
    assert_eq!(
        count("request initialize"),
        3,
        "the raw session and the two handshake-era SDK clients initialize"
    );
    assert_eq!(
        count("request server/discover"),
        2,
        "the two 2026 SDK clients probe server/discover"
    );
}

// ---------------------------------------------------------------------------------------------
// Two stateless replicas, one 2026-07-28 client alternating between them

/// 100,000 tools in pages of 1,000 from two `-session-mode=stateless` processes, each HTTP
/// request of `sdk` going to the other one: every name arrives once and in order, every page
/// carries `ttlMs` and `cacheScope` (checked by the script on the wire), consecutive pages
/// come from different replicas, and each replica served half of them.
fn lists_100000_tools_across_two_stateless_replicas(sdk: Sdk) {
    let replica = |name: &str| {
        HttpServer::start(
            HttpTransport::Streamable,
            &[
                "-tools=100000",
                "-page-size=1000",
                "-session-mode=stateless",
                &format!("-instance-id={name}"),
                "-log-level=debug",
            ],
        )
    };
    let mut replicas = [replica("replica-a"), replica("replica-b")];
    let urls: Vec<String> = replicas.iter().map(|r| r.url().to_string()).collect();
    let summary = run_client_within(
        sdk,
        Era::Modern(Hints::DEFAULT),
        Connection::Alternating { urls: &urls },
        Expect {
            tools: 100_000,
            resources: 100,
            prompts: 100,
            tool_size: 1000,
            resource_size: 1000,
            pages: [100, 1, 1],
        },
        150,
        || {
            replicas
                .iter()
                .map(|r| {
                    format!(
                        "\n--- {} ---\n{}",
                        r.url(),
                        tooling::tail(&r.stderr(), 4000)
                    )
                })
                .collect()
        },
    );
    assert_eq!(
        summary["instances"],
        json!(["replica-a", "replica-b"]),
        "{summary}"
    );
    let pages: Vec<&str> = summary["tool_page_instances"]
        .as_array()
        .unwrap_or_else(|| panic!("no tool_page_instances: {summary}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default())
        .collect();
    assert_eq!(pages.len(), 100, "{summary}");
    for pair in pages.windows(2) {
        assert_ne!(
            pair[0], pair[1],
            "consecutive pages from one replica: {pages:?}"
        );
    }
    for r in &mut replicas {
        r.assert_sound();
        let served = r
            .stderr()
            .lines()
            .filter(|l| l.ends_with("request tools/list"))
            .count();
        assert_eq!(served, 50, "{} served {served} pages", r.url());
    }
}

#[test]
fn python_sdk_lists_100000_tools_across_two_stateless_replicas() {
    lists_100000_tools_across_two_stateless_replicas(Sdk::Python);
}

#[test]
fn typescript_v2_sdk_lists_100000_tools_across_two_stateless_replicas() {
    lists_100000_tools_across_two_stateless_replicas(Sdk::TypeScriptV2);
}
