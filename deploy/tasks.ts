/**
 * Hardhat tasks behind the npm scripts:
 *   npm run deploy -- --network <name> [--reset] [--parameters <file>]
 *   npm run deploy:status -- --network <name>
 *   npm run verify -- --network <name>
 *
 * Loaded by hardhat.config.ts, so the deployment code itself is imported lazily inside each action. A problem
 * the user can fix is printed as one clear message (no stack trace) with exit code 1.
 */
import { task } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";

async function runCli(
  hre: HardhatRuntimeEnvironment,
  args: { noCompile: boolean },
  action: () => Promise<boolean>,
): Promise<void> {
  const { DeployError } = await import("./errors");
  const { DeploymentRecordError } = await import("./record");
  try {
    if (!args.noCompile) await hre.run("compile", { quiet: true });
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
