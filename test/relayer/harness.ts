/**
 * Test harness for the relayer: a real node process on a free port (`hardhat node`, or Anvil mining a block
 * every N seconds), the contracts deployed to it over JSON-RPC, a fresh PostgreSQL database per test file, and
 * relayers started in-process or as child processes.
 */
import fs from "node:fs";
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import crypto from "node:crypto";
import { HDNodeWallet, JsonRpcProvider, Mnemonic, Wallet, NonceManager } from "ethers";
import { Client } from "pg";
import { Forwarder__factory, MockStablecoin__factory, PaymentEscrow__factory } from "../../typechain-types";
import type { ContractAddresses } from "../../relayer/src/chain/context";
import { loadConfig, type RelayerConfig } from "../../relayer/src/config";
import { testServer } from "../helpers/postgres";

export const ROOT = path.join(__dirname, "..", "..");

/** Hardhat's well-known development mnemonic: local chains only. */
const DEV_MNEMONIC = "test test test test test test test test test test test junk";
export function devWallet(i: number, provider?: JsonRpcProvider): Wallet {
  const hd = HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(DEV_MNEMONIC), `m/44'/60'/0'/0/${i}`);
  return new Wallet(hd.privateKey, provider);
}
/** Local roles: #0 admin/deployer, #1 fee recipient, #2 arbiter, #3 pauser, #4..#7 relayer signers. */
export const SIGNER_INDEXES = [4, 5, 6, 7];

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export type NodeImplementation = "hardhat" | "anvil";

export interface NodeOptions {
  /** Which node to run: Hardhat's (the default, automining) or Foundry's Anvil. */
  implementation?: NodeImplementation;
  /**
   * Anvil only: seconds between blocks (interval mining, transactions wait in a mempool as on a testnet). 0 or
   * absent: every transaction is mined at once, as on the Hardhat node.
   */
  blockTime?: number;
}

export interface LocalNode {
  url: string;
  port: number;
  proc: ChildProcess;
  provider: JsonRpcProvider;
  implementation: NodeImplementation;
  /** Seconds between blocks; 0 when every transaction is mined at once. */
  blockTime: number;
  stop(): Promise<void>;
}

const nodeProcesses = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of nodeProcesses) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

/**
 * The Anvil binary of `@foundry-rs/anvil`'s platform package, spawned directly: its npm wrapper is a second
 * process, and a SIGKILL of the wrapper would leave the node running.
 */
function anvilBinary(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const exe = process.platform === "win32" ? "anvil.exe" : "anvil";
  try {
    return require.resolve(`@foundry-rs/anvil-${process.platform}-${arch}/bin/${exe}`);
  } catch {
    return path.join(ROOT, "node_modules", ".bin", "anvil");
  }
}

/**
 * The command line of a node on `port`. Anvil is started to match the Hardhat node the tests were written
 * against: the same mnemonic and chain id (Anvil's defaults), 20 accounts of 10,000 ETH, a 60,000,000 block gas
 * limit, the Osaka rules with EIP-7825's per-transaction gas cap (which Hardhat enforces and Anvil only with
 * `--enable-tx-gas-limit`), and the default 24,576-byte code size limit (the escrow is about 23.3 KB).
 */
function nodeCommand(implementation: NodeImplementation, port: number, blockTime: number): [string, string[]] {
  if (implementation === "hardhat") {
    if (blockTime) throw new Error("blockTime is an Anvil option: the Hardhat node of the tests automines");
    return [
      process.execPath,
      [
        path.join(ROOT, "node_modules", "hardhat", "internal", "cli", "bootstrap.js"),
        "--config",
        path.join(ROOT, "test", "support", "node.hardhat.config.ts"),
        "node",
        "--port",
        String(port),
        "--hostname",
        "127.0.0.1",
      ],
    ];
  }
  return [
    anvilBinary(),
    [
      "--port",
      String(port),
      "--host",
      "127.0.0.1",
      ...(blockTime ? ["--block-time", String(blockTime)] : []),
      "--chain-id",
      "31337",
      "--accounts",
      "20",
      "--balance",
      "10000",
      "--gas-limit",
      "60000000",
      "--hardfork",
      "osaka",
      "--enable-tx-gas-limit",
      "--color",
      "never",
    ],
  ];
}

/** Starts a node (`hardhat node` unless told otherwise) on a free port and waits until it answers JSON-RPC. */
export async function startNode(options: NodeOptions = {}): Promise<LocalNode> {
  const implementation = options.implementation ?? "hardhat";
  const blockTime = options.blockTime ?? 0;
  const name = implementation === "hardhat" ? "hardhat node" : "anvil";
  const port = await freePort();
  const [command, args] = nodeCommand(implementation, port, blockTime);
  const proc = spawn(command, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: "true" },
  });
  nodeProcesses.add(proc);
  proc.once("exit", () => nodeProcesses.delete(proc));
  let output = "";
  proc.stdout!.on("data", (d) => (output = (output + d.toString()).slice(-4000)));
  if (process.env.NODE_LOG) proc.stdout!.pipe(fs.createWriteStream(process.env.NODE_LOG));
  proc.stderr!.on("data", (d) => (output = (output + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  // ethers polls for a transaction's receipt every `pollingInterval` (4 s by default): with blocks every second,
  // the tests' own `tx.wait()` would mostly wait for the poll.
  const provider = new JsonRpcProvider(url, 31337, {
    cacheTimeout: -1,
    staticNetwork: true,
    ...(blockTime ? { pollingInterval: 100 } : {}),
  });
  const started = Date.now();
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${name} exited: ${output}`);
    try {
      await provider.getBlockNumber();
      break;
    } catch {
      // Generous: the suites run side by side on two cores, and a node's start then takes many times its CPU.
      if (Date.now() - started > 180_000) {
        proc.kill("SIGKILL");
        throw new Error(`${name} did not start: ${output}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    url,
    port,
    proc,
    provider,
    implementation,
    blockTime,
    async stop() {
      provider.destroy();
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        await new Promise((r) => {
          const t = setTimeout(() => {
            proc.kill("SIGKILL");
            r(undefined);
          }, 3000);
          proc.once("exit", () => {
            clearTimeout(t);
            r(undefined);
          });
        });
      }
    },
  };
}

export interface Deployed extends ContractAddresses {
  chainId: bigint;
  stablecoin: string;
}

/**
 * Deploys the contracts to the node with the local roles. Transactions that do not depend on each other are
 * sent together and their receipts awaited together, so a node that mines every second needs two blocks, not
 * nine.
 */
export async function deployContracts(provider: JsonRpcProvider): Promise<Deployed> {
  const admin = new NonceManager(devWallet(0, provider));
  const startBlock = (await provider.getBlockNumber()) + 1;
  const forwarder = await new Forwarder__factory(admin).deploy();
  const escrow = await new PaymentEscrow__factory(admin).deploy(
    await admin.getAddress(),
    2 * 24 * 3600,
    devWallet(2).address,
    await forwarder.getAddress(),
    devWallet(1).address,
    100,
  );
  const usd = await new MockStablecoin__factory(admin).deploy();
  await Promise.all([forwarder.waitForDeployment(), escrow.waitForDeployment(), usd.waitForDeployment()]);
  const [operatorRole, pauserRole] = await Promise.all([escrow.OPERATOR_ROLE(), escrow.PAUSER_ROLE()]);
  const sent = [];
  for (const i of SIGNER_INDEXES) sent.push(await escrow.grantRole(operatorRole, devWallet(i).address));
  sent.push(await escrow.grantRole(pauserRole, devWallet(3).address));
  sent.push(await escrow.setTokenAllowed(await usd.getAddress(), true));
  await Promise.all(sent.map((tx) => tx.wait()));
  const { chainId } = await provider.getNetwork();
  return {
    chainId,
    escrow: await escrow.getAddress(),
    inventory: await escrow.inventory(),
    forwarder: await forwarder.getAddress(),
    stablecoin: await usd.getAddress(),
    startBlock,
  };
}

export const ADMIN_KEY = "test-admin-key-0123456789";
export const ARBITER_KEY = "test-arbiter-key-0123456789";

/** A fresh PostgreSQL database on the tests' server (test/helpers/postgres.ts); `drop()` removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = (await testServer()).url;
  const name = `orderchain_test_${crypto.randomBytes(5).toString("hex")}`;
  const admin = new Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  const url = u.toString();
  return {
    url,
    async drop() {
      const c = new Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export function relayerConfig(node: LocalNode, overrides: Record<string, string | undefined> = {}): RelayerConfig {
  return loadConfig({
    RPC_URL: node.url,
    SIGNER_KEYS: SIGNER_INDEXES.map((i) => devWallet(i).privateKey).join(","),
    ADMIN_API_KEY: ADMIN_KEY,
    ARBITER_API_KEY: ARBITER_KEY,
    ARBITER_SIGNER_KEY: devWallet(2).privateKey,
    MERCHANT_KEY_SECRET: "test-merchant-key-secret-0123456789",
    PORT: "0",
    POLL_INTERVAL_MS: "50",
    LOG_LEVEL: "silent",
    LEASE_TTL_MS: "3000",
    // The tests' webhook receivers listen on 127.0.0.1 over http (a local chain's setting).
    WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
    ...overrides,
  });
}

export { waitFor } from "../../scripts/lib/waitFor";

/** Writes a deployment record in the shape `npm run deploy` writes, for relayer processes to read. */
export function writeDeploymentRecord(dir: string, d: Deployed): string {
  const fs = require("node:fs") as typeof import("node:fs");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${d.chainId}.json`);
  const c = (address: string, name: string) => ({
    address,
    artifact: `contracts/${name}.sol:${name}`,
    blockNumber: d.startBlock,
    txHash: null,
  });
  fs.writeFileSync(
    file,
    JSON.stringify(
      {
        chainId: Number(d.chainId),
        network: "test",
        startBlock: d.startBlock,
        contracts: {
          Forwarder: c(d.forwarder, "Forwarder"),
          PaymentEscrow: c(d.escrow, "PaymentEscrow"),
          InventoryToken: c(d.inventory, "InventoryToken"),
          MockStablecoin: {
            ...c(d.stablecoin, "MockStablecoin"),
            artifact: "contracts/mocks/MockStablecoin.sol:MockStablecoin",
          },
        },
      },
      null,
      2,
    ),
  );
  return file;
}

/** Environment for a relayer child process (`relayer/src/main.ts`) against `node`. */
export function relayerEnv(
  node: LocalNode,
  deploymentsDir: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    RPC_URL: node.url,
    CHAIN_ID: "31337",
    DEPLOYMENTS_DIR: deploymentsDir,
    SIGNER_KEYS: SIGNER_INDEXES.map((i) => devWallet(i).privateKey).join(","),
    ADMIN_API_KEY: ADMIN_KEY,
    ARBITER_API_KEY: ARBITER_KEY,
    ARBITER_SIGNER_KEY: devWallet(2).privateKey,
    MERCHANT_KEY_SECRET: "test-merchant-key-secret-0123456789",
    PORT: "0",
    POLL_INTERVAL_MS: "50",
    LEASE_TTL_MS: "3000",
    LOG_LEVEL: "info",
    ...extra,
  };
}
