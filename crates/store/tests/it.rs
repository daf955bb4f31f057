//! The store's test suite, run once on a SQLite file and once on PostgreSQL.
//!
//! PostgreSQL comes from `SEALGRID_TEST_PG_URL` (the test command starts one with
//! `scripts/pg.sh`); each run creates its own database. Without the variable the PostgreSQL
//! half is skipped with a message, unless `SEALGRID_REQUIRE_PG=1`, where it fails.

#![allow(missing_docs)]

use alloy_primitives::{Address, B256, Bytes};
use sealgrid_store::{
    BatchRow, BatchState, CommitmentRow, INDEXER_CURSOR, INDEXER_SYNCED_TIME, InsertOutcome,
    MeterRow, Store, StoreError, StoredOrder, Withdrawal,
};
use sealgrid_types::ClearedBatch;

const MARKET: B256 = B256::repeat_byte(0x07);

fn commitment(interval: u64, index: u32, trader: u8) -> CommitmentRow {
    CommitmentRow {
        market: MARKET,
        interval,
        index,
        trader: Address::repeat_byte(trader),
        commitment: B256::with_last_byte(index as u8 + 1),
        lock: u128::MAX - u128::from(index),
        accumulator: B256::repeat_byte(0xac),
        block_number: 10 + u64::from(index),
        log_index: u64::from(index),
        withdrawn: false,
    }
}

fn order(interval: u64, index: u32, trader: u8, nonce: u64) -> StoredOrder {
    StoredOrder {
        digest: B256::with_last_byte(index as u8 ^ 0x80),
        market: MARKET,
        interval,
        index,
        trader: Address::repeat_byte(trader),
        side: (index % 2) as u8,
        quantity_wh: (1 << 48) - 1,
        limit_price: -500_000 + i64::from(index),
        nonce,
        salt: B256::repeat_byte(0x5a),
        commitment: B256::with_last_byte(index as u8 + 1),
        signature: Bytes::from(vec![1u8; 65]),
        receipt_signature: Bytes::from(vec![2u8; 65]),
        received_at: 1_795_305_000,
    }
}

async fn suite(store: Store) {
    store.ping().await.expect("ping");
    assert_eq!(store.cursor(INDEXER_CURSOR).await.expect("cursor"), None);

    // Chain events: recorded with the cursor, replay is harmless, withdrawals mark rows.
    let cs: Vec<_> = (0..3).map(|i| commitment(5, i, 0x10 + i as u8)).collect();
    store
        .record_chain_events(&cs, &[], 20, 1000)
        .await
        .expect("record");
    store
        .record_chain_events(&cs, &[], 21, 1012)
        .await
        .expect("replay");
    assert_eq!(
        store.cursor(INDEXER_CURSOR).await.expect("cursor"),
        Some(21)
    );
    let w = Withdrawal {
        market: MARKET,
        interval: 5,
        index: 1,
    };
    store
        .record_chain_events(&[], &[w], 22, 1024)
        .await
        .expect("withdraw");
    let got = store.commitments(MARKET, 5).await.expect("commitments");
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], cs[0]);
    assert!(got[1].withdrawn && !got[0].withdrawn && !got[2].withdrawn);
    assert_eq!(
        got[2].lock,
        u128::MAX - 2,
        "u128 locks survive the round trip"
    );
    let found = store
        .find_commitment(MARKET, 5, cs[2].commitment, cs[2].trader)
        .await
        .expect("find");
    assert_eq!(found.map(|c| c.index), Some(2));
    assert!(
        store
            .find_commitment(MARKET, 6, cs[2].commitment, cs[2].trader)
            .await
            .expect("find")
            .is_none()
    );
    assert!(
        store
            .find_commitment(MARKET, 5, cs[2].commitment, cs[1].trader)
            .await
            .expect("find")
            .is_none(),
        "another trader's copy of a commitment is not theirs"
    );

    // A withdrawal of an unknown commitment fails and rolls back the cursor move with it.
    let bad = Withdrawal {
        market: MARKET,
        interval: 9,
        index: 0,
    };
    let e = store
        .record_chain_events(&cs, &[bad], 99, 2000)
        .await
        .expect_err("unknown withdrawal");
    assert!(
        matches!(e, StoreError::UnknownCommitment { interval: 9, .. }),
        "{e}"
    );
    assert_eq!(
        store.cursor(INDEXER_CURSOR).await.expect("cursor"),
        Some(22)
    );
    assert_eq!(
        store.cursor(INDEXER_SYNCED_TIME).await.expect("cursor"),
        Some(1024)
    );

    // Orders: insert, idempotent resubmission, nonce replay, index taken.
    let o0 = order(5, 0, 0x10, 7);
    assert_eq!(
        store.insert_order(&o0).await.expect("insert"),
        InsertOutcome::Inserted
    );
    assert_eq!(
        store.insert_order(&o0).await.expect("again"),
        InsertOutcome::Existing(Box::new(o0.clone()))
    );
    let mut replay = order(5, 2, 0x10, 7);
    replay.digest = B256::repeat_byte(0xee);
    match store.insert_order(&replay).await {
        Err(StoreError::NonceReused {
            nonce: 7, existing, ..
        }) => assert_eq!(existing, o0.digest),
        other => panic!("expected NonceReused, got {other:?}"),
    }
    let mut taken = order(5, 0, 0x11, 1);
    taken.digest = B256::repeat_byte(0xef);
    assert!(matches!(
        store.insert_order(&taken).await,
        Err(StoreError::IndexTaken { index: 0, .. })
    ));
    let o2 = order(5, 2, 0x12, u64::MAX);
    assert_eq!(
        store.insert_order(&o2).await.expect("insert"),
        InsertOutcome::Inserted
    );
    assert_eq!(
        store.order(o2.digest).await.expect("get"),
        Some(o2.clone()),
        "u64::MAX nonce"
    );
    let os = store.orders(MARKET, 5).await.expect("orders");
    assert_eq!(os, vec![o0.clone(), o2.clone()]);
    assert!(store.orders(MARKET, 6).await.expect("orders").is_empty());

    // Concurrent identical submissions: exactly one insert, the rest see it.
    let o4 = order(5, 4, 0x14, 4);
    let results = futures_join(&store, &o4).await;
    assert_eq!(
        results
            .iter()
            .filter(|r| **r == InsertOutcome::Inserted)
            .count(),
        1,
        "{results:?}"
    );

    // Batches: saved once, a second save returns the first, hand-off moves state once.
    let b = BatchRow {
        batch: ClearedBatch {
            market: MARKET,
            interval: 5,
            count: 3,
            accumulator: B256::repeat_byte(0xac),
            price: Some(-42),
            volume: 10,
            fills: vec![10, 1 << 62, (1 << 63) | 10],
        },
        state: BatchState::Cleared,
        cleared_at: 100,
        handed_at: None,
    };
    assert_eq!(store.save_batch(&b.batch, 100).await.expect("save"), b);
    let mut other = b.batch.clone();
    other.price = Some(1);
    assert_eq!(
        store.save_batch(&other, 100).await.expect("save again"),
        b,
        "first result wins"
    );
    assert_eq!(
        store.batches_in(BatchState::Cleared).await.expect("list"),
        vec![b.clone()]
    );
    assert!(store.mark_handed_off(MARKET, 5, 101).await.expect("hand"));
    assert!(
        !store
            .mark_handed_off(MARKET, 5, 102)
            .await
            .expect("hand twice")
    );
    let handed = store.batch(MARKET, 5).await.expect("get").expect("exists");
    assert_eq!(
        (handed.state, handed.handed_at),
        (BatchState::HandedOff, Some(101))
    );
    assert!(
        store
            .batches_in(BatchState::Cleared)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(store.last_cleared(MARKET).await.expect("last"), Some(5));
    assert_eq!(store.last_cleared(B256::ZERO).await.expect("last"), None);
    assert_eq!(store.counts().await.expect("counts"), (3, 3, 1));

    // The lifecycle only moves forward, each step once: a claimed batch is never refunded or
    // settled again, and it leaves every list of open work.
    assert!(
        !store
            .advance_batch(MARKET, 5, BatchState::Claimed, 103)
            .await
            .expect("claim before settle"),
        "a batch is claimed only after it settled"
    );
    assert!(
        store
            .advance_batch(MARKET, 5, BatchState::Settled, 103)
            .await
            .expect("settle")
    );
    let open = [
        BatchState::HandedOff,
        BatchState::Settled,
        BatchState::Voided,
    ];
    assert_eq!(store.batches_in_any(&open).await.expect("open").len(), 1);
    assert!(
        store
            .advance_batch(MARKET, 5, BatchState::Claimed, 104)
            .await
            .expect("claim")
    );
    for to in BatchState::ALL {
        assert!(
            !store
                .advance_batch(MARKET, 5, to, 105)
                .await
                .expect("after final"),
            "a claimed batch moved to {to:?}"
        );
    }
    let done = store.batch(MARKET, 5).await.expect("get").expect("exists");
    assert_eq!(
        (done.state, done.handed_at),
        (BatchState::Claimed, Some(101))
    );
    assert!(done.state.is_final());
    assert!(store.batches_in_any(&open).await.expect("open").is_empty());

    // Many orders in one transaction: each judged on its own, in order, duplicates included.
    let mut o6 = order(6, 0, 0x16, 60);
    o6.digest = B256::repeat_byte(0xd5);
    let mut o6_nonce = order(6, 1, 0x16, 60);
    o6_nonce.digest = B256::repeat_byte(0xd6);
    let mut o7 = order(6, 2, 0x17, 70);
    o7.digest = B256::repeat_byte(0xd7);
    let outcomes = store
        .insert_orders(&[o6.clone(), o6.clone(), o6_nonce, o7.clone(), o0.clone()])
        .await
        .expect("batch");
    assert!(matches!(outcomes[0], Ok(InsertOutcome::Inserted)));
    assert!(matches!(&outcomes[1], Ok(InsertOutcome::Existing(b)) if **b == o6));
    assert!(matches!(
        outcomes[2],
        Err(StoreError::NonceReused { nonce: 60, .. })
    ));
    assert!(matches!(outcomes[3], Ok(InsertOutcome::Inserted)));
    assert!(matches!(&outcomes[4], Ok(InsertOutcome::Existing(b)) if **b == o0));
    assert_eq!(store.orders(MARKET, 6).await.expect("orders"), vec![o6, o7]);
    assert_eq!(store.counts().await.expect("counts").1, 5);

    // Meters indexed from the registry, looked up one at a time and as a set (over a chunk).
    let meters: Vec<MeterRow> = (0..350u32)
        .map(|n| MeterRow {
            meter: B256::from(alloy_primitives::U256::from(n + 1)),
            market: MARKET,
            generator: n % 2 == 0,
        })
        .collect();
    store.record_meters(&meters, &[], 10).await.expect("meters");
    let mut ask: Vec<B256> = meters.iter().map(|m| m.meter).collect();
    ask.push(B256::repeat_byte(0xEE));
    let found = store.meters(&ask).await.expect("meters");
    assert_eq!(found.len(), 350, "every indexed meter, not the unknown one");
    assert_eq!(found.get(&meters[301].meter), Some(&meters[301]));
    assert_eq!(
        store.meter(meters[7].meter).await.expect("meter"),
        Some(meters[7])
    );

    // Out-of-range numbers are refused, not wrapped.
    let mut huge = order(5, 9, 0x19, 9);
    huge.interval = u64::MAX;
    assert!(matches!(
        store.insert_order(&huge).await,
        Err(StoreError::OutOfRange { .. })
    ));
    store.close().await;
}

async fn futures_join(store: &Store, o: &StoredOrder) -> Vec<InsertOutcome> {
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (s, o) = (store.clone(), o.clone());
        tasks.push(tokio::spawn(async move { s.insert_order(&o).await }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("join").expect("insert"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("matcher.db").display());
    suite(Store::connect(&url).await.expect("connect")).await;
    // Reopening applies no migration twice and finds the data.
    let store = Store::connect(&url).await.expect("reopen");
    assert_eq!(store.counts().await.expect("counts"), (3, 5, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_suite() {
    let Some(url) = sealgrid_store::test_utils::postgres_test_database("sealgrid_it").await else {
        return;
    };
    suite(Store::connect(&url).await.expect("connect")).await;
    let store = Store::connect(&url).await.expect("reopen");
    assert_eq!(store.counts().await.expect("counts"), (3, 5, 1));
}

#[tokio::test]
async fn rejects_unknown_urls() {
    let e = Store::connect("mysql://user:secret@host/db")
        .await
        .expect_err("mysql");
    let msg = e.to_string();
    assert!(matches!(e, StoreError::UnsupportedUrl(_)));
    assert!(!msg.contains("secret"), "{msg}");
}
