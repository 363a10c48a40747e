/**
 * A nonce of the relayer's signer used on chain by a transaction it did not send (the key in use elsewhere), and
 * a node that answers "nonce too low" without showing the transaction it mined: each command runs exactly once.
 * Same bench as submitter.test.ts.
 */
import { expect } from "chai";
import { Transaction, Wallet, type JsonRpcPayload, type JsonRpcResult } from "ethers";
import { ADDRESSES, SIGNER, SIGNER_KEY, SubmitterBench, useSubmitterBench } from "./support/submitterBench";

const GWEI = 10n ** 9n;

describe("a nonce taken by another transaction (fake chain, in-memory store)", function () {
  this.timeout(60_000);
  let b: SubmitterBench;
  useSubmitterBench((bench) => (b = bench));

  /** A transaction signed with the relayer's key outside the relayer, outbidding whatever the node holds. */
  async function sendForeign(nonce: number): Promise<string> {
    const raw = await new Wallet(SIGNER_KEY).signTransaction({
      type: 2,
      chainId: 31337n,
      nonce,
      to: ADDRESSES.inventory,
      gasLimit: 21_000n,
      maxFeePerGas: 1_000n * GWEI,
      maxPriorityFeePerGas: 100n * GWEI,
    });
    return b.node.send("eth_sendRawTransaction", [raw]);
  }

  const foreignNonceCount = async () =>
    (await b.metrics.registry.getSingleMetricAsString("relayer_foreign_nonce_total")).match(/ (\d+)$/m)?.[1] ?? "0";

  /** The taken-nonce check runs at most once a second per signer. */
  const nextCheck = () => new Promise((r) => setTimeout(r, 1_050));

  it("a foreign transaction takes our pending transaction's nonce: once it is confirmations deep, ours is closed, its command requeued and run once at a new nonce, and the metric counted", async () => {
    await b.start({ confirmations: 2, replaceAfterMs: 0 });
    const [id] = await b.enqueue(1);
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([["0", "sent"]]);

    await sendForeign(0);
    b.node.mine();
    await new Promise((r) => setTimeout(r, 5));
    await b.writer.trackTick();
    // One block deep only: the chain could still take the foreign transaction back.
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["sent"]);
    expect(await b.statuses()).to.deep.equal(["submitted"]);

    await b.checkTakenTwice();
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([["0", "dropped"]]);
    expect(await b.statuses()).to.deep.equal(["pending"]);
    expect(await foreignNonceCount()).to.equal("1");

    await b.dueNow();
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([
      ["0", "dropped"],
      ["1", "sent"],
    ]);
    await b.settle();
    for (let i = 0; i < 3; i++) {
      await b.dueNow();
      await b.writer.submitTick();
      await b.settle();
    }
    expect(await b.statuses()).to.deep.equal(["confirmed"]);
    expect(b.executions(id)).to.equal(1);
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([
      ["0", "dropped"],
      ["1", "confirmed"],
    ]);
    expect(await foreignNonceCount()).to.equal("1");
  });

  it("foreign transactions take three of our in-flight nonces: all three are closed in one pass and every command runs once above them", async () => {
    await b.start({ confirmations: 1, replaceAfterMs: 0, batchSize: 1 });
    const ids = await b.enqueue(3);
    b.jobs.prepare = (cmd) => ({
      type: "tx",
      to: ADDRESSES.inventory,
      data: `0x${cmd.id.padStart(8, "0")}`,
      kind: "single",
    });
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => t.nonce)).to.deep.equal(["0", "1", "2"]);
    for (const n of [0, 1, 2]) await sendForeign(n);
    b.node.mine();
    await b.checkTakenTwice();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["dropped", "dropped", "dropped"]);
    expect(await b.statuses()).to.deep.equal(["pending", "pending", "pending"]);
    expect(await foreignNonceCount()).to.equal("3");

    for (let i = 0; i < 4; i++) {
      await b.dueNow();
      await b.writer.submitTick();
      await b.settle();
    }
    expect(await b.statuses()).to.deep.equal(["confirmed", "confirmed", "confirmed"]);
    for (const id of ids) expect(b.executions(id)).to.equal(1);
    expect(b.node.nonceOf(SIGNER)).to.equal(6);
  });

  it("a foreign transaction takes a nonce we already replaced once: every transaction at that nonce is closed", async () => {
    await b.start({ confirmations: 1, replaceAfterMs: 0 });
    const [id] = await b.enqueue(1);
    await b.writer.submitTick();
    await new Promise((r) => setTimeout(r, 5));
    await b.writer.trackTick();
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([
      ["0", "sent"],
      ["0", "sent"],
    ]);
    await sendForeign(0);
    b.node.mine();
    await b.checkTakenTwice();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["dropped", "dropped"]);
    await b.dueNow();
    await b.writer.submitTick();
    await b.settle();
    expect(await b.statuses()).to.deep.equal(["confirmed"]);
    expect(b.executions(id)).to.equal(1);
    expect(await foreignNonceCount()).to.equal("1");
  });

  it("the original, not its replacement, is the one mined: its receipt counts, nothing is requeued and the command runs once", async () => {
    await b.start({ confirmations: 1, replaceAfterMs: 0 });
    const [id] = await b.enqueue(1);
    await b.writer.submitTick();
    await new Promise((r) => setTimeout(r, 5));
    await b.writer.trackTick();
    const [original, replacement] = await b.txs();
    // Another node of the network mined the original it still held.
    b.node.pool.delete(replacement.hash);
    const raw = b.node.broadcasts[0];
    b.node.pool.set(original.hash, { tx: Transaction.from(raw), raw });
    b.node.mine();
    await new Promise((r) => setTimeout(r, 5));
    await b.writer.trackTick();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["confirmed", "replaced"]);
    expect(await b.statuses()).to.deep.equal(["confirmed"]);
    for (let i = 0; i < 2; i++) {
      await b.dueNow();
      await b.writer.submitTick();
      await b.settle();
    }
    expect(b.executions(id)).to.equal(1);
    expect(await foreignNonceCount()).to.equal("0");
  });

  it("a replacement recorded as dropped (the node answered 'transaction underpriced' yet took it) is the one mined: it is not taken for a foreign transaction; it is reopened and its command runs once", async () => {
    await b.start({ confirmations: 1, replaceAfterMs: 0 });
    const [id] = await b.enqueue(1);
    await b.writer.submitTick();
    await new Promise((r) => setTimeout(r, 5));
    b.node.sendFaults.push({ code: -32000, message: "transaction underpriced", taken: true });
    await b.writer.trackTick();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["sent", "dropped"]);
    b.node.mine();
    for (let i = 0; i < 3; i++) {
      await nextCheck();
      await b.writer.trackTick();
      await b.dueNow();
      await b.writer.submitTick();
      b.node.mine();
    }
    await b.writer.trackTick();
    expect(await b.statuses()).to.deep.equal(["confirmed"]);
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["replaced", "confirmed"]);
    expect(b.executions(id)).to.equal(1);
    expect(await foreignNonceCount()).to.equal("0");
  });

  it("a lagging backend answers 'nonce too low' and does not show our transaction that another backend mined: it is not dropped and its command runs once", async () => {
    await b.start({ confirmations: 1 });
    const [id] = await b.enqueue(1);
    // The node takes the transaction; the balancer's answer and its next lookup come from a backend behind it.
    b.node.sendFaults.push({ code: -32000, message: "nonce too low: next nonce 1, tx nonce 0", taken: true });
    let lagging = true;
    const send = b.node._send.bind(b.node);
    b.node._send = async (payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> => {
      const p = Array.isArray(payload) ? payload[0] : payload;
      if (lagging && p.method === "eth_getTransactionByHash") return [{ id: p.id, result: null }];
      return send(payload);
    };
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([["0", "sent"]]);
    expect(await b.statuses()).to.deep.equal(["submitted"]);

    b.node.mine();
    lagging = false;
    for (let i = 0; i < 3; i++) {
      await b.dueNow();
      await b.writer.submitTick();
      await b.settle();
      await nextCheck();
    }
    expect(b.executions(id)).to.equal(1);
    expect(await b.statuses()).to.deep.equal(["confirmed"]);
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([["0", "confirmed"]]);
    expect(b.node.nonceOf(SIGNER)).to.equal(1);
    expect(await foreignNonceCount()).to.equal("0");
  });

  it("'nonce too low' because a foreign transaction was mined first: ours stays tracked until the foreign one is confirmations deep, then its command runs once at the next nonce", async () => {
    await b.start({ confirmations: 2 });
    await b.writer.submitTick(); // nothing to send: the signer learns its nonce (0)
    await sendForeign(0);
    b.node.mine();
    const [id] = await b.enqueue(1);
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([["0", "sent"]]);
    await b.writer.trackTick();
    expect(await b.statuses()).to.deep.equal(["submitted"]);

    await b.checkTakenTwice();
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([["0", "dropped"]]);
    expect(await b.statuses()).to.deep.equal(["pending"]);
    for (let i = 0; i < 2; i++) {
      await b.dueNow();
      await b.writer.submitTick();
      await b.settle();
    }
    expect(await b.statuses()).to.deep.equal(["confirmed"]);
    expect(b.executions(id)).to.equal(1);
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([
      ["0", "dropped"],
      ["1", "confirmed"],
    ]);
  });

  it("on a local chain whose head stands still (an automining node with nothing more to mine), a nonce a foreign transaction took is decided on one check at the confirmation depth: the signer does not stall", async () => {
    // takenNonceChecks left to its default: chain 31337 is a local chain.
    await b.start({ confirmations: 1, replaceAfterMs: 0, takenNonceChecks: undefined });
    const [id] = await b.enqueue(1);
    await b.writer.submitTick();
    await sendForeign(0);
    b.node.mine();
    const head = await b.node.send("eth_blockNumber", []);
    await nextCheck();
    await b.writer.trackTick();
    // No block was mined since: the head is where it was, and the nonce is decided all the same.
    expect(await b.node.send("eth_blockNumber", [])).to.equal(head);
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([["0", "dropped"]]);
    expect(await b.statuses()).to.deep.equal(["pending"]);
    expect(await foreignNonceCount()).to.equal("1");
    await b.dueNow();
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([
      ["0", "dropped"],
      ["1", "sent"],
    ]);
    expect((await b.commands()).map((c) => c.id)).to.deep.equal([id]);
  });

  it("with the public chains' rule on the same still head, the nonce waits for the chain to go on (two checks at different heads, 3 blocks deep)", async () => {
    await b.start({ confirmations: 1, replaceAfterMs: 0, takenNonceChecks: "twice" });
    await b.enqueue(1);
    await b.writer.submitTick();
    await sendForeign(0);
    b.node.mine();
    await nextCheck();
    await b.writer.trackTick();
    await nextCheck();
    await b.writer.trackTick();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["sent"]);
    expect(await b.statuses()).to.deep.equal(["submitted"]);
  });
});
