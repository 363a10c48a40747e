/** EIP-712 types the buyer's wallet signs for gasless actions. */
export const FORWARD_REQUEST_TYPES = {
  ForwardRequest: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "gas", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint48" },
    { name: "data", type: "bytes" },
  ],
};

export const PERMIT_TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

/**
 * ERC-3009 `receiveWithAuthorization` (USDC, EURC), signed in the token's own EIP-712 domain. The escrow takes it
 * with the order's EIP-712 digest in the escrow's domain as the nonce (`payWithAuthorization`,
 * `checkoutWithAuthorization`), so the signature pays exactly this order on this escrow, once.
 */
export const RECEIVE_WITH_AUTHORIZATION_TYPES = { ReceiveWithAuthorization: authorizationFields() };

/** ERC-3009 `transferWithAuthorization`: the same fields; anyone may submit it (the relayer's sweeps). */
export const TRANSFER_WITH_AUTHORIZATION_TYPES = { TransferWithAuthorization: authorizationFields() };

function authorizationFields() {
  return [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ];
}

export interface Domain {
  name: string;
  version: string;
  chainId: string;
  verifyingContract: string;
}

export interface ForwardRequestMessage {
  from: string;
  to: string;
  value: string;
  gas: string;
  nonce: string;
  deadline: string;
  data: string;
}

/**
 * A forward request its signer signed, flat, integers as decimal strings: how a merchant's wallet sends its
 * approvals of the relayer's operators, and how the merchant_setup command's payload stores them.
 */
export interface SignedApproval extends ForwardRequestMessage {
  signature: string;
}

export interface PermitMessage {
  owner: string;
  spender: string;
  value: string;
  nonce: string;
  deadline: string;
}

export interface AuthorizationMessage {
  from: string;
  to: string;
  value: string;
  validAfter: string;
  validBefore: string;
  nonce: string;
}

export interface TypedData<M> {
  domain: Domain;
  types: Record<string, { name: string; type: string }[]>;
  primaryType: string;
  message: M;
}

export type BuyerAction = "pay" | "confirm" | "dispute" | "propose_settlement" | "accept_settlement";

/** How a gasless payment moves the buyer's tokens: an ERC-3009 authorization, or an EIP-2612 permit. */
export type GaslessMethod = "authorization" | "permit";

/**
 * What the relayer returns for a gasless action: the data to sign. A payment by `authorization`: one ERC-3009
 * message the relayer submits with `payWithAuthorization`. Every other action, and a payment by `permit`: a
 * forward request, with a permit for the payment; by `approval` (a token without EIP-2612): the forward request
 * alone, which pays once the buyer has approved the escrow itself.
 */
export interface BuyerIntent {
  action: BuyerAction;
  /** Pay only: how the tokens move. */
  method?: GaslessMethod | "approval";
  chainId: string;
  chainOrderId: string;
  permit?: TypedData<PermitMessage>;
  forwardRequest?: TypedData<ForwardRequestMessage>;
  authorization?: TypedData<AuthorizationMessage>;
}

/** What the buyer sends back: the messages as signed and their signatures. */
export interface SignedBuyerAction {
  action: BuyerAction;
  buyer: string;
  evidence?: string;
  /**
   * For `propose_settlement` and `accept_settlement`: the buyer's share of the whole order (partial refunds
   * included); the rest goes to the payee minus the fee.
   */
  buyerTotal?: string;
  permit?: { message: PermitMessage; signature: string; domain: Domain };
  /** Every action except a payment by ERC-3009 authorization. */
  forwardRequest?: { message: ForwardRequestMessage; signature: string; domain: Domain };
  /** A payment by ERC-3009 authorization (then without a forward request). */
  authorization?: { message: AuthorizationMessage; signature: string; domain: Domain };
}
