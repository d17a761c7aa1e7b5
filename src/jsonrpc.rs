//! JSON-RPC 2.0 wire format: classifying parsed messages and writing responses.
//!
//! Knows nothing of MCP. Input is parsed with simd-json into a reusable tape ([`Parser`]);
//! output is written straight into byte buffers, with `"jsonrpc":"2.0"` added here.

use simd_json::prelude::*;
use simd_json::tape::Value;
use simd_json::{Buffers, Tape};

use crate::json::{Indexed, write_i64, write_string, write_u64};

/// Nesting deeper than this is rejected as a parse error (no MCP message comes close). A reply
/// nests echoed arguments one level deeper than the request did (`structuredContent`), and
/// common parsers stop at 127 levels (serde_json's default), so every reply stays parseable.
pub const MAX_DEPTH: usize = 126;

/// A request id: MCP allows strings and integers (never null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestId<'a> {
    Int(i64),
    UInt(u64),
    Str(&'a str),
}

impl RequestId<'_> {
    pub fn write(&self, out: &mut Vec<u8>) {
        match *self {
            RequestId::Int(n) => write_i64(out, n),
            RequestId::UInt(n) => write_u64(out, n),
            RequestId::Str(s) => write_string(out, s),
        }
    }
}

/// One decoded JSON-RPC message.
#[derive(Debug, Clone, Copy)]
pub enum Message<'t, 'i> {
    Request {
        id: RequestId<'i>,
        method: &'i str,
        params: Option<Value<'t, 'i>>,
    },
    Notification {
        method: &'i str,
    },
    /// A response from the client (`result` or `error`, no `method`).
    Response,
    /// Not a valid JSON-RPC message; `id` is kept when it could be read.
    Invalid {
        id: Option<RequestId<'i>>,
        reason: &'static str,
    },
}

fn read_id<'i>(v: Value<'_, 'i>) -> Result<RequestId<'i>, &'static str> {
    if let Some(s) = v.into_string() {
        return Ok(RequestId::Str(s));
    }
    match v.value_type() {
        ValueType::I64 | ValueType::U64 => v
            .as_i64()
            .map(RequestId::Int)
            .or_else(|| v.as_u64().map(RequestId::UInt))
            .ok_or("invalid id"),
        ValueType::Null => Err("id must not be null"),
        _ => Err("id must be a string or an integer"),
    }
}

/// Classifies a parsed JSON value as a JSON-RPC message.
pub fn classify<'t, 'i>(v: Value<'t, 'i>) -> Message<'t, 'i> {
    let Some(obj) = v.as_object() else {
        return Message::Invalid {
            id: None,
            reason: "message must be a JSON object",
        };
    };
    let id = obj.get("id").map(read_id);
    let readable_id = id.and_then(Result::ok);
    let invalid = |reason| Message::Invalid {
        id: readable_id,
        reason,
    };
    if obj.get("jsonrpc").and_then(|j| j.into_string()) != Some("2.0") {
        return invalid("jsonrpc must be \"2.0\"");
    }
    let Some(method) = obj.get("method") else {
        if obj.get("result").is_some() || obj.get("error").is_some() {
            return Message::Response;
        }
        return invalid("message has no method");
    };
    let Some(method) = method.into_string() else {
        return invalid("method must be a string");
    };
    let params = match obj.get("params") {
        None => None,
        Some(p) if p.value_type() == ValueType::Null => None,
        Some(p) if p.is_object() || p.is_array() => Some(p),
        Some(_) => return invalid("params must be an object"),
    };
    match id {
        None => Message::Notification { method },
        Some(Ok(id)) => Message::Request { id, method, params },
        Some(Err(reason)) => Message::Invalid { id: None, reason },
    }
}

/// Why a message could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    InvalidUtf8,
    InvalidJson,
    /// Valid so far, but nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl ParseError {
    pub fn message(self) -> &'static str {
        match self {
            ParseError::InvalidUtf8 => "Parse error: message is not valid UTF-8",
            ParseError::InvalidJson => "Parse error: message is not valid JSON",
            ParseError::TooDeep => "Parse error: message nests deeper than 126 levels",
        }
    }
}

/// Reusable parse state: the mutable copy simd-json works on, its scratch buffers and the
/// tape, all kept between messages so steady-state parsing does not allocate.
pub struct Parser {
    input: Vec<u8>,
    buffers: Buffers,
    tape: Option<Tape<'static>>,
}

impl Default for Parser {
    fn default() -> Self {
        Self {
            input: Vec::new(),
            buffers: Buffers::with_max_depth(512, MAX_DEPTH),
            tape: None,
        }
    }
}

impl Parser {
    /// Parses `raw` (left untouched, so spans of it can be echoed) and hands the root value to
    /// `f`.
    pub fn parse<R>(
        &mut self,
        raw: &[u8],
        f: impl FnOnce(Result<Value<'_, '_>, ParseError>) -> R,
    ) -> R {
        self.parse_indexed(raw, |parsed| f(parsed.map(|(v, _)| v)))
    }

    /// [`Parser::parse`], also handing `f` the parse's structural offsets of `raw`, so spans
    /// of it are found without scanning it again.
    pub fn parse_indexed<R>(
        &mut self,
        raw: &[u8],
        f: impl FnOnce(Result<(Value<'_, '_>, Indexed<'_>), ParseError>) -> R,
    ) -> R {
        self.input.clear();
        self.input.extend_from_slice(raw);
        let mut tape = self.tape.take().unwrap_or_else(Tape::null).reset();
        // simd-json validates UTF-8 as it parses.
        let result = match simd_json::fill_tape(&mut self.input, &mut self.buffers, &mut tape) {
            Ok(()) => f(Ok((
                tape.as_value(),
                Indexed::new(raw, self.buffers.structural_indexes()),
            ))),
            Err(e) => f(Err(match e.error() {
                simd_json::ErrorType::InvalidUtf8 => ParseError::InvalidUtf8,
                simd_json::ErrorType::DepthLimitExceeded => ParseError::TooDeep,
                _ => ParseError::InvalidJson,
            })),
        };
        self.tape = Some(tape.reset());
        result
    }
}

/// Writes `{"jsonrpc":"2.0","id":<id>,"result":` — the caller writes the result and `}`.
pub fn write_result_start(out: &mut Vec<u8>, id: &RequestId<'_>) {
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    id.write(out);
    out.extend_from_slice(b",\"result\":");
}

/// Writes a complete error response. `data`, when given, must be a JSON value.
pub fn write_error(
    out: &mut Vec<u8>,
    id: Option<&RequestId<'_>>,
    code: i32,
    message: &str,
    data: Option<&[u8]>,
) {
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    match id {
        Some(id) => id.write(out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"error\":{\"code\":");
    write_i64(out, i64::from(code));
    out.extend_from_slice(b",\"message\":");
    write_string(out, message);
    if let Some(data) = data {
        out.extend_from_slice(b",\"data\":");
        out.extend_from_slice(data);
    }
    out.extend_from_slice(b"}}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_str(s: &str) -> String {
        let mut p = Parser::default();
        p.parse(s.as_bytes(), |v| match v {
            Err(e) => format!("{e:?}"),
            Ok(v) => match classify(v) {
                Message::Request { id, method, params } => {
                    format!("request {id:?} {method} params={}", params.is_some())
                }
                Message::Notification { method } => format!("notification {method}"),
                Message::Response => "response".into(),
                Message::Invalid { id, reason } => format!("invalid {id:?} {reason}"),
            },
        })
    }

    #[test]
    fn request_with_integer_and_string_ids() {
        assert_eq!(
            classify_str(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            "request Int(1) ping params=false"
        );
        assert_eq!(
            classify_str(r#"{"jsonrpc":"2.0","id":"a\"b","method":"x","params":{}}"#),
            r#"request Str("a\"b") x params=true"#
        );
        assert_eq!(
            classify_str(r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"x"}"#),
            "request UInt(18446744073709551615) x params=false"
        );
        assert_eq!(
            classify_str(r#"{"jsonrpc":"2.0","id":-9223372036854775808,"method":"x"}"#),
            "request Int(-9223372036854775808) x params=false"
        );
    }

    #[test]
    fn notification_with_no_params() {
        assert_eq!(
            classify_str(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            "notification notifications/initialized"
        );
    }

    #[test]
    fn null_params_are_no_params() {
        assert_eq!(
            classify_str(r#"{"jsonrpc":"2.0","id":2,"method":"m","params":null}"#),
            "request Int(2) m params=false"
        );
    }

    #[test]
    fn invalid_messages_keep_a_readable_id() {
        assert_eq!(
            classify_str(r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#),
            "invalid Some(Int(7)) jsonrpc must be \"2.0\""
        );
        assert_eq!(
            classify_str(r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#),
            "invalid None id must not be null"
        );
        assert_eq!(
            classify_str(r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#),
            "invalid None id must be a string or an integer"
        );
        assert_eq!(
            classify_str(r#"{"jsonrpc":"2.0","id":3,"method":5}"#),
            "invalid Some(Int(3)) method must be a string"
        );
        assert_eq!(
            classify_str(r#"{"jsonrpc":"2.0","id":3,"method":"x","params":"s"}"#),
            "invalid Some(Int(3)) params must be an object"
        );
        assert_eq!(
            classify_str("42"),
            "invalid None message must be a JSON object"
        );
        assert_eq!(
            classify_str(r#"{"jsonrpc":"2.0","id":4}"#),
            "invalid Some(Int(4)) message has no method"
        );
    }

    #[test]
    fn responses_from_the_client_are_recognised() {
        assert_eq!(
            classify_str(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
            "response"
        );
        assert_eq!(
            classify_str(r#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"}}"#),
            "response"
        );
    }

    #[test]
    fn parse_errors() {
        assert_eq!(classify_str("{bad json"), "InvalidJson");
        assert_eq!(classify_str(""), "InvalidJson");
        let mut p = Parser::default();
        let r = p.parse(b"{\"a\":\"\xff\"}", |v| v.err());
        assert_eq!(r, Some(ParseError::InvalidUtf8));
        let nested = |depth: usize| "[".repeat(depth) + &"]".repeat(depth);
        assert_eq!(classify_str(&nested(MAX_DEPTH + 1)), "TooDeep");
        assert_eq!(classify_str(&nested(MAX_DEPTH + 10)), "TooDeep");
        assert!(p.parse(nested(MAX_DEPTH).as_bytes(), |v| v.is_ok()));
        assert!(
            ParseError::TooDeep
                .message()
                .contains(&MAX_DEPTH.to_string())
        );
    }

    #[test]
    fn parser_is_reusable_across_messages() {
        let mut p = Parser::default();
        for i in 0..100 {
            let msg = format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"m{i}"}}"#);
            let method = p.parse(msg.as_bytes(), |v| match classify(v.unwrap()) {
                Message::Request { method, .. } => method.to_string(),
                _ => String::new(),
            });
            assert_eq!(method, format!("m{i}"));
        }
    }

    #[test]
    fn serialize_error_with_and_without_id() {
        let mut out = Vec::new();
        write_error(&mut out, None, -32700, "Parse error", None);
        assert_eq!(
            out,
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#
        );
        out.clear();
        write_error(
            &mut out,
            Some(&RequestId::Str("x")),
            -32002,
            "nope",
            Some(br#"{"uri":"u"}"#),
        );
        assert_eq!(
            out,
            br#"{"jsonrpc":"2.0","id":"x","error":{"code":-32002,"message":"nope","data":{"uri":"u"}}}"#
        );
    }
}
