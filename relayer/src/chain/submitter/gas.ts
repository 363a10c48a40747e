/** Gas limits of the writer's transactions. */

/** EIP-7825 caps one transaction at 2^24 gas; leave room for the estimate's margin. */
export const TX_GAS_CAP = 16_000_000n;

/** Fixed cost of the batch transaction itself (21,000 base plus calldata and the loop), with margin. */
const BATCH_BASE_GAS = 60_000n;

/** The gas limit for a node's estimate: 20% and 20,000 more, as estimates can fall short by a little. */
export function limitFromEstimate(estimate: bigint): bigint {
  return (estimate * 12n) / 10n + 20_000n;
}

/**
 * The gas limit of a batch from its calls' bounds, or null when one call has none or is a retry (a retry may
 * follow a batch that ran out of gas: it is estimated by the node instead).
 */
export function batchGasBound(calls: { cmd: { attempts: number }; gasBound?: bigint }[]): bigint | null {
  let sum = BATCH_BASE_GAS;
  for (const c of calls) {
    if (c.gasBound === undefined || c.cmd.attempts > 0) return null;
    sum += c.gasBound;
  }
  return sum;
}

/**
 * Chains whose transaction gas also pays for posting its data to L1 (OP-stack: Optimism, Base and their
 * testnets; Arbitrum One, Nova and Sepolia): a bound computed from L2 execution alone can run out, so every gas
 * limit comes from the node's estimate there.
 */
const L1_DATA_CHAINS = new Set([10, 8453, 11155420, 84532, 42161, 42170, 421614]);

export function estimatesAllGas(chainId: bigint): boolean {
  return L1_DATA_CHAINS.has(Number(chainId));
}
