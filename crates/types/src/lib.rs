#![doc = include_str!("../README.md")]

mod batch;
mod error;
mod field;
mod fills;
mod limit;
mod metric;
mod order;
mod poseidon;
mod spam;
mod time;
mod token;
mod units;
mod verifier;

pub use batch::{
    BatchSink, BoxError, BoxFuture, ClearedBatch, ClearingProver, ProofRequest, ProofSlot,
    ProveError, ProvenBatch, SinkError,
};
pub use error::{TypesError, TypesResult};
pub use field::{
    FIELD_MODULUS, Fr, fr_from_b256, fr_from_u256, fr_to_b256, fr_to_u256, is_in_field,
};
pub use fills::{
    EXCLUDED_FLAG, FILL_QUANTITY_MASK, FILL_RESERVED_MASK, Fill, MAX_FILLS, SELL_FLAG, fill_leaf,
    fills_depth, fills_proof, fills_root, pack_fill_words, unpack_fill_words, verify_fill_proof,
};
pub use limit::{TokenBuckets, client_key};
pub use metric::{Metric, MetricKind};
pub use order::{
    ACCUMULATOR_BITS, ACCUMULATOR_INIT, MAX_LOCK, MAX_READING_WH, MAX_REVISION, MAX_REVISION_STEP,
    METER_READING_TYPE, MarketBounds, MeterQuality, MeterReading, ORDER_TYPE, Order,
    REAL_TIME_PRICE_TYPE, RECEIPT_TYPE, RealTimePrice, Receipt, SequenceEntry, Side, accumulate,
    accumulate_all, order_commitment, order_words, recover_order_signer, recover_struct_signer,
    sealgrid_domain, sign_order, sign_struct,
};
pub use poseidon::{hash2, hash3, hash4, permutation_t3, permutation_t4, permutation_t5};
pub use spam::{MAX_PER_ACCOUNT, decode_fee, encode_fee, lock_with_fee};
pub use time::{BatchStatus, MIN_DISPUTE_WINDOW, MarketTiming};
pub use token::{TokenKind, parse_token_id, token_id};
pub use units::{
    MAX_QUANTITY_WH, WH_PER_KWH, payee_amount, payer_amount, required_lock, rounding_fee,
    trader_pays,
};
pub use verifier::stage_init_code;

/// The EIP-712 domain type, from alloy.
pub use alloy_sol_types::Eip712Domain;
