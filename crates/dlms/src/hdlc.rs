//! HDLC framing for DLMS (IEC 62056-46, frame format type 3): flags, format field, addresses,
//! control field, header and frame check sequences (CRC-16/X-25), the LLC header, and the
//! connection parameters of SNRM/UA.

use crate::{
    axdr::Reader,
    error::{DlmsError, DlmsResult},
};

/// The frame delimiter.
pub const FLAG: u8 = 0x7E;
/// The LLC header of a request (client to server).
pub const LLC_REQUEST: [u8; 3] = [0xE6, 0xE6, 0x00];
/// The LLC header of a response.
pub const LLC_RESPONSE: [u8; 3] = [0xE6, 0xE7, 0x00];
/// Control: set normal response mode (poll).
pub const SNRM: u8 = 0x93;
/// Control: unnumbered acknowledge (final).
pub const UA: u8 = 0x73;
/// Control: disconnect (poll).
pub const DISC: u8 = 0x53;
/// Control: disconnected mode (final).
pub const DM: u8 = 0x1F;
/// Control: frame reject.
pub const FRMR: u8 = 0x97;
/// The largest frame length a format field holds (11 bits).
pub const MAX_FRAME: usize = 0x7FF;

/// CRC-16/X-25 (reflected 0x1021, init and final XOR 0xFFFF), sent low byte first.
pub fn fcs(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for b in bytes {
        crc ^= u16::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// An HDLC address: 1, 2 or 4 bytes, each carrying 7 bits, the last byte's low bit set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address(Vec<u8>);

impl Address {
    /// A client address (one byte: the client SAP, e.g. 16 public, 17 management).
    pub fn client(sap: u8) -> DlmsResult<Self> {
        if sap > 0x7F {
            return Err(DlmsError::Unsupported(format!(
                "client address {sap} is over 127"
            )));
        }
        Ok(Self(vec![(sap << 1) | 1]))
    }

    /// A server address from its upper (logical device) and lower (physical device) parts:
    /// one byte when there is no lower part, else two bytes (both parts below 128) or four.
    pub fn server(logical: u16, physical: Option<u16>) -> DlmsResult<Self> {
        let big = || DlmsError::Unsupported("HDLC server address part over 14 bits".into());
        if logical > 0x3FFF || physical.is_some_and(|p| p > 0x3FFF) {
            return Err(big());
        }
        let hi7 = |v: u16| [((v >> 7) << 1) as u8, ((v & 0x7F) << 1) as u8];
        Ok(Self(match physical {
            None if logical < 0x80 => vec![((logical as u8) << 1) | 1],
            None => {
                let mut a = hi7(logical).to_vec();
                a[1] |= 1;
                a
            }
            Some(p) if logical < 0x80 && p < 0x80 => {
                vec![(logical as u8) << 1, ((p as u8) << 1) | 1]
            }
            Some(p) => {
                let mut a = hi7(logical).to_vec();
                a.extend(hi7(p));
                a[3] |= 1;
                a
            }
        }))
    }

    /// The encoded bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// One HDLC frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The segmentation bit: more frames of this message follow.
    pub segmented: bool,
    /// Destination address bytes.
    pub dest: Vec<u8>,
    /// Source address bytes.
    pub src: Vec<u8>,
    /// The control field.
    pub control: u8,
    /// The information field.
    pub info: Vec<u8>,
}

impl Frame {
    /// Whether this is an information frame.
    pub fn is_info(&self) -> bool {
        self.control & 1 == 0
    }

    /// Whether this is a receive-ready frame.
    pub fn is_rr(&self) -> bool {
        self.control & 0x0F == 0x01
    }

    /// The frame with flags, format field, check sequences.
    pub fn encode(&self) -> DlmsResult<Vec<u8>> {
        let header = 2 + self.dest.len() + self.src.len() + 1 + 2;
        let len = header
            + if self.info.is_empty() {
                0
            } else {
                self.info.len() + 2
            };
        if len > MAX_FRAME {
            return Err(DlmsError::Unsupported(format!(
                "an HDLC frame of {len} bytes (at most {MAX_FRAME})"
            )));
        }
        let mut f = Vec::with_capacity(len + 2);
        f.push(FLAG);
        let seg = if self.segmented { 0x08 } else { 0 };
        f.push(0xA0 | seg | ((len >> 8) as u8 & 0x07));
        f.push(len as u8);
        f.extend(&self.dest);
        f.extend(&self.src);
        f.push(self.control);
        let hcs = fcs(&f[1..]);
        f.extend(hcs.to_le_bytes());
        if !self.info.is_empty() {
            f.extend(&self.info);
            let c = fcs(&f[1..]);
            f.extend(c.to_le_bytes());
        }
        f.push(FLAG);
        Ok(f)
    }

    /// Decodes a frame (`bytes` from opening to closing flag inclusive), checking both check
    /// sequences. `dest_len` is the length of the destination address (the client's, 1).
    pub fn decode(bytes: &[u8], dest_len: usize) -> DlmsResult<Self> {
        let mut r = Reader::new(bytes, "HDLC frame");
        if r.u8()? != FLAG || bytes.last() != Some(&FLAG) {
            return Err(r.error("no flags"));
        }
        let format = r.u16()?;
        if format >> 12 != 0xA {
            return Err(r.error(format!("format type {:#x}, not 0xA", format >> 12)));
        }
        let len = usize::from(format & 0x7FF);
        if len + 2 != bytes.len() {
            return Err(r.error(format!(
                "format length {len} for a frame of {} bytes",
                bytes.len()
            )));
        }
        let dest = r.take(dest_len)?.to_vec();
        // The source (server) address runs up to the byte with its low bit set.
        let mut src = Vec::new();
        loop {
            let b = r.u8()?;
            src.push(b);
            if b & 1 == 1 {
                break;
            }
            if src.len() == 4 {
                return Err(r.error("source address longer than 4 bytes"));
            }
        }
        let control = r.u8()?;
        let header_end = 1 + 2 + dest_len + src.len() + 1;
        let hcs = u16::from_le_bytes(r.array()?);
        if fcs(&bytes[1..header_end]) != hcs {
            return Err(DlmsError::Checksum { which: "HCS" });
        }
        let body = &bytes[header_end + 2..bytes.len() - 1];
        let info = if body.is_empty() {
            Vec::new()
        } else {
            if body.len() < 2 {
                return Err(r.error("information field without FCS"));
            }
            let (info, c) = body.split_at(body.len() - 2);
            if fcs(&bytes[1..bytes.len() - 3]) != u16::from_le_bytes([c[0], c[1]]) {
                return Err(DlmsError::Checksum { which: "FCS" });
            }
            info.to_vec()
        };
        Ok(Self {
            segmented: format & 0x0800 != 0,
            dest,
            src,
            control,
            info,
        })
    }
}

/// The control field of an information frame.
pub fn i_control(nr: u8, ns: u8, poll: bool) -> u8 {
    ((nr & 7) << 5) | (u8::from(poll) << 4) | ((ns & 7) << 1)
}

/// The control field of a receive-ready frame.
pub fn rr_control(nr: u8) -> u8 {
    ((nr & 7) << 5) | 0x10 | 0x01
}

/// The link parameters of a UA answer (defaults: 128 bytes each way, window 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkParams {
    /// Longest information field the server sends.
    pub max_info_tx: usize,
    /// Longest information field the server receives.
    pub max_info_rx: usize,
}

impl Default for LinkParams {
    fn default() -> Self {
        Self {
            max_info_tx: 128,
            max_info_rx: 128,
        }
    }
}

/// Reads the parameter negotiation of a UA's information field (format 0x81, group 0x80).
pub fn parse_ua(info: &[u8]) -> DlmsResult<LinkParams> {
    let mut p = LinkParams::default();
    if info.is_empty() {
        return Ok(p);
    }
    let mut r = Reader::new(info, "UA parameters");
    if r.u8()? != 0x81 || r.u8()? != 0x80 {
        return Err(r.error("not an HDLC parameter negotiation field"));
    }
    let n = usize::from(r.u8()?);
    let mut g = Reader::new(r.take(n)?, "UA parameters");
    while !g.is_empty() {
        let id = g.u8()?;
        let len = usize::from(g.u8()?);
        let v = g
            .take(len)?
            .iter()
            .fold(0usize, |a, b| (a << 8) | usize::from(*b));
        match id {
            0x05 => p.max_info_tx = v,
            0x06 => p.max_info_rx = v,
            _ => {}
        }
    }
    if p.max_info_tx == 0 || p.max_info_rx == 0 {
        return Err(r.error("a zero information field length"));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_check_sequence_is_crc16_x25() {
        // The CRC catalogue's check value of CRC-16/IBM-SDLC over "123456789".
        assert_eq!(fcs(b"123456789"), 0x906E);
    }

    #[test]
    fn addresses_encode_as_the_standard_says() {
        assert_eq!(Address::client(16).map(|a| a.0).ok(), Some(vec![0x21]));
        assert_eq!(Address::server(1, None).map(|a| a.0).ok(), Some(vec![0x03]));
        assert_eq!(
            Address::server(1, Some(17)).map(|a| a.0).ok(),
            Some(vec![0x02, 0x23])
        );
        assert_eq!(
            Address::server(1, Some(0x3FFF)).map(|a| a.0).ok(),
            Some(vec![0x00, 0x02, 0xFE, 0xFF])
        );
        assert!(Address::client(200).is_err());
    }

    #[test]
    fn a_snrm_frame_matches_a_known_capture() {
        // SNRM from client 16 to server 1: 7E A0 07 03 21 93 0F 01 7E.
        let snrm = Frame {
            segmented: false,
            dest: vec![0x03],
            src: vec![0x21],
            control: SNRM,
            info: vec![],
        };
        assert_eq!(
            snrm.encode().ok(),
            Some(vec![0x7E, 0xA0, 0x07, 0x03, 0x21, 0x93, 0x0F, 0x01, 0x7E])
        );
    }

    #[test]
    fn corrupted_frames_are_refused() {
        let f = Frame {
            segmented: true,
            dest: vec![0x21],
            src: vec![0x02, 0x23],
            control: i_control(1, 0, true),
            info: b"hello".to_vec(),
        };
        let bytes = f.encode().expect("encodes");
        assert_eq!(Frame::decode(&bytes, 1).ok(), Some(f));
        for i in 1..bytes.len() - 1 {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(
                Frame::decode(&bad, 1).is_err(),
                "a flip at {i} went unnoticed"
            );
        }
    }

    proptest! {
        #[test]
        fn frames_round_trip(info in proptest::collection::vec(any::<u8>(), 0..300), c in any::<u8>()) {
            let f = Frame { segmented: false, dest: vec![0x21], src: vec![0x03], control: c, info };
            let bytes = f.encode().expect("a frame under the limit encodes");
            prop_assert_eq!(Frame::decode(&bytes, 1).ok(), Some(f));
        }

        #[test]
        fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            // Whatever decodes is exactly what it encodes back to.
            if let Ok(f) = Frame::decode(&bytes, 1) {
                prop_assert_eq!(f.encode().ok(), Some(bytes));
            }
        }
    }
}
