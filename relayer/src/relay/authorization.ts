/**
 * Gasless payment by ERC-3009 (USDC, EURC): the buyer signs one `ReceiveWithAuthorization` of the order's amount
 * to the escrow, whose nonce is the order's EIP-712 digest in the escrow's domain, and the relayer submits
 * `payWithAuthorization`. The token lets only the escrow (`to`) use the signature and the escrow uses it only
 * for the order its digest names, so a copy of the signature (from this API or the mempool) can neither pay
 * another order nor move the tokens elsewhere. Checked completely before anything is queued; submitted as a
 * durable `relay_authorization` command under the same relay policy as permits.
 */
import { Contract, getAddress, verifyTypedData, ZeroAddress } from "ethers";
import { AppError } from "../domain/errors";
import { assertAllowed } from "../domain/order";
import {
  RECEIVE_WITH_AUTHORIZATION_TYPES,
  type AuthorizationMessage,
  type BuyerIntent,
  type Domain,
  type SignedBuyerAction,
} from "../domain/typedData";
import { enqueueCommand } from "../store/commands";
import type { Queryable } from "../store/db";
import type { OrderRow } from "../store/orders";
import { recordAudit } from "../store/audit";
import { lockBuyerRelayQueue, relayAuthorizationQueued } from "../store/relayPolicy";
import type { ServiceDeps } from "../services/context";
import { offerDigest, toTerms } from "../../../sdk/orderRecord";
import { DEFAULT_POLICY, enforceRelayPolicy, type RelayPolicy } from "./policy";
import { tokenMethods } from "./tokenMethods";

/** How long an authorization the relayer prepares stays valid. */
export const AUTHORIZATION_TTL_S = 15 * 60;
/**
 * The latest `validBefore` the relayer accepts, from now: an authorization is bound to its order, but one that
 * stays valid for days is a standing claim on the buyer's balance that only a cancellation on chain ends.
 */
export const MAX_AUTHORIZATION_VALIDITY_S = 60 * 60;

const AUTHORIZATION_STATE_ABI = [
  "function authorizationState(address authorizer, bytes32 nonce) view returns (bool)",
  "function balanceOf(address owner) view returns (uint256)",
];

/** The ERC-3009 nonce the escrow requires for order `o`: its EIP-712 digest in the escrow's domain. */
export function authorizationNonce(deps: ServiceDeps, o: OrderRow): string {
  const items = o.items.map((i) => ({ skuId: BigInt(i.skuId), quantity: BigInt(i.quantity) }));
  return offerDigest(
    { chainId: deps.chain.chainId, verifyingContract: deps.chain.addresses.escrow },
    toTerms(o.terms!),
    items,
  );
}

/** The token's verified EIP-712 domain, or 422 when it does not take ERC-3009 authorizations. */
async function authorizationDomain(deps: ServiceDeps, token: string): Promise<Domain> {
  const m = await tokenMethods(deps.chain, token);
  if (!m.paymentMethods.includes("authorization") || !m.eip712) {
    throw new AppError("unprocessable", "this order's token does not support ERC-3009 authorizations", {
      token,
      paymentMethods: m.paymentMethods,
    });
  }
  return m.eip712;
}

function requirePayable(o: OrderRow) {
  if (o.token === ZeroAddress)
    throw new AppError("unprocessable", "native-currency orders cannot be paid without gas; pay on chain", {});
  if (!o.terms || !o.record) {
    throw new AppError("order_not_on_chain_yet", "the order is not on chain yet; try again in a few seconds", {
      chainOrderId: o.chain_order_id,
    });
  }
}

/** The ERC-3009 message the buyer signs to pay order `o`. */
export async function authorizationIntent(deps: ServiceDeps, o: OrderRow, buyer: string): Promise<BuyerIntent> {
  assertAllowed("buyer", "pay", o, "pay", true);
  requirePayable(o);
  const domain = await authorizationDomain(deps, o.token);
  const validBefore = BigInt(Math.floor(Date.now() / 1000) + AUTHORIZATION_TTL_S);
  return {
    action: "pay",
    method: "authorization",
    chainId: deps.chain.chainId.toString(),
    chainOrderId: o.chain_order_id,
    authorization: {
      domain,
      types: RECEIVE_WITH_AUTHORIZATION_TYPES,
      primaryType: "ReceiveWithAuthorization",
      message: {
        from: buyer,
        to: deps.chain.addresses.escrow,
        value: o.terms!.amount,
        validAfter: "0",
        validBefore: validBefore.toString(),
        nonce: authorizationNonce(deps, o),
      },
    },
  };
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * Verifies the buyer's signed authorization completely (chain, token, signer, order, amount, receiver, time,
 * replay, balance) and queues `payWithAuthorization`. Nothing is sent when any check fails.
 */
export async function submitAuthorization(
  deps: ServiceDeps,
  q: Queryable,
  o: OrderRow,
  s: SignedBuyerAction,
  buyer: string,
  policy: RelayPolicy = DEFAULT_POLICY,
) {
  const a = s.authorization!;
  if (s.action !== "pay")
    throw new AppError("validation_failed", "an authorization only pays an order", { field: "authorization" });
  if (s.forwardRequest || s.permit)
    throw new AppError("validation_failed", "an authorization is sent alone, without a forward request or permit", {
      field: "authorization",
    });
  requirePayable(o);
  const expected = await authorizationDomain(deps, o.token);
  if (String(a.domain.chainId) !== expected.chainId) {
    throw new AppError(
      "wrong_chain",
      `the authorization was signed for chain ${a.domain.chainId}, this relayer serves chain ${expected.chainId}`,
      { expectedChainId: expected.chainId },
    );
  }
  if (
    !sameAddress(a.domain.verifyingContract, expected.verifyingContract) ||
    a.domain.name !== expected.name ||
    a.domain.version !== expected.version
  ) {
    throw new AppError("signature_mismatch", "the authorization was signed for another token", { expected });
  }
  const m: AuthorizationMessage = a.message;
  let signer: string;
  try {
    signer = verifyTypedData(a.domain, RECEIVE_WITH_AUTHORIZATION_TYPES, m, a.signature);
  } catch {
    throw new AppError("signature_invalid", "the authorization signature is not a valid signature of that data", {});
  }
  if (signer !== buyer || !sameAddress(m.from, buyer))
    throw new AppError("wrong_signer", "the authorization was not signed by the buyer", { signer, buyer });
  const nonce = authorizationNonce(deps, o);
  if (m.nonce.toLowerCase() !== nonce) {
    throw new AppError(
      "signature_mismatch",
      "the authorization's nonce is not this order's digest; ask for a new intent",
      {
        expected: nonce,
      },
    );
  }
  // Replays are reported before the order's state: a copy sent after the payment moved the order on is a replay.
  const token = new Contract(o.token, AUTHORIZATION_STATE_ABI, deps.chain.provider);
  if ((await token.authorizationState(buyer, nonce)) as boolean)
    throw new AppError("signature_replayed", "this order's authorization was already used (replayed)", { nonce });
  await lockBuyerRelayQueue(q, buyer);
  if (await relayAuthorizationQueued(q, o.id)) {
    throw new AppError("signature_replayed", "an authorization for this order was already accepted; wait for it", {
      nonce,
    });
  }
  assertAllowed("buyer", "pay", o, "pay", true);
  const amount = BigInt(o.terms!.amount);
  if (!sameAddress(m.to, deps.chain.addresses.escrow) || BigInt(m.value) !== amount) {
    throw new AppError("signature_mismatch", "the authorization must move exactly the order's amount to the escrow", {
      to: m.to,
      value: m.value,
    });
  }
  const now = BigInt(Math.floor(Date.now() / 1000));
  if (BigInt(m.validAfter) >= now)
    throw new AppError("signature_mismatch", "the authorization is not valid yet (validAfter is in the future)", {
      validAfter: m.validAfter,
    });
  // A margin for the time the transaction takes to be mined.
  if (BigInt(m.validBefore) <= now + 30n)
    throw new AppError("signature_expired", "the authorization has expired; ask for a new intent", {
      validBefore: m.validBefore,
    });
  if (BigInt(m.validBefore) > now + BigInt(MAX_AUTHORIZATION_VALIDITY_S))
    throw new AppError("relay_policy_violation", "the authorization stays valid too long", {
      validBefore: m.validBefore,
      maxSeconds: MAX_AUTHORIZATION_VALIDITY_S,
    });
  const balance = (await token.balanceOf(buyer)) as bigint;
  if (balance < amount)
    throw new AppError("unprocessable", "the buyer's balance is too low to pay this order", {
      balance: balance.toString(),
      amount: amount.toString(),
    });
  await enforceRelayPolicy(q, o.merchant_id, buyer, policy, deps.config.gasBudgetDefaultWei);

  const commandId = await enqueueCommand(q, {
    kind: "relay_authorization",
    merchantId: o.merchant_id,
    orderId: o.id,
    payload: {
      buyer: getAddress(buyer),
      token: o.token,
      validAfter: m.validAfter,
      validBefore: m.validBefore,
      nonce,
      signature: a.signature,
    },
  });
  await recordAudit(q, {
    merchantId: o.merchant_id,
    apiKeyId: null,
    action: "order.buyer_pay",
    resourceType: "order",
    resourceId: o.id,
    details: { buyer, method: "authorization" },
  });
  return { action: "pay" as const, commandId, status: "pending" };
}
