-- Reconciliation's own reading of the escrow's logs, kept so that a report asks the node only for new blocks.
-- Every order of the escrow is here (not only the relayer's): the contract's balance covers them all. A reorg
-- rollback deletes the rows after the common ancestor and lowers `scanned_to`; `generation` changes with every
-- rollback, so a scan that read the replaced blocks cannot commit.
create table reconcile_state (
  id integer primary key default 1 check (id = 1),
  scanned_to bigint not null,
  generation bigint not null default 0,
  updated_at timestamptz not null default now()
);

-- Each OrderCreated: whose order it is and in which token.
create table reconcile_orders (
  order_id text primary key,
  merchant text not null,
  token text not null,
  block_number bigint not null
);
create index reconcile_orders_block on reconcile_orders (block_number);

-- Each money-moving escrow event, as the changes it makes: to the order's escrowed amount, to the payee's
-- payouts (merchant = the event's payee merchant), to the payouts credited and not withdrawn (per token).
create table reconcile_movements (
  block_number bigint not null,
  log_index integer not null,
  order_id text,
  merchant text,
  token text,
  escrowed numeric(78, 0),
  paid_out numeric(78, 0),
  credited numeric(78, 0),
  primary key (block_number, log_index)
);
