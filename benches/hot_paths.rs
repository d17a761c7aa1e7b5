//! Micro-benchmarks of the hot paths: catalog listing, payload writing, request parsing and
//! a whole tools/call from request bytes to response bytes.
//!
//! Buffers are reused between iterations the way the stdio transport reuses its own: the
//! output buffer is cleared, never dropped, so steady-state iterations do not allocate.
//!
//! Run: `cargo bench --bench hot_paths` (add a filter, e.g. `-- tools_list`, to run a subset).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use benchmark_server::catalog::{Catalog, Kind};
use benchmark_server::dispatch::{CHUNK_BYTES, Dispatcher, Reply, Session};
use benchmark_server::jsonrpc::{Message, Parser, classify};
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
    let mut sent = 0;
    let mut sink = |out: &mut Vec<u8>| {
        black_box(out.as_slice());
        sent += out.len();
        out.clear();
    };
    match d.handle(session, parser, request, out).reply {
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
    realism_paths
);
criterion_main!(benches);
