//! `sealgrid pki`: the deployment's device PKI (the `sealgrid-pki` crate; docs/gateways.md).

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use eyre::{Result, WrapErr, bail, eyre};
use sealgrid_pki::{Pki, device_csr, est, pem};

/// The deployment CA: create it, issue enrolment tokens and server certificates, serve EST,
/// revoke, write CRLs; and a device's side of enrolment.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum PkiCommand {
    /// Creates a CA in `--dir` (ca.pem, ca.key mode 0600, pki.db). Example: `sealgrid pki init
    /// --dir /etc/sealgrid/ca --name "Feeder 7 devices"`.
    Init {
        /// The CA's directory (must not hold a CA).
        #[arg(long)]
        dir: PathBuf,
        /// The CA's common name.
        #[arg(long, default_value = "sealgrid deployment CA")]
        name: String,
    },
    /// Issues a one-time enrolment token for a device identity and writes it to `--out`
    /// (mode 0600; the CA keeps only its hash). Example: `sealgrid pki token --dir ca
    /// --device CS-0042 --out cs-0042.token`.
    Token {
        /// The CA's directory.
        #[arg(long)]
        dir: PathBuf,
        /// The device identity (a DNS label: its OCPP identity for a charger).
        #[arg(long)]
        device: String,
        /// Hours the token is valid.
        #[arg(long, default_value_t = 168)]
        ttl_hours: u64,
        /// Where to write the token.
        #[arg(long)]
        out: PathBuf,
    },
    /// Issues a server certificate (chain and key, PEM; the key mode 0600) for a service of
    /// the deployment: a gateway's CSMS, the EST server, a node. Example: `sealgrid pki
    /// server-cert --dir ca --name gw1.example.net --cert-out gw1.pem --key-out gw1.key`.
    ServerCert {
        /// The CA's directory.
        #[arg(long)]
        dir: PathBuf,
        /// DNS names or IP addresses the certificate is for (repeat for several).
        #[arg(long = "name", required = true)]
        names: Vec<String>,
        /// The chain's file.
        #[arg(long)]
        cert_out: PathBuf,
        /// The key's file.
        #[arg(long)]
        key_out: PathBuf,
    },
    /// Serves EST simple enrolment (RFC 7030) over TLS until Ctrl-C.
    Serve {
        /// The CA's directory.
        #[arg(long)]
        dir: PathBuf,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8444")]
        listen: SocketAddr,
        /// The name (or IP) devices reach the server by: its certificate is issued for it.
        #[arg(long, default_value = "127.0.0.1")]
        name: String,
    },
    /// A device's enrolment: a fresh P-256 key and CSR, EST simple enrolment with a token file,
    /// the key (mode 0600) and certificate written. Example: `sealgrid pki enrol --est
    /// 10.0.0.5:8444 --ca ca.pem --device CS-0042 --token-file cs-0042.token --key-out
    /// cs-0042.key --cert-out cs-0042.pem`.
    Enrol {
        /// The EST server's address.
        #[arg(long)]
        est: SocketAddr,
        /// The name its certificate is for (default: the address's IP).
        #[arg(long)]
        host: Option<String>,
        /// The deployment CA certificate (PEM) to trust.
        #[arg(long)]
        ca: PathBuf,
        /// The device identity.
        #[arg(long)]
        device: String,
        /// The file holding the enrolment token.
        #[arg(long)]
        token_file: PathBuf,
        /// Where to write the device key.
        #[arg(long)]
        key_out: PathBuf,
        /// Where to write the certificate.
        #[arg(long)]
        cert_out: PathBuf,
    },
    /// Revokes a certificate (by serial) or every certificate of a device, and writes a fresh
    /// CRL to the CA's ca.crl (gateways reload it).
    Revoke {
        /// The CA's directory.
        #[arg(long)]
        dir: PathBuf,
        /// The certificate's serial (hex).
        #[arg(long, conflicts_with = "device", required_unless_present = "device")]
        serial: Option<String>,
        /// Or the device.
        #[arg(long)]
        device: Option<String>,
        /// Why (kept in the CA's records).
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
    /// Writes a fresh CRL to the CA's ca.crl (valid `--days`).
    Crl {
        /// The CA's directory.
        #[arg(long)]
        dir: PathBuf,
        /// Days until its next update.
        #[arg(long, default_value_t = 7)]
        days: u64,
    },
    /// Lists the certificates issued (serial, device, expiry, revoked), as JSON lines.
    List {
        /// The CA's directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Writes a secret file, owner-only, refusing to overwrite.
fn write_private(path: &std::path::Path, contents: &str) -> Result<()> {
    sealgrid_pki::write_private(path, contents)
        .wrap_err_with(|| format!("writing {} (it must not exist)", path.display()))
}

impl PkiCommand {
    pub(crate) fn run(self) -> Result<()> {
        crate::cmd::stderr_logs();
        let rt = tokio::runtime::Runtime::new().wrap_err("starting the runtime")?;
        rt.block_on(self.run_async())
    }

    async fn run_async(self) -> Result<()> {
        match self {
            Self::Init { dir, name } => {
                let pki = Pki::create(&dir, &name).await?;
                println!("{}", pki.ca_path().display());
            }
            Self::Token {
                dir,
                device,
                ttl_hours,
                out,
            } => {
                let pki = Pki::open(&dir).await?;
                let token = pki
                    .issue_token(&device, Duration::from_secs(ttl_hours * 3600), now())
                    .await?;
                write_private(&out, &format!("{token}\n"))?;
                eprintln!("token for {device} written to {}", out.display());
            }
            Self::ServerCert {
                dir,
                names,
                cert_out,
                key_out,
            } => {
                let pki = Pki::open(&dir).await?;
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                let (chain, key) = pki.issue_server(&names, now())?;
                write_private(&key_out, &key)?;
                std::fs::write(&cert_out, chain)
                    .wrap_err_with(|| format!("writing {}", cert_out.display()))?;
            }
            Self::Serve { dir, listen, name } => {
                let pki = Arc::new(Pki::open(&dir).await?);
                let tls = pki.server_config(&[name.as_str()], true, now()).await?;
                let l = tokio::net::TcpListener::bind(listen)
                    .await
                    .wrap_err_with(|| format!("listening on {listen}"))?;
                tracing::info!(%listen, %name, "EST server (RFC 7030 simpleenroll, cacerts) listening");
                est::serve_tls(l, tls, est::router(pki), async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await;
            }
            Self::Enrol {
                est: addr,
                host,
                ca,
                device,
                token_file,
                key_out,
                cert_out,
            } => {
                let ca_pem = std::fs::read_to_string(&ca)
                    .wrap_err_with(|| format!("reading {}", ca.display()))?;
                let ca_der = ca_der(&ca_pem)?;
                let token = std::fs::read_to_string(&token_file)
                    .wrap_err_with(|| format!("reading {}", token_file.display()))?;
                let token = token.trim();
                if token.is_empty() {
                    bail!("{} is empty", token_file.display());
                }
                let (key_pem, csr) = device_csr(&device)?;
                let host = host.unwrap_or_else(|| addr.ip().to_string());
                let cert = est::enrol(&ca_der, addr, &host, &device, token, &csr).await?;
                write_private(&key_out, &key_pem)?;
                std::fs::write(&cert_out, pem("CERTIFICATE", &cert))
                    .wrap_err_with(|| format!("writing {}", cert_out.display()))?;
                eprintln!("{device} enrolled: {}", cert_out.display());
            }
            Self::Revoke {
                dir,
                serial,
                device,
                reason,
            } => {
                let pki = Pki::open(&dir).await?;
                let serials = match (serial, device) {
                    (Some(s), _) => {
                        pki.revoke(&s, &reason, now()).await?;
                        vec![s]
                    }
                    (None, Some(d)) => pki.revoke_device(&d, &reason, now()).await?,
                    (None, None) => bail!("--serial or --device"),
                };
                let path = pki
                    .write_crl(now(), Duration::from_secs(7 * 86_400))
                    .await?;
                for s in serials {
                    println!("{s}");
                }
                eprintln!("CRL written to {}", path.display());
            }
            Self::Crl { dir, days } => {
                let pki = Pki::open(&dir).await?;
                let path = pki
                    .write_crl(now(), Duration::from_secs(days * 86_400))
                    .await?;
                println!("{}", path.display());
            }
            Self::List { dir } => {
                let pki = Pki::open(&dir).await?;
                for (serial, device, not_after, revoked) in pki.certificates().await? {
                    println!(
                        "{}",
                        serde_json::json!({"serial": serial, "device": device, "notAfter": not_after, "revoked": revoked})
                    );
                }
            }
        }
        Ok(())
    }
}

fn ca_der(pem_text: &str) -> Result<Vec<u8>> {
    use rustls::pki_types::{CertificateDer, pem::PemObject as _};
    CertificateDer::from_pem_slice(pem_text.as_bytes())
        .map(|c| c.to_vec())
        .map_err(|e| eyre!("the CA file is not a PEM certificate: {e}"))
}
