//! Orders, receipts and meter readings as EIP-712 structs; order commitments and the
//! commitment accumulator (docs/encoding.md, "Order", "Order commitment", "Commitment
//! accumulator", "Operator receipt", "MeterReading").

use std::borrow::Cow;

use alloy_primitives::{Address, B256, U256};

use alloy_sol_types::{Eip712Domain, SolStruct, sol};

use crate::error::{TypesError, TypesResult};
use crate::field::{fr_to_b256, to_fr};
use crate::poseidon::{hash3, hash4};
use crate::units::MAX_QUANTITY_WH;

sol! {
    /// A sealed order as the trader signs it (EIP-712 type
    /// `Order(address trader,bytes32 market,uint64 interval,uint8 side,uint64 quantityWh,int64 limitPrice,uint64 nonce,bytes32 salt)`).
    ///
    /// `side` is 0 (buy) or 1 (sell); `limitPrice` is in payment-token base units per kWh;
    /// `market` and `salt` must be below the BN254 field modulus.
    #[derive(Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
    struct Order {
        address trader;
        bytes32 market;
        uint64 interval;
        uint8 side;
        uint64 quantityWh;
        int64 limitPrice;
        uint64 nonce;
        bytes32 salt;
    }

    /// The operator's receipt for an opened order (EIP-712 type
    /// `Receipt(bytes32 market,uint64 interval,uint32 index,bytes32 commitment)`), signed in
    /// the auction's domain.
    #[derive(Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
    struct Receipt {
        bytes32 market;
        uint64 interval;
        uint32 index;
        bytes32 commitment;
    }

    /// A meter gateway's signed reading (EIP-712 type
    /// `MeterReading(bytes32 meterId,uint64 interval,uint64 importWh,uint64 exportWh,uint8 quality,uint32 revision)`).
    /// `quality` is a [`MeterQuality`] code.
    #[derive(Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
    struct MeterReading {
        bytes32 meterId;
        uint64 interval;
        uint64 importWh;
        uint64 exportWh;
        uint8 quality;
        uint32 revision;
    }

    /// A market oracle's signed real-time (imbalance) price for an interval, in payment-token
    /// base units per kWh (EIP-712 type
    /// `RealTimePrice(bytes32 market,uint64 interval,int64 price,uint32 revision)`), signed in
    /// the delivery settlement's domain.
    #[derive(Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
    struct RealTimePrice {
        bytes32 market;
        uint64 interval;
        int64 price;
        uint32 revision;
    }
}

/// The EIP-712 type string of [`Order`].
pub const ORDER_TYPE: &str = "Order(address trader,bytes32 market,uint64 interval,uint8 side,uint64 quantityWh,int64 limitPrice,uint64 nonce,bytes32 salt)";
/// The EIP-712 type string of [`Receipt`].
pub const RECEIPT_TYPE: &str =
    "Receipt(bytes32 market,uint64 interval,uint32 index,bytes32 commitment)";
/// The EIP-712 type string of [`MeterReading`].
pub const METER_READING_TYPE: &str = "MeterReading(bytes32 meterId,uint64 interval,uint64 importWh,uint64 exportWh,uint8 quality,uint32 revision)";

/// The EIP-712 type string of [`RealTimePrice`].
pub const REAL_TIME_PRICE_TYPE: &str =
    "RealTimePrice(bytes32 market,uint64 interval,int64 price,uint32 revision)";
/// The largest revision the settlement contract stores (2^24 - 1).
pub const MAX_REVISION: u32 = (1 << 24) - 1;
/// The largest step of a revision over the stored one (`ReadingLib.MAX_REVISION_STEP`).
pub const MAX_REVISION_STEP: u32 = 16;
/// The largest import or export of one reading, 2^48 - 1 Wh (`ReadingLib.MAX_WH`).
pub const MAX_READING_WH: u64 = (1 << 48) - 1;

/// The side of an order: the one `Side` of the project (the clearing rule, the store, the API
/// and the circuit's witness all use it). Its on-chain code is 0 buy, 1 sell; serialised as
/// `"buy"` / `"sell"`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Side {
    /// A bid: buys energy.
    Buy = 0,
    /// An ask: sells energy.
    Sell = 1,
}

impl Side {
    /// The on-chain code: 0 buy, 1 sell.
    pub const fn code(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for Side {
    type Error = TypesError;

    fn try_from(code: u8) -> TypesResult<Self> {
        match code {
            0 => Ok(Self::Buy),
            1 => Ok(Self::Sell),
            other => Err(TypesError::InvalidSide(other)),
        }
    }
}

impl From<Side> for u8 {
    fn from(side: Side) -> Self {
        side.code()
    }
}

/// Quality code of a [`MeterReading`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MeterQuality {
    /// A measured value.
    Actual = 0,
    /// An estimate (e.g. a missing reading at the deadline).
    Estimated = 1,
    /// A substituted value (validation, estimation and editing).
    Substituted = 2,
}

impl TryFrom<u8> for MeterQuality {
    type Error = TypesError;

    fn try_from(code: u8) -> TypesResult<Self> {
        match code {
            0 => Ok(Self::Actual),
            1 => Ok(Self::Estimated),
            2 => Ok(Self::Substituted),
            other => Err(TypesError::InvalidMeterQuality(other)),
        }
    }
}

/// A market's price bounds, inclusive, in base units per kWh (the floor may be negative).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MarketBounds {
    /// Lowest accepted limit price.
    pub price_floor: i64,
    /// Highest accepted limit price.
    pub price_cap: i64,
}

impl Order {
    /// Checks the ranges every entry point enforces: `1 <= quantityWh <= 2^48 - 1`,
    /// `price_floor <= limitPrice <= price_cap`, `side <= 1`, `market < r`, `salt < r`.
    pub fn validate(&self, bounds: &MarketBounds) -> TypesResult<()> {
        if self.quantityWh == 0 {
            return Err(TypesError::ZeroQuantity);
        }
        if self.quantityWh > MAX_QUANTITY_WH {
            return Err(TypesError::QuantityTooLarge {
                quantity_wh: self.quantityWh,
            });
        }
        if self.limitPrice < bounds.price_floor || self.limitPrice > bounds.price_cap {
            return Err(TypesError::PriceOutOfBounds {
                price: self.limitPrice,
                floor: bounds.price_floor,
                cap: bounds.price_cap,
            });
        }
        Side::try_from(self.side)?;
        to_fr("market", self.market.into())?;
        to_fr("salt", self.salt.into())?;
        Ok(())
    }

    /// The order's side; [`TypesError::InvalidSide`] for a code other than 0 or 1.
    pub fn order_side(&self) -> TypesResult<Side> {
        Side::try_from(self.side)
    }
}

/// The EIP-712 domain of a sealgrid auction: name `sealgrid`, version `1`.
pub fn sealgrid_domain(chain_id: u64, verifying_contract: Address) -> Eip712Domain {
    Eip712Domain::new(
        Some(Cow::Borrowed("sealgrid")),
        Some(Cow::Borrowed("1")),
        Some(U256::from(chain_id)),
        Some(verifying_contract),
        None,
    )
}

/// The four field words an order commits to:
///
/// ```text
/// w0 = uint160(trader) | nonce << 160
/// w1 = uint256(market)                                  (< r, required)
/// w2 = interval | quantityWh << 64 | (uint64(limitPrice) ^ 2^63) << 128 | side << 192
/// w3 = uint256(salt)                                    (< r, required)
/// ```
///
/// Only `market` and `salt` can fail ([`TypesError::NotInField`]): `w0` has 224 bits and `w2`
/// 200, both below `r`. Business ranges are [`Order::validate`]'s job; this packs any `side`
/// and `quantityWh` bit for bit as the contract does.
pub fn order_words(order: &Order) -> TypesResult<[U256; 4]> {
    let market = U256::from_be_bytes(order.market.0);
    let salt = U256::from_be_bytes(order.salt.0);
    to_fr("market", market)?;
    to_fr("salt", salt)?;
    let w0 = U256::from_be_slice(order.trader.as_slice()) | (U256::from(order.nonce) << 160);
    // Offset binary: the same bits as `limitPrice + 2^63` as an unsigned 64-bit number.
    let price_offset = (order.limitPrice as u64) ^ (1 << 63);
    let w2 = U256::from(order.interval)
        | (U256::from(order.quantityWh) << 64)
        | (U256::from(price_offset) << 128)
        | (U256::from(order.side) << 192);
    Ok([w0, market, w2, salt])
}

/// The order's Poseidon commitment `H(w0, w1, w2, w3)` (see [`order_words`]).
pub fn order_commitment(order: &Order) -> TypesResult<B256> {
    let [w0, w1, w2, w3] = order_words(order)?;
    let fr = [
        to_fr("w0", w0)?,
        to_fr("market", w1)?,
        to_fr("w2", w2)?,
        to_fr("salt", w3)?,
    ];
    Ok(fr_to_b256(hash4(fr)))
}

/// The accumulator's start value `acc_0`.
pub const ACCUMULATOR_INIT: B256 = B256::ZERO;

/// The largest lock a commitment can carry: `2^93 - 1` base units, so that the committer and the
/// lock pack into one field element below `r` (160 + 93 bits). The auction refuses larger locks.
pub const MAX_LOCK: u128 = (1 << 93) - 1;

/// One entry of an interval's on-chain sequence: the commitment, the account that committed it
/// and the lock it carries (DESIGN §3.4: the accumulator binds all three).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SequenceEntry {
    /// The Poseidon commitment (below `r`).
    pub commitment: B256,
    /// `msg.sender` of the commit.
    pub committer: Address,
    /// The lock in payment-token base units (at most [`MAX_LOCK`]).
    pub lock: u128,
}

impl SequenceEntry {
    /// `uint160(committer) | lock << 160`, the accumulator's third input. Fails if the lock is
    /// above [`MAX_LOCK`].
    pub fn binding(&self) -> TypesResult<U256> {
        if self.lock > MAX_LOCK {
            return Err(TypesError::LockTooLarge { lock: self.lock });
        }
        Ok(U256::from_be_slice(self.committer.as_slice()) | (U256::from(self.lock) << 160))
    }
}

/// Bits of the accumulator as stored: the auction keeps the accumulator and the interval's
/// commitment count in one storage slot (`uint224 | uint32`), so every step's output is reduced
/// to its low 224 bits (docs/encoding.md, "Commitment accumulator").
pub const ACCUMULATOR_BITS: usize = 224;

/// One accumulator step `acc_{k+1} = H(acc_k, c_k, uint160(committer_k) | lock_k << 160) mod
/// 2^224` (circomlib Poseidon, width 4, the output's canonical integer truncated to
/// [`ACCUMULATOR_BITS`]). `acc` and the commitment must be below `r` and the lock at most
/// [`MAX_LOCK`].
pub fn accumulate(acc: B256, entry: &SequenceEntry) -> TypesResult<B256> {
    let a = to_fr("accumulator", acc.into())?;
    let c = to_fr("commitment", entry.commitment.into())?;
    let b = to_fr("binding", entry.binding()?)?;
    let full = U256::from_be_bytes(fr_to_b256(hash3([a, c, b])).0);
    let mask = (U256::from(1) << ACCUMULATOR_BITS) - U256::from(1);
    Ok(B256::from(full & mask))
}

/// The accumulator over a whole sequence, from [`ACCUMULATOR_INIT`].
pub fn accumulate_all<'a>(
    entries: impl IntoIterator<Item = &'a SequenceEntry>,
) -> TypesResult<B256> {
    entries.into_iter().try_fold(ACCUMULATOR_INIT, accumulate)
}

/// Half the secp256k1 group order: signatures with a larger `s` are rejected (EIP-2), as by
/// OpenZeppelin's `ECDSA`.
const SECP256K1N_HALF: U256 = U256::from_be_bytes(alloy_primitives::hex!(
    "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0"
));

/// Signs any sealgrid EIP-712 struct in `domain`; returns `r ‖ s ‖ v` (65 bytes, `v` 27 or
/// 28, low `s`), the form wallets (viem, ethers) produce.
pub fn sign_struct<T: SolStruct, S: alloy_signer::SignerSync + ?Sized>(
    signer: &S,
    value: &T,
    domain: &Eip712Domain,
) -> TypesResult<[u8; 65]> {
    let signature = signer.sign_hash_sync(&value.eip712_signing_hash(domain))?;
    Ok(signature.as_bytes())
}

/// Recovers the signer of an EIP-712 struct from a 65-byte `r ‖ s ‖ v` signature. Accepts
/// only what the contracts accept: `v` 27 or 28 and `s <= n / 2`.
pub fn recover_struct_signer<T: SolStruct>(
    value: &T,
    domain: &Eip712Domain,
    signature: &[u8],
) -> TypesResult<Address> {
    let bytes: &[u8; 65] = signature
        .try_into()
        .map_err(|_| TypesError::MalformedSignature("not 65 bytes"))?;
    let y_parity = match bytes[64] {
        27 => false,
        28 => true,
        _ => return Err(TypesError::MalformedSignature("v is neither 27 nor 28")),
    };
    let r = U256::from_be_slice(&bytes[..32]);
    let s = U256::from_be_slice(&bytes[32..64]);
    if s > SECP256K1N_HALF {
        return Err(TypesError::MalformedSignature(
            "s is in the upper half of the curve order",
        ));
    }
    let signature = alloy_primitives::Signature::new(r, s, y_parity);
    Ok(signature.recover_address_from_prehash(&value.eip712_signing_hash(domain))?)
}

/// Signs an order (see [`sign_struct`]).
pub fn sign_order<S: alloy_signer::SignerSync + ?Sized>(
    signer: &S,
    order: &Order,
    domain: &Eip712Domain,
) -> TypesResult<[u8; 65]> {
    sign_struct(signer, order, domain)
}

/// Recovers the signer of an order (see [`recover_struct_signer`]).
pub fn recover_order_signer(
    order: &Order,
    domain: &Eip712Domain,
    signature: &[u8],
) -> TypesResult<Address> {
    recover_struct_signer(order, domain, signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::FIELD_MODULUS;
    use alloy_primitives::{address, keccak256};
    use alloy_signer_local::PrivateKeySigner;

    fn order() -> Order {
        Order {
            trader: address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
            market: B256::from(U256::from(7)),
            interval: 5_000_000,
            side: 1,
            quantityWh: 1500,
            limitPrice: -40,
            nonce: 3,
            salt: B256::from(FIELD_MODULUS - U256::from(1)),
        }
    }

    const BOUNDS: MarketBounds = MarketBounds {
        price_floor: -500,
        price_cap: 3000,
    };

    #[test]
    fn type_strings_match_the_spec() {
        assert_eq!(Order::eip712_encode_type(), ORDER_TYPE);
        assert_eq!(Receipt::eip712_encode_type(), RECEIPT_TYPE);
        assert_eq!(MeterReading::eip712_encode_type(), METER_READING_TYPE);
        assert_eq!(RealTimePrice::eip712_encode_type(), REAL_TIME_PRICE_TYPE);
        assert_eq!(order().eip712_type_hash(), keccak256(ORDER_TYPE));
    }

    #[test]
    fn validate_ranges() {
        let o = order();
        assert!(o.validate(&BOUNDS).is_ok());
        let check = |f: &dyn Fn(&mut Order)| {
            let mut o = order();
            f(&mut o);
            o.validate(&BOUNDS)
        };
        assert!(matches!(
            check(&|o| o.quantityWh = 0),
            Err(TypesError::ZeroQuantity)
        ));
        assert!(check(&|o| o.quantityWh = MAX_QUANTITY_WH).is_ok());
        assert!(matches!(
            check(&|o| o.quantityWh = MAX_QUANTITY_WH + 1),
            Err(TypesError::QuantityTooLarge { .. })
        ));
        assert!(check(&|o| o.limitPrice = -500).is_ok());
        assert!(check(&|o| o.limitPrice = 3000).is_ok());
        assert!(matches!(
            check(&|o| o.limitPrice = -501),
            Err(TypesError::PriceOutOfBounds { .. })
        ));
        assert!(matches!(
            check(&|o| o.limitPrice = 3001),
            Err(TypesError::PriceOutOfBounds { .. })
        ));
        assert!(check(&|o| o.side = 0).is_ok());
        assert!(matches!(
            check(&|o| o.side = 2),
            Err(TypesError::InvalidSide(2))
        ));
        assert!(matches!(
            check(&|o| o.market = B256::from(FIELD_MODULUS)),
            Err(TypesError::NotInField { what: "market", .. })
        ));
        assert!(matches!(
            check(&|o| o.salt = B256::from(FIELD_MODULUS)),
            Err(TypesError::NotInField { what: "salt", .. })
        ));
    }

    #[test]
    fn words_pack_as_documented() {
        let o = order();
        let [w0, w1, w2, w3] = order_words(&o).expect("in field");
        assert_eq!(w0 >> 160, U256::from(3));
        assert_eq!(
            w0 & ((U256::from(1) << 160) - U256::from(1)),
            U256::from_be_slice(o.trader.as_slice())
        );
        assert_eq!(w1, U256::from(7));
        assert_eq!(w3, FIELD_MODULUS - U256::from(1));
        let mask = U256::from(u64::MAX);
        assert_eq!(w2 & mask, U256::from(5_000_000u64));
        assert_eq!((w2 >> 64) & mask, U256::from(1500));
        // -40 + 2^63
        assert_eq!((w2 >> 128) & mask, U256::from((1u64 << 63) - 40));
        assert_eq!(w2 >> 192, U256::from(1));
        assert!(w2.bit_len() <= 200);
    }

    #[test]
    fn offset_binary_preserves_order() {
        let word = |p: i64| {
            let mut o = order();
            o.limitPrice = p;
            (order_words(&o).expect("in field")[2] >> 128) & U256::from(u64::MAX)
        };
        assert_eq!(word(i64::MIN), U256::ZERO);
        assert_eq!(word(0), U256::from(1u64 << 63));
        assert_eq!(word(i64::MAX), U256::from(u64::MAX));
        assert!(word(-1) < word(0) && word(0) < word(1));
    }

    #[test]
    fn commitment_rejects_out_of_field() {
        let mut o = order();
        o.salt = B256::from(FIELD_MODULUS);
        assert!(order_commitment(&o).is_err());
        let mut o = order();
        o.market = B256::repeat_byte(0xff);
        assert!(order_commitment(&o).is_err());
        let entry = |commitment: B256, lock: u128| SequenceEntry {
            commitment,
            committer: Address::repeat_byte(0xff),
            lock,
        };
        assert!(accumulate(B256::from(FIELD_MODULUS), &entry(B256::ZERO, 0)).is_err());
        assert!(accumulate(B256::ZERO, &entry(B256::from(FIELD_MODULUS), 0)).is_err());
        assert!(matches!(
            accumulate(B256::ZERO, &entry(B256::ZERO, MAX_LOCK + 1)),
            Err(TypesError::LockTooLarge { .. })
        ));
        // The largest binding (all-ones committer, the largest lock) is still below r.
        assert!(accumulate(B256::ZERO, &entry(B256::ZERO, MAX_LOCK)).is_ok());
    }

    #[test]
    fn commitment_binds_every_field() {
        let base = order_commitment(&order()).expect("commitment");
        let mutations: [&dyn Fn(&mut Order); 8] = [
            &|o| o.trader = Address::ZERO,
            &|o| o.market = B256::from(U256::from(8)),
            &|o| o.interval += 1,
            &|o| o.side = 0,
            &|o| o.quantityWh += 1,
            &|o| o.limitPrice += 1,
            &|o| o.nonce += 1,
            &|o| o.salt = B256::from(U256::from(1)),
        ];
        for m in mutations {
            let mut o = order();
            m(&mut o);
            assert_ne!(order_commitment(&o).expect("commitment"), base);
        }
    }

    #[test]
    fn accumulator_chain() {
        let o1 = order();
        let mut o2 = order();
        o2.nonce = 4;
        let e1 = SequenceEntry {
            commitment: order_commitment(&o1).expect("c1"),
            committer: o1.trader,
            lock: 90,
        };
        let e2 = SequenceEntry {
            commitment: order_commitment(&o2).expect("c2"),
            committer: o2.trader,
            lock: 0,
        };
        let acc1 = accumulate(ACCUMULATOR_INIT, &e1).expect("acc1");
        let acc2 = accumulate(acc1, &e2).expect("acc2");
        assert_eq!(accumulate_all(&[e1, e2]).expect("all"), acc2);
        assert_eq!(accumulate_all(&[]).expect("empty"), ACCUMULATOR_INIT);
        // Order matters.
        assert_ne!(accumulate_all(&[e2, e1]).expect("swapped"), acc2);
        // The committer and the lock are bound: the same commitment by someone else, or with
        // another lock, is another sequence.
        let stranger = SequenceEntry {
            committer: Address::repeat_byte(0x11),
            ..e1
        };
        assert_ne!(
            accumulate(ACCUMULATOR_INIT, &stranger).expect("stranger"),
            acc1
        );
        let relocked = SequenceEntry { lock: 91, ..e1 };
        assert_ne!(
            accumulate(ACCUMULATOR_INIT, &relocked).expect("relocked"),
            acc1
        );
    }

    #[test]
    fn sign_and_recover() {
        let signer = PrivateKeySigner::random();
        let domain = sealgrid_domain(31337, address!("5FbDB2315678afecb367f032d93F642f64180aa3"));
        let mut o = order();
        o.trader = signer.address();
        let sig = sign_order(&signer, &o, &domain).expect("sign");
        assert!(sig[64] == 27 || sig[64] == 28);
        assert_eq!(
            recover_order_signer(&o, &domain, &sig).expect("recover"),
            signer.address()
        );

        // Another domain or order recovers someone else.
        let other = sealgrid_domain(1, domain.verifying_contract.unwrap_or_default());
        assert_ne!(
            recover_order_signer(&o, &other, &sig).expect("recover"),
            signer.address()
        );
        o.nonce += 1;
        assert_ne!(
            recover_order_signer(&o, &domain, &sig).expect("recover"),
            signer.address()
        );
    }

    #[test]
    fn recover_rejects_what_contracts_reject() {
        let signer = PrivateKeySigner::random();
        let domain = sealgrid_domain(31337, Address::ZERO);
        let o = order();
        let sig = sign_order(&signer, &o, &domain).expect("sign");
        assert!(matches!(
            recover_order_signer(&o, &domain, &sig[..64]),
            Err(TypesError::MalformedSignature(_))
        ));
        let mut v01 = sig;
        v01[64] -= 27;
        assert!(matches!(
            recover_order_signer(&o, &domain, &v01),
            Err(TypesError::MalformedSignature(_))
        ));
        // The malleable twin (n - s, flipped v) recovers the same key but is rejected.
        let n = U256::from_be_bytes(alloy_primitives::hex!(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
        ));
        let s = U256::from_be_slice(&sig[32..64]);
        let mut high = sig;
        high[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
        high[64] = if sig[64] == 27 { 28 } else { 27 };
        assert!(matches!(
            recover_order_signer(&o, &domain, &high),
            Err(TypesError::MalformedSignature(_))
        ));
    }

    #[test]
    fn side_codes() {
        assert_eq!(Side::try_from(0).expect("buy"), Side::Buy);
        assert_eq!(Side::try_from(1).expect("sell"), Side::Sell);
        assert!(Side::try_from(2).is_err());
        assert_eq!(u8::from(Side::Sell), 1);
        assert_eq!(
            MeterQuality::try_from(2).expect("substituted"),
            MeterQuality::Substituted
        );
        assert!(MeterQuality::try_from(3).is_err());
    }
}
