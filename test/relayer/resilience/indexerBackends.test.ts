import { expect } from "chai";
import { expectApiMatchesChain } from "./support";
import { faults, RANGE_TOO_LARGE_ERRORS, logsSpan } from "../support/rpcProxy";
import { startIndexerEnv, type IndexerEnv } from "../support/indexerEnv";
import { waitFor } from "../harness";

const REORG_LINE = "reorg detected; rolling back to the common ancestor";

/**
 * The indexer reads the chain through a load-balanced, rate-limited, hosted endpoint: backends that lag, refuse
 * large log ranges, or answer for blocks they do not have yet. None of it may look like a reorg, and no block
 * may be checkpointed whose logs were not seen.
 */
describe("relayer indexer: the RPC backends behind the endpoint lag, refuse or limit", function () {
  this.timeout(120_000);
  let env: IndexerEnv;
  let key: string;
  /** Every order of the merchant: the chain must hold exactly these. */
  const allIds: string[] = [];

  before(async () => {
    env = await startIndexerEnv({ seed: 7 });
    await env.startIndexer();
    key = await env.newMerchant("Backends");
  });
  afterEach(async function () {
    env.proxy.clear();
    if (this.currentTest?.state === "failed" && process.env.INDEXER_LOG) {
      require("node:fs").writeFileSync(process.env.INDEXER_LOG, env.lines.map((l) => JSON.stringify(l)).join("\n"));
    }
  });
  after(async () => {
    await env?.stop();
  });

  /** Order statuses by reference, from the database. */
  const statuses = async () => {
    const r = await env.relayer.db.query<{ reference: string; status: string }>("select reference, status from orders");
    return new Map(r.rows.map((x) => [x.reference, x.status]));
  };
  const ordersOf = async (ids: string[]) =>
    Promise.all(ids.map(async (id) => (await env.call("GET", `/v1/orders/${id}`, key)).body));
  const headOf = () => env.node.provider.getBlockNumber();
  const order = async (reference: string) => {
    const id = await env.order(key, reference);
    allIds.push(id);
    return id;
  };

  it("a lagging backend behind the load balancer (half the calls answered 3 blocks behind) is no reorg: nothing rolled back, no order.reverted, no status flaps back, no creation re-sent", async () => {
    env.proxy.setLag({ blocks: 3, share: 0.5 });
    const stopMining = env.mineEvery(150);
    // Watches every status: once created or paid, an order never goes back.
    const rank: Record<string, number> = { pending: 0, created: 1, paid: 2 };
    const last = new Map<string, string>();
    const flaps: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const [ref, s] of await statuses()) {
          const before = last.get(ref);
          if (before && rank[s] < rank[before]) flaps.push(`${ref}: ${before} -> ${s}`);
          last.set(ref, s);
        }
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push(await order(`LAG-${i}`));
      await new Promise((r) => setTimeout(r, 250));
    }
    await waitFor("every order created", async () => (await ordersOf(ids)).every((o) => o.status === "created"));
    for (const id of ids.slice(0, 3)) await env.pay(key, id);
    await waitFor("payments indexed", async () => (await ordersOf(ids.slice(0, 3))).every((o) => o.status === "paid"));
    // A few more seconds of the lagging backend, with the chain moving.
    await new Promise((r) => setTimeout(r, 3000));
    await stopMining();
    watching = false;
    await watcher;

    expect(env.proxy.stats.lagged, "calls the lagging backend answered").to.be.greaterThan(10);
    expect(
      env.lines.filter((l) => l.msg === REORG_LINE),
      "rollbacks",
    ).to.deep.equal([]);
    expect(flaps, "statuses that went back").to.deep.equal([]);
    const events = await env.relayer.db.query<{ type: string; n: string }>(
      "select type, count(*) as n from webhook_events group by type",
    );
    const byType = Object.fromEntries(events.rows.map((r) => [r.type, Number(r.n)]));
    expect(byType["order.reverted"] ?? 0, "order.reverted webhooks").to.equal(0);
    expect(byType["order.created"], "one order.created per order").to.equal(ids.length);
    const resent = await env.relayer.db.query("select id from commands where kind = 'create_order' and attempts > 0");
    expect(resent.rows, "creations sent again").to.deep.equal([]);
    await expectApiMatchesChain(env.node.provider, env.deployed, await ordersOf(allIds));
  });

  it("a lagging backend answering eth_getLogs with nothing past its head (2 blocks behind) while headers come from an up-to-date one: no block is checkpointed whose logs were not seen", async () => {
    env.proxy.setLag({ blocks: 2, share: 1, methods: ["eth_getLogs"] });
    const stopMining = env.mineEvery(150);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      ids.push(await order(`LOGS-${i}`));
      await new Promise((r) => setTimeout(r, 200));
    }
    // Every creation is on chain; the checkpoint then passes the newest of them.
    await waitFor(
      "every order created on chain",
      async () =>
        (await env.relayer.db.query("select 1 from commands where status in ('pending','claimed','submitted')")).rows
          .length === 0,
    );
    const head = await headOf();
    await waitFor("checkpoint past the creations", async () => (await env.checkpoint()) >= head, 30_000);
    await stopMining();
    env.proxy.clear();
    // What the indexer checkpointed, it saw: every creation is in the API.
    const st = await statuses();
    const missing = ids.map((_, i) => `LOGS-${i}`).filter((ref) => st.get(ref) !== "created");
    expect(missing, "orders created on chain, in checkpointed blocks, that the indexer never saw").to.deep.equal([]);
    expect(env.proxy.stats.lagged).to.be.greaterThan(0);
    await expectApiMatchesChain(env.node.provider, env.deployed, await ordersOf(allIds));
  });

  it("a provider refusing eth_getLogs spans above 25 blocks ('range too large' and the other wordings, -32005) and answers above 10 results: the indexer halves its range until it works, remembers the size and catches up", async () => {
    await env.indexer!.stop();
    // 200 blocks with a creation every 20: indexed in one 2000-block range, were it allowed.
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push(await order(`RANGE-${i}`));
      await waitFor(
        "created on chain",
        async () =>
          (await env.relayer.db.query("select 1 from commands where status in ('pending','claimed','submitted')")).rows
            .length === 0,
      );
      await env.mine(20);
    }
    const before = await env.checkpoint();
    const head = await headOf();
    expect(head - before).to.be.greaterThan(200);
    env.proxy.add(faults.logsRangeLimit(25, RANGE_TOO_LARGE_ERRORS));
    env.proxy.add(faults.logsResultLimit(10));
    const calls = env.proxy.stats.getLogs.length;
    await env.startIndexer({ batchBlocks: 2000 });
    await waitFor("caught up", async () => (await env.checkpoint()) >= head, 30_000);
    const refused = env.proxy.stats.faults[`getLogs span above 25`] ?? 0;
    const spans = env.proxy.stats.getLogs.slice(calls).map((f) => logsSpan({ method: "eth_getLogs", params: [f] }));
    // 2000 -> 1000 -> ... -> 15: a handful of refusals, then the size that works is kept.
    expect(refused, `refusals; spans asked: ${spans.join(",")}`).to.be.within(1, 12);
    const st = await statuses();
    expect(ids.map((_, i) => st.get(`RANGE-${i}`))).to.deep.equal(ids.map(() => "created"));
  });

  it("with indexDepth 3, the indexer never checkpoints past the head minus 3 (a reorg of 3 blocks never reaches it), and gets there when the chain stops", async () => {
    // Indexed up to the head by the tests before: from here on, nothing within 3 blocks of the head.
    const start = await env.checkpoint();
    await env.startIndexer({ indexDepth: 3 });
    const stopMining = env.mineEvery(100);
    const over: string[] = [];
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      const cp = await env.checkpoint();
      const head = await headOf();
      if (cp > Math.max(start, head - 3)) over.push(`checkpoint ${cp} at head ${head}`);
      await new Promise((r) => setTimeout(r, 30));
    }
    await stopMining();
    expect(over).to.deep.equal([]);
    const head = await headOf();
    await waitFor("checkpoint at head - 3", async () => (await env.checkpoint()) === head - 3);
  });

  it("with indexTarget 'finalized' (a chain whose finalized block is 8 behind its head), the indexer follows the finalized block, not the head", async () => {
    env.proxy.add({
      name: "finalized 8 behind",
      methods: ["eth_getBlockByNumber"],
      when: (c) => c.params?.[0] === "finalized",
      async intercept(call, fwd) {
        const head = await env.node.provider.getBlockNumber();
        return fwd({ ...call, params: [`0x${Math.max(0, head - 8).toString(16)}`, false] });
      },
    });
    const start = await env.checkpoint();
    await env.startIndexer({ indexTarget: "finalized" });
    const stopMining = env.mineEvery(100);
    const over: string[] = [];
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      const cp = await env.checkpoint();
      const head = await headOf();
      if (cp > Math.max(start, head - 8)) over.push(`checkpoint ${cp} at head ${head}`);
      await new Promise((r) => setTimeout(r, 30));
    }
    await stopMining();
    expect(over).to.deep.equal([]);
    const head = await headOf();
    await waitFor("checkpoint at the finalized block", async () => (await env.checkpoint()) === head - 8);
    expect(env.proxy.stats.faults["finalized 8 behind"]).to.be.greaterThan(0);
    // Back to the head for the next tests.
    env.proxy.clear();
    await env.startIndexer();
    await waitFor("checkpoint at the head", async () => (await env.checkpoint()) === head);
  });
});
