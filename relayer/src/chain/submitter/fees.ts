/** The fees the writer offers: the node's quote for new transactions, a raised offer for replacements. */
import type { ChainContext } from "../context";

export interface Fees {
  maxFee: bigint;
  priority: bigint;
}

/** The node's fee quote, asked at most once a second. */
export class FeeQuoter {
  private cache: (Fees & { at: number }) | null = null;

  constructor(private readonly chain: ChainContext) {}

  async quote(): Promise<Fees> {
    if (this.cache && Date.now() - this.cache.at < 1000) return this.cache;
    const fd = await this.chain.provider.getFeeData();
    const priority = fd.maxPriorityFeePerGas ?? 1_000_000_000n;
    const maxFee = fd.maxFeePerGas ?? (fd.gasPrice ?? 2_000_000_000n) * 2n;
    this.cache = { at: Date.now(), maxFee: maxFee < priority ? priority : maxFee, priority };
    return this.cache;
  }
}

/**
 * The fees of a replacement: both of the old transaction's fees raised by `bumpPercent` (and one wei, so a
 * node's minimum raise is met after rounding), the max fee at least today's quote and at least the tip.
 */
export function replacementFees(old: Fees, quote: Fees, bumpPercent: number): Fees {
  const bump = (v: bigint) => (v * BigInt(100 + bumpPercent)) / 100n + 1n;
  const priority = bump(old.priority);
  let maxFee = bump(old.maxFee);
  if (maxFee < quote.maxFee) maxFee = quote.maxFee;
  if (maxFee < priority) maxFee = priority;
  return { maxFee, priority };
}
