//! Catalog realism knobs, measured on the real binary over stdio (and once over Streamable
//! HTTP): per-call `payload_size`, size ranges, heavy tool definitions, binary content kinds and
//! structured results. JSON Schema validity is checked by the Python `jsonschema` package (the
//! one the pinned `mcp` SDK installs under `target/interop/`).

mod common;
mod http_support;
#[allow(dead_code)]
mod interop_support;
mod tooling;

use std::time::Duration;

use serde_json::{Value, json};

use common::{StdioClient, assert_payload, payload, run};
use http_support::{HttpServer, Request};

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
    ] {
        let done = run([flag]);
        assert_eq!(done.code(), 2, "{flag}: {}", done.stderr);
        assert!(done.stderr.contains(needle), "{flag}: {}", done.stderr);
    }
}
