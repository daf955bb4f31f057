//! A-XDR encoding of COSEM data (IEC 62056-6-2 §4.1.5, the `Data` CHOICE of DLMS).
//!
//! The decoder is total: any byte string decodes to a value or an error, never a panic, and its
//! work is bounded by the input's length (every element takes at least one byte) and a nesting
//! limit. It is written here rather than taken from the `dlms_cosem` crate (0.2.0), whose
//! `Data::parse` panics (`unimplemented!`) on arrays, booleans, bit strings and visible strings
//! — a load profile is an array, and device input must never panic the gateway.

use crate::error::{DlmsError, DlmsResult};

/// How deep arrays and structures may nest (a load profile is two levels).
pub const MAX_DEPTH: usize = 8;

/// A COSEM value.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// `null-data` [0].
    Null,
    /// `array` [1]: elements of one type.
    Array(Vec<Data>),
    /// `structure` [2].
    Structure(Vec<Data>),
    /// `boolean` [3].
    Bool(bool),
    /// `bit-string` [4]: the number of bits and the bytes holding them (first bit = MSB).
    BitString(usize, Vec<u8>),
    /// `double-long` [5].
    DoubleLong(i32),
    /// `double-long-unsigned` [6].
    DoubleLongUnsigned(u32),
    /// `octet-string` [9].
    OctetString(Vec<u8>),
    /// `visible-string` [10].
    VisibleString(Vec<u8>),
    /// `utf8-string` [12].
    Utf8String(Vec<u8>),
    /// `integer` [15].
    Integer(i8),
    /// `long` [16].
    Long(i16),
    /// `unsigned` [17].
    Unsigned(u8),
    /// `long-unsigned` [18].
    LongUnsigned(u16),
    /// `long64` [20].
    Long64(i64),
    /// `long64-unsigned` [21].
    Long64Unsigned(u64),
    /// `enum` [22].
    Enum(u8),
    /// `float32` [23].
    Float32(f32),
    /// `float64` [24].
    Float64(f64),
    /// `date-time` [25] (12 bytes; see [`crate::DateTime`]).
    DateTime([u8; 12]),
    /// `date` [26].
    Date([u8; 5]),
    /// `time` [27].
    Time([u8; 4]),
}

impl Data {
    /// The value as an integer, for the numeric types; `None` for every other type.
    pub fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            Self::DoubleLong(v) => v.into(),
            Self::DoubleLongUnsigned(v) => v.into(),
            Self::Integer(v) => v.into(),
            Self::Long(v) => v.into(),
            Self::Unsigned(v) => v.into(),
            Self::LongUnsigned(v) => v.into(),
            Self::Long64(v) => v.into(),
            Self::Long64Unsigned(v) => v.into(),
            Self::Enum(v) => v.into(),
            _ => return None,
        })
    }

    /// The bytes of an octet, visible or UTF-8 string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::OctetString(b) | Self::VisibleString(b) | Self::Utf8String(b) => Some(b),
            _ => None,
        }
    }

    /// The elements of an array or structure.
    pub fn as_list(&self) -> Option<&[Data]> {
        match self {
            Self::Array(v) | Self::Structure(v) => Some(v),
            _ => None,
        }
    }

    /// Decodes one value that must fill `bytes` exactly.
    pub fn decode(bytes: &[u8]) -> DlmsResult<Self> {
        let mut r = Reader::new(bytes, "A-XDR data");
        let v = decode_at(&mut r, 0)?;
        if !r.is_empty() {
            return Err(r.error(format!("{} bytes after the value", r.remaining())));
        }
        Ok(v)
    }

    /// Decodes one value from the front of `r`.
    pub(crate) fn decode_from(r: &mut Reader<'_>) -> DlmsResult<Self> {
        decode_at(r, 0)
    }

    /// Appends the value's encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Null => out.push(0),
            Self::Array(v) | Self::Structure(v) => {
                out.push(if matches!(self, Self::Array(_)) { 1 } else { 2 });
                encode_length(v.len(), out);
                for e in v {
                    e.encode(out);
                }
            }
            Self::Bool(b) => out.extend([3, u8::from(*b)]),
            Self::BitString(bits, bytes) => {
                out.push(4);
                encode_length(*bits, out);
                out.extend(bytes);
            }
            Self::DoubleLong(v) => tagged(out, 5, &v.to_be_bytes()),
            Self::DoubleLongUnsigned(v) => tagged(out, 6, &v.to_be_bytes()),
            Self::OctetString(b) | Self::VisibleString(b) | Self::Utf8String(b) => {
                out.push(match self {
                    Self::OctetString(_) => 9,
                    Self::VisibleString(_) => 10,
                    _ => 12,
                });
                encode_length(b.len(), out);
                out.extend(b);
            }
            Self::Integer(v) => tagged(out, 15, &v.to_be_bytes()),
            Self::Long(v) => tagged(out, 16, &v.to_be_bytes()),
            Self::Unsigned(v) => tagged(out, 17, &[*v]),
            Self::LongUnsigned(v) => tagged(out, 18, &v.to_be_bytes()),
            Self::Long64(v) => tagged(out, 20, &v.to_be_bytes()),
            Self::Long64Unsigned(v) => tagged(out, 21, &v.to_be_bytes()),
            Self::Enum(v) => tagged(out, 22, &[*v]),
            Self::Float32(v) => tagged(out, 23, &v.to_be_bytes()),
            Self::Float64(v) => tagged(out, 24, &v.to_be_bytes()),
            Self::DateTime(b) => tagged(out, 25, b),
            Self::Date(b) => tagged(out, 26, b),
            Self::Time(b) => tagged(out, 27, b),
        }
    }

    /// The value's encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

fn tagged(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    out.extend(bytes);
}

/// Appends an A-XDR length (one byte below 128, else `0x80 | n` and `n` big-endian bytes).
pub(crate) fn encode_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend(&bytes[skip..]);
    }
}

fn decode_at(r: &mut Reader<'_>, depth: usize) -> DlmsResult<Data> {
    let tag = r.u8()?;
    Ok(match tag {
        0 => Data::Null,
        1 | 2 => {
            if depth >= MAX_DEPTH {
                return Err(DlmsError::Unsupported(format!(
                    "data nested deeper than {MAX_DEPTH} levels"
                )));
            }
            let n = r.length()?;
            // Every element takes at least one byte: a count beyond the input is a lie, and
            // refusing it here bounds the allocation by the input's length.
            if n > r.remaining() {
                return Err(r.error(format!(
                    "{n} elements announced, {} bytes left",
                    r.remaining()
                )));
            }
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(decode_at(r, depth + 1)?);
            }
            if tag == 1 {
                Data::Array(v)
            } else {
                Data::Structure(v)
            }
        }
        3 => Data::Bool(r.u8()? != 0),
        4 => {
            let bits = r.length()?;
            let bytes = r.take(bits.div_ceil(8))?.to_vec();
            Data::BitString(bits, bytes)
        }
        5 => Data::DoubleLong(i32::from_be_bytes(r.array()?)),
        6 => Data::DoubleLongUnsigned(u32::from_be_bytes(r.array()?)),
        9 | 10 | 12 => {
            let n = r.length()?;
            let b = r.take(n)?.to_vec();
            match tag {
                9 => Data::OctetString(b),
                10 => Data::VisibleString(b),
                _ => Data::Utf8String(b),
            }
        }
        15 => Data::Integer(i8::from_be_bytes(r.array()?)),
        16 => Data::Long(i16::from_be_bytes(r.array()?)),
        17 => Data::Unsigned(r.u8()?),
        18 => Data::LongUnsigned(u16::from_be_bytes(r.array()?)),
        20 => Data::Long64(i64::from_be_bytes(r.array()?)),
        21 => Data::Long64Unsigned(u64::from_be_bytes(r.array()?)),
        22 => Data::Enum(r.u8()?),
        23 => Data::Float32(f32::from_be_bytes(r.array()?)),
        24 => Data::Float64(f64::from_be_bytes(r.array()?)),
        25 => Data::DateTime(r.array()?),
        26 => Data::Date(r.array()?),
        27 => Data::Time(r.array()?),
        t => {
            return Err(DlmsError::Unsupported(format!(
                "A-XDR data type {t} (compact arrays, BCD and don't-care are not decoded)"
            )));
        }
    })
}

/// A cursor over bytes that reports where a decode failed.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self { bytes, at: 0, what }
    }

    pub(crate) fn error(&self, why: impl Into<String>) -> DlmsError {
        DlmsError::malformed(self.what, self.at, why)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn take(&mut self, n: usize) -> DlmsResult<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.error(format!("{n} bytes wanted, {} left", self.remaining())));
        }
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> DlmsResult<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> DlmsResult<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> DlmsResult<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn array<const N: usize>(&mut self) -> DlmsResult<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// An A-XDR (and BER definite) length.
    pub(crate) fn length(&mut self) -> DlmsResult<usize> {
        let first = self.u8()?;
        if first < 0x80 {
            return Ok(first.into());
        }
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err(self.error(format!("length of {n} length bytes")));
        }
        let mut len = 0usize;
        for b in self.take(n)? {
            len = (len << 8) | usize::from(*b);
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_profile_buffer_round_trips() {
        let row = |t: u8, imp: u64| {
            Data::Structure(vec![
                Data::OctetString(vec![0x07, 0xEA, 12, 7, 1, 14, t, 0, 0, 0x80, 0, 0]),
                Data::Long64Unsigned(imp),
                Data::DoubleLongUnsigned(7),
            ])
        };
        let v = Data::Array((0..200).map(|i| row(i as u8, 1000 + i)).collect());
        let bytes = v.to_bytes();
        // 200 elements: a two-byte A-XDR length.
        assert_eq!(&bytes[..3], &[1, 0x81, 200]);
        assert_eq!(Data::decode(&bytes).expect("decodes"), v);
    }

    #[test]
    fn lies_and_leftovers_are_refused_not_panicked_on() {
        // An array announcing 100 elements in 3 bytes.
        assert!(matches!(
            Data::decode(&[1, 100, 0]),
            Err(DlmsError::Malformed { .. })
        ));
        // A truncated long64-unsigned.
        assert!(Data::decode(&[21, 0, 0, 0]).is_err());
        // A trailing byte.
        assert!(Data::decode(&[17, 5, 0]).is_err());
        // Compact array.
        assert!(matches!(
            Data::decode(&[19, 0]),
            Err(DlmsError::Unsupported(_))
        ));
        // Nesting past the limit.
        let deep: Vec<u8> = std::iter::repeat_n([2u8, 1], MAX_DEPTH + 1)
            .flatten()
            .chain([0])
            .collect();
        assert!(matches!(
            Data::decode(&deep),
            Err(DlmsError::Unsupported(_))
        ));
        // A five-byte length.
        assert!(Data::decode(&[9, 0x85, 0, 0, 0, 0, 1]).is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            // Whatever decodes re-encodes to bytes that decode to the same encoding (bytes are
            // compared, so a NaN float compares too).
            if let Ok(v) = Data::decode(&bytes) {
                let once = v.to_bytes();
                let again = Data::decode(&once).map(|w| w.to_bytes()).ok();
                prop_assert_eq!(again, Some(once));
            }
        }

        #[test]
        fn numbers_round_trip(a in any::<u64>(), b in any::<i32>(), c in any::<u16>()) {
            let v = Data::Structure(vec![
                Data::Long64Unsigned(a), Data::DoubleLong(b), Data::LongUnsigned(c),
            ]);
            prop_assert_eq!(Data::decode(&v.to_bytes()).ok(), Some(v));
        }
    }
}
