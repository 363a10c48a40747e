/**
 * The JSON-RPC transport against providers that misbehave as hosted ones do: rate limits, 5xx, a dead primary,
 * endpoints that never answer, providers that refuse batches. Local HTTP servers on free ports play them.
 */
import { expect } from "chai";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { isError } from "ethers";
import { makeProvider } from "../../relayer/src/chain/transport";

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
      expect(s.times[1] - s.times[0]).to.be.at.least(450); // jitter: half to all of the asked second
      expect(outcomes).to.deep.equal(["rate_limited", "ok"]);
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
      await Promise.all(Array.from({ length: 30 }, () => p.getBlockNumber()));
      expect(s.bodies).to.have.length(30);
      // A full bucket (20) goes at once; the other 10 wait for 10 tokens at 20/s.
      expect(s.times[29] - s.times[0]).to.be.at.least(400);
      const inFirst100ms = s.times.filter((t) => t - s.times[0] < 100).length;
      expect(inFirst100ms).to.be.at.most(22);
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
