//! ERC-1155 energy-intent token ids (docs/encoding.md, "ERC-1155 energy-intent token id").
//!
//! `id = marketSeq << 128 | interval << 8 | kind`, with `marketSeq` the market's creation
//! number (1, 2, ...) and `kind` 0 for bought energy (to be consumed), 1 for sold energy (to be
//! delivered). `interval << 8` takes at most 72 bits, so the three parts never overlap.

use alloy_primitives::U256;

use crate::error::{TypesError, TypesResult};

/// What an energy-intent token stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TokenKind {
    /// Bought energy, to be consumed.
    Bought = 0,
    /// Sold energy, to be delivered.
    Sold = 1,
}

impl TryFrom<u8> for TokenKind {
    type Error = TypesError;

    fn try_from(code: u8) -> TypesResult<Self> {
        match code {
            0 => Ok(Self::Bought),
            1 => Ok(Self::Sold),
            other => Err(TypesError::InvalidTokenId(U256::from(other))),
        }
    }
}

/// The token id of `kind` energy of `interval` in the market created `market_seq`-th.
pub fn token_id(market_seq: u32, interval: u64, kind: TokenKind) -> U256 {
    (U256::from(market_seq) << 128) | (U256::from(interval) << 8) | U256::from(kind as u8)
}

/// The parts of a token id `(market_seq, interval, kind)`; [`TypesError::InvalidTokenId`] if
/// bits outside the three fields are set or the kind is not 0 or 1.
pub fn parse_token_id(id: U256) -> TypesResult<(u32, u64, TokenKind)> {
    let invalid = || TypesError::InvalidTokenId(id);
    let market_seq = u32::try_from(id >> 128).map_err(|_| invalid())?;
    let low = id & ((U256::from(1) << 128) - U256::from(1));
    if low >> 72 != U256::ZERO {
        return Err(invalid());
    }
    let interval = u64::try_from(low >> 8).map_err(|_| invalid())?;
    let kind = u8::try_from(low & U256::from(0xff)).map_err(|_| invalid())?;
    let kind = TokenKind::try_from(kind).map_err(|_| invalid())?;
    Ok((market_seq, interval, kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout() {
        assert_eq!(token_id(1, 0, TokenKind::Bought), U256::from(1) << 128);
        assert_eq!(token_id(0, 1, TokenKind::Sold), U256::from(0x101));
        assert_eq!(
            token_id(u32::MAX, u64::MAX, TokenKind::Sold),
            (U256::from(u32::MAX) << 128) | (U256::from(u64::MAX) << 8) | U256::from(1)
        );
        assert!(parse_token_id(U256::from(2)).is_err());
        assert!(parse_token_id(U256::from(1) << 72).is_err());
        assert!(parse_token_id(U256::from(1) << 160).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(seq in any::<u32>(), interval in any::<u64>(), sold in any::<bool>()) {
            let kind = if sold { TokenKind::Sold } else { TokenKind::Bought };
            let id = token_id(seq, interval, kind);
            prop_assert_eq!(parse_token_id(id).expect("valid id"), (seq, interval, kind));
        }
    }
}
