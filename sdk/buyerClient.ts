/**
 * The buyer's side of gasless checkout: fetches the EIP-712 data for an action from the relayer, signs it with
 * any ethers signer (an injected wallet in the browser, a Wallet in scripts) and submits the signatures. The
 * buyer needs tokens but no native currency: the relayer pays the gas. Requests go through the typed API client
 * (sdk/api/client.ts); a refusal is its ApiError, also exported here as RelayerError.
 *
 *   const client = new BuyerClient("http://127.0.0.1:8080", signer);
 *   await client.pay(chainOrderId);              // permit + forwarded pay
 *   await client.confirmReceipt(chainOrderId);   // forwarded confirmReceipt
 *   await client.openDispute(chainOrderId, "parcel arrived empty");
 *   await client.proposeSettlement(chainOrderId, 400n); // in a dispute: 400 of the order to the buyer, the rest to the payee
 *   await client.acceptSettlement(chainOrderId, 600n);  // accepts the merchant's pending proposal of exactly 600
 */
import type { Signer } from "ethers";
import { createApiClient, ok, type ApiClient, type CheckoutView } from "./api/client";
import type { operations } from "./api/schema";

/** The one error class of the API client, under the name this SDK has always exported. */
export { ApiError as RelayerError } from "./api/client";

type IntentRequest = operations["createBuyerIntent"]["requestBody"]["content"]["application/json"];
type SignedAction = operations["submitBuyerAction"]["requestBody"]["content"]["application/json"];

export type BuyerAction = IntentRequest["action"];

/** The EIP-712 data the buyer signs for an action: a forward request, and a permit when paying needs one. */
export type Intent = operations["createBuyerIntent"]["responses"][200]["content"]["application/json"];

type Signable = Intent["forwardRequest"] | NonNullable<Intent["permit"]>;
type Signed<T extends Signable> = Pick<T, "domain" | "message"> & { signature: string };

/** The relayer's answer to a signed action: accepted (202), with the command that relays it. */
export type ActionAccepted = operations["submitBuyerAction"]["responses"][202]["content"]["application/json"];

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

function detailsBody(details: ActionDetails | string): Pick<IntentRequest, "evidence" | "buyerTotal"> {
  const d = typeof details === "string" ? { evidence: details } : details;
  const out: Pick<IntentRequest, "evidence" | "buyerTotal"> = {};
  if (d.evidence) out.evidence = d.evidence;
  if (d.buyerTotal !== undefined) out.buyerTotal = BigInt(d.buyerTotal).toString();
  return out;
}

export class BuyerClient {
  private readonly api: ApiClient;

  constructor(
    baseUrl: string,
    private readonly signer: Signer,
    fetchImpl?: typeof fetch,
  ) {
    // No Idempotency-Key: every action is signed anew (a fresh forwarder nonce), so a retry is a new request,
    // and a signature sent twice is refused by the relayer (signature_replayed) before any gas is spent.
    this.api = createApiClient({ baseUrl, fetch: fetchImpl, idempotency: false });
  }

  /** The checkout view of an order: amount, token, fee, merchant, status. */
  order(chainOrderId: string): Promise<CheckoutView> {
    return ok(this.api.GET("/v1/checkout/{chainOrderId}", { params: { path: { chainOrderId } } }));
  }

  async intent(chainOrderId: string, action: BuyerAction, details: ActionDetails | string = {}): Promise<Intent> {
    const buyer = await this.signer.getAddress();
    return ok(
      this.api.POST("/v1/checkout/{chainOrderId}/intents", {
        params: { path: { chainOrderId } },
        body: { action, buyer, ...detailsBody(details) },
      }),
    );
  }

  /** Signs the intent's data and submits it; resolves when the relayer has accepted it (202). */
  async act(chainOrderId: string, action: BuyerAction, details: ActionDetails | string = {}): Promise<ActionAccepted> {
    const intent = await this.intent(chainOrderId, action, details);
    const buyer = await this.signer.getAddress();
    const sign = async <T extends Signable>(t: T): Promise<Signed<T>> => ({
      domain: t.domain,
      message: t.message,
      signature: await this.signer.signTypedData(t.domain, t.types, t.message),
    });
    const body: SignedAction = {
      action,
      buyer,
      forwardRequest: await sign(intent.forwardRequest),
      ...detailsBody(details),
    };
    if (intent.permit) body.permit = await sign(intent.permit);
    return ok(this.api.POST("/v1/checkout/{chainOrderId}/actions", { params: { path: { chainOrderId } }, body }));
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
}
