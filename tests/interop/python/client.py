"""Drives benchmark-server with the official MCP Python SDK (`mcp` on PyPI).

Connects over stdio (spawning the server), legacy SSE or Streamable HTTP, then checks the
whole client surface the benchmark catalog offers: paginated listings, a tool call with
arguments echoed, a resource read, a prompt with arguments, and the error for an unknown tool.

`--era handshake` (the default) drives `ClientSession` through `initialize` and `ping`.
`--era modern` drives `mcp.Client` in its default `mode="auto"`: it probes `server/discover`
and adopts 2026-07-28 when the server offers it; every message is tapped on the wire, so
the era (no `initialize`, `_meta` on every request), `resultType` and the `ttlMs` /
`cacheScope` hints of each page are checked as the server sent them, and a second
`tools/list` must be served from the SDK's response cache when the hints allow it.
`--url` given twice (Streamable HTTP) sends each HTTP request to the next URL in turn, as a
load balancer over stateless replicas would; the summary records which replica
(`X-Instance-Id`) answered each page.

Exits 0 and prints one JSON summary line on success; exits 1 with a message on the first
mismatch.
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
    p.add_argument("--era", choices=["handshake", "modern"], default="handshake")
    p.add_argument(
        "--url",
        action="append",
        default=[],
        help="endpoint URL (sse: the GET /sse URL; http: the MCP endpoint); twice to alternate",
    )
    p.add_argument("--token", help="bearer token for the HTTP transports")
    p.add_argument("--expect-tools", type=int, required=True)
    p.add_argument("--expect-resources", type=int, default=None)
    p.add_argument("--expect-prompts", type=int, default=None)
    p.add_argument("--expect-tool-size", type=int, default=1000)
    p.add_argument("--expect-resource-size", type=int, default=1000)
    p.add_argument("--expect-list-ttl-ms", type=int, default=300000, help="modern: ttlMs of list results")
    p.add_argument("--expect-read-ttl-ms", type=int, default=0, help="modern: ttlMs of resources/read")
    p.add_argument("--expect-cache-scope", default="public", help="modern: cacheScope of those results")
    p.add_argument("--timeout", type=float, default=60.0, help="overall time limit in seconds")
    args = p.parse_args(argv)
    if args.transport == "stdio" and not args.server:
        p.error("--server is required for --transport stdio")
    if args.transport != "stdio" and not args.url:
        p.error(f"--url is required for --transport {args.transport}")
    if len(args.url) > 1 and args.transport != "http":
        p.error("several --url are for --transport http only")
    if args.era == "modern" and args.transport == "sse":
        p.error("the 2026-07-28 era has no legacy SSE transport")
    return args


def auth_headers(token: str | None) -> dict[str, str] | None:
    return {"Authorization": f"Bearer {token}"} if token else None


def httpx_module() -> Any:
    try:
        import httpx2 as httpx
    except ImportError:
        import httpx  # type: ignore[no-redef]
    return httpx


def alternating_transport(urls: list[str], answered: list[dict[str, Any]]) -> Any:
    """An httpx transport sending each request to the next of `urls` in turn.

    Records, per request, the JSON-RPC method, which URL got it and the replica's
    `X-Instance-Id`.
    """
    httpx = httpx_module()

    class Alternating(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.targets = [httpx.URL(u) for u in urls]
            self.inner = httpx.AsyncHTTPTransport()
            self.sent = 0

        async def handle_async_request(self, request: Any) -> Any:
            index = self.sent % len(self.targets)
            self.sent += 1
            target = self.targets[index]
            request.url = request.url.copy_with(host=target.host, port=target.port)
            request.headers["Host"] = f"{target.host}:{target.port}"
            try:
                method = json.loads(request.content).get("method")
            except Exception:  # noqa: BLE001 - a body that is not one JSON-RPC object
                method = None
            response = await self.inner.handle_async_request(request)
            answered.append(
                {"method": method, "replica": index, "instance": response.headers.get("x-instance-id")}
            )
            return response

        async def aclose(self) -> None:
            await self.inner.aclose()

    return Alternating()


@asynccontextmanager
async def open_streams(args: argparse.Namespace) -> AsyncIterator[tuple[Any, Any]]:
    if args.transport == "stdio":
        params = StdioServerParameters(command=args.server, args=list(args.server_args))
        async with stdio_client(params) as (read, write):
            yield read, write
    elif args.transport == "sse":
        from mcp.client.sse import sse_client

        async with sse_client(args.url[0], headers=auth_headers(args.token)) as (read, write):
            yield read, write
    else:
        import mcp.client.streamable_http as shttp

        if hasattr(shttp, "streamable_http_client"):  # mcp 2.x: headers go on the HTTP client
            httpx = httpx_module()
            extra = {}
            if len(args.url) > 1:
                extra["transport"] = alternating_transport(args.url, args.answered)
            client = httpx.AsyncClient(
                headers=auth_headers(args.token),
                timeout=httpx.Timeout(30.0, read=300.0),
                **extra,
            )
            async with client, shttp.streamable_http_client(args.url[0], http_client=client) as streams:
                yield streams[0], streams[1]
        else:  # mcp 1.x
            async with shttp.streamablehttp_client(args.url[0], headers=auth_headers(args.token)) as streams:
                yield streams[0], streams[1]


class Wire:
    """Every JSON-RPC message between the SDK and the server, as it crossed the transport."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.results: dict[Any, dict[str, Any]] = {}
        self.method_of: dict[Any, str] = {}

    def sent(self, item: Any) -> None:
        message = getattr(item, "message", None)
        method = getattr(message, "method", None)
        request_id = getattr(message, "id", None)
        if method is not None and request_id is not None:
            self.requests.append({"method": method, "id": request_id, "params": getattr(message, "params", None)})
            self.method_of[request_id] = method

    def received(self, item: Any) -> None:
        message = getattr(item, "message", None)
        result = getattr(message, "result", None)
        if isinstance(result, dict):
            self.results[getattr(message, "id", None)] = result

    def count(self, method: str) -> int:
        return sum(1 for r in self.requests if r["method"] == method)

    def results_of(self, method: str) -> list[dict[str, Any]]:
        return [r for i, r in self.results.items() if self.method_of.get(i) == method]


class TapRead:
    """A read stream that shows every message to `wire` before the SDK gets it."""

    def __init__(self, inner: Any, wire: Wire) -> None:
        self._inner = inner
        self._wire = wire

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def receive(self) -> Any:
        item = await self._inner.receive()
        self._wire.received(item)
        return item

    def __aiter__(self) -> TapRead:
        return self

    async def __anext__(self) -> Any:
        item = await self._inner.__anext__()
        self._wire.received(item)
        return item

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> TapRead:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._inner.__aexit__(*exc)


class TapWrite:
    """A write stream that shows every message to `wire` as the SDK sends it."""

    def __init__(self, inner: Any, wire: Wire) -> None:
        self._inner = inner
        self._wire = wire

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def send(self, item: Any, /) -> None:
        self._wire.sent(item)
        await self._inner.send(item)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> TapWrite:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._inner.__aexit__(*exc)


@asynccontextmanager
async def tapped_streams(args: argparse.Namespace, wire: Wire) -> AsyncIterator[tuple[Any, Any]]:
    async with open_streams(args) as (read, write):
        yield TapRead(read, wire), TapWrite(write, wire)


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


def check_tool_result(result: Any, args: argparse.Namespace) -> str:
    """Checks the `benchmark_tool_0` call; returns its `data`."""
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
    return data


def check_tools(tools: list[Any], args: argparse.Namespace) -> None:
    check_names(tools, "benchmark_tool_", args.expect_tools, "tools/list")
    if tools:
        schema = tools[0].input_schema if hasattr(tools[0], "input_schema") else tools[0].inputSchema
        check(schema.get("type") == "object", f"tool inputSchema type is {schema.get('type')!r}")


def check_resources(resources: list[Any], args: argparse.Namespace) -> None:
    check_names(resources, "benchmark_resource_", args.expect_resources, "resources/list")
    if resources:
        check(
            str(resources[0].uri) == "benchmark://benchmark_resource_0",
            f"resources/list: first uri is {resources[0].uri!r}",
        )


def check_read(read_result: Any, args: argparse.Namespace) -> str:
    """Checks the read of `benchmark://benchmark_resource_0`; returns its `data`."""
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
    return rdata


def check_prompt(prompt: Any) -> None:
    check(len(prompt.messages) >= 1, "prompts/get: no messages")
    text = only_text(prompt.messages[0].content, "prompts/get")
    check(
        text.startswith("Prompt: benchmark_prompt_0"),
        f"prompts/get: text starts {text[:60]!r}",
    )
    check("  - arg1: v1" in text, f"prompts/get: '  - arg1: v1' not in {text[:300]!r}")


async def exercise(args: argparse.Namespace) -> dict[str, Any]:
    if args.era == "modern":
        return await exercise_modern(args)
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
            check_tools(tools, args)
            data = check_tool_result(await session.call_tool("benchmark_tool_0", dict(TOOL_ARGUMENTS)), args)

            resources, resource_pages = await list_all(session.list_resources, lambda r: r.resources)
            check_resources(resources, args)
            rdata = check_read(await session.read_resource("benchmark://benchmark_resource_0"), args)

            prompts, prompt_pages = await list_all(session.list_prompts, lambda r: r.prompts)
            check_names(prompts, "benchmark_prompt_", args.expect_prompts, "prompts/list")
            check_prompt(await session.get_prompt("benchmark_prompt_0", dict(PROMPT_ARGUMENTS)))

            unknown_error = await unknown_tool_error(session)

    return {
        "sdk": "python",
        "sdk_version": sdk_version(),
        "era": "handshake",
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


MODERN = "2026-07-28"
META_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"


async def modern_pages(fetch: Any, items_of: Any, what: str) -> tuple[list[Any], int]:
    """Walks a listing page by page (each continuation page goes to the server)."""
    items: list[Any] = []
    cursor: str | None = None
    pages = 0
    while True:
        result = await fetch(cursor=cursor, cache_mode="refresh" if cursor is None else "use")
        pages += 1
        items.extend(items_of(result))
        cursor = result.next_cursor
        if not cursor:
            return items, pages
        check(pages < 1_000_000, f"{what}: listing never ends")


def check_hints(wire: Wire, method: str, ttl_ms: int, scope: str, pages: int | None) -> None:
    """Every `method` result carried resultType "complete", `ttl_ms` and `scope`, as sent."""
    results = wire.results_of(method)
    if pages is not None:
        check(len(results) == pages, f"{method}: {len(results)} results on the wire, expected {pages}")
    for n, result in enumerate(results):
        check(result.get("resultType") == "complete", f"{method} result {n}: resultType {result.get('resultType')!r}")
        check(result.get("ttlMs") == ttl_ms, f"{method} result {n}: ttlMs {result.get('ttlMs')!r}, expected {ttl_ms}")
        check(
            result.get("cacheScope") == scope,
            f"{method} result {n}: cacheScope {result.get('cacheScope')!r}, expected {scope!r}",
        )


async def exercise_modern(args: argparse.Namespace) -> dict[str, Any]:
    from mcp import Client

    started = time.monotonic()
    wire = Wire()
    async with Client(tapped_streams(args, wire), mode="auto") as client:
        negotiated = client.protocol_version
        check(negotiated == MODERN, f"negotiated {negotiated!r}, expected {MODERN}")
        check(client.session.discover_result is not None, "the SDK adopted no server/discover result")
        info = client.server_info
        check(info is not None and info.name == "benchmark-server", f"serverInfo is {info!r}")
        caps = client.server_capabilities
        check(caps.tools is not None, "server does not declare the tools capability")
        check(caps.resources is not None, "server does not declare the resources capability")
        check(caps.prompts is not None, "server does not declare the prompts capability")

        tools, tool_pages = await modern_pages(client.list_tools, lambda r: r.tools, "tools/list")
        check_tools(tools, args)
        # The first page is cached by its hints: asking again must not reach the server
        # while ttlMs has not run out, and must reach it when ttlMs is 0.
        before = wire.count("tools/list")
        again = await client.list_tools()
        cache_hit = wire.count("tools/list") == before
        check(
            [t.name for t in again.tools] == [t.name for t in tools[: len(again.tools)]],
            "tools/list: the repeated first page differs",
        )
        data = check_tool_result(await client.call_tool("benchmark_tool_0", dict(TOOL_ARGUMENTS)), args)

        resources, resource_pages = await modern_pages(
            client.list_resources, lambda r: r.resources, "resources/list"
        )
        check_resources(resources, args)
        rdata = check_read(await client.read_resource("benchmark://benchmark_resource_0"), args)

        prompts, prompt_pages = await modern_pages(client.list_prompts, lambda r: r.prompts, "prompts/list")
        check_names(prompts, "benchmark_prompt_", args.expect_prompts, "prompts/list")
        check_prompt(await client.get_prompt("benchmark_prompt_0", dict(PROMPT_ARGUMENTS)))

        unknown_error = await unknown_tool_error(client)

        # subscriptions/listen: entering waits for the acknowledgement; the catalog never
        # changes, so the server honors no part of the filter. Leaving closes the stream.
        with anyio.fail_after(30):
            async with client.listen(tools_list_changed=True) as subscription:
                honored = subscription.honored.model_dump(by_alias=True, exclude_none=True)
        check(honored == {}, f"subscriptions/listen: honored {honored!r}, expected nothing")
        # The connection goes on after the stream is closed.
        check_prompt(await client.get_prompt("benchmark_prompt_0", dict(PROMPT_ARGUMENTS)))

    check(wire.requests and wire.requests[0]["method"] == "server/discover", "the first request was not server/discover")
    check(wire.count("initialize") == 0, "the SDK sent initialize on a 2026-07-28 connection")
    for r in wire.requests:
        meta = (r["params"] or {}).get("_meta") or {}
        check(meta.get(META_VERSION) == MODERN, f"{r['method']}: _meta protocol version {meta.get(META_VERSION)!r}")
        check(isinstance(meta.get(META_CAPABILITIES), dict), f"{r['method']}: _meta has no client capabilities")
    for method, result in ((wire.method_of[i], res) for i, res in wire.results.items()):
        check(result.get("resultType") == "complete", f"{method}: resultType {result.get('resultType')!r}")
    scope = args.expect_cache_scope
    check_hints(wire, "server/discover", args.expect_list_ttl_ms, scope, 1)
    check_hints(wire, "tools/list", args.expect_list_ttl_ms, scope, tool_pages + (0 if cache_hit else 1))
    check_hints(wire, "resources/list", args.expect_list_ttl_ms, scope, resource_pages)
    check_hints(wire, "prompts/list", args.expect_list_ttl_ms, scope, prompt_pages)
    check_hints(wire, "resources/read", args.expect_read_ttl_ms, scope, 1)

    summary: dict[str, Any] = {
        "sdk": "python",
        "sdk_version": sdk_version(),
        "era": "modern",
        "transport": args.transport,
        "protocol_version": negotiated,
        "first_request": wire.requests[0]["method"],
        "requests": len(wire.requests),
        "list_ttl_ms": args.expect_list_ttl_ms,
        "cache_scope": scope,
        "tools_list_cache_hit": cache_hit,
        "listen_acknowledged": True,
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
    if args.answered:
        summary["tool_page_instances"] = [a["instance"] for a in args.answered if a["method"] == "tools/list"]
        summary["instances"] = sorted({a["instance"] for a in args.answered if a["instance"]})
    return summary


async def unknown_tool_error(session: Any) -> dict[str, Any]:
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
    args.answered = []

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
