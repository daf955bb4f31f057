//! A batch sink for running the matcher before a prover is configured.

use sealgrid_types::{BatchSink, BoxFuture, ClearedBatch, SinkError};

/// A sink that only logs: for running the matcher before the prover is wired in.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogSink;

impl BatchSink for LogSink {
    fn accept<'a>(&'a self, b: &'a ClearedBatch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            tracing::info!(
                market = %b.market, interval = b.interval, count = b.count,
                price = ?b.price, volume = b.volume, "batch cleared (no prover configured)"
            );
            Ok(())
        })
    }
}
