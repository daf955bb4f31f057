-- sealgrid store, schema 2 (sqlite): the delivery service (DESIGN 3.7-3.8). Readings and prices
-- are stored here before the API acknowledges them; the delivery loop moves them on-chain,
-- settles each interval at its reading deadline, resettles what changed after, and issues
-- certificates, recording every step so that a restart resumes where it stopped.

-- Gateway-signed meter readings accepted by POST /v1/readings, every revision kept.
-- state: pending (not on-chain yet), onchain, refused (the chain refused it after intake:
-- reason says why).
CREATE TABLE readings (
    meter        BLOB NOT NULL,
    interval_idx BIGINT NOT NULL,
    revision     BIGINT NOT NULL,
    import_wh    BIGINT NOT NULL,
    export_wh    BIGINT NOT NULL,
    quality      BIGINT NOT NULL,
    signature    BLOB NOT NULL,
    signer       BLOB NOT NULL,
    received_at  BIGINT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending',
    reason       TEXT,
    PRIMARY KEY (meter, interval_idx, revision)
);
CREATE INDEX readings_by_state ON readings (state, interval_idx);

-- Oracle-signed real-time prices accepted by POST /v1/prices, every revision kept.
CREATE TABLE prices (
    market       BLOB NOT NULL,
    interval_idx BIGINT NOT NULL,
    revision     BIGINT NOT NULL,
    price        BIGINT NOT NULL,
    signature    BLOB NOT NULL,
    received_at  BIGINT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending',
    reason       TEXT,
    PRIMARY KEY (market, interval_idx, revision)
);
CREATE INDEX prices_by_state ON prices (state, interval_idx);

-- The registry's meters, indexed from its events: market, generator flag, and every owner a
-- meter ever had (settlement covers each of them).
CREATE TABLE meters (
    meter     BLOB PRIMARY KEY,
    market    BLOB NOT NULL,
    generator INTEGER NOT NULL
);
CREATE TABLE meter_owners (
    meter BLOB NOT NULL,
    owner BLOB NOT NULL,
    PRIMARY KEY (meter, owner)
);

-- Delivery progress of a market interval: settle_started_at is set before the first settle
-- transaction, settled_at once every account is settled.
CREATE TABLE delivery_intervals (
    market            BLOB NOT NULL,
    interval_idx      BIGINT NOT NULL,
    settle_started_at BIGINT,
    settled_at        BIGINT,
    accounts          BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (market, interval_idx)
);

-- The accounts an interval was settled for.
CREATE TABLE delivery_accounts (
    market       BLOB NOT NULL,
    interval_idx BIGINT NOT NULL,
    account      BLOB NOT NULL,
    PRIMARY KEY (market, interval_idx, account)
);

-- Accounts of settled intervals whose data changed after settlement (a late or corrected
-- reading, a revised price): resettled, then removed.
CREATE TABLE resettle_queue (
    market       BLOB NOT NULL,
    interval_idx BIGINT NOT NULL,
    account      BLOB NOT NULL,
    queued_at    BIGINT NOT NULL,
    PRIMARY KEY (market, interval_idx, account)
);

-- Certificate issuance per market and hour (issued_at NULL: due again, a generator's reading
-- of the hour arrived after issuance).
CREATE TABLE certificate_hours (
    market    BLOB NOT NULL,
    hour      BIGINT NOT NULL,
    issued_at BIGINT,
    wh        TEXT NOT NULL DEFAULT '0',
    PRIMARY KEY (market, hour)
);
