//! `sealgrid oracle ...`: what the market's price oracle does.

use crate::cmd::desk::At;
use clap::Subcommand;
use eyre::{Result, WrapErr, bail};
use sealgrid_delivery::oracle::{parse_feed, prices_from_feed};
use sealgrid_deploy::NetworkKind;
use sealgrid_types::{sealgrid_domain, sign_struct};

#[derive(Debug, Subcommand)]
pub(crate) enum OracleCommand {
    /// Signs the real-time prices of an ISO/RTO LMP feed (a CSV or JSON file, or an http(s) URL
    /// serving one: rows of interval_start, node, lmp in currency per MWh) as the market's
    /// oracle, and posts them to the node's `POST /v1/prices`. Prints one line per price; exits
    /// non-zero if the node refused any.
    ///
    /// Example: `sealgrid oracle post --deployment .sealgrid/deployments/public-l2.json --feed
    /// caiso-rtm-lmp.csv --pnode DLAP_PGAE-APND --key keystore:oracle.json --node-url
    /// https://node.example`.
    Post {
        /// The deployment record (the market, the chain and the settlement contract: the
        /// EIP-712 domain prices are signed in) and the chain's endpoint, read for the
        /// token's decimals and the interval length unless both are given.
        #[command(flatten)]
        at: At,
        /// The feed: a file, or an http(s) URL.
        #[arg(long)]
        feed: String,
        /// The pricing node whose LMPs are the market's real-time prices (needed when the feed
        /// has several).
        #[arg(long)]
        pnode: Option<String>,
        /// The node's API.
        #[arg(
            long,
            env = "SEALGRID_NODE_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        node_url: String,
        /// The oracle's key: `keystore:PATH`, `pkcs11:MODULE?token=..&key=..`, or on a local
        /// network `env:VAR`. Never the key itself.
        #[arg(
            long,
            env = "SEALGRID_ORACLE_KEY_SPEC",
            default_value = "env:SEALGRID_ORACLE_KEY"
        )]
        key: String,
        /// Revision of these prices: 0 first, higher for an ISO's corrections (the node
        /// resettles every account of an interval whose price is revised).
        #[arg(long, default_value_t = 0)]
        revision: u32,
        /// Decimals of the payment token (prices are base units per kWh). Default: the
        /// token's `decimals()`; given, it must agree with the chain when the chain is read.
        #[arg(long)]
        decimals: Option<u8>,
        /// Seconds of an interval. Default: the settlement's `intervalLength()`. Give both
        /// this and `--decimals` to sign without reaching the chain (an offline signer).
        #[arg(long)]
        interval_length: Option<u64>,
        /// Print the signed prices as JSON instead of posting them.
        #[arg(long)]
        dry_run: bool,
    },
}

impl OracleCommand {
    pub(crate) fn run(self) -> Result<()> {
        let rt = tokio::runtime::Runtime::new().wrap_err("starting the runtime")?;
        rt.block_on(self.run_async())
    }

    async fn run_async(self) -> Result<()> {
        let Self::Post {
            at,
            feed,
            pnode,
            node_url,
            key,
            revision,
            decimals,
            interval_length,
            dry_run,
        } = self;
        let (decimals, interval_length, record) = match (decimals, interval_length) {
            (Some(d), Some(l)) => (d, l, crate::cmd::read_record(at.deployment())?),
            (d, l) => {
                let (record, desk) = at.desk(None).await?;
                let (chain_d, _) = desk
                    .token(record.token)
                    .await
                    .wrap_err("reading the payment token's decimals")?;
                let chain_l = desk
                    .interval_length(record.delivery.settlement)
                    .await
                    .wrap_err("reading the settlement's interval length")?;
                if let Some(d) = d
                    && d != chain_d
                {
                    bail!("--decimals {d} contradicts the payment token's decimals() = {chain_d}");
                }
                if let Some(l) = l
                    && l != chain_l
                {
                    bail!(
                        "--interval-length {l} contradicts the settlement's intervalLength() = {chain_l}"
                    );
                }
                (chain_d, chain_l, record)
            }
        };
        let http = reqwest::Client::new();
        let text = if feed.starts_with("http://") || feed.starts_with("https://") {
            http.get(&feed)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .wrap_err_with(|| format!("fetching {feed}"))?
                .text()
                .await
                .wrap_err_with(|| format!("reading {feed}"))?
        } else {
            std::fs::read_to_string(&feed).wrap_err_with(|| format!("reading {feed}"))?
        };
        let rows = parse_feed(&text)?;
        let prices = prices_from_feed(
            &rows,
            pnode.as_deref(),
            record.market,
            interval_length,
            decimals,
            revision,
        )
        .map_err(|e| eyre::eyre!("{feed}: {e}"))?;
        let signer = crate::cmd::keys::load(&key, "--key", record.kind == NetworkKind::Local)?;
        let domain = sealgrid_domain(record.chain_id, record.delivery.settlement);
        let items: Vec<serde_json::Value> = prices
            .iter()
            .map(|p| {
                let sig = sign_struct(&signer, p, &domain)?;
                Ok(serde_json::json!({
                    "price": p,
                    "signature": alloy_primitives::hex::encode_prefixed(sig),
                }))
            })
            .collect::<Result<_>>()?;
        eprintln!(
            "oracle: {} prices of market {} signed by {}",
            items.len(),
            record.market,
            signer.address()
        );
        if dry_run {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "prices": items }))?
            );
            return Ok(());
        }
        let mut refused = 0;
        for chunk in items.chunks(1_000) {
            let answer: serde_json::Value = http
                .post(format!("{}/v1/prices", node_url.trim_end_matches('/')))
                .json(&serde_json::json!({ "prices": chunk }))
                .send()
                .await
                .wrap_err_with(|| format!("posting to {node_url}"))?
                .json()
                .await
                .wrap_err("the node's answer")?;
            let Some(results) = answer["results"].as_array() else {
                bail!("the node refused the request: {answer}");
            };
            for r in results {
                let status = r["status"].as_str().unwrap_or("?");
                if status == "refused" {
                    refused += 1;
                }
                println!(
                    "interval {} revision {}: {status}{}",
                    r["interval"],
                    r["revision"],
                    r["code"]
                        .as_str()
                        .map(|c| format!(" ({c}: {})", r["message"].as_str().unwrap_or("")))
                        .unwrap_or_default()
                );
            }
        }
        if refused > 0 {
            bail!("the node refused {refused} of {} prices", items.len());
        }
        Ok(())
    }
}
