//! The pilot scenario of `sealgrid demo`: synthetic but documented profiles for a feeder with
//! 12 MW of rooftop PV over 180 commercial and industrial sites, 9 MWh of storage and one
//! aggregator, trading 5-minute intervals. Everything is deterministic from a seed, so a run
//! can be replayed.
//!
//! **Sites.** Each site has a kind (office 40 %, retail 25 %, warehouse 20 %, factory 15 %), a
//! PV size drawn log-normally (median 55 kWp, clipped to 15-400 kWp) and scaled so that the
//! whole fleet has `12 MW × sites / 180`, and a load peak of its PV size times a kind ratio
//! (office 0.6, retail 0.7, warehouse 0.35, factory 1.1) with ±20 % spread.
//! - *PV* at hour h: `kWp × sin(π (h − 6) / 14)^1.3` between 06:00 and 20:00 (a summer day),
//!   times a feeder-wide cloud factor (an AR(1) walk between 0.35 and 1.0, one step per
//!   interval) and a per-site ±8 % noise.
//! - *Load* at hour h: the peak times the kind's shape: offices 30 % at night rising to 100 %
//!   08:00-17:00, retail 35 % / 90 % 10:00-20:00, warehouses 40 % / 70 % 06:00-18:00,
//!   factories 70 % / 100 % 06:00-22:00; ±5 % noise per interval.
//! - A site trades its net position for the interval: it sells `PV − load` when positive and
//!   buys the deficit when negative, skipping positions under 100 Wh. Sellers ask 30-70 per MWh
//!   (their alternative is the export tariff), buyers bid 90-160 per MWh (the retail tariff),
//!   both in token units with 6 decimals, so 50 per MWh = 50,000 base units per kWh ÷ 1,000.
//!
//! **Storage.** Six batteries of 1.5 MWh / 750 kW (9 MWh in all, scaled with `sites`) start at
//! 30 % charge. From 10:00 to 15:00 they buy up to one interval of charging power (62.5 kWh)
//! at a limit of 60 per MWh; from 17:00 to 21:00 they sell as much at a limit of 120 per MWh;
//! otherwise they stay idle. A cleared fill moves the state of charge.
//!
//! **Aggregator.** One account balances the rest against the wholesale market: it bids for the
//! interval's expected surplus (plus 50 kWh) at 45 per MWh (the wholesale price it can sell at)
//! and offers the expected deficit (plus 50 kWh) at 180 per MWh, so the book always has a counterparty within the bounds.

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use sealgrid_clearing::bench::SplitMix64;
use sealgrid_types::Side;

/// Base units per kWh for a price per MWh in whole tokens (6 decimals): 50 per MWh = 50,000.
pub const fn per_mwh(tokens: i64) -> i64 {
    tokens * 1_000
}

/// What a participant is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An office building with rooftop PV.
    Office,
    /// A retail site with rooftop PV.
    Retail,
    /// A warehouse with rooftop PV.
    Warehouse,
    /// A factory with rooftop PV.
    Factory,
    /// A battery.
    Storage,
    /// The aggregator.
    Aggregator,
}

impl Kind {
    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Office => "office",
            Self::Retail => "retail",
            Self::Warehouse => "warehouse",
            Self::Factory => "factory",
            Self::Storage => "storage",
            Self::Aggregator => "aggregator",
        }
    }
}

/// One account of the scenario.
#[derive(Clone, Debug)]
pub struct Participant {
    /// What it is.
    pub kind: Kind,
    /// Its wallet (derived from the scenario seed: devnet only). For a participant that
    /// trades through a smart account, the account's owner key.
    pub key: PrivateKeySigner,
    /// Its ERC-4337 smart account (a MarketAccount owned by `key`), if it trades through one.
    pub account: Option<Address>,
    /// PV size (kWp), 0 for storage and the aggregator.
    pub pv_kw: f64,
    /// Load peak (kW).
    pub load_kw: f64,
    /// Battery energy (kWh) and state of charge (kWh), for storage.
    pub battery: Option<(f64, f64)>,
    ask: i64,
    bid: i64,
}

impl Participant {
    /// The address it trades, holds money, meters and certificates under: its smart account,
    /// or its wallet.
    pub fn trader(&self) -> Address {
        self.account.unwrap_or_else(|| self.key.address())
    }
}

/// An order the scenario wants placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    /// Index of the participant.
    pub who: usize,
    /// Buy or sell.
    pub side: Side,
    /// Energy (Wh).
    pub quantity_wh: u64,
    /// Limit price (base units per kWh).
    pub limit: i64,
}

/// The scenario's randomness: the project's splitmix64 with the draws the profiles need.
#[derive(Clone, Debug)]
pub(crate) struct Rng(SplitMix64);

impl Rng {
    /// A generator seeded with `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self(SplitMix64::new(seed))
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Standard normal (Box-Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// The feeder: participants and the weather state.
#[derive(Clone, Debug)]
pub struct Pilot {
    /// Every account: sites, then batteries, then the aggregator.
    pub participants: Vec<Participant>,
    cloud: f64,
    rng: Rng,
}

/// Interval length in hours.
const DT_H: f64 = 5.0 / 60.0;

/// Batteries of a feeder of `sites` sites (the pilot's six per 180 sites, at least one).
pub const fn batteries(sites: usize) -> usize {
    let b = (6 * sites).div_ceil(180);
    if b == 0 { 1 } else { b }
}

/// The most orders one interval can have: one per site and battery and the aggregator's two.
pub const fn max_orders(sites: usize) -> usize {
    sites + batteries(sites) + 2
}

/// The largest feeder whose interval fits the 256-slot circuit with the demo's one unopened
/// commitment: 244 sites, 9 batteries, 2 aggregator orders and 1 unopened commitment are 256.
pub const MAX_SITES: usize = 244;

/// The scenario's key `n` of kind `what` (participant wallets, meter gateways): devnet only.
pub(crate) fn derived_key(seed: u64, what: &str, n: usize) -> PrivateKeySigner {
    // keccak of a label is a valid secp256k1 key with overwhelming probability; retry otherwise.
    let mut salt = 0u32;
    loop {
        let k = keccak256(format!("sealgrid/demo/{seed}/{what}/{n}/{salt}"));
        if let Ok(s) = PrivateKeySigner::from_bytes(&k) {
            return s;
        }
        salt += 1;
    }
}

fn wallet(seed: u64, n: usize) -> PrivateKeySigner {
    derived_key(seed, "participant", n)
}

impl Pilot {
    /// The scenario with `sites` C&I sites (180 in the pilot), from `seed`.
    pub fn new(sites: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut participants = Vec::new();
        let mut sizes = Vec::new();
        for _ in 0..sites {
            let size = (55.0 * (0.6 * rng.normal()).exp()).clamp(15.0, 400.0);
            sizes.push(size);
        }
        let total: f64 = sizes.iter().sum();
        let fleet_kw = 12_000.0 * sites as f64 / 180.0;
        for (n, size) in sizes.iter().enumerate() {
            let u = rng.unit();
            let (kind, ratio) = match u {
                u if u < 0.40 => (Kind::Office, 0.6),
                u if u < 0.65 => (Kind::Retail, 0.7),
                u if u < 0.85 => (Kind::Warehouse, 0.35),
                _ => (Kind::Factory, 1.1),
            };
            let pv_kw = size * fleet_kw / total.max(1.0);
            participants.push(Participant {
                kind,
                key: wallet(seed, n),
                account: None,
                pv_kw,
                load_kw: pv_kw * ratio * rng.range(0.8, 1.2),
                battery: None,
                ask: per_mwh(rng.range(30.0, 70.0).round() as i64),
                bid: per_mwh(rng.range(90.0, 160.0).round() as i64),
            });
        }
        for b in 0..batteries(sites) {
            participants.push(Participant {
                kind: Kind::Storage,
                key: wallet(seed, sites + b),
                account: None,
                pv_kw: 0.0,
                load_kw: 750.0,
                battery: Some((1_500.0, 450.0)),
                ask: per_mwh(120),
                bid: per_mwh(60),
            });
        }
        participants.push(Participant {
            kind: Kind::Aggregator,
            key: wallet(seed, sites + batteries(sites)),
            account: None,
            pv_kw: 0.0,
            load_kw: 0.0,
            battery: None,
            ask: per_mwh(180),
            bid: per_mwh(45),
        });
        Self {
            participants,
            cloud: 0.85,
            rng,
        }
    }

    /// PV fraction of kWp at hour `h` under a clear sky.
    pub fn clear_sky(h: f64) -> f64 {
        if !(6.0..=20.0).contains(&h) {
            return 0.0;
        }
        (std::f64::consts::PI * (h - 6.0) / 14.0)
            .sin()
            .max(0.0)
            .powf(1.3)
    }

    /// Load fraction of peak for `kind` at hour `h`.
    pub fn load_shape(kind: Kind, h: f64) -> f64 {
        let day = |from: f64, to: f64| (from..to).contains(&h);
        match kind {
            Kind::Office if day(8.0, 17.0) => 1.0,
            Kind::Office if day(7.0, 8.0) => 0.3 + 0.7 * (h - 7.0),
            Kind::Office if day(17.0, 19.0) => 1.0 - 0.35 * (h - 17.0),
            Kind::Office => 0.3,
            Kind::Retail if day(10.0, 20.0) => 0.9,
            Kind::Retail => 0.35,
            Kind::Warehouse if day(6.0, 18.0) => 0.7,
            Kind::Warehouse => 0.4,
            Kind::Factory if day(6.0, 22.0) => 1.0,
            Kind::Factory => 0.7,
            Kind::Storage | Kind::Aggregator => 0.0,
        }
    }

    /// The orders for the interval starting at hour-of-day `h` (advances the weather).
    pub fn intents(&mut self, h: f64) -> Vec<Intent> {
        // The cloud factor walks between 0.35 and 1.0.
        self.cloud = (0.8 * self.cloud + 0.2 * 0.85 + 0.08 * self.rng.normal()).clamp(0.35, 1.0);
        let sun = Self::clear_sky(h) * self.cloud;
        let mut out = Vec::new();
        let (mut surplus, mut deficit) = (0u64, 0u64);
        let mut aggregator = None;
        for (who, p) in self.participants.iter().enumerate() {
            match p.kind {
                Kind::Aggregator => aggregator = Some(who),
                Kind::Storage => {
                    let Some((cap, soc)) = p.battery else {
                        continue;
                    };
                    let step = p.load_kw * DT_H;
                    let (side, kwh, limit) = if (10.0..15.0).contains(&h) {
                        (Side::Buy, step.min(cap - soc), p.bid)
                    } else if (17.0..21.0).contains(&h) {
                        (Side::Sell, step.min(soc), p.ask)
                    } else {
                        continue;
                    };
                    let wh = (kwh * 1000.0) as u64;
                    if wh >= 100 {
                        out.push(Intent {
                            who,
                            side,
                            quantity_wh: wh,
                            limit,
                        });
                    }
                }
                _ => {
                    let pv = p.pv_kw * sun * self.rng.range(0.92, 1.08);
                    let load = p.load_kw * Self::load_shape(p.kind, h) * self.rng.range(0.95, 1.05);
                    let net_wh = ((pv - load) * DT_H * 1000.0).round() as i64;
                    if net_wh.unsigned_abs() < 100 {
                        continue;
                    }
                    let (side, limit) = if net_wh > 0 {
                        surplus += net_wh.unsigned_abs();
                        (Side::Sell, p.ask)
                    } else {
                        deficit += net_wh.unsigned_abs();
                        (Side::Buy, p.bid)
                    };
                    out.push(Intent {
                        who,
                        side,
                        quantity_wh: net_wh.unsigned_abs(),
                        limit,
                    });
                }
            }
        }
        if let Some(who) = aggregator {
            let a = &self.participants[who];
            out.push(Intent {
                who,
                side: Side::Buy,
                quantity_wh: surplus.saturating_sub(deficit) + 50_000,
                limit: a.bid,
            });
            out.push(Intent {
                who,
                side: Side::Sell,
                quantity_wh: deficit.saturating_sub(surplus) + 50_000,
                limit: a.ask,
            });
        }
        out
    }

    /// Applies a cleared fill to a battery's state of charge.
    pub fn apply_fill(&mut self, who: usize, side: Side, wh: u64) {
        if let Some((cap, soc)) = self.participants[who].battery.as_mut() {
            let kwh = wh as f64 / 1000.0;
            *soc = match side {
                Side::Buy => (*soc + kwh).min(*cap),
                Side::Sell => (*soc - kwh).max(0.0),
            };
        }
    }

    /// A salt for an order (below the field modulus).
    pub fn salt(seed: u64, interval: u64, n: usize) -> B256 {
        B256::from(
            U256::from_be_bytes(keccak256(format!("sealgrid/demo/{seed}/salt/{interval}/{n}")).0)
                >> 8,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pilot_has_12_mw_of_pv_9_mwh_of_storage_and_one_aggregator() {
        let p = Pilot::new(180, 7);
        let pv: f64 = p.participants.iter().map(|x| x.pv_kw).sum();
        assert!((pv - 12_000.0).abs() < 1e-6, "{pv}");
        let storage: f64 = p
            .participants
            .iter()
            .filter_map(|x| x.battery.map(|b| b.0))
            .sum();
        assert_eq!(storage, 9_000.0);
        assert_eq!(
            p.participants
                .iter()
                .filter(|x| x.kind == Kind::Aggregator)
                .count(),
            1
        );
        assert_eq!(p.participants.len(), 187);
        // Distinct wallets.
        let mut keys: Vec<_> = p.participants.iter().map(|x| x.key.address()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 187);
    }

    #[test]
    fn the_largest_feeder_fills_the_256_slot_circuit_exactly() {
        assert_eq!(max_orders(MAX_SITES) + 1, 256);
        assert!(max_orders(MAX_SITES + 1) + 1 > 256);
        for sites in [1, 12, 180, MAX_SITES] {
            let mut p = Pilot::new(sites, 7);
            for h in [12.0, 19.0] {
                assert!(
                    p.intents(h).len() <= max_orders(sites),
                    "{sites} sites at {h}h"
                );
            }
        }
    }

    #[test]
    fn midday_exports_evening_imports_and_storage_follows_the_clock() {
        let mut p = Pilot::new(180, 7);
        let noon = p.intents(12.0);
        let sells = noon.iter().filter(|i| i.side == Side::Sell).count();
        let buys = noon.iter().filter(|i| i.side == Side::Buy).count();
        assert!(sells > buys, "midday: {sells} sellers vs {buys} buyers");
        assert!(
            noon.len() <= 256,
            "fits the 256-slot circuit: {}",
            noon.len()
        );
        let charging = noon
            .iter()
            .filter(|i| p.participants[i.who].kind == Kind::Storage && i.side == Side::Buy)
            .count();
        assert_eq!(charging, 6);
        let evening = p.intents(19.0);
        let discharging = evening
            .iter()
            .filter(|i| p.participants[i.who].kind == Kind::Storage && i.side == Side::Sell)
            .count();
        assert_eq!(discharging, 6);
        let sells = evening.iter().filter(|i| i.side == Side::Sell).count();
        let buys = evening.iter().filter(|i| i.side == Side::Buy).count();
        assert!(buys > sells, "evening: {buys} buyers vs {sells} sellers");
        // Deterministic from the seed.
        assert_eq!(
            Pilot::new(180, 7).intents(12.0),
            Pilot::new(180, 7).intents(12.0)
        );
        // A battery's charge moves with its fills and stays within its capacity.
        let b = p
            .participants
            .iter()
            .position(|x| x.kind == Kind::Storage)
            .expect("a battery");
        p.apply_fill(b, Side::Buy, 2_000_000);
        assert_eq!(p.participants[b].battery.map(|x| x.1), Some(1_500.0));
        p.apply_fill(b, Side::Sell, 100_000);
        assert_eq!(p.participants[b].battery.map(|x| x.1), Some(1_400.0));
    }

    #[test]
    fn a_small_feeder_fits_the_16_slot_circuit() {
        let mut p = Pilot::new(12, 7);
        for h in [9.0, 12.0, 18.0] {
            let n = p.intents(h).len();
            assert!(
                n <= 15,
                "{n} orders at {h}h (one slot is kept for an unopened commitment)"
            );
        }
    }
}
