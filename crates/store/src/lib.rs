#![doc = include_str!("../README.md")]

mod error;
mod rows;
#[cfg(feature = "test-utils")]
pub mod test_utils;

use std::{
    collections::{HashMap, HashSet},
    str::FromStr,
    time::Duration,
};

use alloy_primitives::{Address, B256};
use sealgrid_types::ClearedBatch;
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

/// Values per set query (`IN (...)`): well inside SQLite's and PostgreSQL's bind limits.
const SET_CHUNK: usize = 300;
/// Rows per multi-row insert (14 binds each).
const INSERT_CHUNK: usize = 64;

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

mod certificates;
pub use certificates::HourToMove;
mod delivery;
pub use delivery::{MeterRow, PriceRow, REGISTRY_CURSOR, ReadingRow, RecordState, SettleRecord};

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
        let mut out = self.insert_orders(std::slice::from_ref(o)).await?;
        out.pop()
            .ok_or(StoreError::Corrupt("no outcome for the order"))?
    }

    /// [`Self::insert_order`] for many orders in one transaction (one disk sync), with one
    /// outcome per order, in order. Orders refused for their nonce or index do not affect the
    /// others; a database failure fails the call and stores none of them.
    pub async fn insert_orders(
        &self,
        orders: &[StoredOrder],
    ) -> StoreResult<Vec<StoreResult<InsertOutcome>>> {
        // A concurrent insert of a conflicting order can slip between the checks and the
        // insert; the unique constraints then fail the transaction and the next pass sees the
        // committed row.
        for _ in 0..2 {
            match self.try_insert_orders(orders).await {
                Err(StoreError::Sqlx(sqlx::Error::Database(e))) if e.is_unique_violation() => {}
                other => return other,
            }
        }
        self.try_insert_orders(orders).await
    }

    async fn try_insert_orders(
        &self,
        orders: &[StoredOrder],
    ) -> StoreResult<Vec<StoreResult<InsertOutcome>>> {
        // Validate numbers first: an out-of-range order is refused on its own.
        let mut checked = Vec::with_capacity(orders.len());
        for o in orders {
            checked.push(
                rows::to_i64("interval", o.interval)
                    .and_then(|_| rows::to_i64("quantity_wh", o.quantity_wh))
                    .and_then(|_| rows::to_i64("received_at", o.received_at))
                    .map(|_| o),
            );
        }
        let valid: Vec<&StoredOrder> = checked
            .iter()
            .filter_map(|c| c.as_ref().ok().copied())
            .collect();
        let mut outcomes = Vec::with_capacity(orders.len());
        with_pool!(self, p, begin => {
            let mut tx = p.begin_with(begin).await?;
            // Every stored row any order of the batch could collide with, in three set queries
            // (the same rows a concurrent writer may have committed a moment ago).
            let mut existing: Vec<StoredOrder> = Vec::new();
            // Three queries, not one with OR: each is answered from its own unique index
            // (PostgreSQL plans an OR of row-value lists as a scan of the table).
            for chunk in valid.chunks(SET_CHUNK) {
                let mut q = sqlx::QueryBuilder::new("SELECT * FROM orders WHERE digest IN (");
                let mut sep = q.separated(", ");
                for o in chunk {
                    sep.push_bind(o.digest.as_slice());
                }
                q.push(")");
                for r in q.build().fetch_all(&mut *tx).await? {
                    existing.push(rows::order_from(&r)?);
                }
                let mut q = sqlx::QueryBuilder::new("SELECT * FROM orders WHERE (trader, nonce) IN (");
                for (k, o) in chunk.iter().enumerate() {
                    if k > 0 {
                        q.push(", ");
                    }
                    q.push("(").push_bind(o.trader.as_slice()).push(", ").push_bind(o.nonce.to_string()).push(")");
                }
                q.push(")");
                for r in q.build().fetch_all(&mut *tx).await? {
                    existing.push(rows::order_from(&r)?);
                }
                let mut q =
                    sqlx::QueryBuilder::new("SELECT * FROM orders WHERE (market, interval_idx, idx) IN (");
                for (k, o) in chunk.iter().enumerate() {
                    if k > 0 {
                        q.push(", ");
                    }
                    q.push("(")
                        .push_bind(o.market.as_slice())
                        .push(", ")
                        .push_bind(o.interval as i64)
                        .push(", ")
                        .push_bind(i64::from(o.index))
                        .push(")");
                }
                q.push(")");
                for r in q.build().fetch_all(&mut *tx).await? {
                    existing.push(rows::order_from(&r)?);
                }
            }
            let mut by_digest: HashMap<B256, StoredOrder> = HashMap::new();
            let mut by_nonce: HashMap<(Address, u64), B256> = HashMap::new();
            let mut by_index: HashSet<(B256, u64, u32)> = HashSet::new();
            for e in existing {
                by_nonce.insert((e.trader, e.nonce), e.digest);
                by_index.insert((e.market, e.interval, e.index));
                by_digest.insert(e.digest, e);
            }
            // Decide each order in turn; an order inserted earlier in the batch counts too.
            let mut fresh: Vec<&StoredOrder> = Vec::new();
            for c in &checked {
                let o = match c {
                    Ok(o) => *o,
                    Err(e) => {
                        outcomes.push(Err(StoreError::OutOfRange { field: "order", value: e.to_string() }));
                        continue;
                    }
                };
                if let Some(same) = by_digest.get(&o.digest) {
                    outcomes.push(Ok(InsertOutcome::Existing(Box::new(same.clone()))));
                } else if let Some(d) = by_nonce.get(&(o.trader, o.nonce)) {
                    outcomes.push(Err(StoreError::NonceReused { trader: o.trader, nonce: o.nonce, existing: *d }));
                } else if by_index.contains(&(o.market, o.interval, o.index)) {
                    outcomes.push(Err(StoreError::IndexTaken { market: o.market, interval: o.interval, index: o.index }));
                } else {
                    by_nonce.insert((o.trader, o.nonce), o.digest);
                    by_index.insert((o.market, o.interval, o.index));
                    by_digest.insert(o.digest, o.clone());
                    fresh.push(o);
                    outcomes.push(Ok(InsertOutcome::Inserted));
                }
            }
            for chunk in fresh.chunks(INSERT_CHUNK) {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO orders (digest, market, interval_idx, idx, trader, side, quantity_wh, \
                     limit_price, nonce, salt, commitment, signature, receipt_signature, received_at) ",
                );
                q.push_values(chunk, |mut b, o| {
                    b.push_bind(o.digest.as_slice())
                        .push_bind(o.market.as_slice())
                        .push_bind(o.interval as i64)
                        .push_bind(i64::from(o.index))
                        .push_bind(o.trader.as_slice())
                        .push_bind(i64::from(o.side))
                        .push_bind(o.quantity_wh as i64)
                        .push_bind(o.limit_price)
                        .push_bind(o.nonce.to_string())
                        .push_bind(o.salt.as_slice())
                        .push_bind(o.commitment.as_slice())
                        .push_bind(&o.signature[..])
                        .push_bind(&o.receipt_signature[..])
                        .push_bind(o.received_at as i64);
                });
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(outcomes)
    }

    /// The stored orders among `digests` (any order).
    pub async fn orders_by_digest(&self, digests: &[B256]) -> StoreResult<Vec<StoredOrder>> {
        let mut out = Vec::new();
        for chunk in digests.chunks(SET_CHUNK) {
            with_pool!(self, p => {
                let mut q = sqlx::QueryBuilder::new("SELECT * FROM orders WHERE digest IN (");
                let mut sep = q.separated(", ");
                for d in chunk {
                    sep.push_bind(d.as_slice());
                }
                q.push(")");
                for r in q.build().fetch_all(p).await? {
                    out.push(rows::order_from(&r)?);
                }
            });
        }
        Ok(out)
    }

    /// The indexed commitments of `(market, interval)` whose value is among `values`.
    pub async fn commitments_among(
        &self,
        market: B256,
        interval: u64,
        values: &[B256],
    ) -> StoreResult<Vec<CommitmentRow>> {
        let interval = rows::to_i64("interval", interval)?;
        let mut out = Vec::new();
        for chunk in values.chunks(SET_CHUNK) {
            with_pool!(self, p => {
                let mut q = sqlx::QueryBuilder::new("SELECT * FROM commitments WHERE market = ");
                q.push_bind(market.as_slice()).push(" AND interval_idx = ").push_bind(interval);
                q.push(" AND commitment IN (");
                let mut sep = q.separated(", ");
                for v in chunk {
                    sep.push_bind(v.as_slice());
                }
                q.push(") ORDER BY idx");
                for r in q.build().fetch_all(p).await? {
                    out.push(rows::commitment_from(&r)?);
                }
            });
        }
        Ok(out)
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
    pub async fn save_batch(&self, b: &ClearedBatch, cleared_at: u64) -> StoreResult<BatchRow> {
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
            .bind(rows::to_i64("cleared_at", cleared_at)?)
            .execute(p)
            .await?;
        });
        self.batch(b.market, b.interval)
            .await?
            .ok_or(StoreError::Corrupt("batch vanished after insert"))
    }

    /// Marks a batch as handed to the proving pipeline. Returns false if it already was (or has
    /// moved past that).
    pub async fn mark_handed_off(&self, market: B256, interval: u64, at: u64) -> StoreResult<bool> {
        self.advance_batch(market, interval, BatchState::HandedOff, at)
            .await
    }

    /// Moves a batch to `to` if it stands in one of `to`'s [`BatchState::predecessors`]; records
    /// `at` as its hand-off time if it has none. Returns whether it moved (false when it is there
    /// already, past it, or unknown), so calling it twice is harmless.
    pub async fn advance_batch(
        &self,
        market: B256,
        interval: u64,
        to: BatchState,
        at: u64,
    ) -> StoreResult<bool> {
        let interval = rows::to_i64("interval", interval)?;
        let at = rows::to_i64("handed_at", at)?;
        let from = to.predecessors();
        if from.is_empty() {
            return Ok(false);
        }
        let n = with_pool!(self, p => {
            let mut q = sqlx::QueryBuilder::new("UPDATE batches SET status = ");
            q.push_bind(to.as_str())
                .push(", handed_at = COALESCE(handed_at, ")
                .push_bind(at)
                .push(") WHERE market = ")
                .push_bind(market.as_slice())
                .push(" AND interval_idx = ")
                .push_bind(interval)
                .push(" AND status IN (");
            let mut list = q.separated(", ");
            for s in from {
                list.push_bind(s.as_str());
            }
            list.push_unseparated(")");
            q.build().execute(p).await?.rows_affected()
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
        self.batches_in_any(&[state]).await
    }

    /// Batches in any of `states`, oldest interval first.
    pub async fn batches_in_any(&self, states: &[BatchState]) -> StoreResult<Vec<BatchRow>> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        with_pool!(self, p => {
            let mut q = sqlx::QueryBuilder::new("SELECT * FROM batches WHERE status IN (");
            let mut list = q.separated(", ");
            for s in states {
                list.push_bind(s.as_str());
            }
            list.push_unseparated(") ORDER BY interval_idx, market");
            let rs = q.build().fetch_all(p).await?;
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
