/**
 * A relayer whose indexer reads the chain through the fault-injecting proxy (`rpcProxy.ts`) while its writer
 * talks to the node directly: the tests of what the indexer does when its backend misbehaves. The relayer is
 * started in-process; its own indexer is stopped and replaced by one built here, on the proxy, with the same
 * ledger and webhook hooks as `workers.ts` gives it and with the options under test.
 */
import pino from "pino";
import { PaymentEscrow__factory } from "../../../typechain-types";
import { makeChainContext, makeProvider, type ChainContext } from "../../../relayer/src/chain/context";
import { Indexer, type IndexerHooks, type IndexerOptions } from "../../../relayer/src/indexer/indexer";
import { postLedger } from "../../../relayer/src/ledger/ledger";
import { startRelayer, type Relayer } from "../../../relayer/src/relayer";
import { announceIndexed, announceRolledBack } from "../../../relayer/src/webhooks/events";
import { toTerms } from "../../../sdk/orderRecord";
import {
  ADMIN_KEY,
  createTestDatabase,
  deployContracts,
  devWallet,
  relayerConfig,
  startNode,
  waitFor,
  type Deployed,
  type LocalNode,
} from "../harness";
import { startRpcFaultProxy, type RpcFaultProxy } from "./rpcProxy";

export interface IndexerEnv {
  node: LocalNode;
  deployed: Deployed;
  relayer: Relayer;
  db: { url: string; drop(): Promise<void> };
  proxy: RpcFaultProxy;
  /** The chain as seen through the proxy. */
  proxiedChain: ChainContext;
  /** Every JSON log line of the relayer and of the indexers started here. */
  lines: Record<string, unknown>[];
  indexer: Indexer | null;
  /** Replaces the running indexer by one on the proxy with `opts` (over fast test defaults). */
  startIndexer(opts?: Partial<IndexerOptions>): Promise<Indexer>;
  call(method: "GET" | "POST", url: string, key: string, body?: unknown): Promise<{ status: number; body: any }>;
  newMerchant(name: string): Promise<string>;
  /** Accepts an order for 1000 wei paid natively by the buyer (Hardhat account 10); returns its id. */
  order(key: string, reference: string): Promise<string>;
  /** The buyer pays the order on chain, directly (not through the relayer or the proxy). */
  pay(key: string, id: string): Promise<void>;
  /**
   * Mines `n` empty blocks, one evm_mine each: hardhat_mine's reserved blocks have a zero parent hash, which a
   * follower checking parent hashes takes for a reorg.
   */
  mine(n: number): Promise<void>;
  /** Mines a block every `everyMs` until stopped: a live chain, on which a lagging backend catches up. */
  mineEvery(everyMs: number): () => Promise<void>;
  /** The indexer's checkpoint, read from the database. */
  checkpoint(): Promise<number>;
  stop(): Promise<void>;
}

export const INDEXER_HOOKS: IndexerHooks = {
  async onIndexed(q, from, to, touched) {
    await postLedger(q, from, to);
    await announceIndexed(q, touched, from, to);
  },
  async onRolledBack(q, _ancestor, retracted) {
    await announceRolledBack(q, retracted.orders, retracted.orderEvents);
  },
};

export async function startIndexerEnv(opts: { seed?: number } = {}): Promise<IndexerEnv> {
  const node = await startNode();
  const deployed = await deployContracts(node.provider);
  const db = await createTestDatabase();
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const relayer = await startRelayer({
    config: relayerConfig(node, { DATABASE_URL: db.url }),
    chainId: deployed.chainId,
    addresses: deployed,
    logger,
  });
  await relayer.indexer.stop();
  const proxy = await startRpcFaultProxy(node.url, { seed: opts.seed });
  const provider = makeProvider(proxy.url, deployed.chainId);
  const proxiedChain = makeChainContext(provider, deployed.chainId, deployed);
  const buyer = devWallet(10, node.provider);
  const escrow = PaymentEscrow__factory.connect(deployed.escrow, buyer);

  const env: IndexerEnv = {
    node,
    deployed,
    relayer,
    db,
    proxy,
    proxiedChain,
    lines,
    indexer: null,
    async startIndexer(o = {}) {
      await env.indexer?.stop();
      const indexer = new Indexer(
        relayer.db,
        proxiedChain,
        { pollIntervalMs: 50, batchBlocks: 2000, ...o },
        logger.child({ component: "indexer" }),
        relayer.metrics,
        INDEXER_HOOKS,
      );
      env.indexer = indexer;
      await indexer.start();
      return indexer;
    },
    async call(method, url, key, body) {
      const res = await relayer.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${key}` },
        payload: body as object,
      });
      return { status: res.statusCode, body: res.json() };
    },
    async newMerchant(name) {
      const m = await env.call("POST", "/v1/admin/merchants", ADMIN_KEY, { name });
      await waitFor(
        "merchant active",
        async () => (await env.call("GET", `/v1/admin/merchants/${m.body.id}`, ADMIN_KEY)).body.status === "active",
        60_000,
      );
      return (await env.call("POST", `/v1/admin/merchants/${m.body.id}/keys`, ADMIN_KEY, { name: "ops" })).body
        .secret as string;
    },
    async order(key, reference) {
      const r = await env.call("POST", "/v1/orders", key, {
        reference,
        amount: "1000",
        token: "native",
        buyer: buyer.address,
      });
      if (r.status !== 202) throw new Error(`order ${reference} not accepted: ${JSON.stringify(r.body)}`);
      return r.body.id as string;
    },
    async pay(key, id) {
      const o = (await env.call("GET", `/v1/orders/${id}`, key)).body;
      await (await escrow.pay(toTerms(o.terms), { value: 1000n })).wait();
    },
    async mine(n) {
      for (let i = 0; i < n; i++) await node.provider.send("evm_mine", []);
    },
    mineEvery(everyMs) {
      let stopped = false;
      const loop = (async () => {
        while (!stopped) {
          await node.provider.send("evm_mine", []).catch(() => undefined);
          await new Promise((r) => setTimeout(r, everyMs));
        }
      })();
      return async () => {
        stopped = true;
        await loop;
      };
    },
    async checkpoint() {
      const r = await relayer.db.query<{ last_block: string }>("select last_block from indexer_state where id = 1");
      return r.rows[0] ? Number(r.rows[0].last_block) : deployed.startBlock - 1;
    },
    async stop() {
      await env.indexer?.stop();
      await relayer.stop();
      provider.destroy();
      await proxy.close();
      await db.drop();
      await node.stop();
    },
  };
  return env;
}
