//! The one error type of the crate.
//!
//! No variant carries a key, a password or a PIN: messages name the variable, the file or the
//! token label that was involved, never its secret contents.

use alloy_primitives::Address;
use std::path::PathBuf;

/// Result of this crate's operations.
pub type KeyResult<T> = Result<T, KeyError>;

/// Why a key could not be parsed, loaded, created or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The spec string is itself a private key (64 hex digits): keys never go in argv.
    #[error(
        "the key spec looks like a raw private key: keys never go in argv (or in a config file); \
         use keystore:PATH, pkcs11:MODULE?token=..&key=.., or on a local devnet env:VAR"
    )]
    KeyInArgv,
    /// The spec string carries a password or a PIN, which never go in argv either.
    #[error(
        "the key spec carries a {what} (`{param}=`): secrets never go in argv; name an \
         environment variable (`{what}-env=VAR`) or a file instead"
    )]
    SecretInSpec {
        /// `password` or `PIN`.
        what: &'static str,
        /// The offending parameter name.
        param: String,
    },
    /// The spec has no `scheme:` prefix.
    #[error("a key spec needs a scheme: keystore:PATH, pkcs11:MODULE?token=..&key=.., or env:VAR")]
    MissingScheme,
    /// The spec's scheme is none of `keystore`, `pkcs11`, `env`.
    #[error("unknown key scheme `{scheme}`: expected keystore:, pkcs11: or env:")]
    UnknownScheme {
        /// The scheme given (only when it is a short word; never the rest of the spec).
        scheme: String,
    },
    /// The spec is syntactically wrong (empty path, bad query, missing or unknown parameter).
    #[error("malformed {scheme}: spec: {reason}")]
    Malformed {
        /// The scheme whose spec is malformed.
        scheme: &'static str,
        /// What is wrong (names parameters, never their values when they may be secret).
        reason: String,
    },
    /// An `env:` raw key was asked for on a network that is not a local devnet.
    #[error(
        "env:{var} is a raw private key, allowed only on a local devnet; on this network use an \
         encrypted keystore (keystore:PATH, e.g. from `cast wallet new`) or a PKCS#11 token \
         (pkcs11:MODULE?token=..&key=..)"
    )]
    RawKeyNotAllowed {
        /// The environment variable named by the spec.
        var: String,
    },
    /// An environment variable the spec depends on is not set (or not UTF-8).
    #[error("environment variable {var} ({what}) is not set")]
    MissingEnv {
        /// The variable's name.
        var: String,
        /// What it should hold: `keystore password`, `PKCS#11 PIN`, `private key`.
        what: &'static str,
    },
    /// The raw key in an environment variable is not a valid secp256k1 private key.
    #[error(
        "environment variable {var} does not hold a valid private key (32 bytes of hex, \
         optionally 0x-prefixed, nonzero and below the curve order)"
    )]
    InvalidEnvKey {
        /// The variable's name.
        var: String,
    },
    /// Private key bytes given to [`import_keystore`](crate::import_keystore) are not a valid
    /// secp256k1 scalar.
    #[error("not a valid private key (32 bytes, nonzero and below the secp256k1 order)")]
    InvalidKey,
    /// A password file could not be read.
    #[error("cannot read password file {path}: {source}")]
    PasswordFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A password is empty, which the keystore writer refuses.
    #[error("refusing an empty keystore password")]
    EmptyPassword,
    /// A keystore file could not be read.
    #[error("cannot read keystore {path}: {source}")]
    KeystoreRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not a Web3 Secret Storage v3 keystore.
    #[error("{path} is not a Web3 Secret Storage v3 keystore: {reason}")]
    KeystoreFormat {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The password does not open the keystore (its MAC does not match).
    #[error("wrong password for keystore {path} (MAC mismatch)")]
    WrongPassword {
        /// The file.
        path: PathBuf,
    },
    /// The keystore decrypted, but to a key whose address is not the one the file declares.
    #[error("keystore {path} declares address {declared} but holds the key of {actual}")]
    KeystoreAddressMismatch {
        /// The file.
        path: PathBuf,
        /// The `address` field of the file.
        declared: Address,
        /// The address of the decrypted key.
        actual: Address,
    },
    /// The keystore reader or writer failed for another reason.
    #[error("keystore {path}: {source}")]
    Keystore {
        /// The file.
        path: PathBuf,
        /// alloy's error.
        source: alloy_signer_local::LocalSignerError,
    },
    /// Refusing to overwrite an existing keystore file.
    #[error("{path} already exists: refusing to overwrite a keystore")]
    KeystoreExists {
        /// The file.
        path: PathBuf,
    },
    /// A file or directory operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The PKCS#11 module could not be loaded or initialised.
    #[error(
        "cannot load PKCS#11 module {module}: {source} (is it installed? SoftHSM2 on Debian is \
         /usr/lib/softhsm/libsofthsm2.so, which scripts/setup.sh installs)"
    )]
    Pkcs11Module {
        /// The module path.
        module: PathBuf,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No token with the label is present in any slot of the module.
    #[error("no PKCS#11 token labelled `{token}` in {module} (tokens present: {available:?})")]
    TokenNotFound {
        /// The module path.
        module: PathBuf,
        /// The label asked for.
        token: String,
        /// The labels that are present.
        available: Vec<String>,
    },
    /// Several slots hold a token with the label.
    #[error("{count} PKCS#11 tokens are labelled `{token}`: labels must be unique")]
    AmbiguousToken {
        /// The label.
        token: String,
        /// How many tokens carry it.
        count: usize,
    },
    /// The PIN was refused by the token.
    #[error("the PIN for PKCS#11 token `{token}` is incorrect")]
    WrongPin {
        /// The token label.
        token: String,
    },
    /// The token has no (or no single) EC key object with the label.
    #[error(
        "PKCS#11 token `{token}` has {found} EC {class} key objects labelled `{key}` (need one)"
    )]
    KeyObject {
        /// The token label.
        token: String,
        /// The key label.
        key: String,
        /// `private` or `public`.
        class: &'static str,
        /// How many were found.
        found: usize,
    },
    /// A key with the label already exists (key generation refuses to shadow it).
    #[error("PKCS#11 token `{token}` already has a key labelled `{key}`")]
    KeyExists {
        /// The token label.
        token: String,
        /// The key label.
        key: String,
    },
    /// The key on the token is not on secp256k1, or its public point is unreadable.
    #[error("PKCS#11 key `{key}` is not a usable secp256k1 key: {reason}")]
    NotSecp256k1 {
        /// The key label.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// After a reconnect, the token holds a different key under the label than at load.
    #[error(
        "PKCS#11 token `{token}` now holds a different key labelled `{key}` than when it was loaded"
    )]
    KeyChanged {
        /// The token label.
        token: String,
        /// The key label.
        key: String,
    },
    /// The token returned a signature that does not verify against its own public key.
    #[error("PKCS#11 key `{key}` returned an unusable signature: {reason}")]
    BadSignature {
        /// The key label.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A PKCS#11 call failed.
    #[error("PKCS#11 {op}: {source}")]
    Pkcs11 {
        /// The operation (`open session`, `login`, `sign`, ...).
        op: &'static str,
        /// cryptoki's error (the return value of the module).
        source: cryptoki::error::Error,
    },
    /// An in-memory key failed to sign.
    #[error("signing failed: {0}")]
    Sign(#[source] alloy_signer::Error),
    /// The blocking signing task could not be joined (it panicked or the runtime shut down).
    #[error("signing task failed: {0}")]
    SignTask(String),
}

impl KeyError {
    /// True for errors that come from what the operator typed (the spec string), as opposed to
    /// the environment, the files or the token.
    pub fn is_spec_error(&self) -> bool {
        matches!(
            self,
            Self::KeyInArgv
                | Self::SecretInSpec { .. }
                | Self::MissingScheme
                | Self::UnknownScheme { .. }
                | Self::Malformed { .. }
        )
    }
}
