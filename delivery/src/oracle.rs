//! An ISO/RTO price feed as real-time prices (DESIGN 3.7): locational marginal prices per
//! pricing node and interval, in currency per MWh, become `RealTimePrice`s in payment-token
//! base units per kWh, which the market's oracle signs and posts to `POST /v1/prices`.
//!
//! Feed formats (one row per pricing node and interval):
//! - CSV with a header naming at least `interval_start`, `node` and `lmp` (any order, other
//!   columns ignored), e.g. `interval_start,node,lmp` / `2026-12-02T12:00:00Z,DLAP_PGAE,41.25`;
//! - JSON: an array of `{"interval_start": .., "node": "..", "lmp": ..}`.
//!
//! `interval_start` is RFC 3339 UTC (`2026-12-02T12:00:00Z`) or unix seconds; it must fall on an
//! interval boundary. `lmp` is a decimal (negative prices are real) with at most 9 fractional
//! digits; the price per kWh is `lmp × 10^decimals / 1000`, rounded half away from zero.
//! A CAISO OASIS `PRC_INTVL_LMP` CSV maps with its columns `INTERVALSTARTTIME_GMT` → interval_start,
//! `NODE` → node, `MW` (for `LMP_TYPE` = LMP) → lmp.

use std::collections::BTreeMap;

use alloy::primitives::B256;
use sealgrid_types::RealTimePrice;

/// Why a feed could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The feed is neither the CSV nor the JSON form.
    #[error("feed: {0}")]
    Format(String),
    /// A row is wrong.
    #[error("feed row {row}: {reason}")]
    Row {
        /// 1-based row (the CSV header is row 1).
        row: usize,
        /// What is wrong.
        reason: String,
    },
}

/// One feed row: an interval's LMP at a pricing node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LmpRow {
    /// Unix start of the interval.
    pub start: u64,
    /// The pricing node.
    pub node: String,
    /// The LMP in currency per MWh, scaled by 10^9.
    pub lmp_nano: i128,
}

/// Parses a feed (CSV or JSON, told by its first non-blank character).
pub fn parse_feed(text: &str) -> Result<Vec<LmpRow>, FeedError> {
    let t = text.trim_start();
    if t.starts_with('[') {
        parse_json(t)
    } else {
        parse_csv(t)
    }
}

fn parse_json(text: &str) -> Result<Vec<LmpRow>, FeedError> {
    let rows: Vec<serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| FeedError::Format(format!("not a JSON array: {e}")))?;
    rows.iter()
        .enumerate()
        .map(|(k, v)| {
            let row = k + 1;
            let bad = |reason: String| FeedError::Row { row, reason };
            let field = |name: &str| {
                v.get(name)
                    .ok_or_else(|| bad(format!("no `{name}`")))
                    .map(|f| match f {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
            };
            Ok(LmpRow {
                start: parse_start(&field("interval_start")?).map_err(bad)?,
                node: field("node")?,
                lmp_nano: parse_decimal(&field("lmp")?).map_err(bad)?,
            })
        })
        .collect()
}

fn parse_csv(text: &str) -> Result<Vec<LmpRow>, FeedError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| FeedError::Format("empty feed".into()))?;
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let at = |name: &str| {
        cols.iter().position(|c| c == name).ok_or_else(|| {
            FeedError::Format(format!(
                "the CSV header has no `{name}` column (it needs interval_start, node, lmp)"
            ))
        })
    };
    let (s, n, p) = (at("interval_start")?, at("node")?, at("lmp")?);
    lines
        .map(|(k, line)| {
            let row = k + 1;
            let bad = |reason: String| FeedError::Row { row, reason };
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let cell = |i: usize| {
                cells.get(i).copied().ok_or_else(|| {
                    bad(format!(
                        "{} cells, the header has {}",
                        cells.len(),
                        cols.len()
                    ))
                })
            };
            Ok(LmpRow {
                start: parse_start(cell(s)?).map_err(bad)?,
                node: cell(n)?.to_owned(),
                lmp_nano: parse_decimal(cell(p)?).map_err(bad)?,
            })
        })
        .collect()
}

/// Unix seconds, or RFC 3339 UTC `YYYY-MM-DDTHH:MM:SSZ` (also `+00:00`).
fn parse_start(s: &str) -> Result<u64, String> {
    let s = s.trim().trim_matches('"');
    if let Ok(v) = s.parse::<u64>() {
        return Ok(v);
    }
    let body = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix("+00:00"))
        .ok_or_else(|| format!("`{s}` is neither unix seconds nor UTC RFC 3339 (…Z)"))?;
    let (date, time) = body
        .split_once('T')
        .ok_or_else(|| format!("`{s}`: no `T` between date and time"))?;
    let num = |v: &str, what: &str| v.parse::<u64>().map_err(|_| format!("`{s}`: bad {what}"));
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    if d.len() != 3 || t.len() != 3 {
        return Err(format!("`{s}` is not YYYY-MM-DDTHH:MM:SSZ"));
    }
    let (y, m, day) = (num(d[0], "year")?, num(d[1], "month")?, num(d[2], "day")?);
    let (hh, mm, ss) = (
        num(t[0], "hour")?,
        num(t[1], "minute")?,
        num(t[2], "second")?,
    );
    if !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || hh > 23
        || mm > 59
        || ss > 59
        || y < 1970
    {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A decimal with at most 9 fractional digits, scaled by 10^9.
fn parse_decimal(s: &str) -> Result<i128, String> {
    let s = s.trim().trim_matches('"');
    let (neg, digits) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(format!("`{s}` is not a decimal number"));
    }
    if frac.len() > 9 || int.len() > 18 {
        return Err(format!("`{s}`: at most 18 integer and 9 fractional digits"));
    }
    let int: i128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| format!("`{s}`"))?
    };
    let frac: i128 = format!("{frac:0<9}")
        .parse()
        .map_err(|_| format!("`{s}`"))?;
    let v = int * 1_000_000_000 + frac;
    Ok(if neg { -v } else { v })
}

/// Base units per kWh of an LMP (per MWh, scaled by 10^9) for a token with `decimals`:
/// `lmp × 10^decimals / 1000`, rounded half away from zero.
pub fn price_per_kwh(lmp_nano: i128, decimals: u8) -> Result<i64, String> {
    let num = lmp_nano
        .checked_mul(10i128.pow(u32::from(decimals)))
        .ok_or("price overflows")?;
    let den: i128 = 1_000 * 1_000_000_000;
    let q = num / den;
    let r = num % den;
    let rounded = if r.abs() * 2 >= den {
        q + num.signum()
    } else {
        q
    };
    i64::try_from(rounded).map_err(|_| "price does not fit int64".to_owned())
}

/// The prices of `market` for the rows of pricing node `node` (every row when the feed has a
/// single node and `node` is `None`), one per interval of `interval_length` seconds, at
/// `revision`. Refuses a feed with two rows for one interval, a start off an interval boundary,
/// or (without `node`) several nodes.
pub fn prices_from_feed(
    rows: &[LmpRow],
    node: Option<&str>,
    market: B256,
    interval_length: u64,
    decimals: u8,
    revision: u32,
) -> Result<Vec<RealTimePrice>, String> {
    if interval_length == 0 {
        return Err("interval length must be positive".into());
    }
    let nodes: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.node.as_str()).collect();
    let node = match (node, nodes.len()) {
        (Some(n), _) if !nodes.contains(n) => {
            return Err(format!(
                "the feed has no pricing node `{n}` (it has {nodes:?})"
            ));
        }
        (Some(n), _) => n,
        (None, 1) => nodes.iter().next().copied().unwrap_or_default(),
        (None, 0) => return Err("the feed has no rows".into()),
        (None, _) => {
            return Err(format!(
                "the feed has several pricing nodes {nodes:?}: name one"
            ));
        }
    };
    let mut out: BTreeMap<u64, RealTimePrice> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.node == node) {
        if r.start % interval_length != 0 {
            return Err(format!(
                "interval start {} is not on a {interval_length}-second boundary",
                r.start
            ));
        }
        let interval = r.start / interval_length;
        let price = price_per_kwh(r.lmp_nano, decimals)?;
        if out
            .insert(
                interval,
                RealTimePrice {
                    market,
                    interval,
                    price,
                    revision,
                },
            )
            .is_some()
        {
            return Err(format!("two rows for node `{node}` at {}", r.start));
        }
    }
    Ok(out.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_feeds_give_the_same_prices() {
        let csv = "interval_start,node,lmp,extra\n\
                   2026-12-02T12:00:00Z,DLAP_PGAE,41.25,x\n\
                   1796212800,OTHER,1,y\n\
                   2026-12-02T12:05:00Z,DLAP_PGAE,-12.3456,z\n";
        let json = r#"[{"interval_start":"2026-12-02T12:00:00Z","node":"DLAP_PGAE","lmp":41.25},
                      {"interval_start":1796213100,"node":"DLAP_PGAE","lmp":"-12.3456"}]"#;
        let m = B256::repeat_byte(7);
        let a = prices_from_feed(
            &parse_feed(csv).expect("csv"),
            Some("DLAP_PGAE"),
            m,
            300,
            6,
            0,
        )
        .expect("prices");
        let b =
            prices_from_feed(&parse_feed(json).expect("json"), None, m, 300, 6, 0).expect("prices");
        assert_eq!(a, b);
        // 2026-12-02T12:00:00Z = 1796212800; 41.25 $/MWh = 41,250 micro-dollars per kWh.
        assert_eq!((a[0].interval, a[0].price), (1_796_212_800 / 300, 41_250));
        // -12.3456 $/MWh = -12,345.6 -> -12,346 (half away from zero).
        assert_eq!(a[1].price, -12_346);
    }

    #[test]
    fn conversions_round_half_away_from_zero() {
        assert_eq!(price_per_kwh(parse_decimal("0.0005").expect("d"), 6), Ok(1));
        assert_eq!(
            price_per_kwh(parse_decimal("-0.0005").expect("d"), 6),
            Ok(-1)
        );
        assert_eq!(
            price_per_kwh(parse_decimal("0.00049").expect("d"), 6),
            Ok(0)
        );
        assert_eq!(
            price_per_kwh(parse_decimal("70").expect("d"), 18),
            Ok(70_000_000_000_000_000)
        );
        assert!(price_per_kwh(parse_decimal("999999999999").expect("d"), 18).is_err());
    }

    #[test]
    fn bad_feeds_are_refused_with_the_row() {
        for (feed, needle) in [
            ("interval_start,node\n1,2", "lmp"),
            ("interval_start,node,lmp\n2026-12-02 12:00,N,1", "row 2"),
            (
                "interval_start,node,lmp\n1796212800,N,1.0000000001",
                "fractional",
            ),
            ("interval_start,node,lmp\n1796212800,N,abc", "decimal"),
            ("[{\"node\":\"N\",\"lmp\":1}]", "interval_start"),
            (
                "interval_start,node,lmp\n2026-13-02T12:00:00Z,N,1",
                "out of range",
            ),
        ] {
            let e = parse_feed(feed).expect_err(feed).to_string();
            assert!(e.contains(needle), "{feed}: {e}");
        }
        let m = B256::ZERO;
        let rows = parse_feed("interval_start,node,lmp\n1796212801,N,1\n").expect("rows");
        assert!(
            prices_from_feed(&rows, None, m, 300, 6, 0)
                .expect_err("off")
                .contains("boundary")
        );
        let rows =
            parse_feed("interval_start,node,lmp\n1796212800,N,1\n1796212800,N,2\n").expect("rows");
        assert!(
            prices_from_feed(&rows, None, m, 300, 6, 0)
                .expect_err("twice")
                .contains("two rows")
        );
        let rows =
            parse_feed("interval_start,node,lmp\n1796212800,A,1\n1796212800,B,2\n").expect("rows");
        assert!(
            prices_from_feed(&rows, None, m, 300, 6, 0)
                .expect_err("nodes")
                .contains("name one")
        );
        assert!(
            prices_from_feed(&rows, Some("C"), m, 300, 6, 0)
                .expect_err("none")
                .contains("no pricing node")
        );
    }
}
