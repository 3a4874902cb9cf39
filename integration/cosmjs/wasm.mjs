// An unmodified cosmjs SigningCosmWasmClient against a copro node: uploads
// a contract (cosmjs gzips it into MsgStoreCode), instantiates it with
// funds, executes it, and reads it back with queryContractSmart and
// getContract. Prints one JSON object; exits non-zero on any failure.
//
// Usage: node wasm.mjs RPC_URL SENDER_MNEMONIC WASM_PATH INIT_JSON EXEC_JSON QUERY_JSON FUNDS
//   FUNDS (e.g. "500ucopro") go with both the instantiation and the execution.
import { readFileSync } from "node:fs";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { SigningCosmWasmClient } from "@cosmjs/cosmwasm-stargate";
import { GasPrice, parseCoins } from "@cosmjs/stargate";

const [rpc, mnemonic, wasmPath, initJson, execJson, queryJson, funds] = process.argv.slice(2);
if (!rpc || !mnemonic || !wasmPath || !initJson || !execJson || !queryJson || !funds) {
  console.error("usage: node wasm.mjs RPC_URL MNEMONIC WASM_PATH INIT_JSON EXEC_JSON QUERY_JSON FUNDS");
  process.exit(2);
}
const prefix = "copro";
const denom = "ucopro";
// Fixed fees: a contract's gas is known from the chain's schedule, and a
// fixed fee does not depend on Simulate (checked by the other cosmjs test).
const fee = (gas) => ({ amount: [{ denom, amount: String(Math.ceil(gas * 0.025)) }], gas: String(gas) });

const wallet = await DirectSecp256k1HdWallet.fromMnemonic(mnemonic, { prefix });
const [{ address }] = await wallet.getAccounts();
const client = await SigningCosmWasmClient.connectWithSigner(rpc, wallet, {
  gasPrice: GasPrice.fromString(`0.025${denom}`),
});

const wasm = readFileSync(wasmPath);
const upload = await client.upload(address, wasm, fee(6_000_000), "cosmjs upload");
const code = await client.getCodeDetails(upload.codeId);
const init = await client.instantiate(
  address,
  upload.codeId,
  JSON.parse(initJson),
  "cosmjs",
  fee(1_000_000),
  { funds: parseCoins(funds), admin: address },
);
const exec = await client.execute(
  address,
  init.contractAddress,
  JSON.parse(execJson),
  fee(2_000_000),
  "cosmjs execute",
  parseCoins(funds),
);
const answer = await client.queryContractSmart(init.contractAddress, JSON.parse(queryJson));
const contract = await client.getContract(init.contractAddress);

console.log(
  JSON.stringify({
    address,
    codeId: upload.codeId,
    checksum: upload.checksum,
    originalSize: upload.originalSize,
    compressedSize: upload.compressedSize,
    codeChecksum: code.checksum,
    uploadGas: Number(upload.gasUsed),
    contractAddress: init.contractAddress,
    instantiateGas: Number(init.gasUsed),
    executeGas: Number(exec.gasUsed),
    executeHash: exec.transactionHash,
    contractCodeId: contract.codeId,
    contractLabel: contract.label,
    answer,
  }),
);
