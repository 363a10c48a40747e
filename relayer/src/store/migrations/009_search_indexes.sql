-- Every list, read and book query of a merchant walks an index in the order it returns rows, at any size.

-- An order's line items, one row per SKU (quantities of a SKU named twice are added), written by the statement
-- that accepts the order. A listing by SKU walks (merchant, sku, created_at desc, order desc) in date order,
-- which the GIN index on orders.items cannot do (it returns every match, then they are sorted). That index
-- stays while a query still filters on orders.items.
create table order_items (
  order_id text not null references orders(id),
  merchant_id text not null,
  sku_id text not null,
  created_at timestamptz not null,
  quantity numeric(78, 0) not null,
  primary key (order_id, sku_id)
);
insert into order_items (order_id, merchant_id, sku_id, created_at, quantity)
select o.id, o.merchant_id, i->>'sku', o.created_at, sum((i->>'quantity')::numeric)
from orders o cross join lateral jsonb_array_elements(o.items) as i
where i->>'sku' is not null
group by o.id, i->>'sku';
create index order_items_merchant_sku_created on order_items (merchant_id, sku_id, created_at desc, order_id desc);

-- Status and buyer filters return pages in the listing's order straight from their index.
create index orders_merchant_status_created on orders (merchant_id, status, created_at desc, id desc);
drop index orders_merchant_status;
create index orders_merchant_buyer_created on orders (merchant_id, lower(buyer), created_at desc, id desc);
drop index orders_buyer;

-- Ledger lines by block time: the keyset (block time, id), a line of unknown time (none is posted without
-- one when the block's header was read) counting as time 0.
update ledger_entries l set block_time = e.block_time
from chain_events e
where l.event_id = e.id and l.block_time is null and e.block_time is not null;
create index ledger_merchant_block_time on ledger_entries (merchant_id, (coalesce(block_time, 0)), id);

-- Running totals of every account, kept by the statement that posts a ledger line and by the reorg rollback
-- that deletes lines: the balances endpoint and reconciliation read them instead of summing every line.
create table ledger_balances (
  merchant_id text not null references merchants(id),
  token text not null,
  account text not null,
  debit numeric not null default 0,
  credit numeric not null default 0,
  -- debit - credit
  balance numeric not null default 0,
  primary key (merchant_id, token, account)
);
insert into ledger_balances (merchant_id, token, account, debit, credit, balance)
select merchant_id, token, account, sum(debit), sum(credit), sum(debit) - sum(credit)
from ledger_entries
group by merchant_id, token, account;

-- The gasless relay's admission checks: the buyer's and the merchant's requests of the last minute (forwarded
-- requests and ERC-3009 authorizations), and a queued request with the same forwarder nonce, each an index range
-- instead of a scan of every command.
create index commands_relay_buyer on commands (lower(payload->>'buyer'), created_at)
  where kind in ('relay_forward', 'relay_authorization');
create index commands_relay_merchant on commands (merchant_id, created_at)
  where kind in ('relay_forward', 'relay_authorization');
create index commands_relay_nonce on commands (lower(payload->>'buyer'), (payload->'request'->>'nonce'))
  where kind = 'relay_forward';
