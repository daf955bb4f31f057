//! The gateway's CSMS endpoint for OCPP 2.0.1 charging stations (OCPP-J over WebSocket,
//! subprotocol `ocpp2.0.1`, TLS always: Security Profile 2 — the station authenticates with
//! HTTP Basic, username its identity — or 3 — with a client certificate from the
//! deployment's CA whose subject names its identity).
//!
//! A station connects to `wss://HOST:PORT/ocpp/<identity>`. The CSMS answers
//! `BootNotification` (accepted, heartbeat interval), `Heartbeat`, `StatusNotification`,
//! `TransactionEvent` and `MeterValues`; any other action is `NotImplemented`. Every energy
//! sample of a `TransactionEvent` is checked by [`crate::charger::check`] and, when it passes,
//! stored with its record and captures ([`crate::Outbox::accept_charger_record`]); a refused
//! one is recorded as a device refusal with its code, counted
//! (`sealgrid_gateway_device_refusals_total{code}`) and logged. Energy samples of
//! `MeterValues` are refused `outside_transaction` (OCPP 2.0.1 sends a transaction's values in
//! `TransactionEvent`; the market settles only transaction records, whose pagination can be
//! checked). The OCPP answer is the same either way: refusing data is not a protocol error.

pub mod messages;

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
pub use messages::{
    Frame, MeterValue, SampledValue, SignedMeterValue, TransactionEventRequest, rfc3339,
};
use serde_json::{Value, json};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::{
    Message,
    handshake::server::{ErrorResponse, Request, Response},
    http::{HeaderValue, StatusCode},
    protocol::WebSocketConfig,
};

use crate::{
    Gateway, GatewayError, GatewayResult,
    charger::{self, Charger, Checks, Sample},
    dlms::DeviceRefusal,
    unix_now,
};

/// The subprotocol.
pub const SUBPROTOCOL: &str = "ocpp2.0.1";

/// The largest OCPP-J message accepted (a TransactionEvent with many signed values).
pub const MAX_MESSAGE: usize = 256 * 1024;

/// What happened to one energy sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SampleOutcome {
    /// Checked and stored.
    Accepted,
    /// The same record again (a resend after a lost answer): nothing new.
    Duplicate,
    /// Refused; nothing signed.
    Refused(DeviceRefusal),
}

/// The CSMS: the gateway it feeds, the stations it knows, its TLS acceptor.
#[derive(Clone)]
pub struct Csms {
    gateway: Gateway,
    chargers: Arc<HashMap<String, Charger>>,
    checks: Checks,
    /// The TLS acceptor; replaced when the certificate files or CRLs change.
    tls: Arc<std::sync::RwLock<TlsAcceptor>>,
    /// The files the acceptor was built from, to reload (see [`Self::reload_tls`]).
    tls_files: Option<Arc<TlsFiles>>,
    heartbeat_s: u32,
    /// One lock per station: a station's samples are checked and stored one at a time.
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// The connected stations, to send them calls.
    connections: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<String>>>>,
    /// The market's cleared prices, when the stations are told their transactions' cost.
    prices: Option<Arc<crate::PriceFeed>>,
    /// The running cost last sent per (station, transaction), base units.
    costs_sent: Arc<Mutex<HashMap<(String, String), i128>>>,
}

impl std::fmt::Debug for Csms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Csms")
            .field("stations", &self.chargers.len())
            .finish_non_exhaustive()
    }
}

impl Csms {
    /// A CSMS for `chargers`, feeding `gateway`, with TLS `tls`.
    pub fn new(gateway: Gateway, chargers: Vec<Charger>, tls: Arc<rustls::ServerConfig>) -> Self {
        let checks = gateway.charger_checks();
        Self {
            gateway,
            chargers: Arc::new(
                chargers
                    .into_iter()
                    .map(|c| (c.station.clone(), c))
                    .collect(),
            ),
            checks,
            tls: Arc::new(std::sync::RwLock::new(TlsAcceptor::from(tls))),
            tls_files: None,
            heartbeat_s: 300,
            locks: Arc::default(),
            connections: Arc::default(),
            prices: None,
            costs_sent: Arc::default(),
        }
    }

    /// Tells the stations what their transactions' energy costs at the market's cleared
    /// prices (see [`crate::prices`]): `CostUpdated` while a transaction runs, `totalCost` in
    /// the answer to its `Ended` event.
    #[must_use]
    pub fn with_prices(mut self, feed: crate::PriceFeed) -> Self {
        self.prices = Some(Arc::new(feed));
        self
    }

    /// One pass over the open transactions of connected stations: each whose running cost
    /// is known and changed since it was last sent gets a `CostUpdated`. Returns how many
    /// were sent.
    pub async fn send_costs(&self) -> GatewayResult<usize> {
        let Some(feed) = &self.prices else {
            return Ok(0);
        };
        let mut sent = 0;
        for (station, txn) in self.gateway.outbox().open_transactions().await? {
            let connected = self
                .connections
                .lock()
                .is_ok_and(|c| c.contains_key(&station));
            if !connected {
                continue;
            }
            let points = self
                .gateway
                .outbox()
                .transaction_points(&station, &txn)
                .await?;
            let Some(cost) = feed.cost(&points).await else {
                continue;
            };
            let key = (station.clone(), txn.clone());
            let unchanged = self
                .costs_sent
                .lock()
                .is_ok_and(|c| c.get(&key) == Some(&cost));
            if unchanged {
                continue;
            }
            let payload = json!({"totalCost": feed.units(cost), "transactionId": txn});
            if self.send_call(&station, "CostUpdated", payload) {
                tracing::info!(%station, %txn, cost = feed.units(cost), "running cost sent");
                if let Ok(mut c) = self.costs_sent.lock() {
                    c.insert(key, cost);
                }
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// The final cost of `station`'s transaction `txn` in token units, when every interval
    /// it metered energy in has a cleared price (asked for at most 3 s).
    async fn final_cost(&self, station: &str, txn: &str) -> Option<f64> {
        let feed = self.prices.as_ref()?;
        let points = self
            .gateway
            .outbox()
            .transaction_points(station, txn)
            .await
            .ok()?;
        let cost = tokio::time::timeout(Duration::from_secs(3), feed.cost(&points))
            .await
            .ok()??;
        if let Ok(mut c) = self.costs_sent.lock() {
            c.remove(&(station.to_owned(), txn.to_owned()));
        }
        Some(feed.units(cost))
    }

    /// The CSMS a config's `[ocpp]` and `[[charger]]` describe, bound to its listen address
    /// (`None` without `[ocpp]`).
    pub async fn from_config(
        gateway: Gateway,
        cfg: &crate::GatewayConfig,
    ) -> GatewayResult<Option<(Self, TcpListener)>> {
        let Some(o) = &cfg.ocpp else {
            return Ok(None);
        };
        let files = TlsFiles {
            cert: o.cert.clone(),
            key: o.key.clone(),
            client_ca: o.client_ca.clone(),
            crls: o.crls.clone(),
        };
        let tls = files.load()?;
        let chargers = cfg.chargers()?;
        let listener = TcpListener::bind(o.listen)
            .await
            .map_err(|e| GatewayError::Config(format!("ocpp.listen {}: {e}", o.listen)))?;
        let interval_s = cfg.gateway.interval_s;
        let mut csms = Self::new(gateway, chargers, tls);
        csms.tls_files = Some(Arc::new(files));
        if let Some(market) = o.market {
            csms = csms.with_prices(crate::PriceFeed::new(
                &cfg.gateway.node,
                market,
                interval_s,
                o.cost_decimals,
                Duration::from_secs(o.price_poll_s),
            )?);
        }
        Ok(Some((csms, listener)))
    }

    /// Replaces the TLS config for the connections accepted from now on (a new certificate,
    /// a new CRL: a station revoked since is refused in its next handshake).
    pub fn set_tls(&self, tls: Arc<rustls::ServerConfig>) {
        if let Ok(mut a) = self.tls.write() {
            *a = TlsAcceptor::from(tls);
        }
    }

    /// Rebuilds the TLS config from its files if any changed since `since` (their newest
    /// modification time is returned). A file that fails to load keeps the old config, with
    /// an error logged.
    pub fn reload_tls(
        &self,
        since: Option<std::time::SystemTime>,
    ) -> Option<std::time::SystemTime> {
        let files = self.tls_files.as_ref()?;
        let newest = files.newest();
        if newest.is_some() && newest != since && since.is_some() {
            match files.load() {
                Ok(tls) => {
                    self.set_tls(tls);
                    tracing::info!("TLS certificates or CRLs changed: reloaded");
                }
                Err(e) => {
                    tracing::error!(error = %e, "reloading TLS failed; keeping the old config")
                }
            }
        }
        newest.or(since)
    }

    /// The gateway.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// Accepts stations on `listener` until `shutdown`, and signs held captures whose
    /// boundary has passed every few seconds.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> GatewayResult<()> {
        let release = {
            let gw = self.gateway.clone();
            async move {
                loop {
                    if let Err(e) = gw.release_chargers(gw.now()).await {
                        tracing::error!(error = %e, "signing held charger captures failed");
                    }
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        };
        let reload = async {
            let mut seen = self.reload_tls(None);
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                seen = self.reload_tls(seen);
            }
        };
        let accept = async {
            loop {
                match listener.accept().await {
                    Ok((tcp, peer)) => {
                        let me = self.clone();
                        tokio::spawn(async move { me.connection(tcp, peer).await });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        };
        let costs = async {
            let Some(feed) = &self.prices else {
                return std::future::pending().await;
            };
            loop {
                tokio::time::sleep(feed.every()).await;
                if let Err(e) = self.send_costs().await {
                    tracing::error!(error = %e, "sending running costs failed");
                }
            }
        };
        tokio::select! {
            () = accept => Ok(()),
            () = release => Ok(()),
            () = costs => Ok(()),
            () = reload => Ok(()),
            () = shutdown => Ok(()),
        }
    }

    /// One station's connection: TLS, the WebSocket handshake (identity, authentication,
    /// subprotocol), then frames until it closes or is silent for two heartbeats.
    async fn connection(self, tcp: TcpStream, peer: SocketAddr) {
        let acceptor = match self.tls.read() {
            Ok(a) => a.clone(),
            Err(_) => return,
        };
        let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                ::metrics::counter!("sealgrid_gateway_ocpp_handshakes_refused_total", "stage" => "tls")
                    .increment(1);
                tracing::warn!(%peer, error = %e, "TLS handshake refused");
                return;
            }
            Err(_) => {
                tracing::warn!(%peer, "TLS handshake timed out");
                return;
            }
        };
        let client_cert = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.as_ref().to_vec());
        let station = Arc::new(Mutex::new(None::<String>));
        let chargers = self.chargers.clone();
        let slot = station.clone();
        // tungstenite's handshake callback answers a refusal with the HTTP response itself.
        #[allow(clippy::result_large_err)]
        let callback = move |req: &Request, resp: Response| {
            let who = authorize(&chargers, req, client_cert.as_deref()).map_err(
                |(status, why): (StatusCode, &str)| {
                    tracing::warn!(path = %req.uri().path(), why, "station refused at the handshake");
                    let mut r = ErrorResponse::new(Some(why.to_owned()));
                    *r.status_mut() = status;
                    r
                },
            )?;
            let mut resp = resp;
            resp.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static(SUBPROTOCOL),
            );
            if let Ok(mut s) = slot.lock() {
                *s = Some(who);
            }
            Ok(resp)
        };
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let ws = match tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::accept_hdr_async_with_config(tls, callback, Some(config)),
        )
        .await
        {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => {
                ::metrics::counter!("sealgrid_gateway_ocpp_handshakes_refused_total", "stage" => "websocket")
                    .increment(1);
                tracing::warn!(%peer, error = %e, "WebSocket handshake refused");
                return;
            }
            Err(_) => return,
        };
        let Some(station) = station.lock().ok().and_then(|s| s.clone()) else {
            return;
        };
        tracing::info!(%peer, %station, "station connected");
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        if let Ok(mut c) = self.connections.lock() {
            c.insert(station.clone(), tx.clone());
        }
        let (mut sink, mut stream) = ws.split();
        let idle = Duration::from_secs(u64::from(self.heartbeat_s) * 2 + 60);
        loop {
            tokio::select! {
                msg = tokio::time::timeout(idle, stream.next()) => {
                    let msg = match msg {
                        Err(_) => { tracing::warn!(%station, "station silent; closing"); break; }
                        Ok(None) => break,
                        Ok(Some(Err(e))) => { tracing::warn!(%station, error = %e, "connection failed"); break; }
                        Ok(Some(Ok(m))) => m,
                    };
                    match msg {
                        Message::Text(t) => {
                            if let Some(answer) = self.frame(&station, t.as_str()).await
                                && sink.send(Message::text(answer)).await.is_err()
                            {
                                break;
                            }
                        }
                        Message::Binary(_) => {
                            tracing::warn!(%station, "a binary frame (OCPP-J is text); ignored");
                        }
                        Message::Close(_) => break,
                        _ => {}
                    }
                }
                out = rx.recv() => {
                    let Some(out) = out else { break };
                    if sink.send(Message::text(out)).await.is_err() { break; }
                }
            }
        }
        // Unregistered unless the station has connected again since (a newer channel).
        if let Ok(mut c) = self.connections.lock()
            && c.get(&station).is_some_and(|t| t.same_channel(&tx))
        {
            c.remove(&station);
        }
        tracing::info!(%station, "station disconnected");
    }

    /// Handles one frame from `station`; returns the answer to send, if any.
    pub async fn frame(&self, station: &str, text: &str) -> Option<String> {
        match Frame::parse(text) {
            Err((id, code, description)) => {
                tracing::warn!(%station, code, %description, "bad OCPP-J frame");
                // A frame whose id cannot be read cannot be answered by id.
                Some(
                    Frame::Error {
                        id: id.unwrap_or_else(|| "-1".into()),
                        code: code.into(),
                        description,
                    }
                    .to_text(),
                )
            }
            Ok(Frame::Call {
                id,
                action,
                payload,
            }) => {
                let answer = match self
                    .call(station, &action, payload, self.gateway.now())
                    .await
                {
                    Ok(payload) => Frame::Result { id, payload },
                    Err((code, description)) => {
                        tracing::warn!(%station, %action, code, %description, "call refused");
                        Frame::Error {
                            id,
                            code: code.into(),
                            description,
                        }
                    }
                };
                Some(answer.to_text())
            }
            Ok(Frame::Result { id, payload }) => {
                tracing::debug!(%station, %id, %payload, "the station answered a call");
                None
            }
            Ok(Frame::Error {
                id,
                code,
                description,
            }) => {
                tracing::warn!(%station, %id, %code, %description, "the station refused a call");
                None
            }
        }
    }

    /// Answers one call. `Err` is `(RPC error code, description)`.
    pub async fn call(
        &self,
        station: &str,
        action: &str,
        payload: Value,
        now: u64,
    ) -> Result<Value, (&'static str, String)> {
        fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, (&'static str, String)> {
            serde_json::from_value(v).map_err(|e| ("FormatViolation", e.to_string()))
        }
        let internal = |e: GatewayError| ("InternalError", e.to_string());
        match action {
            "BootNotification" => {
                let req: messages::BootNotificationRequest = parse(payload)?;
                tracing::info!(
                    %station,
                    model = %req.charging_station.model,
                    vendor = %req.charging_station.vendor_name,
                    reason = %req.reason,
                    "station booted"
                );
                Ok(json!({
                    "currentTime": rfc3339(now),
                    "interval": self.heartbeat_s,
                    "status": "Accepted",
                }))
            }
            "Heartbeat" => Ok(json!({"currentTime": rfc3339(now)})),
            "StatusNotification" => {
                let req: messages::StatusNotificationRequest = parse(payload)?;
                tracing::debug!(%station, evse = req.evse_id, connector = req.connector_id, status = %req.connector_status, "status");
                Ok(json!({}))
            }
            "TransactionEvent" => {
                let req: TransactionEventRequest = parse(payload)?;
                let txn = &req.transaction_info.transaction_id;
                if txn.is_empty() || txn.len() > 36 {
                    return Err((
                        "PropertyConstraintViolation",
                        "transactionId must be 1 to 36 characters".into(),
                    ));
                }
                for mv in req.meter_value.as_deref().unwrap_or_default() {
                    self.meter_value(station, txn, mv, now)
                        .await
                        .map_err(internal)?;
                }
                if req.event_type == "Ended"
                    && let Some(cost) = self.final_cost(station, txn).await
                {
                    return Ok(json!({"totalCost": cost}));
                }
                Ok(json!({}))
            }
            "MeterValues" => {
                let req: messages::MeterValuesRequest = parse(payload)?;
                let energy = req
                    .meter_value
                    .iter()
                    .flat_map(|mv| &mv.sampled_value)
                    .filter(|s| s.is_import_register());
                for _ in energy {
                    let r = DeviceRefusal::new(
                        "outside_transaction",
                        "an energy value in MeterValues (not a transaction's record)",
                    );
                    self.refused(station, r, now).await.map_err(internal)?;
                }
                Ok(json!({}))
            }
            other => Err((
                "NotImplemented",
                format!("{other} is not handled by this CSMS"),
            )),
        }
    }

    /// Checks and stores the energy samples of one meter value of transaction `txn`.
    pub async fn meter_value(
        &self,
        station: &str,
        txn: &str,
        mv: &MeterValue,
        now: u64,
    ) -> GatewayResult<Vec<SampleOutcome>> {
        let mut out = Vec::new();
        for sv in mv.sampled_value.iter().filter(|s| s.is_import_register()) {
            let value_wh = match sv.wh() {
                Ok(v) => v,
                Err(m) => {
                    let r = DeviceRefusal::new("unit", m);
                    self.refused(station, r.clone(), now).await?;
                    out.push(SampleOutcome::Refused(r));
                    continue;
                }
            };
            let sample = Sample {
                timestamp: mv.timestamp.timestamp(),
                value_wh,
                signed: sv.signed_meter_value.as_ref(),
            };
            out.push(self.sample(station, txn, &sample, now).await?);
        }
        if out.contains(&SampleOutcome::Accepted) {
            self.gateway.release_chargers(now).await?;
        }
        Ok(out)
    }

    /// Checks and stores one sample.
    pub async fn sample(
        &self,
        station: &str,
        txn: &str,
        sample: &Sample<'_>,
        now: u64,
    ) -> GatewayResult<SampleOutcome> {
        let Some(charger) = self.chargers.get(station) else {
            return Err(GatewayError::Config(format!("unknown station {station}")));
        };
        let lock = {
            let mut locks = self
                .locks
                .lock()
                .map_err(|_| GatewayError::Config("a poisoned lock".into()))?;
            locks.entry(station.to_owned()).or_default().clone()
        };
        let _held = lock.lock().await;
        let outbox = self.gateway.outbox();
        // A record seen before is a resend: answered, not checked against the tracks again.
        if let Some(sv) = sample.signed
            && let Ok(text) = charger::record_text(sv)
            && let Ok(rec) = ocmf::Record::parse(&text)
        {
            let digest = format!("0x{}", alloy_primitives::hex::encode(rec.payload_digest()));
            if outbox.has_charger_record(station, &digest).await? {
                ::metrics::counter!("sealgrid_gateway_charger_values_total", "outcome" => "duplicate")
                    .increment(1);
                return Ok(SampleOutcome::Duplicate);
            }
        }
        let (txn_track, meter_track) = outbox.charger_tracks(station, txn).await?;
        match charger::check(charger, sample, txn_track, meter_track, &self.checks, now) {
            Ok(rec) => {
                let (t, m) = charger::advance(&rec, txn_track, meter_track);
                outbox
                    .accept_charger_record(station, &charger.meter, txn, &rec, t, m, now)
                    .await?;
                ::metrics::counter!("sealgrid_gateway_charger_values_total", "outcome" => "accepted")
                    .increment(1);
                tracing::debug!(%station, %txn, page = rec.page, "OCMF record accepted");
                Ok(SampleOutcome::Accepted)
            }
            Err(r) => {
                self.refused(station, r.clone(), now).await?;
                Ok(SampleOutcome::Refused(r))
            }
        }
    }

    async fn refused(&self, station: &str, r: DeviceRefusal, now: u64) -> GatewayResult<()> {
        ::metrics::counter!("sealgrid_gateway_device_refusals_total", "code" => r.code)
            .increment(1);
        ::metrics::counter!("sealgrid_gateway_charger_values_total", "outcome" => "refused")
            .increment(1);
        tracing::warn!(%station, code = r.code, reason = %r.message, "charger value refused; nothing signed");
        self.gateway
            .outbox()
            .refusal(station, r.code, &r.message, now)
            .await
    }

    /// Sends `station` a call (e.g. `CostUpdated`); false when it is not connected.
    pub fn send_call(&self, station: &str, action: &str, payload: Value) -> bool {
        let id = format!("{station}-{}-{}", unix_now(), rand_suffix());
        let text = Frame::Call {
            id,
            action: action.to_owned(),
            payload,
        }
        .to_text();
        self.connections
            .lock()
            .ok()
            .and_then(|c| c.get(station).map(|tx| tx.send(text).is_ok()))
            .unwrap_or(false)
    }
}

/// The files a CSMS's TLS config is built from.
#[derive(Clone, Debug)]
struct TlsFiles {
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    client_ca: Option<std::path::PathBuf>,
    crls: Vec<std::path::PathBuf>,
}

impl TlsFiles {
    fn load(&self) -> GatewayResult<Arc<rustls::ServerConfig>> {
        let crls: Vec<&std::path::Path> = self.crls.iter().map(|p| p.as_path()).collect();
        crate::tls::server_config(&self.cert, &self.key, self.client_ca.as_deref(), &crls)
    }

    fn newest(&self) -> Option<std::time::SystemTime> {
        [&self.cert, &self.key]
            .into_iter()
            .chain(self.client_ca.iter())
            .chain(self.crls.iter())
            .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .max()
    }
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The station a handshake request is from, if it may connect: a known identity in the path,
/// the `ocpp2.0.1` subprotocol offered, and either its certificate (Security Profile 3: the
/// TLS layer verified the chain; the subject must name the identity) or its Basic password
/// (Security Profile 2).
fn authorize(
    chargers: &HashMap<String, Charger>,
    req: &Request,
    client_cert: Option<&[u8]>,
) -> Result<String, (StatusCode, &'static str)> {
    let path = req.uri().path();
    let identity = path
        .strip_prefix("/ocpp/")
        .filter(|s| !s.is_empty() && !s.contains('/'))
        .ok_or((StatusCode::NOT_FOUND, "the path is not /ocpp/<identity>"))?;
    let identity = percent_decode(identity);
    let charger = chargers
        .get(&identity)
        .ok_or((StatusCode::NOT_FOUND, "unknown station identity"))?;
    let offered = req
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL);
    if !offered {
        return Err((
            StatusCode::BAD_REQUEST,
            "the ocpp2.0.1 subprotocol was not offered",
        ));
    }
    if let Some(cert) = client_cert {
        if cert_names(cert, &identity) {
            return Ok(identity);
        }
        return Err((
            StatusCode::UNAUTHORIZED,
            "the client certificate does not name this station",
        ));
    }
    let Some(password) = &charger.password else {
        return Err((
            StatusCode::UNAUTHORIZED,
            "this station authenticates with a client certificate",
        ));
    };
    let given = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let expected = format!("{identity}:{password}");
    match given {
        Some(g) if constant_time_eq(g.as_bytes(), expected.as_bytes()) => Ok(identity),
        _ => Err((
            StatusCode::UNAUTHORIZED,
            "wrong or missing Basic credentials",
        )),
    }
}

/// Whether a client certificate (its chain verified by rustls against the deployment's CA)
/// names `identity`.
fn cert_names(cert: &[u8], identity: &str) -> bool {
    crate::tls::certificate_is_for(cert, identity)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(h);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
