//! A local devnet for demos, benchmarks and tests: anvil from the project's npm toolchain and
//! the contracts deployed by `deploy/Demo.s.sol` (token, intent token, auction, timelock, one
//! market operated by anvil's first dev key, four funded traders).

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    providers::{DynProvider, Provider},
};

use sealgrid_chain::{ChainError, ChainResult, delivery::DeliveryContracts};

/// anvil's well-known dev keys (public; never use them outside a devnet). Key 0 deploys and
/// operates the demo market; keys 1-4 are funded traders.
pub const DEV_KEYS: [&str; 5] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
];

/// anvil's dev key 5: the demo market's real-time price oracle (devnet only).
pub const DEV_ORACLE_KEY: &str =
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba";
/// anvil's dev key 6: the demo market's balancing account (devnet only).
pub const DEV_BALANCING_KEY: &str =
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e";

/// anvil's dev key 7: the sponsorship service's key on the devnet (`[accounts].sponsor` of
/// deploy/config/local.toml).
pub const DEV_SPONSOR_KEY: &str =
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356";

/// anvil's dev key 8: the demo's in-process bundler (it sends `handleOps` for the sponsored
/// smart accounts and receives their fees; devnet only).
pub const DEV_BUNDLER_KEY: &str =
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97";

/// Seconds between the blocks a devnet mines by itself (transactions are still mined at once):
/// an idle devnet's clock (the latest block's timestamp) keeps up with wall time, so an interval
/// is cleared at its gate and a missed settle window is seen and voided without waiting for
/// some transaction to land.
pub const DEVNET_BLOCK_TIME_S: u64 = 1;

/// The address of dev key 0.
pub const DEV_DEPLOYER: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

/// The demo market id: `keccak256("sealgrid/demo/feeder-7") >> 8`.
pub fn demo_market() -> B256 {
    B256::from(U256::from_be_bytes(keccak256("sealgrid/demo/feeder-7").0) >> 8)
}

/// The project root: `$SEALGRID_ROOT`, or the nearest directory upward from the current one
/// holding `foundry.toml` and `deploy/Demo.s.sol`.
pub fn project_root() -> ChainResult<PathBuf> {
    if let Ok(r) = std::env::var("SEALGRID_ROOT") {
        return Ok(PathBuf::from(r));
    }
    let cwd = std::env::current_dir().map_err(|e| ChainError::Devnet(e.to_string()))?;
    cwd.ancestors()
        .find(|d| d.join("foundry.toml").is_file() && d.join("deploy/Demo.s.sol").is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            ChainError::Devnet("not inside the sealgrid checkout (set SEALGRID_ROOT)".into())
        })
}

pub(crate) fn tool(root: &Path, name: &str) -> ChainResult<PathBuf> {
    let p = root.join(format!(
        "node_modules/@foundry-rs/{name}-linux-amd64/bin/{name}"
    ));
    if p.is_file() {
        Ok(p)
    } else {
        Err(ChainError::Devnet(format!(
            "{} is missing: run scripts/setup.sh",
            p.display()
        )))
    }
}

/// One `forge script deploy/<file>:<contract>` broadcast, with the project's solc on PATH.
pub(crate) struct ForgeScript<'a> {
    /// The script file under `deploy/`.
    pub(crate) file: &'a str,
    /// The script contract.
    pub(crate) contract: &'a str,
    /// The function to run (`--sig`); `run()` when `None`.
    pub(crate) signature: Option<&'a str>,
    /// Environment for the script (`vm.env*`).
    pub(crate) env: Vec<(&'a str, String)>,
    /// forge's wallet options for `sender` (e.g. `--keystore PATH --password-file FILE`); none
    /// when the script broadcasts with a key of its own.
    pub(crate) wallet: Vec<std::ffi::OsString>,
}

impl ForgeScript<'_> {
    /// Broadcasts the script to `rpc` from `sender` and returns forge's broadcast record.
    pub(crate) fn run(
        self,
        root: &Path,
        rpc: &str,
        chain_id: u64,
        sender: Address,
    ) -> ChainResult<serde_json::Value> {
        let path = format!(
            "{}:{}",
            root.join("tools/solc").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let target = format!("deploy/{}:{}", self.file, self.contract);
        let mut cmd = Command::new(tool(root, "forge")?);
        cmd.current_dir(root)
            .env("PATH", path)
            .env("FOUNDRY_DISABLE_NIGHTLY_WARNING", "1")
            // Only a key given here reaches the script (not one left in the caller's environment).
            .env_remove("SG_DEPLOYER_KEY")
            .envs(self.env)
            .args(["script", &target, "--rpc-url", rpc]);
        if let Some(sig) = self.signature {
            cmd.args(["--sig", sig]);
        }
        let out = cmd
            .args(["--broadcast", "--slow", "--sender"])
            .arg(sender.to_string())
            .args(self.wallet)
            .output()
            .map_err(|e| ChainError::Devnet(format!("running forge: {e}")))?;
        if !out.status.success() {
            return Err(ChainError::Devnet(format!(
                "forge script {target} failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let stem = self.signature.unwrap_or("run()").trim_end_matches("()");
        let path = root.join(format!(
            "broadcast/{}/{chain_id}/{stem}-latest.json",
            self.file
        ));
        let text = std::fs::read(&path)
            .map_err(|e| ChainError::Devnet(format!("reading forge's broadcast record: {e}")))?;
        serde_json::from_slice(&text)
            .map_err(|e| ChainError::Devnet(format!("broadcast record: {e}")))
    }
}

/// The address of the first contract named `name` that a broadcast record created. forge names
/// an artifact built under several compiler profiles (foundry.toml) `Name.<profile>`
/// (`TimelockController.default`), so a profile suffix is accepted.
pub(crate) fn created(record: &serde_json::Value, name: &str) -> ChainResult<Address> {
    let named = |t: &serde_json::Value| {
        t["contractName"].as_str().is_some_and(|n| {
            n == name
                || n.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
    };
    record["transactions"]
        .as_array()
        .and_then(|txs| {
            txs.iter()
                .find(|t| t["transactionType"] == "CREATE" && named(t))
        })
        .and_then(|t| t["contractAddress"].as_str())
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| ChainError::Devnet(format!("no {name} deployment in the broadcast record")))
}

/// A running anvil with the demo deployment. Dropping it stops anvil.
#[derive(Debug)]
pub struct Devnet {
    anvil: Child,
    /// The RPC URL (loopback).
    pub rpc: String,
    /// The chain id (unique per devnet, so that parallel devnets do not share forge records).
    pub chain_id: u64,
    /// The auction.
    pub auction: Address,
    /// The payment token (a test ERC-20).
    pub token: Address,
    /// The meter registry, delivery settlement and certificates (zero when nothing deployed).
    pub delivery: DeliveryContracts,
    /// The EntryPoint, paymaster and account factory, when the deployment has `[accounts]`.
    pub accounts: Option<crate::AccountsRecord>,
    /// A read-only provider.
    pub provider: DynProvider,
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.anvil.kill();
        let _ = self.anvil.wait();
    }
}

impl Devnet {
    /// Starts anvil on a free loopback port and deploys the demo contracts with forge; the demo
    /// market checks clearing proofs with the generated verifiers (capacities 4 and 16).
    pub async fn start(root: &Path) -> ChainResult<Self> {
        Self::start_with(root, "deploy()").await
    }

    /// As [`Devnet::start`], but the demo market's verifier is the TEST-ONLY accept-all
    /// verifier (and it takes 4,096 commitments per interval): for tests and benchmarks of
    /// everything except the proof.
    pub async fn start_with_test_verifier(root: &Path) -> ChainResult<Self> {
        Self::start_with(root, "deployWithTestVerifier()").await
    }

    async fn start_with(root: &Path, signature: &str) -> ChainResult<Self> {
        let mut net = Self::anvil(root, None, None).await?;
        let (auction, token, delivery) = net.deploy(root, signature)?;
        net.auction = auction;
        net.token = token;
        net.delivery = delivery;
        Ok(net)
    }

    /// Starts anvil only (nothing deployed: `auction` and `token` are zero) on loopback `port`
    /// (default: a free one) with `chain_id` (default: 40,000 + port, unique per devnet). It
    /// mines a block every [`DEVNET_BLOCK_TIME_S`] besides one per transaction.
    pub async fn anvil(root: &Path, port: Option<u16>, chain_id: Option<u64>) -> ChainResult<Self> {
        let port = match port {
            Some(p) => p,
            None => std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| ChainError::Devnet(format!("no free port: {e}")))?
                .port(),
        };
        let chain_id = chain_id.unwrap_or(40_000 + u64::from(port));
        let anvil = Command::new(tool(root, "anvil")?)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--chain-id",
                &chain_id.to_string(),
                "--block-time",
                &DEVNET_BLOCK_TIME_S.to_string(),
                "--mixed-mining",
            ])
            .arg("--silent")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| ChainError::Devnet(format!("starting anvil: {e}")))?;
        let rpc = format!("http://127.0.0.1:{port}");
        let provider = sealgrid_chain::rpc::connect(sealgrid_chain::rpc::rpc_url(&rpc)?);
        let mut net = Self {
            anvil,
            rpc,
            chain_id,
            auction: Address::ZERO,
            token: Address::ZERO,
            delivery: DeliveryContracts {
                registry: Address::ZERO,
                settlement: Address::ZERO,
                certificates: Address::ZERO,
            },
            accounts: None,
            provider,
        };
        for _ in 0..200 {
            if net.provider.get_chain_id().await.ok() == Some(chain_id) {
                return Ok(net);
            }
            if let Ok(Some(status)) = net.anvil.try_wait() {
                return Err(ChainError::Devnet(format!(
                    "anvil exited ({status}): is port {port} taken?"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(ChainError::Devnet(
            "anvil did not answer within 10 s".into(),
        ))
    }

    fn deploy(
        &self,
        root: &Path,
        signature: &str,
    ) -> ChainResult<(Address, Address, DeliveryContracts)> {
        let sender: Address = DEV_DEPLOYER
            .parse()
            .map_err(|e| ChainError::Devnet(format!("dev deployer: {e}")))?;
        let script = ForgeScript {
            file: "Demo.s.sol",
            contract: "Demo",
            signature: Some(signature),
            env: Vec::new(),
            wallet: Vec::new(),
        };
        let record = script.run(root, &self.rpc, self.chain_id, sender)?;
        // The fixed devnet deployment leaves no broadcast record behind.
        let _ =
            std::fs::remove_dir_all(root.join(format!("broadcast/Demo.s.sol/{}", self.chain_id)));
        Ok((
            created(&record, "SealgridAuction")?,
            created(&record, "MockERC20")?,
            DeliveryContracts {
                registry: created(&record, "MeterRegistry")?,
                settlement: created(&record, "DeliverySettlement")?,
                certificates: created(&record, "GranularCertificates")?,
            },
        ))
    }

    /// A provider that signs and sends with `key` (a hex private key, e.g. one of [`DEV_KEYS`]).
    pub fn wallet(&self, key: &str) -> ChainResult<DynProvider> {
        let signer: alloy::signers::local::PrivateKeySigner = key
            .parse()
            .map_err(|e| ChainError::Devnet(format!("bad key: {e}")))?;
        Ok(sealgrid_chain::rpc::connect_with_wallet(
            sealgrid_chain::rpc::rpc_url(&self.rpc)?,
            alloy::network::EthereumWallet::from(signer),
        ))
    }

    /// The latest block's timestamp.
    pub async fn now(&self) -> ChainResult<u64> {
        let b = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| ChainError::MissingBlock("latest".into()))?;
        Ok(b.header.timestamp)
    }

    /// Mines one block at unix time `t` (anvil only); a no-op if the chain is already there
    /// (the devnet mines by itself, so a block may have passed `t` just before).
    pub async fn warp(&self, t: u64) -> ChainResult<()> {
        if self.now().await? >= t {
            return Ok(());
        }
        let set: Result<serde_json::Value, _> = self
            .provider
            .raw_request(
                std::borrow::Cow::Borrowed("evm_setNextBlockTimestamp"),
                (t,),
            )
            .await;
        if let Err(e) = set {
            // Refused only if a block at or past `t` was mined in between.
            if self.now().await? >= t {
                return Ok(());
            }
            return Err(e.into());
        }
        let _: serde_json::Value = self
            .provider
            .raw_request(std::borrow::Cow::Borrowed("evm_mine"), ())
            .await?;
        Ok(())
    }
}
