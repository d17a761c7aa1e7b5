//! Exact-size synthetic payloads and the timestamps that go with them.
//!
//! A payload for item `name` of `size` bytes is `"Response from <name>. "` followed by
//! `"This is benchmark data. "` repeated, cut to exactly `size` bytes (the Go server's text).
//! It is written straight into the caller's buffer from a precomputed filler block, so its cost
//! is one memcpy per block, and very large payloads can be produced in pieces
//! ([`FillerStream`]) without ever being held whole in memory.
//!
//! Every byte of a payload is printable ASCII without `"` or `\`, so it needs no JSON escaping
//! at any nesting level.

use std::time::{SystemTime, UNIX_EPOCH};

/// The repeated part of every payload.
pub const FILLER: &[u8; 24] = b"This is benchmark data. ";

const BLOCK_REPEATS: usize = 2048;
const BLOCK_LEN: usize = FILLER.len() * BLOCK_REPEATS;

/// `FILLER` repeated: payload bytes are copied from here in large slices.
static FILLER_BLOCK: [u8; BLOCK_LEN] = {
    let mut block = [0u8; BLOCK_LEN];
    let mut i = 0;
    while i < BLOCK_LEN {
        block[i] = FILLER[i % FILLER.len()];
        i += 1;
    }
    block
};

/// Length of the `"Response from <name>. "` prefix for a name of `name_len` bytes.
pub const fn prefix_len(name_len: usize) -> usize {
    "Response from ".len() + name_len + ". ".len()
}

/// Writes the prefix part of the payload (at most `size` bytes of it) and returns the filler
/// that must follow to complete it.
pub fn write_payload_start(out: &mut Vec<u8>, name: &[u8], size: u64) -> FillerStream {
    let mut prefix = [0u8; 96];
    let mut n = 0;
    for part in [b"Response from ".as_slice(), name, b". "] {
        let take = part.len().min(prefix.len() - n);
        prefix[n..n + take].copy_from_slice(&part[..take]);
        n += take;
    }
    if n < prefix_len(name.len()) {
        // Names longer than the stack buffer: not produced by our catalog, handled anyway.
        let full = [b"Response from ".as_slice(), name, b". "].concat();
        let take = (size as usize).min(full.len());
        out.extend_from_slice(&full[..take]);
        return FillerStream::new(size - take as u64);
    }
    let take = (size.min(n as u64)) as usize;
    out.extend_from_slice(&prefix[..take]);
    FillerStream::new(size - take as u64)
}

/// Writes the whole payload for `name` into `out`.
pub fn write_payload(out: &mut Vec<u8>, name: &[u8], size: u64) {
    let mut rest = write_payload_start(out, name, size);
    rest.write(out, u64::MAX);
}

/// The filler part of a payload still to be written, possibly over several calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillerStream {
    remaining: u64,
    phase: usize,
}

impl FillerStream {
    pub fn new(remaining: u64) -> Self {
        Self {
            remaining,
            phase: 0,
        }
    }

    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    pub fn is_done(&self) -> bool {
        self.remaining == 0
    }

    /// Appends up to `max` more bytes; returns how many were written.
    pub fn write(&mut self, out: &mut Vec<u8>, max: u64) -> u64 {
        let total = self.remaining.min(max);
        out.reserve(total.min(isize::MAX as u64) as usize);
        let mut left = total;
        while left > 0 {
            let avail = BLOCK_LEN - self.phase;
            let take = (left.min(avail as u64)) as usize;
            out.extend_from_slice(&FILLER_BLOCK[self.phase..self.phase + take]);
            self.phase = (self.phase + take) % FILLER.len();
            left -= take as u64;
        }
        self.remaining -= total;
        total
    }
}

impl FillerStream {
    /// Fills the front of `buf` with the next filler bytes; returns how many were written.
    pub fn fill(&mut self, buf: &mut [u8]) -> usize {
        let total = (self.remaining.min(buf.len() as u64)) as usize;
        let mut at = 0;
        while at < total {
            let take = (total - at).min(BLOCK_LEN - self.phase);
            buf[at..at + take].copy_from_slice(&FILLER_BLOCK[self.phase..self.phase + take]);
            self.phase = (self.phase + take) % FILLER.len();
            at += take;
        }
        self.remaining -= total as u64;
        total
    }
}

/// Writes `head` followed by filler, cut to exactly `size` bytes (a description or any other
/// text of a given length that must need no JSON escaping: `head` must not either).
pub fn write_exact_text(out: &mut Vec<u8>, head: &[&[u8]], size: u64) {
    let mut left = size;
    for part in head {
        let take = (part.len() as u64).min(left) as usize;
        out.extend_from_slice(&part[..take]);
        left -= take as u64;
    }
    FillerStream::new(left).write(out, u64::MAX);
}

/// Length of the standard base64 (padded) encoding of `decoded` bytes.
pub const fn base64_len(decoded: u64) -> u64 {
    decoded.div_ceil(3) * 4
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends the padded base64 encoding of `data`.
pub fn write_base64(out: &mut Vec<u8>, data: &[u8]) {
    let mut buf = [0u8; 4 * 256];
    for block in data.chunks(3 * 256) {
        let mut n = 0;
        for chunk in block.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            buf[n] = B64[(v >> 18) as usize & 63];
            buf[n + 1] = B64[(v >> 12) as usize & 63];
            buf[n + 2] = if chunk.len() > 1 {
                B64[(v >> 6) as usize & 63]
            } else {
                b'='
            };
            buf[n + 3] = if chunk.len() > 2 {
                B64[v as usize & 63]
            } else {
                b'='
            };
            n += 4;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// A payload (the same bytes as [`write_payload`]) written as base64, possibly over several
/// calls: binary content of an exact decoded size. Base64 has no characters that need JSON
/// escaping either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base64Stream {
    head: [u8; 96],
    head_len: usize,
    head_pos: usize,
    filler: FillerStream,
}

impl Base64Stream {
    /// The payload for `name` of `size` decoded bytes.
    pub fn new(name: &[u8], size: u64) -> Self {
        let mut head = [0u8; 96];
        let mut n = 0;
        for part in [b"Response from ".as_slice(), name, b". "] {
            let take = part.len().min(head.len() - n);
            head[n..n + take].copy_from_slice(&part[..take]);
            n += take;
        }
        // Names beyond the buffer are not produced by the catalog: their prefix is cut short.
        let head_len = (size.min(n as u64)) as usize;
        Self {
            head,
            head_len,
            head_pos: 0,
            filler: FillerStream::new(size - head_len as u64),
        }
    }

    pub fn is_done(&self) -> bool {
        self.head_pos == self.head_len && self.filler.is_done()
    }

    /// Base64 characters still to come.
    pub fn remaining(&self) -> u64 {
        base64_len((self.head_len - self.head_pos) as u64 + self.filler.remaining())
    }

    /// Appends at least `max` more characters (in whole groups of 4) unless the end comes
    /// first.
    pub fn write(&mut self, out: &mut Vec<u8>, max: u64) {
        let mut raw = [0u8; 3 * 1024];
        let mut written = 0u64;
        while !self.is_done() && written < max {
            let head = &self.head[self.head_pos..self.head_len];
            let mut n = head.len().min(raw.len());
            raw[..n].copy_from_slice(&head[..n]);
            self.head_pos += n;
            n += self.filler.fill(&mut raw[n..]);
            // Only the last group may be partial (padded): every earlier one is whole.
            debug_assert!(n % 3 == 0 || self.is_done());
            write_base64(out, &raw[..n]);
            written += base64_len(n as u64);
        }
    }
}

/// Writes the current UTC time as RFC 3339 with second precision, e.g. `2026-01-02T03:04:05Z`.
/// The text is formatted once per second per thread and copied after that.
pub fn write_timestamp_now(out: &mut Vec<u8>) {
    thread_local! {
        static CACHED: std::cell::Cell<(u64, [u8; 20])> = const { std::cell::Cell::new((u64::MAX, [0; 20])) };
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (at, text) = CACHED.get();
    if at == secs {
        out.extend_from_slice(&text);
        return;
    }
    let mut fresh = Vec::with_capacity(20);
    write_timestamp(&mut fresh, secs);
    let mut text = [0u8; 20];
    text.copy_from_slice(&fresh);
    CACHED.set((secs, text));
    out.extend_from_slice(&text);
}

/// Writes `unix_secs` as RFC 3339 UTC with second precision.
pub fn write_timestamp(out: &mut Vec<u8>, unix_secs: u64) {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut buf = *b"0000-00-00T00:00:00Z";
    let put = |buf: &mut [u8; 20], at: usize, width: usize, mut v: u64| {
        for i in (0..width).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(&mut buf, 0, 4, year as u64);
    put(&mut buf, 5, 2, month as u64);
    put(&mut buf, 8, 2, day as u64);
    put(&mut buf, 11, 2, rem / 3600);
    put(&mut buf, 14, 2, rem / 60 % 60);
    put(&mut buf, 17, 2, rem % 60);
    out.extend_from_slice(&buf);
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Go server's generator, used as the reference.
    fn reference(name: &str, size: usize) -> String {
        let base = format!("Response from {name}. ");
        if size <= base.len() {
            return base[..size].to_string();
        }
        let filler = std::str::from_utf8(FILLER).unwrap();
        let count = (size - base.len()) / filler.len() + 1;
        (base + &filler.repeat(count))[..size].to_string()
    }

    fn payload(name: &str, size: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write_payload(&mut out, name.as_bytes(), size);
        out
    }

    #[test]
    fn sizes_are_exact_and_match_the_go_text() {
        for size in [
            0, 1, 5, 23, 24, 25, 31, 32, 33, 56, 57, 1000, 5000, 65_536, 200_001,
        ] {
            let got = payload("benchmark_tool_0", size as u64);
            assert_eq!(got.len(), size, "size {size}");
            assert_eq!(got, reference("benchmark_tool_0", size).as_bytes());
        }
        assert_eq!(payload("benchmark_tool_0", 5), b"Respo");
        assert_eq!(payload("x", 0), b"");
    }

    #[test]
    fn ten_megabytes_is_exact() {
        let size = 10 * 1024 * 1024;
        let got = payload("benchmark_resource_7", size);
        assert_eq!(got.len() as u64, size);
        assert_eq!(
            got,
            reference("benchmark_resource_7", size as usize).as_bytes()
        );
    }

    #[test]
    fn streaming_in_odd_pieces_gives_the_same_bytes() {
        let size = 3 * BLOCK_LEN as u64 + 17;
        let mut out = Vec::new();
        let mut rest = write_payload_start(&mut out, b"benchmark_prompt_3", size);
        let mut step = 1;
        while !rest.is_done() {
            rest.write(&mut out, step);
            step = step * 7 + 3;
        }
        assert_eq!(out, payload("benchmark_prompt_3", size));
    }

    #[test]
    fn payload_bytes_need_no_json_escaping() {
        let got = payload("benchmark_tool_123", 500);
        assert!(
            got.iter()
                .all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        );
    }

    #[test]
    fn long_names_are_handled() {
        let name = "n".repeat(300);
        assert_eq!(payload(&name, 1000), reference(&name, 1000).as_bytes());
    }

    /// Decodes padded base64 (the test's own decoder, independent of the encoder).
    fn decode(b64: &[u8]) -> Vec<u8> {
        let val = |c: u8| B64.iter().position(|&x| x == c).expect("base64 alphabet") as u32;
        let mut out = Vec::new();
        for q in b64.chunks(4) {
            let pad = q.iter().filter(|&&c| c == b'=').count();
            let n = q[..4 - pad].iter().fold(0u32, |n, &c| (n << 6) | val(c)) << (6 * pad);
            out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..3 - pad]);
        }
        out
    }

    #[test]
    fn base64_payloads_decode_to_the_exact_payload() {
        for size in [0u64, 1, 2, 3, 4, 31, 32, 33, 3071, 3072, 3073, 100_000] {
            let mut s = Base64Stream::new(b"benchmark_tool_9", size);
            assert_eq!(s.remaining(), base64_len(size));
            let mut out = Vec::new();
            let mut step = 1;
            while !s.is_done() {
                s.write(&mut out, step);
                step = step * 5 + 1;
            }
            assert_eq!(out.len() as u64, base64_len(size), "size {size}");
            assert_eq!(
                decode(&out),
                payload("benchmark_tool_9", size),
                "size {size}"
            );
        }
    }

    #[test]
    fn exact_texts_are_cut_to_size() {
        for size in [0u64, 3, 10, 40, 1000] {
            let mut out = Vec::new();
            write_exact_text(&mut out, &[b"Head ", b"7. "], size);
            assert_eq!(out.len() as u64, size);
            let full = [b"Head 7. ".as_slice(), &FILLER.repeat(50)].concat();
            assert_eq!(out, full[..size as usize]);
        }
    }

    #[test]
    fn the_cached_timestamp_is_the_current_second() {
        for _ in 0..3 {
            let before = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let mut got = Vec::new();
            write_timestamp_now(&mut got);
            let after = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let expect = |s| {
                let mut v = Vec::new();
                write_timestamp(&mut v, s);
                v
            };
            assert!(got == expect(before) || got == expect(after), "{got:?}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let mut out = Vec::new();
        write_timestamp(&mut out, 0);
        assert_eq!(out, b"1970-01-01T00:00:00Z");
        out.clear();
        write_timestamp(&mut out, 1_772_000_000);
        assert_eq!(out, b"2026-02-25T06:13:20Z");
        out.clear();
        write_timestamp(&mut out, 951_825_600); // leap day
        assert_eq!(out, b"2000-02-29T12:00:00Z");
    }
}
