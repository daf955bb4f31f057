//! The gateway's config file (TOML). It names where secrets come from, never a secret.
//!
//! ```toml
//! [gateway]
//! key = "keystore:/etc/sealgrid/gateway.json"   # or pkcs11:MODULE?token=..&key=..
//! node = "http://127.0.0.1:8080"                # the node's API
//! outbox = "sqlite:/var/lib/sealgrid/gateway.db"
//! deployment = "deployment.json"                # chain id and DeliverySettlement: the domain
//!
//! [dlms]                                        # defaults for every [[meter]]
//! transport = "wrapper"                         # or "hdlc"
//! client = 17                                   # 16 public, 17 low-level security
//! password_env = "SEALGRID_DLMS_PASSWORD"
//!
//! [[meter]]
//! id = "0x…"                                    # the registered bytes32 meter id
//! address = "10.1.2.3:4059"
//! mode = "profile"                              # or "registers"
//!
//! [ocpp]                                        # the CSMS for charging stations (TLS always)
//! listen = "0.0.0.0:8443"                       # stations connect to wss://HOST:8443/ocpp/<identity>
//! cert = "/etc/sealgrid/gateway.crt"            # PEM chain the stations trust
//! key = "/etc/sealgrid/gateway.key"             # its PEM private key (a file, mode 0600)
//! client_ca = "/etc/sealgrid/device-ca.crt"     # Security Profile 3: device certificates
//! crls = ["/etc/sealgrid/device-ca.crl"]        # revoked devices, refused in the handshake
//! market = "0x…"                                # costs at this market's cleared prices
//! # cost_decimals = 6 (the payment token's), price_poll_s = 10
//!
//! [[charger]]
//! station = "CS-0042"                           # its OCPP identity
//! meter = "0x…"                                 # the registered bytes32 meter id
//! serial = "1ABC0000000001"                     # the OCMF meter serial (MS)
//! public_key = "3059301306…"                    # its meter's key: hex or Base64, SPKI or SEC1
//! password_env = "SEALGRID_CS_0042_PASSWORD"    # Security Profile 2 (or password_file)
//! ```

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use alloy_primitives::{Address, B256};
use sealgrid_dlms::{Authentication, Obis, Settings, Transport};
use serde::Deserialize;

use crate::error::{GatewayError, GatewayResult};

fn bad(why: impl Into<String>) -> GatewayError {
    GatewayError::Config(why.into())
}

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// `[gateway]`.
    pub gateway: GatewaySection,
    /// `[dlms]`: defaults for the DLMS meters.
    #[serde(default)]
    pub dlms: DlmsDefaults,
    /// `[[meter]]`: the DLMS meters.
    #[serde(default, rename = "meter")]
    pub meters: Vec<MeterConfig>,
    /// `[ocpp]`: the CSMS, when the gateway serves chargers.
    #[serde(default)]
    pub ocpp: Option<OcppSection>,
    /// `[[charger]]`: the charging stations.
    #[serde(default, rename = "charger")]
    pub chargers: Vec<ChargerConfig>,
}

/// `[ocpp]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OcppSection {
    /// Where the CSMS listens.
    pub listen: SocketAddr,
    /// The gateway's certificate chain (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The device CA whose client certificates are accepted (Security Profile 3).
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// Certificate revocation lists of the device CA (PEM).
    #[serde(default)]
    pub crls: Vec<PathBuf>,
    /// The market whose cleared prices the stations are told their transactions' cost at
    /// (`CostUpdated`, `totalCost`; none: no cost is sent).
    #[serde(default)]
    pub market: Option<B256>,
    /// Decimals of the payment token: costs are sent in token units.
    #[serde(default = "defaults::cost_decimals")]
    pub cost_decimals: u32,
    /// How often new cleared prices and costs are looked for (s).
    #[serde(default = "defaults::price_poll_s")]
    pub price_poll_s: u64,
}

/// `[[charger]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargerConfig {
    /// The station's OCPP identity.
    pub station: String,
    /// The registered meter id.
    pub meter: B256,
    /// The OCMF meter serial.
    pub serial: String,
    /// The meter's public key (hex or Base64; SubjectPublicKeyInfo or SEC1).
    pub public_key: String,
    /// The variable holding its Basic password (Security Profile 2).
    #[serde(default)]
    pub password_env: Option<String>,
    /// Or the file holding it.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// `[gateway]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySection {
    /// The key spec of the gateway's signing key.
    pub key: String,
    /// The node's API base URL.
    pub node: String,
    /// The outbox database (`sqlite:PATH`).
    pub outbox: String,
    /// The deployment record (chain id, DeliverySettlement address, network kind).
    #[serde(default)]
    pub deployment: Option<PathBuf>,
    /// The chain id, when no deployment record is named.
    #[serde(default)]
    pub chain_id: Option<u64>,
    /// The DeliverySettlement address, when no deployment record is named.
    #[serde(default)]
    pub settlement: Option<Address>,
    /// The market's interval length (s).
    #[serde(default = "defaults::interval_s")]
    pub interval_s: u64,
    /// How far a meter's clock may be from the gateway's (s).
    #[serde(default = "defaults::clock_tolerance_s")]
    pub clock_tolerance_s: u64,
    /// How long after each interval boundary the meters are read (s).
    #[serde(default = "defaults::poll_offset_s")]
    pub poll_offset_s: u64,
    /// How far back a meter's first profile read goes (s).
    #[serde(default = "defaults::backfill_s")]
    pub backfill_s: u64,
    /// Meters read at once.
    #[serde(default = "defaults::concurrency")]
    pub concurrency: usize,
    /// Readings per request to the node.
    #[serde(default = "defaults::batch")]
    pub batch: u32,
}

mod defaults {
    pub(super) fn interval_s() -> u64 {
        300
    }
    pub(super) fn clock_tolerance_s() -> u64 {
        30
    }
    pub(super) fn poll_offset_s() -> u64 {
        2
    }
    pub(super) fn backfill_s() -> u64 {
        3600
    }
    pub(super) fn cost_decimals() -> u32 {
        6
    }
    pub(super) fn price_poll_s() -> u64 {
        10
    }
    pub(super) fn concurrency() -> usize {
        64
    }
    pub(super) fn batch() -> u32 {
        500
    }
    pub(super) fn client() -> u8 {
        17
    }
    pub(super) fn logical() -> u16 {
        1
    }
    pub(super) fn timeout_ms() -> u64 {
        5000
    }
}

/// `[dlms]`: link and association defaults.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlmsDefaults {
    /// `wrapper` or `hdlc`.
    #[serde(default)]
    pub transport: TransportName,
    /// The client SAP (16 public, 17 LLS).
    #[serde(default = "defaults::client")]
    pub client: u8,
    /// The server's logical device.
    #[serde(default = "defaults::logical")]
    pub logical: u16,
    /// The variable the LLS password is read from (client 17).
    #[serde(default)]
    pub password_env: Option<String>,
    /// A file whose first line is the LLS password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// How long one answer may take (ms).
    #[serde(default = "defaults::timeout_ms")]
    pub timeout_ms: u64,
}

impl Default for DlmsDefaults {
    fn default() -> Self {
        Self {
            transport: TransportName::default(),
            client: defaults::client(),
            logical: defaults::logical(),
            password_env: None,
            password_file: None,
            timeout_ms: defaults::timeout_ms(),
        }
    }
}

/// A transport by name.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TransportName {
    /// The TCP wrapper.
    #[default]
    Wrapper,
    /// HDLC on the TCP stream.
    Hdlc,
}

/// Where a meter's captures come from.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The meter's load profile (its own captures at period boundaries).
    #[default]
    Profile,
    /// The energy registers, read at each interval boundary.
    Registers,
}

/// `[[meter]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterConfig {
    /// The meter id registered on-chain.
    pub id: B256,
    /// `host:port` of the meter (or of its terminal server).
    pub address: SocketAddr,
    /// Profile or registers.
    #[serde(default)]
    pub mode: Mode,
    /// Overrides `[dlms].transport`.
    #[serde(default)]
    pub transport: Option<TransportName>,
    /// Overrides `[dlms].client`.
    #[serde(default)]
    pub client: Option<u8>,
    /// Overrides `[dlms].logical`.
    #[serde(default)]
    pub logical: Option<u16>,
    /// The HDLC physical address.
    #[serde(default)]
    pub physical: Option<u16>,
    /// Overrides `[dlms].password_env`.
    #[serde(default)]
    pub password_env: Option<String>,
    /// The load profile (default `1.0.99.1.0.255`).
    #[serde(default)]
    pub profile: Option<String>,
    /// The import register (default `1.0.1.8.0.255`).
    #[serde(default)]
    pub import: Option<String>,
    /// The export register (default `1.0.2.8.0.255`).
    #[serde(default)]
    pub export: Option<String>,
}

/// A meter ready to read: its id, where, how, and which objects.
#[derive(Clone, Debug)]
pub struct Meter {
    /// The meter id.
    pub id: B256,
    /// Where.
    pub address: SocketAddr,
    /// Profile or registers.
    pub mode: Mode,
    /// Link and association.
    pub settings: Settings,
    /// The load profile.
    pub profile: Obis,
    /// The import register.
    pub import: Obis,
    /// The export register.
    pub export: Obis,
}

impl GatewayConfig {
    /// Reads and checks a config file; a relative `deployment` path is taken from the file's
    /// directory.
    pub fn load(path: &Path) -> GatewayResult<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(format!("reading {}: {e}", path.display())))?;
        let mut cfg: Self =
            toml::from_str(&text).map_err(|e| bad(format!("{}: {e}", path.display())))?;
        if let Some(d) = &cfg.gateway.deployment
            && d.is_relative()
            && let Some(dir) = path.parent()
        {
            cfg.gateway.deployment = Some(dir.join(d));
        }
        cfg.check()?;
        Ok(cfg)
    }

    /// Checks what the types do not.
    pub fn check(&self) -> GatewayResult<()> {
        let g = &self.gateway;
        if !g.outbox.starts_with("sqlite:") {
            return Err(bad(format!(
                "gateway.outbox = {:?}: a sqlite:PATH",
                g.outbox
            )));
        }
        if !(g.node.starts_with("http://") || g.node.starts_with("https://")) {
            return Err(bad(format!("gateway.node = {:?}: an http(s) URL", g.node)));
        }
        if g.deployment.is_none() && (g.chain_id.is_none() || g.settlement.is_none()) {
            return Err(bad(
                "gateway.deployment, or both gateway.chain_id and gateway.settlement, name the readings' EIP-712 domain",
            ));
        }
        if g.interval_s == 0 || 3600 % g.interval_s != 0 {
            return Err(bad(format!(
                "gateway.interval_s = {} must divide an hour",
                g.interval_s
            )));
        }
        if g.concurrency == 0 || g.batch == 0 || g.batch > 1000 {
            return Err(bad(
                "gateway.concurrency must be positive and gateway.batch in 1..=1000",
            ));
        }
        if g.poll_offset_s >= g.interval_s {
            return Err(bad(
                "gateway.poll_offset_s must be below the interval length",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for m in &self.meters {
            if m.id == B256::ZERO {
                return Err(bad("a [[meter]] with id 0"));
            }
            if !seen.insert(m.id) {
                return Err(bad(format!("meter {} is listed twice", m.id)));
            }
        }
        let mut stations = std::collections::HashSet::new();
        for c in &self.chargers {
            if c.meter == B256::ZERO {
                return Err(bad(format!("charger {}: meter id 0", c.station)));
            }
            if !seen.insert(c.meter) {
                return Err(bad(format!("meter {} is listed twice", c.meter)));
            }
            if c.station.is_empty()
                || c.station.len() > 48
                || !c.station.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
            {
                return Err(bad(format!(
                    "charger station {:?}: 1 to 48 printable characters, no '/'",
                    c.station
                )));
            }
            if !stations.insert(c.station.as_str()) {
                return Err(bad(format!("charger {} is listed twice", c.station)));
            }
            if c.serial.is_empty() {
                return Err(bad(format!("charger {}: an empty serial", c.station)));
            }
        }
        if !self.chargers.is_empty() && self.ocpp.is_none() {
            return Err(bad("[[charger]] entries need an [ocpp] section"));
        }
        if let Some(o) = &self.ocpp
            && !o.crls.is_empty()
            && o.client_ca.is_none()
        {
            return Err(bad("ocpp.crls without ocpp.client_ca"));
        }
        if let Some(o) = &self.ocpp {
            if o.market == Some(B256::ZERO) {
                return Err(bad("ocpp.market 0"));
            }
            if o.cost_decimals > 18 {
                return Err(bad("ocpp.cost_decimals above 18"));
            }
            if o.price_poll_s == 0 || o.price_poll_s > 3600 {
                return Err(bad("ocpp.price_poll_s must be 1 to 3600"));
            }
        }
        Ok(())
    }

    /// The chargers, with their keys parsed and passwords read. A charger without a password
    /// must connect with a client certificate (`ocpp.client_ca`).
    pub fn chargers(&self) -> GatewayResult<Vec<crate::Charger>> {
        let sp3 = self.ocpp.as_ref().is_some_and(|o| o.client_ca.is_some());
        self.chargers
            .iter()
            .map(|c| {
                let key = ocmf::PublicKey::from_text(&c.public_key, None)
                    .or_else(|_| {
                        ocmf::PublicKey::from_text(&c.public_key, Some(ocmf::Curve::Secp256r1))
                    })
                    .map_err(|e| bad(format!("charger {}: public_key: {e}", c.station)))?;
                let password = match (&c.password_env, &c.password_file) {
                    (Some(var), _) => Some(std::env::var(var).map_err(|_| {
                        bad(format!(
                            "charger {}: the password variable {var} is not set",
                            c.station
                        ))
                    })?),
                    (None, Some(file)) => Some(
                        std::fs::read_to_string(file)
                            .map_err(|e| bad(format!("reading {}: {e}", file.display())))?
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .to_string(),
                    ),
                    (None, None) if sp3 => None,
                    (None, None) => {
                        return Err(bad(format!(
                            "charger {}: no password_env/password_file and no ocpp.client_ca: it could not authenticate",
                            c.station
                        )));
                    }
                };
                if password.as_deref() == Some("") {
                    return Err(bad(format!("charger {}: an empty password", c.station)));
                }
                Ok(crate::Charger {
                    station: c.station.clone(),
                    meter: c.meter,
                    serial: c.serial.clone(),
                    key,
                    password,
                })
            })
            .collect()
    }

    /// The meters, with passwords read from their variables or files.
    pub fn meters(&self) -> GatewayResult<Vec<Meter>> {
        let d = &self.dlms;
        self.meters
            .iter()
            .map(|m| {
                let client = m.client.unwrap_or(d.client);
                let auth = if client == 16 {
                    Authentication::None
                } else {
                    let env = m.password_env.as_ref().or(d.password_env.as_ref());
                    let password = match (env, &d.password_file) {
                        (Some(var), _) => std::env::var(var).map_err(|_| {
                            bad(format!("meter {}: the password variable {var} is not set", m.id))
                        })?,
                        (None, Some(file)) => std::fs::read_to_string(file)
                            .map_err(|e| bad(format!("reading {}: {e}", file.display())))?
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .to_string(),
                        (None, None) => {
                            return Err(bad(format!(
                                "meter {}: client {client} needs a password (dlms.password_env or password_file)",
                                m.id
                            )));
                        }
                    };
                    Authentication::Low(password.into_bytes())
                };
                let obis = |o: &Option<String>, default: Obis| match o {
                    Some(s) => s
                        .parse::<Obis>()
                        .map_err(|e| bad(format!("meter {}: {e}", m.id))),
                    None => Ok(default),
                };
                Ok(Meter {
                    id: m.id,
                    address: m.address,
                    mode: m.mode,
                    settings: Settings {
                        transport: match m.transport.unwrap_or(d.transport) {
                            TransportName::Wrapper => Transport::Wrapper,
                            TransportName::Hdlc => Transport::Hdlc,
                        },
                        client,
                        logical: m.logical.unwrap_or(d.logical),
                        physical: m.physical,
                        auth,
                        timeout: Duration::from_millis(d.timeout_ms),
                        ..Settings::default()
                    },
                    profile: obis(&m.profile, Obis::LOAD_PROFILE)?,
                    import: obis(&m.import, Obis::ACTIVE_IMPORT)?,
                    export: obis(&m.export, Obis::ACTIVE_EXPORT)?,
                })
            })
            .collect()
    }
}
