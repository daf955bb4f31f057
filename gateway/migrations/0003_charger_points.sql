-- Chargers: every checked reading of a transaction, in the order accepted, with the time it
-- counts at (its boundary when it counts for one, else its own time): what the transaction's
-- running cost at the cleared prices is computed from (src/prices.rs).
CREATE TABLE charger_points (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    station TEXT NOT NULL,
    txn TEXT NOT NULL,
    t INTEGER NOT NULL,
    import_wh INTEGER NOT NULL
);

CREATE INDEX charger_points_txn ON charger_points (station, txn, id);
