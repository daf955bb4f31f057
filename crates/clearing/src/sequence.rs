//! An interval's commitment sequence: clearing it, and the one encoder from a cleared book to
//! the fill words a batch settles with (docs/encoding.md, "Fill words").
//!
//! This is the only place that turns a book into fill words: the matcher's scheduler, the
//! prover's witness (the native twin the circuit follows) and the revm simulation all call
//! [`fill_words`] (or [`clear_sequence`]), so the words the proof is made for, the words the
//! matcher persists and the words the simulation settles are one computation.

use sealgrid_types::{Fill, Side};

use crate::{BookOrder, Clearing, ClearingError, ClearingResult, clear};

/// A cleared sequence: the clearing over its opened orders and one fill word per commitment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequenceClearing {
    /// The clearing of the opened orders, in commitment order.
    pub clearing: Clearing,
    /// One fill word per commitment, in commitment order.
    pub fills: Vec<u64>,
}

/// The fill words of an interval's sequence under `clearing`.
///
/// `sequence[k]` is the order opened at commitment index `k`, or `None` for a commitment that was
/// never opened or was withdrawn; `clearing` must be the clearing of the opened orders in
/// sequence order (`clearing.fills[j]` is the fill of the `j`-th opened order). A commitment
/// without an order is [`Fill::Excluded`]; an opened order that filled nothing (or every order
/// when nothing cleared) is [`Fill::Zero`]; the others are [`Fill::Buy`] / [`Fill::Sell`].
///
/// # Errors
/// [`ClearingError::FillsMismatch`] if `clearing` has fewer fills than `sequence` has orders;
/// [`ClearingError::FillTooLarge`] for a fill above the fill word's 48-bit quantity.
pub fn fill_words(sequence: &[Option<BookOrder>], clearing: &Clearing) -> ClearingResult<Vec<u64>> {
    let mut fills = clearing.fills.iter();
    let opened = sequence.iter().flatten().count();
    if clearing.fills.len() < opened {
        return Err(ClearingError::FillsMismatch {
            orders: opened,
            fills: clearing.fills.len(),
        });
    }
    sequence
        .iter()
        .map(|slot| {
            let fill = match slot {
                None => Fill::Excluded,
                Some(order) => {
                    let wh = fills.next().copied().unwrap_or(0);
                    match (clearing.cleared() && wh > 0, order.side) {
                        (false, _) => Fill::Zero,
                        (true, Side::Buy) => Fill::Buy(wh),
                        (true, Side::Sell) => Fill::Sell(wh),
                    }
                }
            };
            fill.encode().map_err(|_| ClearingError::FillTooLarge {
                wh: fill.filled_wh(),
            })
        })
        .collect()
}

/// Clears an interval's sequence (see [`fill_words`] for its shape): the rule of DESIGN §3.5 over
/// the opened orders in commitment order, and the fill words.
///
/// # Errors
/// As [`clear`] and [`fill_words`].
pub fn clear_sequence(sequence: &[Option<BookOrder>]) -> ClearingResult<SequenceClearing> {
    let book: Vec<BookOrder> = sequence.iter().flatten().copied().collect();
    let clearing = clear(&book)?;
    let fills = fill_words(sequence, &clearing)?;
    Ok(SequenceClearing { clearing, fills })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use sealgrid_types::{EXCLUDED_FLAG, SELL_FLAG};

    use super::*;

    #[test]
    fn words_follow_the_sequence_and_the_codec() {
        // bid 10 @ 5, excluded, ask 6 @ 3, ask 4 @ 9 (too expensive): 6 Wh trade at 4.
        let seq = [
            Some(BookOrder::buy(10, 5)),
            None,
            Some(BookOrder::sell(6, 3)),
            Some(BookOrder::sell(4, 9)),
        ];
        let out = clear_sequence(&seq).expect("clears");
        assert_eq!(out.clearing.volume, 6);
        assert_eq!(out.fills, vec![6, EXCLUDED_FLAG, SELL_FLAG | 6, 0]);
    }

    #[test]
    fn nothing_cleared_is_all_zero_or_excluded() {
        let seq = [
            Some(BookOrder::buy(10, 1)),
            None,
            Some(BookOrder::sell(6, 3)),
        ];
        let out = clear_sequence(&seq).expect("clears");
        assert!(!out.clearing.cleared());
        assert_eq!(out.fills, vec![0, EXCLUDED_FLAG, 0]);
    }

    #[test]
    fn a_clearing_with_too_few_fills_is_refused() {
        let seq = [Some(BookOrder::buy(10, 5)), Some(BookOrder::sell(6, 3))];
        let mut clearing = clear(&[BookOrder::buy(10, 5), BookOrder::sell(6, 3)]).expect("clears");
        clearing.fills.pop();
        assert!(matches!(
            fill_words(&seq, &clearing),
            Err(ClearingError::FillsMismatch {
                orders: 2,
                fills: 1
            })
        ));
    }

    proptest! {
        /// Every word decodes to the order's side and the engine's fill, excluded slots stay
        /// excluded, and both sides' decoded fills add up to V*.
        #[test]
        fn words_decode_to_the_engine_fills(
            seq in proptest::collection::vec(
                proptest::option::weighted(0.8, (any::<bool>(), 0u64..1_000, -50i64..50)),
                0..40,
            )
        ) {
            let seq: Vec<Option<BookOrder>> = seq
                .into_iter()
                .map(|s| s.map(|(sell, q, l)| if sell { BookOrder::sell(q, l) } else { BookOrder::buy(q, l) }))
                .collect();
            let out = clear_sequence(&seq).expect("clears");
            let (mut bought, mut sold, mut j) = (0u64, 0u64, 0usize);
            for (slot, word) in seq.iter().zip(&out.fills) {
                let fill = Fill::decode(*word).expect("valid word");
                match slot {
                    None => prop_assert_eq!(fill, Fill::Excluded),
                    Some(o) => {
                        prop_assert_eq!(fill.filled_wh(), out.clearing.fills[j]);
                        match fill {
                            Fill::Buy(q) => { prop_assert_eq!(o.side, Side::Buy); bought += q }
                            Fill::Sell(q) => { prop_assert_eq!(o.side, Side::Sell); sold += q }
                            Fill::Zero => {}
                            Fill::Excluded => prop_assert!(false, "an opened order is excluded"),
                        }
                        j += 1;
                    }
                }
            }
            prop_assert_eq!(bought, out.clearing.volume);
            prop_assert_eq!(sold, out.clearing.volume);
        }
    }
}
