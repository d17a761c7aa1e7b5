//! Interop: the official MCP SDK clients (Python `mcp`, TypeScript `@modelcontextprotocol/sdk`)
//! drive the real server binary and check everything they get back.
//!
//! The first run installs the pinned SDKs under `target/interop/` (see `interop_support`);
//! later runs reuse them. Each test runs one client script, which initializes, pings, lists
//! every tool, resource and prompt (following `nextCursor`), calls `benchmark_tool_0`, reads
//! `benchmark://benchmark_resource_0`, gets `benchmark_prompt_0` and calls an unknown tool.
//!
//! Over stdio the client spawns the server. Over Streamable HTTP (`/mcp`) and legacy SSE
//! (`/sse`) the test starts the server on 127.0.0.1 with `-port=0` and gives the client its
//! URL; the server must still be running and healthy afterwards.

mod common;
mod interop_support;
mod tooling;

use interop_support::{Connection, Expect, HttpServer, HttpTransport, Sdk, run_client};

/// The bearer token of the authenticated tests.
const TOKEN: &str = "secret123";

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

/// The page size that keeps each tools/list reply of 10,000 tools within what `sdk` accepts
/// when the reply comes as one SSE event, and the pages the listings then take.
///
/// One page of 10,000 tools is about 4 MB. The Python SDK reads SSE events of at most 1 MiB
/// (its default `max_sse_event_size`; the legacy `sse_client` has no way to raise it), so it
/// gets pages of 1,000 tools (about 400 KB). The TypeScript SDK takes the single page.
fn sse_paging(sdk: Sdk) -> (Option<&'static str>, [u64; 3]) {
    match sdk {
        Sdk::Python => (Some("-page-size=1000"), [10, 1, 1]),
        Sdk::TypeScript => (None, [1, 1, 1]),
    }
}

/// 10,000 tools with 5,000-byte payloads over an HTTP transport, with `extra` server flags and,
/// when `token` is set, `-auth-token=<token>` on the server and the same token in the client.
fn over_http(sdk: Sdk, transport: HttpTransport, token: Option<&str>, extra: &[&str]) {
    let sse_replies = transport == HttpTransport::Sse || extra.contains(&"-response-mode=sse");
    let (page_flag, pages) = if sse_replies {
        sse_paging(sdk)
    } else {
        (None, [1, 1, 1])
    };
    let auth = token.map(|t| format!("-auth-token={t}"));
    let mut args = vec!["-tools=10000", "-tool-size=5000"];
    args.extend(page_flag);
    args.extend(auth.as_deref());
    args.extend(extra);
    let mut server = HttpServer::start(transport, &args);
    server.run_client(
        sdk,
        token,
        Expect {
            tools: 10_000,
            resources: 100,
            prompts: 100,
            tool_size: 5000,
            resource_size: 1000,
            pages,
        },
    );
}

/// With `-auth-token` set, a client sending no token and one sending a wrong token both fail,
/// over Streamable HTTP and over SSE, and the server refuses them and keeps running.
fn refused_without_the_right_token(sdk: Sdk) {
    for transport in [HttpTransport::Streamable, HttpTransport::Sse] {
        let auth = format!("-auth-token={TOKEN}");
        let mut server = HttpServer::start(transport, &[&auth, "-log-level=debug"]);
        for token in [None, Some("wrong-token")] {
            let ended = server.run_refused_client(sdk, token);
            eprintln!("{sdk:?} over {} with {token:?}: {ended}", server.url());
        }
    }
}

#[test]
fn python_sdk_over_streamable_http_at_10000_tools() {
    over_http(Sdk::Python, HttpTransport::Streamable, None, &[]);
}

#[test]
fn typescript_sdk_over_streamable_http_at_10000_tools() {
    over_http(Sdk::TypeScript, HttpTransport::Streamable, None, &[]);
}

#[test]
fn python_sdk_over_streamable_http_with_a_bearer_token() {
    over_http(Sdk::Python, HttpTransport::Streamable, Some(TOKEN), &[]);
}

#[test]
fn typescript_sdk_over_streamable_http_with_a_bearer_token() {
    over_http(Sdk::TypeScript, HttpTransport::Streamable, Some(TOKEN), &[]);
}

#[test]
fn python_sdk_over_sse_at_10000_tools() {
    over_http(Sdk::Python, HttpTransport::Sse, None, &[]);
}

#[test]
fn typescript_sdk_over_sse_at_10000_tools() {
    over_http(Sdk::TypeScript, HttpTransport::Sse, None, &[]);
}

#[test]
fn python_sdk_over_sse_with_a_bearer_token() {
    over_http(Sdk::Python, HttpTransport::Sse, Some(TOKEN), &[]);
}

#[test]
fn typescript_sdk_over_sse_with_a_bearer_token() {
    over_http(Sdk::TypeScript, HttpTransport::Sse, Some(TOKEN), &[]);
}

#[test]
fn python_sdk_over_stateless_streamable_http() {
    over_http(
        Sdk::Python,
        HttpTransport::Streamable,
        None,
        &["-session-mode=stateless"],
    );
}

#[test]
fn typescript_sdk_over_stateless_streamable_http() {
    over_http(
        Sdk::TypeScript,
        HttpTransport::Streamable,
        None,
        &["-session-mode=stateless"],
    );
}

#[test]
fn python_sdk_over_streamable_http_with_sse_replies() {
    over_http(
        Sdk::Python,
        HttpTransport::Streamable,
        None,
        &["-response-mode=sse"],
    );
}

#[test]
fn typescript_sdk_over_streamable_http_with_sse_replies() {
    over_http(
        Sdk::TypeScript,
        HttpTransport::Streamable,
        None,
        &["-response-mode=sse"],
    );
}

#[test]
fn python_sdk_is_refused_without_the_right_token() {
    refused_without_the_right_token(Sdk::Python);
}

#[test]
fn typescript_sdk_is_refused_without_the_right_token() {
    refused_without_the_right_token(Sdk::TypeScript);
}
