/** Helpers the job handlers share: an order's stored terms, forward requests signed by keys the relayer holds. */
import { Wallet } from "ethers";
import { toTerms } from "../../../sdk/orderRecord";
import { FORWARD_REQUEST_TYPES } from "../domain/typedData";
import type { CommandRow } from "../store/commands";
import type { Queryable } from "../store/db";
import { orderTermsRow, recordOrderError } from "../store/orders";
import type { JobDeps, JobHandler, Prepared } from "../chain/jobPort";

export type Items = { skuId: string; quantity: string }[];

export const chainItems = (items: Items) =>
  items.map((i) => ({ skuId: BigInt(i.skuId), quantity: BigInt(i.quantity) }));

/** The order's fixed terms and items, as stored when it was accepted: every call is encoded from them. */
export async function orderTermsOf(deps: JobDeps, orderId: string) {
  const row = await orderTermsRow(deps.db, orderId);
  if (!row?.terms) return undefined;
  return {
    chainOrderId: row.chain_order_id,
    status: row.status,
    terms: toTerms(row.terms),
    items: chainItems(row.items),
  };
}

export const NO_TERMS: Prepared = { type: "fail", code: "OrderTermsMissing", message: "the order has no stored terms" };

/** A failed command of an order leaves its error on the order (the order itself keeps its state). */
export const noteOrderError: NonNullable<JobHandler["onFailed"]> = async (
  q: Queryable,
  cmd: CommandRow,
  code: string,
  message: string,
) => {
  if (cmd.order_id) await recordOrderError(q, cmd.order_id, code, `${cmd.kind}: ${message}`, false);
};

/** The forwarder's EIP-712 domain, as a typed-data domain. */
export async function forwarderDomain(deps: JobDeps) {
  const d = await deps.chain.forwarder.eip712Domain();
  return { name: d.name, version: d.version, chainId: d.chainId, verifyingContract: d.verifyingContract };
}

/**
 * The deadline (or ERC-3009 `validBefore`) of a signature the relayer makes now, `ttlSeconds` ahead. The contract
 * checks it against the block's time, not this machine's: counted from the later of the two, so a chain whose
 * clock runs ahead (a local node after evm_increaseTime, a host clock that lags) does not get expired signatures.
 */
export async function signatureDeadline(deps: JobDeps, ttlSeconds = 3600): Promise<bigint> {
  const latest = await deps.chain.provider.getBlock("latest");
  return BigInt(Math.max(Math.floor(Date.now() / 1000), latest?.timestamp ?? 0) + ttlSeconds);
}

/** A forward request signed by a key the relayer holds (the arbiter), relayed through the forwarder. */
export async function signedForward(
  deps: JobDeps,
  wallet: Wallet,
  to: string,
  data: string,
  kind: string,
): Promise<Prepared> {
  const { chain } = deps;
  const nonce = await chain.forwarder.nonces(wallet.address);
  const deadline = await signatureDeadline(deps);
  const message = { from: wallet.address, to, value: 0n, gas: 500_000n, nonce, deadline, data };
  const signature = await wallet.signTypedData(await forwarderDomain(deps), FORWARD_REQUEST_TYPES, message);
  return {
    type: "tx",
    to: chain.addresses.forwarder,
    kind,
    data: chain.forwarder.interface.encodeFunctionData("execute", [
      { from: wallet.address, to, value: 0n, gas: 500_000n, deadline, data, signature },
    ]),
  };
}
