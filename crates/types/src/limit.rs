//! Token buckets keyed by who asks: an order's trader, a client's network address. The
//! matcher's and the delivery service's APIs limit clients with them.

use std::{collections::HashMap, hash::Hash, net::IpAddr, sync::Mutex, time::Instant};

/// The key a client's address is limited under: an IPv4 address as is (an IPv4-mapped IPv6
/// address as IPv4), an IPv6 address by its /64 (the block one subscriber holds).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1u128 << 64) - 1),
            )),
        },
    }
}

/// Most keys remembered before full buckets are forgotten (a full bucket is what a new key
/// gets anyway, so forgetting it loses nothing).
const MAX_KEYS: usize = 100_000;

/// A token bucket per key: `burst` tokens at most, refilled at `per_second`; counted in
/// thousandths of a token so that slow refill rates still refill.
#[derive(Debug)]
pub struct TokenBuckets<K> {
    burst: u64,
    per_second: u64,
    started: Instant,
    buckets: Mutex<HashMap<K, (u64, u64)>>,
}

impl<K: Hash + Eq> TokenBuckets<K> {
    /// Buckets of `burst` tokens refilled at `per_second`.
    pub fn new(burst: u64, per_second: u64) -> Self {
        Self {
            burst,
            per_second,
            started: Instant::now(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token of `key`'s bucket, if it has one.
    pub fn allow(&self, key: K) -> bool {
        self.allow_n(key, 1)
    }

    /// Takes `n` tokens of `key`'s bucket if it holds that many; otherwise takes nothing.
    pub fn allow_n(&self, key: K, n: u64) -> bool {
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let cap = self.burst.saturating_mul(1000);
        let refill = |tokens: u64, at: u64| {
            tokens
                .saturating_add(now_ms.saturating_sub(at).saturating_mul(self.per_second))
                .min(cap)
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > MAX_KEYS {
            buckets.retain(|_, (tokens, at)| refill(*tokens, *at) < cap);
        }
        let (tokens, at) = buckets.entry(key).or_insert((cap, now_ms));
        *tokens = refill(*tokens, *at);
        *at = now_ms;
        let need = n.saturating_mul(1000);
        if *tokens >= need {
            *tokens -= need;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_allow_a_burst_then_refuse_per_key() {
        let l = TokenBuckets::new(3, 0);
        assert!(l.allow(1u8) && l.allow(1) && l.allow(1));
        assert!(!l.allow(1), "burst spent, no refill");
        assert!(l.allow(2), "buckets are per key");
    }

    #[test]
    fn a_charge_larger_than_the_bucket_takes_nothing() {
        let l = TokenBuckets::new(10, 0);
        assert!(!l.allow_n(1u8, 11));
        assert!(l.allow_n(1, 10), "the refused charge took nothing");
        assert!(!l.allow(1));
    }

    #[test]
    fn clients_are_keyed_by_ipv4_or_ipv6_prefix() {
        let v4: IpAddr = "10.1.2.3".parse().expect("ip");
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().expect("ip");
        assert_eq!(client_key(mapped), v4);
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(client_key(a), client_key(b), "one /64");
        assert_ne!(client_key(a), client_key(c));
    }

    #[test]
    fn buckets_refill_at_their_rate() {
        let l = TokenBuckets::new(1, 1000);
        assert!(l.allow(1u8));
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(l.allow(1), "1,000 per second refills one token in 1 ms");
    }
}
