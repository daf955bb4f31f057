//! `sealgrid bench chargers`: the gateway's charger path (issue 19's OCMF target).
//!
//! `stations` charging stations, each with one registered P-256 meter key and one charging
//! session of `records` OCMF records (a begin, clock-aligned values every 5 minutes, an end),
//! built and signed beforehand with the `ocmf` crate. Measured:
//!
//! 1. **Verify**: every record parsed and its signature checked against the station's key
//!    (what the CSMS does before anything else), on one thread and on every core. Records
//!    verified per second; the target is 500/s.
//! 2. **Intake**: every record through the CSMS's whole sample path — duplicate lookup,
//!    verification, serial, pagination and billing checks, the record, its tracks and captures
//!    stored in one SQLite transaction (WAL, `synchronous = FULL`) — stations concurrently,
//!    each station's records in order; then the held captures signed into the outbox.

use std::{sync::Arc, time::Instant};

use alloy_primitives::keccak256;
use alloy_signer_local::PrivateKeySigner;
use base64::Engine as _;
use ocmf::{
    IdentificationFlag, IdentificationLevel, IdentificationType, Location, OcmfTime, Pagination,
    Unit,
    sign::{ReadingSpec, RecordBuilder, Secp256r1Signer, Signer as _},
};
use sealgrid_gateway::{
    Charger, Csms, Gateway, Outbox, Rule,
    charger::{Sample, verify_record},
    ocpp::{SampleOutcome, SignedMeterValue},
};
use sealgrid_keys::KeySigner;

use crate::{DevkitError, DevkitResult, peers::TestTls};

/// Options of the charger benchmark.
#[derive(Clone, Debug)]
pub struct ChargerBenchOptions {
    /// Charging stations.
    pub stations: usize,
    /// OCMF records per station (at least 2: a begin and an end).
    pub records: usize,
}

/// Verification target (OCMF records per second).
pub const TARGET_VERIFY_PER_S: f64 = 500.0;

fn bench_err(e: impl std::fmt::Display) -> DevkitError {
    DevkitError::Demo(format!("charger bench: {e}"))
}

/// One station's signed session: `(t, register Wh, record text)` per record.
struct Session {
    charger: Charger,
    records: Vec<(u64, u64, SignedMeterValue)>,
}

fn tm(t: u64) -> DevkitResult<OcmfTime> {
    let s = chrono::DateTime::from_timestamp(i64::try_from(t).map_err(bench_err)?, 0)
        .ok_or_else(|| bench_err("a time"))?
        .format("%Y-%m-%dT%H:%M:%S,000+0000 S")
        .to_string();
    OcmfTime::parse(&s, &Location::at(0), &mut Vec::new()).ok_or_else(|| bench_err("a TM"))
}

fn session(i: usize, records: usize, t0: u64) -> DevkitResult<Session> {
    let seed = keccak256(format!("bench-charger-{i}"));
    let signer = Secp256r1Signer::from_bytes(&seed.0).map_err(bench_err)?;
    let serial = format!("BENCH-{i:05}");
    let mut wh = 1_000_000 + i as u64 * 17;
    let mut out = Vec::with_capacity(records);
    for j in 0..records {
        let (t, spec_marker) = if j == 0 {
            (t0 + 17, 'B')
        } else if j + 1 == records {
            (t0 + 300 * (j as u64 - 1) + 23, 'E')
        } else {
            (t0 + 300 * j as u64, 'C')
        };
        if j > 0 && j + 1 < records {
            wh += 500 + (i as u64 * 7919 + j as u64 * 104_729) % 4000;
        }
        let kwh = rust_decimal::Decimal::new(i64::try_from(wh).map_err(bench_err)?, 3);
        let mut spec = ReadingSpec::new(tm(t)?, kwh, "01-00:01.08.00", Unit::KWh);
        spec = match spec_marker {
            'B' => spec.begin(),
            'E' => spec.end(),
            _ => spec,
        };
        let text = RecordBuilder::new()
            .gateway("bench", "GS", "1.0")
            .pagination(Pagination::transaction(j as u64 + 1))
            .meter("bench", "BENCH", &serial, "1.0")
            .identification(
                true,
                IdentificationLevel::Verified,
                vec![IdentificationFlag::parse("RFID_PLAIN")],
                IdentificationType::Iso14443,
                "04A1B2C3",
            )
            .reading(spec)
            .sign(&signer)
            .map_err(bench_err)?
            .as_str()
            .to_owned();
        out.push((
            t,
            wh,
            SignedMeterValue {
                signed_meter_data: base64::engine::general_purpose::STANDARD.encode(&text),
                signing_method: "ECDSA-secp256r1-SHA256".into(),
                encoding_method: "OCMF".into(),
                public_key: String::new(),
            },
        ));
    }
    Ok(Session {
        charger: Charger {
            station: format!("BENCH-{i:05}"),
            meter: keccak256(format!("bench-charger-meter-{i}")),
            serial,
            key: signer.public_key().map_err(bench_err)?,
            password: Some("bench".into()),
        },
        records: out,
    })
}

fn verify_all(sessions: &[Session]) -> DevkitResult<usize> {
    let mut n = 0;
    for s in sessions {
        for (_, _, sv) in &s.records {
            let text =
                sealgrid_gateway::charger::record_text(sv).map_err(|e| bench_err(e.message))?;
            verify_record(&s.charger, &text, sv).map_err(|e| bench_err(e.message))?;
            n += 1;
        }
    }
    Ok(n)
}

/// Runs the benchmark; returns the `RESULT` lines (the last one is the verdict).
pub async fn run_charger_bench(
    opts: ChargerBenchOptions,
    mut progress: impl FnMut(&str),
) -> DevkitResult<Vec<String>> {
    if opts.stations == 0 || opts.records < 2 {
        return Err(bench_err(
            "stations must be positive and records at least 2",
        ));
    }
    let now = sealgrid_gateway::unix_now();
    let span = 300 * opts.records as u64 + 600;
    let t0 = (now - span) / 300 * 300;
    progress(&format!(
        "signing {} OCMF records ({} stations × {})",
        opts.stations * opts.records,
        opts.stations,
        opts.records
    ));
    let sessions: Vec<Session> = (0..opts.stations)
        .map(|i| session(i, opts.records, t0))
        .collect::<DevkitResult<_>>()?;
    let total = opts.stations * opts.records;

    // 1. Verification, one thread, then every core.
    progress("verifying on one thread");
    let t = Instant::now();
    let n = verify_all(&sessions)?;
    let one = t.elapsed().as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    progress(&format!("verifying on {cores} threads"));
    let t = Instant::now();
    let chunk = sessions.len().div_ceil(cores);
    let counted: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .chunks(chunk)
            .map(|c| scope.spawn(move || verify_all(c)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| bench_err("a verifier thread panicked"))?
            })
            .sum::<DevkitResult<usize>>()
    })?;
    let all = t.elapsed().as_secs_f64();
    if n != total || counted != total {
        return Err(bench_err(format!("verified {n} and {counted} of {total}")));
    }

    // 2. Intake through the CSMS's sample path into a fresh outbox.
    let dir = tempfile::tempdir().map_err(bench_err)?;
    let tls = TestTls::create(dir.path())?;
    let config =
        sealgrid_gateway::tls::server_config(&tls.cert, &tls.key, None, &[]).map_err(bench_err)?;
    let outbox = Outbox::open(&format!("sqlite:{}", dir.path().join("gw.db").display()))
        .await
        .map_err(bench_err)?;
    let key = PrivateKeySigner::from_bytes(&keccak256("bench-gateway")).map_err(bench_err)?;
    let gw = Gateway::new(
        KeySigner::Local(key),
        sealgrid_types::sealgrid_domain(31337, alloy_primitives::Address::repeat_byte(1)),
        outbox,
        Rule::default(),
    )
    .with_backfill(span + 3600);
    let csms = Csms::new(
        gw.clone(),
        sessions.iter().map(|s| s.charger.clone()).collect(),
        config,
    );
    progress(&format!(
        "taking {total} records through the CSMS's sample path"
    ));
    let sessions = Arc::new(sessions);
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..16usize {
        let (csms, sessions) = (csms.clone(), sessions.clone());
        set.spawn(async move {
            let mut accepted = 0usize;
            for s in sessions.iter().skip(w).step_by(16) {
                for (t, wh, sv) in &s.records {
                    let sample = Sample {
                        timestamp: i64::try_from(*t).unwrap_or(0),
                        value_wh: *wh as f64,
                        signed: Some(sv),
                    };
                    let o = csms
                        .sample(&s.charger.station, "tx-1", &sample, now)
                        .await
                        .map_err(bench_err)?;
                    match o {
                        SampleOutcome::Accepted => accepted += 1,
                        other => {
                            return Err(bench_err(format!(
                                "{}: a record not accepted: {other:?}",
                                s.charger.station
                            )));
                        }
                    }
                }
            }
            Ok::<_, DevkitError>(accepted)
        });
    }
    let mut accepted = 0;
    while let Some(r) = set.join_next().await {
        accepted += r.map_err(bench_err)??;
    }
    let intake = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let signed = gw.release_chargers(now).await.map_err(bench_err)?;
    let release = t.elapsed().as_secs_f64();
    // Every interval of every session: (records − 2) aligned values after the begin, and the
    // one the end closes.
    let want_signed = (opts.stations * (opts.records - 1)) as u64;
    if accepted != total || signed != want_signed {
        return Err(bench_err(format!(
            "accepted {accepted} of {total}, signed {signed} of {want_signed}"
        )));
    }

    let r1 = total as f64 / one;
    let ra = total as f64 / all;
    let ri = total as f64 / intake;
    let pass = ra >= TARGET_VERIFY_PER_S;
    Ok(vec![
        format!("RESULT ocmf_verify records={total} threads=1 seconds={one:.3} rate_per_s={r1:.0}"),
        format!(
            "RESULT ocmf_verify records={total} threads={cores} seconds={all:.3} rate_per_s={ra:.0}"
        ),
        format!(
            "RESULT charger_intake records={total} stations={} seconds={intake:.3} rate_per_s={ri:.0} signed={signed} release_seconds={release:.3}",
            opts.stations
        ),
        format!(
            "RESULT charger_bench verify_per_s={ra:.0} target_verify_per_s={TARGET_VERIFY_PER_S:.0} intake_per_s={ri:.0} pass={pass}"
        ),
    ])
}
