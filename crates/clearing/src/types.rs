//! The engine's input and output types.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

pub use sealgrid_types::Side;

/// One order as the clearing rule sees it.
///
/// Deserialises only from a map (a JSON object) with exactly these three fields; serde's usual
/// acceptance of a struct as a sequence (`["buy", 5, 3]`) is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct BookOrder {
    /// Buy or sell.
    pub side: Side,
    /// Quantity in Wh. Zero is accepted and never fills.
    pub quantity_wh: u64,
    /// Limit price in base units per kWh; negative prices are allowed. A bid buys at any price
    /// `<= limit_price`, an ask sells at any price `>= limit_price`.
    pub limit_price: i64,
}

/// The derived field-by-field reading of [`BookOrder`], reached only through [`MapOnly`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "BookOrder")]
struct BookOrderFields {
    side: Side,
    quantity_wh: u64,
    limit_price: i64,
}

impl<'de> Deserialize<'de> for BookOrder {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let f: BookOrderFields = deserializer.deserialize_map(MapOnly::new("an order object"))?;
        Ok(Self {
            side: f.side,
            quantity_wh: f.quantity_wh,
            limit_price: f.limit_price,
        })
    }
}

/// A visitor that accepts only a map and hands it to `T`'s own (derived) deserialiser.
pub(crate) struct MapOnly<T> {
    expecting: &'static str,
    target: PhantomData<T>,
}

impl<T> MapOnly<T> {
    pub(crate) const fn new(expecting: &'static str) -> Self {
        Self {
            expecting,
            target: PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for MapOnly<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map))
    }
}

impl BookOrder {
    /// A bid of `quantity_wh` at `limit_price`.
    pub const fn buy(quantity_wh: u64, limit_price: i64) -> Self {
        Self {
            side: Side::Buy,
            quantity_wh,
            limit_price,
        }
    }

    /// An ask of `quantity_wh` at `limit_price`.
    pub const fn sell(quantity_wh: u64, limit_price: i64) -> Self {
        Self {
            side: Side::Sell,
            quantity_wh,
            limit_price,
        }
    }
}

/// The outcome of clearing a book.
///
/// When nothing clears (V* = 0) every `Option` is `None`, `volume` is 0 and every fill is 0.
/// Otherwise the maximising prices are exactly `[price_low, price_high]`, and the rule guarantees
/// `price_low == marginal_ask` and `price_high == marginal_bid` (both are reported separately
/// because the circuit takes them as separate witnesses).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Clearing {
    /// The clearing price p* = floor((pLo + pHi) / 2), `None` if nothing clears.
    pub price: Option<i64>,
    /// The cleared volume V* in Wh; both sides fill exactly this much.
    pub volume: u64,
    /// Each order's fill in Wh, in input (commitment) order.
    pub fills: Vec<u64>,
    /// pLo: the lowest price maximising the matched volume.
    pub price_low: Option<i64>,
    /// pHi: the highest price maximising the matched volume.
    pub price_high: Option<i64>,
    /// mB: the highest bid limit l with D(l) >= V*; bids above it fill fully, bids at it share.
    pub marginal_bid: Option<i64>,
    /// mA: the lowest ask limit l with S(l) >= V*; asks below it fill fully, asks at it share.
    pub marginal_ask: Option<i64>,
}

impl Clearing {
    /// The outcome for a book in which nothing clears: `n` zero fills.
    pub fn not_cleared(n: usize) -> Self {
        Self {
            price: None,
            volume: 0,
            fills: vec![0; n],
            price_low: None,
            price_high: None,
            marginal_bid: None,
            marginal_ask: None,
        }
    }

    /// Whether anything cleared (V* > 0).
    pub fn cleared(&self) -> bool {
        self.price.is_some()
    }
}
