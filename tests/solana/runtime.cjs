// The offline Solana runtime of Ferry's tests: one litesvm instance (the
// real Solana runtime with the SPL Token and associated token account
// programs, in process, no validator, no network) driven by one JSON
// command per line on stdin, each answered by one JSON line on stdout.
//
// Run it with the pinned packages on NODE_PATH (what the tests do):
//   NODE_PATH=$FERRY_TEST_SOLANA/node_modules node tests/solana/runtime.cjs
// CommonJS, so that NODE_PATH resolves its packages from wherever the
// installation is, and litesvm and this script share one @solana/kit.
//
//   {"cmd":"setup","decimals":6,"payerUnits":"1000000"}
//       a test mint, a funded payer holding payerUnits in its associated
//       token account, and a treasury whose token account exists (empty),
//       all made by real transactions; answers the keys and the blockhash
//   {"cmd":"pay","tx":"0x…"}
//       decodes the hex with @solana/kit, signs it with the payer's key,
//       executes it; answers the outcome, the executed transaction's
//       account keys and instructions, and both token balances
//   {"cmd":"expireBlockhash"}
//       moves the runtime past the current blockhash; answers the new one
//
// A failed transaction is an answer ({"ok":false,"error":…}), not a crash;
// a malformed command is answered {"fatal":…}.

"use strict";

const { createInterface } = require("node:readline");

const { LiteSVM, FailedTransactionMetadata } = require("litesvm");
const {
  appendTransactionMessageInstructions,
  createTransactionMessage,
  generateKeyPairSigner,
  getBase58Decoder,
  getCompiledTransactionMessageDecoder,
  getSignatureFromTransaction,
  getTransactionDecoder,
  lamports,
  pipe,
  setTransactionMessageFeePayerSigner,
  signTransaction,
  signTransactionMessageWithSigners,
} = require("@solana/kit");
const { getCreateAccountInstruction } = require("@solana-program/system");
const {
  TOKEN_PROGRAM_ADDRESS,
  findAssociatedTokenPda,
  getCreateAssociatedTokenIdempotentInstruction,
  getInitializeMint2Instruction,
  getMintSize,
  getMintToInstruction,
  getTokenDecoder,
} = require("@solana-program/token");

const SOL = 1_000_000_000n;

const svm = new LiteSVM().withSigverify(true).withBlockhashCheck(true);
let state = null;

function hexToBytes(hex) {
  if (typeof hex !== "string" || !/^0x([0-9a-f]{2})*$/.test(hex)) {
    throw new Error("tx must be lowercase 0x-hex");
  }
  return Uint8Array.from(Buffer.from(hex.slice(2), "hex"));
}

/** Sends a transaction of `instructions` paid and signed by `feePayer` (and
 * any signer the instructions name); throws when the runtime refuses it. */
async function run(feePayer, instructions) {
  const message = pipe(
    createTransactionMessage({ version: 0 }),
    (m) => setTransactionMessageFeePayerSigner(feePayer, m),
    (m) => svm.setTransactionMessageLifetimeUsingLatestBlockhash(m),
    (m) => appendTransactionMessageInstructions(instructions, m),
  );
  const result = svm.sendTransaction(await signTransactionMessageWithSigners(message));
  if (result instanceof FailedTransactionMetadata) {
    throw new Error(`setup transaction failed: ${result.toString()}`);
  }
}

function tokenUnits(account) {
  const found = svm.getAccount(account);
  return found.exists ? getTokenDecoder().decode(found.data).amount.toString() : null;
}

async function setup({ decimals, payerUnits }) {
  const authority = await generateKeyPairSigner();
  const payer = await generateKeyPairSigner();
  const treasury = await generateKeyPairSigner();
  const mint = await generateKeyPairSigner();
  for (const account of [authority, payer]) {
    const airdrop = svm.airdrop(account.address, lamports(10n * SOL));
    if (airdrop instanceof FailedTransactionMetadata) throw new Error(`airdrop failed: ${airdrop.toString()}`);
  }
  const space = BigInt(getMintSize());
  const ata = async (owner) =>
    (await findAssociatedTokenPda({ owner, tokenProgram: TOKEN_PROGRAM_ADDRESS, mint: mint.address }))[0];
  const payerAta = await ata(payer.address);
  const treasuryAta = await ata(treasury.address);
  await run(authority, [
    getCreateAccountInstruction({
      payer: authority,
      newAccount: mint,
      lamports: svm.minimumBalanceForRentExemption(space),
      space,
      programAddress: TOKEN_PROGRAM_ADDRESS,
    }),
    getInitializeMint2Instruction({ mint: mint.address, decimals, mintAuthority: authority.address }),
    // The associated token account program creates both accounts, so their
    // addresses are the program's own derivation.
    getCreateAssociatedTokenIdempotentInstruction({
      payer: authority,
      ata: payerAta,
      owner: payer.address,
      mint: mint.address,
    }),
    getCreateAssociatedTokenIdempotentInstruction({
      payer: authority,
      ata: treasuryAta,
      owner: treasury.address,
      mint: mint.address,
    }),
    getMintToInstruction({ mint: mint.address, token: payerAta, mintAuthority: authority, amount: BigInt(payerUnits) }),
  ]);
  state = { payer, payerAta, treasuryAta };
  return {
    payer: payer.address,
    treasury: treasury.address,
    mint: mint.address,
    payerAta,
    treasuryAta,
    blockhash: svm.latestBlockhash(),
    balances: balances(),
  };
}

function balances() {
  return { payer: tokenUnits(state.payerAta), treasury: tokenUnits(state.treasuryAta) };
}

async function pay({ tx }) {
  if (state === null) throw new Error("pay before setup");
  const transaction = getTransactionDecoder().decode(hexToBytes(tx));
  const message = getCompiledTransactionMessageDecoder().decode(transaction.messageBytes);
  const executed = {
    version: message.version,
    header: message.header,
    blockhash: message.lifetimeToken,
    accountKeys: message.staticAccounts,
    lookupTables: (message.addressTableLookups ?? []).length,
    instructions: message.instructions.map((instruction) => ({
      program: message.staticAccounts[instruction.programAddressIndex],
      accounts: (instruction.accountIndices ?? []).map((index) => message.staticAccounts[index]),
      data: Buffer.from(instruction.data ?? []).toString("hex"),
    })),
    signaturesBefore: Object.values(transaction.signatures).map((signature) =>
      signature === null ? null : getBase58Decoder().decode(signature),
    ),
  };
  const signed = await signTransaction([state.payer.keyPair], transaction);
  const signature = getSignatureFromTransaction(signed);
  const result = svm.sendTransaction(signed);
  if (result instanceof FailedTransactionMetadata) {
    return { ok: false, error: result.toString(), logs: result.meta().logs(), executed, balances: balances() };
  }
  return {
    ok: true,
    signature,
    recorded: svm.getTransaction(signature) !== null,
    computeUnits: result.computeUnitsConsumed().toString(),
    logs: result.logs(),
    executed,
    balances: balances(),
  };
}

function expireBlockhash() {
  const before = svm.latestBlockhash();
  svm.expireBlockhash();
  return { before, blockhash: svm.latestBlockhash() };
}

const commands = { setup, pay, expireBlockhash };

async function main() {
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === "") continue;
    let answer;
    try {
      const command = JSON.parse(line);
      const handler = commands[command.cmd];
      if (handler === undefined) throw new Error(`unknown command ${JSON.stringify(command.cmd)}`);
      answer = await handler(command);
    } catch (error) {
      answer = { fatal: String(error?.stack ?? error) };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
