-- The highest block holding one of the relayer's transactions: with the indexer's checkpoint, the state a
-- revert must be read on before it fails a command (store/chainTxs.ts seenStateBlock).
create index chain_txs_block on chain_txs (block_number) where block_number is not null;
