-- Merchants: each gets a custodial on-chain identity (its key encrypted at rest) that authorises the
-- relayer's signers as operators.
create table merchants (
  id text primary key,
  name text not null,
  address text not null unique,
  encrypted_key text not null,
  status text not null default 'pending',
  sku_counter integer not null default 0,
  created_at timestamptz not null default now()
);

-- API keys: secrets are stored as SHA-256 hashes; the secret is shown once at creation.
create table api_keys (
  id text primary key,
  merchant_id text references merchants(id),
  role text not null check (role in ('merchant', 'arbiter')),
  name text not null,
  scopes text[] not null,
  key_hash text not null unique,
  prefix text not null,
  created_by text,
  created_at timestamptz not null default now(),
  revoked_at timestamptz
);

create table skus (
  id text primary key,
  merchant_id text not null references merchants(id),
  reference text not null,
  name text not null,
  metadata_uri text not null,
  metadata jsonb not null default '{}'::jsonb,
  sku_number integer not null,
  chain_sku_id numeric(78, 0) not null unique,
  status text not null default 'pending',
  created_at timestamptz not null default now(),
  unique (merchant_id, reference),
  unique (merchant_id, sku_number)
);

create table orders (
  id text primary key,
  merchant_id text not null references merchants(id),
  reference text not null,
  chain_order_id text not null unique,
  buyer text,
  token text not null,
  amount numeric(78, 0) not null,
  items jsonb not null default '[]'::jsonb,
  payment_deadline bigint not null,
  ship_within integer not null,
  protection_period integer not null,
  status text not null default 'pending',
  record jsonb,
  created_tx_hash text,
  created_block bigint,
  created_log_index integer,
  last_event_block bigint,
  error_code text,
  error_message text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (merchant_id, reference)
);
create index orders_merchant_created on orders (merchant_id, created_at desc, id desc);
create index orders_merchant_status on orders (merchant_id, status);
create index orders_buyer on orders (lower(buyer));
create index orders_items on orders using gin (items jsonb_path_ops);

-- Durable chain commands: written in the same transaction as the change they carry.
create table commands (
  id bigserial primary key,
  kind text not null,
  merchant_id text references merchants(id),
  order_id text references orders(id),
  sku_id text references skus(id),
  payload jsonb not null,
  status text not null default 'pending' check (status in ('pending', 'claimed', 'submitted', 'confirmed', 'failed')),
  attempts integer not null default 0,
  claimed_by text,
  claimed_at timestamptz,
  not_before timestamptz not null default now(),
  tx_signer text,
  tx_nonce bigint,
  batch_index integer,
  error_code text,
  error_message text,
  api_key_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index commands_pending on commands (id) where status = 'pending';
create index commands_order on commands (order_id, id);
create index commands_merchant on commands (merchant_id, id);
create index commands_open on commands (status) where status in ('pending', 'claimed', 'submitted');
create index commands_submitted on commands (tx_signer, tx_nonce) where status = 'submitted';

-- Every signed transaction is stored before it is broadcast, so a crash can only resend the same bytes.
create table chain_txs (
  id bigserial primary key,
  signer text not null,
  nonce bigint not null,
  hash text not null unique,
  raw text not null,
  kind text not null,
  max_fee_per_gas numeric(78, 0) not null,
  max_priority_fee_per_gas numeric(78, 0) not null,
  gas_limit bigint not null,
  status text not null default 'sent' check (status in ('sent', 'mined', 'confirmed', 'replaced', 'reverted', 'dropped')),
  block_number bigint,
  gas_used bigint,
  replaces bigint,
  sent_at timestamptz not null default now(),
  mined_at timestamptz
);
create index chain_txs_open on chain_txs (signer, nonce) where status in ('sent', 'mined');

create table signer_leases (
  address text primary key,
  owner text,
  expires_at timestamptz not null default now()
);

create table relayer_instances (
  id text primary key,
  heartbeat_at timestamptz not null default now()
);

-- Indexer: checkpoint, recent block hashes (reorg detection), and every event it applied.
create table indexer_state (
  id integer primary key default 1 check (id = 1),
  last_block bigint not null,
  last_hash text,
  updated_at timestamptz not null default now()
);

create table indexed_blocks (
  number bigint primary key,
  hash text not null,
  parent_hash text not null
);

create table chain_events (
  id bigserial primary key,
  block_number bigint not null,
  block_hash text not null,
  tx_hash text not null,
  log_index integer not null,
  contract text not null,
  name text not null,
  order_id text,
  merchant text,
  args jsonb not null,
  block_time bigint,
  unique (block_number, log_index)
);
create index chain_events_order on chain_events (order_id, block_number, log_index);

create table idempotency_keys (
  scope text not null,
  key text not null,
  request_hash text not null,
  status_code integer,
  response jsonb,
  created_at timestamptz not null default now(),
  primary key (scope, key)
);

create table audit_log (
  id bigserial primary key,
  merchant_id text,
  api_key_id text,
  action text not null,
  resource_type text not null,
  resource_id text,
  details jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
create index audit_merchant on audit_log (merchant_id, id desc);
