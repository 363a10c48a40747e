/**
 * `npm run relayer`: reads the configuration and the deployment record, starts the relayer and serves the
 * API until SIGINT/SIGTERM, then shuts down gracefully (in-flight transactions are stored and resume on the
 * next start; unsent claims go back to the queue).
 */
import "dotenv/config";
import pino from "pino";
import { REDACTING_LOG_HOOKS } from "./domain/redact";
import { JsonRpcProvider } from "ethers";
import { ConfigError, loadConfig } from "./config";
import { DeploymentError, loadDeploymentAddresses } from "./chain/deployment";
import { startRelayer } from "./relayer";
import { DataDirInUseError } from "./store/dataDirLock";
import { EmbeddedPostgresError } from "./store/embeddedPostgres";
import { redactUrl } from "../../sdk/redact";

async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino({ level: config.logLevel, base: { service: "orderchain-relayer" }, hooks: REDACTING_LOG_HOOKS });
  let chainId = config.chainId ? BigInt(config.chainId) : undefined;
  if (chainId === undefined) {
    const probe = new JsonRpcProvider(config.rpcUrl, undefined, { staticNetwork: false });
    try {
      chainId = (await Promise.race([
        probe.getNetwork().then((n) => n.chainId),
        new Promise<never>((_, rej) => setTimeout(() => rej(new Error("timeout")), 10_000)),
      ])) as bigint;
    } catch {
      throw new ConfigError([
        `RPC_URL: cannot reach ${redactUrl(config.rpcUrl)} to learn the chain id (start the node, or set CHAIN_ID)`,
      ]);
    } finally {
      probe.destroy();
    }
  }
  const deployment = loadDeploymentAddresses(config.deploymentsDir, chainId);
  const relayer = await startRelayer({
    config,
    chainId,
    addresses: deployment,
    logger: log,
    httpLogger: false,
    workers: config.workers === "inline" ? true : config.workers === "thread" ? "thread" : false,
    // The worker thread never ends by itself: if it does, the process exits so a supervisor restarts it whole.
    onWorkersExit: () => process.exit(1),
  });
  const url = await relayer.listen();
  log.info(
    {
      url,
      chainId: String(chainId),
      escrow: deployment.escrow,
      database: relayer.database,
      signers: relayer.writer.operatorAddresses.length,
      workers: relayer.workerMode,
    },
    "relayer listening",
  );
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), 15_000);
    try {
      await relayer.stop();
    } finally {
      clearTimeout(force);
    }
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

main().catch((err) => {
  if (
    err instanceof ConfigError ||
    err instanceof DeploymentError ||
    err instanceof DataDirInUseError ||
    err instanceof EmbeddedPostgresError
  ) {
    process.stderr.write(`relayer: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`relayer: ${err?.stack ?? String(err)}\n`);
  process.exit(1);
});
