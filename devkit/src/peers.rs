//! Device peers for the gateway's tests and benches: the simulated DLMS/COSEM meters of
//! `tests/peers/dlms_meter.py` (the Gurux stack, in the checkout's `.venv`).

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
};

use crate::{DevkitError, DevkitResult};

fn peer_err(e: impl std::fmt::Display) -> DevkitError {
    DevkitError::Demo(format!("DLMS simulator: {e}"))
}

/// Running simulated meters (killed on drop) and the port of each.
#[derive(Debug)]
pub struct DlmsSimulator {
    child: Child,
    /// Meter `i` listens on `127.0.0.1:ports[i]`.
    pub ports: Vec<u16>,
}

impl Drop for DlmsSimulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl DlmsSimulator {
    /// Starts the simulator of the checkout at `root` with `args` (on free ports) and waits
    /// for its ready line.
    pub fn start(root: &Path, args: &[&str]) -> DevkitResult<Self> {
        let mut child = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("tests/peers/dlms_meter.py"))
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| {
                peer_err(format!(
                    "starting it (scripts/setup.sh installs gurux-dlms): {e}"
                ))
            })?;
        let stdout = child.stdout.take().ok_or_else(|| peer_err("no stdout"))?;
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let mut sim = Self {
            child,
            ports: Vec::new(),
        };
        read.map_err(peer_err)?;
        let v: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| peer_err(format!("its ready line {line:?}: {e}")))?;
        sim.ports = v["ports"]
            .as_array()
            .ok_or_else(|| peer_err(format!("no ports in {line:?}")))?
            .iter()
            .filter_map(|p| p.as_u64().and_then(|p| u16::try_from(p).ok()))
            .collect();
        Ok(sim)
    }

    /// Meter 0's profile entries in `[from, to]` from the simulator's generator with `args`:
    /// `(time, import Wh, export Wh)`.
    pub fn expected(
        root: &Path,
        args: &[&str],
        from: u64,
        to: u64,
    ) -> DevkitResult<Vec<(u64, u64, u64)>> {
        let out = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("tests/peers/dlms_meter.py"))
            .args(args)
            .args(["--expect", &from.to_string(), &to.to_string()])
            .output()
            .map_err(peer_err)?;
        if !out.status.success() {
            return Err(peer_err(String::from_utf8_lossy(&out.stderr)));
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(peer_err)?;
        v["entries"]
            .as_array()
            .ok_or_else(|| peer_err("no entries"))?
            .iter()
            .map(|e| {
                let n = |k: &str| e[k].as_u64().ok_or_else(|| peer_err(format!("entry {e}")));
                Ok((n("time")?, n("import_wh")?, n("export_wh")?))
            })
            .collect()
    }
}

fn charger_err(e: impl std::fmt::Display) -> DevkitError {
    DevkitError::Demo(format!("OCPP charger peer: {e}"))
}

/// The simulated charging station of `tests/peers/ocpp_charger.py` (PyPI `ocpp` 2.1.0 over
/// `websockets`, OCMF records signed with a P-256 key by `cryptography`).
#[derive(Debug)]
pub struct ChargerPeer;

/// What a session of the charger peer reported.
#[derive(Debug, Clone)]
pub struct ChargerRun {
    /// Its exit code (0 done, 2 could not connect, 3 failed after connecting).
    pub code: i32,
    /// Its summary line (`{"error": …}` when it failed).
    pub summary: serde_json::Value,
    /// Its log (stderr).
    pub log: String,
}

impl ChargerPeer {
    fn script(root: &Path) -> std::path::PathBuf {
        root.join("tests/peers/ocpp_charger.py")
    }

    /// Writes a fresh P-256 key (PKCS#8 PEM, mode 0600) to `path`; returns its
    /// SubjectPublicKeyInfo as hex (the key to register for the station's meter).
    pub fn gen_key(root: &Path, path: &Path) -> DevkitResult<String> {
        let out = Command::new(root.join(".venv/bin/python"))
            .arg(Self::script(root))
            .arg("--gen-key")
            .arg(path)
            .output()
            .map_err(|e| {
                charger_err(format!("starting it (scripts/setup.sh installs ocpp): {e}"))
            })?;
        if !out.status.success() {
            return Err(charger_err(String::from_utf8_lossy(&out.stderr)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Runs one session with `args` (see the script's header) to the end.
    pub async fn run(root: &Path, args: &[&str]) -> DevkitResult<ChargerRun> {
        let out = tokio::process::Command::new(root.join(".venv/bin/python"))
            .arg(Self::script(root))
            .args(args)
            .output()
            .await
            .map_err(|e| charger_err(format!("starting it: {e}")))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let summary = stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or(serde_json::Value::Null);
        Ok(ChargerRun {
            code: out.status.code().unwrap_or(-1),
            summary,
            log: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// The registers at the session's boundaries and the energy of each interval, from the
    /// script's generator: `(boundaries [(t, Wh)], energies [(interval, Wh)])`.
    #[allow(clippy::type_complexity)]
    pub fn expected(
        root: &Path,
        args: &[&str],
    ) -> DevkitResult<(Vec<(u64, u64)>, Vec<(u64, u64)>)> {
        let out = Command::new(root.join(".venv/bin/python"))
            .arg(Self::script(root))
            .arg("--expect")
            .args(args)
            .output()
            .map_err(charger_err)?;
        if !out.status.success() {
            return Err(charger_err(String::from_utf8_lossy(&out.stderr)));
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(charger_err)?;
        let pairs = |k: &str| -> DevkitResult<Vec<(u64, u64)>> {
            v[k].as_array()
                .ok_or_else(|| charger_err(format!("no {k}")))?
                .iter()
                .map(|p| match (p[0].as_u64(), p[1].as_u64()) {
                    (Some(a), Some(b)) => Ok((a, b)),
                    _ => Err(charger_err(format!("a pair {p}"))),
                })
                .collect()
        };
        Ok((pairs("boundaries")?, pairs("energies")?))
    }
}

/// A throwaway TLS setup for tests and the demo: a CA, and a server certificate from it for
/// `127.0.0.1` and `localhost`, written as PEM files into `dir`.
#[derive(Debug, Clone)]
pub struct TestTls {
    /// The CA certificate (what clients trust).
    pub ca: std::path::PathBuf,
    /// The server's certificate chain.
    pub cert: std::path::PathBuf,
    /// The server's private key.
    pub key: std::path::PathBuf,
}

impl TestTls {
    /// Creates the files in `dir`.
    pub fn create(dir: &Path) -> DevkitResult<Self> {
        let e = |e: rcgen::Error| DevkitError::Demo(format!("test certificates: {e}"));
        let ca_key = rcgen::KeyPair::generate().map_err(e)?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(e)?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "sealgrid test CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(e)?;
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().map_err(e)?;
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .map_err(e)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "sealgrid gateway");
        let cert = params.signed_by(&key, &issuer).map_err(e)?;
        let me = Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("gateway.pem"),
            key: dir.join("gateway.key"),
        };
        let w = |p: &Path, s: String| {
            std::fs::write(p, s).map_err(|e| DevkitError::Demo(format!("{}: {e}", p.display())))
        };
        w(&me.ca, ca_cert.pem())?;
        w(&me.cert, cert.pem())?;
        w(&me.key, key.serialize_pem())?;
        Ok(me)
    }
}
