//! The OCPP 2.0.1 messages the gateway's CSMS handles (OCPP 2.0.1 Part 2, JSON schemas), and
//! OCPP-J framing (Part 4: `[2, id, action, payload]`, `[3, id, payload]`,
//! `[4, id, code, description, details]`).
//!
//! Typed here rather than taken from `rust-ocpp` (see the workspace manifest). Required fields
//! are required; fields the gateway does not use are ignored (stations add vendor fields and
//! `customData`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An OCPP-J frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// `[2, id, action, payload]`.
    Call {
        /// The message id.
        id: String,
        /// The action, e.g. `TransactionEvent`.
        action: String,
        /// The request.
        payload: Value,
    },
    /// `[3, id, payload]`.
    Result {
        /// The id of the call answered.
        id: String,
        /// The response.
        payload: Value,
    },
    /// `[4, id, code, description, details]`.
    Error {
        /// The id of the call answered.
        id: String,
        /// An RPC framework error code, e.g. `FormatViolation`.
        code: String,
        /// What was wrong.
        description: String,
    },
}

impl Frame {
    /// Parses a text frame. `Err` carries the message id when one could be read, so that
    /// the answer can name it (`RpcFrameworkError` / `FormatViolation`).
    pub fn parse(text: &str) -> Result<Self, (Option<String>, &'static str, String)> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| (None, "RpcFrameworkError", format!("not JSON: {e}")))?;
        let arr = v
            .as_array()
            .ok_or((None, "RpcFrameworkError", "not a JSON array".to_owned()))?;
        let id = arr
            .get(1)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 36)
            .map(str::to_owned);
        let Some(id) = id else {
            return Err((None, "RpcFrameworkError", "no message id".into()));
        };
        let kind = arr.first().and_then(Value::as_u64);
        match (kind, arr.len()) {
            (Some(2), 4) => {
                let action = arr[2].as_str().ok_or((
                    Some(id.clone()),
                    "RpcFrameworkError",
                    "no action".into(),
                ))?;
                Ok(Self::Call {
                    action: action.to_owned(),
                    payload: arr[3].clone(),
                    id,
                })
            }
            (Some(3), 3) => Ok(Self::Result {
                payload: arr[2].clone(),
                id,
            }),
            (Some(4), 5) => Ok(Self::Error {
                code: arr[2].as_str().unwrap_or_default().to_owned(),
                description: arr[3].as_str().unwrap_or_default().to_owned(),
                id,
            }),
            (Some(2..=4), _) => Err((Some(id), "RpcFrameworkError", "wrong frame length".into())),
            _ => Err((
                Some(id),
                "MessageTypeNotSupported",
                "message type is not 2, 3 or 4".into(),
            )),
        }
    }

    /// The frame as text.
    pub fn to_text(&self) -> String {
        let v = match self {
            Self::Call {
                id,
                action,
                payload,
            } => serde_json::json!([2, id, action, payload]),
            Self::Result { id, payload } => serde_json::json!([3, id, payload]),
            Self::Error {
                id,
                code,
                description,
            } => serde_json::json!([4, id, code, description, {}]),
        };
        v.to_string()
    }
}

/// `SignedMeterValueType`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedMeterValue {
    /// Base64 of the signed data (an OCMF record).
    pub signed_meter_data: String,
    /// The signing method, e.g. `ECDSA-secp256r1-SHA256`.
    #[serde(default)]
    pub signing_method: String,
    /// The encoding, `OCMF`.
    pub encoding_method: String,
    /// The public key the station claims (Base64); checked against the registered one.
    #[serde(default)]
    pub public_key: String,
}

/// `UnitOfMeasureType`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitOfMeasure {
    /// The unit, `Wh` by default.
    #[serde(default)]
    pub unit: Option<String>,
    /// A power of ten, 0 by default.
    #[serde(default)]
    pub multiplier: Option<i32>,
}

/// `SampledValueType`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SampledValue {
    /// The value.
    pub value: f64,
    /// `Transaction.Begin`, `Sample.Clock`, ... (`Sample.Periodic` by default).
    #[serde(default)]
    pub context: Option<String>,
    /// `Energy.Active.Import.Register` by default.
    #[serde(default)]
    pub measurand: Option<String>,
    /// A phase, when the value is per phase.
    #[serde(default)]
    pub phase: Option<String>,
    /// Where it was measured (`Outlet` by default).
    #[serde(default)]
    pub location: Option<String>,
    /// The meter's signature of it.
    #[serde(default)]
    pub signed_meter_value: Option<SignedMeterValue>,
    /// Its unit.
    #[serde(default)]
    pub unit_of_measure: Option<UnitOfMeasure>,
}

impl SampledValue {
    /// Whether this is the energy register the gateway settles (the measurand defaults to
    /// it; per-phase values are not the meter's total).
    pub fn is_import_register(&self) -> bool {
        self.measurand
            .as_deref()
            .is_none_or(|m| m == "Energy.Active.Import.Register")
            && self.phase.is_none()
    }

    /// The value in Wh, or why its unit is not energy.
    pub fn wh(&self) -> Result<f64, String> {
        let (unit, mult) = self.unit_of_measure.as_ref().map_or(("Wh", 0), |u| {
            (u.unit.as_deref().unwrap_or("Wh"), u.multiplier.unwrap_or(0))
        });
        let scale = match unit {
            "Wh" => 1.0,
            "kWh" => 1000.0,
            other => return Err(format!("unit {other:?} is not Wh or kWh")),
        };
        Ok(self.value * scale * 10f64.powi(mult))
    }
}

/// `MeterValueType`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterValue {
    /// When it was measured (RFC 3339).
    pub timestamp: chrono::DateTime<chrono::Utc>,
    /// The sampled values (at least one).
    pub sampled_value: Vec<SampledValue>,
}

/// `TransactionType`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionInfo {
    /// The station's transaction id.
    pub transaction_id: String,
    /// `Charging`, `EVConnected`, `SuspendedEV`, `SuspendedEVSE`, `Idle`.
    #[serde(default)]
    pub charging_state: Option<String>,
    /// Why it stopped.
    #[serde(default)]
    pub stopped_reason: Option<String>,
}

/// `EVSEType`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evse {
    /// The EVSE id.
    pub id: i32,
    /// The connector id.
    #[serde(default)]
    pub connector_id: Option<i32>,
}

/// `TransactionEventRequest`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionEventRequest {
    /// `Started`, `Updated` or `Ended`.
    pub event_type: String,
    /// When.
    pub timestamp: chrono::DateTime<chrono::Utc>,
    /// Why it was sent.
    pub trigger_reason: String,
    /// The event's sequence number.
    pub seq_no: i64,
    /// Sent after the fact, from the station's queue.
    #[serde(default)]
    pub offline: Option<bool>,
    /// The transaction.
    pub transaction_info: TransactionInfo,
    /// The EVSE.
    #[serde(default)]
    pub evse: Option<Evse>,
    /// Meter values.
    #[serde(default)]
    pub meter_value: Option<Vec<MeterValue>>,
}

/// `MeterValuesRequest`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterValuesRequest {
    /// The EVSE (0: the main meter).
    pub evse_id: i32,
    /// Meter values.
    pub meter_value: Vec<MeterValue>,
}

/// `ChargingStationType` of a `BootNotificationRequest`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargingStation {
    /// Model.
    pub model: String,
    /// Vendor.
    pub vendor_name: String,
    /// Serial number.
    #[serde(default)]
    pub serial_number: Option<String>,
    /// Firmware version.
    #[serde(default)]
    pub firmware_version: Option<String>,
}

/// `BootNotificationRequest`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BootNotificationRequest {
    /// Why it booted.
    pub reason: String,
    /// The station.
    pub charging_station: ChargingStation,
}

/// `StatusNotificationRequest`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusNotificationRequest {
    /// When.
    pub timestamp: chrono::DateTime<chrono::Utc>,
    /// `Available`, `Occupied`, `Reserved`, `Unavailable`, `Faulted`.
    pub connector_status: String,
    /// The EVSE.
    pub evse_id: i32,
    /// The connector.
    pub connector_id: i32,
}

/// An RFC 3339 time as OCPP writes it.
pub fn rfc3339(t: u64) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(t).unwrap_or(0), 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bad_frames_name_their_error() {
        let call = Frame::parse(r#"[2,"19223201","Heartbeat",{}]"#).expect("call");
        assert_eq!(
            call,
            Frame::Call {
                id: "19223201".into(),
                action: "Heartbeat".into(),
                payload: serde_json::json!({})
            }
        );
        assert_eq!(Frame::parse(&call.to_text()).expect("again"), call);
        for (text, code, has_id) in [
            ("not json", "RpcFrameworkError", false),
            ("{}", "RpcFrameworkError", false),
            (r#"[2,"",""]"#, "RpcFrameworkError", false),
            (r#"[2,"a","Heartbeat"]"#, "RpcFrameworkError", true),
            (r#"[7,"a","Heartbeat",{}]"#, "MessageTypeNotSupported", true),
        ] {
            let (id, c, _) = Frame::parse(text).expect_err(text);
            assert_eq!((c, id.is_some()), (code, has_id), "{text}");
        }
    }

    #[test]
    fn a_sampled_value_is_taken_in_wh() {
        let v: SampledValue = serde_json::from_value(serde_json::json!({
            "value": 12.5, "unitOfMeasure": {"unit": "kWh"}
        }))
        .expect("sv");
        assert!(v.is_import_register());
        assert_eq!(v.wh(), Ok(12_500.0));
        let v: SampledValue = serde_json::from_value(serde_json::json!({
            "value": 7, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}
        }))
        .expect("sv");
        assert!(!v.is_import_register());
        assert!(v.wh().is_err());
    }
}
