#![doc = include_str!("../README.md")]

use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_sol_types::{SolCall, SolValue};
use revm::context::TxEnv;
use revm::context::result::{ExecutionResult, Output};
use revm::database::{CacheDB, EmptyDB};
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};
use sealgrid_chain::bindings::{
    EnergyIntentToken, IERC20, IMockToken, ISealgridAuction, SealgridAuction,
};
use sealgrid_clearing::{BookOrder, clear_sequence};
use sealgrid_types::{
    BatchStatus, ClearingProver, MarketBounds, Order, ProofRequest, ProofSlot, SequenceEntry, Side,
    fills_proof, fills_root, order_commitment, pack_fill_words, required_lock,
};

/// Errors of the simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A forge artifact is missing or unreadable.
    #[error("artifact {path}: {reason} (run forge build)")]
    Artifact {
        /// The artifact.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A transaction reverted or halted.
    #[error("{what}: {reason}")]
    Reverted {
        /// What was sent.
        what: String,
        /// The revert, decoded where possible.
        reason: String,
    },
    /// The EVM refused the transaction.
    #[error("evm: {0}")]
    Evm(String),
    /// An encoding or the clearing failed.
    #[error("{0}")]
    Invalid(String),
    /// The prover failed.
    #[error(transparent)]
    Prove(#[from] sealgrid_types::ProveError),
    /// A check of the flow failed: the chain disagrees with the engine, or money is not conserved.
    #[error("check failed: {0}")]
    Check(String),
}

/// Result of the simulation.
pub type SimResult<T> = Result<T, SimError>;

/// Which verifier the market uses.
pub enum Verifier<'a> {
    /// The TEST-ONLY accept-all verifier (`contracts/test/utils/Mocks.sol`).
    TestAcceptAll,
    /// The generated verifiers: (capacity, creation code of each stage, the entry first)
    /// ascending, behind `ClearingVerifier`, and the prover whose proofs they check (the
    /// pipeline's `ClearingProver`, as the node injects it).
    Generated(Vec<(u32, Vec<Vec<u8>>)>, &'a dyn ClearingProver),
}

/// The market's parameters in the simulation (the local config's defaults).
pub const INTERVAL: u64 = 300;
/// Gate lead (s).
pub const GATE_LEAD: u64 = 300;
/// Settle window (s).
pub const SETTLE_WINDOW: u64 = 240;
/// Price floor per kWh.
pub const PRICE_FLOOR: i64 = -500_000;
/// Price cap per kWh.
pub const PRICE_CAP: i64 = 5_000_000;

/// One order of a simulated book.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimOrder {
    /// Trader number (0-based; [`Sim::trader`] gives the address).
    pub trader: usize,
    /// Buy or sell.
    pub side: Side,
    /// Wh.
    pub quantity_wh: u64,
    /// Limit per kWh.
    pub limit: i64,
    /// Opened to the operator (else excluded at clearing).
    pub opened: bool,
}

/// What an interval did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntervalOutcome {
    /// The interval.
    pub interval: u64,
    /// Clearing price (None if nothing cleared).
    pub price: Option<i64>,
    /// Volume (Wh).
    pub volume: u64,
    /// Fill words.
    pub fills: Vec<u64>,
    /// Gas of the commits, the settle and the claims.
    pub gas: (u64, u64, u64),
}

/// The simulated chain with the deployment.
pub struct Sim {
    evm: revm::handler::MainnetEvm<revm::handler::MainnetContext<CacheDB<EmptyDB>>>,
    time: u64,
    block: u64,
    operator: Address,
    /// The auction.
    pub auction: Address,
    /// The payment token.
    pub token: Address,
    /// The market id.
    pub market: B256,
    traders: usize,
    nonce: u64,
    /// Linked libraries deployed so far: "source:name" => address.
    libraries: std::collections::HashMap<String, Address>,
}

/// A forge artifact's creation code: hex, with a `__$<34 hex>$__` placeholder wherever the
/// address of a linked (external) library goes.
struct Artifact {
    path: PathBuf,
    code: String,
    /// (source file, library name, byte offsets of its placeholders), from `bytecode.linkReferences`.
    links: Vec<(String, String, Vec<usize>)>,
}

impl Artifact {
    fn read(root: &Path, file: &str, name: &str) -> SimResult<Self> {
        let path = root.join(format!("out/{file}/{name}.json"));
        let bad = |reason: String| SimError::Artifact {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let code = json["bytecode"]["object"]
            .as_str()
            .ok_or_else(|| bad("no bytecode".into()))?
            .trim_start_matches("0x")
            .to_owned();
        let mut links = Vec::new();
        if let Some(sources) = json["bytecode"]["linkReferences"].as_object() {
            for (source, libs) in sources {
                for (lib, refs) in libs.as_object().into_iter().flatten() {
                    let offsets = refs
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|r| {
                            r["start"]
                                .as_u64()
                                .and_then(|s| usize::try_from(s).ok())
                                .ok_or_else(|| bad(format!("bad link reference to {lib}")))
                        })
                        .collect::<SimResult<Vec<_>>>()?;
                    links.push((source.clone(), lib.clone(), offsets));
                }
            }
        }
        Ok(Self { path, code, links })
    }

    /// The creation code with every library placeholder replaced by `address(source, library)`.
    fn link(
        &self,
        mut address: impl FnMut(&str, &str) -> SimResult<Address>,
    ) -> SimResult<Vec<u8>> {
        let bad = |reason: String| SimError::Artifact {
            path: self.path.clone(),
            reason,
        };
        let mut code = self.code.clone();
        for (source, lib, offsets) in &self.links {
            // solc's placeholder: `__$` + the first 34 hex digits of keccak256("<source>:<name>") + `$__`.
            let fqn = format!("{source}:{lib}");
            let placeholder = format!("__${}$__", &hex::encode(keccak256(fqn.as_bytes()))[..34]);
            let with = hex::encode(address(source, lib)?);
            for &at in offsets {
                let range = 2 * at..2 * at + 40;
                if code.get(range.clone()) != Some(placeholder.as_str()) {
                    return Err(bad(format!("no placeholder of {fqn} at byte {at}")));
                }
                code.replace_range(range, &with);
            }
        }
        hex::decode(&code).map_err(|e| bad(format!("{e} (an unlinked library?)")))
    }
}

fn revert_reason(output: &[u8]) -> String {
    use alloy_sol_types::SolInterface;
    SealgridAuction::SealgridAuctionErrors::abi_decode(output)
        .map(|e| format!("{e:?}"))
        .unwrap_or_else(|_| format!("revert data 0x{}", hex::encode(output)))
}

impl Sim {
    /// Deploys token, intent token, Poseidon hashers, the verifier, the auction and one market
    /// (with `traders` funded accounts) from the artifacts under `root/out`.
    pub fn new(root: &Path, verifier: &Verifier<'_>, traders: usize) -> SimResult<Self> {
        let evm = Context::mainnet()
            .with_db(CacheDB::<EmptyDB>::default())
            .modify_cfg_chained(|cfg| {
                cfg.disable_nonce_check = true;
                // The generated verifiers of large capacities exceed EIP-170.
                cfg.limit_contract_code_size = Some(usize::MAX);
            })
            .modify_block_chained(|b| {
                b.timestamp = U256::from(1_800_000_000u64);
                b.number = U256::from(1u64);
                b.gas_limit = 60_000_000;
            })
            .build_mainnet();
        let mut sim = Self {
            evm,
            time: 1_800_000_000,
            block: 1,
            operator: Address::repeat_byte(0x0a),
            auction: Address::ZERO,
            token: Address::ZERO,
            market: B256::from(U256::from_be_bytes(keccak256("sealgrid/sim").0) >> 8),
            traders,
            nonce: 0,
            libraries: std::collections::HashMap::new(),
        };
        let op = sim.operator;
        let token = sim.deploy(root, "Mocks.sol", "MockERC20")?;
        let mut intents_code = sim.code(root, "EnergyIntentToken.sol", "EnergyIntentToken")?;
        intents_code.extend((op, "https://sim.invalid/{id}.json".to_string()).abi_encode_params());
        let intents = sim.create(op, intents_code, "EnergyIntentToken")?;
        let t3 = sim.deploy(root, "PoseidonT4.sol", "PoseidonT4")?;
        let t5 = sim.deploy(root, "PoseidonT5.sol", "PoseidonT5")?;
        let verifier_address = match verifier {
            Verifier::TestAcceptAll => sim.deploy(root, "Mocks.sol", "AcceptAllVerifier")?,
            Verifier::Generated(codes, _) => {
                let mut caps = Vec::new();
                let mut addrs = Vec::new();
                let mut hashes = Vec::new();
                for (cap, stages) in codes {
                    caps.push(*cap);
                    // The last stage first, as `sealgrid deploy` does: each stage takes the next
                    // one's address and its runtime code hash, computed from the generated code.
                    let mut next: Option<(Address, Bytes)> = None;
                    for (i, code) in stages.iter().enumerate().rev() {
                        let pinned = next.as_ref().map(|(a, c)| (*a, c.as_ref()));
                        let runtime = sealgrid_deploy::stage_runtime(code, pinned)
                            .map_err(|e| SimError::Invalid(e.to_string()))?;
                        let code = sealgrid_deploy::stage_init_code(
                            code,
                            pinned.map(|(a, c)| (a, keccak256(c))),
                        );
                        let what = format!("verifier {cap} stage {}", i + 1);
                        next = Some((sim.create(op, code, &what)?, runtime));
                    }
                    let (entry, runtime) = next.ok_or_else(|| {
                        SimError::Invalid(format!("no code for the {cap}-slot verifier"))
                    })?;
                    addrs.push(entry);
                    hashes.push(keccak256(&runtime));
                }
                let mut code = sim.code(root, "ClearingVerifier.sol", "ClearingVerifier")?;
                code.extend((caps, addrs, hashes).abi_encode_params());
                sim.create(op, code, "ClearingVerifier")?
            }
        };
        let mut auction_code = sim.code(root, "SealgridAuction.sol", "SealgridAuction")?;
        auction_code.extend((op, op, intents, t3, t5).abi_encode_params());
        let auction = sim.create(op, auction_code, "SealgridAuction")?;
        sim.auction = auction;
        sim.token = token;
        // Only the auction mints intents (they are a non-transferable receipt of its claims).
        let role = keccak256("MINTER_ROLE");
        sim.send(
            op,
            intents,
            EnergyIntentToken::grantRoleCall {
                role,
                account: auction,
            }
            .abi_encode(),
            "grantRole",
        )?;
        let params = ISealgridAuction::MarketParams {
            token,
            verifier: verifier_address,
            operator: op,
            intervalLength: alloy_primitives::Uint::from(INTERVAL),
            gateLead: alloy_primitives::Uint::from(GATE_LEAD),
            settleWindow: alloy_primitives::Uint::from(SETTLE_WINDOW),
            commitHorizon: alloy_primitives::Uint::from(86_400u64),
            maxCommitments: alloy_primitives::Uint::from(4096u64),
            verifierGasLimit: 600_000,
            priceFloor: PRICE_FLOOR,
            priceCap: PRICE_CAP,
            minBond: 1_000_000_000,
            slashAmount: 100_000_000,
            maxPerAccount: 32,
            unopenedFee: 0,
        };
        sim.send(
            op,
            auction,
            SealgridAuction::createMarketCall {
                market: sim.market,
                p: params,
            }
            .abi_encode(),
            "createMarket",
        )?;
        let fund = U256::from(1_000_000_000_000u64);
        for who in std::iter::once(op).chain((0..traders).map(Self::trader)) {
            sim.send(
                op,
                token,
                IMockToken::mintCall {
                    to: who,
                    amount: fund,
                }
                .abi_encode(),
                "mint",
            )?;
            sim.send(
                who,
                token,
                IERC20::approveCall {
                    spender: auction,
                    amount: U256::MAX,
                }
                .abi_encode(),
                "approve",
            )?;
        }
        sim.send(
            op,
            auction,
            SealgridAuction::depositBondCall {
                market: sim.market,
                amount: 2_000_000_000,
            }
            .abi_encode(),
            "depositBond",
        )?;
        Ok(sim)
    }

    /// Trader `n`'s address.
    pub fn trader(n: usize) -> Address {
        Address::from_word(keccak256(format!("sealgrid/sim/trader/{n}")))
    }

    /// Simulated chain time.
    pub fn now(&self) -> u64 {
        self.time
    }

    /// Moves the clock to `t` (never backwards).
    pub fn warp(&mut self, t: u64) {
        self.time = self.time.max(t);
    }

    fn next_block(&mut self) {
        self.block += 1;
        let (t, n) = (self.time, self.block);
        self.evm.ctx.modify_block(|b| {
            b.timestamp = U256::from(t);
            b.number = U256::from(n);
        });
    }

    fn transact(
        &mut self,
        from: Address,
        kind: TxKind,
        data: Vec<u8>,
    ) -> SimResult<ExecutionResult> {
        self.next_block();
        self.nonce += 1;
        let tx = TxEnv::builder()
            .caller(from)
            .kind(kind)
            .data(Bytes::from(data))
            .gas_limit(16_000_000)
            .nonce(self.nonce)
            .build()
            .map_err(|e| SimError::Evm(format!("{e:?}")))?;
        self.evm
            .transact_commit(tx)
            .map_err(|e| SimError::Evm(format!("{e:?}")))
    }

    /// The creation code of artifact `out/<file>/<name>.json`, linked: each external library
    /// it calls (`bytecode.linkReferences`, e.g. the auction's `AuctionColdLib`) is deployed
    /// once from its own artifact, by the operator, and its address replaces the placeholders.
    fn code(&mut self, root: &Path, file: &str, name: &str) -> SimResult<Vec<u8>> {
        let artifact = Artifact::read(root, file, name)?;
        artifact.link(|source, lib| {
            let fqn = format!("{source}:{lib}");
            if let Some(a) = self.libraries.get(&fqn) {
                return Ok(*a);
            }
            let lib_file = Path::new(source)
                .file_name()
                .and_then(|f| f.to_str())
                .ok_or_else(|| SimError::Invalid(format!("library source {source}")))?;
            let address = self.deploy(root, lib_file, lib)?;
            self.libraries.insert(fqn, address);
            Ok(address)
        })
    }

    /// Deploys artifact `out/<file>/<name>.json` (linked, no constructor arguments) from the
    /// operator.
    fn deploy(&mut self, root: &Path, file: &str, name: &str) -> SimResult<Address> {
        let code = self.code(root, file, name)?;
        self.create(self.operator, code, name)
    }

    fn create(&mut self, from: Address, code: Vec<u8>, what: &str) -> SimResult<Address> {
        match self.transact(from, TxKind::Create, code)? {
            ExecutionResult::Success {
                output: Output::Create(_, Some(a)),
                ..
            } => Ok(a),
            other => Err(SimError::Reverted {
                what: format!("deploying {what}"),
                reason: format!("{other:?}"),
            }),
        }
    }

    /// Sends a call; returns (output, gas used).
    fn send(
        &mut self,
        from: Address,
        to: Address,
        data: Vec<u8>,
        what: &str,
    ) -> SimResult<(Bytes, u64)> {
        match self.transact(from, TxKind::Call(to), data)? {
            ExecutionResult::Success { output, gas, .. } => {
                Ok((output.into_data(), gas.tx_gas_used()))
            }
            ExecutionResult::Revert { output, .. } => Err(SimError::Reverted {
                what: what.to_owned(),
                reason: revert_reason(&output),
            }),
            other => Err(SimError::Reverted {
                what: what.to_owned(),
                reason: format!("{other:?}"),
            }),
        }
    }

    fn view<C: SolCall>(&mut self, to: Address, call: C, what: &str) -> SimResult<C::Return> {
        // Views run as transactions too (state is unchanged by them); the block moves on.
        let (out, _) = self.send(self.operator, to, call.abi_encode(), what)?;
        C::abi_decode_returns(&out).map_err(|e| SimError::Invalid(format!("{what}: {e}")))
    }

    /// Commits, clears, proves, settles and claims one interval; checks the result against the
    /// engine and the money afterwards.
    pub fn run_interval(
        &mut self,
        book: &[SimOrder],
        verifier: &Verifier<'_>,
    ) -> SimResult<IntervalOutcome> {
        let interval = (self.time + GATE_LEAD) / INTERVAL + 1;
        let gate = interval * INTERVAL - GATE_LEAD;
        let mut commit_gas = 0;
        let mut orders = Vec::new();
        let mut records = Vec::new();
        for (n, o) in book.iter().enumerate() {
            if o.trader >= self.traders {
                return Err(SimError::Invalid(format!(
                    "trader {} is not funded",
                    o.trader
                )));
            }
            let order = Order {
                trader: Self::trader(o.trader),
                market: self.market,
                interval,
                side: o.side.code(),
                quantityWh: o.quantity_wh,
                limitPrice: o.limit,
                nonce: n as u64,
                salt: B256::from(
                    U256::from_be_bytes(keccak256(format!("sim/{interval}/{n}")).0) >> 8,
                ),
            };
            let commitment =
                order_commitment(&order).map_err(|e| SimError::Invalid(e.to_string()))?;
            let lock = required_lock(o.side, o.quantity_wh, o.limit);
            let (_, gas) = self.send(
                order.trader,
                self.auction,
                SealgridAuction::commitCall {
                    market: self.market,
                    interval,
                    commitment,
                    lock,
                }
                .abi_encode(),
                "commit",
            )?;
            commit_gas += gas;
            records.push(ISealgridAuction::CommitmentRecord {
                index: n as u32,
                trader: order.trader,
                lock,
                commitment,
            });
            orders.push(order);
        }

        // The gate: the operator clears the opened orders (DESIGN §3.5) in commitment order.
        self.warp(gate);
        let sequence: Vec<Option<BookOrder>> = book
            .iter()
            .zip(&orders)
            .map(|(o, order)| {
                o.opened.then_some(BookOrder {
                    side: o.side,
                    quantity_wh: order.quantityWh,
                    limit_price: order.limitPrice,
                })
            })
            .collect();
        let cleared = clear_sequence(&sequence).map_err(|e| SimError::Invalid(e.to_string()))?;
        let (result, fills) = (cleared.clearing, cleared.fills);
        let price = result.price.unwrap_or(0);
        let proof = match verifier {
            Verifier::TestAcceptAll => Vec::new(),
            Verifier::Generated(_, prover) => {
                let request = ProofRequest {
                    market: self.market,
                    interval,
                    bounds: MarketBounds {
                        price_floor: PRICE_FLOOR,
                        price_cap: PRICE_CAP,
                    },
                    slots: book
                        .iter()
                        .zip(&orders)
                        .zip(&records)
                        .map(|((o, order), r)| {
                            let entry = SequenceEntry {
                                commitment: r.commitment,
                                committer: r.trader,
                                lock: r.lock,
                            };
                            if o.opened {
                                ProofSlot::opened(entry, order.clone())
                            } else {
                                ProofSlot::excluded(entry)
                            }
                        })
                        .collect(),
                };
                prover.prove(&request)?.proof
            }
        };
        let mut settle_gas = 0;
        if !book.is_empty() {
            let (_, gas) = self.send(
                self.operator,
                self.auction,
                SealgridAuction::settleCall {
                    market: self.market,
                    interval,
                    clearingPrice: price,
                    volume: result.volume,
                    fills: Bytes::from(pack_fill_words(&fills)),
                    proof: Bytes::from(proof),
                }
                .abi_encode(),
                "settle",
            )?;
            settle_gas = gas;
            let iv = self.view(
                self.auction,
                SealgridAuction::getIntervalCall {
                    market: self.market,
                    interval,
                },
                "getInterval",
            )?;
            let root = fills_root(&fills).map_err(|e| SimError::Invalid(e.to_string()))?;
            if iv.status != BatchStatus::Settled.code()
                || iv.price != price
                || iv.volume != result.volume
                || iv.fillsRoot != root
            {
                return Err(SimError::Check(format!(
                    "interval {interval} on-chain (status {}, price {}, volume {}) differs from the engine (price {price}, volume {})",
                    iv.status, iv.price, iv.volume, result.volume
                )));
            }
        }

        // Delivery: every commitment is claimed.
        self.warp(gate + GATE_LEAD);
        let mut claim_gas = 0;
        for chunk in records.chunks(64).enumerate().map(|(c, rs)| (c * 64, rs)) {
            let (offset, rs) = chunk;
            let claims = rs
                .iter()
                .enumerate()
                .map(|(k, r)| {
                    let index = (offset + k) as u32;
                    Ok(ISealgridAuction::Claim {
                        record: r.clone(),
                        word: fills[offset + k],
                        proof: fills_proof(&fills, index)
                            .map_err(|e| SimError::Invalid(e.to_string()))?,
                    })
                })
                .collect::<SimResult<Vec<_>>>()?;
            let (_, gas) = self.send(
                self.operator,
                self.auction,
                SealgridAuction::claimBatchCall {
                    market: self.market,
                    interval,
                    cs: claims,
                }
                .abi_encode(),
                "claimBatch",
            )?;
            claim_gas += gas;
        }
        self.check_money()?;
        Ok(IntervalOutcome {
            interval,
            price: result.price,
            volume: result.volume,
            fills,
            gas: (commit_gas, settle_gas, claim_gas),
        })
    }

    /// The clearing pool is empty and `1000 × held == 1000 × (free + bond) + fees`.
    pub fn check_money(&mut self) -> SimResult<()> {
        let (token, auction, market) = (self.token, self.auction, self.market);
        let ledger = self.view(auction, SealgridAuction::ledgerCall { token }, "ledger")?;
        if ledger.poolMilli != 0 {
            return Err(SimError::Check(format!(
                "clearing pool {} after every claim",
                ledger.poolMilli
            )));
        }
        let mut free = U256::ZERO;
        for who in std::iter::once(self.operator).chain((0..self.traders).map(Self::trader)) {
            free += self.view(
                auction,
                SealgridAuction::balanceOfCall {
                    token,
                    account: who,
                },
                "balanceOf",
            )?;
        }
        let held = self.view(
            token,
            IERC20::balanceOfCall { account: auction },
            "token balance",
        )?;
        let bond = U256::from(
            self.view(
                auction,
                SealgridAuction::getMarketCall { market },
                "getMarket",
            )?
            .bond,
        );
        let k = U256::from(1000u32);
        if held * k != (free + bond) * k + U256::from(ledger.feesMilli) {
            return Err(SimError::Check(format!(
                "money: held {held}, free {free}, bond {bond}, fees {} milli",
                ledger.feesMilli
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(code: &str, offsets: Vec<usize>) -> Artifact {
        Artifact {
            path: PathBuf::from("out/A.sol/A.json"),
            code: code.to_owned(),
            links: vec![("src/L.sol".into(), "L".into(), offsets)],
        }
    }

    #[test]
    fn link_replaces_every_placeholder_of_the_library() {
        let placeholder = format!("__${}$__", &hex::encode(keccak256("src/L.sol:L"))[..34]);
        let code = format!("60{placeholder}73{placeholder}00");
        let lib = Address::repeat_byte(0xab);
        let linked = artifact(&code, vec![1, 22])
            .link(|source, name| {
                assert_eq!((source, name), ("src/L.sol", "L"));
                Ok(lib)
            })
            .expect("linked");
        let mut want = vec![0x60];
        want.extend(lib.as_slice());
        want.push(0x73);
        want.extend(lib.as_slice());
        want.push(0x00);
        assert_eq!(linked, want);
    }

    #[test]
    fn link_refuses_a_reference_without_its_placeholder() {
        let code = format!("60{}00", "ff".repeat(20));
        let err = artifact(&code, vec![1])
            .link(|_, _| Ok(Address::ZERO))
            .expect_err("no placeholder");
        assert!(
            err.to_string().contains("no placeholder of src/L.sol:L"),
            "{err}"
        );
    }
}
