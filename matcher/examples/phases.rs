//! Times the CPU phases of intake per order (profiling aid).
#![allow(missing_docs, clippy::unwrap_used)]
use std::time::Instant;

use alloy_primitives::{Address, B256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolStruct;
use sealgrid_types::{
    Order, Receipt, order_commitment, recover_order_signer, sealgrid_domain, sign_order,
    sign_struct,
};

fn main() {
    let signer: PrivateKeySigner =
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
            .parse()
            .unwrap();
    let domain = sealgrid_domain(31337, Address::repeat_byte(1));
    let n = 2000;
    let orders: Vec<Order> = (0..n)
        .map(|j| Order {
            trader: signer.address(),
            market: B256::with_last_byte(1),
            interval: 5,
            side: 0,
            quantityWh: 1000 + j,
            limitPrice: 5,
            nonce: j,
            salt: B256::with_last_byte(7),
        })
        .collect();
    let t = Instant::now();
    let sigs: Vec<_> = orders
        .iter()
        .map(|o| sign_order(&signer, o, &domain).unwrap())
        .collect();
    println!(
        "sign      {:>8.1} us",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    for (o, s) in orders.iter().zip(&sigs) {
        recover_order_signer(o, &domain, s).unwrap();
    }
    println!(
        "recover   {:>8.1} us",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    for o in &orders {
        o.eip712_signing_hash(&domain);
    }
    println!(
        "digest    {:>8.1} us",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    for o in &orders {
        order_commitment(o).unwrap();
    }
    println!(
        "poseidon  {:>8.1} us",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let r = Receipt {
        market: B256::ZERO,
        interval: 1,
        index: 1,
        commitment: B256::ZERO,
    };
    let t = Instant::now();
    for _ in 0..n {
        sign_struct(&signer, &r, &domain).unwrap();
    }
    println!(
        "receipt   {:>8.1} us",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
