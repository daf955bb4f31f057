//! The deployment's device PKI (issue 19): a private CA, device certificates issued from
//! CSRs on one-time enrolment tokens, revocation, and certificate revocation lists.
//!
//! - **The CA** lives in a directory: `ca.pem` (its certificate, what gateways and devices
//!   trust), `ca.key` (its P-256 key, PKCS#8 PEM, mode 0600; never printed, never in argv),
//!   `pki.db` (SQLite: tokens and issued certificates).
//! - **A token** is issued for one device identity (a DNS label, e.g. `CS-0042`: the
//!   certificate names it as its DNS subject alternative name, which the CSMS matches against
//!   the station's OCPP identity). Only its SHA-256 is stored. It expires (default 7 days) and
//!   is spent by the first enrolment that uses it, in the same transaction that records the
//!   certificate: two enrolments racing on one token give one certificate.
//! - **Enrolment** takes a PKCS#10 CSR whose signature verifies (the device holds the key) on
//!   a P-256 key, and issues a client certificate (`digitalSignature`, `clientAuth`) for the
//!   token's device — whatever names the CSR asks for: the CA decides the names. [`est`]
//!   serves it as EST simple enrolment (RFC 7030 §4.2.1) over TLS, the token as the HTTP Basic
//!   password.
//! - **Revocation** marks certificates revoked; [`Pki::crl`] signs a CRL of every revoked
//!   certificate not yet expired, with an increasing CRL number. A TLS server built with it
//!   ([`server_config`]) refuses a revoked device in the handshake.

pub mod est;
pub mod pkcs7;

use std::{
    path::{Path, PathBuf},
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams,
    CertificateSigningRequestParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, RevokedCertParams, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, CertificateSigningRequestDer};
use sha2::Digest as _;
use sqlx::{
    Row,
    migrate::Migrator,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};
use time::OffsetDateTime;

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Result of this crate's operations.
pub type PkiResult<T> = Result<T, PkiError>;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// The token is unknown, spent, expired or for another device. (One variant, so that a
    /// caller learns nothing about which tokens exist.)
    #[error("enrolment token refused: {0}")]
    Token(&'static str),
    /// The CSR is malformed, its signature does not verify, or its key is not P-256.
    #[error("certificate signing request refused: {0}")]
    Csr(String),
    /// A device identity that is not a DNS label.
    #[error(
        "device identity {0:?} must be 1 to 63 letters, digits or '-', not starting or ending with '-'"
    )]
    Identity(String),
    /// No such certificate or device.
    #[error("not found: {0}")]
    NotFound(String),
    /// A malformed file or message.
    #[error("malformed: {0}")]
    Malformed(String),
    /// Reading or writing the CA's files.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
    /// The CA's database.
    #[error("pki store: {0}")]
    Store(#[from] sqlx::Error),
    /// Its schema.
    #[error("pki schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// TLS configuration.
    #[error("tls: {0}")]
    Tls(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Checks a device identity: a DNS label (RFC 1035), so it can be a subject alternative name.
pub fn check_identity(device: &str) -> PkiResult<()> {
    let ok = !device.is_empty()
        && device.len() <= 63
        && device
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !device.starts_with('-')
        && !device.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(PkiError::Identity(device.to_owned()))
    }
}

fn sha256_hex(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn at(t: u64) -> PkiResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(i64::try_from(t).unwrap_or(i64::MAX))
        .map_err(|e| PkiError::Malformed(format!("a time: {e}")))
}

/// A certificate the CA issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// Its serial number, hex.
    pub serial: String,
    /// The device it names.
    pub device: String,
    /// Its DER.
    pub der: Vec<u8>,
    /// Its PEM.
    pub pem: String,
    /// Expiry (unix s).
    pub not_after: u64,
}

/// The CA, its files and its records.
pub struct Pki {
    dir: PathBuf,
    issuer: Issuer<'static, KeyPair>,
    ca_der: Vec<u8>,
    ca_pem: String,
    pool: SqlitePool,
    /// How long device certificates are valid.
    pub validity: Duration,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Writes `contents` to a new file `path` (never over an existing one), readable by its
/// owner only: keys, tokens.
pub fn write_private(path: &Path, contents: &str) -> PkiResult<()> {
    use std::io::Write as _;
    #[cfg(unix)]
    let file = {
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
    };
    #[cfg(not(unix))]
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path);
    file.and_then(|mut f| f.write_all(contents.as_bytes()))
        .map_err(io(path))
}

impl Pki {
    /// Creates a CA named `name` in `dir` (which must not hold one).
    pub async fn create(dir: &Path, name: &str) -> PkiResult<Self> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let key_path = dir.join("ca.key");
        if key_path.exists() {
            return Err(PkiError::Malformed(format!(
                "{} already holds a CA",
                dir.display()
            )));
        }
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(3650);
        params.key_identifier_method = KeyIdMethod::Sha256;
        let cert = params.self_signed(&key)?;
        write_private(&key_path, &key.serialize_pem())?;
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, cert.pem()).map_err(io(&ca))?;
        Self::open(dir).await
    }

    /// Opens the CA in `dir`.
    pub async fn open(dir: &Path) -> PkiResult<Self> {
        let key_path = dir.join("ca.key");
        let key_pem = std::fs::read_to_string(&key_path).map_err(io(&key_path))?;
        let key = KeyPair::from_pem(&key_pem)?;
        let ca_path = dir.join("ca.pem");
        let ca_pem = std::fs::read_to_string(&ca_path).map_err(io(&ca_path))?;
        let issuer = Issuer::from_ca_cert_pem(&ca_pem, key)?;
        let ca_der = rustls::pki_types::pem::PemObject::from_pem_slice(ca_pem.as_bytes())
            .map(|c: CertificateDer<'static>| c.to_vec())
            .map_err(|e| PkiError::Malformed(format!("{}: {e}", ca_path.display())))?;
        let url = format!("sqlite:{}", dir.join("pki.db").display());
        let opts = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        MIGRATIONS.run(&pool).await?;
        Ok(Self {
            dir: dir.to_owned(),
            issuer,
            ca_der,
            ca_pem,
            pool,
            validity: Duration::from_secs(365 * 86_400),
        })
    }

    /// The CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA certificate (DER).
    pub fn ca_der(&self) -> &[u8] {
        &self.ca_der
    }

    /// The CA certificate's path.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Issues a one-time enrolment token for `device`, valid for `ttl` from `now`. The token
    /// is returned once and only its hash is kept.
    pub async fn issue_token(&self, device: &str, ttl: Duration, now: u64) -> PkiResult<String> {
        check_identity(device)?;
        let token = format!("sgt_{}", hex::encode(rand::random::<[u8; 24]>()));
        sqlx::query(
            "INSERT INTO tokens (hash, device, created_at, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(sha256_hex(&token))
        .bind(device)
        .bind(now as i64)
        .bind((now + ttl.as_secs()) as i64)
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// Enrols `device` with `token` and a PKCS#10 CSR (DER) at `now`: the certificate, or why
    /// not. The token is spent in the transaction that records the certificate.
    pub async fn enrol(
        &self,
        device: &str,
        token: &str,
        csr_der: &[u8],
        now: u64,
    ) -> PkiResult<Issued> {
        check_identity(device)?;
        let csr =
            CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(csr_der))
                .map_err(|e| PkiError::Csr(e.to_string()))?;
        if csr.public_key.algorithm() != &rcgen::PKCS_ECDSA_P256_SHA256 {
            return Err(PkiError::Csr("the key is not ECDSA P-256".into()));
        }
        let hash = sha256_hex(token);
        // Why a token would be refused, read before the CA signs anything.
        let why = |row: Option<(String, i64, Option<i64>)>| match row {
            None => Some("unknown token"),
            Some((_, _, Some(_))) => Some("the token was already used"),
            Some((_, expires, None)) if expires < now as i64 => Some("the token expired"),
            Some((d, _, None)) if d != device => Some("the token is for another device"),
            Some(_) => None,
        };
        let read = |pool: SqlitePool, hash: String| async move {
            sqlx::query_as::<_, (String, i64, Option<i64>)>(
                "SELECT device, expires_at, used_at FROM tokens WHERE hash = ?",
            )
            .bind(hash)
            .fetch_optional(&pool)
            .await
        };
        if let Some(w) = why(read(self.pool.clone(), hash.clone()).await?) {
            return Err(PkiError::Token(w));
        }
        let issued = self.sign(device, csr, now)?;
        // Spend the token and record the certificate in one transaction whose first statement
        // is the write (SQLite takes the write lock there, waiting its turn): of two
        // enrolments racing on one token, one updates it and the other finds it spent.
        let mut tx = self.pool.begin().await?;
        let spent = sqlx::query(
            "UPDATE tokens SET used_at = ?, serial = ? WHERE hash = ? AND used_at IS NULL \
             AND device = ? AND expires_at >= ?",
        )
        .bind(now as i64)
        .bind(&issued.serial)
        .bind(&hash)
        .bind(device)
        .bind(now as i64)
        .execute(&mut *tx)
        .await?;
        if spent.rows_affected() != 1 {
            drop(tx);
            let w =
                why(read(self.pool.clone(), hash).await?).unwrap_or("the token was already used");
            return Err(PkiError::Token(w));
        }
        sqlx::query(
            "INSERT INTO certificates (serial, device, not_before, not_after, issued_at, pem) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&issued.serial)
        .bind(device)
        .bind(now as i64 - 300)
        .bind(issued.not_after as i64)
        .bind(now as i64)
        .bind(&issued.pem)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(%device, serial = %issued.serial, "device certificate issued");
        Ok(issued)
    }

    /// Signs a client certificate for `device` on the CSR's key.
    fn sign(
        &self,
        device: &str,
        mut csr: CertificateSigningRequestParams,
        now: u64,
    ) -> PkiResult<Issued> {
        let mut serial = rand::random::<[u8; 16]>();
        serial[0] &= 0x7f;
        serial[0] |= 0x01;
        let not_after = now + self.validity.as_secs();
        let p = &mut csr.params;
        p.serial_number = Some(SerialNumber::from_slice(&serial));
        p.subject_alt_names = vec![SanType::DnsName(
            device
                .try_into()
                .map_err(|_| PkiError::Identity(device.to_owned()))?,
        )];
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, device);
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.not_before = at(now.saturating_sub(300))?;
        p.not_after = at(not_after)?;
        p.use_authority_key_identifier_extension = true;
        p.name_constraints = None;
        p.crl_distribution_points = Vec::new();
        p.custom_extensions = Vec::new();
        let cert = csr.signed_by(&self.issuer)?;
        Ok(Issued {
            serial: hex::encode(serial),
            device: device.to_owned(),
            der: cert.der().to_vec(),
            pem: cert.pem(),
            not_after,
        })
    }

    /// Revokes the certificate `serial` (hex) at `now`.
    pub async fn revoke(&self, serial: &str, reason: &str, now: u64) -> PkiResult<()> {
        let r = sqlx::query(
            "UPDATE certificates SET revoked_at = ?, reason = ? WHERE serial = ? AND revoked_at IS NULL",
        )
        .bind(now as i64)
        .bind(reason)
        .bind(serial.to_ascii_lowercase())
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(PkiError::NotFound(format!(
                "no unrevoked certificate with serial {serial}"
            )));
        }
        tracing::warn!(%serial, %reason, "certificate revoked");
        Ok(())
    }

    /// Revokes every certificate of `device`; returns their serials.
    pub async fn revoke_device(
        &self,
        device: &str,
        reason: &str,
        now: u64,
    ) -> PkiResult<Vec<String>> {
        let serials: Vec<String> =
            sqlx::query("SELECT serial FROM certificates WHERE device = ? AND revoked_at IS NULL")
                .bind(device)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|r| r.get(0))
                .collect();
        if serials.is_empty() {
            return Err(PkiError::NotFound(format!(
                "no unrevoked certificate for {device}"
            )));
        }
        for s in &serials {
            self.revoke(s, reason, now).await?;
        }
        Ok(serials)
    }

    /// A CRL (PEM) of every revoked certificate not yet expired, valid for `valid` from `now`.
    pub async fn crl(&self, now: u64, valid: Duration) -> PkiResult<String> {
        let rows = sqlx::query(
            "SELECT serial, revoked_at FROM certificates WHERE revoked_at IS NOT NULL AND not_after >= ?",
        )
        .bind(now as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut revoked = Vec::with_capacity(rows.len());
        for r in rows {
            let serial: String = r.get(0);
            let bytes = hex::decode(&serial)
                .map_err(|e| PkiError::Malformed(format!("a stored serial: {e}")))?;
            revoked.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&bytes),
                revocation_time: at(r.get::<i64, _>(1) as u64)?,
                reason_code: None,
                invalidity_date: None,
            });
        }
        let n: i64 = sqlx::query_scalar("UPDATE crl_number SET n = n + 1 WHERE id = 1 RETURNING n")
            .fetch_one(&self.pool)
            .await?;
        let params = CertificateRevocationListParams {
            this_update: at(now.saturating_sub(60))?,
            next_update: at(now + valid.as_secs())?,
            crl_number: SerialNumber::from_slice(&n.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs: revoked,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
    }

    /// Writes a fresh CRL to `ca.crl` in the CA's directory; returns its path.
    pub async fn write_crl(&self, now: u64, valid: Duration) -> PkiResult<PathBuf> {
        let pem = self.crl(now, valid).await?;
        let path = self.dir.join("ca.crl");
        let tmp = self.dir.join("ca.crl.tmp");
        std::fs::write(&tmp, pem).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(path)
    }

    /// The certificates issued: `(serial, device, not_after, revoked)`.
    pub async fn certificates(&self) -> PkiResult<Vec<(String, String, u64, bool)>> {
        Ok(sqlx::query(
            "SELECT serial, device, not_after, revoked_at IS NOT NULL FROM certificates ORDER BY issued_at, serial",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get::<i64, _>(2) as u64, r.get(3)))
        .collect())
    }

    /// A server certificate for a service of this deployment (a gateway's CSMS, the EST
    /// server, a node), issued for `names` (DNS names or IP addresses): `(chain PEM — the
    /// certificate then the CA —, PKCS#8 key PEM)`.
    pub fn issue_server(&self, names: &[&str], now: u64) -> PkiResult<(String, String)> {
        let key = KeyPair::generate()?;
        let mut params =
            CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("sealgrid"),
        );
        params.not_before = at(now.saturating_sub(300))?;
        params.not_after = at(now + self.validity.as_secs())?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((
            format!("{}{}", cert.pem(), self.ca_pem),
            key.serialize_pem(),
        ))
    }

    /// A TLS server config for a service of this deployment (a certificate from
    /// [`Self::issue_server`]), verifying client certificates of this CA against the current
    /// CRL; clients without a certificate may connect when `optional_clients`.
    pub async fn server_config(
        &self,
        names: &[&str],
        optional_clients: bool,
        now: u64,
    ) -> PkiResult<Arc<rustls::ServerConfig>> {
        use rustls::pki_types::pem::PemObject as _;
        let (chain, key) = self.issue_server(names, now)?;
        let chain = CertificateDer::pem_slice_iter(chain.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PkiError::Tls(e.to_string()))?;
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes())
            .map_err(|e| PkiError::Tls(e.to_string()))?;
        let crl = self.crl(now, Duration::from_secs(7 * 86_400)).await?;
        let crl = rustls::pki_types::CertificateRevocationListDer::from_pem_slice(crl.as_bytes())
            .map_err(|e| PkiError::Tls(format!("a CRL: {e}")))?;
        server_config(
            chain,
            key,
            vec![CertificateDer::from(self.ca_der.clone())],
            vec![crl],
            optional_clients,
        )
    }
}

/// The crypto provider (ring; see the gateway's `tls` module).
#[allow(deprecated)]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS server config with `chain`/`key`. With `client_cas`, client certificates from those
/// CAs are verified against `crls` (a revoked client is refused in the handshake), and clients
/// without one may still connect when `optional_clients`; without, no client certificates.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
    client_cas: Vec<CertificateDer<'static>>,
    crls: Vec<rustls::pki_types::CertificateRevocationListDer<'static>>,
    optional_clients: bool,
) -> PkiResult<Arc<rustls::ServerConfig>> {
    let tls = |e: &dyn std::fmt::Display| PkiError::Tls(e.to_string());
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(&e))?;
    let builder = if client_cas.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for c in client_cas {
            roots.add(c).map_err(|e| tls(&e))?;
        }
        let mut v = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .with_crls(crls);
        if optional_clients {
            v = v.allow_unauthenticated();
        }
        builder.with_client_cert_verifier(v.build().map_err(|e| tls(&e))?)
    };
    let config = builder.with_single_cert(chain, key).map_err(|e| tls(&e))?;
    Ok(Arc::new(config))
}

/// A device's side of enrolment: a fresh P-256 key (PKCS#8 PEM) and a CSR (DER) for it.
pub fn device_csr(device: &str) -> PkiResult<(String, Vec<u8>)> {
    check_identity(device)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec![device.to_owned()])?;
    params.distinguished_name.push(DnType::CommonName, device);
    let csr = params.serialize_request(&key)?;
    Ok((key.serialize_pem(), csr.der().to_vec()))
}

/// `der` as a PEM block with `label` (e.g. `CERTIFICATE`).
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
