-- Who signs for a merchant's address: the relayer, with the custodial key it generated (encrypted at rest), or
-- the merchant itself, in its own wallet (external: the relayer holds no key and relays what the wallet signs).
alter table merchants alter column encrypted_key drop not null;
alter table merchants
  add column signer_kind text not null default 'custodial' check (signer_kind in ('custodial', 'external'));
alter table merchants
  add constraint merchants_key_matches_signer check ((signer_kind = 'custodial') = (encrypted_key is not null));
comment on column merchants.signer_kind is
  'custodial: the relayer holds the address''s key (encrypted_key); external: the merchant''s own wallet signs';

-- One merchant per address, however it is spelt: an address a merchant brings may come in any letter case.
create unique index merchants_address_lower on merchants (lower(address));
