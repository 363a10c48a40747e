/** A merchant's inventory work: SKU creation in counter order, minting and burning stock. */
import type { JobHandler } from "../chain/jobPort";
import { markSkuFailed } from "../store/skus";
import { noteOrderError } from "./common";

export const createSku: JobHandler = {
  async prepare(cmd, { chain }) {
    const p = cmd.payload as { merchant: string; skuNumber: number; uri: string };
    const n = BigInt(p.skuNumber);
    const count = await chain.inventory.skuCount(p.merchant);
    if (count >= n) return { type: "done", note: `SKU #${n} of ${p.merchant} already exists on chain` };
    if (count < n - 1n) return { type: "wait", delayMs: 500, reason: `waiting for SKU #${count + 1n}` };
    return {
      type: "tx",
      to: chain.addresses.inventory,
      kind: "create_sku",
      data: chain.inventory.interface.encodeFunctionData("createSku", [p.merchant, p.uri]),
    };
  },
  async onFailed(q, cmd, code, message) {
    if (cmd.sku_id) await markSkuFailed(q, cmd.sku_id);
    await noteOrderError(q, cmd, code, message);
  },
};

function stockCall(fn: "mintStock" | "burnStock"): JobHandler {
  return {
    async prepare(cmd, { chain }) {
      const p = cmd.payload as { skuId: string; quantity: string };
      const args: [bigint[], bigint[]] = [[BigInt(p.skuId)], [BigInt(p.quantity)]];
      return {
        type: "tx",
        to: chain.addresses.inventory,
        kind: cmd.kind,
        data:
          fn === "mintStock"
            ? chain.inventory.interface.encodeFunctionData("mintStock", args)
            : chain.inventory.interface.encodeFunctionData("burnStock", args),
      };
    },
    onFailed: noteOrderError,
  };
}

export const mintStock = stockCall("mintStock");
export const burnStock = stockCall("burnStock");
