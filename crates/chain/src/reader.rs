use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, Bytes, FixedBytes},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
    sol_types::{SolError, SolEvent},
};
use sealgrid_types::{BatchStatus, MarketBounds, MarketTiming};

use crate::{
    ChainError, ChainResult,
    bindings::{IERC1271, SealgridAuction},
};

/// The ERC-1271 magic value `isValidSignature.selector`.
const ERC1271_MAGIC: FixedBytes<4> = FixedBytes([0x16, 0x26, 0xba, 0x7e]);

/// The chain head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Block number.
    pub number: u64,
    /// Block timestamp (unix seconds).
    pub timestamp: u64,
}

/// A market as the auction stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketInfo {
    /// The market id.
    pub id: B256,
    /// Payment token.
    pub token: Address,
    /// The proof verifier.
    pub verifier: Address,
    /// The operator allowed to settle.
    pub operator: Address,
    /// Interval length, gate lead, settle window, commit horizon (at least 1 s, also when closed).
    pub timing: MarketTiming,
    /// How far ahead of its gate an interval accepts commitments (s); 0 when closed.
    pub commit_horizon: u64,
    /// Maximum commitments per interval.
    pub max_commitments: u32,
    /// Commitments one account may make per interval.
    pub max_per_account: u8,
    /// The market's fee for commitments never opened (an interval keeps the one in force at its
    /// first commitment: [`AuctionReader::commit_limits`]).
    pub unopened_fee: u128,
    /// Price floor and cap per kWh.
    pub bounds: MarketBounds,
    /// 0 while open; after close, the latest gate any commitment can have.
    pub last_gate: u64,
    /// Creation number (intent token ids).
    pub seq: u32,
    /// The operator bond.
    pub bond: u128,
}

/// What commit requires of an interval's commitments ([`AuctionReader::commit_limits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitLimits {
    /// Commitments one account may make in the interval.
    pub max_per_account: u32,
    /// The fee every lock must cover, taken if the commitment is withdrawn or never opened.
    pub unopened_fee: u128,
}

impl MarketInfo {
    /// Whether the market still accepts commitments.
    pub fn is_open(&self) -> bool {
        self.commit_horizon != 0
    }
}

/// An interval's on-chain state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntervalInfo {
    /// The commitment accumulator.
    pub accumulator: B256,
    /// Number of commitments.
    pub count: u32,
    /// Open (unsettled), settled or voided.
    pub status: BatchStatus,
    /// Clearing price when settled.
    pub price: i64,
    /// Cleared volume when settled.
    pub volume: u64,
    /// Fills Merkle root when settled.
    pub fills_root: B256,
}

/// An auction event the matcher indexes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainEvent {
    /// A commitment was appended to an interval's sequence.
    Committed {
        /// The market.
        market: B256,
        /// The interval.
        interval: u64,
        /// Its index.
        index: u32,
        /// The trader.
        trader: Address,
        /// The commitment.
        commitment: B256,
        /// The lock.
        lock: u128,
        /// The accumulator after it.
        accumulator: B256,
        /// Block number.
        block: u64,
        /// Log index.
        log_index: u64,
    },
    /// A commitment was withdrawn before the gate.
    Withdrawn {
        /// The market.
        market: B256,
        /// The interval.
        interval: u64,
        /// Its index.
        index: u32,
    },
}

/// Read access to one deployed auction.
#[derive(Clone, Debug)]
pub struct AuctionReader {
    provider: DynProvider,
    address: Address,
    chain_id: u64,
}

impl AuctionReader {
    /// Connects to `rpc_url` and checks there is code at `address`.
    pub async fn connect(rpc_url: &str, address: Address) -> ChainResult<Self> {
        let url = rpc_url
            .parse::<alloy::transports::http::reqwest::Url>()
            .map_err(|e| ChainError::BadUrl {
                url: rpc_url.to_owned(),
                reason: e.to_string(),
            })?;
        let provider = crate::rpc::connect(url);
        Self::new(provider, address).await
    }

    /// Wraps an existing provider.
    pub async fn new(provider: DynProvider, address: Address) -> ChainResult<Self> {
        let chain_id = provider.get_chain_id().await?;
        if provider.get_code_at(address).await?.is_empty() {
            return Err(ChainError::NoContract(address));
        }
        Ok(Self {
            provider,
            address,
            chain_id,
        })
    }

    /// The provider.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The auction address (the EIP-712 verifying contract).
    pub fn address(&self) -> Address {
        self.address
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    fn auction(&self) -> SealgridAuction::SealgridAuctionInstance<DynProvider> {
        SealgridAuction::new(self.address, self.provider.clone())
    }

    /// The latest block.
    pub async fn head(&self) -> ChainResult<Head> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| ChainError::MissingBlock("latest".into()))?;
        Ok(Head {
            number: block.header.number,
            timestamp: block.header.timestamp,
        })
    }

    /// The timestamp of block `number`.
    pub async fn block_time(&self, number: u64) -> ChainResult<u64> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await?
            .ok_or_else(|| ChainError::MissingBlock(number.to_string()))?;
        Ok(block.header.timestamp)
    }

    /// The market `id`, or `None` if the auction does not know it.
    pub async fn market(&self, id: B256) -> ChainResult<Option<MarketInfo>> {
        let r = match self.auction().getMarket(id).call().await {
            Ok(r) => r,
            Err(e) => {
                let unknown = e.as_revert_data().is_some_and(|d| {
                    d.starts_with(&SealgridAuction::AuctionUnknownMarket::SELECTOR)
                });
                return if unknown { Ok(None) } else { Err(e.into()) };
            }
        };
        let p = r.p;
        Ok(Some(MarketInfo {
            id,
            token: p.token,
            verifier: p.verifier,
            operator: p.operator,
            // A closed market has horizon 0; its timing still describes existing intervals.
            timing: MarketTiming::new(
                p.intervalLength.to::<u32>(),
                p.gateLead.to::<u32>(),
                p.settleWindow.to::<u32>(),
                p.commitHorizon.to::<u32>().max(1),
            )
            .map_err(|e| ChainError::BadMarket {
                market: id,
                reason: e.to_string(),
            })?,
            commit_horizon: u64::from(p.commitHorizon.to::<u32>()),
            max_commitments: p.maxCommitments.to::<u32>(),
            max_per_account: p.maxPerAccount,
            unopened_fee: p.unopenedFee,
            bounds: MarketBounds {
                price_floor: p.priceFloor,
                price_cap: p.priceCap,
            },
            last_gate: r.lastGate,
            seq: r.seq,
            bond: r.bond,
        }))
    }

    /// The on-chain state of `(market, interval)`.
    pub async fn interval(&self, market: B256, interval: u64) -> ChainResult<IntervalInfo> {
        let r = self.auction().getInterval(market, interval).call().await?;
        Ok(IntervalInfo {
            accumulator: B256::from(r.accumulator),
            count: r.count,
            status: BatchStatus::try_from(r.status)?,
            price: r.price,
            volume: r.volume,
            fills_root: r.fillsRoot,
        })
    }

    /// The spam limits commit applies to `(market, interval)`: the per-account cap and the fee
    /// every lock must cover (the interval's own once it has a commitment, the market's before).
    pub async fn commit_limits(&self, market: B256, interval: u64) -> ChainResult<CommitLimits> {
        let r = self.auction().commitLimits(market, interval).call().await?;
        Ok(CommitLimits {
            max_per_account: r.maxPerAccount.saturating_to::<u32>(),
            unopened_fee: r.unopenedFee.saturating_to::<u128>(),
        })
    }

    /// `Committed` and `CommitmentWithdrawn` events of the auction in blocks `from..=to`, in
    /// chain order.
    pub async fn events(&self, from: u64, to: u64) -> ChainResult<Vec<ChainEvent>> {
        let filter = Filter::new()
            .address(self.address)
            .from_block(from)
            .to_block(to)
            .event_signature(vec![
                SealgridAuction::Committed::SIGNATURE_HASH,
                SealgridAuction::CommitmentWithdrawn::SIGNATURE_HASH,
            ]);
        let logs = self.provider.get_logs(&filter).await?;
        logs.iter().map(decode_event).collect()
    }

    /// ERC-1271: whether contract account `account` accepts `signature` over `digest`, asked
    /// with one `eth_call` of at most `gas` gas (an account whose `isValidSignature` burns its
    /// gas costs the node no more than that). Accounts without code, reverting calls, calls out
    /// of gas and wrong return values all count as "no".
    ///
    /// # Errors
    /// Only transport errors (the node did not answer).
    pub async fn is_valid_signature(
        &self,
        account: Address,
        digest: B256,
        signature: Bytes,
        gas: u64,
    ) -> ChainResult<bool> {
        let c = IERC1271::new(account, self.provider.clone());
        match c.isValidSignature(digest, signature).gas(gas).call().await {
            Ok(magic) => Ok(magic == ERC1271_MAGIC),
            Err(alloy::contract::Error::TransportError(e)) if e.as_error_resp().is_none() => {
                Err(e.into())
            }
            // A revert, an out-of-gas, no code (empty return data) or garbage: not valid.
            Err(_) => Ok(false),
        }
    }
}

fn decode_event(log: &Log) -> ChainResult<ChainEvent> {
    let bad = |reason: String| ChainError::BadLog {
        block: log.block_number,
        reason,
    };
    match log.topic0() {
        Some(&SealgridAuction::Committed::SIGNATURE_HASH) => {
            let e = log
                .log_decode::<SealgridAuction::Committed>()
                .map_err(|e| bad(e.to_string()))?;
            let d = e.inner.data;
            Ok(ChainEvent::Committed {
                market: d.market,
                interval: d.interval,
                index: d.index,
                trader: d.trader,
                commitment: d.commitment,
                lock: d.lock,
                accumulator: B256::from(d.accumulator),
                block: log.block_number.ok_or_else(|| bad("pending log".into()))?,
                log_index: log.log_index.ok_or_else(|| bad("pending log".into()))?,
            })
        }
        Some(&SealgridAuction::CommitmentWithdrawn::SIGNATURE_HASH) => {
            let e = log
                .log_decode::<SealgridAuction::CommitmentWithdrawn>()
                .map_err(|e| bad(e.to_string()))?;
            let d = e.inner.data;
            Ok(ChainEvent::Withdrawn {
                market: d.market,
                interval: d.interval,
                index: d.index,
            })
        }
        other => Err(bad(format!("unexpected topic {other:?}"))),
    }
}
