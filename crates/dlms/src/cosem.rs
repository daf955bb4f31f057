//! COSEM names and values: OBIS codes, attribute descriptors, `date-time`, `scaler_unit`.

use std::{fmt, str::FromStr};

use crate::{
    axdr::Data,
    error::{DlmsError, DlmsResult},
};

/// An OBIS code (IEC 62056-6-1): the logical name of a COSEM object, `A.B.C.D.E.F`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Obis(pub [u8; 6]);

impl Obis {
    /// Active energy import (+A), total: `1.0.1.8.0.255`.
    pub const ACTIVE_IMPORT: Self = Self([1, 0, 1, 8, 0, 255]);
    /// Active energy export (−A), total: `1.0.2.8.0.255`.
    pub const ACTIVE_EXPORT: Self = Self([1, 0, 2, 8, 0, 255]);
    /// The meter's clock: `0.0.1.0.0.255`.
    pub const CLOCK: Self = Self([0, 0, 1, 0, 0, 255]);
    /// Load profile 1: `1.0.99.1.0.255`.
    pub const LOAD_PROFILE: Self = Self([1, 0, 99, 1, 0, 255]);
    /// The device id (manufacturing number): `0.0.96.1.0.255`.
    pub const SERIAL: Self = Self([0, 0, 96, 1, 0, 255]);
}

impl fmt::Display for Obis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a}.{b}.{c}.{d}.{e}.{g}")
    }
}

impl FromStr for Obis {
    type Err = DlmsError;

    /// `A.B.C.D.E.F` (six decimal bytes; `-`, `:`, `*` are taken as separators too).
    fn from_str(s: &str) -> DlmsResult<Self> {
        let parts: Vec<&str> = s.split(['.', '-', ':', '*']).collect();
        let bad = || DlmsError::malformed("OBIS code", 0, format!("`{s}` is not A.B.C.D.E.F"));
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut o = [0u8; 6];
        for (slot, p) in o.iter_mut().zip(parts) {
            *slot = p.trim().parse().map_err(|_| bad())?;
        }
        Ok(Self(o))
    }
}

/// A COSEM attribute: interface class, logical name and attribute index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// The interface class (1 Data, 3 Register, 7 Profile generic, 8 Clock, ...).
    pub class: u16,
    /// The object's logical name.
    pub obis: Obis,
    /// The attribute index (2 is the value or buffer).
    pub index: i8,
}

impl Attribute {
    /// An attribute of an object.
    pub const fn new(class: u16, obis: Obis, index: i8) -> Self {
        Self { class, obis, index }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.class.to_be_bytes());
        out.extend(self.obis.0);
        out.push(self.index as u8);
    }
}

/// A COSEM `date-time` (12 bytes): local date and time, the deviation of local time from UTC
/// in minutes, and the clock status.
///
/// The deviation follows the Blue Book (IEC 62056-6-2 §4.1.6.1): `UTC = local + deviation`,
/// so Central European Time is `-60`. `0x8000` (not specified) is read as UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime(pub [u8; 12]);

/// Clock status bit: the value is invalid.
pub const STATUS_INVALID: u8 = 0x01;
/// Clock status bit: the value is doubtful.
pub const STATUS_DOUBTFUL: u8 = 0x02;
/// Clock status bit: the clock is invalid (not set since power-up, or failed).
pub const STATUS_CLOCK_INVALID: u8 = 0x08;

impl DateTime {
    /// The UTC time as unix seconds; an error for wildcards (0xFF fields), impossible dates,
    /// or a date before 1970.
    pub fn unix(&self) -> DlmsResult<u64> {
        let b = self.0;
        let year = u16::from_be_bytes([b[0], b[1]]);
        let (month, day, hour, minute, second) = (b[2], b[3], b[5], b[6], b[7]);
        let bad = |why: &str| DlmsError::malformed("date-time", 0, why.to_string());
        if year == 0xFFFF || !(1970..=9999).contains(&year) {
            return Err(bad("year not specified or before 1970"));
        }
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return Err(bad("month or day out of range (or not specified)"));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(bad("time of day out of range (or not specified)"));
        }
        let days = days_from_civil(year.into(), month.into(), day.into());
        if day > days_in_month(year, month) {
            return Err(bad("no such day in that month"));
        }
        let local =
            days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
        let deviation = i16::from_be_bytes([b[9], b[10]]);
        let utc = if deviation == i16::MIN {
            local
        } else if (-840..=840).contains(&deviation) {
            local + i64::from(deviation) * 60
        } else {
            return Err(bad("deviation beyond ±14 h"));
        };
        u64::try_from(utc).map_err(|_| bad("before 1970"))
    }

    /// The clock status byte.
    pub fn status(&self) -> u8 {
        self.0[11]
    }

    /// A UTC `date-time` (deviation 0, status 0) for unix seconds.
    pub fn from_unix(secs: u64) -> Self {
        let days = (secs / 86_400) as i64;
        let tod = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        // 1970-01-01 was a Thursday; COSEM counts Monday = 1.
        let dow = ((days + 3).rem_euclid(7) + 1) as u8;
        let [y0, y1] = (y as u16).to_be_bytes();
        Self([
            y0,
            y1,
            m as u8,
            d as u8,
            dow,
            (tod / 3600) as u8,
            (tod / 60 % 60) as u8,
            (tod % 60) as u8,
            0,
            0,
            0,
            0,
        ])
    }

    /// A `date-time` in a value: the 12-byte octet string (how clocks and profiles carry it) or
    /// the `date-time` type.
    pub fn from_data(d: &Data) -> DlmsResult<Self> {
        match d {
            Data::DateTime(b) => Ok(Self(*b)),
            Data::OctetString(b) if b.len() == 12 => {
                let mut a = [0; 12];
                a.copy_from_slice(b);
                Ok(Self(a))
            }
            other => Err(DlmsError::malformed(
                "date-time",
                0,
                format!("expected a 12-byte octet string, got {other:?}"),
            )),
        }
    }

    /// The value as an octet string.
    pub fn to_data(self) -> Data {
        Data::OctetString(self.0.to_vec())
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// A register's `scaler_unit` (attribute 3 of class 3): value × 10^scaler in `unit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalerUnit {
    /// The power of ten.
    pub scaler: i8,
    /// The unit enumeration (IEC 62056-6-2 Table 4: 30 Wh, 32 varh, 27 W, ...).
    pub unit: u8,
}

/// Unit enumeration: active energy, watt-hour.
pub const UNIT_WH: u8 = 30;

impl ScalerUnit {
    /// Reads a `scaler_unit` structure.
    pub fn from_data(d: &Data) -> DlmsResult<Self> {
        match d.as_list() {
            Some([Data::Integer(scaler), Data::Enum(unit)]) => Ok(Self {
                scaler: *scaler,
                unit: *unit,
            }),
            _ => Err(DlmsError::malformed(
                "scaler_unit",
                0,
                format!("expected structure {{integer, enum}}, got {d:?}"),
            )),
        }
    }

    /// A raw register value in whole watt-hours: refused unless the unit is Wh (or kWh by
    /// scaler) and the scaled value is a whole, non-negative number of Wh that fits `u64`.
    pub fn to_wh(&self, raw: i128) -> DlmsResult<u64> {
        if self.unit != UNIT_WH {
            return Err(DlmsError::Unsupported(format!(
                "register unit {} is not active energy in Wh (30)",
                self.unit
            )));
        }
        let wrong = |why: String| DlmsError::Unsupported(why);
        let wh = if self.scaler >= 0 {
            10i128
                .checked_pow(self.scaler as u32)
                .and_then(|m| raw.checked_mul(m))
                .ok_or_else(|| wrong(format!("{raw} × 10^{} overflows", self.scaler)))?
        } else {
            let d = 10i128
                .checked_pow(u32::from(self.scaler.unsigned_abs()))
                .ok_or_else(|| wrong(format!("scaler {} out of range", self.scaler)))?;
            // Sub-Wh resolution is truncated toward zero: registers are cumulative, so the
            // truncation never accumulates (each delta is of truncated totals).
            raw / d
        };
        u64::try_from(wh).map_err(|_| wrong(format!("{wh} Wh is negative or too large")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn obis_codes_parse_and_print() {
        let o: Obis = "1.0.1.8.0.255".parse().expect("parses");
        assert_eq!(o, Obis::ACTIVE_IMPORT);
        assert_eq!(o.to_string(), "1.0.1.8.0.255");
        assert_eq!(
            "1-0:2.8.0*255".parse::<Obis>().ok(),
            Some(Obis::ACTIVE_EXPORT)
        );
        assert!("1.0.1.8.0".parse::<Obis>().is_err());
        assert!("1.0.1.8.0.256".parse::<Obis>().is_err());
    }

    #[test]
    fn date_times_follow_the_blue_book_deviation() {
        // 2026-12-07 13:05:00 local CET (deviation -60) is 12:05:00 UTC.
        let mut b = DateTime::from_unix(1_796_645_100).0;
        assert_eq!(&b[..8], &[0x07, 0xEA, 12, 7, 1, 12, 5, 0]);
        b[5] = 13;
        b[9..11].copy_from_slice(&(-60i16).to_be_bytes());
        assert_eq!(DateTime(b).unix().ok(), Some(1_796_645_100));
        // Unspecified deviation reads as UTC; wildcards and impossible dates are refused.
        b[5] = 12;
        b[9..11].copy_from_slice(&0x8000u16.to_be_bytes());
        assert_eq!(DateTime(b).unix().ok(), Some(1_796_645_100));
        let mut w = b;
        w[5] = 0xFF;
        assert!(DateTime(w).unix().is_err());
        let mut feb30 = DateTime::from_unix(1_796_645_100).0;
        feb30[2] = 2;
        feb30[3] = 30;
        assert!(DateTime(feb30).unix().is_err());
    }

    #[test]
    fn registers_convert_to_whole_watt_hours() {
        let wh = ScalerUnit {
            scaler: 0,
            unit: 30,
        };
        let kwh = ScalerUnit {
            scaler: 3,
            unit: 30,
        };
        let tenth = ScalerUnit {
            scaler: -1,
            unit: 30,
        };
        assert_eq!(wh.to_wh(12_345).ok(), Some(12_345));
        assert_eq!(kwh.to_wh(12).ok(), Some(12_000));
        assert_eq!(tenth.to_wh(12_349).ok(), Some(1_234));
        assert!(wh.to_wh(-1).is_err());
        assert!(
            ScalerUnit {
                scaler: 0,
                unit: 27
            }
            .to_wh(1)
            .is_err()
        );
        assert!(
            ScalerUnit {
                scaler: 40,
                unit: 30
            }
            .to_wh(1)
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn unix_times_round_trip(secs in 0u64..253_402_300_799) {
            prop_assert_eq!(DateTime::from_unix(secs).unix().ok(), Some(secs));
        }
    }
}
