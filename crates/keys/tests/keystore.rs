//! Keystore files: alloy's writer, the Web3 Secret Storage spec's vectors, and cast's files.

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{TxEip1559, TxEnvelope, TypedTransaction};
use alloy_network::eip2718::{Decodable2718, Encodable2718};
use alloy_network::{Ethereum, EthereumWallet, NetworkWallet};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::{Signer, SignerSync};
use alloy_signer_local::PrivateKeySigner;
use sealgrid_keys::{
    KeyError, KeySigner, KeySpec, LoadContext, create_keystore, import_keystore, open_keystore,
};
use std::path::{Path, PathBuf};
use std::process::Command;

const PASSWORD: &str = "correct horse battery staple";

fn random_digest() -> B256 {
    B256::from(rand::random::<[u8; 32]>())
}

fn load(spec: &str, ctx: &LoadContext) -> Result<KeySigner, KeyError> {
    spec.parse::<KeySpec>()?.load(ctx)
}

#[test]
fn created_keystore_loads_through_a_spec_and_signs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (address, path) = create_keystore(dir.path(), PASSWORD).expect("create");
    assert!(path.starts_with(dir.path()));
    let name = path.file_name().and_then(|n| n.to_str()).expect("name");
    assert!(
        name.starts_with("UTC--") && name.ends_with(&hex::encode(address)),
        "{name}"
    );

    let password_file = dir.path().join("password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).expect("write");
    let spec = format!(
        "keystore:{}?password-file={}",
        path.display(),
        password_file.display()
    );
    let signer = load(&spec, &LoadContext::new()).expect("load");
    assert_eq!(signer.address(), address);
    assert_eq!(signer.backend(), "local");

    for _ in 0..5 {
        let digest = random_digest();
        let signature = signer.sign_hash_sync(&digest).expect("sign");
        assert_eq!(
            signature
                .recover_address_from_prehash(&digest)
                .expect("recover"),
            address
        );
        assert!(signature.normalize_s().is_none(), "low s");
    }

    // The same file through the default password variable, supplied by the context.
    let spec = format!("keystore:{}", path.display());
    let ctx = LoadContext::new().with_var(sealgrid_keys::DEFAULT_PASSWORD_ENV, PASSWORD);
    assert_eq!(load(&spec, &ctx).expect("load").address(), address);
}

#[test]
fn wrong_password_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, path) = create_keystore(dir.path().join("op.json"), PASSWORD).expect("create");
    let spec = format!("keystore:{}?password-env=OP_PASSWORD", path.display());
    let ctx = LoadContext::new().with_var("OP_PASSWORD", "Tr0ub4dor&3");
    let err = load(&spec, &ctx).expect_err("wrong password");
    assert!(
        matches!(&err, KeyError::WrongPassword { path: p } if *p == path),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("wrong password") && message.contains("op.json"),
        "{message}"
    );
    assert!(
        !message.contains("Tr0ub4dor") && !message.contains("horse"),
        "{message}"
    );
    assert!(!format!("{err:?}").contains("Tr0ub4dor"));
}

#[test]
fn missing_or_foreign_files_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = open_keystore(dir.path().join("absent.json"), PASSWORD).expect_err("absent");
    assert!(matches!(err, KeyError::KeystoreRead { .. }), "{err:?}");

    let not_json = dir.path().join("notes.txt");
    std::fs::write(&not_json, "hello").expect("write");
    let err = open_keystore(&not_json, PASSWORD).expect_err("not JSON");
    assert!(matches!(err, KeyError::KeystoreFormat { .. }), "{err:?}");

    let v1 = dir.path().join("v1.json");
    std::fs::write(&v1, r#"{"version":1,"crypto":{}}"#).expect("write");
    let err = open_keystore(&v1, PASSWORD).expect_err("v1");
    assert!(err.to_string().contains("version 1, expected 3"), "{err}");
}

#[test]
fn imported_key_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = PrivateKeySigner::random();
    let bytes = key.to_bytes();
    let (address, path) =
        import_keystore(bytes.as_slice(), dir.path().join("keys/"), PASSWORD).expect("import");
    assert_eq!(address, key.address());
    assert!(path.starts_with(dir.path().join("keys")));
    let opened = open_keystore(&path, PASSWORD).expect("open");
    assert_eq!(opened.to_bytes(), bytes);
    let err = import_keystore(bytes.as_slice(), &path, PASSWORD).expect_err("exists");
    assert!(matches!(err, KeyError::KeystoreExists { .. }), "{err:?}");
}

/// The test vectors of the Web3 Secret Storage Definition (also in geth's
/// `accounts/keystore/testdata/v3_test_vector.json`): the same key under scrypt and PBKDF2.
const SPEC_KEY: &str = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";
const SPEC_ADDRESS: &str = "008aeeda4d805471df9b2a5b0f38a0c3bcba786b";
const SPEC_SCRYPT: &str = r#"{
  "address": "008aeeda4d805471df9b2a5b0f38a0c3bcba786b",
  "crypto": {
    "cipher": "aes-128-ctr",
    "cipherparams": {"iv": "83dbcc02d8ccb40e466191a123791e0e"},
    "ciphertext": "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
    "kdf": "scrypt",
    "kdfparams": {"dklen": 32, "n": 262144, "r": 1, "p": 8,
                  "salt": "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19"},
    "mac": "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097"
  },
  "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  "version": 3
}"#;
const SPEC_PBKDF2: &str = r#"{
  "crypto": {
    "cipher": "aes-128-ctr",
    "cipherparams": {"iv": "6087dab2f9fdbbfaddc31a909735c1e6"},
    "ciphertext": "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
    "kdf": "pbkdf2",
    "kdfparams": {"c": 262144, "dklen": 32, "prf": "hmac-sha256",
                  "salt": "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"},
    "mac": "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"
  },
  "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  "version": 3
}"#;

#[test]
fn web3_secret_storage_pbkdf2_vector_decrypts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let expected_key = hex::decode(SPEC_KEY).expect("hex");
    let expected_address: Address = SPEC_ADDRESS.parse().expect("address");
    let path = dir.path().join("pbkdf2.json");
    std::fs::write(&path, SPEC_PBKDF2).expect("write");
    let signer = open_keystore(&path, "testpassword").expect("decrypt");
    assert_eq!(signer.to_bytes().as_slice(), expected_key.as_slice());
    assert_eq!(signer.address(), expected_address);
    let err = open_keystore(&path, "testpassword2").expect_err("wrong password");
    assert!(matches!(err, KeyError::WrongPassword { .. }), "{err:?}");
}

/// The spec's scrypt example uses n = 2^18 with r = 1, outside RFC 7914's n < 2^(16 r) that
/// alloy's reader enforces (geth's own files use r = 8): refused with a reason, not "invalid
/// params".
#[test]
fn scrypt_params_outside_rfc7914_are_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("scrypt.json");
    std::fs::write(&path, SPEC_SCRYPT).expect("write");
    let err = open_keystore(&path, "testpassword").expect_err("r = 1");
    assert!(matches!(err, KeyError::KeystoreFormat { .. }), "{err:?}");
    assert!(err.to_string().contains("n = 262144 with r = 1"), "{err}");
}

#[test]
fn declared_address_must_match_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (address, path) = create_keystore(dir.path().join("k.json"), PASSWORD).expect("create");
    let text = std::fs::read_to_string(&path).expect("read");
    let forged = text.replace(
        &hex::encode(address),
        "1111111111111111111111111111111111111111",
    );
    assert_ne!(forged, text);
    std::fs::write(&path, forged).expect("write");
    let err = open_keystore(&path, PASSWORD).expect_err("forged address");
    assert!(
        matches!(err, KeyError::KeystoreAddressMismatch { actual, .. } if actual == address),
        "{err:?}"
    );
}

/// eth-account (Python, `.venv` from `scripts/setup.sh`) writes keystores as geth does: scrypt
/// with n = 2^18, r = 8, p = 1, or PBKDF2, with the `address` field. An independent writer.
#[test]
fn eth_account_keystores_load() {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        python.is_file(),
        "no {}: run scripts/setup.sh (it installs eth-account)",
        python.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let script = r#"
import json, os, sys
from eth_account import Account
key = os.urandom(32)
for kdf in ("scrypt", "pbkdf2"):
    with open(os.path.join(sys.argv[1], kdf + ".json"), "w") as f:
        json.dump(Account.encrypt(key, sys.argv[2], kdf=kdf), f)
print(Account.from_key(key).address)
"#;
    let password = "eth-account pass";
    let out = run(Command::new(&python)
        .args(["-c", script])
        .arg(dir.path())
        .arg(password));
    let address: Address = out.trim().parse().expect("address");
    for kdf in ["scrypt", "pbkdf2"] {
        let path = dir.path().join(format!("{kdf}.json"));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        if kdf == "scrypt" {
            let params = &json["crypto"]["kdfparams"];
            assert_eq!(
                (
                    params["n"].as_u64(),
                    params["r"].as_u64(),
                    params["p"].as_u64()
                ),
                (Some(262_144), Some(8), Some(1))
            );
        }
        let spec = format!("keystore:{}?password-env=PW", path.display());
        let signer = load(&spec, &LoadContext::new().with_var("PW", password)).expect(kdf);
        assert_eq!(signer.address(), address, "{kdf}");
        let digest = random_digest();
        let signature = signer.sign_hash_sync(&digest).expect("sign");
        assert_eq!(
            signature
                .recover_address_from_prehash(&digest)
                .expect("recover"),
            address
        );
    }
}

/// The pinned cast (npm toolchain, `scripts/setup.sh`): on PATH after `scripts/env.sh`, or in
/// the repository's `node_modules`.
fn cast() -> PathBuf {
    let in_repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../node_modules/@foundry-rs/cast-linux-amd64/bin/cast");
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("cast"))
                .find(|c| c.is_file())
        })
        .or_else(|| in_repo.is_file().then_some(in_repo))
        .unwrap_or_else(|| {
            panic!("cast is not installed: run scripts/setup.sh (npm toolchain) and scripts/env.sh")
        })
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("run cast");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

#[test]
fn cast_keystores_load_and_ours_open_in_cast() {
    let cast = cast();
    let dir = tempfile::tempdir().expect("tempdir");
    let password = "cast pass phrase";

    // `cast wallet new DIR --unsafe-password PW` writes a keystore (named by its UUID).
    let out = run(Command::new(&cast)
        .args(["wallet", "new"])
        .arg(dir.path())
        .args(["--unsafe-password", password]));
    let field = |prefix: &str| {
        out.lines()
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no `{prefix}` in cast's output: {out}"))
            .to_owned()
    };
    let path = PathBuf::from(field("Created new encrypted keystore file:"));
    let cast_address: Address = field("Address:").parse().expect("address");

    let spec = format!("keystore:{}?password-env=CAST_PW", path.display());
    let signer = load(&spec, &LoadContext::new().with_var("CAST_PW", password)).expect("load");
    assert_eq!(signer.address(), cast_address);

    // Both sign deterministically (RFC 6979): cast's signature of the digest is ours.
    let digest = random_digest();
    let ours = signer.sign_hash_sync(&digest).expect("sign");
    let theirs = run(Command::new(&cast)
        .args(["wallet", "sign", "--no-hash", "--keystore"])
        .arg(&path)
        .args(["--password", password, &digest.to_string()]));
    assert_eq!(theirs.trim(), format!("0x{}", hex::encode(ours.as_bytes())));
    run(Command::new(&cast).args([
        "wallet",
        "verify",
        "--no-hash",
        "--address",
        &cast_address.to_string(),
        &digest.to_string(),
        &format!("0x{}", hex::encode(ours.as_bytes())),
    ]));

    // And cast opens the files this crate writes.
    let (address, ours_path) =
        create_keystore(dir.path().join("ours.json"), password).expect("create");
    let shown = run(Command::new(&cast)
        .args(["wallet", "address", "--keystore"])
        .arg(&ours_path)
        .args(["--password", password]));
    assert_eq!(shown.trim().parse::<Address>().expect("address"), address);
}

#[tokio::test]
async fn keystore_signer_signs_transactions_through_ethereum_wallet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (address, path) = create_keystore(dir.path(), PASSWORD).expect("create");
    let ctx = LoadContext::new()
        .with_var("PW", PASSWORD)
        .with_chain_id(Some(31_337));
    let signer = load(
        &format!("keystore:{}?password-env=PW", path.display()),
        &ctx,
    )
    .expect("load");
    assert_eq!(Signer::chain_id(&signer), Some(31_337));

    let message = b"sealgrid";
    let signature = Signer::sign_message(&signer, message)
        .await
        .expect("sign message");
    assert_eq!(
        signature
            .recover_address_from_msg(message)
            .expect("recover"),
        address
    );
    assert_eq!(
        SignerSync::sign_message_sync(&signer, message).expect("sync"),
        signature
    );

    let wallet = EthereumWallet::new(signer.clone());
    let tx = eip1559(31_337);
    let envelope: TxEnvelope =
        NetworkWallet::<Ethereum>::sign_transaction_from(&wallet, address, tx)
            .await
            .expect("sign");
    let decoded = TxEnvelope::decode_2718(&mut envelope.encoded_2718().as_slice()).expect("decode");
    assert_eq!(decoded.recover_signer().expect("recover"), address);

    // The signer's chain id guards against signing for another chain.
    let err = NetworkWallet::<Ethereum>::sign_transaction_from(&wallet, address, eip1559(1))
        .await
        .expect_err("chain id mismatch");
    assert!(
        matches!(err, alloy_signer::Error::TransactionChainIdMismatch { .. }),
        "{err:?}"
    );

    // Debug shows the address, never the key.
    let opened = open_keystore(&path, PASSWORD).expect("open");
    let shown = format!("{signer:?}");
    assert!(!shown.contains(&hex::encode(opened.to_bytes())), "{shown}");
    assert!(
        shown.to_lowercase().contains(&hex::encode(address)),
        "{shown}"
    );
}

fn eip1559(chain_id: u64) -> TypedTransaction {
    TypedTransaction::Eip1559(TxEip1559 {
        chain_id,
        nonce: 7,
        gas_limit: 21_000,
        max_fee_per_gas: 30_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::from_slice(&keccak256(b"to")[12..])),
        value: U256::from(1_000_000_000_000_000u64),
        access_list: Default::default(),
        input: Bytes::new(),
    })
}
