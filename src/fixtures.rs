//! `-profile=conformance`: the fixture tools, resources and prompts the official MCP
//! conformance suite calls by name (`test_simple_text`, `test://static-text`,
//! `test_simple_prompt`, …), listed after the benchmark items. They make the server a
//! reference target for checking that a gateway passes every content type through intact:
//! text, image, audio, embedded resources, binary blobs, `isError` results and JSON Schema
//! 2020-12 keywords.
//!
//! Fixtures are constant JSON text, except where the suite checks that request values are
//! substituted (prompt arguments, the template's `{id}`).

use crate::json::write_escaped;

/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
/// A silent WAV header (no samples).
const WAV: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=";

macro_rules! image {
    () => {
        concat!(
            r#"{"type":"image","data":""#,
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
            r#"","mimeType":"image/png"}"#
        )
    };
}

macro_rules! embedded {
    () => {
        r#"{"type":"resource","resource":{"uri":"test://embedded-resource","mimeType":"text/plain","text":"This is an embedded resource content."}}"#
    };
}

/// A fixture tool: its `tools/list` entry and the fields of its `tools/call` result.
pub struct FixtureTool {
    pub name: &'static str,
    pub definition: &'static str,
    pub result: &'static str,
}

macro_rules! tool {
    ($name:literal, $description:literal, $schema:expr, $result:expr) => {
        FixtureTool {
            name: $name,
            definition: concat!(
                r#"{"name":""#,
                $name,
                r#"","description":""#,
                $description,
                r#"","inputSchema":"#,
                $schema,
                "}"
            ),
            result: $result,
        }
    };
}

pub const TOOLS: &[FixtureTool] = &[
    tool!(
        "test_simple_text",
        "Returns simple text content",
        r#"{"type":"object","properties":{},"additionalProperties":false}"#,
        r#""content":[{"type":"text","text":"This is a simple text response for testing."}]"#
    ),
    tool!(
        "test_image_content",
        "Returns image content",
        r#"{"type":"object","properties":{},"additionalProperties":false}"#,
        concat!(r#""content":["#, image!(), "]")
    ),
    tool!(
        "test_audio_content",
        "Returns audio content",
        r#"{"type":"object","properties":{},"additionalProperties":false}"#,
        concat!(
            r#""content":[{"type":"audio","data":""#,
            "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=",
            r#"","mimeType":"audio/wav"}]"#
        )
    ),
    tool!(
        "test_embedded_resource",
        "Returns an embedded resource",
        r#"{"type":"object","properties":{},"additionalProperties":false}"#,
        concat!(r#""content":["#, embedded!(), "]")
    ),
    tool!(
        "test_multiple_content_types",
        "Returns text, image and resource content together",
        r#"{"type":"object","properties":{},"additionalProperties":false}"#,
        concat!(
            r#""content":[{"type":"text","text":"Multiple content types test:"},"#,
            image!(),
            ",",
            embedded!(),
            "]"
        )
    ),
    tool!(
        "test_error_handling",
        "Always fails with an isError result",
        r#"{"type":"object","properties":{},"additionalProperties":false}"#,
        r#""content":[{"type":"text","text":"This tool intentionally returns an error for testing"}],"isError":true"#
    ),
    tool!(
        "test_tool_with_logging",
        "Sends three log notifications while it runs (after logging/setLevel, or with a logLevel in _meta)",
        r#"{"type":"object","properties":{},"additionalProperties":false}"#,
        r#""content":[{"type":"text","text":"Tool with logging completed"}]"#
    ),
    tool!(
        "test_logging_tool",
        "Like test_tool_with_logging: logs only when the request asks for a log level",
        r#"{"type":"object","properties":{},"additionalProperties":false}"#,
        r#""content":[{"type":"text","text":"Logging tool completed"}]"#
    ),
    tool!(
        "test_tool_with_progress",
        "Sends three progress notifications while it runs (when the request has a progressToken)",
        r#"{"type":"object","properties":{},"additionalProperties":false}"#,
        r#""content":[{"type":"text","text":"Tool with progress completed"}]"#
    ),
    tool!(
        "test_missing_capability",
        "Needs the client's sampling capability: without it a 2026-07-28 call gets -32021",
        r#"{"type":"object","properties":{},"additionalProperties":false}"#,
        r#""content":[{"type":"text","text":"The client declared the sampling capability"}]"#
    ),
    tool!(
        "test_sampling",
        "Asks the client for an LLM completion of the prompt (sampling/createMessage) and returns it",
        r#"{"type":"object","properties":{"prompt":{"type":"string","description":"The prompt to send to the LLM"},"timeoutMs":{"type":"integer","description":"How long to wait for the client's answer (default 30000)"}},"required":["prompt"]}"#,
        ""
    ),
    tool!(
        "test_elicitation",
        "Asks the user for a username and email (elicitation/create) and returns the answer",
        r#"{"type":"object","properties":{"message":{"type":"string","description":"The message to show the user"},"timeoutMs":{"type":"integer","description":"How long to wait for the client's answer (default 30000)"}},"required":["message"]}"#,
        ""
    ),
    tool!(
        "test_elicitation_sep1034_defaults",
        "Elicits a form whose string, integer, number, enum and boolean fields have defaults (SEP-1034)",
        r#"{"type":"object","properties":{}}"#,
        ""
    ),
    tool!(
        "test_elicitation_sep1330_enums",
        "Elicits a form with the five enum variants of SEP-1330",
        r#"{"type":"object","properties":{}}"#,
        ""
    ),
    tool!(
        "test_streaming_elicitation",
        "Asks the user to confirm: a request on the call's stream before 2026-07-28, an input_required result from then on",
        r#"{"type":"object","properties":{}}"#,
        ""
    ),
    tool!(
        "test_input_required_result_elicitation",
        "Asks for the user's name (user_name) and greets them",
        r#"{"type":"object","properties":{}}"#,
        ""
    ),
    tool!(
        "test_input_required_result_sampling",
        "Asks the client's LLM for the capital of France (capital_question)",
        r#"{"type":"object","properties":{}}"#,
        ""
    ),
    tool!(
        "test_input_required_result_list_roots",
        "Asks for the client's roots (client_roots) and lists them",
        r#"{"type":"object","properties":{}}"#,
        ""
    ),
    tool!(
        "test_input_required_result_request_state",
        "Asks for a confirmation and checks the signed requestState it gets back (state-ok)",
        r#"{"type":"object","properties":{}}"#,
        ""
    ),
    tool!(
        "test_input_required_result_multiple_inputs",
        "Asks for an elicitation, a sampling and the roots at once",
        r#"{"type":"object","properties":{}}"#,
        ""
    ),
    tool!(
        "test_input_required_result_multi_round",
        "Asks in two rounds (step1, then step2), with a new requestState each time",
        r#"{"type":"object","properties":{}}"#,
        ""
    ),
    tool!(
        "test_input_required_result_tampered_state",
        "Asks for a confirmation; a modified requestState is refused with -32602",
        r#"{"type":"object","properties":{}}"#,
        ""
    ),
    tool!(
        "test_input_required_result_capabilities",
        "Asks for an elicitation and a sampling, each only if the client declared the capability",
        r#"{"type":"object","properties":{}}"#,
        ""
    ),
    tool!(
        "test_custom_header",
        "Its region argument is mirrored in the Mcp-Param-Region header (x-mcp-header), which must agree with it",
        r#"{"type":"object","properties":{"region":{"type":"string","description":"A region name","x-mcp-header":"Region"}},"required":["region"]}"#,
        r#""content":[{"type":"text","text":"The Mcp-Param-Region header matched the region argument"}]"#
    ),
    tool!(
        "json_schema_2020_12_tool",
        "Has an input schema that uses JSON Schema 2020-12 keywords",
        r##"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","$defs":{"address":{"$anchor":"address","type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"}}}},"properties":{"name":{"type":"string"},"address":{"$ref":"#/$defs/address"},"kind":{"type":"string"}},"allOf":[{"anyOf":[{"required":["name"]},{"required":["address"]}]}],"if":{"properties":{"kind":{"const":"business"}}},"then":{"required":["name"]},"else":{"properties":{}},"additionalProperties":false}"##,
        r#""content":[{"type":"text","text":"JSON Schema 2020-12 tool called"}]"#
    ),
];

/// Writes one `notifications/progress` line (out of 100) for the raw JSON `token`.
pub fn write_progress(out: &mut Vec<u8>, token: &[u8], progress: u64, message: &str) {
    out.extend_from_slice(
        br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"#,
    );
    out.extend_from_slice(token);
    out.extend_from_slice(br#","progress":"#);
    crate::json::write_u64(out, progress);
    out.extend_from_slice(br#","total":100,"message":""#);
    out.extend_from_slice(message.as_bytes());
    out.extend_from_slice(b"\"}}\n");
}

/// Writes the notifications a fixture tool sends before its result, each followed by `\n`:
/// three `notifications/message` from the logging tools when a log level is in force (the
/// messages are at `info`, so a level above that silences them), three increasing
/// `notifications/progress` from the progress tool when the request has a `progressToken`.
/// Returns how many were written.
pub fn write_call_notifications(
    out: &mut Vec<u8>,
    params: Option<simd_json::tape::Value<'_, '_>>,
    log_level: Option<crate::mcp::LogLevel>,
) -> usize {
    use simd_json::prelude::*;
    let name = params
        .and_then(|p| p.get("name"))
        .and_then(|n| n.into_string());
    match name {
        Some(tool @ ("test_tool_with_logging" | "test_logging_tool")) => {
            if log_level.is_none_or(|l| l > crate::mcp::LogLevel::Info) {
                return 0;
            }
            for step in [
                "Tool execution started",
                "Tool processing data",
                "Tool execution completed",
            ] {
                out.extend_from_slice(
                    br#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","logger":""#,
                );
                out.extend_from_slice(tool.as_bytes());
                out.extend_from_slice(br#"","data":""#);
                out.extend_from_slice(step.as_bytes());
                out.extend_from_slice(b"\"}}\n");
            }
            3
        }
        Some("test_tool_with_progress") => {
            let token = params
                .and_then(|p| p.get("_meta"))
                .and_then(|m| m.get("progressToken"));
            let Some(token) = token else { return 0 };
            let mut token_json = Vec::new();
            if let Some(s) = token.into_string() {
                crate::json::write_string(&mut token_json, s);
            } else if let Some(n) = token.as_i64() {
                crate::json::write_i64(&mut token_json, n);
            } else if let Some(n) = token.as_u64() {
                crate::json::write_u64(&mut token_json, n);
            } else {
                return 0; // tokens are strings or integers
            }
            for (progress, message) in [(0, "Starting"), (50, "Halfway"), (100, "Done")] {
                write_progress(out, &token_json, progress, message);
            }
            3
        }
        _ => 0,
    }
}

/// The static fixture resources: `resources/list` entry and `resources/read` content.
pub struct FixtureResource {
    pub uri: &'static str,
    pub definition: &'static str,
    pub content: &'static str,
}

pub const RESOURCES: &[FixtureResource] = &[
    FixtureResource {
        uri: "test://static-text",
        definition: r#"{"uri":"test://static-text","name":"static-text","description":"A static text resource","mimeType":"text/plain"}"#,
        content: r#"{"uri":"test://static-text","mimeType":"text/plain","text":"This is the content of the static text resource."}"#,
    },
    FixtureResource {
        uri: "test://static-binary",
        definition: r#"{"uri":"test://static-binary","name":"static-binary","description":"A static binary resource","mimeType":"image/png"}"#,
        content: concat!(
            r#"{"uri":"test://static-binary","mimeType":"image/png","blob":""#,
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
            r#""}"#
        ),
    },
];

/// The fixture template, `test://template/{id}/data`.
pub const TEMPLATE: &str = r#"{"uriTemplate":"test://template/{id}/data","name":"template","description":"A resource template with an id parameter","mimeType":"application/json"}"#;

/// The `id` of a `test://template/{id}/data` URI.
pub fn template_id(uri: &str) -> Option<&str> {
    let id = uri
        .strip_prefix("test://template/")?
        .strip_suffix("/data")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// Writes the `contents` entry of a template resource.
pub fn write_template_content(out: &mut Vec<u8>, uri: &str, id: &str) {
    out.extend_from_slice(b"{\"uri\":\"");
    write_escaped(out, uri.as_bytes());
    out.extend_from_slice(b"\",\"mimeType\":\"application/json\",\"text\":\"{\\\"id\\\":\\\"");
    // The id sits inside a JSON string inside a JSON string: escaped twice.
    let mut once = Vec::with_capacity(id.len());
    write_escaped(&mut once, id.as_bytes());
    write_escaped(out, &once);
    out.extend_from_slice(b"\\\",\\\"templateTest\\\":true}\"}");
}

/// A fixture prompt and its arguments.
pub struct FixturePrompt {
    pub name: &'static str,
    pub definition: &'static str,
}

pub const PROMPTS: &[FixturePrompt] = &[
    FixturePrompt {
        name: "test_simple_prompt",
        definition: r#"{"name":"test_simple_prompt","description":"A simple prompt without arguments"}"#,
    },
    FixturePrompt {
        name: "test_prompt_with_arguments",
        definition: r#"{"name":"test_prompt_with_arguments","description":"A prompt with required arguments","arguments":[{"name":"arg1","description":"First test argument","required":true},{"name":"arg2","description":"Second test argument","required":true}]}"#,
    },
    FixturePrompt {
        name: "test_prompt_with_embedded_resource",
        definition: r#"{"name":"test_prompt_with_embedded_resource","description":"A prompt that embeds a resource","arguments":[{"name":"resourceUri","description":"URI of the resource to embed","required":true}]}"#,
    },
    FixturePrompt {
        name: "test_prompt_with_image",
        definition: r#"{"name":"test_prompt_with_image","description":"A prompt with image content"}"#,
    },
    FixturePrompt {
        name: "test_input_required_result_prompt",
        definition: r#"{"name":"test_input_required_result_prompt","description":"A prompt that asks the client for context (elicitation) before it is built"}"#,
    },
];

/// The `x-mcp-header` parameters of a fixture tool: (argument, header suffix of
/// `Mcp-Param-<suffix>`).
pub fn header_params(tool: &str) -> &'static [(&'static str, &'static str)] {
    match tool {
        "test_custom_header" => &[("region", "Region")],
        _ => &[],
    }
}

/// Writes the fields of a fixture prompt's `prompts/get` result (`description`, `messages`),
/// taking string arguments from `arg`. `Err` names a missing required argument.
pub fn write_prompt_result(
    out: &mut Vec<u8>,
    index: usize,
    arg: impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let required =
        |name: &str| arg(name).ok_or_else(|| format!("missing required argument '{name}'"));
    match index {
        0 => out.extend_from_slice(
            br#""description":"A simple prompt without arguments","messages":[{"role":"user","content":{"type":"text","text":"This is a simple prompt for testing."}}]"#,
        ),
        1 => {
            let (a, b) = (required("arg1")?, required("arg2")?);
            out.extend_from_slice(br#""description":"A prompt with required arguments","messages":[{"role":"user","content":{"type":"text","text":"Prompt with arguments: arg1='"#);
            write_escaped(out, a.as_bytes());
            out.extend_from_slice(b"', arg2='");
            write_escaped(out, b.as_bytes());
            out.extend_from_slice(br#"'"}}]"#);
        }
        2 => {
            let uri = required("resourceUri")?;
            out.extend_from_slice(br#""description":"A prompt that embeds a resource","messages":[{"role":"user","content":{"type":"resource","resource":{"uri":""#);
            write_escaped(out, uri.as_bytes());
            out.extend_from_slice(br#"","mimeType":"text/plain","text":"Embedded resource content for testing."}}},{"role":"user","content":{"type":"text","text":"Please process the embedded resource above."}}]"#);
        }
        _ => {
            out.extend_from_slice(br#""description":"A prompt with image content","messages":[{"role":"user","content":{"type":"image","data":""#);
            out.extend_from_slice(PNG.as_bytes());
            out.extend_from_slice(br#"","mimeType":"image/png"}},{"role":"user","content":{"type":"text","text":"Please analyze the image above."}}]"#);
        }
    }
    Ok(())
}

/// The base64 data the fixtures embed, for tests.
pub const SAMPLE_DATA: [&str; 2] = [PNG, WAV];

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &[u8]) -> serde_json::Value {
        serde_json::from_slice(s).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(s)))
    }

    #[test]
    fn every_fixture_is_valid_json() {
        for t in TOOLS {
            let d = json(t.definition.as_bytes());
            assert_eq!(d["name"], t.name);
            assert!(d["inputSchema"].is_object());
            json(format!("{{{}}}", t.result).as_bytes());
        }
        for r in RESOURCES {
            assert_eq!(json(r.definition.as_bytes())["uri"], r.uri);
            json(r.content.as_bytes());
        }
        json(TEMPLATE.as_bytes());
        for (i, p) in PROMPTS.iter().enumerate() {
            assert_eq!(json(p.definition.as_bytes())["name"], p.name);
            let mut out = b"{".to_vec();
            write_prompt_result(&mut out, i, |k| Some(format!("v-{k}\"\\"))).unwrap();
            out.push(b'}');
            json(&out);
        }
        assert!(SAMPLE_DATA.iter().all(|d| !d.is_empty()));
    }

    #[test]
    fn template_ids_are_substituted_and_escaped() {
        assert_eq!(template_id("test://template/123/data"), Some("123"));
        assert_eq!(template_id("test://template//data"), None);
        assert_eq!(template_id("test://template/a/b/data"), None);
        let mut out = Vec::new();
        write_template_content(&mut out, "test://template/1\"2/data", "1\"2");
        let v = json(&out);
        let inner = json(v["text"].as_str().unwrap().as_bytes());
        assert_eq!(inner["id"], "1\"2");
    }

    #[test]
    fn required_prompt_arguments_are_enforced() {
        let mut out = Vec::new();
        assert!(write_prompt_result(&mut out, 1, |_| None).is_err());
        assert!(write_prompt_result(&mut out, 0, |_| None).is_ok());
    }
}
