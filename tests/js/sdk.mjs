// Drives Ferry through the published JS client of the API it follows
// (@daimo/sdk, pinned in package-lock.json), as a payer's checkout would.
//
//   node sdk.mjs open <baseUrl> <sessionId> <clientSecret> <payerAddress>
//     retrieve → paymentMethods.create → tokenOptions.list → check, then the
//     error path (a wrong client secret raises DaimoRequestError)
//   node sdk.mjs check-tx <baseUrl> <sessionId> <clientSecret> <txHash>
//     check with the payer's transaction hash
//
// Prints one JSON object (the client's answers) on stdout. Any surprise —
// a call that fails, an error of the wrong type — exits non-zero with the
// reason on stderr.

import { createDaimoClient } from "@daimo/sdk/client";
import { DaimoRequestError } from "@daimo/sdk/common";

function fail(message) {
  console.error(`sdk.mjs: ${message}`);
  process.exit(1);
}

process.on("unhandledRejection", (error) => fail(`unhandled rejection: ${error?.stack ?? error}`));

const [mode, baseUrl, sessionId, clientSecret, extra] = process.argv.slice(2);
if (!mode || !baseUrl || !sessionId || !clientSecret || !extra) {
  fail("usage: node sdk.mjs open|check-tx <baseUrl> <sessionId> <clientSecret> <payerAddress|txHash>");
}

const client = createDaimoClient({ baseUrl, timeoutMs: 20_000 });

/** Runs one call; any exception fails the script, naming the call. */
async function call(name, promise) {
  try {
    return await promise;
  } catch (error) {
    const detail = error instanceof DaimoRequestError ? ` (${error.status} ${error.code}: ${error.message})` : "";
    fail(`${name} failed${detail}: ${error?.stack ?? error}`);
  }
}

/** Runs a call that must be refused; returns the typed error's fields. */
async function refused(name, promise) {
  let result;
  try {
    result = await promise;
  } catch (error) {
    if (!(error instanceof DaimoRequestError)) {
      fail(`${name} threw ${error?.name ?? typeof error}, not DaimoRequestError: ${error?.stack ?? error}`);
    }
    return {
      name: error.name,
      status: error.status,
      type: error.type,
      code: error.code,
      param: error.param ?? null,
      message: error.message,
      requestId: error.requestId ?? null,
    };
  }
  fail(`${name} succeeded but should have been refused: ${JSON.stringify(result)}`);
}

// Flip the secret's last hex digit: well-formed, but not this session's.
const wrongSecret = clientSecret.slice(0, -1) + (clientSecret.endsWith("0") ? "1" : "0");

let output;
if (mode === "open") {
  const payer = extra;
  const retrieved = await call("sessions.retrieve", client.sessions.retrieve(sessionId));
  const created = await call(
    "sessions.paymentMethods.create",
    client.sessions.paymentMethods.create(sessionId, { clientSecret, paymentMethod: { type: "evm" } }),
  );
  const tokenOptions = await call(
    "sessions.tokenOptions.list",
    client.sessions.tokenOptions.list(sessionId, { clientSecret, evmAddress: payer }),
  );
  const checked = await call("sessions.check", client.sessions.check(sessionId, { clientSecret }));
  const errors = {
    check: await refused("sessions.check (wrong secret)", client.sessions.check(sessionId, { clientSecret: wrongSecret })),
    paymentMethodsCreate: await refused(
      "sessions.paymentMethods.create (wrong secret)",
      client.sessions.paymentMethods.create(sessionId, { clientSecret: wrongSecret, paymentMethod: { type: "evm" } }),
    ),
    tokenOptionsList: await refused(
      "sessions.tokenOptions.list (wrong secret)",
      client.sessions.tokenOptions.list(sessionId, { clientSecret: wrongSecret }),
    ),
  };
  output = { retrieved, created, tokenOptions, checked, errors };
} else if (mode === "check-tx") {
  const checked = await call("sessions.check (txHash)", client.sessions.check(sessionId, { clientSecret, txHash: extra }));
  output = { checked };
} else {
  fail(`unknown mode ${mode}`);
}

console.log(JSON.stringify(output));
