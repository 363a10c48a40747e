/** The chain connection and typed contract handles the relayer works with. */
import {
  JsonRpcProvider,
  Network,
  makeError,
  type JsonRpcApiProviderOptions,
  type JsonRpcPayload,
  type JsonRpcResult,
} from "ethers";
import type { Forwarder, InventoryToken, PaymentEscrow } from "../../../typechain-types";
// The factories are imported one by one: the typechain index loads every contract's factory, which makes the
// process start several seconds slower.
import { Forwarder__factory } from "../../../typechain-types/factories/contracts/Forwarder__factory";
import { InventoryToken__factory } from "../../../typechain-types/factories/contracts/InventoryToken__factory";
import { PaymentEscrow__factory } from "../../../typechain-types/factories/contracts/PaymentEscrow__factory";
import { CachedAbi } from "./abi";

export interface ContractAddresses {
  escrow: string;
  inventory: string;
  forwarder: string;
  stablecoin?: string;
  startBlock: number;
}

export interface ChainContext {
  provider: JsonRpcProvider;
  chainId: bigint;
  addresses: ContractAddresses;
  escrow: PaymentEscrow;
  inventory: InventoryToken;
  forwarder: Forwarder;
  /** The escrow's and the inventory's ABIs with selectors and topics computed once (hot paths). */
  escrowAbi: CachedAbi;
  inventoryAbi: CachedAbi;
}

/** ethers' own default for one JSON-RPC request. */
const RPC_TIMEOUT_MS = 300_000;

/**
 * ethers' JSON-RPC provider with its transport replaced by Node's fetch: ethers' own transport encodes and
 * decodes the bodies with JavaScript UTF-8 loops and grows the response buffer chunk by chunk, which for a
 * batch's signed transaction (100 kB) or a block range of logs (1 MB) cost more than everything else the
 * writer does. Requests, results and JSON-RPC errors are the same; a failed connection is ethers'
 * NETWORK_ERROR and a request without an answer its TIMEOUT, as the writer's error handling expects.
 */
export class RelayerRpcProvider extends JsonRpcProvider {
  /** The endpoint without credentials: fetch refuses user:password in a URL, and logs must not show them. */
  private readonly endpoint: string;
  private readonly headers: Record<string, string> = { "content-type": "application/json" };

  constructor(
    rpcUrl: string,
    network: Network,
    options: JsonRpcApiProviderOptions,
    private readonly timeoutMs = RPC_TIMEOUT_MS,
  ) {
    super(rpcUrl, network, options);
    const u = new URL(rpcUrl);
    if (u.username || u.password) {
      // As ethers' own transport does: credentials in the URL become HTTP Basic authentication.
      const user = decodeURIComponent(u.username);
      const password = decodeURIComponent(u.password);
      this.headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
      u.username = "";
      u.password = "";
    }
    this.endpoint = u.toString();
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.endpoint, {
        method: "POST",
        headers: this.headers,
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === "TimeoutError" || e.name === "AbortError") {
        throw makeError(`RPC request to ${this.endpoint} timed out`, "TIMEOUT", {
          operation: "request",
          reason: "timeout",
        });
      }
      const cause = e.cause?.code ?? e.cause?.message ?? "";
      throw makeError(`RPC request to ${this.endpoint} failed: ${e.message} ${cause}`.trim(), "NETWORK_ERROR", {
        event: "request",
      });
    }
    if (res.status < 200 || res.status >= 300) {
      throw makeError(`RPC endpoint answered HTTP ${res.status}: ${text.slice(0, 200)}`, "SERVER_ERROR", {
        info: { requestUrl: this.endpoint, responseStatus: res.status, responseBody: text.slice(0, 2000) },
      } as never);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw makeError(`RPC endpoint answered with invalid JSON: ${text.slice(0, 200)}`, "SERVER_ERROR", {
        info: { requestUrl: this.endpoint, responseStatus: res.status },
      } as never);
    }
    return (Array.isArray(json) ? json : [json]) as JsonRpcResult[];
  }
}

/**
 * A provider without ethers' 250 ms response cache (a relayer must never see a stale nonce or receipt) and
 * with a fixed network, so no extra eth_chainId calls are made.
 */
export function makeProvider(rpcUrl: string, chainId: bigint): JsonRpcProvider {
  const network = Network.from(chainId);
  // Calls made together are still sent as one JSON-RPC batch, but without ethers' default 10 ms wait for more:
  // the writer's and the indexer's calls are sequential, and each would pay that wait.
  return new RelayerRpcProvider(rpcUrl, network, {
    staticNetwork: network,
    cacheTimeout: -1,
    batchMaxCount: 50,
    batchStallTime: 1,
  });
}

export function makeChainContext(
  provider: JsonRpcProvider,
  chainId: bigint,
  addresses: ContractAddresses,
): ChainContext {
  const escrow = PaymentEscrow__factory.connect(addresses.escrow, provider);
  const inventory = InventoryToken__factory.connect(addresses.inventory, provider);
  return {
    provider,
    chainId,
    addresses,
    escrow,
    inventory,
    forwarder: Forwarder__factory.connect(addresses.forwarder, provider),
    escrowAbi: new CachedAbi(escrow.interface),
    inventoryAbi: new CachedAbi(inventory.interface),
  };
}
