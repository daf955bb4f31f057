//! sealgrid's meter gateway (`sealgrid gateway --config FILE`; DESIGN §2, §4).
//!
//! Device data in, signed readings out: each meter is read at every interval boundary (its
//! load profile, or its registers), the captures become 5-minute readings by the rule in
//! [`intervals`], each reading is signed with the gateway's key in the DeliverySettlement's
//! EIP-712 domain and written to the [`outbox`] with the meter's new base in one transaction,
//! and the [`forward`]er delivers the outbox to the node's `POST /v1/readings`, oldest first,
//! until the node has answered every reading. Device data that fails a check is refused with
//! a stable code, counted and recorded; nothing is signed for it.

pub mod charger;
pub mod config;
pub mod dlms;
pub mod error;
pub mod forward;
pub mod intervals;
pub mod ocpp;
pub mod outbox;
pub mod prices;
pub mod tls;

use std::{sync::Arc, time::Duration};

use alloy_primitives::{B256, hex};
use alloy_sol_types::Eip712Domain;
use sealgrid_keys::{KeySigner, KeySpec, LoadContext};
use sealgrid_types::{MeterReading, sealgrid_domain, sign_struct};
use tokio::{sync::Semaphore, task::JoinSet};

pub use charger::Charger;
pub use config::{GatewayConfig, Meter, Mode};
pub use dlms::DeviceRefusal;
pub use error::{GatewayError, GatewayResult};
pub use forward::{ForwardReport, Forwarder};
pub use intervals::{Capture, IntervalEnergy, Rule};
pub use ocpp::Csms;
pub use outbox::{Delivered, HeldCapture, MeterRecord, Outbox, OutboxCounts, SignedItem};
pub use prices::PriceFeed;

/// What one read of one meter did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MeterOutcome {
    /// Readings signed into the outbox (0 when nothing new was captured).
    Signed(u64),
    /// The meter's data was refused; nothing was signed.
    Refused(DeviceRefusal),
}

/// One meter's read before it is stored: its new base and signed readings, or why its data
/// was refused.
struct MeterRead {
    meter: B256,
    result: Result<Signed, DeviceRefusal>,
}

/// A read's new base and signed readings.
struct Signed {
    base: Option<Capture>,
    items: Vec<SignedItem>,
}

/// The gateway: its key, its outbox, the domain it signs in, the rule it applies.
#[derive(Clone, Debug)]
pub struct Gateway {
    signer: KeySigner,
    domain: Eip712Domain,
    outbox: Outbox,
    rule: Rule,
    tolerance_s: u64,
    backfill_s: u64,
    scalers: dlms::ScalerCache,
    /// Held charger captures are signed by one task at a time.
    releasing: Arc<tokio::sync::Mutex<()>>,
    clock: Clock,
}

/// The gateway's clock in unix seconds: the system clock ([`unix_now`]), or one a devnet
/// gives, whose chain runs ahead of the wall clock ([`Gateway::with_clock`]).
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Arc::new(unix_now))
    }

    /// The system clock shifted by `offset_s` seconds (a local devnet's chain time, which a
    /// demo moves ahead to trade intervals without waiting for them).
    pub fn offset(offset_s: i64) -> Self {
        Self(Arc::new(move || unix_now().saturating_add_signed(offset_s)))
    }

    /// Now, in unix seconds.
    pub fn now(&self) -> u64 {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

impl Gateway {
    /// A gateway from its parts.
    pub fn new(signer: KeySigner, domain: Eip712Domain, outbox: Outbox, rule: Rule) -> Self {
        Self {
            signer,
            domain,
            outbox,
            rule,
            tolerance_s: 30,
            backfill_s: 3600,
            scalers: dlms::ScalerCache::default(),
            releasing: Arc::default(),
            clock: Clock::system(),
        }
    }

    /// The gateway a config describes: the key loaded from its spec (raw `env:` keys only
    /// when the deployment is a local devnet), the domain from the deployment record (or the
    /// config's chain id and settlement), the outbox opened.
    pub async fn from_config(cfg: &GatewayConfig) -> GatewayResult<Self> {
        let g = &cfg.gateway;
        let (chain_id, settlement, local) = match &g.deployment {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    GatewayError::Config(format!("reading {}: {e}", path.display()))
                })?;
                let d: sealgrid_deploy::DeployRecord =
                    serde_json::from_str(&text).map_err(|e| {
                        GatewayError::Config(format!(
                            "{} is not a deployment record: {e}",
                            path.display()
                        ))
                    })?;
                (
                    d.chain_id,
                    d.delivery.settlement,
                    d.kind == sealgrid_deploy::NetworkKind::Local,
                )
            }
            None => match (g.chain_id, g.settlement) {
                (Some(c), Some(s)) => (c, s, false),
                _ => {
                    return Err(GatewayError::Config(
                        "no deployment record and no chain_id/settlement".into(),
                    ));
                }
            },
        };
        let spec: KeySpec = g.key.parse()?;
        let signer = spec.load(&LoadContext::new().allow_raw(local))?;
        let outbox = Outbox::open(&g.outbox).await?;
        let rule = Rule {
            interval_s: g.interval_s,
            ..Rule::default()
        };
        Ok(
            Self::new(signer, sealgrid_domain(chain_id, settlement), outbox, rule)
                .with_backfill(g.backfill_s)
                .with_clock_tolerance(g.clock_tolerance_s),
        )
    }

    /// Sets how far back a meter's first profile read goes (default an hour).
    #[must_use]
    pub fn with_backfill(mut self, seconds: u64) -> Self {
        self.backfill_s = seconds;
        self
    }

    /// Sets how far a meter's clock may be from the gateway's (default 30 s).
    #[must_use]
    pub fn with_clock_tolerance(mut self, seconds: u64) -> Self {
        self.tolerance_s = seconds;
        self
    }

    /// Sets the gateway's clock (default the system clock): what the meters' and stations'
    /// clocks are checked against and when interval boundaries have passed.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Now on the gateway's clock, in unix seconds.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// The gateway key's address (the meters' registered gateway signer).
    pub fn address(&self) -> alloy_primitives::Address {
        self.signer.address()
    }

    /// The outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Reads one meter at `now` and signs what its captures give into the outbox.
    pub async fn read_meter(&self, m: &Meter, now: u64) -> GatewayResult<MeterOutcome> {
        let read = self.read_and_sign(m, now).await?;
        let mut out = self.store(vec![read], now).await?;
        out.pop()
            .ok_or_else(|| GatewayError::Config("a read without an outcome".into()))
    }

    /// Reads a meter and signs its readings; nothing is stored yet (see [`Self::store`]).
    async fn read_and_sign(&self, m: &Meter, now: u64) -> GatewayResult<MeterRead> {
        let base = self.outbox.base(&m.id).await?;
        let refused = |r: DeviceRefusal| MeterRead {
            meter: m.id,
            result: Err(r),
        };
        let captures = match dlms::captures(
            m,
            &self.scalers,
            &self.rule,
            base,
            now,
            self.tolerance_s,
            self.backfill_s,
        )
        .await
        {
            Ok(c) => c,
            Err(r) => return Ok(refused(r)),
        };
        Ok(MeterRead {
            meter: m.id,
            result: self.sign_captures(m.id, base, &captures)?,
        })
    }

    /// The signed readings `captures` give after `base` by the rule, and the new base; or
    /// why the rule refuses them.
    fn sign_captures(
        &self,
        meter: B256,
        base: Option<Capture>,
        captures: &[Capture],
    ) -> GatewayResult<Result<Signed, DeviceRefusal>> {
        let (energies, new_base) = match self.rule.readings(base, captures) {
            Ok(x) => x,
            Err(e) => {
                let code = match e {
                    intervals::RuleError::Backwards { .. } => "backwards",
                    intervals::RuleError::TooLarge { .. } => "too_large",
                    intervals::RuleError::OutOfOrder { .. } => "malformed",
                };
                return Ok(Err(DeviceRefusal::new(code, e.to_string())));
            }
        };
        let items = energies
            .iter()
            .map(|e| self.sign(meter, e))
            .collect::<GatewayResult<Vec<_>>>()?;
        Ok(Ok(Signed {
            base: new_base,
            items,
        }))
    }

    /// Stores reads in one outbox transaction: each meter's signed readings with its new base,
    /// and the refusals. A crash before the commit loses nothing: the next read signs the same
    /// readings again (signatures are deterministic, RFC 6979).
    async fn store(&self, reads: Vec<MeterRead>, now: u64) -> GatewayResult<Vec<MeterOutcome>> {
        let mut batch = Vec::new();
        let mut refusals = Vec::new();
        for r in &reads {
            match &r.result {
                Ok(signed) => batch.push(MeterRecord {
                    meter: r.meter,
                    base: signed.base,
                    items: &signed.items,
                }),
                Err(d) => {
                    ::metrics::counter!("sealgrid_gateway_device_refusals_total", "code" => d.code)
                        .increment(1);
                    tracing::warn!(meter = %r.meter, code = d.code, reason = %d.message, "meter data refused; nothing signed");
                    refusals.push((format!("{:#x}", r.meter), d.code, d.message.as_str()));
                }
            }
        }
        let mut new = self
            .outbox
            .record_many(&batch, &refusals, now)
            .await?
            .into_iter();
        Ok(reads
            .into_iter()
            .map(|r| match r.result {
                Ok(_) => {
                    let n = new.next().unwrap_or(0);
                    ::metrics::counter!("sealgrid_gateway_readings_signed_total").increment(n);
                    MeterOutcome::Signed(n)
                }
                Err(d) => MeterOutcome::Refused(d),
            })
            .collect())
    }

    /// Signs one interval's energy as revision 0.
    fn sign(&self, meter: B256, e: &IntervalEnergy) -> GatewayResult<SignedItem> {
        let reading = MeterReading {
            meterId: meter,
            interval: e.interval,
            importWh: e.import_wh,
            exportWh: e.export_wh,
            quality: e.quality as u8,
            revision: 0,
        };
        let signature = sign_struct(&self.signer, &reading, &self.domain)
            .map_err(|err| GatewayError::Sign(err.to_string()))?;
        let item = serde_json::json!({
            "reading": reading,
            "signature": format!("0x{}", hex::encode(signature)),
        });
        Ok(SignedItem {
            interval: e.interval,
            revision: 0,
            item: item.to_string(),
        })
    }

    /// The checks a charger's records go through, with this gateway's clock tolerance and
    /// backfill window.
    pub fn charger_checks(&self) -> charger::Checks {
        charger::Checks {
            rule: self.rule,
            tolerance_s: self.tolerance_s,
            backfill_s: self.backfill_s,
        }
    }

    /// Signs the held charger captures whose boundary has passed at `now`, meter by meter,
    /// each meter's readings with its new base in one outbox transaction. Returns how many
    /// readings were new.
    pub async fn release_chargers(&self, now: u64) -> GatewayResult<u64> {
        let _one = self.releasing.lock().await;
        let held = self.outbox.held_captures(now).await?;
        let mut total = 0;
        for group in held.chunk_by(|a, b| a.meter == b.meter) {
            let meter = group[0].meter;
            let base = self.outbox.base(&meter).await?;
            let captures: Vec<Capture> = group.iter().map(|h| h.capture).collect();
            let ids: Vec<i64> = group.iter().map(|h| h.id).collect();
            let device = format!("{meter:#x}");
            let n = match self.sign_captures(meter, base, &captures)? {
                Ok(signed) => {
                    let rec = MeterRecord {
                        meter,
                        base: signed.base,
                        items: &signed.items,
                    };
                    self.outbox.release(Ok(rec), &ids, now).await?
                }
                Err(r) => {
                    ::metrics::counter!("sealgrid_gateway_device_refusals_total", "code" => r.code)
                        .increment(1);
                    tracing::warn!(%meter, code = r.code, reason = %r.message, "charger captures refused; nothing signed");
                    self.outbox
                        .release(Err((&device, r.code, &r.message)), &ids, now)
                        .await?
                }
            };
            ::metrics::counter!("sealgrid_gateway_readings_signed_total").increment(n);
            total += n;
        }
        Ok(total)
    }

    /// Reads every meter once, `concurrency` at a time, and stores what they gave in one
    /// outbox transaction.
    pub async fn read_all(
        &self,
        meters: &[Meter],
        now: u64,
        concurrency: usize,
    ) -> GatewayResult<Vec<MeterOutcome>> {
        let permits = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut set = JoinSet::new();
        for (i, m) in meters.iter().cloned().enumerate() {
            let (gw, permits) = (self.clone(), permits.clone());
            set.spawn(async move {
                let _permit = permits.acquire_owned().await;
                (i, gw.read_and_sign(&m, now).await)
            });
        }
        let mut reads: Vec<Option<MeterRead>> = (0..meters.len()).map(|_| None).collect();
        while let Some(joined) = set.join_next().await {
            let (i, r) = joined.map_err(|e| GatewayError::Config(format!("a reader task: {e}")))?;
            reads[i] = Some(r?);
        }
        self.store(reads.into_iter().flatten().collect(), now).await
    }

    /// Runs until `shutdown`: reads every meter after each interval boundary (plus
    /// `poll_offset`), and forwards the outbox to the node continuously, backing off while
    /// the node is unreachable.
    pub async fn run(
        self,
        meters: Vec<Meter>,
        forwarder: Forwarder,
        poll_offset: Duration,
        concurrency: usize,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> GatewayResult<()> {
        let wake = tokio::sync::Notify::new();
        tokio::select! {
            r = forward_loop(&self.outbox, &forwarder, &self.clock, &wake) => r,
            r = self.read_loop(&meters, poll_offset, concurrency, &wake) => r,
            () = shutdown => Ok(()),
        }
    }

    async fn read_loop(
        &self,
        meters: &[Meter],
        poll_offset: Duration,
        concurrency: usize,
        wake: &tokio::sync::Notify,
    ) -> GatewayResult<()> {
        let l = self.rule.interval_s;
        loop {
            let outcomes = self.read_all(meters, self.now(), concurrency).await?;
            let signed: u64 = outcomes
                .iter()
                .map(|o| match o {
                    MeterOutcome::Signed(n) => *n,
                    MeterOutcome::Refused(_) => 0,
                })
                .sum();
            let refused = outcomes
                .iter()
                .filter(|o| matches!(o, MeterOutcome::Refused(_)))
                .count();
            tracing::info!(meters = meters.len(), signed, refused, "meters read");
            wake.notify_one();
            let now = self.now();
            let next = (now / l + 1) * l;
            tokio::time::sleep(Duration::from_secs(next - now) + poll_offset).await;
        }
    }
}

/// Forwards the outbox until an outbox error: while the node is unreachable or busy it waits
/// (doubling from 1 s to 60 s, or the node's `Retry-After`), while the outbox is empty until
/// `wake` or 5 s.
async fn forward_loop(
    outbox: &Outbox,
    forwarder: &Forwarder,
    clock: &Clock,
    wake: &tokio::sync::Notify,
) -> GatewayResult<()> {
    let mut backoff = Duration::from_secs(1);
    loop {
        let r = forwarder.pass(outbox, clock.now()).await?;
        if r.deferred > 0 {
            tokio::time::sleep(r.retry_after.unwrap_or(backoff)).await;
            backoff = (backoff * 2).min(Duration::from_secs(60));
            continue;
        }
        backoff = Duration::from_secs(1);
        if r.answered == 0 {
            let _ = tokio::time::timeout(Duration::from_secs(5), wake.notified()).await;
        }
    }
}

/// The system clock in unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
