/** Turns revert data into a named custom error with its arguments, using the project's contract ABIs. */
import { Interface, isCallException, isError } from "ethers";
import { Forwarder__factory } from "../../../typechain-types/factories/contracts/Forwarder__factory";
import { InventoryToken__factory } from "../../../typechain-types/factories/contracts/InventoryToken__factory";
import { PaymentEscrow__factory } from "../../../typechain-types/factories/contracts/PaymentEscrow__factory";

const interfaces = [
  new Interface(PaymentEscrow__factory.abi),
  new Interface(InventoryToken__factory.abi),
  new Interface(Forwarder__factory.abi),
];

export interface DecodedRevert {
  name: string;
  args: Record<string, string>;
  data: string;
}

export function decodeRevertData(data: string | null | undefined): DecodedRevert {
  if (!data || data === "0x") return { name: "UnknownRevert", args: {}, data: data ?? "0x" };
  for (const iface of interfaces) {
    try {
      const parsed = iface.parseError(data);
      if (!parsed) continue;
      const args: Record<string, string> = {};
      parsed.fragment.inputs.forEach((input, i) => {
        const v = parsed.args[i];
        args[input.name || String(i)] = typeof v === "bigint" ? v.toString() : String(v);
      });
      // A batch failure wraps the item's own revert: unwrap it.
      if (parsed.name === "BatchCallFailed") return decodeRevertData(parsed.args[1] as string);
      return { name: parsed.name, args, data };
    } catch {
      // not this interface
    }
  }
  if (data.startsWith("0x08c379a0")) {
    try {
      const [reason] = new Interface(["function Error(string)"]).decodeFunctionData("Error", data);
      return { name: "Error", args: { reason: String(reason) }, data };
    } catch {
      // fall through
    }
  }
  return { name: "UnknownRevert", args: {}, data };
}

/**
 * Answers of a node that did not run the call (its own failure, a lagging or overloaded backend, a block it does
 * not have: geth, Hardhat, Anvil, Erigon and Nethermind word it differently). ethers reports
 * every error answer to eth_call and eth_estimateGas as a CALL_EXCEPTION, so without this a node's hiccup would
 * read as a revert and fail the command for good.
 */
const NODE_FAILURES =
  /internal error|header not found|missing trie node|unknown block|block not found|invalid block tag|block ?out ?of ?range|block height is|could not be found|timed? ?out|rate limit|too many requests|limit exceeded|capacity exceeded|temporarily unavailable|service unavailable|server busy|try again/i;

/** Revert data of an ethers error from a call or an estimate, or undefined if the error is not a revert. */
export function revertDataOf(err: unknown): string | undefined {
  if (isCallException(err)) {
    if (err.data) return err.data;
    // No revert data: a revert only if the node said so (code 3, "execution reverted", "VM Exception ... revert").
    const answer = (err.info as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const said = typeof answer?.message === "string" ? answer.message : "";
    if (answer?.code !== 3 && !/revert/i.test(said) && NODE_FAILURES.test(said)) return undefined;
    return "0x";
  }
  if (isError(err, "UNKNOWN_ERROR") || isError(err, "SERVER_ERROR")) return undefined;
  const e = err as { data?: unknown; info?: { error?: { data?: unknown } } };
  if (typeof e?.data === "string" && e.data.startsWith("0x")) return e.data;
  const inner = e?.info?.error?.data;
  if (typeof inner === "string" && inner.startsWith("0x")) return inner;
  if (inner && typeof (inner as { data?: unknown }).data === "string") return (inner as { data: string }).data;
  return undefined;
}

/**
 * An error that revertDataOf found to be no revert, told in the node's own words: ethers' message for it
 * ("missing revert data") reads as a revert.
 */
export function nodeFailure(err: unknown): unknown {
  if (!isCallException(err)) return err;
  const answer = (err.info as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (typeof answer?.message !== "string") return err;
  return new Error(`the node failed to answer ${err.action}: ${answer.message} (code ${String(answer.code)})`, {
    cause: err,
  });
}

/**
 * Errors after which a command is retried instead of failed: the chain was not ready for it yet (an order's
 * creation reorged away and not yet mined again).
 */
export const RETRYABLE_ERRORS = new Set(["OrderNotFound"]);
