//! The stdio transport end to end: the real binary, real pipes, exact answers.

mod common;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use common::{
    StdioClient, TIMEOUT, assert_payload, assert_timestamp_now, assert_valid_response, payload,
    preview,
};
use serde_json::{Map, Value, json};

const VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
const LATEST: &str = "2025-11-25";

/// A client that has completed the handshake under the latest version.
fn ready(args: &[&str]) -> StdioClient {
    let mut c = StdioClient::start(args);
    c.handshake(LATEST);
    c
}

/// Sends `line` as-is (plus a newline) and returns the parsed reply.
fn exchange(c: &mut StdioClient, line: &str) -> Value {
    c.send_line(line);
    c.recv()
}

fn assert_error(error: &Value, code: i64) {
    assert_eq!(error["code"], code, "{error}");
    assert!(
        !error["message"].as_str().unwrap_or_default().is_empty(),
        "{error}"
    );
}

/// The `text` of a result whose content is exactly one text block.
fn single_text(result: &Value) -> String {
    let content = result["content"].as_array().expect("content array");
    assert_eq!(content.len(), 1, "one content block");
    assert_eq!(content[0]["type"], "text");
    content[0]["text"].as_str().expect("text").to_string()
}

/// Parses a tool result's text and checks everything but the arguments; returns them.
fn check_tool_text(text: &str, tool: &str, size: usize) -> Value {
    let v: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("tool text is not JSON ({e}): {}", preview(text)));
    let obj = v.as_object().expect("tool text is an object");
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(keys, ["arguments", "data", "timestamp", "tool"]);
    assert_eq!(obj["tool"], tool);
    assert_timestamp_now(obj["timestamp"].as_str().expect("timestamp string"));
    assert_payload(obj["data"].as_str().expect("data string"), tool, size);
    obj["arguments"].clone()
}

fn call(c: &mut StdioClient, tool: &str, arguments: Value) -> Value {
    c.result("tools/call", json!({"name": tool, "arguments": arguments}))
}

fn names(items: &Value, key: &str) -> Vec<String> {
    items
        .as_array()
        .expect("list array")
        .iter()
        .map(|i| i[key].as_str().expect("name").to_string())
        .collect()
}

fn expected_names(prefix: &str, range: std::ops::Range<u64>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

fn tool_definition(i: u64) -> Value {
    json!({
        "name": format!("benchmark_tool_{i}"),
        "description": format!("Benchmark tool #{i} - returns test data"),
        "inputSchema": {
            "type": "object",
            "properties": {
                "param1": {"type": "string", "description": "Optional parameter 1"},
                "param2": {"type": "string", "description": "Optional parameter 2"}
            }
        },
        "annotations": {
            "title": format!("Benchmark Tool {i}"),
            "readOnlyHint": true,
            "destructiveHint": false,
            "idempotentHint": true,
            "openWorldHint": false
        }
    })
}

fn resource_definition(i: u64) -> Value {
    json!({
        "uri": format!("benchmark://benchmark_resource_{i}"),
        "name": format!("benchmark_resource_{i}"),
        "title": format!("Benchmark Resource {i}"),
        "description": format!("Benchmark resource #{i} - returns test data"),
        "mimeType": "application/json"
    })
}

fn prompt_definition(i: u64) -> Value {
    json!({
        "name": format!("benchmark_prompt_{i}"),
        "description": format!("Benchmark prompt #{i} - returns test prompt"),
        "arguments": [
            {"name": "arg1", "description": "Optional argument 1"},
            {"name": "arg2", "description": "Optional argument 2"}
        ]
    })
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

#[test]
fn initialize_echoes_every_supported_version() {
    for version in VERSIONS {
        let mut c = StdioClient::start(["-log-level=none"]);
        let r = c.initialize(Some(version));
        assert_eq!(r["protocolVersion"], version);
        let caps = r["capabilities"].as_object().expect("capabilities object");
        for cap in ["tools", "resources", "prompts", "logging"] {
            assert!(caps[cap].is_object(), "{version}: {cap} in {caps:?}");
        }
        assert_eq!(
            caps.contains_key("completions"),
            version != "2024-11-05",
            "{version}: completions in {caps:?}"
        );
        if let Some(completions) = caps.get("completions") {
            assert!(completions.is_object());
        }
        assert_eq!(r["serverInfo"]["name"], "benchmark-server");
        assert_eq!(r["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
        c.ping();
    }
}

#[test]
fn initialize_with_an_unknown_version_offers_the_latest() {
    for version in ["1999-01-01", "2026-07-28", "", "2025-06-18 "] {
        let mut c = StdioClient::start(["-log-level=none"]);
        let r = c.initialize(Some(version));
        assert_eq!(r["protocolVersion"], LATEST, "asked for {version:?}");
        assert!(r["capabilities"]["completions"].is_object());
        assert_eq!(r["serverInfo"]["name"], "benchmark-server");
    }
}

#[test]
fn initialize_with_a_non_string_version_is_invalid_params() {
    let mut c = StdioClient::start(["-log-level=none"]);
    let e = c.error("initialize", json!({"protocolVersion": 20250618}));
    assert_error(&e, -32602);
    c.ping();
}

#[test]
fn notifications_get_no_response() {
    let mut c = StdioClient::start(["-log-level=none"]);
    c.initialize(Some(LATEST));
    c.notify("notifications/initialized", None);
    c.ping();
    c.notify("notifications/cancelled", Some(json!({"requestId": 99})));
    c.ping();
    c.notify("notifications/made_up", Some(json!({"x": 1})));
    c.ping();
    // A response sent to the server (it never sent a request) is not answered either.
    c.send_line(r#"{"jsonrpc":"2.0","id":12345,"result":{}}"#);
    c.send_line(r#"{"jsonrpc":"2.0","id":12346,"error":{"code":1,"message":"x"}}"#);
    c.ping();
    c.close_stdin();
    assert!(c.recv_to_eof().is_empty());
    assert_eq!(c.wait_exit(TIMEOUT).code(), Some(0));
}

#[test]
fn ping_answers_an_empty_object_with_the_id_echoed() {
    let mut c = ready(&["-log-level=none"]);
    c.ping();
    for id in [
        r#""""#,
        r#""a\"b\\c\n</script>☃""#,
        "0",
        "-7",
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551615",
    ] {
        let reply = exchange(
            &mut c,
            &format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#),
        );
        let expected: Value =
            serde_json::from_str(&format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#))
                .unwrap();
        assert_eq!(reply, expected, "id {id}");
    }
    // params: null and an empty params object are both fine.
    let reply = exchange(
        &mut c,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":null}"#,
    );
    assert_eq!(reply, json!({"jsonrpc":"2.0","id":1,"result":{}}));
    let reply = exchange(
        &mut c,
        r#"{"jsonrpc":"2.0","id":2,"method":"ping","params":{}}"#,
    );
    assert_eq!(reply, json!({"jsonrpc":"2.0","id":2,"result":{}}));
}

#[test]
fn unknown_methods_are_method_not_found() {
    let mut c = ready(&["-log-level=none"]);
    for method in [
        "nope",
        "Tools/List",
        "tools/list/",
        "notifications/initialized",
    ] {
        let e = c.error(method, Value::Null);
        assert_error(&e, -32601);
        assert!(
            e["message"].as_str().unwrap().contains(method),
            "the message names {method}: {e}"
        );
    }
    c.ping();
}

// ---------------------------------------------------------------------------------------------
// Listing

#[test]
fn tools_list_returns_every_tool_in_numeric_order_with_exact_definitions() {
    let mut c = ready(&["-tools=12", "-log-level=none"]);
    let r = c.result("tools/list", json!({}));
    let obj = r.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["tools"], "no nextCursor");
    let tools = r["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 12);
    for (i, tool) in tools.iter().enumerate() {
        assert_eq!(tool, &tool_definition(i as u64));
    }
    // No params at all is the same request.
    assert_eq!(c.result("tools/list", Value::Null), r);
}

#[test]
fn resources_and_prompts_lists_are_complete_and_exact() {
    let mut c = ready(&["-resources=11", "-prompts=13", "-log-level=none"]);
    let r = c.result("resources/list", json!({}));
    assert!(r.get("nextCursor").is_none());
    let resources = r["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 11);
    for (i, res) in resources.iter().enumerate() {
        assert_eq!(res, &resource_definition(i as u64));
    }
    let r = c.result("prompts/list", json!({}));
    assert!(r.get("nextCursor").is_none());
    let prompts = r["prompts"].as_array().unwrap();
    assert_eq!(prompts.len(), 13);
    for (i, p) in prompts.iter().enumerate() {
        assert_eq!(p, &prompt_definition(i as u64));
    }
}

#[test]
fn empty_catalogs_list_nothing() {
    let mut c = ready(&["-tools=0", "-resources=0", "-prompts=0", "-log-level=none"]);
    assert_eq!(c.result("tools/list", json!({})), json!({"tools": []}));
    assert_eq!(
        c.result("resources/list", json!({})),
        json!({"resources": []})
    );
    assert_eq!(c.result("prompts/list", json!({})), json!({"prompts": []}));
    assert_eq!(
        c.result("resources/templates/list", json!({})),
        json!({"resourceTemplates": []})
    );
    assert_error(
        &c.error("tools/call", json!({"name": "benchmark_tool_0"})),
        -32602,
    );
}

/// Follows `nextCursor` from the first page to the last; returns each page's names.
fn all_pages(c: &mut StdioClient, method: &str, key: &str, name: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let params = match &cursor {
            None => json!({}),
            Some(cur) => json!({"cursor": cur}),
        };
        let r = c.result(method, params);
        pages.push(names(&r[key], name));
        match r.get("nextCursor") {
            None => return pages,
            Some(next) => {
                let next = next.as_str().expect("nextCursor is a string").to_string();
                assert!(!next.is_empty());
                cursor = Some(next);
            }
        }
        assert!(pages.len() < 100, "pagination does not end");
    }
}

#[test]
fn page_size_paginates_every_list_to_the_end() {
    let mut c = ready(&[
        "-page-size=5",
        "-tools=12",
        "-resources=7",
        "-prompts=5",
        "-log-level=none",
    ]);
    let pages = all_pages(&mut c, "tools/list", "tools", "name");
    assert_eq!(
        pages,
        [
            expected_names("benchmark_tool_", 0..5),
            expected_names("benchmark_tool_", 5..10),
            expected_names("benchmark_tool_", 10..12),
        ]
    );
    let pages = all_pages(&mut c, "resources/list", "resources", "name");
    assert_eq!(
        pages,
        [
            expected_names("benchmark_resource_", 0..5),
            expected_names("benchmark_resource_", 5..7),
        ]
    );
    // Exactly one full page: no nextCursor at all.
    let pages = all_pages(&mut c, "prompts/list", "prompts", "name");
    assert_eq!(pages, [expected_names("benchmark_prompt_", 0..5)]);

    // Pages carry the full definitions.
    let r = c.result("tools/list", json!({}));
    let tools = r["tools"].as_array().unwrap();
    for (i, t) in tools.iter().enumerate() {
        assert_eq!(t, &tool_definition(i as u64));
    }
    // The same cursor gives the same page again (cursors are stable).
    let next = r["nextCursor"].as_str().unwrap().to_string();
    let a = c.result("tools/list", json!({"cursor": next}));
    let b = c.result("tools/list", json!({"cursor": next}));
    assert_eq!(a, b);
}

#[test]
fn invalid_cursors_are_invalid_params() {
    let mut c = ready(&[
        "-page-size=5",
        "-tools=12",
        "-prompts=12",
        "-log-level=none",
    ]);
    let prompt_cursor = c.result("prompts/list", json!({}))["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let bad = [
        json!("!!!"),
        json!("not base64 at all"),
        json!("YmVuY2htYXJrX3Rvb2xfMA"),   // unpadded
        json!(prompt_cursor),              // issued for another list
        json!("YmVuY2htYXJrX3Rvb2xfMTI="), // benchmark_tool_12: past the end
        json!(5),
    ];
    for cursor in bad {
        let e = c.error("tools/list", json!({"cursor": cursor}));
        assert_error(&e, -32602);
    }
    c.ping();
}

#[test]
fn a_go_style_cursor_continues_after_the_named_item() {
    // base64("benchmark_tool_0"): the Go server's cursor format, honoured without -page-size.
    let mut c = ready(&["-tools=4", "-log-level=none"]);
    let r = c.result("tools/list", json!({"cursor": "YmVuY2htYXJrX3Rvb2xfMA=="}));
    assert_eq!(
        names(&r["tools"], "name"),
        expected_names("benchmark_tool_", 1..4)
    );
    assert!(r.get("nextCursor").is_none());
}

// ---------------------------------------------------------------------------------------------
// tools/call

#[test]
fn tool_payloads_have_exact_sizes() {
    // 32 = len("Response from benchmark_tool_0. "); 56 = one filler later.
    for size in [0usize, 1, 23, 24, 25, 31, 32, 33, 55, 56, 57, 5000] {
        let arg = format!("-tool-size={size}");
        let mut c = ready(&[arg.as_str(), "-tools=12", "-log-level=none"]);
        for tool in ["benchmark_tool_0", "benchmark_tool_11"] {
            let r = call(&mut c, tool, json!({}));
            let args = check_tool_text(&single_text(&r), tool, size);
            assert_eq!(args, json!({}));
        }
    }
}

#[test]
fn a_ten_megabyte_tool_payload_is_exact() {
    let size = 10 * 1024 * 1024;
    let arg = format!("-tool-size={size}");
    let mut c = ready(&[arg.as_str(), "-log-level=none"]);
    let r = call(&mut c, "benchmark_tool_7", json!({"param1": "x"}));
    let args = check_tool_text(&single_text(&r), "benchmark_tool_7", size);
    assert_eq!(args, json!({"param1": "x"}));
    // The stream is still in step after a multi-chunk response.
    c.ping();
}

#[test]
fn tool_result_has_exactly_one_text_block_and_nothing_else() {
    let mut c = ready(&["-tool-size=40", "-log-level=none"]);
    let r = call(&mut c, "benchmark_tool_0", json!({"param1": "a"}));
    assert_eq!(
        r.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["content"]
    );
    let text = single_text(&r);
    assert_eq!(
        &text[..text.find("\"timestamp\"").unwrap()],
        r#"{"arguments":{"param1":"a"},"data":"Response from benchmark_tool_0. This is ","#
    );
    assert!(text.ends_with(r#"","tool":"benchmark_tool_0"}"#), "{text}");
}

/// Calls benchmark_tool_0 with `raw_args` spliced verbatim into the request and asserts the
/// tool text starts with exactly those bytes.
fn assert_arguments_echoed(c: &mut StdioClient, raw_args: &str) {
    let id = c.fresh_id();
    let line = format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"benchmark_tool_0","arguments":{raw_args}}}}}"#
    );
    let reply = exchange(c, &line);
    assert_valid_response(&reply);
    assert_eq!(reply["id"], id);
    let text = single_text(&reply["result"]);
    let expected_start = format!(r#"{{"arguments":{raw_args},"data":""#);
    assert!(
        text.starts_with(&expected_start),
        "arguments not echoed byte for byte\n sent: {raw_args}\n  got: {}",
        preview(&text)
    );
    let echoed = check_tool_text(&text, "benchmark_tool_0", 64);
    let sent: Value = serde_json::from_str(raw_args).unwrap();
    assert_eq!(echoed, sent);
}

#[test]
fn tool_arguments_are_echoed_byte_for_byte() {
    let mut c = ready(&["-tool-size=64", "-log-level=none"]);
    for raw in [
        r#"{}"#,
        r#"{"param1":"value1","param2":"value2"}"#,
        r#"{"q":"he said \"hi\"","b":"back\\slash\\","n":"line1\nline2\r\n\ttab"}"#,
        r#"{"u":"héllo ☃ 😀 ünïcödé","e":"\u00e9\ud83d\ude00\u0000\u001f\u2028"}"#,
        r#"{"s":"</script><script>alert(1)</script>","h":"<a&b>"}"#,
        r#"{"big":12345678901234567890,"f":1.5e3,"neg":-0.0,"e":1E-7,"i":-9223372036854775808}"#,
        r#"{"max":18446744073709551615,"pi":3.14159265358979323846264338327950288,"z":0e0}"#,
        r#"{ "spaced" : [ 1 , 2 , { "x" : null } ] , "t" : true , "f" : false }"#,
        r#"{"nested":{"arguments":{"arguments":"x"}},"params":{"name":"fake"}}"#,
        r#"{"name":"benchmark_tool_99","id":"x","jsonrpc":"1.0"}"#,
        r#"{"empty":"","arr":[],"obj":{}}"#,
    ] {
        assert_arguments_echoed(&mut c, raw);
    }
    // Deep but legal nesting.
    let deep = format!(r#"{{"d":{}1{}}}"#, "[".repeat(50), "]".repeat(50));
    assert_arguments_echoed(&mut c, &deep);
}

#[test]
fn the_echoed_arguments_are_the_real_ones_not_a_decoy() {
    let mut c = ready(&["-tool-size=10", "-log-level=none"]);
    // Decoy "arguments" members outside params and inside strings; params before method.
    let line = r#"{"arguments":{"decoy":1},"params":{"x":"\"arguments\":{\"decoy\":2}","meta":{"arguments":{"decoy":3}},"arguments":{"real":true},"name":"benchmark_tool_0"},"id":1,"jsonrpc":"2.0","method":"tools/call"}"#;
    let reply = exchange(&mut c, line);
    let text = single_text(&reply["result"]);
    assert!(
        text.starts_with(r#"{"arguments":{"real":true},"data":"#),
        "{text}"
    );
    assert_eq!(
        check_tool_text(&text, "benchmark_tool_0", 10),
        json!({"real": true})
    );
}

#[test]
fn escaped_member_names_are_understood() {
    let mut c = ready(&["-tool-size=3", "-log-level=none"]);
    let line = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","para\u006ds":{"n\u0061me":"benchmark_tool_\u0032","argu\u006dents":{"a":"\u0041"}}}"#;
    let reply = exchange(&mut c, line);
    let text = single_text(&reply["result"]);
    assert!(
        text.starts_with(r#"{"arguments":{"a":"\u0041"},"#),
        "{text}"
    );
    assert_eq!(
        check_tool_text(&text, "benchmark_tool_2", 3),
        json!({"a": "A"})
    );
}

#[test]
fn tool_arguments_absent_or_null_are_echoed_as_null() {
    let mut c = ready(&["-tool-size=5", "-log-level=none"]);
    let r = c.result("tools/call", json!({"name": "benchmark_tool_1"}));
    assert_eq!(
        check_tool_text(&single_text(&r), "benchmark_tool_1", 5),
        Value::Null
    );
    let r = c.result(
        "tools/call",
        json!({"name": "benchmark_tool_1", "arguments": null}),
    );
    assert_eq!(
        check_tool_text(&single_text(&r), "benchmark_tool_1", 5),
        Value::Null
    );
}

#[test]
fn calling_an_unknown_tool_is_invalid_params() {
    let mut c = ready(&["-tools=3", "-log-level=none"]);
    for name in [
        "nope",
        "benchmark_tool_3",
        "benchmark_tool_01",
        "benchmark_tool_-1",
        "benchmark_tool_",
        "BENCHMARK_TOOL_0",
        "benchmark_prompt_0",
        "benchmark_tool_99999999999999999999999",
        "x\"y\\z\n</script>",
    ] {
        let e = c.error("tools/call", json!({"name": name, "arguments": {}}));
        assert_error(&e, -32602);
        assert!(
            e["message"].as_str().unwrap().contains(name),
            "message names the tool {name:?}: {e}"
        );
    }
    for params in [json!({}), json!({"name": 5}), Value::Null] {
        let e = c.error("tools/call", params);
        assert_error(&e, -32602);
    }
    c.ping();
}

// ---------------------------------------------------------------------------------------------
// Resources

#[test]
fn resources_read_returns_the_exact_payload() {
    let mut c = ready(&["-resources=20", "-resource-size=77", "-log-level=none"]);
    for i in [0u64, 5, 19] {
        let uri = format!("benchmark://benchmark_resource_{i}");
        let r = c.result("resources/read", json!({"uri": uri}));
        let contents = r["contents"].as_array().unwrap();
        assert_eq!(contents.len(), 1);
        let content = contents[0].as_object().unwrap();
        assert_eq!(
            content.keys().collect::<Vec<_>>(),
            ["mimeType", "text", "uri"]
        );
        assert_eq!(content["uri"], uri.as_str());
        assert_eq!(content["mimeType"], "application/json");
        let text: Value = serde_json::from_str(content["text"].as_str().unwrap()).unwrap();
        let text = text.as_object().unwrap();
        assert_eq!(
            text.keys().collect::<Vec<_>>(),
            ["data", "resource", "timestamp"]
        );
        let name = format!("benchmark_resource_{i}");
        assert_eq!(text["resource"], name.as_str());
        assert_payload(text["data"].as_str().unwrap(), &name, 77);
        assert_timestamp_now(text["timestamp"].as_str().unwrap());
    }
}

#[test]
fn reading_an_unknown_resource_is_resource_not_found_with_the_uri() {
    let mut c = ready(&["-resources=3", "-log-level=none"]);
    for uri in [
        "benchmark://nope",
        "benchmark://benchmark_resource_3",
        "benchmark://benchmark_resource_01",
        "benchmark_resource_0",
        "benchmark://benchmark_resource_{index}",
        "",
        "x\"y\\z\n</script>☃",
    ] {
        let e = c.error("resources/read", json!({"uri": uri}));
        assert_error(&e, -32002);
        assert_eq!(e["data"], json!({"uri": uri}), "{e}");
    }
    assert_error(&c.error("resources/read", json!({})), -32602);
    assert_error(&c.error("resources/read", json!({"uri": 1})), -32602);
    c.ping();
}

#[test]
fn resource_templates_list_the_index_template() {
    let mut c = ready(&["-resources=100", "-log-level=none"]);
    let r = c.result("resources/templates/list", json!({}));
    assert_eq!(
        r,
        json!({"resourceTemplates": [{
            "uriTemplate": "benchmark://benchmark_resource_{index}",
            "name": "benchmark_resource_by_index",
            "title": "Benchmark resource by index",
            "description": "Benchmark resource with the given index, 0 to 99",
            "mimeType": "application/json"
        }]})
    );
}

#[test]
fn resources_subscribe_and_unsubscribe_acknowledge() {
    let mut c = ready(&["-log-level=none"]);
    let uri = json!({"uri": "benchmark://benchmark_resource_0"});
    assert_eq!(c.result("resources/subscribe", uri.clone()), json!({}));
    assert_eq!(c.result("resources/unsubscribe", uri), json!({}));
    assert_error(&c.error("resources/subscribe", json!({})), -32602);
}

// ---------------------------------------------------------------------------------------------
// Prompts

/// Splits a prompt text into (timestamp, rest after the timestamp's blank line).
fn split_prompt_text<'a>(text: &'a str, name: &str) -> (&'a str, &'a str) {
    let head = format!("Prompt: {name}\n\nTimestamp: ");
    let rest = text
        .strip_prefix(&head)
        .unwrap_or_else(|| panic!("prompt text starts with {head:?}: {}", preview(text)));
    let (ts, rest) = rest.split_at(20);
    assert_timestamp_now(ts);
    let rest = rest
        .strip_prefix("\n\n")
        .expect("a blank line after the timestamp");
    (ts, rest)
}

fn prompt_text(result: &Value, name: &str) -> String {
    let obj = result.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["description", "messages"]);
    assert_eq!(result["description"], format!("Benchmark prompt {name}"));
    let messages = result["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["content"]["type"], "text");
    messages[0]["content"]["text"].as_str().unwrap().to_string()
}

#[test]
fn prompts_get_lists_arguments_in_the_order_sent() {
    let mut c = ready(&["-prompt-size=90", "-prompts=12", "-log-level=none"]);
    let name = "benchmark_prompt_11";
    // Key order on the wire is what counts, so the request is written by hand.
    let line = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{{"name":"{name}","arguments":{{"z":"1","a":"two","m":"x\"y\\z","arg1":"é ☃","k":""}}}}}}"#
    );
    let reply = exchange(&mut c, &line);
    assert_valid_response(&reply);
    let text = prompt_text(&reply["result"], name);
    let (_, rest) = split_prompt_text(&text, name);
    let expected = format!(
        "Arguments:\n  - z: 1\n  - a: two\n  - m: x\"y\\z\n  - arg1: é ☃\n  - k: \n\n{}",
        payload(name, 90)
    );
    assert_eq!(rest, expected);
}

#[test]
fn prompts_get_without_arguments_has_no_arguments_block() {
    let mut c = ready(&["-prompt-size=50", "-log-level=none"]);
    let name = "benchmark_prompt_0";
    for params in [
        json!({"name": name}),
        json!({"name": name, "arguments": {}}),
        json!({"name": name, "arguments": null}),
    ] {
        let r = c.result("prompts/get", params.clone());
        let text = prompt_text(&r, name);
        let (_, rest) = split_prompt_text(&text, name);
        assert_eq!(rest, payload(name, 50), "{params}");
    }
}

#[test]
fn prompt_payloads_have_exact_sizes() {
    for size in [0usize, 1, 34, 35, 1000, 100_000] {
        let arg = format!("-prompt-size={size}");
        let mut c = ready(&[arg.as_str(), "-log-level=none"]);
        let name = "benchmark_prompt_3";
        let r = c.result(
            "prompts/get",
            json!({"name": name, "arguments": {"arg1": "v"}}),
        );
        let text = prompt_text(&r, name);
        let (_, rest) = split_prompt_text(&text, name);
        let rest = rest
            .strip_prefix("Arguments:\n  - arg1: v\n\n")
            .expect("arguments block");
        assert_payload(rest, name, size);
    }
}

#[test]
fn prompts_get_rejects_non_string_arguments_and_unknown_prompts() {
    let mut c = ready(&["-prompts=3", "-log-level=none"]);
    for value in [
        json!(1),
        json!(true),
        json!(null),
        json!(["a"]),
        json!({"a": "b"}),
    ] {
        let e = c.error(
            "prompts/get",
            json!({"name": "benchmark_prompt_0", "arguments": {"ok": "s", "bad": value}}),
        );
        assert_error(&e, -32602);
        assert!(e["message"].as_str().unwrap().contains("bad"), "{e}");
    }
    assert_error(
        &c.error(
            "prompts/get",
            json!({"name": "benchmark_prompt_0", "arguments": "s"}),
        ),
        -32602,
    );
    for name in ["benchmark_prompt_3", "nope", "benchmark_tool_0"] {
        let e = c.error("prompts/get", json!({"name": name}));
        assert_error(&e, -32602);
    }
    assert_error(&c.error("prompts/get", json!({})), -32602);
    c.ping();
}

// ---------------------------------------------------------------------------------------------
// Completion and logging

fn complete(c: &mut StdioClient, value: &str) -> Value {
    c.result(
        "completion/complete",
        json!({
            "ref": {"type": "ref/resource", "uri": "benchmark://benchmark_resource_{index}"},
            "argument": {"name": "index", "value": value}
        }),
    )
}

fn completion(values: &[u64], total: u64, has_more: bool) -> Value {
    let values: Vec<String> = values.iter().map(u64::to_string).collect();
    json!({"completion": {"values": values, "total": total, "hasMore": has_more}})
}

#[test]
fn completion_of_the_resource_template_index_by_prefix() {
    let mut c = ready(&["-resources=100", "-log-level=none"]);
    let one: Vec<u64> = std::iter::once(1).chain(10..20).collect();
    assert_eq!(complete(&mut c, "1"), completion(&one, 11, false));
    assert_eq!(complete(&mut c, "42"), completion(&[42], 1, false));
    assert_eq!(complete(&mut c, "0"), completion(&[0], 1, false));
    assert_eq!(complete(&mut c, "100"), completion(&[], 0, false));
    assert_eq!(complete(&mut c, "01"), completion(&[], 0, false));
    assert_eq!(complete(&mut c, "x"), completion(&[], 0, false));
    let all: Vec<u64> = (0..100).collect();
    assert_eq!(complete(&mut c, ""), completion(&all, 100, false));

    let mut c = ready(&["-resources=1000", "-log-level=none"]);
    assert_eq!(complete(&mut c, ""), completion(&all, 1000, true));
    let nn: Vec<u64> = std::iter::once(99).chain(990..1000).collect();
    assert_eq!(complete(&mut c, "99"), completion(&nn, 11, false));
    let r = complete(&mut c, "1");
    // 1, 10-19, 100-199: 111 in all, at most 100 returned.
    let first: Vec<u64> = std::iter::once(1).chain(10..20).chain(100..189).collect();
    assert_eq!(r, completion(&first, 111, true));
}

#[test]
fn completion_of_a_prompt_argument_and_bad_references() {
    let mut c = ready(&["-log-level=none"]);
    let r = c.result(
        "completion/complete",
        json!({
            "ref": {"type": "ref/prompt", "name": "benchmark_prompt_0"},
            "argument": {"name": "arg1", "value": "a"}
        }),
    );
    assert_eq!(r, completion(&[], 0, false));
    for params in [
        json!({"ref": {"type": "ref/prompt", "name": "nope"}, "argument": {"name": "a", "value": ""}}),
        json!({"ref": {"type": "ref/resource", "uri": "x://y"}, "argument": {"name": "a", "value": ""}}),
        json!({"ref": {"type": "ref/unknown"}, "argument": {"name": "a", "value": ""}}),
        json!({"ref": {"type": "ref/prompt", "name": "benchmark_prompt_0"}}),
        json!({"argument": {"name": "a", "value": ""}}),
    ] {
        assert_error(&c.error("completion/complete", params), -32602);
    }
}

#[test]
fn logging_set_level_accepts_the_rfc_5424_levels_only() {
    let mut c = ready(&["-log-level=none"]);
    for level in [
        "debug",
        "info",
        "notice",
        "warning",
        "error",
        "critical",
        "alert",
        "emergency",
    ] {
        assert_eq!(
            c.result("logging/setLevel", json!({"level": level})),
            json!({})
        );
    }
    for params in [
        json!({"level": "loud"}),
        json!({"level": "DEBUG"}),
        json!({"level": "warn"}),
        json!({"level": 3}),
        json!({}),
    ] {
        assert_error(&c.error("logging/setLevel", params), -32602);
    }
    // Setting a level does not make the server chatty on stdout.
    c.ping();
}

// ---------------------------------------------------------------------------------------------
// Batches

const BATCH: &str = r#"[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","id":"b","method":"tools/call","params":{"name":"benchmark_tool_0","arguments":{"k":1.50}}}]"#;

fn assert_batch_rejected(c: &mut StdioClient) {
    let reply = exchange(c, BATCH);
    assert_valid_response(&reply);
    assert_eq!(reply["id"], Value::Null, "{reply}");
    assert_eq!(reply["error"]["code"], -32600, "{reply}");
    c.ping();
}

#[test]
fn batches_are_rejected_before_initialize() {
    let mut c = StdioClient::start(["-log-level=none"]);
    assert_batch_rejected(&mut c);
}

#[test]
fn batches_are_rejected_outside_2025_03_26() {
    for version in ["2024-11-05", "2025-06-18", "2025-11-25"] {
        let mut c = StdioClient::start(["-log-level=none"]);
        c.handshake(version);
        assert_batch_rejected(&mut c);
    }
}

#[test]
fn batches_are_answered_under_2025_03_26() {
    let mut c = StdioClient::start(["-tool-size=30", "-log-level=none"]);
    c.handshake("2025-03-26");
    let reply = exchange(
        &mut c,
        r#"[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"zz"}},{"jsonrpc":"2.0","id":"b","method":"tools/call","params":{"name":"benchmark_tool_0","arguments":{"k":1.50}}},{"jsonrpc":"2.0","id":"c","method":"nope"},{"jsonrpc":"2.0","id":"d","result":{}}]"#,
    );
    let replies = reply.as_array().expect("a batch gets an array");
    assert_eq!(replies.len(), 3, "notifications and responses get nothing");
    for r in replies {
        assert_valid_response(r);
    }
    assert_eq!(replies[0], json!({"jsonrpc":"2.0","id":"a","result":{}}));
    assert_eq!(replies[1]["id"], "b");
    let text = single_text(&replies[1]["result"]);
    assert!(text.starts_with(r#"{"arguments":{"k":1.50},"#), "{text}");
    check_tool_text(&text, "benchmark_tool_0", 30);
    assert_eq!(replies[2]["id"], "c");
    assert_eq!(replies[2]["error"]["code"], -32601);

    // A batch of notifications only: no reply at all.
    c.send_line(
        r#"[{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","method":"x"}]"#,
    );
    c.ping();

    // initialize may not be part of a batch; the other members are still answered.
    let reply = exchange(
        &mut c,
        r#"[{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"protocolVersion":"2025-03-26"}},{"jsonrpc":"2.0","id":8,"method":"ping"}]"#,
    );
    let replies = reply.as_array().unwrap();
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0]["id"], 7);
    assert_eq!(replies[0]["error"]["code"], -32600);
    assert_eq!(replies[1], json!({"jsonrpc":"2.0","id":8,"result":{}}));

    // Invalid members get their own errors.
    let reply = exchange(&mut c, r#"[1,{"jsonrpc":"1.0","id":9,"method":"ping"}]"#);
    let replies = reply.as_array().unwrap();
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0]["id"], Value::Null);
    assert_eq!(replies[0]["error"]["code"], -32600);
    assert_eq!(replies[1]["id"], 9);
    assert_eq!(replies[1]["error"]["code"], -32600);

    // An empty batch is a single invalid request.
    let reply = exchange(&mut c, "[]");
    assert_eq!(reply["id"], Value::Null);
    assert_eq!(reply["error"]["code"], -32600);
    c.ping();
}

#[test]
fn batch_members_with_large_responses_are_complete() {
    let mut c = StdioClient::start(["-tools=2000", "-tool-size=200000", "-log-level=none"]);
    c.handshake("2025-03-26");
    let reply = exchange(
        &mut c,
        r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"benchmark_tool_0"}},{"jsonrpc":"2.0","id":2,"method":"tools/list"},{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"benchmark_tool_1999"}}]"#,
    );
    let replies = reply.as_array().unwrap();
    assert_eq!(replies.len(), 3);
    let ids: Vec<&Value> = replies.iter().map(|r| &r["id"]).collect();
    assert_eq!(ids, [&json!(1), &json!(2), &json!(3)]);
    check_tool_text(
        &single_text(&replies[0]["result"]),
        "benchmark_tool_0",
        200_000,
    );
    assert_eq!(
        names(&replies[1]["result"]["tools"], "name"),
        expected_names("benchmark_tool_", 0..2000)
    );
    check_tool_text(
        &single_text(&replies[2]["result"]),
        "benchmark_tool_1999",
        200_000,
    );
    c.ping();
}

// ---------------------------------------------------------------------------------------------
// Malformed input and framing

#[test]
fn malformed_lines_get_an_error_and_the_pipe_keeps_working() {
    let deep_array = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_params = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"a":{}1{}}}}}"#,
        r#"{"a":"#.repeat(10_000),
        "}".repeat(10_000)
    );
    // (line, expected code, expected id)
    let cases: Vec<(Vec<u8>, i64, Value)> = vec![
        (b"{bad".to_vec(), -32700, Value::Null),
        (b"[".to_vec(), -32700, Value::Null),
        (b"{".to_vec(), -32700, Value::Null),
        (b"}".to_vec(), -32700, Value::Null),
        (b"nul".to_vec(), -32700, Value::Null),
        (
            br#"{"jsonrpc":"2.0","id":1,"method":"ping"} x"#.to_vec(),
            -32700,
            Value::Null,
        ),
        (
            br#"{"jsonrpc":"2.0","id":1,"method":"ping",}"#.to_vec(),
            -32700,
            Value::Null,
        ),
        (b"42".to_vec(), -32600, Value::Null),
        (b"\"ping\"".to_vec(), -32600, Value::Null),
        (b"null".to_vec(), -32600, Value::Null),
        (b"true".to_vec(), -32600, Value::Null),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":\"\xff\xfe\"}".to_vec(),
            -32700,
            Value::Null,
        ),
        (b"\xc3\x28".to_vec(), -32700, Value::Null),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":\"a\x01\tb\"}".to_vec(),
            -32700,
            Value::Null,
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\x00\"method\":\"ping\"}".to_vec(),
            -32700,
            Value::Null,
        ),
        (
            br#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#.to_vec(),
            -32600,
            json!(7),
        ),
        (br#"{"id":8,"method":"ping"}"#.to_vec(), -32600, json!(8)),
        (
            br#"{"jsonrpc":2.0,"id":"s","method":"ping"}"#.to_vec(),
            -32600,
            json!("s"),
        ),
        (
            br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#.to_vec(),
            -32600,
            Value::Null,
        ),
        (
            br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#.to_vec(),
            -32600,
            Value::Null,
        ),
        (
            br#"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#.to_vec(),
            -32600,
            Value::Null,
        ),
        (
            br#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#.to_vec(),
            -32600,
            Value::Null,
        ),
        (
            br#"{"jsonrpc":"2.0","id":3,"method":5}"#.to_vec(),
            -32600,
            json!(3),
        ),
        (br#"{"jsonrpc":"2.0","id":4}"#.to_vec(), -32600, json!(4)),
        (
            br#"{"jsonrpc":"2.0","id":5,"method":"ping","params":"s"}"#.to_vec(),
            -32600,
            json!(5),
        ),
        (deep_array.into_bytes(), -32700, Value::Null),
        (deep_params.into_bytes(), -32700, Value::Null),
    ];
    let mut c = ready(&["-log-level=none"]);
    for (line, code, id) in cases {
        let mut bytes = line.clone();
        bytes.push(b'\n');
        c.send_raw(&bytes);
        let reply = c.recv();
        let shown = preview(&String::from_utf8_lossy(&line));
        assert_valid_response(&reply);
        assert_eq!(reply["error"]["code"], code, "for {shown}: {reply}");
        assert_eq!(reply["id"], id, "for {shown}: {reply}");
        c.ping();
    }
}

#[test]
fn blank_lines_are_ignored_and_crlf_is_accepted() {
    let mut c = ready(&["-log-level=none"]);
    c.send_raw(b"\n\n   \n\t\n\r\n \t \r\n");
    c.ping();
    let reply = exchange(
        &mut c,
        "{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"ping\"}\r",
    );
    assert_eq!(reply, json!({"jsonrpc":"2.0","id":77,"result":{}}));
    let reply = exchange(
        &mut c,
        "  \t{\"jsonrpc\":\"2.0\",\"id\":78,\"method\":\"ping\"}  ",
    );
    assert_eq!(reply, json!({"jsonrpc":"2.0","id":78,"result":{}}));
    c.close_stdin();
    assert!(c.recv_to_eof().is_empty());
}

/// A ping request padded with spaces to exactly `len` bytes (without the newline).
fn ping_of_len(id: u64, len: usize) -> String {
    let base = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
    assert!(len >= base.len());
    let mut s = base[..base.len() - 1].to_string();
    s.push_str(&" ".repeat(len - base.len()));
    s.push('}');
    assert_eq!(s.len(), len);
    s
}

fn assert_too_large(c: &mut StdioClient) {
    let reply = c.recv();
    assert_valid_response(&reply);
    assert_eq!(reply["id"], Value::Null, "{reply}");
    assert_eq!(reply["error"]["code"], -32600, "{reply}");
}

#[test]
fn lines_longer_than_max_request_bytes_are_rejected_and_the_next_one_works() {
    let mut c = ready(&["-max-request-bytes=2048", "-log-level=none"]);
    // 100 KB: far beyond the limit and beyond the server's read buffer.
    c.send_line(&ping_of_len(1, 100 * 1024));
    assert_too_large(&mut c);
    c.ping();
    // The limit is inclusive.
    let reply = exchange(&mut c, &ping_of_len(2, 2048));
    assert_eq!(reply, json!({"jsonrpc":"2.0","id":2,"result":{}}));
    c.send_line(&ping_of_len(3, 2049));
    assert_too_large(&mut c);
    c.ping();
    // A too-long line followed in the same write by a good one.
    let mut bytes = ping_of_len(4, 5000).into_bytes();
    bytes.push(b'\n');
    bytes.extend_from_slice(ping_of_len(5, 100).as_bytes());
    bytes.push(b'\n');
    c.send_raw(&bytes);
    assert_too_large(&mut c);
    assert_eq!(c.recv(), json!({"jsonrpc":"2.0","id":5,"result":{}}));
}

#[test]
fn the_request_limit_holds_across_read_buffer_boundaries() {
    let mut c = ready(&["-max-request-bytes=200000", "-log-level=none"]);
    let reply = exchange(&mut c, &ping_of_len(1, 200_000));
    assert_eq!(reply, json!({"jsonrpc":"2.0","id":1,"result":{}}));
    c.send_line(&ping_of_len(2, 200_001));
    assert_too_large(&mut c);
    c.ping();
}

#[test]
fn the_default_request_limit_is_4_mib() {
    let mut c = ready(&["-log-level=none"]);
    let reply = exchange(&mut c, &ping_of_len(1, 4 * 1024 * 1024));
    assert_eq!(reply, json!({"jsonrpc":"2.0","id":1,"result":{}}));
    c.send_line(&ping_of_len(2, 4 * 1024 * 1024 + 1));
    assert_too_large(&mut c);
    c.ping();
}

#[test]
fn an_unterminated_final_line_is_answered_at_eof() {
    let mut c = ready(&["-log-level=none"]);
    c.send_raw(br#"{"jsonrpc":"2.0","id":"last","method":"ping"}"#);
    c.close_stdin();
    let lines = c.recv_to_eof();
    assert_eq!(lines, [r#"{"jsonrpc":"2.0","id":"last","result":{}}"#]);
    assert_eq!(c.wait_exit(TIMEOUT).code(), Some(0));
}

#[test]
fn an_oversized_unterminated_final_line_is_rejected_at_eof() {
    let mut c = ready(&["-max-request-bytes=1024", "-log-level=none"]);
    c.send_raw(ping_of_len(1, 3000).as_bytes());
    c.close_stdin();
    let lines = c.recv_to_eof();
    assert_eq!(lines.len(), 1);
    let reply: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(reply["error"]["code"], -32600);
    assert_eq!(c.wait_exit(TIMEOUT).code(), Some(0));
}

#[test]
fn stdin_eof_flushes_every_response_and_exits_zero() {
    let mut c = StdioClient::start(["-tool-size=100000", "-log-level=none"]);
    let mut input = String::new();
    input.push_str(
        r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
    );
    input.push('\n');
    for i in 1..=200 {
        let line = if i % 2 == 0 {
            format!(
                r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"benchmark_tool_{}","arguments":{{}}}}}}"#,
                i % 100
            )
        } else {
            format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"ping"}}"#)
        };
        input.push_str(&line);
        input.push('\n');
    }
    let mut stdin = c.take_stdin();
    let writer = thread::spawn(move || {
        stdin.write_all(input.as_bytes()).unwrap();
        // Dropping stdin here closes it right after the last request.
    });
    let start = Instant::now();
    let lines = c.recv_to_eof();
    writer.join().unwrap();
    assert_eq!(lines.len(), 201);
    for (i, line) in lines.iter().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_valid_response(&v);
        assert_eq!(v["id"], i as u64);
        if i > 0 && i % 2 == 0 {
            let tool = format!("benchmark_tool_{}", i % 100);
            check_tool_text(&single_text(&v["result"]), &tool, 100_000);
        }
    }
    let status = c.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_closed_stdout_ends_the_session_normally() {
    let mut server = common::Server::spawn(["-tool-size=100000", "-log-level=none"]);
    drop(server.take_stdout());
    let mut stdin = server.take_stdin();
    let line = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"benchmark_tool_0\"}}\n";
    for _ in 0..100 {
        // Once the server has gone, writes fail: that is expected.
        if stdin.write_all(line).and_then(|()| stdin.flush()).is_err() {
            break;
        }
    }
    let status = server.wait_exit(TIMEOUT);
    drop(stdin);
    assert_eq!(status.code(), Some(0), "stderr:\n{}", server.stderr());
    assert_eq!(server.stderr(), "");
}

#[test]
fn ten_thousand_pipelined_calls_are_all_answered_in_order() {
    const N: u64 = 10_000;
    let mut c = ready(&["-tool-size=64", "-log-level=none"]);
    let mut stdin = c.take_stdin();
    let writer = thread::spawn(move || {
        let mut all = Vec::new();
        for i in 0..N {
            writeln!(
                all,
                r#"{{"jsonrpc":"2.0","id":{},"method":"tools/call","params":{{"name":"benchmark_tool_{}","arguments":{{"i":{i}}}}}}}"#,
                1000 + i,
                i % 100
            )
            .unwrap();
        }
        stdin.write_all(&all).unwrap();
        stdin.flush().unwrap();
        stdin // kept open until the reader is done
    });
    for i in 0..N {
        let reply = c.recv();
        assert_eq!(reply["id"], 1000 + i, "response {i} out of order");
        let text = single_text(&reply["result"]);
        let args = check_tool_text(&text, &format!("benchmark_tool_{}", i % 100), 64);
        assert_eq!(args, json!({"i": i}));
    }
    let stdin = writer.join().unwrap();
    drop(stdin);
    assert!(c.recv_to_eof().is_empty());
    assert_eq!(c.wait_exit(TIMEOUT).code(), Some(0));
}

#[test]
fn stdout_carries_only_json_rpc_lines() {
    let mut c = StdioClient::start(["-tools=5", "-tool-size=3000", "-log-level=debug"]);
    let mut input = String::new();
    for line in [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26"}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"benchmark_tool_4","arguments":{"s":"a\nb"}}}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"nope"}}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"benchmark://x"}}"#,
        r#"{"jsonrpc":"2.0","id":6,"method":"prompts/get","params":{"name":"benchmark_prompt_1","arguments":{"a":"\n\n"}}}"#,
        r#"[{"jsonrpc":"2.0","id":7,"method":"ping"},{"jsonrpc":"2.0","id":8,"method":"resources/list"}]"#,
        "{bad",
        r#"{"jsonrpc":"2.0","id":9,"method":"nope"}"#,
        r#"{"jsonrpc":"2.0","id":10,"method":"logging/setLevel","params":{"level":"debug"}}"#,
        r#"{"jsonrpc":"2.0","id":11,"method":"ping"}"#,
    ] {
        input.push_str(line);
        input.push('\n');
    }
    c.send_raw(input.as_bytes());
    c.close_stdin();
    let lines = c.recv_to_eof();
    assert_eq!(lines.len(), 11);
    for line in &lines {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", preview(line)));
        match v.as_array() {
            Some(batch) => batch.iter().for_each(assert_valid_response),
            None => assert_valid_response(&v),
        }
    }
    assert_eq!(c.wait_exit(TIMEOUT).code(), Some(0));
}

// ---------------------------------------------------------------------------------------------
// Scale

#[test]
fn ten_thousand_tools_with_five_kilobyte_payloads() {
    // The issue's acceptance check (US-1).
    let mut c = ready(&[
        "-tools=10000",
        "-tool-size=5000",
        "-resources=0",
        "-prompts=0",
        "-log-level=none",
    ]);
    let id = c.fresh_id();
    c.send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"}));
    let start = Instant::now();
    let line = c.try_recv_raw(TIMEOUT).expect("the tools/list response");
    // The issue asks for 100 ms; a generous bound still catches a quadratic listing.
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let response: Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(response["id"], id);
    let r = &response["result"];
    assert!(r.get("nextCursor").is_none());
    let tools = r["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 10_000);
    for (i, tool) in tools.iter().enumerate() {
        assert_eq!(tool, &tool_definition(i as u64));
    }
    for tool in ["benchmark_tool_0", "benchmark_tool_9999"] {
        let r = call(
            &mut c,
            tool,
            json!({"param1": "value1", "param2": "value2"}),
        );
        let args = check_tool_text(&single_text(&r), tool, 5000);
        assert_eq!(args, json!({"param1": "value1", "param2": "value2"}));
    }
    assert_error(
        &c.error("tools/call", json!({"name": "benchmark_tool_10000"})),
        -32602,
    );
}

#[test]
fn a_million_of_each_costs_nothing_to_serve() {
    let start = Instant::now();
    let mut c = ready(&[
        "-tools=1000000",
        "-resources=1000000",
        "-prompts=1000000",
        "-payload-size=100",
        "-log-level=none",
    ]);
    let r = call(&mut c, "benchmark_tool_999999", json!({"x": 1}));
    check_tool_text(&single_text(&r), "benchmark_tool_999999", 100);
    let r = c.result(
        "resources/read",
        json!({"uri": "benchmark://benchmark_resource_999999"}),
    );
    let text: Value = serde_json::from_str(r["contents"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text["resource"], "benchmark_resource_999999");
    assert_payload(
        text["data"].as_str().unwrap(),
        "benchmark_resource_999999",
        100,
    );
    let r = c.result("prompts/get", json!({"name": "benchmark_prompt_999999"}));
    let text = prompt_text(&r, "benchmark_prompt_999999");
    let (_, rest) = split_prompt_text(&text, "benchmark_prompt_999999");
    assert_payload(rest, "benchmark_prompt_999999", 100);
    assert_error(
        &c.error("tools/call", json!({"name": "benchmark_tool_1000000"})),
        -32602,
    );
    assert_error(
        &c.error(
            "resources/read",
            json!({"uri": "benchmark://benchmark_resource_1000000"}),
        ),
        -32002,
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn large_pages_of_a_huge_catalog_continue_correctly() {
    let mut c = ready(&["-tools=1000000", "-page-size=1000", "-log-level=none"]);
    let first = c.result("tools/list", json!({}));
    assert_eq!(first["tools"].as_array().unwrap().len(), 1000);
    let cursor = first["nextCursor"].as_str().unwrap().to_string();
    let second = c.result("tools/list", json!({"cursor": cursor}));
    assert_eq!(
        names(&second["tools"], "name"),
        expected_names("benchmark_tool_", 1000..2000)
    );
    // Continue from near the end with a cursor naming item 999998.
    let near_end = base64(b"benchmark_tool_999998");
    let last = c.result("tools/list", json!({"cursor": near_end}));
    assert_eq!(names(&last["tools"], "name"), ["benchmark_tool_999999"]);
    let keys: Map<String, Value> = last.as_object().unwrap().clone();
    assert!(!keys.contains_key("nextCursor"));
}

/// Standard padded base64, the cursor encoding.
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if k <= chunk.len() {
                out.push(A[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn integers_beyond_64_bits_are_valid_json_and_are_echoed() {
    let mut c = StdioClient::start(["-tool-size=8", "-log-level=none"]);
    c.handshake(LATEST);
    for raw in [
        r#"{"i":-9223372036854775809}"#,
        r#"{"u":18446744073709551616}"#,
        r#"{"n":100000000000000000000000000000001}"#,
    ] {
        c.send_line(&format!(
            r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"benchmark_tool_0","arguments":{raw}}}}}"#
        ));
        let reply = c.recv();
        assert_valid_response(&reply);
        assert_eq!(reply["id"], 2, "{raw}: {reply}");
        let text = reply["result"]["content"][0]["text"].as_str().unwrap();
        assert!(
            text.starts_with(&format!(r#"{{"arguments":{raw},"data":""#)),
            "{}",
            preview(text)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The 2026-07-28 era, beside the handshake on the same pipe

fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    })
}

#[test]
fn server_discover_opens_the_stateless_era_without_initialize() {
    let mut c = StdioClient::start(["-tools=3", "-log-level=none"]);
    let r = c.result("server/discover", json!({"_meta": modern_meta()}));
    assert_eq!(r["resultType"], "complete");
    assert_eq!(r["supportedVersions"], json!(["2026-07-28"]));
    for cap in ["tools", "resources", "prompts", "completions"] {
        assert!(r["capabilities"][cap].is_object(), "{cap}: {r}");
    }
    assert_eq!(
        r["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "benchmark-server"
    );
    assert!(
        r["ttlMs"].as_u64().is_some() && r["cacheScope"] == "public",
        "{r}"
    );

    let tools = c.result("tools/list", json!({"_meta": modern_meta()}));
    assert_eq!(tools["resultType"], "complete");
    assert_eq!(tools["ttlMs"], 300_000);
    assert_eq!(tools["tools"].as_array().unwrap().len(), 3);
    let read = c.result(
        "resources/read",
        json!({"uri": "benchmark://benchmark_resource_0", "_meta": modern_meta()}),
    );
    assert_eq!(
        read["ttlMs"], 0,
        "reads carry a timestamp, so they are stale at once"
    );
    let call = c.result(
        "tools/call",
        json!({"name": "benchmark_tool_1", "_meta": modern_meta()}),
    );
    assert_eq!(call["resultType"], "complete");
    assert!(
        call.get("ttlMs").is_none(),
        "tool results are not cacheable: {call}"
    );
    // The handshake era still works on the same pipe.
    c.handshake(LATEST);
    let legacy = c.result("tools/list", json!({}));
    assert!(legacy.get("resultType").is_none(), "{legacy}");
}

#[test]
fn stateless_requests_are_validated_and_removed_methods_are_gone() {
    let mut c = StdioClient::start(["-log-level=none"]);
    let e = c.error("server/discover", json!({}));
    assert_error(&e, -32602);
    let e = c.error(
        "server/discover",
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
    );
    assert_error(&e, -32602);
    let e = c.error(
        "tools/list",
        json!({"_meta": {
            "io.modelcontextprotocol/protocolVersion": "1999-01-01",
            "io.modelcontextprotocol/clientCapabilities": {}
        }}),
    );
    assert_error(&e, -32022);
    assert_eq!(e["data"]["supported"], json!(["2026-07-28"]));
    assert_eq!(e["data"]["requested"], "1999-01-01");
    for removed in [
        "initialize",
        "ping",
        "logging/setLevel",
        "resources/subscribe",
    ] {
        let e = c.error(removed, json!({"_meta": modern_meta()}));
        assert_error(&e, -32601);
    }
    let e = c.error(
        "resources/read",
        json!({"uri": "benchmark://nope", "_meta": modern_meta()}),
    );
    assert_error(&e, -32602);
    assert_eq!(e["data"]["uri"], "benchmark://nope");
    c.ping();
}

#[test]
fn subscriptions_listen_is_acknowledged_with_its_id() {
    let mut c = StdioClient::start(["-log-level=none"]);
    c.send(&json!({
        "jsonrpc": "2.0", "id": "sub-1", "method": "subscriptions/listen",
        "params": {"notifications": {"toolsListChanged": true}, "_meta": modern_meta()}
    }));
    let ack = c.recv();
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "sub-1"
    );
    assert!(
        ack.get("id").is_none(),
        "an acknowledgement is a notification: {ack}"
    );
    c.ping();
}

#[test]
fn the_conformance_profile_only_adds_fixtures_after_the_benchmark_items() {
    let mut plain = ready(&["-tools=3", "-log-level=none"]);
    let names = |c: &mut StdioClient| -> Vec<String> {
        let r = c.result("tools/list", json!({}));
        r["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&mut plain),
        ["benchmark_tool_0", "benchmark_tool_1", "benchmark_tool_2"]
    );
    let mut with = ready(&[
        "-tools=3",
        "-profile=conformance",
        "-page-size=2",
        "-log-level=none",
    ]);
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let r = with.result("tools/list", params);
        for t in r["tools"].as_array().unwrap() {
            all.push(t["name"].as_str().unwrap().to_string());
        }
        match r["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(
        &all[..3],
        ["benchmark_tool_0", "benchmark_tool_1", "benchmark_tool_2"]
    );
    assert!(all.contains(&"test_simple_text".to_string()), "{all:?}");
    assert!(
        all.contains(&"json_schema_2020_12_tool".to_string()),
        "{all:?}"
    );
    let r = with.result("tools/call", json!({"name": "test_error_handling"}));
    assert_eq!(r["isError"], true);
    let r = with.result("resources/read", json!({"uri": "test://template/42/data"}));
    assert!(r["contents"][0]["text"].as_str().unwrap().contains("42"));
    let e = with.error("prompts/get", json!({"name": "test_prompt_with_arguments"}));
    assert_error(&e, -32602);
    // Without the profile the fixtures do not exist.
    let e = plain.error("tools/call", json!({"name": "test_simple_text"}));
    assert_error(&e, -32602);
}

#[test]
fn fixture_tools_report_logs_and_progress_before_their_result() {
    let mut c = ready(&["-profile=conformance", "-log-level=none"]);
    // No level set: no log notifications.
    let r = c.result("tools/call", json!({"name": "test_tool_with_logging"}));
    assert_eq!(r["content"][0]["text"], "Tool with logging completed");
    c.result("logging/setLevel", json!({"level": "debug"}));
    c.send(&json!({"jsonrpc": "2.0", "id": 900, "method": "tools/call",
        "params": {"name": "test_tool_with_logging"}}));
    for _ in 0..3 {
        let n = c.recv();
        assert_eq!(n["method"], "notifications/message", "{n}");
    }
    assert_eq!(c.recv()["id"], 900);
    c.send(&json!({"jsonrpc": "2.0", "id": 901, "method": "tools/call",
        "params": {"name": "test_tool_with_progress", "_meta": {"progressToken": "p"}}}));
    let mut last = -1;
    for _ in 0..3 {
        let n = c.recv();
        assert_eq!(n["method"], "notifications/progress", "{n}");
        assert_eq!(n["params"]["progressToken"], "p");
        let p = n["params"]["progress"].as_i64().unwrap();
        assert!(p > last, "progress must increase");
        last = p;
    }
    assert_eq!(c.recv()["id"], 901);
}
