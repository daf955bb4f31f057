//! Certificates moved along P2P fills (schema 3): per market hour, the moves the node is
//! sending (a plan written before the first transaction) and per seller the Wh passed on so far.
//!
//! A plan cut short by a crash is resolved from the chain on restart (the transfers that
//! landed are found by their events) before anything is planned again, so a move is never
//! made twice and a seller never passes on more than it sold.

use std::collections::HashMap;

use alloy_primitives::{Address, B256};

use crate::{
    Pool, Store, StoreError, StoreResult,
    rows::{self, address},
};

/// A market hour whose certificates are due to move (issued, not moved since), or whose
/// plan an earlier run did not finish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HourToMove {
    /// The hour (unix time / 3600).
    pub hour: u64,
    /// A plan an earlier run wrote and did not finish: its JSON and the first block its
    /// transactions can be in (where a restart looks for them).
    pub plan: Option<(String, u64)>,
}

impl Store {
    /// Hours of `market` with certificates issued since their last move, and hours with an
    /// unfinished plan (whatever their issuance), oldest first.
    pub async fn hours_to_move(&self, market: B256) -> StoreResult<Vec<HourToMove>> {
        let rows: Vec<(i64, Option<String>, Option<i64>)> = with_pool!(self, p => {
            sqlx::query_as(
                "SELECT hour, move_plan, move_block FROM certificate_hours WHERE market = $1 \
                 AND (move_plan IS NOT NULL OR (issued_at IS NOT NULL AND moved_at IS NULL)) \
                 ORDER BY hour",
            )
            .bind(market.as_slice())
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(h, plan, block)| {
                Ok(HourToMove {
                    hour: rows::to_u64("certificate_hours.hour", h)?,
                    plan: match (plan, block) {
                        (Some(j), Some(b)) => {
                            Some((j, rows::to_u64("certificate_hours.move_block", b)?))
                        }
                        _ => None,
                    },
                })
            })
            .collect()
    }

    /// Wh each seller of `market` has passed on for `hour`.
    pub async fn certificates_moved(
        &self,
        market: B256,
        hour: u64,
    ) -> StoreResult<HashMap<Address, u128>> {
        let rows: Vec<(Vec<u8>, String)> = with_pool!(self, p => {
            sqlx::query_as(
                "SELECT seller, moved_wh FROM certificate_moves WHERE market = $1 AND hour = $2",
            )
            .bind(market.as_slice())
            .bind(rows::to_i64("hour", hour)?)
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(s, wh)| {
                Ok((
                    address("certificate_moves.seller", s)?,
                    wh.parse()
                        .map_err(|_| StoreError::Corrupt("certificate_moves.moved_wh"))?,
                ))
            })
            .collect()
    }

    /// Records the plan for `hour` (JSON of the moves) before its first transaction; `block`
    /// is the first block its transactions can be in. Until [`Self::finish_moves`] the hour is
    /// due ([`Self::hours_to_move`]), even if an earlier plan of it was finished.
    pub async fn plan_moves(
        &self,
        market: B256,
        hour: u64,
        plan: &str,
        block: u64,
    ) -> StoreResult<()> {
        with_pool!(self, p => {
            sqlx::query(
                "UPDATE certificate_hours SET move_plan = $3, move_block = $4, moved_at = NULL \
                 WHERE market = $1 AND hour = $2",
            )
            .bind(market.as_slice())
            .bind(rows::to_i64("hour", hour)?)
            .bind(plan)
            .bind(rows::to_i64("block", block)?)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Records what landed of `hour`'s moves (Wh per seller), clears the plan and marks the
    /// hour moved, in one transaction.
    pub async fn finish_moves(
        &self,
        market: B256,
        hour: u64,
        landed: &[(Address, u128)],
        now: u64,
    ) -> StoreResult<()> {
        let h = rows::to_i64("hour", hour)?;
        let before = self.certificates_moved(market, hour).await?;
        with_pool!(self, p, begin => {
            let mut tx = p.begin_with(begin).await?;
            for (seller, wh) in landed {
                let total = before
                    .get(seller)
                    .copied()
                    .unwrap_or(0)
                    .checked_add(*wh)
                    .ok_or(StoreError::Corrupt("certificate_moves.moved_wh overflow"))?;
                sqlx::query(
                    "INSERT INTO certificate_moves (market, hour, seller, moved_wh) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (market, hour, seller) DO UPDATE SET moved_wh = excluded.moved_wh",
                )
                .bind(market.as_slice())
                .bind(h)
                .bind(seller.as_slice())
                .bind(total.to_string())
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "UPDATE certificate_hours SET move_plan = NULL, move_block = NULL, moved_at = $3 \
                 WHERE market = $1 AND hour = $2",
            )
            .bind(market.as_slice())
            .bind(h)
            .bind(rows::to_i64("now", now)?)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKET: B256 = B256::repeat_byte(0x07);

    async fn due(store: &Store) -> Vec<(u64, bool)> {
        store
            .hours_to_move(MARKET)
            .await
            .expect("hours")
            .into_iter()
            .map(|h| (h.hour, h.plan.is_some()))
            .collect()
    }

    #[tokio::test]
    async fn an_hour_with_an_unfinished_plan_stays_due_until_its_moves_are_recorded() {
        let store = Store::connect("sqlite::memory:").await.expect("store");
        let seller = Address::repeat_byte(0x51);
        store
            .mark_issued(MARKET, 7, 1_000, 10)
            .await
            .expect("issued");
        assert_eq!(due(&store).await, [(7, false)]);
        // A first round: planned, landed, recorded.
        store.plan_moves(MARKET, 7, "[]", 100).await.expect("plan");
        assert_eq!(due(&store).await, [(7, true)]);
        store
            .finish_moves(MARKET, 7, &[(seller, 600)], 11)
            .await
            .expect("finish");
        assert!(due(&store).await.is_empty());
        // A plan made after the hour was marked moved (a restart that resolved an earlier plan
        // and planned the rest): the hour is due again until that plan is recorded too.
        store.plan_moves(MARKET, 7, "[]", 101).await.expect("plan");
        assert_eq!(
            store.hours_to_move(MARKET).await.expect("hours")[0].plan,
            Some(("[]".to_owned(), 101))
        );
        store
            .finish_moves(MARKET, 7, &[(seller, 400)], 12)
            .await
            .expect("finish");
        assert!(due(&store).await.is_empty());
        assert_eq!(
            store.certificates_moved(MARKET, 7).await.expect("moved"),
            HashMap::from([(seller, 1_000)])
        );
        // A new issuance makes it due again, and a plan survives the hour being reissued.
        store.plan_moves(MARKET, 7, "[]", 102).await.expect("plan");
        store
            .mark_issued(MARKET, 7, 1_200, 13)
            .await
            .expect("issued");
        assert_eq!(due(&store).await, [(7, true)]);
        store.close().await;
    }
}
