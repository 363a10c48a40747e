-- The gas budget's check (every order, every gasless relay, under the merchant's budget lock) and the relay
-- policy subtract or count the gasless relays a buyer made revert (store/relayReverts.ts). Both read only failed
-- relay commands, through these partial indexes: a merchant's or a buyer's whole history of commands is never
-- walked (a big merchant has millions).
create index commands_relay_failed_merchant on commands (merchant_id, updated_at)
  where status = 'failed' and kind in ('relay_forward', 'relay_authorization');
create index commands_relay_failed_buyer on commands (lower(payload->>'buyer'), updated_at)
  where status = 'failed' and kind in ('relay_forward', 'relay_authorization');
