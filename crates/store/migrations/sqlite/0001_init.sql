-- sealgrid store, schema 1 (sqlite). Hashes, addresses and ids are raw bytes; u64/u128 amounts
-- that may exceed i64 are decimal TEXT; quantities (< 2^48 Wh) and prices are BIGINT.

-- Every Committed event of the auction, as indexed from the chain (the on-chain sequence).
CREATE TABLE commitments (
    market       BLOB NOT NULL,
    interval_idx BIGINT NOT NULL,
    idx          BIGINT NOT NULL,
    trader       BLOB NOT NULL,
    commitment   BLOB NOT NULL,
    lock_amount  TEXT NOT NULL,
    accumulator  BLOB NOT NULL,
    block_number BIGINT NOT NULL,
    log_index    BIGINT NOT NULL,
    withdrawn    INTEGER NOT NULL DEFAULT FALSE,
    PRIMARY KEY (market, interval_idx, idx)
);
CREATE INDEX commitments_by_value ON commitments (market, interval_idx, commitment);

-- Named progress markers (the chain indexer's next block, ...).
CREATE TABLE cursors (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

-- Orders opened to the operator: the signed order and the operator's receipt.
CREATE TABLE orders (
    digest            BLOB PRIMARY KEY,
    market            BLOB NOT NULL,
    interval_idx      BIGINT NOT NULL,
    idx               BIGINT NOT NULL,
    trader            BLOB NOT NULL,
    side              BIGINT NOT NULL,
    quantity_wh       BIGINT NOT NULL,
    limit_price       BIGINT NOT NULL,
    nonce             TEXT NOT NULL,
    salt              BLOB NOT NULL,
    commitment        BLOB NOT NULL,
    signature         BLOB NOT NULL,
    receipt_signature BLOB NOT NULL,
    received_at       BIGINT NOT NULL,
    UNIQUE (market, interval_idx, idx),
    UNIQUE (trader, nonce)
);
CREATE INDEX orders_by_interval ON orders (market, interval_idx);

-- One row per cleared interval. status: cleared -> handed_off.
CREATE TABLE batches (
    market       BLOB NOT NULL,
    interval_idx BIGINT NOT NULL,
    status       TEXT NOT NULL,
    count        BIGINT NOT NULL,
    accumulator  BLOB NOT NULL,
    price        BIGINT,
    volume       BIGINT NOT NULL,
    fills        TEXT NOT NULL,
    cleared_at   BIGINT NOT NULL,
    handed_at    BIGINT,
    PRIMARY KEY (market, interval_idx)
);
