//! PKCS#11 against SoftHSM2 with real tokens, created in a temporary directory by this test
//! binary (its own process, so the module is initialised once with the test's `SOFTHSM2_CONF`).
//!
//! SoftHSM2 missing is a failure telling to run `scripts/setup.sh`, unless
//! `SEALGRID_SKIP_PKCS11=1`.

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{TxEip1559, TxEnvelope, TypedTransaction};
use alloy_network::eip2718::{Decodable2718, Encodable2718};
use alloy_network::{Ethereum, EthereumWallet, NetworkWallet, TxSignerSync};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::Signer;
use alloy_signer_local::PrivateKeySigner;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use sealgrid_keys::pkcs11::{SECP256K1_EC_PARAMS, generate_key, softhsm_module};
use sealgrid_keys::{KeyError, KeySigner, KeySpec, LoadContext};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

const TOKEN: &str = "sealgrid-test";
/// A second token nobody logs in to, so that a wrong PIN is seen as wrong (PKCS#11 login is
/// per application: once one session is logged in, `C_Login` answers "already logged in").
const PIN_TOKEN: &str = "sealgrid-pin-test";
/// A token holding a key imported from known bytes (`softhsm2-util --import`, before this
/// process loads the module).
const IMPORT_TOKEN: &str = "sealgrid-import-test";
const IMPORTED_KEY: &str = "imported";
const PIN: &str = "1234";
const SO_PIN: &str = "5678";
const PIN_VAR: &str = "SEALGRID_TEST_PKCS11_PIN";

struct SoftHsm {
    module: PathBuf,
    /// The address of the key imported into [`IMPORT_TOKEN`], computed from its bytes.
    imported: Address,
    _dir: tempfile::TempDir,
}

/// The SoftHSM2 module with two fresh tokens, `None` only when skipping was asked for.
fn softhsm() -> Option<&'static SoftHsm> {
    static SOFTHSM: OnceLock<Option<SoftHsm>> = OnceLock::new();
    SOFTHSM.get_or_init(setup).as_ref()
}

fn setup() -> Option<SoftHsm> {
    let skip = std::env::var("SEALGRID_SKIP_PKCS11").is_ok_and(|v| v == "1");
    let util = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("softhsm2-util"))
            .find(|p| p.is_file())
    });
    let (module, util) = match (softhsm_module(), util) {
        (Some(module), Some(util)) => (module, util),
        _ if skip => {
            eprintln!("SEALGRID_SKIP_PKCS11=1: skipping the PKCS#11 tests (SoftHSM2 missing)");
            return None;
        }
        _ => panic!(
            "SoftHSM2 is not installed (no module at {:?} or no softhsm2-util on PATH): run \
             scripts/setup.sh, which installs Debian's softhsm2 (or set SEALGRID_SKIP_PKCS11=1 \
             to skip these tests)",
            sealgrid_keys::pkcs11::SOFTHSM_MODULE_PATHS
        ),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).expect("token dir");
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n\
             slots.removable = false\n",
            tokens.display()
        ),
    )
    .expect("write softhsm2.conf");
    let softhsm2_util = |args: &[&str]| {
        let output = Command::new(&util)
            .env("SOFTHSM2_CONF", &conf)
            .args(args)
            .output()
            .expect("run softhsm2-util");
        assert!(
            output.status.success(),
            "softhsm2-util {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    for label in [TOKEN, PIN_TOKEN, IMPORT_TOKEN] {
        softhsm2_util(&[
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            PIN,
            "--so-pin",
            SO_PIN,
        ]);
    }
    let known = PrivateKeySigner::random();
    let pem = dir.path().join("imported.pem");
    std::fs::write(&pem, pkcs8_pem(&known)).expect("write key");
    let pem = pem.to_str().expect("utf-8 path");
    softhsm2_util(&[
        "--import",
        pem,
        "--token",
        IMPORT_TOKEN,
        "--label",
        IMPORTED_KEY,
        "--id",
        "01",
        "--pin",
        PIN,
    ]);
    // SAFETY: this runs once, inside the OnceLock every test of this binary passes through
    // before anything else (the other tests wait on it), and before the module is loaded; no
    // other thread reads the environment through libc meanwhile.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    Some(SoftHsm {
        module,
        imported: known.address(),
        _dir: dir,
    })
}

/// The PKCS#8 PEM of a secp256k1 key (what `openssl genpkey` writes and `softhsm2-util
/// --import` reads): PrivateKeyInfo { 0, id-ecPublicKey + secp256k1, ECPrivateKey { 1, d,
/// [1] 04 || x || y } }.
fn pkcs8_pem(key: &PrivateKeySigner) -> String {
    let point = key.credential().verifying_key().to_encoded_point(false);
    let mut ec = vec![0x02, 0x01, 0x01, 0x04, 0x20];
    ec.extend_from_slice(key.to_bytes().as_slice());
    ec.extend_from_slice(&[0xa1, 0x44, 0x03, 0x42, 0x00]);
    ec.extend_from_slice(point.as_bytes());
    let ec_len = u8::try_from(ec.len()).expect("short");
    let mut body = vec![0x02, 0x01, 0x00, 0x30, 0x10];
    body.extend_from_slice(&[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]);
    body.extend_from_slice(&SECP256K1_EC_PARAMS);
    body.extend_from_slice(&[0x04, ec_len + 2, 0x30, ec_len]);
    body.extend_from_slice(&ec);
    let mut der = vec![0x30, 0x81, u8::try_from(body.len()).expect("short")];
    der.extend_from_slice(&body);
    let b64 = base64(&der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A key label no other test uses.
fn fresh_label(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}", N.fetch_add(1, Ordering::Relaxed))
}

fn spec(module: &Path, token: &str, key: &str) -> String {
    format!(
        "pkcs11:{}?token={token}&key={key}&pin-env={PIN_VAR}",
        module.display()
    )
}

fn ctx() -> LoadContext {
    LoadContext::new().with_var(PIN_VAR, PIN)
}

fn load(spec: &str, ctx: &LoadContext) -> Result<KeySigner, KeyError> {
    spec.parse::<KeySpec>()?.load(ctx)
}

fn random_digest() -> B256 {
    B256::from(rand::random::<[u8; 32]>())
}

#[test]
fn softhsm_key_signs_digests_that_recover_to_its_address() {
    let Some(hsm) = softhsm() else { return };
    let label = fresh_label("operator");
    let address = generate_key(&hsm.module, TOKEN, PIN, &label).expect("generate");
    let signer = load(&spec(&hsm.module, TOKEN, &label), &ctx()).expect("load");
    assert_eq!(signer.address(), address);
    assert_eq!(signer.backend(), "pkcs11");

    let mut odd = 0;
    for _ in 0..20 {
        let digest = random_digest();
        let signature = signer.sign_hash_sync(&digest).expect("sign");
        assert_eq!(
            signature
                .recover_address_from_prehash(&digest)
                .expect("recover"),
            address
        );
        assert!(signature.normalize_s().is_none(), "s must be low (EIP-2)");
        odd += usize::from(signature.v());
    }
    // Both recovery ids occur (each with probability 1/2): a fixed parity would be a bug.
    assert!((1..20).contains(&odd), "parity odd in {odd} of 20");

    let shown = format!("{signer:?}");
    assert!(
        shown.contains(&label) && !shown.contains(PIN_VAR) && !shown.contains(PIN),
        "{shown}"
    );
}

/// A key whose private bytes are known outside the token: the address the signer derives from
/// the token's public key is the one alloy derives from the bytes.
#[test]
fn softhsm_imported_key_signs_as_its_known_address() {
    let Some(hsm) = softhsm() else { return };
    let signer = load(&spec(&hsm.module, IMPORT_TOKEN, IMPORTED_KEY), &ctx()).expect("load");
    assert_eq!(signer.address(), hsm.imported);
    for _ in 0..5 {
        let digest = random_digest();
        let signature = signer.sign_hash_sync(&digest).expect("sign");
        assert_eq!(
            signature
                .recover_address_from_prehash(&digest)
                .expect("recover"),
            hsm.imported
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn softhsm_key_signs_an_eip1559_transaction_through_ethereum_wallet() {
    let Some(hsm) = softhsm() else { return };
    let label = fresh_label("submitter");
    let address = generate_key(&hsm.module, TOKEN, PIN, &label).expect("generate");
    let ctx = ctx().with_chain_id(Some(31_337));
    let signer = load(&spec(&hsm.module, TOKEN, &label), &ctx).expect("load");
    assert_eq!(Signer::chain_id(&signer), Some(31_337));

    let wallet = EthereumWallet::new(signer.clone());
    let tx = TypedTransaction::Eip1559(TxEip1559 {
        chain_id: 31_337,
        nonce: 3,
        gas_limit: 90_000,
        max_fee_per_gas: 40_000_000_000,
        max_priority_fee_per_gas: 2_000_000_000,
        to: TxKind::Call(Address::from_slice(&keccak256(b"auction")[12..])),
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]),
    });
    let envelope: TxEnvelope =
        NetworkWallet::<Ethereum>::sign_transaction_from(&wallet, address, tx.clone())
            .await
            .expect("sign");
    assert_eq!(envelope.recover_signer().expect("recover"), address);
    let raw = envelope.encoded_2718();
    let decoded = TxEnvelope::decode_2718(&mut raw.as_slice()).expect("decode");
    assert_eq!(decoded.recover_signer().expect("recover decoded"), address);
    assert_eq!(decoded.tx_hash(), envelope.tx_hash());

    // The synchronous path gives a transaction from the same signer.
    let TypedTransaction::Eip1559(mut inner) = tx else {
        unreachable!()
    };
    let signature = signer.sign_transaction_sync(&mut inner).expect("sign sync");
    let signed = alloy_consensus::SignableTransaction::into_signed(inner, signature);
    assert_eq!(signed.recover_signer().expect("recover sync"), address);

    // async message signing goes through tokio's blocking pool.
    let signature = Signer::sign_message(&signer, b"sealgrid")
        .await
        .expect("sign message");
    assert_eq!(
        signature
            .recover_address_from_msg(b"sealgrid")
            .expect("recover"),
        address
    );
}

#[test]
fn softhsm_signer_is_shared_across_threads() {
    let Some(hsm) = softhsm() else { return };
    let label = fresh_label("oracle");
    let address = generate_key(&hsm.module, TOKEN, PIN, &label).expect("generate");
    let first = load(&spec(&hsm.module, TOKEN, &label), &ctx()).expect("load");
    let second = load(&spec(&hsm.module, TOKEN, &label), &ctx()).expect("load again");
    std::thread::scope(|scope| {
        for i in 0..4 {
            let signer = if i % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            scope.spawn(move || {
                for _ in 0..10 {
                    let digest = random_digest();
                    let signature = signer.sign_hash_sync(&digest).expect("sign");
                    assert_eq!(
                        signature
                            .recover_address_from_prehash(&digest)
                            .expect("recover"),
                        address
                    );
                }
            });
        }
    });
    // Closing one signer's session leaves the other logged in.
    drop(first);
    let digest = random_digest();
    let signature = second.sign_hash_sync(&digest).expect("sign after drop");
    assert_eq!(
        signature
            .recover_address_from_prehash(&digest)
            .expect("recover"),
        address
    );
}

#[test]
fn softhsm_errors_are_clear() {
    let Some(hsm) = softhsm() else { return };
    let label = fresh_label("gateway");
    generate_key(&hsm.module, TOKEN, PIN, &label).expect("generate");

    let err = generate_key(&hsm.module, TOKEN, PIN, &label).expect_err("label in use");
    assert!(matches!(err, KeyError::KeyExists { .. }), "{err:?}");

    let err = load(&spec(&hsm.module, "no-such-token", &label), &ctx()).expect_err("no token");
    match &err {
        KeyError::TokenNotFound { available, .. } => {
            assert!(available.iter().any(|t| t == TOKEN), "{available:?}")
        }
        other => panic!("{other:?}"),
    }

    let err = load(&spec(&hsm.module, TOKEN, "no-such-key"), &ctx()).expect_err("no key");
    assert!(
        matches!(
            err,
            KeyError::KeyObject {
                found: 0,
                class: "private",
                ..
            }
        ),
        "{err:?}"
    );

    let wrong = LoadContext::new().with_var(PIN_VAR, "4321");
    let err = load(&spec(&hsm.module, PIN_TOKEN, "any"), &wrong).expect_err("wrong PIN");
    assert!(matches!(err, KeyError::WrongPin { .. }), "{err:?}");
    assert!(!err.to_string().contains("4321"), "{err}");

    let err = load(&spec(&hsm.module, TOKEN, &label), &LoadContext::new()).expect_err("no PIN");
    assert!(
        matches!(
            err,
            KeyError::MissingEnv {
                what: "PKCS#11 PIN",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn softhsm_generated_key_is_sensitive_and_on_secp256k1() {
    let Some(hsm) = softhsm() else { return };
    let label = fresh_label("deployer");
    let address = generate_key(&hsm.module, TOKEN, PIN, &label).expect("generate");
    // Look at the objects independently of the crate, through cryptoki directly (the same
    // loaded module: C_Initialize reports it is already initialised).
    let ctx = Pkcs11::new(&hsm.module).expect("module");
    let _ = ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let slot = ctx
        .get_slots_with_initialized_token()
        .expect("slots")
        .into_iter()
        .find(|slot| ctx.get_token_info(*slot).expect("info").label() == TOKEN)
        .expect("token");
    let session = ctx.open_ro_session(slot).expect("session");
    match session.login(UserType::User, Some(&AuthPin::from(PIN))) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {
        }
        Err(e) => panic!("login: {e}"),
    }
    let find = |class| {
        let found = session
            .find_objects(&[
                Attribute::Class(class),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .expect("find");
        assert_eq!(found.len(), 1);
        found[0]
    };
    let private = session
        .get_attributes(
            find(ObjectClass::PRIVATE_KEY),
            &[
                AttributeType::Token,
                AttributeType::Sign,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::EcParams,
            ],
        )
        .expect("private attributes");
    for attribute in &private {
        match attribute {
            Attribute::Token(v) | Attribute::Sign(v) | Attribute::Sensitive(v) => {
                assert!(*v, "{attribute:?}")
            }
            Attribute::Extractable(v) => assert!(!*v, "the key must not be extractable"),
            Attribute::EcParams(p) => assert_eq!(p.as_slice(), SECP256K1_EC_PARAMS),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(private.len(), 5);
    // CKA_VALUE of a sensitive key is not readable.
    let value = session
        .get_attributes(find(ObjectClass::PRIVATE_KEY), &[AttributeType::Value])
        .expect("query");
    assert!(value.is_empty(), "the private scalar must not be readable");

    // The address is keccak of the public point (DER OCTET STRING around 04 || x || y).
    let public = session
        .get_attributes(find(ObjectClass::PUBLIC_KEY), &[AttributeType::EcPoint])
        .expect("public attributes");
    let [Attribute::EcPoint(point)] = public.as_slice() else {
        panic!("{public:?}")
    };
    assert_eq!(
        &point[..3],
        &[0x04, 0x41, 0x04],
        "DER OCTET STRING of an uncompressed point"
    );
    assert_eq!(Address::from_slice(&keccak256(&point[3..])[12..]), address);
}
