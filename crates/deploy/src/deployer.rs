//! The deployer key, as the Rust side (the verifiers, the EntryPoint) and forge (the
//! deployment script) each sign with it.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use sealgrid_keys::{KeySigner, KeySpec, LoadContext, PasswordSource};
use zeroize::Zeroizing;

use sealgrid_chain::{ChainError, ChainResult};

/// The key a deployment is sent from: a keystore (any network) or a raw key (local devnets
/// only). The Rust side signs the verifier deployments with it, and forge signs
/// `deploy/Deploy.s.sol`'s transactions with the same key: a raw key goes to the script in
/// `SG_DEPLOYER_KEY` (the environment, never argv); a keystore goes to forge as
/// `--keystore PATH --password-file FILE` (a private temporary file holding the password, removed
/// when forge exits). A PKCS#11 key is refused: forge cannot sign with a token.
///
/// `Debug` shows the address and the kind, never the key.
#[derive(Clone)]
pub struct Deployer {
    signer: KeySigner,
    forge: ForgeWallet,
}

#[derive(Clone)]
enum ForgeWallet {
    /// A raw key for `SG_DEPLOYER_KEY` (local devnets only).
    Raw(PrivateKeySigner),
    /// A keystore file forge decrypts itself.
    Keystore {
        path: PathBuf,
        password: PasswordSource,
    },
}

impl std::fmt::Debug for Deployer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployer")
            .field("address", &self.address())
            .field("kind", &self.kind())
            .finish()
    }
}

fn key_error(e: impl std::fmt::Display) -> ChainError {
    ChainError::Config(format!("deployer key: {e}"))
}

impl Deployer {
    /// A raw key (a devnet's dev key, or `env:VAR` on a local network): forge gets it in
    /// `SG_DEPLOYER_KEY`. [`crate::deploy`] refuses it for anything but a local network.
    pub fn raw(signer: PrivateKeySigner) -> Self {
        Self {
            signer: KeySigner::Local(signer.clone()),
            forge: ForgeWallet::Raw(signer),
        }
    }

    /// Loads the key `spec` names: a keystore (decrypted here, to check the password and sign the
    /// verifier deployments, and handed to forge as a file) or, when `ctx` allows raw keys (a
    /// local devnet), `env:VAR`. A PKCS#11 spec is a [`ChainError::Config`] that names the
    /// keystore option.
    pub fn load(spec: &KeySpec, ctx: &LoadContext) -> ChainResult<Self> {
        match spec {
            KeySpec::Pkcs11(_) => Err(ChainError::Config(
                "deployer key: forge script signs the deployment and cannot use a PKCS#11 token; \
                 deploy from a keystore (--deployer-key keystore:PATH, password in \
                 $SEALGRID_KEYSTORE_PASSWORD), or run deploy/Deploy.s.sol with forge's own wallet \
                 options (--ledger, --account, --keystore; docs/operations.md, \"Deployer key\")"
                    .into(),
            )),
            KeySpec::Keystore(k) => {
                let signer = spec.load(ctx).map_err(key_error)?;
                Ok(Self {
                    signer,
                    forge: ForgeWallet::Keystore {
                        path: expand_home(&k.path),
                        password: k.password.clone(),
                    },
                })
            }
            KeySpec::Env { .. } => match spec.load(ctx).map_err(key_error)? {
                KeySigner::Local(signer) => Ok(Self::raw(signer)),
                KeySigner::Pkcs11(_) => Err(key_error("an env: spec gave a token key")),
            },
        }
    }

    /// The deployer's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The signer (for the transactions sent from Rust).
    pub fn signer(&self) -> &KeySigner {
        &self.signer
    }

    /// `raw` or `keystore`.
    pub fn kind(&self) -> &'static str {
        match self.forge {
            ForgeWallet::Raw(_) => "raw",
            ForgeWallet::Keystore { .. } => "keystore",
        }
    }

    /// Whether forge gets the key itself in `SG_DEPLOYER_KEY` (a raw devnet key).
    pub fn is_raw(&self) -> bool {
        matches!(self.forge, ForgeWallet::Raw(_))
    }

    /// What forge needs to sign as this deployer: environment for the script and wallet
    /// arguments (no secret in them), and the temporary password file to keep alive while forge
    /// runs.
    pub(crate) fn forge_wallet(&self) -> ChainResult<ForgeSigner> {
        match &self.forge {
            ForgeWallet::Raw(signer) => Ok(ForgeSigner {
                env: vec![("SG_DEPLOYER_KEY", signer.to_bytes().to_string())],
                args: Vec::new(),
                _password_file: None,
            }),
            ForgeWallet::Keystore { path, password } => {
                let password = read_password(password)?;
                let mut file = tempfile::Builder::new()
                    .prefix("sealgrid-deployer-")
                    .tempfile()
                    .map_err(|e| key_error(format!("a password file for forge: {e}")))?;
                file.write_all(password.as_bytes())
                    .and_then(|()| file.flush())
                    .map_err(|e| key_error(format!("a password file for forge: {e}")))?;
                Ok(ForgeSigner {
                    env: Vec::new(),
                    args: vec![
                        "--keystore".into(),
                        path.clone().into_os_string(),
                        "--password-file".into(),
                        file.path().as_os_str().to_owned(),
                    ],
                    _password_file: Some(file),
                })
            }
        }
    }
}

/// forge's side of a [`Deployer`] for one run.
pub(crate) struct ForgeSigner {
    /// Variables for the script (`SG_DEPLOYER_KEY` for a raw key).
    pub(crate) env: Vec<(&'static str, String)>,
    /// forge's wallet options.
    pub(crate) args: Vec<std::ffi::OsString>,
    /// The password file (readable by this user only; removed on drop).
    _password_file: Option<tempfile::NamedTempFile>,
}

/// The keystore password as `sealgrid_keys` reads it: the variable, or the first line of the file.
fn read_password(source: &PasswordSource) -> ChainResult<Zeroizing<String>> {
    match source {
        PasswordSource::Env(var) => std::env::var(var).map(Zeroizing::new).map_err(|_| {
            key_error(format!(
                "the keystore password is not in ${var} (forge needs it too)"
            ))
        }),
        PasswordSource::File(path) => {
            let path = expand_home(path);
            let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(|e| {
                key_error(format!("reading the password file {}: {e}", path.display()))
            })?);
            let first = text.split(['\n', '\r']).next().unwrap_or_default();
            Ok(Zeroizing::new(first.to_owned()))
        }
    }
}

/// A leading `~/` is the home directory, as `sealgrid_keys` reads a keystore path.
fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keystore_goes_to_forge_as_a_file_and_a_token_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let (address, path) = sealgrid_keys::create_keystore(dir.path(), "pw").expect("keystore");
        let pw = dir.path().join("pw.txt");
        std::fs::write(&pw, "pw\n").expect("password file");
        let spec: KeySpec = format!("keystore:{}?password-file={}", path.display(), pw.display())
            .parse()
            .expect("spec");
        let d = Deployer::load(&spec, &LoadContext::new()).expect("loads");
        assert_eq!(
            (d.address(), d.kind(), d.is_raw()),
            (address, "keystore", false)
        );
        let f = d.forge_wallet().expect("forge wallet");
        assert!(f.env.is_empty(), "no key in the environment");
        assert_eq!(f.args[0], "--keystore");
        assert_eq!(f.args[1], path.as_os_str());
        let written = std::fs::read_to_string(&f.args[3]).expect("password file");
        assert_eq!(written, "pw", "the first line, no newline");
        let file = PathBuf::from(&f.args[3]);
        drop(f);
        assert!(!file.exists(), "the password file is removed after the run");
        assert!(!format!("{d:?}").contains("pw"));

        let token: KeySpec = "pkcs11:/usr/lib/softhsm/libsofthsm2.so?token=t&key=k"
            .parse()
            .expect("spec");
        let e = Deployer::load(&token, &LoadContext::new()).expect_err("token");
        assert!(e.to_string().contains("keystore:PATH"), "{e}");

        let raw: KeySpec = "env:SEALGRID_TEST_DEPLOYER_KEY_UNSET"
            .parse()
            .expect("spec");
        assert!(
            Deployer::load(&raw, &LoadContext::new()).is_err(),
            "raw off a devnet"
        );
    }
}
