-- Gas budgets reserve the expected gas of a merchant's commands from their acceptance until they are metered:
-- counting a merchant's open commands must not walk all of its commands.
create index commands_merchant_open on commands (merchant_id) where status in ('pending', 'claimed', 'submitted');
