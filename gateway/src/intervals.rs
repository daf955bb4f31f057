//! The rule that turns a meter's cumulative registers into 5-minute interval readings.
//!
//! A meter reports **captures**: at time `t`, the cumulative active energy imported and exported
//! (Wh). Captures come from its load profile (the meter captured them itself, at period
//! boundaries) or from register reads the gateway takes at interval boundaries (a read within
//! [`Rule::snap_tolerance_s`] of a boundary counts as a capture at that boundary; any other read
//! is only a check that the registers did not go backwards).
//!
//! Between two consecutive captures `a < b` the energy is `b − a` of each register. With `L` the
//! market's interval length (300 s) and `i = t / L`:
//!
//! - `b.t − a.t = L`: one reading for interval `a.t / L`, quality **actual**.
//! - `b.t − a.t = k·L`, `k > 1` (a 15-minute profile, `k = 3`, or captures missing in between):
//!   `k` readings, one per interval, each `⌊Δ/k⌋` Wh and the remainder on the last, quality
//!   **estimated** — the total is measured, the split is not. DECIDED: split and flag rather than
//!   refuse, so that the total energy always settles and finance sees which intervals were
//!   shaped; a gap longer than [`Rule::max_gap_intervals`] is not split (those intervals are
//!   left to the node's estimate at the deadline, and the next capture starts a new base).
//! - a profile period that divides `L` (1-minute profiles): the captures at `L` boundaries are
//!   used and the ones in between are checks only.
//! - captures not on an `L` boundary are never used as bases.
//!
//! Refused with a reason, nothing signed: a register below the previous capture (the meter went
//! backwards, or was replaced without telling the gateway), an energy over
//! [`sealgrid_types::MAX_READING_WH`] in one interval, a capture in the future beyond the clock
//! tolerance.

use sealgrid_types::{MAX_READING_WH, MeterQuality};
use serde::{Deserialize, Serialize};

/// One capture of a meter's cumulative registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    /// UTC unix seconds.
    pub t: u64,
    /// Cumulative import (Wh).
    pub import_wh: u64,
    /// Cumulative export (Wh).
    pub export_wh: u64,
}

/// One interval's energy, ready to sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntervalEnergy {
    /// The interval index (`start / L`).
    pub interval: u64,
    /// Imported Wh in the interval.
    pub import_wh: u64,
    /// Exported Wh in the interval.
    pub export_wh: u64,
    /// Actual or estimated.
    pub quality: MeterQuality,
}

/// Why captures were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// A register fell below its previous capture.
    #[error("{register} register went backwards: {before} Wh at {t0}, {after} Wh at {t1}")]
    Backwards {
        /// `import` or `export`.
        register: &'static str,
        /// The earlier value.
        before: u64,
        /// The later value.
        after: u64,
        /// The earlier time.
        t0: u64,
        /// The later time.
        t1: u64,
    },
    /// More energy in one interval than a reading carries.
    #[error("{wh} Wh in one interval is over the reading limit")]
    TooLarge {
        /// The energy.
        wh: u64,
    },
    /// Captures out of order.
    #[error("capture at {t1} is not after the previous one at {t0}")]
    OutOfOrder {
        /// The earlier capture's time.
        t0: u64,
        /// The later capture's time.
        t1: u64,
    },
}

/// The rule's parameters.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// The market's interval length `L` in seconds.
    pub interval_s: u64,
    /// How far from a boundary a register read may be taken and still count as a capture at
    /// the boundary.
    pub snap_tolerance_s: u64,
    /// The longest run of intervals one delta is split over.
    pub max_gap_intervals: u64,
}

impl Default for Rule {
    fn default() -> Self {
        Self {
            interval_s: 300,
            snap_tolerance_s: 10,
            max_gap_intervals: 12,
        }
    }
}

impl Rule {
    /// A register read at `t` as a boundary capture, if it is within the tolerance of one.
    pub fn snap(&self, read: Capture) -> Option<Capture> {
        let l = self.interval_s;
        let below = read.t / l * l;
        let t = if read.t - below <= self.snap_tolerance_s {
            below
        } else if below + l - read.t <= self.snap_tolerance_s {
            below + l
        } else {
            return None;
        };
        Some(Capture { t, ..read })
    }

    /// The interval readings between `base` (the last capture used, if any) and `captures`
    /// (ascending), and the new base. Captures off the `L` grid only check monotonicity.
    pub fn readings(
        &self,
        base: Option<Capture>,
        captures: &[Capture],
    ) -> Result<(Vec<IntervalEnergy>, Option<Capture>), RuleError> {
        let l = self.interval_s;
        let mut out = Vec::new();
        let mut base = base;
        // The last capture seen (on the grid or not), for the backwards check.
        let mut last = base;
        for &c in captures {
            if let Some(p) = last {
                if c.t <= p.t {
                    // The same capture again (a profile read overlapping the last one).
                    if c == p {
                        continue;
                    }
                    return Err(RuleError::OutOfOrder { t0: p.t, t1: c.t });
                }
                for (register, before, after) in [
                    ("import", p.import_wh, c.import_wh),
                    ("export", p.export_wh, c.export_wh),
                ] {
                    if after < before {
                        return Err(RuleError::Backwards {
                            register,
                            before,
                            after,
                            t0: p.t,
                            t1: c.t,
                        });
                    }
                }
            }
            last = Some(c);
            if c.t % l != 0 {
                continue;
            }
            let Some(b) = base else {
                base = Some(c);
                continue;
            };
            let k = (c.t - b.t) / l;
            if k > self.max_gap_intervals {
                // Too long to shape: a fresh base, the node estimates what is between.
                base = Some(c);
                continue;
            }
            let quality = if k == 1 {
                MeterQuality::Actual
            } else {
                MeterQuality::Estimated
            };
            let di = c.import_wh - b.import_wh;
            let de = c.export_wh - b.export_wh;
            for j in 0..k {
                let share = |d: u64| {
                    if j + 1 == k {
                        d - d / k * (k - 1)
                    } else {
                        d / k
                    }
                };
                let (import_wh, export_wh) = (share(di), share(de));
                for wh in [import_wh, export_wh] {
                    if wh > MAX_READING_WH {
                        return Err(RuleError::TooLarge { wh });
                    }
                }
                out.push(IntervalEnergy {
                    interval: b.t / l + j,
                    import_wh,
                    export_wh,
                    quality,
                });
            }
            base = Some(c);
        }
        Ok((out, base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cap(t: u64, i: u64, e: u64) -> Capture {
        Capture {
            t,
            import_wh: i,
            export_wh: e,
        }
    }

    #[test]
    fn five_minute_captures_give_actual_readings() {
        let r = Rule::default();
        let caps = [cap(3000, 100, 10), cap(3300, 250, 10), cap(3600, 260, 90)];
        let (out, base) = r.readings(None, &caps).expect("monotone");
        assert_eq!(
            out,
            vec![
                IntervalEnergy {
                    interval: 10,
                    import_wh: 150,
                    export_wh: 0,
                    quality: MeterQuality::Actual
                },
                IntervalEnergy {
                    interval: 11,
                    import_wh: 10,
                    export_wh: 80,
                    quality: MeterQuality::Actual
                },
            ]
        );
        assert_eq!(base, Some(caps[2]));
        // Reading again from the base changes nothing.
        assert_eq!(r.readings(base, &caps[2..]).map(|x| x.0.len()), Ok(0));
    }

    #[test]
    fn fifteen_minute_data_is_split_and_flagged() {
        let r = Rule::default();
        let (out, _) = r
            .readings(Some(cap(900, 0, 0)), &[cap(1800, 100, 2)])
            .expect("monotone");
        let imports: Vec<u64> = out.iter().map(|x| x.import_wh).collect();
        let exports: Vec<u64> = out.iter().map(|x| x.export_wh).collect();
        assert_eq!(imports, [33, 33, 34]);
        assert_eq!(exports, [0, 0, 2]);
        assert!(out.iter().all(|x| x.quality == MeterQuality::Estimated));
        assert_eq!(out[0].interval, 3);
    }

    #[test]
    fn backwards_registers_and_long_gaps() {
        let r = Rule::default();
        let err = r.readings(Some(cap(300, 500, 0)), &[cap(600, 400, 0)]);
        assert!(matches!(
            err,
            Err(RuleError::Backwards {
                register: "import",
                ..
            })
        ));
        // An off-grid read that went backwards is refused too.
        assert!(
            r.readings(Some(cap(300, 500, 0)), &[cap(450, 499, 0)])
                .is_err()
        );
        // 13 intervals: not shaped, a new base.
        let (out, base) = r
            .readings(Some(cap(0, 0, 0)), &[cap(13 * 300, 1300, 0)])
            .expect("monotone");
        assert!(out.is_empty());
        assert_eq!(base.map(|b| b.t), Some(3900));
    }

    #[test]
    fn reads_near_a_boundary_snap_to_it() {
        let r = Rule::default();
        assert_eq!(r.snap(cap(608, 1, 1)).map(|c| c.t), Some(600));
        assert_eq!(r.snap(cap(895, 1, 1)).map(|c| c.t), Some(900));
        assert_eq!(r.snap(cap(750, 1, 1)), None);
    }

    proptest! {
        /// Whatever the captures, the readings carry exactly the energy between the first and
        /// the last grid capture (no Wh created or lost by the split).
        #[test]
        fn energy_is_conserved(steps in proptest::collection::vec((1u64..4, 0u64..10_000, 0u64..10_000), 1..40)) {
            let r = Rule::default();
            let mut t = 0;
            let (mut i, mut e) = (0, 0);
            let mut caps = vec![cap(0, 0, 0)];
            for (k, di, de) in steps {
                t += k * 300;
                i += di;
                e += de;
                caps.push(cap(t, i, e));
            }
            let (out, base) = r.readings(None, &caps).expect("monotone");
            prop_assert_eq!(out.iter().map(|x| x.import_wh).sum::<u64>(), i);
            prop_assert_eq!(out.iter().map(|x| x.export_wh).sum::<u64>(), e);
            prop_assert_eq!(out.len() as u64, t / 300);
            // Intervals are consecutive, each once.
            for (n, x) in out.iter().enumerate() {
                prop_assert_eq!(x.interval, n as u64);
            }
            prop_assert_eq!(base.map(|b| b.t), Some(t));
        }
    }
}
