import { expect } from "chai";
import pino from "pino";
import { startRelayer, type Relayer } from "../../../relayer/src/relayer";
import {
  createTestDatabase,
  deployContracts,
  relayerConfig,
  startNode,
  waitFor,
  type Deployed,
  type LocalNode,
} from "../harness";
import { startRpcFaultProxy, type RpcFaultProxy } from "../support/rpcProxy";

/** The default POLL_INTERVAL_MS. */
const POLL_MS = 200;
const WATCH_MS = 5_000;
/** While the head stands still, the indexer reads its checkpoint's block again at most this often. */
const RECHECK_IDLE_MS = 5_000;
/** Headers a keeper pass (every 15 s: at most one in the window) reads: the latest block's time. */
const KEEPER_PASS_READS = 2;
/**
 * Other periodic reads of the writer, one round of each at most in the window: every signer's nonce (every
 * 10 s) and balance (every 30 s).
 */
const WRITER_READS_PER_SIGNER = 2;

/**
 * A relayer on a chain where nothing happens, behind the fault-injecting proxy (here an honest one that counts
 * calls): what it asks of a hosted provider that bills by the request. Each poll costs one `eth_blockNumber`;
 * the checkpoint's header is read again only when the head moved, and now and then.
 */
describe("relayer: requests an idle relayer makes of its RPC provider", function () {
  this.timeout(120_000);
  let node: LocalNode;
  let deployed: Deployed;
  let db: { url: string; drop(): Promise<void> };
  let proxy: RpcFaultProxy;
  let relayer: Relayer;
  const lines: { msg?: string }[] = [];

  before(async () => {
    node = await startNode();
    deployed = await deployContracts(node.provider);
    db = await createTestDatabase();
    proxy = await startRpcFaultProxy(node.url);
    relayer = await startRelayer({
      config: relayerConfig(node, {
        RPC_URL: proxy.url,
        DATABASE_URL: db.url,
        POLL_INTERVAL_MS: String(POLL_MS),
      }),
      chainId: deployed.chainId,
      addresses: deployed,
      logger: pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s)) }),
    });
  });
  after(async () => {
    await relayer?.stop();
    await proxy?.close();
    await db?.drop();
    await node?.stop();
  });

  it("an idle relayer polling every 200 ms (the default) makes one request per poll plus a few periodic checks: no header re-read per poll", async () => {
    const signers = relayer.writer.operatorAddresses.length;
    const head = await node.provider.getBlockNumber();
    await waitFor("indexer at the head", async () => (await relayer.indexer.checkpoint()).lastBlock >= BigInt(head));
    // The keepers' first pass and the writer's start-up reads are over before the window opens.
    await new Promise((r) => setTimeout(r, 1_000));
    const before = { ...proxy.stats.calls };
    const started = Date.now();
    await new Promise((r) => setTimeout(r, WATCH_MS));
    const elapsed = Date.now() - started;
    const made: Record<string, number> = {};
    for (const [method, n] of Object.entries(proxy.stats.calls)) {
      const d = n - (before[method] ?? 0);
      if (d > 0) made[method] = d;
    }
    const polls = made.eth_blockNumber ?? 0;
    const others = Object.entries(made)
      .filter(([m]) => m !== "eth_blockNumber")
      .reduce((s, [, n]) => s + n, 0);
    const total = polls + others;
    console.log(
      `      idle ${elapsed} ms: ${total} requests (${((total * 1000) / elapsed).toFixed(1)}/s), ${polls} polls, others ${JSON.stringify(made)}`,
    );
    // A poll waits POLL_MS after the previous one ended: load can only make fewer of them.
    expect(polls, "polls")
      .to.be.at.least(1)
      .and.at.most(Math.floor(elapsed / POLL_MS) + 1);
    const rechecks = Math.floor(elapsed / RECHECK_IDLE_MS) + 1;
    expect(made.eth_getBlockByNumber ?? 0, "headers read").to.be.at.most(rechecks + KEEPER_PASS_READS);
    expect(others, `requests besides the polls: ${JSON.stringify(made)}`).to.be.at.most(
      rechecks + KEEPER_PASS_READS + WRITER_READS_PER_SIGNER * signers,
    );
    expect(await relayer.indexer.checkpoint()).to.include({ lastBlock: BigInt(head) });
  });

  it("a block replaced at the same height while the head stands still (no new block to show a parent hash) is still found and rolled back", async () => {
    const fork = await node.provider.send("evm_snapshot", []);
    await node.provider.send("evm_mine", []);
    const head = await node.provider.getBlockNumber();
    await waitFor("indexer at the head", async () => (await relayer.indexer.checkpoint()).lastBlock >= BigInt(head));
    const indexed = (await relayer.indexer.checkpoint()).lastHash;
    // A few polls go by: the checkpoint's block is found unchanged and the polls stop reading it.
    await new Promise((r) => setTimeout(r, 1_000));
    // Block `head` replaced by another one (a later timestamp, so another hash): same height, same tip.
    expect(await node.provider.send("evm_revert", [fork])).to.equal(true);
    const { timestamp } = (await node.provider.getBlock("latest"))!;
    await node.provider.send("evm_mine", [timestamp + 100]);
    expect(await node.provider.getBlockNumber()).to.equal(head);
    const replaced = (await node.provider.getBlock(head))!.hash;
    expect(replaced).to.not.equal(indexed);
    const replacedAt = Date.now();
    await waitFor(
      "the replaced block rolled back and indexed again",
      async () =>
        lines.some((l) => l.msg === "reorg detected; rolling back to the common ancestor") &&
        (await relayer.indexer.checkpoint()).lastHash === replaced,
      20_000,
    );
    console.log(`      found ${Date.now() - replacedAt} ms after the replacement`);
  });
});
