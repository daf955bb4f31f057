//! EST (RFC 7030) for the deployment's devices, the parts a device needs: `GET
//! /.well-known/est/cacerts` (§4.1: the CA certificate, certs-only PKCS#7, Base64) and `POST
//! /.well-known/est/simpleenroll` (§4.2.1: a Base64 PKCS#10 CSR in, the issued certificate
//! out), over TLS, authenticated by HTTP Basic (§3.2.3) with the device identity as the user
//! and its one-time enrolment token as the password. `GET /crl` (not EST) serves the current
//! CRL, PEM.
//!
//! Refusals: a missing or refused token is `401` with `WWW-Authenticate: Basic`; a CSR that is
//! not Base64 DER, does not verify, or is not on P-256 is `400`; anything else `500`. The body
//! of a refusal says why in one line.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::{TcpListener, TcpStream};

use crate::{Pki, PkiError, PkiResult, pkcs7, provider};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The largest request body (a CSR is well under 2 KiB).
pub const MAX_BODY: usize = 16 * 1024;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The EST routes over `pki`.
pub fn router(pki: Arc<Pki>) -> Router {
    Router::new()
        .route("/.well-known/est/cacerts", get(cacerts))
        .route("/.well-known/est/simpleenroll", post(simpleenroll))
        .route("/crl", get(crl))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(pki)
}

fn pkcs7_response(certs: &[Vec<u8>]) -> Response {
    let body = B64.encode(pkcs7::certs_only(certs));
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "application/pkcs7-mime; smime-type=certs-only",
            ),
            (
                header::HeaderName::from_static("content-transfer-encoding"),
                "base64",
            ),
        ],
        body,
    )
        .into_response()
}

async fn cacerts(State(pki): State<Arc<Pki>>) -> Response {
    pkcs7_response(&[pki.ca_der().to_vec()])
}

async fn crl(State(pki): State<Arc<Pki>>) -> Response {
    match pki.crl(unix_now(), Duration::from_secs(7 * 86_400)).await {
        Ok(pem) => ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response(),
        Err(e) => refuse(&e),
    }
}

fn refuse(e: &PkiError) -> Response {
    let status = match e {
        PkiError::Token(_) => StatusCode::UNAUTHORIZED,
        PkiError::Csr(_) | PkiError::Identity(_) | PkiError::Malformed(_) => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut r = (status, format!("{e}\n")).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"sealgrid-est\""),
        );
    }
    r
}

/// `(user, password)` of an HTTP Basic `Authorization` header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b = v.strip_prefix("Basic ")?;
    let text = String::from_utf8(B64.decode(b.trim()).ok()?).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

async fn simpleenroll(State(pki): State<Arc<Pki>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some((device, token)) = basic(&headers) else {
        return refuse(&PkiError::Token("no Basic credentials"));
    };
    let text: String = String::from_utf8_lossy(&body)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let Ok(csr) = B64.decode(text.as_bytes()) else {
        return refuse(&PkiError::Csr("the body is not Base64".into()));
    };
    match pki.enrol(&device, &token, &csr, unix_now()).await {
        Ok(issued) => pkcs7_response(&[issued.der]),
        Err(e) => {
            tracing::warn!(%device, error = %e, "enrolment refused");
            refuse(&e)
        }
    }
}

/// Serves `router` over TLS on `listener` until `shutdown`.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let accept = async {
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let (acceptor, router) = (acceptor.clone(), router.clone());
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp))
                    .await
                {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::warn!(%peer, error = %e, "TLS handshake refused");
                        return;
                    }
                    Err(_) => return,
                };
                let service = hyper_util::service::TowerToHyperService::new(router);
                if let Err(e) = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await
                {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
            });
        }
    };
    tokio::select! {
        () = accept => {},
        () = shutdown => {},
    }
}

/// What an EST server answered.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// A TLS client config trusting `ca_der` only, presenting `identity` (chain, key) if given.
pub fn client_config(
    ca_der: &[u8],
    identity: Option<(
        Vec<CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    )>,
) -> PkiResult<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_der.to_vec()))
        .map_err(|e| PkiError::Tls(e.to_string()))?;
    let b = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| PkiError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let config = match identity {
        None => b.with_no_client_auth(),
        Some((chain, key)) => b
            .with_client_auth_cert(chain, key)
            .map_err(|e| PkiError::Tls(e.to_string()))?,
    };
    Ok(Arc::new(config))
}

/// One HTTPS request to `addr` (the certificate must name `host`).
pub async fn request(
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    host: &str,
    req: axum::http::Request<String>,
) -> PkiResult<Answer> {
    let err = |e: &dyn std::fmt::Display| PkiError::Tls(e.to_string());
    let tcp = TcpStream::connect(addr).await.map_err(|e| err(&e))?;
    let name = ServerName::try_from(host.to_owned()).map_err(|e| err(&e))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| err(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| err(&e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender.send_request(req).await.map_err(|e| err(&e))?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| err(&e))?
        .to_bytes()
        .to_vec();
    Ok(Answer { status, body })
}

/// A device's EST simple enrolment at the server `addr` (named `host` in its certificate,
/// trusted through `ca_der`): the issued certificate (DER), or the server's refusal.
pub async fn enrol(
    ca_der: &[u8],
    addr: SocketAddr,
    host: &str,
    device: &str,
    token: &str,
    csr_der: &[u8],
) -> PkiResult<Vec<u8>> {
    let req = axum::http::Request::post("/.well-known/est/simpleenroll")
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "application/pkcs10")
        .header("Content-Transfer-Encoding", "base64")
        .header(
            header::AUTHORIZATION,
            format!("Basic {}", B64.encode(format!("{device}:{token}"))),
        )
        .body(B64.encode(csr_der))
        .map_err(|e| PkiError::Malformed(e.to_string()))?;
    let a = request(client_config(ca_der, None)?, addr, host, req).await?;
    let text = String::from_utf8_lossy(&a.body);
    match a.status {
        200 => {
            let der = B64
                .decode(
                    text.chars()
                        .filter(|c| !c.is_whitespace())
                        .collect::<String>(),
                )
                .map_err(|e| PkiError::Malformed(format!("the answer is not Base64: {e}")))?;
            pkcs7::certificates(&der)?
                .into_iter()
                .next()
                .ok_or_else(|| PkiError::Malformed("no certificate in the answer".into()))
        }
        401 => Err(PkiError::Token("refused by the EST server")),
        400 => Err(PkiError::Csr(text.trim().to_owned())),
        s => Err(PkiError::Malformed(format!(
            "EST server answered {s}: {}",
            text.trim()
        ))),
    }
}
