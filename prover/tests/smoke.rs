use alloy_primitives::{Address, B256};
use sealgrid_prover::{Batch, Slot, Witness, keys};
use sealgrid_types::{MarketBounds, Order};

fn order(i: u64, sell: bool, q: u64, l: i64) -> Order {
    Order {
        trader: Address::with_last_byte(i as u8 + 1),
        market: B256::with_last_byte(7),
        interval: 100,
        side: u8::from(sell),
        quantityWh: q,
        limitPrice: l,
        nonce: i,
        salt: B256::with_last_byte(i as u8),
    }
}

#[test]
fn smoke() {
    let b = Batch {
        market: B256::with_last_byte(7),
        interval: 100,
        bounds: MarketBounds {
            price_floor: -500,
            price_cap: 500,
        },
        slots: vec![
            Slot::Opened(order(0, false, 5, 100)),
            Slot::Opened(order(1, true, 3, 50)),
            Slot::Excluded(B256::with_last_byte(3)),
            Slot::Opened(order(3, true, 5, 55)),
        ],
    };
    let w = Witness::new(&b).expect("witness");
    println!("{:?}", w.statement);
    for cap in [4usize, 16, 64] {
        let t = std::time::Instant::now();
        println!(
            "cap {cap}: {:?} in {:?}",
            keys::statistics(cap),
            t.elapsed()
        );
    }
    let t = std::time::Instant::now();
    keys::mock_check(&w, 4).expect("mock");
    println!("mock {:?}", t.elapsed());
}

#[test]
fn real_proof() {
    use sealgrid_prover::{evm, params};
    let b = Batch {
        market: B256::with_last_byte(7),
        interval: 100,
        bounds: MarketBounds {
            price_floor: -500,
            price_cap: 500,
        },
        slots: vec![
            Slot::Opened(order(0, false, 5, 100)),
            Slot::Opened(order(1, true, 3, 50)),
            Slot::Excluded(B256::with_last_byte(3)),
            Slot::Opened(order(3, true, 5, 55)),
        ],
    };
    let w = Witness::new(&b).expect("witness");
    let t = std::time::Instant::now();
    let p = params::insecure_setup(15);
    println!("setup {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let k = keys::keygen(&p, 4).expect("keygen");
    println!("keygen {:?} {:?}", t.elapsed(), k.config);
    let t = std::time::Instant::now();
    let proof = keys::prove(&p, &k, &w).expect("prove");
    println!("prove {:?} {} bytes", t.elapsed(), proof.bytes.len());
    assert!(keys::verify(&p, k.vk(), &proof.instances, &proof.bytes));
    let mut bad = proof.instances.clone();
    bad[7] += sealgrid_prover::Fr::from(1u64);
    assert!(!keys::verify(&p, k.vk(), &bad, &proof.bytes));
    let t = std::time::Instant::now();
    let src = evm::verifier_source(&p, k.vk(), 4);
    std::fs::write("/tmp/v4.sol", &src).unwrap();
    let code =
        evm::compile(&src, std::path::Path::new("/work/main/tools/solc/solc")).expect("solc");
    println!("verifier {:?} {} bytes creation", t.elapsed(), code.len());
    let mut v = evm::EvmVerifier::deploy(&code).expect("deploy");
    println!("runtime {}", v.runtime_size);
    let gas = v.verify(&proof.instances, &proof.bytes).expect("verify");
    println!("gas {gas}");
    assert!(v.verify(&bad, &proof.bytes).is_err());
}
