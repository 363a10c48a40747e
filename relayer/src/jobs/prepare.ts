/**
 * One handler per command kind: turns a durable command into the chain call that carries it out, after
 * checking that the chain is ready for it. Escrow calls are batched by the writer; others are sent alone.
 */
import { Signature, Wallet } from "ethers";
import { MockStablecoin__factory } from "../../../typechain-types";
import type { ChainContext } from "../chain/context";
import type { CommandRow } from "../store/commands";
import type { Db } from "../store/db";
import { decryptPrivateKey } from "../domain/keys";
import { FORWARD_REQUEST_TYPES } from "../relay/typedData";
import { toTerms } from "../../../sdk/orderRecord";
import type { TermsJson } from "../store/orders";

export type Prepared =
  /** `gasBound`: an upper bound of the call's gas inside a batch, when one is known without estimating. */
  | { type: "escrow"; data: string; gasBound?: bigint }
  | { type: "tx"; to: string; data: string; kind: string }
  | { type: "done"; note: string }
  | { type: "wait"; delayMs: number; reason: string }
  | { type: "fail"; code: string; message: string };

export interface PrepareDeps {
  db: Db;
  chain: ChainContext;
  operatorAddresses: string[];
  merchantKeySecret: string;
  /** The arbiter's key, held by the relayer so resolutions are relayed without the arbiter needing gas. */
  arbiterKey?: string;
}

type Items = { skuId: string; quantity: string }[];

const chainItems = (items: Items) => items.map((i) => ({ skuId: BigInt(i.skuId), quantity: BigInt(i.quantity) }));

/** The order's fixed terms and items, as stored when it was accepted: every call is encoded from them. */
async function orderTermsOf(db: Db, orderId: string) {
  const r = await db.query<{ chain_order_id: string; terms: TermsJson | null; items: Items }>(
    "select chain_order_id, terms, items from orders where id = $1",
    [orderId],
  );
  const row = r.rows[0];
  if (!row?.terms) return undefined;
  return { chainOrderId: row.chain_order_id, terms: toTerms(row.terms), items: chainItems(row.items) };
}

/**
 * Gas bounds of one `createOrder` inside a batch, about twice what it uses (docs/GAS.md: 37k per order
 * without items, 42.5k for the first line item and 26.5k for each further one, all cold reads included; the
 * first item's extra is covered by the order's own margin).
 * Batches of first attempts are sent with the sum of the bounds instead of an `eth_estimateGas`, which would
 * run the whole batch once more on the node; a batch that still ran out of gas is retried with an estimate.
 */
export const CREATE_ORDER_GAS_BOUND = 70_000n;
export const CREATE_ORDER_ITEM_GAS_BOUND = 45_000n;

export async function prepareCommand(cmd: CommandRow, deps: PrepareDeps): Promise<Prepared> {
  const { chain } = deps;
  const p = cmd.payload as Record<string, unknown>;
  switch (cmd.kind) {
    case "create_order": {
      const terms = toTerms(p.terms as TermsJson);
      const items = chainItems(p.items as Items);
      return {
        type: "escrow",
        gasBound: CREATE_ORDER_GAS_BOUND + CREATE_ORDER_ITEM_GAS_BOUND * BigInt(items.length),
        data: chain.escrowAbi.encode("createOrder", [terms, items]),
      };
    }
    case "ship_order":
    case "refund_order":
    case "cancel_order":
    case "propose_settlement":
    case "accept_settlement": {
      const o = await orderTermsOf(deps.db, cmd.order_id!);
      if (!o) return { type: "fail", code: "OrderTermsMissing", message: "the order has no stored terms" };
      const { terms, items } = o;
      switch (cmd.kind) {
        case "ship_order":
          return { type: "escrow", data: chain.escrowAbi.encode("ship", [terms, p.trackingHash as string]) };
        case "cancel_order":
          return { type: "escrow", data: chain.escrowAbi.encode("cancel", [terms, items]) };
        case "propose_settlement":
          return {
            type: "escrow",
            data: chain.escrowAbi.encode("proposeSettlement", [terms, BigInt(p.buyerTotal as string)]),
          };
        case "accept_settlement":
          return {
            type: "escrow",
            data: chain.escrowAbi.encode("acceptSettlement", [terms, BigInt(p.buyerTotal as string), items]),
          };
      }
      // A full refund returns what is escrowed now: the price minus earlier partial refunds (read from the
      // chain: the order's earlier commands are confirmed before this one runs).
      const escrowed = terms.amount - (await chain.escrow.statusOf(o.chainOrderId)).refunded;
      const amount = p.amount == null ? escrowed : BigInt(p.amount as string);
      return {
        type: "escrow",
        data: chain.escrowAbi.encode("refund", [terms, amount, amount === escrowed ? items : []]),
      };
    }
    case "resolve_dispute": {
      const o = await orderTermsOf(deps.db, cmd.order_id!);
      if (!o) return { type: "fail", code: "OrderTermsMissing", message: "the order has no stored terms" };
      if (!deps.arbiterKey)
        return { type: "fail", code: "ArbiterNotConfigured", message: "ARBITER_SIGNER_KEY is not set" };
      const data = chain.escrowAbi.encode("resolveDispute", [o.terms, BigInt(p.buyerTotal as string), o.items]);
      return signedForward(deps, new Wallet(deps.arbiterKey), chain.addresses.escrow, data, "resolve_dispute");
    }
    case "relay_permit": {
      const token = MockStablecoin__factory.connect(p.token as string, chain.provider);
      const allowance = await token.allowance(p.owner as string, p.spender as string);
      if (allowance >= BigInt(p.value as string)) return { type: "done", note: "allowance already in place" };
      const sig = Signature.from(p.signature as string);
      return {
        type: "tx",
        to: p.token as string,
        kind: "relay_permit",
        data: token.interface.encodeFunctionData("permit", [
          p.owner as string,
          p.spender as string,
          BigInt(p.value as string),
          BigInt(p.deadline as string),
          sig.v,
          sig.r,
          sig.s,
        ]),
      };
    }
    case "relay_forward": {
      const r = p.request as Record<string, string>;
      const request = {
        from: r.from,
        to: r.to,
        value: BigInt(r.value),
        gas: BigInt(r.gas),
        deadline: BigInt(r.deadline),
        data: r.data,
        signature: r.signature,
      };
      const current = await chain.forwarder.nonces(r.from);
      if (current > BigInt(r.nonce)) return { type: "done", note: "forward request nonce already consumed" };
      if (!(await chain.forwarder.verify(request))) {
        return {
          type: "fail",
          code: "ForwardRequestInvalid",
          message: "the forwarder no longer accepts the request (expired or superseded)",
        };
      }
      return {
        type: "tx",
        to: chain.addresses.forwarder,
        kind: "relay_forward",
        data: chain.forwarder.interface.encodeFunctionData("execute", [request]),
      };
    }
    case "create_sku": {
      const merchant = p.merchant as string;
      const n = BigInt(p.skuNumber as number);
      const count = await chain.inventory.skuCount(merchant);
      if (count >= n) return { type: "done", note: `SKU #${n} of ${merchant} already exists on chain` };
      if (count < n - 1n) return { type: "wait", delayMs: 500, reason: `waiting for SKU #${count + 1n}` };
      return {
        type: "tx",
        to: chain.addresses.inventory,
        kind: "create_sku",
        data: chain.inventory.interface.encodeFunctionData("createSku", [merchant, p.uri as string]),
      };
    }
    case "mint_stock":
    case "burn_stock": {
      const args: [bigint[], bigint[]] = [[BigInt(p.skuId as string)], [BigInt(p.quantity as string)]];
      return {
        type: "tx",
        to: chain.addresses.inventory,
        kind: cmd.kind,
        data:
          cmd.kind === "mint_stock"
            ? chain.inventory.interface.encodeFunctionData("mintStock", args)
            : chain.inventory.interface.encodeFunctionData("burnStock", args),
      };
    }
    case "merchant_setup":
      return prepareMerchantSetup(cmd, deps);
    default:
      return { type: "fail", code: "UnknownCommand", message: `no handler for command kind ${cmd.kind}` };
  }
}

/**
 * The merchant's custodial key signs ERC-2771 requests that approve every relayer signer as its operator on
 * the escrow and the inventory; a signer relays them through the forwarder, so the merchant never needs gas.
 */
async function prepareMerchantSetup(cmd: CommandRow, deps: PrepareDeps): Promise<Prepared> {
  const { chain, db } = deps;
  const m = (
    await db.query<{ address: string; encrypted_key: string }>(
      "select address, encrypted_key from merchants where id = $1",
      [cmd.merchant_id],
    )
  ).rows[0];
  if (!m) return { type: "fail", code: "MerchantNotFound", message: `merchant ${cmd.merchant_id} not found` };
  const wallet = new Wallet(decryptPrivateKey(m.encrypted_key, deps.merchantKeySecret));
  const calls: { to: string; data: string }[] = [];
  for (const op of deps.operatorAddresses) {
    if (!(await chain.escrow.isOperatorApproved(m.address, op))) {
      calls.push({
        to: chain.addresses.escrow,
        data: chain.escrow.interface.encodeFunctionData("setOperatorApproval", [op, true]),
      });
    }
    if (!(await chain.inventory.isApprovedForAll(m.address, op))) {
      calls.push({
        to: chain.addresses.inventory,
        data: chain.inventory.interface.encodeFunctionData("setApprovalForAll", [op, true]),
      });
    }
  }
  if (calls.length === 0) return { type: "done", note: "operators already approved" };
  const domain = await chain.forwarder.eip712Domain();
  const nonce0 = await chain.forwarder.nonces(m.address);
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
  const requests = [];
  for (let i = 0; i < calls.length; i++) {
    const message = {
      from: m.address,
      to: calls[i].to,
      value: 0n,
      gas: 120_000n,
      nonce: nonce0 + BigInt(i),
      deadline,
      data: calls[i].data,
    };
    const signature = await wallet.signTypedData(
      {
        name: domain.name,
        version: domain.version,
        chainId: domain.chainId,
        verifyingContract: domain.verifyingContract,
      },
      FORWARD_REQUEST_TYPES,
      message,
    );
    requests.push({
      from: m.address,
      to: calls[i].to,
      value: 0n,
      gas: 120_000n,
      deadline,
      data: calls[i].data,
      signature,
    });
  }
  return {
    type: "tx",
    to: chain.addresses.forwarder,
    kind: "merchant_setup",
    // A zero refund receiver makes the batch atomic: any invalid request reverts it all.
    data: chain.forwarder.interface.encodeFunctionData("executeBatch", [
      requests,
      "0x0000000000000000000000000000000000000000",
    ]),
  };
}

/** A forward request signed by a key the relayer holds (the arbiter), relayed through the forwarder. */
async function signedForward(
  deps: PrepareDeps,
  wallet: Wallet,
  to: string,
  data: string,
  kind: string,
): Promise<Prepared> {
  const { chain } = deps;
  const domain = await chain.forwarder.eip712Domain();
  const nonce = await chain.forwarder.nonces(wallet.address);
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
  const message = { from: wallet.address, to, value: 0n, gas: 500_000n, nonce, deadline, data };
  const signature = await wallet.signTypedData(
    {
      name: domain.name,
      version: domain.version,
      chainId: domain.chainId,
      verifyingContract: domain.verifyingContract,
    },
    FORWARD_REQUEST_TYPES,
    message,
  );
  return {
    type: "tx",
    to: chain.addresses.forwarder,
    kind,
    data: chain.forwarder.interface.encodeFunctionData("execute", [
      { from: wallet.address, to, value: 0n, gas: 500_000n, deadline, data, signature },
    ]),
  };
}
