//! A DLMS/COSEM reading client (IEC 62056): what a meter gateway needs to read revenue meters'
//! energy registers and load profiles.
//!
//! - [`axdr`]: COSEM values in A-XDR, decoded without panics and within bounds.
//! - [`cosem`]: OBIS codes, attributes, `date-time`, `scaler_unit`.
//! - [`apdu`]: AARQ/AARE (lowest and low-level security), GET normal and with block transfer,
//!   selective access by range.
//! - [`hdlc`]: HDLC frames (format type 3, CRC-16/X-25 check sequences, segmentation).
//! - [`client`]: an async client over the TCP wrapper or HDLC on a TCP stream.
//!
//! High-level security (HLS-GMAC, security suite 0) and ciphered APDUs are not implemented:
//! a meter that requires them is refused at association.

pub mod apdu;
pub mod axdr;
pub mod client;
pub mod cosem;
pub mod error;
pub mod hdlc;

pub use apdu::{Authentication, DataAccessResult, Negotiated};
pub use axdr::Data;
pub use client::{Client, Profile, Settings, Transport};
pub use cosem::{Attribute, DateTime, Obis, ScalerUnit};
pub use error::{DlmsError, DlmsResult};
