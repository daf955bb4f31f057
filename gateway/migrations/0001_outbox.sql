-- The gateway's durable state: per meter, the last capture used as a base; the outbox of signed
-- readings in the order they were signed; and the device data it refused.

CREATE TABLE meter_base (
    meter TEXT PRIMARY KEY NOT NULL,       -- bytes32 meter id, 0x-hex
    t INTEGER NOT NULL,                    -- capture time (unix s)
    import_wh INTEGER NOT NULL,
    export_wh INTEGER NOT NULL
);

CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, -- delivery order
    meter TEXT NOT NULL,
    interval INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    item TEXT NOT NULL,                    -- the JSON item of POST /v1/readings: {reading, signature}
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'accepted', 'duplicate', 'refused')),
    code TEXT,                             -- the node's refusal code
    message TEXT,
    signed_at INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (meter, interval, revision)
);

CREATE INDEX outbox_pending ON outbox (seq) WHERE state = 'pending';

CREATE TABLE device_refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,                  -- meter id or charger id
    at INTEGER NOT NULL,
    code TEXT NOT NULL,                    -- stable: backwards, clock_skew, read_failed, ...
    message TEXT NOT NULL
);
