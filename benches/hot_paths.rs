//! Micro-benchmarks of the hot paths: catalog listing, payload writing, request parsing, a
//! whole tools/call from request bytes to response bytes, and the same with the metrics the
//! stdio transport records around it (timer, request counter, histogram, bytes out).
//!
//! Buffers are reused between iterations the way the stdio transport reuses its own: the
//! output buffer is cleared, never dropped, so steady-state iterations do not allocate.
//!
//! `faults` compares a tools/call answered directly with one answered through the fault hooks
//! the transports use (`-latency`/`-error-rate` off, and on but not matching the call).
//!
//! Run: `cargo bench --bench hot_paths` (add a filter, e.g. `-- tools_list`, to run a subset).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use benchmark_server::catalog::{Catalog, Kind};
use benchmark_server::cli::Transport;
use benchmark_server::dispatch::{CHUNK_BYTES, Dispatcher, EraHint, Outcome, Reply, Session};
use benchmark_server::faults::{self, FaultConfig, Faults, Progress, Specs};
use benchmark_server::jsonrpc::{Message, Parser, classify};
use benchmark_server::mcp::Method;
use benchmark_server::metrics;
use benchmark_server::payload::write_payload;

const TOOLS_LIST: &[u8] = br#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}"#;
const TOOLS_CALL: &[u8] = br#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"benchmark_tool_123","arguments":{"param1":"value1","param2":"value2"}}}"#;

fn dispatcher(tools: u64, tool_size: u64) -> Dispatcher {
    Dispatcher::new(
        Catalog::new([tools, 0, 0], [tool_size, 1000, 1000]),
        0,
        "benchmark-server",
    )
}

/// Answers one request the way the stdio transport does: the response goes into `out`, which
/// is handed to `sink` (standing in for the pipe) whenever it reaches `CHUNK_BYTES`, and once
/// more at the end. Returns the number of response bytes, newline included.
fn answer(
    d: &Dispatcher,
    session: &mut Session,
    parser: &mut Parser,
    request: &[u8],
    out: &mut Vec<u8>,
) -> usize {
    let outcome = d.handle(session, parser, request, out);
    pump(d, outcome, out, |bytes| {
        black_box(bytes);
    })
}

/// Answers one request through the fault hooks, as the transports do: take the dispatcher
/// snapshot, ask for a plan, dispatch under it.
fn answer_with_hooks(
    swap: &benchmark_server::admin::Swap<Dispatcher>,
    session: &mut Session,
    parser: &mut Parser,
    request: &[u8],
    out: &mut Vec<u8>,
) -> usize {
    let d = swap.load();
    let plan = d.faults().and_then(|f| f.plan(d.catalog(), request));
    let outcome = faults::dispatch(
        plan.as_ref(),
        request,
        out,
        Progress::Both,
        &d,
        EraHint::FromMessage,
        |out| d.handle(session, parser, request, out),
    );
    pump(&d, outcome, out, |bytes| {
        black_box(bytes);
    })
}

/// Writes the rest of a response the way the stdio transport does, handing each full buffer
/// (and the last one) to `write`; returns the bytes written.
fn pump(
    d: &Dispatcher,
    outcome: Outcome,
    out: &mut Vec<u8>,
    mut write: impl FnMut(&[u8]),
) -> usize {
    let mut sent = 0;
    let mut sink = |out: &mut Vec<u8>| {
        write(out.as_slice());
        sent += out.len();
        out.clear();
    };
    match outcome.reply {
        Reply::Nothing => {}
        Reply::Complete | Reply::Subscription => out.push(b'\n'),
        Reply::Partial(mut rest) => {
            loop {
                if out.len() >= CHUNK_BYTES {
                    sink(out);
                }
                if rest.write_more(d.catalog(), out, CHUNK_BYTES) {
                    break;
                }
            }
            out.push(b'\n');
        }
    }
    sink(out);
    sent
}

/// [`answer`] with the counting the stdio transport does for pipelined lines: the dispatch
/// timed from the end of the previous one (`clock`; one clock read per message) and recorded,
/// the bytes handed to the sink counted.
fn answer_counted(
    d: &Dispatcher,
    session: &mut Session,
    parser: &mut Parser,
    request: &[u8],
    out: &mut Vec<u8>,
    clock: &mut Option<Instant>,
) -> usize {
    let started = clock.take().unwrap_or_else(Instant::now);
    let outcome = d.handle(session, parser, request, out);
    let ended = Instant::now();
    metrics::record_message(
        Transport::Stdio,
        outcome.method,
        outcome.error_code,
        outcome.rejected,
        ended.saturating_duration_since(started),
    );
    *clock = Some(ended);
    pump(d, outcome, out, |bytes| {
        black_box(bytes);
        metrics::bytes_out(Transport::Stdio, bytes.len());
    })
}

fn catalog_listing(c: &mut Criterion) {
    let mut group = c.benchmark_group("catalog");
    let catalog = Catalog::new([10_000, 10_000, 10_000], [1000, 1000, 1000]);
    let mut out = Vec::new();
    for (kind, label) in [
        (Kind::Tool, "tools"),
        (Kind::Resource, "resources"),
        (Kind::Prompt, "prompts"),
    ] {
        out.clear();
        for i in 0..10_000 {
            catalog.write_definition(&mut out, kind, i);
        }
        group.throughput(Throughput::Bytes(out.len() as u64));
        group.bench_function(BenchmarkId::new("write_definition_10000", label), |b| {
            b.iter(|| {
                out.clear();
                for i in 0..10_000 {
                    catalog.write_definition(&mut out, kind, black_box(i));
                }
                black_box(out.len())
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("tools_list");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    for tools in [10_000u64, 100_000] {
        let d = dispatcher(tools, 1000);
        let mut session = Session::default();
        let mut parser = Parser::default();
        let mut out = Vec::with_capacity(CHUNK_BYTES * 2);
        let bytes = answer(&d, &mut session, &mut parser, TOOLS_LIST, &mut out);
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(BenchmarkId::from_parameter(tools), |b| {
            b.iter(|| {
                answer(
                    &d,
                    &mut session,
                    &mut parser,
                    black_box(TOOLS_LIST),
                    &mut out,
                )
            })
        });
    }
    group.finish();
}

fn payload_writing(c: &mut Criterion) {
    let mut group = c.benchmark_group("write_payload");
    for (size, label) in [
        (1024u64, "1KiB"),
        (100 * 1024, "100KiB"),
        (10 * 1024 * 1024, "10MiB"),
    ] {
        let mut out = Vec::with_capacity(size as usize);
        group.throughput(Throughput::Bytes(size));
        if size >= 1024 * 1024 {
            group.sample_size(30);
        }
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| {
                out.clear();
                write_payload(&mut out, b"benchmark_tool_0", black_box(size));
                black_box(out.len())
            })
        });
    }
    group.finish();
}

fn request_parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(TOOLS_CALL.len() as u64));
    let mut parser = Parser::default();
    group.bench_function("tools_call_line", |b| {
        b.iter(|| {
            parser.parse(black_box(TOOLS_CALL), |v| match v.map(classify) {
                Ok(Message::Request { id, method, params }) => {
                    black_box(&id);
                    black_box((method.len(), params.is_some()))
                }
                _ => unreachable!("a valid request"),
            })
        })
    });
    group.finish();
}

fn full_dispatch(c: &mut Criterion) {
    let mut group = c.benchmark_group("dispatch_tools_call");
    for (size, label) in [(1024u64, "1KiB"), (100 * 1024, "100KiB")] {
        let d = dispatcher(1000, size);
        let mut session = Session::default();
        let mut parser = Parser::default();
        let mut out = Vec::with_capacity(CHUNK_BYTES * 2);
        let bytes = answer(&d, &mut session, &mut parser, TOOLS_CALL, &mut out);
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| {
                answer(
                    &d,
                    &mut session,
                    &mut parser,
                    black_box(TOOLS_CALL),
                    &mut out,
                )
            })
        });
    }
    group.finish();
}

fn fault_hooks(c: &mut Criterion) {
    let mut group = c.benchmark_group("faults");
    let unmatched = FaultConfig::parse(
        0,
        Specs {
            latency: "tools/list=fixed:1ms".to_string(),
            error_rate: "prompts/get=0.5:jsonrpc".to_string(),
            ..Specs::default()
        },
    )
    .expect("a valid configuration");
    let mut session = Session::default();
    let mut parser = Parser::default();
    let mut out = Vec::with_capacity(CHUNK_BYTES * 2);
    let plain = dispatcher(1000, 1024);
    group.bench_function("direct", |b| {
        b.iter(|| {
            answer(
                &plain,
                &mut session,
                &mut parser,
                black_box(TOOLS_CALL),
                &mut out,
            )
        })
    });
    for (label, faults) in [
        ("hooks_off", None),
        (
            "hooks_on_unmatched",
            Some(std::sync::Arc::new(Faults::new(unmatched))),
        ),
    ] {
        let swap = benchmark_server::admin::Swap::new(dispatcher(1000, 1024).with_faults(faults));
        group.bench_function(label, |b| {
            b.iter(|| {
                answer_with_hooks(
                    &swap,
                    &mut session,
                    &mut parser,
                    black_box(TOOLS_CALL),
                    &mut out,
                )
            })
        });
    }
    group.finish();
}

/// Times `iters` runs of `timed` while running `other` as often, alternating in chunks of 64,
/// so both variants of a before/after pair see the same interference from the rest of a busy
/// machine; only `timed` is measured.
fn interleaved(iters: u64, mut timed: impl FnMut(), mut other: impl FnMut()) -> Duration {
    const CHUNK: u64 = 64;
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = CHUNK.min(iters - done);
        for _ in 0..n {
            other();
        }
        let started = Instant::now();
        for _ in 0..n {
            timed();
        }
        total += started.elapsed();
        done += n;
    }
    total
}

/// The dispatch hot path with and without counting, side by side, and the counting alone
/// (on one thread, and on two threads at once).
fn metrics_overhead(c: &mut Criterion) {
    // Before/after, interleaved: `plain` is `dispatch_tools_call/1KiB`, `counted` adds what
    // the stdio transport records.
    let mut group = c.benchmark_group("metrics_overhead_1KiB");
    let d = dispatcher(1000, 1024);
    let mut session = Session::default();
    let mut parser = Parser::default();
    let mut out = Vec::with_capacity(CHUNK_BYTES * 2);
    let mut session2 = Session::default();
    let mut parser2 = Parser::default();
    let mut out2 = Vec::with_capacity(CHUNK_BYTES * 2);
    let (mut clock, mut clock2) = (None, None);
    let bytes = answer(&d, &mut session, &mut parser, TOOLS_CALL, &mut out);
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("plain", |b| {
        b.iter_custom(|iters| {
            interleaved(
                iters,
                || {
                    black_box(answer(
                        &d,
                        &mut session,
                        &mut parser,
                        black_box(TOOLS_CALL),
                        &mut out,
                    ));
                },
                || {
                    black_box(answer_counted(
                        &d,
                        &mut session2,
                        &mut parser2,
                        black_box(TOOLS_CALL),
                        &mut out2,
                        &mut clock2,
                    ));
                },
            )
        })
    });
    group.bench_function("counted", |b| {
        b.iter_custom(|iters| {
            interleaved(
                iters,
                || {
                    black_box(answer_counted(
                        &d,
                        &mut session,
                        &mut parser,
                        black_box(TOOLS_CALL),
                        &mut out,
                        &mut clock,
                    ));
                },
                || {
                    black_box(answer(
                        &d,
                        &mut session2,
                        &mut parser2,
                        black_box(TOOLS_CALL),
                        &mut out2,
                    ));
                },
            )
        })
    });
    group.finish();

    let mut group = c.benchmark_group("dispatch_tools_call_metrics");
    for (size, label) in [(1024u64, "1KiB"), (100 * 1024, "100KiB")] {
        let d = dispatcher(1000, size);
        let mut session = Session::default();
        let mut parser = Parser::default();
        let mut out = Vec::with_capacity(CHUNK_BYTES * 2);
        let mut clock = None;
        let bytes = answer_counted(
            &d,
            &mut session,
            &mut parser,
            TOOLS_CALL,
            &mut out,
            &mut clock,
        );
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| {
                answer_counted(
                    &d,
                    &mut session,
                    &mut parser,
                    black_box(TOOLS_CALL),
                    &mut out,
                    &mut clock,
                )
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("metrics");
    group.bench_function("record", |b| {
        let mut last = Instant::now();
        b.iter(|| {
            // One clock read per message, as stdio does for pipelined lines.
            let now = Instant::now();
            metrics::record_message(
                Transport::Stdio,
                black_box(Some(Method::ToolsCall)),
                None,
                false,
                now.saturating_duration_since(last),
            );
            last = now;
            metrics::bytes_out(Transport::Stdio, black_box(1200));
        })
    });
    group.bench_function("record_without_clock", |b| {
        b.iter(|| {
            metrics::record_message(
                Transport::Stdio,
                black_box(Some(Method::ToolsCall)),
                None,
                false,
                black_box(Duration::from_nanos(900)),
            );
            metrics::bytes_out(Transport::Stdio, black_box(1200));
        })
    });
    group.bench_function("record_2_threads", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(move || {
                        for _ in 0..iters {
                            metrics::record_message(
                                Transport::Http,
                                black_box(Some(Method::ToolsCall)),
                                None,
                                false,
                                black_box(Duration::from_nanos(900)),
                            );
                            metrics::bytes_out(Transport::Http, black_box(1200));
                        }
                    });
                }
            });
            started.elapsed()
        })
    });
    group.bench_function("render", |b| b.iter(|| black_box(metrics::render().len())));
    group.finish();
}

/// The realism knobs on: a heavy `tools/list` and binary / structured calls (for scale; the
/// benches above measure the default paths, which these knobs must not slow down).
fn realism_paths(c: &mut Criterion) {
    use benchmark_server::realism::{Content, Realism, Spread};
    let mut group = c.benchmark_group("realism");
    group.sample_size(20);
    let heavy = Realism {
        description_size: Some(Spread::fixed(1000)),
        params: Some(Spread::fixed(10)),
        enum_size: Spread::fixed(5),
        schema_depth: Spread::fixed(3),
        ..Realism::off([1000; 3])
    };
    let image = |size| Realism {
        content: Content::Image,
        structured: true,
        ..Realism::off([size; 3])
    };
    let cases = [
        ("tools_list_10000_heavy", TOOLS_LIST, 10_000, heavy),
        ("tools_call_image_1KiB", TOOLS_CALL, 1000, image(1024)),
        (
            "tools_call_image_100KiB",
            TOOLS_CALL,
            1000,
            image(100 * 1024),
        ),
    ];
    for (label, request, tools, realism) in cases {
        let d = Dispatcher::new(
            Catalog::new([tools, 0, 0], [1000, 1000, 1000]).with_realism(realism),
            0,
            "benchmark-server",
        );
        let mut session = Session::default();
        let mut parser = Parser::default();
        let mut out = Vec::with_capacity(CHUNK_BYTES * 2);
        let bytes = answer(&d, &mut session, &mut parser, request, &mut out);
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(label, |b| {
            b.iter(|| answer(&d, &mut session, &mut parser, black_box(request), &mut out))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    catalog_listing,
    payload_writing,
    request_parsing,
    full_dispatch,
    fault_hooks,
    metrics_overhead,
    realism_paths
);
criterion_main!(benches);
