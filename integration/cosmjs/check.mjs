// An unmodified cosmjs client against a copro node: reads chain-id, accounts
// and balances through StargateClient, sends with SigningStargateClient
// (fee "auto" through Simulate, and a fixed fee), and finds the tx by event.
// Prints one JSON object; exits non-zero on any failure.
//
// Usage: node check.mjs RPC_URL SENDER_MNEMONIC RECIPIENT_ADDRESS
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import {
  GasPrice,
  SigningStargateClient,
  StargateClient,
  assertIsDeliverTxSuccess,
} from "@cosmjs/stargate";

const [rpc, mnemonic, recipient] = process.argv.slice(2);
if (!rpc || !mnemonic || !recipient) {
  console.error("usage: node check.mjs RPC_URL SENDER_MNEMONIC RECIPIENT_ADDRESS");
  process.exit(2);
}
const prefix = "copro";
const denom = "ucopro";

const wallet = await DirectSecp256k1HdWallet.fromMnemonic(mnemonic, { prefix });
const [{ address }] = await wallet.getAccounts();
const stranger = await DirectSecp256k1HdWallet.generate(24, { prefix });
const [{ address: strangerAddress }] = await stranger.getAccounts();

const reader = await StargateClient.connect(rpc);
const chainId = await reader.getChainId();
const accountBefore = await reader.getAccount(address);
const missingAccount = await reader.getAccount(strangerAddress);
const before = await reader.getBalance(recipient, denom);
const allBalances = await reader.getAllBalances(address);

const signer = await SigningStargateClient.connectWithSigner(rpc, wallet, {
  gasPrice: GasPrice.fromString(`0.025${denom}`),
});
const auto = await signer.sendTokens(address, recipient, [{ denom, amount: "4321" }], "auto", "cosmjs auto fee");
assertIsDeliverTxSuccess(auto);
const fixed = await signer.sendTokens(
  address,
  recipient,
  [{ denom, amount: "1000" }],
  { amount: [{ denom, amount: "5000" }], gas: "200000" },
  "cosmjs fixed fee",
);
assertIsDeliverTxSuccess(fixed);

const after = await reader.getBalance(recipient, denom);
const accountAfter = await reader.getAccount(address);
const found = await reader.searchTx([{ key: "transfer.recipient", value: recipient }]);
const byHash = await reader.getTx(auto.transactionHash);

console.log(
  JSON.stringify({
    chainId,
    address,
    accountNumber: accountBefore?.accountNumber,
    sequenceBefore: accountBefore?.sequence,
    sequenceAfter: accountAfter?.sequence,
    missingAccountIsNull: missingAccount === null,
    allBalanceDenoms: allBalances.map((c) => c.denom),
    before: before.amount,
    after: after.amount,
    autoTx: { hash: auto.transactionHash, height: auto.height, gasUsed: auto.gasUsed, gasWanted: auto.gasWanted },
    fixedTx: { hash: fixed.transactionHash, height: fixed.height },
    searchHits: found.map((t) => t.hash),
    getTxCode: byHash?.code,
  }, (_key, value) => (typeof value === "bigint" ? Number(value) : value)),
);
reader.disconnect();
signer.disconnect();
