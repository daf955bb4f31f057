//! `sealgrid bench pki`: enrolment of device certificates through the deployment PKI (issue
//! 19's measurement: 10,000 devices).
//!
//! A fresh CA; `devices` one-time tokens issued; each device's P-256 key and CSR made (the
//! device's cost, timed apart); every device enrolled by EST simple enrolment over TLS on
//! loopback (a TLS handshake per enrolment, as a device in the field does), `concurrency` at
//! a time; then a tenth revoked and the CRL signed.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sealgrid_pki::{Pki, device_csr, est};

use crate::{DevkitError, DevkitResult};

/// Options of the PKI benchmark.
#[derive(Clone, Debug)]
pub struct PkiBenchOptions {
    /// Devices to enrol.
    pub devices: usize,
    /// Enrolments in flight at once.
    pub concurrency: usize,
}

fn bench_err(e: impl std::fmt::Display) -> DevkitError {
    DevkitError::Demo(format!("pki bench: {e}"))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs the benchmark; returns the `RESULT` lines (the last one is the summary).
pub async fn run_pki_bench(
    opts: PkiBenchOptions,
    mut progress: impl FnMut(&str),
) -> DevkitResult<Vec<String>> {
    if opts.devices == 0 || opts.concurrency == 0 {
        return Err(bench_err("devices and concurrency must be positive"));
    }
    let dir = tempfile::tempdir().map_err(bench_err)?;
    let pki = Arc::new(
        Pki::create(dir.path(), "bench CA")
            .await
            .map_err(bench_err)?,
    );
    let names: Vec<String> = (0..opts.devices).map(|i| format!("DEV-{i:06}")).collect();

    progress(&format!("issuing {} tokens", opts.devices));
    let t = Instant::now();
    let mut tokens = Vec::with_capacity(opts.devices);
    for n in &names {
        tokens.push(
            pki.issue_token(n, Duration::from_secs(3600), now())
                .await
                .map_err(bench_err)?,
        );
    }
    let tokens_s = t.elapsed().as_secs_f64();

    progress("making the devices' keys and CSRs");
    let t = Instant::now();
    let csrs: Vec<Vec<u8>> = names
        .iter()
        .map(|n| device_csr(n).map(|(_, csr)| csr))
        .collect::<Result<_, _>>()
        .map_err(bench_err)?;
    let csr_s = t.elapsed().as_secs_f64();

    let tls = pki
        .server_config(&["127.0.0.1"], true, now())
        .await
        .map_err(bench_err)?;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(bench_err)?;
    let addr = l.local_addr().map_err(bench_err)?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(est::serve_tls(l, tls, est::router(pki.clone()), async {
        let _ = stop_rx.await;
    }));

    progress(&format!(
        "enrolling {} devices over EST (TLS), {} at a time",
        opts.devices, opts.concurrency
    ));
    let work: Arc<Vec<(String, String, Vec<u8>)>> = Arc::new(
        names
            .into_iter()
            .zip(tokens)
            .zip(csrs)
            .map(|((n, t), c)| (n, t, c))
            .collect(),
    );
    let ca = Arc::new(pki.ca_der().to_vec());
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..opts.concurrency {
        let (work, ca) = (work.clone(), ca.clone());
        let step = opts.concurrency;
        set.spawn(async move {
            let mut n = 0usize;
            for (device, token, csr) in work.iter().skip(w).step_by(step) {
                est::enrol(&ca, addr, "127.0.0.1", device, token, csr)
                    .await
                    .map_err(|e| bench_err(format!("{device}: {e}")))?;
                n += 1;
            }
            Ok::<_, DevkitError>(n)
        });
    }
    let mut enrolled = 0;
    while let Some(r) = set.join_next().await {
        enrolled += r.map_err(bench_err)??;
        if enrolled % 1000 == 0 {
            progress(&format!("{enrolled} enrolled"));
        }
    }
    let enrol_s = t.elapsed().as_secs_f64();
    let _ = stop_tx.send(());
    let _ = server.await;
    let issued = pki.certificates().await.map_err(bench_err)?;
    if enrolled != opts.devices || issued.len() != opts.devices {
        return Err(bench_err(format!(
            "enrolled {enrolled}, {} certificates, of {} devices",
            issued.len(),
            opts.devices
        )));
    }

    let revoke_n = opts.devices.div_ceil(10);
    progress(&format!("revoking {revoke_n} and signing the CRL"));
    for (serial, _, _, _) in issued.iter().take(revoke_n) {
        pki.revoke(serial, "bench", now())
            .await
            .map_err(bench_err)?;
    }
    let t = Instant::now();
    let crl = pki
        .crl(now(), Duration::from_secs(86_400))
        .await
        .map_err(bench_err)?;
    let crl_s = t.elapsed().as_secs_f64();

    let rate = opts.devices as f64 / enrol_s;
    Ok(vec![
        format!(
            "RESULT pki_tokens devices={} seconds={tokens_s:.3} rate_per_s={:.0}",
            opts.devices,
            opts.devices as f64 / tokens_s
        ),
        format!(
            "RESULT pki_device_csr devices={} seconds={csr_s:.3} rate_per_s={:.0}",
            opts.devices,
            opts.devices as f64 / csr_s
        ),
        format!(
            "RESULT pki_crl revoked={revoke_n} seconds={crl_s:.3} bytes={}",
            crl.len()
        ),
        format!(
            "RESULT pki_enrol devices={} concurrency={} transport=est_tls seconds={enrol_s:.3} rate_per_s={rate:.0}",
            opts.devices, opts.concurrency
        ),
    ])
}
