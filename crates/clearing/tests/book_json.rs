//! The JSON book format: good and bad files, and the exact output shape.

use sealgrid_clearing::{Book, BookOrder, ClearOutput, ClearingError, clear, clear_book_json};

const DEMO: &str = include_str!("data/demo.json");

/// The error, which must be an `InvalidBook` whose message mentions `needle`.
fn invalid(text: &str, needle: &str) -> (usize, usize) {
    match clear_book_json(text) {
        Err(ClearingError::InvalidBook {
            line,
            column,
            message,
        }) => {
            assert!(
                message.contains(needle),
                "{message:?} does not mention {needle:?}"
            );
            (line, column)
        }
        other => panic!("expected InvalidBook mentioning {needle:?}, got {other:?}"),
    }
}

#[test]
fn demo_file_clears() {
    let out = clear_book_json(DEMO).expect("demo book");
    assert_eq!(
        out,
        r#"{"cleared":true,"price":110000,"volume":40000,"fills":[40000,0,30000,10000]}"#
    );
    let book = Book::from_json(DEMO).expect("parses");
    assert_eq!(book.orders[3], BookOrder::sell(50_000, 100_000));
}

#[test]
fn output_matches_serde_and_round_trips() {
    for text in [
        DEMO,
        r#"{"orders":[]}"#,
        r#"{"orders":[{"side":"sell","quantity_wh":7,"limit_price":-9},{"side":"buy","quantity_wh":3,"limit_price":-2}]}"#,
        r#"{"orders":[{"side":"sell","quantity_wh":7,"limit_price":9},{"side":"buy","quantity_wh":3,"limit_price":2}]}"#,
    ] {
        let book = Book::from_json(text).expect("parses");
        let output = ClearOutput::from(clear(&book.orders).expect("clears"));
        let printed = clear_book_json(text).expect("clears");
        assert_eq!(printed, serde_json::to_string(&output).expect("serialises"));
        assert_eq!(
            serde_json::from_str::<ClearOutput>(&printed).expect("reads back"),
            output
        );
    }
    assert_eq!(
        clear_book_json(r#"{"orders":[]}"#).expect("empty"),
        r#"{"cleared":false,"price":null,"volume":0,"fills":[]}"#
    );
    assert_eq!(
        clear_book_json(r#"{"orders":[{"side":"sell","quantity_wh":7,"limit_price":9},{"side":"buy","quantity_wh":3,"limit_price":2}]}"#)
            .expect("no crossing"),
        r#"{"cleared":false,"price":null,"volume":0,"fills":[0,0]}"#
    );
}

#[test]
fn bad_files_are_rejected() {
    assert_eq!(
        invalid(include_str!("data/bad_malformed.json"), "expected"),
        (4, 44)
    );
    assert_eq!(
        invalid(include_str!("data/bad_side.json"), "unknown variant `hold`").0,
        4
    );
    assert_eq!(
        invalid(include_str!("data/bad_negative_quantity.json"), "-40000").0,
        3
    );
    assert_eq!(
        invalid(
            include_str!("data/bad_unknown_field.json"),
            "unknown field `trader`"
        )
        .0,
        3
    );
}

#[test]
fn other_bad_inputs_are_rejected() {
    invalid("", "EOF");
    invalid(
        "[]",
        "invalid type: sequence, expected an order book object",
    );
    invalid(r#"[[["buy",1,1]]]"#, "expected an order book object");
    invalid(
        r#"{"orders":[["buy",1,1]]}"#,
        "invalid type: sequence, expected an order object",
    );
    invalid(r#"{"orders":{}}"#, "invalid type: map, expected a sequence");
    invalid(
        r#"{"orders":[{"side":null,"quantity_wh":1,"limit_price":1}]}"#,
        "expected value",
    );
    invalid(
        r#"{"orders":[{"side":"buy","quantity_wh":1}]}"#,
        "missing field `limit_price`",
    );
    invalid(r#"{}"#, "missing field `orders`");
    invalid(r#"{"orders":[],"market":1}"#, "unknown field `market`");
    invalid(
        r#"{"orders":[{"side":"Buy","quantity_wh":1,"limit_price":1}]}"#,
        "unknown variant `Buy`",
    );
    invalid(
        r#"{"orders":[{"side":"buy","quantity_wh":1.5,"limit_price":1}]}"#,
        "invalid type",
    );
    invalid(
        r#"{"orders":[{"side":"buy","quantity_wh":18446744073709551616,"limit_price":1}]}"#,
        "u64",
    );
    invalid(
        r#"{"orders":[{"side":"buy","quantity_wh":1,"limit_price":9223372036854775808}]}"#,
        "i64",
    );
    invalid(
        r#"{"orders":[{"side":"buy","side":"sell","quantity_wh":1,"limit_price":1}]}"#,
        "duplicate field",
    );
    invalid(r#"{"orders":[]} trailing"#, "trailing");
}

#[test]
fn overflowing_volume_is_an_error() {
    let max = u64::MAX;
    let text = format!(
        r#"{{"orders":[{{"side":"buy","quantity_wh":{max},"limit_price":1}},{{"side":"buy","quantity_wh":{max},"limit_price":1}},
           {{"side":"sell","quantity_wh":{max},"limit_price":0}},{{"side":"sell","quantity_wh":1,"limit_price":0}}]}}"#
    );
    assert_eq!(
        clear_book_json(&text),
        Err(ClearingError::VolumeOverflow {
            volume: u128::from(u64::MAX) + 1
        })
    );
}
