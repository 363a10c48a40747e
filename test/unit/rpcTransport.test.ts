/**
 * The JSON-RPC transport against providers that misbehave as hosted ones do: rate limits, 5xx, a dead primary,
 * endpoints that never answer, providers that refuse batches. Local HTTP servers on free ports play them.
 */
import { expect } from "chai";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Interface, isError } from "ethers";
import { isRateLimitError, makeProvider } from "../../relayer/src/chain/transport";

type Handler = (body: unknown, res: http.ServerResponse) => void;

interface FakeRpc {
  url: string;
  /** Each HTTP request's body as received. */
  bodies: unknown[];
  times: number[];
  close(): Promise<void>;
}

async function fakeRpc(handler: Handler, path = "/v3/SECRET-KEY"): Promise<FakeRpc> {
  const bodies: unknown[] = [];
  const times: number[] = [];
  const server = http.createServer((req, res) => {
    let text = "";
    req.on("data", (c) => (text += c));
    req.on("end", () => {
      const body = JSON.parse(text);
      bodies.push(body);
      times.push(Date.now());
      handler(body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    bodies,
    times,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const answer = (body: unknown, res: http.ServerResponse, result: unknown = "0x10") => {
  const one = (p: { id: number }) => ({ jsonrpc: "2.0", id: p.id, result });
  res
    .writeHead(200, { "content-type": "application/json" })
    .end(JSON.stringify(Array.isArray(body) ? body.map(one) : one(body as { id: number })));
};

/** Answers with `status` the first `n` times, then normally. */
function failing(n: number, status: number, headers: Record<string, string> = {}): Handler {
  let left = n;
  return (body, res) => {
    if (left-- > 0) res.writeHead(status, headers).end("slow down");
    else answer(body, res);
  };
}

describe("RPC transport (hosted providers)", function () {
  this.timeout(30_000);
  const open: FakeRpc[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  async function serve(h: Handler): Promise<FakeRpc> {
    const s = await fakeRpc(h);
    open.push(s);
    return s;
  }

  it("a provider answering 429 with Retry-After: waits as asked, then gets the answer", async () => {
    const s = await serve(failing(1, 429, { "retry-after": "1" }));
    const outcomes: string[] = [];
    const p = makeProvider(s.url, 31337n, { onOutcome: (o) => outcomes.push(o) });
    try {
      expect(await p.getBlockNumber()).to.equal(16);
      expect(s.times).to.have.length(2);
      // Retry-After is a minimum: the whole second, jitter on top (less a millisecond of timer rounding).
      expect(s.times[1] - s.times[0]).to.be.at.least(995);
      expect(outcomes).to.deep.equal(["rate_limited", "ok"]);
    } finally {
      p.destroy();
    }
  });

  it("a provider asking more than the longest wait (Retry-After: 3 over a 300 ms cap): waits the cap and says so in a warning", async () => {
    const s = await serve(failing(1, 429, { "retry-after": "3" }));
    const warnings: { fields: Record<string, unknown>; msg: string }[] = [];
    const p = makeProvider(s.url, 31337n, {
      maxRetryWaitMs: 300,
      log: { warn: (fields: Record<string, unknown>, msg: string) => warnings.push({ fields, msg }) },
    });
    try {
      expect(await p.getBlockNumber()).to.equal(16);
      expect(s.times[1] - s.times[0])
        .to.be.at.least(295)
        .and.below(2_000);
      expect(warnings).to.have.length(1);
      expect(warnings[0].fields).to.include({ askedMs: 3000, waitedMs: 300 });
      expect(String(warnings[0].fields.endpoint)).to.not.include("SECRET-KEY");
    } finally {
      p.destroy();
    }
  });

  /** Answers each call with `error` the first `n` times it is asked `method`, every other call normally. */
  function jsonRpcErrors(n: number, error: object, method = "eth_blockNumber"): Handler {
    let left = n;
    return (body, res) => {
      const one = (c: { id: number; method: string }) =>
        c.method === method && left-- > 0
          ? { jsonrpc: "2.0", id: c.id, error }
          : { jsonrpc: "2.0", id: c.id, result: "0x10" };
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify(Array.isArray(body) ? body.map(one) : one(body as { id: number; method: string })));
    };
  }

  it("a rate limit inside HTTP 200 (Infura's -32005 'limit exceeded', Alchemy's code 429) is backed off and retried like HTTP 429, and counted", async () => {
    for (const error of [
      { code: -32005, message: "limit exceeded" },
      { code: -32005, message: "project ID request rate exceeded" },
      { code: 429, message: "Your app has exceeded its compute units per second capacity" },
    ]) {
      const s = await serve(jsonRpcErrors(2, error));
      const outcomes: string[] = [];
      const p = makeProvider(s.url, 31337n, { onOutcome: (o) => outcomes.push(o) });
      try {
        expect(await p.getBlockNumber(), error.message).to.equal(16);
        expect(s.bodies, error.message).to.have.length(3);
        // Backoff, not a hammering: at least a quarter second (the first step's lower bound: 250 ms, half jitter).
        expect(s.times[1] - s.times[0], error.message).to.be.at.least(120);
        expect(outcomes, error.message).to.deep.equal(["rate_limited", "rate_limited", "ok"]);
      } finally {
        p.destroy();
      }
    }
  });

  it("a rate limit inside HTTP 200 with Infura's backoff_seconds: waits that long", async () => {
    const error = { code: -32005, message: "limit exceeded", data: { backoff_seconds: 1, allowed_rps: 10 } };
    const s = await serve(jsonRpcErrors(1, error));
    const p = makeProvider(s.url, 31337n);
    try {
      expect(await p.getBlockNumber()).to.equal(16);
      expect(s.times[1] - s.times[0]).to.be.at.least(995);
    } finally {
      p.destroy();
    }
  });

  it("one call of a batch rate limited: only that call is sent again, the others' answers are kept", async () => {
    let first = true;
    const s = await serve((body, res) => {
      const calls = body as { id: number; method: string; params: unknown[] }[];
      const out = calls.map((c, i) =>
        first && i === 1
          ? { jsonrpc: "2.0", id: c.id, error: { code: -32005, message: "limit exceeded" } }
          : { jsonrpc: "2.0", id: c.id, result: c.params[0] },
      );
      first = false;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out));
    });
    const p = makeProvider(s.url, 31337n);
    try {
      const got = await Promise.all(["0x1", "0x2", "0x3"].map((v) => p.send("eth_getBalance", [v, "latest"])));
      expect(got).to.deep.equal(["0x1", "0x2", "0x3"]);
      expect(s.bodies).to.have.length(2);
      expect(s.bodies[0]).to.have.length(3);
      expect((s.bodies[1] as { params: unknown[] }[]).map((c) => c.params[0])).to.deep.equal(["0x2"]);
    } finally {
      p.destroy();
    }
  });

  it("errors that are the node's answer (a revert, nonce too low, eth_getLogs 'limit exceeded' for the log reader to narrow) are not retried", async () => {
    const cases: [string, unknown[], object][] = [
      [
        "eth_call",
        [{ to: "0x" + "11".repeat(20), data: "0x" }, "latest"],
        { code: 3, message: "execution reverted", data: "0x" },
      ],
      ["eth_estimateGas", [{ to: "0x" + "11".repeat(20) }], { code: -32000, message: "nonce too low" }],
      ["eth_getLogs", [{ fromBlock: "0x1", toBlock: "0x2710" }], { code: -32005, message: "limit exceeded" }],
      [
        "eth_getLogs",
        [{ fromBlock: "0x1", toBlock: "0x2710" }],
        { code: -32005, message: "query returned more than 10000 results" },
      ],
    ];
    for (const [method, params, error] of cases) {
      const s = await serve(jsonRpcErrors(100, error, method));
      const outcomes: string[] = [];
      const p = makeProvider(s.url, 31337n, { onOutcome: (o) => outcomes.push(o) });
      try {
        const err = await p.send(method, params).catch((e) => e);
        expect(err, method).to.be.instanceOf(Error);
        expect(s.bodies, `${method}: one attempt`).to.have.length(1);
        expect(outcomes, method).to.deep.equal(["ok"]);
      } finally {
        p.destroy();
      }
    }
  });

  it("a revert whose reason reads like a rate limit ('exceeded max capacity', 'rate limit') is the node's answer: not retried, not counted rate_limited", async () => {
    // Error(string) data of a contract's own revert reason.
    const reason = (text: string) => new Interface(["error Error(string)"]).encodeErrorResult("Error", [text]);
    const call = [{ to: "0x" + "11".repeat(20), data: "0x" }, "latest"];
    const cases: [string, unknown[], object][] = [
      [
        "eth_call",
        call,
        { code: 3, message: "execution reverted: exceeded max capacity", data: reason("exceeded max capacity") },
      ],
      [
        "eth_estimateGas",
        [call[0]],
        { code: -32000, message: "execution reverted: too many requests", data: reason("too many requests") },
      ],
      [
        "eth_estimateGas",
        [call[0]],
        {
          code: -32603,
          message: "VM Exception while processing transaction: reverted with reason string 'rate limit'",
        },
      ],
      ["eth_call", call, { code: 3, message: "execution reverted", data: reason("daily request count exceeded") }],
    ];
    for (const [method, params, error] of cases) {
      const s = await serve(jsonRpcErrors(100, error, method));
      const outcomes: string[] = [];
      const p = makeProvider(s.url, 31337n, { onOutcome: (o) => outcomes.push(o) });
      const what = `${method}: ${(error as { message: string }).message}`;
      try {
        const err = await p.send(method, params).catch((e) => e);
        expect(err, what).to.be.instanceOf(Error);
        expect(s.bodies, `${what}: one attempt`).to.have.length(1);
        expect(outcomes, what).to.deep.equal(["ok"]);
      } finally {
        p.destroy();
      }
    }
    expect(isRateLimitError("eth_call", { code: 3, message: "execution reverted: rate limit" })).to.equal(false);
    expect(isRateLimitError("eth_call", { code: -32000, message: "x", data: reason("throughput") })).to.equal(false);
    // A real rate limit stays one.
    expect(isRateLimitError("eth_call", { code: 429, message: "compute units per second capacity" })).to.equal(true);
    expect(
      isRateLimitError("eth_call", { code: -32005, message: "limit exceeded", data: { backoff_seconds: 1 } }),
    ).to.equal(true);
  });

  it("a broadcast answered with a JSON-RPC rate limit is not sent again by the transport (the writer decides), but is counted", async () => {
    const s = await serve(jsonRpcErrors(100, { code: -32005, message: "limit exceeded" }, "eth_sendRawTransaction"));
    const outcomes: string[] = [];
    const p = makeProvider(s.url, 31337n, { retries: 3, onOutcome: (o) => outcomes.push(o) });
    try {
      const err = await p.send("eth_sendRawTransaction", ["0x02"]).catch((e) => e);
      expect(err).to.be.instanceOf(Error);
      expect(String(err)).to.include("limit exceeded");
      expect(s.bodies, "one attempt").to.have.length(1);
      expect(outcomes).to.deep.equal(["rate_limited"]);
    } finally {
      p.destroy();
    }
  });

  it("a provider answering 503 twice: backs off and succeeds on the third attempt", async () => {
    const s = await serve(failing(2, 503));
    const p = makeProvider(s.url, 31337n);
    try {
      expect(await p.getBlockNumber()).to.equal(16);
      expect(s.bodies).to.have.length(3);
    } finally {
      p.destroy();
    }
  });

  it("gives up after the configured retries with SERVER_ERROR naming only the endpoint's host", async () => {
    const s = await serve(failing(100, 500));
    const p = makeProvider(s.url, 31337n, { retries: 2 });
    try {
      const err = await p.getBlockNumber().catch((e) => e);
      expect(isError(err, "SERVER_ERROR"), String(err)).to.equal(true);
      expect(s.bodies).to.have.length(3);
      expect(String(err)).to.not.include("SECRET-KEY");
    } finally {
      p.destroy();
    }
  });

  it("a dead primary: the fallback answers at once, and stays in use while the primary cools down", async () => {
    const dead = await serve((_b, res) => res.socket?.destroy());
    const backup = await serve((b, res) => answer(b, res));
    const p = makeProvider([dead.url, backup.url], 31337n, { coolDownMs: 60_000 });
    try {
      expect(await p.getBlockNumber()).to.equal(16);
      expect(await p.getBlockNumber()).to.equal(16);
      expect(dead.bodies).to.have.length(1);
      expect(backup.bodies).to.have.length(2);
    } finally {
      p.destroy();
    }
  });

  it("an endpoint that never answers fails the call as TIMEOUT after the per-call timeout", async () => {
    const s = await serve(() => undefined);
    const p = makeProvider(s.url, 31337n, { timeoutMs: 200, retries: 1 });
    try {
      const err = await p.getBlockNumber().catch((e) => e);
      expect(isError(err, "TIMEOUT"), String(err)).to.equal(true);
      expect(s.bodies).to.have.length(2);
      expect(String(err)).to.not.include("SECRET-KEY");
    } finally {
      p.destroy();
    }
  });

  it("batch size 1: calls made together go one per HTTP request (providers that refuse batches)", async () => {
    const s = await serve((b, res) => answer(b, res));
    const p = makeProvider(s.url, 31337n, { batchSize: 1 });
    try {
      await Promise.all([p.getBlockNumber(), p.getBlockNumber(), p.getBlockNumber()]);
      expect(s.bodies).to.have.length(3);
      expect(s.bodies.every((b) => !Array.isArray(b))).to.equal(true);
    } finally {
      p.destroy();
    }
  });

  it("the request budget is shared by every caller: 30 calls at 20/s take over half a second", async () => {
    const s = await serve((b, res) => answer(b, res));
    const p = makeProvider(s.url, 31337n, { requestsPerSecond: 20, batchSize: 1 });
    try {
      const started = Date.now();
      await Promise.all(Array.from({ length: 30 }, () => p.getBlockNumber()));
      expect(s.bodies).to.have.length(30);
      // A full bucket (20) goes at once; the other 10 wait for 10 tokens at 20/s: half a second at the least, however
      // late the first requests reach the server on a busy machine.
      expect(Date.now() - started).to.be.at.least(450);
      // Each request past the bucket reaches the server no earlier than its token: the 25th after 250 ms, the 30th
      // after 500 ms (less a margin for the clock). Load only delays arrivals, so this cannot fail by slowness;
      // counting arrivals in a window did (a late first arrival put later ones in its window).
      const arrived = [...s.times].sort((a, b) => a - b).map((t) => t - started);
      expect(arrived[24]).to.be.at.least(200);
      expect(arrived[29]).to.be.at.least(450);
    } finally {
      p.destroy();
    }
  });

  it("a 400 answer is not retried (the request itself is wrong)", async () => {
    const s = await serve(failing(5, 400));
    const p = makeProvider(s.url, 31337n);
    try {
      const err = await p.getBlockNumber().catch((e) => e);
      expect(isError(err, "SERVER_ERROR"), String(err)).to.equal(true);
      expect(s.bodies).to.have.length(1);
    } finally {
      p.destroy();
    }
  });

  it("a broadcast is never retried by the transport: after a timeout the writer gets the failure and decides", async () => {
    const s = await serve(failing(1, 503));
    const p = makeProvider(s.url, 31337n, { retries: 3 });
    try {
      const err = await p.send("eth_sendRawTransaction", ["0x02"]).catch((e) => e);
      expect(isError(err, "SERVER_ERROR"), String(err)).to.equal(true);
      expect(s.bodies, "one attempt").to.have.length(1);
    } finally {
      p.destroy();
    }
  });
});
