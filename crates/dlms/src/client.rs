//! An async reading client over TCP: the DLMS TCP wrapper (IEC 62056-47) or HDLC framing on the
//! stream (IEC 62056-46, as meters behind a terminal server or a serial-to-TCP bridge speak it).

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    apdu::{self, Authentication, GetResponse, Negotiated},
    axdr::Data,
    cosem::{Attribute, DateTime, Obis, ScalerUnit},
    error::{DlmsError, DlmsResult},
    hdlc::{self, Address, Frame, LinkParams},
};

/// How the APDUs travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// The TCP wrapper: an 8-byte header (version 1, source and destination wPort, length).
    Wrapper,
    /// HDLC frames on the TCP stream.
    Hdlc,
}

/// How to reach and associate with one meter.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Wrapper or HDLC.
    pub transport: Transport,
    /// The client's SAP / wPort: 16 public (no authentication), 17 management (LLS).
    pub client: u8,
    /// The server's logical device (wrapper destination wPort; HDLC upper address): 1.
    pub logical: u16,
    /// The HDLC lower (physical) address, if the meter uses one.
    pub physical: Option<u16>,
    /// The association's authentication.
    pub auth: Authentication,
    /// How long one answer may take.
    pub timeout: Duration,
    /// The largest APDU the client receives (proposed in the AARQ).
    pub max_pdu: u16,
    /// The largest value (all blocks of one GET together) the client takes.
    pub max_value_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            transport: Transport::Wrapper,
            client: 16,
            logical: 1,
            physical: None,
            auth: Authentication::None,
            timeout: Duration::from_secs(5),
            max_pdu: 0xFFFF,
            max_value_bytes: 1 << 20,
        }
    }
}

struct HdlcLink {
    client: Address,
    server: Address,
    /// Send sequence number of our next I-frame.
    ns: u8,
    /// Receive sequence number: the N(S) we expect next.
    nr: u8,
    params: LinkParams,
}

/// An associated meter.
pub struct Client {
    stream: TcpStream,
    settings: Settings,
    hdlc: Option<HdlcLink>,
    negotiated: Negotiated,
    invoke: u8,
    scalers: HashMap<Obis, ScalerUnit>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("transport", &self.settings.transport)
            .field("negotiated", &self.negotiated)
            .finish_non_exhaustive()
    }
}

/// A load profile read: its columns and rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// The capture objects (one per column).
    pub columns: Vec<Attribute>,
    /// The capture period in seconds (0: asynchronous captures).
    pub period: u32,
    /// The entries, each with one value per column.
    pub rows: Vec<Vec<Data>>,
}

impl Client {
    /// Connects to `addr`, opens the link (HDLC: SNRM/UA) and associates (AARQ/AARE).
    pub async fn connect(addr: SocketAddr, settings: Settings) -> DlmsResult<Self> {
        let timeout = settings.timeout;
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| DlmsError::Timeout(timeout))??;
        stream.set_nodelay(true)?;
        let hdlc = match settings.transport {
            Transport::Wrapper => None,
            Transport::Hdlc => Some(HdlcLink {
                client: Address::client(settings.client)?,
                server: Address::server(settings.logical, settings.physical)?,
                ns: 0,
                nr: 0,
                params: LinkParams::default(),
            }),
        };
        let mut c = Self {
            stream,
            settings,
            hdlc,
            negotiated: Negotiated {
                conformance: 0,
                max_pdu: 0,
            },
            invoke: 0,
            scalers: HashMap::new(),
        };
        if c.hdlc.is_some() {
            c.snrm().await?;
        }
        let aarq = apdu::aarq(&c.settings.auth, c.settings.max_pdu);
        let aare = c.exchange(&aarq).await?;
        c.negotiated = apdu::parse_aare(&aare)?;
        if c.negotiated.conformance & apdu::CONFORMANCE_GET == 0 {
            return Err(DlmsError::Unsupported(
                "the meter does not grant GET in this association".into(),
            ));
        }
        Ok(c)
    }

    /// What the association negotiated.
    pub fn negotiated(&self) -> Negotiated {
        self.negotiated
    }

    /// Reads one attribute, with optional selective access `(selector, parameters)`.
    pub async fn get(&mut self, attr: Attribute, access: Option<(u8, Data)>) -> DlmsResult<Data> {
        if access.is_some() && self.negotiated.conformance & apdu::CONFORMANCE_SELECTIVE == 0 {
            return Err(DlmsError::Unsupported(
                "the meter does not grant selective access".into(),
            ));
        }
        self.invoke = self.invoke % 15 + 1;
        let invoke = 0xC0 | self.invoke;
        let mut answer = self
            .exchange(&apdu::get_request(invoke, attr, access.as_ref()))
            .await?;
        let mut raw = Vec::new();
        let mut expected = 1u32;
        loop {
            match apdu::parse_get_response(&answer, invoke)? {
                GetResponse::Normal(v) if expected == 1 => return Ok(v),
                GetResponse::Normal(_) => {
                    return Err(DlmsError::Unexpected(
                        "a normal answer in the middle of a block transfer".into(),
                    ));
                }
                GetResponse::Block {
                    last,
                    number,
                    raw: block,
                } => {
                    if number != expected {
                        return Err(DlmsError::Unexpected(format!(
                            "block {number} where block {expected} was due"
                        )));
                    }
                    raw.extend(block);
                    if raw.len() > self.settings.max_value_bytes {
                        return Err(DlmsError::Unsupported(format!(
                            "an answer over {} bytes",
                            self.settings.max_value_bytes
                        )));
                    }
                    if last {
                        return Data::decode(&raw);
                    }
                    answer = self.exchange(&apdu::get_next(invoke, number)).await?;
                    expected += 1;
                }
            }
        }
    }

    /// The meter's clock (class 8, attribute 2) as UTC unix seconds, refused when the meter
    /// flags it invalid or doubtful.
    pub async fn clock(&mut self) -> DlmsResult<u64> {
        let v = self.get(Attribute::new(8, Obis::CLOCK, 2), None).await?;
        let t = DateTime::from_data(&v)?;
        if t.status() & (crate::cosem::STATUS_INVALID | crate::cosem::STATUS_CLOCK_INVALID) != 0 {
            return Err(DlmsError::Unexpected(format!(
                "the meter flags its clock invalid (status {:#04x})",
                t.status()
            )));
        }
        t.unix()
    }

    /// The `scaler_unit` of a register (class 3, attribute 3), read once per association.
    pub async fn scaler(&mut self, obis: Obis) -> DlmsResult<ScalerUnit> {
        if let Some(s) = self.scalers.get(&obis) {
            return Ok(*s);
        }
        let s = ScalerUnit::from_data(&self.get(Attribute::new(3, obis, 3), None).await?)?;
        self.scalers.insert(obis, s);
        Ok(s)
    }

    /// Seeds the `scaler_unit` of a register known from an earlier association (a caller's
    /// cache: the scaler is configuration, so a gateway need not read it on every visit).
    pub fn remember_scaler(&mut self, obis: Obis, scaler: ScalerUnit) {
        self.scalers.insert(obis, scaler);
    }

    /// The `scaler_unit`s this association knows.
    pub fn scalers(&self) -> impl Iterator<Item = (Obis, ScalerUnit)> + '_ {
        self.scalers.iter().map(|(o, s)| (*o, *s))
    }

    /// An active-energy register's value in whole Wh.
    pub async fn energy_wh(&mut self, obis: Obis) -> DlmsResult<u64> {
        let scaler = self.scaler(obis).await?;
        let v = self.get(Attribute::new(3, obis, 2), None).await?;
        let raw = v.as_i128().ok_or_else(|| {
            DlmsError::malformed("register value", 0, format!("not a number: {v:?}"))
        })?;
        scaler.to_wh(raw)
    }

    /// A profile's entries captured in `[from, to]` (unix seconds), by range on its first
    /// column, which must be the clock.
    pub async fn profile(&mut self, obis: Obis, from: u64, to: u64) -> DlmsResult<Profile> {
        let columns = self.capture_objects(obis).await?;
        let clock = *columns
            .first()
            .filter(|c| c.class == 8 && c.index == 2)
            .ok_or_else(|| {
                DlmsError::Unsupported(format!("profile {obis} does not start with a clock"))
            })?;
        let period = match self.get(Attribute::new(7, obis, 4), None).await? {
            Data::DoubleLongUnsigned(p) => p,
            other => {
                return Err(DlmsError::malformed(
                    "capture_period",
                    0,
                    format!("{other:?}"),
                ));
            }
        };
        let access =
            apdu::range_by_clock(clock, DateTime::from_unix(from), DateTime::from_unix(to));
        let buffer = self.get(Attribute::new(7, obis, 2), Some(access)).await?;
        let Data::Array(entries) = buffer else {
            return Err(DlmsError::malformed("profile buffer", 0, "not an array"));
        };
        let mut rows = Vec::with_capacity(entries.len());
        for (i, e) in entries.into_iter().enumerate() {
            match e {
                Data::Structure(cells) if cells.len() == columns.len() => rows.push(cells),
                other => {
                    return Err(DlmsError::malformed(
                        "profile entry",
                        i,
                        format!("{} columns expected, got {other:?}", columns.len()),
                    ));
                }
            }
        }
        Ok(Profile {
            columns,
            period,
            rows,
        })
    }

    /// A profile's capture objects (class 7, attribute 3).
    pub async fn capture_objects(&mut self, obis: Obis) -> DlmsResult<Vec<Attribute>> {
        let v = self.get(Attribute::new(7, obis, 3), None).await?;
        let bad = |why: String| DlmsError::malformed("capture_objects", 0, why);
        let list = match v {
            Data::Array(l) => l,
            other => return Err(bad(format!("not an array: {other:?}"))),
        };
        list.iter()
            .map(|o| match o.as_list() {
                Some(
                    [
                        Data::LongUnsigned(class),
                        Data::OctetString(name),
                        Data::Integer(index),
                        Data::LongUnsigned(_),
                    ],
                ) if name.len() == 6 => {
                    let mut n = [0; 6];
                    n.copy_from_slice(name);
                    Ok(Attribute::new(*class, Obis(n), *index))
                }
                _ => Err(bad(format!("{o:?}"))),
            })
            .collect()
    }

    /// Releases the association and closes the link.
    pub async fn close(mut self) -> DlmsResult<()> {
        if self.hdlc.is_some() {
            let f = self.frame(hdlc::DISC, Vec::new());
            self.send_frame(&f).await?;
            // UA or DM: either way the link is down.
            let _ = self.read_frame().await;
        } else {
            let _ = self.exchange(&apdu::rlrq()).await;
        }
        self.stream.shutdown().await?;
        Ok(())
    }

    /// Sends one APDU and returns the answering APDU.
    async fn exchange(&mut self, request: &[u8]) -> DlmsResult<Vec<u8>> {
        if self.hdlc.is_some() {
            self.hdlc_exchange(request).await
        } else {
            self.wrapper_exchange(request).await
        }
    }

    async fn wrapper_exchange(&mut self, request: &[u8]) -> DlmsResult<Vec<u8>> {
        let len = u16::try_from(request.len())
            .map_err(|_| DlmsError::Unsupported("an APDU over 65535 bytes".into()))?;
        let (client, server) = (u16::from(self.settings.client), self.settings.logical);
        let mut out = Vec::with_capacity(8 + request.len());
        out.extend(1u16.to_be_bytes());
        out.extend(client.to_be_bytes());
        out.extend(server.to_be_bytes());
        out.extend(len.to_be_bytes());
        out.extend(request);
        self.stream.write_all(&out).await?;
        let timeout = self.settings.timeout;
        let mut header = [0u8; 8];
        tokio::time::timeout(timeout, self.stream.read_exact(&mut header))
            .await
            .map_err(|_| DlmsError::Timeout(timeout))??;
        let word = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
        if word(0) != 1 {
            return Err(DlmsError::malformed(
                "wrapper header",
                0,
                format!("version {}", word(0)),
            ));
        }
        if word(2) != server || word(4) != client {
            return Err(DlmsError::Unexpected(format!(
                "an answer from wPort {} to {} (expected {server} to {client})",
                word(2),
                word(4)
            )));
        }
        let mut apdu = vec![0u8; usize::from(word(6))];
        tokio::time::timeout(timeout, self.stream.read_exact(&mut apdu))
            .await
            .map_err(|_| DlmsError::Timeout(timeout))??;
        Ok(apdu)
    }

    fn frame(&self, control: u8, info: Vec<u8>) -> Frame {
        let (dest, src) = self
            .hdlc
            .as_ref()
            .map(|h| (h.server.bytes().to_vec(), h.client.bytes().to_vec()))
            .unwrap_or_default();
        Frame {
            segmented: false,
            dest,
            src,
            control,
            info,
        }
    }

    async fn snrm(&mut self) -> DlmsResult<()> {
        let f = self.frame(hdlc::SNRM, Vec::new());
        self.send_frame(&f).await?;
        let ua = self.read_frame().await?;
        match ua.control {
            hdlc::UA => {}
            hdlc::DM => {
                return Err(DlmsError::Unexpected(
                    "the meter answered SNRM with DM".into(),
                ));
            }
            c => return Err(DlmsError::Unexpected(format!("control {c:#04x} to SNRM"))),
        }
        let params = hdlc::parse_ua(&ua.info)?;
        if let Some(h) = self.hdlc.as_mut() {
            h.params = params;
        }
        Ok(())
    }

    async fn hdlc_exchange(&mut self, request: &[u8]) -> DlmsResult<Vec<u8>> {
        let Some(h) = self.hdlc.as_ref() else {
            return Err(DlmsError::Unexpected("no HDLC link".into()));
        };
        let mut info = hdlc::LLC_REQUEST.to_vec();
        info.extend(request);
        let room = h.params.max_info_rx;
        let chunks: Vec<Vec<u8>> = info.chunks(room).map(<[u8]>::to_vec).collect();
        let count = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let last = i + 1 == count;
            let (ns, nr) = self.hdlc.as_ref().map_or((0, 0), |h| (h.ns, h.nr));
            let mut f = self.frame(hdlc::i_control(nr, ns, true), chunk);
            f.segmented = !last;
            self.send_frame(&f).await?;
            if let Some(h) = self.hdlc.as_mut() {
                h.ns = (h.ns + 1) & 7;
            }
            if !last {
                // The server acknowledges each segment with RR before the next one goes.
                let rr = self.read_frame().await?;
                if !rr.is_rr() {
                    return Err(DlmsError::Unexpected(format!(
                        "control {:#04x} where RR acknowledges a segment",
                        rr.control
                    )));
                }
            }
        }
        let mut apdu = Vec::new();
        let mut first = true;
        loop {
            let f = self.read_frame().await?;
            if f.control == hdlc::FRMR || f.control == hdlc::DM {
                return Err(DlmsError::Unexpected(format!(
                    "the meter rejected the frame (control {:#04x})",
                    f.control
                )));
            }
            if !f.is_info() {
                return Err(DlmsError::Unexpected(format!(
                    "control {:#04x} where an information frame was due",
                    f.control
                )));
            }
            let ns = (f.control >> 1) & 7;
            let expected = self.hdlc.as_ref().map_or(0, |h| h.nr);
            if ns != expected {
                return Err(DlmsError::Unexpected(format!(
                    "frame N(S) {ns} where {expected} was due"
                )));
            }
            if let Some(h) = self.hdlc.as_mut() {
                h.nr = (h.nr + 1) & 7;
            }
            let mut info = f.info.as_slice();
            if first {
                info = info.strip_prefix(&hdlc::LLC_RESPONSE[..]).ok_or_else(|| {
                    DlmsError::malformed("HDLC information", 0, "no LLC response header")
                })?;
                first = false;
            }
            apdu.extend(info);
            if apdu.len() > self.settings.max_value_bytes {
                return Err(DlmsError::Unsupported(format!(
                    "an answer over {} bytes",
                    self.settings.max_value_bytes
                )));
            }
            if !f.segmented {
                return Ok(apdu);
            }
            let nr = self.hdlc.as_ref().map_or(0, |h| h.nr);
            let rr = self.frame(hdlc::rr_control(nr), Vec::new());
            self.send_frame(&rr).await?;
        }
    }

    async fn send_frame(&mut self, f: &Frame) -> DlmsResult<()> {
        self.stream.write_all(&f.encode()?).await?;
        Ok(())
    }

    /// Reads one frame: skips to a flag, reads the format field, then the rest.
    async fn read_frame(&mut self) -> DlmsResult<Frame> {
        let timeout = self.settings.timeout;
        let read = async {
            let mut b = [0u8; 1];
            loop {
                self.stream.read_exact(&mut b).await?;
                if b[0] == hdlc::FLAG {
                    break;
                }
            }
            let mut format = [0u8; 2];
            self.stream.read_exact(&mut format[..1]).await?;
            // Two flags in a row (an idle flag, or the end of a previous frame).
            while format[0] == hdlc::FLAG {
                self.stream.read_exact(&mut format[..1]).await?;
            }
            self.stream.read_exact(&mut format[1..]).await?;
            let len = usize::from(u16::from_be_bytes(format) & 0x7FF);
            if len < 7 {
                return Err(DlmsError::malformed(
                    "HDLC frame",
                    1,
                    format!("length {len}"),
                ));
            }
            let mut frame = vec![0u8; len + 2];
            frame[0] = hdlc::FLAG;
            frame[1..3].copy_from_slice(&format);
            self.stream.read_exact(&mut frame[3..]).await?;
            Ok(frame)
        };
        let bytes = tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| DlmsError::Timeout(timeout))??;
        let f = Frame::decode(&bytes, 1)?;
        let expected_src = self
            .hdlc
            .as_ref()
            .map(|h| (h.server.bytes().to_vec(), h.client.bytes().to_vec()));
        if let Some((server, client)) = expected_src
            && (f.src != server || f.dest != client)
        {
            return Err(DlmsError::Unexpected(format!(
                "a frame from {:02x?} to {:02x?}",
                f.src, f.dest
            )));
        }
        Ok(f)
    }
}
