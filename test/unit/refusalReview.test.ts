/**
 * Closing a nonce as taken by another transaction, and settling a transaction recorded as dropped that was mined
 * after all, against a balancer whose backends disagree, a nonce stuck for good, and a restart that loses what
 * the process remembered of refused transactions. Same bench as submitter.test.ts.
 */
import { expect } from "chai";
import type { JsonRpcPayload, JsonRpcResult } from "ethers";
import { ADDRESSES, SIGNER, SubmitterBench, useSubmitterBench, callData } from "./support/submitterBench";

describe("refusals and nonces taken by another transaction, under review (fake chain, in-memory store)", function () {
  this.timeout(60_000);
  let b: SubmitterBench;
  useSubmitterBench((bench) => (b = bench));

  /** Stock additions: one transaction of their own each. */
  function stockAdditions(): void {
    b.jobs.prepare = (cmd) => ({ type: "tx", to: ADDRESSES.inventory, data: callData(cmd), kind: "add_stock" });
  }

  /** While `lagging()`, the balancer answers these methods from a backend that has seen none of our transactions. */
  function lag(methods: string[], lagging: () => boolean): void {
    const send = b.node._send.bind(b.node);
    b.node._send = async (payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> => {
      const p = Array.isArray(payload) ? payload[0] : payload;
      if (methods.includes(p.method) && lagging()) return [{ id: p.id, result: null }];
      return send(payload);
    };
  }

  const nextCheck = () => new Promise((r) => setTimeout(r, 1_050));
  /** Counts the requests for the signer's nonce count at a past block (the taken-nonce check). */
  function countTakenChecks(): () => number {
    let n = 0;
    const send = b.node._send.bind(b.node);
    b.node._send = async (payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> => {
      const p = Array.isArray(payload) ? payload[0] : payload;
      const params = p.params as unknown[];
      if (p.method === "eth_getTransactionCount" && String(params[1]).startsWith("0x")) n += 1;
      return send(payload);
    };
    return () => n;
  }
  const foreignNonceCount = async () =>
    (await b.metrics.registry.getSingleMetricAsString("relayer_foreign_nonce_total")).match(/ (\d+)$/m)?.[1] ?? "0";

  /** Every command the store calls confirmed ran on chain. */
  async function noneConfirmedWithoutRunning(): Promise<void> {
    for (const c of await b.commands())
      if (c.status === "confirmed") expect(b.executions(c.id), `command ${c.id} confirmed`).to.be.at.least(1);
  }

  it("with CONFIRMATIONS=1 a lagging backend answers our mined transaction's receipt with null while another counts its nonce: the nonce is not closed as taken, and the command runs once", async () => {
    await b.start({ confirmations: 1 });
    stockAdditions();
    const [id] = await b.enqueue(1);
    let lagging = true;
    lag(["eth_getTransactionByHash", "eth_getTransactionReceipt"], () => lagging);
    // The node takes it, yet answers "nonce too low" and does not show it: the nonce is suspected taken.
    b.node.sendFaults.push({ code: -32000, message: "nonce too low: next nonce 1, tx nonce 0", taken: true });
    await b.writer.submitTick();
    b.node.mine();
    await new Promise((r) => setTimeout(r, 5));
    await b.writer.trackTick(); // at the head: the count says used, the receipts say nothing
    b.node.advance(3);
    await nextCheck();
    await b.writer.trackTick(); // deep enough: a first verdict only
    await nextCheck();
    await b.writer.trackTick(); // the same head: no second verdict
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([["0", "sent"]]);
    expect(await b.statuses()).to.deep.equal(["submitted"]);

    lagging = false;
    b.node.advance(1);
    await nextCheck();
    await b.writer.trackTick();
    for (let i = 0; i < 2; i++) {
      await b.dueNow();
      await b.writer.submitTick();
      await b.settle();
    }
    expect(await b.statuses()).to.deep.equal(["confirmed"]);
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([["0", "confirmed"]]);
    expect(b.executions(id)).to.equal(1);
    expect(await foreignNonceCount()).to.equal("0");
  });

  it("a nonce stuck at the replacement cap while the head does not move: the chain's nonce count is asked once, not every second", async () => {
    await b.start({ confirmations: 1, replaceAfterMs: 0, maxReplacements: 0 });
    b.node.advance(3);
    await b.enqueue(1);
    await b.writer.submitTick(); // in the node's pool, never mined
    const takenChecks = countTakenChecks();
    for (let i = 0; i < 4; i++) {
      await nextCheck();
      await b.writer.trackTick();
    }
    expect(takenChecks()).to.equal(1);
    expect(await b.statuses()).to.deep.equal(["submitted"]);
  });

  it("a nonce stuck at the replacement cap while blocks go on: the checks back off (1 s, 2 s, 4 s… up to replaceAfterMs)", async () => {
    await b.start({ confirmations: 1, replaceAfterMs: 10_000, maxReplacements: 0 });
    b.node.advance(3);
    await b.enqueue(1);
    await b.writer.submitTick();
    await b.db.query("update chain_txs set sent_at = now() - interval '1 hour'");
    const takenChecks = countTakenChecks();
    for (let i = 0; i < 6; i++) {
      b.node.advance(1);
      await b.writer.trackTick();
      await nextCheck();
    }
    // Without backoff: six checks in ~6.3 s; with it: at 0, ~1.05 and ~3.15 s.
    expect(takenChecks()).to.equal(3);
    expect(await b.statuses()).to.deep.equal(["submitted"]);
  });

  it("a restart right after a refusal, before its command went out again, and the refused stock addition mined with nothing of ours open at its nonce: the restarted writer settles it from its receipt, never sends it again, and the next command goes out above it", async () => {
    await b.start({ confirmations: 1 });
    stockAdditions();
    const [first] = await b.enqueue(1);
    // A backend behind the balancer took it; the one asked does not show it.
    let lagging = true;
    lag(["eth_getTransactionByHash"], () => lagging);
    b.node.sendFaults.push({ code: -32000, message: "transaction underpriced", taken: true });
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([["0", "dropped"]]);
    b.node.mine(); // what the node refused is mined all the same

    await b.restart({ confirmations: 1 });
    stockAdditions();
    lagging = false;
    const [later] = await b.enqueue(1);
    let passes = 0;
    for (; passes < 12; passes++) {
      await b.dueNow();
      await b.writer.submitTick();
      b.node.mine();
      await b.writer.trackTick();
      await noneConfirmedWithoutRunning();
      await nextCheck();
      if ((await b.statuses()).every((s) => s === "confirmed")) break;
    }
    expect(passes, "settled within a bounded number of passes").to.be.below(12);
    expect(b.executions(first), "the refused stock addition runs once").to.equal(1);
    expect(b.executions(later)).to.equal(1);
    expect(b.node.nonceOf(SIGNER)).to.equal(2);
  });

  for (const rows of ["recorded", "legacy"] as const) {
    const what =
      rows === "recorded"
        ? "the rows record what each transaction carried: every command runs exactly once"
        : "rows written before the carried commands were recorded: no command is confirmed without having run";
    it(`a restart between the refusal and the discovery that the refused stock addition was mined; ${what}`, async () => {
      await b.start({ confirmations: 1, replaceAfterMs: 0, maxReplacements: 0 });
      stockAdditions();
      const [first] = await b.enqueue(1);
      let lagging = true;
      lag(["eth_getTransactionByHash"], () => lagging);
      b.node.sendFaults.push({ code: -32000, message: "transaction underpriced", taken: true });
      await b.writer.submitTick();
      expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([["0", "dropped"]]);
      // The next command goes out at the nonce given back; its broadcast is lost on the way.
      const [later] = await b.enqueue(1);
      b.node.sendFaults.push("lost");
      await b.writer.submitTick();
      expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([
        ["0", "dropped"],
        ["0", "sent"],
      ]);

      await b.restart({ confirmations: 1, replaceAfterMs: 0, maxReplacements: 0 });
      stockAdditions();
      if (rows === "legacy") await b.db.query("update chain_txs set command_ids = null");
      lagging = false;
      b.node.mine(); // the refused stock addition
      let passes = 0;
      for (; passes < 12; passes++) {
        b.node.advance(3);
        await nextCheck();
        await b.writer.trackTick();
        await noneConfirmedWithoutRunning();
        await b.dueNow();
        await b.writer.submitTick();
        b.node.mine();
        if ((await b.statuses()).every((s) => s === "confirmed")) break;
      }
      expect(passes, "settled within a bounded number of passes").to.be.below(12);
      await noneConfirmedWithoutRunning();
      expect(b.executions(later)).to.equal(1);
      if (rows === "recorded") expect(b.executions(first)).to.equal(1);
      else expect(b.executions(first)).to.be.at.least(1);
    });

    it(`a restart after the refused stock addition was tracked again beside the next command's transaction at its nonce; ${what}`, async () => {
      await b.start({ confirmations: 1 });
      stockAdditions();
      const [first] = await b.enqueue(1);
      let lagging = true;
      lag(["eth_getTransactionByHash"], () => lagging);
      b.node.sendFaults.push({ code: -32000, message: "transaction underpriced", taken: true });
      await b.writer.submitTick();
      b.node.mine();
      const [later] = await b.enqueue(1);
      await b.writer.submitTick(); // the next command at nonce 0: "nonce too low", the refused one tracked again
      expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([
        ["0", "sent"],
        ["0", "sent"],
      ]);

      await b.restart({ confirmations: 1 });
      stockAdditions();
      if (rows === "legacy") await b.db.query("update chain_txs set command_ids = null");
      lagging = false;
      let passes = 0;
      for (; passes < 12; passes++) {
        await b.writer.trackTick();
        await noneConfirmedWithoutRunning();
        await b.dueNow();
        await b.writer.submitTick();
        b.node.mine();
        await nextCheck();
        if ((await b.statuses()).every((s) => s === "confirmed")) break;
      }
      expect(passes, "settled within a bounded number of passes").to.be.below(12);
      await noneConfirmedWithoutRunning();
      expect(b.executions(later)).to.equal(1);
      if (rows === "recorded") expect(b.executions(first)).to.equal(1);
      else expect(b.executions(first)).to.be.at.least(1);
      expect(b.node.nonceOf(SIGNER)).to.be.at.least(2);
    });
  }
});
