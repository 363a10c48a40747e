-- Escrow v2: an order is its fixed terms, whose EIP-712 struct hash is the chain order id. The relayer builds the
-- terms when it accepts an order and keeps them: every later call (ship, refund, cancel, settlement, buyer
-- actions) is encoded from them, without waiting for the indexer.
alter table orders add column terms jsonb;

comment on column orders.terms is
  'OrderTerms as JSON (numbers as decimal strings), fixed at acceptance; chain_order_id = orderIdOf(terms, items)';
comment on column orders.record is
  'OrderView folded from the order''s escrow events (terms, items, feeBps, state, deadline, buyer, escrowed, refunded, proposal)';
