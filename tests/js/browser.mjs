// Calls Ferry from a real browser page on another origin, as a payer's
// checkout does: headless Chromium (Debian's, driven by the pinned
// playwright-core) opens a page served here on its own loopback port and,
// with `fetch`, calls the client-secret routes of the Ferry server given on
// the command line, then runs the published JS client (@daimo/sdk, served
// to the page from the pinned install) there too, then tries to send an API
// key, which the browser must refuse. Optionally, a second Ferry server
// that lists the page's origin (`--cors-allowed-origins`): the page creates a
// session there with an API key, which the browser then sends.
//
//   node browser.mjs <chromium> <ferryBaseUrl> <sessionId> <clientSecret> <apiKey>
//                    [<pagePort> <listedBaseUrl> <listedApiKey> <sessionBodyJson>]
//
// Prints one JSON object with what the page saw. Any surprise exits
// non-zero with the reason on stderr; the whole run is bounded.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const RUN_TIMEOUT_MS = 90_000;

function fail(message) {
  console.error(`browser.mjs: ${message}`);
  process.exit(1);
}

process.on("unhandledRejection", (error) => fail(`unhandled rejection: ${error?.stack ?? error}`));
setTimeout(() => fail(`no result within ${RUN_TIMEOUT_MS} ms`), RUN_TIMEOUT_MS).unref();

const [executablePath, api, sessionId, clientSecret, apiKey, pagePort = "0", listedApi, listedKey, sessionBody] =
  process.argv.slice(2);
if (!executablePath || !api || !sessionId || !clientSecret || !apiKey) {
  fail("usage: node browser.mjs <chromium> <ferryBaseUrl> <sessionId> <clientSecret> <apiKey> [<pagePort> ...]");
}
if (listedApi && (!listedKey || !sessionBody)) fail("a listed server needs its API key and a session body");

// The page's origin: this server. `/sdk/…` serves the published client's
// files (plain ES modules with relative imports only).
const sdkRoot = join(dirname(fileURLToPath(import.meta.url)), "node_modules", "@daimo", "sdk", "dist");
const page = `<!doctype html><html><head><meta charset="utf-8"><title>checkout</title></head><body>checkout</body></html>`;
const server = createServer((request, response) => {
  const path = new URL(request.url, "http://page").pathname;
  if (path === "/") {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(page);
    return;
  }
  const file = normalize(join(sdkRoot, path.replace(/^\/sdk\//, "")));
  if (path.startsWith("/sdk/") && file.startsWith(sdkRoot + sep) && file.endsWith(".js")) {
    try {
      const body = readFileSync(file);
      response.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
      response.end(body);
      return;
    } catch {
      // Falls through to 404.
    }
  }
  response.writeHead(404, { "content-type": "text/plain" });
  response.end("not found");
});
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(Number(pagePort), "127.0.0.1", resolve);
});
const pageOrigin = `http://127.0.0.1:${server.address().port}`;
if (new URL(api).origin === pageOrigin) fail("the page must be on another origin than the API");

const userDataDir = mkdtempSync(join(tmpdir(), "ferry-chromium-"));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    timeout: 30_000,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const tab = context.pages()[0] ?? (await context.newPage());
  tab.setDefaultTimeout(30_000);
  const consoleErrors = [];
  tab.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  const loaded = await tab.goto(`${pageOrigin}/`);
  if (!loaded?.ok()) fail(`the page did not load: ${loaded?.status()}`);

  const seen = await tab.evaluate(
    async ({ api, sessionId, clientSecret, apiKey, listedApi, listedKey, sessionBody }) => {
      // The headers the followed API's client sends: not CORS-safelisted, so
      // every call below is preflighted.
      const headers = { "content-type": "application/json", "x-sdk-version": "1.7.0" };
      async function call(method, path, body) {
        const response = await fetch(`${api}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: response.status, requestId: response.headers.get("request-id"), body: await response.json() };
      }
      async function refused(method, path, init) {
        try {
          const response = await fetch(`${api}${path}`, { method, ...init });
          return { refused: false, status: response.status };
        } catch (error) {
          return { refused: true, name: error.name, message: String(error.message) };
        }
      }
      const session = `/v1/sessions/${sessionId}`;
      const fetched = {
        retrieve: await call("GET", session),
        paymentMethods: await call("POST", `${session}/paymentMethods`, {
          clientSecret,
          paymentMethod: { type: "evm" },
          locale: "en",
        }),
        check: await call("PUT", `${session}/check`, { clientSecret }),
        tokenOptions: await call("GET", `${session}/tokenOptions?clientSecret=${clientSecret}`),
      };

      // The published client itself, in the browser.
      const { createDaimoClient } = await import("/sdk/client/index.js");
      const client = createDaimoClient({ baseUrl: api, timeoutMs: 20_000 });
      const sdk = {
        retrieve: await client.sessions.retrieve(sessionId),
        check: await client.sessions.check(sessionId, { clientSecret }),
        tokenOptions: await client.sessions.tokenOptions.list(sessionId, { clientSecret }),
      };
      let sdkError;
      try {
        await client.sessions.check(sessionId, { clientSecret: "0".repeat(32) });
        sdkError = { thrown: false };
      } catch (error) {
        sdkError = { thrown: true, name: error.name, status: error.status, code: error.code, requestId: error.requestId };
      }

      // An API key: the browser refuses to send it (the preflight does not
      // allow `authorization`), so fetch rejects with a TypeError.
      const bearer = { authorization: `Bearer ${apiKey}`, "content-type": "application/json" };
      const apiKeyCalls = {
        createSession: await refused("POST", "/v1/sessions", { headers: bearer, body: "{}" }),
        listWebhooks: await refused("GET", "/v1/webhooks", { headers: bearer }),
        merchantView: await refused("GET", session, { headers: bearer }),
      };

      // A server that lists this page's origin lets it send an API key.
      let listed = null;
      if (listedApi) {
        const response = await fetch(`${listedApi}/v1/sessions`, {
          method: "POST",
          headers: { authorization: `Bearer ${listedKey}`, "content-type": "application/json" },
          body: sessionBody,
        });
        listed = { status: response.status, body: await response.json() };
      }
      return { origin: location.origin, userAgent: navigator.userAgent, fetched, sdk, sdkError, apiKeyCalls, listed };
    },
    { api, sessionId, clientSecret, apiKey, listedApi, listedKey, sessionBody },
  );
  console.log(JSON.stringify({ ...seen, consoleErrors }));
} catch (error) {
  fail(error?.stack ?? String(error));
} finally {
  await context?.close().catch(() => {});
  server.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(0);
