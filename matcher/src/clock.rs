//! Time for the scheduler: the system clock in production, a simulated clock in tests.

use sealgrid_types::BoxFuture;
use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::sync::watch;

/// A source of unix time in seconds that can wait until a given time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in unix seconds.
    fn now(&self) -> u64;
    /// Resolves once `now() >= unix`.
    fn sleep_until(&self, unix: u64) -> BoxFuture<'_, ()>;
}

/// Wall-clock time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    fn sleep_until(&self, unix: u64) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            loop {
                let now = self.now();
                if now >= unix {
                    return;
                }
                // Re-check at most every 5 s so that a stepped system clock is noticed.
                tokio::time::sleep(Duration::from_secs((unix - now).min(5))).await;
            }
        })
    }
}

/// Simulated time, moved only by [`SimClock::set`] / [`SimClock::advance`].
#[derive(Clone, Debug)]
pub struct SimClock {
    tx: Arc<watch::Sender<u64>>,
    lock: Arc<Mutex<()>>,
}

impl SimClock {
    /// A clock standing at `unix`.
    pub fn new(unix: u64) -> Self {
        Self {
            tx: Arc::new(watch::channel(unix).0),
            lock: Arc::new(Mutex::new(())),
        }
    }

    /// Moves the clock to `unix` (never backwards).
    pub fn set(&self, unix: u64) {
        let _guard = self.lock.lock();
        self.tx.send_if_modified(|t| {
            let moved = unix > *t;
            if moved {
                *t = unix;
            }
            moved
        });
    }

    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.set(self.now().saturating_add(secs));
    }
}

impl Clock for SimClock {
    fn now(&self) -> u64 {
        *self.tx.borrow()
    }

    fn sleep_until(&self, unix: u64) -> BoxFuture<'_, ()> {
        let mut rx = self.tx.subscribe();
        Box::pin(async move {
            // The sender lives in `self`, so `wait_for` only fails if the clock is dropped.
            let _ = rx.wait_for(|t| *t >= unix).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sim_clock_wakes_sleepers_and_never_goes_back() {
        let c = SimClock::new(100);
        let c2 = c.clone();
        let waiter = tokio::spawn(async move {
            c2.sleep_until(150).await;
            c2.now()
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        c.advance(20);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "120 < 150");
        c.set(150);
        assert_eq!(waiter.await.expect("join"), 150);
        c.set(10);
        assert_eq!(c.now(), 150);
    }

    #[tokio::test]
    async fn system_clock_past_deadline_returns_at_once() {
        let c = SystemClock;
        assert!(c.now() > 1_700_000_000);
        tokio::time::timeout(Duration::from_secs(1), c.sleep_until(0))
            .await
            .expect("immediate");
    }
}
