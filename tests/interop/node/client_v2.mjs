// Drives benchmark-server with the TypeScript SDK's v2 client package (@modelcontextprotocol/client).
//
// Connects over stdio (spawning the server) or Streamable HTTP, then checks the whole client
// surface the benchmark catalog offers: every tool, resource and prompt (the SDK walks the
// pages; the pages are counted on the wire), a tool call with arguments echoed, a resource
// read, a prompt with arguments, and the error for an unknown tool.
//
// `--era modern` connects with `versionNegotiation: { mode: "auto" }`: the SDK probes
// `server/discover` and adopts 2026-07-28 when the server offers it (over stdio it probes on
// a short-lived sibling process, so the probe is not on the tapped pipe). Every message is
// tapped, so the era (no `initialize`, `_meta` on every request), `resultType` and the
// `ttlMs`/`cacheScope` hints of each page are checked as the server sent them, and a second
// `tools/list` must be served from the SDK's response cache when the hints allow it.
// `--era handshake` connects in the SDK's default legacy mode (`initialize`, `ping`).
// `--url` given twice sends each HTTP request to the next URL in turn.
//
// Exits 0 and prints one JSON summary line on success; exits 1 with a message on the first
// mismatch.

import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Client, ProtocolError, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { Mismatch, TOOL_ARGUMENTS, check, checkNames, onlyText, parseJson } from "./checks.mjs";

const PROMPT_ARGUMENTS = { arg1: "v1" };
const MODERN = "2026-07-28";
const META_VERSION = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities";

function usage(message) {
  process.stderr.write(
    `${message}\n` +
      "usage: client_v2.mjs --era handshake|modern --transport stdio|http --expect-tools N\n" +
      "       [--expect-resources N] [--expect-prompts N] [--expect-tool-size B]\n" +
      "       [--expect-resource-size B] [--expect-list-ttl-ms N] [--expect-read-ttl-ms N]\n" +
      "       [--expect-cache-scope S] [--timeout S]\n" +
      "       (--server PATH [--server-args ARG...] | --url URL [--url URL] [--token T])\n",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const args = {
    era: "handshake",
    transport: "stdio",
    server: undefined,
    serverArgs: [],
    urls: [],
    token: undefined,
    expectTools: undefined,
    expectResources: undefined,
    expectPrompts: undefined,
    expectToolSize: 1000,
    expectResourceSize: 1000,
    expectListTtlMs: 300000,
    expectReadTtlMs: 0,
    expectCacheScope: "public",
    timeout: 60,
  };
  const integer = (flag, value) => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < 0) {
      usage(`${flag} needs a non-negative integer, got ${JSON.stringify(value)}`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) {
        usage(`${flag} needs a value`);
      }
      return argv[++i];
    };
    switch (flag) {
      case "--era":
        args.era = value();
        if (!["handshake", "modern"].includes(args.era)) {
          usage(`unknown era ${JSON.stringify(args.era)}`);
        }
        break;
      case "--transport":
        args.transport = value();
        if (!["stdio", "http"].includes(args.transport)) {
          usage(`unknown transport ${JSON.stringify(args.transport)}`);
        }
        break;
      case "--server":
        args.server = value();
        break;
      case "--server-args":
        // Everything after this flag belongs to the server.
        args.serverArgs = argv.slice(i + 1);
        i = argv.length;
        break;
      case "--url":
        args.urls.push(value());
        break;
      case "--token":
        args.token = value();
        break;
      case "--expect-tools":
        args.expectTools = integer(flag, value());
        break;
      case "--expect-resources":
        args.expectResources = integer(flag, value());
        break;
      case "--expect-prompts":
        args.expectPrompts = integer(flag, value());
        break;
      case "--expect-tool-size":
        args.expectToolSize = integer(flag, value());
        break;
      case "--expect-resource-size":
        args.expectResourceSize = integer(flag, value());
        break;
      case "--expect-list-ttl-ms":
        args.expectListTtlMs = integer(flag, value());
        break;
      case "--expect-read-ttl-ms":
        args.expectReadTtlMs = integer(flag, value());
        break;
      case "--expect-cache-scope":
        args.expectCacheScope = value();
        break;
      case "--timeout":
        args.timeout = Number(value());
        if (!(args.timeout > 0)) {
          usage("--timeout needs a positive number of seconds");
        }
        break;
      default:
        usage(`unknown argument ${JSON.stringify(flag)}`);
    }
  }
  if (args.expectTools === undefined) {
    usage("--expect-tools is required");
  }
  if (args.transport === "stdio" && !args.server) {
    usage("--server is required for --transport stdio");
  }
  if (args.transport === "http" && args.urls.length === 0) {
    usage("--url is required for --transport http");
  }
  return args;
}

// A fetch that sends each request to the next of `urls` in turn, recording which replica
// (`X-Instance-Id`) answered which JSON-RPC method.
function alternatingFetch(urls, answered) {
  const targets = urls.map((u) => new URL(u));
  let sent = 0;
  return async (input, init) => {
    const index = sent % targets.length;
    sent += 1;
    const url = new URL(input instanceof Request ? input.url : String(input));
    url.host = targets[index].host;
    let method;
    try {
      method = JSON.parse(typeof init?.body === "string" ? init.body : "null")?.method;
    } catch {
      method = undefined;
    }
    const response = await fetch(url, init);
    answered.push({ method, replica: index, instance: response.headers.get("x-instance-id") });
    return response;
  };
}

function makeTransport(args, answered) {
  if (args.transport === "stdio") {
    return new StdioClientTransport({ command: args.server, args: args.serverArgs, stderr: "inherit" });
  }
  const headers = args.token ? { Authorization: `Bearer ${args.token}` } : undefined;
  return new StreamableHTTPClientTransport(new URL(args.urls[0]), {
    requestInit: headers ? { headers } : undefined,
    fetch: args.urls.length > 1 ? alternatingFetch(args.urls, answered) : undefined,
  });
}

// Every JSON-RPC message between the SDK and the server, as it crossed the transport.
class Wire {
  constructor() {
    this.requests = [];
    this.results = new Map();
    this.methodOf = new Map();
  }

  sent(message) {
    if (message && typeof message.method === "string" && message.id !== undefined) {
      this.requests.push(message);
      this.methodOf.set(message.id, message.method);
    }
  }

  received(message) {
    if (message && message.id !== undefined && message.result && typeof message.result === "object") {
      this.results.set(message.id, message.result);
    }
  }

  count(method) {
    return this.requests.filter((r) => r.method === method).length;
  }

  resultsOf(method) {
    return [...this.results.entries()].filter(([id]) => this.methodOf.get(id) === method).map(([, r]) => r);
  }
}

// Shows every message to `wire` on its way in and out, without changing the transport's class
// (the SDK treats its own stdio transport specially).
function tap(transport, wire) {
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    wire.sent(message);
    return send(message, options);
  };
  let handler;
  Object.defineProperty(transport, "onmessage", {
    configurable: true,
    get: () => handler,
    set: (value) => {
      handler =
        typeof value === "function"
          ? (message, extra) => {
              wire.received(message);
              value(message, extra);
            }
          : value;
    },
  });
  return transport;
}

function sdkVersion() {
  // The package's exports map hides its package.json: walk up from an entry point to it.
  const require = createRequire(import.meta.url);
  let dir = path.dirname(require.resolve("@modelcontextprotocol/client"));
  for (;;) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
      if (pkg.name === "@modelcontextprotocol/client") {
        return pkg.version;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      return "unknown";
    }
    dir = parent;
  }
}

async function unknownToolError(client) {
  const name = "no_such_tool_xyz";
  let result;
  try {
    result = await client.callTool({ name, arguments: {} });
  } catch (e) {
    check(e instanceof ProtocolError, `unknown tool: expected a ProtocolError, got ${e?.name}: ${e?.message}`);
    check(e.code === -32602, `unknown tool: error code ${e.code}, expected -32602 (${e.message})`);
    check(e.message.includes(name), `unknown tool: message ${JSON.stringify(e.message)} does not name the tool`);
    return { code: e.code, message: e.message };
  }
  throw new Mismatch(`unknown tool: expected a JSON-RPC error, got a result ${JSON.stringify(result).slice(0, 300)}`);
}

// Every `method` result on the wire carried resultType "complete", `ttlMs` and `scope`.
function checkHints(wire, method, ttlMs, scope, pages) {
  const results = wire.resultsOf(method);
  if (pages !== undefined) {
    check(results.length === pages, `${method}: ${results.length} results on the wire, expected ${pages}`);
  }
  results.forEach((r, n) => {
    check(r.resultType === "complete", `${method} result ${n}: resultType ${JSON.stringify(r.resultType)}`);
    check(r.ttlMs === ttlMs, `${method} result ${n}: ttlMs ${JSON.stringify(r.ttlMs)}, expected ${ttlMs}`);
    check(r.cacheScope === scope, `${method} result ${n}: cacheScope ${JSON.stringify(r.cacheScope)}, expected ${scope}`);
  });
}

async function exercise(args, client) {
  const started = performance.now();
  const modern = args.era === "modern";
  const wire = new Wire();
  const answered = [];
  await client.connect(tap(makeTransport(args, answered), wire));

  const negotiated = client.getNegotiatedProtocolVersion();
  const era = client.getProtocolEra();
  if (modern) {
    check(negotiated === MODERN && era === "modern", `negotiated ${negotiated} (${era}), expected ${MODERN} (modern)`);
    check(client.getDiscoverResult() !== undefined, "the SDK adopted no server/discover result");
  } else {
    check(era === "legacy", `negotiated ${negotiated} (${era}), expected the legacy era`);
  }
  const info = client.getServerVersion();
  check(info?.name === "benchmark-server", `serverInfo.name is ${JSON.stringify(info?.name)}`);
  const caps = client.getServerCapabilities() ?? {};
  check(caps.tools !== undefined, "server does not declare the tools capability");
  check(caps.resources !== undefined, "server does not declare the resources capability");
  check(caps.prompts !== undefined, "server does not declare the prompts capability");

  if (!modern) {
    await client.ping();
  }

  const { tools } = await client.listTools();
  const toolPages = wire.count("tools/list");
  checkNames(tools, "benchmark_tool_", args.expectTools, "tools/list");
  if (tools.length > 0) {
    check(tools[0].inputSchema?.type === "object", "tool inputSchema type is not object");
  }
  let cacheHit;
  if (modern) {
    // The listing is cached by its hints: asking again must not reach the server while
    // ttlMs has not run out, and must reach it when ttlMs is 0.
    const again = await client.listTools();
    cacheHit = wire.count("tools/list") === toolPages;
    check(again.tools.length === tools.length, "tools/list: the repeated listing differs");
  }

  const result = await client.callTool({ name: "benchmark_tool_0", arguments: { ...TOOL_ARGUMENTS } });
  check(!result.isError, `benchmark_tool_0 returned isError: ${JSON.stringify(result.content).slice(0, 300)}`);
  check(result.content.length === 1, `tools/call: expected 1 content block, got ${result.content.length}`);
  const payload = parseJson(onlyText(result.content[0], "tools/call"), "tools/call");
  check(payload.tool === "benchmark_tool_0", `tools/call: tool is ${JSON.stringify(payload.tool)}`);
  check(
    JSON.stringify(payload.arguments) === JSON.stringify(TOOL_ARGUMENTS),
    `tools/call: arguments echoed as ${JSON.stringify(payload.arguments)}, sent ${JSON.stringify(TOOL_ARGUMENTS)}`,
  );
  check(typeof payload.data === "string", "tools/call: data is not a string");
  check(
    payload.data.length === args.expectToolSize,
    `tools/call: data is ${payload.data.length} bytes, expected ${args.expectToolSize}`,
  );
  check(typeof payload.timestamp === "string" && payload.timestamp !== "", "tools/call: timestamp missing");

  const { resources } = await client.listResources();
  const resourcePages = wire.count("resources/list");
  checkNames(resources, "benchmark_resource_", args.expectResources, "resources/list");
  if (resources.length > 0) {
    check(
      resources[0].uri === "benchmark://benchmark_resource_0",
      `resources/list: first uri is ${JSON.stringify(resources[0].uri)}`,
    );
  }
  const read = await client.readResource({ uri: "benchmark://benchmark_resource_0" });
  check(read.contents.length === 1, `resources/read: expected 1 content, got ${read.contents.length}`);
  const content = read.contents[0];
  check(content.uri === "benchmark://benchmark_resource_0", `resources/read: uri is ${JSON.stringify(content.uri)}`);
  const resource = parseJson(onlyText(content, "resources/read"), "resources/read");
  check(resource.resource === "benchmark_resource_0", `resources/read: resource is ${JSON.stringify(resource.resource)}`);
  check(
    typeof resource.data === "string" && resource.data.length === args.expectResourceSize,
    `resources/read: data is ${resource.data?.length} bytes, expected ${args.expectResourceSize}`,
  );

  const { prompts } = await client.listPrompts();
  const promptPages = wire.count("prompts/list");
  checkNames(prompts, "benchmark_prompt_", args.expectPrompts, "prompts/list");
  const prompt = await client.getPrompt({ name: "benchmark_prompt_0", arguments: { ...PROMPT_ARGUMENTS } });
  check(prompt.messages.length >= 1, "prompts/get: no messages");
  const text = onlyText(prompt.messages[0].content, "prompts/get");
  check(text.startsWith("Prompt: benchmark_prompt_0"), `prompts/get: text starts ${JSON.stringify(text.slice(0, 60))}`);
  check(text.includes("  - arg1: v1"), `prompts/get: '  - arg1: v1' not in ${JSON.stringify(text.slice(0, 300))}`);

  const unknown = await unknownToolError(client);

  let listenAcknowledged;
  if (modern) {
    // subscriptions/listen resolves on the acknowledgement; the catalog never changes, so the
    // server honors no part of the filter. Closing ends the stream; the connection goes on.
    const subscription = await client.listen({ toolsListChanged: true });
    const honored = JSON.stringify(subscription.honoredFilter);
    check(honored === "{}", `subscriptions/listen: honored ${honored}, expected nothing`);
    await subscription.close();
    check((await subscription.closed) === "local", "subscriptions/listen: not closed by the client");
    listenAcknowledged = true;
    const after = await client.getPrompt({ name: "benchmark_prompt_0", arguments: { ...PROMPT_ARGUMENTS } });
    check(after.messages.length >= 1, "prompts/get after subscriptions/listen: no messages");
  }

  const summary = {
    sdk: "typescript-v2",
    sdk_version: sdkVersion(),
    era: args.era,
    transport: args.transport,
    protocol_version: negotiated,
    first_request: wire.requests[0]?.method,
    requests: wire.requests.length,
    tools: tools.length,
    tool_pages: toolPages,
    resources: resources.length,
    resource_pages: resourcePages,
    prompts: prompts.length,
    prompt_pages: promptPages,
    tool_data_bytes: payload.data.length,
    resource_data_bytes: resource.data.length,
    unknown_tool_error: unknown,
    elapsed_ms: Math.round(performance.now() - started),
    ok: true,
  };
  if (modern) {
    check(wire.count("initialize") === 0, "the SDK sent initialize on a 2026-07-28 connection");
    if (args.transport !== "stdio") {
      check(wire.requests[0]?.method === "server/discover", "the first request was not server/discover");
      checkHints(wire, "server/discover", args.expectListTtlMs, args.expectCacheScope, 1);
    }
    for (const r of wire.requests) {
      const meta = r.params?._meta ?? {};
      check(meta[META_VERSION] === MODERN, `${r.method}: _meta protocol version ${JSON.stringify(meta[META_VERSION])}`);
      check(typeof meta[META_CAPABILITIES] === "object", `${r.method}: _meta has no client capabilities`);
    }
    for (const [id, r] of wire.results) {
      check(r.resultType === "complete", `${wire.methodOf.get(id)}: resultType ${JSON.stringify(r.resultType)}`);
    }
    const scope = args.expectCacheScope;
    checkHints(wire, "tools/list", args.expectListTtlMs, scope, toolPages + (cacheHit ? 0 : toolPages));
    checkHints(wire, "resources/list", args.expectListTtlMs, scope, resourcePages);
    checkHints(wire, "prompts/list", args.expectListTtlMs, scope, promptPages);
    checkHints(wire, "resources/read", args.expectReadTtlMs, scope, 1);
    Object.assign(summary, {
      list_ttl_ms: args.expectListTtlMs,
      cache_scope: scope,
      tools_list_cache_hit: cacheHit,
      listen_acknowledged: listenAcknowledged,
    });
  } else {
    check(wire.requests[0]?.method === "initialize", "the first request was not initialize");
    for (const [id, r] of wire.results) {
      check(r.resultType === undefined, `${wire.methodOf.get(id)}: a handshake-era result carries resultType`);
    }
  }
  if (answered.length > 0) {
    summary.tool_page_instances = answered.filter((a) => a.method === "tools/list").map((a) => a.instance);
    summary.instances = [...new Set(answered.map((a) => a.instance).filter(Boolean))].sort();
  }
  return summary;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const options = { listMaxPages: 1_000_000 };
  if (args.era === "modern") {
    options.versionNegotiation = { mode: "auto" };
  }
  const client = new Client({ name: "benchmark-server-interop", version: "0.0.0" }, options);
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Mismatch(`timed out after ${args.timeout} s`)), args.timeout * 1000);
  });
  let code = 0;
  try {
    const summary = await Promise.race([exercise(args, client), timeout]);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } catch (e) {
    const detail = e instanceof Mismatch ? e.message : `${e?.name ?? "Error"}: ${e?.message ?? e}`;
    process.stderr.write(`typescript-v2 interop FAILED (${args.era}, ${args.transport}): ${detail}\n`);
    code = 1;
  } finally {
    clearTimeout(timer);
  }
  // Closing stops a spawned server; bounded so a stuck close cannot hang the run.
  await Promise.race([client.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  process.exit(code);
}

main();
