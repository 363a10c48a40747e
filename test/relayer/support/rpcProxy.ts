/**
 * A fault-injecting JSON-RPC proxy for the tests: an HTTP server on a free port of 127.0.0.1 in front of the
 * test's node, which forwards every call and misbehaves on command the way hosted providers and load
 * balancers do:
 *
 * - a method answered with a given JSON-RPC error, before forwarding or after forwarding a success (a
 *   transaction sent and then answered "nonce too low", "already known", "AlreadyKnown", "already imported");
 * - `eth_getLogs` refused above a block span ("range too large" and the other providers' wordings) or above a
 *   number of results ("query returned more than 10000 results");
 * - HTTP 429 with Retry-After, dropped connections (before or after forwarding), slow answers;
 * - a lagging backend behind a load balancer: a share of the calls is answered as of the head minus K blocks
 *   (`eth_blockNumber` lower, recent blocks, receipts and logs absent, state read at the lagging head).
 *
 * Faults are rules: each matches calls (methods, a predicate on the parameters), fires with a probability
 * (seeded, so a run can be replayed) at most `times` times, and intercepts the call. A batch is answered item by
 * item. A rule of the whole request (`wholeRequest`: a 429, a connection dropped before the request is read)
 * is decided first, and then nothing of the batch reaches the node, as with a gateway that refuses it; a
 * connection dropped after forwarding fails the whole batch after every item went through.
 */
import http from "node:http";
import type net from "node:net";

export interface JsonRpcCall {
  jsonrpc?: string;
  id?: unknown;
  method: string;
  params?: unknown[];
}

export interface JsonRpcErrorBody {
  code: number;
  message: string;
  data?: unknown;
}

/** What a call is answered with. */
export type Reply =
  | { result: unknown }
  | { error: JsonRpcErrorBody }
  /** The connection is closed without an answer. */
  | { drop: true }
  /** The whole HTTP request is answered with this status (a 429, a 503). */
  | { http: { status: number; headers?: Record<string, string>; body?: string } };

/** Sends the call on (to the node, or to the lagging backend when the load balancer picked it). */
export type Forward = (call: JsonRpcCall) => Promise<Reply>;

export interface FaultRule {
  /** Shown in `stats.faults`. */
  name: string;
  /** The methods it applies to; every method when absent. */
  methods?: string[];
  /** A further condition on the call. */
  when?: (call: JsonRpcCall) => boolean;
  /** Chance that a matching call is intercepted (default 1). */
  probability?: number;
  /**
   * The rule answers the whole HTTP request, before any of its calls is forwarded (a 429, a connection dropped
   * at once): its `intercept` must not forward.
   */
  wholeRequest?: boolean;
  /** At most this many interceptions (default unlimited). */
  times?: number;
  /** Answers the call; `forward` sends it on (to observe or alter the node's answer). */
  intercept(call: JsonRpcCall, forward: Forward): Promise<Reply>;
}

export interface LagOptions {
  /** The lagging backend answers as of the head minus this many blocks. */
  blocks: number;
  /** Share of the calls the load balancer sends to it (default 0.5). */
  share?: number;
  /** Methods it serves (default: every method). */
  methods?: string[];
}

export interface ProxyStats {
  /** Calls received, by method. */
  calls: Record<string, number>;
  /** Times each rule fired, by name. */
  faults: Record<string, number>;
  /** Times each rule fired, by name and method ("429 eth_sendRawTransaction"). */
  faultsByMethod: Record<string, number>;
  /** Calls answered by the lagging backend. */
  lagged: number;
  /** Every `eth_getLogs` filter received, in order. */
  getLogs: { fromBlock?: string; toBlock?: string; blockHash?: string; address?: string | string[] }[];
}

export interface RpcFaultProxy {
  url: string;
  stats: ProxyStats;
  /** Adds a rule (checked in the order added); returns a function that removes it. */
  add(rule: FaultRule): () => void;
  /** Puts a lagging backend behind the load balancer, or takes it away (null). */
  setLag(lag: LagOptions | null): void;
  /** Removes every rule and the lagging backend: an honest endpoint again. */
  clear(): void;
  close(): Promise<void>;
}

/** mulberry32: a small seeded generator, so a failing run can be replayed with the same seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (n: number) => `0x${n.toString(16)}`;
const num = (v: unknown) => Number.parseInt(String(v), 16);
const TAGS = ["latest", "pending", "safe", "finalized"];

/** Where the block tag of each state-reading method is. */
const BLOCK_PARAM: Record<string, number> = {
  eth_getBalance: 1,
  eth_getTransactionCount: 1,
  eth_getCode: 1,
  eth_call: 1,
  eth_estimateGas: 1,
  eth_getStorageAt: 2,
};

export async function startRpcFaultProxy(upstreamUrl: string, opts: { seed?: number } = {}): Promise<RpcFaultProxy> {
  const random = seeded(opts.seed ?? 1);
  const rules: { rule: FaultRule; fired: number }[] = [];
  let lag: LagOptions | null = null;
  const stats: ProxyStats = { calls: {}, faults: {}, faultsByMethod: {}, lagged: 0, getLogs: [] };

  const upstream = async (call: JsonRpcCall): Promise<Reply> => {
    const res = await fetch(upstreamUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: call.method, params: call.params ?? [] }),
    });
    const body = (await res.json()) as { result?: unknown; error?: JsonRpcErrorBody };
    return body.error ? { error: body.error } : { result: body.result };
  };
  const result = async (method: string, params: unknown[]): Promise<any> => {
    const r = await upstream({ method, params });
    if ("error" in r) throw new Error(`${method}: ${r.error.message}`);
    return (r as { result: unknown }).result;
  };

  /** The call as a backend `k` blocks behind the node answers it. */
  const lagging = async (call: JsonRpcCall, k: number): Promise<Reply> => {
    const head = Math.max(0, num(await result("eth_blockNumber", [])) - k);
    const params = [...(call.params ?? [])];
    const ahead = (n: unknown) => n !== null && n !== undefined && num(n) > head;
    switch (call.method) {
      case "eth_blockNumber":
        return { result: hex(head) };
      case "eth_getBlockByNumber": {
        const tag = String(params[0]);
        if (TAGS.includes(tag)) {
          const tagged = (await result("eth_getBlockByNumber", [tag, false])) as { number: string } | null;
          const n = tagged ? Math.min(num(tagged.number), head) : head;
          return upstream({ method: call.method, params: [hex(n), params[1] ?? false] });
        }
        if (num(tag) > head) return { result: null };
        return upstream(call);
      }
      case "eth_getBlockByHash": {
        const r = await upstream(call);
        if ("result" in r && r.result && ahead((r.result as { number: string }).number)) return { result: null };
        return r;
      }
      case "eth_getTransactionReceipt": {
        const r = await upstream(call);
        if ("result" in r && r.result && ahead((r.result as { blockNumber: string }).blockNumber))
          return { result: null };
        return r;
      }
      case "eth_getTransactionByHash": {
        const r = await upstream(call);
        if ("result" in r && r.result && ahead((r.result as { blockNumber: string }).blockNumber))
          return { result: { ...(r.result as object), blockHash: null, blockNumber: null, transactionIndex: null } };
        return r;
      }
      case "eth_getLogs": {
        const f = { ...(params[0] as Record<string, unknown>) };
        if (typeof f.blockHash === "string") {
          const b = (await result("eth_getBlockByHash", [f.blockHash, false])) as { number: string } | null;
          // As geth answers a filter by hash of a block it does not have.
          if (!b || num(b.number) > head) return { error: { code: -32000, message: "unknown block" } };
          return upstream(call);
        }
        const resolve = (v: unknown, dflt: number) =>
          v === undefined || TAGS.includes(String(v)) ? dflt : Math.min(num(v), Number.MAX_SAFE_INTEGER);
        const from = resolve(f.fromBlock, head);
        const to = Math.min(resolve(f.toBlock, head), head);
        // What a lagging node answers for blocks past its head: nothing, and no error.
        if (from > to) return { result: [] };
        return upstream({ ...call, params: [{ ...f, fromBlock: hex(from), toBlock: hex(to) }] });
      }
      default: {
        const at = BLOCK_PARAM[call.method];
        if (at === undefined) return upstream(call);
        const tag = params[at];
        if (tag === undefined || TAGS.includes(String(tag))) {
          params[at] = hex(head);
          return upstream({ ...call, params });
        }
        if (typeof tag === "string" && tag.length < 66 && num(tag) > head)
          return { error: { code: -32000, message: "header not found" } };
        return upstream(call);
      }
    }
  };

  const forward: Forward = (call) => {
    if (lag && (!lag.methods || lag.methods.includes(call.method)) && random() < (lag.share ?? 0.5)) {
      stats.lagged += 1;
      return lagging(call, lag.blocks);
    }
    return upstream(call);
  };

  /** The first rule of `kind` that fires for `call`, counted as fired. */
  const firing = (call: JsonRpcCall, wholeRequest: boolean): FaultRule | null => {
    for (const entry of rules) {
      const { rule } = entry;
      if (!!rule.wholeRequest !== wholeRequest) continue;
      if (rule.methods && !rule.methods.includes(call.method)) continue;
      if (rule.when && !rule.when(call)) continue;
      if (rule.times !== undefined && entry.fired >= rule.times) continue;
      if (rule.probability !== undefined && random() >= rule.probability) continue;
      entry.fired += 1;
      stats.faults[rule.name] = (stats.faults[rule.name] ?? 0) + 1;
      const key = `${rule.name} ${call.method}`;
      stats.faultsByMethod[key] = (stats.faultsByMethod[key] ?? 0) + 1;
      return rule;
    }
    return null;
  };

  const answer = async (call: JsonRpcCall): Promise<Reply> => {
    stats.calls[call.method] = (stats.calls[call.method] ?? 0) + 1;
    if (call.method === "eth_getLogs") stats.getLogs.push({ ...((call.params?.[0] ?? {}) as object) });
    const rule = firing(call, false);
    return rule ? rule.intercept(call, forward) : forward(call);
  };

  /** The answer to the whole request when a rule of the whole request fires for one of its calls. */
  const refuseWhole = async (calls: JsonRpcCall[]): Promise<Reply | null> => {
    for (const call of calls) {
      const rule = firing(call, true);
      if (rule) return rule.intercept(call, () => Promise.reject(new Error("a whole-request rule must not forward")));
    }
    return null;
  };

  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        let payload: JsonRpcCall | JsonRpcCall[];
        try {
          payload = JSON.parse(Buffer.concat(chunks).toString("utf8")) as JsonRpcCall | JsonRpcCall[];
        } catch {
          res.writeHead(400).end();
          return;
        }
        const calls = Array.isArray(payload) ? payload : [payload];
        let replies: Reply[];
        try {
          const whole = await refuseWhole(calls);
          replies = whole ? [whole] : await Promise.all(calls.map(answer));
        } catch (err) {
          // The node itself is unreachable: the proxy says so as a gateway would.
          res.writeHead(502, { "content-type": "text/plain" }).end(String(err));
          return;
        }
        if (replies.some((r) => "drop" in r)) {
          req.socket.destroy();
          return;
        }
        const failed = replies.find((r): r is Extract<Reply, { http: unknown }> => "http" in r);
        if (failed) {
          res.writeHead(failed.http.status, failed.http.headers ?? {}).end(failed.http.body ?? "");
          return;
        }
        const bodies = replies.map((r, i) => ({ jsonrpc: "2.0", id: calls[i].id ?? null, ...r }));
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify(Array.isArray(payload) ? bodies : bodies[0]));
      })();
    });
  });
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    add(rule) {
      const entry = { rule, fired: 0 };
      rules.push(entry);
      return () => {
        const i = rules.indexOf(entry);
        if (i >= 0) rules.splice(i, 1);
      };
    },
    setLag(l) {
      lag = l;
    },
    clear() {
      rules.length = 0;
      lag = null;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

/** The span of an `eth_getLogs` range filter in blocks, or 0 for a filter by block hash. */
export function logsSpan(call: JsonRpcCall): number {
  const f = (call.params?.[0] ?? {}) as { fromBlock?: string; toBlock?: string; blockHash?: string };
  if (f.blockHash || !f.fromBlock || !f.toBlock || TAGS.includes(f.fromBlock) || TAGS.includes(f.toBlock)) return 0;
  return num(f.toBlock) - num(f.fromBlock) + 1;
}

/** How hosted providers word "this eth_getLogs range is too large" (Alchemy, Infura, QuickNode, Ankr, geth…). */
export const RANGE_TOO_LARGE_ERRORS: JsonRpcErrorBody[] = [
  { code: -32602, message: "eth_getLogs block range too large, range: 2000, max: 1000" },
  { code: -32000, message: "block range is too wide" },
  { code: -32005, message: "query returned more than 10000 results" },
  {
    code: -32602,
    message:
      "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response.",
  },
  { code: -32000, message: "exceed maximum block range: 5000" },
  { code: -32005, message: "limit exceeded" },
  { code: -32600, message: "eth_getLogs is limited to a 10,000 range" },
];

/** Ready-made rules for the faults the issue lists. */
export const faults = {
  /** The method is answered with `error` without reaching the node. */
  error(name: string, methods: string[], error: JsonRpcErrorBody, opts: Partial<FaultRule> = {}): FaultRule {
    return { name, methods, ...opts, intercept: async () => ({ error }) };
  },
  /** The call reaches the node and takes effect, but the answer is `error` ("nonce too low", "already known"). */
  errorAfterSuccess(
    name: string,
    methods: string[],
    error: JsonRpcErrorBody,
    opts: Partial<FaultRule> = {},
  ): FaultRule {
    return {
      name,
      methods,
      ...opts,
      async intercept(call, fwd) {
        const r = await fwd(call);
        return "result" in r ? { error } : r;
      },
    };
  },
  /** `eth_getLogs` spans above `maxBlocks` are refused, with the providers' wordings in turn. */
  logsRangeLimit(maxBlocks: number, errors: JsonRpcErrorBody[] = RANGE_TOO_LARGE_ERRORS): FaultRule {
    let next = 0;
    return {
      name: `getLogs span above ${maxBlocks}`,
      methods: ["eth_getLogs"],
      when: (call) => logsSpan(call) > maxBlocks,
      intercept: async () => ({ error: errors[next++ % errors.length] }),
    };
  },
  /** `eth_getLogs` answers of more than `maxResults` logs are refused, as Infura words it. */
  logsResultLimit(maxResults: number): FaultRule {
    return {
      name: `getLogs above ${maxResults} results`,
      methods: ["eth_getLogs"],
      async intercept(call, fwd) {
        const r = await fwd(call);
        if ("result" in r && Array.isArray(r.result) && r.result.length > maxResults)
          return { error: { code: -32005, message: `query returned more than ${maxResults} results` } };
        return r;
      },
    };
  },
  /** HTTP 429 Too Many Requests with Retry-After. */
  rateLimited(opts: Partial<FaultRule> = {}, retryAfterSeconds = 1): FaultRule {
    return {
      name: "429",
      wholeRequest: true,
      ...opts,
      intercept: async () => ({
        http: {
          status: 429,
          headers: { "retry-after": String(retryAfterSeconds), "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32005, message: "Too Many Requests" } }),
        },
      }),
    };
  },
  /**
   * The connection is dropped: before the request reaches the node (nothing of it does), or after the call took
   * effect (the rest of the batch went through too).
   */
  dropped(opts: Partial<FaultRule> = {}, afterForward = false): FaultRule {
    return {
      name: afterForward ? "dropped after forwarding" : "dropped",
      wholeRequest: !afterForward,
      ...opts,
      async intercept(call, fwd) {
        if (afterForward) await fwd(call);
        return { drop: true };
      },
    };
  },
  /** The answer comes `ms` late. */
  slow(ms: number, opts: Partial<FaultRule> = {}): FaultRule {
    return {
      name: `slow ${ms} ms`,
      ...opts,
      async intercept(call, fwd) {
        await new Promise((r) => setTimeout(r, ms));
        return fwd(call);
      },
    };
  },
};
