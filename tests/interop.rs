//! Interop: the official MCP SDK clients (Python `mcp`, TypeScript `@modelcontextprotocol/sdk`)
//! drive the real server binary and check everything they get back.
//!
//! The first run installs the pinned SDKs under `target/interop/` (see `interop_support`);
//! later runs reuse them. Each test runs one client script, which initializes, pings, lists
//! every tool, resource and prompt (following `nextCursor`), calls `benchmark_tool_0`, reads
//! `benchmark://benchmark_resource_0`, gets `benchmark_prompt_0` and calls an unknown tool.

mod interop_support;

use interop_support::{Connection, Expect, Sdk, run_client};

/// 10,000 tools with 5,000-byte payloads, the default catalog otherwise, one page each.
fn ten_thousand_tools(sdk: Sdk) {
    run_client(
        sdk,
        Connection::Stdio {
            server_args: &["-tools=10000", "-tool-size=5000", "-log-level=warn"],
        },
        Expect {
            tools: 10_000,
            resources: 100,
            prompts: 100,
            tool_size: 5000,
            resource_size: 1000,
            pages: [1, 1, 1],
        },
    );
}

/// Pages of 1,000: 10 pages of tools, 3 of resources (the last one short), 2 of prompts.
/// Payloads larger than the server's write chunk are streamed in pieces.
fn paged_listings(sdk: Sdk) {
    run_client(
        sdk,
        Connection::Stdio {
            server_args: &[
                "-tools=10000",
                "-resources=2500",
                "-prompts=1001",
                "-page-size=1000",
                "-tool-size=200000",
                "-resource-size=300000",
                "-log-level=warn",
            ],
        },
        Expect {
            tools: 10_000,
            resources: 2500,
            prompts: 1001,
            tool_size: 200_000,
            resource_size: 300_000,
            pages: [10, 3, 2],
        },
    );
}

#[test]
fn python_sdk_over_stdio_at_10000_tools() {
    ten_thousand_tools(Sdk::Python);
}

#[test]
fn typescript_sdk_over_stdio_at_10000_tools() {
    ten_thousand_tools(Sdk::TypeScript);
}

#[test]
fn python_sdk_follows_cursors_over_stdio_with_page_size_1000() {
    paged_listings(Sdk::Python);
}

#[test]
fn typescript_sdk_follows_cursors_over_stdio_with_page_size_1000() {
    paged_listings(Sdk::TypeScript);
}
