/**
 * create_order: creates the order on the escrow from the terms fixed at acceptance. A creation the escrow refuses
 * with OrderAlreadyExists for this command's own id, with the order on chain, was an earlier attempt of this very
 * command; a failed creation fails the order.
 */
import { OrderState, OrderStateName, orderIdOf, toTerms } from "../../../sdk/orderRecord";
import { recordOrderError, type TermsJson } from "../store/orders";
import type { JobHandler, RevertDecision } from "../chain/jobPort";
import { chainItems, type Items } from "./common";

/**
 * Gas bounds of one `createOrder` inside a batch, about twice what it uses (docs/GAS.md: 37k per order
 * without items, 42.5k for the first line item and 26.5k for each further one, all cold reads included; the
 * first item's extra is covered by the order's own margin).
 * Batches of first attempts are sent with the sum of the bounds instead of an `eth_estimateGas`, which would
 * run the whole batch once more on the node; a batch that still ran out of gas is retried with an estimate.
 */
export const CREATE_ORDER_GAS_BOUND = 70_000n;
export const CREATE_ORDER_ITEM_GAS_BOUND = 45_000n;

interface Payload {
  orderId: string;
  terms: TermsJson;
  items: Items;
}

export const createOrder: JobHandler = {
  async prepare(cmd, { chain }) {
    const p = cmd.payload as unknown as Payload;
    const items = chainItems(p.items);
    return {
      type: "escrow",
      gasBound: CREATE_ORDER_GAS_BOUND + CREATE_ORDER_ITEM_GAS_BOUND * BigInt(items.length),
      data: chain.escrowAbi.encode("createOrder", [toTerms(p.terms), items]),
    };
  },

  async onReverted(cmd, error, deps): Promise<RevertDecision> {
    if (error.name === "OrderAlreadyExists")
      return settleExistingOrder(cmd.payload as unknown as Payload, error.args.orderId, deps);
    if (error.name === "FeeAboveSignedMax") {
      return {
        type: "fail",
        code: error.name,
        message:
          `the escrow's fee rose to ${error.args.feeBps} bps, above the ${error.args.maxFeeBps} bps accepted with ` +
          `the order; create it again (with a new reference) to accept the new fee`,
      };
    }
    return { type: "default" };
  },

  // The order was never created on chain: it fails with the command.
  async onFailed(q, cmd, code, message) {
    if (cmd.order_id) await recordOrderError(q, cmd.order_id, code, `${cmd.kind}: ${message}`, true);
  },
};

/**
 * A creation refused with OrderAlreadyExists is this command's own success only when the refused id is the
 * id of the command's own terms (the escrow names it) and the escrow holds an order under it. Order ids are
 * the EIP-712 struct hash of the terms, which name the merchant, so nobody else can have created this id: the only
 * creator is an earlier attempt of this very command. A revoked id (state Revoked) is not an order.
 */
async function settleExistingOrder(
  p: Payload,
  refusedId: string | undefined,
  { chain }: Parameters<NonNullable<JobHandler["onReverted"]>>[2],
): Promise<RevertDecision> {
  const ownId = orderIdOf(toTerms(p.terms), chainItems(p.items));
  if (ownId !== p.orderId.toLowerCase() || refusedId?.toLowerCase() !== ownId) {
    return {
      type: "fail",
      code: "OrderIdMismatch",
      message: `the escrow refused order id ${refusedId}, the command's terms give ${ownId} (stored ${p.orderId})`,
    };
  }
  const state = Number((await chain.escrow.statusOf(ownId)).state);
  if (state === OrderState.None || state === OrderState.Revoked) {
    return {
      type: "fail",
      code: state === OrderState.Revoked ? "OfferRevoked" : "OrderAlreadyExists",
      message: `order ${ownId} cannot be created: its id is ${OrderStateName[state]} on the escrow`,
    };
  }
  return { type: "confirmed" };
}
