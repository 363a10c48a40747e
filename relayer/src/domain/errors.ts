/**
 * One error tree with stable codes. The API maps `status` to the HTTP status in one place; `code` is part of
 * the public contract and never changes meaning.
 */
export const ErrorCodes = {
  validation_failed: 400,
  invalid_idempotency_key: 400,
  value_out_of_range: 400,
  webhook_url_forbidden: 400,
  payout_address_forbidden: 400,
  merchant_address_forbidden: 400,
  range_too_large: 400,
  invalid_query: 400,
  metadata_too_many_keys: 400,
  metadata_key_invalid: 400,
  metadata_value_invalid: 400,
  metadata_value_too_long: 400,
  unauthenticated: 401,
  forbidden: 403,
  insufficient_scope: 403,
  owner_key_required: 403,
  not_found: 404,
  route_not_found: 404,
  method_not_allowed: 405,
  idempotency_key_reused: 409,
  idempotency_request_in_progress: 409,
  reference_already_used: 409,
  invalid_order_state: 409,
  no_settlement_proposal: 409,
  settlement_proposal_mismatch: 409,
  order_not_on_chain_yet: 409,
  sku_not_on_chain_yet: 409,
  merchant_not_ready: 409,
  webhook_endpoint_limit_reached: 409,
  api_key_limit_reached: 409,
  payout_change_in_progress: 409,
  webhook_endpoint_disabled: 409,
  payout_address_unchanged: 409,
  no_payout_change_pending: 409,
  payout_address_not_set: 409,
  payout_allowance_missing: 409,
  return_funding_not_allowed: 409,
  order_not_returnable: 409,
  refund_window_closed: 409,
  merchant_address_taken: 409,
  merchant_custodial: 409,
  merchant_signs_itself: 409,
  merchant_setup_in_progress: 409,
  signature_invalid: 400,
  signature_expired: 400,
  wrong_chain: 400,
  wrong_signer: 400,
  signature_replayed: 409,
  signature_mismatch: 400,
  relay_policy_violation: 403,
  arbiter_not_configured: 503,
  gas_budget_exhausted: 402,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  token_not_allowed: 422,
  insufficient_stock: 422,
  return_exceeds_refundable: 422,
  return_token_unsupported: 422,
  rate_limited: 429,
  internal_error: 500,
  not_ready: 503,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "AppError";
    this.status = ErrorCodes[code];
  }

  toJSON(): { error: { code: ErrorCode; message: string; details: Record<string, unknown> } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}
