/**
 * return_order: returns money to the buyer of a completed order, pulled by the escrow from the order's payee
 * (refundCompleted). A custodial payee's EIP-2612 permit for the escrow is signed by the relayer with the
 * merchant's key; a payee wallet the merchant holds gave an allowance or sent its own permit. With `restock`,
 * the order's line items are minted back to the merchant once the return is on chain: queued with the return's
 * confirmation, in its transaction, once per return.
 */
import { Contract, Signature, Wallet } from "ethers";
import { decryptPrivateKey } from "../domain/keys";
import { PERMIT_TYPES } from "../domain/typedData";
import { enqueueRestock } from "../store/commands";
import { getMerchant } from "../store/merchants";
import { orderTermsRow } from "../store/orders";
import { custodialWorkAhead } from "../store/payouts";
import type { JobHandler, Prepared } from "../chain/jobPort";
import { NO_TERMS, noteOrderError, orderTermsOf, signatureDeadline } from "./common";

interface Payload {
  amount: string;
  restock: boolean;
  /** The chain SKU ids and quantities to mint back (services/returns.ts restockOf). */
  restockItems?: { skuId: string; quantity: string }[];
  permit?: { deadline: string; v: number; r: string; s: string };
}

const PERMIT_TOKEN_ABI = [
  "function nonces(address owner) view returns (uint256)",
  "function eip712Domain() view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions)",
];

export const returnOrder: JobHandler = {
  async prepare(cmd, deps): Promise<Prepared> {
    const o = await orderTermsOf(deps, cmd.order_id!);
    if (!o) return NO_TERMS;
    const p = cmd.payload as unknown as Payload;
    const amount = BigInt(p.amount);
    const { chain } = deps;
    if (p.permit) {
      return {
        type: "escrow",
        data: chain.escrowAbi.encode("refundCompletedWithPermit", [
          o.terms,
          amount,
          { deadline: BigInt(p.permit.deadline), v: p.permit.v, r: p.permit.r, s: p.permit.s },
        ]),
      };
    }
    if (o.terms.payee.toLowerCase() !== o.terms.merchant.toLowerCase()) {
      // The payee wallet's own allowance (checked when the return was accepted).
      return { type: "escrow", data: chain.escrowAbi.encode("refundCompleted", [o.terms, amount]) };
    }
    const m = await getMerchant(deps.db, cmd.merchant_id!);
    if (!m) return { type: "fail", code: "MerchantNotFound", message: `merchant ${cmd.merchant_id} not found` };
    // A merchant's own wallet as payee funds the return by its allowance (checked when it was accepted).
    if (m.encrypted_key === null)
      return { type: "escrow", data: chain.escrowAbi.encode("refundCompleted", [o.terms, amount]) };
    // The custodial payee: one permit nonce sequence, so the merchant's earlier signing commands go first.
    if (await custodialWorkAhead(deps.db, cmd.merchant_id!, cmd.id))
      return { type: "wait", delayMs: 500, reason: "an earlier command of the custodial key runs first" };
    const wallet = new Wallet(decryptPrivateKey(m.encrypted_key, deps.merchantKeySecret));
    const token = new Contract(o.terms.token, PERMIT_TOKEN_ABI, chain.provider);
    let d: { name: string; version: string; chainId: bigint; verifyingContract: string };
    try {
      d = await token.eip712Domain();
    } catch {
      // Checked when the return was accepted; a token replaced since (a proxy upgrade) ends the return visibly.
      return {
        type: "fail",
        code: "TokenNotPermittable",
        message: `token ${o.terms.token} does not publish its EIP-712 domain (EIP-5267): the custodial key cannot sign its permit`,
      };
    }
    const deadline = await signatureDeadline(deps);
    const signature = await wallet.signTypedData(
      { name: d.name, version: d.version, chainId: d.chainId, verifyingContract: d.verifyingContract },
      PERMIT_TYPES,
      {
        owner: wallet.address,
        spender: chain.addresses.escrow,
        value: amount,
        nonce: (await token.nonces(wallet.address)) as bigint,
        deadline,
      },
    );
    const sig = Signature.from(signature);
    return {
      type: "escrow",
      data: chain.escrowAbi.encode("refundCompletedWithPermit", [
        o.terms,
        amount,
        { deadline, v: sig.v, r: sig.r, s: sig.s },
      ]),
    };
  },

  // The returned goods' stock goes back to the merchant: one mint per SKU returned, in the merchant's lane.
  // Queued in the transaction that confirms the return, so a crash never confirms it without its restock, and
  // once per return however often the confirmation is recorded.
  async onConfirmedInTransaction(q, cmd) {
    const p = cmd.payload as unknown as Payload;
    if (!p.restock) return;
    const o = await orderTermsRow(q, cmd.order_id!);
    if (!o?.terms) return;
    await enqueueRestock(q, {
      returnCommandId: cmd.id,
      merchantId: cmd.merchant_id,
      merchant: o.terms.merchant,
      orderId: cmd.order_id,
      // Commands accepted before restockItems existed restock every line item.
      items: (p.restockItems ?? o.items).map((i) => ({ skuId: String(i.skuId), quantity: String(i.quantity) })),
    });
  },

  onFailed: noteOrderError,
};
