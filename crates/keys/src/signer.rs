//! The one signer type every service gets its key as.

use crate::error::{KeyError, KeyResult};
use crate::pkcs11::Pkcs11Signer;
use alloy_consensus::SignableTransaction;
use alloy_network::{TxSigner, TxSignerSync};
use alloy_primitives::{Address, B256, ChainId, Signature};
use alloy_signer::{Signer, SignerSync, sign_transaction_with_chain_id};
use alloy_signer_local::PrivateKeySigner;
use async_trait::async_trait;

/// A key loaded from a [`KeySpec`](crate::KeySpec): in process memory (keystore, or `env:` on a
/// devnet) or on a PKCS#11 token.
///
/// It implements alloy's [`Signer`], [`SignerSync`], [`TxSigner`] and [`TxSignerSync`], so it
/// goes into `EthereumWallet::new(signer)` (or `ProviderBuilder::wallet`) as it is. Cheap to
/// clone. `Debug` shows the address and where the key lives, never the key.
#[derive(Clone, Debug)]
pub enum KeySigner {
    /// A key in process memory (decrypted keystore, or a devnet's raw key).
    Local(PrivateKeySigner),
    /// A key on a PKCS#11 token.
    Pkcs11(Pkcs11Signer),
}

impl KeySigner {
    /// The key's address.
    pub fn address(&self) -> Address {
        match self {
            Self::Local(signer) => signer.address(),
            Self::Pkcs11(signer) => signer.address(),
        }
    }

    /// The chain id used for transactions (EIP-155), if set.
    pub fn chain_id(&self) -> Option<ChainId> {
        match self {
            Self::Local(signer) => signer.chain_id(),
            Self::Pkcs11(signer) => signer.chain_id(),
        }
    }

    /// The same signer with the chain id used for transactions.
    #[must_use]
    pub fn with_chain_id(mut self, chain_id: Option<ChainId>) -> Self {
        self.set_chain(chain_id);
        self
    }

    fn set_chain(&mut self, chain_id: Option<ChainId>) {
        match self {
            Self::Local(signer) => Signer::set_chain_id(signer, chain_id),
            Self::Pkcs11(signer) => signer.set_chain_id(chain_id),
        }
    }

    /// `local` or `pkcs11`: where the key lives (for logs).
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Local(_) => "local",
            Self::Pkcs11(_) => "pkcs11",
        }
    }

    /// Signs a 32-byte digest (blocking), e.g. an EIP-712 signing hash: low `s`, with its
    /// recovery id.
    pub fn sign_hash_sync(&self, digest: &B256) -> KeyResult<Signature> {
        match self {
            Self::Local(signer) => {
                SignerSync::sign_hash_sync(signer, digest).map_err(KeyError::Sign)
            }
            Self::Pkcs11(signer) => signer.sign_hash_sync(digest),
        }
    }

    /// Signs a 32-byte digest without blocking an async runtime (a token call runs on tokio's
    /// blocking pool).
    pub async fn sign_digest(&self, digest: &B256) -> KeyResult<Signature> {
        match self {
            Self::Local(signer) => {
                SignerSync::sign_hash_sync(signer, digest).map_err(KeyError::Sign)
            }
            Self::Pkcs11(signer) => signer.sign_hash(digest).await,
        }
    }
}

impl From<PrivateKeySigner> for KeySigner {
    fn from(signer: PrivateKeySigner) -> Self {
        Self::Local(signer)
    }
}

impl From<Pkcs11Signer> for KeySigner {
    fn from(signer: Pkcs11Signer) -> Self {
        Self::Pkcs11(signer)
    }
}

#[async_trait]
impl Signer for KeySigner {
    async fn sign_hash(&self, hash: &B256) -> alloy_signer::Result<Signature> {
        self.sign_digest(hash)
            .await
            .map_err(alloy_signer::Error::other)
    }

    fn address(&self) -> Address {
        KeySigner::address(self)
    }

    fn chain_id(&self) -> Option<ChainId> {
        KeySigner::chain_id(self)
    }

    fn set_chain_id(&mut self, chain_id: Option<ChainId>) {
        self.set_chain(chain_id);
    }
}

impl SignerSync for KeySigner {
    fn sign_hash_sync(&self, hash: &B256) -> alloy_signer::Result<Signature> {
        KeySigner::sign_hash_sync(self, hash).map_err(alloy_signer::Error::other)
    }

    fn chain_id_sync(&self) -> Option<ChainId> {
        KeySigner::chain_id(self)
    }
}

#[async_trait]
impl TxSigner<Signature> for KeySigner {
    fn address(&self) -> Address {
        KeySigner::address(self)
    }

    async fn sign_transaction(
        &self,
        tx: &mut dyn SignableTransaction<Signature>,
    ) -> alloy_signer::Result<Signature> {
        sign_transaction_with_chain_id!(self, tx, self.sign_digest(&tx.signature_hash()).await)
    }
}

impl TxSignerSync<Signature> for KeySigner {
    fn address(&self) -> Address {
        KeySigner::address(self)
    }

    fn sign_transaction_sync(
        &self,
        tx: &mut dyn SignableTransaction<Signature>,
    ) -> alloy_signer::Result<Signature> {
        sign_transaction_with_chain_id!(
            self,
            tx,
            KeySigner::sign_hash_sync(self, &tx.signature_hash())
        )
    }
}

alloy_network::impl_into_wallet!(KeySigner);
