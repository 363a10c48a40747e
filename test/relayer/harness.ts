/**
 * Test harness for the relayer: a real `hardhat node` process on a free port, the contracts deployed to it
 * over JSON-RPC, a fresh PostgreSQL database per test file, and relayers started in-process or as child
 * processes.
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

export interface LocalNode {
  url: string;
  port: number;
  proc: ChildProcess;
  provider: JsonRpcProvider;
  stop(): Promise<void>;
}

/** Starts `hardhat node` on a free port and waits until it answers JSON-RPC. */
export async function startNode(): Promise<LocalNode> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      path.join(ROOT, "node_modules", "hardhat", "internal", "cli", "bootstrap.js"),
      "node",
      "--port",
      String(port),
      "--hostname",
      "127.0.0.1",
    ],
    {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: "true" },
    },
  );
  let output = "";
  proc.stdout!.on("data", (d) => (output = (output + d.toString()).slice(-4000)));
  if (process.env.NODE_LOG) proc.stdout!.pipe(fs.createWriteStream(process.env.NODE_LOG));
  proc.stderr!.on("data", (d) => (output = (output + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const provider = new JsonRpcProvider(url, 31337, { cacheTimeout: -1, staticNetwork: true });
  const started = Date.now();
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`hardhat node exited: ${output}`);
    try {
      await provider.getBlockNumber();
      break;
    } catch {
      if (Date.now() - started > 60_000) {
        proc.kill("SIGKILL");
        throw new Error(`hardhat node did not start: ${output}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    url,
    port,
    proc,
    provider,
    async stop() {
      provider.destroy();
      if (proc.exitCode === null) {
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

/** Deploys the contracts to the node with the local roles. */
export async function deployContracts(provider: JsonRpcProvider): Promise<Deployed> {
  const admin = new NonceManager(devWallet(0, provider));
  const startBlock = (await provider.getBlockNumber()) + 1;
  const forwarder = await new Forwarder__factory(admin).deploy();
  await forwarder.waitForDeployment();
  const escrow = await new PaymentEscrow__factory(admin).deploy(
    await admin.getAddress(),
    2 * 24 * 3600,
    devWallet(2).address,
    await forwarder.getAddress(),
    devWallet(1).address,
    100,
  );
  await escrow.waitForDeployment();
  const usd = await new MockStablecoin__factory(admin).deploy();
  await usd.waitForDeployment();
  const wait = async (p: Promise<{ wait(): Promise<unknown> }>) => (await p).wait();
  for (const i of SIGNER_INDEXES) await wait(escrow.grantRole(await escrow.OPERATOR_ROLE(), devWallet(i).address));
  await wait(escrow.grantRole(await escrow.PAUSER_ROLE(), devWallet(3).address));
  await wait(escrow.setTokenAllowed(await usd.getAddress(), true));
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
