-- The commands each transaction carried, written with the transaction in the same database transaction as the
-- commands are marked submitted: after a nonce was given back (a refusal), more than one transaction's commands
-- may stand at it, and what a transaction mined later ran must survive a restart or a lease hand-off.
alter table chain_txs add column command_ids bigint[];
