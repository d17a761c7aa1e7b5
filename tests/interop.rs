//! Interop: the official MCP SDK clients (Python `mcp`, TypeScript `@modelcontextprotocol/sdk`
//! 1.x and its v2 client package `@modelcontextprotocol/client`) drive the real server binary
//! and check everything they get back, in both protocol eras.
//!
//! The first run installs the pinned SDKs under `target/interop/` (see `interop_support`);
//! later runs reuse them. Each test runs one client script, which connects, lists every tool,
//! resource and prompt (following `nextCursor`), calls `benchmark_tool_0`, reads
//! `benchmark://benchmark_resource_0`, gets `benchmark_prompt_0` and calls an unknown tool.
//! In the handshake era it initializes and pings first. In the 2026-07-28 era the SDK probes
//! `server/discover` and must adopt 2026-07-28; the script checks on the wire that no
//! `initialize` was sent, that every request carried the `_meta` version, and that every
//! result carried `resultType` and, for listings, discover and reads, the `ttlMs` and
//! `cacheScope` the server was started with; a repeated `tools/list` must come from the SDK's
//! response cache exactly when `ttlMs` is not 0.
//!
//! Over stdio the client spawns the server. Over Streamable HTTP (`/mcp`) and legacy SSE
//! (`/sse`) the test starts the server on 127.0.0.1 with `-port=0` and gives the client its
//! URL; the server must still be running and healthy afterwards.

mod common;
mod interop_support;
mod tooling;

use interop_support::{Connection, Era, Expect, Hints, HttpServer, HttpTransport, Sdk, run_client};

/// The bearer token of the authenticated tests.
const TOKEN: &str = "secret123";

/// 10,000 tools with 5,000-byte payloads, the default catalog otherwise, one page each.
fn ten_thousand_tools(sdk: Sdk) {
    run_client(
        sdk,
        Era::Handshake,
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
        Era::Handshake,
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
        Sdk::TypeScript | Sdk::TypeScriptV2 => (None, [1, 1, 1]),
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
        Era::Handshake,
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

// The v2 TypeScript SDK in its default legacy mode: the handshake era, as 1.x speaks it.

#[test]
fn typescript_v2_sdk_in_legacy_mode_over_stdio() {
    paged_listings(Sdk::TypeScriptV2);
}

#[test]
fn typescript_v2_sdk_in_legacy_mode_over_streamable_http() {
    let mut server = HttpServer::start(
        HttpTransport::Streamable,
        &["-tools=10000", "-tool-size=5000"],
    );
    server.run_client(
        Sdk::TypeScriptV2,
        Era::Handshake,
        None,
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

// The 2026-07-28 era: the SDKs that negotiate it (Python `mcp` 2.x, `@modelcontextprotocol/client`).

/// The paged catalog of [`paged_listings`]: 10 pages of tools, 3 of resources, 2 of prompts.
const PAGED: [&str; 6] = [
    "-tools=10000",
    "-resources=2500",
    "-prompts=1001",
    "-page-size=1000",
    "-tool-size=5000",
    "-resource-size=3000",
];

const PAGED_EXPECT: Expect = Expect {
    tools: 10_000,
    resources: 2500,
    prompts: 1001,
    tool_size: 5000,
    resource_size: 3000,
    pages: [10, 3, 2],
};

/// Non-default caching hints, so the flags are seen to reach the client.
const HINT_FLAGS: [&str; 3] = ["-list-ttl=90s", "-read-ttl=1500ms", "-cache-scope=private"];

const HINTS: Hints = Hints {
    list_ttl_ms: 90_000,
    read_ttl_ms: 1500,
    cache_scope: "private",
};

/// The paged catalog over stdio with the hints of [`HINT_FLAGS`].
fn modern_over_stdio(sdk: Sdk) {
    let mut args = PAGED.to_vec();
    args.extend(HINT_FLAGS);
    args.push("-log-level=warn");
    run_client(
        sdk,
        Era::Modern(HINTS),
        Connection::Stdio { server_args: &args },
        PAGED_EXPECT,
    );
}

/// The paged catalog over Streamable HTTP with `extra` server flags; `token` as in [`over_http`].
fn modern_over_http(sdk: Sdk, hints: Hints, token: Option<&str>, extra: &[&str]) {
    let auth = token.map(|t| format!("-auth-token={t}"));
    let mut args = PAGED.to_vec();
    args.extend(auth.as_deref());
    args.extend(extra);
    let mut server = HttpServer::start(HttpTransport::Streamable, &args);
    server.run_client(sdk, Era::Modern(hints), token, PAGED_EXPECT);
}

#[test]
fn python_sdk_negotiates_2026_over_stdio() {
    modern_over_stdio(Sdk::Python);
}

#[test]
fn typescript_v2_sdk_negotiates_2026_over_stdio() {
    modern_over_stdio(Sdk::TypeScriptV2);
}

#[test]
fn python_sdk_negotiates_2026_over_streamable_http() {
    modern_over_http(Sdk::Python, Hints::DEFAULT, None, &[]);
}

#[test]
fn typescript_v2_sdk_negotiates_2026_over_streamable_http() {
    modern_over_http(Sdk::TypeScriptV2, Hints::DEFAULT, None, &[]);
}

#[test]
fn python_sdk_negotiates_2026_over_stateless_streamable_http_with_a_token() {
    modern_over_http(
        Sdk::Python,
        HINTS,
        Some(TOKEN),
        &HINT_FLAGS
            .iter()
            .copied()
            .chain(["-session-mode=stateless"])
            .collect::<Vec<_>>(),
    );
}

#[test]
fn typescript_v2_sdk_negotiates_2026_over_stateless_streamable_http_with_a_token() {
    modern_over_http(
        Sdk::TypeScriptV2,
        HINTS,
        Some(TOKEN),
        &HINT_FLAGS
            .iter()
            .copied()
            .chain(["-session-mode=stateless"])
            .collect::<Vec<_>>(),
    );
}

/// With `-list-ttl=0s` a listing is stale at once: the SDK must ask the server again.
#[test]
fn python_sdk_refetches_a_listing_with_ttl_0() {
    let hints = Hints {
        list_ttl_ms: 0,
        ..Hints::DEFAULT
    };
    modern_over_http(Sdk::Python, hints, None, &["-list-ttl=0s"]);
}

#[test]
fn typescript_v2_sdk_refetches_a_listing_with_ttl_0() {
    let hints = Hints {
        list_ttl_ms: 0,
        ..Hints::DEFAULT
    };
    modern_over_http(Sdk::TypeScriptV2, hints, None, &["-list-ttl=0s"]);
}

/// Replies as SSE events (the pages of 1,000 tools stay under the Python SDK's 1 MiB event limit).
#[test]
fn python_sdk_negotiates_2026_with_sse_replies() {
    modern_over_http(Sdk::Python, Hints::DEFAULT, None, &["-response-mode=sse"]);
}

#[test]
fn typescript_v2_sdk_negotiates_2026_with_sse_replies() {
    modern_over_http(
        Sdk::TypeScriptV2,
        Hints::DEFAULT,
        None,
        &["-response-mode=sse"],
    );
}
