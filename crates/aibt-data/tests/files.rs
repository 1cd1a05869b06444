//! Bar files as people have them, read end to end: Excel workbooks these tests write (with
//! rust_xlsxwriter), a legacy `.xls` made by `tools/reference/xls_fixture.py` with xlwt, and
//! the pandas resampling fixtures of `tools/reference/resample_fixtures.py`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aibt_core::{Bar, TimeGranularity};
use aibt_data::resample::{parse_zone, resample};
use aibt_data::{ImportOptions, find_sample, parse_bars, preview_bars};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect(path)
}

fn read(name: &str, bytes: &[u8]) -> Vec<Bar> {
    parse_bars(name, bytes, &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// A workbook as a Chinese broker's export looks: a title row, Chinese headers, Excel dates,
/// numbers; a second sheet with other rows.
fn workbook(bad_high_at_row: Option<u32>) -> Vec<u8> {
    let mut workbook = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let sheet = workbook.add_worksheet().set_name("日线").unwrap();
    sheet.write_string(0, 0, "贵州茅台(600519) 日线").unwrap();
    for (column, name) in ["日期", "开盘", "最高", "最低", "收盘", "成交量"]
        .iter()
        .enumerate()
    {
        sheet.write_string(1, column as u16, *name).unwrap();
    }
    let rows = [
        (2, 1685.0, 1705.0, 1680.5, 1702.2, 24517.0),
        (3, 1702.2, 1710.0, 1650.0, 1660.0, 31004.0),
        (4, 1660.0, 1672.3, 1640.0, 1650.01, 28760.0),
    ];
    for (index, (day, open, high, low, close, volume)) in rows.into_iter().enumerate() {
        let row = 2 + index as u32;
        let at = ExcelDateTime::from_ymd(2024, 1, day).unwrap();
        sheet
            .write_datetime_with_format(row, 0, &at, &date)
            .unwrap();
        let high = if Some(row + 1) == bad_high_at_row {
            1.0
        } else {
            high
        };
        for (column, value) in [open, high, low, close, volume].into_iter().enumerate() {
            sheet.write_number(row, 1 + column as u16, value).unwrap();
        }
    }
    let other = workbook.add_worksheet().set_name("周线").unwrap();
    for (column, name) in ["date", "open", "high", "low", "close"].iter().enumerate() {
        other.write_string(0, column as u16, *name).unwrap();
    }
    for (column, value) in ["2024-01-05", "1", "2", "0.5", "1.5"].iter().enumerate() {
        other.write_string(1, column as u16, *value).unwrap();
    }
    workbook.save_to_buffer().unwrap()
}

#[test]
fn an_xlsx_export_with_a_title_row_and_excel_dates_is_read() {
    let bytes = workbook(None);
    let bars = read("茅台.xlsx", &bytes);
    assert_eq!(bars.len(), 3);
    assert_eq!(bars[0].ts.to_rfc3339(), "2024-01-02T00:00:00+00:00");
    assert_eq!(bars[0].close.to_string(), "1702.20000000");
    assert_eq!(bars[2].close.to_string(), "1650.01000000");
    assert_eq!(bars[1].volume.to_string(), "31004.00000000");
    let preview = preview_bars("茅台.xlsx", &bytes, &ImportOptions::default()).unwrap();
    assert_eq!(preview.header_line, 2);
    assert_eq!(preview.rows[0][0], "2024-01-02");
    let shown = serde_json::to_value(&preview.file).unwrap();
    assert_eq!(shown["format"], "excel");
    assert_eq!(shown["sheet"], "日线");
    assert_eq!(shown["sheets"], serde_json::json!(["日线", "周线"]));
}

#[test]
fn a_sheet_is_chosen_by_name() {
    let options = ImportOptions {
        sheet: Some("周线".into()),
        ..ImportOptions::default()
    };
    let bars = parse_bars("book.xlsx", &workbook(None), &options).unwrap();
    assert_eq!(bars.len(), 1);
    assert_eq!(bars[0].high.to_string(), "2.00000000");
    let missing = ImportOptions {
        sheet: Some("月线".into()),
        ..ImportOptions::default()
    };
    let err = parse_bars("book.xlsx", &workbook(None), &missing).unwrap_err();
    assert!(
        err.reason.contains("no sheet \"月线\" (it has 日线, 周线)"),
        "{err}"
    );
}

#[test]
fn a_bad_cell_names_its_sheet_row_and_column() {
    let err = parse_bars("book.xlsx", &workbook(Some(4)), &ImportOptions::default()).unwrap_err();
    assert_eq!(
        (err.sheet.as_deref(), err.line, err.column.as_deref()),
        (Some("日线"), 4, Some("最高"))
    );
    assert!(
        err.to_string()
            .starts_with("book.xlsx: sheet 日线, row 4: column 最高: high"),
        "{err}"
    );
}

#[test]
fn a_legacy_xls_reads_as_its_expected_rows() {
    let bars = read("bars_cn.xls", &fixture("bars_cn.xls"));
    let expected = read("bars_cn.expected.csv", &fixture("bars_cn.expected.csv"));
    assert_eq!(bars, expected);
    assert_eq!(bars.len(), 5);
}

#[test]
fn workbooks_whose_containers_are_broken_are_refused_not_a_crash() {
    // Both found by fuzz/csv_import: on the first calamine 0.38 indexes past the file's end,
    // on the second it follows a sector chain that loops until memory runs out.
    for name in ["broken_sectors.xls", "looping_chain.xls"] {
        let bytes = fixture(name);
        let err = parse_bars(name, &bytes, &ImportOptions::default()).unwrap_err();
        assert!(
            err.reason.contains("not a readable Excel workbook"),
            "{err}"
        );
        assert!(preview_bars(name, &bytes, &ImportOptions::default()).is_err());
        assert!(aibt_data::parse_context(name, &bytes).is_err());
    }
}

#[test]
fn a_broken_workbook_is_refused_with_the_reason() {
    let err = parse_bars("x.xlsx", b"PK\x03\x04 not a zip", &ImportOptions::default()).unwrap_err();
    assert!(
        err.reason.contains("not a readable Excel workbook"),
        "{err}"
    );
    let err = parse_bars(
        "x.xls",
        b"\xD0\xCF\x11\xE0 nothing",
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.reason.contains("not a readable Excel workbook"),
        "{err}"
    );
}

/// Each pandas fixture against aibt's resampling of the same bundled minute series: every
/// bucket, every decimal.
#[test]
fn resampling_agrees_with_pandas_on_every_fixture() {
    let cases = [
        ("SPY_1m_hourly_utc", "SPY", TimeGranularity::Hourly, None),
        ("SPY_1m_daily_utc", "SPY", TimeGranularity::Daily, None),
        (
            "SPY_1m_daily_new_york",
            "SPY",
            TimeGranularity::Daily,
            Some("America/New_York"),
        ),
        (
            "SPY_1m_hourly_kolkata",
            "SPY",
            TimeGranularity::Hourly,
            Some("Asia/Kolkata"),
        ),
        (
            "BTCUSD_1m_hourly_utc",
            "BTCUSD",
            TimeGranularity::Hourly,
            None,
        ),
        (
            "BTCUSD_1m_daily_utc",
            "BTCUSD",
            TimeGranularity::Daily,
            None,
        ),
        (
            "BTCUSD_1m_daily_shanghai",
            "BTCUSD",
            TimeGranularity::Daily,
            Some("Asia/Shanghai"),
        ),
        (
            "BTCUSD_1m_daily_new_york",
            "BTCUSD",
            TimeGranularity::Daily,
            Some("America/New_York"),
        ),
        (
            "INDEX2006_1m_daily_utc",
            "INDEX2006",
            TimeGranularity::Daily,
            None,
        ),
    ];
    for (name, symbol, to, zone) in cases {
        let sample = find_sample(symbol, None, TimeGranularity::Minute).expect(symbol);
        let minutes = sample.bars().unwrap();
        let ours = resample(
            &minutes,
            TimeGranularity::Minute,
            to,
            parse_zone(zone).unwrap(),
        )
        .unwrap();
        let file = format!("resample/{name}.csv");
        let pandas = read(&file, &fixture(&file));
        assert_eq!(ours.len(), pandas.len(), "{name}");
        for (a, b) in ours.iter().zip(&pandas) {
            assert_eq!(a, b, "{name}");
        }
    }
}
