//! The JSON order book the CLI reads and the JSON result it prints.
//!
//! Input: `{"orders":[{"side":"buy"|"sell","quantity_wh":u64,"limit_price":i64}, ...]}`, with
//! unknown fields rejected. Output: `{"cleared":bool,"price":i64|null,"volume":u64,"fills":[...]}`
//! in exactly that field order, compact, fills in input order.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::types::MapOnly;
use crate::{BookOrder, Clearing, ClearingResult, clear};

/// An order book as read from JSON; the orders are in commitment (input) order.
///
/// Like [`BookOrder`], it deserialises only from an object with exactly the field `orders`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Book {
    /// The orders, in commitment order.
    pub orders: Vec<BookOrder>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "Book")]
struct BookFields {
    orders: Vec<BookOrder>,
}

impl<'de> Deserialize<'de> for Book {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let f: BookFields = deserializer.deserialize_map(MapOnly::new("an order book object"))?;
        Ok(Self { orders: f.orders })
    }
}

impl Book {
    /// Parses a book; any problem is a [`ClearingError::InvalidBook`] with line and column.
    ///
    /// [`ClearingError::InvalidBook`]: crate::ClearingError::InvalidBook
    pub fn from_json(text: &str) -> ClearingResult<Self> {
        Ok(serde_json::from_str(text)?)
    }

    /// Clears the book with [`clear`].
    pub fn clear(&self) -> ClearingResult<Clearing> {
        clear(&self.orders)
    }
}

/// The result as the CLI prints it. Its [`Display`](fmt::Display) is the compact JSON
/// `{"cleared":bool,"price":i64|null,"volume":u64,"fills":[u64,...]}`; serde serialises it the
/// same way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearOutput {
    /// Whether anything cleared.
    pub cleared: bool,
    /// The clearing price, `null` if nothing cleared.
    pub price: Option<i64>,
    /// The cleared volume in Wh.
    pub volume: u64,
    /// Each order's fill in Wh, in input order.
    pub fills: Vec<u64>,
}

impl From<Clearing> for ClearOutput {
    fn from(c: Clearing) -> Self {
        Self {
            cleared: c.cleared(),
            price: c.price,
            volume: c.volume,
            fills: c.fills,
        }
    }
}

impl fmt::Display for ClearOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{\"cleared\":{},\"price\":", self.cleared)?;
        match self.price {
            Some(p) => write!(f, "{p}")?,
            None => f.write_str("null")?,
        }
        write!(f, ",\"volume\":{},\"fills\":[", self.volume)?;
        for (i, fill) in self.fills.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{fill}")?;
        }
        f.write_str("]}")
    }
}

/// Parses a JSON book, clears it and returns the compact JSON result (no trailing newline).
pub fn clear_book_json(text: &str) -> ClearingResult<String> {
    let clearing = Book::from_json(text)?.clear()?;
    Ok(ClearOutput::from(clearing).to_string())
}
