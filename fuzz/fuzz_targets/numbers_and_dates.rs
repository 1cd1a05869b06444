//! Decimal and date text from files, forms and JSON: parsed or refused, and what is parsed
//! prints back to text that parses to the same value.
#![no_main]

use aibt_core::{Money, Quantity, Rate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(money) = Money::parse(text) {
        assert_eq!(Money::parse(&money.to_string()), Ok(money), "{text:?}");
    }
    if let Ok(quantity) = Quantity::parse(text) {
        assert_eq!(
            Quantity::parse(&quantity.to_string()),
            Ok(quantity),
            "{text:?}"
        );
    }
    if let Ok(rate) = Rate::parse(text) {
        assert_eq!(Rate::parse(&rate.to_string()), Ok(rate), "{text:?}");
    }
    if let Ok(time) = aibt_core::time::parse_timestamp(text) {
        let printed = aibt_core::time::format_timestamp(time);
        assert_eq!(
            aibt_core::time::parse_timestamp(&printed),
            Ok(time),
            "{text:?}"
        );
    }
    let _ = aibt_data::parse_context_date(text);
});
