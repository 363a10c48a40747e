/**
 * The merchant's calls on an existing order (ship, refund, cancel, settlement proposal and acceptance), each
 * encoded from the order's stored terms. A failure leaves its error on the order, which keeps its state.
 */
import type { CommandKind } from "../domain/command";
import type { JobHandler, Prepared } from "../chain/jobPort";
import { NO_TERMS, noteOrderError, orderTermsOf } from "./common";

type Encode = (
  o: NonNullable<Awaited<ReturnType<typeof orderTermsOf>>>,
  p: Record<string, unknown>,
  deps: Parameters<JobHandler["prepare"]>[1],
) => Promise<Prepared> | Prepared;

const NOT_CREATED: Prepared = {
  type: "fail",
  code: "OrderNotCreated",
  message: "the order's creation failed on chain; it does not exist there",
};

/** A handler that encodes one escrow call from the order's terms. */
function orderCall(encode: Encode): JobHandler {
  return {
    async prepare(cmd, deps) {
      const o = await orderTermsOf(deps, cmd.order_id!);
      if (!o) return NO_TERMS;
      // Its creation failed on chain (e.g. AmountTooLarge): the order will never exist, so neither will this call.
      if (o.status === "failed") return NOT_CREATED;
      return encode(o, cmd.payload, deps);
    },
    onFailed: noteOrderError,
  };
}

export const orderCalls = {
  ship_order: orderCall(({ terms }, p, { chain }) => ({
    type: "escrow",
    data: chain.escrowAbi.encode("ship", [terms, p.trackingHash as string]),
  })),
  cancel_order: orderCall(({ terms, items }, _p, { chain }) => ({
    type: "escrow",
    data: chain.escrowAbi.encode("cancel", [terms, items]),
  })),
  propose_settlement: orderCall(({ terms }, p, { chain }) => ({
    type: "escrow",
    data: chain.escrowAbi.encode("proposeSettlement", [terms, BigInt(p.buyerTotal as string)]),
  })),
  accept_settlement: orderCall(({ terms, items }, p, { chain }) => ({
    type: "escrow",
    data: chain.escrowAbi.encode("acceptSettlement", [terms, BigInt(p.buyerTotal as string), items]),
  })),
  refund_order: orderCall(async ({ terms, items, chainOrderId }, p, { chain }) => {
    // A full refund returns what is escrowed now: the price minus earlier partial refunds (read from the
    // chain: the order's earlier commands are confirmed before this one runs).
    const escrowed = terms.amount - (await chain.escrow.statusOf(chainOrderId)).refunded;
    const amount = p.amount == null ? escrowed : BigInt(p.amount as string);
    return {
      type: "escrow",
      data: chain.escrowAbi.encode("refund", [terms, amount, amount === escrowed ? items : []]),
    };
  }),
} satisfies Partial<Record<CommandKind, JobHandler>>;
