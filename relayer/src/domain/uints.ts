/**
 * The on-chain integer types the API takes from callers, with their largest values. Every such integer is
 * checked against its type when the request arrives (400 value_out_of_range): a value the ABI cannot encode, or
 * the escrow can never accept, must never become a command that waits for the chain forever.
 */

/** The Solidity types of the integers callers send (contracts/interfaces/IPaymentEscrow.sol, ERC-2612, ERC-2771). */
export const UINT_MAX = {
  /** ERC-2771 `ForwardRequest.deadline`. */
  uint48: 2n ** 48n - 1n,
  /**
   * `OrderTerms.amount` is a uint256, but the escrow refuses an amount above `type(uint184).max`
   * (`AmountTooLarge`: its refunds are stored in a uint184 slot), so an order's amount is a uint184 in effect.
   */
  uint184: 2n ** 184n - 1n,
  /** Amounts, splits, quantities, nonces, gas and permit deadlines. */
  uint256: 2n ** 256n - 1n,
} as const;

export type UintType = keyof typeof UINT_MAX;

export const isUintType = (name: unknown): name is UintType => typeof name === "string" && name in UINT_MAX;

/** Whether the decimal string `value` fits `type`; a string that is not decimal digits is left to the pattern. */
export function fitsUint(value: string, type: UintType): boolean {
  return !/^[0-9]+$/.test(value) || BigInt(value) <= UINT_MAX[type];
}
