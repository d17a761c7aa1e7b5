//! End-to-end load benchmark over stdio: starts the server binary as a child process, talks
//! newline-delimited JSON-RPC to it through pipes and measures what a client sees.
//!
//! * time from spawn to the `initialize` response, small catalog vs huge catalogs;
//! * full `tools/list` latency (request written → last byte read) at `-tools=10000` and at
//!   `-tools=100000 -resources=50000 -prompts=10000`, on a warm server and from a cold start,
//!   and `resources/list` / `prompts/list` at the latter;
//! * sequential `tools/call` round trips (p50/p99) and pipelined `tools/call` throughput;
//! * peak resident memory of the server (`VmHWM` from `/proc/<pid>/status`, read after its
//!   last response, just before it is told to exit).
//!
//! Every figure is the median of repeated runs (one run = one server process, or one request
//! for latencies on a warm server); min and max are shown beside it. Configurations are
//! interleaved round by round so that background noise spreads over all of them.
//!
//! Run: `cargo bench --bench e2e_stdio`. Cargo builds the server with the bench profile
//! (which inherits `release`) and this bench runs that binary (`target/release/benchmark-server`,
//! under `CARGO_TARGET_DIR` if set). `BENCHMARK_SERVER_BIN=/path/to/server` runs another
//! build instead, e.g. the Go original: only the command line flags and the stdio protocol are
//! relied on.
//!
//! Without `--bench` (i.e. under `cargo test --all-targets`) it only checks, in well under a
//! second, that the binary answers `initialize`, `tools/list` and `tools/call`.

#[allow(dead_code)]
mod common;

use std::path::Path;
use std::time::Instant;

use common::*;

/// Catalog flags used throughout; `-log-level=none` keeps stderr quiet.
const SMALL: &[&str] = &["-tools=10"];
const TOOLS_10K: &[&str] = &["-tools=10000"];
const XLARGE: &[&str] = &["-tools=100000", "-resources=50000", "-prompts=10000"];
const HUGE_1M: &[&str] = &["-tools=1000000", "-resources=1000000", "-prompts=1000000"];
const HUGE_10M: &[&str] = &[
    "-tools=10000000",
    "-resources=10000000",
    "-prompts=10000000",
];
/// The tools/call benchmarks: 1,000-byte payloads (the default `-tool-size`).
const CALLS: &[&str] = &[
    "-tools=1000",
    "-tool-size=1000",
    "-resources=0",
    "-prompts=0",
];

fn main() {
    let bin = server_binary();
    if bench_mode() {
        run_benchmarks(&bin);
    } else {
        smoke(&bin);
    }
}

// ---------------------------------------------------------------------------------------------
// The benchmarks.

fn run_benchmarks(bin: &Path) {
    warn_if_debug("e2e_stdio", bin);
    let started = Instant::now();
    let mut report = Report::default();
    let load_before = load_average();
    startup(bin, &mut report);
    listing(bin, &mut report);
    sequential_calls(bin, &mut report);
    pipelined_calls(bin, &mut report);
    memory(bin, &mut report);
    report.notes.push(format!(
        "load average (1 min) before / after: {load_before} / {}, on {} CPUs; \
         re-run if it was well above zero",
        load_average(),
        cpus()
    ));
    eprintln!(
        "e2e_stdio: done in {:.1} s\n",
        started.elapsed().as_secs_f64()
    );
    println!("{}", report.markdown());
}

/// Spawn → `initialize` response, configurations interleaved round by round.
fn startup(bin: &Path, report: &mut Report) {
    const ROUNDS: usize = 41;
    let configs = [SMALL, TOOLS_10K, XLARGE, HUGE_1M, HUGE_10M];
    let mut samples = vec![Vec::new(); configs.len()];
    // One unmeasured start to warm the page cache.
    let mut s = Server::spawn(bin, SMALL);
    s.initialize();
    s.finish();
    for round in 0..ROUNDS {
        // Rotate the order so that no configuration always runs first or last in a round.
        for k in 0..configs.len() {
            let i = (round + k) % configs.len();
            let flags = configs[i];
            let mut s = Server::spawn(bin, flags);
            samples[i].push(ms(s.initialize()));
            s.finish();
        }
    }
    let summaries: Vec<Summary> = samples.iter().map(|s| summarize(s)).collect();
    for (flags, summary) in configs.iter().zip(&summaries) {
        report.add("spawn → initialize response", flags, "ms", summary.clone());
    }
    report.notes.push(format!(
        "initialize at `{}` vs `{}`: median ratio {:.2}; at `{}`: {:.2}",
        HUGE_1M.join(" "),
        SMALL.join(" "),
        summaries[3].median / summaries[0].median,
        HUGE_10M.join(" "),
        summaries[4].median / summaries[0].median,
    ));
}

/// Full `tools/list`: warm (initialized server, request → last byte) and cold (spawn →
/// initialize → list complete).
fn listing(bin: &Path, report: &mut Report) {
    /// (flags, method, result key, items, warm runs, cold runs)
    type Case<'a> = (&'a [&'a str], &'a str, &'a str, usize, usize, usize);
    let cases: [Case; 4] = [
        (TOOLS_10K, "tools/list", "tools", 10_000, 31, 15),
        (XLARGE, "tools/list", "tools", 100_000, 15, 9),
        (XLARGE, "resources/list", "resources", 50_000, 15, 0),
        (XLARGE, "prompts/list", "prompts", 10_000, 15, 0),
    ];
    for (flags, method, key, items, warm_runs, cold_runs) in cases {
        let mut s = Server::spawn(bin, flags);
        s.initialize();
        // Check the listing once, untimed, and warm up.
        let bytes = {
            let reply = s.request(&list_request(1000, method));
            let (n, more) = count_items(reply, key);
            assert_eq!((n, more), (items, false), "{method} must list every item");
            reply.len() + 1
        };
        let mut warm = Vec::new();
        for id in 0..warm_runs as u64 {
            let t = Instant::now();
            s.send(&list_request(1001 + id, method));
            let len = s.recv_discard();
            let elapsed = t.elapsed();
            assert_eq!(len, bytes);
            warm.push(ms(elapsed));
        }
        s.finish();
        let warm = summarize(&warm);
        let mib_s = bytes as f64 / (1 << 20) as f64 / (warm.median / 1e3);
        report.add(
            &format!("{method}, warm (request → last byte)"),
            flags,
            "ms",
            warm,
        );

        if cold_runs > 0 {
            let mut cold = Vec::new();
            for _ in 0..cold_runs {
                let mut s = Server::spawn(bin, flags);
                s.initialize();
                s.send(&list_request(1000, method));
                let len = s.recv_discard();
                cold.push(ms(s.spawned.elapsed()));
                assert_eq!(len, bytes);
                s.finish();
            }
            report.add(
                &format!("{method}, cold (spawn → init → list done)"),
                flags,
                "ms",
                summarize(&cold),
            );
        }
        report.notes.push(format!(
            "{method} at `{}`: {items} items, {bytes} bytes, {mib_s:.0} MiB/s received at the \
             warm median",
            flags.join(" ")
        ));
    }
}

/// One `tools/call` at a time; every round trip timed.
fn sequential_calls(bin: &Path, report: &mut Report) {
    const RUNS: usize = 7;
    const WARMUP: u64 = 2_000;
    const CALLS_PER_RUN: u64 = 20_000;
    let (mut p50, mut p99, mut mean) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let mut s = Server::spawn(bin, CALLS);
        s.initialize();
        let requests: Vec<String> = (0..WARMUP + CALLS_PER_RUN)
            .map(|i| call_request(i + 1, i % 1000))
            .collect();
        for r in &requests[..WARMUP as usize] {
            let reply = s.request(r);
            expect_result(reply, "tools/call");
        }
        let mut us = Vec::with_capacity(CALLS_PER_RUN as usize);
        for r in &requests[WARMUP as usize..] {
            let t = Instant::now();
            s.request(r);
            us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        s.finish();
        mean.push(us.iter().sum::<f64>() / us.len() as f64);
        us.sort_by(f64::total_cmp);
        p50.push(percentile_sorted(&us, 50.0));
        p99.push(percentile_sorted(&us, 99.0));
    }
    report.add(
        "tools/call round trip p50 (1,000-byte payload)",
        CALLS,
        "µs",
        summarize(&p50),
    );
    report.add(
        "tools/call round trip p99 (1,000-byte payload)",
        CALLS,
        "µs",
        summarize(&p99),
    );
    report.add("tools/call round trip mean", CALLS, "µs", summarize(&mean));
    report.notes.push(format!(
        "sequential tools/call: {CALLS_PER_RUN} timed calls per run after {WARMUP} warm-up calls, \
         one server process per run"
    ));
}

/// A writer thread sends every request at once while the main thread counts response lines.
fn pipelined_calls(bin: &Path, report: &mut Report) {
    const RUNS: usize = 7;
    const CALLS_PER_RUN: u64 = 100_000;
    // Untimed run that keeps and checks every reply.
    let (_, replies) = pipeline(bin, CALLS, 10_000, true);
    for line in replies.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        expect_result(line, "pipelined tools/call");
    }
    let rates: Vec<f64> = (0..RUNS)
        .map(|_| pipeline(bin, CALLS, CALLS_PER_RUN, false).0)
        .collect();
    report.add(
        "pipelined tools/call throughput",
        CALLS,
        "calls/s",
        summarize(&rates),
    );
    report.notes.push(format!(
        "pipelined tools/call: {CALLS_PER_RUN} calls written back to back by a second thread, \
         timed from the first write to the last response byte"
    ));
}

/// Peak resident memory after the given requests have been answered.
fn memory(bin: &Path, report: &mut Report) {
    const RUNS: usize = 5;
    const LISTS: &[&str] = &["tools/list", "resources/list", "prompts/list"];
    let cases: [(&str, &[&str], &[&str]); 5] = [
        ("peak RSS after initialize", SMALL, &[]),
        ("peak RSS after tools/list", TOOLS_10K, &LISTS[..1]),
        ("peak RSS after all three lists", XLARGE, LISTS),
        ("peak RSS after initialize", HUGE_1M, &[]),
        ("peak RSS after initialize", HUGE_10M, &[]),
    ];
    let mut medians = Vec::new();
    for (what, flags, requests) in cases {
        let mut hwm = Vec::new();
        for _ in 0..RUNS {
            let mut s = Server::spawn(bin, flags);
            s.initialize();
            for (i, method) in requests.iter().enumerate() {
                let reply = s.request(&list_request(i as u64 + 1, method));
                expect_result(reply, method);
            }
            let (peak, _rss) = s.memory_kib();
            s.finish();
            hwm.push(peak as f64 / 1024.0);
        }
        let summary = summarize(&hwm);
        medians.push(summary.median);
        report.add(what, flags, "MiB", summary);
    }
    report.notes.push(format!(
        "peak RSS (VmHWM) at `{}` / `{}` / `{}` after initialize: {:.1} / {:.1} / {:.1} MiB",
        SMALL.join(" "),
        HUGE_1M.join(" "),
        HUGE_10M.join(" "),
        medians[0],
        medians[3],
        medians[4]
    ));
}

/// Quick check used by `cargo test --all-targets`: the binary answers the basic requests.
fn smoke(bin: &Path) {
    let t = Instant::now();
    let mut s = Server::spawn(bin, &["-tools=10", "-resources=2", "-prompts=2"]);
    s.initialize();
    let (n, more) = count_items(s.request(&list_request(1, "tools/list")), "tools");
    assert_eq!((n, more), (10, false));
    expect_result(s.request(&call_request(2, 3)), "tools/call");
    let (peak, _) = s.memory_kib();
    assert!(peak > 0);
    s.finish();
    let (_, replies) = pipeline(bin, CALLS, 50, true);
    assert_eq!(replies.iter().filter(|&&b| b == b'\n').count(), 50);
    println!(
        "e2e_stdio: smoke check passed in {:.0} ms against {} \
         (run `cargo bench --bench e2e_stdio` for the figures)",
        ms(t.elapsed()),
        bin.display()
    );
}
