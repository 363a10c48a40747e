-- Webhooks: endpoints per merchant (secret encrypted at rest, shown once), one event per order state change
-- derived by the indexer, one delivery per endpoint and event.
create table webhook_endpoints (
  id text primary key,
  merchant_id text not null references merchants(id),
  url text not null,
  events text[] not null,
  encrypted_secret text not null,
  created_at timestamptz not null default now(),
  disabled_at timestamptz
);

create table webhook_events (
  id text primary key,
  merchant_id text not null references merchants(id),
  order_id text references orders(id),
  type text not null,
  sequence integer not null,
  payload jsonb not null,
  created_at timestamptz not null default now()
);
create index webhook_events_merchant on webhook_events (merchant_id, created_at desc);

create table webhook_deliveries (
  id bigserial primary key,
  event_id text not null references webhook_events(id),
  endpoint_id text not null references webhook_endpoints(id),
  status text not null default 'pending' check (status in ('pending', 'delivering', 'delivered', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_status_code integer,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_endpoint on webhook_deliveries (endpoint_id, id desc);

-- Per-order sequence of webhook events and the last status announced.
alter table orders add column webhook_sequence integer not null default 0;
alter table orders add column announced_status text;

-- Double-entry ledger derived from chain events: every event posts balanced lines per merchant and token.
create table ledger_entries (
  id bigserial primary key,
  event_id bigint not null references chain_events(id) on delete cascade,
  merchant_id text not null references merchants(id),
  order_id text,
  token text not null,
  account text not null,
  debit numeric(78, 0) not null default 0,
  credit numeric(78, 0) not null default 0,
  block_number bigint not null,
  block_time bigint,
  tx_hash text not null
);
create index ledger_merchant_time on ledger_entries (merchant_id, token, block_number, id);
create index ledger_order on ledger_entries (order_id);

-- Gasless relaying: what the relayer paid for each merchant, and buyer-submitted dispute evidence.
create table relay_spend (
  id bigserial primary key,
  merchant_id text not null references merchants(id),
  command_id bigint,
  tx_hash text,
  gas_used numeric(78, 0) not null,
  cost_wei numeric(78, 0) not null,
  created_at timestamptz not null default now()
);
create index relay_spend_merchant on relay_spend (merchant_id, created_at);

create table dispute_evidence (
  order_id text primary key references orders(id),
  buyer text not null,
  evidence text not null,
  evidence_hash text not null,
  created_at timestamptz not null default now()
);

alter table merchants add column gas_budget_wei numeric(78, 0);
