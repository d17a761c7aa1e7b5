//! Catalog realism knobs, measured on the real binary over stdio and HTTP: per-call
//! `payload_size`, size ranges, heavy tool definitions, binary content kinds, structured
//! results, and catalog churn with its notifications on every kind of stream. JSON Schema
//! validity is checked by the Python `jsonschema` package (the one the pinned `mcp` SDK
//! installs under `target/interop/`).

mod common;
mod http_support;
mod interop_support;
mod tooling;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{StdioClient, assert_payload, payload, run};
use http_support::{HttpServer, Request, SseStream};

fn start(args: &[&str]) -> StdioClient {
    let mut all = vec!["-log-level=warn"];
    all.extend_from_slice(args);
    StdioClient::start(all)
}

/// Every item of a listing, following `nextCursor`; also returns the number of pages.
fn list_all(c: &mut StdioClient, method: &str, key: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 1..=10_000 {
        let params = match &cursor {
            Some(cur) => json!({ "cursor": cur }),
            None => json!({}),
        };
        let r = c.result(method, params);
        items.extend(r[key].as_array().expect("a list").iter().cloned());
        match r.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_string()),
            None => return (items, page),
        }
    }
    panic!("{method} did not end within 10,000 pages");
}

/// The raw line answering a request (for byte-for-byte comparisons).
fn raw_answer(c: &mut StdioClient, request: &str) -> String {
    c.send_line(request);
    c.recv_line()
}

fn call(c: &mut StdioClient, tool: &str, args: Value) -> Value {
    c.result("tools/call", json!({"name": tool, "arguments": args}))
}

/// The JSON object inside a text tool result.
fn text_object(result: &Value) -> Value {
    let text = result["content"][0]["text"].as_str().expect("text content");
    serde_json::from_str(text).expect("the text is a JSON object")
}

/// Padded standard base64, decoded strictly.
fn b64decode(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    assert_eq!(s.len() % 4, 0, "base64 length {}", s.len());
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for q in s.as_bytes().chunks(4) {
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        assert!(pad <= 2);
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = (n << 6) | A.iter().position(|&a| a == c).expect("base64 alphabet") as u32;
        }
        n <<= 6 * pad;
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..3 - pad]);
    }
    out
}

/// The payload bytes at the end of a prompt's text (after its header).
fn prompt_payload(text: &str) -> &str {
    &text[text.find("Response from").unwrap_or(text.len())..]
}

/// Runs `script` (Python, with `jsonschema`) on `input`; it prints `ok` when every check holds.
fn check_with_jsonschema(script: &str, input: &Value) {
    let python = interop_support::python_env();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp");
    std::fs::create_dir_all(&dir).expect("target/tmp");
    let path = dir.join(format!(
        "realism-{}-{:x}.json",
        std::process::id(),
        input.to_string().len()
    ));
    std::fs::write(&path, input.to_string()).expect("writing the schema input");
    let out = tooling::run_bounded(
        std::process::Command::new(python)
            .arg("-c")
            .arg(script)
            .arg(&path),
        Duration::from_secs(60),
    )
    .expect("python runs");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success() && out.stdout.trim() == "ok",
        "jsonschema check failed: {}\n{}",
        out.stdout,
        out.stderr
    );
}

const SCHEMA_CHECK: &str = r#"
import json, sys
from jsonschema import Draft202012Validator, Draft7Validator
data = json.load(open(sys.argv[1]))
for tool in data["tools"]:
    for key in ("inputSchema", "outputSchema"):
        if key in tool:
            Draft202012Validator.check_schema(tool[key])
            Draft7Validator.check_schema(tool[key])
for schema, instance in data.get("instances", []):
    Draft202012Validator(schema).validate(instance)
for schema, instance in data.get("invalid", []):
    assert not Draft202012Validator(schema).is_valid(instance), instance
print("ok")
"#;

#[test]
fn knobs_left_at_their_defaults_change_no_byte() {
    let requests = [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"resources/list"}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"prompts/list","params":{"cursor":"YmVuY2htYXJrX3Byb21wdF8z"}}"#,
    ];
    let mut plain = start(&["-tools=30", "-tool-size=5000", "-page-size=10"]);
    let mut explicit = start(&[
        "-tools=30",
        "-tool-size=5000-5000",
        "-page-size=10",
        "-content=text",
        "-tool-enum-size=0",
        "-tool-schema-depth=0",
        "-max-payload-size=7",
        "-structured=false",
        "-payload-size-arg=false",
    ]);
    for r in requests {
        let a = raw_answer(&mut plain, r);
        assert_eq!(a, raw_answer(&mut explicit, r), "{r}");
    }
    // -tool-size=5000 still means exactly 5000, and payload_size is only an echoed argument.
    for c in [&mut plain, &mut explicit] {
        let r = call(c, "benchmark_tool_3", json!({"payload_size": 10}));
        let obj = text_object(&r);
        assert_payload(obj["data"].as_str().unwrap(), "benchmark_tool_3", 5000);
        assert_eq!(obj["arguments"], json!({"payload_size": 10}));
        assert!(r.get("structuredContent").is_none());
    }
}

#[test]
fn payload_size_sets_the_size_of_one_call_up_to_the_cap() {
    let mut c = start(&[
        "-tools=5",
        "-tool-size=100",
        "-payload-size-arg",
        "-max-payload-size=300000",
    ]);
    let (tools, _) = list_all(&mut c, "tools/list", "tools");
    let schema = &tools[2]["inputSchema"]["properties"]["payload_size"];
    assert_eq!(schema["type"], "integer");
    assert_eq!(schema["maximum"], 300_000);
    assert_eq!(schema["default"], 100);
    assert_eq!(
        tools[2]["inputSchema"]["properties"]["param1"]["type"],
        "string"
    );
    // Sizes below and above the streaming chunk (64 KiB) are exact.
    for size in [0u64, 1, 99, 12_345, 65_536, 300_000] {
        let r = call(
            &mut c,
            "benchmark_tool_2",
            json!({"payload_size": size, "param1": "x"}),
        );
        let obj = text_object(&r);
        assert_payload(
            obj["data"].as_str().unwrap(),
            "benchmark_tool_2",
            size as usize,
        );
        assert_eq!(obj["arguments"]["payload_size"], size);
    }
    let r = call(&mut c, "benchmark_tool_2", json!({"param1": "x"}));
    assert_payload(
        text_object(&r)["data"].as_str().unwrap(),
        "benchmark_tool_2",
        100,
    );
    for bad in [
        json!(300_001),
        json!(-1),
        json!(1.5),
        json!("10"),
        json!([1]),
    ] {
        let e = c.error(
            "tools/call",
            json!({"name": "benchmark_tool_2", "arguments": {"payload_size": bad}}),
        );
        assert_eq!(e["code"], -32602, "{bad}: {e}");
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains("payload_size") && message.contains("300000"),
            "{message}"
        );
    }
    // The server is still serving after the refusals.
    assert_eq!(c.result("ping", json!({})), json!({}));
}

/// The payload size of every tool, resource and prompt of a small catalog.
fn observed_sizes(args: &[&str]) -> [Vec<usize>; 3] {
    let mut c = start(args);
    let tools = (0..200)
        .map(|i| {
            let r = call(&mut c, &format!("benchmark_tool_{i}"), json!({}));
            let data = text_object(&r)["data"].as_str().unwrap().to_string();
            assert_eq!(data, payload(&format!("benchmark_tool_{i}"), data.len()));
            data.len()
        })
        .collect();
    let resources = (0..200)
        .map(|i| {
            let uri = format!("benchmark://benchmark_resource_{i}");
            let r = c.result("resources/read", json!({ "uri": uri }));
            let text = r["contents"][0]["text"].as_str().unwrap();
            let obj: Value = serde_json::from_str(text).unwrap();
            obj["data"].as_str().unwrap().len()
        })
        .collect();
    let prompts = (0..200)
        .map(|i| {
            let r = c.result(
                "prompts/get",
                json!({"name": format!("benchmark_prompt_{i}")}),
            );
            let text = r["messages"][0]["content"]["text"].as_str().unwrap();
            prompt_payload(text).len()
        })
        .collect();
    [tools, resources, prompts]
}

#[test]
fn size_ranges_are_uniform_per_item_and_the_same_on_every_run() {
    let args = [
        "-tools=200",
        "-resources=200",
        "-prompts=200",
        "-tool-size=1000-5000",
        "-resource-size=10-20",
        "-prompt-size=300",
    ];
    let first = observed_sizes(&args);
    let bounds = [(1000, 5000), (10, 20), (300, 300)];
    for (sizes, (lo, hi)) in first.iter().zip(bounds) {
        assert!(
            sizes.iter().all(|s| (lo..=hi).contains(s)),
            "{lo}-{hi}: {sizes:?}"
        );
        let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
        let mid = (lo + hi) as f64 / 2.0;
        // 200 uniform draws: the mean is within ~5 standard errors of the middle.
        let tolerance = ((hi - lo) as f64 / 12f64.sqrt()) / 200f64.sqrt() * 5.0;
        assert!((mean - mid).abs() <= tolerance, "mean {mean} vs {mid}");
    }
    let distinct = |v: &Vec<usize>| {
        let mut d = v.clone();
        d.sort_unstable();
        d.dedup();
        d.len()
    };
    assert!(distinct(&first[0]) > 150, "tool sizes spread out");
    assert_eq!(distinct(&first[1]), 11, "all of 10..=20 occur");
    assert_eq!(distinct(&first[2]), 1);
    assert_eq!(
        observed_sizes(&args),
        first,
        "a second run serves the same sizes"
    );
    let init = start(&args).initialize(None);
    let instructions = init["instructions"].as_str().unwrap();
    assert!(
        instructions.contains("200 tools (1000-5000-byte payloads)")
            && instructions.contains("200 prompts (300-byte payloads)"),
        "{instructions}"
    );
}

/// Object levels of a `nested` property.
fn depth(mut schema: &Value) -> usize {
    let mut levels = 0;
    while schema["type"] == "object" {
        levels += 1;
        let props = &schema["properties"];
        schema = props.get("nested").unwrap_or(&props["value"]);
    }
    levels
}

#[test]
fn heavy_definitions_have_the_requested_shape_on_every_page() {
    let args = [
        "-tools=60",
        "-page-size=7",
        "-tool-description-size=200-400",
        "-tool-params=3-12",
        "-tool-schema-depth=1-5",
        "-tool-enum-size=4",
    ];
    let mut c = start(&args);
    let (tools, pages) = list_all(&mut c, "tools/list", "tools");
    assert_eq!(pages, 9);
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..60).map(|i| format!("benchmark_tool_{i}")).collect();
    assert_eq!(
        names, expected,
        "every tool once, in order, across the pages"
    );
    let mut params_seen = Vec::new();
    let mut depths_seen = Vec::new();
    for (i, t) in tools.iter().enumerate() {
        let description = t["description"].as_str().unwrap();
        assert!((200..=400).contains(&description.len()), "{description}");
        assert!(description.starts_with(&format!("Benchmark tool #{i} - returns test data")));
        let props = t["inputSchema"]["properties"].as_object().unwrap();
        let params: Vec<&String> = props.keys().filter(|k| k.starts_with("param")).collect();
        assert!((3..=12).contains(&params.len()), "{params:?}");
        for p in &params {
            let values = props[p.as_str()]["enum"].as_array().unwrap();
            assert_eq!(values.len(), 4);
        }
        let d = depth(&props["nested"]);
        assert!((1..=5).contains(&d), "depth {d}");
        params_seen.push(params.len());
        depths_seen.push(d);
        assert_eq!(t["annotations"]["title"], format!("Benchmark Tool {i}"));
    }
    params_seen.sort_unstable();
    params_seen.dedup();
    depths_seen.sort_unstable();
    depths_seen.dedup();
    assert!(
        params_seen.len() >= 8 && depths_seen.len() == 5,
        "{params_seen:?} {depths_seen:?}"
    );
    // The same listing, byte for byte, from a second process.
    let page = r#"{"jsonrpc":"2.0","id":9,"method":"tools/list","params":{"cursor":"YmVuY2htYXJrX3Rvb2xfNg=="}}"#;
    let mut again = start(&args);
    assert_eq!(raw_answer(&mut c, page), raw_answer(&mut again, page));
    check_with_jsonschema(SCHEMA_CHECK, &json!({ "tools": tools }));
}

#[test]
fn binary_content_decodes_to_the_exact_payload() {
    for (content, size) in [("image", 1000usize), ("audio", 200_001), ("blob", 65_537)] {
        let size_flag = format!("-payload-size={size}");
        let content_flag = format!("-content={content}");
        let mut c = start(&[
            "-tools=3",
            "-resources=3",
            "-prompts=3",
            &size_flag,
            &content_flag,
        ]);
        let r = call(&mut c, "benchmark_tool_1", json!({}));
        let item = &r["content"][0];
        let data = match content {
            "blob" => {
                assert_eq!(item["type"], "resource");
                assert_eq!(item["resource"]["mimeType"], "application/octet-stream");
                assert_eq!(item["resource"]["uri"], "benchmark://benchmark_tool_1/data");
                item["resource"]["blob"].as_str().unwrap()
            }
            kind => {
                assert_eq!(item["type"], kind);
                let mime = if kind == "image" {
                    "image/png"
                } else {
                    "audio/wav"
                };
                assert_eq!(item["mimeType"], mime);
                item["data"].as_str().unwrap()
            }
        };
        assert_eq!(
            data.len(),
            size.div_ceil(3) * 4,
            "{content}: encoded length"
        );
        assert_eq!(
            b64decode(data),
            payload("benchmark_tool_1", size).as_bytes()
        );

        let (resources, _) = list_all(&mut c, "resources/list", "resources");
        let listed_mime = resources[2]["mimeType"].clone();
        let r = c.result(
            "resources/read",
            json!({"uri": "benchmark://benchmark_resource_2"}),
        );
        let item = &r["contents"][0];
        assert_eq!(
            item["mimeType"], listed_mime,
            "read agrees with the listing"
        );
        assert!(item.get("text").is_none());
        let blob = item["blob"].as_str().unwrap();
        assert_eq!(
            b64decode(blob),
            payload("benchmark_resource_2", size).as_bytes()
        );

        let r = c.result(
            "prompts/get",
            json!({"name": "benchmark_prompt_0", "arguments": {"arg1": "v"}}),
        );
        let messages = r["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 2);
        assert!(
            messages[0]["content"]["text"]
                .as_str()
                .unwrap()
                .contains("  - arg1: v")
        );
        let second = &messages[1]["content"];
        let data = second["data"]
            .as_str()
            .or(second["resource"]["blob"].as_str())
            .unwrap();
        assert_eq!(
            b64decode(data),
            payload("benchmark_prompt_0", size).as_bytes()
        );
    }
}

#[test]
fn mixed_content_cycles_through_the_kinds_by_index() {
    let mut c = start(&[
        "-tools=8",
        "-resources=8",
        "-content=mixed",
        "-tool-size=500",
    ]);
    let kinds: Vec<String> = (0..8)
        .map(|i| {
            let r = call(&mut c, &format!("benchmark_tool_{i}"), json!({}));
            r["content"][0]["type"].as_str().unwrap().to_string()
        })
        .collect();
    let cycle = ["text", "image", "audio", "resource"];
    let expected: Vec<&str> = cycle.iter().chain(cycle.iter()).copied().collect();
    assert_eq!(kinds, expected);
    let (resources, _) = list_all(&mut c, "resources/list", "resources");
    let mimes: Vec<&str> = resources
        .iter()
        .map(|r| r["mimeType"].as_str().unwrap())
        .collect();
    assert_eq!(
        mimes[..4],
        [
            "application/json",
            "image/png",
            "audio/wav",
            "application/octet-stream"
        ]
    );
    for (i, listed) in resources.iter().enumerate() {
        let r = c.result("resources/read", json!({"uri": listed["uri"]}));
        assert_eq!(
            r["contents"][0]["mimeType"], listed["mimeType"],
            "resource {i}"
        );
        assert_eq!(r["contents"][0].get("text").is_some(), i % 4 == 0);
    }
}

#[test]
fn structured_results_match_the_output_schema() {
    let mut c = start(&[
        "-tools=4",
        "-structured",
        "-tool-size=100000",
        "-payload-size-arg",
    ]);
    let (tools, _) = list_all(&mut c, "tools/list", "tools");
    let schema = tools[1]["outputSchema"].clone();
    assert_eq!(schema["type"], "object");
    let mut instances = Vec::new();
    for args in [json!({"param1": "a", "payload_size": 3}), json!({})] {
        let r = call(&mut c, "benchmark_tool_1", args.clone());
        let structured = r["structuredContent"].clone();
        assert_eq!(
            structured,
            text_object(&r),
            "the text block is the same object"
        );
        assert_eq!(structured["arguments"], args);
        assert_eq!(structured["tool"], "benchmark_tool_1");
        let size = if args.get("payload_size").is_some() {
            3
        } else {
            100_000
        };
        assert_payload(
            structured["data"].as_str().unwrap(),
            "benchmark_tool_1",
            size,
        );
        instances.push(json!([schema, structured]));
    }
    // Without arguments the echo is null, which the schema allows too.
    let r = c.result("tools/call", json!({"name": "benchmark_tool_0"}));
    assert_eq!(r["structuredContent"]["arguments"], Value::Null);
    instances.push(json!([schema, r["structuredContent"]]));
    let invalid = json!([[schema, {"data": "x"}], [schema, {"arguments": null, "data": 1, "timestamp": "t", "tool": "x"}]]);
    check_with_jsonschema(
        SCHEMA_CHECK,
        &json!({"tools": tools, "instances": instances, "invalid": invalid}),
    );
}

/// The deepest request accepted (126 levels) still gets a reply that serde_json, which stops
/// at 127 levels, can read, although the structured result nests the echoed arguments one
/// level deeper; one level more is refused with a parse error that says why.
#[test]
fn the_deepest_accepted_arguments_echo_into_a_readable_reply() {
    let mut c = start(&["-structured", "-tool-size=10"]);
    // The request object, params and arguments are 3 levels; the rest is arrays.
    let request = |arrays: usize| {
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"benchmark_tool_0","arguments":{{"a":{}{}}}}}}}"#,
            "[".repeat(arrays),
            "]".repeat(arrays)
        )
    };
    let line = raw_answer(&mut c, &request(126 - 3));
    let reply: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let mut echoed = &reply["result"]["structuredContent"]["arguments"]["a"];
    for _ in 1..126 - 3 {
        echoed = &echoed[0];
    }
    assert_eq!(echoed, &json!([]), "{line}");
    let refused: Value = serde_json::from_str(&raw_answer(&mut c, &request(126 - 2))).unwrap();
    assert_eq!(refused["error"]["code"], -32700, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        "Parse error: message nests deeper than 126 levels"
    );
}

#[test]
fn large_binary_results_stream_over_streamable_http() {
    let server = HttpServer::start(&[
        "-transport=http",
        "-listen=127.0.0.1",
        "-port=0",
        "-session-mode=stateless",
        "-content=image",
        "-tool-size=1000-2000000",
        "-tools=10",
        "-structured",
    ]);
    for i in [0, 7] {
        let name = format!("benchmark_tool_{i}");
        let msg = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
            "params": {"name": name, "arguments": {}}});
        let response = server.send(&Request::mcp("/mcp", &msg));
        let body = response.expect(200).json();
        let result = &body["result"];
        let data = b64decode(result["content"][0]["data"].as_str().unwrap());
        let text = result["structuredContent"]["data"].as_str().unwrap();
        assert!((1000..=2_000_000).contains(&data.len()));
        assert_eq!(
            data,
            text.as_bytes(),
            "image bytes are the structured payload"
        );
        assert_payload(text, &name, data.len());
    }
}

#[test]
fn bad_realism_values_are_refused_at_start_up() {
    for (flag, needle) in [
        ("-content=video", "-content"),
        ("-tool-size=5000-1000", "-tool-size"),
        ("-tool-size=-5", "-tool-size"),
        ("-tool-schema-depth=51", "-tool-schema-depth"),
        ("-tool-params=1001", "-tool-params"),
        ("-tool-enum-size=x", "-tool-enum-size"),
        ("-tool-description-size=1-2000000", "-tool-description-size"),
        ("-max-payload-size=-1", "-max-payload-size"),
        ("-churn=5s", "-churn"),
        ("-churn=5s:0", "-churn"),
    ] {
        let done = run([flag]);
        assert_eq!(done.code(), 2, "{flag}: {}", done.stderr);
        assert!(done.stderr.contains(needle), "{flag}: {}", done.stderr);
    }
    let done = run(["-churn=5s:10", "-profile=conformance"]);
    assert_eq!(done.code(), 2, "{}", done.stderr);
    assert!(
        done.stderr.contains("-profile=conformance"),
        "{}",
        done.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Churn

/// The numeric suffixes of listed names (`benchmark_tool_7` → 7).
fn indices(items: &[Value], key: &str) -> Vec<u64> {
    items
        .iter()
        .map(|t| {
            let name = t[key].as_str().unwrap();
            name.rsplit('_').next().unwrap().parse().unwrap()
        })
        .collect()
}

/// A whole listing taken within one generation: `count` consecutive indices (a change in the
/// middle of paging is retried, a few times at most).
fn stable_listing(c: &mut StdioClient, method: &str, key: &str, count: usize) -> Vec<u64> {
    for _ in 0..5 {
        let (items, _) = list_all(c, method, key);
        let found = indices(&items, "name");
        if found.len() == count && found.windows(2).all(|w| w[1] == w[0] + 1) {
            return found;
        }
    }
    panic!("no consistent {method} listing in 5 tries");
}

/// Reads stdio notifications until every method in `wanted` has arrived (bounded).
fn await_notifications(c: &StdioClient, wanted: &[&str]) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen: Vec<Value> = Vec::new();
    while !wanted
        .iter()
        .all(|w| seen.iter().any(|m| m["method"] == *w))
    {
        assert!(Instant::now() < deadline, "only {seen:?} within 10 s");
        seen.push(c.recv());
    }
    seen
}

#[test]
fn churn_moves_the_catalog_and_notifies_stdio_clients() {
    let mut c = start(&[
        "-churn=1s:2",
        "-tools=6",
        "-resources=4",
        "-prompts=3",
        "-page-size=4",
    ]);
    let init = c.handshake("2025-06-18");
    for kind in ["tools", "resources", "prompts"] {
        assert_eq!(init["capabilities"][kind]["listChanged"], true, "{init}");
    }
    let before = stable_listing(&mut c, "tools/list", "tools", 6);
    assert!(
        before[0].is_multiple_of(2),
        "the window moves by whole counts"
    );
    // A cursor taken now is still honoured after items it names have gone.
    let page = c.result("tools/list", json!({}));
    let cursor = page["nextCursor"].as_str().unwrap().to_string();
    // Resource [2] of 4 leaves at the second change from now: still there when subscribed.
    let resources = stable_listing(&mut c, "resources/list", "resources", 4);
    let watched = format!("benchmark://benchmark_resource_{}", resources[2]);
    assert_eq!(
        c.result("resources/subscribe", json!({"uri": watched})),
        json!({})
    );

    let seen = await_notifications(
        &c,
        &[
            "notifications/tools/list_changed",
            "notifications/resources/list_changed",
            "notifications/prompts/list_changed",
            "notifications/resources/updated",
        ],
    );
    let updated: Vec<&Value> = seen
        .iter()
        .filter(|m| m["method"] == "notifications/resources/updated")
        .collect();
    assert_eq!(updated[0]["params"]["uri"], watched.as_str());

    let after = stable_listing(&mut c, "tools/list", "tools", 6);
    assert!(
        after[0] > before[0] && after[0].is_multiple_of(2),
        "{before:?} → {after:?}"
    );
    // Gone items are unknown; new ones work.
    let gone = format!("benchmark_tool_{}", before[0]);
    let e = c.error("tools/call", json!({"name": gone}));
    assert_eq!(e["code"], -32602);
    let e = c.error("resources/read", json!({"uri": watched}));
    assert_eq!(e["code"], -32002);
    call(&mut c, &format!("benchmark_tool_{}", after[5]), json!({}));
    // Completion offers the resources there are now.
    let res_now = stable_listing(&mut c, "resources/list", "resources", 4);
    let r = c.result(
        "completion/complete",
        json!({"ref": {"type": "ref/resource", "uri": "benchmark://benchmark_resource_{index}"},
            "argument": {"name": "index", "value": ""}}),
    );
    let offered: Vec<u64> = r["completion"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(offered.len(), 4, "{r}");
    assert!(offered[0] >= res_now[0] && offered.windows(2).all(|w| w[1] == w[0] + 1));
    let r = c.result("tools/list", json!({ "cursor": cursor }));
    let continued = indices(r["tools"].as_array().unwrap(), "name");
    assert!(
        !continued.is_empty() && continued[0] >= after[0],
        "{continued:?}"
    );
}

#[test]
fn without_churn_nothing_changes_and_nothing_is_announced() {
    let mut c = start(&["-tools=3"]);
    let init = c.handshake("2025-06-18");
    assert_eq!(init["capabilities"]["tools"]["listChanged"], false);
    c.result(
        "resources/subscribe",
        json!({"uri": "benchmark://benchmark_resource_0"}),
    );
    c.expect_silence(Duration::from_millis(1500));
    let (tools, _) = list_all(&mut c, "tools/list", "tools");
    assert_eq!(indices(&tools, "name"), [0, 1, 2]);
}

fn http_server(extra: &[&str]) -> HttpServer {
    let mut args = vec![
        "-listen=127.0.0.1",
        "-port=0",
        "-churn=700ms:1",
        "-tools=3",
        "-resources=3",
        "-prompts=3",
    ];
    args.extend_from_slice(extra);
    HttpServer::start(&args)
}

/// Messages of `stream` until every method of `wanted` has arrived (bounded).
fn await_events(stream: &mut SseStream, wanted: &[&str]) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen: Vec<Value> = Vec::new();
    while !wanted
        .iter()
        .all(|w| seen.iter().any(|m| m["method"] == *w))
    {
        assert!(Instant::now() < deadline, "only {seen:?} within 10 s");
        seen.push(stream.next_message());
    }
    seen
}

#[test]
fn churn_notifies_streamable_http_get_streams() {
    let s = http_server(&["-transport=http"]);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    let response = s.send(&Request::mcp("/mcp", &init));
    let sid = response
        .expect(200)
        .session_id()
        .expect("a session")
        .to_string();
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "resources/list"});
    let listed = s.send(&Request::mcp("/mcp", &list).session(&sid)).message();
    // Resource [1] of 3 leaves at the second change from now: still there when subscribed.
    let watched = listed["result"]["resources"][1]["uri"].clone();
    let sub = json!({"jsonrpc": "2.0", "id": 3, "method": "resources/subscribe",
        "params": {"uri": watched}});
    s.send(&Request::mcp("/mcp", &sub).session(&sid))
        .expect(200);
    let mut stream = SseStream::open(s.addr(), &Request::sse("/mcp").session(&sid));
    let seen = await_events(
        &mut stream,
        &[
            "notifications/tools/list_changed",
            "notifications/prompts/list_changed",
            "notifications/resources/updated",
        ],
    );
    let updated = seen
        .iter()
        .find(|m| m["method"] == "notifications/resources/updated")
        .unwrap();
    assert_eq!(updated["params"]["uri"], watched);
}

#[test]
fn churn_notifies_legacy_sse_streams() {
    let s = http_server(&["-transport=sse"]);
    let mut stream = SseStream::open(s.addr(), &Request::sse("/sse"));
    let endpoint = stream.next_event();
    assert_eq!(endpoint.event.as_deref(), Some("endpoint"));
    await_events(
        &mut stream,
        &[
            "notifications/tools/list_changed",
            "notifications/resources/list_changed",
        ],
    );
}

#[test]
fn churn_notifies_listen_streams_of_what_they_asked_for_only() {
    let s = http_server(&["-transport=http", "-session-mode=stateless"]);
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let discover = json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover",
        "params": {"_meta": meta}});
    let caps = s
        .send(
            &Request::mcp("/mcp", &discover)
                .protocol("2026-07-28")
                .header("Mcp-Method", "server/discover"),
        )
        .message();
    assert_eq!(
        caps["result"]["capabilities"]["tools"]["listChanged"], true,
        "{caps}"
    );
    let list =
        json!({"jsonrpc": "2.0", "id": 2, "method": "resources/list", "params": {"_meta": meta}});
    let listed = s
        .send(
            &Request::mcp("/mcp", &list)
                .protocol("2026-07-28")
                .header("Mcp-Method", "resources/list"),
        )
        .message();
    // A list is valid until the next change: its cache hint is the churn interval.
    assert_eq!(listed["result"]["ttlMs"], 700, "{listed}");
    // Resource [1] of 3 leaves at the second change from now: still there when subscribed.
    let watched = listed["result"]["resources"][1]["uri"].clone();
    let listen = json!({"jsonrpc": "2.0", "id": "L", "method": "subscriptions/listen", "params": {
        "_meta": meta,
        "notifications": {"toolsListChanged": true, "resourceSubscriptions": [watched, "benchmark://nope"]}}});
    let mut stream = SseStream::open(
        s.addr(),
        &Request::mcp("/mcp", &listen)
            .protocol("2026-07-28")
            .header("Mcp-Method", "subscriptions/listen"),
    );
    let ack = stream.next_message();
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["params"]["notifications"],
        json!({"toolsListChanged": true, "resourceSubscriptions": [watched]}),
        "{ack}"
    );
    let seen = await_events(
        &mut stream,
        &[
            "notifications/tools/list_changed",
            "notifications/resources/updated",
        ],
    );
    for m in &seen {
        assert_eq!(
            m["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], "L",
            "{m}"
        );
        assert!(
            m["method"] == "notifications/tools/list_changed"
                || m["method"] == "notifications/resources/updated",
            "only what was asked for: {m}"
        );
    }
}

#[test]
fn version_reports_both_ends_of_a_size_range() {
    let s = HttpServer::start(&[
        "-transport=http",
        "-listen=127.0.0.1",
        "-port=0",
        "-tool-size=1000-5000",
        "-resource-size=300",
        "-prompt-size=10-20",
    ]);
    let v = s.send(&Request::get("/version")).expect(200).json();
    // The sizes stay numbers (the low end of a range); a range adds its high end.
    assert_eq!(v["tool_size"], 1000, "{v}");
    assert_eq!(v["tool_size_max"], 5000, "{v}");
    assert_eq!(v["resource_size"], 300);
    assert!(v.get("resource_size_max").is_none(), "fixed: {v}");
    assert_eq!(
        (v["prompt_size"].clone(), v["prompt_size_max"].clone()),
        (json!(10), json!(20))
    );
    // Without ranges nothing is added.
    let s = HttpServer::start(&["-transport=http", "-listen=127.0.0.1", "-port=0"]);
    let v = s.send(&Request::get("/version")).expect(200).json();
    assert!(v["tool_size"].is_u64(), "{v}");
    for key in ["tool_size_max", "resource_size_max", "prompt_size_max"] {
        assert!(v.get(key).is_none(), "{key} in {v}");
    }
}

/// The index range the resource template's description states, if it has one.
fn template_range(templates: &Value) -> Option<(u64, u64)> {
    let template = templates["resourceTemplates"]
        .as_array()?
        .iter()
        .find(|t| t["name"] == "benchmark_resource_by_index")?;
    let text = template["description"].as_str()?;
    let mut words = text
        .strip_prefix("Benchmark resource with the given index, ")?
        .split(' ');
    let lo = words.next()?.parse().ok()?;
    (words.next()? == "to").then_some(())?;
    let hi = words.next()?.parse().ok()?;
    Some((lo, hi))
}

/// A stateless Streamable HTTP server with `/admin/config`, and `extra` flags.
fn admin_server(extra: &[&str]) -> HttpServer {
    let mut args = vec![
        "-transport=http",
        "-listen=127.0.0.1",
        "-port=0",
        "-session-mode=stateless",
        "-admin",
    ];
    args.extend_from_slice(extra);
    HttpServer::start(&args)
}

/// The result of a parameterless 2026-07-28 request for `method`.
fn modern_result(s: &HttpServer, method: &str) -> Value {
    let message = json!({"jsonrpc": "2.0", "id": 1, "method": method});
    let r = s.send(&Request::mcp("/mcp", &message).protocol(http_support::LATEST));
    r.expect(200);
    r.message()["result"].clone()
}

#[test]
fn the_resource_template_states_the_indices_there_are_now() {
    let s = admin_server(&["-churn=1s:2", "-resources=5"]);
    let ask = |method: &str| modern_result(&s, method);
    // The range stated and the resources listed, taken within one generation.
    let consistent = || {
        for _ in 0..5 {
            let before = ask("resources/templates/list");
            let listed = indices(
                ask("resources/list")["resources"].as_array().unwrap(),
                "name",
            );
            if ask("resources/templates/list") == before {
                return (template_range(&before), listed, before);
            }
        }
        panic!("no consistent listing in 5 tries");
    };
    let (range, listed, templates) = consistent();
    let (lo, hi) = range.unwrap_or_else(|| panic!("no range in {templates}"));
    assert_eq!((lo..=hi).collect::<Vec<_>>(), listed, "{templates}");
    let text = templates["resourceTemplates"][0]["description"]
        .as_str()
        .unwrap();
    assert!(text.contains("now (every 1s the lowest 2"), "{text}");
    // The window moves; the description moves with it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let moved = loop {
        assert!(Instant::now() < deadline, "the window never moved");
        std::thread::sleep(Duration::from_millis(200));
        let (range, listed, _) = consistent();
        if range != Some((lo, hi)) {
            break (range, listed);
        }
    };
    let (new_lo, new_hi) = moved.0.unwrap();
    assert!(new_lo > lo && new_hi - new_lo == 4, "{moved:?}");
    assert_eq!((new_lo..=new_hi).collect::<Vec<_>>(), moved.1);
    // A count changed at run time changes the stated range too.
    let r = s.send(&Request::new("PUT", "/admin/config").body(r#"{"resources":3}"#));
    r.expect(200);
    let (range, listed, templates) = consistent();
    let (lo, hi) = range.unwrap_or_else(|| panic!("no range in {templates}"));
    assert_eq!(hi - lo, 2, "{templates}");
    assert_eq!((lo..=hi).collect::<Vec<_>>(), listed);
    let r = s.send(&Request::new("PUT", "/admin/config").body(r#"{"resources":0}"#));
    r.expect(200);
    let templates = ask("resources/templates/list");
    assert_eq!(templates["resourceTemplates"], json!([]), "{templates}");
}

#[test]
fn without_churn_the_template_states_every_index_and_follows_admin_changes() {
    let s = admin_server(&["-resources=7"]);
    let templates = || modern_result(&s, "resources/templates/list");
    let t = templates();
    assert_eq!(template_range(&t), Some((0, 6)), "{t}");
    assert!(!t.to_string().contains(" now "), "{t}");
    s.send(&Request::new("PUT", "/admin/config").body(r#"{"resources":12}"#))
        .expect(200);
    assert_eq!(template_range(&templates()), Some((0, 11)));
}
