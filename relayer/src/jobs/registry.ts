/** Every command kind's handler: the writer carries commands out through this table and nothing else. */
import type { JobRegistry } from "../chain/jobPort";
import { createOrder } from "./createOrder";
import { keeperJobs } from "./keepers";
import { merchantSetup } from "./merchantSetup";
import { orderCalls } from "./orderCalls";
import { setPayoutAddress, sweepPayouts } from "./payouts";
import { relayAuthorization } from "./authorization";
import { relayForward, relayPermit } from "./relayed";
import { returnOrder } from "./returnOrder";
import { resolveDispute } from "./resolveDispute";
import { burnStock, createSku, mintStock } from "./stock";

export const JOBS = {
  merchant_setup: merchantSetup,
  create_sku: createSku,
  mint_stock: mintStock,
  burn_stock: burnStock,
  create_order: createOrder,
  ...orderCalls,
  resolve_dispute: resolveDispute,
  relay_permit: relayPermit,
  relay_forward: relayForward,
  relay_authorization: relayAuthorization,
  set_payout_address: setPayoutAddress,
  sweep_payouts: sweepPayouts,
  return_order: returnOrder,
  ...keeperJobs,
} satisfies JobRegistry;
