/**
 * Shared set-up of the commerce tests: one node, one database and one in-process relayer per test file, a
 * small HTTP client, merchants with keys, and helpers that wait on what the indexer derived.
 */
import { expect } from "chai";
import { NonceManager, type Wallet } from "ethers";
import { MockStablecoin__factory, PaymentEscrow__factory } from "../../../typechain-types";
import { startRelayer, type Relayer } from "../../../relayer/src/relayer";
import { toTerms } from "../../../sdk/orderRecord";
import {
  ADMIN_KEY,
  SIGNER_INDEXES,
  createTestDatabase,
  deployContracts,
  devWallet,
  relayerConfig,
  startNode,
  waitFor,
  type Deployed,
  type LocalNode,
} from "../harness";
import { apiContract } from "../support/openapiContract";

export interface ApiResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  headers: Headers;
}

export type Api = (
  method: string,
  path: string,
  key: string | null,
  body?: unknown,
  headers?: Record<string, string>,
) => Promise<ApiResponse>;

export interface Stack {
  node: LocalNode;
  deployed: Deployed;
  relayer: Relayer;
  base: string;
  api: Api;
  stop(): Promise<void>;
}

export async function startStack(overrides: Record<string, string> = {}): Promise<Stack> {
  const node = await startNode();
  let db: { url: string; drop(): Promise<void> } | undefined;
  let relayer: Relayer | undefined;
  try {
    const deployed = await deployContracts(node.provider);
    db = await createTestDatabase();
    relayer = await startRelayer({
      config: relayerConfig(node, {
        DATABASE_URL: db.url,
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
        ...overrides,
      }),
      chainId: deployed.chainId,
      addresses: deployed,
    });
    const base = await relayer.listen();
    const api: Api = async (method, path, key, body, headers = {}) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        body: body !== undefined ? (typeof body === "string" ? body : JSON.stringify(body)) : undefined,
      });
      const text = await res.text();
      // Every answer the suites receive must be one the OpenAPI document promises (../support/openapiContract.ts).
      apiContract().assertConforms({
        method,
        url: path,
        status: res.status,
        contentType: res.headers.get("content-type"),
        body: text,
      });
      let parsed: unknown = text;
      if ((res.headers.get("content-type") ?? "").includes("json")) parsed = JSON.parse(text);
      return { status: res.status, body: parsed, headers: res.headers };
    };
    const r = relayer;
    const d = db;
    return {
      node,
      deployed,
      relayer,
      base,
      api,
      async stop() {
        await r.stop();
        await d.drop();
        await node.stop();
      },
    };
  } catch (err) {
    await relayer?.stop().catch(() => undefined);
    await db?.drop().catch(() => undefined);
    await node.stop();
    throw err;
  }
}

export interface Merchant {
  id: string;
  address: string;
  key: string;
}

/** A merchant, active on chain, with an all-scopes key. */
export async function createMerchant(api: Api, name: string): Promise<Merchant> {
  const m = await api("POST", "/v1/admin/merchants", ADMIN_KEY, { name });
  expect(m.status).to.equal(201);
  await waitFor(
    `merchant ${name} active`,
    async () => (await api("GET", `/v1/admin/merchants/${m.body.id}`, ADMIN_KEY)).body.status === "active",
    60_000,
  );
  const k = await api("POST", `/v1/admin/merchants/${m.body.id}/keys`, ADMIN_KEY, { name: "owner" });
  expect(k.status).to.equal(201);
  return { id: m.body.id, address: m.body.address, key: k.body.secret };
}

export interface OrderRowLite {
  id: string;
  chain_order_id: string;
  status: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  terms: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  record: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  items: any[];
}

export async function orderRows(relayer: Relayer, ids: string[]): Promise<Map<string, OrderRowLite>> {
  const r = await relayer.db.query<OrderRowLite>(
    `select id, chain_order_id, status, terms, record, items from orders where id = any($1::text[])`,
    [ids],
  );
  return new Map(r.rows.map((o) => [o.id, o]));
}

/** Waits until every order `ids[i]` has status `want(id)` (read from the relayer's database, as the API does). */
export async function waitStatuses(
  relayer: Relayer,
  want: Map<string, string>,
  what: string,
  timeoutMs = 90_000,
): Promise<Map<string, OrderRowLite>> {
  let last: Map<string, OrderRowLite> = new Map();
  try {
    return await waitFor(
      what,
      async () => {
        last = await orderRows(relayer, [...want.keys()]);
        for (const [id, s] of want) if (last.get(id)?.status !== s) return false;
        return last;
      },
      timeoutMs,
      200,
    );
  } catch (err) {
    const wrong = [...want].filter(([id, s]) => last.get(id)?.status !== s).slice(0, 5);
    const cmds = await relayer.db.query(
      `select order_id, kind, status, error_code, error_message from commands where order_id = any($1::text[]) order by id`,
      [wrong.map(([id]) => id)],
    );
    throw new Error(
      `${(err as Error).message}; e.g. ${JSON.stringify(wrong.map(([id, s]) => [id, s, last.get(id)?.status]))} commands ${JSON.stringify(cmds.rows)}`,
    );
  }
}

/** The order's fixed terms, as every escrow call takes them. */
export function terms(o: OrderRowLite) {
  return toTerms(o.terms);
}

export function lineItems(o: OrderRowLite) {
  return o.items.map((i: { skuId: string; quantity: string }) => ({
    skuId: BigInt(i.skuId),
    quantity: BigInt(i.quantity),
  }));
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function inChunks<T, R>(items: T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

/** What "nothing was sent" means: no new block, no signer nonce moved, no command queued, no relay spend. */
export async function sentSnapshot(stack: Stack, extra: string[] = []) {
  const { node, relayer } = stack;
  const addrs = [...SIGNER_INDEXES.map((i) => devWallet(i).address), devWallet(2).address, ...extra];
  return {
    block: await node.provider.getBlockNumber(),
    nonces: await Promise.all(addrs.map((a) => node.provider.getTransactionCount(a, "pending"))),
    commands: Number((await relayer.db.query<{ n: string }>(`select count(*) as n from commands`)).rows[0].n),
    spend: Number((await relayer.db.query<{ n: string }>(`select count(*) as n from relay_spend`)).rows[0].n),
    chainTxs: Number((await relayer.db.query<{ n: string }>(`select count(*) as n from chain_txs`)).rows[0].n),
  };
}

/** Waits until the writer has nothing left to do. */
export async function waitIdle(relayer: Relayer, timeoutMs = 60_000) {
  await waitFor(
    "writer idle",
    async () =>
      Number(
        (
          await relayer.db.query<{ n: string }>(
            `select count(*) as n from commands where status in ('pending', 'claimed', 'submitted')`,
          )
        ).rows[0].n,
      ) === 0,
    timeoutMs,
  );
}

export function contracts(stack: Stack, w: Wallet | NonceManager) {
  return {
    escrow: PaymentEscrow__factory.connect(stack.deployed.escrow, w),
    usd: MockStablecoin__factory.connect(stack.deployed.stablecoin, w),
  };
}

/** Deterministic PRNG (mulberry32) so a failing run can be repeated with its seed. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    bigint: (lo: bigint, hi: bigint) => lo + (BigInt(Math.floor(next() * 2 ** 52)) * (hi - lo + 1n)) / 2n ** 52n,
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
    chance: (p: number) => next() < p,
  };
}
