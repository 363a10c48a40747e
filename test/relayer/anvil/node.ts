/**
 * The node the Anvil suite runs against: Anvil mining a block every `ANVIL_BLOCK_TIME` seconds (1 by default),
 * with a mempool between blocks as on a testnet, where the rest of the relayer's tests run on an automining
 * Hardhat node.
 */
import type { NodeOptions } from "../harness";

export const ANVIL_BLOCK_TIME = Number(process.env.ANVIL_BLOCK_TIME ?? 1);

export const ANVIL: NodeOptions = { implementation: "anvil", blockTime: ANVIL_BLOCK_TIME };

/** The describe titles' prefix. */
export const ON_ANVIL = `relayer on Anvil (${ANVIL_BLOCK_TIME} s blocks)`;
