//! The one way the project reaches a node over HTTP: every provider goes through alloy's
//! [`RetryBackoffLayer`], so a rate-limited public endpoint (HTTP 429, JSON-RPC 429 / -32005 /
//! "rate limit" errors, 503) slows a request down instead of failing it. Reverts and every
//! other error come back at once, never retried.
//!
//! A retry re-sends the same request: for `eth_sendRawTransaction` that is the same signed
//! transaction, which a node that already took it answers with "already known" or "nonce too
//! low" (the [`Sender`](crate::Sender) handles both), so retries never double-spend.

use std::sync::OnceLock;

use alloy::{
    network::EthereumWallet,
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::client::{ClientBuilder, RpcClient},
    transports::{http::reqwest::Url, layers::RetryBackoffLayer},
};
use serde::{Deserialize, Serialize};

use crate::error::{ChainError, ChainResult};

/// How requests to a node are retried (the `[rpc]` table of a network config).
///
/// The defaults suit a public L2 endpoint: 10 retries, 500 ms apart, and a budget of 660 compute
/// units per second. The budget follows alloy's model of a rate-limited provider: an average
/// request costs 20 compute units (Alchemy's figure for the common methods), so 660 CU/s is
/// 33 requests per second; only while more requests than that are waiting for a retry does a
/// retry wait longer than `initial_backoff_ms` (one second more per 33 requests queued ahead of
/// it). A server's own hint (`Retry-After`, a backoff in the error) replaces the fixed backoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Retries of a rate-limited request after the first attempt (0: never retry).
    pub max_retries: u32,
    /// Wait before each retry, in milliseconds, unless the server says how long.
    pub initial_backoff_ms: u64,
    /// The endpoint's compute-unit budget per second (see the type's docs).
    pub compute_units_per_second: u64,
}

impl RetryPolicy {
    /// The default policy (10 retries, 500 ms, 660 CU/s).
    pub const DEFAULT: Self = Self {
        max_retries: 10,
        initial_backoff_ms: 500,
        compute_units_per_second: 660,
    };

    /// No retries: every error comes back at once.
    pub const NONE: Self = Self {
        max_retries: 0,
        ..Self::DEFAULT
    };

    /// alloy's layer for this policy.
    pub fn layer(&self) -> RetryBackoffLayer {
        RetryBackoffLayer::new(
            self.max_retries,
            self.initial_backoff_ms,
            self.compute_units_per_second.max(1),
        )
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

static DEFAULT_POLICY: OnceLock<RetryPolicy> = OnceLock::new();

/// Sets the policy of every provider this process builds with [`connect`] and
/// [`connect_with_wallet`] (e.g. from the network config's `[rpc]` table at start-up). Only the
/// first call counts; it returns false when a policy was already set.
pub fn set_default_policy(policy: RetryPolicy) -> bool {
    DEFAULT_POLICY.set(policy).is_ok()
}

/// The policy set by [`set_default_policy`], else [`RetryPolicy::DEFAULT`].
pub fn default_policy() -> RetryPolicy {
    DEFAULT_POLICY.get().copied().unwrap_or_default()
}

/// Parses an RPC URL ([`ChainError::BadUrl`] naming it when it does not parse).
pub fn rpc_url(rpc: &str) -> ChainResult<Url> {
    Url::parse(rpc).map_err(|e| ChainError::BadUrl {
        url: rpc.to_owned(),
        reason: e.to_string(),
    })
}

/// An HTTP JSON-RPC client for `url` behind the retry layer of `policy`.
pub fn rpc_client(url: Url, policy: &RetryPolicy) -> RpcClient {
    ClientBuilder::default().layer(policy.layer()).http(url)
}

/// A read-only provider for `url` (with the [`default_policy`]).
pub fn connect(url: Url) -> DynProvider {
    connect_with_policy(url, &default_policy())
}

/// A read-only provider for `url` with `policy`.
pub fn connect_with_policy(url: Url, policy: &RetryPolicy) -> DynProvider {
    ProviderBuilder::new()
        .connect_client(rpc_client(url, policy))
        .erased()
}

/// A provider for `url` that signs with `wallet` (with the [`default_policy`]).
pub fn connect_with_wallet(url: Url, wallet: EthereumWallet) -> DynProvider {
    connect_with_wallet_and_policy(url, wallet, &default_policy())
}

/// A provider for `url` that signs with `wallet`, with `policy`.
pub fn connect_with_wallet_and_policy(
    url: Url,
    wallet: EthereumWallet,
    policy: &RetryPolicy,
) -> DynProvider {
    ProviderBuilder::new()
        .wallet(wallet)
        .connect_client(rpc_client(url, policy))
        .erased()
}
