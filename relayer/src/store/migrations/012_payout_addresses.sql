-- Where a merchant's revenue goes instead of its custodial address. `address` is what the escrow's registry shows
-- (payoutAddressOf) once the relayer relayed the merchant's setPayoutAddress; a requested change is pending until
-- `pending_due_at` (PAYOUT_CHANGE_DELAY_SECONDS after the request), cancellable meanwhile, then applied on chain
-- by the command `pending_command_id`.
create table payout_addresses (
  merchant_id text primary key references merchants(id),
  address text,
  activated_at timestamptz,
  pending_address text,
  pending_due_at timestamptz,
  pending_requested_at timestamptz,
  pending_requested_by text,
  pending_command_id bigint,
  updated_at timestamptz not null default now(),
  check ((pending_address is null) = (pending_due_at is null))
);

-- Returns in flight per order are summed from their commands: the amounts they carry.
create index commands_return_order on commands (order_id) where kind = 'return_order';
