//! Allocation counts on the hot paths, measured with a counting global allocator: listing
//! allocates nothing per item, and no request allocates in proportion to the catalog.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use benchmark_server::catalog::Catalog;
use benchmark_server::dispatch::{CHUNK_BYTES, Dispatcher, Reply, Session};
use benchmark_server::jsonrpc::Parser;

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
