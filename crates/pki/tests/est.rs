//! The device PKI end to end on loopback: a CA, tokens, EST simple enrolment over TLS, a device
//! certificate used for mutual TLS, revocation refusing it in the handshake, and every bad
//! enrolment refused with nothing issued.

use std::{sync::Arc, time::Duration};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use sealgrid_pki::{Pki, PkiError, device_csr, est};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// An EST server for `pki` on a free port.
async fn est_server(pki: Arc<Pki>) -> std::net::SocketAddr {
    let tls = pki
        .server_config(&["127.0.0.1"], true, now())
        .await
        .expect("server config");
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(est::serve_tls(
        l,
        tls,
        est::router(pki),
        std::future::pending(),
    ));
    addr
}

/// A TLS server requiring client certificates of `pki`'s CA (its CRL as of now); it writes
/// "ok" to every client that completes the handshake.
async fn mtls_server(pki: &Pki) -> std::net::SocketAddr {
    let tls = pki
        .server_config(&["127.0.0.1"], false, now())
        .await
        .expect("server config");
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut s) = acceptor.accept(tcp).await {
                    let _ = s.write_all(b"ok").await;
                    let _ = s.shutdown().await;
                }
            });
        }
    });
    addr
}

/// Whether a client with `identity` completes a handshake with `addr` and reads "ok".
async fn handshake(
    ca: &[u8],
    addr: std::net::SocketAddr,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> bool {
    let config = est::client_config(ca, identity).expect("client config");
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let Ok(mut s) = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
    else {
        return false;
    };
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.is_ok() && buf == b"ok"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_enrols_over_est_uses_mtls_and_is_refused_once_revoked() {
    let dir = tempfile::tempdir().expect("tmp");
    let pki = Arc::new(
        Pki::create(dir.path(), "sealgrid test deployment")
            .await
            .expect("ca"),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("ca.key"))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the CA key is private");
    }
    let est_addr = est_server(pki.clone()).await;
    let ca = pki.ca_der().to_vec();

    // cacerts gives the CA certificate.
    let req = axum::http::Request::get("/.well-known/est/cacerts")
        .header("host", "127.0.0.1")
        .body(String::new())
        .expect("req");
    let a = est::request(
        est::client_config(&ca, None).expect("cfg"),
        est_addr,
        "127.0.0.1",
        req,
    )
    .await
    .expect("cacerts");
    assert_eq!(a.status, 200);
    let der = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        String::from_utf8(a.body).expect("text").trim(),
    )
    .expect("base64");
    assert_eq!(
        sealgrid_pki::pkcs7::certificates(&der).expect("certs"),
        vec![ca.clone()]
    );

    // A token, a key and CSR made on the device, simple enrolment.
    let token = pki
        .issue_token("CS-0001", Duration::from_secs(3600), now())
        .await
        .expect("token");
    let (key_pem, csr) = device_csr("CS-0001").expect("csr");
    let cert = est::enrol(&ca, est_addr, "127.0.0.1", "CS-0001", &token, &csr)
        .await
        .expect("enrolled");
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key");
    let identity = || (vec![CertificateDer::from(cert.clone())], key.clone_key());
    // The certificate names the device.
    let cert_der = CertificateDer::from(cert.clone());
    let ee = webpki::EndEntityCert::try_from(&cert_der).expect("cert");
    ee.verify_is_valid_for_subject_name(
        &rustls::pki_types::ServerName::try_from("CS-0001").expect("name"),
    )
    .expect("named for the device");

    // Mutual TLS: with the certificate in, without it out.
    let server = mtls_server(&pki).await;
    assert!(
        handshake(&ca, server, Some(identity())).await,
        "the enrolled device connects"
    );
    assert!(
        !handshake(&ca, server, None).await,
        "no certificate, no connection"
    );
    // A certificate from another CA is refused too.
    let other_dir = tempfile::tempdir().expect("tmp");
    let other = Pki::create(other_dir.path(), "another").await.expect("ca");
    let t2 = other
        .issue_token("CS-0001", Duration::from_secs(60), now())
        .await
        .expect("t");
    let (k2, c2) = device_csr("CS-0001").expect("csr");
    let foreign = other
        .enrol("CS-0001", &t2, &c2, now())
        .await
        .expect("issued");
    let foreign_id = (
        vec![CertificateDer::from(foreign.der)],
        PrivateKeyDer::from_pem_slice(k2.as_bytes()).expect("key"),
    );
    assert!(
        !handshake(&ca, server, Some(foreign_id)).await,
        "another CA's device"
    );

    // Revoked: a server built with the new CRL refuses it in the handshake.
    let serials = pki
        .revoke_device("CS-0001", "key compromise", now())
        .await
        .expect("revoke");
    assert_eq!(serials.len(), 1);
    let after = mtls_server(&pki).await;
    assert!(
        !handshake(&ca, after, Some(identity())).await,
        "a revoked device is refused"
    );
    let listed = pki.certificates().await.expect("list");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].3, "recorded as revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_enrolments_are_refused_and_nothing_is_issued() {
    let dir = tempfile::tempdir().expect("tmp");
    let pki = Arc::new(Pki::create(dir.path(), "t").await.expect("ca"));
    let est_addr = est_server(pki.clone()).await;
    let ca = pki.ca_der().to_vec();
    let t = now();
    let token = pki
        .issue_token("CS-0002", Duration::from_secs(600), t)
        .await
        .expect("token");
    let (_, csr) = device_csr("CS-0002").expect("csr");

    // Wrong token, another device's name, no token: 401 over EST.
    for (device, tok) in [("CS-0002", "sgt_nope"), ("CS-0003", token.as_str())] {
        let e = est::enrol(&ca, est_addr, "127.0.0.1", device, tok, &csr).await;
        assert!(matches!(e, Err(PkiError::Token(_))), "{device}: {e:?}");
    }
    // A tampered CSR (its signature no longer verifies) and garbage: 400.
    let mut tampered = csr.clone();
    let n = tampered.len();
    tampered[n - 3] ^= 0x55;
    for bad in [tampered, b"not a csr".to_vec()] {
        let e = est::enrol(&ca, est_addr, "127.0.0.1", "CS-0002", &token, &bad).await;
        assert!(matches!(e, Err(PkiError::Csr(_))), "{e:?}");
    }
    // An expired token.
    let e = pki.enrol("CS-0002", &token, &csr, t + 601).await;
    assert!(
        matches!(e, Err(PkiError::Token("the token expired"))),
        "{e:?}"
    );
    // Bad identities are refused when the token is made.
    for bad in ["", "-x", "a/b", "has space", &"x".repeat(64)] {
        assert!(matches!(
            pki.issue_token(bad, Duration::from_secs(1), t).await,
            Err(PkiError::Identity(_))
        ));
    }
    assert!(
        pki.certificates().await.expect("list").is_empty(),
        "nothing issued"
    );

    // Two enrolments racing on one token: one certificate.
    let (_, csr2) = device_csr("CS-0002").expect("csr");
    let (a, b) = tokio::join!(
        pki.enrol("CS-0002", &token, &csr, t),
        pki.enrol("CS-0002", &token, &csr2, t)
    );
    assert_eq!(
        usize::from(a.is_ok()) + usize::from(b.is_ok()),
        1,
        "{a:?} {b:?}"
    );
    // And the spent token stays spent.
    let again = est::enrol(&ca, est_addr, "127.0.0.1", "CS-0002", &token, &csr).await;
    assert!(matches!(again, Err(PkiError::Token(_))), "{again:?}");
    assert_eq!(pki.certificates().await.expect("list").len(), 1);
}
