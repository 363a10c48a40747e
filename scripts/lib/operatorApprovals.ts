/**
 * What `npm run merchant:approve` agrees to sign with a merchant's key: forwarder requests whose calldata is an
 * operator approval on the escrow or the inventory, and nothing else. The typed data comes from the relayer; a
 * relayer (or anything between it and the script) could otherwise have the key sign another call, such as a
 * payout address or a revocation.
 */
import { Interface } from "ethers";

const APPROVALS = new Interface([
  "function setOperatorApproval(address operator, bool approved)",
  "function setApprovalForAll(address operator, bool approved)",
]);
const FORWARD_REQUEST_FIELDS =
  "from:address,to:address,value:uint256,gas:uint256,nonce:uint256,deadline:uint48,data:bytes";

/** What the request really asks, decoded from its calldata ("setApprovalForAll(op, true) on 0x..."), or throws. */
export function approvalOf(
  types: Record<string, { name: string; type: string }[]>,
  m: { from: string; to: string; value: string; data: string },
  wallet: string,
): string {
  const fields = (types.ForwardRequest ?? []).map((f) => `${f.name}:${f.type}`).join(",");
  if (Object.keys(types).join() !== "ForwardRequest" || fields !== FORWARD_REQUEST_FIELDS)
    throw new Error(`refusing to sign: the typed data is not the forwarder's ForwardRequest (${Object.keys(types)})`);
  if (m.from.toLowerCase() !== wallet.toLowerCase()) throw new Error(`refusing to sign: a request from ${m.from}`);
  if (BigInt(m.value) !== 0n) throw new Error(`refusing to sign: a request sending ${m.value} wei`);
  let call;
  try {
    call = APPROVALS.parseTransaction({ data: m.data });
  } catch {
    call = null;
  }
  if (!call) throw new Error(`refusing to sign: calldata ${m.data.slice(0, 10)} is not an operator approval`);
  if (call.args[1] !== true) throw new Error(`refusing to sign: ${call.name} revokes ${call.args[0]}`);
  return `${call.name}(${call.args[0]}, true) on ${m.to}`;
}
