-- Gas metering of every command a merchant causes, not only the relayed ones: a transaction's gas is shared
-- between its commands and recorded once per command and transaction (relay_spend), and summed per merchant and
-- UTC day (merchant_gas_daily), so the budget check over the last 30 days reads at most 30 rows.

-- A transaction finalized again after a crash must not count twice: keep the first row of each pair.
delete from relay_spend s using relay_spend first
  where s.command_id = first.command_id and s.tx_hash = first.tx_hash and s.id > first.id;
create unique index relay_spend_command_tx on relay_spend (command_id, tx_hash);

create table merchant_gas_daily (
  merchant_id text not null references merchants(id),
  day date not null,
  gas_used numeric(78, 0) not null default 0,
  cost_wei numeric(78, 0) not null default 0,
  primary key (merchant_id, day)
);

insert into merchant_gas_daily (merchant_id, day, gas_used, cost_wei)
  select merchant_id, (created_at at time zone 'UTC')::date, sum(gas_used), sum(cost_wei)
  from relay_spend group by 1, 2;

comment on column merchants.gas_budget_wei is
  'Gas (wei) the relayer may spend for the merchant over the last 30 days; null: the default (GAS_BUDGET_DEFAULT_ETH)';
