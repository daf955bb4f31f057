//! Web3 Secret Storage v3 keystores (the files `cast wallet new`, `cast wallet import` and geth
//! write), through alloy's reader and writer.

use crate::context::LoadContext;
use crate::error::{KeyError, KeyResult};
use crate::spec::{KeystoreSpec, PasswordSource};
use alloy_primitives::Address;
use alloy_signer_local::{LocalSignerError, PrivateKeySigner};
use rand_08::RngCore;
use rand_08::rngs::OsRng;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

/// Decrypts the keystore a spec names, with the password from where the spec says.
pub(crate) fn load(spec: &KeystoreSpec, ctx: &LoadContext) -> KeyResult<PrivateKeySigner> {
    let password = read_password(&spec.password, ctx)?;
    open_keystore(expand_home(&spec.path), &password)
}

fn read_password(source: &PasswordSource, ctx: &LoadContext) -> KeyResult<Zeroizing<String>> {
    match source {
        PasswordSource::Env(var) => ctx.var(var).ok_or_else(|| KeyError::MissingEnv {
            var: var.clone(),
            what: "keystore password",
        }),
        PasswordSource::File(path) => {
            let path = expand_home(path);
            let text = Zeroizing::new(fs::read_to_string(&path).map_err(|source| {
                KeyError::PasswordFile {
                    path: path.clone(),
                    source,
                }
            })?);
            let first_line = text.split(['\n', '\r']).next().unwrap_or_default();
            Ok(Zeroizing::new(first_line.to_owned()))
        }
    }
}

/// A leading `~/` is the home directory (a shell does not expand it after `keystore:`).
fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

/// Decrypts the Web3 Secret Storage v3 file at `path` with `password`.
///
/// Scrypt and PBKDF2 files are read (geth's, cast's and alloy's). When the file declares an
/// `address` (geth and this crate's writer do), the decrypted key must have it. A wrong
/// password is [`KeyError::WrongPassword`].
pub fn open_keystore(path: impl AsRef<Path>, password: &str) -> KeyResult<PrivateKeySigner> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).map_err(|source| KeyError::KeystoreRead {
        path: path.to_path_buf(),
        source,
    })?;
    let format = |reason: String| KeyError::KeystoreFormat {
        path: path.to_path_buf(),
        reason,
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format(format!("not JSON ({e})")))?;
    match json.get("version").and_then(serde_json::Value::as_u64) {
        Some(3) => {}
        Some(v) => return Err(format(format!("version {v}, expected 3"))),
        None => return Err(format("no `version` field".into())),
    }
    if json.get("crypto").is_none() {
        let reason = if json.get("Crypto").is_some() {
            "its `Crypto` field is capitalised (an old geth file): rename it to `crypto`"
        } else {
            "no `crypto` field"
        };
        return Err(format(reason.into()));
    }
    check_scrypt_params(&json).map_err(format)?;
    let declared = match json.get("address") {
        None | Some(serde_json::Value::Null) => None,
        Some(value) => {
            let text = value.as_str().unwrap_or_default();
            let text = text.strip_prefix("0x").unwrap_or(text);
            Some(
                text.parse::<Address>()
                    .map_err(|_| format("`address` is not an address".into()))?,
            )
        }
    };
    let signer = PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| match e {
        LocalSignerError::EthKeystoreError(eth_keystore::KeystoreError::MacMismatch) => {
            KeyError::WrongPassword {
                path: path.to_path_buf(),
            }
        }
        source => KeyError::Keystore {
            path: path.to_path_buf(),
            source,
        },
    })?;
    if let Some(declared) = declared
        && declared != signer.address()
    {
        return Err(KeyError::KeystoreAddressMismatch {
            path: path.to_path_buf(),
            declared,
            actual: signer.address(),
        });
    }
    Ok(signer)
}

/// alloy's reader (eth-keystore, and so cast) takes scrypt's parameters through RFC 7914's
/// bounds, `n < 2^(16 r)`: geth's (n = 2^18, r = 8) pass, the Web3 Secret Storage spec's own
/// example (n = 2^18, r = 1) does not. Say so instead of "invalid params".
fn check_scrypt_params(json: &serde_json::Value) -> Result<(), String> {
    let crypto = &json["crypto"];
    if crypto["kdf"].as_str() != Some("scrypt") {
        return Ok(());
    }
    let params = &crypto["kdfparams"];
    let (Some(n), Some(r)) = (params["n"].as_u64(), params["r"].as_u64()) else {
        return Err("scrypt `kdfparams` need `n` and `r`".into());
    };
    if !n.is_power_of_two() || n < 2 {
        return Err(format!("scrypt n = {n} is not a power of two"));
    }
    if u64::from(n.trailing_zeros()) >= r.saturating_mul(16) {
        return Err(format!(
            "scrypt n = {n} with r = {r} is outside RFC 7914's bound n < 2^(16 r), which alloy's \
             reader (as cast's) enforces; re-encrypt the key (e.g. `cast wallet import`)"
        ));
    }
    Ok(())
}

/// Creates a fresh random key in a new keystore encrypted with `password`.
///
/// `dir_or_path` is either an existing directory, in which the file gets geth's name
/// (`UTC--<time>--<address>`), or the file to create (missing parent directories are created,
/// mode 0700). The file is mode 0600 and is never overwritten. Returns the key's address and
/// the file.
pub fn create_keystore(
    dir_or_path: impl AsRef<Path>,
    password: &str,
) -> KeyResult<(Address, PathBuf)> {
    loop {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut *key);
        // Zero or above the curve order: probability below 2^-127; draw again.
        if PrivateKeySigner::from_slice(&*key).is_ok() {
            return import_keystore(&*key, dir_or_path, password);
        }
    }
}

/// Writes `private_key` (32 bytes) into a new keystore encrypted with `password` (scrypt, the
/// parameters cast and alloy use), with geth's `address` field, and checks that it opens.
///
/// `dir_or_path` is as for [`create_keystore`]. Returns the key's address and the file.
pub fn import_keystore(
    private_key: &[u8],
    dir_or_path: impl AsRef<Path>,
    password: &str,
) -> KeyResult<(Address, PathBuf)> {
    if password.is_empty() {
        return Err(KeyError::EmptyPassword);
    }
    if private_key.len() != 32 {
        return Err(KeyError::InvalidKey);
    }
    let address = PrivateKeySigner::from_slice(private_key)
        .map_err(|_| KeyError::InvalidKey)?
        .address();
    let dir_or_path = dir_or_path.as_ref();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KeyError::Io { path, source }
    };
    // A directory: an existing one, or a path written with a trailing `/`.
    let is_dir = dir_or_path.is_dir() || dir_or_path.as_os_str().to_string_lossy().ends_with('/');
    let path = if is_dir {
        create_private_dir(dir_or_path).map_err(io(dir_or_path))?;
        dir_or_path.join(geth_file_name(address, SystemTime::now()))
    } else {
        dir_or_path.to_path_buf()
    };
    let (dir, name) = match (path.parent(), path.file_name().and_then(|n| n.to_str())) {
        (Some(dir), Some(name)) => (
            if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            },
            name,
        ),
        _ => {
            return Err(KeyError::Io {
                path: path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
            });
        }
    };
    create_private_dir(dir).map_err(io(dir))?;
    // Reserve the name with mode 0600 (and refuse an existing file): alloy's writer then
    // truncates and fills this file, which keeps its mode.
    reserve(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => KeyError::KeystoreExists { path: path.clone() },
        _ => KeyError::Io {
            path: path.clone(),
            source,
        },
    })?;
    let written =
        PrivateKeySigner::encrypt_keystore(dir, &mut OsRng, private_key, password, Some(name))
            .map_err(|source| KeyError::Keystore {
                path: path.clone(),
                source,
            })
            .and_then(|_| add_address(&path, address))
            .and_then(|()| open_keystore(&path, password));
    match written {
        Ok(signer) if signer.address() == address => Ok((address, path)),
        Ok(signer) => {
            let _ = fs::remove_file(&path);
            Err(KeyError::KeystoreAddressMismatch {
                path,
                declared: address,
                actual: signer.address(),
            })
        }
        Err(e) => {
            let _ = fs::remove_file(&path);
            Err(e)
        }
    }
}

/// Adds geth's `address` field (lowercase hex without `0x`) to the file alloy wrote.
fn add_address(path: &Path, address: Address) -> KeyResult<()> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let text = fs::read_to_string(path).map_err(io)?;
    let mut json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| KeyError::KeystoreFormat {
            path: path.to_path_buf(),
            reason: format!("not JSON ({e})"),
        })?;
    let Some(object) = json.as_object_mut() else {
        return Err(KeyError::KeystoreFormat {
            path: path.to_path_buf(),
            reason: "not a JSON object".into(),
        });
    };
    object.insert("address".into(), hex::encode(address).into());
    let mut file = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(io)?;
    file.write_all(json.to_string().as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn reserve(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
}

#[cfg(not(unix))]
fn reserve(path: &Path) -> std::io::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map(drop)
}

/// geth's keystore file name: `UTC--2006-01-02T15-04-05.000000000Z--<address hex>`.
fn geth_file_name(address: Address, now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "UTC--{year:04}-{month:02}-{day:02}T{:02}-{:02}-{:02}.{:09}Z--{}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_nanos(),
        hex::encode(address)
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn geth_names() {
        let address: Address = "0x008aeeda4d805471df9b2a5b0f38a0c3bcba786b"
            .parse()
            .expect("address");
        // 2024-02-29T23:59:58.5Z, a leap day.
        let t = UNIX_EPOCH + Duration::new(1_709_251_198, 500_000_000);
        assert_eq!(
            geth_file_name(address, t),
            "UTC--2024-02-29T23-59-58.500000000Z--008aeeda4d805471df9b2a5b0f38a0c3bcba786b"
        );
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(365), (1971, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn import_refuses_bad_input() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            import_keystore(&[1u8; 32], dir.path(), ""),
            Err(KeyError::EmptyPassword)
        ));
        assert!(matches!(
            import_keystore(&[1u8; 31], dir.path(), "pw"),
            Err(KeyError::InvalidKey)
        ));
        assert!(matches!(
            import_keystore(&[0u8; 32], dir.path(), "pw"),
            Err(KeyError::InvalidKey)
        ));
        assert!(matches!(
            import_keystore(&[0xffu8; 32], dir.path(), "pw"),
            Err(KeyError::InvalidKey)
        ));
        assert_eq!(
            fs::read_dir(dir.path()).expect("read dir").count(),
            0,
            "nothing written"
        );
    }

    #[test]
    fn import_never_overwrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.json");
        fs::write(&path, "precious").expect("write");
        let err = import_keystore(&[7u8; 32], &path, "pw").expect_err("exists");
        assert!(matches!(err, KeyError::KeystoreExists { .. }), "{err:?}");
        assert_eq!(fs::read_to_string(&path).expect("read"), "precious");
    }

    #[cfg(unix)]
    #[test]
    fn created_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let (address, path) =
            create_keystore(dir.path().join("nested/deeper/op.json"), "pw").expect("create");
        let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let parent = fs::metadata(path.parent().expect("parent")).expect("stat");
        assert_eq!(parent.permissions().mode() & 0o777, 0o700);
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).expect("read")).expect("json");
        assert_eq!(
            json["address"].as_str(),
            Some(hex::encode(address).as_str())
        );
        assert_eq!(json["version"].as_u64(), Some(3));
    }

    #[test]
    fn tilde_is_the_home_directory() {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .expect("HOME is set");
        assert_eq!(
            expand_home(Path::new("~/.foundry/keystores/op")),
            home.join(".foundry/keystores/op")
        );
        assert_eq!(expand_home(Path::new("~op/k")), PathBuf::from("~op/k"));
        assert_eq!(
            expand_home(Path::new("/abs/~/k")),
            PathBuf::from("/abs/~/k")
        );
    }

    #[test]
    fn password_file_takes_the_first_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pw");
        fs::write(&file, "correct horse \r\nsecond line\n").expect("write");
        let password =
            read_password(&PasswordSource::File(file), &LoadContext::new()).expect("read");
        assert_eq!(password.as_str(), "correct horse ");
        let err = read_password(
            &PasswordSource::File(dir.path().join("missing")),
            &LoadContext::new(),
        )
        .expect_err("missing");
        assert!(matches!(err, KeyError::PasswordFile { .. }), "{err:?}");
    }
}
