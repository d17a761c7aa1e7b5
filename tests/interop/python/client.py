"""Drives benchmark-server with the official MCP Python SDK (`mcp` on PyPI).

Connects over stdio (spawning the server), legacy SSE or Streamable HTTP, then checks the
whole client surface the benchmark catalog offers: initialize, ping, paginated listings,
a tool call with arguments echoed, a resource read, a prompt with arguments, and the error
for an unknown tool. Exits 0 and prints one JSON summary line on success; exits 1 with a
message on the first mismatch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Iterator

import anyio

from mcp import ClientSession, types
from mcp.client.stdio import StdioServerParameters, stdio_client

try:  # mcp 2.x
    from mcp import MCPError as SdkError
except ImportError:  # mcp 1.x
    from mcp.shared.exceptions import McpError as SdkError  # type: ignore[no-redef]

TOOL_ARGUMENTS = {"param1": "hello", "param2": 'wörld "quoted"'}
PROMPT_ARGUMENTS = {"arg1": "v1"}


class Mismatch(Exception):
    """A check against the server's answers failed."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Mismatch(message)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--transport", choices=["stdio", "sse", "http"], default="stdio")
    p.add_argument("--server", help="server binary (stdio)")
    p.add_argument(
        "--server-args",
        nargs=argparse.REMAINDER,
        default=[],
        help="arguments for the server binary (stdio); everything after this flag",
    )
    p.add_argument("--url", help="endpoint URL (sse: the GET /sse URL; http: the MCP endpoint)")
    p.add_argument("--token", help="bearer token for the HTTP transports")
    p.add_argument("--expect-tools", type=int, required=True)
    p.add_argument("--expect-resources", type=int, default=None)
    p.add_argument("--expect-prompts", type=int, default=None)
    p.add_argument("--expect-tool-size", type=int, default=1000)
    p.add_argument("--expect-resource-size", type=int, default=1000)
    p.add_argument("--timeout", type=float, default=60.0, help="overall time limit in seconds")
    args = p.parse_args(argv)
    if args.transport == "stdio" and not args.server:
        p.error("--server is required for --transport stdio")
    if args.transport != "stdio" and not args.url:
        p.error(f"--url is required for --transport {args.transport}")
    return args


def auth_headers(token: str | None) -> dict[str, str] | None:
    return {"Authorization": f"Bearer {token}"} if token else None


@asynccontextmanager
async def open_streams(args: argparse.Namespace) -> AsyncIterator[tuple[Any, Any]]:
    if args.transport == "stdio":
        params = StdioServerParameters(command=args.server, args=list(args.server_args))
        async with stdio_client(params) as (read, write):
            yield read, write
    elif args.transport == "sse":
        from mcp.client.sse import sse_client

        async with sse_client(args.url, headers=auth_headers(args.token)) as (read, write):
            yield read, write
    else:
        import mcp.client.streamable_http as shttp

        if hasattr(shttp, "streamable_http_client"):  # mcp 2.x: headers go on the HTTP client
            try:
                import httpx2 as httpx
            except ImportError:
                import httpx  # type: ignore[no-redef]
            client = httpx.AsyncClient(
                headers=auth_headers(args.token),
                timeout=httpx.Timeout(30.0, read=300.0),
            )
            async with client, shttp.streamable_http_client(args.url, http_client=client) as streams:
                yield streams[0], streams[1]
        else:  # mcp 1.x
            async with shttp.streamablehttp_client(args.url, headers=auth_headers(args.token)) as streams:
                yield streams[0], streams[1]


async def list_all(fetch: Any, items_of: Any) -> tuple[list[Any], int]:
    """Follows nextCursor until the listing ends; returns the items and the page count."""
    items: list[Any] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = types.PaginatedRequestParams(cursor=cursor) if cursor is not None else None
        result = await fetch(params=params)
        pages += 1
        items.extend(items_of(result))
        cursor = result.next_cursor if hasattr(result, "next_cursor") else result.nextCursor
        if not cursor:
            return items, pages
        check(pages < 1_000_000, "listing never ends")


def check_names(items: list[Any], prefix: str, expected: int | None, what: str) -> None:
    if expected is not None:
        check(len(items) == expected, f"{what}: expected {expected} items, got {len(items)}")
    for i, item in enumerate(items):
        name = item.name
        if name != f"{prefix}{i}":
            raise Mismatch(f"{what}: item {i} is named {name!r}, expected {prefix}{i!r}")


def only_text(content: Any, what: str) -> str:
    text = getattr(content, "text", None)
    check(isinstance(text, str), f"{what}: expected text content, got {content!r:.200}")
    return text


def parse_json(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise Mismatch(f"{what}: text is not JSON ({e}): {text[:200]!r}") from None
    check(isinstance(value, dict), f"{what}: JSON is not an object: {text[:200]!r}")
    return value


async def exercise(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    async with open_streams(args) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            check(init.server_info.name == "benchmark-server", f"serverInfo.name is {init.server_info.name!r}")
            caps = init.capabilities
            check(caps.tools is not None, "server does not declare the tools capability")
            check(caps.resources is not None, "server does not declare the resources capability")
            check(caps.prompts is not None, "server does not declare the prompts capability")

            await session.send_ping()

            tools, tool_pages = await list_all(session.list_tools, lambda r: r.tools)
            check_names(tools, "benchmark_tool_", args.expect_tools, "tools/list")
            if tools:
                schema = tools[0].input_schema if hasattr(tools[0], "input_schema") else tools[0].inputSchema
                check(schema.get("type") == "object", f"tool inputSchema type is {schema.get('type')!r}")

            result = await session.call_tool("benchmark_tool_0", dict(TOOL_ARGUMENTS))
            is_error = result.is_error if hasattr(result, "is_error") else result.isError
            check(not is_error, f"benchmark_tool_0 returned isError: {result.content!r:.300}")
            check(len(result.content) == 1, f"tools/call: expected 1 content block, got {len(result.content)}")
            payload = parse_json(only_text(result.content[0], "tools/call"), "tools/call")
            check(payload.get("tool") == "benchmark_tool_0", f"tools/call: tool is {payload.get('tool')!r}")
            check(
                payload.get("arguments") == TOOL_ARGUMENTS,
                f"tools/call: arguments echoed as {payload.get('arguments')!r}, sent {TOOL_ARGUMENTS!r}",
            )
            data = payload.get("data")
            check(isinstance(data, str), "tools/call: data is not a string")
            check(
                len(data) == args.expect_tool_size,
                f"tools/call: data is {len(data)} bytes, expected {args.expect_tool_size}",
            )
            check(
                isinstance(payload.get("timestamp"), str) and payload["timestamp"] != "",
                "tools/call: timestamp missing",
            )

            resources, resource_pages = await list_all(session.list_resources, lambda r: r.resources)
            check_names(resources, "benchmark_resource_", args.expect_resources, "resources/list")
            if resources:
                check(
                    str(resources[0].uri) == "benchmark://benchmark_resource_0",
                    f"resources/list: first uri is {resources[0].uri!r}",
                )
            read_result = await session.read_resource("benchmark://benchmark_resource_0")
            check(len(read_result.contents) == 1, "resources/read: expected 1 content")
            content = read_result.contents[0]
            check(
                str(content.uri) == "benchmark://benchmark_resource_0",
                f"resources/read: uri is {content.uri!r}",
            )
            resource = parse_json(only_text(content, "resources/read"), "resources/read")
            check(
                resource.get("resource") == "benchmark_resource_0",
                f"resources/read: resource is {resource.get('resource')!r}",
            )
            rdata = resource.get("data")
            check(
                isinstance(rdata, str) and len(rdata) == args.expect_resource_size,
                f"resources/read: data is {len(rdata) if isinstance(rdata, str) else rdata!r} bytes, "
                f"expected {args.expect_resource_size}",
            )

            prompts, prompt_pages = await list_all(session.list_prompts, lambda r: r.prompts)
            check_names(prompts, "benchmark_prompt_", args.expect_prompts, "prompts/list")
            prompt = await session.get_prompt("benchmark_prompt_0", dict(PROMPT_ARGUMENTS))
            check(len(prompt.messages) >= 1, "prompts/get: no messages")
            text = only_text(prompt.messages[0].content, "prompts/get")
            check(
                text.startswith("Prompt: benchmark_prompt_0"),
                f"prompts/get: text starts {text[:60]!r}",
            )
            check("  - arg1: v1" in text, f"prompts/get: '  - arg1: v1' not in {text[:300]!r}")

            unknown_error = await unknown_tool_error(session)

    return {
        "sdk": "python",
        "sdk_version": sdk_version(),
        "transport": args.transport,
        "protocol_version": init.protocol_version,
        "tools": len(tools),
        "tool_pages": tool_pages,
        "resources": len(resources),
        "resource_pages": resource_pages,
        "prompts": len(prompts),
        "prompt_pages": prompt_pages,
        "tool_data_bytes": len(data),
        "resource_data_bytes": len(rdata),
        "unknown_tool_error": unknown_error,
        "elapsed_ms": round((time.monotonic() - started) * 1000),
        "ok": True,
    }


async def unknown_tool_error(session: ClientSession) -> dict[str, Any]:
    name = "no_such_tool_xyz"
    try:
        result = await session.call_tool(name, {})
    except SdkError as e:
        code = e.error.code
        message = e.error.message
        check(code == -32602, f"unknown tool: error code {code}, expected -32602 ({message})")
        check(name in message, f"unknown tool: message {message!r} does not name the tool")
        return {"code": code, "message": message}
    raise Mismatch(f"unknown tool: expected a JSON-RPC error, got a result {result!r:.300}")


def sdk_version() -> str:
    from importlib.metadata import version

    return version("mcp")


def leaf_exceptions(e: BaseException) -> Iterator[BaseException]:
    """The exceptions inside (possibly nested) exception groups, or `e` itself."""
    inner = getattr(e, "exceptions", None)
    if not inner:
        yield e
        return
    for sub in inner:
        yield from leaf_exceptions(sub)


def main(argv: list[str]) -> int:
    args = parse_args(argv)

    async def run() -> dict[str, Any] | None:
        with anyio.move_on_after(args.timeout):
            return await exercise(args)
        return None

    try:
        summary = anyio.run(run)
    except BaseException as e:  # noqa: BLE001 - report whatever the SDK raised, grouped or not
        leaves = list(leaf_exceptions(e))
        mismatches = [x for x in leaves if isinstance(x, Mismatch)]
        for x in mismatches or leaves:
            detail = str(x) if isinstance(x, Mismatch) else f"{type(x).__name__}: {x}"
            print(f"python interop FAILED ({args.transport}): {detail}", file=sys.stderr)
        return 1
    if summary is None:
        print(f"python interop FAILED ({args.transport}): timed out after {args.timeout} s", file=sys.stderr)
        return 1
    print(json.dumps(summary, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
