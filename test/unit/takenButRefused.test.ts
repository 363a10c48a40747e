/**
 * A node that takes a transaction (it is mined) yet answers its broadcast with a definite refusal: the command's
 * effect happens once, the signer's later commands go out at the next nonces, and nothing stalls. Same bench as
 * submitter.test.ts.
 */
import { expect } from "chai";
import type { JsonRpcPayload, JsonRpcResult } from "ethers";
import { ADDRESSES, SIGNER, SubmitterBench, useSubmitterBench, callData } from "./support/submitterBench";

describe("a transaction the node took but answered with a definite refusal (fake chain, in-memory store)", function () {
  this.timeout(60_000);
  let b: SubmitterBench;
  useSubmitterBench((bench) => (b = bench));

  /** Stock additions: one transaction of their own each. */
  function stockAdditions(): void {
    b.jobs.prepare = (cmd) => ({ type: "tx", to: ADDRESSES.inventory, data: callData(cmd), kind: "add_stock" });
  }

  /** One writer round: due commands are sent, the node mines, and the tracker reads the receipts. */
  async function round(): Promise<void> {
    await b.dueNow();
    await b.writer.submitTick();
    b.node.mine();
    await new Promise((r) => setTimeout(r, 5));
    await b.writer.trackTick();
  }

  /** The taken-nonce check runs at most once a second per signer. */
  const nextCheck = () => new Promise((r) => setTimeout(r, 1_050));

  /** eth_getTransactionByHash answers null while `lagging()` (a backend behind the balancer that has not seen it). */
  function lagLookups(lagging: () => boolean): void {
    const send = b.node._send.bind(b.node);
    b.node._send = async (payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> => {
      const p = Array.isArray(payload) ? payload[0] : payload;
      if (p.method === "eth_getTransactionByHash" && lagging()) return [{ id: p.id, result: null }];
      return send(payload);
    };
  }

  for (const [reason, message] of [
    ["insufficient funds", "insufficient funds for gas * price + value: have 0 want 1"],
    ["replacement transaction underpriced", "replacement transaction underpriced"],
    ["transaction underpriced", "transaction underpriced"],
  ] as const) {
    it(`the node answers "${reason}" yet mines the stock addition: it is finalized from its receipt, never sent again, and the later commands go out at the next nonces`, async () => {
      await b.start({ confirmations: 1 });
      stockAdditions();
      const [first] = await b.enqueue(1);
      b.node.sendFaults.push({ code: -32000, message, taken: true });
      await b.writer.submitTick();
      const later = await b.enqueue(2);
      for (let i = 0; i < 4; i++) await round();
      expect(b.executions(first)).to.equal(1);
      for (const id of later) expect(b.executions(id)).to.equal(1);
      expect(await b.statuses()).to.deep.equal(["confirmed", "confirmed", "confirmed"]);
      expect(b.node.nonceOf(SIGNER)).to.equal(3);
      expect(b.node.broadcasts.length, "the stock addition is broadcast once").to.equal(3);
      expect(b.writer.signerStates()).to.deep.equal([{ signer: SIGNER, canPay: true, reason: null }]);
    });
  }

  it("a lagging backend does not show the refused-but-taken stock addition until after its nonce went to the next command: it is finalized once, the next command is closed at that nonce and sent again above it, and every command runs once", async () => {
    await b.start({ confirmations: 1 });
    stockAdditions();
    const [first] = await b.enqueue(1);
    let lagging = true;
    lagLookups(() => lagging);
    b.node.sendFaults.push({ code: -32000, message: "transaction underpriced", taken: true });
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["dropped"]);
    b.node.mine();
    const later = await b.enqueue(2);
    await b.writer.submitTick(); // the next command at nonce 0: "nonce too low", and the node shows neither
    lagging = false;
    let passes = 0;
    for (; passes < 12; passes++) {
      await round();
      await nextCheck();
      if ((await b.statuses()).every((s) => s === "confirmed")) break;
    }
    expect(passes, "settled within a bounded number of passes").to.be.below(12);
    expect(b.executions(first)).to.equal(1);
    for (const id of later) expect(b.executions(id)).to.equal(1);
    expect(await b.statuses()).to.deep.equal(["confirmed", "confirmed", "confirmed"]);
    expect(b.node.nonceOf(SIGNER)).to.equal(3);
  });

  it("a lagging backend answers 'replacement transaction underpriced' for the stock addition it took: recovery finds the nonce counted with nothing of ours open there, tracks the refused one again, and its command runs once", async () => {
    await b.start({ confirmations: 1 });
    stockAdditions();
    const [first] = await b.enqueue(1);
    let lagging = true;
    lagLookups(() => lagging);
    b.node.sendFaults.push({ code: -32000, message: "replacement transaction underpriced", taken: true });
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["dropped"]);
    const later = await b.enqueue(2);
    await b.writer.submitTick(); // recovery: the node counts nonce 0 as pending
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([
      ["0", "sent"],
      ["1", "sent"],
      ["2", "sent"],
    ]);
    lagging = false;
    let passes = 0;
    for (; passes < 12; passes++) {
      await round();
      await nextCheck();
      if ((await b.statuses()).every((s) => s === "confirmed")) break;
    }
    expect(passes, "settled within a bounded number of passes").to.be.below(12);
    expect(b.executions(first)).to.equal(1);
    for (const id of later) expect(b.executions(id)).to.equal(1);
    expect(await b.statuses()).to.deep.equal(["confirmed", "confirmed", "confirmed"]);
    expect(b.node.nonceOf(SIGNER)).to.equal(3);
  });
});
