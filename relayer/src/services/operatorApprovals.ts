/**
 * Operator approvals of a merchant that signs for itself (external): the ERC-2771 requests its own wallet signs to
 * approve the relayer's signers as its operators, handed out as EIP-712 typed data, checked when they come back
 * (signer, signature, deadline, nonce, and the forwarder's own verdict by eth_call) and relayed in one batch.
 */
import { getAddress, verifyTypedData, ZeroAddress } from "ethers";
import { decodeRevertData, revertDataOf } from "../chain/decodeError";
import { AppError } from "../domain/errors";
import { FORWARD_REQUEST_TYPES, type SignedApproval } from "../domain/typedData";
import { chainNotReady, isChainUnavailable } from "../domain/unavailable";
import { APPROVAL_GAS, missingApprovals, type ApprovalCall } from "../jobs/merchantSetup";
import { enqueueCommand } from "../store/commands";
import { type Queryable } from "../store/db";
import { getMerchant, lockMerchant, openMerchantSetup, wakeMerchantSetup, type MerchantRow } from "../store/merchants";
import { recordAudit } from "../store/audit";
import type { Principal, ServiceDeps } from "./context";
import { assertOwnerKey, merchantView } from "./merchants";

/** How long the requests the relayer asks an external merchant to sign stay valid. */
export const APPROVAL_REQUEST_TTL_S = 3600;
/** A signed request relayed with less time left than this could expire on its way: it is refused. */
const MIN_DEADLINE_LEFT_S = 60;
/** The longest deadline accepted: a request waiting longer is signed again. */
const MAX_DEADLINE_AHEAD_S = 24 * 3600;
/** The most gas an approval request may forward: what the relayer pays for it is bounded. */
export const MAX_APPROVAL_GAS = 300_000n;

/** The merchant whose approvals `who` may see and sign: its owner keys' own, or any for the admin. */
async function externalMerchantFor(q: Queryable, who: Principal, merchantId: string, lock = false) {
  if (who.kind !== "admin") await assertOwnerKey(q, who, "handle the merchant's operator approvals");
  const m = lock ? await lockMerchant(q, merchantId) : await getMerchant(q, merchantId);
  if (!m) throw new AppError("not_found", `merchant ${merchantId} not found`, { merchantId });
  if (m.signer_kind !== "external") {
    throw new AppError(
      "merchant_custodial",
      "the relayer signs this merchant's operator approvals with its custodial key: there is nothing to sign",
      { merchantId, signer: "custodial" },
    );
  }
  return m;
}

/** The forwarder's EIP-712 domain, the chain's time (the later of the node's latest block and the clock). */
async function forwarderContext(deps: ServiceDeps) {
  try {
    const [d, latest] = await Promise.all([
      deps.chain.forwarder.eip712Domain(),
      deps.chain.provider.getBlock("latest"),
    ]);
    const now = Math.max(Math.floor(Date.now() / 1000), latest?.timestamp ?? 0);
    return {
      domain: {
        name: d.name,
        version: d.version,
        chainId: d.chainId.toString(),
        verifyingContract: d.verifyingContract,
      },
      now: BigInt(now),
    };
  } catch (err) {
    throw chainNotReady(err, "the chain is unreachable; retry later");
  }
}

/** The approvals the merchant's address still has to give every relayer signer, and its next forwarder nonce. */
async function approvalsToSign(deps: ServiceDeps, q: Queryable, address: string) {
  // The signers configured now (SIGNER_KEYS), as the custodial setup approves: a signer retired from the
  // configuration (a leaked key rotated out) is never asked for.
  const operators = [...new Set(deps.config.operatorAddresses ?? [])].sort((a, b) =>
    a.toLowerCase() < b.toLowerCase() ? -1 : 1,
  );
  if (operators.length === 0) {
    throw new AppError("not_ready", "this relayer has no signer configured (SIGNER_KEYS)", {});
  }
  try {
    const [calls, nonce] = await Promise.all([
      missingApprovals(deps.chain, address, operators),
      deps.chain.forwarder.nonces(address),
    ]);
    return { calls, nonce };
  } catch (err) {
    throw chainNotReady(err, "the chain is unreachable; retry later");
  }
}

const approvalView = (address: string, call: ApprovalCall, nonce: bigint, deadline: bigint) => ({
  message: {
    from: address,
    to: call.to,
    value: "0",
    gas: APPROVAL_GAS.toString(),
    nonce: nonce.toString(),
    deadline: deadline.toString(),
    data: call.data,
  },
  contract: call.contract,
  operator: call.operator,
});

/**
 * What an external merchant's wallet signs: the forwarder's EIP-712 domain and types, and one ForwardRequest per
 * approval still missing on chain, with consecutive forwarder nonces from the address's next and one deadline.
 * Empty once the chain shows every approval.
 */
export async function operatorApprovals(deps: ServiceDeps, q: Queryable, who: Principal, merchantId: string) {
  const m = await externalMerchantFor(q, who, merchantId);
  const { domain, now } = await forwarderContext(deps);
  const { calls, nonce } = await approvalsToSign(deps, q, m.address);
  const deadline = now + BigInt(APPROVAL_REQUEST_TTL_S);
  return {
    merchantId: m.id,
    address: m.address,
    status: m.status,
    domain,
    types: FORWARD_REQUEST_TYPES,
    primaryType: "ForwardRequest" as const,
    requests: calls.map((c, i) => approvalView(m.address, c, nonce + BigInt(i), deadline)),
  };
}

/**
 * Checks what an external merchant signed against what the relayer would ask now, before any gas is spent:
 * each request is signed by the merchant's address (ECDSA: the forwarder verifies no ERC-1271 signature), its
 * nonce not spent, and the requests are exactly the missing approvals (same target, calldata, consecutive nonces,
 * no value, a bounded gas) with a deadline neither passed nor too far. Then the whole batch is simulated.
 */
async function checkSignedApprovals(
  deps: ServiceDeps,
  q: Queryable,
  m: MerchantRow,
  requests: SignedApproval[],
): Promise<SignedApproval[]> {
  const { domain, now } = await forwarderContext(deps);
  const { calls, nonce } = await approvalsToSign(deps, q, m.address);
  const merchant = m.address.toLowerCase();
  requests.forEach((r, i) => {
    if (r.from.toLowerCase() !== merchant) {
      throw new AppError("wrong_signer", `request ${i} is not from the merchant's address ${m.address}`, {
        index: i,
        from: r.from,
        address: m.address,
      });
    }
    let signer: string;
    try {
      signer = verifyTypedData(domain, FORWARD_REQUEST_TYPES, messageOf(r), r.signature);
    } catch {
      throw new AppError("signature_invalid", `request ${i}'s signature is not a valid signature of it`, {
        index: i,
      });
    }
    if (signer.toLowerCase() !== merchant) {
      throw new AppError("wrong_signer", `request ${i} was not signed by the merchant's address ${m.address}`, {
        index: i,
        signer,
        address: m.address,
      });
    }
    if (BigInt(r.nonce) < nonce) {
      throw new AppError("signature_replayed", `request ${i}'s forwarder nonce ${r.nonce} was already used`, {
        index: i,
        nonce: r.nonce,
        next: nonce.toString(),
      });
    }
  });
  if (requests.length !== calls.length) {
    throw new AppError(
      "signature_mismatch",
      `${calls.length} approvals are missing on chain, ${requests.length} requests were signed: sign what GET operator-approvals returns`,
      { expected: calls.length, received: requests.length },
    );
  }
  requests.forEach((r, i) => {
    const want = calls[i];
    const mismatch = (what: string, details: Record<string, unknown> = {}) =>
      new AppError("signature_mismatch", `request ${i} ${what}: sign what GET operator-approvals returns`, {
        index: i,
        ...details,
      });
    if (BigInt(r.nonce) !== nonce + BigInt(i))
      throw mismatch("does not carry the next consecutive forwarder nonce", {
        nonce: r.nonce,
        expected: (nonce + BigInt(i)).toString(),
      });
    if (r.to.toLowerCase() !== want.to.toLowerCase() || r.data.toLowerCase() !== want.data.toLowerCase())
      throw mismatch(`is not the ${want.contract} approval of operator ${want.operator}`, {
        to: want.to,
        data: want.data,
      });
    if (BigInt(r.value) !== 0n) throw mismatch("sends value", { value: r.value });
    const gas = BigInt(r.gas);
    if (gas < APPROVAL_GAS || gas > MAX_APPROVAL_GAS)
      throw mismatch(`forwards ${gas} gas, outside ${APPROVAL_GAS}..${MAX_APPROVAL_GAS}`, {
        gas: r.gas,
        min: APPROVAL_GAS.toString(),
        max: MAX_APPROVAL_GAS.toString(),
      });
    const deadline = BigInt(r.deadline);
    if (deadline <= now + BigInt(MIN_DEADLINE_LEFT_S)) {
      throw new AppError("signature_expired", `request ${i} has expired or expires within ${MIN_DEADLINE_LEFT_S} s`, {
        index: i,
        deadline: r.deadline,
        chainTime: now.toString(),
      });
    }
    if (deadline > now + BigInt(MAX_DEADLINE_AHEAD_S))
      throw mismatch(`has a deadline more than ${MAX_DEADLINE_AHEAD_S} s ahead`, { deadline: r.deadline });
  });
  const signed = requests.map((r) => ({ ...messageOf(r), signature: r.signature }));
  if (signed.length > 0) await simulateBatch(deps, signed);
  return signed.map((r) => ({
    from: getAddress(r.from),
    to: getAddress(r.to),
    value: r.value.toString(),
    gas: r.gas.toString(),
    nonce: r.nonce.toString(),
    deadline: r.deadline.toString(),
    data: r.data,
    signature: r.signature,
  }));
}

const messageOf = (r: SignedApproval) => ({
  from: r.from,
  to: r.to,
  value: BigInt(r.value),
  gas: BigInt(r.gas),
  nonce: BigInt(r.nonce),
  deadline: BigInt(r.deadline),
  data: r.data,
});

/** The forwarder runs the batch in a call: what it would refuse (a malleable signature, say) costs no gas. */
async function simulateBatch(deps: ServiceDeps, signed: (ReturnType<typeof messageOf> & { signature: string })[]) {
  try {
    await deps.chain.forwarder.executeBatch.staticCall(
      signed.map(({ nonce: _nonce, ...request }) => request),
      ZeroAddress,
    );
  } catch (err) {
    if (isChainUnavailable(err)) throw chainNotReady(err, "the chain is unreachable; retry later");
    const data = revertDataOf(err);
    if (data === undefined) throw err;
    const revert = decodeRevertData(data);
    throw new AppError("unprocessable", `the forwarder would refuse the signed requests (${revert.name})`, {
      revert: revert.name,
      args: revert.args,
    });
  }
}

/**
 * Takes the requests an external merchant's wallet signed (see operatorApprovals), checks them and queues their
 * relay (merchant_setup). The merchant turns active once the chain shows every approval; with nothing missing on
 * chain (the wallet approved the operators itself), an empty list activates it.
 */
export async function submitOperatorApprovals(
  deps: ServiceDeps,
  q: Queryable,
  who: Principal,
  merchantId: string,
  requests: SignedApproval[],
) {
  const m = await externalMerchantFor(q, who, merchantId, true);
  const open = await openMerchantSetup(q, m.id);
  if (open && !open.dormant) {
    throw new AppError(
      "merchant_setup_in_progress",
      "the merchant's earlier signed approvals are being relayed; ask GET operator-approvals again once they are",
      { commandId: open.id },
    );
  }
  const signed = await checkSignedApprovals(deps, q, m, requests);
  const payload = { merchant: m.address, signer: "external", requests: signed };
  let commandId: string;
  if (open) {
    // The setup queued when the merchant was created, holding its inventory commands: it runs now.
    await wakeMerchantSetup(q, open.id, payload);
    commandId = open.id;
  } else {
    commandId = await enqueueCommand(q, { kind: "merchant_setup", merchantId: m.id, payload, apiKeyId: who.keyId });
  }
  await recordAudit(q, {
    merchantId: m.id,
    apiKeyId: who.keyId,
    action: "merchant.operator_approvals_signed",
    resourceType: "merchant",
    resourceId: m.id,
    details: {
      requests: signed.length,
      nonces: signed.map((r) => r.nonce),
      commandId,
    },
  });
  return {
    merchant: merchantView(m),
    command: { id: commandId, kind: "merchant_setup", status: "pending" },
  };
}
