//! A self-contained benchmark: clearing N orders against `sort_unstable` of N `(i64, u32)` pairs.
//!
//! Books are generated deterministically from a seed with an inline splitmix64: about half bids
//! and half asks, limits spread around a mid price with some negative ones, quantities
//! `1..=100_000` Wh. Each size is timed best-of-k with clearing and the baseline sort
//! interleaved, so that load from other processes hits both alike.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::{BookOrder, Side, clear};

/// The ratio clear/sort the benchmark must stay within.
pub const TARGET_RATIO: f64 = 3.0;

/// The splitmix64 generator (Steele, Lea and Flood), enough for benchmark books.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound > 0`; the modulo bias is irrelevant here).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }
}

/// A deterministic benchmark book of `n` orders: bids' limits in `mid - 120_000 ..= mid + 80_000`,
/// asks' in `mid - 80_000 ..= mid + 120_000` with `mid = 50_000`, so the curves cross and a
/// sizeable share of limits is negative.
pub fn random_book(n: usize, seed: u64) -> Vec<BookOrder> {
    const MID: i64 = 50_000;
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let side = if rng.next_u64() & 1 == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let quantity_wh = 1 + rng.below(100_000);
            let offset = rng.below(200_001) as i64;
            let limit_price = match side {
                Side::Buy => MID - 120_000 + offset,
                Side::Sell => MID - 80_000 + offset,
            };
            BookOrder {
                side,
                quantity_wh,
                limit_price,
            }
        })
        .collect()
}

fn repetitions(n: usize) -> usize {
    match n {
        0..=10_000 => 20,
        10_001..=100_000 => 7,
        _ => 3,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs the benchmark for each size and returns its `RESULT` lines, the last being the summary
/// `RESULT clearing_bench n_max=.. ratio_max=.. target_ratio=3 pass=true|false`.
pub fn run_clearing_bench(
    sizes: &[usize],
    seed: u64,
    mut progress: impl FnMut(&str),
) -> Vec<String> {
    let mut lines = Vec::with_capacity(sizes.len() + 1);
    let mut ratio_max = 0.0_f64;
    let mut pass = !sizes.is_empty();
    for (k, &n) in sizes.iter().enumerate() {
        progress(&format!("clearing bench: generating a book of {n} orders"));
        let book = random_book(n, seed.wrapping_add(k as u64));
        let pairs: Vec<(i64, u32)> = book
            .iter()
            .enumerate()
            .map(|(i, o)| (o.limit_price, i as u32))
            .collect();
        let reps = repetitions(n);
        progress(&format!("clearing bench: n={n}, best of {reps}"));
        let mut best_clear = Duration::MAX;
        let mut best_sort = Duration::MAX;
        let mut outcome = Ok(0_u64);
        for _ in 0..reps {
            let start = Instant::now();
            let result = clear(black_box(&book));
            best_clear = best_clear.min(start.elapsed());
            outcome = result.map(|c| c.volume);

            let mut scratch = pairs.clone();
            let start = Instant::now();
            black_box(&mut scratch).sort_unstable();
            best_sort = best_sort.min(start.elapsed());
            black_box(&scratch);
        }
        let ratio = ms(best_clear) / ms(best_sort).max(1e-9);
        ratio_max = ratio_max.max(ratio);
        pass &= ratio <= TARGET_RATIO;
        let tail = match outcome {
            Ok(volume) => format!("volume={volume}"),
            Err(e) => {
                pass = false;
                format!("error=\"{e}\"")
            }
        };
        let line = format!(
            "RESULT clearing n={n} clear_ms={:.3} sort_ms={:.3} ratio={ratio:.2} {tail}",
            ms(best_clear),
            ms(best_sort)
        );
        progress(&line);
        lines.push(line);
    }
    let n_max = sizes.iter().copied().max().unwrap_or(0);
    lines.push(format!(
        "RESULT clearing_bench n_max={n_max} ratio_max={ratio_max:.2} target_ratio={TARGET_RATIO} pass={pass}"
    ));
    lines
}
