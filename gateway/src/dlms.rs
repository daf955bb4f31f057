//! Captures from a DLMS/COSEM meter: its load profile or its energy registers.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy_primitives::B256;
use sealgrid_dlms::{Attribute, Client, DateTime, DlmsError, Obis, ScalerUnit};

use crate::{
    config::{Meter, Mode},
    intervals::{Capture, Rule},
};

/// Why a meter's data was refused (nothing is signed for it). `code` is stable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRefusal {
    /// `unreachable`, `association_refused`, `wrong_obis`, `malformed`, `clock_skew`,
    /// `clock_invalid`, `backwards`, `unit`, `too_large`, `read_failed`.
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
}

impl DeviceRefusal {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<DlmsError> for DeviceRefusal {
    fn from(e: DlmsError) -> Self {
        let code = match &e {
            DlmsError::Io(_) | DlmsError::Timeout(_) => "unreachable",
            DlmsError::AssociationRefused { .. } => "association_refused",
            DlmsError::Access(sealgrid_dlms::DataAccessResult::ObjectUndefined) => "wrong_obis",
            DlmsError::Malformed { .. } | DlmsError::Checksum { .. } => "malformed",
            DlmsError::Unsupported(m) if m.contains("unit") => "unit",
            _ => "read_failed",
        };
        Self::new(code, e.to_string())
    }
}

/// How long a register's `scaler_unit` is taken from the cache before it is read again.
pub const SCALER_TTL: Duration = Duration::from_secs(3600);

/// The registers' `scaler_unit`s the gateway has read, per meter: configuration, so read once
/// per [`SCALER_TTL`] rather than on every visit (two round trips of seven).
#[derive(Clone, Debug, Default)]
pub struct ScalerCache(Arc<Mutex<HashMap<(B256, Obis), Cached>>>);

/// A scaler and when it was read.
type Cached = (Instant, ScalerUnit);

impl ScalerCache {
    fn seed(&self, meter: B256, c: &mut Client) {
        if let Ok(map) = self.0.lock() {
            for ((m, obis), (at, s)) in map.iter() {
                if *m == meter && at.elapsed() < SCALER_TTL {
                    c.remember_scaler(*obis, *s);
                }
            }
        }
    }

    fn keep(&self, meter: B256, c: &Client) {
        if let Ok(mut map) = self.0.lock() {
            for (obis, s) in c.scalers() {
                map.entry((meter, obis)).or_insert((Instant::now(), s));
            }
        }
    }

    /// Drops a meter's scalers (its read failed: read them again next time).
    fn forget(&self, meter: B256) {
        if let Ok(mut map) = self.0.lock() {
            map.retain(|(m, _), _| *m != meter);
        }
    }
}

/// Reads a meter's captures since `base` (or the last `backfill_s` without one), checking its
/// clock against `now` within `tolerance_s`.
pub(crate) async fn captures(
    m: &Meter,
    scalers: &ScalerCache,
    rule: &Rule,
    base: Option<Capture>,
    now: u64,
    tolerance_s: u64,
    backfill_s: u64,
) -> Result<Vec<Capture>, DeviceRefusal> {
    let mut c = Client::connect(m.address, m.settings.clone()).await?;
    scalers.seed(m.id, &mut c);
    let result = read(&mut c, m, rule, base, now, tolerance_s, backfill_s).await;
    if result.is_ok() {
        scalers.keep(m.id, &c);
    } else {
        scalers.forget(m.id);
    }
    // The association is released whatever was read; a failed release loses nothing.
    if let Err(e) = c.close().await {
        tracing::debug!(meter = %m.id, error = %e, "releasing the association");
    }
    result
}

async fn read(
    c: &mut Client,
    m: &Meter,
    rule: &Rule,
    base: Option<Capture>,
    now: u64,
    tolerance_s: u64,
    backfill_s: u64,
) -> Result<Vec<Capture>, DeviceRefusal> {
    let clock = c.clock().await.map_err(|e| match e {
        DlmsError::Unexpected(msg) => DeviceRefusal::new("clock_invalid", msg),
        e => e.into(),
    })?;
    if clock.abs_diff(now) > tolerance_s {
        return Err(DeviceRefusal::new(
            "clock_skew",
            format!(
                "the meter's clock is {} s {} the gateway's (tolerance {tolerance_s} s)",
                clock.abs_diff(now),
                if clock > now { "ahead of" } else { "behind" }
            ),
        ));
    }
    match m.mode {
        Mode::Registers => {
            let import_wh = c.energy_wh(m.import).await?;
            let export_wh = c.energy_wh(m.export).await?;
            let read = Capture {
                t: clock,
                import_wh,
                export_wh,
            };
            // A read off the boundary still goes to the rule, which only checks it.
            Ok(vec![rule.snap(read).unwrap_or(read)])
        }
        Mode::Profile => {
            let l = rule.interval_s;
            let from = base.map_or(now.saturating_sub(backfill_s) / l * l, |b| b.t);
            let p = c.profile(m.profile, from, now).await?;
            let col = |obis: Obis| {
                p.columns
                    .iter()
                    .position(|a| *a == Attribute::new(3, obis, 2))
                    .ok_or_else(|| {
                        DeviceRefusal::new(
                            "wrong_obis",
                            format!("profile {} captures no {obis} value", m.profile),
                        )
                    })
            };
            let (ci, ce) = (col(m.import)?, col(m.export)?);
            let (si, se) = (c.scaler(m.import).await?, c.scaler(m.export).await?);
            let mut out = Vec::with_capacity(p.rows.len());
            for row in &p.rows {
                let t = DateTime::from_data(&row[0]).map_err(DeviceRefusal::from)?;
                if t.status()
                    & (sealgrid_dlms::cosem::STATUS_INVALID
                        | sealgrid_dlms::cosem::STATUS_CLOCK_INVALID)
                    != 0
                {
                    // An entry the meter itself flags: not a base (the rule shapes the gap).
                    continue;
                }
                let t = t.unix().map_err(DeviceRefusal::from)?;
                if t > now + tolerance_s {
                    return Err(DeviceRefusal::new(
                        "clock_skew",
                        format!("a profile entry at {t}, after the gateway's time {now}"),
                    ));
                }
                let value = |i: usize, s: sealgrid_dlms::ScalerUnit| {
                    let raw = row[i].as_i128().ok_or_else(|| {
                        DeviceRefusal::new("malformed", format!("profile cell {:?}", row[i]))
                    })?;
                    s.to_wh(raw).map_err(DeviceRefusal::from)
                };
                out.push(Capture {
                    t,
                    import_wh: value(ci, si)?,
                    export_wh: value(ce, se)?,
                });
            }
            Ok(out)
        }
    }
}
