import { expect } from "chai";
import { reconcile } from "../../../relayer/src/ledger/reconcile";
import { startIndexerEnv, type IndexerEnv } from "../support/indexerEnv";
import { waitFor } from "../harness";

const num = (v: string | undefined) => (v === undefined ? NaN : Number.parseInt(v, 16));

/**
 * Reconciliation recomputes the truth from the escrow's logs read from the node. Read once, the logs are kept
 * (with a checkpoint in the store): a report asks the node only for blocks it has not read, and a reorg
 * rollback takes the kept logs back to the rollback point.
 */
describe("relayer reconciliation: incremental over the node's logs, reset by reorgs", function () {
  this.timeout(120_000);
  let env: IndexerEnv;
  let key: string;
  let merchantId: string;

  before(async () => {
    env = await startIndexerEnv({ seed: 11 });
    await env.startIndexer();
    key = await env.newMerchant("Recon");
    merchantId = (await env.relayer.db.query<{ id: string }>("select id from merchants")).rows[0].id;
  });
  after(async () => {
    await env?.stop();
  });

  const status = async (id: string) => (await env.call("GET", `/v1/orders/${id}`, key)).body.status as string;
  const caughtUp = async () => {
    const head = await env.node.provider.getBlockNumber();
    await waitFor("indexer at the head", async () => (await env.checkpoint()) >= head);
    return head;
  };
  /** The ranges of the eth_getLogs calls made through the proxy since `mark`. */
  const rangesSince = (mark: number) =>
    env.proxy.stats.getLogs.slice(mark).map((f) => ({ from: num(f.fromBlock), to: num(f.toBlock), hash: f.blockHash }));
  const escrowOf = (r: Awaited<ReturnType<typeof reconcile>>) => r.merchants[merchantId]?.[native()];
  const native = () => "0x0000000000000000000000000000000000000000";

  it("a report asks the node (an endpoint counting eth_getLogs) only for blocks no earlier report read, and concurrent reports agree", async () => {
    const a = await env.order(key, "REC-1");
    const b = await env.order(key, "REC-2");
    await waitFor("created", async () => (await status(a)) === "created" && (await status(b)) === "created");
    await env.pay(key, a);
    await waitFor("paid", async () => (await status(a)) === "paid");
    const first = await caughtUp();
    await env.indexer!.stop();

    let mark = env.proxy.stats.getLogs.length;
    const r1 = await reconcile(env.proxiedChain, env.relayer.db);
    expect(r1.ok, JSON.stringify(r1.differences)).to.equal(true);
    expect(r1.headBlock).to.equal(first);
    expect(escrowOf(r1)).to.include({ chainEscrow: "1000", ledgerEscrow: "1000" });
    expect(rangesSince(mark).length, "the first report reads the logs").to.be.greaterThan(0);

    // The chain moves on: 40 empty blocks and a payment.
    await env.startIndexer();
    await env.mine(40);
    await env.pay(key, b);
    await waitFor("paid", async () => (await status(b)) === "paid");
    const second = await caughtUp();
    await env.indexer!.stop();

    mark = env.proxy.stats.getLogs.length;
    const reports = await Promise.all([1, 2, 3].map(() => reconcile(env.proxiedChain, env.relayer.db)));
    for (const r of reports) {
      expect(r.ok, JSON.stringify(r.differences)).to.equal(true);
      expect(r.headBlock).to.equal(second);
      expect(escrowOf(r)).to.include({ chainEscrow: "2000", ledgerEscrow: "2000" });
    }
    const reread = rangesSince(mark).filter((r) => !r.hash && r.from <= first);
    expect(reread, "ranges read again").to.deep.equal([]);

    mark = env.proxy.stats.getLogs.length;
    const r3 = await reconcile(env.proxiedChain, env.relayer.db);
    expect(r3.ok).to.equal(true);
    expect(
      rangesSince(mark).filter((r) => !r.hash),
      "nothing new, nothing read",
    ).to.deep.equal([]);
  });

  it("a reorg that removes a payment the report had read: the rollback resets the kept logs, and the next report equals the new chain", async () => {
    await env.startIndexer();
    const x = await env.order(key, "REC-X");
    const y = await env.order(key, "REC-Y");
    await waitFor("created", async () => (await status(x)) === "created" && (await status(y)) === "created");
    await caughtUp();
    const snapshot = await env.node.provider.send("evm_snapshot", []);
    await env.pay(key, x);
    await waitFor("X paid", async () => (await status(x)) === "paid");
    const oldHead = await caughtUp();
    const before = await reconcile(env.proxiedChain, env.relayer.db);
    expect(before.ok, JSON.stringify(before.differences)).to.equal(true);
    expect(escrowOf(before)).to.include({ chainEscrow: "3000" });

    // The other history: X never paid, Y paid instead, and more blocks than before.
    await env.indexer!.stop();
    expect(await env.node.provider.send("evm_revert", [snapshot])).to.equal(true);
    await env.pay(key, y);
    await env.mine(5);
    expect(await env.node.provider.getBlockNumber()).to.be.greaterThan(oldHead);
    await env.startIndexer();
    await waitFor("reorg rolled back", async () =>
      env.lines.some((l) => l.msg === "reorg detected; rolling back to the common ancestor"),
    );
    await waitFor("Y paid, X created", async () => (await status(y)) === "paid" && (await status(x)) === "created");
    await caughtUp();

    const after = await reconcile(env.proxiedChain, env.relayer.db);
    expect(after.ok, JSON.stringify(after.differences)).to.equal(true);
    expect(escrowOf(after)).to.include({ chainEscrow: "3000", ledgerEscrow: "3000" });
    // The payment of X is not counted: the contract's balance (which has only Y's) equals the open positions.
    expect(after.tokens[native()].contractBalance).to.equal(after.tokens[native()].openPositions);
  });
});
