// Drives an MCP server with an official MCP TypeScript SDK client, and prints what happened as
// one JSON line for the Rust test that runs it (examples/mcp/tests/typescript_sdk.rs):
//   node client.mjs <sdk: "client" | "sdk"> <endpoint URL> <access token>
// "client" is @modelcontextprotocol/client 2 with the 2026-07-28 protocol pinned (it sends the
// SEP-2243 Mcp-Method and Mcp-Name headers), "sdk" is @modelcontextprotocol/sdk 1 (earlier
// protocol versions, no such headers).
// It lists the tools, calls `add`, then `usage`; every HTTP exchange is recorded (the request's
// Mcp-* headers, the response's status and WWW-Authenticate) through the transport's fetch.

const [sdk, endpoint, token] = process.argv.slice(2);
const { Client, StreamableHTTPClientTransport } =
  sdk === "client"
    ? await import("@modelcontextprotocol/client")
    : {
        ...(await import("@modelcontextprotocol/sdk/client/index.js")),
        ...(await import("@modelcontextprotocol/sdk/client/streamableHttp.js")),
      };

const exchanges = [];
async function recordingFetch(url, init) {
  const headers = new Headers(init?.headers);
  const response = await fetch(url, init);
  exchanges.push({
    method: init?.method ?? "GET",
    mcpMethod: headers.get("mcp-method"),
    mcpName: headers.get("mcp-name"),
    status: response.status,
    wwwAuthenticate: response.headers.get("www-authenticate"),
  });
  return response;
}

const transport = new StreamableHTTPClientTransport(new URL(endpoint), {
  fetch: recordingFetch,
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client =
  sdk === "client"
    ? new Client(
        { name: "portcullis-interop", version: "1.0.0" },
        { versionNegotiation: { mode: { pin: "2026-07-28" } } },
      )
    : new Client({ name: "portcullis-interop", version: "1.0.0" });
const report = { sdk, exchanges };
try {
  await client.connect(transport);
  report.protocolVersion = transport.protocolVersion ?? null;
  const { tools } = await client.listTools();
  report.tools = tools.map((tool) => tool.name).sort();
  const sum = await client.callTool({ name: "add", arguments: { a: 40, b: 2 } });
  report.add = sum.content?.[0]?.text ?? null;
  try {
    const usage = await client.callTool({ name: "usage", arguments: {} });
    report.usage = { answered: usage };
  } catch (error) {
    report.usage = { error: error?.constructor?.name ?? "Error", message: String(error?.message) };
  }
} catch (error) {
  report.failed = String(error?.stack ?? error);
} finally {
  await client.close().catch(() => {});
}
console.log(JSON.stringify(report));
