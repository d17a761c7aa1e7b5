//! Allocation counts on the hot paths, measured with a counting global allocator: listing
//! allocates nothing per item, and no request allocates in proportion to the catalog.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use benchmark_server::catalog::Catalog;
use benchmark_server::dispatch::{CHUNK_BYTES, Dispatcher, Reply, Session};
use benchmark_server::jsonrpc::Parser;
use benchmark_server::realism::{Content, Realism, Spread};

struct Counting;

thread_local! {
    // Per thread, so tests running in parallel do not count each other's allocations.
    // A const-initialized Cell has no destructor and never allocates.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made while handling `request` and streaming its whole response through a
/// chunk buffer the way a transport does (the buffers are warmed up first, as on a live
/// connection).
fn allocations_for(d: &Dispatcher, request: &[u8]) -> usize {
    let mut parser = Parser::default();
    let mut session = Session::default();
    let mut out = Vec::with_capacity(4 * CHUNK_BYTES);
    let mut run = |out: &mut Vec<u8>| {
        out.clear();
        let outcome = d.handle(&mut session, &mut parser, request, out);
        if let Reply::Partial(mut rest) = outcome.reply {
            loop {
                out.clear(); // the transport has written the chunk out
                if rest.write_more(d.catalog(), out, CHUNK_BYTES) {
                    break;
                }
            }
        }
    };
    run(&mut out); // warm the parser's and the output buffer's capacity
    let before = allocations();
    run(&mut out);
    allocations() - before
}

fn dispatcher(items: u64, size: u64) -> Dispatcher {
    Dispatcher::new(
        Catalog::new([items, items, items], [size, size, size]),
        0,
        "benchmark-server",
    )
}

#[test]
fn listing_allocates_nothing_per_item() {
    for method in ["tools/list", "resources/list", "prompts/list"] {
        let request = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}"}}"#);
        let small = allocations_for(&dispatcher(100, 10), request.as_bytes());
        let large = allocations_for(&dispatcher(100_000, 10), request.as_bytes());
        assert_eq!(
            small, large,
            "{method}: {small} allocations at 100 items, {large} at 100,000"
        );
        assert!(
            large <= 4,
            "{method}: {large} allocations for a whole listing"
        );
    }
}

#[test]
fn calls_and_reads_allocate_a_constant_amount() {
    let call = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"benchmark_tool_99","arguments":{"param1":"a"}}}"#;
    let read = br#"{"jsonrpc":"2.0","id":8,"method":"resources/read","params":{"uri":"benchmark://benchmark_resource_99"}}"#;
    for request in [&call[..], &read[..]] {
        let small = allocations_for(&dispatcher(100, 1000), request);
        let large = allocations_for(&dispatcher(10_000_000, 1000), request);
        assert_eq!(small, large, "{}", String::from_utf8_lossy(request));
        assert!(large <= 4, "{large} allocations for one request");
    }
    // A 10 MB payload is streamed from the filler block: a few allocations, not one per chunk.
    let big = allocations_for(&dispatcher(100, 10 * 1024 * 1024), call);
    assert!(big <= 6, "{big} allocations for a 10 MB tools/call");
}

/// Every realism knob that shapes definitions or results, on.
fn heavy_realism(size: u64) -> Realism {
    Realism {
        sizes: [Spread {
            lo: size,
            hi: size * 2,
        }; 3],
        payload_size_arg: true,
        description_size: Some(Spread { lo: 100, hi: 2000 }),
        params: Some(Spread { lo: 1, hi: 20 }),
        schema_depth: Spread { lo: 0, hi: 6 },
        enum_size: Spread { lo: 0, hi: 8 },
        content: Content::Mixed,
        structured: true,
        ..Realism::off([size; 3])
    }
}

fn with_realism(items: u64, realism: Realism) -> Dispatcher {
    let sizes = realism.sizes.map(|s| s.lo);
    Dispatcher::new(
        Catalog::new([items, items, items], sizes).with_realism(realism),
        0,
        "benchmark-server",
    )
}

fn heavy(items: u64, size: u64) -> Dispatcher {
    with_realism(items, heavy_realism(size))
}

#[test]
fn listing_with_the_realism_knobs_on_allocates_nothing_per_item() {
    for method in ["tools/list", "resources/list", "prompts/list"] {
        let request = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}"}}"#);
        let small = allocations_for(&heavy(100, 10), request.as_bytes());
        let large = allocations_for(&heavy(20_000, 10), request.as_bytes());
        assert_eq!(
            small, large,
            "{method}: {small} allocations at 100 items, {large} at 20,000"
        );
        assert!(
            large <= 4,
            "{method}: {large} allocations for a whole listing"
        );
    }
}

#[test]
fn realism_calls_allocate_a_constant_amount() {
    for i in 96..100 {
        // Each content kind once (mixed cycles by index), structured results on.
        let call = format!(
            r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"benchmark_tool_{i}","arguments":{{"param1":"a"}}}}}}"#
        );
        let read = format!(
            r#"{{"jsonrpc":"2.0","id":8,"method":"resources/read","params":{{"uri":"benchmark://benchmark_resource_{i}"}}}}"#
        );
        for request in [call, read] {
            let small = allocations_for(&heavy(100, 1000), request.as_bytes());
            let large = allocations_for(&heavy(10_000_000, 1000), request.as_bytes());
            assert_eq!(small, large, "{request}");
            assert!(large <= 4, "{large} allocations for {request}");
        }
    }
    // Large results are streamed in segments: a few allocations, not one per chunk.
    let call = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"benchmark_tool_1","arguments":{"payload_size":5000000}}}"#;
    let d = with_realism(
        100,
        Realism {
            max_payload_size: 10_000_000,
            ..heavy_realism(1000)
        },
    );
    let big = allocations_for(&d, call);
    assert!(big <= 12, "{big} allocations for a 5 MB image call");
}
