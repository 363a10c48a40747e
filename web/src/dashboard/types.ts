/** The shapes of the relayer's /v1 answers that the dashboard reads. */
import type { ApiProposal, TermsJson } from "../lib/terms";
import type { allowedActions } from "../../../sdk/orderActions";

export type AllowedActions = ReturnType<typeof allowedActions>;

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export interface Order {
  id: string;
  reference: string;
  chainOrderId: string;
  status: string;
  buyer: string | null;
  token: string;
  amount: string;
  escrowed: string | null;
  /** Returned to the buyer by partial refunds. */
  refunded?: string | null;
  /** The fee fixed on chain at creation. */
  feeBps: number | null;
  /** The highest fee the order's terms accept. */
  maxFeeBps?: number | null;
  /** Receives the merchant's share at settlement. */
  payee?: string | null;
  deadline: string | null;
  /** While disputed: after this time anyone may refund the buyer everything escrowed. */
  disputeDefaultAfter?: string | null;
  settlementProposal?: ApiProposal | null;
  /** What each party may do now: the relayer's table (sdk/orderActions.ts), so the page offers no action the API
   * would refuse. */
  allowedActions: AllowedActions;
  /** The order's fixed terms (numbers as decimal strings); chainOrderId is their EIP-712 hash. */
  terms?: TermsJson | null;
  items: { sku: string; chainSkuId: string; quantity: number }[];
  paymentDeadline: string;
  chainProof: { txHash: string; blockNumber: number; logIndex: number } | null;
  error: { code: string; message: string } | null;
  createdAt: string;
}

export interface OrderDetail extends Order {
  events: {
    name: string;
    txHash: string;
    blockNumber: number;
    logIndex: number;
    at: string | null;
    args: Record<string, string>;
  }[];
  commands: {
    id: string;
    kind: string;
    status: string;
    error: { code: string; message: string } | null;
    createdAt: string;
  }[];
}

export interface LedgerEntry {
  id: string;
  chainOrderId: string;
  token: string;
  account: string;
  debit: string;
  credit: string;
  blockNumber: number;
  at: string | null;
  txHash: string;
}
