-- Certificates moved along P2P fills (DESIGN 3.8), per market hour and seller.
--
-- certificate_hours.move_plan holds the moves of the hour the node is sending (JSON), written
-- before the first transaction and cleared in the transaction that records what landed;
-- move_block is the block the plan was made at (a restart looks for its transfers from there).
-- moved_at < issued_at (or NULL after an issuance): the hour has certificates to move again.
ALTER TABLE certificate_hours ADD COLUMN move_plan TEXT;
ALTER TABLE certificate_hours ADD COLUMN move_block BIGINT;
ALTER TABLE certificate_hours ADD COLUMN moved_at BIGINT;

-- Wh of its own certificates a seller has passed to buyers for an hour (never more than it sold
-- in the hour's fills).
CREATE TABLE certificate_moves (
    market   BYTEA NOT NULL,
    hour     BIGINT NOT NULL,
    seller   BYTEA NOT NULL,
    moved_wh TEXT NOT NULL DEFAULT '0',
    PRIMARY KEY (market, hour, seller)
);
