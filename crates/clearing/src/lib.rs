#![doc = include_str!("../README.md")]

pub mod bench;
pub mod book;
mod engine;
mod error;
#[cfg(any(test, feature = "test-utils"))]
pub mod reference;
mod sequence;
mod types;

#[cfg(test)]
mod tests;

pub use book::{Book, ClearOutput, clear_book_json};
pub use engine::clear;
pub use error::{ClearingError, ClearingResult};
pub use sequence::{SequenceClearing, clear_sequence, fill_words};
pub use types::{BookOrder, Clearing, Side};
