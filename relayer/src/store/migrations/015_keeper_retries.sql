-- A keeper command that failed (a refusal that may pass: a reorg took the chain's clock back, a batch ran short
-- of gas) no longer blocks the order's next attempt. At most one live or carried-out keeper command per order and
-- action, whatever the number of relayer processes; failed ones stay as the attempts' history, from which the
-- keepers derive the backoff and the cap of further attempts (relayer/src/store/keepers.ts).
drop index commands_keeper_once;
create unique index commands_keeper_once on commands (order_id, kind)
  where kind in ('keeper_release', 'keeper_expire', 'keeper_dispute_default') and status <> 'failed';

-- The failed attempts of an order's keeper action, counted at every pass for the orders due.
create index commands_keeper_failed on commands (order_id, kind, updated_at)
  where kind in ('keeper_release', 'keeper_expire', 'keeper_dispute_default') and status = 'failed';
