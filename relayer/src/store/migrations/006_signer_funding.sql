-- Whether each signer can pay for gas, as the process holding its lease last saw it: /readyz fails when none can.
alter table signer_leases
  add column can_pay boolean not null default true,
  add column balance_wei numeric(78, 0),
  add column funding_checked_at timestamptz;
