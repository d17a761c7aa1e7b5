//! The lazy virtual catalog: tools, resources and prompts that exist only as arithmetic.
//!
//! Item `N` of each kind is defined by its index alone. Its definition is written from a
//! template on demand, a name or URI is turned back into an index by parsing it, and a list
//! cursor is the (base64) name of the last item returned, so any replica with the same catalog
//! can continue a listing. Nothing per item is ever stored: memory and start-up time are the
//! same for 10 items or 10 million.
//!
//! This module knows nothing about JSON-RPC or transports; it writes JSON fragments only.

use std::ops::Range;

use crate::fixtures;
use crate::json::write_u64;
use crate::realism::{self, Realism};

/// The three kinds of catalog item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tool,
    Resource,
    Prompt,
}

/// URI template under which resources can also be addressed by index.
pub const RESOURCE_TEMPLATE_SUFFIX: &str = "{index}";

/// Counts, sizes and naming of one server's catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub tools: u64,
    pub resources: u64,
    pub prompts: u64,
    pub tool_size: u64,
    pub resource_size: u64,
    pub prompt_size: u64,
    /// Resource URIs are `<resource_uri_prefix><N>`.
    resource_uri_prefix: String,
    /// The name a resource's payload speaks of is `<resource_label_prefix><N>`.
    resource_label_prefix: String,
    /// `-profile=conformance`: the suite's fixtures follow the benchmark items.
    fixtures: bool,
    /// The realism knobs, when any is on (`None` keeps every default path).
    realism: Option<Box<Realism>>,
    /// `fixtures` or `realism`: definitions leave the default template. Listing tests this
    /// one flag per item, the only per-item test there was before realism existed.
    shaped: bool,
}

const TOOL_PREFIX: &str = "benchmark_tool_";
const PROMPT_PREFIX: &str = "benchmark_prompt_";

impl Catalog {
    /// A single server's catalog: resources at `benchmark://benchmark_resource_N`.
    pub fn new(counts: [u64; 3], sizes: [u64; 3]) -> Self {
        Self {
            tools: counts[0],
            resources: counts[1],
            prompts: counts[2],
            tool_size: sizes[0],
            resource_size: sizes[1],
            prompt_size: sizes[2],
            resource_uri_prefix: "benchmark://benchmark_resource_".to_string(),
            resource_label_prefix: "benchmark_resource_".to_string(),
            fixtures: false,
            realism: None,
            shaped: false,
        }
    }

    /// Applies the realism knobs; knobs that are all off leave the catalog as it is.
    pub fn with_realism(mut self, realism: Realism) -> Self {
        if realism.churn.is_some() {
            // The churn clock starts with the server, not at its first request.
            crate::churn::epoch();
        }
        self.realism = (!realism.is_off()).then(|| Box::new(realism));
        self.shaped = self.fixtures || self.realism.is_some();
        self
    }

    pub fn realism(&self) -> Option<&Realism> {
        self.realism.as_deref()
    }

    /// `-churn`, when on.
    pub fn churn(&self) -> Option<crate::churn::Churn> {
        self.realism.as_ref().and_then(|r| r.churn)
    }

    /// The listed range now: its first index and its length (the whole catalog, from 0,
    /// unless it churns).
    pub fn window(&self, kind: Kind) -> (u64, u64) {
        match self.churn() {
            None => (0, self.listed(kind)),
            Some(c) => (c.first(c.generation()), self.count(kind)),
        }
    }

    /// Whether benchmark item `index` of `kind` exists now.
    fn exists(&self, kind: Kind, index: u64) -> bool {
        match self.churn() {
            None => index < self.count(kind),
            Some(c) => {
                let first = c.first(c.generation());
                index >= first && index - first < self.count(kind)
            }
        }
    }

    /// Payload size of item `index` of `kind`.
    pub fn size(&self, kind: Kind, index: u64) -> u64 {
        match &self.realism {
            Some(r) => r.size(kind, index),
            None => match kind {
                Kind::Tool => self.tool_size,
                Kind::Resource => self.resource_size,
                Kind::Prompt => self.prompt_size,
            },
        }
    }

    /// Adds the conformance suite's fixtures after the benchmark items of each kind.
    pub fn with_fixtures(mut self) -> Self {
        self.fixtures = true;
        self.shaped = true;
        self
    }

    pub fn has_fixtures(&self) -> bool {
        self.fixtures
    }

    /// How many items `*/list` returns: the benchmark items, then any fixtures.
    pub fn listed(&self, kind: Kind) -> u64 {
        let extra = if !self.fixtures {
            0
        } else {
            match kind {
                Kind::Tool => fixtures::TOOLS.len(),
                Kind::Resource => fixtures::RESOURCES.len(),
                Kind::Prompt => fixtures::PROMPTS.len(),
            }
        };
        self.count(kind) + extra as u64
    }

    /// The fixture behind listed position `index`, as its offset in the fixture table.
    pub fn fixture(&self, kind: Kind, index: u64) -> Option<usize> {
        let count = self.count(kind);
        (self.fixtures && index >= count && index < self.listed(kind))
            .then(|| (index - count) as usize)
    }

    /// Instance `id` of a multi-server run: resources at `benchmark://server<id>/resource_N`
    /// (the Go server's scheme), so a gateway federating several instances sees distinct URIs.
    pub fn for_instance(mut self, id: u32) -> Self {
        self.resource_uri_prefix = format!("benchmark://server{id}/resource_");
        self.resource_label_prefix = "resource_".to_string();
        self
    }

    pub fn count(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Tool => self.tools,
            Kind::Resource => self.resources,
            Kind::Prompt => self.prompts,
        }
    }

    pub fn resource_uri_prefix(&self) -> &str {
        &self.resource_uri_prefix
    }

    /// Writes the name of item `index`: `benchmark_tool_N`, `benchmark_resource_N` (or
    /// `resource_N` in multi-server mode) or `benchmark_prompt_N`.
    pub fn write_name(&self, out: &mut Vec<u8>, kind: Kind, index: u64) {
        out.extend_from_slice(self.name(kind, index).as_bytes());
    }

    /// The name of item `index`, on the stack.
    pub fn name(&self, kind: Kind, index: u64) -> ItemName {
        if let Some(f) = self.fixture(kind, index) {
            let name = match kind {
                Kind::Tool => fixtures::TOOLS[f].name,
                Kind::Resource => fixtures::RESOURCES[f].uri,
                Kind::Prompt => fixtures::PROMPTS[f].name,
            };
            let mut item = ItemName {
                buf: [0; 48],
                len: name.len().min(48),
            };
            item.buf[..item.len].copy_from_slice(&name.as_bytes()[..item.len]);
            return item;
        }
        let prefix = match kind {
            Kind::Tool => TOOL_PREFIX.as_bytes(),
            Kind::Resource => self.resource_label_prefix.as_bytes(),
            Kind::Prompt => PROMPT_PREFIX.as_bytes(),
        };
        let digits = Digits::new(index);
        let digits = digits.as_bytes();
        let mut name = ItemName {
            buf: [0; 48],
            len: prefix.len() + digits.len(),
        };
        name.buf[..prefix.len()].copy_from_slice(prefix);
        name.buf[prefix.len()..name.len].copy_from_slice(digits);
        name
    }

    /// Writes the URI of resource `index`.
    pub fn write_resource_uri(&self, out: &mut Vec<u8>, index: u64) {
        out.extend_from_slice(self.resource_uri_prefix.as_bytes());
        write_u64(out, index);
    }

    /// Writes the JSON definition of item `index` (as listed by `*/list`). Inline, so that a
    /// caller's loop over one kind can decide the template once.
    #[inline]
    pub fn write_definition(&self, out: &mut Vec<u8>, kind: Kind, index: u64) {
        if self.shaped {
            self.write_shaped_definition(out, kind, index);
            return;
        }
        let n = Digits::new(index);
        let n = n.as_bytes();
        match kind {
            Kind::Tool => write_default_tool(out, n),
            Kind::Resource => {
                self.write_default_resource_start(out, n);
                out.extend_from_slice(DEFAULT_RESOURCE_END);
            }
            Kind::Prompt => write_default_prompt(out, n),
        }
    }

    /// Writes the definitions of `items` as `*/list` does, comma-separated (a comma before the
    /// first one when `started`), until `out` reaches `limit` bytes; `items.start` moves past
    /// what was written. The template is chosen once per call, not per item.
    pub fn write_definitions(
        &self,
        out: &mut Vec<u8>,
        kind: Kind,
        items: &mut Range<u64>,
        limit: usize,
        started: &mut bool,
    ) {
        if self.shaped {
            let write = |out: &mut Vec<u8>, i| self.write_shaped_definition(out, kind, i);
            return write_each(out, items, limit, started, write);
        }
        match kind {
            Kind::Tool => write_each(out, items, limit, started, |out, i| {
                write_default_tool(out, Digits::new(i).as_bytes());
            }),
            Kind::Resource => write_each(out, items, limit, started, |out, i| {
                self.write_default_resource_start(out, Digits::new(i).as_bytes());
                out.extend_from_slice(DEFAULT_RESOURCE_END);
            }),
            Kind::Prompt => write_each(out, items, limit, started, |out, i| {
                write_default_prompt(out, Digits::new(i).as_bytes());
            }),
        }
    }

    /// [`Self::write_definition`] with fixtures or realism on: the fixture at `index`, or the
    /// benchmark item with the knobs applied. Out of line, so the default writer is as it was.
    #[cold]
    #[inline(never)]
    fn write_shaped_definition(&self, out: &mut Vec<u8>, kind: Kind, index: u64) {
        if let Some(f) = self.fixture(kind, index) {
            out.extend_from_slice(match kind {
                Kind::Tool => fixtures::TOOLS[f].definition.as_bytes(),
                Kind::Resource => fixtures::RESOURCES[f].definition.as_bytes(),
                Kind::Prompt => fixtures::PROMPTS[f].definition.as_bytes(),
            });
            return;
        }
        let n = Digits::new(index);
        let n = n.as_bytes();
        match (kind, self.realism.as_deref()) {
            (Kind::Tool, Some(r)) if r.shapes_tools() => {
                realism::write_tool_definition(out, r, n, index);
            }
            (Kind::Tool, _) => write_default_tool(out, n),
            (Kind::Resource, Some(r)) => {
                self.write_default_resource_start(out, n);
                realism::write_resource_definition_end(out, r, index);
            }
            (Kind::Resource, None) => {
                self.write_default_resource_start(out, n);
                out.extend_from_slice(DEFAULT_RESOURCE_END);
            }
            (Kind::Prompt, _) => write_default_prompt(out, n),
        }
    }

    /// A default resource definition up to its description's index (`n`, decimal digits).
    #[inline(always)]
    fn write_default_resource_start(&self, out: &mut Vec<u8>, n: &[u8]) {
        out.extend_from_slice(b"{\"uri\":\"");
        // The prefixes are ours and plain ASCII: copied, not escaped, per item.
        out.extend_from_slice(self.resource_uri_prefix.as_bytes());
        out.extend_from_slice(n);
        out.extend_from_slice(b"\",\"name\":\"");
        out.extend_from_slice(self.resource_label_prefix.as_bytes());
        out.extend_from_slice(n);
        out.extend_from_slice(b"\",\"title\":\"Benchmark Resource ");
        out.extend_from_slice(n);
        out.extend_from_slice(b"\",\"description\":\"Benchmark resource #");
        out.extend_from_slice(n);
    }

    /// The index of the tool called `name`, if it exists.
    pub fn tool_index(&self, name: &str) -> Option<u64> {
        name.strip_prefix(TOOL_PREFIX)
            .and_then(parse_index)
            .filter(|&i| self.exists(Kind::Tool, i))
            .or_else(|| {
                self.fixture_position(Kind::Tool, |i| fixtures::TOOLS.get(i).map(|t| t.name), name)
            })
    }

    /// The listed position of the fixture whose key (name or URI) is `key`.
    fn fixture_position(
        &self,
        kind: Kind,
        key_of: impl Fn(usize) -> Option<&'static str>,
        key: &str,
    ) -> Option<u64> {
        if !self.fixtures {
            return None;
        }
        (0..)
            .map_while(&key_of)
            .position(|k| k == key)
            .map(|p| self.count(kind) + p as u64)
    }

    /// The index of the prompt called `name`, if it exists.
    pub fn prompt_index(&self, name: &str) -> Option<u64> {
        name.strip_prefix(PROMPT_PREFIX)
            .and_then(parse_index)
            .filter(|&i| self.exists(Kind::Prompt, i))
            .or_else(|| {
                self.fixture_position(
                    Kind::Prompt,
                    |i| fixtures::PROMPTS.get(i).map(|p| p.name),
                    name,
                )
            })
    }

    /// The index of the resource at `uri`, if it exists.
    pub fn resource_index(&self, uri: &str) -> Option<u64> {
        uri.strip_prefix(self.resource_uri_prefix.as_str())
            .and_then(parse_index)
            .filter(|&i| self.exists(Kind::Resource, i))
            .or_else(|| {
                self.fixture_position(
                    Kind::Resource,
                    |i| fixtures::RESOURCES.get(i).map(|r| r.uri),
                    uri,
                )
            })
    }

    /// The index of the item called `name` (resources by their label name).
    fn index_by_name(&self, kind: Kind, name: &str) -> Option<u64> {
        match kind {
            Kind::Tool => self.tool_index(name),
            Kind::Prompt => self.prompt_index(name),
            Kind::Resource => name
                .strip_prefix(self.resource_label_prefix.as_str())
                .and_then(parse_index)
                .filter(|&i| self.exists(Kind::Resource, i))
                .or_else(|| self.resource_index(name).filter(|&i| i >= self.resources)),
        }
    }

    /// Writes the cursor that continues a listing after item `last` (base64 of its name,
    /// the Go server's format).
    pub fn write_cursor(&self, out: &mut Vec<u8>, kind: Kind, last: u64) {
        base64_encode(out, self.name(kind, last).as_bytes());
    }

    /// The offset at which a listing continues after `cursor`, or `None` if the cursor was not
    /// issued for this kind and catalog.
    pub fn decode_cursor(&self, kind: Kind, cursor: &str) -> Option<u64> {
        let name = base64_decode(cursor.as_bytes())?;
        let name = std::str::from_utf8(&name).ok()?;
        if self.churn().is_some() {
            // A cursor naming an item that has since left the window continues at its start.
            let prefix = match kind {
                Kind::Tool => TOOL_PREFIX,
                Kind::Resource => self.resource_label_prefix.as_str(),
                Kind::Prompt => PROMPT_PREFIX,
            };
            let index = name.strip_prefix(prefix).and_then(parse_index)?;
            let (first, count) = self.window(kind);
            return (index < first.saturating_add(count)).then(|| (index + 1).max(first));
        }
        self.index_by_name(kind, name).map(|i| i + 1)
    }
}

/// The listing loop of [`Catalog::write_definitions`], one copy per template.
#[inline(always)]
fn write_each(
    out: &mut Vec<u8>,
    items: &mut Range<u64>,
    limit: usize,
    started: &mut bool,
    mut write: impl FnMut(&mut Vec<u8>, u64),
) {
    while items.start < items.end && out.len() < limit {
        if *started {
            out.push(b',');
        }
        write(out, items.start);
        items.start += 1;
        *started = true;
    }
}

/// The rest of a default resource definition (the Go server's).
const DEFAULT_RESOURCE_END: &[u8] = b" - returns test data\",\"mimeType\":\"application/json\"}";

/// The Go server's definition of tool `n` (decimal digits).
#[inline(always)]
fn write_default_tool(out: &mut Vec<u8>, n: &[u8]) {
    out.extend_from_slice(b"{\"name\":\"benchmark_tool_");
    out.extend_from_slice(n);
    out.extend_from_slice(b"\",\"description\":\"Benchmark tool #");
    out.extend_from_slice(n);
    out.extend_from_slice(
        b" - returns test data\",\"inputSchema\":{\"type\":\"object\",\"properties\":{\
\"param1\":{\"type\":\"string\",\"description\":\"Optional parameter 1\"},\
\"param2\":{\"type\":\"string\",\"description\":\"Optional parameter 2\"}}},\
\"annotations\":{\"title\":\"Benchmark Tool ",
    );
    out.extend_from_slice(n);
    out.extend_from_slice(
        b"\",\"readOnlyHint\":true,\"destructiveHint\":false,\
\"idempotentHint\":true,\"openWorldHint\":false}}",
    );
}

/// The Go server's definition of prompt `n` (decimal digits).
#[inline(always)]
fn write_default_prompt(out: &mut Vec<u8>, n: &[u8]) {
    out.extend_from_slice(b"{\"name\":\"benchmark_prompt_");
    out.extend_from_slice(n);
    out.extend_from_slice(b"\",\"description\":\"Benchmark prompt #");
    out.extend_from_slice(n);
    out.extend_from_slice(
        b" - returns test prompt\",\"arguments\":[\
{\"name\":\"arg1\",\"description\":\"Optional argument 1\"},\
{\"name\":\"arg2\",\"description\":\"Optional argument 2\"}]}",
    );
}

/// Parses a canonical decimal index: digits only, no sign, no leading zero (except `0`).
fn parse_index(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 19 || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    b.iter().try_fold(0u64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0'))
    })
}

/// An item's name held on the stack (prefixes are at most 19 bytes, indices 20 digits).
pub struct ItemName {
    buf: [u8; 48],
    len: usize,
}

impl ItemName {
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Decimal digits of an index on the stack.
struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    fn new(mut n: u64) -> Self {
        let mut buf = [0u8; 20];
        let mut start = buf.len();
        loop {
            start -= 1;
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Self { buf, start }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
fn base64_encode(out: &mut Vec<u8>, data: &[u8]) {
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(B64[(n >> 18) as usize & 63]);
        out.push(B64[(n >> 12) as usize & 63]);
        out.push(if chunk.len() > 1 {
            B64[(n >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(if chunk.len() > 2 {
            B64[n as usize & 63]
        } else {
            b'='
        });
    }
}

/// Strict standard base64 (padding required); `None` on anything else.
pub fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    if s.is_empty() || !s.len().is_multiple_of(4) || s.len() > 8192 {
        return None;
    }
    let val = |c: u8| B64.iter().position(|&x| x == c).map(|p| p as u32);
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let quads = s.len() / 4;
    for (qi, q) in s.chunks(4).enumerate() {
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && qi + 1 != quads) {
            return None;
        }
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::new([12, 5, 3], [1000, 1000, 1000])
    }

    fn definition(c: &Catalog, kind: Kind, i: u64) -> serde_json::Value {
        let mut out = Vec::new();
        c.write_definition(&mut out, kind, i);
        serde_json::from_slice(&out).expect("definition is valid JSON")
    }

    #[test]
    fn tool_definition_has_the_go_fields() {
        let t = definition(&catalog(), Kind::Tool, 7);
        assert_eq!(t["name"], "benchmark_tool_7");
        assert_eq!(t["description"], "Benchmark tool #7 - returns test data");
        assert_eq!(t["inputSchema"]["type"], "object");
        assert_eq!(t["inputSchema"]["properties"]["param1"]["type"], "string");
        assert_eq!(t["inputSchema"]["properties"]["param2"]["type"], "string");
        assert!(t["inputSchema"].get("required").is_none());
        assert_eq!(t["annotations"]["title"], "Benchmark Tool 7");
        assert_eq!(t["annotations"]["readOnlyHint"], true);
    }

    #[test]
    fn resource_and_prompt_definitions() {
        let r = definition(&catalog(), Kind::Resource, 4);
        assert_eq!(r["uri"], "benchmark://benchmark_resource_4");
        assert_eq!(r["name"], "benchmark_resource_4");
        assert_eq!(r["mimeType"], "application/json");
        let p = definition(&catalog(), Kind::Prompt, 2);
        assert_eq!(p["name"], "benchmark_prompt_2");
        assert_eq!(
            p["description"],
            "Benchmark prompt #2 - returns test prompt"
        );
        assert_eq!(p["arguments"][0]["name"], "arg1");
        assert_eq!(p["arguments"][1]["name"], "arg2");
    }

    #[test]
    fn the_page_writer_writes_what_the_item_writer_does() {
        use crate::realism::{Content, Spread};
        let heavy = Realism {
            content: Content::Mixed,
            params: Some(Spread::fixed(3)),
            structured: true,
            ..Realism::off([10, 10, 10])
        };
        let sizes_only = Realism {
            sizes: [Spread { lo: 1, hi: 9 }; 3],
            ..Realism::off([10, 10, 10])
        };
        for c in [
            catalog(),
            catalog().for_instance(4),
            catalog().with_fixtures(),
            catalog().with_realism(heavy.clone()),
            catalog().with_realism(sizes_only),
            catalog().with_realism(heavy).with_fixtures(),
            catalog().with_realism(Realism::off([1, 1, 1])),
        ] {
            for kind in [Kind::Tool, Kind::Resource, Kind::Prompt] {
                let listed = c.listed(kind);
                let mut one_by_one = Vec::new();
                for i in 0..listed {
                    if i > 0 {
                        one_by_one.push(b',');
                    }
                    c.write_definition(&mut one_by_one, kind, i);
                }
                let mut paged = Vec::new();
                let (mut items, mut started) = (0..listed, false);
                c.write_definitions(&mut paged, kind, &mut items, usize::MAX, &mut started);
                assert_eq!(paged, one_by_one, "{kind:?} {c:?}");
                assert_eq!((items.start, started), (listed, listed > 0));
                // A small limit stops after the item that reached it; the rest follows on.
                let mut pieces = Vec::new();
                let (mut items, mut started) = (0..listed, false);
                while !items.is_empty() {
                    let before = items.start;
                    let limit = pieces.len() + 1;
                    c.write_definitions(&mut pieces, kind, &mut items, limit, &mut started);
                    assert_eq!(items.start, before + 1);
                }
                assert_eq!(pieces, one_by_one, "{kind:?} in pieces");
            }
        }
        // Realism that changes nothing leaves the default writer in place.
        assert!(!catalog().with_realism(Realism::off([1, 1, 1])).shaped);
    }

    #[test]
    fn names_map_back_to_indices_only_when_canonical_and_in_range() {
        let c = catalog();
        assert_eq!(c.tool_index("benchmark_tool_0"), Some(0));
        assert_eq!(c.tool_index("benchmark_tool_11"), Some(11));
        for bad in [
            "benchmark_tool_12",
            "benchmark_tool_01",
            "benchmark_tool_",
            "benchmark_tool_-1",
            "benchmark_tool_+1",
            "benchmark_tool_1 ",
            "benchmark_tool_99999999999999999999999",
            "benchmark_prompt_0",
            "BENCHMARK_TOOL_0",
        ] {
            assert_eq!(c.tool_index(bad), None, "{bad}");
        }
        assert_eq!(c.prompt_index("benchmark_prompt_2"), Some(2));
        assert_eq!(c.prompt_index("benchmark_prompt_3"), None);
        assert_eq!(
            c.resource_index("benchmark://benchmark_resource_4"),
            Some(4)
        );
        assert_eq!(c.resource_index("benchmark://benchmark_resource_5"), None);
        assert_eq!(c.resource_index("benchmark_resource_4"), None);
    }

    #[test]
    fn huge_catalogs_cost_nothing() {
        let c = Catalog::new([10_000_000, 10_000_000, 10_000_000], [1, 1, 1]);
        assert_eq!(c.tool_index("benchmark_tool_9999999"), Some(9_999_999));
        let t = definition(&c, Kind::Tool, 9_999_999);
        assert_eq!(t["name"], "benchmark_tool_9999999");
        assert!(std::mem::size_of::<Catalog>() < 256);
    }

    #[test]
    fn resource_prefixes_need_no_json_escaping() {
        let plain = |s: &str| {
            s.bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        };
        for c in [
            catalog(),
            catalog().for_instance(0),
            catalog().for_instance(u32::MAX),
        ] {
            assert!(plain(&c.resource_uri_prefix) && plain(&c.resource_label_prefix));
        }
    }

    #[test]
    fn multi_server_resources_use_the_instance_scheme() {
        let c = catalog().for_instance(3);
        let r = definition(&c, Kind::Resource, 1);
        assert_eq!(r["uri"], "benchmark://server3/resource_1");
        assert_eq!(c.resource_index("benchmark://server3/resource_1"), Some(1));
        assert_eq!(c.resource_index("benchmark://benchmark_resource_1"), None);
    }

    #[test]
    fn cursors_are_base64_names_and_round_trip() {
        let c = catalog();
        let mut out = Vec::new();
        c.write_cursor(&mut out, Kind::Tool, 0);
        assert_eq!(out, b"YmVuY2htYXJrX3Rvb2xfMA=="); // the Go server's cursor for _0
        let cursor = std::str::from_utf8(&out).unwrap();
        assert_eq!(c.decode_cursor(Kind::Tool, cursor), Some(1));
        assert_eq!(c.decode_cursor(Kind::Prompt, cursor), None);
        for i in [1, 5, 11] {
            let mut out = Vec::new();
            c.write_cursor(&mut out, Kind::Tool, i);
            assert_eq!(
                c.decode_cursor(Kind::Tool, std::str::from_utf8(&out).unwrap()),
                Some(i + 1)
            );
        }
        for bad in ["", "!!!!", "YmVuY2htYXJrX3Rvb2xfMA", "YQ==YQ==", "bm9wZQ=="] {
            assert_eq!(c.decode_cursor(Kind::Tool, bad), None, "{bad}");
        }
    }

    #[test]
    fn base64_matches_known_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            let mut out = Vec::new();
            base64_encode(&mut out, plain.as_bytes());
            assert_eq!(out, enc.as_bytes());
            if !enc.is_empty() {
                assert_eq!(base64_decode(enc.as_bytes()).unwrap(), plain.as_bytes());
            }
        }
    }
}
