// Checks shared by the interop client scripts (client.mjs, client_v2.mjs): what the server's
// replies must look like, whichever SDK received them.

export class Mismatch extends Error {}

export const TOOL_ARGUMENTS = { param1: "hello", param2: 'wörld "quoted"' };

export function check(condition, message) {
  if (!condition) {
    throw new Mismatch(message);
  }
}

export function checkNames(items, prefix, expected, what) {
  if (expected !== undefined) {
    check(items.length === expected, `${what}: expected ${expected} items, got ${items.length}`);
  }
  items.forEach((item, i) => {
    check(item.name === `${prefix}${i}`, `${what}: item ${i} is named ${JSON.stringify(item.name)}, expected ${prefix}${i}`);
  });
}

export function onlyText(content, what) {
  check(content && typeof content.text === "string", `${what}: expected text content, got ${JSON.stringify(content)?.slice(0, 200)}`);
  return content.text;
}

export function parseJson(text, what) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Mismatch(`${what}: text is not JSON (${e.message}): ${JSON.stringify(text.slice(0, 200))}`);
  }
  check(value !== null && typeof value === "object" && !Array.isArray(value), `${what}: JSON is not an object`);
  return value;
}
