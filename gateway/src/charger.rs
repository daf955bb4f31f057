//! Chargers: an OCPP 2.0.1 station's signed meter values checked before the gateway signs
//! anything for them.
//!
//! A charging station's revenue meter signs each reading it reports in an OCMF record
//! (`OCMF|{payload}|{signature}`), which the station forwards in a `signedMeterValue` of a
//! `TransactionEvent` or `MeterValues` request. The gateway turns a record into a capture of
//! the charger's meter only when every check below holds; otherwise the value is refused
//! with a stable code, recorded and counted, and nothing is signed for it.
//!
//! 1. **Present and OCMF**: an energy sample without `signedMeterValue` is `unsigned`; an
//!    `encodingMethod` other than `OCMF` is `encoding`; data that is not Base64 of an OCMF
//!    record is `malformed`.
//! 2. **The registered key, the declared algorithm**: the record is verified (ECDSA over
//!    SHA-256 of the payload bytes exactly as the meter wrote them, [`ocmf::verify`]) against
//!    the key registered for the station in the gateway's config, never against the key the
//!    message carries: a `publicKey` that differs from the registered one is `unknown_key`; a
//!    signature that does not verify is `signature`; an `SA` the specification does not
//!    define, one on another curve than the key, or a `signingMethod` that names another
//!    algorithm than `SA` is `algorithm`.
//! 3. **One meter**: the record's `MS` must be the registered serial (`serial`; an absent
//!    `MS` is refused too).
//! 4. **Continuous pagination**: `PG` must be a transaction counter (`T<n>`). The first record
//!    of a transaction must carry the begin reading (`TX=B`) and a counter above every counter
//!    the meter used before (`pagination`); every later record of the transaction must carry
//!    exactly the previous counter + 1 (`pagination`), and none may follow the end reading
//!    (`after_end`). A record seen before (same payload digest) is a duplicate the station
//!    resent after a lost answer: answered, not counted again.
//! 5. **Usable for billing**: no error flag (`error_flags`), meter state `G` (`meter_state`),
//!    the time synchronised (`S`, else `clock_unsynchronized`), no more than the gateway's
//!    clock tolerance ahead of it (`clock_skew`) nor older than its backfill window (`late`),
//!    within the tolerance of the OCPP `timestamp` it came with (`timestamp_mismatch`), a
//!    cumulative active-energy import register (`1-b:1.8.0` or the OCMF totals `B0`/`B1`;
//!    else `wrong_obis`) in `Wh` or `kWh` (`unit`), equal to the OCPP `value` it came with
//!    within 1 Wh (`value_mismatch`), not below the meter's previous reading (`backwards`).
//!
//! A checked reading becomes a capture of the charger's meter (import only) on the 5-minute
//! grid by its place in the transaction — DECIDED, because a station's meter measures only
//! what flows through its connector, and nothing flows outside a transaction:
//! - the **begin** reading at `t` counts for the boundary at or before `t` (the register did
//!   not move between that boundary and the begin);
//! - the **end** reading at `t` counts for the boundary at or after `t` (nor between the end
//!   and that boundary);
//! - any other reading within [`crate::Rule::snap_tolerance_s`] of a boundary counts for that
//!   boundary (stations send clock-aligned values, `AlignedDataInterval` = 300 s); others are
//!   checks only.
//!
//! A capture is signed by [`crate::intervals::Rule`] only once its boundary has passed on the
//! gateway's clock (the node refuses a reading before its interval has ended), so an end
//! reading waits in the charger store until then; the store is durable, a restart loses
//! nothing the station was told was received.

use alloy_primitives::B256;
use base64::Engine as _;
use ocmf::{
    PaginationContext, PublicKey, Record, Register, TimeStatus, VerifyError, obis::ObisCode,
};

use crate::{dlms::DeviceRefusal, intervals::Rule};

/// A charger the gateway serves, from its config.
#[derive(Clone, Debug)]
pub struct Charger {
    /// The station's OCPP identity (the last segment of its WebSocket URL).
    pub station: String,
    /// The market meter id its readings are signed for.
    pub meter: B256,
    /// The serial (`MS`) its OCMF records must carry.
    pub serial: String,
    /// The meter's registered public key.
    pub key: PublicKey,
    /// The HTTP Basic password of Security Profile 2, if the station uses one.
    pub password: Option<String>,
}

/// One energy sample of an OCPP meter value, as the station sent it.
#[derive(Clone, Debug)]
pub struct Sample<'a> {
    /// The meter value's `timestamp` (unix s).
    pub timestamp: i64,
    /// The sampled value, in Wh (after `unitOfMeasure`).
    pub value_wh: f64,
    /// Its `signedMeterValue`, if any.
    pub signed: Option<&'a crate::ocpp::SignedMeterValue>,
}

/// What the gateway remembers of a charger's meter between records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MeterTrack {
    /// The highest pagination counter the meter used.
    pub last_page: Option<u64>,
    /// The last reading's register (Wh).
    pub last_wh: Option<u64>,
    /// The last capture's boundary and register.
    pub last_capture: Option<(u64, u64)>,
}

/// What the gateway remembers of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnTrack {
    /// The counter of its last record.
    pub last_page: u64,
    /// Whether its end reading was seen.
    pub ended: bool,
}

/// A record that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedRecord {
    /// The record text (`OCMF|…|…`), as signed by the meter.
    pub text: String,
    /// SHA-256 of its payload bytes, 0x-hex: its identity.
    pub digest: String,
    /// Its pagination counter.
    pub page: u64,
    /// Whether it holds the transaction's begin / end reading.
    pub begin: bool,
    /// See `begin`.
    pub end: bool,
    /// Its readings of the import register: `(t, Wh, boundary it counts for)`.
    pub readings: Vec<(u64, u64, Option<u64>)>,
}

/// The checks' parameters.
#[derive(Clone, Copy, Debug)]
pub struct Checks {
    /// The grid rule (interval length, snap tolerance).
    pub rule: Rule,
    /// How far a record's time may be ahead of the gateway's clock, and from its OCPP
    /// timestamp.
    pub tolerance_s: u64,
    /// How old a record may be (a station replaying values it queued while offline).
    pub backfill_s: u64,
}

fn refuse(code: &'static str, message: impl Into<String>) -> DeviceRefusal {
    DeviceRefusal::new(code, message)
}

/// The OCMF record text of a signed meter value (Base64, as OCPP 2.0.1 carries it, or the
/// record itself, as some stations send it).
pub fn record_text(signed: &crate::ocpp::SignedMeterValue) -> Result<String, DeviceRefusal> {
    let data = signed.signed_meter_data.trim();
    if data.starts_with("OCMF|") {
        return Ok(data.to_owned());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| refuse("malformed", format!("signedMeterData is not Base64: {e}")))?;
    String::from_utf8(bytes).map_err(|_| refuse("malformed", "signedMeterData is not UTF-8 text"))
}

/// Parses and verifies a record against the charger's registered key, without the
/// transaction checks (see [`check`]). Returns the record text's payload digest.
pub fn verify_record<'a>(
    charger: &Charger,
    text: &'a str,
    signed: &crate::ocpp::SignedMeterValue,
) -> Result<Record<'a>, DeviceRefusal> {
    if !signed.encoding_method.eq_ignore_ascii_case("OCMF") {
        return Err(refuse(
            "encoding",
            format!("encodingMethod {:?} is not OCMF", signed.encoding_method),
        ));
    }
    let record =
        Record::parse(text).map_err(|e| refuse("malformed", format!("not an OCMF record: {e}")))?;
    if !signed.public_key.trim().is_empty() {
        let hint = record.signature().algorithm().map(|a| a.curve());
        let given = PublicKey::from_text(&signed.public_key, hint)
            .map_err(|e| refuse("unknown_key", format!("publicKey is not a key: {e}")))?;
        if given.to_spki() != charger.key.to_spki() {
            return Err(refuse(
                "unknown_key",
                "publicKey is not the key registered for this station",
            ));
        }
    }
    let declared = record
        .signature()
        .algorithm()
        .map(|a| a.as_str())
        .unwrap_or("");
    let method = signed.signing_method.trim();
    if !method.is_empty() && !declared.is_empty() && method != declared {
        return Err(refuse(
            "algorithm",
            format!("signingMethod {method:?} but the record declares {declared:?}"),
        ));
    }
    match ocmf::verify(&record, &charger.key) {
        Ok(_) => Ok(record),
        Err(VerifyError::NotVerified) => Err(refuse(
            "signature",
            "the record's signature does not verify with the registered key",
        )),
        Err(
            e @ (VerifyError::UnknownAlgorithm { .. } | VerifyError::AlgorithmKeyMismatch { .. }),
        ) => Err(refuse("algorithm", e.to_string())),
        Err(e) => Err(refuse("signature", e.to_string())),
    }
}

/// Whether an OBIS code names a cumulative active-energy import register.
fn is_import_total(obis: &ObisCode<'_>) -> bool {
    matches!(
        obis.register(),
        Register::ActiveEnergyImport | Register::TotalImportMains | Register::TotalImportDevice
    )
}

/// Checks one sample of `charger` in transaction `txn_id` (its state so far `txn`, the meter's
/// `meter`), at gateway time `now`. On success the caller stores the record and advances the
/// tracks with [`advance`].
pub fn check(
    charger: &Charger,
    sample: &Sample<'_>,
    txn: Option<TxnTrack>,
    meter: MeterTrack,
    checks: &Checks,
    now: u64,
) -> Result<CheckedRecord, DeviceRefusal> {
    let signed = sample
        .signed
        .ok_or_else(|| refuse("unsigned", "an energy sample without signedMeterValue"))?;
    let text = record_text(signed)?;
    let record = verify_record(charger, &text, signed)?;
    let p = record.payload();

    match p.meter_serial() {
        Some(ms) if ms == charger.serial => {}
        Some(ms) => {
            return Err(refuse(
                "serial",
                format!(
                    "meter serial {ms:?} is not the registered {:?}",
                    charger.serial
                ),
            ));
        }
        None => return Err(refuse("serial", "the record has no meter serial (MS)")),
    }

    let page = match p.pagination() {
        Some(pg) if pg.context() == PaginationContext::Transaction => pg.number(),
        Some(_) => return Err(refuse("pagination", "PG is not a transaction counter (T)")),
        None => return Err(refuse("pagination", "the record has no readable PG")),
    };
    let begin = p.marks_transaction_begin();
    let end = p.marks_transaction_end();
    match txn {
        None => {
            if !begin {
                return Err(refuse(
                    "pagination",
                    format!("T{page} opens a transaction without its begin reading"),
                ));
            }
            if let Some(last) = meter.last_page
                && page <= last
            {
                return Err(refuse(
                    "pagination",
                    format!("T{page} is not after the meter's last counter T{last}"),
                ));
            }
        }
        Some(t) => {
            if t.ended {
                return Err(refuse("after_end", "a record after the transaction's end"));
            }
            if begin {
                return Err(refuse(
                    "pagination",
                    "a second begin reading in a transaction",
                ));
            }
            if page != t.last_page + 1 {
                return Err(refuse(
                    "pagination",
                    format!("T{page} does not follow T{}", t.last_page),
                ));
            }
        }
    }

    let l = checks.rule.interval_s;
    let mut readings = Vec::new();
    let mut last_wh = meter.last_wh;
    let mut last_capture = meter.last_capture;
    let mut last_time = None;
    for r in p.readings() {
        if r.error_flags().any() {
            return Err(refuse(
                "error_flags",
                format!("error flags {:?}", r.error_flags().as_str()),
            ));
        }
        match r.state() {
            Some(s) if s.is_ok() => {}
            Some(s) => {
                return Err(refuse(
                    "meter_state",
                    format!("meter state {:?}", s.identifier()),
                ));
            }
            None => return Err(refuse("meter_state", "a reading without meter state (ST)")),
        }
        let time = r.time().or(last_time).ok_or_else(|| {
            refuse(
                "malformed",
                "a reading without time (TM) and none before it",
            )
        })?;
        last_time = Some(time);
        if time.status != Some(TimeStatus::Synchronized) {
            return Err(refuse(
                "clock_unsynchronized",
                "the reading's time is not synchronised (TM status is not S)",
            ));
        }
        let obis = r
            .obis()
            .ok_or_else(|| refuse("wrong_obis", "a reading without register (RI)"))?;
        if !is_import_total(obis) {
            continue;
        }
        let t = u64::try_from(time.unix_seconds())
            .map_err(|_| refuse("clock_invalid", "a reading before 1970"))?;
        if t > now + checks.tolerance_s {
            return Err(refuse(
                "clock_skew",
                format!("reading at {t}, {} s ahead of the gateway's clock", t - now),
            ));
        }
        if t + checks.backfill_s < now {
            return Err(refuse(
                "late",
                format!("reading at {t}, older than the backfill window"),
            ));
        }
        if t.abs_diff(u64::try_from(sample.timestamp).unwrap_or(0)) > checks.tolerance_s {
            return Err(refuse(
                "timestamp_mismatch",
                format!(
                    "reading at {t} sent with OCPP timestamp {}",
                    sample.timestamp
                ),
            ));
        }
        let unit = r
            .unit()
            .ok_or_else(|| refuse("unit", "a reading without unit (RU)"))?;
        let scale = unit
            .watt_hours_scale()
            .ok_or_else(|| refuse("unit", format!("unit {:?} is not Wh or kWh", unit.as_str())))?;
        let value = r
            .value()
            .ok_or_else(|| refuse("malformed", "a reading without value (RV)"))?
            .value();
        let wh = (value * rust_decimal::Decimal::from(scale)).floor();
        let wh = u64::try_from(wh)
            .ok()
            .filter(|w| *w < 1 << 53)
            .ok_or_else(|| refuse("malformed", format!("register value {value} out of range")))?;
        if (wh as f64 - sample.value_wh).abs() > 1.0 {
            return Err(refuse(
                "value_mismatch",
                format!(
                    "the signed register is {wh} Wh, the OCPP value {} Wh",
                    sample.value_wh
                ),
            ));
        }
        if let Some(prev) = last_wh
            && wh < prev
        {
            return Err(refuse(
                "backwards",
                format!("import register went backwards: {prev} Wh, then {wh} Wh"),
            ));
        }
        last_wh = Some(wh);
        let marker = r.transaction();
        let boundary = if marker.is_some_and(|m| m.is_begin()) {
            Some(t / l * l)
        } else if marker.is_some_and(|m| m.is_end()) {
            Some(t.div_ceil(l) * l)
        } else {
            checks
                .rule
                .snap(crate::Capture {
                    t,
                    import_wh: wh,
                    export_wh: 0,
                })
                .map(|c| c.t)
        };
        // A boundary the meter already has a capture for (an end and the next begin in one
        // interval): the same register again is nothing new; a different one would give one
        // boundary two values.
        let boundary = match (boundary, last_capture) {
            (Some(b), Some((lb, lw))) if b <= lb => {
                if wh != lw {
                    return Err(refuse(
                        "backwards",
                        format!(
                            "{wh} Wh counts for boundary {b}, but {lw} Wh already counted for {lb}"
                        ),
                    ));
                }
                None
            }
            (b, _) => b,
        };
        if let Some(b) = boundary {
            last_capture = Some((b, wh));
        }
        readings.push((t, wh, boundary));
    }
    if readings.is_empty() {
        return Err(refuse(
            "wrong_obis",
            "no reading of a cumulative import register (1-b:1.8.0, B0, B1)",
        ));
    }
    let digest = format!(
        "0x{}",
        alloy_primitives::hex::encode(record.payload_digest())
    );
    Ok(CheckedRecord {
        text,
        digest,
        page,
        begin,
        end,
        readings,
    })
}

/// The tracks after `record`.
pub fn advance(
    record: &CheckedRecord,
    txn: Option<TxnTrack>,
    meter: MeterTrack,
) -> (TxnTrack, MeterTrack) {
    let mut m = meter;
    m.last_page = Some(m.last_page.map_or(record.page, |p| p.max(record.page)));
    for (_, wh, b) in &record.readings {
        m.last_wh = Some(*wh);
        if let Some(b) = b {
            m.last_capture = Some((*b, *wh));
        }
    }
    let t = TxnTrack {
        last_page: record.page,
        ended: txn.is_some_and(|t| t.ended) || record.end,
    };
    (t, m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocpp::SignedMeterValue;
    use ocmf::{
        IdentificationFlag, IdentificationLevel, IdentificationType, OcmfTime, Pagination, Unit,
        sign::{ReadingSpec, RecordBuilder, Secp256r1Signer, Signer as _},
    };
    use rust_decimal::Decimal;

    const T0: u64 = 1_800_000_000 / 300 * 300;

    fn signer(seed: u8) -> Secp256r1Signer {
        Secp256r1Signer::from_bytes(&[seed; 32]).expect("key")
    }

    fn charger() -> Charger {
        Charger {
            station: "CS-1".into(),
            meter: B256::repeat_byte(9),
            serial: "MS-1".into(),
            key: signer(7).public_key().expect("pk"),
            password: None,
        }
    }

    fn tm(t: u64) -> OcmfTime {
        let s = chrono::DateTime::from_timestamp(t as i64, 0)
            .expect("time")
            .format("%Y-%m-%dT%H:%M:%S,000+0000 S")
            .to_string();
        OcmfTime::parse(&s, &ocmf::Location::at(0), &mut Vec::new()).expect("tm")
    }

    /// A record of one import reading, signed by `key`, and the sample carrying it.
    fn record(key: u8, serial: &str, page: u64, t: u64, wh: u64, marker: char) -> String {
        let kwh = Decimal::new(wh as i64, 3);
        let mut spec = ReadingSpec::new(tm(t), kwh, "01-00:01.08.00", Unit::KWh);
        spec = match marker {
            'B' => spec.begin(),
            'E' => spec.end(),
            _ => spec,
        };
        RecordBuilder::new()
            .gateway("sim", "GS", "1.0")
            .pagination(Pagination::transaction(page))
            .meter("sim", "SIM", serial, "1.0")
            .identification(
                true,
                IdentificationLevel::Verified,
                vec![IdentificationFlag::parse("RFID_PLAIN")],
                IdentificationType::Iso14443,
                "04A1B2C3",
            )
            .reading(spec)
            .sign(&signer(key))
            .expect("sign")
            .as_str()
            .to_owned()
    }

    fn signed(text: &str) -> SignedMeterValue {
        SignedMeterValue {
            signed_meter_data: base64::engine::general_purpose::STANDARD.encode(text),
            signing_method: "ECDSA-secp256r1-SHA256".into(),
            encoding_method: "OCMF".into(),
            public_key: String::new(),
        }
    }

    fn checks() -> Checks {
        Checks {
            rule: Rule::default(),
            tolerance_s: 30,
            backfill_s: 3600,
        }
    }

    fn run(
        text: &str,
        t: u64,
        wh: u64,
        txn: Option<TxnTrack>,
        meter: MeterTrack,
    ) -> Result<CheckedRecord, DeviceRefusal> {
        let sv = signed(text);
        let sample = Sample {
            timestamp: t as i64,
            value_wh: wh as f64,
            signed: Some(&sv),
        };
        check(&charger(), &sample, txn, meter, &checks(), T0 + 3000)
    }

    #[test]
    fn a_session_maps_onto_the_grid() {
        let b = record(7, "MS-1", 5, T0 + 17, 1_000_000, 'B');
        let r = run(&b, T0 + 17, 1_000_000, None, MeterTrack::default()).expect("begin");
        assert_eq!(r.readings, vec![(T0 + 17, 1_000_000, Some(T0))]);
        let (txn, m) = advance(&r, None, MeterTrack::default());
        let c = record(7, "MS-1", 6, T0 + 300, 1_002_500, 'C');
        let r = run(&c, T0 + 300, 1_002_500, Some(txn), m).expect("aligned");
        assert_eq!(r.readings[0].2, Some(T0 + 300));
        let (txn, m) = advance(&r, Some(txn), m);
        let e = record(7, "MS-1", 7, T0 + 423, 1_003_100, 'E');
        let r = run(&e, T0 + 423, 1_003_100, Some(txn), m).expect("end");
        assert_eq!(r.readings[0].2, Some(T0 + 600));
        let (txn, m) = advance(&r, Some(txn), m);
        assert!(txn.ended);
        // Nothing after the end; a new transaction must count on from the meter's last page.
        let late = record(7, "MS-1", 8, T0 + 500, 1_003_100, 'C');
        assert_eq!(
            run(&late, T0 + 500, 1_003_100, Some(txn), m).map_err(|e| e.code),
            Err("after_end")
        );
        let again = record(7, "MS-1", 7, T0 + 700, 1_003_100, 'B');
        assert_eq!(
            run(&again, T0 + 700, 1_003_100, None, m).map_err(|e| e.code),
            Err("pagination")
        );
        // A begin in the interval the last end counted for, on the same register: no capture.
        let next = record(7, "MS-1", 8, T0 + 590, 1_003_100, 'B');
        let r = run(&next, T0 + 590, 1_003_100, None, m).expect("begin");
        assert_eq!(r.readings[0].2, None);
    }

    #[test]
    fn bad_records_are_refused_with_their_code() {
        let m = MeterTrack::default();
        let open = Some(TxnTrack {
            last_page: 1,
            ended: false,
        });
        let t = T0 + 300;
        let cases: Vec<(&str, Result<CheckedRecord, DeviceRefusal>)> = vec![
            // Signed by another key than the registered one.
            (
                "signature",
                run(&record(8, "MS-1", 2, t, 10, 'C'), t, 10, open, m),
            ),
            // Another meter's serial.
            (
                "serial",
                run(&record(7, "MS-2", 2, t, 10, 'C'), t, 10, open, m),
            ),
            // A skipped page.
            (
                "pagination",
                run(&record(7, "MS-1", 3, t, 10, 'C'), t, 10, open, m),
            ),
            // No begin.
            (
                "pagination",
                run(&record(7, "MS-1", 1, t, 10, 'C'), t, 10, None, m),
            ),
            // The OCPP value is not the signed one.
            (
                "value_mismatch",
                run(&record(7, "MS-1", 2, t, 10, 'C'), t, 1010, open, m),
            ),
            // Ahead of the gateway's clock (now is T0 + 3000).
            (
                "clock_skew",
                run(
                    &record(7, "MS-1", 2, T0 + 4000, 10, 'C'),
                    T0 + 4000,
                    10,
                    open,
                    m,
                ),
            ),
            // Older than the backfill window.
            (
                "late",
                run(
                    &record(7, "MS-1", 2, T0 - 1200, 10, 'C'),
                    T0 - 1200,
                    10,
                    open,
                    m,
                ),
            ),
            // The OCPP timestamp is not the record's time.
            (
                "timestamp_mismatch",
                run(&record(7, "MS-1", 2, t, 10, 'C'), t + 300, 10, open, m),
            ),
            // Below the meter's last register.
            (
                "backwards",
                run(
                    &record(7, "MS-1", 2, t, 10, 'C'),
                    t,
                    10,
                    open,
                    MeterTrack {
                        last_wh: Some(11),
                        ..m
                    },
                ),
            ),
        ];
        for (code, got) in cases {
            assert_eq!(got.map_err(|e| e.code), Err(code), "{code}");
        }

        // A forged payload: one digit changed after signing.
        let good = record(7, "MS-1", 2, t, 10_000, 'C');
        let forged = good.replacen("\"RV\":10.000", "\"RV\":11.000", 1);
        assert_ne!(forged, good);
        assert_eq!(
            run(&forged, t, 11_000, open, m).map_err(|e| e.code),
            Err("signature")
        );
        // Unsigned, not OCMF, not Base64, a foreign publicKey, a contradicting signingMethod.
        let c = charger();
        let go = |sv: Option<&SignedMeterValue>| {
            let sample = Sample {
                timestamp: t as i64,
                value_wh: 10_000.0,
                signed: sv,
            };
            check(&c, &sample, open, m, &checks(), T0 + 3000).map_err(|e| e.code)
        };
        assert_eq!(go(None), Err("unsigned"));
        let mut sv = signed(&good);
        sv.encoding_method = "EDL".into();
        assert_eq!(go(Some(&sv)), Err("encoding"));
        let mut sv = signed(&good);
        sv.signed_meter_data = "not base64 !".into();
        assert_eq!(go(Some(&sv)), Err("malformed"));
        let mut sv = signed(&good);
        sv.public_key =
            alloy_primitives::hex::encode(signer(8).public_key().expect("pk").to_spki());
        assert_eq!(go(Some(&sv)), Err("unknown_key"));
        let mut sv = signed(&good);
        sv.signing_method = "ECDSA-secp384r1-SHA256".into();
        assert_eq!(go(Some(&sv)), Err("algorithm"));
        // And the good one passes, with the registered key given as publicKey too.
        let mut sv = signed(&good);
        sv.public_key = base64::engine::general_purpose::STANDARD.encode(c.key.to_spki());
        assert_eq!(go(Some(&sv)).map(|r| r.page), Ok(2));
    }

    #[test]
    fn error_flags_and_meter_state_are_refused() {
        let t = T0 + 300;
        let open = Some(TxnTrack {
            last_page: 1,
            ended: false,
        });
        for (edit, code) in [
            (("\"EF\":\"\"", "\"EF\":\"E\""), "error_flags"),
            (("\"ST\":\"G\"", "\"ST\":\"E\""), "meter_state"),
            ((",000+0000 S", ",000+0000 U"), "clock_unsynchronized"),
        ] {
            // Re-signed after the edit: the signature holds, the content is refused.
            let good = record(7, "MS-1", 2, t, 10_000, 'C');
            let payload = good.split('|').nth(1).expect("payload");
            assert!(payload.contains(edit.0), "{payload}");
            let edited = payload.replacen(edit.0, edit.1, 1);
            let text = resign(&edited);
            assert_eq!(
                run(&text, t, 10_000, open, MeterTrack::default()).map_err(|e| e.code),
                Err(code)
            );
        }
    }

    /// A payload signed with the registered key, as a record.
    fn resign(payload: &str) -> String {
        use p256::ecdsa::{Signature, SigningKey, signature::Signer as _};
        let key = SigningKey::from_bytes(&[7u8; 32].into()).expect("key");
        let sig: Signature = key.sign(payload.as_bytes());
        format!(
            "OCMF|{payload}|{{\"SA\":\"ECDSA-secp256r1-SHA256\",\"SD\":\"{}\"}}",
            alloy_primitives::hex::encode(sig.to_der().as_bytes())
        )
    }
}
