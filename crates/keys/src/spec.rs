//! The key spec string: where a key comes from, never the key itself.

use crate::context::LoadContext;
use crate::error::{KeyError, KeyResult};
use crate::keystore;
use crate::pkcs11::Pkcs11Signer;
use crate::signer::KeySigner;
use alloy_signer_local::PrivateKeySigner;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use zeroize::Zeroizing;

/// The variable a keystore password is read from when the spec names none.
pub const DEFAULT_PASSWORD_ENV: &str = "SEALGRID_KEYSTORE_PASSWORD";

/// The variable a PKCS#11 PIN is read from when the spec names none.
pub const DEFAULT_PIN_ENV: &str = "SEALGRID_PKCS11_PIN";

/// Where a key comes from, parsed from one of:
///
/// - `keystore:PATH[?password-env=VAR | ?password-file=FILE]`: a Web3 Secret Storage v3 file
///   (`cast wallet new`, geth); the password from `VAR` (default
///   [`DEFAULT_PASSWORD_ENV`]) or from the first line of `FILE`;
/// - `pkcs11:MODULE?token=LABEL&key=LABEL[&pin-env=VAR]`: a secp256k1 key on a PKCS#11 token,
///   the PIN from `VAR` (default [`DEFAULT_PIN_ENV`]);
/// - `env:VAR`: a raw hex key in an environment variable, for local devnets only.
///
/// Query values may be percent-encoded (`%26` for `&`). A spec never holds a secret: a string
/// that is itself a private key, or that carries a password or PIN, is refused.
///
/// ```
/// use sealgrid_keys::{KeyError, KeySpec};
///
/// let spec: KeySpec = "pkcs11:/usr/lib/softhsm/libsofthsm2.so?token=ops&key=operator".parse()?;
/// assert_eq!(spec.kind(), "pkcs11");
/// let raw = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
/// assert!(matches!(raw.parse::<KeySpec>(), Err(KeyError::KeyInArgv)));
/// # Ok::<(), KeyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySpec {
    /// An encrypted keystore file.
    Keystore(KeystoreSpec),
    /// A key on a PKCS#11 token.
    Pkcs11(Pkcs11Spec),
    /// A raw hex private key in an environment variable (local devnets only).
    Env {
        /// The variable's name.
        var: String,
    },
}

/// A Web3 Secret Storage v3 keystore file and where its password comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeystoreSpec {
    /// The keystore file (a leading `~/` is the home directory).
    pub path: PathBuf,
    /// Where the password comes from.
    pub password: PasswordSource,
}

/// Where a keystore password comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordSource {
    /// The environment variable of this name.
    Env(String),
    /// The first line of this file (a trailing newline is not part of the password).
    File(PathBuf),
}

/// A key on a PKCS#11 token: the module, the token's label, the key objects' label and the
/// variable holding the user PIN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkcs11Spec {
    /// The PKCS#11 module (shared library), e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// The token's label (`CKA_LABEL` of the token, as `softhsm2-util --show-slots` prints it).
    pub token: String,
    /// The label of the key pair (`CKA_LABEL` of both the private and the public key object).
    pub key: String,
    /// The environment variable holding the user PIN.
    pub pin_env: String,
}

impl KeystoreSpec {
    /// A keystore file whose password is in [`DEFAULT_PASSWORD_ENV`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            password: PasswordSource::Env(DEFAULT_PASSWORD_ENV.into()),
        }
    }

    /// The same file with its password in the file `path`.
    #[must_use]
    pub fn with_password_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.password = PasswordSource::File(path.into());
        self
    }

    /// The same file with its password in the environment variable `var`.
    #[must_use]
    pub fn with_password_env(mut self, var: impl Into<String>) -> Self {
        self.password = PasswordSource::Env(var.into());
        self
    }
}

impl Pkcs11Spec {
    /// The key labelled `key` on the token labelled `token`, PIN in [`DEFAULT_PIN_ENV`].
    pub fn new(
        module: impl Into<PathBuf>,
        token: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        Self {
            module: module.into(),
            token: token.into(),
            key: key.into(),
            pin_env: DEFAULT_PIN_ENV.into(),
        }
    }

    /// The same key with its PIN in the environment variable `var`.
    #[must_use]
    pub fn with_pin_env(mut self, var: impl Into<String>) -> Self {
        self.pin_env = var.into();
        self
    }
}

impl KeySpec {
    /// `keystore`, `pkcs11` or `env`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Keystore(_) => "keystore",
            Self::Pkcs11(_) => "pkcs11",
            Self::Env { .. } => "env",
        }
    }

    /// True for `env:VAR`, a raw key (local devnets only).
    pub fn is_raw(&self) -> bool {
        matches!(self, Self::Env { .. })
    }

    /// Loads the key: decrypts the keystore, logs in to the token (and checks one signature
    /// against the token's public key), or, when `ctx` allows raw keys, reads the environment.
    /// The signer gets `ctx`'s chain id.
    pub fn load(&self, ctx: &LoadContext) -> KeyResult<KeySigner> {
        let signer = match self {
            Self::Keystore(spec) => KeySigner::Local(keystore::load(spec, ctx)?),
            Self::Pkcs11(spec) => {
                let pin = ctx.var(&spec.pin_env).ok_or_else(|| KeyError::MissingEnv {
                    var: spec.pin_env.clone(),
                    what: "PKCS#11 PIN",
                })?;
                KeySigner::Pkcs11(Pkcs11Signer::open(spec, &pin)?)
            }
            Self::Env { var } => KeySigner::Local(load_raw(var, ctx)?),
        };
        Ok(signer.with_chain_id(ctx.chain_id()))
    }
}

/// `env:VAR`: only with `allow_raw`, and the value must be a 32-byte hex key.
fn load_raw(var: &str, ctx: &LoadContext) -> KeyResult<PrivateKeySigner> {
    if !ctx.raw_allowed() {
        return Err(KeyError::RawKeyNotAllowed { var: var.into() });
    }
    let value = ctx.var(var).ok_or_else(|| KeyError::MissingEnv {
        var: var.into(),
        what: "private key",
    })?;
    let invalid = || KeyError::InvalidEnvKey { var: var.into() };
    let text = value.trim();
    let text = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if text.len() != 64 {
        return Err(invalid());
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text, &mut *bytes).map_err(|_| invalid())?;
    PrivateKeySigner::from_slice(&*bytes).map_err(|_| invalid())
}

impl FromStr for KeySpec {
    type Err = KeyError;

    fn from_str(s: &str) -> KeyResult<Self> {
        let s = s.trim();
        if looks_like_key(s) {
            return Err(KeyError::KeyInArgv);
        }
        let Some((scheme, body)) = s.split_once(':') else {
            return Err(KeyError::MissingScheme);
        };
        if looks_like_key(body) {
            return Err(KeyError::KeyInArgv);
        }
        match scheme.to_ascii_lowercase().as_str() {
            "keystore" => parse_keystore(body),
            "pkcs11" => parse_pkcs11(body),
            "env" => parse_env(body),
            _ => Err(KeyError::UnknownScheme {
                scheme: shown(scheme),
            }),
        }
    }
}

fn parse_keystore(body: &str) -> KeyResult<KeySpec> {
    const SCHEME: &str = "keystore";
    let (path, params) = split_query(SCHEME, body)?;
    if path.is_empty() {
        return Err(malformed(
            SCHEME,
            "the keystore path is empty (keystore:PATH)",
        ));
    }
    let mut spec = KeystoreSpec::new(path);
    let mut env = None;
    let mut file = None;
    for (name, value) in params {
        match name.as_str() {
            "password-env" => env = Some(env_name(SCHEME, "password-env", value)?),
            "password-file" if value.is_empty() => {
                return Err(malformed(SCHEME, "`password-file=` is empty"));
            }
            "password-file" => file = Some(PathBuf::from(value)),
            other => {
                return Err(malformed(
                    SCHEME,
                    format!(
                        "unknown parameter `{}` (expected password-env or password-file)",
                        shown(other)
                    ),
                ));
            }
        }
    }
    spec.password = match (env, file) {
        (Some(_), Some(_)) => {
            return Err(malformed(
                SCHEME,
                "give password-env or password-file, not both",
            ));
        }
        (Some(var), None) => PasswordSource::Env(var),
        (None, Some(path)) => PasswordSource::File(path),
        (None, None) => spec.password,
    };
    Ok(KeySpec::Keystore(spec))
}

fn parse_pkcs11(body: &str) -> KeyResult<KeySpec> {
    const SCHEME: &str = "pkcs11";
    let (module, params) = split_query(SCHEME, body)?;
    if module.is_empty() {
        return Err(malformed(
            SCHEME,
            "the module path is empty (pkcs11:MODULE?token=..&key=..)",
        ));
    }
    if module.contains('=') || module.contains(';') {
        return Err(malformed(
            SCHEME,
            "the module path contains `=` or `;`: RFC 7512 URIs (pkcs11:token=..;object=..) are \
             not this form; write pkcs11:MODULE_PATH?token=LABEL&key=LABEL",
        ));
    }
    let (mut token, mut key, mut pin_env) = (None, None, None);
    for (name, value) in params {
        match name.as_str() {
            "token" | "key" if value.is_empty() => {
                return Err(malformed(SCHEME, format!("`{name}=` is empty")));
            }
            "token" => token = Some(value),
            "key" => key = Some(value),
            "pin-env" => pin_env = Some(env_name(SCHEME, "pin-env", value)?),
            other => {
                return Err(malformed(
                    SCHEME,
                    format!(
                        "unknown parameter `{}` (expected token, key, pin-env)",
                        shown(other)
                    ),
                ));
            }
        }
    }
    let token = token.ok_or_else(|| malformed(SCHEME, "missing `token=LABEL`"))?;
    let key = key.ok_or_else(|| malformed(SCHEME, "missing `key=LABEL`"))?;
    let mut spec = Pkcs11Spec::new(module, token, key);
    if let Some(var) = pin_env {
        spec.pin_env = var;
    }
    Ok(KeySpec::Pkcs11(spec))
}

fn parse_env(body: &str) -> KeyResult<KeySpec> {
    if body.contains('?') {
        return Err(malformed("env", "env:VAR takes no parameters"));
    }
    Ok(KeySpec::Env {
        var: env_name("env", "env:", body.to_owned())?,
    })
}

/// Splits `PATH?a=b&c=d` into the path and decoded, checked parameters.
fn split_query(scheme: &'static str, body: &str) -> KeyResult<(String, Vec<(String, String)>)> {
    let (path, query) = match body.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (body, None),
    };
    let mut params: Vec<(String, String)> = Vec::new();
    if let Some(query) = query {
        if query.is_empty() {
            return Err(malformed(scheme, "empty query after `?`"));
        }
        for pair in query.split('&') {
            let (name, value) = match pair.split_once('=') {
                Some((name, value)) => (name.to_ascii_lowercase(), Some(value)),
                None => (pair.to_ascii_lowercase(), None),
            };
            if let Some(what) = secret_param(&name) {
                return Err(KeyError::SecretInSpec { what, param: name });
            }
            if looks_like_key(&name) {
                return Err(KeyError::KeyInArgv);
            }
            if name.is_empty() {
                return Err(malformed(
                    scheme,
                    "empty parameter (`&&`, `?&` or a trailing `&`)",
                ));
            }
            let Some(value) = value else {
                return Err(malformed(
                    scheme,
                    format!("parameter `{}` has no value (name=value)", shown(&name)),
                ));
            };
            let value = percent_decode(value)
                .ok_or_else(|| malformed(scheme, format!("bad percent-encoding in `{name}=`")))?;
            if looks_like_key(&value) {
                return Err(KeyError::KeyInArgv);
            }
            if params.iter().any(|(seen, _)| *seen == name) {
                return Err(malformed(
                    scheme,
                    format!("parameter `{}` given twice", shown(&name)),
                ));
            }
            params.push((name, value));
        }
    }
    Ok((path.to_owned(), params))
}

/// Parameters that would put a secret in the spec.
fn secret_param(name: &str) -> Option<&'static str> {
    match name {
        "password" | "pass" | "passphrase" | "pw" => Some("password"),
        "pin" | "pin-value" | "pin_value" | "so-pin" | "user-pin" => Some("PIN"),
        _ => None,
    }
}

/// True when `s` is a private key: 64 hex digits, optionally 0x-prefixed.
pub(crate) fn looks_like_key(s: &str) -> bool {
    let s = s.trim();
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
fn env_name(scheme: &'static str, what: &str, value: String) -> KeyResult<String> {
    let mut chars = value.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(value)
    } else {
        Err(malformed(
            scheme,
            format!("`{what}` must name an environment variable ([A-Za-z_][A-Za-z0-9_]*)"),
        ))
    }
}

/// `s` if it is short and harmless to print, else a placeholder (it may be a mangled secret).
fn shown(s: &str) -> String {
    let harmless = s.len() <= 24
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'));
    if harmless {
        s.to_owned()
    } else {
        "<not shown>".to_owned()
    }
}

fn malformed(scheme: &'static str, reason: impl Into<String>) -> KeyError {
    KeyError::Malformed {
        scheme,
        reason: reason.into(),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '&' | '=' | '?' | '#') || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

/// The spec string, which parses back to the same spec (paths must not contain `?`).
impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keystore(spec) => {
                write!(f, "keystore:{}", path_text(&spec.path))?;
                match &spec.password {
                    PasswordSource::Env(var) if var == DEFAULT_PASSWORD_ENV => Ok(()),
                    PasswordSource::Env(var) => write!(f, "?password-env={var}"),
                    PasswordSource::File(path) => {
                        write!(f, "?password-file={}", percent_encode(&path_text(path)))
                    }
                }
            }
            Self::Pkcs11(spec) => {
                write!(
                    f,
                    "pkcs11:{}?token={}&key={}",
                    path_text(&spec.module),
                    percent_encode(&spec.token),
                    percent_encode(&spec.key)
                )?;
                if spec.pin_env != DEFAULT_PIN_ENV {
                    write!(f, "&pin-env={}", spec.pin_env)?;
                }
                Ok(())
            }
            Self::Env { var } => write!(f, "env:{var}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

    fn parse(s: &str) -> KeyResult<KeySpec> {
        s.parse()
    }

    #[test]
    fn keystore_forms() {
        let spec = parse("keystore:/keys/operator.json").expect("parses");
        assert_eq!(
            spec,
            KeySpec::Keystore(KeystoreSpec::new("/keys/operator.json"))
        );
        let spec = parse("keystore:keys/op.json?password-file=/run/secrets/op").expect("parses");
        assert_eq!(
            spec,
            KeySpec::Keystore(
                KeystoreSpec::new("keys/op.json").with_password_file("/run/secrets/op")
            )
        );
        let spec = parse("  KEYSTORE:/k?password-env=OP_PASSWORD ").expect("parses");
        assert_eq!(
            spec,
            KeySpec::Keystore(KeystoreSpec::new("/k").with_password_env("OP_PASSWORD"))
        );
        assert_eq!(spec.kind(), "keystore");
        assert!(!spec.is_raw());
    }

    #[test]
    fn pkcs11_forms() {
        let spec =
            parse("pkcs11:/usr/lib/softhsm/libsofthsm2.so?token=ops&key=operator").expect("parses");
        assert_eq!(
            spec,
            KeySpec::Pkcs11(Pkcs11Spec::new(
                "/usr/lib/softhsm/libsofthsm2.so",
                "ops",
                "operator"
            ))
        );
        let spec =
            parse("pkcs11:/m.so?key=oracle%201&pin-env=ORACLE_PIN&token=a%26b").expect("parses");
        assert_eq!(
            spec,
            KeySpec::Pkcs11(Pkcs11Spec::new("/m.so", "a&b", "oracle 1").with_pin_env("ORACLE_PIN"))
        );
    }

    #[test]
    fn env_form() {
        let spec = parse("env:SEALGRID_OPERATOR_KEY").expect("parses");
        assert_eq!(
            spec,
            KeySpec::Env {
                var: "SEALGRID_OPERATOR_KEY".into()
            }
        );
        assert!(spec.is_raw());
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "keystore:/keys/operator.json",
            "keystore:/k?password-env=OP_PASSWORD",
            "keystore:/k?password-file=/run/a%26b",
            "pkcs11:/m.so?token=ops&key=operator",
            "pkcs11:/m.so?token=a%26b&key=k%3D1&pin-env=PIN2",
            "env:KEY_VAR",
        ] {
            let spec = parse(s).expect("parses");
            assert_eq!(spec.to_string(), s);
            assert_eq!(parse(&spec.to_string()).expect("reparses"), spec);
        }
    }

    #[test]
    fn raw_hex_in_argv_is_refused() {
        for s in [
            KEY.to_owned(),
            format!("0x{KEY}"),
            format!("0X{}", KEY.to_uppercase()),
            format!(" {KEY}\n"),
            format!("env:{KEY}"),
            format!("env:0x{KEY}"),
            format!("keystore:0x{KEY}"),
            format!("keystore:/k?password-file={KEY}"),
            format!("pkcs11:/m.so?token=t&key={KEY}"),
        ] {
            let err = parse(&s).expect_err("a key in argv must be refused");
            assert!(matches!(err, KeyError::KeyInArgv), "{s}: {err:?}");
            let message = err.to_string();
            assert!(message.contains("keys never go in argv"), "{message}");
            assert!(!message.contains(&KEY[..16]) && !message.contains(&KEY.to_uppercase()[..16]));
        }
    }

    #[test]
    fn secrets_in_the_query_are_refused() {
        for (s, what) in [
            ("keystore:/k?password=hunter2", "password"),
            ("keystore:/k?PASSWORD=hunter2", "password"),
            ("pkcs11:/m.so?token=t&key=k&pin=1234", "PIN"),
            ("pkcs11:/m.so?token=t&key=k&pin-value=1234", "PIN"),
        ] {
            let err = parse(s).expect_err("a secret in argv must be refused");
            match &err {
                KeyError::SecretInSpec { what: w, .. } => assert_eq!(*w, what),
                other => panic!("{s}: {other:?}"),
            }
            let message = err.to_string();
            assert!(message.contains("secrets never go in argv"), "{message}");
            assert!(
                !message.contains("hunter2") && !message.contains("1234"),
                "{message}"
            );
        }
    }

    #[test]
    fn unknown_or_missing_scheme_is_refused() {
        let err = parse("file:/keys/op.json").expect_err("unknown scheme");
        assert!(
            matches!(&err, KeyError::UnknownScheme { scheme } if scheme == "file"),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("expected keystore:, pkcs11: or env:")
        );
        assert!(matches!(
            parse("/keys/op.json"),
            Err(KeyError::MissingScheme)
        ));
        assert!(matches!(parse(""), Err(KeyError::MissingScheme)));
        // A mangled key with a colon in it is not echoed back.
        let err = parse(&format!("{}:{}", &KEY[..40], &KEY[40..])).expect_err("unknown scheme");
        assert!(!err.to_string().contains(&KEY[..40]), "{err}");
        // A 63-digit near-key without a scheme is not echoed either.
        let err = parse(&KEY[1..]).expect_err("no scheme");
        assert!(!err.to_string().contains(&KEY[1..20]), "{err}");
        assert!(err.is_spec_error());
    }

    #[test]
    fn malformed_queries_are_refused() {
        for (s, needle) in [
            ("keystore:", "path is empty"),
            ("keystore:?password-env=X", "path is empty"),
            ("keystore:/k?", "empty query"),
            ("keystore:/k?password-env", "has no value"),
            (
                "keystore:/k?password-env=1BAD",
                "must name an environment variable",
            ),
            ("keystore:/k?password-env=A&password-file=/f", "not both"),
            ("keystore:/k?password-env=A&password-env=B", "given twice"),
            ("keystore:/k?password-file=", "is empty"),
            ("keystore:/k?colour=blue", "unknown parameter `colour`"),
            ("keystore:/k?password-env=A&", "empty parameter"),
            ("keystore:/k?password-file=%zz", "bad percent-encoding"),
            ("keystore:/k?password-file=%4", "bad percent-encoding"),
            ("pkcs11:?token=t&key=k", "module path is empty"),
            ("pkcs11:/m.so", "missing `token=LABEL`"),
            ("pkcs11:/m.so?token=t", "missing `key=LABEL`"),
            ("pkcs11:/m.so?key=k", "missing `token=LABEL`"),
            ("pkcs11:/m.so?token=&key=k", "`token=` is empty"),
            (
                "pkcs11:/m.so?token=t&key=k&slot=0",
                "unknown parameter `slot`",
            ),
            (
                "pkcs11:/m.so?token=t&key=k&pin-env=has-dash",
                "must name an environment variable",
            ),
            ("pkcs11:/m.so?token=t&&key=k", "empty parameter"),
            (
                "pkcs11:token=ops;object=operator?module-path=/m.so",
                "RFC 7512",
            ),
            ("env:", "must name an environment variable"),
            ("env:MY-KEY", "must name an environment variable"),
            ("env:KEY?x=y", "takes no parameters"),
        ] {
            let err = parse(s).expect_err(s);
            assert!(matches!(err, KeyError::Malformed { .. }), "{s}: {err:?}");
            assert!(err.is_spec_error());
            assert!(err.to_string().contains(needle), "{s}: {err}");
        }
    }

    #[test]
    fn raw_key_is_refused_off_a_local_devnet() {
        let spec = parse("env:SEALGRID_TEST_KEY_NOT_SET_ANYWHERE").expect("parses");
        let ctx = LoadContext::new().with_var("SEALGRID_TEST_KEY_NOT_SET_ANYWHERE", KEY);
        let err = spec.load(&ctx).expect_err("raw keys are for local devnets");
        assert!(matches!(err, KeyError::RawKeyNotAllowed { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains("keystore:PATH") && message.contains("PKCS#11"),
            "{message}"
        );
        assert!(!message.contains(&KEY[..16]));
        assert!(!err.is_spec_error());

        // On a local devnet the same spec loads, and gives the key's address.
        let signer = spec
            .load(&ctx.clone().allow_raw(true))
            .expect("allowed on a devnet");
        let expected = PrivateKeySigner::from_slice(&hex::decode(KEY).expect("hex")).expect("key");
        assert_eq!(signer.address(), expected.address());
        let with_prefix = LoadContext::local_devnet()
            .with_var("SEALGRID_TEST_KEY_NOT_SET_ANYWHERE", format!(" 0x{KEY}\n"));
        assert_eq!(
            spec.load(&with_prefix).expect("0x prefix").address(),
            expected.address()
        );
    }

    #[test]
    fn raw_key_errors_do_not_show_the_value() {
        let spec = parse("env:SEALGRID_TEST_KEY_NOT_SET_ANYWHERE").expect("parses");
        let err = spec.load(&LoadContext::local_devnet()).expect_err("unset");
        assert!(
            matches!(
                err,
                KeyError::MissingEnv {
                    what: "private key",
                    ..
                }
            ),
            "{err:?}"
        );
        for bad in [
            "0x1234",
            "zz",
            &format!("{}zz", &KEY[..62]),
            &"0".repeat(64),
        ] {
            let ctx =
                LoadContext::local_devnet().with_var("SEALGRID_TEST_KEY_NOT_SET_ANYWHERE", bad);
            let err = spec.load(&ctx).expect_err("invalid");
            assert!(
                matches!(err, KeyError::InvalidEnvKey { .. }),
                "{bad}: {err:?}"
            );
            assert!(!err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn missing_password_env_is_reported_by_name() {
        let spec =
            parse("keystore:/nonexistent/k.json?password-env=SEALGRID_TEST_NO_SUCH_PASSWORD")
                .expect("parses");
        let err = spec.load(&LoadContext::new()).expect_err("no password");
        match &err {
            KeyError::MissingEnv { var, what } => {
                assert_eq!(var, "SEALGRID_TEST_NO_SUCH_PASSWORD");
                assert_eq!(*what, "keystore password");
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("SEALGRID_TEST_NO_SUCH_PASSWORD"));
    }

    #[test]
    fn missing_pin_env_is_reported_by_name() {
        let spec = parse("pkcs11:/nonexistent.so?token=t&key=k&pin-env=SEALGRID_TEST_NO_SUCH_PIN")
            .expect("parses");
        let err = spec.load(&LoadContext::new()).expect_err("no PIN");
        assert!(
            matches!(&err, KeyError::MissingEnv { var, what: "PKCS#11 PIN" } if var == "SEALGRID_TEST_NO_SUCH_PIN"),
            "{err:?}"
        );
    }

    #[test]
    fn missing_module_is_a_clear_error() {
        let spec = parse("pkcs11:/nonexistent/libnothing.so?token=t&key=k").expect("parses");
        let ctx = LoadContext::new().with_var(DEFAULT_PIN_ENV, "1234");
        let err = spec.load(&ctx).expect_err("no module");
        assert!(matches!(err, KeyError::Pkcs11Module { .. }), "{err:?}");
        assert!(
            err.to_string().contains("/nonexistent/libnothing.so"),
            "{err}"
        );
        assert!(!err.to_string().contains("1234"), "{err}");
    }

    #[test]
    fn context_debug_hides_values() {
        let ctx = LoadContext::local_devnet().with_var("SECRET_VAR", "hunter2");
        let shown = format!("{ctx:?}");
        assert!(
            shown.contains("SECRET_VAR") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
