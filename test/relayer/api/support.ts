/**
 * Shared set-up of the API tests: one `hardhat node`, one PostgreSQL database and one in-process relayer per
 * file, with small helpers that call the API through `app.inject()` and create isolated merchants.
 */
import type { Wallet } from "ethers";
import { MockStablecoin__factory, PaymentEscrow__factory } from "../../../typechain-types";
import { startRelayer, type Relayer } from "../../../relayer/src/relayer";
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
import { apiContract } from "../support/openapiContract";

export { ADMIN_KEY, devWallet, waitFor };

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface ApiResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  headers: Record<string, string | string[] | number | undefined>;
  text: string;
}

export interface Merchant {
  id: string;
  address: string;
  /** Secret of an owner key with every scope. */
  key: string;
  keyId: string;
}

export interface ApiEnv {
  node: LocalNode;
  deployed: Deployed;
  relayer: Relayer;
  databaseUrl: string;
  call(
    method: Method,
    url: string,
    key?: string | null,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse>;
  newMerchant(name?: string): Promise<Merchant>;
  /** Creates a SKU, waits until it exists on chain, and adds `stock` units when given. */
  newSku(key: string, reference: string, stock?: number): Promise<{ id: string; chainSkuId: string }>;
  /** Waits until the order has `status` and returns its detail. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  waitOrder(key: string, id: string, status: string, timeoutMs?: number): Promise<any>;
  /** A buyer (Hardhat account `index`, 10+) holding and having approved `amount` of the stablecoin. */
  fundedBuyer(index: number, amount?: bigint): Promise<Wallet>;
  /** The buyer pays the order on chain with the terms the API reports. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  pay(buyer: Wallet, order: any): Promise<void>;
  stop(): Promise<void>;
}

let merchantCounter = 0;

export async function startApiEnv(
  opts: { overrides?: Record<string, string | undefined>; workers?: boolean | "thread" } = {},
): Promise<ApiEnv> {
  const node = await startNode();
  const deployed = await deployContracts(node.provider);
  const db = await createTestDatabase();
  const relayer = await startRelayer({
    config: relayerConfig(node, {
      DATABASE_URL: db.url,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
      ...opts.overrides,
    }),
    chainId: deployed.chainId,
    addresses: deployed,
    workers: opts.workers,
  });
  const env: ApiEnv = {
    node,
    deployed,
    relayer,
    databaseUrl: db.url,
    call: (method, url, key, body, headers) => callApp(relayer, method, url, key, body, headers),
    async newMerchant(name) {
      merchantCounter += 1;
      const m = await env.call("POST", "/v1/admin/merchants", ADMIN_KEY, {
        name: name ?? `Merchant ${merchantCounter}`,
      });
      if (m.status !== 201) throw new Error(`merchant not created: ${m.status} ${m.text}`);
      const k = await env.call("POST", `/v1/admin/merchants/${m.body.id}/keys`, ADMIN_KEY, { name: "owner" });
      if (k.status !== 201) throw new Error(`key not issued: ${k.status} ${k.text}`);
      await waitFor(
        "merchant active",
        async () => (await env.call("GET", `/v1/admin/merchants/${m.body.id}`, ADMIN_KEY)).body.status === "active",
      );
      return { id: m.body.id, address: m.body.address, key: k.body.secret, keyId: k.body.id };
    },
    async newSku(key, reference, stock) {
      const s = await env.call("POST", "/v1/skus", key, { reference, name: `SKU ${reference}` });
      if (s.status !== 202) throw new Error(`SKU not accepted: ${s.status} ${s.text}`);
      if (stock) {
        const a = await env.call("POST", `/v1/skus/${s.body.id}/stock`, key, { quantity: String(stock) });
        if (a.status !== 202) throw new Error(`stock not accepted: ${a.status} ${a.text}`);
      }
      await waitFor("SKU on chain with its stock", async () => {
        const r = await env.call("GET", `/v1/skus/${s.body.id}`, key);
        return r.body.status === "created" && r.body.stock?.available === String(stock ?? 0);
      });
      return { id: s.body.id, chainSkuId: s.body.chainSkuId };
    },
    async waitOrder(key, id, status, timeoutMs = 30_000) {
      return waitFor(
        `order ${id} ${status}`,
        async () => {
          const r = await env.call("GET", `/v1/orders/${encodeURIComponent(id)}`, key);
          if (r.body.status === "failed" && status !== "failed")
            throw new Error(`order failed: ${JSON.stringify(r.body.error)}`);
          return r.body.status === status ? r.body : null;
        },
        timeoutMs,
      );
    },
    async fundedBuyer(index, amount = 10n ** 12n) {
      const buyer = devWallet(index, node.provider);
      const usd = MockStablecoin__factory.connect(deployed.stablecoin, buyer);
      await (await usd.mint(buyer.address, amount)).wait();
      await (await usd.approve(deployed.escrow, amount)).wait();
      return buyer;
    },
    async pay(buyer, order) {
      const escrow = PaymentEscrow__factory.connect(deployed.escrow, buyer);
      const value = order.token === "native" ? BigInt(order.amount) : 0n;
      await (await escrow.pay(toTerms(order.terms), { value })).wait();
    },
    async stop() {
      await relayer.stop().catch(() => undefined);
      await db.drop().catch(() => undefined);
      await node.stop();
    },
  };
  return env;
}

export async function callApp(
  relayer: Relayer,
  method: Method,
  url: string,
  key?: string | null,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const h: Record<string, string> = { ...headers };
  if (key) h.authorization = `Bearer ${key}`;
  const res = await relayer.app.inject({
    method,
    url,
    headers: h,
    ...(body === undefined ? {} : { payload: typeof body === "string" ? body : JSON.stringify(body) }),
    ...(body !== undefined && typeof body !== "string" && !h["content-type"]
      ? { headers: { ...h, "content-type": "application/json" } }
      : {}),
  });
  // Every answer the suites receive must be one the OpenAPI document promises (../support/openapiContract.ts).
  apiContract().assertConforms({
    method,
    url,
    status: res.statusCode,
    contentType: res.headers["content-type"] as string | undefined,
    body: res.body,
  });
  let parsed: unknown = undefined;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    parsed = undefined;
  }
  return { status: res.statusCode, body: parsed, headers: res.headers, text: res.body };
}

/** Asserts the `{ error: { code, message, details } }` shape and returns the error. */
export function errorOf(r: ApiResponse): { code: string; message: string; details: Record<string, unknown> } {
  const e = r.body?.error;
  if (!e || typeof e.code !== "string" || typeof e.message !== "string" || typeof e.details !== "object")
    throw new Error(`not an error body: ${r.status} ${r.text.slice(0, 500)}`);
  return e;
}
