//! The operator's desk commands (`sealgrid bond|collateral|balancing|paymaster|timelock`) as an
//! operator runs them, against a real anvil and a deployment made by `sealgrid deploy`: each
//! move checked on the chain, each refusal leaving the chain as it was, and the timelock path
//! (a proposal printed for a stranger, scheduled and executed by the proposer, never twice).

#![allow(missing_docs)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

mod common;

use common::{anvil, deploy_command, free_port, rpc, small_config};

use serde_json::Value;

/// anvil's dev key 0: deployer, operator, proposer, executor and registrar of the local config.
const DEV0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// anvil's dev key 3: a stranger to the deployment.
const DEV3: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
const DEV3_ADDRESS: &str = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";

/// Deploys the local config (the checked-in verifiers only) to a fresh anvil.
fn deploy(dir: &Path, port: u16, chain_id: u64) -> PathBuf {
    let config = small_config(dir, chain_id);
    let record = dir.join("record.json");
    let out = deploy_command(port, &config, &record)
        .env_remove("SEALGRID_DEPLOYER_KEY")
        .output()
        .expect("sealgrid deploy");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    record
}

struct Desk {
    record: PathBuf,
    rpc: String,
}

impl Desk {
    /// Runs `sealgrid <args> --deployment R --rpc-url U` with the devnet keys in the environment.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sealgrid"))
            .args(args)
            .arg("--deployment")
            .arg(&self.record)
            .args(["--rpc-url", &self.rpc])
            .env("SEALGRID_OPERATOR_KEY", DEV0)
            .env("SEALGRID_KEY", DEV0)
            .env("STRANGER_KEY", DEV3)
            .env_remove("SEALGRID_OPERATOR_KEY_SPEC")
            .env_remove("SEALGRID_KEY_SPEC")
            .env("RUST_BACKTRACE", "0")
            .env("RUST_LIB_BACKTRACE", "0")
            .output()
            .expect("sealgrid")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "sealgrid {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let text = self.ok(&[args, &["--json"]].concat());
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }

    /// Runs a command that must fail; returns its stderr.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "sealgrid {args:?} should fail: {err}"
        );
        err
    }
}

fn num(v: &Value) -> u128 {
    v.as_str()
        .map(|s| s.parse().expect("decimal"))
        .or_else(|| v.as_u64().map(u128::from))
        .unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn the_desk_moves_money_and_permissions_and_refuses_what_it_must() {
    let dir = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let chain_id = 51_000 + u64::from(port % 10_000);
    let _anvil = anvil(port, chain_id);
    let record = deploy(dir.path(), port, chain_id);
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(&record).expect("record")).expect("json");
    let desk = Desk {
        record: record.clone(),
        rpc: format!("http://127.0.0.1:{port}"),
    };
    let token = r["token"].as_str().expect("token");
    let operator = r["operator"].as_str().expect("operator");
    // 1,000 test tokens for dev key 0 (the mock token's open mint; selector of mint(address,uint256)).
    let mint = format!(
        "0x40c10f19{:0>64}{:064x}",
        operator.trim_start_matches("0x").to_lowercase(),
        1_000_000_000u64
    );
    rpc(
        port,
        "eth_sendTransaction",
        serde_json::json!([{"from": operator, "to": token, "data": mint}]),
    );
    let wallet =
        |d: &Desk, who: &str| num(&d.json(&["collateral", "show", "--account", who])["wallet"]);

    // Bond: deposit 12.5 tokens, the wallet pays exactly that; a withdrawal below the minimum
    // is refused and moves nothing; bad amounts are refused before anything is sent.
    let b0 = desk.json(&["bond", "show"]);
    assert_eq!(num(&b0["bond"]), 2_000_000_000, "{b0}");
    assert_eq!(num(&b0["min_bond"]), 1_000_000_000);
    let w0 = wallet(&desk, operator);
    let out = desk.ok(&["bond", "deposit", "--amount", "12.5"]);
    assert!(out.contains("2012.5"), "{out}");
    assert_eq!(num(&desk.json(&["bond", "show"])["bond"]), 2_012_500_000);
    assert_eq!(wallet(&desk, operator), w0 - 12_500_000);
    let err = desk.refused(&["bond", "withdraw", "--amount", "1500"]);
    assert!(err.contains("AuctionBondLocked"), "{err}");
    assert_eq!(num(&desk.json(&["bond", "show"])["bond"]), 2_012_500_000);
    for (bad, says) in [
        ("0", "above zero"),
        ("1.0000001", "fraction digits"),
        ("-5", "decimal"),
        ("ten", "decimal"),
    ] {
        let err = desk.refused(&["bond", "deposit", &format!("--amount={bad}")]);
        assert!(err.contains(says), "{bad}: {err}");
    }
    // Someone else's bond cannot be taken: a stranger's withdrawal is refused.
    let err = desk.refused(&[
        "bond",
        "withdraw",
        "--amount",
        "1",
        "--key",
        "env:STRANGER_KEY",
    ]);
    assert!(err.contains("AuctionNotOperator"), "{err}");
    assert_eq!(num(&desk.json(&["bond", "show"])["bond"]), 2_012_500_000);

    // The balancing account is funded from the operator's wallet; a site's delivery collateral
    // is deposited for it, and a stranger cannot withdraw it.
    let bal0 = num(&desk.json(&["balancing", "show"])["balance"]);
    desk.ok(&["balancing", "fund", "--amount", "100"]);
    let bal = desk.json(&["balancing", "show"]);
    assert_eq!(num(&bal["balance"]), bal0 + 100_000_000, "{bal}");
    assert_eq!(
        bal["account"].as_str().map(str::to_lowercase),
        Some("0x976ea74026e726554db657fa54763abd0c3a0aa9".into())
    );
    let site = "0x00000000000000000000000000000000000051e7";
    desk.ok(&[
        "collateral",
        "deposit",
        "--vault",
        "delivery",
        "--amount",
        "5",
        "--for",
        site,
    ]);
    desk.ok(&[
        "collateral",
        "deposit",
        "--vault",
        "auction",
        "--amount",
        "2",
        "--for",
        site,
    ]);
    let c = desk.json(&["collateral", "show", "--account", site]);
    assert_eq!(
        (num(&c["delivery"]), num(&c["auction"])),
        (5_000_000, 2_000_000),
        "{c}"
    );
    let err = desk.refused(&[
        "collateral",
        "withdraw",
        "--vault",
        "delivery",
        "--amount",
        "5",
        "--to",
        DEV3_ADDRESS,
        "--key",
        "env:STRANGER_KEY",
    ]);
    assert!(err.contains("would revert"), "{err}");
    let c = desk.json(&["collateral", "show", "--account", site]);
    assert_eq!(
        (num(&c["delivery"]), num(&c["auction"])),
        (5_000_000, 2_000_000),
        "{c}"
    );

    // Paymaster: the gas deposit grows by what was sent; the registrar (the operator) sets a
    // quota directly.
    let p0 = desk.json(&["paymaster", "show"]);
    assert_eq!(
        p0["owner"], r["timelock"],
        "the timelock owns the paymaster: {p0}"
    );
    let d0 = num(&p0["deposit_wei"]);
    desk.ok(&["paymaster", "deposit", "--eth", "0.5"]);
    assert_eq!(
        num(&desk.json(&["paymaster", "show"])["deposit_wei"]),
        d0 + 500_000_000_000_000_000
    );
    let alice = "0x000000000000000000000000000000000000a11c";
    let out = desk.ok(&[
        "paymaster",
        "participants",
        "--account",
        alice,
        "--quota",
        "5",
    ]);
    assert!(out.contains("sent in tx"), "{out}");
    let u = desk.json(&["paymaster", "show", "--account", alice]);
    assert_eq!(u["participant"]["quota"], 5, "{u}");

    // A stranger gets the proposal, not a transaction; the stranger cannot schedule it; the
    // proposer schedules it, an executor executes it once, and an edited file is refused.
    let bob = "0x0000000000000000000000000000000000000b0b";
    let file = dir.path().join("proposal.json");
    let file_s = file.to_str().expect("utf-8 path");
    let out = desk.ok(&[
        "paymaster",
        "participants",
        "--account",
        bob,
        "--quota",
        "7",
        "--key",
        "env:STRANGER_KEY",
        "--proposal-out",
        file_s,
    ]);
    let p: Value = serde_json::from_str(&out).expect("proposal json");
    assert_eq!(p["timelock"], r["timelock"]);
    assert!(
        p["schedule_calldata"]
            .as_str()
            .is_some_and(|c| c.len() > 10),
        "{p}"
    );
    assert_eq!(
        desk.json(&["paymaster", "show", "--account", bob])["participant"]["quota"],
        0
    );
    assert_eq!(
        desk.json(&["timelock", "show", "--proposal", file_s])["state"],
        "unset"
    );
    let err = desk.refused(&[
        "timelock",
        "schedule",
        "--proposal",
        file_s,
        "--key",
        "env:STRANGER_KEY",
    ]);
    assert!(err.contains("AccessControlUnauthorizedAccount"), "{err}");
    desk.ok(&["timelock", "schedule", "--proposal", file_s]);
    assert_eq!(
        desk.json(&["timelock", "show", "--proposal", file_s])["state"],
        "ready",
        "no delay on local"
    );
    assert_eq!(
        desk.json(&["paymaster", "show", "--account", bob])["participant"]["quota"],
        0,
        "scheduled is not done"
    );
    desk.ok(&["timelock", "execute", "--proposal", file_s]);
    assert_eq!(
        desk.json(&["paymaster", "show", "--account", bob])["participant"]["quota"],
        7
    );
    assert_eq!(
        desk.json(&["timelock", "show", "--proposal", file_s])["state"],
        "done"
    );
    let err = desk.refused(&["timelock", "execute", "--proposal", file_s]);
    assert!(err.contains("TimelockUnexpectedOperationState"), "{err}");
    let mut edited = p.clone();
    let calldata = edited["calldata"].as_str().expect("calldata").to_owned();
    edited["calldata"] = Value::String(format!("{}9", &calldata[..calldata.len() - 1]));
    let edited_file = dir.path().join("edited.json");
    std::fs::write(&edited_file, edited.to_string()).expect("write");
    let err = desk.refused(&[
        "timelock",
        "execute",
        "--proposal",
        edited_file.to_str().expect("utf-8"),
    ]);
    assert!(err.contains("edited"), "{err}");

    // A timelock-only action from a proposer is scheduled at once, then executed.
    let carol = "0x000000000000000000000000000000000000ca01";
    let file2 = dir.path().join("registrar.json");
    let out = desk.ok(&[
        "paymaster",
        "set-registrar",
        "--registrar",
        carol,
        "--proposal-out",
        file2.to_str().expect("utf-8"),
    ]);
    assert!(out.contains("\"id\""), "{out}");
    assert_ne!(
        desk.json(&["paymaster", "show"])["registrar"]
            .as_str()
            .map(str::to_lowercase),
        Some(carol.into())
    );
    desk.ok(&[
        "timelock",
        "execute",
        "--proposal",
        file2.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        desk.json(&["paymaster", "show"])["registrar"]
            .as_str()
            .map(str::to_lowercase),
        Some(carol.into())
    );

    // The record decides the chain: another chain id, or a public record without an endpoint,
    // is refused before anything is read or sent; a key in argv is refused.
    let mut other: Value = r.clone();
    other["chain_id"] = Value::from(chain_id + 1);
    let other_file = dir.path().join("other.json");
    std::fs::write(&other_file, other.to_string()).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_sealgrid"))
        .args(["bond", "show", "--deployment"])
        .arg(&other_file)
        .args(["--rpc-url", &desk.rpc])
        .output()
        .expect("sealgrid");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("is for chain"),
        "{err}"
    );
    other["chain_id"] = Value::from(chain_id);
    other["kind"] = Value::from("public");
    std::fs::write(&other_file, other.to_string()).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_sealgrid"))
        .args(["bond", "show", "--deployment"])
        .arg(&other_file)
        .env_remove("ETH_RPC_URL")
        .output()
        .expect("sealgrid");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--rpc-url"), "{err}");
    let err = desk.refused(&["bond", "deposit", "--amount", "1", "--key", DEV0]);
    assert!(err.contains("argv"), "{err}");
    assert_eq!(num(&desk.json(&["bond", "show"])["bond"]), 2_012_500_000);
}
