//! Per-market interval timing (docs/encoding.md, "Time").
//!
//! With interval length `L`: `start(i) = i * L`, `end(i) = start(i) + L`,
//! gate `G(i) = start(i) - gateLead`, settle deadline `D(i) = G(i) + settleWindow`, and
//! `settleWindow + 60 <= gateLead` so that `D(i) + 60 <= start(i)`. Times are Unix seconds.
//!
//! - commit and withdraw: `now < G(i)` and `G(i) <= now + commitHorizon`;
//! - settle: `G(i) <= now < D(i)`;
//! - dispute: settled and `now < start(i)`;
//! - claim: settled and `now >= start(i)`;
//! - refund: voided, or unsettled and `now >= D(i)`.
//!
//! An interval whose times do not fit in `u64` (or whose gate would fall before the epoch)
//! yields [`TypesError::TimeOverflow`]; the contracts revert on the same arithmetic.

use crate::error::{TypesError, TypesResult};

/// The least time between the settle deadline and the start of delivery, in seconds, during
/// which a censored trader can still dispute.
pub const MIN_DISPUTE_WINDOW: u32 = 60;

/// Where an interval's batch stands on-chain, as far as the time rules need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BatchStatus {
    /// No valid settle has landed.
    Unsettled,
    /// A settle landed and was not voided.
    Settled,
    /// A dispute voided the batch.
    Voided,
}

impl BatchStatus {
    /// The contract's `ISealgridAuction.Status` code: 0 open (unsettled), 1 settled, 2 voided.
    pub const fn code(self) -> u8 {
        match self {
            Self::Unsettled => 0,
            Self::Settled => 1,
            Self::Voided => 2,
        }
    }
}

impl TryFrom<u8> for BatchStatus {
    type Error = TypesError;

    fn try_from(code: u8) -> TypesResult<Self> {
        match code {
            0 => Ok(Self::Unsettled),
            1 => Ok(Self::Settled),
            2 => Ok(Self::Voided),
            other => Err(TypesError::InvalidStatus(other)),
        }
    }
}

/// A market's timing parameters, validated on construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MarketTiming {
    interval_length: u32,
    gate_lead: u32,
    settle_window: u32,
    commit_horizon: u32,
}

impl MarketTiming {
    /// The defaults of DESIGN.md 3.1: 300 s intervals, gate 300 s before start, 240 s to
    /// settle; commits accepted up to one day before the gate.
    pub const DEFAULT: Self = Self {
        interval_length: 300,
        gate_lead: 300,
        settle_window: 240,
        commit_horizon: 86_400,
    };

    /// Validated timing: `interval_length > 0`, `settle_window > 0`,
    /// `settle_window + 60 <= gate_lead` and `commit_horizon > 0`.
    pub fn new(
        interval_length: u32,
        gate_lead: u32,
        settle_window: u32,
        commit_horizon: u32,
    ) -> TypesResult<Self> {
        if interval_length == 0 {
            return Err(TypesError::InvalidTiming(
                "interval length must be positive",
            ));
        }
        if settle_window == 0 {
            return Err(TypesError::InvalidTiming("settle window must be positive"));
        }
        // In u64 so that the sum cannot overflow.
        if u64::from(settle_window) + u64::from(MIN_DISPUTE_WINDOW) > u64::from(gate_lead) {
            return Err(TypesError::InvalidTiming(
                "settle window + 60 must not exceed gate lead",
            ));
        }
        if commit_horizon == 0 {
            return Err(TypesError::InvalidTiming("commit horizon must be positive"));
        }
        Ok(Self {
            interval_length,
            gate_lead,
            settle_window,
            commit_horizon,
        })
    }

    /// Interval length `L` in seconds.
    pub fn interval_length(&self) -> u32 {
        self.interval_length
    }

    /// Seconds from the gate to the start of delivery.
    pub fn gate_lead(&self) -> u32 {
        self.gate_lead
    }

    /// Seconds after the gate within which the settle must land.
    pub fn settle_window(&self) -> u32 {
        self.settle_window
    }

    /// How long before its gate an interval starts accepting commitments, in seconds.
    pub fn commit_horizon(&self) -> u32 {
        self.commit_horizon
    }

    /// `start(i) = i * L`.
    pub fn start(&self, interval: u64) -> TypesResult<u64> {
        interval
            .checked_mul(u64::from(self.interval_length))
            .ok_or(TypesError::TimeOverflow { interval })
    }

    /// `end(i) = start(i) + L`.
    pub fn end(&self, interval: u64) -> TypesResult<u64> {
        self.start(interval)?
            .checked_add(u64::from(self.interval_length))
            .ok_or(TypesError::TimeOverflow { interval })
    }

    /// Gate closure `G(i) = start(i) - gateLead`.
    pub fn gate(&self, interval: u64) -> TypesResult<u64> {
        self.start(interval)?
            .checked_sub(u64::from(self.gate_lead))
            .ok_or(TypesError::TimeOverflow { interval })
    }

    /// Settle deadline `D(i) = G(i) + settleWindow` (cannot overflow: it is at most
    /// `start(i) - 60`).
    pub fn settle_deadline(&self, interval: u64) -> TypesResult<u64> {
        self.gate(interval)?
            .checked_add(u64::from(self.settle_window))
            .ok_or(TypesError::TimeOverflow { interval })
    }

    /// The interval delivering at `unix`: `floor(unix / L)`.
    pub fn interval_at(&self, unix: u64) -> u64 {
        // `new` guarantees L > 0.
        unix / u64::from(self.interval_length)
    }

    /// The first interval still accepting commitments at `now` (the least `i` with
    /// `now < G(i)`). It may still be beyond the commit horizon if the horizon is shorter than
    /// an interval.
    pub fn next_open_interval(&self, now: u64) -> TypesResult<u64> {
        // G(i) > now  <=>  i * L > now + gateLead  <=>  i > floor((now + gateLead) / L).
        let interval =
            (u128::from(now) + u128::from(self.gate_lead)) / u128::from(self.interval_length) + 1;
        let interval =
            u64::try_from(interval).map_err(|_| TypesError::TimeOverflow { interval: u64::MAX })?;
        // Make sure its times are representable.
        self.end(interval)?;
        Ok(interval)
    }

    /// Commit (and withdraw) window: `now < G(i)` and `G(i) <= now + commitHorizon`.
    pub fn can_commit(&self, interval: u64, now: u64) -> TypesResult<bool> {
        let gate = self.gate(interval)?;
        // `gate - now` instead of `now + horizon`, so that nothing can overflow.
        Ok(now < gate && gate - now <= u64::from(self.commit_horizon))
    }

    /// Withdraw window: the same as the commit window.
    pub fn can_withdraw(&self, interval: u64, now: u64) -> TypesResult<bool> {
        self.can_commit(interval, now)
    }

    /// Settle window: `G(i) <= now < D(i)`.
    pub fn can_settle(&self, interval: u64, now: u64) -> TypesResult<bool> {
        Ok(self.gate(interval)? <= now && now < self.settle_deadline(interval)?)
    }

    /// Dispute: settled and `now < start(i)`.
    pub fn can_dispute(&self, interval: u64, now: u64, status: BatchStatus) -> TypesResult<bool> {
        Ok(status == BatchStatus::Settled && now < self.start(interval)?)
    }

    /// Claim: settled and `now >= start(i)`.
    pub fn can_claim(&self, interval: u64, now: u64, status: BatchStatus) -> TypesResult<bool> {
        Ok(status == BatchStatus::Settled && now >= self.start(interval)?)
    }

    /// Refund: voided, or unsettled and `now >= D(i)`.
    pub fn can_refund(&self, interval: u64, now: u64, status: BatchStatus) -> TypesResult<bool> {
        Ok(match status {
            BatchStatus::Voided => true,
            BatchStatus::Unsettled => now >= self.settle_deadline(interval)?,
            BatchStatus::Settled => false,
        })
    }
}

impl Default for MarketTiming {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn timing() -> MarketTiming {
        MarketTiming::new(300, 300, 240, 3600).expect("valid")
    }

    #[test]
    fn validation() {
        assert!(MarketTiming::new(0, 300, 240, 1).is_err());
        assert!(MarketTiming::new(300, 300, 0, 1).is_err());
        assert!(MarketTiming::new(300, 300, 241, 1).is_err());
        assert!(MarketTiming::new(300, 300, 240, 0).is_err());
        assert!(MarketTiming::new(300, 300, 240, 1).is_ok());
        assert!(MarketTiming::new(1, 61, 1, 1).is_ok());
        assert!(MarketTiming::new(1, u32::MAX, u32::MAX, 1).is_err());
        let d = MarketTiming::default();
        assert_eq!(
            MarketTiming::new(
                d.interval_length(),
                d.gate_lead(),
                d.settle_window(),
                d.commit_horizon()
            )
            .expect("default is valid"),
            d
        );
    }

    #[test]
    fn times_of_an_interval() {
        let t = timing();
        let i = 5_000_000;
        assert_eq!(t.start(i).expect("start"), 1_500_000_000);
        assert_eq!(t.end(i).expect("end"), 1_500_000_300);
        assert_eq!(t.gate(i).expect("gate"), 1_499_999_700);
        assert_eq!(t.settle_deadline(i).expect("deadline"), 1_499_999_940);
        assert_eq!(t.interval_at(1_500_000_000), i);
        assert_eq!(t.interval_at(1_500_000_299), i);
        assert_eq!(t.interval_at(1_500_000_300), i + 1);
    }

    #[test]
    fn overflow_is_an_error() {
        let t = timing();
        assert!(matches!(
            t.gate(0),
            Err(TypesError::TimeOverflow { interval: 0 })
        ));
        assert!(t.gate(1).is_ok());
        assert!(matches!(
            t.start(u64::MAX),
            Err(TypesError::TimeOverflow { .. })
        ));
        let last = u64::MAX / 300;
        assert!(t.start(last).is_ok());
        assert!(t.end(last).is_err());
        assert!(t.can_commit(u64::MAX, 0).is_err());
    }

    #[test]
    fn windows() {
        let t = timing();
        let i = 100;
        let (g, d, s) = (29_700, 29_940, 30_000);
        assert!(!t.can_commit(i, g - 3601).expect("ok"));
        assert!(t.can_commit(i, g - 3600).expect("ok"));
        assert!(t.can_commit(i, g - 1).expect("ok"));
        assert!(!t.can_commit(i, g).expect("ok"));
        assert!(!t.can_settle(i, g - 1).expect("ok"));
        assert!(t.can_settle(i, g).expect("ok"));
        assert!(t.can_settle(i, d - 1).expect("ok"));
        assert!(!t.can_settle(i, d).expect("ok"));
        assert!(t.can_dispute(i, s - 1, BatchStatus::Settled).expect("ok"));
        assert!(!t.can_dispute(i, s, BatchStatus::Settled).expect("ok"));
        assert!(!t.can_dispute(i, g, BatchStatus::Unsettled).expect("ok"));
        assert!(t.can_claim(i, s, BatchStatus::Settled).expect("ok"));
        assert!(!t.can_claim(i, s - 1, BatchStatus::Settled).expect("ok"));
        assert!(!t.can_claim(i, s, BatchStatus::Voided).expect("ok"));
        assert!(t.can_refund(i, 0, BatchStatus::Voided).expect("ok"));
        assert!(!t.can_refund(i, d - 1, BatchStatus::Unsettled).expect("ok"));
        assert!(t.can_refund(i, d, BatchStatus::Unsettled).expect("ok"));
        assert!(!t.can_refund(i, u64::MAX, BatchStatus::Settled).expect("ok"));
    }

    proptest! {
        #[test]
        fn deadline_leaves_dispute_time(
            l in 1u32..=3600, lead in 61u32..=100_000, w in 1u32..=100_000, i in 0u64..1 << 40,
        ) {
            prop_assume!(w + 60 <= lead);
            let t = MarketTiming::new(l, lead, w, 1).expect("valid");
            if let Ok(d) = t.settle_deadline(i) {
                prop_assert!(d + 60 <= t.start(i).expect("start"));
                prop_assert!(t.gate(i).expect("gate") < d);
            }
        }

        #[test]
        fn next_open_interval_is_first_before_gate(
            l in 1u32..=3600, lead in 61u32..=10_000, now in 0u64..1 << 40,
        ) {
            let t = MarketTiming::new(l, lead, 1, u32::MAX).expect("valid");
            let i = t.next_open_interval(now).expect("small times");
            prop_assert!(t.can_commit(i, now).expect("representable"));
            prop_assert!(i == 0 || !t.can_commit(i - 1, now).unwrap_or(false));
            prop_assert!(t.interval_at(now) < i);
        }
    }
}
