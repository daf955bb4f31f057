//! The application layer a reading client needs (IEC 62056-5-3): the association (AARQ/AARE,
//! ACSE in BER with an xDLMS InitiateRequest inside), GET-Request/Response normal and with
//! block transfer, selective access by range, release, and the error APDUs.

use crate::{
    axdr::{Data, Reader},
    cosem::{Attribute, DateTime},
    error::{DlmsError, DlmsResult},
};

/// The application context "logical name referencing, no ciphering" (2.16.756.5.8.1.1).
const CONTEXT_LN: [u8; 7] = [0x60, 0x85, 0x74, 0x05, 0x08, 0x01, 0x01];
/// The mechanism name "low-level security" (2.16.756.5.8.2.1).
const MECHANISM_LLS: [u8; 7] = [0x60, 0x85, 0x74, 0x05, 0x08, 0x02, 0x01];

/// Conformance bits a reading client proposes (the 24-bit BIT STRING, bit 0 = MSB of the
/// first byte): block-transfer-with-get-or-read (11), get (19), selective-access (21).
pub const CONFORMANCE: [u8; 3] = [0x00, 0x10, 0x14];
/// Conformance bit: GET (19).
pub const CONFORMANCE_GET: u32 = 1 << (23 - 19);
/// Conformance bit: selective access (21).
pub const CONFORMANCE_SELECTIVE: u32 = 1 << (23 - 21);
/// Conformance bit: block transfer with GET (11).
pub const CONFORMANCE_BLOCK_GET: u32 = 1 << (23 - 11);

/// How the client authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Authentication {
    /// Lowest security: no authentication (the public client, read-only objects).
    None,
    /// Low-level security: a password sent in the AARQ (IEC 62056-5-3 §9.2.2.2.2).
    Low(Vec<u8>),
}

impl std::fmt::Debug for Authentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Low(_) => f.write_str("Low(<password>)"),
        }
    }
}

fn ber(tag: u8, body: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    crate::axdr::encode_length(body.len(), out);
    out.extend(body);
}

/// An AARQ proposing `conformance` and a maximum received PDU of `max_pdu` bytes.
pub fn aarq(auth: &Authentication, max_pdu: u16) -> Vec<u8> {
    let mut body = Vec::new();
    let mut ctx = vec![0x06, CONTEXT_LN.len() as u8];
    ctx.extend(CONTEXT_LN);
    ber(0xA1, &ctx, &mut body);
    if let Authentication::Low(password) = auth {
        // acse-requirements: authentication.
        body.extend([0x8A, 0x02, 0x07, 0x80]);
        ber(0x8B, &MECHANISM_LLS, &mut body);
        let mut value = Vec::new();
        ber(0x80, password, &mut value);
        ber(0xAC, &value, &mut body);
    }
    // user-information: an OCTET STRING holding the xDLMS InitiateRequest.
    let mut initiate = vec![0x01, 0x00, 0x00, 0x00, 0x06, 0x5F, 0x1F, 0x04, 0x00];
    initiate.extend(CONFORMANCE);
    initiate.extend(max_pdu.to_be_bytes());
    let mut octets = Vec::new();
    ber(0x04, &initiate, &mut octets);
    ber(0xBE, &octets, &mut body);
    let mut out = Vec::new();
    ber(0x60, &body, &mut out);
    out
}

/// What an accepted association negotiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The conformance bits the meter grants (24 bits).
    pub conformance: u32,
    /// The largest APDU the meter receives.
    pub max_pdu: u16,
}

/// Reads an AARE: the negotiated parameters, or why the association was refused.
pub fn parse_aare(bytes: &[u8]) -> DlmsResult<Negotiated> {
    let mut r = Reader::new(bytes, "AARE");
    if r.u8()? != 0x61 {
        if bytes.first() == Some(&0xD8) || bytes.first() == Some(&0x0E) {
            return Err(service_error(bytes));
        }
        return Err(r.error("not an AARE (tag 0x61)"));
    }
    let len = r.length()?;
    let mut body = Reader::new(r.take(len)?, "AARE");
    let (mut result, mut diagnostic, mut initiate) = (None, 0u8, None);
    while !body.is_empty() {
        let tag = body.u8()?;
        let len = body.length()?;
        let value = body.take(len)?;
        match tag {
            // result: [2] INTEGER.
            0xA2 => result = value.last().copied(),
            // result-source-diagnostic: [3] CHOICE { acse-service-user [1] INTEGER, ... }.
            0xA3 => diagnostic = value.last().copied().unwrap_or(0),
            // user-information: [30] OCTET STRING holding the xDLMS answer.
            0xBE => {
                let mut u = Reader::new(value, "AARE user-information");
                if u.u8()? != 0x04 {
                    return Err(u.error("user-information is not an OCTET STRING"));
                }
                let n = u.length()?;
                initiate = Some(u.take(n)?.to_vec());
            }
            _ => {}
        }
    }
    match result {
        Some(0) => {}
        Some(result) => return Err(DlmsError::AssociationRefused { result, diagnostic }),
        None => return Err(body.error("no result field")),
    }
    let initiate = initiate.ok_or_else(|| body.error("no InitiateResponse"))?;
    let mut i = Reader::new(&initiate, "InitiateResponse");
    match i.u8()? {
        0x08 => {}
        0x0E => return Err(service_error(&initiate)),
        t => return Err(i.error(format!("tag {t:#04x}, not an InitiateResponse"))),
    }
    // negotiated-quality-of-service OPTIONAL.
    if i.u8()? != 0 {
        i.u8()?;
    }
    let _version = i.u8()?;
    if i.take(4)? != [0x5F, 0x1F, 0x04, 0x00] {
        return Err(i.error("conformance block header"));
    }
    let c = i.array::<3>()?;
    let conformance = u32::from_be_bytes([0, c[0], c[1], c[2]]);
    let max_pdu = i.u16()?;
    Ok(Negotiated {
        conformance,
        max_pdu,
    })
}

/// A release request (RLRQ, reason normal).
pub fn rlrq() -> Vec<u8> {
    vec![0x62, 0x03, 0x80, 0x01, 0x00]
}

/// Selective access to a profile buffer by a range of its clock column (access selector 1),
/// `from ≤ capture time ≤ to`, all columns.
pub fn range_by_clock(clock: Attribute, from: DateTime, to: DateTime) -> (u8, Data) {
    let restricting = Data::Structure(vec![
        Data::LongUnsigned(clock.class),
        Data::OctetString(clock.obis.0.to_vec()),
        Data::Integer(clock.index),
        Data::LongUnsigned(0),
    ]);
    (
        1,
        Data::Structure(vec![
            restricting,
            from.to_data(),
            to.to_data(),
            Data::Array(vec![]),
        ]),
    )
}

/// A GET-Request-Normal of `attr`, with optional selective access `(selector, parameters)`.
pub fn get_request(invoke: u8, attr: Attribute, access: Option<&(u8, Data)>) -> Vec<u8> {
    let mut out = vec![0xC0, 0x01, invoke];
    attr.encode(&mut out);
    match access {
        None => out.push(0),
        Some((selector, params)) => {
            out.extend([1, *selector]);
            params.encode(&mut out);
        }
    }
    out
}

/// A GET-Request-Next for block `block`.
pub fn get_next(invoke: u8, block: u32) -> Vec<u8> {
    let mut out = vec![0xC0, 0x02, invoke];
    out.extend(block.to_be_bytes());
    out
}

/// The data-access-result enumeration (IEC 62056-5-3 §7.3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataAccessResult {
    /// 1.
    HardwareFault,
    /// 2.
    TemporaryFailure,
    /// 3.
    ReadWriteDenied,
    /// 4: no such object.
    ObjectUndefined,
    /// 9.
    ObjectClassInconsistent,
    /// 11.
    ObjectUnavailable,
    /// 12.
    TypeUnmatched,
    /// 13.
    ScopeOfAccessViolated,
    /// 14.
    DataBlockUnavailable,
    /// 15.
    LongGetAborted,
    /// 16.
    NoLongGetInProgress,
    /// Any other code.
    Other(u8),
}

impl From<u8> for DataAccessResult {
    fn from(c: u8) -> Self {
        match c {
            1 => Self::HardwareFault,
            2 => Self::TemporaryFailure,
            3 => Self::ReadWriteDenied,
            4 => Self::ObjectUndefined,
            9 => Self::ObjectClassInconsistent,
            11 => Self::ObjectUnavailable,
            12 => Self::TypeUnmatched,
            13 => Self::ScopeOfAccessViolated,
            14 => Self::DataBlockUnavailable,
            15 => Self::LongGetAborted,
            16 => Self::NoLongGetInProgress,
            c => Self::Other(c),
        }
    }
}

/// A GET-Response.
#[derive(Clone, Debug, PartialEq)]
pub enum GetResponse {
    /// The whole value.
    Normal(Data),
    /// One block of the value's encoding.
    Block {
        /// The last block.
        last: bool,
        /// The block's number (from 1).
        number: u32,
        /// Raw bytes of the value's encoding.
        raw: Vec<u8>,
    },
}

/// Reads a GET-Response to invoke id `invoke`.
pub fn parse_get_response(bytes: &[u8], invoke: u8) -> DlmsResult<GetResponse> {
    let mut r = Reader::new(bytes, "GET-Response");
    match r.u8()? {
        0xC4 => {}
        0xD8 | 0x0E => return Err(service_error(bytes)),
        t => return Err(r.error(format!("tag {t:#04x}, not a GET-Response"))),
    }
    let kind = r.u8()?;
    let id = r.u8()?;
    if id & 0x0F != invoke & 0x0F {
        return Err(DlmsError::Unexpected(format!(
            "invoke id {} answered, {} asked",
            id & 0x0F,
            invoke & 0x0F
        )));
    }
    match kind {
        1 => match r.u8()? {
            0 => {
                let v = Data::decode_from(&mut r)?;
                if !r.is_empty() {
                    return Err(r.error("bytes after the value"));
                }
                Ok(GetResponse::Normal(v))
            }
            1 => Err(DlmsError::Access(r.u8()?.into())),
            c => Err(r.error(format!("Get-Data-Result choice {c}"))),
        },
        2 => {
            let last = r.u8()? != 0;
            let number = r.u32()?;
            match r.u8()? {
                0 => {
                    let n = r.length()?;
                    let raw = r.take(n)?.to_vec();
                    if !r.is_empty() {
                        return Err(r.error("bytes after the block"));
                    }
                    Ok(GetResponse::Block { last, number, raw })
                }
                1 => Err(DlmsError::Access(r.u8()?.into())),
                c => Err(r.error(format!("DataBlock-G result choice {c}"))),
            }
        }
        k => Err(DlmsError::Unsupported(format!(
            "GET-Response type {k} (with-list is never asked for)"
        ))),
    }
}

/// An exception-response or confirmed-service-error APDU as an error.
fn service_error(bytes: &[u8]) -> DlmsError {
    let hex: String = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    DlmsError::Service(match bytes.first() {
        Some(0xD8) => format!("exception-response {hex}"),
        _ => format!("confirmed-service-error {hex}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosem::Obis;

    #[test]
    fn an_lls_aarq_has_the_standard_shape() {
        let a = aarq(&Authentication::Low(b"00000000".to_vec()), 0xFFFF);
        let expected: Vec<u8> = [
            &[0x60, 0x36, 0xA1, 0x09, 0x06, 0x07][..],
            &CONTEXT_LN,
            &[0x8A, 0x02, 0x07, 0x80, 0x8B, 0x07],
            &MECHANISM_LLS,
            &[0xAC, 0x0A, 0x80, 0x08],
            b"00000000",
            &[
                0xBE, 0x10, 0x04, 0x0E, 0x01, 0x00, 0x00, 0x00, 0x06, 0x5F, 0x1F, 0x04, 0x00,
            ],
            &CONFORMANCE,
            &[0xFF, 0xFF],
        ]
        .concat();
        assert_eq!(a, expected);
    }

    #[test]
    fn aares_are_read_and_refusals_reported() {
        // Accepted, conformance 0x00101D, max PDU 0x0400.
        let ok = [
            0x61, 0x29, 0xA1, 0x09, 0x06, 0x07, 0x60, 0x85, 0x74, 0x05, 0x08, 0x01, 0x01, 0xA2,
            0x03, 0x02, 0x01, 0x00, 0xA3, 0x05, 0xA1, 0x03, 0x02, 0x01, 0x00, 0xBE, 0x10, 0x04,
            0x0E, 0x08, 0x00, 0x06, 0x5F, 0x1F, 0x04, 0x00, 0x00, 0x10, 0x1D, 0x04, 0x00, 0x00,
            0x07,
        ];
        let n = parse_aare(&ok).expect("accepted");
        assert_eq!(n.max_pdu, 0x0400);
        assert_ne!(n.conformance & CONFORMANCE_GET, 0);
        // Rejected-permanent, authentication-failure (13).
        let refused = [
            0x61, 0x1F, 0xA1, 0x09, 0x06, 0x07, 0x60, 0x85, 0x74, 0x05, 0x08, 0x01, 0x01, 0xA2,
            0x03, 0x02, 0x01, 0x01, 0xA3, 0x05, 0xA1, 0x03, 0x02, 0x01, 0x0D, 0xBE, 0x06, 0x04,
            0x04, 0x0E, 0x01, 0x06, 0x02,
        ];
        assert!(matches!(
            parse_aare(&refused),
            Err(DlmsError::AssociationRefused {
                result: 1,
                diagnostic: 13
            })
        ));
        assert!(parse_aare(&ok[..20]).is_err());
    }

    #[test]
    fn get_responses_are_matched_to_their_request() {
        let req = get_request(0xC1, Attribute::new(3, Obis::ACTIVE_IMPORT, 2), None);
        assert_eq!(
            req,
            [0xC0, 0x01, 0xC1, 0x00, 0x03, 1, 0, 1, 8, 0, 255, 0x02, 0x00]
        );
        let normal = [0xC4, 0x01, 0xC1, 0x00, 0x06, 0x00, 0x00, 0x30, 0x39];
        assert_eq!(
            parse_get_response(&normal, 0xC1).ok(),
            Some(GetResponse::Normal(Data::DoubleLongUnsigned(12_345)))
        );
        assert!(matches!(
            parse_get_response(&normal, 0xC2),
            Err(DlmsError::Unexpected(_))
        ));
        let undefined = [0xC4, 0x01, 0xC1, 0x01, 0x04];
        assert!(matches!(
            parse_get_response(&undefined, 0xC1),
            Err(DlmsError::Access(DataAccessResult::ObjectUndefined))
        ));
        let block = [0xC4, 0x02, 0xC1, 0x00, 0, 0, 0, 1, 0x00, 0x03, 1, 2, 3];
        assert_eq!(
            parse_get_response(&block, 0xC1).ok(),
            Some(GetResponse::Block {
                last: false,
                number: 1,
                raw: vec![1, 2, 3]
            })
        );
        assert!(parse_get_response(&[0xD8, 0x01, 0x01], 0xC1).is_err());
    }
}
