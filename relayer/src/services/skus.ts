/** SKUs and stock: created and changed on chain through commands, read live from the chain. */
import { AppError } from "../domain/errors";
import { newId } from "../domain/model";
import { enqueueCommand } from "../store/commands";
import { isUniqueViolation, type Queryable } from "../store/db";
import { getMerchant, nextSkuNumber } from "../store/merchants";
import { findSkuByReference, getSku, insertSku, listSkus, type SkuRow } from "../store/skus";
import { recordAudit } from "../store/audit";
import type { Principal, ServiceDeps } from "./context";

/** The InventoryToken id of a merchant's n-th SKU: the merchant's address above a 96-bit counter. */
export function chainSkuId(merchantAddress: string, n: number): bigint {
  return (BigInt(merchantAddress) << 96n) | BigInt(n);
}

export function skuView(s: SkuRow) {
  return {
    id: s.id,
    reference: s.reference,
    name: s.name,
    metadataUri: s.metadata_uri,
    metadata: s.metadata,
    chainSkuId: String(s.chain_sku_id),
    status: s.status,
    createdAt: new Date(s.created_at).toISOString(),
  };
}

export async function createSku(
  q: Queryable,
  who: Principal,
  merchantId: string,
  body: { reference: string; name: string; metadataUri?: string; metadata?: Record<string, unknown> },
) {
  if (await findSkuByReference(q, merchantId, body.reference)) {
    throw new AppError("reference_already_used", `SKU reference "${body.reference}" is already used`, {
      reference: body.reference,
    });
  }
  const m = (await getMerchant(q, merchantId))!;
  const n = await nextSkuNumber(q, merchantId);
  const id = newId("sku");
  const metadataUri = body.metadataUri ?? `urn:orderchain:sku:${id}`;
  const skuId = chainSkuId(m.address, n);
  // The reference check above cannot see a concurrent transaction's insert: the unique index decides.
  await insertSku(q, {
    id,
    merchantId,
    reference: body.reference,
    name: body.name,
    metadataUri,
    metadata: body.metadata ?? {},
    skuNumber: n,
    chainSkuId: skuId.toString(),
  }).catch((err) => {
    if (isUniqueViolation(err, ["skus_merchant_id_reference_key"])) {
      throw new AppError("reference_already_used", `SKU reference "${body.reference}" is already used`, {
        reference: body.reference,
      });
    }
    throw err;
  });
  await enqueueCommand(q, {
    kind: "create_sku",
    merchantId,
    skuId: id,
    payload: { merchant: m.address, uri: metadataUri, skuNumber: n },
    apiKeyId: who.keyId,
  });
  await recordAudit(q, {
    merchantId,
    apiKeyId: who.keyId,
    action: "sku.created",
    resourceType: "sku",
    resourceId: id,
    details: { reference: body.reference },
  });
  return skuView((await getSku(q, merchantId, id))!);
}

export async function getSkuOr404(q: Queryable, merchantId: string, id: string) {
  const s = await getSku(q, merchantId, id);
  if (!s) throw new AppError("not_found", `SKU ${id} not found`, { skuId: id });
  return s;
}

export async function adjustStock(
  q: Queryable,
  who: Principal,
  merchantId: string,
  skuId: string,
  change: { kind: "add" | "write_off"; quantity: string },
) {
  const s = await getSkuOr404(q, merchantId, skuId);
  const m = (await getMerchant(q, merchantId))!;
  const kind = change.kind === "add" ? "mint_stock" : "burn_stock";
  const commandId = await enqueueCommand(q, {
    kind,
    merchantId,
    skuId: s.id,
    payload: { merchant: m.address, skuId: String(s.chain_sku_id), quantity: change.quantity },
    apiKeyId: who.keyId,
  });
  await recordAudit(q, {
    merchantId,
    apiKeyId: who.keyId,
    action: change.kind === "add" ? "stock.added" : "stock.written_off",
    resourceType: "sku",
    resourceId: s.id,
    details: { quantity: change.quantity },
  });
  return { sku: skuView(s), change: { kind: change.kind, quantity: change.quantity, commandId, status: "pending" } };
}

type Stock = { available: string; reserved: string; delivered: string; totalSupply: string };

/**
 * Stock of the merchant's SKUs as the chain has it right now, in one round of calls (sent together as one
 * JSON-RPC batch): both balances of every SKU in one `balanceOfBatch`, and each SKU's held and total supply.
 */
export async function stocksOnChain(deps: ServiceDeps, merchantAddress: string, skus: SkuRow[]): Promise<Stock[]> {
  if (skus.length === 0) return [];
  const ids = skus.map((s) => BigInt(s.chain_sku_id));
  const { inventory, addresses } = deps.chain;
  const [balances, held, totals] = await Promise.all([
    inventory.balanceOfBatch([...ids.map(() => merchantAddress), ...ids.map(() => addresses.escrow)], [...ids, ...ids]),
    Promise.all(ids.map((id) => inventory.heldTotal(id))),
    Promise.all(ids.map((id) => inventory.totalSupply(id))),
  ]);
  return ids.map((_, i) => {
    const available = balances[i];
    // In custody but not reserved: stock sold to contracts that did not accept it, waiting for them to claim it.
    const reserved = balances[ids.length + i] - held[i];
    return {
      available: available.toString(),
      reserved: reserved.toString(),
      delivered: (totals[i] - available - reserved).toString(),
      totalSupply: totals[i].toString(),
    };
  });
}

/** Stock as the chain has it right now. */
export async function stockOnChain(deps: ServiceDeps, merchantAddress: string, s: SkuRow): Promise<Stock> {
  return (await stocksOnChain(deps, merchantAddress, [s]))[0];
}

export const SKU_PAGE_DEFAULT = 50;

/**
 * A page of the merchant's SKUs in creation order, with the stock of those created on chain; `nextCursor` names
 * the page after (null on the last).
 */
export async function listSkusWithStock(
  deps: ServiceDeps,
  q: Queryable,
  merchantId: string,
  page: { cursor?: string; limit?: number } = {},
) {
  const m = (await getMerchant(q, merchantId))!;
  const limit = page.limit ?? SKU_PAGE_DEFAULT;
  const rows = await listSkus(q, merchantId, {
    afterNumber: page.cursor === undefined ? undefined : Number(page.cursor),
    limit: limit + 1,
  });
  const shown = rows.slice(0, limit);
  const created = shown.filter((s) => s.status === "created");
  const stocks = new Map((await stocksOnChain(deps, m.address, created)).map((st, i) => [created[i].id, st]));
  return {
    data: shown.map((s) => ({ ...skuView(s), stock: stocks.get(s.id) ?? null })),
    nextCursor: rows.length > limit ? String(shown[shown.length - 1].sku_number) : null,
  };
}
