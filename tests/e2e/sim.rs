//! The same flow in revm (`crates/sim`): many intervals with random books on the accept-all
//! verifier, and intervals with real proofs against the generated verifiers.

use sealgrid_clearing::bench::SplitMix64;
use sealgrid_devkit::harness::{prover, root};
use sealgrid_sim::{Sim, SimOrder, Verifier};
use sealgrid_types::Side;

/// A random book: few price levels (ties), negative prices, one-sided and empty books, orders
/// never opened.
fn book(rng: &mut SplitMix64, traders: usize, max: u64) -> Vec<SimOrder> {
    let n = rng.below(max + 1);
    let levels = [-40_000i64, -5_000, 0, 30_000, 60_000, 90_000, 120_000];
    (0..n)
        .map(|_| SimOrder {
            trader: rng.below(traders as u64) as usize,
            side: if rng.below(2) == 0 {
                Side::Buy
            } else {
                Side::Sell
            },
            quantity_wh: 1 + rng.below(50_000),
            limit: levels[rng.below(levels.len() as u64) as usize],
            opened: rng.below(10) != 0,
        })
        .collect()
}

#[test]
fn many_intervals_in_revm() {
    let started = std::time::Instant::now();
    let mut sim = Sim::new(&root(), &Verifier::TestAcceptAll, 12).expect("sim");
    let mut rng = SplitMix64::new(2026);
    let (mut cleared, mut empty, mut traded) = (0, 0, 0u64);
    let intervals = 200;
    for _ in 0..intervals {
        let b = book(&mut rng, 12, 40);
        let out = sim
            .run_interval(&b, &Verifier::TestAcceptAll)
            .unwrap_or_else(|e| panic!("interval with book {b:?}: {e}"));
        assert_eq!(out.fills.len(), b.len());
        if out.price.is_some() {
            cleared += 1;
            traded += out.volume;
        } else if b.is_empty() {
            empty += 1;
        }
    }
    assert!(cleared > intervals / 2, "most books cross: {cleared}");
    assert!(empty > 0, "empty books were tried");
    eprintln!(
        "{intervals} intervals in revm in {:.1} s: {cleared} cleared, {empty} empty, {traded} Wh traded",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn revm_intervals_with_real_proofs() {
    let halo = prover();
    let codes = halo
        .verifier_codes(&root(), &[4, 16], &mut |_| {})
        .expect("verifier code");
    let verifier = Verifier::Generated(
        codes
            .into_iter()
            .map(|c| (c.capacity as u32, c.stages))
            .collect(),
        halo.as_ref(),
    );
    let mut sim = Sim::new(&root(), &verifier, 6).expect("sim");
    let mut rng = SplitMix64::new(7);
    for max in [4, 12] {
        let mut b = book(&mut rng, 6, max);
        if b.is_empty() {
            b = vec![
                SimOrder {
                    trader: 0,
                    side: Side::Buy,
                    quantity_wh: 5_000,
                    limit: 90_000,
                    opened: true,
                },
                SimOrder {
                    trader: 1,
                    side: Side::Sell,
                    quantity_wh: 3_000,
                    limit: 30_000,
                    opened: true,
                },
            ];
        }
        let out = sim
            .run_interval(&b, &verifier)
            .unwrap_or_else(|e| panic!("{b:?}: {e}"));
        assert!(
            out.gas.1 > 300_000,
            "the settle ran the halo2 verifier: {:?}",
            out.gas
        );
    }
}
