//! The delivery service's state (schema 2): readings and prices stored before the API
//! acknowledges them, the registry's meters, and the progress of every market interval through
//! settlement, resettlement and certificate issuance.
//!
//! Every transition that must be atomic is one transaction: a reading marked on-chain queues
//! the resettlement of its meter's owners when its interval is already being settled; an
//! interval marked settled records its accounts and, when an earlier run had started it,
//! queues all of them for resettlement (what landed between that run's settle and its crash is
//! then accounted for: resettling an unchanged account changes nothing on-chain).

use std::collections::HashMap;

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use crate::{
    Pool, Store, StoreError, StoreResult,
    rows::{self, address, b256},
};

/// Name of the cursor of the meter registry's event indexer (the next block to read).
pub const REGISTRY_CURSOR: &str = "delivery.registry_next_block";

/// Where a reading or price is on its way to the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    /// Accepted and stored, not on-chain yet.
    Pending,
    /// On-chain (stored by this node, or found there identical).
    Onchain,
    /// The chain refused it after intake (the reason is stored with it).
    Refused,
    /// A higher revision of the same reading or price went on-chain first.
    Superseded,
}

impl RecordState {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Onchain => "onchain",
            Self::Refused => "refused",
            Self::Superseded => "superseded",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        Ok(match s {
            "pending" => Self::Pending,
            "onchain" => Self::Onchain,
            "refused" => Self::Refused,
            "superseded" => Self::Superseded,
            _ => return Err(StoreError::Corrupt("readings.state")),
        })
    }
}

/// A gateway-signed meter reading as the delivery API accepted it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingRow {
    /// The meter.
    pub meter: B256,
    /// The interval.
    pub interval: u64,
    /// The revision.
    pub revision: u32,
    /// Imported Wh.
    pub import_wh: u64,
    /// Exported Wh.
    pub export_wh: u64,
    /// Quality code.
    pub quality: u8,
    /// The gateway's signature (`r ‖ s ‖ v`).
    pub signature: Vec<u8>,
    /// The recovered signer.
    pub signer: Address,
    /// When the API accepted it (unix seconds).
    pub received_at: u64,
    /// Its state.
    pub state: RecordState,
    /// Why the chain refused it.
    pub reason: Option<String>,
}

/// An oracle-signed real-time price as the delivery API accepted it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceRow {
    /// The market.
    pub market: B256,
    /// The interval.
    pub interval: u64,
    /// The revision.
    pub revision: u32,
    /// Base units per kWh.
    pub price: i64,
    /// The oracle's signature (`r ‖ s ‖ v`).
    pub signature: Vec<u8>,
    /// When the API accepted it (unix seconds).
    pub received_at: u64,
    /// Its state.
    pub state: RecordState,
    /// Why the chain refused it.
    pub reason: Option<String>,
}

/// A meter of the registry, as its events told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeterRow {
    /// The meter.
    pub meter: B256,
    /// Its market.
    pub market: B256,
    /// Certificate eligible (a generator).
    pub generator: bool,
}

/// What [`Store::finish_settle`] recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettleRecord {
    /// Accounts recorded.
    pub accounts: usize,
    /// Accounts queued for resettlement because an earlier run had started the interval.
    pub requeued: usize,
}

type ReadingTuple = (
    Vec<u8>,
    i64,
    i64,
    i64,
    i64,
    i64,
    Vec<u8>,
    Vec<u8>,
    i64,
    String,
    Option<String>,
);
type PriceTuple = (Vec<u8>, i64, i64, i64, Vec<u8>, i64, String, Option<String>);

/// The columns of a [`ReadingTuple`], as a literal (sqlx takes only static query text).
macro_rules! reading_columns {
    () => {
        "meter, interval_idx, revision, import_wh, export_wh, quality, signature, signer, \
         received_at, state, reason"
    };
}
/// The columns of a [`PriceTuple`].
macro_rules! price_columns {
    () => {
        "market, interval_idx, revision, price, signature, received_at, state, reason"
    };
}

const READING_COLUMNS: &str = reading_columns!();

fn reading_from(t: ReadingTuple) -> StoreResult<ReadingRow> {
    Ok(ReadingRow {
        meter: b256("readings.meter", t.0)?,
        interval: rows::to_u64("readings.interval_idx", t.1)?,
        revision: u32::try_from(t.2).map_err(|_| StoreError::Corrupt("readings.revision"))?,
        import_wh: rows::to_u64("readings.import_wh", t.3)?,
        export_wh: rows::to_u64("readings.export_wh", t.4)?,
        quality: u8::try_from(t.5).map_err(|_| StoreError::Corrupt("readings.quality"))?,
        signature: t.6,
        signer: address("readings.signer", t.7)?,
        received_at: rows::to_u64("readings.received_at", t.8)?,
        state: RecordState::parse(&t.9)?,
        reason: t.10,
    })
}

fn price_from(t: PriceTuple) -> StoreResult<PriceRow> {
    Ok(PriceRow {
        market: b256("prices.market", t.0)?,
        interval: rows::to_u64("prices.interval_idx", t.1)?,
        revision: u32::try_from(t.2).map_err(|_| StoreError::Corrupt("prices.revision"))?,
        price: t.3,
        signature: t.4,
        received_at: rows::to_u64("prices.received_at", t.5)?,
        state: RecordState::parse(&t.6)?,
        reason: t.7,
    })
}

fn i64_of(field: &'static str, v: u64) -> StoreResult<i64> {
    rows::to_i64(field, v)
}

/// Seconds of an hour of certificates.
const HOUR: u64 = 3600;

impl Store {
    /// The highest stored revision of each `(meter, interval)` among `keys` (refused ones do
    /// not count: the chain never took them).
    pub async fn latest_readings(
        &self,
        keys: &[(B256, u64)],
    ) -> StoreResult<HashMap<(B256, u64), ReadingRow>> {
        let mut out: HashMap<(B256, u64), ReadingRow> = HashMap::new();
        for chunk in keys.chunks(crate::SET_CHUNK / 2) {
            let rows: Vec<ReadingTuple> = with_pool!(self, p => {
                let mut q = sqlx::QueryBuilder::new(format!(
                    "SELECT {READING_COLUMNS} FROM readings WHERE state <> 'refused' AND ("
                ));
                let mut first = true;
                for (m, i) in chunk {
                    if !first {
                        q.push(" OR ");
                    }
                    first = false;
                    q.push("(meter = ")
                        .push_bind(m.as_slice().to_vec())
                        .push(" AND interval_idx = ")
                        .push_bind(i64_of("interval", *i)?)
                        .push(")");
                }
                q.push(")");
                q.build_query_as::<ReadingTuple>().fetch_all(p).await?
            });
            for t in rows {
                let r = reading_from(t)?;
                let key = (r.meter, r.interval);
                if out.get(&key).is_none_or(|cur| cur.revision < r.revision) {
                    out.insert(key, r);
                }
            }
        }
        Ok(out)
    }

    /// Stores accepted readings in one transaction (one disk sync). Returns, per row, whether it
    /// was new (`false`: the same meter, interval and revision was stored before, which the
    /// caller decides is a duplicate or a conflict).
    pub async fn insert_readings(&self, rows: &[ReadingRow]) -> StoreResult<Vec<bool>> {
        let mut out = Vec::with_capacity(rows.len());
        with_pool!(self, p, begin => {
            let mut tx = p.begin_with(begin).await?;
            for r in rows {
                let done = sqlx::query(
                    "INSERT INTO readings (meter, interval_idx, revision, import_wh, export_wh, \
                     quality, signature, signer, received_at, state) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending') \
                     ON CONFLICT (meter, interval_idx, revision) DO NOTHING",
                )
                .bind(r.meter.as_slice())
                .bind(i64_of("interval", r.interval)?)
                .bind(i64::from(r.revision))
                .bind(i64_of("import_wh", r.import_wh)?)
                .bind(i64_of("export_wh", r.export_wh)?)
                .bind(i64::from(r.quality))
                .bind(r.signature.as_slice())
                .bind(r.signer.as_slice())
                .bind(i64_of("received_at", r.received_at)?)
                .execute(&mut *tx)
                .await?;
                out.push(done.rows_affected() == 1);
            }
            tx.commit().await?;
        });
        Ok(out)
    }

    /// Up to `limit` pending readings: only the highest pending revision of each meter and
    /// interval, oldest interval first.
    pub async fn pending_readings(&self, limit: usize) -> StoreResult<Vec<ReadingRow>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<ReadingTuple> = with_pool!(self, p => {
            sqlx::query_as(concat!(
                "SELECT ", reading_columns!(), " FROM readings r WHERE state = 'pending' AND NOT EXISTS \
                 (SELECT 1 FROM readings h WHERE h.meter = r.meter AND h.interval_idx = r.interval_idx \
                 AND h.revision > r.revision AND h.state IN ('pending', 'onchain')) \
                 ORDER BY interval_idx, meter LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(reading_from).collect()
    }

    /// Records what the chain did with readings (`Onchain` or `Refused` with `reason`), in one
    /// transaction. Lower pending revisions of a reading now on-chain become `Superseded`. A
    /// reading now on-chain whose interval's settlement has started queues its meter's owners
    /// for resettlement, and re-opens certificate issuance of the hour (intervals of
    /// `interval_length` seconds) for a generator.
    pub async fn mark_readings(
        &self,
        done: &[(B256, u64, u32)],
        state: RecordState,
        reason: Option<&str>,
        interval_length: u64,
        now: u64,
    ) -> StoreResult<()> {
        let now = i64_of("now", now)?;
        with_pool!(self, p, begin => {
            let mut tx = p.begin_with(begin).await?;
            for (meter, interval, revision) in done {
                let hour = i64_of("hour", interval.saturating_mul(interval_length) / HOUR)?;
                let interval = i64_of("interval", *interval)?;
                sqlx::query(
                    "UPDATE readings SET state = $1, reason = $2 \
                     WHERE meter = $3 AND interval_idx = $4 AND revision = $5",
                )
                .bind(state.as_str())
                .bind(reason)
                .bind(meter.as_slice())
                .bind(interval)
                .bind(i64::from(*revision))
                .execute(&mut *tx)
                .await?;
                if state != RecordState::Onchain {
                    continue;
                }
                sqlx::query(
                    "UPDATE readings SET state = 'superseded' WHERE meter = $1 AND \
                     interval_idx = $2 AND revision < $3 AND state = 'pending'",
                )
                .bind(meter.as_slice())
                .bind(interval)
                .bind(i64::from(*revision))
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO resettle_queue (market, interval_idx, account, queued_at) \
                     SELECT d.market, d.interval_idx, o.owner, $3 FROM meters m \
                     JOIN delivery_intervals d ON d.market = m.market AND d.interval_idx = $2 \
                     JOIN meter_owners o ON o.meter = m.meter \
                     WHERE m.meter = $1 AND d.settle_started_at IS NOT NULL \
                     ON CONFLICT (market, interval_idx, account) DO NOTHING",
                )
                .bind(meter.as_slice())
                .bind(interval)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE certificate_hours SET issued_at = NULL WHERE hour = $2 AND market IN \
                     (SELECT market FROM meters WHERE meter = $1 AND generator = TRUE)",
                )
                .bind(meter.as_slice())
                .bind(hour)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every stored reading of a meter and interval, lowest revision first.
    pub async fn readings_of(&self, meter: B256, interval: u64) -> StoreResult<Vec<ReadingRow>> {
        let rows: Vec<ReadingTuple> = with_pool!(self, p => {
            sqlx::query_as(concat!(
                "SELECT ", reading_columns!(), " FROM readings WHERE meter = $1 AND interval_idx = $2 \
                 ORDER BY revision"
            ))
            .bind(meter.as_slice())
            .bind(i64_of("interval", interval)?)
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(reading_from).collect()
    }

    /// Counts of readings by state: `(pending, onchain, refused, superseded)`.
    pub async fn reading_counts(&self) -> StoreResult<(u64, u64, u64, u64)> {
        let rows: Vec<(String, i64)> = with_pool!(self, p => {
            sqlx::query_as("SELECT state, COUNT(*) FROM readings GROUP BY state")
                .fetch_all(p)
                .await?
        });
        let mut out = (0, 0, 0, 0);
        for (s, n) in rows {
            let n = rows::to_u64("count", n)?;
            match RecordState::parse(&s)? {
                RecordState::Pending => out.0 = n,
                RecordState::Onchain => out.1 = n,
                RecordState::Refused => out.2 = n,
                RecordState::Superseded => out.3 = n,
            }
        }
        Ok(out)
    }

    /// The highest stored revision of a market interval's price (refused ones do not count).
    pub async fn latest_price(&self, market: B256, interval: u64) -> StoreResult<Option<PriceRow>> {
        let row: Option<PriceTuple> = with_pool!(self, p => {
            sqlx::query_as(concat!(
                "SELECT ", price_columns!(), " FROM prices WHERE market = $1 AND interval_idx = $2 \
                 AND state <> 'refused' ORDER BY revision DESC LIMIT 1"
            ))
            .bind(market.as_slice())
            .bind(i64_of("interval", interval)?)
            .fetch_optional(p)
            .await?
        });
        row.map(price_from).transpose()
    }

    /// Stores accepted prices in one transaction; per row, whether it was new.
    pub async fn insert_prices(&self, rows: &[PriceRow]) -> StoreResult<Vec<bool>> {
        let mut out = Vec::with_capacity(rows.len());
        with_pool!(self, p, begin => {
            let mut tx = p.begin_with(begin).await?;
            for r in rows {
                let done = sqlx::query(
                    "INSERT INTO prices (market, interval_idx, revision, price, signature, \
                     received_at, state) VALUES ($1, $2, $3, $4, $5, $6, 'pending') \
                     ON CONFLICT (market, interval_idx, revision) DO NOTHING",
                )
                .bind(r.market.as_slice())
                .bind(i64_of("interval", r.interval)?)
                .bind(i64::from(r.revision))
                .bind(r.price)
                .bind(r.signature.as_slice())
                .bind(i64_of("received_at", r.received_at)?)
                .execute(&mut *tx)
                .await?;
                out.push(done.rows_affected() == 1);
            }
            tx.commit().await?;
        });
        Ok(out)
    }

    /// Pending prices: the highest pending revision of each market interval.
    pub async fn pending_prices(&self, limit: usize) -> StoreResult<Vec<PriceRow>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<PriceTuple> = with_pool!(self, p => {
            sqlx::query_as(concat!(
                "SELECT ", price_columns!(), " FROM prices r WHERE state = 'pending' AND NOT EXISTS \
                 (SELECT 1 FROM prices h WHERE h.market = r.market AND h.interval_idx = r.interval_idx \
                 AND h.revision > r.revision AND h.state IN ('pending', 'onchain')) \
                 ORDER BY interval_idx, market LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(price_from).collect()
    }

    /// Records what the chain did with prices, as [`Store::mark_readings`] does for readings;
    /// a price now on-chain for an interval whose settlement has started queues every account
    /// of the interval for resettlement.
    pub async fn mark_prices(
        &self,
        done: &[(B256, u64, u32)],
        state: RecordState,
        reason: Option<&str>,
        now: u64,
    ) -> StoreResult<()> {
        let now = i64_of("now", now)?;
        with_pool!(self, p, begin => {
            let mut tx = p.begin_with(begin).await?;
            for (market, interval, revision) in done {
                let interval = i64_of("interval", *interval)?;
                sqlx::query(
                    "UPDATE prices SET state = $1, reason = $2 \
                     WHERE market = $3 AND interval_idx = $4 AND revision = $5",
                )
                .bind(state.as_str())
                .bind(reason)
                .bind(market.as_slice())
                .bind(interval)
                .bind(i64::from(*revision))
                .execute(&mut *tx)
                .await?;
                if state != RecordState::Onchain {
                    continue;
                }
                sqlx::query(
                    "UPDATE prices SET state = 'superseded' WHERE market = $1 AND \
                     interval_idx = $2 AND revision < $3 AND state = 'pending'",
                )
                .bind(market.as_slice())
                .bind(interval)
                .bind(i64::from(*revision))
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO resettle_queue (market, interval_idx, account, queued_at) \
                     SELECT a.market, a.interval_idx, a.account, $3 FROM delivery_accounts a \
                     WHERE a.market = $1 AND a.interval_idx = $2 \
                     ON CONFLICT (market, interval_idx, account) DO NOTHING",
                )
                .bind(market.as_slice())
                .bind(interval)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records registry events of a block range (meters and every owner they had) and moves
    /// [`REGISTRY_CURSOR`] to `next_block`, in one transaction.
    pub async fn record_meters(
        &self,
        meters: &[MeterRow],
        owners: &[(B256, Address)],
        next_block: u64,
    ) -> StoreResult<()> {
        with_pool!(self, p, begin => {
            let mut tx = p.begin_with(begin).await?;
            for m in meters {
                sqlx::query(
                    "INSERT INTO meters (meter, market, generator) VALUES ($1, $2, $3) \
                     ON CONFLICT (meter) DO NOTHING",
                )
                .bind(m.meter.as_slice())
                .bind(m.market.as_slice())
                .bind(m.generator)
                .execute(&mut *tx)
                .await?;
            }
            for (m, o) in owners {
                sqlx::query(
                    "INSERT INTO meter_owners (meter, owner) VALUES ($1, $2) \
                     ON CONFLICT (meter, owner) DO NOTHING",
                )
                .bind(m.as_slice())
                .bind(o.as_slice())
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "INSERT INTO cursors (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(REGISTRY_CURSOR)
            .bind(i64_of("next_block", next_block)?)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// A meter's market and generator flag, if the registry indexer has seen it.
    pub async fn meter(&self, meter: B256) -> StoreResult<Option<MeterRow>> {
        let row: Option<(Vec<u8>, bool)> = with_pool!(self, p => {
            sqlx::query_as("SELECT market, generator FROM meters WHERE meter = $1")
                .bind(meter.as_slice())
                .fetch_optional(p)
                .await?
        });
        row.map(|(market, generator)| {
            Ok(MeterRow {
                meter,
                market: b256("meters.market", market)?,
                generator,
            })
        })
        .transpose()
    }

    /// The indexed meters among `meters` (one query per few hundred, not one per meter).
    pub async fn meters(&self, meters: &[B256]) -> StoreResult<HashMap<B256, MeterRow>> {
        let mut out = HashMap::with_capacity(meters.len());
        for chunk in meters.chunks(crate::SET_CHUNK) {
            let rows: Vec<(Vec<u8>, Vec<u8>, bool)> = with_pool!(self, p => {
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT meter, market, generator FROM meters WHERE meter IN (",
                );
                let mut sep = q.separated(", ");
                for m in chunk {
                    sep.push_bind(m.as_slice().to_vec());
                }
                q.push(")");
                q.build_query_as().fetch_all(p).await?
            });
            for (meter, market, generator) in rows {
                let meter = b256("meters.meter", meter)?;
                out.insert(
                    meter,
                    MeterRow {
                        meter,
                        market: b256("meters.market", market)?,
                        generator,
                    },
                );
            }
        }
        Ok(out)
    }

    /// The generators of a market.
    pub async fn generators(&self, market: B256) -> StoreResult<Vec<B256>> {
        let rows: Vec<Vec<u8>> = with_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT meter FROM meters WHERE market = $1 AND generator = TRUE ORDER BY meter",
            )
            .bind(market.as_slice())
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(|m| b256("meters.meter", m)).collect()
    }

    /// Every account that ever owned a meter of `market`.
    pub async fn meter_owners(&self, market: B256) -> StoreResult<Vec<Address>> {
        let rows: Vec<Vec<u8>> = with_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT DISTINCT o.owner FROM meter_owners o JOIN meters m ON m.meter = o.meter \
                 WHERE m.market = $1 ORDER BY o.owner",
            )
            .bind(market.as_slice())
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|a| address("meter_owners.owner", a))
            .collect()
    }

    /// Intervals of `market` up to `last` (inclusive) with something to settle (a cleared
    /// batch, or a reading of one of its meters) that are not settled yet, oldest first.
    pub async fn unsettled_intervals(&self, market: B256, last: u64) -> StoreResult<Vec<u64>> {
        let last = i64_of("interval", last)?;
        let rows: Vec<i64> = with_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT i FROM (\
                   SELECT interval_idx AS i FROM batches WHERE market = $1 AND interval_idx <= $2 \
                   UNION SELECT r.interval_idx AS i FROM readings r JOIN meters m ON m.meter = r.meter \
                   WHERE m.market = $1 AND r.interval_idx <= $2 AND r.state <> 'refused'\
                 ) c WHERE NOT EXISTS (SELECT 1 FROM delivery_intervals d WHERE d.market = $1 \
                   AND d.interval_idx = c.i AND d.settled_at IS NOT NULL) ORDER BY i",
            )
            .bind(market.as_slice())
            .bind(last)
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|i| rows::to_u64("interval", i))
            .collect()
    }

    /// Marks the start of an interval's settlement (before the first settle transaction) and
    /// returns when a run before started it, if one did.
    pub async fn start_settle(
        &self,
        market: B256,
        interval: u64,
        now: u64,
    ) -> StoreResult<Option<u64>> {
        let interval = i64_of("interval", interval)?;
        let now = i64_of("now", now)?;
        let before: Option<Option<i64>> = with_pool!(self, p, begin => {
            let mut tx = p.begin_with(begin).await?;
            let before: Option<Option<i64>> = sqlx::query_scalar(
                "SELECT settle_started_at FROM delivery_intervals WHERE market = $1 AND interval_idx = $2",
            )
            .bind(market.as_slice())
            .bind(interval)
            .fetch_optional(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO delivery_intervals (market, interval_idx, settle_started_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (market, interval_idx) DO UPDATE SET \
                 settle_started_at = COALESCE(delivery_intervals.settle_started_at, excluded.settle_started_at)",
            )
            .bind(market.as_slice())
            .bind(interval)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            before
        });
        before
            .flatten()
            .map(|t| rows::to_u64("settle_started_at", t))
            .transpose()
    }

    /// Marks an interval settled for `accounts` (one transaction). With `requeue` (an earlier
    /// run had started the interval), every account is queued for resettlement too. The
    /// interval's certificate `hour` is due (again: the contract issues an hour interval by
    /// interval, as their readings fall due).
    pub async fn finish_settle(
        &self,
        market: B256,
        interval: u64,
        accounts: &[Address],
        requeue: bool,
        hour: u64,
        now: u64,
    ) -> StoreResult<SettleRecord> {
        let iv = i64_of("interval", interval)?;
        let now_i = i64_of("now", now)?;
        let hour = i64_of("hour", hour)?;
        with_pool!(self, p, begin => {
            let mut tx = p.begin_with(begin).await?;
            for a in accounts {
                sqlx::query(
                    "INSERT INTO delivery_accounts (market, interval_idx, account) VALUES ($1, $2, $3) \
                     ON CONFLICT (market, interval_idx, account) DO NOTHING",
                )
                .bind(market.as_slice())
                .bind(iv)
                .bind(a.as_slice())
                .execute(&mut *tx)
                .await?;
                if requeue {
                    sqlx::query(
                        "INSERT INTO resettle_queue (market, interval_idx, account, queued_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (market, interval_idx, account) DO NOTHING",
                    )
                    .bind(market.as_slice())
                    .bind(iv)
                    .bind(a.as_slice())
                    .bind(now_i)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            sqlx::query(
                "UPDATE delivery_intervals SET settled_at = $3, accounts = $4 \
                 WHERE market = $1 AND interval_idx = $2",
            )
            .bind(market.as_slice())
            .bind(iv)
            .bind(now_i)
            .bind(i64::try_from(accounts.len()).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO certificate_hours (market, hour) VALUES ($1, $2) \
                 ON CONFLICT (market, hour) DO UPDATE SET issued_at = NULL",
            )
            .bind(market.as_slice())
            .bind(hour)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(SettleRecord {
            accounts: accounts.len(),
            requeued: if requeue { accounts.len() } else { 0 },
        })
    }

    /// When an interval was settled, if it was: `(settle_started_at, settled_at)`.
    pub async fn delivery_interval(
        &self,
        market: B256,
        interval: u64,
    ) -> StoreResult<Option<(Option<u64>, Option<u64>)>> {
        let row: Option<(Option<i64>, Option<i64>)> = with_pool!(self, p => {
            sqlx::query_as(
                "SELECT settle_started_at, settled_at FROM delivery_intervals \
                 WHERE market = $1 AND interval_idx = $2",
            )
            .bind(market.as_slice())
            .bind(i64_of("interval", interval)?)
            .fetch_optional(p)
            .await?
        });
        row.map(|(a, b)| {
            Ok((
                a.map(|v| rows::to_u64("settle_started_at", v))
                    .transpose()?,
                b.map(|v| rows::to_u64("settled_at", v)).transpose()?,
            ))
        })
        .transpose()
    }

    /// The resettlement queue, grouped by market interval, oldest interval first: each with its
    /// accounts and the earliest time one of them was queued.
    pub async fn resettle_queue(&self) -> StoreResult<Vec<(B256, u64, Vec<Address>, u64)>> {
        let rows: Vec<(Vec<u8>, i64, Vec<u8>, i64)> = with_pool!(self, p => {
            sqlx::query_as(
                "SELECT market, interval_idx, account, queued_at FROM resettle_queue \
                 ORDER BY interval_idx, market, account",
            )
            .fetch_all(p)
            .await?
        });
        let mut out: Vec<(B256, u64, Vec<Address>, u64)> = Vec::new();
        for (m, i, a, t) in rows {
            let (m, i) = (
                b256("resettle_queue.market", m)?,
                rows::to_u64("interval", i)?,
            );
            let (a, t) = (
                address("resettle_queue.account", a)?,
                rows::to_u64("queued_at", t)?,
            );
            match out.last_mut() {
                Some(last) if last.0 == m && last.1 == i => {
                    last.2.push(a);
                    last.3 = last.3.min(t);
                }
                _ => out.push((m, i, vec![a], t)),
            }
        }
        Ok(out)
    }

    /// Removes resettled accounts from the queue.
    pub async fn clear_resettle(
        &self,
        market: B256,
        interval: u64,
        accounts: &[Address],
    ) -> StoreResult<()> {
        let iv = i64_of("interval", interval)?;
        with_pool!(self, p, begin => {
            let mut tx = p.begin_with(begin).await?;
            for a in accounts {
                sqlx::query(
                    "DELETE FROM resettle_queue WHERE market = $1 AND interval_idx = $2 AND account = $3",
                )
                .bind(market.as_slice())
                .bind(iv)
                .bind(a.as_slice())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Certificate hours of `market` not issued yet (or due again), oldest first.
    pub async fn hours_to_issue(&self, market: B256) -> StoreResult<Vec<u64>> {
        let rows: Vec<i64> = with_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT hour FROM certificate_hours WHERE market = $1 AND issued_at IS NULL ORDER BY hour",
            )
            .bind(market.as_slice())
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(|h| rows::to_u64("hour", h)).collect()
    }

    /// Records an hour's issuance: `wh`, the hour's certificates on-chain now. The hour's
    /// certificates are then due to move along its fills again.
    pub async fn mark_issued(
        &self,
        market: B256,
        hour: u64,
        wh: u128,
        now: u64,
    ) -> StoreResult<()> {
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO certificate_hours (market, hour, issued_at, wh) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (market, hour) DO UPDATE SET issued_at = excluded.issued_at, wh = excluded.wh, \
                 moved_at = NULL",
            )
            .bind(market.as_slice())
            .bind(i64_of("hour", hour)?)
            .bind(i64_of("now", now)?)
            .bind(wh.to_string())
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Certificates issued for a market hour (Wh), if the hour was issued.
    pub async fn issued(&self, market: B256, hour: u64) -> StoreResult<Option<u128>> {
        let row: Option<(Option<i64>, String)> = with_pool!(self, p => {
            sqlx::query_as("SELECT issued_at, wh FROM certificate_hours WHERE market = $1 AND hour = $2")
                .bind(market.as_slice())
                .bind(i64_of("hour", hour)?)
                .fetch_optional(p)
                .await?
        });
        match row {
            Some((Some(_), wh)) => {
                Ok(Some(wh.parse().map_err(|_| {
                    StoreError::Corrupt("certificate_hours.wh")
                })?))
            }
            _ => Ok(None),
        }
    }
}
