//! `sealgrid deploy` and `sealgrid devnet` as an operator runs them, against a real anvil.

#![allow(missing_docs)]

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

mod common;

use common::{Killed, anvil, deploy_command, free_port, http, root, rpc, small_config};

/// forge runs share `out/`, `cache/` and `broadcast/`: one test at a time.
static FORGE: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn deploy_writes_a_record_of_live_contracts() {
    let _one = FORGE.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let chain_id = 50_000 + u64::from(port);
    let _anvil = anvil(port, chain_id);
    let config = small_config(dir.path(), chain_id);
    let record = dir.path().join("record.json");
    let out = deploy_command(port, &config, &record)
        .env_remove("SEALGRID_DEPLOYER_KEY")
        .output()
        .expect("sealgrid deploy");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("INSECURE"),
        "the devnet parameters are announced as insecure: {err}"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).expect("record")).expect("json");
    assert_eq!(r["chain_id"], chain_id);
    assert_eq!(r["kind"], "local");
    for key in [
        "auction",
        "intents",
        "token",
        "clearing_verifier",
        "timelock",
    ] {
        let code = rpc(port, "eth_getCode", serde_json::json!([r[key], "latest"]));
        assert!(code.as_str().is_some_and(|c| c.len() > 2), "{key} has code");
    }
    for key in ["registry", "settlement", "certificates"] {
        let code = rpc(
            port,
            "eth_getCode",
            serde_json::json!([r["delivery"][key], "latest"]),
        );
        assert!(
            code.as_str().is_some_and(|c| c.len() > 2),
            "delivery {key} has code"
        );
    }
    let accounts = &r["accounts"];
    let (entry_point, paymaster, factory) = (
        &accounts["entry_point"],
        &accounts["paymaster"],
        &accounts["account_factory"],
    );
    assert_eq!(
        entry_point.as_str().map(str::to_lowercase).as_deref(),
        Some("0x4337084d9e255ff0702461cf8895ce9e3b5ff108"),
        "the canonical EntryPoint"
    );
    for a in [entry_point, paymaster, factory] {
        let code = rpc(port, "eth_getCode", serde_json::json!([a, "latest"]));
        assert!(code.as_str().is_some_and(|c| c.len() > 2), "{a} has code");
    }
    // The paymaster's owner is the timelock from deployment on (nothing pending, the deployer
    // keeps nothing); the operator registers participants.
    let word = |selector: &str| {
        let r = rpc(
            port,
            "eth_call",
            serde_json::json!([{"to": paymaster, "data": selector}, "latest"]),
        );
        let hex = r
            .as_str()
            .unwrap_or_else(|| panic!("{selector}: {r}"))
            .to_lowercase();
        format!("0x{}", &hex[hex.len() - 40..])
    };
    let lower = |v: &serde_json::Value| v.as_str().map(str::to_lowercase).unwrap_or_default();
    assert_eq!(
        word("0x8da5cb5b"),
        lower(&r["timelock"]),
        "owner() is the timelock"
    );
    assert_eq!(
        word("0xe30c3978"),
        format!("0x{}", "0".repeat(40)),
        "no ownership handover pending"
    );
    assert_eq!(
        word("0x2b20e397"),
        lower(&r["operator"]),
        "registrar() is the operator"
    );
    // The settlement report of an interval nobody settled yet: empty, from the record alone.
    let out = Command::new(env!("CARGO_BIN_EXE_sealgrid"))
        .args([
            "settle",
            "report",
            "--rpc",
            &format!("http://127.0.0.1:{port}"),
        ])
        .arg("--deployment")
        .arg(&record)
        .args(["--interval", "6000000"])
        .output()
        .expect("sealgrid settle report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no account is settled"), "{text}");
    assert!(
        text.contains(r["market"].as_str().expect("market")),
        "{text}"
    );
    let verifiers = r["verifiers"].as_array().expect("verifiers");
    assert_eq!(verifiers.len(), 2);
    let code_hash = |address: &serde_json::Value| {
        let code = rpc(port, "eth_getCode", serde_json::json!([address, "latest"]));
        let bytes = alloy_primitives::hex::decode(code.as_str().expect("code")).expect("hex");
        alloy_primitives::keccak256(&bytes).to_string()
    };
    for v in verifiers {
        assert_eq!(
            code_hash(&v["address"]),
            v["code_hash"].as_str().expect("hash"),
            "the record's code hash is the deployed verifier's"
        );
        // Every stage, the entry first, with the hash of its code on chain.
        let stages = v["stages"].as_array().expect("stages");
        assert_eq!(stages.len(), 2, "two stages per checked-in verifier");
        assert_eq!(stages[0]["address"], v["address"], "the entry first");
        assert_eq!(stages[0]["code_hash"], v["code_hash"]);
        for s in stages {
            assert_eq!(
                code_hash(&s["address"]),
                s["code_hash"].as_str().expect("stage hash"),
                "the record's hash of every stage is its code's on chain"
            );
        }
        assert_ne!(stages[0]["code_hash"], stages[1]["code_hash"]);
    }
    // A record whose stage 2 is tampered with (its address swapped for the other verifier's
    // stage 2) is refused at start-up, naming the stage; the same with a hash changed.
    let op_key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    let serve = |record: &Path| {
        Command::new(env!("CARGO_BIN_EXE_sealgrid"))
            .args(["matcher", "serve", "--rpc-url"])
            .arg(format!("http://127.0.0.1:{port}"))
            .arg("--deployment")
            .arg(record)
            // The key from the environment (a local network's record): never in argv.
            .env("SEALGRID_OPERATOR_KEY", op_key)
            .args(["--listen", "127.0.0.1:0"])
            .arg("--store")
            .arg(format!("sqlite:{}", dir.path().join("serve.db").display()))
            .env_remove("SEALGRID_CONFIG")
            .env("RUST_LOG", "warn")
            .output()
            .expect("sealgrid matcher serve")
    };
    let mut tampered = r.clone();
    let other = r["verifiers"][1]["stages"][1]["address"].clone();
    tampered["verifiers"][0]["stages"][1]["address"] = other;
    let bad = dir.path().join("tampered.json");
    std::fs::write(&bad, tampered.to_string()).expect("write");
    let out = serve(&bad);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a tampered record is refused: {err}");
    assert!(
        err.contains("stage 2 of the 4-slot verifier") && err.contains("tampered.json"),
        "the error names the stage and the record: {err}"
    );
    let mut tampered = r.clone();
    tampered["verifiers"][1]["code_hash"] = serde_json::json!(format!("0x{}", "ab".repeat(32)));
    tampered["verifiers"][1]["stages"][0]["code_hash"] =
        tampered["verifiers"][1]["code_hash"].clone();
    std::fs::write(&bad, tampered.to_string()).expect("write");
    let out = serve(&bad);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a tampered hash is refused: {err}");
    assert!(err.contains("stage 1 of the 16-slot verifier"), "{err}");
    // `matcher serve` takes the first block to index from the record: another is refused, and
    // a public network's record names no endpoint to default to.
    let out = Command::new(env!("CARGO_BIN_EXE_sealgrid"))
        .args(["matcher", "serve", "--rpc-url"])
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--deployment")
        .arg(&record)
        .args(["--start-block", "12345678", "--listen", "127.0.0.1:0"])
        .env("SEALGRID_OPERATOR_KEY", op_key)
        .env_remove("SEALGRID_CONFIG")
        .output()
        .expect("sealgrid matcher serve");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("contradicts the deployment record"), "{err}");
    let mut public = r.clone();
    public["kind"] = serde_json::json!("public");
    let public_path = dir.path().join("public.json");
    std::fs::write(&public_path, public.to_string()).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_sealgrid"))
        .args(["matcher", "serve", "--deployment"])
        .arg(&public_path)
        .args([
            "--operator-key",
            "keystore:/nonexistent",
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("ETH_RPC_URL")
        .env_remove("SEALGRID_CONFIG")
        .output()
        .expect("sealgrid matcher serve");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("--rpc-url or ETH_RPC_URL"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_sealgrid"))
        .args([
            "settle",
            "report",
            "--rpc",
            &format!("http://127.0.0.1:{port}"),
        ])
        .arg("--deployment")
        .arg(&bad)
        .args(["--interval", "6000000"])
        .output()
        .expect("sealgrid settle report");
    assert!(!out.status.success(), "settle report refuses it too");
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match the chain"));
    // A record whose clearing verifier is another deployment's (a second deployment on the same
    // chain: its verifiers and their stages are genuine) passes the code checks, but the
    // market settles through the first deployment's verifier: start-up refuses it.
    let record2 = dir.path().join("record2.json");
    let out = deploy_command(port, &config, &record2)
        .env_remove("SEALGRID_DEPLOYER_KEY")
        .output()
        .expect("second sealgrid deploy");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record2).expect("record2")).expect("json");
    assert_ne!(r2["clearing_verifier"], r["clearing_verifier"]);
    let mut spliced = r.clone();
    spliced["clearing_verifier"] = r2["clearing_verifier"].clone();
    spliced["verifiers"] = r2["verifiers"].clone();
    std::fs::write(&bad, spliced.to_string()).expect("write");
    let out = serve(&bad);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a record of another verifier is refused: {err}"
    );
    assert!(
        err.contains("not the deployment record's clearing verifier"),
        "the error names the verifier: {err}"
    );
    // `sealgrid node` takes everything from the record and the config: a flag that contradicts
    // them is refused before anything starts; without one it runs the whole market, delivery
    // included (its API documents the readings route).
    let node = |extra: &[&str], api: u16| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sealgrid"));
        c.args(["node", "--rpc-url", &format!("http://127.0.0.1:{port}")])
            .arg("--deployment")
            .arg(&record)
            .arg("--config")
            .arg(&config)
            .args(["--listen", &format!("127.0.0.1:{api}")])
            .arg("--store")
            .arg(format!("sqlite:{}", dir.path().join("node.db").display()))
            .args(extra)
            .env("SEALGRID_OPERATOR_KEY", op_key)
            .env("RUST_LOG", "warn");
        c
    };
    for (extra, needle) in [
        (
            vec!["--auction", "0x0000000000000000000000000000000000000001"],
            "contradicts the deployment record",
        ),
        (
            vec!["--confirmations", "99"],
            "contradicts the network config",
        ),
        (
            vec!["--start-block", "12345678"],
            "contradicts the deployment record",
        ),
        (vec!["--operator-key", op_key], "argv"),
    ] {
        let out = node(&extra, free_port()).output().expect("sealgrid node");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?} is refused");
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
    let api = free_port();
    let _node = Killed(
        node(&[], api)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sealgrid node"),
    );
    let started = std::time::Instant::now();
    let doc = loop {
        use std::io::{Read, Write};
        if let Ok(mut t) = std::net::TcpStream::connect(("127.0.0.1", api)) {
            let mut body = String::new();
            if t.write_all(b"GET /openapi.json HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n")
                .is_ok()
                && t.read_to_string(&mut body).is_ok()
                && body.starts_with("HTTP/1.1 200")
            {
                break body;
            }
        }
        assert!(
            started.elapsed().as_secs() < 120,
            "the node did not come up"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(doc.contains("\"/v1/readings\""), "{doc}");
    // The oracle signs an LMP feed and posts it to that node: accepted, then duplicates; a
    // key that is not the market's oracle is refused (exit non-zero, the code printed).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let start = (now / 300 - 3) * 300;
    let feed = dir.path().join("lmp.csv");
    std::fs::write(
        &feed,
        format!(
            "interval_start,node,lmp\n{start},TEST_PNODE,50.5\n{},TEST_PNODE,-3.25\n{start},OTHER,9\n",
            start + 300
        ),
    )
    .expect("feed");
    let oracle = |key: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sealgrid"))
            .args(["oracle", "post", "--pnode", "TEST_PNODE"])
            .arg("--deployment")
            .arg(&record)
            .arg("--feed")
            .arg(&feed)
            .args(["--node-url", &format!("http://127.0.0.1:{api}")])
            .args(extra)
            .env("ETH_RPC_URL", format!("http://127.0.0.1:{port}"))
            .env("SEALGRID_ORACLE_KEY", key)
            .output()
            .expect("sealgrid oracle post")
    };
    let oracle_key = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba";
    let out = oracle(oracle_key, &["--dry-run"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("dry run json");
    let prices: Vec<i64> = v["prices"]
        .as_array()
        .expect("prices")
        .iter()
        .map(|p| p["price"]["price"].as_i64().expect("price"))
        .collect();
    assert_eq!(prices, vec![50_500, -3_250], "{v}");
    // The token's decimals and the interval length come from the chain; a flag that
    // contradicts them is refused, and with both given nothing reads the chain (an offline
    // signer: an endpoint that does not answer changes nothing).
    let out = oracle(oracle_key, &["--dry-run", "--decimals", "18"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("contradicts the payment token's decimals() = 6"),
        "{err}"
    );
    let out = oracle(oracle_key, &["--dry-run", "--interval-length", "900"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("intervalLength() = 300"),
        "{err}"
    );
    let offline = oracle(
        oracle_key,
        &[
            "--dry-run",
            "--decimals",
            "6",
            "--interval-length",
            "300",
            "--rpc-url",
            "http://127.0.0.1:9",
        ],
    );
    assert!(
        offline.status.success(),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    let offline: serde_json::Value = serde_json::from_slice(&offline.stdout).expect("json");
    assert_eq!(offline, v, "offline signing gives the same signed prices");
    for want in ["accepted", "duplicate"] {
        let out = oracle(oracle_key, &[]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(text.matches(want).count(), 2, "{text}");
    }
    let out = oracle(
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        &[],
    );
    assert!(!out.status.success(), "another key's prices are refused");
    assert!(String::from_utf8_lossy(&out.stdout).contains("not_oracle"));
    // The meter desk's commands: register, show, rotate, revoke (the registrar is dev key 0).
    let meter_cmd = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sealgrid"))
            .arg("meter")
            .args(args)
            .arg("--deployment")
            .arg(&record)
            .args(["--rpc-url", &format!("http://127.0.0.1:{port}")])
            .env("SEALGRID_REGISTRAR_KEY", op_key)
            .output()
            .expect("sealgrid meter")
    };
    let id = "0x00000000000000000000000000000000000000000000000000000000000000aa";
    let (owner, gw1, gw2) = (
        "0x00000000000000000000000000000000000000b1",
        "0x00000000000000000000000000000000000000c1",
        "0x00000000000000000000000000000000000000c2",
    );
    let register = [
        "register",
        "--meter",
        id,
        "--owner",
        owner,
        "--gateway",
        gw1,
        "--source",
        "solar",
        "--zone",
        "US-CAISO",
    ];
    let out = meter_cmd(&register);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("as device"));
    let out = meter_cmd(&register);
    assert!(!out.status.success(), "registered twice");
    assert!(String::from_utf8_lossy(&out.stderr).contains("MeterExists"));
    let show = |want: &str| {
        let out = meter_cmd(&["show", "--meter", id, "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(
            v["gateway"].as_str().map(str::to_lowercase),
            Some(want.to_owned()),
            "{v}"
        );
        v
    };
    let v = show(gw1);
    assert_eq!(
        (v["source"].as_u64(), v["zone"].as_str()),
        (Some(1), Some("US-CAISO")),
        "{v}"
    );
    assert_eq!(
        v["owner"].as_str().map(str::to_lowercase),
        Some(owner.to_owned())
    );
    let out = meter_cmd(&["rotate", "--meter", id, "--gateway", gw2, "--from", "100"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = show(gw2);
    assert_eq!(v["past_gateways"][0]["until"].as_u64(), Some(100), "{v}");
    let out = meter_cmd(&["revoke", "--meter", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    show("0x0000000000000000000000000000000000000000");
    let out = meter_cmd(&[
        "show",
        "--meter",
        "0x00000000000000000000000000000000000000000000000000000000000000bb",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not registered"));
    let mut keyed = register.to_vec();
    keyed.extend(["--key", op_key]);
    let out = meter_cmd(&keyed);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("argv"),
        "a key in argv is refused"
    );
    // The same config against a node of another chain is refused.
    let other = free_port();
    let _other = anvil(other, chain_id + 1);
    let out = Command::new(env!("CARGO_BIN_EXE_sealgrid"))
        .args(["deploy", "--rpc", &format!("http://127.0.0.1:{other}")])
        .arg("--config")
        .arg(&config)
        .arg("--root")
        .arg(root())
        .output()
        .expect("sealgrid deploy");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("chain {}", chain_id + 1)));
}

#[test]
fn devnet_serves_until_interrupted() {
    let _one = FORGE.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tmp");
    let (port, api) = (free_port(), free_port());
    let config = small_config(dir.path(), 31337);
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_sealgrid"))
            .args(["devnet", "--port", &port.to_string()])
            .args(["--listen", &format!("127.0.0.1:{api}")])
            .arg("--config")
            .arg(&config)
            .arg("--store")
            .arg(format!("sqlite:{}", dir.path().join("m.db").display()))
            .arg("--root")
            .arg(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sealgrid devnet"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let done = line.contains("Ctrl-C");
        lines.push(line);
        if done {
            break;
        }
    }
    let text = lines.join("\n");
    assert!(text.contains(&format!("http://127.0.0.1:{port}")), "{text}");
    assert!(text.contains("funded traders"), "{text}");
    let start = Instant::now();
    let health = loop {
        if let Ok((status, body)) = http(api, "GET", "/health", "")
            && status.contains("200")
        {
            break body;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no API");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    let status = Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let start = Instant::now();
    loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            assert!(s.success(), "a clean shutdown: {s}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "devnet did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // anvil went with it.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "anvil stopped"
    );
}

#[test]
fn deploy_from_a_keystore_records_its_address_as_the_deployer() {
    let _one = FORGE.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tmp");
    let password = "deployer keystore password";
    let (address, keystore) =
        sealgrid_keys::create_keystore(dir.path(), password).expect("keystore");
    let port = free_port();
    let chain_id = 50_000 + u64::from(port);
    let _anvil = anvil(port, chain_id);
    // Gas, the paymaster's deposit and stake: the keystore's account is not a dev account.
    rpc(
        port,
        "anvil_setBalance",
        serde_json::json!([address.to_string(), "0x3635c9adc5dea00000"]),
    );
    let config = small_config(dir.path(), chain_id);
    let record = dir.path().join("record.json");
    let out = deploy_command(port, &config, &record)
        .arg("--deployer-key")
        .arg(format!("keystore:{}", keystore.display()))
        .env_remove("SEALGRID_DEPLOYER_KEY")
        .env_remove("SEALGRID_DEPLOYER_KEY_SPEC")
        .env("SEALGRID_KEYSTORE_PASSWORD", password)
        .output()
        .expect("sealgrid deploy");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains(password), "the password is not echoed");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).expect("record")).expect("json");
    let lower = |v: &serde_json::Value| v.as_str().map(str::to_lowercase).unwrap_or_default();
    assert_eq!(
        lower(&r["deployer"]),
        address.to_string().to_lowercase(),
        "the keystore's account deployed"
    );
    // forge sent the script's transactions from it too (it created the auction), and the dev
    // account 0 sent nothing.
    let nonce = rpc(
        port,
        "eth_getTransactionCount",
        serde_json::json!([address.to_string(), "latest"]),
    );
    let nonce = u64::from_str_radix(nonce.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16)
        .expect("nonce");
    assert!(
        nonce > 10,
        "the keystore sent the deployment ({nonce} transactions)"
    );
    let dev0 = rpc(
        port,
        "eth_getTransactionCount",
        serde_json::json!(["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "latest"]),
    );
    assert_eq!(dev0, "0x0", "dev key 0 sent nothing");
    let code = rpc(
        port,
        "eth_getCode",
        serde_json::json!([r["auction"], "latest"]),
    );
    assert!(
        code.as_str().is_some_and(|c| c.len() > 2),
        "the auction has code"
    );
}
