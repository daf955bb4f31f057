//! The durable outbox (SQLite through sqlx, WAL, `synchronous = FULL`).
//!
//! A reading is signed and written here, together with the meter's new base capture, in one
//! transaction, before anything is sent: a crash after the commit loses nothing (the forwarder
//! sends it after the restart), a crash before it signs again from the old base (the same
//! values, so the same reading). The node dedupes by (meter, interval, revision), so a reading
//! sent twice — the answer lost to a WAN outage — is a `duplicate` there: exactly-once effect.

use std::{str::FromStr, time::Duration};

use alloy_primitives::B256;
use sqlx::{
    Row,
    migrate::Migrator,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};

use crate::{
    charger::{CheckedRecord, MeterTrack, TxnTrack},
    error::{GatewayError, GatewayResult},
    intervals::Capture,
};

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// One signed reading waiting for the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Delivery order.
    pub seq: i64,
    /// The JSON item (`{"reading": .., "signature": ..}`).
    pub item: String,
}

/// A signed reading for the outbox: its interval and revision, and the JSON item of
/// `POST /v1/readings` (`{"reading": .., "signature": ..}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedItem {
    /// The interval.
    pub interval: u64,
    /// The revision.
    pub revision: u32,
    /// The JSON item.
    pub item: String,
}

/// One meter's part of a write: its signed readings and its new base capture.
#[derive(Clone, Copy, Debug)]
pub struct MeterRecord<'a> {
    /// The meter.
    pub meter: B256,
    /// The new base (unchanged when `None`).
    pub base: Option<Capture>,
    /// The signed readings.
    pub items: &'a [SignedItem],
}

/// What the node said about a reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivered {
    /// Stored by the node.
    Accepted,
    /// The node had it already.
    Duplicate,
    /// Refused by the node, with its stable code: never sent again.
    Refused {
        /// The code.
        code: String,
        /// The message.
        message: String,
    },
}

/// Counts by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting to be sent.
    pub pending: u64,
    /// Accepted by the node.
    pub accepted: u64,
    /// Duplicates at the node.
    pub duplicate: u64,
    /// Refused by the node.
    pub refused: u64,
}

/// The outbox and the meters' bases.
#[derive(Clone, Debug)]
pub struct Outbox {
    pool: SqlitePool,
}

fn hex(m: &B256) -> String {
    format!("{m:#x}")
}

impl Outbox {
    /// Opens (creating if missing) the outbox at `url` (`sqlite:PATH`).
    pub async fn open(url: &str) -> GatewayResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let max = if url.contains(":memory:") { 1 } else { 4 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(opts)
            .await?;
        MIGRATIONS.run(&pool).await?;
        Ok(Self { pool })
    }

    /// The base capture of `meter`.
    pub async fn base(&self, meter: &B256) -> GatewayResult<Option<Capture>> {
        let row = sqlx::query("SELECT t, import_wh, export_wh FROM meter_base WHERE meter = ?")
            .bind(hex(meter))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| Capture {
            t: r.get::<i64, _>(0) as u64,
            import_wh: r.get::<i64, _>(1) as u64,
            export_wh: r.get::<i64, _>(2) as u64,
        }))
    }

    /// Stores signed readings of `meter` and its new base, in one
    /// transaction. A reading already in the outbox (same meter, interval, revision) is kept
    /// as it was. Returns how many were new.
    pub async fn record(
        &self,
        meter: &B256,
        base: Option<Capture>,
        items: &[SignedItem],
        now: u64,
    ) -> GatewayResult<u64> {
        let one = MeterRecord {
            meter: *meter,
            base,
            items,
        };
        let n = self.record_many(&[one], &[], now).await?;
        Ok(n.first().copied().unwrap_or(0))
    }

    /// [`Self::record`] for many meters, and device refusals `(device, code, message)`, in
    /// one transaction. Returns, per meter, how many readings were new.
    pub async fn record_many(
        &self,
        meters: &[MeterRecord<'_>],
        refusals: &[(String, &str, &str)],
        now: u64,
    ) -> GatewayResult<Vec<u64>> {
        let mut tx = self.pool.begin().await?;
        let mut out = Vec::with_capacity(meters.len());
        for rec in meters {
            out.push(insert_meter_record(&mut tx, rec, now).await?);
        }
        for (device, code, message) in refusals {
            insert_refusal(&mut tx, device, code, message, now).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Up to `limit` pending readings, oldest first.
    pub async fn pending(&self, limit: u32) -> GatewayResult<Vec<Pending>> {
        let rows = sqlx::query(
            "SELECT seq, item FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Pending {
                seq: r.get(0),
                item: r.get(1),
            })
            .collect())
    }

    /// Records the node's answers, in one transaction.
    pub async fn delivered(&self, answers: &[(i64, Delivered)], now: u64) -> GatewayResult<()> {
        let mut tx = self.pool.begin().await?;
        for (seq, d) in answers {
            let (state, code, message) = match d {
                Delivered::Accepted => ("accepted", None, None),
                Delivered::Duplicate => ("duplicate", None, None),
                Delivered::Refused { code, message } => {
                    ("refused", Some(code.as_str()), Some(message.as_str()))
                }
            };
            sqlx::query(
                "UPDATE outbox SET state = ?, code = ?, message = ?, delivered_at = ? \
                 WHERE seq = ? AND state = 'pending'",
            )
            .bind(state)
            .bind(code)
            .bind(message)
            .bind(now as i64)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Counts by state.
    pub async fn counts(&self) -> GatewayResult<OutboxCounts> {
        let rows = sqlx::query("SELECT state, COUNT(*) FROM outbox GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        let mut c = OutboxCounts::default();
        for r in rows {
            let n = r.get::<i64, _>(1) as u64;
            match r.get::<String, _>(0).as_str() {
                "pending" => c.pending = n,
                "accepted" => c.accepted = n,
                "duplicate" => c.duplicate = n,
                _ => c.refused = n,
            }
        }
        Ok(c)
    }

    /// The device refusals, as `(device, code, message)`, oldest first.
    pub async fn device_refusals(&self) -> GatewayResult<Vec<(String, String, String)>> {
        let rows = sqlx::query("SELECT device, code, message FROM device_refusals ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readings_survive_a_reopen_and_are_delivered_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite:{}", dir.path().join("o.db").display());
        let m = B256::repeat_byte(7);
        let base = Capture {
            t: 600,
            import_wh: 5,
            export_wh: 1,
        };
        {
            let o = Outbox::open(&url).await.expect("opens");
            let item = |interval, item: &str| SignedItem {
                interval,
                revision: 0,
                item: item.to_string(),
            };
            let items = [item(1, "a"), item(2, "b")];
            assert_eq!(
                o.record(&m, Some(base), &items, 1).await.expect("stored"),
                2
            );
            // The same readings again (a crash before the base moved): nothing new.
            assert_eq!(
                o.record(&m, Some(base), &items, 2).await.expect("stored"),
                0
            );
        }
        let o = Outbox::open(&url).await.expect("reopens");
        assert_eq!(o.base(&m).await.expect("reads"), Some(base));
        let p = o.pending(10).await.expect("reads");
        assert_eq!(
            p.iter().map(|x| x.item.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        o.delivered(
            &[
                (p[0].seq, Delivered::Accepted),
                (
                    p[1].seq,
                    Delivered::Refused {
                        code: "late".into(),
                        message: "after the window".into(),
                    },
                ),
            ],
            3,
        )
        .await
        .expect("stored");
        // An answer to a reading already answered changes nothing.
        o.delivered(&[(p[0].seq, Delivered::Duplicate)], 4)
            .await
            .expect("stored");
        assert!(o.pending(10).await.expect("reads").is_empty());
        let c = o.counts().await.expect("reads");
        assert_eq!(
            (c.accepted, c.refused, c.duplicate, c.pending),
            (1, 1, 0, 0)
        );
    }
}

/// Inserts one meter's signed readings and new base; returns how many readings were new.
async fn insert_meter_record(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    rec: &MeterRecord<'_>,
    now: u64,
) -> GatewayResult<u64> {
    let m = hex(&rec.meter);
    let mut new = 0;
    for SignedItem {
        interval,
        revision,
        item,
    } in rec.items
    {
        let r = sqlx::query(
            "INSERT INTO outbox (meter, interval, revision, item, signed_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (meter, interval, revision) DO NOTHING",
        )
        .bind(&m)
        .bind(*interval as i64)
        .bind(i64::from(*revision))
        .bind(item)
        .bind(now as i64)
        .execute(&mut **tx)
        .await?;
        new += r.rows_affected();
    }
    if let Some(b) = rec.base {
        sqlx::query(
            "INSERT INTO meter_base (meter, t, import_wh, export_wh) VALUES (?, ?, ?, ?) \
             ON CONFLICT (meter) DO UPDATE SET t = excluded.t, import_wh = excluded.import_wh, \
             export_wh = excluded.export_wh",
        )
        .bind(&m)
        .bind(b.t as i64)
        .bind(b.import_wh as i64)
        .bind(b.export_wh as i64)
        .execute(&mut **tx)
        .await?;
    }
    Ok(new)
}

async fn insert_refusal(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    device: &str,
    code: &str,
    message: &str,
    now: u64,
) -> GatewayResult<()> {
    sqlx::query("INSERT INTO device_refusals (device, at, code, message) VALUES (?, ?, ?, ?)")
        .bind(device)
        .bind(now as i64)
        .bind(code)
        .bind(message)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A capture of a charger's meter held until its boundary passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldCapture {
    /// Its row.
    pub id: i64,
    /// The market meter.
    pub meter: B256,
    /// The capture.
    pub capture: Capture,
}

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.map(|x| x as u64)
}

impl Outbox {
    /// What the gateway remembers of `station`'s meter and of its transaction `txn`.
    pub async fn charger_tracks(
        &self,
        station: &str,
        txn: &str,
    ) -> GatewayResult<(Option<TxnTrack>, MeterTrack)> {
        let m = sqlx::query(
            "SELECT last_page, last_wh, capture_t, capture_wh FROM charger_meter WHERE station = ?",
        )
        .bind(station)
        .fetch_optional(&self.pool)
        .await?;
        let meter = m.map_or_else(MeterTrack::default, |r| MeterTrack {
            last_page: opt_u64(r.get(0)),
            last_wh: opt_u64(r.get(1)),
            last_capture: opt_u64(r.get(2)).zip(opt_u64(r.get(3))),
        });
        let t =
            sqlx::query("SELECT last_page, ended FROM charger_txn WHERE station = ? AND txn = ?")
                .bind(station)
                .bind(txn)
                .fetch_optional(&self.pool)
                .await?;
        let txn = t.map(|r| TxnTrack {
            last_page: r.get::<i64, _>(0) as u64,
            ended: r.get::<i64, _>(1) != 0,
        });
        Ok((txn, meter))
    }

    /// Whether `station` sent a record with this payload digest that was accepted before.
    pub async fn has_charger_record(&self, station: &str, digest: &str) -> GatewayResult<bool> {
        let r = sqlx::query("SELECT 1 FROM charger_records WHERE station = ? AND digest = ?")
            .bind(station)
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.is_some())
    }

    /// Stores a checked record, the tracks after it and its captures, in one transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn accept_charger_record(
        &self,
        station: &str,
        meter: &B256,
        txn: &str,
        record: &CheckedRecord,
        txn_track: TxnTrack,
        meter_track: MeterTrack,
        now: u64,
    ) -> GatewayResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO charger_records (digest, station, txn, page, record, received_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&record.digest)
        .bind(station)
        .bind(txn)
        .bind(record.page as i64)
        .bind(&record.text)
        .bind(now as i64)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO charger_txn (station, txn, last_page, ended) VALUES (?, ?, ?, ?) \
             ON CONFLICT (station, txn) DO UPDATE SET last_page = excluded.last_page, ended = excluded.ended",
        )
        .bind(station)
        .bind(txn)
        .bind(txn_track.last_page as i64)
        .bind(i64::from(txn_track.ended))
        .execute(&mut *tx)
        .await?;
        let (ct, cw) = meter_track.last_capture.unzip();
        sqlx::query(
            "INSERT INTO charger_meter (station, meter, last_page, last_wh, capture_t, capture_wh) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (station) DO UPDATE SET meter = excluded.meter, \
             last_page = excluded.last_page, last_wh = excluded.last_wh, \
             capture_t = excluded.capture_t, capture_wh = excluded.capture_wh",
        )
        .bind(station)
        .bind(hex(meter))
        .bind(meter_track.last_page.map(|x| x as i64))
        .bind(meter_track.last_wh.map(|x| x as i64))
        .bind(ct.map(|x| x as i64))
        .bind(cw.map(|x| x as i64))
        .execute(&mut *tx)
        .await?;
        for (t, wh, boundary) in &record.readings {
            sqlx::query(
                "INSERT INTO charger_points (station, txn, t, import_wh) VALUES (?, ?, ?, ?)",
            )
            .bind(station)
            .bind(txn)
            .bind(boundary.unwrap_or(*t) as i64)
            .bind(*wh as i64)
            .execute(&mut *tx)
            .await?;
            if let Some(b) = boundary {
                sqlx::query(
                    "INSERT INTO charger_captures (station, meter, t, import_wh) VALUES (?, ?, ?, ?)",
                )
                .bind(station)
                .bind(hex(meter))
                .bind(*b as i64)
                .bind(*wh as i64)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The checked readings of `station`'s transaction `txn` in order: `(t, Wh)`, `t` the
    /// boundary a reading counts for, else its own time.
    pub async fn transaction_points(
        &self,
        station: &str,
        txn: &str,
    ) -> GatewayResult<Vec<(u64, u64)>> {
        let rows = sqlx::query(
            "SELECT t, import_wh FROM charger_points WHERE station = ? AND txn = ? ORDER BY id",
        )
        .bind(station)
        .bind(txn)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<i64, _>(0) as u64, r.get::<i64, _>(1) as u64))
            .collect())
    }

    /// The transactions whose end reading has not been seen: `(station, txn)`.
    pub async fn open_transactions(&self) -> GatewayResult<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT station, txn FROM charger_txn WHERE ended = 0")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Records a refused charger value (`device` is the station).
    pub async fn refusal(
        &self,
        device: &str,
        code: &str,
        message: &str,
        now: u64,
    ) -> GatewayResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_refusal(&mut tx, device, code, message, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Held captures with boundary at or before `until`, by meter, then time.
    pub async fn held_captures(&self, until: u64) -> GatewayResult<Vec<HeldCapture>> {
        let rows = sqlx::query(
            "SELECT id, meter, t, import_wh FROM charger_captures WHERE state = 'held' AND t <= ? \
             ORDER BY meter, t, id",
        )
        .bind(until as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let m: String = r.get(1);
                let meter = m
                    .parse::<B256>()
                    .map_err(|e| GatewayError::Config(format!("a stored meter id {m}: {e}")))?;
                Ok(HeldCapture {
                    id: r.get(0),
                    meter,
                    capture: Capture {
                        t: r.get::<i64, _>(2) as u64,
                        import_wh: r.get::<i64, _>(3) as u64,
                        export_wh: 0,
                    },
                })
            })
            .collect()
    }

    /// Stores what held captures gave, in one transaction: the signed readings and new base
    /// (captures `ids` become used), or the refusal (they become refused).
    pub async fn release(
        &self,
        outcome: Result<MeterRecord<'_>, (&str, &str, &str)>,
        ids: &[i64],
        now: u64,
    ) -> GatewayResult<u64> {
        let mut tx = self.pool.begin().await?;
        let (state, new) = match outcome {
            Ok(rec) => ("used", insert_meter_record(&mut tx, &rec, now).await?),
            Err((device, code, message)) => {
                insert_refusal(&mut tx, device, code, message, now).await?;
                ("refused", 0)
            }
        };
        for id in ids {
            sqlx::query("UPDATE charger_captures SET state = ? WHERE id = ?")
                .bind(state)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    /// The records kept for `station`, in pagination order.
    pub async fn charger_records(&self, station: &str) -> GatewayResult<Vec<(u64, String)>> {
        let rows =
            sqlx::query("SELECT page, record FROM charger_records WHERE station = ? ORDER BY page")
                .bind(station)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<i64, _>(0) as u64, r.get(1)))
            .collect())
    }
}
