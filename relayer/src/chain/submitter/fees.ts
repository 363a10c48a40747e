/**
 * The fees the writer offers: the node's quote for new transactions, a raised offer for replacements, and
 * never more per gas than the configured ceiling.
 */
import type { ChainContext } from "../context";

export interface Fees {
  maxFee: bigint;
  priority: bigint;
}

const GWEI = 10n ** 9n;

/**
 * The default ceiling of the max fee per gas: far above the usual fees of the chain, so it only binds in a spike.
 * Ethereum and its testnets 200 gwei; OP-stack and Arbitrum chains (fees of a fraction of a gwei) 10 gwei;
 * Polygon PoS 3,000 gwei (its fees are counted in hundreds of gwei); local chains and any other 500 gwei.
 */
export function defaultFeeCeiling(chainId: bigint): bigint {
  const id = Number(chainId);
  if ([1, 11155111, 17000, 560048].includes(id)) return 200n * GWEI;
  if ([10, 8453, 42161, 42170, 11155420, 84532, 421614].includes(id)) return 10n * GWEI;
  if ([137, 80002].includes(id)) return 3_000n * GWEI;
  return 500n * GWEI;
}

/** The node's fee quote, asked at most once a second, held at the ceiling. */
export class FeeQuoter {
  private cache: (Fees & { at: number }) | null = null;

  constructor(
    private readonly chain: ChainContext,
    readonly ceiling: bigint,
    /** Called when the quote was above the ceiling. */
    private readonly onCapped: (quotedMaxFee: bigint) => void = () => undefined,
  ) {}

  async quote(): Promise<Fees> {
    if (this.cache && Date.now() - this.cache.at < 1000) return this.cache;
    const fd = await this.chain.provider.getFeeData();
    let priority = fd.maxPriorityFeePerGas ?? 1_000_000_000n;
    let maxFee = fd.maxFeePerGas ?? (fd.gasPrice ?? 2_000_000_000n) * 2n;
    if (maxFee < priority) maxFee = priority;
    if (maxFee > this.ceiling) {
      this.onCapped(maxFee);
      maxFee = this.ceiling;
    }
    if (priority > maxFee) priority = maxFee;
    this.cache = { at: Date.now(), maxFee, priority };
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

/**
 * The replacement's fees held at `ceiling`, or null when the ceiling leaves no raise a node accepts (geth and
 * most nodes want both fees at least 10% above the transaction they replace).
 */
export function cappedReplacementFees(old: Fees, wanted: Fees, ceiling: bigint): Fees | null {
  const maxFee = wanted.maxFee > ceiling ? ceiling : wanted.maxFee;
  const priority = wanted.priority > maxFee ? maxFee : wanted.priority;
  const enough = (next: bigint, prev: bigint) => next * 10n >= prev * 11n;
  if (!enough(maxFee, old.maxFee) || !enough(priority, old.priority)) return null;
  return { maxFee, priority };
}
