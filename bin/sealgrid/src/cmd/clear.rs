use std::{fs, path::PathBuf};

use clap::Args;
use eyre::{Context, Result};

#[derive(Debug, Args)]
pub(crate) struct ClearArgs {
    /// The book: `{"orders":[{"side":"buy"|"sell","quantity_wh":u64,"limit_price":i64}, ...]}`
    /// in commitment order. Prints `{"cleared":bool,"price":i64|null,"volume":u64,"fills":[...]}`
    /// with one fill (Wh) per order, in input order. `-` reads standard input.
    ///
    /// Example: `sealgrid clear book.json`.
    book: PathBuf,
}

impl ClearArgs {
    pub(crate) fn run(self) -> Result<()> {
        let text = if self.book.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin()).wrap_err("reading the book from stdin")?
        } else {
            fs::read_to_string(&self.book)
                .wrap_err_with(|| format!("reading {}", self.book.display()))?
        };
        let out = sealgrid_clearing::clear_book_json(&text)
            .wrap_err_with(|| format!("{} is not a valid book", self.book.display()))?;
        println!("{out}");
        Ok(())
    }
}
