//! An Excel context file as a person keeps one (made by `fixtures/make_context_xlsx.py` with
//! openpyxl): Excel date cells and a date typed as Chinese text, text and number columns.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aibt_data::parse_context;
use chrono::NaiveDate;
use serde_json::{Value, json};

#[test]
fn an_excel_sheet_is_read_like_a_csv() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/context.xlsx"
    ))
    .expect("fixture");
    let items = parse_context("context.xlsx", &bytes).expect("items");
    let days: Vec<String> = items.iter().map(|i| i.date.to_string()).collect();
    assert_eq!(
        days,
        ["2012-03-01", "2012-03-02", "2012-03-05", "2012-03-06"]
    );
    assert_eq!(items[0].line, 2);
    assert_eq!(items[2].line, 4, "the Chinese date's row");
    assert_eq!(items[0].fields["趋势"], "上涨");
    assert_eq!(items[0].fields["情绪"], json!(0.6));
    assert_eq!(items[1].fields["备注"], Value::Null);
    assert_eq!(items[2].fields["情绪"], json!(-0.4));
    assert_eq!(items[3].date, NaiveDate::from_ymd_opt(2012, 3, 6).unwrap());
}

#[test]
fn a_file_that_is_neither_is_refused_with_the_reason() {
    let broken = parse_context("x.xlsx", b"PK\x03\x04 not really a zip").unwrap_err();
    assert!(
        broken.reason.contains("not a readable Excel workbook"),
        "{broken}"
    );
}
