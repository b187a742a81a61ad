#!/usr/bin/env node
// Compiles contracts/src/*.sol with the pinned solcjs (package.json) and writes one Foundry-style
// artifact per contract to contracts/out/<Name>.json — {"abi", "bytecode": {"object"},
// "deployedBytecode": {"object"}}, the shape alloy's `sol!` macro reads — plus
// contracts/out/receiver-init-code-hash.txt (keccak256 of FerryReceiver's creation code).
//
//   node contracts/build.mjs           rebuild the artifacts (removing stale ones)
//   node contracts/build.mjs --check   compile in memory; exit 1 listing every artifact that
//                                      differs from the checked-in file (for CI)
//
// Output is deterministic: no metadata hash or CBOR trailer in the bytecode, object keys sorted,
// two-space indentation and a trailing newline, so rebuilding unchanged sources changes no byte.
// Any compiler error or warning fails the build.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");
const { keccak256 } = require("js-sha3");

const ROOT = dirname(fileURLToPath(import.meta.url));
const SRC = join(ROOT, "src");
const OUT = join(ROOT, "out");
const HASH_FILE = "receiver-init-code-hash.txt";

/// Compiler settings. "paris" (no PUSH0, no transient storage) because receivers must deploy to
/// the same address on every EVM chain, including chains that have not adopted Shanghai; anvil's
/// default hardfork runs paris bytecode unchanged.
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "paris",
  metadata: { bytecodeHash: "none", appendCBOR: false },
  outputSelection: {
    "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
  },
};

function main(argv) {
  const args = argv.slice(2);
  const unknown = args.filter((arg) => arg !== "--check");
  if (unknown.length > 0) {
    fail(`unknown argument(s): ${unknown.join(" ")}\nusage: node contracts/build.mjs [--check]`);
  }
  const check = args.includes("--check");

  const pinned = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).dependencies.solc;
  if (!solc.version().startsWith(`${pinned}+`)) {
    fail(`solc ${solc.version()} is installed but package.json pins ${pinned}: run \`npm ci\` in contracts/`);
  }

  const expected = render(compile());
  if (check) {
    const stale = diff(expected);
    if (stale.length > 0) {
      console.error(`contracts/out is not up to date with contracts/src (solc ${solc.version()}):`);
      for (const line of stale) console.error(`  ${line}`);
      console.error("run `cargo xtask contracts` (or `node contracts/build.mjs`) and commit the result");
      process.exit(1);
    }
    console.error(`contracts/out is up to date (${expected.size} files, solc ${solc.version()})`);
  } else {
    write(expected);
    console.error(`wrote ${expected.size} files to ${relative(process.cwd(), OUT) || "."} (solc ${solc.version()})`);
  }
}

/// Compiles every .sol file under src/ and returns solc's `contracts` output.
function compile() {
  const sources = {};
  for (const file of readdirSync(SRC).filter((name) => name.endsWith(".sol")).sort()) {
    sources[`src/${file}`] = { content: readFileSync(join(SRC, file), "utf8") };
  }
  if (Object.keys(sources).length === 0) fail(`no .sol files in ${SRC}`);

  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(
    solc.compile(JSON.stringify(input), {
      import: (path) => ({ error: `import ${path} not found: only files in contracts/src are compiled` }),
    }),
  );
  const problems = output.errors ?? [];
  for (const problem of problems) console.error(problem.formattedMessage ?? problem.message);
  if (problems.length > 0) {
    fail(`solc reported ${problems.length} error(s)/warning(s); the build requires none`);
  }
  return output.contracts;
}

/// file name in out/ -> contents.
function render(contracts) {
  const files = new Map();
  for (const [source, byName] of Object.entries(contracts)) {
    for (const [name, contract] of Object.entries(byName)) {
      const file = `${name}.json`;
      if (files.has(file)) fail(`two contracts named ${name} (the second in ${source})`);
      const artifact = {
        abi: contract.abi,
        bytecode: { object: `0x${contract.evm.bytecode.object}` },
        deployedBytecode: { object: `0x${contract.evm.deployedBytecode.object}` },
      };
      files.set(file, `${JSON.stringify(sortKeys(artifact), null, 2)}\n`);
    }
  }
  const receiver = contracts["src/FerryReceiver.sol"]?.FerryReceiver;
  if (!receiver) fail("src/FerryReceiver.sol has no contract FerryReceiver");
  const creationCode = Buffer.from(receiver.evm.bytecode.object, "hex");
  files.set(HASH_FILE, `0x${keccak256(creationCode)}\n`);
  return new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/// The differences between `expected` and out/, one line each.
function diff(expected) {
  const lines = [];
  for (const [file, contents] of expected) {
    const path = join(OUT, file);
    if (!existsSync(path)) lines.push(`missing: out/${file}`);
    else if (readFileSync(path, "utf8") !== contents) lines.push(`differs: out/${file}`);
  }
  for (const file of managedFiles()) {
    if (!expected.has(file)) lines.push(`stale:   out/${file} (no such contract)`);
  }
  return lines;
}

function write(expected) {
  mkdirSync(OUT, { recursive: true });
  for (const file of managedFiles()) {
    if (!expected.has(file)) rmSync(join(OUT, file));
  }
  for (const [file, contents] of expected) {
    const path = join(OUT, file);
    if (!existsSync(path) || readFileSync(path, "utf8") !== contents) writeFileSync(path, contents);
  }
}

/// The files in out/ that this script owns.
function managedFiles() {
  if (!existsSync(OUT)) return [];
  return readdirSync(OUT).filter((file) => file.endsWith(".json") || file === HASH_FILE);
}

/// A copy of `value` with every object's keys in sorted order (arrays keep their order).
function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys(value[key])]),
  );
}

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

main(process.argv);
