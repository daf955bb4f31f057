//! `sealgrid bench prove`: proving time, memory, proof size and on-chain verification gas per
//! book size.

use std::path::Path;
use std::time::Instant;

use alloy_primitives::{Address, B256};
use sealgrid_clearing::bench::SplitMix64;
use sealgrid_types::{MAX_LOCK, MarketBounds, Order, SequenceEntry, Side, required_lock};

use crate::capacity::capacity_for;
use crate::error::ProverResult;
use crate::evm::{EvmVerifier, compile, verifier_source};
use crate::keys::{keygen, prove, verify};
use crate::params::ParamsSource;
use crate::witness::{Batch, Slot, Witness};

/// A random batch of `n` commitments: about 5% never opened, the rest bids and asks around a
/// common price with a few exact ties, quantities from 1 Wh to 50 kWh.
pub fn random_batch(n: usize, seed: u64) -> Batch {
    let mut rng = SplitMix64::new(seed);
    let market = B256::with_last_byte(0x42);
    let slots = (0..n)
        .map(|i| {
            if rng.below(20) == 0 {
                return Slot::excluded(SequenceEntry {
                    commitment: B256::from(alloy_primitives::U256::from(rng.next_u64())),
                    committer: Address::with_last_byte((i % 251) as u8 + 1),
                    lock: u128::from(rng.next_u64()) % MAX_LOCK,
                });
            }
            let sell = rng.below(2) == 1;
            let base: i64 = if sell { 40_000 } else { 60_000 };
            let limit = base + rng.below(60_000) as i64 - 30_000;
            let order = Order {
                trader: Address::with_last_byte((i % 251) as u8 + 1),
                market,
                interval: 1_000,
                side: u8::from(sell),
                quantityWh: 1 + rng.below(50_000),
                limitPrice: limit - limit % 500,
                nonce: i as u64,
                salt: B256::from(alloy_primitives::U256::from(rng.next_u64()) << 64),
            };
            let lock = required_lock(
                if sell { Side::Sell } else { Side::Buy },
                order.quantityWh,
                order.limitPrice,
            );
            Slot::committed(order, lock).expect("bench orders are in the field")
        })
        .collect();
    Batch {
        market,
        interval: 1_000,
        bounds: MarketBounds {
            price_floor: -500_000,
            price_cap: 5_000_000,
        },
        slots,
    }
}

/// The process's peak resident set size in MiB (Linux `VmHWM`), 0 where unknown.
fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb / 1024)
}

/// Peak proving memory per row of the circuit, in bytes, and the process's base, in MB,
/// calibrated on measured runs (64 slots at k = 14: 121 MB; 256 at k = 16: 385 MB; 1,024 at
/// k = 18: 1,348 MB). Every
/// capacity is laid out with at most three flex-gate columns beside the Poseidon gate's six
/// (crate::capacity), so memory grows with the rows alone.
pub const RSS_BYTES_PER_ROW: u64 = 5_000;
/// See [`RSS_BYTES_PER_ROW`].
pub const RSS_BASE_MB: u64 = 40;

/// Projected peak memory (MB) of proving a circuit of `2^k` rows.
pub fn projected_rss_mb(k: u32) -> u64 {
    RSS_BASE_MB + (1u64 << k) * RSS_BYTES_PER_ROW / (1 << 20)
}

fn available_mb() -> Option<u64> {
    std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<u64>().ok())
                    .map(|kb| kb / 1024)
            })
    })
}

/// Runs the benchmark for each size and returns its `RESULT` lines. A size whose projected
/// memory exceeds the machine's available memory is not attempted (it would be killed): its
/// line says `status=skipped` with both numbers.
pub fn run_prove_bench(
    sizes: &[usize],
    params: &ParamsSource,
    solc: &Path,
    seed: u64,
    mut say: impl FnMut(String),
) -> ProverResult<Vec<String>> {
    let mut lines = Vec::new();
    for &n in sizes {
        let cap = capacity_for(n)?;
        let projected = projected_rss_mb(cap.k);
        if let Some(available) = available_mb()
            && projected > available
        {
            let line = format!(
                "RESULT prove orders={n} capacity={} k={} status=skipped projected_rss_mb={projected} \
                 available_mb={available}",
                cap.slots, cap.k
            );
            say(line.clone());
            lines.push(line);
            continue;
        }
        say(format!(
            "orders={n}: capacity {} (k = {}); parameters",
            cap.slots, cap.k
        ));
        let t = Instant::now();
        let kzg = params.get(cap.k)?;
        let setup_s = t.elapsed().as_secs_f64();
        say(format!("orders={n}: parameters in {setup_s:.1} s; keygen"));
        let t = Instant::now();
        let keys = keygen(&kzg, cap.slots)?;
        let keygen_s = t.elapsed().as_secs_f64();
        let columns = keys.vk().cs().num_advice_columns();
        say(format!(
            "orders={n}: keys in {keygen_s:.1} s ({columns} advice columns); witness"
        ));
        let witness = Witness::new(&random_batch(n, seed))?;
        say(format!(
            "orders={n}: cleared {} Wh at {}; proving",
            witness.statement.volume, witness.statement.price
        ));
        let t = Instant::now();
        let proof = prove(&kzg, &keys, &witness)?;
        let prove_s = t.elapsed().as_secs_f64();
        let rss = peak_rss_mb();
        let native_ok = verify(&kzg, keys.vk(), &proof.instances, &proof.bytes);
        say(format!(
            "orders={n}: proven in {prove_s:.1} s (native check {native_ok}); verifier"
        ));
        let code = compile(&verifier_source(&kzg, keys.vk(), cap.slots), solc)?;
        let mut evm = EvmVerifier::deploy(&code)?;
        let gas = evm.verify(&proof.instances, &proof.bytes)?;
        let line = format!(
            "RESULT prove orders={n} capacity={} k={} advice_columns={columns} setup_s={setup_s:.1} \
             keygen_s={keygen_s:.1} prove_s={prove_s:.2} peak_rss_mb={rss} proof_bytes={} \
             verify_gas={gas} verifier_bytes={} verifier_stages={} instances={}",
            cap.slots,
            cap.k,
            proof.bytes.len(),
            evm.runtime_size,
            evm.stages,
            proof.instances.len()
        );
        say(line.clone());
        lines.push(line);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_projection_matches_the_measured_runs() {
        // (slots, k, measured peak RSS in MB) from the benchmark runs in capacity.rs.
        for (slots, k, measured) in [(64, 14, 121u64), (256, 16, 385), (1024, 18, 1_348)] {
            let p = projected_rss_mb(k);
            let err = p.abs_diff(measured) as f64 / measured as f64;
            assert!(
                err < 0.15,
                "{slots} slots: projected {p} MB vs measured {measured} MB"
            );
        }
        // 4,096 slots at k = 20 fit in this machine's 24 GiB; k = 23 would not.
        assert!(projected_rss_mb(20) < 24 * 1024);
        assert!(projected_rss_mb(23) > 24 * 1024);
    }
}
