/**
 * Hardhat tasks behind the npm scripts:
 *   npm run deploy -- --network <name> [--reset] [--parameters <file>]
 *   npm run deploy:status -- --network <name>
 *   npm run verify -- --network <name>
 *   npx hardhat deploy:accept-admin --network <name>
 *
 * Loaded by hardhat.config.ts, i.e. while Hardhat reads its config, before anything is compiled. On a fresh
 * clone there is no typechain-types/ and no artifacts/ at that point, so this file and what it imports at the top
 * (./errors only) must never import TypeChain output or read artifacts. Each action compiles first (which
 * generates typechain-types/) and only then imports the deployment code (./deploy, ./status, ./verify, ./acceptAdmin and,
 * through them, ./record with its TypeChain factories). test/clone/fresh-clone.test.ts (npm run test:deploy) guards this.
 *
 * A problem the user can fix is printed as one clear message (no stack trace) with exit code 1.
 */
import fs from "node:fs";
import path from "node:path";
import { task } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { DeployError, DeploymentRecordError } from "./errors";

/** Compiles (unless told not to), makes sure the TypeChain output exists, then runs `action`. */
async function runCli(
  hre: HardhatRuntimeEnvironment,
  args: { noCompile: boolean },
  action: () => Promise<boolean>,
): Promise<void> {
  try {
    if (!args.noCompile) await hre.run("compile", { quiet: true });
    await ensureTypechain(hre, args.noCompile);
    // `action` imports the deployment code lazily: only now does typechain-types/ exist.
    const ok = await action();
    if (!ok) process.exitCode = 1;
  } catch (e) {
    if (e instanceof DeployError || e instanceof DeploymentRecordError) {
      console.error(`Error: ${e.message}`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}

/**
 * The deployment code imports TypeChain factories from typechain-types/. `compile` writes them only for contracts
 * it actually compiled, so when typechain-types/ was deleted but artifacts/ and cache/ are current, compiling
 * leaves it missing: regenerate it in full then. With --no-compile, say what to run instead of failing on an
 * import.
 */
async function ensureTypechain(hre: HardhatRuntimeEnvironment, noCompile: boolean): Promise<void> {
  const outDir = path.resolve(hre.config.paths.root, hre.config.typechain.outDir);
  const present = (): boolean => fs.existsSync(path.join(outDir, "index.ts"));
  if (present()) return;
  if (noCompile) {
    throw new DeployError(
      `${path.relative(process.cwd(), outDir) || outDir}/ (TypeChain output) is missing: run npm run compile first, ` +
        `or run this command without --no-compile`,
    );
  }
  await hre.run("typechain");
  if (!present()) {
    throw new DeployError(`compiling did not generate the TypeChain output in ${outDir}; check the typechain config`);
  }
}

task("deploy", "Deploys (or resumes, or confirms) the orderchain contracts and writes deployments/<chainId>.json")
  .addFlag("reset", "Start a new deployment even if this chain has one (the old record and journal are archived)")
  .addOptionalParam("parameters", "Parameter file (default: DEPLOY_PARAMETERS, then deploy/parameters/<network>.json)")
  .addFlag("noCompile", "Don't compile before deploying")
  .setAction(async (args: { reset: boolean; parameters?: string; noCompile: boolean }, hre) => {
    await runCli(hre, args, async () => {
      const { deploy } = await import("./deploy");
      await deploy(hre, { reset: args.reset || undefined, parametersFile: args.parameters });
      return true;
    });
  });

task("deploy:status", "Prints each recorded contract's address, code presence, roles and settings on the chain")
  .addFlag("noCompile", "Don't compile first")
  .setAction(async (args: { noCompile: boolean }, hre) => {
    await runCli(hre, args, async () => {
      const { deploymentStatus } = await import("./status");
      return (await deploymentStatus(hre)).length === 0;
    });
  });

task("deploy:verify", "Verifies the recorded contracts' sources on the network's explorer")
  .addFlag("noCompile", "Don't compile first")
  .setAction(async (args: { noCompile: boolean }, hre) => {
    await runCli(hre, args, async () => {
      const { verifyDeployment } = await import("./verify");
      return (await verifyDeployment(hre)).length === 0;
    });
  });

task(
  "deploy:accept-admin",
  "The new admin accepts the escrow's admin role once the transfer delay has passed (acceptDefaultAdminTransfer)",
)
  .addFlag("noCompile", "Don't compile first")
  .setAction(async (args: { noCompile: boolean }, hre) => {
    await runCli(hre, args, async () => {
      const { acceptAdmin } = await import("./acceptAdmin");
      await acceptAdmin(hre);
      return true;
    });
  });
