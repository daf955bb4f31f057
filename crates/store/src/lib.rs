#![doc = include_str!("../README.md")]

mod error;
mod rows;

use std::{str::FromStr, time::Duration};

use alloy_primitives::{Address, B256};
use sqlx::{
    PgPool, SqlitePool,
    migrate::Migrator,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

pub use error::{StoreError, StoreResult};
pub use rows::{BatchRow, BatchState, CommitmentRow, InsertOutcome, StoredOrder, Withdrawal};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// The name of the chain indexer's cursor (the next block to read).
pub const INDEXER_CURSOR: &str = "indexer.next_block";
/// The timestamp of the last block the indexer has read (every commitment made before it is
/// in the store).
pub const INDEXER_SYNCED_TIME: &str = "indexer.synced_time";

#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code against whichever pool the store holds. Query text is written once with
/// `$N` placeholders, which both SQLite and PostgreSQL accept.
/// The second form also names the statement that opens a write transaction: SQLite's
/// `BEGIN IMMEDIATE` takes the write lock up front, so a transaction that reads before it writes
/// waits for other writers (busy timeout) instead of failing with "database is locked".
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        with_pool!($store, $pool, _begin => $body)
    };
    ($store:expr, $pool:ident, $begin:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite($pool) => {
                let $begin = "BEGIN IMMEDIATE";
                $body
            }
            Pool::Postgres($pool) => {
                let $begin = "BEGIN";
                $body
            }
        }
    };
}

/// The matcher's persistent state, on a SQLite file or a PostgreSQL database.
///
/// Every write that must be atomic (a block range of chain events with the indexer cursor, an
/// order with its receipt, a cleared batch) is one transaction, so a crash at any point leaves
/// either all of it or none of it.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
}

impl Store {
    /// Opens the store at `url` and applies pending migrations.
    ///
    /// `sqlite:PATH` (created if missing; `sqlite::memory:` for a throwaway store) or
    /// `postgres://...` / `postgresql://...`.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            // An in-memory database exists per connection: keep exactly one.
            let max = if url.contains(":memory:") { 1 } else { 4 };
            let pool = SqlitePoolOptions::new()
                .max_connections(max)
                .connect_with(opts)
                .await?;
            SQLITE_MIGRATIONS.run(&pool).await?;
            Pool::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new().max_connections(8).connect(url).await?;
            POSTGRES_MIGRATIONS.run(&pool).await?;
            Pool::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        };
        Ok(Self { pool })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        with_pool!(self, p => { sqlx::query("SELECT 1").execute(p).await?; });
        Ok(())
    }

    /// The value of cursor `name`, if set.
    pub async fn cursor(&self, name: &str) -> StoreResult<Option<u64>> {
        let v: Option<i64> = with_pool!(self, p => {
            sqlx::query_scalar("SELECT value FROM cursors WHERE name = $1")
                .bind(name)
                .fetch_optional(p)
                .await?
        });
        v.map(|v| rows::to_u64("cursors.value", v)).transpose()
    }

    /// Records chain events of a block range and moves the indexer cursors to `next_block` and
    /// `synced_time` (the timestamp of block `next_block - 1`), in one transaction. Commitments already present are left untouched (replaying a range is
    /// harmless); withdrawals of unknown commitments are an error (the range is out of order).
    pub async fn record_chain_events(
        &self,
        commitments: &[CommitmentRow],
        withdrawals: &[Withdrawal],
        next_block: u64,
        synced_time: u64,
    ) -> StoreResult<()> {
        let next = rows::to_i64("next_block", next_block)?;
        let time = rows::to_i64("synced_time", synced_time)?;
        with_pool!(self, p, begin => {
            let mut tx = p.begin_with(begin).await?;
            for c in commitments {
                sqlx::query(
                    "INSERT INTO commitments (market, interval_idx, idx, trader, commitment, \
                     lock_amount, accumulator, block_number, log_index, withdrawn) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (market, interval_idx, idx) DO NOTHING",
                )
                .bind(c.market.as_slice())
                .bind(rows::to_i64("interval", c.interval)?)
                .bind(i64::from(c.index))
                .bind(c.trader.as_slice())
                .bind(c.commitment.as_slice())
                .bind(c.lock.to_string())
                .bind(c.accumulator.as_slice())
                .bind(rows::to_i64("block_number", c.block_number)?)
                .bind(rows::to_i64("log_index", c.log_index)?)
                .bind(c.withdrawn)
                .execute(&mut *tx)
                .await?;
            }
            for w in withdrawals {
                let done = sqlx::query(
                    "UPDATE commitments SET withdrawn = TRUE \
                     WHERE market = $1 AND interval_idx = $2 AND idx = $3",
                )
                .bind(w.market.as_slice())
                .bind(rows::to_i64("interval", w.interval)?)
                .bind(i64::from(w.index))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::UnknownCommitment {
                        market: w.market,
                        interval: w.interval,
                        index: w.index,
                    });
                }
            }
            for (name, value) in [(INDEXER_CURSOR, next), (INDEXER_SYNCED_TIME, time)] {
                sqlx::query(
                    "INSERT INTO cursors (name, value) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                )
                .bind(name)
                .bind(value)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The first commitment `commitment` made by `trader` in `(market, interval)`, if indexed.
    /// (Anyone can copy a commitment value on-chain; only the trader's own counts.)
    pub async fn find_commitment(
        &self,
        market: B256,
        interval: u64,
        commitment: B256,
        trader: Address,
    ) -> StoreResult<Option<CommitmentRow>> {
        let interval = rows::to_i64("interval", interval)?;
        with_pool!(self, p => {
            let row = sqlx::query(
                "SELECT * FROM commitments WHERE market = $1 AND interval_idx = $2 \
                 AND commitment = $3 AND trader = $4 ORDER BY idx LIMIT 1",
            )
            .bind(market.as_slice())
            .bind(interval)
            .bind(commitment.as_slice())
            .bind(trader.as_slice())
            .fetch_optional(p)
            .await?;
            row.map(|r| rows::commitment_from(&r)).transpose()
        })
    }

    /// Every indexed commitment of `(market, interval)`, in on-chain order.
    pub async fn commitments(
        &self,
        market: B256,
        interval: u64,
    ) -> StoreResult<Vec<CommitmentRow>> {
        let interval = rows::to_i64("interval", interval)?;
        with_pool!(self, p => {
            let rs = sqlx::query(
                "SELECT * FROM commitments WHERE market = $1 AND interval_idx = $2 ORDER BY idx",
            )
            .bind(market.as_slice())
            .bind(interval)
            .fetch_all(p)
            .await?;
            rs.iter().map(rows::commitment_from).collect()
        })
    }

    /// Stores an opened order with its receipt, or returns the stored one if the same order
    /// (same digest) was opened before. Fails with [`StoreError::NonceReused`] when the trader's
    /// nonce belongs to a different order, and [`StoreError::IndexTaken`] when the commitment
    /// index was opened by a different order.
    pub async fn insert_order(&self, o: &StoredOrder) -> StoreResult<InsertOutcome> {
        // A concurrent insert of a conflicting order can slip between the checks and the
        // insert; the unique constraints then fail the insert and the second pass reports it.
        for _ in 0..2 {
            match self.try_insert_order(o).await {
                Err(StoreError::Sqlx(sqlx::Error::Database(e))) if e.is_unique_violation() => {}
                other => return other,
            }
        }
        self.try_insert_order(o).await
    }

    async fn try_insert_order(&self, o: &StoredOrder) -> StoreResult<InsertOutcome> {
        let nonce = o.nonce.to_string();
        let interval = rows::to_i64("interval", o.interval)?;
        with_pool!(self, p, begin => {
            let mut tx = p.begin_with(begin).await?;
            // One statement finds every row this order could collide with, so that a row
            // committed by a concurrent insert is judged as a whole: if it is this very order
            // the answer is `Existing`, whichever constraint it was found through.
            let clashes = sqlx::query(
                "SELECT * FROM orders WHERE digest = $1 OR (trader = $2 AND nonce = $3) \
                 OR (market = $4 AND interval_idx = $5 AND idx = $6)",
            )
            .bind(o.digest.as_slice())
            .bind(o.trader.as_slice())
            .bind(&nonce)
            .bind(o.market.as_slice())
            .bind(interval)
            .bind(i64::from(o.index))
            .fetch_all(&mut *tx)
            .await?;
            let clashes = clashes.iter().map(rows::order_from).collect::<StoreResult<Vec<_>>>()?;
            if let Some(same) = clashes.iter().find(|c| c.digest == o.digest) {
                return Ok(InsertOutcome::Existing(Box::new(same.clone())));
            }
            if let Some(c) = clashes.iter().find(|c| c.trader == o.trader && c.nonce == o.nonce) {
                return Err(StoreError::NonceReused { trader: o.trader, nonce: o.nonce, existing: c.digest });
            }
            if !clashes.is_empty() {
                return Err(StoreError::IndexTaken { market: o.market, interval: o.interval, index: o.index });
            }
            sqlx::query(
                "INSERT INTO orders (digest, market, interval_idx, idx, trader, side, quantity_wh, \
                 limit_price, nonce, salt, commitment, signature, receipt_signature, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(o.digest.as_slice())
            .bind(o.market.as_slice())
            .bind(interval)
            .bind(i64::from(o.index))
            .bind(o.trader.as_slice())
            .bind(i64::from(o.side))
            .bind(rows::to_i64("quantity_wh", o.quantity_wh)?)
            .bind(o.limit_price)
            .bind(&nonce)
            .bind(o.salt.as_slice())
            .bind(o.commitment.as_slice())
            .bind(&o.signature[..])
            .bind(&o.receipt_signature[..])
            .bind(rows::to_i64("received_at", o.received_at)?)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(InsertOutcome::Inserted)
    }

    /// The opened order with EIP-712 digest `digest`.
    pub async fn order(&self, digest: B256) -> StoreResult<Option<StoredOrder>> {
        with_pool!(self, p => {
            let r = sqlx::query("SELECT * FROM orders WHERE digest = $1")
                .bind(digest.as_slice())
                .fetch_optional(p)
                .await?;
            r.map(|r| rows::order_from(&r)).transpose()
        })
    }

    /// Every opened order of `(market, interval)`, in commitment order.
    pub async fn orders(&self, market: B256, interval: u64) -> StoreResult<Vec<StoredOrder>> {
        let interval = rows::to_i64("interval", interval)?;
        with_pool!(self, p => {
            let rs = sqlx::query("SELECT * FROM orders WHERE market = $1 AND interval_idx = $2 ORDER BY idx")
                .bind(market.as_slice())
                .bind(interval)
                .fetch_all(p)
                .await?;
            rs.iter().map(rows::order_from).collect()
        })
    }

    /// Stores a cleared batch unless one exists for its interval, and returns the stored row.
    /// Clearing is deterministic, so a second attempt after a crash finds the same result.
    pub async fn save_batch(&self, b: &BatchRow) -> StoreResult<BatchRow> {
        let fills = serde_json::to_string(&b.fills)?;
        let interval = rows::to_i64("interval", b.interval)?;
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO batches (market, interval_idx, status, count, accumulator, price, volume, \
                 fills, cleared_at, handed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL) \
                 ON CONFLICT (market, interval_idx) DO NOTHING",
            )
            .bind(b.market.as_slice())
            .bind(interval)
            .bind(BatchState::Cleared.as_str())
            .bind(i64::from(b.count))
            .bind(b.accumulator.as_slice())
            .bind(b.price)
            .bind(rows::to_i64("volume", b.volume)?)
            .bind(&fills)
            .bind(rows::to_i64("cleared_at", b.cleared_at)?)
            .execute(p)
            .await?;
        });
        self.batch(b.market, b.interval)
            .await?
            .ok_or(StoreError::Corrupt("batch vanished after insert"))
    }

    /// Marks a batch as handed to the proving pipeline. Returns false if it already was.
    pub async fn mark_handed_off(&self, market: B256, interval: u64, at: u64) -> StoreResult<bool> {
        let interval = rows::to_i64("interval", interval)?;
        let at = rows::to_i64("handed_at", at)?;
        let n = with_pool!(self, p => {
            sqlx::query(
                "UPDATE batches SET status = $1, handed_at = $2 \
                 WHERE market = $3 AND interval_idx = $4 AND status = $5",
            )
            .bind(BatchState::HandedOff.as_str())
            .bind(at)
            .bind(market.as_slice())
            .bind(interval)
            .bind(BatchState::Cleared.as_str())
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// The batch of `(market, interval)`, if cleared.
    pub async fn batch(&self, market: B256, interval: u64) -> StoreResult<Option<BatchRow>> {
        let interval = rows::to_i64("interval", interval)?;
        with_pool!(self, p => {
            let r = sqlx::query("SELECT * FROM batches WHERE market = $1 AND interval_idx = $2")
                .bind(market.as_slice())
                .bind(interval)
                .fetch_optional(p)
                .await?;
            r.map(|r| rows::batch_from(&r)).transpose()
        })
    }

    /// Batches in state `state`, oldest interval first.
    pub async fn batches_in(&self, state: BatchState) -> StoreResult<Vec<BatchRow>> {
        with_pool!(self, p => {
            let rs = sqlx::query("SELECT * FROM batches WHERE status = $1 ORDER BY interval_idx, market")
                .bind(state.as_str())
                .fetch_all(p)
                .await?;
            rs.iter().map(rows::batch_from).collect()
        })
    }

    /// The latest cleared interval of `market`.
    pub async fn last_cleared(&self, market: B256) -> StoreResult<Option<u64>> {
        let v: Option<i64> = with_pool!(self, p => {
            sqlx::query_scalar("SELECT MAX(interval_idx) FROM batches WHERE market = $1")
                .bind(market.as_slice())
                .fetch_one(p)
                .await?
        });
        v.map(|v| rows::to_u64("batches.interval_idx", v))
            .transpose()
    }

    /// Numbers for the metrics endpoint: `(commitments, orders, batches)`.
    pub async fn counts(&self) -> StoreResult<(u64, u64, u64)> {
        let (c, o, b): (i64, i64, i64) = with_pool!(self, p => {
            let c = sqlx::query_scalar("SELECT COUNT(*) FROM commitments").fetch_one(p).await?;
            let o = sqlx::query_scalar("SELECT COUNT(*) FROM orders").fetch_one(p).await?;
            let b = sqlx::query_scalar("SELECT COUNT(*) FROM batches").fetch_one(p).await?;
            (c, o, b)
        });
        Ok((
            rows::to_u64("count", c)?,
            rows::to_u64("count", o)?,
            rows::to_u64("count", b)?,
        ))
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        with_pool!(self, p => p.close().await)
    }
}

/// Drops any password from a URL before it goes into an error message.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("mysql://u:pw@h/db"), "mysql://***@h/db");
        assert_eq!(redact("foo"), "foo");
    }
}
