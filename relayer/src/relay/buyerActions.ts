/**
 * Gasless buyer actions: the relayer prepares the EIP-712 data a buyer's wallet signs (an EIP-2612 permit and
 * an ERC-2771 forward request, or for a payment in a token with ERC-3009 one authorization: ./authorization.ts),
 * checks the signatures, deadlines, nonces and chain before spending any gas,
 * and queues the relayed transactions. The calls are encoded from the order's fixed terms. Besides paying,
 * confirming receipt and disputing, the buyer of a disputed order proposes a settlement or accepts the
 * merchant's. Only the escrow's buyer functions and permits of allowlisted tokens
 * are relayed; rates and gas are limited per merchant and per buyer.
 */
import { getAddress, id as keccakText, isAddress, verifyTypedData, ZeroAddress } from "ethers";
import { AppError } from "../domain/errors";
import { assertAllowed } from "../domain/order";
import { enqueueCommand } from "../store/commands";
import type { Queryable } from "../store/db";
import type { OrderRow } from "../store/orders";
import { recordAudit } from "../store/audit";
import { recordDisputeEvidence } from "../store/disputeEvidence";
import { lockBuyerRelayQueue, relayForwardQueued } from "../store/relayPolicy";
import type { ServiceDeps } from "../services/context";
import { IERC20__factory, IERC20Permit__factory, IERC5267__factory } from "../../../typechain-types";
import { toTerms } from "../../../sdk/orderRecord";
import { proposalOf } from "../services/orders";
import {
  FORWARD_REQUEST_TYPES,
  PERMIT_TYPES,
  type BuyerAction,
  type BuyerIntent,
  type Domain,
  type ForwardRequestMessage,
  type GaslessMethod,
  type SignedBuyerAction,
} from "../domain/typedData";
import { authorizationIntent, submitAuthorization } from "./authorization";
import { DEFAULT_POLICY, enforceRelayPolicy, type RelayPolicy } from "./policy";
import { tokenMethods } from "./tokenMethods";

export { DEFAULT_POLICY, type RelayPolicy } from "./policy";

/** Gas the forwarder gives the buyer's call; the escrow's buyer functions use far less. */
const FORWARD_GAS = 400_000n;
/** How long signed data stays valid. */
const INTENT_TTL_S = 15 * 60;

function lineItems(o: OrderRow) {
  return o.items.map((i) => ({ skuId: BigInt(i.skuId), quantity: BigInt(i.quantity) }));
}

/** Address equality that tolerates any letter case: a wrong EIP-55 checksum is not a reason to fail here. */
function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function requireBuyer(o: OrderRow, buyer: string, action: BuyerAction) {
  if (!isAddress(buyer)) throw new AppError("validation_failed", "buyer must be a 0x address", { field: "buyer" });
  const b = getAddress(buyer);
  const expected = o.record?.buyer && o.record.buyer !== ZeroAddress ? o.record.buyer : o.buyer;
  if (expected && getAddress(expected) !== b) {
    throw new AppError("wrong_signer", `only the order's buyer may ${action} it`, { buyer: b });
  }
  return b;
}

/** EIP-712 domains read, per chain connection and contract: a contract's domain never changes. */
const domainCaches = new WeakMap<ServiceDeps["chain"], Map<string, Promise<Domain>>>();

/** The EIP-712 domain of the contract at `address` (ERC-5267), read once per chain connection. */
function domainOf(
  deps: ServiceDeps,
  address: string,
  read: () => Promise<{ name: string; version: string; chainId: bigint; verifyingContract: string }>,
): Promise<Domain> {
  let cache = domainCaches.get(deps.chain);
  if (!cache) domainCaches.set(deps.chain, (cache = new Map()));
  const key = address.toLowerCase();
  let domain = cache.get(key);
  if (!domain) {
    domain = read().then((d) => ({
      name: d.name,
      version: d.version,
      chainId: d.chainId.toString(),
      verifyingContract: d.verifyingContract,
    }));
    cache.set(key, domain);
    // A failed read is not kept: the next request asks again.
    domain.catch(() => cache.get(key) === domain && cache.delete(key));
  }
  return domain;
}

function forwarderDomain(deps: ServiceDeps): Promise<Domain> {
  return domainOf(deps, deps.chain.addresses.forwarder, () => deps.chain.forwarder.eip712Domain());
}

function tokenDomain(deps: ServiceDeps, token: string): Promise<Domain> {
  return domainOf(deps, token, () => IERC5267__factory.connect(token, deps.chain.provider).eip712Domain());
}

/** The call the buyer's forward request must carry, encoded from the order's fixed terms. */
function expectedCall(
  deps: ServiceDeps,
  o: OrderRow,
  action: BuyerAction,
  extra: { evidence?: string; buyerTotal?: string },
): string {
  const terms = toTerms(o.terms!);
  const abi = deps.chain.escrowAbi;
  switch (action) {
    case "pay":
      return abi.encode("pay", [terms]);
    case "confirm":
      return abi.encode("confirmReceipt", [terms, lineItems(o)]);
    case "dispute":
      return abi.encode("dispute", [terms, keccakText(extra.evidence ?? "")]);
    case "propose_settlement":
      return abi.encode("proposeSettlement", [terms, BigInt(extra.buyerTotal!)]);
    case "accept_settlement":
      return abi.encode("acceptSettlement", [terms, BigInt(extra.buyerTotal!), lineItems(o)]);
  }
}

function checkState(o: OrderRow, action: BuyerAction) {
  assertAllowed("buyer", action, o, action, true);
}

/** A settlement's buyerTotal: present, at most the order's amount and, to accept, the merchant's proposal. */
function checkSettlement(o: OrderRow, action: BuyerAction, buyerTotal: string | undefined) {
  if (action !== "propose_settlement" && action !== "accept_settlement") return;
  if (buyerTotal === undefined || !/^(0|[1-9][0-9]{0,77})$/.test(buyerTotal))
    throw new AppError("validation_failed", "a settlement needs buyerTotal (an integer string)", {
      field: "buyerTotal",
    });
  const amount = BigInt(o.terms!.amount);
  if (BigInt(buyerTotal) > amount)
    throw new AppError("unprocessable", `buyerTotal ${buyerTotal} exceeds the order's amount ${amount}`, {
      buyerTotal,
      amount: amount.toString(),
    });
  if (action === "accept_settlement") {
    const p = proposalOf(o);
    if (!p || p.by !== "merchant")
      throw new AppError("no_settlement_proposal", "the merchant has not proposed a settlement for this order", {
        proposal: p,
      });
    if (BigInt(p.buyerTotal) !== BigInt(buyerTotal))
      throw new AppError(
        "settlement_proposal_mismatch",
        `the merchant proposed a buyerTotal of ${p.buyerTotal}, not ${buyerTotal}`,
        { proposed: p.buyerTotal, buyerTotal },
      );
  }
}

export async function buildIntent(
  deps: ServiceDeps,
  o: OrderRow,
  action: BuyerAction,
  buyerIn: string,
  evidence?: string,
  buyerTotal?: string,
  method?: GaslessMethod,
): Promise<BuyerIntent> {
  checkState(o, action);
  const buyer = requireBuyer(o, buyerIn, action);
  if (method !== undefined && action !== "pay")
    throw new AppError("validation_failed", "method applies to pay only", { field: "method" });
  if (method === "authorization") return authorizationIntent(deps, o, buyer);
  if (action === "dispute" && !evidence)
    throw new AppError("validation_failed", "a dispute needs evidence (text or a link)", { field: "evidence" });
  checkSettlement(o, action, buyerTotal);
  const deadline = BigInt(Math.floor(Date.now() / 1000) + INTENT_TTL_S);
  const intent: BuyerIntent = {
    action,
    chainId: deps.chain.chainId.toString(),
    chainOrderId: o.chain_order_id,
    forwardRequest: {
      domain: await forwarderDomain(deps),
      types: FORWARD_REQUEST_TYPES,
      primaryType: "ForwardRequest",
      message: {
        from: buyer,
        to: deps.chain.addresses.escrow,
        value: "0",
        gas: FORWARD_GAS.toString(),
        nonce: (await deps.chain.forwarder.nonces(buyer)).toString(),
        deadline: deadline.toString(),
        data: expectedCall(deps, o, action, { evidence, buyerTotal }),
      },
    },
  };
  if (action === "pay") {
    if (o.token === ZeroAddress)
      throw new AppError("unprocessable", "native-currency orders cannot be paid without gas; pay on chain", {});
    const { paymentMethods } = await tokenMethods(deps.chain, o.token);
    // A token without EIP-2612: the forwarded pay works after the buyer's own approval, so no permit is asked for
    // unless the caller insisted on one.
    if (!paymentMethods.includes("permit")) {
      if (method === "permit")
        throw new AppError("unprocessable", "this order's token does not support EIP-2612 permits", {
          token: o.token,
          paymentMethods,
        });
      intent.method = "approval";
      return intent;
    }
    intent.method = "permit";
    const token = IERC20Permit__factory.connect(o.token, deps.chain.provider);
    intent.permit = {
      domain: await tokenDomain(deps, o.token),
      types: PERMIT_TYPES,
      primaryType: "Permit",
      message: {
        owner: buyer,
        spender: deps.chain.addresses.escrow,
        value: o.terms!.amount,
        nonce: (await token.nonces(buyer)).toString(),
        deadline: deadline.toString(),
      },
    };
  }
  return intent;
}

function sameDomain(given: Domain | undefined, expected: Domain, what: string) {
  if (!given || String(given.chainId) !== expected.chainId) {
    throw new AppError(
      "wrong_chain",
      `the ${what} was signed for chain ${given?.chainId ?? "?"}, this relayer serves chain ${expected.chainId}`,
      {
        expectedChainId: expected.chainId,
      },
    );
  }
  if (
    !sameAddress(given.verifyingContract, expected.verifyingContract) ||
    given.name !== expected.name ||
    given.version !== expected.version
  ) {
    throw new AppError("signature_mismatch", `the ${what} was signed for another contract`, { expected });
  }
}

function recover(
  domain: Domain,
  types: Record<string, { name: string; type: string }[]>,
  message: object,
  signature: string,
  what: string,
): string {
  try {
    return verifyTypedData(domain, types, message, signature);
  } catch {
    throw new AppError("signature_invalid", `the ${what} signature is not a valid signature of that data`, {});
  }
}

/**
 * Verifies a signed buyer action completely (chain, contract, signer, deadline, nonce, exact call) and queues
 * it. Nothing is sent when any check fails.
 */
export async function submitBuyerAction(
  deps: ServiceDeps,
  q: Queryable,
  o: OrderRow,
  s: SignedBuyerAction,
  policy: RelayPolicy = DEFAULT_POLICY,
) {
  // The signature and its nonce are checked before the order's state: a request replayed after it executed
  // (which moved the order on) is reported as a replay, not as a request for the wrong state.
  if (!o.record) checkState(o, s.action);
  const buyer = requireBuyer(o, s.buyer, s.action);
  if (s.authorization) return submitAuthorization(deps, q, o, s, buyer, policy);
  if (s.action === "dispute" && !s.evidence)
    throw new AppError("validation_failed", "a dispute needs evidence", { field: "evidence" });
  const now = BigInt(Math.floor(Date.now() / 1000));

  const fr = s.forwardRequest;
  if (!fr)
    throw new AppError("validation_failed", "a forward request (or, to pay, an authorization) is needed", {
      field: "forwardRequest",
    });
  sameDomain(fr.domain, await forwarderDomain(deps), "forward request");
  const m: ForwardRequestMessage = fr.message;
  let deadline: bigint;
  try {
    deadline = BigInt(m.deadline);
    BigInt(m.nonce);
    BigInt(m.gas);
    BigInt(m.value);
  } catch {
    throw new AppError("validation_failed", "forward request fields must be integers", {});
  }
  const signer = recover(fr.domain, FORWARD_REQUEST_TYPES, m, fr.signature, "forward request");
  if (!sameAddress(signer, m.from) || signer !== buyer) {
    throw new AppError("wrong_signer", "the forward request was not signed by the buyer", { signer, buyer });
  }
  const chainNonce = await deps.chain.forwarder.nonces(buyer);
  if (BigInt(m.nonce) < chainNonce) {
    throw new AppError("signature_replayed", "the forward request's nonce was already used (replayed)", {
      nonce: m.nonce,
      expected: chainNonce.toString(),
    });
  }
  if (deadline <= now)
    throw new AppError("signature_expired", "the forward request has expired; ask for a new intent", {
      deadline: m.deadline,
    });
  checkState(o, s.action);
  checkSettlement(o, s.action, s.buyerTotal);
  if (!sameAddress(m.to, deps.chain.addresses.escrow) || BigInt(m.value) !== 0n) {
    throw new AppError("relay_policy_violation", "only calls to the escrow, without value, are relayed", { to: m.to });
  }
  if (m.data.toLowerCase() !== expectedCall(deps, o, s.action, s).toLowerCase()) {
    throw new AppError(
      "signature_mismatch",
      `the forward request does not carry this order's ${s.action} call; ask for a new intent`,
      {},
    );
  }
  if (BigInt(m.gas) > 1_000_000n)
    throw new AppError("relay_policy_violation", "forward request gas too high", { gas: m.gas });
  if (BigInt(m.nonce) !== chainNonce) {
    throw new AppError("signature_replayed", "the forward request's nonce is not the buyer's next nonce (stale)", {
      nonce: m.nonce,
      expected: chainNonce.toString(),
    });
  }

  let permitPayload: Record<string, string> | null = null;
  if (s.action === "pay" && o.token !== ZeroAddress) {
    const token = IERC20__factory.connect(o.token, deps.chain.provider);
    const permitToken = IERC20Permit__factory.connect(o.token, deps.chain.provider);
    const allowance = await token.allowance(buyer, deps.chain.addresses.escrow);
    const amount = BigInt(o.terms!.amount);
    if (allowance < amount) {
      if (!s.permit)
        throw new AppError(
          "validation_failed",
          "a permit (or an authorization, or the buyer's own approval of the escrow) is needed to pay",
          { field: "permit" },
        );
      sameDomain(s.permit.domain, await tokenDomain(deps, o.token), "permit");
      const pm = s.permit.message;
      if (BigInt(pm.deadline) <= now)
        throw new AppError("signature_expired", "the permit has expired; ask for a new intent", {
          deadline: pm.deadline,
        });
      const pSigner = recover(s.permit.domain, PERMIT_TYPES, pm, s.permit.signature, "permit");
      if (pSigner !== buyer || !sameAddress(pm.owner, buyer))
        throw new AppError("wrong_signer", "the permit was not signed by the buyer", { signer: pSigner, buyer });
      if (!sameAddress(pm.spender, deps.chain.addresses.escrow) || BigInt(pm.value) < amount) {
        throw new AppError("signature_mismatch", "the permit must allow the escrow to take the order's amount", {});
      }
      const tokenNonce = await permitToken.nonces(buyer);
      if (BigInt(pm.nonce) !== tokenNonce) {
        throw new AppError("signature_replayed", "the permit's nonce was already used (replayed or stale)", {
          nonce: pm.nonce,
          expected: tokenNonce.toString(),
        });
      }
      const balance = await token.balanceOf(buyer);
      if (balance < amount)
        throw new AppError("unprocessable", "the buyer's balance is too low to pay this order", {
          balance: balance.toString(),
          amount: amount.toString(),
        });
      permitPayload = {
        token: o.token,
        owner: buyer,
        spender: pm.spender,
        value: pm.value,
        deadline: pm.deadline,
        nonce: BigInt(pm.nonce).toString(),
        signature: s.permit.signature,
      };
    }
  }

  const ok = await deps.chain.forwarder.verify({ ...m, signature: fr.signature });
  if (!ok) throw new AppError("signature_invalid", "the forwarder rejects this request", {});
  // The forwarder's nonce moves only when a request executes: a second request with the same nonce, queued
  // before the first ran (a resubmission, or two intents fetched at once), could never execute after it.
  await lockBuyerRelayQueue(q, buyer);
  if (await relayForwardQueued(q, buyer, BigInt(m.nonce).toString())) {
    throw new AppError("signature_replayed", "a request with this nonce was already accepted; wait for it to execute", {
      nonce: m.nonce,
    });
  }
  await enforceRelayPolicy(q, o.merchant_id, buyer, policy, deps.config.gasBudgetDefaultWei);

  if (s.action === "dispute") {
    await recordDisputeEvidence(q, {
      orderId: o.id,
      buyer,
      evidence: s.evidence!,
      evidenceHash: keccakText(s.evidence!),
    });
  }
  if (permitPayload) {
    await enqueueCommand(q, { kind: "relay_permit", merchantId: o.merchant_id, orderId: o.id, payload: permitPayload });
  }
  const commandId = await enqueueCommand(q, {
    kind: "relay_forward",
    merchantId: o.merchant_id,
    orderId: o.id,
    payload: {
      action: s.action,
      buyer,
      ...(s.buyerTotal !== undefined ? { buyerTotal: s.buyerTotal } : {}),
      request: { ...m, signature: fr.signature },
    },
  });
  await recordAudit(q, {
    merchantId: o.merchant_id,
    apiKeyId: null,
    action: `order.buyer_${s.action}`,
    resourceType: "order",
    resourceId: o.id,
    details: s.buyerTotal !== undefined ? { buyer, buyerTotal: s.buyerTotal } : { buyer },
  });
  return { action: s.action, commandId, status: "pending" };
}
