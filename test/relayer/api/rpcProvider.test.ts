/**
 * The relayer's JSON-RPC transport (Node's fetch under ethers' provider) and how the writer reads a failed
 * broadcast: credentials in RPC_URL become Basic authentication and never appear in errors; a refused
 * connection, a timeout, an HTTP error and a body that is not JSON become ethers' NETWORK_ERROR, TIMEOUT and
 * SERVER_ERROR; JSON-RPC errors and batching are ethers' own; and only a definitive refusal gives a nonce back.
 */
import http from "node:http";
import { expect } from "chai";
import { Network, isError, makeError } from "ethers";
import { RelayerRpcProvider } from "../../../relayer/src/chain/context";
import { classifyBroadcastError } from "../../../relayer/src/chain/submitter/broadcast";
import { freePort } from "../harness";

type Handler = (body: unknown, req: http.IncomingMessage, res: http.ServerResponse) => void;

async function server(handler: Handler) {
  const seen: { body: unknown; authorization?: string }[] = [];
  const s = http.createServer((req, res) => {
    let text = "";
    req.on("data", (d) => (text += d));
    req.on("end", () => {
      const body = JSON.parse(text);
      seen.push({ body, authorization: req.headers.authorization });
      handler(body, req, res);
    });
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  return { port, seen, close: () => new Promise<void>((r) => s.close(() => r())) };
}

const answer = (res: http.ServerResponse, payload: unknown) =>
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(payload));

/** Answers every call of a request (one or a batch) with `result(method)`. */
const rpc =
  (result: (method: string) => unknown): Handler =>
  (body, _req, res) => {
    const one = (p: { id: number; method: string }) => ({ jsonrpc: "2.0", id: p.id, ...(result(p.method) as object) });
    answer(res, Array.isArray(body) ? body.map(one) : one(body as { id: number; method: string }));
  };

const provider = (url: string, timeoutMs?: number) => {
  const network = Network.from(31337n);
  return new RelayerRpcProvider(
    url,
    network,
    { staticNetwork: network, cacheTimeout: -1, batchMaxCount: 50, batchStallTime: 1 },
    timeoutMs,
  );
};

describe("relayer: the JSON-RPC transport and broadcast errors", function () {
  this.timeout(30_000);

  it("sends credentials in RPC_URL as Basic authentication, to the URL without them", async () => {
    const s = await server(rpc(() => ({ result: "0x10" })));
    const p = provider(`http://relayer:p%40ss@127.0.0.1:${s.port}/`);
    try {
      expect(await p.getBlockNumber()).to.equal(16);
      expect(s.seen[0].authorization).to.equal(`Basic ${Buffer.from("relayer:p@ss").toString("base64")}`);
    } finally {
      p.destroy();
      await s.close();
    }
  });

  it("reports a refused connection as NETWORK_ERROR without the password", async () => {
    const p = provider(`http://relayer:secret-pw@127.0.0.1:${await freePort()}`);
    try {
      const err = await p.getBlockNumber().then(
        () => expect.fail("answered"),
        (e: unknown) => e,
      );
      expect(isError(err, "NETWORK_ERROR"), String(err)).to.equal(true);
      expect(String(err)).to.not.include("secret-pw");
      expect(classifyBroadcastError(err).kind).to.equal("network");
    } finally {
      p.destroy();
    }
  });

  it("reports no answer within the timeout as TIMEOUT, which keeps the nonce", async () => {
    const s = await server(() => undefined); // never answers
    const p = provider(`http://127.0.0.1:${s.port}`, 300);
    try {
      const err = await p.send("eth_sendRawTransaction", ["0x02"]).then(
        () => expect.fail("answered"),
        (e: unknown) => e,
      );
      expect(isError(err, "TIMEOUT"), String(err)).to.equal(true);
      expect(classifyBroadcastError(err).kind).to.equal("network");
    } finally {
      p.destroy();
      s.close().catch(() => undefined);
    }
  });

  it("reports an HTTP error and a body that is not JSON as SERVER_ERROR, which keeps the nonce", async () => {
    const s = await server((body, req, res) => {
      if ((body as { method?: string }).method === "eth_blockNumber") res.writeHead(502).end("bad gateway");
      else res.writeHead(200, { "content-type": "application/json" }).end("{not json");
    });
    const p = provider(`http://u:hidden-pw@127.0.0.1:${s.port}`);
    try {
      for (const call of [() => p.getBlockNumber(), () => p.send("eth_sendRawTransaction", ["0x02"])]) {
        const err = await call().then(
          () => expect.fail("answered"),
          (e: unknown) => e,
        );
        expect(isError(err, "SERVER_ERROR"), String(err)).to.equal(true);
        expect(JSON.stringify(err)).to.not.include("hidden-pw");
        expect(classifyBroadcastError(err).kind).to.equal("network");
      }
    } finally {
      p.destroy();
      await s.close();
    }
  });

  it("turns JSON-RPC errors into ethers' errors, as ethers' own transport does", async () => {
    const s = await server(rpc(() => ({ error: { code: -32000, message: "nonce too low" } })));
    const p = provider(`http://127.0.0.1:${s.port}`);
    try {
      const err = await p.send("eth_sendRawTransaction", ["0x02"]).catch((e: unknown) => e);
      expect(isError(err, "NONCE_EXPIRED"), String(err)).to.equal(true);
      expect(classifyBroadcastError(err).kind).to.equal("nonce_low");
    } finally {
      p.destroy();
      await s.close();
    }
  });

  it("still sends calls made together as one JSON-RPC batch", async () => {
    const s = await server(rpc((m) => ({ result: m === "eth_blockNumber" ? "0x7" : "0x1" })));
    const p = provider(`http://127.0.0.1:${s.port}`);
    try {
      const [a, b] = await Promise.all([
        p.getBlockNumber(),
        p.send("eth_getTransactionCount", ["0x" + "1".repeat(40), "pending"]),
      ]);
      expect(a).to.equal(7);
      expect(b).to.equal("0x1");
      expect(s.seen).to.have.length(1);
      expect(s.seen[0].body).to.be.an("array").with.length(2);
    } finally {
      p.destroy();
      await s.close();
    }
  });

  describe("classifyBroadcastError", () => {
    const rpcError = (message: string, code = -32000) =>
      makeError(message, "UNKNOWN_ERROR", { error: { code, message } } as never);

    it("keeps the nonce for anything that may have reached the node", () => {
      for (const err of [
        makeError("missing response for request", "BAD_DATA", { value: null } as never),
        rpcError("request timed out", -32002),
        makeError("request timeout", "TIMEOUT", { operation: "request", reason: "timeout" }),
        new Error("socket hang up"),
        new Error("fetch failed"),
        new Error("connect ECONNREFUSED 127.0.0.1:8545"),
      ]) {
        expect(classifyBroadcastError(err).kind, String(err)).to.equal("network");
      }
    });

    it("names the node's own answers", () => {
      expect(classifyBroadcastError(rpcError("already known")).kind).to.equal("known");
      expect(classifyBroadcastError(rpcError("nonce too high")).kind).to.equal("nonce_gap");
      expect(classifyBroadcastError(rpcError("insufficient funds for gas * price + value")).kind).to.equal("funds");
      const refused = classifyBroadcastError(rpcError("intrinsic gas too low"));
      expect(refused.kind).to.equal("rejected");
    });
  });
});
