/**
 * Finds the contracts from the deployment record (`deployments/<chainId>.json`, written by `npm run deploy`),
 * so nobody copies an address by hand.
 */
import fs from "node:fs";
import path from "node:path";
import { getAddress, isAddress } from "ethers";
import type { ContractAddresses } from "./context";

export interface DeploymentRef extends ContractAddresses {
  chainId: bigint;
  file: string;
}

export class DeploymentError extends Error {}

export function loadDeploymentAddresses(dir: string, chainId: number | bigint): DeploymentRef {
  const file = path.join(dir, `${chainId}.json`);
  if (!fs.existsSync(file)) {
    throw new DeploymentError(
      `no deployment record for chain ${chainId} at ${file}; run \`npm run deploy -- --network <name>\` first`,
    );
  }
  let rec: {
    chainId?: number;
    startBlock?: number;
    contracts?: Record<string, { address?: string }>;
  };
  try {
    rec = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new DeploymentError(`deployment record ${file} is not valid JSON: ${String(err)}`);
  }
  const addr = (name: string, required = true): string | undefined => {
    const a = rec.contracts?.[name]?.address;
    if (!a) {
      if (required) throw new DeploymentError(`deployment record ${file} has no ${name} address`);
      return undefined;
    }
    if (!isAddress(a)) throw new DeploymentError(`deployment record ${file}: ${name} address "${a}" is malformed`);
    return getAddress(a);
  };
  if (rec.chainId !== undefined && BigInt(rec.chainId) !== BigInt(chainId)) {
    throw new DeploymentError(`deployment record ${file} is for chain ${rec.chainId}, not ${chainId}`);
  }
  if (typeof rec.startBlock !== "number" || rec.startBlock < 0) {
    throw new DeploymentError(`deployment record ${file} has no valid startBlock`);
  }
  return {
    chainId: BigInt(chainId),
    file,
    escrow: addr("PaymentEscrow")!,
    inventory: addr("InventoryToken")!,
    forwarder: addr("Forwarder")!,
    stablecoin: addr("MockStablecoin", false),
    startBlock: rec.startBlock,
  };
}
