-- The highest block holding one of the relayer's transactions: with the indexer's checkpoint, the state a
-- revert must be read on before it fails a command (store/chainTxs.ts seenStateBlock).
create index chain_txs_block on chain_txs (block_number) where block_number is not null;
-- A signer's transactions by nonce, whatever their status: recovery reads the refusals above its last mined
-- transaction (store/chainTxs.ts unsettledRefusals).
create index chain_txs_signer_nonce on chain_txs (signer, nonce);
