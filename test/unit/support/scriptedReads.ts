/**
 * A node that answers contract reads from scripts, behind ethers' JSON-RPC provider: each contract is an ABI and
 * one function per method it answers, called with the decoded arguments and the block the read names. A method
 * without a script reverts with no data (the contract has no such function), a script that throws `Revert`
 * reverts with its data. Jobs read through it exactly as through a node, with the real typed contracts.
 */
import {
  Interface,
  JsonRpcProvider,
  Network,
  toBeHex,
  type InterfaceAbi,
  type JsonRpcPayload,
  type JsonRpcResult,
  type Result,
} from "ethers";

/** What a scripted method answers: its outputs (one value, or a list for several), or a revert by throwing Revert. */
export type ScriptedMethod = (args: Result, blockTag: string) => unknown;

/** Thrown by a script: the call reverts with `data`. */
export class Revert {
  constructor(readonly data: string = "0x") {}
}

export class ScriptedReads extends JsonRpcProvider {
  /** The latest block's number; each block's time is 1_700_000_000 + its number. */
  head = 10;
  /** Every eth_call answered: contract, method, block. */
  readonly reads: { to: string; method: string; blockTag: string }[] = [];
  private readonly contracts = new Map<string, { iface: Interface; methods: Record<string, ScriptedMethod> }>();

  constructor(chainId = 31337n) {
    const network = Network.from(chainId);
    super("http://scripted.invalid", network, { staticNetwork: network, cacheTimeout: -1, batchMaxCount: 1 });
  }

  /** Scripts `methods` of the contract at `address` (added to what it answered before). */
  script(address: string, abi: Interface | InterfaceAbi, methods: Record<string, ScriptedMethod>): void {
    const key = address.toLowerCase();
    const known = this.contracts.get(key);
    const iface = known?.iface ?? (abi instanceof Interface ? abi : new Interface(abi));
    this.contracts.set(key, { iface, methods: { ...known?.methods, ...methods } });
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const list = Array.isArray(payload) ? payload : [payload];
    return Promise.all(
      list.map(async (p) => {
        try {
          return { id: p.id, result: await this.answer(p.method, p.params as unknown[]) };
        } catch (e) {
          if (!(e instanceof Revert)) throw e;
          return {
            id: p.id,
            error: { code: 3, message: "execution reverted", data: e.data },
          } as unknown as JsonRpcResult;
        }
      }),
    );
  }

  private async answer(method: string, params: unknown[]): Promise<unknown> {
    switch (method) {
      case "eth_chainId":
        return toBeHex(31337n);
      case "eth_blockNumber":
        return toBeHex(this.head);
      case "eth_getBlockByNumber": {
        const n = params[0] === "latest" ? this.head : Number(params[0]);
        return {
          hash: `0x${(n + 1).toString(16).padStart(64, "0")}`,
          parentHash: `0x${n.toString(16).padStart(64, "0")}`,
          number: toBeHex(n),
          timestamp: toBeHex(1_700_000_000 + n),
          nonce: "0x0000000000000000",
          difficulty: "0x0",
          gasLimit: toBeHex(30_000_000),
          gasUsed: "0x0",
          miner: `0x${"0".repeat(40)}`,
          extraData: "0x",
          baseFeePerGas: toBeHex(1_000_000_000),
          transactions: [],
        };
      }
      case "eth_call": {
        const tx = params[0] as { to: string; data: string };
        const blockTag = String(params[1] ?? "latest");
        const c = this.contracts.get(tx.to.toLowerCase());
        const parsed = c?.iface.parseTransaction({ data: tx.data });
        const script = parsed && c!.methods[parsed.name];
        this.reads.push({ to: tx.to.toLowerCase(), method: parsed?.name ?? tx.data.slice(0, 10), blockTag });
        if (!script) throw new Revert("0x");
        const out = await script(parsed.args, blockTag);
        return c!.iface.encodeFunctionResult(
          parsed.fragment,
          parsed.fragment.outputs.length === 1 ? [out] : (out as unknown[]),
        );
      }
      default:
        throw new Error(`the method ${method} is not scripted`);
    }
  }
}
