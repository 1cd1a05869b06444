//! aibt's indicators against TA-Lib 0.8.2 on GOOG's first 300 daily bars (an independent C
//! implementation; `tools/reference/talib_fixtures.py` made the fixture).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aibt_core::indicators::{atr, bollinger, ema, macd, rsi, sma};
use serde_json::Value;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/talib_goog_300.json")).expect("fixture")
}

fn input(fixture: &Value, column: &str) -> Vec<f64> {
    fixture["input"][column]
        .as_array()
        .expect("column")
        .iter()
        .map(|v| v.as_str().expect("decimal text").parse().expect("number"))
        .collect()
}

fn expected(fixture: &Value, name: &str) -> Vec<Option<f64>> {
    fixture["outputs"][name]
        .as_array()
        .expect("output")
        .iter()
        .map(Value::as_f64)
        .collect()
}

fn assert_matches(name: &str, ours: &[Option<f64>], talib: &[Option<f64>]) {
    assert_eq!(ours.len(), talib.len(), "{name}: length");
    for (i, (a, b)) in ours.iter().zip(talib).enumerate() {
        match (a, b) {
            (None, None) => {}
            (Some(a), Some(b)) => {
                let tolerance = 1e-9 * b.abs().max(1.0);
                assert!(
                    (a - b).abs() <= tolerance,
                    "{name}[{i}]: aibt {a}, TA-Lib {b}"
                );
            }
            _ => panic!("{name}[{i}]: aibt {a:?}, TA-Lib {b:?}"),
        }
    }
}

#[test]
fn indicators_match_talib() {
    let f = fixture();
    let (high, low, close) = (input(&f, "high"), input(&f, "low"), input(&f, "close"));
    assert_matches("sma_20", &sma(&close, 20), &expected(&f, "sma_20"));
    assert_matches("ema_20", &ema(&close, 20), &expected(&f, "ema_20"));
    assert_matches("rsi_14", &rsi(&close, 14), &expected(&f, "rsi_14"));
    let m = macd(&close, 12, 26, 9);
    assert_matches("macd", &m.macd, &expected(&f, "macd_12_26_9.macd"));
    assert_matches(
        "macd signal",
        &m.signal,
        &expected(&f, "macd_12_26_9.signal"),
    );
    assert_matches(
        "macd hist",
        &m.histogram,
        &expected(&f, "macd_12_26_9.hist"),
    );
    let b = bollinger(&close, 20, 2.0);
    assert_matches("bb upper", &b.upper, &expected(&f, "bbands_20_2_2.upper"));
    assert_matches(
        "bb middle",
        &b.middle,
        &expected(&f, "bbands_20_2_2.middle"),
    );
    assert_matches("bb lower", &b.lower, &expected(&f, "bbands_20_2_2.lower"));
    assert_matches(
        "atr_14",
        &atr(&high, &low, &close, 14),
        &expected(&f, "atr_14"),
    );
}
