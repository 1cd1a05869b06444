//! A bar file or a context file as a user uploads it (any bytes: text in any encoding, a broken
//! workbook): refused with a reason, or read into bars whose every price is checked, whether
//! read as it is, previewed, or with the adjusted close chosen; the bars then resample into
//! checked hourly and daily bars. Never a panic.
#![no_main]

use aibt_core::TimeGranularity;
use aibt_data::{CloseChoice, ImportOptions};
use libfuzzer_sys::fuzz_target;

fn check(bars: &[aibt_core::Bar]) {
    for bar in bars {
        assert!(bar.low <= bar.high, "{bar:?}");
    }
    // Bars come out in time order, one per time.
    assert!(bars.windows(2).all(|w| w[0].ts < w[1].ts));
}

/// aibt-data refuses a malformed .xls on which calamine 0.38 panics (a sector past the file's
/// end, found by this target) by catching that panic; libFuzzer's hook would abort before the
/// unwinding reaches the catch, so panics inside calamine are let through to it. Any other
/// panic still aborts: a crash.
fn let_calamine_panics_unwind() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info
                .location()
                .is_some_and(|at| at.file().contains("/calamine-"))
            {
                abort(info);
            }
        }));
    });
}

fuzz_target!(|bytes: &[u8]| {
    let_calamine_panics_unwind();
    if let Ok(bars) = aibt_data::parse_bars("fuzz.csv", bytes, &ImportOptions::default()) {
        check(&bars);
        let Ok(utc) = aibt_data::resample::parse_zone(None) else {
            return;
        };
        for to in [TimeGranularity::Hourly, TimeGranularity::Daily] {
            if let Ok(coarser) =
                aibt_data::resample::resample(&bars, TimeGranularity::Minute, to, utc)
            {
                assert!(coarser.len() <= bars.len());
                check(&coarser);
            }
        }
    }
    let adjusted = ImportOptions {
        close: Some(CloseChoice::Adjusted),
        ..ImportOptions::default()
    };
    if let Ok(bars) = aibt_data::parse_bars("fuzz.csv", bytes, &adjusted) {
        check(&bars);
    }
    let _ = aibt_data::preview_bars("fuzz.csv", bytes, &ImportOptions::default());
    let _ = aibt_data::parse_context("fuzz.csv", bytes);
});
