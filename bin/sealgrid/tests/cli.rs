//! The `sealgrid` binary as an operator runs it.

#![allow(missing_docs)]

use std::{io::Write, process::Command};

fn sealgrid(args: &[&str], stdin: &str) -> (i32, String, String) {
    sealgrid_with_env(args, stdin, &[])
}

/// [`sealgrid`] with environment variables (keys come from the environment, never argv).
fn sealgrid_with_env(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealgrid"))
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run sealgrid");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn clear_prints_the_result_of_a_book() {
    let book = r#"{"orders":[
        {"side":"buy","quantity_wh":40000,"limit_price":120000},
        {"side":"buy","quantity_wh":25000,"limit_price":90000},
        {"side":"sell","quantity_wh":30000,"limit_price":60000},
        {"side":"sell","quantity_wh":50000,"limit_price":100000}]}"#;
    let (code, out, err) = sealgrid(&["clear", "-"], book);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        r#"{"cleared":true,"price":110000,"volume":40000,"fills":[40000,0,30000,10000]}"#
    );
}

#[test]
fn clear_of_a_book_that_does_not_cross() {
    let book = r#"{"orders":[{"side":"buy","quantity_wh":5,"limit_price":-10},{"side":"sell","quantity_wh":5,"limit_price":10}]}"#;
    let (code, out, _) = sealgrid(&["clear", "-"], book);
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        r#"{"cleared":false,"price":null,"volume":0,"fills":[0,0]}"#
    );
}

#[test]
fn clear_rejects_bad_books_with_a_clear_error() {
    for (book, needle) in [
        ("{\"orders\": [", "line 1"),
        (
            r#"{"orders":[{"side":"hold","quantity_wh":1,"limit_price":1}]}"#,
            "hold",
        ),
        (
            r#"{"orders":[{"side":"buy","quantity_wh":-1,"limit_price":1}]}"#,
            "-1",
        ),
        (
            r#"{"orders":[{"side":"buy","quantity_wh":1,"limit_price":1,"x":0}]}"#,
            "x",
        ),
        (
            r#"{"orders":[{"side":"buy","quantity_wh":1}]}"#,
            "limit_price",
        ),
    ] {
        let (code, out, err) = sealgrid(&["clear", "-"], book);
        assert_ne!(code, 0, "{book} must fail");
        assert!(out.is_empty(), "nothing on stdout for {book}");
        assert!(
            err.contains("not a valid book") && err.contains(needle),
            "{book}: {err}"
        );
    }
    let (code, _, err) = sealgrid(&["clear", "/nonexistent/book.json"], "");
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/book.json"), "{err}");
}

#[test]
fn order_commitment_matches_the_library() {
    let order = r#"{"trader":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8","market":"0x0000000000000000000000000000000000000000000000000000000000000007","interval":5,"side":0,"quantityWh":1000,"limitPrice":-20,"nonce":1,"salt":"0x0000000000000000000000000000000000000000000000000000000000000001"}"#;
    let dir = std::env::temp_dir().join(format!("sealgrid-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("order.json");
    std::fs::write(&file, order).expect("write");
    let (code, out, err) = sealgrid(&["order", "commitment", file.to_str().expect("path")], "");
    assert_eq!(code, 0, "{err}");
    let parsed: sealgrid_types::Order = serde_json::from_str(order).expect("order");
    let expected = sealgrid_types::order_commitment(&parsed).expect("commitment");
    assert_eq!(out.trim(), expected.to_string());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn prover_commands_list_capacities_make_parameters_and_refuse_bad_input() {
    let (code, out, err) = sealgrid(&["prover", "capacities"], "");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["16", "12", "12"]),
        "{out}"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("k4.srs");
    let path = file.to_str().expect("utf-8 path");
    let (code, out, err) = sealgrid(&["prover", "setup", "--k", "4", "--out", path], "");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("INSECURE"),
        "the insecure setup must say so: {err}"
    );
    assert_eq!(out.trim(), path);
    // k as u32, 2 x 16 G1 points of 64 bytes, 2 G2 points of 128 bytes
    assert_eq!(
        std::fs::metadata(&file).expect("written").len(),
        4 + 2 * 16 * 64 + 256
    );

    let (code, _, err) = sealgrid(&["prover", "setup"], "");
    assert_ne!(code, 0);
    assert!(err.contains("--capacity N or --k K"), "{err}");
    let (code, _, err) = sealgrid(&["prover", "export-verifier", "--capacity", "5"], "");
    assert_ne!(code, 0);
    assert!(err.contains("unsupported capacity 5"), "{err}");
    let (code, _, err) = sealgrid(
        &[
            "prover",
            "export-verifier",
            "--capacity",
            "4",
            "--params",
            path,
            "--out",
            "/dev/null",
        ],
        "",
    );
    assert_ne!(code, 0, "k = 4 parameters cannot serve the k = 15 circuit");
    assert!(err.contains("k = 4"), "{err}");
}

#[test]
fn deploy_refuses_bad_configs_and_missing_keys_before_touching_a_chain() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().expect("tmp");
    // A public network without a deployer key.
    let public = root.join("deploy/config/public-l2.toml");
    let (code, _, err) = sealgrid(
        &[
            "deploy",
            "--rpc",
            "http://127.0.0.1:9",
            "--config",
            public.to_str().expect("utf-8"),
        ],
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("SEALGRID_DEPLOYER_KEY"), "{err}");
    // An invalid config names its field.
    let local = std::fs::read_to_string(root.join("deploy/config/local.toml")).expect("local");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        local.replace("settle_window_s = 240", "settle_window_s = 400"),
    )
    .expect("write");
    let (code, _, err) = sealgrid(
        &[
            "deploy",
            "--rpc",
            "http://127.0.0.1:9",
            "--config",
            bad.to_str().expect("utf-8"),
        ],
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("settle_window_s"), "{err}");
    // A missing config file.
    let (code, _, err) = sealgrid(
        &[
            "deploy",
            "--rpc",
            "http://127.0.0.1:9",
            "--config",
            "/nonexistent.toml",
        ],
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent.toml"), "{err}");
}

#[test]
fn demo_and_devnet_refuse_bad_arguments() {
    for (args, needle) in [
        (&["demo", "--sites", "0"][..], "--sites"),
        (&["demo", "--sites", "500"][..], "--sites"),
        (&["demo", "--intervals", "0"][..], "--intervals"),
        (&["demo", "--start-hour", "25"][..], "--start-hour"),
    ] {
        let (code, _, err) = sealgrid(args, "");
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let public = root.join("deploy/config/public-l2.toml");
    let (code, _, err) = sealgrid(&["devnet", "--config", public.to_str().expect("utf-8")], "");
    assert_ne!(code, 0);
    assert!(err.contains("local network"), "{err}");
}

#[test]
fn meter_sign_produces_a_reading_the_gateway_signed() {
    let key = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba";
    let meter = "0x0e6fd89646305c8099381351e12e6f0b8d03b8b05aac82e2cb1354914b5bd84b";
    let contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    let args = [
        "meter",
        "sign",
        "--meter",
        meter,
        "--interval",
        "5900000",
        "--import-wh",
        "1234",
        "--export-wh",
        "5678",
        "--quality",
        "estimated",
        "--revision",
        "2",
        "--chain-id",
        "31337",
        "--contract",
        contract,
        "--key",
        "env:SEALGRID_GATEWAY_KEY",
    ];
    let env = [("SEALGRID_GATEWAY_KEY", key)];
    let (code, out, err) = sealgrid_with_env(&args, "", &env);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    // The shared vector (viem) for exactly this reading and domain.
    let vectors: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../contracts/test/vectors/eip712.json"),
        )
        .expect("vectors"),
    )
    .expect("vectors json");
    assert_eq!(v["signer"], vectors["meterReading"]["signer"]);
    assert_eq!(v["digest"], vectors["meterReading"]["digest"]);
    assert_eq!(
        v["signature"], vectors["meterReading"]["signature"],
        "deterministic (RFC 6979) signature"
    );
    assert_eq!(v["reading"]["quality"], 1);
    assert_eq!(v["reading"]["revision"], 2);
    // Recovered with the project's own verifier.
    let reading: sealgrid_types::MeterReading =
        serde_json::from_value(v["reading"].clone()).expect("reading");
    let sig = alloy_primitives::hex::decode(v["signature"].as_str().expect("sig")).expect("hex");
    let domain = sealgrid_types::sealgrid_domain(31337, contract.parse().expect("address"));
    let signer = sealgrid_types::recover_struct_signer(&reading, &domain, &sig).expect("recover");
    assert_eq!(signer.to_string(), v["signer"].as_str().expect("signer"));

    for (bad, needle) in [
        (["--import-wh", "281474976710656"], "out of range"),
        (["--quality", "guessed"], "guessed"),
        (
            [
                "--meter",
                "0x0000000000000000000000000000000000000000000000000000000000000000",
            ],
            "zero",
        ),
        // A key in argv is refused (keys come from a keystore, a token or, on a devnet, the
        // environment); so is a raw environment key for a chain that is not anvil's devnet.
        (["--key", key], "argv"),
        (
            ["--key", "keystore:/nonexistent/gateway.json"],
            "SEALGRID_KEYSTORE_PASSWORD",
        ),
        (["--chain-id", "10"], "local devnet"),
    ] {
        let mut a: Vec<&str> = args.to_vec();
        let at = a.iter().position(|x| *x == bad[0]).expect("flag");
        a[at + 1] = bad[1];
        let (code, _, err) = sealgrid_with_env(&a, "", &env);
        assert_ne!(code, 0, "{bad:?}");
        assert!(err.contains(needle), "{bad:?}: {err}");
    }
}

#[test]
fn matcher_serve_wants_the_sponsor_key_with_a_paymaster() {
    let (code, _, err) = sealgrid(
        &[
            "matcher",
            "serve",
            "--auction",
            "0x0000000000000000000000000000000000000001",
            "--market",
            "0x0000000000000000000000000000000000000000000000000000000000000002",
            "--operator-key",
            "0x01",
            "--paymaster",
            "0x0000000000000000000000000000000000000003",
        ],
        "",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--sponsor-key"), "{err}");
}

#[test]
fn deploy_refuses_raw_and_token_deployer_keys_off_a_local_network_naming_the_keystore() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let public = root.join("deploy/config/public-l2.toml");
    let public = public.to_str().expect("utf-8");
    let args = ["deploy", "--rpc", "http://127.0.0.1:9", "--config", public];
    let key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
    // The raw key in $SEALGRID_DEPLOYER_KEY: refused, naming the keystore option.
    let (code, _, err) = sealgrid_with_env(&args, "", &[("SEALGRID_DEPLOYER_KEY", key)]);
    assert_ne!(code, 0);
    assert!(err.contains("SEALGRID_DEPLOYER_KEY"), "{err}");
    assert!(err.contains("keystore:PATH"), "{err}");
    assert!(!err.contains(&key[2..]), "the key is not echoed: {err}");
    // Even with a keystore spec beside it: a raw key in the environment is refused there.
    let spec = ["--deployer-key", "keystore:/nonexistent.json"];
    let (code, _, err) = sealgrid_with_env(
        &[&args[..], &spec[..]].concat(),
        "",
        &[("SEALGRID_DEPLOYER_KEY", key)],
    );
    assert_ne!(code, 0);
    assert!(err.contains("keystore:PATH"), "{err}");
    // A raw env: spec off a local network.
    let (code, _, err) = sealgrid_with_env(
        &[&args[..], &["--deployer-key", "env:MY_KEY"][..]].concat(),
        "",
        &[("MY_KEY", key)],
    );
    assert_ne!(code, 0);
    assert!(err.contains("MY_KEY"), "{err}");
    // A PKCS#11 token cannot sign the forge script: the keystore is named.
    let (code, _, err) = sealgrid(
        &[
            &args[..],
            &[
                "--deployer-key",
                "pkcs11:/usr/lib/softhsm/libsofthsm2.so?token=ops&key=deployer",
            ][..],
        ]
        .concat(),
        "",
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("PKCS#11") && err.contains("keystore:PATH"),
        "{err}"
    );
    // A key itself in place of a spec never gets through argv.
    let (code, _, err) = sealgrid(&[&args[..], &["--deployer-key", key][..]].concat(), "");
    assert_ne!(code, 0);
    assert!(!err.contains(&key[2..]), "the key is not echoed: {err}");
    // The help says where the key comes from.
    let (code, out, _) = sealgrid(&["deploy", "--help"], "");
    assert_eq!(code, 0);
    assert!(
        out.contains("--deployer-key") && out.contains("keystore:PATH") && out.contains("[rpc]"),
        "{out}"
    );
}
