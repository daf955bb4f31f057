//! TLS for the gateway's device side (rustls on ring): the CSMS's server config from PEM files
//! (the gateway's certificate chain and key, and — for Security Profile 3 — the deployment's
//! device CA and its revocation lists: a station whose certificate is revoked is refused in the
//! handshake), and the names a device certificate is issued for.

use std::{path::Path, sync::Arc};

use rustls::{
    ServerConfig,
    pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, pem::PemObject},
};

use crate::{GatewayError, GatewayResult};

fn err(what: &str, path: &Path, e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Config(format!("{what} {}: {e}", path.display()))
}

/// The certificates of a PEM file.
pub fn certificates(path: &Path) -> GatewayResult<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err("reading certificates", path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err("reading certificates", path, e))?;
    if certs.is_empty() {
        return Err(err(
            "reading certificates",
            path,
            "no CERTIFICATE in the file",
        ));
    }
    Ok(certs)
}

/// The CSMS's TLS config: `cert`/`key` (PEM) for the gateway; with `client_ca`, client
/// certificates from that CA are verified (and refused when on one of `crls`), while a station
/// without a certificate may still connect and authenticate with Basic credentials. Built by
/// [`sealgrid_pki::server_config`] (rustls on ring).
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
    crls: &[&Path],
) -> GatewayResult<Arc<ServerConfig>> {
    let chain = certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| err("reading the key", key, e))?;
    let client_cas = match client_ca {
        Some(ca) => certificates(ca)?,
        None => Vec::new(),
    };
    let mut lists = Vec::new();
    for p in crls {
        let l = CertificateRevocationListDer::pem_file_iter(p)
            .map_err(|e| err("reading revocation lists", p, e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err("reading revocation lists", p, e))?;
        lists.extend(l);
    }
    sealgrid_pki::server_config(chain, key, client_cas, lists, true)
        .map_err(|e| GatewayError::Config(format!("TLS: {e}")))
}

/// Whether a (verified) device certificate is issued for `identity`: a station's
/// certificate names its OCPP identity as a DNS subject alternative name (so Security
/// Profile 3 needs identities that are DNS labels, e.g. `CS-0042`).
pub fn certificate_is_for(der: &[u8], identity: &str) -> bool {
    let cert = CertificateDer::from(der);
    let Ok(ee) = webpki::EndEntityCert::try_from(&cert) else {
        return false;
    };
    let Ok(name) = rustls::pki_types::ServerName::try_from(identity) else {
        return false;
    };
    ee.verify_is_valid_for_subject_name(&name).is_ok()
}
