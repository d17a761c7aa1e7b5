//! Requests from the server to the client in the middle of a call: the conformance fixtures
//! that ask for sampling, elicitation or the client's roots (`-profile=conformance` only).
//!
//! Handshake era (2024-11-05 … 2025-11-25): the server sends real JSON-RPC requests
//! (`sampling/createMessage`, `elicitation/create`, `roots/list`) on the call's own stream (the
//! POST's SSE reply over Streamable HTTP, the GET stream over legacy SSE, stdout over stdio),
//! and the client's response message is routed back to the waiting call by session and id
//! ([`Pending`]). A session has at most [`MAX_OUTSTANDING`] requests waiting; each waits at
//! most the call's timeout (`timeoutMs`, default [`DEFAULT_TIMEOUT`]); a closed stream cancels
//! the call. A [`Call`] is a state machine without I/O, driven by [`Call::run`] on HTTP and
//! step by step on stdio.
//!
//! 2026-07-28: there are no server requests. The call answers `resultType: "input_required"`
//! with the same requests as `inputRequests` and a signed `requestState`; the client's retry
//! carries `inputResponses` (multi round-trip requests), see [`serve_modern`].
//!
//! This is a cold path (a handful of fixture calls), so it uses `serde_json` values freely.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use tokio::sync::{mpsc, oneshot};

use crate::json::member_span;
use crate::mcp::{error_code, meta};

/// Most server requests one session may have waiting for the client.
pub const MAX_OUTSTANDING: usize = 16;
/// How long a server request waits for the client's answer unless the call sets `timeoutMs`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest `timeoutMs` a call may ask for.
const MAX_TIMEOUT_MS: u64 = 600_000;
/// How long a `requestState` stays valid.
const STATE_TTL_SECS: u64 = 600;

/// What a server request needs the client to have declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Sampling,
    Elicitation,
    Roots,
}

impl Need {
    fn capability(self) -> &'static str {
        match self {
            Need::Sampling => "sampling",
            Need::Elicitation => "elicitation",
            Need::Roots => "roots",
        }
    }

    fn method(self) -> &'static str {
        match self {
            Need::Sampling => "sampling/createMessage",
            Need::Elicitation => "elicitation/create",
            Need::Roots => "roots/list",
        }
    }

    /// Checks the shape of the client's answer (an `ElicitResult`, `CreateMessageResult` or
    /// `ListRootsResult`).
    fn valid_answer(self, v: &Value) -> bool {
        let Some(o) = v.as_object() else { return false };
        match self {
            Need::Elicitation => matches!(
                o.get("action").and_then(Value::as_str),
                Some("accept" | "decline" | "cancel")
            ),
            Need::Sampling => o
                .get("content")
                .is_some_and(|c| c.is_object() || c.is_array()),
            Need::Roots => o.get("roots").is_some_and(Value::is_array),
        }
    }
}

/// The capabilities a client declared (in `initialize`, or per request in 2026-07-28).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCaps {
    pub sampling: bool,
    pub elicitation: bool,
    pub roots: bool,
}

impl ClientCaps {
    /// From a `capabilities` object (simd-json tape, as the dispatcher parses).
    pub fn from_tape(caps: Option<simd_json::tape::Value<'_, '_>>) -> Self {
        let has = |k: &str| caps.and_then(|c| c.get(k)).is_some_and(|v| v.is_object());
        Self {
            sampling: has("sampling"),
            elicitation: has("elicitation"),
            roots: has("roots"),
        }
    }

    fn from_json(caps: Option<&Value>) -> Self {
        let has = |k: &str| caps.and_then(|c| c.get(k)).is_some_and(Value::is_object);
        Self {
            sampling: has("sampling"),
            elicitation: has("elicitation"),
            roots: has("roots"),
        }
    }

    fn has(self, need: Need) -> bool {
        match need {
            Need::Sampling => self.sampling,
            Need::Elicitation => self.elicitation,
            Need::Roots => self.roots,
        }
    }
}

/// How the params of a server request are made.
enum Params {
    /// Constant JSON.
    Fixed(&'static str),
    /// `sampling/createMessage` of the call's `prompt` argument.
    Prompt,
    /// `elicitation/create` of the call's `message` argument with this `requestedSchema`.
    Message(&'static str),
}

/// One request a fixture asks of the client, under a key unique within its round.
struct Input {
    key: &'static str,
    need: Need,
    params: Params,
}

/// Is the fixture a tool or a prompt?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Tool,
    Prompt,
}

/// A fixture that asks the client for input: its rounds of requests.
pub struct Interactive {
    pub name: &'static str,
    pub target: Target,
    rounds: &'static [&'static [Input]],
    /// Asks only for what the client declared, instead of refusing a client that lacks some.
    by_capability: bool,
}

const ASK_NAME: Input = Input {
    key: "user_name",
    need: Need::Elicitation,
    params: Params::Fixed(
        r#"{"message":"What is your name?","requestedSchema":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}}"#,
    ),
};
const ASK_CAPITAL: Input = Input {
    key: "capital_question",
    need: Need::Sampling,
    params: Params::Fixed(
        r#"{"messages":[{"role":"user","content":{"type":"text","text":"What is the capital of France?"}}],"maxTokens":100}"#,
    ),
};
const ASK_ROOTS: Input = Input {
    key: "client_roots",
    need: Need::Roots,
    params: Params::Fixed("{}"),
};
const ASK_CONFIRM: Input = Input {
    key: "confirm",
    need: Need::Elicitation,
    params: Params::Fixed(
        r#"{"message":"Please confirm","requestedSchema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}}"#,
    ),
};

/// Every interactive fixture. Their `tools/list` and `prompts/list` entries are in
/// [`crate::fixtures`].
pub const INTERACTIVE: &[Interactive] = &[
    Interactive {
        name: "test_sampling",
        target: Target::Tool,
        rounds: &[&[Input {
            key: "sampling",
            need: Need::Sampling,
            params: Params::Prompt,
        }]],
        by_capability: false,
    },
    Interactive {
        name: "test_elicitation",
        target: Target::Tool,
        rounds: &[&[Input {
            key: "elicitation",
            need: Need::Elicitation,
            params: Params::Message(
                r#"{"type":"object","properties":{"username":{"type":"string","description":"User's response"},"email":{"type":"string","description":"User's email address"}},"required":["username","email"]}"#,
            ),
        }]],
        by_capability: false,
    },
    Interactive {
        name: "test_elicitation_sep1034_defaults",
        target: Target::Tool,
        rounds: &[&[Input {
            key: "defaults",
            need: Need::Elicitation,
            params: Params::Fixed(
                r#"{"message":"Please review and update the form fields with defaults","requestedSchema":{"type":"object","properties":{"name":{"type":"string","description":"User name","default":"John Doe"},"age":{"type":"integer","description":"User age","default":30},"score":{"type":"number","description":"User score","default":95.5},"status":{"type":"string","description":"User status","enum":["active","inactive","pending"],"default":"active"},"verified":{"type":"boolean","description":"Verification status","default":true}},"required":[]}}"#,
            ),
        }]],
        by_capability: false,
    },
    Interactive {
        name: "test_elicitation_sep1330_enums",
        target: Target::Tool,
        rounds: &[&[Input {
            key: "enums",
            need: Need::Elicitation,
            params: Params::Fixed(
                r#"{"message":"Please select options from the enum fields","requestedSchema":{"type":"object","properties":{"untitledSingle":{"type":"string","description":"Untitled single-select","enum":["option1","option2","option3"]},"titledSingle":{"type":"string","description":"Titled single-select","oneOf":[{"const":"value1","title":"First Option"},{"const":"value2","title":"Second Option"},{"const":"value3","title":"Third Option"}]},"legacyEnum":{"type":"string","description":"Legacy titled enum","enum":["opt1","opt2","opt3"],"enumNames":["Option One","Option Two","Option Three"]},"untitledMulti":{"type":"array","description":"Untitled multi-select","items":{"type":"string","enum":["option1","option2","option3"]}},"titledMulti":{"type":"array","description":"Titled multi-select","items":{"anyOf":[{"const":"value1","title":"First Choice"},{"const":"value2","title":"Second Choice"},{"const":"value3","title":"Third Choice"}]}}},"required":[]}}"#,
            ),
        }]],
        by_capability: false,
    },
    Interactive {
        name: "test_streaming_elicitation",
        target: Target::Tool,
        rounds: &[&[ASK_CONFIRM]],
        by_capability: false,
    },
    Interactive {
        name: "test_input_required_result_elicitation",
        target: Target::Tool,
        rounds: &[&[ASK_NAME]],
        by_capability: false,
    },
    Interactive {
        name: "test_input_required_result_sampling",
        target: Target::Tool,
        rounds: &[&[ASK_CAPITAL]],
        by_capability: false,
    },
    Interactive {
        name: "test_input_required_result_list_roots",
        target: Target::Tool,
        rounds: &[&[ASK_ROOTS]],
        by_capability: false,
    },
    Interactive {
        name: "test_input_required_result_request_state",
        target: Target::Tool,
        rounds: &[&[ASK_CONFIRM]],
        by_capability: false,
    },
    Interactive {
        name: "test_input_required_result_multiple_inputs",
        target: Target::Tool,
        rounds: &[&[
            ASK_NAME,
            Input {
                key: "greeting",
                need: Need::Sampling,
                params: Params::Fixed(
                    r#"{"messages":[{"role":"user","content":{"type":"text","text":"Generate a greeting"}}],"maxTokens":50}"#,
                ),
            },
            ASK_ROOTS,
        ]],
        by_capability: false,
    },
    Interactive {
        name: "test_input_required_result_multi_round",
        target: Target::Tool,
        rounds: &[
            &[Input {
                key: "step1",
                need: Need::Elicitation,
                params: Params::Fixed(
                    r#"{"message":"Step 1: What is your name?","requestedSchema":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}}"#,
                ),
            }],
            &[Input {
                key: "step2",
                need: Need::Elicitation,
                params: Params::Fixed(
                    r#"{"message":"Step 2: What is your favorite color?","requestedSchema":{"type":"object","properties":{"color":{"type":"string"}},"required":["color"]}}"#,
                ),
            }],
        ],
        by_capability: false,
    },
    Interactive {
        name: "test_input_required_result_tampered_state",
        target: Target::Tool,
        rounds: &[&[ASK_CONFIRM]],
        by_capability: false,
    },
    Interactive {
        name: "test_input_required_result_capabilities",
        target: Target::Tool,
        rounds: &[&[ASK_NAME, ASK_CAPITAL]],
        by_capability: true,
    },
    Interactive {
        name: "test_input_required_result_prompt",
        target: Target::Prompt,
        rounds: &[&[Input {
            key: "user_context",
            need: Need::Elicitation,
            params: Params::Fixed(
                r#"{"message":"What context should the prompt use?","requestedSchema":{"type":"object","properties":{"context":{"type":"string"}},"required":["context"]}}"#,
            ),
        }]],
        by_capability: false,
    },
];

/// The interactive fixture called `name`, if it is one.
pub fn interactive(target: Target, name: &str) -> Option<&'static Interactive> {
    INTERACTIVE
        .iter()
        .find(|i| i.target == target && i.name == name)
}

/// A refusal: the JSON-RPC error the dispatcher writes.
#[derive(Debug)]
pub struct Refusal {
    pub code: i32,
    pub message: String,
    pub data: Option<Vec<u8>>,
    /// The request itself is refused (HTTP 400 under 2026-07-28).
    pub rejected: bool,
}

impl Refusal {
    fn invalid(message: impl Into<String>) -> Self {
        Self {
            code: error_code::INVALID_PARAMS,
            message: message.into(),
            data: None,
            rejected: false,
        }
    }

    fn missing(need: Need, modern: bool) -> Self {
        let cap = need.capability();
        Self {
            code: if modern {
                error_code::MISSING_REQUIRED_CLIENT_CAPABILITY
            } else {
                error_code::INVALID_PARAMS
            },
            message: if modern {
                format!("Missing required client capability: {cap}")
            } else {
                format!(
                    "Missing required client capability: {cap} (declare it in initialize to use this fixture)"
                )
            },
            data: Some(format!("{{\"requiredCapabilities\":{{\"{cap}\":{{}}}}}}").into_bytes()),
            rejected: modern,
        }
    }
}

impl Interactive {
    /// The inputs of `round` this client gets, or the capability it lacks.
    fn inputs(
        &self,
        round: usize,
        caps: ClientCaps,
        modern: bool,
    ) -> Result<Vec<&'static Input>, Refusal> {
        let all = self.rounds[round];
        if self.by_capability {
            let some: Vec<_> = all.iter().filter(|i| caps.has(i.need)).collect();
            return match some.is_empty() {
                true => Err(Refusal::missing(all[0].need, modern)),
                false => Ok(some),
            };
        }
        match all.iter().find(|i| !caps.has(i.need)) {
            Some(i) => Err(Refusal::missing(i.need, modern)),
            None => Ok(all.iter().collect()),
        }
    }
}

fn request_params(input: &Input, args: &Value) -> Value {
    let arg = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or_default();
    match input.params {
        Params::Fixed(p) => serde_json::from_str(p).unwrap_or(Value::Null),
        Params::Prompt => json!({
            "messages": [{"role": "user", "content": {"type": "text", "text": arg("prompt")}}],
            "maxTokens": 100
        }),
        Params::Message(schema) => json!({
            "message": arg("message"),
            "requestedSchema": serde_json::from_str::<Value>(schema).unwrap_or(Value::Null)
        }),
    }
}

/// The text of the final result, from the client's answers (by input key).
fn final_text(fixture: &Interactive, answers: &Map<String, Value>) -> String {
    let answer = |k: &str| answers.get(k).cloned().unwrap_or(Value::Null);
    let sampled = |k: &str| {
        let a = answer(k);
        let content = &a["content"];
        content["text"]
            .as_str()
            .or_else(|| content[0]["text"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let elicited = |k: &str| {
        let a = answer(k);
        format!(
            "action={}, content={}",
            a["action"].as_str().unwrap_or_default(),
            a.get("content").cloned().unwrap_or(Value::Null)
        )
    };
    match fixture.name {
        "test_sampling" => format!("LLM response: {}", sampled("sampling")),
        "test_elicitation" => format!("User response: {}", elicited("elicitation")),
        "test_elicitation_sep1034_defaults" => {
            format!("Elicitation completed: {}", elicited("defaults"))
        }
        "test_elicitation_sep1330_enums" => format!("Elicitation completed: {}", elicited("enums")),
        "test_input_required_result_elicitation" => format!(
            "Hello, {}!",
            answer("user_name")["content"]["name"]
                .as_str()
                .unwrap_or("stranger")
        ),
        "test_input_required_result_sampling" => sampled("capital_question"),
        "test_input_required_result_list_roots" => {
            let roots = answer("client_roots")["roots"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(|x| x["uri"].as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            format!("Client roots: {roots}")
        }
        "test_input_required_result_request_state"
        | "test_input_required_result_tampered_state" => {
            format!("state-ok: {}", elicited("confirm"))
        }
        "test_input_required_result_multiple_inputs" => format!(
            "Hello, {}! Greeting: {}. Roots: {}",
            answer("user_name")["content"]["name"]
                .as_str()
                .unwrap_or_default(),
            sampled("greeting"),
            answer("client_roots")["roots"]
                .as_array()
                .map_or(0, Vec::len)
        ),
        "test_input_required_result_multi_round" => format!(
            "All rounds complete: color={}",
            answer("step2")["content"]["color"]
                .as_str()
                .unwrap_or_default()
        ),
        "test_input_required_result_prompt" => format!(
            "Prompt with context: {}",
            answer("user_context")["content"]["context"]
                .as_str()
                .unwrap_or_default()
        ),
        "test_streaming_elicitation" => format!("Confirmed: {}", elicited("confirm")),
        _ => format!("Answers: {}", Value::Object(answers.clone())),
    }
}

/// The fields of the final result (without braces): tool content or prompt messages.
fn write_final_fields(out: &mut Vec<u8>, fixture: &Interactive, answers: &Map<String, Value>) {
    let text = Value::String(final_text(fixture, answers)).to_string();
    match fixture.target {
        Target::Tool => {
            out.extend_from_slice(b"\"content\":[{\"type\":\"text\",\"text\":");
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"}]");
        }
        Target::Prompt => {
            out.extend_from_slice(
                b"\"description\":\"A prompt that asks the client for context\",\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":",
            );
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"}}]");
        }
    }
}

// ---------------------------------------------------------------------------------------
// 2026-07-28: input_required results (multi round-trip requests)
// ---------------------------------------------------------------------------------------

/// Fixed HMAC key of `requestState`: it makes tampering evident and keeps state valid on
/// every replica. (The fixtures' state guards nothing, so a public key is enough.)
const STATE_KEY: &[u8] = b"benchmark-server conformance requestState v1";

fn state_mac(fixture: &str, round: usize, expires: u64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(STATE_KEY)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(format!("{fixture}\n{round}\n{expires}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `<round>.<expires>.<mac>`: which round's answers the retry must carry, signed.
fn sign_state(fixture: &str, round: usize) -> String {
    let expires = now_secs() + STATE_TTL_SECS;
    format!("{round}.{expires}.{}", state_mac(fixture, round, expires))
}

/// The round a `requestState` stands for, if it is genuine, fresh and for this fixture.
fn verify_state(fixture: &str, state: &str) -> Result<usize, &'static str> {
    let mut parts = state.splitn(3, '.');
    let (Some(round), Some(expires), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("requestState is malformed");
    };
    let (Ok(round), Ok(expires)) = (round.parse::<usize>(), expires.parse::<u64>()) else {
        return Err("requestState is malformed");
    };
    if !crate::auth::constant_time_eq(
        state_mac(fixture, round, expires).as_bytes(),
        mac.as_bytes(),
    ) {
        return Err("requestState failed its integrity check");
    }
    if expires < now_secs() {
        return Err("requestState has expired");
    }
    Ok(round)
}

/// Serves a 2026-07-28 call of an interactive fixture: an `input_required` result naming
/// what is still missing, or the complete result once the retry carries every answer.
/// `open` writes `{"jsonrpc":"2.0","id":…,"result":{` with the fields every result carries,
/// for the given `resultType`; the rest is written here.
pub fn serve_modern(
    fixture: &'static Interactive,
    raw: &[u8],
    out: &mut Vec<u8>,
    open: impl FnOnce(&mut Vec<u8>, &'static str),
) -> Result<(), Refusal> {
    let message: Value =
        serde_json::from_slice(raw).map_err(|e| Refusal::invalid(e.to_string()))?;
    let params = &message["params"];
    let caps = ClientCaps::from_json(params["_meta"].get(meta::CLIENT_CAPABILITIES));
    let round = match params.get("requestState") {
        None | Some(Value::Null) => 0,
        Some(Value::String(s)) => verify_state(fixture.name, s).map_err(Refusal::invalid)?,
        Some(_) => return Err(Refusal::invalid("requestState must be a string")),
    };
    if round >= fixture.rounds.len() {
        return Err(Refusal::invalid(
            "requestState names no round of this request",
        ));
    }
    let inputs = fixture.inputs(round, caps, true)?;
    let answers = match params.get("inputResponses") {
        None => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => return Err(Refusal::invalid("inputResponses must be an object")),
    };
    let mut complete = answers.is_some();
    if let Some(answers) = answers {
        for input in &inputs {
            match answers.get(input.key) {
                None => complete = false, // asked again below
                Some(a) if !input.need.valid_answer(a) => {
                    return Err(Refusal::invalid(format!(
                        "inputResponses.{} is not a valid answer to {}",
                        input.key,
                        input.need.method()
                    )));
                }
                Some(_) => {}
            }
        }
    }
    let (round, inputs) = match (complete, answers) {
        (true, Some(answers)) if round + 1 == fixture.rounds.len() => {
            open(out, "complete");
            write_final_fields(out, fixture, answers);
            out.extend_from_slice(b"}}");
            return Ok(());
        }
        (true, _) => (round + 1, fixture.inputs(round + 1, caps, true)?),
        (false, _) => (round, inputs),
    };
    let args = params.get("arguments").cloned().unwrap_or(Value::Null);
    open(out, "input_required");
    let mut requests = Map::new();
    for input in inputs {
        requests.insert(
            input.key.to_string(),
            json!({"method": input.need.method(), "params": request_params(input, &args)}),
        );
    }
    out.extend_from_slice(b"\"inputRequests\":");
    out.extend_from_slice(Value::Object(requests).to_string().as_bytes());
    out.extend_from_slice(b",\"requestState\":");
    out.extend_from_slice(
        Value::String(sign_state(fixture.name, round))
            .to_string()
            .as_bytes(),
    );
    out.extend_from_slice(b"}}");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Handshake era: real server-to-client requests
// ---------------------------------------------------------------------------------------

/// The server requests of one session that wait for the client's answer, by id.
#[derive(Default)]
pub struct Pending {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<Vec<u8>>>>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("waiting", &self.len())
            .finish()
    }
}

impl Pending {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Vec<u8>>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Requests still waiting.
    pub fn len(&self) -> usize {
        self.table().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A new request id and where its answer will arrive; `None` at [`MAX_OUTSTANDING`].
    fn register(&self) -> Option<(u64, oneshot::Receiver<Vec<u8>>)> {
        let mut table = self.table();
        table.retain(|_, tx| !tx.is_closed());
        if table.len() >= MAX_OUTSTANDING {
            return None;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = oneshot::channel();
        table.insert(id, tx);
        Some((id, rx))
    }

    fn forget(&self, id: u64) {
        self.table().remove(&id);
    }

    /// Hands the client's response message `raw` to the request waiting for it; `false` when
    /// its id names no waiting request (unknown, answered already, timed out).
    pub fn deliver(&self, raw: &[u8]) -> bool {
        let Some(id) = member_span(raw, 0, "id")
            .and_then(|(s, e)| std::str::from_utf8(&raw[s..e]).ok()?.parse::<u64>().ok())
        else {
            return false;
        };
        match self.table().remove(&id) {
            Some(tx) => tx.send(raw.to_vec()).is_ok(),
            None => false,
        }
    }
}

/// A handshake-era call of an interactive fixture, planned by [`plan`].
pub struct Call {
    /// The client's request id, as JSON.
    id: Vec<u8>,
    fixture: &'static Interactive,
    args: Value,
    pending: Arc<Pending>,
    timeout: Duration,
    /// The requests to send, in order (every round's, those the client can answer).
    inputs: Vec<&'static Input>,
    /// How many of them have been answered.
    answered: usize,
    answers: Map<String, Value>,
    /// The id of the server request waiting for an answer.
    waiting: Option<u64>,
    /// Where that answer arrives, until taken by [`Call::receiver`].
    rx: Option<oneshot::Receiver<Vec<u8>>>,
}

impl Drop for Call {
    fn drop(&mut self) {
        if let Some(id) = self.waiting.take() {
            self.pending.forget(id);
        }
    }
}

/// What a call does next.
#[derive(Debug)]
pub enum Step {
    /// Write this server request, then wait for its answer ([`Call::receiver`]).
    Send(Vec<u8>),
    /// Write this final response; the call is over.
    Done(Vec<u8>),
}

/// What [`plan`] found.
pub enum Planned {
    /// Run this call.
    Run(Call),
    /// Answer with this JSON-RPC error at once (missing capability, bad arguments).
    Refused(Vec<u8>),
}

/// Whether the handshake-era message `raw` calls an interactive fixture; if so, the call
/// (using `session`'s capabilities and pending table) or its refusal. Cheap for everything
/// else: one scan for the method, and only with the fixture profile.
pub fn plan(
    dispatcher: &crate::dispatch::Dispatcher,
    session: &mut crate::dispatch::Session,
    raw: &[u8],
) -> Option<Planned> {
    if !dispatcher.catalog().has_fixtures() {
        return None;
    }
    let (s, e) = member_span(raw, 0, "method")?;
    let target = match &raw[s..e] {
        b"\"tools/call\"" => Target::Tool,
        b"\"prompts/get\"" => Target::Prompt,
        _ => return None,
    };
    let message: Value = serde_json::from_slice(raw).ok()?;
    let id = message.get("id")?;
    if !(id.is_string() || id.is_i64() || id.is_u64()) {
        return None; // the dispatcher's -32600
    }
    let params = &message["params"];
    if params["_meta"].get(meta::PROTOCOL_VERSION).is_some() {
        return None; // a 2026-07-28 request: served by the dispatcher
    }
    let fixture = interactive(target, params["name"].as_str()?)?;
    let id = id.to_string().into_bytes();
    let refuse = |r: Refusal| {
        let mut out = Vec::new();
        out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        out.extend_from_slice(&id);
        out.extend_from_slice(b",\"error\":{\"code\":");
        out.extend_from_slice(r.code.to_string().as_bytes());
        out.extend_from_slice(b",\"message\":");
        out.extend_from_slice(Value::String(r.message).to_string().as_bytes());
        if let Some(d) = r.data {
            out.extend_from_slice(b",\"data\":");
            out.extend_from_slice(&d);
        }
        out.extend_from_slice(b"}}");
        log::debug!(
            "{} refused: {}",
            fixture.name,
            String::from_utf8_lossy(&out)
        );
        Some(Planned::Refused(out))
    };
    let args = match params.get("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(a @ Value::Object(_)) => a.clone(),
        Some(_) => return refuse(Refusal::invalid("arguments must be an object")),
    };
    let mut inputs = Vec::new();
    for round in 0..fixture.rounds.len() {
        match fixture.inputs(round, session.client, false) {
            Ok(some) => inputs.extend(some),
            Err(r) => return refuse(r),
        }
    }
    let timeout = match args.get("timeoutMs") {
        None => DEFAULT_TIMEOUT,
        Some(v) => match v.as_u64() {
            Some(ms) if (1..=MAX_TIMEOUT_MS).contains(&ms) => Duration::from_millis(ms),
            _ => {
                return refuse(Refusal::invalid(format!(
                    "timeoutMs must be an integer from 1 to {MAX_TIMEOUT_MS}"
                )));
            }
        },
    };
    let pending = session
        .roundtrips
        .get_or_insert_with(Default::default)
        .clone();
    Some(Planned::Run(Call {
        id,
        fixture,
        args,
        pending,
        timeout,
        inputs,
        answered: 0,
        answers: Map::new(),
        waiting: None,
        rx: None,
    }))
}

impl Call {
    /// How long each server request waits.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn error(&self, code: i32, message: &str) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        out.extend_from_slice(&self.id);
        out.extend_from_slice(b",\"error\":{\"code\":");
        out.extend_from_slice(code.to_string().as_bytes());
        out.extend_from_slice(b",\"message\":");
        out.extend_from_slice(Value::String(message.to_string()).to_string().as_bytes());
        out.extend_from_slice(b"}}");
        out
    }

    fn input(&self) -> Option<&'static Input> {
        self.inputs.get(self.answered).copied()
    }

    /// The next server request, or the final response once every answer is in.
    pub fn step(&mut self) -> Step {
        let Some(input) = self.input() else {
            let mut out = Vec::new();
            out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
            out.extend_from_slice(&self.id);
            out.extend_from_slice(b",\"result\":{");
            write_final_fields(&mut out, self.fixture, &self.answers);
            out.extend_from_slice(b"}}");
            return Step::Done(out);
        };
        let Some((sid, rx)) = self.pending.register() else {
            log::debug!(
                "{}: too many server requests outstanding",
                self.fixture.name
            );
            return Step::Done(self.error(
                error_code::INTERNAL_ERROR,
                &format!(
                    "Too many server-to-client requests outstanding on this session (at most {MAX_OUTSTANDING})"
                ),
            ));
        };
        self.waiting = Some(sid);
        self.rx = Some(rx);
        let request = json!({
            "jsonrpc": "2.0",
            "id": sid,
            "method": input.need.method(),
            "params": request_params(input, &self.args),
        });
        Step::Send(request.to_string().into_bytes())
    }

    /// Where the answer to the request just sent arrives (once per [`Step::Send`]).
    pub fn receiver(&mut self) -> Option<oneshot::Receiver<Vec<u8>>> {
        self.rx.take()
    }

    /// Records the client's answer `raw` to the request just sent; `Some` ends the call with
    /// that response (the client answered with an error or an invalid result).
    pub fn answer(&mut self, raw: &[u8]) -> Option<Vec<u8>> {
        let sid = self.waiting.take();
        self.rx = None;
        let input = self.input()?;
        let message: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
        if let Some(err) = message.get("error") {
            let text = format!(
                "The client answered {} with error {}: {}",
                input.need.method(),
                err["code"],
                err["message"].as_str().unwrap_or_default()
            );
            log::debug!("{}: {text}", self.fixture.name);
            return Some(self.error(error_code::INTERNAL_ERROR, &text));
        }
        let result = message.get("result").cloned().unwrap_or(Value::Null);
        if !input.need.valid_answer(&result) {
            log::debug!("{}: invalid answer to request {sid:?}", self.fixture.name);
            return Some(self.error(
                error_code::INTERNAL_ERROR,
                &format!(
                    "The client's answer to {} is not valid",
                    input.need.method()
                ),
            ));
        }
        self.answers.insert(input.key.to_string(), result);
        self.answered += 1;
        None
    }

    /// The messages that end a call whose request was not answered in time: a
    /// `notifications/cancelled` for the server request, then the error response.
    pub fn timed_out(&mut self) -> Vec<Vec<u8>> {
        let method = self.input().map_or("request", |i| i.need.method());
        let mut messages = Vec::new();
        self.rx = None;
        if let Some(sid) = self.waiting.take() {
            self.pending.forget(sid);
            messages.push(
                json!({
                    "jsonrpc": "2.0",
                    "method": "notifications/cancelled",
                    "params": {"requestId": sid, "reason": "timed out"}
                })
                .to_string()
                .into_bytes(),
            );
        }
        log::debug!("{}: no answer to {method} in time", self.fixture.name);
        messages.push(self.error(
            error_code::INTERNAL_ERROR,
            &format!(
                "Timed out after {} ms waiting for the client's {method} response",
                self.timeout.as_millis()
            ),
        ));
        messages
    }

    /// Runs the call on an SSE stream: each message becomes an `event: message`. Ends early,
    /// forgetting its request, when the stream closes or stays full for the call's timeout.
    pub async fn run(mut self, tx: mpsc::Sender<Bytes>) {
        let limit = self.timeout;
        let send = |m: &[u8]| {
            let mut e = Vec::with_capacity(m.len() + 24);
            e.extend_from_slice(b"event: message\ndata: ");
            e.extend_from_slice(m);
            e.extend_from_slice(b"\n\n");
            let tx = tx.clone();
            async move {
                matches!(
                    tokio::time::timeout(limit, tx.send(Bytes::from(e))).await,
                    Ok(Ok(()))
                )
            }
        };
        loop {
            let request = match self.step() {
                Step::Done(response) => {
                    send(&response).await;
                    return;
                }
                Step::Send(request) => request,
            };
            let Some(rx) = self.receiver() else { return };
            if !send(&request).await {
                return;
            }
            tokio::select! {
                answer = rx => match answer {
                    Ok(raw) => {
                        if let Some(end) = self.answer(&raw) {
                            send(&end).await;
                            return;
                        }
                    }
                    Err(_) => return, // the session is gone
                },
                () = tokio::time::sleep(self.timeout) => {
                    for m in self.timed_out() {
                        send(&m).await;
                    }
                    return;
                }
                () = tx.closed() => {
                    log::debug!("{}: stream closed; call cancelled", self.fixture.name);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_is_valid_json() {
        for f in INTERACTIVE {
            assert!(!f.rounds.is_empty());
            for round in f.rounds {
                for i in *round {
                    let p = request_params(i, &json!({"prompt": "p", "message": "m"}));
                    assert!(p.is_object(), "{}/{}", f.name, i.key);
                }
            }
        }
    }

    #[test]
    fn request_state_detects_tampering_and_other_fixtures() {
        let s = sign_state("a", 1);
        assert_eq!(verify_state("a", &s), Ok(1));
        assert!(verify_state("b", &s).is_err());
        assert!(verify_state("a", &format!("{s}-TAMPERED")).is_err());
        assert!(verify_state("a", &s.replacen('1', "0", 1)).is_err());
        assert!(verify_state("a", "").is_err());
        let stale = format!("0.1.{}", state_mac("a", 0, 1));
        assert_eq!(verify_state("a", &stale), Err("requestState has expired"));
    }

    #[test]
    fn pending_requests_are_bounded_and_answered_by_id() {
        let p = Pending::default();
        let mut held = Vec::new();
        for _ in 0..MAX_OUTSTANDING {
            held.push(p.register().expect("room"));
        }
        assert!(p.register().is_none(), "the cap holds");
        let (id, mut rx) = held.remove(0);
        assert!(!p.deliver(br#"{"jsonrpc":"2.0","id":999999,"result":{}}"#));
        assert!(!p.deliver(br#"{"jsonrpc":"2.0","id":"x","result":{}}"#));
        let answer = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#);
        assert!(p.deliver(answer.as_bytes()));
        assert_eq!(rx.try_recv().unwrap(), answer.as_bytes());
        assert!(!p.deliver(answer.as_bytes()), "answered once only");
        drop(held);
        assert!(p.register().is_some(), "dropped waiters free their slots");
    }
}
