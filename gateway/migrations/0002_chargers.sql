-- Chargers (OCPP 2.0.1 stations with OCMF-signed meter values): what the gateway checked and
-- keeps for audit, and the captures waiting for their boundary to pass before they are signed.

-- Per station: the meter's highest pagination counter, last register, last capture.
CREATE TABLE charger_meter (
    station TEXT PRIMARY KEY NOT NULL,
    meter TEXT NOT NULL,                   -- bytes32 market meter id, 0x-hex
    last_page INTEGER,
    last_wh INTEGER,
    capture_t INTEGER,
    capture_wh INTEGER
);

-- Per transaction: its last counter, whether its end was seen.
CREATE TABLE charger_txn (
    station TEXT NOT NULL,
    txn TEXT NOT NULL,
    last_page INTEGER NOT NULL,
    ended INTEGER NOT NULL,
    PRIMARY KEY (station, txn)
);

-- Every record that passed the checks, exactly as the meter signed it (an auditor re-verifies
-- these against the station's key).
CREATE TABLE charger_records (
    station TEXT NOT NULL,
    digest TEXT NOT NULL,                  -- SHA-256 of the payload bytes, 0x-hex
    txn TEXT NOT NULL,
    page INTEGER NOT NULL,
    record TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (station, digest)
);

-- Captures on the 5-minute grid; held until their boundary has passed, then used (signed into
-- the outbox in the same transaction) or refused by the interval rule.
CREATE TABLE charger_captures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    station TEXT NOT NULL,
    meter TEXT NOT NULL,
    t INTEGER NOT NULL,
    import_wh INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'held' CHECK (state IN ('held', 'used', 'refused'))
);

CREATE INDEX charger_captures_held ON charger_captures (t) WHERE state = 'held';
