import http from "node:http";
import { expect } from "chai";
import pino from "pino";
import { redactUrl } from "../../../sdk/redact";
import { describeError, REDACTING_LOG_HOOKS, redactUrls } from "../../../relayer/src/domain/redact";
import { startRelayer, type Relayer } from "../../../relayer/src/relayer";
import { freePort, relayerConfig } from "../harness";
import { callApp, errorOf, startApiEnv, waitFor, type ApiEnv, type Merchant } from "./support";

describe("RPC URLs in messages", function () {
  it("keeps only scheme and host of a hosted provider's URL, whose path or query carries its API key", function () {
    expect(redactUrl("https://eth-sepolia.g.alchemy.com/v2/abcDEF123secret")).to.equal(
      "https://eth-sepolia.g.alchemy.com/…",
    );
    expect(redactUrl("https://rpc.example/?apikey=secret")).to.equal("https://rpc.example/…");
    expect(redactUrl("https://user:secret@rpc.example")).to.equal("https://rpc.example/…");
    expect(redactUrl("wss://base-sepolia.infura.io/ws/v3/secret")).to.equal("wss://base-sepolia.infura.io/…");
  });

  it("shows a URL without a path in full, and says only how long a value that is not a URL is", function () {
    expect(redactUrl("http://127.0.0.1:8545")).to.equal("http://127.0.0.1:8545");
    expect(redactUrl("not a url with secret123")).to.equal("(24 characters, not a URL)");
  });
});

describe("RPC URLs inside error text", function () {
  const ethersText =
    'Error: RPC request to https://relayer:pw@eth.example/v2/KEY-1?apikey=KEY-2 failed: fetch failed ECONNREFUSED (event="request", info={ "requestUrl": "https://eth.example/v2/KEY-1" }, code=NETWORK_ERROR)';

  it("an eavesdropper on a reply or a log line finds every URL in it cut to scheme and host", function () {
    const out = redactUrls(ethersText);
    expect(out).to.not.match(/KEY-1|KEY-2|pw/);
    expect(out).to.include("RPC request to https://eth.example/… failed: fetch failed ECONNREFUSED");
    expect(out).to.include('"requestUrl": "https://eth.example/…"');
    // Inside a JSON log line, where quotes are escaped.
    expect(redactUrls(JSON.stringify({ err: ethersText }))).to.not.match(/KEY-1|KEY-2/);
    expect(redactUrls("no URL here, only 127.0.0.1:8545")).to.equal("no URL here, only 127.0.0.1:8545");
  });

  it("describes an ethers error by its code and short message, without the URL's secrets", function () {
    const err = Object.assign(new Error(ethersText), {
      code: "NETWORK_ERROR",
      shortMessage: "RPC request to https://eth.example/v2/KEY-1 failed",
    });
    expect(describeError(err)).to.equal("NETWORK_ERROR: RPC request to https://eth.example/… failed");
    expect(describeError("x".repeat(500), 20)).to.have.length(20);
  });
});

/** Log lines a relayer wrote, as its operators' log shipper would receive them. */
function capturedLogger(opts: pino.LoggerOptions = {}) {
  const lines: string[] = [];
  const logger = pino({ level: "debug", ...opts }, { write: (s: string) => void lines.push(s) });
  return { logger, lines };
}

describe("relayer: an RPC_URL carrying a provider key never reaches a reply or a log", function () {
  this.timeout(120_000);
  let env: ApiEnv;
  let m: Merchant;
  let offline: Relayer;
  let lines: string[];
  // A hosted provider's URL: its key in the path, the query and the user info.
  const SECRETS = ["path-SECRET-1", "query-SECRET-2", "pw-SECRET-3"];
  const leaked = (text: string) => SECRETS.filter((s) => text.includes(s));

  before(async () => {
    env = await startApiEnv();
    m = await env.newMerchant("Leaky RPC");
    const closed = await freePort();
    const log = capturedLogger();
    lines = log.lines;
    offline = await startRelayer({
      config: relayerConfig(env.node, {
        DATABASE_URL: env.databaseUrl,
        RPC_URL: `http://relayer:${SECRETS[2]}@127.0.0.1:${closed}/v2/${SECRETS[0]}?apikey=${SECRETS[1]}`,
        LOG_LEVEL: "debug",
      }),
      chainId: env.deployed.chainId,
      addresses: env.deployed,
      workers: false,
      logger: log.logger,
    });
  });
  after(async () => {
    await offline?.stop();
    await env?.stop();
  });

  it("an anonymous prober of /readyz learns that the chain is unreachable and where, not the provider key", async () => {
    const r = await callApp(offline, "GET", "/readyz");
    expect(r.status).to.equal(503);
    expect(r.body.checks.chain).to.match(/^unreachable: /);
    expect(r.body.checks.chain).to.include(`http://127.0.0.1:`);
    expect(leaked(r.text), r.text).to.deep.equal([]);
  });

  it("a merchant whose order cannot be checked against the chain gets 503 not_ready without the provider key", async () => {
    const r = await callApp(offline, "POST", "/v1/orders", m.key, {
      reference: "LEAK-1",
      amount: "5",
      token: env.deployed.stablecoin,
    });
    expect(r.status, r.text).to.equal(503);
    expect(errorOf(r).code).to.equal("not_ready");
    expect(leaked(r.text), r.text).to.deep.equal([]);
  });

  it("an operator's log shipper receives the failures with where they happened, never the provider key", async () => {
    await callApp(offline, "GET", "/v1/skus", m.key);
    await callApp(offline, "GET", "/readyz");
    const text = lines.join("");
    expect(text).to.include("127.0.0.1");
    expect(leaked(text), text.slice(0, 2000)).to.deep.equal([]);
  });

  it("an operator's log shipper reads the writer's and indexer's RPC failures without the provider key (a logger with REDACTING_LOG_HOOKS)", async () => {
    // A provider in front of the node that goes down once the relayer has started: its loops log each failure.
    const upstream = env.node.url;
    let down = false;
    const provider = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        if (down) return void res.writeHead(500).end("upstream failure");
        fetch(upstream, { method: "POST", headers: { "content-type": "application/json" }, body })
          .then(async (r) => res.writeHead(r.status, { "content-type": "application/json" }).end(await r.text()))
          .catch(() => res.writeHead(502).end());
      });
    });
    await new Promise<void>((r) => provider.listen(0, "127.0.0.1", r));
    const port = (provider.address() as { port: number }).port;
    // As main.ts, relayer.ts and workerThread.ts build theirs: every line is redacted as it is written.
    const log = capturedLogger({ hooks: REDACTING_LOG_HOOKS });
    const working = await startRelayer({
      config: relayerConfig(env.node, {
        DATABASE_URL: env.databaseUrl,
        RPC_URL: `http://relayer:${SECRETS[2]}@127.0.0.1:${port}/v2/${SECRETS[0]}?apikey=${SECRETS[1]}`,
        RPC_RETRIES: "0",
        LOG_LEVEL: "debug",
      }),
      chainId: env.deployed.chainId,
      addresses: env.deployed,
      workers: true,
      logger: log.logger,
    });
    try {
      down = true;
      await waitFor(
        "an RPC failure in the log",
        async () => log.lines.some((l) => /"level":[45]0/.test(l) && l.includes("127.0.0.1")),
        60_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${log.lines.join("").slice(-3000)}`);
      });
    } finally {
      await working.stop();
      provider.closeAllConnections();
      await new Promise<void>((r) => provider.close(() => r()));
    }
    const text = log.lines.join("");
    expect(leaked(text), text.slice(0, 2000)).to.deep.equal([]);
  });
});
