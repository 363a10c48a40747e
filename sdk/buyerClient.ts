/**
 * The buyer's side of gasless checkout: fetches the EIP-712 data for an action from the relayer, signs it with
 * any ethers signer (an injected wallet in the browser, a Wallet in scripts) and submits the signatures. The
 * buyer needs tokens but no native currency: the relayer pays the gas.
 *
 *   const client = new BuyerClient("http://127.0.0.1:8080", signer);
 *   await client.pay(chainOrderId);              // permit + forwarded pay
 *   await client.confirmReceipt(chainOrderId);   // forwarded confirmReceipt
 *   await client.openDispute(chainOrderId, "parcel arrived empty");
 *   await client.proposeSettlement(chainOrderId, 400n); // in a dispute: 400 of the order to the buyer, the rest to the payee
 *   await client.acceptSettlement(chainOrderId, 600n);  // accepts the merchant's pending proposal of exactly 600
 */
import type { Signer, TypedDataField } from "ethers";

export type BuyerAction = "pay" | "confirm" | "dispute" | "propose_settlement" | "accept_settlement";

/** What an action carries besides the signatures. */
export interface ActionDetails {
  /** `dispute`: the buyer's evidence (text or a link). */
  evidence?: string;
  /**
   * `propose_settlement`, `accept_settlement`: the buyer's share of the whole order, in the token's base units,
   * what partial refunds already returned included; the rest goes to the merchant's payee minus the fee.
   */
  buyerTotal?: bigint | string;
}

export class RelayerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "RelayerError";
  }
}

interface TypedData {
  domain: { name: string; version: string; chainId: string; verifyingContract: string };
  types: Record<string, TypedDataField[]>;
  primaryType: string;
  message: Record<string, string>;
}

export interface Intent {
  action: BuyerAction;
  chainId: string;
  chainOrderId: string;
  permit?: TypedData;
  forwardRequest: TypedData;
}

function detailsBody(details: ActionDetails | string): Record<string, string> {
  const d = typeof details === "string" ? { evidence: details } : details;
  const out: Record<string, string> = {};
  if (d.evidence) out.evidence = d.evidence;
  if (d.buyerTotal !== undefined) out.buyerTotal = BigInt(d.buyerTotal).toString();
  return out;
}

export class BuyerClient {
  constructor(
    private readonly baseUrl: string,
    private readonly signer: Signer,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  /** The checkout view of an order: amount, token, fee, merchant, status. */
  async order(chainOrderId: string): Promise<Record<string, unknown>> {
    return this.request("GET", `/v1/checkout/${chainOrderId}`);
  }

  async intent(chainOrderId: string, action: BuyerAction, details: ActionDetails | string = {}): Promise<Intent> {
    const buyer = await this.signer.getAddress();
    return this.request("POST", `/v1/checkout/${chainOrderId}/intents`, {
      action,
      buyer,
      ...detailsBody(details),
    });
  }

  /** Signs the intent's data and submits it; resolves when the relayer has accepted it (202). */
  async act(
    chainOrderId: string,
    action: BuyerAction,
    details: ActionDetails | string = {},
  ): Promise<{ commandId: string; status: string }> {
    const intent = await this.intent(chainOrderId, action, details);
    const buyer = await this.signer.getAddress();
    const sign = async (t: TypedData) => ({
      domain: t.domain,
      message: t.message,
      signature: await this.signer.signTypedData(t.domain, t.types, t.message),
    });
    const body: Record<string, unknown> = {
      action,
      buyer,
      forwardRequest: await sign(intent.forwardRequest),
      ...detailsBody(details),
    };
    if (intent.permit) body.permit = await sign(intent.permit);
    return this.request("POST", `/v1/checkout/${chainOrderId}/actions`, body);
  }

  pay(chainOrderId: string) {
    return this.act(chainOrderId, "pay");
  }

  confirmReceipt(chainOrderId: string) {
    return this.act(chainOrderId, "confirm");
  }

  openDispute(chainOrderId: string, evidence: string) {
    return this.act(chainOrderId, "dispute", { evidence });
  }

  /**
   * Proposes to end the dispute with `buyerTotal` as the buyer's share of the whole order (partial refunds
   * included) and the rest to the merchant's payee minus the fee; the merchant may accept it. Replaces the
   * buyer's earlier proposal.
   */
  proposeSettlement(chainOrderId: string, buyerTotal: bigint | string) {
    return this.act(chainOrderId, "propose_settlement", { buyerTotal });
  }

  /** Accepts the merchant's pending proposal: `buyerTotal` must be the split it proposed. Ends the dispute. */
  acceptSettlement(chainOrderId: string, buyerTotal: bigint | string) {
    return this.act(chainOrderId, "accept_settlement", { buyerTotal });
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetchImpl(`${this.baseUrl.replace(/\/$/, "")}${path}`, {
      method,
      headers: body ? { "content-type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await res.json().catch(() => ({}))) as {
      error?: { code: string; message: string; details?: Record<string, unknown> };
    };
    if (!res.ok) {
      throw new RelayerError(
        res.status,
        json.error?.code ?? "http_error",
        json.error?.message ?? `HTTP ${res.status}`,
        json.error?.details,
      );
    }
    return json as T;
  }
}
