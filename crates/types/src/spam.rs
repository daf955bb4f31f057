//! The auction's limits on commitment spam (DESIGN §3.4, docs/operations.md "Commitment spam"):
//! a per-account cap per interval and a fee for commitments that are never opened.
//!
//! The contract keeps the fee in 16 bits, `mantissa << 5 | exponent` with
//! `fee = mantissa * 10^exponent`, `mantissa < 2048` and `exponent < 32`, so that commit reads it
//! from a slot it reads anyway (docs/encoding.md, "Unopened fee"). A market's fee must have that
//! form; [`encode_fee`] says whether it does, exactly as `MarketLib.encodeFee` does.

/// The most commitments a market may let one account make per interval (`MarketLib.MAX_PER_ACCOUNT`):
/// every record operation probes up to the market's cap.
pub const MAX_PER_ACCOUNT: usize = 32;

/// The encoded form of `fee`, or `None` if it is not `m * 10^e` with `m < 2048` and `e < 32`.
pub fn encode_fee(mut fee: u128) -> Option<u16> {
    let mut e = 0u16;
    while fee >= 2048 {
        if !fee.is_multiple_of(10) {
            return None;
        }
        fee /= 10;
        e += 1;
    }
    // fee < 2048 < 2^11.
    (e < 32).then_some(((fee as u16) << 5) | e)
}

/// The fee an encoded value stands for (`MarketLib.decodeFee`), or `None` above `u128`.
pub fn decode_fee(code: u16) -> Option<u128> {
    u128::from(code >> 5).checked_mul(10u128.checked_pow(u32::from(code & 31))?)
}

/// The least lock a commitment can carry on a market whose interval fee is `fee`: the order's
/// own required lock, or the fee if that is larger (the auction refuses a lock below the fee).
pub fn lock_with_fee(required: u128, fee: u128) -> u128 {
    required.max(fee)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn operators_fees_encode_exactly() {
        for fee in [
            0u128,
            1,
            2047,
            10_000,
            100_000,
            1_000_000,
            100_000_000_000_000_000,
        ] {
            let code = encode_fee(fee).expect("representable");
            assert_eq!(decode_fee(code), Some(fee), "fee {fee}");
        }
        // The code is mantissa << 5 | exponent: 0.10 USDC = 1000 * 10^2.
        assert_eq!(encode_fee(100_000), Some((1000 << 5) | 2));
        // Four significant digits, or a mantissa of 2048 and more, do not fit.
        assert_eq!(encode_fee(2048), None);
        assert_eq!(encode_fee(20_480), None);
        assert_eq!(encode_fee(123_456), None);
        // An exponent of 32 does not fit in 5 bits.
        assert_eq!(encode_fee(10u128.pow(35)), None);
    }

    proptest! {
        #[test]
        fn encode_then_decode_is_identity(m in 0u128..2048, e in 0u32..25) {
            let fee = m * 10u128.pow(e);
            let code = encode_fee(fee).expect("m * 10^e encodes");
            prop_assert_eq!(decode_fee(code), Some(fee));
        }
    }
}
