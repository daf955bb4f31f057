//! The one error type of the crate.

use crate::apdu::DataAccessResult;

/// Result of this crate's operations.
pub type DlmsResult<T> = Result<T, DlmsError>;

/// Why a meter could not be read. Every variant is about what the meter (or the link) sent or
/// failed to send; none carries a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DlmsError {
    /// The TCP connection failed.
    #[error("link: {0}")]
    Io(#[from] std::io::Error),
    /// The meter did not answer in time.
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
    /// A frame or APDU that does not decode (the byte offset and what was expected).
    #[error("malformed {what} at byte {at}: {why}")]
    Malformed {
        /// Which structure (`A-XDR data`, `HDLC frame`, `AARE`, ...).
        what: &'static str,
        /// Offset into that structure.
        at: usize,
        /// What was wrong.
        why: String,
    },
    /// A frame whose check sequence does not match its bytes.
    #[error("HDLC {which} check sequence mismatch")]
    Checksum {
        /// `HCS` or `FCS`.
        which: &'static str,
    },
    /// Well-formed but not the answer to what was asked (another invoke id, another port or
    /// address, an unexpected frame type).
    #[error("unexpected answer: {0}")]
    Unexpected(String),
    /// The meter refused the association (AARE result and diagnostic).
    #[error("association refused: result {result}, diagnostic {diagnostic}")]
    AssociationRefused {
        /// `1` rejected-permanent, `2` rejected-transient.
        result: u8,
        /// The ACSE service-user diagnostic (`13` authentication-failure, `11` authentication
        /// required, `1` no reason given, ...).
        diagnostic: u8,
    },
    /// The meter answered a GET with a data-access-result other than success.
    #[error("the meter refused the read: {0:?}")]
    Access(DataAccessResult),
    /// The meter answered with an exception or confirmed-service-error APDU.
    #[error("the meter answered with a service error: {0}")]
    Service(String),
    /// A value outside what this client takes (an answer over the size limit, nesting too
    /// deep, a data type it does not decode, an unsupported feature of the link).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl DlmsError {
    pub(crate) fn malformed(what: &'static str, at: usize, why: impl Into<String>) -> Self {
        Self::Malformed {
            what,
            at,
            why: why.into(),
        }
    }
}
