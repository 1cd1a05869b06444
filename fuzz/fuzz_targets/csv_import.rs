//! A bar file or a context file as a user uploads it: any bytes are refused with a reason or
//! read into bars whose every price is checked; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(bars) = aibt_data::parse_bars("fuzz.csv", bytes, &aibt_data::ImportOptions::default()) {
        for bar in &bars {
            assert!(bar.low <= bar.high, "{bar:?}");
        }
        // Bars come out in time order, one per time.
        assert!(bars.windows(2).all(|w| w[0].ts < w[1].ts));
    }
    let _ = aibt_data::parse_context("fuzz.csv", bytes);
});
