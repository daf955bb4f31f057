//! Where cleared batches go next: the proving and submission pipeline, behind a trait.

use sealgrid_store::BatchRow;

use crate::clock::BoxFuture;

/// A cleared batch, as handed on. The opened orders (private) are read from the store by the
/// prover; the batch carries what is public.
pub type ClearedBatch = BatchRow;

/// The next stage after clearing. `accept` must be idempotent per `(market, interval)`: after a
/// crash between a successful `accept` and the store noting it, the batch is offered again.
pub trait BatchSink: Send + Sync + std::fmt::Debug {
    /// Takes a batch; an error means "not taken, offer it again later".
    fn accept<'a>(&'a self, batch: &'a ClearedBatch) -> BoxFuture<'a, Result<(), String>>;
}

/// A sink that only logs: for running the matcher before the prover is wired in.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogSink;

impl BatchSink for LogSink {
    fn accept<'a>(&'a self, b: &'a ClearedBatch) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            tracing::info!(
                market = %b.market, interval = b.interval, count = b.count,
                price = ?b.price, volume = b.volume, "batch cleared (no prover configured)"
            );
            Ok(())
        })
    }
}
