//! Times `clear` against `sort_unstable` of N `(i64, u32)` pairs.
//!
//! `cargo run --release -p sealgrid-clearing --example bench [N ...]` (default 10^4 10^5 10^6).

fn main() {
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![10_000, 100_000, 1_000_000];
    }
    let lines = sealgrid_clearing::bench::run_clearing_bench(&sizes, 0x5ea1_671d, |msg| {
        eprintln!("{msg}");
    });
    for line in lines {
        println!("{line}");
    }
}
