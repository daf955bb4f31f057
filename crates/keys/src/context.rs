//! What the caller tells [`KeySpec::load`](crate::KeySpec::load) about where it runs.

use alloy_primitives::ChainId;
use std::collections::BTreeMap;
use std::fmt;
use zeroize::Zeroizing;

/// Where a key is being loaded: whether raw keys are allowed (local devnets only), the chain id
/// the signer should carry, and optionally secret values supplied in place of the process
/// environment (a password read from a prompt, or a test's values).
///
/// The default refuses raw keys: only [`LoadContext::local_devnet`] (or
/// [`LoadContext::allow_raw`]`(true)`) lets `env:VAR` through.
#[derive(Clone, Default)]
pub struct LoadContext {
    allow_raw: bool,
    chain_id: Option<ChainId>,
    vars: BTreeMap<String, Zeroizing<String>>,
}

impl LoadContext {
    /// A context for a real network: keystores and PKCS#11 tokens only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A context for a local devnet (anvil): `env:VAR` raw keys are allowed as well.
    pub fn local_devnet() -> Self {
        Self::default().allow_raw(true)
    }

    /// Sets whether `env:VAR` raw keys are allowed; pass true only for a local devnet
    /// (`network.kind = "local"`).
    #[must_use]
    pub fn allow_raw(mut self, allow: bool) -> Self {
        self.allow_raw = allow;
        self
    }

    /// Sets the chain id the loaded signer uses for transactions (EIP-155).
    #[must_use]
    pub fn with_chain_id(mut self, chain_id: Option<ChainId>) -> Self {
        self.chain_id = chain_id;
        self
    }

    /// Supplies the value of the variable `name`, taking precedence over the process
    /// environment (for a password read interactively, or in tests). The value is zeroed when
    /// the context is dropped and never printed.
    #[must_use]
    pub fn with_var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), Zeroizing::new(value.into()));
        self
    }

    /// Whether `env:VAR` raw keys are allowed.
    pub fn raw_allowed(&self) -> bool {
        self.allow_raw
    }

    /// The chain id loaded signers get.
    pub fn chain_id(&self) -> Option<ChainId> {
        self.chain_id
    }

    /// The value of variable `name`: a supplied value, else the process environment.
    pub(crate) fn var(&self, name: &str) -> Option<Zeroizing<String>> {
        if let Some(value) = self.vars.get(name) {
            return Some(value.clone());
        }
        std::env::var(name).ok().map(Zeroizing::new)
    }
}

impl fmt::Debug for LoadContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadContext")
            .field("allow_raw", &self.allow_raw)
            .field("chain_id", &self.chain_id)
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}
