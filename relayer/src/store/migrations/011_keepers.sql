-- Keepers: the relayer releases shipped orders past their protection period, cancels unpaid orders past their
-- payment deadline and applies the default outcome of disputes past their deadline (relayer/src/keepers/).

-- Each merchant may turn each keeper off for its own orders; all are on by default.
alter table merchants
  add column keeper_release boolean not null default true,
  add column keeper_expire boolean not null default true,
  add column keeper_dispute_default boolean not null default true;

-- At most one keeper command per order and action, whatever the number of relayer processes: a second insert
-- of the same pair does nothing (insert ... on conflict do nothing).
create unique index commands_keeper_once on commands (order_id, kind)
  where kind in ('keeper_release', 'keeper_expire', 'keeper_dispute_default');

-- Due orders are found by status and on-chain deadline without walking every order.
create index orders_keeper_due on orders (status, ((record->>'deadline')::bigint))
  where status in ('created', 'shipped', 'disputed');

comment on column merchants.keeper_release is
  'The relayer releases the payment of a shipped order once its protection period ended (escrow autoRelease)';
comment on column merchants.keeper_expire is
  'The relayer cancels an unpaid order once its payment deadline passed; its stock returns (escrow cancel)';
comment on column merchants.keeper_dispute_default is
  'The relayer applies the default outcome of a dispute once its deadline passed (escrow settleExpiredDispute)';
