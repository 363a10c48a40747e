/**
 * `npm run verify -- --network <testnet>`: publishes the sources of every recorded contract on the chain's
 * explorer with hardhat-verify. Constructor arguments are read back from the creation transactions, so the
 * record is the only input.
 */
import { AbiCoder, BrowserProvider, type Eip1193Provider } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { connectedChainId } from "./deploy";
import { DeployError } from "./errors";
import { isLocalChain, networkEnvProblems } from "./networks";
import { readDeployment, type ContractName } from "./record";

export interface VerifyOptions {
  deploymentsDir?: string;
  log?: (line: string) => void;
  env?: Record<string, string | undefined>;
}

/** Returns the names of the contracts that could not be verified. */
export async function verifyDeployment(hre: HardhatRuntimeEnvironment, options: VerifyOptions = {}): Promise<string[]> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.log(line));
  const network = hre.network.name;
  const problems = networkEnvProblems(network, env, { deployer: false, explorer: true });
  if (problems.length > 0) {
    throw new DeployError(`cannot verify on ${network}:\n  - ${problems.join("\n  - ")}\nSee .env.example.`);
  }
  const chainId = await connectedChainId(hre, env);
  if (isLocalChain(chainId)) {
    throw new DeployError(`chain ${chainId} (${network}) is a local chain: it has no explorer to verify on`);
  }
  const record = readDeployment(chainId, options.deploymentsDir);
  const provider = new BrowserProvider(hre.network.provider as Eip1193Provider);
  const failed: string[] = [];
  for (const [name, c] of Object.entries(record.contracts) as [
    ContractName,
    (typeof record.contracts)["Forwarder"],
  ][]) {
    log(`Verifying ${name} at ${c.address} (${c.artifact})`);
    try {
      const constructorArguments =
        name === "InventoryToken" ? [record.contracts.Forwarder.address] : await constructorArgs(hre, provider, c);
      await hre.run("verify:verify", { address: c.address, constructorArguments, contract: c.artifact });
    } catch (e) {
      const message = (e as Error).message;
      if (/already verified/i.test(message)) {
        log(`  already verified`);
        continue;
      }
      log(`  failed: ${message}`);
      failed.push(name);
    }
  }
  log(failed.length === 0 ? `All contracts verified.` : `Not verified: ${failed.join(", ")}`);
  return failed;
}

/** Decodes the constructor arguments appended to the creation bytecode in the deployment transaction. */
async function constructorArgs(
  hre: HardhatRuntimeEnvironment,
  provider: BrowserProvider,
  c: { artifact: string; txHash: string },
): Promise<unknown[]> {
  const artifact = await hre.artifacts.readArtifact(c.artifact);
  const ctor = artifact.abi.find((f: { type: string }) => f.type === "constructor") as
    { inputs: { type: string }[] } | undefined;
  if (!ctor || ctor.inputs.length === 0) return [];
  const tx = await provider.getTransaction(c.txHash);
  if (!tx) throw new DeployError(`creation transaction ${c.txHash} not found`);
  const encoded = `0x${tx.data.slice(artifact.bytecode.length)}`;
  return AbiCoder.defaultAbiCoder()
    .decode(
      ctor.inputs.map((i) => i.type),
      encoded,
    )
    .toArray()
    .map((v) => (typeof v === "bigint" ? v.toString() : v));
}
