//! Keys from key specs (`sealgrid_keys`): an encrypted keystore (`keystore:PATH`), a PKCS#11
//! token (`pkcs11:MODULE?token=..&key=..`) or, on a local devnet only, a raw key in an
//! environment variable (`env:VAR`). A key itself is never taken from argv.

use eyre::{Result, WrapErr};
use sealgrid_keys::{KeySigner, KeySpec, LoadContext};

/// Chain id of anvil's default devnet: offline signing for it may use raw devnet keys.
pub(crate) const ANVIL_CHAIN_ID: u64 = 31_337;

/// Loads the key `spec` names for `what` (the flag, for messages); a raw `env:` key only when
/// `local` (a local devnet).
pub(crate) fn load(spec: &str, what: &str, local: bool) -> Result<KeySigner> {
    let spec: KeySpec = spec
        .parse()
        .wrap_err_with(|| format!("{what}: not a key spec (keystore:PATH, pkcs11:MODULE?token=..&key=.., or env:VAR on a local devnet)"))?;
    let ctx = if local {
        LoadContext::local_devnet()
    } else {
        LoadContext::new()
    };
    spec.load(&ctx)
        .wrap_err_with(|| format!("{what}: loading the key"))
}
