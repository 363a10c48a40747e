/**
 * The buyer's side of gasless checkout: fetches the EIP-712 data for an action from the relayer, signs it with
 * any ethers signer (an injected wallet in the browser, a Wallet in scripts) and submits the signatures. The
 * buyer needs tokens but no native currency: the relayer pays the gas. Requests go through the typed API client
 * (sdk/api/client.ts); a refusal is its ApiError, also exported here as RelayerError.
 *
 * Paying picks the best method the order's token supports (the checkout view's `paymentMethods`): an ERC-3009
 * authorization (one signature), else an EIP-2612 permit with a forwarded pay, else an approval and pay sent by
 * the buyer's own wallet (the buyer pays gas). `pay(id, { method })` forces one.
 *
 *   const client = new BuyerClient("http://127.0.0.1:8080", signer);
 *   await client.pay(chainOrderId);              // authorization, or permit + forwarded pay, or approve + pay
 *   await client.confirmReceipt(chainOrderId);   // forwarded confirmReceipt
 *   await client.openDispute(chainOrderId, "parcel arrived empty");
 *   await client.proposeSettlement(chainOrderId, 400n); // in a dispute: 400 of the order to the buyer, the rest to the payee
 *   await client.acceptSettlement(chainOrderId, 600n);  // accepts the merchant's pending proposal of exactly 600
 */
import { Contract, type Signer } from "ethers";
import { createApiClient, ok, type ApiClient, type CheckoutView } from "./api/client";
import type { operations } from "./api/schema";

/** The one error class of the API client, under the name this SDK has always exported. */
export { ApiError as RelayerError } from "./api/client";

type IntentRequest = operations["createBuyerIntent"]["requestBody"]["content"]["application/json"];
type SignedAction = operations["submitBuyerAction"]["requestBody"]["content"]["application/json"];

export type BuyerAction = IntentRequest["action"];

type ApiIntent = operations["createBuyerIntent"]["responses"][200]["content"]["application/json"];

/** The EIP-712 data the buyer signs for an action: a forward request, and a permit when paying needs one. */
export type Intent = ApiIntent & { forwardRequest: NonNullable<ApiIntent["forwardRequest"]> };

/** The ERC-3009 authorization a buyer signs to pay an order in one signature. */
export type AuthorizationIntent = ApiIntent & {
  method: "authorization";
  authorization: NonNullable<ApiIntent["authorization"]>;
};

/** How a payment moves the buyer's tokens; "approval" and "native" are sent by the buyer's wallet, with gas. */
export type PaymentMethod = CheckoutView["paymentMethods"][number];

export interface PayOptions {
  /** Use this method instead of the best one the token supports. */
  method?: PaymentMethod;
}

/** What a payment did: accepted by the relayer (gasless), or sent by the buyer's wallet (its transaction). */
export type PaymentResult =
  (ActionAccepted & { method: "authorization" | "permit" }) | { method: "approval" | "native"; txHash: string };

type Signable = Intent["forwardRequest"] | NonNullable<Intent["permit"]> | AuthorizationIntent["authorization"];
type Signed<T extends Signable> = Pick<T, "domain" | "message"> & { signature: string };

/** The escrow's and an ERC-20's calls a wallet-paid order needs. */
const WALLET_ABI = [
  "function allowance(address owner, address spender) view returns (uint256)",
  "function approve(address spender, uint256 value)",
  "function pay((address merchant, address payee, address buyer, address token, uint256 amount, uint16 maxFeeBps, uint64 paymentDeadline, uint32 shipWithin, uint32 protectionPeriod, uint32 refundWindow, bytes32 itemsHash, bytes32 salt) terms) payable",
];

/** The best payment method first: what needs no gas and fewest signatures. */
export function choosePaymentMethod(supported: readonly PaymentMethod[], forced?: PaymentMethod): PaymentMethod {
  if (forced) {
    if (!supported.includes(forced)) throw new Error(`this order's token does not support ${forced} payments`);
    return forced;
  }
  for (const m of ["authorization", "permit", "approval", "native"] as const) if (supported.includes(m)) return m;
  throw new Error("this order cannot be paid: its token supports no payment method");
}

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

  /** The forward request (and, to pay, the permit) for an action. */
  async intent(chainOrderId: string, action: BuyerAction, details: ActionDetails | string = {}): Promise<Intent> {
    const buyer = await this.signer.getAddress();
    const intent = await ok(
      this.api.POST("/v1/checkout/{chainOrderId}/intents", {
        params: { path: { chainOrderId } },
        body: { action, buyer, ...detailsBody(details) },
      }),
    );
    if (!intent.forwardRequest) throw new Error("the relayer returned no forward request");
    return intent as Intent;
  }

  /** The ERC-3009 authorization that pays the order (the token must support ERC-3009). */
  async authorizationIntent(chainOrderId: string): Promise<AuthorizationIntent> {
    const buyer = await this.signer.getAddress();
    const intent = await ok(
      this.api.POST("/v1/checkout/{chainOrderId}/intents", {
        params: { path: { chainOrderId } },
        body: { action: "pay", buyer, method: "authorization" },
      }),
    );
    if (!intent.authorization) throw new Error("the relayer returned no authorization");
    return intent as AuthorizationIntent;
  }

  private async sign<T extends Signable>(t: T): Promise<Signed<T>> {
    return {
      domain: t.domain,
      message: t.message,
      signature: await this.signer.signTypedData(t.domain, t.types, t.message),
    } as Signed<T>;
  }

  /** Signs the intent's data and submits it; resolves when the relayer has accepted it (202). */
  async act(chainOrderId: string, action: BuyerAction, details: ActionDetails | string = {}): Promise<ActionAccepted> {
    const intent = await this.intent(chainOrderId, action, details);
    const buyer = await this.signer.getAddress();
    const body: SignedAction = {
      action,
      buyer,
      forwardRequest: await this.sign(intent.forwardRequest),
      ...detailsBody(details),
    };
    if (intent.permit) body.permit = await this.sign(intent.permit);
    return ok(this.api.POST("/v1/checkout/{chainOrderId}/actions", { params: { path: { chainOrderId } }, body }));
  }

  /** Signs the order's ERC-3009 authorization and has the relayer submit it (one signature, no gas). */
  async payWithAuthorization(chainOrderId: string): Promise<ActionAccepted> {
    const intent = await this.authorizationIntent(chainOrderId);
    const body: SignedAction = {
      action: "pay",
      buyer: await this.signer.getAddress(),
      authorization: await this.sign(intent.authorization),
    };
    return ok(this.api.POST("/v1/checkout/{chainOrderId}/actions", { params: { path: { chainOrderId } }, body }));
  }

  /**
   * Pays from the buyer's wallet, with its gas: approves the escrow for the amount if the allowance is short
   * (back to zero first when a token refuses to change a non-zero allowance, as USDT does), then calls `pay`.
   * Resolves when the payment is mined.
   */
  async payFromWallet(view: CheckoutView): Promise<{ txHash: string }> {
    if (!view.terms) throw new Error("the order is not on chain yet");
    if (!this.signer.provider)
      throw new Error("this wallet only signs; paying this order needs a wallet that sends transactions");
    const owner = await this.signer.getAddress();
    const escrow = new Contract(view.escrow, WALLET_ABI, this.signer);
    const amount = BigInt(view.terms.amount);
    if (view.token !== "native") {
      const token = new Contract(view.token, WALLET_ABI, this.signer);
      const allowance = (await token.allowance(owner, view.escrow)) as bigint;
      if (allowance < amount) {
        if (allowance !== 0n) await (await token.approve(view.escrow, 0n)).wait();
        await (await token.approve(view.escrow, amount)).wait();
      }
    }
    const tx = await escrow.pay(view.terms, view.token === "native" ? { value: amount } : {});
    await tx.wait();
    return { txHash: tx.hash as string };
  }

  /** Pays the order with the best method its token supports, or `options.method`. */
  async pay(chainOrderId: string, options: PayOptions = {}): Promise<PaymentResult> {
    const view = await this.order(chainOrderId);
    const method = choosePaymentMethod(view.paymentMethods, options.method);
    if (method === "authorization") return { ...(await this.payWithAuthorization(chainOrderId)), method };
    if (method === "permit") return { ...(await this.act(chainOrderId, "pay")), method };
    return { ...(await this.payFromWallet(view)), method };
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
