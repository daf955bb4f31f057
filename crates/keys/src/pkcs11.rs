//! secp256k1 keys on PKCS#11 tokens (HSMs, SoftHSM2), through `cryptoki`.
//!
//! The token signs the 32-byte digest with `CKM_ECDSA` and returns `r || s`; the signer
//! normalises `s` to the lower half of the order (EIP-2) and finds the recovery id by recovering
//! against the token's public key (`CKA_EC_POINT` of the public key object with the same label).
//! A module is loaded and `C_Initialize`d once per process (a registry keyed by its canonical
//! path); each signer keeps one logged-in session behind a mutex, reopened once if the token
//! drops it.

use crate::error::{KeyError, KeyResult};
use crate::spec::Pkcs11Spec;
use alloy_primitives::{Address, B256, ChainId, Signature, keccak256};
use alloy_signer::k256::ecdsa::{RecoveryId, Signature as EcdsaSignature, VerifyingKey};
use alloy_signer::utils::public_key_to_address;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// `CKA_EC_PARAMS` of secp256k1: the DER-encoded named curve OID 1.3.132.0.10.
pub const SECP256K1_EC_PARAMS: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];

/// Where Debian's `softhsm2` package installs the SoftHSM2 module (tried in this order).
pub const SOFTHSM_MODULE_PATHS: [&str; 2] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
];

/// The SoftHSM2 module, if installed (`scripts/setup.sh` installs it).
pub fn softhsm_module() -> Option<PathBuf> {
    SOFTHSM_MODULE_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
}

/// The process-wide contexts, one per module: `C_Initialize` once, never finalised.
static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();

/// The initialised context of `module`, loading it on first use.
fn context(module: &Path) -> KeyResult<Pkcs11> {
    let failed = |source: Box<dyn std::error::Error + Send + Sync>| KeyError::Pkcs11Module {
        module: module.to_path_buf(),
        source,
    };
    let canonical = std::fs::canonicalize(module).map_err(|e| failed(Box::new(e)))?;
    let mut contexts = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(ctx) = contexts.get(&canonical) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(&canonical).map_err(|e| failed(Box::new(e)))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Another library in this process initialised it first: its context serves us too.
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(failed(Box::new(e))),
    }
    contexts.insert(canonical, ctx.clone());
    Ok(ctx)
}

fn op(op: &'static str) -> impl FnOnce(CkError) -> KeyError {
    move |source| KeyError::Pkcs11 { op, source }
}

/// The one slot whose initialised token has `label`.
fn find_slot(ctx: &Pkcs11, module: &Path, label: &str) -> KeyResult<Slot> {
    let slots = ctx
        .get_slots_with_initialized_token()
        .map_err(op("list slots"))?;
    let mut found = Vec::new();
    let mut available = Vec::new();
    for slot in slots {
        let info = ctx.get_token_info(slot).map_err(op("read token info"))?;
        let token = info.label().trim_end().to_owned();
        if token == label {
            found.push(slot);
        }
        available.push(token);
    }
    match found.as_slice() {
        [slot] => Ok(*slot),
        [] => Err(KeyError::TokenNotFound {
            module: module.to_path_buf(),
            token: label.to_owned(),
            available,
        }),
        many => Err(KeyError::AmbiguousToken {
            token: label.to_owned(),
            count: many.len(),
        }),
    }
}

/// Logs the session's application in as the user (already logged in through another session
/// of this process is fine).
fn login(session: &Session, token: &str, pin: &AuthPin) -> KeyResult<()> {
    match session.login(UserType::User, Some(pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => Err(KeyError::WrongPin {
            token: token.to_owned(),
        }),
        Err(source) => Err(KeyError::Pkcs11 {
            op: "login",
            source,
        }),
    }
}

/// The one EC key object of `class` labelled `key`.
fn find_key(
    session: &Session,
    class: ObjectClass,
    token: &str,
    key: &str,
) -> KeyResult<ObjectHandle> {
    let template = [
        Attribute::Class(class),
        Attribute::KeyType(KeyType::EC),
        Attribute::Label(key.into()),
    ];
    let found = session.find_objects(&template).map_err(op("find key"))?;
    match found.as_slice() {
        [handle] => Ok(*handle),
        other => Err(KeyError::KeyObject {
            token: token.to_owned(),
            key: key.to_owned(),
            class: if class == ObjectClass::PRIVATE_KEY {
                "private"
            } else {
                "public"
            },
            found: other.len(),
        }),
    }
}

/// The secp256k1 public key of an EC public key object.
fn read_public_key(session: &Session, handle: ObjectHandle, key: &str) -> KeyResult<VerifyingKey> {
    let attributes = session
        .get_attributes(handle, &[AttributeType::EcParams, AttributeType::EcPoint])
        .map_err(op("read public key"))?;
    let not_k1 = |reason: &str| KeyError::NotSecp256k1 {
        key: key.to_owned(),
        reason: reason.into(),
    };
    let (mut params, mut point) = (None, None);
    for attribute in attributes {
        match attribute {
            Attribute::EcParams(bytes) => params = Some(bytes),
            Attribute::EcPoint(bytes) => point = Some(bytes),
            _ => {}
        }
    }
    if params.as_deref() != Some(&SECP256K1_EC_PARAMS[..]) {
        return Err(not_k1(
            "its CKA_EC_PARAMS are not the secp256k1 OID 1.3.132.0.10",
        ));
    }
    let point = point.ok_or_else(|| not_k1("the public key object has no CKA_EC_POINT"))?;
    parse_ec_point(&point).ok_or_else(|| not_k1("CKA_EC_POINT is not a secp256k1 point"))
}

/// `CKA_EC_POINT`: a DER OCTET STRING around the SEC1 point (the standard form), or the bare
/// point (some tokens).
pub(crate) fn parse_ec_point(bytes: &[u8]) -> Option<VerifyingKey> {
    let wrapped = match bytes {
        [0x04, len, rest @ ..] if usize::from(*len) == rest.len() && *len < 0x80 => Some(rest),
        [0x04, 0x81, len, rest @ ..] if usize::from(*len) == rest.len() => Some(rest),
        _ => None,
    };
    wrapped
        .and_then(|inner| VerifyingKey::from_sec1_bytes(inner).ok())
        .or_else(|| VerifyingKey::from_sec1_bytes(bytes).ok())
}

/// `r || s` from `CKM_ECDSA` as an Ethereum signature: low `s`, recovery id found against
/// `public`. Fails unless the signature verifies under `public`.
pub(crate) fn to_eth_signature(
    raw: &[u8],
    digest: &B256,
    public: &VerifyingKey,
) -> Result<Signature, String> {
    if raw.len() != 64 {
        return Err(format!("{} bytes, expected 64 (r || s)", raw.len()));
    }
    let signature = EcdsaSignature::from_slice(raw)
        .map_err(|_| "r or s is zero or not below the curve order".to_owned())?;
    let signature = signature.normalize_s().unwrap_or(signature);
    let recovery_id =
        RecoveryId::trial_recovery_from_prehash(public, digest.as_slice(), &signature)
            .map_err(|_| "it does not verify against the token's public key".to_owned())?;
    Ok(Signature::from((signature, recovery_id)))
}

/// A logged-in session and the private key's handle in it.
struct Open {
    session: Session,
    private: ObjectHandle,
}

/// Opens a session on the token, logs in, and finds the key pair.
fn connect(ctx: &Pkcs11, spec: &Pkcs11Spec, pin: &AuthPin) -> KeyResult<(Open, VerifyingKey)> {
    let slot = find_slot(ctx, &spec.module, &spec.token)?;
    let session = ctx.open_ro_session(slot).map_err(op("open session"))?;
    login(&session, &spec.token, pin)?;
    let private = find_key(&session, ObjectClass::PRIVATE_KEY, &spec.token, &spec.key)?;
    let public = find_key(&session, ObjectClass::PUBLIC_KEY, &spec.token, &spec.key)?;
    let public = read_public_key(&session, public, &spec.key)?;
    Ok((Open { session, private }, public))
}

/// Errors after which a fresh session (and login) may succeed.
fn session_lost(error: &CkError) -> bool {
    matches!(
        error,
        CkError::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::UserNotLoggedIn
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent,
            _
        )
    )
}

struct Inner {
    ctx: Pkcs11,
    spec: Pkcs11Spec,
    pin: AuthPin,
    public: VerifyingKey,
    address: Address,
    session: Mutex<Option<Open>>,
}

impl Inner {
    /// Signs `digest` in the session, reopening it once if the token lost it.
    fn sign(&self, digest: &B256) -> KeyResult<Vec<u8>> {
        let mut guard = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let mut retried = false;
        loop {
            let open = match guard.take() {
                Some(open) => open,
                None => {
                    let (open, public) = connect(&self.ctx, &self.spec, &self.pin)?;
                    if public != self.public {
                        return Err(KeyError::KeyChanged {
                            token: self.spec.token.clone(),
                            key: self.spec.key.clone(),
                        });
                    }
                    open
                }
            };
            match open
                .session
                .sign(&Mechanism::Ecdsa, open.private, digest.as_slice())
            {
                Ok(raw) => {
                    *guard = Some(open);
                    return Ok(raw);
                }
                Err(e) if !retried && session_lost(&e) => {
                    retried = true;
                    drop(open);
                }
                Err(source) => {
                    *guard = Some(open);
                    return Err(KeyError::Pkcs11 { op: "sign", source });
                }
            }
        }
    }
}

/// A secp256k1 key on a PKCS#11 token. Cheap to clone (clones share one session); usable from
/// several threads (signing holds the session's mutex).
#[derive(Clone)]
pub struct Pkcs11Signer {
    inner: Arc<Inner>,
    chain_id: Option<ChainId>,
}

impl Pkcs11Signer {
    /// Logs in to the token `spec.token` of `spec.module` with `pin`, finds the key pair
    /// labelled `spec.key`, and checks one signature against its public key.
    pub fn open(spec: &Pkcs11Spec, pin: &str) -> KeyResult<Self> {
        let ctx = context(&spec.module)?;
        let pin = AuthPin::from(pin);
        let (open, public) = connect(&ctx, spec, &pin)?;
        let inner = Inner {
            ctx,
            spec: spec.clone(),
            pin,
            address: public_key_to_address(&public),
            public,
            session: Mutex::new(Some(open)),
        };
        let signer = Self {
            inner: Arc::new(inner),
            chain_id: None,
        };
        signer.sign_hash_sync(&keccak256(b"sealgrid-keys: PKCS#11 self-test"))?;
        Ok(signer)
    }

    /// The key's address (keccak of its public key).
    pub fn address(&self) -> Address {
        self.inner.address
    }

    /// The key's public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.inner.public
    }

    /// The spec the signer was opened from.
    pub fn spec(&self) -> &Pkcs11Spec {
        &self.inner.spec
    }

    /// The chain id used for transactions.
    pub fn chain_id(&self) -> Option<ChainId> {
        self.chain_id
    }

    /// Sets the chain id used for transactions.
    pub fn set_chain_id(&mut self, chain_id: Option<ChainId>) {
        self.chain_id = chain_id;
    }

    /// Signs a 32-byte digest on the token (blocking): low `s`, recovery id set, checked
    /// against the token's public key.
    pub fn sign_hash_sync(&self, digest: &B256) -> KeyResult<Signature> {
        let raw = self.inner.sign(digest)?;
        to_eth_signature(&raw, digest, &self.inner.public).map_err(|reason| {
            KeyError::BadSignature {
                key: self.inner.spec.key.clone(),
                reason,
            }
        })
    }

    /// Signs a digest without blocking an async runtime: on a tokio runtime the token call runs
    /// on its blocking pool, elsewhere inline.
    pub async fn sign_hash(&self, digest: &B256) -> KeyResult<Signature> {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let (signer, digest) = (self.clone(), *digest);
                handle
                    .spawn_blocking(move || signer.sign_hash_sync(&digest))
                    .await
                    .map_err(|e| KeyError::SignTask(e.to_string()))?
            }
            Err(_) => self.sign_hash_sync(digest),
        }
    }
}

impl fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("module", &self.inner.spec.module)
            .field("token", &self.inner.spec.token)
            .field("key", &self.inner.spec.key)
            .field("address", &self.inner.address)
            .field("chain_id", &self.chain_id)
            .finish_non_exhaustive()
    }
}

/// Generates a secp256k1 key pair labelled `label` on the token labelled `token` (for tests and
/// key ceremonies): `CKM_EC_KEY_PAIR_GEN` on the secp256k1 curve, both objects on the token
/// (`CKA_TOKEN`), the private key `CKA_SIGN`, `CKA_SENSITIVE` and not `CKA_EXTRACTABLE`, both
/// with the same random `CKA_ID`. Refuses a label already in use. Returns the key's address.
pub fn generate_key(module: &Path, token: &str, pin: &str, label: &str) -> KeyResult<Address> {
    // One generation at a time in this process: the label check below and the generation are
    // then one step for every thread, and SoftHSM2's file object store, which answers
    // CKR_GENERAL_ERROR now and then when two sessions create token objects at once (seen in
    // CI with the tests' parallel threads), never sees two.
    static GENERATING: Mutex<()> = Mutex::new(());
    let _one = GENERATING.lock().unwrap_or_else(PoisonError::into_inner);
    let ctx = context(module)?;
    let slot = find_slot(&ctx, module, token)?;
    let session = ctx.open_rw_session(slot).map_err(op("open session"))?;
    login(&session, token, &AuthPin::from(pin))?;
    let existing = session
        .find_objects(&[Attribute::Label(label.into())])
        .map_err(op("find key"))?;
    if !existing.is_empty() {
        return Err(KeyError::KeyExists {
            token: token.to_owned(),
            key: label.to_owned(),
        });
    }
    let id = session
        .generate_random_vec(16)
        .map_err(op("generate random"))?;
    let public_template = [
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::EcParams(SECP256K1_EC_PARAMS.to_vec()),
        Attribute::Label(label.into()),
        Attribute::Id(id.clone()),
    ];
    let private_template = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sign(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Label(label.into()),
        Attribute::Id(id),
    ];
    let (public, _private) = session
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &public_template,
            &private_template,
        )
        .map_err(op("generate key pair"))?;
    let public = read_public_key(&session, public, label)?;
    Ok(public_key_to_address(&public))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_signer::k256::ecdsa::SigningKey;

    fn key(byte: u8) -> SigningKey {
        SigningKey::from_slice(&[byte; 32]).expect("valid scalar")
    }

    #[test]
    fn ec_point_forms() {
        let public = *key(7).verifying_key();
        let point = public.to_encoded_point(false);
        let bare = point.as_bytes().to_vec();
        assert_eq!(bare.len(), 65);
        let mut der = vec![0x04, 65];
        der.extend_from_slice(&bare);
        let mut long_der = vec![0x04, 0x81, 65];
        long_der.extend_from_slice(&bare);
        let compressed = public.to_encoded_point(true).as_bytes().to_vec();
        let mut der_compressed = vec![0x04, 33];
        der_compressed.extend_from_slice(&compressed);
        for form in [&der, &bare, &long_der, &compressed, &der_compressed] {
            assert_eq!(parse_ec_point(form), Some(public), "{}", hex::encode(form));
        }
        assert_eq!(parse_ec_point(&der[..66]), None);
        assert_eq!(parse_ec_point(&[0x04, 0x00]), None);
        assert_eq!(parse_ec_point(&[]), None);
    }

    #[test]
    fn high_s_is_normalised_and_recovers() {
        let signing = key(9);
        let public = *signing.verifying_key();
        let address = public_key_to_address(&public);
        let mut high_seen = 0;
        for i in 0u8..32 {
            let digest = keccak256([i]);
            let (low, _) = signing
                .sign_prehash_recoverable(digest.as_slice())
                .expect("sign");
            // The token may return either s; build the high-s twin and feed both.
            let (r, s) = low.split_scalars();
            let high = EcdsaSignature::from_scalars(r, -*s).expect("high s");
            for raw in [low.to_bytes(), high.to_bytes()] {
                let sig = to_eth_signature(&raw, &digest, &public).expect("recovers");
                assert!(sig.normalize_s().is_none(), "s must already be low");
                assert_eq!(
                    sig.recover_address_from_prehash(&digest).expect("recover"),
                    address
                );
            }
            if high.normalize_s().is_some() {
                high_seen += 1;
            }
        }
        assert_eq!(high_seen, 32, "every twin had a high s");
    }

    #[test]
    fn foreign_or_malformed_signatures_are_refused() {
        let digest = keccak256(b"x");
        let (other, _) = key(3)
            .sign_prehash_recoverable(digest.as_slice())
            .expect("sign");
        let public = *key(4).verifying_key();
        let err = to_eth_signature(&other.to_bytes(), &digest, &public).expect_err("foreign");
        assert!(err.contains("does not verify"), "{err}");
        assert!(
            to_eth_signature(&[1u8; 63], &digest, &public)
                .expect_err("short")
                .contains("63")
        );
        assert!(to_eth_signature(&[0u8; 64], &digest, &public).is_err());
    }

    #[test]
    fn missing_module_fails_to_load() {
        let err = context(Path::new("/nonexistent/pkcs11.so")).expect_err("absent");
        assert!(matches!(err, KeyError::Pkcs11Module { .. }), "{err:?}");
    }
}
