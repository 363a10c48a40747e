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
 * with the order id as the nonce (`payWithAuthorization`, `checkoutWithAuthorization`).
 */
export const RECEIVE_WITH_AUTHORIZATION_TYPES = {
  ReceiveWithAuthorization: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ],
};

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

export interface PermitMessage {
  owner: string;
  spender: string;
  value: string;
  nonce: string;
  deadline: string;
}

export interface TypedData<M> {
  domain: Domain;
  types: Record<string, { name: string; type: string }[]>;
  primaryType: string;
  message: M;
}

export type BuyerAction = "pay" | "confirm" | "dispute" | "propose_settlement" | "accept_settlement";

/** What the relayer returns for a gasless action: the data to sign, one or two messages. */
export interface BuyerIntent {
  action: BuyerAction;
  chainId: string;
  chainOrderId: string;
  permit?: TypedData<PermitMessage>;
  forwardRequest: TypedData<ForwardRequestMessage>;
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
  forwardRequest: { message: ForwardRequestMessage; signature: string; domain: Domain };
}
