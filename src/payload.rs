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
