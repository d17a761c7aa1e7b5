// Drives benchmark-server with the official MCP TypeScript SDK (@modelcontextprotocol/sdk).
//
// Connects over stdio (spawning the server), legacy SSE or Streamable HTTP, then checks the
// whole client surface the benchmark catalog offers: initialize, ping, paginated listings,
// a tool call with arguments echoed, a resource read, a prompt with arguments, and the error
// for an unknown tool. Exits 0 and prints one JSON summary line on success; exits 1 with a
// message on the first mismatch.

import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { Mismatch, TOOL_ARGUMENTS, check, checkNames, onlyText, parseJson } from "./checks.mjs";

const PROMPT_ARGUMENTS = { arg1: "v1" };

function usage(message) {
  process.stderr.write(
    `${message}\n` +
      "usage: client.mjs --transport stdio|sse|http --expect-tools N [--expect-resources N]\n" +
      "       [--expect-prompts N] [--expect-tool-size B] [--expect-resource-size B] [--timeout S]\n" +
      "       (--server PATH [--server-args ARG...] | --url URL [--token T])\n",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const args = {
    transport: "stdio",
    server: undefined,
    serverArgs: [],
    url: undefined,
    token: undefined,
    expectTools: undefined,
    expectResources: undefined,
    expectPrompts: undefined,
    expectToolSize: 1000,
    expectResourceSize: 1000,
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
      case "--transport":
        args.transport = value();
        if (!["stdio", "sse", "http"].includes(args.transport)) {
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
        args.url = value();
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
  if (args.transport !== "stdio" && !args.url) {
    usage(`--url is required for --transport ${args.transport}`);
  }
  return args;
}

function makeTransport(args) {
  const headers = args.token ? { Authorization: `Bearer ${args.token}` } : undefined;
  switch (args.transport) {
    case "stdio":
      return new StdioClientTransport({
        command: args.server,
        args: args.serverArgs,
        stderr: "inherit",
      });
    case "sse":
      return new SSEClientTransport(new URL(args.url), {
        requestInit: headers ? { headers } : undefined,
      });
    default:
      return new StreamableHTTPClientTransport(new URL(args.url), {
        requestInit: headers ? { headers } : undefined,
      });
  }
}

// Passes every message the server sends to `observe` before the client sees it.
function tap(transport, observe) {
  return new Proxy(transport, {
    set(target, prop, value) {
      if (prop === "onmessage" && typeof value === "function") {
        target.onmessage = (message, extra) => {
          observe(message);
          value(message, extra);
        };
      } else {
        target[prop] = value;
      }
      return true;
    },
  });
}

async function listAll(fetch, itemsOf) {
  const items = [];
  let cursor;
  let pages = 0;
  for (;;) {
    const result = await fetch(cursor === undefined ? undefined : { cursor });
    pages += 1;
    items.push(...itemsOf(result));
    cursor = result.nextCursor;
    if (!cursor) {
      return { items, pages };
    }
    check(pages < 1_000_000, "listing never ends");
  }
}

function deepEqual(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function sdkVersion() {
  // The package's exports map hides its package.json: walk up from an entry point to it.
  const require = createRequire(import.meta.url);
  let dir = path.dirname(require.resolve("@modelcontextprotocol/sdk/client/index.js"));
  for (;;) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
      if (pkg.name === "@modelcontextprotocol/sdk") {
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
    check(e instanceof McpError, `unknown tool: expected an McpError, got ${e?.name}: ${e?.message}`);
    check(e.code === -32602, `unknown tool: error code ${e.code}, expected -32602 (${e.message})`);
    check(e.message.includes(name), `unknown tool: message ${JSON.stringify(e.message)} does not name the tool`);
    return { code: e.code, message: e.message };
  }
  throw new Mismatch(`unknown tool: expected a JSON-RPC error, got a result ${JSON.stringify(result).slice(0, 300)}`);
}

async function exercise(args, client) {
  const started = performance.now();
  let protocolVersion;
  const transport = tap(makeTransport(args), (message) => {
    if (protocolVersion === undefined && message?.result?.protocolVersion) {
      protocolVersion = message.result.protocolVersion;
    }
  });
  await client.connect(transport);

  const info = client.getServerVersion();
  check(info?.name === "benchmark-server", `serverInfo.name is ${JSON.stringify(info?.name)}`);
  const caps = client.getServerCapabilities() ?? {};
  check(caps.tools !== undefined, "server does not declare the tools capability");
  check(caps.resources !== undefined, "server does not declare the resources capability");
  check(caps.prompts !== undefined, "server does not declare the prompts capability");

  await client.ping();

  const tools = await listAll((p) => client.listTools(p), (r) => r.tools);
  checkNames(tools.items, "benchmark_tool_", args.expectTools, "tools/list");
  if (tools.items.length > 0) {
    check(tools.items[0].inputSchema?.type === "object", "tool inputSchema type is not object");
  }

  const result = await client.callTool({ name: "benchmark_tool_0", arguments: { ...TOOL_ARGUMENTS } });
  check(!result.isError, `benchmark_tool_0 returned isError: ${JSON.stringify(result.content).slice(0, 300)}`);
  check(result.content.length === 1, `tools/call: expected 1 content block, got ${result.content.length}`);
  const payload = parseJson(onlyText(result.content[0], "tools/call"), "tools/call");
  check(payload.tool === "benchmark_tool_0", `tools/call: tool is ${JSON.stringify(payload.tool)}`);
  check(
    deepEqual(payload.arguments, TOOL_ARGUMENTS),
    `tools/call: arguments echoed as ${JSON.stringify(payload.arguments)}, sent ${JSON.stringify(TOOL_ARGUMENTS)}`,
  );
  check(typeof payload.data === "string", "tools/call: data is not a string");
  check(
    payload.data.length === args.expectToolSize,
    `tools/call: data is ${payload.data.length} bytes, expected ${args.expectToolSize}`,
  );
  check(typeof payload.timestamp === "string" && payload.timestamp !== "", "tools/call: timestamp missing");

  const resources = await listAll((p) => client.listResources(p), (r) => r.resources);
  checkNames(resources.items, "benchmark_resource_", args.expectResources, "resources/list");
  if (resources.items.length > 0) {
    check(
      resources.items[0].uri === "benchmark://benchmark_resource_0",
      `resources/list: first uri is ${JSON.stringify(resources.items[0].uri)}`,
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

  const prompts = await listAll((p) => client.listPrompts(p), (r) => r.prompts);
  checkNames(prompts.items, "benchmark_prompt_", args.expectPrompts, "prompts/list");
  const prompt = await client.getPrompt({ name: "benchmark_prompt_0", arguments: { ...PROMPT_ARGUMENTS } });
  check(prompt.messages.length >= 1, "prompts/get: no messages");
  const text = onlyText(prompt.messages[0].content, "prompts/get");
  check(text.startsWith("Prompt: benchmark_prompt_0"), `prompts/get: text starts ${JSON.stringify(text.slice(0, 60))}`);
  check(text.includes("  - arg1: v1"), `prompts/get: '  - arg1: v1' not in ${JSON.stringify(text.slice(0, 300))}`);

  const unknown = await unknownToolError(client);

  return {
    sdk: "typescript",
    sdk_version: sdkVersion(),
    transport: args.transport,
    protocol_version: protocolVersion,
    tools: tools.items.length,
    tool_pages: tools.pages,
    resources: resources.items.length,
    resource_pages: resources.pages,
    prompts: prompts.items.length,
    prompt_pages: prompts.pages,
    tool_data_bytes: payload.data.length,
    resource_data_bytes: resource.data.length,
    unknown_tool_error: unknown,
    elapsed_ms: Math.round(performance.now() - started),
    ok: true,
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const client = new Client({ name: "benchmark-server-interop", version: "0.0.0" });
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
    process.stderr.write(`typescript interop FAILED (${args.transport}): ${detail}\n`);
    code = 1;
  } finally {
    clearTimeout(timer);
  }
  // Closing stops a spawned server; bounded so a stuck close cannot hang the run.
  await Promise.race([client.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  process.exit(code);
}

main();
