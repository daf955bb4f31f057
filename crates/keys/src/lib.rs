#![doc = include_str!("../README.md")]

mod context;
mod error;
mod keystore;
pub mod pkcs11;
mod signer;
mod spec;

pub use context::LoadContext;
pub use error::{KeyError, KeyResult};
pub use keystore::{create_keystore, import_keystore, open_keystore};
pub use pkcs11::Pkcs11Signer;
pub use signer::KeySigner;
pub use spec::{
    DEFAULT_PASSWORD_ENV, DEFAULT_PIN_ENV, KeySpec, KeystoreSpec, PasswordSource, Pkcs11Spec,
};
