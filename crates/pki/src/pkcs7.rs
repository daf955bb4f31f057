//! The PKCS#7 "certs-only" message EST carries certificates in (RFC 7030 §4.1.3, §4.2.3: a
//! degenerate CMS SignedData, RFC 5652, with no signers), written and read with a few lines
//! of DER.

use crate::{PkiError, PkiResult};

const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
const OID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = body.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(body);
    out
}

/// A certs-only message holding `certs` (DER).
pub fn certs_only(certs: &[Vec<u8>]) -> Vec<u8> {
    let digest_algorithms = tlv(0x31, &[]);
    let encap = tlv(0x30, &tlv(0x06, OID_DATA));
    let certificates = tlv(0xa0, &certs.concat());
    let signer_infos = tlv(0x31, &[]);
    let signed_data = tlv(
        0x30,
        &[
            tlv(0x02, &[1]),
            digest_algorithms,
            encap,
            certificates,
            signer_infos,
        ]
        .concat(),
    );
    tlv(
        0x30,
        &[tlv(0x06, OID_SIGNED_DATA), tlv(0xa0, &signed_data)].concat(),
    )
}

/// One TLV at the start of `b`: `(tag, body, rest)`.
fn read(b: &[u8]) -> PkiResult<(u8, &[u8], &[u8])> {
    let bad = || PkiError::Malformed("a truncated PKCS#7 message".into());
    let (&tag, b) = b.split_first().ok_or_else(bad)?;
    let (&l, b) = b.split_first().ok_or_else(bad)?;
    let (len, b) = if l < 0x80 {
        (usize::from(l), b)
    } else {
        let k = usize::from(l & 0x7f);
        if k == 0 || k > 4 || b.len() < k {
            return Err(bad());
        }
        let len = b[..k]
            .iter()
            .fold(0usize, |a, x| (a << 8) | usize::from(*x));
        (len, &b[k..])
    };
    if b.len() < len {
        return Err(bad());
    }
    Ok((tag, &b[..len], &b[len..]))
}

/// The certificates (DER) of a certs-only message.
pub fn certificates(msg: &[u8]) -> PkiResult<Vec<Vec<u8>>> {
    let bad = |why: &str| PkiError::Malformed(format!("PKCS#7: {why}"));
    let (tag, content_info, _) = read(msg)?;
    if tag != 0x30 {
        return Err(bad("not a ContentInfo"));
    }
    let (tag, oid, rest) = read(content_info)?;
    if tag != 0x06 || oid != OID_SIGNED_DATA {
        return Err(bad("not SignedData"));
    }
    let (tag, explicit, _) = read(rest)?;
    if tag != 0xa0 {
        return Err(bad("no content"));
    }
    let (tag, signed_data, _) = read(explicit)?;
    if tag != 0x30 {
        return Err(bad("SignedData is not a SEQUENCE"));
    }
    let mut rest = signed_data;
    let mut certs = Vec::new();
    while !rest.is_empty() {
        let (tag, body, next) = read(rest)?;
        if tag == 0xa0 {
            let mut b = body;
            while !b.is_empty() {
                let (t, _, n) = read(b)?;
                if t != 0x30 {
                    return Err(bad("a certificate is not a SEQUENCE"));
                }
                certs.push(b[..b.len() - n.len()].to_vec());
                b = n;
            }
        }
        rest = next;
    }
    if certs.is_empty() {
        return Err(bad("no certificates"));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certs_round_trip_and_truncation_is_refused() {
        let a = tlv(0x30, &[1u8; 300]);
        let b = tlv(0x30, &[2u8; 5]);
        let msg = certs_only(&[a.clone(), b.clone()]);
        assert_eq!(certificates(&msg).expect("certs"), vec![a, b]);
        for cut in [1, 10, msg.len() - 1] {
            assert!(certificates(&msg[..cut]).is_err(), "{cut}");
        }
        assert!(certificates(&certs_only(&[])).is_err());
    }
}
