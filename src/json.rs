//! Low-level JSON text helpers: writing escaped strings and integers into byte buffers, and
//! finding the raw byte span of a member in a document that has already been validated.
//!
//! Not a parser: callers validate input with simd-json first (see `jsonrpc`); the span finders
//! only exist so that client-supplied JSON can be echoed byte for byte. [`Indexed`] finds
//! spans from the structural offsets simd-json's parse already produced; [`member_span`]
//! scans the bytes, for callers that have no parse at hand.

/// Appends `s` as the *contents* of a JSON string (no surrounding quotes), escaping `"`, `\`
/// and control characters. Bytes of valid UTF-8 above 0x7F are copied unchanged.
pub fn write_escaped(out: &mut Vec<u8>, s: &[u8]) {
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out.extend_from_slice(&s[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&s[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a complete JSON string, quotes included.
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_escaped(out, s.as_bytes());
    out.push(b'"');
}

/// Appends the decimal form of `n` without going through `fmt`.
pub fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends the decimal form of a signed integer.
pub fn write_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    write_u64(out, n.unsigned_abs());
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// Index one past the end of the string starting at `b[i] == b'"'`. Jumps from one `"` or `\`
/// to the next instead of stepping through every byte with a bounds check.
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        let k = b.get(i..)?.iter().position(|&c| c == b'"' || c == b'\\')?;
        i += k;
        if b[i] == b'"' {
            return Some(i + 1);
        }
        i += 2;
    }
}

/// Whether a byte matters when skipping a container: a string starts or the depth changes.
fn is_structural(c: u8) -> bool {
    matches!(c, b'"' | b'{' | b'}' | b'[' | b']')
}

/// Index one past the end of the value starting at `b[i]` (after whitespace). Iterative, so
/// nesting depth costs no stack.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    let mut i = skip_ws(b, i);
    match *b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                i += b.get(i..)?.iter().position(|&c| is_structural(c))?;
                match b[i] {
                    b'"' => {
                        i = skip_string(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    _ => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                }
                i += 1;
            }
        }
        _ => {
            while i < b.len() && !matches!(b[i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                i += 1;
            }
            Some(i)
        }
    }
}

/// Compares a raw JSON string token (quotes included) with `key`, decoding escapes only when
/// the token may have any: an escape makes the raw token longer than the text it stands for,
/// so a token no longer than `key` matches only byte for byte.
fn key_matches(token: &[u8], key: &str) -> bool {
    let inner = &token[1..token.len() - 1];
    if inner.len() <= key.len() {
        return inner == key.as_bytes();
    }
    inner.contains(&b'\\') && serde_json::from_slice::<String>(token).is_ok_and(|k| k == key)
}

/// The raw span `start..end` of member `key` of the object at `b[obj..]`, first occurrence
/// (the same one simd-json's lookup returns). `None` if `b[obj..]` is not an object or has
/// no such key.
pub fn member_span(b: &[u8], obj: usize, key: &str) -> Option<(usize, usize)> {
    let mut i = skip_ws(b, obj);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(b, i);
        if b.get(i)? != &b'"' {
            return None;
        }
        let key_end = skip_string(b, i)?;
        let matched = key_matches(&b[i..key_end], key);
        i = skip_ws(b, key_end);
        if b.get(i)? != &b':' {
            return None;
        }
        let value_start = skip_ws(b, i + 1);
        let value_end = skip_value(b, value_start)?;
        if matched {
            return Some((value_start, value_end));
        }
        i = skip_ws(b, value_end);
        match b.get(i)? {
            b',' => i += 1,
            _ => return None,
        }
    }
}

/// The raw spans of the elements of the array at `b[arr..]`.
pub fn array_element_spans(b: &[u8], arr: usize) -> Option<Vec<(usize, usize)>> {
    let mut i = skip_ws(b, arr);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let mut spans = Vec::new();
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b']') {
        return Some(spans);
    }
    loop {
        let start = skip_ws(b, i);
        let end = skip_value(b, start)?;
        spans.push((start, end));
        i = skip_ws(b, end);
        match b.get(i)? {
            b',' => i += 1,
            b']' => return Some(spans),
            _ => return None,
        }
    }
}

/// A document simd-json has validated, with the byte offsets of its structural characters
/// from the same parse (`{ } [ ] : ,` and the first byte of every string and scalar): spans
/// are found by stepping from one of those to the next, not by rescanning the bytes.
#[derive(Debug, Clone, Copy)]
pub struct Indexed<'a> {
    bytes: &'a [u8],
    tokens: &'a [u32],
}

impl<'a> Indexed<'a> {
    /// `tokens` must be simd-json's structural indexes of `bytes` (its `Buffers` after a
    /// successful parse). Offsets that do not fit give no spans, never a panic.
    pub fn new(bytes: &'a [u8], tokens: &'a [u32]) -> Self {
        Self { bytes, tokens }
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The byte offset of token `t`.
    fn at(&self, t: usize) -> Option<usize> {
        self.tokens.get(t).map(|&i| i as usize)
    }

    /// The byte token `t` starts with.
    fn byte(&self, t: usize) -> Option<u8> {
        self.bytes.get(self.at(t)?).copied()
    }

    /// The token after the value that starts at token `t`.
    fn skip_value(&self, t: usize) -> Option<usize> {
        if !matches!(self.byte(t)?, b'{' | b'[') {
            return Some(t + 1);
        }
        // Strings are single tokens, so every bracket token is a real one.
        let mut depth = 0usize;
        for u in t..self.tokens.len() {
            match self.byte(u)? {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(u + 1);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// The token of the value of member `key` of the object at token `obj` (first
    /// occurrence, as simd-json's lookup).
    fn member(&self, obj: usize, key: &str) -> Option<usize> {
        if self.byte(obj)? != b'{' {
            return None;
        }
        let mut t = obj + 1;
        loop {
            // A key, its `:` and its value; then `,` or `}`.
            if self.byte(t)? != b'"' || self.byte(t + 1)? != b':' {
                return None;
            }
            let token = self
                .bytes
                .get(self.at(t)?..self.at(t + 1)?)?
                .trim_ascii_end();
            if token.len() >= 2 && key_matches(token, key) {
                return Some(t + 2);
            }
            t = self.skip_value(t + 2)?;
            if self.byte(t)? != b',' {
                return None;
            }
            t += 1;
        }
    }

    /// The raw bytes of the member at `path` (object keys from the root), exactly as sent.
    pub fn member_bytes(&self, path: &[&str]) -> Option<&'a [u8]> {
        let mut t = 0;
        for key in path {
            t = self.member(t, key)?;
        }
        let start = self.at(t)?;
        let next = self.skip_value(t)?;
        let end = match self.byte(t)? {
            // A container ends with its closing bracket, the token before `next`.
            b'{' | b'[' => self.at(next - 1)? + 1,
            // A string or scalar runs up to the next token, less the whitespace before it.
            _ => {
                let limit = self.at(next).unwrap_or(self.bytes.len());
                start + self.bytes.get(start..limit)?.trim_ascii_end().len()
            }
        };
        self.bytes.get(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        write_escaped(&mut out, s.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_quotes_backslashes_and_controls() {
        assert_eq!(escaped(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escaped("l1\nl2\r\t\u{8}\u{c}"), r"l1\nl2\r\t\b\f");
        assert_eq!(escaped("\u{0}\u{1f}"), r"\u0000\u001f");
        assert_eq!(escaped("héllo ✓ </script>"), "héllo ✓ </script>");
    }

    #[test]
    fn escaped_text_round_trips_through_a_json_parser() {
        let hostile = "\"}],\"injected\":true,{\"\\\u{0}\u{7f}\u{2028}";
        let mut out = Vec::new();
        write_string(&mut out, hostile);
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, hostile);
    }

    #[test]
    fn writes_integers_at_the_edges() {
        for n in [0u64, 9, 10, 12345, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        for n in [i64::MIN, -1, 0, i64::MAX] {
            let mut out = Vec::new();
            write_i64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn finds_member_spans_verbatim() {
        let doc = br#"{ "a" : 1, "params": {"name":"x", "arguments" : {"k": [1, {"z": "}"}], "n": 1.5e3} } }"#;
        let (s, e) = member_span(doc, 0, "params").unwrap();
        let (s2, e2) = member_span(doc, s, "arguments").unwrap();
        assert_eq!(&doc[s2..e2], br#"{"k": [1, {"z": "}"}], "n": 1.5e3}"#);
        assert!(e2 < e);
        assert_eq!(member_span(doc, 0, "missing"), None);
        assert_eq!(member_span(b"[1]", 0, "a"), None);
    }

    #[test]
    fn skips_strings_with_escaped_quotes_and_backslashes() {
        let doc = br#"{"a":"x\"}{\\","b":["\"]",{"c":"\\"}],"k":7}"#;
        let (s, e) = member_span(doc, 0, "k").unwrap();
        assert_eq!(&doc[s..e], b"7");
        let (s, e) = member_span(doc, 0, "b").unwrap();
        assert_eq!(&doc[s..e], br#"["\"]",{"c":"\\"}]"#);
        // Truncated documents give no span instead of reading past the end.
        assert_eq!(member_span(br#"{"a":"x\"#, 0, "k"), None);
        assert_eq!(member_span(br#"{"a":[{"#, 0, "k"), None);
    }

    #[test]
    fn member_keys_with_escapes_are_decoded() {
        let doc = br#"{"\u0061rguments":true}"#;
        let (s, e) = member_span(doc, 0, "arguments").unwrap();
        assert_eq!(&doc[s..e], b"true");
        // The decoded key is compared, whatever the lengths of raw and decoded forms.
        assert_eq!(
            member_span(br#"{"\u0061":1,"a":2}"#, 0, "a"),
            Some((10, 11))
        );
        assert_eq!(member_span(br#"{"a\n":1}"#, 0, "a\n"), Some((7, 8)));
        assert_eq!(member_span(br#"{"\n":1,"nn":2}"#, 0, "nn"), Some((13, 14)));
    }

    #[test]
    fn first_duplicate_key_wins() {
        let doc = br#"{"a":1,"a":2}"#;
        let (s, e) = member_span(doc, 0, "a").unwrap();
        assert_eq!(&doc[s..e], b"1");
    }

    #[test]
    fn splits_array_elements() {
        let doc = br#" [ {"a":"],"} , 2,"x" ] "#;
        let spans = array_element_spans(doc, 0).unwrap();
        let parts: Vec<&[u8]> = spans.iter().map(|&(s, e)| &doc[s..e]).collect();
        assert_eq!(parts, vec![&br#"{"a":"],"}"#[..], b"2", br#""x""#]);
        assert_eq!(array_element_spans(b"[]", 0).unwrap().len(), 0);
    }

    /// simd-json's structural offsets of `doc`, as the dispatcher's parser leaves them.
    fn indexed_spans(doc: &[u8], path: &[&str]) -> Option<Vec<u8>> {
        let mut copy = doc.to_vec();
        let mut buffers = simd_json::Buffers::new(doc.len());
        let mut tape = simd_json::Tape::null();
        simd_json::fill_tape(&mut copy, &mut buffers, &mut tape).ok()?;
        Indexed::new(doc, buffers.structural_indexes())
            .member_bytes(path)
            .map(<[u8]>::to_vec)
    }

    #[test]
    fn indexed_spans_match_the_byte_scan() {
        let docs: &[&[u8]] = &[
            br#"{ "a" : 1, "params": {"name":"x", "arguments" : {"k": [1, {"z": "}"}], "n": 1.5e3} } }"#,
            br#"{"a":"x\"}{\\","b":["\"]",{"c":"\\"}],"k":7 , "s" : "v\"" , "e":{}}"#,
            br#"{"\u0061rguments":true,"arguments":false}"#,
            br#"{"\u0061":1,"a":2,"a\n":3,"\n":4,"nn":5}"#,
            br#"{"a":1,"a":2}"#,
            b"{\"params\":{\"arguments\":123456789012345678901234567890\t\r\n}}",
            br#"{"params":{"arguments":[ ]}, "x": null}"#,
            br#"{"params":[{"arguments":1}]}"#,
            br#"[{"params":1}]"#,
            br#"{}"#,
            br#""params""#,
        ];
        let paths: &[&[&str]] = &[
            &["a"],
            &["b"],
            &["k"],
            &["s"],
            &["e"],
            &["x"],
            &["nn"],
            &["a\n"],
            &["\n"],
            &["arguments"],
            &["params"],
            &["params", "name"],
            &["params", "arguments"],
            &["missing"],
            &["params", "missing"],
        ];
        for doc in docs {
            for path in paths {
                let mut at = 0;
                let mut scanned = None;
                for key in *path {
                    scanned = member_span(doc, at, key);
                    match scanned {
                        Some((s, _)) => at = s,
                        None => break,
                    }
                }
                let scanned = scanned.map(|(s, e)| doc[s..e].to_vec());
                assert_eq!(
                    indexed_spans(doc, path),
                    scanned,
                    "{path:?} in {}",
                    String::from_utf8_lossy(doc)
                );
            }
        }
    }

    #[test]
    fn offsets_that_do_not_fit_give_no_span() {
        let doc = br#"{"a":1}"#;
        assert_eq!(Indexed::new(doc, &[]).member_bytes(&["a"]), None);
        assert_eq!(Indexed::new(doc, &[0, 1, 99]).member_bytes(&["a"]), None);
        assert_eq!(
            Indexed::new(doc, &[0, 1, 4, 5, 6]).member_bytes(&["a"]),
            Some(&b"1"[..])
        );
        assert_eq!(Indexed::new(b"{", &[0, 0, 0]).member_bytes(&["a"]), None);
    }
}
