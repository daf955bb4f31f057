//! Checking readings and prices before they are stored (DESIGN 3.7): everything the settlement
//! contract would check, so that an acknowledged reading is one the chain takes, plus the
//! revision rules against what the node already holds. Each refusal has a stable code.

use std::collections::{HashMap, HashSet};

use alloy::primitives::{Address, B256};
use sealgrid_chain::delivery::{SignedPrice, SignedReading};
use sealgrid_store::{PriceRow, ReadingRow, RecordState};
use sealgrid_types::{
    MAX_READING_WH, MAX_REVISION, MAX_REVISION_STEP, MeterQuality, recover_struct_signer,
};
use serde::{Deserialize, Serialize};

use crate::{DeliveryResult, DeliveryService};

/// Why a reading or price was refused: a stable code for programs, and a message for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The item is not a reading (or price) with a signature.
    Malformed,
    /// The signature is not 65 bytes `r ‖ s ‖ v` with low `s` and `v` 27 or 28.
    BadSignature,
    /// Wh at or above 2^48, or a revision above 2^24 - 1.
    OutOfRange,
    /// An unknown quality code.
    BadQuality,
    /// The interval has not ended yet.
    Early,
    /// The true-up window of the interval has closed.
    Late,
    /// The meter is not registered.
    UnknownMeter,
    /// The meter is registered in a market this node does not run.
    ForeignMarket,
    /// The signer is not the meter's gateway key for the interval (a forged signature, or a
    /// reading signed in another domain: another chain or contract).
    Unauthorized,
    /// The signer is a revoked gateway key of the meter.
    RevokedKey,
    /// A revision below the one stored.
    StaleRevision,
    /// The revision stored with other values.
    Conflict,
    /// A revision more than 16 above the one stored (above 16 for a first reading).
    RevisionJump,
    /// The same meter and interval (or market and interval) twice in one request.
    DuplicateInRequest,
    /// The market is not one this node runs.
    UnknownMarket,
    /// The signer is not the market's oracle.
    NotOracle,
    /// The price is outside the market's real-time floor and cap.
    PriceOutOfBounds,
}

impl Refusal {
    /// The code as it appears in answers.
    pub fn code(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::BadSignature => "bad_signature",
            Self::OutOfRange => "out_of_range",
            Self::BadQuality => "bad_quality",
            Self::Early => "early",
            Self::Late => "late",
            Self::UnknownMeter => "unknown_meter",
            Self::ForeignMarket => "foreign_market",
            Self::Unauthorized => "unauthorized",
            Self::RevokedKey => "revoked_key",
            Self::StaleRevision => "stale_revision",
            Self::Conflict => "conflict",
            Self::RevisionJump => "revision_jump",
            Self::DuplicateInRequest => "duplicate_in_request",
            Self::UnknownMarket => "unknown_market",
            Self::NotOracle => "not_oracle",
            Self::PriceOutOfBounds => "price_out_of_bounds",
        }
    }
}

/// What happened to one reading or price of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Checked and stored; it goes on-chain with the next batch.
    Accepted,
    /// Stored before with the same values: nothing changed.
    Duplicate,
    /// Refused: nothing was stored.
    Refused {
        /// The stable code.
        code: Refusal,
        /// What was wrong.
        message: String,
    },
}

impl Outcome {
    fn refused(code: Refusal, message: impl Into<String>) -> Self {
        Self::Refused {
            code,
            message: message.into(),
        }
    }

    /// The refusal code, if refused.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            Self::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// The revision rule against the latest stored revision (`None`: none stored): `Ok(true)` a
/// new revision, `Ok(false)` the stored one again (same values), or why not. A stored value
/// signed by a revoked key may be replaced at any revision within the step.
fn revision_rule(
    revision: u32,
    stored: Option<(u32, bool)>,
    stored_revoked: bool,
) -> Result<bool, (Refusal, String)> {
    let Some((cur, same)) = stored else {
        return if revision > MAX_REVISION_STEP {
            Err((
                Refusal::RevisionJump,
                format!("a first revision may be at most {MAX_REVISION_STEP}, not {revision}"),
            ))
        } else {
            Ok(true)
        };
    };
    if !stored_revoked {
        if revision < cur {
            return Err((
                Refusal::StaleRevision,
                format!("revision {revision} is below the stored {cur}"),
            ));
        }
        if revision == cur {
            return if same {
                Ok(false)
            } else {
                Err((
                    Refusal::Conflict,
                    format!("revision {revision} is stored with other values"),
                ))
            };
        }
    }
    if u64::from(revision) > u64::from(cur) + u64::from(MAX_REVISION_STEP) {
        return Err((
            Refusal::RevisionJump,
            format!("revision {revision} is more than {MAX_REVISION_STEP} above the stored {cur}"),
        ));
    }
    Ok(true)
}

impl DeliveryService {
    /// Checks signed readings and stores those that pass, in one transaction, before
    /// answering; one outcome per reading, in order. A store failure fails the call and
    /// stores nothing.
    pub async fn accept_readings(&self, items: Vec<SignedReading>) -> DeliveryResult<Vec<Outcome>> {
        let now = self.chain_time().await?;
        let (len, trueup) = (self.inner.interval_length, u64::from(self.inner.windows.1));
        let mut out: Vec<Option<Outcome>> = vec![None; items.len()];
        let mut seen = HashSet::new();
        let mut checked: Vec<(usize, Address)> = Vec::new();
        // 1. What needs no I/O: ranges, windows, the signature.
        for (k, s) in items.iter().enumerate() {
            let r = &s.reading;
            let refuse = |code, msg: String| Some(Outcome::refused(code, msg));
            out[k] = if !seen.insert((r.meterId, r.interval)) {
                refuse(
                    Refusal::DuplicateInRequest,
                    format!(
                        "meter {} interval {} is in this request twice",
                        r.meterId, r.interval
                    ),
                )
            } else if r.importWh > MAX_READING_WH
                || r.exportWh > MAX_READING_WH
                || r.revision > MAX_REVISION
            {
                refuse(
                    Refusal::OutOfRange,
                    format!("Wh must be below 2^48 and the revision at most {MAX_REVISION}"),
                )
            } else if MeterQuality::try_from(r.quality).is_err() {
                refuse(
                    Refusal::BadQuality,
                    format!("unknown quality {}", r.quality),
                )
            } else if now < (r.interval + 1).saturating_mul(len) {
                refuse(
                    Refusal::Early,
                    format!(
                        "interval {} ends at {}; it is {now}",
                        r.interval,
                        (r.interval + 1) * len
                    ),
                )
            } else if now > (r.interval + 1).saturating_mul(len).saturating_add(trueup) {
                refuse(
                    Refusal::Late,
                    format!("the true-up window of interval {} closed", r.interval),
                )
            } else {
                match recover_struct_signer(r, &self.inner.domain, &s.signature) {
                    Ok(signer) => {
                        checked.push((k, signer));
                        None
                    }
                    Err(e) => refuse(Refusal::BadSignature, e.to_string()),
                }
            };
        }
        // 2. The registry: the meter, its market, the signer's key for the interval. The
        //    indexed meters of the request in one query; the others from the chain.
        let ids: Vec<B256> = checked
            .iter()
            .map(|(k, _)| items[*k].reading.meterId)
            .collect();
        let indexed = self.inner.store.meters(&ids).await?;
        let mut pass: Vec<(usize, Address)> = Vec::with_capacity(checked.len());
        for (k, signer) in checked {
            let r = &items[k].reading;
            let market = match indexed.get(&r.meterId) {
                Some(m) => Some(m.market),
                None => self.meter_market(r.meterId).await?,
            };
            match market {
                None => {
                    out[k] = Some(Outcome::refused(
                        Refusal::UnknownMeter,
                        format!("meter {} is not registered", r.meterId),
                    ));
                    continue;
                }
                Some(m) if !self.inner.markets.contains(&m) => {
                    out[k] = Some(Outcome::refused(
                        Refusal::ForeignMarket,
                        format!(
                            "meter {} is in market {m}, which this node does not run",
                            r.meterId
                        ),
                    ));
                    continue;
                }
                Some(_) => {}
            }
            match self.key_status(r.meterId, r.interval, signer).await? {
                KeyStatus::Valid => pass.push((k, signer)),
                KeyStatus::Revoked => {
                    out[k] = Some(Outcome::refused(
                        Refusal::RevokedKey,
                        format!("{signer} is a revoked gateway key of meter {}", r.meterId),
                    ));
                }
                KeyStatus::Invalid => {
                    out[k] = Some(Outcome::refused(
                        Refusal::Unauthorized,
                        format!(
                            "the signature recovers to {signer}, which is not the gateway key of meter {} for interval {} (a forged signature, or one made for another chain or contract)",
                            r.meterId, r.interval
                        ),
                    ));
                }
            }
        }
        // 3. Revisions against what the node holds.
        let keys: Vec<(B256, u64)> = pass
            .iter()
            .map(|(k, _)| (items[*k].reading.meterId, items[*k].reading.interval))
            .collect();
        let latest = self.inner.store.latest_readings(&keys).await?;
        let mut rows = Vec::new();
        let mut slots = Vec::new();
        for (k, signer) in pass {
            let r = &items[k].reading;
            let stored = latest.get(&(r.meterId, r.interval));
            let revoked = match stored {
                Some(s) => {
                    self.key_status(s.meter, s.interval, s.signer).await? == KeyStatus::Revoked
                }
                None => false,
            };
            let same = stored.map(|s| {
                (
                    s.revision,
                    s.import_wh == r.importWh
                        && s.export_wh == r.exportWh
                        && s.quality == r.quality,
                )
            });
            match revision_rule(r.revision, same, revoked) {
                Ok(true) => {
                    rows.push(ReadingRow {
                        meter: r.meterId,
                        interval: r.interval,
                        revision: r.revision,
                        import_wh: r.importWh,
                        export_wh: r.exportWh,
                        quality: r.quality,
                        signature: items[k].signature.to_vec(),
                        signer,
                        received_at: now,
                        state: RecordState::Pending,
                        reason: None,
                    });
                    slots.push(k);
                }
                Ok(false) => out[k] = Some(Outcome::Duplicate),
                Err((code, msg)) => out[k] = Some(Outcome::refused(code, msg)),
            }
        }
        // 4. Stored (one transaction) before anything is acknowledged.
        let inserted = self.inner.store.insert_readings(&rows).await?;
        for ((k, row), new) in slots.into_iter().zip(&rows).zip(inserted) {
            out[k] = Some(if new {
                Outcome::Accepted
            } else {
                // Another request stored this revision in the meantime.
                let now_stored = self
                    .inner
                    .store
                    .readings_of(row.meter, row.interval)
                    .await?
                    .into_iter()
                    .find(|s| s.revision == row.revision);
                match now_stored {
                    Some(s)
                        if s.import_wh == row.import_wh
                            && s.export_wh == row.export_wh
                            && s.quality == row.quality =>
                    {
                        Outcome::Duplicate
                    }
                    _ => Outcome::refused(
                        Refusal::Conflict,
                        format!("revision {} is stored with other values", row.revision),
                    ),
                }
            });
        }
        crate::metrics::intake("reading", out.iter().flatten());
        Ok(out
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::refused(Refusal::Malformed, "not processed")))
            .collect())
    }

    /// Checks signed real-time prices and stores those that pass, as
    /// [`DeliveryService::accept_readings`] does for readings.
    pub async fn accept_prices(&self, items: Vec<SignedPrice>) -> DeliveryResult<Vec<Outcome>> {
        let now = self.chain_time().await?;
        let (len, trueup) = (self.inner.interval_length, u64::from(self.inner.windows.1));
        let mut out = Vec::with_capacity(items.len());
        let mut rows = Vec::new();
        let mut slots = Vec::new();
        let mut seen = HashSet::new();
        let mut configs: HashMap<B256, Option<(Address, i64, i64)>> = HashMap::new();
        for (k, s) in items.iter().enumerate() {
            let p = &s.price;
            let cfg = match configs.get(&p.market) {
                Some(c) => *c,
                None => {
                    let c = if self.inner.markets.contains(&p.market) {
                        self.oracle_of(p.market).await?
                    } else {
                        None
                    };
                    configs.insert(p.market, c);
                    c
                }
            };
            let refused = |code, msg: String| Outcome::refused(code, msg);
            let o = if !seen.insert((p.market, p.interval)) {
                refused(
                    Refusal::DuplicateInRequest,
                    format!(
                        "market {} interval {} is in this request twice",
                        p.market, p.interval
                    ),
                )
            } else if p.revision > MAX_REVISION {
                refused(
                    Refusal::OutOfRange,
                    format!("revision above {MAX_REVISION}"),
                )
            } else if let Some((oracle, floor, cap)) = cfg {
                if now < (p.interval + 1).saturating_mul(len) {
                    refused(
                        Refusal::Early,
                        format!("interval {} has not ended", p.interval),
                    )
                } else if now > (p.interval + 1).saturating_mul(len).saturating_add(trueup) {
                    refused(
                        Refusal::Late,
                        format!("the true-up window of interval {} closed", p.interval),
                    )
                } else if p.price < floor || p.price > cap {
                    refused(
                        Refusal::PriceOutOfBounds,
                        format!(
                            "{} is outside the market's real-time bounds [{floor}, {cap}]",
                            p.price
                        ),
                    )
                } else {
                    match recover_struct_signer(p, &self.inner.domain, &s.signature) {
                        Err(e) => refused(Refusal::BadSignature, e.to_string()),
                        Ok(signer) if signer != oracle => refused(
                            Refusal::NotOracle,
                            format!(
                                "the signature recovers to {signer}, not the market's oracle {oracle}"
                            ),
                        ),
                        Ok(_) => {
                            let stored =
                                self.inner.store.latest_price(p.market, p.interval).await?;
                            let same = stored.as_ref().map(|r| (r.revision, r.price == p.price));
                            match revision_rule(p.revision, same, false) {
                                Ok(true) => {
                                    rows.push(PriceRow {
                                        market: p.market,
                                        interval: p.interval,
                                        revision: p.revision,
                                        price: p.price,
                                        signature: s.signature.to_vec(),
                                        received_at: now,
                                        state: RecordState::Pending,
                                        reason: None,
                                    });
                                    slots.push(k);
                                    Outcome::Accepted
                                }
                                Ok(false) => Outcome::Duplicate,
                                Err((code, msg)) => refused(code, msg),
                            }
                        }
                    }
                }
            } else {
                refused(
                    Refusal::UnknownMarket,
                    format!("market {} is not run by this node", p.market),
                )
            };
            out.push(o);
        }
        let inserted = self.inner.store.insert_prices(&rows).await?;
        for (k, new) in slots.into_iter().zip(inserted) {
            if !new {
                out[k] = Outcome::Duplicate;
            }
        }
        crate::metrics::intake("price", &out);
        Ok(out)
    }
}

/// A gateway key's standing for a meter and interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyStatus {
    /// The meter's key for the interval.
    Valid,
    /// A key the meter had, now revoked.
    Revoked,
    /// Not the meter's key for the interval.
    Invalid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_follow_the_contracts_rules() {
        assert_eq!(revision_rule(0, None, false), Ok(true));
        assert_eq!(revision_rule(16, None, false), Ok(true));
        assert_eq!(
            revision_rule(17, None, false).map_err(|e| e.0),
            Err(Refusal::RevisionJump)
        );
        assert_eq!(revision_rule(3, Some((3, true)), false), Ok(false));
        assert_eq!(
            revision_rule(3, Some((3, false)), false).map_err(|e| e.0),
            Err(Refusal::Conflict)
        );
        assert_eq!(
            revision_rule(2, Some((3, true)), false).map_err(|e| e.0),
            Err(Refusal::StaleRevision)
        );
        assert_eq!(revision_rule(19, Some((3, true)), false), Ok(true));
        assert_eq!(
            revision_rule(20, Some((3, true)), false).map_err(|e| e.0),
            Err(Refusal::RevisionJump)
        );
        // A stored reading of a revoked key is replaced at any revision within the step.
        assert_eq!(revision_rule(2, Some((3, false)), true), Ok(true));
        assert_eq!(revision_rule(3, Some((3, false)), true), Ok(true));
    }

    #[test]
    fn codes_are_stable_snake_case() {
        for (r, c) in [
            (Refusal::Unauthorized, "unauthorized"),
            (Refusal::RevokedKey, "revoked_key"),
            (Refusal::StaleRevision, "stale_revision"),
            (Refusal::DuplicateInRequest, "duplicate_in_request"),
        ] {
            assert_eq!(r.code(), c);
            assert_eq!(serde_json::to_value(r).expect("json"), serde_json::json!(c));
        }
    }
}
