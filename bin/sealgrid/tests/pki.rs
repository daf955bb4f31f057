//! `sealgrid pki` end to end: a CA created, a token issued to a file, the EST server run, a
//! device enrolled with the token (its key and certificate written), the token refused a
//! second time, the device revoked with the CRL written, and bad invocations refused with a
//! message.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::{
    io::{BufRead as _, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn sealgrid() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sealgrid"))
}

fn ok(c: &mut Command) -> String {
    let out = c.output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(c: &mut Command, needle: &str) {
    let out = c.output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(needle),
        "{needle:?} in {err}"
    );
}

#[test]
fn a_device_enrols_through_the_cli_and_is_revoked() {
    let tmp = tempfile::tempdir().expect("tmp");
    let ca = tmp.path().join("ca");
    let p = |name: &str| tmp.path().join(name).display().to_string();
    let ca_s = ca.display().to_string();
    ok(sealgrid().args(["pki", "init", "--dir", &ca_s, "--name", "cli test"]));
    fails(
        sealgrid().args(["pki", "init", "--dir", &ca_s]),
        "already holds a CA",
    );
    ok(sealgrid().args([
        "pki",
        "token",
        "--dir",
        &ca_s,
        "--device",
        "CS-0042",
        "--out",
        &p("t"),
    ]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(p("t")).expect("t").permissions().mode();
        assert_eq!(mode & 0o077, 0, "the token file is private");
    }
    fails(
        sealgrid().args([
            "pki",
            "token",
            "--dir",
            &ca_s,
            "--device",
            "bad/name",
            "--out",
            &p("t2"),
        ]),
        "must be 1 to 63",
    );

    // The EST server on a free port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let addr = format!("127.0.0.1:{port}");
    let mut server = sealgrid()
        .args(["pki", "serve", "--dir", &ca_s, "--listen", &addr])
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut err = BufReader::new(server.stderr.take().expect("stderr"));
    let t = Instant::now();
    let mut line = String::new();
    while !line.contains("listening") {
        line.clear();
        assert!(
            err.read_line(&mut line).expect("read") > 0,
            "the server exited"
        );
        assert!(t.elapsed() < Duration::from_secs(30));
    }
    let ca_pem = ca.join("ca.pem").display().to_string();
    let enrol = |key: &str, cert: &str| {
        let mut c = sealgrid();
        c.args([
            "pki",
            "enrol",
            "--est",
            &addr,
            "--ca",
            &ca_pem,
            "--device",
            "CS-0042",
            "--token-file",
            &p("t"),
            "--key-out",
            &p(key),
            "--cert-out",
            &p(cert),
        ]);
        c
    };
    ok(&mut enrol("d.key", "d.pem"));
    let cert = std::fs::read_to_string(p("d.pem")).expect("cert");
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
    // The token is spent.
    fails(&mut enrol("d2.key", "d2.pem"), "token refused");
    assert!(
        !tmp.path().join("d2.key").exists(),
        "nothing written on a refusal"
    );
    let _ = server.kill();
    let _ = server.wait();

    let list = ok(sealgrid().args(["pki", "list", "--dir", &ca_s]));
    let rows: Vec<serde_json::Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["device"], "CS-0042");
    assert_eq!(rows[0]["revoked"], false);
    let revoked = ok(sealgrid().args(["pki", "revoke", "--dir", &ca_s, "--device", "CS-0042"]));
    assert_eq!(revoked.trim(), rows[0]["serial"].as_str().expect("serial"));
    assert!(ca.join("ca.crl").exists());
    fails(
        sealgrid().args(["pki", "revoke", "--dir", &ca_s, "--device", "CS-0042"]),
        "no unrevoked certificate",
    );
    let list = ok(sealgrid().args(["pki", "list", "--dir", &ca_s]));
    assert!(list.contains("\"revoked\":true"), "{list}");
}
