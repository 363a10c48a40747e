-- Order metadata (the merchant's string keys and values) and the indexes of the order search: every field of
-- the query language (relayer/src/domain/searchQuery.ts) and every sort key is served by an index.

alter table orders add column metadata jsonb not null default '{}'::jsonb;
comment on column orders.metadata is
  'The merchant''s own string keys and values (at most 50 keys, keys up to 40 and values up to 500 characters)';

-- updated_at moves on every change of the order a merchant can see, whichever statement makes it, and only
-- then (an update that rewrites the same values, or only the webhook bookkeeping columns, keeps it): the
-- updated_since filter and the updated sort rely on it.
create function orders_touch_updated_at() returns trigger language plpgsql as $$
begin
  if (to_jsonb(new) - array['updated_at', 'webhook_sequence', 'announced_status'])
     is distinct from (to_jsonb(old) - array['updated_at', 'webhook_sequence', 'announced_status']) then
    new.updated_at := greatest(now(), old.updated_at);
  else
    new.updated_at := old.updated_at;
  end if;
  return new;
end $$;
create trigger orders_touch_updated_at before update on orders
  for each row execute function orders_touch_updated_at();

-- metadata['key']:'value' (metadata @> '{"key":"value"}'), ANDed with the merchant's own rows.
create index orders_metadata on orders using gin (metadata jsonb_path_ops);
-- reference:'INV-*' (a prefix: reference like 'INV-%'), and the exact reference (the unique key).
create index orders_merchant_reference_prefix on orders (merchant_id, reference text_pattern_ops);
-- updated>=..., the updated_since filter and sort=updated_at.
create index orders_merchant_updated on orders (merchant_id, updated_at desc, id desc);
-- amount comparisons and sort=amount.
create index orders_merchant_amount on orders (merchant_id, amount desc, id desc);
-- token:'0x...' (any letter case).
create index orders_merchant_token on orders (merchant_id, lower(token), created_at desc, id desc);
-- tx:'0x...': the order's chain events by transaction, and the commands a relayer transaction carried.
create index chain_events_tx on chain_events (tx_hash);
create index commands_tx on commands (tx_signer, tx_nonce) where tx_signer is not null;
