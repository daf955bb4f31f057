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

/// A market hour whose certificates are due to move (issued, not moved since).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HourToMove {
    /// The hour (unix time / 3600).
    pub hour: u64,
    /// A plan an earlier run wrote and did not finish: its JSON and the block it was made at.
    pub plan: Option<(String, u64)>,
}

impl Store {
    /// Hours of `market` with certificates issued since their last move, oldest first.
    pub async fn hours_to_move(&self, market: B256) -> StoreResult<Vec<HourToMove>> {
        let rows: Vec<(i64, Option<String>, Option<i64>)> = with_pool!(self, p => {
            sqlx::query_as(
                "SELECT hour, move_plan, move_block FROM certificate_hours \
                 WHERE market = $1 AND issued_at IS NOT NULL AND moved_at IS NULL ORDER BY hour",
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

    /// Records the plan for `hour` (JSON of the moves) before its first transaction.
    pub async fn plan_moves(
        &self,
        market: B256,
        hour: u64,
        plan: &str,
        block: u64,
    ) -> StoreResult<()> {
        with_pool!(self, p => {
            sqlx::query(
                "UPDATE certificate_hours SET move_plan = $3, move_block = $4 \
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
