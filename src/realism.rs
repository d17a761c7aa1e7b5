//! Catalog realism: optional knobs that make the synthetic catalog look like real servers'
//! (payload sizes per call or spread over a range, heavy tool definitions, binary content,
//! structured results), so gateways and clients can be tested on what they meet in practice.
//!
//! Everything is off by default, and then the catalog is the Go server's byte for byte: the
//! catalog holds no [`Realism`] at all and takes none of these paths. Every value is a pure
//! function of the item's index (a hash of it, never a random draw), so two runs, or two
//! replicas, serve the same catalog. Definitions are written from templates with the index
//! spliced in, so listing still allocates nothing per item.

use simd_json::prelude::*;
use simd_json::tape::Value;

use crate::catalog::{Catalog, Kind};
use crate::dispatch::{CHUNK_BYTES, Continuation, Reply};
use crate::json::{write_escaped, write_u64};
use crate::payload::{
    Base64Stream, FillerStream, write_exact_text, write_payload_start, write_timestamp_now,
};

/// Largest `-tool-description-size`: a definition is written whole, so it must stay small.
pub const MAX_DESCRIPTION_SIZE: u64 = 1 << 20;
/// Largest `-tool-params` and `-tool-enum-size`.
pub const MAX_PARAMS: u64 = 1000;
/// Largest `-tool-schema-depth`: each level is two JSON nesting levels, and common parsers
/// (serde_json, Python's json in some builds) refuse documents nested deeper than 128.
pub const MAX_SCHEMA_DEPTH: u64 = 50;
/// Default `-max-payload-size`: the most a client may ask for with `payload_size`.
pub const DEFAULT_MAX_PAYLOAD_SIZE: u64 = 10 * 1024 * 1024;

/// A value per item: fixed, or drawn uniformly from `lo..=hi` by a hash of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    pub lo: u64,
    pub hi: u64,
}

impl Spread {
    pub const fn fixed(v: u64) -> Self {
        Self { lo: v, hi: v }
    }

    /// `N` or `LO-HI` (inclusive); `parse_int` reads each number.
    pub fn parse(
        s: &str,
        max: u64,
        parse_int: impl Fn(&str) -> Result<i64, &'static str>,
    ) -> Result<Self, String> {
        let num = |t: &str| -> Result<u64, String> {
            let n = parse_int(t.trim()).map_err(str::to_string)?;
            if n < 0 {
                return Err("must not be negative".to_string());
            }
            if n as u64 > max {
                return Err(format!("must be at most {max}"));
            }
            Ok(n as u64)
        };
        // A leading '-' is a sign (and refused as negative), not a range.
        match s.get(1..).and_then(|rest| rest.find('-')).map(|i| i + 1) {
            None => num(s).map(Self::fixed),
            Some(i) => {
                let (lo, hi) = (num(&s[..i])?, num(&s[i + 1..])?);
                if lo > hi {
                    return Err("the range's low end is above its high end".to_string());
                }
                Ok(Self { lo, hi })
            }
        }
    }

    /// The value for item `index`; `salt` keeps different knobs independent.
    pub fn at(self, index: u64, salt: u64) -> u64 {
        if self.lo >= self.hi {
            return self.lo;
        }
        // hi is bounded far below u64::MAX by the flag limits: no overflow.
        self.lo + mix(index ^ salt) % (self.hi - self.lo + 1)
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// SplitMix64's finalizer: a fast, well-mixed hash of one word.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const SALT_SIZE: [u64; 3] = [0x51_7E, 0x7E_50, 0x9_0417];
const SALT_DESCRIPTION: u64 = 0xDE5C_0000;
const SALT_PARAMS: u64 = 0x9A7A_0000_0000;
const SALT_DEPTH: u64 = 0xDE97_0000_0000_0000;
const SALT_ENUM: u64 = 0xE_0000_0000_E000;

/// What a call, read or prompt returns (`-content`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Content {
    #[default]
    Text,
    Image,
    Audio,
    Blob,
    /// Item `N` gets text, image, audio, blob for `N mod 4` = 0, 1, 2, 3.
    Mixed,
}

impl Content {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "text" => Content::Text,
            "image" => Content::Image,
            "audio" => Content::Audio,
            "blob" => Content::Blob,
            "mixed" => Content::Mixed,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Content::Text => "text",
            Content::Image => "image",
            Content::Audio => "audio",
            Content::Blob => "blob",
            Content::Mixed => "mixed",
        }
    }

    /// The content kind of item `index`.
    pub fn at(self, index: u64) -> Content {
        match self {
            Content::Mixed => {
                [Content::Text, Content::Image, Content::Audio, Content::Blob][(index % 4) as usize]
            }
            k => k,
        }
    }

    /// The MIME type of content of this kind (`at` already applied).
    pub fn mime(self) -> &'static str {
        match self {
            Content::Text | Content::Mixed => "application/json",
            Content::Image => "image/png",
            Content::Audio => "audio/wav",
            Content::Blob => "application/octet-stream",
        }
    }
}

/// The realism knobs of one catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Realism {
    /// Payload size of tools, resources and prompts (`-tool-size=1000-5000`).
    pub sizes: [Spread; 3],
    /// Tools take and advertise a `payload_size` argument (`-payload-size-arg`).
    pub payload_size_arg: bool,
    /// The largest `payload_size` a call may ask for.
    pub max_payload_size: u64,
    /// Exact length of tool descriptions; `None` = the default text.
    pub description_size: Option<Spread>,
    /// Number of `paramN` properties; `None` = the default two.
    pub params: Option<Spread>,
    /// Object levels of the `nested` property (0 = none).
    pub schema_depth: Spread,
    /// Values in each parameter's `enum` (0 = no enum).
    pub enum_size: Spread,
    pub content: Content,
    /// `outputSchema` on tools, `structuredContent` in results.
    pub structured: bool,
    /// `-churn`: items come and go over time.
    pub churn: Option<crate::churn::Churn>,
}

impl Realism {
    /// Every knob off, with these fixed sizes.
    pub fn off(sizes: [u64; 3]) -> Self {
        Self {
            sizes: sizes.map(Spread::fixed),
            payload_size_arg: false,
            max_payload_size: DEFAULT_MAX_PAYLOAD_SIZE,
            description_size: None,
            params: None,
            schema_depth: Spread::fixed(0),
            enum_size: Spread::fixed(0),
            content: Content::Text,
            structured: false,
            churn: None,
        }
    }

    /// No knob changes anything: the catalog can take its default paths.
    pub fn is_off(&self) -> bool {
        let off = Self {
            max_payload_size: self.max_payload_size,
            ..Self::off(self.sizes.map(|s| s.lo))
        };
        *self == off
    }

    /// Payload size of item `index` of `kind` (before any per-call `payload_size`).
    pub fn size(&self, kind: Kind, index: u64) -> u64 {
        let k = kind_slot(kind);
        self.sizes[k].at(index, SALT_SIZE[k])
    }

    /// The largest payload size of `kind` (the high end of its range).
    pub fn max_size(&self, kind: Kind) -> u64 {
        self.sizes[kind_slot(kind)].hi
    }

    /// Whether tool definitions differ from the default template.
    pub fn shapes_tools(&self) -> bool {
        self.payload_size_arg
            || self.structured
            || self.description_size.is_some()
            || self.params.is_some()
            || self.schema_depth != Spread::fixed(0)
            || self.enum_size != Spread::fixed(0)
    }

    /// The knobs in effect, for the start-up log line.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "sizes={}/{}/{} content={}",
            self.sizes[0],
            self.sizes[1],
            self.sizes[2],
            self.content.as_str()
        );
        if self.payload_size_arg {
            s += &format!(" payload-size-arg (max {})", self.max_payload_size);
        }
        if let Some(d) = self.description_size {
            s += &format!(" description-size={d}");
        }
        if let Some(p) = self.params {
            s += &format!(" params={p}");
        }
        s += &format!(
            " schema-depth={} enum-size={} structured={}",
            self.schema_depth, self.enum_size, self.structured
        );
        if let Some(c) = self.churn {
            s += &format!(" churn={:?}:{}", c.interval, c.count);
        }
        s
    }
}

fn kind_slot(kind: Kind) -> usize {
    match kind {
        Kind::Tool => 0,
        Kind::Resource => 1,
        Kind::Prompt => 2,
    }
}

/// The `outputSchema` of every tool under `-structured`: what `structuredContent` holds.
pub const OUTPUT_SCHEMA: &str = "{\"type\":\"object\",\"properties\":{\
\"arguments\":{\"type\":[\"object\",\"null\"],\"description\":\"The arguments as sent\"},\
\"data\":{\"type\":\"string\",\"description\":\"The payload\"},\
\"timestamp\":{\"type\":\"string\",\"format\":\"date-time\"},\
\"tool\":{\"type\":\"string\"}},\
\"required\":[\"arguments\",\"data\",\"timestamp\",\"tool\"],\"additionalProperties\":false}";

/// Writes tool `index`'s definition (`n` = its decimal digits) with the knobs applied.
/// Kept out of line so the default definition writer stays as small as it was.
#[cold]
#[inline(never)]
pub fn write_tool_definition(out: &mut Vec<u8>, r: &Realism, n: &[u8], index: u64) {
    out.extend_from_slice(b"{\"name\":\"benchmark_tool_");
    out.extend_from_slice(n);
    out.extend_from_slice(b"\",\"description\":\"");
    match r.description_size {
        None => {
            out.extend_from_slice(b"Benchmark tool #");
            out.extend_from_slice(n);
            out.extend_from_slice(b" - returns test data");
        }
        Some(d) => write_exact_text(
            out,
            &[b"Benchmark tool #", n, b" - returns test data. "],
            d.at(index, SALT_DESCRIPTION),
        ),
    }
    out.extend_from_slice(b"\",\"inputSchema\":{\"type\":\"object\",\"properties\":{");
    let params = r.params.map_or(2, |p| p.at(index, SALT_PARAMS));
    let enum_size = r.enum_size.at(index, SALT_ENUM);
    let mut first = true;
    let mut comma = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
    };
    for k in 1..=params {
        comma(out);
        out.extend_from_slice(b"\"param");
        write_u64(out, k);
        out.extend_from_slice(b"\":{\"type\":\"string\",\"description\":\"Optional parameter ");
        write_u64(out, k);
        out.push(b'"');
        if enum_size > 0 {
            out.extend_from_slice(b",\"enum\":[");
            for e in 0..enum_size {
                if e > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"\"option_");
                write_u64(out, e);
                out.push(b'"');
            }
            out.push(b']');
        }
        out.push(b'}');
    }
    let depth = r.schema_depth.at(index, SALT_DEPTH);
    if depth > 0 {
        comma(out);
        out.extend_from_slice(b"\"nested\":");
        for level in 1..=depth {
            out.extend_from_slice(b"{\"type\":\"object\",\"description\":\"Nesting level ");
            write_u64(out, level);
            out.extend_from_slice(b"\",\"properties\":{");
            if level < depth {
                out.extend_from_slice(b"\"nested\":");
            }
        }
        out.extend_from_slice(b"\"value\":{\"type\":\"string\"}");
        for _ in 0..depth {
            out.extend_from_slice(b"}}");
        }
    }
    if r.payload_size_arg {
        comma(out);
        out.extend_from_slice(b"\"payload_size\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":");
        write_u64(out, r.max_payload_size);
        out.extend_from_slice(b",\"default\":");
        write_u64(out, r.size(Kind::Tool, index));
        out.extend_from_slice(b",\"description\":\"Size in bytes of this call's data payload\"}");
    }
    out.extend_from_slice(b"}}");
    if r.structured {
        out.extend_from_slice(b",\"outputSchema\":");
        out.extend_from_slice(OUTPUT_SCHEMA.as_bytes());
    }
    out.extend_from_slice(b",\"annotations\":{\"title\":\"Benchmark Tool ");
    out.extend_from_slice(n);
    out.extend_from_slice(
        b"\",\"readOnlyHint\":true,\"destructiveHint\":false,\
\"idempotentHint\":true,\"openWorldHint\":false}}",
    );
}

/// Ends a resource definition with the MIME type of its content kind.
#[cold]
#[inline(never)]
pub fn write_resource_definition_end(out: &mut Vec<u8>, r: &Realism, index: u64) {
    out.extend_from_slice(b" - returns test data\",\"mimeType\":\"");
    out.extend_from_slice(r.content.at(index).mime().as_bytes());
    out.extend_from_slice(b"\"}");
}

/// The parts of a response after its first large payload, written as the transport sends.
#[derive(Debug, Default)]
pub struct Segments {
    parts: std::collections::VecDeque<Segment>,
}

#[derive(Debug)]
enum Segment {
    Bytes(Vec<u8>),
    Text(FillerStream),
    Base64(Base64Stream),
}

impl Segments {
    /// Appends roughly `budget` more bytes; returns `true` once everything is written.
    pub fn write_more(&mut self, out: &mut Vec<u8>, budget: usize) -> bool {
        let limit = out.len() + budget;
        while let Some(front) = self.parts.front_mut() {
            if out.len() >= limit {
                return false;
            }
            let room = (limit - out.len()) as u64;
            let done = match front {
                Segment::Bytes(b) => {
                    out.extend_from_slice(b);
                    true
                }
                Segment::Text(f) => {
                    f.write(out, room);
                    f.is_done()
                }
                Segment::Base64(s) => {
                    s.write(out, room);
                    s.is_done()
                }
            };
            if done {
                self.parts.pop_front();
            }
        }
        true
    }
}

/// Writes a response into `out` until its first large payload, then into [`Segments`]: small
/// responses are written whole without allocating, large ones are streamed.
struct Builder<'a> {
    out: &'a mut Vec<u8>,
    rest: Option<Segments>,
}

impl<'a> Builder<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out, rest: None }
    }

    /// Where the next literal bytes go.
    fn target(&mut self) -> &mut Vec<u8> {
        let Some(rest) = &mut self.rest else {
            return self.out;
        };
        if !matches!(rest.parts.back(), Some(Segment::Bytes(_))) {
            rest.parts
                .push_back(Segment::Bytes(Vec::with_capacity(128)));
        }
        match rest.parts.back_mut() {
            Some(Segment::Bytes(b)) => b,
            _ => unreachable!("a bytes segment was just pushed"),
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        self.target().extend_from_slice(bytes);
    }

    fn timestamp(&mut self) {
        write_timestamp_now(self.target());
    }

    /// The text payload for `name` (no JSON escaping needed at any level).
    fn text_payload(&mut self, name: &[u8], size: u64) {
        let mut filler = write_payload_start(self.target(), name, size);
        if self.rest.is_none() && filler.remaining() <= CHUNK_BYTES as u64 {
            filler.write(self.out, u64::MAX);
        } else {
            self.rest
                .get_or_insert_with(Segments::default)
                .parts
                .push_back(Segment::Text(filler));
        }
    }

    /// The same payload as base64: `size` decoded bytes.
    fn base64_payload(&mut self, name: &[u8], size: u64) {
        let mut stream = Base64Stream::new(name, size);
        if self.rest.is_none() && stream.remaining() <= CHUNK_BYTES as u64 {
            stream.write(self.out, u64::MAX);
        } else {
            self.rest
                .get_or_insert_with(Segments::default)
                .parts
                .push_back(Segment::Base64(stream));
        }
    }

    fn finish(self) -> Reply {
        match self.rest {
            None => Reply::Complete,
            Some(mut rest) => {
                if rest.write_more(self.out, CHUNK_BYTES) {
                    Reply::Complete
                } else {
                    Reply::Partial(Continuation::Segments(rest))
                }
            }
        }
    }
}

/// The payload size of one call: `payload_size` from the arguments when the knob allows it,
/// else the tool's own.
fn call_size(r: &Realism, index: u64, args: Option<Value<'_, '_>>) -> Result<u64, String> {
    let asked = r
        .payload_size_arg
        .then(|| args.and_then(|a| a.get("payload_size")))
        .flatten()
        .filter(|v| v.value_type() != ValueType::Null);
    let Some(v) = asked else {
        return Ok(r.size(Kind::Tool, index));
    };
    let max = r.max_payload_size;
    match v.as_u64() {
        Some(n) if n <= max => Ok(n),
        Some(n) => Err(format!(
            "payload_size {n} is above the server's -max-payload-size of {max} bytes"
        )),
        None => Err(format!(
            "payload_size must be an integer from 0 to {max} (bytes)"
        )),
    }
}

/// Writes a benchmark tool's result fields (after `{"result":{`) with the knobs applied.
pub fn write_call(
    r: &Realism,
    catalog: &Catalog,
    index: u64,
    args: Option<Value<'_, '_>>,
    raw_args: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Result<Reply, String> {
    let size = call_size(r, index, args)?;
    let name = catalog.name(Kind::Tool, index);
    let name = name.as_bytes();
    let mut b = Builder::new(out);
    b.put(b"\"content\":[");
    match r.content.at(index) {
        Content::Text | Content::Mixed => {
            b.put(b"{\"type\":\"text\",\"text\":\"{\\\"arguments\\\":");
            match raw_args {
                Some(span) => write_escaped(b.target(), span),
                None => b.put(b"null"),
            }
            b.put(b",\\\"data\\\":\\\"");
            b.text_payload(name, size);
            b.put(b"\\\",\\\"timestamp\\\":\\\"");
            b.timestamp();
            b.put(b"\\\",\\\"tool\\\":\\\"");
            b.put(name);
            b.put(b"\\\"}\"}");
        }
        kind @ (Content::Image | Content::Audio) => {
            b.put(if kind == Content::Image {
                b"{\"type\":\"image\",\"mimeType\":\"image/png\",\"data\":\""
            } else {
                b"{\"type\":\"audio\",\"mimeType\":\"audio/wav\",\"data\":\""
            });
            b.base64_payload(name, size);
            b.put(b"\"}");
        }
        Content::Blob => {
            b.put(b"{\"type\":\"resource\",\"resource\":{\"uri\":\"benchmark://");
            b.put(name);
            b.put(b"/data\",\"mimeType\":\"application/octet-stream\",\"blob\":\"");
            b.base64_payload(name, size);
            b.put(b"\"}}");
        }
    }
    b.put(b"]");
    if r.structured {
        b.put(b",\"structuredContent\":{\"arguments\":");
        b.put(raw_args.unwrap_or(b"null"));
        b.put(b",\"data\":\"");
        b.text_payload(name, size);
        b.put(b"\",\"timestamp\":\"");
        b.timestamp();
        b.put(b"\",\"tool\":\"");
        b.put(name);
        b.put(b"\"}");
    }
    b.put(b"}}");
    Ok(b.finish())
}

/// Writes a benchmark resource's `contents` (after `{"result":{`) with the knobs applied.
pub fn write_read(r: &Realism, catalog: &Catalog, index: u64, out: &mut Vec<u8>) -> Reply {
    let size = r.size(Kind::Resource, index);
    let name = catalog.name(Kind::Resource, index);
    let name = name.as_bytes();
    let mut b = Builder::new(out);
    b.put(b"\"contents\":[{\"uri\":\"");
    catalog.write_resource_uri(b.target(), index);
    match r.content.at(index) {
        Content::Text | Content::Mixed => {
            b.put(b"\",\"mimeType\":\"application/json\",\"text\":\"{\\\"data\\\":\\\"");
            b.text_payload(name, size);
            b.put(b"\\\",\\\"resource\\\":\\\"");
            b.put(name);
            b.put(b"\\\",\\\"timestamp\\\":\\\"");
            b.timestamp();
            b.put(b"\\\"}\"}]}}");
        }
        kind => {
            b.put(b"\",\"mimeType\":\"");
            b.put(kind.mime().as_bytes());
            b.put(b"\",\"blob\":\"");
            b.base64_payload(name, size);
            b.put(b"\"}]}}");
        }
    }
    b.finish()
}

/// Completes a benchmark prompt's result after the text message's header: the text payload,
/// or a second message with the binary content.
pub fn finish_prompt(r: &Realism, catalog: &Catalog, index: u64, out: &mut Vec<u8>) -> Reply {
    let size = r.size(Kind::Prompt, index);
    let name = catalog.name(Kind::Prompt, index);
    let name = name.as_bytes();
    let mut b = Builder::new(out);
    match r.content.at(index) {
        Content::Text | Content::Mixed => {
            b.text_payload(name, size);
            b.put(b"\"}}]}}");
        }
        kind @ (Content::Image | Content::Audio) => {
            b.put(b"\"}},{\"role\":\"user\",\"content\":{\"type\":\"");
            b.put(kind.as_str().as_bytes());
            b.put(b"\",\"mimeType\":\"");
            b.put(kind.mime().as_bytes());
            b.put(b"\",\"data\":\"");
            b.base64_payload(name, size);
            b.put(b"\"}}]}}");
        }
        Content::Blob => {
            b.put(
                b"\"}},{\"role\":\"user\",\"content\":{\"type\":\"resource\",\"resource\":{\"uri\":\"benchmark://",
            );
            b.put(name);
            b.put(b"/data\",\"mimeType\":\"application/octet-stream\",\"blob\":\"");
            b.base64_payload(name, size);
            b.put(b"\"}}}]}}");
        }
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(s: &str) -> Result<i64, &'static str> {
        s.parse().map_err(|_| "not an integer")
    }

    #[test]
    fn spreads_parse_fixed_values_and_ranges() {
        assert_eq!(Spread::parse("5000", 1 << 40, int), Ok(Spread::fixed(5000)));
        assert_eq!(
            Spread::parse("1000-5000", 1 << 40, int),
            Ok(Spread { lo: 1000, hi: 5000 })
        );
        assert!(Spread::parse("-5", 100, int).is_err());
        assert!(Spread::parse("5-1", 100, int).is_err());
        assert!(Spread::parse("1-200", 100, int).is_err());
        assert!(Spread::parse("1-", 100, int).is_err());
        assert!(Spread::parse("x", 100, int).is_err());
    }

    #[test]
    fn spreads_are_deterministic_and_cover_the_range() {
        let s = Spread { lo: 10, hi: 19 };
        let mut seen = [0u32; 10];
        for i in 0..10_000 {
            let v = s.at(i, 7);
            assert_eq!(v, s.at(i, 7));
            assert!((10..=19).contains(&v));
            seen[(v - 10) as usize] += 1;
        }
        // Uniform: each of 10 values near 1,000 of 10,000 draws.
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
        assert_eq!(Spread::fixed(5).at(123, 9), 5);
    }

    #[test]
    fn off_means_off() {
        let r = Realism::off([1, 2, 3]);
        assert!(r.is_off() && !r.shapes_tools());
        let on = Realism {
            structured: true,
            ..r.clone()
        };
        assert!(!on.is_off() && on.shapes_tools());
        let spread = Realism {
            sizes: [Spread { lo: 1, hi: 9 }, Spread::fixed(2), Spread::fixed(3)],
            ..r
        };
        assert!(!spread.is_off() && !spread.shapes_tools());
    }

    #[test]
    fn mixed_content_cycles_by_index() {
        let kinds: Vec<Content> = (0..5).map(|i| Content::Mixed.at(i)).collect();
        assert_eq!(
            kinds,
            [
                Content::Text,
                Content::Image,
                Content::Audio,
                Content::Blob,
                Content::Text
            ]
        );
        assert_eq!(Content::Image.at(3), Content::Image);
    }

    #[test]
    fn heavy_definitions_have_the_requested_shape() {
        let r = Realism {
            description_size: Some(Spread::fixed(300)),
            params: Some(Spread::fixed(7)),
            schema_depth: Spread::fixed(4),
            enum_size: Spread::fixed(3),
            payload_size_arg: true,
            structured: true,
            ..Realism::off([100, 100, 100])
        };
        let mut out = Vec::new();
        write_tool_definition(&mut out, &r, b"12", 12);
        let t: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(t["name"], "benchmark_tool_12");
        assert_eq!(t["description"].as_str().unwrap().len(), 300);
        let props = t["inputSchema"]["properties"].as_object().unwrap();
        assert_eq!(props.len(), 7 + 2, "7 params, nested, payload_size");
        assert_eq!(props["param7"]["enum"].as_array().unwrap().len(), 3);
        assert_eq!(props["payload_size"]["default"], 100);
        let mut level = &props["nested"];
        let mut depth = 0;
        while level["type"] == "object" {
            depth += 1;
            level = level["properties"]
                .get("nested")
                .unwrap_or(&level["properties"]["value"]);
        }
        assert_eq!(depth, 4);
        assert_eq!(t["outputSchema"]["type"], "object");
    }
}
